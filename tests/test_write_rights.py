"""Write rights (issue 12): workflow fields change only through their
buttons (item 4), attachments cannot carry a script (item 6), a contract
needs both sides (item 3).

One PostgreSQL database with every module of the platform and a small demo
(`elevator demo-data`, a few elevators: the demo users of every role and a
record of each workflow). The test walks the pool: every model with a
stored `state` field (and the rescue dispatch's `outcome`) must refuse a
direct `write` of it by every non-admin demo user, through the ORM with
access checking as RPC runs it; the models must use the generic guard of
`modules/elevator/workflow.py`. The buttons still move the state.
"""
import datetime as dt
import os
import re
import uuid

import pytest

from elevator_platform import cli, scratch_db, tryton_env
from support.access import user_transaction
from support.db import ALL_MODULES

MODULES = ALL_MODULES
ELEVATORS = 20
# One demo user of each non-admin role.
USERS = ['city', 'chengxiang', 'hanjiang', 'dispatcher', 'firm1', 'tech1', 'property1',
    'fire', 'finance', 'auditor',
    # The other parties of the notice (issue 17).
    'agency1', 'street1', 'housing', 'emergency', 'association', 'insurer1',
    'investor1']
# Workflow fields not named state.
OTHER_FIELDS = {'elevator.rescue.dispatch': 'outcome'}
# The users' language: the refusals are read in Chinese.
ZH = {'language': 'zh_CN'}
REFUSED = '只能通过其按钮变更'


@pytest.fixture(scope='module')
def database():
    # For development only: WRITE_RIGHTS_DB names a database already made
    # by this fixture (kept, not dropped), to rerun the tests in seconds.
    kept = os.environ.get('WRITE_RIGHTS_DB')
    if kept:
        yield kept
        return
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_rights_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name, modules=MODULES)
    try:
        assert cli.main(['demo-data', '-d', name, '--elevators',
                    str(ELEVATORS), '--seed', '5', '--quiet']) == 0
        yield name
    finally:
        scratch_db.drop_database(name)


def workflow_fields(pool):
    "{model: field} of every stored workflow field of the pool."
    from trytond.model import ModelStorage, fields
    result = {}
    for name, Model in pool.iterobject():
        if not issubclass(Model, ModelStorage) or Model.__name__ in {
                'ir.attachment', 'ir.note'}:
            continue
        if callable(getattr(Model, 'table_query', None)):
            continue
        field_name = OTHER_FIELDS.get(name, 'state')
        field = Model._fields.get(field_name)
        if field is None:
            continue
        if isinstance(field, fields.Function) and not field.setter:
            continue
        result[name] = field_name
    return result


@pytest.fixture(scope='module')
def world(database):
    "{model: (field, [(record id, other state)])}, {login: user id}."
    with tryton_env.transaction(database) as pool:
        # The demo has no IoT event: one fault of a demo device.
        Device = pool.get('elevator.iot.device')
        Event = pool.get('elevator.iot.event')
        FaultType = pool.get('elevator.iot.fault.type')
        device, = Device.search([('elevator', '!=', None)], limit=1)
        fault, = FaultType.search([], limit=1)
        if not Event.search([('fault_id', '=', 'WF-1')]):
            Event.create([{'device': device.id,
                        'elevator': device.elevator.id,
                        'fault_id': 'WF-1', 'fault_type': fault.id,
                        'state': 'open', 'source': 'mqtt',
                        'occurred_at': dt.datetime.now()}])
    with tryton_env.transaction(database, readonly=True) as pool:
        User = pool.get('res.user')
        users = {u.login: u.id for u in User.search(
                [('login', 'in', USERS)])}
        records = {}
        for model, field_name in workflow_fields(pool).items():
            if not model.startswith('elevator.'):
                continue
            Model = pool.get(model)
            field = Model._fields[field_name]
            values = [v for v, _ in field.selection] if isinstance(
                field.selection, list) else []
            rows = Model.search([], limit=50)
            records[model] = (field_name, [(r.id, next(
                            v for v in values
                            if v and v != getattr(r, field_name)))
                    for r in rows])
    assert set(users) == set(USERS)
    return records, users


