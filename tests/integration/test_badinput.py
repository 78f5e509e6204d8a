# test_badinput.py - hostile and broken clients: each gets an error or a close, and the proxy keeps serving others.
import os
import selectors
import socket
import ssl
import struct
import time

import psycopg
import pytest

import harness
from enc_harness import enc  # noqa: F401 (a fixture)
from harness import SSL_REQUEST, Raw, msg, startup_packet


def assert_serves(proxy, **kw):
    """A normal client still works (and pgseal is alive)."""
    assert proxy.alive(), proxy.log_tail()
    with psycopg.connect(proxy.dsn(**kw), autocommit=True) as c:
        assert c.execute("SELECT %s::int + 1", (41,)).fetchone() == (42,)


def expect_rejected(proxy, data, timeout=10.0):
    """Sends DATA on a fresh connection; the proxy must answer with an error or close, in time."""
    with Raw(proxy.host, proxy.port) as r:
        try:
            r.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return "reset", None
        kind, fields = r.closed_or_error(timeout)
    print("rejected:", kind, fields)
    assert kind in ("error", "eof", "reset"), "proxy neither answered nor closed within %.0fs" % timeout
    if kind == "error":
        assert fields.get("S") in ("FATAL", "ERROR")
        assert fields.get("C") in ("08P01", "0A000", "08004", "28000", "53300"), fields
    return kind, fields


@pytest.fixture(scope="module")
def proxy(plain):
    return plain


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    os.urandom(64),
    b"\xff" * 32,
    struct.pack("!II", 8, 12345678),                  # unknown request code / protocol version
    struct.pack("!II", 8, 2 << 16),                   # protocol 2.0
    struct.pack("!II", 8, (3 << 16) | 99),            # protocol 3.99: pgseal must not crash (may negotiate)
], ids=["http", "random", "ff", "unknown-code", "proto2", "proto3.99"])
def test_garbage_startup(proxy, data):
    with Raw(proxy.host, proxy.port) as r:
        r.send(data)
        kind, fields = r.closed_or_error(10)
    print("garbage ->", kind, fields)
    assert kind in ("error", "eof", "reset") or data[4:8] == struct.pack("!I", (3 << 16) | 99)
    assert_serves(proxy)


@pytest.mark.parametrize("length", [0, 1, 3])
def test_impossible_startup_length(proxy, length):
    expect_rejected(proxy, struct.pack("!I", length) + b"\0\3\0\0")
    assert_serves(proxy)


def test_impossible_message_length_after_startup(proxy):
    for length in (0, 3):
        with Raw(proxy.host, proxy.port) as r:
            r.startup_trust()
            r.send(b"Q" + struct.pack("!I", length))
            kind, fields = r.closed_or_error(10)
            print("Q len", length, "->", kind, fields)
            assert kind in ("error", "eof", "reset")
            if kind == "error":
                assert fields["C"] == "08P01"
    assert_serves(proxy)


def test_startup_packet_over_10000_bytes(proxy):
    big = startup_packet({"user": "trust_user", "database": harness.DB, "application_name": "a" * 12000})
    assert len(big) > 10000
    expect_rejected(proxy, big)
    # announced but not sent: the length alone is enough to refuse
    expect_rejected(proxy, struct.pack("!II", 20000, harness.PROTO_V3))
    # just under the limit is fine
    ok = startup_packet({"user": "trust_user", "database": harness.DB, "application_name": "b" * 60,
                         "options": "-c search_path=public"})
    with Raw(proxy.host, proxy.port) as r:
        r.send(ok)
        tags = [t for t, _ in r.read_until({b"Z", b"E"})]
        assert tags[-1] == b"Z"
    assert_serves(proxy)


def test_2gib_message_length(proxy):
    # after startup: a Query announcing ~2 GiB
    with Raw(proxy.host, proxy.port) as r:
        r.startup_trust()
        t0 = time.monotonic()
        r.send(b"Q" + struct.pack("!I", 0x7FFFFFF0) + b"SELECT 1")
        kind, fields = r.closed_or_error(10)
        print("2 GiB Query ->", kind, fields)
        assert kind in ("error", "eof", "reset")
        if kind == "error":
            assert fields["C"] in ("08P01", "54000"), fields
        assert time.monotonic() - t0 < 10
    # a 2 GiB startup packet
    expect_rejected(proxy, struct.pack("!II", 0x80000000, harness.PROTO_V3))
    # 0xFFFFFFFF as a message length
    with Raw(proxy.host, proxy.port) as r:
        r.startup_trust()
        r.send(b"P" + b"\xff\xff\xff\xff")
        kind, _ = r.closed_or_error(10)
        assert kind in ("error", "eof", "reset")
    assert_serves(proxy)


