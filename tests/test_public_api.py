"""The public JSON API of elevator_public against a real trytond on
PostgreSQL: contract tests generated from its own OpenAPI description
(schemathesis + hypothesis: no 5xx and every answer as described, for any
input), privacy (no personal data in any public answer), rate limits and
HTML escaping.

A database with elevator_public and a little data is built once
(trytond-admin in a subprocess), then copied (CREATE DATABASE … TEMPLATE)
for each server so that the tests do not see each other's submissions.
The database and the server are those of tests/support/public.py,
shared with tests/test_public_h5.py.

Needs TRYTOND_DATABASE_URI=postgresql://... (as set by scripts/run-tests.sh).
"""
import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.public import (
    OPEN_LIMITS,
    PERSON_NAME,
    PERSON_PHONE,
    REGULATOR_LOGIN,
    REGULATOR_NAME,
    SUBMITTER_PHONE,
    Server,
    database_copy,
    public_database,
)


@pytest.fixture(scope='module')
def server():
    database = database_copy('api')
    server = Server(database, OPEN_LIMITS, name='api')
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='module')
def data():
    return public_database()['data']


def _description(database='DB'):
    from trytond.modules.elevator_public.openapi import openapi
    return openapi(database)


# The description as the module builds it; test_openapi_is_served checks
# that the server serves this very document. (schemathesis' lazy loading
# from a fixture does not work with pytest 9.)
schema = schemathesis.openapi.from_dict(_description())


@schema.parametrize()
@schema.given(choice=st.data())
@settings(max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=list(HealthCheck))
def test_api_contract(case, choice, server, data):
    """Any input allowed by the description (and some it refuses) gets an
    answer that the description lists, never a server error. Codes of
    real elevators are mixed in so that the 2xx answers are tried too."""
    elevator = choice.draw(st.sampled_from(data['elevators']))
    code = choice.draw(st.sampled_from(
        [elevator['rescue_code'], elevator['token'], None]))
    if code and case.path_parameters and 'code' in case.path_parameters:
        case.path_parameters['code'] = code
    if code and isinstance(case.body, dict) and 'elevator' in case.body:
        case.body['elevator'] = code
    case.call_and_validate(base_url=server.api, timeout=30, checks=[
            not_a_server_error, status_code_conformance,
            content_type_conformance, response_schema_conformance])


def test_openapi_is_served(server):
    description = requests.get(f'{server.api}/openapi.json').json()
    assert description == _description(server.database)
    assert description['openapi'].startswith('3.')
    assert set(description['paths']) >= {
        '/elevators/{code}', '/elevators/{code}/maintenance', '/feedback',
        '/feedback/{number}', '/ratings', '/articles', '/units'}


def _all_public_answers(server, data):
    "Text of every public answer (API and H5) for the test data."
    texts = []

    def get(url, **kwargs):
        response = requests.get(url, timeout=30, **kwargs)
        assert response.status_code < 500, (url, response.text)
        texts.append(response.text)
        return response

    for elevator in data['elevators']:
        for code in [elevator['rescue_code'], elevator['token']]:
            for lang in ['zh_CN', 'en']:
                get(f'{server.api}/elevators/{code}', params={'lang': lang})
            get(f'{server.api}/elevators/{code}/maintenance')
            get(f'{server.h5}/e/{code}')
            get(f'{server.h5}/e/{code}/maintenance')
            get(f'{server.h5}/e/{code}/rate')
            for kind in ['complaint', 'fault', 'rescue', 'message']:
                get(f'{server.h5}/e/{code}/{kind}')
    number = data['feedback']
    get(f'{server.api}/feedback/{number}',
        params={'phone_last4': SUBMITTER_PHONE[-4:]})
    for path in ['articles', 'units']:
        get(f'{server.api}/{path}')
    for path in ['', 'articles', 'units', 'follow']:
        get(f'{server.h5}/{path}')
    response = requests.post(f'{server.h5}/follow', timeout=30, data={
            'number': number, 'phone_last4': SUBMITTER_PHONE[-4:]})
    texts.append(response.text)
    response = requests.post(f'{server.api}/feedback', timeout=30, json={
            'type': 'message', 'elevator': data['elevators'][1]['token'],
            'contact_phone': '13712345678', 'text': '感谢物业'})
    assert response.status_code == 201, response.text
    texts.append(response.text)
    response = requests.post(f'{server.api}/ratings', timeout=30, json={
            'elevator': data['elevators'][2]['rescue_code'],
            'score_maintenance': 4, 'score_user_unit': 5})
    texts.append(response.text)
    return texts


def test_privacy(server, data):
    "No personal data (names, phones of people) in any public answer."
    texts = _all_public_answers(server, data)
    joined = '\n'.join(texts)
    for secret in [SUBMITTER_PHONE, '13712345678', PERSON_NAME, PERSON_PHONE,
            REGULATOR_NAME, REGULATOR_LOGIN, 'setup', 'client_key',
            'contact_phone":']:
        assert secret not in joined, secret
    # What is published is there.
    assert '莆田市安达电梯工程有限公司' in joined
    assert '0594-2345678' in joined
    card = requests.get(
        f"{server.api}/elevators/{data['elevators'][0]['rescue_code']}").json()
    assert card['maintenance_unit'] == {
        'name': '莆田市安达电梯工程有限公司', 'public_phone': '0594-2345678'}
    assert card['inspection']['conclusion'] == 'qualified'
    assert card['video_monitoring'] is True and card['monitored'] is True
    assert card['hotline'] == '96196'
    suspended = requests.get(
        f"{server.api}/elevators/{data['elevators'][3]['token']}").json()
    assert suspended['safety_status'] == 'out_of_service'


