"""No message lost, none doubled (DESIGN §9), with the real bridge:

- the bridge killed with SIGKILL in the middle of a stream of 5,000 QoS 1
  messages carrying 50 faults, then restarted: exactly 50 events, and every
  live status and daily counter is the last one sent;
- PostgreSQL stopped for 30 s during a stream: the bridge stops
  acknowledging, retries, and once the database is back everything is
  there, once. This test runs its own PostgreSQL instance (initdb in a
  temporary directory, on a free port) so that the machine's shared one is
  never stopped.

The broker is our own Mosquitto, keeping every unacknowledged message of
the bridge's persistent session (max_queued_messages 0).
"""
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from elevator_platform import scratch_db
from support.db import query, uri_for
from support.iot import (
    LOCAL,
    SERIALS,
    BridgeProcess,
    Publisher,
    dead_letters,
    fault,
    iot_database,
    iot_template,
    now,
    periodic,
    running,
    utc,
)
from support.mqtt import Mosquitto
from support.process import WAIT, free_port, wait_for

DEVICES = SERIALS[:20]


class Stream:
    """A stream of QoS 1 messages from DEVICES: running readings, a periodic
    reading every tenth message, `faults` faults spread evenly; and what
    the database must hold once all of it is handled."""

    def __init__(self, count, faults, prefix, step=0.1):
        self.messages = []
        self.partial = False
        start = now() - dt.timedelta(seconds=count * step + 120)
        every = count // faults
        # Spread over the stream and over the devices.
        raised = {every * k + every // 2 + k % len(DEVICES): k
            for k in range(faults)}
        for i in range(count):
            serial = DEVICES[i % len(DEVICES)]
            stamp = start + dt.timedelta(seconds=i * step)
            if i in raised:
                payload = fault(f'{prefix}-{i:05d}',
                    (7, 8, 21, 4, 12)[raised[i] % 5], stamp)
                kind = 'fault'
            elif (i // len(DEVICES)) % 10 == 3:
                payload = periodic(stamp, 10000 + i)
                kind = 'periodic'
            else:
                payload = running(stamp, carPosition=i % 30,
                    carStatus=i % 2, doorStatus=2 + i % 3)
                kind = 'running'
            self.messages.append((serial, kind, payload))
        self._expect()
        assert len(self.fault_ids) == faults
        assert set(self.last_running) == set(DEVICES)

    def part(self, start, end):
        """The messages [start:end] as a stream of their own; what came
        before may have landed too (its daily counters)."""
        part = Stream.__new__(Stream)
        part.messages = self.messages[start:end]
        part.partial = start > 0
        part._expect()
        return part

    def _expect(self):
        "What the database must hold once all the messages are handled."
        self.last_running, self.runs, self.fault_ids = {}, {}, set()
        for serial, kind, payload in self.messages:
            if kind == 'fault':
                self.fault_ids.add(payload['faultId'])
            elif kind == 'periodic':
                runs = payload['totalRunCount']
                day = dt.datetime.fromisoformat(payload['collectTime']
                    ).astimezone(LOCAL).date()
                first, _ = self.runs.get((serial, day), (runs, runs))
                self.runs[(serial, day)] = (min(first, runs), runs)
            else:
                stamp = dt.datetime.fromisoformat(payload['collectTime'])
                self.last_running[serial] = (utc(stamp),
                    payload['carPosition'])

    def publish(self, publisher, rate, progress=None):
        "Publish at `rate` messages/s; count them in progress[0]."
        started = time.monotonic()
        for i, (serial, kind, payload) in enumerate(self.messages):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            publisher.send(serial, kind, payload, qos=1)
            if progress is not None:
                progress[0] = i + 1
        publisher.flush()

    def check(self, database, uri=None):
        "The database holds the effect of every message, once."
        events = query(database, '''
            SELECT e.fault_id, d.serial, e.follow_up, e.state
            FROM elevator_iot_event e
            JOIN elevator_iot_device d ON d.id = e.device
            WHERE e.fault_id = ANY(%s)''', (sorted(self.fault_ids),), uri)
        assert len(events) == len(self.fault_ids)
        assert {e[0] for e in events} == self.fault_ids
        # Each reacted to once: trapped alarms wait for rescue, the others
        # for repair.
        assert all(e[2] in ('rescue_waiting', 'rescue', 'repair_waiting',
                'repair') for e in events)
        assert all(e[3] == 'open' for e in events)
        statuses = {r[0]: (r[1], r[2]) for r in query(database, '''
            SELECT d.serial, s.collect_time, s.car_position
            FROM elevator_iot_status s
            JOIN elevator_iot_device d ON d.elevator = s.elevator
            WHERE d.serial = ANY(%s)''', (DEVICES,), uri)}
        assert statuses == self.last_running
        days = {(r[0], r[1]): (r[2], r[3]) for r in query(database, '''
            SELECT d.serial, y.date, y.run_count_first, y.run_count_last
            FROM elevator_iot_daily y
            JOIN elevator_iot_device d ON d.elevator = y.elevator
            WHERE d.serial = ANY(%s)''', (DEVICES,), uri)}
        if self.partial:
            # The last counters are this part's; the first ones may be of
            # an earlier part.
            assert {k: last for k, (_, last) in days.items()
                if k in self.runs} == {k: last for k, (_, last)
                in self.runs.items()}
            assert all(days[k][0] <= first
                for k, (first, _) in self.runs.items())
        else:
            assert days == self.runs
        open_faults = dict(query(database, '''
            SELECT d.serial, s.open_faults FROM elevator_iot_status s
            JOIN elevator_iot_device d ON d.elevator = s.elevator
            WHERE d.serial = ANY(%s)''', (DEVICES,), uri))
        if not self.partial:
            assert sum(open_faults.values()) == len(self.fault_ids)

    def missing(self, database, uri=None):
        "What is not (yet) in the database, for the failure message."
        found = {r[0] for r in query(database, '''
            SELECT fault_id FROM elevator_iot_event
            WHERE fault_id = ANY(%s)''', (sorted(self.fault_ids),), uri)}
        statuses = {r[0]: (r[1], r[2]) for r in query(database, '''
            SELECT d.serial, s.collect_time, s.car_position
            FROM elevator_iot_status s
            JOIN elevator_iot_device d ON d.elevator = s.elevator
            WHERE d.serial = ANY(%s)''', (DEVICES,), uri)}
        return {
            'events': sorted(self.fault_ids - found),
            'statuses': {s: (statuses.get(s), last)
                for s, last in self.last_running.items()
                if statuses.get(s) != last},
            }

    def handled(self, database, uri=None):
        "Whether the last message of every device is in the database."
        return query(database, '''
            SELECT COUNT(*) FROM elevator_iot_event
            WHERE fault_id = ANY(%s)''', (sorted(self.fault_ids),), uri
            )[0][0] == len(self.fault_ids) and {r[0]: (r[1], r[2])
            for r in query(database, '''
                SELECT d.serial, s.collect_time, s.car_position
                FROM elevator_iot_status s
                JOIN elevator_iot_device d ON d.elevator = s.elevator
                WHERE d.serial = ANY(%s)''', (DEVICES,), uri)
            } == self.last_running


def wait_for_stream(stream, database, uri=None):
    try:
        wait_for(lambda: stream.handled(database, uri), 'the whole stream')
    except AssertionError:
        raise AssertionError(f'missing: {stream.missing(database, uri)}')


def count_events(database, fault_ids, uri=None):
    return query(database, '''SELECT COUNT(*) FROM elevator_iot_event
        WHERE fault_id = ANY(%s)''', (sorted(fault_ids),), uri)[0][0]


@pytest.fixture(scope='module')
def workdir():
    path = Path(tempfile.mkdtemp(prefix='elevator-reliability-'))
    # The private PostgreSQL runs as the user postgres: it must get in.
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_bridge_killed_mid_stream(workdir):
    database = iot_database('killed')
    try:
        with Mosquitto(workdir, name='mosquitto-kill') as broker:
            bridge = BridgeProcess(database, broker.port, workdir,
                client_id='reliability-killed')
            stream = Stream(5000, 50, 'KILL')
            progress = [0]
            try:
                bridge.start()
                with Publisher(broker.port) as publisher:
                    publishing = threading.Thread(target=stream.publish,
                        args=(publisher, 600, progress), daemon=True)
                    publishing.start()
                    # Killed while it works: some faults committed, most of
                    # the stream still to come.
                    wait_for(lambda: count_events(database,
                            stream.fault_ids) >= 8, 'the first events')
                    bridge.kill()
                    killed_at = progress[0]
                    committed = count_events(database, stream.fault_ids)
                    assert killed_at < 4000, "killed too late"
                    assert committed < 50
                    time.sleep(2)
                    bridge.start()
                    publishing.join(WAIT)
                    assert not publishing.is_alive()
                    wait_for_stream(stream, database)
                # The broker resumed the bridge's session.
                assert 'session resumed' in bridge.output()
                stream.check(database)
                assert dead_letters(database) == []
                assert bridge.alive
            except BaseException:
                print(bridge.output(since_start=False)[-6000:])
                raise
            finally:
                bridge.stop()
    finally:
        scratch_db.drop_database(database)


class PrivatePostgres:
    """A PostgreSQL instance of this test alone: initdb into a directory of
    its own (as the user postgres: initdb refuses root), pg_ctl on a free
    port."""

    def __init__(self, workdir):
        self.dir = Path(workdir) / 'pgdata'
        self.log = Path(workdir) / 'postgres.log'
        self.port = free_port()
        self.bin = Path(subprocess.run(['pg_config', '--bindir'],
                capture_output=True, text=True).stdout.strip() or '/usr/bin')
        if not (self.bin / 'pg_ctl').exists():
            self.bin = Path(shutil.which('pg_ctl')).resolve().parent
        self.uri = f'postgresql://postgres@127.0.0.1:{self.port}/'

    def _run(self, *args):
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ['runuser', '-u', 'postgres', '--'] + command
        result = subprocess.run(command, capture_output=True, text=True,
            cwd='/')
        assert result.returncode == 0, (
            f'{args[0]} failed:\n{result.stdout}\n{result.stderr}\n'
            + (self.log.read_text() if self.log.exists() else ''))

    def init(self):
        self.dir.mkdir()
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.dir, 'postgres', 'postgres')
            shutil.chown(self.log, 'postgres', 'postgres')
        self._run('initdb', '-D', str(self.dir), '-U', 'postgres',
            '--auth=trust', '-E', 'UTF8', '--no-sync')
        return self

    def start(self):
        self._run('pg_ctl', '-D', str(self.dir), '-l', str(self.log), '-w',
            '-o', f'-p {self.port} -c listen_addresses=127.0.0.1 '
            f'-k {self.dir}', 'start')

    def stop(self):
        self._run('pg_ctl', '-D', str(self.dir), '-m', 'fast', '-w', 'stop')

    def running(self):
        return (self.dir / 'postmaster.pid').exists()

    def copy_database(self, source, name):
        "Copy database source of the shared server here, as name."
        dump = self.dir.parent / f'{name}.dump'
        subprocess.run([str(self.bin / 'pg_dump'), '-Fc', '-f', str(dump),
                '-d', uri_for(source)], check=True)
        with psycopg.connect(uri_for('postgres', self.uri),
                autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 '
                "ENCODING 'UTF8'")
        subprocess.run([str(self.bin / 'pg_restore'), '--no-owner',
                '-d', self.uri + name, str(dump)], check=True)


