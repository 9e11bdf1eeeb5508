"""The 96196 call centre's events (CTI) against a real trytond on
PostgreSQL.

A fresh database gets `elevator_rescue`; a call-centre client, two
dispatchers with their extensions, a firm manager and two elevators are
committed; a real trytond serves the database and every event is a signed
HTTP request, as the call centre's ACD/IVR would send it:

- `ringing` with the rescue code keyed into the IVR records the call with
  its elevator; `answered` on an extension pops the call up for the
  dispatcher of that extension (a res.notification, which Tryton's bus
  carries to sao), `ended` keeps the duration and the recording;
- one click of the dispatcher opens the ticket filled from the call; a
  second call about the same elevator joins the open ticket;
- retries are idempotent; bad signatures, replays, unknown clients,
  malformed JSON and wrong fields are refused with a clear status, and a
  call with an unknown code or extension is still recorded and shown to
  every dispatcher;
- the caller's number is readable by dispatch only: a firm manager gets
  the masked number and cannot read, search or order by the real one.
"""
import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from elevator_platform import scratch_db, tryton_env
from support.access import as_user
from support.db import database_name
from support.http import post, trytond_server
from support.sharing import share

EVENTS = '/elevator/api/v1/cti/events'
DISTRICT = '350302'
CLIENT_ID = 'cti-putian-96196'
SECRET = 'call-centre-shared-secret-0001'
CODE_1, CODE_2 = '350301', '350302'
CALLER = '13912345678'


@pytest.fixture(scope='module')
def database():
    name = database_name('cti')
    scratch_db.create_database(name, modules=('elevator_rescue',))
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def world(database):
    with tryton_env.transaction(database) as pool:
        ModelData = pool.get('ir.model.data')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        User = pool.get('res.user')
        Client = pool.get('elevator.rescue.cti.client')
        region = ModelData.get_id('elevator', f'region_{DISTRICT}')
        firm, = Party.create([{'name': '来电测试维保',
                    'is_maintenance_unit': True}])
        place, = Place.create([{'name': '来电测试小区', 'region': region}])
        elevators = Elevator.create([{
                    'registration_code': f'3110{DISTRICT}2021{n:06d}',
                    'rescue_code': code, 'category': '3110',
                    'region': region, 'place': place.id,
                    'maintenance_unit': firm.id,
                    } for n, code in enumerate([CODE_1, CODE_2], 1)])
        Elevator.put_in_use(elevators)
        dispatch = ModelData.get_id('elevator', 'group_dispatcher')
        manager = ModelData.get_id('elevator', 'group_firm_manager')
        city = ModelData.get_id('elevator', 'group_city_regulator')
        first, second, firm_user, city_user = User.create([
                {'login': 'cti-dispatcher-1', 'name': '调度一',
                    'cti_extension': '8001',
                    'groups': [('add', [dispatch])]},
                {'login': 'cti-dispatcher-2', 'name': '调度二',
                    'cti_extension': '8002',
                    'groups': [('add', [dispatch])]},
                {'login': 'cti-firm', 'name': '维保经理',
                    'groups': [('add', [manager])],
                    'elevator_units': [('add', [firm.id])]},
                {'login': 'cti-city', 'name': '市局',
                    'groups': [('add', [city])]},
                ])
        Client.create([{'name': '96196 呼叫中心', 'client_id': CLIENT_ID,
                    'secret': SECRET, 'sharing': share(pool, firm,
                        ['rescue', 'personal']).id}])
        return {
            'elevators': [e.id for e in elevators],
            'dispatcher': first.id, 'dispatcher2': second.id,
            'firm_user': firm_user.id, 'city_user': city_user.id,
            }


@pytest.fixture(scope='module')
def server(database, world):
    "trytond serving the database: the URL of the events."
    def ready(url):
        status, _ = send(url + EVENTS, b'{}', client='nobody')
        return status == 401
    with tempfile.TemporaryDirectory(prefix='elevator-cti-') as path, \
            trytond_server(database, Path(path), ready) as url:
        yield url + EVENTS


def sign(secret, timestamp, body):
    from trytond.modules.elevator_rescue.call import sign
    return sign(secret, timestamp, body)


def send(url, body, client=CLIENT_ID, secret=SECRET, timestamp=None,
        signature=None):
    "POST a raw body signed as the call centre does: (status, JSON)."
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    status, _, answer = post(url, body, headers={
            'Content-Type': 'application/json',
            'X-CTI-Client': client,
            'X-CTI-Timestamp': str(timestamp),
            'X-CTI-Signature': signature or sign(secret, timestamp, body),
            'Accept-Language': 'en',
            })
    return status, answer


