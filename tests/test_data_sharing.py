"""The data-sharing register (elevator.data.sharing, issue 12) against a
real trytond on PostgreSQL, tried through its JSON-RPC and its HTTP
routes by real users of each role.

- Two-person approval: a city regulator writes and submits a record, gives
  the first approval (stamped, the record stays submitted), is refused a
  second one, and another city regulator approves it (stamped); a district
  regulator and a firm manager may neither create nor approve; nobody
  writes the state by hand; the auditor reads the register and changes
  nothing; the other roles do not read it.
- The clients of other parties work only under a valid approval: a push
  client of a manufacturer's platform (`elevator.iot.client`) gets a token
  and pushes, the call centre's client (`elevator.rescue.cti.client`)
  posts events; once the expiry date has passed, the cron marks the
  record expired and both are refused with 403 and a translated JSON
  error (a push client without any record, or with one that does not
  cover IoT data, too).
- Exports of personal data above the configured number of rows need an
  approved record whose recipient is a unit of the exporting user: the
  firm manager's export of his technicians' phones is refused over the
  limit, allowed up to it, allowed without personal fields, and allowed
  over it once the firm is the recipient of an approved record; the
  dispatcher's export of the 96196 calls likewise.
"""
import base64
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from elevator_platform import scratch_db, tryton_env
from support.db import database_name
from support.process import free_port, stop, wait_for
from support.sharing import share

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DISTRICT = '350302'
PASSWORD = 'sharing-test-pw-1'
MODULES = ('elevator_rescue', 'elevator_maintenance', 'elevator_iot')
PUSH_ID, PUSH_SECRET = 'cl_sharing_push', 'sharing-push-secret-0001'
BARE_ID, BARE_SECRET = 'cl_sharing_bare', 'sharing-bare-secret-0001'
# Linked to an approval that does not cover IoT data.
OFF_ID, OFF_SECRET = 'cl_sharing_off', 'sharing-off-secret-0001'
CTI_ID, CTI_SECRET = 'cti-sharing', 'sharing-cti-secret-0001'
SERIAL = 'SH-CT-0001'
CODE = f'3110{DISTRICT}2023000001'
RESCUE_CODE = '350377'
LIMIT = 3
TECHNICIANS = 5
CALLS = 5


