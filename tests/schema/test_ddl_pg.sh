#!/usr/bin/env bash
# test_ddl_pg.sh - runs the DDL of `pgseal schema` against a real PostgreSQL 15: types, index use, re-runs, refusals, quoting.
#
# Usage: bash tests/schema/test_ddl_pg.sh   (after `make`; as root it runs PostgreSQL as user postgres)
# Ends with "test_ddl_pg: N passed, N failed"; exit 1 on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGSEAL=${PGSEAL:-$ROOT/build/pgseal}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
FIX=$ROOT/tests/schema/fixtures
WORK=$(mktemp -d /tmp/pgseal-schema-test.XXXXXX)
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

AS=()
if [[ $(id -u) -eq 0 ]]; then
	chown postgres "$WORK"
	AS=(runuser -u postgres --)
fi
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
	"${AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd /tmp && "${AS[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U postgres -A trust >"$WORK/initdb.log" 2>&1) ||
	{ cat "$WORK/initdb.log"; exit 1; }
(cd /tmp && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w -t 60 \
	-o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null) ||
	{ cat "$WORK/pg.log"; exit 1; }

PSQL=(psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
sql() { "${PSQL[@]}" -d "${DB:-postgres}" -Atc "$1"; }

# ---- CLI contract ------------------------------------------------------------------------
cat >"$WORK/pgseal.yaml" <<'EOF'
listen: "127.0.0.1:6432"
upstream: {host: 127.0.0.1, port: 5432}
encryptor_config_file: enc.yaml
EOF
cp "$FIX/acra_type_aware.yaml" "$WORK/enc.yaml"
check "schema prints DDL offline, exit 0" "$PGSEAL" schema --config "$WORK/pgseal.yaml" >"$WORK/out.sql"
check "DDL has ALTER ... TYPE bytea" grep -q 'ALTER COLUMN value_str TYPE bytea USING NULL::bytea;' "$WORK/out.sql"
check "DDL has the blind index" grep -q 'CREATE INDEX IF NOT EXISTS type_aware_by_oid_value_searchable_pgseal_bidx ON type_aware_by_oid (substr(value_searchable, 1, 33));' "$WORK/out.sql"

"$PGSEAL" schema >/dev/null 2>&1
check "no --config: exit 2" test $? -eq 2
"$PGSEAL" schema --config "$WORK/pgseal.yaml" extra >/dev/null 2>&1
check "extra argument: exit 2" test $? -eq 2
"$PGSEAL" schema --config "$WORK/nope.yaml" >/dev/null 2>&1
check "missing config: exit 2" test $? -eq 2
cp "$FIX/acra_tokenization.yaml" "$WORK/enc.yaml"
err=$("$PGSEAL" schema --config "$WORK/pgseal.yaml" 2>&1 >/dev/null)
rc=$?
check "tokenization: exit 2" test $rc -eq 2
check "tokenization: file:line in the error" grep -q "enc.yaml:9: 'token_type'" <<<"$err"
cp "$FIX/acra_masking.yaml" "$WORK/enc.yaml"
err=$("$PGSEAL" schema --config "$WORK/pgseal.yaml" 2>&1 >/dev/null)
check "masking: file:line in the error" grep -q "enc.yaml:9: 'masking'" <<<"$err"
printf 'upstream: {host: 127.0.0.1}\nschemas:\n  - table: t\n    encrypted:\n      - column: a\n        searchible: true\n' >"$WORK/inline.yaml"
err=$("$PGSEAL" schema --config "$WORK/inline.yaml" 2>&1 >/dev/null)
rc=$?
check "inline unknown key: exit 2 with file:line" test $rc -eq 2
check "inline unknown key: message" grep -q "inline.yaml:6: unknown key 'searchible'" <<<"$err"
for f in acra_searchable_clients acra_type_aware acra_identifiers; do
	printf 'upstream: {host: h}\nencryptor_config_file: %s/%s.yaml\n' "$FIX" "$f" >"$WORK/c.yaml"
	"$PGSEAL" schema --config "$WORK/c.yaml" >"$WORK/$f.sql"
	check "fixture $f: exit 0" test $? -eq 0
done

# ---- the DDL on PostgreSQL ---------------------------------------------------------------
sql "CREATE DATABASE s1" >/dev/null
export DB=s1
sql "CREATE TABLE type_aware_by_name (id serial PRIMARY KEY, value_str text DEFAULT 'x',
       value_bytes bytea, value_int32 int, value_int64 bigint, value_null_str text,
       value_empty_str varchar(10));
     CREATE TABLE type_aware_by_oid (id int, value_str text, value_searchable text UNIQUE,
       value_bytes bytea, value_int32 int4, value_int64 int8);
     INSERT INTO type_aware_by_name (id, value_str) VALUES (1, NULL);" >/dev/null
"${PSQL[@]}" -d s1 -f "$WORK/acra_type_aware.sql" >"$WORK/run1.log" 2>&1
check "DDL runs on matching empty columns" test $? -eq 0
check "a unique index on an encrypted column is warned about" grep -q 'WARNING:  pgseal: a unique index on type_aware_by_oid.value_searchable compares ciphertexts' "$WORK/run1.log"
check "text column became bytea" test "$(sql "SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'type_aware_by_name'::regclass AND attname = 'value_int64'")" = bytea
check "all 11 encrypted columns are bytea" test "$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid IN ('type_aware_by_name'::regclass, 'type_aware_by_oid'::regclass) AND atttypid = 'bytea'::regtype")" = 11
check "plain columns untouched" test "$(sql "SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'type_aware_by_oid'::regclass AND attname = 'id'")" = integer
check "default of an encrypted column dropped" test "$(sql "SELECT count(*) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'type_aware_by_name'::regclass AND a.attname = 'value_str'")" = 0
check "the row kept (id 1)" test "$(sql "SELECT count(*) FROM type_aware_by_name WHERE id = 1 AND value_str IS NULL")" = 1
check "blind index exists" test "$(sql "SELECT indexdef FROM pg_indexes WHERE indexname = 'type_aware_by_oid_value_searchable_pgseal_bidx'")" = "CREATE INDEX type_aware_by_oid_value_searchable_pgseal_bidx ON public.type_aware_by_oid USING btree (substr(value_searchable, 1, 33))"

