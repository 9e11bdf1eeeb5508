"""The other parties of the notice (issue 17) on real non-admin users:
inspection agency, town/street office, housing department, emergency
management, industry association, insurer and investor of IoT terminals.

One PostgreSQL database with every module and the demo (`elevator
demo-data`: its users agency1, street1, housing, emergency, association,
insurer1, investor1), completed as root by records that the scopes must
tell apart (an elevator of another agency, an orphan elevator outside the
town, a rescue without injuries, a policy of another insurer, ...). Each
user then acts through the ORM with access checking as RPC runs it
(support.access): it sees exactly its share, by search, read, search on
dotted names, order and export, and cannot write outside its duty.
"""
import datetime as dt
import os
import uuid

import pytest

from elevator_platform import cli, scratch_db, tryton_env
from support.access import user_transaction
from support.db import ALL_MODULES, database_name

LOGINS = ['agency1', 'street1', 'housing', 'emergency', 'association',
    'insurer1', 'investor1']
ZH = {'language': 'zh_CN'}


@pytest.fixture(scope='module')
def database():
    # For development only: PARTY_ROLES_DB names a database made by this
    # fixture and kept, to rerun the tests in seconds.
    kept = os.environ.get('PARTY_ROLES_DB')
    if kept:
        yield kept
        return
    name = database_name('parties')
    scratch_db.create_database(name, modules=ALL_MODULES)
    try:
        assert cli.main(['demo-data', '-d', name, '--elevators', '40',
                    '--seed', '7', '--quiet']) == 0
        yield name
    finally:
        scratch_db.drop_database(name)


def registration(region_code, n):
    "A unique 20-digit registration code in the region."
    tag = uuid.uuid4().int % 10**5
    return f'3110{region_code}2021{tag:05d}{n % 10}'


@pytest.fixture(scope='module')
def world(database):
    """Records the scopes must tell apart, created as root; returns
    {'users': {login: id}, ...ids}."""
    with tryton_env.transaction(database) as pool:
        User = pool.get('res.user')
        Party = pool.get('party.party')
        Region = pool.get('elevator.region')
        Elevator = pool.get('elevator.elevator')
        Policy = pool.get('elevator.insurance.policy')
        Ticket = pool.get('elevator.rescue.ticket')
        Project = pool.get('elevator.installation.project')
        Line = pool.get('elevator.installation.project.line')
        users = {u.login: u for u in User.search([('login', 'in', LOGINS)])}
        assert set(users) == set(LOGINS)
        agency, = users['agency1'].elevator_units
        insurer, = users['insurer1'].elevator_units
        investor, = users['investor1'].elevator_units
        town, = users['street1'].elevator_regions
        assert town.level == 'town'
        other_town, = Region.search([('level', '=', 'town'),
                ('id', '!=', town.id), ('parent', '!=', town.parent.id)],
            limit=1)

        def elevator(region, n, **values):
            code = region.code[:6]
            return Elevator.create([{
                        'registration_code': registration(code, n),
                        'category': '3110', 'region': region.id,
                        **values}])[0]

        # Another agency inspects a few demo elevators.
        other_agency, = Party.create([{'name': '另一检验机构',
                    'is_inspection_agency': True}])
        others = Elevator.search([('inspection_agency', '=', agency.id)],
            order=[('id', 'DESC')], limit=5)
        Elevator.write(others, {'inspection_agency': other_agency.id})
        # Orphans in and out of the town, a non-orphan in it.
        orphan_in = elevator(town, 1, orphan=True)
        orphan_out = elevator(other_town, 2, orphan=True)
        plain_in = elevator(town, 3)
        # A draft elevator (the demo's new constructions may be few).
        draft = elevator(other_town, 4)
        # Installation projects in and out of the town.
        device_type = Line.fields_get(['device_type'])['device_type'][
            'selection'][0][0]
        owner = investor
        project_in, project_out = Project.create([{
                    'name': f'安装项目 {i}', 'owner': owner.id,
                    'lines': [('create', [{'elevator': e.id,
                                    'device_type': device_type}])],
                    } for i, e in enumerate([plain_in, orphan_out])])
        # Rescues with and without injured persons.
        # (One open ticket per elevator: two elevators without one.)
        busy = {t.elevator.id for t in Ticket.search([])}
        calm = [e for e in Elevator.search([('state', '=', 'in_use')])
            if e.id not in busy][:2]
        injured, unhurt = Ticket.create([{
                    'elevator': e.id,
                    'caller_name': '张三', 'caller_phone': '13800000001',
                    'injuries': n} for e, n in zip(calm, (1, 0))])
        # A policy of another insurer.
        other_insurer, = Party.create([{'name': '另一保险机构',
                    'is_insurer': True}])
        today = dt.date.today()
        other_policy, = Policy.create([{'insurer': other_insurer.id,
                    'elevator': orphan_out.id, 'number': 'OTHER-1',
                    'cover_amount': 100000, 'start_date': today,
                    'end_date': today + dt.timedelta(days=365)}])
        return {
            'users': {login: u.id for login, u in users.items()},
            'agency': agency.id, 'other_agency': other_agency.id,
            'insurer': insurer.id, 'investor': investor.id,
            'town': town.id, 'orphan_in': orphan_in.id,
            'orphan_out': orphan_out.id, 'plain_in': plain_in.id,
            'draft': draft.id, 'project_in': project_in.id,
            'project_out': project_out.id, 'injured': injured.id,
            'unhurt': unhurt.id, 'other_policy': other_policy.id,
            'other_elevator': others[0].id,
            }


