"""End-to-end test through the real web client.

A fresh PostgreSQL database gets the `elevator` module (with zh_CN) and a
few elevators in two districts; a real trytond serves it together with sao
(web/sao, see scripts/setup-sao.sh); Debian's headless Chromium
(scripts/ensure-browser.sh) logs into sao as a district regulator and opens
the elevator list. The regulator must see exactly the elevators of his
district. A screenshot of the list is saved to docs/screenshots/.

Chromium is driven through the DevTools protocol over a pipe
(--remote-debugging-pipe): no chromedriver, no extra Python package, no
port to race for.

Needs TRYTOND_DATABASE_URI=postgresql://... (as set by scripts/run-tests.sh).
"""
import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAO_ROOT = ROOT / 'web' / 'sao'
SCREENSHOT = ROOT / 'docs' / 'screenshots' / 'elevator-list.png'
FAILURE_SCREENSHOT = ROOT / 'var' / 'test-browser-failure.png'
BIN = Path(sys.executable).parent
PASSWORD = 'elevator-demo'
# Generous upper bounds for things that normally take a few seconds; they
# only turn a hang into a clear failure.
WAIT = 120

DATABASE_URI = os.environ.get('TRYTOND_DATABASE_URI', '')


# Two districts of Putian; the regulator supervises the first one.
MINE = '350302'     # 城厢区
OTHER = '350303'    # 涵江区
MY_CODES = [f'3110{MINE}2015{n:06d}' for n in (11, 12, 13)]
OTHER_CODES = [f'3110{OTHER}2016{n:06d}' for n in (21, 22, 23, 24)]
MY_PLACE = '城厢测试小区'
OTHER_PLACE = '涵江测试小区'
REGULATOR = 'chengxiang_e2e'


def wait_for(predicate, what, timeout=WAIT, interval=0.2):
    "Poll predicate until it returns a true value, which is returned."
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


def server_uri(dbname):
    "TRYTOND_DATABASE_URI with dbname as its path, for psycopg."
    parts = urllib.parse.urlsplit(DATABASE_URI)
    return urllib.parse.urlunsplit(parts._replace(path='/' + dbname))


def admin_sql(statement):
    import psycopg
    with psycopg.connect(server_uri('postgres'), autocommit=True) as conn:
        conn.execute(statement)


def run(cmd, log, env=None):
    "Run cmd, output to log; fail with the log's tail on error."
    with open(log, 'ab') as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    if result.returncode:
        tail = Path(log).read_text(errors='replace')[-4000:]
        raise AssertionError(f"{cmd[0]} failed ({result.returncode}):\n{tail}")


def stop(process, timeout=30):
    "Terminate process (and its process group); kill it if it lingers."
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# Run in a subprocess with the test's configuration so that this process'
# trytond configuration (used by other tests) is left alone.
SETUP_DATA = textwrap.dedent('''
    import json, sys
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
        zh_cn, = Lang.search([('code', '=', 'zh_CN')])
        firm, = Party.create([{
            'name': '莆田测试电梯维保有限公司', 'is_maintenance_unit': True}])
        elevators = []
        for district in spec['districts']:
            region = ModelData.get_id('elevator', 'region_' + district['code'])
            place, = Place.create([{
                'name': district['place'], 'category': 'residential',
                'region': region}])
            for i, code in enumerate(district['elevators']):
                elevators.append({
                    'registration_code': code,
                    'category': '3110',
                    'region': region,
                    'place': place.id,
                    'place_category': 'residential',
                    'building': f'{i + 1}号楼',
                    'maintenance_unit': firm.id,
                    'state': 'in_use',
                    })
        Elevator.create(elevators)
        User.create([{
            'login': spec['login'],
            'name': '城厢区监管员（测试）',
            'password': spec['password'],
            'language': zh_cn.id,
            'groups': [('add', [ModelData.get_id(
                'elevator', 'group_district_regulator')])],
            'elevator_regions': [('add', [ModelData.get_id(
                'elevator', 'region_' + spec['regions'][0])])],
            }])
        tx.commit()
        # The menu path 电梯安全监管 / 登记 / 电梯, as record ids.
        menus = [ModelData.get_id('elevator', m) for m in (
                'menu_elevator', 'menu_registry', 'menu_elevator_list')]
    with open(sys.argv[4], 'w') as out:
        json.dump({'menus': menus}, out)
    ''')


class CDPError(Exception):
    pass


