# test_lifecycle.py - config errors, connection limit, upstream restart, SIGTERM, admin HTTP, log hygiene.
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest

import harness
from conftest import ADMIN_TOKEN
from harness import Raw, free_port, startup_packet


def admin_get(proxy, path, token=ADMIN_TOKEN, timeout=10):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (proxy.admin_port, path))
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def metrics(proxy):
    status, body = admin_get(proxy, "/metrics")
    assert status == 200
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\S+?)(\{.*\})?\s+(\S+)", line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out, body


# ------------------------------------------------------------------ config

def _serve(cfg_text, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(cfg_text)
    r = subprocess.run([harness.pgseal_bin(), "serve", "--config", str(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace"), str(path)


def test_config_unknown_key_rejected(tmp_path):
    rc, out, path = _serve('listen: "127.0.0.1:%d"\nupstream: {host: localhost, port: 5432}\nbogus_key: 1\n'
                           % free_port(), tmp_path)
    print(out)
    assert rc != 0
    assert "bogus_key" in out and "bad.yaml" in out
    assert re.search(r"bad\.yaml:3", out), "error must name file and line"


def test_config_bad_value_rejected(tmp_path):
    rc, out, _ = _serve('listen: "127.0.0.1:%d"\nupstream:\n  host: localhost\n  tls: sometimes\n' % free_port(),
                        tmp_path)
    print(out)
    assert rc != 0 and re.search(r"bad\.yaml:4", out) and "tls" in out


def test_config_missing_cert_file_rejected(tmp_path):
    rc, out, _ = _serve('listen: "127.0.0.1:%d"\nupstream: {host: localhost, port: 5432}\n'
                        'client_tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}\n' % free_port(),
                        tmp_path)
    print(out)
    assert rc != 0 and "/nonexistent/" in out


# ------------------------------------------------------------------ limits

def test_max_client_connections(factory):
    p = factory.start("maxconn", max_client_connections=3, admin=False)
    conns = [psycopg.connect(p.dsn(), autocommit=True) for _ in range(3)]
    try:
        for i, c in enumerate(conns):
            assert c.execute("SELECT %s::int", (i,)).fetchone() == (i,)
        with Raw(p.host, p.port) as r:
            r.send(startup_packet({"user": "trust_user", "database": harness.DB}))
            kind, fields = r.closed_or_error(10)
        print("4th connection:", kind, fields)
        assert kind == "error" and fields["C"] == "53300", (kind, fields)
        assert fields["S"] == "FATAL"
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(p.dsn()).close()
        # the three sessions are untouched
        for i, c in enumerate(conns):
            assert c.execute("SELECT %s::int + 10", (i,)).fetchone() == (i + 10,)
    finally:
        conns[0].close()
    # a slot frees up once a client leaves
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(p.dsn(), autocommit=True) as c:
                assert c.execute("SELECT 'slot'").fetchone() == ("slot",)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    for c in conns[1:]:
        c.close()
    assert p.stop() == 0


# ------------------------------------------------------------------ upstream going away

def test_upstream_restart_mid_session(plain, pg):
    c = psycopg.connect(plain.dsn(), autocommit=True)
    try:
        assert c.execute("SELECT 'before'").fetchone() == ("before",)
        pg.stop("fast")
        try:
            t0 = time.monotonic()
            with pytest.raises(psycopg.OperationalError) as e:
                c.execute("SELECT 'during'")
            print("session during restart:", type(e.value).__name__, str(e.value).strip())
            assert time.monotonic() - t0 < 15
            # new sessions fail cleanly (no hang) while the upstream is down
            t0 = time.monotonic()
            with pytest.raises(psycopg.OperationalError) as e:
                psycopg.connect(plain.dsn(connect_timeout=10)).close()
            print("new session while down:", str(e.value).strip())
            assert time.monotonic() - t0 < 12
            if plain.admin_port:
                deadline = time.monotonic() + 10
                while admin_get(plain, "/readyz")[0] != 503 and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert admin_get(plain, "/readyz")[0] == 503
        finally:
            pg.start()
    finally:
        c.close()
    deadline = time.monotonic() + 15
    while True:
        try:
            with psycopg.connect(plain.dsn(), autocommit=True) as c2:
                assert c2.execute("SELECT 'after'").fetchone() == ("after",)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    if plain.admin_port:
        deadline = time.monotonic() + 10
        while admin_get(plain, "/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert admin_get(plain, "/readyz")[0] == 200


def test_upstream_backend_terminated(plain, pg):
    """The upstream closes one session (pg_terminate_backend): that client gets the error, others carry on."""
    with psycopg.connect(plain.dsn(), autocommit=True) as other:
        c = psycopg.connect(plain.dsn(), autocommit=True)
        try:
            pid = c.info.backend_pid
            assert pg.psql("SELECT pg_terminate_backend(%d)" % pid).strip() == "t"
            with pytest.raises(psycopg.OperationalError) as e:
                for _ in range(50):  # the FATAL may arrive just after the next query is sent
                    c.execute("SELECT 1")
                    time.sleep(0.1)
            print("terminated session:", str(e.value).strip())
            assert "terminating connection due to administrator command" in str(e.value) or c.closed or c.broken
        finally:
            c.close()
        assert other.execute("SELECT 'other ok'").fetchone() == ("other ok",)
    with psycopg.connect(plain.dsn(), autocommit=True) as c2:
        assert c2.execute("SELECT 'new ok'").fetchone() == ("new ok",)


def test_upstream_unreachable(factory):
    cfg = factory.config()
    cfg["upstream"]["port"] = free_port()  # nothing listens there
    p = factory.start_cfg("no-upstream", cfg)
    t0 = time.monotonic()
    with Raw(p.host, p.port) as r:
        r.send(startup_packet({"user": "trust_user", "database": harness.DB}))
        kind, fields = r.closed_or_error(15)
    print("upstream down:", kind, fields)
    assert kind == "error" and fields["S"] == "FATAL"
    assert time.monotonic() - t0 < 15
    assert admin_get(p, "/healthz")[0] == 200   # the process is alive
    assert admin_get(p, "/readyz")[0] == 503    # but cannot reach the database
    assert p.alive()
    assert p.stop() == 0


# ------------------------------------------------------------------ shutdown

def test_sigterm_graceful(factory):
    p = factory.start("sigterm", shutdown_timeout_ms=8000, admin=False)
    c = psycopg.connect(p.dsn(), autocommit=True)
    assert c.execute("SELECT 1").fetchone() == (1,)
    res = {}

    def long_query():
        try:
            res["v"] = c.execute("SELECT pg_sleep(1.5), 42").fetchone()[1]
        except Exception as ex:  # noqa: BLE001
            res["v"] = ex

    t = threading.Thread(target=long_query)
    t.start()
    time.sleep(0.3)
    p.expected_exit = True
    p.signal(signal.SIGTERM)
    time.sleep(0.3)
    # no longer accepting
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(p.dsn(connect_timeout=3)).close()
    t.join(15)
    assert res.get("v") == 42, "the running query did not finish: %r" % res.get("v")
    c.close()
    try:
        rc = p.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail("pgseal did not exit within 15s of SIGTERM after its last session ended")
    assert rc == 0, p.log_tail()


def test_sigterm_shutdown_timeout_with_idle_session(factory):
    p = factory.start("sigterm-idle", shutdown_timeout_ms=1500, admin=False)
    c = psycopg.connect(p.dsn(), autocommit=True)
    assert c.execute("SELECT 1").fetchone() == (1,)
    p.expected_exit = True
    t0 = time.monotonic()
    p.signal(signal.SIGTERM)
    try:
        rc = p.proc.wait(20)
    except subprocess.TimeoutExpired:
        pytest.fail("pgseal ignored shutdown_timeout_ms with an idle session open")
    print("exit after %.1fs" % (time.monotonic() - t0))
    assert rc == 0, p.log_tail()
    with pytest.raises(psycopg.OperationalError):
        c.execute("SELECT 1")
    c.close()


# ------------------------------------------------------------------ admin HTTP

def test_admin_requires_token(plain):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert admin_get(plain, path, token=None)[0] == 401, path
        assert admin_get(plain, path, token="wrong-token")[0] == 401, path
        assert admin_get(plain, path, token=ADMIN_TOKEN + "x")[0] == 401, path
    assert admin_get(plain, "/healthz")[0] == 200
    assert admin_get(plain, "/readyz")[0] == 200


def test_admin_metrics_move(plain):
    before, body = metrics(plain)
    names = sorted({k.split("{")[0] for k in before})
    print("metric names:", names)
    assert any(n.startswith("pgseal_") for n in names)
    assert any("connection" in n for n in names), names
    assert any("bytes" in n for n in names), names
    with psycopg.connect(plain.dsn(), autocommit=True) as c:
        for i in range(20):
            c.execute("SELECT repeat('m', 1000), %s", (i,))
    after, _ = metrics(plain)
    moved = sorted(k for k in after if k.startswith("pgseal_") and after[k] > before.get(k, 0))
    print("moved:", moved)
    assert any("bytes" in k for k in moved), moved
    assert any("connection" in k for k in moved), moved


def test_admin_unknown_path(plain):
    assert admin_get(plain, "/nope")[0] == 404
    assert admin_get(plain, "/nope", token=None)[0] in (401, 404)


# ------------------------------------------------------------------ logs

CANARY = "CANARY_7f3a9c"


def test_logs_never_contain_values(factory):
    p = factory.start("canary", log={"level": "debug", "format": "text"}, admin=False)
    with psycopg.connect(p.dsn(application_name="canary-app"), autocommit=True) as c:
        assert c.execute("SELECT '%s_simple'" % CANARY).fetchone() == (CANARY + "_simple",)
        assert c.execute("SELECT %s::text", (CANARY + "_param",)).fetchone() == (CANARY + "_param",)
        assert c.execute("SELECT %s::text", (CANARY + "_prep",), prepare=True).fetchone() == (CANARY + "_prep",)
        cur = c.cursor(binary=True)
        assert cur.execute("SELECT %s::bytea", ((CANARY + "_bin").encode(),)).fetchone() == \
            ((CANARY + "_bin").encode(),)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            c.execute("SELECT '%s_err'::int" % CANARY)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            c.execute("SELECT %s::int", (CANARY + "_errp",))
        c.execute("CREATE TEMP TABLE cn(v text)")
        with c.cursor().copy("COPY cn FROM STDIN") as cp:
            cp.write(CANARY + "_copy\n")
        with c.cursor().copy("COPY cn TO STDOUT") as cp:
            assert b"".join(bytes(b) for b in cp) == (CANARY + "_copy\n").encode()
        c.execute("LISTEN cn_chan")
        c.execute("NOTIFY cn_chan, '%s_notify'" % CANARY)
    with psycopg.connect(p.dsn(user="pw_user", password=harness.PASSWORDS["pw_user"])) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert p.stop() == 0
    text = p.log_text()
    assert text.strip(), "no log output at level debug"
    assert CANARY not in text, "a literal or parameter value leaked into pgseal's log:\n" + "\n".join(
        l for l in text.splitlines() if CANARY in l)
    assert harness.PASSWORDS["pw_user"] not in text


def test_json_log_format(factory):
    import json
    p = factory.start("jsonlog", log={"level": "debug", "format": "json"}, admin=False)
    with psycopg.connect(p.dsn(), autocommit=True) as c:
        c.execute("SELECT 1")
    assert p.stop() == 0
    lines = [l for l in p.log_text().splitlines() if l.strip()]
    assert lines
    bad = []
    for l in lines:
        if SANITIZER_LINE.search(l):
            continue
        try:
            json.loads(l)
        except ValueError:
            bad.append(l)
    assert not bad, "non-JSON log lines: %r" % bad[:5]


SANITIZER_LINE = re.compile(r"^==\d+==|AddressSanitizer|LeakSanitizer")