sql "INSERT INTO type_aware_by_oid (id, value_searchable)
       SELECT g, '\\x02'::bytea || sha256(g::text::bytea) || '\\x00000001'::bytea
                 || '\\x0102030405060708090a0b0c'::bytea || sha256(('ct' || g)::bytea)
       FROM generate_series(1, 2000) g;
     ANALYZE type_aware_by_oid;" >/dev/null
plan=$("${PSQL[@]}" -d s1 -Atc "SET enable_seqscan = off; EXPLAIN SELECT * FROM type_aware_by_oid WHERE substr(value_searchable, 1, 33) = '\\x02'::bytea || sha256('42'::bytea)")
check "EXPLAIN uses the blind index" grep -q 'type_aware_by_oid_value_searchable_pgseal_bidx' <<<"$plan"
plan=$("${PSQL[@]}" -d s1 -Atc "EXPLAIN SELECT * FROM type_aware_by_oid WHERE substr(value_searchable, 1, 33) = '\\x02'::bytea || sha256('42'::bytea)")
check "EXPLAIN uses the blind index without hints" grep -Eq 'Index Scan|Bitmap Index Scan' <<<"$plan"
check "the search finds the row" test "$(sql "SELECT id FROM type_aware_by_oid WHERE substr(value_searchable, 1, 33) = '\\x02'::bytea || sha256('42'::bytea)")" = 42

"${PSQL[@]}" -d s1 -f "$WORK/acra_type_aware.sql" >"$WORK/run2.log" 2>&1
check "re-run on migrated columns: exit 0" test $? -eq 0
check "re-run keeps the ciphertext" test "$(sql "SELECT count(*) FROM type_aware_by_oid WHERE value_searchable IS NOT NULL")" = 2000