def test_every_workflow_model_is_guarded(database):
    "A new model with a state field cannot forget the guard."
    with tryton_env.transaction(database, readonly=True) as pool:
        unguarded = sorted(m for m, f in workflow_fields(pool).items()
            if m.startswith('elevator.') and f == 'state'
            and not getattr(pool.get(m), '_workflow_state_guarded', False))
    assert not unguarded


def test_direct_state_write_refused(database, world):
    from trytond.model.exceptions import AccessError
    from trytond.pool import Pool
    records, users = world
    missing = sorted(m for m, (_, rows) in records.items() if not rows)
    # The demo has a record of every workflow (else the walk proves less).
    assert not missing, f"no demo record of {missing}"
    pool = Pool(database)
    accepted, guarded = [], set()
    for login, user_id in sorted(users.items()):
        with user_transaction(database, user_id, ZH) as (_, transaction):
            for model, (field_name, rows) in sorted(records.items()):
                Model = pool.get(model)
                # The records the user sees first, as a client would.
                try:
                    visible = set(Model.search(
                            [('id', 'in', [i for i, _ in rows])]))
                except AccessError:
                    visible = set()
                for record_id, value in sorted(rows,
                        key=lambda r: Model(r[0]) not in visible)[:2]:
                    try:
                        Model.write([Model(record_id)],
                            {field_name: value})
                    except AccessError as exception:
                        if REFUSED in exception.message:
                            guarded.add((login, model))
                    else:
                        accepted.append((login, model, record_id, value))
                    transaction.rollback()
    assert not accepted
    # The refusal of the guard itself, translated, for the firm on its own
    # orders (the case of the issue) and for the dispatcher on tickets.
    assert ('firm1', 'elevator.maintenance.order') in guarded
    assert ('dispatcher', 'elevator.rescue.ticket') in guarded


def test_create_with_state_refused(database, world):
    "Nobody creates a record past the first state of its workflow."
    from trytond.model.exceptions import AccessError
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    with user_transaction(database, users['dispatcher'], ZH) as (
            _, transaction):
        Feedback = pool.get('elevator.public.feedback')
        Elevator = pool.get('elevator.elevator')
        elevator, = Elevator.search([], limit=1)
        values = {'type': 'complaint', 'elevator': elevator.id,
            'contact_phone': '13800000000', 'text': '电梯异响'}
        with pytest.raises(AccessError, match=REFUSED):
            Feedback.create([{**values, 'state': 'closed'}])
        transaction.rollback()
        # The default first state is accepted.
        feedback, = Feedback.create([values])
        assert feedback.state == 'received'
        transaction.rollback()


def new_elevator(pool, n):
    "An elevator of its own in 城厢 (350302), created as root."
    Elevator = pool.get('elevator.elevator')
    Region = pool.get('elevator.region')
    district, = Region.search([('code', '=', '350302')])
    tag = uuid.uuid4().int % 10**5
    elevator, = Elevator.create([{
                'registration_code': f'31103503022020{tag:05d}{n % 10}',
                'category': '3110', 'region': district.id}])
    return elevator


def test_buttons_still_move_the_state(database, world):
    "The transition path is untouched: the dispatcher closes a new ticket."
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    with tryton_env.transaction(database) as root_pool:
        elevator_id = new_elevator(root_pool, 990010).id
    with user_transaction(database, users['dispatcher'], ZH) as (
            _, transaction):
        Ticket = pool.get('elevator.rescue.ticket')
        ticket, = Ticket.create([{'elevator': elevator_id,
                    'caller_phone': '13800000000'}])
        Ticket.dispatch([ticket])
        assert Ticket(ticket.id).state != 'new'
        transaction.rollback()