@pytest.fixture(scope='module')
def postgres(workdir):
    server = PrivatePostgres(workdir).init()
    server.start()
    try:
        yield server
    finally:
        if server.running():
            server.stop()


def test_database_outage_of_30_seconds(workdir, postgres):
    database = 'outage'
    postgres.copy_database(iot_template(), database)
    uri = postgres.uri
    with Mosquitto(workdir, name='mosquitto-outage') as broker:
        bridge = BridgeProcess(database, broker.port, workdir,
            client_id='reliability-outage', uri=uri)
        # 60 messages/s for 50 s: the outage from 8 s to 38 s.
        stream = Stream(3000, 40, 'DOWN')
        progress = [0]
        try:
            bridge.start()
            with Publisher(broker.port) as publisher:
                publishing = threading.Thread(target=stream.publish,
                    args=(publisher, 60, progress), daemon=True)
                publishing.start()
                wait_for(lambda: progress[0] >= 480, 'the stream')
                handled_before = count_events(database, stream.fault_ids,
                    uri=uri)
                postgres.stop()
                stopped_at = progress[0]
                time.sleep(30)
                during = progress[0] - stopped_at
                postgres.start()
                publishing.join(WAIT)
                assert not publishing.is_alive()
                wait_for_stream(stream, database, uri)
            assert 0 < handled_before < len(stream.fault_ids)
            # Hundreds of messages came while the database was down.
            assert during > 1000
            output = bridge.output()
            assert 'not stored' in output and 'retry in' in output
            stream.check(database, uri=uri)
            assert dead_letters(database, uri=uri) == []
            assert bridge.alive
        except BaseException:
            print(bridge.output(since_start=False)[-6000:])
            raise
        finally:
            bridge.stop()