# ---- the wall: one record CHECK constraint per encrypted column --------------------------------
nwall() { sql "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conname LIKE 'pgseal\_record\_%' AND convalidated${1:+ AND conrelid = '$1'::regclass}"; }
state() {
	"${PSQL[@]}" -d "${DB:-postgres}" -Atc "DO \$t\$ BEGIN $1; RAISE EXCEPTION USING ERRCODE = '00000'; END \$t\$" 2>&1 |
		sed -n 's/.*ERROR:  *//p' | head -1
}
state() { # state SQL: SQLSTATE of SQL run directly, 'ok' when it passes (rolled back either way)
	"${PSQL[@]}" -d "${DB:-postgres}" -At -v VERBOSITY=verbose -c "BEGIN" -c "$1" -c "ROLLBACK" 2>&1 |
		sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -1 | sed 's/^$/ok/'
}
st() { local r; r=$(state "$1"); echo "${r:-ok}"; }
check "11 constraints, validated, after the migration and its re-run" test "$(nwall)" = 11
check "constraints are named per column" test "$(sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 'type_aware_by_oid'::regclass AND conname = 'pgseal_record_value_searchable' AND NOT connoinherit")" = 1
REC1="'\\x01'::bytea || '\\x00000001'::bytea || '\\x0102030405060708090a0b0c'::bytea"
REC2="'\\x02'::bytea || sha256('v'::bytea) || '\\x00000001'::bytea || '\\x0102030405060708090a0b0c'::bytea"
TAG="sha256('t'::bytea)" # 32 bytes: 16 of ciphertext, 16 of tag
check "plaintext text into a plain column: 23514" test "$(st "UPDATE type_aware_by_oid SET value_str = 'alice@example.com' WHERE id = 1")" = 23514
check "plaintext into a searchable column: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_searchable) VALUES (-1, convert_to('alice', 'UTF8'))")" = 23514
check "an empty bytea: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_bytes) VALUES (-1, ''::bytea)")" = 23514
check "a plain record: accepted" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, $REC1 || $TAG)")" = ok
check "a plain record with an empty value (33 bytes): accepted" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, $REC1 || substring($TAG FROM 1 FOR 16))")" = ok
check "a searchable record: accepted" test "$(st "INSERT INTO type_aware_by_oid (id, value_searchable) VALUES (-1, $REC2 || $TAG)")" = ok
check "a searchable record in a plain column: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, $REC2 || $TAG)")" = 23514
check "a plain record in a searchable column: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_searchable) VALUES (-1, $REC1 || $TAG || $TAG)")" = 23514
check "int4 column: record of 4 bytes of value accepted" test "$(st "INSERT INTO type_aware_by_oid (id, value_int32) VALUES (-1, $REC1 || '\\x00000001'::bytea || substring($TAG FROM 1 FOR 16))")" = ok
check "int4 column: record of 5 bytes of value refused" test "$(st "INSERT INTO type_aware_by_oid (id, value_int32) VALUES (-1, $REC1 || '\\x0000000001'::bytea || substring($TAG FROM 1 FOR 16))")" = 23514
check "key id 0: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, '\\x0100000000'::bytea || '\\x0102030405060708090a0b0c'::bytea || $TAG)")" = 23514
check "key id 2^24: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, '\\x0101000000'::bytea || '\\x0102030405060708090a0b0c'::bytea || $TAG)")" = 23514
check "key id 2^24-1: accepted" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, '\\x0100ffffff'::bytea || '\\x0102030405060708090a0b0c'::bytea || $TAG)")" = ok
check "a short record (32 bytes): 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, $REC1 || substring($TAG FROM 1 FOR 15))")" = 23514
check "format byte 0x03: 23514" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, '\\x0300000001'::bytea || '\\x0102030405060708090a0b0c'::bytea || $TAG)")" = 23514
check "NULL: accepted" test "$(st "INSERT INTO type_aware_by_oid (id, value_str) VALUES (-1, NULL)")" = ok

# an older deployment: constraints missing; --constraints-only adds them, validates, is idempotent
sql "ALTER TABLE type_aware_by_oid DROP CONSTRAINT pgseal_record_value_str, DROP CONSTRAINT pgseal_record_value_searchable;
     ALTER TABLE type_aware_by_name DROP CONSTRAINT pgseal_record_value_int32" >/dev/null
