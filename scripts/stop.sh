#!/usr/bin/env bash
# stop.sh - `make stop`: stops what `make run` started (the demo page, pgseal, the dstack simulator, PostgreSQL); --clean also deletes run/.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUN="$root/run"
PG_BIN=/usr/lib/postgresql/15/bin
AS_PG=(); [[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)

stop_pid() { # name pidfile match
  local name=$1 f=$2 match=$3 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null && grep -q "$match" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "stop: $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 350); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "stop: $name still running, SIGKILL"; kill -KILL "$pid"; fi
  fi
  rm -f "$f"
}
stop_pid pgseal-demo "$RUN/pgseal-demo.pid" pgseal-demo
stop_pid pgseal "$RUN/pgseal.pid" pgseal
stop_pid pgseal-dstack-sim "$RUN/dstack-sim.pid" pgseal-dstack-sim
if [[ -e $RUN/pg/data/PG_VERSION ]]; then
  data=$(readlink -f "$RUN/pg")/data
  if "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "stop: PostgreSQL"
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
fi
if [[ ${1:-} == --clean ]]; then
  if [[ -L $RUN/pg ]]; then rm -rf "$(readlink -f "$RUN/pg")"; fi
  rm -rf "$RUN"
  echo "stop: removed run/"
fi
echo "stop: done"
