#!/usr/bin/env bash
# tidy.sh - runs clang-tidy with the committed .clang-tidy over src/ (or the named modules), as `make tidy` does.
#
# Usage: bash scripts/tidy.sh [MODULE...]   e.g. `bash scripts/tidy.sh sql schema`
# (MODULE = a directory under src/; default: all of src/). TIDY_JOBS (2) files in parallel.
# The compile flags are the Makefile's own (`make print-cflags`), written to
# build/tidy/compile_commands.json, with one change: _FORTIFY_SOURCE is off for the analysis,
# because glibc's fortify wrappers (vsnprintf -> __builtin___vsnprintf_chk) make the
# analyzer report every va_list as uninitialised. Prints each finding, then
# "tidy: N passed, N failed" (files); exits non-zero on any finding.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JOBS=${TIDY_JOBS:-2}
TIDY=${CLANG_TIDY:-clang-tidy}
out=build/tidy
mkdir -p "$out"

if ! command -v "$TIDY" >/dev/null; then
  echo "tidy: $TIDY not found (apt-get install clang-tidy)" >&2
  exit 2
fi

dirs=()
if (($#)); then
  for m in "$@"; do
    [[ -d src/$m ]] || { echo "tidy: no module src/$m" >&2; exit 2; }
    dirs+=("src/$m")
  done
else
  dirs=(src)
fi
mapfile -t files < <(find "${dirs[@]}" -name '*.c' | sort)
((${#files[@]})) || { echo "tidy: no C files in ${dirs[*]}" >&2; exit 2; }

# the compilation database: every C file under src/ with the Makefile's flags
flags=$(make --no-print-directory -s print-cflags | sed 's/-D_FORTIFY_SOURCE=[0-9]*/-U_FORTIFY_SOURCE/')
/usr/bin/python3 - "$root" "$flags" "$out/compile_commands.json" <<'PY'
import json, shlex, subprocess, sys
root, flags, dest = sys.argv[1:4]
files = subprocess.run(["find", "src", "-name", "*.c"], cwd=root, capture_output=True,
                       text=True, check=True).stdout.split()
db = [{"directory": root, "file": f, "arguments": ["cc", *shlex.split(flags), "-c", f]}
      for f in sorted(files)]
with open(dest, "w") as fh:
    json.dump(db, fh, indent=1)
PY

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export TIDY out logs
# one file: its findings go to $logs/<file>.log, a failure leaves $logs/<file>.fail
printf '%s\n' "${files[@]}" | xargs -P "$JOBS" -I{} bash -c '
  f={}; l=$logs/${f//\//_}
  if ! "$TIDY" -p "$out" --quiet "$f" >"$l.log" 2>&1; then touch "$l.fail"; fi'

nfail=0
for f in "${files[@]}"; do
  l=$logs/${f//\//_}
  if [[ -e $l.fail ]]; then
    nfail=$((nfail + 1))
    # drop clang-tidy's chatter ("N warnings generated.", "Suppressed ..."); keep findings
    grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' "$l.log"
  fi
done
echo "tidy: $((${#files[@]} - nfail)) passed, $nfail failed"
((nfail == 0))
