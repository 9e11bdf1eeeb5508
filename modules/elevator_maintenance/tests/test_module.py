import datetime as dt
from decimal import Decimal

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.elevator.tests.tools import LocaleTestMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from ..common import (
    add_months, distance_m, local_date, months_between, parse_client_time,
    period_start)


def create_world(category='3110', start=None, mode='regular', count=1):
    """A firm, an estate, `count` elevators in use under an active contract
    starting at `start` (not planned: the caller plans)."""
    pool = Pool()
    Region = pool.get('elevator.region')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Contract = pool.get('elevator.maintenance.contract')
    Technician = pool.get('elevator.maintenance.technician')
    Date = pool.get('ir.date')
    start = start or Date.today()
    district, = Region.search([('code', '=', '350302')])
    firm, estate = Party.create([
            {'name': "安达电梯", 'is_maintenance_unit': True},
            {'name': "万达物业", 'is_user_unit': True}])
    place, = Place.create([{'name': "万达华府", 'region': district.id,
                'latitude': 25.4352, 'longitude': 119.0078}])
    elevators = Elevator.create([{
                'registration_code': f'{category}3503022016{n:06d}',
                'category': category, 'region': district.id,
                'place': place.id, 'user_unit': estate.id,
                'latitude': 25.4352, 'longitude': 119.0078,
                } for n in range(1, count + 1)])
    Elevator.put_in_use(elevators)
    contract, = Contract.create([{
                'maintenance_unit': firm.id, 'user_unit': estate.id,
                'start_date': start, 'end_date': add_months(start, 12)
                - dt.timedelta(days=1),
                'mode': mode, 'price': Decimal('2400'),
                'elevators': [('add', [e.id for e in elevators])],
                }])
    # The tests record visits of the past hours as they happen.
    Configuration = pool.get('elevator.configuration')
    config = Configuration(1)
    config.maintenance_check_in_max_lag = 240
    config.save()
    # Activated without planning: tests plan at the dates they choose.
    Contract.write([contract], {'state': 'active'})
    Contract._assign_elevators([contract])
    technicians = Technician.create([
            {'name': "王师傅", 'firm': firm.id,
                'certificate_number': 'T1',
                'certificate_valid_until': start + dt.timedelta(days=900)},
            {'name': "李师傅", 'firm': firm.id}])
    return contract, elevators, technicians


def visit(order, check_in, minutes, distance=10, state='done',
        technicians=()):
    "Record a visit behind the workflow (as the past would have)."
    pool = Pool()
    Order = pool.get('elevator.maintenance.order')
    values = {
        'state': state,
        'check_in': check_in,
        'check_out': check_in + dt.timedelta(minutes=minutes),
        'duration': float(minutes),
        'check_in_distance': distance,
        # The phone's position (the distance above stands for it).
        'check_in_latitude': 25.4352, 'check_in_longitude': 119.0078,
        'on_time': local_date(check_in) <= order.planned_date,
        }
    if technicians:
        Order.write([order], {
                'technicians': [('add', [t.id for t in technicians])]})
    Order.write([order], values)


class ElevatorMaintenanceTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator Maintenance module"
    module = 'elevator_maintenance'

    def test_period_helpers(self):
        "Months and periods counted from the contract's start"
        start = dt.date(2024, 1, 31)
        self.assertEqual(add_months(start, 1), dt.date(2024, 2, 29))
        self.assertEqual(add_months(start, 13), dt.date(2025, 2, 28))
        self.assertEqual(months_between(start, dt.date(2024, 3, 30)), 1)
        self.assertEqual(months_between(start, dt.date(2024, 3, 31)), 2)
        self.assertEqual(period_start(dt.date(2024, 5, 10),
                dt.date(2024, 9, 1), 3), dt.date(2024, 8, 10))
        self.assertEqual(period_start(dt.date(2024, 5, 10),
                dt.date(2025, 5, 9), 12), dt.date(2024, 5, 10))

    def test_distance_and_times(self):
        "Distances in metres; phone times as naive UTC"
        self.assertAlmostEqual(
            distance_m(25.4352, 119.0078, 25.4362, 119.0078), 111.2, 0)
        self.assertIsNone(distance_m(None, 1, 2, 3))
        self.assertEqual(parse_client_time('2024-05-01T08:00:00+08:00', 'x'),
            dt.datetime(2024, 5, 1, 0, 0))
        self.assertEqual(parse_client_time('2024-05-01T00:00:00.5Z', 'x'),
            dt.datetime(2024, 5, 1, 0, 0))
        with self.assertRaises(ValidationError):
            parse_client_time('tomorrow', 'x')
        with self.assertRaises(ValidationError):
            parse_client_time(12, 'x')
        # Late evening in UTC is the next day in Putian.
        self.assertEqual(local_date(dt.datetime(2024, 5, 1, 17, 0)),
            dt.date(2024, 5, 2))

    @with_transaction()
    def test_checklist_items(self):
        "The checklists: cumulative by type, by equipment"
        Item = Pool().get('elevator.maintenance.checklist.item')
        counts = {t: len(Item.items_for('3110', t)) for t in [
                'half_monthly', 'quarterly', 'half_yearly', 'yearly']}
        self.assertEqual(counts, {'half_monthly': 31, 'quarterly': 44,
                'half_yearly': 59, 'yearly': 76})
        escalator = Item.items_for('3310', 'yearly')
        self.assertTrue(all(i['code'].startswith('D') for i in escalator))
        self.assertTrue(all(i['code'].startswith('B')
                for i in Item.items_for('3200', 'half_monthly')))
        self.assertTrue(all(i['code'].startswith('C')
                for i in Item.items_for('3400', 'quarterly')))
        # An administrator edits the list: the next visits follow.
        item, = Item.search([('code', '=', 'A1-31')])
        Item.write([item], {'active': False})
        self.assertEqual(len(Item.items_for('3120', 'half_monthly')), 30)

    @with_transaction()
    def test_plan_a_year(self):
        "A year of planning: every 15 days, the higher types in their periods"
        Contract = Pool().get('elevator.maintenance.contract')
        Order = Pool().get('elevator.maintenance.order')
        start = dt.date(2024, 3, 1)
        contract, (elevator,), _ = create_world(start=start)
        day = start
        while day < add_months(start, 12):
            Contract.generate_plan(today=day)
            day += dt.timedelta(days=7)
        orders = Order.search([('elevator', '=', elevator.id)],
            order=[('planned_date', 'ASC')])
        dates = [o.planned_date for o in orders]
        self.assertTrue(all((b - a).days == 15
                for a, b in zip(dates, dates[1:])))
        self.assertTrue(dates[-1] <= contract.end_date)
        self.assertEqual(len(orders), 24)
        types = [(o.type, o.planned_date) for o in orders
            if o.type != 'half_monthly']
        self.assertEqual(types, [
                ('yearly', dt.date(2024, 3, 16)),
                ('quarterly', dt.date(2024, 6, 14)),
                ('half_yearly', dt.date(2024, 9, 12)),
                ('quarterly', dt.date(2024, 12, 11)),
                ])
        self.assertEqual({o.maintenance_unit for o in orders},
            {contract.maintenance_unit})
        self.assertEqual({o.state for o in orders}, {'planned'})
        # Again the same day: nothing more.
        self.assertEqual(Contract.generate_plan(today=day), 0)

    @with_transaction()
    def test_plan_skips_elevators_not_in_use(self):
        "Suspended elevators get no visits; the horizon is the configuration's"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Elevator = pool.get('elevator.elevator')
        Configuration = pool.get('elevator.configuration')
        Order = pool.get('elevator.maintenance.order')
        today = dt.date(2024, 3, 1)
        contract, (first, second), _ = create_world(start=today, count=2)
        Elevator.suspend([second])
        config = Configuration(1)
        config.maintenance_plan_days = 60
        config.save()
        self.assertEqual(Contract.generate_plan(today=today), 4)
        self.assertEqual(Order.search_count([('elevator', '=', second.id)]),
            0)

    @with_transaction()
    def test_reschedule_after_early_visit(self):
        "An early visit brings the following planned visit forward"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        today = dt.date(2024, 3, 1)
        contract, (elevator,), technicians = create_world(start=today)
        Contract.generate_plan(today=today)
        first, second = Order.search([], order=[('planned_date', 'ASC')])
        self.assertEqual(second.planned_date, dt.date(2024, 3, 31))
        visit(first, dt.datetime(2024, 3, 5, 2, 0), 45,
            technicians=technicians)
        Contract.reschedule([first])
        second = Order(second.id)
        self.assertEqual(second.planned_date, dt.date(2024, 3, 20))

    @with_transaction()
    def test_overdue_warning(self):
        "No visit for more than 15 days raises one warning per gap"
        pool = Pool()
        Warning_ = pool.get('elevator.maintenance.warning')
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        start = dt.date(2024, 3, 1)
        contract, (elevator,), technicians = create_world(start=start)
        now = dt.datetime(2024, 3, 16, 4, 0)
        self.assertEqual(Warning_.scan(now=now, notify=False), [])
        now = dt.datetime(2024, 3, 17, 4, 0)
        warning_id, = Warning_.scan(now=now, notify=False)
        warning = Warning_(warning_id)
        self.assertEqual((warning.type, warning.reference_date,
                warning.value, warning.limit, warning.state),
            ('overdue', start, 16.0, 15.0, 'open'))
        self.assertEqual(warning.maintenance_unit, contract.maintenance_unit)
        self.assertEqual(warning.description,
            'No maintenance for 16 days (at most 15)')
        # Once per gap.
        self.assertEqual(Warning_.scan(now=now + dt.timedelta(days=3),
                notify=False), [])
        # A visit, then a new gap.
        Contract.generate_plan(today=start)
        first = Order.search([], order=[('planned_date', 'ASC')])[0]
        visit(first, dt.datetime(2024, 3, 20, 2, 0), 130, state='confirmed',
            technicians=technicians)
        self.assertEqual(Warning_.scan(now=dt.datetime(2024, 4, 4, 4, 0),
                notify=False), [])
        new, = Warning_.scan(now=dt.datetime(2024, 4, 5, 4, 0), notify=False)
        self.assertEqual(Warning_(new).reference_date, dt.date(2024, 3, 20))

    @with_transaction()
    def test_measure_warnings(self):
        "Short, distant and unconfirmed visits each raise one warning"
        pool = Pool()
        Warning_ = pool.get('elevator.maintenance.warning')
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        Rule = pool.get('elevator.maintenance.rule')
        start = dt.date(2024, 3, 1)
        contract, (elevator,), technicians = create_world(
            category='3400', start=start)
        Contract.generate_plan(today=start)
        first, second = Order.search([], order=[('planned_date', 'ASC')])
        Order.write([first], {'type': 'half_monthly'})
        # A dumbwaiter's half-monthly visit: 20 minutes (its own rule).
        self.assertEqual(Rule.get('3400', 'half_monthly')[0], 20)
        visit(first, dt.datetime(2024, 3, 10, 2, 0), 19, distance=800)
        visit(second, dt.datetime(2024, 3, 25, 2, 0), 21, distance=100)
        now = dt.datetime(2024, 3, 26, 2, 0)
        ids = Warning_.scan(now=now, notify=False)
        found = sorted((w.type, w.order.id, w.value, w.limit)
            for w in Warning_.browse(ids))
        self.assertEqual(found, [
                ('too_far', first.id, 800.0, 500.0),
                ('too_short', first.id, 19.0, 20.0),
                ('unconfirmed', first.id, None, 7.0),
                ])
        # Unconfirmed after 7 days, once.
        ids = Warning_.scan(now=dt.datetime(2024, 4, 2, 3, 0), notify=False)
        self.assertEqual([(w.type, w.order.id)
                for w in Warning_.browse(ids)], [
                ('unconfirmed', second.id)])
        self.assertEqual(Warning_.scan(now=dt.datetime(2024, 4, 3, 3, 0),
                notify=False), [])

    @with_transaction()
    def test_visit_checks(self):
        "Check-out needs two technicians, one certified, and photos"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        Line = pool.get('elevator.maintenance.order.line')
        Attachment = pool.get('ir.attachment')
        Technician = pool.get('elevator.maintenance.technician')
        Date = pool.get('ir.date')
        contract, (elevator,), (wang, li) = create_world()
        Contract.generate_plan()
        order = Order.search([], order=[('planned_date', 'ASC')])[0]
        now = dt.datetime.now()
        Order.start_visit([order], {
                'time': (now - dt.timedelta(minutes=150)).isoformat(),
                'technicians': [li.id]})
        order = Order(order.id)
        self.assertEqual(order.state, 'in_progress')
        self.assertEqual(len(order.lines), 76)
        Line.write(list(order.lines), {'result': 'normal'})
        with self.assertRaisesRegex(ValidationError, 'needs at least 2'):
            Order.end_visit([order])
        Order.write([order], {'technicians': [('add', [wang.id])]})
        Technician.write([wang], {
                'certificate_valid_until': Date.today()
                - dt.timedelta(days=1)})
        with self.assertRaisesRegex(ValidationError, 'valid elevator'):
            Order.end_visit([Order(order.id)])
        Technician.write([wang], {
                'certificate_valid_until': Date.today()
                + dt.timedelta(days=1)})
        with self.assertRaisesRegex(ValidationError, 'photos'):
            Order.end_visit([Order(order.id)])
        Attachment.create([{'name': 'a.jpg', 'resource': str(order),
                    'data': b'\xff\xd8\xff'}])
        Order.end_visit([Order(order.id)])
        order = Order(order.id)
        self.assertEqual(order.state, 'done')
        self.assertGreaterEqual(order.duration, 150)

    @with_transaction()
    def test_contract_termination(self):
        "Termination cancels the later visits and releases the elevators"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        Elevator = pool.get('elevator.elevator')
        Date = pool.get('ir.date')
        today = Date.today()
        contract, (elevator,), _ = create_world(start=today)
        Contract.generate_plan()
        self.assertEqual(Order.search_count([]), 2)
        with self.assertRaisesRegex(ValidationError, 'reason'):
            Contract.terminate([contract])
        Contract.write([contract], {
                'termination_reason': "物业更换维保单位",
                'termination_date': today + dt.timedelta(days=20)})
        Contract.terminate([contract])
        self.assertEqual(Contract(contract.id).state, 'terminated')
        orders = Order.search([])
        self.assertEqual([(o.planned_date - today).days for o in orders],
            [15])
        self.assertIsNone(Elevator(elevator.id).maintenance_unit)
        with self.assertRaises(AccessError):
            Contract.delete([contract])

    @with_transaction()
    def test_contract_expiry(self):
        "The daily cron expires ended contracts"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        contract, _, _ = create_world(start=dt.date(2020, 1, 1))
        Contract.cron_plan()
        self.assertEqual(Contract(contract.id).state, 'expired')

    @with_transaction()
    def test_statistics(self):
        "On-time rate, average duration, unconfirmed rate and warnings"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        Warning_ = pool.get('elevator.maintenance.warning')
        Firm = pool.get('elevator.maintenance.statistics.firm')
        District = pool.get('elevator.maintenance.statistics.district')
        Type = pool.get('elevator.maintenance.statistics.type')
        Date = pool.get('ir.date')
        today = Date.today()
        start = today - dt.timedelta(days=40)
        contract, (elevator,), _ = create_world(start=start)
        Contract.generate_plan(today=start)
        Contract.generate_plan(today=start + dt.timedelta(days=20))
        first, second, *_ = Order.search([], order=[('planned_date', 'ASC')])
        # On time, 40 minutes; late (after its date), 20 minutes.
        visit(first, dt.datetime.combine(first.planned_date, dt.time(2)),
            40)
        visit(second, dt.datetime.combine(second.planned_date
                + dt.timedelta(days=5), dt.time(2)), 20)
        Warning_.scan(notify=False)
        with Transaction().set_context(from_date=start, to_date=today):
            firm, = Firm.search([])
            district, = District.search([])
            types = {t.type: t for t in Type.search([])}
        self.assertEqual(firm.maintenance_unit, contract.maintenance_unit)
        self.assertEqual((firm.orders_due, firm.orders_on_time,
                firm.on_time_rate), (2, 1, 50.0))
        self.assertEqual((firm.orders_done, firm.average_duration), (2, 30.0))
        self.assertEqual(firm.unconfirmed, 1)
        self.assertEqual(firm.unconfirmed_rate, 50.0)
        self.assertGreaterEqual(firm.warnings, 2)
        self.assertEqual(district.district, elevator.district)
        self.assertEqual(district.orders_done, 2)
        self.assertEqual(types['yearly'].average_duration, 40.0)
        self.assertEqual(types['half_monthly'].average_duration, 20.0)

    @with_transaction()
    def test_repair_order(self):
        "A repair from a complaint: recorded, confirmed, then immutable"
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        Attachment = pool.get('ir.attachment')
        contract, (elevator,), technicians = create_world()
        repair, = Repair.create([{'elevator': elevator.id,
                    'source': 'complaint', 'description': "开门异响"}])
        self.assertTrue(repair.number.startswith('WX'))
        self.assertEqual(repair.maintenance_unit, contract.maintenance_unit)
        self.assertEqual(elevator.repair_orders, (repair,))
        Repair.start_visit([repair], {'technicians': [
                    t.id for t in technicians],
                'time': (dt.datetime.now() - dt.timedelta(minutes=30))
                .isoformat()})
        Attachment.create([{'name': 'a.jpg', 'resource': str(repair),
                    'data': b'\xff\xd8\xff'}])
        with self.assertRaisesRegex(ValidationError, 'work done'):
            Repair.end_visit([Repair(repair.id)])
        Repair.write([repair], {'findings': "调整门机皮带", 'cause': "皮带松"})
        Repair.end_visit([Repair(repair.id)])
        with self.assertRaisesRegex(AccessError, 'own elevator'):
            Repair.confirm([Repair(repair.id)])
        User = pool.get('res.user')
        safety_manager, = User.create([{'login': 'property1',
                    'name': "物业安全员",
                    'elevator_units': [('add', [repair.user_unit.id])]}])
        with Transaction().set_user(safety_manager.id):
            Repair.confirm([Repair(repair.id)])
        repair = Repair(repair.id)
        self.assertEqual(repair.state, 'confirmed')
        with self.assertRaises(AccessError):
            Repair.write([repair], {'cause': "x"})