check "3 constraints dropped" test "$(nwall)" = 8
printf 'upstream: {host: h}\nencryptor_config_file: %s/acra_type_aware.yaml\n' "$FIX" >"$WORK/co.yaml"
"$PGSEAL" schema --config "$WORK/co.yaml" --constraints-only >"$WORK/co.sql"
check "--constraints-only: exit 0" test $? -eq 0
check "--constraints-only: no type change, no index" bash -c "! grep -Eq 'TYPE bytea|CREATE INDEX|LOCK TABLE' '$WORK/co.sql'"
for run in 1 2; do
	"${PSQL[@]}" -d s1 -f "$WORK/co.sql" >"$WORK/co$run.log" 2>&1
	check "--constraints-only run $run: exit 0" test $? -eq 0
	check "--constraints-only run $run: 11 validated constraints" test "$(nwall)" = 11
done
check "--constraints-only kept the rows" test "$(sql "SELECT count(*) FROM type_aware_by_oid WHERE value_searchable IS NOT NULL")" = 2000
check "--constraints-only: plaintext refused afterwards" test "$(st "UPDATE type_aware_by_oid SET value_str = 'x' WHERE id = 1")" = 23514
# a plaintext value written before the constraints existed: new writes are walled at once,
# the VALIDATE fails naming the constraint, and the value is not printed
sql "ALTER TABLE type_aware_by_oid DROP CONSTRAINT pgseal_record_value_str;
     UPDATE type_aware_by_oid SET value_str = 'plain-31337' WHERE id = 7" >/dev/null
"${PSQL[@]}" -d s1 -f "$WORK/co.sql" >"$WORK/co3.log" 2>&1
check "--constraints-only over a plaintext row: fails" test $? -ne 0
check "--constraints-only over a plaintext row: the constraint is named" grep -q 'check constraint "pgseal_record_value_str" of relation "type_aware_by_oid" is violated by some row' "$WORK/co3.log"
check "--constraints-only over a plaintext row: the value is not printed" bash -c "! grep -q 31337 '$WORK/co3.log'"
check "--constraints-only over a plaintext row: new writes are refused (NOT VALID)" test "$(st "UPDATE type_aware_by_oid SET value_str = 'y' WHERE id = 2")" = 23514
expr=$(sql "SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint WHERE conname = 'pgseal_record_value_str' AND conrelid = 'type_aware_by_oid'::regclass")
check "the row that fails is found with the constraint's expression (docs/schema.md)" test "$(sql "SELECT id FROM type_aware_by_oid WHERE NOT ($expr)")" = 7
sql "UPDATE type_aware_by_oid SET value_str = NULL WHERE id = 7" >/dev/null
"${PSQL[@]}" -d s1 -f "$WORK/co.sql" >"$WORK/co4.log" 2>&1
check "--constraints-only after the row is fixed: exit 0, all validated" test $? -eq 0 -a "$(nwall)" = 11

# ---- inherited children and partitions --------------------------------------------------------
sql "CREATE TABLE inh (id int, secret text, s text);
     CREATE TABLE inh_old (extra int) INHERITS (inh);
     CREATE TABLE part (id int, secret text, s text) PARTITION BY RANGE (id);
     CREATE TABLE part_1 PARTITION OF part FOR VALUES FROM (0) TO (100)" >/dev/null
