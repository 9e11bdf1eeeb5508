"""The enforcement demo (src/elevator_platform/demo_elevator_enforcement.py)
on a real PostgreSQL database: run by `elevator demo-data`, it must give
cases in every state of the workflow, opened from the lists, that the demo
users see through the real record rules.

The database gets elevator_enforcement the way the demo does
(trytond-admin in a subprocess) and is dropped at the end; the registry is
small (300 elevators).
"""
import os
import random
import re
import uuid
from contextlib import contextmanager

import pytest

from elevator_platform import cli, scratch_db, tryton_env
from elevator_platform.demo_elevator_enforcement import generate

ELEVATORS = 300
SEED = 3


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_enforce_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name, modules=('elevator_enforcement',))
    try:
        code = cli.main(['demo-data', '-d', name,
                '--elevators', str(ELEVATORS), '--seed', str(SEED),
                '--quiet'])
        assert code == 0
        yield name
    finally:
        scratch_db.drop_database(name)


@contextmanager
def _as(login):
    "Act as the demo user `login`, with access checks."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    User = Pool().get('res.user')
    user, = User.search([('login', '=', login)])
    with Transaction().set_user(user.id), \
            Transaction().set_context(_check_access=True):
        yield user


def test_cases_in_every_state(database):
    with tryton_env.transaction(database, readonly=True) as pool:
        Case = pool.get('elevator.enforcement.case')
        cases = Case.search([])
        assert {c.state for c in cases} == {
            'draft', 'ordered', 'rectifying', 'review', 'closed'}
        assert {c.outcome for c in cases if c.state == 'closed'} >= {
            'rectified', 'penalty', 'transferred'}
        assert any(c.overdue for c in cases)
        assert len({c.source for c in cases}) >= 2
        for case in cases:
            assert case.steps[0].action == 'file'
            if case.state != 'draft':
                assert case.ordered_by and case.ordered_at
            if case.state == 'closed':
                assert case.closed_by and case.steps[-1].action == 'close'


def test_lists_and_cases_scoped(database):
    with tryton_env.transaction(database, readonly=True) as pool:
        Case = pool.get('elevator.enforcement.case')
        Uncontracted = pool.get('elevator.enforcement.list.uncontracted')
        everything = Case.search([])
        rows = Uncontracted.search([])
        with _as('chengxiang') as user:
            regions = set(user.elevator_regions)
            mine = Case.search([])
            assert {c.district for c in mine} <= regions
            assert {r.district for r in Uncontracted.search([])} <= regions
        with _as('auditor'):
            assert len(Case.search([])) == len(everything)
            assert len(Uncontracted.search([])) == len(rows)
        for login in ['firm1', 'property1']:
            with _as(login) as user:
                units = set(user.elevator_units)
                seen = Case.search([])
                assert {c.party for c in seen} <= units
                assert 'draft' not in {c.state for c in seen}


def test_second_run_changes_nothing(database):
    with tryton_env.transaction(database) as pool:
        Case = pool.get('elevator.enforcement.case')
        before = Case.search_count([])
        Elevator = pool.get('elevator.elevator')
        assert generate(pool, random.Random(SEED),
            Elevator.search([])) == {}
        assert Case.search_count([]) == before
