# test_failclosed_ddl.py - no new path into an encrypted table (inheritance, partitions, foreign tables), renames and moves refresh the session's picture of views, and what PostgreSQL would reject (after logging it) is refused: each class through psycopg2, psycopg 3 and psql, every marker scanned for in the server log, pg_dump, the table files and pgseal's log.
import io
import struct
import types

import psycopg
import psycopg2
import pytest

import harness
import leaks
from harness import Raw, msg
from enc_harness import enc_env, new_id, refused

SCHEMA = """\
schemas:
  - table: fd
    columns: [id, email, name, note]
    encrypted:
      - column: email
        data_type: str
        searchable: true
      - column: name
        data_type: text
  - table: fdsch.fq
    columns: [id, secret]
    encrypted:
      - column: secret
        data_type: text
"""

TABLES = """\
DROP SCHEMA IF EXISTS fdsch CASCADE;
DROP TABLE IF EXISTS fd, fd_other, fd_parted CASCADE;
CREATE SCHEMA fdsch;
CREATE TABLE fd (id int8 PRIMARY KEY, email text, name text, note text);
CREATE TABLE fdsch.fq (id int8 PRIMARY KEY, secret text);
CREATE TABLE fd_other (id int8, email bytea, name bytea, note text);
CREATE TABLE fd_parted (id int8, note text) PARTITION BY LIST (id);
"""


@pytest.fixture
def fenv(factory, pg, workdir):
    # renaming a schema needs CREATE on the database; the tests create and rename schemas
    leaks.Scan(types.SimpleNamespace(pg=pg)).su_rows("GRANT CREATE ON DATABASE %s TO trust_user" % harness.DB)
    return enc_env(factory, pg, workdir, name="fcddl", schema_yaml=SCHEMA, tables_sql=TABLES)


def drivers(env):
    """(name, run) for each client: run(sql, params=None) executes one statement, returns rows
    or raises the driver's error; psql's error is an AssertionError carrying its stderr."""
    def pg2(sql, params=None):
        with env.pg2() as c, c.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def pg3(sql, params=None):
        with env.pg3() as c, c.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def psql(sql, params=None):
        assert params is None
        rc, out, err = env.psql(sql, check=False, extra=("-v", "VERBOSITY=verbose"))
        if rc != 0:
            raise AssertionError(err)
        return [tuple(l.split("|")) for l in out.splitlines() if l]
    return [("psycopg2", pg2), ("psycopg3", pg3), ("psql", psql)]


def expect_refused(run, sql, name, params=None):
    with pytest.raises((psycopg2.Error, psycopg.Error, AssertionError)) as ei:
        run(sql, params)
    if isinstance(ei.value, AssertionError):
        msg = str(ei.value)
        assert "0A000" in msg and name in msg, msg
    else:
        refused(ei.value, name)


def up_exists(env, rel):
    return bool(env.up_rows("SELECT 1 FROM pg_class WHERE relname = %s", (rel,)))


# ---- 4. no new path into an encrypted table -----------------------------------------------------

PATHS = [
    "CREATE TABLE {t} () INHERITS (fd) /* {m} */",
    "CREATE TABLE {t} (note text DEFAULT '{m}') INHERITS (fd_other, fd)",
    "CREATE TABLE {t} PARTITION OF fd FOR VALUES IN ({n}) /* {m} */",
    "CREATE TABLE IF NOT EXISTS fd (id int8, email bytea) PARTITION BY LIST (id) /* {m} */",
    "CREATE TABLE IF NOT EXISTS fd PARTITION OF fd_parted FOR VALUES IN ({n}) /* {m} */",
    "ALTER TABLE fd_parted ATTACH PARTITION fd FOR VALUES IN ({n}) /* {m} */",
    "ALTER TABLE fd ATTACH PARTITION fd_other DEFAULT /* {m} */",
    "ALTER TABLE fd_other INHERIT fd /* {m} */",
    "ALTER TABLE fd INHERIT fd_other /* {m} */",
    "CREATE FOREIGN TABLE {t} (id int8, email text) SERVER nosuch OPTIONS (table_name 'fd') /* {m} */",
    "CREATE TABLE {t} PARTITION OF fdsch.fq DEFAULT /* {m} */",
]


