# test_db_wall.py - the second wall: the record CHECK constraints of `pgseal schema` refuse plaintext on write paths pgseal never sees.
"""docs/schema.md "The wall". The tables are migrated by `pgseal schema` (enc_harness), which
adds a CHECK constraint pgseal_record_<column> per encrypted column. PostgreSQL must refuse
(SQLSTATE 23514) anything but a pgseal record of the column's kind and type:

* plaintext written directly (INSERT, UPDATE, COPY), through a PL/pgSQL function running
  dynamic SQL (`EXECUTE format(...)`, called directly and through pgseal, which cannot see
  into it), through a trigger on a plain table, through a view, into an inherited child
  and partitions created on the server after the migration (directly and through pgseal,
  which does not know them);
* malformed records: wrong format byte, too short, the other kind (searchable in a plain
  column and back), a length that no value of the declared type has, key ids 0 and 2^24;

while pgseal's own writes (every path, both kinds, after the constraints were replaced by a
re-run) pass and read back, and a record crafted to pass (the wall cannot check the tag)
still fails authentication on read. A refused value is never stored (pg_dump and table files
are scanned), though it did reach the server (it is in the statement log: the wall stops
storage, not sending).
"""

import io

import psycopg
import psycopg2
import pytest

from enc_harness import enc, enc_env, new_id  # noqa: F401 (enc is a fixture)
from leaks import Scan, marker

WALL_SCHEMA = """\
# written by tests/integration/test_db_wall.py
schemas:
  - table: wtab
    columns: [id, secret, s, n, note]
    encrypted:
      - {column: secret, data_type: text}
      - {column: s, data_type: text, searchable: true}
      - {column: n, data_type: int8}
  - table: wpar
    columns: [id, secret, s]
    encrypted:
      - {column: secret, data_type: text}
      - {column: s, data_type: text, searchable: true}
  - table: wpart
    columns: [id, secret, s]
    encrypted:
      - {column: secret, data_type: text}
      - {column: s, data_type: text, searchable: true}
"""

WALL_TABLES = """\
DROP TABLE IF EXISTS wtab, wpar CASCADE;
DROP TABLE IF EXISTS wpart, wlog;
CREATE TABLE wtab (id int8 PRIMARY KEY, secret text, s text, n int8, note text);
CREATE TABLE wpar (id int8, secret text, s text);
CREATE TABLE wpar_old (extra int) INHERITS (wpar);
CREATE TABLE wpart (id int8, secret text, s text) PARTITION BY RANGE (id);
CREATE TABLE wpart_1 PARTITION OF wpart FOR VALUES FROM (0) TO (1000000);
CREATE TABLE wlog (id int8, v text);
"""

# stored layout (DESIGN §5): header, 12 nonce bytes, ciphertext, 16 tag bytes
NONCE = bytes(range(12))
TAG = bytes(range(16, 32))


def plain_rec(value=b"v", key_id=1, fmt=1):
    return bytes([fmt]) + key_id.to_bytes(4, "big") + NONCE + value + TAG


def search_rec(value=b"v", key_id=1, fmt=2):
    return bytes([fmt]) + bytes(32) + key_id.to_bytes(4, "big") + NONCE + value + TAG


@pytest.fixture
def wall(factory, pg, workdir):
    return enc_env(factory, pg, workdir, name="wall", schema_yaml=WALL_SCHEMA, tables_sql=WALL_TABLES)


def sqlstate(exc):
    return getattr(exc, "pgcode", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)


def up_refused(env, sql, params=None, constraint=None):
    """Runs sql directly on PostgreSQL; it must fail with 23514 (naming the constraint)."""
    with pytest.raises(psycopg2.Error) as ei:
        env.up_rows(sql, params)
    assert sqlstate(ei.value) == "23514", "%s: %s" % (sql, ei.value)
    if constraint:
        assert constraint in str(ei.value), ei.value


def up_ok(env, sql, params=None):
    env.up_rows(sql, params)


