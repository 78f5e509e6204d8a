# test_relay_conformance.py - pgseal behaves like PostgreSQL where drivers notice: cancels, early Terminate, pooled settings.
"""Found by running the public test suites of psycopg 3, psycopg2 and node-postgres through pgseal.

* A CancelRequest's connection closes only once the upstream has the cancel: a driver
  that cancelled an idle session and runs its next statement must not have that
  statement cancelled by a late cancel (PostgreSQL: 0 of N).
* Terminate (or nothing at all) before the startup packet: a quiet close, as PostgreSQL.
* Terminate while the server waits for the password: both connections end at once.
* Role and database settings (ALTER ROLE/DATABASE ... SET) reach clients of the session pool:
  a pooled connection that started with other settings is not reused.

Timing only as generous upper bounds.
"""
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import psycopg
import psycopg2
import psycopg2.extensions
import pytest

import harness
from harness import CANCEL_REQUEST, DB, Raw, msg, startup_packet
from test_pool import wait_reset


@pytest.fixture(scope="module")
def pooled(factory):
    """Pooling on (the default), plaintext clients, upstream TLS verify-full."""
    return factory.start("conf-pooled")


@pytest.fixture(scope="module")
def unpooled(factory):
    """Pooling off, plaintext on both hops."""
    return factory.start("conf-unpooled", upstream_tls="disable", upstream={"pool_max_idle": 0})


@pytest.fixture(scope="module")
def tls_both(factory):
    """TLS on both hops, pooling on, authentication relayed."""
    return factory.start("conf-tls", client_tls=True)


@pytest.fixture(scope="module")
def auth_block(factory):
    """TLS on both hops and the auth: block (pgseal runs SCRAM itself)."""
    return factory.start("conf-auth", client_tls=True, auth=True)


PROXIES = ["pooled", "unpooled", "tls_both"]


def proxy_dsn(request, name, certs, **kw):
    p = request.getfixturevalue(name)
    if "client_tls" in p.config:
        kw.setdefault("sslmode", "verify-full")
        kw.setdefault("sslrootcert", certs.ca)
    return p, p.dsn(**kw)


def cancel_raw(port, pid, key, host="127.0.0.1", timeout=10.0):
    """Sends a CancelRequest on a plain socket; returns (seconds until the close, bytes received)."""
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack("!IIII", 16, CANCEL_REQUEST, pid, key))
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    return time.monotonic() - t0, got


