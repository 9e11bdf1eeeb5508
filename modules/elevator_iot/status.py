"Live status (latest per elevator) and daily statistics, kept by the bridge."
from sql.aggregate import Count

from trytond import backend
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction
from trytond.modules.elevator.common import Timestamp

SERVICE_MODES = [
    (None, ""),
    ('0', "Out of Service"),
    ('1', "Normal"),
    ('2', "Inspection"),
    ('3', "Fire Return"),
    ('4', "Firefighter"),
    ('5', "Emergency Power"),
    ('6', "Earthquake"),
    ('7', "Unknown"),
    ]


# Percentage of each page of the live status table filled by inserts.
FILLFACTOR = 50


class BigInteger(fields.Integer):
    "Counters of a device's life (runs, door cycles) outgrow 32 bits."
    _sql_type = 'BIGINT'


DIRECTIONS = [(None, ""), ('0', "Stopped"), ('1', "Up"), ('2', "Down")]
DOOR_STATUS = [
    (None, ""),
    ('0', "Unknown"),
    ('1', "Closing"),
    ('2', "Closed"),
    ('3', "Opening"),
    ('4', "Open"),
    ('5', "Locked"),
    ('6', "Not Fully Closed"),
    ]


class Status(ModelSQL, ModelView):
    "Elevator Live Status"
    __name__ = 'elevator.iot.status'

    @classmethod
    def view_attributes(cls):
        # A tree's `visual` must reach the client PYSON-encoded: written
        # in the XML, sao could not parse it and showed no rows.
        return super().view_attributes() + [
            ('/tree', 'visual', If(Eval('critical', False), 'danger',
                    If(Eval('open_faults', 0) > 0, 'warning',
                        If(~Eval('online', False), 'muted', ''))),
                ['critical', 'open_faults', 'online']),
            ]

    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='CASCADE', readonly=True)
    device = fields.Many2One('elevator.iot.device', "Device",
        ondelete='SET NULL', readonly=True)
    district = fields.Function(fields.Many2One('elevator.region',
            "District"), 'get_elevator_field', searcher='search_elevator_field')
    region = fields.Function(fields.Many2One('elevator.region', "Region"),
        'get_elevator_field', searcher='search_elevator_field')
    online = fields.Boolean("Online", readonly=True)
    status_time = Timestamp("Status Changed", readonly=True,
        help="Time of the last online/offline message of the device.")
    collect_time = Timestamp("Collected", readonly=True)
    updated_at = Timestamp("Received", readonly=True)
    service_mode = fields.Selection(SERVICE_MODES, "Service Mode",
        readonly=True, sort=False)
    car_direction = fields.Selection(DIRECTIONS, "Direction",
        readonly=True, sort=False)
    car_status = fields.Selection([
            (None, ""), ('0', "Stopped"), ('1', "Running")],
        "Car", readonly=True, sort=False)
    door_zone = fields.Boolean("In Door Zone", readonly=True)
    car_position = fields.Integer("Floor", readonly=True)
    passenger_status = fields.Selection([
            (None, ""), ('0', "Empty"), ('1', "Occupied")],
        "Passengers", readonly=True, sort=False)
    speed = fields.Float("Speed (m/s)", digits=(4, 2), readonly=True)
    door_status = fields.Selection(DOOR_STATUS, "Door", readonly=True,
        sort=False)
    open_faults = fields.Integer("Open Faults", readonly=True)
    critical = fields.Boolean("Critical Fault", readonly=True,
        help="A critical safety fault (overrun, overspeed, unintended "
        "movement) is open: the elevator must not run.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('elevator_unique', Unique(t, t.elevator),
                'elevator_iot.msg_status_elevator_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.online, Index.Equality())))
        cls.__access__.add('elevator')
        cls._order = [('open_faults', 'DESC NULLS LAST'),
            ('updated_at', 'DESC NULLS LAST'), ('id', 'DESC')]

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        # Every message of a device rewrites its elevator's row: room left
        # in each page lets PostgreSQL update it in place (HOT), without
        # new index entries; about a quarter less work per message.
        if backend.name == 'postgresql':
            cursor = Transaction().connection.cursor()
            cursor.execute(f'ALTER TABLE "{cls._table}" '
                f'SET (fillfactor = {FILLFACTOR})')

    @classmethod
    def default_open_faults(cls):
        return 0

    def get_elevator_field(self, name):
        value = getattr(self.elevator, name)
        return value.id if value else None

    @classmethod
    def search_elevator_field(cls, name, clause):
        return [('elevator.' + clause[0],) + tuple(clause[1:])]

    def get_rec_name(self, name):
        return self.elevator.rec_name

    @classmethod
    def set_offline(cls, elevator_ids):
        if not elevator_ids:
            return
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.online], [False],
                where=SQL_OPERATORS['in'](table.elevator, elevator_ids)))

    @classmethod
    def refresh_faults(cls, elevator_ids):
        """Recount the open faults and the critical flag of the elevators
        from their events, in one UPDATE."""
        pool = Pool()
        Event = pool.get('elevator.iot.event')
        FaultType = pool.get('elevator.iot.fault.type')
        if not elevator_ids:
            return
        table = cls.__table__()
        event = Event.__table__()
        fault_type = FaultType.__table__()
        cursor = Transaction().connection.cursor()
        open_ = event.select(Count(event.id),
            where=(event.elevator == table.elevator)
            & (event.state == 'open'))
        critical = event.join(fault_type,
            condition=event.fault_type == fault_type.id
            ).select(Count(event.id) > 0,
            where=(event.elevator == table.elevator)
            & (event.state == 'open')
            & (fault_type.reaction == 'critical'))
        cursor.execute(*table.update(
                [table.open_faults, table.critical], [open_, critical],
                where=SQL_OPERATORS['in'](table.elevator, elevator_ids)))


