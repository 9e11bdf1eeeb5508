"""`elevator report`: the assessment reports as files, for scheduled runs.

    elevator report district-table --period 2026Q1 [--compute] [--publish]
    elevator report credit --year 2025 [--evaluate] [--publish]
    elevator report brief --region 350302 --month 2026-03
    elevator report elevator --code 31103503022019000123

Each writes PDF and/or XLSX files (--format pdf,xlsx; default both) into
--output (a directory, default the current one) and prints their paths.
Periods may be named relative to today for cron: last-quarter, last-month,
last-year, this-quarter, this-month, this-year. The reports are those of
the web client (module elevator_assessment), rendered with the same code;
the command runs with the administrator's rights.
"""
import datetime as dt
import sys
from pathlib import Path

from . import tryton_env

FORMATS = ('pdf', 'xlsx')
RELATIVE = {
    'last-quarter': ('quarter', -1), 'this-quarter': ('quarter', 0),
    'last-month': ('month', -1), 'this-month': ('month', 0),
    'last-year': ('year', -1), 'this-year': ('year', 0),
    }


class ReportError(Exception):
    "A problem to report to the user in one line."


def add_parser(subparsers):
    parser = subparsers.add_parser('report',
        help="write assessment reports (PDF, XLSX) for scheduled runs",
        description=__doc__.split('\n\n')[0])
    kinds = parser.add_subparsers(dest='report', required=True)

    def common(sub):
        tryton_env.add_arguments(sub)
        sub.add_argument('-f', '--format', default='pdf,xlsx',
            help="pdf, xlsx or pdf,xlsx (default)")
        sub.add_argument('-o', '--output', default='.',
            help="directory of the files (default: current directory)")
        sub.set_defaults(func=run)

    sub = kinds.add_parser('district-table',
        help="the district assessment table of a period")
    sub.add_argument('--period', required=True,
        help="2026Q1, 2026H1, 2026-03, 2026, YYYY-MM-DD:YYYY-MM-DD or "
        + ', '.join(RELATIVE))
    sub.add_argument('--compute', action='store_true',
        help="create the period if needed and compute its draft table "
        "from the current data first")
    sub.add_argument('--publish', action='store_true',
        help="publish the table (final: it never changes again)")
    common(sub)

    sub = kinds.add_parser('credit',
        help="the maintenance units' credit grades of a year")
    sub.add_argument('--year', required=True,
        help="the year, or last-year / this-year")
    sub.add_argument('--evaluate', action='store_true',
        help="evaluate the units of the year again first (drafts only)")
    sub.add_argument('--publish', action='store_true',
        help="publish the evaluations of the year (final)")
    common(sub)

    sub = kinds.add_parser('brief',
        help="the monthly safety brief of a district or of the city")
    sub.add_argument('--region', default=None,
        help="code of a district or of the city (default: the city)")
    sub.add_argument('--month', default='last-month',
        help="YYYY-MM, last-month (default) or this-month")
    common(sub)

    sub = kinds.add_parser('elevator',
        help="the full record of an elevator")
    sub.add_argument('--code', required=True,
        help="registration code, rescue code or public token")
    common(sub)


def resolve_period(text, today=None):
    "(kind, start, end) of a period name, relative ones from today."
    from trytond.modules.elevator_assessment.common import (
        add_months, parse_period, period_bounds)
    today = today or dt.date.today()
    if text in RELATIVE:
        kind, shift = RELATIVE[text]
        months = {'month': 1, 'quarter': 3, 'year': 12}[kind]
        start, _ = period_bounds(kind, today)
        return (kind, *period_bounds(kind,
                add_months(start, shift * months)))
    try:
        return parse_period(text)
    except ValueError:
        raise ReportError(f"unknown period {text!r}: use 2026Q1, 2026H1, "
            "2026-03, 2026, YYYY-MM-DD:YYYY-MM-DD or "
            + ', '.join(RELATIVE))


