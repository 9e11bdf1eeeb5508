"""96196 calls from the call centre (CTI): the telephony belongs to the
call centre's ACD/IVR; the platform records each call from the events the
centre posts (`cti.py`), pops the call up for the dispatcher who answered
it, and turns it into a rescue ticket (or joins the elevator's open one)
with one click. The call record is the ticket draft: the caller's number
and the elevator of the rescue code keyed into the IVR are already there.
See docs/rescue.md."""
import hashlib
import hmac
import secrets

from sql import Null

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access

from . import clock
from trytond.modules.elevator.privacy import mask_phone
from trytond.modules.elevator.sharing import (
    SharedExportMixin, SharingClientMixin)
from trytond.modules.elevator.workflow import WorkflowStateMixin

from .ticket import ACTIVE_STATES, _notify, dispatcher_users

CALL_STATES = [
    ('ringing', "Ringing"),
    ('answered', "Answered"),
    ('ended', "Ended"),
    ]
EVENTS = ['ringing', 'answered', 'ended']
# Order of the events of one call: a late `ringing` never moves an answered
# call back.
EVENT_RANK = {e: i for i, e in enumerate(EVENTS)}
SIGNATURE_PREFIX = 'sha256='


class CTIClient(SharingClientMixin, DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'elevator.rescue.cti.client'
    _sharing_category = 'rescue'
    __string__ = "Call-Centre Client"

    name = fields.Char("Name", required=True)
    client_id = fields.Char("Client ID", required=True, strip=False)
    secret = fields.Char("Shared Secret", required=True, strip=False,
        help="Key of the HMAC-SHA256 signature of every event the call "
        "centre posts; give it to the call centre over a safe channel.")
    replay_window = fields.Integer("Replay Window", required=True,
        help="Seconds an event's timestamp may differ from the server's "
        "clock; older or later events are refused.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('client_id_unique', Unique(t, t.client_id),
                'elevator_rescue.msg_cti_client_id_unique'),
            ]

    @classmethod
    def default_client_id(cls):
        return 'cti-' + secrets.token_hex(4)

    @classmethod
    def default_secret(cls):
        return secrets.token_urlsafe(32)

    @classmethod
    def default_replay_window(cls):
        return 300

    @classmethod
    def authenticate(cls, client_id, timestamp, body, signature):
        """The active client of client_id whose secret signed
        "{timestamp}.{body}", with timestamp within its replay window; an
        error key ('client', 'signature', 'timestamp') otherwise."""
        with without_check_access():
            clients = cls.search([
                    ('client_id', '=', client_id or ''),
                    ('active', '=', True),
                    ], limit=1)
        if not clients:
            return None, 'client'
        client, = clients
        try:
            sent = int(timestamp)
        except (TypeError, ValueError):
            return None, 'timestamp'
        message = str(sent).encode() + b'.' + body
        expected = hmac.new(client.secret.encode(), message,
            hashlib.sha256).hexdigest()
        given = (signature or '').strip()
        if given.startswith(SIGNATURE_PREFIX):
            given = given[len(SIGNATURE_PREFIX):]
        if not hmac.compare_digest(expected, given.lower()):
            return None, 'signature'
        now = clock.now().timestamp()
        if abs(now - sent) > client.replay_window:
            return None, 'timestamp'
        return client, None


