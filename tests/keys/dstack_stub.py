#!/usr/bin/python3
"""dstack_stub.py - a tiny dstack guest-agent stand-in on a unix socket, for pgseal's key tests.

Usage: dstack_stub.py SOCKET [--compose-hash HEX] [--log FILE]
Serves POST (or GET) /GetKey, /GetQuote, /Info with the guest agent's JSON shapes.
Keys derive from a fixed secret, the compose hash and the request path, so another
compose hash yields another key. Each request is appended to --log as one JSON line
({"method", "path", "content_type", "body"}) so tests can check what pgseal sent.
Not the simulator (src/sim/): only enough to test the client.
"""
import hashlib
import http.server
import json
import os
import socketserver
import sys
import urllib.parse


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def make_handler(compose_hash, log_path):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def address_string(self):
            return "unix"

        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self, method):
            url = urllib.parse.urlparse(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                req = json.loads(raw) if raw else {}
            except ValueError:
                return self.reply(400, {"error": "bad json"})
            for k, v in urllib.parse.parse_qs(url.query).items():
                req[k] = v[0]
            if log_path:
                with open(log_path, "a") as f:
                    f.write(json.dumps({"method": method, "path": url.path,
                                        "content_type": self.headers.get("Content-Type"),
                                        "body": req}) + "\n")
            name = url.path.rsplit("/", 1)[-1]
            if name == "GetKey":
                seed = b"stub-secret|" + compose_hash.encode() + b"|" + req.get("path", "").encode()
                key = hashlib.sha256(seed + b"|" + req.get("purpose", "").encode()).hexdigest()
                return self.reply(200, {"key": key, "signature_chain": [
                    hashlib.sha256(b"sig1" + seed).hexdigest() * 2,
                    hashlib.sha256(b"sig2" + seed).hexdigest() * 2]})
            if name == "GetQuote":
                rd = req.get("report_data", "")
                if len(rd) > 128:
                    return self.reply(400, {"error": "report data too long"})
                rd = rd.ljust(128, "0")
                quote = "0400020081000000" + "00" * 40 + rd
                return self.reply(200, {"quote": quote,
                                        "event_log": json.dumps([{"imr": 3, "event": "compose-hash",
                                                                  "event_payload": compose_hash}]),
                                        "report_data": rd,
                                        "vm_config": json.dumps({"cpu_count": 2})})
            if name == "Info":
                return self.reply(200, {
                    "app_id": "ab" * 20, "instance_id": "cd" * 20, "app_cert": "",
                    "tcb_info": json.dumps({"mrtd": "00" * 48, "compose_hash": compose_hash}),
                    "app_name": "pgseal-test", "device_id": "ef" * 32,
                    "mr_aggregated": "11" * 32, "os_image_hash": "22" * 32,
                    "key_provider_info": json.dumps({"name": "stub"}),
                    "compose_hash": compose_hash, "vm_config": "{}"})
            return self.reply(404, {"error": "no such method"})

        def do_POST(self):
            self.handle_any("POST")

        def do_GET(self):
            self.handle_any("GET")

    return Handler


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: dstack_stub.py SOCKET [--compose-hash HEX] [--log FILE]")
    sock = args[0]
    compose = "00" * 32
    log_path = None
    i = 1
    while i < len(args):
        if args[i] == "--compose-hash":
            compose = args[i + 1]
            i += 2
        elif args[i] == "--log":
            log_path = args[i + 1]
            i += 2
        else:
            sys.exit("unknown argument " + args[i])
    if os.path.exists(sock):
        os.unlink(sock)
    srv = Server(sock, make_handler(compose, log_path))
    print("ready", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
