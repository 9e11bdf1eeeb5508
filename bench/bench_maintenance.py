"""Benchmark of the maintenance supervision at city scale (DESIGN §8).

On a fresh PostgreSQL database with `elevator_maintenance` (created here,
dropped at the end), with 30,000 elevators in use under 1,000 active
contracts of 50 firms (loaded with COPY, not timed):

1. Plan generation: `Contract.generate_plan()` (what the daily cron runs)
   plans the visits of the coming month for every elevator: about 60,000
   orders with their type (yearly, half-yearly, quarterly, half-monthly by
   the contract's periods), units, district, and history rows.
   Baseline: one bare `INSERT ... SELECT` of the same number of visit rows
   (two half-monthly visits per elevator, no rules, no history).
   Target: under 60 s.
2. Warning scan: `Warning.scan()` (the hourly cron) over a year of orders
   (30,000 elevators x 24 visits = 720,000 orders): visits too short,
   checked in too far away, unconfirmed after 7 days, elevators overdue;
   inserts the warnings and notifies the district regulators and firms.
   Baselines: the same four detections as bare `SELECT count(*)` queries,
   and bare `INSERT ... SELECT` of the order warnings (rolled back).
   Target: under 10 s. The second scan (nothing new) is printed too.

Prints each figure beside its baseline and PASS/FAIL; exit code 1 on FAIL.
"""
import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault('TRYTOND_DATABASE_URI',
    'postgresql://postgres@127.0.0.1:5432/')
os.environ['TRYTOND_CONFIG'] = ''

from elevator_platform import scratch_db, tryton_env  # noqa: E402

PLAN_TARGET = 60
SCAN_TARGET = 10
FIRMS = 50
CONTRACTS = 1000
VISITS_PER_YEAR = 24


