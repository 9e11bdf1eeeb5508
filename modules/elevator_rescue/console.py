"""The 96196 dispatch console (DESIGN §5, issue 16):

    GET  /{db}/elevator/console/                 the page (and its files)
    GET  /{db}/elevator/console/api/profile      who, map settings
    GET  /{db}/elevator/console/api/tickets?since=CURSOR
         the open tickets: every id with its stamp, in full those changed
         since the cursor (or all without one), and the next cursor
    GET  /{db}/elevator/console/api/tickets/ID   one ticket in detail
    POST /{db}/elevator/console/api/tickets/ID/ACTION
         ACTION: dispatch, escalate, close (the ticket's workflow buttons)

For the dispatchers and fire rescue (and the platform's administrators);
everybody else (firms, technicians, regulators) is refused with a 403. The
page logs in like the technician's rescue page (the platform account,
JSON-RPC `common.db.login`, the session in the `Authorization: Session`
header); the API runs as the user with access checking on, so the record
rules decide which tickets he sees and the caller's number is read with
his field access (masked for those who may not read it). Clocks run in the
browser from the server's UTC timestamps and its `now`.

The web client's menu opens the page through an ir.action.url whose url
holds `{database}`, replaced by the database's name when the action is
read (`Action.get_action_values`)."""
import datetime as dt
from urllib.parse import quote, urlsplit

from werkzeug.exceptions import NotFound

from trytond import config
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.pool import PoolMeta
from trytond.protocols.wrappers import (
    allow_null_origin, set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction, without_check_access
from trytond.wsgi import app

from trytond.modules.elevator.web.http import (
    HTTPError, json_response, read_json)

from . import clock
from .portal import PAGE_HEADERS, api, as_user, serve_static
from .ticket import ACTIVE_STATES, MAX_LEVEL, _selection

BASE = '/<database_name>/elevator/console'
STATIC = 'console'
BODY_MAX = 16 * 1024
POLL_MS = 1000
# Tickets on the board: waiting for someone, and released ones waiting
# for the dispatcher's closing.
SHOWN_STATES = ACTIVE_STATES + ['released']
ACTIONS = {'dispatch', 'escalate', 'close'}
# The groups (module elevator) the console is for.
GROUPS = ('group_dispatcher', 'group_fire', 'group_admin')
# Rows changed this long before the cursor are sent again: a transaction
# stamped before the cursor may commit after it was read.
CURSOR_MARGIN = dt.timedelta(seconds=10)


@app.route(BASE + '/', methods=['GET', 'HEAD'])
@app.route(BASE + '/<path:path>', methods=['GET', 'HEAD'])
@allow_null_origin
def console_page(request, database_name, path='index.html'):
    if path.startswith('api/'):
        raise NotFound()
    return serve_static(STATIC, path, headers=_page_headers())


def _tile_url():
    return config.get('elevator_console', 'tile_url', default='') or ''


def _page_headers():
    "The pages' headers; a configured tile server may serve images."
    headers = dict(PAGE_HEADERS)
    parts = urlsplit(_tile_url())
    if parts.scheme in {'http', 'https'} and parts.netloc:
        origin = f'{parts.scheme}://{parts.netloc}'.replace('{s}', '*')
        headers['Content-Security-Policy'] = headers[
            'Content-Security-Policy'].replace(
            "img-src 'self'", f"img-src 'self' {origin}", 1)
    return headers


def _message(name, **params):
    return gettext(f'elevator_rescue.{name}', **params)


def _check_console(pool):
    "403 unless the user is a dispatcher, fire rescue or an administrator."
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = set(User.get_groups())
    if not groups & {ModelData.get_id('elevator', g) for g in GROUPS}:
        raise HTTPError(403, 'forbidden', _message('msg_console_forbidden'))


def console(func):
    "Inside as_user: the console's users only."
    def wrapper(request, pool, *args, **kwargs):
        _check_console(pool)
        return func(request, pool, *args, **kwargs)
    wrapper.__name__ = func.__name__
    return wrapper


def _utc(value):
    "A naive UTC datetime as ISO text the browser reads as UTC."
    if not value:
        return None
    return value.replace(microsecond=0).isoformat() + 'Z'


def _stamp(ticket):
    return ticket.write_date or ticket.create_date


def _actions(ticket):
    "The workflow buttons shown for the ticket (as in the web client)."
    state = ticket.state
    actions = []
    if state == 'new':
        actions.append('dispatch')
    if state in {'dispatched', 'accepted'} and ticket.level < MAX_LEVEL:
        actions.append('escalate')
    if state == 'released':
        actions.append('close')
    return actions


def _position(ticket):
    for record in (ticket.elevator, ticket.place):
        if record and record.latitude is not None \
                and record.longitude is not None:
            return [float(record.latitude), float(record.longitude)]
    return None


def _row(pool, ticket, config):
    "What the board shows of a ticket (no personal data)."
    Ticket = pool.get('elevator.rescue.ticket')
    elevator = ticket.elevator
    place = ticket.place
    return {
        'id': ticket.id,
        'number': ticket.number,
        'state': ticket.state,
        'state_label': _selection(Ticket, 'state', ticket.state),
        'level': ticket.level,
        'source_label': _selection(Ticket, 'source', ticket.source),
        'reported_at': _utc(ticket.reported_at),
        'deadline': _utc(ticket.deadline),
        'deadline_kind': ticket.deadline_kind,
        'deadline_label': _selection(Ticket, 'deadline_kind',
            ticket.deadline_kind),
        'deadline_seconds': (ticket.deadline_minutes(config) * 60
            if ticket.deadline else None),
        'released_at': _utc(ticket.released_at),
        'trapped_persons': ticket.trapped_persons,
        'place': place.rec_name if place else '',
        'building': elevator.building if elevator else '',
        'district': ticket.district.rec_name if ticket.district else '',
        'rescue_code': elevator.rescue_code if elevator else '',
        'position': _position(ticket),
        'actions': _actions(ticket),
        'stamp': _utc(_stamp(ticket)),
        }


def _visible(pool, ticket_id):
    "The ticket if the user's record rules show it, else a 404."
    Ticket = pool.get('elevator.rescue.ticket')
    found = Ticket.search([('id', '=', ticket_id)], limit=1)
    if not found:
        raise HTTPError(404, 'not_found', _message('msg_console_not_found'))
    return found[0]


def _parse_cursor(text):
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.rstrip('Z'))
    except ValueError:
        raise HTTPError(400, 'bad_request',
            _message('msg_console_bad_request'))
    return value.replace(tzinfo=None)


