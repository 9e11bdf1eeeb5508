"""Tests of the assessment module on the hand-made data set of dataset.py,
with every module whose indicators it computes activated.

Every expected figure is worked out below from the records of the data
set (see the docstrings of dataset.py)."""
import datetime as dt
import json
import shutil
import subprocess
import tempfile
import unittest
from io import BytesIO
from pathlib import Path

from trytond.exceptions import UserError
from trytond.model.exceptions import (
    AccessButtonError, AccessError, ValidationError)
from trytond.modules.elevator.tests.tools import LocaleTestMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    ModuleTestCase, TestCase, activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

from ..common import (
    grade, parse_period, period_bounds, ranks, round_half_up, score, total)
from .dataset import (
    Q1_AS_OF, Q1_END, Q1_START, YEAR_AS_OF, create_dataset)

EXTRAS = ['elevator_iot', 'elevator_maintenance', 'elevator_rescue',
    'elevator_public', 'elevator_subsidy']

# Indicator settings of the tests: shares score their value (target 100,
# nothing at 0), shares where lower is better score 100 - value.
DISTRICT_SETTINGS = {
    # code: (target, zero at)
    'D01': (100, 0),  # the IoT yearly target (80) replaces 100
    'D02': (100, 50),
    'D03': (100, 0), 'D04': (100, 0), 'D05': (100, 0), 'D06': (100, 0),
    'D07': (100, 0), 'D08': (100, 0), 'D09': (100, 0), 'D10': (100, 0),
    }
UNIT_SETTINGS = {
    'U01': (100, 0), 'U02': (0, 100), 'U03': (0, 100), 'U04': (100, 0),
    'U05': (100, 0), 'U06': (0, 100), 'U07': (0, 100), 'U08': (0, 100),
    'U09': (5, 0), 'U10': (0, 2),
    }


def tool(name):
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} not installed (poppler-utils)")
    return path


def pdf_text(content):
    with tempfile.NamedTemporaryFile(suffix='.pdf') as file:
        file.write(content)
        file.flush()
        text = subprocess.run([tool('pdftotext'), '-layout', '-enc',
                'UTF-8', file.name, '-'], capture_output=True, check=True,
            timeout=60).stdout.decode()
    return text


def pdf_to_png(content, directory, dpi=50):
    "Render every page; return the PNG paths."
    directory = Path(directory)
    path = directory / 'report.pdf'
    path.write_bytes(content)
    subprocess.run([tool('pdftoppm'), '-png', '-r', str(dpi), str(path),
            str(directory / 'page')], check=True, timeout=120)
    return sorted(directory.glob('page-*.png'))


def configure_indicators(settings):
    Indicator = Pool().get('elevator.assessment.indicator')
    args = []
    for indicator in Indicator.search([('code', 'in', list(settings))]):
        target, zero_at = settings[indicator.code]
        args.extend([[indicator], {'target': target, 'zero_at': zero_at}])
    Indicator.write(*args)


def compute_q1():
    pool = Pool()
    Period = pool.get('elevator.assessment.period')
    Target = pool.get('elevator.coverage.target')
    Target.create([{'year': 2025, 'share': 80}])
    configure_indicators(DISTRICT_SETTINGS)
    period = Period.get_or_create('quarter', Q1_START, Q1_END)
    Period.compute([period], as_of=Q1_AS_OF)
    return period


def evaluate_2025():
    Evaluation = Pool().get('elevator.credit.evaluation')
    configure_indicators(UNIT_SETTINGS)
    return Evaluation.evaluate(2025, as_of=YEAR_AS_OF)


def lines_by_code(record):
    return {l.code: l for l in record.lines}


def create_user(login, group, regions=(), units=()):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login, 'name': login,
                'groups': [('add', [ModelData.get_id('elevator', group)])],
                'elevator_regions': [('add', [r.id for r in regions])],
                'elevator_units': [('add', [u.id for u in units])],
                }])
    return user


def acting(user):
    "Act as user, with access checks."
    transaction = Transaction()
    return transaction.set_user(user.id), transaction.set_context(
        _check_access=True)


