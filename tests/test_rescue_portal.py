"""The rescue on the technician's phone, end to end, on a real server.

A fresh PostgreSQL database gets `elevator_rescue` and
`elevator_maintenance` (zh_CN); two maintenance firms each maintain one
elevator under an active contract; a fire rescue user stands for 119. A
real trytond serves the page at /{db}/elevator/portal/rescue/, its JSON
API and the JSON-RPC.

- In headless Chromium at the size of a phone (360 x 740), a technician of
  the first firm logs in; the dispatcher (JSON-RPC) opens and dispatches a
  ticket; the page shows it at its next poll and sounds the alarm; the
  technician accepts, his colleague's acceptance of the same dispatch is
  refused naming him; the phone's position (set through the DevTools
  protocol) is recorded at the arrival with its distance; the release is
  recorded with a photo; a repair order follows.
- An arrival 2 km away or without a position is a warning on the ticket
  and a notification to the dispatchers; a GCJ-02 position is stored in
  WGS-84.
- A technician of the other firm sees none of it, on the page or the API,
  and cannot act on it; fire rescue sees a level-3 dispatch.
- The GCJ-02 converter on known points.
"""
import base64
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from support.browser import PASSWORD, Chromium
from support.db import DATABASE_URI, admin_sql
from support.process import BIN, ROOT, free_port, run, stop, wait_for
from test_maintenance_portal import (
    PHONE, Session, locate, photo_jpeg, set_files, tap, text, toast)

SCREENSHOT = ROOT / 'docs' / 'screenshots' / 'rescue-portal-phone.png'
FAILURE_SCREENSHOT = ROOT / 'var' / 'test-rescue-portal-failure.png'
POSITION_A = (25.4352, 119.0078)
POSITION_B = (25.4590, 119.1160)
TICKET = 'elevator.rescue.ticket'
DISPATCH = 'elevator.rescue.dispatch'

SETUP_DATA = textwrap.dedent('''
    import datetime as dt, json, sys
    from decimal import Decimal
    from trytond import config
    config.update_etc(sys.argv[1])
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    database, spec = sys.argv[2], json.loads(sys.argv[3])
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, context={'language': 'en'}) as tx:
        ModelData = pool.get('ir.model.data')
        Lang = pool.get('ir.lang')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        User = pool.get('res.user')
        Contract = pool.get('elevator.maintenance.contract')
        zh_cn, = Lang.search([('code', '=', 'zh_CN')])
        today = dt.date.today()
        result = {'firms': {}, 'users': {}}

        def user(login, name, group, units):
            new, = User.create([{
                'login': login, 'name': name, 'password': spec['password'],
                'language': zh_cn.id,
                'groups': [('add', [ModelData.get_id('elevator', group)])],
                'elevator_units': [('add', units)]}])
            result['users'][login] = new.id
        for key, firm_spec in spec['firms'].items():
            firm, estate = Party.create([{
                'name': firm_spec['name'], 'is_maintenance_unit': True}, {
                'name': firm_spec['estate'], 'is_user_unit': True}])
            region = ModelData.get_id('elevator',
                'region_' + firm_spec['district'])
            lat, lon = firm_spec['position']
            place, = Place.create([{
                'name': firm_spec['place'], 'category': 'residential',
                'region': region, 'latitude': lat, 'longitude': lon,
                'address': firm_spec['address']}])
            elevator, = Elevator.create([{
                'registration_code': firm_spec['code'],
                'rescue_code': firm_spec['rescue_code'],
                'category': '3110', 'region': region, 'place': place.id,
                'building': '1号楼2单元', 'user_unit': estate.id,
                'latitude': lat, 'longitude': lon}])
            Elevator.put_in_use([elevator])
            contract, = Contract.create([{
                'maintenance_unit': firm.id, 'user_unit': estate.id,
                'start_date': today,
                'end_date': today + dt.timedelta(days=364),
                'price': Decimal('2400'),
                'elevators': [('add', [elevator.id])]}])
            Contract.propose([contract])
            Contract.accept([contract])
            for login, name in firm_spec['technicians']:
                user(login, name, 'group_technician', [firm.id])
            result['firms'][key] = {'firm': firm.id, 'elevator': elevator.id}
        user('dispatcher1', '调度员', 'group_dispatcher', [])
        user('fire1', '消防指挥', 'group_fire', [])
        tx.commit()
    with open(sys.argv[4], 'w') as out:
        json.dump(result, out)
    ''')

