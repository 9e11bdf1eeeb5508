#!/usr/bin/env bash
# Run every module's tests (ModuleTestCase, unit tests, scenario doctests)
# and the cross-module tests of tests/ on PostgreSQL. Exits non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export TRYTOND_DATABASE_URI=${TRYTOND_DATABASE_URI:-postgresql://postgres@127.0.0.1:5432/}
export DB_NAME=${DB_NAME:-test_elevator}
# Databases built once per run are cached as templates between test cases.
export DB_CACHE=${DB_CACHE:-$PWD/var/test-cache}
rm -rf "$DB_CACHE"
mkdir -p "$DB_CACHE"
export TRYTOND_CONFIG=
# Module tests run with unittest: Tryton's scenario doctests are collected by
# the load_tests protocol, which pytest does not follow.
tests=()
for file in modules/*/tests/test_*.py; do
    module=$(basename "$(dirname "$(dirname "$file")")")
    tests+=("trytond.modules.$module.tests.$(basename "$file" .py)")
done
echo "==> module tests on PostgreSQL (${#tests[@]} test files)"
.venv/bin/python -m unittest "${tests[@]}"
if compgen -G "tests/test_*.py" >/dev/null; then
    echo "==> cross-module tests"
    .venv/bin/python -m pytest -p no:cacheprovider "$@" tests
fi
