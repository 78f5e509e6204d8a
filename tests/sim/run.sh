#!/usr/bin/env bash
# run.sh - runs every pgseal-dstack-sim test (Python black-box checks, the official dstack SDK, @phala/dcap-qvl).
# Builds nothing: expects build/pgseal-dstack-sim (or $PGSEAL_SIM). Installs tests/node's npm packages if absent.
# Last line: `sim: N passed, N failed`.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
sim="${PGSEAL_SIM:-$repo/build/pgseal-dstack-sim}"

if [ ! -x "$sim" ]; then
	echo "not ok - $sim is not built (run make)"
	echo "sim: 0 passed, 1 failed"
	exit 1
fi
if [ ! -d "$repo/tests/node/node_modules/@phala/dstack-sdk" ] && command -v npm >/dev/null; then
	(cd "$repo/tests/node" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		echo "# npm install in tests/node failed: SDK and dcap-qvl checks will fail"
fi
PGSEAL_SIM="$sim" exec /usr/bin/python3 "$here/test_sim.py"
