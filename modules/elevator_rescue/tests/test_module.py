import datetime as dt

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, SQLConstraintError
from trytond.modules.elevator.privacy import mask_name, mask_phone
from trytond.modules.elevator.tests.tools import LocaleTestMixin
from trytond.modules.elevator_rescue import clock
from trytond.modules.elevator_rescue.grid import distance_km
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


def create_world(with_grid=True, maintenance_unit=True):
    """A Chengxiang elevator with its units, a grid with two firms on duty
    around the clock and a fire station; returns a dict of records."""
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Region = pool.get('elevator.region')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    Grid = pool.get('elevator.rescue.grid')
    chengxiang = Region(ModelData.get_id('elevator', 'region_350302'))
    town, = Region.create([{'code': '350302001', 'name': '龙桥街道',
                'level': 'town', 'parent': chengxiang.id}])
    firm, near, far, other = Party.create([
            {'name': '安达电梯', 'is_maintenance_unit': True},
            {'name': '近邻电梯', 'is_maintenance_unit': True},
            {'name': '远方电梯', 'is_maintenance_unit': True},
            {'name': '别家电梯', 'is_maintenance_unit': True},
            ])
    station, = Party.create([{'name': '城厢消防站', 'is_fire_rescue': True}])
    place, other_place = Place.create([{
                'name': '万达华府', 'region': town.id,
                'address': '城厢区龙桥街道万达路1号',
                'latitude': 25.4352, 'longitude': 119.0078,
                }, {
                'name': '荔园小区', 'region': town.id,
                'address': '城厢区龙桥街道荔园路8号',
                }])
    lift, lift2, lift3 = Elevator.create([{
                'registration_code': f'311035030220160000{n:02d}',
                'category': '3110', 'region': town.id, 'place': p.id,
                'latitude': 25.4352, 'longitude': 119.0078,
                'maintenance_unit': firm.id if maintenance_unit else None,
                } for n, p in [(1, place), (2, other_place),
                (3, other_place)]])
    grid = None
    if with_grid:
        grid, = Grid.create([{
                    'name': '城厢网格', 'code': 'CX',
                    'fire_station': station.id,
                    'regions': [('add', [chengxiang.id])],
                    'duties': [('create', [{
                                    'unit': far.id, 'hour_from': 0,
                                    'hour_to': 24, 'latitude': 25.60,
                                    'longitude': 119.20,
                                    }, {
                                    'unit': near.id, 'hour_from': 0,
                                    'hour_to': 24, 'latitude': 25.44,
                                    'longitude': 119.01,
                                    }, {
                                    'unit': firm.id, 'hour_from': 0,
                                    'hour_to': 24, 'latitude': 25.4352,
                                    'longitude': 119.0078,
                                    }])],
                    }])
    return {
        'district': chengxiang, 'town': town, 'firm': firm, 'near': near,
        'far': far, 'other': other, 'station': station, 'lift': lift,
        'lift2': lift2, 'lift3': lift3, 'grid': grid,
        }


def create_user(login, group, units=()):
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    user, = User.create([{
                'login': login, 'name': login,
                'groups': [('add', [ModelData.get_id('elevator', group)])],
                'elevator_units': [('add', [u.id for u in units])],
                }])
    return user


def as_user(user):
    "Act as user through the RPC checks (access rights, rules, masking)."
    transaction = Transaction()
    return transaction.set_user(user.id), transaction.set_context(
        _check_access=True)


class ElevatorRescueTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator Rescue module"
    module = 'elevator_rescue'

    def setUp(self):
        super().setUp()
        clock.freeze()
        self.addCleanup(clock.reset)

    def test_mask(self):
        "Caller data is masked for display"
        self.assertEqual(mask_phone('13812345678'), '138****5678')
        self.assertEqual(mask_phone('0594-2345678'), '0594-***5678')
        self.assertEqual(mask_phone('12345'), '***45')
        self.assertEqual(mask_phone('119'), '*19')
        self.assertEqual(mask_phone(None), None)
        self.assertEqual(mask_name('张三丰'), '张**')
        self.assertEqual(mask_name(''), '')

    def test_distance(self):
        "Straight-line distance between coordinates"
        # Putian railway station to the city centre: about 9.3 km.
        self.assertAlmostEqual(
            distance_km(25.4658, 119.0995, 25.4310, 119.0077), 9.94,
            delta=0.3)
        self.assertIsNone(distance_km(None, 119.0, 25.0, 119.0))

    @with_transaction()
    def test_duty_roster(self):
        "Rosters by weekday and hour, also over midnight"
        pool = Pool()
        Duty = pool.get('elevator.rescue.grid.duty')
        world = create_world()
        night, = Duty.create([{
                    'grid': world['grid'].id, 'unit': world['other'].id,
                    'weekday': '0', 'hour_from': 20, 'hour_to': 8,
                    }])
        monday = dt.datetime(2025, 3, 3)
        self.assertTrue(night.is_on_duty(monday.replace(hour=21)))
        self.assertFalse(night.is_on_duty(monday.replace(hour=9)))
        # Tuesday 07:00 is still Monday's night duty, Tuesday 21:00 not.
        self.assertTrue(night.is_on_duty(monday.replace(day=4, hour=7)))
        self.assertFalse(night.is_on_duty(monday.replace(day=4, hour=21)))
        with self.assertRaises(Exception):
            Duty.create([{
                        'grid': world['grid'].id, 'unit': world['far'].id,
                        'hour_from': 8, 'hour_to': 8}])

    @with_transaction()
    def test_nearest_units(self):
        "Level 2 asks the grid's on-duty units nearest to the elevator"
        world = create_world()
        lift = world['lift']
        units = world['grid'].nearest_units(lift.latitude, lift.longitude,
            dt.datetime(2025, 3, 3, 10), exclude={world['firm'].id})
        self.assertEqual([u for u, _, _ in units],
            [world['near'].id, world['far'].id])
        self.assertLess(units[0][2], units[1][2])

    @with_transaction()
    def test_sla_by_region(self):
        "The SLA of the region or of its nearest parent applies"
        pool = Pool()
        SLA = pool.get('elevator.rescue.sla')
        Region = pool.get('elevator.region')
        ModelData = pool.get('ir.model.data')
        world = create_world()
        xianyou = Region(ModelData.get_id('elevator', 'region_350322'))
        minutes = SLA.minutes([world['town'], xianyou])
        self.assertEqual(minutes[world['town'].id], (5, 30))
        self.assertEqual(minutes[xianyou.id], (5, 60))
        SLA.create([{'region': world['town'].id, 'accept_minutes': 3,
                    'arrive_minutes': 20}])
        self.assertEqual(SLA.minutes([world['town']])[world['town'].id],
            (3, 20))
        with self.assertRaises(Exception):
            SLA.create([{'region': xianyou.id, 'accept_minutes': 30,
                        'arrive_minutes': 20}])

    @with_transaction()
    def test_find_elevator(self):
        "The elevator from the rescue code, registration code or address"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        lift = world['lift']
        self.assertEqual(Ticket.find_elevator(lift.rescue_code), lift)
        self.assertEqual(Ticket.find_elevator(f' {lift.registration_code} '),
            lift)
        self.assertEqual(Ticket.find_elevator('万达路1号'), lift)
        with self.assertRaisesRegex(UserError, '2 elevators'):
            Ticket.find_elevator('荔园')
        with self.assertRaisesRegex(UserError, 'No elevator .*"000000"'):
            Ticket.find_elevator('000000')
        with self.assertRaisesRegex(UserError, 'No elevator'):
            Ticket.create([{'lookup': '000000'}])

    @with_transaction()
    def test_report_attaches_to_active_ticket(self):
        "report() joins the elevator's active ticket, else opens one"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        lift = world['lift']
        first = Ticket.report(lift, 'iot', description='7 平层关人',
            reference='F-1')
        self.assertEqual((first.state, first.level, first.source),
            ('new', 1, 'iot'))
        second = Ticket.report(lift.id, 'public_app',
            caller_phone='13900000000', description='救命')
        self.assertEqual(second, first)
        self.assertEqual(
            [(a.source, bool(a.attached)) for a in first.alarms],
            [('iot', False), ('public_app', True)])
        self.assertEqual(Ticket.search([], count=True), 1)
        tickets = Ticket.report_many([
                (lift, 'iot', {}), (world['lift2'], 'video_ai', {}),
                (world['lift2'], 'iot', {})])
        self.assertEqual(tickets[0], first)
        self.assertEqual(tickets[1], tickets[2])
        self.assertEqual(tickets[1].source, 'video_ai')
        # Released: people are out; a new alarm is a new entrapment.
        first.cancel_reason = 'false_alarm'
        first.save()
        Ticket.cancel([first])
        third = Ticket.report(lift, 'phone')
        self.assertNotEqual(third, first)

    @with_transaction()
    def test_report_bad_input(self):
        "Bad reports are refused with clear errors"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        with self.assertRaisesRegex(UserError, '"fax" is not a source'):
            Ticket.report(world['lift'], 'fax')
        with self.assertRaisesRegex(UserError, 'no value "colour"'):
            Ticket.report(world['lift'], 'phone', colour='red')

    @with_transaction()
    def test_one_active_ticket_per_elevator(self):
        "An elevator never has two active tickets"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        Ticket.create([{'elevator': world['lift'].id}])
        with self.assertRaises(SQLConstraintError):
            Ticket.create([{'elevator': world['lift'].id}])

    @with_transaction()
    def test_caller_masked_outside_dispatch(self):
        "Callers' data: full for dispatchers (logged), masked for others"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Alarm = pool.get('elevator.rescue.alarm')
        Access = pool.get('elevator.privacy.access')
        world = create_world()
        ticket, = Ticket.create([{
                    'elevator': world['lift'].id,
                    'caller_name': '张三丰',
                    'caller_phone': '13812345678',
                    }])
        Ticket.dispatch([ticket])
        alarm_ids = [a.id for a in ticket.alarms]
        dispatcher = create_user('dispatcher', 'group_dispatcher')
        firm = create_user('firm1', 'group_firm_manager', [world['firm']])
        city = create_user('city', 'group_city_regulator')
        names = ['caller_name', 'caller_phone']
        masked = ['caller_name_masked', 'caller_phone_masked']
        for user in [firm, city]:
            user_ctx, access_ctx = as_user(user)
            with user_ctx, access_ctx:
                row, = Ticket.read([ticket.id], masked)
                self.assertEqual(
                    (row['caller_name_masked'], row['caller_phone_masked']),
                    ('张**', '138****5678'), msg=user.login)
                alarm, = Alarm.read(alarm_ids, masked)
                self.assertEqual(alarm['caller_phone_masked'], '138****5678')
                for Model, ids in [(Ticket, [ticket.id]), (Alarm, alarm_ids)]:
                    with self.assertRaises(AccessError):
                        Model.read(ids, ['caller_phone'])
                    with self.assertRaises(AccessError):
                        Model.search([('caller_phone', 'like', '138%')])
                    with self.assertRaises(AccessError):
                        Model.search([], order=[('caller_phone', 'ASC')])
                    with self.assertRaises(AccessError):
                        Model.export_data(Model.browse(ids), ['caller_name'])
        self.assertEqual(Access.search([], count=True), 0)
        user_ctx, access_ctx = as_user(dispatcher)
        with user_ctx, access_ctx:
            row, = Ticket.read([ticket.id], names)
            self.assertEqual((row['caller_name'], row['caller_phone']),
                ('张三丰', '13812345678'))
            self.assertEqual(Ticket.search(
                    [('caller_phone', '=', '13812345678')]), [ticket])
            alarm, = Alarm.read(alarm_ids, ['caller_phone'])
            self.assertEqual(alarm['caller_phone'], '13812345678')
            # Dispatch works without reading the caller's data.
            self.assertEqual(Ticket(ticket.id).state, 'dispatched')
        logged = sorted((a.user.id, a.model, a.record, a.field, a.purpose)
            for a in Access.search([]))
        self.assertEqual(logged, sorted([
                    (dispatcher.id, 'elevator.rescue.ticket', ticket.id,
                        'caller_name', 'read'),
                    (dispatcher.id, 'elevator.rescue.ticket', ticket.id,
                        'caller_phone', 'read'),
                    (dispatcher.id, 'elevator.rescue.alarm', alarm_ids[0],
                        'caller_phone', 'read'),
                    ]))
        # Server-side code sees the data, and is not logged.
        self.assertEqual(ticket.caller_phone, '13812345678')
        self.assertEqual(Access.search([], count=True), 3)

    @with_transaction()
    def test_workflow_fields_protected(self):
        "Stamps and states change only through the workflow"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        dispatcher = create_user('dispatcher', 'group_dispatcher')
        ticket, = Ticket.create([{'elevator': world['lift'].id,
                    'state': 'closed', 'level': 3}])
        self.assertEqual((ticket.state, ticket.level), ('new', 1))
        user_ctx, access_ctx = as_user(dispatcher)
        with user_ctx, access_ctx:
            with self.assertRaisesRegex(AccessError, 'Level'):
                Ticket.write([ticket], {'level': 3})
            Ticket.write([ticket], {'trapped_persons': 3})

    @with_transaction()
    def test_escalation_never_twice(self):
        "Each deadline escalates once, however often the pass runs"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        ticket, = Ticket.create([{'elevator': world['lift'].id}])
        self.assertEqual(Ticket.escalate_due(), 0)
        # Left undispatched: the pass dispatches it.
        clock.travel(minutes=4)
        self.assertEqual(Ticket.escalate_due(), 1)
        self.assertEqual((ticket.state, ticket.level), ('dispatched', 1))
        clock.travel(minutes=5)
        self.assertEqual(Ticket.escalate_due(), 1)
        self.assertEqual(ticket.level, 2)
        for _ in range(3):
            self.assertEqual(Ticket.escalate_due(), 0)
        self.assertEqual(len(ticket.escalations), 1)
        # By hand at the same level again: nothing happens twice either.
        Ticket._escalate([Ticket(ticket.id)], 'manual')
        self.assertEqual(Ticket(ticket.id).level, 3)
        Ticket._escalate([Ticket(ticket.id)], 'manual')
        ticket = Ticket(ticket.id)
        self.assertEqual(ticket.level, 3)
        self.assertEqual([e.from_level for e in ticket.escalations], [1, 2])
        self.assertEqual(
            [(d.level, d.unit.name, d.outcome) for d in sorted(
                    ticket.dispatches, key=lambda d: (d.level, d.rank))],
            [(1, '安达电梯', 'timed_out'), (2, '近邻电梯', 'superseded'),
                (2, '远方电梯', 'superseded'), (3, '城厢消防站', None)])
        # Fire rescue late: the dispatcher is told once, no level 4.
        clock.travel(minutes=6)
        self.assertEqual(Ticket.escalate_due(), 1)
        self.assertEqual(Ticket.escalate_due(), 0)
        ticket = Ticket(ticket.id)
        self.assertEqual((ticket.level, ticket.deadline), (3, None))

    @with_transaction()
    def test_decline_escalates_at_once(self):
        "When every unit of a level declines, the next level is asked"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        ticket, = Ticket.create([{'elevator': world['lift'].id}])
        Ticket.dispatch([ticket])
        Dispatch = pool.get('elevator.rescue.dispatch')
        Dispatch.decline(list(ticket.dispatches))
        ticket = Ticket(ticket.id)
        self.assertEqual(ticket.level, 2)
        self.assertEqual(ticket.escalations[0].reason, 'declined')
        with self.assertRaisesRegex(UserError, 'declined'):
            Dispatch.accept([d for d in ticket.dispatches if d.level == 1])

    @with_transaction()
    def test_fallbacks(self):
        "No maintenance unit: level 2; no grid either: fire rescue 119"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        ModelData = pool.get('ir.model.data')
        world = create_world(with_grid=False, maintenance_unit=False)
        ticket, = Ticket.create([{'elevator': world['lift'].id}])
        Ticket.dispatch([ticket])
        ticket = Ticket(ticket.id)
        self.assertEqual(ticket.level, 3)
        self.assertEqual([e.reason for e in ticket.escalations],
            ['no_unit', 'no_unit'])
        dispatch, = ticket.dispatches
        self.assertEqual(dispatch.unit.id,
            ModelData.get_id('elevator_rescue', 'party_fire_119'))

    @with_transaction()
    def test_bad_steps(self):
        "Steps out of order get clear errors"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Dispatch = pool.get('elevator.rescue.dispatch')
        world = create_world()
        ticket, = Ticket.create([{'elevator': world['lift'].id}])
        with self.assertRaisesRegex(UserError, 'once a unit is on site'):
            Ticket.release([ticket])
        Ticket.dispatch([ticket])
        dispatch, = ticket.dispatches
        with self.assertRaisesRegex(UserError, 'has not accepted'):
            Dispatch.arrive([dispatch])
        with self.assertRaisesRegex(UserError, 'only once the trapped'):
            Ticket.close([ticket])
        Dispatch.accept([dispatch])
        with self.assertRaisesRegex(UserError, 'already accepted'):
            Dispatch.accept([Dispatch(dispatch.id)])
        Dispatch.arrive([Dispatch(dispatch.id)])
        ticket = Ticket(ticket.id)
        self.assertEqual(ticket.state, 'arrived')
        self.assertTrue(ticket.arrive_in_time)
        with self.assertRaisesRegex(UserError, 'already on site'):
            Dispatch.arrive([Dispatch(dispatch.id)])
        Ticket.release([ticket])
        ticket.cause = 'power'
        ticket.released_persons = 1
        ticket.injuries = -1
        with self.assertRaisesRegex(Exception, 'cannot be negative'):
            ticket.save()

    @with_transaction()
    def test_notifications(self):
        "The dispatched unit's users and the dispatchers are notified"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Notification = pool.get('res.notification')
        world = create_world()
        firm = create_user('firm1', 'group_firm_manager', [world['firm']])
        tech = create_user('tech1', 'group_technician', [world['firm']])
        other = create_user('other1', 'group_firm_manager', [world['other']])
        dispatcher = create_user('dispatcher', 'group_dispatcher')
        ticket = Ticket.report(world['lift'], 'iot')
        self.assertEqual(len(Notification.search(
                    [('user', '=', dispatcher.id)])), 1)
        Ticket.dispatch([ticket])
        for user in [firm, tech]:
            notification, = Notification.search([('user', '=', user.id)])
            self.assertEqual(notification.model, 'elevator.rescue.dispatch')
            self.assertIn(ticket.number, notification.label)
        self.assertFalse(Notification.search([('user', '=', other.id)]))