@app.route(BASE + '/api/profile', methods=['GET'])
@with_pool
@api
@with_transaction(readonly=True, user='request')
@as_user
@console
def console_profile(request, pool):
    User = pool.get('res.user')
    user = User(Transaction().user)
    return json_response({
            'name': user.name or user.login,
            'poll_ms': POLL_MS,
            'tile_url': _tile_url(),
            'tile_attribution': config.get('elevator_console',
                'tile_attribution', default='') or '',
            'center': [25.454, 119.007],
            'now': _utc(clock.now()),
            })


@app.route(BASE + '/api/tickets', methods=['GET'])
@with_pool
@api
@with_transaction(readonly=True, user='request')
@as_user
@console
def console_tickets(request, pool):
    Ticket = pool.get('elevator.rescue.ticket')
    Configuration = pool.get('elevator.rescue.configuration')
    since = _parse_cursor(request.args.get('since'))
    now = clock.now()
    # One search on the open tickets (partial index on state), the user's
    # record rules applied; their rows are read in one batch.
    tickets = Ticket.search_read([('state', 'in', SHOWN_STATES)],
        order=[('reported_at', 'DESC'), ('id', 'DESC')], limit=500,
        fields_names=['write_date', 'create_date'])
    stamp = {t['id']: t['write_date'] or t['create_date'] for t in tickets}
    stamps = [[t['id'], _utc(stamp[t['id']])] for t in tickets]
    if since is None:
        changed = [t['id'] for t in tickets]
    else:
        changed = [t['id'] for t in tickets
            if stamp[t['id']] >= since - CURSOR_MARGIN]
    config = Configuration(1)
    with without_check_access():
        rows = [_row(pool, t, config) for t in Ticket.browse(changed)]
    latest = max(stamp.values(), default=None)
    cursor = max(filter(None, [latest, since])) if (latest or since) else now
    return json_response({
            'now': _utc(now),
            'cursor': _utc(cursor),
            'open': stamps,
            'tickets': rows,
            })


def _caller(pool, ticket):
    """The caller as the user may read him: in full for dispatch (field
    access of ticket.xml), masked otherwise."""
    Ticket = pool.get('elevator.rescue.ticket')
    try:
        row, = Ticket.read([ticket.id], ['caller_name', 'caller_phone'])
        return {'name': row['caller_name'], 'phone': row['caller_phone'],
            'masked': False}
    except AccessError:
        row, = Ticket.read([ticket.id],
            ['caller_name_masked', 'caller_phone_masked'])
        return {'name': row['caller_name_masked'],
            'phone': row['caller_phone_masked'], 'masked': True}


