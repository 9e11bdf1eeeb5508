"""The 96196 dispatch console (issue 16), end to end, on a real server.

A PostgreSQL database with `elevator_rescue` and `elevator_iot` (zh_CN);
a maintenance firm maintains two elevators in 城厢区 with their positions,
one of them with a live IoT status and an open ticket reported three
minutes ago. A real trytond serves the console at /{db}/elevator/console/.

- In headless Chromium at 1366×768 (its time zone London, so Beijing time
  on the page is the page's doing), the dispatcher logs in; a ticket
  reported through the ORM (`Ticket.report`) appears on the list without a
  reload (the time from the commit to the page's drawing is printed), with
  a beep, a marker on the map, its elapsed clock running; its details show
  the caller's full number (dispatch's field access), the IoT status, and
  the dispatch button, which dispatches it as the dispatcher (the model's
  button); the list follows the new state. Screenshot for the docs.
- A firm manager logs in and is refused: the page says so, the API
  answers 403 with the message in Chinese.
- The web client's menu action opens the console of its database.
"""
import datetime as dt
import json
import time
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import pytest

from elevator_platform import scratch_db, tryton_env
from support.browser import PASSWORD, evidence, server_config
from support.db import database_name
from support.process import ROOT, free_port
from test_maintenance_portal import Session
from trytond.transaction import Transaction

SCREENSHOT = ROOT / 'docs' / 'screenshots' / 'dispatch-console.png'
DISTRICT = '350302'
POSITIONS = [(25.4352, 119.0078), (25.4410, 119.0190), (25.4300, 119.0250)]
CALLER = '13912345678'
SIZE = (1366, 768)


@pytest.fixture(scope='module')
def database(workdir):
    name = database_name('console')
    scratch_db.create_database(name,
        modules=('elevator_rescue', 'elevator_iot'))
    try:
        with tryton_env.transaction(name) as pool:
            ModelData = pool.get('ir.model.data')
            Party = pool.get('party.party')
            Place = pool.get('elevator.place')
            Elevator = pool.get('elevator.elevator')
            Status = pool.get('elevator.iot.status')
            Ticket = pool.get('elevator.rescue.ticket')
            User = pool.get('res.user')
            Lang = pool.get('ir.lang')
            zh, = Lang.search([('code', '=', 'zh_CN')])
            region = ModelData.get_id('elevator', f'region_{DISTRICT}')
            firm, estate = Party.create([{
                        'name': '莆田市安达电梯工程有限公司',
                        'is_maintenance_unit': True}, {
                        'name': '万达物业', 'is_user_unit': True}])
            elevators = []
            for i, (lat, lon) in enumerate(POSITIONS, 1):
                place, = Place.create([{'name': f'万达华府{i}期',
                            'category': 'residential', 'region': region,
                            'latitude': lat, 'longitude': lon,
                            'address': f'城厢区荔华东大道{i}号'}])
                elevator, = Elevator.create([{
                            'registration_code':
                                f'3110{DISTRICT}20220000{i:02}',
                            'rescue_code': f'35030{i}', 'category': '3110',
                            'region': region, 'place': place.id,
                            'building': f'{i}号楼1单元',
                            'user_unit': estate.id,
                            'maintenance_unit': firm.id,
                            'latitude': lat, 'longitude': lon}])
                elevators.append(elevator)
            Elevator.put_in_use(elevators)
            Status.create([{'elevator': elevators[1].id, 'online': True,
                        'car_position': 5, 'car_status': '0',
                        'passenger_status': '1', 'door_status': '2'}])
            earlier = dt.datetime.now(dt.timezone.utc).replace(
                tzinfo=None, microsecond=0) - dt.timedelta(minutes=3)
            old = Ticket.report(elevators[0], 'phone',
                caller_name='王先生', caller_phone='13800000001',
                reported_at=earlier, trapped_persons=1)
            # A ticket at level 3 (fire rescue's), set in the table: the
            # levels' escalation is tested in the module.
            fire_ticket = Ticket.report(elevators[2], 'phone',
                caller_name='张先生', caller_phone='13700000003',
                reported_at=earlier, trapped_persons=3)
            table = Ticket.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update([table.level], [3],
                    where=table.id == fire_ticket.id))

            def user(login, full_name, group, units=()):
                new, = User.create([{'login': login, 'name': full_name,
                            'password': PASSWORD, 'language': zh.id,
                            'groups': [('add', [ModelData.get_id(
                                            'elevator', group)])],
                            'elevator_units': [('add', list(units))]}])
                return new.id
            users = {
                'dispatcher': user('dispatcher', '96196 调度员',
                    'group_dispatcher'),
                'firm1': user('firm1', '安达电梯经理', 'group_firm_manager',
                    [firm.id]),
                'fire1': user('fire1', '消防指挥', 'group_fire'),
                }
            ids = {'elevators': [e.id for e in elevators],
                'old_ticket': old.id, 'fire_ticket': fire_ticket.id,
                'users': users}
        port = free_port()
        conf = server_config(workdir / 'trytond.conf', port)
        yield {'name': name, 'conf': conf, 'port': port, **ids}
    finally:
        scratch_db.drop_database(name)


