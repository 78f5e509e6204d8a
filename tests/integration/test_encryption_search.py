# test_encryption_search.py - searchable equality through pgseal: =, <>, IN, = ANY($n), self-joins, IS NULL, EXPLAIN index scans.
import psycopg2
import pytest

from enc_harness import canary, enc, new_id  # noqa: F401


@pytest.fixture
def seeded(enc):
    """10 rows in an id range: email A x4, B x3, NULL x2, C x1; phone by parity."""
    ids = [new_id() for _ in range(10)]
    a, b, c = canary("sa"), canary("sb"), canary("sc")
    emails = [a, a, a, a, b, b, b, None, None, c]
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO people (id, email, name, phone) VALUES (%s, %s, %s, %s)",
                        [(i, e, "n%d" % k, "even" if k % 2 == 0 else "odd") for k, (i, e) in enumerate(zip(ids, emails))])
    return {"lo": ids[0], "hi": ids[-1], "a": a, "b": b, "c": c, "ids": ids}


def counts_sql(s):
    r = "id BETWEEN %d AND %d" % (s["lo"], s["hi"])
    return [
        ("SELECT count(*) FROM people WHERE email = '%s'" % s["a"], 4),
        ("SELECT count(*) FROM people WHERE '%s' = email" % s["b"], 3),
        ("SELECT count(*) FROM people WHERE %s AND email <> '%s'" % (r, s["a"]), 4),  # NULLs do not match <>
        ("SELECT count(*) FROM people WHERE %s AND email != '%s'" % (r, s["c"]), 7),
        ("SELECT count(*) FROM people WHERE email IN ('%s', '%s')" % (s["a"], s["c"]), 5),
        ("SELECT count(*) FROM people WHERE %s AND email NOT IN ('%s', '%s')" % (r, s["a"], s["c"]), 3),
        ("SELECT count(*) FROM people WHERE email = ANY(ARRAY['%s', '%s'])" % (s["b"], s["c"]), 4),
        ("SELECT count(*) FROM people WHERE %s AND email IS NULL" % r, 2),
        ("SELECT count(*) FROM people WHERE %s AND email IS NOT NULL" % r, 8),
        ("SELECT count(*) FROM people WHERE email = '%s' AND phone = 'even'" % s["a"], 2),
        ("SELECT count(*) FROM people WHERE email = '%s' OR phone = 'odd' AND %s" % (s["c"], r), 5),
        ("SELECT count(*) FROM people p1 JOIN people p2 ON p1.email = p2.email WHERE p1.%s AND p2.%s" % (r, r),
         4 * 4 + 3 * 3 + 1),
        ("SELECT count(*) FROM people WHERE email = 'no such value'", 0),
        ("SELECT count(*) FROM (SELECT email AS e FROM people WHERE %s) s WHERE s.e = '%s'" % (r, s["b"]), 3),
        ("WITH w AS (SELECT * FROM people WHERE %s) SELECT count(*) FROM w WHERE w.email = '%s'" % (r, s["a"]), 4),
    ]


def test_search_simple_protocol_psycopg2(enc, seeded):
    with enc.pg2() as conn, conn.cursor() as cur:
        for sql, n in counts_sql(seeded):
            cur.execute(sql)
            assert cur.fetchone()[0] == n, sql
        # a parameter list adapted client-side into ARRAY[...]
        cur.execute("SELECT count(*) FROM people WHERE email = ANY(%s)", ([seeded["a"], seeded["b"]],))
        assert cur.fetchone()[0] == 7