def _iot(pool, ticket):
    "The car's live status when the platform has IoT and the user may see."
    try:
        Status = pool.get('elevator.iot.status')
    except KeyError:
        return None
    if not ticket.elevator:
        return None
    try:
        found = Status.search([('elevator', '=', ticket.elevator.id)],
            limit=1)
    except AccessError:
        return None
    if not found:
        return None
    status = found[0]
    labels = {}
    for name in ['car_status', 'door_status', 'passenger_status',
            'car_direction', 'service_mode']:
        field = Status._fields.get(name)
        if field is not None:
            labels[name] = _selection(Status, name, getattr(status, name))
    return {
        'online': status.online,
        'floor': status.car_position,
        'door_zone': status.door_zone,
        'open_faults': status.open_faults,
        **labels,
        }


def _history(pool, ticket):
    "The dispatches and escalations of the ticket, oldest first."
    Dispatch = pool.get('elevator.rescue.dispatch')
    Escalation = pool.get('elevator.rescue.escalation')
    with without_check_access():
        dispatches = Dispatch.search([('ticket', '=', ticket.id)],
            order=[('dispatched_at', 'ASC'), ('id', 'ASC')])
        escalations = Escalation.search([('ticket', '=', ticket.id)],
            order=[('escalated_at', 'ASC'), ('id', 'ASC')])
        return {
            'dispatches': [{
                    'level': d.level,
                    'kind': _selection(Dispatch, 'kind', d.kind),
                    'unit': d.unit.rec_name,
                    'dispatched_at': _utc(d.dispatched_at),
                    'outcome': d.outcome,
                    'outcome_label': _selection(Dispatch, 'outcome',
                        d.outcome),
                    'accepted_at': _utc(d.accepted_at),
                    'arrived_at': _utc(d.arrived_at),
                    } for d in dispatches],
            'escalations': [{
                    'from_level': e.from_level,
                    'to_level': e.to_level,
                    'reason': _selection(Escalation, 'reason', e.reason),
                    'escalated_at': _utc(e.escalated_at),
                    } for e in escalations],
            }


def _detail(pool, ticket):
    Configuration = pool.get('elevator.rescue.configuration')
    caller = _caller(pool, ticket)
    iot = _iot(pool, ticket)
    with without_check_access():
        Ticket = pool.get('elevator.rescue.ticket')
        ticket = Ticket(ticket.id)
        elevator = ticket.elevator
        detail = _row(pool, ticket, Configuration(1))
        detail.update({
                'address': ticket.address,
                'registration_code': (elevator.registration_code
                    if elevator else ''),
                'maintenance_unit': (ticket.maintenance_unit.rec_name
                    if ticket.maintenance_unit else ''),
                'maintenance_phone': ticket.maintenance_phone,
                'description': ticket.description,
                'dispatched_at': _utc(ticket.dispatched_at),
                'accepted_at': _utc(ticket.accepted_at),
                'arrived_at': _utc(ticket.arrived_at),
                })
    detail['caller'] = caller
    detail['iot'] = iot
    detail.update(_history(pool, ticket))
    return detail


@app.route(BASE + '/api/tickets/<int:ticket_id>', methods=['GET'])
@with_pool
@api
@with_transaction(readonly=True, user='request')
@as_user
@console
def console_ticket(request, pool, ticket_id):
    ticket = _visible(pool, ticket_id)
    return json_response({'ticket': _detail(pool, ticket)})


@app.route(BASE + '/api/tickets/<int:ticket_id>/<action>',
    methods=['POST'])
@set_max_request_size(BODY_MAX)
@with_pool
@api
@with_transaction(readonly=False, user='request')
@as_user
@console
def console_action(request, pool, ticket_id, action):
    Ticket = pool.get('elevator.rescue.ticket')
    if action not in ACTIONS:
        raise HTTPError(404, 'not_found', _message('msg_console_not_found'))
    read_json(request, BODY_MAX,
        message_too_large=_message('msg_console_bad_request'),
        message_invalid=_message('msg_console_bad_request'))
    ticket = _visible(pool, ticket_id)
    # The buttons of the web client: their rights, checks and row locks.
    getattr(Ticket, action)([ticket])
    return json_response({'ticket': _detail(pool, Ticket(ticket.id))})


class Action(metaclass=PoolMeta):
    __name__ = 'ir.action'

    @classmethod
    def get_action_values(cls, type_, action_ids, columns=None):
        "URL actions: `{database}` stands for the database's name."
        values = super().get_action_values(type_, action_ids,
            columns=columns)
        if type_ == 'ir.action.url':
            name = quote(Transaction().database.name, safe='')
            for value in values:
                if value.get('url'):
                    value['url'] = value['url'].replace('{database}', name)
        return values