def assert_not_stored(env, markers, sent=True, unsent=()):
    """The markers are in no table file and no dump. When they were sent (PostgreSQL refused
    them, not pgseal), the server log has them: the wall stops storage, not sending. Markers
    of `unsent` (refused by pgseal itself) are nowhere, the server log included."""
    markers = list(markers) + list(unsent)
    hits = Scan(env).found(markers)
    for place in ("pg_dump", "table files"):
        assert not hits.get(place), "a refused value was stored: %s %r" % (place, hits.get(place))
    want = sorted(m for m in markers if m not in unsent) if sent else []
    assert sorted(hits.get("server log", [])) == want, hits.get("server log")


def through_pgseal_refused(env, sql, params):
    """A write through pgseal into a child or partition made on the server: pgseal refuses it
    itself (0A000, nothing sent: it finds children in its catalog load) or forwards it and
    PostgreSQL's wall refuses it (23514). True when it was sent."""
    with env.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute(sql, params)
    code = sqlstate(ei.value)
    assert code in ("23514", "0A000"), ei.value
    return code == "23514"


def test_constraints_installed_by_pgseal_schema(wall, enc):
    """Every encrypted column of the test environments (this one and enc_harness's main one,
    which every encryption test writes through) carries its validated, inherited constraint."""
    assert "ADD CONSTRAINT pgseal_record_secret CHECK" in wall.ddl
    rows = wall.up_rows(
        "SELECT c.relname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE k.contype = 'c' AND k.conname LIKE 'pgseal\\_record\\_%%' AND k.convalidated AND NOT k.connoinherit")
    got = {(t, n) for t, n in rows}
    for t, cols in (("wtab", "secret s n"), ("wpar", "secret s"), ("wpar_old", "secret s"),
                    ("wpart", "secret s"), ("wpart_1", "secret s"), ("people", "email name phone"),
                    ("failing", "f_err f_ct f_def f_defint"), ("rest", "secret secret_s secret_n")):
        for c in cols.split():
            assert (t, "pgseal_record_" + c) in got, (t, c)
    assert sum(1 for t, _ in got if t == "typed") == 14


def test_pgseal_writes_pass(wall):
    """pgseal's own records pass the wall on every write path and read back."""
    ids = [new_id() for _ in range(5)]
    with wall.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO wtab (id, secret, s, n) VALUES (%s, %s, %s, %s)", (ids[0], "a", "b", 7))
        cur.execute("INSERT INTO wtab (id, secret, s, n) VALUES (%s, '', '', -9223372036854775808)", (ids[1],))
        cur.execute("UPDATE wtab SET secret = %s, n = 0 WHERE id = %s", ("changed", ids[1]))
        cur.copy_expert("COPY wtab (id, secret, s, n) FROM STDIN", io.StringIO("%d\tc\td\t42\n" % ids[2]))
        cur.execute("INSERT INTO wpar (id, secret, s) VALUES (%s, 'p', 'q')", (ids[3],))
        cur.execute("INSERT INTO wpart (id, secret, s) VALUES (%s, 'r', 'x')", (ids[4],))
    with wall.pg3() as conn, conn.cursor(binary=True) as cur:
        cur.execute("UPDATE wtab SET s = %s, n = %s WHERE id = %s", ("bin", 5, ids[2]))
    with wall.pg2() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, secret, s, n FROM wtab WHERE id = ANY(%s) ORDER BY id", (ids[:3],))
        assert cur.fetchall() == [(ids[0], "a", "b", 7), (ids[1], "changed", "", 0), (ids[2], "c", "bin", 5)]
        cur.execute("SELECT id FROM wtab WHERE s = %s", ("b",))
        assert cur.fetchall() == [(ids[0],)]
        cur.execute("SELECT secret, s FROM wpar WHERE id = %s", (ids[3],))
        assert cur.fetchall() == [("p", "q")]
        cur.execute("SELECT secret, s FROM wpart WHERE id = %s", (ids[4],))
        assert cur.fetchall() == [("r", "x")]
    # a re-run of the migration replaces the constraints and validates the stored records
    wall.upstream_script(wall.ddl)
    (n,), = wall.up_rows("SELECT count(*) FROM pg_constraint WHERE conrelid = 'wtab'::regclass "
                         "AND conname LIKE 'pgseal\\_record\\_%%' AND convalidated")
    assert n == 3