def test_search_psql(enc, seeded):
    sqls = counts_sql(seeded)
    rc, out, err = enc.psql_stdin("".join(sql + ";\n" for sql, _ in sqls))
    assert rc == 0, err
    assert out.split() == [str(n) for _, n in sqls]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_search_params_psycopg3(enc, seeded, binary):
    s = seeded
    r = (s["lo"], s["hi"])
    with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
        checks = [
            ("SELECT count(*) FROM people WHERE email = %s", (s["a"],), 4),
            ("SELECT count(*) FROM people WHERE id BETWEEN %s AND %s AND email <> %s", r + (s["a"],), 4),
            ("SELECT count(*) FROM people WHERE email IN (%s, %s, %s)", (s["a"], s["b"], "zz"), 7),
            ("SELECT count(*) FROM people WHERE email = ANY(%s)", ([s["b"], s["c"]],), 4),
            ("SELECT count(*) FROM people WHERE id BETWEEN %s AND %s AND email <> ALL(%s)", r + ([s["b"], s["c"]],), 4),
            ("SELECT count(*) FROM people WHERE email = %s AND phone = %s", (s["a"], "odd"), 2),
            ("SELECT id FROM people WHERE email = %s", (s["c"],), None),
        ]
        for sql, params, n in checks:
            cur.execute(sql, params)
            if n is None:
                assert cur.fetchall() == [(s["hi"],)]
            else:
                assert cur.fetchone()[0] == n, sql
        # the same prepared statement with different values
        for val, n in ((s["a"], 4), (s["b"], 3), (s["c"], 1), ("none", 0)):
            cur.execute("SELECT count(*) FROM people WHERE email = %s", (val,))
            assert cur.fetchone()[0] == n


def test_search_pipeline_psycopg3(enc, seeded):
    s = seeded
    with enc.pg3() as conn:
        with conn.pipeline():
            curs = []
            for val in (s["a"], s["b"], s["c"], "none"):
                cur = conn.cursor(binary=True)
                cur.execute("SELECT count(*) FROM people WHERE email = %s", (val,))
                curs.append(cur)
            cur = conn.cursor()
            cur.execute("SELECT email FROM people WHERE id = ANY(%s) ORDER BY id", (s["ids"][:5],))
            curs.append(cur)
        assert [c.fetchone()[0] for c in curs[:4]] == [4, 3, 1, 0]
        assert [r[0] for r in curs[4].fetchall()] == [s["a"]] * 4 + [s["b"]]


def test_search_after_update_and_delete(enc, seeded):
    s = seeded
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("UPDATE people SET email = %s WHERE email = %s AND phone = 'even'", (s["c"], s["a"]))
        assert cur.rowcount == 2
        cur.execute("SELECT count(*) FROM people WHERE email = %s", (s["c"],))
        assert cur.fetchone()[0] == 3
        cur.execute("DELETE FROM people WHERE email = %s", (s["b"],))
        assert cur.rowcount == 3
        cur.execute("SELECT count(*) FROM people WHERE email IN (%s, %s)", (s["a"], s["b"]))
        assert cur.fetchone()[0] == 2


def test_search_varchar_column(enc, seeded):
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM people WHERE id BETWEEN %s AND %s AND phone = 'even'", (seeded["lo"], seeded["hi"]))
        assert cur.fetchone()[0] == 5
        cur.execute("SELECT count(*) FROM people WHERE id BETWEEN %s AND %s AND phone = %s::varchar",
                    (seeded["lo"], seeded["hi"], "odd"))
        assert cur.fetchone()[0] == 5


def _plan(cur):
    return "\n".join(r[0] for r in cur.fetchall())


def test_explain_uses_blind_index(enc, seeded):
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN SELECT * FROM people WHERE email = '%s'" % seeded["a"])
        plan = _plan(cur)
        assert "people_email_pgseal_bidx" in plan and "Index" in plan, plan
        assert seeded["a"] not in plan
        cur.execute("EXPLAIN ANALYZE SELECT id FROM people WHERE phone = %s", ("odd",))
        plan = _plan(cur)
        assert "people_phone_pgseal_bidx" in plan and "Index" in plan, plan
    with enc.pg3() as conn, conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN SELECT * FROM people WHERE email = %s", (seeded["b"],))
        plan = _plan(cur)
        assert "people_email_pgseal_bidx" in plan and "Index" in plan, plan
        cur.execute("EXPLAIN SELECT * FROM people WHERE email = ANY(%s)", ([seeded["b"], seeded["c"]],))
        assert "people_email_pgseal_bidx" in _plan(cur)


def test_search_on_non_searchable_column_refused(enc, seeded):
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT count(*) FROM people WHERE name = 'n1'")
        assert ei.value.pgcode == "0A000" and "people.name" in str(ei.value)
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
