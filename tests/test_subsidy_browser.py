"""The subsidy application form in the real web client.

A fresh PostgreSQL database gets `elevator_subsidy` (zh_CN), an open
programme (district step, then two finance clerks) and an application
submitted by a property company through the workflow; a real trytond
serves it with sao and headless Chromium logs in as the district regulator,
opens the application, clicks 受理 (accept for review) and 同意 (approve),
and sees it move to the finance step, with the decisions listed. A
screenshot is saved to docs/screenshots/subsidy-application.png.

Chromium, trytond and sao are driven by the helpers and fixtures of
tests/support/browser.py.
"""
import json
import os
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

SCREENSHOT = ROOT / 'docs' / 'screenshots' / 'subsidy-application.png'
REGULATOR = 'chengxiang_subsidy'
APPLICANT = 'property_subsidy'

SETUP_DATA = textwrap.dedent('''
    import datetime as dt, json, sys
    from decimal import Decimal
    from trytond import config
    config.update_etc(sys.argv[1])
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    database, spec = sys.argv[2], json.loads(sys.argv[3])
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, context={'language': 'en'}) as tx:
        ModelData = pool.get('ir.model.data')
        Lang = pool.get('ir.lang')
        Region = pool.get('elevator.region')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        User = pool.get('res.user')
        Program = pool.get('elevator.subsidy.program')
        Application = pool.get('elevator.subsidy.application')
        zh_cn, = Lang.search([('code', '=', 'zh_CN')])
        today = pool.get('ir.date').today()
        district = ModelData.get_id('elevator', 'region_350302')
        town, = Region.create([{'code': '350302001', 'name': '龙桥街道',
            'level': 'town', 'parent': district}])
        company, = Party.create([{'name': '莆田市万达物业服务有限公司',
            'is_user_unit': True, 'is_property_company': True}])
        place, = Place.create([{'name': '霞林小区', 'category': 'residential',
            'region': town.id, 'property_company': company.id,
            'low_maintenance_fund': True}])
        Elevator.create([{'registration_code': code, 'category': '3110',
            'region': town.id, 'place': place.id, 'user_unit': company.id,
            'property_company': company.id, 'state': 'in_use',
            'building': f'{i}号楼'} for i, code in enumerate(spec['codes'], 1)])
        group = lambda name: ModelData.get_id('elevator', name)
        User.create([{
            'login': spec['regulator'], 'name': '城厢区市场监管局（测试）',
            'password': spec['password'], 'language': zh_cn.id,
            'groups': [('add', [group('group_district_regulator')])],
            'elevator_regions': [('add', [district])],
            }, {
            'login': spec['applicant'], 'name': '万达物业（测试）',
            'password': spec['password'], 'language': zh_cn.id,
            'groups': [('add', [group('group_user_unit')])],
            'elevator_units': [('add', [company.id])],
            }])
        program, = Program.create([{
            'name': '老旧小区电梯物联网监测装置补助', 'year': today.year,
            'region': ModelData.get_id('elevator', 'region_350300'),
            'budget': Decimal('100000'), 'eligibility': ['low_fund'],
            'window_start': today - dt.timedelta(days=10),
            'window_end': today + dt.timedelta(days=10),
            'rates': [('create', [{'device_type': 'controller_terminal',
                            'amount': Decimal('2000')}])],
            'steps': [('create', [{
                            'sequence': 1, 'name': '区市场监管局初审',
                            'group': group('group_district_regulator'),
                            'level': 'district'}, {
                            'sequence': 2, 'name': '区财政局审核',
                            'group': group('group_finance'),
                            'level': 'program', 'number_user': 2}])],
            }])
        Program.open([program])
        tx.commit()
    # The applicant creates and submits through the workflow, with its
    # access rights; the submission locks the elevators (a restart).
    extras = {}
    while True:
        with Transaction().start(database, 0, **extras) as tx:
            try:
                applicant, = User.search([('login', '=', spec['applicant'])])
                elevators = Elevator.search([])
                with Transaction().set_user(applicant.id), \\
                        Transaction().set_context(_check_access=True):
                    application, = Application.create([{
                        'program': program.id, 'applicant': company.id,
                        'contact_name': '林经理',
                        'comment': '霞林小区维修资金不足，申请加装监测终端',
                        'lines': [('create', [{'elevator': e.id,
                                'device_types': ['controller_terminal']}
                            for e in elevators])]}])
                    Application.submit([application])
                tx.commit()
                break
            except TransactionError as exception:
                tx.rollback()
                exception.fix(extras)
    with open(sys.argv[4], 'w') as out:
        json.dump({'application': application.id}, out)
    ''')


