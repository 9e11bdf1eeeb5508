#!/usr/bin/env bash
# The one-machine demo (DESIGN §5): SQLite database `demo` under var/db,
# served with the sao web client at http://127.0.0.1:8000/.
#
#   scripts/demo.sh            set up what is missing, start, print logins
#   scripts/demo.sh stop       stop what this script started
#   scripts/demo.sh restart    stop, then start (picks up changed modules)
#   scripts/demo.sh status     say whether it runs
#
# `make demo` sets up .venv and sao first. The first run creates the
# database (zh_CN), activates the project's modules and loads the demo data
# (a few minutes); later runs reuse it and only update the modules when
# their files changed since the last update, then start the server.
# Logs: var/log/, pid files: var/run/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DB=demo
CONF=trytond.conf
HOST=127.0.0.1
PORT=8000
URL="http://$HOST:$PORT/"
PASSWORD=elevator-demo
MQTT_PORT=${DEMO_MQTT_PORT:-1883}
SIM_DEVICES=${DEMO_SIM_DEVICES:-50}
SIM_RATE=${DEMO_SIM_RATE:-5}
ADMIN_EMAIL=admin@example.com
ELEVATORS=${DEMO_ELEVATORS:-2000}
SEED=${DEMO_SEED:-1}
VENV=$ROOT/.venv
DB_DIR=$ROOT/var/db
DB_FILE=$DB_DIR/$DB.sqlite
STATE=var/demo.state          # what has been done to the database
RUN=var/run
LOG=var/log
export TRYTOND_CONFIG=$ROOT/$CONF
# [database] path: trytond 8.0 needs it absolute (see trytond.conf).
export TRYTOND_DATABASE__PATH=$DB_DIR

