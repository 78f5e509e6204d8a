# test_deploy.py - `pgseal deploy compose-hash|normalize|policy` and deploy/dstack/: the hash dstack measures, the normalised form, the policy, refusals.
import hashlib
import json
import os
import subprocess
import sys

import yaml

import harness

DSTACK = os.path.join(harness.REPO, "deploy", "dstack")
APP_COMPOSE = os.path.join(DSTACK, "app-compose.json")


def deploy(*args):
    r = subprocess.run([harness.pgseal_bin(), "deploy"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def dstack_normalised(obj):
    """dstack's SDKs (sdk/python get_compose_hash.py): sorted, compact, UTF-8 unescaped."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_compose_hash_is_sha256_of_the_bytes():
    raw = open(APP_COMPOSE, "rb").read()
    rc, out, err = deploy("compose-hash", APP_COMPOSE)
    assert rc == 0, err
    assert out == hashlib.sha256(raw).hexdigest() + "\n"
    assert "placeholder" in err          # the committed file still pins the placeholder digest
    assert "not in dstack's normalised form" not in err


def test_committed_app_compose_is_normalised_and_current(tmp_path):
    raw = open(APP_COMPOSE, "rb").read()
    obj = json.loads(raw)
    assert raw == dstack_normalised(obj)                     # dstack's normalised form
    assert obj["docker_compose_file"] == open(os.path.join(DSTACK, "docker-compose.yml")).read()
    out = tmp_path / "ac.json"                               # app-compose.py writes the same bytes
    subprocess.run([sys.executable, os.path.join(DSTACK, "app-compose.py"), "--out", str(out)],
                   check=True, timeout=30, stderr=subprocess.DEVNULL)
    assert out.read_bytes() == raw
    rc, norm, _ = deploy("normalize", APP_COMPOSE)           # and so does pgseal's normaliser
    assert rc == 0 and norm.encode() == raw
    for k in ("manifest_version", "name", "runner", "docker_compose_file", "kms_enabled",
              "gateway_enabled", "allowed_envs"):
        assert k in obj, k
    assert obj["runner"] == "docker-compose"


def test_compose_file_shape():
    c = yaml.safe_load(open(os.path.join(DSTACK, "docker-compose.yml")))
    s = c["services"]
    assert "@sha256:" in s["pgseal"]["image"] and "@sha256:" in s["demo"]["image"]
    assert "/var/run/dstack.sock:/var/run/dstack.sock" in s["pgseal"]["volumes"]
    assert any(v.startswith("pgseal-keys:/data/pgseal") for v in s["pgseal"]["volumes"])
    assert "postgres" in s
    assert all(k.startswith("PGSEAL_DEMO_") for k in s["demo"]["environment"])
    obj = json.load(open(APP_COMPOSE))
    envs = set(obj["allowed_envs"])
    for name, sec in c["secrets"].items():                  # every secret is an encrypted env var
        assert sec["environment"] in envs, name
    # the embedded pgseal config is a valid pgseal config
    cfg = yaml.safe_load(c["configs"]["pgseal-config"]["content"])
    assert cfg["keys"]["provider"] == "dstack" and "cert_file" not in cfg["client_tls"]


def test_normalize_option_and_non_normalised_file(tmp_path):
    obj = json.load(open(APP_COMPOSE))
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(obj, indent=2, ensure_ascii=True))
    rc, out, err = deploy("compose-hash", str(pretty))
    assert rc == 0 and out.strip() == hashlib.sha256(pretty.read_bytes()).hexdigest()
    assert "not in dstack's normalised form" in err
    rc, out, _ = deploy("compose-hash", "--normalize", str(pretty))
    assert rc == 0 and out.strip() == hashlib.sha256(dstack_normalised(obj)).hexdigest()
    rc, out, _ = deploy("normalize", str(pretty))
    assert rc == 0 and out.encode() == dstack_normalised(obj)
    dst = tmp_path / "norm.json"
    rc, _, _ = deploy("normalize", str(pretty), "--out", str(dst))
    assert rc == 0 and dst.read_bytes() == dstack_normalised(obj)


def test_policy_pins_the_hash(tmp_path):
    raw = open(APP_COMPOSE, "rb").read()
    pol = tmp_path / "policy.yaml"
    rc, _, err = deploy("policy", APP_COMPOSE, "--out", str(pol), "--app-id", "ab" * 20)
    assert rc == 0, err
    p = yaml.safe_load(pol.read_text())
    assert p["compose_hashes"] == [hashlib.sha256(raw).hexdigest()]
    assert p["require_event_log"] is True and p["min_tcb_status"] == "UpToDate"
    assert p["app_ids"] == ["ab" * 20]
    assert "PLACEHOLDER" in pol.read_text()
    rc, out, _ = deploy("policy", APP_COMPOSE)               # to stdout: the same text
    assert rc == 0 and yaml.safe_load(out)["compose_hashes"] == p["compose_hashes"]


def test_refusals(tmp_path):
    missing = str(tmp_path / "missing.json")
    for args in (["compose-hash", missing], ["policy", missing], ["normalize", missing]):
        rc, out, err = deploy(*args)
        assert rc == 2 and out == "" and "cannot open" in err, args
    bad = {
        "notjson.json": b"services: {}\n",
        "trailing.json": b'{"manifest_version":2,"name":"a","runner":"bash"} x',
        "dupkey.json": b'{"manifest_version":2,"name":"a","name":"b","runner":"bash"}',
        "array.json": b"[]",
        "noname.json": b'{"manifest_version":2,"runner":"bash"}',
        "nocompose.json": b'{"manifest_version":2,"name":"a","runner":"docker-compose"}',
        "badutf8.json": b'{"manifest_version":2,"name":"\xff","runner":"bash"}',
        "empty.json": b"",
    }
    for name, content in bad.items():
        f = tmp_path / name
        f.write_bytes(content)
        for args in (["compose-hash", str(f)], ["compose-hash", "--normalize", str(f)],
                     ["normalize", str(f)], ["policy", str(f)]):
            rc, out, err = deploy(*args)
            assert rc == 2 and out == "" and err, (name, args)
    # a fraction: readable as an AppCompose (its bytes are hashed) but has no normalised form
    frac = tmp_path / "frac.json"
    frac.write_bytes(b'{"manifest_version":2,"name":"a","runner":"bash","x":1.5}')
    rc, out, _ = deploy("compose-hash", str(frac))
    assert rc == 0 and out.strip() == hashlib.sha256(frac.read_bytes()).hexdigest()
    rc, out, err = deploy("compose-hash", "--normalize", str(frac))
    assert rc == 2 and out == "" and "non-integer" in err
    # usage errors
    for args in ([], ["frobnicate", APP_COMPOSE], ["compose-hash"], ["compose-hash", APP_COMPOSE, "x"],
                 ["compose-hash", APP_COMPOSE, "--app-id", "ab" * 20], ["normalize", "--normalize", APP_COMPOSE],
                 ["compose-hash", APP_COMPOSE, "--out", str(tmp_path / "o")]):
        assert deploy(*args)[0] == 2, args
    # a bad pin or an unwritable target: exit 2, and an existing policy is left as it was
    pol = tmp_path / "keep.yaml"
    pol.write_text("require_event_log: true\n")
    for args in (["--app-id", "abcd"], ["--mrtd", "zz"], ["--min-tcb-status", "Fine"], ["--rtmr2", "00"]):
        rc, _, err = deploy("policy", APP_COMPOSE, "--out", str(pol), *args)
        assert rc == 2 and err, args
        assert pol.read_text() == "require_event_log: true\n"
    assert sorted(os.listdir(tmp_path)) == sorted(list(bad) + ["frac.json", "keep.yaml"])  # no temp files left
    rc, _, _ = deploy("policy", APP_COMPOSE, "--out", str(tmp_path / "nodir" / "p.yaml"))
    assert rc == 2
