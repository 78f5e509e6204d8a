# enc_harness.py - fixtures for the encryption tests: pgseal with file keys, an encryptor config, tables migrated by `pgseal schema`.
"""Shared set-up of tests/integration/test_encryption_*.py.

* EncEnv - one pgseal instance with `keys: {provider: file, ...}` and an
  `encryptor_config_file` written here, in front of the session's PostgreSQL; the tables
  are created upstream with their declared types and migrated with the DDL that
  `pgseal schema --config` prints (so the searchable columns get their blind-index
  index). Helpers: connections through pgseal (psycopg2, psycopg 3, psql) and directly
  upstream (to check what PostgreSQL really stores).
* enc_env(...) returns one EncEnv per name for the whole session (a module-level cache:
  fixtures imported into several test modules would otherwise run once per module).
* CANARIES - every unique plaintext the tests write through pgseal into an encrypted
  column; the at-rest test greps pg_dump, the tables and pgseal's log for them.
"""

import os
import random
import subprocess
import uuid

import psycopg
import psycopg2
import pytest

import harness
from harness import DB, PG_BIN

PSQL = os.path.join(PG_BIN, "psql")

# every encrypted column of the main environment: table -> [(column, declared type, searchable)]
TYPES = [
    ("c_text", "text"), ("c_varchar", "varchar"), ("c_bytea", "bytea"), ("c_int2", "int2"),
    ("c_int4", "int4"), ("c_int8", "int8"), ("c_float8", "float8"), ("c_numeric", "numeric"),
    ("c_bool", "bool"), ("c_date", "date"), ("c_ts", "timestamp"), ("c_tstz", "timestamptz"),
    ("c_uuid", "uuid"), ("c_jsonb", "jsonb"),
]
TYPE_OIDS = {"text": 25, "varchar": 25, "bytea": 17, "int2": 21, "int4": 23, "int8": 20, "float8": 701,
             "numeric": 1700, "bool": 16, "date": 1082, "timestamp": 1114, "timestamptz": 1184,
             "uuid": 2950, "jsonb": 3802}

MAIN_SCHEMA = """\
# written by tests/integration/enc_harness.py (Acra encryptor_config format)
schemas:
  - table: people
    columns: [id, email, name, phone, note]
    encrypted:
      - column: email
        data_type: str
        searchable: true
      - column: name
        data_type: text
      - column: phone
        data_type: varchar
        searchable: true

  - table: typed
    columns: [id, %(typed_cols)s, plain]
    encrypted:
%(typed_rules)s

  - table: failing
    columns: [id, f_err, f_ct, f_def, f_defint]
    encrypted:
      - column: f_err
        data_type: text
        response_on_fail: error
      - column: f_ct
        data_type: text
        response_on_fail: ciphertext
      - column: f_def
        data_type: text
        response_on_fail: default_value
        default_data_value: "redacted"
      - column: f_defint
        data_type: int4
        response_on_fail: default_value
        default_data_value: "-1"

  - table: rest
    columns: [id, secret, secret_s, secret_n, control]
    encrypted:
      - column: secret
        data_type: text
      - column: secret_s
        data_type: text
        searchable: true
      - column: secret_n
        data_type: int8
""" % {
    "typed_cols": ", ".join(c for c, _ in TYPES),
    "typed_rules": "\n".join("      - column: %s\n        data_type: %s\n        searchable: true" % (c, t)
                             for c, t in TYPES),
}

MAIN_TABLES = """\
DROP TABLE IF EXISTS people, typed, failing, rest;
CREATE TABLE people (id int8 PRIMARY KEY, email text, name text, phone varchar(64), note text);
CREATE TABLE typed (id int4 PRIMARY KEY, %s, plain text);
CREATE TABLE failing (id int4 PRIMARY KEY, f_err text, f_ct text, f_def text, f_defint int4);
CREATE TABLE rest (id int8 PRIMARY KEY, secret text, secret_s text, secret_n int8, control text);
""" % ", ".join("%s %s" % (c, t) for c, t in TYPES)

CANARIES = set()


def canary(tag="c"):
    """A unique plaintext marker, remembered for the at-rest checks."""
    v = "CANARY%s%s" % (tag, uuid.uuid4().hex[:16])
    CANARIES.add(v)
    return v


