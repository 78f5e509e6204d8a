# test_encryption_write.py - write paths through pgseal: INSERT forms, UPDATE, parameters, PREPARE/EXECUTE, multi-statement, COPY.
import io

import psycopg
import pytest

from enc_harness import canary, enc, new_id  # noqa: F401  (enc is a fixture)


def people(enc, *ids):
    """id -> (email, name, phone, note) read through pgseal."""
    with enc.pg2() as c, c.cursor() as cur:
        cur.execute("SELECT id, email, name, phone, note FROM people WHERE id = ANY(%s) ORDER BY id", (list(ids),))
        return {r[0]: r[1:] for r in cur.fetchall()}


def stored(enc, *ids):
    """id -> (email, name, phone, note) as PostgreSQL stores them (bytes for the encrypted columns)."""
    rows = enc.up_rows("SELECT id, email, name, phone, note FROM people WHERE id = ANY(%s)", (list(ids),))
    return {r[0]: tuple(bytes(x) if isinstance(x, memoryview) else x for x in r[1:]) for r in rows}


def assert_records(enc, ids, plain_by_id):
    """Every stored encrypted value is a pgseal record of the right format, never the plaintext."""
    st = stored(enc, *ids)
    for i in ids:
        email, name, phone, note = st[i]
        pe, pn, pp = plain_by_id[i][:3]
        for rec, plain, searchable in ((email, pe, True), (name, pn, False), (phone, pp, True)):
            if plain is None:
                assert rec is None
                continue
            assert rec is not None
            assert rec[0] == (2 if searchable else 1)
            # 1 format byte + [32 blind index] + 4 key id + 12 nonce + n + 16 tag
            assert len(rec) == len(plain.encode()) + (65 if searchable else 33)
            if len(plain) >= 4:
                assert plain.encode() not in rec


def test_insert_forms_simple_protocol(enc):
    a, b, c, d, e = (new_id() for _ in range(5))
    ce, cn = canary("ins"), canary("ins")
    sql = (
        # column list, literals, a cast and CAST(), DEFAULT and NULL
        "INSERT INTO people (id, email, name, phone, note) VALUES (%d, '%s', '%s'::text, CAST('555-0101' AS varchar), 'n1');"
        # multi-row VALUES with different column orders
        "INSERT INTO people (name, id, email) VALUES ('Bob', %d, 'bob@x'), ('Cy', %d, NULL);"
        # DEFAULT and NULL in an encrypted column, E'' string with a quote
        "INSERT INTO people (id, email, name, phone) VALUES (%d, DEFAULT, E'O\\'Brien', NULL);"
        # without a column list (the config lists the columns)
        "INSERT INTO people VALUES (%d, 'nolist@x', $$dollar$$, '12', 'plain')"
        % (a, ce, cn, b, c, d, e))
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute(sql)
    got = people(enc, a, b, c, d, e)
    want = {
        a: (ce, cn, "555-0101", "n1"),
        b: ("bob@x", "Bob", None, None),
        c: (None, "Cy", None, None),
        d: (None, "O'Brien", None, None),
        e: ("nolist@x", "dollar", "12", "plain"),
    }
    assert got == want
    assert_records(enc, [a, b, c, d, e], want)


def test_insert_returning_and_on_conflict(enc):
    i = new_id()
    e1, e2 = canary("oc"), canary("oc")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO people (id, email, name) VALUES (%s, %s, 'first') RETURNING id, email, name, phone",
                    (i, e1))
        assert cur.fetchall() == [(i, e1, "first", None)]
        cur.execute("INSERT INTO people AS p (id, email, name) VALUES (%s, %s, 'second') "
                    "ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name "
                    "RETURNING p.email, p.name", (i, e2))
        assert cur.fetchall() == [(e2, "second")]
        cur.execute("INSERT INTO people (id, email) VALUES (%s, 'ignored') ON CONFLICT (id) DO UPDATE SET phone = '777'",
                    (i,))
        cur.execute("INSERT INTO people (id, email) VALUES (%s, 'x') ON CONFLICT DO NOTHING RETURNING people.email", (i,))
        assert cur.fetchall() == []
        cur.execute("SELECT count(*) FROM people WHERE email = %s", (e2,))
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM people WHERE email = %s", (e1,))
        assert cur.fetchone()[0] == 0
    assert people(enc, i) == {i: (e2, "second", "777", None)}
    assert_records(enc, [i], {i: (e2, "second", "777")})


