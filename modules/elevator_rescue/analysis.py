"""Analysis of the rescues (救援统计分析): response, arrival and release
times per maintenance unit, district and month, with averages, 90th
percentiles and the share within the SLA; the enforcement list of units
that missed level-1 deadlines; elevators with repeated entrapments."""
import datetime as dt
import math
from collections import defaultdict

from sql import Literal, Null
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case
from sql.functions import CurrentTimestamp, Extract

from trytond.model import ModelSQL, ModelView, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import clock

# Groups that see the whole city in the analysis.
CITY_GROUPS = ['group_admin', 'group_city_regulator', 'group_dispatcher',
    'group_auditor']


def seconds(value):
    "A duration read from the database (timedelta or number) in seconds."
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


def percentile(values, q):
    """Percentile with linear interpolation between closest ranks, as
    PostgreSQL's percentile_cont."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = (len(values) - 1) * q
    lower, upper = math.floor(k), math.ceil(k)
    if lower == upper:
        return values[int(k)]
    return values[lower] + (values[upper] - values[lower]) * (k - lower)


def summarize(values):
    "(average, 90th percentile) of seconds, or (None, None)."
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return sum(values) / len(values), percentile(values, 0.9)


def _timedelta(value):
    return dt.timedelta(seconds=round(value)) if value is not None else None


def _minutes(value):
    return round(value / 60, 1) if value is not None else None


def _share(hits, total):
    return round(100 * hits / total, 1) if total else None


class AnalysisContext(ModelView):
    "Rescue Analysis Context"
    __name__ = 'elevator.rescue.analysis.context'

    from_date = fields.Date("From Date", required=True,
        domain=[('from_date', '<=', Eval('to_date'))])
    to_date = fields.Date("To Date", required=True,
        domain=[('to_date', '>=', Eval('from_date'))])
    district = fields.Many2One('elevator.region', "District",
        domain=[('level', 'in', ['district', 'zone'])])
    unit = fields.Many2One('party.party', "Maintenance Unit",
        domain=[('is_maintenance_unit', '=', True)])
    min_count = fields.Integer("Minimum Entrapments",
        help="Elevators with at least this many tickets in the period are "
        "listed as repeated entrapments (default: the configuration).")

    @classmethod
    def default_from_date(cls):
        today = clock.now().date()
        return today.replace(year=today.year - 1) + dt.timedelta(days=1)

    @classmethod
    def default_to_date(cls):
        return clock.now().date()

    @classmethod
    def default_district(cls):
        return Transaction().context.get('district')

    @classmethod
    def default_unit(cls):
        return Transaction().context.get('unit')

    @classmethod
    def default_min_count(cls):
        return Pool().get('elevator.rescue.configuration')(1).repeat_count


class AnalysisMixin:
    "Filters of the context and of the user's data scope."
    __slots__ = ()

    @classmethod
    def _period(cls):
        context = Transaction().context
        today = clock.now().date()
        from_date = context.get('from_date') or today.replace(
            year=today.year - 1) + dt.timedelta(days=1)
        to_date = context.get('to_date') or today
        start = dt.datetime.combine(from_date, dt.time())
        end = dt.datetime.combine(to_date + dt.timedelta(days=1), dt.time())
        return start, end

    @classmethod
    def _scope(cls):
        """(region ids, unit ids) the user is limited to; None for no
        limit."""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        Region = pool.get('elevator.region')
        transaction = Transaction()
        if not transaction.check_access:
            return None, None
        groups = set(User.get_groups())
        if groups & {ModelData.get_id('elevator', g) for g in CITY_GROUPS}:
            return None, None
        regions, units = User.get_elevator_scope()
        region_ids = None
        if ModelData.get_id('elevator', 'group_district_regulator') in groups:
            region_ids = [r.id for r in Region.search([
                        ('parent', 'child_of', regions),
                        ])] if regions else [-1]
        unit_ids = None
        if groups & {ModelData.get_id('elevator', g)
                for g in ['group_firm_manager', 'group_technician']}:
            unit_ids = units or [-1]
        if region_ids is None and unit_ids is None:
            # Nobody else gets rescue statistics.
            region_ids = [-1]
        return region_ids, unit_ids

    @classmethod
    def _ticket_where(cls, ticket):
        context = Transaction().context
        start, end = cls._period()
        where = ((ticket.reported_at >= start) & (ticket.reported_at < end))
        if context.get('district'):
            where &= ticket.district == context['district']
        regions, _ = cls._scope()
        if regions is not None:
            where &= SQL_OPERATORS['in'](ticket.region, regions)
        return where

    @classmethod
    def _audit_columns(cls, table):
        return [
            Literal(0).as_('create_uid'),
            CurrentTimestamp().as_('create_date'),
            cls.write_uid.sql_cast(Literal(None)).as_('write_uid'),
            cls.write_date.sql_cast(Literal(None)).as_('write_date'),
            ]


class TicketMetricsMixin(AnalysisMixin):
    "Metrics of groups of tickets (districts, months)."
    __slots__ = ()

    tickets = fields.Integer("Tickets")
    cancelled = fields.Integer("Cancelled / False Alarms")
    level2 = fields.Integer("Reached Level 2")
    level3 = fields.Integer("Reached Level 3")
    trapped = fields.Integer("Trapped Persons")
    avg_response = fields.Function(fields.TimeDelta("Average Response"),
        'get_metrics')
    p90_response = fields.Function(fields.TimeDelta("Response P90"),
        'get_metrics')
    avg_arrival = fields.Function(fields.TimeDelta("Average Arrival"),
        'get_metrics')
    p90_arrival = fields.Function(fields.TimeDelta("Arrival P90"),
        'get_metrics')
    avg_release = fields.Function(fields.TimeDelta("Average Release"),
        'get_metrics')
    p90_release = fields.Function(fields.TimeDelta("Release P90"),
        'get_metrics')
    avg_arrival_minutes = fields.Function(fields.Float(
            "Average Arrival (min)", digits=(6, 1)), 'get_metrics')
    p90_arrival_minutes = fields.Function(fields.Float(
            "Arrival P90 (min)", digits=(6, 1)), 'get_metrics')
    accept_rate = fields.Function(fields.Float("Accepted in Time (%)",
            digits=(5, 1)), 'get_metrics')
    arrive_rate = fields.Function(fields.Float("Arrived in Time (%)",
            digits=(5, 1)), 'get_metrics')

    @classmethod
    def _group_column(cls, ticket):
        raise NotImplementedError

    @classmethod
    def _ticket_table(cls):
        return Pool().get('elevator.rescue.ticket').__table__()

    @classmethod
    def _counts_query(cls, ticket, key, key_names=()):
        """The table query: counts per key, also returned under the names
        of key_names. Grouped in a sub-query so that PostgreSQL sees the
        same grouping expression in SELECT and GROUP BY."""
        sub = ticket.select(
            key.as_('group_key'), ticket.id, ticket.state, ticket.level,
            ticket.trapped_persons,
            where=cls._ticket_where(ticket) & (key != Null))
        return sub.select(
            sub.group_key.as_('id'),
            *cls._audit_columns(sub),
            *[sub.group_key.as_(n) for n in key_names],
            Count(sub.id).as_('tickets'),
            Sum(Case((sub.state == 'cancelled', 1), else_=0)).as_(
                'cancelled'),
            Sum(Case((sub.level >= 2, 1), else_=0)).as_('level2'),
            Sum(Case((sub.level >= 3, 1), else_=0)).as_('level3'),
            Sum(Case((sub.state != 'cancelled', sub.trapped_persons),
                    else_=0)).as_('trapped'),
            group_by=[sub.group_key])

    @classmethod
    def get_metrics(cls, records, names):
        ticket = cls._ticket_table()
        key = cls._group_column(ticket)
        cursor = Transaction().connection.cursor()
        ids = [r.id for r in records]
        cursor.execute(*ticket.select(key, ticket.response_time,
                ticket.arrival_time, ticket.release_time,
                ticket.accept_in_time, ticket.arrive_in_time,
                ticket.accepted_at,
                ticket.arrived_at,
                where=cls._ticket_where(ticket)
                & (ticket.state != 'cancelled')
                & SQL_OPERATORS['in'](key, ids)))
        groups = defaultdict(list)
        for row in cursor:
            groups[int(row[0])].append(row[1:])
        result = {n: {} for n in names}
        for id_ in ids:
            rows = groups.get(id_, [])
            response = summarize([seconds(r[0]) for r in rows])
            arrival = summarize([seconds(r[1]) for r in rows])
            release = summarize([seconds(r[2]) for r in rows])
            accepted = [r for r in rows if r[5]]
            arrived = [r for r in rows if r[6]]
            values = {
                'avg_response': _timedelta(response[0]),
                'p90_response': _timedelta(response[1]),
                'avg_arrival': _timedelta(arrival[0]),
                'p90_arrival': _timedelta(arrival[1]),
                'avg_release': _timedelta(release[0]),
                'p90_release': _timedelta(release[1]),
                'avg_arrival_minutes': _minutes(arrival[0]),
                'p90_arrival_minutes': _minutes(arrival[1]),
                'accept_rate': _share(
                    sum(1 for r in accepted if r[3]), len(accepted)),
                'arrive_rate': _share(
                    sum(1 for r in arrived if r[4]), len(arrived)),
                }
            for name in names:
                result[name][id_] = values[name]
        return result


class AnalysisDistrict(TicketMetricsMixin, ModelSQL, ModelView):
    "Rescue Analysis per District"
    __name__ = 'elevator.rescue.analysis.district'

    district = fields.Many2One('elevator.region', "District")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('tickets', 'DESC'), ('id', 'ASC')]

    @classmethod
    def _group_column(cls, ticket):
        return ticket.district

    @classmethod
    def table_query(cls):
        ticket = cls._ticket_table()
        return cls._counts_query(ticket, ticket.district, ['district'])


class AnalysisMonth(TicketMetricsMixin, ModelSQL, ModelView):
    "Rescue Analysis per Month"
    __name__ = 'elevator.rescue.analysis.month'

    month = fields.Function(fields.Char("Month"), 'get_month')
    date = fields.Function(fields.Date("Date"), 'get_month')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def _group_column(cls, ticket):
        # yyyymm of the report in UTC+8 would shift a few hours of a month
        # across; reports are grouped by their UTC month.
        return (Extract('YEAR', ticket.reported_at) * 100
            + Extract('MONTH', ticket.reported_at))

    @classmethod
    def table_query(cls):
        ticket = cls._ticket_table()
        return cls._counts_query(ticket, cls._group_column(ticket))

    @classmethod
    def get_month(cls, records, names):
        "month and date derive from the id (yyyymm)."
        result = {n: {} for n in names}
        for record in records:
            year, month = divmod(int(record.id), 100)
            if 'month' in names:
                result['month'][record.id] = f'{year:04d}-{month:02d}'
            if 'date' in names:
                result['date'][record.id] = dt.date(year, month, 1)
        return result


class AnalysisUnit(AnalysisMixin, ModelSQL, ModelView):
    "Rescue Analysis per Maintenance Unit"
    __name__ = 'elevator.rescue.analysis.unit'

    unit = fields.Many2One('party.party', "Unit")
    dispatches = fields.Integer("Dispatches")
    accepted = fields.Integer("Accepted")
    declined = fields.Integer("Declined")
    timed_out = fields.Integer("Timed Out")
    missed_level1 = fields.Integer("Missed Level-1 Deadlines")
    avg_response = fields.Function(fields.TimeDelta("Average Response"),
        'get_metrics')
    p90_response = fields.Function(fields.TimeDelta("Response P90"),
        'get_metrics')
    avg_travel = fields.Function(fields.TimeDelta("Average Arrival",
            help="From the dispatch to the arrival on site."),
        'get_metrics')
    p90_travel = fields.Function(fields.TimeDelta("Arrival P90"),
        'get_metrics')
    avg_travel_minutes = fields.Function(fields.Float(
            "Average Arrival (min)", digits=(6, 1)), 'get_metrics')
    accept_rate = fields.Function(fields.Float("Accepted in Time (%)",
            digits=(5, 1)), 'get_metrics')
    arrive_rate = fields.Function(fields.Float("Arrived in Time (%)",
            digits=(5, 1)), 'get_metrics')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('dispatches', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        Ticket = pool.get('elevator.rescue.ticket')
        dispatch = Dispatch.__table__()
        ticket = Ticket.__table__()
        where = cls._where(dispatch, ticket)
        return dispatch.join(ticket,
            condition=dispatch.ticket == ticket.id).select(
            dispatch.unit.as_('id'),
            *cls._audit_columns(dispatch),
            dispatch.unit.as_('unit'),
            Count(dispatch.id).as_('dispatches'),
            Sum(Case((dispatch.accepted_at != Null, 1), else_=0)).as_(
                'accepted'),
            Sum(Case((dispatch.outcome == 'declined', 1), else_=0)).as_(
                'declined'),
            Sum(Case((dispatch.outcome == 'timed_out', 1), else_=0)).as_(
                'timed_out'),
            Sum(Case(((dispatch.level == 1) & (dispatch.missed != Null), 1),
                    else_=0)).as_('missed_level1'),
            where=where,
            group_by=[dispatch.unit])

    @classmethod
    def _where(cls, dispatch, ticket):
        context = Transaction().context
        where = cls._ticket_where(ticket)
        if context.get('unit'):
            where &= dispatch.unit == context['unit']
        _, units = cls._scope()
        if units is not None:
            where &= SQL_OPERATORS['in'](dispatch.unit, units)
        return where

    @classmethod
    def get_metrics(cls, records, names):
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        Ticket = pool.get('elevator.rescue.ticket')
        dispatch = Dispatch.__table__()
        ticket = Ticket.__table__()
        cursor = Transaction().connection.cursor()
        ids = [r.id for r in records]
        cursor.execute(*dispatch.join(ticket,
                condition=dispatch.ticket == ticket.id).select(
                dispatch.unit, dispatch.dispatched_at, dispatch.accepted_at,
                dispatch.arrived_at, dispatch.accept_deadline,
                dispatch.arrive_deadline,
                where=cls._where(dispatch, ticket)
                & SQL_OPERATORS['in'](dispatch.unit, ids)))
        groups = defaultdict(list)
        for unit, *row in cursor:
            groups[unit].append(row)
        result = {n: {} for n in names}
        for id_ in ids:
            rows = groups.get(id_, [])
            response = summarize([(r[1] - r[0]).total_seconds()
                    for r in rows if r[1]])
            travel = summarize([(r[2] - r[0]).total_seconds()
                    for r in rows if r[2]])
            accepted = [r for r in rows if r[1]]
            arrived = [r for r in rows if r[2]]
            values = {
                'avg_response': _timedelta(response[0]),
                'p90_response': _timedelta(response[1]),
                'avg_travel': _timedelta(travel[0]),
                'p90_travel': _timedelta(travel[1]),
                'avg_travel_minutes': _minutes(travel[0]),
                'accept_rate': _share(
                    sum(1 for r in accepted if r[1] <= r[3]), len(rows)),
                'arrive_rate': _share(
                    sum(1 for r in arrived if r[2] <= r[4]), len(accepted)),
                }
            for name in names:
                result[name][id_] = values[name]
        return result


class Enforcement(AnalysisMixin, ModelSQL, ModelView):
    "Rescue Enforcement List"
    __name__ = 'elevator.rescue.enforcement'

    unit = fields.Many2One('party.party', "Maintenance Unit")
    level1 = fields.Integer("Level-1 Dispatches")
    missed_accept = fields.Integer("Missed Acceptance")
    missed_arrive = fields.Integer("Missed Arrival")
    declined = fields.Integer("Declined")
    missed = fields.Integer("Missed Deadlines")
    missed_rate = fields.Float("Missed (%)", digits=(5, 1))
    last_missed = fields.DateTime("Last Missed")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('missed', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        Ticket = pool.get('elevator.rescue.ticket')
        dispatch = Dispatch.__table__()
        ticket = Ticket.__table__()
        context = Transaction().context
        where = cls._ticket_where(ticket) & (dispatch.level == 1)
        if context.get('unit'):
            where &= dispatch.unit == context['unit']
        _, units = cls._scope()
        if units is not None:
            where &= SQL_OPERATORS['in'](dispatch.unit, units)
        missed = Sum(Case((dispatch.missed != Null, 1), else_=0))
        return dispatch.join(ticket,
            condition=dispatch.ticket == ticket.id).select(
            dispatch.unit.as_('id'),
            *cls._audit_columns(dispatch),
            dispatch.unit.as_('unit'),
            Count(dispatch.id).as_('level1'),
            Sum(Case((dispatch.missed == 'accept', 1), else_=0)).as_(
                'missed_accept'),
            Sum(Case((dispatch.missed == 'arrive', 1), else_=0)).as_(
                'missed_arrive'),
            Sum(Case((dispatch.outcome == 'declined', 1), else_=0)).as_(
                'declined'),
            missed.as_('missed'),
            (missed * 100.0 / Count(dispatch.id)).as_('missed_rate'),
            Max(Case((dispatch.missed != Null, dispatch.outcome_at),
                    else_=Null)).as_('last_missed'),
            where=where,
            group_by=[dispatch.unit],
            having=missed > 0)


class RepeatedEntrapment(AnalysisMixin, ModelSQL, ModelView):
    "Repeated Entrapment"
    __name__ = 'elevator.rescue.repeated'

    elevator = fields.Many2One('elevator.elevator', "Elevator")
    district = fields.Many2One('elevator.region', "District")
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit")
    tickets = fields.Integer("Entrapments")
    trapped = fields.Integer("Trapped Persons")
    first_reported = fields.DateTime("First")
    last_reported = fields.DateTime("Last")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('tickets', 'DESC'), ('last_reported', 'DESC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Elevator = pool.get('elevator.elevator')
        Configuration = pool.get('elevator.rescue.configuration')
        ticket = Ticket.__table__()
        elevator = Elevator.__table__()
        context = Transaction().context
        min_count = (context.get('min_count')
            or Configuration(1).repeat_count)
        where = (cls._ticket_where(ticket)
            & (ticket.state != 'cancelled'))
        if context.get('unit'):
            where &= elevator.maintenance_unit == context['unit']
        _, units = cls._scope()
        if units is not None:
            where &= SQL_OPERATORS['in'](elevator.maintenance_unit, units)
        return ticket.join(elevator,
            condition=ticket.elevator == elevator.id).select(
            ticket.elevator.as_('id'),
            *cls._audit_columns(ticket),
            ticket.elevator.as_('elevator'),
            elevator.district.as_('district'),
            elevator.maintenance_unit.as_('maintenance_unit'),
            Count(ticket.id).as_('tickets'),
            Sum(ticket.trapped_persons).as_('trapped'),
            Min(ticket.reported_at).as_('first_reported'),
            Max(ticket.reported_at).as_('last_reported'),
            where=where,
            group_by=[ticket.elevator, elevator.district,
                elevator.maintenance_unit],
            having=Count(ticket.id) >= min_count)

