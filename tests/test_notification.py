"""The notification outbox (elevator.notification) with a real
trytond-worker on PostgreSQL, a local stand-in for the Alibaba Cloud SMS
endpoint (tests/support/sms.py: the SDK's signed SendSms requests) and a
local SMTP server (aiosmtpd):

- a rescue dispatch sends the SMS of the template to the firm's on-duty
  technician and the firm's mobile, and the e-mail to the firm manager,
  with the elevator, the place, the rescue code and the link; the
  provider's first answer is a refusal (HTTP 500), the worker retries
  after the back-off and the message is sent once, with the provider's
  BizId;
- a refusal that cannot pass (isv.MOBILE_NUMBER_ILLEGAL) fails at once and
  is an alert to the dispatchers;
- the worker killed (SIGKILL) while the provider holds its request, then
  restarted: exactly one SMS reaches the provider for that message, the
  others of the batch are sent by the new worker, and the interrupted one
  is failed as "outcome unknown" for dispatch to check;
- delivery receipts pushed by the provider make a sent message delivered
  or failed (the failure an alert to dispatch); a wrong token is refused;
- who reads what: dispatch the address, the city regulator only its masked
  copy, a maintenance firm nothing of the outbox.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from elevator_platform import scratch_db, tryton_env
from support.process import free_port, stop, wait_for
from support.sms import SMSStandIn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DISTRICT = '350302'
AK_ID, AK_SECRET = 'LTAI-test-key', 'test-secret-0001'
SIGN_NAME = '莆田96196'
TECH_PHONE = '13900000001'
FIRM_MOBILE = '13800000002'
MANAGER_EMAIL = 'manager@firm.example'
RECEIPT_TOKEN = 'receipt-token-0001'
RETRY_DELAY = 1.0
SENDING_TIMEOUT = 3.0


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
                'from': envelope.mail_from,
                'to': list(envelope.rcpt_tos),
                'data': envelope.original_content or envelope.content,
                })
        return '250 OK'


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_notif_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name,
        modules=('elevator_rescue', 'elevator_maintenance'))
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def sms():
    stand_in = SMSStandIn(AK_ID, AK_SECRET)
    yield stand_in
    stand_in.close()


@pytest.fixture(scope='module')
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname='127.0.0.1', port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture(scope='module')
def conf(sms, smtp):
    controller, _ = smtp
    with tempfile.TemporaryDirectory(prefix='elevator-notif-') as path:
        conf = Path(path) / 'trytond.conf'
        conf.write_text(textwrap.dedent(f'''\
            [database]
            uri = {scratch_db.database_uri()}
            [queue]
            worker = True
            [email]
            uri = smtp://127.0.0.1:{controller.port}
            from = 96196@platform.example
            [elevator_sms]
            provider = aliyun
            endpoint = {sms.endpoint}
            protocol = http
            access_key_id = {AK_ID}
            access_key_secret = {AK_SECRET}
            sign_name = {SIGN_NAME}
            timeout = 60
            receipt_token = {RECEIPT_TOKEN}
            [elevator_notification]
            retry_delay = {RETRY_DELAY}
            attempts = 3
            sending_timeout = {SENDING_TIMEOUT}
            '''))
        yield conf


def configure_here(conf):
    "This process (the tests' transactions) reads the workers' settings."
    from trytond import config
    tryton_env.configure()
    config.update_etc(str(conf))


@pytest.fixture(scope='module')
def world(database, conf):
    configure_here(conf)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0,
            _lock_tables=['elevator_configuration']) as transaction:
        Configuration = pool.get('elevator.configuration')
        Configuration.write([Configuration(1)],
            {'platform_url': 'https://96196.example/'})
        transaction.commit()
    with tryton_env.transaction(database) as pool:
        ModelData = pool.get('ir.model.data')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        User = pool.get('res.user')
        Technician = pool.get('elevator.maintenance.technician')
        region = ModelData.get_id('elevator', f'region_{DISTRICT}')
        firm, unit = Party.create([{
                    'name': '通知测试维保',
                    'is_maintenance_unit': True,
                    'contact_mechanisms': [('create', [{
                                    'type': 'mobile',
                                    'value': FIRM_MOBILE}])],
                    }, {
                    'name': '通知测试物业',
                    'is_user_unit': True,
                    }])
        place, = Place.create([{'name': '荔园小区', 'region': region,
                    'address': '城厢区荔园路1号'}])
        elevators = Elevator.create([{
                    'registration_code': f'3110{DISTRICT}2021{n:06d}',
                    'rescue_code': f'3503{n:02d}', 'category': '3110',
                    'region': region, 'place': place.id,
                    'maintenance_unit': firm.id, 'user_unit': unit.id,
                    } for n in range(1, 5)])
        Elevator.put_in_use(elevators)
        group = {g: ModelData.get_id('elevator', f'group_{g}')
            for g in ['dispatcher', 'firm_manager', 'city_regulator',
                'technician']}
        dispatcher, manager, city, tech = User.create([
                {'login': 'notif-dispatcher', 'name': '调度',
                    'groups': [('add', [group['dispatcher']])]},
                {'login': 'notif-manager', 'name': '维保经理',
                    'email': MANAGER_EMAIL,
                    'groups': [('add', [group['firm_manager']])],
                    'elevator_units': [('add', [firm.id])]},
                {'login': 'notif-city', 'name': '市局',
                    'groups': [('add', [group['city_regulator']])]},
                {'login': 'notif-tech', 'name': '值班技工',
                    'groups': [('add', [group['technician']])],
                    'elevator_units': [('add', [firm.id])]},
                ])
        Technician.create([{'name': '值班技工', 'firm': firm.id,
                    'user': tech.id, 'phone': TECH_PHONE,
                    'rescue_duty': True},
                {'name': '休班技工', 'firm': firm.id,
                    'phone': '13900000009', 'rescue_duty': False}])
        return {
            'elevators': [e.id for e in elevators],
            'codes': [e.rescue_code for e in elevators],
            'dispatcher': dispatcher.id, 'manager': manager.id,
            'city': city.id,
            }


class Worker:
    "trytond-worker on the database, started and killed as a process."

    def __init__(self, database, conf):
        self.database, self.conf = database, conf
        self.log = Path(conf).parent / 'worker.log'
        self.process = None

    def start(self):
        env = {**os.environ}
        env.pop('TRYTOND_CONFIG', None)
        with open(self.log, 'ab') as out:
            self.process = subprocess.Popen([str(BIN / 'trytond-worker'),
                    '-c', str(self.conf), '-d', self.database, '-n', '1'],
                stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                start_new_session=True)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        stop(self.process)

    def tail(self):
        return self.log.read_text(errors='replace')[-4000:]


@pytest.fixture(scope='module')
def worker(database, conf, world):
    worker = Worker(database, conf)
    worker.start()
    try:
        yield worker
    except BaseException:
        print(worker.tail())
        raise
    finally:
        worker.stop()


def dispatch(database, elevator_id):
    "A ticket of the elevator dispatched at level 1: the dispatch id."
    with tryton_env.transaction(database) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        ticket, = Ticket.create([{'elevator': elevator_id,
                    'caller_phone': '13700000000'}])
        Ticket.dispatch([ticket])
        dispatch, = Ticket(ticket.id).dispatches
        return dispatch.id


def outbox(database, origin):
    with tryton_env.transaction(database, readonly=True) as pool:
        Notification = pool.get('elevator.notification')
        return [{
                'id': n.id, 'channel': n.channel, 'state': n.state,
                'address': n.address, 'attempts': n.attempts,
                'provider_id': n.provider_id, 'error': n.error,
                'event': n.event, 'body': n.body,
                } for n in Notification.search([('origin', '=', origin)],
                order=[('id', 'ASC')])]


def settled(database, origin):
    rows = [r for r in outbox(database, origin) if r['channel'] != 'client']
    if rows and all(r['state'] in {'sent', 'failed'} for r in rows):
        return rows


def test_dispatch_sms_retried_and_email(database, world, worker, sms, smtp):
    _, mailbox = smtp
    sms.script[:] = ['http500']
    before = len(sms.requests)
    dispatch_id = dispatch(database, world['elevators'][0])
    origin = f'elevator.rescue.dispatch,{dispatch_id}'
    rows = wait_for(lambda: settled(database, origin),
        "the dispatch's messages to be sent")
    code = world['codes'][0]

    by_address = {r['address']: r for r in rows}
    assert set(by_address) == {TECH_PHONE, FIRM_MOBILE, MANAGER_EMAIL}
    assert {r['state'] for r in rows} == {'sent'}, rows
    requests = sms.requests[before:]
    # One refused request, then each number once.
    assert len(requests) == 3, requests
    assert requests[0]['answer'] == 'http500'
    assert sorted(r['phone'] for r in requests[1:]) == sorted(
        [TECH_PHONE, FIRM_MOBILE])
    phones = [r['phone'] for r in requests]
    assert phones.count(requests[0]['phone']) == 2   # refused, then sent
    retried = by_address[requests[0]['phone']]
    assert retried['attempts'] == 2 and retried['error'] is None
    for request in requests:
        row = by_address[request['phone']]
        assert request['action'] == 'SendSms'
        assert request['version'] == '2017-05-25'
        assert request['signed'], "ACS3-HMAC-SHA256 signature"
        assert request['sign_name'] == SIGN_NAME
        assert request['template'] == 'SMS_96196001'
        assert request['out_id'] == str(row['id'])
        params = request['params']
        assert set(params) == {'number', 'rescue_code', 'place', 'minutes',
            'link'}
        assert params['rescue_code'] == code
        assert params['place'] == '荔园小区 城厢区荔园路1号'
        assert params['link'] == f'https://96196.example/{database}/elevator/portal/'
        assert params['minutes'] == '5'
    for request in requests[1:]:
        assert by_address[request['phone']]['provider_id'].startswith(
            f'{sms.requests.index(request) + 1}^')
    # The text itself, in Chinese: elevator, place, rescue code, link.
    body = by_address[TECH_PHONE]['body']
    assert '困人' in body and code in body and '荔园小区' in body
    assert f'https://96196.example/{database}/elevator/portal/' in body

    mails = [m for m in mailbox.messages if MANAGER_EMAIL in m['to']]
    assert len(mails) == 1
    message = BytesParser(policy=policy.default).parsebytes(
        mails[0]['data'])
    assert mails[0]['from'] == '96196@platform.example'
    assert code in message['Subject'] and '荔园小区' in message['Subject']
    text = message.get_content()
    assert code in text and '荔园小区' in text and 'elevator/portal/' in text


def test_refused_number_fails_and_alerts_dispatch(database, world, worker,
        sms):
    sms.script[:] = ['isv.MOBILE_NUMBER_ILLEGAL', 'ok']
    before = len(sms.requests)
    dispatch_id = dispatch(database, world['elevators'][1])
    origin = f'elevator.rescue.dispatch,{dispatch_id}'
    rows = wait_for(lambda: settled(database, origin),
        "the dispatch's messages to settle")
    failed = [r for r in rows if r['state'] == 'failed']
    assert len(failed) == 1 and failed[0]['attempts'] == 1
    assert 'isv.MOBILE_NUMBER_ILLEGAL' in failed[0]['error']
    assert len(sms.requests) - before == 2   # never retried
    alerts = outbox(database, f'elevator.notification,{failed[0]["id"]}')
    assert [(a['channel'], a['state'], a['event']) for a in alerts] == [
        ('client', 'delivered', 'notification_failed')]
    with tryton_env.transaction(database, readonly=True) as pool:
        ResNotification = pool.get('res.notification')
        labels = [n.label for n in ResNotification.search([
                    ('user', '=', world['dispatcher']),
                    ('model', '=', 'elevator.notification'),
                    ])]
    assert any('未送达' in label for label in labels), labels


def test_worker_killed_mid_send_sends_once(database, world, worker, sms,
        conf):
    sms.script[:] = ['hold']
    sms.held.clear()
    sms.release.clear()
    before = len(sms.requests)
    dispatch_id = dispatch(database, world['elevators'][2])
    origin = f'elevator.rescue.dispatch,{dispatch_id}'
    wait_for(sms.held.is_set, "the provider to hold the first SMS")
    held = sms.requests[-1]
    worker.kill()
    sms.release.set()
    rows = {r['id']: r for r in outbox(database, origin)}
    assert rows[int(held['out_id'])]['state'] == 'sending'

    worker.start()
    # The task died with the worker (trytond-worker marks a task dequeued
    # when it takes it): the cron's pass (trytond-cron runs it every
    # minute) fails the interrupted claim once it is older than the
    # sending timeout and queues the others again for the new worker.
    time.sleep(SENDING_TIMEOUT + 1)
    with tryton_env.transaction(database) as pool:
        pool.get('elevator.notification').send_queued()

    def others_sent():
        rows = [r for r in outbox(database, origin)
            if r['channel'] != 'client' and r['id'] != int(held['out_id'])]
        return all(r['state'] == 'sent' for r in rows) and rows
    wait_for(others_sent, "the other messages to be sent")
    time.sleep(2)   # time for a wrong second send to arrive
    rows = {r['id']: r for r in outbox(database, origin)}
    interrupted = rows[int(held['out_id'])]
    assert interrupted['state'] == 'failed'
    assert '不再重发' in interrupted['error'] or 'not sent again' in (
        interrupted['error'])
    requests = sms.requests[before:]
    assert sorted(r['phone'] for r in requests) == sorted(
        [TECH_PHONE, FIRM_MOBILE]), requests
    assert [r['out_id'] for r in requests].count(held['out_id']) == 1
    alerts = outbox(database, f'elevator.notification,{interrupted["id"]}')
    assert [a['event'] for a in alerts] == ['notification_failed']


def test_who_reads_the_outbox(database, world, worker):
    from trytond.model.exceptions import AccessError
    from trytond.pool import Pool
    from trytond.transaction import Transaction, check_access
    pool = Pool(database)

    def as_user(user, func):
        with Transaction().start(database, user, readonly=True), \
                check_access():
            return func(pool.get('elevator.notification'))

    def sms_rows(Notification):
        return Notification.search([('channel', '=', 'sms'),
                ('address', '=', TECH_PHONE)], limit=1)

    def read_address(Notification):
        rows = Notification.search([('channel', '=', 'sms')], limit=1)
        return Notification.read([r.id for r in rows],
            ['address', 'address_masked'])[0]

    row = as_user(world['dispatcher'], read_address)
    assert row['address'] and row['address_masked'] != row['address']

    def read_masked(Notification):
        rows = Notification.search([('channel', '=', 'sms')], limit=1)
        return Notification.read([r.id for r in rows],
            ['address_masked', 'recipient'])[0]
    masked = as_user(world['city'], read_masked)
    assert re.fullmatch(r'1\d\d\*{4}\d{4}', masked['address_masked'])
    for func in [read_address, sms_rows,
            lambda N: N.search([], order=[('address', 'ASC')], limit=1),
            lambda N: N.export_data(N.search([], limit=1), ['address'])]:
        with pytest.raises(AccessError):
            as_user(world['city'], func)
    for func in [lambda N: N.search([]), read_masked]:
        with pytest.raises(AccessError):
            as_user(world['manager'], func)


@pytest.fixture(scope='module')
def server(database, conf, world):
    "trytond serving the database (the provider's receipts route)."
    port = free_port()
    server_conf = Path(conf).parent / 'server.conf'
    server_conf.write_text(Path(conf).read_text()
        + f'[web]\nlisten = 127.0.0.1:{port}\n')
    log = Path(conf).parent / 'server.log'
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    with open(log, 'ab') as out:
        process = subprocess.Popen(
            [str(BIN / 'trytond'), '-c', str(server_conf), '-d', database],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=ROOT, start_new_session=True)
    url = f'http://127.0.0.1:{port}/{database}/elevator/api/v1/sms/receipts'

    def ready():
        if process.poll() is not None:
            raise AssertionError(log.read_text(errors='replace')[-4000:])
        try:
            return post(url + '?token=x', [])[0] == 401
        except OSError:
            return False
    try:
        wait_for(ready, "trytond to answer", interval=0.5)
        yield url
    finally:
        stop(process)


def post(url, data):
    request = urllib.request.Request(url, method='POST',
        data=json.dumps(data).encode(),
        headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_delivery_receipts(database, world, worker, sms, server):
    sms.script[:] = []
    dispatch_id = dispatch(database, world['elevators'][3])
    origin = f'elevator.rescue.dispatch,{dispatch_id}'
    rows = wait_for(lambda: settled(database, origin), "messages sent")
    tech, firm = [next(r for r in rows if r['address'] == phone)
        for phone in [TECH_PHONE, FIRM_MOBILE]]
    reports = [{
            'phone_number': TECH_PHONE, 'success': True,
            'biz_id': tech['provider_id'], 'out_id': str(tech['id']),
            'err_code': 'DELIVERED', 'err_msg': '用户接收成功',
            'report_time': '2026-12-07 18:00:05',
            }, {
            'phone_number': FIRM_MOBILE, 'success': False,
            'biz_id': firm['provider_id'], 'out_id': str(firm['id']),
            'err_code': 'MK:0001', 'err_msg': '空号',
            'report_time': '2026-12-07 18:00:06',
            }]
    assert post(server + '?token=wrong', reports)[0] == 401
    assert {r['id']: r['state'] for r in outbox(database, origin)}[
        tech['id']] == 'sent'
    assert post(server + f'?token={RECEIPT_TOKEN}', reports) == (
        200, {'code': 0, 'msg': '成功'})
    states = {r['id']: r for r in outbox(database, origin)}
    assert states[tech['id']]['state'] == 'delivered'
    assert states[firm['id']]['state'] == 'failed'
    assert 'MK:0001' in states[firm['id']]['error']
    alerts = outbox(database, f'elevator.notification,{firm["id"]}')
    assert [a['event'] for a in alerts] == ['notification_failed']
    assert post(server + f'?token={RECEIPT_TOKEN}', {'out_id': 'x'}) == (
        200, {'code': 0, 'msg': '成功'})   # unknown reports are ignored
