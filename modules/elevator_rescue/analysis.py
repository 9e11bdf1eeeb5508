"""Analysis of the rescues (救援统计分析): response, arrival and release
times per maintenance unit, district and month, with averages, 90th
percentiles and the share within the SLA; the figures no published
platform gives (mean and P90 of every step, pick-up rate per level,
call-back rate, precision of IoT alarms); the enforcement list of units
that missed level-1 deadlines; elevators with repeated entrapments."""
import datetime as dt
import math
from collections import defaultdict

from sql import Literal, Null
from sql.aggregate import Aggregate, Avg, Count, Max, Min, Sum
from sql.conditionals import Case
from sql.functions import CurrentTimestamp, Extract

from trytond import backend
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import clock

# Groups that see the whole city in the analysis.
CITY_GROUPS = ['group_admin', 'group_city_regulator', 'group_dispatcher',
    'group_auditor']


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


class PercentileCont(Aggregate):
    "PostgreSQL's ordered-set aggregate: percentile_cont(q) WITHIN GROUP."
    __slots__ = ()
    _sql = 'PERCENTILE_CONT'


# The steps of a rescue whose durations the analysis gives: name and
# (start, end) time stamps.
STEPS = ['call_dispatch', 'dispatch_accept', 'dispatch_arrival',
    'arrival_release']
LEVELS = [1, 2, 3]


def _datetime(value):
    "A time stamp read from SQLite (text when its type is lost in a CASE)."
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def duration_figures(from_, where, key, steps, q=0.9, in_database=None):
    """{group key: {step: (average, q-percentile)}} in seconds of the
    durations of steps ({name: (start, end)} time-stamp columns) over the
    rows of from_ (a table or join) matching where, grouped by key.

    One statement for every group: on PostgreSQL the database computes
    AVG and percentile_cont(q) WITHIN GROUP; SQLite has no ordered-set
    aggregate, so the durations are read in one statement and summarized
    here with percentile(), which interpolates as percentile_cont does.
    in_database forces one way (the tests compare both on PostgreSQL).
    A step not reached (a stamp missing) is left out of its figures."""
    cursor = Transaction().connection.cursor()
    names = list(steps)
    result = defaultdict(dict)
    if in_database is None:
        in_database = backend.name == 'postgresql'
    if in_database:
        # Grouped in a sub-query: PostgreSQL needs the same expression in
        # SELECT and GROUP BY, and the key may have parameters.
        sub = from_.select(key.as_('key'),
            *[Extract('EPOCH', steps[n][1] - steps[n][0]).as_(n)
                for n in names],
            where=where)
        columns = []
        for name in names:
            duration = getattr(sub, name)
            columns.append(Avg(duration))
            columns.append(PercentileCont(Literal(q), within=[duration]))
        cursor.execute(*sub.select(sub.key, *columns,
                where=sub.key != Null, group_by=[sub.key]))
        for key_value, *values in cursor:
            values = [float(v) if v is not None else None for v in values]
            for i, name in enumerate(names):
                result[int(key_value)][name] = (
                    values[2 * i], values[2 * i + 1])
    else:
        columns = [c for n in names for c in steps[n]]
        cursor.execute(*from_.select(key, *columns,
                where=where & (key != Null)))
        durations = defaultdict(lambda: defaultdict(list))
        for key_value, *values in cursor:
            values = [_datetime(v) for v in values]
            for i, name in enumerate(names):
                start, end = values[2 * i], values[2 * i + 1]
                if start is not None and end is not None:
                    durations[int(key_value)][name].append(
                        (end - start).total_seconds())
        for key_value, by_name in durations.items():
            for name in names:
                values = by_name.get(name, [])
                if values:
                    result[key_value][name] = (
                        sum(values) / len(values), percentile(values, q))
                else:
                    result[key_value][name] = (None, None)
    return result