def children(pid):
    "Process ids whose parent is pid."
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def test_bridge_process_killed_alone(workdir):
    """The MQTT process of the bridge killed with SIGKILL, its ingestion
    workers left behind: they stop by themselves, and the restarted
    bridge finishes the stream, once."""
    database = iot_database('orphans')
    try:
        with Mosquitto(workdir, name='mosquitto-orphans') as broker:
            bridge = BridgeProcess(database, broker.port, workdir,
                client_id='reliability-orphans')
            stream = Stream(2000, 20, 'ORPH')
            progress = [0]
            try:
                bridge.start()
                workers = children(bridge.process.pid)
                # Two for the telemetry lane, one for the alarm lane.
                assert len(workers) == 3
                with Publisher(broker.port) as publisher:
                    publishing = threading.Thread(target=stream.publish,
                        args=(publisher, 400, progress), daemon=True)
                    publishing.start()
                    wait_for(lambda: count_events(database,
                            stream.fault_ids) >= 4, 'the first events')
                    os.kill(bridge.process.pid, signal.SIGKILL)
                    bridge.process.wait()
                    wait_for(lambda: not any(Path(f'/proc/{w}').exists()
                            and 'Z' not in (Path(f'/proc/{w}/stat')
                                .read_text().rsplit(')', 1)[1].split()[0])
                            for w in workers),
                        'the orphaned workers to stop')
                    bridge.start()
                    publishing.join(WAIT)
                    wait_for_stream(stream, database)
                stream.check(database)
                assert dead_letters(database) == []
            except BaseException:
                print(bridge.output(since_start=False)[-6000:])
                raise
            finally:
                bridge.stop()
    finally:
        scratch_db.drop_database(database)


