"""`elevator bridge`: MQTT → database.

paho-mqtt, MQTT 5, QoS 1, persistent sessions (clean_start False with a
session expiry), on two lanes (see Lane; docs/iot-protocol.md §4): the
alarm lane (`fault`, `status`; plain subscription; never shed) and the
telemetry lane (shared subscription `$share/elevator-<database>/elevator/
v1/+/+` so that the bridges of a deployment split the load, and another
deployment on the same broker keeps its own share). A QoS 1 message is
acknowledged only after the batch that carries it is committed. While the
database is down the batch is retried with back-off and nothing is
acknowledged, so the broker keeps (and on a restart of the bridge
redelivers) every message: none is lost, and the idempotent ingestion
makes a redelivery harmless. Each lane checks with a heartbeat to itself
that its subscription delivers, and reconnects when it does not.

Processes: this one speaks MQTT (per lane, paho's network thread queues
the messages, the lane's thread hands them over in batches and
acknowledges them), worker processes (per lane) apply the batches through `Ingestor` and answers
once they are committed. paho reads a message with several system calls,
each giving up Python's interpreter lock: sharing a process with the
database work, it waited for the lock at every one of them and the bridge
handled a fraction of the traffic. The worker dies with the bridge.

Where the broker speaks only MQTT 3.1.1 (e.g. the embedded demo broker), the
bridge falls back to a plain subscription with a persistent session and
says that only one bridge may run.

The hand-over between paho's thread and the main thread is bounded: when
the database falls behind a flood of QoS 0 messages, paho's thread waits
(the broker then queues, or drops QoS 0 as MQTT allows) instead of piling
up messages in memory. QoS 1 messages are bounded by the receive maximum
the bridge announces.

Deployment: the broker must keep what a bridge has not acknowledged while
it is down or behind: Mosquitto's `max_queued_messages` (1000 by default)
is too small for a stream of thousands of messages per second; set it to 0
(no limit) or to what an outage of some minutes brings. Each bridge keeps
its client id across restarts (`--client-id`, default
`elevator-bridge-<database>`; a second bridge needs another one): the broker gives every session of the
shared subscription its share of the messages, also a session whose bridge
never comes back, which keeps them until the session expires.
"""
import collections
import datetime as dt
import logging
import multiprocessing
import os
import signal
import threading
import time

logger = logging.getLogger('elevator.bridge')

TOPIC_ROOT = 'elevator/v1'
TOPIC = f'{TOPIC_ROOT}/+/+'
# The alarm lane's kinds: they never wait behind telemetry.
ALARM_KINDS = ('fault', 'status')
ALARM_SUFFIXES = tuple(f'/{kind}' for kind in ALARM_KINDS)
# elevator/bridge/{client id}/heartbeat: outside the devices' topics.
HEARTBEAT_ROOT = 'elevator/bridge'
HEARTBEAT_INTERVAL = 5  # seconds between heartbeats, and to get one back
ALARM_WORKERS = 1
REPORT_INTERVAL = 10  # seconds between two writes of the state to the db
SESSION_EXPIRY = 24 * 3600  # the broker keeps unacknowledged messages
RECEIVE_MAXIMUM = 2000  # unacknowledged QoS 1 messages in flight
BATCH_SIZE = 2000
BATCH_WAIT = 0.05  # seconds to wait for a batch to fill
MAX_BACKOFF = 30
DB_MAX_BACKOFF = 10  # seconds between two tries while the database is down
QUEUE_BATCHES = 2  # messages held in memory, in batches, before paho waits
QUEUE_WAIT = 1.0  # seconds a QoS 0 message waits for room, then is dropped
STATS_INTERVAL = 60
WORKERS = 2  # processes applying batches, one batch each at a time


