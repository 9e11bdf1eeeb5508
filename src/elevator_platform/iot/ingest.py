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

from sql import Literal, Null, Table, Values
from sql.conditionals import Coalesce, Greatest, Least

from . import payloads
from .payloads import Invalid

logger = logging.getLogger(__name__)

DEVICE_CACHE_SECONDS = 60


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

    def __init__(self, database):
        from trytond.pool import Pool
        self.database = database
        self.pool = Pool(database)
        self.pool.init()
        self._devices = {}
        self._devices_loaded = 0
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
        if now - self._devices_loaded > DEVICE_CACHE_SECONDS:
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
                config.future_tolerance)
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
            now = now or _utcnow()
            for message in messages:
                if message.received_at is None:
                    message.received_at = now
            self._load_reference({m.device_serial for m in messages})
            parsed = self._parse(messages, now, summary)
            self._apply(parsed, now, summary)
            self._store_dead_letters(summary.dead_letters, now)
            transaction.commit()
        summary.accepted = len(messages) - len(summary.dead_letters)
        return summary

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
        max_bytes, tolerance = self._settings
        future = now + dt.timedelta(seconds=tolerance)
        parsed = defaultdict(list)
        for message in messages:
            try:
                if message.kind not in payloads.KINDS:
                    raise Invalid('unknown_kind',
                        f'{message.kind!r} is not one of {payloads.KINDS}')
                data = payloads.decode(message.payload, max_bytes)
                device = self._devices.get(message.device_serial)
                if device is None:
                    raise Invalid('unknown_device',
                        f'no device with serial {message.device_serial!r}')
                if device.state == 'retired':
                    raise Invalid('retired_device',
                        f'device {message.device_serial!r} is retired')
                values = payloads.PARSERS[message.kind](data)
                stamp = payloads.message_time(message.kind, values)
                if stamp is not None and stamp > future:
                    raise Invalid('future', f'{stamp.isoformat()}Z is after '
                        f'{future.isoformat()}Z')
                if message.kind == 'fault':
                    if values['fault_no'] not in self._faults:
                        raise Invalid('unknown_fault',
                            f'faultNo {values["fault_no"]} is not known')
                    if values['occurred_at'] is None:
                        values['occurred_at'] = message.received_at
            except Invalid as invalid:
                summary.dead_letters.append((message, invalid))
                continue
            parsed[message.kind].append((message, device, values))
        return parsed

    def _apply(self, parsed, now, summary):
        seen = {}
        for items in parsed.values():
            for message, device, _ in items:
                seen[device.id] = device
        self._touch_devices(seen, now)
        self._upsert_running(parsed['running'], now)
        self._upsert_status(parsed['status'], now)
        self._upsert_daily(parsed['periodic'])
        self._apply_faults(parsed['fault'], now, summary)

    # --- devices and live status ----------------------------------------
    def _touch_devices(self, devices, now):
        if not devices:
            return
        from trytond.model.fields import SQL_OPERATORS
        from trytond.transaction import Transaction
        Device = self.pool.get('elevator.iot.device')
        device = Device.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*device.update(
                [device.last_seen, device.state], [now, 'online'],
                where=SQL_OPERATORS['in'](device.id, list(devices))
                & (device.state != 'retired')))
        Status = self.pool.get('elevator.iot.status')
        status = Status.__table__()
        # Every elevator heard from has a live status row, online.
        rows = {d.elevator: d.id for d in devices.values()}
        cursor.execute(*status.insert(
                [status.elevator, status.device, status.online,
                    status.updated_at, status.open_faults, status.critical,
                    status.create_uid, status.create_date],
                Values([[e, d, True, now, 0, False, 0, now]
                        for e, d in sorted(rows.items())]),
                on_conflict=_conflict(status, [status.elevator],
                    [status.device, status.online, status.updated_at],
                    [Excluded.device, Literal(True), Excluded.updated_at])))

    def _upsert_running(self, items, now):
        if not items:
            return
        from trytond.transaction import Transaction
        Status = self.pool.get('elevator.iot.status')
        status = Status.__table__()
        latest = {}
        for _, device, values in items:
            current = latest.get(device.elevator)
            if current is None or values['collect_time'] >= current[1][
                    'collect_time']:
                latest[device.elevator] = (device, values)
        columns = ['collect_time', 'service_mode', 'car_direction',
            'car_status', 'door_zone', 'car_position', 'passenger_status',
            'speed', 'door_status']
        rows = []
        for elevator, (device, v) in sorted(latest.items()):
            rows.append([elevator, device.id, True, now, 0, False, 0, now,
                    v['collect_time'],
                    _selection(v['service_mode']),
                    _selection(v['car_direction']),
                    _selection(v['car_status']),
                    None if v['door_zone'] is None else bool(v['door_zone']),
                    v['car_position'],
                    _selection(v['passenger_status']),
                    v['speed'],
                    _selection(v['door_status'])])
        insert_columns = [status.elevator, status.device, status.online,
            status.updated_at, status.open_faults, status.critical,
            status.create_uid, status.create_date] + [
            getattr(status, c) for c in columns]
        cursor = Transaction().connection.cursor()
        cursor.execute(*status.insert(insert_columns, Values(rows),
                on_conflict=_conflict(status, [status.elevator],
                    [getattr(status, c) for c in columns],
                    [getattr(Excluded, c) for c in columns],
                    # An older reading arriving late changes nothing.
                    where=(status.collect_time == Null)
                    | (status.collect_time <= Excluded.collect_time))))

    def _upsert_status(self, items, now):
        if not items:
            return
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
                    [status.online, status.status_time],
                    [Excluded.online, Excluded.status_time],
                    where=(status.status_time == Null)
                    | (status.status_time <= Excluded.status_time))))
        # A device that says goodbye (or whose last will is published) is
        # offline now, not in ten minutes.
        gone = [d.id for d, _, online in latest.values() if not online]
        if gone:
            from trytond.model.fields import SQL_OPERATORS
            cursor.execute(*device_table.update(
                    [device_table.state], ['offline'],
                    where=SQL_OPERATORS['in'](device_table.id, gone)
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
                returning=[event.id, event.state]))
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


def _selection(value):
    return None if value is None else str(value)


def _conflict(table, indexed, columns=None, values=None, where=None):
    from sql import Conflict
    return Conflict(table, indexed_columns=indexed, columns=columns,
        values=values, where=where)


def _utcnow():
    "UTC naive now: Tryton stores timestamps in UTC without offset."
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
