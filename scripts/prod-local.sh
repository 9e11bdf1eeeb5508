#!/usr/bin/env bash
# `make prod-local`: the production topology of docker/compose.yaml on one
# machine without containers, for trying it and for tests:
#
#   gunicorn (several processes x threads) serving trytond.application:app
#   trytond-cron (one)
#   trytond-worker x PROD_WORKERS (2)        the ir.queue tasks
#   elevator bridge x PROD_BRIDGES (2)       shared MQTT subscription
#   PostgreSQL (database PROD_DB, created with every project module if
#   missing) and the MQTT broker at PROD_MQTT_HOST:PROD_MQTT_PORT (the
#   machine's Mosquitto by default)
#
# with the production configuration docker/trytond.conf, completed by the
# environment exactly as in the containers.
#
#   scripts/prod-local.sh [start]   create the database if missing, start
#   scripts/prod-local.sh stop      stop what this script started
#   scripts/prod-local.sh restart
#   scripts/prod-local.sh status    processes and the health endpoint
#
# Settings (environment):
#   PROD_DB             database (default prod_local)
#   PROD_DIR            pid files, logs, filestore (default var/prod-local)
#   PROD_HOST/PROD_PORT HTTP address (default 127.0.0.1:8100)
#   PROD_WEB_WORKERS    gunicorn processes (default 3)
#   PROD_WEB_THREADS    threads per gunicorn process (default 8)
#   PROD_WORKERS        trytond-worker processes (default 2)
#   PROD_BRIDGES        bridges (default 2), client ids <PROD_DB>-bridge-N
#   PROD_MQTT_HOST/PROD_MQTT_PORT  broker (default 127.0.0.1:1883)
#   PROD_MQTT_USERNAME/PROD_MQTT_PASSWORD  the bridges' MQTT account
#   TRYTOND_DATABASE_URI  PostgreSQL (default postgresql://postgres@127.0.0.1:5432/)
#   PROD_MODULES        modules activated on creation (default: all of modules/)
#   PROD_ADMIN_PASSWORD admin password on creation (default: generated and
#                       kept in PROD_DIR/admin-password, mode 0600)
#   PROD_DEMO_ELEVATORS load `elevator demo-data` with this many elevators
#                       after creating the database (default 0: none)
#   PROD_UPDATE=1       run the module update (trytond-admin --all) before
#                       starting: the upgrade procedure of docs/deployment.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DB=${PROD_DB:-prod_local}
PROD_DIR=${PROD_DIR:-var/prod-local}
mkdir -p "$PROD_DIR"
PROD_DIR=$(cd "$PROD_DIR" && pwd)
HOST=${PROD_HOST:-127.0.0.1}
PORT=${PROD_PORT:-8100}
URL="http://$HOST:$PORT/"
WEB_WORKERS=${PROD_WEB_WORKERS:-3}
WEB_THREADS=${PROD_WEB_THREADS:-8}
WORKERS=${PROD_WORKERS:-2}
BRIDGES=${PROD_BRIDGES:-2}
MQTT_HOST=${PROD_MQTT_HOST:-127.0.0.1}
MQTT_PORT=${PROD_MQTT_PORT:-1883}
VENV=$ROOT/.venv
RUN=$PROD_DIR/run
LOG=$PROD_DIR/log