def root_ids(database, model, domain):
    with tryton_env.transaction(database, readonly=True) as pool:
        return {r.id for r in pool.get(model).search(domain)}


def seen(database, user, model, domain=None, order=None):
    "Ids the user finds, after reading and exporting them."
    with user_transaction(database, user, ZH) as (pool, _):
        Model = pool.get(model)
        records = Model.search(domain or [], order=order)
        Model.read([r.id for r in records], ['rec_name'])
        Model.export_data(records, ['rec_name'])
        return {r.id for r in records}


def refused(database, user, func):
    "func(pool) must fail with an access error; nothing is kept."
    from trytond.exceptions import UserError
    from trytond.model.exceptions import AccessError
    with pytest.raises((AccessError, UserError)):
        with user_transaction(database, user, ZH) as (pool, transaction):
            try:
                func(pool)
            finally:
                transaction.rollback()


def test_every_party_has_a_menu(database, world):
    "Each new user's menu shows the lists of its duty, in Chinese."
    expected = {
        'agency1': [('elevator', 'menu_inspection')],
        'street1': [('elevator_subsidy', 'menu_project')],
        'housing': [('elevator_subsidy', 'menu_project')],
        'emergency': [('elevator_rescue', 'menu_ticket')],
        'association': [('elevator_assessment', 'menu_evaluation'),
            ('elevator_public', 'menu_article')],
        'insurer1': [('elevator', 'menu_insurance_policy')],
        'investor1': [('elevator_iot', 'menu_device'),
            ('elevator_iot', 'menu_status')],
        }
    for login, user in world['users'].items():
        with user_transaction(database, user, ZH) as (pool, _):
            Menu = pool.get('ir.ui.menu')
            ModelData = pool.get('ir.model.data')
            menus = Menu.search([])
            assert menus, login
            names = [m.complete_name for m in menus]
            assert any(n.startswith('电梯安全') for n in names), (login,
                names)
            ids = {m.id for m in menus}
            for module, xml_id in expected.get(login, []):
                assert ModelData.get_id(module, xml_id) in ids, (login,
                    xml_id)


def test_agency_sees_and_records_its_inspections(database, world):
    user = world['users']['agency1']
    elevators = seen(database, user, 'elevator.elevator',
        order=[('region.code', 'ASC')])
    assert elevators == root_ids(database, 'elevator.elevator',
        [('inspection_agency', '=', world['agency'])])
    assert world['other_elevator'] not in elevators
    # Dotted search cannot reach beyond the scope.
    assert seen(database, user, 'elevator.elevator',
        [('inspection_agency', '=', world['other_agency'])]) == set()
    # The inspections of its elevators (who sees the elevator sees its
    # inspections), not those of the elevators of the other agency.
    inspections = seen(database, user, 'elevator.inspection')
    assert inspections == root_ids(database, 'elevator.inspection', [
            ('elevator.inspection_agency', '=', world['agency'])])
    assert inspections
    assert not inspections & root_ids(database, 'elevator.inspection', [
            ('elevator', '=', world['other_elevator'])])
    today = dt.date.today()

    def values(elevator, agency=world['agency']):
        return {'elevator': elevator, 'agency': agency, 'kind': 'periodic',
            'date': today, 'next_due_date': today + dt.timedelta(days=365),
            'conclusion': 'qualified', 'video': 'missing',
            'monitoring_device': 'conforming'}
    mine = min(elevators)
    with user_transaction(database, user, ZH) as (pool, _):
        Inspection = pool.get('elevator.inspection')
        inspection, = Inspection.create([values(mine)])
        Inspection.write([inspection], {'notes': '视频监控缺失'})
        created = inspection.id
    # Not on another agency's elevator, not in another agency's name.
    refused(database, user, lambda pool: pool.get(
            'elevator.inspection').create([values(world['other_elevator'])]))
    refused(database, user, lambda pool: pool.get(
            'elevator.inspection').create([
                values(mine, world['other_agency'])]))
    # The district signs off, not the agency; nor does it delete.
    refused(database, user, lambda pool: pool.get(
            'elevator.inspection').sign_off([pool.get(
                    'elevator.inspection')(created)]))
    refused(database, user, lambda pool: pool.get(
            'elevator.inspection').delete([pool.get(
                    'elevator.inspection')(created)]))
    refused(database, user, lambda pool: pool.get(
            'elevator.elevator').write([pool.get('elevator.elevator')(
                    mine)], {'orphan': True}))