def test_paths_refused(fenv):
    marks = []
    for dname, run in drivers(fenv):
        for i, sql in enumerate(PATHS):
            m, t = leaks.marker("path"), "fd_kid_%s_%d" % (dname, i)
            marks.append(m)
            name = "fdsch.fq.secret" if "fq" in sql else "fd.email"
            expect_refused(run, sql.format(t=t, m=m, n=new_id()), name)
            assert not up_exists(fenv, t)
    # nothing changed upstream: fd has no child, parent or partition
    assert fenv.up_rows("SELECT count(*) FROM pg_inherits WHERE inhrelid = 'fd'::regclass "
                        "OR inhparent = 'fd'::regclass") == [(0,)]
    leaks.Scan(fenv).check(marks)


def test_copy_of_shape_allowed(fenv):
    """LIKE copies a shape, not a path: relayed."""
    with fenv.pg2() as c, c.cursor() as cur:
        cur.execute("CREATE TABLE fd_shape (LIKE fd INCLUDING ALL)")
        cur.execute("DROP TABLE fd_shape")


# ---- 5. renames and moves -------------------------------------------------------------------

def insert_row(env):
    i, e, n = new_id(), leaks.marker("rowe"), leaks.marker("rown")
    with env.pg2() as c, c.cursor() as cur:
        cur.execute("INSERT INTO fd (id, email, name, note) VALUES (%s, %s, %s, 'n')", (i, e, n))
    return i, e, n


def open_conn(env, dname):
    if dname == "psycopg2":
        return env.pg2()
    return env.pg3()


@pytest.mark.parametrize("dname", ["psycopg2", "psycopg3"])
def test_view_moved_renamed_then_written(fenv, dname):
    """A view moved (SET SCHEMA), renamed, its column renamed, its schema renamed, replaced with an
    encrypted column: the very next statement knows, in this session and in another one."""
    i, e, n = insert_row(fenv)
    s1, s2, s3 = "fdv1_" + dname, "fdv2_" + dname, "fdv3_" + dname
    marks = [e, n]
    other = fenv.pg2()
    conn = open_conn(fenv, dname)
    try:
        ocur = other.cursor()
        ocur.execute("SELECT 1")  # the other session's catalog is loaded
        cur = conn.cursor()
        cur.execute("CREATE SCHEMA %s" % s1)
        cur.execute("CREATE SCHEMA %s" % s2)
        cur.execute("CREATE VIEW v_fd AS SELECT id, email, name FROM fd")
        # SET SCHEMA: the audit's case
        cur.execute("ALTER VIEW v_fd SET SCHEMA %s" % s1)
        for c in (cur, ocur):
            m = leaks.marker("mv")
            marks.append(m)
            with pytest.raises((psycopg2.Error, psycopg.Error)) as ei:
                c.execute("INSERT INTO %s.v_fd (id, email) VALUES (%d, '%s')" % (s1, new_id(), m))
            refused(ei.value, "v_fd")
            c.execute("SELECT name FROM %s.v_fd WHERE email = %%s" % s1, (e,))
            assert c.fetchall() == [(n,)]
        # RENAME TO
        cur.execute("ALTER VIEW %s.v_fd RENAME TO v_fd2" % s1)
        m = leaks.marker("rn")
        marks.append(m)
        with pytest.raises((psycopg2.Error, psycopg.Error)) as ei:
            cur.execute("UPDATE %s.v_fd2 SET name = '%s'" % (s1, m))
        refused(ei.value, "v_fd2")
        # RENAME COLUMN: the new name is searched blind, not compared in plaintext
        cur.execute("ALTER VIEW %s.v_fd2 RENAME COLUMN email TO mail" % s1)
        cur.execute("SELECT id FROM %s.v_fd2 WHERE mail = %%s" % s1, (e,))
        assert cur.fetchall() == [(i,)]
        m = leaks.marker("rc")
        marks.append(m)
        cur.execute("SELECT count(*) FROM %s.v_fd2 WHERE mail = '%s'" % (s1, m))
        assert cur.fetchall() == [(0,)]
        # ALTER SCHEMA ... RENAME: s1.v_fd2 is now s3.v_fd2
        cur.execute("ALTER SCHEMA %s RENAME TO %s" % (s1, s3))
        for c in (cur, ocur):
            m = leaks.marker("sr")
            marks.append(m)
            with pytest.raises((psycopg2.Error, psycopg.Error)) as ei:
                c.execute("INSERT INTO %s.v_fd2 (id, mail) VALUES (%d, '%s')" % (s3, new_id(), m))
            refused(ei.value, "v_fd2")
            c.execute("SELECT name FROM %s.v_fd2 WHERE mail = %%s" % s3, (e,))
            assert c.fetchall() == [(n,)]
        # CREATE OR REPLACE VIEW adding an encrypted column to a view that took writes
        cur.execute("CREATE VIEW %s.v_or AS SELECT id, note FROM fd" % s2)
        j = new_id()
        cur.execute("INSERT INTO %s.v_or (id, note) VALUES (%d, 'plain')" % (s2, j))
        cur.execute("CREATE OR REPLACE VIEW %s.v_or AS SELECT id, note, email FROM fd" % s2)
        for c in (cur, ocur):
            m = leaks.marker("or")
            marks.append(m)
            with pytest.raises((psycopg2.Error, psycopg.Error)) as ei:
                c.execute("UPDATE %s.v_or SET email = '%s' WHERE id = %d" % (s2, m, j))
            refused(ei.value, "v_or")
        cur.execute("DROP SCHEMA %s CASCADE" % s3)
        cur.execute("DROP SCHEMA %s CASCADE" % s2)
        cur.execute("DELETE FROM fd WHERE id = %d" % j)
    finally:
        conn.close()
        other.close()
    leaks.Scan(fenv).check(marks)