def test_unknown_message_type_after_startup(proxy):
    with Raw(proxy.host, proxy.port) as r:
        r.startup_trust()
        r.send(msg(b"\x01", b"junk"))
        kind, fields = r.closed_or_error(10)
        print("unknown type ->", kind, fields)
        assert kind in ("error", "eof", "reset")
    assert_serves(proxy)


@pytest.mark.parametrize("formats,values", [
    ([0, 0], [b"1", b"x@example.com", b"n"]),         # 2 format codes for 3 values
    ([2], [b"1", b"x@example.com", b"n"]),            # format code 2
    ([], [b"1", None, b"n"]),                         # a length of -2 (below)
], ids=["2-codes-3-values", "format-2", "length-minus-2"])
def test_bad_bind_refused_by_pgseal(enc, formats, values):
    """A Bind PostgreSQL would reject is refused by pgseal itself (08P01, its own message) before
    any of it goes upstream, for a statement with encrypted parameters."""
    with Raw("127.0.0.1", enc.proxy.port, timeout=10) as r:
        r.startup_trust()
        r.send(msg(b"P", b"badfc\0INSERT INTO people (id, email, name) VALUES ($1, $2, $3)\0" +
                   struct.pack("!H", 0)) + msg(b"S"))
        tags = [m[0] for m in r.read_until({b"Z"})]
        assert tags == [b"1", b"Z"], tags
        body = b"\0badfc\0" + struct.pack("!H", len(formats)) + b"".join(struct.pack("!H", f) for f in formats)
        body += struct.pack("!H", len(values))
        for v in values:
            body += struct.pack("!i", -2) if v is None else struct.pack("!i", len(v)) + v
        body += struct.pack("!H", 0)
        r.send(msg(b"B", body) + msg(b"E", b"\0" + struct.pack("!I", 0)) + msg(b"S"))
        kind, fields = r.closed_or_error(10)
        assert kind == "error" and fields["C"] == "08P01", (kind, fields)
        assert fields["M"].startswith("pgseal:"), fields  # pgseal's refusal, not the server's
    assert enc.up_rows("SELECT count(*) FROM people WHERE id = 1 AND name = 'n'") == [(0,)]


def test_half_packets_then_close(proxy):
    sp = startup_packet({"user": "trust_user", "database": harness.DB})
    for cut in (1, 3, 5, len(sp) - 1):
        s = socket.create_connection((proxy.host, proxy.port), timeout=5)
        s.sendall(sp[:cut])
        s.close()
    # mid-session: half a Query, half a Parse, then close
    for frag in (msg(b"Q", b"SELECT 1\0")[:7], msg(b"P", b"\0SELECT 1\0\0\0")[:3]):
        r = Raw(proxy.host, proxy.port)
        r.startup_trust()
        r.send(frag)
        r.close()
    # half a Query, then the rest slowly: must still work
    with Raw(proxy.host, proxy.port) as r:
        r.startup_trust()
        q = msg(b"Q", b"SELECT 'slow'\0")
        for i in range(len(q)):
            r.send(q[i:i + 1])
            time.sleep(0.01)
        rows, err = _rows(r)
        assert rows == [["slow"]] and err is None
    assert_serves(proxy)


def _rows(r):
    rows, err = [], None
    for tag, payload in r.read_until({b"Z"}):
        if tag == b"D":
            (ln,) = struct.unpack("!i", payload[2:6])
            rows.append([payload[6:6 + ln].decode()])
        elif tag == b"E":
            err = harness.parse_error_fields(payload)
    return rows, err


def test_abrupt_close_mid_query(proxy, pg):
    """A client that vanishes while its query runs: the backend is released, the proxy unaffected."""
    r = Raw(proxy.host, proxy.port)
    pid, _, _ = r.startup_trust()
    r.send(msg(b"Q", b"SELECT pg_sleep(1), 'x'\0"))
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.close()  # RST
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % pid).strip() == "0":
            break
        time.sleep(0.2)
    assert pg.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % pid).strip() == "0"
    assert_serves(proxy)


