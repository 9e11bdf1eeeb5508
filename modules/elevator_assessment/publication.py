"""What the district tables and the credit evaluations share: computed as
drafts, then published once; the publication is stamped (who, when) and
the record, with everything computed for it, never changes afterwards."""
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import AccessError
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.modules.elevator.common import Timestamp

from .common import utc_now


class Publication:
    "A Workflow model with the states of common.STATES."
    __slots__ = ()
    # The ir.message refusing a change once published, and the name of its
    # parameter that receives the record's name.
    _published_error = None

    published_at = Timestamp("Published at", readonly=True)
    published_by = fields.Many2One('res.user', "Published by",
        readonly=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._transitions |= {('draft', 'published')}
        cls._buttons.update({
                'publish': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def check_published(cls, records):
        "Refuse any change to published records (or to what they hold)."
        message, parameter = cls._published_error
        for record in records:
            if record.state == 'published':
                raise AccessError(gettext(message,
                        **{parameter: record.rec_name}))

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(mode, records, values=values,
            external=external)
        if mode in {'write', 'delete'}:
            cls.check_published(records)

    @classmethod
    def stamp_publication(cls, records):
        "Who published, and when (called by the publish transition)."
        cls.write(records, {
                'published_at': utc_now(),
                'published_by': Transaction().user or None,
                })