class ScoringTestCase(unittest.TestCase):
    "Test the scoring, ranking and grading rules"

    def test_score_linear(self):
        "Full at the target, nothing at the zero value, linear between"
        self.assertEqual(score(95, 'higher', 95, 60), 100)
        self.assertEqual(score(99, 'higher', 95, 60), 100)
        self.assertEqual(score(60, 'higher', 95, 60), 0)
        self.assertEqual(score(10, 'higher', 95, 60), 0)
        self.assertEqual(score(77.5, 'higher', 95, 60), 50)
        self.assertEqual(score(2, 'lower', 0, 5), 60)
        self.assertEqual(score(0, 'lower', 0, 5), 100)
        self.assertEqual(score(7, 'lower', 0, 5), 0)
        self.assertIsNone(score(None, 'higher', 95, 60))

    def test_score_all_or_nothing(self):
        "Without a zero value the target is all or nothing"
        self.assertEqual(score(95, 'higher', 95, None), 100)
        self.assertEqual(score(94.9, 'higher', 95, None), 0)
        self.assertEqual(score(0, 'lower', 0, None), 100)
        self.assertEqual(score(1, 'lower', 0, None), 0)

    def test_rounding_half_up(self):
        "Scores round halves up, as spreadsheets' ROUND does"
        self.assertEqual(round_half_up(83.125), 83.13)
        self.assertEqual(round_half_up(0.125), 0.13)
        self.assertEqual(score(83.125, 'higher', 100, 0), 83.13)

    def test_total_leaves_out_missing(self):
        "The total is the weighted average of the scores present"
        self.assertEqual(total([(80, 60), (50, 40)]), 68)
        self.assertEqual(total([(80, 60), (None, 40)]), 80)
        self.assertEqual(total([(100, 1), (0, 2)]), 33.33)
        self.assertIsNone(total([(None, 10)]))

    def test_ranks(self):
        "Equal totals share a rank; the next rank skips"
        self.assertEqual(ranks({'a': 80, 'b': 90, 'c': 80, 'd': 70,
                    'e': None}),
            {'a': 2, 'b': 1, 'c': 2, 'd': 4, 'e': None})

    def test_grade_thresholds(self):
        "A grade starts at its threshold"
        thresholds = (90, 75, 60)
        self.assertEqual(grade(90, thresholds), 'A')
        self.assertEqual(grade(89.99, thresholds), 'B')
        self.assertEqual(grade(75, thresholds), 'B')
        self.assertEqual(grade(74.99, thresholds), 'C')
        self.assertEqual(grade(60, thresholds), 'C')
        self.assertEqual(grade(59.99, thresholds), 'D')
        self.assertIsNone(grade(None, thresholds))

    def test_values(self):
        "How numerators and denominators make values"
        from ..engine import factor, value
        self.assertEqual(value('share', 3, 4), 75)
        self.assertIsNone(value('share', 0, 0))
        self.assertIsNone(value('share', None, None))
        self.assertEqual(value('per100', 2, 400), 0.5)
        self.assertEqual(value('average', 9, 2), 4.5)
        self.assertEqual(value('per_elevator', 3, 2), 1.5)
        self.assertEqual(value('count', 3, None), 3)
        self.assertEqual(value('count', None, None), 0)
        self.assertEqual([factor(k) for k in ['share', 'per100', 'average',
                    'per_elevator', 'count']], [100, 100, 1, 1, 1])

    def test_periods(self):
        "Periods by name and kind"
        self.assertEqual(parse_period('2025Q1'),
            ('quarter', dt.date(2025, 1, 1), dt.date(2025, 3, 31)))
        self.assertEqual(parse_period('2024q4'),
            ('quarter', dt.date(2024, 10, 1), dt.date(2024, 12, 31)))
        self.assertEqual(parse_period('2024-02'),
            ('month', dt.date(2024, 2, 1), dt.date(2024, 2, 29)))
        self.assertEqual(parse_period('2025H2'),
            ('half_year', dt.date(2025, 7, 1), dt.date(2025, 12, 31)))
        self.assertEqual(parse_period('2025'),
            ('year', dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
        self.assertEqual(parse_period('2025-01-15:2025-02-14'),
            ('custom', dt.date(2025, 1, 15), dt.date(2025, 2, 14)))
        for wrong in ['2025Q5', '25Q1', 'Q1', '2025-02-01:2025-01-01']:
            with self.assertRaises(ValueError):
                parse_period(wrong)
        self.assertEqual(period_bounds('quarter', dt.date(2025, 8, 17)),
            (dt.date(2025, 7, 1), dt.date(2025, 9, 30)))


class AssessmentTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Assessment module"
    module = 'elevator_assessment'
    extras = EXTRAS

    @with_transaction()
    def test_district_table(self):
        "Each indicator of the district table, worked out by hand"
        pool = Pool()
        District = pool.get('elevator.assessment.district')
        world = create_dataset()
        period = compute_q1()

        rows = {r.district: r for r in District.search([
                    ('period', '=', period.id)])}
        # The other districts have no elevator and no activity.
        self.assertEqual(set(rows), {world['cx'], world['hj']})
        cx, hj = rows[world['cx']], rows[world['hj']]
        self.assertEqual((cx.elevator_count, hj.elevator_count), (4, 2))
        c, h = lines_by_code(cx), lines_by_code(hj)

        def check(line, numerator, denominator, value, score_):
            self.assertEqual((line.numerator, line.denominator),
                (numerator, denominator), line.code)
            if value is None:
                self.assertIsNone(line.value, line.code)
            else:
                self.assertAlmostEqual(line.value, value, 4, line.code)
            self.assertEqual(line.score, score_, line.code)

        # D01 monitoring: 城厢 e1 (installed 02-01) of e1-e4; e2's device
        # came after the quarter. 涵江: e5's device retired, e6's
        # registered after the quarter. Target: the IoT target of 2025.
        self.assertEqual(c['D01'].target, 80)
        check(c['D01'], 1, 4, 25.0, 25 / 80 * 100)  # 31.25
        check(h['D01'], 0, 2, 0.0, 0)
        # D02 video in public gathering and residential places: 城厢 e1,
        # e4 of e1, e2, e4 (e3 is an office); 涵江 e5 of e5, e6.
        # Score (value - 50) / (100 - 50).
        check(c['D02'], 2, 3, 200 / 3, 33.33)
        check(h['D02'], 1, 2, 50.0, 0)
        # D03 on time: 城厢 o1, o3 of o1-o4 (o6 was planned in 2024);
        # 涵江 o7, o8 of o7, o8, o9.
        check(c['D03'], 2, 4, 50.0, 50)
        check(h['D03'], 2, 3, 200 / 3, 66.67)
        # D04 minimum duration, visits checked out in the quarter: 城厢
        # o1 45, o3 35, o6 31 of o1, o2 (20), o3, o6 (half-monthly: 30);
        # 涵江 o7 90 (quarterly: 60) of o7, o8 (25); o9 ended on April 1st
        # in Putian.
        check(c['D04'], 3, 4, 75.0, 75)
        check(h['D04'], 1, 2, 50.0, 50)
        # D05 confirmed: 城厢 o1, o3, o6 of 4; 涵江 o7 of o7, o8 (disputed).
        check(c['D05'], 3, 4, 75.0, 75)
        check(h['D05'], 1, 2, 50.0, 50)
        # D06 not overdue on 03-31: 城厢 e1, e3 of e1-e3 (e2 due 03-15, e4
        # unknown); 涵江 e5 of e5, e6 (due 2024-12-31).
        check(c['D06'], 2, 3, 200 / 3, 66.67)
        check(h['D06'], 1, 2, 50.0, 50)
        # D07 level 1 accepted in time: 城厢 d1 of d1, d2 (timed out); d4
        # was cancelled before anyone had to accept; 涵江 d5.
        check(c['D07'], 1, 2, 50.0, 50)
        check(h['D07'], 1, 1, 100.0, 100)
        # D08 on site in time: 城厢 t1 of t1, t2 (t3 cancelled); 涵江 t4;
        # t5 came after the quarter.
        check(c['D08'], 1, 2, 50.0, 50)
        check(h['D08'], 1, 1, 100.0, 100)
        # D09 complaints on time: 城厢 f1 of f1, f2 (deadline 04-04 passed
        # unanswered); 涵江 f4 answered a day late.
        check(c['D09'], 1, 2, 50.0, 50)
        check(h['D09'], 0, 1, 0.0, 0)
        # D10 subsidy: 城厢's 2025 programme paid 30,000 of 100,000 by
        # 03-31 (20,000 more on 04-15). The city's 2025 programme (50,000)
        # counts for its districts by their elevators in use: 4/6 for
        # 城厢, 2/6 for 涵江, which has no programme of its own; its
        # payment (25,000) is for no district's application.
        self.assertEqual(c['D10'].numerator, 30000)
        self.assertAlmostEqual(c['D10'].denominator, 100000 + 50000 * 4 / 6,
            2)
        self.assertAlmostEqual(c['D10'].value, 22.5, 4)
        self.assertEqual(c['D10'].score, 22.5)
        self.assertEqual(h['D10'].numerator, 0)
        self.assertAlmostEqual(h['D10'].denominator, 50000 * 2 / 6, 2)
        self.assertEqual((h['D10'].value, h['D10'].score), (0, 0))

        # Totals: weighted averages of the scores present.
        weights = {'D01': 15, 'D02': 10, 'D03': 15, 'D04': 10, 'D05': 5,
            'D06': 10, 'D07': 10, 'D08': 10, 'D09': 10, 'D10': 5}
        self.assertEqual({l.code: l.weight for l in cx.lines}, weights)
        cx_total = (31.25 * 15 + 33.33 * 10 + 50 * 15 + 75 * 10 + 75 * 5
            + 66.67 * 10 + 50 * 10 + 50 * 10 + 50 * 10 + 22.5 * 5) / 100
        hj_total = (0 * 15 + 0 * 10 + 66.67 * 15 + 50 * 10 + 50 * 5
            + 50 * 10 + 100 * 10 + 100 * 10 + 0 * 10 + 0 * 5) / 100
        self.assertEqual(cx.total, round_half_up(cx_total))
        self.assertEqual(cx.total, 49.56)
        self.assertEqual(hj.total, 42.5)
        self.assertAlmostEqual(hj_total, 42.5005, 4)
        self.assertEqual((cx.rank, hj.rank), (1, 2))

    @with_transaction()
    def test_inputs_kept(self):
        "A table keeps the settings it was computed with"
        pool = Pool()
        Indicator = pool.get('elevator.assessment.indicator')
        create_dataset()
        period = compute_q1()
        parameters = json.loads(period.parameters)
        self.assertEqual(parameters['as_of'], Q1_AS_OF.isoformat())
        self.assertEqual(parameters['iot_coverage_target'], 80)
        self.assertEqual(parameters['min_duration']['*|half_monthly'], 30)
        self.assertEqual(parameters['min_duration']['3400|half_monthly'],
            20)
        # elevator_enforcement (which depends on this module) is not
        # activated here: its rectification rate is unavailable.
        self.assertEqual(parameters['unavailable'],
            ['district_rectification'])
        self.assertEqual(len(parameters['indicators']), 10)
        self.assertEqual(period.as_of, Q1_AS_OF)
        self.assertEqual(period.authority, "莆田市市场监督管理局")

        # Changing an indicator afterwards changes nothing stored.
        indicator, = Indicator.search([('code', '=', 'D03')])
        Indicator.write([indicator], {'weight': 50, 'target': 90})
        line, = [l for l in period.districts[0].lines if l.code == 'D03']
        self.assertEqual((line.weight, line.target), (15, 100))

    @with_transaction()
    def test_publication_immutable(self):
        "A published table never changes again"
        pool = Pool()
        Period = pool.get('elevator.assessment.period')
        District = pool.get('elevator.assessment.district')
        Line = pool.get('elevator.assessment.district.line')
        create_dataset()
        period = compute_q1()
        before = [(r.district.id, r.total, r.rank) for r in period.districts]

        Period.publish([period])
        self.assertEqual(period.state, 'published')
        self.assertTrue(period.published_at)
        row = period.districts[0]
        self.assertEqual(row.state, 'published')
        self.assertEqual(District.search([('state', '=', 'published')],
                count=True), len(before))

        with self.assertRaises(AccessError):
            Period.write([period], {'name': "改名"})
        with self.assertRaises(AccessError):
            Period.delete([period])
        with self.assertRaises(AccessError):
            District.write([row], {'total': 100})
        with self.assertRaises(AccessError):
            District.delete([row])
        with self.assertRaises(AccessError):
            Line.write([row.lines[0]], {'score': 100})
        with self.assertRaises(AccessError):
            Line.delete(list(row.lines))
        with self.assertRaises(AccessError):
            Period.compute([period])
        # Publishing again does nothing.
        Period.publish([period])
        self.assertEqual(
            [(r.district.id, r.total, r.rank) for r in Period(
                    period.id).districts], before)

    @with_transaction()
    def test_publish_needs_computation(self):
        "An empty table is not published; a draft one is computed again"
        pool = Pool()
        Period = pool.get('elevator.assessment.period')
        create_dataset()
        period = Period.get_or_create('quarter', dt.date(2025, 4, 1),
            dt.date(2025, 6, 30))
        with self.assertRaises(UserError):
            Period.publish([period])
        Period.compute([period], as_of=dt.datetime(2025, 7, 2))
        first = {r.district.id: r.id for r in period.districts}
        Period.compute([period], as_of=dt.datetime(2025, 7, 3))
        period = Period(period.id)
        # Recomputed rows replace the former ones.
        self.assertEqual(set(first),
            {r.district.id for r in period.districts})
        self.assertFalse(set(first.values())
            & {r.id for r in period.districts})
        self.assertEqual(period.as_of, dt.datetime(2025, 7, 3))
        # The same dates only once.
        self.assertEqual(Period.get_or_create('quarter',
                dt.date(2025, 4, 1), dt.date(2025, 6, 30)), period)

    @with_transaction()
    def test_period_dates_from_kind(self):
        "The kind and the start give the end and the name"
        Period = Pool().get('elevator.assessment.period')
        period = Period(kind='quarter', start_date=dt.date(2025, 5, 20))
        period.on_change_start_date()
        self.assertEqual((period.start_date, period.end_date, period.name),
            (dt.date(2025, 4, 1), dt.date(2025, 6, 30), "2025年第2季度"))
        period.kind = 'month'
        period.on_change_kind()
        self.assertEqual((period.end_date, period.name),
            (dt.date(2025, 4, 30), "2025年4月"))

    @with_transaction()
    def test_credit_evaluation(self):
        "Each indicator of the credit evaluation, worked out by hand"
        world = create_dataset()
        evaluations = {e.maintenance_unit: e for e in evaluate_2025()}
        self.assertEqual(set(evaluations), {world['firm_a'],
                world['firm_b']})
        a, b = evaluations[world['firm_a']], evaluations[world['firm_b']]
        self.assertEqual((a.elevator_count, b.elevator_count), (3, 3))
        la, lb = lines_by_code(a), lines_by_code(b)

        def check(line, numerator, denominator, value, score_):
            self.assertEqual((line.numerator, line.denominator),
                (numerator, denominator), line.code)
            if value is None:
                self.assertIsNone(line.value, line.code)
            else:
                self.assertAlmostEqual(line.value, value, 4, line.code)
            self.assertEqual(line.score, score_, line.code)

        # U01 on time, visits planned in 2025: A o1, o3 of o1-o3; B o5,
        # o7, o8 of o4, o5, o7, o8, o9.
        check(la['U01'], 2, 3, 200 / 3, 66.67)
        check(lb['U01'], 3, 5, 60.0, 60)
        # U02 shorter than the minimum, visits checked out in 2025: A o2
        # of o1, o2, o3, o6; B o8 of o5, o7, o8, o9. Score 100 - value.
        check(la['U02'], 1, 4, 25.0, 75)
        check(lb['U02'], 1, 4, 25.0, 75)
        # U03 unconfirmed after 7 days: A o2 (done); B o8 (disputed).
        check(la['U03'], 1, 4, 25.0, 75)
        check(lb['U03'], 1, 4, 25.0, 75)
        # U04 level 1 accepted in time: A d1 of d1, d2; B d5, d6 (d4 was
        # cancelled).
        check(la['U04'], 1, 2, 50.0, 50)
        check(lb['U04'], 2, 2, 100.0, 100)
        # U05 on site in time once accepted: A d1; B d5, d6 of d3 (10:50
        # for 10:42), d5, d6.
        check(la['U05'], 1, 1, 100.0, 100)
        check(lb['U05'], 2, 3, 200 / 3, 66.67)
        # U06 missed level-1 dispatches per 100 elevators: A d2.
        check(la['U06'], 1, 3, 100 / 3, 66.67)
        check(lb['U06'], 0, 3, 0.0, 100)
        # U07 entrapments caused by maintenance per 100 elevators: B t4.
        check(la['U07'], 0, 3, 0.0, 100)
        check(lb['U07'], 1, 3, 100 / 3, 66.67)
        # U08 complaints per 100 elevators: A f1, f2; B's f4 was invalid.
        check(la['U08'], 2, 3, 200 / 3, 33.33)
        check(lb['U08'], 0, 3, 0.0, 100)
        # U09 average rating: A (5 + 4) / 2 (the 2024 one does not count);
        # B has none. Score value / 5.
        check(la['U09'], 9, 2, 4.5, 90)
        check(lb['U09'], None, None, None, None)
        # U10 faults per elevator: A fault 7 on e1 and 4 on e2 (fault 20
        # records only); B fault 4 on e5 at 07:00 on 2025-01-01 in Putian.
        # Score (2 - value) / 2.
        check(la['U10'], 2, 3, 2 / 3, 66.67)
        check(lb['U10'], 1, 3, 1 / 3, 83.33)

        a_score = (66.67 * 20 + 75 * 10 + 75 * 5 + 50 * 15 + 100 * 15
            + 66.67 * 10 + 100 * 10 + 33.33 * 5 + 90 * 5 + 66.67 * 5) / 100
        b_score = (60 * 20 + 75 * 10 + 75 * 5 + 100 * 15 + 66.67 * 15
            + 100 * 10 + 66.67 * 10 + 100 * 5 + 83.33 * 5) / 95
        self.assertAlmostEqual(a_score, 73.251, 6)
        self.assertAlmostEqual(b_score, 77.98316, 4)
        self.assertEqual((a.score, b.score), (73.25, 77.98))
        # Default thresholds A 90, B 75, C 60.
        self.assertEqual((a.grade, b.grade), ('C', 'B'))
        self.assertEqual((a.rank, b.rank), (2, 1))
        self.assertEqual((a.grade_a, a.grade_b, a.grade_c), (90, 75, 60))
        self.assertEqual(a.consequence,
            "More supervision inspections of its maintenance work.")
        self.assertEqual(a.state, 'draft')
        self.assertFalse(a.published)

    @with_transaction()
    def test_silence_not_rewarded(self):
        "A firm recording nothing is not graded A; too little data: not rated"
        pool = Pool()
        Party = pool.get('party.party')
        Elevator = pool.get('elevator.elevator')
        Contract = pool.get('elevator.maintenance.contract')
        Evaluation = pool.get('elevator.credit.evaluation')
        world = create_dataset()
        e1 = world['e'][1]
        silent, idle = Party.create([
                {'name': '莆田市新立电梯有限公司', 'is_maintenance_unit': True},
                {'name': '莆田市闲置电梯有限公司', 'is_maintenance_unit': True},
                ])

        def lifts(firm, start, count):
            return Elevator.create([{
                        'registration_code': f'31103503022020{n:06d}',
                        'category': '3110', 'region': e1.region.id,
                        'place': e1.place.id,
                        'place_category': e1.place_category,
                        'user_unit': world['owner'].id,
                        'maintenance_unit': firm.id, 'state': 'in_use',
                        } for n in range(start, start + count)])
        # The silent firm holds an active contract for 6 elevators in use
        # over 2025 and records nothing; the idle one has 2 elevators in
        # the registry, no contract and no record either.
        silent_lifts = lifts(silent, 100, 6)
        lifts(idle, 200, 2)
        contract, = Contract.create([{
                    'maintenance_unit': silent.id,
                    'user_unit': world['owner'].id,
                    'start_date': dt.date(2025, 1, 1),
                    'end_date': dt.date(2025, 12, 31),
                    'mode': 'regular',
                    'elevators': [('add', [e.id for e in silent_lifts])],
                    }])
        Contract.write([contract], {'state': 'active'})
        evaluations = {e.maintenance_unit: e for e in evaluate_2025()}
        a, b = evaluations[world['firm_a']], evaluations[world['firm_b']]
        s, i = evaluations[silent], evaluations[idle]

        # Every elevator of the silent firm's contract went the whole
        # year without a visit: 6 maintenances missed, on U01 (on time),
        # U02 (short: a missing visit is not long enough) and U03 (not
        # confirmed).
        ls = lines_by_code(s)
        self.assertEqual((ls['U01'].numerator, ls['U01'].denominator),
            (0, 6))
        self.assertEqual((ls['U02'].numerator, ls['U02'].denominator),
            (6, 6))
        self.assertEqual((ls['U03'].numerator, ls['U03'].denominator),
            (6, 6))
        self.assertEqual([ls[c].score for c in ['U01', 'U02', 'U03']],
            [0, 0, 0])
        # Per-100 indicators of nothing still score 100 (U06-U08, U10):
        # 30 of the 65 points weighed.
        self.assertEqual(s.score, round(30 * 100 / 65, 2))
        self.assertEqual(s.grade, 'D')
        self.assertIsNone(s.not_rated_reason)

        # The idle firm has only the per-100 indicators (30 of 100 of the
        # weight, under the 50 % needed): not rated, with the reason, and
        # not ranked.
        self.assertEqual(i.grade, 'not_rated')
        self.assertIsNone(i.rank)
        self.assertEqual(i.not_rated_reason,
            "Too little data for a grade: indicators with a value weigh "
            "30.0 % of the total, 50.0 % are needed.")
        self.assertEqual(i.consequence, i.not_rated_reason)

        # The active firms are graded on their data as before.
        self.assertEqual((a.score, a.grade), (73.25, 'C'))
        self.assertEqual((b.score, b.grade), (77.98, 'B'))
        self.assertEqual((b.rank, a.rank, s.rank), (1, 2, 3))
        self.assertNotIn('A', {e.grade for e in Evaluation.search([])})

        # The reports say so too: no grade computed from the idle firm's
        # score of 100 in the spreadsheet.
        import openpyxl
        ids = [e.id for e in evaluations.values()]
        _, content, _ = self.execute('elevator.credit.grades_xlsx', ids)
        values = openpyxl.load_workbook(BytesIO(content), data_only=True)
        rows = {r[1]: r for r in values["信用等级"].iter_rows(min_row=8,
                values_only=True) if r[1]}
        self.assertEqual(rows[idle.name][14:16],
            ("不予评级", i.not_rated_reason))
        self.assertEqual(rows[silent.name][14], 'D')
        _, content, _ = self.execute('elevator.credit.grades', ids)
        self.assertIn("不予评级", ''.join(pdf_text(content).split()))

    @with_transaction()
    def test_grade_d_refuses_new_contracts(self):
        "A firm graded D cannot put a new contract in force"
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Evaluation = pool.get('elevator.credit.evaluation')
        world = create_dataset()
        evaluations = {e.maintenance_unit: e for e in evaluate_2025()}
        a = evaluations[world['firm_a']]
        # Firm A graded D (its thresholds raised), firm B B.
        Evaluation.write([a], {'grade': 'D'})
        Evaluation.publish(list(evaluations.values()))
        today = pool.get('ir.date').today()

        def contract(firm, elevator):
            return Contract.create([{
                        'maintenance_unit': firm.id,
                        'user_unit': world['owner'].id,
                        'start_date': today,
                        'end_date': today.replace(year=today.year + 1),
                        'mode': 'regular',
                        'elevators': [('add', [elevator.id])],
                        }])[0]
        refused = contract(world['firm_a'], world['e'][1])
        with self.assertRaises(UserError) as cm:
            Contract.propose([refused])
        self.assertIn("credit grade of 2025 is D", cm.exception.message)
        self.assertEqual(Contract(refused.id).state, 'draft')
        accepted = contract(world['firm_b'], world['e'][2])
        Contract.propose([accepted])
        Contract.accept([accepted])
        self.assertEqual(accepted.state, 'active')
        # The refused grades are data: refusing only C lets firm A in.
        Configuration = pool.get('elevator.assessment.configuration')
        config = Configuration(1)
        self.assertEqual(tuple(config.contract_refused_grades), ('D',))
        config.contract_refused_grades = ['C']
        config.save()
        Contract.propose([Contract(refused.id)])
        self.assertEqual(Contract(refused.id).state, 'proposed')

    @with_transaction()
    def test_grade_thresholds_configurable(self):
        "The grades follow the configured thresholds, kept with them"
        pool = Pool()
        Configuration = pool.get('elevator.assessment.configuration')
        world = create_dataset()
        config = Configuration(1)
        config.grade_b = 73.25  # firm A's score: B from this score up
        config.save()
        evaluations = {e.maintenance_unit: e for e in evaluate_2025()}
        a = evaluations[world['firm_a']]
        self.assertEqual((a.score, a.grade, a.grade_b), (73.25, 'B', 73.25))
        config.grade_b = 73.26
        config.save()
        evaluations = {e.maintenance_unit: e for e in evaluate_2025()}
        self.assertEqual(evaluations[world['firm_a']].grade, 'C')
        config.grade_a = 95
        config.grade_b = 78
        config.grade_c = 77.98  # firm B's score
        config.save()
        evaluations = {e.maintenance_unit: e for e in evaluate_2025()}
        self.assertEqual(
            (evaluations[world['firm_a']].grade,
                evaluations[world['firm_b']].grade), ('D', 'C'))
        self.assertEqual(evaluations[world['firm_a']].consequence,
            "Interview of the unit, rectification within two months, no "
            "new maintenance contracts until rectified.")

        config.grade_c = 80  # above B
        with self.assertRaises(ValidationError):
            config.save()

    @with_transaction()
    def test_credit_publication(self):
        "Published grades are final and served by the public API"
        pool = Pool()
        Evaluation = pool.get('elevator.credit.evaluation')
        Line = pool.get('elevator.credit.evaluation.line')
        from trytond.modules.elevator_public import service
        world = create_dataset()
        evaluations = evaluate_2025()
        self.assertEqual(service.credit_grades(pool), {})

        Evaluation.publish(evaluations)
        self.assertEqual(service.credit_grades(pool), {
                world['firm_a'].id: ('C', 2025),
                world['firm_b'].id: ('B', 2025),
                })
        units = {u['name']: u for u in service.units(pool)}
        self.assertEqual(units['莆田市荔城电梯有限公司']['grade'], 'B')
        self.assertEqual(Evaluation.search([('published', '=', True)],
                count=True), 2)
        with self.assertRaises(AccessError):
            Evaluation.write(evaluations, {'grade': 'A'})
        with self.assertRaises(AccessError):
            Evaluation.delete(evaluations)
        with self.assertRaises(AccessError):
            Line.write(list(evaluations[0].lines), {'score': 100})
        # The year is not evaluated again.
        with self.assertRaises(UserError):
            Evaluation.evaluate(2025, as_of=YEAR_AS_OF)
        with self.assertRaises(UserError):
            Evaluation.evaluate(2099)

    @with_transaction()
    def test_evaluate_wizard(self):
        "The wizard evaluates a year and opens its evaluations"
        pool = Pool()
        Evaluate = pool.get('elevator.credit.evaluate', type='wizard')
        create_dataset()
        session_id, _, _ = Evaluate.create()
        wizard = Evaluate(session_id)
        wizard.start.year = 2025
        self.assertEqual(wizard.transition_evaluate(), 'open_')
        action, _ = wizard.do_open_(
            {'name': "Credit Evaluations", 'pyson_domain': '[]'})
        self.assertIn('2025', action['pyson_domain'])
        Evaluation = pool.get('elevator.credit.evaluation')
        self.assertEqual(Evaluation.search([('year', '=', 2025)],
                count=True), 2)

    @with_transaction()
    def test_missing_module_indicator_absent(self):
        "An indicator of a module that is not activated is left out"
        pool = Pool()
        Indicator = pool.get('elevator.assessment.indicator')
        from .. import engine
        indicators = Indicator.for_scope('district')
        self.assertEqual(len(indicators), 10)
        self.assertTrue(all(i.available for i in indicators))
        # With every module activated, only an unknown formula is absent.
        self.assertFalse(engine.available('no_such_formula'))

    @with_transaction()
    def test_indicator_validation(self):
        "An indicator's formula matches its scope; zero is on the bad side"
        Indicator = Pool().get('elevator.assessment.indicator')
        indicator, = Indicator.search([('code', '=', 'D03')])
        with self.assertRaises(ValidationError):
            Indicator.write([indicator], {'zero_at': 99})
        with self.assertRaises(ValidationError):
            Indicator.write([indicator], {'scope': 'unit'})
        new = Indicator(code='X1', name="Test", scope='unit',
            source='elevator_rescue', formula='unit_missed_level1',
            weight=5, direction='lower', target=0, zero_at=3)
        new.save()
        self.assertEqual(new.kind, 'per100')
        new.formula = 'unit_public_rating'
        new.on_change_formula()
        self.assertEqual((new.source, new.direction),
            ('elevator_public', 'higher'))

    @with_transaction()
    def test_live_figures(self):
        "The live figures of the dashboards"
        pool = Pool()
        Live = pool.get('elevator.assessment.live')
        Trend = pool.get('elevator.assessment.trend')
        world = create_dataset()
        live = {r.district: r for r in Live.search([])}
        cx, hj = live[world['cx']], live[world['hj']]
        self.assertEqual((cx.elevators, hj.elevators), (4, 2))
        # Devices not retired: e1, e2; e6.
        self.assertEqual((cx.monitored, hj.monitored), (2, 1))
        self.assertEqual((cx.coverage, hj.coverage), (50.0, 50.0))
        self.assertAlmostEqual(cx.video_coverage, 200 / 3, 4)
        # f2 is still waiting for its answer; no rescue is open.
        self.assertEqual((cx.open_complaints, hj.open_complaints), (1, 0))
        self.assertEqual((cx.open_rescues, cx.open_warnings), (0, 0))
        # Flagged on creation against today: every known due date of the
        # data set has passed (e1, e2, e3; e5, e6).
        self.assertEqual((cx.inspection_overdue, hj.inspection_overdue),
            (3, 2))
        self.assertEqual(cx.coverage_target, 100)  # the city's 2024

        trend = Trend.search([('district', '=', world['cx'].id)])
        self.assertEqual(len(trend), 12)
        self.assertEqual([t.month_index for t in trend], list(range(12)))
        today = Pool().get('ir.date').today()
        self.assertEqual(trend[-1].month, today.strftime('%Y-%m'))

    @with_transaction()
    def test_monitored_one_meaning(self):
        "Every figure of monitoring counts the same elevators"
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Device = pool.get('elevator.iot.device')
        IotCoverage = pool.get('elevator.iot.coverage')
        SubsidyCoverage = pool.get('elevator.subsidy.coverage')
        Live = pool.get('elevator.assessment.live')
        Period = pool.get('elevator.assessment.period')
        District = pool.get('elevator.assessment.district')
        Configuration = pool.get('elevator.iot.configuration')
        from trytond.modules.elevator_public import service
        from .. import figures
        from ..common import period_bounds
        world = create_dataset()
        cx, e = world['cx'], world['e']
        # 城厢's e1-e4: a device registered but never connected (e1's
        # DEV-0001 keeps no last_seen), one heard 3 days ago (e2), one
        # 10 days ago (e3), a retired one heard yesterday (e4).
        now = dt.datetime.now()
        d1, d2 = Device.search([('serial', 'in', ['DEV-0001', 'DEV-0002'])],
            order=[('serial', 'ASC')])
        d3, d4 = Device.create([
                {'serial': 'DEV-0003', 'type': 'controller_terminal',
                    'elevator': e[3].id},
                {'serial': 'DEV-0004', 'type': 'controller_terminal',
                    'elevator': e[4].id},
                ])
        Device.retire([d4])
        table = Device.__table__()
        cursor = Transaction().connection.cursor()
        for device, ago in [(d1, None), (d2, 3), (d3, 10), (d4, 1)]:
            cursor.execute(*table.update(
                    [table.last_seen, table.install_date],
                    [now - dt.timedelta(days=ago) if ago else None,
                        dt.date(2024, 1, 1)],
                    where=table.id == device.id))
        regulator = create_user('chengxiang', 'group_district_regulator',
            regions=[cx])
        today = pool.get('ir.date').today()
        start, end = period_bounds('quarter', today)
        period = Period.get_or_create('quarter', start, end)

        def figures_of_cx():
            "{figure: number of monitored elevators of 城厢}"
            result = {}
            set_user, check = acting(regulator)
            with set_user, check:
                lifts = Elevator.browse([e[i].id for i in range(1, 5)])
                result['field'] = sum(1 for l in lifts if l.monitored)
                result['search'] = Elevator.search_count([
                        ('district', '=', cx.id), ('monitored', '=', True)])
                result['not search'] = 4 - Elevator.search_count([
                        ('district', '=', cx.id),
                        ('state', '=', 'in_use'),
                        ('monitored', '=', False)])
                live, = Live.search([('district', '=', cx.id)])
                result['dashboard'] = live.monitored
                result['subsidy field'] = sum(
                    1 for l in lifts if l.monitoring_active)
            coverage, = IotCoverage.search([('district', '=', cx.id)])
            result['iot coverage'] = coverage.monitored
            SubsidyCoverage.compute()
            snapshot, = SubsidyCoverage.search([
                    ('region', '=', cx.id), ('date', '=', today)])
            result['subsidy coverage'] = snapshot.monitored
            Period.compute([period])
            row, = District.search([
                    ('period', '=', period.id), ('district', '=', cx.id)])
            result['D01'], = [l.numerator for l in row.lines
                if l.code == 'D01']
            result['brief'] = figures.brief([cx.id],
                today.replace(day=1), today)[cx.id]['monitored']
            result['public card'] = sum(
                1 for i in range(1, 5) if service.card(pool,
                    e[i].public_token)['remote_monitoring'])
            return result

        # Default window, 7 days: only e2.
        self.assertEqual(Configuration(1).monitored_days, 7)
        found = figures_of_cx()
        self.assertEqual(found, {k: 1 for k in found}, found)
        self.assertEqual(len(found), 10)
        self.assertEqual(
            [bool(Elevator(e[i].id).monitored) for i in range(1, 5)],
            [False, True, False, False])

        # A window of 14 days: e2 and e3, everywhere.
        config = Configuration(1)
        config.monitored_days = 14
        config.save()
        found = figures_of_cx()
        self.assertEqual(found, {k: 2 for k in found}, found)

    @with_transaction()
    def test_brief_figures(self):
        "The figures of the monthly brief"
        from .. import figures
        world = create_dataset()
        cx, hj = world['cx'].id, world['hj'].id
        feb = figures.brief([cx, hj], dt.date(2025, 2, 1),
            dt.date(2025, 2, 28))
        # February: t1 on e1 (on site in 20 minutes), fault 7 on e1, o3
        # checked out; f4 on e5 in 涵江, o7 too.
        self.assertEqual(feb[cx]['entrapments'], 1)
        self.assertEqual(feb[cx]['rescues_arrived'], 1)
        self.assertEqual(feb[cx]['arrived_in_time'], 1)
        self.assertEqual(feb[cx]['average_arrival'], 20.0)
        self.assertEqual(feb[cx]['faults'], 1)
        self.assertEqual(feb[cx]['faults_rescue'], 1)
        self.assertEqual(feb[cx]['visits_done'], 1)
        self.assertEqual(feb[cx]['complaints'], 0)
        self.assertEqual(feb[hj]['complaints'], 1)
        self.assertEqual(feb[hj]['complaints_on_time'], 0)
        self.assertEqual(feb[hj]['visits_done'], 1)
        self.assertEqual(feb[cx]['elevators'], 4)
        self.assertEqual(feb[cx]['warnings'], 0)
        march = figures.brief([cx], dt.date(2025, 3, 1),
            dt.date(2025, 3, 31))
        # t2 (50 minutes, late), t3 cancelled.
        self.assertEqual(march[cx]['entrapments'], 1)
        self.assertEqual(march[cx]['false_alarms'], 1)
        self.assertEqual(march[cx]['escalated'], 0)
        self.assertEqual(march[cx]['arrived_in_time'], 0)
        self.assertEqual(march[cx]['average_arrival'], 50.0)
        # The fault 20 of March records only.
        self.assertEqual(march[cx]['faults'], 0)
        attention = figures.attention([cx], dt.date(2025, 2, 1),
            dt.date(2025, 3, 31))
        self.assertEqual(attention[0], (world['e'][1].id, 1, 1))

    # -- reports --------------------------------------------------------------

    def execute(self, name, ids, data=None):
        Report = Pool().get(name, type='report')
        oext, content, _, filename = Report.execute(ids, data or {})
        return oext, bytes(content), filename

    @with_transaction()
    def test_district_table_pdf(self):
        "The table's PDF shows the figures, the period and the snapshot"
        create_dataset()
        period = compute_q1()
        oext, content, _ = self.execute(
            'elevator.assessment.district_table', [period.id])
        self.assertEqual(oext, 'pdf')
        self.assertTrue(content.startswith(b'%PDF-'))
        text = pdf_text(content)
        words = ''.join(text.split())
        for expected in ["莆田市市场监督管理局", "区县电梯安全考核表",
                "2025年第1季度", "2025-01-01至2025-03-31", "城厢区",
                "涵江区", "49.56", "42.50", "31.25", "33.33", "草稿",
                "数据截至2025-04-1008:00", "第1页/共", "生成时间",
                "30,000"]:
            self.assertIn(expected, words)
        # 城厢 ranks first.
        self.assertLess(text.index("城厢区"), text.index("涵江区"))
        with tempfile.TemporaryDirectory() as directory:
            pages = pdf_to_png(content, directory)
            self.assertTrue(pages)
            from PIL import Image
            with Image.open(pages[0]) as image:
                width, height = image.size
            self.assertGreater(width, height)  # A4 landscape

        Period = Pool().get('elevator.assessment.period')
        Period.publish([period])
        _, content, _ = self.execute(
            'elevator.assessment.district_table', [period.id])
        words = ''.join(pdf_text(content).split())
        self.assertIn("已发布", words)
        self.assertNotIn("草稿", words)

    @with_transaction()
    def test_district_table_xlsx(self):
        "The table's XLSX has numbers, formulas, frozen header, filters"
        import openpyxl
        create_dataset()
        period = compute_q1()
        oext, content, _ = self.execute(
            'elevator.assessment.district_table_xlsx', [period.id])
        self.assertEqual(oext, 'xlsx')
        book = openpyxl.load_workbook(BytesIO(content))
        values = openpyxl.load_workbook(BytesIO(content), data_only=True)
        self.assertEqual(book.sheetnames, ["考核总表", "指标明细", "参数"])
        summary = book["考核总表"]
        self.assertEqual(summary.freeze_panes, 'C8')
        self.assertEqual(summary.auto_filter.ref, 'A7:N9')
        header = [c.value for c in summary[7]]
        self.assertEqual(header[:3], ["排名", "区县", "在用电梯"])
        self.assertEqual(header[-1], "总分")
        # Weights above the scores.
        self.assertEqual([c.value for c in summary[6]][3:13],
            [15, 10, 15, 10, 5, 10, 10, 10, 10, 5])
        row = [c.value for c in values["考核总表"][8]]
        self.assertEqual(row[1:3], ["城厢区", 4])
        self.assertEqual(row[0], 1)
        self.assertEqual(row[3], 31.25)
        self.assertEqual(row[-1], 49.56)
        self.assertEqual([c.value for c in values["考核总表"][9]][-1],
            42.5)
        self.assertTrue(summary['N8'].value.startswith('=IFERROR(ROUND('
                'SUMPRODUCT(D8:M8,$D$6:$M$6)'))
        self.assertTrue(summary['A8'].value.startswith('=IF(ISNUMBER(N8)'))
        self.assertEqual(summary['D8'].value, "='指标明细'!L7")

        detail = book["指标明细"]
        self.assertEqual(detail.freeze_panes, 'D7')
        # 10 indicators for each district, 涵江's D10 from the city's
        # programme.
        self.assertEqual(detail.auto_filter.ref, 'A6:L26')
        first = [c.value for c in detail[7]]
        self.assertEqual(first[:6], ["城厢区", "D01",
                "Monitoring coverage of elevators in use", 1, 4, 100])
        self.assertEqual(first[6], '=IF(N(E7)>0,D7/E7*F7,"")')
        self.assertEqual(first[8], 80)
        self.assertTrue(first[11].startswith('=IF(G7="","",'))
        cached = [c.value for c in values["指标明细"][7]]
        self.assertEqual((cached[6], cached[11]), (25, 31.25))
        last = [c.value for c in detail[26]][:7]
        self.assertEqual(last[:4], ["涵江区", "D10", "Subsidy budget executed",
                0])
        self.assertAlmostEqual(last[4], 50000 * 2 / 6, 2)
        self.assertEqual(last[5:], [100, '=IF(N(E26)>0,D26/E26*F26,"")'])
        self.assertIsNone(detail['A27'].value)
        parameters = [c.value for c in book["参数"]['B']]
        self.assertIn(' "iot_coverage_target": 80.0,', parameters)

    @with_transaction()
    def test_credit_grades_reports(self):
        "The credit grades in PDF and XLSX"
        import openpyxl
        create_dataset()
        evaluations = evaluate_2025()
        ids = [e.id for e in evaluations]
        oext, content, _ = self.execute('elevator.credit.grades', ids)
        self.assertEqual(oext, 'pdf')
        words = ''.join(pdf_text(content).split())
        for expected in ["电梯维保单位质量安全信用等级评价结果", "2025年度",
                "莆田市荔城电梯有限公司", "莆田市安达电梯工程有限公司",
                "77.98", "73.25", "A级≥90.0分", "等级分布", "草稿"]:
            self.assertIn(expected, words)
        with tempfile.TemporaryDirectory() as directory:
            self.assertTrue(pdf_to_png(content, directory))

        oext, content, _ = self.execute('elevator.credit.grades_xlsx', ids)
        self.assertEqual(oext, 'xlsx')
        book = openpyxl.load_workbook(BytesIO(content))
        values = openpyxl.load_workbook(BytesIO(content), data_only=True)
        self.assertEqual(book.sheetnames, ["信用等级", "指标明细", "参数"])
        sheet = book["信用等级"]
        self.assertEqual(sheet.freeze_panes, 'C8')
        self.assertEqual(sheet.auto_filter.ref, 'A7:P9')
        first = [c.value for c in values["信用等级"][8]]
        self.assertEqual(first[:3], [1, "莆田市荔城电梯有限公司", 3])
        self.assertEqual(first[13:15], [77.98, 'B'])
        self.assertEqual(sheet['O8'].value,
            '=IF(ISNUMBER(N8),IF(N8>=\'参数\'!$B$4,"A",IF(N8>=\'参数\'!$B$5,'
            '"B",IF(N8>=\'参数\'!$B$6,"C","D"))),"")')
        parameters = book["参数"]
        self.assertEqual([parameters['A4'].value, parameters['B4'].value],
            ["A级最低分", 90])

    @with_transaction()
    def test_brief_reports(self):
        "The monthly brief of a district and of the city"
        import openpyxl
        world = create_dataset()
        data = {'region': world['cx'].id, 'year': 2025, 'month': 3}
        oext, content, _ = self.execute('elevator.assessment.brief', [],
            data)
        self.assertEqual(oext, 'pdf')
        words = ''.join(pdf_text(content).split())
        for expected in ["城厢区电梯安全月度简报", "2025年3月", "2025年2月",
                "困人事件（起）", "平均到场时间（分钟）", "50.0", "20.0",
                "重点关注电梯", "31103503022019000002"]:
            self.assertIn(expected, words)

        data['region'] = world['city'].id
        oext, content, _ = self.execute('elevator.assessment.brief_xlsx',
            [], data)
        self.assertEqual(oext, 'xlsx')
        book = openpyxl.load_workbook(BytesIO(content), data_only=True)
        self.assertEqual(book.sheetnames, ["月报", "分区县", "重点关注电梯"])
        sheet = book["月报"]
        self.assertEqual(sheet.freeze_panes, 'C7')
        rows = {r[1]: r for r in sheet.iter_rows(min_row=7,
                values_only=True)}
        # March, city: t2 (t3 cancelled); February: t1 (t4 was in
        # January).
        self.assertEqual(rows["困人事件（起）"][2:5], (1, 1, 0))
        self.assertEqual(rows["在用电梯（台）"][2], 6)
        self.assertEqual(rows["误报及取消（起）"][2], 1)
        districts = {r[0]: r for r in book["分区县"].iter_rows(min_row=7,
                values_only=True)}
        self.assertEqual(districts["城厢区"][1:4], (4, 0, 1))
        self.assertEqual(districts["合计"][1], 6)

    @with_transaction()
    def test_elevator_record_reports(self):
        "An elevator's full record in PDF and XLSX, without personal data"
        import openpyxl
        world = create_dataset()
        elevator = world['e'][1]
        oext, content, _ = self.execute('elevator.elevator.full_record',
            [elevator.id])
        self.assertEqual(oext, 'pdf')
        words = ''.join(pdf_text(content).split())
        for expected in ["电梯安全档案", "31103503022019000001", "万达华府",
                "莆田市安达电梯工程有限公司", "维保记录（2）", "困人救援（1）",
                "故障报警（2）", "投诉与反馈（1）", "公众评价（2）",
                "物联网监测设备（1）"]:
            self.assertIn(expected, words)
        self.assertNotIn("13800000000", words)
        oext, content, _ = self.execute(
            'elevator.elevator.full_record_xlsx', [elevator.id])
        book = openpyxl.load_workbook(BytesIO(content))
        self.assertIn("维保记录", book.sheetnames)
        sheet = book["维保记录"]
        self.assertEqual(sheet.freeze_panes, 'B7')
        self.assertEqual(sheet.auto_filter.ref, 'A6:I8')
        durations = [r[5] for r in sheet.iter_rows(min_row=7,
                values_only=True)]
        self.assertEqual(sorted(durations), [20, 45])

    @with_transaction()
    def test_brief_wizard(self):
        "The brief wizard prints the format chosen"
        pool = Pool()
        BriefWizard = pool.get('elevator.assessment.brief.print',
            type='wizard')
        world = create_dataset()
        session_id, _, _ = BriefWizard.create()
        wizard = BriefWizard(session_id)
        wizard.start.region = world['hj']
        wizard.start.year = 2025
        wizard.start.month = '2'
        wizard.start.format = 'xlsx'
        self.assertEqual(wizard.transition_choose(), 'print_xlsx')
        _, data = wizard.do_print_xlsx({})
        self.assertEqual(data, {'region': world['hj'].id, 'year': 2025,
                'month': 2})

    # -- access ---------------------------------------------------------------

    @with_transaction()
    def test_auditor_read_only(self):
        "The auditor reads and exports everything and changes nothing"
        pool = Pool()
        Period = pool.get('elevator.assessment.period')
        District = pool.get('elevator.assessment.district')
        Evaluation = pool.get('elevator.credit.evaluation')
        Indicator = pool.get('elevator.assessment.indicator')
        Live = pool.get('elevator.assessment.live')
        world = create_dataset()
        period = compute_q1()
        evaluate_2025()
        auditor = create_user('auditor', 'group_auditor')
        set_user, check = acting(auditor)
        with set_user, check:
            self.assertEqual(len(District.search([])), 2)
            self.assertEqual(len(Evaluation.search([])), 2)
            # Five districts and three management committees.
            self.assertEqual(len(Live.search([])), 8)
            data = District.export_data(District.search([]),
                ['district/rec_name', 'total', 'rank'])
            self.assertIn(['城厢区', 49.56, 1], data)
            self.assertTrue(Evaluation.export_data(Evaluation.search([]),
                    ['maintenance_unit/rec_name', 'grade']))
            _, content, _ = self.execute(
                'elevator.assessment.district_table_xlsx', [period.id])
            self.assertTrue(content.startswith(b'PK'))
            with self.assertRaises(AccessError):
                Period.write([Period(period.id)], {'name': "x"})
            with self.assertRaises(AccessError):
                Indicator.write(Indicator.search([], limit=1),
                    {'weight': 1})
            with self.assertRaises(AccessError):
                District.write(District.search([], limit=1), {'total': 1})
            with self.assertRaises(AccessButtonError):
                Period.compute([Period(period.id)])
            with self.assertRaises(AccessButtonError):
                Period.publish([Period(period.id)])
            with self.assertRaises(AccessButtonError):
                Evaluation.publish(Evaluation.search([]))
            with self.assertRaises(AccessError):
                Period.create([{'name': 'x', 'kind': 'month',
                            'start_date': dt.date(2025, 1, 1),
                            'end_date': dt.date(2025, 1, 31)}])
        self.assertTrue(world)

    @with_transaction()
    def test_district_regulator_scope(self):
        "A district regulator sees his district's rows and figures only"
        pool = Pool()
        District = pool.get('elevator.assessment.district')
        Line = pool.get('elevator.assessment.district.line')
        Live = pool.get('elevator.assessment.live')
        Evaluation = pool.get('elevator.credit.evaluation')
        world = create_dataset()
        period = compute_q1()
        evaluations = evaluate_2025()
        regulator = create_user('hanjiang', 'group_district_regulator',
            regions=[world['hj']])
        firm = create_user('firm1', 'group_firm_manager',
            units=[world['firm_a']])
        set_user, check = acting(regulator)
        with set_user, check:
            rows = District.search([])
            self.assertEqual([r.district.id for r in rows],
                [world['hj'].id])
            self.assertEqual({l.district.id for l in Line.search([])},
                {world['hj'].id})
            self.assertEqual([r.district.id for r in Live.search([])],
                [world['hj'].id])
            _, content, _ = self.execute(
                'elevator.assessment.district_table', [period.id])
            words = ''.join(pdf_text(content).split())
            self.assertIn("涵江区", words)
            self.assertNotIn("城厢区", words)
            with self.assertRaises(AccessError):
                self.execute('elevator.assessment.brief', [], {
                        'region': world['cx'].id, 'year': 2025,
                        'month': 2})
            self.execute('elevator.assessment.brief', [], {
                    'region': world['hj'].id, 'year': 2025, 'month': 2})
        set_user, check = acting(firm)
        with set_user, check:
            # A firm sees its own evaluation once published only.
            self.assertEqual(Evaluation.search([]), [])
        Evaluation.publish(evaluations)
        set_user, check = acting(firm)
        with set_user, check:
            self.assertEqual([e.maintenance_unit.id
                    for e in Evaluation.search([])], [world['firm_a'].id])


class BaseOnlyTestCase(TestCase):
    "Test the assessment without the optional modules"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['elevator_assessment'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    @with_transaction()
    def test_indicators_of_missing_modules_absent(self):
        "Only the registry's indicators are computed"
        pool = Pool()
        Period = pool.get('elevator.assessment.period')
        Indicator = pool.get('elevator.assessment.indicator')
        Live = pool.get('elevator.assessment.live')
        world = create_dataset()
        self.assertEqual([i.code for i in Indicator.for_scope('district')],
            ['D02', 'D06'])
        self.assertEqual(Indicator.for_scope('unit'), [])
        configure_indicators(DISTRICT_SETTINGS)
        period = Period.get_or_create('quarter', Q1_START, Q1_END)
        Period.compute([period], as_of=Q1_AS_OF)
        rows = {r.district: r for r in period.districts}
        cx, hj = rows[world['cx']], rows[world['hj']]
        self.assertEqual([l.code for l in cx.lines], ['D02', 'D06'])
        # D02 33.33 (weight 10) and D06 66.67 (weight 10); 涵江 0 and 50.
        self.assertEqual(cx.total, round_half_up((33.33 + 66.67) / 2))
        self.assertEqual(hj.total, 25)
        self.assertEqual((cx.rank, hj.rank), (1, 2))
        parameters = json.loads(period.parameters)
        # The 8 formulas of the other modules and enforcement's.
        self.assertEqual(len(parameters['unavailable']), 9)
        self.assertNotIn('iot_coverage_target', parameters)

        live = {r.district: r for r in Live.search([])}
        self.assertEqual(live[world['cx']].elevators, 4)
        self.assertIsNone(live[world['cx']].open_rescues)
        self.assertIsNone(live[world['cx']].coverage)

        Report = pool.get('elevator.assessment.district_table',
            type='report')
        _, content, _, _ = Report.execute([period.id], {})
        words = ''.join(pdf_text(bytes(content)).split())
        self.assertIn("D02", words)
        self.assertNotIn("D03", words)

        Brief = pool.get('elevator.assessment.brief', type='report')
        _, content, _, _ = Brief.execute([], {'region': world['cx'].id,
                'year': 2025, 'month': 3})
        words = ''.join(pdf_text(bytes(content)).split())
        self.assertIn("在用电梯（台）4", words)
        self.assertIn("未启用", words)


del ModuleTestCase
