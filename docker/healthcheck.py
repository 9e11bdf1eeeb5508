#!/opt/elevator/bin/python
"""Health check of a platform container (Dockerfile HEALTHCHECK):

    elevator-healthcheck [ROLE]

ROLE is the entry point's first argument (taken from PID 1's command line
when not given). Exit 0 when healthy, 1 otherwise, with one line saying
why. Cheap checks of the process itself; the platform's health as a whole
is /{db}/elevator/health (docs/operations.md).

    server, bus   the WSGI server answers JSON-RPC on 127.0.0.1:8000
    cron          PostgreSQL answers and no active cron is overdue by more
                  than ELEVATOR_CRON_LATE seconds (default 900)
    worker        PostgreSQL answers
    bridge        an established TCP connection to the broker and
                  PostgreSQL answers
    broker-acl    the ACL file was written within 3 intervals
"""
import json
import os
import socket
import sys
import time
import urllib.request
from urllib.parse import quote


def role_of_pid1():
    try:
        with open('/proc/1/cmdline', 'rb') as file:
            words = file.read().decode(errors='replace').split('\0')
    except OSError:
        return 'server'
    for i, word in enumerate(words):
        if word.endswith('elevator-entrypoint'):
            return words[i + 1] if len(words) > i + 1 and words[i + 1] else (
                'server')
    return 'server'


def secret(name):
    "The variable, or the content of the file its _FILE variable names."
    value = os.environ.get(name)
    if value is None and os.environ.get(name + '_FILE'):
        with open(os.environ[name + '_FILE']) as file:
            value = file.read().strip()
    return value


def database_uri():
    uri = secret('TRYTOND_DATABASE__URI')
    if uri:
        return uri
    return 'postgresql://%s:%s@%s:%s/' % (
        quote(os.environ.get('ELEVATOR_DB_USER', 'elevator'), safe=''),
        quote(secret('ELEVATOR_DB_PASSWORD') or '', safe=''),
        os.environ.get('ELEVATOR_DB_HOST', 'db'),
        os.environ.get('ELEVATOR_DB_PORT', '5432'))


def database():
    import psycopg
    name = os.environ.get('ELEVATOR_DB', 'elevator')
    return psycopg.connect(database_uri() + name, connect_timeout=5)


def check_web():
    bind = os.environ.get('ELEVATOR_WEB_BIND', '0.0.0.0:8000').split(',')[0]
    port = bind.rsplit(':', 1)[-1]
    request = urllib.request.Request(f'http://127.0.0.1:{port}/rpc/',
        data=json.dumps({'id': 0, 'method': 'common.server.version',
                'params': []}).encode(),
        headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=8) as response:
        version = json.load(response)['result']
    return f'trytond {version} answers'


def check_cron():
    late = int(os.environ.get('ELEVATOR_CRON_LATE', 900))
    with database() as conn:
        rows = conn.execute('''SELECT method FROM ir_cron
            WHERE active AND COALESCE(next_call, create_date)
                < (now() AT TIME ZONE 'UTC') - make_interval(secs => %s)''',
            (late,)).fetchall()
    if rows:
        raise RuntimeError('overdue crons: '
            + ', '.join(r[0] for r in rows))
    return 'no cron overdue'


def check_worker():
    with database() as conn:
        conn.execute('SELECT 1')
    return 'database answers'


def established(port):
    "An ESTABLISHED TCP connection to `port` in this network namespace."
    for name in ['/proc/net/tcp', '/proc/net/tcp6']:
        try:
            with open(name) as file:
                next(file)
                for line in file:
                    fields = line.split()
                    remote, state = fields[2], fields[3]
                    if state == '01' and int(remote.rsplit(':', 1)[1],
                            16) == port:
                        return True
        except OSError:
            continue
    return False


def check_bridge():
    port = int(os.environ.get('ELEVATOR_MQTT_PORT', 1883))
    if not established(port):
        raise RuntimeError(f'no connection to the broker (port {port})')
    check_worker()
    return 'connected to the broker and the database'


def check_broker_acl():
    directory = os.environ.get('ELEVATOR_ACL_DIR', '/var/lib/elevator/broker')
    interval = int(os.environ.get('ELEVATOR_ACL_INTERVAL', 300))
    age = time.time() - os.stat(os.path.join(directory,
            'elevator.acl')).st_mtime
    if age > 3 * interval:
        raise RuntimeError(f'ACL not written for {age:.0f} s')
    return f'ACL written {age:.0f} s ago'


CHECKS = {
    'server': check_web,
    'bus': check_web,
    'cron': check_cron,
    'worker': check_worker,
    'bridge': check_bridge,
    'broker-acl': check_broker_acl,
    }


def main(argv):
    role = argv[1] if len(argv) > 1 else role_of_pid1()
    check = CHECKS.get(role)
    if check is None:
        print(f'{role}: nothing to check')
        return 0
    socket.setdefaulttimeout(10)
    try:
        print(f'{role}: {check()}')
        return 0
    except Exception as exception:
        print(f'{role}: UNHEALTHY: {type(exception).__name__}: {exception}')
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
