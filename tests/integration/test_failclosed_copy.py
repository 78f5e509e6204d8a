# test_failclosed_copy.py - COPY matched to the statement that started it (several COPYs and other statements in one text, transaction blocks, the extended protocol, early data, COPYs PostgreSQL rejects) and malformed COPY rows reported, never dropped.
"""Issue 16, items 2 and 8.

Every test writes unique markers through COPY into encrypted columns, checks what
PostgreSQL stores (records, not text), reads the rows back through pgseal, and scans the
server's statement log, pg_dump, the table files and pgseal's log for the markers.
"""

import io
import struct
import subprocess

import psycopg
import psycopg2
import pytest

import harness
import leaks
from enc_harness import PSQL, enc, new_id  # noqa: F401  (enc is a fixture)
from harness import msg, parse_error_fields

PLAIN = "copy_plain_t"  # a table pgseal has no rule for (its name contains no encrypted table's)


@pytest.fixture
def plain(enc):
    enc.up_rows("CREATE TABLE IF NOT EXISTS %s (id int4, note text)" % PLAIN)
    return PLAIN


def stored(enc, ids):
    """{id: (email bytes as stored, name bytes as stored)} straight from PostgreSQL."""
    rows = enc.up_rows("SELECT id, email, name FROM people WHERE id = ANY(%s)", (list(ids),))
    return {r[0]: (bytes(r[1]) if r[1] is not None else None, bytes(r[2]) if r[2] is not None else None)
            for r in rows}


def assert_encrypted(enc, want):
    """want: {id: (email, name)}. PostgreSQL holds records; pgseal gives the values back."""
    st = stored(enc, want)
    assert set(st) == set(want), "rows missing upstream: %r" % (set(want) - set(st))
    for i, (email, name) in want.items():
        se, sn = st[i]
        assert se[:1] == b"\x02" and email.encode() not in se, "email of %d is not a searchable record" % i
        if name is not None:
            assert sn[:1] == b"\x01" and name.encode() not in sn, "name of %d is not a record" % i
    with enc.pg2() as c, c.cursor() as cur:
        cur.execute("SELECT id, email, name FROM people WHERE id = ANY(%s)", (list(want),))
        assert {r[0]: (r[1], r[2]) for r in cur.fetchall()} == want


def absent(enc, ids):
    assert stored(enc, ids) == {}, "rows of a failed COPY were stored"


def rows_of(want):
    return "".join("%d\t%s\t%s\n" % (i, e, n) for i, (e, n) in want.items())


def people(k, tag):
    out = {}
    for _ in range(k):
        i = new_id()
        out[i] = (leaks.marker(tag + "e") + "@x.org", leaks.marker(tag + "n"))
    return out


def psql_c(enc, sql, data, check=True):
    r = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", enc.dsn(), "-c", sql],
                       input=data.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r.returncode, r.stdout.decode(), r.stderr.decode()


# ---- item 2: the COPY is the one its statement started ------------------------------------

@pytest.mark.parametrize("lead", ["SELECT 1; ", "BEGIN; ", "SET search_path = public; SELECT 2; "])
def test_copy_not_first_statement_psycopg2(enc, lead):
    want = people(2, "p2")
    with enc.pg2(autocommit=False) as conn, conn.cursor() as cur:
        cur.copy_expert(lead + "COPY people (id, email, name) FROM STDIN", io.StringIO(rows_of(want)))
        conn.commit()
    assert_encrypted(enc, want)
    leaks.Scan(enc).check([m for v in want.values() for m in v])


def test_copy_not_first_statement_psql(enc, plain):
    """psql -c with several statements: each COPY reads its own data from stdin."""
    a, b = people(1, "qa"), people(2, "qb")
    i = new_id()
    sql = ("COPY (SELECT 1) TO STDOUT; SELECT 1; BEGIN; COPY people (id, email, name) FROM STDIN; COPY %s FROM STDIN; "
           "COPY people (id, email, name) FROM STDIN; COPY (SELECT id, email, name FROM people WHERE id IN (%s)) "
           "TO STDOUT; COMMIT" % (plain, ",".join(str(k) for k in list(a) + list(b))))
    data = rows_of(a) + "\\.\n" + "%d\tplain row\n\\.\n" % i + rows_of(b) + "\\.\n"
    _, out, _ = psql_c(enc, sql, data)
    # the COPY TO after the COPYs FROM decrypts its rows
    lines = out.splitlines()
    for row in rows_of({**a, **b}).splitlines():
        assert row in lines, out
    assert_encrypted(enc, {**a, **b})
    assert enc.up_rows("SELECT note FROM %s WHERE id = %%s" % plain, (i,)) == [("plain row",)]
    leaks.Scan(enc).check([m for v in list(a.values()) + list(b.values()) for m in v])


