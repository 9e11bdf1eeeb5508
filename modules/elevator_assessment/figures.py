"""Live figures per district for the dashboards and the monthly safety
brief: elevators, coverage, faults, entrapments, rescues, warnings and
complaints, each from its module when it is activated (None otherwise),
by set-based SQL."""
import datetime as dt
from collections import defaultdict

from sql import Literal, Null, Select, Union
from sql.aggregate import Count, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import CurrentTimestamp

from trytond.pool import Pool
from trytond.transaction import Transaction

from .common import add_months, model, utc_start
from .engine import (
    DISTRICT_LEVELS, DONE_VISIT_STATES, OPEN_FEEDBACK_STATES, TRUE,
    _count_if, _in)

WARNING_TYPES = ['too_short', 'overdue', 'too_far', 'unconfirmed']


def audit_columns(cls):
    "The columns every table query needs besides its own."
    return [
        Literal(0).as_('create_uid'),
        CurrentTimestamp().as_('create_date'),
        cls.write_uid.sql_cast(Literal(None)).as_('write_uid'),
        cls.write_date.sql_cast(Literal(None)).as_('write_date'),
        ]


def _district_table():
    Region = Pool().get('elevator.region')
    r = Region.__table__()
    return r, r.level.in_(DISTRICT_LEVELS) & (
        Coalesce(r.active, TRUE) == TRUE)


def live_query(cls, now=None):
    """The live figures of every district: one row per district (id: the
    district's) for elevator.assessment.live."""
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    r, where = _district_table()
    e = Elevator.__table__()
    registry = e.select(e.district.as_('district'),
        Count(e.id).as_('elevators'),
        _count_if(e.place_category.in_(
                ['public_gathering', 'residential'])).as_('video_required'),
        _count_if(e.place_category.in_(['public_gathering', 'residential'])
            & (e.has_video == TRUE)).as_('with_video'),
        _count_if(e.inspection_status == 'overdue').as_(
            'inspection_overdue'),
        where=(e.state == 'in_use') & (e.district != Null),
        group_by=[e.district])
    query = r.join(registry, 'LEFT', condition=registry.district == r.id)
    columns = {
        'elevators': Coalesce(registry.elevators, 0),
        'video_required': Coalesce(registry.video_required, 0),
        'with_video': Coalesce(registry.with_video, 0),
        'inspection_overdue': Coalesce(registry.inspection_overdue, 0),
        }

    def share(numerator, denominator):
        return cls.coverage.sql_cast(Case(
                (denominator > 0, numerator * 100.0 / denominator),
                else_=Null))
    columns['video_coverage'] = share(columns['with_video'],
        columns['video_required'])

    def add(subquery, names):
        nonlocal query
        query = query.join(subquery, 'LEFT',
            condition=subquery.district == r.id)
        for name in names:
            columns[name] = Coalesce(getattr(subquery, name), 0)

    Device = model('elevator.iot.device')
    if Device is not None:
        Event = pool.get('elevator.iot.event')
        FaultType = pool.get('elevator.iot.fault.type')
        e2 = Elevator.__table__()
        add(e2.select(e2.district.as_('district'),
                Count(e2.id).as_('monitored'),
                where=(e2.state == 'in_use') & (e2.district != Null)
                & e2.id.in_(Elevator.monitored_query(now)),
                group_by=[e2.district]), ['monitored'])
        columns['coverage'] = share(columns['monitored'],
            columns['elevators'])
        ev = Event.__table__()
        ft = FaultType.__table__()
        e3 = Elevator.__table__()
        since = now - dt.timedelta(days=30)
        add(ev.join(ft, condition=ev.fault_type == ft.id
                ).join(e3, condition=ev.elevator == e3.id
                ).select(e3.district.as_('district'),
                _count_if(ev.occurred_at >= since).as_('faults_30d'),
                _count_if((ev.state == 'open')
                    & (ft.reaction == 'critical')).as_('critical_open'),
                where=((ev.occurred_at >= since) | (ev.state == 'open'))
                & (e3.district != Null),
                group_by=[e3.district]), ['faults_30d', 'critical_open'])
    Ticket = model('elevator.rescue.ticket')
    if Ticket is not None:
        t = Ticket.__table__()
        add(t.select(t.district.as_('district'),
                Count(t.id).as_('open_rescues'),
                where=t.state.in_(Ticket._active_states)
                & (t.district != Null),
                group_by=[t.district]), ['open_rescues'])
    Warning_ = model('elevator.maintenance.warning')
    if Warning_ is not None:
        w = Warning_.__table__()
        add(w.select(w.district.as_('district'),
                Count(w.id).as_('open_warnings'),
                where=(w.state == 'open') & (w.district != Null),
                group_by=[w.district]), ['open_warnings'])
    Feedback = model('elevator.public.feedback')
    if Feedback is not None:
        f = Feedback.__table__()
        add(f.select(f.district.as_('district'),
                Count(f.id).as_('open_complaints'),
                where=(f.type == 'complaint')
                & f.state.in_(OPEN_FEEDBACK_STATES) & (f.district != Null),
                group_by=[f.district]), ['open_complaints'])

    selected = [r.id.as_('id'), *audit_columns(cls), r.id.as_('district')]
    for name in ['elevators', 'monitored', 'coverage', 'video_required',
            'with_video', 'video_coverage', 'inspection_overdue',
            'open_rescues', 'open_warnings', 'open_complaints',
            'faults_30d', 'critical_open']:
        field = cls._fields[name]
        expression = columns.get(name)
        if expression is None:
            expression = Literal(None)
        selected.append(field.sql_cast(expression).as_(name))
    return query.select(*selected, where=where)


