"""Benchmark of the 96196 rescue dispatch (issue 4) at city scale.

On a fresh PostgreSQL database (created here, dropped at the end) with
`elevator_rescue`: the demo registry of 30,000 elevators (`elevator
demo-data`, which also builds the rescue grids), then 10,000 historical
tickets of the last year with their dispatches, alarms and escalations.

Figures, each printed beside the time of the equivalent bare SQL query
measured in the same run on the same data (the baseline):

1. rescue-code lookup to filled form: the client's `on_change` of the
   typed rescue code, as the dispatcher (access rules and masking on),
   returning the elevator, place, address, units and their phones, SLA,
   open ticket and recent entrapments; median and 95th percentile of 200
   random codes. Baseline: one SELECT joining elevator, place, parties and
   SLA by rescue code. Target: median under 50 ms.
2. escalation pass over 500 open tickets whose acceptance deadline has
   passed (the minute cron): 500 escalations to level 2 with the grid's
   nearest on-duty units dispatched and notified, after a small untimed
   pass that warms the caches as the cron worker's are. Baseline: the same
   writes as bare set-based SQL (UPDATE the tickets, time out their
   dispatches, INSERT the escalations and the level-2 dispatches). Target:
   under 1 s.
3. analysis of one year of tickets for the whole city, as the city
   regulator: the per-district, per-month and per-unit analyses with
   counts, averages, 90th percentiles and shares within SLA, read in
   full. Baseline: the three bare GROUP BY queries with PostgreSQL's
   percentile_cont. Target: under 2 s.

Prints the figures and PASS/FAIL; exit code 1 on FAIL.
"""
import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid

os.environ.setdefault('TRYTOND_DATABASE_URI',
    'postgresql://postgres@127.0.0.1:5432/')
os.environ['TRYTOND_CONFIG'] = ''

from elevator_platform import scratch_db, tryton_env  # noqa: E402

LOOKUP_TARGET = 0.050
ESCALATION_TARGET = 1.0
ANALYSIS_TARGET = 2.0
LOOKUPS = 200
OPEN_TICKETS = 500


def log(message):
    print(message, flush=True)


def load(database, elevators, tickets, seed):
    "The demo registry, then historical tickets up to `tickets`."
    from elevator_platform import demo_elevator_rescue
    from elevator_platform.demo_data import load_demo
    from trytond.transaction import Transaction
    with tryton_env.transaction(database) as pool:
        start = time.perf_counter()
        load_demo(pool, elevators, seed)
        log(f"  demo-data: {elevators} elevators in "
            f"{time.perf_counter() - start:.0f} s")
        Ticket = pool.get('elevator.rescue.ticket')
        Grid = pool.get('elevator.rescue.grid')
        Elevator = pool.get('elevator.elevator')
        existing = Ticket.search([], count=True)
        grids = {}
        for grid in Grid.search([]):
            for region in grid.regions:
                grids[region.id] = (grid.fire_station.id,
                    sorted({d.unit.id for d in grid.duties}))
        # Ids by SQL: instantiating tens of thousands of records at once
        # costs the square of their number in trytond's assertions.
        elevator = Elevator.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*elevator.select(elevator.id,
                where=elevator.state == 'in_use',
                order_by=[elevator.id.asc]))
        lifts = [i for i, in cursor]
        start = time.perf_counter()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None,
            microsecond=0)

        def progress(done):
            Transaction().commit()
        created = demo_elevator_rescue.history(pool, random.Random(seed),
            lifts, max(0, tickets - existing), now, grids,
            progress=progress)
        log(f"  history: {created} more tickets in "
            f"{time.perf_counter() - start:.0f} s "
            f"({existing + created} in all)")
        # Fresh statistics after the bulk load, as autovacuum gives a
        # database in service.
        Transaction().connection.cursor().execute('ANALYZE')


def dispatcher_context(pool):
    User = pool.get('res.user')
    dispatcher, = User.search([('login', '=', 'dispatcher')])
    return dispatcher.id


def bench_lookup(database, seed):
    from trytond.transaction import Transaction, check_access
    with tryton_env.transaction(database, readonly=True) as pool:
        cursor = Transaction().connection.cursor()
        cursor.execute('SELECT rescue_code FROM elevator_elevator '
            'WHERE rescue_code IS NOT NULL ORDER BY id')
        codes = [c for c, in cursor]
        sample = random.Random(seed).sample(codes, LOOKUPS)
        user = dispatcher_context(pool)
    orm, bare = [], []
    with tryton_env.transaction(database, user=user,
            readonly=True) as pool, check_access():
        Ticket = pool.get('elevator.rescue.ticket')
        for code in sample[:10]:  # warm the caches
            Ticket(lookup=code).on_change(['lookup'])._changed_values()
        for code in sample:
            start = time.perf_counter()
            record = Ticket(lookup=code)
            record.on_change(['lookup'])
            values = record._changed_values()
            orm.append(time.perf_counter() - start)
            assert values.get('elevator'), code
        cursor = Transaction().connection.cursor()
        for code in sample:
            start = time.perf_counter()
            cursor.execute(LOOKUP_SQL, (code,))
            cursor.fetchall()
            bare.append(time.perf_counter() - start)
    return orm, bare