def test_copy_psycopg3_in_transaction_and_after_statements(enc):
    want, more = people(2, "p3"), people(1, "p3b")
    with enc.pg3(autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")  # psycopg opened the transaction block: the COPY runs inside it
        with cur.copy("COPY people (id, email, name) FROM STDIN") as cp:
            for i, (e, n) in want.items():
                cp.write_row((i, e, n))
        conn.commit()
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        # psycopg refuses a text with other statements: the COPY after a SELECT in the session
        with cur.copy("COPY people (id, email, name) FROM STDIN") as cp:
            for i, (e, n) in more.items():
                cp.write_row((i, e, n))
        ids = list(want) + list(more)
        with cur.copy("COPY (SELECT id, email, name FROM people WHERE id = ANY(%s) ORDER BY id) TO STDOUT",
                      (ids,)) as cp:
            got = {int(r[0]): (r[1], r[2]) for r in cp.rows()}
    assert got == {**want, **more}
    assert_encrypted(enc, {**want, **more})
    leaks.Scan(enc).check([m for v in list(want.values()) + list(more.values()) for m in v])


def test_plain_and_encrypted_copy_in_one_text_psycopg2(enc, plain):
    """COPY of a plain table first: its data is relayed, the encrypted one after it is still encrypted."""
    want = people(1, "pe")
    i = new_id()
    with enc.pg2(autocommit=False) as conn, conn.cursor() as cur:
        # psycopg2 feeds one COPY: the plain table's, which its statement is
        cur.copy_expert("COPY %s FROM STDIN; SELECT 1" % plain, io.StringIO("%d\tplain\n" % i))
        cur.copy_expert("SELECT 1; COPY people (id, email, name) FROM STDIN; SELECT 2", io.StringIO(rows_of(want)))
        conn.commit()
    assert enc.up_rows("SELECT note FROM %s WHERE id = %%s" % plain, (i,)) == [("plain",)]
    assert_encrypted(enc, want)
    leaks.Scan(enc).check([m for v in want.values() for m in v])


def raw_session(enc):
    r = harness.Raw("127.0.0.1", enc.proxy.port)
    r.startup_trust()
    return r


def copy_data(text):
    return msg(b"d", text.encode())


def test_raw_data_before_copyinresponse(enc):
    """A client that sends its rows right behind the Query (before the server's CopyInResponse):
    the rows wait for pgseal to know the COPY, then go encrypted."""
    want = people(3, "early")
    with raw_session(enc) as r:
        r.send(msg(b"Q", b"SELECT 1; COPY people (id, email, name) FROM STDIN\0") +
               b"".join(copy_data("%d\t%s\t%s\n" % (i, e, n)) for i, (e, n) in want.items()) + msg(b"c"))
        got = r.read_until({b"Z"})
        tags = [t for t, _ in got]
        assert b"E" not in tags, [parse_error_fields(p) for t, p in got if t == b"E"]
        assert (b"C", b"COPY 3\0") in got
    assert_encrypted(enc, want)
    leaks.Scan(enc).check([m for v in want.values() for m in v])


def test_raw_extended_protocol_copy(enc):
    """Parse/Bind/Execute of a COPY on an encrypted table, with libpq's order: Sync before the data
    (the server's COPY reads and ignores it) and another after CopyDone."""
    want = people(2, "ext")
    with raw_session(enc) as r:
        q = b"COPY people (id, email, name) FROM STDIN"
        r.send(msg(b"P", b"\0" + q + b"\0" + struct.pack("!H", 0)) +
               msg(b"B", b"\0\0" + struct.pack("!HHH", 0, 0, 0)) + msg(b"E", b"\0" + struct.pack("!I", 0)) +
               msg(b"S"))
        got = r.read_until({b"G", b"E", b"Z"})
        assert got[-1][0] == b"G", got
        r.send(b"".join(copy_data("%d\t%s\t%s\n" % (i, e, n)) for i, (e, n) in want.items()) + msg(b"c") + msg(b"S"))
        got = r.read_until({b"Z"})
        assert (b"C", b"COPY 2\0") in got and got[-1] == (b"Z", b"I"), got
        # the session goes on: the next statement gets its own answers
        rows, err = r.query("SELECT count(*) FROM people WHERE id IN (%s)" % ",".join(map(str, want)))
        assert err is None and rows == [["2"]]
        # COPY ... TO STDOUT of the encrypted table, also through Parse/Bind/Execute: decrypted
        q = ("COPY (SELECT id, email, name FROM people WHERE id IN (%s) ORDER BY id) TO STDOUT"
             % ",".join(map(str, want))).encode()
        r.send(msg(b"P", b"s1\0" + q + b"\0" + struct.pack("!H", 0)) +
               msg(b"B", b"\0s1\0" + struct.pack("!HHH", 0, 0, 0)) + msg(b"E", b"\0" + struct.pack("!I", 0)) +
               msg(b"S"))
        got = r.read_until({b"Z"})
        data = "".join(p.decode() for t, p in got if t == b"d")
        assert data == rows_of(dict(sorted(want.items()))), got
    assert_encrypted(enc, want)
    leaks.Scan(enc).check([m for v in want.values() for m in v])


def test_copy_postgres_rejects(enc):
    """PostgreSQL answers the COPY with an error instead of CopyInResponse: data sent early
    goes nowhere, the statement after a rejected COPY is the next one's."""
    rows = people(1, "rej")
    with raw_session(enc) as r:
        r.send(msg(b"Q", b"COPY people (id, email, no_such_column) FROM STDIN\0") +
               b"".join(copy_data("%d\t%s\t%s\n" % (i, e, n)) for i, (e, n) in rows.items()) + msg(b"c"))
        got = r.read_until({b"Z"})
        errs = [parse_error_fields(p) for t, p in got if t == b"E"]
        assert len(errs) == 1 and errs[0]["C"] == "42703", got
        rows_, err = r.query("SELECT 1")
        assert err is None and rows_ == [["1"]]
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.copy_expert("SELECT 1; COPY people (id, nope) FROM STDIN", io.StringIO(rows_of(rows)))
        assert ei.value.pgcode == "42703"
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)
    absent(enc, rows)
    leaks.Scan(enc).check([m for v in rows.values() for m in v])


