"""`elevator simulate`: realistic MQTT traffic from N monitoring devices.

For the demo and the benchmarks (DESIGN §5, issue 3). Each simulated device
watches one elevator: the car travels between the floors of its building,
its doors open and close, passengers get in and out, and every change is a
`running` message; now and then a device sends its `periodic` statistics
(cumulative counters that only grow), a fault, a trapped-passenger alarm
(faultNo 7, 8 or 21) and, later, the recovery of that fault; `status`
online is published (retained) when a device starts and offline when it
stops.

The devices are the ones registered in the database (`-c CONF -d DB`, the
first N serials of `elevator.iot.device` that are not retired) or, without
any database, `--serial-prefix P` names them P000000, P000001 ...

The traffic is bounded: it stops after `--count` messages or `--duration`
seconds (10 minutes when neither is given). `--rate` is the total number
of messages per second of all devices together (0: as fast as possible);
`--processes` splits the devices, the rate and the count over several
processes (for the benchmarks: one Python process publishes some 10,000
messages/s). `--seed` makes the sequence of messages reproducible: the same
seed, devices and options give the same messages in the same order (only
the time stamps differ); `--dry-run` prints them as JSON lines instead of
publishing.

MQTT credentials: with `--password` and no `--username`, every device
connects on its own with its serial as user name (what the broker ACL of
`elevator broker-acl` expects; the demo devices' password is
`elevator-demo`) and with its `status` topic as last will; with
`--username`, one connection per process logs in as that account; with
neither, one anonymous connection per process.
"""
import argparse
import collections
import datetime as dt
import json
import logging
import multiprocessing
import os
import random
import signal
import socket
import sys
import threading
import time
import zoneinfo

logger = logging.getLogger('elevator.simulate')

KINDS = ('running', 'periodic', 'fault', 'status')
LOCAL_TZ = zoneinfo.ZoneInfo('Asia/Shanghai')
DEFAULT_DURATION = 600
# Fault codes (../shared/domain/fault_types.csv) by what they cause.
ALARMS = (7, 8, 21)             # trapped passengers / alarm button: rescue
CRITICAL = (1, 2, 3, 5)         # critical safety faults
REPAIRS = (4, 6, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 38)
MINOR = (20, 37)                # recorded, nothing follows
MAX_DEVICE_CONNECTIONS = 500
# Messages published but not yet written to the socket (QoS 0) or not yet
# acknowledged (QoS 1) before the publisher waits: bounds the memory when
# the broker is slower than the simulator.
WINDOW = 2000
FLOOR_HEIGHT = 3.0              # metres
COUNTERS_SINCE = dt.date(2021, 9, 1)  # the devices count from here