def test_view_moved_psql(fenv):
    """psql, one statement per Query: the move is known to the next line of the script."""
    i, e, n = insert_row(fenv)
    m = leaks.marker("psql")
    script = ("CREATE SCHEMA fdv_psql;\n"
              "CREATE VIEW v_fdp AS SELECT id, email FROM fd;\n"
              "ALTER VIEW v_fdp SET SCHEMA fdv_psql;\n"
              "\\set ON_ERROR_STOP 0\n"
              "INSERT INTO fdv_psql.v_fdp (id, email) VALUES (%d, '%s');\n"
              "\\set ON_ERROR_STOP 1\n"
              "SELECT email FROM fdv_psql.v_fdp WHERE id = %d;\n"
              "DROP SCHEMA fdv_psql CASCADE;\n" % (new_id(), m, i))
    rc, out, err = fenv.psql_stdin(script)
    assert rc == 0, err
    assert "0A000" in err or "v_fdp" in err, err
    assert e in out.splitlines(), out
    leaks.Scan(fenv).check([m, n])


RENAMES = [
    ("ALTER TABLE fd RENAME TO fd_renamed /* {m} */", "fd.email"),
    ("ALTER TABLE fd RENAME COLUMN email TO mail /* {m} */", "fd.email"),
    ("ALTER TABLE fd RENAME COLUMN note TO nt /* {m} */", "fd.email"),
    ("ALTER TABLE fd_other RENAME TO fd /* {m} */", "fd.email"),
    ("ALTER TABLE fdsch.fq SET SCHEMA public /* {m} */", "fdsch.fq.secret"),
    ("ALTER TABLE fdsch.fq RENAME TO fq2 /* {m} */", "fdsch.fq.secret"),
    ("ALTER SCHEMA fdsch RENAME TO fdsch2 /* {m} */", "fdsch.fq.secret"),
]


def test_renames_of_what_the_config_names_refused(fenv):
    marks = []
    for dname, run in drivers(fenv):
        for sql, name in RENAMES:
            m = leaks.marker("ren")
            marks.append(m)
            expect_refused(run, sql.format(m=m), name)
    assert up_exists(fenv, "fd") and up_exists(fenv, "fq") and up_exists(fenv, "fd_other")
    assert fenv.up_rows("SELECT count(*) FROM pg_attribute WHERE attrelid = 'fd'::regclass "
                        "AND attname IN ('email', 'note')") == [(2,)]
    leaks.Scan(fenv).check(marks)


