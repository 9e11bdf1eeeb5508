"""`elevator simulate`: the traffic it makes (valid, realistic, the same
for the same seed, bounded) and how its devices log in (their serial and a
password, against Mosquitto and against the embedded demo broker, both
reading a password file in Mosquitto's format).

The simulator's traffic through the bridge into the database is tested in
test_iot_bridge.py.
"""
import collections
import json
import os
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from elevator_platform.iot import simulator
from support.mqtt import Mosquitto
from support.process import (
    BIN,
    ROOT,
    WAIT,
    free_port,
    reachable,
    stop,
    wait_for,
)

from trytond.modules.elevator_iot import payloads
from trytond.modules.elevator_iot.passwords import hash_password

PASSWORD = 'elevator-demo'


def simulate(*args, check=True):
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    result = subprocess.run([str(BIN / 'elevator'), 'simulate', *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=WAIT)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def dry_run(*args):
    "The messages of a dry run: [(topic, qos, retain, payload)]."
    result = simulate('--dry-run', '--rate', '0', *args)
    return [(m['topic'], m['qos'], m['retain'], m['payload'])
        for m in map(json.loads, result.stdout.splitlines())]


def without_time(messages):
    return [(topic, qos, {k: v for k, v in payload.items()
                if k not in ('collectTime', 'occurTime', 'ts')})
        for topic, qos, _, payload in messages]


def test_same_seed_same_traffic():
    args = ['--serial-prefix', 'SIM', '--devices', '30', '--count', '3000',
        '--run-id', 'R1']
    first = dry_run(*args, '--seed', '7')
    again = dry_run(*args, '--seed', '7')
    other = dry_run(*args, '--seed', '8')
    assert len(first) == len(again) == len(other) == 3000
    assert without_time(first) == without_time(again)
    assert without_time(first) != without_time(other)


def test_traffic_is_valid_and_realistic():
    messages = dry_run('--serial-prefix', 'SIM', '--devices', '20',
        '--count', '20000', '--seed', '3', '--fault-rate', '0.01',
        '--alarm-share', '0.25', '--qos', '0', '--run-id', 'R2')
    assert len(messages) == 20000
    kinds = collections.Counter()
    raised, cleared, alarms = {}, set(), 0
    runs = collections.defaultdict(list)
    for topic, qos, retain, payload in messages:
        prefix, version, serial, kind = topic.split('/')
        assert (prefix, version) == ('elevator', 'v1')
        assert serial.startswith('SIM') and len(serial) == 9
        kinds[kind] += 1
        # Every message is one the platform takes.
        values = payloads.PARSERS[kind](payload)
        if kind in ('running', 'periodic'):
            assert qos == 0
        else:
            assert qos == 1
        if kind == 'status':
            assert retain and payload['online'] is True
        elif kind == 'fault':
            key = (serial, payload['faultId'])
            if payload['recovery']:
                # Cleared after it was raised, by the same device.
                assert key in raised
                cleared.add(key)
            else:
                assert key not in raised
                raised[key] = payload['faultNo']
                alarms += payload['faultNo'] in simulator.ALARMS
        elif kind == 'periodic':
            runs[serial].append(values['run_count'])
        elif kind == 'running':
            assert (values['car_status'] == 1) == (values['speed'] > 0)
    assert kinds['status'] == 20
    assert kinds['running'] > 15000
    assert kinds['periodic'] > 500
    assert 100 < len(raised) < 300 and len(cleared) > 50
    assert 0.1 < alarms / len(raised) < 0.4
    # Codes the platform knows (the module's fault types).
    known = {row.split(',')[0] for row in (ROOT / 'modules' / 'elevator_iot'
            / 'data' / 'fault_types.csv').read_text().splitlines()[1:]}
    assert {str(code) for code in raised.values()} <= known
    # A device's statistics only grow.
    assert all(r == sorted(r) and r[-1] > r[0] for r in runs.values()
        if len(r) > 1)
    # The fault IDs of a run are its own.
    assert all(fault_id.startswith('R2-') for _, fault_id in raised)


def test_kinds_and_count_bound():
    messages = dry_run('--serial-prefix', 'SIM', '--devices', '5',
        '--count', '500', '--kinds', 'running', '--seed', '1')
    assert len(messages) == 500
    assert {t.rsplit('/', 1)[1] for t, *_ in messages} == {'running'}


def test_duration_bound(workdir):
    with Mosquitto(workdir, name='mosquitto-duration') as broker:
        result = simulate('--serial-prefix', 'SIM', '--devices', '10',
            '--rate', '40', '--duration', '2', '--port', str(broker.port),
            '--json', '--report', '0')
    stats = json.loads(result.stdout)
    # It stopped by itself, near the rate asked for.
    assert stats['seconds'] >= 2
    assert 40 <= stats['messages'] <= 40 * stats['seconds'] + 20


class Counter:
    "A subscriber counting what arrives, by topic level."

    def __init__(self, port, protocol=mqtt.MQTTv5, **login):
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=f'counter-{uuid.uuid4().hex[:8]}', protocol=protocol)
        if login:
            self.client.username_pw_set(login['username'], login['password'])
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(
            'elevator/v1/#', qos=1)
        self.client.on_message = self._message
        self.client.connect('127.0.0.1', port)
        self.client.loop_start()
        assert subscribed.wait(WAIT)

    def _message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload)))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def test_several_processes(workdir):
    with Mosquitto(workdir, name='mosquitto-processes') as broker:
        counter = Counter(broker.port)
        try:
            result = simulate('--serial-prefix', 'MP', '--devices', '12',
                '--count', '900', '--rate', '0', '--processes', '3',
                '--fault-rate', '0.05', '--port', str(broker.port),
                '--json', '--run-id', 'MP')
            stats = json.loads(result.stdout)
            assert stats['processes'] == 3
            assert stats['messages'] == 900
            wait_for(lambda: len(counter.messages) >= 900, 'the messages')
        finally:
            counter.close()
    assert len(counter.messages) == 900
    devices = {topic.split('/')[2] for topic, _ in counter.messages}
    assert devices == {f'MP{n:06d}' for n in range(12)}
    # Each process raises faults with IDs of its own.
    fault_ids = [p['faultId'] for t, p in counter.messages
        if t.endswith('/fault') and not p['recovery']]
    assert len(fault_ids) == len(set(fault_ids)) == stats['raised']
    assert {f[:3] for f in fault_ids} <= {'MP0', 'MP1', 'MP2'}


