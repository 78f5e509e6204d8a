#!/usr/bin/python3
"""perf-groups.py - where pgseal's CPU time goes: perf.data files of bench-encrypted.sh (BENCH_PERF=1) summed by function group, in % and microseconds per transaction.

Usage: bench/perf-groups.py BINARY NAME=perf.data[:TRANSACTIONS] ...
  e.g. bench/perf-groups.py build/pgseal enc=build/perf-enc.data:36000 relay=build/perf-relay.data:41000

Each file is read with `perf report` twice: self time by shared object and symbol (each
sample counted once, in the function it was in), grouped by shared object and, for pgseal's
own functions, by the source directory the debug info names (src/conn, src/sql, ...); and
time including callees (needs --call-graph dwarf at record time) for a fixed list of
functions on the encryption layer's path. Microseconds per transaction are the sampled CPU
time (the cpu-clock event count) divided by the transactions pgbench ran during the
recording. A measurement tool, not a test: it prints and exits 0 when perf works.
"""
import re
import subprocess
import sys
from collections import defaultdict

# functions whose time including callees tells where the layer's time goes
INCLUSIVE = [
    ("conn_pump", "the session's pump (everything a message costs in pgseal, minus I/O)"),
    ("crypt_client_message", "encryption layer, client -> server (all messages)"),
    ("client_parse", "  Parse (analysis, render, rebuild)"),
    ("client_bind", "  Bind (values encrypted, message rebuilt)"),
    ("client_query", "  Query"),
    ("session_plan", "    plan lookup (session_plan/plan_get)"),
    ("sql_analyze_lex", "    SQL analysis (cache miss or uncached)"),
    ("pg_query_parse", "      libpg_query parse"),
    ("sql_may_touch", "    may the text name an encrypted table? (substring scan)"),
    ("crypt_prepared_mentioned", "    does the text mention a prepared statement?"),
    ("crypt_prepared_may_execute", "    is it an EXECUTE?"),
    ("sql_plan_render", "    render the rewritten SQL text"),
    ("crypt_encrypt_value", "    encrypt one value"),
    ("crypt_server_message", "encryption layer, server -> client (all messages)"),
    ("crypt_catalog_request", "  catalog request injected"),
    ("crypto_record_encrypt", "AES-GCM record encrypt"),
    ("crypto_record_decrypt", "AES-GCM record decrypt"),
    ("crypto_blind_index", "HMAC blind index"),
    ("malloc", "malloc"),
    ("free", "free"),
    ("__libc_calloc", "calloc"),
    ("realloc", "realloc"),
]

LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$")
CHILD = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+\[(.)\]\s+(.*?)\s*$")
MALLOC = re.compile(r"malloc|free|calloc|realloc|^_int_|tcache|arena_|sysmalloc|unlink_chunk|cfree")


def perf(args):
    r = subprocess.run(["perf", "report", "--stdio"] + args, capture_output=True, text=True)
    return r.stdout


def event_ns(path):
    out = perf(["-i", path, "--header-only"]) + perf(["-i", path, "--no-children", "-g", "none", "--sort", "dso"])
    m = re.search(r"Event count \(approx\.\): (\d+)", out)
    return int(m.group(1)) if m else 0


def source_dirs(binary):
    """symbol -> src/<module> from the binary's debug info (nm -l)"""
    out = subprocess.run(["nm", "-l", "--defined-only", binary], capture_output=True, text=True).stdout
    m = {}
    for line in out.splitlines():
        parts = line.split("\t")
        fields = parts[0].split()
        if len(fields) < 3:
            continue
        name = fields[2]
        src = parts[1] if len(parts) > 1 else ""
        d = re.search(r"(src/[a-z_]+)/", src)
        m[name] = d.group(1) if d else "pgseal (other)"
    return m


def group(dso, kind, sym, dirs, binary_name):
    sym = sym.replace(" (inlined)", "")
    if kind == "k" or dso.startswith("[kernel"):
        return "kernel (TCP loopback, io_uring, scheduler)"
    if "pg_query" in dso:
        return "libpg_query (SQL parse)"
    if "libcrypto" in dso or "libssl" in dso:
        return "OpenSSL libcrypto (AES-GCM, HMAC, ...)"
    if dso.startswith("libc") or dso.startswith("ld-linux"):
        if MALLOC.search(sym):
            return "libc malloc/free"
        if sym == "syscall":
            return "libc syscall() (io_uring_enter entry)"
        return "libc string/copy (memcpy, strcmp, strncasecmp, ...)"
    if dso == binary_name:
        return "pgseal " + dirs.get(sym, "(unknown)")
    return "other: " + dso


def read(path, dirs, binary_name):
    groups = defaultdict(float)
    syms = defaultdict(float)
    for line in perf(["-i", path, "--no-children", "-g", "none", "--sort", "dso,sym", "--percent-limit", "0"]).splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        groups[group(dso, kind, sym, dirs, binary_name)] += pct
        syms[(dso, sym)] += pct
    incl = {}
    for line in perf(["-i", path, "--children", "-g", "none", "--sort", "sym", "--percent-limit", "0"]).splitlines():
        m = CHILD.match(line)
        if m:
            name = m.group(4).replace(" (inlined)", "")
            incl[name] = max(incl.get(name, 0.0), float(m.group(1)))
    return groups, syms, incl


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    binary_name = binary.rsplit("/", 1)[-1]
    dirs = source_dirs(binary)
    runs = []
    for arg in sys.argv[2:]:
        name, spec = arg.split("=", 1)
        path, _, txns = spec.partition(":")
        ns = event_ns(path)
        runs.append((name, int(txns) if txns.isdigit() else 0, ns) + read(path, dirs, binary_name))

    def us(run, pct):
        _, txns, ns = run[:3]
        return "%7.1f" % (ns * pct / 100 / txns / 1000) if txns and ns else "    n/a"

    head = "".join("  %14s" % ("%s %%  us/txn" % r[0]) for r in runs)
    print("pgseal CPU samples (perf cpu-clock), total: " +
          ", ".join("%s %.2f s CPU over %d transactions = %s us/txn" % (r[0], r[2] / 1e9, r[1], us(r, 100).strip()) for r in runs))
    print()
    print("Self time by group%s%s" % (" " * 34, head))
    allg = sorted({g for r in runs for g in r[3]}, key=lambda g: -max(r[3].get(g, 0) for r in runs))
    for g in allg:
        print("  %-50s%s" % (g[:50], "".join("  %5.1f%% %7s" % (r[3].get(g, 0), us(r, r[3].get(g, 0))) for r in runs)))
    print()
    print("Including callees (dwarf call graphs)%s%s" % (" " * 15, head))
    for sym, what in INCLUSIVE:
        if any(sym in r[5] for r in runs):
            print("  %-50s%s" % (("%s %s" % (what, "" if what.strip() == sym else "(" + sym + ")"))[:50],
                                 "".join("  %5.1f%% %7s" % (r[5].get(sym, 0), us(r, r[5].get(sym, 0))) for r in runs)))
    print()
    for r in runs:
        print("Top self symbols, %s:" % r[0])
        for (dso, sym), pct in sorted(r[4].items(), key=lambda kv: -kv[1])[:15]:
            print("  %5.1f%% %7s us  %-22s %s" % (pct, us(r, pct).strip(), dso[:22], sym))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
