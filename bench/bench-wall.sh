#!/usr/bin/env bash
# bench-wall.sh - what the record CHECK constraints of `pgseal schema` (docs/schema.md "The wall") cost per INSERT, directly on PostgreSQL.
#
# One throwaway PostgreSQL, two tables of the same shape, both migrated by `pgseal schema`
# (email searchable text, name text, age int4: bytea, blind index on email): `wall` keeps
# its three pgseal_record_* constraints, `nowall` has them dropped. A pgbench custom script
# INSERTs one row of three record-shaped bytea values (-M prepared), the two tables in
# interleaved rounds (the order flips every round), medians. Then the bulk path: INSERT ...
# SELECT of BULK_ROWS rows per table, interleaved, medians. Besides tps, each pgbench round
# reports the server's CPU time per INSERT (postmaster, reaped backends and live children,
# from /proc), which the machine's other load disturbs far less. synchronous_commit is off, so
# that the WAL flush of each commit does not hide the CPU the constraints take (with it
# on, one INSERT costs a flush of the disk and the constraints vanish in the noise).
# Then the expressions alone: scans of the BULK_ROWS stored records that evaluate them.
# Not part of `make bench` or CI;
# never fails on timing. Knobs: BENCH_SECONDS (5), BENCH_ROUNDS (11), BENCH_CLIENTS ("1 8"),
# BULK_ROWS (200000), PGSEAL_BIN.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PG_BIN=/usr/lib/postgresql/15/bin
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-11}
CLIENTS=${BENCH_CLIENTS:-"1 8"}
BULK=${BULK_ROWS:-200000}
BIN=${PGSEAL_BIN:-$root/build/pgseal}
PY=/usr/bin/python3
say() { printf 'bench-wall: %s\n' "$*" >&2; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
[[ -x $BIN ]] || { say "$BIN missing: run make first"; exit 1; }

AS_PG=(); [[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)
W=$(mktemp -d /var/tmp/pgseal-bench-wall.XXXXXX)
chmod 755 "$W"; [[ $(id -u) -eq 0 ]] && chown postgres: "$W"
PGPORT=$(free_port)
cleanup() {
  [[ -f $W/data/PG_VERSION ]] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -m immediate -w -t 30 stop >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT

(cd /tmp && "${AS_PG[@]}" "$PG_BIN/initdb" -D "$W/data" -U postgres -A trust >"$W/initdb.log" 2>&1) || { cat "$W/initdb.log"; exit 1; }
(cd /tmp && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -l "$W/pg.log" -w -t 60 \
  -o "-p $PGPORT -k $W -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=4GB -c synchronous_commit=off" start >/dev/null) ||
  { cat "$W/pg.log"; exit 1; }
PSQL=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1)

cat >"$W/pgseal.yaml" <<EOF
upstream: {host: 127.0.0.1, port: $PGPORT}
schemas:
EOF
for t in wall nowall; do
  cat >>"$W/pgseal.yaml" <<EOF
  - table: $t
    encrypted:
      - {column: email, data_type: str, searchable: true}
      - {column: name, data_type: str}
      - {column: age, data_type: int4}
EOF
done
"${PSQL[@]}" -c "CREATE TABLE wall (id bigserial PRIMARY KEY, email text, name text, age int4);
                 CREATE TABLE nowall (LIKE wall INCLUDING ALL)" || exit 1
"$BIN" schema --config "$W/pgseal.yaml" >"$W/schema.sql" && "${PSQL[@]}" -f "$W/schema.sql" 2>/dev/null || exit 1
"${PSQL[@]}" -c "ALTER TABLE nowall DROP CONSTRAINT pgseal_record_email, DROP CONSTRAINT pgseal_record_name,
                   DROP CONSTRAINT pgseal_record_age" || exit 1

# record-shaped values: searchable text of 20 bytes (85), text of 12 bytes (45), int4 (37)
hex() { $PY -c "import os,sys; print(sys.argv[1] + os.urandom(int(sys.argv[2])).hex() + sys.argv[3])" "$@"; }
EMAIL="'\\x02$(hex '' 32 '')00000001$(hex '' 48 '')'"
NAME="'\\x0100000001$(hex '' 40 '')'"
AGE="'\\x0100000001$(hex '' 32 '')'"
for t in wall nowall; do
  printf 'INSERT INTO %s (email, name, age) VALUES (%s::bytea, %s::bytea, %s::bytea);\n' "$t" "$EMAIL" "$NAME" "$AGE" >"$W/$t.sql"
done
"${PSQL[@]}" -f "$W/wall.sql" || { say "the record-shaped values do not pass the constraints"; exit 1; }

# CPU clock ticks used by the server so far: the postmaster, the backends it has reaped
# (cutime, cstime) and its live children. Robust to the machine's other load, unlike tps.
server_cpu() {
  $PY - "$(head -1 "$W/data/postmaster.pid")" <<'PYEOF'
import os, sys
pm = sys.argv[1]
def stat(pid):
    with open("/proc/%s/stat" % pid) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()
f = stat(pm)
tot = sum(int(x) for x in f[11:15])
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
TCK=$(getconf CLK_TCK)
run_pgbench() { # table clients -> "tps cpu_us_per_insert"
  local out c0 c1 n tps
  "${PSQL[@]}" -c "TRUNCATE $1; CHECKPOINT" >/dev/null
  c0=$(server_cpu)
  out=$("$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" -T "$SECS" \
    -f "$W/$1.sql" postgres 2>/dev/null)
  sleep 0.3 # the backends exit and are reaped
  c1=$(server_cpu)
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
  $PY -c "print('%s %.2f' % ('$tps', ($c1 - $c0) / $TCK * 1e6 / $n))"
}
run_bulk() { # table -> server CPU microseconds per row, for BULK rows
  local c0 c1
  "${PSQL[@]}" -c "TRUNCATE $1; CHECKPOINT" >/dev/null
  c0=$(server_cpu)
  "${PSQL[@]}" -c "INSERT INTO $1 (email, name, age) SELECT $EMAIL::bytea, $NAME::bytea, $AGE::bytea
                   FROM generate_series(1, $BULK)"
  sleep 0.3
  c1=$(server_cpu)
  $PY -c "print('%.3f' % (($c1 - $c0) / $TCK * 1e6 / $BULK))"
}

say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), $(nproc) CPUs, $ROUNDS rounds of ${SECS}s, clients: $CLIENTS"
for c in $CLIENTS; do
  : >"$W/tps-wall-$c"; : >"$W/tps-nowall-$c"; : >"$W/ratio-$c"; : >"$W/cpu-wall-$c"; : >"$W/cpu-nowall-$c"; : >"$W/dcpu-$c"
  for r in $(seq "$ROUNDS"); do
    if (( r % 2 )); then order="wall nowall"; else order="nowall wall"; fi
    for t in $order; do
      read -r v u < <(run_pgbench "$t" "$c")
      echo "$v" >>"$W/tps-$t-$c"; echo "$u" >>"$W/cpu-$t-$c"; eval "tps_$t=$v cpu_$t=$u"
    done
    $PY -c "print('%.4f' % ($tps_wall / $tps_nowall))" >>"$W/ratio-$c"
    $PY -c "print('%.2f' % ($cpu_wall - $cpu_nowall))" >>"$W/dcpu-$c"
    say "pgbench -c $c round $r: wall $tps_wall tps ($cpu_wall us server CPU per INSERT), nowall $tps_nowall tps ($cpu_nowall us)"
  done
  mw=$(median <"$W/tps-wall-$c"); mn=$(median <"$W/tps-nowall-$c"); mr=$(median <"$W/ratio-$c")
  echo "pgbench INSERT -M prepared -c $c: with constraints $mw tps, without $mn tps; per-round ratio: median $mr," \
    "range $(sort -g "$W/ratio-$c" | head -1) - $(sort -g "$W/ratio-$c" | tail -1)"
  echo "  server CPU per INSERT: with constraints $(median <"$W/cpu-wall-$c") us, without $(median <"$W/cpu-nowall-$c") us;" \
    "per-round difference: median $(median <"$W/dcpu-$c") us, range $(sort -g "$W/dcpu-$c" | head -1) - $(sort -g "$W/dcpu-$c" | tail -1)"
done
: >"$W/bulk-wall"; : >"$W/bulk-nowall"
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then order="wall nowall"; else order="nowall wall"; fi
  for t in $order; do run_bulk "$t" >>"$W/bulk-$t"; done
done
bw=$(median <"$W/bulk-wall"); bn=$(median <"$W/bulk-nowall")
echo "INSERT ... SELECT of $BULK rows, server CPU per row: with constraints $bw us, without $bn us ($(
  $PY -c "print('%+.2f us per row for 3 columns' % ($bw - $bn))"))"

