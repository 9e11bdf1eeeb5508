#!/bin/sh
# Command of the broker container: wait for the password file and ACL that
# the broker-acl service writes, start Mosquitto, and make it read them again
# (SIGHUP) whenever their content changes: registered devices can connect,
# retired ones are disconnected, within a minute of the files' update.
set -eu
acl=/mosquitto/acl/elevator.acl
passwd=/mosquitto/acl/elevator.passwd
until [ -s "$acl" ] && [ -s "$passwd" ]; do
    echo "waiting for $acl and $passwd (the broker-acl service)"
    sleep 5
done
sums() { cat "$acl" "$passwd" | md5sum; }
mosquitto -c /mosquitto/config/mosquitto.conf &
pid=$!
trap 'kill -TERM "$pid"; wait "$pid"; exit 0' TERM INT
last=$(sums)
while kill -0 "$pid" 2>/dev/null; do
    sleep 30 &
    wait $! || true
    now=$(sums)
    if [ "$now" != "$last" ]; then
        echo "password file or ACL changed: reloading Mosquitto"
        kill -HUP "$pid"
        last=$now
    fi
done
wait "$pid"
