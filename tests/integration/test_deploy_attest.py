# test_deploy_attest.py - what `make run` shows: pgseal on the simulator measuring deploy/dstack/app-compose.json, verified with the policy `pgseal deploy policy` writes; one changed byte fails on compose_hashes; a Proof of Cloud token for the served quote.
import hashlib
import json
import os
import re
import subprocess
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import harness
from sim_harness import Sim, http_get

APP_COMPOSE = os.path.join(harness.REPO, "deploy", "dstack", "app-compose.json")


def pgseal(*args):
    r = subprocess.run([harness.pgseal_bin()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@pytest.fixture(scope="module")
def compose_hash():
    rc, out, err = pgseal("deploy", "compose-hash", APP_COMPOSE)
    assert rc == 0, err
    assert out.strip() == hashlib.sha256(open(APP_COMPOSE, "rb").read()).hexdigest()
    return out.strip()


@pytest.fixture(scope="module")
def sim(workdir, compose_hash):
    s = Sim(os.path.join(workdir, "sim-deploy"), ["--compose-hash", compose_hash]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def served(factory, sim):
    """pgseal as make run starts it: keys on the simulator, RA-TLS client certificate."""
    cfg = factory.config(admin=True)
    cfg["client_tls"] = {"require": True}
    cfg["keys"] = {"provider": "dstack", "dstack_endpoint": sim.socket}
    return factory.start_cfg("deploy-ratls", cfg)


def verify(served, sim, policy):
    rc, out, err = pgseal("attest", "verify", "--connect", "%s:%d" % (served.host, served.port),
                          "--root-ca", sim.root_pem, "--collateral", sim.collateral, "--policy", str(policy))
    return rc, json.loads(out), err


def test_verify_trusted_and_simulated(served, sim, compose_hash, tmp_path):
    pol = tmp_path / "policy.yaml"
    rc, _, err = pgseal("deploy", "policy", APP_COMPOSE, "--out", str(pol))
    assert rc == 0, err
    rc, out, err = verify(served, sim, pol)
    assert rc == 0, out
    assert out["verdict"] == "trusted" and out["policy"]["result"] == "pass"
    assert out["compose_hash"] == compose_hash and out["rtmr3_replayed_ok"] is True
    assert out["simulated"] is True and "*** SIMULATED ***" in err
    assert "TDX hardware" in err and out["root_ca"] == "custom"
    # without the simulator's root: not trusted (and still called SIMULATED)
    rc, o, e = pgseal("attest", "verify", "--connect", "%s:%d" % (served.host, served.port), "--policy", str(pol))
    assert rc == 1 and json.loads(o)["simulated"] is True and "SIMULATED" in e


def test_one_changed_byte_fails_on_compose_hash(served, sim, compose_hash, tmp_path):
    raw = open(APP_COMPOSE, "rb").read()
    i = raw.index(b"restart: unless-stopped")      # one byte inside the compose text: still valid JSON
    changed = raw[:i] + b"R" + raw[i + 1:]
    assert len(changed) == len(raw) and sum(a != b for a, b in zip(raw, changed)) == 1
    f = tmp_path / "app-compose.json"
    f.write_bytes(changed)
    json.loads(changed)
    pol = tmp_path / "policy.yaml"
    rc, _, err = pgseal("deploy", "policy", str(f), "--out", str(pol))
    assert rc == 0, err
    rc, out, _ = verify(served, sim, pol)
    assert rc == 1, out
    assert out["verdict"] != "trusted"
    assert out["failed_policy_rule"] == "compose_hashes"
    assert compose_hash in out["policy"]["reason"]   # the measured hash, not the pinned one
    assert out["simulated"] is True


def test_run_sh_prints_this_verification():
    """scripts/run.sh (make run) starts the simulator with this file's hash and prints this command."""
    s = open(os.path.join(harness.REPO, "scripts", "run.sh")).read()
    assert 'deploy compose-hash "$COMPOSE_FILE"' in s and "--compose-hash" in s
    assert 'deploy policy "$COMPOSE_FILE" --out "$RUN/deploy-policy.yaml"' in s
    assert re.search(r"attest verify --connect 127\.0\.0\.1:\$PORT .*--policy \$RUN/deploy-policy\.yaml", s)
    assert "*** SIMULATED ***" in s


def test_proof_of_cloud_token_for_the_served_quote(served, sim, tmp_path):
    """A token as a Proof of Cloud trust server signs it (docs/attestation.md), for the quote
    pgseal serves: the poc_trust_servers rule passes; for another machine it fails."""
    status, body = http_get(served.admin_port, "/attestation")
    assert status == 200, body
    quote = bytes.fromhex(json.loads(body)["quote"])      # the quote of the served certificate
    pol = tmp_path / "policy.yaml"
    rc, _, err = pgseal("deploy", "policy", APP_COMPOSE, "--out", str(pol))
    assert rc == 0, err
    rc, out, _ = verify(served, sim, pol)
    assert rc == 0, out
    ppid = bytes.fromhex(out["platform"]["ppid"])
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "ts.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with open(pol, "a") as f:
        f.write("\npoc_trust_servers:\n  - id: ts-test\n    public_key_file: ts.pem\n")

    def token(machine):
        claims = {"quote_hash": hashlib.sha256(quote).hexdigest(),
                  "machine_id": hashlib.sha256(machine).hexdigest(),
                  "label": "simulator", "iat": int(time.time()) - 5}
        f = tmp_path / ("tok-%s.jwt" % machine.hex())
        f.write_text(jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "ts-test"}))
        return str(f)

    def verify_poc(tok):
        rc, o, _ = pgseal("attest", "verify", "--connect", "%s:%d" % (served.host, served.port),
                          "--root-ca", sim.root_pem, "--collateral", sim.collateral, "--policy", str(pol),
                          "--poc-token", tok)
        return rc, json.loads(o)

    rc, out = verify_poc(token(ppid))
    assert rc == 0, out
    assert out["verdict"] == "trusted" and out["poc"]["vouching"] == 1
    assert {"rule": "poc_trust_servers", "result": "pass", "reason": None} in out["policy"]["rules"]
    rc, out = verify_poc(token(bytes(16)))
    assert rc == 1 and out["failed_policy_rule"] == "poc_trust_servers"
    assert out["poc"]["tokens"][0]["failed_check"] == "machine_id"
    # without a token the policy that names trust servers does not hold
    rc, out, _ = verify(served, sim, pol)
    assert rc == 1 and out["failed_policy_rule"] == "poc_trust_servers"
