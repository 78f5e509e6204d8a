# test_encryption_views.py - views over encrypted tables (reads decrypted, searches rewritten, writes refused) and DDL that would store plaintext in the catalog (refused, nothing sent).
import io
import struct

import psycopg
import psycopg2
import pytest

from harness import Raw, msg
from enc_harness import canary, check_reads, enc_env, guarded, new_id, number_canary, refused, server_log

SCHEMA = """\
schemas:
  - table: vt
    columns: [id, email, name, note]
    encrypted:
      - column: email
        data_type: str
        searchable: true
      - column: name
        data_type: text
  - table: dt
    columns: [id, secret, amount, note]
    encrypted:
      - column: secret
        data_type: text
        searchable: true
      - column: amount
        data_type: int8
"""

TABLES = """\
DROP TABLE IF EXISTS vt, dt CASCADE;
CREATE TABLE vt (id int8 PRIMARY KEY, email text, name text, note text);
CREATE TABLE dt (id int8 PRIMARY KEY, secret text, amount int8, note text);
"""

# created upstream once the columns are bytea (a view would block the migration)
VIEWS = """\
CREATE VIEW v_all AS SELECT * FROM vt;
CREATE VIEW v_some AS SELECT id, email AS mail FROM vt WHERE note IS DISTINCT FROM 'hidden';
CREATE VIEW v_nested AS SELECT mail, id FROM v_some;
CREATE VIEW v_plain AS SELECT id, note FROM vt;
CREATE VIEW v_union AS SELECT email AS x FROM vt UNION ALL SELECT name FROM vt;
CREATE VIEW v_sub AS SELECT id, (SELECT name FROM vt t2 WHERE t2.id = t.id) AS nm FROM vt t;
CREATE MATERIALIZED VIEW mv AS SELECT id, email FROM vt;
"""


@pytest.fixture
def venv(factory, pg, workdir):
    if not getattr(venv, "ready", False):
        e = enc_env(factory, pg, workdir, name="views", schema_yaml=SCHEMA, tables_sql=TABLES)
        e.upstream_script(VIEWS)
        venv.ready = True
    return enc_env(factory, pg, workdir, name="views")


def table_state(env):
    return env.up_rows("SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM dt t), "
                       "(SELECT string_agg(attname || '=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), ',' "
                       "ORDER BY attnum) FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
                       "AND d.adnum = a.attnum WHERE a.attrelid = 'dt'::regclass AND a.attnum > 0), "
                       "(SELECT count(*) FROM pg_constraint WHERE conrelid = 'dt'::regclass)")[0]


@pytest.fixture
def guard(venv):
    """Tables, defaults and constraints unchanged; no value of a refused statement in PostgreSQL's log."""
    values = yield from guarded(venv, table_state)
    for v in values:
        # other tests add rows to vt: no row may hold the value, in any column, in plaintext
        (n,), = venv.up_rows("SELECT count(*) FROM vt WHERE position(convert_to(%s, 'UTF8') IN "
                             "coalesce(email, '') || coalesce(name, '') || convert_to(coalesce(note, ''), 'UTF8')) > 0",
                             (v,))
        assert n == 0, "a refused value was stored in plaintext"


def insert_row(env, note="plain"):
    i, e, n = new_id(), canary("vw"), canary("vw")
    with env.pg2() as c, c.cursor() as cur:
        cur.execute("INSERT INTO vt (id, email, name, note) VALUES (%s, %s, %s, %s)", (i, e, n, note))
    return i, e, n


# ---- DDL -----------------------------------------------------------------------------------

