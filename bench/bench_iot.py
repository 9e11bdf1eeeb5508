"""Benchmark of the MQTT bridge (issue 3, DESIGN §8): 30,000 elevators.

A fresh PostgreSQL database (created here, dropped at the end) gets the
demo world of `elevator demo-data` (30,000 elevators) and one controller
terminal per elevator (set-based SQL). Our own Mosquitto runs on a free
port, configured as the bridge requires: it drops nothing a subscriber has
not taken yet (max_queued_messages 0), so a consumer slower than the
traffic shows as a growing lag, never as lost messages.

Traffic: `elevator simulate` in several processes publishing `running`
messages of the 30,000 devices at QoS 0, together --rate messages/s
(default 10,000: over three times the city's steady 3,000 msg/s of
DESIGN §8; 0 for as fast as they can); the same traffic in both phases:

1. baseline: a bare paho-mqtt subscriber (MQTT 5, the bridge's shared
   subscription, nothing done per message but counting) - its receive
   rate;
2. the bridge (`elevator bridge`), after 15 s of warm-up (the first
   message of each device creates its status row), for 60 s: its handled
   rate (messages committed per second, from its own counters), its lag
   behind the broker (now minus the newest collectTime in
   elevator.iot.status, sampled every half second) and, meanwhile, a
   trapped-passenger alarm (faultNo 7) at QoS 1 every half second on a
   random device: the time from its publication until its event is
   committed and visible (polled every 20 ms).

Targets: bridge rate >= 80 % of the baseline and >= 5,000 msg/s, lag
< 2 s (p99 of the samples), alarm p99 < 1 s. Prints the figures beside the
baseline and PASS/FAIL; exit code 1 on FAIL.
"""
import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault('TRYTOND_DATABASE_URI',
    'postgresql://postgres@127.0.0.1:5432/')
os.environ['TRYTOND_CONFIG'] = ''

import psycopg  # noqa: E402

from elevator_platform import scratch_db, tryton_env  # noqa: E402
from elevator_platform.demo_data import (  # noqa: E402
    ensure_parties, ensure_places, ensure_regions)
from elevator_platform.demo_world import DemoWorld  # noqa: E402
from elevator_platform.registry_loader import RegistryLoader  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PREFIX = 'BENCH'
TARGET_RATIO = 0.8
TARGET_RATE = 5000
TARGET_LAG = 2.0
TARGET_ALARM = 1.0
LOCAL = dt.timezone(dt.timedelta(hours=8))

# A bare subscriber: counts per second, printed as JSON lines.
BARE_SUBSCRIBER = textwrap.dedent('''
    import json, sys, threading, time
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    port, topic = int(sys.argv[1]), sys.argv[2]
    count = [0]
    def on_message(client, userdata, msg):
        count[0] += 1
    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(topic, qos=1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
        client_id='bench-bare-subscriber', protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = on_connect
    properties = Properties(PacketTypes.CONNECT)
    properties.ReceiveMaximum = 2000
    client.connect('127.0.0.1', port, properties=properties)
    client.loop_start()
    while True:
        time.sleep(0.5)
        print(json.dumps([time.time(), count[0]]), flush=True)
''')


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_port(port, process, what, timeout=60):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited")
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} does not listen on {port}")


def stop(process):
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def env():
    environment = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    environment.pop('TRYTOND_CONFIG', None)
    return environment


def uri(database):
    return scratch_db._uri_for(database)


# --- set-up -----------------------------------------------------------------

def build_database(name, elevators, seed):
    """The registry of the demo world (regions, units, places, elevators:
    what `elevator demo-data` loads, through the same loader as `elevator
    import`) and a controller terminal per elevator; seconds taken."""
    from trytond.transaction import Transaction
    started = time.perf_counter()
    scratch_db.create_database(name, modules=['elevator_iot'])
    with tryton_env.transaction(name) as pool:
        Configuration = pool.get('elevator.configuration')
        world = DemoWorld(elevators, seed,
            rescue_code_length=Configuration(1).rescue_code_length)
        ensure_regions(pool, world.regions)
        Transaction().commit()
        parties = ensure_parties(pool, world.units())
        ensure_places(pool, world, parties)
        Transaction().commit()
        result = RegistryLoader(pool).load(world.registry_rows())
        if result.errors:
            raise SystemExit(f"demo registry: {len(result.errors)} errors")
    with psycopg.connect(uri(name), autocommit=True) as conn:
        # Set-based: one INSERT for all the devices.
        conn.execute(f'''
            INSERT INTO elevator_iot_device
                (serial, type, elevator, state, create_uid, create_date)
            SELECT '{PREFIX}' || lpad((row_number() OVER (ORDER BY id) - 1)
                    ::text, 6, '0'),
                'controller_terminal', id, 'registered', 0,
                now() AT TIME ZONE 'UTC'
            FROM elevator_elevator''')
        count = conn.execute('SELECT COUNT(*) FROM elevator_iot_device '
            'WHERE serial LIKE %s', (PREFIX + '%',)).fetchone()[0]
        conn.execute('VACUUM ANALYZE')
    from trytond import backend
    backend.Database(name).close()
    return count, time.perf_counter() - started


