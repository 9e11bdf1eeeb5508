"""The maintenance H5 pages and the JSON-RPC, end to end, on a real server.

A fresh PostgreSQL database gets `elevator_maintenance` (zh_CN); two
competing maintenance firms each maintain one elevator of their own estate
under an active contract. A real trytond serves the H5 page at
/{db}/elevator/portal/ and the JSON-RPC.

- In headless Chromium at the size of a phone (360 x 740), a technician of
  the first firm logs in, scans the QR code of the car (an image given to
  the file input, decoded in the page), checks in with a colleague at the
  elevator's position, fills the checklist, takes a photo and checks out;
  the estate's safety manager logs in and confirms the record.
- A technician of the other firm cannot reach that elevator or record on
  the page, and the JSON-RPC with his session refuses every read or write
  of the first firm's records.
- Bad input through the RPC gets clear errors.

Chromium is driven by the helpers of tests/support/browser.py (DevTools over
a pipe). Needs TRYTOND_DATABASE_URI=postgresql://... (scripts/run-tests.sh).
"""
import base64
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest

from elevator_platform import scratch_db
from support.browser import PASSWORD, Chromium
from support.db import DATABASE_URI, admin_sql
from support.http import serving
from support.process import BIN, ROOT, free_port, run

SCREENSHOTS = ROOT / 'docs' / 'screenshots'
FAILURE_SCREENSHOT = ROOT / 'var' / 'test-maintenance-portal-failure.png'
PHONE = (360, 740)
# The elevators' positions; the phone is 20 m away.
POSITION_A = (25.4352, 119.0078)
POSITION_B = (25.4590, 119.1160)

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
        Technician = pool.get('elevator.maintenance.technician')
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        zh_cn, = Lang.search([('code', '=', 'zh_CN')])
        today = dt.date.today()
        result = {'firms': {}}
        for key, firm_spec in spec['firms'].items():
            firm, estate = Party.create([{
                'name': firm_spec['name'], 'is_maintenance_unit': True}, {
                'name': firm_spec['estate'], 'is_user_unit': True,
                'is_property_company': True}])
            region = ModelData.get_id('elevator', 'region_' + firm_spec['district'])
            lat, lon = firm_spec['position']
            place, = Place.create([{
                'name': firm_spec['place'], 'category': 'residential',
                'region': region, 'latitude': lat, 'longitude': lon,
                'property_company': estate.id}])
            elevator, = Elevator.create([{
                'registration_code': firm_spec['code'],
                'rescue_code': firm_spec['rescue_code'],
                'category': '3110', 'region': region, 'place': place.id,
                'building': '1号楼', 'user_unit': estate.id,
                'latitude': lat, 'longitude': lon}])
            Elevator.put_in_use([elevator])
            users = {}
            for login, group, unit in firm_spec['users']:
                user, = User.create([{
                    'login': login, 'name': login, 'password': spec['password'],
                    'language': zh_cn.id,
                    'groups': [('add', [ModelData.get_id('elevator', group)])],
                    'elevator_units': [('add', [
                        firm.id if unit == 'firm' else estate.id])],
                    }])
                users[login] = user.id
            technicians = {}
            for login, name, certified in firm_spec['technicians']:
                technician, = Technician.create([{
                    'name': name, 'firm': firm.id, 'user': users[login],
                    'certificate_number': 'T3503' + login if certified else None,
                    'certificate_valid_until': (today + dt.timedelta(days=400)
                        if certified else None)}])
                technicians[login] = technician.id
            contract, = Contract.create([{
                'maintenance_unit': firm.id, 'user_unit': estate.id,
                'start_date': today, 'end_date': today + dt.timedelta(days=364),
                'price': Decimal('2400'), 'elevators': [('add', [elevator.id])]}])
            Contract.propose([contract])
            Contract.accept([contract])
            orders = Order.search([('elevator', '=', elevator.id)],
                order=[('planned_date', 'ASC')])
            result['firms'][key] = {
                'firm': firm.id, 'estate': estate.id, 'elevator': elevator.id,
                'public_token': elevator.public_token, 'users': users,
                'technicians': technicians, 'orders': [o.id for o in orders],
                'contract': contract.id}
        tx.commit()
    # The tests start visits 40 minutes back (the phone had no network).
    with Transaction().start(database, 0,
            _lock_tables=['elevator_configuration']) as tx:
        Configuration = pool.get('elevator.configuration')
        config = Configuration(1)
        config.maintenance_check_in_max_lag = 60
        config.save()
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
            'code': '31103503022016000101', 'rescue_code': '350101',
            'users': [
                ('tech_a1', 'group_technician', 'firm'),
                ('tech_a2', 'group_technician', 'firm'),
                ('manager_a', 'group_firm_manager', 'firm'),
                ('unit_a', 'group_user_unit', 'estate')],
            'technicians': [('tech_a1', '王建国', True),
                ('tech_a2', '李明', False)],
            },
        'b': {
            'name': '莆田市荔城电梯有限公司', 'estate': '涵江物业',
            'district': '350303', 'place': '涵江花园', 'position': POSITION_B,
            'code': '31103503032017000202', 'rescue_code': '350202',
            'users': [
                ('tech_b1', 'group_technician', 'firm'),
                ('tech_b2', 'group_technician', 'firm'),
                ('manager_b', 'group_firm_manager', 'firm'),
                ('unit_b', 'group_user_unit', 'estate')],
            'technicians': [('tech_b1', '陈志强', True),
                ('tech_b2', '林海', False)],
            },
        },
    }


