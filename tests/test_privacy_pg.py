"""Personal data on a real PostgreSQL database, tried by real non-admin
users of every role through the checks of the RPC (issue 12, items 1, 2
and 8, retention, access log). docs/security.md lists each threat with
the test that covers it.

A fresh database gets `elevator_rescue`, `elevator_public` and
`elevator_maintenance` (trytond-admin, as the demo does); its data is
committed and dropped with it.

- Callers' names and phones of 96196 tickets and their alarms are read,
  searched, counted, ordered and exported only by the dispatchers (and
  the administrator): every other role is refused on every route,
  including dotted names through the alarm, the dispatch and the ticket,
  and sees masked copies instead. Tried through the ORM with access
  checks and through JSON-RPC on trytond's own WSGI application.
- Each read in full by a dispatcher, and each export, leaves a row in
  `elevator.privacy.access`, which nobody can change or add to.
- Technicians' phones and certificate numbers: their firm, dispatch and
  the regulators only.
- Retention: the cron blanks the callers' data of tickets closed longer
  ago than the configured period, on the tickets, the alarms, their
  history tables and the public rescue request they came from.
"""
import base64
import datetime as dt
import json
import os
import re
import uuid

import pytest

from elevator_platform import scratch_db, tryton_env
from support.access import as_user

DISTRICT = '350302'
OTHER_DISTRICT = '350322'
PHONE = '13812345678'
NAME = '张三丰'
PHONE_MASKED = '138****5678'
NAME_MASKED = '张**'
TECH_PHONE = '13966667777'
TECH_CERT = 'TQ-2020-12345'
PASSWORD = 'elevator-demo-pw'
MODULES = ('elevator_rescue', 'elevator_public', 'elevator_maintenance')

# Roles that must never see a caller in full: login -> (group, scope).
OTHERS = ['firm', 'tech', 'district', 'city', 'property', 'fire',
    'auditor', 'finance']


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_privacy_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name, modules=MODULES)
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def world(database):
    """Two firms and an estate, an elevator in use, a user of every role,
    a technician and a dispatched ticket with two alarms (the second from
    a public rescue request)."""
    with tryton_env.transaction(database) as pool:
        ModelData = pool.get('ir.model.data')
        Region = pool.get('elevator.region')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        User = pool.get('res.user')
        Ticket = pool.get('elevator.rescue.ticket')
        Feedback = pool.get('elevator.public.feedback')
        Technician = pool.get('elevator.maintenance.technician')
        Order = pool.get('elevator.maintenance.order')
        district = Region(ModelData.get_id('elevator', f'region_{DISTRICT}'))
        other_district = Region(ModelData.get_id(
                'elevator', f'region_{OTHER_DISTRICT}'))
        firm, other_firm, estate = Party.create([
                {'name': '隐私测试电梯', 'is_maintenance_unit': True},
                {'name': '别家电梯', 'is_maintenance_unit': True},
                {'name': '隐私测试物业', 'is_user_unit': True,
                    'is_property_company': True}])
        place, = Place.create([{'name': '隐私测试小区',
                    'region': district.id, 'property_company': estate.id,
                    'latitude': 25.4352, 'longitude': 119.0078}])
        elevators = Elevator.create([{
                    'registration_code': f'3110{DISTRICT}2021{n:06d}',
                    'category': '3110', 'region': district.id,
                    'place': place.id, 'user_unit': estate.id,
                    'maintenance_unit': firm.id,
                    'latitude': 25.4352, 'longitude': 119.0078,
                    } for n in range(1, 6)])
        Elevator.put_in_use(elevators)

        def group(name):
            return ModelData.get_id('elevator', f'group_{name}')
        specs = {
            'dispatcher': ('dispatcher', {}),
            'firm': ('firm_manager', {'units': [firm]}),
            'tech': ('technician', {'units': [firm]}),
            'other_firm': ('firm_manager', {'units': [other_firm]}),
            'district': ('district_regulator', {'regions': [district]}),
            'other_district': ('district_regulator',
                {'regions': [other_district]}),
            'city': ('city_regulator', {}),
            'property': ('user_unit', {'units': [estate]}),
            'fire': ('fire', {}),
            'auditor': ('auditor', {}),
            'finance': ('finance', {}),
            }
        users = {}
        for login, (group_name, scope) in specs.items():
            user, = User.create([{
                        'login': f'privacy_{login}', 'name': login,
                        'password': PASSWORD,
                        'groups': [('add', [group(group_name)])],
                        'elevator_units': [('add',
                                [u.id for u in scope.get('units', [])])],
                        'elevator_regions': [('add',
                                [r.id for r in scope.get('regions', [])])],
                        }])
            users[login] = user.id
        technician, other_technician = Technician.create([{
                    'name': '李师傅', 'firm': firm.id,
                    'user': users['tech'], 'phone': TECH_PHONE,
                    'certificate_number': TECH_CERT,
                    'certificate_valid_until': dt.date(2030, 1, 1),
                    }, {
                    'name': '王师傅', 'firm': other_firm.id,
                    'phone': '13955554444', 'certificate_number': 'TQ-9',
                    'certificate_valid_until': dt.date(2030, 1, 1),
                    }])
        Order.create([{'elevator': elevators[0].id, 'type': 'half_monthly',
                    'planned_date': dt.date.today(),
                    'technicians': [('add', [technician.id])]}])

        ticket, = Ticket.create([{'elevator': elevators[0].id,
                    'caller_name': NAME, 'caller_phone': PHONE,
                    'description': '困人'}])
        Ticket.dispatch([ticket])
        feedback = Feedback.submit({'type': 'rescue_request',
                'elevator': elevators[0].id, 'contact_phone': '13912340000',
                'text': '电梯困人', 'channel': 'api'})
        ticket = Ticket(ticket.id)
        assert feedback.rescue_ticket == ticket
        assert len(ticket.alarms) == 2 and ticket.dispatches
        return {
            'users': users,
            'ticket': ticket.id,
            'alarms': [a.id for a in ticket.alarms],
            'dispatches': [d.id for d in ticket.dispatches],
            'feedback': feedback.id,
            'elevators': [e.id for e in elevators],
            'technician': technician.id,
            'other_technician': other_technician.id,
            'firm': firm.id,
            }