def months_back(today, count):
    "The first days of the `count` months ending with today's month."
    first = today.replace(day=1)
    return [add_months(first, i - count + 1) for i in range(count)]


def _bucket(column, months):
    "CASE of the index of the month a UTC time stamp falls in."
    bounds = [utc_start(m) for m in months] + [
        utc_start(add_months(months[-1], 1))]
    return Case(*[((column >= bounds[i]) & (column < bounds[i + 1]),
                Literal(i)) for i in range(len(months))], else_=Null)


TREND_MEASURES = ['faults', 'entrapments', 'rescues_in_time', 'warnings',
    'complaints', 'visits']


def trend_query(cls, today, count=12):
    """Monthly figures of every district over the `count` last months:
    one row per district and month (id: district * 100 + month index)."""
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    months = months_back(today, count)
    start, end = utc_start(months[0]), utc_start(add_months(months[-1], 1))
    parts = []

    def part(table, column, district, measures, where):
        """Monthly sums of the per-record measures of table. The month is
        computed in a subquery: a parameterised expression cannot be
        grouped by on PostgreSQL."""
        records = table.select(district.as_('district'),
            _bucket(column, months).as_('idx'),
            *[(measures.get(n) or Literal(0)).as_(n)
                for n in TREND_MEASURES],
            where=where & (column >= start) & (column < end)
            & (district != Null))
        parts.append(records.select(records.district, records.idx,
                *[Sum(getattr(records, n)).as_(n) for n in TREND_MEASURES],
                group_by=[records.district, records.idx]))

    Event = model('elevator.iot.event')
    if Event is not None:
        FaultType = pool.get('elevator.iot.fault.type')
        ev = Event.__table__()
        ft = FaultType.__table__()
        e = Elevator.__table__()
        part(ev.join(ft, condition=ev.fault_type == ft.id).join(
                e, condition=ev.elevator == e.id), ev.occurred_at,
            e.district, {'faults': Literal(1)}, ft.reaction != 'none')
    Ticket = model('elevator.rescue.ticket')
    if Ticket is not None:
        t = Ticket.__table__()
        part(t, t.reported_at, t.district, {
                'entrapments': Literal(1),
                'rescues_in_time': Case(
                    (t.arrive_in_time == TRUE, Literal(1)),
                    else_=Literal(0)),
                }, t.state != 'cancelled')
    Warning_ = model('elevator.maintenance.warning')
    if Warning_ is not None:
        w = Warning_.__table__()
        part(w, w.raised_at, w.district, {'warnings': Literal(1)},
            Literal(True))
        Order = pool.get('elevator.maintenance.order')
        o = Order.__table__()
        part(o, o.check_out, o.district, {'visits': Literal(1)},
            o.state.in_(DONE_VISIT_STATES))
    Feedback = model('elevator.public.feedback')
    if Feedback is not None:
        f = Feedback.__table__()
        part(f, f.submitted_at, f.district, {'complaints': Literal(1)},
            f.type == 'complaint')

    r, where = _district_table()
    index = Union(*[Select([Literal(i).as_('idx')])
            for i in range(count)], all_=True)
    grid = r.join(index, condition=Literal(True))
    selected = [(r.id * 100 + index.idx).as_('id'), *audit_columns(cls),
        r.id.as_('district'), index.idx.as_('month_index'),
        Case(*[(index.idx == i, m.strftime('%Y-%m'))
                for i, m in enumerate(months)]).as_('month')]
    if parts:
        data = parts[0] if len(parts) == 1 else Union(*parts, all_=True)
        totals = data.select(data.district, data.idx,
            *[Sum(getattr(data, n)).as_(n) for n in TREND_MEASURES],
            group_by=[data.district, data.idx])
        grid = grid.join(totals, 'LEFT',
            condition=(totals.district == r.id) & (totals.idx == index.idx))
        selected += [cls._fields[n].sql_cast(
                Coalesce(getattr(totals, n), 0)).as_(n)
            for n in TREND_MEASURES]
    else:
        selected += [cls._fields[n].sql_cast(Literal(0)).as_(n)
            for n in TREND_MEASURES]
    return grid.select(*selected, where=where)


