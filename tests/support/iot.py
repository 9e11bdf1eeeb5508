"""The IoT database template, the bridge process, the publisher, the device
payloads and the queries shared by the tests/test_iot_*.py files."""
import atexit
import datetime as dt
import json
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from elevator_platform import scratch_db, tryton_env
from support.db import database_name, query
from support.process import BIN, ROOT, WAIT, stop, wait_for

DISTRICT = '350302'
# Elevators with one controller data terminal each, plus a retired device.
DEVICE_COUNT = 40
SERIALS = [f'PT-T-{n:04d}' for n in range(DEVICE_COUNT)]
RETIRED = 'PT-T-RETIRED'
LOCAL = dt.timezone(dt.timedelta(hours=8))


_template = {}


def iot_template():
    """A database with elevator_iot, DEVICE_COUNT elevators in use each with
    a controller terminal (SERIALS) and a retired device; made once per
    test run and copied by iot_database()."""
    if 'name' not in _template:
        name = database_name('iot_template')
        scratch_db.create_database(name, modules=['elevator_iot'])
        atexit.register(scratch_db.drop_database, name)
        with tryton_env.transaction(name) as pool:
            create_devices(pool)
        # Tryton's pooled connections would keep the copy from starting.
        from trytond import backend
        backend.Database(name).close()
        _template['name'] = name
    return _template['name']


def iot_database(kind):
    name = database_name(kind)
    scratch_db.create_database(name, template=iot_template())
    return name


def create_devices(pool):
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Device = pool.get('elevator.iot.device')
    region = ModelData.get_id('elevator', f'region_{DISTRICT}')
    vendor, = Party.create([{'name': '莆田物联测试科技有限公司'}])
    place, = Place.create([{'name': '城厢物联测试小区',
                'category': 'residential', 'region': region}])
    elevators = Elevator.create([{
                'registration_code': f'3110{DISTRICT}2019{n:06d}',
                'category': '3110', 'region': region, 'place': place.id,
                'place_category': 'residential',
                } for n in range(DEVICE_COUNT + 1)])
    Elevator.put_in_use(elevators)
    devices = Device.create([{
                'serial': serial, 'type': 'controller_terminal',
                'elevator': elevator.id, 'vendor': vendor.id,
                } for serial, elevator in zip(SERIALS + [RETIRED],
                elevators)])
    Device.retire(devices[-1:])


class BridgeProcess:
    "`elevator bridge` in a subprocess, its output in a log file."

    def __init__(self, database, port, workdir, client_id=None,
            protocol='auto', uri=None, args=()):
        self.database = database
        self.port = port
        self.workdir = Path(workdir)
        self.client_id = client_id or f'test-bridge-{uuid.uuid4().hex[:8]}'
        self.protocol = protocol
        self.uri = uri or scratch_db.database_uri()
        self.args = list(args)
        self.log = self.workdir / f'bridge-{self.client_id}.log'
        self.process = None
        self.starts = 0

    def start(self, wait=True):
        env = {**os.environ, 'TRYTOND_DATABASE_URI': self.uri,
            'PYTHONUNBUFFERED': '1'}
        env.pop('TRYTOND_CONFIG', None)
        self.starts += 1
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, 'ab') as out:
            self.process = subprocess.Popen([str(BIN / 'elevator'), 'bridge',
                    '-d', self.database, '--port', str(self.port),
                    '--client-id', self.client_id, '--protocol',
                    self.protocol, '--stats', '5', *self.args],
                stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                start_new_session=True)
        if wait:
            self.wait_connected()
        return self

    def output(self, since_start=True):
        text = self.log.read_text(errors='replace')
        return text[self.offset:] if since_start else text

    def wait_connected(self):
        def connected():
            if self.process.poll() is not None:
                raise AssertionError('the bridge exited:\n'
                    + self.output()[-4000:])
            return 'subscribed to' in self.output()
        wait_for(connected, 'the bridge to connect')

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        "SIGKILL: no clean-up, no last acknowledgement."
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        stop(self.process)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Publisher:
    "A paho client publishing device messages."

    def __init__(self, port, protocol=mqtt.MQTTv5, client_id=None,
            username=None, password=None, ca_file=None):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f'test-pub-{uuid.uuid4().hex[:8]}',
            protocol=protocol)
        if username:
            self.client.username_pw_set(username, password)
        if ca_file:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect('127.0.0.1', port)
        self.client.loop_start()
        assert connected.wait(WAIT), 'publisher did not connect'
        self.infos = []

    def send(self, serial, kind, payload, qos=1, topic=None, retain=False):
        if not isinstance(payload, (bytes, bytearray)):
            payload = json.dumps(payload, ensure_ascii=False).encode()
        info = self.client.publish(
            topic or f'elevator/v1/{serial}/{kind}', payload, qos=qos,
            retain=retain)
        self.infos.append(info)
        if len(self.infos) > 1000:
            self.flush()
        return info

    def flush(self):
        for info in self.infos:
            info.wait_for_publish(WAIT)
            assert info.is_published(), 'message not published'
        self.infos = []

    def close(self):
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def local(stamp):
    "ISO 8601 with the +08:00 offset of Putian, as devices send."
    return stamp.astimezone(LOCAL).isoformat(timespec='milliseconds')


