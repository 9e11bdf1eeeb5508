"""Demo data of the 96196 rescue dispatch (module elevator_rescue).

`generate(pool, rng, elevators)` adds, in batched calls:
- a rescue grid per district or management zone with its fire station and
  a duty roster of the maintenance firms working there (day and night
  shifts, standby points near the elevators they serve);
- a year of past tickets (about one per 20 elevators, at most 1,500),
  closed or cancelled, some escalated to level 2 or 3, with their
  dispatches, alarms and escalations, for the analysis views;
- a few tickets open now on the dispatch board, at each step, some on the
  elevators of the demo firm `firm1`, one at level 3 for `fire`.

`history(...)` is also used by bench/bench_rescue.py for its 10,000
tickets.
"""
import datetime as dt
import random
from collections import defaultdict

from .data_sharing import approved_sharing

BATCH = 1000
SOURCES = [('phone', 55), ('iot', 30), ('public_app', 8), ('video_ai', 5),
    ('other', 2)]
CAUSES = [('door', 35), ('human', 20), ('power', 15), ('control', 10),
    ('maintenance', 8), ('external', 5), ('safety_device', 3),
    ('traction', 2), ('other', 2)]
CANCEL_REASONS = [('false_alarm', 60), ('self_released', 30), ('test', 5),
    ('duplicate', 5)]
CALLERS = '张王李陈林黄吴郑刘蔡'
GIVEN = ['先生', '女士', '阿姨', '师傅', '同学']


def _pick(rng, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def _utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None,
        microsecond=0)


