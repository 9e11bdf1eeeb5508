"""Ingestion of device messages: the one code path behind the MQTT bridge
and the HTTPS push API.

`Ingestor.ingest(messages)` takes a batch and applies it in ONE Tryton
transaction with set-based SQL (a handful of statements per batch, not one
per message), then commits. It either commits the whole batch or raises, so
the caller acknowledges messages only after their effect is committed.

Every effect is idempotent, so a message delivered twice (a bridge killed
after the commit and before the acknowledgement, a replay) changes nothing
the second time, and messages arriving out of order end in the same state:
- running / status: the live status row keeps the newest device time;
- periodic: per elevator and day the first and last counters (min / max);
- fault: one event per (device, faultId) by a unique constraint; a
  recovery clears it, before or after the raise arrives.
Bad messages become dead letters with the reason and the raw bytes.
"""
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sql import Cast, Expression, Literal, Null, Table, Values
from sql.aggregate import Count, Max
from sql.conditionals import Case, Coalesce, Greatest, Least
from sql.functions import Function

from . import payloads
from .payloads import Invalid

logger = logging.getLogger(__name__)

DEVICE_CACHE_SECONDS = 60
# A device's last_seen is written at most this often (seconds); the offline
# limit is minutes (elevator.iot.configuration offline_minutes).
LAST_SEEN_RESOLUTION = 60
RUNNING_COLUMNS = ['collect_time', 'service_mode', 'car_direction',
    'car_status', 'door_zone', 'car_position', 'passenger_status', 'speed',
    'door_status']
RUNNING_TYPES = {
    'collect_time': 'TIMESTAMP',
    'service_mode': 'VARCHAR',
    'car_direction': 'VARCHAR',
    'car_status': 'VARCHAR',
    'door_zone': 'BOOLEAN',
    'car_position': 'INTEGER',
    'passenger_status': 'VARCHAR',
    'speed': 'DOUBLE PRECISION',
    'door_status': 'VARCHAR',
    }


class _Excluded(Table):
    """The proposed row of an upsert. python-sql's own Excluded is quoted
    upper case, which PostgreSQL takes for another table."""

    def __init__(self):
        super().__init__('excluded')

    @property
    def alias(self):
        return 'excluded'

    @property
    def has_alias(self):
        return False


Excluded = _Excluded()


class _Returned(Expression):
    """A column of a RETURNING clause, unqualified: python-sql writes
    "a"."id" after the table's alias, which SQLite (the demo database)
    refuses; PostgreSQL takes both."""
    __slots__ = ('_name',)

    def __init__(self, name):
        super().__init__()
        self._name = name

    def __str__(self):
        return '"%s"' % self._name.replace('"', '""')

    @property
    def params(self):
        return ()


def returned(*names):
    "RETURNING columns for INSERT/UPDATE ... RETURNING on both backends."
    return [_Returned(n) for n in names]


class Unnest(Function):
    "PostgreSQL's UNNEST(array, ...): rows of parallel arrays."
    __slots__ = ()
    _function = 'UNNEST'


@dataclass
class Message:
    "One message as received, before any parsing."
    kind: str
    payload: bytes
    device_serial: str
    source: str = 'mqtt'
    topic: str = None
    received_at: dt.datetime = None  # UTC naive; set on receipt
    handle: object = None  # what the transport needs to acknowledge it


@dataclass
class Summary:
    "What a batch did, for the transport's answer and the logs."
    accepted: int = 0
    dead_letters: list = field(default_factory=list)  # (message, reason)
    new_events: int = 0
    cleared_events: int = 0


@dataclass
class DeviceInfo:
    id: int
    elevator: int
    district: int
    state: str
    vendor: int