def test_plaintext_after_sslrequest_refused(tls, certs):
    """SSLRequest, 'S', then a StartupMessage in clear: must not be accepted."""
    with Raw(tls.host, tls.port) as r:
        r.send(struct.pack("!II", 8, SSL_REQUEST))
        assert r.read_byte() == b"S"
        r.send(startup_packet({"user": "trust_user", "database": harness.DB}))
        r.sock.settimeout(10)
        data = b""
        try:
            while True:
                chunk = r.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pytest.fail("pgseal neither closed nor answered plaintext after SSLRequest")
        except ConnectionResetError:
            pass
        print("plaintext after S ->", data[:16])
        assert not data.startswith(b"R"), "pgseal accepted a plaintext startup after agreeing to TLS"
        assert data == b"" or data[0] == 0x15, data[:16]  # nothing, or a TLS alert record
    assert_serves(tls, user="scram_user", password=harness.PASSWORDS["scram_user"], sslmode="verify-full",
                  sslrootcert=certs.ca)


def test_tls_garbage_handshake(tls, certs):
    with Raw(tls.host, tls.port) as r:
        r.send(struct.pack("!II", 8, SSL_REQUEST))
        assert r.read_byte() == b"S"
        r.send(b"\x16\x03\x01\x00\x05" + os.urandom(5) + os.urandom(200))
        kind, _ = r.closed_or_error(10)
        assert kind in ("eof", "reset", "error")
    # a client that does the SSLRequest and then never starts the handshake: closed by the startup timeout
    assert_serves(tls, user="scram_user", password=harness.PASSWORDS["scram_user"], sslmode="verify-full",
                  sslrootcert=certs.ca)


def test_two_ssl_requests(plain):
    with Raw(plain.host, plain.port) as r:
        r.send(struct.pack("!II", 8, SSL_REQUEST))
        assert r.read_byte() == b"N"
        r.send(struct.pack("!II", 8, SSL_REQUEST))
        kind, fields = r.closed_or_error(3)
        print("second SSLRequest ->", kind, fields, r.buf[:16])
        # refusing is right; answering 'N' again would show as a timeout here, which we accept as well
        assert kind in ("error", "eof", "reset", "timeout")
    assert_serves(plain)


def test_idle_connections_closed_by_startup_timeout(factory):
    """300 connections that never send a byte are closed after startup_timeout_ms; others are served meanwhile."""
    p = factory.start("startup-timeout", startup_timeout_ms=500, admin=False)
    n = 300
    socks = []
    sel = selectors.DefaultSelector()
    for _ in range(n):
        s = socket.create_connection((p.host, p.port), timeout=5)
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    t0 = time.monotonic()
    # while they hang, a normal client connects and works
    assert_serves(p)
    closed = set()
    deadline = t0 + 15
    while len(closed) < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                closed.add(s)
                sel.unregister(s)
            # an ErrorResponse before the close is fine: keep reading until EOF
    elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    print("closed %d/%d idle connections in %.1fs" % (len(closed), n, elapsed))
    assert len(closed) == n
    assert elapsed >= 0.3, "closed before the startup timeout"
    # a connection that starts but stalls mid-startup is closed too
    with Raw(p.host, p.port) as r:
        r.send(startup_packet({"user": "trust_user", "database": harness.DB})[:6])
        kind, _ = r.closed_or_error(10)
        assert kind in ("error", "eof", "reset")
    assert_serves(p)
    assert p.stop() == 0


def test_tls_idle_connections_timeout(factory, certs):
    """Clients stuck in the TLS handshake are also bounded by the startup timeout."""
    p = factory.start("tls-timeout", client_tls=True, startup_timeout_ms=500, admin=False)
    socks = []
    for _ in range(20):
        s = socket.create_connection((p.host, p.port), timeout=10)
        s.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert s.recv(1) == b"S"
        socks.append(s)
    t0 = time.monotonic()
    closed = 0
    for s in socks:
        s.settimeout(max(0.1, t0 + 10 - time.monotonic()))
        try:
            while s.recv(4096):
                pass
            closed += 1
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
        s.close()
    assert closed == len(socks), "connections stuck before the TLS handshake were not closed by the startup timeout"
    ctx = ssl.create_default_context(cafile=certs.ca)
    with socket.create_connection((p.host, p.port), timeout=10) as s:
        s.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert s.recv(1) == b"S"
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(startup_packet({"user": "trust_user", "database": harness.DB}))
            assert t.recv(1) == b"R"
    assert p.stop() == 0