class ElevatorMaintenanceIoTTestCase(ModuleTestCase):
    "Test Elevator Maintenance module with IoT monitoring"
    module = 'elevator_maintenance'
    extras = ['elevator_iot']

    def _event(self, device, code, fault_id, occurred_at):
        pool = Pool()
        Event = pool.get('elevator.iot.event')
        FaultType = pool.get('elevator.iot.fault.type')
        fault_type, = FaultType.search([('code', '=', code)])
        event, = Event.create([{
                    'device': device.id, 'elevator': device.elevator.id,
                    'fault_id': fault_id, 'fault_type': fault_type.id,
                    'occurred_at': occurred_at, 'source': 'mqtt'}])
        return event

    @with_transaction()
    def test_faults_open_repair_orders(self):
        "Repair and critical faults open one repair order per elevator"
        pool = Pool()
        Device = pool.get('elevator.iot.device')
        Event = pool.get('elevator.iot.event')
        Repair = pool.get('elevator.repair.order')
        contract, (lift, other), _ = create_world(count=2)
        device, device2 = Device.create([
                {'serial': 'PT-DTU-0001', 'elevator': lift.id},
                {'serial': 'PT-DTU-0002', 'elevator': other.id}])
        now = dt.datetime.now().replace(microsecond=0)
        door = self._event(device, '11', 'f1', now - dt.timedelta(minutes=5))
        brake = self._event(device, '16', 'f2', now - dt.timedelta(minutes=4))
        overrun = self._event(device2, '1', 'f3', now)
        Event.react([door, brake, overrun])
        repairs = Repair.search([], order=[('elevator', 'ASC')])
        self.assertEqual(len(repairs), 2)
        by_elevator = {r.elevator: r for r in repairs}
        repair = by_elevator[lift]
        self.assertEqual((repair.source, repair.urgent, repair.origin),
            ('iot', False, door))
        self.assertEqual(repair.maintenance_unit, contract.maintenance_unit)
        self.assertIn('11', repair.description)
        self.assertIn('PT-DTU-0001', repair.description)
        self.assertEqual(len(repair.description.splitlines()), 2)
        self.assertTrue(by_elevator[other].urgent)
        for event in Event.browse([door, brake, overrun]):
            self.assertEqual(event.follow_up, 'repair')
            self.assertEqual(event.repair_order, by_elevator[event.elevator])
        # A later fault joins the repair order not yet done.
        again = self._event(device, '12', 'f4', now)
        Event.react([again])
        self.assertEqual(Repair.search_count([]), 2)
        self.assertEqual(Event(again.id).repair_order, repair)
        # Recorded only: no repair.
        noise = self._event(device, '20', 'f5', now)
        Event.react([noise])
        self.assertIsNone(Event(noise.id).repair_order)

    @with_transaction()
    def test_on_demand_online_stretches_interval(self):
        "On-demand contracts space the visits of monitored elevators online"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Order = pool.get('elevator.maintenance.order')
        Status = pool.get('elevator.iot.status')
        Warning_ = pool.get('elevator.maintenance.warning')
        Configuration = pool.get('elevator.configuration')
        start = dt.date(2024, 3, 1)
        contract, (online, offline), _ = create_world(
            start=start, mode='on_demand', count=2)
        Status.create([
                {'elevator': online.id, 'online': True},
                {'elevator': offline.id, 'online': False}])
        config = Configuration(1)
        config.maintenance_plan_days = 60
        config.save()
        Contract.generate_plan(today=start)

        def gaps(elevator):
            dates = [start] + [o.planned_date for o in Order.search([
                        ('elevator', '=', elevator.id)],
                    order=[('planned_date', 'ASC')])]
            return [(b - a).days for a, b in zip(dates, dates[1:])]
        self.assertEqual(gaps(online), [30, 30])
        self.assertEqual(gaps(offline), [15, 15, 15, 15])
        # Nor is the monitored elevator overdue after 20 days.
        ids = Warning_.scan(now=dt.datetime(2024, 3, 21, 4), notify=False)
        self.assertEqual([Warning_(i).elevator for i in ids], [offline])


del ModuleTestCase