def pickup_figures(dispatch, from_, where, key):
    """{group key: {level: (accepted in time, answered)}}: the dispatches
    of each level a unit answered (accepted, declined or timed out) and
    those accepted before their acceptance deadline. Dispatches still
    waiting, or withdrawn (superseded, cancelled) before the unit had to
    answer, are not counted. One grouped statement."""
    answered = dispatch.outcome.in_(['accepted', 'declined', 'timed_out'])
    in_time = ((dispatch.outcome == 'accepted')
        & (dispatch.accepted_at <= dispatch.accept_deadline))
    sub = from_.select(key.as_('key'), dispatch.level.as_('level'),
        Case((answered, 1), else_=0).as_('answered'),
        Case((in_time, 1), else_=0).as_('in_time'),
        where=where)
    cursor = Transaction().connection.cursor()
    cursor.execute(*sub.select(sub.key, sub.level, Sum(sub.in_time),
            Sum(sub.answered),
            where=sub.key != Null, group_by=[sub.key, sub.level]))
    result = defaultdict(dict)
    for key_value, level, hits, total in cursor:
        result[int(key_value)][level] = (int(hits or 0), int(total or 0))
    return result


def ticket_figures(ticket, where, key):
    """{group key: {released, called_back, iot_confirmed, iot_false}} of
    the tickets matching where, in one grouped statement: the tickets
    released (released or closed) and those whose passenger was called
    back; the tickets opened by an IoT alarm that the dispatch centre
    confirmed (the people were released, or freed themselves before the
    unit came) and those it cancelled as a false alarm."""
    released = ticket.state.in_(['released', 'closed'])
    iot = ticket.source == 'iot'
    confirmed = iot & (released | ((ticket.state == 'cancelled')
            & (ticket.cancel_reason == 'self_released')))
    false = iot & (ticket.state == 'cancelled') & (
        ticket.cancel_reason == 'false_alarm')
    sub = ticket.select(key.as_('key'),
        Case((released, 1), else_=0).as_('released'),
        Case((released & (ticket.callback_at != Null), 1), else_=0).as_(
            'called_back'),
        Case((confirmed, 1), else_=0).as_('iot_confirmed'),
        Case((false, 1), else_=0).as_('iot_false'),
        where=where)
    names = ['released', 'called_back', 'iot_confirmed', 'iot_false']
    cursor = Transaction().connection.cursor()
    cursor.execute(*sub.select(sub.key,
            *[Sum(getattr(sub, n)) for n in names],
            where=sub.key != Null, group_by=[sub.key]))
    result = {}
    for key_value, *values in cursor:
        result[int(key_value)] = {
            n: int(v or 0) for n, v in zip(names, values)}
    return result


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


def _figure(field):
    return fields.Function(field, 'get_figures')