def add_parser(subparsers):
    from ..tryton_env import add_arguments
    parser = subparsers.add_parser('simulate',
        help="simulate MQTT traffic from monitoring devices",
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n\n'.join(__doc__.split('\n\n')[1:]))
    add_arguments(parser)
    parser.add_argument('--devices', type=int, default=None,
        help="number of devices (default: every registered device, or 100 "
        "with --serial-prefix)")
    parser.add_argument('--serial-prefix', default=None,
        help="devices named PREFIX000000, PREFIX000001 ... instead of the "
        "database's (no database needed)")
    parser.add_argument('--rate', type=float, default=10,
        help="messages per second of all devices together; 0: as fast as "
        "possible (default: 10)")
    parser.add_argument('--count', type=int, default=None,
        help="stop after this many messages in total")
    parser.add_argument('--duration', type=float, default=None,
        help="stop after this many seconds (default: "
        f"{DEFAULT_DURATION} when --count is not given)")
    parser.add_argument('--qos', type=int, choices=[0, 1], default=1,
        help="QoS of running and periodic messages (faults and status are "
        "always QoS 1; default: 1)")
    parser.add_argument('--kinds', default=','.join(KINDS),
        help="kinds of messages to send, comma-separated "
        f"(default: {','.join(KINDS)})")
    parser.add_argument('--fault-rate', type=float, default=0.003,
        help="share of the messages that raise a fault (default: 0.003)")
    parser.add_argument('--alarm-share', type=float, default=0.2,
        help="share of the faults that are trapped-passenger alarms "
        "(faultNo 7, 8, 21; default: 0.2)")
    parser.add_argument('--periodic-every', type=int, default=20,
        help="a device sends its statistics after this many running "
        "messages (default: 20)")
    parser.add_argument('--processes', type=int, default=1,
        help="publishing processes; devices, rate and count are split "
        "between them (default: 1)")
    parser.add_argument('--seed', type=int, default=1,
        help="random seed: the same seed gives the same messages")
    parser.add_argument('--run-id', default=None,
        help="prefix of the faultId of this run (default: from the start "
        "time, so that a new run raises new faults)")
    parser.add_argument('--host', default=os.environ.get(
            'ELEVATOR_MQTT_HOST', '127.0.0.1'))
    parser.add_argument('--port', type=int, default=int(os.environ.get(
                'ELEVATOR_MQTT_PORT', 1883)))
    parser.add_argument('--username', default=None,
        help="one MQTT account for all the traffic of a process")
    parser.add_argument('--password', default=os.environ.get(
            'ELEVATOR_MQTT_DEVICE_PASSWORD'),
        help="MQTT password; without --username every device connects "
        "with its serial as user name (demo: elevator-demo)")
    parser.add_argument('--protocol', choices=['3.1.1', '5'],
        default='3.1.1', help="MQTT version of the devices")
    parser.add_argument('--report', type=float, default=10,
        help="seconds between progress lines on stderr; 0: none")
    parser.add_argument('--json', action='store_true',
        help="print the final statistics as JSON on stdout")
    parser.add_argument('--dry-run', action='store_true',
        help="print the messages as JSON lines instead of publishing")
    parser.set_defaults(func=run)


# --- the devices' behaviour ------------------------------------------------

class Car:
    """The elevator a device watches: position, doors, passengers and the
    cumulative counters of its periodic statistics."""
    __slots__ = ('serial', 'lowest', 'highest', 'speed', 'position',
        'target', 'phase', 'passengers', 'mode', 'mode_left', 'runs',
        'hours', 'doors', 'mileage', 'bends', 'since_periodic')

    def __init__(self, serial, rnd, today=None):
        self.serial = serial
        # The building and the counters belong to the device, whatever the
        # seed: a simulation started again goes on where the elevator is,
        # its counters only grow (by day: the same within a day).
        own = random.Random(serial)
        self.lowest = own.choice([1, 1, 1, -1, -2])
        self.highest = own.choice([6, 7, 11, 18, 18, 26, 32, 33])
        self.speed = own.choice([1.0, 1.0, 1.5, 1.75, 2.0, 2.5])
        days = ((today or dt.date.today()) - COUNTERS_SINCE).days
        self.runs = own.randint(20000, 200000) + days * own.randint(80, 600)
        self.hours = round(self.runs * own.uniform(0.006, 0.012), 2)
        self.doors = self.runs * 2 + own.randint(0, 5000)
        self.mileage = round(self.runs * own.uniform(15, 40), 1)
        self.bends = self.runs * 4
        self.position = rnd.randint(self.lowest, self.highest) or 1
        self.target = self.position
        self.phase = 'closed'
        self.passengers = 0
        self.mode = 1
        self.mode_left = 0
        self.since_periodic = rnd.randrange(20)

    def _floor(self, rnd):
        floor = rnd.randint(self.lowest, self.highest)
        return floor if floor != 0 else 1

    def step(self, rnd):
        "The next change of the car: the fields of a running message."
        if self.mode_left:
            self.mode_left -= 1
            if not self.mode_left:
                self.mode = 1
        elif self.phase == 'closed' and rnd.random() < 0.002:
            # A maintenance visit (inspection mode) or a power cut.
            self.mode = rnd.choice([2, 2, 2, 5])
            self.mode_left = rnd.randint(5, 30)
        phase = self.phase
        direction, moving, speed, zone = 0, 0, 0.0, 1
        if phase == 'closed':
            self.target = self._floor(rnd)
            if self.target == self.position:
                self.phase = door = 3           # opening
            else:
                self.phase = 'moving'
                door = 5                        # locked
                direction = 1 if self.target > self.position else 2
                moving, speed, zone = 1, self.speed, 0
        elif phase == 'moving':
            floors = abs(self.target - self.position)
            self.position = self.target
            self.runs += 1
            self.mileage = round(self.mileage + floors * FLOOR_HEIGHT, 1)
            self.hours = round(self.hours + (
                    floors * FLOOR_HEIGHT / self.speed + 4) / 3600, 4)
            self.bends += 4
            self.phase = door = 3
        elif phase == 3:
            self.phase = door = 4               # open
            self.doors += 1
            if rnd.random() < 0.5:
                self.passengers = 1 - self.passengers
        elif phase == 4:
            self.phase = door = 1               # closing
        else:
            self.phase = 'closed'
            door = 2
            if rnd.random() < 0.01:
                door = 6                        # not fully closed
        self.since_periodic += 1
        return {
            'serviceMode': self.mode,
            'carDirection': direction,
            'carStatus': moving,
            'doorZone': zone,
            'carPosition': self.position,
            'passengerStatus': self.passengers,
            'speed': speed,
            'doorStatus': door,
            }

    def statistics(self):
        self.since_periodic = 0
        return {
            'totalRunCount': self.runs,
            'totalRunningTime': round(self.hours, 2),
            'doorOpenCount': self.doors,
            'totalRunMileage': self.mileage,
            'ropeBendCount': self.bends,
            }


class Traffic:
    """The deterministic sequence of messages of a set of devices:
    `next()` returns (serial, kind, data) with data without its time
    stamp, which the publisher adds when it sends."""

    def __init__(self, serials, seed=1, kinds=KINDS, fault_rate=0.003,
            alarm_share=0.2, periodic_every=20, run_id='run'):
        self.rnd = random.Random(seed)
        self.cars = [Car(s, self.rnd) for s in serials]
        self.kinds = set(kinds)
        self.fault_rate = fault_rate if 'fault' in self.kinds else 0
        self.alarm_share = alarm_share
        self.periodic_every = periodic_every
        self.run_id = run_id
        self.index = 0
        self.faults = 0
        # (index due, serial, faultId, faultNo, position) of the raised
        # faults, cleared later by a recovery message.
        self.recoveries = collections.deque()
        self.stats = collections.Counter()

    def _fault(self, car):
        rnd = self.rnd
        if rnd.random() < self.alarm_share:
            code = rnd.choice(ALARMS)
            self.stats['alarms'] += 1
        else:
            roll = rnd.random()
            code = rnd.choice(CRITICAL if roll < 0.08
                else MINOR if roll < 0.3 else REPAIRS)
        self.faults += 1
        fault_id = f'{self.run_id}-{self.faults:07d}'
        self.stats['raised'] += 1
        # Rescued or repaired some messages later (a trapped passenger in
        # minutes, a repair in hours: here in 50 to 500 messages).
        self.recoveries.append((self.index + rnd.randint(50, 500),
                car.serial, fault_id, code, car.position))
        return {
            'faultId': fault_id,
            'faultNo': code,
            'recovery': 0,
            'carPosition': car.position,
            }

    def next(self):
        self.index += 1
        if self.recoveries and self.recoveries[0][0] <= self.index:
            _, serial, fault_id, code, position = self.recoveries.popleft()
            self.stats['recovered'] += 1
            return serial, 'fault', {
                'faultId': fault_id,
                'faultNo': code,
                'recovery': 1,
                'carPosition': position,
                }
        car = self.rnd.choice(self.cars)
        if self.fault_rate and self.rnd.random() < self.fault_rate:
            return car.serial, 'fault', self._fault(car)
        if ('periodic' in self.kinds
                and car.since_periodic >= self.periodic_every):
            return car.serial, 'periodic', car.statistics()
        if 'running' in self.kinds:
            return car.serial, 'running', car.step(self.rnd)
        if 'periodic' in self.kinds:
            car.step(self.rnd)
            return car.serial, 'periodic', car.statistics()
        if self.fault_rate:
            return car.serial, 'fault', self._fault(car)
        raise ValueError("no kind of message left to send")


def stamp(now=None):
    "ISO 8601 local time with offset and milliseconds, as devices send."
    return (now or dt.datetime.now(LOCAL_TZ)).isoformat(
        timespec='milliseconds')


def encode(kind, data, when):
    "The JSON payload of a message of `kind` sent at `when`."
    if kind == 'fault':
        data = {**data, 'occurTime': when}
    elif kind == 'status':
        data = {**data, 'ts': when}
    else:
        data = {'collectTime': when, **data}
    return json.dumps(data, separators=(',', ':')).encode()


def topic(serial, kind):
    return f'elevator/v1/{serial}/{kind}'


# --- MQTT -------------------------------------------------------------------

class Publisher:
    """Publishes over one connection per process, or one per device when
    the devices log in with their own serial."""

    def __init__(self, serials, options, worker):
        self.options = options
        self.per_device = bool(options.password and not options.username)
        self.clients = {}
        self.window = collections.deque()
        self.failed = 0
        prefix = f'sim-{os.getpid()}-{worker}'
        if self.per_device:
            if len(serials) > MAX_DEVICE_CONNECTIONS:
                raise SystemExit(f"simulate: {len(serials)} devices with "
                    f"their own connection is too many (at most "
                    f"{MAX_DEVICE_CONNECTIONS} per process): use more "
                    "--processes, or --username for one connection")
            for serial in serials:
                self.clients[serial] = self._connect(serial, serial,
                    options.password, will=serial)
        else:
            self.shared = self._connect(prefix, options.username,
                options.password)

    def _connect(self, client_id, username, password, will=None):
        import paho.mqtt.client as mqtt
        protocol = mqtt.MQTTv5 if self.options.protocol == '5' \
            else mqtt.MQTTv311
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id, protocol=protocol)
        if username:
            client.username_pw_set(username, password)
        if will:
            client.will_set(topic(will, 'status'), encode('status',
                    {'online': False}, stamp()), qos=1, retain=True)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        connected = threading.Event()
        refused = []

        def on_connect(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                refused.append(str(reason_code))
            connected.set()
        client.on_connect = on_connect
        client.connect(self.options.host, self.options.port, keepalive=60)
        client.loop_start()
        if not connected.wait(30) or refused:
            client.loop_stop()
            raise SystemExit(f"simulate: MQTT {self.options.host}:"
                f"{self.options.port} refused {username or 'anonymous'}: "
                f"{refused[0] if refused else 'no answer'}")
        # Connected: the callback may go.
        client.on_connect = None
        return client

    def publish(self, serial, kind, payload, qos, retain=False):
        client = self.clients[serial] if self.per_device else self.shared
        info = client.publish(topic(serial, kind), payload, qos=qos,
            retain=retain)
        self.window.append(info)
        if len(self.window) > WINDOW:
            self._wait(self.window.popleft())

    def _wait(self, info, deadline=None):
        while not info.is_published():
            if info.rc or (deadline and time.monotonic() > deadline):
                self.failed += 1
                return
            try:
                info.wait_for_publish(1)
            except (RuntimeError, ValueError):
                # Not sent (disconnected, queue full): lost.
                self.failed += 1
                return

    def close(self, timeout=10):
        # What is still under way goes out, within reason: the broker may
        # be gone already.
        deadline = time.monotonic() + timeout
        while self.window:
            self._wait(self.window.popleft(), deadline)
        clients = list(self.clients.values()) if self.per_device \
            else [self.shared]
        for client in clients:
            client.disconnect()
            client.loop_stop()


class RawPublisher:
    """QoS 0 only, one connection: MQTT 3.1.1 PUBLISH packets written in
    bulk to the socket. The same packets as paho's, at a few microseconds a
    message instead of forty: the load generator of the benchmarks leaves
    the processor to what it measures."""
    per_device = False
    failed = 0
    FLUSH = 32 * 1024
    KEEPALIVE = 60

    def __init__(self, options, client_id):
        self.sock = socket.create_connection((options.host, options.port),
            timeout=30)
        flags = 0x02  # clean session
        payload = _mqtt_string(client_id.encode())
        if options.username:
            flags |= 0x80
            payload += _mqtt_string(options.username.encode())
            if options.password:
                flags |= 0x40
                payload += _mqtt_string(options.password.encode())
        header = (_mqtt_string(b'MQTT') + bytes([4, flags])
            + self.KEEPALIVE.to_bytes(2, 'big'))
        self.sock.sendall(_packet(0x10, header + payload))
        answer = b''
        while len(answer) < 4:
            chunk = self.sock.recv(4 - len(answer))
            if not chunk:
                break
            answer += chunk
        if len(answer) < 4 or answer[0] != 0x20 or answer[3] != 0:
            self.sock.close()
            raise SystemExit(f"simulate: MQTT {options.host}:"
                f"{options.port} refused the connection ({answer!r})")
        self.sock.setblocking(True)
        self.sock.settimeout(None)
        self.buffer = bytearray()
        self.pinged = time.monotonic()

    def publish(self, serial, kind, payload, qos, retain=False):
        if qos:
            raise ValueError('RawPublisher publishes at QoS 0 only')
        body = _mqtt_string(topic(serial, kind).encode()) + payload
        self.buffer += _packet(0x31 if retain else 0x30, body)
        if len(self.buffer) >= self.FLUSH:
            self.flush()

    def flush(self):
        if self.buffer:
            self.sock.sendall(self.buffer)
            self.buffer.clear()
        if time.monotonic() - self.pinged > self.KEEPALIVE / 2:
            self.sock.sendall(b'\xc0\x00')  # PINGREQ
            self.pinged = time.monotonic()
            self.sock.setblocking(False)
            try:
                while self.sock.recv(4096):  # PINGRESPs
                    pass
            except BlockingIOError:
                pass
            self.sock.setblocking(True)

    def close(self):
        self.flush()
        self.sock.sendall(b'\xe0\x00')  # DISCONNECT
        self.sock.close()


def _mqtt_string(data):
    return len(data).to_bytes(2, 'big') + data


def _packet(first, body):
    "An MQTT packet: first byte, remaining length, body."
    size, length = len(body), bytearray()
    while True:
        byte, size = size % 128, size // 128
        length.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([first]) + bytes(length) + body


class Printer:
    "--dry-run: the messages as JSON lines on stdout."
    per_device = False
    failed = 0

    def publish(self, serial, kind, payload, qos, retain=False):
        sys.stdout.write(json.dumps({'topic': topic(serial, kind),
                    'qos': qos, 'retain': retain,
                    'payload': json.loads(payload)},
                ensure_ascii=False, separators=(',', ':')) + '\n')

    def close(self):
        sys.stdout.flush()


# --- running ----------------------------------------------------------------

def worker(index, serials, options, count, rate, sent, stop, results):
    """Publish the traffic of `serials` (one process): `count` messages at
    most, `rate` per second (0: as fast as possible), until `stop`."""
    try:
        if threading.current_thread() is threading.main_thread():
            # A child process: the parent handles Ctrl-C and SIGTERM.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        stats = publish_traffic(index, serials, options, count, rate, sent,
            stop)
    except SystemExit as exit:
        stats = {'error': str(exit)}
    except Exception as exception:  # reported by the parent
        logger.exception('simulator process %s failed', index)
        stats = {'error': f'{type(exception).__name__}: {exception}'}
    results.put((index, stats))


