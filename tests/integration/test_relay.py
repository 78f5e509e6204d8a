# test_relay.py - protocol relay through pgseal: simple/extended query, pipelining, COPY, NOTIFY, fastpath, errors, big values.
import hashlib
import os
import subprocess
import threading
import time

import psycopg
import psycopg2
import psycopg2.extensions
import pytest
from psycopg import sql as psql_sql

import harness


def connect(proxy, **kw):
    return psycopg.connect(proxy.dsn(**kw), autocommit=True)


def test_simple_query_values(plain):
    with connect(plain) as c:
        rows = c.execute("SELECT 1 AS a, 'two'::text AS b, NULL::int AS c, 2.5::float8 AS d").fetchall()
        assert rows == [(1, "two", None, 2.5)]
        # several statements in one Query message: the last result is returned, all run
        cur = c.cursor()
        cur.execute("CREATE TEMP TABLE s(x int); INSERT INTO s VALUES (1),(2),(3); SELECT sum(x) FROM s")
        assert cur.statusmessage == "CREATE TABLE"
        assert cur.nextset() and cur.rowcount == 3
        assert cur.nextset() and cur.fetchone() == (6,)
        # empty query and a notice
        c.execute("")
        notices = []
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        c.execute("DO $$BEGIN RAISE NOTICE 'hello notice'; END$$")
        assert notices == ["hello notice"]


def test_session_identity_and_parameter_status(plain):
    with connect(plain, application_name="itest-app") as c:
        user, db, app = c.execute("SELECT current_user, current_database(), current_setting('application_name')").fetchone()
        assert (user, db, app) == ("trust_user", harness.DB, "itest-app")
        assert c.info.parameter_status("application_name") == "itest-app"
        assert c.info.parameter_status("server_encoding") == "UTF8"
        # ParameterStatus sent mid-session after SET
        c.execute("SET application_name = 'renamed'")
        assert c.info.parameter_status("application_name") == "renamed"
        c.execute("SET TimeZone = 'Asia/Tokyo'")
        assert c.info.parameter_status("TimeZone") == "Asia/Tokyo"
        # the backend pid seen by the client is the real one (cancel keys relayed)
        assert c.info.backend_pid == c.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_extended_protocol_params_and_prepare(plain):
    with connect(plain) as c:
        # psycopg 3 binds server-side: Parse/Bind/Execute with parameters
        assert c.execute("SELECT %s::int + %s::int, %s::text", (40, 2, "x'y")).fetchone() == (42, "x'y")
        # prepare=True: named statement reused
        for i in range(5):
            assert c.execute("SELECT %s::int * 2", (i,), prepare=True).fetchone() == (i * 2,)
        names = c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        assert names >= 1
        # binary results
        cur = c.cursor(binary=True)
        cur.execute("SELECT %s::int8, %s::bytea, %s::float8, %s::bool, '2024-02-29'::date",
                    (2 ** 40, b"\x00\x01\xff", 1.25, True))
        import datetime
        assert cur.fetchone() == (2 ** 40, b"\x00\x01\xff", 1.25, True, datetime.date(2024, 2, 29))
        # binary parameters
        cur = c.cursor()
        cur.execute("SELECT %b::int4 + 1, length(%b::bytea)", (41, b"abc"))
        assert cur.fetchone() == (42, 3)


def test_named_portals_fetch_in_batches(plain):
    with psycopg.connect(plain.dsn()) as c:  # transaction: server-side cursor = named portal
        with c.cursor(name="itest_cur") as cur:
            cur.execute("SELECT g FROM generate_series(1, 1000) g")
            first = cur.fetchmany(10)
            assert [r[0] for r in first] == list(range(1, 11))
            rest = cur.fetchall()
            assert len(rest) == 990 and rest[-1] == (1000,)
        with c.cursor(name="itest_cur2", binary=True) as cur:
            cur.itersize = 7
            assert sum(r[0] for r in cur.execute("SELECT g FROM generate_series(1, 100) g")) == 5050