class RescueFiguresMixin:
    """The figures no published platform gives (issue 15), per group of
    the analysis: mean and 90th percentile of each step, each level's
    pick-up rate, the call-back rate and the precision of IoT alarms.
    The models give the queries (_duration_query, _pickup_query,
    _callback_query, _iot_query); get_figures runs one grouped statement
    per kind of figure for all the records read."""
    __slots__ = ()

    avg_call_dispatch = _figure(fields.TimeDelta("Call to Dispatch (Mean)",
            help="From the report to the dispatch."))
    p90_call_dispatch = _figure(fields.TimeDelta("Call to Dispatch (P90)",
            help="90 % of the rescues were dispatched within this time."))
    avg_dispatch_accept = _figure(fields.TimeDelta(
            "Dispatch to Acceptance (Mean)"))
    p90_dispatch_accept = _figure(fields.TimeDelta(
            "Dispatch to Acceptance (P90)"))
    avg_dispatch_arrival = _figure(fields.TimeDelta(
            "Dispatch to Arrival (Mean)"))
    p90_dispatch_arrival = _figure(fields.TimeDelta(
            "Dispatch to Arrival (P90)"))
    avg_arrival_release = _figure(fields.TimeDelta(
            "Arrival to Release (Mean)"))
    p90_arrival_release = _figure(fields.TimeDelta(
            "Arrival to Release (P90)"))
    pickup_rate_1 = _figure(fields.Float("Level-1 Pick-Up (%)",
            digits=(5, 1),
            help="Share of the level-1 dispatches answered that were "
            "accepted before their acceptance deadline."))
    pickup_rate_2 = _figure(fields.Float("Level-2 Pick-Up (%)",
            digits=(5, 1),
            help="Share of the level-2 dispatches answered that were "
            "accepted before their acceptance deadline."))
    pickup_rate_3 = _figure(fields.Float("Level-3 Pick-Up (%)",
            digits=(5, 1),
            help="Share of the level-3 dispatches answered that were "
            "accepted before their acceptance deadline."))
    released = _figure(fields.Integer("Released"))
    called_back = _figure(fields.Integer("Called Back"))
    callback_rate = _figure(fields.Float("Call-Back Rate (%)",
            digits=(5, 1),
            help="Share of the released tickets whose passenger was "
            "called back."))
    iot_confirmed = _figure(fields.Integer("IoT Alarms Confirmed"))
    iot_false = _figure(fields.Integer("IoT False Alarms"))
    iot_precision = _figure(fields.Float("IoT Alarm Precision (%)",
            digits=(5, 1),
            help="Of the tickets opened by IoT entrapment alarms and "
            "judged by the dispatch centre, the share confirmed (people "
            "released) rather than cancelled as a false alarm."))

    @classmethod
    def _duration_query(cls):
        "(from, where, key, {step: (start, end)})"
        raise NotImplementedError

    @classmethod
    def _pickup_query(cls):
        "(dispatch table, from, where, key)"
        raise NotImplementedError

    @classmethod
    def _callback_query(cls):
        "(ticket table, where, key)"
        raise NotImplementedError

    @classmethod
    def _iot_query(cls):
        "(ticket table, where, key)"
        return cls._callback_query()

    @classmethod
    def get_figures(cls, records, names):
        ids = [r.id for r in records]
        names = set(names)
        result = {n: {i: None for i in ids} for n in names}
        if not ids:
            return result

        def only(where, key):
            return where & SQL_OPERATORS['in'](key, ids)

        if names & {f'{k}_{s}' for k in ['avg', 'p90'] for s in STEPS}:
            from_, where, key, steps = cls._duration_query()
            figures = duration_figures(from_, only(where, key), key, steps)
            for id_, by_step in figures.items():
                for step, (avg, p90) in by_step.items():
                    for kind, value in [('avg', avg), ('p90', p90)]:
                        name = f'{kind}_{step}'
                        if name in names and id_ in result[name]:
                            result[name][id_] = _timedelta(value)
        if names & {f'pickup_rate_{level}' for level in LEVELS}:
            dispatch, from_, where, key = cls._pickup_query()
            figures = pickup_figures(dispatch, from_, only(where, key), key)
            for id_, by_level in figures.items():
                for level, (hits, total) in by_level.items():
                    name = f'pickup_rate_{level}'
                    if name in names and id_ in result[name]:
                        result[name][id_] = _share(hits, total)
        groups = []
        if names & {'released', 'called_back', 'callback_rate'}:
            groups.append((cls._callback_query(),
                    ['released', 'called_back', 'callback_rate']))
        if names & {'iot_confirmed', 'iot_false', 'iot_precision'}:
            groups.append((cls._iot_query(),
                    ['iot_confirmed', 'iot_false', 'iot_precision']))
        for (ticket, where, key), group in groups:
            figures = ticket_figures(ticket, only(where, key), key)
            for id_ in ids:
                counts = figures.get(id_, {})
                values = {
                    'released': counts.get('released', 0),
                    'called_back': counts.get('called_back', 0),
                    'callback_rate': _share(counts.get('called_back', 0),
                        counts.get('released', 0)),
                    'iot_confirmed': counts.get('iot_confirmed', 0),
                    'iot_false': counts.get('iot_false', 0),
                    'iot_precision': _share(
                        counts.get('iot_confirmed', 0),
                        counts.get('iot_confirmed', 0)
                        + counts.get('iot_false', 0)),
                    }
                for name in group:
                    if name in names:
                        result[name][id_] = values[name]
        return result