# Every way of naming a caller's field: (model, records key, field path).
ROUTES = [
    ('elevator.rescue.ticket', 'ticket', 'caller_phone'),
    ('elevator.rescue.ticket', 'ticket', 'caller_name'),
    ('elevator.rescue.ticket', 'ticket', 'alarms.caller_phone'),
    ('elevator.rescue.ticket', 'ticket', 'alarms.caller_name'),
    ('elevator.rescue.alarm', 'alarms', 'caller_phone'),
    ('elevator.rescue.alarm', 'alarms', 'caller_name'),
    ('elevator.rescue.alarm', 'alarms', 'ticket.caller_phone'),
    ('elevator.rescue.dispatch', 'dispatches', 'ticket.caller_phone'),
    ('elevator.rescue.dispatch', 'dispatches', 'ticket.caller_name'),
    ('elevator.rescue.dispatch', 'dispatches',
        'ticket.alarms.caller_phone'),
    ('elevator.public.feedback', 'feedback', 'rescue_ticket.caller_phone'),
    ]


def ids_of(world, key):
    value = world[key]
    return value if isinstance(value, list) else [value]


def refused(func):
    "Whether func() is refused by the access checks."
    from trytond.model.exceptions import AccessError
    try:
        result = func()
    except AccessError:
        return True
    return result