def test_broker_restarted_mid_stream(workdir):
    """The broker restarted while the bridge is busy with a stream: the
    bridge reconnects, subscribes again, takes what comes next, and
    nothing is doubled; it neither crashes nor acknowledges on the new
    connection what it received on the old one.

    Mosquitto 2.0.11 (Debian 12) does not restore MQTT 5 sessions nor
    shared subscriptions from its persistence file: what it held for the
    bridge when it stopped, and what is published before the bridge has
    subscribed again, is lost by the broker. So the second half of the
    stream comes once the bridge is back; the first half is asserted only
    to have landed at most once."""
    database = iot_database('broker')
    try:
        broker = Mosquitto(workdir, name='mosquitto-restart',
            persistent=True).start()
        bridge = BridgeProcess(database, broker.port, workdir,
            client_id='reliability-broker')
        stream = Stream(3000, 30, 'BRK')
        first, second = stream.part(0, 1500), stream.part(1500, 3000)
        try:
            bridge.start()
            # The first half faster than the bridge takes it, and the
            # broker stopped while it still has some of it.
            with Publisher(broker.port) as publisher:
                first.publish(publisher, 5000)
            broker.stop()
            time.sleep(2)
            broker.start()
            wait_for(lambda: bridge.output().count('subscribed to') >= 2,
                'the bridge to subscribe again')
            with Publisher(broker.port) as publisher:
                second.publish(publisher, 1000)
            wait_for_stream(second, database)
            output = bridge.output()
            assert 'disconnected from broker' in output
            assert 'Traceback' not in output
            second.check(database)
            # Of the first half, what the broker delivered, once.
            assert count_events(database, first.fault_ids) == len(
                first.fault_ids), first.missing(database)
            assert dead_letters(database) == []
            assert bridge.alive
        except BaseException:
            print(bridge.output(since_start=False)[-6000:])
            raise
        finally:
            bridge.stop()
            broker.stop()
    finally:
        scratch_db.drop_database(database)


# --- several deployments, broker restarts, the heartbeat (issue 13) ---------

def fault_events(database, fault_ids, uri=None):
    "fault_id -> number of events (more than 1 would be a double)."
    return dict(query(database, '''SELECT fault_id, COUNT(*)
        FROM elevator_iot_event WHERE fault_id = ANY(%s)
        GROUP BY fault_id''', (sorted(fault_ids),), uri))


def open_faults(database, uri=None):
    "Open faults counted on the live status rows (doubles count twice)."
    return query(database, '''SELECT COALESCE(SUM(open_faults), 0)
        FROM elevator_iot_status''', (), uri)[0][0]