def refused(function, *args, match=None):
    "The message of the UserError function(*args) raised."
    from trytond.exceptions import UserError
    from trytond.transaction import Transaction
    # What came before is kept; what the refused call did is undone.
    Transaction().commit()
    with pytest.raises(UserError) as info:
        function(*args)
    Transaction().rollback()
    if match:
        assert match in info.value.message, info.value.message
    return info.value.message


# -- attachments (item 6) ----------------------------------------------------

PNG = b'\x89PNG\r\n\x1a\n' + b'\x00' * 200
JPEG = b'\xff\xd8\xff\xe0' + b'\x00' * 200
PDF = b'%PDF-1.4\n' + b'0' * 200
HTML = b'<html><script>alert(localStorage)</script></html>'
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


@pytest.fixture(scope='module')
def attach_world(database, world):
    "A ticket of the dispatcher, an order of firm1 being recorded."
    records, users = world
    with tryton_env.transaction(database) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        Order = pool.get('elevator.maintenance.order')
        User = pool.get('res.user')
        elevator = new_elevator(pool, 990011)
        ticket, = Ticket.create([{'elevator': elevator.id,
                    'caller_phone': '13800000000'}])
        firm = User(users['firm1']).elevator_units[0]
        order, = Order.search([('maintenance_unit', '=', firm.id),
                ('state', '=', 'planned')], limit=1)
        # Behind the workflow's back (root): the visit is being recorded.
        Order.write([order], {'state': 'in_progress'})
        return {'ticket': f'{Ticket.__name__},{ticket.id}',
            'order': f'{Order.__name__},{order.id}'}


def test_attachment_links_only_http(database, world, attach_world):
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    ticket = attach_world['ticket']
    with user_transaction(database, users['dispatcher'], ZH):
        Attachment = pool.get('ir.attachment')
        for link in ['javascript:alert(document.cookie)',
                'JaVaScRiPt:alert(1)', ' javascript:alert(1)',
                'data:text/html,<script>1</script>', 'vbscript:x', 'file:///etc/passwd', '//evil.example/x',
                'https:alert(1)']:
            refused(Attachment.create, [{'name': 'x', 'type': 'link',
                        'link': link, 'resource': ticket}],
                match='http 或 https')
        # Control characters are refused as well (by Tryton itself).
        refused(Attachment.create, [{'name': 'x', 'type': 'link',
                    'link': 'java\nscript:alert(1)', 'resource': ticket}])
        link, = Attachment.create([{'name': '监控录像', 'type': 'link',
                    'link': 'https://video.example.cn/a/1',
                    'resource': ticket}])
        # Nor can an accepted link become a script.
        refused(Attachment.write, [Attachment(link.id)],
            {'link': 'javascript:alert(1)'}, match='http 或 https')


def test_attachment_files_by_content(database, world, attach_world):
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    ticket, order = attach_world['ticket'], attach_world['order']
    with user_transaction(database, users['dispatcher'], ZH):
        Attachment = pool.get('ir.attachment')
        # The default allowlist: images, PDF, office documents.
        Attachment.create([{'name': '现场.png', 'data': PNG,
                    'resource': ticket},
                {'name': '报告.pdf', 'data': PDF, 'resource': ticket}])
        for name, data in [('页面.html', HTML), ('图.svg', SVG),
                ('照片.png', HTML), ('照片.html', PNG), ('无名', PNG),
                ('x.txt', b'just text')]:
            refused(Attachment.create, [{'name': name, 'data': data,
                        'resource': ticket}], match='不属于该记录接受的类型')
        good, = Attachment.create([{'name': '现场2.png', 'data': PNG,
                    'resource': ticket}])
        # Writing new content or a new name is checked as well.
        refused(Attachment.write, [Attachment(good.id)], {'data': HTML},
            match='不属于')
        refused(Attachment.write, [Attachment(good.id)],
            {'name': '现场2.html'}, match='不属于')
    # Photos of a visit: images only.
    with user_transaction(database, users['tech1'], ZH):
        Attachment = pool.get('ir.attachment')
        Attachment.create([{'name': '机房.jpg', 'data': JPEG,
                    'resource': order}])
        refused(Attachment.create, [{'name': '合同.pdf', 'data': PDF,
                    'resource': order}], match='不属于')


