"""What the public sends about an elevator (complaint, fault report, rescue
request, message) and how the bureau handles it: received → assigned (to
the district, the maintenance unit or the user unit) → replied → closed,
with a deadline per type, a warning when it passes and the erasure of the
submitter's phone number after the retention period."""
import datetime as dt

from sql import Null
from sql.aggregate import Count
from sql.conditionals import Coalesce

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError
from trytond.model.fields import SQL_OPERATORS
from trytond.modules.elevator.privacy import mask_phone
from trytond.modules.elevator.res import notify_district_regulators
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction
from trytond.modules.elevator.common import Timestamp

from trytond.modules.elevator.web.text import last_digits

from .exceptions import FeedbackError

TYPES = [
    ('complaint', "Complaint"),
    ('fault_report', "Fault Report"),
    ('rescue_request', "Rescue Request"),
    ('message', "Message"),
    ]
TYPE_CODES = [t for t, _ in TYPES]
STATES = [
    ('received', "Received"),
    ('assigned', "Assigned"),
    ('replied', "Replied"),
    ('closed', "Closed"),
    ]
OPEN_STATES = ['received', 'assigned']
ASSIGNEES = [
    (None, ""),
    ('district', "District Regulator"),
    ('maintenance_unit', "Maintenance Unit"),
    ('user_unit', "User Unit"),
    ]
# Who handles a submission unless the regulator decides otherwise.
DEFAULT_ASSIGNEE = {
    'complaint': 'district',
    'fault_report': 'maintenance_unit',
    'rescue_request': 'maintenance_unit',
    'message': 'district',
    }
CHANNELS = [
    ('h5', "H5 Page"),
    ('api', "App / API"),
    ('staff', "Recorded by Staff"),
    ]
RESOLUTIONS = [
    (None, ""),
    ('resolved', "Resolved"),
    ('invalid', "Invalid"),
    ('duplicate', "Duplicate"),
    ]
TEXT_MAX = 1000
REPLY_MAX = 2000
PHOTOS_MAX = 3


# What the submitter sent and the record of its handling: no user writes
# them by hand (the buttons and the server do); the deadline and the reply
# stamps make the overdue history that feeds the credit grade.
FIXED_FIELDS = {
    'number', 'type', 'elevator', 'region', 'district', 'maintenance_unit',
    'user_unit', 'channel', 'submitted_at', 'contact_phone', 'text',
    'client_key', 'deadline', 'warned_at', 'assigned_at', 'replied_at',
    'replied_by', 'replied_late', 'closed_at', 'personal_data_erased',
    'replies',
    }