def test_two_deployments_on_one_broker(workdir):
    """Two databases (say staging and production), a bridge each, one
    broker; each database knows the same devices. Every message must reach
    both: each deployment has its own shared-subscription group (derived
    from its database name), so neither takes the other's share."""
    first, second = iot_database('deploy_a'), iot_database('deploy_b')
    try:
        with Mosquitto(workdir, name='mosquitto-deployments') as broker:
            bridges = [BridgeProcess(db, broker.port, workdir,
                    client_id=f'deployment-{n}')
                for n, db in enumerate([first, second])]
            stream = Stream(2000, 20, 'TWO')
            try:
                for bridge in bridges:
                    bridge.start()
                with Publisher(broker.port) as publisher:
                    stream.publish(publisher, 600)
                for database in (first, second):
                    wait_for_stream(stream, database)
                    stream.check(database)
                    # Nothing of the other's: no unknown device, nothing
                    # missing.
                    assert dead_letters(database) == []
                    assert set(fault_events(database,
                            stream.fault_ids).values()) == {1}
                for bridge, database in zip(bridges, (first, second)):
                    assert (f'$share/elevator-{database}/elevator/v1/+/+'
                        in bridge.output())
                    assert bridge.alive
            except BaseException:
                for bridge in bridges:
                    print(bridge.output(since_start=False)[-4000:])
                raise
            finally:
                for bridge in bridges:
                    bridge.stop()
    finally:
        scratch_db.drop_database(first)
        scratch_db.drop_database(second)


def faults_of(prefix, count, start=0):
    "count faults (serial, payload) spread over DEVICES."
    stamp = now() - dt.timedelta(minutes=5)
    return [(DEVICES[i % len(DEVICES)], fault(f'{prefix}-{i:03d}',
                (7, 8, 21, 4, 12)[i % 5], stamp + dt.timedelta(seconds=i)))
        for i in range(start, start + count)]


def test_faults_while_bridge_away_across_broker_restart(workdir):
    """The bridge stopped, 40 faults published, the broker restarted, the
    bridge restarted: its persistent alarm session brings all 40, once."""
    database = iot_database('away')
    try:
        broker = Mosquitto(workdir, name='mosquitto-away',
            persistent=True).start()
        bridge = BridgeProcess(database, broker.port, workdir,
            client_id='reliability-away')
        faults = faults_of('AWAY', 40)
        ids = {payload['faultId'] for _, payload in faults}
        try:
            # Once, for its sessions to exist on the broker.
            bridge.start()
            bridge.stop()
            with Publisher(broker.port) as publisher:
                for serial, payload in faults:
                    publisher.send(serial, 'fault', payload, qos=1)
            broker.stop()
            broker.start()
            bridge.start()
            wait_for(lambda: count_events(database, ids) == 40,
                'the 40 faults')
            # Let a redelivery come, if one were to.
            time.sleep(2)
            assert fault_events(database, ids) == dict.fromkeys(ids, 1)
            assert open_faults(database) == 40
            assert 'session resumed' in bridge.output()
            assert dead_letters(database) == []
        except BaseException:
            print(bridge.output(since_start=False)[-6000:])
            raise
        finally:
            bridge.stop()
            broker.stop()
    finally:
        scratch_db.drop_database(database)


class RetryingDevice:
    """A device's MQTT client as the devices behave: a session kept across
    reconnections (clean start only the first time), QoS 1 messages
    queued while the broker is away and re-sent, unacknowledged ones
    again with DUP, until the broker acknowledges them."""

    def __init__(self, port, name):
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=f'device-{name}', protocol=mqtt.MQTTv5)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 1)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        # The broker's PUBACKs (a message published while the broker is
        # away is queued, its MessageInfo says "not connected", and sent
        # on the next connection).
        self.acknowledged = set()
        self.client.on_publish = (
            lambda client, userdata, mid, *args: self.acknowledged.add(mid))
        self.client.connect('127.0.0.1', port, clean_start=True,
            properties=properties, keepalive=5)
        self.client.loop_start()
        assert connected.wait(WAIT)
        self.infos = []

    def send(self, serial, payload):
        import json
        self.infos.append(self.client.publish(f'elevator/v1/{serial}/fault',
                json.dumps(payload).encode(), qos=1))

    def close(self):
        wait_for(lambda: {i.mid for i in self.infos} <= self.acknowledged,
            'the broker to acknowledge every fault')
        self.client.disconnect()
        self.client.loop_stop()


