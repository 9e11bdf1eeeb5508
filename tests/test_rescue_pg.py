"""96196 rescue on a real PostgreSQL database, with real concurrent
transactions and the real IoT ingestion.

A fresh database gets `elevator_rescue` and `elevator_iot` (trytond-admin,
as the demo does); the tests commit their data and are dropped with it.

- Race-safe acceptance: two units of a level-2 dispatch accept at the same
  time in two transactions. The ticket row lock (SELECT ... FOR UPDATE)
  makes the second wait for the first, fail with a serialization error,
  and, retried as Tryton's dispatcher retries, be told who was first.
  Exactly one acceptance is stored.
- Two alarms of the same elevator reported at once by two transactions end
  in one ticket with two alarms.
- IoT intake through the ingestion of the MQTT bridge and the HTTPS push
  API: a trapped-passenger fault opens a ticket at level 1, a duplicate
  alarm of another device joins it, a replayed message changes nothing.
"""
import datetime as dt
import json
import os
import re
import threading
import time
import uuid

import pytest

from elevator_platform import scratch_db, tryton_env
from support.access import as_rpc, user_transaction

DISTRICT = '350302'
WAIT = 60


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_rescue_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name,
        modules=('elevator_rescue', 'elevator_iot'))
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def world(database):
    "Units, users, a grid with two firms on duty and a few elevators."
    with tryton_env.transaction(database) as pool:
        ModelData = pool.get('ir.model.data')
        Region = pool.get('elevator.region')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        Grid = pool.get('elevator.rescue.grid')
        User = pool.get('res.user')
        Device = pool.get('elevator.iot.device')
        district = Region(ModelData.get_id('elevator', f'region_{DISTRICT}'))
        town, = Region.create([{'code': f'{DISTRICT}009', 'name': '测试街道',
                    'level': 'town', 'parent': district.id}])
        near, far, firm = Party.create([
                {'name': '近邻电梯', 'is_maintenance_unit': True},
                {'name': '远方电梯', 'is_maintenance_unit': True},
                {'name': '合同维保', 'is_maintenance_unit': True}])
        place, = Place.create([{'name': '并发测试小区', 'region': town.id,
                    'latitude': 25.4352, 'longitude': 119.0078}])
        # Without a maintenance unit the ticket goes to level 2 at once;
        # the last one has one for the IoT test.
        elevators = Elevator.create([{
                    'registration_code': f'3110{DISTRICT}2020{n:06d}',
                    'category': '3110', 'region': town.id,
                    'place': place.id, 'latitude': 25.4352,
                    'longitude': 119.0078,
                    'maintenance_unit': firm.id if n == 20 else None,
                    } for n in range(1, 21)])
        Grid.create([{
                    'name': '并发测试网格', 'code': 'PGTEST',
                    'regions': [('add', [town.id])],
                    'duties': [('create', [
                                {'unit': near.id, 'hour_from': 0,
                                    'hour_to': 24, 'latitude': 25.44,
                                    'longitude': 119.01},
                                {'unit': far.id, 'hour_from': 0,
                                    'hour_to': 24, 'latitude': 25.50,
                                    'longitude': 119.10}])],
                    }])
        group = ModelData.get_id('elevator', 'group_firm_manager')
        near_user, far_user = User.create([{
                    'login': f'{unit.name}-pg', 'name': unit.name,
                    'groups': [('add', [group])],
                    'elevator_units': [('add', [unit.id])],
                    } for unit in [near, far]])
        Device.create([{'serial': serial, 'type': type_,
                    'elevator': elevators[-1].id, 'state': 'online'}
                for serial, type_ in [('PG-CT-0001', 'controller_terminal'),
                    ('PG-AI-0001', 'ai_camera')]])
        return {
            'elevators': [e.id for e in elevators],
            'near': near.id, 'far': far.id,
            'near_user': near_user.id, 'far_user': far_user.id,
            }


