#!/usr/bin/env bash
# test-all.sh - every test, as `make test` and CI run them: unit, ASan unit, integration (normal + ASan), other suites, fuzz smoke.
#
# Each step's output is shown; a step's "N passed, N failed" line is added to the total
# (a step without one counts as 1 passed or 1 failed). Ends with "total: N passed, N failed"
# and exits non-zero if anything failed. Knobs: FUZZ_SECONDS (15), SKIP_ASAN=1, SKIP_FUZZ=1.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
total_p=0; total_f=0
declare -a report=()
t_start=$(date +%s)

# step NAME CMD...: runs CMD, adds its counts to the total
step() {
  local name=$1; shift
  local log; log=$(mktemp)
  local t0; t0=$(date +%s)
  echo
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line p f
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [[ -n $line ]]; then
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | tail -1 | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | tail -1 | grep -oE '[0-9]+')
    [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  elif [[ $rc -eq 0 ]]; then p=1; f=0
  else p=0; f=1
  fi
  rm -f "$log"
  total_p=$((total_p + p)); total_f=$((total_f + f))
  local status=ok; [[ $rc -ne 0 ]] && status="FAILED (exit $rc)"
  report+=("$(printf '%-28s %5s passed %4s failed  %4ss  %s' "$name" "$p" "$f" "$(( $(date +%s) - t0 ))" "$status")")
}

# 1. normal build + unit tests
step "build" make -j"$JOBS" all
step "unit" make -j"$JOBS" unit

# 2. ASan+UBSan build + unit tests
if [[ -z ${SKIP_ASAN:-} ]]; then
  step "build-asan" make -j"$JOBS" asan
  shopt -s nullglob
  asan_tests=(build/asan/tests/test_*)
  shopt -u nullglob
  if ((${#asan_tests[@]})); then
    step "unit-asan" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 bash scripts/run-unit.sh "${asan_tests[@]}"
  fi
fi

# 3. integration suite, normal then ASan binary
step "integration" bash scripts/run-integration.sh build
if [[ -z ${SKIP_ASAN:-} ]]; then
  step "integration-asan" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    bash scripts/run-integration.sh build/asan
fi

# 4. other suites, when present
for s in tests/sim/run.sh tests/attest/run.sh tests/keys/run.sh tests/schema/test_ddl_pg.sh; do
  [[ -f $s ]] && step "$(basename "$(dirname "$s")")" bash "$s"
done
if [[ -d tests/keys && ! -f tests/keys/run.sh ]]; then
  for s in tests/keys/*.sh; do [[ -f $s ]] && step "keys/$(basename "$s")" bash "$s"; done
fi

# 5. fuzz smoke with the committed corpus
if [[ -z ${SKIP_FUZZ:-} ]] && compgen -G "fuzz/fuzz_*.c" >/dev/null; then
  step "fuzz-smoke" make fuzz-smoke FUZZ_SECONDS="$FUZZ_SECONDS"
fi

echo
echo "=== summary ($(( $(date +%s) - t_start ))s)"
printf '%s\n' "${report[@]}"
echo "total: $total_p passed, $total_f failed"
[[ $total_f -eq 0 ]]
