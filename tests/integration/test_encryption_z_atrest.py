# test_encryption_z_atrest.py - at-rest proof: canaries written through every path never appear in pg_dump, the tables or pgseal's log.
# (named _z_ so that it runs after the other encryption tests and also checks every canary they wrote)
import csv
import io
import os
import struct
import subprocess

import psycopg
import pytest

import harness
from enc_harness import CANARIES, canary, enc, new_id, _ENVS  # noqa: F401
from test_encryption_drivers import run_node, sqlalchemy_workload


def forms(v):
    """The ways a plaintext could show up in a dump or a log: as it is, and as bytea hex output."""
    if isinstance(v, int):
        return [str(v), struct.pack(">q", v).hex()]
    return [v, v.encode().hex()]


def workload(enc):
    """Writes unique canaries into rest (secret, secret_s searchable, secret_n int8) through every write path;
    the plaintext control column gets a canary too. Returns (encrypted canaries, control canaries)."""
    enc_vals, ctrl = [], []

    def row(tag):
        i = new_id()
        s, ss, c = canary(tag), canary(tag), "CONTROL%s%s" % (tag, os.urandom(8).hex())
        n = int.from_bytes(os.urandom(7), "big") + 10 ** 15
        enc_vals.extend([s, ss, n])
        ctrl.append(c)
        return i, s, ss, n, c

    cols = "(id, secret, secret_s, secret_n, control)"
    # psql, literals
    i, s, ss, n, c = row("psql")
    rc, out, err = enc.psql("INSERT INTO rest %s VALUES (%d, '%s', '%s', %d, '%s')" % (cols, i, s, ss, n, c))
    # psycopg2: simple protocol, multi-row, multi-statement, PREPARE/EXECUTE in one query, ON CONFLICT, UPDATE
    with enc.pg2() as conn, conn.cursor() as cur:
        r1, r2 = row("pg2"), row("pg2")
        cur.execute("INSERT INTO rest " + cols + " VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s)", r1 + r2)
        r3, r4 = row("multi"), row("multi")
        cur.execute("INSERT INTO rest %s VALUES (%d, '%s', '%s', %d, '%s'); INSERT INTO rest %s VALUES (%d, '%s', '%s', %d, '%s')"
                    % ((cols,) + r3 + (cols,) + r4))
        r5 = row("prep")
        cur.execute("PREPARE rp AS INSERT INTO rest %s VALUES ($1, $2, $3, $4, $5); EXECUTE rp(%d, '%s', '%s', %d, '%s'); "
                    "DEALLOCATE rp" % ((cols,) + r5))
        r6 = row("conflict")
        cur.execute("INSERT INTO rest " + cols + " VALUES (%s, 'x', 'x', 1, 'x') ON CONFLICT (id) DO NOTHING", (r6[0],))
        cur.execute("INSERT INTO rest " + cols + " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                    "secret = EXCLUDED.secret, secret_s = EXCLUDED.secret_s, secret_n = EXCLUDED.secret_n, "
                    "control = EXCLUDED.control", r6)
        r7 = row("update")
        cur.execute("INSERT INTO rest (id) VALUES (%s)", (r7[0],))
        cur.execute("UPDATE rest SET secret = %s, secret_s = %s, secret_n = %s, control = %s WHERE id = %s",
                    r7[1:] + (r7[0],))
        # COPY text and csv
        rows = [row("copyt") for _ in range(3)]
        cur.copy_expert("COPY rest %s FROM STDIN" % cols,
                        io.StringIO("".join("\t".join(str(x) for x in r) + "\n" for r in rows)))
        rows = [row("copyc") for _ in range(3)]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        cur.copy_expert("COPY rest %s FROM STDIN WITH (FORMAT csv)" % cols, io.StringIO(buf.getvalue()))
        # searches with canaries (blind indexes only)
        cur.execute("SELECT count(*) FROM rest WHERE secret_s = %s", (r1[2],))
        assert cur.fetchone()[0] == 1
    # psycopg 3: text and binary parameters, prepared from the first use, pipeline
    for binary in (False, True):
        with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
            r = row("pg3b" if binary else "pg3t")
            cur.execute("INSERT INTO rest " + cols + " VALUES (%s, %s, %s, %s, %s)", r)
            cur.execute("SELECT secret FROM rest WHERE secret_s = %s", (r[2],))
            assert cur.fetchall() == [(r[1],)]
    with enc.pg3() as conn:
        with conn.pipeline():
            for _ in range(3):
                conn.execute("INSERT INTO rest " + cols + " VALUES (%s, %s, %s, %s, %s)", row("pipe"))
    # every write read back through pgseal
    with enc.pg3() as conn:
        got = conn.execute("SELECT secret, secret_s, secret_n FROM rest").fetchall()
        have = {v for r in got for v in r}
        assert set(enc_vals) <= have
    return enc_vals, ctrl


def pg_dump(enc):
    pg = enc.pg
    r = subprocess.run(pg.pre + [os.path.join(harness.PG_BIN, "pg_dump"), "-h", pg.base, "-p", str(pg.port), "-U", "postgres",
                                 "-d", harness.DB], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode(errors="replace")


def test_at_rest_proof(enc):
    enc_vals, ctrl = workload(enc)
    # node-postgres and SQLAlchemy write their own canaries
    prefix = canary("nodeprefix")
    rc, out = run_node(enc, prefix, 7_000_000)
    assert rc == 0, out
    orm = sqlalchemy_workload(enc, "ormrest")
    secrets = set(enc_vals) | set(orm) | set(CANARIES) | {prefix}
    secrets -= set(ctrl)
    secrets = {s for s in secrets if not str(s).startswith("CONTROL")}

    dump = pg_dump(enc)
    assert "COPY public.rest" in dump and "COPY public.people" in dump
    for c in ctrl:
        assert c in dump, "the control canary is missing from the dump: the check could not fail"
    leaked = [s for s in secrets for f in forms(s) if f in dump]
    assert not leaked, "plaintext in pg_dump: %r" % leaked[:5]

    # every table read directly, as text (bytea as hex) and as raw bytes
    tables = [r[0] for r in enc.up_rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    direct = []
    for t in tables:
        for (txt,) in enc.up_rows('SELECT t::text FROM public."%s" t' % t):
            direct.append(txt)
    direct = "\n".join(direct)
    assert all(c in direct for c in ctrl)
    leaked = [s for s in secrets for f in forms(s) if f in direct]
    assert not leaked, "plaintext in a table: %r" % leaked[:5]
    raw = b"".join(bytes(v) for t in ("people", "typed", "rest", "failing")
                   for r in enc.up_rows('SELECT * FROM "%s"' % t) for v in r if isinstance(v, memoryview))
    leaked = [s for s in secrets if isinstance(s, str) and s.encode() in raw]
    assert not leaked, "plaintext inside a stored record: %r" % leaked[:5]


def test_pgseal_debug_log_has_no_canary(enc):
    assert enc.proxy.config["log"]["level"] == "debug"
    secrets = {s for s in CANARIES if not s.startswith("CONTROL")}
    assert secrets, "no canary was written"
    for env in _ENVS.values():
        log = env.proxy.log_text()
        if env.proxy.config["log"]["level"] == "debug":  # (the demo's pgseal logs at info)
            assert "debug" in log
        leaked = [s for s in secrets for f in forms(s) if f in log]
        assert not leaked, "pgseal %s logged a value: %r" % (env.name, leaked[:5])
