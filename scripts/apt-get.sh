#!/usr/bin/env bash
# apt-get that waits for the package manager instead of failing at once
# when another install runs (e.g. `make test` and `make demo` started
# together): our own scripts queue on one lock file, and apt itself waits
# up to 10 minutes for dpkg's lock held by anything else.
set -euo pipefail
exec flock -w 900 /var/lock/elevator-platform-apt.lock \
    apt-get -o DPkg::Lock::Timeout=600 "$@"
