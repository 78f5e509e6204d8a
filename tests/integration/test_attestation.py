# test_attestation.py - RA-TLS end to end: pgseal on pgseal-dstack-sim, psql/psycopg over the attested certificate, `attest verify --connect`, GET /attestation.
import json
import os
import subprocess

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import harness
from conftest import ADMIN_TOKEN
from sim_harness import Sim, http_get, quote_report_data, ratls_binding, served_cert_der

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def sim(workdir):
    s = Sim(os.path.join(workdir, "sim")).start()
    yield s
    s.stop()


def dstack_keys(sim):
    return {"provider": "dstack", "dstack_endpoint": sim.socket}


@pytest.fixture(scope="module")
def ratls(factory, sim):
    """pgseal with keys on the simulator and client_tls WITHOUT cert_file: RA-TLS."""
    cfg = factory.config(admin=True)
    cfg["client_tls"] = {"require": True}
    cfg["keys"] = dstack_keys(sim)
    return factory.start_cfg("ratls", cfg)


@pytest.fixture(scope="module")
def ratls_certfile(factory, sim):
    """pgseal with keys on the simulator and a configured client certificate."""
    cfg = factory.config(client_tls=True, admin=True)
    cfg["keys"] = dstack_keys(sim)
    return factory.start_cfg("ratls-certfile", cfg)


def der_octet_string(raw):
    """The contents of a DER OCTET STRING that covers all of raw (the RA-TLS extnValue shape)."""
    assert raw[0] == 0x04, raw[:4].hex()
    n, off = raw[1], 2
    if n & 0x80:
        k = n & 0x7F
        n, off = int.from_bytes(raw[2:2 + k], "big"), 2 + k
    assert off + n == len(raw)
    return raw[off:]