@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-simulate-') as path:
        yield Path(path)


@pytest.fixture(scope='module')
def password_file(workdir):
    "Mosquitto's format, as `elevator broker-acl` writes it."
    path = workdir / 'passwords'
    users = {f'PW{n:06d}': PASSWORD for n in range(4)}
    users['monitor'] = 'monitor-secret'
    path.write_text(''.join(f'{user}:{hash_password(password)}\n'
            for user, password in users.items()))
    path.chmod(0o644)
    return path


def check_device_logins(port, protocol):
    "Devices log in with their serial; a wrong password is refused."
    counter = Counter(port, protocol=protocol, username='monitor',
        password='monitor-secret')
    try:
        result = simulate('--serial-prefix', 'PW', '--devices', '4',
            '--count', '60', '--rate', '0', '--password', PASSWORD,
            '--port', str(port), '--json', '--seed', '5')
        stats = json.loads(result.stdout)
        # Online when they start, offline when they stop.
        assert stats['status'] == 8
        assert stats['messages'] == 60
        wait_for(lambda: len(counter.messages) >= 60, 'the messages')
        status = [(t.split('/')[2], p['online']) for t, p in counter.messages
            if t.endswith('/status')]
        assert sorted(status) == sorted(
            [(f'PW{n:06d}', True) for n in range(4)]
            + [(f'PW{n:06d}', False) for n in range(4)])
    finally:
        counter.close()
    refused = simulate('--serial-prefix', 'PW', '--devices', '2',
        '--count', '10', '--password', 'not-the-password',
        '--port', str(port), check=False)
    assert refused.returncode != 0
    assert 'refused PW000000' in refused.stderr


def test_device_credentials_with_mosquitto(workdir, password_file):
    with Mosquitto(workdir, name='mosquitto-passwords', extra=f'''
            allow_anonymous false
            password_file {password_file}
            ''') as broker:
        check_device_logins(broker.port, mqtt.MQTTv5)


def test_device_credentials_with_embedded_broker(workdir, password_file):
    port = free_port()
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    with open(workdir / 'embedded.log', 'ab') as out:
        broker = subprocess.Popen([str(BIN / 'elevator'), 'broker',
                '--port', str(port), '--password-file', str(password_file)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=ROOT, start_new_session=True)
    try:
        wait_for(lambda: reachable(port), 'the embedded broker')
        check_device_logins(port, mqtt.MQTTv311)
    finally:
        stop(broker)


def test_qos0_bulk_publisher(workdir):
    """QoS 0 running and periodic messages only (the benchmarks' traffic):
    MQTT packets written in bulk, received as any others."""
    with Mosquitto(workdir, name='mosquitto-bulk') as broker:
        counter = Counter(broker.port)
        try:
            result = simulate('--serial-prefix', 'BQ', '--devices', '50',
                '--count', '3000', '--rate', '0', '--qos', '0',
                '--kinds', 'running,periodic', '--port', str(broker.port),
                '--json', '--seed', '4')
            stats = json.loads(result.stdout)
            assert stats['messages'] == 3000
            wait_for(lambda: len(counter.messages) >= 3000, 'the messages')
        finally:
            counter.close()
    expected = dry_run('--serial-prefix', 'BQ', '--devices', '50',
        '--count', '3000', '--qos', '0', '--kinds', 'running,periodic',
        '--seed', '4')
    # The same messages as the dry run, in the same order.
    assert [(t, {k: v for k, v in p.items() if k != 'collectTime'})
        for t, p in counter.messages] == [
        (t, {k: v for k, v in p.items() if k != 'collectTime'})
        for t, _, _, p in expected]