# ---- item 8: malformed rows are errors -----------------------------------------------------

MALFORMED = [
    # (format option, data after the good rows, the message's reason, its line (1-based after the good rows))
    ("", "%d\t%s\t%s\textra\n", "extra data after last expected column", 1),
    ("", "%d\t%s\n", "missing data for a column", 1),
    ("", "%d\t%s\t%s\\", "a backslash at the end of the data", 1),
    ("(FORMAT csv)", "%d,%s,\"%s", "unterminated CSV quoted field", 1),
    ("(FORMAT csv)", "%d,%s,%s,x\n", "extra data after last expected column", 1),
]


def bad_case(fmt, tail, good, bad):
    sep = "," if fmt else "\t"
    data = "".join(sep.join([str(i), e, n]) + "\n" for i, (e, n) in good.items())
    (bi, (be, bn)), = bad.items()
    need = tail.count("%")
    return data + tail % (bi, be, bn)[:need]


@pytest.mark.parametrize("fmt,tail,why,line", MALFORMED)
def test_malformed_row_psycopg2(enc, fmt, tail, why, line):
    good, bad, later = people(2, "mg"), people(1, "mb"), people(1, "ml")
    data = bad_case(fmt, tail, good, bad)
    if tail.endswith("\n"):
        data += "".join(("," if fmt else "\t").join([str(i), e, n]) + "\n" for i, (e, n) in later.items())
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.copy_expert("COPY people (id, email, name) FROM STDIN %s" % fmt, io.StringIO(data))
        assert ei.value.pgcode == "22P04", ei.value
        text = str(ei.value)
        assert why in text and "line %d" % (len(good) + line) in text, text
        assert "@x.org" not in text and "MARK" not in text
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    absent(enc, list(good) + list(bad) + list(later))
    log = enc.proxy.log_text()
    assert "COPY refused (22P04)" in log
    leaks.Scan(enc).check([m for v in list(good.values()) + list(bad.values()) + list(later.values()) for m in v])


