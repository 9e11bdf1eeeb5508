"""Paperless maintenance orders (维保记录): planned by the cron, recorded on
site by two technicians, confirmed by the user unit, then immutable."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from .common import LINE_RESULTS, MAINTENANCE_TYPES, local_date
from .visit import VisitMixin, VisitTechnicianMixin

STATES = [
    ('planned', "Planned"),
    ('in_progress', "In Progress"),
    ('done', "Awaiting Confirmation"),
    ('confirmed', "Confirmed"),
    ('disputed', "Disputed"),
    ]


def sequence_get(field, xml_id):
    "Next number of the configured sequence (the module's by default)."
    pool = Pool()
    Configuration = pool.get('elevator.configuration')
    Sequence = pool.get('ir.sequence')
    ModelData = pool.get('ir.model.data')
    sequence = getattr(Configuration(1), field)
    if not sequence:
        sequence = Sequence(ModelData.get_id('elevator_maintenance', xml_id))
    with without_check_access():
        return sequence.get()


class Order(VisitMixin, Workflow, ModelSQL, ModelView):
    "Maintenance Order"
    __name__ = 'elevator.maintenance.order'
    _history = True

    number = fields.Char("Number", readonly=True,
        help="Given at check-in.")
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'planned'})
    contract = fields.Many2One('elevator.maintenance.contract', "Contract",
        ondelete='RESTRICT', readonly=True)
    type = fields.Selection(MAINTENANCE_TYPES, "Type", required=True,
        sort=False, states={'readonly': Eval('state') != 'planned'})
    type_string = type.translated('type')
    # The calendar view shows its fields' raw values: the type's label.
    type_name = fields.Function(fields.Char("Type"), 'get_type_name')
    planned_date = fields.Date("Planned Date", required=True,
        states={'readonly': Eval('state') != 'planned'},
        help="The latest date of the visit.")
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    technicians = fields.Many2Many('elevator.maintenance.order-technician',
        'order', 'technician', "Technicians",
        domain=[('firm', '=', Eval('maintenance_unit', -1))],
        states={
            'readonly': ~Eval('state').in_(
                ['planned', 'in_progress', 'disputed']),
            })
    lines = fields.One2Many('elevator.maintenance.order.line', 'order',
        "Checklist",
        states={
            'readonly': ~Eval('state').in_(['in_progress', 'disputed']),
            })
    on_time = fields.Boolean("On Time", readonly=True,
        help="Checked in on or before the planned date.")
    warnings = fields.One2Many('elevator.maintenance.warning', 'order',
        "Warnings", readonly=True)
    abnormal_count = fields.Function(fields.Integer("Abnormal Items"),
        'get_line_counts')
    open_count = fields.Function(fields.Integer("Items Without Result"),
        'get_line_counts')

    def get_type_name(self, name):
        return self.type_string

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.elevator, Index.Range()),
                    (t.planned_date, Index.Range())),
                Index(t, (t.maintenance_unit, Index.Range()),
                    (t.planned_date, Index.Range())),
                Index(t, (t.user_unit, Index.Range())),
                Index(t, (t.district, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    where=t.state.in_(['planned', 'in_progress', 'done'])),
                Index(t, (t.planned_date, Index.Range())),
                Index(t, (t.check_out, Index.Range())),
                Index(t, (t.contract, Index.Range())),
                })
        cls._order = [('planned_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('planned', 'in_progress'),
            ('in_progress', 'done'),
            ('done', 'confirmed'),
            ('done', 'disputed'),
            ('disputed', 'done'),
            }
        cls._buttons.update({
                'start_visit': {
                    'invisible': Eval('state') != 'planned',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'end_visit': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-ok',
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
                'portal_profile': RPC(),
                'portal_elevator': RPC(),
                'portal_order': RPC(instantiate=0),
                })

    @classmethod
    def default_state(cls):
        return 'planned'

    @classmethod
    def default_type(cls):
        return 'half_monthly'

    def get_rec_name(self, name):
        label = self.number or str(self.planned_date or '')
        return f'{label} {self.elevator.rec_name}' if self.elevator else label

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
    def get_line_counts(cls, orders, name):
        result = {o.id: 0 for o in orders}
        for order in orders:
            for line in order.lines:
                if name == 'abnormal_count' and line.result == 'abnormal':
                    result[order.id] += 1
                elif (name == 'open_count' and line.mandatory
                        and not line.result):
                    result[order.id] += 1
        return result

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('elevator'):
            # An order made by hand gets the elevator's units.
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
    def validate_fields(cls, orders, field_names):
        super().validate_fields(orders, field_names)
        if field_names is None or 'maintenance_unit' in field_names:
            for order in orders:
                if not order.maintenance_unit:
                    raise ValidationError(gettext(
                            'elevator_maintenance.msg_order_no_firm',
                            record=order.rec_name))

    @classmethod
    def check_modification(cls, mode, orders, values=None, external=False):
        super().check_modification(mode, orders, values=values,
            external=external)
        cls._check_immutable(mode, orders, values, external, {'planned'})

    @classmethod
    def copy(cls, orders, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'lines', 'warnings', 'check_in', 'check_out',
                'check_in_received', 'check_out_received',
                'duration', 'confirmed_by', 'confirmed_at', 'on_time',
                'disputed_by', 'disputed_at', 'dispute_reason',
                'check_in_latitude', 'check_in_longitude',
                'check_in_distance', 'check_out_latitude',
                'check_out_longitude', 'check_out_distance',
                'technicians']:
            default.setdefault(name, None)
        default.setdefault('state', 'planned')
        return super().copy(orders, default=default)

    # -- workflow ------------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start_visit(cls, orders, position=None):
        """Start the visit: time and position of the phone (position: dict
        with latitude, longitude, time ISO 8601, technicians ids), the
        checklist of the visit's type, a number."""
        pool = Pool()
        Line = pool.get('elevator.maintenance.order.line')
        Item = pool.get('elevator.maintenance.checklist.item')
        now = dt.datetime.now().replace(microsecond=0)
        cls._check_earliest(orders)
        _, _, _, technician_ids = _position_technicians(position, orders)
        to_write, lines = [], []
        for order in orders:
            values = cls._visit_values(order, 'check_in', position, now)
            technicians = cls._current_technicians(order, technician_ids)
            values['technicians'] = [('add', [t.id for t in technicians])]
            values['number'] = sequence_get(
                'maintenance_order_sequence', 'sequence_order')
            values['on_time'] = (
                local_date(values['check_in']) <= order.planned_date)
            to_write.extend(([order], values))
            if not order.lines:
                for line in Item.items_for(order.category, order.type):
                    line['order'] = order.id
                    lines.append(line)
        if to_write:
            cls.write(*to_write)
        if lines:
            Line.create(lines)

    @classmethod
    def _check_earliest(cls, orders):
        "Visits of an elevator are made in order; one at a time."
        ids = [o.id for o in orders]
        for order in orders:
            others = cls.search([
                    ('elevator', '=', order.elevator.id),
                    ('id', 'not in', ids),
                    ['OR',
                        ('state', '=', 'in_progress'),
                        [('state', '=', 'planned'),
                            ('planned_date', '<', order.planned_date)],
                        ],
                    ], order=[('planned_date', 'ASC')], limit=1)
            if others:
                other, = others
                if other.state == 'in_progress':
                    raise ValidationError(gettext(
                            'elevator_maintenance.msg_order_in_progress',
                            record=order.rec_name, other=other.rec_name))
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_order_earlier',
                        record=order.rec_name,
                        date=other.planned_date.isoformat()))

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def end_visit(cls, orders, position=None):
        """End the visit: every mandatory item has a result, the technicians
        and photos are there; raise the warnings of a short or distant
        visit at once."""
        pool = Pool()
        Warning_ = pool.get('elevator.maintenance.warning')
        Contract = pool.get('elevator.maintenance.contract')
        for order in orders:
            cls._check_lines(order)
        cls._close_visit(orders, position)
        Contract.reschedule(orders)
        Warning_.scan(orders=orders)

    @classmethod
    def _check_lines(cls, order):
        missing = [l for l in order.lines if l.mandatory and not l.result]
        if missing:
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_lines_missing',
                    record=order.rec_name, count=len(missing),
                    items=', '.join(l.code for l in missing[:5])))
        for line in order.lines:
            if line.result == 'abnormal' and not (line.note or '').strip():
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_line_abnormal_note',
                        item=line.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, orders):
        cls._confirm(orders)

    @classmethod
    @ModelView.button
    @Workflow.transition('disputed')
    def dispute(cls, orders, reason=None):
        cls._dispute(orders, reason)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def resubmit(cls, orders):
        "After correcting a disputed record, submit it again."
        for order in orders:
            cls._check_lines(order)
            cls._check_out_errors(order)

    # -- H5 portal (with the rights of the calling user) -----------------

    @classmethod
    def portal_profile(cls):
        "Who is logged in on the H5 page and what he may do there."
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Technician = pool.get('elevator.maintenance.technician')
        Configuration = pool.get('elevator.configuration')
        user_id = Transaction().user
        with without_check_access():
            user = User(user_id)
            groups = set(User.get_groups())
            roles = [role for role, xml_id in [
                    ('technician', 'group_technician'),
                    ('firm_manager', 'group_firm_manager'),
                    ('user_unit', 'group_user_unit'),
                    ] if ModelData.get_id('elevator', xml_id) in groups]
            technicians = Technician.search([('user', '=', user_id)])
            config = Configuration(1)
            return {
                'id': user.id,
                'login': user.login,
                'name': user.name,
                'roles': roles,
                'units': [{'id': p.id, 'name': p.rec_name}
                    for p in user.elevator_units],
                'technicians': [{
                        'id': t.id, 'name': t.name,
                        'firm': t.firm.rec_name,
                        'certified': t.certified,
                        } for t in technicians],
                'photo_max_size': config.maintenance_photo_max_size * 1024,
                'min_technicians': config.maintenance_min_technicians,
                'min_photos': config.maintenance_min_photos,
                }

    @classmethod
    def portal_elevator(cls, code):
        """The elevator of a code (Elevator.find_by_code: its QR code's
        public URL or token, a rescue, registration or equipment code), if
        the user may see it, with its open maintenance orders."""
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        code = _clean_code(code)
        elevator = Elevator.find_by_code(code)
        if not elevator:
            raise AccessError(gettext(
                    'elevator_maintenance.msg_portal_elevator_not_found',
                    code=code))
        orders = cls.search([
                ('elevator', '=', elevator.id),
                ('state', 'in', ['planned', 'in_progress', 'disputed']),
                ], order=[('planned_date', 'ASC'), ('id', 'ASC')], limit=10)
        with without_check_access():
            return {
                'elevator': _elevator_info(elevator),
                'orders': [_order_summary(o) for o in orders],
                }

    @classmethod
    def portal_order(cls, orders):
        "Everything the H5 page shows of an order the user may read."
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        # Read through the record rules of the user.
        cls.read([o.id for o in orders], ['id'])
        result = []
        with without_check_access():
            for order in orders:
                attachments = Attachment.search([
                        ('resource', '=', str(order)),
                        ], order=[('id', 'ASC')])
                info = _order_summary(order)
                info.update({
                        'elevator': _elevator_info(order.elevator),
                        'technicians': [{
                                'id': t.id, 'name': t.name,
                                'certified': t.is_certified(
                                    local_date(order.check_in)),
                                } for t in order.technicians],
                        'lines': [{
                                'id': l.id,
                                'code': l.code,
                                'name': l.name,
                                'requirement': l.requirement,
                                'type': l.maintenance_type,
                                'mandatory': l.mandatory,
                                'result': l.result,
                                'note': l.note,
                                } for l in order.lines],
                        'photos': [{
                                'id': a.id, 'name': a.name,
                                'size': a.data_size,
                                } for a in attachments],
                        'findings': order.findings,
                        'parts_replaced': order.parts_replaced,
                        'dispute_reason': order.dispute_reason,
                        'confirmed_by': (order.confirmed_by.rec_name
                            if order.confirmed_by else None),
                        'confirmed_at': _iso(order.confirmed_at),
                        })
                result.append(info)
        return result


