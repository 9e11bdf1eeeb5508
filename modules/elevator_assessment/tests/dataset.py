"""A small hand-made data set for the assessment tests, in two districts.

Every record is made with explicit values (the state of each workflow as
it ended) so that each indicator's expected figure can be worked out by
hand from the table below; test_module.py does so.

Period: the first quarter of 2025 (local dates 2025-01-01 to 2025-03-31,
UTC 2024-12-31 16:00 to 2025-03-31 16:00), computed as of
2025-04-10 00:00 UTC. The credit year 2025 is computed as of
2026-01-10 00:00 UTC.

Elevators (firm A: e1, e2, e4; firm B: e3, e5, e6; e7 is not in use)::

    e1 城厢 residential      video yes  next inspection 2025-06-30  A
    e2 城厢 public gathering video no   next inspection 2025-03-15  A
    e3 城厢 office           video no   next inspection 2025-12-31  B
    e4 城厢 residential      video yes  next inspection none        A
    e5 涵江 residential      video yes  next inspection 2025-05-01  B
    e6 涵江 residential      video no   next inspection 2024-12-31  B
    e7 涵江 residential      draft                                  B
"""
import datetime as dt
from decimal import Decimal

from trytond.pool import Pool
from trytond.transaction import Transaction

Q1_START = dt.date(2025, 1, 1)
Q1_END = dt.date(2025, 3, 31)
Q1_AS_OF = dt.datetime(2025, 4, 10)
YEAR_AS_OF = dt.datetime(2026, 1, 10)
T = dt.datetime  # naive UTC, as stored


def create_dataset():
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Region = pool.get('elevator.region')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')

    cx = Region(ModelData.get_id('elevator', 'region_350302'))
    hj = Region(ModelData.get_id('elevator', 'region_350303'))
    city = cx.parent
    cx_town, hj_town = Region.create([
            {'code': '350302001', 'name': '龙桥街道', 'level': 'town',
                'parent': cx.id},
            {'code': '350303001', 'name': '涵东街道', 'level': 'town',
                'parent': hj.id},
            ])
    firm_a, firm_b, owner = Party.create([
            {'name': '莆田市安达电梯工程有限公司', 'is_maintenance_unit': True},
            {'name': '莆田市荔城电梯有限公司', 'is_maintenance_unit': True},
            {'name': '莆田市万达物业服务有限公司', 'is_user_unit': True,
                'is_property_company': True},
            ])
    residence, plaza, office, estate = Place.create([
            {'name': '万达华府', 'category': 'residential',
                'region': cx_town.id},
            {'name': '万达广场', 'category': 'public_gathering',
                'region': cx_town.id},
            {'name': '城厢写字楼', 'category': 'office', 'region': cx_town.id},
            {'name': '涵江花园', 'category': 'residential',
                'region': hj_town.id},
            ])

    def lift(n, place, town, firm, video, inspection, state='in_use'):
        district = '350302' if town == cx_town else '350303'
        return {
            'registration_code': f'3110{district}2019{n:06d}',
            'category': '3110',
            'region': town.id,
            'place': place.id,
            'place_category': place.category,
            'user_unit': owner.id,
            'maintenance_unit': firm.id,
            'has_video': video,
            'next_inspection_date': inspection,
            'state': state,
            }
    e1, e2, e3, e4, e5, e6, e7 = Elevator.create([
            lift(1, residence, cx_town, firm_a, True, dt.date(2025, 6, 30)),
            lift(2, plaza, cx_town, firm_a, False, dt.date(2025, 3, 15)),
            lift(3, office, cx_town, firm_b, False, dt.date(2025, 12, 31)),
            lift(4, residence, cx_town, firm_a, True, None),
            lift(5, estate, hj_town, firm_b, True, dt.date(2025, 5, 1)),
            lift(6, estate, hj_town, firm_b, False, dt.date(2024, 12, 31)),
            lift(7, estate, hj_town, firm_b, False, None, state='draft'),
            ])
    world = {
        'city': city, 'cx': cx, 'hj': hj, 'firm_a': firm_a,
        'firm_b': firm_b, 'owner': owner,
        'e': {i: e for i, e in enumerate([e1, e2, e3, e4, e5, e6, e7], 1)},
        }
    # The records of the modules activated in the database.
    for part, model in [
            (_maintenance, 'elevator.maintenance.order'),
            (_rescue, 'elevator.rescue.ticket'),
            (_public, 'elevator.public.feedback'),
            (_iot, 'elevator.iot.event'),
            (_subsidy, 'elevator.subsidy.program'),
            ]:
        try:
            pool.get(model)
        except KeyError:
            continue
        part(world)
    return world


