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
# Databases with the same modules activated are made once per run and
# copied (src/elevator_platform/scratch_db.py); dropped when the run ends.
export ELEVATOR_DB_TEMPLATES=1
drop_templates() {
    .venv/bin/python -c 'from elevator_platform import scratch_db
for name in scratch_db.drop_templates(): print("==> dropped template", name)'
}
drop_templates
trap drop_templates EXIT
# Both suites always run, side by side (the module tests are mostly CPU,
# the cross-module tests mostly wait on servers, browsers and brokers), so
# that a failure in one does not hide the other's; the exit status is
# non-zero if either failed. The module tests' output is printed when they
# end.
module_log=var/module-tests.log
mkdir -p var
echo "==> module tests on PostgreSQL (${#tests[@]} test files), log in $module_log"
(
    SECONDS=0
    status=0
    .venv/bin/python -m unittest "${tests[@]}" >"$module_log" 2>&1 || status=$?
    echo "==> module tests took ${SECONDS}s" >>"$module_log"
    exit "$status"
) &
module_pid=$!
status=0
if compgen -G "tests/test_*.py" >/dev/null; then
    echo "==> cross-module tests"
    SECONDS=0
    # --durations: the slowest tests (set-up included), to see where the
    # time of `make test` goes.
    .venv/bin/python -m pytest -p no:cacheprovider --durations=15 "$@" tests \
        || status=1
    echo "==> cross-module tests took ${SECONDS}s"
fi
module_status=0
wait "$module_pid" || module_status=$?
echo "==> module tests output"
cat "$module_log"
if [ "$module_status" != 0 ]; then
    status=1
fi
if [ "$status" != 0 ]; then
    echo "==> FAILED" >&2
fi
exit "$status"
