# test_io_engine.py - both event engines (io_uring, epoll) with plaintext on both hops: the relay, pool, bad-input and upstream-failure tests again, the engine in the log, io_uring refused by the kernel.
"""
The other modules run pgseal with its defaults: io_engine auto (io_uring on these
machines) and TLS to PostgreSQL, so only the client's socket is on the ring. Here both
sockets are plaintext, so both are on the ring (io_uring) or both on epoll (epoll), and
the tests that exercise the relay's byte moving are collected again against each.
"""
import inspect
import os

import psycopg
import pytest

import harness
import test_badinput
import test_lifecycle
import test_pool
import test_relay

ENGINES = ["io_uring", "epoll"]
FIXTURES = {"plain", "unpooled", "pooled", "proxy"}


def _borrow(module):
    """The module's tests that run against one of the fixtures overridden below."""
    for name, fn in vars(module).items():
        if name.startswith("test_") and callable(fn) and FIXTURES & set(inspect.signature(fn).parameters):
            globals()[name] = fn


for _m in (test_relay, test_pool, test_badinput, test_lifecycle):
    _borrow(_m)
# the bad-input tests reach pgseal through their module's `proxy` fixture
proxy = test_badinput.proxy


@pytest.fixture(scope="module", params=ENGINES)
def engine(request):
    return request.param


def _start(factory, name, engine, **kw):
    return factory.start("%s-%s" % (name, engine), upstream_tls="disable", io_engine=engine, **kw)


@pytest.fixture(scope="module")
def plain(factory, engine):
    return _start(factory, "plain", engine)


@pytest.fixture(scope="module")
def unpooled(factory, engine):
    return _start(factory, "unpooled", engine, upstream={"pool_max_idle": 0})


@pytest.fixture(scope="module")
def pooled(factory, engine):
    return _start(factory, "pooled", engine, workers=2)


def test_engine_named_in_log(plain, engine):
    with psycopg.connect(plain.dsn(), autocommit=True) as c:
        assert c.execute("select 1").fetchone() == (1,)
    assert "workers, %s)" % engine in plain.log_text()


IO_URING_SWITCH = "/proc/sys/kernel/io_uring_disabled"


@pytest.fixture
def io_uring_disabled():
    """The kernel's io_uring switched off for new rings (root only), then restored."""
    if not os.path.exists(IO_URING_SWITCH) or not os.access(IO_URING_SWITCH, os.W_OK):
        pytest.skip("needs root and a kernel with %s (6.6+)" % IO_URING_SWITCH)
    with open(IO_URING_SWITCH) as f:
        old = f.read().strip()
    with open(IO_URING_SWITCH, "w") as f:
        f.write("2\n")
    try:
        yield
    finally:
        with open(IO_URING_SWITCH, "w") as f:
            f.write(old + "\n")


def test_io_uring_refused_by_the_kernel(factory, io_uring_disabled, tmp_path, pg):
    # asked for by name: pgseal does not start, and says why
    rc, out, _ = test_lifecycle._serve(harness.yaml_dump(factory.config(upstream_tls="disable", io_engine="io_uring"))
                                       + "\n", tmp_path)
    assert rc != 0, out
    assert "io_engine: io_uring: the kernel refuses it" in out
    # auto: epoll, said once at start, and the relay works
    q = factory.start("uring-auto-off", upstream_tls="disable")
    with psycopg.connect(q.dsn(), autocommit=True) as c:
        assert c.execute("select repeat('x', 100000)").fetchone()[0] == "x" * 100000
    log = q.log_text()
    assert "io_uring is not available" in log and "workers, epoll)" in log
