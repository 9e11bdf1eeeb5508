"""The maintenance demo (src/elevator_platform/demo_elevator_maintenance.py)
on a real PostgreSQL database with `elevator_maintenance`, after the
registry demo of `elevator demo-data` (200 elevators): contracts, history,
plan, warnings and repairs are there, the demo technicians can work on
their phones, and a second run adds nothing.
"""
import datetime as dt
import os
import random
import re
import uuid
from collections import Counter

import pytest

from elevator_platform import scratch_db, tryton_env

ELEVATORS = 200
SEED = 3


def create_database(name):
    scratch_db.create_database(name, modules=('elevator_maintenance',))


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_mdemo_{uuid.uuid4().hex[:8]}'
    create_database(name)
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


@pytest.fixture(scope='module')
def demo(database):
    "The demo as `elevator demo-data` loads it (it runs our generator)."
    from elevator_platform.demo_data import load_demo
    with tryton_env.transaction(database) as pool:
        load_demo(pool, ELEVATORS, SEED)


def test_demo_contracts_and_history(database, demo):
    with tryton_env.transaction(database, readonly=True) as pool:
        Repair = pool.get('elevator.repair.order')
        assert Repair.search_count([]) > 0
        Date = pool.get('ir.date')
        Elevator = pool.get('elevator.elevator')
        Relation = pool.get(
            'elevator.maintenance.contract-elevator.elevator')
        Order = pool.get('elevator.maintenance.order')
        Line = pool.get('elevator.maintenance.order.line')
        Warning_ = pool.get('elevator.maintenance.warning')
        today = Date.today()
        in_use = Elevator.search([('state', '=', 'in_use'),
                ('maintenance_unit', '!=', None),
                ['OR', ('user_unit', '!=', None),
                    ('property_company', '!=', None)]])
        contracts = Counter(r.elevator.id for r in Relation.search([
                    ('contract.state', '=', 'active')]))
        # Every elevator in use with a firm and a user unit is under one
        # active contract.
        assert set(contracts) == {e.id for e in in_use}
        assert set(contracts.values()) == {1}
        states = Counter(o.state for o in Order.search([]))
        assert states['confirmed'] > states['done'] > 0
        assert states['planned'] >= len(in_use)
        assert states['disputed'] >= 0
        # Planned visits come at the latest 15 days after the last one.
        for elevator in in_use[:20]:
            orders = Order.search([('elevator', '=', elevator.id)],
                order=[('planned_date', 'ASC')])
            planned = [o for o in orders if o.state == 'planned']
            done = [o for o in orders if o.check_in]
            assert done and planned
            assert (planned[0].planned_date
                - done[-1].check_in.date()).days <= 15
            assert planned[0].planned_date >= today
        recent = Order.search([('check_in', '>=', dt.datetime.combine(
                        today - dt.timedelta(days=20), dt.time()))],
            limit=5)
        for order in recent:
            assert Line.search_count([('order', '=', order.id)]) >= 31
        types = Counter(w.type for w in Warning_.search([]))
        assert {'too_short', 'unconfirmed'} <= set(types)
        assert Counter(w.state for w in Warning_.search([]))['closed'] > 0


def test_demo_technicians_on_phones(database, demo):
    with tryton_env.transaction(database, readonly=True) as pool:
        User = pool.get('res.user')
        Technician = pool.get('elevator.maintenance.technician')
        Order = pool.get('elevator.maintenance.order')
        Date = pool.get('ir.date')
        tech1, = User.search([('login', '=', 'tech1')])
        technician, = Technician.search([('user', '=', tech1.id)])
        assert technician.certified
        assert technician.firm in tech1.elevator_units
        soon = Date.today() + dt.timedelta(days=15)
        assert Order.search_count([
                ('maintenance_unit', '=', technician.firm.id),
                ('state', '=', 'planned'),
                ('planned_date', '<=', soon)]) > 0
        for firm in {t.firm for t in Technician.search([])}:
            crew = Technician.search([('firm', '=', firm.id)])
            assert len(crew) >= 2 and any(t.certified for t in crew)


def test_demo_second_run_adds_nothing(database, demo):
    from elevator_platform.demo_elevator_maintenance import generate
    with tryton_env.transaction(database) as pool:
        Order = pool.get('elevator.maintenance.order')
        Elevator = pool.get('elevator.elevator')
        before = Order.search_count([])
        counts = generate(pool, random.Random(SEED + 1),
            Elevator.search([]))
        assert counts == {'contracts': 0}
        assert Order.search_count([]) == before
