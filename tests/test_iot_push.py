"""The manufacturers' HTTPS push API against a real trytond on PostgreSQL.

A fresh database gets `elevator_iot`; two vendors, their devices on three
elevators and a push client of the first vendor are created in-process;
a real trytond serves the database (subprocess, free port) and every check
is a real HTTP request: OAuth 2 client credentials, a push of each kind
with its effect read back from the database, idempotent fault replays, and
each refusal (wrong secret, expired or unknown token, another vendor's
elevator, unknown registration code, malformed JSON, invalid fields,
oversized bodies, rate limit) with its status, its JSON error in English
and Chinese, and the dead letter when the payload was at fault.
"""
import base64
import datetime as dt
import json
import re
import tempfile
from pathlib import Path

import pytest

from elevator_platform import scratch_db, tryton_env
from support.db import database_name
from support.http import post, trytond_server
from support.iot import create_iot_database
from support.sharing import share

API = '/elevator/api/v1'
DISTRICT = '350302'
SECRET = 'vendor-a-secret-2024'
CLIENT_ID = 'cl_test_vendor_a'
EXPIRED_TOKEN = 'expired-token-of-vendor-a'
# The token endpoint allows this many requests per minute and address in
# this test's server (the default is 30): the last test runs into it.
TOKEN_LIMIT = 15
# Elevators: E1 has two devices of vendor A (camera and terminal), E2 one
# of vendor B, E3 a retired one of vendor A.
E1, E2, E3 = (f'3110{DISTRICT}2019{n:06d}' for n in (101, 102, 103))
TERMINAL, CAMERA, OTHER, RETIRED = (
    'PT-CT-0001', 'PT-AI-0001', 'OTHER-0001', 'PT-CT-0099')


@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-push-') as path:
        yield Path(path)


@pytest.fixture(scope='module')
def database(workdir):
    name = database_name('push')
    create_iot_database(name, workdir)
    try:
        with tryton_env.transaction(name) as pool:
            create_data(pool)
        yield name
    finally:
        scratch_db.drop_database(name)


def create_data(pool):
    from trytond.transaction import Transaction
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Device = pool.get('elevator.iot.device')
    Client = pool.get('elevator.iot.client')
    Token = pool.get('elevator.iot.client.token')
    region = ModelData.get_id('elevator', f'region_{DISTRICT}')
    vendor_a, vendor_b = Party.create([
            {'name': '莆田物联科技有限公司'},
            {'name': '福建梯联网络有限公司'},
            ])
    place, = Place.create([{'name': '城厢推送测试小区',
                'category': 'residential', 'region': region}])
    e1, e2, e3 = Elevator.create([{
                'registration_code': code, 'category': '3110',
                'region': region, 'place': place.id,
                'place_category': 'residential',
                } for code in (E1, E2, E3)])
    Elevator.put_in_use([e1, e2, e3])
    camera, terminal, other, retired = Device.create([
            {'serial': CAMERA, 'type': 'ai_camera', 'elevator': e1.id,
                'vendor': vendor_a.id, 'video_retention_days': 30},
            {'serial': TERMINAL, 'type': 'controller_terminal',
                'elevator': e1.id, 'vendor': vendor_a.id},
            {'serial': OTHER, 'type': 'controller_terminal',
                'elevator': e2.id, 'vendor': vendor_b.id},
            {'serial': RETIRED, 'type': 'controller_terminal',
                'elevator': e3.id, 'vendor': vendor_a.id},
            ])
    Device.retire([retired])
    client, = Client.create([{'name': '莆田物联平台', 'vendor': vendor_a.id,
                'client_id': CLIENT_ID, 'secret': SECRET,
                'sharing': share(pool, vendor_a).id}])
    Token.create([{'client': client.id,
                'token_hash': Token._hash(EXPIRED_TOKEN),
                'expires_at': dt.datetime.now() - dt.timedelta(minutes=1)}])
    Transaction().commit()


@pytest.fixture(scope='module')
def server(database, workdir):
    "trytond serving the database on a free port: the API's URL."
    def ready(url):
        status, _, body = post(url + API + '/oauth/token', form={})
        return status == 400 and body.get('error') == 'invalid_request'
    with trytond_server(database, workdir, ready, config=f'''\
            [elevator_iot]
            token_per_minute = {TOKEN_LIMIT}
            ''') as url:
        yield url + API