say() { echo "==> $*"; }
warn() { echo "WARNING: $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

listening() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

alive() {   # alive NAME: the process of var/run/NAME.pid runs
    local pid
    pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

answers() { # the server answers JSON-RPC and serves sao
    "$VENV/bin/python" - "$URL" <<'EOF' >/dev/null 2>&1
import json, sys, urllib.request
url = sys.argv[1]
with urllib.request.urlopen(url, timeout=5) as r:
    assert b'sao' in r.read()
req = urllib.request.Request(url + 'rpc/', headers={
    'Content-Type': 'application/json'}, data=json.dumps({
    'id': 0, 'method': 'common.server.version', 'params': []}).encode())
with urllib.request.urlopen(req, timeout=5) as r:
    assert json.load(r)['result']
EOF
}

state_get() { sed -n "s/^$1=//p" "$STATE" 2>/dev/null | tail -1; }
state_set() {
    local tmp="$STATE.tmp"
    { grep -v "^$1=" "$STATE" 2>/dev/null || true; echo "$1=$2"; } > "$tmp"
    mv "$tmp" "$STATE"
}

project_modules() {
    local cfg
    for cfg in modules/*/tryton.cfg; do
        basename "$(dirname "$cfg")"
    done
}

modules_hash() {
    # Content of everything trytond-admin -u reads from the modules, and
    # the trytond release.
    {
        find modules -type f \( -name '*.py' -o -name '*.xml' -o -name '*.cfg' \
            -o -name '*.po' -o -name '*.csv' -o -name '*.rst' \) \
            -not -path '*/tests/*' -print0 | sort -z | xargs -0 sha256sum
        "$VENV/bin/python" -c 'import trytond; print(trytond.__version__)'
    } | sha256sum | cut -d' ' -f1
}

stop_one() {    # stop_one NAME: stop the process of var/run/NAME.pid
    local name=$1 pid
    pid=$(cat "$RUN/$name.pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        # The whole process group (start_bg runs each under setsid): the
        # cron's and the bridge's worker processes go with their parent.
        kill -- "-$pid" 2>/dev/null || kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$RUN/$name.pid"
}

stop_all() {
    local f
    for f in "$RUN"/*.pid; do
        [ -e "$f" ] || continue
        [ "$(basename "$f" .pid)" = trytond ] && continue
        stop_one "$(basename "$f" .pid)"
    done
    stop_one trytond
}

start_bg() {    # start_bg NAME COMMAND...: run in the background, log, pid
    local name=$1
    shift
    mkdir -p "$RUN" "$LOG"
    setsid nohup "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
    echo $! > "$RUN/$name.pid"
}

print_info() {
    cat <<EOF

Putian elevator safety platform demo: $URL  (database: $DB)
Every demo user has the password: $PASSWORD
  admin                                        platform administrator
  city                                         city regulator (市场监管局)
  chengxiang hanjiang licheng xiuyu xianyou    district regulators of
                                               350302 350303 350304 350305 350322
  dispatcher                                   96196 dispatcher
  firm1                                        manager of the first maintenance firm
  tech1 tech2                                  its technicians
  property1                                    property company / user unit
  fire finance auditor                         fire rescue, finance clerk, auditor
  city2 finance2                               second city regulator, second finance clerk
  agency1 street1 housing emergency            inspection agency, town/street office,
                                               housing department, emergency management
  association insurer1 investor1               industry association, insurer, IoT investor
Running beside the server: trytond-cron (escalation, offline detection,
planning, warnings, retention, the outbox's queued messages; the SMS
provider of the demo writes to the logs), the MQTT bridge, a device simulation and
a call centre ringing 96196 every few minutes (dispatcher: extension 8001).
Stop it with: make stop-demo   (or scripts/demo.sh stop); logs in $LOG/
EOF
}

# --- the database -----------------------------------------------------------

admin() {
    "$VENV/bin/trytond-admin" -c "$CONF" -d "$DB" "$@"
}

create_database() {
    say "creating database $DB ($DB_FILE, zh_CN)"
    mkdir -p "$DB_DIR"
    local passfile
    passfile=$(mktemp)
    echo "$PASSWORD" > "$passfile"
    # SQLite: trytond opens an existing file only.
    rm -f "$DB_FILE"
    : > "$DB_FILE"
    if ! TRYTONPASSFILE=$passfile admin --all -l zh_CN --email "$ADMIN_EMAIL"; then
        rm -f "$passfile" "$DB_FILE"
        die "creating the database failed"
    fi
    rm -f "$passfile"
    rm -f "$STATE"
    state_set created "$(date -Iseconds)"
}

update_modules() {
    local want=$1
    # shellcheck disable=SC2046
    say "activating/updating modules: $(project_modules | xargs)"
    admin -u $(project_modules) --activate-dependencies
    state_set modules "$want"
}

set_language() {
    # The UI in Chinese: zh_CN is loaded (translatable) by trytond-admin -l;
    # here the database's default language and the users without one.
    say "setting the database language to zh_CN"
    "$VENV/bin/python" - "$DB" "$CONF" <<'EOF'
import sys
from elevator_platform.tryton_env import transaction
with transaction(sys.argv[1], config_file=sys.argv[2]) as pool:
    Lang = pool.get('ir.lang')
    User = pool.get('res.user')
    Configuration = pool.get('ir.configuration')
    zh_cn, = Lang.search([('code', '=', 'zh_CN')])
    if not zh_cn.translatable:
        Lang.write([zh_cn], {'translatable': True})
    config = Configuration(1)
    config.language = 'zh_CN'
    config.save()
    users = User.search([('language', '=', None)])
    users += User.search([('login', '=', 'admin')])
    User.write(list(set(users)), {'language': zh_cn.id})
EOF
}

data_stamp() {
    # The arguments and the code of the generator: `elevator demo-data`
    # creates what is missing and updates what changed, so it runs again
    # whenever its code or data changed.
    echo "--elevators $ELEVATORS --seed $SEED $(
        find src/elevator_platform data -type f \( -name '*.py' -o -name '*.csv' \
            -o -name '*.json' \) -print0 2>/dev/null | sort -z | xargs -0 cat \
            | sha256sum | cut -c1-16)"
}

load_demo_data() {
    local stamp=$1
    say "loading demo data (elevator demo-data --elevators $ELEVATORS --seed $SEED)"
    if "$VENV/bin/elevator" demo-data -c "$CONF" -d "$DB" \
            --elevators "$ELEVATORS" --seed "$SEED"; then
        state_set data "$stamp"
        return 0
    fi
    warn "loading the demo data failed; the server starts without it" \
        "and the next run of scripts/demo.sh tries again"
    return 1
}

prepare_database() {
    if [ ! -s "$DB_FILE" ] || [ -z "$(state_get created)" ]; then
        create_database
    fi
    local want
    want=$(modules_hash)
    if [ "$(state_get modules)" != "$want" ]; then
        update_modules "$want"
    fi
    local data
    data=$(data_stamp)
    if [ "$(state_get data)" != "$data" ]; then
        load_demo_data "$data" || true
    fi
    # Again once the demo data (and its users) arrived.
    local lang="zh_CN $(state_get data)"
    if [ "$(state_get language)" != "$lang" ]; then
        set_language
        state_set language "$lang"
    fi
}

# --- optional services ------------------------------------------------------

has_command() {     # has_command SUB: `elevator SUB` exists
    "$VENV/bin/elevator" "$1" --help >/dev/null 2>&1
}

start_cron() {
    # Nothing waits for a person to look: escalation of unaccepted rescues,
    # offline detection, maintenance planning, warnings and the retention
    # jobs are Tryton cron tasks (ir.cron), run by trytond-cron as in
    # production. One process: SQLite takes one writer at a time.
    if ! alive cron; then
        start_bg cron "$VENV/bin/trytond-cron" -c "$CONF" -d "$DB" -n 1
        say "started: cron (escalation, offline detection, planning, warnings;" \
            "log in $LOG/cron.log)"
    fi
}

start_optional_services() {
    # The rest of the demo of DESIGN §5: the MQTT bridge and a small device
    # simulation, with an embedded broker (amqtt, `elevator broker`) where
    # none answers on 1883. They read the same configuration and database
    # as the server (-c trytond.conf -d demo, see elevator_platform.tryton_env)
    # and are stopped by `scripts/demo.sh stop` like it.
    local name
    local started=()
    # The call centre rings 96196 every few minutes (signed CTI events):
    # the call pops up for the dispatcher (extension 8001).
    if has_command simulate-calls && ! alive calls; then
        start_bg calls "$VENV/bin/elevator" simulate-calls -c "$CONF" \
            -d "$DB" --url "$URL" --interval "${DEMO_CALL_INTERVAL:-300}"
        started+=(calls)
    fi
    has_command bridge || return 0
    if ! listening "$MQTT_PORT"; then
        if ! alive broker; then
            start_bg broker "$VENV/bin/elevator" broker --port "$MQTT_PORT"
            started+=(broker)
        fi
        for _ in $(seq 1 100); do
            listening "$MQTT_PORT" && break
            alive broker || break
            sleep 0.1
        done
        if listening "$MQTT_PORT"; then
            say "no MQTT broker on $HOST:$MQTT_PORT: started the embedded one" \
                "(amqtt, MQTT 3.1.1 only: the bridge uses a plain subscription)"
        else
            warn "no MQTT broker on $HOST:$MQTT_PORT and the embedded one did" \
                "not start (see $LOG/broker.log): no bridge, no simulation"
            return 0
        fi
    fi
    if ! alive bridge; then
        start_bg bridge "$VENV/bin/elevator" bridge -c "$CONF" -d "$DB" \
            --port "$MQTT_PORT" --client-id elevator-bridge-demo
        started+=(bridge)
    fi
    # The devices of the demo data talk: SIM_DEVICES of them, SIM_RATE
    # messages/s together, for a day at most; each logs in with its serial
    # and the demo password.
    if has_command simulate && ! alive simulate; then
        start_bg simulate "$VENV/bin/elevator" simulate -c "$CONF" -d "$DB" \
            --port "$MQTT_PORT" --devices "$SIM_DEVICES" --rate "$SIM_RATE" \
            --duration 86400 --password "$PASSWORD" --report 300
        started+=(simulate)
    fi
    if [ ${#started[@]} -gt 0 ]; then
        say "started: ${started[*]} (logs in $LOG/)"
    fi
}

# --- commands ---------------------------------------------------------------

start() {
    [ -x "$VENV/bin/trytond" ] || die ".venv is missing: run scripts/setup-venv.sh (or make demo)"
    [ -f web/sao/index.html ] || die "sao is missing: run scripts/setup-sao.sh (or make demo)"
    if alive trytond; then
        if answers; then
            say "the demo is already running (pid $(cat "$RUN/trytond.pid"))"
            start_cron
            start_optional_services
            print_info
            return 0
        fi
        die "trytond (pid $(cat "$RUN/trytond.pid")) runs but does not answer" \
            "on $URL; see $LOG/trytond.log or run scripts/demo.sh restart"
    fi
    rm -f "$RUN/trytond.pid"
    if listening "$PORT"; then
        die "something else listens on $HOST:$PORT; stop it first"
    fi
    mkdir -p var "$RUN" "$LOG"
    prepare_database

    say "starting trytond on $URL"
    start_bg trytond "$VENV/bin/trytond" -c "$CONF" -d "$DB"
    local i
    for i in $(seq 1 600); do
        if ! alive trytond; then
            tail -30 "$LOG/trytond.log" >&2 || true
            die "trytond exited; see $LOG/trytond.log"
        fi
        answers && break
        if [ "$i" = 600 ]; then
            die "trytond does not answer on $URL; see $LOG/trytond.log"
        fi
        sleep 0.5
    done
    start_cron
    start_optional_services
    print_info
}

case "${1:-start}" in
    start) start ;;
    stop) stop_all ;;
    restart) stop_all; start ;;
    status)
        if alive trytond && answers; then
            echo "running: $URL (pid $(cat "$RUN/trytond.pid"))"
        else
            echo "not running"
            exit 3
        fi
        ;;
    *) die "usage: $0 [start|stop|restart|status]" ;;
esac