@pytest.mark.parametrize('login', OTHERS)
def test_caller_refused_on_every_route(database, world, login):
    """Read, search, search_count, order and export of the callers' data
    with plain and dotted names: refused for every role but dispatch."""
    leaks = []

    def run(pool):
        for model, key, path in ROUTES:
            Model = pool.get(model)
            ids = ids_of(world, key)
            first = path.split('.')[0]
            attempts = {
                'read': lambda: Model.read(ids, [path]),
                'search': lambda: Model.search([(path, 'like', '138%')]),
                'search_count': lambda: Model.search_count(
                    [(path, 'like', '138%')]),
                'search equal': lambda: Model.search([(path, '=', PHONE)]),
                'order': lambda: Model.search([], order=[(path, 'ASC')]),
                'export': lambda: Model.export_data(Model.browse(ids),
                    [path.replace('.', '/')]),
                'export_data_domain': lambda: Model.export_data_domain(
                    [], [path.replace('.', '/')]),
                }
            if first in Model._fields and Model._fields[first]._type in {
                    'many2one', 'one2many'}:
                # The relation field itself with the value of the target.
                attempts['read dotted'] = lambda: Model.read(ids,
                    [first, path])
            visible = refused(lambda: Model.search_count([]))
            for route, attempt in attempts.items():
                result = refused(attempt)
                if result is True or (visible in {True, 0}
                        and result in ([], 0)):
                    # Refused, or nothing of the model in the user's
                    # record rules: no answer tells anything.
                    continue
                leaks.append((model, path, route, result))
    as_user(database, world['users'][login], run)
    assert not leaks, leaks


def test_caller_history_refused(database, world):
    "Reading a ticket as it was (its history) is refused as well."
    from trytond.transaction import Transaction

    def run(pool):
        Ticket = pool.get('elevator.rescue.ticket')
        with Transaction().set_context(_datetime=dt.datetime.now()):
            return refused(lambda: Ticket.read([world['ticket']],
                    ['caller_phone']))
    assert as_user(database, world['users']['firm'], run) is True


@pytest.mark.parametrize('login', [l for l in OTHERS if l != 'finance'])
def test_caller_masked_for_others(database, world, login):
    """The masked copies are what the other roles read, and the views
    they get carry no full caller field."""
    def run(pool):
        Ticket = pool.get('elevator.rescue.ticket')
        Alarm = pool.get('elevator.rescue.alarm')
        results = {}
        tickets = Ticket.search([('id', '=', world['ticket'])])
        if not tickets:
            # Out of the user's record rules: nothing to see at all.
            return None
        row, = Ticket.read([world['ticket']],
            ['caller_name_masked', 'caller_phone_masked'])
        results['ticket'] = (row['caller_name_masked'],
            row['caller_phone_masked'])
        alarm = Alarm.read([world['alarms'][0]], ['caller_phone_masked'])
        results['alarm'] = alarm[0]['caller_phone_masked']
        for Model in [Ticket, Alarm]:
            for view_type in ['form', 'tree']:
                view = Model.fields_view_get(view_type=view_type)
                results[f'{Model.__name__} {view_type}'] = sorted(
                    n for n in view['fields'] if n.startswith('caller'))
                assert PHONE not in repr(view)
        return results
    results = as_user(database, world['users'][login], run)
    if results is None:
        # Fire rescue sees the tickets sent to it at level 3 only.
        assert login == 'fire'
        return
    assert results['ticket'] == (NAME_MASKED, PHONE_MASKED)
    assert results['alarm'] == PHONE_MASKED
    for key, names in results.items():
        if key.endswith(('form', 'tree')):
            assert 'caller_phone' not in names, (key, names)
            assert 'caller_name' not in names, (key, names)


def test_finance_has_no_ticket(database, world):
    "Finance clerks have no access to rescue tickets at all."
    def run(pool):
        Ticket = pool.get('elevator.rescue.ticket')
        return refused(lambda: Ticket.read([world['ticket']],
                ['caller_phone_masked']))
    assert as_user(database, world['users']['finance'], run) is True


def test_reports_of_rescue_models(database, world):
    """Any report defined on the rescue models and the feedback, run by
    the other roles, shows no caller in full."""
    from trytond.pool import Pool
    leaks = []

    def run(pool):
        ActionReport = pool.get('ir.action.report')
        reports = ActionReport.search([('model', 'in', [m for m, _, _ in
                        ROUTES])])
        for action in reports:
            Report = pool.get(action.report_name, type='report')
            key = dict((m, k) for m, k, _ in ROUTES)[action.model]
            result = refused(lambda: Report.execute(ids_of(world, key),
                    {'model': action.model, 'action_id': action.id}))
            if result is not True and PHONE.encode() in bytes(result[1]):
                leaks.append(action.report_name)
        return len(reports)
    for login in OTHERS:
        as_user(database, world['users'][login], run)
    assert not leaks, leaks
    assert Pool  # the module exists; the count may be zero today