# ---- 6. what PostgreSQL would reject (and log) --------------------------------------------

UNMAPPED = [
    ("INSERT INTO fd (id, email) VALUES ({i}, 'a', '{m}')", "target column"),
    ("INSERT INTO fd (id, email, name) VALUES ({i}, '{m}')", "target column"),
    ("INSERT INTO fd VALUES ({i}, 'a', 'b', 'c', '{m}')", "target column"),
    ("INSERT INTO fd (id, \"EMAIL\") VALUES ({i}, '{m}')", "\"EMAIL\""),
    ("INSERT INTO fd (id, emial) VALUES ({i}, '{m}')", "\"emial\""),
    ("UPDATE fd SET fd.email = '{m}' WHERE id = {i}", "fd"),
    ("UPDATE fd SET \"Name\" = '{m}' WHERE id = {i}", "\"Name\""),
    ("SELECT id FROM fd WHERE \"Email\" = '{m}'", "\"Email\""),
    ("DELETE FROM fd f WHERE f.mail = '{m}'", "\"mail\""),
    ("INSERT INTO \"FD\" (id, email) VALUES ({i}, '{m}')", "fd"),
    ("UPDATE fd SET (name, note) = ('{m}', 'x', 'y') WHERE id = {i}", "value(s) for 2"),
    ("INSERT INTO fdsch.fq (id, \"SECRET\") VALUES ({i}, '{m}')", "\"SECRET\""),
]


def test_unmapped_refused(fenv):
    marks = []
    for dname, run in drivers(fenv):
        for sql, name in UNMAPPED:
            m = leaks.marker("um")
            marks.append(m)
            expect_refused(run, sql.format(m=m, i=new_id()), name)
    # psycopg 3 with parameters: the value travels in Bind, which never leaves pgseal
    with fenv.pg3() as c, c.cursor() as cur:
        for binary in (False, True):
            m = leaks.marker("umb")
            marks.append(m)
            with pytest.raises(psycopg.Error) as ei:
                cur.execute("INSERT INTO fd (id, email) VALUES (%s, %s, %s)", (new_id(), "a", m),
                            binary=binary)
            refused(ei.value, "target column")
    leaks.Scan(fenv).check(marks)


def test_unparsable_execute_refused(fenv):
    """DECLARE ... FOR EXECUTE s('x') does not parse and names no table: with a prepared statement
    with encrypted parameters in the session it may carry their values."""
    marks = []
    with fenv.pg2() as c, c.cursor() as cur:
        cur.execute("PREPARE pins(int8, text) AS INSERT INTO fd (id, email) VALUES ($1, $2)")
        for sql in ("DECLARE c CURSOR FOR EXECUTE pins(%d, '{m}')",
                    "EXECUTE pins(%d, '{m}') garbage"):
            m = leaks.marker("ex")
            marks.append(m)
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute((sql % new_id()).format(m=m))
            refused(ei.value, "nothing was sent")
        i, m = new_id(), leaks.marker("exok")
        cur.execute("EXECUTE pins(%d, '%s')" % (i, m))  # still works, encrypted
        cur.execute("SELECT email FROM fd WHERE id = %d" % i)
        assert cur.fetchall() == [(m,)]
        marks.append(m)
    m = leaks.marker("exp")
    marks.append(m)
    rc, out, err = fenv.psql_stdin(
        "PREPARE pins2(int8, text) AS INSERT INTO fd (id, email) VALUES ($1, $2);\n"
        "\\set ON_ERROR_STOP 0\n"
        "DECLARE c CURSOR FOR EXECUTE pins2(%d, '%s');\n" % (new_id(), m))
    assert "nothing was sent" in err, err
    leaks.Scan(fenv).check(marks)


# ---- children made directly on the server ----------------------------------------------------