# -- server and JSON-RPC ---------------------------------------------------

@pytest.fixture(scope='module')
def workdir():
    path = Path(tempfile.mkdtemp(prefix='elevator-maintenance-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def database(workdir):
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_maintenance_{uuid.uuid4().hex[:8]}'
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
    try:
        scratch_db.create_database(name, modules=('elevator_maintenance',))
        result = workdir / 'setup.json'
        run([sys.executable, '-c', SETUP_DATA, str(conf), name,
                json.dumps(SPEC), str(result)], log, env)
        yield {'name': name, 'conf': conf, 'port': port,
            **json.loads(result.read_text())}
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope='module')
def server(database, workdir):
    url = f"http://127.0.0.1:{database['port']}/"

    def ready():
        with urllib.request.urlopen(
                f"{url}{database['name']}/elevator/portal/",
                timeout=5) as page:
            return b'app.js' in page.read()
    with serving(database['conf'], database['name'],
            workdir / 'trytond.log', ready,
            "trytond to serve the H5 page"):
        yield url


class RPCError(Exception):
    def __init__(self, error):
        super().__init__(error)
        self.error = error

    @property
    def message(self):
        if (isinstance(self.error, list) and len(self.error) > 1
                and isinstance(self.error[1], list)):
            return self.error[1][0]
        return str(self.error)


def _encode(value):
    if isinstance(value, bytes):
        return {'__class__': 'bytes',
            'base64': base64.b64encode(value).decode()}
    if isinstance(value, dt.datetime):
        return {'__class__': 'datetime', 'year': value.year,
            'month': value.month, 'day': value.day, 'hour': value.hour,
            'minute': value.minute, 'second': value.second,
            'microsecond': value.microsecond}
    if isinstance(value, dt.date):
        return {'__class__': 'date', 'year': value.year,
            'month': value.month, 'day': value.day}
    raise TypeError(value)


def _decode(value):
    kind = value.get('__class__')
    if kind == 'date':
        return dt.date(value['year'], value['month'], value['day'])
    if kind == 'datetime':
        return dt.datetime(value['year'], value['month'], value['day'],
            value['hour'], value['minute'], value['second'],
            value.get('microsecond', 0))
    if kind == 'Decimal':
        return value['decimal']
    if kind == 'bytes':
        return base64.b64decode(value['base64'])
    return value


class Session:
    "A JSON-RPC session of a user, as the H5 page opens it."

    def __init__(self, server, database, login, password=PASSWORD,
            language='en'):
        self.url = f'{server}{database}/rpc/'
        self.login = login
        user_id, key, *_ = self.post('common.db.login',
            [login, {'password': password}, 'zh_CN'], auth=False)
        token = base64.b64encode(
            f'{login}:{user_id}:{key}'.encode()).decode()
        self.headers = {'Authorization': f'Session {token}'}
        self.user_id = user_id
        self.context = self.post('model.res.user.get_preferences',
            [True, {}])
        # Messages in English here: the page shows them in the user's
        # language (checked in the browser tests).
        self.context['language'] = language

    def post(self, method, params, auth=True):
        body = json.dumps({'id': 1, 'method': method, 'params': params},
            default=_encode).encode()
        headers = {'Content-Type': 'application/json'}
        if auth:
            headers.update(self.headers)
        request = urllib.request.Request(self.url, data=body,
            headers=headers)
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read(), object_hook=_decode)
        if 'error' in answer and answer['error']:
            raise RPCError(answer['error'])
        return answer['result']

    def __call__(self, model, method, *args):
        return self.post(f'model.{model}.{method}', [*args, self.context])


