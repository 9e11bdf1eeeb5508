"""HTTPS push API of the manufacturers' platforms (DESIGN §5).

    POST /{db}/elevator/api/v1/oauth/token
    POST /{db}/elevator/api/v1/push/{kind}/{registration_code}

(kind: running, periodic, fault or status).

OAuth 2 client credentials (RFC 6749 §4.4): an `elevator.iot.client`
authenticates with its client_id and secret (HTTP Basic or form body) and
gets a Bearer token (RFC 6750) that lives `token_lifetime` seconds. A push
carries one message with the same JSON payload as on MQTT and goes through
the same `Ingestor` as the MQTT bridge (source 'http'), so every rule is
the same: validation, idempotency by faultId, out-of-order handling, dead
letters, the reaction to faults.

Which device a push speaks for: the client's vendor's devices installed on
the elevator with that registration code and not retired. With several,
the controller data terminal is taken first, then a gateway, a presence
sensor, an AI camera, and among devices of one type the one registered
first (lowest id), so a replay always lands on the same device and the
faultId stays idempotent. A platform that wants another device names it
with `?device=<serial>`.

Answers: 200 with the token; 202 with a small JSON for an accepted
message; otherwise a JSON error whose message is given in English and in
Chinese: 400 (malformed request or JSON), 401 (client or token), 403
(not this client's elevator or device), 404 (unknown kind or elevator),
413 (too large), 422 (invalid field, timestamp in the future, unknown
fault code), 429 (rate limit), 503 (database unavailable: send again).
Messages refused for their content (400, 413 up to a hard limit, 422) are
kept as dead letters, as the bridge does; refusals before the device is
known (401, 403, 404) are not stored.

The routes are declared in modules/elevator_iot/routes.py; this module
holds their logic. Limits come from the `[elevator_iot]` section of the
trytond configuration: `token_per_minute` (per client address, default
30), `push_per_minute` (per client address, default 6000).
"""
import datetime as dt
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from functools import wraps

from werkzeug.exceptions import RequestEntityTooLarge

from trytond.modules.elevator.web.http import client_address, json_response
from trytond.modules.elevator.web.ratelimit import RateLimits

from . import ingest
from .payloads import KINDS

logger = logging.getLogger(__name__)

API = '/<database_name>/elevator/api/v1'
# Bodies are read whole up to this size; above the configured maximum
# payload (64 KiB by default) they are dead-lettered as too large, above
# this one refused without being read.
BODY_HARD_MAX = 1024 * 1024
TOKEN_BODY_MAX = 8 * 1024
# Device types in the order a push without ?device= is attributed.
DEVICE_PREFERENCE = ['controller_terminal', 'gateway', 'presence_sensor',
    'ai_camera']
# Dead-letter reason -> HTTP status of the refusal.
REASON_STATUS = {
    'too_large': 413,
    'not_json': 400,
    'unknown_device': 403,
    'retired_device': 403,
    'no_elevator': 403,
    'topic_mismatch': 403,
    }
LIMITS = {
    'token_per_minute': (30, 60),
    'push_per_minute': (6000, 60),
    }
RETRY_AFTER_UNAVAILABLE = 5
MESSAGES = [
    'grant_type_missing', 'grant_type_unsupported', 'client_auth_twice',
    'client_missing', 'client_invalid', 'token_missing', 'token_invalid',
    'kind_unknown', 'elevator_unknown', 'elevator_forbidden',
    'device_forbidden', 'too_large', 'not_json', 'invalid', 'device_refused',
    'rate_limited', 'unavailable', 'sharing_invalid',
    ]
LANGUAGES = ('en', 'zh_CN')

_lock = threading.Lock()
_texts = {}  # database -> {message: {language: template}}
_ingestors = {}  # database -> (Ingestor, Lock)
_limits = None