def read(database, func):
    with tryton_env.transaction(database) as pool:
        return func(pool)


def call_of(database, call_id):
    def get(pool):
        Call = pool.get('elevator.rescue.call')
        call, = Call.search([('call_id', '=', call_id)])
        return {
            'id': call.id, 'state': call.state,
            'elevator': call.elevator.id if call.elevator else None,
            'agent': call.agent.id if call.agent else None,
            'caller_number': call.caller_number,
            'duration': call.duration, 'recording': call.recording_url,
            'ticket': call.ticket.id if call.ticket else None,
            'warnings': call.warnings,
            }
    return read(database, get)


def notifications(database, user):
    def get(pool):
        Notification = pool.get('res.notification')
        return [(n.model, json.loads(n.records or '[]'), n.label)
            for n in Notification.search([('user', '=', user)],
                order=[('id', 'ASC')])]
    return read(database, get)


def test_call_pops_up_and_becomes_a_ticket(database, world, server):
    call_id = 'C-' + uuid.uuid4().hex[:8]
    status, body = send(server, {'event': 'ringing', 'call_id': call_id,
            'caller_number': CALLER, 'called_number': '96196',
            'ivr_digits': CODE_1})
    assert status == 202, body
    assert body['elevator'] == CODE_1 and body['warnings'] == []
    # The centre retries: nothing changes.
    status, body = send(server, {'event': 'ringing', 'call_id': call_id,
            'caller_number': CALLER, 'ivr_digits': CODE_1})
    assert status == 200 and body['duplicate'] is True

    before = len(notifications(database, world['dispatcher']))
    status, body = send(server, {'event': 'answered', 'call_id': call_id,
            'agent_extension': '8001'})
    assert status == 202 and body['state'] == 'answered', body
    call = call_of(database, call_id)
    assert call['agent'] == world['dispatcher']
    assert call['elevator'] == world['elevators'][0]
    popped = notifications(database, world['dispatcher'])[before:]
    assert [(m, r) for m, r, _ in popped] == [
        ('elevator.rescue.call', [call['id']])]
    assert CODE_1 in popped[0][2] and CALLER not in popped[0][2]
    # Only the dispatcher of the extension is disturbed.
    assert not [n for n in notifications(database, world['dispatcher2'])
        if n[1] == [call['id']]]

    def click(pool):
        Call = pool.get('elevator.rescue.call')
        action = Call.report_entrapment([Call(call['id'])])
        return action['res_model'], action['res_id']
    model, res_id = as_user(database, world['dispatcher'], click)
    assert model == 'elevator.rescue.ticket'

    def ticket_of(pool):
        Ticket = pool.get('elevator.rescue.ticket')
        ticket = Ticket(res_id[0])
        return (ticket.elevator.id, ticket.source, ticket.state,
            [(a.caller_phone, a.reference) for a in ticket.alarms])
    elevator, source, state, alarms = read(database, ticket_of)
    assert (elevator, source, state) == (
        world['elevators'][0], 'phone', 'new')
    assert alarms == [(CALLER, call_id)]
    assert call_of(database, call_id)['ticket'] == res_id[0]

    # A second caller about the same car joins the open ticket.
    other = 'C-' + uuid.uuid4().hex[:8]
    send(server, {'event': 'ringing', 'call_id': other,
            'caller_number': '13800000000', 'ivr_digits': CODE_1})
    send(server, {'event': 'answered', 'call_id': other,
            'agent_extension': '8002'})
    second = call_of(database, other)
    as_user(database, world['dispatcher2'], lambda pool: pool.get(
            'elevator.rescue.call').report_entrapment(
            [pool.get('elevator.rescue.call')(second['id'])]))

    assert call_of(database, other)['ticket'] == res_id[0]
    assert len(read(database, ticket_of)[3]) == 2

    status, body = send(server, {'event': 'ended', 'call_id': call_id,
            'duration': 95,
            'recording_url': 'https://cc.example.com/rec/1.mp3'})
    assert status == 202 and body['state'] == 'ended'
    call = call_of(database, call_id)
    assert (call['duration'], call['recording']) == (
        95, 'https://cc.example.com/rec/1.mp3')


