#!/usr/bin/python3
"""check-circles.py - fails when files of src/ depend on each other in a circle of more than 3 files.

A file depends on another when it includes one of its headers, or calls a non-static function
that the other file alone defines. A circle is a strongly connected component of that graph:
every file in it reaches every other. Up to 3 files may recurse into each other (a recursive
grammar); a larger circle means the files can only be read, tested and changed together.

Usage: check-circles.py [--show] [--allowed FILE] [ROOT]     (ROOT: src; `make check-circles`)
  --show (or SHOW=1)  also print the edges inside each circle, with the functions called
  --allowed FILE      known circles that do not fail the check (default
                      scripts/circles-allowed.txt beside this script): one line per circle,
                      `<pattern>... : <reason>`, patterns are file paths relative to ROOT or
                      fnmatch globs (conn/*.c). A circle is allowed when each of its files
                      matches a pattern of one line. A line that allows no circle any more
                      fails the check too: remove it.
Exit status 0 when every circle larger than 3 files is allowed and every allowed line is used.
"""
import fnmatch
import os
import re
import sys
from collections import defaultdict

MAX = 3
# a definition: a line that starts with a type (not `static`) and names a function followed by
# its parameter list, with no `;` before the end of the line (which would be a prototype)
DEF = re.compile(r"^(?!static\b)[A-Za-z_][\w \t\*]*?\b([a-z_][a-z0-9_]*)\s*\([^;]*$", re.M)
CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# comments, string and character literals, left to right in one pass (a '"' or a "/*" inside
# one of them does not start another)
NOISE = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)


def strip(text):
    def blank(m):
        s = m.group(0)
        if s.startswith("/"):
            return "\n" * s.count("\n") or " "  # lines stay lines: DEF anchors at their start
        return s[0] * 2  # "" or ''
    return NOISE.sub(blank, text)


def read_graph(root):
    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    files[os.path.relpath(p, root)] = fh.read()
    code = {f: strip(t) for f, t in files.items()}
    owner = defaultdict(set)  # function name -> the .c files that define it (non-static)
    for f, t in code.items():
        if f.endswith(".c"):
            for m in DEF.finditer(t):
                owner[m.group(1)].add(f)
    edges = defaultdict(dict)  # file -> {file it depends on: the reason (included, calls)}
    for f, t in files.items():
        for inc in INC.findall(t):
            if inc in files and inc != f:
                edges[f][inc] = ["#include"]
        if f.endswith(".c"):
            for name in sorted(set(CALL.findall(code[f]))):
                o = owner.get(name)
                if o and len(o) == 1 and f not in o:
                    edges[f].setdefault(next(iter(o)), []).append(name)
    return files, edges


def circles(files, edges):
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = 0
    for start in sorted(files):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
    return comps


def read_allowed(path):
    rules = []  # (line number, patterns, reason)
    if not path or not os.path.exists(path):
        return rules
    with open(path, encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pats, sep, reason = line.partition(" : ")
            if not sep or not pats.split() or not reason.strip():
                sys.exit(f"{path}:{no}: expected `<pattern>... : <reason>`")
            rules.append((no, pats.split(), reason.strip()))
    return rules


def main(argv):
    show = bool(os.environ.get("SHOW"))
    here = os.path.dirname(os.path.abspath(__file__))
    allowed_path = os.path.join(here, "circles-allowed.txt")
    root = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--show":
            show = True
        elif a == "--allowed" and args:
            allowed_path = args.pop(0)
        elif a.startswith("-") or root:
            sys.exit(__doc__)
        else:
            root = a
    root = root or "src"
    files, edges = read_graph(root)
    big = sorted((c for c in circles(files, edges) if len(c) > MAX), key=lambda c: (-len(c), c))
    rules = read_allowed(allowed_path)
    rel_allowed = os.path.relpath(allowed_path)
    used, bad = set(), 0
    for c in big:
        rule = next((r for r in rules
                     if all(any(fnmatch.fnmatch(f, p) for p in r[1]) for f in c)), None)
        if rule:
            used.add(rule[0])
            print(f"allowed: circle of {len(c)} files ({rel_allowed}:{rule[0]}: {rule[2]}):")
        else:
            bad += 1
            print(f"CIRCLE of {len(c)} files (each reaches every other; at most {MAX} may):")
        print("  " + " ".join(c))
        if show:
            inside = set(c)
            for f in c:
                for w, why in sorted(edges[f].items()):
                    if w in inside:
                        print(f"    {f} -> {w}: {' '.join(why)}")
    stale = [r for r in rules if r[0] not in used]
    for no, pats, reason in stale:
        print(f"STALE: {rel_allowed}:{no} allows no circle any more ({' '.join(pats)}): "
              f"remove the line")
    print(f"circles: {len(files)} files in {root}/, {len(big)} circle(s) of more than {MAX} "
          f"files, {len(big) - bad} allowed, {bad} not allowed, {len(stale)} stale exception(s)")
    if bad and not show:
        print(f"  the edges inside: SHOW=1 {os.path.relpath(__file__)} {root}")
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