def test_malformed_row_in_transaction_block_psycopg3(enc):
    """The failed COPY leaves the transaction aborted, as PostgreSQL's own COPY error would."""
    good, bad = people(1, "tg"), people(1, "tb")
    with enc.pg3(autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            with pytest.raises(psycopg.Error) as ei:
                with cur.copy("COPY people (id, email, name) FROM STDIN (FORMAT csv)") as cp:
                    cp.write(bad_case("(FORMAT csv)", "%d,%s,\"%s", good, bad))
            assert ei.value.sqlstate == "22P04"
            assert "unterminated CSV quoted field" in str(ei.value)
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
    absent(enc, list(good) + list(bad))
    leaks.Scan(enc).check([m for v in list(good.values()) + list(bad.values()) for m in v])


def test_malformed_row_psql_copy(enc, tmp_path):
    """psql \\copy from a file with a row of too many fields."""
    good, bad = people(2, "sg"), people(1, "sb")
    path = tmp_path / "rows.txt"
    path.write_text(bad_case("", "%d\t%s\t%s\textra\n", good, bad))
    r = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", enc.dsn(), "-c",
                        "\\copy people (id, email, name) FROM '%s'" % path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    err = r.stderr.decode()
    assert r.returncode != 0 and "extra data after last expected column" in err and "line 3" in err, err
    assert "MARK" not in err
    absent(enc, list(good) + list(bad))
    leaks.Scan(enc).check([m for v in list(good.values()) + list(bad.values()) for m in v])


def test_good_last_row_without_newline_is_kept(enc):
    """PostgreSQL takes a last row without its newline: so does pgseal (it was dropped)."""
    want = people(2, "nl")
    data = rows_of(want).rstrip("\n")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.copy_expert("COPY people (id, email, name) FROM STDIN", io.StringIO(data))
        assert cur.rowcount == 2
    assert_encrypted(enc, want)


def extended_copy_start(r, sql):
    r.send(msg(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0)) +
           msg(b"B", b"\0\0" + struct.pack("!HHH", 0, 0, 0)) + msg(b"E", b"\0" + struct.pack("!I", 0)) + msg(b"S"))
    got = r.read_until({b"G", b"E", b"Z"})
    assert got[-1][0] == b"G", got


def test_raw_extended_malformed_row_and_syncs_in_the_data(enc):
    """Extended protocol: a Sync between CopyData messages is read by the server's COPY
    (no answer); a malformed row then fails the COPY, and the client's Sync after its
    CopyDone gets the one ReadyForQuery."""
    good, bad = people(2, "xs"), people(1, "xb")
    with raw_session(enc) as r:
        extended_copy_start(r, "COPY people (id, email, name) FROM STDIN")
        (i1, (e1, n1)), (i2, (e2, n2)) = good.items()
        (bi, (be, bn)), = bad.items()
        r.send(copy_data("%d\t%s\t%s\n" % (i1, e1, n1)) + msg(b"S") + copy_data("%d\t%s\t%s\n" % (i2, e2, n2)) +
               msg(b"H") + copy_data("%d\t%s\n" % (bi, be)) + copy_data("%d\t%s\t%s\n" % (i2 + 1000000, bn, bn)) +
               msg(b"c") + msg(b"S"))
        got = r.read_until({b"Z"})
        errs = [parse_error_fields(p) for t, p in got if t == b"E"]
        assert len(errs) == 1 and errs[0]["C"] == "22P04" and "line 3" in errs[0]["M"], got
        assert "MARK" not in errs[0]["M"]
        rows, err = r.query("SELECT 1")
        assert err is None and rows == [["1"]]
    absent(enc, list(good) + list(bad) + [i2 + 1000000])
    leaks.Scan(enc).check([m for v in list(good.values()) + list(bad.values()) for m in v])


def test_raw_server_error_mid_copy_drops_the_rest(enc):
    """The server ends the COPY with its own error (a bad plain value) while the client still
    sends: the rest of the rows go nowhere, the session goes on."""
    first, rest = people(1, "d1"), people(3, "d2")
    (i1, (e1, n1)), = first.items()
    with raw_session(enc) as r:
        r.send(msg(b"Q", b"COPY people (id, email, name) FROM STDIN\0"))
        assert r.read_until({b"G", b"E", b"Z"})[-1][0] == b"G"
        # an id that is no integer (a plain column: the server reads it): it fails on that row
        r.send(copy_data("%d\t%s\t%s\nnot-an-id\t%s\t%s\n" % (i1, e1, n1, e1, n1)))
        got = r.read_until({b"E"})
        assert parse_error_fields(got[-1][1])["C"] == "22P02", got
        r.send(b"".join(copy_data("%d\t%s\t%s\n" % (i, e, n)) for i, (e, n) in rest.items()) + msg(b"c"))
        got = r.read_until({b"Z"})
        assert got[-1][0] == b"Z" and b"E" not in [t for t, _ in got], got
        rows, err = r.query("SELECT 2")
        assert err is None and rows == [["2"]]
    absent(enc, list(first) + list(rest))
    leaks.Scan(enc).check([m for v in list(first.values()) + list(rest.values()) for m in v])
