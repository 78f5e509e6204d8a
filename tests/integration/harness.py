# harness.py - test harness: a throwaway PostgreSQL cluster, test certificates, pgseal as a subprocess, raw wire client.
"""Building blocks for the pgseal integration tests (used by conftest.py).

* Certs   - a test CA, server and client certificates made with the openssl CLI.
* Cluster - a PostgreSQL 15 cluster in a temporary directory, run as an unprivileged
            user (CI runs as root and postgres refuses root), ssl=on, test roles.
* PgSeal  - pgseal started as a subprocess with a generated YAML config; its stderr
            goes to a log file; crashes and sanitizer reports are detected.
* Raw     - a minimal PostgreSQL v3 wire client on a plain socket, for bad input,
            exact SQLSTATEs and the startup corner cases libpq cannot produce.

Every wait is bounded.
"""

import base64
import hashlib
import hmac
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# roles created in every cluster: name -> (password, how it is stored, pg_hba method)
PASSWORDS = {
    "trust_user": None,
    "md5_user": "md5-secret-pw",
    "pw_user": "cleartext-secret-pw",
    "scram_user": "scram-secret-pw",
    "pgseal_auth": "auth-secret-pw",
}
DB = "app"


def free_port():
    """A free TCP port on 127.0.0.1 (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=10.0, proc=None):
    """Waits until host:port accepts a TCP connection; False on timeout or if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def run(cmd, timeout=60, check=True, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


# --------------------------------------------------------------------------- certificates

class Certs:
    """Test PKI in DIR: ca (servers), clients-ca (mTLS), other-ca (a stranger), and their certs."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca = self._ca("ca", "pgseal test server CA")
        self.clients_ca = self._ca("clients-ca", "pgseal test clients CA")
        self.other_ca = self._ca("other-ca", "pgseal test other CA")
        self.server = self._leaf("server", "ca", "localhost", server=True)          # PostgreSQL's
        self.proxy = self._leaf("proxy", "ca", "localhost", server=True)            # pgseal's (distinct key)
        self.client = self._leaf("client", "clients-ca", "app-client-1", server=False)
        self.stranger = self._leaf("stranger", "other-ca", "app-client-1", server=False)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        key, crt = self.path(name + ".key"), self.path(name + ".pem")
        if not os.path.exists(crt):
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=" + cn,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return crt

    def _leaf(self, name, ca, cn, server):
        key, csr, crt = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        if os.path.exists(crt):
            return crt
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + cn])
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
            f.write("basicConstraints=CA:FALSE\n")
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.path(ca + ".pem"), "-CAkey", self.path(ca + ".key"),
             "-CAcreateserial", "-out", crt, "-days", "30", "-extfile", ext])
        os.chmod(key, 0o600)
        return crt


# --------------------------------------------------------------------------- PostgreSQL

def _as_pg_user():
    """Command prefix to run PostgreSQL binaries: runuser -u postgres when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"]
    return []


class Cluster:
    """A PostgreSQL 15 cluster in its own temporary directory, ssl=on, on a free loopback port."""

    def __init__(self, base, certs, port=None, max_connections=100, extra_conf=""):
        self.base = base
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "postgres.log")
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.certs = certs
        self.max_connections = max_connections
        self.extra_conf = extra_conf
        self.pre = _as_pg_user()
        self.owner = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self.owner = (pw.pw_uid, pw.pw_gid)

    def _chown(self, path):
        if self.owner:
            os.chown(path, *self.owner)

    def init(self):
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self._chown(self.base)
        # server key/cert copies owned by the cluster user (postgres insists on 0600 + owner)
        for src, dst in ((self.certs.server, "server.pem"), (self.certs.path("server.key"), "server.key"),
                         (self.certs.ca, "ca.pem")):
            d = os.path.join(self.base, dst)
            shutil.copyfile(src, d)
            os.chmod(d, 0o600)
            self._chown(d)
        pwfile = os.path.join(self.base, "pw")
        with open(pwfile, "w") as f:
            f.write("postgres-superuser-pw\n")
        self._chown(pwfile)
        run(self.pre + [PG_BIN + "/initdb", "-D", self.data, "-U", "postgres", "--pwfile", pwfile,
                        "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
        os.unlink(pwfile)
        conf = """
listen_addresses = '127.0.0.1,::1'
port = {port}
unix_socket_directories = '{base}'
max_connections = {maxc}
ssl = on
ssl_cert_file = '{base}/server.pem'
ssl_key_file = '{base}/server.key'
ssl_ca_file = '{base}/ca.pem'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
log_min_messages = warning
# every statement is logged: a value that reached the server is in the log (tests scan it)
log_statement = all
{extra}
""".format(port=self.port, base=self.base, maxc=self.max_connections, extra=self.extra_conf)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(conf)
        hba = ["local all all trust"]
        for net in ("127.0.0.1/32", "::1/128"):
            hba += [
                "host all postgres %s trust" % net,
                "host all trust_user %s trust" % net,
                "host all md5_user %s md5" % net,
                "host all pw_user %s password" % net,
                "host all scram_user %s scram-sha-256" % net,
                "host all pgseal_auth %s scram-sha-256" % net,
                "host all bench %s trust" % net,
                "host all lex_user %s trust" % net,  # test_failclosed_settings: ALTER ROLE ... SET
            ]
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("\n".join(hba) + "\n")

    def start(self, timeout=60):
        run(self.pre + [PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", str(timeout), "start"],
            timeout=timeout + 10)

    def stop(self, mode="fast"):
        run(self.pre + [PG_BIN + "/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"],
            timeout=80, check=False)

    def restart(self):
        self.stop()
        self.start()

    def is_up(self):
        r = subprocess.run(self.pre + [PG_BIN + "/pg_isready", "-h", self.host, "-p", str(self.port), "-t", "2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        return r.returncode == 0

    def psql(self, sql, db="postgres", user="postgres"):
        """Runs SQL directly against the cluster (over its unix socket), returns stdout."""
        return run(self.pre + [PG_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", self.base,
                               "-p", str(self.port), "-U", user, "-d", db, "-c", sql])

    def setup_roles(self):
        p = PASSWORDS
        self.psql("CREATE ROLE trust_user LOGIN")
        self.psql("SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD '%s'" % p["md5_user"])
        self.psql("CREATE ROLE pw_user LOGIN PASSWORD '%s'" % p["pw_user"])
        self.psql("SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_user LOGIN PASSWORD '%s'" % p["scram_user"])
        self.psql("SET password_encryption = 'scram-sha-256'; CREATE ROLE pgseal_auth LOGIN SUPERUSER PASSWORD '%s'"
                  % p["pgseal_auth"])
        self.psql("CREATE DATABASE %s" % DB)
        self.psql("GRANT ALL ON SCHEMA public TO PUBLIC", db=DB)


# --------------------------------------------------------------------------- pgseal

SANITIZER_PATTERNS = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|"
                                r"ThreadSanitizer|==\d+==ERROR")


def yaml_dump(obj, indent=0):
    """A small YAML writer for the config (nested dicts of scalars)."""
    out = []
    pad = "  " * indent
    for k, v in obj.items():
        if isinstance(v, dict):
            out.append("%s%s:" % (pad, k))
            out.append(yaml_dump(v, indent + 1))
        else:
            out.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    return "\n".join(out)


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return '"%s"' % str(v).replace("\\", "\\\\").replace('"', '\\"')


def pgseal_bin():
    b = os.environ.get("PGSEAL_BIN", "build/pgseal")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


class PgSeal:
    """pgseal serve as a subprocess with a generated config in its own directory."""

    def __init__(self, name, workdir, config):
        self.name = name
        self.dir = os.path.join(workdir, "pgseal-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = config
        host, port = config["listen"].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.admin_port = None
        if "admin" in config:
            self.admin_port = int(config["admin"]["listen"].rsplit(":", 1)[1])
        self.conf_path = os.path.join(self.dir, "pgseal.yaml")
        self.log_path = os.path.join(self.dir, "pgseal.log")
        self.proc = None
        self.returncode = None
        self.expected_exit = False

    def start(self, timeout=15.0):
        with open(self.conf_path, "w") as f:
            f.write("# generated by tests/integration/harness.py\n" + yaml_dump(self.config) + "\n")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([pgseal_bin(), "serve", "--config", self.conf_path], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        if not wait_port(self.host, self.port, timeout, self.proc):
            self.kill()
            raise RuntimeError("pgseal %s did not listen on %s:%d within %.0fs\n--- log ---\n%s"
                               % (self.name, self.host, self.port, timeout, self.log_tail()))
        if self.admin_port and not wait_port("127.0.0.1", self.admin_port, timeout, self.proc):
            self.kill()
            raise RuntimeError("pgseal %s: admin port %d not up\n%s" % (self.name, self.admin_port, self.log_tail()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_report(self):
        m = SANITIZER_PATTERNS.search(self.log_text())
        return self.log_tail(80) if m else None

    def crashed(self):
        """A description if the process died unexpectedly, else None."""
        if self.proc is None or self.expected_exit:
            return None
        rc = self.proc.poll()
        if rc is None:
            return None
        return "pgseal %s exited unexpectedly with %d\n--- log ---\n%s" % (self.name, rc, self.log_tail())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20.0):
        """SIGTERM, bounded wait, SIGKILL if needed. Returns the exit code."""
        if self.proc is None:
            return None
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.returncode = self.proc.returncode
        try:
            self.logf.close()
        except Exception:
            pass
        return self.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.expected_exit = True
            self.proc.kill()
            self.proc.wait(10)

    def dsn(self, user="trust_user", dbname=DB, **kw):
        """libpq keyword/value connection string to this pgseal."""
        parts = {"host": "localhost", "port": self.port, "user": user, "dbname": dbname, "connect_timeout": 10}
        if "client_tls" not in self.config:
            parts["sslmode"] = "disable"
        parts.update(kw)
        return " ".join("%s=%s" % (k, _libpq_quote(v)) for k, v in parts.items())


def _libpq_quote(v):
    s = str(v)
    if s and re.fullmatch(r"[A-Za-z0-9_./:@,+-]+", s):
        return s
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --------------------------------------------------------------------------- raw wire client

PROTO_V3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def startup_packet(params, version=PROTO_V3):
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def msg(tag, payload=b""):
    return tag + struct.pack("!I", len(payload) + 4) + payload


def parse_error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


class Raw:
    """A raw connection: send bytes, read whole backend messages, with timeouts."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_byte(self):
        if not self._fill(1):
            return None
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_msg(self):
        """(tag, payload) or None at EOF."""
        if not self._fill(5):
            return None
        tag = self.buf[:1]
        (n,) = struct.unpack("!I", self.buf[1:5])
        if n < 4 or n > 64 * 1024 * 1024:
            raise ValueError("bad backend message length %d" % n)
        if not self._fill(1 + n):
            return None
        payload = self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return tag, payload

    def read_msg_big(self):
        """Like read_msg, for messages up to 1 GiB."""
        if not self._fill(5):
            return None
        (n,) = struct.unpack("!I", self.buf[1:5])
        if n < 4 or n > (1 << 30):
            raise ValueError("bad backend message length %d" % n)
        if not self._fill(1 + n):
            return None
        tag, payload = self.buf[:1], self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return tag, payload

    def read_until(self, tags, limit=1000):
        """Reads messages until one whose tag is in TAGS (or EOF); returns the list read."""
        out = []
        for _ in range(limit):
            m = self.read_msg()
            if m is None:
                break
            out.append(m)
            if m[0] in tags:
                break
        return out

    def closed_or_error(self, timeout=10.0):
        """Waits for the peer to close or send an ErrorResponse; returns (kind, fields/None).

        kind is 'error' (ErrorResponse, fields dict), 'eof', 'reset' or 'timeout'.
        """
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                m = self.read_msg()
                if m is None:
                    return "eof", None
                if m[0] == b"E":
                    return "error", parse_error_fields(m[1])
            return "timeout", None
        except socket.timeout:
            return "timeout", None
        except (ConnectionResetError, BrokenPipeError):
            return "reset", None
        except ValueError:
            return "eof", None

    def startup_trust(self, user="trust_user", database=DB):
        """Completes a trust startup; returns (backend pid, secret key, parameter statuses)."""
        self.send(startup_packet({"user": user, "database": database}))
        pid = key = None
        params = {}
        for tag, payload in self.read_until({b"Z", b"E"}):
            if tag == b"E":
                raise RuntimeError("startup failed: %r" % parse_error_fields(payload))
            if tag == b"K":
                pid, key = struct.unpack("!II", payload)
            if tag == b"S":
                k, v, _ = payload.split(b"\0")
                params[k.decode()] = v.decode()
        return pid, key, params

    def query(self, sql):
        """Simple query; returns (rows as lists of str/None, error fields or None)."""
        self.send(msg(b"Q", sql.encode() + b"\0"))
        rows, err = [], None
        for tag, payload in self.read_until({b"Z"}):
            if tag == b"D":
                (n,) = struct.unpack("!H", payload[:2])
                off, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", payload[off:off + 4])
                    off += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(payload[off:off + ln].decode())
                        off += ln
                rows.append(row)
            elif tag == b"E":
                err = parse_error_fields(payload)
        return rows, err


def scram_client(sock_send, read_msg, user, password, database=DB):
    """SCRAM-SHA-256 (no channel binding, gs2 'n') over a raw connection; returns the final message list.

    Used to read the exact ErrorResponse (SQLSTATE) of a failed SCRAM exchange.
    """
    sock_send(startup_packet({"user": user, "database": database}))
    m = read_msg()
    if m is None or m[0] != b"R":
        return [m]
    (code,) = struct.unpack("!I", m[1][:4])
    if code != 10:
        return [m]
    mechs = [x for x in m[1][4:].split(b"\0") if x]
    assert b"SCRAM-SHA-256" in mechs, mechs
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=,r=" + nonce
    first = ("n,," + first_bare).encode()
    sock_send(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
    m = read_msg()
    if m is None or m[0] != b"R":
        return [m]
    server_first = m[1][4:].decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    iters = int(attrs["i"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_wo_proof = "c=biws,r=" + attrs["r"]
    auth_msg = (first_bare + "," + server_first + "," + final_wo_proof).encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    final = final_wo_proof + ",p=" + base64.b64encode(proof).decode()
    sock_send(msg(b"p", final.encode()))
    out = []
    for _ in range(100):
        m = read_msg()
        out.append(m)
        if m is None or m[0] in (b"E", b"Z"):
            break
    return out


class RawTLS(Raw):
    """Raw connection that negotiates TLS with SSLRequest first."""

    def __init__(self, host, port, cafile, certfile=None, keyfile=None, timeout=10.0, server_hostname="localhost"):
        super().__init__(host, port, timeout)
        self.send(struct.pack("!II", 8, SSL_REQUEST))
        ans = self.sock.recv(1)
        if ans != b"S":
            raise RuntimeError("SSLRequest answered %r" % ans)
        ctx = ssl.create_default_context(cafile=cafile)
        if certfile:
            ctx.load_cert_chain(certfile, keyfile)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