DDL_REFUSED = [
    ("ALTER TABLE dt ALTER COLUMN secret SET DEFAULT '{c}'", "dt.secret"),
    ("ALTER TABLE dt ALTER COLUMN amount SET DEFAULT {n}", "dt.amount"),
    ("ALTER TABLE dt ALTER COLUMN secret SET DEFAULT '{c}'::bytea", "dt.secret"),
    ("ALTER TABLE dt ADD CONSTRAINT c_{n} CHECK (secret LIKE '{c}%')", "dt.secret"),
    ("ALTER TABLE dt ADD CHECK (amount > {n})", "dt.amount"),
    ("ALTER TABLE dt ADD COLUMN extra text CHECK (extra <> '{c}' OR secret IS NULL OR length(secret) > 0)",
     "dt.secret"),
    ("ALTER TABLE dt ADD COLUMN g text GENERATED ALWAYS AS (note || secret || '{c}') STORED", "dt.secret"),
    ("ALTER TABLE dt ALTER COLUMN secret TYPE bytea USING '{c}'::bytea", "dt.secret"),
    ("ALTER TABLE dt ALTER COLUMN amount ADD GENERATED ALWAYS AS IDENTITY (START {n})", "dt.amount"),
    ("ALTER TABLE dt ALTER COLUMN note SET DEFAULT 'ok', ALTER COLUMN secret SET DEFAULT '{c}'", "dt.secret"),
]


@pytest.mark.parametrize("sql,col", DDL_REFUSED, ids=[s[:50] for s, _ in DDL_REFUSED])
def test_ddl_refused(venv, guard, sql, col):
    c, n = canary("ddl"), number_canary()
    guard += [c, n]
    with venv.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute(sql.format(c=c, n=n))
        refused(ei.value, col)
        cur.execute("SELECT 1")
    with venv.pg3() as conn, conn.cursor() as cur:  # extended protocol
        with pytest.raises(psycopg.Error) as ei:
            cur.execute(sql.format(c=c, n=n))
        refused(ei.value, col)


def test_create_table_refused(venv, guard):
    """CREATE TABLE of a configured table (dropped and recreated by a migration) with plaintext in its catalog."""
    c = canary("ddlc")
    guard.append(c)
    cases = [
        "CREATE TABLE IF NOT EXISTS dt (id int8, secret bytea DEFAULT '%s')" % c,
        "CREATE TABLE IF NOT EXISTS dt (id int8, secret bytea, CHECK (secret <> '%s' AND length(secret) > 1))" % c,
        "CREATE TABLE IF NOT EXISTS dt (id int8, amount int8 GENERATED ALWAYS AS (id + 1) STORED)",
        "CREATE TABLE IF NOT EXISTS dt (id int8, amount bigserial)",
        "CREATE TABLE IF NOT EXISTS dt AS SELECT 1 AS id, '%s' AS secret" % c,
        "SELECT 1 AS id, '%s'::text AS secret INTO dt" % c,
    ]
    with venv.pg2() as conn, conn.cursor() as cur:
        for sql in cases:
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute(sql)
            refused(ei.value, "dt.")


def test_ddl_allowed(venv):
    """DEFAULT NULL, CHECK with = / IS NULL on an encrypted column (rewritten to the blind index)."""
    with venv.pg2() as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE dt ALTER COLUMN secret SET DEFAULT NULL")
        cur.execute("ALTER TABLE dt ALTER COLUMN note SET DEFAULT 'n/a'")
        banned = canary("ban")
        cur.execute("ALTER TABLE dt ADD CONSTRAINT dt_not_banned CHECK (secret <> '%s')" % banned)
        try:
            i = new_id()
            cur.execute("INSERT INTO dt (id, secret) VALUES (%s, 'fine')", (i,))
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute("INSERT INTO dt (id, secret) VALUES (%s, %s)", (new_id(), banned))
            assert ei.value.pgcode == "23514", ei.value  # check_violation: the blind index matched
            cur.execute("SELECT secret, note FROM dt WHERE id = %s", (i,))
            assert cur.fetchall() == [("fine", "n/a")]
        finally:
            cur.execute("ALTER TABLE dt DROP CONSTRAINT dt_not_banned")
            cur.execute("ALTER TABLE dt ALTER COLUMN note DROP DEFAULT")
    assert banned not in server_log(venv)


# ---- views ---------------------------------------------------------------------------------

