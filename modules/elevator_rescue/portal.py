"""The rescue on the technician's phone (DESIGN §5, issue 15):

    GET  /{db}/elevator/portal/rescue/                  the H5 page
    GET  /{db}/elevator/portal/rescue/api/profile       who, units, causes
    GET  /{db}/elevator/portal/rescue/api/dispatches    the unit's dispatches
    GET  /{db}/elevator/portal/rescue/api/dispatches/ID one dispatch
    POST /{db}/elevator/portal/rescue/api/dispatches/ID/ACTION
         ACTION: accept, decline, arrive {position}, release {released,
         injuries, cause, notes}, repair
    POST /{db}/elevator/portal/rescue/api/dispatches/ID/photos {name, data}

The page logs in like the maintenance portal (the platform account, the
JSON-RPC `common.db.login`, the same session store) and sends the session
in the `Authorization: Session ...` header: no cookie, so no cross-site
request can carry it, and trytond refuses a foreign `Origin` (only the
static page allows a null one). The API runs as the user with access
checking on: the record rules decide which dispatches exist for him (a
firm's technician sees his firm's, fire rescue the level-3 ones), and
every step is the dispatch workflow's button (rights, row lock, race:
the second to accept is told who was first). Answers are JSON
(elevator.web.http), messages in the user's language."""
import base64
import binascii
import logging
import mimetypes
import os
from functools import wraps
from urllib.parse import quote

import prcoords
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.utils import safe_join
from werkzeug.wrappers import Response

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.modules.elevator.web.http import (
    HTTPError, json_error, json_response, read_json)
from trytond.protocols.wrappers import (
    allow_null_origin, set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction, without_check_access
from trytond.wsgi import app

from .ticket import ACTIVE_STATES, CAUSES, _selection, format_time

logger = logging.getLogger(__name__)

BASE = '/<database_name>/elevator/portal/rescue'
STATIC_ROOT = os.path.join(os.path.dirname(__file__), 'static')
TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    }
# As the maintenance portal: the page talks only to its own server; map
# links leave it as top-level navigations.
PAGE_HEADERS = {
    'Content-Security-Policy': (
        "default-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; style-src 'self'; script-src 'self'; "
        "media-src 'self' data: blob:; frame-ancestors 'none'"),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
    }
BODY_MAX = 16 * 1024
# A photo is at most the platform's attachment limit (checked by
# ir.attachment); the body carries it in base64.
PHOTO_BODY_MAX = 16 * 1024 * 1024
POLL_SECONDS = 5
# Dispatches shown: waiting for an answer, or accepted and not yet filed.
SHOWN_STATES = ACTIVE_STATES + ['released']
ACTIONS = {'accept', 'decline', 'arrive', 'release', 'repair'}


@app.route(BASE + '/', methods=['GET', 'HEAD'])
@app.route(BASE + '/<path:path>', methods=['GET', 'HEAD'])
@allow_null_origin
def rescue_page(request, database_name, path='index.html'):
    if path.startswith('api/'):
        raise NotFound()
    return serve_static('rescue', path)


def serve_static(folder, path, headers=None):
    "A file of static/<folder> with the pages' security headers."
    filename = safe_join(os.path.join(STATIC_ROOT, folder),
        path or 'index.html')
    if not filename or not os.path.isfile(filename):
        raise NotFound()
    extension = os.path.splitext(filename)[1]
    mimetype = TYPES.get(extension) or mimetypes.guess_type(filename)[0]
    with open(filename, 'rb') as file:
        response = Response(file.read(), mimetype=mimetype)
    response.headers.update(headers or PAGE_HEADERS)
    return response


def _message(name, **params):
    return gettext(f'elevator_rescue.{name}', **params)