@pytest.mark.parametrize("conflict", ["DO NOTHING", "(id) DO UPDATE SET email = EXCLUDED.email"])
def test_on_conflict_returning_unqualified(enc, conflict):
    i = new_id()
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO people (id, email) VALUES (%s, 'oc1@x')", (i,))
        cur.execute("INSERT INTO people (id, email) VALUES (%%s, 'oc2@x') ON CONFLICT %s RETURNING email" % conflict, (i,))
        assert cur.fetchall() == ([] if conflict == "DO NOTHING" else [("oc2@x",)])


def test_update_set(enc):
    i, j = new_id(), new_id()
    e, n = canary("upd"), canary("upd")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO people (id, email, name, phone) VALUES (%s, 'old@x', 'old', '1'), (%s, 'keep@x', 'k', '2')",
                    (i, j))
        cur.execute("UPDATE people SET email = '%s', name = %%s, phone = NULL WHERE id = %%s" % e, (n, i))
        assert cur.rowcount == 1
        # UPDATE located by a searchable column, RETURNING the new value
        cur.execute("UPDATE people SET phone = '999' WHERE email = %s RETURNING id, phone", (e,))
        assert cur.fetchall() == [(i, "999")]
        cur.execute("UPDATE people SET name = DEFAULT WHERE id = %s", (j,))
    assert people(enc, i, j) == {i: (e, n, "999", None), j: ("keep@x", None, "2", None)}
    assert_records(enc, [i, j], {i: (e, n, "999"), j: ("keep@x", None, "2")})


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_extended_params(enc, binary):
    """psycopg 3: server-side binding, named prepared statements from the first use, text/binary params."""
    ids = [new_id() for _ in range(3)]
    emails = [canary("p3") for _ in ids]
    with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
        ph = "%b" if binary else "%t"
        for i, e in zip(ids, emails):
            cur.execute("INSERT INTO people (id, email, name, phone) VALUES (%s, {0}, {0}, {0})".format(ph),
                        (i, e, "name-" + e, None))
        cur.executemany("UPDATE people SET phone = {0} WHERE id = {0}".format(ph), [("p" + str(i), i) for i in ids])
        for i, e in zip(ids, emails):
            cur.execute("SELECT id, email, name, phone FROM people WHERE email = {0}".format(ph), (e,))
            assert cur.fetchall() == [(i, e, "name-" + e, "p" + str(i))]
    assert_records(enc, ids, {i: (e, "name-" + e, "p" + str(i)) for i, e in zip(ids, emails)})


def test_sql_prepare_execute_in_one_query(enc):
    """PREPARE and EXECUTE in the same simple Query."""
    i, k = new_id(), new_id()
    e = canary("prep")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("PREPARE q1 AS INSERT INTO people (id, email, name) VALUES ($1, $2, $3); "
                    "EXECUTE q1(%d, '%s', 'prepared'); EXECUTE q1(%d, NULL, 'inone'); DEALLOCATE q1" % (i, e, k))
        cur.execute("PREPARE s1 AS SELECT id, name FROM people WHERE email = $1; EXECUTE s1('%s')" % e)
        assert cur.fetchall() == [(i, "prepared")]
        cur.execute("DEALLOCATE s1")
    assert people(enc, i, k) == {i: (e, "prepared", None, None), k: (None, "inone", None, None)}
    assert_records(enc, [i, k], {i: (e, "prepared", None), k: (None, "inone", None)})


