#!/usr/bin/env bash
# Check the deployment files of docker/ without a Docker engine:
#   1. compose.yaml: `docker compose config` (or docker-compose 1.29)
#   2. the nginx template, rendered as the nginx image does, with a
#      throw-away certificate: `nginx -t` (Debian's nginx)
#   3. the Mosquitto configuration with a password file and ACL written
#      by elevator_platform.iot.broker_acl: Mosquitto is started on free
#      ports, a bridge account subscribes to the shared subscription over
#      TLS, a device publishes under its own serial and is refused under
#      another's, the anonymous health listener reads $SYS only
#   4. the shell and Python entry points parse
# Needs: docker compose or docker-compose, nginx, openssl, mosquitto,
# mosquitto-clients (apt-get install docker-compose nginx-light openssl
# mosquitto mosquitto-clients). Exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
DOCKER_DIR=$PWD
ROOT=$(cd .. && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
tmp=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok: $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# --- 1. compose --------------------------------------------------------------
# The secret files must exist for the check: empty ones where missing,
# removed at the end.
for f in db_password admin_password mqtt_bridge_password health_token \
        tls_cert.pem tls_key.pem; do
    if [ ! -e "secrets/$f" ]; then
        : > "secrets/$f"
        echo "$DOCKER_DIR/secrets/$f" >> "$tmp/placeholders"
    fi
done
trap '[ -f "$tmp/placeholders" ] && xargs rm -f < "$tmp/placeholders"; cleanup' EXIT
compose_env=(ELEVATOR_SERVER_NAME=validate.example.org)
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    fail "neither docker compose nor docker-compose"
fi
env "${compose_env[@]}" "${compose[@]}" -f compose.yaml config > "$tmp/compose.rendered" \
    || fail "compose.yaml"
env "${compose_env[@]}" "${compose[@]}" -f compose.yaml --profile tools config --services \
    > "$tmp/services" 2>/dev/null \
    || env "${compose_env[@]}" "${compose[@]}" -f compose.yaml config --services > "$tmp/services"
for service in db init server bus cron worker bridge-1 bridge-2 broker-acl broker nginx; do
    grep -qx "$service" "$tmp/services" || fail "compose.yaml has no service $service"
done
ok "compose.yaml ($("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version | head -1)): $(wc -l < "$tmp/services") services"

# --- 2. nginx ----------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=validate.example.org \
    -keyout "$tmp/tls_key" -out "$tmp/tls_cert" 2>/dev/null
mkdir -p "$tmp/nginx"
ELEVATOR_SERVER_NAME=validate.example.org ELEVATOR_MONITORING_NETWORK=10.0.0.0/24 \
ELEVATOR_WEB_UPSTREAM=127.0.0.1:8000 ELEVATOR_BUS_UPSTREAM=127.0.0.1:8001 \
    "$PY" - nginx/templates/elevator.conf.template "$tmp/nginx/elevator.conf" "$tmp" <<'EOF'
import os, re, sys
# As the nginx image's envsubst: only variables that are set are replaced.
text = open(sys.argv[1]).read()
text = re.sub(r'\$\{(\w+)\}', lambda m: os.environ.get(m.group(1), m.group(0)), text)
text = text.replace('/run/secrets/', sys.argv[3] + '/')
open(sys.argv[2], 'w').write(text)
EOF
cat > "$tmp/nginx/nginx.conf" <<EOF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/nginx;
    include $tmp/nginx/elevator.conf;
}
EOF
nginx -t -q -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>&1 | grep -v 'listen ... http2' | grep . \
    && fail "nginx -t" || true
nginx -t -q -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>/dev/null || fail "nginx -t"
ok "nginx template ($(nginx -v 2>&1))"

# --- 3. Mosquitto ------------------------------------------------------------
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
p_bridge=$(free_port); p_tls=$(free_port); p_health=$(free_port)
mkdir -p "$tmp/mosquitto/acl" "$tmp/mosquitto/data"
"$PY" - "$tmp/mosquitto/acl" <<'EOF'
import sys
from elevator_platform.iot.broker_acl import Account, write_files
from trytond.modules.elevator_iot.passwords import hash_password
devices = [Account('PT-VALIDATE-01', hash_password('device-secret'))]
services = [Account('bridge', hash_password('bridge-secret'))]
write_files(devices, services, sys.argv[1] + '/elevator.passwd',
    sys.argv[1] + '/elevator.acl')
