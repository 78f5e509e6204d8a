# test_encryption_read.py - the read path: aliases, SELECT *, subqueries, CTEs, RETURNING, cursors, declared types, NULL, decryption failures.
import io

import psycopg
import psycopg2
import pytest

from enc_harness import canary, check_reads, enc, new_id  # noqa: F401


@pytest.fixture
def row(enc):
    i = new_id()
    e, n = canary("rd"), canary("rd")
    with enc.pg2() as c, c.cursor() as cur:
        cur.execute("INSERT INTO people (id, email, name, phone, note) VALUES (%s, %s, %s, NULL, 'plain')", (i, e, n))
    return i, e, n


def test_read_shapes(enc, row):
    i, e, n = row
    cases = [
        ("SELECT * FROM people WHERE id = %s", [(i, e, n, None, "plain")]),
        ("SELECT email AS mail, p.name AS \"Who\", p.* FROM people p WHERE p.id = %s", [(e, n, i, e, n, None, "plain")]),
        ("SELECT x.m FROM (SELECT email AS m FROM people WHERE id = %s) x", [(e,)]),
        ("WITH c AS (SELECT id, email, name FROM people WHERE id = %s) SELECT name, email FROM c", [(n, e)]),
        ("SELECT a.email, b.name FROM people a JOIN people b ON a.id = b.id WHERE a.id = %s", [(e, n)]),
        ("SELECT email, length(note), note || '!' FROM people WHERE id = %s", [(e, 5, "plain!")]),
        ("SELECT t.* FROM (SELECT * FROM people) t WHERE t.id = %s", [(i, e, n, None, "plain")]),
        ("SELECT phone, email IS NULL, phone IS NULL FROM people WHERE id = %s", [(None, False, True)]),
    ]
    for binary in (False, True):
        with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
            for sql, want in cases:
                cur.execute(sql, (i,))
                assert cur.fetchall() == want, (sql, binary)
    with enc.pg2() as conn, conn.cursor() as cur:
        for sql, want in cases:
            cur.execute(sql, (i,))
            assert cur.fetchall() == want, sql


@pytest.mark.parametrize("sql,rows", [
    ("SELECT (SELECT name FROM people WHERE id = %s)", 1),
    ("SELECT email FROM people WHERE id = %s UNION ALL SELECT email FROM people WHERE id = -1", 1),
    ("WITH RECURSIVE r(k, em) AS (SELECT 1, email FROM people WHERE id = %s UNION ALL "
     "SELECT k + 1, em FROM r WHERE k < 3) SELECT em FROM r", 3),
], ids=["scalar-subquery", "union-all", "recursive-cte"])
def test_read_without_origin(enc, row, sql, rows):
    i, e, n = row
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.execute(sql, (i,))
        got = cur.fetchall()
        assert got == [(n if "name" in sql else e,)] * rows


def test_scalar_subquery_in_select_list(enc, row):
    """A scalar subquery returning an encrypted column unchanged is a whole output column: decrypted."""
    i, e, n = row
    cases = [
        ("SELECT (SELECT name FROM people WHERE id = %(i)s)", [(n,)], [25]),
        ("SELECT (SELECT email FROM people WHERE id = %(i)s) AS mail, 7 AS k", [(e, 7)], [25, 23]),
        ("SELECT id, (SELECT email FROM people p2 WHERE p2.id = p.id) AS e FROM people p WHERE p.id = %(i)s",
         [(i, e)], [20, 25]),
        ("SELECT (SELECT phone FROM people WHERE id = %(i)s), (SELECT name FROM people WHERE id = -1)",
         [(None, None)], [25, 25]),
        ("SELECT x.m FROM (SELECT (SELECT email FROM people WHERE id = %(i)s) AS m) x", [(e,)], [25]),
        ("SELECT (SELECT email FROM people WHERE email = %(e)s AND id = %(i)s)", [(e,)], [25]),
        ("SELECT (SELECT c_int8 FROM typed WHERE id = -1)", [(None,)], [20]),
    ]
    check_reads(enc, cases, {"i": i, "e": e})
    # a typed column: the declared type and its binary form
    j = new_id()
    with enc.pg3() as conn, conn.cursor(binary=True) as cur:
        cur.execute("INSERT INTO typed (id, c_int8, c_date) VALUES (%s, %s, '2024-02-29')", (j, 1234567890123))
        cur.execute("SELECT (SELECT c_int8 FROM typed WHERE id = %s), (SELECT c_date FROM typed WHERE id = %s)", (j, j))
        import datetime
        assert cur.fetchall() == [(1234567890123, datetime.date(2024, 2, 29))]