def test_plaintext_written_directly(wall):
    i = new_id()
    with wall.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO wtab (id, secret, s, n) VALUES (%s, 'kept', 'kept', 1)", (i,))
    before = wall.up_rows("SELECT secret, s, n FROM wtab WHERE id = %s", (i,))
    m = [marker("direct") for _ in range(6)]
    up_refused(wall, "INSERT INTO wtab (id, secret) VALUES (%s, %s)", (new_id(), m[0]), "pgseal_record_secret")
    up_refused(wall, "INSERT INTO wtab (id, s) VALUES (%s, convert_to(%s, 'UTF8'))", (new_id(), m[1]), "pgseal_record_s")
    up_refused(wall, "INSERT INTO wtab (id, n) VALUES (%s, int8send(31337))", (new_id(),), "pgseal_record_n")
    up_refused(wall, "UPDATE wtab SET secret = %s::text::bytea WHERE id = %s", (m[2], i), "pgseal_record_secret")
    up_refused(wall, "UPDATE wtab SET s = %s WHERE id = %s", (psycopg2.Binary(m[3].encode()), i))
    # COPY straight to PostgreSQL
    c = wall.up()
    try:
        with c.cursor() as cur, pytest.raises(psycopg2.Error) as ei:
            cur.copy_expert("COPY wtab (id, secret) FROM STDIN", io.StringIO("%d\t%s\n" % (new_id(), m[4])))
        assert sqlstate(ei.value) == "23514", ei.value
    finally:
        c.close()
    # a text value can never pass, even one shaped like a record: text holds no 0x00 byte,
    # and the key id's top byte is 0 (docs/schema.md)
    up_refused(wall, "INSERT INTO wtab (id, secret) VALUES (%s, %s::text::bytea)",
               (new_id(), "\x01\x01\x01\x01\x01" + m[5] + "x" * 40))
    assert wall.up_rows("SELECT secret, s, n FROM wtab WHERE id = %s", (i,)) == before
    assert_not_stored(wall, m)


def test_dynamic_sql_in_a_function(wall):
    """EXECUTE format(...) inside PL/pgSQL: pgseal forwards the call (it cannot see inside),
    PostgreSQL refuses the write."""
    wall.up_rows("""
        CREATE OR REPLACE FUNCTION wall_put(p_id int8, p_col text, p_val text) RETURNS void
        LANGUAGE plpgsql AS $f$
        BEGIN
            EXECUTE format('INSERT INTO wtab (id, %I) VALUES (%s, %L)', p_col, p_id, p_val);
        END $f$""")
    m = [marker("dyn") for _ in range(4)]
    for col, v in (("secret", m[0]), ("s", m[1])):
        up_refused(wall, "SELECT wall_put(%s, %s, %s)", (new_id(), col, v), "pgseal_record_" + col)
    for col, v in (("secret", m[2]), ("s", m[3])):
        i = new_id()
        with wall.pg2() as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute("SELECT wall_put(%s, %s, %s)", (i, col, v))
            assert sqlstate(ei.value) == "23514" and "pgseal_record_" + col in str(ei.value), ei.value
            cur.execute("SELECT 1")  # the session stays usable
            assert cur.fetchone() == (1,)
        assert wall.up_rows("SELECT count(*) FROM wtab WHERE id = %s", (i,)) == [(0,)]
    # an anonymous DO block sent directly
    with pytest.raises(psycopg2.Error) as ei:
        wall.up_rows("DO $d$ BEGIN EXECUTE format('INSERT INTO wtab (id, secret) VALUES (-1, %L)', 'x'); END $d$")
    assert sqlstate(ei.value) == "23514", ei.value
    assert_not_stored(wall, m)


