"""GET /{db}/elevator/health: what the operations team watches
(docs/operations.md), as JSON for a monitoring system.

- database: reachable, and the time of the check;
- ingestion (the MQTT bridges and the HTTPS push): when the last batch was
  committed (the newest `updated_at` of the live status) and the delay of
  the data (commit time minus the device's `collectTime` of the most
  recently updated elevators, median and 95th percentile: broker backlog
  plus bridge queue, what "bridge lag" means to a user), devices by state;
- dead letters of the last hour and day, by reason;
- the task queue (ir.queue): tasks waiting, the age of the oldest, tasks
  started long ago and never finished (a worker died or the task failed);
- cron: active crons whose next call is overdue (trytond-cron is not
  running, or a cron hangs), the last run, open errors;
- bridges: the MQTT bridges as they report themselves every few seconds
  (elevator.iot.bridge): connected, subscribed, last message per lane,
  backlog, shed counts, heartbeat round trip; critical when a bridge's
  heartbeat (a message it sends itself through its subscription) has not
  come back for `bridge_heartbeat_critical` seconds (30): its intake is
  deaf, whatever its connection says. Bridges silent for
  `bridge_forget_after` seconds (a day) are left out.

Each part has a status, `ok`, `warning` or `critical`; the answer's status
is the worst. HTTP 200 unless critical (503), so that a plain HTTP check
alerts on what needs someone now and the JSON tells the rest.

Only counts and times leave, nothing personal. With a token configured
(`[elevator_health] token`, i.e. TRYTOND_ELEVATOR_HEALTH__TOKEN), requests
must send `Authorization: Bearer <token>`; nginx also limits the path to
the monitoring network (docker/nginx/templates/). Thresholds, in seconds
or counts, are in the same section (see THRESHOLDS).
"""
import datetime as dt
import hmac
import json
import logging
from http import HTTPStatus

from sql import Literal, Null
from sql.aggregate import Count, Max, Min

from trytond import config
from trytond.protocols.wrappers import Response, with_pool
from trytond.transaction import Transaction
from trytond.wsgi import app

logger = logging.getLogger(__name__)

PATH = '/<database_name>/elevator/health'
SECTION = 'elevator_health'
THRESHOLDS = {
    # seconds since the last committed ingestion batch
    'ingest_stale_warning': 120,
    'ingest_stale_critical': 600,
    # median delay of the data (commit time minus device time), seconds
    'delay_warning': 60,
    'delay_critical': 300,
    # dead letters in the last hour
    'dead_letters_warning': 100,
    # age of the oldest waiting task, seconds
    'queue_age_warning': 300,
    'queue_age_critical': 1800,
    # a task started this long ago and not finished is stuck, seconds
    'queue_stuck_after': 3600,
    # a cron overdue by this long, seconds
    'cron_late_warning': 600,
    'cron_late_critical': 3600,
    # seconds since a bridge's heartbeat last came back
    'bridge_heartbeat_critical': 30,
    # a bridge that has not reported for this long is gone, seconds
    'bridge_forget_after': 86400,
    }
# Recently updated elevators whose delay is measured.
DELAY_SAMPLE = 1000
# Device times this far from the commit are clocks, not delays: left out.
DELAY_PLAUSIBLE = dt.timedelta(hours=1)
LEVELS = ['ok', 'warning', 'critical']


def threshold(name):
    return config.getfloat(SECTION, name, default=THRESHOLDS[name])


def _worst(*statuses):
    return max(statuses, key=LEVELS.index)


def _level(value, warning, critical=None):
    if value is None:
        return 'ok'
    if critical is not None and value >= threshold(critical):
        return 'critical'
    if value >= threshold(warning):
        return 'warning'
    return 'ok'


def _seconds(delta):
    return None if delta is None else round(delta.total_seconds(), 3)