def _position_technicians(position, orders):
    from .common import parse_position
    return parse_position(position, orders[0].rec_name if orders else '')


def _clean_code(code):
    """The elevator key from what the scanner read: a public URL ends with
    the token; codes are letters, digits, '-' and '_'."""
    if not isinstance(code, str):
        code = ''
    code = code.strip()
    if '/' in code:
        code = code.split('?', 1)[0].split('#', 1)[0].rstrip('/')
        code = code.rsplit('/', 1)[-1]
    if (not code or len(code) > 64
            or not all(c.isalnum() or c in '-_' for c in code)
            or not code.isascii()):
        raise ValidationError(gettext(
                'elevator_maintenance.msg_portal_code_invalid'))
    return code


def _iso(value):
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).isoformat()


def _elevator_info(elevator):
    return {
        'id': elevator.id,
        'registration_code': elevator.registration_code,
        'rescue_code': elevator.rescue_code,
        'category': elevator.category,
        'place': elevator.place.name if elevator.place else None,
        'building': elevator.building,
        'address': (elevator.place.address
            if elevator.place and elevator.place.address else None),
        'latitude': elevator.latitude,
        'longitude': elevator.longitude,
        'maintenance_unit': (elevator.maintenance_unit.rec_name
            if elevator.maintenance_unit else None),
        'user_unit': (elevator.user_unit.rec_name
            if elevator.user_unit else None),
        }