def add_parser(subparsers):
    from ..tryton_env import add_arguments
    parser = subparsers.add_parser('bridge',
        help="run the MQTT bridge (devices → database)")
    add_arguments(parser)
    parser.add_argument('--host', default=os.environ.get(
            'ELEVATOR_MQTT_HOST', '127.0.0.1'))
    parser.add_argument('--port', type=int, default=int(os.environ.get(
                'ELEVATOR_MQTT_PORT', 1883)))
    parser.add_argument('--username', default=os.environ.get(
            'ELEVATOR_MQTT_USERNAME'))
    parser.add_argument('--password', default=os.environ.get(
            'ELEVATOR_MQTT_PASSWORD'))
    parser.add_argument('--client-id', default=os.environ.get(
            'ELEVATOR_BRIDGE_CLIENT_ID'),
        help="MQTT client id, the same at every restart so that the "
        "persistent session resumes; each bridge its own; the alarm lane "
        "uses it with '-alarm' appended (default: "
        "$ELEVATOR_BRIDGE_CLIENT_ID or elevator-bridge-<database>)")
    parser.add_argument('--group', default=os.environ.get(
            'ELEVATOR_BRIDGE_GROUP'),
        help="shared-subscription group, the same for the bridges of one "
        "deployment and different from any other deployment's on the "
        "broker (default: $ELEVATOR_BRIDGE_GROUP or elevator-<database>)")
    parser.add_argument('--heartbeat', type=float,
        default=HEARTBEAT_INTERVAL, metavar='SECONDS',
        help="each lane sends itself a heartbeat every SECONDS and "
        "reconnects when it is not back within as many (default: "
        f"{HEARTBEAT_INTERVAL}; 0: never)")
    parser.add_argument('--metrics-port', type=int, default=int(
            os.environ.get('ELEVATOR_BRIDGE_METRICS_PORT') or 0) or None,
        help="serve the bridge's counters as Prometheus text on this port "
        "at /metrics ($ELEVATOR_BRIDGE_METRICS_PORT; needs "
        "prometheus-client)")
    parser.add_argument('--metrics-host', default=os.environ.get(
            'ELEVATOR_BRIDGE_METRICS_HOST', '127.0.0.1'))
    parser.add_argument('--protocol', choices=['auto', '5', '3.1.1'],
        default='auto')
    parser.add_argument('--tls', action='store_true',
        default=os.environ.get('ELEVATOR_MQTT_TLS', '').lower() in {
            '1', 'true', 'yes'},
        help="connect with TLS, verifying the broker's certificate "
        "(against --ca-file, else the system's CAs; $ELEVATOR_MQTT_TLS)")
    parser.add_argument('--ca-file', default=os.environ.get(
            'ELEVATOR_MQTT_CA_FILE'),
        help="CA certificate(s) of the broker, PEM; implies --tls "
        "($ELEVATOR_MQTT_CA_FILE)")
    parser.add_argument('--cert-file', default=os.environ.get(
            'ELEVATOR_MQTT_CERT_FILE'),
        help="client certificate, PEM, when the broker asks for one "
        "($ELEVATOR_MQTT_CERT_FILE)")
    parser.add_argument('--key-file', default=os.environ.get(
            'ELEVATOR_MQTT_KEY_FILE'),
        help="private key of the client certificate "
        "($ELEVATOR_MQTT_KEY_FILE)")
    parser.add_argument('--batch-size', type=int, default=BATCH_SIZE)
    parser.add_argument('--workers', type=int, default=None,
        help="processes applying batches in parallel (default: "
        f"{WORKERS} on PostgreSQL, 1 on SQLite)")
    parser.add_argument('--stats', type=float, default=STATS_INTERVAL,
        metavar='SECONDS', help="log the counters every SECONDS "
        f"(default: {STATS_INTERVAL}; 0: never)")
    parser.add_argument('-v', '--verbose', action='store_true')
    parser.set_defaults(func=run)


def run(args):
    from ..tryton_env import configure
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    configure(args.config)
    workers = args.workers
    if workers is None:
        from trytond import backend
        # SQLite (the demo) has one writer at a time.
        workers = WORKERS if backend.name == 'postgresql' else 1
    try:
        bridge = Bridge(args.database, host=args.host, port=args.port,
            username=args.username, password=args.password,
            client_id=args.client_id, protocol=args.protocol,
            batch_size=args.batch_size, stats_interval=args.stats,
            workers=workers, tls=args.tls, ca_file=args.ca_file,
            cert_file=args.cert_file, key_file=args.key_file,
            group=args.group, heartbeat=args.heartbeat,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host)
    except OSError as exception:  # (ssl.SSLError is one)
        # A configuration error: retrying would not mend it.
        logger.error('TLS to the broker: cannot load --ca-file %s, '
            '--cert-file %s, --key-file %s: %s', args.ca_file,
            args.cert_file, args.key_file, exception)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
    signal.signal(signal.SIGINT, lambda *_: bridge.stop())
    return bridge.run()


def faster_mqtt5_properties():
    """paho 2.2 builds, for every MQTT 5 packet it reads, two tables of the
    ~40 property names and types, and clears a parsed packet's properties
    by looking each name up: for PUBLISH packets without any property (the
    devices' messages) that was a third of the bridge's time per message.
    Same class, same behaviour, the tables shared by all instances."""
    from paho.mqtt import _packet
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    if _packet.Properties is not Properties:
        return  # done already, or paho changed: leave it alone
    template = Properties(PacketTypes.PUBLISH)
    compressed = tuple(name.replace(' ', '') for name in template.names)

    class SharedTablesProperties(Properties):
        def __init__(self, packetType):
            object.__setattr__(self, 'packetType', packetType)
            object.__setattr__(self, 'types', template.types)
            object.__setattr__(self, 'names', template.names)
            object.__setattr__(self, 'properties', template.properties)

        def clear(self):
            values = self.__dict__
            for name in compressed:
                values.pop(name, None)

    SharedTablesProperties.__name__ = 'Properties'
    SharedTablesProperties.__qualname__ = 'Properties'
    _packet.Properties = SharedTablesProperties


def tls_context(ca_file=None, cert_file=None, key_file=None):
    """The TLS context of the connection to the broker: the broker's
    certificate and host name are always verified, against ca_file (PEM)
    or else the system's CAs; cert_file and key_file are the bridge's own
    certificate, for a broker that asks for one."""
    import ssl
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def deployment_name(database):
    "The database name as MQTT allows it in a share name or client id."
    return ''.join(c if c.isalnum() or c in '-_.' else '_'
        for c in str(database)) or 'default'


def default_group(database):
    return f'elevator-{deployment_name(database)}'


def default_client_id(database):
    return f'elevator-bridge-{deployment_name(database)}'


def heartbeat_topic(client_id):
    "Where a lane's client sends its heartbeat to itself."
    return f'{HEARTBEAT_ROOT}/{client_id}/heartbeat'


