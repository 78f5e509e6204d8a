#!/usr/bin/env bash
# test-all.sh - every test, as `make test` and CI run them: format and circles checks, unit, ASan unit, integration (normal + ASan), other suites, fuzz smoke.
#
# Each step's output is shown; a step's "N passed, N failed" line is added to the total
# (a step without one counts as 1 passed or 1 failed). Ends with "total: N passed, N failed"
# and exits non-zero if anything failed. Knobs: FUZZ_SECONDS (8), SKIP_ASAN=1, SKIP_FUZZ=1.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-8}
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

# 0. the committed .clang-format holds for every C file
step "format" make --no-print-directory check-format
# ... and no circle of more than 3 files in src/ but the allowed ones (scripts/circles-allowed.txt)
step "circles" make --no-print-directory check-circles

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

# 4. other suites under tests/ (everything but unit, integration and node, which have their
#    own runners above, and demo, whose browser script tests/integration/test_demo.py runs):
#    a run.sh if the directory has one, else its test_*.sh scripts and its pytest files (test_*.py).
pytest_dir() { # dir: runs pytest there and prints "<dir>: N passed, N failed"
  local out rc p f
  out=$(cd "$1" && timeout -k 10 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider . 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(tail -1 <<<"$out" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=0
  for n in $(tail -1 <<<"$out" | grep -oE '[0-9]+ (failed|errors?)' | grep -oE '[0-9]+'); do f=$((f + n)); done
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  echo "$(basename "$1"): $p passed, $f failed"
  return $rc
}
for d in tests/*/; do
  d=${d%/}
  case $(basename "$d") in unit|integration|node|demo) continue ;; esac
  if [[ -f $d/run.sh ]]; then
    step "$(basename "$d")" bash "$d/run.sh"
    continue
  fi
  for s in "$d"/test_*.sh; do
    [[ -f $s ]] && step "$(basename "$d")/$(basename "$s" .sh)" bash "$s"
  done
  if compgen -G "$d/test_*.py" >/dev/null; then
    step "$(basename "$d")" pytest_dir "$d"
  fi
done

# 5. fuzz smoke with the committed corpus
if [[ -z ${SKIP_FUZZ:-} ]] && compgen -G "fuzz/fuzz_*.c" >/dev/null; then
  step "fuzz-smoke" make fuzz-smoke FUZZ_SECONDS="$FUZZ_SECONDS"
fi

echo
echo "=== summary ($(( $(date +%s) - t_start ))s)"
printf '%s\n' "${report[@]}"
echo "total: $total_p passed, $total_f failed"
[[ $total_f -eq 0 ]]