def set_config(database, **values):
    "As the administrator would in the configuration form."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    # The singleton may be created: its table is locked as the RPC
    # dispatcher would retry it.
    with Transaction().start(database, 0,
            _lock_tables=['elevator_configuration']) as transaction:
        Configuration = pool.get('elevator.configuration')
        config = Configuration(1)
        for name, value in values.items():
            setattr(config, name, value)
        config.save()
        transaction.commit()


def test_attachment_size_cap(database, world, attach_world):
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    set_config(database, attachment_max_size=1)
    try:
        with user_transaction(database, users['dispatcher'], ZH):
            Attachment = pool.get('ir.attachment')
            refused(Attachment.create, [{'name': '大.png',
                        'data': PNG + b'\x00' * 2048,
                        'resource': attach_world['ticket']}],
                match='最大为 1 KB')
            # Under the cap it is taken.
            Attachment.create([{'name': '小.png', 'data': PNG,
                        'resource': attach_world['ticket']}])
    finally:
        set_config(database, attachment_max_size=None)


# -- contracts (item 3) ------------------------------------------------------

@pytest.fixture(scope='module')
def contract_world(database, world):
    """A user unit of its own with an elevator nobody maintains and a user
    of that unit; an orphan elevator (no unit) in 城厢 (350302)."""
    records, users = world
    with tryton_env.transaction(database) as pool:
        Party = pool.get('party.party')
        Elevator = pool.get('elevator.elevator')
        Region = pool.get('elevator.region')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        firm = User(users['firm1']).elevator_units[0]
        # The demo firm's qualification may have expired: valid here, the
        # expiry has its own test.
        Party.write([firm], {'licence_valid_until': None,
                'qualification_valid_until': dt.date.today()
                + dt.timedelta(days=365)})
        district, = Region.search([('code', '=', '350302')])
        unit, = Party.create([{'name': '争议小区业委会',
                    'is_user_unit': True}])
        tag = uuid.uuid4().int % 10**5
        mine, orphan = Elevator.create([{
                    'registration_code': f'31103503022020{tag:05d}{n}',
                    'category': '3110', 'region': district.id,
                    'user_unit': unit.id if n == 1 else None,
                    'orphan': n == 2,
                    } for n in [1, 2]])
        owner, = User.create([{'login': f'unit-rights-{tag}',
                    'name': '业委会',
                    'groups': [('add', [ModelData.get_id(
                                    'elevator', 'group_user_unit')])],
                    'elevator_units': [('add', [unit.id])]}])
        return {'firm': firm.id, 'unit': unit.id, 'elevator': mine.id,
            'orphan': orphan.id, 'owner': owner.id,
            'property_unit': User(users['property1']).elevator_units[0].id}