def api(func):
    """Between with_pool and with_transaction: the user of the session
    (401 without one), JSON answers for refusals and errors. A refusal
    raised inside the transaction rolls it back: nothing half-written."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            if not request.user_id:
                return json_error(401, 'unauthorized', "Unauthorized")
            return func(request, pool, *args, **kwargs)
        except HTTPError as error:
            return error.response()
        except HTTPException as exception:
            if exception.code == 413:
                return json_error(413, 'too_large', "Request Too Large")
            raise
        except AccessError as error:
            return json_error(403, 'forbidden', error.message)
        except (UserError, UserWarning) as error:
            return json_error(409, 'refused', error.message)
        except backend.DatabaseOperationalError:
            logger.warning("database busy on %s", request.path,
                exc_info=True)
            return json_error(503, 'unavailable', "Service Unavailable",
                headers={'Retry-After': '1'})
        except Exception:
            logger.exception("rescue portal error on %s", request.path)
            return json_error(500, 'internal_error', "Internal Server Error")
    return wrapper


def as_user(func):
    "Inside the transaction: the user's context, access checking on."
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        User = pool.get('res.user')
        context = User.get_preferences(context_only=True)
        with Transaction().set_context(context, _check_access=True):
            return func(request, pool, *args, **kwargs)
    return wrapper


def _visible(pool, dispatch_id):
    "The dispatch if the user's record rules show it, else a 404."
    Dispatch = pool.get('elevator.rescue.dispatch')
    found = Dispatch.search([('id', '=', dispatch_id)], limit=1)
    if not found:
        raise HTTPError(404, 'not_found', _message('msg_portal_not_found'))
    return found[0]


def _local(value):
    return format_time(value) if value else None


def _map_links(elevator, name):
    "geo: URI (WGS-84, RFC 5870) and AMap's URI (GCJ-02) of the elevator."
    if elevator.latitude is None or elevator.longitude is None:
        return None
    lat, lon = float(elevator.latitude), float(elevator.longitude)
    gcj = prcoords.wgs_gcj((lat, lon))
    label = (name or '').replace(')', ' ').replace('(', ' ')
    return {
        'latitude': lat,
        'longitude': lon,
        'geo': f'geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}'
        f'({quote(label)})',
        'amap': (f'https://uri.amap.com/marker?position={gcj.lon:.6f},'
            f'{gcj.lat:.6f}&name={quote(label)}&coordinate=gaode'
            '&callnative=1'),
        }


def _actions(dispatch):
    ticket = dispatch.ticket
    state = ticket.state
    actions = []
    if dispatch.outcome is None and state == 'dispatched':
        actions += ['accept', 'decline']
    mine = dispatch.engaged
    if mine and not dispatch.arrived_at and state in {
            'dispatched', 'accepted'}:
        actions.append('arrive')
    if mine and dispatch.arrived_at and state == 'arrived':
        actions.append('release')
    if (mine and state in {'accepted', 'arrived', 'released'}
            and (not ticket.arrived_unit
                or ticket.arrived_unit == dispatch.unit)):
        actions.append('photo')
    if (mine and dispatch.arrived_at
            and state in {'arrived', 'released', 'closed'}
            and not ticket.repair_order):
        actions.append('repair')
    return actions


def _payload(pool, dispatches):
    """What the page shows of the dispatches (already checked against the
    user's rules): no personal data of the callers."""
    Ticket = pool.get('elevator.rescue.ticket')
    Dispatch = pool.get('elevator.rescue.dispatch')
    Attachment = pool.get('ir.attachment')
    result = []
    with without_check_access():
        dispatches = Dispatch.browse([d.id for d in dispatches])
        photos = {}
        tickets = [str(d.ticket) for d in dispatches]
        if tickets:
            for attachment in Attachment.search(
                    [('resource', 'in', tickets)]):
                key = str(attachment.resource)
                photos[key] = photos.get(key, 0) + 1
        for d in dispatches:
            ticket = d.ticket
            elevator = ticket.elevator
            place = ticket.place
            place_name = place.rec_name if place else ''
            result.append({
                    'id': d.id,
                    'ticket': ticket.number,
                    'ticket_state': ticket.state,
                    'ticket_state_label': _selection(
                        Ticket, 'state', ticket.state),
                    'level': d.level,
                    'kind': _selection(Dispatch, 'kind', d.kind),
                    'unit': d.unit.rec_name,
                    'outcome': d.outcome,
                    'outcome_label': _selection(
                        Dispatch, 'outcome', d.outcome),
                    'urgency': d.urgency,
                    'time_left': (int(d.time_left.total_seconds())
                        if d.time_left is not None else None),
                    'dispatched_at': _local(d.dispatched_at),
                    'accept_deadline': _local(d.accept_deadline),
                    'arrive_deadline': _local(d.arrive_deadline),
                    'accepted_at': _local(d.accepted_at),
                    'accepted_by': (d.accepted_by.rec_name
                        if d.accepted_by else None),
                    'arrived_at': _local(d.arrived_at),
                    'released_at': _local(ticket.released_at),
                    'arrival_distance': d.arrival_distance,
                    'arrival_warning': ticket.arrival_warning,
                    'arrival_warning_label': _selection(
                        Ticket, 'arrival_warning', ticket.arrival_warning),
                    'trapped_persons': ticket.trapped_persons,
                    'description': ticket.description,
                    'released_persons': ticket.released_persons,
                    'injuries': ticket.injuries,
                    'cause': ticket.cause,
                    'repair_order': (ticket.repair_order.rec_name
                        if ticket.repair_order else None),
                    'photos': photos.get(str(ticket), 0),
                    'elevator': {
                        'rescue_code': elevator.rescue_code,
                        'registration_code': elevator.registration_code,
                        'building': elevator.building,
                        'place': place_name,
                        'address': ticket.address,
                        },
                    'map': _map_links(elevator, place_name),
                    'actions': _actions(d),
                    })
    return result


@app.route(BASE + '/api/profile', methods=['GET'])
@with_pool
@api
@with_transaction(readonly=True, user='request')
@as_user
def rescue_profile(request, pool):
    User = pool.get('res.user')
    Ticket = pool.get('elevator.rescue.ticket')
    Configuration = pool.get('elevator.rescue.configuration')
    user = User(Transaction().user)
    return json_response({
            'name': user.name or user.login,
            'units': [u.rec_name for u in user.elevator_units],
            'poll_seconds': POLL_SECONDS,
            'arrival_max_distance': Configuration(1).arrival_max_distance,
            'causes': [[c, _selection(Ticket, 'cause', c)]
                for c, _ in CAUSES if c],
            })


@app.route(BASE + '/api/dispatches', methods=['GET'])
@with_pool
@api
@with_transaction(readonly=True, user='request')
@as_user
def rescue_dispatches(request, pool):
    Dispatch = pool.get('elevator.rescue.dispatch')
    # The user's record rules apply to this search.
    dispatches = Dispatch.search([
            ('ticket.state', 'in', SHOWN_STATES),
            ['OR',
                [('outcome', '=', None),
                    ('ticket.state', '=', 'dispatched')],
                ('outcome', '=', 'accepted'),
                # Late: the ticket was escalated, the unit may still come.
                [('outcome', '=', 'timed_out'), ('missed', '=', 'arrive')],
                ],
            ], order=[('dispatched_at', 'DESC'), ('id', 'DESC')], limit=50)
    return json_response({'dispatches': _payload(pool, dispatches)})


@app.route(BASE + '/api/dispatches/<int:dispatch_id>', methods=['GET'])
@with_pool
@api
@with_transaction(readonly=True, user='request')
@as_user
def rescue_dispatch(request, pool, dispatch_id):
    dispatch = _visible(pool, dispatch_id)
    return json_response({'dispatch': _payload(pool, [dispatch])[0]})


def _int(data, name):
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(_message('msg_release_persons'))
    return value


@app.route(BASE + '/api/dispatches/<int:dispatch_id>/<action>',
    methods=['POST'])
@set_max_request_size(BODY_MAX)
@with_pool
@api
@with_transaction(readonly=False, user='request')
@as_user
def rescue_action(request, pool, dispatch_id, action):
    Dispatch = pool.get('elevator.rescue.dispatch')
    Ticket = pool.get('elevator.rescue.ticket')
    if action not in ACTIONS:
        raise HTTPError(404, 'not_found', _message('msg_portal_not_found'))
    data = read_json(request, BODY_MAX,
        message_too_large=_message('msg_portal_bad_request'),
        message_invalid=_message('msg_portal_bad_request'))
    dispatch = _visible(pool, dispatch_id)
    if action == 'accept':
        Dispatch.accept([dispatch])
    elif action == 'decline':
        Dispatch.decline([dispatch])
    elif action == 'arrive':
        Dispatch.arrive_at([dispatch], data.get('position'))
    elif action == 'release':
        ticket = _own_ticket(dispatch)
        notes = data.get('notes')
        if notes is not None and not isinstance(notes, str):
            raise UserError(_message('msg_portal_bad_request'))
        Ticket.record_release([ticket], _int(data, 'released_persons'),
            _int(data, 'injuries'), data.get('cause'),
            notes=(notes or '').strip()[:2000] or None)
    elif action == 'repair':
        Ticket.request_repair([_own_ticket(dispatch)])
    dispatch = Dispatch(dispatch.id)
    return json_response({'dispatch': _payload(pool, [dispatch])[0]})


def _own_ticket(dispatch):
    """The ticket, for the unit that arrived on it only (another unit's
    dispatch on the same ticket does not record its release)."""
    ticket = dispatch.ticket
    if not dispatch.engaged or not dispatch.arrived_at:
        raise UserError(gettext('elevator_rescue.msg_ticket_not_arrived',
                ticket=ticket.rec_name,
                state=_selection(ticket.__class__, 'state', ticket.state)))
    return ticket


@app.route(BASE + '/api/dispatches/<int:dispatch_id>/photos',
    methods=['POST'])
@set_max_request_size(PHOTO_BODY_MAX)
@with_pool
@api
@with_transaction(readonly=False, user='request')
@as_user
def rescue_photo(request, pool, dispatch_id):
    Dispatch = pool.get('elevator.rescue.dispatch')
    data = read_json(request, PHOTO_BODY_MAX,
        message_too_large=_message('msg_portal_bad_request'),
        message_invalid=_message('msg_portal_bad_request'))
    dispatch = _visible(pool, dispatch_id)
    name, content = data.get('name'), data.get('data')
    if (not isinstance(name, str) or not name.strip() or len(name) > 120
            or not isinstance(content, str)):
        raise UserError(_message('msg_portal_photo_invalid'))
    try:
        content = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(_message('msg_portal_photo_invalid'))
    name = os.path.basename(name.strip().replace('\\', '/'))
    attachment = Dispatch.attach_photo(dispatch, name, content)
    dispatch = Dispatch(dispatch.id)
    return json_response({
            'photo': attachment.id,
            'dispatch': _payload(pool, [dispatch])[0],
            }, status=201)
