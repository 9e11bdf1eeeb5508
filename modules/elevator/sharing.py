"""Data-sharing register (数据处理及共享应用依法严格审批, PIPL art. 23/38).

Every flow of the platform's data to another party is an
`elevator.data.sharing` record: who asks (requester), who receives
(recipient), why (purpose), which data (categories), on which legal
basis, from when until when. A record is written in draft, submitted, and
approved by two different members of the city regulator group (the second
approval must come from another person than the first; each is stamped
with who and when). An approval ends at its expiry date (the cron marks it
expired) or when a regulator revokes it.

What depends on an approval (one rule, here):
- the push clients of manufacturers' platforms (`elevator.iot.client`) and
  the call centre's client (`elevator.rescue.cti.client`) work only while
  linked to a valid record (`DataSharing.is_valid`);
- an export of more than `sharing_export_limit` rows (elevator
  configuration) of personal data needs a valid record whose recipient is
  a unit the exporting user acts for (`SharedExportMixin`).
"""
import datetime as dt
from zoneinfo import ZoneInfo

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import clock
from .common import Timestamp
from .workflow import Workflow

LOCAL_TZ = ZoneInfo('Asia/Shanghai')

STATES = [
    ('draft', "Draft"),
    ('submitted', "Submitted"),
    ('approved', "Approved"),
    ('expired', "Expired"),
    ('revoked', "Revoked"),
    ]
CATEGORIES = [
    ('registry', "Elevator Registry"),
    ('iot', "IoT Monitoring Data"),
    ('rescue', "Rescue Records"),
    ('maintenance', "Maintenance Records"),
    ('personal', "Personal Data"),
    ]
# PIPL art. 13 (and art. 34 for state organs).
LEGAL_BASES = [
    ('consent', "Consent of the Individuals"),
    ('contract', "Necessary for a Contract"),
    ('legal_duty', "Statutory Duty or Obligation"),
    ('emergency', "Public Health Emergency or Protection of Life"),
    ('public_authority', "Statutory Duties of a State Organ"),
    ('other', "Other Basis Provided by Law"),
    ]


def today():
    "Date in Putian (the clock of the platform)."
    return clock.now().replace(tzinfo=dt.timezone.utc).astimezone(
        LOCAL_TZ).date()


