"""JSON responses, errors and request parsing for the platform's HTTP routes.

Every public route answers with `json_response` / `json_error`, reads its
body with `read_json` (size-limited, object expected) and its client
address with `client_address`. None of these touch the database, so they
can be used before a transaction is opened (cheap refusals).
"""
import json
import math

from werkzeug.wrappers import Response

JSON_TYPE = 'application/json; charset=utf-8'
# Sent with every public answer: no sniffing, no framing by other sites,
# no referrer leaking a public token to third parties.
SECURITY_HEADERS = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    }


class HTTPError(Exception):
    """A refusal with a status, a machine-readable code, a message for
    people and, for a field error, the field name."""

    def __init__(self, status, code, message, field=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self):
        return json_error(self.status, self.code, self.message,
            field=self.field, headers=self.headers)


def _default(value):
    # Dates, datetimes and Decimals: ISO text and floats.
    if hasattr(value, 'isoformat'):
        return value.isoformat()
    if hasattr(value, 'as_tuple'):
        number = float(value)
        return number if math.isfinite(number) else None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data):
    "Compact UTF-8 JSON (Chinese stays readable, no \\u escapes)."
    return json.dumps(data, ensure_ascii=False, separators=(',', ':'),
        default=_default)


def json_response(data, status=200, headers=None, max_age=None):
    """A JSON answer; max_age sets public caching (None: no-store)."""
    response = Response(dumps(data), status=status, content_type=JSON_TYPE)
    response.headers.update(SECURITY_HEADERS)
    if max_age:
        response.headers['Cache-Control'] = f'public, max-age={int(max_age)}'
    else:
        response.headers['Cache-Control'] = 'no-store'
    if headers:
        response.headers.update(headers)
    return response


def json_error(status, code, message, field=None, headers=None):
    error = {'code': code, 'message': message}
    if field:
        error['field'] = field
    return json_response({'error': error}, status=status, headers=headers)


def client_address(request):
    """The client's address as the WSGI server (or trytond's ProxyFix, when
    `[web] num_proxies` is set) sees it."""
    return request.remote_addr or 'unknown'


def read_json(request, max_bytes, message_too_large="Request too large",
        message_invalid="Invalid JSON body"):
    """Return the JSON object of the request body, or raise HTTPError
    (413 when larger than max_bytes, 400 when not a JSON object)."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise HTTPError(413, 'too_large', message_too_large)
    data = request.get_data(cache=True)
    if len(data) > max_bytes:
        raise HTTPError(413, 'too_large', message_too_large)
    try:
        value = json.loads(data.decode('utf-8'),
            parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HTTPError(400, 'invalid_json', message_invalid)
    if not isinstance(value, dict):
        raise HTTPError(400, 'invalid_json', message_invalid)
    return value


def _refuse_constant(name):
    # NaN and Infinity are not JSON.
    raise ValueError(name)
