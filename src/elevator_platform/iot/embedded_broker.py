"""`elevator broker`: a small MQTT broker inside the platform, for the demo.

Production runs Mosquitto (or EMQX); `make demo` runs on a machine where
none may be installed, so where no broker answers it starts this one:
amqtt, a pure-Python broker speaking MQTT 3.1.1 only. The bridge then falls
back to a plain subscription (one bridge only) and says so.

Authentication: anonymous clients are accepted unless `--password-file`
names a password file in Mosquitto's format (`user:$7$...`, as written by
`elevator broker-acl` or mosquitto_passwd), whose users must then log in
with their password. There is no ACL: it is a demo broker.

    elevator broker [--host 127.0.0.1] [--port 1883] [--password-file FILE]

runs until SIGTERM or Ctrl-C. `EmbeddedBroker` runs the same broker in a
thread of the calling process (tests).
"""
import asyncio
import logging
import signal
import socket
import threading
from dataclasses import dataclass

logger = logging.getLogger('elevator.broker')

DEFAULT_PORT = 1883


def add_parser(subparsers):
    parser = subparsers.add_parser('broker',
        help="run an embedded MQTT 3.1.1 broker (amqtt) for the demo",
        description=__doc__.split('\n\n')[0])
    parser.add_argument('--host', default='127.0.0.1',
        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument('--port', type=int, default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT})")
    parser.add_argument('--password-file', default=None,
        help="Mosquitto password file; without it clients are anonymous")
    parser.add_argument('-v', '--verbose', action='store_true')
    parser.set_defaults(func=run)


def reachable(host='127.0.0.1', port=DEFAULT_PORT, timeout=1.0):
    "Whether something accepts TCP connections on host:port."
    try:
        socket.create_connection((host, port), timeout).close()
    except OSError:
        return False
    return True


def read_password_file(path):
    "{user: Mosquitto hash} of a password file."
    users = {}
    with open(path, encoding='utf-8') as file:
        for line in file:
            line = line.strip()
            if line and not line.startswith('#') and ':' in line:
                user, hashed = line.split(':', 1)
                users[user] = hashed
    return users


_plugin = None


def __getattr__(name):
    # amqtt loads its plugins by dotted path: the class is made on demand
    # so that importing this module does not import amqtt.
    if name == 'PasswordFileAuthPlugin':
        return _auth_plugin()
    raise AttributeError(name)


def _auth_plugin():
    global _plugin
    if _plugin is not None:
        return _plugin
    from amqtt.plugins.base import BaseAuthPlugin

    from trytond.modules.elevator_iot.passwords import verify_password

    class PasswordFileAuthPlugin(BaseAuthPlugin):
        "Users and hashed passwords of a Mosquitto password file."

        def __init__(self, context):
            super().__init__(context)
            self.users = read_password_file(self.config.password_file)

        async def authenticate(self, *, session):
            hashed = self.users.get(session.username or '')
            password = session.password or ''
            if isinstance(password, bytes):
                password = password.decode('utf-8', 'replace')
            if hashed is None or not verify_password(password, hashed):
                logger.warning('refused %r: unknown user or wrong password',
                    session.username)
                return False
            return True

        @dataclass
        class Config:
            password_file: str = ''

    PasswordFileAuthPlugin.__module__ = __name__
    PasswordFileAuthPlugin.__qualname__ = 'PasswordFileAuthPlugin'
    _plugin = PasswordFileAuthPlugin
    return _plugin


def config(host='127.0.0.1', port=DEFAULT_PORT, password_file=None):
    "The amqtt configuration of the embedded broker."
    if password_file:
        plugins = {f'{__name__}.PasswordFileAuthPlugin': {
                'password_file': str(password_file)}}
    else:
        plugins = {'amqtt.plugins.authentication.AnonymousAuthPlugin': {
                'allow_anonymous': True}}
    return {
        'listeners': {
            'default': {'type': 'tcp', 'bind': f'{host}:{port}'},
            },
        'plugins': plugins,
        }


class EmbeddedBroker:
    """The broker running in an event loop of its own thread."""

    def __init__(self, host='127.0.0.1', port=DEFAULT_PORT,
            password_file=None):
        self.host = host
        self.port = port
        self.password_file = password_file
        self.loop = None
        self.broker = None
        self.thread = None
        self.error = None
        self._ready = threading.Event()
        self._stopped = None

    def start(self, timeout=30):
        self.thread = threading.Thread(target=self._serve,
            name='embedded-broker', daemon=True)
        self.thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError('the embedded broker did not start')
        if self.error:
            raise RuntimeError(
                f'the embedded broker did not start: {self.error}')
        return self

    def _serve(self):
        from amqtt.broker import Broker
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self._stopped = asyncio.Event()
            self.broker = Broker(config(self.host, self.port,
                    self.password_file), loop=self.loop)
            self.loop.run_until_complete(self.broker.start())
        except Exception as exception:
            self.error = exception
            self._ready.set()
            self.loop.close()
            return
        self._ready.set()
        try:
            self.loop.run_until_complete(self._stopped.wait())
            self.loop.run_until_complete(self.broker.shutdown())
        finally:
            self.loop.close()

    def stop(self, timeout=30):
        if self.loop is None or self.thread is None:
            return
        if self._stopped is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stopped.set)
        self.thread.join(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _quiet():
    # amqtt logs every connection at INFO and its state machines chatter.
    for name in ('amqtt', 'transitions'):
        logging.getLogger(name).setLevel(logging.WARNING)


def run(args):
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    if not args.verbose:
        _quiet()
    if reachable(args.host, args.port):
        logger.error('something already listens on %s:%s', args.host,
            args.port)
        return 1
    broker = EmbeddedBroker(args.host, args.port, args.password_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        broker.start()
    except RuntimeError as exception:
        logger.error('%s', exception)
        return 1
    logger.info('embedded MQTT broker (amqtt, MQTT 3.1.1) on %s:%s, %s',
        args.host, args.port, 'password file ' + args.password_file
        if args.password_file else 'anonymous clients')
    while not stop.wait(1):
        if not broker.thread.is_alive():
            logger.error('the embedded broker stopped')
            return 1
    broker.stop()
    logger.info('embedded MQTT broker stopped')
    return 0
