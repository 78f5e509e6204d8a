# conftest.py - pytest fixtures: one PostgreSQL cluster per session, pgseal instances with generated configs.
import os
import shutil
import tempfile

import pytest

import harness
from harness import Certs, Cluster, PgSeal, free_port

ADMIN_TOKEN = "test-admin-token-6f1c2b"


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="pgseal-it-")
    os.chmod(d, 0o755)
    yield d
    if os.environ.get("PGSEAL_KEEP"):
        print("\nintegration: kept %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def certs(workdir):
    return Certs(os.path.join(workdir, "certs"))


@pytest.fixture(scope="session")
def pg(workdir, certs):
    """The upstream PostgreSQL: ssl=on with a cert for localhost, roles for every auth method."""
    c = Cluster(os.path.join(workdir, "pg"), certs)
    c.init()
    c.start()
    try:
        c.setup_roles()
        yield c
    finally:
        c.stop("immediate")


class Factory:
    """Starts pgseal instances and remembers them for crash checks and teardown."""

    def __init__(self, workdir, certs, pg):
        self.workdir, self.certs, self.pg = workdir, certs, pg
        self.instances = []
        self.token_file = os.path.join(workdir, "admin.token")
        with open(self.token_file, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        os.chmod(self.token_file, 0o600)
        self.auth_pass = os.path.join(workdir, "auth.pass")
        with open(self.auth_pass, "w") as f:
            f.write(harness.PASSWORDS["pgseal_auth"] + "\n")
        os.chmod(self.auth_pass, 0o600)

    def config(self, client_tls=False, mtls=False, auth=False, admin=True, upstream_tls="verify-full", **over):
        cfg = {
            "listen": "127.0.0.1:%d" % free_port(),
            "workers": 2,
            "max_client_connections": 10000,
            "startup_timeout_ms": 10000,
            "shutdown_timeout_ms": 5000,
            "upstream": {"host": "localhost", "port": self.pg.port, "tls": upstream_tls},
            "log": {"level": "info", "format": "text"},
        }
        if upstream_tls in ("verify-ca", "verify-full"):
            cfg["upstream"]["ca_file"] = self.certs.ca
        if client_tls or mtls:
            cfg["client_tls"] = {"cert_file": self.certs.proxy, "key_file": self.certs.path("proxy.key"),
                                 "require": True}
            if mtls:
                cfg["client_tls"]["ca_file"] = self.certs.clients_ca
        if admin:
            cfg["admin"] = {"listen": "127.0.0.1:%d" % free_port(), "token_file": self.token_file}
        if auth:
            cfg["auth"] = {"user": "pgseal_auth", "password_file": self.auth_pass}
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        return cfg

    def start(self, name, **kw):
        p = PgSeal("%s-%d" % (name, len(self.instances)), self.workdir, self.config(**kw))
        self.instances.append(p)
        return p.start()

    def start_cfg(self, name, cfg):
        p = PgSeal("%s-%d" % (name, len(self.instances)), self.workdir, cfg)
        self.instances.append(p)
        return p.start()

    def crashes(self):
        return [c for c in (p.crashed() for p in self.instances) if c]


@pytest.fixture(scope="session")
def factory(workdir, certs, pg):
    f = Factory(workdir, certs, pg)
    yield f
    problems = []
    for p in f.instances:
        crash = p.crashed()
        if crash:
            problems.append(crash)
        rc = p.stop()
        if rc not in (0, None) and not crash and p.returncode != -9:
            problems.append("pgseal %s exited %s on SIGTERM\n%s" % (p.name, rc, p.log_tail()))
        rep = p.sanitizer_report()
        if rep:
            problems.append("sanitizer report from pgseal %s:\n%s" % (p.name, rep))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _no_crash(request):
    """After every test: fail it if any pgseal started so far has died unexpectedly."""
    yield
    if "factory" in request.fixturenames:
        f = request.getfixturevalue("factory")
        bad = f.crashes()
        if bad:
            for p in f.instances:
                p.expected_exit = True  # report once
            pytest.fail("\n\n".join(bad), pytrace=False)


@pytest.fixture(scope="session")
def plain(factory):
    """pgseal with plaintext clients and upstream TLS verify-full, auth relayed, admin on."""
    return factory.start("plain")


@pytest.fixture(scope="session")
def tls(factory):
    """pgseal with client TLS required, upstream verify-full and the auth: block (SCRAM on both hops)."""
    return factory.start("tls", client_tls=True, auth=True)


@pytest.fixture
def tls_kw(certs):
    return {"sslmode": "verify-full", "sslrootcert": certs.ca}