class TicketMetricsMixin(RescueFiguresMixin, AnalysisMixin):
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
    def _duration_query(cls):
        ticket = cls._ticket_table()
        return (ticket,
            cls._ticket_where(ticket) & (ticket.state != 'cancelled'),
            cls._group_column(ticket), {
                'call_dispatch': (ticket.reported_at, ticket.dispatched_at),
                'dispatch_accept': (ticket.dispatched_at, ticket.accepted_at),
                'dispatch_arrival': (ticket.dispatched_at, ticket.arrived_at),
                'arrival_release': (ticket.arrived_at, ticket.released_at),
                })

    @classmethod
    def _pickup_query(cls):
        Dispatch = Pool().get('elevator.rescue.dispatch')
        ticket = cls._ticket_table()
        dispatch = Dispatch.__table__()
        return (dispatch,
            dispatch.join(ticket, condition=dispatch.ticket == ticket.id),
            cls._ticket_where(ticket), cls._group_column(ticket))

    @classmethod
    def _callback_query(cls):
        ticket = cls._ticket_table()
        return ticket, cls._ticket_where(ticket), cls._group_column(ticket)

    @classmethod
    def get_metrics(cls, records, names):
        """The response (dispatch to acceptance), arrival (report to
        arrival) and release times and the shares within the deadlines:
        through duration_figures() and one grouped count."""
        ids = [r.id for r in records]
        ticket, where, key, steps = cls._duration_query()
        where &= SQL_OPERATORS['in'](key, ids)
        figures = duration_figures(ticket, where, key, {
                'response': steps['dispatch_accept'],
                'arrival': (ticket.reported_at, ticket.arrived_at),
                'release': steps['arrival_release'],
                })
        accepted = ticket.accepted_at != Null
        arrived = ticket.arrived_at != Null
        sub = ticket.select(key.as_('key'),
            Case((accepted, 1), else_=0).as_('accepted'),
            Case((accepted & (ticket.accept_in_time == Literal(True)), 1),
                else_=0).as_('accepted_in_time'),
            Case((arrived, 1), else_=0).as_('arrived'),
            Case((arrived & (ticket.arrive_in_time == Literal(True)), 1),
                else_=0).as_('arrived_in_time'),
            where=where)
        cursor = Transaction().connection.cursor()
        cursor.execute(*sub.select(sub.key, Sum(sub.accepted),
                Sum(sub.accepted_in_time), Sum(sub.arrived),
                Sum(sub.arrived_in_time),
                where=sub.key != Null, group_by=[sub.key]))
        counts = {int(k): [int(v or 0) for v in values]
            for k, *values in cursor}
        result = {n: {} for n in names}
        for id_ in ids:
            by_step = figures.get(id_, {})
            response = by_step.get('response', (None, None))
            arrival = by_step.get('arrival', (None, None))
            release = by_step.get('release', (None, None))
            n_accepted, in_time, n_arrived, arrived_in_time = counts.get(
                id_, [0, 0, 0, 0])
            values = {
                'avg_response': _timedelta(response[0]),
                'p90_response': _timedelta(response[1]),
                'avg_arrival': _timedelta(arrival[0]),
                'p90_arrival': _timedelta(arrival[1]),
                'avg_release': _timedelta(release[0]),
                'p90_release': _timedelta(release[1]),
                'avg_arrival_minutes': _minutes(arrival[0]),
                'p90_arrival_minutes': _minutes(arrival[1]),
                'accept_rate': _share(in_time, n_accepted),
                'arrive_rate': _share(arrived_in_time, n_arrived),
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


class AnalysisUnit(RescueFiguresMixin, AnalysisMixin, ModelSQL, ModelView):
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
    def _tables(cls):
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        Ticket = pool.get('elevator.rescue.ticket')
        dispatch = Dispatch.__table__()
        ticket = Ticket.__table__()
        return dispatch, ticket, dispatch.join(ticket,
            condition=dispatch.ticket == ticket.id)

    @classmethod
    def _duration_query(cls):
        """The steps of each unit's own dispatches; arrival to release for
        the unit that arrived only."""
        dispatch, ticket, from_ = cls._tables()
        released = Case((ticket.arrived_unit == dispatch.unit,
                ticket.released_at), else_=Null)
        return (from_,
            cls._where(dispatch, ticket) & (ticket.state != 'cancelled'),
            dispatch.unit, {
                'call_dispatch': (ticket.reported_at, dispatch.dispatched_at),
                'dispatch_accept': (
                    dispatch.dispatched_at, dispatch.accepted_at),
                'dispatch_arrival': (
                    dispatch.dispatched_at, dispatch.arrived_at),
                'arrival_release': (dispatch.arrived_at, released),
                })

    @classmethod
    def _pickup_query(cls):
        dispatch, ticket, from_ = cls._tables()
        return dispatch, from_, cls._where(dispatch, ticket), dispatch.unit

    @classmethod
    def _ticket_query(cls, column):
        "The tickets of the period grouped by a unit column of the ticket."
        Ticket = Pool().get('elevator.rescue.ticket')
        ticket = Ticket.__table__()
        context = Transaction().context
        key = getattr(ticket, column)
        where = cls._ticket_where(ticket)
        if context.get('unit'):
            where &= key == context['unit']
        _, units = cls._scope()
        if units is not None:
            where &= SQL_OPERATORS['in'](key, units)
        return ticket, where, key

    @classmethod
    def _callback_query(cls):
        "The call backs of the rescues the unit carried out (on site)."
        return cls._ticket_query('arrived_unit')

    @classmethod
    def _iot_query(cls):
        "The IoT alarms of the elevators the unit maintains (contracted)."
        return cls._ticket_query('maintenance_unit')

    @classmethod
    def get_metrics(cls, records, names):
        """The response (dispatch to acceptance) and travel (dispatch to
        arrival) times of the unit's dispatches, through
        duration_figures(); the shares of its dispatches accepted and of
        its acceptances arrived within their deadlines, in one grouped
        count."""
        ids = [r.id for r in records]
        from_, where, key, steps = cls._duration_query()
        figures = duration_figures(from_,
            where & SQL_OPERATORS['in'](key, ids), key, {
                'response': steps['dispatch_accept'],
                'travel': steps['dispatch_arrival'],
                })
        dispatch, ticket, from_ = cls._tables()
        accepted = dispatch.accepted_at != Null
        sub = from_.select(dispatch.unit.as_('key'),
            Case((accepted
                    & (dispatch.accepted_at <= dispatch.accept_deadline), 1),
                else_=0).as_('accepted_in_time'),
            Case((accepted, 1), else_=0).as_('accepted'),
            Case(((dispatch.arrived_at != Null)
                    & (dispatch.arrived_at <= dispatch.arrive_deadline), 1),
                else_=0).as_('arrived_in_time'),
            where=cls._where(dispatch, ticket)
            & SQL_OPERATORS['in'](dispatch.unit, ids))
        cursor = Transaction().connection.cursor()
        cursor.execute(*sub.select(sub.key, Count(sub.key),
                Sum(sub.accepted_in_time), Sum(sub.accepted),
                Sum(sub.arrived_in_time),
                group_by=[sub.key]))
        counts = {int(k): [int(v or 0) for v in values]
            for k, *values in cursor}
        result = {n: {} for n in names}
        for id_ in ids:
            by_step = figures.get(id_, {})
            response = by_step.get('response', (None, None))
            travel = by_step.get('travel', (None, None))
            total, accepted_in_time, n_accepted, arrived_in_time = (
                counts.get(id_, [0, 0, 0, 0]))
            values = {
                'avg_response': _timedelta(response[0]),
                'p90_response': _timedelta(response[1]),
                'avg_travel': _timedelta(travel[0]),
                'p90_travel': _timedelta(travel[1]),
                'avg_travel_minutes': _minutes(travel[0]),
                'accept_rate': _share(accepted_in_time, total),
                'arrive_rate': _share(arrived_in_time, n_accepted),
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

