"""The production topology of `make prod-local` (scripts/prod-local.sh, the
same processes and configuration as docker/compose.yaml) under load:

- two bridges on the shared subscription receive a stream of 20,000
  messages with 200 faults: every message is handled once (each device's
  newest status, every periodic reading, exactly 200 events), the load is
  split between the bridges (their own counters, from their logs), and a
  bridge killed mid-stream (SIGKILL) and started again loses nothing;
- the two trytond-worker processes run every queued task exactly once
  (ir.queue tasks pushed through `__queue__`, each leaving one record, and
  the workers' logs name each task once);
- the production configuration is in force: login throttling and the
  login audit with the real client address, the password policy, the
  audit of permission changes (ir.model.log), no database list;
- the retention cron, run by trytond-cron, deletes old dead letters and
  daily statistics and keeps the recent ones;
- the health endpoint reports what the monitoring watches.

Everything real: PostgreSQL, our own Mosquitto on a free port (so that no
other bridge on this machine shares our subscription), gunicorn,
trytond-cron, trytond-worker, `elevator bridge`.
"""
import concurrent.futures
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from elevator_platform import scratch_db
from support.db import database_name, query, scalar
from support.iot import (
    SERIALS,
    Publisher,
    fault,
    iot_template,
    periodic,
    running,
    utc,
)
from support.mqtt import Mosquitto
from support.process import WAIT, free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCRIPT = ROOT / 'scripts' / 'prod-local.sh'
PHASE = 10_000          # messages of each of the two phases
FAULTS_PER_PHASE = 100
# Codes of ../shared/domain/fault_types.csv: rescue, repair, recorded only,
# repair, critical.
FAULT_CODES = [7, 11, 20, 12, 1]
ADMIN_PASSWORD = scratch_db.ADMIN_PASSWORD
TASKS = 40
# A bridge's minutely (here: every second) line of each lane.
STATS = re.compile(r'elevator\.bridge INFO (alarm|telemetry) lane: [^,]*, '
    r'handled (\d+) messages')
# The bridge's first line once started.
STARTED = ': shared subscription group '


# --- the topology ------------------------------------------------------------

class Topology:
    "scripts/prod-local.sh on a database and a broker of the test."

    def __init__(self, database, broker_port, workdir):
        self.database = database
        self.dir = Path(workdir) / 'prod'
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}/'
        self.env = {**os.environ,
            'PROD_DB': database,
            'PROD_DIR': str(self.dir),
            'PROD_PORT': str(self.port),
            'PROD_MQTT_PORT': str(broker_port),
            'PROD_WEB_WORKERS': '2',
            'PROD_WEB_THREADS': '6',
            'PROD_BRIDGE_STATS': '1',
            'TRYTOND_DATABASE_URI': scratch_db.database_uri(),
            }
        for name in ['TRYTOND_CONFIG', 'PROD_UPDATE', 'PROD_MODULES']:
            self.env.pop(name, None)

    def script(self, command='start'):
        result = subprocess.run([str(SCRIPT), command], env=self.env,
            cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (
            f'prod-local.sh {command}:\n{result.stdout}\n{result.stderr}')
        return result.stdout

    def log(self, name):
        return (self.dir / 'log' / f'{name}.log').read_text(errors='replace')

    def pid(self, name):
        return int((self.dir / 'run' / f'{name}.pid').read_text())

    def kill(self, name):
        "SIGKILL to the process group: no clean-up, no last acknowledgement."
        os.killpg(self.pid(name), signal.SIGKILL)

    def handled(self, name, lane='telemetry'):
        "The bridge's own counter: its last stats line since it started."
        counts = [int(n) for found, n in STATS.findall(
                self.log(name).rsplit(STARTED, 1)[-1]) if found == lane]
        return counts[-1] if counts else 0

    def env_for_tools(self):
        "Environment of a Tryton script using the topology's configuration."
        return {**os.environ,
            'TRYTOND_CONFIG': str(ROOT / 'docker' / 'trytond.conf'),
            'TRYTOND_DATABASE_URI': scratch_db.database_uri(),
            'TRYTOND_DATABASE__PATH': str(self.dir / 'filestore'),
            }


def rpc(url, method, params, session=None, headers=None):
    "JSON-RPC call; (HTTP status, result, error)."
    request = urllib.request.Request(url, data=json.dumps({'id': 1,
                'method': method, 'params': params}).encode(),
        headers={'Content-Type': 'application/json', **(headers or {})})
    if session:
        import base64
        token = base64.b64encode(f'{session[0]}:{session[1]}:{session[2]}'
            .encode()).decode()
        request.add_header('Authorization', f'Session {token}')
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            data = json.load(response)
            return response.status, data.get('result'), data.get('error')
    except urllib.error.HTTPError as error:
        return error.code, None, error.read().decode(errors='replace')


def health(topology):
    url = f'{topology.url}{topology.database}/elevator/health'
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors='replace')
        assert error.code == 503, (
            f'{url}: HTTP {error.code}: is the route imported by '
            f'modules/elevator_iot/__init__.py (from . import health)?\n'
            f'{body[:500]}')
        return error.code, json.loads(body)