def verify(*args, timeout=60):
    r = subprocess.run([harness.pgseal_bin(), "attest", "verify"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("attest verify printed no JSON (exit %d): %r %r" % (r.returncode, r.stdout, r.stderr))
    return r.returncode, out


def attestation_doc(p):
    status, body = http_get(p.admin_port, "/attestation")  # no token: public
    assert status == 200, (status, body)
    return json.loads(body)


def test_psycopg_and_psql_over_ratls(ratls):
    with psycopg.connect(ratls.dsn(sslmode="require"), autocommit=True) as c:
        assert c.pgconn.ssl_in_use
        assert c.execute("SELECT 40 + 2, current_user").fetchone() == (42, "trust_user")
    out = harness.run(["psql", "-X", "-At", "-c", "SELECT 'over ' || 'ra-tls'",
                       ratls.dsn(sslmode="require", host="127.0.0.1")],
                      env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    assert out.strip() == "over ra-tls"
    # TLS is required: a plaintext attempt is refused
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(ratls.dsn(sslmode="disable"), autocommit=True).close()


def test_served_certificate_carries_bound_quote(ratls):
    cert = x509.load_der_x509_certificate(served_cert_der(ratls.host, ratls.port))
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "pgseal"
    assert cert.issuer == cert.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    ext = {e.oid.dotted_string: e for e in cert.extensions}
    q, ev = ext["1.3.6.1.4.1.62397.1.1"], ext["1.3.6.1.4.1.62397.1.2"]
    assert not q.critical and not ev.critical
    quote = der_octet_string(q.value.value)
    spki = cert.public_key().public_bytes(*SPKI)
    assert quote_report_data(quote) == ratls_binding(spki)
    events = json.loads(der_octet_string(ev.value.value))
    assert any(e.get("event") == "compose-hash" for e in events)


def test_attest_verify_connect_with_sim_root(ratls, sim):
    rc, out = verify("--connect", "%s:%d" % (ratls.host, ratls.port), "--root-ca", sim.root_pem,
                     "--collateral", sim.collateral)
    # the binding check passed: the quote in the certificate binds the certificate's key
    assert out["ra_tls"]["bound"] is True, out
    assert out["ra_tls"]["event_log_in_certificate"] is True
    assert out["report_data"] == out["ra_tls"]["expected_report_data"]
    assert out["rtmr3_replayed_ok"] is True
    info = sim.call("Info")
    assert out["compose_hash"] == info["compose_hash"]
    assert out["app_id"] == info["app_id"]
    assert rc == 0, out
    assert out["verdict"] == "trusted" and out["tcb_status"] == "UpToDate", out


def test_attest_verify_connect_refused_with_intel_root(ratls):
    rc, out = verify("--connect", "%s:%d" % (ratls.host, ratls.port))
    assert rc == 1, out
    assert out["verdict"] == "untrusted"
    assert out["failed_check"] not in ("ra_tls", "ra_tls_binding"), out


def test_attestation_endpoint(ratls, sim):
    doc = attestation_doc(ratls)
    assert doc["provider"] == "dstack-simulator"
    assert doc["escrow_allowed"] is False  # keys.escrow is off by default (docs/keys.md §10)
    assert doc["certificate_source"] == "ra-tls"
    assert doc["binding"]["method"] == 'sha512("pgseal-ra-tls-v1" || spki_der)'
    info = sim.call("Info")
    for k in ("app_id", "compose_hash", "instance_id", "app_name"):
        assert doc["app"][k] == info[k], k
    assert isinstance(doc["event_log"], list) and any(e.get("event") == "compose-hash" for e in doc["event_log"])
    assert isinstance(doc["vm_config"], str)
    # the document's certificate is the one served on the client port
    cert = x509.load_pem_x509_certificate(doc["certificate"].encode())
    served = served_cert_der(ratls.host, ratls.port)
    assert cert.public_bytes(serialization.Encoding.DER) == served
    # its quote's report_data is the binding of that certificate's key
    quote = bytes.fromhex(doc["quote"])
    binding = ratls_binding(cert.public_key().public_bytes(*SPKI))
    assert quote_report_data(quote) == binding
    assert bytes.fromhex(doc["binding"]["report_data"]) == binding
    # the verifier takes the document itself as quote and event log
    path = os.path.join(ratls.dir, "attestation.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    rc, out = verify("--quote", path, "--event-log", path, "--root-ca", sim.root_pem, "--collateral", sim.collateral)
    assert out["report_data"] == binding.hex()
    assert out["rtmr3_replayed_ok"] is True and out["compose_hash"] == info["compose_hash"]


def test_attestation_public_metrics_not(ratls):
    assert http_get(ratls.admin_port, "/attestation")[0] == 200
    assert http_get(ratls.admin_port, "/metrics")[0] == 401
    assert http_get(ratls.admin_port, "/metrics", token="wrong-token")[0] == 401
    assert http_get(ratls.admin_port, "/metrics", token=ADMIN_TOKEN)[0] == 200


def test_pinned_certificate_verify_full(ratls):
    """A client that verified the quote can pin the certificate: verify-full against it."""
    pem = os.path.join(ratls.dir, "pinned.pem")
    with open(pem, "w") as f:
        f.write(attestation_doc(ratls)["certificate"])
    with psycopg.connect(ratls.dsn(sslmode="verify-full", sslrootcert=pem, host="localhost"), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_key_never_written(ratls):
    """The generated private key exists only in memory: nothing key-like in pgseal's directory."""
    for name in os.listdir(ratls.dir):
        path = os.path.join(ratls.dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            assert b"PRIVATE KEY" not in data, name


def test_configured_cert_is_quoted_but_not_replaced(ratls_certfile, certs, sim):
    served = served_cert_der(ratls_certfile.host, ratls_certfile.port)
    with open(certs.proxy, "rb") as f:
        configured = x509.load_pem_x509_certificate(f.read())
    assert served == configured.public_bytes(serialization.Encoding.DER)
    doc = attestation_doc(ratls_certfile)
    assert doc["certificate_source"] == "cert_file"
    assert x509.load_pem_x509_certificate(doc["certificate"].encode()) == configured
    binding = ratls_binding(configured.public_key().public_bytes(*SPKI))
    assert quote_report_data(bytes.fromhex(doc["quote"])) == binding
    # clients still verify the configured certificate as before
    with psycopg.connect(ratls_certfile.dsn(sslmode="verify-full", sslrootcert=certs.ca), autocommit=True) as c:
        assert c.execute("SELECT 2").fetchone() == (2,)
    # the certificate itself carries no quote: --connect says so
    rc, out = verify("--connect", "%s:%d" % (ratls_certfile.host, ratls_certfile.port), "--root-ca", sim.root_pem,
                     "--collateral", sim.collateral)
    assert rc == 1 and out["failed_check"] == "ra_tls", out


def test_no_tee_no_attestation(factory, workdir, plain):
    # no keys section
    assert http_get(plain.admin_port, "/attestation")[0] == 404
    # provider file: not a TEE
    key = os.path.join(workdir, "ratls-dev-sealing.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    p = factory.start("ratls-file", keys={"provider": "file", "sealing_key_file": key})
    assert http_get(p.admin_port, "/attestation")[0] == 404
    assert "/attestation answers 404" in p.log_text()


def test_client_tls_without_cert_needs_dstack(factory, workdir):
    """Config validation: client_tls without cert_file is refused unless the provider is dstack."""
    cfg = factory.config(admin=False)
    cfg["client_tls"] = {"require": True}
    p = harness.PgSeal("ratls-bad", workdir, cfg)
    with open(p.conf_path, "w") as f:
        f.write(harness.yaml_dump(cfg) + "\n")
    r = subprocess.run([harness.pgseal_bin(), "serve", "--config", p.conf_path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode != 0
    assert b"cert_file" in r.stdout


def test_attestation_shows_escrow_allowed(factory, sim):
    """keys.escrow: allowed is visible to a verifier (docs/keys.md §10)."""
    cfg = factory.config(client_tls=True, admin=True)
    cfg["keys"] = dict(dstack_keys(sim), escrow="allowed")
    p = factory.start_cfg("ratls-escrow", cfg)
    assert attestation_doc(p)["escrow_allowed"] is True
    assert "keys.escrow is allowed" in p.log_text()
    p.stop()
