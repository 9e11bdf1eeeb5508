"""The clock of the platform: `now()`.

Time stamps, deadlines and escalations read the time here: naive UTC to
the second, as Tryton stores date-times. Tests and scenarios stop the
clock with `freeze()` and move it with `travel()` to simulate the minutes
of a rescue; production never does either.
"""
import datetime as dt

_offset = dt.timedelta(0)
_frozen = None


def _real_now():
    return dt.datetime.now(dt.timezone.utc).replace(
        tzinfo=None, microsecond=0)


def now():
    "Current UTC time (naive, to the second), as simulated by tests."
    if _frozen is not None:
        return _frozen
    return _real_now() + _offset


def freeze(at=None):
    "Stop the clock at `at` (default: now) (tests only)."
    global _frozen
    _frozen = (at or now()).replace(microsecond=0)
    return _frozen


def travel(**delta):
    "Move the clock forward (tests only): travel(minutes=6)."
    global _offset, _frozen
    if _frozen is not None:
        _frozen += dt.timedelta(**delta)
    else:
        _offset += dt.timedelta(**delta)
    return now()


def reset():
    "Back to the real time (tests only)."
    global _offset, _frozen
    _offset = dt.timedelta(0)
    _frozen = None