class Feedback(Workflow, ModelSQL, ModelView):
    "Public Feedback"
    __name__ = 'elevator.public.feedback'
    _rec_name = 'number'

    _open = {'readonly': ~Eval('state').in_(OPEN_STATES)}

    number = fields.Char("Number", readonly=True,
        help="Given at submission; the submitter follows the submission "
        "with it and the last four digits of the phone.")
    type = fields.Selection(TYPES, "Type", required=True, sort=False,
        states={'readonly': Eval('id', -1) >= 0})
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT',
        states={'readonly': Eval('id', -1) >= 0})
    region = fields.Many2One('elevator.region', "Region", readonly=True,
        ondelete='RESTRICT')
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='RESTRICT')
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        readonly=True, ondelete='RESTRICT',
        help="The elevator's maintenance unit at submission.")
    user_unit = fields.Many2One('party.party', "User Unit", readonly=True,
        ondelete='RESTRICT', help="The elevator's user unit at submission.")
    channel = fields.Selection(CHANNELS, "Channel", readonly=True)
    submitted_at = Timestamp("Submitted at", readonly=True)
    contact_phone = fields.Char("Contact Phone", size=20, strip=True,
        states={
            'readonly': Eval('id', -1) >= 0,
            'required': ~Bool(Eval('personal_data_erased')),
            },
        help="Personal data: used to call the submitter back, masked in "
        "lists and erased after the retention period.")
    contact_phone_masked = fields.Function(
        fields.Char("Contact Phone"), 'get_contact_phone_masked')
    text = fields.Text("Text", required=True,
        states={'readonly': Eval('id', -1) >= 0},
        help="As typed by the submitter; shown as plain text.")
    urgent = fields.Boolean("Urgent",
        states={
            'readonly': ~Eval('state').in_(OPEN_STATES),
            'invisible': Eval('type') != 'fault_report',
            },
        help="The elevator is stopped or unsafe (said by the submitter or "
        "the regulator): its repair gets the shorter deadline.")
    photos = fields.One2Many('elevator.public.feedback.photo', 'feedback',
        "Photos", readonly=True)
    client_key = fields.Char("Client Key", readonly=True,
        help="Keyed hash of the submitter's network address, for the "
        "rate limits; erased with the phone number.")
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    deadline = Timestamp("Deadline", readonly=True)
    overdue = fields.Function(fields.Boolean("Overdue"), 'get_overdue',
        searcher='search_overdue')
    warned_at = Timestamp("Overdue Warning Sent", readonly=True)
    assigned_to = fields.Selection(ASSIGNEES, "Assigned to", sort=False,
        states={
            'readonly': Eval('state') != 'received',
            'required': Eval('state') == 'assigned',
            })
    assigned_unit = fields.Many2One('party.party', "Assigned Unit",
        ondelete='RESTRICT',
        states={
            'readonly': Eval('state') != 'received',
            'invisible': ~Eval('assigned_to').in_(
                ['maintenance_unit', 'user_unit']),
            },
        domain=[If(Eval('assigned_to') == 'maintenance_unit',
                ('is_maintenance_unit', '=', True),
                If(Eval('assigned_to') == 'user_unit',
                    ['OR', ('is_user_unit', '=', True),
                        ('is_property_company', '=', True)],
                    ()))])
    assigned_at = Timestamp("Assigned at", readonly=True)
    reply = fields.Text("Reply", states={
            'readonly': Eval('state') != 'assigned',
            },
        help="Shown to the submitter who follows the submission.")
    replied_at = Timestamp("Replied at", readonly=True)
    replied_by = fields.Many2One('res.user', "Replied by", readonly=True,
        ondelete='SET NULL')
    replied_late = fields.Boolean("Replied Late", readonly=True)
    replies = fields.One2Many('elevator.public.feedback.reply', 'feedback',
        "Replies", readonly=True,
        help="Every reply sent, with who sent it and when.")
    resolution = fields.Selection(RESOLUTIONS, "Resolution", sort=False,
        states={'readonly': Eval('state') == 'closed'})
    closed_at = Timestamp("Closed at", readonly=True)
    personal_data_erased = fields.Boolean("Contact Erased", readonly=True)
    notes = fields.Text("Internal Notes",
        help="Not shown to the submitter.")

    del _open

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'elevator_public.msg_feedback_number_unique'),
            ]
        cls._sql_indexes.update({
                # Following a submission searches number = x, which the
                # ORM writes COALESCE(number, '') = x: index that.
                Index(t, (Coalesce(t.number, ''),
                        Index.Equality(cardinality='high'))),
                Index(t, (t.elevator, Index.Range()),
                    (t.submitted_at, Index.Range())),
                Index(t, (t.client_key, Index.Equality()),
                    (t.submitted_at, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    (t.deadline, Index.Range()),
                    where=t.state.in_(OPEN_STATES)),
                Index(t, (t.closed_at, Index.Range()),
                    where=(t.state == 'closed')
                    & (t.personal_data_erased == False)),  # noqa: E712
                Index(t, (t.region, Index.Range())),
                Index(t, (t.assigned_unit, Index.Range())),
                })
        cls._order = [('submitted_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('received', 'assigned'),
            ('assigned', 'replied'),
            ('replied', 'assigned'),
            ('replied', 'closed'),
            ('received', 'closed'),
            ('assigned', 'closed'),
            }
        cls._buttons.update({
                'assign': {
                    'invisible': Eval('state') != 'received',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'reply_': {
                    'invisible': Eval('state') != 'assigned',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'replied',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') == 'closed',
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'received'

    @classmethod
    def default_channel(cls):
        return 'staff'

    @classmethod
    def default_submitted_at(cls):
        return dt.datetime.now()

    @classmethod
    def default_personal_data_erased(cls):
        return False

    @classmethod
    def default_replied_late(cls):
        return False

    @classmethod
    def default_urgent(cls):
        return False

    @fields.depends('type', 'assigned_to')
    def on_change_type(self):
        if self.type and not self.assigned_to:
            self.assigned_to = DEFAULT_ASSIGNEE[self.type]

    @fields.depends('assigned_to', 'elevator', '_parent_elevator.district',
        '_parent_elevator.maintenance_unit', '_parent_elevator.user_unit',
        '_parent_elevator.property_company')
    def on_change_assigned_to(self):
        self.assigned_unit = self._default_assigned_unit()

    def _default_assigned_unit(self):
        if not self.elevator:
            return None
        if self.assigned_to == 'maintenance_unit':
            return self.elevator.maintenance_unit
        if self.assigned_to == 'user_unit':
            return (self.elevator.user_unit
                or self.elevator.property_company)

    def get_contact_phone_masked(self, name):
        return mask_phone(self.contact_phone)

    @classmethod
    def get_overdue(cls, feedbacks, name):
        now = dt.datetime.now()
        return {f.id: bool(f.state in OPEN_STATES and f.deadline
                and f.deadline < now) for f in feedbacks}

    @classmethod
    def search_overdue(cls, name, clause):
        _, operator, value = clause[:3]
        positive = bool(value) if operator == '=' else not value
        now = dt.datetime.now()
        if positive:
            return [('state', 'in', OPEN_STATES), ('deadline', '<', now)]
        return ['OR', ('state', 'not in', OPEN_STATES),
            ('deadline', '>=', now), ('deadline', '=', None)]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual', If(Eval('overdue', False), 'danger', '')),
            ]

    def matches_phone(self, digits):
        "Whether digits are the last four digits of the contact phone."
        return bool(self.contact_phone and digits
            and last_digits(self.contact_phone) == digits)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            config = Configuration(1)
            if not values.get('number'):
                values['number'] = cls._next_number(config)
            type_ = values.get('type')
            submitted = values.get('submitted_at') or dt.datetime.now()
            values['submitted_at'] = submitted
            if type_ in TYPE_CODES and not values.get('deadline'):
                values['deadline'] = (
                    submitted + config.feedback_deadline(type_))
            if type_ in TYPE_CODES:
                values.setdefault('assigned_to', DEFAULT_ASSIGNEE[type_])
        return values

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        fill_from_elevators(vlist,
            ['region', 'district', 'maintenance_unit', 'user_unit'])
        return super().create(vlist)

    @classmethod
    def _next_number(cls, config):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Sequence = pool.get('ir.sequence')
        sequence = config.feedback_sequence or Sequence(
            ModelData.get_id('elevator_public', 'sequence_feedback'))
        return sequence.get()

    @classmethod
    def check_modification(cls, mode, feedbacks, values=None,
            external=False):
        super().check_modification(mode, feedbacks, values=values,
            external=external)
        if mode == 'delete':
            for feedback in feedbacks:
                if feedback.state != 'received':
                    raise AccessError(gettext(
                            'elevator_public.msg_feedback_delete',
                            feedback=feedback.rec_name))
        elif mode == 'write':
            if external and FIXED_FIELDS & set(values):
                raise AccessError(gettext(
                        'elevator_public.msg_feedback_fixed_fields',
                        feedback=feedbacks[0].rec_name if feedbacks else '',
                        fields=', '.join(sorted(FIXED_FIELDS & set(values)))))
            for feedback in feedbacks:
                if feedback.state == 'closed' and set(values) - {'notes'}:
                    raise AccessError(gettext(
                            'elevator_public.msg_feedback_closed',
                            feedback=feedback.rec_name))
                if (external and 'reply' in values
                        and feedback.state != 'assigned'):
                    raise AccessError(gettext(
                            'elevator_public.msg_feedback_reply_sent',
                            feedback=feedback.rec_name))

    @classmethod
    def copy(cls, feedbacks, default=None):
        "A copy is a new submission recorded by staff, to be handled anew."
        default = default.copy() if default is not None else {}
        for name in ['number', 'deadline', 'warned_at', 'assigned_at',
                'reply', 'replied_at', 'replied_by', 'resolution',
                'closed_at', 'client_key', 'photos', 'submitted_at']:
            default.setdefault(name, None)
        default.setdefault('state', 'received')
        default.setdefault('channel', 'staff')
        default.setdefault('replied_late', False)
        default.setdefault('personal_data_erased', False)
        return super().copy(feedbacks, default=default)

    # Workflow

    @classmethod
    @ModelView.button
    @Workflow.transition('assigned')
    def assign(cls, feedbacks):
        to_write = []
        for feedback in feedbacks:
            values = {'assigned_at': dt.datetime.now()}
            assigned_to = feedback.assigned_to or DEFAULT_ASSIGNEE[
                feedback.type]
            values['assigned_to'] = assigned_to
            if assigned_to == 'district':
                values['assigned_unit'] = None
            elif not feedback.assigned_unit:
                feedback.assigned_to = assigned_to
                unit = feedback._default_assigned_unit()
                if not unit:
                    raise FeedbackError(gettext(
                            'elevator_public.msg_feedback_no_unit',
                            feedback=feedback.rec_name))
                values['assigned_unit'] = unit.id
            to_write.extend(([feedback], values))
        if not to_write:
            return
        cls.write(*to_write)
        cls.open_repair([f for f in cls.browse([f.id for f in feedbacks])
                if f.type == 'fault_report'
                and f.assigned_to == 'maintenance_unit'])
        user = Transaction().user
        with Transaction().set_user(0):
            cls._notify_units(feedbacks,
                'elevator_public.msg_notify_feedback_assigned',
                exclude={user} if user else set())

    @classmethod
    @ModelView.button
    @Workflow.transition('replied')
    def reply_(cls, feedbacks):
        now = dt.datetime.now()
        user = Transaction().user or None
        for feedback in feedbacks:
            if not (feedback.reply or '').strip():
                raise FeedbackError(gettext(
                        'elevator_public.msg_feedback_reply_required',
                        feedback=feedback.rec_name))
            if len(feedback.reply) > REPLY_MAX:
                raise FeedbackError(gettext(
                        'elevator_public.msg_feedback_reply_too_long',
                        feedback=feedback.rec_name, max=REPLY_MAX))
        late = [f for f in feedbacks if f.deadline and f.deadline < now]
        on_time = [f for f in feedbacks if f not in late]
        Reply = Pool().get('elevator.public.feedback.reply')
        Reply.create([{
                    'feedback': f.id, 'text': f.reply, 'replied_by': user,
                    'replied_at': now, 'late': f in late,
                    } for f in feedbacks])
        for records, is_late in [(late, True), (on_time, False)]:
            if records:
                cls.write(records, {
                        'replied_at': now,
                        'replied_by': user,
                        'replied_late': is_late,
                        })

    @classmethod
    @ModelView.button
    @Workflow.transition('assigned')
    def reopen(cls, feedbacks):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, feedbacks):
        to_write = []
        for feedback in feedbacks:
            resolution = feedback.resolution
            if not resolution:
                if feedback.state != 'replied':
                    raise FeedbackError(gettext(
                            'elevator_public.msg_feedback_resolution',
                            feedback=feedback.rec_name))
                resolution = 'resolved'
            to_write.extend(([feedback], {
                        'resolution': resolution,
                        'closed_at': dt.datetime.now(),
                        }))
        if to_write:
            cls.write(*to_write)

    # Intake from the public pages

    @classmethod
    def submit(cls, values, photos=()):
        """Create one submission from validated public values (type,
        elevator, contact_phone, text, channel, client_key) and its photos
        [(name, JPEG bytes)]; return the record."""
        pool = Pool()
        Photo = pool.get('elevator.public.feedback.photo')
        allowed = {'type', 'elevator', 'contact_phone', 'text', 'channel',
            'client_key', 'urgent'}
        feedback, = cls.create([{k: v for k, v in values.items()
                    if k in allowed}])
        if photos:
            Photo.create([{
                        'feedback': feedback.id,
                        'name': name,
                        'image': data,
                        } for name, data in photos[:PHOTOS_MAX]])
        if feedback.type == 'rescue_request':
            cls.open_rescue([feedback])
        elif feedback.type == 'fault_report':
            cls.open_repair([feedback])
        return feedback

    @classmethod
    def open_repair(cls, feedbacks):
        """Pass fault reports on to the elevator's maintenance firm as
        repair orders with a deadline. Without the maintenance module the
        report is handled by its reply only; the maintenance module
        overrides this."""

    @classmethod
    def open_rescue(cls, feedbacks):
        """Pass rescue requests on to the rescue service. Without the
        rescue module, the district regulators are told at once; the
        rescue module overrides this to open (or join) the 96196 ticket."""
        notify_district_regulators(cls, [
                ('id', 'in', [f.id for f in feedbacks]),
                ], 'elevator_public.msg_notify_rescue_request')

    @classmethod
    def alert_rescue_flood(cls, elevator, count):
        """Tell the 96196 dispatchers that an elevator gets an unusual
        number of rescue requests (a real entrapment with many callers, or
        abuse): they are all taken, the dispatchers judge."""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        Elevator = pool.get('elevator.elevator')
        Notification = pool.get('elevator.notification')
        group = ModelData.get_id('elevator', 'group_dispatcher')
        notifications = []
        with Transaction().set_user(0):
            elevator = Elevator(int(elevator))
            for user in User.search([('groups', '=', group)]):
                notifications.append((user, Elevator.__name__, elevator.id,
                        'elevator_public.msg_notify_rescue_flood',
                        {'count': count, 'elevator': elevator.rec_name}))
            return Notification.notify_users(notifications)

    @classmethod
    def count_recent(cls, since, client_key=None, elevator=None,
            type_=None, exclude_type=None):
        """Submissions since a time by a client key and/or on an elevator,
        of a type or of all types but one."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = table.submitted_at >= since
        if client_key is not None:
            where &= table.client_key == client_key
        if elevator is not None:
            where &= table.elevator == elevator
        if type_ is not None:
            where &= table.type == type_
        if exclude_type is not None:
            where &= table.type != exclude_type
        cursor.execute(*table.select(Count(table.id), where=where))
        return cursor.fetchone()[0]

    # Deadlines and retention (cron)

    @classmethod
    def cron_warn_overdue(cls):
        """Hourly: warn the regulators of the district and the assigned
        unit's users of submissions whose deadline passed unanswered, once
        per submission."""
        overdue = cls.search([
                ('overdue', '=', True),
                ('warned_at', '=', None),
                ], order=[('deadline', 'ASC')])
        if not overdue:
            return []
        notify_district_regulators(cls, [
                ('id', 'in', [f.id for f in overdue]),
                ], 'elevator_public.msg_notify_feedback_overdue')
        cls._notify_units([f for f in overdue if f.assigned_unit
                and f.state == 'assigned'],
            'elevator_public.msg_notify_feedback_overdue')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [f.id for f in overdue]
        cursor.execute(*table.update([table.warned_at],
                [dt.datetime.now()],
                where=SQL_OPERATORS['in'](table.id, ids)))
        _invalidate(cls, ids)
        return overdue

    @classmethod
    def cron_erase_personal_data(cls, today=None):
        """Daily: erase the phone number and client key of submissions
        closed longer than the retention period, in one UPDATE."""
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        now = dt.datetime.combine(today, dt.time()) if today else (
            dt.datetime.now())
        limit = now - Configuration(1).feedback_retention
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = ((table.state == 'closed') & (table.closed_at < limit)
            & ((table.personal_data_erased == Null)
                | (table.personal_data_erased == False)))  # noqa: E712
        cursor.execute(*table.select(table.id, where=where))
        ids = [r for r, in cursor]
        if ids:
            cursor.execute(*table.update(
                    [table.contact_phone, table.client_key,
                        table.personal_data_erased, table.write_date],
                    [Null, Null, True, now],
                    where=where))
            _invalidate(cls, ids)
        return ids

    @classmethod
    def _notify_units(cls, feedbacks, message, exclude=()):
        "Tell the users acting for the assigned unit (in their language)."
        pool = Pool()
        User = pool.get('res.user')
        Notification = pool.get('elevator.notification')
        by_unit = {}
        for feedback in feedbacks:
            if feedback.assigned_unit:
                by_unit.setdefault(feedback.assigned_unit.id, []).append(
                    feedback.id)
        if not by_unit:
            return []
        notifications = []
        with Transaction().set_user(0):
            users = User.search([
                    ('elevator_units', 'in', list(by_unit)),
                    ])
            for user in users:
                if user.id in exclude:
                    continue
                ids = sorted({i for unit in user.elevator_units
                        for i in by_unit.get(unit.id, [])})
                if not ids:
                    continue
                notifications.append((user, cls.__name__, ids[:1000],
                        message, {'count': len(ids)}))
            return Notification.notify_users(notifications)


def fill_from_elevators(vlist, names):
    """Copy the elevator's fields names (Many2One) into the values that do
    not have them, reading the elevators in one call."""
    Elevator = Pool().get('elevator.elevator')
    ids = sorted({v['elevator'] for v in vlist
            if v.get('elevator') is not None
            and any(n not in v for n in names)})
    if not ids:
        return
    rows = {r['id']: r for r in Elevator.read(ids, names)}
    for values in vlist:
        row = rows.get(values.get('elevator'))
        if row:
            for name in names:
                values.setdefault(name, row[name])


def _invalidate(Model, ids):
    "Forget cached values of records changed by SQL."
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            for id_ in ids:
                cache[Model.__name__].pop(id_, None)


class FeedbackReply(ModelSQL, ModelView):
    "Public Feedback Reply"
    __name__ = 'elevator.public.feedback.reply'
    feedback = fields.Many2One('elevator.public.feedback', "Feedback",
        required=True, ondelete='CASCADE', readonly=True)
    text = fields.Text("Reply", readonly=True)
    replied_by = fields.Many2One('res.user', "Replied by", readonly=True,
        ondelete='SET NULL')
    replied_at = fields.Timestamp("Replied at", readonly=True)
    late = fields.Boolean("Late", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('feedback')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.feedback, Index.Range())))
        cls._order = [('replied_at', 'ASC'), ('id', 'ASC')]

    @classmethod
    def check_modification(cls, mode, replies, values=None, external=False):
        super().check_modification(mode, replies, values=values,
            external=external)
        if external:
            raise AccessError(gettext(
                    'elevator_public.msg_feedback_reply_readonly'))


class FeedbackPhoto(ModelSQL, ModelView):
    "Public Feedback Photo"
    __name__ = 'elevator.public.feedback.photo'
    feedback = fields.Many2One('elevator.public.feedback', "Feedback",
        required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    image = fields.Binary("Image", filename='name')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('feedback')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.feedback, Index.Range())))
