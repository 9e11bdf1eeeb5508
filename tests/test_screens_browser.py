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
import datetime as dt
import json
import re

import pytest

from elevator_platform import scratch_db, tryton_env
from support.browser import (
    PASSWORD,
    SAO_ROOT,
    VISIBLE,
    evidence,
    sao_login,
    server_config,
)
from support.db import database_name
from support.process import ROOT, free_port

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

def create_data(pool):
    "The firm, its elevator and order, and the two users; returns ids."
    ModelData = pool.get('ir.model.data')
    Lang = pool.get('ir.lang')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Order = pool.get('elevator.maintenance.order')
    User = pool.get('res.user')
    Translation = pool.get('ir.translation')
    zh_cn, = Lang.search([('code', '=', 'zh_CN')])
    region = ModelData.get_id('elevator', f'region_{DISTRICT}')
    firm, = Party.create([{
                'name': FIRM, 'is_maintenance_unit': True,
                'addresses': [('create', [{
                                'street': '城厢区凤凰山街道 学园南街 100 号',
                                'postal_code': '351100', 'city': '莆田市'}])],
                }])
    place, = Place.create([{'name': '屏显测试小区', 'category': 'residential',
                'region': region}])
    elevator, = Elevator.create([{
                'registration_code': CODE, 'category': '3110',
                'region': region, 'place': place.id,
                'place_category': 'residential', 'building': '1号楼',
                'maintenance_unit': firm.id, 'state': 'in_use'}])
    order, = Order.create([{'elevator': elevator.id, 'type': 'half_monthly',
                'planned_date': dt.date.today()}])
    common = {'password': PASSWORD, 'language': zh_cn.id}
    User.create([{
                'login': REGULATOR, 'name': '城厢区监管员（屏显）',
                'groups': [('add', [ModelData.get_id(
                                'elevator', 'group_district_regulator')])],
                'elevator_regions': [('add', [region])], **common,
                }, {
                'login': MANAGER, 'name': '维保负责人（屏显）',
                'groups': [('add', [ModelData.get_id(
                                'elevator', 'group_firm_manager')])],
                'elevator_units': [('add', [firm.id])], **common,
                }])
    # What elevator's locale/override/zh_CN.po overrides is in use: none
    # of it left fuzzy (trytond keeps the flag when the new value equals
    # the owner's fuzzy suggestion).
    overridden = Translation.search([
            ('lang', '=', 'zh_CN'), ('overriding_module', '=', 'elevator')])
    fuzzy = Translation.search([
            ('lang', '=', 'zh_CN'), ('module', '=', 'res'),
            ('name', '=', 'res.user,menu'), ('type', '=', 'field'),
            ('fuzzy', '=', True)])
    return {
        'address': firm.addresses[0].id, 'order': order.id,
        'order_action': ModelData.get_id('elevator_maintenance',
            'act_order'),
        'overridden': len(overridden), 'fuzzy': len(fuzzy)}


@pytest.fixture(scope='module')
def database(workdir):
    assert (SAO_ROOT / 'custom.js').exists(), (
        "sao or its overlay is not installed: run scripts/setup-sao.sh")
    name = database_name('screens')
    scratch_db.create_database(name, modules=('elevator_maintenance',))
    try:
        with tryton_env.transaction(name,
                context={'language': 'en'}) as pool:
            ids = create_data(pool)
        port = free_port()
        conf = server_config(workdir / 'trytond.conf', port)
        yield {'name': name, 'conf': conf, 'port': port, **ids}
    finally:
        scratch_db.drop_database(name)


def login(browser, server, name, user):
    browser.send('Emulation.setDeviceMetricsOverride', {
            'width': WIDTH, 'height': HEIGHT, 'deviceScaleFactor': 1,
            'mobile': False})
    sao_login(browser, server, name, user)
    browser.wait_js('Sao.i18n.getlang().replace("-", "_") == "zh_CN"'
        ' && Sao.i18n.gettext("Logout") != "Logout"', "sao in zh_CN")
    browser.wait_js('!!document.querySelector("#user-preferences a")',
        "the main screen")


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
