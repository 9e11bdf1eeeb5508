"""`elevator bridge`: MQTT → database.

paho-mqtt, MQTT 5, QoS 1, persistent session (clean_start False with a
session expiry), shared subscription `$share/elevator-bridge/elevator/v1/+/+`
so that several bridges split the load. Messages are queued by paho's
network thread and applied in batches by the main thread through
`Ingestor`; a QoS 1 message is acknowledged only after the batch that
carries it is committed. While the database is down the batch is retried
with back-off and nothing is acknowledged, so the broker keeps (and on a
restart of the bridge redelivers) every message: none is lost, and the
idempotent ingestion makes a redelivery harmless.

Where the broker speaks only MQTT 3.1.1 (e.g. an embedded demo broker), the
bridge falls back to a plain subscription with a persistent session and
says that only one bridge may run.
"""
import logging
import os
import queue
import signal
import socket
import threading
import time

from . import ingest

logger = logging.getLogger('elevator.bridge')

TOPIC = 'elevator/v1/+/+'
SHARED_GROUP = 'elevator-bridge'
SESSION_EXPIRY = 24 * 3600  # the broker keeps unacknowledged messages
RECEIVE_MAXIMUM = 2000  # unacknowledged QoS 1 messages in flight
BATCH_SIZE = 2000
BATCH_WAIT = 0.05  # seconds to wait for a batch to fill
MAX_BACKOFF = 30


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
    parser.add_argument('--client-id', default=None,
        help="MQTT client id; keep it stable so that the persistent "
        "session survives restarts (default: elevator-bridge-<host>)")
    parser.add_argument('--protocol', choices=['auto', '5', '3.1.1'],
        default='auto')
    parser.add_argument('--batch-size', type=int, default=BATCH_SIZE)
    parser.add_argument('-v', '--verbose', action='store_true')
    parser.set_defaults(func=run)


def run(args):
    from ..tryton_env import configure
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    configure(args.config)
    bridge = Bridge(args.database, host=args.host, port=args.port,
        username=args.username, password=args.password,
        client_id=args.client_id, protocol=args.protocol,
        batch_size=args.batch_size)
    signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
    signal.signal(signal.SIGINT, lambda *_: bridge.stop())
    bridge.run()
    return 0