def token(server, client_id=CLIENT_ID, secret=SECRET):
    status, _, body = post(server + '/oauth/token', form={
            'grant_type': 'client_credentials',
            'client_id': client_id, 'client_secret': secret})
    assert status == 200, body
    return body['access_token']


@pytest.fixture(scope='module')
def bearer(server):
    return {'Authorization': 'Bearer ' + token(server)}


def push(server, kind, code, payload, headers, query=''):
    return post(f'{server}/push/{kind}/{code}{query}', payload,
        headers=headers)


def now_local():
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(
        microsecond=0)


def read(database, model, domain, fields):
    with tryton_env.transaction(database, readonly=True) as pool:
        Model = pool.get(model)
        return Model.read([r.id for r in Model.search(domain)], fields)


def dead_letters(database):
    return read(database, 'elevator.iot.dead_letter', [],
        ['reason', 'source', 'device_serial', 'kind', 'size', 'topic'])


def assert_error(status, body, expected_status, code):
    assert status == expected_status, body
    error = body['error']
    assert error['code'] == code, body
    assert error['message'] and error['message_zh'], body
    # The Chinese message is Chinese.
    assert re.search(r'[\u4e00-\u9fff]', error['message_zh']), body


# --- OAuth 2 client credentials --------------------------------------------

def test_token_with_form_credentials(server):
    status, headers, body = post(server + '/oauth/token', form={
            'grant_type': 'client_credentials',
            'client_id': CLIENT_ID, 'client_secret': SECRET})
    assert status == 200, body
    assert body['token_type'] == 'Bearer'
    assert body['expires_in'] == 7200
    assert len(body['access_token']) >= 40
    assert headers['Cache-Control'] == 'no-store'
    assert headers['Pragma'] == 'no-cache'
    assert headers['Content-Type'].startswith('application/json')


def test_token_with_http_basic(server):
    credentials = base64.b64encode(
        f'{CLIENT_ID}:{SECRET}'.encode()).decode()
    status, _, body = post(server + '/oauth/token',
        form={'grant_type': 'client_credentials'},
        headers={'Authorization': 'Basic ' + credentials})
    assert status == 200, body
    assert body['token_type'] == 'Bearer'


def test_token_wrong_secret(server):
    status, headers, body = post(server + '/oauth/token', form={
            'grant_type': 'client_credentials',
            'client_id': CLIENT_ID, 'client_secret': 'wrong'})
    assert status == 401, body
    assert body['error'] == 'invalid_client'
    assert body['error_description'] == (
        'Unknown client or wrong client secret.')
    assert body['error_description_zh'] == '客户端不存在或客户端密钥错误。'
    credentials = base64.b64encode(f'{CLIENT_ID}:wrong'.encode()).decode()
    status, headers, body = post(server + '/oauth/token',
        form={'grant_type': 'client_credentials'},
        headers={'Authorization': 'Basic ' + credentials})
    assert status == 401 and body['error'] == 'invalid_client'
    assert headers['WWW-Authenticate'].startswith('Basic')
    status, _, body = post(server + '/oauth/token', form={
            'grant_type': 'client_credentials',
            'client_id': 'cl_nobody', 'client_secret': SECRET})
    assert status == 401 and body['error'] == 'invalid_client'


def test_token_malformed_requests(server):
    status, _, body = post(server + '/oauth/token', form={
            'grant_type': 'password', 'client_id': CLIENT_ID,
            'client_secret': SECRET})
    assert (status, body['error']) == (400, 'unsupported_grant_type')
    status, _, body = post(server + '/oauth/token', form={
            'client_id': CLIENT_ID, 'client_secret': SECRET})
    assert (status, body['error']) == (400, 'invalid_request')
    credentials = base64.b64encode(
        f'{CLIENT_ID}:{SECRET}'.encode()).decode()
    status, _, body = post(server + '/oauth/token', form={
            'grant_type': 'client_credentials', 'client_id': CLIENT_ID,
            'client_secret': SECRET},
        headers={'Authorization': 'Basic ' + credentials})
    assert (status, body['error']) == (400, 'invalid_request')
    status, _, body = post(server + '/oauth/token', form={
            'grant_type': 'client_credentials'})
    assert (status, body['error']) == (401, 'invalid_client')