class DataSharing(Workflow, ModelSQL, ModelView):
    __name__ = 'elevator.data.sharing'
    __string__ = "Data Sharing"

    _draft = {'readonly': Eval('state') != 'draft'}

    name = fields.Char("Title", required=True, states=_draft)
    requester = fields.Many2One('party.party', "Requester", required=True,
        ondelete='RESTRICT', states=_draft,
        help="The party that asks for the data.")
    recipient = fields.Many2One('party.party', "Recipient", required=True,
        ondelete='RESTRICT', states=_draft,
        help="The party that receives the data; its users may export "
        "personal data in bulk while the approval is valid.")
    purpose = fields.Text("Purpose", required=True, states=_draft)
    data_categories = fields.MultiSelection(CATEGORIES, "Data Categories",
        required=True, states=_draft, sort=False)
    legal_basis = fields.Selection(LEGAL_BASES, "Legal Basis",
        required=True, states=_draft, sort=False)
    legal_reference = fields.Char("Legal Reference", states=_draft,
        help="The law, regulation or document the sharing rests on.")
    start_date = fields.Date("Start Date", required=True, states=_draft)
    expiry_date = fields.Date("Expiry Date", required=True, states=_draft,
        domain=[('expiry_date', '>=', Eval('start_date', None))])
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    submitted_by = fields.Many2One('res.user', "Submitted By",
        readonly=True, ondelete='RESTRICT')
    submitted_at = Timestamp("Submitted At", readonly=True)
    first_approver = fields.Many2One('res.user', "First Approver",
        readonly=True, ondelete='RESTRICT')
    first_approved_at = Timestamp("First Approved At", readonly=True)
    second_approver = fields.Many2One('res.user', "Second Approver",
        readonly=True, ondelete='RESTRICT')
    second_approved_at = Timestamp("Second Approved At", readonly=True)
    ended_by = fields.Many2One('res.user', "Revoked By", readonly=True,
        ondelete='RESTRICT')
    ended_at = Timestamp("Ended At", readonly=True,
        help="When the approval was revoked or found expired.")

    del _draft

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    (t.expiry_date, Index.Range())),
                Index(t, (t.recipient, Index.Range())),
                })
        cls._order = [('start_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'submitted'),
            ('submitted', 'draft'),
            ('submitted', 'approved'),
            ('approved', 'expired'),
            ('submitted', 'revoked'),
            ('approved', 'revoked'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': Eval('state') != 'submitted',
                    'depends': ['state'],
                    },
                'submit': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'approve': {
                    'invisible': Eval('state') != 'submitted',
                    'depends': ['state'],
                    },
                'revoke': {
                    'invisible': ~Eval('state').in_(
                        ['submitted', 'approved']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_start_date(cls):
        return today()

    @classmethod
    def default_legal_basis(cls):
        return 'public_authority'

    def is_valid(self, date=None):
        "Approved and within its dates (Putian) at date (default today)."
        date = date or today()
        return (self.state == 'approved'
            and self.start_date <= date <= self.expiry_date)

    @classmethod
    def valid_domain(cls, date=None):
        date = date or today()
        return [
            ('state', '=', 'approved'),
            ('start_date', '<=', date),
            ('expiry_date', '>=', date),
            ]

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, records):
        cls.write(records, {
                'first_approver': None, 'first_approved_at': None,
                'submitted_by': None, 'submitted_at': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('submitted')
    def submit(cls, records):
        cls.write(records, {
                'submitted_by': Transaction().user or None,
                'submitted_at': clock.now(),
                })

    @classmethod
    @ModelView.button
    def approve(cls, records):
        """First approval stamps the approver; the second, by another
        member of the city regulator group, approves the record."""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        user_id = Transaction().user
        group = ModelData.get_id('elevator', 'group_city_regulator')
        if not user_id or group not in User.get_groups():
            raise AccessError(gettext(
                    'elevator.msg_data_sharing_approver_group'))
        now = clock.now()
        first, second = [], []
        for record in records:
            if record.state != 'submitted':
                continue
            if record.first_approver is None:
                first.append(record)
            elif record.first_approver.id == user_id:
                raise UserError(gettext(
                        'elevator.msg_data_sharing_same_approver',
                        record=record.rec_name))
            else:
                second.append(record)
        if first:
            cls.write(first, {
                    'first_approver': user_id, 'first_approved_at': now})
        if second:
            cls.write(second, {
                    'second_approver': user_id, 'second_approved_at': now})
            cls._approved(second)

    @classmethod
    @Workflow.transition('approved')
    def _approved(cls, records):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('revoked')
    def revoke(cls, records):
        cls.write(records, {
                'ended_by': Transaction().user or None,
                'ended_at': clock.now(),
                })

    @classmethod
    @Workflow.transition('expired')
    def expire(cls, records):
        cls.write(records, {'ended_at': clock.now()})

    @classmethod
    def cron_expire(cls, date=None):
        "Mark expired the approvals whose expiry date has passed."
        date = date or today()
        records = cls.search([
                ('state', '=', 'approved'),
                ('expiry_date', '<', date),
                ])
        if records:
            cls.expire(records)
        return records

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        if field_names & {'start_date', 'expiry_date'} or not field_names:
            for record in records:
                if record.expiry_date < record.start_date:
                    raise ValidationError(gettext(
                            'elevator.msg_data_sharing_dates',
                            record=record.rec_name))

    # Written by the buttons only (and the state, WorkflowStateMixin).
    _stamp_fields = {'state', 'submitted_by', 'submitted_at',
        'first_approver', 'first_approved_at', 'second_approver',
        'second_approved_at', 'ended_by', 'ended_at'}

    @classmethod
    def copy(cls, records, default=None):
        default = dict(default or {})
        for name in cls._stamp_fields - {'state'}:
            default.setdefault(name, None)
        return super().copy(records, default=default)

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(mode, records, values=values,
            external=external)
        if (external and mode == 'write'
                and set(values or {}) - cls._stamp_fields):
            for record in records:
                if record.state != 'draft':
                    raise AccessError(gettext(
                            'elevator.msg_data_sharing_frozen',
                            record=record.rec_name))
        if mode == 'delete':
            for record in records:
                if record.state != 'draft':
                    raise AccessError(gettext(
                            'elevator.msg_data_sharing_delete',
                            record=record.rec_name))

    @classmethod
    def for_export(cls, user_id=None, date=None):
        """The valid records that allow the user (default: the current one)
        to export personal data in bulk: recipient one of his units and
        personal data among the categories."""
        pool = Pool()
        User = pool.get('res.user')
        transaction = Transaction()
        with transaction.set_user(user_id or transaction.user):
            _, units = User.get_elevator_scope()
        if not units:
            return []
        with transaction.set_user(0):
            return cls.search(cls.valid_domain(date) + [
                    ('recipient', 'in', units),
                    ('data_categories', 'in', ['personal']),
                    ])


class SharingClientMixin:
    """A client of another party's system (push, call centre) that works
    only while linked to a valid data-sharing record."""
    __slots__ = ()

    sharing = fields.Many2One('elevator.data.sharing', "Data Sharing",
        ondelete='RESTRICT',
        help="The approved record of the data-sharing register that "
        "allows this client; without a valid one it is refused.")

    # The data category the record must cover.
    _sharing_category = None

    def sharing_valid(self, date=None):
        pool = Pool()
        Sharing = pool.get('elevator.data.sharing')
        if not self.sharing:
            return False
        with Transaction().set_user(0):
            record = Sharing(self.sharing.id)
            return record.is_valid(date) and (
                not self._sharing_category
                or self._sharing_category in record.data_categories)


class SharedExportMixin:
    """Bulk exports of personal data need a data-sharing approval.

    An export (`export_data`, which the web client's CSV export and
    `export_data_domain` call) of more rows than the configured limit with
    a field path reaching one of the `_personal_fields` (on this model or
    one it links to) is refused, unless the exporting user acts for the
    recipient of a valid data-sharing record that covers personal data.
    Server-side code (access checking off) is not concerned."""
    __slots__ = ()

    @classmethod
    def export_data(cls, records, fields_names, header=False):
        transaction = Transaction()
        if (transaction.check_access and transaction.user
                and _exports_personal(cls, fields_names)):
            pool = Pool()
            Configuration = pool.get('elevator.configuration')
            Sharing = pool.get('elevator.data.sharing')
            limit = Configuration(1).get_sharing_export_limit()
            if len(records) > limit and not Sharing.for_export():
                raise UserError(gettext(
                        'elevator.msg_data_sharing_export',
                        count=len(records), limit=limit,
                        model=cls.__names__()['model']))
        return super().export_data(records, fields_names, header=header)


def _exports_personal(Model, fields_names):
    "Whether a path of fields_names ends on a personal field."
    for path in fields_names:
        current = Model
        parts = path.split('/')
        for i, part in enumerate(parts):
            name = part.split('.')[0].split(':')[0]
            if i == len(parts) - 1:
                if name in getattr(current, '_personal_fields', ()):
                    return True
                break
            field = current._fields.get(name)
            if field is None or not hasattr(field, 'get_target'):
                break
            current = field.get_target()
    return False
