"""Parsing and validation of the device payloads (DESIGN §5, GB/T 24476 names).

Pure functions without database access: each returns a plain dict of typed
values or raises `Invalid` with the dead-letter reason and a detail that
says which field is wrong and why. Used by the MQTT bridge and the HTTPS
push API alike.
"""
import datetime as dt
import json
import math
import zoneinfo

KINDS = ('running', 'periodic', 'fault', 'status')
# Devices in Putian stamp local time; a stamp without offset is read so.
LOCAL_TZ = zoneinfo.ZoneInfo('Asia/Shanghai')
MAX_URL = 1000
MAX_FAULT_ID = 64


class Invalid(ValueError):
    "A message the platform cannot take; goes to the dead letters."

    def __init__(self, reason, detail):
        super().__init__(f'{reason}: {detail}')
        self.reason = reason
        self.detail = detail[:250]


def decode(payload, max_bytes):
    "The JSON object of a raw payload (UTF-8, RFC 8259)."
    if len(payload) > max_bytes:
        raise Invalid('too_large',
            f'{len(payload)} bytes, more than {max_bytes}')
    try:
        if not isinstance(payload, str):
            payload = bytes(payload)
            if payload[:3] == b'\xef\xbb\xbf':  # a byte order mark
                payload = payload[3:]
            payload = payload.decode('utf-8')
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exception:
        raise Invalid('not_json', str(exception))
    if not isinstance(data, dict):
        raise Invalid('not_json', 'the payload is not a JSON object')
    return data


def timestamp(data, name, required=True):
    """UTC naive datetime (how Tryton stores timestamps) of an ISO 8601
    string with offset, or of epoch seconds / milliseconds."""
    value = data.get(name)
    if type(value) is str and len(value) <= 40:
        # The usual case first, quickly.
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Invalid('invalid', f'{name} {value!r} is not ISO 8601')
        offset = stamp.utcoffset()
        if offset is None:
            stamp = stamp.replace(tzinfo=LOCAL_TZ)
            offset = stamp.utcoffset()
        try:
            return stamp.replace(tzinfo=None) - offset
        except OverflowError:
            raise Invalid('invalid', f'{name} {value!r} is out of range')
    if value is None:
        if required:
            raise Invalid('invalid', f'{name} is missing')
        return None
    if isinstance(value, bool):
        raise Invalid('invalid', f'{name} must be a date and time')
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise Invalid('invalid', f'{name} is not a valid epoch time')
        seconds = value / 1000 if value > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc
                ).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise Invalid('invalid', f'{name} is not a valid epoch time')
    raise Invalid('invalid', f'{name} must be an ISO 8601 string')


def integer(data, name, minimum=None, maximum=None, required=False):
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid('invalid', f'{name} is missing')
        return None
    # JSON true is not 1; a float with a fraction is not an integer.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid('invalid', f'{name} must be an integer')
    if isinstance(value, float):
        if not value.is_integer():
            raise Invalid('invalid', f'{name} must be an integer')
        value = int(value)
    if (minimum is not None and value < minimum) or (
            maximum is not None and value > maximum):
        raise Invalid('invalid', f'{name}={value} is out of range '
            f'[{minimum}, {maximum}]')
    return value


def number(data, name, minimum=None, maximum=None, required=False):
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid('invalid', f'{name} is missing')
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise Invalid('invalid', f'{name} must be a number')
    if (minimum is not None and value < minimum) or (
            maximum is not None and value > maximum):
        raise Invalid('invalid', f'{name}={value} is out of range')
    return float(value)


def text(data, name, maximum, required=False):
    value = data.get(name)
    if value is None or value == '':
        if required:
            raise Invalid('invalid', f'{name} is missing')
        return None
    if isinstance(value, bool):
        raise Invalid('invalid', f'{name} must be a string')
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or len(value) > maximum:
        raise Invalid('invalid',
            f'{name} must be a string of at most {maximum} characters')
    return value


def url(data, name):
    value = text(data, name, MAX_URL)
    if value is not None and not value.startswith(('http://', 'https://')):
        raise Invalid('invalid', f'{name} must be an http(s) URL')
    return value


# Integer fields of `running`: JSON name, our name, minimum, maximum.
RUNNING_INTEGERS = (
    ('serviceMode', 'service_mode', 0, 7),
    ('carDirection', 'car_direction', 0, 2),
    ('carStatus', 'car_status', 0, 1),
    ('doorZone', 'door_zone', 0, 1),
    ('carPosition', 'car_position', -50, 300),
    ('passengerStatus', 'passenger_status', 0, 1),
    ('doorStatus', 'door_status', 0, 6),
    )
MAX_SPEED = 25


def parse_running(data):
    # The most frequent message: plain values are taken inline, anything
    # else goes through integer() / number(), which convert or explain.
    values = {'collect_time': timestamp(data, 'collectTime')}
    get = data.get
    for key, name, minimum, maximum in RUNNING_INTEGERS:
        value = get(key)
        if value is None or (type(value) is int
                and minimum <= value <= maximum):
            values[name] = value
        else:
            values[name] = integer(data, key, minimum, maximum)
    speed = get('speed')
    if type(speed) is float and 0 <= speed <= MAX_SPEED:
        values['speed'] = speed
    else:
        values['speed'] = number(data, 'speed', 0, MAX_SPEED)
    return values


def parse_periodic(data):
    return {
        'collect_time': timestamp(data, 'collectTime'),
        'run_count': integer(data, 'totalRunCount', 0, 2**62, True),
        'running_hours': number(data, 'totalRunningTime', 0, 1e7),
        'door_count': integer(data, 'doorOpenCount', 0, 2**62),
        'mileage': number(data, 'totalRunMileage', 0, 1e12),
        'rope_bend': integer(data, 'ropeBendCount', 0, 2**62),
        }


def parse_fault(data):
    fault_id = text(data, 'faultId', MAX_FAULT_ID, required=True)
    return {
        'fault_id': fault_id,
        'fault_no': str(integer(data, 'faultNo', 0, 9999, required=True)),
        'recovery': integer(data, 'recovery', 0, 1) or 0,
        'occurred_at': timestamp(data, 'occurTime'),
        'car_position': integer(data, 'carPosition', -50, 300),
        'image_url': url(data, 'imageUrl'),
        'video_url': url(data, 'videoUrl'),
        }


def parse_status(data):
    online = data.get('online')
    if not isinstance(online, bool):
        raise Invalid('invalid', 'online must be true or false')
    return {
        'online': online,
        'ts': timestamp(data, 'ts', required=False),
        }


PARSERS = {
    'running': parse_running,
    'periodic': parse_periodic,
    'fault': parse_fault,
    'status': parse_status,
    }


def message_time(kind, values):
    "The device's own time of a parsed message, for the future check."
    return values.get('collect_time') or values.get('occurred_at') \
        or values.get('ts')


def local_date(stamp):
    "Date in Putian of a UTC naive timestamp."
    return stamp.replace(tzinfo=dt.timezone.utc).astimezone(LOCAL_TZ).date()
