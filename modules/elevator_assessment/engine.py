"""The indicator formulas: one set-based SQL aggregation per formula over
the period, grouped by district or by maintenance unit.

Each formula reads the tables of one module (its `source`); when that
module is not activated in the database the formula is unavailable and its
indicators are left out of the computation. A formula's query returns
rows (key, numerator[, denominator]) and its `kind` says how the value is
made of them:

- share: 100 * numerator / denominator (%), no value without denominator;
- average: numerator / denominator;
- per100: 100 * numerator / elevators of the key (in use, now);
- per_elevator: numerator / elevators of the key;
- count: the numerator (0 when there is nothing to count).

Time stamps are naive UTC in the database; periods are local (Putian)
dates, turned into UTC bounds here. Records whose deadline has not passed
yet when the computation runs (`as_of`) are not counted as late: they are
left out until they are due.
"""
import datetime as dt
from collections import namedtuple

from sql import Literal, Null, Union
from sql.aggregate import Count, Sum
from sql.conditionals import Case, Coalesce, Greatest, Least
from sql.functions import Round
from sql.operators import Concat, Like

from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.transaction import Transaction

from .common import local_date, model, utc_start

TRUE = Literal(True)
ONE, ZERO = Literal(1), Literal(0)
DISTRICT_LEVELS = ['district', 'zone']
DONE_VISIT_STATES = ['done', 'confirmed', 'disputed']
OPEN_FEEDBACK_STATES = ['received', 'assigned']
DEFAULT_CONFIRM_DAYS = 7
# Used when the maintenance module has no half-monthly rule for every
# category: the longest gap between two visits (days).
DEFAULT_MAX_INTERVAL = 15
# Contracts that kept elevators under a unit's maintenance at some time.
CONTRACT_IN_FORCE_STATES = ['active', 'expired', 'terminated']

Formula = namedtuple('Formula', [
        'code', 'scope', 'source', 'kind', 'direction', 'models', 'query',
        'string'])

SOURCES = [
    ('elevator', "Elevator Registry"),
    ('elevator_iot', "IoT Monitoring"),
    ('elevator_maintenance', "Maintenance"),
    ('elevator_rescue', "96196 Rescue"),
    ('elevator_public', "Public Supervision"),
    ('elevator_subsidy', "Subsidies"),
    ('elevator_enforcement', "Enforcement"),
    ]
KIND_UNITS = {
    'share': '%',
    'average': '',
    'per100': '/100',
    'per_elevator': '',
    'count': '',
    }


class Context:
    """The period of a computation: local dates, their UTC bounds and the
    time the computation runs; `params` collects the settings read from
    the other modules (kept with the result)."""

    def __init__(self, start_date, end_date, as_of):
        self.start_date = start_date
        self.end_date = end_date
        self.as_of = as_of
        self.start = utc_start(start_date)
        self.end = utc_start(end_date + dt.timedelta(days=1))
        # Timestamps up to this are due.
        self.due_end = min(self.end, as_of)
        # Planned dates up to this are due (today's visits may still be
        # made today).
        self.due_date = min(end_date,
            local_date(as_of) - dt.timedelta(days=1))
        self.params = {}

    @property
    def year(self):
        return self.start_date.year


def _count_if(condition):
    return Sum(Case((condition, ONE), else_=ZERO))


def _in(column, values):
    return SQL_OPERATORS['in'](column, list(values))


# -- district formulas --------------------------------------------------------

def _video_coverage(ctx):
    Elevator = Pool().get('elevator.elevator')
    e = Elevator.__table__()
    return e.select(e.district,
        _count_if(e.has_video == TRUE), Count(e.id),
        where=(e.state == 'in_use') & (e.district != Null)
        & e.place_category.in_(['public_gathering', 'residential']),
        group_by=[e.district])