def test_sql_prepare_then_execute(enc):
    """PREPARE in one Query, EXECUTE in the next (what psql and most tools do)."""
    i = new_id()
    e = canary("prepx")
    conn = enc.pg2()  # autocommit, no `with conn` (psycopg2 2.9 would open a transaction)
    try:
        cur = conn.cursor()
        cur.execute("PREPARE ins_p AS INSERT INTO people (id, email, name) VALUES ($1, $2, $3)")
        try:
            cur.execute("EXECUTE ins_p(%d, '%s', 'prepared')" % (i, e))
        finally:
            st = stored(enc, i).get(i)
            # clean up what PostgreSQL stored before asserting: it must never hold the plaintext
            enc.up_rows("DELETE FROM people WHERE id = %s", (i,))
        assert st is not None and st[0] is not None
        assert e.encode() not in st[0] and st[0][0] == 2, "EXECUTE stored the plaintext"
        cur.execute("EXECUTE ins_p(%d, '%s', 'prepared')" % (i, e))
        cur.execute("PREPARE sel_p AS SELECT id, name FROM people WHERE email = $1")
        cur.execute("EXECUTE sel_p('%s')" % e)
        assert cur.fetchall() == [(i, "prepared")]
        cur.execute("DEALLOCATE ins_p; DEALLOCATE sel_p")
    finally:
        conn.close()
    assert people(enc, i) == {i: (e, "prepared", None, None)}


@pytest.mark.parametrize("stmt", ["INSERT INTO people (id, email) VALUES ($1, $2)",
                                  "SELECT id FROM people WHERE email = $2 AND id = $1"])
def test_sql_prepare_with_param_types(enc, stmt):
    i = new_id()
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO people (id, email) VALUES (%s, 'typed@x')", (i,))
        cur.execute("PREPARE typed_p(int8, text) AS " + stmt)
        j = new_id() if stmt.startswith("INSERT") else i
        cur.execute("EXECUTE typed_p(%d, 'typed@x')" % j)
        if stmt.startswith("SELECT"):
            assert cur.fetchall() == [(i,)]
        cur.execute("DEALLOCATE typed_p")
    assert enc.up_rows("SELECT count(*) FROM people WHERE id IN (%s, %s) AND substr(email, 1, 1) = '\\x02'::bytea",
                       (i, j)) == [(2 if j != i else 1,)]


def test_multi_statement_simple_query(enc):
    i, j = new_id(), new_id()
    e = canary("multi")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("BEGIN; INSERT INTO people (id, email, name) VALUES (%d, '%s', 'm1');"
                    "INSERT INTO people (id, email, name) VALUES (%d, '%s', 'm2');"
                    "UPDATE people SET phone = '42' WHERE email = '%s'; COMMIT;"
                    "SELECT id, name, phone FROM people WHERE email = '%s' ORDER BY id" % (i, e, j, e, e, e))
        assert cur.fetchall() == [(i, "m1", "42"), (j, "m2", "42")]
    assert_records(enc, [i, j], {i: (e, "m1", "42"), j: (e, "m2", "42")})


def test_psql_writes_and_reads(enc):
    i = new_id()
    e = canary("psql")
    rc, out, err = enc.psql_stdin(
        "INSERT INTO people (id, email, name, phone) VALUES (%d, '%s', 'ps ql', '+1 (555)');\n"
        "SELECT email, name, phone FROM people WHERE email = '%s';\n"
        "SELECT id FROM people WHERE phone = '+1 (555)' AND email IN ('nothing', '%s');\n" % (i, e, e, e))
    assert rc == 0, err
    assert out.splitlines() == ["INSERT 0 1", "%s|ps ql|+1 (555)" % e, str(i)], out
    assert_records(enc, [i], {i: (e, "ps ql", "+1 (555)")})