def _maintenance(world):
    """Orders (planned date, on time, state, check-out UTC, minutes)::

        o1 e1 half-monthly 2025-01-10 on time   confirmed 01-10 03:00  45
        o2 e1 half-monthly 2025-01-25 late      done      01-27 03:00  20
        o3 e2 half-monthly 2025-02-10 on time   confirmed 02-10 03:00  35
        o4 e3 half-monthly 2025-03-20 -         planned (never made)
        o5 e3 half-monthly 2025-04-05 on time   confirmed 04-05 03:00  50
        o6 e4 half-monthly 2024-12-28 late      confirmed 01-03 02:00  31
        o7 e5 quarterly    2025-02-01 on time   confirmed 02-01 03:00  90
        o8 e6 half-monthly 2025-03-01 on time   disputed  03-01 03:00  25
        o9 e5 half-monthly 2025-03-31 late      confirmed 03-31 17:00  40
           (checked out at 01:00 on April 1st, Putian time)

    Minimum durations of the maintenance module's rules: half-monthly 30,
    quarterly 60 minutes.
    """
    Order = Pool().get('elevator.maintenance.order')
    e = world['e']

    def order(elevator, type_, planned, on_time, state, check_out=None,
            minutes=None):
        values = {
            'elevator': elevator.id,
            'type': type_,
            'planned_date': planned,
            'on_time': on_time,
            'state': state,
            }
        if check_out:
            values.update({
                    'check_in': check_out - dt.timedelta(minutes=minutes),
                    'check_out': check_out,
                    'duration': float(minutes),
                    })
        return values
    world['orders'] = Order.create([
            order(e[1], 'half_monthly', dt.date(2025, 1, 10), True,
                'confirmed', T(2025, 1, 10, 3), 45),
            order(e[1], 'half_monthly', dt.date(2025, 1, 25), False,
                'done', T(2025, 1, 27, 3), 20),
            order(e[2], 'half_monthly', dt.date(2025, 2, 10), True,
                'confirmed', T(2025, 2, 10, 3), 35),
            order(e[3], 'half_monthly', dt.date(2025, 3, 20), None,
                'planned'),
            order(e[3], 'half_monthly', dt.date(2025, 4, 5), True,
                'confirmed', T(2025, 4, 5, 3), 50),
            order(e[4], 'half_monthly', dt.date(2024, 12, 28), False,
                'confirmed', T(2025, 1, 3, 2), 31),
            order(e[5], 'quarterly', dt.date(2025, 2, 1), True,
                'confirmed', T(2025, 2, 1, 3), 90),
            order(e[6], 'half_monthly', dt.date(2025, 3, 1), True,
                'disputed', T(2025, 3, 1, 3), 25),
            order(e[5], 'half_monthly', dt.date(2025, 3, 31), False,
                'confirmed', T(2025, 3, 31, 17), 40),
            ])


