"""End-to-end test through the real web client.

A fresh PostgreSQL database gets the `elevator` module (with zh_CN) and a
few elevators in two districts; a real trytond serves it together with sao
(web/sao, see scripts/setup-sao.sh); Debian's headless Chromium
(scripts/ensure-browser.sh) logs into sao as a district regulator and opens
the elevator list. The regulator must see exactly the elevators of his
district. A screenshot of the list is saved to docs/screenshots/.

Chromium, the server of sao and the login are the helpers of
tests/support/browser.py.

Needs TRYTOND_DATABASE_URI=postgresql://... (as set by scripts/run-tests.sh).
"""
import json
import os
import re
import sys
import textwrap

import pytest

from elevator_platform import scratch_db
from support.browser import (
    PASSWORD,
    SAO_ROOT,
    evidence,
    sao_login,
    server_config,
)
from support.db import admin_sql, database_name
from support.process import ROOT, free_port, run, wait_for

SCREENSHOT = ROOT / 'docs' / 'screenshots' / 'elevator-list.png'

# Two districts of Putian; the regulator supervises the first one.
MINE = '350302'     # 城厢区
OTHER = '350303'    # 涵江区
MY_CODES = [f'3110{MINE}2015{n:06d}' for n in (11, 12, 13)]
OTHER_CODES = [f'3110{OTHER}2016{n:06d}' for n in (21, 22, 23, 24)]
MY_PLACE = '城厢测试小区'
OTHER_PLACE = '涵江测试小区'
REGULATOR = 'chengxiang_e2e'


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


@pytest.fixture(scope='module')
def database(workdir):
    "A new PostgreSQL database with the elevator module and test data."
    assert (SAO_ROOT / 'index.html').exists(), (
        "sao is not installed: run scripts/setup-sao.sh")
    name = database_name('browser')
    port = free_port()
    conf = server_config(workdir / 'trytond.conf', port)
    passfile = workdir / 'admin-password'
    passfile.write_text(PASSWORD + '\n')
    log = workdir / 'setup.log'
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
    env.pop('TRYTOND_CONFIG', None)
    try:
        scratch_db.create_database(name, modules=('elevator',))
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
    sao_login(browser, server, name, REGULATOR, fragment=fragment)
    # The user's language (zh_CN) is the client's now.
    assert browser.js('Sao.i18n.getlang().replace("-", "_")') == 'zh_CN'


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
