"""`elevator broker-acl` with a real Mosquitto and real paho clients.

A fresh PostgreSQL database gets `elevator_iot` and four devices: two with
MQTT credentials, one retired that still has a hash (left out all the
same) and one without a password. `elevator broker-acl` writes the password
file and ACL; this test starts its OWN Mosquitto on a free port with
`allow_anonymous false` and those files, and proves with MQTT 5 clients
that a device publishes under its own serial, cannot publish under another
serial (the bridge account, subscribed to everything, never receives it),
reads nothing, that wrong passwords, unknown devices, devices without
password and retired devices are refused, and that `--reload` makes the
running broker drop a device retired since.
"""
import getpass
import grp
import os
import queue
import socket
import stat
import subprocess
import tempfile
import textwrap
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from elevator_platform import cli, scratch_db, tryton_env
from support.db import database_name
from support.iot import create_iot_database
from support.process import WAIT, free_port, stop, wait_for

from trytond.modules.elevator_iot.passwords import hash_password

DISTRICT = '350303'
DEVICES = {
    # serial: (password, retired)
    'PT-ACL-0001': ('device-one-pass', False),
    'PT-ACL-0002': ('device-two-pass', False),
    'PT-ACL-0003': ('device-three-pass', True),
    'PT-ACL-0004': (None, False),
    }
ONE, TWO, RETIRED, NO_PASSWORD = DEVICES
BRIDGE = ('bridge', 'bridge-secret')
MONITOR = ('monitor', 'monitor-secret')
NOT_AUTHORIZED = 135


@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-acl-') as path:
        yield Path(path)


@pytest.fixture(scope='module')
def database(workdir):
    name = database_name('acl')
    create_iot_database(name, workdir)
    try:
        with tryton_env.transaction(name) as pool:
            create_devices(pool)
        yield name
    finally:
        scratch_db.drop_database(name)


def create_devices(pool):
    from trytond.transaction import Transaction
    ModelData = pool.get('ir.model.data')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Device = pool.get('elevator.iot.device')
    region = ModelData.get_id('elevator', f'region_{DISTRICT}')
    place, = Place.create([{'name': '涵江ACL测试大厦',
                'category': 'office', 'region': region}])
    elevators = Elevator.create([{
                'registration_code': f'3110{DISTRICT}2020{n:06d}',
                'category': '3110', 'region': region, 'place': place.id,
                } for n in range(1, len(DEVICES) + 1)])
    devices = Device.create([{
                'serial': serial, 'type': 'controller_terminal',
                'elevator': elevator.id, 'password': password,
                } for (serial, (password, _)), elevator
            in zip(DEVICES.items(), elevators)])
    # Retired behind the workflow's back, so that its hash is still there:
    # the command must leave it out for its state alone.
    Device.write([d for d in devices if DEVICES[d.serial][1]],
        {'state': 'retired'})
    Transaction().commit()


@pytest.fixture(scope='module')
def files(database, workdir):
    "Password file and ACL written by the command."
    paths = {'password': workdir / 'elevator.passwd',
        'acl': workdir / 'elevator.acl'}
    code = cli.main(['broker-acl', '-d', database,
            '--password-file', str(paths['password']),
            '--acl-file', str(paths['acl']),
            '--service', ':'.join(BRIDGE),
            '--service-hash', f'{MONITOR[0]}:{hash_password(MONITOR[1])}'])
    assert code == 0
    return paths


