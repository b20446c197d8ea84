#!/usr/bin/env bash
# The benchmark harness behind `make bench`: one line per benchmark section, run from the repo root.
# A section that misses its goal makes the whole run fail, after every section has run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
rc=0
run() { echo "== $*"; "$PY" "$@" || rc=1; echo; }

run bench/parse_throughput.py --json bench/out/parse_throughput.json
run bench/sorting_quality.py --count 20000 --seed 5303
run bench/threading_quality.py --count 20000 --seed 4404; run bench/threading_usrp.py; run bench/threading_throughput.py --count 100000 --pg-count 10000 --json bench/out/threading_throughput.json
run bench/search_bench.py --size "${SEARCH_SIZE:-1000000}" --json bench/out/search.json
run bench/ingest_throughput.py --count 2000 --json bench/out/ingest_throughput.json

exit $rc
