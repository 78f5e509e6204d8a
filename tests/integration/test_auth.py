# test_auth.py - authentication through pgseal: trust, cleartext and md5 relayed; SCRAM relayed or run by pgseal (auth: block).
import hashlib
import struct

import psycopg
import pytest

import harness
from harness import PASSWORDS, Raw, RawTLS, msg, parse_error_fields, scram_client, startup_packet


def whoami(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        return c.execute("SELECT current_user, coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)"
                         ).fetchone()


def refused(dsn):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(dsn).close()
    print("refused as expected:", str(e.value).strip())
    return str(e.value)


def raw_password_auth(proxy, user, password):
    """Cleartext/md5 authentication on a raw socket; returns ('ok', None) or ('error', fields)."""
    with Raw(proxy.host, proxy.port) as r:
        r.send(startup_packet({"user": user, "database": harness.DB}))
        m = r.read_msg()
        assert m and m[0] == b"R", m
        code = struct.unpack("!I", m[1][:4])[0]
        if code == 3:
            r.send(msg(b"p", password.encode() + b"\0"))
        elif code == 5:
            salt = m[1][4:8]
            inner = hashlib.md5((password + user).encode()).hexdigest()
            r.send(msg(b"p", ("md5" + hashlib.md5(inner.encode() + salt).hexdigest()).encode() + b"\0"))
        else:
            raise AssertionError("unexpected auth request %d" % code)
        for tag, payload in r.read_until({b"Z", b"E"}):
            if tag == b"E":
                return "error", parse_error_fields(payload)
            if tag == b"Z":
                return "ok", None
    return "eof", None


# ------------------------------------------------------------------ relayed authentication (no auth: block)

def test_trust_relayed(plain):
    assert whoami(plain.dsn(user="trust_user")) == ("trust_user", True)  # upstream hop is TLS


@pytest.mark.parametrize("user", ["md5_user", "pw_user"])
def test_password_methods_relayed(plain, user):
    assert whoami(plain.dsn(user=user, password=PASSWORDS[user]))[0] == user
    msg_ = refused(plain.dsn(user=user, password="wrong-password"))
    assert "password authentication failed" in msg_
    # exact SQLSTATE on the wire
    kind, fields = raw_password_auth(plain, user, "wrong-password")
    assert kind == "error" and fields["C"] == "28P01", (kind, fields)
    kind, _ = raw_password_auth(plain, user, PASSWORDS[user])
    assert kind == "ok"


def test_md5_and_password_methods_are_what_upstream_asked(plain):
    """pgseal relays the upstream's authentication request as it is."""
    for user, want in (("md5_user", 5), ("pw_user", 3)):
        with Raw(plain.host, plain.port) as r:
            r.send(startup_packet({"user": user, "database": harness.DB}))
            tag, payload = r.read_msg()
            assert tag == b"R" and struct.unpack("!I", payload[:4])[0] == want


def test_scram_relayed_plaintext_client(plain):
    """Without an auth: block SCRAM is relayed (no -PLUS offered to a plaintext client)."""
    assert whoami(plain.dsn(user="scram_user", password=PASSWORDS["scram_user"]))[0] == "scram_user"
    assert "password authentication failed" in refused(plain.dsn(user="scram_user", password="nope"))


def test_scram_relayed_upstream_plaintext(factory):
    p = factory.start("scram-relay", upstream_tls="disable", admin=False)
    assert whoami(p.dsn(user="scram_user", password=PASSWORDS["scram_user"])) == ("scram_user", False)
    with Raw(p.host, p.port) as r:
        out = scram_client(r.send, r.read_msg, "scram_user", "wrong")
        assert out[-1] is not None and out[-1][0] == b"E"
        assert parse_error_fields(out[-1][1])["C"] == "28P01"
    with Raw(p.host, p.port) as r:
        out = scram_client(r.send, r.read_msg, "scram_user", PASSWORDS["scram_user"])
        assert out[-1][0] == b"Z", out


# ------------------------------------------------------------------ SCRAM run by pgseal, TLS on both hops

@pytest.mark.parametrize("cb", ["prefer", "require"])
def test_scram_tls_both_hops(tls, certs, cb):
    dsn = tls.dsn(user="scram_user", password=PASSWORDS["scram_user"], sslmode="verify-full",
                  sslrootcert=certs.ca, channel_binding=cb)
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.info.pgconn.ssl_in_use
        user, up_ssl = c.execute("SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
                                 ).fetchone()
        assert (user, up_ssl) == ("scram_user", True)
        assert c.execute("SELECT %s::int * 3", (14,)).fetchone() == (42,)


@pytest.mark.parametrize("cb", ["prefer", "require"])
def test_scram_tls_wrong_password(tls, certs, cb):
    dsn = tls.dsn(user="scram_user", password="wrong-password", sslmode="verify-full", sslrootcert=certs.ca,
                  channel_binding=cb)
    assert "password authentication failed" in refused(dsn)


def test_scram_tls_wrong_password_sqlstate(tls, certs):
    with RawTLS(tls.host, tls.port, certs.ca) as r:
        out = scram_client(r.send, r.read_msg, "scram_user", "wrong-password")
        last = out[-1]
        assert last is not None and last[0] == b"E", out
        f = parse_error_fields(last[1])
        print("wrong SCRAM password:", f)
        assert f["C"] == "28P01"
        assert f["S"] == "FATAL"


def test_scram_tls_offers_plus(tls, certs):
    with RawTLS(tls.host, tls.port, certs.ca) as r:
        r.send(startup_packet({"user": "scram_user", "database": harness.DB}))
        tag, payload = r.read_msg()
        assert tag == b"R" and struct.unpack("!I", payload[:4])[0] == 10
        mechs = [x for x in payload[4:].split(b"\0") if x]
        assert b"SCRAM-SHA-256" in mechs and b"SCRAM-SHA-256-PLUS" in mechs


def test_scram_tls_unknown_user(tls, certs):
    dsn = tls.dsn(user="no_such_user", password="x", sslmode="verify-full", sslrootcert=certs.ca)
    refused(dsn)
    # the proxy is unaffected
    with psycopg.connect(tls.dsn(user="scram_user", password=PASSWORDS["scram_user"], sslmode="verify-full",
                                 sslrootcert=certs.ca), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_no_plaintext_password_in_logs(plain, tls):
    for p in (plain, tls):
        text = p.log_text()
        for pw in PASSWORDS.values():
            if pw:
                assert pw not in text, "a password appears in pgseal's log"
