#!/usr/bin/env python3
"""poc_sign.py - Proof of Cloud trust-server stand-in for the tests: keys and signed tokens.

usage: poc_sign.py keygen DIR
         writes DIR/{ed,ec,rsa,ed2}.key (PKCS#8 PEM) and .pem (public), DIR/ed.hex (raw Ed25519)
       poc_sign.py sign KEY KID QUOTE_FILE PPID_HEX [--alg A] [--iat N] [--exp N]
                        [--quote-hash HEX] [--machine-id HEX] [--json]
         prints a compact JWS as the trust server's /get_jwt would (PyJWT signs: an
         implementation independent of pgseal's); --json wraps it in the /get_jwt answer
       poc_sign.py hs256 PEM KID QUOTE_FILE PPID_HEX
         an HS256 token whose HMAC secret is the public key's PEM text (alg confusion)
       poc_sign.py none KID QUOTE_FILE PPID_HEX
         an unsigned token (alg none, empty signature)
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys

import jwt
from cryptography.hazmat.primitives import serialization as S
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(quote_file, ppid_hex, iat, exp=None, qh=None, mid=None):
    c = {
        "quote_hash": qh or hashlib.sha256(open(quote_file, "rb").read()).hexdigest(),
        "machine_id": mid or hashlib.sha256(bytes.fromhex(ppid_hex)).hexdigest(),
        "label": "test machine",
        "iat": iat,
    }
    if exp is not None:
        c["exp"] = exp
    return c


def keygen(d):
    os.makedirs(d, exist_ok=True)
    keys = {
        "ed": ed25519.Ed25519PrivateKey.generate(),
        "ed2": ed25519.Ed25519PrivateKey.generate(),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    for n, k in keys.items():
        open(f"{d}/{n}.key", "wb").write(
            k.private_bytes(S.Encoding.PEM, S.PrivateFormat.PKCS8, S.NoEncryption()))
        open(f"{d}/{n}.pem", "wb").write(
            k.public_key().public_bytes(S.Encoding.PEM, S.PublicFormat.SubjectPublicKeyInfo))
    raw = keys["ed"].public_key().public_bytes(S.Encoding.Raw, S.PublicFormat.Raw)
    open(f"{d}/ed.hex", "w").write(raw.hex())


def main():
    cmd = sys.argv[1]
    if cmd == "keygen":
        keygen(sys.argv[2])
        return
    if cmd == "hs256":
        pem, kid, qf, ppid = sys.argv[2:6]
        h = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        p = b64u(json.dumps(claims(qf, ppid, 1751000000)).encode())
        mac = hmac.new(open(pem, "rb").read(), f"{h}.{p}".encode(), "sha256").digest()
        print(f"{h}.{p}.{b64u(mac)}")
        return
    if cmd == "none":
        kid, qf, ppid = sys.argv[2:5]
        h = b64u(json.dumps({"alg": "none", "kid": kid}).encode())
        print(f"{h}.{b64u(json.dumps(claims(qf, ppid, 1751000000)).encode())}.")
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("key")
    ap.add_argument("kid")
    ap.add_argument("quote")
    ap.add_argument("ppid")
    ap.add_argument("--alg")
    ap.add_argument("--iat", type=int, default=1751000000 - 60)
    ap.add_argument("--exp", type=int)
    ap.add_argument("--quote-hash")
    ap.add_argument("--machine-id")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(sys.argv[2:])
    key = S.load_pem_private_key(open(a.key, "rb").read(), None)
    alg = a.alg or ("EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey)
                    else "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    c = claims(a.quote, a.ppid, a.iat, a.exp, a.quote_hash, a.machine_id)
    tok = jwt.encode(c, key, algorithm=alg, headers={"kid": a.kid})
    if a.json:
        print(json.dumps({"machineId": c["machine_id"][:16], "label": c["label"], "jwt": tok}))
    else:
        print(tok)


if __name__ == "__main__":
    main()