@pytest.fixture(scope='module')
def database(workdir):
    "A new PostgreSQL database with elevator_subsidy and a submission."
    assert (SAO_ROOT / 'index.html').exists(), (
        "sao is not installed: run scripts/setup-sao.sh")
    name = database_name('subsidy_ui')
    port = free_port()
    conf = server_config(workdir / 'trytond.conf', port)
    passfile = workdir / 'admin-password'
    passfile.write_text(PASSWORD + '\n')
    log = workdir / 'setup.log'
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
    env.pop('TRYTOND_CONFIG', None)
    try:
        scratch_db.create_database(name, modules=('elevator_subsidy',))
        spec = {
            'regulator': REGULATOR, 'applicant': APPLICANT,
            'password': PASSWORD,
            'codes': ['31103503022010000001', '31103503022010000002'],
            }
        result = workdir / 'setup.json'
        run([sys.executable, '-c', SETUP_DATA, str(conf), name,
                json.dumps(spec), str(result)], log, env)
        yield {'name': name, 'conf': conf, 'port': port,
            **json.loads(result.read_text())}
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def login(browser, server, name, user, fragment=''):
    "Open sao at #name<fragment> and log in as user."
    sao_login(browser, server, name, user, fragment=fragment)


# The visible buttons of the form in the current tab, by label.
BUTTONS = '''(() => {
    const tab = document.querySelector('#tabcontent .tab-pane.active');
    if (!tab) { return []; }
    return Array.from(tab.querySelectorAll('button'))
        .filter(b => b.offsetParent !== null && !b.disabled)
        .map(b => b.innerText.trim()).filter(t => t);
})()'''
CLICK = '''(label => {
    const tab = document.querySelector('#tabcontent .tab-pane.active');
    const button = Array.from(tab.querySelectorAll('button')).find(
        b => b.offsetParent !== null && !b.disabled
            && b.innerText.trim() == label);
    if (!button) { return false; }
    button.click();
    return true;
})'''
# Open the page of the form's notebook with this label.
TAB = '''(label => {
    const tab = document.querySelector('#tabcontent .tab-pane.active');
    const link = Array.from(tab.querySelectorAll('.nav-tabs a')).find(
        a => a.offsetParent !== null && a.innerText.trim() == label);
    if (!link) { return false; }
    link.click();
    return true;
})'''
# Text of the form in the current tab.
FORM_TEXT = '''(() => {
    const tab = document.querySelector('#tabcontent .tab-pane.active');
    if (!tab) { return ''; }
    const values = Array.from(tab.querySelectorAll('input, select'))
        .filter(e => e.offsetParent !== null)
        .map(e => e.tagName == 'SELECT'
            ? (e.options[e.selectedIndex] || {}).text : e.value);
    return tab.innerText + '\\n' + values.join('\\n');
})()'''


def click(browser, label):
    browser.wait_js(f'{CLICK}({json.dumps(label)})', f"the button {label}")
    browser.wait_js('jQuery.active == 0', "the click to be processed")


def test_regulator_accepts_and_approves_in_the_form(
        server, database, browser, workdir):
    name = database['name']
    fragment = f"/model/elevator.subsidy.application/{database['application']}"
    with evidence(browser, workdir):
        login(browser, server, name, REGULATOR, fragment)
        browser.wait_js(
            f'{BUTTONS}.includes("受理")', "the 受理 button of the form")
        buttons = browser.js(BUTTONS)
        # Not his to submit, nor yet to approve or pay.
        assert not {'提交', '同意', '拨付'} & set(buttons), buttons
        text = browser.js(FORM_TEXT)
        assert '已提交' in text and '4,000.00' in text, text

        click(browser, '受理')
        browser.wait_js(f'{BUTTONS}.includes("同意")', "the 同意 button")
        assert '审核中' in browser.js(FORM_TEXT)

        click(browser, '同意')
        # The finance step is not his: no button left to click.
        wait_for(lambda: not {'受理', '同意'} & set(browser.js(BUTTONS)),
            "the decision buttons to go")

        # The review page shows the step and every decision on record.
        browser.wait_js(f'{TAB}("审批")', "the review page")

        def decisions():
            text = browser.js(FORM_TEXT)
            return ('区财政局审核' in text
                and text.count('区市场监管局初审') >= 2
                and '城厢区市场监管局（测试）' in text
                and '万达物业（测试）' in text)
        wait_for(decisions, "the finance step and the decisions")
        browser.screenshot(SCREENSHOT)