SPEC = {
    'password': PASSWORD,
    'firms': {
        'a': {
            'name': '莆田市安达电梯工程有限公司', 'estate': '万达物业',
            'district': '350302', 'place': '万达华府', 'position': POSITION_A,
            'address': '城厢区荔华东大道8号',
            'code': '31103503022016000101', 'rescue_code': '350101',
            'technicians': [('tech_a1', '王建国'), ('tech_a2', '李明')],
            },
        'b': {
            'name': '莆田市荔城电梯有限公司', 'estate': '涵江物业',
            'district': '350303', 'place': '涵江花园', 'position': POSITION_B,
            'address': '涵江区涵华西路1号',
            'code': '31103503032017000202', 'rescue_code': '350202',
            'technicians': [('tech_b1', '陈志强')],
            },
        },
    }


# -- the converter ------------------------------------------------------------

# WGS-84 → GCJ-02 pairs published with eviltransform's tests (an
# implementation independent of prcoords).
KNOWN = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
    ]


def test_gcj02_known_points():
    from trytond.modules.elevator_rescue import geo
    for wgs, gcj in KNOWN:
        lat, lon = geo.to_wgs84(*gcj, crs='gcj02')
        assert geo.distance_m(lat, lon, *wgs) < 0.5, (wgs, lat, lon)
        assert geo.to_wgs84(*wgs, crs='wgs84') == wgs
    # The offset in Putian is a few hundred metres: converting matters.
    import prcoords
    shifted = prcoords.wgs_gcj(POSITION_A)
    assert 200 < geo.distance_m(*shifted, *POSITION_A) < 800
    with pytest.raises(ValueError):
        geo.to_wgs84(25.0, 119.0, crs='bd09')


# -- server ------------------------------------------------------------------