def test_dispatcher_reads_and_is_logged(database, world):
    """The dispatcher reads, searches and exports callers in full; each
    read and export leaves a row in the access log."""
    user = world['users']['dispatcher']

    def run(pool):
        Ticket = pool.get('elevator.rescue.ticket')
        Alarm = pool.get('elevator.rescue.alarm')
        row, = Ticket.read([world['ticket']], ['caller_name', 'caller_phone'])
        assert (row['caller_name'], row['caller_phone']) == (NAME, PHONE)
        assert Ticket.search([('caller_phone', '=', PHONE)]) == [
            Ticket(world['ticket'])]
        assert Alarm.search([('ticket.caller_phone', '=', PHONE)])
        data = Alarm.export_data(Alarm.browse(world['alarms'][:1]),
            ['ticket/caller_phone'])
        assert data == [[PHONE]]
    as_user(database, user, run)

    def log(pool):
        Access = pool.get('elevator.privacy.access')
        return sorted((a.user.id, a.model, a.record, a.field, a.purpose)
            for a in Access.search([('user', '=', user)]))
    with tryton_env.transaction(database, readonly=True) as pool:
        rows = log(pool)
    ticket = world['ticket']
    assert ('elevator.rescue.ticket', ticket, 'caller_phone', 'read') in [
        r[1:] for r in rows]
    assert ('elevator.rescue.ticket', ticket, 'caller_name', 'read') in [
        r[1:] for r in rows]
    assert ('elevator.rescue.ticket', ticket, 'caller_phone', 'export') in [
        r[1:] for r in rows]


def test_access_log_append_only(database, world):
    """Nobody creates, changes or deletes log rows; regulators and the
    auditor read them; the others do not."""
    from trytond.model.exceptions import AccessError

    def seed(pool):
        pool.get('elevator.rescue.ticket').read([world['ticket']],
            ['caller_phone'])
    as_user(database, world['users']['dispatcher'], seed)

    def run(pool):
        Access = pool.get('elevator.privacy.access')
        rows = Access.search([])
        outcome = {'read': bool(rows)}
        for name, attempt in {
                'create': lambda: Access.create([{
                            'user': world['users']['dispatcher'],
                            'model': 'elevator.rescue.ticket',
                            'record': 1, 'field': 'caller_phone',
                            'time': dt.datetime.now(), 'purpose': 'read'}]),
                'write': lambda: Access.write(rows, {'purpose': 'export'}),
                'delete': lambda: Access.delete(rows),
                }.items():
            try:
                attempt()
            except AccessError:
                outcome[name] = 'refused'
            else:
                outcome[name] = 'done'
        return outcome
    for login in ['city', 'district', 'auditor']:
        assert as_user(database, world['users'][login], run) == {
            'read': True, 'create': 'refused', 'write': 'refused',
            'delete': 'refused'}, login
    for login in ['dispatcher', 'firm', 'tech', 'property', 'fire',
            'finance']:
        outcome = as_user(database, world['users'][login],
            lambda pool: refused(
                lambda: pool.get('elevator.privacy.access').search([])))
        assert outcome is True, login


# Through the RPC of the web client, on trytond's WSGI application.

class RPC:
    def __init__(self, client, database, login):
        self.client, self.database = client, database
        user_id, key = self._call('common.db.login',
            [login, {'password': PASSWORD}, 'en'], auth=False)[:2]
        token = base64.b64encode(f'{login}:{user_id}:{key}'.encode())
        self.headers = {'Authorization': 'Session ' + token.decode()}

    def _call(self, method, params, auth=True, headers=None):
        response = self.client.post(f'/{self.database}/rpc/',
            data=json.dumps({'id': 1, 'method': method, 'params': params}),
            content_type='application/json',
            headers={**(self.headers if auth else {}), **(headers or {})})
        assert response.status_code == 200, response.data[:500]
        body = json.loads(response.data)
        if body.get('error'):
            raise RPCError(body['error'])
        return body['result']

    def __call__(self, method, *args):
        return self._call(method, [*args, {}])