# The production configuration, completed by the environment (see the
# header of docker/trytond.conf: the file's keys win over variables).
export TRYTOND_CONFIG=$ROOT/docker/trytond.conf
export TRYTOND_DATABASE_URI=${TRYTOND_DATABASE_URI:-postgresql://postgres@127.0.0.1:5432/}
export TRYTOND_DATABASE__URI=$TRYTOND_DATABASE_URI
export TRYTOND_DATABASE__PATH=$PROD_DIR/filestore
export TRYTOND_WEB__ROOT=$ROOT/web/sao
# Clients connect to gunicorn directly: no proxy header is to be believed.
export TRYTOND_WEB__NUM_PROXIES=0
export TRYTOND_DATABASE_NAMES=$DB
export TRYTOND_LOGGING_CONFIG=$ROOT/docker/logging.conf
export TRYTOND_TZ=${TRYTOND_TZ:-Asia/Shanghai}
export ELEVATOR_DB=$DB
export PYTHONUNBUFFERED=1
unset TRYTONPASSFILE

say() { echo "==> $*"; }
die() { echo "error: $*" >&2; exit 1; }

alive() {   # alive NAME: the process of run/NAME.pid runs
    local pid
    pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # A killed process not yet reaped (a zombie) is dead.
    case $(ps -o stat= -p "$pid" 2>/dev/null) in
        Z*|'') return 1 ;;
    esac
}

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

start_bg() {    # start_bg NAME COMMAND...: own session (pid = process group)
    local name=$1
    shift
    mkdir -p "$RUN" "$LOG"
    setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
    echo $! > "$RUN/$name.pid"
}

stop_one() {    # stop_one NAME: TERM to its process group, KILL after 30 s
    local name=$1 pid
    pid=$(cat "$RUN/$name.pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$RUN/$name.pid"
}

names() {   # every process of the topology, in start order
    echo web
    echo cron
    local i
    for i in $(seq 1 "$WORKERS"); do echo "worker-$i"; done
    for i in $(seq 1 "$BRIDGES"); do echo "bridge-$i"; done
}

stop_all() {
    local name
    # Bridges first (they stop acknowledging), the web server last.
    for name in $(names | tac); do
        stop_one "$name"
    done
    # Anything left from a run with more processes.
    for name in "$RUN"/*.pid; do
        [ -e "$name" ] || continue
        stop_one "$(basename "$name" .pid)"
    done
}

py() { "$VENV/bin/python" "$@"; }

# --- the database ------------------------------------------------------------

db_state() {    # absent | empty | ready
    py - "$DB" <<'EOF'
import os, sys, urllib.parse
import psycopg
uri = urllib.parse.urlsplit(os.environ['TRYTOND_DATABASE_URI'])
def connect(name):
    return psycopg.connect(urllib.parse.urlunsplit(
        uri._replace(path='/' + name)), autocommit=True)
with connect('postgres') as conn:
    if not conn.execute('SELECT 1 FROM pg_database WHERE datname = %s',
            (sys.argv[1],)).fetchone():
        print('absent')
        sys.exit()
with connect(sys.argv[1]) as conn:
    print('ready' if conn.execute(
            "SELECT to_regclass('ir_module')").fetchone()[0] else 'empty')
EOF
}

project_modules() {
    local cfg
    for cfg in modules/*/tryton.cfg; do
        basename "$(dirname "$cfg")"
    done
}

create_database() {
    local state=$1 modules passfile password
    modules=${PROD_MODULES:-$(project_modules | xargs)}
    if [ "$state" = absent ]; then
        say "creating database $DB"
        py - "$DB" <<'EOF'
import os, sys, urllib.parse
import psycopg
uri = urllib.parse.urlsplit(os.environ['TRYTOND_DATABASE_URI'])
with psycopg.connect(urllib.parse.urlunsplit(uri._replace(path='/postgres')),
        autocommit=True) as conn:
    conn.execute(f'CREATE DATABASE "{sys.argv[1]}" ENCODING \'UTF8\' '
        'TEMPLATE template0')
EOF
    fi
    password=${PROD_ADMIN_PASSWORD:-}
    if [ -z "$password" ]; then
        password=$(py -c 'import secrets; print(secrets.token_urlsafe(15))')
        (umask 077 && echo "$password" > "$PROD_DIR/admin-password")
        say "admin password generated: $PROD_DIR/admin-password"
    fi
    passfile=$(mktemp)
    chmod 600 "$passfile"
    echo "$password" > "$passfile"
    say "activating modules ($modules) in $DB, zh_CN"
    # shellcheck disable=SC2086
    if ! TRYTONPASSFILE=$passfile "$VENV/bin/trytond-admin" -d "$DB" \
            -u $modules --activate-dependencies -l zh_CN \
            --email admin@example.com >>"$LOG/admin.log" 2>&1; then
        rm -f "$passfile"
        tail -30 "$LOG/admin.log" >&2
        die "trytond-admin failed; see $LOG/admin.log"
    fi
    rm -f "$passfile"
    py - "$DB" <<'EOF'
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
    if [ "${PROD_DEMO_ELEVATORS:-0}" -gt 0 ]; then
        say "loading demo data ($PROD_DEMO_ELEVATORS elevators)"
        "$VENV/bin/elevator" demo-data -d "$DB" \
            --elevators "$PROD_DEMO_ELEVATORS" >>"$LOG/admin.log" 2>&1 \
            || die "elevator demo-data failed; see $LOG/admin.log"
    fi
}

prepare_database() {
    local state
    state=$(db_state) || die "PostgreSQL does not answer at $TRYTOND_DATABASE_URI"
    if [ "$state" != ready ]; then
        create_database "$state"
    elif [ "${PROD_UPDATE:-0}" = 1 ]; then
        say "updating every activated module of $DB (trytond-admin --all)"
        "$VENV/bin/trytond-admin" -d "$DB" --all >>"$LOG/admin.log" 2>&1 \
            || die "the module update failed; see $LOG/admin.log"
    fi
}

# --- readiness ---------------------------------------------------------------

answers() {     # the server answers JSON-RPC
    py - "$URL" <<'EOF' >/dev/null 2>&1
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + 'rpc/', headers={
    'Content-Type': 'application/json'}, data=json.dumps({
    'id': 0, 'method': 'common.server.version', 'params': []}).encode())
with urllib.request.urlopen(req, timeout=5) as r:
    assert json.load(r)['result']
EOF
}