ORDER = 'elevator.maintenance.order'
LINE = 'elevator.maintenance.order.line'


@pytest.fixture(scope='module')
def admin(server, database):
    return Session(server, database['name'], 'admin')


def rpc_error(call, *args):
    "The message of the error the call raises."
    with pytest.raises(RPCError) as info:
        call(*args)
    return info.value.message


# -- the phone ---------------------------------------------------------------

def qr_png(text, path):
    "A photo-like PNG of the QR code of text (8 px modules, light border)."
    from PIL import Image

    from trytond.modules.elevator.reports.idcard import qr_matrix
    matrix = qr_matrix(text)
    size, scale, border = len(matrix), 8, 6
    side = (size + 2 * border) * scale
    image = Image.new('L', (side + 200, side + 120), 235)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x = 100 + (c + border) * scale
                y = 60 + (r + border) * scale
                image.paste(20, (x, y, x + scale, y + scale))
    image.paste(255, (100, 60, 100 + side, 60 + scale * border - 8))
    image.save(path)
    return path


def photo_jpeg(path):
    "A 2400 x 1800 camera photo: the page shrinks it before sending."
    from PIL import Image
    image = Image.linear_gradient('L').resize((2400, 1800)).convert('RGB')
    image.save(path, quality=92)
    return path


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
                'deviceScaleFactor': 2, 'mobile': True})
        chromium.send('Emulation.setTouchEmulationEnabled',
            {'enabled': True, 'maxTouchPoints': 5})
        chromium.send('Browser.grantPermissions', {
                'origin': server.rstrip('/'),
                'permissions': ['geolocation']}, session=False)
        yield chromium
    finally:
        chromium.close()


def locate(phone, latitude, longitude):
    phone.send('Emulation.setGeolocationOverride', {
            'latitude': latitude, 'longitude': longitude, 'accuracy': 10})


def visible(phone, selector):
    return phone.js(f'''(sel => {{ const e = document.querySelector(sel);
        return !!(e && e.getClientRects().length && !e.disabled); }})(
        {json.dumps(selector)})''')


def tap(phone, selector):
    "Scroll the element into view and tap its centre."
    phone.wait_js(f'''(sel => {{ const e = document.querySelector(sel);
        return !!(e && e.getClientRects().length && !e.disabled); }})(
        {json.dumps(selector)})''', f"{selector} to be visible")
    point = phone.js(f'''(sel => {{
        const e = document.querySelector(sel);
        e.scrollIntoView({{block: 'center'}});
        const r = e.getBoundingClientRect();
        return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
    }})({json.dumps(selector)})''')
    phone.click(point['x'], point['y'])


