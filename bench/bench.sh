#!/usr/bin/env bash
# bench.sh - `make bench`: PostgreSQL direct vs PgBouncer (session) vs pgseal (one worker per CPU, and one worker), interleaved rounds, medians, proxy CPU per transaction, memory per idle connection.
#
# Everything runs on this machine, on loopback, started and stopped by this script: a
# throwaway PostgreSQL 15 cluster, PgBouncer in session mode (trust), and build/pgseal
# (plaintext on both sides). Machines here are shared and noisy: read the ratios, not the
# absolute numbers. pgseal runs twice: with its default worker count (one per CPU) and with
# one worker, PgBouncer's single thread. A benchmark never fails on timing: this script exits 0 unless the set-up
# itself breaks.
#
# Before/after: BASELINE=/path/to/an/older/pgseal adds that binary, run the same two ways
# (pgseal@base, pgseal-1w@base), to every round, and prints new/old ratios (README,
# "Performance": how to build the baseline from a previous commit).
#
# Knobs (env): BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_MODES ("simple extended prepared"), BENCH_CLIENTS (8), BENCH_THREADS (2), BENCH_LAT_SECONDS (5), BENCH_IDLE (1000),
# BENCH_SCALE (10), PGSEAL_BIN (build/pgseal), BENCH_PGSEAL_WORKERS (0 = one per CPU), BASELINE (none),
# BENCH_SYSTEMS (all: "direct pgbouncer pgseal pgseal-1w" and, with BASELINE, "pgseal@base pgseal-1w@base").
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PG_BIN=/usr/lib/postgresql/15/bin
PGBENCH=$PG_BIN/pgbench
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
MODES=${BENCH_MODES:-simple extended prepared}
CLIENTS=${BENCH_CLIENTS:-8}
THREADS=${BENCH_THREADS:-2}
LAT_SECS=${BENCH_LAT_SECONDS:-5}
IDLE=${BENCH_IDLE:-1000}
SCALE=${BENCH_SCALE:-10}
BIN=${PGSEAL_BIN:-$root/build/pgseal}
BASE=${BASELINE:-}
PY=/usr/bin/python3