def generate(pool, rng, elevators):
    "The rescue demo of the elevators (see the module docstring)."
    if not elevators:
        return
    grids = ensure_grids(pool, rng, elevators)
    count = min(1500, max(30, len(elevators) // 20))
    history(pool, rng, elevators, count, _utcnow(), grids)
    open_tickets(pool, rng, elevators)
    call_centre(pool)


# The demo's call centre (`elevator simulate-calls` plays it) and the
# extension the demo dispatcher answers on.
CTI_CLIENT_ID, CTI_SECRET, CTI_EXTENSION = (
    'demo-call-centre', 'elevator-demo-cti', '8001')


def call_centre(pool):
    Client = pool.get('elevator.rescue.cti.client')
    User = pool.get('res.user')
    if not Client.search([('client_id', '=', CTI_CLIENT_ID)]):
        # It posts events only under an approved record of the
        # data-sharing register (callers' numbers are personal data).
        Party = pool.get('party.party')
        centre, = Party.create([{'name': '莆田 96196 呼叫中心运营单位（演示）'}])
        sharing = approved_sharing(pool, '96196 呼叫中心来电数据对接',
            centre, centre, ['rescue', 'personal'],
            '96196 来电事件（主叫号码、按键的救援识别码）推送至救援处置系统。')
        Client.create([{'name': '莆田 96196 呼叫中心（演示）',
                    'client_id': CTI_CLIENT_ID, 'secret': CTI_SECRET,
                    'sharing': sharing.id}])
    dispatchers = User.search([('login', '=', 'dispatcher')])
    if dispatchers and not dispatchers[0].cti_extension:
        User.write(dispatchers, {'cti_extension': CTI_EXTENSION})
    calls_of_phone_tickets(pool, dispatchers[0] if dispatchers else None)


def calls_of_phone_tickets(pool, dispatcher, count=5):
    """The 96196 calls behind the latest phone tickets, as the call centre
    would have posted them: rung, answered on the dispatcher's extension,
    ended, the ticket opened from the call."""
    Client = pool.get('elevator.rescue.cti.client')
    Call = pool.get('elevator.rescue.call')
    Ticket = pool.get('elevator.rescue.ticket')
    client, = Client.search([('client_id', '=', CTI_CLIENT_ID)])
    tickets = Ticket.search([
            ('source', '=', 'phone'), ('caller_phone', '!=', None),
            ], order=[('reported_at', 'DESC'), ('id', 'DESC')], limit=count)
    done = {c.call_id for c in Call.search([
                ('call_id', 'in', [f'DEMO-{t.number}' for t in tickets])])}
    vlist = []
    for ticket in tickets:
        if f'DEMO-{ticket.number}' in done:
            continue
        rung = ticket.reported_at - dt.timedelta(seconds=40)
        vlist.append({
                'client': client.id, 'call_id': f'DEMO-{ticket.number}',
                'state': 'ended', 'caller_number': ticket.caller_phone,
                'called_number': '96196',
                'ivr_digits': ticket.elevator.rescue_code,
                'elevator': ticket.elevator.id,
                'agent_extension': CTI_EXTENSION,
                'agent': dispatcher.id if dispatcher else None,
                'ringing_at': rung,
                'answered_at': rung + dt.timedelta(seconds=6),
                'ended_at': rung + dt.timedelta(seconds=101),
                'duration': 95, 'ticket': ticket.id,
                })
    if vlist:
        Call.create(vlist)


def _elevator_rows(pool, elevators):
    """{id: dict} of the elevators' fields the demo needs, read in batches
    (plain values: attribute access on tens of thousands of records is
    slow)."""
    Elevator = pool.get('elevator.elevator')
    ids = [int(e) for e in elevators]
    rows = {}
    for i in range(0, len(ids), BATCH):
        for row in Elevator.read(ids[i:i + BATCH], ['place', 'region',
                    'district', 'user_unit', 'maintenance_unit', 'state',
                    'latitude', 'longitude', 'place.name']):
            rows[row['id']] = row
    return rows


def ensure_grids(pool, rng, elevators):
    """One grid per district / zone: its fire station and the firms
    maintaining its elevators on duty. Returns {district id: (fire
    station id, [firm ids])}."""
    Party = pool.get('party.party')
    Grid = pool.get('elevator.rescue.grid')
    Region = pool.get('elevator.region')
    rows = _elevator_rows(pool, elevators)
    by_district = defaultdict(list)
    for row in rows.values():
        if row['district']:
            by_district[row['district']].append(row)
    existing = {r.id for g in Grid.search([]) for r in g.regions}
    districts = sorted((d for d in Region.browse(list(by_district))
            if d.id not in existing), key=lambda d: d.code)
    stations = Party.create([{
                'name': f'{d.name}消防救援大队',
                'is_fire_rescue': True,
                'public_phone': '119',
                } for d in districts])
    vlist, result = [], {}
    for district, station in zip(districts, stations):
        firms = defaultdict(list)
        for row in by_district[district.id]:
            if row['maintenance_unit']:
                firms[row['maintenance_unit']].append(row)
        ranked = sorted(firms, key=lambda f: (-len(firms[f]), f))[:6]
        duties = []
        for i, firm in enumerate(ranked):
            served = [r for r in firms[firm] if r['latitude'] is not None]
            base = rng.choice(served) if served else None
            point = {
                'latitude': (round(base['latitude']
                        + rng.uniform(-0.01, 0.01), 6) if base else None),
                'longitude': (round(base['longitude']
                        + rng.uniform(-0.01, 0.01), 6) if base else None),
                'base': (f"{base['place.']['name']}维保站"
                    if base and base.get('place.') else None),
                'phone': f'0594-{rng.randint(2000000, 7999999)}',
                }
            if i % 3 == 2:
                # Night and weekend cover of a smaller firm.
                duties.append({'unit': firm, 'hour_from': 20,
                        'hour_to': 8, **point})
                for weekday in ['5', '6']:
                    duties.append({'unit': firm, 'weekday': weekday,
                            'hour_from': 8, 'hour_to': 20, **point})
            else:
                duties.append({'unit': firm, 'hour_from': 0,
                        'hour_to': 24, **point})
        vlist.append({
                'name': f'{district.name}救援网格',
                'code': district.code,
                'fire_station': station.id,
                'regions': [('add', [district.id])],
                'duties': [('create', duties)],
                })
        result[district.id] = (station.id, ranked)
    Grid.create(vlist)
    for grid in Grid.search([]):
        for region in grid.regions:
            result.setdefault(region.id, (
                    grid.fire_station.id if grid.fire_station else None,
                    sorted({d.unit.id for d in grid.duties})))
    return result


def _caller(rng):
    return (rng.choice(CALLERS) + rng.choice(GIVEN),
        f'1{rng.choice("3578")}{rng.randint(0, 999999999):09d}')


def history(pool, rng, elevators, count, now, grids, days=365,
        progress=None):
    """Create `count` past tickets of the elevators reported within `days`
    before now, as they ended: closed (most), cancelled, some escalated.
    grids: {district id: (fire station id, [grid firm ids])}. Batched
    ORM creates of the tickets, then of their dispatches, alarms and
    escalations. Returns the number of tickets created."""
    from trytond.transaction import Transaction
    Ticket = pool.get('elevator.rescue.ticket')
    Dispatch = pool.get('elevator.rescue.dispatch')
    Alarm = pool.get('elevator.rescue.alarm')
    Escalation = pool.get('elevator.rescue.escalation')
    SLA = pool.get('elevator.rescue.sla')
    Configuration = pool.get('elevator.rescue.configuration')
    ModelData = pool.get('ir.model.data')
    default_fire = Configuration(1).fire_station
    default_fire = default_fire.id if default_fire else ModelData.get_id(
        'elevator_rescue', 'party_fire_119')
    Region = pool.get('elevator.region')
    rows = _elevator_rows(pool, elevators)
    ids = sorted(rows)
    # Some elevators trap people again and again.
    weights = [rng.choice([1, 1, 1, 1, 2, 3, 8]) for _ in ids]
    chosen = [rows[i] for i in rng.choices(ids, weights, k=count)]
    sla = SLA.minutes(Region.browse(sorted({r['region'] for r in chosen})))
    created = 0
    # Numbers LS<date><serial> continue after the history already there.
    offset = Ticket.search([('number', 'like', 'LS%')], count=True)
    with Transaction().set_context(_rescue_history=True):
        for start in range(0, count, BATCH):
            batch = chosen[start:start + BATCH]
            plans = [_plan(rng, r, now, days, sla[r['region']], grids,
                    default_fire, offset + start + n)
                for n, r in enumerate(batch)]
            tickets = Ticket.create([p['ticket'] for p in plans])
            dispatches, alarms, escalations = [], [], []
            for ticket, plan in zip(tickets, plans):
                for values in plan['dispatches']:
                    dispatches.append({'ticket': ticket.id, **values})
                for values in plan['alarms']:
                    alarms.append({'ticket': ticket.id, **values})
                for values in plan['escalations']:
                    escalations.append({'ticket': ticket.id, **values})
            Dispatch.create(dispatches)
            Alarm.create(alarms)
            Escalation.create(escalations)
            created += len(tickets)
            if progress:
                progress(created)
    return created


def _plan(rng, elevator, now, days, sla, grids, default_fire, index):
    """The values of one past ticket (elevator: a row of _elevator_rows)
    and of its dispatches, alarms, ..."""
    accept_min, arrive_min = sla
    reported = now - dt.timedelta(days=rng.uniform(2, days))
    # Entrapments cluster in the day: 07:00 to 22:00 local (UTC+8).
    hour = int(rng.triangular(-1, 14, 5))
    reported = reported.replace(hour=hour % 24, microsecond=0)
    source = _pick(rng, SOURCES)
    name, phone = _caller(rng) if source in {'phone', 'public_app'} else (
        None, None)
    trapped = _pick(rng, [(1, 60), (2, 25), (3, 10), (4, 4), (6, 1)])
    station, grid_firms = grids.get(elevator['district'], (None, []))
    fire = station or default_fire
    firm = elevator['maintenance_unit']
    second = [f for f in grid_firms if f != firm] or grid_firms
    t = reported + dt.timedelta(seconds=rng.randint(20, 120))
    ticket = {
        # Numbers of the dispatch system the history comes from.
        'number': f'LS{reported:%Y%m%d}{index:06d}',
        'elevator': elevator['id'],
        'source': source,
        'reported_at': reported,
        'caller_name': name,
        'caller_phone': phone,
        'trapped_persons': trapped,
        'level': 1,
        'sla_accept_minutes': accept_min,
        'sla_arrive_minutes': arrive_min,
        'dispatched_at': t,
        'place': elevator['place'],
        'region': elevator['region'],
        'district': elevator['district'],
        'user_unit': elevator['user_unit'],
        'maintenance_unit': firm,
        }
    plan = {'ticket': ticket, 'dispatches': [], 'alarms': [{
                'source': source, 'received_at': reported,
                'caller_name': name, 'caller_phone': phone,
                'trapped_persons': trapped, 'attached': False,
                }], 'escalations': []}
    if source == 'iot' and rng.random() < 0.3:
        plan['alarms'].append({'source': 'video_ai',
                'received_at': reported + dt.timedelta(seconds=40),
                'attached': True})
    accept = dt.timedelta(minutes=accept_min)
    arrive = dt.timedelta(minutes=arrive_min)

    def dispatch(level, kind, unit, at, rank=1, **values):
        plan['dispatches'].append({
                'level': level, 'kind': kind, 'rank': rank, 'unit': unit,
                'dispatched_at': at, 'accept_deadline': at + accept,
                'arrive_deadline': at + arrive, **values})

    if rng.random() < 0.08:
        # Cancelled: a false alarm or out before anyone came.
        cancelled = t + dt.timedelta(minutes=rng.uniform(1, 12))
        if firm:
            dispatch(1, 'maintenance', firm, t, outcome='cancelled',
                outcome_at=cancelled)
        ticket.update({'state': 'cancelled', 'cancelled_at': cancelled,
                'cancel_reason': _pick(rng, CANCEL_REASONS)})
        return plan
    roll = rng.random()
    level = 1 if firm and roll < 0.86 else 2 if roll < 0.97 and second \
        else 3
    if not firm and level == 1:
        level = 2 if second else 3
    # Late on site: at level 1 the ticket escalated meanwhile (the firm
    # still arrived first); fire rescue is the last level.
    late_arrival = level in {1, 3} and rng.random() < 0.07
    start = t
    if level >= 2:
        # Level 1 did not accept in time (or there was no firm).
        if firm:
            dispatch(1, 'maintenance', firm, t, outcome='timed_out',
                missed='accept', outcome_at=t + accept)
        start = t + accept + dt.timedelta(seconds=rng.randint(5, 55))
        plan['escalations'].append({'from_level': 1, 'to_level': 2,
                'reason': 'accept_timeout' if firm else 'no_unit',
                'deadline': t + accept if firm else None,
                'escalated_at': start})
    if level == 3:
        units = rng.sample(second, min(2, len(second)))
        for rank, unit in enumerate(units, 1):
            dispatch(2, 'grid', unit, start, rank=rank,
                outcome='timed_out', missed='accept',
                outcome_at=start + accept)
        fire_at = start + accept + dt.timedelta(seconds=rng.randint(5, 55))
        if units:
            plan['escalations'].append({'from_level': 2, 'to_level': 3,
                    'reason': 'accept_timeout', 'deadline': start + accept,
                    'escalated_at': fire_at})
        start = fire_at
    response = dt.timedelta(seconds=rng.randint(20, 200))
    accepted = start + response
    travel = dt.timedelta(minutes=rng.uniform(6, arrive_min * 0.9))
    if late_arrival:
        travel = arrive + dt.timedelta(minutes=rng.uniform(1, 20))
    arrived = accepted + travel
    released = arrived + dt.timedelta(minutes=rng.uniform(1.5, 15))
    closed = released + dt.timedelta(minutes=rng.uniform(5, 120))
    if level == 1:
        unit, kind = firm, 'maintenance'
    elif level == 2:
        unit, kind = rng.choice(second), 'grid'
        others = [f for f in second if f != unit][:1]
        for other in others:
            dispatch(2, 'grid', other, start, rank=2, outcome='superseded',
                outcome_at=accepted)
    else:
        unit, kind = fire, 'fire'
    if late_arrival and level == 1:
        dispatch(1, kind, unit, start, outcome='timed_out', missed='arrive',
            outcome_at=start + arrive, accepted_at=accepted,
            arrived_at=arrived)
        escalated = start + arrive + dt.timedelta(seconds=30)
        plan['escalations'].append({'from_level': 1, 'to_level': 2,
                'reason': 'arrive_timeout', 'deadline': start + arrive,
                'escalated_at': escalated})
        for rank, other in enumerate(second[:2], 1):
            dispatch(2, 'grid', other, escalated, rank=rank,
                outcome='superseded', outcome_at=arrived)
        level = 2 if second else 1
    else:
        dispatch(level, kind, unit, start, outcome='accepted',
            accepted_at=accepted, arrived_at=arrived,
            missed='arrive' if travel > arrive else None)
    first = ticket['dispatched_at']
    ticket.update({
            'state': 'closed',
            'level': level,
            'accepted_at': accepted,
            'accepted_unit': unit,
            'arrived_at': arrived,
            'arrived_unit': unit,
            'released_at': released,
            'closed_at': closed,
            'response_time': accepted - first,
            'arrival_time': arrived - reported,
            'release_time': released - arrived,
            'accept_in_time': accepted - first <= accept,
            'arrive_in_time': arrived - first <= arrive,
            'cause': _pick(rng, CAUSES),
            'released_persons': trapped,
            'injuries': 1 if rng.random() < 0.01 else 0,
            'repair_follows': rng.random() < 0.3,
            })
    # The call back to the passenger (回访): most are done. A generator of
    # its own, so that the rest of the demo stays as the seed made it.
    callback = random.Random(f'{ticket["number"]}-callback')
    if callback.random() < 0.85:
        ticket.update({
                'callback_at': released + dt.timedelta(
                    minutes=callback.randint(10, 180)),
                'callback_result': _pick(callback, [('fine', 85),
                        ('complaint', 5), ('not_reached', 10)]),
                })
    return plan


def open_tickets(pool, rng, elevators):
    """Tickets on the dispatch board now, through the real workflow: new
    (an IoT alarm), dispatched to the demo firm, accepted, on site, and
    one escalated to fire rescue."""
    from trytond.transaction import Transaction
    Ticket = pool.get('elevator.rescue.ticket')
    Dispatch = pool.get('elevator.rescue.dispatch')
    Elevator = pool.get('elevator.elevator')
    User = pool.get('res.user')
    firm_users = User.search([('login', '=', 'firm1')])
    firm = (firm_users[0].elevator_units[0].id
        if firm_users and firm_users[0].elevator_units else None)
    domain = [
        ('id', 'in', [int(e) for e in elevators]),
        ('state', '=', 'in_use'),
        ('maintenance_unit', '!=', None),
        ]
    own = Elevator.search(domain + [('maintenance_unit', '=', firm)],
        order=[('id', 'ASC')], limit=100)
    others = Elevator.search(domain + [('maintenance_unit', '!=', firm)],
        order=[('id', 'ASC')], limit=300)
    if len(own) + len(others) < 6:
        return
    mine = min(3, len(own))
    picks = rng.sample(own, mine) + rng.sample(others,
        min(6 - mine, len(others)))
    busy = {t.elevator.id for t in Ticket.search([
                ('elevator', 'in', [e.id for e in picks]),
                ('state', 'in', ['new', 'dispatched', 'accepted',
                        'arrived']),
                ])}
    picks = [e for e in picks if e.id not in busy]
    reports = []
    for i, elevator in enumerate(picks):
        name, phone = _caller(rng)
        source = 'iot' if i == 0 else 'phone'
        values = {'trapped_persons': rng.randint(1, 3),
            'description': '轿厢停在两层之间，报警人情绪稳定'}
        if source == 'phone':
            values.update({'caller_name': name, 'caller_phone': phone})
        reports.append((elevator, source, values))
    tickets = Ticket.report_many(reports)
    with Transaction().set_context(_check_access=False):
        # One stays new (the IoT alarm), the others are dispatched.
        Ticket.dispatch(tickets[1:])
        tickets = Ticket.browse([t.id for t in tickets])
        if len(tickets) > 3:
            waiting = [d for d in tickets[3].dispatches if not d.outcome]
            Dispatch.accept(waiting[:1])
        if len(tickets) > 4:
            waiting = [d for d in tickets[4].dispatches if not d.outcome]
            Dispatch.accept(waiting[:1])
            Dispatch.arrive(Dispatch.browse([d.id for d in waiting[:1]]))
        if len(tickets) > 5:
            Ticket._escalate([Ticket(tickets[5].id)], 'manual')
            Ticket._escalate([Ticket(tickets[5].id)], 'manual')
