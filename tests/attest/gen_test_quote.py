#!/usr/bin/python3
"""gen_test_quote.py - makes a TDX v4 quote signed by a throw-away test PKI, with matching collateral.

It builds exactly what `pgseal attest verify --root-ca ROOT --collateral COLL` expects from a
non-Intel signer (the dstack simulator uses the same shape): a root CA, a PCK CA and a PCK
leaf certificate carrying Intel's SGX extension, a TCB signing certificate, two CRLs, a QE
report signed by the PCK key, an attestation key signing the quote, and TCB Info / QE
Identity documents signed by the TCB signing key.

usage: gen_test_quote.py OUTDIR [--report-data HEX | --ratls] [--rtmr3 HEX] [--revoke pck|pckca] [--debug] [--now UNIX]
  writes OUTDIR/{quote.bin,collateral.json,root.pem,root.der}; with --ratls also an RA-TLS
  server certificate OUTDIR/{ratls.pem,ratls.key} whose quote binds its key, and
  OUTDIR/{other.pem,other.key}: a certificate carrying the same quote but another key.
"""
import argparse
import datetime
import hashlib
import json
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

QE_VENDOR = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
FMSPC = bytes.fromhex("00906ed50000")
QE_MRSIGNER = bytes(range(32))
RATLS_QUOTE_OID = "1.3.6.1.4.1.62397.1.1"
RATLS_LOG_OID = "1.3.6.1.4.1.62397.1.2"


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, out)


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")
    return tlv(0x02, b)


SGX = "1.2.840.113741.1.13.1"


def sgx_extension(ppid, comps, pcesvn, cpusvn, pceid, fmspc):
    tcb = b"".join(tlv(0x30, oid(f"{SGX}.2.{i + 1}") + der_int(c)) for i, c in enumerate(comps))
    tcb += tlv(0x30, oid(f"{SGX}.2.17") + der_int(pcesvn))
    tcb += tlv(0x30, oid(f"{SGX}.2.18") + tlv(0x04, cpusvn))
    body = tlv(0x30, oid(f"{SGX}.1") + tlv(0x04, ppid))
    body += tlv(0x30, oid(f"{SGX}.2") + tlv(0x30, tcb))
    body += tlv(0x30, oid(f"{SGX}.3") + tlv(0x04, pceid))
    body += tlv(0x30, oid(f"{SGX}.4") + tlv(0x04, fmspc))
    body += tlv(0x30, oid(f"{SGX}.5") + tlv(0x0A, b"\x00"))
    return tlv(0x30, body)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pgseal test")])


def cert(subject, key, issuer, issuer_key, ca, t0, exts=()):
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(t0 - datetime.timedelta(days=1))
         .not_valid_after(t0 + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False))
    for e in exts:
        b = b.add_extension(e, critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def crl(issuer, issuer_key, t0, revoked=()):
    b = (x509.CertificateRevocationListBuilder().issuer_name(name(issuer))
         .last_update(t0 - datetime.timedelta(days=1))
         .next_update(t0 + datetime.timedelta(days=3650))
         .add_extension(x509.CRLNumber(1), critical=False))
    for c in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(c.serial_number)
                                      .revocation_date(t0 - datetime.timedelta(hours=1)).build())
    return b.sign(issuer_key, hashes.SHA256())


def raw_sig(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM).decode()


def raw_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)[1:]


