#!/usr/bin/python3
"""test_sim.py - black-box tests of build/pgseal-dstack-sim: API shapes, key derivation, TDX quote layout and
signature chain, collateral, RTMR replay, bad requests, and the official SDK (tests/sim/sdk_test.js).

usage: /usr/bin/python3 tests/sim/test_sim.py   (prints one line per check, then `sim: N passed, N failed`)
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SIM = os.environ.get("PGSEAL_SIM", os.path.join(REPO, "build", "pgseal-dstack-sim"))
NODE_DIR = os.path.join(REPO, "tests", "node")
DCAP_QVL = os.path.join(NODE_DIR, "node_modules", "@phala", "dcap-qvl", "test_case.js")


def find_testdata():
    for d in (os.environ.get("PGSEAL_TESTDATA"), os.path.join(REPO, "..", "shared", "testdata", "tdx"),
              "/work/shared/testdata/tdx"):
        if d and os.path.isfile(os.path.join(d, "dstack_quote_report.json")):
            return d
    return None


TESTDATA = find_testdata()
SGX_EXT_OID = x509.ObjectIdentifier("1.2.840.113741.1.13.1")
RESULTS = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        RESULTS["passed"] += 1
        print(f"ok - {name}")
    else:
        RESULTS["failed"] += 1
        print(f"not ok - {name}" + (f": {detail}" if detail else ""))
    return cond


# --- simulator process and HTTP over a unix socket -------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("dstack", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Sim:
    def __init__(self, workdir, name="dstack.sock", compose_hash=None, state_dir=None, extra=None):
        self.sock = os.path.join(workdir, name)
        self.dir = workdir
        self.log_path = self.sock + ".log"
        args = [SIM, "--socket", self.sock]
        if compose_hash:
            args += ["--compose-hash", compose_hash]
        if state_dir:
            args += ["--state-dir", state_dir]
        args += extra or []
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("simulator exited: " + open(self.log_path).read())
            try:
                st, _, _ = self.call("POST", "/Version", b"{}")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("simulator did not start")

    def call(self, method, path, body=None, headers=None):
        c = UnixHTTPConnection(self.sock)
        try:
            hdrs = {"Content-Type": "application/json"}
            hdrs.update(headers or {})
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return r.status, r.getheader("Content-Type"), data
        finally:
            c.close()

    def rpc(self, path, obj=None, method="POST"):
        body = json.dumps(obj if obj is not None else {}).encode()
        st, ctype, data = self.call(method, path, body)
        return st, json.loads(data) if data else None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.returncode != 0:  # a sanitizer report, or a crash
                check(f"simulator on {os.path.basename(self.sock)} exits 0 on SIGTERM", False,
                      open(self.log_path).read()[-3000:])
        self.logf.close()
        return self.proc.returncode


# --- quote parsing (Intel TDX DCAP quote v4) --------------------------------------------------------

BODY_FIELDS = [("tee_tcb_svn", 16), ("mrseam", 48), ("mrsignerseam", 48), ("seam_attributes", 8),
               ("td_attributes", 8), ("xfam", 8), ("mrtd", 48), ("mrconfigid", 48), ("mrowner", 48),
               ("mrownerconfig", 48), ("rtmr0", 48), ("rtmr1", 48), ("rtmr2", 48), ("rtmr3", 48),
               ("report_data", 64)]


def parse_quote(q):
    out = {}
    out["version"], out["att_key_type"], out["tee_type"] = struct.unpack_from("<HHI", q, 0)
    out["qe_vendor_id"] = q[12:28]
    out["user_data"] = q[28:48]
    off = 48
    for name, n in BODY_FIELDS:
        out[name] = q[off:off + n]
        off += n
    assert off == 632
    (sig_len,) = struct.unpack_from("<I", q, 632)
    out["sig_len"] = sig_len
    p = 636
    out["signature"] = q[p:p + 64]
    out["att_key"] = q[p + 64:p + 128]
    p += 128
    out["cert_type"], out["cert_size"] = struct.unpack_from("<HI", q, p)
    p += 6
    out["qe_report"] = q[p:p + 384]
    out["qe_report_sig"] = q[p + 384:p + 448]
    p += 448
    (auth_len,) = struct.unpack_from("<H", q, p)
    out["qe_auth"] = q[p + 2:p + 2 + auth_len]
    p += 2 + auth_len
    out["inner_cert_type"], inner_size = struct.unpack_from("<HI", q, p)
    p += 6
    out["pck_chain"] = q[p:p + inner_size]
    out["end"] = p + inner_size
    return out


def raw_sig(sig64):
    return encode_dss_signature(int.from_bytes(sig64[:32], "big"), int.from_bytes(sig64[32:], "big"))


def verifies(pub, sig_der, msg):
    try:
        pub.verify(sig_der, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except Exception:
        return False


def cert_signed_by(cert, issuer):
    return verifies(issuer.public_key(), cert.signature, cert.tbs_certificate_bytes)


def pem_certs(data):
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", data, re.S)
    return [x509.load_pem_x509_certificate(b) for b in blocks]


def replay(events, imr):
    mr = bytes(48)
    for e in events:
        if e["imr"] == imr:
            mr = hashlib.sha384(mr + bytes.fromhex(e["digest"])).digest()
    return mr


def runtime_digest(e):
    return hashlib.sha384(struct.pack("<I", e["event_type"]) + b":" + e["event"].encode() + b":" +
                          bytes.fromhex(e["event_payload"])).hexdigest()


def sgx_ext_field(ext_der, sub):
    """Value bytes of SEQUENCE{OID 1.2.840.113741.1.13.1.sub, OCTET STRING} inside the SGX extension."""
    oid = bytes([0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01, sub])
    i = ext_der.find(oid)
    if i < 0:
        return None
    j = i + len(oid)
    tag, ln = ext_der[j], ext_der[j + 1]
    return tag, ext_der[j + 2:j + 2 + ln]


# --- tests ------------------------------------------------------------------------------------------

def test_start_and_files(sim):
    log = open(sim.log_path).read()
    check("start log says loudly it is a simulator", "THIS IS A SIMULATOR, NOT A TEE" in log)
    check("start log says quotes are signed by a test CA, not Intel", "TEST CA" in log and "NOT" in log
          and "BY INTEL" in log)
    state = sim.sock + ".d"
    sec = os.path.join(state, "secret.bin")
    check("state dir next to the socket (PATH.d) with secret.bin", os.path.isfile(sec))
    check("secret.bin is 32 bytes, mode 0600", os.path.getsize(sec) == 32 and (os.stat(sec).st_mode & 0o777) == 0o600)
    keys = [f for f in os.listdir(os.path.join(state, "ca")) if f.endswith("-key.pem")]
    check("six CA private keys (incl. app CA), each 0600", len(keys) == 6 and all(
        (os.stat(os.path.join(state, "ca", f)).st_mode & 0o777) == 0o600 for f in keys), str(keys))
    for f in ("sim-root.pem", "sim-root.der", "sim-pck-chain.pem", "sim-collateral.json"):
        check(f"{f} written next to the socket", os.path.isfile(os.path.join(sim.dir, f)))
    check("socket is mode 0600", (os.stat(sim.sock).st_mode & 0o777) == 0o600)


def test_get_key(sim):
    st, r = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal"})
    check("GetKey -> 200", st == 200, str(r))
    check("GetKey shape {key, signature_chain}", set(r) == {"key", "signature_chain"}, str(r.keys()))
    check("GetKey key is 32 bytes hex", re.fullmatch(r"[0-9a-f]{64}", r["key"]) is not None)
    check("GetKey signature_chain: 2 x 65 bytes hex",
          len(r["signature_chain"]) == 2 and all(re.fullmatch(r"[0-9a-f]{130}", s) for s in r["signature_chain"]))
    key = r["key"]
    st, r2 = sim.rpc("/GetKey", {"path": "pgseal/other", "purpose": "seal"})
    check("GetKey: other path, other key", r2["key"] != key)
    st, r3 = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal"})
    check("GetKey deterministic", r3["key"] == key)
    st, _, data = sim.call("GET", "/GetKey?path=pgseal/sealing&purpose=seal")
    check("GET /GetKey?path=&purpose= gives the same key", st == 200 and json.loads(data)["key"] == key)
    for path in ("/prpc/GetKey", "/prpc/DstackGuest.GetKey", "/prpc/GetKey?json"):
        st, rr = sim.rpc(path, {"path": "pgseal/sealing", "purpose": "seal"})
        check(f"{path} gives the same key", st == 200 and rr["key"] == key)
    st, rr = sim.rpc("/prpc/Tappd.DeriveK256Key", {"path": "pgseal/sealing", "purpose": "seal"})
    check("/prpc/Tappd.DeriveK256Key {k256_key, k256_signature_chain}",
          st == 200 and rr.get("k256_key") == key and len(rr.get("k256_signature_chain", [])) == 2)
    st, rr = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal", "algorithm": "ed25519"})
    check("GetKey algorithm ed25519 accepted", st == 200 and len(rr["key"]) == 64)
    return key


def test_info(sim, expect_compose=None):
    st, r = sim.rpc("/Info")
    check("Info -> 200", st == 200)
    want = {"app_id", "instance_id", "app_cert", "tcb_info", "app_name", "device_id", "mr_aggregated",
            "os_image_hash", "key_provider_info", "compose_hash", "vm_config", "cloud_vendor", "cloud_product"}
    check("Info has dstack's AppInfo fields", want <= set(r), str(want - set(r)))
    check("Info app_id / instance_id are 20 bytes hex",
          re.fullmatch(r"[0-9a-f]{40}", r["app_id"]) and re.fullmatch(r"[0-9a-f]{40}", r["instance_id"]))
    tcb = json.loads(r["tcb_info"])
    check("Info tcb_info is a JSON string with mrtd, rtmr0-3, event_log, app_compose",
          all(k in tcb for k in ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "event_log", "app_compose",
                                 "compose_hash", "os_image_hash", "device_id", "mr_aggregated")))
    check("Info tcb_info rtmr3 = replay of its event_log", replay(tcb["event_log"], 3).hex() == tcb["rtmr3"])
    if expect_compose:
        check("Info compose_hash = --compose-hash", r["compose_hash"] == expect_compose, r["compose_hash"])
    else:
        check("Info compose_hash = SHA-256(app_compose)",
              hashlib.sha256(tcb["app_compose"].encode()).hexdigest() == r["compose_hash"])
    st, _, data = sim.call("GET", "/Info")
    check("GET /Info works too", st == 200 and json.loads(data)["app_id"] == r["app_id"])
    return r


def get_quote(sim, report_data_hex):
    st, r = sim.rpc("/GetQuote", {"report_data": report_data_hex})
    assert st == 200, r
    return r


def test_quote(sim, workdir, info):
    rd = bytes(range(1, 49))
    r = get_quote(sim, rd.hex())
    check("GetQuote shape {quote, event_log, report_data, vm_config}",
          set(r) == {"quote", "event_log", "report_data", "vm_config"}, str(r.keys()))
    check("GetQuote report_data = input zero-padded to 64", r["report_data"] == (rd + bytes(16)).hex())
    q = bytes.fromhex(r["quote"])
    p = parse_quote(q)
    check("quote header: version 4, att key type 2, TEE type 0x81",
          (p["version"], p["att_key_type"], p["tee_type"]) == (4, 2, 0x81))
    check("quote header: Intel QE vendor id", p["qe_vendor_id"].hex() == "939a7233f79c4ca9940a0db3957f0607")
    check("TD report REPORTDATA = report_data", p["report_data"] == rd + bytes(16))
    td_attr = int.from_bytes(p["td_attributes"], "little")
    check("TD_ATTRIBUTES debug bit off", td_attr & 1 == 0, p["td_attributes"].hex())
    check("MRSIGNERSEAM and SEAM_ATTRIBUTES zero", p["mrsignerseam"] == bytes(48) and p["seam_attributes"] == bytes(8))
    check("signature data length matches the rest of the quote", 636 + p["sig_len"] == len(q) == p["end"],
          f"{636 + p['sig_len']} {len(q)} {p['end']}")
    check("certification data type 6 (QE report), inner type 5 (PCK chain)",
          p["cert_type"] == 6 and p["inner_cert_type"] == 5)
    check("cert data 6 size consistent", p["cert_size"] == len(q) - (636 + 128 + 6))

    ak = ec.EllipticCurvePublicNumbers(int.from_bytes(p["att_key"][:32], "big"),
                                       int.from_bytes(p["att_key"][32:], "big"), ec.SECP256R1()).public_key()
    check("quote signature by the attestation key over header+body (632 bytes)",
          verifies(ak, raw_sig(p["signature"]), q[:632]))
    check("QE report data = SHA-256(attestation key || QE auth data)",
          p["qe_report"][320:352] == hashlib.sha256(p["att_key"] + p["qe_auth"]).digest()
          and p["qe_report"][352:384] == bytes(32))
    certs = pem_certs(p["pck_chain"])
    check("PCK chain has leaf, platform CA, root", len(certs) == 3)
    leaf, platform, root = certs
    check("QE report signed by the PCK leaf key", verifies(leaf.public_key(), raw_sig(p["qe_report_sig"]), p["qe_report"]))
    check("PCK leaf signed by platform CA", cert_signed_by(leaf, platform))
    check("platform CA signed by root", cert_signed_by(platform, root))
    check("root self-signed", cert_signed_by(root, root))
    sim_root = x509.load_pem_x509_certificate(open(os.path.join(workdir, "sim-root.pem"), "rb").read())
    check("chain root = sim-root.pem = sim-root.der", root == sim_root and
          open(os.path.join(workdir, "sim-root.der"), "rb").read() == sim_root.public_bytes(serialization.Encoding.DER))
    names = " ".join(c.subject.rfc4514_string() for c in certs)
    check("every CA name says TEST and not Intel", all("TEST" in c.subject.rfc4514_string() and "not Intel" in
                                                        c.subject.rfc4514_string() for c in certs), names)
    intel_root = os.path.join(TESTDATA, "intel_sgx_root_ca.der") if TESTDATA else None
    if intel_root:
        ir = x509.load_der_x509_certificate(open(intel_root, "rb").read())
        check("chain does not verify to Intel's root", not cert_signed_by(platform, ir) and root != ir)
    ext = leaf.extensions.get_extension_for_oid(SGX_EXT_OID).value.value
    fmspc = sgx_ext_field(ext, 4)
    check("PCK leaf carries SGX extensions with FMSPC", fmspc is not None and fmspc[0] == 4 and len(fmspc[1]) == 6)
    check("PCK leaf carries PPID, PCE-ID, TCB", all(sgx_ext_field(ext, i) is not None for i in (1, 2, 3)))

    events = json.loads(r["event_log"])
    for i in range(4):
        check(f"RTMR{i} = replay of the returned event log", replay(events, i) == p[f"rtmr{i}"])
    rt = [e for e in events if e["imr"] == 3]
    check("IMR3 events use dstack's digest formula", all(runtime_digest(e) == e["digest"] for e in rt))
    byname = {e["event"]: e for e in rt}
    check("IMR3 has app-id, compose-hash, instance-id, key-provider",
          all(n in byname for n in ("app-id", "compose-hash", "instance-id", "key-provider")))
    check("app-id / compose-hash / instance-id payloads = Info",
          byname["app-id"]["event_payload"] == info["app_id"] and
          byname["compose-hash"]["event_payload"] == info["compose_hash"] and
          byname["instance-id"]["event_payload"] == info["instance_id"])
    check("key-provider payload = Info key_provider_info",
          bytes.fromhex(byname["key-provider"]["event_payload"]).decode() == info["key_provider_info"])
    tcb = json.loads(info["tcb_info"])
    check("Info MRTD/RTMRs = the quote's", all(tcb[k] == p[k].hex() for k in ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3")))

    st, _, data = sim.call("GET", "/GetQuote?report_data=" + "ab" * 64)
    check("GET /GetQuote?report_data= (64 bytes)", st == 200 and
          parse_quote(bytes.fromhex(json.loads(data)["quote"]))["report_data"] == bytes([0xAB]) * 64)
    st, rr = sim.rpc("/GetQuote", {})
    check("GetQuote without report_data: zero report data", st == 200 and rr["report_data"] == "00" * 64)
    st, rr = sim.rpc("/prpc/Tappd.TdxQuote", {"report_data": "6869", "hash_algorithm": "sha512"})
    want = hashlib.sha512(b"app-data:hi").digest()
    check("Tappd.TdxQuote sha512 of 'app-data:' || data",
          st == 200 and parse_quote(bytes.fromhex(rr["quote"]))["report_data"] == want and rr["prefix"] == "app-data:")
    st, rr = sim.rpc("/prpc/Tappd.RawQuote", {"report_data": "11" * 64})
    check("Tappd.RawQuote", st == 200 and parse_quote(bytes.fromhex(rr["quote"]))["report_data"] == b"\x11" * 64)
    return q, p


def test_tls_key(sim, workdir):
    req = {"subject": "pgseal.test", "alt_names": ["localhost", "127.0.0.1"], "usage_ra_tls": True,
           "usage_server_auth": True, "usage_client_auth": False}
    st, r = sim.rpc("/GetTlsKey", req)
    check("GetTlsKey -> 200 {key, certificate_chain}", st == 200 and set(r) == {"key", "certificate_chain"}, str(r))
    key = serialization.load_pem_private_key(r["key"].encode(), None)
    check("GetTlsKey key is PKCS#8 P-256 PEM", r["key"].startswith("-----BEGIN PRIVATE KEY-----") and
          isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1")
    chain = [x509.load_pem_x509_certificate(c.encode()) for c in r["certificate_chain"]]
    leaf, ca = chain
    check("GetTlsKey chain [leaf, app CA], leaf signed by the app CA", len(chain) == 2 and cert_signed_by(leaf, ca))
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    check("GetTlsKey leaf holds the returned key", leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == spki)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    check("GetTlsKey SANs", san.get_values_for_type(x509.DNSName) == ["localhost"] and
          [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"])
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    check("GetTlsKey server auth EKU", list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH])
    qext = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.62397.1.1")).value.value
    check("RA-TLS quote extension is DER OCTET STRING(quote)", qext[0] == 0x04)
    q = qext[4:] if qext[1] == 0x82 else qext[3:] if qext[1] == 0x81 else qext[2:]
    pq = parse_quote(q)
    check("RA-TLS quote report_data = SHA-512('ratls-cert:' || SPKI DER)",
          pq["report_data"] == hashlib.sha512(b"ratls-cert:" + spki).digest())
    lext = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.62397.1.2")).value.value
    log = json.loads(lext[lext.index(b"["):])
    check("RA-TLS event log extension replays to the quote's RTMR3", replay(log, 3) == pq["rtmr3"])
    st, r2 = sim.rpc("/GetTlsKey", {"subject": "x", "usage_client_auth": True})
    leaf2 = x509.load_pem_x509_certificate(r2["certificate_chain"][0].encode())
    check("GetTlsKey without RA-TLS: no quote extension, fresh key", st == 200 and r2["key"] != r["key"] and not any(
        e.oid.dotted_string.startswith("1.3.6.1.4.1.62397") for e in leaf2.extensions))


def test_collateral(workdir, p):
    coll = json.load(open(os.path.join(workdir, "sim-collateral.json")))
    if TESTDATA:
        ref = json.load(open(os.path.join(TESTDATA, "tdx_quote_collateral.json")))
        check("collateral has exactly the keys of testdata's collateral", set(coll) == set(ref), str(set(coll) ^ set(ref)))
        check("collateral value types match testdata's", all(type(coll[k]) is type(ref[k]) for k in ref))
    root = x509.load_pem_x509_certificate(open(os.path.join(workdir, "sim-root.pem"), "rb").read())
    tcb_chain = pem_certs(coll["tcb_info_issuer_chain"].encode())
    check("TCB signing chain: signer + root", len(tcb_chain) == 2 and tcb_chain[1] == root and
          cert_signed_by(tcb_chain[0], root))
    signer = tcb_chain[0].public_key()
    check("tcb_info signature valid", verifies(signer, raw_sig(bytes.fromhex(coll["tcb_info_signature"])),
                                                coll["tcb_info"].encode()))
    check("qe_identity signature valid", verifies(signer, raw_sig(bytes.fromhex(coll["qe_identity_signature"])),
                                                   coll["qe_identity"].encode()))
    pck_chain = pem_certs(coll["pck_crl_issuer_chain"].encode())
    root_crl = x509.load_der_x509_crl(bytes.fromhex(coll["root_ca_crl"]))
    pck_crl = x509.load_der_x509_crl(bytes.fromhex(coll["pck_crl"]))
    check("root CA CRL signed by root", root_crl.is_signature_valid(root.public_key()))
    check("PCK CRL signed by platform CA", pck_crl.is_signature_valid(pck_chain[0].public_key()))
    now = time.time()
    check("CRLs valid now", all(c.next_update.timestamp() > now if hasattr(c.next_update, "timestamp") else True
                                for c in (root_crl, pck_crl)))
    ti = json.loads(coll["tcb_info"])
    qi = json.loads(coll["qe_identity"])
    check("tcb_info id TDX v3, qe_identity TD_QE v2", (ti["id"], ti["version"], qi["id"], qi["version"]) ==
          ("TDX", 3, "TD_QE", 2))
    leaf = pem_certs(p["pck_chain"])[0]
    fmspc = sgx_ext_field(leaf.extensions.get_extension_for_oid(SGX_EXT_OID).value.value, 4)[1]
    check("tcb_info fmspc = PCK FMSPC", ti["fmspc"] == fmspc.hex().upper())
    lvl = ti["tcbLevels"][0]
    check("tcb level UpToDate, tdxtcbcomponents = TEE_TCB_SVN", lvl["tcbStatus"] == "UpToDate" and
          bytes(c["svn"] for c in lvl["tcb"]["tdxtcbcomponents"]) == p["tee_tcb_svn"])
    qer = p["qe_report"]
    check("qe_identity mrsigner / isvprodid / isvsvn match the QE report",
          qi["mrsigner"] == qer[128:160].hex().upper() and qi["isvprodid"] == struct.unpack_from("<H", qer, 256)[0]
          and qi["tcbLevels"][0]["tcb"]["isvsvn"] <= struct.unpack_from("<H", qer, 258)[0])
    nxt = time.mktime(time.strptime(ti["nextUpdate"], "%Y-%m-%dT%H:%M:%SZ"))
    check("collateral valid for years (nextUpdate > now + 5y)", nxt > now + 5 * 365 * 86400, ti["nextUpdate"])


def dcap_qvl(args):
    r = subprocess.run(["node", DCAP_QVL, "verify"] + args, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_dcap_qvl(workdir, q):
    if not os.path.isfile(DCAP_QVL) or not shutil.which("node"):
        check("@phala/dcap-qvl available (npm install in tests/node)", False)
        return
    qf = os.path.join(workdir, "q.bin")
    open(qf, "wb").write(q)
    coll = os.path.join(workdir, "sim-collateral.json")
    der = os.path.join(workdir, "sim-root.der")
    rc, out = dcap_qvl([qf, coll, der])
    check("@phala/dcap-qvl with the sim root + collateral: UpToDate", rc == 0 and "Status: UpToDate" in out, out)
    rc, out = dcap_qvl([qf, coll])
    check("@phala/dcap-qvl with Intel's root: refused", rc != 0, out)
    for off, what in ((48 + 520, "REPORTDATA"), (48 + 136, "MRTD"), (700, "attestation key"), (770 + 100, "QE report")):
        bad = bytearray(q)
        bad[off] ^= 0x01
        bf = os.path.join(workdir, "bad.bin")
        open(bf, "wb").write(bad)
        rc, out = dcap_qvl([bf, coll, der])
        check(f"@phala/dcap-qvl: flipped {what} byte refused", rc != 0, out)
    rc, out = dcap_qvl(["--time", "1700000000", qf, coll, der])
    check("@phala/dcap-qvl: before the collateral window (2023) refused", rc != 0, out)


def test_real_quote_layout():
    """The parser used on the simulator's quotes, applied to Intel-signed quotes: same layout, real signatures."""
    if not TESTDATA:
        check("testdata/tdx found (set PGSEAL_TESTDATA)", False)
        return
    intel_root = x509.load_der_x509_certificate(open(os.path.join(TESTDATA, "intel_sgx_root_ca.der"), "rb").read())
    for name in ("tdx_quote.bin",):  # tdx_quote_outdated.bin is a v5 quote (body type + size before the report)
        q = open(os.path.join(TESTDATA, name), "rb").read()
        p = parse_quote(q)
        check(f"{name}: same v4 layout (lengths consistent)", (p["version"], p["tee_type"], p["cert_type"],
              p["inner_cert_type"]) == (4, 0x81, 6, 5) and 636 + p["sig_len"] == p["end"] <= len(q))
        ak = ec.EllipticCurvePublicNumbers(int.from_bytes(p["att_key"][:32], "big"),
                                           int.from_bytes(p["att_key"][32:], "big"), ec.SECP256R1()).public_key()
        certs = pem_certs(p["pck_chain"])
        check(f"{name}: quote signature, QE report data, QE report signature, chain to Intel's root",
              verifies(ak, raw_sig(p["signature"]), q[:632]) and
              p["qe_report"][320:352] == hashlib.sha256(p["att_key"] + p["qe_auth"]).digest() and
              verifies(certs[0].public_key(), raw_sig(p["qe_report_sig"]), p["qe_report"]) and
              cert_signed_by(certs[0], certs[1]) and cert_signed_by(certs[1], intel_root))
        ext = certs[0].extensions.get_extension_for_oid(SGX_EXT_OID).value.value
        check(f"{name}: SGX extension parsed like the simulator's (FMSPC)", sgx_ext_field(ext, 4)[0] == 4)


