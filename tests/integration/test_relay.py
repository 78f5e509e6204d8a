# test_relay.py - protocol relay through pgseal: simple/extended query, pipelining, COPY, NOTIFY, fastpath, errors, big values.
import hashlib
import os
import struct
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


@pytest.fixture(scope="module")
def unpooled(factory):
    """pgseal with session pooling off: every client session has its own backend."""
    return factory.start("unpooled", upstream={"pool_max_idle": 0})


def test_terminate_releases_backend(unpooled, pg):
    with connect(unpooled, application_name="itest-terminate") as c:
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


# ------------------------------------------------------------------ extended protocol on the wire

def _cstr(s):
    return s.encode() + b"\0"


def _parse(name, query, oids=()):
    return harness.msg(b"P", _cstr(name) + _cstr(query) + struct.pack("!H", len(oids)) +
                       b"".join(struct.pack("!I", o) for o in oids))


def _bind(portal, stmt, params=(), result_formats=()):
    body = _cstr(portal) + _cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            body += struct.pack("!i", len(p)) + p
    body += struct.pack("!H", len(result_formats)) + b"".join(struct.pack("!H", f) for f in result_formats)
    return harness.msg(b"B", body)


def _execute(portal, max_rows=0):
    return harness.msg(b"E", _cstr(portal) + struct.pack("!I", max_rows))


def _describe(kind, name):
    return harness.msg(b"D", kind + _cstr(name))


def _close(kind, name):
    return harness.msg(b"C", kind + _cstr(name))


SYNC = harness.msg(b"S")
FLUSH = harness.msg(b"H")


def _tags(msgs):
    return b"".join(t for t, _ in msgs)


def test_extended_protocol_raw(plain):
    with harness.Raw(plain.host, plain.port) as r:
        r.startup_trust()
        # named statement + named portal, suspended twice, closed; everything pipelined before one Sync
        r.send(_parse("s1", "SELECT g FROM generate_series(1, $1::int) g", [23]) + _describe(b"S", "s1") +
               _bind("p1", "s1", [b"5"]) + _execute("p1", 2) + _execute("p1", 2) + _execute("p1", 0) +
               _close(b"P", "p1") + _close(b"S", "s1") + SYNC)
        got = r.read_until({b"Z"})
        assert _tags(got) == b"1tT2DDsDDsDC33Z", _tags(got)
        rows = [p[6:].decode() for t, p in got if t == b"D"]
        assert rows == ["1", "2", "3", "4", "5"]
        assert [p for t, p in got if t == b"C"] == [b"SELECT 1\0"]
        # Flush without Sync: the answers arrive anyway
        r.send(_parse("s2", "SELECT 42::int4") + FLUSH)
        r.sock.settimeout(5)
        assert r.read_msg()[0] == b"1"
        # binary result format requested per column
        r.send(_bind("", "s2", [], [1]) + _execute("") + SYNC)
        got = r.read_until({b"Z"})
        assert _tags(got) == b"2DCZ"
        assert got[1][1] == b"\x00\x01\x00\x00\x00\x04" + struct.pack("!i", 42)
        # unnamed statement/portal, NULL and binary parameter
        r.send(_parse("", "SELECT $1::text IS NULL, $2::int4 + 1", [25, 23]) +
               harness.msg(b"B", b"\0\0" + struct.pack("!HHH", 2, 0, 1) + struct.pack("!H", 2) +
                           struct.pack("!i", -1) + struct.pack("!i", 4) + struct.pack("!i", 41) + b"\0\0") +
               _execute("") + SYNC)
        got = r.read_until({b"Z"})
        assert _tags(got) == b"12DCZ", _tags(got)
        assert got[2][1] == b"\x00\x02" + struct.pack("!i", 1) + b"t" + struct.pack("!i", 2) + b"42"
        # an error skips the rest up to Sync, then the session goes on
        r.send(_parse("", "SELEC broken") + _bind("", "") + _execute("") + SYNC)
        got = r.read_until({b"Z"})
        assert _tags(got) == b"EZ"
        assert harness.parse_error_fields(got[0][1])["C"] == "42601"
        # the closed statement is gone, s2 still exists
        r.send(_describe(b"S", "s1") + SYNC)
        got = r.read_until({b"Z"})
        assert _tags(got) == b"EZ" and harness.parse_error_fields(got[0][1])["C"] == "26000"
        r.send(_bind("", "s2") + _execute("") + SYNC)
        assert _tags(r.read_until({b"Z"})) == b"2DCZ"
        # many pipelined Parse/Bind/Execute before a single Sync
        batch = b"".join(_parse("", "SELECT %d" % i) + _bind("", "") + _execute("") for i in range(200))
        r.send(batch + SYNC)
        got = r.read_until({b"Z"}, limit=2000)
        assert [p[6:].decode() for t, p in got if t == b"D"] == [str(i) for i in range(200)]


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_backpressure_client_not_reading(plain):
    """A client that stops reading a 300 MB result: pgseal's memory stays bounded, others are served."""
    import socket as _socket
    before = _rss_kib(plain.proc.pid)
    r = harness.Raw(plain.host, plain.port)
    try:
        r.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 64 * 1024)
        r.startup_trust()
        r.send(harness.msg(b"Q", b"SELECT repeat('x', 1000000) FROM generate_series(1, 300)\0"))
        time.sleep(3)  # the result piles up somewhere: it must not be inside pgseal
        with connect(plain) as c:
            assert c.execute("SELECT 'others ok'").fetchone() == ("others ok",)
        grown = _rss_kib(plain.proc.pid) - before
        print("pgseal RSS grew by %d KiB while a 300 MB result waits" % grown)
        assert grown < 64 * 1024, "pgseal buffered %d KiB for a client that does not read" % grown
        # now read it all: nothing lost
        r.sock.settimeout(60)
        rows = 0
        while True:
            m = r.read_msg_big()
            if m[0] == b"D":
                rows += 1
                assert len(m[1]) == 2 + 4 + 1000000
            if m[0] == b"Z":
                break
        assert rows == 300
    finally:
        r.close()


