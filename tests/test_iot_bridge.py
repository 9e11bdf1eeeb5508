"""The MQTT bridge end to end: a real Mosquitto (our own, on a free port,
so that nobody else's bridge shares our subscription), a real PostgreSQL
database with elevator_iot, the real `elevator bridge` as a subprocess,
messages published with paho; every assertion reads the database.

Also: the fallback to MQTT 3.1.1 against the embedded demo broker (amqtt),
and the simulator's traffic landing where it should.

The helpers (brokers, bridge process, database with devices, publisher,
queries) are those of tests/support/iot.py, shared by the other
tests/test_iot_*.py files.
"""
import datetime as dt
import json
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from elevator_platform import scratch_db, tryton_env
from support.db import query, scalar
from support.iot import (
    LOCAL,
    RETIRED,
    SERIALS,
    BridgeProcess,
    Publisher,
    daily,
    dead_letters,
    device_row,
    events,
    fault,
    iot_database,
    local,
    now,
    periodic,
    running,
    status_row,
    utc,
)
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

# --- the fixtures of this module ---------------------------------------------

@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-bridge-') as path:
        yield Path(path)


@pytest.fixture(scope='module')
def database():
    name = iot_database('bridge')
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def broker(workdir):
    with Mosquitto(workdir) as broker:
        yield broker


@pytest.fixture(scope='module')
def bridge(database, broker, workdir):
    process = BridgeProcess(database, broker.port, workdir)
    try:
        with process:
            yield process
    except BaseException:
        print(process.output(since_start=False)[-6000:])
        raise


@pytest.fixture(scope='module')
def publisher(broker):
    with Publisher(broker.port) as publisher:
        yield publisher


_next = iter(SERIALS)


def take(count=1):
    "Devices no other test of this module uses."
    return [next(_next) for _ in range(count)]


def settle(bridge, publisher, database, marker_serial):
    """Wait until everything published before is handled: a last message
    from marker_serial is in the database (the bridge handles in order),
    on each of its lanes: a running reading (telemetry) and a status
    (alarm lane: faults and status)."""
    publisher.flush()
    stamp = now() - dt.timedelta(seconds=1)
    publisher.send(marker_serial, 'running', running(stamp, carPosition=99))
    publisher.send(marker_serial, 'status', {'online': True,
            'ts': local(stamp)})
    publisher.flush()

    def caught_up():
        row = status_row(database, marker_serial) or {}
        return (row.get('collect_time') == utc(stamp)
            and row.get('status_time') == utc(stamp))
    wait_for(caught_up, 'the bridge to catch up')
    assert bridge.alive


# --- the tests ---------------------------------------------------------------

def test_running_updates_live_status(database, bridge, publisher):
    serial, = take()
    stamp = now() - dt.timedelta(seconds=5)
    publisher.send(serial, 'running', running(stamp, serviceMode=1,
            carDirection=1, carStatus=1, doorZone=0, carPosition=7,
            passengerStatus=1, speed=1.75, doorStatus=5))
    row = wait_for(lambda: status_row(database, serial),
        'a live status row')
    assert row['online'] is True
    assert row['collect_time'] == utc(stamp)
    assert (row['service_mode'], row['car_direction'], row['car_status'],
        row['door_zone'], row['car_position'], row['passenger_status'],
        row['speed'], row['door_status']) == (
        '1', '1', '1', False, 7, '1', 1.75, '5')
    device = device_row(database, serial)
    assert device['state'] == 'online'
    assert device['last_seen'] is not None


def test_running_out_of_order_and_replayed(database, bridge, publisher):
    serial, marker = take(2)
    base = now() - dt.timedelta(minutes=5)
    newest = running(base + dt.timedelta(seconds=30), carPosition=12)
    older = running(base + dt.timedelta(seconds=10), carPosition=3)
    publisher.send(serial, 'running', newest)
    settle(bridge, publisher, database, marker)
    # An older reading arriving late, and the newest one again: no change.
    publisher.send(serial, 'running', older)
    publisher.send(serial, 'running', newest)
    settle(bridge, publisher, database, marker)
    row = status_row(database, serial)
    assert row['collect_time'] == utc(base + dt.timedelta(seconds=30))
    assert row['car_position'] == 12


