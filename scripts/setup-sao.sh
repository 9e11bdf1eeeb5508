#!/usr/bin/env bash
# Install the sao web client (tryton-sao, npm registry) with its node
# dependencies into web/sao, the folder trytond serves as `[web] root`
# (trytond.conf). sao's index.html loads its libraries from node_modules/
# relative to itself, so they are installed inside web/sao.
#
# Re-running is cheap: nothing is fetched while web/sao holds a complete
# install of the wanted release line. SAO_UPGRADE=1 asks the registry for
# the newest release of the line and reinstalls when it is newer.
#
# Every run, installing or not, lays the platform's customisation
# (sao-custom/: custom.js and custom.css, which index.html loads, the icon,
# and <lang>.po translations of sao strings merged into locale/<lang>.json)
# over web/sao, so an edit of sao-custom/ shows after the next run.
#
#   SAO_SPEC      npm version range (default 8.0, i.e. the latest 8.0.x)
#   SAO_DIR       target folder (default web/sao)
#   SAO_CUSTOM    the customisation folder (default sao-custom)
set -euo pipefail
cd "$(dirname "$0")/.."
SAO_SPEC=${SAO_SPEC:-8.0}
SAO_DIR=${SAO_DIR:-web/sao}
SAO_CUSTOM=${SAO_CUSTOM:-sao-custom}
stamp=$SAO_DIR/.installed

customise() {
    # Lay sao-custom/ over the sao folder $1 (default $SAO_DIR).
    # Idempotent and cheap: files are copied only when they differ; each
    # locale/<lang>.json is rebuilt from sao's own file (kept aside as
    # <lang>.sao.json) and the overlay, and written only when it changes.
    local dir=${1:-$SAO_DIR} file lang base
    [ -d "$SAO_CUSTOM" ] || return 0
    for file in "$SAO_CUSTOM"/*; do
        case $file in *.po|*/merge-po.js) continue;; esac
        [ -f "$file" ] || continue
        cmp -s "$file" "$dir/${file##*/}" || cp "$file" "$dir/"
    done
    for file in "$SAO_CUSTOM"/*.po; do
        [ -f "$file" ] || continue
        lang=$(basename "$file" .po)
        base=$dir/locale/$lang.sao.json
        [ -f "$base" ] || cp "$dir/locale/$lang.json" "$base"
        node "$SAO_CUSTOM/merge-po.js" "$base" "$file" "$dir/locale/$lang.json"
    done
}

complete() {
    # Every script and style sheet index.html loads must be there.
    [ -f "$SAO_DIR/index.html" ] && [ -f "$SAO_DIR/dist/tryton-sao.js" ] || return 1
    local ref
    for ref in $(grep -o '\(src\|href\)="node_modules/[^"]*"' "$SAO_DIR/index.html" \
            | sed 's/^[a-z]*="//; s/"$//'); do
        [ -f "$SAO_DIR/$ref" ] || return 1
    done
}

installed_version() { sed -n 's/^version=//p' "$stamp" 2>/dev/null; }

if [ -f "$stamp" ] && grep -qx "spec=$SAO_SPEC" "$stamp" && complete; then
    if [ "${SAO_UPGRADE:-0}" != 1 ]; then
        echo "sao $(installed_version) already installed in $SAO_DIR"
        customise
        exit 0
    fi
    latest=$(npm view "tryton-sao@$SAO_SPEC" version --json | tr -d '[]" \n' \
        | tr ',' '\n' | sort -V | tail -1)
    if [ "$latest" = "$(installed_version)" ]; then
        echo "sao $latest already installed in $SAO_DIR (newest of $SAO_SPEC)"
        customise
        exit 0
    fi
fi

command -v npm >/dev/null || { echo "error: npm (Node.js) is needed" >&2; exit 1; }

echo "==> installing sao (tryton-sao@$SAO_SPEC) into $SAO_DIR"
mkdir -p "$(dirname "$SAO_DIR")"
work=$(mktemp -d "$(dirname "$SAO_DIR")/.sao-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack --silent "tryton-sao@$SAO_SPEC" | tail -1)
tar -xzf "$work/$tarball" -C "$work"
version=$(cd "$work/package" && node -p 'require("./package.json").version')
# Runtime libraries only. sao's devDependencies carry a stale peer range
# (grunt-po2json wants grunt 0.4), hence --legacy-peer-deps; no install
# scripts are needed (dist/ is prebuilt).
(cd "$work/package" && npm install --omit=dev --legacy-peer-deps \
    --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error)
printf 'spec=%s\nversion=%s\n' "$SAO_SPEC" "$version" > "$work/package/.installed"
customise "$work/package"

# Swap in the new tree in one rename so a running server never sees half.
old=
if [ -e "$SAO_DIR" ]; then
    old="$work/old"
    mv "$SAO_DIR" "$old"
fi
mv "$work/package" "$SAO_DIR"
if ! complete; then
    echo "error: $SAO_DIR is incomplete after installing sao $version" >&2
    exit 1
fi
echo "sao $version installed in $SAO_DIR"