@pytest.fixture(scope='module')
def workdir():
    path = Path(tempfile.mkdtemp(prefix='elevator-rescue-portal-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def database(workdir):
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_rescue_portal_{uuid.uuid4().hex[:8]}'
    port = free_port()
    conf = workdir / 'trytond.conf'
    (workdir / 'filestore').mkdir()
    conf.write_text(textwrap.dedent(f'''\
        [database]
        uri = {DATABASE_URI}
        path = {workdir / 'filestore'}
        [web]
        listen = 127.0.0.1:{port}
        [session]
        timeout = 86400
        max_attempt = 100
        '''))
    passfile = workdir / 'admin-password'
    passfile.write_text(PASSWORD + '\n')
    log = workdir / 'setup.log'
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
    env.pop('TRYTOND_CONFIG', None)
    admin_sql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    try:
        run([str(BIN / 'trytond-admin'), '-c', str(conf), '-d', name,
                '-u', 'elevator_rescue', 'elevator_maintenance',
                '--activate-dependencies', '-l', 'zh_CN',
                '--email', 'admin@example.com'], log, env)
        result = workdir / 'setup.json'
        run([sys.executable, '-c', SETUP_DATA, str(conf), name,
                json.dumps(SPEC), str(result)], log, env)
        yield {'name': name, 'conf': conf, 'port': port,
            **json.loads(result.read_text())}
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope='module')
def server(database, workdir):
    log = workdir / 'trytond.log'
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    with open(log, 'ab') as out:
        process = subprocess.Popen(
            [str(BIN / 'trytond'), '-c', str(database['conf']),
                '-d', database['name']],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{database['port']}/"

    def ready():
        if process.poll() is not None:
            raise AssertionError("trytond exited:\n"
                + log.read_text(errors='replace')[-4000:])
        try:
            with urllib.request.urlopen(
                    f"{url}{database['name']}/elevator/portal/rescue/",
                    timeout=5) as page:
                return b'rescue.js' in page.read()
        except (urllib.error.URLError, ConnectionError, OSError):
            return False
    try:
        wait_for(ready, "trytond to serve the rescue page", interval=0.5)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope='module')
def dispatcher(server, database):
    return Session(server, database['name'], 'dispatcher1')


class Portal:
    "The page's JSON API with a user's session, as the page calls it."

    def __init__(self, server, database, login):
        self.session = Session(server, database, login)
        self.base = f'{server}{database}/elevator/portal/rescue/api/'

    def __call__(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data,
            method=method, headers={**self.session.headers,
                'Content-Type': 'application/json', **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b'null')


def open_ticket(dispatcher, firm, trapped=2):
    "A call about the firm's elevator, dispatched: (ticket id, dispatch id)."
    ticket_id, = dispatcher(TICKET, 'create', [{
                'elevator': firm['elevator'], 'source': 'phone',
                'trapped_persons': trapped,
                'description': '轿厢停在5楼与6楼之间'}])
    dispatcher(TICKET, 'dispatch', [ticket_id])
    dispatch_ids = dispatcher(DISPATCH, 'search',
        [('ticket', '=', ticket_id)], 0, None, None)
    return ticket_id, dispatch_ids[-1]


def ticket_of(dispatcher, ticket_id, *fields):
    row, = dispatcher(TICKET, 'read', [ticket_id], list(fields))
    return row


def offset(position, metres_north):
    "A position metres_north of position (1° latitude ≈ 111.2 km)."
    return (position[0] + metres_north / 111195.0, position[1])


# -- the phone -------------------------------------------------------------

@pytest.fixture
def phone(workdir, server):
    binary = shutil.which('chromium') or shutil.which('chromium-browser')
    assert binary, "chromium is missing: run scripts/ensure-browser.sh"
    profile = Path(tempfile.mkdtemp(prefix='chromium-', dir=workdir))
    chromium = Chromium(binary, profile, workdir / 'chromium.log',
        width=PHONE[0], height=PHONE[1])
    try:
        chromium.open_page()
        chromium.send('Emulation.setDeviceMetricsOverride', {
                'width': PHONE[0], 'height': PHONE[1],
                'deviceScaleFactor': 1, 'mobile': True})
        chromium.send('Emulation.setTouchEmulationEnabled',
            {'enabled': True, 'maxTouchPoints': 5})
        chromium.send('Emulation.setTimezoneOverride',
            {'timezoneId': 'Europe/London'})
        chromium.send('Browser.grantPermissions', {
                'origin': server.rstrip('/'),
                'permissions': ['geolocation']}, session=False)
        yield chromium
    finally:
        chromium.close()


def log_in(phone, server, database, login):
    phone.navigate(f"{server}{database}/elevator/portal/rescue/")
    phone.wait_js('!!document.getElementById("login")', "the login form")
    phone.type_text('#login', login)
    phone.type_text('#password', PASSWORD)
    tap(phone, '#login-submit')
    phone.wait_js('!!document.getElementById("dispatch-list")',
        "the list of dispatches")


@contextlib.contextmanager
def evidence(phone, workdir):
    try:
        yield
    except BaseException:
        try:
            phone.screenshot(FAILURE_SCREENSHOT)
            print(f"screenshot of the failure: {FAILURE_SCREENSHOT}")
        except Exception:
            pass
        print("page:", phone.js('document.body.innerText')[:3000])
        errors = phone.errors()
        if errors:
            print("browser errors:", *errors, sep='\n  ')
        log = workdir / 'trytond.log'
        if log.exists():
            print("end of the trytond log:",
                log.read_text(errors='replace')[-6000:], sep='\n')
        raise


def test_phone_rescue(server, database, dispatcher, phone, workdir):
    "Dispatch → the phone rings → accept → arrive with position → release."
    name = database['name']
    firm = database['firms']['a']
    with evidence(phone, workdir):
        log_in(phone, server, name, 'tech_a1')
        phone.wait_js('!!document.getElementById("no-dispatch")',
            "the empty list")
        assert phone.js('document.body.dataset.alerts') == '0'

        ticket_id, dispatch_id = open_ticket(dispatcher, firm)
        selector = f'a[data-dispatch="{dispatch_id}"]'
        # The page polls: the new dispatch appears with the alarm.
        phone.wait_js(f'!!document.querySelector({json.dumps(selector)})',
            "the new dispatch on the page")
        assert int(phone.js('document.body.dataset.alerts')) >= 1
        listed = text(phone, '#dispatch-list')
        assert '万达华府' in listed and '待接单' in listed

        tap(phone, selector)
        phone.wait_js('!!document.getElementById("accept")',
            "the accept button")
        page = text(phone)
        assert '被困 2 人' in page and '城厢区荔华东大道8号' in page
        geo_link = phone.js('document.getElementById("nav-geo").href')
        assert geo_link.startswith('geo:25.435200,119.007800')
        amap = phone.js('document.getElementById("nav-amap").href')
        assert amap.startswith('https://uri.amap.com/marker?position=')
        # The AMap link is in GCJ-02: a few hundred metres off WGS-84.
        lon, lat = map(float, re.search(r'position=([\d.]+),([\d.]+)',
                amap).groups())
        assert 0.001 < abs(lon - POSITION_A[1]) < 0.01

        # Times in Putian time whatever the phone's zone (London here).
        dispatched = ticket_of(dispatcher, ticket_id, 'dispatched_at')[
            'dispatched_at']
        local = dispatched + dt.timedelta(hours=8)
        assert local.strftime('%Y-%m-%d %H:%M') in page

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        phone.js('document.getElementById("toast").hidden = true')
        phone.screenshot(SCREENSHOT)

        tap(phone, '#accept')
        phone.wait_js('!!document.getElementById("arrive")',
            "the arrival button")
        assert '已接单' in toast(phone)

        # The colleague's phone accepts the same dispatch: refused, named.
        colleague = Portal(server, name, 'tech_a2')
        status, answer = colleague('POST', f'dispatches/{dispatch_id}/accept',
            {})
        assert status == 409, answer
        assert '王建国' in answer['error']['message']
        assert '已于' in answer['error']['message']
        row = ticket_of(dispatcher, ticket_id, 'state', 'accepted_by')
        assert row['state'] == 'accepted'
        assert row['accepted_by'] == database['users']['tech_a1']

        # On site, 20 m from the elevator.
        locate(phone, *offset(POSITION_A, 20))
        tap(phone, '#arrive')
        phone.wait_js('!!document.getElementById("release")',
            "the release form")
        row = ticket_of(dispatcher, ticket_id, 'state', 'arrival_distance',
            'arrival_warning')
        assert row['state'] == 'arrived'
        assert 18 <= row['arrival_distance'] <= 22
        assert row['arrival_warning'] is None
        stored, = dispatcher(DISPATCH, 'read', [dispatch_id],
            ['arrival_latitude', 'arrival_longitude', 'arrival_crs',
                'arrival_distance', 'arrived_by'])
        assert abs(stored['arrival_latitude']
            - offset(POSITION_A, 20)[0]) < 1e-6
        assert stored['arrival_crs'] == 'wgs84'
        assert stored['arrived_by'] == database['users']['tech_a1']
        assert '20 米' in text(phone) or '19 米' in text(phone) \
            or '21 米' in text(phone)
        assert not phone.js('!!document.getElementById("arrival-warning")')

        # A photo of the scene, then the release.
        set_files(phone, '#photo-input', photo_jpeg(workdir / 'scene.jpg'))
        phone.wait_js('''(document.getElementById("photo-count") || {})
            .innerText === "现场照片（1）"''', "the photo to be uploaded")
        phone.js('document.getElementById("released").value = "2"')
        phone.js('document.getElementById("injuries").value = "0"')
        phone.js('document.getElementById("cause").value = "door"')
        tap(phone, '#release')
        phone.wait_js('!document.getElementById("release")',
            "the release to be recorded")
        row = ticket_of(dispatcher, ticket_id, 'state', 'released_persons',
            'injuries', 'cause', 'released_by')
        assert (row['state'], row['released_persons'], row['injuries'],
            row['cause']) == ('released', 2, 0, 'door')
        assert row['released_by'] == database['users']['tech_a1']
        photos = dispatcher('ir.attachment', 'search_read',
            [('resource', '=', f'{TICKET},{ticket_id}')], 0, None, None,
            ['name', 'data'])
        assert len(photos) == 1 and photos[0]['name'].endswith('.jpg')
        assert photos[0]['data'][:3] == b'\xff\xd8\xff'

        tap(phone, '#repair')
        phone.wait_js('!document.getElementById("repair")',
            "the repair order")
        row = ticket_of(dispatcher, ticket_id, 'repair_order',
            'repair_follows')
        assert row['repair_follows']
        assert row['repair_order'].startswith('elevator.repair.order,')
        assert '维修单' in text(phone)
        # The dispatcher closes the ticket: no second repair order.
        dispatcher(TICKET, 'close', [ticket_id])
        assert ticket_of(dispatcher, ticket_id, 'repair_order')[
            'repair_order'] == row['repair_order']
        width = phone.js('document.documentElement.scrollWidth')
        assert width <= PHONE[0]


def test_simultaneous_accept(server, database, dispatcher):
    "Two technicians of the firm accept at once: one wins, one is told."
    name = database['name']
    ticket_id, dispatch_id = open_ticket(dispatcher, database['firms']['a'])
    phones = {login: Portal(server, name, login)
        for login in ['tech_a1', 'tech_a2']}
    start = threading.Barrier(2)
    answers = {}

    def accept(login):
        start.wait()
        answers[login] = phones[login](
            'POST', f'dispatches/{dispatch_id}/accept', {})
    threads = [threading.Thread(target=accept, args=(login,))
        for login in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [200, 409], answers
    winner, = [login for login, (status, _) in answers.items()
        if status == 200]
    loser, = [answer for status, answer in answers.values()
        if status == 409]
    names = {'tech_a1': '王建国', 'tech_a2': '李明'}
    assert names[winner] in loser['error']['message'], loser
    row = ticket_of(dispatcher, ticket_id, 'accepted_by', 'state')
    assert row == {'id': ticket_id, 'state': 'accepted',
        'accepted_by': database['users'][winner]}
    dispatcher(TICKET, 'write', [ticket_id], {'cancel_reason': 'test'})
    dispatcher(TICKET, 'cancel', [ticket_id])


def test_arrival_warnings(server, database, dispatcher):
    "Too far, no position, GCJ-02: stored in WGS-84, warned."
    name = database['name']
    firm = database['firms']['a']
    tech = Portal(server, name, 'tech_a2')
    notified = len(dispatcher('res.notification', 'search', [], 0, None,
            None))

    # 2 km away.
    ticket_id, dispatch_id = open_ticket(dispatcher, firm)
    assert tech('POST', f'dispatches/{dispatch_id}/accept', {})[0] == 200
    far = offset(POSITION_A, 2000)
    status, answer = tech('POST', f'dispatches/{dispatch_id}/arrive', {
            'position': {'latitude': far[0], 'longitude': far[1],
                'accuracy': 15}})
    assert status == 200, answer
    assert answer['dispatch']['arrival_warning'] == 'too_far'
    assert answer['dispatch']['arrival_warning_label'] == '到达定位距电梯过远'
    row = ticket_of(dispatcher, ticket_id, 'arrival_warning',
        'arrival_distance', 'state')
    assert row['state'] == 'arrived' and row['arrival_warning'] == 'too_far'
    assert 1990 <= row['arrival_distance'] <= 2010
    labels = [n['label'] for n in dispatcher('res.notification',
            'search_read', [], notified, None, None, ['label'])]
    assert any('2000 米' in label or '2001 米' in label
        or '1999 米' in label for label in labels), labels
    # The warning and the position are the workflow's: nobody writes them.
    with pytest.raises(Exception, match='cannot be changed directly'):
        dispatcher(TICKET, 'write', [ticket_id], {'arrival_warning': None})
    with pytest.raises(Exception):
        dispatcher(DISPATCH, 'write', [dispatch_id],
            {'arrival_distance': 0})
    with pytest.raises(Exception):
        tech.session(TICKET, 'write', [ticket_id], {'arrival_warning': None})
    # The dispatcher (and the firm) find the warned tickets.
    assert dispatcher(TICKET, 'search',
        [('arrival_warning', '=', 'too_far')], 0, None, None) == [ticket_id]
    assert tech.session(TICKET, 'search',
        [('arrival_warning', '!=', None)], 0, None,
        [('arrival_distance', 'DESC')]) == [ticket_id]
    dispatcher(TICKET, 'write', [ticket_id], {
            'released_persons': 1, 'injuries': 0, 'cause': 'power'})
    dispatcher(TICKET, 'release', [ticket_id])
    dispatcher(TICKET, 'close', [ticket_id])

    # No position.
    ticket_id, dispatch_id = open_ticket(dispatcher, firm)
    tech('POST', f'dispatches/{dispatch_id}/accept', {})
    status, answer = tech('POST', f'dispatches/{dispatch_id}/arrive',
        {'position': None})
    assert status == 200
    assert ticket_of(dispatcher, ticket_id, 'arrival_warning')[
        'arrival_warning'] == 'no_position'
    # Bad input: refused with a translated message, nothing written.
    status, answer = tech('POST', f'dispatches/{dispatch_id}/release', {
            'released_persons': -1, 'injuries': 0, 'cause': 'door'})
    assert status == 409 and '0 或正整数' in answer['error']['message']
    status, answer = tech('POST', f'dispatches/{dispatch_id}/release', {
            'released_persons': 1, 'injuries': 0, 'cause': 'nonsense'})
    assert status == 409 and '困人原因' in answer['error']['message']
    assert ticket_of(dispatcher, ticket_id, 'state')['state'] == 'arrived'
    assert tech('POST', f'dispatches/{dispatch_id}/release', {
            'released_persons': 1, 'injuries': 0, 'cause': 'door'})[0] == 200
    dispatcher(TICKET, 'close', [ticket_id])

    # A GCJ-02 position (WeChat / AMap) of the elevator itself: converted.
    import prcoords
    gcj = prcoords.wgs_gcj(POSITION_A)
    ticket_id, dispatch_id = open_ticket(dispatcher, firm)
    tech('POST', f'dispatches/{dispatch_id}/accept', {})
    status, answer = tech('POST', f'dispatches/{dispatch_id}/arrive', {
            'position': {'latitude': 'x', 'longitude': gcj.lon}})
    assert status == 409 and '位置无效' in answer['error']['message']
    status, answer = tech('POST', f'dispatches/{dispatch_id}/arrive', {
            'position': {'latitude': gcj.lat, 'longitude': gcj.lon,
                'crs': 'gcj02'}})
    assert status == 200, answer
    stored, = dispatcher(DISPATCH, 'read', [dispatch_id],
        ['arrival_latitude', 'arrival_longitude', 'arrival_crs',
            'arrival_distance'])
    assert stored['arrival_crs'] == 'gcj02'
    assert stored['arrival_distance'] <= 1
    assert abs(stored['arrival_latitude'] - POSITION_A[0]) < 1e-5
    assert abs(stored['arrival_longitude'] - POSITION_A[1]) < 1e-5
    assert ticket_of(dispatcher, ticket_id, 'arrival_warning')[
        'arrival_warning'] is None
    tech('POST', f'dispatches/{dispatch_id}/release', {
            'released_persons': 1, 'injuries': 0, 'cause': 'door'})
    dispatcher(TICKET, 'close', [ticket_id])


ESCALATE = textwrap.dedent('''
    import datetime as dt, sys
    from trytond import config
    config.update_etc(sys.argv[1])
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.modules.elevator_rescue import clock
    pool = Pool(sys.argv[2])
    pool.init()
    with Transaction().start(sys.argv[2], 0) as tx:
        Ticket = pool.get('elevator.rescue.ticket')
        # The cron's pass, two hours on: every deadline has passed.
        Ticket.escalate_due(now=clock.now() + dt.timedelta(hours=2))
        tx.commit()
    ''')


def test_late_arrival(server, database, dispatcher, workdir):
    "A unit escalated for missing its arrival deadline still arrives."
    name = database['name']
    tech = Portal(server, name, 'tech_a1')
    ticket_id, dispatch_id = open_ticket(dispatcher, database['firms']['a'])
    assert tech('POST', f'dispatches/{dispatch_id}/accept', {})[0] == 200
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    run([sys.executable, '-c', ESCALATE, str(database['conf']), name],
        workdir / 'escalate.log', env)
    row = ticket_of(dispatcher, ticket_id, 'level', 'state')
    assert (row['level'], row['state']) == (3, 'dispatched')
    status, answer = tech('GET', f'dispatches/{dispatch_id}')
    assert status == 200
    assert answer['dispatch']['outcome'] == 'timed_out'
    assert answer['dispatch']['actions'] == ['arrive']
    assert dispatch_id in [d['id'] for d in tech('GET', 'dispatches')[1][
            'dispatches']]
    near = offset(POSITION_A, 50)
    status, answer = tech('POST', f'dispatches/{dispatch_id}/arrive', {
            'position': {'latitude': near[0], 'longitude': near[1]}})
    assert status == 200, answer
    assert 'release' in answer['dispatch']['actions']
    row = ticket_of(dispatcher, ticket_id, 'state', 'arrived_unit',
        'arrival_distance')
    assert row['state'] == 'arrived'
    assert row['arrived_unit'] == database['firms']['a']['firm']
    assert 48 <= row['arrival_distance'] <= 52
    status, answer = tech('POST', f'dispatches/{dispatch_id}/release', {
            'released_persons': 2, 'injuries': 1, 'cause': 'traction'})
    assert status == 200, answer
    dispatcher(TICKET, 'close', [ticket_id])


def test_other_firm_refused(server, database, dispatcher, phone, workdir):
    "Another firm's technician: nothing to see, nothing to do."
    name = database['name']
    ticket_id, dispatch_id = open_ticket(dispatcher, database['firms']['a'])
    other = Portal(server, name, 'tech_b1')
    status, answer = other('GET', 'dispatches')
    assert status == 200
    assert dispatch_id not in [d['id'] for d in answer['dispatches']]
    status, answer = other('GET', f'dispatches/{dispatch_id}')
    assert status == 404
    assert answer['error']['message'] == '该救援派单不存在，或不属于您的单位。'
    for action in ['accept', 'decline', 'arrive', 'release', 'repair']:
        status, _ = other('POST', f'dispatches/{dispatch_id}/{action}', {})
        assert status == 404, action
    status, _ = other('POST', f'dispatches/{dispatch_id}/photos',
        {'name': 'x.jpg', 'data': base64.b64encode(b'\xff\xd8\xff').decode()})
    assert status == 404
    # The JSON-RPC with his session refuses the dispatch and its ticket.
    for model, record in [(DISPATCH, dispatch_id), (TICKET, ticket_id)]:
        with pytest.raises(Exception):
            other.session(model, 'read', [record], ['id'])
    with pytest.raises(Exception):
        other.session(DISPATCH, 'accept', [dispatch_id])
    assert ticket_of(dispatcher, ticket_id, 'state')['state'] == 'dispatched'
    # No session, a foreign page: refused before anything is read.
    request = urllib.request.Request(other.base + 'dispatches')
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=60)
    assert info.value.code == 401
    status, _ = other('POST', f'dispatches/{dispatch_id}/accept', {},
        headers={'Origin': 'https://evil.example'})
    assert status == 403
    assert ticket_of(dispatcher, ticket_id, 'state')['state'] == 'dispatched'

    with evidence(phone, workdir):
        log_in(phone, server, name, 'tech_b1')
        phone.wait_js('!!document.getElementById("no-dispatch")',
            "the empty list")
        phone.navigate(f"{server}{name}/elevator/portal/rescue/"
            f"#/d/{dispatch_id}")
        phone.wait_js('!!document.getElementById("not-found")',
            "the refusal")
        assert '不属于您的单位' in text(phone)

    # The firm's own technician takes it; then fire rescue at level 3.
    dispatcher(TICKET, 'escalate', [ticket_id])
    level = ticket_of(dispatcher, ticket_id, 'level')['level']
    if level < 3:
        dispatcher(TICKET, 'escalate', [ticket_id])
    assert ticket_of(dispatcher, ticket_id, 'level')['level'] == 3
    fire = Portal(server, name, 'fire1')
    status, answer = fire('GET', 'dispatches')
    assert status == 200
    mine = [d for d in answer['dispatches'] if d['ticket_state'] ==
        'dispatched' and d['level'] == 3]
    assert mine and 'accept' in mine[0]['actions']
    status, answer = fire('POST', f"dispatches/{mine[0]['id']}/accept", {})
    assert status == 200, answer
    assert ticket_of(dispatcher, ticket_id, 'state')['state'] == 'accepted'
    # Fire rescue does not see the level-1 dispatches of the firms.
    assert all(d['level'] == 3 for d in fire('GET', 'dispatches')[1][
            'dispatches'])