def _inspection_on_time(ctx):
    Elevator = Pool().get('elevator.elevator')
    e = Elevator.__table__()
    due = min(ctx.end_date, local_date(ctx.as_of))
    return e.select(e.district,
        _count_if(e.next_inspection_date >= due), Count(e.id),
        where=(e.state == 'in_use') & (e.district != Null)
        & (e.next_inspection_date != Null),
        group_by=[e.district])


def monitored_at(moment):
    """SQL query of the ids of the elevators monitored at moment: the one
    definition of elevator_iot (a device heard within its window)."""
    Elevator = Pool().get('elevator.elevator')
    return Elevator.monitored_query(moment)


def coverage_target(year):
    "The city's yearly monitoring coverage target (%), or None."
    return Pool().get('elevator.coverage.target').target_for(year)


def _iot_coverage(ctx):
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    ctx.params['iot_coverage_target'] = coverage_target(ctx.year)
    e = Elevator.__table__()
    # Monitored at the end of the period (or now, for the current one).
    return e.select(e.district,
        _count_if(e.id.in_(monitored_at(ctx.due_end))), Count(e.id),
        where=(e.state == 'in_use') & (e.district != Null),
        group_by=[e.district])


def max_interval():
    """Days an elevator may go without a visit (the half-monthly rule of
    the maintenance module for every category, 15 by default)."""
    Rule = model('elevator.maintenance.rule')
    if Rule is not None:
        for rule in Rule.search([
                    ('category', '=', None),
                    ('maintenance_type', '=', 'half_monthly'),
                    ], limit=1):
            return rule.max_interval
    return DEFAULT_MAX_INTERVAL


def _missed(ctx, key):
    """(key, elevators) of the elevators in use that a contract kept under
    the unit's maintenance for longer than the maximum interval of the
    period (up to what is due) and that have no maintenance visit made in
    the period: maintenance that should have been made and was not, which
    no record shows. A firm that records nothing is not spared by having
    nothing to count."""
    pool = Pool()
    Contract = pool.get('elevator.maintenance.contract')
    Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
    Elevator = pool.get('elevator.elevator')
    Order = pool.get('elevator.maintenance.order')
    c = Contract.__table__()
    r = Relation.__table__()
    e = Elevator.__table__()
    o = Order.__table__()
    days = max_interval()
    ctx.params['missed_after_days'] = days
    covered_from = Greatest(c.start_date, ctx.start_date)
    covered_to = Least(Coalesce(c.termination_date, c.end_date),
        ctx.due_date)
    column = c.maintenance_unit if key == 'maintenance_unit' else e.district
    visited = o.select(o.elevator,
        where=_visits_done_where(ctx, o) & (o.elevator != Null))
    return r.join(c, condition=r.contract == c.id
        ).join(e, condition=r.elevator == e.id
        ).select(column.as_('key'), Count(e.id, distinct=True).as_('missed'),
        where=c.state.in_(CONTRACT_IN_FORCE_STATES)
        & (e.state == 'in_use') & (column != Null)
        & (covered_to >= covered_from + Literal(days))
        & ~e.id.in_(visited),
        group_by=[column])


def _with_missed(ctx, key, query, missed_is_hit):
    """query (key, hits, total) with the missed maintenance of _missed
    added: each elevator missed is one visit due and not made (a hit of
    the shares where lower is better)."""
    missed = _missed(ctx, key)
    union = Union(query, missed.select(missed.key,
            missed.missed if missed_is_hit else ZERO, missed.missed),
        all_=True)
    return union.select(union.key, Sum(union.hits), Sum(union.total),
        group_by=[union.key])


def _orders_due(ctx, key):
    Order = Pool().get('elevator.maintenance.order')
    o = Order.__table__()
    return _with_missed(ctx, key, o.select(getattr(o, key).as_('key'),
        _count_if(o.on_time == TRUE).as_('hits'), Count(o.id).as_('total'),
        where=(o.planned_date >= ctx.start_date)
        & (o.planned_date <= ctx.due_date)
        & (getattr(o, key) != Null),
        group_by=[getattr(o, key)]), False)


