# test_node.py - runs the node-postgres tests (tests/node/proxy.test.js) against pgseal instances started here.
import os
import shutil
import subprocess

import pytest

import harness

NODE_DIR = os.path.join(harness.REPO, "tests", "node")


def test_node_postgres(plain, tls, certs):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg")):
        pytest.fail("tests/node/node_modules/pg missing: run scripts/install-deps.sh (npm install in tests/node)")
    env = dict(os.environ, PGSEAL_PLAIN_PORT=str(plain.port), PGSEAL_TLS_PORT=str(tls.port), PGSEAL_CA=certs.ca,
               PGSEAL_SCRAM_PASSWORD=harness.PASSWORDS["scram_user"], PGSEAL_DB=harness.DB)
    r = subprocess.run([node, "--test", "proxy.test.js"], cwd=NODE_DIR, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode(errors="replace")
    print(out)
    assert r.returncode == 0, out
    assert "# fail 0" in out and "# pass 4" in out