def _rescue(world):
    """Tickets (reported UTC) and their dispatches::

        t1 e1 2025-02-10 02:00 closed, on site in time
           d1 level 1 firm A accepted 02:03 (deadline 02:05),
              arrived 02:20 (deadline 02:30)
        t2 e2 2025-03-05 10:00 closed, on site late (10:50)
           d2 level 1 firm A timed out, missed the acceptance
           d3 level 2 firm B accepted 10:12 (deadline 10:17),
              arrived 10:50 (deadline 10:42)
        t3 e3 2025-03-10 08:00 cancelled (false alarm)
           d4 level 1 firm B cancelled before acceptance
        t4 e5 2025-01-20 09:00 closed, on site in time, caused by the
           maintenance quality
           d5 level 1 firm B accepted 09:02 (09:05), arrived 09:25 (09:30)
        t5 e6 2025-04-02 09:00 closed, on site in time (after Q1)
           d6 level 1 firm B accepted 09:01 (09:05), arrived 09:20 (09:30)
    """
    pool = Pool()
    Ticket = pool.get('elevator.rescue.ticket')
    Dispatch = pool.get('elevator.rescue.dispatch')
    e, a, b = world['e'], world['firm_a'], world['firm_b']

    def ticket(elevator, reported, state, arrived=None, in_time=None,
            cause=None):
        return {
            'elevator': elevator.id,
            'source': 'phone',
            'reported_at': reported,
            'state': state,
            'level': 1,
            'dispatched_at': reported + dt.timedelta(minutes=1),
            'arrived_at': arrived,
            'arrive_in_time': in_time,
            'cause': cause,
            'trapped_persons': 1,
            }
    with Transaction().set_context(_rescue_history=True):
        t1, t2, t3, t4, t5 = Ticket.create([
                ticket(e[1], T(2025, 2, 10, 2), 'closed',
                    T(2025, 2, 10, 2, 20), True),
                ticket(e[2], T(2025, 3, 5, 10), 'closed',
                    T(2025, 3, 5, 10, 50), False),
                ticket(e[3], T(2025, 3, 10, 8), 'cancelled'),
                ticket(e[5], T(2025, 1, 20, 9), 'closed',
                    T(2025, 1, 20, 9, 25), True, cause='maintenance'),
                ticket(e[6], T(2025, 4, 2, 9), 'closed',
                    T(2025, 4, 2, 9, 20), True),
                ])

    def dispatch(ticket, level, unit, dispatched, outcome, accepted=None,
            arrived=None, missed=None, arrive_minutes=30):
        return {
            'ticket': ticket.id,
            'level': level,
            'kind': 'maintenance' if level == 1 else 'grid',
            'unit': unit.id,
            'dispatched_at': dispatched,
            'accept_deadline': dispatched + dt.timedelta(minutes=5),
            'arrive_deadline': dispatched + dt.timedelta(
                minutes=arrive_minutes),
            'accepted_at': accepted,
            'arrived_at': arrived,
            'outcome': outcome,
            'missed': missed,
            }
    world['dispatches'] = Dispatch.create([
            dispatch(t1, 1, a, T(2025, 2, 10, 2), 'accepted',
                T(2025, 2, 10, 2, 3), T(2025, 2, 10, 2, 20)),
            dispatch(t2, 1, a, T(2025, 3, 5, 10), 'timed_out',
                missed='accept'),
            dispatch(t2, 2, b, T(2025, 3, 5, 10, 12), 'accepted',
                T(2025, 3, 5, 10, 12), T(2025, 3, 5, 10, 50)),
            dispatch(t3, 1, b, T(2025, 3, 10, 8), 'cancelled'),
            dispatch(t4, 1, b, T(2025, 1, 20, 9), 'accepted',
                T(2025, 1, 20, 9, 2), T(2025, 1, 20, 9, 25)),
            dispatch(t5, 1, b, T(2025, 4, 2, 9), 'accepted',
                T(2025, 4, 2, 9, 1), T(2025, 4, 2, 9, 20)),
            ])
    world['tickets'] = [t1, t2, t3, t4, t5]


def _public(world):
    """Feedback (submitted, deadline, replied, UTC)::

        f1 e1 complaint 2025-01-05, deadline 01-12, replied 01-10
        f2 e2 complaint 2025-03-28, deadline 04-04, not replied
        f3 e3 message   2025-02-01 (not a complaint)
        f4 e5 complaint 2025-02-01, deadline 02-08, replied 02-09,
           found invalid

    Ratings of the maintenance: e1 5 and e2 4 stars in 2025, e1 1 star in
    2024 (firm A).
    """
    pool = Pool()
    Feedback = pool.get('elevator.public.feedback')
    Rating = pool.get('elevator.public.rating')
    e = world['e']

    def feedback(elevator, type_, submitted, deadline=None, replied=None,
            resolution=None):
        return {
            'elevator': elevator.id,
            'type': type_,
            'text': '电梯异响',
            'contact_phone': '13800000000',
            'submitted_at': submitted,
            'deadline': deadline,
            'replied_at': replied,
            'state': 'closed' if replied else 'received',
            'resolution': resolution,
            }
    Feedback.create([
            feedback(e[1], 'complaint', T(2025, 1, 5), T(2025, 1, 12),
                T(2025, 1, 10), 'resolved'),
            feedback(e[2], 'complaint', T(2025, 3, 28), T(2025, 4, 4)),
            feedback(e[3], 'message', T(2025, 2, 1)),
            feedback(e[5], 'complaint', T(2025, 2, 1), T(2025, 2, 8),
                T(2025, 2, 9), 'invalid'),
            ])
    ratings = Rating.create([
            {'elevator': e[1].id, 'score_maintenance': 5,
                'score_user_unit': 4},
            {'elevator': e[2].id, 'score_maintenance': 4,
                'score_user_unit': 4},
            {'elevator': e[1].id, 'score_maintenance': 1,
                'score_user_unit': 2},
            ])
    # Ratings are stamped when given: move them into the past.
    table = Rating.__table__()
    cursor = Transaction().connection.cursor()
    for rating, date in zip(ratings, [
                T(2025, 5, 1), T(2025, 6, 1), T(2024, 6, 1)]):
        cursor.execute(*table.update([table.create_date], [date],
                where=table.id == rating.id))