say() { printf 'bench: %s\n' "$*" >&2; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

[[ -x $BIN ]] || { say "$BIN missing: run make first"; exit 1; }
if [[ -n $BASE ]]; then
  BASE=$(cd "$(dirname "$BASE")" 2>/dev/null && pwd)/$(basename "$BASE")
  [[ -x $BASE ]] || { say "BASELINE $BASE is not an executable"; exit 1; }
fi
command -v pgbouncer >/dev/null || { say "pgbouncer missing (apt-get install pgbouncer)"; exit 1; }
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

AS_PG=(); [[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)
W=$(mktemp -d /var/tmp/pgseal-bench.XXXXXX)
chmod 755 "$W"
[[ $(id -u) -eq 0 ]] && chown postgres: "$W"
PGPORT=$(free_port); BPORT=$(free_port); SPORT=$(free_port); S1PORT=$(free_port)
OPORT=$(free_port); O1PORT=$(free_port)
PGSEAL_PID=""; PGSEAL1_PID=""; BASE_PID=""; BASE1_PID=""; IDLE_PID=""

stop_pid() {
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1"; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
}
cleanup() {
  [[ -n $IDLE_PID ]] && kill "$IDLE_PID" 2>/dev/null
  stop_pid "$PGSEAL_PID"
  stop_pid "$PGSEAL1_PID"
  stop_pid "$BASE_PID"
  stop_pid "$BASE1_PID"
  if [[ -f $W/pgbouncer.pid ]]; then
    local bp; bp=$(cat "$W/pgbouncer.pid"); kill -TERM "$bp" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$bp" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$bp" 2>/dev/null
  fi
  [[ -f $W/data/PG_VERSION ]] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -m immediate -w -t 30 stop >/dev/null 2>&1
  if [[ -n ${BENCH_KEEP:-} ]]; then say "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- PostgreSQL ------------------------------------------------------------------------------
say "PostgreSQL on 127.0.0.1:$PGPORT (work dir $W)"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$W/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$W/initdb.log" 2>&1 \
  || { cat "$W/initdb.log"; exit 1; }
cat >>"$W/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$W'
max_connections = $((IDLE + 100))
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$W/data/pg_hba.conf"
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -l "$W/postgres.log" -w -t 60 start >/dev/null \
  || { tail -20 "$W/postgres.log"; exit 1; }
psql_su() { "${AS_PG[@]}" "$PG_BIN/psql" -X -q -At -h "$W" -p "$PGPORT" -U postgres "$@"; }
psql_su -d postgres -c "CREATE ROLE bench LOGIN SUPERUSER" -c "CREATE DATABASE bench OWNER bench"
say "pgbench -i -s $SCALE"
"$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PGPORT" -U bench bench >"$W/pgbench-init.log" 2>&1 \
  || { tail -20 "$W/pgbench-init.log"; exit 1; }

# --- PgBouncer (session mode, trust) ---------------------------------------------------------
cat >"$W/pgbouncer.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$PGPORT dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $W/userlist.txt
pool_mode = session
max_client_conn = $((IDLE + 200))
default_pool_size = $((CLIENTS + 4))
logfile = $W/pgbouncer.log
pidfile = $W/pgbouncer.pid
log_connections = 0
log_disconnections = 0
INI
echo '"bench" ""' >"$W/userlist.txt"
[[ $(id -u) -eq 0 ]] && chown postgres: "$W/pgbouncer.ini" "$W/userlist.txt"
"${AS_PG[@]}" pgbouncer -d "$W/pgbouncer.ini" >"$W/pgbouncer.out" 2>&1
if ! wait_port "$BPORT"; then say "PgBouncer did not start:"; cat "$W/pgbouncer.out" "$W/pgbouncer.log" >&2 2>/dev/null; fi

# --- pgseal (plaintext both sides): default workers, and one worker -----------------------------
start_pgseal() { # NAME PORT WORKERS [BINARY] -> prints the pid
  cat >"$W/$1.yaml" <<YAML
listen: "127.0.0.1:$2"
workers: $3
max_client_connections: $((IDLE + 200))
upstream: {host: 127.0.0.1, port: $PGPORT, tls: disable}
log: {level: info, format: text}
YAML
  # its own session, as PgBouncer (-d) and PostgreSQL have: with sched_autogroup on, a process
  # left in pgbench's session shares pgbench's CPU group and the comparison is skewed
  setsid "${4:-$BIN}" serve --config "$W/$1.yaml" >"$W/$1.log" 2>&1 </dev/null &
  echo $!
}
PGSEAL_PID=$(start_pgseal pgseal "$SPORT" "${BENCH_PGSEAL_WORKERS:-0}")
PGSEAL1_PID=$(start_pgseal pgseal-1w "$S1PORT" 1)
ports=("$SPORT" "$S1PORT")
if [[ -n $BASE ]]; then
  BASE_PID=$(start_pgseal pgseal-base "$OPORT" "${BENCH_PGSEAL_WORKERS:-0}" "$BASE")
  BASE1_PID=$(start_pgseal pgseal-1w-base "$O1PORT" 1 "$BASE")
  ports+=("$OPORT" "$O1PORT")
fi
for port in "${ports[@]}"; do
  if ! wait_port "$port"; then say "pgseal did not start on $port:"; tail -20 "$W"/pgseal*.log >&2; fi
done
ENGINE=$(sed -nE 's/.*listening on .*\([0-9]+ workers?, ([a-z_]+)\).*/\1/p' "$W/pgseal.log" | head -1)
WORKERS=$(sed -nE 's/.*listening on .*\(([0-9]+) workers?, .*/\1/p' "$W/pgseal.log" | head -1)

declare -A PORT=([direct]=$PGPORT [pgbouncer]=$BPORT [pgseal]=$SPORT [pgseal-1w]=$S1PORT [pgseal@base]=$OPORT [pgseal-1w@base]=$O1PORT)
declare -A PID=([pgseal]=$PGSEAL_PID [pgseal-1w]=$PGSEAL1_PID [pgbouncer]=$(cat "$W/pgbouncer.pid" 2>/dev/null)
                [pgseal@base]=$BASE_PID [pgseal-1w@base]=$BASE1_PID)
ALL=(direct pgbouncer pgseal pgseal-1w); [[ -n $BASE ]] && ALL+=(pgseal@base pgseal-1w@base)
SYSTEMS=()
for sys in "${ALL[@]}"; do [[ -z ${BENCH_SYSTEMS:-} || " $BENCH_SYSTEMS " == *" $sys "* ]] && SYSTEMS+=("$sys"); done

# run_pgbench SYSTEM ARGS... -> prints "tps latency_ms" (or "n/a n/a")
run_pgbench() {
  local sys=$1; shift
  local out
  out=$("$PGBENCH" -n -S "$@" -h 127.0.0.1 -p "${PORT[$sys]}" -U bench bench 2>&1)
  local tps lat txns
  tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' <<<"$out" | tail -1)
  lat=$(sed -nE 's/^latency average = ([0-9.]+) ms.*/\1/p' <<<"$out" | tail -1)
  txns=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' <<<"$out" | tail -1)
  if [[ -z $tps ]]; then
    printf '%s\n' "$out" | tail -3 >>"$W/errors.log"
    echo "n/a n/a n/a"
  else
    echo "$tps ${lat:-n/a} ${txns:-n/a}"
  fi
}
# CPU time (user + system, all threads) a process has used, in clock ticks
PROXY_PID=()
cpu_ticks() { [[ -n ${1:-} && -r /proc/$1/stat ]] && awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" || echo n/a; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
median() { $PY -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:] if x!="n/a"]; print("%.1f"%s.median(v) if v else "n/a")' "$@"; }
median3() { $PY -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:] if x!="n/a"]; print("%.3f"%s.median(v) if v else "n/a")' "$@"; }

say "warm-up"
for sys in "${SYSTEMS[@]}"; do run_pgbench "$sys" -M simple -c "$CLIENTS" -j "$THREADS" -T 2 >/dev/null; done

# round R runs the systems in a rotated order (A B C, B C A, C A B, ...) so none is always first or last
order() { local i n=${#SYSTEMS[@]}; for ((i = 0; i < n; i++)); do printf '%s ' "${SYSTEMS[$(( (i + $1 - 1) % n ))]}"; done; }
declare -A TPS LAT CPU
rounds_log=""
for mode in $MODES; do
  for r in $(seq "$ROUNDS"); do
    for sys in $(order "$r"); do
      c0=$(cpu_ticks "${PID[$sys]:-}")
      read -r tps lat txns < <(run_pgbench "$sys" -M "$mode" -c "$CLIENTS" -j "$THREADS" -T "$SECS")
      c1=$(cpu_ticks "${PID[$sys]:-}")
      cpu=n/a
      if [[ $c0 != n/a && $c1 != n/a && $txns != n/a && $txns -gt 0 ]]; then
        cpu=$($PY -c 'import sys; print("%.1f" % ((int(sys.argv[2]) - int(sys.argv[1])) * int(sys.argv[3]) / int(sys.argv[4])))' "$c0" "$c1" "$TICK_US" "$txns")
      fi
      TPS[$mode,$sys]="${TPS[$mode,$sys]:-} $tps"
      CPU[$mode,$sys]="${CPU[$mode,$sys]:-} $cpu"
      rounds_log+=$(printf '  %-9s round %d  %-15s %10s tps  %6s us CPU/txn\n' "$mode" "$r" "$sys" "$tps" "$cpu")$'\n'
      say "$mode round $r $sys: $tps tps"
    done
  done
done
for r in $(seq "$ROUNDS"); do
  for sys in $(order "$r"); do
    read -r tps lat txns < <(run_pgbench "$sys" -M simple -c 1 -j 1 -T "$LAT_SECS")
    LAT[$sys]="${LAT[$sys]:-} $lat"
    rounds_log+=$(printf '  latency   round %d  %-15s %10s ms\n' "$r" "$sys" "$lat")$'\n'
    say "latency round $r $sys: $lat ms"
  done
done

# --- memory: RSS per idle client connection --------------------------------------------------
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
measure_idle() { # pid port -> "before after sessions"
  local pid=$1 port=$2 before after ready
  before=$(rss_kib "$pid")
  coproc IDLEC { $PY "$root/bench/idle_conns.py" 127.0.0.1 "$port" bench bench "$IDLE" 2>>"$W/errors.log"; }
  IDLE_PID=$IDLEC_PID
  read -r -t 300 _ ready _ <&"${IDLEC[0]}" || ready=0
  sleep 1
  after=$(rss_kib "$pid")
  exec {IDLEC[1]}>&-
  wait "$IDLE_PID" 2>/dev/null; IDLE_PID=""
  echo "${before:-0} ${after:-0} ${ready:-0}"
}
mem_line() { # name before after n
  if [[ ${4:-0} -gt 0 && -n $3 && $3 -gt 0 ]]; then
    printf '  %-10s VmRSS %7s KiB idle -> %7s KiB with %d sessions: %6.1f KiB per connection\n' \
      "$1" "$2" "$3" "$4" "$($PY -c 'import sys; print((int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3]))' "$2" "$3" "$4")"
  else
    printf '  %-10s n/a (sessions opened: %s)\n' "$1" "${4:-0}"
  fi
}
say "memory: $IDLE idle sessions through pgseal"
mem_pgseal="  pgseal     n/a"
if kill -0 "$PGSEAL_PID" 2>/dev/null; then
  read -r b a n < <(measure_idle "$PGSEAL_PID" "$SPORT")
  mem_pgseal=$(mem_line pgseal "$b" "$a" "$n")
fi
mem_base=""
if [[ -n $BASE ]] && kill -0 "$BASE_PID" 2>/dev/null; then
  say "memory: $IDLE idle sessions through the baseline pgseal"
  read -r b a n < <(measure_idle "$BASE_PID" "$OPORT")
  mem_base=$(mem_line pgseal@base "$b" "$a" "$n")
fi
mem_bouncer="  pgbouncer  n/a"
if [[ -f $W/pgbouncer.pid ]]; then
  say "memory: $IDLE idle sessions through pgbouncer"
  read -r b a n < <(measure_idle "$(cat "$W/pgbouncer.pid")" "$BPORT")
  mem_bouncer=$(mem_line pgbouncer "$b" "$a" "$n")
fi

# --- report ----------------------------------------------------------------------------------
# median over rounds of the ratio A/B within each round (robust to load drifting between rounds)
rratio() { $PY -c '
import sys, statistics as st
a, b = sys.argv[1].split(), sys.argv[2].split()
r = [float(x) / float(y) for x, y in zip(a, b) if "n/a" not in (x, y) and float(y) > 0]
print("%.2fx" % st.median(r) if r else "n/a")' "$1" "$2"; }
radded() { $PY -c '
import sys, statistics as st
a, b = sys.argv[1].split(), sys.argv[2].split()
r = [(float(x) - float(y)) * 1000 for x, y in zip(a, b) if "n/a" not in (x, y)]
print("%+.0f" % st.median(r) if r else "n/a")' "$1" "$2"; }
ratio() { $PY -c 'import sys; a,b=sys.argv[1:]; print("%.2fx"%(float(a)/float(b)) if "n/a" not in (a,b) and float(b)>0 else "n/a")' "$1" "$2"; }
added() { $PY -c 'import sys; a,b=sys.argv[1:]; print("%+.0f"%((float(a)-float(b))*1000) if "n/a" not in (a,b) else "n/a")' "$1" "$2"; }
{
echo
echo "pgseal benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) CPUs  PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')  $(pgbouncer --version | head -1)"
echo
echo "Throughput: pgbench -n -S -M MODE -c $CLIENTS -j $THREADS -T $SECS (scale $SCALE), systems interleaved"
echo "in each of $ROUNDS rounds (order rotated per round); median tps. pgseal: ${WORKERS:-?} workers (one per CPU), io_engine ${ENGINE:-?};"
echo "pgseal-1w: workers: 1, the same one thread PgBouncer has."
printf '%-10s' mode; for sys in "${SYSTEMS[@]}"; do printf ' %15s' "$sys"; done; echo
for mode in $MODES; do
  printf '%-10s' "$mode"; for sys in "${SYSTEMS[@]}"; do printf ' %15s' "$(median ${TPS[$mode,$sys]:-})"; done; echo
done
echo "Median of the per-round ratios (each round runs the systems back to back):"
for mode in $MODES; do
  printf '%-10s pgbouncer/direct %6s   pgseal/direct %6s   pgseal/pgbouncer %6s   pgseal-1w/pgbouncer %6s\n' "$mode" \
    "$(rratio "${TPS[$mode,pgbouncer]:-}" "${TPS[$mode,direct]:-}")" "$(rratio "${TPS[$mode,pgseal]:-}" "${TPS[$mode,direct]:-}")" \
    "$(rratio "${TPS[$mode,pgseal]:-}" "${TPS[$mode,pgbouncer]:-}")" "$(rratio "${TPS[$mode,pgseal-1w]:-}" "${TPS[$mode,pgbouncer]:-}")"
done
echo
echo "The proxy's own CPU time (user + system, all its threads, /proc/PID/stat) per transaction, median over rounds:"
for mode in $MODES; do
  b=$(median ${CPU[$mode,pgbouncer]:-}); s=$(median ${CPU[$mode,pgseal]:-}); s1=$(median ${CPU[$mode,pgseal-1w]:-})
  printf '%-10s pgbouncer %6s us   pgseal %6s us (%s of pgbouncer)   pgseal-1w %6s us (%s)\n' "$mode" "$b" "$s" "$(ratio "$s" "$b")" "$s1" "$(ratio "$s1" "$b")"
done
echo
echo "Latency at 1 client: pgbench -n -S -M simple -c 1 -j 1 -T $LAT_SECS, $ROUNDS interleaved rounds, median of the average latency."
printf '%-15s %12s %16s %22s\n' system "latency ms" "added us" "added us (per round)"
d=$(median3 ${LAT[direct]:-})
for sys in "${SYSTEMS[@]}"; do
  l=$(median3 ${LAT[$sys]:-})
  if [[ $sys == direct ]]; then printf '%-15s %12s %16s %22s\n' "$sys" "$l" "-" "-"
  else printf '%-15s %12s %16s %22s\n' "$sys" "$l" "$(added "$l" "$d")" "$(radded "${LAT[$sys]:-}" "${LAT[direct]:-}")"; fi
done
echo
echo "Memory: $IDLE idle client sessions (startup completed, trust), bench/idle_conns.py; VmRSS from /proc/PID/status before and 1 s after."
echo "$mem_pgseal"
[[ -n $mem_base ]] && echo "$mem_base"
echo "$mem_bouncer"
if [[ -n $BASE ]]; then
  echo
  echo "Before/after: new = $BIN, old = BASELINE $BASE, both in every round (median of the per-round"
  echo "new/old ratios of tps, goal >= 0.97; the proxy's CPU per transaction new/old, medians):"
  for mode in $MODES; do
    printf '%-10s pgseal new/old %6s  CPU %6s   pgseal-1w new/old %6s  CPU %6s\n' "$mode" \
      "$(rratio "${TPS[$mode,pgseal]:-}" "${TPS[$mode,pgseal@base]:-}")" \
      "$(ratio "$(median ${CPU[$mode,pgseal]:-})" "$(median ${CPU[$mode,pgseal@base]:-})")" \
      "$(rratio "${TPS[$mode,pgseal-1w]:-}" "${TPS[$mode,pgseal-1w@base]:-}")" \
      "$(ratio "$(median ${CPU[$mode,pgseal-1w]:-})" "$(median ${CPU[$mode,pgseal-1w@base]:-})")"
  done
  printf '%-10s pgseal %s us, old %s us; pgseal-1w %s us, old %s us (added over direct)\n' latency \
    "$(added "$(median3 ${LAT[pgseal]:-})" "$d")" "$(added "$(median3 ${LAT[pgseal@base]:-})" "$d")" \
    "$(added "$(median3 ${LAT[pgseal-1w]:-})" "$d")" "$(added "$(median3 ${LAT[pgseal-1w@base]:-})" "$d")"
fi
echo
echo "Rounds:"
printf '%s' "$rounds_log"
if [[ -s $W/errors.log ]]; then echo; echo "Errors seen (last lines):"; tail -10 "$W/errors.log"; fi
echo
echo "Method: each system gets the same pgbench command line against its own port; pgseal config: workers ${BENCH_PGSEAL_WORKERS:-0} (0 = one per CPU) and 1, io_engine auto, plaintext both sides, log level info (no line per query), session pooling on (the default); PgBouncer: session pool, trust, default_pool_size $((CLIENTS + 4)). Shared, noisy machine: compare ratios from the same run."
} | tee "$W/report.txt"
mkdir -p "$root/build" && cp "$W/report.txt" "$root/build/bench-report.txt" 2>/dev/null && say "report also in build/bench-report.txt"
exit 0