def test_street_sees_orphans_and_projects_of_its_area(database, world):
    user = world['users']['street1']
    orphans = seen(database, user, 'elevator.elevator',
        [('orphan', '=', True)], order=[('place.name', 'ASC')])
    assert orphans == root_ids(database, 'elevator.elevator', [
            ('orphan', '=', True),
            ('region', 'child_of', [world['town']], 'parent')])
    assert world['orphan_in'] in orphans
    assert world['orphan_out'] not in orphans
    elevators = seen(database, user, 'elevator.elevator')
    # Beyond the orphans, only the elevators of its installation projects.
    assert world['plain_in'] in elevators
    assert elevators <= root_ids(database, 'elevator.elevator', [
            ('region', 'child_of', [world['town']], 'parent')])
    projects = seen(database, user, 'elevator.installation.project')
    assert world['project_in'] in projects
    assert world['project_out'] not in projects
    assert seen(database, user, 'elevator.installation.project.line',
        [('project', '=', world['project_in'])])
    refused(database, user, lambda pool: pool.get(
            'elevator.installation.project').write([pool.get(
                    'elevator.installation.project')(world['project_in'])],
            {'name': '改名'}))
    refused(database, user, lambda pool: pool.get(
            'elevator.elevator').write([pool.get('elevator.elevator')(
                    world['orphan_in'])], {'orphan': False}))


def test_housing_sees_new_elevators_and_projects(database, world):
    user = world['users']['housing']
    elevators = seen(database, user, 'elevator.elevator',
        [('state', '=', 'draft')])
    assert world['draft'] in elevators
    assert elevators == root_ids(database, 'elevator.elevator',
        [('state', '=', 'draft')])
    # In use: only those of installation projects.
    in_use = seen(database, user, 'elevator.elevator',
        [('state', '!=', 'draft')])
    assert in_use == root_ids(database, 'elevator.elevator', [
            ('state', '!=', 'draft'), ('device_installations', '!=', None)])
    projects = seen(database, user, 'elevator.installation.project')
    assert projects == root_ids(database, 'elevator.installation.project',
        [])
    refused(database, user, lambda pool: pool.get(
            'elevator.installation.project').write([pool.get(
                    'elevator.installation.project')(world['project_in'])],
            {'name': '改名'}))
    refused(database, user, lambda pool: pool.get(
            'elevator.inspection').create([{
                    'elevator': world['draft'], 'agency': world['agency'],
                    'date': dt.date.today(),
                    'next_due_date': dt.date.today() + dt.timedelta(1),
                    'conclusion': 'qualified'}]))


def test_emergency_sees_injuries_not_callers(database, world):
    from trytond.model.exceptions import AccessError
    user = world['users']['emergency']
    tickets = seen(database, user, 'elevator.rescue.ticket',
        order=[('elevator.registration_code', 'ASC')])
    assert tickets == root_ids(database, 'elevator.rescue.ticket',
        [('injuries', '>', 0)])
    assert world['injured'] in tickets and world['unhurt'] not in tickets
    with user_transaction(database, user, ZH) as (pool, _):
        Ticket = pool.get('elevator.rescue.ticket')
        row, = Ticket.read([world['injured']], ['caller_phone_masked'])
        assert row['caller_phone_masked'] != '13800000001'
        for name in ['caller_phone', 'caller_name']:
            with pytest.raises(AccessError):
                Ticket.read([world['injured']], [name])
            with pytest.raises(AccessError):
                Ticket.search([(name, '=', '13800000001')])
    refused(database, user, lambda pool: pool.get(
            'elevator.rescue.ticket').write([pool.get(
                    'elevator.rescue.ticket')(world['injured'])],
            {'injuries': 2}))
    refused(database, user, lambda pool: pool.get(
            'elevator.rescue.call').search([]))