def test_periodic_feeds_daily_in_any_order(database, bridge, publisher):
    serial, marker = take(2)
    # Three readings of one Putian day, the last one arriving first. The
    # day before yesterday: the next day's reading below is then in the
    # past at any hour (yesterday's next day, 01:30 today, was in the
    # future, a dead letter, between 00:00 and 01:35 Putian time).
    day = dt.datetime.now(LOCAL).replace(hour=0, minute=30, second=0,
        microsecond=0) - dt.timedelta(days=2)
    readings = [(day + dt.timedelta(hours=h), runs)
        for h, runs in [(0, 1000), (6, 1180), (20, 1400)]]
    for stamp, runs in [readings[2], readings[0], readings[1],
            readings[0]]:
        publisher.send(serial, 'periodic', periodic(stamp, runs))
    settle(bridge, publisher, database, marker)
    rows = daily(database, serial)
    assert len(rows) == 1
    row, = rows
    assert row['date'] == day.date()
    assert (row['run_first'], row['run_last']) == (1000, 1400)
    assert (row['door_first'], row['door_last']) == (2000, 2800)
    assert (row['mileage_first'], row['mileage_last']) == (20000.0, 28000.0)
    assert row['rope_bend'] == 5600
    # The next day's first reading opens a new row.
    publisher.send(serial, 'periodic', periodic(
            day + dt.timedelta(days=1, hours=1), 1500))
    settle(bridge, publisher, database, marker)
    assert [r['run_last'] for r in daily(database, serial)] == [1400, 1500]


def test_faults_events_reactions_and_recovery(database, bridge, publisher):
    serial, marker = take(2)
    base = now() - dt.timedelta(minutes=2)
    faults = {
        'T-1-trapped': 7,       # passengers trapped: rescue
        'T-1-overrun': 1,       # critical safety fault
        'T-1-door': 11,         # repair
        'T-1-obstructed': 20,   # recorded only
        }
    for i, (fault_id, code) in enumerate(faults.items()):
        publisher.send(serial, 'fault', fault(fault_id, code,
                base + dt.timedelta(seconds=i)))
    settle(bridge, publisher, database, marker)
    found = events(database, serial)
    assert set(found) == set(faults)
    assert {k: (e['code'], e['state']) for k, e in found.items()} == {
        k: (str(c), 'open') for k, c in faults.items()}
    assert found['T-1-trapped']['reaction'] == 'rescue'
    assert found['T-1-trapped']['follow_up'] in ('rescue_waiting', 'rescue')
    assert found['T-1-overrun']['follow_up'] in ('repair_waiting', 'repair')
    assert found['T-1-door']['follow_up'] in ('repair_waiting', 'repair')
    assert found['T-1-obstructed']['follow_up'] == 'none'
    assert found['T-1-trapped']['occurred_at'] == utc(base)
    assert found['T-1-trapped']['source'] == 'mqtt'
    row = status_row(database, serial)
    assert (row['open_faults'], row['critical']) == (4, True)

    # A replay of a raised fault changes nothing.
    publisher.send(serial, 'fault', fault('T-1-trapped', 7,
            base + dt.timedelta(seconds=30), carPosition=9))
    # The recovery of the critical fault clears it.
    cleared_at = base + dt.timedelta(seconds=40)
    publisher.send(serial, 'fault', fault('T-1-overrun', 1, cleared_at,
            recovery=1))
    settle(bridge, publisher, database, marker)
    found = events(database, serial)
    assert len(found) == 4
    assert found['T-1-trapped']['car_position'] == 3
    assert found['T-1-trapped']['occurred_at'] == utc(base)
    assert found['T-1-overrun']['state'] == 'cleared'
    assert found['T-1-overrun']['cleared_at'] == utc(cleared_at)
    row = status_row(database, serial)
    assert (row['open_faults'], row['critical']) == (3, False)

    # A recovery replayed, and one arriving before its raise.
    publisher.send(serial, 'fault', fault('T-1-overrun', 1, cleared_at,
            recovery=1))
    publisher.send(serial, 'fault', fault('T-1-late', 12,
            base + dt.timedelta(seconds=50), recovery=1))
    publisher.send(serial, 'fault', fault('T-1-late', 12,
            base + dt.timedelta(seconds=45)))
    settle(bridge, publisher, database, marker)
    found = events(database, serial)
    assert len(found) == 5
    assert found['T-1-late']['state'] == 'cleared'
    assert status_row(database, serial)['open_faults'] == 3


