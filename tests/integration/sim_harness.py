# sim_harness.py - pgseal-dstack-sim as a subprocess for the integration tests, and small RA-TLS helpers.
"""The dstack simulator (docs/simulator.md) on a unix socket in its own directory, where it
also writes sim-root.pem / sim-collateral.json; plus helpers to read pgseal's served
certificate and the admin API. Every wait is bounded."""

import hashlib
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.error
import urllib.request

import harness

RATLS_LABEL = b"pgseal-ra-tls-v1"


def sim_bin():
    b = os.environ.get("PGSEAL_SIM")
    if b:
        return b if os.path.isabs(b) else os.path.join(harness.REPO, b)
    return os.path.join(os.path.dirname(harness.pgseal_bin()), "pgseal-dstack-sim")


class Sim:
    """build/pgseal-dstack-sim --socket DIR/dstack.sock (state in DIR/dstack.sock.d)."""

    def __init__(self, directory, args=()):
        self.dir = directory
        self.args = list(args)  # e.g. ["--compose-hash", HEX]
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o700)
        self.socket = os.path.join(directory, "dstack.sock")
        self.root_pem = os.path.join(directory, "sim-root.pem")
        self.collateral = os.path.join(directory, "sim-collateral.json")
        self.log_path = os.path.join(directory, "sim.log")
        self.proc = None

    def start(self, timeout=15.0):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sim_bin(), "--socket", self.socket] + self.args, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.socket) and os.path.exists(self.collateral):
                return self
            time.sleep(0.05)
        self.stop()
        with open(self.log_path, "rb") as f:
            raise RuntimeError("pgseal-dstack-sim did not start\n" + f.read().decode(errors="replace"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:
            self.logf.close()
        except Exception:
            pass

    def call(self, method, body=None):
        """POST /Method over the unix socket; returns the decoded JSON answer."""
        data = json.dumps(body or {}).encode()
        req = ("POST /%s HTTP/1.1\r\nHost: dstack\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, len(data))).encode() + data
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(self.socket)
            s.sendall(req)
            resp = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
        head, _, body = resp.partition(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        return json.loads(body)


def served_cert_der(host, port, timeout=10.0):
    """The certificate pgseal presents after the PostgreSQL SSLRequest (no verification)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack("!II", 8, harness.SSL_REQUEST))
        assert s.recv(1) == b"S"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def http_get(port, path, token=None, timeout=10.0):
    """(status, body bytes) of GET http://127.0.0.1:PORT/PATH."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ratls_binding(spki_der):
    """report_data = SHA-512("pgseal-ra-tls-v1" || SubjectPublicKeyInfo DER)."""
    return hashlib.sha512(RATLS_LABEL + spki_der).digest()


def quote_report_data(quote):
    """REPORTDATA of a TDX v4 quote (header 48 bytes + TD report offset 520)."""
    assert quote[:2] == b"\x04\x00", quote[:2].hex()
    return quote[568:632]
