# test_pool.py - session pooling: upstream connections reused after DISCARD ALL, never across credentials or open transactions.
import struct
import threading
import time

import psycopg
import pytest

import harness
from harness import DB, PASSWORDS, Raw, msg


@pytest.fixture(scope="module")
def pooled(factory):
    """Two workers: the idle list is shared, whichever worker a client lands on."""
    return factory.start("pooled", workers=2)


@pytest.fixture(scope="module")
def pooled_auth(factory):
    """Client TLS and the auth: block (pgseal checks SCRAM itself)."""
    return factory.start("pooled-auth", client_tls=True, auth=True)


def session(proxy, **kw):
    return psycopg.connect(proxy.dsn(**kw), autocommit=True)


def backend_pid(proxy, **kw):
    with session(proxy, **kw) as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert c.info.backend_pid == pid  # BackendKeyData names the backend the client talks to
        return pid


RESET_MARK = "/* pgseal: pooled connection reset */"


def wait_reset(pg, pid, timeout=10.0):
    """Waits until the pooled backend has run its reset (DISCARD ALL, then the settings query
    that starts with RESET_MARK) and sits idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = pg.psql("SELECT state || '/' || left(query, %d) FROM pg_stat_activity WHERE pid = %d"
                      % (len(RESET_MARK), pid)).strip()
        if out == "idle/" + RESET_MARK:
            return
        time.sleep(0.05)
    raise AssertionError("backend %d not reset: %r" % (pid, out))


def test_reuse_and_reset(pooled, pg):
    with session(pooled) as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        c.execute("SET DateStyle = 'German'")
        c.execute("SET search_path = pg_catalog")
        assert c.info.parameter_status("DateStyle") == "German, DMY"
        c.execute("CREATE TEMP TABLE pool_tmp(x int)")
        c.execute("PREPARE pool_stmt AS SELECT 1")
        c.execute("LISTEN pool_channel")
        c.execute("SELECT pg_advisory_lock(4242)")
    wait_reset(pg, pid)
    with session(pooled) as c:
        assert c.execute("SELECT pg_backend_pid()").fetchone()[0] == pid, "upstream not reused"
        assert c.info.backend_pid == pid
        # what the previous client set or created is gone, and the client is told the defaults
        assert c.info.parameter_status("DateStyle") == "ISO, MDY"
        assert c.execute("SHOW DateStyle").fetchone()[0] == "ISO, MDY"
        assert c.execute("SHOW search_path").fetchone()[0] == '"$user", public'
        assert c.execute("SELECT to_regclass('pg_temp.pool_tmp')").fetchone()[0] is None
        assert c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_listening_channels()").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
                         (pid,)).fetchone()[0] == 0
        # every parameter a fresh session reports is reported again
        for name in ("server_version", "server_encoding", "client_encoding", "TimeZone",
                     "integer_datetimes", "standard_conforming_strings", "is_superuser", "session_authorization"):
            assert c.info.parameter_status(name), name


def test_open_transaction_is_not_pooled(pooled, pg):
    pg.psql("CREATE TABLE IF NOT EXISTS pool_txn(x int)", db=DB)
    pg.psql("GRANT ALL ON pool_txn TO PUBLIC", db=DB)
    c = psycopg.connect(pooled.dsn())  # not autocommit: the INSERT opens a transaction
    pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
    c.execute("INSERT INTO pool_txn VALUES (1)")
    c.close()  # Terminate inside a transaction block
    deadline = time.monotonic() + 10
    while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % pid).strip() != "0":
        assert time.monotonic() < deadline, "a session that ended in a transaction kept its backend"
        time.sleep(0.05)
    assert pg.psql("SELECT count(*) FROM pool_txn", db=DB).strip() == "0"
    assert backend_pid(pooled) != pid


def test_different_startup_parameters_do_not_share(pooled, pg):
    a = backend_pid(pooled, application_name="pool-a")
    wait_reset(pg, a)
    b = backend_pid(pooled, application_name="pool-b")
    assert a != b
    wait_reset(pg, b)
    assert backend_pid(pooled, application_name="pool-a") == a
    assert backend_pid(pooled, application_name="pool-b") == b


def test_relayed_password_sessions_are_not_reused(pooled, pg):
    """md5 is relayed: pgseal never saw the password checked, so it cannot vouch for the next client."""
    dsn = dict(user="md5_user", password=PASSWORDS["md5_user"])
    first = backend_pid(pooled, **dsn)
    second = backend_pid(pooled, **dsn)
    assert first != second
    with pytest.raises(psycopg.OperationalError) as e:
        session(pooled, user="md5_user", password="wrong").close()
    assert "password authentication failed" in str(e.value)


def test_scram_checked_by_pgseal_is_reused(pooled_auth, pg, tls_kw):
    dsn = dict(user="scram_user", password=PASSWORDS["scram_user"], **tls_kw)
    first = backend_pid(pooled_auth, **dsn)
    wait_reset(pg, first)
    assert backend_pid(pooled_auth, **dsn) == first
    # a wrong password is refused by pgseal even though a pooled session waits
    with pytest.raises(psycopg.OperationalError) as e:
        session(pooled_auth, user="scram_user", password="wrong", **tls_kw).close()
    assert "password authentication failed" in str(e.value)
    wait_reset(pg, first)
    with session(pooled_auth, **dsn) as c:
        assert c.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() \
            == ("scram_user", True)


def test_cancel_key_is_fresh_for_each_client(pooled, pg):
    with Raw("127.0.0.1", pooled.port) as r:
        pid1, key1, _ = r.startup_trust()
        r.send(msg(b"X"))
    wait_reset(pg, pid1)
    with Raw("127.0.0.1", pooled.port) as r:
        pid2, key2, params = r.startup_trust()
        assert pid2 == pid1 and key2 != key1
        assert params.get("DateStyle") == "ISO, MDY"

        def cancel(key):
            with Raw("127.0.0.1", pooled.port) as cr:
                cr.send(struct.pack("!IIII", 16, 80877102, pid2, key))
                cr.closed_or_error(5)

        # the previous client's key no longer reaches this backend
        timer = threading.Timer(0.5, cancel, (key1,))
        timer.start()
        rows, err = r.query("SELECT pg_sleep(1.5)::text")
        timer.join()
        assert err is None
        # the new key does
        timer = threading.Timer(0.5, cancel, (key2,))
        timer.start()
        t0 = time.monotonic()
        rows, err = r.query("SELECT pg_sleep(20)::text")
        timer.join()
        assert err and err.get("C") == "57014" and time.monotonic() - t0 < 10


def test_pooled_connection_dropped_by_the_server(pooled, pg):
    pid = backend_pid(pooled)
    wait_reset(pg, pid)
    pg.psql("SELECT pg_terminate_backend(%d)" % pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % pid).strip() == "0":
            break
        time.sleep(0.05)
    # the next session does not inherit the dead connection
    with session(pooled) as c:
        assert c.execute("SELECT 'alive'").fetchone() == ("alive",)
        assert c.info.backend_pid != pid


def test_metrics_count_reuse(pooled, pg):
    import urllib.request
    pid = backend_pid(pooled)
    wait_reset(pg, pid)
    backend_pid(pooled)
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % pooled.admin_port,
                                 headers={"Authorization": "Bearer " + harness_token()})
    body = urllib.request.urlopen(req, timeout=5).read().decode()
    reused = [l for l in body.splitlines() if l.startswith("pgseal_upstream_pool_reused_total ")]
    assert reused and int(reused[0].split()[1]) >= 1
    assert any(l.startswith("pgseal_upstream_pool_idle ") for l in body.splitlines())


def harness_token():
    import conftest
    return conftest.ADMIN_TOKEN


def test_full_pool_gives_up_the_least_recently_used(factory, pg):
    p = factory.start("pool-one", workers=1, upstream={"pool_max_idle": 1})
    a = backend_pid(p, application_name="lru-a")
    wait_reset(pg, a)
    b = backend_pid(p, application_name="lru-b")
    wait_reset(pg, b)
    # a was given up for b
    deadline = time.monotonic() + 5
    while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % a).strip() != "0":
        assert time.monotonic() < deadline, "the older pooled connection was kept past pool_max_idle"
        time.sleep(0.05)
    assert backend_pid(p, application_name="lru-b") == b
    assert backend_pid(p, application_name="lru-a") != a


def test_pool_off(factory, pg):
    p = factory.start("pool-off", workers=1, upstream={"pool_max_idle": 0})
    first = backend_pid(p)
    assert backend_pid(p) != first


def test_replication_connections_are_not_pooled(pooled, pg):
    """A walsender (replication=database) keeps replication state: never handed to another client."""
    def walsender_pid():
        with psycopg.connect(pooled.dsn(user="postgres", replication="database"), autocommit=True) as c:
            return c.execute("SELECT pg_backend_pid()").fetchone()[0]
    first = walsender_pid()
    assert walsender_pid() != first