class Lane:
    """One MQTT session (client id, subscription, queue, ingestion workers
    and thread) of the bridge.

    - `alarm`: `fault` and `status` messages, on a session of their own
      (client id `<client id>-alarm`), applied by a worker of their own and
      never shed, so that a fault never waits behind telemetry. Its
      subscription is a plain one, not shared: every bridge takes every
      fault (the ingestion is idempotent, a fault is one event whoever
      stores it first) because Mosquitto 2.0.11, restarted, restores a
      persistent session's plain subscription but not its shared one
      (what is published before the bridge subscribes again is dropped);
    - `telemetry`: everything else (`running`, `periodic`, and what is
      not a device message at all, for the dead letters); its QoS 0
      messages are shed, counted, when the database cannot keep up.

    Each lane sends itself a heartbeat through its shared subscription
    every `heartbeat` seconds and must get it back within as many seconds
    (or some other message meanwhile): a broker that restored the session
    without a working subscription (Mosquitto 2.0.11 does, after a
    restart) is noticed and the lane reconnects, first resuming the
    session (the broker sends again what it has not had acknowledged),
    then with a clean one."""

    def __init__(self, bridge, name, client_id, filters, workers, shed,
            share=True):
        self.bridge = bridge
        self.name = name
        self.share = share
        self.client_id = client_id
        self.filters = filters
        self.shed_qos0 = shed
        self.worker_count = max(workers, 1)
        self.workers = []
        # (paho message, received at (time.time()), connection generation)
        self.queue = collections.deque()
        self.max_queue = QUEUE_BATCHES * bridge.batch_size
        self.lock = threading.Lock()
        self.not_empty = threading.Condition(self.lock)
        self.not_full = threading.Condition(self.lock)
        # Counts the connections: a message is acknowledged only on the
        # connection that delivered it (the broker resends the others).
        self.generation = 0
        self.client = None
        self.shared = None
        self.connected = False
        self.subscribed = False
        # Whether the broker ever gave this lane a session (one missing
        # on a later connection was lost by the broker).
        self.had_session = False
        self.asked_clean = False
        # Batches handed over, in order: [batch, answer or None]
        self.inflight = collections.deque()
        self.handled = 0
        self.dead_letters = 0
        self.shed = 0
        self.skipped = 0  # other lanes' messages, acknowledged and left
        self.lag = 0.0
        self.last_message = None  # time.time() of the last device message
        self.last_received = 0.0  # time.monotonic(), heartbeats included
        # Heartbeat: (sequence, sent at monotonic) while one is out.
        self.heartbeat_seq = 0
        self.heartbeat_sent = None
        self.heartbeat_ok = None  # time.time() of the last one back
        self.heartbeat_rtt = None
        self.heartbeat_failures = 0  # in a row
        self.reconnects = 0
        self.last_heartbeat_check = time.monotonic()
        self.topic = heartbeat_topic(client_id)
        self.error = None

    # --- MQTT -----------------------------------------------------------
    def _client(self, version, clean=False):
        import paho.mqtt.client as mqtt
        bridge = self.bridge
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id, protocol=version,
            # (MQTT 3.1.1 asks for a clean session at creation.)
            clean_session=(None if version == mqtt.MQTTv5 else clean),
            manual_ack=True)
        if bridge.username:
            client.username_pw_set(bridge.username, bridge.password)
        if bridge.tls_context:
            client.tls_set_context(bridge.tls_context)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(1, MAX_BACKOFF)
        return client

    def connect(self, clean=False):
        faster_mqtt5_properties()
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        bridge = self.bridge
        versions = {'5': [mqtt.MQTTv5], '3.1.1': [mqtt.MQTTv311],
            'auto': [mqtt.MQTTv5, mqtt.MQTTv311]}[bridge.protocol]
        last_error = None
        for version in versions:
            client = self._client(version, clean)
            self.asked_clean = clean
            self._connected = threading.Event()
            self._refused = None
            try:
                if version == mqtt.MQTTv5:
                    properties = Properties(PacketTypes.CONNECT)
                    properties.SessionExpiryInterval = SESSION_EXPIRY
                    properties.ReceiveMaximum = RECEIVE_MAXIMUM
                    client.connect(bridge.host, bridge.port, keepalive=30,
                        clean_start=clean, properties=properties)
                else:
                    client.connect(bridge.host, bridge.port, keepalive=30)
            except OSError as exception:
                last_error = exception
                continue
            self.client = client
            client.loop_start()
            if self._connected.wait(10) and not self._refused:
                self.shared = version == mqtt.MQTTv5
                if not self.shared:
                    logger.warning("%s lane: the broker does not speak "
                        "MQTT 5: plain subscription, ONLY ONE bridge may "
                        "run", self.name)
                return
            self.client = None
            client.loop_stop()
            client.disconnect()
            last_error = self._refused or TimeoutError('no CONNACK')
        raise ConnectionError(
            f'cannot connect to MQTT broker {bridge.host}:{bridge.port}: '
            f'{last_error}')

    def subscriptions(self, shared):
        group = self.bridge.group
        topics = list(self.filters) + [self.topic]
        if shared and self.share:
            return [f'$share/{group}/{t}' for t in topics]
        return topics

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._refused = RuntimeError(str(reason_code))
            self._connected.set()
            return
        import paho.mqtt.client as mqtt
        topics = self.subscriptions(client.protocol == mqtt.MQTTv5)
        self.connected = True
        self.subscribed = False
        # A heartbeat out on the old connection will not come back.
        self.heartbeat_sent = None
        self.last_heartbeat_check = time.monotonic()
        client.subscribe([(t, 1) for t in topics])
        if (self.had_session and not flags.session_present
                and not self.asked_clean):
            # A broker restarted without its persistence file (SIGKILL
            # before an autosave, data lost): it dropped what arrived for
            # us before this subscription; the devices re-send only what
            # it had not acknowledged to them.
            logger.warning('%s lane: the broker lost this lane\'s session; '
                'messages published to it before it subscribed again are '
                'lost (check the broker\'s persistence and autosave)',
                self.name)
        self.had_session = True
        logger.info('%s lane (%s): connected to %s:%s%s, subscribed to %s '
            '(session %s)', self.name, self.client_id, self.bridge.host,
            self.bridge.port, ' with TLS' if self.bridge.tls else '',
            ', '.join(topics),
            'resumed' if flags.session_present else 'new')
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        failed = [str(c) for c in reason_codes if c.is_failure]
        if failed:
            logger.error('%s lane: subscription refused by the broker: %s',
                self.name, ', '.join(failed))
        else:
            self.subscribed = True

    def _on_disconnect(self, client, userdata, flags, reason_code,
            properties):
        with self.lock:
            self.generation += 1
        if client is self.client:
            self.connected = False
            self.subscribed = False
            if not self.bridge.stopping.is_set():
                logger.warning('%s lane: disconnected from broker (%s), '
                    'reconnecting', self.name, reason_code)

    def _on_message(self, client, userdata, msg):
        # Runs in paho's network thread: only queue it, waiting for room
        # when the database is behind.
        self.last_received = time.monotonic()
        topic = msg.topic
        if topic == self.topic:
            self._heartbeat_back(client, msg)
            return
        if self.name == 'telemetry' and topic.endswith(ALARM_SUFFIXES):
            # The alarm lane has its own subscription for these.
            if msg.qos:
                client.ack(msg.mid, msg.qos)
            self.skipped += 1
            return
        item = (msg, time.time(), self.generation)
        with self.lock:
            if (self.shed_qos0 and not msg.qos
                    and len(self.queue) >= self.max_queue):
                deadline = time.monotonic() + QUEUE_WAIT
                while len(self.queue) >= self.max_queue:
                    left = deadline - time.monotonic()
                    if left <= 0 or self.bridge.stopping.is_set():
                        # QoS 0 is "at most once": better one reading
                        # shed than the connection's keep-alive.
                        self.shed += 1
                        return
                    self.not_full.wait(left)
            # (The queue may be another deque after the wait.)
            self.queue.append(item)
            self.last_message = item[1]
            if len(self.queue) == 1:
                self.not_empty.notify()

    # --- heartbeat ------------------------------------------------------
    def _heartbeat_back(self, client, msg):
        if msg.qos:
            client.ack(msg.mid, msg.qos)
        try:
            seq = int(msg.payload.split(b' ')[0])
        except ValueError:
            return
        sent = self.heartbeat_sent
        if sent and sent[0] == seq:
            self.heartbeat_rtt = time.monotonic() - sent[1]
            self.heartbeat_ok = time.time()
            self.heartbeat_sent = None
            if self.heartbeat_failures:
                logger.info('%s lane: heartbeat back (%.3f s): the '
                    'subscription delivers again', self.name,
                    self.heartbeat_rtt)
            self.heartbeat_failures = 0

    def heartbeat(self):
        """Send a heartbeat every `interval` seconds; reconnect when the
        last one did not come back in time. Called by the lane's loop."""
        interval = self.bridge.heartbeat
        if not interval or self.client is None:
            return
        now = time.monotonic()
        if now - self.last_heartbeat_check < min(interval, 1):
            return
        self.last_heartbeat_check = now
        sent = self.heartbeat_sent
        if sent is not None:
            if now - sent[1] < interval:
                return
            if now - self.last_received < interval:
                # Other messages come through the subscription: alive,
                # its heartbeat only behind them.
                if now - sent[1] < 10 * interval:
                    return
            self.heartbeat_failures += 1
            self.heartbeat_sent = None
            clean = self.heartbeat_failures >= 2
            logger.error('%s lane: heartbeat not received within %.0f s '
                '(failure %s in a row): the broker does not deliver our '
                'subscription; reconnecting with %s session',
                self.name, now - sent[1], self.heartbeat_failures,
                'a CLEAN' if clean else 'the same')
            self.reconnect(clean)
            return
        if not self.connected or (self.heartbeat_ok and time.time()
                - self.heartbeat_ok < interval - 0.5):
            return
        self.heartbeat_seq += 1
        self.heartbeat_sent = (self.heartbeat_seq, now)
        self.client.publish(self.topic,
            f'{self.heartbeat_seq} {time.time():.3f}'.encode(), qos=1)

    def reconnect(self, clean):
        old = self.client
        self.client = None
        if old is not None:
            old.loop_stop()
            try:
                old.disconnect()
            except Exception:
                pass
        with self.lock:
            self.generation += 1
        self.connected = self.subscribed = False
        self.reconnects += 1
        delay = 1
        while not self.bridge.stopping.is_set():
            try:
                self.connect(clean=clean)
                return
            except ConnectionError as exception:
                logger.warning('%s lane: %s; retry in %s s', self.name,
                    exception, delay)
                self.bridge.stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    # --- the lane's loop --------------------------------------------------
    def start_workers(self, others):
        for _ in range(self.worker_count):
            worker = Worker(self.bridge.database)
            worker.start(others)
            others.append(worker)
            self.workers.append(worker)

    def run(self):
        "The lane's thread: connect, then batches until stopped."
        stopping = self.bridge.stopping
        try:
            delay = 1
            while not stopping.is_set():
                try:
                    self.connect()
                    break
                except ConnectionError as exception:
                    logger.warning('%s lane: %s; retry in %s s', self.name,
                        exception, delay)
                    stopping.wait(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
            while self.client and not stopping.is_set():
                self._dispatch()
                if self.inflight:
                    # Answers, or a moment for messages for an idle worker.
                    self._collect(0 if self.queue and self._idle()
                        else 0.02)
                self.heartbeat()
            # Let the batches under way finish (or be interrupted).
            while self.inflight:
                self._collect(0.5)
        except WorkerDied:
            logger.error('%s lane: an ingestion worker died; the broker '
                'keeps the unacknowledged messages', self.name)
            self.error = 'worker died'
            self.bridge.stop()
        except Exception:
            logger.exception('%s lane failed', self.name)
            self.error = 'failed'
            self.bridge.stop()
        finally:
            if self.client is not None:
                self.client.loop_stop()
                self.client.disconnect()

    def _idle(self):
        return [w for w in self.workers if w.batch is None]

    def _dispatch(self):
        "Hand a batch to each idle worker, while there are messages."
        for worker in self._idle():
            batch = self._next_batch(wait=not self.inflight)
            if not batch:
                return
            items = [(msg.topic, msg.payload, received_at)
                for msg, received_at, _ in batch
                if not is_retained_cleared(msg)]
            entry = [batch, None]  # the batch, its answer once committed
            self.inflight.append(entry)
            worker.send(items, entry)

    def _collect(self, timeout):
        """Take the workers' answers; acknowledge, in the order received,
        the batches committed."""
        for worker in Worker.ready(self.workers, timeout):
            entry, answer = worker.receive()
            entry[1] = answer
        generation = self.generation
        client = self.client
        while self.inflight and self.inflight[0][1] is not None:
            batch, (ok, dead_letters) = self.inflight.popleft()
            if not ok:
                # Stopped before it was committed: the broker keeps it.
                logger.warning('%s lane: stopping with %s unacknowledged '
                    'messages (the broker redelivers them)', self.name,
                    len(batch))
                continue
            for msg, _, delivered_on in batch:
                if msg.qos and delivered_on == generation and client:
                    client.ack(msg.mid, msg.qos)
            self.handled += len(batch)
            self.dead_letters += dead_letters
            self.lag = time.time() - batch[0][1]

    def _next_batch(self, wait=True):
        with self.lock:
            if not self.queue:
                if not wait:
                    return []
                self.not_empty.wait(0.5)
                if not self.queue:
                    return []
            short = len(self.queue) < self.bridge.batch_size
        if short and wait and self.name != 'alarm':
            # Light traffic: a moment for the batch to fill, rather than a
            # transaction per message. (Alarms go at once.)
            self.bridge.stopping.wait(BATCH_WAIT)
        with self.lock:
            queue = self.queue
            size = self.bridge.batch_size
            if len(queue) > size:
                batch = [queue.popleft() for _ in range(size)]
            else:
                batch = list(queue)
                queue.clear()
            self.not_full.notify_all()
        return batch

    def state(self):
        "What the operators see of the lane (log, health, metrics)."
        return {
            'client_id': self.client_id,
            'connected': self.connected,
            'subscribed': self.subscribed,
            'handled': self.handled,
            'dead_letters': self.dead_letters,
            'shed': self.shed,
            'backlog': len(self.queue) + sum(len(b)
                for b, _ in self.inflight),
            'lag_seconds': round(self.lag, 3),
            'last_message_at': _iso(self.last_message),
            'heartbeat_ok_at': _iso(self.heartbeat_ok),
            'heartbeat_rtt_seconds': (None if self.heartbeat_rtt is None
                else round(self.heartbeat_rtt, 4)),
            'heartbeat_failures': self.heartbeat_failures,
            'reconnects': self.reconnects,
            }


def _iso(epoch):
    if epoch is None:
        return None
    return utc(epoch).isoformat(timespec='milliseconds') + 'Z'


class Bridge:

    def __init__(self, database, host='127.0.0.1', port=1883,
            username=None, password=None, client_id=None,
            protocol='auto', batch_size=BATCH_SIZE,
            stats_interval=STATS_INTERVAL, workers=WORKERS, tls=False,
            ca_file=None, cert_file=None, key_file=None, group=None,
            heartbeat=HEARTBEAT_INTERVAL, alarm_workers=ALARM_WORKERS,
            report_interval=REPORT_INTERVAL, metrics_port=None,
            metrics_host='127.0.0.1'):
        self.database = database
        self.tls = bool(tls or ca_file or cert_file)
        # Loaded once, before anything starts: a missing or unreadable
        # file is an error at once, not at each connection.
        self.tls_context = (tls_context(ca_file, cert_file, key_file)
            if self.tls else None)
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.client_id = client_id or default_client_id(database)
        self.group = group or default_group(database)
        self.protocol = protocol
        self.batch_size = batch_size
        self.stats_interval = stats_interval
        self.heartbeat = heartbeat
        self.report_interval = report_interval
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        if metrics_port:
            try:
                import prometheus_client  # noqa: F401
            except ImportError:
                raise OSError('--metrics-port needs the Python package '
                    'prometheus-client')
        self.stopping = threading.Event()
        self.lanes = [
            Lane(self, 'alarm', f'{self.client_id}-alarm',
                [f'{TOPIC_ROOT}/+/{kind}' for kind in ALARM_KINDS],
                alarm_workers, shed=False, share=False),
            Lane(self, 'telemetry', self.client_id, [TOPIC], workers,
                shed=True),
            ]
        self.workers = []
        self.started = time.monotonic()
        self.started_at = time.time()

    @property
    def handled(self):
        return sum(lane.handled for lane in self.lanes)

    def stop(self):
        self.stopping.set()
        for worker in self.workers:
            # Out of a retry loop, if it is in one.
            worker.interrupt()

    def state(self):
        lanes = {lane.name: lane.state() for lane in self.lanes}
        oks = [lane.heartbeat_ok for lane in self.lanes]
        rtts = [lane.heartbeat_rtt for lane in self.lanes
            if lane.heartbeat_rtt is not None]
        return {
            'client_id': self.client_id,
            'group': self.group,
            'started_at': _iso(self.started_at),
            'broker': f'{self.host}:{self.port}',
            'connected': all(lane.connected for lane in self.lanes),
            'subscribed': all(lane.subscribed for lane in self.lanes),
            # The lane heard from least recently decides.
            'heartbeat_ok_at': (None if None in oks
                else _iso(min(oks))),
            'heartbeat_rtt_seconds': (round(max(rtts), 4) if rtts
                else None),
            'backlog': sum(s['backlog'] for s in lanes.values()),
            'shed': sum(s['shed'] for s in lanes.values()),
            'handled': sum(s['handled'] for s in lanes.values()),
            'lanes': lanes,
            }

    def log_state(self, since, handled_before):
        now = time.monotonic()
        for lane in self.lanes:
            state = lane.state()
            logger.info('%s lane: %s, handled %s messages, dead letters '
                '%s, shed %s, backlog %s, lag %.2f s, last message %s, '
                'heartbeat %s', lane.name,
                'connected and subscribed' if lane.connected
                and lane.subscribed else 'connected' if lane.connected
                else 'NOT CONNECTED', state['handled'],
                state['dead_letters'], state['shed'], state['backlog'],
                lane.lag, state['last_message_at'] or 'never',
                'round trip %.3f s at %s' % (lane.heartbeat_rtt,
                    state['heartbeat_ok_at']) if lane.heartbeat_rtt
                is not None else 'none back yet')
        handled = self.handled
        logger.info('handled %s messages (%.0f/s)', handled,
            (handled - handled_before) / max(now - since, 1e-6))
        return handled

    def run(self):
        """Run until stopped; the exit code: 0, or 1 when a worker died."""
        # The workers first: forked before any thread or connection.
        for lane in self.lanes:
            lane.start_workers(self.workers)
        # Messages only once the database can take them.
        for worker in self.workers:
            if not worker.wait_ready(self.stopping):
                logger.error('an ingestion worker did not start')
                for worker in self.workers:
                    worker.close()
                return 1
        logger.info('bridge %s for database %s: shared subscription group '
            '%s', self.client_id, self.database, self.group)
        reporter = Reporter(self) if self.report_interval else None
        metrics = None
        if self.metrics_port:
            metrics = start_metrics(self, self.metrics_host,
                self.metrics_port)
        if reporter:
            reporter.report()
        threads = [threading.Thread(target=lane.run,
                name=f'elevator-bridge-{lane.name}', daemon=True)
            for lane in self.lanes]
        for thread in threads:
            thread.start()
        last_stats = last_report = time.monotonic()
        handled_before = 0
        try:
            while not self.stopping.wait(0.5):
                now = time.monotonic()
                if self.stats_interval and (
                        now - last_stats >= self.stats_interval):
                    handled_before = self.log_state(last_stats,
                        handled_before)
                    last_stats = now
                if reporter and now - last_report >= self.report_interval:
                    reporter.report()
                    last_report = now
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join()
            if reporter:
                reporter.report(stopped=True)
            if metrics:
                metrics.shutdown()
            for worker in self.workers:
                worker.close()
            logger.info('bridge stopped after %s messages in %.0f s '
                '(%s dead letters, %s shed)', self.handled,
                time.monotonic() - self.started,
                sum(lane.dead_letters for lane in self.lanes),
                sum(lane.shed for lane in self.lanes))
        return 1 if any(lane.error for lane in self.lanes) else 0


class Reporter:
    """Writes the bridge's state to the database (elevator_iot_bridge, one
    row per bridge) for the health endpoint, on a connection of its own;
    a database that is down only delays it."""

    def __init__(self, bridge):
        import socket
        self.bridge = bridge
        self.hostname = socket.gethostname()[:200]
        self.database = None
        self.warned = False

    def report(self, stopped=False):
        import json
        from sql import Table
        state = self.bridge.state()
        state['stopped'] = stopped
        table = Table('elevator_iot_bridge')
        now = dt.datetime.utcnow()
        heartbeat = state['heartbeat_ok_at']
        values = {
            'hostname': self.hostname,
            'pid': os.getpid(),
            'reported_at': now,
            'connected': state['connected'] and not stopped,
            'subscribed': state['subscribed'] and not stopped,
            'heartbeat_at': (dt.datetime.fromisoformat(heartbeat[:-1])
                if heartbeat else None),
            'heartbeat_rtt': state['heartbeat_rtt_seconds'],
            'backlog': state['backlog'],
            'shed': state['shed'],
            'lanes': json.dumps(state),
            'write_date': now,
            }
        connection = None
        try:
            if self.database is None:
                from trytond import backend
                self.database = backend.Database(
                    self.bridge.database).connect()
            connection = self.database.get_connection()
            cursor = connection.cursor()
            # Outside a Tryton transaction python-sql's flavor is not the
            # database's: SQLite (the demo) wants its own parameter style.
            from sql import Flavor
            Flavor.set(self.database.flavor)
            columns = [getattr(table, c) for c in values]
            cursor.execute(*table.update(columns, list(values.values()),
                    where=table.name == self.bridge.client_id))
            if not cursor.rowcount:
                cursor.execute(*table.insert(
                        [table.name, table.create_uid, table.create_date]
                        + columns, [[self.bridge.client_id, 0, now]
                            + list(values.values())]))
            connection.commit()
            self.warned = False
        except Exception as exception:
            if connection is not None:
                connection.rollback()
            if not self.warned:
                logger.warning('bridge state not written to the database '
                    '(%s: %s)', type(exception).__name__, exception)
                self.warned = True
        finally:
            if connection is not None:
                self.database.put_connection(connection)


def start_metrics(bridge, host, port):
    """Prometheus text at http://host:port/metrics: the lanes' counters
    and state, read when scraped."""
    from prometheus_client import start_http_server
    from prometheus_client.core import (
        CounterMetricFamily, GaugeMetricFamily, REGISTRY)
    from prometheus_client.registry import Collector

    class BridgeCollector(Collector):
        def collect(self):
            states = {lane.name: lane.state() for lane in bridge.lanes}
            label = ['lane']
            families = [
                (CounterMetricFamily, 'elevator_bridge_messages',
                    'messages committed', 'handled'),
                (CounterMetricFamily, 'elevator_bridge_dead_letters',
                    'messages stored as dead letters', 'dead_letters'),
                (CounterMetricFamily, 'elevator_bridge_shed',
                    'QoS 0 telemetry messages shed under overload', 'shed'),
                (CounterMetricFamily, 'elevator_bridge_reconnects',
                    'reconnections after a failed heartbeat', 'reconnects'),
                (GaugeMetricFamily, 'elevator_bridge_backlog',
                    'messages received and not yet committed', 'backlog'),
                (GaugeMetricFamily, 'elevator_bridge_lag_seconds',
                    'age of the last batch committed', 'lag_seconds'),
                (GaugeMetricFamily, 'elevator_bridge_heartbeat_rtt_seconds',
                    'round trip of the last heartbeat',
                    'heartbeat_rtt_seconds'),
                ]
            for kind, name, doc, key in families:
                family = kind(name, doc, labels=label)
                for lane, state in states.items():
                    if state[key] is not None:
                        family.add_metric([lane], state[key])
                yield family
            for name, doc, key in [
                    ('elevator_bridge_connected', 'connected to the broker',
                        'connected'),
                    ('elevator_bridge_subscribed',
                        'subscription acknowledged', 'subscribed')]:
                family = GaugeMetricFamily(name, doc, labels=label)
                for lane, state in states.items():
                    family.add_metric([lane], int(state[key]))
                yield family
            family = GaugeMetricFamily(
                'elevator_bridge_heartbeat_age_seconds',
                'seconds since the last heartbeat came back', labels=label)
            for lane in bridge.lanes:
                if lane.heartbeat_ok is not None:
                    family.add_metric([lane.name],
                        time.time() - lane.heartbeat_ok)
            yield family

    REGISTRY.register(BridgeCollector())
    server, thread = start_http_server(port, addr=host)
    logger.info('metrics at http://%s:%s/metrics', host, port)
    return server


class WorkerDied(RuntimeError):
    pass


class Worker:
    """A process that applies the batches it is sent and answers, once a
    batch is committed, (True, dead letters), or (False, 0) when it was
    stopped first."""

    def __init__(self, database):
        self.database = database
        self.process = None
        self.connection = None
        self.batch = None  # the entry of the batch under way

    def start(self, others=()):
        context = multiprocessing.get_context('fork')
        self.connection, child = context.Pipe()
        # The child gets copies of the bridge's ends of the pipes, its own
        # and the other workers': closed there, so that the bridge's death
        # ends the child's input.
        foreign = [self.connection] + [w.connection for w in others]
        self.process = context.Process(target=worker_main,
            args=(child, self.database, os.getpid(), foreign),
            name='elevator-bridge-worker', daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, stopping):
        "Wait for the worker's database (it says 'ready'); False if it died."
        while not stopping.is_set():
            if self.connection.poll(0.5):
                try:
                    return self.connection.recv() == 'ready'
                except (EOFError, OSError):
                    return False
            if not self.process.is_alive():
                return False
        return False

    def send(self, items, entry):
        if not items:
            # Nothing for the database (cleared retained messages).
            entry[1] = (True, 0)
            return
        try:
            self.connection.send(items)
        except OSError:
            raise WorkerDied()
        self.batch = entry

    @staticmethod
    def ready(workers, timeout):
        "The workers with an answer waiting."
        from multiprocessing.connection import wait
        busy = {w.connection: w for w in workers if w.batch is not None}
        if not busy:
            return []
        ready = [busy[c] for c in wait(list(busy), timeout)]
        for worker in busy.values():
            if worker not in ready and not worker.process.is_alive():
                raise WorkerDied()
        return ready

    def receive(self):
        try:
            answer = self.connection.recv()
        except (EOFError, OSError):
            raise WorkerDied()
        entry, self.batch = self.batch, None
        return entry, answer

    def interrupt(self):
        if self.process is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGUSR1)

    def close(self):
        if self.process is None:
            return
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def worker_main(connection, database, parent, foreign=()):
    "The worker process: batches in, committed answers out."
    for other in foreign:
        other.close()
    stopping = threading.Event()
    # The bridge handles Ctrl-C and SIGTERM and tells the worker (SIGUSR1
    # to leave a retry loop, then end of input).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGUSR1, lambda *_: stopping.set())

    def watch():
        # Orphaned (the bridge killed): stop retrying, stop; at the latest
        # once a batch under way had time to end.
        while os.getppid() == parent:
            time.sleep(1)
        stopping.set()
        time.sleep(60)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()
    delay = 1
    while True:
        try:
            ingestor = ingest().Ingestor(database)
            break
        except Exception:
            # The database is not there yet: the broker keeps the messages.
            logger.exception('cannot open database %s; retry in %s s',
                database, delay)
            if stopping.wait(delay):
                return
            delay = min(delay * 2, DB_MAX_BACKOFF)
    store = Store(ingestor, stopping)
    try:
        connection.send('ready')
    except OSError:
        return
    while True:
        try:
            items = connection.recv()
        except (EOFError, OSError):
            break
        if items is None:
            break
        messages = [to_message(topic, payload, utc(received_at))
            for topic, payload, received_at in items]
        before = store.dead_letters
        ok = store.store(messages)
        try:
            connection.send((ok, store.dead_letters - before))
        except OSError:
            break