def test_replay_sample():
    if not TESTDATA:
        check("testdata/tdx found (set PGSEAL_TESTDATA)", False)
        return
    f = os.path.join(TESTDATA, "dstack_quote_report.json")
    rep = json.load(open(f))
    q = parse_quote(bytes.fromhex(rep["quote"]))
    r = subprocess.run([SIM, "--replay", f], capture_output=True, text=True, timeout=30)
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    check("--replay dstack_quote_report.json: RTMR3 = the quote's RTMR3 (simulator's C code)",
          out.get("rtmr3") == q["rtmr3"].hex() and q["rtmr3"].hex().startswith("0f787c38"), r.stdout + r.stderr)
    check("--replay: dstack runtime digests recomputed equal the log's", out.get("runtime_digests_ok") is True)
    events = json.loads(rep["event_log"])
    check("python replay of the sample also gives RTMR3", replay(events, 3) == q["rtmr3"])
    # A log whose runtime digests were left empty is recomputed, as dstack verifiers do.
    stripped = [dict(e, digest="") if e["imr"] == 3 else e for e in events]
    sf = os.path.join(tempfile.gettempdir(), f"pgseal-sim-stripped-{os.getpid()}.json")
    json.dump(stripped, open(sf, "w"))
    r = subprocess.run([SIM, "--replay", sf], capture_output=True, text=True, timeout=30)
    os.unlink(sf)
    check("--replay recomputes empty runtime digests", r.returncode == 0 and json.loads(r.stdout)["rtmr3"] ==
          q["rtmr3"].hex())
    tampered = [dict(e) for e in events]
    for e in tampered:
        if e["event"] == "compose-hash":
            e["event_payload"] = "00" + e["event_payload"][2:]
    json.dump({"event_log": json.dumps(tampered)}, open(sf, "w"))
    r = subprocess.run([SIM, "--replay", sf], capture_output=True, text=True, timeout=30)
    os.unlink(sf)
    check("--replay flags a payload that does not match its digest", r.returncode == 1)
    r = subprocess.run([SIM, "--replay", "/nonexistent"], capture_output=True, text=True, timeout=30)
    check("--replay of a missing file: exit 2", r.returncode == 2)