def test_firm_cannot_take_an_elevator(database, world, contract_world):
    import datetime as dt
    from trytond.pool import Pool
    records, users = world
    c = contract_world
    pool = Pool(database)
    Contract = pool.get('elevator.maintenance.contract')
    Elevator = pool.get('elevator.elevator')
    today = dt.date.today()
    period = {'start_date': today, 'end_date': today + dt.timedelta(364)}
    # activate is no longer callable from a client.
    assert 'activate' not in Contract.__rpc__
    with user_transaction(database, users['firm1'], ZH):
        # The firm cannot put another unit's elevator in a proposal to a
        # unit that does not own it.
        grab, = Contract.create([{'maintenance_unit': c['firm'],
                    'user_unit': c['property_unit'],
                    'elevators': [('add', [c['elevator']])], **period}])
        refused(Contract.propose, [grab], match='不属于使用单位')
        contract, = Contract.create([{'maintenance_unit': c['firm'],
                    'user_unit': c['unit'],
                    'elevators': [('add', [c['elevator']])], **period}])
        # Nor put it in force itself, by any route.
        refused(Contract.write, [contract], {'state': 'active'},
            match='只能通过其按钮变更')
        refused(Contract.accept, [contract])
        Contract.propose([contract])
        contract = Contract(contract.id)
        assert contract.state == 'proposed'
        assert contract.proposed_by.id == users['firm1']
        assert contract.proposed_at
        refused(Contract.accept, [contract])
        refused(Contract.write, [contract], {'accepted_by': users['firm1']})
        contract_id = contract.id
    with user_transaction(database, users['property1'], ZH):
        # Another unit's user cannot accept it.
        refused(Contract.accept, [Contract(contract_id)])
    with tryton_env.transaction(database, readonly=True) as root_pool:
        elevator = root_pool.get('elevator.elevator')(c['elevator'])
        assert elevator.maintenance_unit is None
        assert root_pool.get('elevator.maintenance.contract')(
            contract_id).state == 'proposed'
    with user_transaction(database, c['owner'], ZH):
        Contract.accept([Contract(contract_id)])
    with tryton_env.transaction(database, readonly=True) as root_pool:
        contract = root_pool.get('elevator.maintenance.contract')(
            contract_id)
        assert contract.state == 'active'
        assert contract.accepted_by.id == c['owner']
        assert contract.accepted_at >= contract.proposed_at
        assert root_pool.get('elevator.elevator')(
            c['elevator']).maintenance_unit.id == c['firm']


def test_orphan_contract_accepted_by_district(database, world,
        contract_world):
    import datetime as dt
    from trytond.pool import Pool
    records, users = world
    c = contract_world
    pool = Pool(database)
    Contract = pool.get('elevator.maintenance.contract')
    today = dt.date.today()
    with user_transaction(database, users['firm1'], ZH):
        contract, = Contract.create([{'maintenance_unit': c['firm'],
                    'user_unit': c['unit'], 'start_date': today,
                    'end_date': today + dt.timedelta(364),
                    'elevators': [('add', [c['orphan']])]}])
        Contract.propose([contract])
        contract_id = contract.id
    with user_transaction(database, c['owner'], ZH):
        refused(Contract.accept, [Contract(contract_id)],
            match='区县监管部门')
    with user_transaction(database, users['hanjiang'], ZH):
        refused(Contract.accept, [Contract(contract_id)])
    with user_transaction(database, users['chengxiang'], ZH):
        Contract.accept([Contract(contract_id)])
    with tryton_env.transaction(database, readonly=True) as root_pool:
        contract = root_pool.get('elevator.maintenance.contract')(
            contract_id)
        assert contract.state == 'active'
        assert contract.accepted_by.id == users['chengxiang']


