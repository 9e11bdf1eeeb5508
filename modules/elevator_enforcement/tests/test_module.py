import datetime as dt
from decimal import Decimal

from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.elevator import clock
from trytond.modules.elevator.tests.tools import LocaleTestMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from ..lists import today


def create_world():
    """Two districts: in Chengxiang a firm with an active contract for two
    elevators of an estate, one visited yesterday, one never, and an
    elevator without contract in a public place; in Licheng an elevator
    without contract. Returns a dict of records."""
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Region = pool.get('elevator.region')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Contract = pool.get('elevator.maintenance.contract')
    Order = pool.get('elevator.maintenance.order')
    chengxiang = Region(ModelData.get_id('elevator', 'region_350302'))
    licheng = Region(ModelData.get_id('elevator', 'region_350304'))
    town, = Region.create([{'code': '350302001', 'name': '龙桥街道',
                'level': 'town', 'parent': chengxiang.id}])
    firm, idle, estate, mall = Party.create([
            {'name': '安达电梯', 'is_maintenance_unit': True},
            {'name': '闲置电梯', 'is_maintenance_unit': True},
            {'name': '万达物业', 'is_user_unit': True},
            {'name': '万达广场', 'is_user_unit': True},
            ])
    place, = Place.create([{'name': '万达华府', 'region': town.id}])
    day = today()
    lifts = Elevator.create([{
                'registration_code': f'311035030220160000{n:02d}',
                'category': '3110', 'region': region.id, 'place': place.id,
                'user_unit': unit.id, 'place_category': category,
                'commissioning_date': dt.date(2015, 1, 1),
                } for n, region, unit, category in [
                (1, town, estate, 'residential'),
                (2, town, estate, 'residential'),
                (3, town, mall, 'public_gathering'),
                (4, licheng, mall, 'residential'),
                (5, licheng, mall, 'residential'),
                ]])
    Elevator.put_in_use(lifts)
    start = day - dt.timedelta(days=40)
    contract, idle_contract = Contract.create([{
                'maintenance_unit': firm.id, 'user_unit': estate.id,
                'start_date': start, 'end_date': start
                + dt.timedelta(days=364), 'price': Decimal('2400'),
                'elevators': [('add', [lifts[0].id, lifts[1].id])],
                }, {
                'maintenance_unit': idle.id, 'user_unit': mall.id,
                'start_date': start, 'end_date': start
                + dt.timedelta(days=364), 'price': Decimal('2400'),
                'elevators': [('add', [lifts[4].id])],
                }])
    Contract.write([contract, idle_contract], {'state': 'active'})
    Contract._assign_elevators([contract, idle_contract])
    order, = Order.create([{'elevator': lifts[0].id,
                'contract': contract.id, 'type': 'half_monthly',
                'planned_date': day - dt.timedelta(days=1)}])
    Order.write([order], {'state': 'done',
            'check_in': clock.now() - dt.timedelta(days=1),
            'check_out': clock.now() - dt.timedelta(days=1, minutes=-40),
            'duration': 40.0})
    return {
        'chengxiang': chengxiang, 'licheng': licheng, 'town': town,
        'firm': firm, 'idle': idle, 'estate': estate, 'mall': mall,
        'lifts': lifts, 'contract': contract,
        }


def create_user(login, group, units=(), regions=()):
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    user, = User.create([{
                'login': login, 'name': login,
                'groups': [('add', [ModelData.get_id('elevator', group)])],
                'elevator_units': [('add', [u.id for u in units])],
                'elevator_regions': [('add', [r.id for r in regions])],
                }])
    return user


class as_user:
    "Act as user through the RPC checks (access rights, rules)."

    def __init__(self, user):
        self.user = user

    def __enter__(self):
        transaction = Transaction()
        self._user = transaction.set_user(self.user.id)
        self._context = transaction.set_context(_check_access=True)
        self._user.__enter__()
        self._context.__enter__()

    def __exit__(self, *args):
        self._context.__exit__(*args)
        self._user.__exit__(*args)


class ElevatorEnforcementTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator Enforcement module"
    module = 'elevator_enforcement'

    def setUp(self):
        super().setUp()
        clock.freeze()
        self.addCleanup(clock.reset)

    def rows(self, name, field='elevator'):
        Model = Pool().get(f'elevator.enforcement.list.{name}')
        return sorted(getattr(r, field).rec_name for r in Model.search([]))

    @with_transaction()
    def test_lists(self):
        "Each list shows who does not comply, with the rules in force"
        pool = Pool()
        Rule = pool.get('elevator.maintenance.rule')
        world = create_world()
        code = [e.rec_name for e in world['lifts']]
        self.assertEqual(self.rows('uncontracted'), [code[2], code[3]])
        # The contract started 40 days ago: the lift never visited is
        # overdue (15 days), the one visited yesterday is not.
        self.assertEqual(self.rows('unmaintained'), [code[1], code[4]])
        Unmaintained = pool.get('elevator.enforcement.list.unmaintained')
        row = Unmaintained.search([('elevator', '=', world['lifts'][1].id)])[0]
        self.assertEqual((row.days, row.limit), (40, 15))
        # The rule, not a number of the code, sets the limit.
        Rule.write(Rule.search([('maintenance_type', '=', 'half_monthly')]),
            {'max_interval': 45, 'on_demand_interval': 60})
        self.assertEqual(self.rows('unmaintained'), [])
        # The firm that recorded a visit is active; the other is not.
        self.assertEqual(self.rows('inactive_firm', 'firm'), ['闲置电梯'])
        # A public gathering place requires monitoring, so does a recent
        # elevator.
        self.assertEqual(self.rows('unmonitored'), [code[2]])
        Elevator = pool.get('elevator.elevator')
        Elevator.write([world['lifts'][3]],
            {'commissioning_date': dt.date(2020, 1, 1)})
        self.assertEqual(self.rows('unmonitored'), [code[2], code[3]])

    @with_transaction()
    def test_missed_dispatches(self):
        "Level-1 and level-2 dispatches not answered in time are listed"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Grid = pool.get('elevator.rescue.grid')
        Party = pool.get('party.party')
        world = create_world()
        near, = Party.create([{'name': '近邻电梯',
                    'is_maintenance_unit': True}])
        Grid.create([{'name': '城厢网格', 'code': 'CX',
                    'regions': [('add', [world['chengxiang'].id])],
                    'duties': [('create', [{'unit': near.id,
                                    'hour_from': 0, 'hour_to': 24}])],
                    }])
        ticket, = Ticket.create([{'elevator': world['lifts'][0].id}])
        Ticket.dispatch([ticket])
        clock.travel(minutes=6)
        Ticket.escalate_due()
        clock.travel(minutes=6)
        Ticket.escalate_due()
        Missed = pool.get('elevator.enforcement.list.dispatch')
        rows = Missed.search([])
        self.assertEqual(
            sorted((r.level, r.unit.name, r.missed) for r in rows),
            [(1, '安达电梯', 'accept'), (2, '近邻电梯', 'accept')])

    @with_transaction()
    def test_lists_scoped_per_district(self):
        "A district regulator sees the rows of his district only"
        pool = Pool()
        Uncontracted = pool.get('elevator.enforcement.list.uncontracted')
        Inactive = pool.get('elevator.enforcement.list.inactive_firm')
        world = create_world()
        chengxiang = create_user('chengxiang', 'group_district_regulator',
            regions=[world['chengxiang']])
        licheng = create_user('licheng', 'group_district_regulator',
            regions=[world['licheng']])
        firm = create_user('firm1', 'group_firm_manager', [world['firm']])
        auditor = create_user('auditor', 'group_auditor')
        lifts = world['lifts']
        with as_user(chengxiang):
            self.assertEqual([r.id for r in Uncontracted.search([])],
                [lifts[2].id])
            self.assertEqual(Inactive.search([]), [])
        with as_user(licheng):
            self.assertEqual([r.id for r in Uncontracted.search([])],
                [lifts[3].id])
            self.assertEqual(len(Inactive.search([])), 1)
            # Dotted names and orders go through the same rules.
            self.assertEqual(Uncontracted.search(
                    [('elevator.registration_code', 'like', '3110%')],
                    order=[('elevator', 'DESC')]),
                [Uncontracted(lifts[3].id)])
        with as_user(auditor):
            self.assertEqual(len(Uncontracted.search([])), 2)
        with as_user(firm):
            with self.assertRaises(AccessError):
                Uncontracted.search([])

    @with_transaction()
    def test_case_workflow(self):
        "A case from a list to closure, each step stamped, then frozen"
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        Evidence = pool.get('elevator.enforcement.evidence')
        Uncontracted = pool.get('elevator.enforcement.list.uncontracted')
        Notification = pool.get('res.notification')
        world = create_world()
        regulator = create_user('licheng', 'group_district_regulator',
            regions=[world['licheng']])
        other = create_user('chengxiang', 'group_district_regulator',
            regions=[world['chengxiang']])
        mall = create_user('property1', 'group_user_unit', [world['mall']])
        estate = create_user('property2', 'group_user_unit',
            [world['estate']])
        auditor = create_user('auditor', 'group_auditor')
        with as_user(regulator):
            row, = Uncontracted.search([])
            case, = Case.open_from([row.case_values()])
            # Opening twice finds the open case.
            self.assertEqual(Case.open_from([row.case_values()]), [case])
            self.assertEqual((case.state, case.source, case.party,
                    case.district, case.filed_by.id),
                ('draft', 'uncontracted', world['mall'], world['licheng'],
                    regulator.id))
            self.assertTrue(case.number.startswith('ZF'))
            with self.assertRaises(AccessError):
                Case.write([case], {'state': 'closed'})
            with self.assertRaises(ValidationError):
                Case.order([case])
            Case.write([case], {'requirement': '签订维保合同',
                    'legal_basis': '《特种设备安全法》第三十九条',
                    'deadline': today() + dt.timedelta(days=10)})
            Case.order([case])
        self.assertEqual(Notification.search(
                [('user', '=', mall.id)], count=True), 1)
        with as_user(other):
            self.assertEqual(Case.search([]), [])
        with as_user(estate):
            self.assertEqual(Case.search([]), [])
        with as_user(mall):
            case, = Case.search([])
            with self.assertRaises(AccessButtonError):
                Case.order([case])
            for values in [{'state': 'review'}, {'deadline': today()},
                    {'outcome': 'rectified'}]:
                with self.assertRaises(AccessError):
                    Case.write([case], values)
            Case.acknowledge([case])
            with self.assertRaises(ValidationError):
                Case.submit([case])
            Case.write([case], {'reply': '已签订合同',
                    'evidence': [('create', [{'description': '维保合同',
                                    'data': b'%PDF-1.4', 'filename':
                                    'contract.pdf'}])]})
            Case.submit([case])
            with self.assertRaises(AccessError):
                Evidence.write(list(case.evidence), {'description': '改'})
        with as_user(regulator):
            case = Case(case.id)
            case.outcome = 'rectified'
            case.review_method = 'documents'
            case.save()
            Case.close([case])
            self.assertEqual(case.state, 'closed')
            self.assertEqual(case.closed_by.id, regulator.id)
            self.assertEqual([s.action for s in case.steps], ['file', 'order',
                    'acknowledge', 'submit', 'close'])
            with self.assertRaises(AccessError):
                Case.write([case], {'closing_note': '补充'})
        with as_user(mall):
            # Refused after the insert: the RPC's transaction rolls back.
            with self.assertRaises(AccessError):
                Evidence.create([{'case': case.id, 'description': '合同'}])
        with as_user(auditor):
            self.assertEqual(len(Case.search([])), 1)
            with self.assertRaises(AccessError):
                Case.write([Case(case.id)], {'closing_note': '补充'})
        self.assertEqual(Case.rectification_rates(),
            {world['licheng'].id: (1, 1, Decimal('100.0'))})

    @with_transaction()
    def test_close_outcomes(self):
        "Penalty needs amount and basis; rectified needs a review"
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        world = create_world()
        case, = Case.create([{'party': world['idle'].id,
                    'region': world['town'].id, 'facts': '未维保',
                    'requirement': '立即维保',
                    'deadline': today() + dt.timedelta(days=3)}])
        self.assertEqual(case.district, world['chengxiang'])
        Case.order([case])
        case.outcome = 'rectified'
        case.save()
        with self.assertRaises(ValidationError):
            Case.close([case])
        case.outcome = 'penalty'
        case.penalty_amount = Decimal('0')
        case.save()
        with self.assertRaises(ValidationError):
            Case.close([case])
        case.penalty_amount = Decimal('30000')
        case.penalty_basis = '《特种设备安全法》第八十八条'
        case.save()
        Case.close([case])
        self.assertEqual(Case.rectification_rates(),
            {world['chengxiang'].id: (1, 0, Decimal('0.0'))})

    @with_transaction()
    def test_overdue_cron(self):
        "A passed deadline flags the case once and tells the regulator"
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        Notification = pool.get('res.notification')
        world = create_world()
        regulator = create_user('chengxiang', 'group_district_regulator',
            regions=[world['chengxiang']])
        case, = Case.create([{'party': world['firm'].id,
                    'region': world['town'].id, 'facts': '未维保',
                    'requirement': '立即维保', 'deadline': today()}])
        Case.order([case])
        self.assertEqual(Case.cron_watch_deadlines(), [])
        clock.travel(days=2)
        self.assertEqual(Case.cron_watch_deadlines(), [case])
        self.assertEqual(Case.cron_watch_deadlines(), [])
        self.assertTrue(Case(case.id).overdue)
        self.assertEqual(Notification.search(
                [('user', '=', regulator.id)], count=True), 1)

    @with_transaction()
    def test_notice_pdf(self):
        "The notice is a PDF with the bureau's wording"
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        Notice = pool.get('elevator.enforcement.case.notice', type='report')
        world = create_world()
        case, = Case.create([{'party': world['firm'].id,
                    'region': world['town'].id, 'facts': '未维保',
                    'requirement': '立即维保',
                    'deadline': today() + dt.timedelta(days=5)}])
        with self.assertRaises(Exception):
            Notice.execute([case.id], {})
        Case.order([case])
        with Transaction().set_context(language='zh_CN'):
            oext, content, _, _ = Notice.execute([case.id], {})
        self.assertEqual(oext, 'pdf')
        self.assertTrue(bytes(content).startswith(b'%PDF'))

    @with_transaction()
    def test_last_login(self):
        "A successful login is stamped on the user"
        pool = Pool()
        User = pool.get('res.user')
        user, = User.create([{'login': 'firm1', 'name': 'firm1',
                    'password': 'elevator-demo-123'}])
        self.assertIsNone(user.elevator_last_login)
        self.assertEqual(
            User.get_login('firm1', {'password': 'elevator-demo-123'}),
            user.id)
        row, = User.read([user.id], ['elevator_last_login'])
        self.assertEqual(row['elevator_last_login'], clock.now())
        self.assertIsNone(User.get_login('firm1', {'password': 'wrong'}))



    @with_transaction()
    def test_inspection_plan(self):
        "The plan draws elevators weighted to risk; a defect opens a case"
        pool = Pool()
        Inspection = pool.get('elevator.supervision.inspection')
        Case = pool.get('elevator.enforcement.case')
        world = create_world()
        lifts = world['lifts']
        day = today()
        end = day + dt.timedelta(days=29)
        weights = Inspection.risk_weights([lifts[0].id, lifts[2].id])
        self.assertEqual(weights, {lifts[0].id: (1, []),
                lifts[2].id: (2, ['unmonitored'])})
        # Drawn often, the elevator that must be monitored and is not
        # comes about twice as often as each of the two others.
        drawn = {lift.id: 0 for lift in lifts[:3]}
        for seed in range(200):
            plan = Inspection.generate_plan(world['chengxiang'], day, end,
                25, seed=seed)
            drawn[plan[0].elevator.id] += 1
            Inspection.delete(plan)
        self.assertGreater(drawn[lifts[2].id], 80)
        self.assertLess(max(drawn[lifts[0].id], drawn[lifts[1].id]), 70)
        plan = Inspection.generate_plan(world['chengxiang'], day, end, 100)
        self.assertEqual(sorted(i.elevator.id for i in plan),
            [lifts[0].id, lifts[1].id, lifts[2].id])
        self.assertEqual(Inspection.generate_plan(
                world['chengxiang'], day, end, 100), [])
        licheng = create_user('licheng', 'group_district_regulator',
            regions=[world['licheng']])
        chengxiang = create_user('chengxiang', 'group_district_regulator',
            regions=[world['chengxiang']])
        with as_user(licheng):
            self.assertEqual(Inspection.search([]), [])
        with as_user(chengxiang):
            inspection, = Inspection.search(
                [('elevator', '=', lifts[2].id)])
            with self.assertRaises(AccessError):
                Inspection.write([inspection], {'state': 'done'})
            Inspection.write([inspection], {'result': 'defects'})
            with self.assertRaises(ValidationError):
                Inspection.record([inspection])
            Inspection.write([inspection], {
                    'findings': '未安装远程监测装置', 'inspector':
                    chengxiang.id})
            Inspection.record([inspection])
            Inspection.open_case([inspection])
            case = Inspection(inspection.id).case
            self.assertEqual((case.source, case.origin, case.party,
                    case.facts, case.state),
                ('inspection', inspection, world['mall'],
                    '未安装远程监测装置', 'draft'))
            self.assertEqual(Case.search([]), [case])

    @with_transaction()
    def test_repair_overdue_case(self):
        "A repair not done by its deadline: a warning, then a case"
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        Warning_ = pool.get('elevator.maintenance.warning')
        Case = pool.get('elevator.enforcement.case')
        world = create_world()
        lift = world['lifts'][0]
        repair, = Repair.create([{'elevator': lift.id,
                    'description': '门机故障',
                    'reported_at': clock.now() - dt.timedelta(hours=30)}])
        self.assertEqual(repair.maintenance_unit, world['firm'])
        self.assertEqual(repair.deadline - repair.reported_at,
            dt.timedelta(hours=24))
        self.assertTrue(repair.overdue)
        Warning_.scan(now=clock.now(), notify=False)
        warning, = Warning_.search([('type', '=', 'repair_overdue')])
        self.assertEqual((warning.repair_order, warning.maintenance_unit,
                warning.value, warning.limit),
            (repair, world['firm'], 30.0, 24.0))
        regulator = create_user('chengxiang', 'group_district_regulator',
            regions=[world['chengxiang']])
        firm = create_user('firm1', 'group_firm_manager',
            units=[world['firm']])
        with as_user(firm):
            with self.assertRaises(AccessButtonError):
                Warning_.open_case([Warning_(warning.id)])
        with as_user(regulator):
            Warning_.open_case([Warning_(warning.id)])
            case = Warning_(warning.id).case
            self.assertEqual((case.source, case.origin, case.party,
                    case.elevator, case.district, case.state),
                ('repair_overdue', warning, world['firm'], lift,
                    world['chengxiang'], 'draft'))
            self.assertIn(world['firm'].name, case.facts)
        # Once: the scan again raises nothing, the case is not doubled.
        self.assertEqual(Warning_.scan(now=clock.now(), notify=False), [])
        self.assertEqual(Case.search([]), [case])