class Ingestor:
    """Applies batches of messages to database `database`.

    One instance per process; not thread-safe (the bridge calls it from one
    thread). The Tryton configuration must be loaded before (tryton_env)."""

    def __init__(self, database, pool=None):
        from trytond.pool import Pool
        self.database = database
        if pool is None:
            pool = Pool(database)
            pool.init()
        # Inside trytond (the HTTPS push routes) the server's pool is
        # given: initialising it again would reload every module.
        self.pool = pool
        from trytond import backend
        # PostgreSQL takes the rows of a batch as arrays.
        self._arrays = backend.name == 'postgresql'
        self._devices = {}
        self._devices_loaded = 0
        self._devices_version = None
        # device id -> when this process last wrote its last_seen
        self._touched = {}
        self._touching = []
        self._faults = {}
        self._settings = None

    # --- reference data, cached between batches -------------------------
    def _load_reference(self, serials):
        now = time.monotonic()
        Device = self.pool.get('elevator.iot.device')
        Elevator = self.pool.get('elevator.elevator')
        FaultType = self.pool.get('elevator.iot.fault.type')
        Configuration = self.pool.get('elevator.iot.configuration')
        from trytond.transaction import Transaction
        cursor = Transaction().connection.cursor()
        device = Device.__table__()
        elevator = Elevator.__table__()
        query = device.join(elevator,
            condition=device.elevator == elevator.id
            ).select(device.serial, device.id, device.elevator,
                elevator.district, device.state, device.vendor)
        # A device retired, moved or deleted in the registry counts from
        # the next batch: the cache is reloaded when the table changed (an
        # indexed max and a count: about a millisecond at 30,000 devices).
        cursor.execute(*device.select(Count(device.id),
                Max(Coalesce(device.write_date, device.create_date))))
        version = tuple(cursor.fetchone())
        if (version != self._devices_version
                or now - self._devices_loaded > DEVICE_CACHE_SECONDS):
            self._devices_version = version
            cursor.execute(*query)
            self._devices = {r[0]: DeviceInfo(*r[1:]) for r in cursor}
            self._devices_loaded = now
            fault_type = FaultType.__table__()
            cursor.execute(*fault_type.select(
                    fault_type.code, fault_type.id, fault_type.reaction))
            self._faults = {code: (id_, reaction)
                for code, id_, reaction in cursor}
            config = Configuration(1)
            self._settings = (config.max_payload_bytes,
                config.future_tolerance, config.past_window)
        else:
            # A device registered since the last load is found at once.
            missing = [s for s in serials if s not in self._devices]
            if missing:
                query.where = device.serial.in_(missing)
                cursor.execute(*query)
                for row in cursor:
                    self._devices[row[0]] = DeviceInfo(*row[1:])

    # --- the batch ------------------------------------------------------
    def ingest(self, messages, now=None):
        """Apply messages in one transaction and commit. Raises when the
        database fails: then nothing of the batch is committed."""
        from trytond.transaction import Transaction
        summary = Summary()
        if not messages:
            return summary
        with Transaction().start(self.database, 0,
                context={'language': 'zh_CN'}) as transaction:
            self._read_committed(transaction)
            now = now or _utcnow()
            for message in messages:
                if message.received_at is None:
                    message.received_at = now
            self._load_reference({m.device_serial for m in messages})
            self._touching = []
            parsed = self._parse(messages, now, summary)
            self._apply(parsed, now, summary)
            self._store_dead_letters(summary.dead_letters, now)
            transaction.commit()
        # Only once committed: the devices touched need not be for a while.
        touched = time.monotonic()
        self._touched.update(dict.fromkeys(self._touching, touched))
        if len(self._touched) > 4 * len(self._devices) + 1000:
            self._touched.clear()
        summary.accepted = len(messages) - len(summary.dead_letters)
        return summary

    def _read_committed(self, transaction):
        """Batches of several bridges (or bridge workers) and pushes run
        at the same time on the same status rows. Their statements are
        upserts that keep the newest values whatever the order, so each may
        see what the others committed meanwhile: READ COMMITTED, where
        Tryton's REPEATABLE READ would fail them on every row another batch
        changed since they began."""
        if not self._arrays:
            return
        from psycopg import IsolationLevel
        connection = transaction.connection
        # Nothing of this batch is done yet: end what starting the
        # transaction may have read (the cache check) and switch.
        connection.commit()
        connection.isolation_level = IsolationLevel.READ_COMMITTED

    def check(self):
        """Raise if the ingestion cannot work at all, whatever the messages
        (database unreachable, modules not updated): reload the reference
        data in a transaction of its own."""
        from trytond.transaction import Transaction
        with Transaction().start(self.database, 0, readonly=True):
            self._devices_loaded = 0
            self._load_reference([])

    def store_failed(self, message):
        "Dead-letter a message whose processing failed unexpectedly."
        from trytond.transaction import Transaction
        with Transaction().start(self.database, 0) as transaction:
            now = _utcnow()
            message.received_at = message.received_at or now
            self._load_reference([])
            self._store_dead_letters([(message, Invalid('invalid',
                                'processing failed, see the bridge log'))],
                now)
            transaction.commit()

    def _parse(self, messages, now, summary):
        max_bytes, tolerance, past_days = self._settings
        future = now + dt.timedelta(seconds=tolerance)
        past = now - dt.timedelta(days=past_days)
        parsed = defaultdict(list)
        devices = self._devices
        parsers = payloads.PARSERS
        for message in messages:
            try:
                kind = message.kind
                if kind is None or message.device_serial is None:
                    raise Invalid('topic_mismatch', f'topic '
                        f'{message.topic!r} is not elevator/v1/'
                        '{device_sn}/{kind}')
                if kind not in parsers:
                    raise Invalid('unknown_kind',
                        f'{kind!r} is not one of {payloads.KINDS}')
                data = payloads.decode(message.payload, max_bytes)
                device = devices.get(message.device_serial)
                if device is None:
                    raise Invalid('unknown_device',
                        f'no device with serial {message.device_serial!r}')
                if device.state == 'retired':
                    raise Invalid('retired_device',
                        f'device {message.device_serial!r} is retired')
                # The device is the topic's (MQTT) or the URL's (push); a
                # payload that names another one was misrouted or forged.
                named = data.get('deviceSn')
                if named is not None and named != message.device_serial:
                    raise Invalid('topic_mismatch',
                        f'the payload is from device {str(named)[:70]!r}, '
                        f'not {message.device_serial!r}')
                values = parsers[kind](data)
                stamp = payloads.message_time(kind, values)
                if stamp is not None and stamp > future:
                    raise Invalid('future', f'{stamp.isoformat()}Z is after '
                        f'{future.isoformat()}Z')
                if kind == 'fault':
                    if values['fault_no'] not in self._faults:
                        raise Invalid('unknown_fault',
                            f'faultNo {values["fault_no"]} is not known')
                    if values['occurred_at'] is None:
                        values['occurred_at'] = message.received_at
                    elif values['occurred_at'] < past:
                        raise Invalid('too_old', 'occurTime '
                            f'{values["occurred_at"].isoformat()}Z is more '
                            f'than {past_days} days before '
                            f'{now.isoformat(timespec="seconds")}Z')
            except Invalid as invalid:
                summary.dead_letters.append((message, invalid))
                continue
            parsed[kind].append((message, device, values))
        return parsed

    def _apply(self, parsed, now, summary):
        # A device heard from is online; but a status message says itself
        # whether it is, and may be older than what is known already.
        seen = {}
        for kind, items in parsed.items():
            if kind != 'status':
                for message, device, _ in items:
                    seen[device.id] = device
        # The live rows first (the alarm lane locks status rows before
        # device rows too): a device whose row stays offline (its goodbye
        # is newer than this batch's readings) is not touched online.
        online = self._upsert_live(seen, parsed['running'], now)
        self._touch_devices({i: d for i, d in seen.items()
                if d.elevator in online}, now)
        self._upsert_status(parsed['status'], now)
        self._upsert_daily(parsed['periodic'])
        self._apply_faults(parsed['fault'], now, summary)

    # --- devices and live status ----------------------------------------
    def _touch_devices(self, devices, now):
        """The devices heard from are online, seen now. `last_seen` is
        written at most every LAST_SEEN_RESOLUTION seconds per device: a
        device sending every second would otherwise cost a row update (and
        an index entry) per message, for an offline limit of minutes."""
        # Those this process touched lately are left out at once; the
        # condition in SQL catches what another process (a second bridge,
        # the offline cron, a retirement) changed meanwhile.
        recent = time.monotonic() - LAST_SEEN_RESOLUTION
        touched = self._touched
        ids = sorted(i for i in devices if touched.get(i, 0) < recent)
        if not ids:
            return
        from trytond.model.fields import SQL_OPERATORS
        from trytond.transaction import Transaction
        Device = self.pool.get('elevator.iot.device')
        device = Device.__table__()
        cursor = Transaction().connection.cursor()
        stale = now - dt.timedelta(seconds=LAST_SEEN_RESOLUTION)
        cursor.execute(*device.update(
                [device.last_seen, device.state], [now, 'online'],
                where=SQL_OPERATORS['in'](device.id, ids)
                & (device.state != 'retired')
                & ((device.state != 'online') | (device.last_seen == Null)
                    | (device.last_seen < stale))))
        self._touching = ids

    def _upsert_live(self, devices, running, now):
        """One upsert of the live status rows of the elevators heard from:
        online, by which device, when; with the newest running values of
        the batch where the row's own are older (a reading arriving late
        changes nothing). A reading older than the device's goodbye (status
        offline) leaves it offline: running and status messages travel on
        different lanes of the bridge and may be committed in any order.
        Returns the elevators whose row says online."""
        if not devices:
            return set()
        from trytond.transaction import Transaction
        Status = self.pool.get('elevator.iot.status')
        status = Status.__table__()
        latest = {}
        for _, device, values in running:
            current = latest.get(device.elevator)
            if current is None or values['collect_time'] >= current[1][
                    'collect_time']:
                latest[device.elevator] = (device, values)
        by_elevator = {d.elevator: d for d in devices.values()}
        # The device of the newest running reading wins over another device
        # of the same elevator heard in the batch.
        by_elevator.update({e: d for e, (d, _) in latest.items()})
        none = dict.fromkeys(RUNNING_COLUMNS)
        rows = []
        for elevator, device in sorted(by_elevator.items()):
            v = latest.get(elevator, (None, none))[1]
            rows.append((elevator, device.id, True, now, 0, False, 0, now,
                    v['collect_time'],
                    _selection(v['service_mode']),
                    _selection(v['car_direction']),
                    _selection(v['car_status']),
                    None if v['door_zone'] is None else bool(v['door_zone']),
                    v['car_position'],
                    _selection(v['passenger_status']),
                    v['speed'],
                    _selection(v['door_status'])))
        columns = [status.elevator, status.device, status.online,
            status.updated_at, status.open_faults, status.critical,
            status.create_uid, status.create_date] + [
            getattr(status, c) for c in RUNNING_COLUMNS]
        types = ['INTEGER', 'INTEGER', 'BOOLEAN', 'TIMESTAMP', 'INTEGER',
            'BOOLEAN', 'INTEGER', 'TIMESTAMP'] + [
            RUNNING_TYPES[c] for c in RUNNING_COLUMNS]
        newer = (Excluded.collect_time != Null) & (
            (status.collect_time == Null)
            | (status.collect_time <= Excluded.collect_time))
        update_columns = [status.device, status.online, status.updated_at]
        said_goodbye_later = ((status.online == Literal(False))
            & (status.status_time != Null) & (Excluded.collect_time != Null)
            & (status.status_time > Excluded.collect_time))
        update_values = [Excluded.device,
            Case((said_goodbye_later, Literal(False)), else_=Literal(True)),
            Excluded.updated_at]
        for name in RUNNING_COLUMNS:
            update_columns.append(getattr(status, name))
            update_values.append(Case((newer, getattr(Excluded, name)),
                    else_=getattr(status, name)))
        cursor = Transaction().connection.cursor()
        cursor.execute(*status.insert(columns, self._rows(types, rows),
                on_conflict=_conflict(status, [status.elevator],
                    update_columns, update_values),
                returning=returned('elevator', 'online')))
        return {elevator for elevator, online in cursor if online}

    def _rows(self, types, rows):
        """The rows as the source of an INSERT: on PostgreSQL one array per
        column, unnested (a statement of a few parameters whatever the
        number of rows: quick to build, send and plan), a VALUES list
        elsewhere (SQLite for the demo)."""
        if not self._arrays:
            return Values([list(r) for r in rows])
        return Unnest(*[Cast(_array_literal(c, t), t + '[]')
                for c, t in zip(zip(*rows), types)]).select()

    def _upsert_status(self, items, now):
        """The online flag of the newest status message of each elevator,
        unless the row knows something newer: a later status, or (for a
        goodbye) a later running reading. The devices whose status changed
        follow: offline at once, or online and seen now."""
        if not items:
            return
        from trytond.model.fields import SQL_OPERATORS
        from trytond.transaction import Transaction
        Status = self.pool.get('elevator.iot.status')
        Device = self.pool.get('elevator.iot.device')
        status = Status.__table__()
        device_table = Device.__table__()
        latest = {}
        for message, device, values in items:
            stamp = values['ts'] or message.received_at
            current = latest.get(device.elevator)
            if current is None or stamp >= current[1]:
                latest[device.elevator] = (device, stamp, values['online'])
        cursor = Transaction().connection.cursor()
        rows = [[e, d.id, online, stamp, now, 0, False, 0, now]
            for e, (d, stamp, online) in sorted(latest.items())]
        cursor.execute(*status.insert(
                [status.elevator, status.device, status.online,
                    status.status_time, status.updated_at,
                    status.open_faults, status.critical,
                    status.create_uid, status.create_date],
                Values(rows),
                on_conflict=_conflict(status, [status.elevator],
                    [status.device, status.online, status.status_time,
                        status.updated_at],
                    [Excluded.device, Excluded.online, Excluded.status_time,
                        Excluded.updated_at],
                    where=((status.status_time == Null)
                        | (status.status_time <= Excluded.status_time))
                    & ((Excluded.online == Literal(True))
                        | (status.collect_time == Null)
                        | (status.collect_time <= Excluded.status_time))),
                returning=returned('elevator', 'online')))
        changed = {elevator: online for elevator, online in cursor}
        back, gone = [], []
        for elevator, online in sorted(changed.items()):
            device = latest[elevator][0]
            (back if online else gone).append(device.id)
            # Online again with its next message.
            self._touched.pop(device.id, None)
        if gone:
            # A device that says goodbye (or whose last will is published)
            # is offline now, not in ten minutes.
            cursor.execute(*device_table.update(
                    [device_table.state], ['offline'],
                    where=SQL_OPERATORS['in'](device_table.id, gone)
                    & (device_table.state != 'retired')))
        if back:
            cursor.execute(*device_table.update(
                    [device_table.state, device_table.last_seen],
                    ['online', now],
                    where=SQL_OPERATORS['in'](device_table.id, back)
                    & (device_table.state != 'retired')))

    # --- daily statistics -----------------------------------------------
    def _upsert_daily(self, items):
        if not items:
            return
        from trytond.transaction import Transaction
        Daily = self.pool.get('elevator.iot.daily')
        daily = Daily.__table__()
        counters = ['run_count', 'running_hours', 'door_count', 'mileage']
        days = {}
        for _, device, values in items:
            key = (device.elevator,
                payloads.local_date(values['collect_time']))
            day = days.setdefault(key, {'rope_bend': None})
            for name in counters:
                value = values[name]
                if value is None:
                    continue
                first, last = day.get(name, (value, value))
                day[name] = (min(first, value), max(last, value))
            if values['rope_bend'] is not None:
                day['rope_bend'] = max(day['rope_bend'] or 0,
                    values['rope_bend'])
        rows = []
        for (elevator, date), day in sorted(days.items()):
            row = [elevator, date, 0, _utcnow()]
            for name in counters:
                row.extend(day.get(name, (None, None)))
            row.append(day['rope_bend'])
            rows.append(row)
        columns = [daily.elevator, daily.date, daily.create_uid,
            daily.create_date]
        update_columns, update_values = [], []
        for name in counters:
            first = getattr(daily, name + '_first')
            last = getattr(daily, name + '_last')
            columns += [first, last]
            update_columns += [first, last]
            update_values += [
                Coalesce(Least(first, getattr(Excluded, name + '_first')),
                    getattr(Excluded, name + '_first')),
                Coalesce(Greatest(last, getattr(Excluded, name + '_last')),
                    getattr(Excluded, name + '_last')),
                ]
        columns.append(daily.rope_bend_last)
        update_columns.append(daily.rope_bend_last)
        update_values.append(Coalesce(
                Greatest(daily.rope_bend_last, Excluded.rope_bend_last),
                Excluded.rope_bend_last))
        cursor = Transaction().connection.cursor()
        cursor.execute(*daily.insert(columns, Values(rows),
                on_conflict=_conflict(daily, [daily.elevator, daily.date],
                    update_columns, update_values)))

    # --- faults -----------------------------------------------------------
    def _apply_faults(self, items, now, summary):
        if not items:
            return
        from trytond.transaction import Transaction
        Event = self.pool.get('elevator.iot.event')
        Status = self.pool.get('elevator.iot.status')
        event = Event.__table__()
        cursor = Transaction().connection.cursor()
        # One row per (device, faultId) in the batch: the raise first, a
        # recovery in the same batch clears it.
        rows = {}
        for message, device, values in items:
            key = (device.id, values['fault_id'])
            fault_type, reaction = self._faults[values['fault_no']]
            row = rows.get(key)
            if row is None:
                occurred = values['occurred_at']
                rows[key] = row = {
                    'device': device.id,
                    'elevator': device.elevator,
                    'district': device.district,
                    'fault_id': values['fault_id'],
                    'fault_type': fault_type,
                    'reaction': reaction,
                    'state': 'open',
                    'occurred_at': occurred,
                    'month': payloads.local_date(occurred).strftime('%Y-%m'),
                    'received_at': message.received_at,
                    'cleared_at': None,
                    'car_position': values['car_position'],
                    'image_url': values['image_url'],
                    'video_url': values['video_url'],
                    'source': message.source,
                    'follow_up': 'none',
                    }
            if values['recovery']:
                row['state'] = 'cleared'
                row['cleared_at'] = values['occurred_at']
        names = list(next(iter(rows.values())))
        columns = [getattr(event, n) for n in names] + [
            event.create_uid, event.create_date]
        values_ = [[r[n] for n in names] + [0, now]
            for _, r in sorted(rows.items())]
        # New events only; a replay hits the unique constraint and does
        # nothing.
        cursor.execute(*event.insert(columns, Values(values_),
                on_conflict=_conflict(event, [event.device, event.fault_id]),
                returning=returned('id', 'state')))
        inserted = cursor.fetchall()
        new_open = [i for i, state in inserted if state == 'open']
        summary.new_events = len(inserted)
        # Recoveries of events raised in an earlier batch.
        cleared = [(r['device'], r['fault_id'], r['cleared_at'])
            for r in rows.values() if r['state'] == 'cleared']
        if cleared:
            for device_id, fault_id, cleared_at in cleared:
                # Few per batch (recoveries): a statement each is fine.
                cursor.execute(*event.update(
                        [event.state, event.cleared_at, event.write_date,
                            event.write_uid],
                        ['cleared', cleared_at, now, 0],
                        where=(event.device == device_id)
                        & (event.fault_id == fault_id)
                        & (event.state == 'open')))
                summary.cleared_events += cursor.rowcount
        if new_open:
            events = Event.browse(new_open)
            Event.react(events)
        Status.refresh_faults(sorted({r['elevator'] for r in rows.values()}))

    # --- dead letters -----------------------------------------------------
    def _store_dead_letters(self, dead_letters, now):
        if not dead_letters:
            return
        from trytond.transaction import Transaction
        DeadLetter = self.pool.get('elevator.iot.dead_letter')
        table = DeadLetter.__table__()
        max_bytes = self._settings[0]
        rows = []
        for message, invalid in dead_letters:
            # Keep the raw bytes for the investigation, within reason.
            raw = bytes(message.payload[:max_bytes * 4])
            rows.append([message.received_at, message.source,
                    (message.topic or '')[:250] or None,
                    (message.device_serial or '')[:100] or None,
                    (message.kind or '')[:20] or None,
                    invalid.reason, invalid.detail, raw,
                    len(message.payload), 0, now])
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.insert(
                [table.received_at, table.source, table.topic,
                    table.device_serial, table.kind, table.reason,
                    table.detail, table.payload, table.size,
                    table.create_uid, table.create_date],
                Values(rows)))
        for message, invalid in dead_letters:
            logger.info('dead letter %s from %s: %s', invalid.reason,
                message.device_serial, invalid.detail)