# --- pushes and their effect ---------------------------------------------

def test_push_running(server, database, bearer):
    collected = now_local()
    status, _, body = push(server, 'running', E1, {
            'collectTime': collected.isoformat(), 'serviceMode': 1,
            'carDirection': 1, 'carStatus': 1, 'doorZone': 0,
            'carPosition': 7, 'passengerStatus': 1, 'speed': 1.75,
            'doorStatus': 2}, bearer)
    assert status == 202, body
    # Two devices of the vendor on E1: the controller terminal speaks.
    assert body == {'accepted': True, 'kind': 'running',
        'registrationCode': E1, 'device': TERMINAL,
        'receivedAt': body['receivedAt']}
    live, = read(database, 'elevator.iot.status',
        [('elevator.registration_code', '=', E1)],
        ['car_position', 'speed', 'car_direction', 'online', 'device',
            'collect_time'])
    assert live['car_position'] == 7
    assert live['speed'] == 1.75
    assert live['car_direction'] == '1'
    assert live['online'] is True
    assert live['collect_time'] == collected.astimezone(
        dt.timezone.utc).replace(tzinfo=None)
    device, = read(database, 'elevator.iot.device',
        [('serial', '=', TERMINAL)], ['state', 'last_seen', 'id'])
    assert live['device'] == device['id']
    assert device['state'] == 'online' and device['last_seen']

    # An older reading arriving late changes nothing.
    status, _, _ = push(server, 'running', E1, {
            'collectTime': (collected - dt.timedelta(minutes=5)).isoformat(),
            'carPosition': 2}, bearer)
    assert status == 202
    live, = read(database, 'elevator.iot.status',
        [('elevator.registration_code', '=', E1)], ['car_position'])
    assert live['car_position'] == 7


def test_push_named_device(server, database, bearer):
    status, _, body = push(server, 'running', E1, {
            'collectTime': now_local().isoformat(), 'carPosition': 3},
        bearer, query=f'?device={CAMERA}')
    assert status == 202, body
    assert body['device'] == CAMERA
    camera, = read(database, 'elevator.iot.device',
        [('serial', '=', CAMERA)], ['state'])
    assert camera['state'] == 'online'


def test_push_periodic(server, database, bearer):
    morning = (now_local() - dt.timedelta(days=1)).replace(
        hour=8, minute=0, second=0)
    for hours, runs in [(0, 120000), (2, 120150)]:
        status, _, body = push(server, 'periodic', E1, {
                'collectTime': (morning + dt.timedelta(hours=hours)
                    ).isoformat(),
                'totalRunCount': runs, 'totalRunningTime': 3500.5 + hours,
                'doorOpenCount': 240000 + runs // 2,
                'totalRunMileage': 5.2e6 + runs, 'ropeBendCount': 900000},
            bearer)
        assert status == 202, body
    daily, = read(database, 'elevator.iot.daily',
        [('elevator.registration_code', '=', E1)],
        ['date', 'runs', 'running_hours', 'rope_bend_last'])
    assert daily['date'] == morning.date()
    assert daily['runs'] == 150
    assert daily['running_hours'] == 2
    assert daily['rope_bend_last'] == 900000


def test_push_fault_is_idempotent(server, database, bearer):
    fault = {'faultId': 'F-20240601-0001', 'faultNo': 7, 'recovery': 0,
        'occurTime': now_local().isoformat(), 'carPosition': 5,
        'imageUrl': 'https://img.example.com/f1.jpg'}
    status, _, body = push(server, 'fault', E1, fault, bearer)
    assert status == 202, body
    assert body['duplicate'] is False
    status, _, body = push(server, 'fault', E1, fault, bearer)
    assert status == 202, body
    assert body['duplicate'] is True
    event, = read(database, 'elevator.iot.event',
        [('elevator.registration_code', '=', E1)],
        ['fault_id', 'state', 'source', 'follow_up', 'reaction',
            'car_position', 'image_url'])
    assert event['fault_id'] == 'F-20240601-0001'
    assert event['source'] == 'http'
    assert event['state'] == 'open'
    # Passengers trapped: a rescue ticket (waiting for the rescue module).
    assert event['reaction'] == 'rescue'
    assert event['follow_up'] == 'rescue_waiting'
    assert event['car_position'] == 5

    status, _, body = push(server, 'fault', E1, {**fault, 'recovery': 1,
            'occurTime': (now_local() + dt.timedelta(seconds=1)
                ).isoformat()}, bearer)
    assert status == 202 and body['duplicate'] is False, body
    event, = read(database, 'elevator.iot.event',
        [('elevator.registration_code', '=', E1)], ['state', 'cleared_at'])
    assert event['state'] == 'cleared' and event['cleared_at']


