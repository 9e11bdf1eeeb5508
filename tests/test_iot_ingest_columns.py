"""Guard: the set-based ingestion (elevator_iot/ingest.py) writes its
rows with plain SQL, past the ORM's defaults and required checks. A field
made required, or given a default, in `elevator.iot.event`,
`elevator.iot.status` or `elevator.iot.daily` must therefore be written by
the ingestion too; this test runs the real ingestion on a batch of every
kind of message and reads every stored field that is required or has a
default: none may be NULL, and every defaulted one holds a value of its
type. A new required field then fails here, naming the field, instead of
breaking the intake in production."""
import datetime as dt
import json

from elevator_platform import scratch_db, tryton_env

from test_iot_bridge import (
    SERIALS, fault, iot_database, local, now, periodic, running, utc)

MODELS = ['elevator.iot.event', 'elevator.iot.status', 'elevator.iot.daily']
# Fields not written by the ingestion on purpose: Tryton's own audit
# columns (set to the root user / the time by the ingestion anyway).
IGNORED = {'id', 'write_uid', 'write_date', 'rec_name'}


def messages():
    from trytond.modules.elevator_iot.ingest import Message
    stamp = now() - dt.timedelta(minutes=2)
    received = utc(now())
    serial, other = SERIALS[0], SERIALS[1]

    def message(serial, kind, payload):
        return Message(kind=kind, payload=json.dumps(payload).encode(),
            device_serial=serial, source='mqtt',
            topic=f'elevator/v1/{serial}/{kind}', received_at=received)
    return [
        message(serial, 'running', running(stamp, carPosition=4)),
        message(serial, 'periodic', periodic(stamp, 1200)),
        message(serial, 'fault', fault('COLUMNS-1', 8, stamp)),
        message(serial, 'fault', fault('COLUMNS-2', 12, stamp)),
        message(serial, 'fault', fault('COLUMNS-2', 12,
                stamp + dt.timedelta(seconds=5), recovery=1)),
        # A status alone creates the live row of another elevator.
        message(other, 'status', {'online': False,
                'ts': local(stamp)}),
        ]


def checked_fields(Model):
    "Stored fields that are required or have a default."
    from trytond.model import fields
    names = []
    for name, field in Model._fields.items():
        if name in IGNORED or isinstance(field, fields.Function):
            continue
        if getattr(field, 'sql_type', None) is None:
            continue  # One2Many and the like: no column
        if field.required or name in Model._defaults:
            names.append(name)
    return sorted(names)


def test_ingestion_writes_required_and_defaulted_fields():
    from trytond.modules.elevator_iot.ingest import Ingestor
    database = iot_database('columns')
    try:
        tryton_env.configure()
        summary = Ingestor(database).ingest(messages())
        assert not summary.dead_letters, summary.dead_letters
        assert summary.new_events == 2
        with tryton_env.transaction(database, readonly=True) as pool:
            from trytond.transaction import Transaction
            cursor = Transaction().connection.cursor()
            problems = []
            for name in MODELS:
                Model = pool.get(name)
                table = Model.__table__()
                columns = checked_fields(Model)
                assert columns, name
                cursor.execute(*table.select(*[getattr(table, c)
                            for c in columns]))
                rows = cursor.fetchall()
                # Every model got rows from this batch.
                assert rows, f'{name}: no row written'
                for row in rows:
                    for column, value in zip(columns, row):
                        if value is None:
                            problems.append(f'{name}.{column} is NULL: '
                                'the ingestion does not write it')
            assert not problems, '\n'.join(sorted(set(problems)))
            # What the guard looks at, so that it cannot pass by looking
            # at nothing.
            Status = pool.get('elevator.iot.status')
            assert 'open_faults' in checked_fields(Status)
            Event = pool.get('elevator.iot.event')
            assert {'device', 'elevator', 'fault_id', 'fault_type',
                'state', 'occurred_at'} <= set(checked_fields(Event))
    finally:
        scratch_db.drop_database(database)
