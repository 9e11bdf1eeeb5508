"""Personal data (PIPL, DESIGN §6): the one masking of phone numbers and
names that every module shows to those not allowed to see them in full.

Who may read the full value is Tryton's field access
(`ir.model.field.access`); these functions only make the masked copy that
a Function field shows to everyone else."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access


def mask_phone(phone):
    """138****5678 / 0594-***5678: enough to recognise, not to call.

    A fixed line keeps its area code and the last four digits of the
    number; a mobile its first three and last four digits; anything
    shorter only its last two."""
    if not phone:
        return phone
    if '-' in phone:
        area, number = phone.split('-', 1)
        return f'{area}-{"*" * max(0, len(number) - 4)}{number[-4:]}'
    if len(phone) > 7:
        return phone[:3] + '*' * (len(phone) - 7) + phone[-4:]
    return '*' * max(0, len(phone) - 2) + phone[-2:]


def mask_name(name):
    "张三丰 -> 张**"
    if not name:
        return name
    return name[:1] + '*' * (len(name) - 1)


def erase_history(Model, ids, field_names):
    """Blank field_names in the history table (`__history`) of Model for
    the records ids: the ORM never writes past versions, so this is the
    one place that does it in SQL (retention of personal data)."""
    if not getattr(Model, '_history', False) or not ids:
        return
    history = Model.__table_history__()
    cursor = Transaction().connection.cursor()
    columns = [getattr(history, n) for n in sorted(field_names)]
    for sub_ids in grouped_slice(ids, 1000):
        cursor.execute(*history.update(columns, [None] * len(columns),
                where=SQL_OPERATORS['in'](history.id, list(sub_ids))))


# Log of the personal data seen in full (PIPL art. 51: record who
# accessed it and why).

PURPOSES = [
    ('read', "Read"),
    ('export', "Export"),
    ]


def log_access(Model, ids, field_names, purpose=None):
    """Record that the current user saw field_names of the records ids of
    Model in full. Only reads of a user through the access checks count
    (the RPC of the client, the portal, the CLI as a user); server-side
    code (cron, intake) is not a person seeing the data.

    The row is written in the reading transaction, or in a transaction
    of its own when that one is read-only (an RPC read): a read that
    happened is logged even if the caller's transaction is rolled back."""
    transaction = Transaction()
    if (not transaction.check_access or not transaction.user
            or not ids or not field_names):
        return
    purpose = purpose or transaction.context.get(
        '_privacy_purpose') or 'read'
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    vlist = [{
            'user': transaction.user,
            'model': Model.__name__,
            'record': id_,
            'field': name,
            'time': now,
            'purpose': purpose,
            } for id_ in ids for name in sorted(field_names)]

    def create():
        Access = Pool().get('elevator.privacy.access')
        with without_check_access(), \
                Transaction().set_context(_privacy_log=True):
            Access.create(vlist)
    if transaction.readonly:
        with transaction.new_transaction() as log_transaction:
            create()
            log_transaction.commit()
    else:
        create()


class PersonalDataMixin:
    """Logs every read in full of the fields in `_personal_fields`.

    Who may read them is the field access of the model
    (`ir.model.field.access`); this only records the reads that passed it.
    Make these fields lazy, so that they are read only when asked for."""
    __slots__ = ()
    _personal_fields = set()

    @classmethod
    def read(cls, ids, fields_names):
        result = super().read(ids, fields_names)
        seen = cls._personal_fields & set(fields_names or [])
        if seen and not Transaction().context.get('_privacy_exporting'):
            log_access(cls, [r['id'] for r in result], seen)
        return result

    @classmethod
    def export_data(cls, records, fields_names, header=False):
        """Log the personal fields exported, on whichever model the paths
        reach them (values may come from the transaction's cache, which
        the read hook does not see)."""
        with Transaction().set_context(_privacy_exporting=True):
            data = super().export_data(records, fields_names, header=header)
            seen = list(_personal_paths(cls, records, fields_names))
        for Model, ids, name in seen:
            log_access(Model, ids, {name}, purpose='export')
        return data


def _personal_paths(Model, records, fields_names):
    """(model, ids, field) of the personal fields that the export paths
    fields_names ('ticket/caller_phone') reach from records."""
    for path in fields_names:
        parts = path.split('/')
        current, recs = Model, list(records)
        for i, part in enumerate(parts):
            name = part.split('.')[0].split(':')[0]
            if i == len(parts) - 1:
                if name in getattr(current, '_personal_fields', ()):
                    ids = sorted({r.id for r in recs})
                    if ids:
                        yield current, ids, name
                break
            field = current._fields.get(name)
            if field is None or not hasattr(field, 'get_target'):
                break
            targets = []
            for record in recs:
                value = getattr(record, name)
                if isinstance(value, (list, tuple)):
                    targets.extend(value)
                elif value:
                    targets.append(value)
            current, recs = field.get_target(), targets


class Access(ModelSQL, ModelView):
    "Personal Data Access"
    __name__ = 'elevator.privacy.access'
    __string__ = "Personal Data Access"

    user = fields.Many2One('res.user', "User", required=True, readonly=True,
        ondelete='RESTRICT')
    model = fields.Char("Model", required=True, readonly=True)
    record = fields.Integer("Record", required=True, readonly=True)
    resource = fields.Function(fields.Reference("Resource",
            selection='get_models'), 'get_resource')
    field = fields.Char("Field", required=True, readonly=True)
    time = fields.DateTime("Time", required=True, readonly=True)
    purpose = fields.Selection(PURPOSES, "Purpose", required=True,
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.model, Index.Equality()),
                    (t.record, Index.Range())),
                Index(t, (t.time, Index.Range())),
                Index(t, (t.user, Index.Range())),
                })
        cls._order = [('time', 'DESC'), ('id', 'DESC')]

    @classmethod
    def get_models(cls):
        IrModel = Pool().get('ir.model')
        return [(None, '')] + IrModel.get_name_items()

    def get_resource(self, name):
        try:
            Pool().get(self.model)
        except KeyError:
            return None
        return f'{self.model},{self.record}'

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        "Append-only: rows come from log_access; only the admin edits."
        super().check_modification(mode, records, values=values,
            external=external)
        transaction = Transaction()
        if (transaction.check_access and transaction.user
                and not transaction.context.get('_privacy_log')):
            User = Pool().get('res.user')
            ModelData = Pool().get('ir.model.data')
            admin = ModelData.get_id('elevator', 'group_admin')
            if mode == 'create' or admin not in User.get_groups():
                raise AccessError(gettext(
                        'elevator.msg_privacy_access_append_only'))