class ElevatorRescueExtrasTestCase(ModuleTestCase):
    "Test Elevator Rescue with the IoT and maintenance modules"
    module = 'elevator_rescue'
    extras = ['elevator_iot', 'elevator_maintenance']

    def setUp(self):
        super().setUp()
        clock.freeze()
        self.addCleanup(clock.reset)

    def _events(self, world, faults):
        pool = Pool()
        Device = pool.get('elevator.iot.device')
        Event = pool.get('elevator.iot.event')
        FaultType = pool.get('elevator.iot.fault.type')
        devices = {}
        for elevator, type_, _, _ in faults:
            key = (elevator.id, type_)
            if key not in devices:
                devices[key], = Device.create([{
                            'serial': f'DEV{elevator.id}{type_}',
                            'type': type_,
                            'elevator': elevator.id,
                            }])
        types = {t.code: t for t in FaultType.search([])}
        return Event.create([{
                    'device': devices[(elevator.id, type_)].id,
                    'elevator': elevator.id,
                    'fault_id': fault_id,
                    'fault_type': types[code].id,
                    'reaction': types[code].reaction,
                    'occurred_at': clock.now(),
                    'source': 'mqtt',
                    } for elevator, type_, fault_id, code in faults])

    @with_transaction()
    def test_iot_intake(self):
        "A trapped alarm opens a ticket; a duplicate joins it"
        pool = Pool()
        Event = pool.get('elevator.iot.event')
        Ticket = pool.get('elevator.rescue.ticket')
        world = create_world()
        lift, lift2 = world['lift'], world['lift2']
        events = self._events(world, [
                (lift, 'controller_terminal', 'A1', '8'),
                (lift, 'ai_camera', 'V1', '7'),
                (lift2, 'ai_camera', 'V2', '21'),
                (lift2, 'controller_terminal', 'B1', '1'),
                ])
        Event.react(events)
        self.assertEqual(Ticket.search([], count=True), 2)
        first, second = events[:2]
        self.assertEqual(first.rescue_ticket, second.rescue_ticket)
        self.assertEqual((first.follow_up, second.follow_up),
            ('rescue', 'rescue'))
        ticket = first.rescue_ticket
        self.assertEqual((ticket.source, ticket.level, ticket.state),
            ('iot', 1, 'new'))
        self.assertEqual(
            [(a.source, bool(a.attached), a.reference, a.origin)
                for a in ticket.alarms],
            [('iot', False, 'A1', first), ('video_ai', True, 'V1', second)])
        self.assertEqual(events[2].rescue_ticket.source, 'video_ai')
        # A critical fault is not a rescue.
        self.assertIsNone(events[3].rescue_ticket)
        # A later duplicate alarm on the same elevator joins the ticket.
        later = self._events(world, [(lift, 'presence_sensor', 'P1', '7')])
        Event.react(later)
        self.assertEqual(later[0].rescue_ticket, ticket)
        self.assertEqual(len(Ticket(ticket.id).alarms), 3)

    @with_transaction()
    def test_repair_order_follows(self):
        "Closing with a repair order to follow opens one for the elevator"
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        Dispatch = pool.get('elevator.rescue.dispatch')
        RepairOrder = pool.get('elevator.repair.order')
        world = create_world()
        ticket, = Ticket.create([{'elevator': world['lift'].id}])
        Ticket.dispatch([ticket])
        Dispatch.accept(list(ticket.dispatches))
        Dispatch.arrive(list(Ticket(ticket.id).dispatches))
        Ticket.release([ticket])
        Ticket.write([ticket], {'cause': 'door', 'released_persons': 1,
                'injuries': 0, 'repair_follows': True,
                'closing_notes': '门机故障'})
        Ticket.close([ticket])
        ticket = Ticket(ticket.id)
        order, = RepairOrder.search([])
        self.assertEqual(ticket.repair_order, order)
        self.assertEqual((order.elevator, order.source, order.origin),
            (world['lift'], 'rescue', ticket))
        self.assertIn(ticket.number, order.description)


del ModuleTestCase