# -- monthly safety brief --------------------------------------------------

BRIEF_KEYS = [
    # (key, module of the figure)
    ('elevators', 'elevator'),
    ('elevators_new', 'elevator'),
    ('inspection_overdue', 'elevator'),
    ('monitored', 'elevator_iot'),
    ('faults', 'elevator_iot'),
    ('faults_rescue', 'elevator_iot'),
    ('faults_critical', 'elevator_iot'),
    ('faults_repair', 'elevator_iot'),
    ('entrapments', 'elevator_rescue'),
    ('trapped_persons', 'elevator_rescue'),
    ('false_alarms', 'elevator_rescue'),
    ('escalated', 'elevator_rescue'),
    ('rescues_arrived', 'elevator_rescue'),
    ('arrived_in_time', 'elevator_rescue'),
    ('accepted_in_time', 'elevator_rescue'),
    ('average_arrival', 'elevator_rescue'),
    ('visits_done', 'elevator_maintenance'),
    ('warnings', 'elevator_maintenance'),
    *((f'warnings_{t}', 'elevator_maintenance') for t in WARNING_TYPES),
    ('complaints', 'elevator_public'),
    ('complaints_on_time', 'elevator_public'),
    ('complaints_open', 'elevator_public'),
    ]


def brief(district_ids, start_date, end_date):
    """{district id: {figure: value}} of the districts for the period
    (local dates, end included); figures of modules not activated are
    None. 'average_arrival' is in minutes."""
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    cursor = Transaction().connection.cursor()
    start = utc_start(start_date)
    end = utc_start(end_date + dt.timedelta(days=1))
    figures = {d: {k: None for k, _ in BRIEF_KEYS} for d in district_ids}

    def fetch(query, names):
        for d in district_ids:
            for name in names:
                figures[d][name] = 0
        cursor.execute(*query)
        for district, *values in cursor:
            if district in figures:
                for name, value in zip(names, values):
                    figures[district][name] = _int(value)

    e = Elevator.__table__()
    fetch(e.select(e.district,
            _count_if(e.state == 'in_use'),
            _count_if((e.create_date >= start) & (e.create_date < end)),
            _count_if((e.state == 'in_use')
                & (e.inspection_status == 'overdue')),
            where=_in(e.district, district_ids),
            group_by=[e.district]),
        ['elevators', 'elevators_new', 'inspection_overdue'])

    Device = model('elevator.iot.device')
    if Device is not None:
        Event = pool.get('elevator.iot.event')
        FaultType = pool.get('elevator.iot.fault.type')
        e = Elevator.__table__()
        fetch(e.select(e.district, Count(e.id),
                where=(e.state == 'in_use') & _in(e.district, district_ids)
                & e.id.in_(Elevator.monitored_query(end)),
                group_by=[e.district]), ['monitored'])
        ev = Event.__table__()
        ft = FaultType.__table__()
        e = Elevator.__table__()
        fetch(ev.join(ft, condition=ev.fault_type == ft.id
                ).join(e, condition=ev.elevator == e.id
                ).select(e.district,
                _count_if(ft.reaction != 'none'),
                _count_if(ft.reaction == 'rescue'),
                _count_if(ft.reaction == 'critical'),
                _count_if(ft.reaction == 'repair'),
                where=(ev.occurred_at >= start) & (ev.occurred_at < end)
                & _in(e.district, district_ids),
                group_by=[e.district]),
            ['faults', 'faults_rescue', 'faults_critical', 'faults_repair'])

    Ticket = model('elevator.rescue.ticket')
    if Ticket is not None:
        t = Ticket.__table__()
        real = t.state != 'cancelled'
        fetch(t.select(t.district,
                _count_if(real),
                Sum(Case((real, Coalesce(t.trapped_persons, 0)),
                        else_=0)),
                _count_if(t.state == 'cancelled'),
                _count_if(real & (t.level >= 2)),
                _count_if(real & (t.arrived_at != Null)),
                _count_if(real & (t.arrive_in_time == TRUE)),
                _count_if(real & (t.accept_in_time == TRUE)),
                where=(t.reported_at >= start) & (t.reported_at < end)
                & _in(t.district, district_ids),
                group_by=[t.district]),
            ['entrapments', 'trapped_persons', 'false_alarms', 'escalated',
                'rescues_arrived', 'arrived_in_time', 'accepted_in_time'])
        # Averages of durations in Python: intervals are not portable.
        cursor.execute(*t.select(t.district, t.reported_at, t.arrived_at,
                where=(t.reported_at >= start) & (t.reported_at < end)
                & (t.state != 'cancelled') & (t.arrived_at != Null)
                & _in(t.district, district_ids)))
        minutes = defaultdict(list)
        for district, reported, arrived in cursor:
            minutes[district].append(
                (_datetime(arrived) - _datetime(reported)).total_seconds()
                / 60)
        for district in district_ids:
            values = minutes.get(district)
            figures[district]['average_arrival'] = (
                round(sum(values) / len(values), 1) if values else None)

    Warning_ = model('elevator.maintenance.warning')
    if Warning_ is not None:
        Order = pool.get('elevator.maintenance.order')
        o = Order.__table__()
        fetch(o.select(o.district, Count(o.id),
                where=(o.check_out >= start) & (o.check_out < end)
                & o.state.in_(DONE_VISIT_STATES)
                & _in(o.district, district_ids),
                group_by=[o.district]), ['visits_done'])
        w = Warning_.__table__()
        fetch(w.select(w.district, Count(w.id),
                *[_count_if(w.type == t) for t in WARNING_TYPES],
                where=(w.raised_at >= start) & (w.raised_at < end)
                & _in(w.district, district_ids),
                group_by=[w.district]),
            ['warnings'] + [f'warnings_{t}' for t in WARNING_TYPES])

    Feedback = model('elevator.public.feedback')
    if Feedback is not None:
        f = Feedback.__table__()
        fetch(f.select(f.district, Count(f.id),
                _count_if((f.replied_at != Null) & ((f.deadline == Null)
                        | (f.replied_at <= f.deadline))),
                _count_if(f.state.in_(OPEN_FEEDBACK_STATES)),
                where=(f.type == 'complaint')
                & (f.submitted_at >= start) & (f.submitted_at < end)
                & _in(f.district, district_ids),
                group_by=[f.district]),
            ['complaints', 'complaints_on_time', 'complaints_open'])
    return figures


