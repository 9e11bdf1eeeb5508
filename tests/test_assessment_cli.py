"""The assessment on a real PostgreSQL database with every module activated:
the demo generator (src/elevator_platform/demo_elevator_assessment.py) run
by `elevator demo-data`, the published grades served by the public API,
and `elevator report` writing the reports for scheduled runs.

The database gets the modules the way the demo does (trytond-admin in a
subprocess) and is dropped at the end; the registry is small (300
elevators).
"""
import datetime as dt
import os
import re
import shutil
import subprocess
import uuid
from io import BytesIO

import openpyxl
import pytest

from elevator_platform import cli, scratch_db, tryton_env
from support.db import ALL_MODULES

ELEVATORS = 300
SEED = 5
MODULES = ALL_MODULES


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_assessment_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name, modules=MODULES)
    try:
        code = cli.main(['demo-data', '-d', name,
                '--elevators', str(ELEVATORS), '--seed', str(SEED),
                '--quiet'])
        assert code == 0
        yield name
    finally:
        scratch_db.drop_database(name)


def _quarters():
    "The four complete quarters before the current one, oldest first."
    from trytond.modules.elevator_assessment.common import (
        LOCAL_TZ,
        add_months,
        period_bounds,
    )
    today = dt.datetime.now(LOCAL_TZ).date()
    current, _ = period_bounds('quarter', today)
    return [period_bounds('quarter', add_months(current, -3 * i))
        for i in range(4, 0, -1)], period_bounds('quarter', current)


def _text(path):
    pdftotext = shutil.which('pdftotext')
    assert pdftotext, "pdftotext not installed (poppler-utils)"
    output = subprocess.run([pdftotext, '-enc', 'UTF-8', str(path), '-'],
        capture_output=True, check=True, timeout=60).stdout
    return ''.join(output.decode().split())


def test_demo_tables_and_grades(database):
    "The demo has published tables, a draft one and published grades"
    past, current = _quarters()
    with tryton_env.transaction(database, readonly=True) as pool:
        Period = pool.get('elevator.assessment.period')
        Evaluation = pool.get('elevator.credit.evaluation')
        periods = Period.search([], order=[('start_date', 'ASC')])
        assert [(p.start_date, p.end_date) for p in periods] == (
            past + [current])
        assert [p.state for p in periods] == (
            ['published'] * 3 + ['draft'] * 2)
        for period in periods:
            assert period.districts
            ranks = sorted(r.rank for r in period.districts)
            assert ranks[0] == 1
            for row in period.districts:
                assert 0 <= row.total <= 100
                assert len(row.lines) == 10
        last_year = current[0].year - 1
        published = Evaluation.search([('year', '=', last_year)])
        assert published
        assert {e.state for e in published} == {'published'}
        # The demo's firms have no contract nor record before this year:
        # too little data for last year's grades.
        assert {e.grade for e in published} <= set('ABCD') | {'not_rated'}
        drafts = Evaluation.search([('year', '=', last_year + 1)])
        assert {e.state for e in drafts} == {'draft'}


def test_demo_quarters_have_maintenance_and_subsidy(database):
    """The last complete quarter and the current one have a value for
    every indicator of maintenance (D03-D05) and subsidies (D10) in every
    district with elevators; the current one for every indicator in at
    least one district. This year's credit grades rest on records: a firm
    is graded on its maintenance records or not rated."""
    past, current = _quarters()
    with tryton_env.transaction(database, readonly=True) as pool:
        Period = pool.get('elevator.assessment.period')
        Evaluation = pool.get('elevator.credit.evaluation')
        for start, _ in [past[-1], current]:
            period, = Period.search([('start_date', '=', start)])
            rows = [r for r in period.districts if r.elevator_count]
            assert rows
            for row in rows:
                values = {l.code: l.value for l in row.lines}
                missing = [c for c in ['D03', 'D04', 'D05', 'D10']
                    if values[c] is None]
                assert not missing, (start, row.district.name, missing)
        period, = Period.search([('start_date', '=', current[0])])
        with_value = {l.code for r in period.districts for l in r.lines
            if l.value is not None}
        assert with_value == {f'D{i:02d}' for i in range(1, 11)}
        evaluations = Evaluation.search([('year', '=', current[0].year)])
        assert evaluations
        assert {e.grade for e in evaluations} & set('ABCD')
        for evaluation in evaluations:
            lines = {l.code: l for l in evaluation.lines}
            # Graded on maintenance records, or not rated (a firm without
            # contract nor record), with the reason.
            if evaluation.grade == 'not_rated':
                assert evaluation.not_rated_reason
                assert not lines['U01'].denominator
            else:
                assert lines['U01'].denominator, evaluation.rec_name
                assert evaluation.grade != 'A' or lines['U01'].value >= 90