def test_bad_requests(sim):
    big = b'{"report_data":"' + b"00" * 200000 + b'"}'
    cases = [
        ("POST", "/GetQuote", b"{not json", 400, "invalid JSON"),
        ("POST", "/GetQuote", b"[1,2]", 400, "JSON array"),
        ("POST", "/GetQuote", b'"str"', 400, "JSON string"),
        ("POST", "/GetQuote", json.dumps({"report_data": "00" * 65}).encode(), 400, "report_data 65 bytes"),
        ("POST", "/GetQuote", json.dumps({"report_data": "zz"}).encode(), 400, "report_data bad hex"),
        ("POST", "/GetQuote", json.dumps({"report_data": "abc"}).encode(), 400, "report_data odd hex"),
        ("POST", "/GetQuote", json.dumps({"report_data": 12}).encode(), 400, "report_data a number"),
        ("POST", "/GetKey", json.dumps({"path": ["x"]}).encode(), 400, "path an array"),
        ("POST", "/GetKey", json.dumps({"path": "x", "algorithm": "rsa"}).encode(), 400, "unknown algorithm"),
        ("POST", "/GetKey", b'{"path":"a","path":"b"}', 400, "duplicate keys"),
        ("POST", "/EmitEvent", json.dumps({"event": "", "payload": ""}).encode(), 400, "empty event name"),
        ("POST", "/prpc/Tappd.TdxQuote", json.dumps({"report_data": "00", "hash_algorithm": "md5"}).encode(),
         400, "unknown hash algorithm"),
        ("POST", "/NoSuchMethod", b"{}", 404, "unknown path"),
        ("POST", "/", b"{}", 404, "root path"),
        ("POST", "/prpc/", b"{}", 404, "bare /prpc/"),
        ("PUT", "/GetKey", b"{}", 405, "PUT"),
        ("DELETE", "/Info", None, 405, "DELETE"),
        ("POST", "/GetQuote", big, 413, "400 kB body"),
        ("POST", "/Attest", b"{}", 501, "Attest not implemented"),
        ("POST", "/GetTlsKey", json.dumps({"alt_names": ["a,b"]}).encode(), 400, "GetTlsKey bad alt name"),
        ("POST", "/GetTlsKey", json.dumps({"usage_ra_tls": "yes"}).encode(), 400, "GetTlsKey bool as string"),
        ("POST", "/GetTlsKey", json.dumps({"not_before": 10, "not_after": 5}).encode(), 400, "GetTlsKey bad window"),
    ]
    for method, path, body, want, what in cases:
        try:
            st, ctype, data = sim.call(method, path, body)
            obj = json.loads(data)
            ok = st == want and ctype == "application/json" and isinstance(obj.get("error"), str)
            check(f"bad request ({what}) -> {want} with a JSON error", ok, f"{st} {data[:200]!r}")
        except Exception as e:
            check(f"bad request ({what}) -> {want} with a JSON error", False, repr(e))
    # Garbage on the socket, and a client that goes away mid-request.
    for raw in (b"GARBAGE\r\n\r\n", b"POST /GetKey HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pa",
                b"\x00\xff" * 100, b"POST /GetKey HTTP/1.1\r\nContent-Length: -5\r\n\r\n"):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(sim.sock)
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            try:
                s.recv(4096)
            except OSError:
                pass
            s.close()
        except OSError:
            pass
    st, _ = sim.rpc("/Info")
    check("simulator still serves after bad requests and garbage", st == 200 and sim.alive())