printf 'schemas:\n  - table: inh\n    encrypted:\n      - column: secret\n      - column: s\n        searchable: true\n  - table: part\n    encrypted:\n      - column: secret\n      - column: s\n        searchable: true\n' >"$WORK/inh.yaml"
printf 'upstream: {host: h}\nencryptor_config_file: inh.yaml\n' >"$WORK/inhcfg.yaml"
"$PGSEAL" schema --config "$WORK/inhcfg.yaml" >"$WORK/inh.sql"
"${PSQL[@]}" -d s1 -f "$WORK/inh.sql" >"$WORK/inh.log" 2>&1
rc=$?
check "a parent with a child and a partitioned table migrate" test $rc -eq 0
[[ $rc -eq 0 ]] || tail -5 "$WORK/inh.log"
check "the child existing before has the constraints" test "$(nwall inh_old)" = 2
check "the existing partition has the constraints" test "$(nwall part_1)" = 2
sql "CREATE TABLE inh_new () INHERITS (inh); CREATE TABLE part_2 PARTITION OF part FOR VALUES FROM (100) TO (200)" >/dev/null
check "a child created afterwards inherits them" test "$(nwall inh_new)" = 2
check "a partition created afterwards inherits them" test "$(nwall part_2)" = 2
check "plaintext into a child created afterwards: 23514" test "$(st "INSERT INTO inh_new (id, secret) VALUES (1, 'plain')")" = 23514
check "plaintext into a partition, through the parent: 23514" test "$(st "INSERT INTO part (id, s) VALUES (150, 'plain')")" = 23514
check "a table without them cannot be attached" test "$(st "CREATE TABLE part_x (id int, secret bytea, s bytea); ALTER TABLE part ATTACH PARTITION part_x FOR VALUES FROM (200) TO (300)")" = 42804
"${PSQL[@]}" -d s1 -f "$WORK/inh.sql" >"$WORK/inh2.log" 2>&1
check "re-run with children: exit 0, constraints not duplicated" test $? -eq 0 -a "$(nwall inh_new)" = 2 -a "$(nwall part_2)" = 2

# a column still holding plaintext leaves its table unchanged; the other tables are migrated
# (per table since issue 11: one table no longer stops the others), and the report fails
sql "CREATE DATABASE s2" >/dev/null
export DB=s2
sql "CREATE TABLE type_aware_by_name (id int, value_str text, value_bytes bytea, value_int32 int,
       value_int64 bigint, value_null_str text, value_empty_str text);
     CREATE TABLE type_aware_by_oid (id int, value_str text, value_searchable text,
       value_bytes bytea, value_int32 int, value_int64 bigint);
     INSERT INTO type_aware_by_oid (id, value_int64) VALUES (1, 31337);" >/dev/null
"${PSQL[@]}" -d s2 -f "$WORK/acra_type_aware.sql" >"$WORK/run3.log" 2>&1
rc=$?
check "plaintext rows: the script fails (at the report)" test $rc -ne 0
check "plaintext rows: the report names the table" grep -q 'pgseal: table type_aware_by_oid: NOT ready: column ' "$WORK/run3.log"
check "plaintext rows: the error names the column" grep -q 'pgseal: column type_aware_by_oid.value_int64 holds bigint values that are not encrypted' "$WORK/run3.log"
check "plaintext rows: the value is untouched" test "$(sql "SELECT value_int64 FROM type_aware_by_oid")" = 31337
check "plaintext rows: nothing of that table changed" test "$(sql "SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'type_aware_by_oid'::regclass AND attname = 'value_str'")" = text
check "plaintext rows: the other table is migrated" test "$(sql "SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'type_aware_by_name'::regclass AND attname = 'value_str'")" = bytea
check "plaintext rows: the value is not in the error" bash -c "! grep -q 31337 '$WORK/run3.log'"

# a configured column that does not exist
sql "ALTER TABLE type_aware_by_oid DROP COLUMN value_int64" >/dev/null
"${PSQL[@]}" -d s2 -f "$WORK/acra_type_aware.sql" >"$WORK/run4.log" 2>&1
check "missing column: named in the error" grep -q 'pgseal: column type_aware_by_oid.value_int64 does not exist' "$WORK/run4.log"

