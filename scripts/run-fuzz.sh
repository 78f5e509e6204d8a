#!/usr/bin/env bash
# run-fuzz.sh - runs every libFuzzer target in DIR for SECONDS each, from its committed corpus.
set -euo pipefail
dir=$1; secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$dir"/fuzz_*; do
  name=$(basename "$bin"); name=${name#fuzz_}
  corpus="$root/fuzz/corpus/$name"
  work=$(mktemp -d)
  [[ -d "$corpus" ]] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
    tail -40 "$work.log"; echo "fuzz: $name FAILED (artifacts in $work)"; exit 1
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: all targets ran clean"