def test_restart_and_compose(workdir, key):
    """Keys are stable across restarts with the same state, and change with the compose hash."""
    sim = Sim(workdir)
    try:
        st, r = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal"})
        check("key stable across a restart (same state dir)", r["key"] == key)
    finally:
        sim.stop()
    state = os.path.join(workdir, "dstack.sock.d")
    ch = "ab" * 32
    sim = Sim(workdir, compose_hash=ch, state_dir=state)
    try:
        st, r = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal"})
        check("another --compose-hash gives another key", r["key"] != key)
        key2 = r["key"]
        info = test_info(sim, expect_compose=ch)
        q = get_quote(sim, "00")
        ev = {e["event"]: e for e in json.loads(q["event_log"]) if e["imr"] == 3}
        check("compose-hash event carries --compose-hash", ev["compose-hash"]["event_payload"] == ch)
        rtmr3_b = parse_quote(bytes.fromhex(q["quote"]))["rtmr3"]
    finally:
        sim.stop()
    sim = Sim(workdir, compose_hash=ch.upper(), state_dir=state)
    try:
        st, r = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal"})
        check("same --compose-hash (any hex case) after restart gives the same key", r["key"] == key2)
        st, r = sim.rpc("/Info")
        check("app_id independent of the compose hash (as in dstack)", r["app_id"] == info["app_id"])
    finally:
        sim.stop()
    sim = Sim(workdir)
    try:
        q = get_quote(sim, "00")
        check("RTMR3 depends on the compose hash", parse_quote(bytes.fromhex(q["quote"]))["rtmr3"] != rtmr3_b)
    finally:
        sim.stop()
    other = tempfile.mkdtemp(prefix="pgseal-sim-other-")
    sim = Sim(other)
    try:
        st, r = sim.rpc("/GetKey", {"path": "pgseal/sealing", "purpose": "seal"})
        check("another state dir (another secret) gives another key", r["key"] != key)
    finally:
        sim.stop()
        shutil.rmtree(other, ignore_errors=True)
    compose = os.path.join(workdir, "app-compose.json")
    open(compose, "w").write('{"manifest_version":2,"name":"custom","runner":"docker-compose"}')
    sim = Sim(workdir, name="c.sock", state_dir=state, extra=["--app-compose", compose])
    try:
        st, r = sim.rpc("/Info")
        want = hashlib.sha256(open(compose, "rb").read()).hexdigest()
        check("--app-compose: compose_hash = SHA-256(file), app_compose = file", r["compose_hash"] == want and
              json.loads(r["tcb_info"])["app_compose"] == open(compose).read())
    finally:
        sim.stop()
    r = subprocess.run([SIM, "--socket", os.path.join(workdir, "x.sock"), "--app-compose", compose,
                        "--compose-hash", "ab" * 32], capture_output=True, text=True, timeout=30)
    check("--app-compose with --compose-hash refused", r.returncode != 0)
    for bad in ("xyz", "", "ab" * 65):
        r = subprocess.run([SIM, "--socket", os.path.join(workdir, "bad.sock"), "--compose-hash", bad],
                           capture_output=True, text=True, timeout=30)
        check(f"bad --compose-hash {bad[:8]!r} refused at start", r.returncode != 0)
    r = subprocess.run([SIM], capture_output=True, text=True, timeout=30)
    check("no --socket: usage, exit 2", r.returncode == 2 and "usage" in r.stderr)