@pytest.mark.parametrize("sql", [
    "SELECT (SELECT name FROM people WHERE id = %s) || 'x'",
    "SELECT lower((SELECT email FROM people WHERE id = %s))",
    "SELECT (SELECT email FROM people WHERE id = %s) = 'a'",
    "SELECT 1 WHERE (SELECT email FROM people WHERE id = %s) = 'a'",
    "SELECT (SELECT email FROM people WHERE id = %s) AS e ORDER BY e",
    "SELECT ARRAY(SELECT email FROM people WHERE id = %s)",
])
def test_scalar_subquery_in_expression_refused(enc, row, sql):
    from enc_harness import refused
    i, e, n = row
    with enc.pg3() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg.Error) as ei:
            cur.execute(sql, (i,))
        refused(ei.value, "people.")


def test_declared_types_in_descriptions(enc, row):
    i, e, n = row
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, email, name, phone, note FROM people WHERE id = %s", (i,))
        assert [d.type_code for d in cur.description] == [20, 25, 25, 25, 25]
        cur.execute("SELECT c_int8, c_date, c_uuid, c_jsonb, c_bytea FROM typed LIMIT 0")
        assert [d.type_code for d in cur.description] == [20, 1082, 2950, 3802, 17]
    with enc.pg3() as conn:
        pgc = conn.pgconn
        # ParameterDescription and RowDescription of a prepared statement carry the declared types
        r = pgc.prepare(b"pdesc", b"SELECT id, email, name FROM people WHERE email = $1 AND id = $2")
        assert r.status == psycopg.pq.ExecStatus.COMMAND_OK, r.error_message
        d = pgc.describe_prepared(b"pdesc")
        assert [d.param_type(k) for k in range(d.nparams)] == [25, 20]
        assert [d.ftype(k) for k in range(d.nfields)] == [20, 25, 25]
        r = pgc.prepare(b"pins", b"INSERT INTO typed (id, c_int8, c_date, c_numeric) VALUES ($1, $2, $3, $4) RETURNING c_date")
        assert r.status == psycopg.pq.ExecStatus.COMMAND_OK, r.error_message
        d = pgc.describe_prepared(b"pins")
        assert [d.param_type(k) for k in range(d.nparams)] == [23, 20, 1082, 1700]
        assert [d.ftype(k) for k in range(d.nfields)] == [1082]


def test_returning_update_delete(enc, row):
    i, e, n = row
    e2 = canary("rd")
    with enc.pg3() as conn, conn.cursor(binary=True) as cur:
        cur.execute("UPDATE people SET email = %s WHERE id = %s RETURNING email, name, id", (e2, i))
        assert cur.fetchall() == [(e2, n, i)]
        cur.execute("DELETE FROM people WHERE email = %s RETURNING *", (e2,))
        assert cur.fetchall() == [(i, e2, n, None, "plain")]