def test_public_api_serves_published_grades(database):
    "GET …/units gives the grades of the published evaluations"
    from trytond.modules.elevator_public import service
    with tryton_env.transaction(database, readonly=True) as pool:
        Evaluation = pool.get('elevator.credit.evaluation')
        expected = {e.maintenance_unit.name: e.grade
            for e in Evaluation.search([('state', '=', 'published')])}
        units = {u['name']: u for u in service.units(pool)}
        assert expected
        for name, grade in expected.items():
            assert units[name]['grade'] == grade


def test_report_district_table(database, tmp_path):
    "The published table of a quarter in PDF and XLSX"
    past, _ = _quarters()
    start, end = past[-2]
    quarter = f'{start.year}Q{(start.month - 1) // 3 + 1}'
    code = cli.main(['report', 'district-table', '-d', database,
            '--period', quarter, '-o', str(tmp_path)])
    assert code == 0
    stem = f'district-table-{start.isoformat()}-{end.isoformat()}'
    pdf, xlsx = tmp_path / f'{stem}.pdf', tmp_path / f'{stem}.xlsx'
    assert pdf.read_bytes().startswith(b'%PDF-')
    text = _text(pdf)
    with tryton_env.transaction(database, readonly=True) as pool:
        Period = pool.get('elevator.assessment.period')
        period, = Period.search([('start_date', '=', start)])
        rows = sorted(period.districts, key=lambda r: (r.rank, r.id))
        expected = [(r.district.name, r.total) for r in rows]
    for name, total in expected:
        assert name in text
        assert f'{total:.2f}' in text
    assert "区县电梯安全考核表" in text and "已发布" in text
    book = openpyxl.load_workbook(BytesIO(xlsx.read_bytes()),
        data_only=True)
    sheet = book["考核总表"]
    found = {row[1]: row[-1] for row in sheet.iter_rows(
            min_row=8, values_only=True) if row[1]}
    assert found == dict(expected)


def test_report_compute_and_publish(database, tmp_path):
    "A scheduled run computes and publishes a table, then only prints it"
    code = cli.main(['report', 'district-table', '-d', database,
            '--period', '2024-01-01:2024-01-31', '--compute', '--publish',
            '-f', 'xlsx', '-o', str(tmp_path)])
    assert code == 0
    with tryton_env.transaction(database, readonly=True) as pool:
        Period = pool.get('elevator.assessment.period')
        period, = Period.search([('start_date', '=', dt.date(2024, 1, 1)),
                ('end_date', '=', dt.date(2024, 1, 31))])
        assert period.state == 'published'
        assert period.kind == 'custom'
        published_at = period.published_at
    code = cli.main(['report', 'district-table', '-d', database,
            '--period', '2024-01-01:2024-01-31', '--compute', '-f', 'pdf',
            '-o', str(tmp_path)])
    assert code == 0
    with tryton_env.transaction(database, readonly=True) as pool:
        Period = pool.get('elevator.assessment.period')
        period, = Period.search([('start_date', '=', dt.date(2024, 1, 1)),
                ('end_date', '=', dt.date(2024, 1, 31))])
        assert period.published_at == published_at


def test_report_credit_brief_elevator(database, tmp_path):
    "Credit grades, the monthly brief and an elevator's record"
    _, current = _quarters()
    year = current[0].year - 1
    assert cli.main(['report', 'credit', '-d', database, '--year',
            str(year), '--evaluate', '-o', str(tmp_path)]) == 0
    text = _text(tmp_path / f'credit-grades-{year}.pdf')
    assert f"{year}年度" in text and "已发布" in text
    assert cli.main(['report', 'brief', '-d', database, '--region',
            '350302', '--month', 'last-month', '-o', str(tmp_path)]) == 0
    pdf, = tmp_path.glob('safety-brief-350302-*.pdf')
    assert "城厢区电梯安全月度简报" in _text(pdf)
    with tryton_env.transaction(database, readonly=True) as pool:
        Elevator = pool.get('elevator.elevator')
        elevator = Elevator.search([('state', '=', 'in_use')], limit=1)[0]
        code, rescue_code = elevator.registration_code, elevator.rescue_code
    assert cli.main(['report', 'elevator', '-d', database, '--code',
            rescue_code, '-f', 'pdf', '-o', str(tmp_path)]) == 0
    text = _text(tmp_path / f'elevator-{code}.pdf')
    assert "电梯安全档案" in text and code in text


def test_report_errors(database, tmp_path, capsys):
    "Wrong requests get a one-line message and a non-zero exit code"
    for argv, message in [
            (['district-table', '--period', '2019Q1'],
                "no assessment table"),
            (['district-table', '--period', 'next-week'],
                "unknown period"),
            (['brief', '--region', '999999'], "no city or district"),
            (['elevator', '--code', 'nope'], "no elevator"),
            (['credit', '--year', '1990'], "no credit evaluation"),
            ]:
        code = cli.main(['report', argv[0], '-d', database, *argv[1:],
                '-o', str(tmp_path)])
        assert code == 1
        assert message in capsys.readouterr().err
    assert cli.main(['report', 'elevator', '-d', database, '--code', 'x',
            '-f', 'docx', '-o', str(tmp_path)]) == 2