def min_duration_table():
    """{(category or None, type): minutes} of the maintenance module's
    supervision rules (the minimum visit durations)."""
    Rule = model('elevator.maintenance.rule')
    table = {}
    if Rule is not None:
        for rule in Rule.search([]):
            table[(rule.category, rule.maintenance_type)] = rule.min_duration
        for type_, values in Rule._fallback_rules.items():
            table.setdefault((None, type_), values[0])
    return table


def _min_duration(ctx, o):
    "CASE of the minimum duration of the visit of order table o."
    table = min_duration_table()
    ctx.params['min_duration'] = {
        f'{c or "*"}|{t}': m for (c, t), m in sorted(
            table.items(), key=lambda i: (i[0][0] or '', i[0][1]))}
    whens = [((o.category == c) & (o.type == t), Literal(m))
        for (c, t), m in sorted(table.items(), key=str) if c]
    whens += [((o.type == t), Literal(m))
        for (c, t), m in sorted(table.items(), key=str) if not c]
    return Case(*whens, else_=Literal(0))


def _visits_done_where(ctx, o):
    return ((o.check_out >= ctx.start) & (o.check_out < ctx.end)
        & o.state.in_(DONE_VISIT_STATES))


def _orders_duration(ctx, key, short=False):
    Order = Pool().get('elevator.maintenance.order')
    o = Order.__table__()
    long_enough = o.duration >= _min_duration(ctx, o)
    if short:
        hits = _count_if(~long_enough | (o.duration == Null))
    else:
        hits = _count_if(long_enough)
    return _with_missed(ctx, key, o.select(getattr(o, key).as_('key'),
        hits.as_('hits'), Count(o.id).as_('total'),
        where=_visits_done_where(ctx, o) & (getattr(o, key) != Null),
        group_by=[getattr(o, key)]), short)


def _orders_confirmed(ctx, key):
    Order = Pool().get('elevator.maintenance.order')
    o = Order.__table__()
    return _with_missed(ctx, key, o.select(getattr(o, key).as_('key'),
        _count_if(o.state == 'confirmed').as_('hits'),
        Count(o.id).as_('total'),
        where=_visits_done_where(ctx, o) & (getattr(o, key) != Null),
        group_by=[getattr(o, key)]), False)


def _orders_unconfirmed(ctx, key):
    "Visits still not confirmed after the confirmation delay."
    pool = Pool()
    Order = pool.get('elevator.maintenance.order')
    Configuration = pool.get('elevator.configuration')
    days = getattr(Configuration(1), 'maintenance_confirm_days', None)
    days = days or DEFAULT_CONFIRM_DAYS
    ctx.params['confirm_days'] = days
    late = ctx.as_of - dt.timedelta(days=days)
    o = Order.__table__()
    return _with_missed(ctx, key, o.select(getattr(o, key).as_('key'),
        _count_if(o.state.in_(['done', 'disputed'])
            & (o.check_out < late)).as_('hits'),
        Count(o.id).as_('total'),
        where=_visits_done_where(ctx, o) & (getattr(o, key) != Null),
        group_by=[getattr(o, key)]), True)


def _level1_dispatches(ctx):
    """(dispatch, ticket, where) of the level-1 dispatches of the tickets
    reported in the period, without those withdrawn before anyone had to
    accept (ticket cancelled, superseded) and those still waiting for
    their acceptance deadline."""
    pool = Pool()
    Dispatch = pool.get('elevator.rescue.dispatch')
    Ticket = pool.get('elevator.rescue.ticket')
    d = Dispatch.__table__()
    t = Ticket.__table__()
    where = ((t.reported_at >= ctx.start) & (t.reported_at < ctx.end)
        & (d.level == 1)
        & ~(d.outcome.in_(['cancelled', 'superseded'])
            & (d.accepted_at == Null))
        & ~((d.outcome == Null) & (d.accept_deadline > ctx.as_of)))
    return d, t, where