class Store:
    "Commit batches through the Ingestor, whatever happens."

    def __init__(self, ingestor, stopping):
        self.ingestor = ingestor
        self.stopping = stopping
        self.dead_letters = 0

    def store(self, messages):
        """Commit the messages' effect; False if stopped before. While the
        database is unreachable nothing is acknowledged: wait, try again,
        the broker keeps the messages meanwhile."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                summary = self.ingestor.ingest(messages)
            except ingest().database_errors() as exception:
                logger.warning('batch of %s not stored (%s: %s); retry in '
                    '%.1f s', len(messages), type(exception).__name__,
                    exception, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, DB_MAX_BACKOFF)
                continue
            except Exception:
                logger.exception('batch of %s failed', len(messages))
                if not self._healthy():
                    # Not the messages: the ingestion fails whatever it
                    # gets (modules not updated, ...). Like an outage:
                    # nothing acknowledged, try again later.
                    logger.error('the ingestion fails by itself; batch of '
                        '%s kept, retry in %.1f s', len(messages), delay)
                    self.stopping.wait(delay)
                    delay = min(delay * 2, DB_MAX_BACKOFF)
                    continue
                # Something in the batch the ingestion did not foresee.
                # Find it by halves so that the good messages land and the
                # bridge keeps running.
                if len(messages) == 1:
                    return self._store_failed(messages[0])
                middle = len(messages) // 2
                return (self.store(messages[:middle])
                    and self.store(messages[middle:]))
            if summary.dead_letters:
                self.dead_letters += len(summary.dead_letters)
                logger.info('%s dead letters in a batch of %s',
                    len(summary.dead_letters), len(messages))
            return True
        return False

    def _healthy(self):
        "Whether the ingestion works without any message."
        try:
            self.ingestor.check()
        except Exception:
            logger.exception('the ingestion check failed')
            return False
        return True

    def _store_failed(self, message):
        delay = 1
        while not self.stopping.is_set():
            try:
                self.ingestor.store_failed(message)
                self.dead_letters += 1
                return True
            except Exception:
                logger.exception('dead letter not stored; retry in %s s',
                    delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, DB_MAX_BACKOFF)
        return False


def ingest():
    """The ingestion of module elevator_iot, imported once the Tryton
    configuration is loaded: importing the module imports its HTTP routes,
    hence trytond's backend, which reads the configuration."""
    from trytond.modules.elevator_iot import ingest
    return ingest


def utc(epoch):
    "UTC naive datetime (as Tryton stores them) of a time.time() value."
    return _EPOCH + dt.timedelta(seconds=epoch)


_EPOCH = dt.datetime(1970, 1, 1)


def is_retained_cleared(msg):
    """An empty status message: the retained status of a device deleted
    from the broker (MQTT's way), not a message of the device."""
    return not msg.payload and msg.topic.endswith('/status')


def to_message(topic, payload, received_at):
    "An Ingestor message of an MQTT message on elevator/v1/{sn}/{kind}."
    parts = topic.split('/')
    if (len(parts) == 4 and parts[0] == 'elevator' and parts[1] == 'v1'
            and parts[2] and parts[3]):
        serial, kind = parts[2], parts[3]
    else:
        # Dead-lettered as a topic that names no device (topic_mismatch).
        serial, kind = None, None
    return ingest().Message(kind=kind, payload=payload,
        device_serial=serial, source='mqtt', topic=topic,
        received_at=received_at)