class PushError(Exception):
    """A refusal: HTTP status, machine-readable code, the ir.message of
    the explanation (given in English and Chinese) and its variables."""

    def __init__(self, status, code, message, variables=None, headers=None,
            oauth=False, detail=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.variables = variables or {}
        self.headers = headers or {}
        self.oauth = oauth
        self.detail = detail

    def response(self, database):
        english, chinese = (text(database, self.message, language,
                **self.variables) for language in LANGUAGES)
        if self.oauth:
            # RFC 6749 §5.2; error_description is ASCII by the RFC, the
            # Chinese text is an extension member.
            body = {
                'error': self.code,
                'error_description': english,
                'error_description_zh': chinese,
                }
            headers = {'Pragma': 'no-cache', **self.headers}
        else:
            body = {'error': {
                    'code': self.code,
                    'message': english,
                    'message_zh': chinese,
                    }}
            if self.detail:
                body['error']['detail'] = self.detail
            headers = self.headers
        return json_response(body, status=self.status, headers=headers)


# --- texts ---------------------------------------------------------------

def load_texts(pool):
    """The push messages of the database in both languages, read once per
    process (they change only with a module update, which restarts the
    server). Opens a short transaction the first time."""
    database = pool.database_name
    if database in _texts:
        return
    from trytond.transaction import Transaction
    Message = pool.get('ir.message')
    texts = {}
    with Transaction().start(database, 0, readonly=True):
        for name in MESSAGES:
            try:
                texts[name] = {language: Message.gettext(
                        'elevator_iot', f'msg_push_{name}', language)
                    for language in LANGUAGES}
            except KeyError:
                # The module's data is older than its code: run
                # `trytond-admin -u elevator_iot`; the code stands in.
                logger.warning('push API: message %s missing', name)
    with _lock:
        _texts[database] = texts


def text(database, message, language, **variables):
    template = _texts.get(database, {}).get(message, {}).get(language)
    if template is None:
        # Texts could not be loaded (database down): the code says it.
        return message.replace('_', ' ')
    return template % variables if variables else template


# --- limits --------------------------------------------------------------

def limits():
    global _limits
    if _limits is None:
        from trytond import config
        with _lock:
            if _limits is None:
                _limits = RateLimits({name: (config.getint('elevator_iot',
                                name, default=default), window)
                        for name, (default, window) in LIMITS.items()})
    return _limits


def check_rate(request, name, oauth=False):
    allowed, retry_after = limits().check(
        (name, ('address', client_address(request))))
    if not allowed:
        raise PushError(429, 'rate_limited', 'rate_limited',
            {'seconds': retry_after},
            headers={'Retry-After': str(retry_after)}, oauth=oauth)


# --- wrapper of the routes -----------------------------------------------

def api(func):
    """Between trytond's with_pool and with_transaction: 404 when the module
    is not activated in the database, the texts loaded, PushError and
    oversized bodies turned into JSON answers."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            pool.get('elevator.iot.client')
        except KeyError:
            return json_response({'error': {'code': 'not_found',
                        'message': 'Not Found', 'message_zh': '未找到'}},
                status=404)
        try:
            load_texts(pool)
        except ingest.database_errors():
            logger.warning('push API: database unavailable', exc_info=True)
        try:
            return func(request, pool, *args, **kwargs)
        except PushError as error:
            return error.response(pool.database_name)
        except RequestEntityTooLarge:
            oauth = request.path.endswith('/oauth/token')
            maximum = TOKEN_BODY_MAX if oauth else BODY_HARD_MAX
            return PushError(413, 'too_large', 'too_large',
                {'max': maximum}, oauth=oauth).response(pool.database_name)
        except ingest.database_errors():
            logger.warning('push API: database unavailable', exc_info=True)
            return PushError(503, 'unavailable', 'unavailable',
                headers={'Retry-After': str(RETRY_AFTER_UNAVAILABLE)}
                ).response(pool.database_name)
    return wrapper


# --- token ---------------------------------------------------------------

def _form(request):
    """Parameters of the token request: a form (RFC 6749) or, leniently,
    a JSON object."""
    if request.mimetype == 'application/json':
        try:
            data = json.loads(request.get_data() or b'{}')
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise PushError(400, 'invalid_request', 'grant_type_missing',
                oauth=True)
        return {k: v for k, v in data.items() if isinstance(v, str)}
    return request.form


def _basic_credentials(request):
    "(client_id, secret) of an HTTP Basic header, or None."
    header = request.headers.get('Authorization', '')
    scheme, _, value = header.partition(' ')
    if scheme.lower() != 'basic':
        return None
    import base64
    import binascii
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode(
            'utf-8')
    except (binascii.Error, UnicodeDecodeError):
        return ('', '')
    client_id, _, secret = decoded.partition(':')
    # RFC 6749 §2.3.1: both are form-urlencoded before the encoding.
    return (urllib.parse.unquote_plus(client_id),
        urllib.parse.unquote_plus(secret))


def issue_token(request, pool):
    """The token endpoint, inside a read-write transaction: the answer of
    RFC 6749 §5.1 or an error of §5.2."""
    check_rate(request, 'token_per_minute', oauth=True)
    Client = pool.get('elevator.iot.client')
    Token = pool.get('elevator.iot.client.token')
    form = _form(request)
    basic = _basic_credentials(request)
    challenge = {'WWW-Authenticate': 'Basic realm="elevator", '
        'charset="UTF-8"'} if basic is not None else {}
    if basic is not None and (form.get('client_id')
            or form.get('client_secret')):
        raise PushError(400, 'invalid_request', 'client_auth_twice',
            oauth=True)
    grant_type = form.get('grant_type')
    if not grant_type:
        raise PushError(400, 'invalid_request', 'grant_type_missing',
            oauth=True)
    if grant_type != 'client_credentials':
        raise PushError(400, 'unsupported_grant_type',
            'grant_type_unsupported', {'grant_type': grant_type[:50]},
            oauth=True)
    client_id, secret = basic or (form.get('client_id'),
        form.get('client_secret'))
    if not client_id or not secret:
        raise PushError(401, 'invalid_client', 'client_missing',
            headers=challenge or {
                'WWW-Authenticate': 'Basic realm="elevator"'},
            oauth=True)
    client = Client.authenticate(client_id, secret)
    if client is None:
        logger.info('push API: refused client %r from %s', client_id[:64],
            client_address(request))
        raise PushError(401, 'invalid_client', 'client_invalid',
            headers=challenge, oauth=True)
    check_sharing(client, oauth=True)
    token, lifetime = Token.issue(client)
    return json_response({
            'access_token': token,
            'token_type': 'Bearer',
            'expires_in': lifetime,
            }, headers={'Pragma': 'no-cache'})


def check_sharing(client, oauth=False):
    """403 unless the client is linked to an approved, unexpired record
    of the data-sharing register (elevator.data.sharing)."""
    if not client.sharing_valid():
        raise PushError(403, 'sharing_invalid' if not oauth
            else 'unauthorized_client', 'sharing_invalid',
            {'client': client.client_id}, oauth=oauth)


# --- push ----------------------------------------------------------------

@dataclass
class Target:
    "Who pushes for which device, as decided before reading the body."
    client: str
    kind: str
    registration_code: str
    serial: str


def _bearer(request):
    header = request.headers.get('Authorization', '')
    scheme, _, value = header.partition(' ')
    if scheme.lower() != 'bearer' or not value.strip():
        return None
    return value.strip()


def authorize(request, pool, kind, registration_code):
    """Inside a read-only transaction: the client of the Bearer token, the
    message kind, the elevator and the device the message is for."""
    check_rate(request, 'push_per_minute')
    Token = pool.get('elevator.iot.client.token')
    Elevator = pool.get('elevator.elevator')
    Device = pool.get('elevator.iot.device')
    token = _bearer(request)
    if token is None:
        raise PushError(401, 'missing_token', 'token_missing',
            headers={'WWW-Authenticate': 'Bearer realm="elevator"'})
    client = Token.client_of(token[:200])
    if client is None:
        raise PushError(401, 'invalid_token', 'token_invalid',
            headers={'WWW-Authenticate': 'Bearer realm="elevator", '
                'error="invalid_token"'})
    check_sharing(client)
    if kind not in KINDS:
        raise PushError(404, 'unknown_kind', 'kind_unknown',
            {'kind': kind[:30]})
    code = registration_code[:40]
    elevators = Elevator.search([('registration_code', '=', code)],
        limit=1)
    if not elevators:
        raise PushError(404, 'unknown_elevator', 'elevator_unknown',
            {'code': code})
    devices = Device.search([
            ('elevator', '=', elevators[0].id),
            ('vendor', '=', client.vendor.id),
            ('state', '!=', 'retired'),
            ], order=[('id', 'ASC')])
    wanted = request.args.get('device')
    if wanted:
        devices = [d for d in devices if d.serial == wanted]
        if not devices:
            raise PushError(403, 'forbidden_device', 'device_forbidden',
                {'device': wanted[:64], 'code': code})
    if not devices:
        raise PushError(403, 'forbidden_elevator', 'elevator_forbidden',
            {'code': code})
    device = min(devices, key=lambda d: (
            DEVICE_PREFERENCE.index(d.type)
            if d.type in DEVICE_PREFERENCE else len(DEVICE_PREFERENCE),
            d.id))
    return Target(client.client_id, kind, code, device.serial)


def ingestor(pool):
    "The process' Ingestor of the database and the lock that guards it."
    database = pool.database_name
    with _lock:
        entry = _ingestors.get(database)
        if entry is None:
            entry = _ingestors[database] = (
                ingest.Ingestor(database, pool=pool), threading.Lock())
    return entry


def deliver(request, pool, target):
    """Outside any transaction: read the body and hand it to the Ingestor,
    which commits it (or its dead letter) in its own transaction."""
    payload = request.get_data(cache=False)
    message = ingest.Message(kind=target.kind, payload=payload,
        device_serial=target.serial, source='http',
        topic=f'push/{target.kind}/{target.registration_code}',
        received_at=ingest._utcnow())
    instance, lock = ingestor(pool)
    with lock:
        summary = instance.ingest([message])
    if summary.dead_letters:
        _, invalid = summary.dead_letters[0]
        status = REASON_STATUS.get(invalid.reason, 422)
        if invalid.reason == 'too_large':
            raise PushError(413, 'too_large', 'too_large',
                {'max': instance._settings[0]}, detail=invalid.detail)
        if invalid.reason == 'not_json':
            raise PushError(400, 'not_json', 'not_json',
                {'detail': invalid.detail}, detail=invalid.detail)
        message_name = 'device_refused' if status == 403 else 'invalid'
        raise PushError(status, invalid.reason, message_name,
            {'reason': invalid.reason, 'detail': invalid.detail},
            detail=invalid.detail)
    answer = {
        'accepted': True,
        'kind': target.kind,
        'registrationCode': target.registration_code,
        'device': target.serial,
        'receivedAt': message.received_at.replace(
            tzinfo=dt.timezone.utc).isoformat(timespec='seconds'),
        }
    if target.kind == 'fault':
        # A replay of a known faultId changes nothing and says so.
        answer['duplicate'] = not (summary.new_events
            or summary.cleared_events)
    return json_response(answer, status=202)

