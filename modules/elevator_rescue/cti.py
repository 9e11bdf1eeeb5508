"""HTTP route of the 96196 call centre's events (DESIGN §5):

    POST /{db}/elevator/api/v1/cti/events

Headers: `X-CTI-Client` (client id), `X-CTI-Timestamp` (Unix seconds),
`X-CTI-Signature` (`sha256=` + hex HMAC-SHA256 of "{timestamp}.{body}" with
the client's shared secret). Body: one JSON event (see call.parse_event).

Answers: 202 with the call (new event), 200 with `"duplicate": true` (the
same event of the same call again: the centre may retry safely), 400 (not
JSON), 401 (unknown client, bad signature, timestamp outside the replay
window), 403 (no approved, unexpired data-sharing record), 413 (too
large), 422 (a wrong field, named), 503 (database busy:
send again). A call whose code matches no elevator or whose extension is
nobody's is still recorded and shown to every dispatcher (202 with
`warnings`): a call is never lost. Messages are in the language of
`Accept-Language` (default zh_CN). See docs/rescue.md."""
import json
import logging
from functools import wraps

from werkzeug.exceptions import HTTPException

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.modules.elevator.web.http import json_error, json_response
from trytond.protocols.wrappers import (
    set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

from .call import parse_event

logger = logging.getLogger(__name__)

ROUTE = '/<database_name>/elevator/api/v1/cti/events'
BODY_MAX = 16 * 1024


def _language(request):
    accepted = request.headers.get('Accept-Language', '')
    return 'en' if accepted.lower().startswith('en') else 'zh_CN'


def _error(status, code, field=None):
    "A refusal with the translated message of the code (in a transaction)."
    return json_error(status, code,
        gettext(f'elevator_rescue.msg_cti_{code}', field=field or ''),
        field=field)


def _json_errors(func):
    """Answer JSON on every path: trytond would answer an HTML page (or,
    for a JSON body, "Unable to get RPC method") to an exception. The
    exception's text stays in the log, never in the answer. Outside any
    transaction: the messages are not translated."""
    @wraps(func)
    def wrapper(request, *args, **kwargs):
        try:
            return func(request, *args, **kwargs)
        except HTTPException as exception:
            if exception.code == 413:
                return json_error(413, 'too_large', "Request Too Large")
            raise
        except backend.DatabaseOperationalError:
            logger.warning('CTI event: database busy', exc_info=True)
            return json_error(503, 'unavailable', "Service Unavailable",
                headers={'Retry-After': '2'})
        except Exception:
            logger.exception('CTI event failed')
            return json_error(500, 'internal', "Internal Server Error")
    return wrapper


@app.route(ROUTE, methods=['POST'])
@_json_errors
@set_max_request_size(BODY_MAX)
@with_pool
@with_transaction(readonly=False)
def cti_events(request, pool):
    try:
        return _receive(request, pool)
    except (HTTPException, backend.DatabaseOperationalError,
            TransactionError):
        # TransactionError: with_transaction retries (e.g. to take the
        # table lock of Call.receive).
        raise
    except Exception:
        # Inside with_pool, trytond would turn it into an HTML page.
        logger.exception('CTI event failed')
        Transaction().rollback()
        return json_error(500, 'internal', "Internal Server Error")


def _receive(request, pool):
    CTIClient = pool.get('elevator.rescue.cti.client')
    Call = pool.get('elevator.rescue.call')
    with Transaction().set_context(language=_language(request)):
        body = request.get_data(cache=True)
        if len(body) > BODY_MAX:
            return _error(413, 'too_large')
        client, refused = CTIClient.authenticate(
            request.headers.get('X-CTI-Client'),
            request.headers.get('X-CTI-Timestamp'),
            body, request.headers.get('X-CTI-Signature'))
        if refused:
            logger.warning('CTI event refused (%s) from %s', refused,
                request.remote_addr)
            return _error(401, refused)
        if not client.sharing_valid():
            logger.warning('CTI event refused: client %s has no valid '
                'data-sharing approval', client.client_id)
            return _error(403, 'sharing')
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, 'not_json')
        try:
            event = parse_event(payload)
        except ValueError as exception:
            return _error(422, 'invalid', field=str(exception))
        try:
            call, duplicate, warnings = Call.receive(client, event)
        except UserError as exception:
            # A rule of the model refused the event (its message is meant
            # for users and translated).
            logger.warning('CTI event refused: %s', exception)
            Transaction().rollback()
            return json_error(422, 'refused', exception.message)
        data = {
            'call_id': call.call_id,
            'state': call.state,
            'ticket': call.ticket.number if call.ticket else None,
            'elevator': call.elevator.rescue_code if call.elevator else None,
            'warnings': warnings,
            }
        if duplicate:
            data['duplicate'] = True
            return json_response(data)
        return json_response(data, status=202)
