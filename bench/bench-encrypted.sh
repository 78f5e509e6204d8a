#!/usr/bin/env bash
# bench-encrypted.sh - the encrypted workload of `make bench`, three ways: encrypted through pgseal, plaintext through the same pgseal, plaintext direct (and the same against a BASELINE binary).
#
# One throwaway PostgreSQL, two databases: `enc` holds `people` (email searchable, name and
# salary encrypted, bytea upstream), `plain` holds `members`, the same columns in plaintext
# (text/int8), a table pgseal's encryptor config does not name. One pgseal (keys provider
# file, the default worker count) serves both, so three systems run the same pgbench custom
# script (-M extended): INSERT a row with the three values, SELECT one row by equality on
# email among 10,000, UPDATE salary by id:
#   enc     `people` through pgseal: the encryption layer at work (a)
#   relay   `members` through the same pgseal: the relay alone, no analysis (b)
#   direct  `members` directly on PostgreSQL (c)
# enc/relay is the encryption layer's own cost (goal >= 0.95), enc/direct the whole cost of
# pgseal (goal >= 0.70), relay/direct the relay hop. With BASELINE=/path/to/old/pgseal a
# second pgseal from that binary (same config, same keystore, same tables) adds enc@base and
# relay@base to every round, and new/old ratios are printed. The systems run back to back in
# each round, the order rotated from round to round; medians of tps, of the per-round
# ratios and of pgseal's own CPU time per transaction (user + system of all its threads,
# /proc/PID/stat), and PostgreSQL's (the encrypted schema costs the server more too).
# BENCH_PERF=1 then records `perf record --call-graph dwarf` of pgseal during one more run
# of enc and of relay (BENCH_PERF_SECONDS each) and prints where its time goes
# (bench/perf-groups.py; the data stays in build/perf-*.data; needs root or
# perf_event_paranoid <= 1). Never fails on timing.
# Knobs: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_CLIENTS (8), BENCH_THREADS (2),
# PGSEAL_BIN (build/pgseal), BASELINE (an older pgseal binary), BENCH_PERF (0),
# BENCH_PERF_SECONDS (20), BENCH_PERF_FREQ (997 Hz), BENCH_PERF_CALLGRAPH (dwarf),
# BENCH_NOWALL (0; 1 adds a'. `staff`, encrypted like `people` but without the CHECK
# constraints of docs/schema.md, through the same pgseal), BENCH_KEEP (keep the work directory).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PG_BIN=/usr/lib/postgresql/15/bin
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-8}
THREADS=${BENCH_THREADS:-2}
ROWS=10000
BIN=${PGSEAL_BIN:-$root/build/pgseal}
BASE=${BASELINE:-}
PY=/usr/bin/python3
say() { printf 'bench-enc: %s\n' "$*" >&2; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
[[ -x $BIN ]] || { say "$BIN missing: run make first"; exit 1; }
if [[ -n $BASE ]]; then
  BASE=$(cd "$(dirname "$BASE")" 2>/dev/null && pwd)/$(basename "$BASE")
  [[ -x $BASE ]] || { say "BASELINE $BASE is not an executable"; exit 1; }
fi

AS_PG=(); [[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)
W=$(mktemp -d /var/tmp/pgseal-bench-enc.XXXXXX)
chmod 755 "$W"; [[ $(id -u) -eq 0 ]] && chown postgres: "$W"
PGPORT=$(free_port); SPORT=$(free_port); BPORT=$(free_port); PGSEAL_PID=""; BASE_PID=""
stop_pid() {
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1"; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
}
PROBES_ADDED=""
cleanup() {
  [[ -n $PROBES_ADDED ]] && perf probe -q -d 'pgsealbench:*' >/dev/null 2>&1
  stop_pid "$PGSEAL_PID"
  stop_pid "$BASE_PID"
  [[ -f $W/data/PG_VERSION ]] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -m immediate -w -t 30 stop >/dev/null 2>&1
  if [[ -n ${BENCH_KEEP:-} ]]; then say "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$W/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$W/initdb.log" 2>&1 \
  || { cat "$W/initdb.log"; exit 1; }
cat >>"$W/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$W'
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -l "$W/postgres.log" -w -t 60 start >/dev/null || { tail "$W/postgres.log"; exit 1; }
psql_su() { "${AS_PG[@]}" "$PG_BIN/psql" -X -q -At -h "$W" -p "$PGPORT" -U postgres "$@"; }
psql_su -d postgres -c "CREATE DATABASE enc" -c "CREATE DATABASE plain"
psql_su -d enc -c "CREATE TABLE people (id bigserial PRIMARY KEY, email text, name text, salary int8)"
NOWALL=${BENCH_NOWALL:-0}
[[ $NOWALL != 0 ]] && psql_su -d enc -c "CREATE TABLE staff (id bigserial PRIMARY KEY, email text, name text, salary int8)"
# `members`: a name the encryptor config does not name, so pgseal relays its statements
# without analysing them (sql_may_touch finds no configured table name in the text)
psql_su -d plain -c "CREATE TABLE members (id bigserial PRIMARY KEY, email text, name text, salary int8)" \
  -c "CREATE INDEX ON members (email)"

head -c 32 /dev/urandom >"$W/seal.key"; chmod 600 "$W/seal.key"
cat >"$W/enc.yaml" <<YAML
schemas:
  - table: people
    columns: [id, email, name, salary]
    encrypted:
      - {column: email, searchable: true, data_type: str}
      - {column: name, data_type: str}
      - {column: salary, data_type: int64}
YAML
if [[ $NOWALL != 0 ]]; then
  sed 's/table: people/table: staff/' "$W/enc.yaml" | tail -n +2 >>"$W/enc.yaml"
fi
pgseal_yaml() { # PORT -> the config; both binaries share the key files of $W
  cat <<YAML
listen: "127.0.0.1:$1"
upstream: {host: 127.0.0.1, port: $PGPORT, tls: disable}
keys: {provider: file, sealing_key_file: seal.key}
encryptor_config_file: enc.yaml
log: {level: warn}
YAML
}
pgseal_yaml "$SPORT" >"$W/pgseal.yaml"
pgseal_yaml "$BPORT" >"$W/pgseal-base.yaml"
"$BIN" schema --config "$W/pgseal.yaml" | psql_su -d enc -v ON_ERROR_STOP=1 >/dev/null || { say "schema DDL failed"; exit 1; }
# staff: the same encrypted table without the CHECK constraints of docs/schema.md ("The wall")
[[ $NOWALL != 0 ]] && psql_su -d enc -c "ALTER TABLE staff DROP CONSTRAINT pgseal_record_email,
  DROP CONSTRAINT pgseal_record_name, DROP CONSTRAINT pgseal_record_salary" >/dev/null
# its own session, as PgBouncer (-d) and PostgreSQL have: with sched_autogroup on, a process
# left in pgbench's session shares pgbench's CPU group and the comparison is skewed
setsid "$BIN" serve --config "$W/pgseal.yaml" >"$W/pgseal.log" 2>&1 </dev/null &
PGSEAL_PID=$!
wait_port "$SPORT" || { say "pgseal did not start"; tail "$W/pgseal.log"; exit 1; }

# the same 10,000 rows in both: through pgseal (COPY encrypts them) and directly
gen() { $PY -c "
for i in range(1, $ROWS + 1):
    print('%d\tuser%d@example.com\tName %d\t%d' % (i, i, i, 1000 + i))"; }
gen | "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$SPORT" -U postgres -d enc -c "COPY people (id, email, name, salary) FROM STDIN" \
  || { say "loading through pgseal failed"; tail "$W/pgseal.log"; exit 1; }
gen | psql_su -d plain -c "COPY members (id, email, name, salary) FROM STDIN"
psql_su -d enc -c "SELECT setval('people_id_seq', $ROWS + 1)" -c "ANALYZE people" >/dev/null
if [[ $NOWALL != 0 ]]; then
  gen | "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$SPORT" -U postgres -d enc -c "COPY staff (id, email, name, salary) FROM STDIN" \
    || { say "loading staff through pgseal failed"; exit 1; }
  psql_su -d enc -c "SELECT setval('staff_id_seq', $ROWS + 1)" -c "ANALYZE staff" >/dev/null
fi
psql_su -d plain -c "SELECT setval('members_id_seq', $ROWS + 1)" -c "ANALYZE members" >/dev/null

# the baseline starts once the data keys exist in the shared keystore (it reads them at start)
if [[ -n $BASE ]]; then
  setsid "$BASE" serve --config "$W/pgseal-base.yaml" >"$W/pgseal-base.log" 2>&1 </dev/null &
  BASE_PID=$!
  wait_port "$BPORT" || { say "the baseline pgseal did not start"; tail "$W/pgseal-base.log"; exit 1; }
fi

# pgbench variables become $n parameters with -M extended; pgbench cannot concatenate
# strings into variables, so a prelude (naming no table) builds them with \gset
workload() { # TABLE
  cat <<SQL
\\set k random(1, 10000)
\\set s random(1, 1000000)
SELECT 'new' || :s || '@example.com' AS email, 'New ' || :s AS name, 'user' || :k || '@example.com' AS kemail \\gset
INSERT INTO $1 (email, name, salary) VALUES (:email, :name, :s);
SELECT id, name, salary FROM $1 WHERE email = :kemail;
UPDATE $1 SET salary = :s WHERE id = :k;
SQL
}
workload people >"$W/enc.sql"
workload members >"$W/plain.sql"
workload staff >"$W/nowall.sql"

# the systems: port, database, script, pgseal process (for its CPU time)
SYSTEMS=(enc relay direct)
declare -A PORT=([enc]=$SPORT [relay]=$SPORT [direct]=$PGPORT)
declare -A DB=([enc]=enc [relay]=plain [direct]=plain)
declare -A SCRIPT=([enc]=enc [relay]=plain [direct]=plain)
declare -A PID=([enc]=$PGSEAL_PID [relay]=$PGSEAL_PID)
if [[ $NOWALL != 0 ]]; then
  SYSTEMS+=(nowall); PORT[nowall]=$SPORT; DB[nowall]=enc; SCRIPT[nowall]=nowall; PID[nowall]=$PGSEAL_PID
fi
if [[ -n $BASE ]]; then
  SYSTEMS+=(enc@base relay@base)
  PORT[enc@base]=$BPORT; PORT[relay@base]=$BPORT; DB[enc@base]=enc; DB[relay@base]=plain
  SCRIPT[enc@base]=enc; SCRIPT[relay@base]=plain
  PID[enc@base]=$BASE_PID; PID[relay@base]=$BASE_PID
fi

run() { # SYSTEM [SECONDS] -> "tps transactions pgbench_cpu_seconds"
  local sys=$1 out tps n
  out=$(/usr/bin/time -f 'pgbench-cpu %U %S' -o "$W/time.out" "$PG_BIN/pgbench" -n -M extended \
    -f "$W/${SCRIPT[$sys]}.sql" -c "$CLIENTS" -j "$THREADS" -T "${2:-$SECS}" \
    -h 127.0.0.1 -p "${PORT[$sys]}" -U postgres "${DB[$sys]}" 2>"$W/pgbench.err")
  tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' <<<"$out" | tail -1)
  n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' <<<"$out" | tail -1)
  bcpu=$(awk '/^pgbench-cpu/ {print $2 + $3}' "$W/time.out" 2>/dev/null)
  if [[ -z $tps || -z $n ]]; then
    { echo "$sys:"; tail -3 "$W/pgbench.err"; } >>"$W/errors.log"
    echo "n/a n/a n/a"
  else
    echo "$tps $n ${bcpu:-n/a}"
  fi
}
cpu_ticks() { [[ -n ${1:-} && -r /proc/$1/stat ]] && awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" || echo n/a; }
# CPU clock ticks used by PostgreSQL so far: the postmaster, the backends it has reaped
# (cutime, cstime) and its live children (pgseal's pooled backends stay alive)
server_ticks() {
  $PY - "$(head -1 "$W/data/postmaster.pid")" <<'PYEOF'
import os, sys
pm = sys.argv[1]
def stat(pid):
    with open("/proc/%s/stat" % pid) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()
tot = sum(int(x) for x in stat(pm)[11:15])
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            g = stat(p)
        except OSError:
            continue
        if g[1] == pm:
            tot += int(g[11]) + int(g[12])
print(tot)
PYEOF
}
backends() { pgrep -c -P "$(head -1 "$W/data/postmaster.pid")"; }
per_txn() { # TICKS0 TICKS1 TRANSACTIONS -> microseconds per transaction
  [[ $1 != n/a && $2 != n/a && $3 != n/a && $3 -gt 0 ]] || { echo n/a; return; }
  $PY -c 'import sys; print("%.1f" % ((int(sys.argv[2]) - int(sys.argv[1])) * int(sys.argv[3]) / int(sys.argv[4])))' "$1" "$2" "$TICK_US" "$3"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
median() { $PY -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:] if x!="n/a"]; print("%.1f"%s.median(v) if v else "n/a")' "$@"; }
# median over rounds of the ratio A/B within each round (robust to load drifting between rounds)
rratio() { $PY -c '
import sys, statistics as st
a, b = sys.argv[1].split(), sys.argv[2].split()
r = [float(x) / float(y) for x, y in zip(a, b) if "n/a" not in (x, y) and float(y) > 0]
print("%.2f (%.2f-%.2f)" % (st.median(r), min(r), max(r)) if r else "n/a")' "$1" "$2"; }

# sanity and warm-up: the workload runs on every system
for sys in "${SYSTEMS[@]}"; do
  read -r t _ < <(run "$sys" 2)
  [[ $t == n/a ]] && { say "workload failed on $sys:"; cat "$W/pgbench.err" >&2; tail "$W"/pgseal*.log >&2; exit 1; }
done

order() { local i n=${#SYSTEMS[@]}; for ((i = 0; i < n; i++)); do printf '%s ' "${SYSTEMS[$(( (i + $1 - 1) % n ))]}"; done; }
declare -A TPS CPU SCPU BCPU
rounds_log=""
for r in $(seq "$ROUNDS"); do
  line=""
  for sys in $(order "$r"); do
    c0=$(cpu_ticks "${PID[$sys]:-}"); s0=$(server_ticks); k0=$(backends)
    read -r tps n bcpu < <(run "$sys")
    # the backends of a direct run exit after it: count them once the postmaster reaped them
    for _ in $(seq 50); do [[ $(backends) -le $k0 ]] && break; sleep 0.1; done
    c1=$(cpu_ticks "${PID[$sys]:-}"); s1=$(server_ticks)
    cpu=$(per_txn "$c0" "$c1" "$n"); scpu=$(per_txn "$s0" "$s1" "$n")
    bus=n/a; [[ $bcpu != n/a && $n != n/a ]] && bus=$($PY -c 'import sys; print("%.1f" % (float(sys.argv[1]) * 1e6 / int(sys.argv[2])))' "$bcpu" "$n")
    BCPU[$sys]="${BCPU[$sys]:-} $bus"
    TPS[$sys]="${TPS[$sys]:-} $tps"
    CPU[$sys]="${CPU[$sys]:-} $cpu"
    SCPU[$sys]="${SCPU[$sys]:-} $scpu"
    rounds_log+=$(printf '  round %d  %-11s %10s tps  CPU/txn: pgseal %6s us, PostgreSQL %6s us, pgbench %6s us\n' "$r" "$sys" "$tps" "$cpu" "$scpu" "$bus")$'\n'
    line+=" $sys $tps"
  done
  say "round $r:$line"
done

# --- profile (BENCH_PERF=1): where pgseal's time goes in enc vs relay ---------------------------
perf_note=""
PERF_SECS=${BENCH_PERF_SECONDS:-20}
PERF_FREQ=${BENCH_PERF_FREQ:-997}
if [[ ${BENCH_PERF:-0} != 0 ]]; then
  if command -v perf >/dev/null; then
    mkdir -p "$root/build"
    for sys in enc relay; do
      cg=${BENCH_PERF_CALLGRAPH:-dwarf}
      perf record -q -F "$PERF_FREQ" --call-graph "$cg" -p "$PGSEAL_PID" -o "$root/build/perf-$sys.data" -- sleep "$PERF_SECS" \
        >"$W/perf-$sys.log" 2>&1 &
      ppid=$!
      # and PostgreSQL's backends (pgseal's pooled ones, alive through the run): flat profile
      pgpids=$(pgrep -d, -P "$(head -1 "$W/data/postmaster.pid")")
      perf record -q -F "$PERF_FREQ" -p "$pgpids" -o "$root/build/perf-$sys-server.data" -- sleep "$PERF_SECS" \
        >"$W/perf-$sys-server.log" 2>&1 &
      spid=$!
      sleep 0.2
      read -r tps n _ < <(run "$sys" "$PERF_SECS")
      wait "$ppid" "$spid"
      perf_note+="perf: $sys $tps tps, $n transactions in ${PERF_SECS}s, build/perf-$sys.data"$'\n'
      eval "PERF_N_${sys}=$n"
      say "perf recorded for $sys ($tps tps)"
    done
    # how often the layer's steps run, counted exactly with uprobes in a separate run (a
    # uprobe costs microseconds per hit: not while sampling). plan cache misses = analyses.
    PQ=$(ldd "$BIN" | awk '/libpg_query/ {print $3}')
    PROBES=(msg=crypt_client_message analyze=sql_analyze_lex render=sql_plan_render
            encrypt=crypt_encrypt_value catalog=crypt_catalog_request)
    ok=1
    for p in "${PROBES[@]}"; do perf probe -q -x "$BIN" -a "pgsealbench:$p" >/dev/null 2>&1 || ok=0; done
    [[ -n $PQ ]] && { perf probe -q -x "$PQ" -a "pgsealbench:parse=pg_query_parse" >/dev/null 2>&1 || ok=0; }
    PROBES_ADDED=1
    if [[ $ok == 1 ]]; then
      for sys in enc relay; do
        perf stat -x, -e 'pgsealbench:*' -p "$PGSEAL_PID" -o "$W/probe-$sys.csv" -- sleep 5 >/dev/null 2>&1 &
        ppid=$!
        sleep 0.2
        read -r tps n _ < <(run "$sys" 5)
        wait "$ppid"
        counts=$(awk -F, -v n="$n" '$3 ~ /pgsealbench:/ {sub(/pgsealbench:/, "", $3); printf "%s %.2f  ", $3, $1 / n}' "$W/probe-$sys.csv")
        perf_note+="calls per transaction, $sys ($n transactions): $counts"$'\n'
      done
    else
      perf_note+="uprobes: perf probe failed, no call counts"$'\n'
    fi
    perf probe -q -d 'pgsealbench:*' >/dev/null 2>&1; PROBES_ADDED=""
  else
    perf_note="perf: not installed"$'\n'
  fi
fi

leak=$(psql_su -d enc -c "SELECT count(*) FROM people WHERE position('example.com'::bytea in email) > 0 OR position('Name'::bytea in name) > 0" 2>/dev/null || echo "?")
{
echo
echo "## Encrypted workload, three ways ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, pgseal $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "pgbench -n -M extended -c $CLIENTS -j $THREADS -T $SECS, $ROUNDS rounds, the systems back to back in each"
echo "(order rotated per round); medians. CPU/txn: user + system time per transaction of pgseal (all its"
echo "threads) and of PostgreSQL (postmaster and backends), from /proc."
echo
echo "| system | tps (median) | pgseal CPU/txn | PostgreSQL CPU/txn | pgbench CPU/txn |"
echo "|---|---|---|---|---|"
declare -A LABEL=([enc]="a. encrypted \`people\` through pgseal" [relay]="b. plaintext \`members\` through the same pgseal (relay only)"
                  [direct]="c. plaintext \`members\` direct" [enc@base]="a. encrypted, BASELINE pgseal" [relay@base]="b. relay only, BASELINE pgseal"
                  [nowall]="a'. encrypted \`staff\`, no CHECK constraints, through pgseal")
for sys in "${SYSTEMS[@]}"; do
  c=$(median ${CPU[$sys]:-}); [[ $sys == direct ]] && c="-" || c="$c us"
  echo "| ${LABEL[$sys]} | $(median ${TPS[$sys]}) | $c | $(median ${SCPU[$sys]}) us | $(median ${BCPU[$sys]}) us |"
done
echo
echo "Median of the per-round ratios (min-max):"
echo "  a/b  encryption layer's own cost   $(rratio "${TPS[enc]}" "${TPS[relay]}")   goal >= 0.95"
echo "  a/c  pgseal encrypted vs direct    $(rratio "${TPS[enc]}" "${TPS[direct]}")   goal >= 0.70"
echo "  b/c  the relay hop                 $(rratio "${TPS[relay]}" "${TPS[direct]}")"
ce=$(median ${CPU[enc]}); cr=$(median ${CPU[relay]}); se=$(median ${SCPU[enc]}); sr=$(median ${SCPU[relay]})
dif() { $PY -c 'import sys; a,b=sys.argv[1:]; print("%+.1f" % (float(a)-float(b)) if "n/a" not in (a,b) else "n/a")' "$1" "$2"; }
echo "  a - b, CPU per transaction: pgseal $(dif "$ce" "$cr") us (encrypted $ce, relay only $cr), PostgreSQL $(dif "$se" "$sr") us"
echo "        (encrypted schema: bytea values, blind index, CHECK constraints; $se against $sr)"
if [[ $NOWALL != 0 ]]; then
  echo "  a'/b encrypted without the wall      $(rratio "${TPS[nowall]}" "${TPS[relay]}")   a/a' (the wall) $(rratio "${TPS[enc]}" "${TPS[nowall]}")"
fi
if [[ -n $BASE ]]; then
  echo
  echo "Before/after: new = $BIN, old = BASELINE $BASE (same run, same rounds)"
  echo "  encrypted workload  new/old tps $(rratio "${TPS[enc]}" "${TPS[enc@base]}")   CPU/txn new $ce us, old $(median ${CPU[enc@base]}) us"
  echo "  relay only          new/old tps $(rratio "${TPS[relay]}" "${TPS[relay@base]}")   CPU/txn new $cr us, old $(median ${CPU[relay@base]}) us"
  echo "  a/b for the old binary: $(rratio "${TPS[enc@base]}" "${TPS[relay@base]}")"
fi
echo
echo "workload: INSERT (3 values) + SELECT by equality on email among $ROWS rows + UPDATE salary by id"
echo "rows upstream whose email or name bytes contain plaintext: $leak (must be 0)"
echo
echo "Rounds:"
printf '%s' "$rounds_log"
[[ -n $perf_note ]] && { echo; printf '%s' "$perf_note"; }
if [[ -s $W/errors.log ]]; then echo; echo "Errors seen (last lines):"; tail -10 "$W/errors.log"; fi
} | tee "$W/report.txt"
mkdir -p "$root/build" && cp "$W/report.txt" "$root/build/bench-encrypted-report.txt" 2>/dev/null
if [[ ${BENCH_PERF:-0} != 0 && -f $root/build/perf-enc.data ]]; then
  echo
  $PY "$root/bench/perf-groups.py" "$BIN" "enc=$root/build/perf-enc.data:${PERF_N_enc:-0}" \
    "relay=$root/build/perf-relay.data:${PERF_N_relay:-0}" 2>&1 | tee -a "$root/build/bench-encrypted-report.txt"
  for sys in enc relay; do
    echo
    echo "PostgreSQL backends during $sys (pgseal's pooled sessions), top self symbols:"
    perf report -i "$root/build/perf-$sys-server.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
      grep -v '^#' | grep . | head -20
  done | tee -a "$root/build/bench-encrypted-report.txt"
fi
exit 0
