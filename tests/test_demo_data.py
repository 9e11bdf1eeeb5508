"""`elevator demo-data` on a real PostgreSQL database: determinism, the
demo users and their data scope through the real record rules.

The database gets the module `elevator` the way the demo does (trytond-admin
in a subprocess) and is dropped at the end. The demo is small (300
elevators); bench/bench_import.py runs the generator at 30,000.
"""
import datetime as dt
import os
import re
import uuid
from collections import Counter

import pytest
from stdnum.cn import uscc

from elevator_platform import cli, scratch_db, tryton_env
from elevator_platform.demo_data import PASSWORD, USERS
from elevator_platform.demo_world import DISTRICTS, DemoWorld
from elevator_platform.importer import read_rows

ELEVATORS = 300
SEED = 5


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_demo_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name)
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def world(database):
    "The demo loaded through the command line, and what it generated."
    code = cli.main(['demo-data', '-d', database,
            '--elevators', str(ELEVATORS), '--seed', str(SEED), '--quiet'])
    assert code == 0
    return DemoWorld(ELEVATORS, SEED)


def codes(world):
    return [e['registration_code'] for e in world.elevators]


def test_same_seed_same_data():
    first, again, other = (DemoWorld(ELEVATORS, SEED),
        DemoWorld(ELEVATORS, SEED), DemoWorld(ELEVATORS, SEED + 1))
    assert codes(first) == codes(again)
    assert [e['rescue_code'] for e in first.elevators] == [
        e['rescue_code'] for e in again.elevators]
    assert [u.uscc for u in first.units()] == [
        u.uscc for u in again.units()]
    assert [s.name for s in first.sites] == [s.name for s in again.sites]
    assert codes(first) != codes(other)
    # The due dates follow today, the codes do not.
    later = DemoWorld(ELEVATORS, SEED, today=dt.date(2030, 1, 1))
    assert codes(later) == codes(first)


def test_database_has_the_generated_registry(database, world):
    with tryton_env.transaction(database, readonly=True) as pool:
        Elevator = pool.get('elevator.elevator')
        stored = {e.registration_code: e for e in Elevator.search([])}
        assert set(stored) == set(codes(world))
        for values in world.elevators[:20]:
            elevator = stored[values['registration_code']]
            assert elevator.rescue_code == values['rescue_code']
            assert elevator.region.code == values['region']
            assert elevator.district.code == values['region'][:6]
            assert elevator.place.name == values['place']
            assert elevator.orphan == values['orphan']


def test_realistic_distributions():
    world = DemoWorld(6000, 1, today=dt.date(2026, 6, 1))
    elevators = world.elevators
    n = len(elevators)
    assert len(world.sites) == 1500
    assert len(world.firms) == 60
    assert 0.03 <= sum(e['orphan'] for e in elevators) / n <= 0.06
    orphan = next(e for e in elevators if e['orphan'])
    assert orphan['user_unit'] is None

    categories = Counter(e['category'] for e in elevators)
    assert categories['3110'] / n > 0.8
    assert {'3120', '3200', '3310', '3320', '3400'} <= set(categories)
    districts = Counter(e['region'][:6] for e in elevators)
    assert set(districts) == {d[0] for d in DISTRICTS}
    assert districts['350304'] > districts['350305'] > districts['350371']
    brands = Counter(e['brand'] for e in elevators)
    assert {b for b, _ in brands.most_common(4)} <= {
        '三菱', '日立', '奥的斯', '通力', '迅达'}
    assert all(25.0 <= e['latitude'] <= 25.7 for e in elevators)
    assert all(118.6 <= e['longitude'] <= 119.3 for e in elevators)
    assert 0.5 < sum(e['has_video'] for e in elevators) / n < 0.9

    today = dt.date(2026, 6, 1)
    overdue = sum(e['next_inspection_date'] < today for e in elevators)
    soon = sum(today <= e['next_inspection_date']
        <= today + dt.timedelta(days=30) for e in elevators)
    assert 0.02 < overdue / n < 0.08
    assert 0.04 < soon / n < 0.15

    assert len(set(codes(world))) == n
    rescue = [e['rescue_code'] for e in elevators]
    assert len(set(rescue)) == n and all(len(c) == 6 for c in rescue)
    for e in elevators:
        code = e['registration_code']
        assert code[:4] == e['category']
        assert code[4:10] in {'350300', e['region'][:6]}
        assert int(code[10:14]) == e['commissioning_date'].year
        assert 18 <= len(e['equipment_code']) <= 19
    assert all(uscc.is_valid(u.uscc) for u in world.units())
    assert all(re.fullmatch(r'TS3435\d{3}-20\d\d', f.licence_number)
        for f in world.firms)
    assert world.agency.name == '福建省特种设备检验研究院莆田分院'