EOF
sed -e "s|/mosquitto/acl/|$tmp/mosquitto/acl/|; s|/mosquitto/data/|$tmp/mosquitto/data/|" \
    -e "s|/mosquitto/config/health.acl|$DOCKER_DIR/mosquitto/health.acl|" \
    -e "s|/run/secrets/|$tmp/|" \
    -e "s|^listener 1883 0.0.0.0|listener $p_bridge 127.0.0.1|" \
    -e "s|^listener 8883 0.0.0.0|listener $p_tls 127.0.0.1|" \
    -e "s|^listener 1884 127.0.0.1|listener $p_health 127.0.0.1|" \
    -e "s|^log_dest stdout|log_dest file $tmp/mosquitto/log|" \
    mosquitto/mosquitto.conf > "$tmp/mosquitto/mosquitto.conf"
[ "$(id -u)" = 0 ] && echo "user $(id -un)" >> "$tmp/mosquitto/mosquitto.conf"
mosquitto -c "$tmp/mosquitto/mosquitto.conf" > "$tmp/mosquitto/out" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p_tls") 2>/dev/null && break
    sleep 0.1
done
kill -0 "${pids[-1]}" 2>/dev/null || { cat "$tmp/mosquitto/out" "$tmp/mosquitto/log" 2>/dev/null; fail "mosquitto did not start"; }
tls=(--cafile "$tmp/tls_cert" --insecure)
# The bridge account: shared subscription over TLS; the device publishes.
mosquitto_sub -h 127.0.0.1 -p "$p_tls" "${tls[@]}" -u bridge -P bridge-secret -V mqttv5 \
    -t '$share/elevator-bridge/elevator/v1/+/+' -C 1 -W 10 -q 1 > "$tmp/received" &
sub=$!
sleep 1
mosquitto_pub -h 127.0.0.1 -p "$p_tls" "${tls[@]}" -u PT-VALIDATE-01 -P device-secret \
    -t elevator/v1/PT-VALIDATE-01/running -m '{"ok": 1}' -q 1
wait "$sub" || fail "the bridge account did not receive the device's message"
grep -q '"ok": 1' "$tmp/received" || fail "wrong message received"
# A device may not publish under another serial (the broker drops it).
mosquitto_sub -h 127.0.0.1 -p "$p_bridge" -u bridge -P bridge-secret \
    -t 'elevator/v1/#' -C 1 -W 3 > "$tmp/forged" 2>/dev/null &
sub=$!
sleep 1
mosquitto_pub -h 127.0.0.1 -p "$p_tls" "${tls[@]}" -u PT-VALIDATE-01 -P device-secret \
    -t elevator/v1/PT-SOMEONE-ELSE/running -m forged -q 1 || true
wait "$sub" && fail "a device published under another device's serial" || true
# A wrong password is refused; anonymous reads only $SYS on the health port.
mosquitto_pub -h 127.0.0.1 -p "$p_bridge" -u bridge -P wrong -t x -m x 2>/dev/null \
    && fail "a wrong password was accepted" || true
mosquitto_sub -h 127.0.0.1 -p "$p_health" -t '$SYS/broker/uptime' -C 1 -W 5 >/dev/null \
    || fail "the health listener"
ok "mosquitto.conf with the generated ACL ($(mosquitto -h | head -1))"

# --- 4. entry points ---------------------------------------------------------
sh -n entrypoint.sh || fail "entrypoint.sh"
sh -n mosquitto/run.sh || fail "mosquitto/run.sh"
"$PY" -c 'import ast, sys
for name in sys.argv[1:]:
    ast.parse(open(name).read(), name)' healthcheck.py gunicorn.conf.py || fail "Python files"
"$PY" -c "import logging.config; logging.config.fileConfig('logging.conf')" \
    || fail "logging.conf"
ok "entrypoint.sh, run.sh, healthcheck.py, gunicorn.conf.py, logging.conf"
echo "docker/ is valid"
