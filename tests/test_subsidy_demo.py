"""The subsidy demo (src/elevator_platform/demo_elevator_subsidy.py) on a
real PostgreSQL database: run by `elevator demo-data` it must give
consistent programmes, applications, decisions, installations and coverage
that the real workflow and record rules accept.

The database gets elevator_subsidy the way the demo does (trytond-admin in a
subprocess) and is dropped at the end; the registry is small (300
elevators).
"""
import os
import random
import re
import uuid
from decimal import Decimal

import pytest

from elevator_platform import cli, scratch_db, tryton_env
from elevator_platform.demo_elevator_subsidy import (
    PROGRAM_CURRENT,
    PROGRAM_PAST,
    generate,
)

ELEVATORS = 300
SEED = 3


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_subsidy_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name, modules=('elevator_subsidy',))
    try:
        # demo-data runs the generator of every activated module.
        code = cli.main(['demo-data', '-d', name,
                '--elevators', str(ELEVATORS), '--seed', str(SEED),
                '--quiet'])
        assert code == 0
        yield name
    finally:
        scratch_db.drop_database(name)


def _as(login):
    "Context manager: act as the demo user `login`, with access checks."
    from contextlib import contextmanager

    from trytond.pool import Pool
    from trytond.transaction import Transaction

    @contextmanager
    def manager():
        User = Pool().get('res.user')
        user, = User.search([('login', '=', login)])
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            yield user
    return manager()


def test_programmes_and_budgets(database):
    with tryton_env.transaction(database, readonly=True) as pool:
        Program = pool.get('elevator.subsidy.program')
        past, = Program.search([('name', '=', PROGRAM_PAST)])
        current, = Program.search([('name', '=', PROGRAM_CURRENT)])
        assert (past.state, current.state) == ('closed', 'open')
        for program in [past, current]:
            assert [s.number_user for s in program.steps] == [1, 2, 1]
            assert program.steps[1].button_rule.number_user == 2
            assert 0 < program.committed_amount <= program.budget
            assert program.paid_amount <= program.committed_amount
        assert past.paid_amount > 0


def test_applications_follow_the_workflow(database):
    with tryton_env.transaction(database, readonly=True) as pool:
        Application = pool.get('elevator.subsidy.application')
        applications = Application.search([])
        states = {a.state for a in applications}
        assert {'draft', 'submitted', 'under_review', 'returned',
            'approved', 'paid', 'rejected'} <= states
        for application in applications:
            actions = [d.action for d in application.decisions]
            dates = [d.date for d in application.decisions]
            assert dates == sorted(dates)
            if application.state == 'draft':
                assert not actions
                continue
            assert actions[0] == 'submit'
            if application.state in {'approved', 'paid'}:
                assert application.approved_amount == application.amount
                approvals = [d for d in application.decisions
                    if d.action == 'approve']
                assert len(approvals) == len(application.route) + 1
                assert len({d.user for d in approvals
                            if d.step == application.route[1]}) == 2
            if application.state == 'paid':
                assert actions[-1] == 'pay'
                assert application.paid_amount == application.approved_amount
                assert application.installations_accepted
                documents = {a.subsidy_document
                    for a in application.attachments}
                assert {'invoice', 'acceptance_report'} <= documents
            if application.state in {'returned', 'rejected'}:
                assert application.decisions[-1].comment
            for line in application.lines:
                assert line.amount == application.program.line_amount(
                    line.device_types)
                assert line.amount > Decimal(0)


def _retrying(database, func):
    """Run func(pool) in a transaction that is rolled back, restarting it
    with the locks Tryton asks for (as its RPC dispatcher does)."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    with tryton_env.transaction(database, readonly=True):
        pass
    pool = Pool(database)
    extras = {}
    while True:
        with Transaction().start(database, 0, **extras) as transaction:
            try:
                return func(pool)
            except TransactionError as exception:
                exception.fix(extras)
            finally:
                transaction.rollback()


def test_half_approved_step_needs_another_clerk(database):
    "The demo's clicks are the button rule's: finance2 completes the step."
    def approve(pool):
        Application = pool.get('elevator.subsidy.application')
        waiting = [a for a in Application.search([
                    ('state', '=', 'under_review')])
            if a.step_approvals and a.step_approvals.startswith('1 / 2')]
        assert waiting
        application = waiting[0]
        with _as('finance'):
            assert not Application(application.id).can_decide
        with _as('finance2'):
            assert Application(application.id).can_decide
            Application.approve([Application(application.id)])
        application = Application(application.id)
        return application.state, application.step, application.route
    state, step, route = _retrying(database, approve)
    assert state == 'approved' or (state, step) == ('under_review', route[2])


def test_scopes(database):
    with tryton_env.transaction(database, readonly=True) as pool:
        Application = pool.get('elevator.subsidy.application')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        everything = Application.search([])
        property1, = User.search([('login', '=', 'property1')])
        chengxiang, = User.search([('login', '=', 'chengxiang')])
        with _as('property1'):
            own = Application.search([])
            assert own
            assert {a.applicant for a in own} <= set(property1.elevator_units)
        with _as('chengxiang'):
            district = Application.search([])
            assert {a.district for a in district} <= set(
                chengxiang.elevator_regions)
        finance = ModelData.get_id('elevator', 'group_finance')
        with _as('finance'):
            seen = {a.id for a in Application.search([])}
        assert seen == {a.id for a in everything
            if a.state in {'approved', 'paid'}
            or finance in [g.id for g in a.reached_groups]}
        assert seen != {a.id for a in everything}
        with _as('auditor'):
            assert len(Application.search([])) == len(everything)


def test_installations_and_coverage(database):
    with tryton_env.transaction(database, readonly=True) as pool:
        Project = pool.get('elevator.installation.project')
        Coverage = pool.get('elevator.subsidy.coverage')
        Elevator = pool.get('elevator.elevator')
        Region = pool.get('elevator.region')
        projects = Project.search([])
        assert projects
        assert {p.state for p in projects} >= {'done'}
        city, = Region.search([('level', '=', 'city')])
        latest = Coverage.search([('latest', '=', True),
                ('region', '=', city.id)])
        assert len(latest) == 1
        assert latest[0].in_use == Elevator.search(
            [('state', '=', 'in_use')], count=True)
        history = Coverage.search([('region', '=', city.id)])
        assert len(history) > 12
        history.sort(key=lambda c: c.date)
        assert history[-1] == latest[0]
        assert history[0].monitored_share < history[-1].monitored_share


def test_second_run_changes_nothing(database):
    models = ['elevator.subsidy.program', 'elevator.subsidy.application',
        'elevator.subsidy.decision', 'elevator.installation.project',
        'elevator.subsidy.coverage', 'res.user', 'ir.attachment']
    with tryton_env.transaction(database) as pool:
        before = {m: pool.get(m).search_count([]) for m in models}
        Elevator = pool.get('elevator.elevator')
        assert generate(pool, random.Random(SEED),
            Elevator.search([])) == {}
        assert {m: pool.get(m).search_count([]) for m in models} == before