# the expressions alone, on the BULK rows left in `wall`: 5 scans with and without them,
# interleaved, server CPU per row
E=$("${PSQL[@]}" -Atc "SELECT string_agg('(' || pg_get_expr(conbin, conrelid) || ')', ' AND ') FROM pg_constraint
                        WHERE conrelid = 'wall'::regclass AND contype = 'c'")
scan() {
  local c0 c1
  c0=$(server_cpu)
  "${PSQL[@]}" -c "SET max_parallel_workers_per_gather = 0" -c "SELECT count(*) FROM wall WHERE $1" \
    -c "SELECT count(*) FROM wall WHERE $1" -c "SELECT count(*) FROM wall WHERE $1" \
    -c "SELECT count(*) FROM wall WHERE $1" -c "SELECT count(*) FROM wall WHERE $1" >/dev/null
  sleep 0.3
  c1=$(server_cpu)
  $PY -c "print('%.3f' % (($c1 - $c0) / $TCK * 1e6 / (5 * $BULK)))"
}
: >"$W/scan-expr"; : >"$W/scan-plain"
for r in $(seq "$ROUNDS"); do scan "$E" >>"$W/scan-expr"; scan "id IS NOT NULL" >>"$W/scan-plain"; done
se=$(median <"$W/scan-expr"); sp=$(median <"$W/scan-plain")
echo "scans evaluating the 3 expressions over $BULK rows, server CPU per row: $se us, without them: $sp us ($(
  $PY -c "print('%.2f us per row for 3 columns' % ($se - $sp))"))"
