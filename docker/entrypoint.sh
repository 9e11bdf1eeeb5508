#!/bin/sh
# Entry point of the platform image: the first argument names the process.
#
#   server        gunicorn serving trytond.application:app (JSON-RPC, sao,
#                 push API, public API and H5, health endpoint)
#   bus           the same application for sao's long polls on /{db}/bus
#   cron          trytond-cron (run exactly one)
#   worker        trytond-worker (ir.queue tasks); ELEVATOR_WORKER_PROCESSES
#   bridge        elevator bridge; ELEVATOR_BRIDGE_CLIENT_ID must be stable
#   broker-acl    writes the broker's password file and ACL from the device
#                 registry every ELEVATOR_ACL_INTERVAL seconds
#   init          creates the database if missing, with every module, zh_CN
#   update        updates every module (trytond-admin --all): the upgrade step
#   backup        elevator backup into /var/lib/elevator/backups, keeps
#                 ELEVATOR_BACKUP_KEEP backups, hard-links unchanged files
#   elevator ...  any `elevator` command;  admin ...  trytond-admin -d $ELEVATOR_DB ...
#   anything else is executed as given
#
# Secrets: for every variable ELEVATOR_*_FILE or TRYTOND_*_FILE naming a
# readable file, the variable without _FILE is set to the file's content
# (Docker secrets), e.g. ELEVATOR_DB_PASSWORD_FILE,
# ELEVATOR_MQTT_PASSWORD_FILE, TRYTOND_ELEVATOR_HEALTH__TOKEN_FILE,
# TRYTOND_EMAIL__URI_FILE. Except ELEVATOR_MQTT_CA_FILE, _CERT_FILE and
# _KEY_FILE: the bridge's TLS files, which it reads itself (a secret mounted
# as a file is given by its path). Without TRYTOND_DATABASE__URI, it is
# built from ELEVATOR_DB_USER, ELEVATOR_DB_PASSWORD, ELEVATOR_DB_HOST,
# ELEVATOR_DB_PORT.
set -eu

die() { echo "elevator-entrypoint: $*" >&2; exit 1; }

for name in $(env | sed -n 's/^\(\(ELEVATOR\|TRYTOND\)_[A-Za-z0-9_]*\)_FILE=.*$/\1/p'); do
    case $name in
        ELEVATOR_MQTT_CA|ELEVATOR_MQTT_CERT|ELEVATOR_MQTT_KEY) continue ;;
    esac
    file=$(printenv "${name}_FILE")
    [ -r "$file" ] || die "${name}_FILE: cannot read $file"
    value=$(cat "$file")
    export "$name=$value"
    unset "${name}_FILE"
done

if [ -z "${TRYTOND_DATABASE__URI:-}" ] && [ -n "${ELEVATOR_DB_PASSWORD:-}" ]; then
    TRYTOND_DATABASE__URI=$(python - <<'EOF'
import os
from urllib.parse import quote
print('postgresql://%s:%s@%s:%s/' % (
    quote(os.environ.get('ELEVATOR_DB_USER', 'elevator'), safe=''),
    quote(os.environ['ELEVATOR_DB_PASSWORD'], safe=''),
    os.environ.get('ELEVATOR_DB_HOST', 'db'),
    os.environ.get('ELEVATOR_DB_PORT', '5432')))
EOF
)
    export TRYTOND_DATABASE__URI
fi
unset ELEVATOR_DB_PASSWORD
# Some tools read the URI under trytond's other name.
export TRYTOND_DATABASE_URI="${TRYTOND_DATABASE__URI:-}"
DB=${ELEVATOR_DB:-elevator}
export ELEVATOR_DB="$DB" TRYTOND_DATABASE_NAMES="${TRYTOND_DATABASE_NAMES:-$DB}"

wait_database() {   # until PostgreSQL accepts connections
    python - <<'EOF'
import os, sys, time
import psycopg
uri = os.environ['TRYTOND_DATABASE__URI'] + 'postgres'
for _ in range(120):
    try:
        psycopg.connect(uri, connect_timeout=5).close()
        sys.exit(0)
    except psycopg.OperationalError as error:
        last = error
        time.sleep(2)
sys.exit(f'PostgreSQL does not answer: {last}')
EOF
}

database_state() {  # absent | empty | ready
    python - "$DB" <<'EOF'
import os, sys
import psycopg
uri = os.environ['TRYTOND_DATABASE__URI']
with psycopg.connect(uri + 'postgres', autocommit=True) as conn:
    if not conn.execute('SELECT 1 FROM pg_database WHERE datname = %s',
            (sys.argv[1],)).fetchone():
        print('absent')
        sys.exit()
with psycopg.connect(uri + sys.argv[1]) as conn:
    print('ready' if conn.execute(
        "SELECT to_regclass('ir_module')").fetchone()[0] else 'empty')
EOF
}

modules() {         # every module of the platform
    python -c 'from importlib.metadata import entry_points
print(" ".join(sorted(e.name for e in entry_points(group="trytond.modules")
    if e.name.startswith("elevator"))))'
}