def test_broker_restarted_twice_during_fault_stream(workdir):
    """The bridge running, four devices sending 80 QoS 1 faults in 8 s, the
    broker restarted twice meanwhile: 80 events, none doubled."""
    database = iot_database('twice')
    try:
        broker = Mosquitto(workdir, name='mosquitto-twice',
            persistent=True).start()
        bridge = BridgeProcess(database, broker.port, workdir,
            client_id='reliability-twice')
        faults = faults_of('TWICE', 80)
        ids = {payload['faultId'] for _, payload in faults}
        try:
            bridge.start()
            devices = [RetryingDevice(broker.port, n) for n in range(4)]

            def publish():
                for i, (serial, payload) in enumerate(faults):
                    devices[i % 4].send(serial, payload)
                    time.sleep(0.1)
            publishing = threading.Thread(target=publish, daemon=True)
            publishing.start()
            for _ in range(2):
                time.sleep(2.5)
                broker.stop()
                time.sleep(0.5)
                broker.start()
            publishing.join(WAIT)
            for device in devices:
                device.close()
            wait_for(lambda: count_events(database, ids) == 80,
                'the 80 faults')
            time.sleep(2)
            assert fault_events(database, ids) == dict.fromkeys(ids, 1)
            # Each raised once: a double would count twice.
            assert open_faults(database) == 80
            output = bridge.output()
            assert output.count('alarm lane: disconnected from broker') >= 2
            assert 'Traceback' not in output
            assert dead_letters(database) == []
            assert bridge.alive
        except BaseException:
            print(bridge.output(since_start=False)[-6000:])
            raise
        finally:
            bridge.stop()
            broker.stop()
    finally:
        scratch_db.drop_database(database)


def kill(broker):
    "SIGKILL: the broker saves nothing."
    os.killpg(broker.process.pid, signal.SIGKILL)
    broker.process.wait()


def test_broker_killed_during_fault_stream(workdir):
    """The broker killed with SIGKILL (no save) while four devices send 60
    QoS 1 faults to the running bridge, then started again.

    What a SIGKILL can lose: what the broker received since it last saved
    its persistence file (at a clean stop or every `autosave_interval`).
    A broker that has run for a while has the bridge's sessions and
    subscriptions in that file, so after the restart it queues the
    devices' messages for the bridge even before the bridge is back. The
    devices re-send every QoS 1 message they have no PUBACK for, and the
    bridge acknowledges only what it has committed. So every fault is
    stored once, but for some of those the dead broker had acknowledged
    to a device and not yet handed to the bridge; all sent while it was
    down or after it came back are stored.

    A broker killed before it ever saved the bridge's session (the first
    kill here) drops what comes before the bridge subscribes again: the
    bridge says so in its log."""
    database = iot_database('sigkill')
    try:
        broker = Mosquitto(workdir, name='mosquitto-sigkill',
            persistent=True).start()
        bridge = BridgeProcess(database, broker.port, workdir,
            client_id='reliability-sigkill')
        faults = faults_of('KILL', 60)
        ids = [payload['faultId'] for _, payload in faults]

        def subscribed(count):
            return bridge.output().count(
                'alarm lane (reliability-sigkill-alarm): connected') >= count
        try:
            bridge.start()
            wait_for(lambda: subscribed(1), 'the bridge to subscribe')
            kill(broker)
            broker.start()
            wait_for(lambda: subscribed(2), 'the bridge to subscribe again')
            assert "alarm lane: the broker lost this lane's session" in (
                bridge.output())
            # A clean stop saves the sessions, as a broker running for
            # longer than its autosave interval has them saved.
            broker.stop()
            broker.start()
            wait_for(lambda: subscribed(3), 'the bridge to resume')
            devices = [RetryingDevice(broker.port, f'k{n}')
                for n in range(4)]
            sent = []

            def publish():
                for i, (serial, payload) in enumerate(faults):
                    devices[i % 4].send(serial, payload)
                    sent.append((devices[i % 4], devices[i % 4].infos[-1],
                            payload['faultId']))
                    time.sleep(0.1)
            publishing = threading.Thread(target=publish, daemon=True)
            publishing.start()
            time.sleep(2)
            kill(broker)
            # What the dead broker had acknowledged: it may have lost these.
            acknowledged = {fault_id for device, info, fault_id in list(sent)
                if info.mid in device.acknowledged}
            time.sleep(1.5)
            broker.start()
            publishing.join(WAIT)
            for device in devices:
                device.close()
            # Sent while the broker was down or after: the devices re-send
            # them, so they must all come; a test that saw none of them
            # would prove nothing.
            later = set(ids) - acknowledged
            assert len(later) >= 20, len(later)
            try:
                wait_for(lambda: set(fault_events(database, later)) == later,
                    'every fault the broker had not acknowledged')
            except AssertionError:
                raise AssertionError('missing: %s' % sorted(
                        later - set(fault_events(database, later))))
            time.sleep(2)
            stored = fault_events(database, ids)
            assert set(stored.values()) == {1}, stored
            lost = set(ids) - set(stored)
            assert lost <= acknowledged
            print(f'SIGKILL: {len(acknowledged)} faults acknowledged by the '
                f'killed broker, {len(lost)} of them lost')
            output = bridge.output()
            assert output.count('alarm lane: disconnected from broker') >= 3
            assert output.count(
                "alarm lane: the broker lost this lane's session") == 1
            assert 'Traceback' not in output
            assert dead_letters(database) == []
            assert bridge.alive
        except BaseException:
            print(bridge.output(since_start=False)[-6000:])
            raise
        finally:
            bridge.stop()
            broker.stop()
    finally:
        scratch_db.drop_database(database)


