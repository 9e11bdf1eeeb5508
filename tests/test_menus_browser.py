"""Every menu entry of the web client opens, as the people who use it.

A database with every module and the demo data (small) is served with sao
to headless Chromium at 1366×768. Each demo user logs in; every menu entry
of theirs that opens a window is opened, once per action over all users
(the roles first, the admin last for what no role has). An entry fails
when the page raises a JavaScript error, or when its list holds records but
draws no row (what issue 16 saw on the IoT lists, blamed on a `visual`
attribute written in their XML; that attribute is now given PYSON-encoded
by view_attributes, and with it written in the XML this test did not
reproduce the failure on sao 8.0 here).
"""
import json

import pytest

from elevator_platform import cli, scratch_db
from support.browser import (
    MENU_READY,
    evidence,
    sao_login,
    server_config,
)
from support.db import ALL_MODULES, database_name, query
from support.process import free_port

MODULES = ALL_MODULES
WIDTH, HEIGHT = 1366, 768
PASSWORD = 'elevator-demo'
# The demo users of DESIGN §5 in the order their entries are opened;
# whatever none of them has is opened by the admin. The other parties of
# the notice (agency1 … investor1, issue 17) log in and draw their menu
# after the first roles; an entry the others already opened is not
# opened again.
ROLES = ['dispatcher', 'city', 'chengxiang', 'firm1', 'tech1', 'property1',
    'fire', 'finance', 'auditor',
    # The other parties of the notice (issue 17).
    'agency1', 'street1', 'housing', 'emergency', 'association', 'insurer1',
    'investor1', 'admin']
ACTIVE_TAB = '#tabcontent .tab-pane.active'
# Actions already opened by an earlier role.
opened = set()


@pytest.fixture(scope='module')
def database(workdir):
    name = database_name('menus')
    scratch_db.create_database(name, modules=MODULES)
    try:
        assert cli.main(['demo-data', '-d', name, '--elevators', '60',
                '--seed', '3', '--quiet']) == 0
        port = free_port()
        conf = server_config(workdir / 'trytond.conf', port)
        users = {login for login, in query(name,
                'SELECT login FROM res_user WHERE active')}
        # Else the admin's first login opens the configuration wizard.
        query(name, "UPDATE ir_module_config_wizard_item SET state = 'done'"
            " RETURNING id")
        yield {'name': name, 'conf': conf, 'port': port, 'users': users}
    finally:
        scratch_db.drop_database(name)


MENUS = '''new Promise((resolve, reject) => Sao.rpc({
    method: 'model.ir.ui.menu.search_read',
    params: [[], 0, null, [['id', 'ASC']], ['action', 'complete_name'],
        {}],
    }, Sao.Session.current_session).then(resolve, reject))'''

# The active tab once loaded: its list's records and drawn rows.
TAB_STATE = f'''(() => {{
    const tab = Sao.Tab.tabs.get_current();
    const polling = (Sao.Bus && Sao.Bus.listening) ? 1 : 0;
    if (!tab || jQuery.active > polling) {{ return null; }}
    if (!tab.screen) {{
        // A board (dashboard): its lists are checked by their own entries.
        return {{view: 'board', records: 0, rows: 0,
            tabs: Sao.Tab.tabs.length}};
    }}
    const view = tab.screen.current_view;
    if (!view) {{ return null; }}
    const rows = Array.from(document.querySelectorAll(
        '{ACTIVE_TAB} table.tree tbody tr')).filter(
        r => r.offsetParent !== null && r.querySelector('td'));
    return {{view: view.view_type, records: tab.screen.group.length,
        rows: rows.length, tabs: Sao.Tab.tabs.length}};
}})()'''


def open_menu(browser, menu):
    "Open the entry; the state of its tab once loaded and drawn."
    before = browser.js('Sao.Tab.tabs.length')
    browser.js(f'''Sao.Action.exec_keyword('tree_open', {{
        model: 'ir.ui.menu', id: {menu['id']}, ids: [{menu['id']}]}},
        null, false)''')
    state = browser.wait_js(f'''(() => {{ const s = {TAB_STATE};
        return s && s.tabs > {before} && s; }})()''',
        f"the tab of {menu['complete_name']}")
    if state['view'] == 'tree' and state['records'] and not state['rows']:
        # Rows are drawn after the records come.
        try:
            state = browser.wait_js(f'''(() => {{ const s = {TAB_STATE};
                return s && s.rows > 0 && s; }})()''',
                f"the rows of {menu['complete_name']}", timeout=20)
        except AssertionError:
            state = browser.wait_js(TAB_STATE, "the tab")
    return state


@pytest.mark.parametrize('user', ROLES)
def test_every_menu_entry_opens(server, database, browser, workdir, user):
    assert user in database['users'], f"the demo has no user {user!r}"
    browser.send('Emulation.setDeviceMetricsOverride', {
            'width': WIDTH, 'height': HEIGHT, 'deviceScaleFactor': 1,
            'mobile': False})
    failures = []
    with evidence(browser, workdir):
        sao_login(browser, server, database['name'], user, PASSWORD)
        browser.wait_js(MENU_READY, "the menu")
        # (The menu's action is a function field: not searchable.)
        menus = [m for m in browser.js(MENUS) if (m['action'] or ''
                ).startswith('ir.action.act_window,')]
        assert menus
        for menu in menus:
            action = menu['action']
            if action in opened:
                continue
            opened.add(action)
            errors_before = len(browser.errors())
            state = open_menu(browser, menu)
            errors = browser.errors()[errors_before:]
            name = menu['complete_name']
            if errors:
                failures.append(f"{name}: JavaScript errors {errors}")
            if state['view'] == 'tree' and state['records'] \
                    and not state['rows']:
                failures.append(f"{name}: {state['records']} records, "
                    "no row drawn")
            browser.js('Sao.Tab.tabs.close_current()')
            browser.wait_js(f'Sao.Tab.tabs.length < {state["tabs"]}',
                f"the tab of {name} to close")
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)