def set_files(phone, selector, *paths):
    "Give files to a file input, as the camera or gallery would."
    result = phone.send('Runtime.evaluate', {
            'expression': f'document.querySelector({json.dumps(selector)})'})
    phone.send('DOM.setFileInputFiles', {
            'files': [str(p) for p in paths],
            'objectId': result['result']['objectId']})


def text(phone, selector='body'):
    return phone.js(f'''(document.querySelector({json.dumps(selector)})
        || {{innerText: ''}}).innerText''')


def toast(phone):
    return phone.js('''(() => { const t = document.getElementById('toast');
        return t.hidden ? '' : t.innerText; })()''')


def log_in(phone, server, database, login):
    phone.navigate(f"{server}{database}/elevator/portal/")
    phone.wait_js('!!document.getElementById("login")', "the login form")
    phone.type_text('#login', login)
    phone.type_text('#password', PASSWORD)
    tap(phone, '#login-submit')
    phone.wait_js('!document.getElementById("login-form")', "the login")


@contextlib.contextmanager
def evidence(phone, workdir):
    "On failure, keep a screenshot, print the page's errors and server log."
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


def no_overflow(phone):
    "Nothing wider than the phone's screen."
    width = phone.js('document.documentElement.scrollWidth')
    assert width <= PHONE[0], f"page {width} px wide on a {PHONE[0]} px phone"


