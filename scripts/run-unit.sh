#!/usr/bin/env bash
# run-unit.sh - runs each unit-test binary given and prints one combined "N passed, N failed" line.
set -uo pipefail
passed=0; failed=0; bad=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  [[ -z "$line" ]] && { p=0; f=1; }
  passed=$((passed + p)); failed=$((failed + f))
  if [[ $rc -ne 0 || -z "$line" ]]; then
    bad=1; printf '%s\n' "$out" | tail -40; echo "unit: $(basename "$t") FAILED (exit $rc)"
  else
    echo "unit: $(basename "$t"): $p passed"
  fi
done
echo "unit: $passed passed, $failed failed"
exit $bad