def test_association_reads_credit_writes_articles(database, world):
    user = world['users']['association']
    evaluations = seen(database, user, 'elevator.credit.evaluation',
        order=[('maintenance_unit.name', 'ASC')])
    assert evaluations == root_ids(database, 'elevator.credit.evaluation',
        [('state', '=', 'published')])
    assert evaluations
    assert not seen(database, user, 'elevator.credit.evaluation',
        [('state', '!=', 'published')])
    with user_transaction(database, user, ZH) as (pool, _):
        Article = pool.get('elevator.knowledge.article')
        category = Article.fields_get(['category'])['category'][
            'selection'][-1][0]
        article, = Article.create([{'title': '电梯主要部件更换周期',
                    'category': category, 'body': '曳引钢丝绳……'}])
        Article.write([article], {'summary': '协会发布'})
        article_id = article.id
    refused(database, user, lambda pool: pool.get(
            'elevator.knowledge.article').delete([pool.get(
                    'elevator.knowledge.article')(article_id)]))
    refused(database, user, lambda pool: pool.get(
            'elevator.credit.evaluation').write([pool.get(
                    'elevator.credit.evaluation')(min(evaluations))],
            {'state': 'draft'}))
    refused(database, user, lambda pool: pool.get(
            'elevator.elevator').search([]))


def test_insurer_sees_its_policies_and_elevators(database, world):
    user = world['users']['insurer1']
    policies = seen(database, user, 'elevator.insurance.policy',
        order=[('elevator.registration_code', 'ASC')])
    assert policies == root_ids(database, 'elevator.insurance.policy',
        [('insurer', '=', world['insurer'])])
    assert policies and world['other_policy'] not in policies
    elevators = seen(database, user, 'elevator.elevator')
    assert elevators == root_ids(database, 'elevator.elevator',
        [('insurance_policies.insurer', '=', world['insurer'])])
    assert world['orphan_out'] not in elevators
    today = dt.date.today()
    refused(database, user, lambda pool: pool.get(
            'elevator.insurance.policy').create([{
                    'insurer': world['insurer'], 'elevator': min(elevators),
                    'number': 'SELF-1', 'cover_amount': 1,
                    'start_date': today,
                    'end_date': today + dt.timedelta(days=1)}]))
    refused(database, user, lambda pool: pool.get(
            'elevator.insurance.policy').write([pool.get(
                    'elevator.insurance.policy')(min(policies))],
            {'cover_amount': 1}))


def test_policy_rules_give_translated_errors(database, world):
    "A policy whose period ends before it starts is refused, nothing kept."
    from trytond.model.exceptions import DomainValidationError
    today = dt.date.today()
    with tryton_env.transaction(database, context=ZH) as pool:
        Policy = pool.get('elevator.insurance.policy')
        with pytest.raises(DomainValidationError) as info:
            Policy.create([{'insurer': world['insurer'],
                        'elevator': world['draft'], 'number': 'BAD-1',
                        'cover_amount': 1000, 'start_date': today,
                        'end_date': today}])
        assert '终保日期' in info.value.message


def test_investor_sees_its_terminals(database, world):
    user = world['users']['investor1']
    devices = seen(database, user, 'elevator.iot.device',
        order=[('elevator.registration_code', 'ASC')])
    # Its terminals, and the others fitted on the same elevators (who sees
    # an elevator sees its devices), no more.
    own = root_ids(database, 'elevator.iot.device',
        [('investor', '=', world['investor'])])
    assert own and own <= devices
    assert devices == root_ids(database, 'elevator.iot.device', ['OR',
            ('investor', '=', world['investor']),
            ('elevator.devices.investor', '=', world['investor'])])
    assert len(root_ids(database, 'elevator.iot.device', [])) > len(devices)
    assert seen(database, user, 'elevator.elevator') == root_ids(database,
        'elevator.elevator', [('devices.investor', '=', world['investor'])])
    statuses = seen(database, user, 'elevator.iot.status')
    assert statuses == root_ids(database, 'elevator.iot.status', ['OR',
            ('device.investor', '=', world['investor']),
            ('elevator.devices.investor', '=', world['investor'])])
    refused(database, user, lambda pool: pool.get(
            'elevator.iot.device').write([pool.get('elevator.iot.device')(
                    min(devices))], {'investor': None}))
    refused(database, user, lambda pool: pool.get(
            'elevator.rescue.ticket').search([]))