def test_h5_whole_visit(server, database, admin, phone, workdir):
    "A technician records a whole visit on his phone; the estate confirms."
    name = database['name']
    firm = database['firms']['a']
    order_id = firm['orders'][0]
    colleague = firm['technicians']['tech_a2']
    elevator_url = ('http://127.0.0.1:8000/demo/elevator/h5/e/'
        + firm['public_token'])
    qr = qr_png(elevator_url, workdir / 'car-qr.png')
    photo = photo_jpeg(workdir / 'photo.jpg')
    lat, lon = POSITION_A
    locate(phone, lat + 0.00018, lon)
    with evidence(phone, workdir):
        log_in(phone, server, name, 'tech_a1')
        phone.wait_js('document.querySelectorAll("#order-list [data-order]")'
            '.length > 0', "the technician's visits")
        assert '待办维保' in text(phone)
        assert '万达华府' in text(phone, '#order-list')
        # The other firm's elevator is not in his list.
        assert '涵江花园' not in text(phone)
        no_overflow(phone)

        # Scan the QR code of the car.
        set_files(phone, '#scan-input', qr)
        phone.wait_js('location.hash.startsWith("#/elevator/")',
            "the scanned elevator")
        phone.wait_js('!!document.getElementById("check-in")',
            "the check-in button")
        assert '31103503022016000101' in text(phone, '#elevator')
        assert '年度维保' in text(phone)
        phone.wait_js(f'!!document.querySelector('
            f'"[data-technician=\\"{colleague}\\"]")', "the colleagues")
        tap(phone, f'[data-technician="{colleague}"]')
        phone.screenshot(SCREENSHOTS / 'maintenance-h5-check-in.png')
        tap(phone, '#check-in')
        phone.wait_js(f'location.hash == "#/order/{order_id}"',
            "the checklist")
        phone.wait_js('document.querySelectorAll("#checklist .item")'
            '.length == 76', "the 76 items of a yearly visit")
        no_overflow(phone)

        # One item adjusted with a note, one abnormal (a note is needed).
        tap(phone, '[data-code="A1-05"] [data-result="adjusted"]')
        phone.wait_js('!!document.querySelector("[data-code=\\"A1-05\\"] '
            'button.on[data-result=\\"adjusted\\"]")', "A1-05 adjusted")
        tap(phone, '[data-code="A1-13"] [data-result="abnormal"]')
        phone.wait_js('!!document.querySelector('
            '"[data-code=\\"A1-13\\"] input.note")', "the note of A1-13")
        assert '异常情况' in toast(phone)
        phone.type_text('[data-code="A1-13"] input.note', '油杯漏油，已更换油杯')
        phone.js('document.querySelector("[data-code=\\"A1-13\\"] input.note")'
            '.dispatchEvent(new Event("change"))')
        phone.wait_js('!!document.querySelector("[data-code=\\"A1-13\\"] '
            'button.on[data-result=\\"abnormal\\"]")', "A1-13 abnormal")
        phone.screenshot(SCREENSHOTS / 'maintenance-h5-checklist.png')
        tap(phone, '#all-normal')
        phone.wait_js('(document.getElementById("progress-text") || {})'
            '.innerText == "已填 76 / 76"', "every item filled")

        # A photo from the camera, shrunk by the page.
        set_files(phone, '#photo-input', photo)
        phone.wait_js('document.querySelectorAll("#photos img").length == 1',
            "the photo")
        phone.type_text('#findings', '制动器间隙偏大，已调整；油杯漏油已更换。')
        tap(phone, '#check-out')
        phone.wait_js('!!document.getElementById("summary")',
            "the end of the visit")
        assert '等待使用单位确认' in text(phone, '#summary')
        assert phone.errors() == []

    order, = admin(ORDER, 'read', [order_id], ['state', 'check_in_distance',
            'duration', 'findings', 'technicians', 'photo_count',
            'check_in', 'check_out', 'number'])
    assert order['state'] == 'done'
    assert 10 <= order['check_in_distance'] <= 30
    assert order['check_out'] > order['check_in']
    assert len(order['technicians']) == 2
    assert order['photo_count'] == 1
    assert order['findings'].startswith('制动器间隙偏大')
    lines = admin(LINE, 'search_read', [('order', '=', order_id)], 0, None,
        None, ['code', 'result', 'note'])
    results = {line['code']: (line['result'], line['note'])
        for line in lines}
    assert results['A1-05'][0] == 'adjusted'
    assert results['A1-13'] == ('abnormal', '油杯漏油，已更换油杯')
    assert {r for r, _ in results.values()} == {
        'normal', 'adjusted', 'abnormal'}
    photo_row, = admin('ir.attachment', 'search_read',
        [('resource', '=', f'{ORDER},{order_id}')], 0, None, None,
        ['data_size', 'name'])
    # Shrunk to at most 1600 px wide: far below the 5 MB limit.
    assert 0 < photo_row['data_size'] < 1_000_000
    # A yearly visit of a few minutes: the bureau is warned.
    warnings = admin('elevator.maintenance.warning', 'search_read',
        [('order', '=', order_id)], 0, None, None, ['type'])
    assert [w['type'] for w in warnings] == ['too_short']

    # The estate's safety manager confirms on his own page.
    with evidence(phone, workdir):
        tap(phone, '#logout')
        log_in(phone, server, name, 'unit_a')
        phone.wait_js('document.querySelectorAll("#review-list [data-order]")'
            '.length == 1', "the record to confirm")
        tap(phone, f'#review-list [data-order="{order_id}"]')
        phone.wait_js('!!document.getElementById("confirm")',
            "the confirmation button")
        record = text(phone, '#record')
        assert '王建国' in record and '李明' in record
        assert '油杯漏油' in record
        phone.wait_js('document.querySelectorAll("#photos img[src]").length'
            ' == 1', "the photo")
        no_overflow(phone)
        phone.screenshot(SCREENSHOTS / 'maintenance-h5-confirm.png')
        tap(phone, '#confirm')
        phone.wait_js('(document.getElementById("summary") || {innerText: ""})'
            '.innerText.includes("已确认")', "the confirmation")
        assert phone.errors() == []
    order, = admin(ORDER, 'read', [order_id], ['state', 'confirmed_by'])
    assert order['state'] == 'confirmed'
    assert order['confirmed_by'] == firm['users']['unit_a']