def test_status_online_offline(database, bridge, publisher):
    serial, marker = take(2)
    base = now() - dt.timedelta(minutes=1)
    publisher.send(serial, 'running', running(base))
    publisher.send(serial, 'status', {'online': False,
            'ts': local(base + dt.timedelta(seconds=20))}, retain=True)
    settle(bridge, publisher, database, marker)
    row = status_row(database, serial)
    assert row['online'] is False
    assert row['status_time'] == utc(base + dt.timedelta(seconds=20))
    assert device_row(database, serial)['state'] == 'offline'
    # An older "online" arriving late does not bring it back.
    publisher.send(serial, 'status', {'online': True,
            'ts': local(base + dt.timedelta(seconds=10))})
    settle(bridge, publisher, database, marker)
    assert status_row(database, serial)['online'] is False
    # A newer one does.
    publisher.send(serial, 'status', {'online': True,
            'ts': local(base + dt.timedelta(seconds=30))})
    settle(bridge, publisher, database, marker)
    assert status_row(database, serial)['online'] is True
    assert device_row(database, serial)['state'] == 'online'
    # Clean the retained message off the broker.
    publisher.send(serial, 'status', b'', retain=True)


def bad_messages(serial, marker):
    """(topic, payload, expected reason) of every kind of bad input."""
    stamp = local(now() - dt.timedelta(seconds=10))
    good = running(now() - dt.timedelta(seconds=10))

    def topic(kind, sn=serial):
        return f'elevator/v1/{sn}/{kind}'

    def dumps(data):
        return json.dumps(data).encode()
    return [
        ('not JSON', topic('running'), b'{"collectTime": ', 'not_json'),
        ('not an object', topic('running'), b'[1, 2, 3]', 'not_json'),
        ('not UTF-8', topic('running'), b'{"a": "\xff\xfe"}', 'not_json'),
        ('nested too deep', topic('running'), b'[' * 30000 + b']' * 30000,
            'not_json'),
        ('NaN', topic('running'), dumps(good)[:-1] + b', "speed": NaN}',
            'invalid'),
        ('string for a number', topic('running'),
            dumps({**good, 'carPosition': '3'}), 'invalid'),
        ('boolean for an integer', topic('running'),
            dumps({**good, 'doorStatus': True}), 'invalid'),
        ('out of range', topic('running'),
            dumps({**good, 'doorStatus': 9}), 'invalid'),
        ('huge integer', topic('running'),
            dumps({**good, 'carPosition': 10 ** 30}), 'invalid'),
        ('no time', topic('running'),
            dumps({k: v for k, v in good.items() if k != 'collectTime'}),
            'invalid'),
        ('bad time', topic('running'),
            dumps({**good, 'collectTime': 'yesterday'}), 'invalid'),
        ('negative epoch', topic('running'),
            dumps({**good, 'collectTime': -5}), 'invalid'),
        ('missing counter', topic('periodic'),
            dumps({'collectTime': stamp}), 'invalid'),
        ('faultNo not a number', topic('fault'),
            dumps(fault('T-BAD-1', 'abc', now())), 'invalid'),
        ('faultId too long', topic('fault'),
            dumps(fault('x' * 200, 7, now())), 'invalid'),
        ('online not boolean', topic('status'),
            dumps({'online': 'yes'}), 'invalid'),
        ('image not a URL', topic('fault'),
            dumps(fault('T-BAD-2', 7, now(), imageUrl='javascript:x')),
            'invalid'),
        ('unknown fault code', topic('fault'),
            dumps(fault('T-BAD-3', 9999, now())), 'unknown_fault'),
        ('far in the future', topic('running'),
            dumps(running(now() + dt.timedelta(days=1))), 'future'),
        ('fault far in the future', topic('fault'),
            dumps(fault('T-BAD-4', 7, now() + dt.timedelta(hours=2))),
            'future'),
        ('fault years back', topic('fault'),
            dumps(fault('T-BAD-5', 7, now() - dt.timedelta(days=3 * 365))),
            'too_old'),
        ('unknown device', topic('running', 'PT-NOBODY-01'), dumps(good),
            'unknown_device'),
        ('retired device', topic('running', RETIRED), dumps(good),
            'retired_device'),
        ('payload of another device', topic('running'),
            dumps({**good, 'deviceSn': marker}), 'topic_mismatch'),
        ('no device in the topic', 'elevator/v1//running', dumps(good),
            'topic_mismatch'),
        ('unknown kind', topic('weather'), dumps(good), 'unknown_kind'),
        ('over 64 KiB', topic('running'),
            dumps({**good, 'padding': 'x' * (65 * 1024)}), 'too_large'),
        ]