def utc(stamp):
    "The UTC naive datetime Tryton stores for an aware datetime."
    return stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)


def now():
    "Aware UTC now, to the millisecond as devices stamp."
    stamp = dt.datetime.now(dt.timezone.utc)
    return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)


def running(stamp, **values):
    data = {'collectTime': local(stamp), 'serviceMode': 1,
        'carDirection': 0, 'carStatus': 0, 'doorZone': 1, 'carPosition': 1,
        'passengerStatus': 0, 'speed': 0.0, 'doorStatus': 2}
    data.update(values)
    return data


def periodic(stamp, runs, **values):
    data = {'collectTime': local(stamp), 'totalRunCount': runs,
        'totalRunningTime': round(runs * 0.01, 2),
        'doorOpenCount': runs * 2, 'totalRunMileage': runs * 20.0,
        'ropeBendCount': runs * 4}
    data.update(values)
    return data


def fault(fault_id, fault_no, stamp, recovery=0, **values):
    data = {'faultId': fault_id, 'faultNo': fault_no, 'recovery': recovery,
        'occurTime': local(stamp), 'carPosition': 3}
    data.update(values)
    return data


def status_row(database, serial, uri=None):
    "The live status of the elevator of a device, as a dict."
    rows = query(database, '''
        SELECT s.online, s.collect_time, s.service_mode, s.car_direction,
            s.car_status, s.door_zone, s.car_position, s.passenger_status,
            s.speed, s.door_status, s.open_faults, s.critical,
            s.status_time, d.serial, s.updated_at
        FROM elevator_iot_status s
        JOIN elevator_iot_device d ON d.elevator = s.elevator
        WHERE d.serial = %s''', (serial,), uri)
    if not rows:
        return None
    names = ['online', 'collect_time', 'service_mode', 'car_direction',
        'car_status', 'door_zone', 'car_position', 'passenger_status',
        'speed', 'door_status', 'open_faults', 'critical', 'status_time',
        'device', 'updated_at']
    return dict(zip(names, rows[0]))


def device_row(database, serial, uri=None):
    state, last_seen = query(database, '''SELECT state, last_seen
        FROM elevator_iot_device WHERE serial = %s''', (serial,), uri)[0]
    return {'state': state, 'last_seen': last_seen}


def events(database, serial, uri=None):
    "{faultId: event} of a device."
    rows = query(database, '''
        SELECT e.fault_id, e.state, t.code, e.reaction, e.follow_up,
            e.occurred_at, e.cleared_at, e.source, e.car_position
        FROM elevator_iot_event e
        JOIN elevator_iot_device d ON d.id = e.device
        JOIN elevator_iot_fault_type t ON t.id = e.fault_type
        WHERE d.serial = %s''', (serial,), uri)
    names = ['state', 'code', 'reaction', 'follow_up', 'occurred_at',
        'cleared_at', 'source', 'car_position']
    return {r[0]: dict(zip(names, r[1:])) for r in rows}


def daily(database, serial, uri=None):
    rows = query(database, '''
        SELECT y.date, y.run_count_first, y.run_count_last,
            y.door_count_first, y.door_count_last, y.mileage_first,
            y.mileage_last, y.running_hours_first, y.running_hours_last,
            y.rope_bend_last
        FROM elevator_iot_daily y
        JOIN elevator_iot_device d ON d.elevator = y.elevator
        WHERE d.serial = %s ORDER BY y.date''', (serial,), uri)
    names = ['date', 'run_first', 'run_last', 'door_first', 'door_last',
        'mileage_first', 'mileage_last', 'hours_first', 'hours_last',
        'rope_bend']
    return [dict(zip(names, r)) for r in rows]


def dead_letters(database, where='TRUE', params=(), uri=None):
    rows = query(database, f'''
        SELECT topic, device_serial, kind, reason, detail, payload, size,
            source
        FROM elevator_iot_dead_letter WHERE {where} ORDER BY id''', params,
        uri)
    names = ['topic', 'device_serial', 'kind', 'reason', 'detail',
        'payload', 'size', 'source']
    return [dict(zip(names, r)) for r in rows]


def create_iot_database(name, workdir):
    "An empty database with elevator_iot activated by trytond-admin."
    scratch_db.database_uri()  # a clear error without PostgreSQL
    scratch_db.create_database(name, modules=['elevator_iot'])