def test_view_reads(venv):
    i, e, n = insert_row(venv)
    cases = [
        ("SELECT * FROM v_all WHERE id = %(i)s", [(i, e, n, "plain")], [20, 25, 25, 25]),
        ("SELECT id FROM v_all WHERE email = %(e)s", [(i,)], [20]),
        ("SELECT mail FROM v_some WHERE id = %(i)s", [(e,)], [25]),
        ("SELECT id, mail FROM v_nested WHERE mail = %(e)s", [(i, e)], [20, 25]),
        ("SELECT nm FROM v_sub WHERE id = %(i)s", [(n,)], [25]),
        ("SELECT * FROM v_plain WHERE id = %(i)s", [(i, "plain")], [20, 25]),
        ("SELECT a.name, s.mail FROM v_all a JOIN v_some s ON s.id = a.id WHERE a.id = %(i)s", [(n, e)], [25, 25]),
        ("SELECT (SELECT mail FROM v_nested WHERE id = %(i)s)", [(e,)], [25]),
        ("SELECT x.m FROM (SELECT mail AS m FROM v_some WHERE id = %(i)s) x", [(e,)], [25]),
    ]
    check_reads(venv, cases, {"i": i, "e": e}, pg2_types=False)
    with venv.pg2() as conn, conn.cursor() as cur:
        cur.execute("REFRESH MATERIALIZED VIEW mv")
        cur.execute("SELECT email FROM mv WHERE id = %s", (i,))
        assert cur.fetchall() == [(e,)]
        cur.execute("SELECT id FROM mv WHERE email = %s", (e,))
        assert cur.fetchall() == [(i,)]
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, mail FROM v_some WHERE id = %d) TO STDOUT" % i, out)
        assert out.getvalue() == "%d\t%s\n" % (i, e)
        # a column mixing two encrypted columns: never plaintext, never searchable
        cur.execute("SELECT x FROM v_union LIMIT 1")
        assert all(e not in str(r[0]) for r in cur.fetchall())
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT 1 FROM v_union WHERE x = %s", (e,))
        assert ei.value.pgcode == "0A000"
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT id FROM v_all WHERE email LIKE %s", (e,))
        refused(ei.value, "vt.email")
    assert e not in server_log(venv) and n not in server_log(venv)


def test_view_writes_refused(venv, guard):
    c = canary("vwr")
    guard.append(c)
    j = new_id()
    cases = [
        ("INSERT INTO v_all (id, email) VALUES (%d, '%s')" % (j, c), "vt.email"),
        ("INSERT INTO v_all (id, note) VALUES (%d, '%s')" % (j, c), "v_all"),
        ("INSERT INTO v_all VALUES (%d, '%s', '%s', 'n')" % (j, c, c), "v_all"),
        ("UPDATE v_all SET name = '%s' WHERE id = %d" % (c, j), "v_all"),
        ("UPDATE v_some SET mail = '%s'" % c, "v_some"),
        ("INSERT INTO v_nested (id, mail) VALUES (%d, '%s')" % (j, c), "v_nested"),
        ("INSERT INTO public.v_some (id, mail) VALUES (%d, '%s') ON CONFLICT DO NOTHING" % (j, c), "v_some"),
        ("WITH w AS (INSERT INTO v_all (id, email) VALUES (%d, '%s') RETURNING id) SELECT * FROM w" % (j, c), "v_all"),
    ]
    with venv.pg2() as conn, conn.cursor() as cur:
        for sql, name in cases:
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute(sql)
            refused(ei.value, name)
            assert c not in str(ei.value)
        with pytest.raises(psycopg2.Error) as ei:
            cur.copy_expert("COPY v_all (id, email) FROM STDIN", io.StringIO("%d\t%s\n" % (j, c)))
        refused(ei.value, "v_all")
        cur.execute("SELECT 1")
    with venv.pg3() as conn:
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                with pytest.raises(psycopg.Error) as ei:
                    cur.execute("INSERT INTO v_all (id, email) VALUES (%s, %s)", (j, c))
                refused(ei.value, "v_all")
                with pytest.raises(psycopg.Error) as ei:
                    cur.execute("UPDATE v_nested SET mail = %s WHERE id = %s", (c, j))
                refused(ei.value, "v_nested")


