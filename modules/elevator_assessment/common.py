"""What the district tables, the credit evaluation, the dashboards and the
reports share: periods in Putian's local time, the scoring of a value
against its target and the ranking."""
import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from trytond.modules.elevator import clock
from trytond.pool import Pool

# Putian keeps China Standard Time: periods are local dates, time stamps in
# the database are naive UTC (as Tryton stores them).
LOCAL_TZ = ZoneInfo('Asia/Shanghai')

PERIOD_KINDS = [
    ('quarter', "Quarter"),
    ('month', "Month"),
    ('half_year', "Half Year"),
    ('year', "Year"),
    ('custom', "Custom"),
    ]
STATES = [
    ('draft', "Draft"),
    ('published', "Published"),
    ]
DIRECTIONS = [
    ('higher', "Higher Is Better"),
    ('lower', "Lower Is Better"),
    ]
GRADES = [
    (None, ""),
    ('A', "A"),
    ('B', "B"),
    ('C', "C"),
    ('D', "D"),
    ('not_rated', "Not Rated"),
    ]
SCORE_DIGITS = 2


def utc_start(date):
    "The naive UTC time stamp of local midnight starting `date`."
    local = dt.datetime.combine(date, dt.time(), tzinfo=LOCAL_TZ)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def utc_now():
    "Naive UTC now, to the second: the platform's clock."
    return clock.now()


def local_date(timestamp):
    "The local date of a naive UTC time stamp."
    return timestamp.replace(tzinfo=dt.timezone.utc).astimezone(
        LOCAL_TZ).date()


def local_time(timestamp):
    "A naive UTC time stamp as naive local time (for printing)."
    if timestamp is None:
        return None
    return timestamp.replace(tzinfo=dt.timezone.utc).astimezone(
        LOCAL_TZ).replace(tzinfo=None)


def add_months(date, months):
    "First day of the month `months` after the month of date."
    month = date.month - 1 + months
    return dt.date(date.year + month // 12, month % 12 + 1, 1)


def period_bounds(kind, date):
    """(start, end) local dates of the period of `kind` holding date
    (end included)."""
    if kind == 'month':
        start = date.replace(day=1)
        months = 1
    elif kind == 'quarter':
        start = dt.date(date.year, (date.month - 1) // 3 * 3 + 1, 1)
        months = 3
    elif kind == 'half_year':
        start = dt.date(date.year, 1 if date.month <= 6 else 7, 1)
        months = 6
    elif kind == 'year':
        start = dt.date(date.year, 1, 1)
        months = 12
    else:
        raise ValueError(kind)
    return start, add_months(start, months) - dt.timedelta(days=1)


def period_name(kind, start, end):
    "The Chinese name of a period, as printed on the tables."
    if kind == 'quarter':
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
    if kind == 'month':
        return f"{start.year}年{start.month}月"
    if kind == 'half_year':
        return f"{start.year}年{'上' if start.month <= 6 else '下'}半年"
    if kind == 'year':
        return f"{start.year}年度"
    return f"{start.isoformat()} 至 {end.isoformat()}"


def parse_period(text):
    """'2026Q1', '2026H2', '2026-03', '2026' or 'YYYY-MM-DD:YYYY-MM-DD' as
    (kind, start, end); ValueError otherwise."""
    text = text.strip().upper()
    if ':' in text:
        first, last = text.split(':', 1)
        start = dt.date.fromisoformat(first)
        end = dt.date.fromisoformat(last)
        if end < start:
            raise ValueError(text)
        return 'custom', start, end
    if len(text) == 6 and text[4] == 'Q' and text[5] in '1234':
        year, quarter = int(text[:4]), int(text[5])
        return ('quarter', *period_bounds(
                'quarter', dt.date(year, quarter * 3 - 2, 1)))
    if len(text) == 6 and text[4] == 'H' and text[5] in '12':
        year, half = int(text[:4]), int(text[5])
        return ('half_year', *period_bounds(
                'half_year', dt.date(year, half * 6 - 5, 1)))
    if len(text) == 7 and text[4] == '-':
        year, month = int(text[:4]), int(text[5:])
        return 'month', *period_bounds('month', dt.date(year, month, 1))
    if len(text) == 4 and text.isdigit():
        return 'year', *period_bounds('year', dt.date(int(text), 1, 1))
    raise ValueError(text)


def round_half_up(value, digits=SCORE_DIGITS):
    """Round as spreadsheets' ROUND does (halves away from zero), so that
    the formulas of the XLSX exports give the stored figures."""
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(float(value))).quantize(
            quantum, rounding=ROUND_HALF_UP))


def score(value, direction, target, zero_at):
    """The score (0-100, rounded to SCORE_DIGITS) of value: full at the
    target and beyond it, nothing at zero_at and beyond it, linear in
    between. None without a value."""
    if value is None or target is None:
        return None
    if zero_at is None or zero_at == target:
        if direction == 'lower':
            full = value <= target
        else:
            full = value >= target
        return 100.0 if full else 0.0
    if direction == 'lower':
        raw = (zero_at - value) / (zero_at - target) * 100
    else:
        raw = (value - zero_at) / (target - zero_at) * 100
    return round_half_up(min(100.0, max(0.0, raw)))


def total(scores_weights):
    """The total (0-100) of [(score, weight)]: the average of the scores
    weighted by the weights, over the indicators that have a score (an
    indicator without data is left out and the others weigh more).
    None when no indicator has a score."""
    present = [(s, w) for s, w in scores_weights
        if s is not None and w]
    weights = sum(w for _, w in present)
    if not weights:
        return None
    return round_half_up(sum(s * w for s, w in present) / weights)


def ranks(values):
    """{key: rank} of {key: total}: 1 for the highest total, equal totals
    share a rank and the next rank skips (1, 2, 2, 4), like RANK() of a
    spreadsheet; keys without a total get no rank."""
    ordered = sorted((v for v in values.values() if v is not None),
        reverse=True)
    result = {}
    for key, value in values.items():
        result[key] = (ordered.index(value) + 1
            if value is not None else None)
    return result


def grade(value, thresholds):
    """The credit grade of a score: thresholds (a, b, c) are the lowest
    scores of A, B and C; below c is D."""
    if value is None:
        return None
    a, b, c = thresholds
    if value >= a:
        return 'A'
    if value >= b:
        return 'B'
    if value >= c:
        return 'C'
    return 'D'


def model(name):
    "The model if its module is activated in this database, else None."
    try:
        return Pool().get(name)
    except KeyError:
        return None


def dumps(value):
    "JSON of the inputs kept with a computation."
    return json.dumps(value, ensure_ascii=False, sort_keys=True,
        default=str, indent=1)