def test_child_made_on_the_server(fenv):
    """A child table of an encrypted table created without pgseal (by a DBA on the server): new
    sessions find it in the catalog; reads decrypt, searches are blind, writes naming it refused."""
    i, e, n = insert_row(fenv)
    # the row moves to the child as ciphertext, straight on the server
    fenv.upstream_script("CREATE TABLE fd_kid (extra text) INHERITS (fd);\n"
                         "INSERT INTO fd_kid SELECT *, 'x' FROM ONLY fd WHERE id = %d;\n"
                         "DELETE FROM ONLY fd WHERE id = %d;\n" % (i, i))
    marks = [e, n]
    try:
        for dname, run in drivers(fenv):
            p = None if dname == "psql" else (e,)
            q = "SELECT id, email, name FROM fd_kid WHERE email = %s" if p else \
                "SELECT id, email, name FROM fd_kid WHERE email = '%s'" % e
            assert [tuple(map(str, r)) for r in run(q, p)] == [(str(i), e, n)], dname
            assert [tuple(map(str, r)) for r in run("SELECT name FROM fd WHERE id = %d" % i)] == [(n,)]
            for sql in ("INSERT INTO fd_kid (id, email) VALUES (%d, '{m}')" % new_id(),
                        "UPDATE fd_kid SET name = '{m}' WHERE id = %d" % i,
                        "CREATE TABLE fd_grandkid_%s (note text DEFAULT '{m}') INHERITS (fd_kid)" % dname):
                m = leaks.marker("kid")
                marks.append(m)
                expect_refused(run, sql.format(m=m), "fd")
        with fenv.pg2() as c, c.cursor() as cur:
            m = leaks.marker("kidcopy")
            marks.append(m)
            with pytest.raises(psycopg2.Error) as ei:
                cur.copy_expert("COPY fd_kid (id, email) FROM STDIN", io.StringIO("%d\t%s\n" % (new_id(), m)))
            refused(ei.value, "fd_kid")
    finally:
        fenv.upstream_script("DROP TABLE IF EXISTS fd_kid;\n")
    leaks.Scan(fenv).check(marks)


def test_view_moved_in_a_pipeline_refused_until_loaded(fenv):
    """Extended protocol, one batch: a write naming the view moved earlier in the batch is refused
    (the move is loaded after the Sync); after it, the moved view is known."""
    def P(q):
        return msg(b"P", b"\0" + q.encode() + b"\0" + struct.pack("!H", 0))
    B = msg(b"B", b"\0\0" + struct.pack("!HHH", 0, 0, 0))
    E, S = msg(b"E", b"\0" + struct.pack("!I", 0)), msg(b"S")
    m = leaks.marker("pipe")
    fenv.upstream_script("CREATE SCHEMA IF NOT EXISTS fdv_pipe;\n")
    try:
        with Raw("127.0.0.1", fenv.proxy.port, timeout=10) as r:
            r.startup_trust()
            rows, err = r.query("CREATE VIEW v_fdpipe AS SELECT id, email FROM fd")
            assert err is None, err
            r.send(P("ALTER VIEW v_fdpipe SET SCHEMA fdv_pipe") + B + E +
                   P("INSERT INTO fdv_pipe.v_fdpipe (id, email) VALUES (%d, '%s')" % (new_id(), m)) + B + E + S)
            got = r.read_until({b"Z"})
            err = [x[1] for x in got if x[0] == b"E"]
            assert err and b"0A000" in err[0] and b"v_fdpipe" in err[0], got
            # the batch failed as a whole: the move was rolled back; once more, alone
            rows, err = r.query("ALTER VIEW v_fdpipe SET SCHEMA fdv_pipe")
            assert err is None, err
            rows, err = r.query("INSERT INTO fdv_pipe.v_fdpipe (id, email) VALUES (%d, '%s')" % (new_id(), m))
            assert err is not None and "0A000" in str(err) and "v_fdpipe" in str(err), (rows, err)
    finally:
        fenv.upstream_script("DROP SCHEMA IF EXISTS fdv_pipe CASCADE;\nDROP VIEW IF EXISTS v_fdpipe;\n")
    leaks.Scan(fenv).check([m])