def test_random_bodies(sim):
    """Seeded mutations of valid requests to every method: always a JSON answer below 500, never a crash."""
    import random
    rnd = random.Random(1234)
    valid = [("/GetKey", {"path": "a/b", "purpose": "p", "algorithm": "ed25519"}),
             ("/GetQuote", {"report_data": "00" * 32}),
             ("/prpc/Tappd.TdxQuote", {"report_data": "0011", "hash_algorithm": "sha256", "prefix": "x"}),
             ("/EmitEvent", {"event": "e", "payload": "00"}),
             ("/Sign", {"algorithm": "secp256k1_prehashed", "data": "11" * 32}),
             ("/Verify", {"algorithm": "secp256k1", "data": "00", "signature": "00" * 64, "public_key": "02" + "11" * 32}),
             ("/GetTlsKey", {"subject": "s", "alt_names": ["a.b", "::1"], "usage_ra_tls": True, "not_after": 4102444800}),
             ("/Info", {})]
    values = [None, True, 0, -1, 2 ** 70, 1.5, "", "zz", "0x", "00" * 65, [], ["a"] * 40, {}, "a" * 300, "\u00e9"]
    bad = []
    for i in range(400):
        path, body = valid[rnd.randrange(len(valid))]
        body = dict(body)
        for _ in range(rnd.randrange(1, 3)):
            key = rnd.choice(list(body) + ["extra"]) if body else "extra"
            body[key] = rnd.choice(values)
        raw = json.dumps(body).encode()
        if rnd.random() < 0.2:
            cut = rnd.randrange(len(raw) + 1)
            raw = raw[:cut] + bytes([rnd.randrange(256)]) + raw[cut + 1:]
        try:
            st, ctype, data = sim.call("POST", path, raw)
            obj = json.loads(data)
            if st >= 500 or not isinstance(obj, dict) or (st >= 400 and "error" not in obj):
                bad.append((path, raw[:80], st))
        except Exception as e:
            bad.append((path, raw[:80], repr(e)))
    check("400 mutated requests: JSON answers below 500, no crash", not bad and sim.alive(), str(bad[:3]))
    st, _ = sim.rpc("/EmitEvent", {"event": "\u00e9v\u00e9nement-\u4e2d", "payload": ""})
    st2, _, data = sim.call("POST", "/Info", b"{}")
    check("non-ASCII event names are answered as ASCII JSON (the SDK counts characters as bytes)",
          st == 200 and st2 == 200 and data.isascii())