init() {
    wait_database
    state=$(database_state)
    if [ "$state" = ready ]; then
        echo "elevator-entrypoint: database $DB exists; nothing to do" \
            "(after an upgrade run the 'update' command)"
        return 0
    fi
    [ -n "${ELEVATOR_ADMIN_PASSWORD:-}" ] || die "ELEVATOR_ADMIN_PASSWORD(_FILE) is needed to create $DB"
    if [ "$state" = absent ]; then
        python - "$DB" <<'EOF'
import os, sys
import psycopg
with psycopg.connect(os.environ['TRYTOND_DATABASE__URI'] + 'postgres',
        autocommit=True) as conn:
    conn.execute(f'CREATE DATABASE "{sys.argv[1]}" ENCODING \'UTF8\' '
        'TEMPLATE template0')
EOF
    fi
    passfile=$(mktemp)
    printf '%s\n' "$ELEVATOR_ADMIN_PASSWORD" > "$passfile"
    unset ELEVATOR_ADMIN_PASSWORD
    echo "elevator-entrypoint: activating $(modules) in $DB (zh_CN)"
    # shellcheck disable=SC2046
    TRYTONPASSFILE=$passfile trytond-admin -d "$DB" -u $(modules) \
        --activate-dependencies -l zh_CN \
        --email "${ELEVATOR_ADMIN_EMAIL:-admin@example.com}"
    rm -f "$passfile"
    python - "$DB" <<'EOF'
import sys
from elevator_platform.tryton_env import transaction
with transaction(sys.argv[1]) as pool:
    Lang = pool.get('ir.lang')
    Configuration = pool.get('ir.configuration')
    User = pool.get('res.user')
    zh_cn, = Lang.search([('code', '=', 'zh_CN')])
    config = Configuration(1)
    config.language = 'zh_CN'
    config.save()
    User.write(User.search([('login', '=', 'admin')]),
        {'language': zh_cn.id})
EOF
}

backup() {
    dir=/var/lib/elevator/backups
    keep=${ELEVATOR_BACKUP_KEEP:-14}
    # The newest complete backup of this database: its files are linked.
    previous=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name "$DB-*" \
        ! -name '*.partial' | sort | tail -1)
    target="$dir/$DB-$(date -u +%Y%m%dT%H%M%SZ)"
    if [ -n "$previous" ]; then
        elevator backup -d "$DB" -o "$target" --link-dest "$previous"
    else
        elevator backup -d "$DB" -o "$target"
    fi
    find "$dir" -mindepth 1 -maxdepth 1 -type d -name "$DB-*" ! -name '*.partial' \
        | sort | head -n "-$keep" | while read -r old; do
        echo "elevator-entrypoint: removing old backup $old"
        rm -rf "$old"
    done
}

broker_acl() {
    dir=${ELEVATOR_ACL_DIR:-/var/lib/elevator/broker}
    interval=${ELEVATOR_ACL_INTERVAL:-300}
    [ -n "${ELEVATOR_MQTT_USERNAME:-}" ] && [ -n "${ELEVATOR_MQTT_PASSWORD:-}" ] \
        || die "the bridges' account ELEVATOR_MQTT_USERNAME / ELEVATOR_MQTT_PASSWORD(_FILE) is needed"
    # Hashed once, so that the files change only when the registry does
    # (and the broker is reloaded only then), and the password is in no
    # command line.
    hash=$(python -c 'import os
from trytond.modules.elevator_iot.passwords import hash_password
print(hash_password(os.environ["ELEVATOR_MQTT_PASSWORD"]))')
    unset ELEVATOR_MQTT_PASSWORD
    wait_database
    while :; do
        elevator broker-acl -d "$DB" --password-file "$dir/elevator.passwd" \
            --acl-file "$dir/elevator.acl" --group mosquitto \
            --service-hash "$ELEVATOR_MQTT_USERNAME:$hash" \
            || echo "elevator-entrypoint: broker-acl failed; retry in $interval s" >&2
        sleep "$interval"
    done
}

role=${1:-server}
[ $# -gt 0 ] && shift
case $role in
    server)
        exec gunicorn -c /etc/trytond/gunicorn.conf.py trytond.application:app "$@" ;;
    bus)
        # Long polls hold a thread each for up to [bus] long_polling_timeout.
        export ELEVATOR_WEB_WORKERS="${ELEVATOR_WEB_WORKERS:-2}"
        export ELEVATOR_WEB_THREADS="${ELEVATOR_WEB_THREADS:-64}"
        export ELEVATOR_WEB_TIMEOUT="${ELEVATOR_WEB_TIMEOUT:-400}"
        export ELEVATOR_WEB_NAME=elevator-bus
        exec gunicorn -c /etc/trytond/gunicorn.conf.py trytond.application:app "$@" ;;
    cron)
        exec trytond-cron -d "$DB" -n "${ELEVATOR_CRON_PROCESSES:-1}" "$@" ;;
    worker)
        exec trytond-worker -d "$DB" -n "${ELEVATOR_WORKER_PROCESSES:-2}" "$@" ;;
    bridge)
        [ -n "${ELEVATOR_BRIDGE_CLIENT_ID:-}" ] \
            || die "ELEVATOR_BRIDGE_CLIENT_ID: each bridge needs its own, stable client id"
        exec elevator bridge -d "$DB" --client-id "$ELEVATOR_BRIDGE_CLIENT_ID" "$@" ;;
    broker-acl) broker_acl ;;
    init) init ;;
    update)
        wait_database
        exec trytond-admin -d "$DB" --all "$@" ;;
    backup) backup ;;
    elevator) exec elevator "$@" ;;
    admin) exec trytond-admin -d "$DB" "$@" ;;
    *) exec "$role" "$@" ;;
esac