def create_database(name):
    "An empty UTF-8 database with elevator_maintenance, zh_CN."
    scratch_db.drop_database(name)
    scratch_db.admin_sql(
        f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        passfile = Path(tmp) / 'password'
        passfile.write_text(scratch_db.ADMIN_PASSWORD + '\n')
        env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
        env.pop('TRYTOND_CONFIG', None)
        result = subprocess.run([str(bin_dir / 'trytond-admin'), '-d', name,
                '-u', 'elevator_maintenance', '--activate-dependencies',
                '-l', 'zh_CN', '--email', 'admin@example.com'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, text=True)
    if result.returncode:
        scratch_db.drop_database(name)
        raise RuntimeError("trytond-admin failed:\n" + result.stdout[-4000:])


def connect(name):
    import psycopg
    return psycopg.connect(scratch_db._uri_for(name))


def load_registry(name, elevators, seed, today):
    """Firms, estates, elevators, active contracts and regulators, with
    COPY and batched ORM calls. Return the number of elevators."""
    rnd = random.Random(seed)
    with tryton_env.transaction(name) as pool:
        Party = pool.get('party.party')
        Region = pool.get('elevator.region')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        districts = [r.id for r in Region.search([
                    ('level', 'in', ['district', 'zone'])])]
        firms = Party.create([{'name': f'莆田第{i + 1}电梯维保有限公司',
                    'is_maintenance_unit': True} for i in range(FIRMS)])
        estates = Party.create([{'name': f'莆田第{i + 1}物业服务有限公司',
                    'is_user_unit': True, 'is_property_company': True}
                for i in range(CONTRACTS)])
        group = ModelData.get_id('elevator', 'group_district_regulator')
        User.create([{'login': f'regulator{i}', 'name': f'监管员{i}',
                    'groups': [('add', [group])],
                    'elevator_regions': [('add', [d])]}
                for i, d in enumerate(districts)])
        group = ModelData.get_id('elevator', 'group_firm_manager')
        User.create([{'login': f'firm{i}', 'name': f'维保负责人{i}',
                    'groups': [('add', [group])],
                    'elevator_units': [('add', [f.id])]}
                for i, f in enumerate(firms)])
        firm_ids = [f.id for f in firms]
        estate_ids = [e.id for e in estates]

    now = dt.datetime.now()
    with connect(name) as conn:
        with conn.cursor() as cursor:
            with cursor.copy('COPY elevator_elevator (registration_code, '
                    'rescue_code, category, region, district, '
                    'place_category, user_unit, maintenance_unit, state, '
                    'public_token, orphan, has_video, inspection_status, '
                    'latitude, longitude, create_uid, create_date) '
                    'FROM STDIN') as copy:
                for i in range(elevators):
                    district = districts[i % len(districts)]
                    category = rnd.choices(
                        ['3110', '3120', '3200', '3310', '3400'],
                        [80, 8, 2, 8, 2])[0]
                    estate = estate_ids[i % CONTRACTS]
                    firm = firm_ids[(i % CONTRACTS) % FIRMS]
                    copy.write_row([
                            f'{category}350302{2010 + i % 14}{i:06d}',
                            str(100000 + i), category, district, district,
                            'residential', estate, firm, 'in_use',
                            uuid.uuid4().hex, False, False, 'unknown',
                            25.43 + rnd.random() / 10,
                            119.0 + rnd.random() / 10, 0, now])
            cursor.execute('SELECT id, user_unit FROM elevator_elevator '
                'ORDER BY id')
            by_estate = {}
            for elevator_id, estate in cursor:
                by_estate.setdefault(estate, []).append(elevator_id)
            contracts = []
            for i, estate in enumerate(estate_ids):
                start = today - dt.timedelta(days=rnd.randrange(1, 360))
                contracts.append((f'WBHT-BENCH-{i:05d}',
                        firm_ids[i % FIRMS], estate, start,
                        start + dt.timedelta(days=729), 2400,
                        'on_demand' if i % 10 == 0 else 'regular',
                        'active', 0, now))
            with cursor.copy('COPY elevator_maintenance_contract (number, '
                    'maintenance_unit, user_unit, start_date, end_date, '
                    'price, mode, state, create_uid, create_date) '
                    'FROM STDIN') as copy:
                for row in contracts:
                    copy.write_row(row)
            cursor.execute('SELECT id, user_unit FROM '
                'elevator_maintenance_contract')
            contract_of = {estate: cid for cid, estate in cursor}
            with cursor.copy('COPY "elevator_maintenance_contract-'
                    'elevator_elevator" (contract, elevator, create_uid, '
                    'create_date) FROM STDIN') as copy:
                for estate, ids in by_estate.items():
                    for elevator_id in ids:
                        copy.write_row([contract_of[estate], elevator_id, 0,
                                now])
            cursor.execute('ANALYZE')
    return elevators


def baseline_plan(name):
    "Seconds of one bare INSERT ... SELECT of two visits per elevator."
    with connect(name) as conn:
        with conn.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute('''
                INSERT INTO elevator_maintenance_order (create_uid,
                    create_date, elevator, contract, maintenance_unit,
                    user_unit, district, category, type, planned_date,
                    state)
                SELECT 0, now(), e.id, c.id, c.maintenance_unit,
                    c.user_unit, e.district, e.category, 'half_monthly',
                    CURRENT_DATE + 15 * k, 'planned'
                FROM "elevator_maintenance_contract-elevator_elevator" r
                JOIN elevator_maintenance_contract c ON c.id = r.contract
                JOIN elevator_elevator e ON e.id = r.elevator
                CROSS JOIN generate_series(1, 2) AS k
                WHERE c.state = 'active' AND e.state = 'in_use'
                ''')
            rows = cursor.rowcount
            conn.commit()
            seconds = time.perf_counter() - start
            cursor.execute('DELETE FROM elevator_maintenance_order')
            conn.commit()
    return rows, seconds


def run_plan(name, today):
    "Seconds of Contract.generate_plan() for every active contract."
    from trytond.transaction import Transaction
    with tryton_env.transaction(name) as pool:
        Contract = pool.get('elevator.maintenance.contract')
        start = time.perf_counter()
        count = Contract.generate_plan(today=today)
        Transaction().commit()
        seconds = time.perf_counter() - start
        cursor = Transaction().connection.cursor()
        cursor.execute('SELECT type, count(*) FROM elevator_maintenance_order '
            'GROUP BY type')
        types = dict(cursor)
    return count, seconds, types


def load_year(name, seed):
    """A year of orders: 24 visits of every elevator, a few too short, too
    far, unconfirmed; some elevators not visited for weeks."""
    with connect(name) as conn:
        with conn.cursor() as cursor:
            cursor.execute('DELETE FROM elevator_maintenance_order')
            cursor.execute('DELETE FROM elevator_maintenance_order__history')
            cursor.execute('SELECT setseed(%s)', (seed / 1000,))
            cursor.execute(f'''
                INSERT INTO elevator_maintenance_order (create_uid,
                    create_date, number, elevator, contract,
                    maintenance_unit, user_unit, district, category, type,
                    planned_date, state, check_in, check_out, duration,
                    check_in_distance, on_time)
                SELECT 0, now(), 'WB-B-' || v.elevator || '-' || v.k,
                    v.elevator, v.contract, v.firm, v.estate, v.district,
                    v.category, v.type, v.planned,
                    CASE WHEN v.r1 < 0.05 AND v.planned > CURRENT_DATE - 20
                        THEN 'done' ELSE 'confirmed' END,
                    v.planned + (v.r2 * 4)::int * INTERVAL '-1 day'
                        + INTERVAL '1 hour',
                    v.planned + (v.r2 * 4)::int * INTERVAL '-1 day'
                        + INTERVAL '1 hour' + v.minutes * INTERVAL '1 minute',
                    v.minutes,
                    CASE WHEN v.r3 < 0.02 THEN 600 + v.r3 * 10000
                        ELSE v.r3 * 300 END,
                    TRUE
                FROM (
                    SELECT *,
                        -- 3 % of the visits too short for their type.
                        CASE WHEN w.r4 < 0.03 THEN 8 + (w.r5 * 15)::int
                            ELSE (CASE w.type WHEN 'yearly' THEN 125
                                    WHEN 'half_yearly' THEN 95
                                    WHEN 'quarterly' THEN 65 ELSE 35 END)
                                + (w.r5 * 60)::int END AS minutes
                    FROM (
                        SELECT e.id AS elevator, c.id AS contract,
                            c.maintenance_unit AS firm, c.user_unit AS estate,
                            e.district, e.category, k,
                            CASE WHEN k % 24 = 0 THEN 'yearly'
                                WHEN k % 12 = 0 THEN 'half_yearly'
                                WHEN k % 6 = 0 THEN 'quarterly'
                                ELSE 'half_monthly' END AS type,
                            CURRENT_DATE - 15 * k + 14
                                - CASE WHEN e.id % 50 = 0 THEN 20 ELSE 0 END
                                AS planned,
                            random() AS r1, random() AS r2, random() AS r3,
                            random() AS r4, random() AS r5
                        FROM "elevator_maintenance_contract-elevator_elevator" r
                        JOIN elevator_maintenance_contract c
                            ON c.id = r.contract
                        JOIN elevator_elevator e ON e.id = r.elevator
                        CROSS JOIN generate_series(1, {VISITS_PER_YEAR}) AS k
                        ) AS w
                    ) AS v
                ''')
            rows = cursor.rowcount
            cursor.execute('ANALYZE elevator_maintenance_order')
            conn.commit()
    return rows


def baseline_scan(name):
    "Seconds of the four detections as bare SELECT count(*) queries."
    rules = ('(CASE o.type WHEN \'half_monthly\' THEN '
        '(CASE WHEN o.category = \'3400\' THEN 20 ELSE 30 END) '
        'WHEN \'quarterly\' THEN 60 WHEN \'half_yearly\' THEN 90 ELSE 120 END)')
    queries = [
        f'''SELECT count(*) FROM elevator_maintenance_order o
            WHERE o.state IN ('done', 'confirmed', 'disputed')
            AND o.duration < {rules}''',
        '''SELECT count(*) FROM elevator_maintenance_order o
            WHERE o.state IN ('done', 'confirmed', 'disputed')
            AND o.check_in_distance > 500''',
        '''SELECT count(*) FROM elevator_maintenance_order o
            WHERE o.state = 'done'
            AND o.check_out < now() - INTERVAL '7 days' ''',
        '''SELECT count(*) FROM (
            SELECT o.elevator, max(o.check_in) AS last
            FROM elevator_maintenance_order o
            WHERE o.check_in IS NOT NULL GROUP BY o.elevator) AS l
            JOIN "elevator_maintenance_contract-elevator_elevator" r
                ON r.elevator = l.elevator
            JOIN elevator_maintenance_contract c ON c.id = r.contract
            WHERE c.state = 'active'
            AND CURRENT_DATE - GREATEST(l.last::date, c.start_date) > 15''',
        ]
    counts = []
    with connect(name) as conn:
        with conn.cursor() as cursor:
            start = time.perf_counter()
            for query in queries:
                cursor.execute(query)
                counts.append(cursor.fetchone()[0])
            seconds = time.perf_counter() - start
    return counts, seconds


def baseline_insert(name):
    """Seconds of bare INSERT ... SELECT of the order warnings (too short,
    too far, unconfirmed) into the warnings table, rolled back."""
    rules = ('(CASE o.type WHEN \'half_monthly\' THEN '
        '(CASE WHEN o.category = \'3400\' THEN 20 ELSE 30 END) '
        'WHEN \'quarterly\' THEN 60 WHEN \'half_yearly\' THEN 90 ELSE 120 END)')
    insert = (
        'INSERT INTO elevator_maintenance_warning (create_uid, create_date, '
        'type, elevator, "order", maintenance_unit, district, raised_at, '
        'value, "limit", state) SELECT 0, now(), %s, o.elevator, o.id, '
        'o.maintenance_unit, o.district, now(), {value}, {limit}, \'open\' '
        'FROM elevator_maintenance_order o WHERE {where}')
    statements = [
        (insert.format(value='o.duration', limit=rules,
                where=f"o.state IN ('done', 'confirmed', 'disputed') "
                f"AND o.duration < {rules}"), ('too_short',)),
        (insert.format(value='o.check_in_distance', limit='500',
                where="o.state IN ('done', 'confirmed', 'disputed') "
                "AND o.check_in_distance > 500"), ('too_far',)),
        (insert.format(value='NULL', limit='7',
                where="o.state = 'done' "
                "AND o.check_out < now() - INTERVAL '7 days'"),
            ('unconfirmed',)),
        ]
    rows = 0
    with connect(name) as conn:
        with conn.cursor() as cursor:
            start = time.perf_counter()
            for statement, params in statements:
                cursor.execute(statement, params)
                rows += cursor.rowcount
            seconds = time.perf_counter() - start
        conn.rollback()
    return rows, seconds


def run_scan(name):
    "Seconds of Warning.scan() (with its notifications), and the counts."
    from trytond.transaction import Transaction
    with tryton_env.transaction(name) as pool:
        Warning_ = pool.get('elevator.maintenance.warning')
        start = time.perf_counter()
        ids = Warning_.scan()
        Transaction().commit()
        seconds = time.perf_counter() - start
        cursor = Transaction().connection.cursor()
        cursor.execute('SELECT type, count(*) FROM '
            'elevator_maintenance_warning WHERE id >= %s GROUP BY type',
            (min(ids) if ids else 0,))
        counts = dict(cursor) if ids else {}
    return len(ids), counts, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--elevators', type=int, default=30000)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)

    name = f'bench_maintenance_{uuid.uuid4().hex[:8]}'
    today = dt.date.today()
    print(f"bench_maintenance: {args.elevators} elevators, {CONTRACTS} "
        f"contracts, {FIRMS} firms, seed {args.seed}, PostgreSQL database "
        f"{name}", flush=True)
    create_database(name)
    try:
        t0 = time.perf_counter()
        load_registry(name, args.elevators, args.seed, today)
        print(f"set-up    registry loaded in {time.perf_counter() - t0:.1f} s",
            flush=True)
        base_rows, base_plan = baseline_plan(name)
        planned, plan_seconds, types = run_plan(name, today)
        print(f"baseline  bare INSERT...SELECT of {base_rows} visits: "
            f"{base_plan:6.2f} s", flush=True)
        print(f"plan      Contract.generate_plan(): {planned} visits "
            f"({', '.join(f'{k} {v}' for k, v in sorted(types.items()))}) "
            f"in {plan_seconds:6.2f} s = {plan_seconds / base_plan:.1f} x "
            f"baseline (target < {PLAN_TARGET} s): "
            f"{'PASS' if plan_seconds < PLAN_TARGET else 'FAIL'}",
            flush=True)

        t0 = time.perf_counter()
        orders = load_year(name, args.seed)
        print(f"set-up    {orders} orders of a year loaded in "
            f"{time.perf_counter() - t0:.1f} s", flush=True)
        base_counts, base_scan = baseline_scan(name)
        base_rows, base_insert = baseline_insert(name)
        new, counts, scan_seconds = run_scan(name)
        again, _, rescan_seconds = run_scan(name)
        print(f"baseline  bare SELECT count(*) of the 4 detections "
            f"{base_counts}: {base_scan:6.2f} s", flush=True)
        print(f"baseline  bare INSERT...SELECT of {base_rows} order warnings "
            f"(no duplicate check, no notification): {base_insert:6.2f} s",
            flush=True)
        print(f"scan      Warning.scan() over {orders} orders: {new} warnings "
            f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) "
            f"in {scan_seconds:6.2f} s = {scan_seconds / base_scan:.1f} x "
            f"the detections, {scan_seconds / (base_scan + base_insert):.1f} "
            f"x detections + inserts (target < {SCAN_TARGET} s): "
            f"{'PASS' if scan_seconds < SCAN_TARGET else 'FAIL'}")
        print(f"rescan    Warning.scan() again: {again} new in "
            f"{rescan_seconds:6.2f} s")
    finally:
        scratch_db.drop_database(name)
    ok = plan_seconds < PLAN_TARGET and scan_seconds < SCAN_TARGET
    ok = ok and again == 0
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
