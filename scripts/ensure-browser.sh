#!/usr/bin/env bash
# Make sure what the browser test (tests/test_browser.py) needs is there:
# Debian's headless-capable Chromium and a CJK font so the Chinese UI
# renders in screenshots. The test drives Chromium itself through the
# DevTools protocol over a pipe (--remote-debugging-pipe): no chromedriver,
# no Python package, no browser download.
# Installs from Debian's packages with apt-get (needs root); `apt-get update`
# runs only when the package lists are missing or do not know a package.
set -euo pipefail

packages=(chromium fonts-wqy-microhei)

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: missing ${missing[*]} and not root: install them" >&2
        exit 1
    fi
    known=1
    for p in "${missing[@]}"; do
        apt-cache show "$p" >/dev/null 2>&1 || known=0
    done
    if [ $known = 0 ] \
            || [ -z "$(find /var/lib/apt/lists -name '*Packages*' 2>/dev/null | head -1)" ]; then
        "$(dirname "$0")"/apt-get.sh update -q
    fi
    echo "==> installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive "$(dirname "$0")"/apt-get.sh install -y -qq --no-install-recommends \
        "${missing[@]}"
fi

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
    echo "error: chromium is not on PATH after installing it" >&2
    exit 1
fi
echo "browser: $("$browser" --version 2>/dev/null || echo "$browser")"