def spki_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(report_data, debug, t0, rtmr3=bytes(48), revoke=None):
    root_k, pckca_k, pck_k, tcb_k, att_k = (ec.generate_private_key(ec.SECP256R1()) for _ in range(5))
    root = cert("pgseal test SGX Root CA", root_k, "pgseal test SGX Root CA", root_k, True, t0)
    pckca = cert("pgseal test SGX PCK Platform CA", pckca_k, "pgseal test SGX Root CA", root_k, True, t0)
    comps = [2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX), sgx_extension(
        bytes.fromhex("00112233445566778899aabbccddeeff"), comps, 11, bytes(comps),
        b"\x00\x00", FMSPC))
    pck = cert("pgseal test SGX PCK Certificate", pck_k, "pgseal test SGX PCK Platform CA", pckca_k,
               False, t0, [ext])
    tcbsign = cert("pgseal test SGX TCB Signing", tcb_k, "pgseal test SGX Root CA", root_k, False, t0)

    # TD report 1.0 (584 bytes)
    tee_tcb_svn = bytes([3, 1, 2]) + bytes(13)  # module ISVSVN 3, module version 1 (TDX_01)
    td_attr = (1 if debug else 0) | (1 << 28)
    td = (tee_tcb_svn + bytes.fromhex("11" * 48) + bytes(48) + bytes(8) + struct.pack("<Q", td_attr)
          + bytes.fromhex("e702060000000000") + hashlib.sha384(b"mrtd").digest() + bytes(48 * 3)
          + b"".join(hashlib.sha384(b"rtmr%d" % i).digest() for i in range(3)) + rtmr3
          + report_data)
    assert len(td) == 584
    header = struct.pack("<HHIHH", 4, 2, 0x81, 0, 11) + QE_VENDOR + bytes(20)
    auth = hashlib.sha256(b"qe auth").digest()
    att_pub = raw_pub(att_k)
    qe = bytearray(384)
    qe[48] = 0x11                                   # attributes
    qe[128:160] = QE_MRSIGNER
    qe[256:258] = struct.pack("<H", 2)              # ISVPRODID
    qe[258:260] = struct.pack("<H", 4)              # ISVSVN
    qe[320:352] = hashlib.sha256(att_pub + auth).digest()
    qe = bytes(qe)
    chain = (pem(pck) + pem(pckca) + pem(root)).encode() + b"\0"
    cert_data = (qe + raw_sig(pck_k, qe) + struct.pack("<H", len(auth)) + auth
                 + struct.pack("<HI", 5, len(chain)) + chain)
    signed = header + td
    sig_data = raw_sig(att_k, signed) + att_pub + struct.pack("<HI", 6, len(cert_data)) + cert_data
    quote = signed + struct.pack("<I", len(sig_data)) + sig_data

    issue, nxt = t0 - datetime.timedelta(days=1), t0 + datetime.timedelta(days=30)
    comp = lambda svns: [{"svn": v} for v in svns]
    tcb_info = json.dumps({
        "id": "TDX", "version": 3, "issueDate": iso(issue), "nextUpdate": iso(nxt),
        "fmspc": FMSPC.hex().upper(), "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
        "tdxModule": {"mrsigner": "00" * 48, "attributes": "00" * 8, "attributesMask": "FF" * 8},
        "tdxModuleIdentities": [{"id": "TDX_01", "mrsigner": "00" * 48, "attributes": "00" * 8,
                                 "attributesMask": "FF" * 8, "tcbLevels": [
                                     {"tcb": {"isvsvn": 3}, "tcbDate": "2024-03-13T00:00:00Z",
                                      "tcbStatus": "UpToDate"}]}],
        "tcbLevels": [{"tcb": {"sgxtcbcomponents": comp(comps), "pcesvn": 11,
                               "tdxtcbcomponents": comp([3, 1, 2] + [0] * 13)},
                       "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"}]},
        separators=(",", ":"))
    qe_identity = json.dumps({
        "id": "TD_QE", "version": 2, "issueDate": iso(issue), "nextUpdate": iso(nxt),
        "tcbEvaluationDataNumber": 17, "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
        "attributes": "11000000000000000000000000000000",
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": QE_MRSIGNER.hex().upper(), "isvprodid": 2,
        "tcbLevels": [{"tcb": {"isvsvn": 4}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"}]},
        separators=(",", ":"))
    collateral = {
        "pck_crl_issuer_chain": pem(pckca) + pem(root),
        "root_ca_crl": crl("pgseal test SGX Root CA", root_k, t0,
                           [pckca] if revoke == "pckca" else []).public_bytes(serialization.Encoding.DER).hex(),
        "pck_crl": crl("pgseal test SGX PCK Platform CA", pckca_k, t0,
                       [pck] if revoke == "pck" else []).public_bytes(serialization.Encoding.DER).hex(),
        "tcb_info_issuer_chain": pem(tcbsign) + pem(root),
        "tcb_info": tcb_info,
        "tcb_info_signature": raw_sig(tcb_k, tcb_info.encode()).hex(),
        "qe_identity_issuer_chain": pem(tcbsign) + pem(root),
        "qe_identity": qe_identity,
        "qe_identity_signature": raw_sig(tcb_k, qe_identity.encode()).hex(),
    }
    return quote, collateral, root


def ratls_cert(key, quote, event_log, t0):
    octet = lambda b: tlv(0x04, b)
    exts = [x509.UnrecognizedExtension(x509.ObjectIdentifier(RATLS_QUOTE_OID), octet(quote))]
    if event_log is not None:
        exts.append(x509.UnrecognizedExtension(x509.ObjectIdentifier(RATLS_LOG_OID), octet(event_log)))
    b = (x509.CertificateBuilder().subject_name(name("pgseal")).issuer_name(name("pgseal"))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(t0 - datetime.timedelta(days=1))
         .not_valid_after(t0 + datetime.timedelta(days=30)))
    for e in exts:
        b = b.add_extension(e, critical=False)
    return b.sign(key, hashes.SHA256())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--report-data", default="00" * 64)
    ap.add_argument("--ratls", action="store_true")
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--revoke", choices=["pck", "pckca"], help="list the PCK (or its CA) in the CRL")
    ap.add_argument("--rtmr3", default="00" * 48, help="RTMR3 value (hex), e.g. a replayed event log")
    ap.add_argument("--now", type=int, default=None)
    a = ap.parse_args()
    t0 = (datetime.datetime.utcfromtimestamp(a.now) if a.now else datetime.datetime.utcnow()).replace(microsecond=0)
    os.makedirs(a.outdir, exist_ok=True)
    out = lambda n: os.path.join(a.outdir, n)
    report_data = bytes.fromhex(a.report_data)
    tls_key = ec.generate_private_key(ec.SECP256R1())
    if a.ratls:
        report_data = hashlib.sha512(b"pgseal-ra-tls-v1" + spki_der(tls_key)).digest()
    quote, collateral, root = build(report_data, a.debug, t0, bytes.fromhex(a.rtmr3), a.revoke)
    open(out("quote.bin"), "wb").write(quote)
    open(out("collateral.json"), "w").write(json.dumps(collateral, indent=1))
    open(out("root.pem"), "w").write(pem(root))
    open(out("root.der"), "wb").write(root.public_bytes(serialization.Encoding.DER))
    if a.ratls:
        keypem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        open(out("ratls.pem"), "w").write(pem(ratls_cert(tls_key, quote, b"[]", t0)))
        open(out("ratls.key"), "wb").write(keypem(tls_key))
        other = ec.generate_private_key(ec.SECP256R1())
        open(out("other.pem"), "w").write(pem(ratls_cert(other, quote, None, t0)))
        open(out("other.key"), "wb").write(keypem(other))


if __name__ == "__main__":
    main()