def _rescue_accept(ctx, key):
    d, t, where = _level1_dispatches(ctx)
    column = t.district if key == 'district' else d.unit
    accepted = (d.accepted_at != Null) & (d.accepted_at <= d.accept_deadline)
    return d.join(t, condition=d.ticket == t.id).select(column,
        _count_if(accepted), Count(d.id),
        where=where & (column != Null), group_by=[column])


def _rescue_arrival_district(ctx):
    Ticket = Pool().get('elevator.rescue.ticket')
    t = Ticket.__table__()
    # Tickets still on their way are not due yet.
    done = (t.arrived_at != Null) | ~t.state.in_(Ticket._active_states)
    return t.select(t.district,
        _count_if(t.arrive_in_time == TRUE), Count(t.id),
        where=(t.reported_at >= ctx.start) & (t.reported_at < ctx.end)
        & (t.state != 'cancelled') & done & (t.district != Null),
        group_by=[t.district])


def _rescue_arrival_unit(ctx):
    pool = Pool()
    Dispatch = pool.get('elevator.rescue.dispatch')
    Ticket = pool.get('elevator.rescue.ticket')
    d = Dispatch.__table__()
    t = Ticket.__table__()
    where = ((t.reported_at >= ctx.start) & (t.reported_at < ctx.end)
        & (d.accepted_at != Null) & (d.outcome != 'cancelled')
        & ~((d.arrived_at == Null) & (d.arrive_deadline > ctx.as_of)))
    arrived = (d.arrived_at != Null) & (d.arrived_at <= d.arrive_deadline)
    return d.join(t, condition=d.ticket == t.id).select(d.unit,
        _count_if(arrived), Count(d.id),
        where=where & (d.unit != Null), group_by=[d.unit])


def _missed_level1(ctx):
    pool = Pool()
    Dispatch = pool.get('elevator.rescue.dispatch')
    Ticket = pool.get('elevator.rescue.ticket')
    d = Dispatch.__table__()
    t = Ticket.__table__()
    return d.join(t, condition=d.ticket == t.id).select(d.unit,
        Count(d.id),
        where=(t.reported_at >= ctx.start) & (t.reported_at < ctx.end)
        & (d.level == 1) & (d.missed != Null) & (d.unit != Null),
        group_by=[d.unit])


def _maintenance_entrapments(ctx):
    Ticket = Pool().get('elevator.rescue.ticket')
    t = Ticket.__table__()
    return t.select(t.maintenance_unit, Count(t.id),
        where=(t.reported_at >= ctx.start) & (t.reported_at < ctx.end)
        & (t.state != 'cancelled') & (t.cause == 'maintenance')
        & (t.maintenance_unit != Null),
        group_by=[t.maintenance_unit])


def _complaints_on_time(ctx):
    Feedback = Pool().get('elevator.public.feedback')
    f = Feedback.__table__()
    due = (f.replied_at != Null) | (f.deadline < ctx.as_of)
    on_time = (f.replied_at != Null) & (
        (f.deadline == Null) | (f.replied_at <= f.deadline))
    return f.select(f.district, _count_if(on_time), Count(f.id),
        where=(f.type == 'complaint')
        & (f.submitted_at >= ctx.start) & (f.submitted_at < ctx.end)
        & due & (f.district != Null),
        group_by=[f.district])


def _complaints_unit(ctx):
    Feedback = Pool().get('elevator.public.feedback')
    f = Feedback.__table__()
    return f.select(f.maintenance_unit, Count(f.id),
        where=(f.type == 'complaint')
        & (f.submitted_at >= ctx.start) & (f.submitted_at < ctx.end)
        & ~Coalesce(f.resolution, '').in_(['invalid', 'duplicate'])
        & (f.maintenance_unit != Null),
        group_by=[f.maintenance_unit])


def _public_rating(ctx):
    Rating = Pool().get('elevator.public.rating')
    r = Rating.__table__()
    return r.select(r.maintenance_unit, Sum(r.score_maintenance),
        Count(r.id),
        where=(r.create_date >= ctx.start) & (r.create_date < ctx.end)
        & (r.maintenance_unit != Null),
        group_by=[r.maintenance_unit])


