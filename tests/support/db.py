"The PostgreSQL databases of the tests (TRYTOND_DATABASE_URI)."
import os
import re
import urllib.parse
import uuid

import psycopg

from elevator_platform import scratch_db

DATABASE_URI = os.environ.get('TRYTOND_DATABASE_URI', '')
# Every module of the platform, for the tests of the whole: one list, so
# that their databases share one activated template (scratch_db).
ALL_MODULES = ('elevator_assessment', 'elevator_enforcement',
    'elevator_iot', 'elevator_maintenance', 'elevator_public',
    'elevator_rescue', 'elevator_subsidy')


def database_name(kind):
    "A new database name, prefixed by DB_NAME so that runs do not collide."
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    return f'{prefix}_{kind}_{uuid.uuid4().hex[:8]}'


def server_uri(dbname):
    "TRYTOND_DATABASE_URI with dbname as its path, for psycopg."
    parts = urllib.parse.urlsplit(DATABASE_URI)
    return urllib.parse.urlunsplit(parts._replace(path='/' + dbname))


def admin_sql(statement):
    with psycopg.connect(server_uri('postgres'), autocommit=True) as conn:
        conn.execute(statement)


def uri_for(database, uri=None):
    "psycopg URI of database on the server of uri (default: the tests')."
    parts = urllib.parse.urlsplit(uri or scratch_db.database_uri())
    return urllib.parse.urlunsplit(parts._replace(path='/' + database))


def query(database, statement, params=(), uri=None):
    "Rows of a statement, on a connection of its own."
    with psycopg.connect(uri_for(database, uri), autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def scalar(database, statement, params=(), uri=None):
    return query(database, statement, params, uri)[0][0]