def test_expired_firm_refused(database, world, contract_world):
    import datetime as dt
    from trytond.pool import Pool
    records, users = world
    c = contract_world
    pool = Pool(database)
    Contract = pool.get('elevator.maintenance.contract')
    today = dt.date.today()
    with tryton_env.transaction(database) as root_pool:
        Party = root_pool.get('party.party')
        firm = Party(c['firm'])
        saved = firm.licence_valid_until, firm.qualification_valid_until
        Party.write([firm], {
                'licence_valid_until': today - dt.timedelta(1)})
    try:
        with user_transaction(database, users['firm1'], ZH):
            contract, = Contract.create([{'maintenance_unit': c['firm'],
                        'user_unit': c['unit'], 'start_date': today,
                        'end_date': today + dt.timedelta(364),
                        'elevators': [('add', [c['elevator']])]}])
            refused(Contract.propose, [contract], match='许可证已于')
        with tryton_env.transaction(database) as root_pool:
            Party = root_pool.get('party.party')
            Party.write([Party(c['firm'])], {
                    'licence_valid_until': None,
                    'qualification_valid_until': today - dt.timedelta(1)})
        with user_transaction(database, users['firm1'], ZH):
            contract, = Contract.create([{'maintenance_unit': c['firm'],
                        'user_unit': c['unit'], 'start_date': today,
                        'end_date': today + dt.timedelta(364),
                        'elevators': [('add', [c['elevator']])]}])
            refused(Contract.propose, [contract], match='资质已于')
    finally:
        with tryton_env.transaction(database) as root_pool:
            Party = root_pool.get('party.party')
            Party.write([Party(c['firm'])], {
                    'licence_valid_until': saved[0],
                    'qualification_valid_until': saved[1]})


# -- complaints (item 5) -----------------------------------------------------

def test_assigned_unit_only_replies(database, world):
    import datetime as dt
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    Feedback = pool.get('elevator.public.feedback')
    Reply = pool.get('elevator.public.feedback.reply')
    with tryton_env.transaction(database) as root_pool:
        RootFeedback = root_pool.get('elevator.public.feedback')
        Elevator = root_pool.get('elevator.elevator')
        User = root_pool.get('res.user')
        firm = User(users['firm1']).elevator_units[0]
        elevator, = Elevator.search([('maintenance_unit', '=', firm.id)],
            limit=1)
        complaint, = RootFeedback.create([{'type': 'complaint',
                    'elevator': elevator.id, 'contact_phone': '13900000000',
                    'text': '维保人员从未来过', 'channel': 'h5',
                    'assigned_to': 'maintenance_unit',
                    'submitted_at': dt.datetime.now() - dt.timedelta(days=30),
                    'deadline': dt.datetime.now() - dt.timedelta(days=1)}])
        RootFeedback.assign([complaint])
        complaint = RootFeedback(complaint.id)
        assert complaint.assigned_unit == firm and complaint.overdue
        complaint_id, deadline = complaint.id, complaint.deadline
    with user_transaction(database, users['firm1'], ZH):
        complaint = Feedback(complaint_id)
        for values, match in [
                ({'text': '已解决'}, '不能手工修改'),
                ({'deadline': dt.datetime.now() + dt.timedelta(days=9)},
                    '不能手工修改'),
                ({'replied_late': False}, '不能手工修改'),
                ({'warned_at': None}, '不能手工修改'),
                ({'state': 'closed'}, REFUSED),
                ({'resolution': 'resolved'}, None),
                ({'assigned_unit': None}, None),
                ({'notes': '已处理'}, None),
                ]:
            refused(Feedback.write, [complaint], values, match=match)
        # The unit writes its reply and sends it with the button.
        Feedback.write([complaint], {'reply': '已安排复查'})
        Feedback.reply_([complaint])
        complaint = Feedback(complaint_id)
        assert complaint.state == 'replied'
        # A sent reply is not rewritten, nor its record.
        refused(Feedback.write, [complaint], {'reply': '其实没问题'},
            match='已发送的答复')
        first, = complaint.replies
        refused(Reply.write, [first], {'text': '改'})
        refused(Reply.delete, [first])
        refused(Reply.create, [{'feedback': complaint_id, 'text': '伪造'}])
    with tryton_env.transaction(database) as root_pool:
        RootFeedback = root_pool.get('elevator.public.feedback')
        RootFeedback.reopen([RootFeedback(complaint_id)])
    with user_transaction(database, users['firm1'], ZH):
        Feedback.write([Feedback(complaint_id)], {'reply': '复查完成'})
        Feedback.reply_([Feedback(complaint_id)])
    with tryton_env.transaction(database, readonly=True) as root_pool:
        complaint = root_pool.get('elevator.public.feedback')(complaint_id)
        assert complaint.text == '维保人员从未来过'
        assert complaint.deadline == deadline
        assert complaint.replied_late
        assert [(r.text, r.replied_by.id, r.late)
            for r in complaint.replies] == [
            ('已安排复查', users['firm1'], True),
            ('复查完成', users['firm1'], True)]