OLD = dt.datetime.now() - dt.timedelta(days=400)


def seed_retention(database):
    """Old and recent dead letters and daily statistics, and the retention
    cron due now: trytond-cron runs it within a minute of the start."""
    recent = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - (
        dt.timedelta(hours=2))
    rows = [(OLD, 'PT-OLD'), (OLD, 'PT-OLD'), (recent, 'PT-RECENT')]
    for stamp, serial in rows:
        query(database, '''INSERT INTO elevator_iot_dead_letter
            (received_at, source, device_serial, kind, reason, detail,
                payload, size, create_uid, create_date)
            VALUES (%s, 'mqtt', %s, 'running', 'not_json', 'seeded',
                '\\x00', 1, 0, %s) RETURNING id''', (stamp, serial, stamp))
    elevator = scalar(database, '''SELECT elevator FROM elevator_iot_device
        WHERE serial = %s''', (SERIALS[0],))
    for date in [dt.date.today() - dt.timedelta(days=4 * 365),
            dt.date.today() - dt.timedelta(days=5)]:
        query(database, '''INSERT INTO elevator_iot_daily
            (elevator, date, run_count_first, run_count_last, create_uid,
                create_date)
            VALUES (%s, %s, 1, 2, 0, now()) RETURNING id''',
            (elevator, date))
    query(database, '''UPDATE ir_cron SET next_call = %s
        WHERE method = 'elevator.iot.configuration|cron_retention'
        RETURNING id''', (dt.datetime.now(dt.timezone.utc).replace(
            tzinfo=None) - dt.timedelta(minutes=1),))


@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-topology-') as path:
        yield Path(path)


@pytest.fixture(scope='module')
def database():
    name = database_name('topology')
    scratch_db.create_database(name, template=iot_template())
    seed_retention(name)
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def broker(workdir):
    with Mosquitto(workdir) as broker:
        yield broker


@pytest.fixture(scope='module')
def topology(request, database, broker, workdir):
    topology = Topology(database, broker.port, workdir)
    failed = request.session.testsfailed
    try:
        topology.script('start')
        yield topology
    except BaseException:
        failed = -1
        raise
    finally:
        if request.session.testsfailed != failed:
            # The logs die with the work directory: show their ends.
            for name in ['web', 'cron', 'worker-1', 'worker-2', 'bridge-1',
                    'bridge-2']:
                try:
                    print(f'--- {name}.log\n' + topology.log(name)[-4000:])
                except OSError:
                    pass
        topology.script('stop')


# --- the stream --------------------------------------------------------------

