# test_first_hour.py - issue 11 §5: `pgseal schema` per table, SIGHUP reload, upstream-hop errors, encryption counters.
import os
import re
import signal
import subprocess
import time
import types
import urllib.request

import psycopg
import pytest

import harness
import leaks
from conftest import ADMIN_TOKEN
from enc_harness import PSQL, canary, enc, new_id, pgseal_cli  # noqa: F401 (enc: a fixture)
from harness import DB, PASSWORDS, free_port


# ------------------------------------------------------------------ helpers

def psql_upstream(pg, script, workdir):
    """Runs a script with psql -v ON_ERROR_STOP=1 straight into PostgreSQL; (rc, output)."""
    path = os.path.join(workdir, "fh-script-%d.sql" % new_id())
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o644)
    r = subprocess.run(pg.pre + [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.base, "-p", str(pg.port),
                                 "-U", "trust_user", "-d", DB, "-f", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace")


def write_config(path, schema_yaml):
    with open(path, "w") as f:
        f.write("listen: \"127.0.0.1:1\"\nupstream: {host: localhost}\n" + schema_yaml)
    return path


def metrics(proxy):
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % proxy.admin_port)
    req.add_header("Authorization", "Bearer " + ADMIN_TOKEN)
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def wait_log(proxy, pattern, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, proxy.log_text()):
            return True
        time.sleep(0.1)
    return False


def refused_connect(dsn):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(dsn).close()
    return str(e.value)


# ------------------------------------------------------------------ pgseal schema: per table, --table

FH_SCHEMA = """\
schemas:
  - table: fh_ready
    columns: [id, email, ssn]
    encrypted:
      - {column: email, searchable: true, data_type: str}
      - {column: ssn, data_type: str}
  - table: fh_missing
    columns: [id, secret]
    encrypted:
      - {column: secret, data_type: str}
  - table: fh_full
    columns: [id, secret]
    encrypted:
      - {column: secret, data_type: str}
"""


def test_schema_reports_each_table(pg, workdir):
    conf = write_config(os.path.join(workdir, "fh-schema.yaml"), FH_SCHEMA)
    rc, out = psql_upstream(pg, "DROP TABLE IF EXISTS fh_ready, fh_missing, fh_full;"
                                "CREATE TABLE fh_ready (id int PRIMARY KEY, email text, ssn text);"
                                "CREATE TABLE fh_full (id int PRIMARY KEY, secret text);"
                                "INSERT INTO fh_full VALUES (1, 'already-plaintext');", workdir)
    assert rc == 0, out
    ddl = pgseal_cli("schema", "--config", conf)
    rc, out = psql_upstream(pg, ddl, workdir)
    print(out)
    # one missing table and one holding plaintext do not stop the third; psql fails at the report
    assert rc == 3, out
    assert "pgseal: table fh_missing does not exist: skipped" in out
    assert re.search(r"pgseal: table fh_full was not migrated .*holds text values that are not encrypted", out)
    assert "pgseal: table fh_ready: ready" in out
    assert "pgseal: table fh_missing: NOT ready: missing: the table does not exist" in out
    assert "pgseal: table fh_full: NOT ready: column secret is text, not bytea yet" in out
    assert "pgseal: 2 of 3 tables not ready" in out
    types = dict(harness.run(pg.pre + [PSQL, "-X", "-At", "-F", "=", "-h", pg.base, "-p", str(pg.port), "-U",
                                       "trust_user", "-d", DB, "-c",
                                       "SELECT table_name || '.' || column_name, data_type FROM "
                                       "information_schema.columns WHERE table_name IN ('fh_ready', 'fh_full') "
                                       "AND column_name <> 'id'"]).split("\n")[i].split("=")
                 for i in range(3))
    assert types == {"fh_ready.email": "bytea", "fh_ready.ssn": "bytea", "fh_full.secret": "text"}

    # --table: that table alone; ready -> psql exits 0, and a second run changes nothing
    one = pgseal_cli("schema", "--config", conf, "--table", "fh_ready")
    assert "fh_missing" not in one and "fh_full" not in one and "in 1 table." in one
    for _ in range(2):
        rc, out = psql_upstream(pg, one, workdir)
        assert rc == 0 and "pgseal: table fh_ready: ready" in out, out
    # --table of a table the config does not name: exit 2, the names it has
    r = subprocess.run([harness.pgseal_bin(), "schema", "--config", conf, "--table", "nope"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 2 and b"no table 'nope'" in r.stderr and b"fh_ready, fh_missing, fh_full" in r.stderr
    # the missing table, created: now it migrates on its own
    rc, out = psql_upstream(pg, "CREATE TABLE fh_missing (id int, secret text);"
                            + pgseal_cli("schema", "--config", conf, "--table", "fh_missing"), workdir)
    assert rc == 0 and "pgseal: table fh_missing: ready" in out, out
    # --constraints-only takes --table too
    c = pgseal_cli("schema", "--config", conf, "--table", "fh_missing", "--constraints-only")
    assert "fh_ready" not in c and "VALIDATE CONSTRAINT pgseal_record_secret" in c


def test_help_texts():
    for sub, want in (("serve", "README.md, section Configuration"), ("schema", "--table TABLE"),
                      ("keys", "docs/keys.md")):
        r = subprocess.run([harness.pgseal_bin(), sub, "--help"], stdout=subprocess.PIPE, timeout=30)
        assert r.returncode == 0 and want.encode() in r.stdout, r.stdout
    r = subprocess.run([harness.pgseal_bin(), "serve", "--help"], stdout=subprocess.PIPE, timeout=30)
    assert b"SIGHUP reloads the encryption config" in r.stdout and b"--config FILE" in r.stdout


# ------------------------------------------------------------------ SIGHUP reload

RELOAD_A = """\
schemas:
  - table: fh_rl_a
    columns: [id, secret]
    encrypted:
      - {column: secret, data_type: str}
"""
RELOAD_B = """\
  - table: fh_rl_b
    columns: [id, secret]
    encrypted:
      - {column: secret, data_type: str}
"""


def test_sighup_reloads_the_encryption_config(factory, pg, workdir):
    d = os.path.join(workdir, "fh-reload")
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, "sealing.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    enc_path = os.path.join(d, "encryptor_config.yaml")
    with open(enc_path, "w") as f:
        f.write(RELOAD_A)
    conf = write_config(os.path.join(d, "schema.yaml"), "encryptor_config_file: %s\n" % enc_path)
    rc, out = psql_upstream(pg, "DROP TABLE IF EXISTS fh_rl_a, fh_rl_b;"
                                "CREATE TABLE fh_rl_a (id int PRIMARY KEY, secret text);"
                                "CREATE TABLE fh_rl_b (id int PRIMARY KEY, secret text);"
                            + pgseal_cli("schema", "--config", conf), workdir)
    assert rc == 0, out
    cfg = factory.config(log={"level": "info"}, encryptor_config_file=enc_path,
                         keys={"provider": "file", "sealing_key_file": key,
                               "sealed_master_key": os.path.join(d, "master.sealed"),
                               "keystore": os.path.join(d, "keystore")})
    proxy = factory.start_cfg("fh-reload", cfg)
    dsn = proxy.dsn()
    before = metrics(proxy)
    old = psycopg.connect(dsn, autocommit=True)  # a session from before the reload
    old.execute("INSERT INTO fh_rl_a VALUES (1, %s)", (canary("rl"),))

    # the user's edit: one more table, migrated with --table, then SIGHUP
    with open(enc_path, "a") as f:
        f.write(RELOAD_B)
    rc, out = psql_upstream(pg, pgseal_cli("schema", "--config", conf, "--table", "fh_rl_b"), workdir)
    assert rc == 0, out
    proxy.signal(signal.SIGHUP)
    assert wait_log(proxy, r"SIGHUP: encryption config reloaded: 2 column\(s\) in 2 table\(s\)"), proxy.log_tail()
    secret = canary("rl")
    with psycopg.connect(dsn, autocommit=True) as new:  # new sessions use the new config
        new.execute("INSERT INTO fh_rl_b VALUES (1, %s)", (secret,))
        assert new.execute("SELECT secret FROM fh_rl_b WHERE id = 1").fetchone()[0] == secret
    stored = pg.psql("SELECT encode(secret, 'hex') FROM fh_rl_b WHERE id = 1", db=DB)
    assert stored.startswith("01") and secret.encode().hex() not in stored
    # the session from before would treat fh_rl_b as plain and send its value as it is: it
    # ends at its next message (57P01), before that message reaches PostgreSQL
    leaked = canary("rl")
    with pytest.raises(psycopg.OperationalError) as ei:
        old.execute("INSERT INTO fh_rl_b VALUES (9, %s)", (leaked,))
    assert "encryption config changed" in str(ei.value)
    old.close()
    assert pg.psql("SELECT count(*) FROM fh_rl_b WHERE id = 9", db=DB).strip() == "0"
    leaks.Scan(types.SimpleNamespace(pg=pg, proxy=proxy)).check([leaked])

    # a broken edit: logged, the running config stays
    with open(enc_path, "a") as f:
        f.write("  - table: [broken\n")
    proxy.signal(signal.SIGHUP)
    assert wait_log(proxy, r"SIGHUP: the encryption config was NOT reloaded \(the running one stays\): .*encryptor_config.yaml:\d+"), \
        proxy.log_tail()
    with psycopg.connect(dsn, autocommit=True) as new:
        new.execute("INSERT INTO fh_rl_b VALUES (2, %s)", (canary("rl"),))
    assert pg.psql("SELECT substr(encode(secret, 'hex'), 1, 2) FROM fh_rl_b WHERE id = 2", db=DB).strip() == "01"
    after = metrics(proxy)
    assert after['pgseal_config_reloads_total{result="applied"}'] - before['pgseal_config_reloads_total{result="applied"}'] == 1
    assert after['pgseal_config_reloads_total{result="failed"}'] - before['pgseal_config_reloads_total{result="failed"}'] == 1
    assert proxy.alive()


# ------------------------------------------------------------------ which hop failed

@pytest.fixture(scope="module")
def hba_rejected(pg):
    """A role whose connections from 127.0.0.1 pg_hba rejects: pgseal's upstream hop for it."""
    pg.psql("DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fh_rejected') THEN "
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE fh_rejected LOGIN PASSWORD 'fh-pw'; END IF; END$$")
    hba = os.path.join(pg.data, "pg_hba.conf")
    with open(hba) as f:
        lines = f.read()
    if "fh_rejected" not in lines:
        with open(hba, "w") as f:
            f.write("host all fh_rejected 127.0.0.1/32 reject\nhost all fh_rejected ::1/128 reject\n" + lines)
        harness.run(pg.pre + [harness.PG_BIN + "/pg_ctl", "-D", pg.data, "reload"])
        time.sleep(0.5)
    return "fh_rejected"


def test_upstream_hba_reject_names_the_hop(plain, tls, tls_kw, hba_rejected):
    msg = refused_connect(plain.dsn(user=hba_rejected, password="fh-pw"))
    assert "pgseal: the upstream server refused pgseal's connection: pg_hba.conf rejects connection" in msg, msg
    # with the auth: block pgseal authenticates the client itself, then logs in upstream
    msg = refused_connect(tls.dsn(user=hba_rejected, password="fh-pw", **tls_kw))
    assert "pgseal: the upstream server refused pgseal's connection: pg_hba.conf rejects connection" in msg, msg


def test_upstream_errors_name_the_hop(plain, factory):
    # relayed credentials the server rejects: said so, the server's words kept
    msg = refused_connect(plain.dsn(user="md5_user", password="wrong-password"))
    assert "pgseal: the upstream server refused the credentials relayed from the client: " \
           "password authentication failed" in msg, msg
    # nothing listens upstream
    down = factory.start("fh-down", upstream={"port": free_port()})
    msg = refused_connect(down.dsn())
    assert "pgseal: could not connect to the upstream server: Connection refused" in msg, msg
    # the upstream certificate does not verify: the hop and the reason
    bad = factory.start("fh-badtls", upstream={"server_name": "not-the-server.example"})
    msg = refused_connect(bad.dsn())
    assert "pgseal: the upstream server's certificate failed verification (upstream.tls verify-full)" in msg, msg
    # the working path is unchanged
    with psycopg.connect(plain.dsn(user="md5_user", password=PASSWORDS["md5_user"])) as c:
        assert c.execute("SELECT 1").fetchone()[0] == 1


# ------------------------------------------------------------------ /metrics: the encryption layer

def test_metrics_count_the_encryption_layer(enc):
    before = metrics(enc.proxy)
    i = new_id()
    email, name = canary("m"), canary("m")
    with enc.pg3() as conn:
        conn.execute("INSERT INTO people (id, email, name) VALUES (%s, %s, %s)", (i, email, name))
        assert conn.execute("SELECT email, name FROM people WHERE email = %s", (email,)).fetchone() == (email, name)
        with pytest.raises(psycopg.Error) as e:
            conn.execute("SELECT id FROM people WHERE email LIKE 'x%%'")
        assert e.value.sqlstate == "0A000"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(enc.dsn(user="md5_user", password="wrong-password")).close()
    after = metrics(enc.proxy)

    def delta(k):
        return after.get(k, 0) - before.get(k, 0)
    assert delta("pgseal_values_encrypted_total") >= 2
    assert delta("pgseal_values_search_indexed_total") >= 1
    assert delta("pgseal_values_decrypted_total") >= 2
    assert delta('pgseal_refusals_total{sqlstate="0A000"}') >= 1
    assert delta('pgseal_errors_total{class="auth"}') >= 1
    assert delta("pgseal_encryption_layer_duration_seconds_count") >= 4
    assert delta('pgseal_encryption_layer_duration_seconds_bucket{le="+Inf"}') == \
        delta("pgseal_encryption_layer_duration_seconds_count")
    assert "pgseal_decrypt_failures_total" in after


def test_metrics_count_decryption_failures(enc):
    i = new_id()
    with enc.pg3() as conn:
        conn.execute("INSERT INTO failing (id, f_err) VALUES (%s, %s)", (i, canary("df")))
    # the GCM tag's last byte flipped, directly in PostgreSQL
    enc.up_rows("UPDATE failing SET f_err = overlay(f_err placing decode(lpad(to_hex(get_byte(f_err, length(f_err) - 1) # 1), "
                "2, '0'), 'hex') from length(f_err)) WHERE id = %s", (i,))
    before = metrics(enc.proxy)
    with enc.pg3() as conn, pytest.raises(psycopg.Error):
        conn.execute("SELECT f_err FROM failing WHERE id = %s", (i,)).fetchall()
    assert metrics(enc.proxy)["pgseal_decrypt_failures_total"] - before["pgseal_decrypt_failures_total"] >= 1