class EnforcementAssessmentTestCase(ModuleTestCase):
    "Test Elevator Enforcement with the district assessment"
    module = 'elevator_enforcement'
    extras = ['elevator_assessment']

    def setUp(self):
        super().setUp()
        clock.freeze()
        self.addCleanup(clock.reset)

    @with_transaction()
    def test_rectification_indicator(self):
        "The district assessment counts the cases closed as rectified"
        from trytond.modules.elevator_assessment import engine
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        world = create_world()
        cases = Case.create([{'party': world['firm'].id,
                    'region': world['town'].id, 'facts': '未维保',
                    'requirement': '立即维保',
                    'deadline': today() + dt.timedelta(days=3)}
                for _ in range(2)])
        Case.order(cases)
        Case.acknowledge(cases)
        Case.write(cases, {'evidence': [('create', [{
                            'description': '维保记录'}])]})
        Case.submit(cases)
        Case.write(cases[:1], {'outcome': 'rectified',
                'review_method': 'visit'})
        Case.write(cases[1:], {'outcome': 'transferred',
                'transferred_to': '莆田市城厢区人民政府'})
        Case.close(cases)
        ctx = engine.Context(today() - dt.timedelta(days=30), today(),
            clock.now())
        result = engine.run(['district_rectification'], ctx)
        self.assertEqual(result['district_rectification'],
            {world['chengxiang'].id: (1, 2)})
        self.assertEqual(Case.rectification_rates(),
            {world['chengxiang'].id: (2, 1, Decimal('50.0'))})

    @with_transaction()
    def test_credit_grade_weighs_in_inspection_plan(self):
        "The elevators of a firm graded C weigh more, as configured"
        pool = Pool()
        Inspection = pool.get('elevator.supervision.inspection')
        Evaluation = pool.get('elevator.credit.evaluation')
        Configuration = pool.get('elevator.assessment.configuration')
        world = create_world()
        lifts = world['lifts']
        ids = [lifts[0].id, lifts[2].id, lifts[4].id]
        self.assertEqual(Inspection.risk_weights(ids), {
                lifts[0].id: (1, []), lifts[2].id: (2, ['unmonitored']),
                lifts[4].id: (1, [])})
        # The firm of lifts 1 and 2 graded C, the idle firm (lift 5) A;
        # a draft grade D of the firm does not count, only published ones.
        old, c, a, draft = Evaluation.create([
                {'maintenance_unit': world['firm'].id, 'year': 2024,
                    'grade': 'A'},
                {'maintenance_unit': world['firm'].id, 'year': 2025,
                    'grade': 'C'},
                {'maintenance_unit': world['idle'].id, 'year': 2025,
                    'grade': 'A'},
                {'maintenance_unit': world['firm'].id, 'year': 2026,
                    'grade': 'D'},
                ])
        Evaluation.publish([old, c, a])
        self.assertEqual(Inspection.risk_weights(ids), {
                lifts[0].id: (2, ['credit_grade']),
                lifts[2].id: (2, ['unmonitored']),
                lifts[4].id: (1, [])})
        config = Configuration(1)
        self.assertEqual(tuple(config.inspection_weighted_grades), ('C', 'D'))
        config.inspection_grade_weight = 3
        config.save()
        self.assertEqual(Inspection.risk_weights(ids)[lifts[0].id],
            (3, ['credit_grade']))
        config.inspection_weighted_grades = ['D']
        config.save()
        self.assertEqual(Inspection.risk_weights(ids)[lifts[0].id], (1, []))


del ModuleTestCase