def test_bad_input_goes_to_dead_letters(database, bridge, publisher):
    serial, marker = take(2)
    cases = bad_messages(serial, marker)
    before = scalar(database,
        'SELECT COALESCE(MAX(id), 0) FROM elevator_iot_dead_letter')
    # Interleaved with good messages, which must all land.
    base = now() - dt.timedelta(minutes=1)
    for i, (_, topic, payload, _) in enumerate(cases):
        publisher.send(None, None, payload, topic=topic)
        publisher.send(serial, 'running', running(
                base + dt.timedelta(seconds=i), carPosition=i))
    settle(bridge, publisher, database, marker)
    letters = dead_letters(database, 'id > %s', (before,))
    # Faults and status travel on the bridge's alarm lane, the rest on
    # its telemetry lane: in order within a lane, not across them.
    assert sorted((d['topic'], d['reason'], bytes(d['payload']))
        for d in letters) == sorted((topic, reason, payload)
        for _, topic, payload, reason in cases), '\n'.join(
        f'{d["reason"]}: {d["detail"]}' for d in letters)
    for letter in letters:
        assert letter['size'] == len(bytes(letter['payload']))
        assert letter['source'] == 'mqtt'
        assert letter['detail'], letter['topic']
    # Every good message landed; the bridge never stopped.
    row = status_row(database, serial)
    assert row['collect_time'] == utc(base + dt.timedelta(
            seconds=len(cases) - 1))
    assert bridge.alive
    assert 'Traceback' not in bridge.output()
    assert events(database, serial) == {}
    # An unknown device is not registered by its messages.
    assert scalar(database, '''SELECT COUNT(*) FROM elevator_iot_device
        WHERE serial = 'PT-NOBODY-01' ''') == 0


def test_retired_device_refused_from_the_next_batch(database, bridge,
        publisher):
    """A device retired in the registry (web client, ORM) is refused by
    the very next batch, not once the bridge's registry cache expires."""
    serial, marker = take(2)
    base = now() - dt.timedelta(seconds=30)
    # The bridge knows the device and has its registry cached.
    publisher.send(serial, 'running', running(base, carPosition=1))
    settle(bridge, publisher, database, marker)
    assert status_row(database, serial)['collect_time'] == utc(base)
    with tryton_env.transaction(database) as pool:
        Device = pool.get('elevator.iot.device')
        device, = Device.search([('serial', '=', serial)])
        Device.retire([device])
    before = scalar(database,
        'SELECT COALESCE(MAX(id), 0) FROM elevator_iot_dead_letter')
    publisher.send(serial, 'running', running(
            base + dt.timedelta(seconds=1), carPosition=2))
    settle(bridge, publisher, database, marker)
    letters = dead_letters(database, 'id > %s', (before,))
    assert [(d['device_serial'], d['reason']) for d in letters] == [
        (serial, 'retired_device')]
    assert status_row(database, serial)['collect_time'] == utc(base)


