#!/usr/bin/env bash
# conformance.sh - `make conformance SUITES=DIR`: the drivers' own test suites directly and through pgseal (tests/conformance/).
#
#   scripts/conformance.sh DIR [conformance.py options]
#
# DIR holds checkouts (not vendored here, CI cannot fetch them) of the versions Debian
# installed: DIR/psycopg (tag 3.1.7), DIR/psycopg2 (tag 2_9_5), DIR/node-postgres (pg@8.23.x).
# The Debian packages the suites need (pytest-asyncio, pytest-timeout, dnspython) are
# installed when missing (`install-deps.sh conformance`), the node-postgres tests'
# devDependencies come from the npm registry into build/conformance-node-deps.
# Everything runs in sequence under nice, bounded (5 h for the whole run). Exit status 1
# on any regression; the report is build/conformance/report.md.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-}
if [[ -z $dir || ! -d $dir ]]; then
  echo "usage: make conformance SUITES=DIR   (DIR/psycopg, DIR/psycopg2, DIR/node-postgres; see docs/testing.md)" >&2
  exit 2
fi
shift
bash "$root/scripts/install-deps.sh" conformance || exit 1
deps="$root/build/conformance-node-deps"
if [[ ! -d $deps/node_modules/pg-copy-streams ]]; then
  # node-postgres' packages/pg devDependencies used by its integration tests (versions of its package.json)
  mkdir -p "$deps"
  (cd "$deps" && timeout 300 npm install --no-audit --no-fund --loglevel=error --no-save --prefix . \
     async@2.6.4 bluebird@3.7.2 co@4.6.0 pg-copy-streams@0.3.0 >/dev/null) || { echo "conformance: npm install failed" >&2; exit 1; }
fi
ulimit -n 8192 2>/dev/null || true
exec timeout -k 60 18000 nice -n 10 /usr/bin/python3 "$root/tests/conformance/conformance.py" \
  --suites-dir "$dir" --node-deps "$deps" "$@"