def _faults_unit(ctx):
    pool = Pool()
    Event = pool.get('elevator.iot.event')
    FaultType = pool.get('elevator.iot.fault.type')
    Elevator = pool.get('elevator.elevator')
    ev = Event.__table__()
    ft = FaultType.__table__()
    e = Elevator.__table__()
    return ev.join(ft, condition=ev.fault_type == ft.id
        ).join(e, condition=ev.elevator == e.id
        ).select(e.maintenance_unit, Count(ev.id),
        where=(ev.occurred_at >= ctx.start) & (ev.occurred_at < ctx.end)
        & (ft.reaction != 'none') & (e.maintenance_unit != Null),
        group_by=[e.maintenance_unit])


def _subsidy_executed(ctx):
    """Programmes of the period's year: amounts paid by the end of the
    period over their budgets, per district.

    A programme run by a district (or a region inside it) counts for that
    district. A programme of the whole city counts for each of its
    districts with the share of its budget of the district's elevators in
    use and the amounts paid for the district's applications: a city
    programme is the districts' too, and a district without a programme of
    its own is not left without the indicator."""
    pool = Pool()
    Program = pool.get('elevator.subsidy.program')
    Application = pool.get('elevator.subsidy.application')
    Region = pool.get('elevator.region')
    Elevator = pool.get('elevator.elevator')
    p = Program.__table__()
    a = Application.__table__()
    r = Region.__table__()
    dr = Region.__table__()
    paid_where = (a.state == 'paid') & (a.paid_date <= ctx.end_date)
    paid = a.select(a.program, Sum(Coalesce(a.paid_amount, 0)).as_('paid'),
        where=paid_where, group_by=[a.program])
    own = p.join(r, condition=p.region == r.id
        ).join(dr, condition=Like(r.path, Concat(dr.path, '%'))
        ).join(paid, 'LEFT', condition=paid.program == p.id
        ).select(dr.id.as_('key'), Coalesce(paid.paid, 0).as_('paid'),
        p.budget.as_('budget'),
        where=(p.year == ctx.year) & (p.state != 'draft')
        & dr.level.in_(DISTRICT_LEVELS))

    # City programmes, shared by the districts under them.
    p2 = Program.__table__()
    a2 = Application.__table__()
    r2 = Region.__table__()
    d2 = Region.__table__()
    e = Elevator.__table__()
    e2 = Elevator.__table__()
    d3 = Region.__table__()
    in_use = e.select(e.district, Count(e.id).as_('n'),
        where=(e.state == 'in_use') & (e.district != Null),
        group_by=[e.district])
    under_city = e2.join(d3, condition=e2.district == d3.id).select(
        Count(e2.id),
        where=(e2.state == 'in_use')
        & Like(d3.path, Concat(r2.path, '%')))
    paid_district = a2.select(a2.program, a2.district,
        Sum(Coalesce(a2.paid_amount, 0)).as_('paid'),
        where=(a2.state == 'paid') & (a2.paid_date <= ctx.end_date)
        & (a2.district != Null),
        group_by=[a2.program, a2.district])
    shared = p2.join(r2, condition=p2.region == r2.id
        ).join(d2, condition=Like(d2.path, Concat(r2.path, '%'))
        ).join(in_use, condition=in_use.district == d2.id
        ).join(paid_district, 'LEFT',
            condition=(paid_district.program == p2.id)
            & (paid_district.district == d2.id)
        ).select(d2.id.as_('key'), Coalesce(paid_district.paid, 0),
        p2.budget * in_use.n / under_city,
        where=(p2.year == ctx.year) & (p2.state != 'draft')
        & ~r2.level.in_(DISTRICT_LEVELS)
        & d2.level.in_(DISTRICT_LEVELS))
    union = Union(own, shared, all_=True)
    # Amounts are kept in cents.
    return union.select(union.key, Sum(union.paid),
        Round(Sum(union.budget), 2), group_by=[union.key])