def test_trigger_on_a_plain_table(wall):
    """A trigger copying a plain column into an encrypted one: the INSERT into the plain table
    goes through pgseal untouched, the trigger's write is refused. (BEFORE INSERT, so that the
    plain table's own row is not written either: with AFTER its aborted tuple would hold the
    value in wlog's file, legitimately - wlog.v is a plain column.)"""
    wall.up_rows("""
        CREATE OR REPLACE FUNCTION wall_copy() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            INSERT INTO wtab (id, secret) VALUES (NEW.id, convert_to(NEW.v, 'UTF8'));
            RETURN NEW;
        END $f$;
        DROP TRIGGER IF EXISTS wall_copy ON wlog;
        CREATE TRIGGER wall_copy BEFORE INSERT ON wlog FOR EACH ROW EXECUTE FUNCTION wall_copy();""")
    m = marker("trig")
    i = new_id()
    with wall.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("INSERT INTO wlog (id, v) VALUES (%s, %s)", (i, m))
        assert sqlstate(ei.value) == "23514" and "pgseal_record_secret" in str(ei.value), ei.value
    assert wall.up_rows("SELECT count(*) FROM wlog WHERE id = %s", (i,)) == [(0,)]
    # the trigger in a session straight to PostgreSQL, too
    up_refused(wall, "INSERT INTO wlog (id, v) VALUES (%s, 'another')", (new_id(),), "pgseal_record_secret")
    assert_not_stored(wall, [m])


def test_view_created_on_the_server(wall):
    """An updatable view made behind pgseal's back: PostgreSQL rewrites a write through it into
    a write of wtab and refuses it. (pgseal reads views from the catalog and refuses the write
    through it itself, 0A000, sending nothing; a session straight to PostgreSQL meets the wall.)"""
    wall.up_rows("DROP VIEW IF EXISTS wview; CREATE VIEW wview AS SELECT id, secret AS hidden FROM wtab")
    m = marker("view")
    with wall.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("INSERT INTO wview (id, hidden) VALUES (%s, %s)", (new_id(), m))
        code = sqlstate(ei.value)
        assert code in ("23514", "0A000"), ei.value
    m2 = marker("view")
    up_refused(wall, "INSERT INTO wview (id, hidden) VALUES (%s, %s)", (new_id(), m2), "pgseal_record_secret")
    wall.up_rows("DROP VIEW wview")
    assert_not_stored(wall, [m], sent=code == "23514")
    assert_not_stored(wall, [m2])


def test_inherited_child_created_on_the_server(wall):
    """A child made behind pgseal's back inherits the constraints; pgseal does not know the
    child, so it forwards a plaintext INSERT into it: PostgreSQL refuses it."""
    wall.up_rows("DROP TABLE IF EXISTS wpar_new; CREATE TABLE wpar_new (note text) INHERITS (wpar)")
    m = [marker("child") for _ in range(3)]
    up_refused(wall, "INSERT INTO wpar_new (id, secret) VALUES (1, %s)", (m[0],), "pgseal_record_secret")
    up_refused(wall, "INSERT INTO wpar_old (id, s) VALUES (1, %s)", (m[1],), "pgseal_record_s")
    sent = through_pgseal_refused(wall, "INSERT INTO wpar_new (id, secret, note) VALUES (1, %s, 'n')", (m[2],))
    # and a record pgseal wrote through the parent still passes when copied to the child
    i = new_id()
    with wall.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO wpar (id, secret, s) VALUES (%s, 'x', 'y')", (i,))
    up_ok(wall, "INSERT INTO wpar_new (id, secret, s) SELECT id + 1, secret, s FROM ONLY wpar WHERE id = %s", (i,))
    # the child's inherited constraint cannot be dropped on its own
    with pytest.raises(psycopg2.Error) as ei:
        wall.up_rows("ALTER TABLE wpar_new DROP CONSTRAINT pgseal_record_secret")
    assert "inherited" in str(ei.value)
    assert_not_stored(wall, m[:2] + (m[2:] if sent else []), unsent=[] if sent else m[2:])