def pgseal_cli(*args, timeout=60):
    r = subprocess.run([harness.pgseal_bin(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("pgseal %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r.stdout.decode()


class _StatementConn(psycopg2.extensions.connection):
    """`with conn:` without the implicit transaction psycopg2 2.9 adds in autocommit mode."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class EncEnv:
    """pgseal with an encryption schema in front of the session's PostgreSQL."""

    def __init__(self, factory, pg, workdir, name, schema_yaml, tables_sql, mtls=False, log_level="debug",
                 keys=None, client_tls=False):
        self.factory, self.pg, self.name = factory, pg, name
        self.dir = os.path.join(workdir, "enc-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.sealing_key = os.path.join(self.dir, "sealing.key")
        with open(self.sealing_key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.sealing_key, 0o600)
        self.schema_path = os.path.join(self.dir, "encryptor_config.yaml")
        with open(self.schema_path, "w") as f:
            f.write(schema_yaml)
        # keys: file keys by default; a `keys` section given (e.g. provider dstack) replaces them
        self.keys = keys or {"provider": "file", "sealing_key_file": self.sealing_key,
                             "sealed_master_key": os.path.join(self.dir, "master.sealed"),
                             "keystore": os.path.join(self.dir, "keystore")}
        cfg = factory.config(mtls=mtls, client_tls=client_tls, log={"level": log_level}, keys=self.keys,
                             encryptor_config_file=self.schema_path)
        # the tables, then the migration printed by `pgseal schema` (offline, from the config alone)
        self.upstream_script(tables_sql)
        conf = os.path.join(self.dir, "schema-only.yaml")
        with open(conf, "w") as f:
            f.write(harness.yaml_dump({"listen": "127.0.0.1:1", "upstream": {"host": "localhost", "port": pg.port},
                                       "encryptor_config_file": self.schema_path}) + "\n")
        self.ddl = pgseal_cli("schema", "--config", conf)
        self.upstream_script(self.ddl)
        self.proxy = factory.start_cfg("enc-" + name, cfg)

    # ---- upstream (what PostgreSQL stores) -------------------------------------------
    def upstream_script(self, sql):
        path = os.path.join(self.dir, "script.sql")
        with open(path, "w") as f:
            f.write(sql)
        os.chmod(path, 0o644)
        os.chmod(self.dir, 0o755)
        return harness.run(self.pg.pre + [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", self.pg.base,
                                          "-p", str(self.pg.port), "-U", "trust_user", "-d", DB, "-f", path])

    def up(self):
        """psycopg2 connection straight to PostgreSQL (autocommit)."""
        c = psycopg2.connect(host="127.0.0.1", port=self.pg.port, user="trust_user", dbname=DB, sslmode="require",
                             connect_timeout=10)
        c.autocommit = True
        return c

    def up_rows(self, sql, params=None):
        c = self.up()
        try:
            with c.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            c.close()

    # ---- through pgseal ---------------------------------------------------------------
    def dsn(self, **kw):
        return self.proxy.dsn(**kw)

    def pg2(self, autocommit=True, **kw):
        # psycopg2 >= 2.9 opens a transaction on `with conn:` even in autocommit mode;
        # these tests mean one statement per transaction, so the context only closes
        c = psycopg2.connect(self.dsn(**kw), connection_factory=_StatementConn if autocommit else None)
        c.autocommit = autocommit
        return c

    def pg3(self, autocommit=True, prepare_threshold=0, **kw):
        return psycopg.connect(self.dsn(**kw), autocommit=autocommit, prepare_threshold=prepare_threshold)

    def psql(self, sql, check=True, extra=()):
        """psql -c through pgseal; (returncode, stdout, stderr)."""
        r = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", *extra, "-d", self.dsn(), "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out, err = r.stdout.decode(), r.stderr.decode()
        if check and r.returncode != 0:
            raise AssertionError("psql failed: %s" % err)
        return r.returncode, out, err

    def psql_stdin(self, script, extra=()):
        r = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", *extra, "-d", self.dsn(), "-f", "-"],
                           input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return r.returncode, r.stdout.decode(), r.stderr.decode()


_ENVS = {}


def enc_env(factory, pg, workdir, name="main", **kw):
    if name not in _ENVS:
        if name == "main":
            _ENVS[name] = EncEnv(factory, pg, workdir, name, MAIN_SCHEMA, MAIN_TABLES, **kw)
        else:
            _ENVS[name] = EncEnv(factory, pg, workdir, name, **kw)
    return _ENVS[name]


@pytest.fixture
def enc(factory, pg, workdir):
    """The main encryption environment (people, typed, failing, rest), shared by the session."""
    return enc_env(factory, pg, workdir)


_IDS = [1000]


def number_canary():
    """A numeric marker for int8 values of refused statements: 15 random digits, so that it
    cannot turn up by chance in a log where every statement (ids, ports, pids) is written."""
    return str(random.SystemRandom().randrange(10**14, 10**15))


def new_id():
    """A fresh primary key, unique in the session."""
    _IDS[0] += 1
    return _IDS[0]


def server_log(env):
    """PostgreSQL's log (statements are logged: a value that reached the server is in it)."""
    with open(env.pg.log, "rb") as f:
        return f.read().decode(errors="replace")


def guarded(env, state):
    """Body of a `guard` fixture (`yield from`): yields a list for the values of refused
    statements; after the test, state(env) must be unchanged and none of the values in the
    server's log. Returns the list."""
    before = state(env)
    values = []
    yield values
    assert state(env) == before, "a refused statement changed the tables or their catalog entries"
    log = server_log(env)
    for v in values:
        assert v not in log, "a refused statement reached PostgreSQL (its value is in the server log)"
    return values


def check_reads(env, cases, params, pg2_types=True):
    """Runs (sql, rows, type oids) cases through psycopg 3 (text and binary results) and
    psycopg2 (text); the rows and the declared result types must be as given."""
    for binary in (False, True):
        with env.pg3() as conn, conn.cursor(binary=binary) as cur:
            for sql, want, oids in cases:
                cur.execute(sql, params)
                assert cur.fetchall() == want, (sql, binary)
                assert [d.type_code for d in cur.description] == oids, (sql, binary)
    with env.pg2() as conn, conn.cursor() as cur:
        for sql, want, oids in cases:
            cur.execute(sql, params)
            assert cur.fetchall() == want, sql
            if pg2_types:
                assert [d.type_code for d in cur.description] == oids, sql


def refused(exc, table_column):
    """Asserts a driver exception is pgseal's fail-closed refusal naming table.column."""
    code = getattr(exc, "pgcode", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
    assert code == "0A000", "expected 0A000, got %r: %s" % (code, exc)
    assert table_column in str(exc), "refusal does not name %s: %s" % (table_column, exc)