def test_push_status(server, database, bearer):
    status, _, body = push(server, 'status', E1, {
            'online': False, 'ts': now_local().isoformat()}, bearer)
    assert status == 202, body
    live, = read(database, 'elevator.iot.status',
        [('elevator.registration_code', '=', E1)], ['online'])
    assert live['online'] is False
    device, = read(database, 'elevator.iot.device',
        [('serial', '=', TERMINAL)], ['state'])
    assert device['state'] == 'offline'


# --- refusals --------------------------------------------------------------

RUNNING = {'collectTime': '2024-06-01T08:00:00+08:00', 'carPosition': 1}


def test_push_without_token(server):
    status, headers, body = push(server, 'running', E1, RUNNING, {})
    assert_error(status, body, 401, 'missing_token')
    assert headers['WWW-Authenticate'] == 'Bearer realm="elevator"'
    status, _, body = push(server, 'running', E1, RUNNING,
        {'Authorization': 'Basic ' + base64.b64encode(
                f'{CLIENT_ID}:{SECRET}'.encode()).decode()})
    assert_error(status, body, 401, 'missing_token')


def test_push_unknown_and_expired_token(server):
    for value in ['not-a-token', EXPIRED_TOKEN]:
        status, headers, body = push(server, 'running', E1, RUNNING,
            {'Authorization': 'Bearer ' + value})
        assert_error(status, body, 401, 'invalid_token')
        assert 'error="invalid_token"' in headers['WWW-Authenticate']


def test_push_other_vendors_elevator(server, database, bearer):
    before = len(dead_letters(database))
    status, _, body = push(server, 'running', E2, RUNNING, bearer)
    assert_error(status, body, 403, 'forbidden_elevator')
    assert E2 in body['error']['message']
    # Only a retired device of the vendor: no right either.
    status, _, body = push(server, 'running', E3, RUNNING, bearer)
    assert_error(status, body, 403, 'forbidden_elevator')
    # Another vendor's device named on the vendor's own elevator.
    status, _, body = push(server, 'running', E1, RUNNING, bearer,
        query=f'?device={OTHER}')
    assert_error(status, body, 403, 'forbidden_device')
    other, = read(database, 'elevator.iot.device', [('serial', '=', OTHER)],
        ['state', 'last_seen'])
    assert other == {'id': other['id'], 'state': 'registered',
        'last_seen': None}
    assert len(dead_letters(database)) == before


def test_push_unknown_elevator_and_kind(server, bearer):
    status, _, body = push(server, 'running', f'3110{DISTRICT}2019999999',
        RUNNING, bearer)
    assert_error(status, body, 404, 'unknown_elevator')
    assert body['error']['message'] == (
        f'No elevator has the registration code "3110{DISTRICT}2019999999".')
    assert body['error']['message_zh'] == (
        f'没有注册代码为“3110{DISTRICT}2019999999”的电梯。')
    status, _, body = push(server, 'alarm', E1, RUNNING, bearer)
    assert_error(status, body, 404, 'unknown_kind')


def test_push_malformed_json(server, database, bearer):
    status, _, body = push(server, 'running', E1, b'{"collectTime": ',
        {**bearer, 'Content-Type': 'application/json'})
    assert_error(status, body, 400, 'not_json')
    status, _, body = push(server, 'fault', E1, b'[1, 2]', bearer)
    assert_error(status, body, 400, 'not_json')
    letters = [d for d in dead_letters(database) if d['reason'] == 'not_json']
    assert len(letters) == 2
    assert {(d['source'], d['device_serial']) for d in letters} == {
        ('http', TERMINAL)}
    assert {d['kind'] for d in letters} == {'running', 'fault'}