class Call(SharedExportMixin, WorkflowStateMixin, ModelSQL, ModelView):
    __name__ = 'elevator.rescue.call'
    __string__ = "96196 Call"
    _rec_name = 'call_id'
    # Bulk exports of these need a data-sharing approval.
    _personal_fields = {'caller_number'}

    client = fields.Many2One('elevator.rescue.cti.client', "Call Centre",
        required=True, readonly=True, ondelete='RESTRICT')
    call_id = fields.Char("Call ID", required=True, readonly=True,
        strip=False)
    state = fields.Selection(CALL_STATES, "State", required=True,
        readonly=True, sort=False)
    caller_number = fields.Char("Caller Number", readonly=True,
        strip=False)
    caller_number_masked = fields.Function(
        fields.Char("Caller Number (masked)"), 'get_caller_number_masked')
    called_number = fields.Char("Called Number", readonly=True)
    ivr_digits = fields.Char("IVR Digits", readonly=True,
        help="What the caller keyed in: the rescue code printed in the car.")
    lookup = fields.Char("Elevator Code",
        states={'readonly': Bool(Eval('ticket'))},
        help="Rescue code, registration code or equipment code read out by "
        "the caller, when the IVR gave none.")
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        states={'readonly': Bool(Eval('ticket'))})
    agent_extension = fields.Char("Agent Extension", readonly=True)
    agent = fields.Many2One('res.user', "Dispatcher", readonly=True)
    ringing_at = fields.DateTime("Ringing At", readonly=True)
    answered_at = fields.DateTime("Answered At", readonly=True)
    ended_at = fields.DateTime("Ended At", readonly=True)
    duration = fields.Integer("Duration (s)", readonly=True)
    recording_url = fields.Char("Recording", readonly=True)
    ticket = fields.Many2One('elevator.rescue.ticket', "Ticket",
        readonly=True, ondelete='SET NULL')
    open_ticket = fields.Function(fields.Many2One(
            'elevator.rescue.ticket', "Open Ticket of the Elevator",
            help="People may still be trapped: the call joins this ticket."),
        'get_open_ticket')
    caller_tickets = fields.Function(fields.Many2Many(
            'elevator.rescue.ticket', None, None, "Caller's Tickets",
            help="Earlier tickets opened by calls from the same number."),
        'get_caller_tickets')
    warnings = fields.Char("Warnings", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('call_unique', Unique(t, t.client, t.call_id),
                'elevator_rescue.msg_call_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.ringing_at, Index.Range())),
                Index(t, (t.caller_number, Index.Equality()),
                    where=t.caller_number != Null),
                })
        cls._order = [('ringing_at', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._buttons.update({
                'report_entrapment': {
                    'invisible': Bool(Eval('ticket')),
                    'depends': ['ticket'],
                    },
                'open_ticket_form': {
                    'invisible': ~Bool(Eval('ticket')),
                    'depends': ['ticket'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'ringing'

    def get_caller_number_masked(self, name):
        return mask_phone(self.caller_number)

    @classmethod
    def get_open_ticket(cls, calls, name):
        Ticket = Pool().get('elevator.rescue.ticket')
        elevators = {c.elevator.id for c in calls if c.elevator}
        open_ = {}
        if elevators:
            for ticket in Ticket.search([
                        ('elevator', 'in', list(elevators)),
                        ('state', 'in', ACTIVE_STATES),
                        ]):
                open_[ticket.elevator.id] = ticket.id
        return {c.id: open_.get(c.elevator.id) if c.elevator else None
            for c in calls}

    @classmethod
    def get_caller_tickets(cls, calls, name):
        # The caller's number stays on the server: this is computed with
        # the system's rights and gives only ticket ids.
        numbers = {c.caller_number for c in calls if c.caller_number}
        by_number = {}
        if numbers:
            with without_check_access():
                earlier = cls.search([
                        ('caller_number', 'in', list(numbers)),
                        ('ticket', '!=', None),
                        ], order=[('ringing_at', 'DESC')])
            for call in earlier:
                by_number.setdefault(call.caller_number, [])
                if call.ticket.id not in by_number[call.caller_number]:
                    by_number[call.caller_number].append(call.ticket.id)
        return {c.id: by_number.get(c.caller_number, [])[:20]
            for c in calls}

    @fields.depends('lookup', 'elevator')
    def on_change_lookup(self):
        Ticket = Pool().get('elevator.rescue.ticket')
        if self.lookup:
            self.elevator = Ticket.find_elevator(self.lookup)

    @classmethod
    @ModelView.button
    def report_entrapment(cls, calls):
        """Open the rescue ticket of each call's elevator, or join the
        elevator's open ticket; the caller's number goes with it."""
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        reports = []
        for call in calls:
            if call.ticket:
                continue
            if not call.elevator:
                raise UserError(gettext(
                        'elevator_rescue.msg_call_no_elevator',
                        call=call.rec_name))
            reports.append((call, (call.elevator, 'phone', {
                            'caller_phone': call.caller_number,
                            'reported_at': call.ringing_at
                            or call.answered_at or clock.now(),
                            'reference': call.call_id,
                            'origin': str(call),
                            })))
        if not reports:
            return
        with without_check_access():
            tickets = Ticket.report_many([r for _, r in reports])
            for (call, _), ticket in zip(reports, tickets):
                call.ticket = ticket
            cls.save([c for c, _ in reports])
        if len(reports) == 1:
            return cls._open_ticket_action(tickets[0])

    @classmethod
    @ModelView.button
    def open_ticket_form(cls, calls):
        for call in calls:
            if call.ticket:
                return cls._open_ticket_action(call.ticket)

    @classmethod
    def _open_ticket_action(cls, ticket):
        pool = Pool()
        Action = pool.get('ir.action')
        ModelData = pool.get('ir.model.data')
        action = Action.get_action_values('ir.action.act_window', [
                ModelData.get_id('elevator_rescue', 'act_ticket')])[0]
        action['res_id'] = [ticket.id]
        action['views'] = list(reversed(action['views']))
        return action

    # Intake of the call centre's events.

    @classmethod
    def receive(cls, client, event):
        """Apply one event of the call centre (a dict already checked by
        `parse_event`): returns (call, duplicate, warnings)."""
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        User = pool.get('res.user')
        kind = event['event']
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        # Two events of one call may arrive together: the second waits for
        # the first to commit (the unique call id makes it see the call).
        cls.lock()
        with without_check_access():
            calls = cls.search([
                    ('client', '=', client.id),
                    ('call_id', '=', event['call_id']),
                    ], limit=1)
            call = calls[0] if calls else cls(client=client,
                call_id=event['call_id'], state='ringing')
            seen = set(filter(None,
                    (getattr(call, 'warnings', None) or '').split(',')))
            warnings = []
            duplicate = bool(calls) and (
                getattr(call, f'{kind}_at', None) is not None)
            if duplicate:
                return call, True, []
            at = clock.now()
            setattr(call, f'{kind}_at', at)
            if EVENT_RANK[kind] >= EVENT_RANK[call.state or 'ringing']:
                call.state = kind
            for name in ['caller_number', 'called_number', 'ivr_digits']:
                if event.get(name) and not getattr(call, name, None):
                    setattr(call, name, event[name])
            if event.get('agent_extension'):
                call.agent_extension = event['agent_extension']
                agents = User.search([
                        ('cti_extension', '=', event['agent_extension']),
                        ], limit=1)
                call.agent = agents[0] if agents else None
                if not agents:
                    warnings.append('unknown_agent')
            if kind == 'ended':
                call.duration = event.get('duration')
                call.recording_url = event.get('recording_url')
            if (event.get('ivr_digits')
                    and not getattr(call, 'elevator', None)):
                try:
                    with Transaction().set_user(0):
                        call.elevator = Ticket.find_elevator(call.ivr_digits)
                except UserError:
                    warnings.append('unknown_code')
            call.warnings = ','.join(sorted(seen | set(warnings))) or None
            call.save()
        if kind in {'ringing', 'answered'}:
            cls._pop_up(call, kind)
        return call, False, warnings

    @classmethod
    def _pop_up(cls, call, kind):
        """The dispatcher whose extension took the call sees it at once
        (res.notification travels on Tryton's bus); a call no known
        extension took goes to every dispatcher, so none is lost."""
        if kind == 'ringing' and not call.agent_extension:
            return
        users = [call.agent] if call.agent else dispatcher_users()
        if call.elevator:
            message = 'elevator_rescue.msg_call_pop_up'
        else:
            message = 'elevator_rescue.msg_call_pop_up_no_code'
        params = {
            'caller': mask_phone(call.caller_number) or '',
            'code': call.ivr_digits or '',
            'elevator': lambda: call.elevator.rec_name
            if call.elevator else '',
            }
        _notify([(u, cls.__name__, call.id, message, params)
                for u in users])


def parse_event(payload):
    """The event of a decoded JSON body, or raise ValueError with the name
    of the first wrong field."""
    if not isinstance(payload, dict):
        raise ValueError('body')
    event = payload.get('event')
    if event not in EVENTS:
        raise ValueError('event')
    result = {'event': event}
    for name, size in [('call_id', 64), ('caller_number', 32),
            ('called_number', 32), ('ivr_digits', 32),
            ('agent_extension', 16), ('recording_url', 512)]:
        value = payload.get(name)
        if value is None or value == '':
            continue
        if not isinstance(value, str) or len(value) > size:
            raise ValueError(name)
        result[name] = value.strip()
    if not result.get('call_id'):
        raise ValueError('call_id')
    if event == 'answered' and not result.get('agent_extension'):
        raise ValueError('agent_extension')
    if 'recording_url' in result and not result['recording_url'].startswith(
            ('https://', 'http://')):
        raise ValueError('recording_url')
    duration = payload.get('duration')
    if duration is not None:
        if (not isinstance(duration, int) or isinstance(duration, bool)
                or not 0 <= duration <= 86400):
            raise ValueError('duration')
        result['duration'] = duration
    return result


def sign(secret, timestamp, body):
    "The signature header value a call centre sends (for tests and tools)."
    message = str(int(timestamp)).encode() + b'.' + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message,
        hashlib.sha256).hexdigest()


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    cti_extension = fields.Char("Call-Centre Extension",
        help="The agent extension of the 96196 call centre this dispatcher "
        "answers on: calls taken there pop up on this user's screen.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('cti_extension_unique', Unique(t, t.cti_extension),
                'elevator_rescue.msg_cti_extension_unique'),
            ]
