#!/usr/bin/env bash
# run-integration.sh - runs the pytest integration suite against BUILD_DIR/pgseal (default build); extra args go to pytest.
#
#   scripts/run-integration.sh                 # build/pgseal
#   scripts/run-integration.sh build/asan      # the ASan+UBSan binary (sanitizer output fails the run)
#   scripts/run-integration.sh build -k tls    # a subset
#
# Prints a final "integration: N passed, N failed" line; exit status is pytest's.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-build}; shift || true
[[ $bdir = /* ]] || bdir="$root/$bdir"
export PGSEAL_BIN="$bdir/pgseal"
if [[ ! -x $PGSEAL_BIN ]]; then
  echo "integration: $PGSEAL_BIN not found (build it first)"; echo "integration: 0 passed, 1 failed"; exit 1
fi
case "$bdir" in
  */asan*) export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
           export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
esac
PY=/usr/bin/python3
ulimit -n 8192 2>/dev/null || true
cd "$root/tests/integration"
log=$(mktemp)
# bounded: the suite takes a few minutes; 20 minutes means something hangs
timeout -k 30 1200 "$PY" -m pytest -q -rfE -p no:cacheprovider --durations=10 "$@" . 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^[=]* ?[0-9]+ (passed|failed|error)' "$log" | tail -1)
p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
f=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
e=$(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
f=$((f + e))
[[ $rc -ne 0 && $f -eq 0 ]] && f=1   # crash, timeout or collection error
echo "integration ($(basename "$bdir")): $p passed, $f failed"
exit $rc
