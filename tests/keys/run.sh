#!/usr/bin/env bash
# run.sh - runs the keys suites with pytest: test_providers.py (`pgseal keys` per provider) and pg_crosscheck.py (codec vs PostgreSQL).
# Builds nothing: needs build/pgseal (or $PGSEAL_BIN) and build/libpgseal.a. Last line: `keys: N passed, N failed`.
# (`pgseal serve` with keys, end to end, is tests/integration/test_keys_serve.py, run by scripts/run-integration.sh.)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
export PGSEAL_BIN=${PGSEAL_BIN:-$root/build/pgseal}
[[ $PGSEAL_BIN = /* ]] || PGSEAL_BIN="$root/$PGSEAL_BIN"
cd "$root"

if [[ ! -x $PGSEAL_BIN ]]; then
  echo "keys: $PGSEAL_BIN not built (run make)"
  echo "keys: 0 passed, 1 failed"
  exit 1
fi

tmp=$(mktemp -d /tmp/pgseal-keys-run-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# pg_crosscheck.py is a script (main() returns 0 when every value matches): a one-test pytest wrapper
cat >"$tmp/test_pg_crosscheck.py" <<EOF
import sys
import pytest
sys.path.insert(0, "$here")
import pg_crosscheck


def test_pg_crosscheck(capsys):
    rc = pg_crosscheck.main()
    out = capsys.readouterr().out
    sys.stdout.write(out)
    if "SKIP" in out:
        pytest.skip(out.strip())
    assert rc == 0, out
EOF

total_p=0; total_f=0; rc_all=0
# suite NAME FILE: pytest FILE (bounded), adds its counts to the totals
suite() {
  local name=$1 file=$2 log rc summary p f e
  log="$tmp/$name.log"
  echo "=== keys/$name"
  timeout -k 10 600 "$PY" -m pytest -q -rfEs -p no:cacheprovider "$file" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '^[=]* ?[0-9]+ (passed|failed|error|skipped)' "$log" | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
  e=$(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
  f=$((f + e))
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1   # crash, timeout or collection error
  total_p=$((total_p + p)); total_f=$((total_f + f))
  [[ $rc -ne 0 ]] && rc_all=1
  echo "keys/$name: $p passed, $f failed"
}

suite providers "$here/test_providers.py"
suite pg_crosscheck "$tmp/test_pg_crosscheck.py"

echo "keys: $total_p passed, $total_f failed"
exit $rc_all