def test_h5_other_firm(server, database, phone, workdir):
    "The other firm's technician reaches neither the elevator nor the record."
    name = database['name']
    mine = database['firms']['b']
    theirs = database['firms']['a']
    with evidence(phone, workdir):
        log_in(phone, server, name, 'tech_b1')
        phone.wait_js('document.querySelectorAll("#order-list [data-order]")'
            '.length > 0', "his own visits")
        listed = {int(i) for i in phone.js('Array.from(document.'
                'querySelectorAll("#order-list [data-order]"))'
                '.map(e => e.dataset.order)')}
        assert listed <= set(mine['orders'])
        assert '万达华府' not in text(phone)
        # Typing the rescue code of the other firm's elevator.
        phone.type_text('#code', '350101')
        tap(phone, '#find')
        phone.wait_js('!!document.getElementById("not-found")',
            "the refusal")
        assert '350101' in text(phone, '#not-found')
        assert '没有' in text(phone, '#not-found') or '不' in text(
            phone, '#not-found')
        assert not visible(phone, '#check-in')
        # A link to the other firm's record.
        phone.navigate(f"{server}{name}/elevator/portal/"
            f"#/order/{theirs['orders'][0]}")
        phone.wait_js('!!document.getElementById("not-found")',
            "the refusal of the record")
        assert '万达华府' not in text(phone)
        assert '王建国' not in text(phone)


def test_rpc_other_firm(server, database):
    "The JSON-RPC refuses every read and write of the other firm's records."
    name = database['name']
    a, b = database['firms']['a'], database['firms']['b']
    tech = Session(server, name, 'tech_b1')
    manager = Session(server, name, 'manager_b')
    unit = Session(server, name, 'unit_b')
    theirs = a['orders']
    for session in [tech, manager]:
        found = session(ORDER, 'search_read', [], 0, None, None,
            ['maintenance_unit'])
        assert found and {o['maintenance_unit'] for o in found} == {b['firm']}
        assert not set(o['id'] for o in found) & set(theirs)
        assert 'not allowed to read' in rpc_error(
            session, ORDER, 'read', theirs, ['state'])
        assert rpc_error(session, ORDER, 'write', theirs[-1:],
            {'findings': 'x'})
        assert rpc_error(session, ORDER, 'portal_order', theirs[:1])
        assert '没有' in rpc_error(session, ORDER, 'portal_elevator',
            a['public_token']) or 'No elevator' in rpc_error(
            session, ORDER, 'portal_elevator', a['public_token'])
        assert rpc_error(session, ORDER, 'start_visit', theirs[-1:], {})
        assert rpc_error(session, 'ir.attachment', 'create', [{
                    'name': 'x.jpg', 'resource': f'{ORDER},{theirs[0]}',
                    'data': b'\xff\xd8\xff'}])
        assert session('elevator.maintenance.contract', 'search', [], 0,
            None, None) == [b['contract']]
        assert rpc_error(session, 'elevator.maintenance.contract', 'read',
            [a['contract']], ['number'])
        technicians = session('elevator.maintenance.technician', 'search',
            [], 0, None, None)
        assert set(technicians) == set(b['technicians'].values())
        assert session(LINE, 'search', [('order', 'in', theirs)], 0, None,
            None) == []
    # Nor creating records for the other firm.
    assert rpc_error(manager, ORDER, 'create', [{
                'elevator': a['elevator'], 'type': 'half_monthly',
                'planned_date': dt.date.today()}])
    assert manager('elevator.maintenance.warning', 'search',
        [('maintenance_unit', '=', a['firm'])], 0, None, None) == []
    # The other estate cannot confirm the first firm's record.
    assert rpc_error(unit, ORDER, 'confirm', theirs[:1])
    assert unit(ORDER, 'search', [('id', 'in', theirs)], 0, None, None) == []


