# test_encryption_failclosed.py - statements pgseal cannot make safe: refused with 0A000 naming table.column, nothing reaches PostgreSQL.
import io
import os

import psycopg
import psycopg2
import struct

import pytest

from harness import Raw, msg

from enc_harness import canary, enc, guarded, new_id, number_canary, refused  # noqa: F401

# (statement with {c} where a unique value goes, what the refusal must name)
REFUSED = [
    ("SELECT id FROM people WHERE email LIKE '{c}%'", "people.email"),
    ("SELECT id FROM people WHERE email ILIKE '{c}'", "people.email"),
    ("SELECT id FROM people WHERE email SIMILAR TO '{c}'", "people.email"),
    ("SELECT id FROM people WHERE email > '{c}'", "people.email"),
    ("SELECT id FROM people WHERE email BETWEEN 'a' AND '{c}'", "people.email"),
    ("SELECT id FROM typed WHERE c_int8 < 5 AND c_text <> '{c}'", "typed.c_int8"),
    ("SELECT id FROM people WHERE email IS DISTINCT FROM '{c}'", "people.email"),
    ("SELECT id FROM people WHERE note = '{c}' ORDER BY email", "people.email"),
    ("SELECT id, email FROM people WHERE note = '{c}' ORDER BY 2", "people.email"),
    ("SELECT email, count(*) FROM people WHERE note = '{c}' GROUP BY email", "people.email"),
    ("SELECT DISTINCT email FROM people WHERE note = '{c}'", "people.email"),
    ("SELECT lower(email) FROM people WHERE note = '{c}'", "people.email"),
    ("SELECT id FROM people WHERE lower(email) = '{c}'", "people.email"),
    ("SELECT id FROM people WHERE email || 'x' = '{c}'", "people.email"),
    ("SELECT sum(c_int4) FROM typed WHERE c_text = '{c}'", "typed.c_int4"),
    ("SELECT id FROM typed WHERE c_int4 + 1 = 2 AND c_text = '{c}'", "typed.c_int4"),
    ("SELECT id FROM people WHERE name = '{c}'", "people.name"),
    ("SELECT id FROM people WHERE email = note AND note = '{c}'", "people.email"),
    ("SELECT id FROM people WHERE email IN (SELECT note FROM people WHERE note = '{c}')", "people.email"),
    ("DELETE FROM people WHERE email LIKE '{c}'", "people.email"),
    ("UPDATE people SET email = lower('{c}') WHERE id = 1", "people.email"),
    ("UPDATE people SET name = name || '{c}'", "people.name"),
    ("INSERT INTO people (id, email) SELECT 1, '{c}'", "people.email"),
    ("INSERT INTO people (id, email) VALUES (1, 'a' || '{c}')", "people.email"),
    ("INSERT INTO people (id, name) VALUES (1, (SELECT '{c}'))", "people.name"),
    ("INSERT INTO typed (id, c_int8) VALUES (1, 1 + {n})", "typed.c_int8"),
    ("INSERT INTO people (id, note, email) VALUES (1, 'ok', 'ok'), (2, 'x', upper('{c}'))", "people.email"),
]


def snapshot(enc):
    return enc.up_rows("SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM people t), "
                       "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM typed t)")[0]


@pytest.fixture
def guard(enc):
    """The tables and PostgreSQL's log before; after: tables unchanged, no refused value reached the server."""
    yield from guarded(enc, snapshot)


@pytest.mark.parametrize("sql,col", REFUSED, ids=[s[:48] for s, _ in REFUSED])
def test_refused_simple_protocol(enc, guard, sql, col):
    c, n = canary("fc"), number_canary()
    guard += [c, n]
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute(sql.format(c=c, n=n))
        refused(ei.value, col)
        assert c not in str(ei.value)
        cur.execute("SELECT 1")  # the session stays usable
        assert cur.fetchone() == (1,)


def test_refused_extended_protocol_and_pipeline(enc, guard):
    c = canary("fcx")
    guard.append(c)
    stmts = [("SELECT id FROM people WHERE email LIKE %s", "people.email"),
             ("SELECT id FROM people WHERE email > %s", "people.email"),
             ("SELECT id FROM people WHERE name = %s", "people.name"),
             ("INSERT INTO people (id, email) SELECT 1, %s", "people.email"),
             ("UPDATE people SET email = lower(%s) WHERE id = 1", "people.email"),
             ("SELECT id FROM people WHERE note = %s ORDER BY email", "people.email")]
    for binary in (False, True):
        with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
            for sql, col in stmts:
                with pytest.raises(psycopg.Error) as ei:
                    cur.execute(sql, (c,))
                refused(ei.value, col)
                cur.execute("SELECT %s::int", (3,))
                assert cur.fetchone() == (3,)


def test_refused_statement_in_pipeline_keeps_order(enc, guard):
    c = canary("fcpl")
    guard.append(c)

    def P(q):
        return msg(b"P", b"\0" + q.encode() + b"\0" + struct.pack("!H", 0))
    B = msg(b"B", b"\0\0" + struct.pack("!HHH", 0, 0, 0))
    D, E, S = msg(b"D", b"P\0"), msg(b"E", b"\0" + struct.pack("!I", 0)), msg(b"S")
    with Raw("127.0.0.1", enc.proxy.port, timeout=5) as r:
        r.startup_trust()
        r.send(P("SELECT 1") + B + D + E + P("SELECT id FROM people WHERE email LIKE '%s'" % c) + B + D + E +
               P("SELECT 2") + B + D + E + S)
        tags = [m[0] for m in r.read_until({b"Z"})]
        # what PostgreSQL itself sends: the first statement complete, then the error, the rest skipped
        assert tags == [b"1", b"2", b"T", b"D", b"C", b"E", b"Z"], tags
        rows, err = r.query("SELECT 4")
        assert rows == [["4"]] and err is None