class Stream:
    """Deterministic device traffic: running readings, periodic counters
    and faults spread over the devices; what the database must show at the
    end is recorded while the messages are made."""

    def __init__(self, run_id):
        self.run_id = run_id
        # Stamped about now, as live devices do (1 ms apart: the last ones
        # are a few seconds ahead, well within the future tolerance).
        self.base = dt.datetime.now(dt.timezone.utc).replace(
            microsecond=0) - dt.timedelta(seconds=5)
        self.sent = 0
        self.last_running = {}      # serial -> (collect time, floor)
        self.max_runs = {}          # serial -> highest totalRunCount
        self.faults = set()         # faultIds

    def messages(self, count, faults):
        every = count // faults
        for i in range(count):
            n = self.sent
            self.sent += 1
            serial = SERIALS[n % len(SERIALS)]
            stamp = self.base + dt.timedelta(milliseconds=n)
            if i % every == every // 2:
                fault_id = f'{self.run_id}-{n:06d}'
                self.faults.add(fault_id)
                # Spread over the devices, whatever the period.
                yield SERIALS[len(self.faults) % len(SERIALS)], 'fault', (
                    fault(fault_id, FAULT_CODES[
                            len(self.faults) % len(FAULT_CODES)], stamp))
            elif (n // len(SERIALS)) % 20 == 7:
                # Every device, now and then.
                runs = 1000 + n
                self.max_runs[serial] = runs
                yield serial, 'periodic', periodic(stamp, runs)
            else:
                floor = 1 + n % 30
                self.last_running[serial] = (utc(stamp), floor)
                yield serial, 'running', running(stamp, carPosition=floor,
                    carStatus=n % 2, carDirection=n % 3)


def landed(database, stream):
    "How much of the stream the database shows: (statuses, events)."
    rows = query(database, '''
        SELECT d.serial, s.collect_time, s.car_position
        FROM elevator_iot_status s
        JOIN elevator_iot_device d ON d.elevator = s.elevator
        WHERE d.serial = ANY(%s)''', (list(stream.last_running),))
    statuses = sum(1 for serial, stamp, floor in rows
        if stream.last_running[serial] == (stamp, floor))
    # Every device has running readings in the stream.
    assert len(stream.last_running) == len(SERIALS)
    events = scalar(database, '''SELECT COUNT(*) FROM elevator_iot_event
        WHERE fault_id LIKE %s''', (stream.run_id + '-%',))
    return statuses, events


def check_everything_landed(database, stream):
    rows = query(database, '''
        SELECT d.serial, s.collect_time, s.car_position
        FROM elevator_iot_status s
        JOIN elevator_iot_device d ON d.elevator = s.elevator
        WHERE d.serial = ANY(%s)''', (SERIALS,))
    assert {serial: (stamp, floor) for serial, stamp, floor in rows} == (
        stream.last_running), 'a device misses its newest status'
    events = query(database, '''SELECT fault_id, COUNT(*)
        FROM elevator_iot_event WHERE fault_id LIKE %s
        GROUP BY fault_id''', (stream.run_id + '-%',))
    assert {f for f, _ in events} == stream.faults
    assert all(n == 1 for _, n in events)
    rows = query(database, '''
        SELECT d.serial, MAX(y.run_count_last) FROM elevator_iot_daily y
        JOIN elevator_iot_device d ON d.elevator = y.elevator
        WHERE d.serial = ANY(%s) GROUP BY d.serial''', (SERIALS,))
    assert dict(rows) == stream.max_runs, 'a periodic reading is missing'
    assert scalar(database, '''SELECT COUNT(*) FROM elevator_iot_dead_letter
        WHERE device_serial = ANY(%s)''', (SERIALS,)) == 0


def publish(publisher, messages):
    for serial, kind, payload in messages:
        publisher.send(serial, kind, payload)
    publisher.flush()


@pytest.fixture(scope='module')
def stream():
    return Stream(f'TOPO{os.getpid()}')


# --- the tests ---------------------------------------------------------------

def test_two_bridges_split_the_stream(topology, broker, database, stream):
    "The first half of the stream: every message once, split between both."
    assert topology.handled('bridge-1') == topology.handled('bridge-2') == 0
    with Publisher(broker.port) as publisher:
        publish(publisher, stream.messages(PHASE, FAULTS_PER_PHASE))
    devices = len(SERIALS)
    wait_for(lambda: landed(database, stream) == (devices, FAULTS_PER_PHASE),
        'the first half of the stream in the database', timeout=300)
    # Each telemetry message was handled by exactly one bridge; every
    # fault by both (their alarm lanes' plain subscriptions; the
    # ingestion makes it one event, checked below).
    telemetry = PHASE - FAULTS_PER_PHASE
    wait_for(lambda: topology.handled('bridge-1')
        + topology.handled('bridge-2') == telemetry,
        'both bridges to count every message', timeout=60)
    wait_for(lambda: [topology.handled(b, 'alarm')
            for b in ['bridge-1', 'bridge-2']] == [FAULTS_PER_PHASE] * 2,
        'both bridges to count every fault', timeout=60)
    shares = [topology.handled(b) for b in ['bridge-1', 'bridge-2']]
    print(f'bridge shares of {telemetry} messages: {shares}')
    assert min(shares) >= 0.3 * telemetry, shares
    check_everything_landed(database, stream)


def test_bridge_killed_mid_stream_loses_nothing(
        topology, broker, database, stream):
    """The second half: one bridge is killed (SIGKILL) while the messages
    pour in, then started again with its client id; at the end the
    database has all 20,000 messages' effects and exactly 200 events."""
    before = [topology.handled(b) for b in ['bridge-1', 'bridge-2']]
    messages = list(stream.messages(PHASE, FAULTS_PER_PHASE))
    published = []

    def publish_steadily():
        # About 10 s of traffic, so that the kill falls in the middle.
        with Publisher(broker.port) as publisher:
            for start in range(0, PHASE, 250):
                publish(publisher, messages[start:start + 250])
                published.append(start + 250)
                time.sleep(0.25)
    publisher = threading.Thread(target=publish_steadily)
    publisher.start()
    try:
        wait_for(lambda: topology.handled('bridge-1') > before[0] + 1000,
            'the first bridge to take messages of the second half')
        topology.kill('bridge-1')
        at_kill = published[-1]
    finally:
        publisher.join()
    print(f'bridge-1 killed after {at_kill} of {PHASE} messages')
    assert 0 < at_kill < PHASE, 'the kill was not in the middle of the stream'
    # The surviving bridge goes on meanwhile.
    wait_for(lambda: topology.handled('bridge-2') > before[1] + 2000,
        'the second bridge to go on alone')
    output = topology.script('start')
    assert 'starting bridge 1' in output and 'starting bridge 2' not in output
    assert 'session resumed' in topology.log('bridge-1').rsplit(
        STARTED, 1)[-1]
    wait_for(lambda: landed(database, stream) == (
            len(SERIALS), 2 * FAULTS_PER_PHASE),
        'the whole stream in the database', timeout=300)
    check_everything_landed(database, stream)
    assert len(stream.faults) == 200
    assert stream.sent == 2 * PHASE
    print('after the restart bridge-1 handled', topology.handled('bridge-1'))
    assert 'Traceback' not in topology.log('bridge-2')


def test_workers_run_each_task_once(topology, database):
    """Tasks pushed to ir.queue by one process are taken by the two
    trytond-worker processes, each exactly once."""
    prefix = f'queue-task-{os.getpid()}'
    script = (
        'import sys\n'
        'from elevator_platform.tryton_env import transaction\n'
        'with transaction(sys.argv[1]) as pool:\n'
        '    Party = pool.get("party.party")\n'
        '    party, = Party.create([{"name": sys.argv[2] + "-source"}])\n'
        '    for i in range(int(sys.argv[3])):\n'
        '        Party.__queue__.copy([party],\n'
        '            {"name": "%s-%04d" % (sys.argv[2], i)})\n'
        'print(party.id)\n')
    result = subprocess.run([sys.executable, '-c', script, database, prefix,
            str(TASKS)], env=topology.env_for_tools(), cwd=ROOT,
        capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    # [queue] worker = True: the tasks were not run by the process that
    # queued them.
    ids = [r[0] for r in query(database, '''SELECT id FROM ir_queue
        WHERE data->>'model' = 'party.party' ORDER BY id''')]
    assert len(ids) == TASKS

    def done():
        return scalar(database, '''SELECT COUNT(*) FROM ir_queue
            WHERE id = ANY(%s) AND finished_at IS NOT NULL''', (ids,))
    wait_for(lambda: done() == TASKS, 'the workers to run every task',
        timeout=180)
    copies = query(database, '''SELECT name, COUNT(*) FROM party_party
        WHERE name LIKE %s GROUP BY name''', (prefix + '-0%',))
    assert len(copies) == TASKS
    assert all(n == 1 for _, n in copies), 'a task ran twice'

    ran = {}
    for worker in ['worker-1', 'worker-2']:
        numbers = [int(n) for n in re.findall(
                rf'<Task (\d+)@{database}> in \d+ ms', topology.log(worker))]
        ran[worker] = [n for n in numbers if n in ids]
    print('tasks per worker:', {w: len(n) for w, n in ran.items()})
    taken = ran['worker-1'] + ran['worker-2']
    assert sorted(taken) == ids, 'a task ran twice, or not at all'


def test_production_configuration(topology, database):
    """docker/trytond.conf is in force: failed logins are throttled and
    logged with the real client address (a forged X-Forwarded-For is not
    believed without a proxy), passwords are at least 12 characters, a
    change of a user's groups is audited, the database list is closed."""
    url = f'{topology.url}{database}/rpc/'
    forged = {'X-Forwarded-For': '203.0.113.9'}

    def attempt(_):
        return rpc(url, 'common.db.login', ['intruder',
                {'password': 'wrong-password'}, 'zh_CN'], headers=forged)[0]
    # Six failures at once (each waits a random delay before answering).
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert set(pool.map(attempt, range(6))) == {401}
    assert attempt(7) == 429
    log = topology.log('web')
    assert "login failed for 'intruder' from '127.0.0.1'" in log
    assert '203.0.113.9' not in log.replace('fwd=203.0.113.9', '')

    status, session, error = rpc(url, 'common.db.login', ['admin',
            {'password': ADMIN_PASSWORD}, 'zh_CN'])
    assert status == 200 and session, error
    user_id, key, bus_url = session[0], session[1], session[2]
    assert bus_url, 'the bus is open to sao ([bus] allow_subscribe)'
    assert "login succeeded for 'admin' from '127.0.0.1'" in topology.log(
        'web')
    auth = ('admin', user_id, key)

    # [password] length = 12
    _, created, error = rpc(url, 'model.res.user.create', [[{
                    'name': 'Short', 'login': 'short',
                    'password': 'elevator1'}], {}], session=auth)
    assert created is None and '12' in str(error), error

    _, created, error = rpc(url, 'model.res.user.create', [[{
                    'name': '审计测试', 'login': f'audit{os.getpid()}',
                    'password': 'a-long-enough-password'}], {}],
        session=auth)
    assert created, error
    group = scalar(database, '''SELECT db_id FROM ir_model_data
        WHERE module = 'elevator' AND fs_id = 'group_auditor' ''')
    status, _, error = rpc(url, 'model.res.user.write', [created,
            {'groups': [['add', [group]]]}, {}], session=auth)
    assert status == 200 and not error, error
    rows = query(database, '''SELECT event, target, "user"
        FROM ir_model_log WHERE resource = %s''',
        (f'res.user,{created[0]}',))
    assert ('write', 'groups', user_id) in rows, rows

    status, _, _ = rpc(topology.url + 'rpc/', 'common.db.list', [])
    assert status == 403


def test_retention_cron_and_health(topology, database, stream):
    """trytond-cron ran the retention: old dead letters and daily
    statistics are gone, recent ones kept. The health endpoint reports the
    ingestion, the dead letters, the queue and the crons."""
    def retention_ran():
        return scalar(database, '''SELECT COUNT(*) FROM ir_cron_log l
            JOIN ir_cron c ON c.id = l.cron
            WHERE c.method = 'elevator.iot.configuration|cron_retention'
            ''')
    wait_for(retention_ran, 'trytond-cron to run the retention',
        timeout=150)
    assert query(database, '''SELECT device_serial
        FROM elevator_iot_dead_letter WHERE device_serial = ANY(%s)''',
        (['PT-OLD', 'PT-RECENT'],)) == [('PT-RECENT',)]
    dates = [d for d, in query(database, '''SELECT date
        FROM elevator_iot_daily
        WHERE date < CURRENT_DATE - 3 AND run_count_first = 1''')]
    assert dates == [dt.date.today() - dt.timedelta(days=5)]
    assert 'retention applied' in topology.log('cron')

    status, report = health(topology)
    assert status == 200, report
    assert report['database']['ok'] is True
    ingestion = report['ingestion']
    assert ingestion['devices']['online'] == len(SERIALS)
    assert ingestion['last_batch_age_seconds'] is not None
    assert report['dead_letters']['last_day'] == 1
    assert report['queue']['worker'] is True
    assert report['queue']['pending'] == 0
    assert report['queue']['stuck'] == 0
    assert report['cron']['late'] == []
    assert report['cron']['last_run_at']
    assert report['status'] in ('ok', 'warning'), report
