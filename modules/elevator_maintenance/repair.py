"""Repair orders (修理): opened from a fault, an IoT alarm, a complaint or a
rescue, recorded and confirmed like maintenance visits."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.elevator import clock
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.rpc import RPC
from trytond.transaction import without_check_access

from .order import _iso, _elevator_info, sequence_get
from .visit import VisitMixin, VisitTechnicianMixin

SOURCES = [
    ('fault', "Fault Report"),
    ('iot', "IoT Alarm"),
    ('complaint', "Complaint"),
    ('rescue', "Rescue"),
    ('other', "Other"),
    ]
STATES = [
    ('open', "Open"),
    ('in_progress', "In Progress"),
    ('done', "Awaiting Confirmation"),
    ('confirmed', "Confirmed"),
    ('disputed', "Disputed"),
    ('cancelled', "Cancelled"),
    ]
# Not yet done: the deadline applies (done is done, awaiting confirmation).
OVERDUE_STATES = ['open', 'in_progress']
# Models a repair order may come from, when their module is activated.
ORIGINS = [
    'elevator.iot.event',
    'elevator.rescue.ticket',
    'elevator.public.feedback',
    ]


class RepairOrder(VisitMixin, Workflow, ModelSQL, ModelView):
    "Repair Order"
    __name__ = 'elevator.repair.order'
    _history = True

    _open = {'readonly': Eval('state') != 'open'}

    number = fields.Char("Number", readonly=True)
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT', states=_open)
    source = fields.Selection(SOURCES, "Source", required=True,
        states=_open, sort=False)
    origin = fields.Reference("Origin", selection='get_origins',
        readonly=True,
        help="The IoT event, rescue ticket or complaint the repair comes "
        "from.")
    description = fields.Text("Fault Description", required=True,
        states=_open)
    reported_at = fields.DateTime("Reported", required=True, states=_open)
    urgent = fields.Boolean("Urgent", states=_open,
        help="A critical safety fault: the elevator must not run until "
        "repaired.")
    deadline = fields.DateTime("Deadline", readonly=True,
        help="The repair must be done by then: the report's time plus the "
        "repair deadline of the configuration (shorter when urgent).")
    overdue = fields.Function(fields.Boolean("Overdue",
            help="The deadline passed and the repair is not done."),
        'get_overdue', searcher='search_overdue')
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    technicians = fields.Many2Many('elevator.repair.order-technician',
        'order', 'technician', "Technicians",
        domain=[('firm', '=', Eval('maintenance_unit', -1))],
        states={
            'readonly': ~Eval('state').in_(['open', 'in_progress',
                    'disputed']),
            })
    cause = fields.Text("Cause",
        states={'readonly': ~Eval('state').in_(['in_progress', 'disputed'])})
    warnings = fields.One2Many('elevator.maintenance.warning',
        'repair_order', "Warnings", readonly=True)
    repair_count = fields.Function(fields.Integer("Repairs"),
        'get_repair_count')

    del _open

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.elevator, Index.Range()),
                    (t.reported_at, Index.Range())),
                Index(t, (t.maintenance_unit, Index.Range())),
                Index(t, (t.user_unit, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    where=t.state.in_(['open', 'in_progress', 'done'])),
                Index(t, (t.origin, Index.Equality())),
                Index(t, (t.deadline, Index.Range()),
                    where=t.state.in_(OVERDUE_STATES)),
                })
        cls._order = [('reported_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'in_progress'),
            ('open', 'cancelled'),
            ('in_progress', 'done'),
            ('done', 'confirmed'),
            ('done', 'disputed'),
            ('disputed', 'done'),
            }
        cls._buttons.update({
                'start_visit': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'end_visit': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'confirm': {
                    'invisible': Eval('state') != 'done',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'dispute': {
                    'invisible': Eval('state') != 'done',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'resubmit': {
                    'invisible': Eval('state') != 'disputed',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                })
        cls.__rpc__.update({
                'start_visit': RPC(readonly=False, instantiate=0),
                'end_visit': RPC(readonly=False, instantiate=0),
                'portal_repair': RPC(instantiate=0),
                })
        cls.findings.string = "Work Done"

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_source(cls):
        return 'fault'

    @classmethod
    def default_urgent(cls):
        return False

    @classmethod
    def default_reported_at(cls):
        return dt.datetime.now().replace(microsecond=0)

    @classmethod
    def get_origins(cls):
        pool = Pool()
        Model = pool.get('ir.model')
        names = []
        for name in ORIGINS:
            try:
                pool.get(name)
            except KeyError:
                continue
            names.append(name)
        return [(None, '')] + [(m, Model.get_name(m)) for m in names]

    @classmethod
    def get_overdue(cls, repairs, name):
        now = clock.now()
        return {r.id: bool(r.state in OVERDUE_STATES and r.deadline
                and r.deadline < now) for r in repairs}

    @classmethod
    def search_overdue(cls, name, clause):
        _, operator, value = clause[:3]
        positive = bool(value) if operator == '=' else not value
        now = clock.now()
        if positive:
            return [('state', 'in', OVERDUE_STATES), ('deadline', '<', now)]
        return ['OR', ('state', 'not in', OVERDUE_STATES),
            ('deadline', '>=', now), ('deadline', '=', None)]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual', If(Eval('overdue', False), 'danger', '')),
            ]

    @classmethod
    def get_repair_count(cls, repairs, name):
        return {r.id: 1 for r in repairs}

    def get_rec_name(self, name):
        return f'{self.number} {self.elevator.rec_name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('elevator.rec_name', operator, operand, *extra),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Configuration = pool.get('elevator.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if not values.get('number'):
                values['number'] = sequence_get(
                    'repair_order_sequence', 'sequence_repair')
            reported = values.get('reported_at') or (
                cls.default_reported_at())
            values['reported_at'] = reported
            values['deadline'] = reported + Configuration(1).repair_delay(
                values.get('urgent'))
            if values.get('elevator'):
                with without_check_access():
                    elevator = Elevator(values['elevator'])
                    values.setdefault('maintenance_unit',
                        elevator.maintenance_unit.id
                        if elevator.maintenance_unit else None)
                    values.setdefault('user_unit',
                        elevator.user_unit.id if elevator.user_unit else (
                            elevator.property_company.id
                            if elevator.property_company else None))
                    values.setdefault('district',
                        elevator.district.id if elevator.district else None)
                    values.setdefault('category', elevator.category)
        return values

    @classmethod
    def on_modification(cls, mode, repairs, field_names=None):
        super().on_modification(mode, repairs, field_names=field_names)
        if mode == 'write' and set(field_names or ()) & {
                'urgent', 'reported_at'}:
            cls.set_deadlines(repairs)

    @classmethod
    def set_deadlines(cls, repairs):
        """The deadline from the report's time and the urgency: an order
        made urgent (a critical fault joins it, staff marks it) gets the
        shorter deadline. It never moves later: the firm cannot gain time
        by changing the order."""
        Configuration = Pool().get('elevator.configuration')
        config = Configuration(1)
        to_write = []
        for repair in repairs:
            deadline = repair.reported_at + config.repair_delay(
                repair.urgent)
            if repair.deadline:
                deadline = min(deadline, repair.deadline)
            if deadline != repair.deadline:
                to_write.extend(([repair], {'deadline': deadline}))
        if to_write:
            with without_check_access():
                cls.write(*to_write)

    @classmethod
    def check_modification(cls, mode, repairs, values=None, external=False):
        super().check_modification(mode, repairs, values=values,
            external=external)
        cls._check_immutable(mode, repairs, values, external,
            {'open', 'cancelled'})
        if mode == 'write' and external and 'deadline' in values:
            # Set by the server from the report's time and the urgency.
            raise AccessError(gettext(
                    'elevator_maintenance.msg_visit_protected_field',
                    record=repairs[0].rec_name if repairs else '',
                    field='deadline'))

    @classmethod
    def copy(cls, repairs, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'warnings', 'check_in', 'check_out',
                'deadline',
                'check_in_received', 'check_out_received',
                'duration', 'confirmed_by', 'confirmed_at', 'disputed_by',
                'disputed_at', 'dispute_reason', 'origin', 'technicians',
                'check_in_latitude', 'check_in_longitude',
                'check_in_distance', 'check_out_latitude',
                'check_out_longitude', 'check_out_distance']:
            default.setdefault(name, None)
        default.setdefault('state', 'open')
        return super().copy(repairs, default=default)

    @classmethod
    def open_for_elevators(cls, elevator_ids):
        "The repair orders not yet done of these elevators, by elevator."
        repairs = cls.search([
                ('elevator', 'in', list(elevator_ids)),
                ('state', 'in', ['open', 'in_progress']),
                ], order=[('reported_at', 'ASC'), ('id', 'ASC')])
        result = {}
        for repair in repairs:
            result.setdefault(repair.elevator.id, repair)
        return result

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start_visit(cls, repairs, position=None):
        "Arrive on site: time and position of the phone, the technicians."
        from .common import parse_position
        now = dt.datetime.now().replace(microsecond=0)
        _, _, _, technician_ids = parse_position(position,
            repairs[0].rec_name if repairs else '')
        to_write = []
        for repair in repairs:
            if not repair.maintenance_unit:
                raise AccessError(gettext(
                        'elevator_maintenance.msg_order_no_firm',
                        record=repair.rec_name))
            values = cls._visit_values(repair, 'check_in', position, now)
            technicians = cls._current_technicians(repair, technician_ids)
            values['technicians'] = [('add', [t.id for t in technicians])]
            to_write.extend(([repair], values))
        if to_write:
            cls.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def end_visit(cls, repairs, position=None):
        for repair in repairs:
            if not (repair.findings or '').strip():
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_repair_work_missing',
                        record=repair.rec_name))
        cls._close_visit(repairs, position)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, repairs):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, repairs):
        cls._confirm(repairs)

    @classmethod
    @ModelView.button
    @Workflow.transition('disputed')
    def dispute(cls, repairs, reason=None):
        cls._dispute(repairs, reason)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def resubmit(cls, repairs):
        for repair in repairs:
            cls._check_out_errors(repair)

    @classmethod
    def portal_repair(cls, repairs):
        "What the H5 page shows of a repair order the user may read."
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        cls.read([r.id for r in repairs], ['id'])
        result = []
        with without_check_access():
            for repair in repairs:
                attachments = Attachment.search([
                        ('resource', '=', str(repair)),
                        ], order=[('id', 'ASC')])
                result.append({
                        'id': repair.id,
                        'number': repair.number,
                        'state': repair.state,
                        'source': repair.source,
                        'urgent': repair.urgent,
                        'description': repair.description,
                        'reported_at': _iso(repair.reported_at),
                        'elevator': _elevator_info(repair.elevator),
                        'check_in': _iso(repair.check_in),
                        'check_out': _iso(repair.check_out),
                        'duration': repair.duration,
                        'cause': repair.cause,
                        'findings': repair.findings,
                        'parts_replaced': repair.parts_replaced,
                        'technicians': [{'id': t.id, 'name': t.name}
                            for t in repair.technicians],
                        'photos': [{'id': a.id, 'name': a.name,
                                'size': a.data_size} for a in attachments],
                        })
        return result


class RepairOrderTechnician(VisitTechnicianMixin, ModelSQL):
    "Repair Order - Technician"
    __name__ = 'elevator.repair.order-technician'
    _history = True

    order = fields.Many2One('elevator.repair.order', "Repair Order",
        required=True, ondelete='CASCADE')