def test_codes_pass_the_module_checks(database, world):
    from trytond.modules.elevator.elevator import (
        equipment_code_error,
        registration_code_error,
    )
    with tryton_env.transaction(database, readonly=True) as pool:
        authorities = pool.get('elevator.elevator').known_authorities()
    for values in DemoWorld(3000, 2).elevators:
        assert registration_code_error(
            values['registration_code'], authorities) is None
        assert equipment_code_error(values['equipment_code']) is None


def counts(database):
    models = ['elevator.elevator', 'elevator.region', 'elevator.place',
        'party.party', 'party.identifier', 'res.user', 'elevator.inspection',
        'res.user-elevator.region', 'res.user-elevator.unit',
        'res.user-res.group', 'elevator.insurance.policy']
    with tryton_env.transaction(database, readonly=True) as pool:
        return {m: pool.get(m).search_count([]) for m in models}


def test_second_run_changes_nothing(database, world):
    before = counts(database)
    code = cli.main(['demo-data', '-d', database,
            '--elevators', str(ELEVATORS), '--seed', str(SEED), '--quiet'])
    assert code == 0
    assert counts(database) == before


def test_demo_users(database, world):
    with tryton_env.transaction(database) as pool:
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        for login, name, group, _ in USERS:
            user, = User.search([('login', '=', login)])
            assert user.language.code == 'zh_CN'
            # Every demo user has a Chinese name, the admin too (trytond
            # names it "Administrator").
            assert name and user.name == name
            assert ModelData.get_id('elevator', group) in [
                g.id for g in user.groups]
            assert User.get_login(login, {'password': PASSWORD}) == user.id


def visible(database, login, domain=None):
    "Elevators that `login` finds, through the record rules."
    from trytond.transaction import Transaction
    with tryton_env.transaction(database, readonly=True) as pool:
        User = pool.get('res.user')
        Elevator = pool.get('elevator.elevator')
        user, = User.search([('login', '=', login)])
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            return [(e.registration_code, e.district.code,
                    e.maintenance_unit.uscc if e.maintenance_unit else None,
                    e.user_unit.uscc if e.user_unit else None,
                    e.property_company.uscc if e.property_company else None)
                for e in Elevator.search(domain or [])]


def test_district_regulators_see_their_district(database, world):
    for login, _, _, district in USERS:
        if login not in {'chengxiang', 'hanjiang', 'licheng', 'xiuyu',
                'xianyou'}:
            continue
        seen = visible(database, login)
        expected = {e['registration_code'] for e in world.elevators
            if e['region'].startswith(district)}
        assert expected
        assert {code for code, *_ in seen} == expected
        assert {d for _, d, *_ in seen} == {district}


def test_firm_and_property_users_see_their_units(database, world):
    from elevator_platform.demo_data import demo_property_company
    firm = world.firms[0].uscc
    for login in ['firm1', 'tech1', 'tech2']:
        seen = visible(database, login)
        assert len(seen) == sum(
            e['maintenance_unit_uscc'] == firm for e in world.elevators) > 0
        assert {m for _, _, m, _, _ in seen} == {firm}
    company = demo_property_company(world).uscc
    seen = visible(database, 'property1')
    assert seen
    assert all(company in (u, p) for _, _, _, u, p in seen)
    assert len(visible(database, 'city')) == ELEVATORS
    assert len(visible(database, 'auditor')) == ELEVATORS


def test_inspections_report_device_findings(database, world):
    with tryton_env.transaction(database, readonly=True) as pool:
        Inspection = pool.get('elevator.inspection')
        Notification = pool.get('res.notification')
        ModelData = pool.get('ir.model.data')
        inspections = Inspection.search([])
        assert len(inspections) >= ELEVATORS // 12
        assert all(i.state == 'done' for i in inspections)
        findings = [i for i in inspections if i.device_findings]
        assert findings
        for inspection in inspections:
            elevator = inspection.elevator
            assert elevator.last_inspection_date == inspection.date
            assert elevator.next_inspection_date == inspection.next_due_date
        group = ModelData.get_id('elevator', 'group_district_regulator')
        notified = Notification.search([('model', '=',
                    'elevator.inspection')])
        assert notified
        assert all(group in [g.id for g in n.user.groups] for n in notified)


def test_write_registry_for_import(tmp_path):
    path = tmp_path / 'registry.csv'
    code = cli.main(['demo-data', '--elevators', '50', '--seed', str(SEED),
            '--write-registry', str(path)])
    assert code == 0
    rows, columns, unknown = read_rows(str(path))
    assert not unknown
    assert len(rows) == 50
    assert [cells['registration_code'] for _, cells in rows] == codes(
        DemoWorld(50, SEED))
    assert columns['registration_code'] == (1, '注册代码')
