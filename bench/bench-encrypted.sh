#!/usr/bin/env bash
# bench-encrypted.sh - the encrypted workload of `make bench`: pgseal with 3 encrypted columns vs the same schema in plaintext, direct.
#
# One throwaway PostgreSQL, two databases with the same table: `enc` (email searchable,
# name and salary encrypted, bytea upstream) reached through pgseal (keys provider file),
# and `plain` (text/int8) reached directly. A pgbench custom script (-M extended):
# INSERT a row with the three encrypted columns, SELECT one row by searchable equality
# among 10,000, UPDATE one encrypted column by id. Rounds alternate enc/plain; medians.
# Never fails on timing. Knobs: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_CLIENTS (8),
# BENCH_THREADS (2), PGSEAL_BIN.
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
PY=/usr/bin/python3
say() { printf 'bench-enc: %s\n' "$*" >&2; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
[[ -x $BIN ]] || { say "$BIN missing: run make first"; exit 1; }

AS_PG=(); [[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)
W=$(mktemp -d /var/tmp/pgseal-bench-enc.XXXXXX)
chmod 755 "$W"; [[ $(id -u) -eq 0 ]] && chown postgres: "$W"
PGPORT=$(free_port); SPORT=$(free_port); PGSEAL_PID=""
cleanup() {
  if [[ -n $PGSEAL_PID ]] && kill -0 "$PGSEAL_PID" 2>/dev/null; then
    kill -TERM "$PGSEAL_PID"; for _ in $(seq 100); do kill -0 "$PGSEAL_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PGSEAL_PID" 2>/dev/null
  fi
  [[ -f $W/data/PG_VERSION ]] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$W/data" -m immediate -w -t 30 stop >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT

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
for db in enc plain; do
  psql_su -d $db -c "CREATE TABLE people (id bigserial PRIMARY KEY, email text, name text, salary int8)"
done
psql_su -d plain -c "CREATE INDEX ON people (email)"

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
cat >"$W/pgseal.yaml" <<YAML
listen: "127.0.0.1:$SPORT"
upstream: {host: 127.0.0.1, port: $PGPORT, tls: disable}
keys: {provider: file, sealing_key_file: seal.key}
encryptor_config_file: enc.yaml
log: {level: warn}
YAML
"$BIN" schema --config "$W/pgseal.yaml" | psql_su -d enc -v ON_ERROR_STOP=1 >/dev/null || { say "schema DDL failed"; exit 1; }
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
gen | psql_su -d plain -c "COPY people (id, email, name, salary) FROM STDIN"
for db in enc plain; do psql_su -d $db -c "SELECT setval('people_id_seq', $ROWS + 1)" -c "ANALYZE people" >/dev/null; done

# pgbench variables become $n parameters with -M extended; pgbench cannot concatenate
# strings into variables, so a prelude (naming no encrypted table) builds them with \gset
cat >"$W/workload.sql" <<'SQL'
\set k random(1, 10000)
\set s random(1, 1000000)
SELECT 'new' || :s || '@example.com' AS email, 'New ' || :s AS name, 'user' || :k || '@example.com' AS kemail \gset
INSERT INTO people (email, name, salary) VALUES (:email, :name, :s);
SELECT id, name, salary FROM people WHERE email = :kemail;
UPDATE people SET salary = :s WHERE id = :k;
SQL

run() { # run PORT DB -> tps
  "$PG_BIN/pgbench" -n -M extended -f "$W/workload.sql" -c "$CLIENTS" -j "$THREADS" -T "$SECS" \
    -h 127.0.0.1 -p "$1" -U postgres "$2" 2>"$W/pgbench.err" | awk '/^tps/ {print $3; exit}'
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "n/a"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# sanity: the workload runs through pgseal and the search finds its row
t=$(run "$SPORT" enc); [[ -z $t ]] && { say "workload failed through pgseal:"; cat "$W/pgbench.err" >&2; tail "$W/pgseal.log" >&2; exit 1; }
declare -a E P
for r in $(seq "$ROUNDS"); do
  E+=("$(run "$SPORT" enc)"); P+=("$(run "$PGPORT" plain)")
  say "round $r: pgseal+encrypted ${E[-1]} tps, plaintext direct ${P[-1]} tps"
done
me=$(printf '%s\n' "${E[@]}" | median); mp=$(printf '%s\n' "${P[@]}" | median)
ratio=$($PY -c "print('%.2f' % ($me / $mp))" 2>/dev/null || echo n/a)
leak=$(psql_su -d enc -c "SELECT count(*) FROM people WHERE position('example.com'::bytea in email) > 0 OR position('Name'::bytea in name) > 0" 2>/dev/null || echo "?")
echo
echo "## Encrypted workload (pgbench -M extended, $CLIENTS clients, $THREADS threads, ${SECS}s x $ROUNDS interleaved rounds, medians)"
echo
echo "| system | tps (median) | ratio |"
echo "|---|---|---|"
echo "| PostgreSQL direct, plaintext schema | $mp | 1.00 |"
echo "| pgseal, 3 encrypted columns (1 searchable) | $me | $ratio |"
echo
echo "workload: INSERT (3 encrypted values) + SELECT by searchable equality among $ROWS rows + UPDATE of an encrypted column by id"
echo "rows upstream whose email or name bytes contain plaintext: $leak (must be 0)"