@pytest.fixture(scope='module')
def broker(files, workdir):
    "Our own Mosquitto on a free port using the written files."
    port = free_port()
    pid_file = workdir / 'mosquitto.pid'
    conf = workdir / 'mosquitto.conf'
    # `user`: started as root Mosquitto would switch to the user mosquitto,
    # which cannot read this test's files; as anybody else it is ignored.
    conf.write_text(textwrap.dedent(f'''\
        per_listener_settings false
        listener {port} 127.0.0.1
        allow_anonymous false
        password_file {files['password']}
        acl_file {files['acl']}
        persistence false
        pid_file {pid_file}
        user {getpass.getuser()}
        log_dest file {workdir / 'mosquitto.log'}
        log_type all
        '''))
    log = workdir / 'mosquitto.log'
    with open(workdir / 'mosquitto.out', 'ab') as out:
        process = subprocess.Popen(['mosquitto', '-c', str(conf)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def ready():
        if process.poll() is not None:
            raise AssertionError("mosquitto exited:\n"
                + (workdir / 'mosquitto.out').read_text())
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
        except OSError:
            return False
        return pid_file.exists()
    try:
        wait_for(ready, "mosquitto to start")
        yield {'port': port, 'pid_file': pid_file, 'log': log}
    except BaseException:
        for path in (workdir / 'mosquitto.out', log):
            if path.exists():
                print(path.read_text(errors='replace')[-6000:])
        raise
    finally:
        stop(process)


class Client:
    "A paho MQTT 5 client whose callbacks land in events and queues."

    def __init__(self, port, username=None, password=None):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=f'acl-test-{uuid.uuid4().hex[:10]}',
            protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        if username:
            self.client.username_pw_set(username, password)
        self.connack = threading.Event()
        self.reason = None
        self.disconnected = threading.Event()
        self.messages = queue.Queue()
        self.subacks = {}
        self.pubacks = {}
        self._acked = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, m.payload))
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.connect('127.0.0.1', port, keepalive=30)
        self.client.loop_start()
        assert self.connack.wait(WAIT), "no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason = reason_code
        self.connack.set()

    def _on_disconnect(self, client, userdata, flags, reason_code,
            properties):
        self.disconnected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._acked:
            self.subacks[mid] = reason_codes
            self._acked.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._acked:
            self.pubacks[mid] = reason_code
            self._acked.notify_all()

    @property
    def accepted(self):
        return not self.reason.is_failure

    def _wait(self, acks, mid):
        with self._acked:
            assert self._acked.wait_for(lambda: mid in acks, WAIT)
            return acks[mid]

    def subscribe(self, topic):
        "Subscribe at QoS 1; return the SUBACK's reason code."
        _, mid = self.client.subscribe(topic, qos=1)
        reason, = self._wait(self.subacks, mid)
        return reason

    def publish(self, topic, payload):
        "Publish at QoS 1; return the PUBACK's reason code."
        info = self.client.publish(topic, payload, qos=1)
        return self._wait(self.pubacks, info.mid)

    def received(self, until, timeout=WAIT):
        """The (topic, payload) received until the one with payload `until`
        (included)."""
        got = []
        while True:
            item = self.messages.get(timeout=timeout)
            got.append(item)
            if item[1] == until:
                return got

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(broker):
    opened = []

    def connect(username=None, password=None):
        client = Client(broker['port'], username, password)
        opened.append(client)
        return client
    yield connect
    for client in opened:
        client.close()


def topic(serial, kind='running'):
    return f'elevator/v1/{serial}/{kind}'


def test_files(files, database):
    passwords = files['password'].read_text().splitlines()
    users = [line.split(':', 1)[0] for line in passwords]
    # Retired and password-less devices are left out.
    assert users == [ONE, TWO, BRIDGE[0], MONITOR[0]]
    with tryton_env.transaction(database, readonly=True) as pool:
        Device = pool.get('elevator.iot.device')
        stored = {d.serial: d.password_hash for d in Device.search([])}
    # The platform only copies the stored hashes: it knows no password.
    assert passwords[0] == f'{ONE}:{stored[ONE]}'
    assert all(stored[s].startswith('$7$') for s in (ONE, TWO, RETIRED))
    assert not any(DEVICES[ONE][0] in line for line in passwords)
    assert not any(BRIDGE[1] in line for line in passwords)
    acl = files['acl'].read_text()
    assert 'pattern write elevator/v1/%u/#' in acl
    assert 'user bridge\ntopic read elevator/v1/#' in acl
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # No temporary file is left behind.
    assert sorted(p.name for p in files['acl'].parent.glob('.elevator*')) \
        == []


def test_group_readable_files(database, workdir):
    group = grp.getgrgid(os.getgid()).gr_name
    target = workdir / 'group'
    target.mkdir()
    code = cli.main(['broker-acl', '-d', database, '--group', group,
            '--password-file', str(target / 'passwd'),
            '--acl-file', str(target / 'acl')])
    assert code == 0
    for name in ('passwd', 'acl'):
        info = (target / name).stat()
        assert stat.S_IMODE(info.st_mode) == 0o640
        assert info.st_gid == os.getgid()


def test_bad_service_accounts(database, workdir):
    base = ['broker-acl', '-d', database,
        '--password-file', str(workdir / 'x.passwd'),
        '--acl-file', str(workdir / 'x.acl')]
    assert cli.main(base + ['--service', 'no-password']) == 2
    assert cli.main(base + ['--service', 'bad name:secret']) == 2
    assert cli.main(base + ['--service-hash', 'bridge:plaintext']) == 2
    # A service account may not take a device's name (and its rights).
    assert cli.main(base + ['--service', f'{ONE}:secret']) == 1
    assert not (workdir / 'x.passwd').exists()