def _iot(world):
    """Devices: e1 installed 2025-02-01; e2 installed 2025-05-01 (after
    Q1); e5 retired; e6 without install date, registered now (after Q1);
    all heard from 3 days ago.

    Events (UTC): e1 fault 7 (rescue) 2025-02-10, e1 fault 20 (record
    only) 2025-03-01, e2 fault 4 (repair) 2025-06-01, e5 fault 4
    2024-12-31 23:00 (2025-01-01 07:00 in Putian)."""
    pool = Pool()
    Device = pool.get('elevator.iot.device')
    Event = pool.get('elevator.iot.event')
    FaultType = pool.get('elevator.iot.fault.type')
    e = world['e']
    d1, d2, d5, d6 = Device.create([
            {'serial': 'DEV-0001', 'type': 'controller_terminal',
                'elevator': e[1].id, 'install_date': dt.date(2025, 2, 1)},
            {'serial': 'DEV-0002', 'type': 'controller_terminal',
                'elevator': e[2].id, 'install_date': dt.date(2025, 5, 1)},
            {'serial': 'DEV-0005', 'type': 'controller_terminal',
                'elevator': e[5].id, 'install_date': dt.date(2024, 5, 1)},
            {'serial': 'DEV-0006', 'type': 'ai_camera',
                'elevator': e[6].id},
            ])
    Device.retire([d5])
    # Heard from 3 days ago: monitored now (and d1 at the end of Q1, being
    # installed by then); d5 too, but it is retired.
    table = Device.__table__()
    Transaction().connection.cursor().execute(*table.update(
            [table.last_seen], [dt.datetime.now() - dt.timedelta(days=3)],
            where=table.id.in_([d1.id, d2.id, d5.id, d6.id])))
    types = {t.code: t for t in FaultType.search([])}

    def event(device, elevator, code, when, n):
        return {
            'device': device.id, 'elevator': elevator.id,
            'fault_id': f'F{n}', 'fault_type': types[code].id,
            'occurred_at': when, 'state': 'cleared', 'source': 'mqtt',
            }
    Event.create([
            event(d1, e[1], '7', T(2025, 2, 10, 2), 1),
            event(d1, e[1], '20', T(2025, 3, 1), 2),
            event(d2, e[2], '4', T(2025, 6, 1), 3),
            event(d5, e[5], '4', T(2024, 12, 31, 23), 4),
            ])


def _subsidy(world):
    """Programmes: 城厢 2025 budget 100,000 with 30,000 paid on
    2025-03-01, 20,000 paid on 2025-04-15 and 10,000 approved; the city's
    2025 programme (counts for no district); 涵江 2024 (another year)."""
    pool = Pool()
    Program = pool.get('elevator.subsidy.program')
    Application = pool.get('elevator.subsidy.application')

    def program(name, region, year, budget):
        return {
            'name': name, 'region': region.id, 'year': year,
            'budget': Decimal(budget), 'state': 'open',
            'window_start': dt.date(year, 1, 1),
            'window_end': dt.date(year, 12, 31),
            }
    cx, city, old = Program.create([
            program('城厢区2025年电梯物联网补助', world['cx'], 2025, 100000),
            program('莆田市2025年电梯物联网补助', world['city'], 2025, 50000),
            program('涵江区2024年电梯物联网补助', world['hj'], 2024, 40000),
            ])

    def application(program, state, amount, paid_date=None):
        return {
            'program': program.id, 'applicant': world['owner'].id,
            'state': state, 'approved_amount': Decimal(amount),
            'paid_amount': Decimal(amount) if state == 'paid' else None,
            'paid_date': paid_date,
            'payment_reference': 'PAY-%s' % paid_date if paid_date
            else None,
            }
    Application.create([
            application(cx, 'paid', 30000, dt.date(2025, 3, 1)),
            application(cx, 'paid', 20000, dt.date(2025, 4, 15)),
            application(cx, 'approved', 10000),
            application(city, 'paid', 25000, dt.date(2025, 2, 1)),
            application(old, 'paid', 40000, dt.date(2024, 6, 1)),
            ])