def test_server_side_cursors(enc):
    ids = [new_id() for _ in range(25)]
    emails = [canary("cur") for _ in ids]
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO people (id, email, name) VALUES (%s, %s, %s)", [(i, e, "c") for i, e in zip(ids, emails)])
    with enc.pg3(autocommit=False) as conn:
        with conn.cursor(name="ssc") as cur:  # DECLARE ... CURSOR + FETCH
            cur.itersize = 7
            cur.execute("SELECT id, email FROM people WHERE id BETWEEN %s AND %s ORDER BY id", (ids[0], ids[-1]))
            assert list(cur) == list(zip(ids, emails))
        conn.commit()
    with enc.pg2(autocommit=False) as conn:
        with conn.cursor(name="ssc2") as cur:
            cur.itersize = 4
            cur.execute("SELECT email FROM people WHERE id BETWEEN %s AND %s ORDER BY id", (ids[0], ids[-1]))
            assert [r[0] for r in cur] == emails
        conn.commit()


def _corrupt(enc, col, i):
    """Flips the last byte (GCM tag) of one stored record, directly in PostgreSQL."""
    enc.up_rows("UPDATE failing SET %s = overlay(%s placing decode(lpad(to_hex(get_byte(%s, length(%s) - 1) # 1), 2, '0'), 'hex') "
                "from length(%s)) WHERE id = %%s" % (col, col, col, col, col), (i,))


def test_response_on_fail(enc):
    i = new_id()
    secret = canary("fail")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO failing (id, f_err, f_ct, f_def, f_defint) VALUES (%s, %s, %s, %s, 5)", (i, secret, secret, secret))
        cur.execute("SELECT f_err, f_ct, f_def, f_defint FROM failing WHERE id = %s", (i,))
        assert cur.fetchall() == [(secret, secret, secret, 5)]
    for col in ("f_err", "f_ct", "f_def", "f_defint"):
        _corrupt(enc, col, i)
    stored = {c: bytes(v) for c, v in zip(("f_err", "f_ct"), enc.up_rows("SELECT f_err, f_ct FROM failing WHERE id = %s", (i,))[0])}
    with enc.pg2() as conn, conn.cursor() as cur:
        # error: XX001, naming the column, never the stored bytes; the session stays usable
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT id, f_err FROM failing WHERE id = %s", (i,))
            cur.fetchall()
        assert ei.value.pgcode == "XX001", ei.value
        assert "failing.f_err" in str(ei.value)
        assert stored["f_err"].hex() not in str(ei.value) and secret not in str(ei.value)
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
        # ciphertext: the stored bytes (bytea), default_value: the configured value
        cur.execute("SELECT f_ct, f_def, f_defint FROM failing WHERE id = %s", (i,))
        (ct, d, di), = cur.fetchall()
        assert d == "redacted" and di == -1
        assert secret not in str(ct)
        assert str(ct) in ("\\x" + stored["f_ct"].hex(), stored["f_ct"].hex()) or bytes(ct) == stored["f_ct"], ct
    for binary in (False, True):
        with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
            cur.execute("SELECT f_def, f_defint FROM failing WHERE id = %s", (i,))
            assert cur.fetchall() == [("redacted", -1)]
            with pytest.raises(psycopg.Error) as ei:
                cur.execute("SELECT f_err FROM failing WHERE id = %s", (i,))
            assert ei.value.sqlstate == "XX001"
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)


def test_record_moved_to_another_column_is_not_decrypted(enc):
    """The AAD binds table.column: a record copied by a DBA into another column does not decrypt there."""
    i = new_id()
    secret = canary("move")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO failing (id, f_err) VALUES (%s, %s)", (i, secret))
    enc.up_rows("UPDATE failing SET f_def = f_err, f_ct = f_err WHERE id = %s", (i,))
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("SELECT f_err, f_def FROM failing WHERE id = %s", (i,))
        assert cur.fetchall() == [(secret, "redacted")]
        cur.execute("SELECT f_ct FROM failing WHERE id = %s", (i,))
        assert secret not in str(cur.fetchone()[0])
    # a record of people.phone copied into people.email (a row swap across columns). Both are
    # searchable: a plain record (people.name) in people.email is refused by PostgreSQL itself,
    # the record CHECK constraint of `pgseal schema` (tests/integration/test_db_wall.py)
    j = new_id()
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO people (id, email, name, phone) VALUES (%s, 'e@x', %s, %s)", (j, secret, secret))
    with pytest.raises(psycopg2.Error) as ei:
        enc.up_rows("UPDATE people SET email = name WHERE id = %s", (j,))
    assert ei.value.pgcode == "23514" and "pgseal_record_email" in str(ei.value), ei.value
    enc.up_rows("UPDATE people SET email = phone WHERE id = %s", (j,))
    try:
        with enc.pg2() as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute("SELECT email FROM people WHERE id = %s", (j,))
            assert ei.value.pgcode == "XX001" and secret not in str(ei.value)
    finally:
        enc.up_rows("DELETE FROM people WHERE id = %s", (j,))  # other tests COPY the whole table