# -- check-in (item 7) -------------------------------------------------------

def test_check_in_time_and_position(database, world):
    import datetime as dt
    from trytond.pool import Pool
    records, users = world
    pool = Pool(database)
    Order = pool.get('elevator.maintenance.order')
    with tryton_env.transaction(database) as root_pool:
        User = root_pool.get('res.user')
        RootOrder = root_pool.get('elevator.maintenance.order')
        firm = User(users['firm1']).elevator_units[0]
        # The earliest planned visit of three elevators of the firm.
        orders = []
        for elevator in root_pool.get('elevator.elevator').search([
                    ('maintenance_unit', '=', firm.id),
                    ('latitude', '!=', None)]):
            planned = RootOrder.search([('elevator', '=', elevator.id),
                    ('state', '=', 'planned')],
                order=[('planned_date', 'ASC')], limit=1)
            if planned and not RootOrder.search([
                        ('elevator', '=', elevator.id),
                        ('state', '=', 'in_progress')]):
                orders.append(planned[0])
        assert len(orders) >= 3, orders
        late, blind, placed = [o.id for o in orders[:3]]
        positions = {o.id: (o.elevator.latitude, o.elevator.longitude)
            for o in orders[:3]}

    def utc(minutes):
        return (dt.datetime.now(dt.timezone.utc)
            - dt.timedelta(minutes=minutes)).isoformat()

    before = dt.datetime.now().replace(microsecond=0)
    lat, lon = positions[late]
    with user_transaction(database, users['tech1'], ZH):
        # Ten minutes late by default (5) is refused, whatever the position.
        refused(Order.start_visit, [Order(late)],
            {'latitude': lat, 'longitude': lon, 'time': utc(10)},
            match='5 分钟')
        refused(Order.start_visit, [Order(late)], {'time': utc(3 * 60)},
            match='5 分钟')
    # The limit is configuration.
    set_config(database, maintenance_check_in_max_lag=15)
    try:
        with user_transaction(database, users['tech1'], ZH):
            Order.start_visit([Order(late)],
                {'latitude': lat, 'longitude': lon, 'time': utc(10)})
    finally:
        set_config(database, maintenance_check_in_max_lag=5)
    with user_transaction(database, users['tech1'], ZH):
        # Without a position: accepted, but a warning.
        Order.start_visit([Order(blind)], {'time': utc(1)})
        lat, lon = positions[placed]
        Order.start_visit([Order(placed)],
            {'latitude': lat, 'longitude': lon, 'time': utc(2)})
    with tryton_env.transaction(database) as root_pool:
        RootOrder = root_pool.get('elevator.maintenance.order')
        Warning_ = root_pool.get('elevator.maintenance.warning')
        for order_id, minutes in [(late, 10), (blind, 1), (placed, 2)]:
            order = RootOrder(order_id)
            # The server's time is kept beside the phone's.
            assert order.check_in_received >= before - dt.timedelta(
                seconds=1)
            lag = order.check_in_received - order.check_in
            assert abs(lag - dt.timedelta(minutes=minutes)) < dt.timedelta(
                seconds=30), (order_id, lag)
        # The cron's scan (check-out runs it too) raises no_position once.
        Warning_.scan(notify=False)
        Warning_.scan(notify=False)
        flagged = {w.order.id for w in Warning_.search([
                    ('type', '=', 'no_position'),
                    ('order', 'in', [late, blind, placed])])}
        assert flagged == {blind}
        assert Warning_.search_count([('type', '=', 'no_position'),
                ('order', '=', blind)]) == 1