def copy_rows(n, tag):
    ids = [new_id() for _ in range(n)]
    rows = []
    for k, i in enumerate(ids):
        rows.append((i, canary(tag), "name\t%d, \"quoted\"\\" % k if k % 3 == 0 else "n%d" % k,
                     None if k % 4 == 1 else "ph%d" % k, "note%d" % k))
    return ids, rows


def test_copy_text_in_and_out(enc):
    ids, rows = copy_rows(50, "copyt")

    def esc(v):
        if v is None:
            return "\\N"
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    data = "".join("\t".join([str(r[0])] + [esc(v) for v in r[1:]]) + "\n" for r in rows)
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.copy_expert("COPY people (id, email, name, phone, note) FROM STDIN", io.StringIO(data))
        assert cur.rowcount == 50
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, email, name, phone, note FROM people WHERE id BETWEEN %d AND %d ORDER BY id) "
                        "TO STDOUT" % (ids[0], ids[-1]), out)
        assert out.getvalue() == data
        out = io.StringIO()
        cur.copy_expert("COPY people (id, email, name, phone, note) TO STDOUT", out)
        lines = set(out.getvalue().splitlines())
        assert set(data.splitlines()) <= lines
        cur.execute("SELECT count(*) FROM people WHERE email = %s", (rows[7][1],))
        assert cur.fetchone()[0] == 1
    assert people(enc, *ids) == {r[0]: r[1:] for r in rows}
    assert_records(enc, ids, {r[0]: r[1:4] for r in rows})


def test_copy_csv_in_and_out(enc):
    ids, rows = copy_rows(30, "copyc")
    import csv
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "email", "name", "phone", "note"])
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.copy_expert("COPY people (id, email, name, phone, note) FROM STDIN WITH (FORMAT csv, HEADER true)",
                        io.StringIO(buf.getvalue()))
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, email, name, phone, note FROM people WHERE id BETWEEN %d AND %d ORDER BY id) "
                        "TO STDOUT WITH CSV HEADER" % (ids[0], ids[-1]), out)
        back = list(csv.reader(io.StringIO(out.getvalue())))
        assert back[0] == ["id", "email", "name", "phone", "note"]
        assert [tuple(x) for x in back[1:]] == [tuple("" if v is None else str(v) for v in r) for r in rows]
    assert people(enc, *ids) == {r[0]: r[1:] for r in rows}
    assert_records(enc, ids, {r[0]: r[1:4] for r in rows})


def test_copy_psycopg3_and_psql(enc):
    ids, rows = copy_rows(10, "copy3")
    with enc.pg3() as conn, conn.cursor() as cur:
        with cur.copy("COPY people (id, email, name, phone, note) FROM STDIN") as cp:
            for r in rows[:5]:
                cp.write_row(r)
        import csv
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([["" if v is None else v for v in r] for r in rows[5:]])
        with cur.copy("COPY people (id, email, name, phone, note) FROM STDIN (FORMAT csv)") as cp:
            cp.write(buf.getvalue())  # write_row speaks COPY text, csv goes as raw data
        with cur.copy("COPY (SELECT id, email, name, phone, note FROM people WHERE id BETWEEN %d AND %d ORDER BY id) "
                      "TO STDOUT" % (ids[0], ids[-1])) as cp:
            got = [tuple(row) for row in cp.rows()]
        assert [(int(g[0]),) + tuple(g[1:]) for g in got] == rows
    # psql's COPY ... FROM STDIN with inline data
    i = new_id()
    e = canary("psqlcopy")
    rc, out, err = enc.psql_stdin("COPY people (id, email, name) FROM STDIN;\n%d\t%s\tpsql copy\n\\.\n"
                                  "SELECT name FROM people WHERE email = '%s';\n" % (i, e, e))
    assert rc == 0, err
    assert "psql copy" in out
    assert people(enc, *ids) == {r[0]: r[1:] for r in rows}
    assert_records(enc, ids + [i], dict([(r[0], r[1:4]) for r in rows] + [(i, (e, "psql copy", None))]))