class Bridge:

    def __init__(self, database, host='127.0.0.1', port=1883,
            username=None, password=None, client_id=None, protocol='auto',
            batch_size=BATCH_SIZE):
        self.database = database
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.client_id = client_id or (
            f'elevator-bridge-{socket.gethostname()}')
        self.protocol = protocol
        self.batch_size = batch_size
        self.queue = queue.Queue()
        self.stopping = threading.Event()
        self.shared = None
        self.client = None
        self.ingestor = None
        self.handled = 0

    # --- MQTT -----------------------------------------------------------
    def _client(self, version):
        import paho.mqtt.client as mqtt
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id, protocol=version,
            clean_session=(None if version == mqtt.MQTTv5 else False),
            manual_ack=True)
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, MAX_BACKOFF)
        return client

    def connect(self):
        import paho.mqtt.client as mqtt
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        versions = {'5': [mqtt.MQTTv5], '3.1.1': [mqtt.MQTTv311],
            'auto': [mqtt.MQTTv5, mqtt.MQTTv311]}[self.protocol]
        last_error = None
        for version in versions:
            client = self._client(version)
            self._connected = threading.Event()
            self._refused = None
            try:
                if version == mqtt.MQTTv5:
                    properties = Properties(PacketTypes.CONNECT)
                    properties.SessionExpiryInterval = SESSION_EXPIRY
                    properties.ReceiveMaximum = RECEIVE_MAXIMUM
                    client.connect(self.host, self.port, keepalive=30,
                        clean_start=False, properties=properties)
                else:
                    client.connect(self.host, self.port, keepalive=30)
            except OSError as exception:
                last_error = exception
                continue
            client.loop_start()
            if self._connected.wait(10) and not self._refused:
                self.client = client
                self.shared = version == mqtt.MQTTv5
                if not self.shared:
                    logger.warning("the broker does not speak MQTT 5: "
                        "plain subscription, ONLY ONE bridge may run")
                return
            client.loop_stop()
            client.disconnect()
            last_error = self._refused or TimeoutError('no CONNACK')
        raise ConnectionError(
            f'cannot connect to MQTT broker {self.host}:{self.port}: '
            f'{last_error}')

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._refused = RuntimeError(str(reason_code))
            self._connected.set()
            return
        import paho.mqtt.client as mqtt
        if client.protocol == mqtt.MQTTv5:
            topic = f'$share/{SHARED_GROUP}/{TOPIC}'
        else:
            topic = TOPIC
        client.subscribe(topic, qos=1)
        logger.info('connected to %s:%s, subscribed to %s (session %s)',
            self.host, self.port, topic,
            'resumed' if flags.session_present else 'new')
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code,
            properties):
        if not self.stopping.is_set():
            logger.warning('disconnected from broker (%s), reconnecting',
                reason_code)

    def _on_message(self, client, userdata, msg):
        # Runs in paho's network thread: only queue it.
        self.queue.put((msg, ingest._utcnow()))

    # --- main loop ------------------------------------------------------
    def stop(self):
        self.stopping.set()

    def run(self):
        self.ingestor = ingest.Ingestor(self.database)
        self.connect()
        try:
            while not self.stopping.is_set():
                batch = self._next_batch()
                if batch:
                    self._handle(batch)
        finally:
            self.client.loop_stop()
            self.client.disconnect()
            logger.info('bridge stopped after %s messages', self.handled)

    def _next_batch(self):
        try:
            first = self.queue.get(timeout=0.5)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT
        while len(batch) < self.batch_size:
            timeout = deadline - time.monotonic()
            try:
                batch.append(self.queue.get(
                        timeout=max(timeout, 0)) if timeout > 0
                    else self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, batch):
        messages = [to_message(msg, received_at) for msg, received_at
            in batch]
        if not self._store(messages):
            logger.warning('stopping with %s unacknowledged messages (the '
                'broker redelivers them)', len(batch))
            return
        for msg, _ in batch:
            if msg.qos:
                self.client.ack(msg.mid, msg.qos)
        self.handled += len(batch)

    def _store(self, messages):
        """Commit the messages' effect; False if stopped before. While the
        database is unreachable nothing is acknowledged: wait, try again,
        the broker keeps the messages meanwhile."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                summary = self.ingestor.ingest(messages)
            except database_errors() as exception:
                logger.warning('batch of %s not stored (%s: %s); retry in '
                    '%.1f s', len(messages), type(exception).__name__,
                    exception, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            except Exception:
                # Not the database: something in the batch the ingestion
                # did not foresee. Find it by halves so that the good
                # messages land and the bridge keeps running.
                logger.exception('batch of %s failed', len(messages))
                if len(messages) == 1:
                    return self._store_failed(messages[0])
                middle = len(messages) // 2
                return (self._store(messages[:middle])
                    and self._store(messages[middle:]))
            if summary.dead_letters:
                logger.info('%s dead letters in a batch of %s',
                    len(summary.dead_letters), len(messages))
            return True
        return False

    def _store_failed(self, message):
        while not self.stopping.is_set():
            try:
                self.ingestor.store_failed(message)
                return True
            except database_errors():
                self.stopping.wait(1)
        return False


def database_errors():
    "Exceptions that mean the database is unreachable, not the data bad."
    import psycopg
    import psycopg_pool
    from trytond.backend import DatabaseOperationalError
    return (DatabaseOperationalError, psycopg.OperationalError,
        psycopg.InterfaceError, psycopg_pool.PoolTimeout)


def to_message(msg, received_at):
    "An Ingestor message of an MQTT message on elevator/v1/{sn}/{kind}."
    parts = msg.topic.split('/')
    if len(parts) == 4 and parts[0] == 'elevator' and parts[1] == 'v1':
        serial, kind = parts[2], parts[3]
    else:
        serial, kind = None, None
    return ingest.Message(kind=kind, payload=msg.payload,
        device_serial=serial, source='mqtt', topic=msg.topic,
        received_at=received_at)
