"Shared names and helpers of maintenance and repair records."
import datetime as dt
import math
from zoneinfo import ZoneInfo

from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError

# TSG T5002-2017: a visit of a type covers the items of the lower types.
MAINTENANCE_TYPES = [
    ('half_monthly', "Half-Monthly"),
    ('quarterly', "Quarterly"),
    ('half_yearly', "Half-Yearly"),
    ('yearly', "Yearly"),
    ]
TYPE_RANK = {t: i for i, (t, _) in enumerate(MAINTENANCE_TYPES, 1)}
TYPE_MONTHS = {'quarterly': 3, 'half_yearly': 6, 'yearly': 12}

# The annexes of TSG T5002-2017.
EQUIPMENTS = [
    ('traction', "Traction and Positive-Drive Lift"),
    ('hydraulic', "Hydraulic Lift"),
    ('dumbwaiter', "Dumbwaiter"),
    ('escalator', "Escalator and Moving Walk"),
    ]
CATEGORY_EQUIPMENT = {
    '3110': 'traction',
    '3120': 'traction',
    '3130': 'traction',
    '3200': 'hydraulic',
    '3310': 'escalator',
    '3320': 'escalator',
    '3400': 'dumbwaiter',
    '3500': 'traction',
    '3600': 'traction',
    }

LINE_RESULTS = [
    (None, ""),
    ('normal', "Normal"),
    ('adjusted', "Adjusted"),
    ('replaced', "Replaced"),
    ('not_applicable', "Not Applicable"),
    ('abnormal', "Abnormal"),
    ]

# Putian keeps China Standard Time: planned dates are local dates.
LOCAL_TZ = ZoneInfo('Asia/Shanghai')
# Clocks of phones and server disagree a little.
CLOCK_SKEW = dt.timedelta(minutes=5)


def local_date(value):
    "The local (Putian) date of a naive UTC datetime."
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc).astimezone(
            LOCAL_TZ).date()
    return value


def to_date(value):
    "A date from what an aggregate returned (SQLite gives strings)."
    if value is None or isinstance(value, dt.date) and not isinstance(
            value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def to_datetime(value):
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def add_months(date, months):
    "date plus a number of months, on the last day when the day is missing."
    month = date.month - 1 + months
    year = date.year + month // 12
    month = month % 12 + 1
    for day in (date.day, 30, 29, 28):
        try:
            return date.replace(year=year, month=month, day=day)
        except ValueError:
            continue


def months_between(start, date):
    "Whole months from start to date."
    months = (date.year - start.year) * 12 + date.month - start.month
    if date.day < start.day:
        months -= 1
    return months


def period_start(start, date, months):
    "Start of the period of `months` months, counted from start, holding date."
    return add_months(start, (months_between(start, date) // months) * months)


def distance_m(lat1, lon1, lat2, lon2):
    "Great-circle distance in metres, or None without both positions."
    if None in (lat1, lon1, lat2, lon2):
        return None
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = (math.sin(dp / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2)
    return 2 * r * math.asin(min(1, math.sqrt(a)))


def parse_position(position, record_name):
    """Check the position sent by the phone: {latitude, longitude, time,
    technicians}; return (latitude, longitude, naive UTC datetime or None,
    technician ids or None). Bad values raise a ValidationError."""
    if position is None:
        return None, None, None, None
    if not isinstance(position, dict):
        raise ValidationError(gettext(
                'elevator_maintenance.msg_position_invalid',
                record=record_name))
    latitude = position.get('latitude')
    longitude = position.get('longitude')
    if (latitude is None) != (longitude is None):
        raise ValidationError(gettext(
                'elevator_maintenance.msg_position_invalid',
                record=record_name))
    if latitude is not None:
        try:
            latitude, longitude = float(latitude), float(longitude)
        except (TypeError, ValueError):
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_position_invalid',
                    record=record_name))
        if (not -90 <= latitude <= 90 or not -180 <= longitude <= 180
                or math.isnan(latitude) or math.isnan(longitude)):
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_position_invalid',
                    record=record_name))
    time = position.get('time')
    if time is not None:
        time = parse_client_time(time, record_name)
    technicians = position.get('technicians')
    if technicians is not None:
        if (not isinstance(technicians, list)
                or not all(isinstance(t, int) and not isinstance(t, bool)
                    for t in technicians)):
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_position_invalid',
                    record=record_name))
    return latitude, longitude, time, technicians


def parse_client_time(value, record_name):
    """A time sent by the phone (ISO 8601 with offset, or a datetime) as a
    naive UTC datetime."""
    try:
        if isinstance(value, dt.datetime):
            result = value
        elif isinstance(value, str) and len(value) <= 40:
            result = dt.datetime.fromisoformat(value.replace('Z', '+00:00'))
        else:
            raise ValueError(value)
    except ValueError:
        raise ValidationError(gettext(
                'elevator_maintenance.msg_time_invalid',
                record=record_name, time=str(value)[:40]))
    if result.tzinfo is not None:
        result = result.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return result.replace(microsecond=0)