def test_concurrent(sim):
    import threading
    errors = []

    def worker(i):
        try:
            for j in range(5):
                st, r = sim.rpc("/GetQuote", {"report_data": "%02x" % i})
                st2, r2 = sim.rpc("/GetKey", {"path": "p%d" % (j % 2)})
                if st != 200 or st2 != 200 or parse_quote(bytes.fromhex(r["quote"]))["report_data"][0] != i:
                    errors.append((st, st2))
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check("16 concurrent clients x 5 GetQuote+GetKey all answered correctly", not errors, str(errors[:3]))


def test_sdk(sim):
    if not shutil.which("node") or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@phala", "dstack-sdk")):
        check("node and tests/node/node_modules (npm install) available", False)
        return None
    r = subprocess.run(["node", os.path.join(HERE, "sdk_test.js"), sim.sock], capture_output=True, text=True,
                       timeout=180)
    key = None
    for line in r.stdout.splitlines():
        if line.startswith("ok - "):
            check(line[5:], True)
        elif line.startswith("not ok - "):
            check(line[9:], False)
        elif line.startswith("SDKKEY "):
            key = line.split()[1]
    check("sdk_test.js exit status 0", r.returncode == 0, r.stderr[-2000:])
    if key:
        st, rr = sim.rpc("/GetKey", {"path": "pgseal/sealing-key", "purpose": "x"})
        check("SDK getKey = raw HTTP GetKey for the same path", rr["key"] == key)
    return key


def main():
    if not os.access(SIM, os.X_OK):
        print(f"not ok - {SIM} not built (run make)")
        print("sim: 0 passed, 1 failed")
        return 1
    workdir = tempfile.mkdtemp(prefix="pgseal-sim-")
    sim = None
    try:
        sim = Sim(workdir)
        test_start_and_files(sim)
        key = test_get_key(sim)
        info = test_info(sim)
        q, p = test_quote(sim, workdir, info)
        test_collateral(workdir, p)
        test_tls_key(sim, workdir)
        test_dcap_qvl(workdir, q)
        test_bad_requests(sim)
        test_random_bodies(sim)
        test_concurrent(sim)
        test_sdk(sim)
        sim.stop()
        check("SIGTERM stops the simulator cleanly", sim.proc.returncode == 0 and not os.path.exists(sim.sock))
        sim = None
        test_replay_sample()
        test_real_quote_layout()
        test_restart_and_compose(workdir, key)
    except Exception:
        check("no exception in the test script", False, traceback.format_exc())
    finally:
        if sim:
            sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"sim: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