def test_copy_out_with_default_and_ciphertext_responses(enc):
    i = new_id()
    secret = canary("cpf")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO failing (id, f_ct, f_def, f_defint) VALUES (%s, %s, %s, 3)", (i, secret, secret))
    for col in ("f_ct", "f_def", "f_defint"):
        _corrupt(enc, col, i)
    (ct,), = enc.up_rows("SELECT f_ct FROM failing WHERE id = %s", (i,))
    with enc.pg2() as conn, conn.cursor() as cur:
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, f_ct, f_def, f_defint FROM failing WHERE id = %d) TO STDOUT" % i, out)
        assert out.getvalue() == "%d\t\\\\x%s\tredacted\t-1\n" % (i, bytes(ct).hex())


def test_copy_out_decryption_failure_is_an_error(enc):
    i = new_id()
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO failing (id, f_err) VALUES (%s, 'will be corrupted')", (i,))
    _corrupt(enc, "f_err", i)
    conn = enc.pg2()
    try:
        with conn.cursor() as cur:
            with pytest.raises(psycopg2.Error) as ei:
                cur.copy_expert("COPY (SELECT id, f_err FROM failing WHERE id = %d) TO STDOUT" % i, io.StringIO())
            assert ei.value.pgcode == "XX001", ei.value
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        enc.up_rows("DELETE FROM failing WHERE id = %s", (i,))
        conn.close()


def test_suspended_portal_binary_results(enc):
    """Extended protocol on the wire: Execute with a row limit (PortalSuspended), binary result format."""
    import struct
    from harness import Raw, msg
    ids = [new_id() for _ in range(5)]
    emails = [canary("portal") for _ in ids]
    with enc.pg3() as conn:
        conn.cursor().executemany("INSERT INTO people (id, email) VALUES (%s, %s)", list(zip(ids, emails)))
    q = ("SELECT email FROM people WHERE id BETWEEN %d AND %d ORDER BY id" % (ids[0], ids[-1])).encode()
    with Raw("127.0.0.1", enc.proxy.port, timeout=10) as r:
        r.startup_trust()
        r.send(msg(b"P", b"st\0" + q + b"\0" + struct.pack("!H", 0)) +
               msg(b"B", b"po\0st\0" + struct.pack("!HHHH", 0, 0, 1, 1)) +  # no params, results: binary
               msg(b"D", b"Ppo\0") + msg(b"E", b"po\0" + struct.pack("!I", 2)) + msg(b"H"))
        got, tags = [], []
        for _ in range(3):
            for tag, payload in r.read_until({b"s", b"C", b"E"}):
                tags.append(tag)
                if tag == b"D":
                    (n,) = struct.unpack("!i", payload[2:6])
                    got.append(payload[6:6 + n].decode())
                if tag == b"T":
                    assert struct.unpack("!I", payload[-12:-8])[0] == 25  # declared type, not bytea
            if tags[-1] == b"C":
                break
            r.send(msg(b"E", b"po\0" + struct.pack("!I", 2)) + msg(b"H"))
        r.send(msg(b"S"))
        r.read_until({b"Z"})
        assert b"E" not in tags and tags.count(b"s") == 2, tags
        assert got == emails
