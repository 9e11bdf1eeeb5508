"""The public JSON API of elevator_public against a real trytond on
PostgreSQL: contract tests generated from its own OpenAPI description
(schemathesis + hypothesis: no 5xx and every answer as described, for any
input), privacy (no personal data in any public answer), rate limits and
HTML escaping.

A database with elevator_public and a little data is built once
(trytond-admin in a subprocess), then copied (CREATE DATABASE … TEMPLATE)
for each server so that the tests do not see each other's submissions.
The helpers are shared with tests/test_public_h5.py.

Needs TRYTOND_DATABASE_URI=postgresql://... (as set by scripts/run-tests.sh).
"""
import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

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

from elevator_platform import scratch_db

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = 'elevator-demo'
WAIT = 120
MODULES = ['elevator_public']
DATABASE_URI = os.environ.get('TRYTOND_DATABASE_URI', '')


# Personal data stored in the test database that no public answer may
# contain: the submitters' phones, a technician's name and mobile, the
# regulator's name and login.
SUBMITTER_PHONE = '13812345678'
PERSON_NAME = '张三丰'
PERSON_PHONE = '13900001111'
REGULATOR_NAME = '李四光'
REGULATOR_LOGIN = 'chengxiang_pub'
HOSTILE_REPLY = '<img src=x onerror=alert(1)>已处理'

# Run in a subprocess with the test's configuration (this process'
# trytond configuration is left alone).
SETUP_DATA = textwrap.dedent('''
    import datetime as dt, json, sys
    from trytond import config
    config.update_etc(sys.argv[1])
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    database, spec = sys.argv[2], json.loads(sys.argv[3])
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, context={'language': 'en'}) as tx:
        ModelData = pool.get('ir.model.data')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        Inspection = pool.get('elevator.inspection')
        Feedback = pool.get('elevator.public.feedback')
        User = pool.get('res.user')
        region = ModelData.get_id('elevator', 'region_350302')
        firm, estate, agency, person = Party.create([{
                'name': '莆田市安达电梯工程有限公司',
                'is_maintenance_unit': True,
                'public_phone': '0594-2345678',
                'contact_mechanisms': [('create', [{
                    'type': 'mobile', 'value': spec['person_phone']}])],
                }, {
                'name': '莆田市万达物业服务有限公司', 'is_user_unit': True,
                'is_property_company': True,
                }, {
                'name': '福建省特种设备检验研究院莆田分院',
                'is_inspection_agency': True,
                }, {
                'name': spec['person_name'],
                'contact_mechanisms': [('create', [{
                    'type': 'mobile', 'value': spec['person_phone']}])],
                }])
        place, = Place.create([{'name': '万达华府', 'region': region,
                'property_company': estate.id,
                'address': spec['person_name'] + '家楼下'}])
        elevators = Elevator.create([{
                'registration_code': f'31103503022016{n:06d}',
                'category': '3110', 'region': region, 'place': place.id,
                'place_category': 'residential', 'building': f'{n}号楼',
                'user_unit': estate.id, 'maintenance_unit': firm.id,
                'has_video': n == 1,
                } for n in range(1, 5)])
        Elevator.put_in_use(elevators[:3])
        today = dt.date.today()
        inspection, = Inspection.create([{
                'elevator': elevators[0].id, 'agency': agency.id,
                'date': today - dt.timedelta(days=100),
                'next_due_date': today + dt.timedelta(days=265),
                'conclusion': 'qualified', 'notes': spec['person_name']}])
        Inspection.sign_off([inspection])
        User.create([{
                'login': spec['login'], 'name': spec['regulator'],
                'password': spec['password'],
                'groups': [('add', [ModelData.get_id(
                    'elevator', 'group_district_regulator')])],
                'elevator_regions': [('add', [region])],
                }])
        done = Feedback.submit({'type': 'complaint',
                'elevator': elevators[0].id,
                'contact_phone': spec['submitter_phone'],
                'text': '电梯异响', 'channel': 'h5', 'client_key': 'setup'})
        Feedback.assign([done])
        Feedback.write([done], {'reply': spec['reply'],
                'notes': spec['person_name']})
        Feedback.reply_([done])
        tx.commit()
        result = {
            'elevators': [{'rescue_code': e.rescue_code,
                    'token': e.public_token, 'state': e.state}
                for e in Elevator.browse(elevators)],
            'feedback': done.number,
            }
    with open(sys.argv[4], 'w') as out:
        json.dump(result, out)
    ''')


