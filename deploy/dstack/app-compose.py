#!/usr/bin/env python3
"""app-compose.py - writes deploy/dstack/app-compose.json from docker-compose.yml in dstack's normalised form.

dstack measures the SHA-256 of app-compose.json's bytes (the compose hash, RTMR3). The file
is written the way dstack's SDKs serialise an AppCompose (sorted keys, compact, UTF-8 not
escaped: json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)), so that
Phala Cloud's tools, which normalise before uploading, measure the same bytes.
`pgseal deploy normalize` gives the same bytes (tests/integration/test_deploy.py checks it).

  python3 deploy/dstack/app-compose.py                       # after editing docker-compose.yml
  python3 deploy/dstack/app-compose.py --image REF@sha256:D  # pin the image `make image` built
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PLACEHOLDER = "sha256:" + "0" * 64
IMAGE_RE = re.compile(r"^(\s*image:\s*)\S*pgseal@sha256:[0-9a-f]{64}\s*$", re.M)


def app_compose(compose_text):
    return {
        "manifest_version": 2,
        "name": "pgseal",
        "runner": "docker-compose",
        "docker_compose_file": compose_text,
        "kms_enabled": True,          # keys from dstack's KMS, bound to the app id
        "gateway_enabled": True,      # dstack-gateway: the demo page, /attestation
        "public_logs": False,         # pgseal never logs values, but logs stay private
        "public_sysinfo": True,
        "public_tcbinfo": True,       # lets anyone read the event log and compose (verification)
        "local_key_provider_enabled": False,
        "key_provider": "kms",
        "key_provider_id": "",
        "no_instance_id": False,
        "secure_time": True,
        "allowed_envs": ["PGSEAL_ADMIN_TOKEN", "POSTGRES_PASSWORD", "PGSEAL_DEMO_PGPASS"],
    }


def normalised(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", help="pgseal image pinned by digest: REF@sha256:<64 hex>")
    ap.add_argument("--compose", default=os.path.join(HERE, "docker-compose.yml"))
    ap.add_argument("--out", default=os.path.join(HERE, "app-compose.json"))
    a = ap.parse_args()
    with open(a.compose, encoding="utf-8") as f:
        text = f.read()
    if a.image:
        if not re.fullmatch(r"[A-Za-z0-9./:_-]+@sha256:[0-9a-f]{64}", a.image):
            sys.exit("app-compose.py: --image must be REF@sha256:<64 lower-case hex>")
        text, n = IMAGE_RE.subn(lambda m: m.group(1) + a.image, text)
        if n == 0:
            sys.exit("app-compose.py: no pgseal image line to pin in " + a.compose)
        with open(a.compose, "w", encoding="utf-8") as f:
            f.write(text)
    data = normalised(app_compose(text)).encode("utf-8")
    with open(a.out, "wb") as f:   # no trailing newline: these bytes are what is measured
        f.write(data)
    if PLACEHOLDER in text:
        print("app-compose.py: note: the pgseal image still has the placeholder digest", file=sys.stderr)


if __name__ == "__main__":
    main()