class Daily(ModelSQL, ModelView):
    "Elevator Daily Statistics"
    __name__ = 'elevator.iot.daily'

    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='CASCADE', readonly=True)
    date = fields.Date("Date", required=True, readonly=True)
    # Counters are cumulative on the device: the day's figure is the
    # difference between the first and the last reading of the day, which
    # does not depend on the order in which readings arrive.
    run_count_first = BigInteger("Runs at First Reading",
        readonly=True)
    run_count_last = BigInteger("Runs at Last Reading", readonly=True)
    running_hours_first = fields.Float("Running Hours at First Reading",
        readonly=True)
    running_hours_last = fields.Float("Running Hours at Last Reading",
        readonly=True)
    door_count_first = BigInteger("Door Cycles at First Reading",
        readonly=True)
    door_count_last = BigInteger("Door Cycles at Last Reading",
        readonly=True)
    mileage_first = fields.Float("Mileage at First Reading (m)",
        readonly=True)
    mileage_last = fields.Float("Mileage at Last Reading (m)",
        readonly=True)
    rope_bend_last = BigInteger("Rope Bends", readonly=True)
    runs = fields.Function(fields.Integer("Runs"), 'get_delta')
    running_hours = fields.Function(fields.Float("Running Hours",
            digits=(8, 2)), 'get_delta')
    door_cycles = fields.Function(fields.Integer("Door Cycles"),
        'get_delta')
    mileage = fields.Function(fields.Float("Mileage (m)", digits=(12, 1)),
        'get_delta')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('elevator_date_unique', Unique(t, t.elevator, t.date),
                'elevator_iot.msg_daily_unique'),
            ]
        cls.__access__.add('elevator')
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    _delta_fields = {
        'runs': 'run_count',
        'running_hours': 'running_hours',
        'door_cycles': 'door_count',
        'mileage': 'mileage',
        }

    def get_delta(self, name):
        base = self._delta_fields[name]
        first = getattr(self, base + '_first')
        last = getattr(self, base + '_last')
        if first is None or last is None:
            return None
        return last - first