def attention(district_ids, start_date, end_date, limit=10):
    """The elevators of the districts with the most entrapments, then IoT
    faults, in the period: [(elevator id, entrapments, faults)]."""
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    cursor = Transaction().connection.cursor()
    start = utc_start(start_date)
    end = utc_start(end_date + dt.timedelta(days=1))
    counts = defaultdict(lambda: [0, 0])
    Ticket = model('elevator.rescue.ticket')
    if Ticket is not None:
        t = Ticket.__table__()
        cursor.execute(*t.select(t.elevator, Count(t.id),
                where=(t.reported_at >= start) & (t.reported_at < end)
                & (t.state != 'cancelled')
                & _in(t.district, district_ids),
                group_by=[t.elevator]))
        for elevator, count in cursor:
            counts[elevator][0] = count
    Event = model('elevator.iot.event')
    if Event is not None:
        FaultType = pool.get('elevator.iot.fault.type')
        ev = Event.__table__()
        ft = FaultType.__table__()
        e = Elevator.__table__()
        cursor.execute(*ev.join(ft, condition=ev.fault_type == ft.id
                ).join(e, condition=ev.elevator == e.id
                ).select(ev.elevator, Count(ev.id),
                where=(ev.occurred_at >= start) & (ev.occurred_at < end)
                & (ft.reaction != 'none') & _in(e.district, district_ids),
                group_by=[ev.elevator]))
        for elevator, count in cursor:
            counts[elevator][1] = count
    ranked = sorted(((e, c[0], c[1]) for e, c in counts.items()
            if c[0] or c[1] > 1), key=lambda r: (-r[1], -r[2], r[0]))
    return ranked[:limit]


def _int(value):
    if value is None:
        return 0
    return int(value) if float(value).is_integer() else float(value)


def _datetime(value):
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value