def _datetime(value):
    """A date-time read from the database: SQLite gives aggregates (MAX,
    MIN) as text, PostgreSQL as datetime."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def _iso(value):
    return None if value is None else value.isoformat() + 'Z'


def _percentile(values, share):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(share * (len(values) - 1))))]


def _authorized(request):
    token = config.get(SECTION, 'token', default=None)
    if not token:
        return True
    header = request.headers.get('Authorization', '')
    scheme, _, given = header.partition(' ')
    return scheme.lower() == 'bearer' and hmac.compare_digest(
        given.strip().encode(), token.encode())


def _json(data, status=HTTPStatus.OK):
    response = Response(json.dumps(data, ensure_ascii=False, indent=1),
        status=status, content_type='application/json; charset=utf-8')
    response.headers['Cache-Control'] = 'no-store'
    return response


@app.route(PATH, methods=['GET'])
@with_pool
def health(request, pool):
    if not _authorized(request):
        return _json({'status': 'critical', 'error': 'unauthorized'},
            HTTPStatus.UNAUTHORIZED)
    database_name = pool.database_name
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    try:
        with Transaction().start(database_name, 0, readonly=True):
            report = check(pool, now)
    except Exception:
        # The database (or the pool's connection to it) is gone. The
        # reason goes to the server's log only: an exception's text may
        # name tables, hosts or values, and is never sent to a client.
        logger.warning('health check of %s failed', database_name,
            exc_info=True)
        report = {
            'status': 'critical',
            'database': {'status': 'critical', 'ok': False,
                'error': 'unavailable'},
            }
    report['checked_at'] = _iso(now)
    report['database_name'] = database_name
    return _json(report, HTTPStatus.SERVICE_UNAVAILABLE
        if report['status'] == 'critical' else HTTPStatus.OK)


def check(pool, now):
    "The health report of the database of the current transaction."
    cursor = Transaction().connection.cursor()
    parts = {
        'database': {'status': 'ok', 'ok': True},
        'ingestion': ingestion(pool, cursor, now),
        'dead_letters': dead_letters(pool, cursor, now),
        'queue': queue(pool, cursor, now),
        'cron': cron(pool, cursor, now),
        'bridges': bridges(pool, cursor, now),
        }
    status = _worst(*(p['status'] for p in parts.values()))
    return {'status': status, **parts}


def ingestion(pool, cursor, now):
    Status = pool.get('elevator.iot.status')
    Device = pool.get('elevator.iot.device')
    status = Status.__table__()
    device = Device.__table__()

    cursor.execute(*device.select(device.state, Count(Literal(1)),
            group_by=[device.state]))
    devices = dict(cursor)
    cursor.execute(*status.select(Max(status.updated_at)))
    last, = cursor.fetchone()
    last = _datetime(last)
    # The delay of the data of the elevators updated last.
    cursor.execute(*status.select(status.updated_at, status.collect_time,
            where=(status.updated_at != Null)
            & (status.collect_time != Null),
            order_by=[status.updated_at.desc], limit=DELAY_SAMPLE))
    delays = [(_datetime(updated) - _datetime(collected)).total_seconds()
        for updated, collected in cursor
        if abs(updated - collected) <= DELAY_PLAUSIBLE]
    stale = _seconds(now - last) if last else None
    median = _percentile(delays, 0.5)
    heard = devices.get('online', 0) + devices.get('offline', 0)
    result = {
        'last_batch_at': _iso(last),
        'last_batch_age_seconds': stale,
        'delay_p50_seconds': None if median is None else round(median, 3),
        'delay_p95_seconds': (None if not delays
            else round(_percentile(delays, 0.95), 3)),
        'delay_sample': len(delays),
        'devices': {state: devices.get(state, 0) for state in [
                'registered', 'online', 'offline', 'retired']},
        }
    # Nothing to expect before a device was ever heard of.
    status = _worst(
        _level(stale, 'ingest_stale_warning', 'ingest_stale_critical')
        if heard else 'ok',
        _level(median, 'delay_warning', 'delay_critical'))
    return {'status': status, **result}


def dead_letters(pool, cursor, now):
    DeadLetter = pool.get('elevator.iot.dead_letter')
    table = DeadLetter.__table__()
    day = now - dt.timedelta(days=1)
    hour = now - dt.timedelta(hours=1)
    cursor.execute(*table.select(table.reason, Count(Literal(1)),
            where=table.received_at >= day, group_by=[table.reason]))
    by_reason = dict(cursor)
    cursor.execute(*table.select(Count(Literal(1)),
            where=table.received_at >= hour))
    last_hour, = cursor.fetchone()
    return {
        'status': _level(last_hour, 'dead_letters_warning'),
        'last_hour': last_hour,
        'last_day': sum(by_reason.values()),
        'last_day_by_reason': dict(sorted(by_reason.items())),
        }


def queue(pool, cursor, now):
    Queue = pool.get('ir.queue')
    table = Queue.__table__()
    waiting = (table.dequeued_at == Null) & (
        (table.scheduled_at == Null) | (table.scheduled_at <= now))
    cursor.execute(*table.select(Count(Literal(1)),
            Min(table.enqueued_at), where=waiting))
    pending, oldest = cursor.fetchone()
    oldest = _datetime(oldest)
    cursor.execute(*table.select(Count(Literal(1)),
            where=(table.dequeued_at == Null) & (table.scheduled_at > now)))
    scheduled, = cursor.fetchone()
    stuck_before = now - dt.timedelta(seconds=threshold('queue_stuck_after'))
    cursor.execute(*table.select(
            Count(Literal(1)),
            where=(table.dequeued_at != Null) & (table.finished_at == Null)
            & (table.dequeued_at >= stuck_before)))
    running, = cursor.fetchone()
    cursor.execute(*table.select(
            Count(Literal(1)),
            where=(table.dequeued_at != Null) & (table.finished_at == Null)
            & (table.dequeued_at < stuck_before)))
    stuck, = cursor.fetchone()
    age = _seconds(now - oldest) if oldest else None
    return {
        'status': _worst(
            _level(age, 'queue_age_warning', 'queue_age_critical'),
            'warning' if stuck else 'ok'),
        'pending': pending,
        'oldest_pending_age_seconds': age,
        'scheduled': scheduled,
        'running': running,
        'stuck': stuck,
        'worker': config.getboolean('queue', 'worker', default=False),
        }


def cron(pool, cursor, now):
    Cron = pool.get('ir.cron')
    Log = pool.get('ir.cron.log')
    Error = pool.get('ir.error')
    table = Cron.__table__()
    log = Log.__table__()
    error = Error.__table__()
    cursor.execute(*table.select(table.id, table.method, table.next_call,
            table.create_date, where=table.active == Literal(True),
            order_by=[table.id.asc]))
    crons = cursor.fetchall()
    late = []
    for id_, method, next_call, created in crons:
        # A cron never run is due since it was created.
        due = _datetime(next_call or created)
        if due is None:
            continue
        overdue = (now - due).total_seconds()
        if overdue >= threshold('cron_late_warning'):
            late.append({'id': id_, 'method': method,
                    'due_at': _iso(due), 'late_seconds': round(overdue)})
    cursor.execute(*log.select(Max(log.ended)))
    last_run, = cursor.fetchone()
    last_run = _datetime(last_run)
    cursor.execute(*error.select(Count(Literal(1)),
            where=error.state == 'open'))
    open_errors, = cursor.fetchone()
    worst = max((c['late_seconds'] for c in late), default=None)
    return {
        'status': _level(worst, 'cron_late_warning', 'cron_late_critical'),
        'active': len(crons),
        'late': late,
        'last_run_at': _iso(last_run),
        'open_errors': open_errors,
        }


def bridges(pool, cursor, now):
    Bridge = pool.get('elevator.iot.bridge')
    table = Bridge.__table__()
    forget = now - dt.timedelta(seconds=threshold('bridge_forget_after'))
    cursor.execute(*table.select(table.name, table.hostname,
            table.reported_at, table.connected, table.subscribed,
            table.heartbeat_at, table.heartbeat_rtt, table.backlog,
            table.shed, table.lanes,
            where=table.reported_at >= forget, order_by=[table.name.asc]))
    result = []
    worst = 'ok'
    for (name, hostname, reported, connected, subscribed, heartbeat, rtt,
            backlog, shed, state) in cursor.fetchall():
        try:
            state = json.loads(state or '{}')
        except ValueError:
            state = {}
        if state.get('stopped'):
            # Stopped on purpose: nothing to expect from it.
            status = 'ok'
        else:
            # A bridge that stopped reporting (killed) has no heartbeat
            # either: its age grows from the last one known, or from the
            # bridge's start when none ever came back.
            since = heartbeat
            if since is None:
                try:
                    since = dt.datetime.fromisoformat(
                        state['started_at'].rstrip('Z'))
                except (KeyError, AttributeError, ValueError):
                    since = reported
            age = now - since
            status = ('critical' if age.total_seconds()
                >= threshold('bridge_heartbeat_critical') else 'ok')
        worst = _worst(worst, status)
        result.append({
                'status': status,
                'client_id': name,
                'host': hostname,
                'stopped': bool(state.get('stopped')),
                'reported_at': _iso(reported),
                'connected': bool(connected),
                'subscribed': bool(subscribed),
                'heartbeat_at': _iso(heartbeat),
                'heartbeat_age_seconds': _seconds(now - heartbeat)
                if heartbeat else None,
                'heartbeat_rtt_seconds': rtt,
                'backlog': backlog,
                'shed': shed,
                'lanes': {lane: {k: v for k, v in values.items()
                            if k in ('connected', 'subscribed',
                                'last_message_at', 'backlog', 'shed',
                                'handled', 'heartbeat_ok_at',
                                'heartbeat_rtt_seconds', 'reconnects')}
                    for lane, values in state.get('lanes', {}).items()},
                })
    return {'status': worst, 'bridges': result}