def test_push_invalid_fields(server, database, bearer):
    cases = [
        ('running', {'collectTime': '2024-06-01T08:00:00+08:00',
                'carPosition': 'third'}, 'invalid', 'carPosition'),
        ('running', {'carPosition': 3}, 'invalid', 'collectTime'),
        ('fault', {'faultId': 'F-X', 'faultNo': 9999,
                'occurTime': '2024-06-01T08:00:00+08:00'}, 'unknown_fault',
            'faultNo'),
        ('fault', {'faultNo': 7, 'occurTime': '2024-06-01T08:00:00+08:00'},
            'invalid', 'faultId'),
        ('status', {'online': 'yes'}, 'invalid', 'online'),
        ('periodic', {'collectTime': (now_local() + dt.timedelta(days=2)
                    ).isoformat(), 'totalRunCount': 5}, 'future', ''),
        ]
    for kind, payload, reason, field in cases:
        status, _, body = push(server, kind, E1, payload, bearer)
        assert_error(status, body, 422, reason)
        assert field in body['error']['detail']
    reasons = [d['reason'] for d in dead_letters(database)
        if d['reason'] != 'not_json']
    assert sorted(reasons) == sorted(r for _, _, r, _ in cases)


def test_push_oversized_body(server, database, bearer):
    before = len(dead_letters(database))
    big = json.dumps({'collectTime': '2024-06-01T08:00:00+08:00',
            'padding': 'x' * 70000}).encode()
    status, _, body = push(server, 'running', E1, big,
        {**bearer, 'Content-Type': 'application/json'})
    assert_error(status, body, 413, 'too_large')
    letters = dead_letters(database)
    assert len(letters) == before + 1
    letter, = [d for d in letters if d['reason'] == 'too_large']
    assert letter['size'] == len(big)
    assert letter['device_serial'] == TERMINAL
    # Beyond the hard limit the body is not even read, nor kept.
    huge = b'{"x": "' + b'y' * (2 * 1024 * 1024) + b'"}'
    status, _, body = push(server, 'running', E1, huge,
        {**bearer, 'Content-Type': 'application/json'})
    assert_error(status, body, 413, 'too_large')
    assert len(dead_letters(database)) == before + 1


def test_token_rate_limit(server):
    "Last: uses up the token requests of this address for the minute."
    statuses = []
    # The window is fixed and starts at this address' first token request
    # (earlier tests made some): it may end once during the loop on a slow
    # machine, so twice the limit, plus one, must meet the refusal.
    for _ in range(2 * TOKEN_LIMIT + 1):
        status, headers, body = post(server + '/oauth/token', form={
                'grant_type': 'client_credentials',
                'client_id': CLIENT_ID, 'client_secret': 'guess'})
        statuses.append(status)
        if status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) <= {401}
    assert int(headers['Retry-After']) >= 1
    assert body['error'] == 'rate_limited'


def test_push_old_fault_refused(server, database, bearer):
    """A fault dated further back than the Fault Age Limit (default 7
    days) is refused like a future one: 422 naming occurTime, and a dead
    letter; one within the window is accepted. (Last: it adds an event.)"""
    before = len(dead_letters(database))
    for days in (8, 3 * 365):
        status, _, body = push(server, 'fault', E1, {
                'faultId': f'F-OLD-{days}', 'faultNo': 7, 'recovery': 0,
                'occurTime': (now_local() - dt.timedelta(days=days)
                    ).isoformat()}, bearer)
        assert_error(status, body, 422, 'too_old')
        assert 'occurTime' in body['error']['detail'], body
        assert '7 days' in body['error']['detail'], body
    letters = dead_letters(database)
    assert len(letters) == before + 2
    assert [(d['source'], d['kind']) for d in letters
        if d['reason'] == 'too_old'] == [('http', 'fault')] * 2
    events = read(database, 'elevator.iot.event',
        [('fault_id', 'like', 'F-OLD-%')], ['fault_id'])
    assert events == []

    status, _, body = push(server, 'fault', E1, {
            'faultId': 'F-RECENT-6', 'faultNo': 7, 'recovery': 0,
            'occurTime': (now_local() - dt.timedelta(days=6)).isoformat()},
        bearer)
    assert status == 202, body
    assert len(dead_letters(database)) == before + 2
