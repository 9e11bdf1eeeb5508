"""96196 rescue tickets (救援工单): the alarms that open them, the units
dispatched level by level, the escalations and the closing record."""
import datetime as dt
import hashlib
import math
from collections import defaultdict

from sql import For, Null, Select, Values
from sql.conditionals import Coalesce
from sql.operators import Equal

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Exclude, Index, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.modules.elevator.notification import Recipient
from trytond.modules.elevator.res import (
    district_regulator_recipients, unit_recipients)
from trytond.modules.elevator.workflow import WorkflowStateMixin
from trytond.modules.elevator.privacy import (
    PersonalDataMixin, erase_history, mask_name, mask_phone)
from trytond.modules.elevator.sharing import SharedExportMixin
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, Id, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from . import clock, geo

SOURCES = [
    ('phone', "Phone Call"),
    ('iot', "IoT Alarm"),
    ('video_ai', "Video AI"),
    ('public_app', "Public App"),
    ('other', "Other"),
    ]
STATES = [
    ('new', "New"),
    ('dispatched', "Dispatched"),
    ('accepted', "Accepted"),
    ('arrived', "Arrived"),
    ('released', "Released"),
    ('closed', "Closed"),
    ('cancelled', "Cancelled"),
    ]
# People may still be trapped: a new alarm for the elevator joins the
# ticket, and an elevator has at most one such ticket.
ACTIVE_STATES = ['new', 'dispatched', 'accepted', 'arrived']
FINAL_STATES = ['closed', 'cancelled']
CAUSES = [
    (None, ""),
    ('external', "External Cause"),
    ('human', "Human Factor / Misuse"),
    ('door', "Door System"),
    ('power', "Power Failure"),
    ('maintenance', "Maintenance Quality"),
    ('control', "Control System"),
    ('traction', "Traction and Brake System"),
    ('safety_device', "Safety Device Tripped"),
    ('other', "Other"),
    ]
CANCEL_REASONS = [
    (None, ""),
    ('false_alarm', "False Alarm"),
    ('self_released', "Released before Arrival"),
    ('duplicate', "Duplicate Call"),
    ('test', "Test or Drill"),
    ('other', "Other"),
    ]
DEADLINE_KINDS = [
    (None, ""),
    ('dispatch', "Dispatch"),
    ('accept', "Acceptance"),
    ('arrive', "Arrival"),
    ]
URGENCIES = [
    (None, ""),
    ('normal', "On Time"),
    ('warning', "Due Soon"),
    ('danger', "Nearly Due"),
    ('overdue', "Overdue"),
    ]
OUTCOMES = [
    (None, "Waiting"),
    ('accepted', "Accepted"),
    ('declined', "Declined"),
    ('timed_out', "Timed Out"),
    ('superseded', "Superseded"),
    ('cancelled', "Cancelled"),
    ]
MISSED = [
    (None, ""),
    ('accept', "Acceptance"),
    ('arrive', "Arrival"),
    ]
DISPATCH_KINDS = [
    ('maintenance', "Contracted Maintenance Unit"),
    ('grid', "Grid On-Duty Unit"),
    ('fire', "Fire Rescue"),
    ]
ESCALATION_REASONS = [
    ('accept_timeout', "Not Accepted in Time"),
    ('arrive_timeout', "Not Arrived in Time"),
    ('declined', "Declined"),
    ('no_unit', "No Unit Available"),
    ('manual', "Escalated by the Dispatcher"),
    ]
# The call back to the trapped passenger after the release (回访), as
# platform standards such as DB32/T 4130-2021 ask.
CALLBACK_RESULTS = [
    (None, ""),
    ('fine', "Reached and Fine"),
    ('complaint', "Reached with Complaint"),
    ('not_reached', "Not Reached"),
    ]
CALLBACK_STATES = ['released', 'closed']
ARRIVAL_WARNINGS = [
    (None, ""),
    ('no_position', "No Position"),
    ('too_far', "Too Far from the Elevator"),
    ]
MAX_LEVEL = 3
ESCALATION_CHUNK = 250
# Fields that only the workflow sets: never written from outside.
WORKFLOW_FIELDS = {
    'number', 'state', 'level', 'deadline', 'deadline_kind',
    'sla_accept_minutes', 'sla_arrive_minutes',
    'dispatched_at', 'dispatched_by', 'accepted_at', 'accepted_by',
    'accepted_unit', 'arrived_at', 'arrived_by', 'arrived_unit',
    'released_at', 'released_by', 'closed_at', 'closed_by',
    'cancelled_at', 'cancelled_by', 'response_time', 'arrival_time',
    'release_time', 'accept_in_time', 'arrive_in_time',
    'place', 'region', 'district', 'user_unit', 'maintenance_unit',
    'dispatches', 'escalations', 'repair_order',
    'arrival_distance', 'arrival_warning',
    'callback_at', 'callback_by',
    }
REPORT_VALUES = {
    'caller_name', 'caller_phone', 'reported_at', 'trapped_persons',
    'description', 'reference', 'origin'}
# Who reads callers' data in full (the field access of ticket.xml): the
# masked copies are hidden from them in the views.
_SEES_CALLER = (
    Id('elevator', 'group_dispatcher').in_(
        Eval('context', {}).get('groups', []))
    | Id('elevator', 'group_admin').in_(
        Eval('context', {}).get('groups', [])))
# Records an alarm may come from, when their module is installed.
ORIGIN_MODELS = ['elevator.iot.event', 'elevator.public.feedback',
    'elevator.rescue.call']


# Caller data (DESIGN §6): nobody outside dispatch sees it in full, by any
# route. The field access of caller_name / caller_phone (ticket.xml) lets
# only the dispatchers and the administrator read, search or order by them;
# everyone else sees caller_name_masked / caller_phone_masked.

class CallerMixin(SharedExportMixin, PersonalDataMixin):
    "Caller's name and phone: full for dispatch, masked copies for others."
    __slots__ = ()
    _personal_fields = {'caller_name', 'caller_phone'}

    caller_name_masked = fields.Function(fields.Char("Caller Name",
            states={'invisible': _SEES_CALLER},
            help="The caller's name, masked."),
        'get_caller_masked')
    caller_phone_masked = fields.Function(fields.Char("Caller Phone",
            states={'invisible': _SEES_CALLER},
            help="The caller's phone number, masked."),
        'get_caller_masked')

    @classmethod
    def get_caller_masked(cls, records, names):
        result = {n: {} for n in names}
        for record in records:
            if 'caller_name_masked' in names:
                result['caller_name_masked'][record.id] = mask_name(
                    record.caller_name)
            if 'caller_phone_masked' in names:
                result['caller_phone_masked'][record.id] = mask_phone(
                    record.caller_phone)
        return result


def format_time(value):
    "A UTC date-time as local time text for messages."
    if not value:
        return ''
    Configuration = Pool().get('elevator.rescue.configuration')
    zone = Configuration(1).zone
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).strftime(
        '%Y-%m-%d %H:%M:%S')


def local_time(value):
    "A UTC date-time as naive local time of the rosters."
    Configuration = Pool().get('elevator.rescue.configuration')
    zone = Configuration(1).zone
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(
        tzinfo=None)


def urgency_of(seconds_left, seconds_allowed):
    """The urgency of a clock with seconds_left of seconds_allowed (the
    dispatch console's browser applies the same thresholds, console.js)."""
    ratio = seconds_left / (seconds_allowed or 60)
    if ratio < 0:
        return 'overdue'
    elif ratio <= 0.2:
        return 'danger'
    elif ratio <= 0.5:
        return 'warning'
    return 'normal'