def api(server, database, session, path):
    request = urllib.request.Request(
        f"{server}{database}/elevator/console/api/{path}",
        headers=session.headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b'null')


def log_in(browser, server, database, login):
    browser.navigate(f"{server}{database}/elevator/console/")
    browser.wait_js('!!document.getElementById("login-form")',
        "the login form")
    browser.type_text('#login', login)
    browser.type_text('#password', PASSWORD)
    browser.js('document.getElementById("login-submit").click()')


def beijing(value):
    "A naive UTC datetime as the page shows it (Intl zh-CN, Beijing)."
    local = value.replace(tzinfo=dt.timezone.utc).astimezone(
        ZoneInfo('Asia/Shanghai'))
    return local.strftime('%m/%d %H:%M:%S')


def test_dispatcher_sees_new_ticket_live_and_dispatches(
        database, server, browser, workdir):
    db = database['name']
    browser.send('Emulation.setDeviceMetricsOverride', {
            'width': SIZE[0], 'height': SIZE[1], 'deviceScaleFactor': 1,
            'mobile': False})
    browser.send('Emulation.setTimezoneOverride',
        {'timezoneId': 'Europe/London'})
    with evidence(browser, workdir):
        log_in(browser, server, db, 'dispatcher')
        old = database['old_ticket']
        browser.wait_js(f'!!document.getElementById("ticket-{old}")',
            "the open ticket on the list")
        assert browser.js('document.getElementById("who").textContent') \
            == '96196 调度员'
        # Nothing of this page may be lost by a reload: a mark that a
        # reload would wipe out.
        browser.js('window.notReloaded = true')
        polls = int(browser.js('document.body.dataset.polls'))
        browser.wait_js(f'Number(document.body.dataset.polls) > {polls}',
            "a poll after the first")

        # A ticket reported through the ORM, committed now.
        with tryton_env.transaction(db) as pool:
            Ticket = pool.get('elevator.rescue.ticket')
            ticket = Ticket.report(database['elevators'][1], 'phone',
                caller_name='李女士', caller_phone=CALLER,
                trapped_persons=2, description='轿厢停在5楼与6楼之间')
            ticket_id, number = ticket.id, ticket.number
            reported_at = ticket.reported_at
        committed = time.time()
        browser.wait_js(f'!!document.getElementById("ticket-{ticket_id}")',
            "the new ticket on the list")
        drawn = int(browser.js('document.body.dataset.freshAt')) / 1000
        latency = drawn - committed
        print(f"console: new ticket drawn {latency:.2f} s after its commit "
            "(poll every 1 s, no reload)")
        assert browser.js('window.notReloaded === true')
        assert int(browser.js('document.body.dataset.alerts')) >= 1
        row = f'document.getElementById("ticket-{ticket_id}")'
        assert browser.js(f'{row}.textContent').count(number) == 1
        assert browser.js(f'{row}.dataset.level') == '1'
        # Beijing time on the page, in a browser set to London.
        assert beijing(reported_at) in browser.js(f'{row}.textContent')

        # The elapsed clock runs between polls.
        elapsed = f'Number({row}.querySelector(".elapsed").dataset.seconds)'
        first = browser.js(elapsed)
        browser.wait_js(f'{elapsed} >= {first + 2}', "the clock to advance")
        old_elapsed = browser.js(f'''Number(document.getElementById(
            "ticket-{old}").querySelector(".elapsed").dataset.seconds)''')
        assert old_elapsed >= 180, old_elapsed

        # Its marker on the map, inside the map.
        inside = f'''(() => {{
            const m = document.querySelector(".marker-{ticket_id}");
            if (!m) {{ return false; }}
            const r = m.getBoundingClientRect();
            const box = document.getElementById("map")
                .getBoundingClientRect();
            return r.width > 0 && r.left >= box.left && r.right <= box.right
                && r.top >= box.top && r.bottom <= box.bottom; }})()'''
        browser.wait_js(inside, "the ticket's marker inside the map")
        assert browser.js('!!document.querySelector(".marker-%d")' % old)

        # Its details: the caller in full for dispatch, the car's status.
        browser.js(f'{row}.click()')
        browser.wait_js('''(document.getElementById("detail-number") || {})
            .textContent === %s''' % json.dumps(number), "the details")
        assert browser.js(
            'document.getElementById("caller-phone").textContent') == CALLER
        detail = browser.js('document.getElementById("detail").textContent')
        assert '楼层5' in detail and '在线' in detail, detail
        assert '万达华府2期' in detail and '尚未派单' in detail, detail
        browser.wait_js('!!document.getElementById("action-dispatch")',
            "the dispatch button")
        assert not browser.js('!!document.getElementById("action-close")')

        browser.js('document.getElementById("action-dispatch").click()')
        browser.wait_js(f'{row} && {row}.dataset.state === "dispatched"',
            "the list to show the ticket dispatched")
        browser.wait_js('!!document.getElementById("dispatch-history")',
            "the dispatch history")
        history = browser.js(
            'document.getElementById("dispatch-history").textContent')
        assert '莆田市安达电梯工程有限公司' in history, history
        assert browser.js('!!document.getElementById("action-escalate")')
        assert browser.errors() == []
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(SCREENSHOT)

    with tryton_env.transaction(db, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        ticket = Ticket(ticket_id)
        assert ticket.state == 'dispatched'
        assert ticket.dispatched_by.id == database['users']['dispatcher']
        assert [d.unit.name for d in ticket.dispatches] == [
            '莆田市安达电梯工程有限公司']


def test_firm_manager_is_refused(database, server, browser, workdir):
    db = database['name']
    session = Session(server, db, 'firm1')
    for path in ['profile', 'tickets', f"tickets/{database['old_ticket']}"]:
        status, body = api(server, db, session, path)
        assert status == 403, (path, status, body)
        assert body['error']['message'] == '调度台仅供 96196 调度员和消防救援人员使用。'
    with evidence(browser, workdir):
        log_in(browser, server, db, 'firm1')
        browser.wait_js('!!document.getElementById("refused")',
            "the refusal")
        assert '调度台仅供' in browser.js(
            'document.getElementById("refused").textContent')
        assert not browser.js('!!document.getElementById("ticket-list")')


def test_dispatcher_api_and_menu_action(database, server):
    db = database['name']
    session = Session(server, db, 'dispatcher')
    status, body = api(server, db, session, 'tickets')
    assert status == 200, body
    cursor = body['cursor']
    assert {t['id'] for t in body['tickets']} >= {database['old_ticket']}
    # With the cursor: every open id, and only the recent changes in full.
    status, again = api(server, db, session,
        'tickets?since=' + urllib.request.quote(cursor))
    assert status == 200
    assert again['open'] == body['open']
    status, bad = api(server, db, session, 'tickets?since=yesterday')
    assert status == 400 and bad['error']['message'] == '请求无效。'
    status, missing = api(server, db, session, 'tickets/999999')
    assert status == 404
    assert missing['error']['message'] == '该救援工单不存在，或您无权查看。'

    with tryton_env.transaction(db, readonly=True) as pool:
        ModelData = pool.get('ir.model.data')
        Action = pool.get('ir.action')
        # The id of the ir.action.url record, as the menu's keyword gives.
        url_id = ModelData.get_id('elevator_rescue', 'act_console')
        value, = Action.get_action_values('ir.action.url', [url_id])
        assert value['url'] == f'/{db}/elevator/console/'


def test_fire_rescue_sees_level_3_only_and_caller_masked(database, server):
    db = database['name']
    session = Session(server, db, 'fire1')
    status, body = api(server, db, session, 'tickets')
    assert status == 200, body
    assert [t['id'] for t in body['tickets']] == [database['fire_ticket']]
    assert body['tickets'][0]['level'] == 3
    status, detail = api(server, db, session,
        f"tickets/{database['fire_ticket']}")
    assert status == 200, detail
    caller = detail['ticket']['caller']
    assert caller['masked'] and '13700000003' not in json.dumps(detail)
    assert caller['phone'] == '137****0003', caller
    # Another level's ticket does not exist for fire rescue.
    for path in [f"tickets/{database['old_ticket']}"]:
        status, missing = api(server, db, session, path)
        assert status == 404, missing


def test_refused_step_writes_nothing(database, server):
    """Closing a ticket that is not released: the button's refusal, in
    Chinese, as a 409; the ticket unchanged."""
    db = database['name']
    session = Session(server, db, 'dispatcher')
    ticket_id = database['old_ticket']
    request = urllib.request.Request(
        f"{server}{db}/elevator/console/api/tickets/{ticket_id}/close",
        data=b'{}', method='POST', headers={**session.headers,
            'Content-Type': 'application/json'})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=120)
    assert info.value.code == 409
    message = json.loads(info.value.read())['error']['message']
    # Tryton's check of the button's states (invisible unless released).
    assert message.startswith('不能对“救援工单”的记录“') and \
        'JY' in message, message
    with tryton_env.transaction(db, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        assert Ticket(ticket_id).state == 'new'
        assert Ticket(ticket_id).closed_at is None
