# leaks.py - one scanner for plaintext markers in everything PostgreSQL and pgseal keep: statement log, pg_dump, table files, pgseal's log.
"""Where a plaintext value of an encrypted column could end up once it reached the server:

* PostgreSQL's log: the test cluster runs with `log_statement = all`, so any statement
  that reached the server is there, with its literals;
* `pg_dump` of the database (every table, the catalog's DDL: defaults, checks, views);
* the table files themselves (`pg_relation_filepath` after a CHECKPOINT), read raw;
* pgseal's own log.

Each marker is searched as text and as lowercase hex (bytea output). `Scan.check()`
first proves, with a positive control, that each place is really read: a control
marker written in plaintext to a plain table must be found in every place.
"""

import os
import subprocess
import uuid

import psycopg2

import harness

CONTROL_TABLE = "pgseal_leak_control"


def marker(tag="m"):
    """A unique plaintext marker (never reused, so a hit is this test's)."""
    return "MARK%s%s" % (tag, uuid.uuid4().hex[:16])


def forms(v):
    """The ways a value can show up: as it is, and as the hex of its bytes."""
    v = str(v)
    return [v, v.encode().hex()]


class Scan:
    """Scans the places of `env` (an enc_harness.EncEnv or anything with .pg, .up_rows,
    .proxy) for markers."""

    def __init__(self, env):
        self.env = env

    def _cluster(self):
        return self.env.pg

    def su_rows(self, sql, params=None):
        """As the superuser, straight to PostgreSQL (CHECKPOINT and file paths need it)."""
        pg = self._cluster()
        c = psycopg2.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname=harness.DB, sslmode="require",
                             connect_timeout=10)
        c.autocommit = True
        try:
            with c.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            c.close()

    def server_log(self):
        with open(self._cluster().log, "rb") as f:
            return f.read().decode(errors="replace")

    def pgseal_log(self):
        proxy = getattr(self.env, "proxy", None)
        return proxy.log_text() if proxy else ""

    def dump(self):
        pg = self._cluster()
        r = subprocess.run(pg.pre + [os.path.join(harness.PG_BIN, "pg_dump"), "-h", pg.base, "-p", str(pg.port),
                                     "-U", "postgres", "-d", harness.DB],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout.decode(errors="replace")

    def table_files(self):
        """The raw bytes of every user table's main fork (and its TOAST table), after a CHECKPOINT."""
        self.su_rows("CHECKPOINT")
        rows = self.su_rows(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 't', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')")
        datadir = self._cluster().data
        out = []
        for (rel,) in rows:
            if not rel:
                continue
            path = os.path.join(datadir, rel)
            seg = 0
            while os.path.exists(path if seg == 0 else "%s.%d" % (path, seg)):
                with open(path if seg == 0 else "%s.%d" % (path, seg), "rb") as f:
                    out.append(f.read())
                seg += 1
        return b"".join(out).decode("latin-1")

    def places(self):
        return {"server log": self.server_log(), "pg_dump": self.dump(), "table files": self.table_files(),
                "pgseal log": self.pgseal_log()}

    def control(self):
        """Writes a plaintext control marker directly upstream (server log, dump, table
        files) and into nothing of pgseal's; returns it."""
        m = marker("control")
        self.su_rows("CREATE TABLE IF NOT EXISTS %s (v text)" % CONTROL_TABLE)
        # readable by the tests' role: tests that read every public table (the at-rest proof)
        # may run after a scan
        self.su_rows("GRANT SELECT ON %s TO PUBLIC" % CONTROL_TABLE)
        self.su_rows("INSERT INTO %s VALUES (%%s)" % CONTROL_TABLE, (m,))
        return m

    def found(self, markers):
        """{place: [markers found there]} for every place where one is found."""
        hits = {}
        for place, text in self.places().items():
            got = [m for m in markers for f in forms(m) if f in text]
            if got:
                hits[place] = sorted(set(got))
        return hits

    def check(self, markers):
        """Asserts that no marker is in any place, after proving with a control marker that
        the server log, the dump and the table files are really searched."""
        markers = list(markers)
        assert markers, "nothing to scan for"
        ctl = self.control()
        hits = self.found(markers + [ctl])
        for place in ("server log", "pg_dump", "table files"):
            assert ctl in hits.get(place, []), "the positive control is not found in the %s: the scan is blind" % place
        leaked = {p: [m for m in ms if m != ctl] for p, ms in hits.items()}
        leaked = {p: ms for p, ms in leaked.items() if ms}
        assert not leaked, "plaintext markers reached: %r" % leaked