def _rectification(ctx):
    "Enforcement cases closed in the period: rectified, closed."
    Case = Pool().get('elevator.enforcement.case')
    return Case.rectification_query(ctx.start, ctx.end)


FORMULAS = {f.code: f for f in [
        Formula('district_iot_coverage', 'district', 'elevator_iot',
            'share', 'higher', ('elevator.iot.device',), _iot_coverage,
            "Monitoring coverage of elevators in use (%)"),
        Formula('district_video_coverage', 'district', 'elevator', 'share',
            'higher', (), _video_coverage,
            "Video coverage in public gathering places and residential "
            "estates (%)"),
        Formula('district_maintenance_on_time', 'district',
            'elevator_maintenance', 'share', 'higher',
            ('elevator.maintenance.order',),
            lambda ctx: _orders_due(ctx, 'district'),
            "Maintenance visits made on time (%)"),
        Formula('district_maintenance_duration', 'district',
            'elevator_maintenance', 'share', 'higher',
            ('elevator.maintenance.order',),
            lambda ctx: _orders_duration(ctx, 'district'),
            "Visits meeting the minimum duration (%)"),
        Formula('district_maintenance_confirmed', 'district',
            'elevator_maintenance', 'share', 'higher',
            ('elevator.maintenance.order',),
            lambda ctx: _orders_confirmed(ctx, 'district'),
            "Visits confirmed by the user unit (%)"),
        Formula('district_inspection_on_time', 'district', 'elevator',
            'share', 'higher', (), _inspection_on_time,
            "Elevators inspected on time (%)"),
        Formula('district_rescue_accept', 'district', 'elevator_rescue',
            'share', 'higher', ('elevator.rescue.dispatch',),
            lambda ctx: _rescue_accept(ctx, 'district'),
            "Level-1 rescues accepted within the deadline (%)"),
        Formula('district_rescue_arrival', 'district', 'elevator_rescue',
            'share', 'higher', ('elevator.rescue.ticket',),
            _rescue_arrival_district,
            "Rescuers on site within 30/60 minutes (%)"),
        Formula('district_complaint_on_time', 'district',
            'elevator_public', 'share', 'higher',
            ('elevator.public.feedback',), _complaints_on_time,
            "Complaints handled on time (%)"),
        Formula('district_subsidy_executed', 'district', 'elevator_subsidy',
            'share', 'higher', ('elevator.subsidy.program',),
            _subsidy_executed, "Subsidy budget executed (%)"),
        Formula('district_rectification', 'district', 'elevator_enforcement',
            'share', 'higher', ('elevator.enforcement.case',),
            _rectification,
            "Enforcement cases closed as rectified (%)"),
        Formula('unit_maintenance_on_time', 'unit', 'elevator_maintenance',
            'share', 'higher', ('elevator.maintenance.order',),
            lambda ctx: _orders_due(ctx, 'maintenance_unit'),
            "Maintenance visits made on time (%)"),
        Formula('unit_short_visits', 'unit', 'elevator_maintenance',
            'share', 'lower', ('elevator.maintenance.order',),
            lambda ctx: _orders_duration(ctx, 'maintenance_unit',
                short=True),
            "Visits shorter than the minimum (%)"),
        Formula('unit_unconfirmed', 'unit', 'elevator_maintenance', 'share',
            'lower', ('elevator.maintenance.order',),
            lambda ctx: _orders_unconfirmed(ctx, 'maintenance_unit'),
            "Records unconfirmed after the delay (%)"),
        Formula('unit_rescue_accept', 'unit', 'elevator_rescue', 'share',
            'higher', ('elevator.rescue.dispatch',),
            lambda ctx: _rescue_accept(ctx, 'unit'),
            "Level-1 rescues accepted within the deadline (%)"),
        Formula('unit_rescue_arrival', 'unit', 'elevator_rescue', 'share',
            'higher', ('elevator.rescue.dispatch',), _rescue_arrival_unit,
            "Accepted rescues reached within the deadline (%)"),
        Formula('unit_missed_level1', 'unit', 'elevator_rescue', 'per100',
            'lower', ('elevator.rescue.dispatch',), _missed_level1,
            "Missed level-1 dispatches per 100 elevators"),
        Formula('unit_maintenance_entrapments', 'unit', 'elevator_rescue',
            'per100', 'lower', ('elevator.rescue.ticket',),
            _maintenance_entrapments,
            "Entrapments caused by maintenance quality per 100 elevators"),
        Formula('unit_complaints', 'unit', 'elevator_public', 'per100',
            'lower', ('elevator.public.feedback',), _complaints_unit,
            "Complaints per 100 elevators"),
        Formula('unit_public_rating', 'unit', 'elevator_public', 'average',
            'higher', ('elevator.public.rating',), _public_rating,
            "Average public rating of the maintenance (1-5)"),
        Formula('unit_faults_per_elevator', 'unit', 'elevator_iot',
            'per_elevator', 'lower', ('elevator.iot.event',), _faults_unit,
            "IoT faults per elevator"),
        ]}


