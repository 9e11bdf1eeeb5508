"""The web client in the users' words, in headless Chromium at 1366×768.

A fresh PostgreSQL database gets the modules `elevator` and
`elevator_maintenance` in zh_CN, a maintenance firm with an address, an
elevator with a half-monthly maintenance order planned today, a district
regulator and the firm's manager. Each logs into sao (web/sao with the
overlay of sao-custom/, see scripts/setup-sao.sh):

- the browser's title and the header show the platform's name and icon,
  never "Tryton";
- the header, the user menu, the preferences dialog and the address form
  (the fields that the standard module `party` leaves in English, translated
  by modules/elevator/locale/override/zh_CN.po) show no English word;
- durations read H:MM:SS whatever their value (sao-custom/custom.js);
- the maintenance calendar shows the type's label, not its key, and
  clicking an event opens that order's form.

Screenshots: docs/screenshots/zh-cn-address-form.png and
docs/screenshots/maintenance-calendar.png.
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest

from support.browser import (
    FAILURE_SCREENSHOT, PASSWORD, SAO_ROOT, VISIBLE, Chromium)
from support.db import DATABASE_URI, admin_sql
from support.process import BIN, ROOT, free_port, run, stop, wait_for

TITLE = '莆田市电梯安全智慧监管平台'
SHOTS = ROOT / 'docs' / 'screenshots'
WIDTH, HEIGHT = 1366, 768
REGULATOR, MANAGER = 'screens_regulator', 'screens_manager'
DISTRICT = '350302'     # 城厢区
FIRM = '莆田屏显电梯维保有限公司'
CODE = f'3110{DISTRICT}2019000077'

# Latin words a Chinese user may see: units and acronyms.
ALLOWED = {'IoT', 'ID', 'XML', 'PDF', 'XLSX', 'CSV', 'API', 'REST', 'km',
    'min', 'AI'}
WORD = re.compile(r'[A-Za-z]{2,}')

SETUP_DATA = textwrap.dedent('''
    import datetime, json, sys
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
        Order = pool.get('elevator.maintenance.order')
        User = pool.get('res.user')
        Translation = pool.get('ir.translation')
        zh_cn, = Lang.search([('code', '=', 'zh_CN')])
        region = ModelData.get_id('elevator', 'region_' + spec['district'])
        firm, = Party.create([{
            'name': spec['firm'], 'is_maintenance_unit': True,
            'addresses': [('create', [{
                'street': '城厢区凤凰山街道 学园南街 100 号',
                'postal_code': '351100', 'city': '莆田市'}])],
            }])
        place, = Place.create([{
            'name': '屏显测试小区', 'category': 'residential',
            'region': region}])
        elevator, = Elevator.create([{
            'registration_code': spec['code'], 'category': '3110',
            'region': region, 'place': place.id,
            'place_category': 'residential', 'building': '1号楼',
            'maintenance_unit': firm.id, 'state': 'in_use'}])
        order, = Order.create([{
            'elevator': elevator.id, 'type': 'half_monthly',
            'planned_date': datetime.date.today()}])
        common = {'password': spec['password'], 'language': zh_cn.id}
        User.create([{
            'login': spec['regulator'], 'name': '城厢区监管员（屏显）',
            'groups': [('add', [ModelData.get_id(
                'elevator', 'group_district_regulator')])],
            'elevator_regions': [('add', [region])], **common,
            }, {
            'login': spec['manager'], 'name': '维保负责人（屏显）',
            'groups': [('add', [ModelData.get_id(
                'elevator', 'group_firm_manager')])],
            'elevator_units': [('add', [firm.id])], **common,
            }])
        # What elevator's locale/override/zh_CN.po overrides is in use:
        # none of it left fuzzy (trytond keeps the flag when the new value
        # equals the owner's fuzzy suggestion).
        overridden = Translation.search([
                ('lang', '=', 'zh_CN'), ('overriding_module', '=', 'elevator'),
                ])
        fuzzy = Translation.search([
                ('lang', '=', 'zh_CN'), ('module', '=', 'res'),
                ('name', '=', 'res.user,menu'), ('type', '=', 'field'),
                ('fuzzy', '=', True)])
        tx.commit()
        result = {
            'address': firm.addresses[0].id, 'order': order.id,
            'order_action': ModelData.get_id('elevator_maintenance',
                'act_order'),
            'overridden': len(overridden), 'fuzzy': len(fuzzy)}
    with open(sys.argv[4], 'w') as out:
        json.dump(result, out)
    ''')


@pytest.fixture(scope='module')
def workdir():
    path = Path(tempfile.mkdtemp(prefix='elevator-screens-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def database(workdir):
    assert (SAO_ROOT / 'custom.js').exists(), (
        "sao or its overlay is not installed: run scripts/setup-sao.sh")
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_screens_{uuid.uuid4().hex[:8]}'
    port = free_port()
    conf = workdir / 'trytond.conf'
    conf.write_text(textwrap.dedent(f'''\
        [database]
        uri = {DATABASE_URI}
        # Not listed: listing opens every database of the server (other
        # tests' too, some being created) and can wait on their locks.
        list = False
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
                '-u', 'elevator_maintenance', '--activate-dependencies',
                '-l', 'zh_CN', '--email', 'admin@example.com'], log, env)
        spec = {'district': DISTRICT, 'firm': FIRM, 'code': CODE,
            'password': PASSWORD, 'regulator': REGULATOR,
            'manager': MANAGER}
        result = workdir / 'setup.json'
        run([sys.executable, '-c', SETUP_DATA, str(conf), name,
                json.dumps(spec), str(result)], log, env)
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
        body = json.dumps({'id': 0, 'method': 'common.server.version',
                'params': []}).encode()
        try:
            with urllib.request.urlopen(url + 'custom.js', timeout=5) as r:
                if TITLE.encode() not in r.read():
                    return False
            request = urllib.request.Request(f'{url}rpc/', data=body,
                headers={'Content-Type': 'application/json'})
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.load(answer).get('result')
        except OSError:
            return False
    try:
        wait_for(ready, "trytond to serve sao", interval=0.5)
        yield url
    finally:
        stop(process)


@pytest.fixture
def browser(workdir):
    binary = shutil.which('chromium') or shutil.which('chromium-browser')
    assert binary, "chromium is missing: run scripts/ensure-browser.sh"
    profile = Path(tempfile.mkdtemp(prefix='chromium-', dir=workdir))
    chromium = Chromium(binary, profile, workdir / 'chromium.log',
        width=WIDTH, height=HEIGHT)
    try:
        chromium.open_page()
        yield chromium
    finally:
        chromium.close()


def login(browser, server, name, user):
    browser.navigate(f'{server}#{name}')
    browser.wait_js(f'{VISIBLE}("#login")', "the login dialog")
    # The server does not list its databases: sao asks for the name.
    browser.wait_js('Array.from(document.querySelectorAll("#database"))'
        '.some(e => e.offsetParent !== null)', "the database in the dialog")
    browser.type_text('input#database', name)
    browser.type_text('#login', user)
    browser.press_enter()
    browser.wait_js(f'{VISIBLE}("#ask-dialog-entry")', "the password dialog")
    browser.type_text('#ask-dialog-entry', PASSWORD)
    browser.press_enter()
    browser.wait_js('typeof Sao !== "undefined" && Sao.Session'
        '.current_session && !!Sao.Session.current_session.user_id',
        "the login to succeed")
    browser.wait_js('Sao.i18n.getlang().replace("-", "_") == "zh_CN"'
        ' && Sao.i18n.gettext("Logout") != "Logout"', "sao in zh_CN")
    browser.wait_js('jQuery.active == 0 && !!document.querySelector('
        '"#user-preferences a")', "the main screen")


# Visible text of the elements matching a selector (labels, buttons, links,
# headings, placeholders and titles of what is on screen).
VISIBLE_TEXT = '''(sel => {
    const parts = [];
    for (const root of document.querySelectorAll(sel)) {
        if (root.offsetParent === null && getComputedStyle(root).position
                !== 'fixed') { continue; }
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode;
            const el = node.parentElement;
            if (!node.textContent.trim() || !el || el.offsetParent === null
                    || el.closest('script,style,noscript')) { continue; }
            const r = el.getBoundingClientRect();
            if (r.width && r.height) { parts.push(node.textContent.trim()); }
        }
        for (const el of root.querySelectorAll(
                '[placeholder],[title],input[type=button],button')) {
            if (el.offsetParent === null) { continue; }
            for (const a of ['placeholder', 'title']) {
                if (el.getAttribute(a)) { parts.push(el.getAttribute(a)); }
            }
        }
    }
    return parts;
})'''


def english(texts, data=()):
    "Latin words in texts, but for the allowed ones and the data shown."
    words = []
    for text in texts:
        for value in data:
            text = text.replace(value, '')
        words += [w for w in WORD.findall(text) if w not in ALLOWED]
    return words


def check_header(browser):
    assert browser.js('document.title').endswith(TITLE)
    assert 'Tryton' not in browser.js('document.title')
    assert browser.js('jQuery("#title").text()') == TITLE
    assert browser.wait_js('(() => { const i = document.querySelector('
        '".navbar-brand img.platform-icon"); return i && i.complete'
        ' && i.naturalWidth > 0; })()', "the platform's icon")
    assert 'platform-icon' in browser.js(
        'document.querySelector("link[rel=icon]").href')
    # The name and the icon lie in the header bar, on one line.
    assert browser.js('''(() => {
        const bar = document.querySelector('nav.navbar')
            .getBoundingClientRect();
        return ['#title', '.navbar-brand img.platform-icon'].every(s => {
            const r = document.querySelector(s).getBoundingClientRect();
            return r.top >= bar.top && r.bottom <= bar.bottom
                && r.right <= bar.right;
        });
    })()''')
    header = browser.js(f'{VISIBLE_TEXT}("nav.navbar")')
    assert TITLE in header
    assert not english(header), header


def check_user_menu(browser):
    browser.js('jQuery("#user-preferences > a").click()')
    browser.wait_js(f'{VISIBLE}("#user-preferences .dropdown-menu")',
        "the user menu")
    # The notifications are loaded when the menu opens.
    browser.wait_js('jQuery.active == 0', "the user menu's notifications")
    items = browser.js(f'{VISIBLE_TEXT}("#user-preferences")')
    assert {'个人设置...', '帮助...', '注销'} <= set(items), items
    assert not english(items), items
    browser.js('jQuery("#user-preferences > a").click()')


def check_preferences(browser, user):
    browser.js('Sao.preferences()')
    browser.wait_js('jQuery(".modal:visible .modal-body .form").length > 0'
        ' && jQuery.active == 0', "the preferences dialog")
    texts = browser.js(f'{VISIBLE_TEXT}(".modal.in")')
    assert '个人设置' in texts, texts
    assert not english(texts, data=[user]), texts
    browser.js('jQuery(".modal.in .modal-footer button").first().click()')
    browser.wait_js('jQuery(".modal.in").length == 0', "the dialog to close")


ACTIVE_TAB = '#tabcontent .tab-pane.active'


def open_form(browser, model, res_id):
    browser.js(f'''Sao.Tab.create({{model: {json.dumps(model)},
        res_id: {res_id}, mode: ['form'], context: {{}}}})''')
    browser.wait_js(f'jQuery("{ACTIVE_TAB} .form:visible").length > 0'
        ' && jQuery.active == 0', f"the form of {model}")


def test_regulator_sees_the_platform_in_chinese(server, database, browser,
        workdir):
    name = database['name']
    assert database['overridden'] > 100
    assert database['fuzzy'] == 0
    with evidence(browser, workdir):
        login(browser, server, name, REGULATOR)
        check_header(browser)
        check_user_menu(browser)
        check_preferences(browser, '城厢区监管员（屏显）')
        # Durations: H:MM:SS, seconds rounded, whatever the value.
        fmt = 'Sao.common.timedelta.format(Sao.TimeDelta(null, {}))'
        assert browser.js(fmt.format(300)) == '00:05:00'
        assert browser.js(fmt.format(38)) == '00:00:38'
        assert browser.js(fmt.format(38.4)) == '00:00:38'
        assert browser.js(fmt.format(-4000)) == '-01:06:40'
        assert browser.js(fmt.format(93600)) == '1日 02:00:00'

        open_form(browser, 'party.address', database['address'])
        labels = browser.js(f'{VISIBLE_TEXT}("{ACTIVE_TAB}")')
        # "Attn", untranslated in party's zh_CN.
        assert {'收件人', '街道'} <= {t.rstrip(':：') for t in labels}, labels
        assert not english(labels, data=[FIRM]), labels
        # The tab's title follows the page's title.
        assert browser.js('document.title').endswith(TITLE)
        browser.screenshot(SHOTS / 'zh-cn-address-form.png')


def test_firm_manager_calendar(server, database, browser, workdir):
    name = database['name']
    with evidence(browser, workdir):
        login(browser, server, name, MANAGER)
        check_header(browser)
        check_user_menu(browser)
        # The menu's action, as the menu runs it.
        browser.js(f'''Sao.rpc({{
            method: 'model.ir.action.get_action_value',
            params: [{database["order_action"]}, {{}}]}},
            Sao.Session.current_session).then(action => {{
                Sao.Action.exec_action(action, {{}}, {{}});
                return true;
            }})''')
        browser.wait_js(f'jQuery("{ACTIVE_TAB} .treeview:visible").length'
            ' > 0 && jQuery.active == 0', "the maintenance orders")
        browser.js('Sao.Tab.tabs.get_current().screen.switch_view('
            '"calendar")')
        event = browser.wait_js(f'''(() => {{
            const e = jQuery("{ACTIVE_TAB} .fc-event:visible").first();
            if (!e.length || jQuery.active) {{ return null; }}
            const r = e[0].getBoundingClientRect();
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2,
                text: e.text(), title: e.attr('title') || ''}};
        }})()''', "the order in the calendar")
        calendar = browser.js(f'{VISIBLE_TEXT}("{ACTIVE_TAB} .calendar")')
        shown = ' '.join(calendar) + event['text'] + event['title']
        assert 'half_monthly' not in shown and '半月' in shown, shown
        browser.screenshot(SHOTS / 'maintenance-calendar.png')
        # Double-click, as users do: the order's form opens.
        for count in (1, 2):
            browser.send('Input.dispatchMouseEvent', {'type': 'mousePressed',
                    'x': event['x'], 'y': event['y'], 'button': 'left',
                    'clickCount': count})
            browser.send('Input.dispatchMouseEvent', {'type': 'mouseReleased',
                    'x': event['x'], 'y': event['y'], 'button': 'left',
                    'clickCount': count})
        browser.wait_js(f'jQuery("{ACTIVE_TAB} .form:visible").length > 0'
            ' && jQuery.active == 0', "the order's form")
        screen = 'Sao.Tab.tabs.get_current().screen'
        assert browser.js(f'{screen}.current_view.view_type') == 'form'
        assert browser.js(f'{screen}.current_record.id') == database['order']
        form = browser.js(f'{VISIBLE_TEXT}("{ACTIVE_TAB} .form")')
        assert any(CODE in t for t in form) or browser.js(
            f'jQuery("{ACTIVE_TAB} .form input").toArray()'
            f'.some(i => i.value.includes("{CODE}"))'), form


@contextlib.contextmanager
def evidence(browser, workdir):
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
                log.read_text(errors='replace')[-3000:], sep='\n')
        raise