@pytest.fixture(scope='module')
def database():
    name = database_name('sharing')
    scratch_db.create_database(name, modules=MODULES)
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
        Device = pool.get('elevator.iot.device')
        User = pool.get('res.user')
        Technician = pool.get('elevator.maintenance.technician')
        IotClient = pool.get('elevator.iot.client')
        CTIClient = pool.get('elevator.rescue.cti.client')
        Lang = pool.get('ir.lang')
        region = ModelData.get_id('elevator', f'region_{DISTRICT}')
        zh, = Lang.search([('code', '=', 'zh_CN')])

        def group(name):
            return [('add', [ModelData.get_id('elevator', name)])]
        vendor, firm, centre = Party.create([
                {'name': '共享测试物联科技'},
                {'name': '共享测试维保', 'is_maintenance_unit': True},
                {'name': '共享测试呼叫中心'},
                ])
        users = dict(zip(
                ['city1', 'city2', 'district', 'firm', 'dispatcher',
                    'auditor'],
                User.create([
                        {'login': 'sharing_city1', 'name': '市局一',
                            'password': PASSWORD, 'language': zh.id,
                            'groups': group('group_city_regulator')},
                        {'login': 'sharing_city2', 'name': '市局二',
                            'password': PASSWORD, 'language': zh.id,
                            'groups': group('group_city_regulator')},
                        {'login': 'sharing_district', 'name': '区局',
                            'password': PASSWORD, 'language': zh.id,
                            'groups': group('group_district_regulator'),
                            'elevator_regions': [('add', [region])]},
                        {'login': 'sharing_firm', 'name': '维保经理',
                            'password': PASSWORD, 'language': zh.id,
                            'groups': group('group_firm_manager'),
                            'elevator_units': [('add', [firm.id])]},
                        {'login': 'sharing_dispatcher', 'name': '调度',
                            'password': PASSWORD, 'language': zh.id,
                            'groups': group('group_dispatcher'),
                            'elevator_units': [('add', [centre.id])]},
                        {'login': 'sharing_auditor', 'name': '审计',
                            'password': PASSWORD, 'language': zh.id,
                            'groups': group('group_auditor')},
                        ])))
        place, = Place.create([{'name': '共享测试小区', 'region': region}])
        elevator, = Elevator.create([{
                    'registration_code': CODE, 'rescue_code': RESCUE_CODE,
                    'category': '3110', 'region': region,
                    'place': place.id, 'maintenance_unit': firm.id}])
        Elevator.put_in_use([elevator])
        Device.create([{'serial': SERIAL, 'type': 'controller_terminal',
                    'elevator': elevator.id, 'vendor': vendor.id}])
        Technician.create([{
                    'name': f'技术员{n}', 'firm': firm.id,
                    'phone': f'1390000000{n}',
                    'certificate_number': f'T-{n:04d}',
                    } for n in range(TECHNICIANS)])
        # The approval of the clients: the test ends it.
        sharing = share(pool, vendor, ['iot', 'rescue', 'personal'],
            name='clients', days=30)
        IotClient.create([
                {'name': '共享测试推送平台', 'vendor': vendor.id,
                    'client_id': PUSH_ID, 'secret': PUSH_SECRET,
                    'sharing': sharing.id},
                {'name': '未登记的推送平台', 'vendor': vendor.id,
                    'client_id': BARE_ID, 'secret': BARE_SECRET},
                {'name': '登记范围外的推送平台', 'vendor': vendor.id,
                    'client_id': OFF_ID, 'secret': OFF_SECRET,
                    'sharing': share(pool, vendor, ['maintenance'],
                        name='no iot').id},
                ])
        CTIClient.create([{'name': '共享测试呼叫中心', 'client_id': CTI_ID,
                    'secret': CTI_SECRET, 'sharing': sharing.id}])
        result = {'users': {k: u.id for k, u in users.items()},
            'firm': firm.id, 'centre': centre.id, 'vendor': vendor.id,
            'sharing': sharing.id}
    from trytond.transaction import Transaction
    with Transaction().start(database, 0,
            _lock_tables=['elevator_configuration']) as transaction:
        Configuration = pool.get('elevator.configuration')
        config = Configuration(1)
        config.sharing_export_limit = LIMIT
        config.save()
        transaction.commit()
    return result


@pytest.fixture(scope='module')
def server(database, world):
    with tempfile.TemporaryDirectory(prefix='elevator-sharing-') as path:
        workdir = Path(path)
        port = free_port()
        conf = workdir / 'trytond.conf'
        conf.write_text(textwrap.dedent(f'''\
            [database]
            uri = {scratch_db.database_uri()}
            list = False
            [web]
            listen = 127.0.0.1:{port}
            '''))
        log = workdir / 'trytond.log'
        env = {**os.environ}
        env.pop('TRYTOND_CONFIG', None)
        with open(log, 'ab') as out:
            process = subprocess.Popen(
                [str(BIN / 'trytond'), '-c', str(conf), '-d', database],
                stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                start_new_session=True)
        base = f'http://127.0.0.1:{port}/{database}'

        def ready():
            if process.poll() is not None:
                raise AssertionError("trytond exited:\n"
                    + log.read_text(errors='replace')[-4000:])
            try:
                status, _ = post(base + '/elevator/api/v1/oauth/token',
                    form={})
            except OSError:
                return False
            return status == 400
        try:
            wait_for(ready, "trytond to answer", interval=0.5)
            yield base
        except BaseException:
            print(log.read_text(errors='replace')[-6000:])
            raise
        finally:
            stop(process)