def test_refused_statement_in_pipeline_psycopg3_last(enc, guard):
    """A refusal as the first statement of a pipeline (nothing queued ahead of it)."""
    c = canary("fcpl")
    guard.append(c)
    with enc.pg3() as conn:
        with pytest.raises(psycopg.Error) as ei:
            with conn.pipeline():
                conn.execute("SELECT id FROM people WHERE email LIKE %s", (c,))
                conn.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (new_id(), c))  # skipped: after the error
        refused(ei.value, "people.email")
        assert conn.execute("SELECT 4").fetchone() == (4,)


def test_refused_statement_in_multi_statement_query_sends_nothing(enc, guard):
    i = new_id()
    c = canary("fcm")
    guard.append(c)
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("INSERT INTO people (id, email) VALUES (%d, 'first'); SELECT id FROM people WHERE email LIKE '%s'"
                        % (i, c))
        refused(ei.value, "people.email")
        cur.execute("SELECT count(*) FROM people WHERE id = %s", (i,))
        assert cur.fetchone() == (0,)


def test_binary_copy_refused(enc, guard):
    with enc.pg2() as conn, conn.cursor() as cur:
        for sql in ("COPY people TO STDOUT (FORMAT binary)", "COPY people (id, email) FROM STDIN (FORMAT binary)",
                    "COPY people TO STDOUT WITH BINARY", "COPY (SELECT email FROM people) TO STDOUT (FORMAT binary)"):
            with pytest.raises(psycopg2.Error) as ei:
                cur.copy_expert(sql, io.BytesIO(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + b"\xff\xff"))
            assert ei.value.pgcode == "0A000", (sql, ei.value)
            cur.execute("SELECT 1")
    with enc.pg3() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg.Error) as ei:
            with cur.copy("COPY people (id, email) FROM STDIN (FORMAT binary)") as cp:
                cp.write_row((new_id(), "x"))
        assert ei.value.sqlstate == "0A000"
        cur.execute("SELECT 1")


def test_binary_copy_refusal_names_table(enc, guard):
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.copy_expert("COPY people TO STDOUT (FORMAT binary)", io.BytesIO())
        refused(ei.value, "people")


def test_copy_to_server_file_refused(enc, guard):
    with enc.pg2() as conn, conn.cursor() as cur:
        for sql in ("COPY people TO '/tmp/pgseal-leak.txt'", "COPY people (id, email) FROM '/etc/hostname'",
                    "COPY people TO PROGRAM 'cat'"):
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute(sql)
            assert ei.value.pgcode == "0A000", (sql, ei.value)
    assert not os.path.exists("/tmp/pgseal-leak.txt")


@pytest.mark.parametrize("sql", ["SELECT id FROM people WHERE email = '{c}' AND (",
                                 "INSERT INTO people (id, email) VALUES (1, '{c}'",
                                 "UPDATE people SET email = '{c}' WHERE",
                                 "SELEC email FROM people WHERE email = '{c}'"])
def test_unparsable_statement_naming_encrypted_table(enc, guard, sql):
    """Refused without being sent (PostgreSQL would log the statement text with its values).

    DESIGN says 0A000; docs/sql.md says 42601 for statements pgseal cannot parse: either is a refusal."""
    c = canary("fcp")
    guard.append(c)
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute(sql.format(c=c))
        assert ei.value.pgcode in ("0A000", "42601"), ei.value
        assert "pgseal" in str(ei.value) and "nothing was sent" in str(ei.value), ei.value
        assert c not in str(ei.value)
        cur.execute("SELECT 1")


def test_unparsable_statement_refusal_names_table(enc, guard):
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT id FROM people WHERE email = 'x' AND (")
        refused(ei.value, "people")


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg3"])
def test_refusal_aborts_the_transaction(enc, driver):
    i = new_id()
    if driver == "psycopg2":
        conn = enc.pg2(autocommit=False)
        err = psycopg2.Error
    else:
        conn = enc.pg3(autocommit=False)
        err = psycopg.Error
    try:
        cur = conn.cursor()
        cur.execute("INSERT INTO people (id, email) VALUES (%s, 'tx@x')", (i,))
        with pytest.raises(err):
            cur.execute("SELECT id FROM people WHERE email LIKE 'tx%'")
        # what PostgreSQL does after any error in a transaction block
        state = conn.info.transaction_status
        with pytest.raises(err):
            cur.execute("SELECT 1")
        conn.rollback()
        assert int(state) == 3, "transaction status after the refusal: %r (want INERROR)" % state
    finally:
        conn.close()
        committed = enc.up_rows("SELECT count(*) FROM people WHERE id = %s", (i,))[0][0]
        enc.up_rows("DELETE FROM people WHERE id = %s", (i,))
    assert committed == 0