def test_partitions(wall):
    """Partitions existing at the migration and created after it, and ATTACH."""
    wall.up_rows("DROP TABLE IF EXISTS wpart_2, wpart_3, wpart_4;"
                 "CREATE TABLE wpart_2 PARTITION OF wpart FOR VALUES FROM (1000000) TO (2000000)")
    m = [marker("part") for _ in range(5)]
    up_refused(wall, "INSERT INTO wpart (id, secret) VALUES (5, %s)", (m[0],), "pgseal_record_secret")
    up_refused(wall, "INSERT INTO wpart_1 (id, s) VALUES (6, %s)", (m[1],), "pgseal_record_s")
    up_refused(wall, "INSERT INTO wpart (id, s) VALUES (1000005, %s)", (m[2],), "pgseal_record_s")
    sent = through_pgseal_refused(wall, "INSERT INTO wpart_2 (id, secret) VALUES (1000006, %s)", (m[3],))
    # a table without the constraints cannot become a partition
    with pytest.raises(psycopg2.Error) as ei:
        wall.up_rows("CREATE TABLE wpart_3 (id int8, secret bytea, s bytea);"
                     "ALTER TABLE wpart ATTACH PARTITION wpart_3 FOR VALUES FROM (2000000) TO (3000000)")
    assert "missing constraint" in str(ei.value), ei.value
    # one that has them can, and they hold there
    wall.up_rows("CREATE TABLE wpart_4 (LIKE wpart INCLUDING CONSTRAINTS);"
                 "ALTER TABLE wpart ATTACH PARTITION wpart_4 FOR VALUES FROM (3000000) TO (4000000)")
    up_refused(wall, "INSERT INTO wpart (id, secret) VALUES (3000001, %s)", (m[4],), "pgseal_record_secret")
    up_ok(wall, "INSERT INTO wpart (id, secret, s) VALUES (3000002, %s, %s)",
          (psycopg2.Binary(plain_rec()), psycopg2.Binary(search_rec())))
    assert_not_stored(wall, [x for x in m if sent or x != m[3]], unsent=[] if sent else [m[3]])


@pytest.mark.parametrize("col,value", [
    ("secret", plain_rec(fmt=3)),                       # unknown format byte
    ("secret", plain_rec(fmt=0)),
    ("s", search_rec(fmt=3)),
    ("secret", plain_rec()[:32]),                       # shorter than a record of an empty value
    ("s", search_rec(b"")[:64]),
    ("secret", b""),
    ("secret", search_rec()),                           # searchable record in a plain column
    ("s", plain_rec(b"x" * 40)),                        # plain record in a searchable column
    ("secret", plain_rec(key_id=0)),                    # key ids out of 1 .. 2^24-1
    ("secret", plain_rec(key_id=1 << 24)),
    ("secret", plain_rec(key_id=0xFFFFFFFF)),
    ("s", search_rec(key_id=0)),
    ("s", search_rec(key_id=0x01000001)),
    ("n", plain_rec(bytes(7))),                         # int8: exactly 8 bytes of value
    ("n", plain_rec(bytes(9))),
], ids=["fmt3", "fmt0", "s-fmt3", "short", "s-short", "empty", "search-in-plain", "plain-in-search",
        "kid0", "kid2^24", "kidmax", "s-kid0", "s-kid2^24+1", "int8-7", "int8-9"])
def test_malformed_records_refused(wall, col, value):
    up_refused(wall, "INSERT INTO wtab (id, %s) VALUES (%%s, %%s)" % col, (new_id(), psycopg2.Binary(value)),
               "pgseal_record_" + col)


def test_records_that_pass_but_do_not_authenticate(wall):
    """The wall checks the shape only: a crafted record within the rules is stored, and pgseal
    refuses to decrypt it (XX001), as it refuses a flipped tag or another key id in range."""
    i = new_id()
    with wall.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO wtab (id, secret, s, n) VALUES (%s, 'real', 'real', 1)", (i,))
    (rec,), = wall.up_rows("SELECT secret FROM wtab WHERE id = %s", (i,))
    rec = bytes(rec)
    assert rec[0] == 1 and rec[1:5] == b"\0\0\0\x01", rec[:5].hex()
    flipped = rec[:-1] + bytes([rec[-1] ^ 1])
    other_key = rec[:1] + (0x00FFFFFF).to_bytes(4, "big") + rec[5:]
    for bad in (flipped, other_key, plain_rec(bytes(20), key_id=0x00FFFFFF)):
        up_ok(wall, "UPDATE wtab SET secret = %s WHERE id = %s", (psycopg2.Binary(bad), i))
        with wall.pg3() as conn, conn.cursor() as cur:
            with pytest.raises(psycopg.Error) as ei:
                cur.execute("SELECT secret FROM wtab WHERE id = %s", (i,))
            assert ei.value.sqlstate == "XX001", ei.value
            cur.execute("SELECT n FROM wtab WHERE id = %s", (i,))
            assert cur.fetchone() == (1,)
    wall.up_rows("DELETE FROM wtab WHERE id = %s", (i,))
