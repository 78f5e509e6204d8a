# test_tls.py - TLS on both sides: SSLRequest/GSSENCRequest answers, psql verify-full, mTLS, require, upstream verification.
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings

import psycopg
import pytest

import harness
from harness import GSSENC_REQUEST, PASSWORDS, SSL_REQUEST, Raw, startup_packet


@pytest.fixture(scope="module")
def mtls(factory):
    return factory.start("mtls", mtls=True)


def scram_dsn(proxy, certs, **kw):
    d = dict(user="scram_user", password=PASSWORDS["scram_user"], sslmode="verify-full", sslrootcert=certs.ca)
    d.update(kw)
    return proxy.dsn(**d)


def test_sslrequest_answered_by_pgseal(tls, plain, certs):
    # TLS configured: 'S', then a TLS handshake with pgseal's certificate (not PostgreSQL's own)
    with socket.create_connection((tls.host, tls.port), timeout=10) as s:
        s.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert s.recv(1) == b"S"
        ctx = ssl.create_default_context(cafile=certs.ca)
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.version() in ("TLSv1.2", "TLSv1.3")
            t.sendall(startup_packet({"user": "scram_user", "database": harness.DB}))
            hdr = t.recv(5)
            assert hdr[:1] == b"R"
    # no client_tls: 'N', and the same connection continues in plaintext
    with Raw(plain.host, plain.port) as r:
        r.send(struct.pack("!II", 8, SSL_REQUEST))
        assert r.read_byte() == b"N"
        r.startup_trust()
        assert r.query("SELECT 'after N'")[0] == [["after N"]]


