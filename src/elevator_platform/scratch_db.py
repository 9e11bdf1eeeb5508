"""Throw-away PostgreSQL databases with the `elevator` module (or other
modules), for the cross-module tests and the benchmarks.

A database is made the way the demo makes its own: an empty UTF-8 database,
then `trytond-admin -u elevator --activate-dependencies -l zh_CN`, run in a
subprocess so that this process' Tryton configuration stays as it is.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ADMIN_PASSWORD = 'elevator-demo'


def database_uri():
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    if not uri.startswith('postgresql'):
        raise RuntimeError(
            "TRYTOND_DATABASE_URI must point to PostgreSQL, e.g. "
            "postgresql://postgres@127.0.0.1:5432/")
    return uri


def _uri_for(dbname):
    parts = urllib.parse.urlsplit(database_uri())
    return urllib.parse.urlunsplit(parts._replace(path='/' + dbname))


def admin_sql(statement):
    "Run a statement outside any transaction on the maintenance database."
    import psycopg
    with psycopg.connect(_uri_for('postgres'), autocommit=True) as conn:
        conn.execute(statement)


def create_database(name, template=None, lang='zh_CN',
        modules=('elevator',)):
    """Create database `name` with `modules` (default: elevator) and their
    dependencies activated, or as a copy of `template` (much faster).

    With ELEVATOR_DB_TEMPLATES=1 (set by scripts/run-tests.sh) a database of
    the same modules and language is activated once per source version and
    copied afterwards: trytond-admin takes 30-90 s, a copy about one."""
    drop_database(name)
    if not template and os.environ.get('ELEVATOR_DB_TEMPLATES') == '1':
        template = activated_template(modules, lang)
    if template:
        admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name
    _activate(name, modules, lang)
    return name


def _activate(name, modules, lang):
    "An empty database `name` with `modules` activated by trytond-admin."
    admin_sql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' '
        'TEMPLATE template0')
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        passfile = Path(tmp) / 'password'
        passfile.write_text(ADMIN_PASSWORD + '\n')
        env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
        env.pop('TRYTOND_CONFIG', None)
        result = subprocess.run([str(bin_dir / 'trytond-admin'), '-d', name,
                '-u', *modules, '--activate-dependencies', '-l', lang,
                '--email', 'admin@example.com'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, text=True)
    if result.returncode:
        drop_database(name)
        raise RuntimeError(
            f"trytond-admin failed ({result.returncode}):\n"
            + result.stdout[-4000:])


TEMPLATE_INFIX = '_tpl_'


def template_prefix():
    "Names of the cached templates start with this (DB_NAME based)."
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    return prefix + TEMPLATE_INFIX


def _source_digest():
    """A digest of the modules' source: a template made by older code is
    never copied (its name no longer matches)."""
    if not _digest:
        import trytond.modules.elevator as elevator
        root = Path(elevator.__file__).resolve().parent.parent
        digest = hashlib.sha1()
        for path in sorted(root.rglob('*')):
            if path.suffix in {'.py', '.xml', '.po', '.cfg', '.rst'} \
                    and '__pycache__' not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
        _digest.append(digest.hexdigest())
    return _digest[0]


_digest = []


def activated_template(modules, lang='zh_CN'):
    """The name of a database with `modules` activated in `lang`, made on
    first use (under an advisory lock, so that concurrent test processes
    make it once) and kept for the rest of the run; nobody connects to it
    but CREATE DATABASE … TEMPLATE."""
    import psycopg
    key = hashlib.sha1(repr((sorted(modules), lang, _source_digest()))
        .encode()).hexdigest()[:12]
    name = template_prefix() + key
    with psycopg.connect(_uri_for('postgres'), autocommit=True) as conn:
        conn.execute('SELECT pg_advisory_lock(hashtext(%s))', (name,))
        try:
            exists = conn.execute('SELECT 1 FROM pg_database '
                'WHERE datname = %s', (name,)).fetchone()
            if not exists:
                # Made under another name and renamed when complete: a
                # process killed half-way leaves no template to copy.
                making = name + '_new'
                drop_database(making)
                _activate(making, modules, lang)
                conn.execute(f'ALTER DATABASE "{making}" RENAME TO "{name}"')
        finally:
            conn.execute('SELECT pg_advisory_unlock(hashtext(%s))', (name,))
    return name


def drop_templates():
    "Drop every cached template of this DB_NAME."
    import psycopg
    with psycopg.connect(_uri_for('postgres'), autocommit=True) as conn:
        names = [n for n, in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (template_prefix().replace('_', r'\_') + '%',))]
    for name in names:
        drop_database(name)
    return names


def drop_database(name):
    "Drop the database, closing this process' own connections to it first."
    try:
        from trytond import backend
        backend.Database(name).close()
    except Exception:
        # Nothing of Tryton's is open on it.
        pass
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