def publish_traffic(index, serials, options, count, rate, sent, stop):
    kinds = options.kinds
    traffic = Traffic(serials, seed=options.seed * 1000003 + index,
        kinds=kinds, fault_rate=options.fault_rate,
        alarm_share=options.alarm_share,
        periodic_every=options.periodic_every,
        run_id=f'{options.run_id}{index}' if options.processes > 1
        else options.run_id)
    if options.dry_run:
        publisher = Printer()
    elif (options.qos == 0 and set(kinds) <= {'running', 'periodic'}
            and not (options.password and not options.username)):
        # Only QoS 0 over one connection: the quick way.
        publisher = RawPublisher(options, f'sim-{os.getpid()}-{index}')
    else:
        publisher = Publisher(serials, options, index)
    stats = collections.Counter()
    qos = {'running': options.qos, 'periodic': options.qos, 'fault': 1,
        'status': 1}
    announce = 'status' in kinds
    total = 0

    def send(serial, kind, data, retain=False):
        nonlocal total
        publisher.publish(serial, kind, encode(kind, data, stamp()),
            qos[kind], retain=retain)
        stats[kind] += 1
        total += 1
        if not total % 200:
            sent[index] = total

    started = time.monotonic()
    # Devices with a connection of their own say goodbye at the end: within
    # the count.
    goodbyes = len(serials) if announce and publisher.per_device else 0
    budget = None if count is None else max(count - goodbyes, 0)
    if announce:
        for serial in serials:
            if budget is not None and total >= budget:
                break
            send(serial, 'status', {'online': True}, retain=True)
    deadline = started + options.duration if options.duration else None
    tick = 0
    while budget is None or total < budget:
        tick += 1
        if not tick % 100:
            if stop.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
        if rate:
            delay = started + total / rate - time.monotonic()
            if delay > 0.002:
                flush = getattr(publisher, 'flush', None)
                if flush:
                    flush()
                if deadline is not None:
                    delay = min(delay, max(deadline - time.monotonic(), 0))
                if stop.wait(delay):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
        serial, kind, data = traffic.next()
        send(serial, kind, data)
    if announce and publisher.per_device:
        # The devices switch off: they say so before they disconnect.
        for serial in serials:
            send(serial, 'status', {'online': False}, retain=True)
    publisher.close()
    elapsed = time.monotonic() - started
    sent[index] = total
    stats.update({k: v for k, v in traffic.stats.items()})
    result = dict(stats)
    result.update({'messages': total, 'seconds': elapsed,
            'failed': publisher.failed})
    return result