def test_direct_tls_with_alpn(tls, plain, certs):
    # libpq 17's sslnegotiation=direct: a ClientHello first, no SSLRequest (what lets a TLS
    # router such as dstack-gateway pass the connection through by SNI); ALPN "postgresql"
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection((tls.host, tls.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.selected_alpn_protocol() == "postgresql"
            t.sendall(startup_packet({"user": "scram_user", "database": harness.DB}))
            assert t.recv(5)[:1] == b"R"
    # without ALPN, as PostgreSQL 17: refused after the handshake, nothing relayed
    ctx = ssl.create_default_context(cafile=certs.ca)
    with socket.create_connection((tls.host, tls.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            data = b""
            while True:
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data[:1] == b"E" and b"without ALPN" in data
    # ALPN offering only another protocol: the handshake fails (no_application_protocol)
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection((tls.host, tls.port), timeout=10) as s:
        with pytest.raises((ssl.SSLError, OSError)):
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.recv(1)
    # the classic SSLRequest path may offer ALPN too (libpq 17 does)
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection((tls.host, tls.port), timeout=10) as s:
        s.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert s.recv(1) == b"S"
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.selected_alpn_protocol() == "postgresql"
            t.sendall(startup_packet({"user": "scram_user", "database": harness.DB}))
            assert t.recv(5)[:1] == b"R"
    # without client_tls a ClientHello is no startup packet: closed without a word
    with socket.create_connection((plain.host, plain.port), timeout=10) as s:
        ctx = ssl.create_default_context(cafile=certs.ca)
        ctx.set_alpn_protocols(["postgresql"])
        with pytest.raises((ssl.SSLError, OSError)):
            with ctx.wrap_socket(s, server_hostname="localhost"):
                pass


def test_tls_versions_below_1_2_refused(tls, certs):
    with socket.create_connection((tls.host, tls.port), timeout=10) as s:
        s.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert s.recv(1) == b"S"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(certs.ca)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            pytest.skip("local OpenSSL cannot even offer TLS < 1.2")
        with pytest.raises((ssl.SSLError, OSError)):
            with ctx.wrap_socket(s, server_hostname="localhost"):
                pass


def test_gssencrequest_refused_with_N(plain, tls):
    for p in (plain, tls):
        with Raw(p.host, p.port) as r:
            r.send(struct.pack("!II", 8, GSSENC_REQUEST))
            assert r.read_byte() == b"N"
    # the plaintext proxy then continues with a normal startup on that connection
    with Raw(plain.host, plain.port) as r:
        r.send(struct.pack("!II", 8, GSSENC_REQUEST))
        assert r.read_byte() == b"N"
        r.startup_trust()
        assert r.query("SELECT 5")[0] == [["5"]]
    # libpq with gssencmode=prefer falls back cleanly
    with psycopg.connect(plain.dsn(gssencmode="prefer"), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_psql_verify_full(tls, certs):
    env = {"PGPASSWORD": PASSWORDS["scram_user"], "PATH": "/usr/bin:/bin"}
    conn = "host=localhost port=%d dbname=%s user=scram_user sslmode=verify-full sslrootcert=%s" % (
        tls.port, harness.DB, certs.ca)
    out = subprocess.run(["psql", "-X", "-At", "-d", conn, "-c",
                          "SELECT 'psql:' || current_user || ':' || 6*7"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, env=env).stdout.decode()
    assert out.strip() == "psql:scram_user:42", out
    # verify-full against the wrong CA must fail on the client side
    out = subprocess.run(["psql", "-X", "-At", "-d", conn.replace(certs.ca, certs.other_ca), "-c", "SELECT 1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, env=env)
    assert out.returncode != 0
    assert "certificate verify failed" in out.stdout.decode()


def test_require_refuses_plaintext_client(tls):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(tls.dsn(user="scram_user", password=PASSWORDS["scram_user"], sslmode="disable")).close()
    print("plaintext client refused:", str(e.value).strip())
    with Raw(tls.host, tls.port) as r:
        r.send(startup_packet({"user": "trust_user", "database": harness.DB}))
        kind, fields = r.closed_or_error(10)
        print("raw plaintext startup on require:true ->", kind, fields)
        assert kind in ("error", "eof", "reset")
        if kind == "error":
            assert fields["C"] in ("28000", "08P01"), fields
            assert fields["S"] == "FATAL"


def test_plain_cancel_with_client_tls(tls, certs):
    """libpq sends CancelRequest unencrypted even to a TLS server: pgseal accepts it."""
    with psycopg.connect(scram_dsn(tls, certs), autocommit=True) as c:
        timer = threading.Timer(0.5, c.cancel)
        timer.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled):
                c.execute("SELECT pg_sleep(20)")
        finally:
            timer.cancel()
        assert time.monotonic() - t0 < 10
        assert c.execute("SELECT 'still here'").fetchone() == ("still here",)


def test_tls_relay_bulk(tls, certs):
    """Bulk data through TLS on both hops (record boundaries, partial writes)."""
    import hashlib
    import os
    blob = os.urandom(3 << 20)
    with psycopg.connect(scram_dsn(tls, certs), autocommit=True) as c:
        assert c.execute("SELECT md5(%s::bytea)", (blob,)).fetchone()[0] == hashlib.md5(blob).hexdigest()
        got = c.execute("SELECT %s::bytea", (blob,)).fetchone()[0]
        assert got == blob
        n = c.execute("SELECT count(*) FROM generate_series(1, 200000)").fetchone()[0]
        assert n == 200000
        rows = c.execute("SELECT g, repeat('z', 100) FROM generate_series(1, 50000) g").fetchall()
        assert len(rows) == 50000 and rows[-1][0] == 50000


# ------------------------------------------------------------------ mTLS

def test_mtls_accepted(mtls, certs):
    dsn = mtls.dsn(sslmode="verify-full", sslrootcert=certs.ca, sslcert=certs.client,
                   sslkey=certs.path("client.key"))
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.info.pgconn.ssl_in_use
        assert c.execute("SELECT current_user, 1 + 1").fetchone() == ("trust_user", 2)


def test_mtls_refused_without_cert(mtls, certs):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(mtls.dsn(sslmode="verify-full", sslrootcert=certs.ca, sslcert="/nonexistent",
                                 sslkey="/nonexistent")).close()
    print("mTLS without cert:", str(e.value).strip())


def test_mtls_refused_cert_from_other_ca(mtls, certs):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(mtls.dsn(sslmode="verify-full", sslrootcert=certs.ca, sslcert=certs.stranger,
                                 sslkey=certs.path("stranger.key"))).close()
    print("mTLS stranger cert:", str(e.value).strip())
    # still serves the right client afterwards
    test_mtls_accepted(mtls, certs)


def test_mtls_refuses_plaintext(mtls):
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(mtls.dsn(sslmode="disable")).close()


# ------------------------------------------------------------------ upstream TLS

@pytest.mark.parametrize("mode,want_ssl", [("verify-full", True), ("verify-ca", True), ("require", True),
                                           ("disable", False)])
def test_upstream_tls_modes(factory, mode, want_ssl):
    p = factory.start("up-" + mode, upstream_tls=mode, admin=False)
    with psycopg.connect(p.dsn(), autocommit=True) as c:
        got = c.execute("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)"
                        ).fetchone()[0]
        assert got is want_ssl
        if want_ssl:
            ver = c.execute("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
            assert ver in ("TLSv1.2", "TLSv1.3")
    p.stop()


def _upstream_failure(factory, certs, name, **upstream):
    cfg = factory.config(admin=False)
    cfg["upstream"].update(upstream)
    p = factory.start_cfg(name, cfg)
    t0 = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(p.dsn()).close()
    assert time.monotonic() - t0 < 15
    print("%s: client got: %s" % (name, str(e.value).strip()))
    assert p.alive()
    return p


def test_upstream_verify_full_wrong_ca_fails_cleanly(factory, certs):
    p = _upstream_failure(factory, certs, "wrong-ca", ca_file=certs.other_ca)
    # the client gets an ErrorResponse (not just a dropped connection)
    with Raw(p.host, p.port) as r:
        r.send(startup_packet({"user": "trust_user", "database": harness.DB}))
        kind, fields = r.closed_or_error(15)
        print("raw wrong-ca:", kind, fields)
        assert kind == "error", "expected an ErrorResponse when the upstream certificate fails verification"
        assert fields["S"] == "FATAL"
    p.stop()


def test_upstream_verify_full_wrong_name_fails(factory, certs):
    p = _upstream_failure(factory, certs, "wrong-name", server_name="db.example.invalid")
    p.stop()


def test_upstream_verify_full_by_ip(factory, certs):
    """The server certificate carries IP:127.0.0.1, so verify-full against the address works too."""
    cfg = factory.config(admin=False)
    cfg["upstream"]["host"] = "127.0.0.1"
    p = factory.start_cfg("up-ip", cfg)
    with psycopg.connect(p.dsn(), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    p.stop()