def test_pipeline_mode(plain):
    with connect(plain) as c:
        c.execute("CREATE TEMP TABLE p(id int primary key, v text)")
        with c.pipeline():
            curs = []
            for i in range(50):
                c.execute("INSERT INTO p VALUES (%s, %s)", (i, "v%d" % i))
            for i in range(0, 50, 10):
                cur = c.cursor()
                cur.execute("SELECT v FROM p WHERE id = %s", (i,))
                curs.append(cur)
        assert [cur.fetchone()[0] for cur in curs] == ["v0", "v10", "v20", "v30", "v40"]
        assert c.execute("SELECT count(*) FROM p").fetchone() == (50,)
        # an error inside a pipeline aborts the rest up to Sync and leaves the session usable
        with pytest.raises(psycopg.errors.UniqueViolation):
            with c.pipeline():
                c.execute("INSERT INTO p VALUES (1, 'dup')")
                c.execute("INSERT INTO p VALUES (1000, 'after')")
        assert c.execute("SELECT count(*) FROM p WHERE id = 1000").fetchone() == (0,)
        assert c.execute("SELECT 7").fetchone() == (7,)


def test_executemany_pipelined(plain):
    with connect(plain) as c:
        c.execute("CREATE TEMP TABLE em(a int, b text)")
        c.cursor().executemany("INSERT INTO em VALUES (%s, %s)", [(i, str(i)) for i in range(500)])
        assert c.execute("SELECT count(*), sum(a) FROM em").fetchone() == (500, sum(range(500)))


def test_upstream_errors_relayed_unchanged(plain, pg):
    with connect(plain) as c:
        with pytest.raises(psycopg.errors.DivisionByZero) as e:
            c.execute("SELECT 1/0")
        assert e.value.sqlstate == "22012"
        assert e.value.diag.message_primary == "division by zero"
        assert e.value.diag.severity == "ERROR"
        with pytest.raises(psycopg.errors.UndefinedTable) as e:
            c.execute("SELECT * FROM no_such_table_xyz")
        assert e.value.sqlstate == "42P01"
        assert e.value.diag.message_primary == 'relation "no_such_table_xyz" does not exist'
        assert e.value.diag.statement_position == "15"
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            c.execute("SELEC 1")
        assert e.value.sqlstate == "42601"
        # extended protocol error (Parse fails)
        with pytest.raises(psycopg.errors.UndefinedColumn) as e:
            c.execute("SELECT nope FROM pg_class WHERE oid = %s", (1,))
        assert e.value.sqlstate == "42703"
        # a raised custom error with detail and hint
        with pytest.raises(psycopg.errors.RaiseException) as e:
            c.execute("DO $$BEGIN RAISE EXCEPTION 'custom %', 7 USING DETAIL = 'the detail', HINT = 'the hint', "
                      "ERRCODE = 'P0001'; END$$")
        assert e.value.diag.message_primary == "custom 7"
        assert e.value.diag.message_detail == "the detail"
        assert e.value.diag.message_hint == "the hint"
        # the session is still fine
        assert c.execute("SELECT 'ok'").fetchone() == ("ok",)