def test_view_plain_writes_and_deletes(venv):
    """Writes through a view carrying no encrypted column pass; DELETE through any view is searched."""
    i = new_id()
    with venv.pg3() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO v_plain (id, note) VALUES (%s, 'via view')", (i,))
        cur.execute("UPDATE v_plain SET note = 'via view 2' WHERE id = %s", (i,))
        cur.execute("SELECT id, email, note FROM vt WHERE id = %s", (i,))
        assert cur.fetchall() == [(i, None, "via view 2")]
    j, e, n = insert_row(venv)
    with venv.pg2() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM v_all WHERE email = %s RETURNING id, email, name", (e,))
        assert cur.fetchall() == [(j, e, n)]
        cur.execute("DELETE FROM v_plain WHERE id = %s", (i,))
        cur.execute("SELECT count(*) FROM vt WHERE id IN (%s, %s)", (i, j))
        assert cur.fetchone() == (0,)


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg3"])
def test_view_created_through_pgseal(venv, guard, driver):
    """A view defined in the session is known to the very next statement."""
    c = canary("vnew")
    guard.append(c)
    i, e, n = insert_row(venv)
    v = "v_new_" + driver
    if driver == "psycopg2":
        conn, err = venv.pg2(), psycopg2.Error
    else:
        conn, err = venv.pg3(), psycopg.Error
    try:
        cur = conn.cursor()
        cur.execute("CREATE VIEW %s AS SELECT id, email FROM vt" % v)
        cur.execute("SELECT email FROM %s WHERE id = %%s" % v, (i,))
        assert cur.fetchall() == [(e,)]
        cur.execute("SELECT id FROM %s WHERE email = %%s" % v, (e,))
        assert cur.fetchall() == [(i,)]
        with pytest.raises(err) as ei:
            cur.execute("INSERT INTO %s (id, email) VALUES (%d, '%s')" % (v, new_id(), c))
        refused(ei.value, v)
        cur.execute("CREATE OR REPLACE VIEW %s AS SELECT id, email, name FROM vt" % v)
        cur.execute("SELECT name FROM %s WHERE id = %%s" % v, (i,))
        assert cur.fetchall() == [(n,)]
        cur.execute("ALTER VIEW %s RENAME TO %s_r" % (v, v))
        with pytest.raises(err) as ei:
            cur.execute("UPDATE %s_r SET name = '%s'" % (v, c))
        refused(ei.value, v + "_r")
        cur.execute("SELECT name FROM %s_r WHERE id = %%s" % v, (i,))
        assert cur.fetchall() == [(n,)]
        cur.execute("DROP VIEW %s_r" % v)
    finally:
        conn.close()


def test_view_definition_and_write_in_one_text_refused(venv, guard):
    c = canary("vone")
    guard.append(c)
    with venv.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("CREATE VIEW v_one AS SELECT id, email FROM vt; INSERT INTO v_one VALUES (%d, '%s')"
                        % (new_id(), c))
        refused(ei.value, "v_one")
    assert not venv.up_rows("SELECT 1 FROM pg_class WHERE relname = 'v_one'")


def test_view_defined_in_pipeline_refused_until_loaded(venv, guard):
    """Extended protocol, one batch: a statement naming the view defined earlier in the batch is refused."""
    c = canary("vpl")
    guard.append(c)

    def P(q):
        return msg(b"P", b"\0" + q.encode() + b"\0" + struct.pack("!H", 0))
    B = msg(b"B", b"\0\0" + struct.pack("!HHH", 0, 0, 0))
    E, S = msg(b"E", b"\0" + struct.pack("!I", 0)), msg(b"S")
    with Raw("127.0.0.1", venv.proxy.port, timeout=10) as r:
        r.startup_trust()
        r.send(P("CREATE VIEW v_pipe AS SELECT id, email FROM vt") + B + E +
               P("INSERT INTO v_pipe (id, email) VALUES (%d, '%s')" % (new_id(), c)) + B + E + S)
        got = r.read_until({b"Z"})
        tags = [m[0] for m in got]
        assert tags[:3] == [b"1", b"2", b"C"] and b"E" in tags, tags
        err = [m[1] for m in got if m[0] == b"E"][0]
        assert b"0A000" in err and b"v_pipe" in err, err
        # the refusal failed the batch: its implicit transaction, CREATE VIEW included, is rolled back
        rows, err = r.query("SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'v_pipe'")
        assert rows == [["0"]] and err is None, (rows, err)