wait_until() {  # wait_until SECONDS NAME COMMAND...: NAME must stay alive
    local seconds=$1 name=$2 i
    shift 2
    for i in $(seq 1 $((seconds * 2))); do
        if ! alive "$name"; then
            tail -30 "$LOG/$name.log" >&2 || true
            die "$name exited; see $LOG/$name.log"
        fi
        "$@" && return 0
        sleep 0.5
    done
    tail -30 "$LOG/$name.log" >&2 || true
    die "$name is not ready after $seconds s; see $LOG/$name.log"
}

log_size() { stat -c %s "$LOG/$1.log" 2>/dev/null || echo 0; }

bridge_connected() {    # a "subscribed to" line since the bridge started
    local since
    since=$(cat "$RUN/$1.offset" 2>/dev/null || echo 0)
    tail -c +"$((since + 1))" "$LOG/$1.log" 2>/dev/null | grep -q 'subscribed to'
}

# --- commands ----------------------------------------------------------------

start() {
    [ -x "$VENV/bin/gunicorn" ] || die "gunicorn is missing: run scripts/setup-venv.sh (or make prod-local)"
    [ -f web/sao/index.html ] || die "sao is missing: run scripts/setup-sao.sh (or make prod-local)"
    listening "$MQTT_HOST" "$MQTT_PORT" \
        || die "no MQTT broker at $MQTT_HOST:$MQTT_PORT (scripts/ensure-services.sh starts the machine's Mosquitto)"
    local name i started=()
    if [ "${PROD_UPDATE:-0}" = 1 ]; then
        for name in $(names); do
            alive "$name" && die "stop everything before a module update (scripts/prod-local.sh stop)"
        done
    fi
    mkdir -p "$RUN" "$LOG" "$PROD_DIR/filestore"
    # Only what does not run is started: after a crash, `start` again
    # brings back the missing processes and leaves the others alone.
    if ! alive web; then
        listening "$HOST" "$PORT" && die "something else listens on $HOST:$PORT"
        prepare_database
        say "starting gunicorn on $URL ($WEB_WORKERS processes x $WEB_THREADS threads)"
        ELEVATOR_WEB_BIND=$HOST:$PORT ELEVATOR_WEB_WORKERS=$WEB_WORKERS \
            ELEVATOR_WEB_THREADS=$WEB_THREADS ELEVATOR_WEB_NAME="$DB-web" \
            start_bg web "$VENV/bin/gunicorn" -c "$ROOT/docker/gunicorn.conf.py" \
            trytond.application:app
        started+=(web)
    fi
    if ! alive cron; then
        say "starting trytond-cron"
        start_bg cron "$VENV/bin/trytond-cron" -d "$DB" -n 1
        started+=(cron)
    fi
    for i in $(seq 1 "$WORKERS"); do
        alive "worker-$i" && continue
        say "starting trytond-worker $i"
        start_bg "worker-$i" "$VENV/bin/trytond-worker" -d "$DB" -n 1
        started+=("worker-$i")
    done
    local auth=()
    if [ -n "${PROD_MQTT_USERNAME:-}" ]; then
        auth=(--username "$PROD_MQTT_USERNAME")
        export ELEVATOR_MQTT_PASSWORD=${PROD_MQTT_PASSWORD:-}
    fi
    for i in $(seq 1 "$BRIDGES"); do
        alive "bridge-$i" && continue
        # A stable client id per bridge: its persistent session, and the
        # messages the broker keeps for it, survive a restart.
        say "starting bridge $i (client id $DB-bridge-$i)"
        log_size "bridge-$i" > "$RUN/bridge-$i.offset"
        start_bg "bridge-$i" "$VENV/bin/elevator" bridge -d "$DB" \
            --host "$MQTT_HOST" --port "$MQTT_PORT" "${auth[@]}" \
            --client-id "$DB-bridge-$i" --stats "${PROD_BRIDGE_STATS:-60}"
        started+=("bridge-$i")
    done

    wait_until 300 web answers
    for name in "${started[@]}"; do
        case $name in
            bridge-*) wait_until 120 "$name" bridge_connected "$name" ;;
        esac
    done
    for name in $(names); do
        alive "$name" || die "$name exited; see $LOG/$name.log"
    done
    if [ ${#started[@]} -eq 0 ]; then
        say "everything was running already"
    else
        say "started: ${started[*]}"
    fi
    cat <<EOF

Production topology on this machine: $URL  (database $DB)
  web      gunicorn, $WEB_WORKERS processes x $WEB_THREADS threads
  cron     trytond-cron
  workers  $WORKERS trytond-worker
  bridges  $BRIDGES x elevator bridge on $MQTT_HOST:$MQTT_PORT (\$share/elevator-$DB/... + alarm lanes)
Health: ${URL}$DB/elevator/health
Logs: $LOG/   pid files: $RUN/
Stop it with: make prod-local-stop   (or scripts/prod-local.sh stop)
EOF
}

status() {
    local name code=0
    for name in $(names); do
        if alive "$name"; then
            echo "running  $name (pid $(cat "$RUN/$name.pid"))"
        else
            echo "stopped  $name"
            code=3
        fi
    done
    py - "${URL}$DB/elevator/health" <<'EOF' || code=3
import json, sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        report = json.load(r)
except urllib.error.HTTPError as error:
    report = json.load(error) if error.code == 503 else {
        'status': f'HTTP {error.code}'}
except OSError as error:
    report = {'status': f'unreachable ({error})'}
print(f"health   {report.get('status')}  ({sys.argv[1]})")
sys.exit(0 if report.get('status') in ('ok', 'warning') else 1)
EOF
    return $code
}

case "${1:-start}" in
    start) start ;;
    stop) stop_all ;;
    restart) stop_all; start ;;
    status) status ;;
    *) die "usage: $0 [start|stop|restart|status]" ;;
esac
