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

# a column still holding plaintext stops everything; nothing changes
sql "CREATE DATABASE s2" >/dev/null
export DB=s2
sql "CREATE TABLE type_aware_by_name (id int, value_str text, value_bytes bytea, value_int32 int,
       value_int64 bigint, value_null_str text, value_empty_str text);
     CREATE TABLE type_aware_by_oid (id int, value_str text, value_searchable text,
       value_bytes bytea, value_int32 int, value_int64 bigint);
     INSERT INTO type_aware_by_oid (id, value_int64) VALUES (1, 31337);" >/dev/null
"${PSQL[@]}" -d s2 -f "$WORK/acra_type_aware.sql" >"$WORK/run3.log" 2>&1
rc=$?
check "plaintext rows: the migration fails" test $rc -ne 0
check "plaintext rows: the error names the column" grep -q 'pgseal: column type_aware_by_oid.value_int64 holds bigint values that are not encrypted' "$WORK/run3.log"
check "plaintext rows: the value is untouched" test "$(sql "SELECT value_int64 FROM type_aware_by_oid")" = 31337
check "plaintext rows: nothing else changed (atomic)" test "$(sql "SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'type_aware_by_name'::regclass AND attname = 'value_str'")" = text
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