def test_view_of_another_session(venv, guard):
    """A view defined through pgseal by another session is known before this session can write through it."""
    c = canary("vses")
    guard.append(c)
    i, e, n = insert_row(venv)
    a = venv.pg2()
    try:
        ca = a.cursor()
        ca.execute("SELECT 1")  # session established, its catalog loaded
        with venv.pg2() as b, b.cursor() as cb:
            cb.execute("CREATE VIEW v_other AS SELECT id, email FROM vt")
        with pytest.raises(psycopg2.Error) as ei:
            ca.execute("INSERT INTO v_other (id, email) VALUES (%d, '%s')" % (new_id(), c))
        refused(ei.value, "v_other")
        ca.execute("SELECT email FROM v_other WHERE id = %s", (i,))
        assert ca.fetchall() == [(e,)]
        with pytest.raises(psycopg2.Error) as ei:
            ca.execute("INSERT INTO v_other (id, email) VALUES (%d, '%s')" % (new_id(), c))
        refused(ei.value, "v_other")
    finally:
        a.close()
        venv.up_rows("DROP VIEW IF EXISTS v_other")


def test_view_with_search_created_through_pgseal(venv):
    """CREATE VIEW ... WHERE email = 'x' through pgseal stores a blind search; the view still maps its columns."""
    i, e, n = insert_row(venv)
    with venv.pg3() as conn, conn.cursor() as cur:
        cur.execute("CREATE VIEW v_filt AS SELECT id, email, name FROM vt WHERE email IN ('%s', 'other') "
                    "AND email <> 'nobody'" % e)
        try:
            for binary in (False, True):
                with conn.cursor(binary=binary) as c2:
                    c2.execute("SELECT id, email, name FROM v_filt")
                    assert c2.fetchall() == [(i, e, n)]
                    c2.execute("SELECT name FROM v_filt WHERE email = %s", (e,))
                    assert c2.fetchall() == [(n,)]
            # the stored definition holds the blind index, not the value
            (d,), = venv.up_rows("SELECT pg_get_viewdef('v_filt'::regclass)")
            assert e not in d and "substr" in d, d
        finally:
            cur.execute("DROP VIEW v_filt")


def test_view_of_another_session_inside_a_transaction(venv, guard):
    """A session whose transaction snapshot predates another session's view keeps refusing texts naming it."""
    c = canary("vrr")
    guard.append(c)
    a = venv.pg2(autocommit=False)
    try:
        ca = a.cursor()
        ca.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        ca.execute("SELECT count(*) FROM vt")  # the snapshot is taken
        with venv.pg2() as b, b.cursor() as cb:
            cb.execute("CREATE VIEW v_rr AS SELECT id, email FROM vt")
        # this statement makes the session reload its catalog, inside the transaction: the
        # snapshot predates the view, so the view stays pending
        ca.execute("SELECT 2")
        with pytest.raises(psycopg2.Error) as ei:
            ca.execute("INSERT INTO v_rr (id, email) VALUES (%d, '%s')" % (new_id(), c))
        refused(ei.value, "v_rr")
        a.rollback()
        a.autocommit = True
        ca.execute("SELECT 1")  # outside a transaction: the reload sees the view
        with pytest.raises(psycopg2.Error) as ei:
            ca.execute("INSERT INTO v_rr (id, email) VALUES (%d, '%s')" % (new_id(), c))
        refused(ei.value, "v_rr")
    finally:
        a.close()
        venv.up_rows("DROP VIEW IF EXISTS v_rr")