LOOKUP_SQL = '''
SELECT e.id, e.registration_code, e.building, e.district, e.region,
    p.name, p.address, uu.name, uu.public_phone, mu.name, mu.public_phone,
    (SELECT s.arrive_minutes FROM elevator_rescue_sla s
        JOIN elevator_region r ON r.id = s.region
        JOIN elevator_region er ON er.id = e.region
        WHERE er.path LIKE r.path || '%%'
        ORDER BY length(r.path) DESC LIMIT 1),
    (SELECT t.id FROM elevator_rescue_ticket t WHERE t.elevator = e.id
        AND t.state IN ('new', 'dispatched', 'accepted', 'arrived')
        LIMIT 1),
    (SELECT count(*) FROM elevator_rescue_ticket t WHERE t.elevator = e.id
        AND t.reported_at >= now() - interval '90 days'
        AND t.state != 'cancelled')
FROM elevator_elevator e
LEFT JOIN elevator_place p ON p.id = e.place
LEFT JOIN party_party uu ON uu.id = e.user_unit
LEFT JOIN party_party mu ON mu.id = e.maintenance_unit
WHERE e.rescue_code = %s
'''


def open_tickets(pool, count, seed):
    "count tickets dispatched at level 1 on elevators without one."
    from trytond.transaction import Transaction
    Ticket = pool.get('elevator.rescue.ticket')
    cursor = Transaction().connection.cursor()
    cursor.execute("SELECT e.id FROM elevator_elevator e "
        "WHERE e.state = 'in_use' AND e.maintenance_unit IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM elevator_rescue_ticket t "
        "WHERE t.elevator = e.id AND t.state IN "
        "('new', 'dispatched', 'accepted', 'arrived')) ORDER BY e.id")
    lifts = [i for i, in cursor]
    chosen = random.Random(seed).sample(lifts, count)
    tickets = Ticket.report_many([(e, 'phone', {}) for e in chosen])
    Ticket.dispatch(tickets)
    return tickets


def bench_escalation(database, seed):
    "(seconds of the ORM pass, seconds of the bare SQL, escalated)"
    from trytond.modules.elevator_rescue import clock
    from trytond.transaction import Transaction
    clock.reset()
    with tryton_env.transaction(database) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        # Only the benchmark's tickets are due: earlier runs' are closed.
        Transaction().connection.cursor().execute(
            "UPDATE elevator_rescue_ticket SET state = 'cancelled', "
            "deadline = NULL, cancel_reason = 'test' "
            "WHERE state IN ('new', 'dispatched', 'accepted', 'arrived')")
        Transaction().commit()
        # The cron runs in a long-lived worker: warm its caches first with
        # a small pass (not timed).
        open_tickets(pool, 20, seed + 2)
        Transaction().commit()
        clock.travel(minutes=6)
        Ticket.escalate_due()
        Transaction().connection.cursor().execute(
            "UPDATE elevator_rescue_ticket SET state = 'cancelled', "
            "deadline = NULL, cancel_reason = 'test' "
            "WHERE state IN ('new', 'dispatched', 'accepted', 'arrived')")
        Transaction().commit()
        clock.reset()
        tickets = open_tickets(pool, OPEN_TICKETS, seed)
        Transaction().commit()
        clock.travel(minutes=6)
        start = time.perf_counter()
        acted = Ticket.escalate_due()
        Transaction().commit()
        orm = time.perf_counter() - start
        escalated = Ticket.search([('id', 'in', [t.id for t in tickets]),
                ('level', '=', 2)], count=True)
    # The baseline acts on another 500 such tickets.
    clock.reset()
    with tryton_env.transaction(database) as pool:
        tickets = open_tickets(pool, OPEN_TICKETS, seed + 1)
        Transaction().commit()
        ids = [t.id for t in tickets]
        cursor = Transaction().connection.cursor()
        start = time.perf_counter()
        cursor.execute(ESCALATION_SQL, {'ids': ids,
                'now': clock.now() + dt.timedelta(minutes=6)})
        Transaction().commit()
        bare = time.perf_counter() - start
    clock.reset()
    return orm, bare, acted, escalated


