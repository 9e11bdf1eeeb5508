"""Screen pop in sao: the call centre's `answered` event reaches the
dispatcher who took the call, in the web client, without a reload.

A real trytond with Tryton's bus open to sao ([bus] allow_subscribe) serves
a database with `elevator_rescue`; the dispatcher (extension 8001) is
logged in to sao at 1366×768; the call centre posts signed `ringing` and
`answered` events. The notification badge lights up through the bus (the
time it took is printed), the notification opens the call with the
elevator of the IVR code, and one click opens the rescue ticket filled
from the call.
"""
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from elevator_platform import scratch_db, tryton_env
from support.browser import evidence, sao_login, server_config
from support.db import database_name
from support.process import free_port
from support.sharing import share

DISTRICT = '350302'
CLIENT_ID = 'cti-browser-test'
SECRET = 'cti-browser-secret-0001'
CODE = '350311'


@pytest.fixture(scope='module')
def database(workdir):
    name = database_name('ctibrowser')
    scratch_db.create_database(name, modules=('elevator_rescue',))
    try:
        with tryton_env.transaction(name) as pool:
            ModelData = pool.get('ir.model.data')
            Place = pool.get('elevator.place')
            Elevator = pool.get('elevator.elevator')
            User = pool.get('res.user')
            Client = pool.get('elevator.rescue.cti.client')
            Lang = pool.get('ir.lang')
            region = ModelData.get_id('elevator', f'region_{DISTRICT}')
            place, = Place.create([{'name': '弹屏测试小区',
                        'region': region}])
            elevator, = Elevator.create([{
                        'registration_code': f'3110{DISTRICT}2022000001',
                        'rescue_code': CODE, 'category': '3110',
                        'region': region, 'place': place.id}])
            Elevator.put_in_use([elevator])
            zh, = Lang.search([('code', '=', 'zh_CN')])
            User.create([{'login': 'dispatcher', 'name': '96196 调度员',
                        'password': 'elevator-demo', 'cti_extension': '8001',
                        'language': zh.id,
                        'groups': [('add', [ModelData.get_id(
                                            'elevator', 'group_dispatcher')])],
                        }])
            Party = pool.get('party.party')
            centre, = Party.create([{'name': '96196 呼叫中心运营单位'}])
            Client.create([{'name': '96196 呼叫中心', 'client_id': CLIENT_ID,
                        'secret': SECRET, 'sharing': share(pool, centre,
                            ['rescue', 'personal']).id}])
        port = free_port()
        conf = server_config(workdir / 'trytond.conf', port, '''\
            [bus]
            allow_subscribe = True
            ''')
        yield {'name': name, 'conf': conf, 'port': port}
    finally:
        scratch_db.drop_database(name)


def post_event(server, database, event):
    from trytond.modules.elevator_rescue.call import sign
    body = json.dumps(event).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        f'{server}{database}/elevator/api/v1/cti/events', data=body,
        method='POST', headers={
            'Content-Type': 'application/json',
            'X-CTI-Client': CLIENT_ID,
            'X-CTI-Timestamp': str(timestamp),
            'X-CTI-Signature': sign(SECRET, timestamp, body)})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 202
        return json.loads(answer.read())


# The count on the user's menu that sao's notification menu keeps.
BADGE = '''(() => { const i = Sao.NotificationMenu.indicator;
    return i.css('display') !== 'none' ? i.text().trim() : ''; })()'''


def test_answered_call_pops_up_for_its_dispatcher(
        database, server, browser, workdir):
    browser.send('Emulation.setDeviceMetricsOverride', {
            'width': 1366, 'height': 768, 'deviceScaleFactor': 1,
            'mobile': False})
    with evidence(browser, workdir):
        sao_login(browser, server, database['name'], 'dispatcher')
        # The bus is listening before the call comes in.
        browser.wait_js('Sao.Bus.listening === true', "sao's bus")
        assert browser.js(BADGE) == ''
        call_id = 'C-' + uuid.uuid4().hex[:8]
        post_event(server, database['name'], {'event': 'ringing',
                'call_id': call_id, 'caller_number': '13912345678',
                'called_number': '96196', 'ivr_digits': CODE})
        answered = time.monotonic()
        post_event(server, database['name'], {'event': 'answered',
                'call_id': call_id, 'agent_extension': '8001'})
        browser.wait_js(f'{BADGE} !== ""', "the notification badge")
        print(f"screen pop: badge lit {time.monotonic() - answered:.2f} s "
            "after the answered event was posted")

        # The notification names the car and opens the call.
        browser.js('''document.querySelector(
            '#user-preferences > a, #user-preferences .dropdown-toggle')
            .click()''')
        browser.wait_js('''Array.from(document.querySelectorAll(
            '.notification-label')).some(e => e.textContent.includes(
            '%s'))''' % CODE, "the notification in the menu")
        label = browser.js('''Array.from(document.querySelectorAll(
            '.notification-label')).map(e => e.textContent).join('|')''')
        assert '139****5678' in label and '13912345678' not in label
        browser.js('''Array.from(document.querySelectorAll(
            '.notification-label')).find(e => e.textContent.includes(
            '%s')).closest('a, li').click()''' % CODE)
        browser.wait_js('''Array.from(document.querySelectorAll(
            '.form input')).some(e => e.value.includes('弹屏测试小区')
            || e.value.includes('%s'))''' % CODE,
            "the call form with its elevator")
        browser.screenshot(workdir / 'cti-call-form.png')
        if os.environ.get('CTI_SCREENSHOTS'):
            browser.screenshot(Path(os.environ['CTI_SCREENSHOTS'])
                / 'cti-call-form.png')

        # One click: the ticket, filled from the call.
        browser.js('''Array.from(document.querySelectorAll('button'))
            .find(b => b.textContent.includes('建立救援工单')).click()''')
        browser.wait_js('''Sao.Tab.tabs.some(t => t.screen
            && t.screen.model_name === 'elevator.rescue.ticket'
            && t.screen.current_record
            && t.screen.current_record.id > 0)''',
            "the rescue ticket tab")

    def ticket(pool):
        Call = pool.get('elevator.rescue.call')
        call, = Call.search([('call_id', '=', call_id)])
        return (call.ticket.source, call.ticket.elevator.rescue_code,
            [a.caller_phone for a in call.ticket.alarms])
    with tryton_env.transaction(database['name'], readonly=True) as pool:
        assert ticket(pool) == ('phone', CODE, ['13912345678'])
