"""Benchmark of the district assessment and the credit rating (issue 8) at
city scale.

On a fresh PostgreSQL database (created here, dropped at the end) with
elevator_assessment and every module whose records it reads: the demo
registry of 30,000 elevators (`elevator demo-data`, without the other
modules' demo generators), then one year of activity up to today written
by set-based SQL in the volumes of DESIGN §8: 720,000 maintenance orders
(24 visits per elevator, 2 % missed), their warnings, 10,000 rescue
tickets with their level-1 dispatches, 24,000 monitoring devices and
150,000 IoT faults, 6,000 public submissions, 20,000 ratings, a subsidy
programme per district with 2,000 applications.

Figures, each printed beside the bare SQL aggregation of the same figures
measured in the same run on the same data (the baseline: the ten district
indicators' numerators and denominators computed by ten hand-written GROUP
BY queries, without the ORM, the scoring or the storing):

1. computing the district table of the last complete quarter (the
   `Compute` button: ten set-based queries, scores, totals, ranks, the
   rows and their indicator lines stored). Target: under 5 s.
2. rendering that table as PDF (reportlab, CJK font embedded). Target:
   under 3 s.
3. rendering it as XLSX (xlsxwriter, with formulas). Target: under 3 s.

Also printed, without a target: the credit evaluation of every
maintenance unit over the year (beside the bare SQL of its ten unit
indicators) and the live dashboard queries.

Prints the figures and PASS/FAIL; exit code 1 on FAIL.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid

os.environ.setdefault('TRYTOND_DATABASE_URI',
    'postgresql://postgres@127.0.0.1:5432/')
os.environ['TRYTOND_CONFIG'] = ''

from elevator_platform import scratch_db, tryton_env  # noqa: E402

MODULES = ('elevator_assessment', 'elevator_iot', 'elevator_maintenance',
    'elevator_rescue', 'elevator_public', 'elevator_subsidy')
COMPUTE_TARGET = 5.0
RENDER_TARGET = 3.0
RUNS = 3


def log(message):
    print(message, flush=True)


def load_registry(database, elevators, seed):
    "The demo registry only: the modules' demo generators are skipped."
    from elevator_platform import demo_data
    demo_data.MODULE_DEMOS[:] = []
    with tryton_env.transaction(database) as pool:
        start = time.perf_counter()
        demo_data.load_demo(pool, elevators, seed)
        log(f"  registry: {elevators} elevators in "
            f"{time.perf_counter() - start:.0f} s")


def load_activity(database, seed, today):
    "One year of activity up to today, by set-based SQL."
    from trytond.transaction import Transaction
    start = today - dt.timedelta(days=365)
    params = {'start': start, 'today': today,
        'seed': (seed % 1000) / 1000.0}
    with tryton_env.transaction(database) as pool:
        cursor = Transaction().connection.cursor()
        cursor.execute('SELECT setseed(%(seed)s)', params)
        for label, statement in ACTIVITY_SQL:
            begin = time.perf_counter()
            cursor.execute(statement, params)
            log(f"  {label}: {cursor.rowcount:,} rows in "
                f"{time.perf_counter() - begin:.1f} s")
    with tryton_env.transaction(database) as pool:
        cursor = Transaction().connection.cursor()
        cursor.execute('ANALYZE')


# Every row is stamped as made by the administrator (0) at its own time.
ACTIVITY_SQL = [
    ('maintenance orders', '''
INSERT INTO elevator_maintenance_order (elevator, type, planned_date, state,
    on_time, check_in, check_out, duration, maintenance_unit, user_unit,
    district, category, number, create_uid, create_date)
SELECT e.id, o.type, o.planned, o.state,
    CASE WHEN o.state = 'planned' THEN NULL ELSE o.r1 < 0.97 END,
    CASE WHEN o.state = 'planned' THEN NULL ELSE o.check_in END,
    CASE WHEN o.state = 'planned' THEN NULL
        ELSE o.check_in + o.minutes * interval '1 minute' END,
    CASE WHEN o.state = 'planned' THEN NULL ELSE o.minutes END,
    e.maintenance_unit, COALESCE(e.user_unit, e.property_company),
    e.district, e.category, 'MO' || e.id || '-' || o.k, 0, o.check_in
FROM elevator_elevator e
CROSS JOIN LATERAL (
    SELECT k, planned, r1,
        CASE WHEN k %% 6 = 5 THEN 'quarterly' ELSE 'half_monthly' END
            AS type,
        CASE WHEN planned >= %(today)s THEN 'planned'
            WHEN r2 < 0.02 THEN 'planned'
            WHEN r2 < 0.12 THEN 'done'
            WHEN r2 < 0.15 THEN 'disputed'
            ELSE 'confirmed' END AS state,
        planned + interval '1 hour' + r3 * interval '8 hours'
            + CASE WHEN r1 < 0.97 THEN interval '0 days'
                ELSE interval '2 days' END
            - interval '8 hours' AS check_in,
        round((CASE WHEN r4 < 0.95 THEN 30 + r4 * 60
                ELSE 12 + r4 * 15 END)::numeric, 1)::float AS minutes
    FROM (SELECT k, %(start)s::date + (k * 15 + e.id %% 15) AS planned,
            random() AS r1, random() AS r2, random() AS r3,
            random() AS r4
        FROM generate_series(0, 23) AS k) AS s
    ) AS o
WHERE e.state = 'in_use' AND e.maintenance_unit IS NOT NULL'''),
    ('maintenance warnings (too short)', '''
INSERT INTO elevator_maintenance_warning (type, elevator, "order",
    maintenance_unit, district, raised_at, value, "limit", state,
    create_uid, create_date)
SELECT 'too_short', o.elevator, o.id, o.maintenance_unit, o.district,
    o.check_out, o.duration,
    CASE WHEN o.type = 'quarterly' THEN 60 ELSE 30 END,
    CASE WHEN o.check_out < %(today)s - 30 THEN 'closed' ELSE 'open' END,
    0, o.check_out
FROM elevator_maintenance_order o
WHERE o.check_out IS NOT NULL
    AND o.duration < CASE WHEN o.type = 'quarterly' THEN 60 ELSE 30 END'''),
    ('rescue tickets', '''
INSERT INTO elevator_rescue_ticket (number, state, source, reported_at,
    elevator, place, region, district, user_unit, maintenance_unit, level,
    sla_accept_minutes, sla_arrive_minutes, dispatched_at, accepted_at,
    arrived_at, released_at, closed_at, cancelled_at, response_time,
    arrival_time, accept_in_time, arrive_in_time, cause, cancel_reason,
    trapped_persons, create_uid, create_date)
SELECT 'RT' || n, CASE WHEN cancelled THEN 'cancelled' ELSE 'closed' END,
    'phone', reported, e.id, e.place, e.region, e.district, e.user_unit,
    e.maintenance_unit, 1, 5, 30, reported + interval '1 minute',
    CASE WHEN cancelled THEN NULL
        ELSE reported + interval '1 minute' + accept END,
    CASE WHEN cancelled THEN NULL ELSE reported + travel END,
    CASE WHEN cancelled THEN NULL
        ELSE reported + travel + interval '4 minutes' END,
    CASE WHEN cancelled THEN NULL
        ELSE reported + travel + interval '30 minutes' END,
    CASE WHEN cancelled THEN reported + interval '6 minutes' END,
    CASE WHEN cancelled THEN NULL ELSE accept END,
    CASE WHEN cancelled THEN NULL ELSE travel END,
    CASE WHEN cancelled THEN NULL ELSE accept <= interval '5 minutes' END,
    CASE WHEN cancelled THEN NULL
        ELSE travel <= interval '31 minutes' END,
    CASE WHEN cancelled THEN NULL WHEN rc < 0.08 THEN 'maintenance'
        WHEN rc < 0.5 THEN 'door' ELSE 'human' END,
    CASE WHEN cancelled THEN 'false_alarm' END,
    1 + (rc * 3)::int, 0, reported
FROM (
    SELECT n, random() < 0.15 AS cancelled,
        %(start)s::timestamp + random() * (%(today)s::timestamp
            - %(start)s::timestamp) AS reported,
        CASE WHEN random() < 0.95 THEN random() * interval '4 minutes'
            ELSE interval '5 minutes' + random() * interval '5 minutes'
            END AS accept,
        CASE WHEN random() < 0.9
            THEN interval '8 minutes' + random() * interval '22 minutes'
            ELSE interval '32 minutes' + random() * interval '30 minutes'
            END AS travel,
        random() AS rc,
        1 + (random() * (SELECT max(id) - 1 FROM elevator_elevator))::int
            AS elevator
    FROM generate_series(1, 10000) AS n) AS t
JOIN elevator_elevator e ON e.id = t.elevator
WHERE e.maintenance_unit IS NOT NULL'''),
    ('level-1 dispatches', '''
INSERT INTO elevator_rescue_dispatch (ticket, level, kind, rank, unit,
    dispatched_at, accept_deadline, arrive_deadline, accepted_at,
    arrived_at, outcome, outcome_at, missed, create_uid, create_date)
SELECT t.id, 1, 'maintenance', 1, t.maintenance_unit, t.dispatched_at,
    t.dispatched_at + interval '5 minutes',
    t.dispatched_at + interval '30 minutes', t.accepted_at, t.arrived_at,
    CASE WHEN t.state = 'cancelled' THEN 'cancelled' ELSE 'accepted' END,
    COALESCE(t.accepted_at, t.cancelled_at),
    CASE WHEN t.accept_in_time = false THEN 'accept'
        WHEN t.arrive_in_time = false THEN 'arrive' END,
    0, t.dispatched_at
FROM elevator_rescue_ticket t'''),
    ('monitoring devices', '''
INSERT INTO elevator_iot_device (serial, type, elevator, state,
    install_date, last_seen, create_uid, create_date)
SELECT 'BENCH-' || e.id, 'controller_terminal', e.id,
    CASE WHEN random() < 0.97 THEN 'online' ELSE 'retired' END,
    %(today)s::date - (random() * 700)::int, now() - interval '1 minute',
    0, now()
FROM elevator_elevator e
WHERE e.state = 'in_use' AND e.id %% 5 != 0'''),
    ('IoT faults', '''
INSERT INTO elevator_iot_event (device, elevator, district, fault_id,
    fault_type, reaction, state, occurred_at, month, received_at,
    cleared_at, source, follow_up, create_uid, create_date)
SELECT d.id, d.elevator, e.district, 'F' || n, ft.id, ft.reaction,
    'cleared', occurred, to_char(occurred, 'YYYY-MM'), occurred,
    occurred + interval '20 minutes', 'mqtt', 'none', 0, occurred
FROM (
    SELECT n, 1 + (random() * (SELECT count(*) - 1
                FROM elevator_iot_device))::int AS device_rank,
        1 + (random() * 19)::int AS code,
        %(start)s::timestamp + random() * (%(today)s::timestamp
            - %(start)s::timestamp) AS occurred
    FROM generate_series(1, 150000) AS n) AS f
JOIN (SELECT id, elevator, row_number() OVER (ORDER BY id) AS device_rank
    FROM elevator_iot_device) AS d ON d.device_rank = f.device_rank
JOIN elevator_elevator e ON e.id = d.elevator
JOIN elevator_iot_fault_type ft ON ft.code = f.code::text'''),
    ('public submissions', '''
INSERT INTO elevator_public_feedback (number, type, elevator, region,
    district, maintenance_unit, user_unit, channel, submitted_at,
    contact_phone, text, state, deadline, replied_at, replied_late,
    resolution, create_uid, create_date)
SELECT 'FB' || n, CASE WHEN rt < 0.7 THEN 'complaint' ELSE 'message' END,
    e.id, e.region, e.district, e.maintenance_unit, e.user_unit, 'h5',
    submitted, '138' || lpad(n::text, 8, '0'), '电梯异响',
    CASE WHEN reply IS NULL THEN 'received' ELSE 'closed' END,
    submitted + interval '5 days', submitted + reply,
    reply > interval '5 days',
    CASE WHEN reply IS NULL THEN NULL WHEN rt < 0.05 THEN 'invalid'
        ELSE 'resolved' END,
    0, submitted
FROM (
    SELECT n, random() AS rt,
        %(start)s::timestamp + random() * (%(today)s::timestamp
            - %(start)s::timestamp) AS submitted,
        CASE WHEN random() < 0.95
            THEN random() * interval '7 days' END AS reply,
        1 + (random() * (SELECT max(id) - 1 FROM elevator_elevator))::int
            AS elevator
    FROM generate_series(1, 6000) AS n) AS f
JOIN elevator_elevator e ON e.id = f.elevator'''),
    ('ratings', '''
INSERT INTO elevator_public_rating (elevator, region, maintenance_unit,
    user_unit, score_maintenance, score_user_unit, channel, create_uid,
    create_date)
SELECT e.id, e.region, e.maintenance_unit, e.user_unit,
    1 + (random() * 4)::int, 1 + (random() * 4)::int, 'h5', 0,
    %(start)s::timestamp + random() * (%(today)s::timestamp
        - %(start)s::timestamp)
FROM (SELECT 1 + (random() * (SELECT max(id) - 1
                FROM elevator_elevator))::int AS elevator
    FROM generate_series(1, 20000)) AS r
JOIN elevator_elevator e ON e.id = r.elevator'''),
    ('subsidy programmes', '''
INSERT INTO elevator_subsidy_program (name, year, region, budget,
    window_start, window_end, state, create_uid, create_date)
SELECT r.name || ' bench', extract(year FROM %(today)s::date)::int, r.id,
    2000000, date_trunc('year', %(today)s::date)::date,
    (date_trunc('year', %(today)s::date) + interval '1 year - 1 day')::date,
    'open', 0, now()
FROM elevator_region r WHERE r.level IN ('district', 'zone')'''),
    ('subsidy applications', '''
INSERT INTO elevator_subsidy_application (number, program, applicant,
    state, approved_amount, paid_amount, paid_date, payment_reference,
    create_uid, create_date)
SELECT 'SA-BENCH-' || n, p.id,
    (SELECT id FROM party_party WHERE is_user_unit ORDER BY id LIMIT 1),
    CASE WHEN paid THEN 'paid' ELSE 'approved' END, 3000,
    CASE WHEN paid THEN 3000 END,
    CASE WHEN paid THEN date_trunc('year', %(today)s::date)::date
        + (random() * (%(today)s::date
            - date_trunc('year', %(today)s::date)::date))::int END,
    CASE WHEN paid THEN 'PAY-' || n END, 0, now()
FROM (SELECT n, random() < 0.5 AS paid,
        1 + (random() * 7)::int AS program_rank
    FROM generate_series(1, 2000) AS n) AS a
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS program_rank
    FROM elevator_subsidy_program WHERE name LIKE '%% bench') AS p
    ON p.program_rank = a.program_rank'''),
    ]


# The ten district figures of the quarter, hand-written: the baseline.
BASELINE_SQL = [
    # D01 monitoring coverage
    '''SELECT e.district, count(d.elevator), count(*)
    FROM elevator_elevator e LEFT JOIN (
        SELECT elevator FROM elevator_iot_device
        WHERE state != 'retired' AND (install_date <= %(end_date)s
            OR (install_date IS NULL AND create_date < %(end)s))
        GROUP BY elevator) d ON d.elevator = e.id
    WHERE e.state = 'in_use' AND e.district IS NOT NULL
    GROUP BY e.district''',
    # D02 video coverage
    '''SELECT district, count(*) FILTER (WHERE has_video), count(*)
    FROM elevator_elevator WHERE state = 'in_use' AND district IS NOT NULL
        AND place_category IN ('public_gathering', 'residential')
    GROUP BY district''',
    # D03 maintenance on time
    '''SELECT district, count(*) FILTER (WHERE on_time), count(*)
    FROM elevator_maintenance_order
    WHERE planned_date >= %(start_date)s AND planned_date <= %(due_date)s
        AND district IS NOT NULL GROUP BY district''',
    # D04, D05 duration and confirmation
    '''SELECT district,
        count(*) FILTER (WHERE duration >= CASE WHEN type = 'quarterly'
            THEN 60 WHEN type = 'half_yearly' THEN 90 WHEN type = 'yearly'
            THEN 120 WHEN category = '3400' THEN 20 ELSE 30 END),
        count(*) FILTER (WHERE state = 'confirmed'), count(*)
    FROM elevator_maintenance_order
    WHERE check_out >= %(start)s AND check_out < %(end)s
        AND state IN ('done', 'confirmed', 'disputed')
        AND district IS NOT NULL GROUP BY district''',
    # D06 inspection on time
    '''SELECT district, count(*) FILTER (WHERE next_inspection_date
            >= %(end_date)s), count(*)
    FROM elevator_elevator WHERE state = 'in_use' AND district IS NOT NULL
        AND next_inspection_date IS NOT NULL GROUP BY district''',
    # D07 level-1 acceptance
    '''SELECT t.district, count(*) FILTER (
            WHERE d.accepted_at <= d.accept_deadline), count(*)
    FROM elevator_rescue_dispatch d
    JOIN elevator_rescue_ticket t ON t.id = d.ticket
    WHERE t.reported_at >= %(start)s AND t.reported_at < %(end)s
        AND d.level = 1 AND NOT (d.outcome IN ('cancelled', 'superseded')
            AND d.accepted_at IS NULL)
    GROUP BY t.district''',
    # D08 arrival
    '''SELECT district, count(*) FILTER (WHERE arrive_in_time), count(*)
    FROM elevator_rescue_ticket
    WHERE reported_at >= %(start)s AND reported_at < %(end)s
        AND state != 'cancelled' GROUP BY district''',
    # D09 complaints
    '''SELECT district, count(*) FILTER (WHERE replied_at <= deadline),
        count(*)
    FROM elevator_public_feedback
    WHERE type = 'complaint' AND submitted_at >= %(start)s
        AND submitted_at < %(end)s
        AND (replied_at IS NOT NULL OR deadline < now())
    GROUP BY district''',
    # D10 subsidy
    '''SELECT dr.id, sum(COALESCE(paid.paid, 0)), sum(p.budget)
    FROM elevator_subsidy_program p
    JOIN elevator_region r ON r.id = p.region
    JOIN elevator_region dr ON r.path LIKE dr.path || '%%'
    LEFT JOIN (SELECT program, sum(paid_amount) AS paid
        FROM elevator_subsidy_application
        WHERE state = 'paid' AND paid_date <= %(end_date)s
        GROUP BY program) paid ON paid.program = p.id
    WHERE p.year = %(year)s AND p.state != 'draft'
        AND dr.level IN ('district', 'zone')
    GROUP BY dr.id''',
    ]

# The ten unit figures of the year, hand-written.
UNIT_BASELINE_SQL = [
    '''SELECT maintenance_unit, count(*) FILTER (WHERE on_time), count(*)
    FROM elevator_maintenance_order
    WHERE planned_date >= %(start_date)s AND planned_date <= %(due_date)s
    GROUP BY maintenance_unit''',
    '''SELECT maintenance_unit,
        count(*) FILTER (WHERE duration < CASE WHEN type = 'quarterly'
            THEN 60 ELSE 30 END),
        count(*) FILTER (WHERE state IN ('done', 'disputed')
            AND check_out < now() - interval '7 days'), count(*)
    FROM elevator_maintenance_order
    WHERE check_out >= %(start)s AND check_out < %(end)s
        AND state IN ('done', 'confirmed', 'disputed')
    GROUP BY maintenance_unit''',
    '''SELECT d.unit,
        count(*) FILTER (WHERE d.level = 1
            AND d.accepted_at <= d.accept_deadline),
        count(*) FILTER (WHERE d.level = 1),
        count(*) FILTER (WHERE d.arrived_at <= d.arrive_deadline),
        count(*) FILTER (WHERE d.accepted_at IS NOT NULL),
        count(*) FILTER (WHERE d.level = 1 AND d.missed IS NOT NULL)
    FROM elevator_rescue_dispatch d
    JOIN elevator_rescue_ticket t ON t.id = d.ticket
    WHERE t.reported_at >= %(start)s AND t.reported_at < %(end)s
    GROUP BY d.unit''',
    '''SELECT maintenance_unit, count(*) FROM elevator_rescue_ticket
    WHERE reported_at >= %(start)s AND reported_at < %(end)s
        AND state != 'cancelled' AND cause = 'maintenance'
    GROUP BY maintenance_unit''',
    '''SELECT maintenance_unit, count(*) FROM elevator_public_feedback
    WHERE type = 'complaint' AND submitted_at >= %(start)s
        AND submitted_at < %(end)s
        AND COALESCE(resolution, '') NOT IN ('invalid', 'duplicate')
    GROUP BY maintenance_unit''',
    '''SELECT maintenance_unit, sum(score_maintenance), count(*)
    FROM elevator_public_rating
    WHERE create_date >= %(start)s AND create_date < %(end)s
    GROUP BY maintenance_unit''',
    '''SELECT e.maintenance_unit, count(*) FROM elevator_iot_event ev
    JOIN elevator_iot_fault_type ft ON ft.id = ev.fault_type
    JOIN elevator_elevator e ON e.id = ev.elevator
    WHERE ev.occurred_at >= %(start)s AND ev.occurred_at < %(end)s
        AND ft.reaction != 'none'
    GROUP BY e.maintenance_unit''',
    '''SELECT maintenance_unit, count(*) FROM elevator_elevator
    WHERE state = 'in_use' GROUP BY maintenance_unit''',
    ]


def baseline(database, queries, ctx_values, runs=RUNS):
    "Median seconds of the bare queries, run one after the other."
    from trytond.transaction import Transaction
    times = []
    with tryton_env.transaction(database, readonly=True):
        cursor = Transaction().connection.cursor()
        for _ in range(runs):
            start = time.perf_counter()
            for query in queries:
                cursor.execute(query, ctx_values)
                cursor.fetchall()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def context_values(start_date, end_date, as_of):
    from trytond.modules.elevator_assessment.engine import Context
    ctx = Context(start_date, end_date, as_of)
    return {
        'start_date': ctx.start_date, 'end_date': ctx.end_date,
        'start': ctx.start, 'end': ctx.end, 'due_date': ctx.due_date,
        'year': ctx.year,
        }


def bench_district_table(database, start_date, end_date):
    from trytond.modules.elevator_assessment.common import utc_now
    from trytond.modules.elevator_assessment.report import render
    computes, pdfs, xlsxs = [], [], []
    for _ in range(RUNS):
        with tryton_env.transaction(database) as pool:
            Period = pool.get('elevator.assessment.period')
            period = Period.get_or_create('quarter', start_date, end_date)
            start = time.perf_counter()
            Period.compute([period])
            computes.append(time.perf_counter() - start)
            rows = len(period.districts)
            lines = sum(len(r.lines) for r in period.districts)
    with tryton_env.transaction(database, readonly=True) as pool:
        Period = pool.get('elevator.assessment.period')
        period, = Period.search([('start_date', '=', start_date),
                ('end_date', '=', end_date)])
        for _ in range(RUNS):
            period = Period(period.id)
            start = time.perf_counter()
            pdf = render('district_table', 'pdf', period)
            pdfs.append(time.perf_counter() - start)
            period = Period(period.id)
            start = time.perf_counter()
            xlsx = render('district_table', 'xlsx', period)
            xlsxs.append(time.perf_counter() - start)
        totals = [(r.district.name, r.total, r.rank)
            for r in period.districts]
    return {
        'compute': statistics.median(computes),
        'pdf': statistics.median(pdfs),
        'xlsx': statistics.median(xlsxs),
        'rows': rows, 'lines': lines, 'pdf_bytes': len(pdf),
        'xlsx_bytes': len(xlsx), 'totals': totals,
        'as_of': utc_now(),
        }


def bench_credit(database, year):
    with tryton_env.transaction(database) as pool:
        Evaluation = pool.get('elevator.credit.evaluation')
        start = time.perf_counter()
        evaluations = Evaluation.evaluate(year)
        seconds = time.perf_counter() - start
        grades = {}
        for evaluation in evaluations:
            grades[evaluation.grade] = grades.get(evaluation.grade, 0) + 1
    return seconds, len(evaluations), grades


def bench_dashboards(database):
    from trytond.transaction import Transaction, check_access
    with tryton_env.transaction(database, readonly=True) as pool:
        User = pool.get('res.user')
        city, = User.search([('login', '=', 'city')])
    timings = {}
    with tryton_env.transaction(database, user=city.id,
            readonly=True) as pool, check_access():
        for name in ['live', 'trend']:
            Model = pool.get(f'elevator.assessment.{name}')
            names = [f for f in Model._fields if f not in {
                    'create_uid', 'write_uid', 'create_date',
                    'write_date', 'rec_name'}]
            start = time.perf_counter()
            Model.read([r.id for r in Model.search([])], names)
            timings[name] = time.perf_counter() - start
        Transaction()
    return timings


def ms(seconds):
    return f'{seconds * 1000:8.0f} ms'


def verdict(ok):
    return 'PASS' if ok else 'FAIL'


def main(argv=None):
    from trytond.modules.elevator_assessment.common import (
        LOCAL_TZ, add_months, period_bounds, utc_now)
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--elevators', type=int, default=30000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--keep', action='store_true',
        help="keep the database (printed) instead of dropping it")
    parser.add_argument('--database',
        help="use this existing database (registry and activity loaded) "
        "instead of making one")
    args = parser.parse_args(argv)
    today = dt.datetime.now(LOCAL_TZ).date()
    current, _ = period_bounds('quarter', today)
    start_date, end_date = period_bounds('quarter', add_months(current, -3))
    year = start_date.year
    name = args.database or f'bench_assessment_{uuid.uuid4().hex[:8]}'
    size = ('existing data' if args.database
        else f"{args.elevators} elevators and a year of activity")
    log(f"bench_assessment: {size}, quarter {start_date} to {end_date}, "
        f"seed {args.seed}, PostgreSQL database {name}")
    if not args.database:
        scratch_db.create_database(name, modules=MODULES)
    try:
        if not args.database:
            load_registry(name, args.elevators, args.seed)
            load_activity(name, args.seed, today)
        values = context_values(start_date, end_date, utc_now())
        table = bench_district_table(name, start_date, end_date)
        bare = baseline(name, BASELINE_SQL, values)
        year_values = context_values(dt.date(year, 1, 1),
            dt.date(year, 12, 31), utc_now())
        credit, units, grades = bench_credit(name, year)
        unit_bare = baseline(name, UNIT_BASELINE_SQL, year_values)
        dashboards = bench_dashboards(name)
    finally:
        if args.keep or args.database:
            log(f"database kept: {name}")
        else:
            scratch_db.drop_database(name)

    compute_ok = table['compute'] < COMPUTE_TARGET
    pdf_ok = table['pdf'] < RENDER_TARGET
    xlsx_ok = table['xlsx'] < RENDER_TARGET

    def ratio(value):
        return f"x{value / bare:.1f}" if bare else "n/a"
    log('')
    log(f"district table, quarter {start_date} to {end_date}: "
        f"{table['rows']} districts, {table['lines']} indicator lines; "
        "totals " + ', '.join(f"{n} {t}" for n, t, _ in sorted(
                table['totals'], key=lambda r: r[2] or 99)))
    log(f"compute    {ms(table['compute'])} | bare SQL {ms(bare)} "
        f"({ratio(table['compute'])}) | target < {COMPUTE_TARGET:.0f} s: "
        f"{verdict(compute_ok)}")
    log(f"PDF        {ms(table['pdf'])} ({table['pdf_bytes']:,} bytes) | "
        f"bare SQL {ms(bare)} ({ratio(table['pdf'])}) | target < "
        f"{RENDER_TARGET:.0f} s: {verdict(pdf_ok)}")
    log(f"XLSX       {ms(table['xlsx'])} ({table['xlsx_bytes']:,} bytes) | "
        f"bare SQL {ms(bare)} ({ratio(table['xlsx'])}) | target < "
        f"{RENDER_TARGET:.0f} s: {verdict(xlsx_ok)}")
    log(f"credit     {ms(credit)} for {units} units of {year} (grades "
        + ', '.join(f'{g} {n}' for g, n in sorted(
                grades.items(), key=lambda i: i[0] or 'Z'))
        + f") | bare SQL {ms(unit_bare)} "
        f"(x{credit / unit_bare:.1f}) | no target")
    log(f"dashboard  live figures {ms(dashboards['live']).strip()}, "
        f"12-month trends {ms(dashboards['trend']).strip()} (as the city "
        "regulator, with access rules) | no target")
    return 0 if compute_ok and pdf_ok and xlsx_ok else 1


if __name__ == '__main__':
    sys.exit(main())