def test_refusals(database, world, server):
    event = {'event': 'ringing', 'call_id': 'C-refused',
        'caller_number': CALLER, 'ivr_digits': CODE_2}
    body = json.dumps(event).encode()
    now = int(time.time())
    assert send(server, body, signature='sha256=' + '0' * 64)[0] == 401
    assert send(server, body, secret='not-the-secret')[1]['error'][
        'code'] == 'signature'
    # A captured request replayed after the window.
    status, answer = send(server, body, timestamp=now - 3600)
    assert (status, answer['error']['code']) == (401, 'timestamp')
    assert send(server, body, timestamp='yesterday',
        signature='sha256=' + '0' * 64)[0] == 401
    assert send(server, body, client='cti-unknown')[1]['error'][
        'code'] == 'client'
    status, answer = send(server, b'{"event": "ringing", ')
    assert (status, answer['error']['code']) == (400, 'not_json')
    for bad, field in [
            ({'event': 'hangup', 'call_id': 'C-x'}, 'event'),
            ({'event': 'ringing'}, 'call_id'),
            ({'event': 'answered', 'call_id': 'C-x'}, 'agent_extension'),
            ({'event': 'ended', 'call_id': 'C-x', 'duration': -5},
                'duration'),
            ({'event': 'ended', 'call_id': 'C-x',
                    'recording_url': 'javascript:alert(1)'},
                'recording_url'),
            ({'event': 'ringing', 'call_id': 'C-x', 'caller_number': 5},
                'caller_number'),
            ]:
        status, answer = send(server, bad)
        error = answer['error']
        assert (status, error['code'], error.get('field')) == (
            422, 'invalid', field), (bad, answer)
        assert error['message']
    assert not read(database, lambda pool: pool.get(
            'elevator.rescue.call').search([
                ('call_id', 'in', ['C-refused', 'C-x'])]))


def test_unknown_code_and_agent_still_reach_dispatch(database, world, server):
    call_id = 'C-' + uuid.uuid4().hex[:8]
    before = {u: len(notifications(database, world[u]))
        for u in ['dispatcher', 'dispatcher2']}
    status, body = send(server, {'event': 'ringing', 'call_id': call_id,
            'caller_number': CALLER, 'ivr_digits': '999999'})
    assert status == 202 and body['warnings'] == ['unknown_code']
    status, body = send(server, {'event': 'answered', 'call_id': call_id,
            'agent_extension': '8999'})
    assert status == 202 and body['warnings'] == ['unknown_agent']
    call = call_of(database, call_id)
    assert call['elevator'] is None and call['agent'] is None
    assert call['warnings'] == 'unknown_agent,unknown_code'
    for user in ['dispatcher', 'dispatcher2']:
        new = notifications(database, world[user])[before[user]:]
        assert [r for _, r, _ in new] == [[call['id']]]

    # The dispatcher asks the caller for the code and opens the ticket.
    def fill_and_click(pool):
        Call = pool.get('elevator.rescue.call')
        record = Call(call['id'])
        record.lookup = CODE_2
        record.on_change_lookup()
        record.save()
        Call.report_entrapment([record])
    as_user(database, world['dispatcher'], fill_and_click)
    call = call_of(database, call_id)
    assert call['elevator'] == world['elevators'][1] and call['ticket']


def test_caller_number_is_dispatch_only(database, world, server):
    from trytond.model.exceptions import AccessError
    call_id = 'C-' + uuid.uuid4().hex[:8]
    send(server, {'event': 'ringing', 'call_id': call_id,
            'caller_number': CALLER, 'ivr_digits': CODE_2})
    record = call_of(database, call_id)['id']

    def read_masked(pool):
        Call = pool.get('elevator.rescue.call')
        return Call.read([record], ['caller_number_masked'])[0][
            'caller_number_masked']
    assert as_user(database, world['dispatcher'], lambda pool: pool.get(
            'elevator.rescue.call').read([record], ['caller_number'])[0][
            'caller_number']) == CALLER

    # The firm's manager is not given the calls at all; the city
    # regulator reads them with the number masked.
    with pytest.raises(AccessError):
        as_user(database, world['firm_user'], read_masked)
    assert as_user(database, world['city_user'], read_masked) == (
        '139****5678')
    for attempt in [
            lambda Call: Call.read([record], ['caller_number']),
            lambda Call: Call.search([('caller_number', 'like', '139%')]),
            lambda Call: Call.search([], order=[('caller_number', 'ASC')]),
            lambda Call: Call.export_data([Call(record)],
                ['caller_number']),
            ]:
        with pytest.raises(AccessError):
            as_user(database, world['city_user'], lambda pool: attempt(
                    pool.get('elevator.rescue.call')))
