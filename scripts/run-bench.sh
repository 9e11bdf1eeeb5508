#!/usr/bin/env bash
# Run every benchmark bench/bench_*.py with the venv's Python, one after the
# other, each printing its figures next to its baseline. A failing benchmark
# does not stop the others; the exit code is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export TRYTOND_DATABASE_URI=${TRYTOND_DATABASE_URI:-postgresql://postgres@127.0.0.1:5432/}
export TRYTOND_CONFIG=
export PYTHONUNBUFFERED=1
shopt -s nullglob
benches=(bench/bench_*.py)
if [ ${#benches[@]} -eq 0 ]; then
    echo "no benchmark in bench/" >&2
    exit 0
fi
failed=()
for bench in "${benches[@]}"; do
    echo "==> $bench"
    if ! .venv/bin/python "$bench"; then
        failed+=("$bench")
    fi
    echo
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all ${#benches[@]} benchmark(s) passed"