def dispatched_ticket(database, elevator_id):
    "A ticket of the elevator dispatched to level 2: {unit: dispatch id}."
    with tryton_env.transaction(database) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        ticket, = Ticket.create([{'elevator': elevator_id,
                    'caller_phone': '13800000000'}])
        Ticket.dispatch([ticket])
        ticket = Ticket(ticket.id)
        assert ticket.level == 2, ticket.level
        return ticket.id, {d.unit.id: d.id for d in ticket.dispatches}


def accepted(database, ticket_id):
    with tryton_env.transaction(database, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        ticket = Ticket(ticket_id)
        return ticket.state, [(d.unit.id, d.outcome)
            for d in ticket.dispatches if d.outcome == 'accepted'], {
            d.unit.id: d.outcome for d in ticket.dispatches}


def lock_waiters(database):
    "Backends of the database waiting for a row lock."
    import psycopg
    with psycopg.connect(scratch_db._uri_for('postgres'),
            autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND wait_event_type = 'Lock'",
            (database,)).fetchone()[0]


def test_accept_race_interleaved(database, world):
    """The second acceptance waits on the row lock while the first is not
    committed, then is told that the other unit was first."""
    from trytond import backend
    from trytond.exceptions import UserError
    from trytond.pool import Pool
    ticket_id, dispatches = dispatched_ticket(database,
        world['elevators'][0])
    pool = Pool(database)
    first_locked = threading.Event()
    release_first = threading.Event()
    outcome = {}

    def first():
        with user_transaction(database, world['near_user']) as (_, tx):
            Dispatch = pool.get('elevator.rescue.dispatch')
            Dispatch.accept(Dispatch.browse([dispatches[world['near']]]))
            first_locked.set()
            assert release_first.wait(WAIT)
            tx.commit()

    def second():
        try:
            with user_transaction(database, world['far_user']) as (_, tx):
                Dispatch = pool.get('elevator.rescue.dispatch')
                dispatch, = Dispatch.browse([dispatches[world['far']]])
                # The snapshot of this transaction: the dispatch waits.
                assert dispatch.outcome is None
                Dispatch.accept([dispatch])
                tx.commit()
                outcome['second'] = 'accepted'
        except backend.DatabaseOperationalError as error:
            outcome['second'] = error

    a = threading.Thread(target=first)
    a.start()
    assert first_locked.wait(WAIT)
    b = threading.Thread(target=second)
    b.start()
    # The second transaction is blocked on the ticket's row lock.
    deadline = time.monotonic() + WAIT
    while lock_waiters(database) < 1:
        assert time.monotonic() < deadline, "no transaction waits on a lock"
        assert b.is_alive()
        time.sleep(0.05)
    assert b.is_alive()
    release_first.set()
    a.join(WAIT)
    b.join(WAIT)
    assert not a.is_alive() and not b.is_alive()
    # It failed when the first committed ("could not serialize access due
    # to concurrent update"): Tryton's dispatcher retries such calls.
    assert isinstance(outcome['second'], backend.DatabaseOperationalError)

    def retry(pool):
        Dispatch = pool.get('elevator.rescue.dispatch')
        Dispatch.accept(Dispatch.browse([dispatches[world['far']]]))
    with pytest.raises(UserError) as info:
        as_rpc(database, world['far_user'], retry)
    assert '近邻电梯 accepted it first' in info.value.message
    state, accepts, outcomes = accepted(database, ticket_id)
    assert state == 'accepted'
    assert accepts == [(world['near'], 'accepted')]
    assert outcomes[world['far']] == 'superseded'


@pytest.mark.parametrize('round_', range(5))
def test_accept_race_simultaneous(database, world, round_):
    """Both units click at the same instant: exactly one acceptance, the
    other unit gets a clear message naming the first."""
    from trytond.exceptions import UserError
    ticket_id, dispatches = dispatched_ticket(database,
        world['elevators'][1 + round_])
    barrier = threading.Barrier(2)
    results = {}

    def click(unit, user):
        first = [True]

        def accept(pool):
            Dispatch = pool.get('elevator.rescue.dispatch')
            dispatch, = Dispatch.browse([dispatches[unit]])
            dispatch.outcome  # read first, as the client does
            if first[0]:
                # Both clicks start together; a retry goes at once.
                first[0] = False
                barrier.wait(WAIT)
            Dispatch.accept([dispatch])
        try:
            _, attempts = as_rpc(database, user, accept)
            results[unit] = ('accepted', attempts)
        except UserError as error:
            results[unit] = ('refused', error.message)

    threads = [threading.Thread(target=click, args=(unit, user))
        for unit, user in [(world['near'], world['near_user']),
            (world['far'], world['far_user'])]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    state, accepts, outcomes = accepted(database, ticket_id)
    assert state == 'accepted'
    assert len(accepts) == 1
    winner = accepts[0][0]
    loser = world['far'] if winner == world['near'] else world['near']
    assert results[winner][0] == 'accepted'
    assert results[loser][0] == 'refused', results
    names = {world['near']: '近邻电梯', world['far']: '远方电梯'}
    assert f'{names[winner]} accepted it first' in results[loser][1]
    assert outcomes[loser] == 'superseded'


def test_concurrent_reports_one_ticket(database, world):
    """Two intakes report the same elevator at once: one ticket, both
    alarms on it."""
    elevator = world['elevators'][10]
    barrier = threading.Barrier(2)
    tickets = []

    def report(source):
        first = [True]

        def run(pool):
            Ticket = pool.get('elevator.rescue.ticket')
            Ticket.search([], limit=1)  # take the snapshot first
            if first[0]:
                first[0] = False
                barrier.wait(WAIT)
            return Ticket.report(elevator, source).id
        ticket, _ = as_rpc(database, 0, run)
        tickets.append(ticket)

    threads = [threading.Thread(target=report, args=(s,))
        for s in ['iot', 'public_app']]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(tickets) == 2 and tickets[0] == tickets[1]
    with tryton_env.transaction(database, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        ticket, = Ticket.search([('elevator', '=', elevator)])
        assert sorted(a.source for a in ticket.alarms) == [
            'iot', 'public_app']


def fault(serial, fault_id, code, recovery=0):
    from trytond.modules.elevator_iot import ingest
    occurred = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(
        microsecond=0) - dt.timedelta(seconds=5)
    payload = json.dumps({
            'faultId': fault_id, 'faultNo': code, 'recovery': recovery,
            'occurTime': occurred.isoformat(), 'carPosition': 5,
            }).encode()
    return ingest.Message(kind='fault', payload=payload,
        device_serial=serial, topic=f'elevator/v1/{serial}/fault')


def test_iot_intake_duplicate_alarm(database, world):
    """A trapped-passenger alarm opens a level-1 ticket; the camera's alarm
    on the same car joins it; a replay changes nothing."""
    from trytond.modules.elevator_iot import ingest
    tryton_env.configure()
    ingestor = ingest.Ingestor(database)
    elevator = world['elevators'][-1]
    ingestor.ingest([fault('PG-CT-0001', 'T-1', 8)])
    ingestor.ingest([fault('PG-AI-0001', 'V-1', 7),
            fault('PG-CT-0001', 'T-2', 1)])
    ingestor.ingest([fault('PG-AI-0001', 'V-1', 7)])
    with tryton_env.transaction(database, readonly=True) as pool:
        Ticket = pool.get('elevator.rescue.ticket')
        Event = pool.get('elevator.iot.event')
        ticket, = Ticket.search([('elevator', '=', elevator)])
        assert (ticket.source, ticket.level, ticket.state) == (
            'iot', 1, 'new')
        assert [(a.source, bool(a.attached), a.reference)
            for a in ticket.alarms] == [
            ('iot', False, 'T-1'), ('video_ai', True, 'V-1')]
        events = {e.fault_id: e for e in Event.search([
                    ('elevator', '=', elevator)])}
        assert events['T-1'].rescue_ticket == ticket
        assert events['V-1'].rescue_ticket == ticket
        assert events['T-1'].follow_up == 'rescue'
        # A critical fault is no rescue.
        assert events['T-2'].rescue_ticket is None