def wait_for(predicate, what, timeout=WAIT, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _run(cmd, log, env):
    with open(log, 'ab') as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    if result.returncode:
        tail = Path(log).read_text(errors='replace')[-4000:]
        raise AssertionError(f"{cmd[0]} failed ({result.returncode}):\n{tail}")


def _env(workdir):
    passfile = workdir / 'admin-password'
    passfile.write_text(PASSWORD + '\n')
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
    env.pop('TRYTOND_CONFIG', None)
    return env


def _config(workdir, name, port=None, limits=None):
    conf = workdir / f'{name}.conf'
    text = f'[database]\nuri = {DATABASE_URI}\n'
    if port:
        text += f'[web]\nlisten = 127.0.0.1:{port}\n'
    if limits:
        text += '[elevator_public]\n' + ''.join(
            f'{k} = {v}\n' for k, v in limits.items())
    conf.write_text(text)
    return conf


_base = {}


def public_database():
    """Name and data of the template database with elevator_public and the
    test data, built once per process and dropped at exit."""
    if _base:
        return _base
    workdir = Path(tempfile.mkdtemp(prefix='elevator-public-'))
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_public_{uuid.uuid4().hex[:8]}'
    conf = _config(workdir, 'setup')
    env = _env(workdir)
    log = workdir / 'setup.log'
    scratch_db.admin_sql(
        f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    _base.update(name=name, workdir=workdir, copies=[])
    atexit.register(_drop_all)
    _run([str(BIN / 'trytond-admin'), '-c', str(conf), '-d', name,
            '-u', *MODULES, '--activate-dependencies', '-l', 'zh_CN',
            '--email', 'admin@example.com'], log, env)
    spec = {'person_name': PERSON_NAME, 'person_phone': PERSON_PHONE,
        'regulator': REGULATOR_NAME, 'login': REGULATOR_LOGIN,
        'password': PASSWORD, 'submitter_phone': SUBMITTER_PHONE,
        'reply': HOSTILE_REPLY}
    result = workdir / 'setup.json'
    _run([sys.executable, '-c', SETUP_DATA, str(conf), name,
            json.dumps(spec), str(result)], log, env)
    _base['data'] = json.loads(result.read_text())
    return _base


def _drop_all():
    for name in _base.get('copies', []) + [_base.get('name')]:
        if name:
            try:
                scratch_db.admin_sql(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:
                pass
    if not os.environ.get('ELEVATOR_KEEP_TEST_LOGS'):
        shutil.rmtree(_base.get('workdir', ''), ignore_errors=True)


def database_copy(suffix):
    "A fresh copy of the template database, dropped at exit."
    base = public_database()
    name = f"{base['name']}_{suffix}"[:63]
    scratch_db.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    scratch_db.admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{base["name"]}"')
    base['copies'].append(name)
    return name


class Server:
    "trytond serving a database on a free port of the loopback."

    def __init__(self, database, limits=None, name='server'):
        base = public_database()
        self.database = database
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.api = f'{self.url}/{database}/elevator/public/v1'
        self.h5 = f'{self.url}/{database}/elevator/h5'
        workdir = base['workdir']
        conf = _config(workdir, f'{name}-{self.port}', self.port, limits)
        self.log = workdir / f'{name}-{self.port}.log'
        env = _env(workdir)
        with open(self.log, 'ab') as out:
            self.process = subprocess.Popen(
                [str(BIN / 'trytond'), '-c', str(conf), '-d', database],
                stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                start_new_session=True)
        wait_for(self._ready, "trytond to answer", interval=0.3)

    def _ready(self):
        if self.process.poll() is not None:
            raise AssertionError("trytond exited:\n"
                + self.log.read_text(errors='replace')[-4000:])
        try:
            return requests.get(f'{self.api}/openapi.json',
                timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


# Limits high enough for the generated tests.
OPEN_LIMITS = {'read_per_minute': 100000, 'write_per_hour': 100000,
    'elevator_write_per_hour': 100000, 'follow_per_hour': 100000}


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