class Chromium:
    """Headless Chromium driven through the DevTools protocol over a pipe:
    the browser reads commands on fd 3 and writes answers and events on
    fd 4, as NUL-terminated JSON messages."""

    def __init__(self, binary, profile, log, width=1440, height=900):
        self.width, self.height = width, height
        cmd_read, self._cmd_write = os.pipe()
        self._out_read, out_write = os.pipe()

        def child_fds():
            # Move the pipe ends out of the way, then onto fds 3 and 4.
            a = fcntl.fcntl(cmd_read, fcntl.F_DUPFD_CLOEXEC, 10)
            b = fcntl.fcntl(out_write, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.setsid()

        args = [binary, '--headless', '--no-sandbox', '--disable-gpu',
            '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--disable-dev-shm-usage',
            '--no-default-browser-check', '--hide-scrollbars',
            '--lang=zh-CN', '--force-device-scale-factor=1',
            f'--window-size={width},{height}',
            f'--user-data-dir={profile}', '--remote-debugging-pipe',
            'about:blank']
        self._log = open(log, 'ab')
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, close_fds=False,
            preexec_fn=child_fds, env={**os.environ, 'LANGUAGE': 'zh_CN'})
        os.close(cmd_read)
        os.close(out_write)
        self._next_id = 0
        self._answers = {}
        self.events = []
        self._closed = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None

    def _read(self):
        buffer = b''
        while True:
            try:
                chunk = os.read(self._out_read, 1 << 16)
            except OSError:
                chunk = b''
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b'\0')
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if 'id' in message:
                        self._answers[message['id']] = message
                    else:
                        self.events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def send(self, method, params=None, session=True, timeout=WAIT):
        with self._cond:
            self._next_id += 1
            id_ = self._next_id
        message = {'id': id_, 'method': method, 'params': params or {}}
        if session and self.session:
            message['sessionId'] = self.session
        os.write(self._cmd_write, json.dumps(message).encode() + b'\0')
        deadline = time.monotonic() + timeout
        with self._cond:
            while id_ not in self._answers:
                if self._closed:
                    raise CDPError(f"browser closed during {method}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"no answer to {method}")
                self._cond.wait(left)
            answer = self._answers.pop(id_)
        if 'error' in answer:
            raise CDPError(f"{method}: {answer['error']}")
        return answer.get('result', {})

    def open_page(self):
        targets = self.send('Target.getTargets', session=False)
        pages = [t for t in targets['targetInfos'] if t['type'] == 'page']
        if pages:
            target = pages[0]['targetId']
        else:
            target = self.send('Target.createTarget', {'url': 'about:blank'},
                session=False)['targetId']
        self.session = self.send('Target.attachToTarget',
            {'targetId': target, 'flatten': True},
            session=False)['sessionId']
        self.send('Page.enable')
        self.send('Runtime.enable')
        self.send('Emulation.setDeviceMetricsOverride', {
                'width': self.width, 'height': self.height,
                'deviceScaleFactor': 1, 'mobile': False})
        # A browser set to Chinese: sao's login dialog follows
        # navigator.language (headless Chromium ignores --lang).
        self.send('Emulation.setUserAgentOverride', {
                'userAgent': self.js('navigator.userAgent'),
                'acceptLanguage': 'zh-CN,zh'})

    def navigate(self, url):
        result = self.send('Page.navigate', {'url': url})
        if result.get('errorText'):
            raise CDPError(f"cannot open {url}: {result['errorText']}")

    def js(self, expression):
        "Value of a JavaScript expression in the page (promises awaited)."
        result = self.send('Runtime.evaluate', {
                'expression': expression, 'returnByValue': True,
                'awaitPromise': True})
        if 'exceptionDetails' in result:
            details = result['exceptionDetails']
            text = details.get('exception', {}).get(
                'description', details.get('text'))
            raise CDPError(f"JavaScript error: {text}")
        return result['result'].get('value')

    def wait_js(self, expression, what, timeout=WAIT):
        return wait_for(lambda: self.js(expression), what, timeout)

    def type_text(self, selector, text):
        "Focus the element and type text as keyboard input."
        self.js(f'document.querySelector({json.dumps(selector)}).focus()')
        self.send('Input.insertText', {'text': text})

    def press_enter(self):
        key = {'key': 'Enter', 'code': 'Enter', 'windowsVirtualKeyCode': 13,
            'nativeVirtualKeyCode': 13}
        self.send('Input.dispatchKeyEvent',
            {'type': 'keyDown', 'text': '\r', **key})
        self.send('Input.dispatchKeyEvent', {'type': 'keyUp', **key})

    def click(self, x, y):
        "A left click of the mouse at (x, y) of the viewport."
        self.send('Input.dispatchMouseEvent',
            {'type': 'mouseMoved', 'x': x, 'y': y})
        for type_ in ('mousePressed', 'mouseReleased'):
            self.send('Input.dispatchMouseEvent', {'type': type_, 'x': x,
                    'y': y, 'button': 'left', 'clickCount': 1})

    def screenshot(self, path):
        data = self.send('Page.captureScreenshot', {'format': 'png'})['data']
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def errors(self):
        "Uncaught exceptions and console errors of the page so far."
        with self._cond:
            events = list(self.events)
        found = []
        for event in events:
            params = event.get('params', {})
            if event.get('method') == 'Runtime.exceptionThrown':
                details = params.get('exceptionDetails', {})
                found.append(details.get('exception', {}).get(
                    'description', details.get('text')))
            elif (event.get('method') == 'Runtime.consoleAPICalled'
                    and params.get('type') == 'error'):
                found.append(' '.join(str(a.get('value', a.get(
                                'description', ''))) for a in params['args']))
        return found

    def close(self):
        try:
            if self.process.poll() is None and not self._closed:
                try:
                    self.send('Browser.close', session=False, timeout=10)
                except CDPError:
                    pass
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    pass
            stop(self.process)
        finally:
            for fd in (self._cmd_write, self._out_read):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()


@pytest.fixture(scope='module')
def workdir():
    path = Path(tempfile.mkdtemp(prefix='elevator-browser-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def database(workdir):
    "A new PostgreSQL database with the elevator module and test data."
    assert (SAO_ROOT / 'index.html').exists(), (
        "sao is not installed: run scripts/setup-sao.sh")
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_browser_{uuid.uuid4().hex[:8]}'
    port = free_port()
    conf = workdir / 'trytond.conf'
    conf.write_text(textwrap.dedent(f'''\
        [database]
        uri = {DATABASE_URI}
        [web]
        listen = 127.0.0.1:{port}
        root = {SAO_ROOT}
        [session]
        timeout = 86400
        '''))
    passfile = workdir / 'admin-password'
    passfile.write_text(PASSWORD + '\n')
    log = workdir / 'setup.log'
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
    env.pop('TRYTOND_CONFIG', None)
    admin_sql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    try:
        run([str(BIN / 'trytond-admin'), '-c', str(conf), '-d', name,
                '-u', 'elevator', '--activate-dependencies', '-l', 'zh_CN',
                '--email', 'admin@example.com'], log, env)
        spec = {
            'login': REGULATOR, 'password': PASSWORD, 'regions': [MINE],
            'districts': [
                {'code': MINE, 'place': MY_PLACE, 'elevators': MY_CODES},
                {'code': OTHER, 'place': OTHER_PLACE,
                    'elevators': OTHER_CODES},
                ]}
        result = workdir / 'setup.json'
        run([sys.executable, '-c', SETUP_DATA, str(conf), name,
                json.dumps(spec), str(result)], log, env)
        yield {'name': name, 'conf': conf, 'port': port,
            **json.loads(result.read_text())}
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope='module')
def server(database, workdir):
    "trytond serving the database and sao on a free port."
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
        body = json.dumps({'id': 0, 'method': 'common.server.version',
                'params': []}).encode()
        try:
            with urllib.request.urlopen(url, timeout=5) as index:
                if b'sao' not in index.read():
                    return False
            request = urllib.request.Request(
                f"{url}rpc/", data=body,
                headers={'Content-Type': 'application/json'})
            with urllib.request.urlopen(request, timeout=5) as answer:
                return json.load(answer).get('result')
        except (urllib.error.URLError, ConnectionError, OSError):
            return False
    try:
        try:
            wait_for(ready, "trytond to answer", interval=0.5)
        except AssertionError as e:
            raise AssertionError(f"{e}:\n"
                + log.read_text(errors='replace')[-4000:]) from None
        yield url
    finally:
        stop(process)


@pytest.fixture
def browser(workdir):
    binary = shutil.which('chromium') or shutil.which('chromium-browser')
    assert binary, "chromium is missing: run scripts/ensure-browser.sh"
    profile = Path(tempfile.mkdtemp(prefix='chromium-', dir=workdir))
    chromium = Chromium(binary, profile, workdir / 'chromium.log')
    try:
        chromium.open_page()
        yield chromium
    finally:
        chromium.close()


VISIBLE = '''(sel => { const e = document.querySelector(sel);
    return !!(e && e.offsetParent !== null && !e.disabled); })'''

# Centre of the visible row of the menu tree showing the ir.ui.menu record
# of the given id (the rows carry no label-independent attribute, so sao's
# own row objects are used to find it), or null.
MENU_ROW = '''(id => {
    const screen = Sao.main_menu_screen;
    if (!screen || !screen.current_view) { return null; }
    const find = rows => {
        for (const row of rows) {
            if (row.record.id == id) { return row; }
            const found = find(row.rows || []);
            if (found) { return found; }
        }
        return null;
    };
    const row = find(screen.current_view.rows || []);
    if (!row || row.el[0].offsetParent === null) { return null; }
    row.el[0].scrollIntoView({block: 'center'});
    const cell = row.el[0].querySelector('td .cell .widget')
        || row.el[0].querySelector('td .cell');
    const r = cell.getBoundingClientRect();
    if (!r.width) { return null; }
    return {x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2};
})'''

# Text of the visible rows of the list view in the current tab.
LIST_ROWS = '''(() => {
    const tab = document.querySelector('#tabcontent .tab-pane.active');
    if (!tab) { return null; }
    const rows = tab.querySelectorAll('.treeview table tbody tr');
    return Array.from(rows).filter(r => r.offsetParent !== null)
        .map(r => r.innerText);
})()'''

CODE = re.compile(r'(?<!\d)\d{20}(?!\d)')


def login(browser, server, name, fragment=''):
    "Open sao at #name<fragment> and log in as the district regulator."
    browser.navigate(f'{server}#{name}{fragment}')
    browser.wait_js(f'{VISIBLE}("#login")', "the login dialog")
    # The dialog takes the database from the URL once the server's list of
    # databases has arrived; a login sent before that is refused.
    browser.wait_js('Array.from(document.querySelectorAll("#database"))'
        f'.some(e => e.offsetParent !== null && e.value == {json.dumps(name)})',
        "the database in the login dialog")
    browser.type_text('#login', REGULATOR)
    browser.press_enter()
    browser.wait_js(f'{VISIBLE}("#ask-dialog-entry")', "the password dialog")
    browser.type_text('#ask-dialog-entry', PASSWORD)
    browser.press_enter()
    browser.wait_js('typeof Sao !== "undefined" && Sao.Session'
        '.current_session && !!Sao.Session.current_session.user_id',
        "the login to succeed")
    # The user's language (zh_CN) is the client's now.
    browser.wait_js('Sao.i18n.getlang().replace("-", "_") == "zh_CN"',
        "sao in zh_CN")


def check_list(browser, name):
    "The open list shows exactly the elevators of the regulator's district."
    browser.wait_js('window.location.hash.startsWith('
        f'{json.dumps(f"#{name}/model/elevator.elevator")})',
        "the elevator list to open")

    def codes_shown():
        rows = browser.js(LIST_ROWS)
        if not rows:
            return None
        text = '\n'.join(rows)
        codes = set(CODE.findall(text))
        return (codes, text) if set(MY_CODES) <= codes else None
    wait_for(codes_shown, "the elevators in the list")
    # Judge the list once sao has no request running any more.
    browser.wait_js('jQuery.active == 0', "the list to settle")
    codes, text = codes_shown()
    page = browser.js('document.body.innerText')

    assert codes == set(MY_CODES), codes
    assert not set(OTHER_CODES) & set(CODE.findall(page))
    assert MY_PLACE in text
    assert OTHER_PLACE not in page


@contextlib.contextmanager
def evidence(browser, workdir):
    "On failure, keep a screenshot, print the page's errors and server log."
    try:
        yield
    except BaseException:
        try:
            browser.screenshot(FAILURE_SCREENSHOT)
            print(f"screenshot of the failure: {FAILURE_SCREENSHOT}")
        except Exception:
            pass
        errors = browser.errors()
        if errors:
            print("browser errors:", *errors, sep='\n  ')
        log = workdir / 'trytond.log'
        if log.exists():
            print("end of the trytond log:",
                log.read_text(errors='replace')[-6000:], sep='\n')
        raise


def test_regulator_menu_shows_only_his_district(
        server, database, browser, workdir):
    "Log in, click 电梯安全监管 / 登记 / 电梯 in the menu, check the list."
    name = database['name']
    with evidence(browser, workdir):
        login(browser, server, name)
        for menu in database['menus']:
            point = browser.wait_js(f'{MENU_ROW}({menu})',
                f"menu entry {menu}")
            browser.click(point['x'], point['y'])
        check_list(browser, name)
        browser.screenshot(SCREENSHOT)


def test_regulator_url_shows_only_his_district(
        server, database, browser, workdir):
    "A link to the list (sao URL fragment) opens it after the login."
    name = database['name']
    with evidence(browser, workdir):
        login(browser, server, name, '/model/elevator.elevator')
        check_list(browser, name)