def split(total, parts):
    "`total` split into `parts` integers as equal as possible."
    if total is None:
        return [None] * parts
    return [total // parts + (1 if i < total % parts else 0)
        for i in range(parts)]


def device_serials(options):
    if options.serial_prefix is not None:
        count = options.devices if options.devices is not None else 100
        return [f'{options.serial_prefix}{i:06d}' for i in range(count)]
    from ..tryton_env import transaction
    with transaction(options.database, readonly=True,
            config_file=options.config) as pool:
        Device = pool.get('elevator.iot.device')
        serials = [d['serial'] for d in Device.search_read([
                    ('state', '!=', 'retired'),
                    ], order=[('serial', 'ASC')], limit=options.devices,
                fields_names=['serial'])]
    if not serials:
        raise SystemExit(f"simulate: no device in database "
            f"{options.database!r} (or use --serial-prefix)")
    if options.devices and len(serials) < options.devices:
        logger.warning('only %s devices in the database', len(serials))
    return serials


def run(options):
    logging.basicConfig(level=logging.INFO,
        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    options.kinds = [k.strip() for k in options.kinds.split(',') if k.strip()]
    unknown = set(options.kinds) - set(KINDS)
    if unknown or not options.kinds:
        raise SystemExit(f"simulate: --kinds must be among {', '.join(KINDS)}")
    if options.count is None and options.duration is None:
        options.duration = DEFAULT_DURATION
    if options.run_id is None:
        options.run_id = 'S' + format(int(time.time()), 'x')
    if options.processes < 1 or options.rate < 0:
        raise SystemExit("simulate: --processes >= 1 and --rate >= 0")
    serials = device_serials(options)
    processes = min(options.processes, len(serials))
    options.processes = processes
    groups = [serials[i::processes] for i in range(processes)]
    counts = split(options.count, processes)
    rate = options.rate / processes
    sent = multiprocessing.Array('q', processes, lock=False)
    stop = multiprocessing.Event()
    results = multiprocessing.Queue()
    if not options.dry_run:
        logger.info('%s devices, %s, %s process(es), MQTT %s:%s%s',
            len(serials), f'{options.rate:g} msg/s' if options.rate
            else 'as fast as possible', processes, options.host,
            options.port, ' (one connection per device)'
            if options.password and not options.username else '')

    def terminate(*_):
        stop.set()
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    started = time.monotonic()
    children = []
    if processes == 1:
        thread = threading.Thread(target=worker, args=(0, groups[0],
                options, counts[0], rate, sent, stop, results), daemon=True)
        thread.start()
        children.append(thread)
    else:
        context = multiprocessing.get_context('fork')
        for i in range(processes):
            process = context.Process(target=worker, args=(i, groups[i],
                    options, counts[i], rate, sent, stop, results),
                daemon=True)
            process.start()
            children.append(process)
    collected = {}
    last_report, last_total = started, 0
    while len(collected) < processes:
        try:
            index, stats = results.get(timeout=0.5)
            collected[index] = stats
        except Exception:  # queue.Empty
            pass
        now = time.monotonic()
        if (options.report and not options.dry_run
                and now - last_report >= options.report):
            total = sum(sent)
            logger.info('%s messages sent, %.0f msg/s', total,
                (total - last_total) / (now - last_report))
            last_report, last_total = now, total
        if not any(c.is_alive() for c in children) and results.empty() \
                and len(collected) < processes:
            time.sleep(0.5)
            if results.empty():
                break
    for child in children:
        child.join(5)
    elapsed = time.monotonic() - started
    errors = [s['error'] for s in collected.values() if 'error' in s]
    summary = collections.Counter()
    for stats in collected.values():
        summary.update({k: v for k, v in stats.items()
                if isinstance(v, (int, float)) and k != 'seconds'})
    summary = dict(summary)
    summary['seconds'] = round(elapsed, 3)
    summary['rate'] = round(summary.get('messages', 0) / elapsed, 1) \
        if elapsed else 0
    summary['devices'] = len(serials)
    summary['processes'] = processes
    if options.json:
        print(json.dumps(summary, sort_keys=True))
    elif not options.dry_run:
        print(f"elevator simulate: {summary.get('messages', 0)} messages "
            f"from {len(serials)} devices in {elapsed:.1f} s "
            f"({summary['rate']:.0f} msg/s): "
            + ', '.join(f"{summary.get(k, 0)} {k}" for k in KINDS)
            + f"; faults raised {summary.get('raised', 0)} (trapped alarms "
            f"{summary.get('alarms', 0)}), recoveries "
            f"{summary.get('recovered', 0)}", file=sys.stderr)
    for error in errors:
        print(error, file=sys.stderr)
    if len(collected) < processes:
        print("simulate: a publishing process died", file=sys.stderr)
        return 1
    return 1 if errors or summary.get('failed') else 0