def start_broker(workdir):
    """Our own Mosquitto, configured as the bridge needs it: nothing of a
    subscriber behind is dropped (max_queued_messages 0), so a slow
    consumer shows as lag, and no alarm is lost."""
    port = free_port()
    conf = workdir / 'mosquitto.conf'
    import getpass
    conf.write_text(textwrap.dedent(f'''\
        listener {port} 127.0.0.1
        allow_anonymous true
        persistence false
        max_queued_messages 0
        user {getpass.getuser()}
        log_dest file {workdir / 'mosquitto.log'}
        '''))
    process = subprocess.Popen(['mosquitto', '-c', str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    wait_port(port, process, 'mosquitto')
    return process, port


def start_simulators(port, devices, processes, seconds, workdir, name,
        rate):
    log = open(workdir / f'simulate-{name}.log', 'wb')
    process = subprocess.Popen([str(BIN / 'elevator'), 'simulate',
            '--serial-prefix', PREFIX, '--devices', str(devices),
            '--kinds', 'running', '--qos', '0', '--rate', str(rate),
            '--processes', str(processes), '--duration', str(seconds),
            '--port', str(port), '--json', '--report', '0',
            '--seed', '1'],
        stdout=subprocess.PIPE, stderr=log, env=env(), cwd=ROOT,
        start_new_session=True)
    return process


def simulator_result(process):
    out, _ = process.communicate(timeout=120)
    if process.returncode:
        raise SystemExit(f"simulator failed ({process.returncode})")
    return json.loads(out)


def window_rate(samples, start, end):
    """Messages per second between start and end of cumulative samples
    [(time, count)]."""
    inside = [(t, c) for t, c in samples if start <= t <= end]
    if len(inside) < 2:
        raise SystemExit("too few samples to measure a rate")
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return (c1 - c0) / (t1 - t0)


# --- phase 1: the bare subscriber -------------------------------------------

def baseline(port, devices, processes, seconds, workdir, rate):
    subscriber = subprocess.Popen([sys.executable, '-c', BARE_SUBSCRIBER,
            str(port), '$share/bench-baseline/elevator/v1/+/+'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env(), start_new_session=True)
    samples = []

    def read():
        for line in subscriber.stdout:
            samples.append(tuple(json.loads(line)))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(2)
    started = time.time()
    simulators = start_simulators(port, devices, processes, seconds,
        workdir, 'baseline', rate)
    published = simulator_result(simulators)
    stop(subscriber)
    reader.join(5)
    # The steady part: without the first 3 s and the last second.
    rate = window_rate(samples, started + 3, started + seconds - 1)
    return rate, published


# --- phase 2: the bridge ----------------------------------------------------

class Alarms(threading.Thread):
    """Trapped-passenger alarms at QoS 1 every `interval` seconds; their
    latency until the event is visible in the database."""

    def __init__(self, port, database, devices, interval=0.5):
        super().__init__(daemon=True)
        import paho.mqtt.client as mqtt
        self.database = database
        self.devices = devices
        self.interval = interval
        self.stopping = threading.Event()
        self.sent = {}       # faultId -> publication time (monotonic)
        self.seen = {}       # faultId -> latency (s)
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id='bench-alarms', protocol=mqtt.MQTTv311)
        self.client.connect('127.0.0.1', port)
        self.client.loop_start()
        self.poller = threading.Thread(target=self.poll, daemon=True)
        self.run_id = uuid.uuid4().hex[:6]

    def run(self):
        self.poller.start()
        rnd = random.Random(7)
        n = 0
        while not self.stopping.wait(self.interval):
            n += 1
            serial = f'{PREFIX}{rnd.randrange(self.devices):06d}'
            fault_id = f'ALARM-{self.run_id}-{n:04d}'
            payload = json.dumps({'faultId': fault_id, 'faultNo': 7,
                    'recovery': 0, 'carPosition': rnd.randint(1, 18),
                    'occurTime': dt.datetime.now(LOCAL).isoformat(
                        timespec='milliseconds')})
            with self.lock:
                self.sent[fault_id] = time.monotonic()
            self.client.publish(f'elevator/v1/{serial}/fault', payload,
                qos=1)

    def poll(self):
        with psycopg.connect(uri(self.database), autocommit=True) as conn:
            while not self.stopping.is_set() or self.pending():
                pending = self.pending()
                if pending:
                    rows = conn.execute('''SELECT fault_id, follow_up
                        FROM elevator_iot_event
                        WHERE fault_id = ANY(%s)''', (pending,)).fetchall()
                    now = time.monotonic()
                    with self.lock:
                        for fault_id, follow_up in rows:
                            assert follow_up in ('rescue_waiting', 'rescue')
                            self.seen[fault_id] = now - self.sent[fault_id]
                time.sleep(0.02)
                if self.stopping.is_set() and time.monotonic() > \
                        self.deadline:
                    break

    def pending(self):
        with self.lock:
            return [f for f in self.sent if f not in self.seen]

    def finish(self, timeout=30):
        self.deadline = time.monotonic() + timeout
        self.stopping.set()
        self.join()
        self.poller.join()
        self.client.disconnect()
        self.client.loop_stop()


def lag_sampler(database, samples, stopping, interval=0.5):
    """Now minus the newest collectTime committed. Over 1,000 elevators
    taken at random (an index lookup each, not a scan of the table): each
    hears from its device every few seconds, so their newest is within
    milliseconds of the newest of all."""
    with psycopg.connect(uri(database), autocommit=True) as conn:
        sample = [r[0] for r in conn.execute('SELECT elevator '
                'FROM elevator_iot_device WHERE serial LIKE %s '
                'ORDER BY random() LIMIT 1000', (PREFIX + '%',))]
        while not stopping.wait(interval):
            newest = conn.execute('SELECT MAX(collect_time) '
                'FROM elevator_iot_status WHERE elevator = ANY(%s)',
                (sample,)).fetchone()[0]
            if newest is not None:
                now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                samples.append((time.time(),
                        (now - newest).total_seconds()))


HANDLED = re.compile(r'^(\S+ \S+) elevator.bridge INFO handled (\d+) ')


def bridge_samples(log):
    "Cumulative handled counts [(time, count)] of the bridge's log."
    samples = []
    for line in log.read_text(errors='replace').splitlines():
        match = HANDLED.match(line)
        if match:
            stamp = dt.datetime.strptime(match.group(1),
                '%Y-%m-%d %H:%M:%S,%f').timestamp()
            samples.append((stamp, int(match.group(2))))
    return samples


def run_bridge(database, port, devices, processes, seconds, workdir, rate,
        warmup):
    log = workdir / 'bridge.log'
    environment = env()
    with open(log, 'ab') as out:
        bridge = subprocess.Popen([str(BIN / 'elevator'), 'bridge',
                '-d', database, '--port', str(port),
                '--client-id', 'bench-bridge', '--stats', '1'],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=environment, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while 'subscribed to' not in log.read_text(errors='replace'):
            if bridge.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the bridge did not start:\n"
                    + log.read_text(errors='replace')[-3000:])
            time.sleep(0.2)
        alarms = Alarms(port, database, devices)
        lags, stopping = [], threading.Event()
        sampler = threading.Thread(target=lag_sampler,
            args=(database, lags, stopping), daemon=True)
        started = time.time()
        simulators = start_simulators(port, devices, processes,
            warmup + seconds, workdir, 'bridge', rate)
        sampler.start()
        time.sleep(warmup)
        alarms.start()
        published = simulator_result(simulators)
        stopping.set()
        alarms.finish(timeout=60)
        sampler.join()
        time.sleep(1.5)
    finally:
        stop(bridge)
    samples = bridge_samples(log)
    start, end = started + warmup, started + warmup + seconds - 1
    rate = window_rate(samples, start, end)
    steady = [lag for t, lag in lags if start <= t <= end]
    return {
        'rate': rate,
        'published': published,
        'lags': steady,
        'alarms': sorted(alarms.seen.values()),
        'alarms_sent': len(alarms.sent),
        'log': log.read_text(errors='replace'),
        }


def percentile(values, share):
    if not values:
        return float('inf')
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(share * len(values)) - 1))
    return values[index]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--elevators', type=int, default=30000)
    parser.add_argument('--seconds', type=int, default=60,
        help="the bridge's measurement (default: 60)")
    parser.add_argument('--baseline-seconds', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=15,
        help="seconds of the same traffic before the bridge's measurement: "
        "in a database just made, the first message of each of the 30,000 "
        "devices creates its status row (default: 15)")
    parser.add_argument('--publishers', type=int, default=2,
        help="simulator processes (default: 2)")
    parser.add_argument('--rate', type=int, default=10000,
        help="messages per second of all the simulators together; 0: as "
        "fast as they can (default: 10000)")
    parser.add_argument('--keep', action='store_true',
        help="keep the working directory (logs)")
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--database', default=None,
        help="reuse this database (with the devices) instead of building "
        "one; it is not dropped")
    args = parser.parse_args(argv)

    name = args.database or f'bench_iot_{uuid.uuid4().hex[:8]}'
    workdir = Path(tempfile.mkdtemp(prefix='bench-iot-'))
    broker = None
    print(f"bench_iot: {args.elevators} elevators, {args.publishers} "
        f"simulator processes, running at QoS 0; PostgreSQL database "
        f"{name}", flush=True)
    try:
        if args.database:
            with psycopg.connect(uri(name), autocommit=True) as conn:
                devices = conn.execute('SELECT COUNT(*) FROM '
                    'elevator_iot_device').fetchone()[0]
            print(f"set-up    reusing {devices} devices", flush=True)
        else:
            devices, seconds = build_database(name, args.elevators,
                args.seed)
            print(f"set-up    {devices} elevators with a device each in "
                f"{seconds:.0f} s", flush=True)
        broker, port = start_broker(workdir)
        base_rate, base_published = baseline(port, devices, args.publishers,
            args.baseline_seconds, workdir, args.rate)
        print(f"baseline  bare paho subscriber: {base_rate:8.0f} msg/s "
            f"(simulators published {base_published['rate']:.0f} msg/s)",
            flush=True)
        result = run_bridge(name, port, devices, args.publishers,
            args.seconds, workdir, args.rate, args.warmup)
    finally:
        if broker is not None:
            stop(broker)
        if not args.database:
            scratch_db.drop_database(name)
        if args.keep:
            print(f"logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rate = result['rate']
    ratio = rate / base_rate
    lag_p50 = percentile(result['lags'], 0.5)
    lag_p99 = percentile(result['lags'], 0.99)
    alarms = result['alarms']
    alarm_p50 = percentile(alarms, 0.5)
    alarm_p99 = percentile(alarms, 0.99)
    lost = result['alarms_sent'] - len(alarms)
    checks = [
        ('ratio', ratio >= TARGET_RATIO),
        ('rate', rate >= TARGET_RATE),
        ('lag', lag_p99 < TARGET_LAG),
        ('alarm', alarm_p99 < TARGET_ALARM and not lost),
        ]
    ok = dict(checks)
    verdict = {True: 'PASS', False: 'FAIL'}
    print()
    print(f"baseline  bare paho subscriber     {base_rate:8.0f} msg/s")
    print(f"bridge    handled, {args.seconds} s            {rate:8.0f} msg/s "
        f"(simulators published {result['published']['rate']:.0f} msg/s)")
    print(f"ratio     bridge / baseline = {ratio:.2f} (target >= "
        f"{TARGET_RATIO}): {verdict[ok['ratio']]}")
    print(f"rate      bridge {rate:.0f} msg/s (target >= {TARGET_RATE}): "
        f"{verdict[ok['rate']]}")
    print(f"lag       behind the broker p50 {lag_p50:.2f} s, p99 "
        f"{lag_p99:.2f} s, max {max(result['lags'] or [0]):.2f} s "
        f"({len(result['lags'])} samples; target p99 < {TARGET_LAG} s): "
        f"{verdict[ok['lag']]}")
    print(f"alarm     trapped alarm (QoS 1) to committed event: p50 "
        f"{alarm_p50 * 1000:.0f} ms, p99 {alarm_p99 * 1000:.0f} ms, max "
        f"{max(alarms or [0]) * 1000:.0f} ms over {len(alarms)} alarms"
        f"{f', {lost} NOT FOUND' if lost else ''} (target p99 < "
        f"{TARGET_ALARM * 1000:.0f} ms): {verdict[ok['alarm']]}")
    return 0 if all(ok.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
