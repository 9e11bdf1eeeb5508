#!/usr/bin/env bash
# Debian packages the platform needs besides Python ones, by purpose:
#   demo  - a CJK font to embed in PDFs (ID cards, reports)
#   test  - the same, plus the tools the tests read PDFs and QR codes with
# Installed with apt-get (as root) only when something is missing.
set -euo pipefail
purpose=${1:-test}
packages=(fonts-wqy-microhei)
files=(/usr/share/fonts/truetype/wqy/wqy-microhei.ttc)
if [ "$purpose" = test ]; then
    packages+=(poppler-utils zbar-tools fonts-dejavu-core)
    files+=(/usr/bin/pdftotext /usr/bin/zbarimg
        /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)
fi
missing=0
for f in "${files[@]}"; do [ -e "$f" ] || missing=1; done
[ "$missing" = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "error: install ${packages[*]} (apt-get, as root)" >&2
    exit 1
fi
echo "==> installing ${packages[*]}"
if [ -z "$(find /var/lib/apt/lists -name '*Packages*' 2>/dev/null | head -1)" ]; then
    "$(dirname "$0")"/apt-get.sh update -q
fi
DEBIAN_FRONTEND=noninteractive "$(dirname "$0")"/apt-get.sh install -y -qq "${packages[@]}"
