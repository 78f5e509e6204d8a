# test_failclosed_prepared.py - one namespace of prepared statements: SQL PREPARE/EXECUTE and protocol Parse/Bind mixed, changes only once PostgreSQL confirms them, statements in flight refused.
"""Issue 16, item 3. PostgreSQL's SQL PREPARE/EXECUTE/DEALLOCATE and the protocol's
Parse/Bind/Close share one namespace; pgseal must encrypt the parameters of whichever
statement the server will really run, or refuse (0A000, nothing sent). Each test writes
unique markers into encrypted columns (or into refused statements) and scans the server's
statement log, pg_dump, the table files and pgseal's log for them."""

import struct

import psycopg
import psycopg2
import pytest

import leaks
from harness import Raw, msg, parse_error_fields
from enc_harness import enc, new_id  # noqa: F401

INS_EMAIL = "INSERT INTO people (id, email, note) VALUES ($1, $2, $3)"   # $2 encrypted
INS_PLAIN = "SELECT $1::int8, $2::text, $3::text"                          # nothing encrypted
SYNC = msg(b"S")


def P(name, q, oids=()):
    return msg(b"P", name.encode() + b"\0" + q.encode() + b"\0" + struct.pack("!H", len(oids)) +
               b"".join(struct.pack("!I", o) for o in oids))


def B(stmt, values, portal="", fmt=0):
    body = portal.encode() + b"\0" + stmt.encode() + b"\0" + struct.pack("!HH", 1, fmt)
    body += struct.pack("!H", len(values))
    for v in values:
        if v is None:
            body += struct.pack("!i", -1)
        else:
            v = v if isinstance(v, bytes) else str(v).encode()
            body += struct.pack("!i", len(v)) + v
    return msg(b"B", body + struct.pack("!H", 0))


def E(portal=""):
    return msg(b"E", portal.encode() + b"\0" + struct.pack("!I", 0))


def C(name):
    return msg(b"C", b"S" + name.encode() + b"\0")


def Q(sql):
    return msg(b"Q", sql.encode() + b"\0")


def answers(r, n=1):
    """The messages up to the n-th ReadyForQuery: [(tag, payload)]."""
    out = []
    for _ in range(n):
        out += r.read_until({b"Z"})
    return out


def errors(got):
    return [parse_error_fields(p) for t, p in got if t == b"E"]


def tags(got):
    return b"".join(t for t, _ in got)


def raw(env):
    r = Raw("127.0.0.1", env.proxy.port, timeout=10)
    r.startup_trust()
    return r


def email_of(env, i):
    """The decrypted email of row i, read back through pgseal (None: no row)."""
    with env.pg3() as conn:
        row = conn.execute("SELECT email FROM people WHERE id = %s", (i,)).fetchone()
    return row[0] if row else None


def stored_raw(env, i):
    """What PostgreSQL itself stores for row i's email (bytea), or None."""
    rows = env.up_rows("SELECT email FROM people WHERE id = %s", (i,))
    return bytes(rows[0][0]) if rows and rows[0][0] is not None else None


def assert_encrypted(env, i, m):
    assert email_of(env, i) == m
    raw_ = stored_raw(env, i)
    assert raw_ is not None and m.encode() not in raw_


def is_refusal(err, name):
    assert err["C"] == "0A000", err
    assert '"%s"' % name in err["M"], err


# ---- a. a protocol-prepared statement run by SQL EXECUTE ---------------------------------------