def _lock_key(name, id_):
    digest = hashlib.blake2b(f'{name},{id_}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'big', signed=True)


def _stamp():
    "(now, user id or None for the system)"
    return clock.now(), Transaction().user or None


def _insert(Model, vlist):
    """Insert rows of a model without history in one statement and
    return their ids (the escalation pass creates hundreds of dispatches
    at once); the ORM's create where the database cannot return ids.
    The values are made by this module, complete and valid."""
    transaction = Transaction()
    if not vlist:
        return []
    if not transaction.database.has_returning():
        return [r.id for r in Model.create(vlist)]
    assert not Model._history
    table = Model.__table__()
    names = sorted(set().union(*vlist))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    cursor = transaction.connection.cursor()
    cursor.execute(*table.insert(
            [getattr(table, n) for n in names]
            + [table.create_uid, table.create_date],
            Values([[v.get(n) for n in names] + [transaction.user, now]
                    for v in vlist]),
            returning=[table.id]))
    ids = [i for i, in cursor]
    transaction.counter += 1
    transaction.create_records[Model.__name__].extend(ids)
    return ids


def _sql_write(Model, *args):
    """records, values, ...: one UPDATE per group and batch of ids, with
    the history of the model kept; for values made by this module."""
    transaction = Transaction()
    table = Model.__table__()
    cursor = transaction.connection.cursor()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    all_ids = []
    actions = iter(args)
    for records, values in zip(actions, actions):
        ids = [r.id for r in records]
        if not ids:
            continue
        names = sorted(values)
        columns = [getattr(table, n) for n in names] + [
            table.write_uid, table.write_date]
        update = [Model._fields[n].sql_format(values[n]) for n in names]
        update += [transaction.user, now]
        for sub_ids in grouped_slice(ids, 1000):
            cursor.execute(*table.update(columns, update,
                    where=SQL_OPERATORS['in'](table.id, list(sub_ids))))
        all_ids.extend(ids)
        for record in records:
            record._local_cache.pop(record.id, None)
    if all_ids:
        transaction.counter += 1
        _forget(Model, all_ids)
        if Model._history:
            Model._insert_history(all_ids)


def _forget(Model, ids):
    "Drop cached values of the records, so that they are read again."
    transaction = Transaction()
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            model_cache = cache[Model.__name__]
            for id_ in ids:
                model_cache.pop(id_, None)


class Ticket(WorkflowStateMixin, CallerMixin, ModelSQL, ModelView):
    "Rescue Ticket"
    __name__ = 'elevator.rescue.ticket'
    _history = True
    _rec_name = 'number'
    # A rescue under way; other modules count open tickets with them.
    _active_states = ACTIVE_STATES

    _new = {'readonly': Eval('state') != 'new'}
    _active = {'readonly': Eval('state').in_(FINAL_STATES)}

    number = fields.Char("Number", readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    source = fields.Selection(SOURCES, "Source", required=True, sort=False,
        states=_new)
    reported_at = fields.DateTime("Reported At", required=True,
        states=_new)
    lookup = fields.Function(fields.Char(
            "Rescue Code / Registration Code / Address",
            states={'invisible': Eval('state') != 'new'},
            help="Type the rescue code read out by the caller (or the "
            "registration code, or a part of the address) to find the "
            "elevator."),
        'get_lookup', setter='set_lookup')
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT', states=_new)
    rescue_code = fields.Function(fields.Char("Rescue Code"),
        'get_elevator_info')
    place = fields.Many2One('elevator.place', "Place", readonly=True,
        ondelete='RESTRICT')
    address = fields.Function(fields.Char("Address"), 'get_elevator_info')
    building = fields.Function(fields.Char("Building / Unit"),
        'get_elevator_info')
    region = fields.Many2One('elevator.region', "Region", readonly=True,
        ondelete='RESTRICT')
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='RESTRICT')
    user_unit = fields.Many2One('party.party', "User Unit", readonly=True,
        ondelete='RESTRICT')
    user_unit_phone = fields.Function(fields.Char("User Unit Phone"),
        'get_elevator_info')
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        readonly=True, ondelete='RESTRICT',
        help="The contracted maintenance unit, dispatched at level 1.")
    maintenance_phone = fields.Function(fields.Char("Maintenance Phone"),
        'get_elevator_info')
    open_ticket = fields.Function(fields.Many2One('elevator.rescue.ticket',
            "Open Ticket of the Elevator",
            help="Another ticket of the elevator on which people may still "
            "be trapped: add the call to it rather than opening a new one."),
        'get_open_ticket')
    recent_entrapments = fields.Function(fields.Integer(
            "Entrapments (Window)",
            help="Tickets of the elevator within the repeated-entrapment "
            "window of the configuration."),
        'get_recent_entrapments')

    caller_name = fields.Char("Caller Name", states=_active, loading='lazy',
        help="Personal data: shown in full to the dispatch centre only.")
    caller_phone = fields.Char("Caller Phone", states=_active,
        loading='lazy',
        help="Personal data: shown in full to the dispatch centre only.")
    trapped_persons = fields.Integer("Trapped Persons", states=_active)
    description = fields.Text("Description", states=_active)
    caller_data_erased = fields.Boolean("Caller Data Erased", readonly=True,
        help="The caller's name and phone number were erased at the end "
        "of the retention period.")

    level = fields.Integer("Level", readonly=True, required=True,
        help="1: contracted maintenance unit; 2: the grid's on-duty units; "
        "3: fire rescue (119).")
    sla_accept_minutes = fields.Integer("Acceptance Time (min)",
        readonly=True)
    sla_arrive_minutes = fields.Integer("Arrival Time (min)", readonly=True)
    deadline = fields.DateTime("Deadline", readonly=True,
        help="When the ticket escalates unless the awaited step is done.")
    deadline_kind = fields.Selection(DEADLINE_KINDS, "Awaited Step",
        readonly=True)
    elapsed = fields.Function(fields.TimeDelta("Elapsed"), 'get_clock')
    time_left = fields.Function(fields.TimeDelta("Time Left"), 'get_clock')
    urgency = fields.Function(fields.Selection(URGENCIES, "Urgency"),
        'get_clock')

    dispatched_at = fields.DateTime("Dispatched At", readonly=True)
    dispatched_by = fields.Many2One('res.user', "Dispatched By",
        readonly=True, loading='lazy')
    accepted_at = fields.DateTime("Accepted At", readonly=True)
    accepted_by = fields.Many2One('res.user', "Accepted By",
        readonly=True, loading='lazy')
    accepted_unit = fields.Many2One('party.party', "Accepted By Unit",
        readonly=True, loading='lazy')
    arrived_at = fields.DateTime("Arrived At", readonly=True)
    arrived_by = fields.Many2One('res.user', "Arrival Recorded By",
        readonly=True, loading='lazy')
    arrival_distance = fields.Integer("Arrival Distance (m)", readonly=True,
        help="Distance from the phone's position at the arrival to the "
        "elevator, when the arrival was recorded on the technicians' page.")
    arrival_warning = fields.Selection(ARRIVAL_WARNINGS, "Arrival Warning",
        readonly=True,
        help="The arrival recorded on the phone had no position, or a "
        "position farther from the elevator than the configured distance.")
    arrived_unit = fields.Many2One('party.party', "Unit on Site",
        readonly=True, loading='lazy')
    released_at = fields.DateTime("Released At", readonly=True)
    released_by = fields.Many2One('res.user', "Release Recorded By",
        readonly=True, loading='lazy')
    closed_at = fields.DateTime("Closed At", readonly=True)
    closed_by = fields.Many2One('res.user', "Closed By",
        readonly=True, loading='lazy')
    cancelled_at = fields.DateTime("Cancelled At", readonly=True)
    cancelled_by = fields.Many2One('res.user', "Cancelled By",
        readonly=True, loading='lazy')

    cause = fields.Selection(CAUSES, "Cause", sort=False, states=_active,
        help="Required to close the ticket.")
    released_persons = fields.Integer("Released Persons", states=_active,
        help="Required to close the ticket.")
    injuries = fields.Integer("Injured Persons", states=_active,
        help="Required to close the ticket (0 if nobody was hurt).")
    repair_follows = fields.Boolean("Repair Order Follows", states=_active,
        help="Closing opens a repair order for the maintenance unit.")
    closing_notes = fields.Text("Closing Notes", states=_active)
    repair_order = fields.Reference("Repair Order",
        selection='get_repair_models', readonly=True,
        help="Opened on closing when a repair order follows "
        "(with the maintenance module).")
    callback_result = fields.Selection(CALLBACK_RESULTS, "Call-Back Result",
        sort=False,
        states={
            'readonly': (~Eval('state').in_(CALLBACK_STATES)
                | Bool(Eval('callback_at'))),
            },
        help="The dispatcher calls the trapped passenger back after the "
        "release; required for \"Call Back Done\".")
    callback_at = fields.DateTime("Called Back At", readonly=True)
    callback_by = fields.Many2One('res.user', "Called Back By",
        readonly=True, loading='lazy')
    callback_done = fields.Function(fields.Boolean("Called Back"),
        'get_callback_done', searcher='search_callback_done')
    cancel_reason = fields.Selection(CANCEL_REASONS, "Cancellation Reason",
        sort=False, states=_active, help="Required to cancel the ticket.")
    cancel_notes = fields.Text("Cancellation Notes", states=_active)

    response_time = fields.TimeDelta("Response Time", readonly=True,
        help="From the first dispatch to the acceptance.")
    arrival_time = fields.TimeDelta("Arrival Time", readonly=True,
        help="From the report to the first unit on site.")
    release_time = fields.TimeDelta("Release Time", readonly=True,
        help="From the arrival on site to the release of the trapped.")
    accept_in_time = fields.Boolean("Accepted in Time", readonly=True)
    arrive_in_time = fields.Boolean("Arrived in Time", readonly=True)

    alarms = fields.One2Many('elevator.rescue.alarm', 'ticket', "Alarms",
        readonly=True)
    alarm_count = fields.Function(fields.Integer("Alarms"),
        'get_alarm_count')
    dispatches = fields.One2Many('elevator.rescue.dispatch', 'ticket',
        "Dispatches", readonly=True)
    escalations = fields.One2Many('elevator.rescue.escalation', 'ticket',
        "Escalations", readonly=True)
    ticket_count = fields.Function(fields.Integer("Tickets"),
        'get_ticket_count')

    del _new, _active

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'elevator_rescue.msg_ticket_number_unique'),
            ('elevator_active_exclude',
                Exclude(t, (t.elevator, Equal),
                    where=t.state.in_(ACTIVE_STATES)),
                'elevator_rescue.msg_ticket_active_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    (t.deadline, Index.Range()),
                    where=t.state.in_(ACTIVE_STATES)),
                Index(t, (t.elevator, Index.Range()),
                    (t.reported_at, Index.Range())),
                Index(t, (t.reported_at, Index.Range())),
                # The dispatch console's board (console.py): the open and
                # the released (to close) tickets, newest first.
                Index(t, (t.state, Index.Equality()),
                    (t.reported_at, Index.Range(order='DESC')),
                    where=t.state.in_(ACTIVE_STATES + ['released'])),
                Index(t, (t.district, Index.Range()),
                    (t.reported_at, Index.Range())),
                Index(t, (t.region, Index.Range())),
                Index(t, (t.level, Index.Equality()),
                    where=t.level == MAX_LEVEL),
                })
        cls._order = [('reported_at', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'dispatch': {
                    'invisible': Eval('state') != 'new',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'accept': {
                    'invisible': Eval('state') != 'dispatched',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'arrive': {
                    'invisible': ~Eval('state').in_(
                        ['dispatched', 'accepted']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'release': {
                    'invisible': Eval('state') != 'arrived',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') != 'released',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'escalate': {
                    'invisible': (~Eval('state').in_(
                            ['dispatched', 'accepted'])
                        | (Eval('level', 0) >= MAX_LEVEL)),
                    'icon': 'tryton-launch',
                    'depends': ['state', 'level'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(ACTIVE_STATES),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'request_repair': {
                    'invisible': (~Eval('state').in_(
                            ['arrived', 'released', 'closed'])
                        | Bool(Eval('repair_order'))),
                    'icon': 'tryton-launch',
                    'depends': ['state', 'repair_order'],
                    },
                'call_back': {
                    'invisible': (~Eval('state').in_(CALLBACK_STATES)
                        | Bool(Eval('callback_at'))),
                    'icon': 'tryton-ok',
                    'depends': ['state', 'callback_at'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'new'

    @classmethod
    def default_source(cls):
        return 'phone'

    @classmethod
    def default_reported_at(cls):
        return clock.now()

    @classmethod
    def default_level(cls):
        return 1

    @classmethod
    def default_trapped_persons(cls):
        return 1

    @classmethod
    def default_repair_follows(cls):
        return False

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('urgency').in_(['overdue', 'danger']), 'danger',
                    If(Eval('urgency') == 'warning', 'warning',
                        If(Eval('state').in_(FINAL_STATES), 'muted', ''))),
                ['urgency', 'state']),
            ('/tree/field[@name="time_left"]', 'visual',
                If(Eval('urgency').in_(['overdue', 'danger']), 'danger',
                    If(Eval('urgency') == 'warning', 'warning', '')),
                ['urgency']),
            ('//page[@id="closing"]', 'states', {
                    'invisible': ~Eval('state').in_(
                        ['arrived', 'released', 'closed']),
                    }),
            ('//page[@id="callback"]', 'states', {
                    'invisible': ~Eval('state').in_(CALLBACK_STATES),
                    }),
            ('//page[@id="cancellation"]', 'states', {
                    'invisible': Eval('state') == 'closed',
                    }),
            ]

    # Finding the elevator from what the caller reads out.

    @classmethod
    def find_elevator(cls, code):
        """The elevator of the code (Elevator.find_by_code), or the only
        one whose place or address contains it.
        Raises a UserError naming what was typed otherwise."""
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        code = (code or '').strip()
        if not code:
            raise UserError(gettext('elevator_rescue.msg_unknown_code',
                    code=code))
        elevator = Elevator.find_by_code(code)
        if elevator:
            return elevator
        if len(code) >= 2:
            pattern = f'%{code}%'
            elevators = Elevator.search(['OR',
                    ('place.name', 'ilike', pattern),
                    ('place.address', 'ilike', pattern),
                    ], limit=11)
            if len(elevators) == 1:
                return elevators[0]
            if elevators:
                raise UserError(gettext('elevator_rescue.msg_ambiguous_code',
                        code=code,
                        count=len(elevators) if len(elevators) <= 10
                        else '10+'))
        raise UserError(gettext('elevator_rescue.msg_unknown_code',
                code=code))

    def get_lookup(self, name):
        return None

    @classmethod
    def set_lookup(cls, tickets, name, value):
        # Resolved into the elevator by preprocess_values.
        pass

    @fields.depends('lookup', 'elevator', methods=['_fill_from_elevator'])
    def on_change_lookup(self):
        if self.lookup:
            self.elevator = self.find_elevator(self.lookup)
            self._fill_from_elevator()

    @fields.depends(methods=['_fill_from_elevator'])
    def on_change_elevator(self):
        self._fill_from_elevator()

    @fields.depends('elevator', 'id', 'reported_at', 'state')
    def _fill_from_elevator(self):
        "Everything the dispatcher needs on screen, from the elevator."
        pool = Pool()
        SLA = pool.get('elevator.rescue.sla')
        elevator = self.elevator
        for name, value in self._elevator_values(elevator).items():
            setattr(self, name, value)
        info = self._elevator_info(elevator)
        for name, value in info.items():
            setattr(self, name, value)
        if elevator and elevator.region:
            self.sla_accept_minutes, self.sla_arrive_minutes = SLA.minutes(
                [elevator.region])[elevator.region.id]
        self.open_ticket = self._open_ticket_of(elevator)
        self.recent_entrapments = self._entrapments_of(elevator)

    @staticmethod
    def _elevator_values(elevator):
        "Stored copies of the elevator's data at the time of the report."
        if not elevator:
            return {'place': None, 'region': None, 'district': None,
                'user_unit': None, 'maintenance_unit': None}
        return {
            'place': elevator.place,
            'region': elevator.region,
            'district': elevator.district,
            'user_unit': elevator.user_unit,
            'maintenance_unit': elevator.maintenance_unit,
            }

    @staticmethod
    def _elevator_info(elevator):
        if not elevator:
            return {'rescue_code': None, 'address': None, 'building': None,
                'user_unit_phone': None, 'maintenance_phone': None}
        place = elevator.place
        return {
            'rescue_code': elevator.rescue_code,
            'address': (place.address or place.name) if place else None,
            'building': elevator.building,
            'user_unit_phone': (elevator.user_unit.public_phone
                if elevator.user_unit else None),
            'maintenance_phone': (elevator.maintenance_unit.public_phone
                if elevator.maintenance_unit else None),
            }

    def _open_ticket_of(self, elevator):
        if not elevator:
            return None
        domain = [
            ('elevator', '=', elevator.id),
            ('state', 'in', ACTIVE_STATES),
            ]
        if self.id is not None and self.id >= 0:
            domain.append(('id', '!=', self.id))
        tickets = self.search(domain, limit=1)
        return tickets[0] if tickets else None

    def _entrapments_of(self, elevator):
        pool = Pool()
        Configuration = pool.get('elevator.rescue.configuration')
        if not elevator:
            return None
        since = clock.now() - dt.timedelta(
            days=Configuration(1).repeat_days)
        return self.search([
                ('elevator', '=', elevator.id),
                ('reported_at', '>=', since),
                ('state', '!=', 'cancelled'),
                ], count=True)

    @classmethod
    def get_elevator_info(cls, tickets, names):
        result = {n: {} for n in names}
        for ticket in tickets:
            info = cls._elevator_info(ticket.elevator)
            for name in names:
                result[name][ticket.id] = info[name]
        return result

    def get_open_ticket(self, name):
        if self.state in ACTIVE_STATES:
            return None
        ticket = self._open_ticket_of(self.elevator)
        return ticket.id if ticket else None

    def get_recent_entrapments(self, name):
        return self._entrapments_of(self.elevator)

    @classmethod
    def get_alarm_count(cls, tickets, name):
        pool = Pool()
        Alarm = pool.get('elevator.rescue.alarm')
        alarm = Alarm.__table__()
        cursor = Transaction().connection.cursor()
        counts = defaultdict(int)
        from sql.aggregate import Count
        cursor.execute(*alarm.select(alarm.ticket, Count(alarm.id),
                where=SQL_OPERATORS['in'](alarm.ticket,
                    [t.id for t in tickets]),
                group_by=[alarm.ticket]))
        counts.update(cursor)
        return {t.id: counts[t.id] for t in tickets}

    @classmethod
    def get_repair_models(cls):
        return _models([None, 'elevator.repair.order'])

    def get_callback_done(self, name):
        return bool(self.callback_at)

    @classmethod
    def search_callback_done(cls, name, clause):
        _, operator, value = clause[:3]
        done = bool(value) if operator == '=' else not value
        return [('callback_at', '!=' if done else '=', None)]

    @classmethod
    def get_ticket_count(cls, tickets, name):
        "1 per ticket: what the graph views add up."
        return {t.id: 1 for t in tickets}

    # Running clocks.

    @classmethod
    def get_clock(cls, tickets, names):
        pool = Pool()
        Configuration = pool.get('elevator.rescue.configuration')
        config = Configuration(1)
        now = clock.now()
        result = {n: {} for n in names}
        for ticket in tickets:
            end = ticket.released_at or ticket.cancelled_at or now
            elapsed = end - ticket.reported_at if ticket.reported_at else None
            left, urgency = None, None
            if ticket.state in ACTIVE_STATES and ticket.deadline:
                left = ticket.deadline - now
                urgency = urgency_of(left.total_seconds(),
                    ticket.deadline_minutes(config) * 60)
            values = {'elapsed': elapsed, 'time_left': left,
                'urgency': urgency}
            for name in names:
                result[name][ticket.id] = values[name]
        return result

    def deadline_minutes(self, config):
        "The minutes allowed for the awaited step (the clock's full span)."
        return {
            'dispatch': config.auto_dispatch_minutes,
            'accept': self.sla_accept_minutes,
            'arrive': self.sla_arrive_minutes,
            }.get(self.deadline_kind) or 1

    # Creation and modification.

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        SLA = pool.get('elevator.rescue.sla')
        Configuration = pool.get('elevator.rescue.configuration')
        values = super().preprocess_values(mode, values)
        lookup = values.pop('lookup', None)
        if lookup and not values.get('elevator'):
            values['elevator'] = cls.find_elevator(lookup).id
        history = cls._loading_history()
        if mode == 'create' and not history:
            config = Configuration(1)
            # The workflow fields start from scratch whatever was sent.
            for name in WORKFLOW_FIELDS - {'dispatches', 'escalations'}:
                values.pop(name, None)
            values['number'] = config.ticket_sequence.get()
            values['state'] = 'new'
            values['level'] = 1
            values.setdefault('source', 'phone')
            if not values.get('reported_at'):
                values['reported_at'] = clock.now()
            values['deadline'] = values['reported_at'] + dt.timedelta(
                minutes=config.auto_dispatch_minutes)
            values['deadline_kind'] = 'dispatch'
        elif mode == 'create' and not values.get('number'):
            values['number'] = Configuration(1).ticket_sequence.get()
        if history and 'sla_accept_minutes' in values:
            return values
        if values.get('elevator'):
            elevator = Elevator(values['elevator'])
            for name, value in cls._elevator_values(elevator).items():
                values[name] = value.id if value else None
            values['sla_accept_minutes'], values['sla_arrive_minutes'] = (
                SLA.minutes([elevator.region])[elevator.region.id])
        return values

    @classmethod
    def _loading_history(cls):
        """Past tickets loaded as they were (demo data, benchmarks,
        migration from an older dispatch system): server-side code only."""
        transaction = Transaction()
        return (transaction.context.get('_rescue_history')
            and not transaction.check_access)

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Alarm = pool.get('elevator.rescue.alarm')
        tickets = super().create(vlist)
        if not (Transaction().context.get('_rescue_report')
                or cls._loading_history()):
            # A call typed in by the dispatcher is the ticket's first alarm.
            with without_check_access():
                Alarm.create([cls._first_alarm(t) for t in tickets])
        return tickets

    @staticmethod
    def _first_alarm(ticket, **values):
        return {
            'ticket': ticket.id,
            'source': ticket.source,
            'received_at': ticket.reported_at,
            'caller_name': ticket.caller_name,
            'caller_phone': ticket.caller_phone,
            'trapped_persons': ticket.trapped_persons,
            'description': ticket.description,
            'attached': False,
            **values,
            }

    @classmethod
    def check_modification(cls, mode, tickets, values=None, external=False):
        super().check_modification(mode, tickets, values=values,
            external=external)
        if mode == 'write' and external:
            protected = WORKFLOW_FIELDS & set(values)
            if protected:
                raise AccessError(gettext(
                        'elevator_rescue.msg_ticket_workflow_field',
                        field=cls._fields[sorted(protected)[0]].string,
                        ticket=tickets[0].rec_name if tickets else ''))
            callback = 'callback_result' in values
            callback_only = set(values) == {'callback_result'}
            for ticket in tickets:
                if callback and ticket.callback_at:
                    raise AccessError(gettext(
                            'elevator_rescue.msg_callback_done',
                            ticket=ticket.rec_name,
                            date=format_time(ticket.callback_at)))
                if callback and ticket.state not in CALLBACK_STATES:
                    raise AccessError(gettext(
                            'elevator_rescue.msg_ticket_no_callback',
                            ticket=ticket.rec_name,
                            state=_selection(cls, 'state', ticket.state)))
                if callback_only and ticket.state == 'closed':
                    # The call back may follow the closing.
                    continue
                if ticket.state in FINAL_STATES:
                    raise AccessError(gettext(
                            'elevator_rescue.msg_ticket_final',
                            ticket=ticket.rec_name))
                if (ticket.state != 'new'
                        and {'elevator', 'source', 'reported_at', 'lookup'}
                        & set(values)):
                    raise AccessError(gettext(
                            'elevator_rescue.msg_ticket_elevator_fixed',
                            ticket=ticket.rec_name))
        if mode == 'delete':
            for ticket in tickets:
                if ticket.state != 'new' or ticket.dispatched_at:
                    raise AccessError(gettext(
                            'elevator_rescue.msg_ticket_delete',
                            ticket=ticket.rec_name))

    @classmethod
    def validate_fields(cls, tickets, field_names):
        super().validate_fields(tickets, field_names)
        names = ['trapped_persons', 'released_persons', 'injuries']
        if field_names is not None and not set(names) & set(field_names):
            return
        for ticket in tickets:
            for name in names:
                value = getattr(ticket, name)
                if value is not None and value < 0:
                    raise ValidationError(gettext(
                            'elevator_rescue.msg_negative_persons',
                            field=cls._fields[name].string,
                            ticket=ticket.rec_name))

    @classmethod
    def copy(cls, tickets, default=None):
        "A copy is a new call on the same elevator, with its own steps."
        default = default.copy() if default is not None else {}
        for name in ['alarms', 'dispatches', 'escalations',
                'callback_result']:
            default.setdefault(name, None)
        return super().copy(tickets, default=default)

    # Intake: every alarm goes through report().

    @classmethod
    def report(cls, elevator, source, **values):
        """Report people trapped in elevator (a record or an id): return the
        active ticket of the elevator with the report attached to it, or a
        new ticket at level 1. values: caller_name, caller_phone,
        reported_at, trapped_persons, description, reference."""
        ticket, = cls.report_many([(elevator, source, values)])
        return ticket

    @classmethod
    def report_many(cls, reports):
        """Batched report(): reports is a list of (elevator, source,
        values); returns the ticket of each report, in order."""
        pool = Pool()
        Alarm = pool.get('elevator.rescue.alarm')
        Elevator = pool.get('elevator.elevator')
        sources = {s for s, _ in SOURCES}
        allowed = REPORT_VALUES
        reports = [(Elevator(int(e)) if e is not None else None, s,
                dict(v)) for e, s, v in reports]
        for elevator, source, values in reports:
            if elevator is None:
                raise UserError(gettext('elevator_rescue.msg_unknown_code',
                        code=''))
            if source not in sources:
                raise UserError(gettext('elevator_rescue.msg_report_source',
                        source=source))
            unknown = set(values) - allowed
            if unknown:
                raise UserError(gettext('elevator_rescue.msg_report_value',
                        name=sorted(unknown)[0]))
        elevator_ids = sorted({e.id for e, _, _ in reports})
        cls._lock_elevators(elevator_ids)
        with without_check_access():
            active = {t.elevator.id: t for t in cls.search([
                        ('elevator', 'in', elevator_ids),
                        ('state', 'in', ACTIVE_STATES),
                        ])}
            new_vlist, firsts = [], set()
            for i, (elevator, source, values) in enumerate(reports):
                if elevator.id in active or elevator.id in {
                        v['elevator'] for v in new_vlist}:
                    continue
                firsts.add(i)
                new_vlist.append({
                        'elevator': elevator.id,
                        'source': source,
                        **{k: v for k, v in values.items()
                            if k in REPORT_VALUES - {'reference', 'origin'}},
                        })
            with Transaction().set_context(_rescue_report=True):
                created = cls.create(new_vlist)
            active.update({t.elevator.id: t for t in created})
            tickets, alarms = [], []
            now = clock.now()
            for i, (elevator, source, values) in enumerate(reports):
                ticket = active[elevator.id]
                tickets.append(ticket)
                alarm = {
                    'ticket': ticket.id,
                    'source': source,
                    'received_at': values.get('reported_at') or now,
                    'attached': i not in firsts,
                    }
                alarm.update({k: v for k, v in values.items()
                        if k != 'reported_at'})
                if alarm.get('origin') is not None and not isinstance(
                        alarm['origin'], str):
                    alarm['origin'] = str(alarm['origin'])
                alarms.append(alarm)
            Alarm.create(alarms)
            cls._notify_new(created)
        return tickets

    @classmethod
    def _lock_elevators(cls, elevator_ids):
        """Serialise reports on the same elevators between transactions, so
        that an elevator never gets two active tickets: concurrent reports
        fail with a retryable database error (the caller's transaction is
        retried, and the report is then attached to the ticket)."""
        transaction = Transaction()
        database = transaction.database
        if not elevator_ids or not database.has_select_for():
            return
        cursor = transaction.connection.cursor()
        cursor.execute(*Select([database.lock_id(
                        _lock_key(cls.__name__, i)) for i in elevator_ids]))
        if not all(cursor.fetchone()):
            raise backend.DatabaseOperationalError(
                "rescue report on the same elevator in progress")
        # A ticket committed after this transaction's snapshot is not seen
        # here: look with a fresh snapshot.
        table = cls.__table__()
        with transaction.new_transaction(readonly=True) as fresh:
            fresh_cursor = fresh.connection.cursor()
            fresh_cursor.execute(*table.select(table.id,
                    where=SQL_OPERATORS['in'](table.elevator, elevator_ids)
                    & table.state.in_(ACTIVE_STATES)))
            fresh_ids = {i for i, in fresh_cursor}
        if fresh_ids:
            # Unknown to this transaction: opened since its snapshot.
            cursor.execute(*table.select(table.id,
                    where=SQL_OPERATORS['in'](table.id, list(fresh_ids))))
            if fresh_ids - {i for i, in cursor}:
                raise backend.DatabaseOperationalError(
                    "rescue ticket opened concurrently")

    @classmethod
    def _notify_new(cls, tickets):
        "Tell the dispatch centre about tickets it did not type in itself."
        tickets = [t for t in tickets if t.source != 'phone']
        if tickets:
            notify_dispatchers([(t, 'elevator_rescue.msg_notify_alarm', {
                            'number': t.number,
                            'source': (lambda t=t: _selection(
                                    cls, 'source', t.source)),
                            'elevator': t.elevator.rec_name,
                            'place': t.place.rec_name if t.place else '',
                            }) for t in tickets])

    # Row lock shared by every step of the workflow.

    @classmethod
    def _check_state(cls, tickets, states, message):
        "Refuse a step on a ticket whose state is not one of states."
        for ticket in tickets:
            if ticket.state not in states:
                raise UserError(gettext(f'elevator_rescue.{message}',
                        ticket=ticket.rec_name,
                        state=_selection(cls, 'state', ticket.state)))

    @classmethod
    def _lock(cls, tickets):
        """Lock the ticket rows (SELECT ... FOR UPDATE): a concurrent step
        on the same ticket waits until this transaction ends, then fails
        with a serialization error and is retried by Tryton's dispatcher,
        seeing what was done. Returns the tickets read again."""
        transaction = Transaction()
        ids = sorted({int(t) for t in tickets})
        if ids and transaction.database.has_select_for():
            table = cls.__table__()
            cursor = transaction.connection.cursor()
            cursor.execute(*table.select(table.id,
                    where=SQL_OPERATORS['in'](table.id, ids),
                    order_by=[table.id.asc],
                    for_=For('UPDATE')))
            cursor.fetchall()
        _forget(cls, ids)
        return cls.browse(ids)

    @classmethod
    def _write_workflow(cls, *args):
        """Write workflow fields (records, values, ...) as one UPDATE per
        group, keeping the history: the values are made by the workflow,
        so they skip the validation of user input (the escalation pass
        writes hundreds of tickets at once)."""
        for values in args[1::2]:
            assert set(values) <= WORKFLOW_FIELDS, set(values)
        _sql_write(cls, *args)

    # Dispatch and escalation.

    @classmethod
    @ModelView.button
    def dispatch(cls, tickets):
        "Ask the unit(s) of the ticket's level."
        tickets = cls._lock(tickets)
        cls._check_state(tickets, {'new'}, 'msg_ticket_not_new')
        with without_check_access():
            cls._dispatch(tickets)

    @classmethod
    def _targets(cls, tickets, now):
        """{ticket: [(unit id, kind, duty id, km)]} of the units to ask at
        each ticket's level."""
        pool = Pool()
        Grid = pool.get('elevator.rescue.grid')
        Dispatch = pool.get('elevator.rescue.dispatch')
        Configuration = pool.get('elevator.rescue.configuration')
        config = Configuration(1)
        grids = Grid.for_regions({t.region for t in tickets})
        duties = Grid.duty_table(set(grids.values()))
        asked = defaultdict(set)
        dispatch = Dispatch.__table__()
        cursor = Transaction().connection.cursor()
        for sub_ids in grouped_slice([t.id for t in tickets], 1000):
            cursor.execute(*dispatch.select(dispatch.ticket, dispatch.unit,
                    where=SQL_OPERATORS['in'](dispatch.ticket,
                        list(sub_ids))))
            for ticket_id, unit_id in cursor:
                asked[ticket_id].add(unit_id)
        local_now = local_time(now)
        default_fire = config.fire_station.id if config.fire_station else None
        targets = {}
        for ticket in tickets:
            grid = grids.get(ticket.region.id) if ticket.region else None
            firm = (ticket.maintenance_unit.id if ticket.maintenance_unit
                else None)
            found = []
            if ticket.level == 1:
                if firm:
                    found = [(firm, 'maintenance', None, None)]
            elif ticket.level == 2:
                if grid:
                    elevator = ticket.elevator
                    found = [(unit, 'grid', duty, km)
                        for unit, duty, km in grid.nearest_units(
                            elevator.latitude, elevator.longitude,
                            local_now, exclude=asked[ticket.id] | {firm},
                            duties=duties[grid.id])][:config.level2_units]
            else:
                station = (grid.fire_station.id
                    if grid and grid.fire_station else default_fire)
                if station:
                    found = [(station, 'fire', None, None)]
            targets[ticket] = found
        return targets

    @classmethod
    def _dispatch(cls, tickets):
        """Dispatch each ticket to the units of its level; a level without
        any unit escalates at once."""
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        if not tickets:
            return
        now, user = _stamp()
        targets = cls._targets(tickets, now)
        empty = [t for t in tickets if not targets[t]]
        vlist = []
        to_write = defaultdict(list)
        for ticket in tickets:
            if not targets[ticket]:
                continue
            accept = dt.timedelta(minutes=ticket.sla_accept_minutes)
            arrive = dt.timedelta(minutes=ticket.sla_arrive_minutes)
            for rank, (unit, kind, duty, km) in enumerate(
                    targets[ticket], 1):
                vlist.append({
                        'ticket': ticket.id,
                        'level': ticket.level,
                        'kind': kind,
                        'rank': rank,
                        'unit': unit,
                        'duty': duty,
                        'distance': round(km, 2) if km is not None else None,
                        'dispatched_at': now,
                        'dispatched_by': user,
                        'accept_deadline': now + accept,
                        'arrive_deadline': now + arrive,
                        })
            values = {
                'state': 'dispatched',
                'deadline': now + accept,
                'deadline_kind': 'accept',
                }
            if not ticket.dispatched_at:
                values.update({'dispatched_at': now, 'dispatched_by': user})
            to_write[tuple(sorted(values.items()))].append(ticket)
        if to_write:
            cls._write_workflow(*[a for values, records in to_write.items()
                    for a in (records, dict(values))])
        dispatches = _insert(Dispatch, vlist)
        _forget(cls, [t.id for t in tickets])
        notify_units(dispatches, 'elevator_rescue.msg_notify_dispatch')
        notify_outside(dispatches)
        if empty:
            top = [t for t in empty if t.level >= MAX_LEVEL]
            if top:
                cls._write_workflow(top, {
                        'state': 'dispatched',
                        'deadline': None,
                        'deadline_kind': None,
                        })
                notify_dispatchers([(t, 'elevator_rescue.msg_notify_no_unit',
                            {'number': t.number, 'level': t.level})
                        for t in top])
            cls._escalate([t for t in empty if t.level < MAX_LEVEL],
                'no_unit')

    @classmethod
    @ModelView.button
    def escalate(cls, tickets):
        "Escalate by hand to the next level."
        tickets = cls._lock(tickets)
        for ticket in tickets:
            if (ticket.state not in {'dispatched', 'accepted'}
                    or ticket.level >= MAX_LEVEL):
                raise UserError(gettext(
                        'elevator_rescue.msg_ticket_not_escalable',
                        ticket=ticket.rec_name, level=ticket.level,
                        state=_selection(cls, 'state', ticket.state)))
        with without_check_access():
            cls._escalate(tickets, 'manual')

    @classmethod
    def _escalate(cls, tickets, reasons):
        """Move each ticket one level up and dispatch it there. reasons is
        a reason or {ticket id: reason}. A ticket escalates from a level at
        most once (unique escalation record per ticket and level)."""
        pool = Pool()
        Escalation = pool.get('elevator.rescue.escalation')
        Dispatch = pool.get('elevator.rescue.dispatch')
        if isinstance(reasons, str):
            reasons = defaultdict(lambda r=reasons: r)
        now, user = _stamp()
        done = {(e.ticket.id, e.from_level) for e in Escalation.search([
                    ('ticket', 'in', [t.id for t in tickets]),
                    ])}
        tickets = [t for t in tickets
            if t.level < MAX_LEVEL and (t.id, t.level) not in done]
        if not tickets:
            return
        _insert(Escalation, [{
                    'ticket': t.id,
                    'from_level': t.level,
                    'to_level': t.level + 1,
                    'reason': reasons[t.id],
                    'deadline': t.deadline,
                    'escalated_at': now,
                    'escalated_by': user,
                    } for t in tickets])
        # The units of the level left behind stop waiting.
        dispatches = Dispatch.search([
                ('ticket', 'in', [t.id for t in tickets]),
                ['OR',
                    ('outcome', '=', None),
                    [('outcome', '=', 'accepted'), ('arrived_at', '=', None)],
                    ],
                ])
        level = {t.id: t.level for t in tickets}
        groups = defaultdict(list)
        for dispatch in dispatches:
            if dispatch.level != level[dispatch.ticket.id]:
                continue
            reason = reasons[dispatch.ticket.id]
            if reason == 'accept_timeout' and dispatch.outcome is None:
                key = ('timed_out', 'accept')
            elif reason == 'arrive_timeout':
                key = ('timed_out', 'arrive' if dispatch.outcome
                    else 'accept')
            else:
                key = ('superseded', None)
            groups[key].append(dispatch)
        args = []
        for (outcome, missed), records in groups.items():
            args.extend([records,
                    {'outcome': outcome, 'missed': missed, 'outcome_at': now}])
        if args:
            _sql_write(Dispatch, *args)
        withdrawn = [d for k, r in groups.items() if k[0] == 'superseded'
            for d in r]
        notify_units(withdrawn, 'elevator_rescue.msg_notify_withdrawn')
        notify_outside(groups.get(('timed_out', 'accept'), []),
            event='rescue_accept_overdue')
        to_level = {t.id: t.level + 1 for t in tickets}
        by_level = defaultdict(list)
        for ticket in tickets:
            by_level[to_level[ticket.id]].append(ticket)
        for level_, records in by_level.items():
            cls._write_workflow(records, {
                    'level': level_,
                    'state': 'dispatched',
                    })
        notify_dispatchers([(t, 'elevator_rescue.msg_notify_escalated', {
                        'number': t.number,
                        'level': to_level[t.id],
                        'reason': (lambda r=reasons[t.id]: _selection(
                                Escalation, 'reason', r)),
                        }) for t in tickets])
        cls._dispatch(cls.browse([t.id for t in tickets]))

    @classmethod
    def cron_erase_caller_data(cls, now=None):
        """Daily: erase the callers' names and phone numbers of tickets
        closed or cancelled longer ago than the retention period of the
        configuration, on every copy (_erase_caller_copies); the tickets
        and their figures stay for the statistics."""
        pool = Pool()
        Configuration = pool.get('elevator.rescue.configuration')
        now = now or clock.now()
        years = Configuration(1).caller_retention_years
        try:
            limit = now.replace(year=now.year - years)
        except ValueError:  # 29 February
            limit = now.replace(year=now.year - years, day=28)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=table.state.in_(FINAL_STATES)
                & (Coalesce(table.closed_at, table.cancelled_at) < limit)
                & ((table.caller_data_erased == Null)
                    | (table.caller_data_erased == False)),  # noqa: E712
                order_by=[table.id.asc]))
        ids = [i for i, in cursor]
        for sub_ids in grouped_slice(ids, 1000):
            cls._erase_caller_copies(list(sub_ids))
        return ids

    @classmethod
    def _erase_caller_copies(cls, ids):
        """Blank the callers' data of the tickets ids wherever it was
        copied: the tickets, their alarms and the history of both. Modules
        that copy it elsewhere extend this (elevator_public: the rescue
        request)."""
        pool = Pool()
        Alarm = pool.get('elevator.rescue.alarm')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        names = ['caller_name', 'caller_phone']
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        table = cls.__table__()
        cursor.execute(*table.update(
                [table.caller_name, table.caller_phone,
                    table.caller_data_erased, table.write_date],
                [Null, Null, True, now],
                where=SQL_OPERATORS['in'](table.id, ids)))
        erase_history(cls, ids, names + ['caller_data_erased'])
        alarm = Alarm.__table__()
        cursor.execute(*alarm.select(alarm.id,
                where=SQL_OPERATORS['in'](alarm.ticket, ids)))
        alarm_ids = [i for i, in cursor]
        if alarm_ids:
            cursor.execute(*alarm.update(
                    [alarm.caller_name, alarm.caller_phone,
                        alarm.write_date],
                    [Null, Null, now],
                    where=SQL_OPERATORS['in'](alarm.id, alarm_ids)))
            erase_history(Alarm, alarm_ids, names)
        transaction.counter += 1
        _forget(cls, ids)
        _forget(Alarm, alarm_ids)

    @classmethod
    def cron_escalate(cls):
        "Every minute: act on every passed deadline."
        cls.escalate_due()

    @classmethod
    def escalate_due(cls, now=None):
        """Dispatch the tickets left new too long and escalate those whose
        unit missed its acceptance or arrival deadline. Tickets being
        worked on by someone else right now (locked) wait for the next
        pass. Returns the number of tickets acted on."""
        transaction = Transaction()
        database = transaction.database
        now = now or clock.now()
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        query = table.select(table.id,
            where=table.state.in_(['new', 'dispatched', 'accepted'])
            & (table.deadline != Null) & (table.deadline <= now),
            order_by=[table.deadline.asc, table.id.asc])
        if database.has_select_for():
            query.for_ = database.get_select_for_skip_locked()('UPDATE')
        cursor.execute(*query)
        ids = [i for i, in cursor]
        if not ids:
            return 0
        _forget(cls, ids)
        # Chunks keep the record lists short: instantiating records costs
        # the square of the list they are read with.
        for sub_ids in grouped_slice(ids, ESCALATION_CHUNK):
            cls._act_on_due(cls.browse(list(sub_ids)))
        return len(ids)

    @classmethod
    def _act_on_due(cls, tickets):
        with without_check_access():
            # Sorted out before acting: a ticket dispatched now is not due.
            new, escalate, reasons, top = [], [], {}, []
            for ticket in tickets:
                if ticket.state == 'new':
                    new.append(ticket)
                elif ticket.state not in {'dispatched', 'accepted'}:
                    continue
                elif ticket.level >= MAX_LEVEL:
                    top.append(ticket)
                else:
                    escalate.append(ticket)
                    reasons[ticket.id] = ('accept_timeout'
                        if ticket.state == 'dispatched' else 'arrive_timeout')
            cls._dispatch(new)
            cls._escalate(escalate, reasons)
            cls._overdue_at_top(top)

    @classmethod
    def _overdue_at_top(cls, tickets):
        "Fire rescue is late: flag the dispatches and tell dispatch, once."
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        if not tickets:
            return
        dispatches = Dispatch.search([
                ('ticket', 'in', [t.id for t in tickets]),
                ('level', '=', MAX_LEVEL),
                ('missed', '=', None),
                ['OR',
                    ('outcome', '=', None),
                    [('outcome', '=', 'accepted'), ('arrived_at', '=', None)],
                    ],
                ])
        accept = [d for d in dispatches if d.outcome is None]
        arrive = [d for d in dispatches if d.outcome == 'accepted']
        args = []
        if accept:
            args.extend([accept, {'missed': 'accept'}])
        if arrive:
            args.extend([arrive, {'missed': 'arrive'}])
        if args:
            _sql_write(Dispatch, *args)
        kinds = {t.id: t.deadline_kind for t in tickets}
        cls._write_workflow(tickets, {'deadline': None})
        notify_dispatchers([(t, 'elevator_rescue.msg_notify_overdue', {
                        'number': t.number,
                        'step': (lambda k=kinds[t.id]: _selection(
                                cls, 'deadline_kind', k)),
                        }) for t in tickets])

    # Steps recorded by the dispatcher for the unit on the phone.

    @classmethod
    @ModelView.button
    def accept(cls, tickets):
        "Accept for the only unit still waiting at the ticket's level."
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        to_accept = []
        for ticket in tickets:
            waiting = [d for d in ticket.dispatches
                if d.outcome is None and d.level == ticket.level]
            if len(waiting) != 1:
                message = ('elevator_rescue.msg_ticket_accept_which'
                    if waiting else 'elevator_rescue.msg_ticket_no_waiting')
                raise UserError(gettext(message,
                        ticket=ticket.rec_name, count=len(waiting)))
            to_accept.extend(waiting)
        Dispatch.accept(to_accept)

    @classmethod
    @ModelView.button
    def arrive(cls, tickets):
        "Record the arrival of the unit that accepted."
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        to_arrive = []
        for ticket in tickets:
            accepted = [d for d in ticket.dispatches
                if d.outcome == 'accepted' and not d.arrived_at]
            if len(accepted) != 1:
                raise UserError(gettext(
                        'elevator_rescue.msg_ticket_no_accepted',
                        ticket=ticket.rec_name))
            to_arrive.extend(accepted)
        Dispatch.arrive(to_arrive)

    @classmethod
    @ModelView.button
    def release(cls, tickets):
        "The trapped persons are out."
        tickets = cls._lock(tickets)
        now, user = _stamp()
        cls._check_state(tickets, {'arrived'}, 'msg_ticket_not_arrived')
        with without_check_access():
            for ticket in tickets:
                cls._write_workflow([ticket], {
                        'state': 'released',
                        'released_at': now,
                        'released_by': user,
                        'release_time': now - ticket.arrived_at,
                        'deadline': None,
                        'deadline_kind': None,
                        })

    @classmethod
    @ModelView.button
    def close(cls, tickets):
        "File the rescue record: cause, released, injured, repair."
        tickets = cls._lock(tickets)
        now, user = _stamp()
        cls._check_state(tickets, {'released'}, 'msg_ticket_not_released')
        for ticket in tickets:
            for name, message in [
                    ('cause', 'msg_close_cause'),
                    ('released_persons', 'msg_close_released'),
                    ('injuries', 'msg_close_injuries'),
                    ]:
                if getattr(ticket, name) is None:
                    raise UserError(gettext(
                            f'elevator_rescue.{message}',
                            ticket=ticket.rec_name))
        with without_check_access():
            cls._write_workflow(tickets, {
                    'state': 'closed',
                    'closed_at': now,
                    'closed_by': user,
                    })
            cls._follow_up_repairs([t for t in tickets if t.repair_follows])


    @classmethod
    @ModelView.button
    def call_back(cls, tickets):
        """The dispatcher called the trapped passenger back after the
        release (before or after the closing) and records the result."""
        tickets = cls._lock(tickets)
        now, user = _stamp()
        cls._check_state(tickets, set(CALLBACK_STATES),
            'msg_ticket_no_callback')
        for ticket in tickets:
            if ticket.callback_at:
                raise UserError(gettext('elevator_rescue.msg_callback_done',
                        ticket=ticket.rec_name,
                        date=format_time(ticket.callback_at)))
            if not ticket.callback_result:
                raise UserError(gettext(
                        'elevator_rescue.msg_callback_result',
                        ticket=ticket.rec_name))
        with without_check_access():
            cls._write_workflow(tickets, {
                    'callback_at': now,
                    'callback_by': user,
                    })

    @classmethod
    def record_release(cls, tickets, released_persons, injuries, cause,
            notes=None):
        """The release recorded on the technician's page: the release
        button, then the rescue record (released, injured, cause)."""
        causes = {c for c, _ in CAUSES if c}
        for value in (released_persons, injuries):
            if (isinstance(value, bool) or not isinstance(value, int)
                    or value < 0):
                raise UserError(gettext(
                        'elevator_rescue.msg_release_persons'))
        if cause not in causes:
            raise UserError(gettext('elevator_rescue.msg_release_cause'))
        cls.release(tickets)
        values = {
            'released_persons': released_persons,
            'injuries': injuries,
            'cause': cause,
            }
        if notes:
            values['closing_notes'] = notes
        with without_check_access():
            cls.write(list(tickets), values)

    @classmethod
    @ModelView.button
    def request_repair(cls, tickets):
        """The unit on site asks for a repair follow-up: a repair order
        now (with elevator_maintenance), not only when the ticket closes."""
        tickets = cls._lock(tickets)
        cls._check_state(tickets, {'arrived', 'released', 'closed'},
            'msg_ticket_no_repair')
        with without_check_access():
            asked = [t for t in tickets if not t.repair_follows]
            if asked:
                cls.write(asked, {'repair_follows': True})
            tickets = cls.browse([t.id for t in tickets])
            cls._follow_up_repairs(tickets)

    @classmethod
    def _follow_up_repairs(cls, tickets):
        "Open repair orders (elevator_maintenance, when installed)."
        pass

    @classmethod
    @ModelView.button
    def cancel(cls, tickets):
        "False alarm or released before anybody came (with the reason)."
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        tickets = cls._lock(tickets)
        now, user = _stamp()
        cls._check_state(tickets, ACTIVE_STATES, 'msg_ticket_not_cancellable')
        for ticket in tickets:
            if not ticket.cancel_reason:
                raise UserError(gettext(
                        'elevator_rescue.msg_cancel_reason',
                        ticket=ticket.rec_name))
        with without_check_access():
            dispatches = Dispatch.search([
                    ('ticket', 'in', [t.id for t in tickets]),
                    ['OR',
                        ('outcome', '=', None),
                        [('outcome', '=', 'accepted'),
                            ('arrived_at', '=', None)],
                        ],
                    ])
            if dispatches:
                Dispatch.write(dispatches, {
                        'outcome': 'cancelled', 'outcome_at': now})
            notify_units(dispatches, 'elevator_rescue.msg_notify_cancelled')
            cls._write_workflow(tickets, {
                    'state': 'cancelled',
                    'cancelled_at': now,
                    'cancelled_by': user,
                    'deadline': None,
                    'deadline_kind': None,
                    })


class Alarm(CallerMixin, ModelSQL, ModelView):
    "Rescue Alarm"
    __name__ = 'elevator.rescue.alarm'

    ticket = fields.Many2One('elevator.rescue.ticket', "Ticket",
        required=True, ondelete='CASCADE', readonly=True)
    source = fields.Selection(SOURCES, "Source", required=True,
        readonly=True)
    received_at = fields.DateTime("Received At", required=True,
        readonly=True)
    caller_name = fields.Char("Caller Name", readonly=True, loading='lazy',
        help="Personal data: shown in full to the dispatch centre only.")
    caller_phone = fields.Char("Caller Phone", readonly=True,
        loading='lazy',
        help="Personal data: shown in full to the dispatch centre only.")
    trapped_persons = fields.Integer("Trapped Persons", readonly=True)
    description = fields.Text("Description", readonly=True)
    reference = fields.Char("Reference", readonly=True,
        help="Number of the public feedback, fault id of the device, ...")
    origin = fields.Reference("Origin", selection='get_origins',
        readonly=True, help="The IoT event or public request reported.")
    attached = fields.Boolean("Attached", readonly=True,
        help="Received while the elevator already had an active ticket, and "
        "added to it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.ticket, Index.Range())))
        cls._order = [('received_at', 'ASC'), ('id', 'ASC')]

    @classmethod
    def get_origins(cls):
        return _models([None] + ORIGIN_MODELS)

    @classmethod
    def check_modification(cls, mode, alarms, values=None, external=False):
        super().check_modification(mode, alarms, values=values,
            external=external)
        if external and mode in {'write', 'delete'}:
            raise AccessError(gettext('elevator_rescue.msg_alarm_readonly'))


class Dispatch(ModelSQL, ModelView):
    "Rescue Dispatch"
    __name__ = 'elevator.rescue.dispatch'

    ticket = fields.Many2One('elevator.rescue.ticket', "Ticket",
        required=True, ondelete='CASCADE', readonly=True)
    level = fields.Integer("Level", required=True, readonly=True)
    kind = fields.Selection(DISPATCH_KINDS, "Kind", required=True,
        readonly=True)
    rank = fields.Integer("Rank", readonly=True,
        help="Order of the unit at its level, nearest first.")
    unit = fields.Many2One('party.party', "Unit", required=True,
        ondelete='RESTRICT', readonly=True)
    duty = fields.Many2One('elevator.rescue.grid.duty', "Duty",
        ondelete='SET NULL', readonly=True)
    distance = fields.Float("Distance (km)", digits=(6, 2), readonly=True,
        help="Straight-line distance from the unit's standby point to the "
        "elevator.")
    phone = fields.Function(fields.Char("Phone"), 'get_phone')
    dispatched_at = fields.DateTime("Dispatched At", required=True,
        readonly=True)
    dispatched_by = fields.Many2One('res.user', "Dispatched By",
        readonly=True, loading='lazy')
    accept_deadline = fields.DateTime("Accept Before", readonly=True)
    arrive_deadline = fields.DateTime("Arrive Before", readonly=True)
    accepted_at = fields.DateTime("Accepted At", readonly=True)
    accepted_by = fields.Many2One('res.user', "Accepted By",
        readonly=True, loading='lazy')
    arrived_at = fields.DateTime("Arrived At", readonly=True)
    arrived_by = fields.Many2One('res.user', "Arrival Recorded By",
        readonly=True, loading='lazy')
    outcome = fields.Selection(OUTCOMES, "Outcome", readonly=True)
    outcome_at = fields.DateTime("Outcome At", readonly=True,
        help="When the dispatch was declined, timed out, superseded or "
        "cancelled.")
    missed = fields.Selection(MISSED, "Missed Deadline", readonly=True)
    arrival_latitude = fields.Float("Arrival Latitude", digits=(3, 6),
        readonly=True, help="The phone's position at the arrival (WGS-84).")
    arrival_longitude = fields.Float("Arrival Longitude", digits=(3, 6),
        readonly=True, help="The phone's position at the arrival (WGS-84).")
    arrival_accuracy = fields.Integer("Position Accuracy (m)", readonly=True)
    arrival_crs = fields.Selection([
            (None, ""),
            ('wgs84', "WGS-84 (GPS)"),
            ('gcj02', "GCJ-02 (WeChat / AMap)"),
            ], "Position Sent As", readonly=True,
        help="The datum of the position the phone sent; it is stored "
        "converted to WGS-84.")
    arrival_distance = fields.Integer("Arrival Distance (m)", readonly=True)
    response_time = fields.Function(fields.TimeDelta("Response Time"),
        'get_times')
    travel_time = fields.Function(fields.TimeDelta("Travel Time"),
        'get_times')

    elevator = fields.Function(fields.Many2One('elevator.elevator',
            "Elevator"), 'get_ticket_field')
    place = fields.Function(fields.Many2One('elevator.place', "Place"),
        'get_ticket_field')
    address = fields.Function(fields.Char("Address"), 'get_ticket_field')
    ticket_state = fields.Function(fields.Selection(STATES, "Ticket State"),
        'get_ticket_field', searcher='search_ticket_field')
    trapped_persons = fields.Function(fields.Integer("Trapped Persons"),
        'get_ticket_field')
    time_left = fields.Function(fields.TimeDelta("Time Left"), 'get_clock')
    urgency = fields.Function(fields.Selection(URGENCIES, "Urgency"),
        'get_clock')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.ticket, Index.Range()),
                    (t.level, Index.Range())),
                Index(t, (t.unit, Index.Range()),
                    (t.dispatched_at, Index.Range())),
                Index(t, (t.missed, Index.Equality()),
                    where=t.missed != Null),
                })
        cls._order = [('dispatched_at', 'DESC'), ('level', 'ASC'),
            ('rank', 'ASC'), ('id', 'ASC')]
        # The buttons stay visible on a withdrawn or timed-out dispatch while
        # the ticket is active: a unit clicking late (or losing a race) is
        # told why by the method, not refused by the button's states.
        cls._buttons.update({
                'accept': {
                    'invisible': ~Eval('ticket_state', '').in_(
                        ['dispatched', 'accepted']),
                    'icon': 'tryton-ok',
                    'depends': ['ticket_state'],
                    },
                'decline': {
                    'invisible': ~Eval('ticket_state', '').in_(
                        ['dispatched', 'accepted']),
                    'icon': 'tryton-cancel',
                    'depends': ['ticket_state'],
                    },
                'arrive': {
                    'invisible': ~Eval('ticket_state', '').in_(
                        ['dispatched', 'accepted', 'arrived']),
                    'icon': 'tryton-ok',
                    'depends': ['ticket_state'],
                    },
                })

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('urgency').in_(['overdue', 'danger']), 'danger',
                    If(Eval('urgency') == 'warning', 'warning',
                        If(Bool(Eval('outcome'))
                            & (Eval('outcome') != 'accepted'),
                            'muted', ''))),
                ['urgency', 'outcome']),
            ]

    def get_rec_name(self, name):
        return f'{self.ticket.rec_name} L{self.level} {self.unit.rec_name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('ticket.number', operator, operand, *extra),
            ('unit.rec_name', operator, operand, *extra),
            ]

    def get_phone(self, name):
        if self.duty and self.duty.phone:
            return self.duty.phone
        return self.unit.public_phone

    @classmethod
    def get_times(cls, dispatches, names):
        result = {n: {} for n in names}
        for d in dispatches:
            if 'response_time' in names:
                result['response_time'][d.id] = (
                    d.accepted_at - d.dispatched_at if d.accepted_at
                    else None)
            if 'travel_time' in names:
                result['travel_time'][d.id] = (
                    d.arrived_at - d.dispatched_at if d.arrived_at
                    else None)
        return result

    @classmethod
    def get_ticket_field(cls, dispatches, names):
        result = {n: {} for n in names}
        for d in dispatches:
            ticket = d.ticket
            for name in names:
                if name == 'ticket_state':
                    value = ticket.state
                elif name == 'address':
                    value = ticket.address
                elif name == 'trapped_persons':
                    value = ticket.trapped_persons
                else:
                    value = getattr(ticket, name)
                    value = value.id if value else None
                result[name][d.id] = value
        return result

    @classmethod
    def search_ticket_field(cls, name, clause):
        _, operator, operand, *extra = clause
        field = {'ticket_state': 'state'}.get(name, name)
        return [(f'ticket.{field}', operator, operand, *extra)]

    @classmethod
    def get_clock(cls, dispatches, names):
        now = clock.now()
        result = {n: {} for n in names}
        for d in dispatches:
            deadline, total = None, None
            if d.outcome is None:
                deadline = d.accept_deadline
                total = d.ticket.sla_accept_minutes
            elif d.outcome == 'accepted' and not d.arrived_at:
                deadline = d.arrive_deadline
                total = d.ticket.sla_arrive_minutes
            left, urgency = None, None
            if deadline and d.ticket.state in ACTIVE_STATES:
                left = deadline - now
                urgency = urgency_of(left.total_seconds(), (total or 1) * 60)
            for name in names:
                result[name][d.id] = {'time_left': left,
                    'urgency': urgency}[name]
        return result

    @classmethod
    def check_modification(cls, mode, dispatches, values=None,
            external=False):
        super().check_modification(mode, dispatches, values=values,
            external=external)
        if external and mode in {'create', 'write', 'delete'}:
            raise AccessError(gettext(
                    'elevator_rescue.msg_dispatch_readonly'))

    def _refusal(self):
        "The message telling why this dispatch cannot be accepted."
        ticket = self.ticket
        params = {
            'ticket': ticket.rec_name,
            'unit': self.unit.rec_name,
            'date': format_time(self.outcome_at or self.accepted_at),
            }
        if self.outcome == 'accepted':
            if self.accepted_by:
                return gettext(
                    'elevator_rescue.msg_dispatch_already_accepted_by',
                    user=self.accepted_by.rec_name, **params)
            return gettext('elevator_rescue.msg_dispatch_already_accepted',
                **params)
        if self.outcome == 'superseded':
            if ticket.accepted_unit and ticket.accepted_unit != self.unit:
                return gettext(
                    'elevator_rescue.msg_dispatch_superseded_by',
                    other=ticket.accepted_unit.rec_name, **params)
            return gettext('elevator_rescue.msg_dispatch_superseded',
                level=ticket.level, **params)
        if self.outcome == 'timed_out':
            return gettext('elevator_rescue.msg_dispatch_timed_out',
                level=ticket.level, **params)
        if self.outcome == 'declined':
            return gettext('elevator_rescue.msg_dispatch_declined', **params)
        if self.outcome == 'cancelled':
            return gettext('elevator_rescue.msg_dispatch_cancelled',
                **params)
        return gettext('elevator_rescue.msg_dispatch_ticket_state',
            state=_selection(ticket.__class__, 'state', ticket.state),
            **params)

    @classmethod
    def _lock_tickets(cls, dispatches):
        "Lock the dispatches' tickets; return the dispatches read again."
        Ticket = Pool().get('elevator.rescue.ticket')
        ids = [d.id for d in dispatches]
        Ticket._lock({d.ticket.id for d in dispatches})
        _forget(cls, ids)
        return cls.browse(ids)

    @classmethod
    @ModelView.button
    def accept(cls, dispatches):
        """The unit takes the rescue. Race-safe: the ticket row is locked,
        so of two units accepting at once exactly one succeeds and the other
        is told who was first."""
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        dispatches = cls._lock_tickets(dispatches)
        seen = set()
        for dispatch in dispatches:
            if (dispatch.outcome is not None
                    or dispatch.ticket.state != 'dispatched'
                    or dispatch.ticket.id in seen):
                raise UserError(dispatch._refusal())
            seen.add(dispatch.ticket.id)
        now, user = _stamp()
        with without_check_access():
            cls.write(dispatches, {
                    'outcome': 'accepted',
                    'accepted_at': now,
                    'accepted_by': user,
                    })
            others = cls.search([
                    ('ticket', 'in', list(seen)),
                    ('outcome', '=', None),
                    ])
            if others:
                cls.write(others, {
                        'outcome': 'superseded', 'outcome_at': now})
            notify_units(others, 'elevator_rescue.msg_notify_superseded')
            for dispatch in dispatches:
                ticket = dispatch.ticket
                first = ticket.dispatched_at
                values = {
                    'state': 'accepted',
                    'accepted_unit': dispatch.unit.id,
                    'deadline': dispatch.arrive_deadline,
                    'deadline_kind': 'arrive',
                    }
                if not ticket.accepted_at:
                    values.update({
                            'accepted_at': now,
                            'accepted_by': user,
                            'response_time': now - first,
                            'accept_in_time': now <= first + dt.timedelta(
                                minutes=ticket.sla_accept_minutes),
                            })
                Ticket._write_workflow([ticket], values)

    @classmethod
    @ModelView.button
    def decline(cls, dispatches):
        "The unit cannot come: the next level is asked when nobody is left."
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        dispatches = cls._lock_tickets(dispatches)
        for dispatch in dispatches:
            if (dispatch.outcome is not None
                    or dispatch.ticket.state != 'dispatched'):
                raise UserError(dispatch._refusal())
        now, _ = _stamp()
        with without_check_access():
            cls.write(dispatches, {'outcome': 'declined', 'outcome_at': now})
            tickets = Ticket.browse({d.ticket.id for d in dispatches})
            empty = [t for t in tickets if not any(
                    d.outcome is None and d.level == t.level
                    for d in t.dispatches)]
            top = [t for t in empty if t.level >= MAX_LEVEL]
            if top:
                notify_dispatchers([(t,
                            'elevator_rescue.msg_notify_no_unit',
                            {'number': t.number, 'level': t.level})
                        for t in top])
            Ticket._escalate([t for t in empty if t.level < MAX_LEVEL],
                'declined')

    @classmethod
    @ModelView.button
    def arrive(cls, dispatches):
        "The unit is on site (also a unit whose arrival deadline passed)."
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        dispatches = cls._lock_tickets(dispatches)
        seen = set()
        for dispatch in dispatches:
            ticket = dispatch.ticket
            if (dispatch.arrived_at
                    or dispatch.outcome not in {'accepted', 'timed_out'}
                    or (dispatch.outcome == 'timed_out'
                        and dispatch.missed != 'arrive')
                    or ticket.state not in {'dispatched', 'accepted'}
                    or ticket.id in seen):
                if dispatch.outcome is None:
                    raise UserError(gettext(
                            'elevator_rescue.msg_dispatch_not_accepted',
                            ticket=ticket.rec_name,
                            unit=dispatch.unit.rec_name))
                if ticket.state in {'arrived', 'released', 'closed'}:
                    raise UserError(gettext(
                            'elevator_rescue.msg_dispatch_already_arrived',
                            ticket=ticket.rec_name,
                            other=(ticket.arrived_unit.rec_name
                                if ticket.arrived_unit else ''),
                            date=format_time(ticket.arrived_at)))
                raise UserError(dispatch._refusal())
            seen.add(ticket.id)
        now, user = _stamp()
        with without_check_access():
            cls.write(dispatches, {'arrived_at': now, 'arrived_by': user})
            others = cls.search([
                    ('ticket', 'in', list(seen)),
                    ('id', 'not in', [d.id for d in dispatches]),
                    ['OR',
                        ('outcome', '=', None),
                        [('outcome', '=', 'accepted'),
                            ('arrived_at', '=', None)],
                        ],
                    ])
            if others:
                cls.write(others, {
                        'outcome': 'superseded', 'outcome_at': now})
            notify_units(others, 'elevator_rescue.msg_notify_withdrawn')
            for dispatch in dispatches:
                ticket = dispatch.ticket
                values = {
                    'state': 'arrived',
                    'arrived_at': now,
                    'arrived_by': user,
                    'arrived_unit': dispatch.unit.id,
                    'arrival_time': now - ticket.reported_at,
                    'arrive_in_time': now <= (ticket.dispatched_at
                        + dt.timedelta(minutes=ticket.sla_arrive_minutes)),
                    'deadline': None,
                    'deadline_kind': None,
                    }
                if not ticket.accepted_at:
                    values.update({
                            'accepted_at': dispatch.accepted_at or now,
                            'accepted_by': dispatch.accepted_by,
                            'response_time': (dispatch.accepted_at or now)
                            - ticket.dispatched_at,
                            'accept_in_time': False,
                            })
                Ticket._write_workflow([ticket], values)


    # The technician's page (/{db}/elevator/portal/rescue/): the steps are
    # the buttons above; these add what the phone knows.

    @property
    def engaged(self):
        """The unit took the rescue: accepted, or accepted and escalated
        for missing the arrival deadline (it may still arrive)."""
        return (self.outcome == 'accepted'
            or (self.outcome == 'timed_out' and self.missed == 'arrive'))

    @staticmethod
    def _position(position):
        """(latitude, longitude, accuracy, crs) in WGS-84 of a position sent
        by a phone ({'latitude', 'longitude', 'accuracy', 'crs'}), all None
        when there is none; a UserError when it is not a position."""
        if not position:
            return None, None, None, None

        def number(value):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(value)
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(value)
            return value
        try:
            latitude = number(position['latitude'])
            longitude = number(position['longitude'])
            accuracy = position.get('accuracy')
            accuracy = number(accuracy) if accuracy is not None else None
            crs = position.get('crs') or 'wgs84'
            if (not -90 <= latitude <= 90 or not -180 <= longitude <= 180
                    or (accuracy is not None and accuracy < 0)
                    or crs not in geo.CRS):
                raise ValueError(position)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UserError(gettext('elevator_rescue.msg_position_invalid'))
        latitude, longitude = geo.to_wgs84(latitude, longitude, crs)
        return (latitude, longitude,
            round(accuracy) if accuracy is not None else None, crs)

    @classmethod
    def arrive_at(cls, dispatches, position=None):
        """Arrival recorded on the phone: the arrive button (rights, row
        lock, steps), then the phone's position and its distance to the
        elevator; no position, or farther than the configured distance, is
        a warning on the ticket for the dispatchers."""
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Configuration = pool.get('elevator.rescue.configuration')
        latitude, longitude, accuracy, crs = cls._position(position)
        cls.arrive(dispatches)
        limit = Configuration(1).arrival_max_distance
        warnings = []
        with without_check_access():
            for dispatch in cls.browse([d.id for d in dispatches]):
                ticket = dispatch.ticket
                elevator = ticket.elevator
                distance = None
                if latitude is not None:
                    distance = geo.distance_m(latitude, longitude,
                        elevator.latitude, elevator.longitude)
                    if distance is not None:
                        distance = round(distance)
                    _sql_write(cls, [dispatch], {
                            'arrival_latitude': latitude,
                            'arrival_longitude': longitude,
                            'arrival_accuracy': accuracy,
                            'arrival_crs': crs,
                            'arrival_distance': distance,
                            })
                if latitude is None:
                    warning = 'no_position'
                elif distance is not None and limit and distance > limit:
                    warning = 'too_far'
                else:
                    warning = None
                Ticket._write_workflow([ticket], {
                        'arrival_distance': distance,
                        'arrival_warning': warning,
                        })
                if warning:
                    warnings.append((ticket, warning, distance, dispatch))
        notify_dispatchers([(ticket,
                    'elevator_rescue.msg_notify_arrival_' + warning, {
                        'number': ticket.number,
                        'unit': dispatch.unit.rec_name,
                        'distance': distance or 0,
                        'limit': limit,
                        }) for ticket, warning, distance, dispatch
                in warnings])

    @classmethod
    def attach_photo(cls, dispatch, name, data):
        """A photo of the rescue taken on the phone, attached to the ticket
        through the platform's attachment checks (content type, size)."""
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        dispatch, = cls.browse([int(dispatch)])
        # The record rules of the user: a dispatch of another unit fails.
        cls.read([dispatch.id], ['id'])
        ticket = dispatch.ticket
        if (not dispatch.engaged
                or ticket.state not in {'accepted', 'arrived', 'released'}
                or (ticket.arrived_unit
                    and ticket.arrived_unit != dispatch.unit)):
            raise UserError(gettext('elevator_rescue.msg_photo_state',
                    ticket=ticket.rec_name,
                    state=_selection(ticket.__class__, 'state',
                        ticket.state)))
        resource = str(ticket)
        Attachment.check_file(data, name, resource, external=True)
        with without_check_access():
            attachment, = Attachment.create([{
                        'name': name,
                        'type': 'data',
                        'data': data,
                        'resource': resource,
                        }])
        return attachment