def _array_literal(values, sql_type):
    """The text of a PostgreSQL array of `values` of `sql_type`: built with
    string joins, much quicker than adapting the values one by one."""
    if sql_type == 'VARCHAR':
        items = ['NULL' if v is None else '"' + v.replace('\\', '\\\\'
                ).replace('"', '\\"') + '"' for v in values]
    elif sql_type == 'BOOLEAN':
        items = ['NULL' if v is None else 't' if v else 'f' for v in values]
    elif sql_type == 'TIMESTAMP':
        items = ['NULL' if v is None else v.isoformat() for v in values]
    else:
        items = ['NULL' if v is None else str(v) for v in values]
    return '{' + ','.join(items) + '}'


def _selection(value):
    return None if value is None else str(value)


def _conflict(table, indexed, columns=None, values=None, where=None):
    from sql import Conflict
    return Conflict(table, indexed_columns=indexed, columns=columns,
        values=values, where=where)


def database_errors():
    """Exceptions that mean the database is unreachable, not the data bad:
    the MQTT bridge retries the batch, the push API answers 503."""
    import psycopg
    import psycopg_pool
    from trytond.backend import DatabaseOperationalError
    return (DatabaseOperationalError, psycopg.OperationalError,
        psycopg.InterfaceError, psycopg_pool.PoolTimeout)


def _utcnow():
    "UTC naive now: Tryton stores timestamps in UTC without offset."
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