def post(url, body=None, form=None, headers=None):
    "POST; return (status, JSON body)."
    headers = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault('Content-Type', 'application/json')
    request = urllib.request.Request(url, data=body, headers=headers,
        method='POST')
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw)


class RPCError(Exception):
    pass


class RPC:
    "JSON-RPC of the web client, logged in as a user."

    def __init__(self, base, login):
        self.url = base + '/rpc/'
        self.headers = {}
        user_id, key = self.call('common.db.login',
            [f'sharing_{login}', {'password': PASSWORD}, 'zh_CN'])[:2]
        token = base64.b64encode(f'sharing_{login}:{user_id}:{key}'.encode())
        self.headers = {'Authorization': 'Session ' + token.decode()}

    def call(self, method, params):
        status, body = post(self.url, {'id': 1, 'method': method,
                'params': params}, headers=self.headers)
        assert status == 200, body
        if body.get('error'):
            raise RPCError(body['error'])
        return body['result']

    def __call__(self, method, *args):
        # The user's language, as the web client sends it.
        return self.call(method, [*args, {'language': 'zh_CN'}])


def refused(func, *texts):
    """The RPC error of func(), which must fail with a user's error (access
    errors travel as UserError) whose message has one of texts."""
    with pytest.raises(RPCError) as info:
        func()
    error = info.value.args[0]
    assert error[0] == 'UserError', error
    if texts:
        assert any(t in error[1][0] for t in texts), error
    return error


ACCESS = ('Data Sharing', '数据共享')


SHARING = 'model.elevator.data.sharing.'
FIELDS = ['state', 'first_approver', 'first_approved_at', 'second_approver',
    'second_approved_at', 'submitted_by']


def new_record(rpc, world, recipient, name, categories=('personal',)):
    today = dt.date.today()
    record_id, = rpc(SHARING + 'create', [{
                'name': name,
                'requester': recipient,
                'recipient': recipient,
                'purpose': '测试：批量导出',
                'data_categories': list(categories),
                'legal_basis': 'public_authority',
                'start_date': {'__class__': 'date', 'year': today.year,
                    'month': today.month, 'day': today.day},
                'expiry_date': {'__class__': 'date', 'year': today.year + 1,
                    'month': today.month, 'day': min(today.day, 28)},
                }])
    return record_id


