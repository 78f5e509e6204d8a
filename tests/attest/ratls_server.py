#!/usr/bin/python3
"""ratls_server.py - a stand-in PostgreSQL TLS endpoint for `attest verify --connect` tests.

Answers the SSLRequest with 'S' (or 'N' with --refuse), then completes TLS with the given
certificate and key. Prints the port it listens on (loopback), serves until killed or for
at most --lifetime seconds.
usage: ratls_server.py CERT KEY [--refuse] [--lifetime S]
"""
import argparse
import socket
import ssl
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("cert")
ap.add_argument("key")
ap.add_argument("--refuse", action="store_true")
ap.add_argument("--lifetime", type=int, default=60)
a = ap.parse_args()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
print(srv.getsockname()[1], flush=True)
deadline = time.time() + a.lifetime
srv.settimeout(1.0)
while time.time() < deadline:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    c.settimeout(5)
    try:
        req = c.recv(8)
        if req != b"\x00\x00\x00\x08\x04\xd2\x16\x2f":
            c.close()
            continue
        if a.refuse:
            c.sendall(b"N")
            c.close()
            continue
        c.sendall(b"S")
        t = ctx.wrap_socket(c, server_side=True)
        try:
            t.recv(1)
        except (ssl.SSLError, OSError):
            pass
        t.close()
    except (ssl.SSLError, OSError) as e:
        print("server: %s" % e, file=sys.stderr, flush=True)
        c.close()