def test_transaction_rollback_and_savepoint(enc):
    i = new_id()
    with enc.pg3(autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (i, "rolled@x"))
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM people WHERE id = %s", (i,))
            assert cur.fetchone()[0] == 0
            cur.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (i, "kept@x"))
            cur.execute("SAVEPOINT s")
            with pytest.raises(psycopg.errors.FeatureNotSupported):
                cur.execute("SELECT id FROM people WHERE email LIKE 'k%'")
            cur.execute("ROLLBACK TO SAVEPOINT s")
            cur.execute("SELECT email FROM people WHERE id = %s", (i,))
            assert cur.fetchall() == [("kept@x",)]
        conn.commit()
    assert people(enc, i) == {i: ("kept@x", None, None, None)}


def test_identifier_forms_and_writable_cte(enc):
    """Upper case, quoted, schema- and catalog-qualified names, a writable CTE, an UPDATE ... FROM: all encrypted."""
    ids = [new_id() for _ in range(7)]
    e = [canary("ident") for _ in ids]
    sqls = [
        "INSERT INTO PEOPLE (ID, EMAIL, NAME) VALUES (%d, '%s', 'UP')",
        "INSERT INTO public.people (id, email, name) VALUES (%d, '%s', 'UP')",
        'INSERT INTO "people" ("id", "email", "name") VALUES (%d, \'%s\', \'UP\')',
        "INSERT INTO app.public.people (id, email, name) VALUES (%d, '%s', 'UP')",
        "insert into people(id,email,name)values(%d,'%s','UP')",
        "WITH ins AS (INSERT INTO people (id, email, name) VALUES (%d, '%s', 'UP') RETURNING *) SELECT 1 FROM ins",
        "INSERT INTO people (id, email, name) VALUES (%d, '%s', 'x'); "
        "UPDATE people p SET name = 'UP' FROM (SELECT 1 AS k) s WHERE p.id = " + str(ids[6]),
    ]
    with enc.pg2() as conn, conn.cursor() as cur:
        for sql, i, v in zip(sqls, ids, e):
            cur.execute(sql % (i, v))
        cur.execute("SELECT count(*) FROM PEOPLE WHERE EMAIL = ANY(%s) AND NAME IS NOT NULL", (e,))
        assert cur.fetchone()[0] == len(ids)
    assert people(enc, *ids) == {i: (v, "UP", None, None) for i, v in zip(ids, e)}
    assert_records(enc, ids, {i: (v, "UP", None) for i, v in zip(ids, e)})


def test_casts_on_parameters(enc):
    i = new_id()
    e = canary("cast")
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO people (id, email, name) VALUES (%s, %s::text, CAST(%s AS text))", (i, e, "cast"))
        for sql in ("SELECT id FROM people WHERE email = %s::text", "SELECT id FROM people WHERE email = CAST(%s AS text)",
                    "SELECT id FROM people WHERE email = %s::varchar"):
            cur.execute(sql, (e,))
            assert cur.fetchall() == [(i,)], sql
    assert_records(enc, [i], {i: (e, "cast", None)})


def test_copy_invalid_value_aborts_whole_copy(enc):
    i, j = new_id(), new_id()
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(Exception) as ei:
            cur.copy_expert("COPY typed (id, c_int4) FROM STDIN", io.StringIO("%d\t5\n%d\tnot-an-int\n" % (i, j)))
        assert "typed.c_int4" in str(ei.value) and "not-an-int" not in str(ei.value)
        conn.rollback()  # psycopg2 2.9: `with conn` opens a transaction even in autocommit
        cur.execute("SELECT count(*) FROM typed WHERE id IN (%s, %s)", (i, j))
        assert cur.fetchone()[0] == 0
