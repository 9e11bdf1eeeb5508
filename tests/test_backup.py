"""`elevator backup` / `elevator restore` round trip on PostgreSQL, as the
operations team runs them: a database with elevators, devices, dead
letters and attachments in the filestore is backed up WHILE a writer keeps
inserting, restored under another name into another attachment store (a
new server), and compared with the original: the row count of every table
(those of the backup's snapshot), a sample of records column by column, the
attachments' bytes. Also: a corrupt backup is refused, an existing database
is not overwritten by accident, an incremental backup hard-links the files
it already has, a file missing from the store is reported.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from elevator_platform import scratch_db
from support.db import database_name, query, scalar
from support.iot import iot_template
from support.process import WAIT

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Tables compared record by record, with the columns that identify rows.
SAMPLED = ['elevator_elevator', 'elevator_iot_device', 'party_party',
    'elevator_region', 'ir_attachment', 'elevator_iot_dead_letter',
    'res_user', 'ir_model_data']
SAMPLE = 25

ATTACH = '''
import hashlib, json, random, sys
from elevator_platform.tryton_env import transaction
rng = random.Random(7)
with transaction(sys.argv[1]) as pool:
    Attachment = pool.get('ir.attachment')
    Elevator = pool.get('elevator.elevator')
    elevators = Elevator.search([], order=[('id', 'ASC')], limit=6)
    sizes = [10, 1000, 50000, 300000, 7, 2048]
    vlist = []
    for elevator, size in zip(elevators, sizes):
        data = bytes(rng.getrandbits(8) for _ in range(size))
        vlist.append({'name': f'维保照片-{elevator.id}.jpg',
            'resource': str(elevator), 'type': 'data', 'data': data})
    attachments = Attachment.create(vlist)
    print(json.dumps({a.id: hashlib.sha256(v['data']).hexdigest()
        for a, v in zip(attachments, vlist)}))
'''

READ = '''
import hashlib, json, sys
from elevator_platform.tryton_env import transaction
with transaction(sys.argv[1], readonly=True) as pool:
    Attachment = pool.get('ir.attachment')
    print(json.dumps({a.id: hashlib.sha256(a.data).hexdigest()
        for a in Attachment.search([('type', '=', 'data')])}))
'''


def env_for(store):
    env = {**os.environ,
        'TRYTOND_DATABASE_URI': scratch_db.database_uri(),
        'TRYTOND_DATABASE__PATH': str(store)}
    env.pop('TRYTOND_CONFIG', None)
    return env


def python(script, *args, store):
    result = subprocess.run([sys.executable, '-c', script, *map(str, args)],
        env=env_for(store), cwd=ROOT, capture_output=True, text=True,
        timeout=WAIT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def elevator(*args, store):
    return subprocess.run([str(BIN / 'elevator'), *map(str, args)],
        env=env_for(store), cwd=ROOT, capture_output=True, text=True,
        timeout=600)


def rows(database, table, ids):
    "{id: the row as JSON} of the ids."
    return dict(query(database, f'''SELECT id, row_to_json(t)::text
        FROM "{table}" t WHERE id = ANY(%s)''', (ids,)))


@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-backup-') as path:
        yield Path(path)


@pytest.fixture(scope='module')
def databases():
    source = database_name('backup')
    target = database_name('restored')
    scratch_db.create_database(source, template=iot_template())
    try:
        yield source, target
    finally:
        scratch_db.drop_database(source)
        scratch_db.drop_database(target)


def add_dead_letters(database, count, serial='PT-BACKUP'):
    query(database, '''INSERT INTO elevator_iot_dead_letter
        (received_at, source, device_serial, kind, reason, detail, payload,
            size, create_uid, create_date)
        SELECT now() - n * interval '1 minute', 'mqtt', %s, 'running',
            'not_json', 'backup test ' || n, convert_to('{"n": ' || n, 'UTF8'),
            8, 0, now()
        FROM generate_series(1, %s) n RETURNING id''', (serial, count))


class Writer(threading.Thread):
    "Keeps inserting dead letters, one small transaction after the other."

    def __init__(self, database):
        super().__init__(daemon=True)
        self.database = database
        self.stop = threading.Event()
        self.inserted = 0

    def run(self):
        while not self.stop.is_set():
            add_dead_letters(self.database, 5, serial='PT-WRITER')
            self.inserted += 5
            time.sleep(0.02)


def test_backup_and_restore_round_trip(databases, workdir):
    source, target = databases
    store, new_store = workdir / 'store', workdir / 'new-store'
    store.mkdir()
    new_store.mkdir()
    add_dead_letters(source, 300)
    attachments = python(ATTACH, source, store=store)
    assert len(attachments) == 6

    # The backup while a writer goes on.
    writer = Writer(source)
    writer.start()
    try:
        while writer.inserted < 50:
            time.sleep(0.05)
        result = elevator('backup', '-d', source, '-o', workdir / 'full',
            store=store)
        time.sleep(0.3)
    finally:
        writer.stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    backup = workdir / 'full'
    manifest = json.loads((backup / 'manifest.json').read_text())
    assert manifest['database'] == source
    assert manifest['versions']['trytond'].startswith('8.0.')
    assert manifest['versions']['pg_dump']
    assert {'elevator', 'elevator_iot', 'party', 'ir', 'res'} <= set(
        manifest['modules'])
    assert manifest['modules']['elevator_iot'] == '8.0.0'
    assert manifest['filestore']['files'] == 6
    assert manifest['filestore']['missing'] == []
    assert manifest['counts']['elevator_elevator'] == scalar(source,
        'SELECT COUNT(*) FROM elevator_elevator')
    # The writer went on after the snapshot: the backup has fewer rows.
    letters = manifest['counts']['elevator_iot_dead_letter']
    assert 350 <= letters < scalar(source,
        'SELECT COUNT(*) FROM elevator_iot_dead_letter')
    # Standard tools check it too.
    check = subprocess.run(['sha256sum', '--quiet', '-c', 'SHA256SUMS'],
        cwd=backup, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    check = subprocess.run(['sha256sum', '--quiet', '-c', 'filestore.sha256'],
        cwd=backup, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # Restored under another name on "another server" (attachment store).
    result = elevator('restore', backup, '-d', target, store=new_store)
    assert result.returncode == 0, result.stderr
    assert 'row counts of' in result.stderr
    counts = dict(query(target, '''SELECT relname, 0 FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' '''))
    assert set(counts) == set(manifest['counts'])
    for table in SAMPLED + ['elevator_iot_status', 'ir_module',
            'ir_translation', 'res_group', 'res_user-res_group']:
        assert scalar(target, f'SELECT COUNT(*) FROM "{table}"') == (
            manifest['counts'][table]), table
    assert scalar(target, '''SELECT COUNT(*) FROM elevator_iot_dead_letter
        ''') == letters

    # A sample of records, every column.
    rng = random.Random(11)
    for table in SAMPLED:
        ids = [i for i, in query(target, f'SELECT id FROM "{table}"')]
        sample = rng.sample(ids, min(SAMPLE, len(ids)))
        assert rows(target, table, sample) == rows(source, table, sample), (
            table)
    # The attachments, read by Tryton from the new store.
    assert python(READ, target, store=new_store) == attachments

    # An existing database is not overwritten by accident.
    result = elevator('restore', backup, '-d', target, store=new_store)
    assert result.returncode == 1
    assert 'exists' in result.stderr


def test_corrupt_backup_is_refused(databases, workdir):
    source, target = databases
    backup = workdir / 'full'
    corrupt = workdir / 'corrupt'
    subprocess.run(['cp', '-a', str(backup), str(corrupt)], check=True)
    victim = next(p for p in sorted((corrupt / 'filestore').rglob('*'))
        if p.is_file())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    result = elevator('restore', corrupt, '-d', target, '--check-only',
        store=workdir / 'new-store')
    assert result.returncode == 1
    assert 'corrupt' in result.stderr
    result = elevator('restore', backup, '-d', target, '--check-only',
        store=workdir / 'new-store')
    assert result.returncode == 0, result.stderr


def test_incremental_backup_and_missing_file(databases, workdir):
    source, _ = databases
    store = workdir / 'store'
    first, second = workdir / 'full', workdir / 'incremental'
    result = elevator('backup', '-d', source, '-o', second, '--link-dest',
        first, store=store)
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(second) for p in
        (second / 'filestore').rglob('*') if p.is_file())
    assert len(files) == 6
    for relative in files:
        # The same inode: linked, not copied.
        assert (second / relative).stat().st_ino == (
            first / relative).stat().st_ino
    # A file the database refers to disappears from the store.
    gone = store / files[0].relative_to('filestore')
    gone.unlink()
    result = elevator('backup', '-d', source, '-o', workdir / 'damaged',
        store=store)
    assert result.returncode == 1
    assert 'MISSING' in result.stderr and files[0].name in result.stderr
