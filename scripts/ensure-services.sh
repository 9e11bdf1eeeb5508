#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Mosquitto (127.0.0.1:1883) answer.
# Where one already listens it is used as it is; otherwise it is installed
# from Debian's packages (needs root) and started.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "error: $* missing and not root: install it or start it" >&2
        exit 1
    fi
    if [ -z "$(find /var/lib/apt/lists -name '*Packages*' 2>/dev/null | head -1)" ]; then
        "$(dirname "$0")"/apt-get.sh update -q
    fi
    DEBIAN_FRONTEND=noninteractive "$(dirname "$0")"/apt-get.sh install -y -qq "$@"
}

wait_port() {
    for _ in $(seq 1 60); do listening "$1" && return 0; sleep 0.5; done
    echo "error: nothing listens on 127.0.0.1:$1" >&2
    exit 1
}

if ! listening 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "==> installing PostgreSQL"
        apt_install postgresql
    fi
    version=$(ls /etc/postgresql | sort -V | tail -1)
    conf=/etc/postgresql/$version/main
    # Tests connect over TCP as postgres without a password.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' \
            "$conf/pg_hba.conf"
    fi
    echo "==> starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_port 5432
fi

if ! listening 1883; then
    if ! command -v mosquitto >/dev/null; then
        echo "==> installing Mosquitto"
        apt_install mosquitto mosquitto-clients
    fi
    echo "==> starting Mosquitto"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_port 1883
fi
