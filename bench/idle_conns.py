#!/usr/bin/python3
# idle_conns.py - opens N PostgreSQL sessions (startup completed, trust auth) to HOST:PORT and holds them idle.
#
# usage: idle_conns.py HOST PORT USER DB N
# Prints "ready K" once K sessions are up (K < N if some failed; the first error goes to stderr),
# then holds them until stdin is closed. Used by bench/bench.sh to measure RSS per idle connection.
import socket
import struct
import sys
import time


def startup(host, port, user, db):
    s = socket.create_connection((host, port), timeout=30)
    body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
    s.sendall(struct.pack("!I", len(body) + 4) + body)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed during startup")
        buf += chunk
        while len(buf) >= 5:
            tag = buf[:1]
            (n,) = struct.unpack("!I", buf[1:5])
            if len(buf) < 1 + n:
                break
            payload, buf = buf[5:1 + n], buf[1 + n:]
            if tag == b"E":
                raise OSError("startup error: " + payload.replace(b"\0", b" ").decode(errors="replace"))
            if tag == b"Z":
                return s


def main():
    host, port, user, db, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    socks, err = [], None
    t0 = time.monotonic()
    for _ in range(n):
        try:
            socks.append(startup(host, port, user, db))
        except OSError as e:
            err = e
            break
    if err:
        print("idle_conns: stopped after %d sessions: %s" % (len(socks), err), file=sys.stderr)
    print("ready %d %.1f" % (len(socks), time.monotonic() - t0), flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
