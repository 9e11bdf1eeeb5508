"""The assessment dashboards in the real web client (sao) and headless
Chromium, with the helpers of tests/support/browser.py.

A fresh PostgreSQL database gets elevator_assessment (with zh_CN), a few
elevators in two districts and a published district table; the city
regulator opens the City Dashboard and sees every district, the
regulator of 涵江区 opens the District Dashboard and sees his district
only, in each of its lists and graphs. The boards of sao ignore the
domains of their actions: the district dashboard filters through the
context domain of its actions, which sao applies.
"""
import datetime as dt

import pytest

from elevator_platform import scratch_db, tryton_env
from support.browser import (
    PASSWORD,
    SAO_ROOT,
    evidence,
    sao_login,
    server_config,
)
from support.db import database_name
from support.process import free_port, wait_for

CITY = 'city_dashboard_e2e'
REGULATOR = 'hanjiang_dashboard_e2e'


def _setup(name):
    """Registry, users and a published table; returns the id of 涵江区 and
    the ids of the dashboard actions."""
    from trytond.modules.elevator_assessment.common import (
        add_months,
        period_bounds,
    )
    with tryton_env.transaction(name) as pool:
        ModelData = pool.get('ir.model.data')
        Region = pool.get('elevator.region')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        User = pool.get('res.user')
        Lang = pool.get('ir.lang')
        Period = pool.get('elevator.assessment.period')
        ActWindow = pool.get('ir.action.act_window')
        zh_cn, = Lang.search([('code', '=', 'zh_CN')])
        elevators = []
        for code, count in [('350302', 3), ('350303', 2)]:
            district = Region(ModelData.get_id('elevator', f'region_{code}'))
            place, = Place.create([{'name': f'{district.name}测试小区',
                        'category': 'residential', 'region': district.id}])
            for n in range(count):
                elevators.append({
                        'registration_code': f'3110{code}2016{n + 1:06d}',
                        'category': '3110', 'region': district.id,
                        'place': place.id, 'place_category': 'residential',
                        'has_video': n == 0, 'state': 'in_use',
                        'next_inspection_date': dt.date(2031, 1, 1),
                        })
        Elevator.create(elevators)
        hanjiang = ModelData.get_id('elevator', 'region_350303')
        User.create([{
                    'login': CITY, 'name': '市级监管（测试）',
                    'password': PASSWORD, 'language': zh_cn.id,
                    'groups': [('add', [ModelData.get_id(
                                    'elevator', 'group_city_regulator')])],
                    }, {
                    'login': REGULATOR, 'name': '涵江区监管（测试）',
                    'password': PASSWORD, 'language': zh_cn.id,
                    'groups': [('add', [ModelData.get_id(
                                    'elevator', 'group_district_regulator')])],
                    'elevator_regions': [('add', [hanjiang])],
                    }])
        today = dt.date.today()
        current, _ = period_bounds('quarter', today)
        start, end = period_bounds('quarter', add_months(current, -3))
        period = Period.get_or_create('quarter', start, end)
        Period.compute([period])
        Period.publish([period])
        return hanjiang, {key: ActWindow(ModelData.get_id(
                    'elevator_assessment', xml_id)).action.id
            for key, xml_id in [('city', 'act_dashboard_city'),
                ('district', 'act_dashboard_district')]}


@pytest.fixture(scope='module')
def database(workdir):
    assert (SAO_ROOT / 'index.html').exists(), (
        "sao is not installed: run scripts/setup-sao.sh")
    name = database_name('dashboard')
    port = free_port()
    conf = server_config(workdir / 'trytond.conf', port)
    scratch_db.create_database(name, modules=('elevator_assessment',))
    try:
        hanjiang, actions = _setup(name)
        yield {'name': name, 'conf': conf, 'port': port,
            'actions': actions, 'hanjiang': hanjiang}
    finally:
        scratch_db.drop_database(name)


# For the last board opened: per action, its name, the number of records
# it shows and its view type, once every action has its screen.
BOARD = '''(() => {
    const tabs = Sao.Tab.tabs.filter(t => t.board);
    if (!tabs.length) { return null; }
    const actions = tabs[tabs.length - 1].board.actions;
    if (!actions.length || actions.some(a => !a.screen
            || !a.screen.current_view)) { return null; }
    return actions.map(a => [a.name.split('.')[1], a.screen.group.length,
        a.screen.current_view.view_type]);
})()'''

# The text of the rows of the first list of the last board.
BOARD_LIST = '''(() => {
    const tabs = Sao.Tab.tabs.filter(t => t.board);
    const el = tabs[tabs.length - 1].board.el[0];
    return Array.from(el.querySelectorAll('.treeview table tbody tr'))
        .filter(r => r.offsetParent !== null).map(r => r.innerText);
})()'''


def open_board(browser, action_id, expected):
    """Open the board and wait until its actions show the expected number
    of records: {action: count}. Returns {action: (count, view type)}."""
    browser.js(f'Sao.Action.execute({action_id}, {{}}, {{}}); true')

    def loaded():
        board = browser.js(BOARD)
        if not board or browser.js('jQuery.active') != 0:
            return None
        found = {n: (count, view) for n, count, view in board}
        if all(found.get(n, (None,))[0] == c for n, c in expected.items()):
            return found
        return None
    try:
        return wait_for(loaded, "the board to show its records",
            timeout=60)
    except AssertionError:
        raise AssertionError(f"board: {browser.js(BOARD)}") from None


def test_city_dashboard(server, database, browser, workdir):
    "The city regulator sees every district on the City Dashboard"
    with evidence(browser, workdir):
        sao_login(browser, server, database['name'], CITY)
        found = open_board(browser, database['actions']['city'], {
                # 5 districts and 3 management committees; 12 months each.
                'act_dashboard_live': 8,
                'act_dashboard_coverage': 8,
                'act_dashboard_open': 8,
                'act_dashboard_trend': 96,
                })
        assert [v for _, v in found.values()] == [
            'tree', 'graph', 'graph', 'graph']
        rows = '\n'.join(wait_for(lambda: browser.js(BOARD_LIST),
                "the rows of the list"))
        assert '城厢区' in rows and '涵江区' in rows
        # The three graphs are drawn.
        browser.wait_js('document.querySelectorAll('
            '".board .graph svg").length >= 3', "the graphs")
        browser.screenshot(workdir / 'city-dashboard.png')
        assert not browser.errors()


def test_district_dashboard(server, database, browser, workdir):
    "A district regulator sees his district on the District Dashboard"
    with evidence(browser, workdir):
        sao_login(browser, server, database['name'], REGULATOR)
        found = open_board(browser, database['actions']['district'], {
                'act_dashboard_district_live': 1,
                'act_dashboard_district_trend': 12,
                # Only the registry's indicators: D02 and D06.
                'act_dashboard_district_scores': 2,
                'act_dashboard_district_history': 1,
                })
        assert found['act_dashboard_district_trend'][1] == 'graph'
        rows = '\n'.join(wait_for(lambda: browser.js(BOARD_LIST),
                "the rows of the list"))
        assert '涵江区' in rows and '城厢区' not in rows
        # The district is the context of each action, by default the
        # regulator's.
        districts = browser.js('(() => {'
            ' const tabs = Sao.Tab.tabs.filter(t => t.board);'
            ' return tabs[tabs.length - 1].board.actions.map('
            '   a => a.screen.context.district); })()')
        assert districts == [database['hanjiang']] * 4, districts
        browser.screenshot(workdir / 'district-dashboard.png')
        assert not browser.errors()