def test_two_person_approval(server, world):
    """Draft → submitted → first approval (stamped) → the same person is
    refused → another city regulator approves (stamped); other roles may
    neither create nor approve, and nobody writes the state by hand."""
    users = world['users']
    city1, city2 = RPC(server, 'city1'), RPC(server, 'city2')
    district, firm = RPC(server, 'district'), RPC(server, 'firm')

    # Other roles cannot even write a record.
    for rpc in (district, firm):
        refused(lambda: new_record(rpc, world, world['firm'], 'refused'),
            *ACCESS)

    record = new_record(city1, world, world['firm'], 'two persons')
    # The state is the buttons' only.
    refused(lambda: city1(SHARING + 'write', [record],
            {'state': 'approved'}), '只能通过其按钮变更')
    # A draft cannot be approved: it must be submitted first.
    refused(lambda: city1(SHARING + 'approve', [record]), 'approve')
    row, = city1(SHARING + 'read', [record], FIELDS)
    assert (row['state'], row['first_approver']) == ('draft', None)

    city1(SHARING + 'submit', [record])
    for rpc in (district, firm):
        refused(lambda: rpc(SHARING + 'approve', [record]), *ACCESS)

    city1(SHARING + 'approve', [record])
    row, = city1(SHARING + 'read', [record], FIELDS)
    assert row['state'] == 'submitted'
    assert row['first_approver'] == users['city1']
    assert row['submitted_by'] == users['city1']
    assert row['first_approved_at'] and not row['second_approver']

    refused(lambda: city1(SHARING + 'approve', [record]),
        '另一名市级监管人员')
    row, = city2(SHARING + 'read', [record], FIELDS)
    assert row['state'] == 'submitted'

    city2(SHARING + 'approve', [record])
    row, = city1(SHARING + 'read', [record], FIELDS)
    assert row['state'] == 'approved'
    assert (row['first_approver'], row['second_approver']) == (
        users['city1'], users['city2'])
    assert row['second_approved_at'] and row['first_approved_at']

    # Approved data are frozen; revoking is a button.
    refused(lambda: city1(SHARING + 'write', [record],
            {'recipient': world['centre']}), '已提交')
    refused(lambda: city1(SHARING + 'delete', [record]), '登记簿')
    city2(SHARING + 'revoke', [record])
    row, = city1(SHARING + 'read', [record], FIELDS)
    assert row['state'] == 'revoked'

    # The auditor reads the register (dotted names, order), changes
    # nothing; the other roles do not even read it.
    auditor = RPC(server, 'auditor')
    found = auditor(SHARING + 'search',
        [('first_approver.login', '=', 'sharing_city1')], 0, None,
        [('second_approver.name', 'ASC')])
    assert record in found
    assert len(auditor(SHARING + 'export_data', [record],
                ['name', 'first_approver/login', 'state'])) == 1
    refused(lambda: auditor(SHARING + 'write', [record], {'name': 'x'}),
        *ACCESS)
    refused(lambda: auditor(SHARING + 'revoke', [record]))
    for login in ('district', 'firm', 'dispatcher'):
        rpc = RPC(server, login)
        refused(lambda: rpc(SHARING + 'search', [], 0, None, None),
            *ACCESS)
        refused(lambda: rpc(SHARING + 'read', [record], ['name']), *ACCESS)


def token(server, client_id, secret):
    return post(server + '/elevator/api/v1/oauth/token', form={
            'grant_type': 'client_credentials',
            'client_id': client_id, 'client_secret': secret})


def push(server, bearer):
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(
        microsecond=0)
    return post(f'{server}/elevator/api/v1/push/running/{CODE}',
        {'collectTime': now.isoformat(), 'carPosition': 2},
        headers={'Authorization': 'Bearer ' + bearer})


def cti(server, call_id):
    from trytond.modules.elevator_rescue.call import sign
    body = json.dumps({'event': 'ringing', 'call_id': call_id,
            'caller_number': '13912340000', 'called_number': '96196',
            'ivr_digits': RESCUE_CODE}).encode()
    stamp = int(time.time())
    return post(server + '/elevator/api/v1/cti/events', body, headers={
            'Content-Type': 'application/json',
            'X-CTI-Client': CTI_ID, 'X-CTI-Timestamp': str(stamp),
            'X-CTI-Signature': sign(CTI_SECRET, stamp, body),
            'Accept-Language': 'zh-CN'})