class RPCError(Exception):
    pass


@pytest.fixture(scope='module')
def client(database, world):
    from werkzeug.test import Client

    # The pool of the test process is loaded: the modules' routes are.
    from trytond.wsgi import app
    return Client(app)


@pytest.mark.parametrize('login', ['firm', 'tech', 'district', 'auditor',
        'property'])
def test_rpc_caller_refused(database, world, client, login):
    """The client's own RPC calls (read, search, search_count, export)
    are refused with an access error for the other roles."""
    rpc = RPC(client, database, f'privacy_{login}')
    ticket, alarms = world['ticket'], world['alarms']
    calls = [
        ('model.elevator.rescue.ticket.read', [ticket], ['caller_phone']),
        ('model.elevator.rescue.alarm.read', alarms, ['ticket.caller_phone']),
        ('model.elevator.rescue.ticket.search',
            [('alarms.caller_phone', 'like', '138%')], 0, None, None),
        ('model.elevator.rescue.dispatch.search_count',
            [('ticket.caller_phone', 'like', '138%')], 0, None),
        ('model.elevator.rescue.ticket.search', [], 0, None,
            [('caller_phone', 'ASC')]),
        ('model.elevator.rescue.ticket.export_data', [ticket],
            ['caller_phone']),
        ('model.elevator.rescue.alarm.export_data', alarms,
            ['ticket/caller_phone']),
        ]
    for method, *args in calls:
        with pytest.raises(RPCError) as info:
            rpc(method, *args)
        assert PHONE not in json.dumps(info.value.args), method
    row, = rpc('model.elevator.rescue.ticket.read', [ticket],
        ['caller_phone_masked', 'caller_name_masked'])
    assert (row['caller_phone_masked'], row['caller_name_masked']) == (
        PHONE_MASKED, NAME_MASKED)


def test_rpc_dispatcher_logged(database, world, client):
    """A dispatcher's read through the RPC (a read-only transaction) is
    logged all the same, and so is an export."""
    rpc = RPC(client, database, 'privacy_dispatcher')
    user = world['users']['dispatcher']

    def count(purpose):
        with tryton_env.transaction(database, readonly=True) as pool:
            Access = pool.get('elevator.privacy.access')
            return Access.search_count([('user', '=', user),
                    ('purpose', '=', purpose),
                    ('record', '=', world['ticket']),
                    ('model', '=', 'elevator.rescue.ticket')])
    before = count('read'), count('export')
    row, = rpc('model.elevator.rescue.ticket.read', [world['ticket']],
        ['caller_phone'])
    assert row['caller_phone'] == PHONE
    assert rpc('model.elevator.rescue.ticket.export_data',
        [world['ticket']], ['caller_phone']) == [[PHONE]]
    assert (count('read'), count('export')) == (before[0] + 1, before[1] + 1)


# Item 8: technicians' phone and certificate number.

@pytest.mark.parametrize('login, expected', [
        ('firm', 'own'),
        ('tech', 'own'),
        ('other_firm', 'other'),
        ('dispatcher', 'all'),
        ('city', 'all'),
        ('district', 'own'),
        ('other_district', 'none'),
        ('property', 'refused'),
        ('fire', 'refused'),
        ('auditor', 'refused'),
        ('finance', 'refused'),
        ])