def _order_summary(order):
    return {
        'id': order.id,
        'number': order.number,
        'type': order.type,
        'state': order.state,
        'planned_date': order.planned_date.isoformat(),
        'elevator_id': order.elevator.id,
        'elevator_name': order.elevator.rec_name,
        'check_in': _iso(order.check_in),
        'check_out': _iso(order.check_out),
        'duration': order.duration,
        'check_in_distance': order.check_in_distance,
        'photo_count': order.photo_count,
        'maintenance_unit': (order.maintenance_unit.rec_name
            if order.maintenance_unit else None),
        }


class OrderTechnician(VisitTechnicianMixin, ModelSQL):
    "Maintenance Order - Technician"
    __name__ = 'elevator.maintenance.order-technician'
    _history = True

    order = fields.Many2One('elevator.maintenance.order', "Order",
        required=True, ondelete='CASCADE')


class OrderLine(ModelSQL, ModelView):
    "Maintenance Order Line"
    __name__ = 'elevator.maintenance.order.line'
    _history = True

    _readonly = {'readonly': ~Eval('order_state').in_(
            ['in_progress', 'disputed'])}

    order = fields.Many2One('elevator.maintenance.order', "Order",
        required=True, ondelete='CASCADE', readonly=True)
    order_state = fields.Function(fields.Selection(STATES, "Order State"),
        'on_change_with_order_state')
    item = fields.Many2One('elevator.maintenance.checklist.item', "Item",
        ondelete='RESTRICT', readonly=True)
    sequence = fields.Integer("Sequence", readonly=True)
    code = fields.Char("Code", readonly=True)
    name = fields.Char("Item", readonly=True)
    requirement = fields.Text("Requirement", readonly=True)
    maintenance_type = fields.Selection(MAINTENANCE_TYPES, "Type",
        readonly=True, sort=False)
    mandatory = fields.Boolean("Mandatory", readonly=True)
    result = fields.Selection(LINE_RESULTS, "Result", sort=False,
        states=_readonly)
    note = fields.Char("Note",
        states={
            'readonly': _readonly['readonly'],
            'required': Eval('result') == 'abnormal',
            })

    del _readonly

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('order')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.order, Index.Range()),
                (t.sequence, Index.Range())))
        cls._order = [('order', 'ASC'), ('sequence', 'ASC'), ('id', 'ASC')]

    @fields.depends('order', '_parent_order.state')
    def on_change_with_order_state(self, name=None):
        return self.order.state if self.order else None

    def get_rec_name(self, name):
        return f'{self.code} {self.name}'

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(mode, lines, values=values,
            external=external)
        for line in lines:
            if line.order.state == 'confirmed':
                raise AccessError(gettext(
                        'elevator_maintenance.msg_visit_confirmed',
                        record=line.order.rec_name))
        if external:
            if mode in {'create', 'delete'} or set(values or {}) - {
                    'result', 'note'}:
                raise AccessError(gettext(
                        'elevator_maintenance.msg_line_fixed',
                        record=lines[0].order.rec_name if lines else ''))
            for line in lines:
                if line.order.state not in {'in_progress', 'disputed'}:
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_line_not_recording',
                            record=line.order.rec_name))

    @classmethod
    def validate_fields(cls, lines, field_names):
        super().validate_fields(lines, field_names)
        if field_names is None or {'result', 'note'} & set(field_names):
            for line in lines:
                if line.result == 'abnormal' and not (line.note or '').strip():
                    raise ValidationError(gettext(
                            'elevator_maintenance.msg_line_abnormal_note',
                            item=line.rec_name))