# ---- quoting: every PostgreSQL keyword as a column name, mixed case, odd names -----------------
sql "CREATE DATABASE s3" >/dev/null
export DB=s3
mapfile -t kws < <(sql "SELECT word FROM pg_get_keywords() ORDER BY word")
cols=$(sql "SELECT string_agg(quote_ident(word) || ' text', ', ' ORDER BY word) FROM pg_get_keywords()")
sql "CREATE SCHEMA \"Sales\"; CREATE TABLE \"Sales\".\"Order Lines\" (id int, $cols, \"Unit Price\" numeric, \"o'k\\x\" int)" >/dev/null
{
	printf 'schemas:\n  - table: \x27"Sales"."Order Lines"\x27\n    encrypted:\n'
	# searchable for a few only: each ALTER ... TYPE rebuilds every index of the table
	for w in "${kws[@]}"; do
		printf '      - column: \x27%s\x27\n' "$w"
		case $w in select | order | user) printf '        searchable: true\n' ;; esac
	done
	printf '      - column: \x27"Unit Price"\x27\n        data_type: numeric\n'
	printf '      - column: \x27"o\x27\x27k\\x"\x27\n        data_type: int4\n        searchable: true\n'
} >"$WORK/kw.yaml"
printf 'upstream: {host: h}\nencryptor_config_file: kw.yaml\n' >"$WORK/kwcfg.yaml"
"$PGSEAL" schema --config "$WORK/kwcfg.yaml" >"$WORK/kw.sql" 2>"$WORK/kw.err"
check "keyword config loads" test $? -eq 0
"${PSQL[@]}" -d s3 -f "$WORK/kw.sql" >"$WORK/run5.log" 2>&1
rc=$?
check "keyword DDL runs (quote_ident parity)" test $rc -eq 0
[[ $rc -eq 0 ]] || tail -5 "$WORK/run5.log"
n=$((${#kws[@]} + 2))
check "all $n keyword/odd columns are bytea" test "$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid = '\"Sales\".\"Order Lines\"'::regclass AND atttypid = 'bytea'::regtype")" = "$n"
check "a record constraint per keyword/odd column" test "$(sql "SELECT count(*) FROM pg_constraint WHERE conrelid = '\"Sales\".\"Order Lines\"'::regclass AND conname LIKE 'pgseal\\_record\\_%' AND convalidated")" = "$n"
check "the 4 blind indexes exist" test "$(sql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'Sales' AND indexname LIKE '%pgseal_bidx'")" = 4
check "a keyword column in an index expression" test "$(sql "SELECT indexdef FROM pg_indexes WHERE indexname = 'Order Lines_select_pgseal_bidx'")" = 'CREATE INDEX "Order Lines_select_pgseal_bidx" ON "Sales"."Order Lines" USING btree (substr("select", 1, 33))'

# ---- column names that a PL/pgSQL variable of the migration could shadow ---------------------
sql "CREATE TABLE plvars (id int, num text, typ text, _pgseal_num text)" >/dev/null
printf 'schemas:\n  - table: plvars\n    encrypted:\n      - column: num\n        searchable: true\n      - column: typ\n      - column: _pgseal_num\n' >"$WORK/plv.yaml"
printf 'upstream: {host: h}\nencryptor_config_file: plv.yaml\n' >"$WORK/plvcfg.yaml"
"$PGSEAL" schema --config "$WORK/plvcfg.yaml" >"$WORK/plv.sql"
"${PSQL[@]}" -d s3 -f "$WORK/plv.sql" >"$WORK/run5b.log" 2>&1
rc=$?
check "columns named num, typ, _pgseal_num migrate" test $rc -eq 0
[[ $rc -eq 0 ]] || tail -5 "$WORK/run5b.log"
check "num, typ, _pgseal_num are bytea" test "$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'plvars'::regclass AND atttypid = 'bytea'::regtype")" = 3
sql "INSERT INTO plvars (id) VALUES (1); UPDATE plvars SET typ = NULL" >/dev/null
"${PSQL[@]}" -d s3 -f "$WORK/plv.sql" >"$WORK/run5c.log" 2>&1
check "re-running it on bytea columns succeeds" test $? -eq 0

# ---- the shipped example -------------------------------------------------------------------
printf 'upstream: {host: h}\nencryptor_config_file: %s/examples/encryptor_config.yaml\n' "$ROOT" >"$WORK/ex.yaml"
"$PGSEAL" schema --config "$WORK/ex.yaml" >"$WORK/ex.sql"
check "examples/encryptor_config.yaml loads" test $? -eq 0
export DB=postgres
sql "CREATE TABLE customers (id bigserial PRIMARY KEY, email text, full_name text, birthday date,
       balance numeric(12,2), notes text, created_at timestamptz DEFAULT now())" >/dev/null
"${PSQL[@]}" -d postgres -f "$WORK/ex.sql" >"$WORK/run6.log" 2>&1
check "the example's DDL runs" test $? -eq 0
check "the example: 5 bytea columns" test "$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'customers'::regclass AND atttypid = 'bytea'::regtype")" = 5

echo "test_ddl_pg: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