def wait_active(pg, pid, timeout=10.0):
    """Waits until backend PID runs a statement (pg_stat_activity state 'active')."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pg.psql("SELECT state FROM pg_stat_activity WHERE pid = %d" % pid).strip() == "active":
            return
        time.sleep(0.02)
    raise AssertionError("backend %d never became active" % pid)


# --------------------------------------------------------------------------- cancel

@pytest.mark.parametrize("name", PROXIES)
def test_psycopg3_cancel_of_idle_session_does_not_hit_the_next_statement(request, certs, name):
    """conn.cancel() returns once the cancel is delivered: the next statement is not cancelled."""
    _, dsn = proxy_dsn(request, name, certs)
    hit = 0
    with psycopg.connect(dsn, autocommit=True) as c:
        for _ in range(30):
            c.cancel()
            try:
                c.execute("select pg_sleep(0.2)")
            except psycopg.errors.QueryCanceled:
                hit += 1
    assert hit == 0, "%d of 30 statements cancelled by a cancel sent before them" % hit


@pytest.mark.parametrize("name", PROXIES)
def test_psycopg2_pqcancel_of_idle_session_does_not_hit_the_next_statement(request, certs, name):
    _, dsn = proxy_dsn(request, name, certs)
    c = psycopg2.connect(dsn)
    c.autocommit = True
    hit = 0
    try:
        cur = c.cursor()
        for _ in range(20):
            c.cancel()
            try:
                cur.execute("select pg_sleep(0.2)")
            except psycopg2.extensions.QueryCanceledError:
                hit += 1
    finally:
        c.close()
    assert hit == 0, "%d of 20 statements cancelled by a cancel sent before them" % hit


@pytest.mark.parametrize("name", PROXIES)
def test_cancel_of_a_running_statement(request, certs, pg, name):
    _, dsn = proxy_dsn(request, name, certs)
    with psycopg.connect(dsn, autocommit=True) as c:
        pid = c.info.backend_pid
        done = {}

        def canceller():
            wait_active(pg, pid)
            t0 = time.monotonic()
            c.cancel()
            done["cancel"] = time.monotonic() - t0

        t = threading.Thread(target=canceller)
        t.start()
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("select pg_sleep(10)")
        elapsed = time.monotonic() - t0
        t.join(10)
        assert elapsed < 8 and done["cancel"] < 5, (elapsed, done)
        # the session goes on
        assert c.execute("select 1").fetchone() == (1,)


@pytest.mark.parametrize("name", ["pooled", "unpooled"])
def test_cancel_with_the_key_of_an_ended_session_reaches_nothing(request, pg, name):
    """A session that ended takes its key with it, pooled backend or not."""
    p = request.getfixturevalue(name)
    with Raw("127.0.0.1", p.port) as r:
        pid1, key1, _ = r.startup_trust()
        r.send(msg(b"X"))
    if name == "pooled":
        wait_reset(pg, pid1)
    # another session, on the same backend when pooled, runs a statement
    with Raw("127.0.0.1", p.port) as r:
        pid2, key2, _ = r.startup_trust()
        if name == "pooled":
            assert pid2 == pid1, "backend not reused"
        r.send(msg(b"Q", b"SELECT pg_sleep(3)::text\0"))
        wait_active(pg, pid2)
        took, got = cancel_raw(p.port, pid1, key1)  # the old key: closed at once, delivered nowhere
        assert got == b"" and took < 5
        if pid2 != pid1:
            took, got = cancel_raw(p.port, pid2, key1)  # the old key on the new backend
            assert got == b""
        tags = r.read_until({b"Z"})
        assert not [m for m in tags if m[0] == b"E"], tags
        # the session's own key still works
        r.send(msg(b"Q", b"SELECT pg_sleep(20)::text\0"))
        wait_active(pg, pid2)
        took, got = cancel_raw(p.port, pid2, key2)
        assert got == b"" and took < 5
        errs = [harness.parse_error_fields(m[1]) for m in r.read_until({b"Z"}) if m[0] == b"E"]
        assert errs and errs[0]["C"] == "57014", errs
    assert "cancel request for an unknown backend ignored" in p.log_text()


# --------------------------------------------------------------------------- Terminate before startup

def answer_of(port, data, half_close=True, timeout=5.0):
    """What the server at PORT answers to DATA followed by an end of stream: ('eof', bytes) or ('timeout', bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return "eof", got
                got += chunk
        except socket.timeout:
            return "timeout", got
        except ConnectionResetError:
            return "reset", got


TERMINATE = msg(b"X")


@pytest.mark.parametrize("data", [b"", b"X", TERMINATE, TERMINATE[:3], struct.pack("!I", 4), struct.pack("!I", 3)],
                         ids=["nothing", "X", "terminate", "partial-length", "length-4", "length-3"])
def test_early_close_is_quiet_as_in_postgresql(pooled, pg, data):
    """PostgreSQL closes these without a word (it only logs them): so does pgseal."""
    direct = answer_of(pg.port, data)
    proxied = answer_of(pooled.port, data)
    assert direct == ("eof", b""), direct
    assert proxied == direct, proxied
    with psycopg.connect(pooled.dsn(), autocommit=True) as c:
        assert c.execute("select 1").fetchone() == (1,)


def test_terminate_without_half_close_is_closed_at_once(pooled):
    """A client that sends Terminate and waits for the server to close (node-postgres)."""
    t0 = time.monotonic()
    kind, got = answer_of(pooled.port, TERMINATE, half_close=False, timeout=5)
    assert (kind, got) == ("eof", b"") and time.monotonic() - t0 < 3


@pytest.mark.parametrize("data", [struct.pack("!II", 8, 12345678), struct.pack("!II", 8, 2 << 16),
                                  struct.pack("!I", 12) + struct.pack("!I", 3 << 16) + b"user"],
                         ids=["unknown-code", "proto2", "no-terminator"])
def test_invalid_startup_packets_still_get_a_fatal(pooled, pg, data):
    for port in (pg.port, pooled.port):
        kind, got = answer_of(port, data)
        assert kind == "eof" and got[:1] == b"E", (port, kind, got)
        assert b"FATAL" in got


def test_node_postgres_quick_connect_and_end(pooled):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    node_dir = os.path.join(harness.REPO, "tests", "node")
    env = dict(os.environ, PGSEAL_PLAIN_PORT=str(pooled.port), PGSEAL_DB=DB)
    r = subprocess.run([node, "--test", "--test-name-pattern", "quick", "proxy.test.js"], cwd=node_dir, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode(errors="replace")
    print(out)
    assert r.returncode == 0 and "# fail 0" in out and "# pass 1" in out, out


# --------------------------------------------------------------------------- Terminate during the password wait

def upstream_sockets(proxy, pg):
    """Established TCP connections of the pgseal process to PostgreSQL's port (from /proc)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % proxy.proc.pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                if cols[3] == "01" and remote_port == pg.port and cols[9] in inodes:
                    n += 1
    return n


def open_raw(proxy, certs):
    if "client_tls" in proxy.config:
        return harness.RawTLS("127.0.0.1", proxy.port, certs.ca)
    return Raw("127.0.0.1", proxy.port)


@pytest.mark.parametrize("name,user,code,mid_scram", [
    ("unpooled", "md5_user", 5, False), ("unpooled", "pw_user", 3, False), ("unpooled", "scram_user", 10, False),
    ("unpooled", "scram_user", 10, True), ("tls_both", "scram_user", 10, False),
    ("auth_block", "scram_user", 10, False), ("auth_block", "scram_user", 10, True),
    ("auth_block", "md5_user", 5, False),
])
@pytest.mark.parametrize("then_close", [False, True], ids=["then-wait", "then-close"])
def test_terminate_while_the_password_is_awaited(request, pg, certs, name, user, code, mid_scram, then_close):
    """Terminate when the password is asked for, or halfway through SCRAM; the client then
    waits for the server to close, or closes its side too (both arrive together)."""
    p = request.getfixturevalue(name)
    before = upstream_sockets(p, pg)
    r = open_raw(p, certs)
    try:
        r.send(startup_packet({"user": user, "database": DB}))
        m = r.read_msg()
        assert m and m[0] == b"R" and struct.unpack("!I", m[1][:4])[0] == code, m
        if name == "auth_block":
            before = upstream_sockets(p, pg)  # the auth_query connection may have just opened
            if user == "md5_user":
                before -= 1
        # a relayed exchange: the upstream connection is open and waits
        if name != "auth_block" or user != "scram_user":
            assert upstream_sockets(p, pg) == before + 1
        if mid_scram:
            first = b"n,,n=,r=" + os.urandom(12).hex().encode()
            r.send(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
            m = r.read_msg()
            assert m and m[0] == b"R" and struct.unpack("!I", m[1][:4])[0] == 11, m
        t0 = time.monotonic()
        if then_close:
            r.send(TERMINATE)
            r.sock.shutdown(socket.SHUT_WR)
        else:
            r.send(TERMINATE)  # and the socket stays open: the server must close
        kind, fields = r.closed_or_error(5)
        took = time.monotonic() - t0
    finally:
        r.close()
    assert kind in ("eof", "reset") or (kind == "error" and fields.get("S") == "FATAL"), (kind, fields)
    print("%s %s: closed %.3fs after Terminate (%s)" % (name, user, took, kind))
    assert took < 1.5, "pgseal held the connection %.1fs after Terminate" % took
    deadline = time.monotonic() + 1.5
    while upstream_sockets(p, pg) > before:
        assert time.monotonic() < deadline, "the upstream connection outlived the client's"
        time.sleep(0.02)


# --------------------------------------------------------------------------- pooled sessions and role settings

def test_role_settings_reach_reused_pooled_connections(pooled, pg):
    """ALTER ROLE/DATABASE ... SET: a pooled connection that started with other settings is
    not handed out (pgseal checks before it reuses one); unchanged ones still are."""
    db = "relay_settings"
    pg.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
    pg.psql("CREATE DATABASE %s" % db)

    def session(expect_timeout, **kw):
        with psycopg.connect(pooled.dsn(dbname=db, **kw), autocommit=True) as c:
            assert c.execute("SHOW statement_timeout").fetchone() == (expect_timeout,)
            pid = c.info.backend_pid
        wait_reset(pg, pid)
        return pid

    try:
        pid = session("0")
        assert session("0") == pid  # nothing changed: reused
        pg.psql("ALTER ROLE trust_user IN DATABASE %s SET statement_timeout = '4321ms'" % db)
        with psycopg.connect(harness_direct_dsn(pg, db), autocommit=True) as c:
            assert c.execute("SHOW statement_timeout").fetchone() == ("4321ms",)  # PostgreSQL, directly
        pid2 = session("4321ms")  # not the pooled backend that started without it
        assert pid2 != pid
        assert session("4321ms") == pid2  # and that one is reused
        pg.psql("ALTER DATABASE %s SET lock_timeout = '7s'" % db)
        pid3 = session("4321ms")
        assert pid3 != pid2
        with psycopg.connect(pooled.dsn(dbname=db), autocommit=True) as c:
            assert c.execute("SHOW lock_timeout").fetchone() == ("7s",)
            assert c.info.backend_pid == pid3
        wait_reset(pg, pid3)
        # a setting removed again
        pg.psql("ALTER ROLE trust_user IN DATABASE %s RESET statement_timeout" % db)
        pid4 = session("0")
        assert pid4 != pid3
        assert "settings changed while it was pooled" in pooled.log_text()
        # a value the client's StartupMessage overrides stays the client's; a catalog change
        # costs the pooled connection once (the check compares the catalog's rows), then
        # the new one is reused
        opt = {"options": "-c statement_timeout=1234"}
        pid5 = session("1234ms", **opt)
        assert session("1234ms", **opt) == pid5
        pg.psql("ALTER ROLE trust_user IN DATABASE %s SET statement_timeout = '99s'" % db)
        pid6 = session("1234ms", **opt)
        assert session("1234ms", **opt) == pid6
        # changed while a session runs: its reset finds it, and the backend is not pooled
        with psycopg.connect(pooled.dsn(dbname=db), autocommit=True) as c:
            pid7 = c.info.backend_pid
            assert c.execute("SHOW statement_timeout").fetchone() == ("99s",)
            pg.psql("ALTER ROLE trust_user IN DATABASE %s SET statement_timeout = '98s'" % db)
        deadline = time.monotonic() + 10
        while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % pid7).strip() != "0":
            assert time.monotonic() < deadline, "a backend with outdated settings was pooled"
            time.sleep(0.05)
        assert session("98s") != pid7
    finally:
        pg.psql("ALTER ROLE trust_user IN DATABASE %s RESET ALL" % db)
        pg.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)


def harness_direct_dsn(pg, db):
    return "host=127.0.0.1 port=%d user=trust_user dbname=%s sslmode=disable" % (pg.port, db)


# --------------------------------------------------------------------------- a cancel held on its way

class CancelHolder:
    """A TCP forwarder in front of PostgreSQL that holds CancelRequests until released."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.release = threading.Event()
        self.held = threading.Semaphore(0)
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.release.set()
        self.stop.set()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()
        self.lsock.close()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _serve(self, c):
        c.settimeout(30)
        head = b""
        try:
            while len(head) < 8:
                d = c.recv(8 - len(head))
                if not d:
                    c.close()
                    return
                head += d
            if struct.unpack("!II", head) == (16, CANCEL_REQUEST):
                self.held.release()
                self.release.wait(30)
            u = socket.create_connection(self.target, timeout=30)
        except OSError:
            c.close()
            return
        u.sendall(head)
        t = threading.Thread(target=self._pipe, args=(u, c), daemon=True)
        t.start()
        self._pipe(c, u)
        t.join(30)
        c.close()
        u.close()


def test_a_cancel_on_its_way_keeps_the_client_waiting_and_its_backend_out_of_the_pool(factory, pg):
    holder = CancelHolder(pg.port)
    try:
        p = factory.start("conf-held", upstream_tls="disable", upstream={"host": "127.0.0.1", "port": holder.port})
        with Raw("127.0.0.1", p.port) as r:
            pid, key, _ = r.startup_trust()
            cs = socket.create_connection(("127.0.0.1", p.port), timeout=10)
            cs.sendall(struct.pack("!IIII", 16, CANCEL_REQUEST, pid, key))
            assert holder.held.acquire(timeout=10), "the cancel did not reach the upstream side"
            # the cancel is on its way: the client's cancel connection is still open
            cs.settimeout(0.5)
            with pytest.raises(socket.timeout):
                cs.recv(1)
            # the session ends meanwhile: its backend must not serve another client
            r.send(msg(b"X"))
        deadline = time.monotonic() + 10
        while "upstream connection not pooled" not in p.log_text():
            assert time.monotonic() < deadline, p.log_tail()
            time.sleep(0.05)
        holder.release.set()
        cs.settimeout(10)
        assert cs.recv(1) == b""  # closed once PostgreSQL has closed its side
        cs.close()
        with Raw("127.0.0.1", p.port) as r:
            pid2, _, _ = r.startup_trust()
            assert pid2 != pid
            rows, err = r.query("SELECT 1::text")
            assert rows == [["1"]] and err is None
    finally:
        holder.close()