def test_technician_personal_data(database, world, login, expected):
    """Phone and certificate number of a technician: the own firm,
    dispatch and the regulators of the elevators the technician served;
    every other role is refused on read, search, order and export (the
    name and the validity of the certificate stay visible)."""
    own, other = world['technician'], world['other_technician']

    def run(pool):
        Technician = pool.get('elevator.maintenance.technician')
        visible = Technician.search([('id', 'in', [own, other])],
            order=[('id', 'ASC')])
        outcome = {'visible': [t.id for t in visible]}
        for name in ['phone', 'certificate_number']:
            attempts = {
                'read': lambda: Technician.read([t.id for t in visible],
                    [name]),
                'search': lambda: Technician.search([(name, 'like', '1%')]),
                'order': lambda: Technician.search([], order=[(name, 'ASC')]),
                'export': lambda: Technician.export_data(visible, [name]),
                'dotted': lambda: pool.get(
                    'elevator.maintenance.order').search(
                    [(f'technicians.{name}', '!=', None)]),
                }
            for route, attempt in attempts.items():
                result = refused(attempt)
                outcome[name, route] = 'refused' if result is True else (
                    'read' if route == 'read' else 'answered')
                if route == 'read' and result is not True:
                    outcome[name, 'values'] = sorted(r[name] for r in result)
        if visible:
            outcome['name'] = sorted(t.name for t in visible)
            outcome['certified'] = [t.certified for t in visible]
        return outcome
    outcome = as_user(database, world['users'][login], run)
    ids = {'all': [own, other], 'own': [own], 'other': [other], 'none': []}
    if expected == 'refused':
        # The name stays visible; the data does not, by any route.
        assert outcome['visible'], login
        for key, value in outcome.items():
            if isinstance(key, tuple):
                assert value == 'refused', (login, key, value)
        assert outcome['certified'] == [True] * len(outcome['visible'])
    else:
        assert outcome['visible'] == ids[expected], (login, outcome)
        if expected in {'all', 'own'}:
            assert TECH_PHONE in outcome['phone', 'values'], outcome
            assert TECH_CERT in outcome['certificate_number', 'values']
        else:
            assert TECH_PHONE not in repr(outcome), outcome


# Retention (PIPL): callers' data erased after the configured period.