def test_rpc_bad_input(server, database, admin):
    "Bad input through the RPC gets clear errors, and changes nothing."
    name = database['name']
    b = database['firms']['b']
    tech = Session(server, name, 'tech_b1')
    order_id = b['orders'][0]
    colleague = b['technicians']['tech_b2']
    lat, lon = POSITION_B
    for position, expected in [
            ({'latitude': 'north', 'longitude': lon}, 'not valid'),
            ({'latitude': 95.0, 'longitude': lon}, 'not valid'),
            ({'latitude': lat}, 'not valid'),
            ({'technicians': ['李明']}, 'not valid'),
            ({'time': 'yesterday'}, 'not a valid ISO 8601'),
            ({'time': (dt.datetime.now(dt.timezone.utc)
                        + dt.timedelta(hours=2)).isoformat()}, 'future'),
            ({'time': (dt.datetime.now(dt.timezone.utc)
                        - dt.timedelta(days=5)).isoformat()}, '60 minutes'),
            ({'technicians': [database['firms']['a']['technicians'][
                            'tech_a2']]}, 'not an active technician'),
            ]:
        message = rpc_error(tech, ORDER, 'start_visit', [order_id], position)
        assert expected in message, (position, message)
    assert admin(ORDER, 'read', [order_id], ['state'])[0]['state'] == (
        'planned')

    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=40)
    tech(ORDER, 'start_visit', [order_id], {'latitude': lat,
            'longitude': lon, 'time': start.isoformat(),
            'technicians': [colleague]})
    # Missing mandatory lines.
    message = rpc_error(tech, ORDER, 'end_visit', [order_id], {})
    assert 'mandatory checklist items' in message and 'A1-01' in message
    lines = tech(LINE, 'search', [('order', '=', order_id)], 0, None, None)
    tech(LINE, 'write', lines, {'result': 'normal'})
    # A photo over the size limit (5 MB).
    message = rpc_error(tech, 'ir.attachment', 'create', [{
                'name': '超大.jpg', 'resource': f'{ORDER},{order_id}',
                'data': b'\xff\xd8' + b'0' * (5 * 1024 * 1024 + 10)}])
    assert 'at most 5120 KB' in message
    tech('ir.attachment', 'create', [{'name': 'ok.jpg',
                'resource': f'{ORDER},{order_id}',
                'data': b'\xff\xd8' + b'0' * 1000}])
    # Check-out before check-in.
    message = rpc_error(tech, ORDER, 'end_visit', [order_id], {
            'time': (start - dt.timedelta(minutes=1)).isoformat()})
    assert 'must come after its check-in' in message
    tech(ORDER, 'end_visit', [order_id], {'latitude': lat, 'longitude': lon})
    order, = admin(ORDER, 'read', [order_id], ['state', 'duration'])
    assert order['state'] == 'done' and order['duration'] >= 40
    # Confirming someone else's elevator.
    other_unit = Session(server, name, 'unit_a')
    message = rpc_error(other_unit, ORDER, 'confirm', [order_id])
    assert 'not allowed to read' in message
    assert 'Maintenance orders of the own elevators' in message
    # The technician cannot confirm his own work either.
    message = rpc_error(tech, ORDER, 'confirm', [order_id])
    assert 'confirm' in message and 'not allowed' in message
    unit = Session(server, name, 'unit_b')
    # A dispute needs a reason.
    assert 'Say why' in rpc_error(unit, ORDER, 'dispute', [order_id], '  ')
    unit(ORDER, 'dispute', [order_id], '照片看不出维保内容')
    order, = admin(ORDER, 'read', [order_id], ['state', 'dispute_reason'])
    assert order == {'id': order_id, 'state': 'disputed',
        'dispute_reason': '照片看不出维保内容'}