def available(formula):
    "Whether the formula's module is activated in this database."
    code = formula.code if isinstance(formula, Formula) else formula
    formula = FORMULAS.get(code)
    if formula is None:
        return False
    return all(model(name) is not None for name in formula.models)


def value(kind, numerator, denominator):
    "The indicator value of a formula of `kind` (see the module doc)."
    numerator = float(numerator or 0)
    if kind == 'count':
        return numerator
    if not denominator:
        return None
    denominator = float(denominator)
    if kind in {'share', 'per100'}:
        return 100 * numerator / denominator
    return numerator / denominator


def factor(kind):
    "What numerator / denominator is multiplied by to make the value."
    return 100 if kind in {'share', 'per100'} else 1


def run(codes, ctx):
    """{code: {key: (numerator, denominator)}} of the available formulas
    among codes, one query each."""
    cursor = Transaction().connection.cursor()
    result = {}
    for code in codes:
        formula = FORMULAS[code]
        if not available(formula):
            continue
        cursor.execute(*formula.query(ctx))
        rows = {}
        for row in cursor:
            key, numerator = row[0], row[1]
            denominator = row[2] if len(row) > 2 else None
            rows[key] = (_number(numerator), _number(denominator))
        result[code] = rows
    return result


def _number(value):
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def districts():
    "The districts, counties and management committees: [(id, name)]."
    Region = Pool().get('elevator.region')
    r = Region.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*r.select(r.id, r.name, r.code,
            where=r.level.in_(DISTRICT_LEVELS)
            & (Coalesce(r.active, TRUE) == TRUE),
            order_by=[r.code.asc]))
    return [(i, n) for i, n, _ in cursor]


def elevators_in_use(key):
    "{district or maintenance unit id: elevators in use}."
    Elevator = Pool().get('elevator.elevator')
    e = Elevator.__table__()
    column = getattr(e, key)
    cursor = Transaction().connection.cursor()
    cursor.execute(*e.select(column, Count(e.id),
            where=(e.state == 'in_use') & (column != Null),
            group_by=[column]))
    return dict(cursor)


def compute(scope, indicators, ctx, keys):
    """Compute the indicators of `scope` for `keys` ({key: elevators in
    use}): {key: [(indicator, numerator, denominator, value)]} with one
    entry per available indicator, in the order of indicators."""
    codes = {i.formula for i in indicators}
    results = run(sorted(codes), ctx)
    table = {k: [] for k in keys}
    for indicator in indicators:
        if indicator.formula not in results:
            continue
        formula = FORMULAS[indicator.formula]
        rows = results[indicator.formula]
        for key, elevators in keys.items():
            numerator, denominator = rows.get(key, (0, None))
            if formula.kind in {'per100', 'per_elevator'}:
                denominator = elevators
            elif formula.kind == 'count':
                denominator = None
            elif denominator is None:
                numerator = None
            table[key].append((indicator, numerator, denominator,
                    value(formula.kind, numerator, denominator)))
    return table