def text_columns_containing(database, needles):
    """(table, column, needle) of every text column of the database, the
    history tables included, holding one of needles."""
    import psycopg
    found = []
    with psycopg.connect(scratch_db._uri_for(database),
            autocommit=True) as conn:
        columns = conn.execute("SELECT table_name, column_name "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('character varying', 'text')").fetchall()
        for table, column in columns:
            for needle in needles:
                count, = conn.execute(
                    f'SELECT count(*) FROM "{table}" '
                    f'WHERE "{column}" LIKE %s', (f'%{needle}%',)).fetchone()
                if count:
                    found.append((table, column, needle))
    return found


def test_retention_erases_every_copy(database, world):
    """Tickets closed or cancelled longer ago than the retention period
    (default 3 years) lose their callers' names and phones on the ticket,
    its alarms, their history tables and the public rescue request they
    came from; younger ones keep them; the statistics stay."""
    from trytond.modules.elevator_rescue import clock
    old_phone, old_name, old_public = '13700000001', '王老五', '13700000003'
    young_phone = '13700000002'
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None,
        microsecond=0)
    with tryton_env.transaction(database) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        Feedback = pool.get('elevator.public.feedback')
        Configuration = pool.get('elevator.rescue.configuration')
        assert Configuration(1).caller_retention_years == 3
        tickets = {}
        try:
            for key, elevator, age, phone in [
                    ('old', world['elevators'][1], 4 * 366, old_phone),
                    ('young', world['elevators'][2], 2 * 365, young_phone)]:
                clock.freeze(now - dt.timedelta(days=age))
                ticket, = Ticket.create([{'elevator': elevator,
                            'caller_name': old_name, 'caller_phone': phone,
                            'trapped_persons': 1, 'description': '困人'}])
                if key == 'old':
                    feedback = Feedback.submit({'type': 'rescue_request',
                            'elevator': elevator,
                            'contact_phone': old_public,
                            'text': '还有人困在里面', 'channel': 'api'})
                    assert feedback.rescue_ticket == ticket
                # A second version in the history table.
                Ticket.write([ticket], {'trapped_persons': 2,
                        'cancel_reason': 'self_released'})
                Ticket.cancel([ticket])
                tickets[key] = ticket.id
        finally:
            clock.reset()
    assert text_columns_containing(database, [old_phone, old_public])
    with tryton_env.transaction(database) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        erased = Ticket.cron_erase_caller_data()
    assert tickets['old'] in erased and tickets['young'] not in erased
    assert world['ticket'] not in erased
    # No copy left anywhere, history tables included.
    assert text_columns_containing(database,
        [old_phone, old_public]) == []
    # The young ticket, the open one and the statistics are untouched.
    with tryton_env.transaction(database, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        old, young, open_ = Ticket.browse(
            [tickets['old'], tickets['young'], world['ticket']])
        assert (old.caller_name, old.caller_phone) == (None, None)
        assert old.caller_data_erased
        assert all(a.caller_phone is None and a.caller_name is None
            for a in old.alarms)
        assert (old.state, old.trapped_persons, old.cancel_reason) == (
            'cancelled', 2, 'self_released')
        assert young.caller_phone == young_phone
        assert open_.caller_phone == PHONE
    # A second run has nothing left to do.
    with tryton_env.transaction(database) as pool:
        assert pool.get('elevator.rescue.ticket').cron_erase_caller_data(
            ) == []


# Also from the probe: foreign Origin, health endpoint, rescue cap.

@pytest.mark.parametrize('method, path', [
        ('post', 'rpc/'),
        ('get', 'elevator/public/v1/articles'),
        ('post', 'elevator/public/v1/feedback'),
        ])
def test_foreign_origin_clean_403(database, world, client, method, path):
    """A request from a foreign web origin is refused with a short JSON
    403, not an HTTP 500 page, on the RPC and on the public API."""
    response = getattr(client, method)(f'/{database}/{path}',
        headers={'Origin': 'https://evil.example'},
        data=json.dumps({'method': 'common.server.version', 'params': []}),
        content_type='application/json')
    assert response.status_code == 403
    assert response.headers['Content-Type'].startswith('application/json')
    assert json.loads(response.data)['error']['code'] == 'forbidden'


def test_health_never_echoes_exceptions(database, world, client):
    """The health report of a database it cannot check (here: without
    the IoT module) is critical, with no exception text for the client."""
    response = client.get(f'/{database}/elevator/health')
    assert response.status_code == 503
    report = json.loads(response.data)
    assert report['status'] == 'critical'
    assert report['database']['error'] == 'unavailable'
    body = response.data.decode()
    for leak in ['Error', 'elevator.iot', 'Traceback', 'KeyError']:
        assert leak not in body, body


def test_rescue_requests_pass_the_elevator_cap(database, world, client):
    """Once the ordinary per-elevator cap of public submissions is
    reached, complaints are refused (429) but rescue requests still open
    the 96196 ticket, and the dispatchers are alerted to the flood."""
    from trytond import config
    from trytond.modules.elevator_public import routes
    if not config.has_section('elevator_public'):
        config.add_section('elevator_public')
    config.set('elevator_public', 'elevator_write_per_hour', '2')
    config.set('elevator_public', 'write_per_hour', '50')
    routes._limits = None
    try:
        with tryton_env.transaction(database, readonly=True) as pool:
            Elevator = pool.get('elevator.elevator')
            elevator = Elevator(world['elevators'][4])
            code, name = elevator.rescue_code, elevator.rec_name

        def submit(type_):
            return client.post(
                f'/{database}/elevator/public/v1/feedback',
                data=json.dumps({'type': type_, 'elevator': code,
                        'contact_phone': '13811112222',
                        'text': '电梯有问题'}),
                content_type='application/json')
        assert [submit('complaint').status_code for _ in range(3)] == [
            201, 201, 429]
        answers = [submit('rescue_request') for _ in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 201], [
            a.data[:300] for a in answers]
    finally:
        for option in ['elevator_write_per_hour', 'write_per_hour']:
            config._config.remove_option('elevator_public', option)
        config._cache_clear()
        routes._limits = None
    with tryton_env.transaction(database, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        Notification = pool.get('res.notification')
        ticket, = Ticket.search([('elevator', '=', world['elevators'][4])])
        assert [a.source for a in ticket.alarms] == ['public_app'] * 3
        alerts = Notification.search([
                ('user', '=', world['users']['dispatcher']),
                ('model', '=', 'elevator.elevator'),
                ])
        assert len(alerts) == 1, [a.label for a in alerts]
        assert name in alerts[0].label