def test_backpressure_upstream_not_reading(plain):
    """COPY data sent while the backend waits on a lock: pgseal stops reading the client instead of buffering."""
    import socket as _socket
    with connect(plain) as admin:
        admin.execute("DROP TABLE IF EXISTS bp_copy")
        admin.execute("CREATE TABLE bp_copy(v text)")
    locker = psycopg.connect(plain.dsn())
    r = harness.Raw(plain.host, plain.port)
    try:
        locker.execute("LOCK TABLE bp_copy IN ACCESS EXCLUSIVE MODE")
        r.startup_trust()
        r.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, 64 * 1024)
        before = _rss_kib(plain.proc.pid)
        r.send(harness.msg(b"Q", b"COPY bp_copy FROM STDIN\0"))
        chunk = harness.msg(b"d", (("y" * 999) + "\n").encode() * 1000)  # ~1 MB, 1000 rows
        pending, sent_msgs, stuck_since = b"", 0, None
        r.sock.setblocking(False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sent_msgs < 300:
            if not pending:
                pending = chunk
                sent_msgs += 1
            try:
                n = r.sock.send(pending)
                pending = pending[n:]
                stuck_since = None
            except BlockingIOError:
                stuck_since = stuck_since or time.monotonic()
                if time.monotonic() - stuck_since > 2:
                    break
                time.sleep(0.01)
        grown = _rss_kib(plain.proc.pid) - before
        print("sent %d MB before blocking; pgseal RSS grew by %d KiB" % (sent_msgs, grown))
        assert sent_msgs < 300, "300 MB went somewhere while the backend did not read"
        assert grown < 64 * 1024, "pgseal buffered %d KiB of COPY data" % grown
        locker.rollback()  # releases the lock: the backend starts reading
        r.sock.setblocking(True)
        r.sock.settimeout(60)
        r.send(pending)
        r.send(harness.msg(b"c"))
        got = r.read_until({b"Z"})
        tags = b"".join(t for t, _ in got)
        assert b"E" not in tags, [harness.parse_error_fields(p) for t, p in got if t == b"E"]
        assert [p for t, p in got if t == b"C"] == [("COPY %d\0" % (sent_msgs * 1000)).encode()]
    finally:
        r.close()
        locker.close()
    with connect(plain) as c:
        assert c.execute("SELECT count(*) FROM bp_copy").fetchone() == (sent_msgs * 1000,)
        c.execute("DROP TABLE bp_copy")