ESCALATION_SQL = '''
WITH due AS (
    SELECT t.id, t.level, t.deadline, t.region FROM elevator_rescue_ticket t
    WHERE t.id = ANY(%(ids)s) AND t.state IN ('dispatched', 'accepted')
        AND t.deadline <= %(now)s
    FOR UPDATE SKIP LOCKED),
esc AS (
    INSERT INTO elevator_rescue_escalation (ticket, from_level, to_level,
        reason, deadline, escalated_at, create_uid, create_date)
    SELECT id, level, level + 1, 'accept_timeout', deadline, %(now)s, 0,
        %(now)s FROM due
    ON CONFLICT DO NOTHING RETURNING ticket),
old AS (
    UPDATE elevator_rescue_dispatch d SET outcome = 'timed_out',
        missed = 'accept', outcome_at = %(now)s
    FROM esc WHERE d.ticket = esc.ticket AND d.outcome IS NULL
    RETURNING d.id),
units AS (
    SELECT esc.ticket, du.unit, du.latitude, du.longitude,
        row_number() OVER (PARTITION BY esc.ticket ORDER BY
            (du.latitude - e.latitude) ^ 2 + (du.longitude - e.longitude) ^ 2)
            AS rank
    FROM esc JOIN elevator_rescue_ticket t ON t.id = esc.ticket
    JOIN elevator_elevator e ON e.id = t.elevator
    JOIN "elevator_rescue_grid-elevator_region" gr ON gr.region = t.district
    JOIN elevator_rescue_grid_duty du ON du.grid = gr.grid
    WHERE du.unit != t.maintenance_unit),
new AS (
    INSERT INTO elevator_rescue_dispatch (ticket, level, kind, rank, unit,
        dispatched_at, accept_deadline, arrive_deadline, create_uid,
        create_date)
    SELECT ticket, 2, 'grid', rank, unit, %(now)s,
        %(now)s + interval '5 minutes', %(now)s + interval '30 minutes',
        0, %(now)s
    FROM units WHERE rank <= 2 RETURNING id)
UPDATE elevator_rescue_ticket t SET level = 2, state = 'dispatched',
    deadline = %(now)s + interval '5 minutes', deadline_kind = 'accept',
    write_date = %(now)s, write_uid = 0
FROM esc WHERE t.id = esc.ticket
'''


def bench_analysis(database):
    from trytond.transaction import Transaction, check_access
    with tryton_env.transaction(database, readonly=True) as pool:
        User = pool.get('res.user')
        city, = User.search([('login', '=', 'city')])
    today = dt.date.today()
    context = {'from_date': today.replace(year=today.year - 1)
        + dt.timedelta(days=1), 'to_date': today}
    timings = {}
    with tryton_env.transaction(database, user=city.id, readonly=True,
            context=context) as pool, check_access():
        rows = 0
        total = 0
        for name in ['district', 'month', 'unit']:
            Model = pool.get(f'elevator.rescue.analysis.{name}')
            fields_ = [f for f in Model._fields
                if f not in {'create_uid', 'write_uid', 'create_date',
                    'write_date', 'rec_name'}]
            start = time.perf_counter()
            ids = [r.id for r in Model.search([])]
            result = Model.read(ids, fields_)
            timings[name] = time.perf_counter() - start
            total += timings[name]
            rows += len(result)
            if name == 'district':
                tickets = sum(r['tickets'] for r in result)
        cursor = Transaction().connection.cursor()
        start = time.perf_counter()
        for query in ANALYSIS_SQL:
            cursor.execute(query, {'start': context['from_date'],
                    'end': context['to_date'] + dt.timedelta(days=1)})
            cursor.fetchall()
        bare = time.perf_counter() - start
    return total, bare, timings, rows, tickets


_METRICS = '''count(*),
    sum(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END),
    avg(response_time) FILTER (WHERE state != 'cancelled'),
    percentile_cont(0.9) WITHIN GROUP (ORDER BY response_time)
        FILTER (WHERE state != 'cancelled'),
    avg(arrival_time) FILTER (WHERE state != 'cancelled'),
    percentile_cont(0.9) WITHIN GROUP (ORDER BY arrival_time)
        FILTER (WHERE state != 'cancelled'),
    avg(release_time) FILTER (WHERE state != 'cancelled'),
    percentile_cont(0.9) WITHIN GROUP (ORDER BY release_time)
        FILTER (WHERE state != 'cancelled'),
    avg(CASE WHEN accept_in_time THEN 1.0 ELSE 0.0 END)
        FILTER (WHERE accepted_at IS NOT NULL AND state != 'cancelled'),
    avg(CASE WHEN arrive_in_time THEN 1.0 ELSE 0.0 END)
        FILTER (WHERE arrived_at IS NOT NULL AND state != 'cancelled')'''