def test_stored_text_is_escaped(server, data):
    "Hostile text comes back as text in JSON and escaped in HTML."
    hostile = '<script>alert("x")</script>门坏了'
    response = requests.post(f'{server.api}/feedback', json={
            'type': 'fault_report',
            'elevator': data['elevators'][0]['rescue_code'],
            'contact_phone': '0594-2233445', 'text': hostile})
    assert response.status_code == 201, response.text
    number = response.json()['number']
    followed = requests.get(f'{server.api}/feedback/{number}',
        params={'phone_last4': '3445'}).json()
    assert followed['state'] == 'received'
    page = requests.post(f'{server.h5}/follow', data={
            'number': data['feedback'], 'phone_last4': SUBMITTER_PHONE[-4:]})
    assert page.status_code == 200
    assert '&lt;img src=x onerror=alert(1)&gt;已处理' in page.text
    assert '<img' not in page.text
    assert "script-src" not in page.headers['Content-Security-Policy']
    assert "default-src 'none'" in page.headers['Content-Security-Policy']
    form = requests.post(
        f"{server.h5}/e/{data['elevators'][0]['rescue_code']}/complaint",
        data={'contact_phone': 'bad', 'text': hostile})
    assert form.status_code == 422
    assert '&lt;script&gt;' in form.text and '<script>' not in form.text


def test_bad_input_is_refused_clearly(server, data):
    code = data['elevators'][0]['rescue_code']
    cases = [
        (b'not json', 'application/json', 400, 'invalid_json'),
        (b'[]', 'application/json', 400, 'invalid_json'),
        (b'{"type": "complaint"}', 'application/json', 422, None),
        (json.dumps({'type': 'complaint', 'elevator': code,
                'contact_phone': '13812345678', 'text': 'x' * 1001}).encode(),
            'application/json', 422, 'too_long_field'),
        (b'{' + b' ' * (20 * 1024 * 1024) + b'}', 'application/json', 413,
            None),
        ]
    for body, content_type, status, error in cases:
        response = requests.post(f'{server.api}/feedback', data=body,
            headers={'Content-Type': content_type}, timeout=60)
        assert response.status_code == status, (body[:40], response.text)
        if error:
            assert response.json()['error']['code'] == error


@pytest.fixture
def limited_server():
    database = database_copy('limits')
    limits = {'read_per_minute': 5, 'write_per_hour': 4,
        'elevator_write_per_hour': 2, 'follow_per_hour': 3}
    servers = []

    def start():
        servers.append(Server(database, limits, name='limits'))
        return servers[-1]
    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def test_rate_limits(limited_server, data):
    """Per client address and per elevator; the submission limits hold
    across server processes (they are counted in the database too)."""
    server = limited_server()
    first, second, third = (e['rescue_code'] for e in data['elevators'][:3])
    # Reads: 5 a minute per address.
    statuses = [requests.get(f'{server.api}/elevators/{first}').status_code
        for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = requests.get(f'{server.api}/units')
    assert refused.status_code == 429
    assert int(refused.headers['Retry-After']) > 0
    assert refused.json()['error']['code'] == 'rate_limited'

    def submit(code):
        response = requests.post(f'{server.api}/feedback', json={
                'type': 'complaint', 'elevator': code,
                'contact_phone': '13812345678', 'text': '投诉'})
        return response.status_code
    # Two submissions an hour on an elevator, four per address.
    assert [submit(second), submit(second), submit(second)] == [201, 201, 429]
    assert [submit(third), submit(third)] == [201, 429]
    # Following: 3 tries an hour per address (the last four digits cannot
    # be guessed by trying them all).
    follows = [requests.get(f"{server.api}/feedback/{data['feedback']}",
            params={'phone_last4': f'{n:04d}'}).status_code for n in range(4)]
    assert follows == [404, 404, 404, 429]

    # A restarted server (fresh in-process counters) still refuses what the
    # database shows: 2 submissions about the elevator, then 4 from this
    # client within the hour.
    server.stop()
    server = limited_server()
    assert submit(second) == 429
    assert submit(first) == 201
    assert submit(third) == 429
    rate = {'elevator': first, 'score_maintenance': 5, 'score_user_unit': 5}
    assert requests.post(f'{server.api}/ratings', json=rate).status_code == 201
    assert requests.post(f'{server.api}/ratings', json=rate).status_code == 429


def test_photos(server, data):
    "A photo is accepted as base64, re-encoded, counted; junk is refused."
    import base64
    import io

    from PIL import Image
    image = io.BytesIO()
    Image.new('RGB', (640, 480), (180, 40, 40)).save(image, 'PNG')
    photo = base64.b64encode(image.getvalue()).decode()
    body = {'type': 'fault_report', 'elevator': data['elevators'][2]['token'],
        'contact_phone': '13512345678', 'text': '轿厢顶灯损坏'}
    response = requests.post(f'{server.api}/feedback',
        json={**body, 'photos': [photo]})
    assert response.status_code == 201, response.text
    assert response.json()['photo_count'] == 1
    junk = base64.b64encode(b'<svg onload=alert(1)>').decode()
    response = requests.post(f'{server.api}/feedback',
        json={**body, 'photos': [junk]})
    assert response.status_code == 422
    assert response.json()['error']['field'] == 'photos'