def test_device_publishes_under_its_own_serial(clients):
    bridge = clients(*BRIDGE)
    monitor = clients(*MONITOR)
    assert bridge.accepted and monitor.accepted
    # The bridges' shared subscription and a plain one.
    assert not bridge.subscribe(
        '$share/elevator-test/elevator/v1/+/+').is_failure
    assert not monitor.subscribe('elevator/v1/#').is_failure
    device = clients(ONE, DEVICES[ONE][0])
    assert device.accepted, device.reason
    assert device.publish(topic(ONE), b'{"carPosition": 3}') == 0
    for reader in (bridge, monitor):
        assert reader.received(b'{"carPosition": 3}') == [
            (topic(ONE), b'{"carPosition": 3}')]
    # The bridge's heartbeat to itself (docs/iot-protocol.md §4): allowed
    # to the bridges' account, not to a device.
    heartbeat = 'elevator/bridge/acl-test/heartbeat'
    assert not bridge.subscribe(
        f'$share/elevator-test/{heartbeat}').is_failure
    assert bridge.publish(heartbeat, b'1 0') == 0
    assert bridge.received(b'1 0') == [(heartbeat, b'1 0')]
    assert device.publish(heartbeat, b'forged') == NOT_AUTHORIZED


def test_device_cannot_publish_under_another_serial(clients):
    bridge = clients(*BRIDGE)
    assert not bridge.subscribe('elevator/v1/#').is_failure
    device = clients(ONE, DEVICES[ONE][0])
    forged = b'{"faultId": "forged", "faultNo": 7}'
    for target in (topic(TWO, 'fault'), 'elevator/v1/fault',
            f'elevator/v1/{ONE}x/fault', 'other/topic'):
        assert device.publish(target, forged) == NOT_AUTHORIZED, target
    # The device's next message on its own topic arrives, and nothing of
    # the forged ones before it: the broker keeps a client's order.
    assert device.publish(topic(ONE, 'status'), b'marker') == 0
    assert bridge.received(b'marker') == [(topic(ONE, 'status'), b'marker')]
    # The other device is not fooled either way.
    other = clients(TWO, DEVICES[TWO][0])
    assert other.publish(topic(ONE, 'fault'), forged) == NOT_AUTHORIZED
    assert other.publish(topic(TWO), b'two') == 0
    assert bridge.received(b'two') == [(topic(TWO), b'two')]


def test_device_reads_nothing(clients):
    bridge = clients(*BRIDGE)
    assert not bridge.subscribe('elevator/v1/#').is_failure
    device = clients(ONE, DEVICES[ONE][0])
    other = clients(TWO, DEVICES[TWO][0])
    for filter_ in ('elevator/v1/#', topic(TWO), topic(ONE), '#'):
        # Mosquitto may grant a filter with wildcards and check each
        # message on delivery: what counts is that nothing arrives.
        assert device.subscribe(filter_) in (1, NOT_AUTHORIZED), filter_
    assert other.publish(topic(TWO), b'for the bridge only') == 0
    assert device.publish(topic(ONE), b'own message') == 0
    assert [p for _, p in bridge.received(b'own message')] == [
        b'for the bridge only', b'own message']
    # A last round trip of the device: the broker sends a client's packets
    # in order, so anything delivered to it would have come before this
    # PUBACK.
    assert device.publish(topic(ONE), b'last') == 0
    assert device.messages.empty()


def test_wrong_password_is_refused(clients):
    for username, password in [
            (ONE, 'wrong'), (ONE, DEVICES[TWO][0]), (ONE, ''),
            ('PT-ACL-9999', 'whatever'), (BRIDGE[0], 'wrong'),
            (NO_PASSWORD, ''), (NO_PASSWORD, 'anything'), (None, None)]:
        client = clients(username, password)
        assert client.reason.is_failure, (username, password)
        assert client.reason.value in (134, 135), client.reason


def test_retired_device_is_refused(clients):
    client = clients(RETIRED, DEVICES[RETIRED][0])
    assert client.reason.is_failure


def test_reload_drops_a_device_retired_since(clients, database, files,
        broker):
    connected = clients(TWO, DEVICES[TWO][0])
    assert connected.accepted
    with tryton_env.transaction(database) as pool:
        Device = pool.get('elevator.iot.device')
        device, = Device.search([('serial', '=', TWO)])
        Device.retire([device])
    code = cli.main(['broker-acl', '-d', database,
            '--password-file', str(files['password']),
            '--acl-file', str(files['acl']),
            '--service', ':'.join(BRIDGE),
            '--reload', str(broker['pid_file'])])
    assert code == 0
    assert TWO not in files['password'].read_text()
    assert connected.disconnected.wait(WAIT), "the retired device is still in"
    assert clients(TWO, DEVICES[TWO][0]).reason.is_failure
    assert clients(ONE, DEVICES[ONE][0]).accepted
    # The monitor account was not given this time: it is gone.
    assert clients(*MONITOR).reason.is_failure
