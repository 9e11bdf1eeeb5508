"""Throw-away PostgreSQL databases with the `elevator` module (or other
modules), for the cross-module tests and the benchmarks.

A database is made the way the demo makes its own: an empty UTF-8 database,
then `trytond-admin -u elevator --activate-dependencies -l zh_CN`, run in a
subprocess so that this process' Tryton configuration stays as it is.
"""
import os
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
    dependencies activated, or as a copy of `template` (much faster)."""
    drop_database(name)
    if template:
        admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name
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
    return name


def drop_database(name):
    "Drop the database, closing this process' own connections to it first."
    try:
        from trytond import backend
        backend.Database(name).close()
    except Exception:
        # Nothing of Tryton's is open on it.
        pass
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
