#!/usr/bin/python3
"""test_providers.py - `pgseal keys init|status|rotate|client-id` end to end with each provider.

Run from the repository root after `make`:  /usr/bin/python3 tests/keys/test_providers.py
(or with pytest). Uses build/pgseal and tests/keys/dstack_stub.py; no network, no Postgres.
"""
import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PGSEAL = os.environ.get("PGSEAL_BIN", os.path.join(ROOT, "build", "pgseal"))
STUB = os.path.join(ROOT, "tests", "keys", "dstack_stub.py")
KEY_B64 = base64.b64encode(bytes(range(32))).decode()


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("PGSEAL_MASTER_KEY", None)
    e.pop("DSTACK_SIMULATOR_ENDPOINT", None)
    if env:
        e.update(env)
    p = subprocess.run([PGSEAL, *args], capture_output=True, text=True, env=e, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Stub:
    def __init__(self, sock, compose):
        self.sock = sock
        if os.path.exists(sock):
            os.unlink(sock)
        self.proc = subprocess.Popen(["/usr/bin/python3", STUB, sock, "--compose-hash", compose],
                                     stdout=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                return
            time.sleep(0.05)
        raise RuntimeError("stub did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class ProviderTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, provider, extra=""):
        path = os.path.join(self.dir, "pgseal.yaml")
        with open(path, "w") as f:
            f.write("upstream: {host: 127.0.0.1, port: 5432}\n")
            f.write("keys:\n  provider: %s\n%s" % (provider, extra))
        return path

    def read(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()

    def check_lifecycle(self, cfg, env=None, blob="pgseal-master.sealed"):
        rc, out, err = run("keys", "status", "--config", cfg, env=env)
        self.assertEqual(rc, 1, err)  # not initialised yet
        rc, out, err = run("keys", "init", "--config", cfg, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("sealed master key created", out)
        st = os.stat(os.path.join(self.dir, blob))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        before = self.read(blob)
        rc, out, err = run("keys", "init", "--config", cfg, env=env)
        self.assertEqual(rc, 1)
        self.assertIn("refusing to overwrite", err)
        self.assertEqual(self.read(blob), before)
        rc, out, err = run("keys", "rotate", "--config", cfg, "--column", "users.email", env=env)
        self.assertEqual(rc, 0, err)
        rc, out, err = run("keys", "rotate", "--config", cfg, "--column", "users.email", env=env)
        self.assertEqual(rc, 0, err)
        rc, out, err = run("keys", "rotate", "--config", cfg, "--master", env=env)
        self.assertEqual(rc, 0, err)
        rc, out, err = run("keys", "status", "--config", cfg, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("master_generation: 2", out)
        self.assertIn("users.email client=(default) kind=data version=2", out)
        self.assertIn("kind=search version=1", out)
        self.assertRegex(out, r"version=2 created=\S+ current")
        return out

    def test_file_provider(self):
        cfg = self.config("file", "  sealing_key_file: dev.key\n")
        out = self.check_lifecycle(cfg)
        self.assertIn("provider: file", out)
        rc, out, err = run("keys", "status", "--config", cfg)
        self.assertIn("NOT a TEE", err)
        key = self.read("dev.key")
        self.assertEqual(len(key), 32)
        # the key never shows up in any output, raw or hex
        self.assertNotIn(key.hex(), out + err)

    def test_env_provider(self):
        cfg = self.config("env", "  sealed_master_key: data/m.sealed\n  keystore: data/ks\n")
        os.mkdir(os.path.join(self.dir, "data"))
        env = {"PGSEAL_MASTER_KEY": KEY_B64}
        out = self.check_lifecycle(cfg, env=env, blob="data/m.sealed")
        self.assertIn("provider: env", out)
        self.assertNotIn(KEY_B64, out)
        rc, out, err = run("keys", "status", "--config", cfg)
        self.assertEqual(rc, 1)
        self.assertIn("PGSEAL_MASTER_KEY is not set", err)
        other = base64.b64encode(bytes(range(1, 33))).decode()
        rc, out, err = run("keys", "status", "--config", cfg, env={"PGSEAL_MASTER_KEY": other})
        self.assertEqual(rc, 1)
        self.assertIn("cannot unseal", err)
        rc, out, err = run("keys", "status", "--config", cfg, env={"PGSEAL_MASTER_KEY": "short"})
        self.assertEqual(rc, 1)
        self.assertNotIn("short", err)

    def test_dstack_provider(self):
        sock = os.path.join(self.dir, "dstack.sock")
        stub = Stub(sock, "aa" * 32)
        try:
            cfg = self.config("dstack", "  dstack_endpoint: %s\n" % sock)
            out = self.check_lifecycle(cfg)
            self.assertIn("provider: dstack", out)
            rc, out, err = run("keys", "status", "--config", cfg)
            self.assertIn("compose_hash " + "aa" * 32, err)  # Info is logged
        finally:
            stub.stop()
        # another compose hash derives another sealing key: the blob does not unseal
        stub = Stub(sock, "bb" * 32)
        try:
            before = self.read("pgseal-master.sealed")
            rc, out, err = run("keys", "status", "--config", cfg)
            self.assertEqual(rc, 1)
            self.assertIn("cannot unseal", err)
            self.assertEqual(self.read("pgseal-master.sealed"), before)
            # DSTACK_SIMULATOR_ENDPOINT is honoured when the config names no endpoint
            cfg2 = self.config("dstack", "  sealed_master_key: other.sealed\n"
                                         "  keystore: other.ks\n")
            rc, out, err = run("keys", "init", "--config", cfg2,
                               env={"DSTACK_SIMULATOR_ENDPOINT": sock})
            self.assertEqual(rc, 0, err)
        finally:
            stub.stop()
        rc, out, err = run("keys", "status", "--config", cfg)
        self.assertEqual(rc, 1)
        self.assertIn("dstack", err)

    def test_client_id(self):
        key = os.path.join(self.dir, "k.pem")
        cert = os.path.join(self.dir, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-subj", "/CN=app-a", "-days", "1"], check=True, capture_output=True)
        spki = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                              check=True, capture_output=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=spki,
                             check=True, capture_output=True).stdout
        rc, out, err = run("keys", "client-id", cert)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, hashlib.sha256(der).hexdigest() + "\n")
        rc, out, err = run("keys", "client-id", key)
        self.assertEqual(rc, 1)
        rc, out, err = run("keys", "client-id")
        self.assertEqual(rc, 2)

    def test_usage(self):
        self.assertEqual(run("keys")[0], 2)
        self.assertEqual(run("keys", "bogus")[0], 2)
        self.assertEqual(run("keys", "status")[0], 2)
        cfg = self.config("file", "  sealing_key_file: dev.key\n")
        self.assertEqual(run("keys", "init", "--config", cfg, "--master")[0], 2)


if __name__ == "__main__":
    if not os.path.exists(PGSEAL):
        sys.exit("build/pgseal missing: run make first")
    unittest.main(verbosity=1)
