#!/usr/bin/env bash
# reload.sh - `make reload`: SIGHUP to make run's pgseal, which reloads the encryption config (run/encryptor_config.yaml), and waits for its answer in run/pgseal.log.
#
# New sessions use the new config; sessions already open keep theirs (docs/schema.md,
# "Changing the encryption config of a running pgseal"). Exit 0 when pgseal applied it,
# 1 when it refused it (the running config stays; the reason is printed) or did not answer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUN="$root/run"
die() { printf 'reload: %s\n' "$*" >&2; exit 1; }
[[ -f $RUN/pgseal.pid ]] || die "no run/pgseal.pid: start pgseal with 'make run'"
pid=$(cat "$RUN/pgseal.pid")
grep -q pgseal "/proc/$pid/cmdline" 2>/dev/null || die "pgseal (pid $pid) is not running: 'make run'"
before=$(grep -c 'SIGHUP: ' "$RUN/pgseal.log" 2>/dev/null || true)
kill -HUP "$pid"
for _ in $(seq 100); do
  line=$(grep 'SIGHUP: ' "$RUN/pgseal.log" 2>/dev/null | sed -n "$((before + 1))p" || true)   # none yet: grep fails
  if [[ -n $line ]]; then
    printf 'reload: %s\n' "${line#*SIGHUP: }"
    [[ $line == *"NOT reloaded"* ]] && exit 1
    exit 0
  fi
  sleep 0.1
done
die "pgseal did not answer the SIGHUP within 10 s (see run/pgseal.log)"