ANALYSIS_SQL = [
    f'''SELECT district, {_METRICS} FROM elevator_rescue_ticket
    WHERE reported_at >= %(start)s AND reported_at < %(end)s
    GROUP BY district''',
    f'''SELECT date_trunc('month', reported_at), {_METRICS}
    FROM elevator_rescue_ticket
    WHERE reported_at >= %(start)s AND reported_at < %(end)s
    GROUP BY 1''',
    '''SELECT d.unit, count(*),
        sum(CASE WHEN d.accepted_at IS NOT NULL THEN 1 ELSE 0 END),
        sum(CASE WHEN d.outcome = 'declined' THEN 1 ELSE 0 END),
        sum(CASE WHEN d.outcome = 'timed_out' THEN 1 ELSE 0 END),
        sum(CASE WHEN d.level = 1 AND d.missed IS NOT NULL THEN 1 ELSE 0
            END),
        avg(d.accepted_at - d.dispatched_at),
        percentile_cont(0.9) WITHIN GROUP (
            ORDER BY d.accepted_at - d.dispatched_at),
        avg(d.arrived_at - d.dispatched_at),
        percentile_cont(0.9) WITHIN GROUP (
            ORDER BY d.arrived_at - d.dispatched_at),
        avg(CASE WHEN d.accepted_at <= d.accept_deadline THEN 1.0 ELSE 0.0
            END),
        avg(CASE WHEN d.arrived_at <= d.arrive_deadline THEN 1.0 ELSE 0.0
            END) FILTER (WHERE d.accepted_at IS NOT NULL)
    FROM elevator_rescue_dispatch d
    JOIN elevator_rescue_ticket t ON t.id = d.ticket
    WHERE t.reported_at >= %(start)s AND t.reported_at < %(end)s
    GROUP BY d.unit''',
    ]


def ms(seconds):
    return f'{seconds * 1000:8.1f} ms'


def verdict(ok):
    return 'PASS' if ok else 'FAIL'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--elevators', type=int, default=30000)
    parser.add_argument('--tickets', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--keep', action='store_true',
        help="keep the database (printed) instead of dropping it")
    parser.add_argument('--database',
        help="measure on this database, loaded by an earlier --keep run, "
        "instead of a new one (kept)")
    args = parser.parse_args(argv)
    name = args.database or f'bench_rescue_{uuid.uuid4().hex[:8]}'
    log(f"bench_rescue: {args.elevators} elevators, {args.tickets} "
        f"tickets, seed {args.seed}, PostgreSQL database {name}")
    if args.database:
        args.keep = True
    else:
        scratch_db.create_database(name, modules=('elevator_rescue',))
    try:
        if not args.database:
            load(name, args.elevators, args.tickets, args.seed)
        orm, bare = bench_lookup(name, args.seed)
        an_orm, an_bare, timings, rows, tickets = bench_analysis(name)
        esc_orm, esc_bare, acted, escalated = bench_escalation(name,
            args.seed)
    finally:
        if args.keep:
            log(f"database kept: {name}")
        else:
            scratch_db.drop_database(name)

    lookup_median = statistics.median(orm)
    lookup_p95 = statistics.quantiles(orm, n=20)[-1]
    bare_median = statistics.median(bare)
    lookup_ok = lookup_median < LOOKUP_TARGET
    esc_ok = esc_orm < ESCALATION_TARGET and escalated == OPEN_TICKETS
    an_ok = an_orm < ANALYSIS_TARGET
    log('')
    log(f"lookup     rescue code -> filled form, {LOOKUPS} codes: median "
        f"{ms(lookup_median)}, p95 {ms(lookup_p95)} | bare SQL median "
        f"{ms(bare_median)} (x{lookup_median / bare_median:.0f}) | target "
        f"< {ms(LOOKUP_TARGET).strip()}: {verdict(lookup_ok)}")
    log(f"escalation {OPEN_TICKETS} open tickets past deadline: "
        f"{ms(esc_orm)} ({acted} acted on, {escalated} at level 2) | bare "
        f"SQL {ms(esc_bare)} (x{esc_orm / esc_bare:.0f}) | target < "
        f"{ESCALATION_TARGET:.0f} s: {verdict(esc_ok)}")
    log(f"analysis   one year, whole city ({tickets} tickets, {rows} rows: "
        + ', '.join(f'{k} {ms(v).strip()}' for k, v in timings.items())
        + f"): {ms(an_orm)} | bare SQL {ms(an_bare)} "
        f"(x{an_orm / an_bare:.0f}) | target < {ANALYSIS_TARGET:.0f} s: "
        f"{verdict(an_ok)}")
    return 0 if lookup_ok and esc_ok and an_ok else 1


if __name__ == '__main__':
    sys.exit(main())