def test_a_protocol_statement_run_by_sql_execute_raw(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("a1"), leaks.marker("a2")
    with raw(enc) as r:
        r.send(P("s4", INS_EMAIL) + SYNC)
        assert tags(answers(r)) == b"1Z"
        r.send(Q("EXECUTE s4(%d, '%s', 'plain')" % (i, m1)))
        assert not errors(answers(r))
        # the same in a multi-statement Query, and under EXPLAIN ANALYZE
        r.send(Q("SELECT 1; EXPLAIN ANALYZE EXECUTE s4(%d, '%s', 'plain')" % (j, m2)))
        assert not errors(answers(r))
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_a_protocol_statement_run_by_sql_execute_psycopg3(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("a3"), leaks.marker("a4")
    with enc.pg3() as conn:
        conn.pgconn.prepare(b"s4b", INS_EMAIL.encode())       # a protocol Parse
        conn.pgconn.exec_(("EXECUTE s4b(%d, '%s', 'plain')" % (i, m1)).encode())   # simple Query
        # through the extended protocol: a Parse of `EXECUTE s4b(...)` (PostgreSQL takes no
        # parameters in a utility statement: the arguments are literals), binary results
        with conn.cursor(binary=True) as cur:
            cur.execute("EXECUTE s4b(%d, '%s', 'plain')" % (j, m2))
        conn.pgconn.exec_(b"DEALLOCATE s4b")
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_a_explain_and_create_table_as_execute(enc):
    i, m1, m2, m3 = new_id(), leaks.marker("a5"), leaks.marker("a6"), leaks.marker("a7")
    with enc.pg3() as conn:
        conn.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (i, m1))
        conn.pgconn.prepare(b"find_a", b"SELECT id FROM people WHERE email = $1")
        conn.pgconn.exec_(("EXPLAIN EXECUTE find_a('%s')" % m2).encode())
        res = conn.pgconn.exec_(("CREATE TEMP TABLE found_a AS EXECUTE find_a('%s')" % m1).encode())
        assert res.error_message == b"", res.error_message
        assert conn.execute("SELECT id FROM found_a").fetchall() == [(i,)]
        # an unknown name, even under EXPLAIN: refused, nothing sent
        with pytest.raises(psycopg.Error) as ei:
            conn.execute("EXPLAIN EXECUTE nowhere_a('%s')" % m3)
        assert ei.value.sqlstate == "0A000" and "nowhere_a" in str(ei.value)
    leaks.Scan(enc).check([m1, m2, m3])


# ---- b. an SQL-prepared statement run by a protocol Bind -----------------------------------------


def test_b_sql_prepared_bound_by_protocol_raw(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("b1"), leaks.marker("b2")
    with raw(enc) as r:
        r.send(Q("PREPARE sb(int8, text, text) AS " + INS_EMAIL))
        assert not errors(answers(r))
        r.send(B("sb", [i, m1, "plain"]) + E() + SYNC)
        got = answers(r)
        assert tags(got) == b"2CZ", got
        # binary parameters (int8, then text bytes)
        r.send(B("sb", [struct.pack("!q", j), m2.encode(), b"plain"], fmt=1) + E() + SYNC)
        assert tags(answers(r)) == b"2CZ"
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_b_sql_prepared_bound_by_psycopg3(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("b3"), leaks.marker("b4")
    with enc.pg3() as conn:
        conn.execute("PREPARE sb3 AS " + INS_EMAIL)
        res = conn.pgconn.exec_prepared(b"sb3", [str(i).encode(), m1.encode(), b"plain"])
        assert res.error_message == b"", res.error_message
        # Describe shows the declared type of the encrypted parameter
        d = conn.pgconn.describe_prepared(b"sb3")
        assert d.param_type(1) == 25
        res = conn.pgconn.exec_prepared(b"sb3", [struct.pack("!q", j), m2.encode(), b"plain"],
                                        param_formats=[1, 1, 1])
        assert res.error_message == b"", res.error_message
    # psycopg2 (simple protocol) reads them back
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("SELECT email FROM people WHERE id IN (%s, %s) ORDER BY id", (i, j))
        assert cur.fetchall() == [(m1,), (m2,)]
    assert stored_raw(enc, i) and m1.encode() not in stored_raw(enc, i)
    leaks.Scan(enc).check([m1, m2])


# ---- c. a Parse whose text is EXECUTE ----------------------------------------------------------------


def test_c_parse_of_execute_raw(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("c1"), leaks.marker("c2")
    with raw(enc) as r:
        r.send(Q("PREPARE s5 AS " + INS_EMAIL))
        assert not errors(answers(r))
        r.send(P("", "EXECUTE s5(%d, '%s', 'plain')" % (i, m1)) + B("", []) + E() + SYNC)
        assert tags(answers(r)) == b"12CZ"
        # a named wrapper, bound later
        r.send(P("w5", "EXECUTE s5(%d, '%s', 'plain')" % (j, m2)) + SYNC)
        assert tags(answers(r)) == b"1Z"
        r.send(B("w5", []) + E() + SYNC)
        assert tags(answers(r)) == b"2CZ"
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_c_wrapper_refused_after_its_target_is_redefined_raw(enc):
    """A Parse of `EXECUTE s5r(...)` is analysed against s5r as it is then; PostgreSQL looks
    s5r up only when the wrapper runs. s5r first takes the marker in a plain position (the
    Parse text carries it as written; PostgreSQL does not log a Parse), then is redefined to
    store it encrypted: the wrapper must not run."""
    i, m = new_id(), leaks.marker("c3")
    with raw(enc) as r:
        r.send(Q("PREPARE s5r AS " + INS_PLAIN))
        assert not errors(answers(r))
        r.send(P("w5r", "EXECUTE s5r(%d, '%s', 'plain')" % (i, m)) + SYNC)
        assert tags(answers(r)) == b"1Z"
        r.send(Q("DEALLOCATE s5r; PREPARE s5r AS " + INS_EMAIL))
        assert not errors(answers(r))
        r.send(B("w5r", []) + E() + SYNC)
        errs = errors(answers(r))
        assert len(errs) == 1
        is_refusal(errs[0], "w5r")
        assert "s5r" in errs[0]["M"] and m not in errs[0]["M"]
        # Bound in one batch, redefined before its Execute: the Execute is refused
        r.send(Q("DEALLOCATE s5r; PREPARE s5r AS " + INS_PLAIN))
        assert not errors(answers(r))
        r.send(P("w5s", "EXECUTE s5r(%d, '%s', 'plain')" % (i, m)) + B("w5s", [], portal="p5") +
               C("s5r") + P("s5r", INS_EMAIL) + E("p5") + SYNC)
        got = answers(r)
        assert tags(got) == b"1231EZ", got
        is_refusal(errors(got)[0], "w5s")
    assert email_of(enc, i) is None
    leaks.Scan(enc).check([m])


def test_c_wrapper_refused_after_its_target_is_redefined_psycopg3(enc):
    """psycopg 3 prepares the text `EXECUTE s5c(...)` once (_pg3_N) and binds it again the
    next time: after s5c is redefined, that Bind is refused."""
    i, m = new_id(), leaks.marker("c4")
    text = "EXECUTE s5c(%d, '%s', 'plain')" % (i, m)
    with enc.pg3() as conn:
        conn.execute("PREPARE s5c AS " + INS_EMAIL)
        conn.execute(text)
        conn.execute("DEALLOCATE s5c")
        conn.execute("PREPARE s5c AS " + INS_PLAIN)
        with pytest.raises(psycopg.Error) as ei:
            conn.execute(text)
        assert ei.value.sqlstate == "0A000" and "s5c" in str(ei.value)
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert_encrypted(enc, i, m)
    leaks.Scan(enc).check([m])


def test_c_psycopg3_pipeline_prepare_then_execute(enc):
    """In a pipeline the EXECUTE's Parse goes out before the PREPARE's CommandComplete:
    same batch, so the tentative definition holds."""
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("c5"), leaks.marker("c6")
    with enc.pg3() as conn:
        with conn.pipeline():
            conn.execute("PREPARE s5p AS " + INS_EMAIL)
            conn.execute("EXECUTE s5p(%d, '%s', 'plain')" % (i, m1))
            conn.execute("EXPLAIN ANALYZE EXECUTE s5p(%d, '%s', 'plain')" % (j, m2))
        conn.execute("DEALLOCATE s5p")
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


# ---- d. a Parse PostgreSQL rejects (42P05) ---------------------------------------------------------


def _define_s6(r):
    r.send(P("s6", INS_EMAIL) + SYNC)
    assert tags(answers(r)) == b"1Z"


def test_d_rejected_parse_then_bind_in_the_same_batch(enc):
    i, m = new_id(), leaks.marker("d1")
    with raw(enc) as r:
        _define_s6(r)
        r.send(P("s6", INS_PLAIN) + B("s6", [i, m, "plain"]) + E() + SYNC)
        got = answers(r)
        assert tags(got) == b"EZ" and errors(got)[0]["C"] == "42P05"   # the Bind was skipped
        # s6 is still the INSERT: a later Bind encrypts for it
        r.send(B("s6", [i, m, "plain"]) + E() + SYNC)
        assert tags(answers(r)) == b"2CZ"
    assert_encrypted(enc, i, m)
    leaks.Scan(enc).check([m])


def test_d_rejected_parse_then_bind_after_a_sync(enc):
    """Parse, Sync, Bind sent together: when pgseal sees the Bind, PostgreSQL has not
    answered the Parse yet, and the two definitions of s6 encrypt differently."""
    i, m = new_id(), leaks.marker("d2")
    with raw(enc) as r:
        _define_s6(r)
        r.send(P("s6", INS_PLAIN) + SYNC + B("s6", [i, m, "plain"]) + E() + SYNC)
        got = answers(r, 2)
        errs = errors(got)
        assert [e["C"] for e in errs] == ["42P05", "0A000"], errs
        is_refusal(errs[1], "s6")
        assert m not in errs[1]["M"]
        r.send(Q("SELECT 1"))
        assert not errors(answers(r))
    assert email_of(enc, i) is None
    leaks.Scan(enc).check([m])


def test_d_rejected_parse_then_simple_query_execute(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("d3"), leaks.marker("d4")
    with raw(enc) as r:
        _define_s6(r)
        r.send(P("s6", INS_PLAIN) + SYNC + Q("EXECUTE s6(%d, '%s', 'plain')" % (i, m1)))
        errs = errors(answers(r, 2))
        assert [e["C"] for e in errs] == ["42P05", "0A000"], errs
        is_refusal(errs[1], "s6")
        # once the error is in, s6 is the INSERT again, in a Query and by Bind
        r.send(Q("EXECUTE s6(%d, '%s', 'plain')" % (i, m1)))
        assert not errors(answers(r))
        r.send(P("s6", INS_PLAIN) + SYNC)
        assert errors(answers(r))[0]["C"] == "42P05"
        r.send(B("s6", [j, m2, "plain"]) + E() + SYNC)
        assert tags(answers(r)) == b"2CZ"
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_messages_after_an_error_before_the_sync(enc):
    """An error comes back while the client is still sending its batch: PostgreSQL skips
    what follows up to Sync without a word. A Close and a Parse sent then must change
    nothing in pgseal either (else their expected answers would take the next batch's and
    pgseal would believe s8 redefined while the server still runs the old one)."""
    i, m = new_id(), leaks.marker("e1")
    with raw(enc) as r:
        r.send(P("s8", INS_EMAIL) + SYNC)
        assert tags(answers(r)) == b"1Z"
        r.send(P("", "SELEC broken") + B("", []) + E())
        got = r.read_until({b"E"})
        assert errors(got)[0]["C"] == "42601"
        r.send(C("s8") + P("s8", INS_PLAIN) + SYNC)
        assert tags(answers(r)) == b"Z"
        for k in range(3):
            r.send(P("", "SELECT %d" % k) + B("", []) + E() + SYNC)
            assert tags(answers(r)) == b"12DCZ"
        r.send(B("s8", [i, m, "plain"]) + E() + SYNC)
        assert tags(answers(r)) == b"2CZ"
    assert_encrypted(enc, i, m)
    leaks.Scan(enc).check([m])


def test_d_rejected_sql_prepare(enc):
    """The SQL form: PREPARE of a name in use fails, later statements of its Query do not
    run, and the old definition stays in force."""
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("d5"), leaks.marker("d6")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("PREPARE s6q AS " + INS_EMAIL)
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("PREPARE s6q AS INSERT INTO people (id, note, email) VALUES ($1, $2, $3); "
                        "EXECUTE s6q(%d, 'plain', '%s')" % (j, m2))
        assert ei.value.pgcode == "42P05"
        cur.execute("EXECUTE s6q(%d, '%s', 'plain')" % (i, m1))
        cur.execute("DEALLOCATE s6q")
    assert_encrypted(enc, i, m1)
    assert email_of(enc, j) is None
    leaks.Scan(enc).check([m1, m2])


# ---- removal and redefinition ------------------------------------------------------------------------


def test_deallocate_then_prepare_with_other_encrypted_params(enc):
    i, j, k, m1, m2, m3 = new_id(), new_id(), new_id(), leaks.marker("r1"), leaks.marker("r2"), leaks.marker("r3")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("PREPARE rp AS " + INS_EMAIL)
        cur.execute("EXECUTE rp(%d, '%s', 'plain')" % (i, m1))
        cur.execute("DEALLOCATE rp")
        cur.execute("PREPARE rp AS INSERT INTO people (id, note, email) VALUES ($1, $2, $3)")
        cur.execute("EXECUTE rp(%d, 'plain', '%s')" % (j, m2))
        # in one text: the order of DEALLOCATE and PREPARE counts
        cur.execute("DEALLOCATE rp; PREPARE rp AS " + INS_EMAIL + "; EXECUTE rp(%d, '%s', 'plain')" % (k, m3))
        cur.execute("DEALLOCATE rp")
    for row, m in ((i, m1), (j, m2), (k, m3)):
        assert_encrypted(enc, row, m)
    leaks.Scan(enc).check([m1, m2, m3])


def test_close_by_protocol_then_sql_prepare_and_back(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("r4"), leaks.marker("r5")
    with raw(enc) as r:
        r.send(P("s7", INS_PLAIN) + SYNC)
        assert tags(answers(r)) == b"1Z"
        r.send(C("s7") + SYNC)
        assert tags(answers(r)) == b"3Z"
        r.send(Q("PREPARE s7 AS INSERT INTO people (id, note, email) VALUES ($1, $2, $3)"))
        assert not errors(answers(r))
        r.send(B("s7", [i, "plain", m1]) + E() + SYNC)
        assert tags(answers(r)) == b"2CZ"
        # SQL DEALLOCATE, then a protocol Parse of the same name, pipelined in one batch
        r.send(Q("DEALLOCATE s7"))
        assert not errors(answers(r))
        r.send(P("s7", INS_EMAIL) + B("s7", [j, m2, "plain"]) + E() + SYNC)
        assert tags(answers(r)) == b"12CZ"
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_discard_all_and_unknown_names(enc):
    i, m1, m2, m3, m4 = new_id(), leaks.marker("u1"), leaks.marker("u2"), leaks.marker("u3"), leaks.marker("u4")
    with raw(enc) as r:
        r.send(Q("PREPARE du AS " + INS_EMAIL))
        assert not errors(answers(r))
        r.send(Q("DISCARD ALL"))
        assert not errors(answers(r))
        # gone: refused by pgseal (PostgreSQL would not know it either), nothing sent
        r.send(Q("EXECUTE du(%d, '%s', 'plain')" % (i, m1)))
        errs = errors(answers(r))
        assert len(errs) == 1
        is_refusal(errs[0], "du")
        r.send(B("du", [i, m2, "plain"]) + E() + SYNC)
        errs = errors(answers(r))
        assert len(errs) == 1
        is_refusal(errs[0], "du")
        # never prepared through pgseal
        r.send(Q("EXECUTE nowhere(%d, '%s')" % (i, m3)))
        is_refusal(errors(answers(r))[0], "nowhere")
        # the unnamed statement does not survive a simple Query
        r.send(P("", INS_EMAIL) + SYNC)
        assert tags(answers(r)) == b"1Z"
        r.send(Q("SELECT 1"))
        assert not errors(answers(r))
        r.send(B("", [i, m4, "plain"]) + E() + SYNC)
        is_refusal(errors(answers(r))[0], "")
        # DISCARD PLANS keeps prepared statements
        r.send(Q("PREPARE du AS " + INS_EMAIL + "; DISCARD PLANS"))
        assert not errors(answers(r))
        r.send(Q("EXECUTE du(%d, '%s', 'plain')" % (i, m1)))
        assert not errors(answers(r))
    assert_encrypted(enc, i, m1)
    leaks.Scan(enc).check([m1, m2, m3, m4])


def test_discard_all_by_psycopg3_then_redefine(enc):
    """psycopg 3 runs DISCARD ALL through the extended protocol (and forgets its own
    prepared statements); the name is then prepared again with another layout."""
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("u5"), leaks.marker("u6")
    with enc.pg3() as conn:
        conn.execute("PREPARE d3 AS " + INS_EMAIL)
        conn.execute("EXECUTE d3(%d, '%s', 'plain')" % (i, m1))
        conn.execute("DISCARD ALL")
        conn.execute("PREPARE d3 AS INSERT INTO people (id, note, email) VALUES ($1, $2, $3)")
        conn.execute("EXECUTE d3(%d, 'plain', '%s')" % (j, m2))
    assert_encrypted(enc, i, m1)
    assert_encrypted(enc, j, m2)
    leaks.Scan(enc).check([m1, m2])


def test_prepared_statements_survive_rollback(enc):
    i, m1, m2 = new_id(), leaks.marker("t1"), leaks.marker("t2")
    with enc.pg2(autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("PREPARE tr AS " + INS_EMAIL)
        conn.rollback()
        cur.execute("EXECUTE tr(%d, '%s', 'plain')" % (i, m1))
        conn.commit()
        # a PREPARE in an aborted transaction fails: the name stays unknown
        cur.execute("SELECT 1")
        with pytest.raises(psycopg2.Error):
            cur.execute("SELECT 1/0")
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("PREPARE tr2 AS " + INS_EMAIL)
        assert ei.value.pgcode == "25P02"
        conn.rollback()
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("EXECUTE tr2(%d, '%s', 'plain')" % (i, m2))
        assert ei.value.pgcode == "0A000" and "tr2" in str(ei.value)
        conn.rollback()
        cur.execute("DEALLOCATE tr")
        conn.commit()
    assert_encrypted(enc, i, m1)
    leaks.Scan(enc).check([m1, m2])


def test_psql_prepare_execute_deallocate(enc):
    i, j, m1, m2 = new_id(), new_id(), leaks.marker("q1"), leaks.marker("q2")
    script = ("PREPARE ps AS %s;\nEXECUTE ps(%d, '%s', 'plain');\nDEALLOCATE ps;\n"
              "PREPARE ps AS INSERT INTO people (id, note, email) VALUES ($1, $2, $3);\n"
              "EXECUTE ps(%d, 'plain', '%s');\n" % (INS_EMAIL, i, m1, j, m2))
    rc, out, err = enc.psql_stdin(script)
    assert rc == 0, err
    rc, out, err = enc.psql("SELECT email FROM people WHERE id IN (%d, %d) ORDER BY id" % (i, j))
    assert out.split() == [m1, m2]
    assert_encrypted(enc, i, m1)
    leaks.Scan(enc).check([m1, m2])


def test_next_session_does_not_inherit_names(enc):
    """A session ends, its backend may be reset (DISCARD ALL) and handed to the next client:
    the next session starts with no prepared statements, in pgseal as in PostgreSQL."""
    i, m = new_id(), leaks.marker("p1")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("PREPARE pooled_s AS " + INS_EMAIL)
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("EXECUTE pooled_s(%d, '%s', 'plain')" % (i, m))
        assert ei.value.pgcode == "0A000" and "pooled_s" in str(ei.value)
        cur.execute("SELECT 1")
    assert email_of(enc, i) is None
    leaks.Scan(enc).check([m])