def test_simulated_traffic(database, bridge, broker, workdir):
    """`elevator simulate` with the database's devices: its statistics and
    the database agree."""
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    run_id = f'SIM{uuid.uuid4().hex[:6]}'
    before = scalar(database,
        'SELECT COALESCE(MAX(id), 0) FROM elevator_iot_dead_letter')
    result = subprocess.run([str(BIN / 'elevator'), 'simulate',
            '-d', database, '--devices', '10', '--count', '1500',
            '--rate', '0', '--fault-rate', '0.03', '--alarm-share', '0.3',
            '--seed', '3', '--run-id', run_id, '--port', str(broker.port),
            '--json', '--report', '0'],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats['messages'] == 1500
    assert stats['devices'] == 10
    assert stats['failed'] == 0
    assert stats['alarms'] > 0 and stats['recovered'] > 0
    # The first ten devices of the registry, by serial.
    serials = sorted(SERIALS)[:10]

    def counts():
        return query(database, '''
            SELECT COUNT(*), COUNT(*) FILTER (WHERE e.state = 'cleared'),
                COUNT(*) FILTER (WHERE t.code IN ('7', '8', '21'))
            FROM elevator_iot_event e
            JOIN elevator_iot_fault_type t ON t.id = e.fault_type
            WHERE e.fault_id LIKE %s''', (run_id + '%',))[0]
    expected = (stats['raised'], stats['recovered'], stats['alarms'])
    wait_for(lambda: counts() == expected, 'the simulated faults')
    assert query(database, '''
        SELECT COUNT(DISTINCT d.serial) FROM elevator_iot_event e
        JOIN elevator_iot_device d ON d.id = e.device
        WHERE e.fault_id LIKE %s AND d.serial <> ALL(%s)''',
        (run_id + '%', serials))[0][0] == 0
    rows = query(database, '''
        SELECT COUNT(*) FROM elevator_iot_status s
        JOIN elevator_iot_device d ON d.elevator = s.elevator
        WHERE d.serial = ANY(%s) AND s.collect_time IS NOT NULL''',
        (serials,))
    assert rows[0][0] == 10
    assert scalar(database, '''SELECT COUNT(*) FROM elevator_iot_daily y
        JOIN elevator_iot_device d ON d.elevator = y.elevator
        WHERE d.serial = ANY(%s)''', (serials,)) > 0
    assert dead_letters(database, 'id > %s', (before,)) == []


def test_mqtt_311_fallback_with_embedded_broker(database, workdir):
    """Against the demo's embedded broker (amqtt, MQTT 3.1.1 only) the
    bridge falls back to a plain subscription and says that only one
    bridge may run; messages still land, acknowledged after commit."""
    port = free_port()
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    log = workdir / 'embedded-broker.log'
    with open(log, 'ab') as out:
        broker = subprocess.Popen([str(BIN / 'elevator'), 'broker',
                '--port', str(port)], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
            start_new_session=True)
    try:
        wait_for(lambda: reachable(port), 'the embedded broker')
        serial, = take()
        with BridgeProcess(database, port, workdir) as bridge, \
                Publisher(port, protocol=mqtt.MQTTv311) as publisher:
            output = bridge.output()
            assert 'does not speak MQTT 5' in output
            assert 'ONLY ONE bridge' in output
            assert 'subscribed to elevator/v1/+/+' in output
            base = now() - dt.timedelta(seconds=30)
            for i in range(50):
                publisher.send(serial, 'running', running(
                        base + dt.timedelta(seconds=i), carPosition=i % 20))
            publisher.send(serial, 'fault', fault('T-311-trapped', 8,
                    base + dt.timedelta(seconds=60)))
            publisher.flush()
            wait_for(lambda: 'T-311-trapped' in events(database, serial),
                'the alarm through the embedded broker')
            row = status_row(database, serial)
            assert row['collect_time'] == utc(base + dt.timedelta(
                    seconds=49))
            assert bridge.alive
    finally:
        stop(broker)
    assert 'embedded MQTT broker (amqtt, MQTT 3.1.1)' in log.read_text()
