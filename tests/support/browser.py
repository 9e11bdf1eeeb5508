"""Headless Chromium driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: no chromedriver, no extra Python package, no port
to race for), a trytond serving a test database and sao (web/sao, see
scripts/setup-sao.sh), and the login to sao.

The fixtures `workdir`, `server` and `browser` are imported by the test
files that use them; `server` needs a module fixture `database` giving
{'name', 'conf', 'port'} with `conf` written by `server_config`.
"""
import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from support.db import DATABASE_URI
from support.http import serving
from support.process import ROOT, WAIT, stop, wait_for

SAO_ROOT = ROOT / 'web' / 'sao'
FAILURE_SCREENSHOT = ROOT / 'var' / 'test-browser-failure.png'
PASSWORD = 'elevator-demo'


def server_config(path, port, extra=''):
    """Write the trytond configuration of a test server of sao on port.

    The server does not list its databases ([database] list = False):
    trytond lists them by connecting to every database of the PostgreSQL
    server, which the parallel test runs share; such a connection waits
    on their locks (a login dialog waiting two minutes for the list) and
    makes their CREATE DATABASE ... TEMPLATE fail ("source database is
    being accessed by other users"). sao's login dialog then shows an
    empty entry for the database, which `sao_login` fills in."""
    Path(path).write_text(textwrap.dedent(f'''\
        [database]
        uri = {DATABASE_URI}
        list = False
        [web]
        listen = 127.0.0.1:{port}
        root = {SAO_ROOT}
        [session]
        timeout = 86400
        ''') + textwrap.dedent(extra))
    return path



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
def server(database, workdir):
    "trytond serving the database and sao on a free port."
    url = f"http://127.0.0.1:{database['port']}/"

    def ready():
        with urllib.request.urlopen(url, timeout=5) as index:
            if b'sao' not in index.read():
                return False
        body = json.dumps({'id': 0, 'method': 'common.server.version',
                'params': []}).encode()
        request = urllib.request.Request(f"{url}rpc/", data=body,
            headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer).get('result')
    with serving(database['conf'], database['name'],
            workdir / 'trytond.log', ready):
        yield url


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


# True once sao has finished what follows a login: the user's context and
# preferences (language, model access), then the menu, built last. Acting
# before, a test races sao's own set-up (a board opened before the model
# access is known never draws its rows).
MENU_READY = '''(() => {
    const screen = Sao.main_menu_screen;
    if (!screen || !screen.current_view) { return false; }
    const rows = document.querySelectorAll('#menu .treeview tbody tr');
    // With Tryton's bus open, sao keeps one long poll running.
    const polling = (Sao.Bus && Sao.Bus.listening) ? 1 : 0;
    return Array.from(rows).some(r => r.offsetParent !== null)
        && jQuery.active <= polling;
})()'''


def sao_login(browser, server, database, user, password=PASSWORD,
        fragment=''):
    "Open sao at #database<fragment>, log in as user and wait for the menu."
    browser.navigate(f'{server}#{database}{fragment}')
    browser.wait_js(f'{VISIBLE}("#login")', "the login dialog")
    # No list of databases (see server_config): an empty entry for it.
    browser.wait_js(f'{VISIBLE}("input#database")', "the database entry")
    browser.type_text('input#database', database)
    browser.type_text('#login', user)
    browser.press_enter()
    browser.wait_js(f'{VISIBLE}("#ask-dialog-entry")', "the password dialog")
    browser.type_text('#ask-dialog-entry', password)
    browser.press_enter()
    browser.wait_js('typeof Sao !== "undefined" && Sao.Session'
        '.current_session && !!Sao.Session.current_session.user_id',
        "the login to succeed")
    browser.wait_js(MENU_READY, "the menu after the login")


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