class DeafProxy:
    """A TCP proxy in front of the broker that can turn deaf: on the
    connections open at that moment it keeps forwarding everything except
    the PUBLISH packets from the broker - what a broker that restored a
    session without its subscription looks like to a client (connected,
    pings answered, nothing delivered). New connections are whole."""

    def __init__(self, upstream):
        import socket
        self.upstream = upstream
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.connections = []
        self.deaf = set()
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            broker = socket.create_connection(('127.0.0.1', self.upstream))
            self.connections.append((client, broker))
            threading.Thread(target=self._pump, args=(client, broker),
                daemon=True).start()
            threading.Thread(target=self._from_broker,
                args=(broker, client), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(2)
            except OSError:
                pass

    def _from_broker(self, broker, client):
        "Packet by packet, to drop PUBLISH once deaf."
        def read(count):
            data = b''
            while len(data) < count:
                chunk = broker.recv(count - len(data))
                if not chunk:
                    raise OSError('closed')
                data += chunk
            return data
        try:
            while True:
                header = read(1)
                length, shift, raw = 0, 0, b''
                while True:
                    byte = read(1)
                    raw += byte
                    length += (byte[0] & 0x7f) << shift
                    shift += 7
                    if not byte[0] & 0x80:
                        break
                body = read(length)
                if header[0] >> 4 == 3 and client in self.deaf:
                    self.dropped += 1
                    continue
                client.sendall(header + raw + body)
        except OSError:
            pass
        for sock in (broker, client):
            try:
                sock.shutdown(2)
            except OSError:
                pass

    def turn_deaf(self):
        self.deaf.update(c for c, _ in self.connections)

    def close(self):
        self.server.close()
        for pair in self.connections:
            for sock in pair:
                sock.close()


def test_heartbeat_detects_a_deaf_subscription(workdir):
    """The connection stays up but the broker delivers nothing (the proxy
    drops what it publishes to the bridge): the bridge misses its own
    heartbeat, says so, reconnects, and the fault the broker had kept
    meanwhile is stored; the health endpoint's rule turns critical once
    the heartbeat is 30 s old."""
    database = iot_database('deaf')
    try:
        with Mosquitto(workdir, name='mosquitto-deaf') as broker:
            proxy = DeafProxy(broker.port)
            metrics_port = free_port()
            bridge = BridgeProcess(database, proxy.port, workdir,
                client_id='reliability-deaf', args=['--heartbeat', '2',
                    '--metrics-port', str(metrics_port)])
            try:
                bridge.start()
                wait_for(lambda: bridge_row(database)
                    and bridge_row(database)['heartbeat_at'],
                    'the bridge to report its heartbeat')
                proxy.turn_deaf()
                deaf_at = time.monotonic()
                (serial, payload), = faults_of('DEAF', 1)
                with Publisher(broker.port) as publisher:
                    publisher.send(serial, 'fault', payload, qos=1)
                wait_for(lambda: count_events(database,
                        {payload['faultId']}) == 1, 'the fault')
                recovered = time.monotonic() - deaf_at
                output = bridge.output()
                assert 'alarm lane: heartbeat not received' in output
                assert 'telemetry lane: heartbeat not received' in output
                assert proxy.dropped >= 2
                # Two heartbeats' time to notice, one to reconnect.
                assert recovered < 30, recovered
                # Heard again, and reported so (every 10 s) to the row the
                # health endpoint reads.
                def reported():
                    bridges = health_of_bridges(database)['bridges']
                    return bridges and bridges[0]['lanes'].get(
                        'alarm', {}).get('reconnects', 0) >= 1 and bridges[0]
                row = wait_for(reported, 'the reconnection reported')
                assert health_of_bridges(database)['status'] == 'ok'
                assert health_of_bridges(database, later=31)['status'] == (
                    'critical')
                assert row['client_id'] == 'reliability-deaf'
                assert row['connected'] and row['subscribed']
                assert set(row['lanes']) == {'alarm', 'telemetry'}
                assert row['heartbeat_rtt_seconds'] is not None
                # The same counters for Prometheus.
                metrics = metrics_of(metrics_port)
                assert metrics['elevator_bridge_messages_total'
                    '{lane="alarm"}'] >= 1
                assert metrics['elevator_bridge_reconnects_total'
                    '{lane="alarm"}'] >= 1
                assert metrics['elevator_bridge_reconnects_total'
                    '{lane="telemetry"}'] >= 1
                assert metrics['elevator_bridge_connected'
                    '{lane="telemetry"}'] == 1
                assert metrics['elevator_bridge_shed_total'
                    '{lane="telemetry"}'] == 0
                assert 0 <= metrics['elevator_bridge_heartbeat_age_seconds'
                    '{lane="alarm"}'] < 10
            except BaseException:
                print(bridge.output(since_start=False)[-6000:])
                raise
            finally:
                bridge.stop()
                proxy.close()
        # Stopped on purpose: reported, and not an alarm.
        assert health_of_bridges(database, later=60)['status'] == 'ok'
    finally:
        scratch_db.drop_database(database)


def metrics_of(port):
    "The Prometheus text of a bridge, as {name{labels}: value}."
    import urllib.request
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics',
            timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            name, value = line.rsplit(' ', 1)
            values[name] = float(value)
    return values


def bridge_row(database):
    rows = query(database, '''SELECT name, connected, subscribed,
        heartbeat_at, heartbeat_rtt, backlog, shed, lanes
        FROM elevator_iot_bridge''')
    if not rows:
        return None
    return dict(zip(['name', 'connected', 'subscribed', 'heartbeat_at',
                'heartbeat_rtt', 'backlog', 'shed', 'lanes'], rows[0]))


def health_of_bridges(database, later=0):
    "The `bridges` part of /{db}/elevator/health, `later` seconds from now."
    from elevator_platform import tryton_env
    from trytond.modules.elevator_iot import health
    from trytond.transaction import Transaction
    with tryton_env.transaction(database, readonly=True) as pool:
        cursor = Transaction().connection.cursor()
        return health.bridges(pool, cursor, dt.datetime.utcnow()
            + dt.timedelta(seconds=later))


def test_faults_overtake_a_flood_of_running(workdir):
    """Running readings at QoS 0 as fast as two publishers can send them
    (more than the bridge commits here), with 20 trapped-passenger faults
    at QoS 1 among them, one after the other: every fault is stored once
    while the flood goes on (the alarm lane does not wait for the
    telemetry lane), and the telemetry lane reports what it shed."""
    database = iot_database('flood')
    try:
        with Mosquitto(workdir, name='mosquitto-flood') as broker:
            bridge = BridgeProcess(database, broker.port, workdir,
                client_id='reliability-flood')
            faults = faults_of('FLOOD', 20)
            ids = {payload['faultId'] for _, payload in faults}
            flooding = threading.Event()
            sent = [0, 0]
            try:
                bridge.start()

                def flood(n):
                    import json
                    stamp = now() - dt.timedelta(minutes=1)
                    payload = json.dumps(running(stamp)).encode()
                    with Publisher(broker.port) as publisher:
                        while flooding.is_set():
                            for serial in DEVICES:
                                publisher.client.publish(
                                    f'elevator/v1/{serial}/running',
                                    payload, qos=0)
                                sent[n] += 1
                            time.sleep(0.001)
                flooding.set()
                floods = [threading.Thread(target=flood, args=(n,),
                        daemon=True) for n in range(2)]
                for thread in floods:
                    thread.start()
                time.sleep(3)
                latencies = []
                with Publisher(broker.port) as publisher:
                    for serial, payload in faults:
                        started = time.monotonic()
                        publisher.send(serial, 'fault', payload, qos=1)
                        publisher.flush()
                        wait_for(lambda: count_events(database,
                                {payload['faultId']}) == 1, 'the fault',
                            interval=0.01)
                        latencies.append(time.monotonic() - started)
                flooding.clear()
                for thread in floods:
                    thread.join()
                latencies.sort()
                print(f'flood: {sum(sent)} running messages sent; fault '
                    f'commit p50 {latencies[10]:.3f} s, max '
                    f'{latencies[-1]:.3f} s')
                assert fault_events(database, ids) == dict.fromkeys(ids, 1)
                assert open_faults(database) == 20
                wait_for(lambda: 'telemetry lane: connected and subscribed'
                    in bridge.output(), 'a stats line')
                assert re.search(r'telemetry lane: connected and '
                    r'subscribed, handled \d+ messages, dead letters 0, '
                    r'shed \d+', bridge.output())
                assert dead_letters(database) == []
                assert bridge.alive
            except BaseException:
                flooding.clear()
                print(bridge.output(since_start=False)[-6000:])
                raise
            finally:
                bridge.stop()
    finally:
        scratch_db.drop_database(database)