def run(args):
    formats = [f.strip().lower() for f in args.format.split(',') if f]
    if not formats or set(formats) - set(FORMATS):
        print(f"elevator report: unknown format {args.format!r}",
            file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    readonly = not any(getattr(args, name, False)
        for name in ['compute', 'publish', 'evaluate'])
    from trytond.exceptions import UserError
    try:
        with tryton_env.transaction(args.database, config_file=args.config,
                readonly=readonly) as pool:
            module = pool.get('ir.module').search([
                    ('name', '=', 'elevator_assessment'),
                    ('state', '=', 'activated')])
            if not module:
                raise ReportError("the module elevator_assessment is not "
                    f"activated in database {args.database!r}")
            paths = REPORTS[args.report](pool, args, formats, output)
    except ReportError as exception:
        print(f"elevator report: {exception}", file=sys.stderr)
        return 1
    except UserError as exception:
        print(f"elevator report: {exception.message}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def _write(output, stem, kind, formats, *subject):
    from trytond.modules.elevator_assessment.report import render
    paths = []
    for fmt in formats:
        path = output / f'{stem}.{fmt}'
        path.write_bytes(render(kind, fmt, *subject))
        paths.append(path)
    return paths


def district_table(pool, args, formats, output):
    Period = pool.get('elevator.assessment.period')
    kind, start, end = resolve_period(args.period)
    if args.compute:
        period = Period.get_or_create(kind, start, end)
        if period.state == 'draft':
            Period.compute([period])
    else:
        periods = Period.search([
                ('start_date', '=', start), ('end_date', '=', end)])
        if not periods:
            raise ReportError(f"no assessment table for {start} to {end} "
                "(--compute makes one)")
        period, = periods
    if not period.computed_at:
        raise ReportError(f"the table {period.name} is not computed "
            "(--compute)")
    if args.publish and period.state == 'draft':
        Period.publish([period])
    period = Period(period.id)
    stem = f'district-table-{start.isoformat()}-{end.isoformat()}'
    return _write(output, stem, 'district_table', formats, period)


def credit(pool, args, formats, output):
    Evaluation = pool.get('elevator.credit.evaluation')
    today = dt.date.today()
    year = {'last-year': today.year - 1, 'this-year': today.year}.get(
        args.year)
    if year is None:
        if not args.year.isdigit():
            raise ReportError(f"unknown year {args.year!r}")
        year = int(args.year)
    published = Evaluation.search([('year', '=', year),
            ('state', '=', 'published')])
    if args.evaluate and not published:
        Evaluation.evaluate(year)
    evaluations = Evaluation.search([('year', '=', year)])
    if not evaluations:
        raise ReportError(f"no credit evaluation for {year} "
            "(--evaluate makes them)")
    if args.publish:
        drafts = [e for e in evaluations if e.state == 'draft']
        if drafts:
            Evaluation.publish(drafts)
        evaluations = Evaluation.search([('year', '=', year)])
    return _write(output, f'credit-grades-{year}', 'credit_grades',
        formats, evaluations)


def brief(pool, args, formats, output):
    Region = pool.get('elevator.region')
    if args.region:
        regions = Region.search([('code', '=', args.region)])
    else:
        regions = Region.search([('level', '=', 'city')], limit=1)
    if not regions or regions[0].level not in {'city', 'district', 'zone'}:
        raise ReportError(f"no city or district with code {args.region!r}")
    region, = regions
    kind, start, _ = resolve_period(args.month)
    if kind != 'month':
        raise ReportError(f"{args.month!r} is not a month")
    stem = f'safety-brief-{region.code}-{start:%Y-%m}'
    return _write(output, stem, 'brief', formats, region, start.year,
        start.month)


def elevator(pool, args, formats, output):
    Elevator = pool.get('elevator.elevator')
    code = args.code.strip()
    record = Elevator.find_by_code(code)
    if not record:
        raise ReportError(f"no elevator with code {code!r}")
    return _write(output, f'elevator-{record.registration_code}',
        'elevator_record', formats, record)


REPORTS = {
    'district-table': district_table,
    'credit': credit,
    'brief': brief,
    'elevator': elevator,
    }