def test_transactions(plain):
    with psycopg.connect(plain.dsn()) as c:
        c.execute("CREATE TEMP TABLE tx(a int) ON COMMIT PRESERVE ROWS")
        c.commit()
        c.execute("INSERT INTO tx VALUES (1)")
        c.rollback()
        c.execute("INSERT INTO tx VALUES (2)")
        c.commit()
        with pytest.raises(psycopg.errors.DivisionByZero):
            c.execute("SELECT 1/0")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            c.execute("SELECT 1")
        c.rollback()
        assert c.execute("SELECT array_agg(a) FROM tx").fetchone() == ([2],)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_copy_100k_rows_both_ways(plain):
    n = 100_000
    with connect(plain) as c:
        c.execute("CREATE TEMP TABLE cp(id int, name text, v float8)")
        h_in = hashlib.sha256()
        with c.cursor().copy("COPY cp FROM STDIN") as cp:
            for i in range(n):
                line = "%d\tname-%d\t%d.5\n" % (i, i, i)
                h_in.update(line.encode())
                cp.write(line)
        assert c.execute("SELECT count(*), sum(id), count(DISTINCT name) FROM cp").fetchone() == (n, n * (n - 1) // 2, n)
        h_out = hashlib.sha256()
        total = 0
        with c.cursor().copy("COPY (SELECT * FROM cp ORDER BY id) TO STDOUT") as cp:
            for block in cp:
                h_out.update(bytes(block))
                total += len(block)
        assert h_out.hexdigest() == h_in.hexdigest()
        # csv and COPY of typed rows
        with c.cursor().copy("COPY (SELECT id, name FROM cp WHERE id < 3 ORDER BY id) TO STDOUT (FORMAT csv)") as cp:
            data = b"".join(bytes(b) for b in cp)
        assert data == b"0,name-0\n1,name-1\n2,name-2\n"
        # binary copy in and out via psycopg's row API
        c.execute("CREATE TEMP TABLE cpb(id int, b bytea)")
        with c.cursor().copy("COPY cpb FROM STDIN (FORMAT binary)") as cp:
            cp.set_types(["int4", "bytea"])
            for i in range(1000):
                cp.write_row((i, bytes([i % 256]) * 10))
        with c.cursor().copy("COPY cpb TO STDOUT (FORMAT binary)") as cp:
            cp.set_types(["int4", "bytea"])
            rows = list(cp.rows())
        assert len(rows) == 1000 and rows[300] == (300, bytes([300 % 256]) * 10)
        # an error in COPY FROM (bad data) is relayed and the session survives
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            with c.cursor().copy("COPY cp FROM STDIN") as cp:
                cp.write("not-an-int\tx\t1\n")
        assert c.execute("SELECT count(*) FROM cp").fetchone() == (n,)


def test_listen_notify(plain):
    with connect(plain) as listener, connect(plain) as talker:
        got = []
        listener.add_notify_handler(lambda n: got.append((n.channel, n.payload, n.pid)))
        listener.execute("LISTEN itest_chan")
        talker.execute("NOTIFY itest_chan, 'payload-1'")
        talker.execute("SELECT pg_notify('itest_chan', 'payload-2')")
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            listener.execute("SELECT 1")
            time.sleep(0.05)
        assert [(ch, pl) for ch, pl, _ in got] == [("itest_chan", "payload-1"), ("itest_chan", "payload-2")]
        assert got[0][2] == talker.info.backend_pid


def test_listen_notify_async_delivery(plain):
    """A notification arrives while the listener is idle (pgseal forwards without a client request)."""
    c = psycopg2.connect(plain.dsn())
    c.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    try:
        c.cursor().execute("LISTEN idle_chan")
        with connect(plain) as t:
            t.execute("NOTIFY idle_chan, 'while-idle'")
        import select
        deadline = time.monotonic() + 10
        while not c.notifies and time.monotonic() < deadline:
            if select.select([c], [], [], 0.5)[0]:
                c.poll()
        assert [(n.channel, n.payload) for n in c.notifies] == [("idle_chan", "while-idle")]
    finally:
        c.close()


def test_function_call_large_objects(plain):
    """libpq's lo_* functions use the FunctionCall (fastpath) message."""
    c = psycopg2.connect(plain.dsn())
    try:
        data = os.urandom(300_000)
        lo = c.lobject(0, "wb")
        oid = lo.oid
        assert lo.write(data) == len(data)
        lo.close()
        c.commit()
        lo = c.lobject(oid, "rb")
        assert lo.read() == data
        lo.seek(1000)
        assert lo.read(16) == data[1000:1016]
        lo.close()
        lo = c.lobject(oid, "rb")
        lo.unlink()
        c.commit()
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", (oid,))
        assert cur.fetchone() == (0,)
    finally:
        c.close()


def test_psycopg2_simple_protocol(plain):
    c = psycopg2.connect(plain.dsn())
    try:
        cur = c.cursor()
        cur.execute("CREATE TEMP TABLE t2(id serial, s text, n numeric, ts timestamptz)")
        cur.execute("INSERT INTO t2(s, n, ts) VALUES (%s, %s, %s) RETURNING id",
                    ("it's", 12.5, "2020-01-02 03:04:05+00"))
        assert cur.fetchone() == (1,)
        cur.executemany("INSERT INTO t2(s, n) VALUES (%s, %s)", [("r%d" % i, i) for i in range(100)])
        cur.execute("SELECT s, n FROM t2 WHERE id = 1")
        s, n = cur.fetchone()
        assert s == "it's" and float(n) == 12.5
        cur.execute("SELECT count(*) FROM t2")
        assert cur.fetchone() == (101,)
        with pytest.raises(psycopg2.errors.DivisionByZero) as e:
            cur.execute("SELECT 1/0")
        assert e.value.pgcode == "22012"
        c.rollback()
        cur.execute("SELECT current_user")
        assert cur.fetchone() == ("trust_user",)
        c.commit()
    finally:
        c.close()


@pytest.mark.parametrize("size", [1 << 20])
def test_big_values_both_ways(plain, size):
    text_val = ("abcdefghij" * (size // 10 + 1))[:size]
    bin_val = os.urandom(size)
    with connect(plain) as c:
        c.execute("CREATE TEMP TABLE big(t text, b bytea)")
        c.execute("INSERT INTO big VALUES (%s, %s)", (text_val, bin_val))
        t, b, lt, lb = c.execute("SELECT t, b, length(t), length(b) FROM big").fetchone()
        assert (lt, lb) == (size, size)
        assert t == text_val and b == bin_val
        cur = c.cursor(binary=True)
        assert cur.execute("SELECT b FROM big").fetchone()[0] == bin_val
        # a 1 MiB literal in a simple Query and a 1 MiB result row (repeat)
        assert c.execute("SELECT length('" + text_val + "')").fetchone() == (size,)
        assert c.execute("SELECT md5(repeat('x', %s))", (size,)).fetchone()[0] == hashlib.md5(b"x" * size).hexdigest()
        assert len(c.execute("SELECT repeat('y', 4 * %s)", (size,)).fetchone()[0]) == 4 * size
    c2 = psycopg2.connect(plain.dsn())
    try:
        cur = c2.cursor()
        cur.execute("SELECT %s::bytea", (psycopg2.Binary(bin_val),))
        assert bytes(cur.fetchone()[0]) == bin_val
    finally:
        c2.close()


def test_cancel_request(plain):
    with connect(plain) as c:
        t0 = time.monotonic()
        timer = threading.Timer(0.5, c.cancel)
        timer.start()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled) as e:
                c.execute("SELECT pg_sleep(20)")
        finally:
            timer.cancel()
        assert e.value.sqlstate == "57014"
        assert time.monotonic() - t0 < 10
        assert c.execute("SELECT 'after cancel'").fetchone() == ("after cancel",)


def test_cancel_routes_to_right_backend(plain):
    """With two sessions busy, cancelling one does not touch the other."""
    with connect(plain) as a, connect(plain) as b:
        res = {}

        def run_b():
            try:
                res["b"] = b.execute("SELECT pg_sleep(1.5), 'b-done'").fetchone()[1]
            except Exception as ex:  # noqa: BLE001
                res["b"] = ex

        tb = threading.Thread(target=run_b)
        tb.start()
        timer = threading.Timer(0.4, a.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            a.execute("SELECT pg_sleep(20)")
        tb.join(15)
        assert res.get("b") == "b-done"


def test_terminate_releases_backend(plain, pg):
    with connect(plain, application_name="itest-terminate") as c:
        pid = c.info.backend_pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % pid)
        if out.strip() == "0":
            break
        time.sleep(0.1)
    assert out.strip() == "0", "backend of a closed client session still alive"


def test_many_concurrent_sessions(plain):
    errors, results = [], []

    def worker(k):
        try:
            with connect(plain) as c:
                for i in range(20):
                    results.append(c.execute("SELECT %s::int + %s", (k, i)).fetchone()[0] - k - i)
        except Exception as ex:  # noqa: BLE001
            errors.append(ex)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert results == [0] * 400


def test_psql_client(plain):
    out = subprocess.run(["psql", "-X", "-At", "-d", plain.dsn(), "-c", "SELECT 40 + 2", "-c", "SELECT 'psql-ok'"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30).stdout.decode()
    assert out.split() == ["42", "psql-ok"]


def test_sql_identifiers_and_unicode(plain):
    with connect(plain) as c:
        c.execute(psql_sql.SQL("CREATE TEMP TABLE {} (v text)").format(psql_sql.Identifier("Ünïcode table")))
        c.execute(psql_sql.SQL("INSERT INTO {} VALUES (%s)").format(psql_sql.Identifier("Ünïcode table")), ("日本語 ✓",))
        assert c.execute('SELECT v FROM "Ünïcode table"').fetchone() == ("日本語 ✓",)


def test_terminate_is_quiet(plain):
    """After the client's Terminate, pgseal closes without sending anything (no ErrorResponse)."""
    for _ in range(10):
        with harness.Raw(plain.host, plain.port) as r:
            r.startup_trust()
            rows, err = r.query("SELECT 1")
            assert rows == [["1"]] and err is None
            r.send(harness.msg(b"X"))
            r.sock.settimeout(10)
            rest = b""
            try:
                while True:
                    chunk = r.sock.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            except ConnectionResetError:
                pass
            assert rest == b"", "pgseal sent %r after Terminate" % rest[:80]