def test_clients_need_valid_sharing(server, database, world):
    """Push and call-centre clients work under a valid approval; the
    cron marks it expired once past its date and both are refused with
    403 and a translated JSON error."""
    # A push client without a record, or with one that does not cover
    # IoT data, gets no token.
    for client_id, secret in [(BARE_ID, BARE_SECRET), (OFF_ID, OFF_SECRET)]:
        status, body = token(server, client_id, secret)
        assert status == 403, body
        assert body['error'] == 'unauthorized_client'
        assert client_id in body['error_description']
        assert '数据共享' in body['error_description_zh']

    status, body = token(server, PUSH_ID, PUSH_SECRET)
    assert status == 200, body
    bearer = body['access_token']
    status, body = push(server, bearer)
    assert status == 202, body
    for n in range(CALLS):
        status, body = cti(server, f'SHARING-{n}')
        assert status == 202, body

    # Past its expiry date: the cron marks it expired.
    with tryton_env.transaction(database) as pool:
        Sharing = pool.get('elevator.data.sharing')
        record = Sharing(world['sharing'])
        assert record.state == 'approved'
        yesterday = dt.date.today() - dt.timedelta(days=1)
        Sharing.write([record], {
                'start_date': yesterday - dt.timedelta(days=30),
                'expiry_date': yesterday})
    with tryton_env.transaction(database) as pool:
        Cron = pool.get('ir.cron')
        ModelData = pool.get('ir.model.data')
        cron = Cron(ModelData.get_id('elevator', 'cron_expire_data_sharing'))
        Cron.run_once([cron])
    with tryton_env.transaction(database, readonly=True) as pool:
        record = pool.get('elevator.data.sharing')(world['sharing'])
        assert record.state == 'expired'
        assert record.ended_at

    status, body = token(server, PUSH_ID, PUSH_SECRET)
    assert status == 403, body
    assert body['error'] == 'unauthorized_client'
    assert '数据共享' in body['error_description_zh']
    # A token issued before is refused too.
    status, body = push(server, bearer)
    assert status == 403, body
    assert body['error']['code'] == 'sharing_invalid'
    assert 'data-sharing' in body['error']['message']
    status, body = cti(server, 'SHARING-late')
    assert status == 403, body
    assert body['error']['code'] == 'sharing'
    assert '数据共享' in body['error']['message']


def test_large_export(server, database, world):
    """Exports of personal data over the limit need an approved record
    whose recipient is a unit of the exporting user."""
    firm = RPC(server, 'firm')
    technicians = firm('model.elevator.maintenance.technician.search', [],
        0, None, None)
    assert len(technicians) == TECHNICIANS > LIMIT
    export = 'model.elevator.maintenance.technician.export_data'

    error = refused(lambda: firm(export, technicians, ['name', 'phone']),
        '数据共享')
    assert str(LIMIT) in error[1][0], error
    # Up to the limit, or without personal data, the export is free.
    rows = firm(export, technicians[:LIMIT], ['name', 'phone'])
    assert len(rows) == LIMIT and all(r[1] for r in rows)
    assert len(firm(export, technicians, ['name'])) == TECHNICIANS
    # The export of a whole search (export_data_domain) as well.
    refused(lambda: firm(
            'model.elevator.maintenance.technician.export_data_domain',
            [], ['certificate_number'], 0, None, None), '数据共享')

    # The dispatcher's calls: refused until the call centre he acts for
    # is the recipient of an approval.
    dispatcher = RPC(server, 'dispatcher')
    calls = dispatcher('model.elevator.rescue.call.search', [], 0, None,
        None)
    assert len(calls) > LIMIT
    call_export = 'model.elevator.rescue.call.export_data'
    refused(lambda: dispatcher(call_export, calls,
            ['call_id', 'caller_number']), '数据共享')

    # An approval for another unit, or one that does not cover personal
    # data, is of no help.
    city1, city2 = RPC(server, 'city1'), RPC(server, 'city2')
    for recipient, categories in [
            (world['centre'], ('personal',)),
            (world['firm'], ('maintenance',))]:
        record = new_record(city1, world, recipient, 'export',
            categories=categories)
        city1(SHARING + 'submit', [record])
        city1(SHARING + 'approve', [record])
        city2(SHARING + 'approve', [record])
    refused(lambda: firm(export, technicians, ['name', 'phone']),
        '数据共享')

    rows = dispatcher(call_export, calls, ['call_id', 'caller_number'])
    assert len(rows) == len(calls)
    assert {r[1] for r in rows} == {'13912340000'}

    record = new_record(city1, world, world['firm'], 'firm export')
    city1(SHARING + 'submit', [record])
    city1(SHARING + 'approve', [record])
    # One approval is not enough.
    refused(lambda: firm(export, technicians, ['name', 'phone']),
        '数据共享')
    city2(SHARING + 'approve', [record])
    rows = firm(export, technicians, ['name', 'phone'])
    assert len(rows) == TECHNICIANS