class Escalation(ModelSQL, ModelView):
    "Rescue Escalation"
    __name__ = 'elevator.rescue.escalation'

    ticket = fields.Many2One('elevator.rescue.ticket', "Ticket",
        required=True, ondelete='CASCADE', readonly=True)
    from_level = fields.Integer("From Level", required=True, readonly=True)
    to_level = fields.Integer("To Level", required=True, readonly=True)
    reason = fields.Selection(ESCALATION_REASONS, "Reason", required=True,
        readonly=True)
    deadline = fields.DateTime("Deadline", readonly=True,
        help="The deadline that passed, if any.")
    escalated_at = fields.DateTime("Escalated At", required=True,
        readonly=True)
    escalated_by = fields.Many2One('res.user', "Escalated By",
        readonly=True, help="Empty when the escalation was automatic.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        t = cls.__table__()
        cls._sql_constraints += [
            ('ticket_level_unique', Unique(t, t.ticket, t.from_level),
                'elevator_rescue.msg_escalation_unique'),
            ]
        cls._order = [('escalated_at', 'ASC'), ('id', 'ASC')]

    @classmethod
    def check_modification(cls, mode, escalations, values=None,
            external=False):
        super().check_modification(mode, escalations, values=values,
            external=external)
        if external:
            raise AccessError(gettext(
                    'elevator_rescue.msg_escalation_readonly'))


def _models(names):
    "Selection of the models among names that exist in the pool."
    pool = Pool()
    Model = pool.get('ir.model')
    selection = []
    for name in names:
        if name is None:
            selection.append((None, ''))
            continue
        try:
            pool.get(name)
        except KeyError:
            continue
        selection.append((name, Model.get_name(name)))
    return selection


# Notifications in the client (res.notification).

def _selection(Model, name, value):
    "Translated label of a selection value in the current language."
    if value is None:
        return ''
    return dict(Model.fields_get([name])[name]['selection']).get(
        value, value)


def _notify(entries):
    """entries: [(user, model, record id(s), message, params)]; in-client
    notifications through the platform's outbox (elevator.notification),
    each label in the user's language."""
    return Pool().get('elevator.notification').notify_users(entries)


# More tickets than this in one message and one pass (a mass escalation)
# make one notification listing them all.
SUMMARY_THRESHOLD = 3


def dispatcher_users():
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    with Transaction().set_user(0), without_check_access():
        return User.search([
                ('groups', '=',
                    ModelData.get_id('elevator', 'group_dispatcher')),
                ])


def notify_dispatchers(items):
    "items: [(ticket, message, params)] to every dispatcher."
    if not items:
        return []
    users = dispatcher_users()
    Ticket = Pool().get('elevator.rescue.ticket')
    by_message = defaultdict(list)
    for item in items:
        by_message[item[1]].append(item)
    entries = []
    for message, group in by_message.items():
        if len(group) > SUMMARY_THRESHOLD:
            _, _, params = group[0]
            summary = {
                'count': len(group),
                'first': (lambda m=message, p=params: gettext(m, **{
                            k: v() if callable(v) else v
                            for k, v in p.items()})),
                }
            for user in users:
                entries.append((user, Ticket.__name__,
                        [t.id for t, _, _ in group],
                        'elevator_rescue.msg_notify_many', summary))
            continue
        for ticket, message, params in group:
            for user in users:
                entries.append((user, Ticket.__name__, ticket.id, message,
                        params))
    return _notify(entries)


def unit_users(unit_ids):
    """{unit id: [users]} acting for the units: the firm's managers and
    technicians; for a fire station, the fire rescue users of the station
    (or every fire rescue user when none is assigned to a station)."""
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    Party = pool.get('party.party')
    unit_ids = set(unit_ids)
    result = defaultdict(list)
    if not unit_ids:
        return result
    firm_groups = {ModelData.get_id('elevator', g)
        for g in ['group_firm_manager', 'group_technician']}
    fire_group = ModelData.get_id('elevator', 'group_fire')
    with Transaction().set_user(0), without_check_access():
        fire_units = {p['id'] for p in Party.read(list(unit_ids),
                ['is_fire_rescue']) if p['is_fire_rescue']}
        users = User.search(['OR',
                ('elevator_units', 'in', list(unit_ids)),
                ('groups', '=', fire_group),
                ])
        for user in users:
            groups = {g.id for g in user.groups}
            acting = {p.id for p in user.elevator_units}
            for unit in unit_ids:
                if unit in acting and groups & (firm_groups | {fire_group}):
                    result[unit].append(user)
                elif (fire_group in groups and not acting
                        and unit in fire_units):
                    result[unit].append(user)
    return result


def notify_units(dispatches, message):
    "Tell the users of each dispatch's unit (dispatches: records or ids)."
    pool = Pool()
    Dispatch = pool.get('elevator.rescue.dispatch')
    Ticket = pool.get('elevator.rescue.ticket')
    if not dispatches:
        return []
    with without_check_access():
        rows = Dispatch.read([int(d) for d in dispatches],
            ['ticket', 'unit', 'level', 'unit.name'])
        tickets = {t['id']: t for t in Ticket.read(
                sorted({r['ticket'] for r in rows}),
                ['number', 'sla_accept_minutes', 'elevator.rescue_code',
                    'elevator.registration_code', 'place.name',
                    'place.address'])}
    users = unit_users({r['unit'] for r in rows})
    entries = []
    by_user = defaultdict(list)
    for row in rows:
        ticket = tickets[row['ticket']]
        place = ticket.get('place.') or {}
        elevator = ticket.get('elevator.') or {}
        params = {
            'number': ticket['number'],
            'level': row['level'],
            'elevator': ' '.join(filter(None, [
                        elevator.get('rescue_code'),
                        elevator.get('registration_code')])),
            'place': place.get('name', ''),
            'address': place.get('address') or '',
            'minutes': ticket['sla_accept_minutes'],
            'unit': (row.get('unit.') or {}).get('name', ''),
            }
        for user in users.get(row['unit'], []):
            by_user[user].append((row['id'], params))
    for user, items in by_user.items():
        if len(items) > SUMMARY_THRESHOLD:
            # A mass escalation: one notification listing the dispatches.
            first = items[0][1]
            entries.append((user, Dispatch.__name__, [i for i, _ in items],
                    'elevator_rescue.msg_notify_many_dispatches', {
                        'count': len(items),
                        'first': (lambda m=message, p=first: gettext(
                                m, **p)),
                        }))
        else:
            for dispatch_id, params in items:
                entries.append((user, Dispatch.__name__, dispatch_id,
                        message, params))
    return _notify(entries)


# Messages to the people on duty (SMS, e-mail) through the outbox: who
# gets what is data (elevator.notification.rule), here is who they are.

def technician_recipients(dispatch):
    """The on-duty technicians of the dispatch's unit: the duty phone of
    the roster line it was dispatched by, and the firm's technicians on
    rescue duty (with elevator_maintenance)."""
    pool = Pool()
    result = []
    with without_check_access():
        if dispatch.duty and dispatch.duty.phone:
            result.append(Recipient(name=dispatch.duty.rec_name,
                    phone=dispatch.duty.phone))
        try:
            Technician = pool.get('elevator.maintenance.technician')
        except KeyError:
            return result
        for technician in Technician.search([
                    ('firm', '=', dispatch.unit.id),
                    ('rescue_duty', '=', True),
                    ]):
            result.append(Recipient(user=technician.user,
                    name=technician.name, phone=technician.phone))
    return result


def message_params(ticket, **params):
    "The parameters every rescue message has: elevator, place, code."
    elevator = ticket.elevator
    place = ticket.place or (elevator.place if elevator else None)
    values = {
        'number': ticket.number or '',
        'level': ticket.level,
        'rescue_code': (elevator.rescue_code if elevator else '') or '',
        'elevator': ' '.join(filter(None, [
                    elevator.rescue_code if elevator else None,
                    elevator.registration_code if elevator else None,
                    ])),
        'place': ' '.join(filter(None, [
                    place.name if place else None,
                    place.address if place else None])),
        'minutes': ticket.sla_accept_minutes or '',
        }
    values.update(params)
    return values


def notify_outside(dispatches, event=None):
    """SMS and e-mail about dispatches (records or ids): a dispatch to
    its unit's on-duty technicians and managers (level 3: the fire
    station), a missed acceptance deadline (event rescue_accept_overdue)
    to the unit's managers and the district."""
    pool = Pool()
    Dispatch = pool.get('elevator.rescue.dispatch')
    Notification = pool.get('elevator.notification')
    if not dispatches:
        return []
    result = []
    with without_check_access():
        for dispatch in Dispatch.browse([int(d) for d in dispatches]):
            ticket = dispatch.ticket
            elevator = ticket.elevator
            event_ = event or ('rescue_level3'
                if dispatch.unit.is_fire_rescue else 'rescue_dispatch')
            unit = dispatch.unit
            audiences = {
                'technicians': lambda d=dispatch: technician_recipients(d),
                'firm_managers': lambda u=unit: unit_recipients([u]),
                'fire': lambda u=unit: unit_recipients([u],
                    groups=('group_fire',)),
                'district_regulators': lambda e=elevator: (
                    district_regulator_recipients(e.region) if e else []),
                }
            result.extend(Notification.notify(event_, audiences,
                    message_params(ticket, unit=unit.rec_name),
                    elevator=elevator, origin=dispatch))
    return result
