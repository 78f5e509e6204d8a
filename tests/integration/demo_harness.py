# demo_harness.py - pgseal-demo as a subprocess for the tests: the simulator, pgseal with dstack keys and the demo table, HTTP helpers.
"""One environment for tests/integration/test_demo*.py (a module-level cache, as enc_env):

* a pgseal-dstack-sim (sim_harness.Sim), pgseal with `keys: {provider: dstack}` on it,
  client TLS with the test certificate (so GET /attestation serves a quote binding it) and
  an encryptor config with the table `demo_people` (enc_harness.EncEnv: tables created
  upstream and migrated by `pgseal schema`);
* pgseal-demo (build/pgseal-demo next to PGSEAL_BIN: the ASan build under build/asan) in
  front of it, verifying the quote against the simulator's root and collateral.
"""

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import harness
from enc_harness import enc_env
from sim_harness import Sim

TABLE = "demo_people"
MAX_ROWS = 100

SCHEMA = """\
# written by tests/integration/demo_harness.py
schemas:
  - table: demo_people
    columns: [id, name, email, ssn, note]
    encrypted:
      - column: name
        data_type: str
      - column: email
        searchable: true
        data_type: str
      - column: ssn
        data_type: str
      - column: note
        data_type: str
"""
TABLES = ("CREATE TABLE demo_people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
          "name text, email text, ssn text, note text);\n")


def demo_bin():
    return os.path.join(os.path.dirname(harness.pgseal_bin()), "pgseal-demo")


class Demo:
    """build/pgseal-demo with the given flags on a free port."""

    def __init__(self, directory, name, args):
        self.dir = directory
        self.port = harness.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(directory, "demo-%s.log" % name)
        self.args = [demo_bin(), "--listen", "127.0.0.1:%d" % self.port, *args]
        self.proc = None

    def start(self, timeout=15.0):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env)
        if not harness.wait_port("127.0.0.1", self.port, timeout, self.proc):
            self.stop()
            raise RuntimeError("pgseal-demo did not start\n" + self.log())
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM; returns the exit status (0 expected)."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(10)
        elif self.proc:
            rc = self.proc.returncode
        try:
            self.logf.close()
        except Exception:
            pass
        return rc

    # ---- HTTP ----------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers, body bytes)."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, path):
        status, hdr, body = self.request("GET", path)
        return status, json.loads(body) if hdr.get("Content-Type", "").startswith("application/json") else body

    def post_person(self, body, content_type="application/json"):
        """POST /api/people with a dict (sent as JSON) or raw bytes; (status, parsed JSON)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, hdr, raw = self.request("POST", "/api/people", data, {"Content-Type": content_type})
        return status, hdr, json.loads(raw)


class DemoEnv:
    def __init__(self, factory, pg, workdir, certs):
        self.dir = os.path.join(workdir, "demo")
        os.makedirs(self.dir, exist_ok=True)
        self.sim = Sim(os.path.join(self.dir, "sim")).start()
        keys = {"provider": "dstack", "dstack_endpoint": self.sim.socket,
                "sealed_master_key": os.path.join(self.dir, "master.sealed"),
                "keystore": os.path.join(self.dir, "keystore")}
        self.enc = enc_env(factory, pg, workdir, name="demo", schema_yaml=SCHEMA, tables_sql=TABLES,
                           keys=keys, client_tls=True, log_level="info")
        self.policy = os.path.join(self.dir, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write("min_tcb_status: UpToDate\nrequire_event_log: true\n")
        p = self.enc.proxy
        self.pgseal_dsn = p.dsn(sslmode="verify-full", sslrootcert=certs.ca)
        self.db_dsn = "host=127.0.0.1 port=%d user=trust_user dbname=%s sslmode=require" % (pg.port, harness.DB)
        self.admin_url = "http://127.0.0.1:%d" % p.admin_port
        self.demos = []
        self.demo = self.start_demo("main")

    def start_demo(self, name, **over):
        """A pgseal-demo on this environment; keyword arguments replace flags (None drops one)."""
        flags = {"pgseal": self.pgseal_dsn, "db": self.db_dsn, "admin-url": self.admin_url,
                 "root-ca": self.sim.root_pem, "collateral": self.sim.collateral, "policy": self.policy,
                 "table": TABLE, "max-rows": str(MAX_ROWS)}
        flags.update({k.replace("_", "-"): v for k, v in over.items()})
        args = []
        for k, v in flags.items():
            if v is not None:
                args += ["--" + k, v]
        d = Demo(self.dir, "%s-%d" % (name, len(self.demos)), args).start()
        self.demos.append(d)
        return d

    def count(self):
        return self.enc.up_rows("SELECT count(*) FROM demo_people")[0][0]

    def close(self):
        bad = []
        for d in self.demos:
            rc = d.stop()
            if rc not in (0, None):
                bad.append("pgseal-demo exited %s\n%s" % (rc, d.log()[-3000:]))
            if "ERROR: AddressSanitizer" in d.log() or "runtime error:" in d.log():
                bad.append("sanitizer report from pgseal-demo\n" + d.log()[-5000:])
        self.sim.stop()
        return bad


_ENV = {}


def demo_env(factory, pg, workdir, certs):
    if "env" not in _ENV:
        _ENV["env"] = DemoEnv(factory, pg, workdir, certs)
    return _ENV["env"]


def close_demo_env():
    env = _ENV.pop("env", None)
    return env.close() if env else []


def wait_until(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False
