#!/usr/bin/python3
"""pg_crosscheck.py - checks src/codec against a real PostgreSQL: for each value, pgseal's
binary and text output of the canonical form must equal what PostgreSQL itself sends.

Run from the repository root after `make`: /usr/bin/python3 tests/keys/pg_crosscheck.py
Needs /usr/lib/postgresql/15/bin and psycopg 3; starts a throw-away cluster (as the
`postgres` user when run as root) on a unix socket, and skips when PostgreSQL is absent.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PGBIN = "/usr/lib/postgresql/15/bin"

CASES = [
    ("int2", "-7"), ("int4", "42"), ("int4", " -2147483648"), ("int8", "9223372036854775807"),
    ("float8", "0.1"), ("float8", "1e100"), ("float8", "-0"), ("float8", "1000000"),
    ("float8", "123456.789"), ("float8", "1e-5"), ("float8", "NaN"), ("float8", "-Infinity"),
    ("float8", "2.5e-310"), ("float8", "1e15"), ("float8", "1e16"), ("float8", "0.0001"),
    ("float8", "1e14"), ("float8", "123456789012345"), ("float8", "0.00001234"),
    ("float8", "1.5e300"), ("float8", "5e-324"), ("float8", "100"), ("float8", "-1234.5"),
    ("float8", "1.7976931348623157e308"),
    ("numeric", "1.50"), ("numeric", "00012.3400"), ("numeric", "-0.00"), ("numeric", "1.5e1"),
    ("numeric", "1e-3"), ("numeric", "12e3"), ("numeric", "0.0001"), ("numeric", "10000"),
    ("numeric", "-123456789012345678901234567890.123456789"), ("numeric", "NaN"),
    ("numeric", "Infinity"), ("numeric", "-Infinity"), ("numeric", "0"), ("numeric", "99999.99990"),
    ("numeric", "0.00000001"), ("numeric", "1e20"), ("numeric", "-5"),
    ("bool", "yes"), ("bool", "f"),
    ("date", "2024-02-29"), ("date", "0044-03-15 BC"), ("date", "infinity"), ("date", "1970-01-01"),
    ("date", "5874897-12-31"), ("date", "4714-11-24 BC"),
    ("timestamp", "2024-01-02 03:04:05.123456"), ("timestamp", "2024-01-02 03:04:05.120"),
    ("timestamp", "1999-12-31 23:59:59.9999995"), ("timestamp", "0100-01-01 00:00:00 BC"),
    ("timestamp", "1969-07-20 20:17:40"), ("timestamp", "-infinity"),
    ("timestamp", "2024-01-02T03:04:05+05"), ("timestamp", "294276-12-31 23:59:59"),
    ("timestamptz", "2024-01-02 03:04:05+02"), ("timestamptz", "2024-01-02 03:04:05-05:30"),
    ("timestamptz", "2024-01-02T03:04:05Z"), ("timestamptz", "0100-01-01 00:00:00+00 BC"),
    ("uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), ("uuid", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
    ("bytea", "\\x00ff10"), ("bytea", "ab\\\\c\\001"), ("text", "h\u00e9llo"), ("jsonb", '{"a": 1}'),
]

# Values PostgreSQL refuses: pgseal must refuse them too (never store what cannot be typed).
INVALID = [
    ("int2", "32768"), ("int4", "2147483648"), ("int4", "4x"), ("int4", ""), ("int4", "1.0"),
    ("int8", "-9223372036854775809"), ("float8", "1e400"), ("float8", "abc"), ("float8", ""),
    ("numeric", "1.2.3"), ("numeric", "e5"), ("numeric", "1e"), ("numeric", "abc"),
    ("bool", "maybe"), ("bool", "2"), ("bool", "o"),
    ("date", "2023-02-29"), ("date", "2023-13-01"), ("date", "2023-01-32"),
    ("timestamp", "2024-01-02 25:00:00"), ("timestamp", "2024-01-02 03:60:00"),
    ("timestamptz", "2024-01-02 03:04:05 garbage"),
    ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"), ("uuid", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("bytea", "\\x0"), ("bytea", "\\xzz"), ("bytea", "a\\b"), ("jsonb", "{\"a\": }"), ("jsonb", ""),
]


def main():
    if not os.path.exists(os.path.join(PGBIN, "initdb")):
        print("pg_crosscheck: SKIP (no PostgreSQL 15 binaries)")
        return 0
    from psycopg import pq
    dump = os.path.join(ROOT, "build", "codec_dump")
    subprocess.run(["cc", "-std=c17", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "src"), "-o", dump,
                    os.path.join(ROOT, "tests", "keys", "codec_dump.c"),
                    os.path.join(ROOT, "build", "libpgseal.a")] +
                   subprocess.run(["pkg-config", "--libs", "openssl", "jansson", "libcurl",
                                   "yaml-0.1"], capture_output=True, text=True).stdout.split() +
                   ["-pthread", "-lm"], check=True)
    tmp = tempfile.mkdtemp(prefix="pgseal-pgcheck-")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(tmp, "postgres")
    data = os.path.join(tmp, "data")
    port = "55" + str(400 + os.getpid() % 500)
    try:
        subprocess.run(as_user + [PGBIN + "/initdb", "-D", data, "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)
        subprocess.run(as_user + [PGBIN + "/pg_ctl", "-D", data, "-w", "-l", tmp + "/log", "-o",
                                  "-p %s -k %s -c listen_addresses=''" % (port, tmp), "start"],
                       check=True, capture_output=True)
        conn = pq.PGconn.connect(("host=%s port=%s user=postgres dbname=postgres" % (tmp, port)).encode())
        conn.exec_(b"SET TimeZone='UTC'; SET DateStyle='ISO, YMD'; SET extra_float_digits=1;"
                   b"SET bytea_output='hex'")
        inp = "".join("%s\t%s\n" % c for c in CASES)
        out = subprocess.run([dump], input=inp.encode(), capture_output=True).stdout.decode().splitlines()
        bad = 0
        for (t, v), o in zip(CASES, out):
            rb = conn.exec_params(("SELECT $1::%s" % t).encode(), [v.encode()], result_format=1)
            rt = conn.exec_params(("SELECT $1::%s" % t).encode(), [v.encode()], result_format=0)
            pgb, pgt = rb.get_value(0, 0).hex(), rt.get_value(0, 0).decode()
            parts = o.split("\t")
            if parts[0] != "ok" or parts[1] != pgb or parts[2] != pgt:
                print("DIFF %s %r: pgseal %s, postgres bin %s text %r" % (t, v, parts[1:], pgb, pgt))
                bad += 1
        inp = "".join("%s\t%s\n" % c for c in INVALID)
        out = subprocess.run([dump], input=inp.encode(), capture_output=True).stdout.decode().splitlines()
        for (t, v), o in zip(INVALID, out):
            r = conn.exec_params(("SELECT $1::%s" % t).encode(), [v.encode()], result_format=0)
            pg_ok = r.status == pq.ExecStatus.TUPLES_OK
            if pg_ok or o != "err":
                print("INVALID %s %r: postgres %s, pgseal %s" % (t, v, "accepts" if pg_ok else "refuses", o))
                bad += 1
        conn.finish()
        print("pg_crosscheck: %d values, %d invalid inputs, %d differences" %
              (len(CASES), len(INVALID), bad))
        return 1 if bad else 0
    finally:
        subprocess.run(as_user + [PGBIN + "/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
