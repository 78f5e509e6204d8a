# test_readme_commands.py - every ```sh block of README.md and docs/*.md runs as written after `make run` (docs/testing.md).
"""The README's commands, typed as a new user types them.

`make run` is scripts/run.sh after the build. The test runs that same script in a scratch
copy of the repository's layout (build/, scripts/, deploy/ and the Makefile are symlinks,
run/ is its own), on free ports, so it neither needs nor disturbs a `make run` of the
developer's. Then every fenced block whose info string is `sh` runs with bash -e -o
pipefail in that directory, file by file, the blocks of a file in one shell (a variable
set in one block is there in the next), with one change only: the default ports of
`make run` (55432 PostgreSQL, 6432 pgseal, 9191 admin, 8480 demo page) become the
scratch run's. A block preceded by a line `<!-- not run by
tests/integration/test_readme_commands.py: REASON -->` is illustrative and skipped;
other info strings (``` alone, yaml, text...) are never run.
"""

import os
import re
import shutil
import subprocess

import pytest

from harness import REPO, free_port

SKIP = re.compile(r"^<!-- not run by tests/integration/test_readme_commands\.py: .+ -->$")
FILES = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(REPO, "docs")) if f.endswith(".md"))
DEFAULT_PORTS = {"55432": "pg", "6432": "pgseal", "9191": "admin", "8480": "demo"}


def sh_blocks(path):
    """The ```sh blocks of a Markdown file that are meant to run: [(line, text)]."""
    out, lines = [], open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start, body = i + 1, []
            skip = i > 0 and SKIP.match(lines[i - 1].strip())
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            if not skip:
                out.append((start, "\n".join(body) + "\n"))
        i += 1
    return out


def test_markers_are_well_formed():
    """Every skip marker stands right before a ```sh block (else it would skip nothing);
    inside a fenced block (docs/testing.md shows one) it is text."""
    for f in FILES:
        lines = open(os.path.join(REPO, f), encoding="utf-8").read().split("\n")
        fenced = False
        for n, line in enumerate(lines):
            if line.strip().startswith("```"):
                fenced = not fenced
                continue
            if not fenced and "not run by tests/integration/test_readme_commands.py" in line:
                assert SKIP.match(line.strip()), "%s:%d: malformed marker" % (f, n + 1)
                assert n + 1 < len(lines) and lines[n + 1].strip() == "```sh", \
                    "%s:%d: the marker must stand right before a ```sh block" % (f, n + 1)


@pytest.fixture(scope="module")
def made_run(workdir):
    """scripts/run.sh (make run) in a scratch layout of the repository, on free ports."""
    d = os.path.join(workdir, "readme")
    os.makedirs(d)
    os.chmod(d, 0o755)
    for name in ("build", "scripts", "deploy", "Makefile", "examples"):
        os.symlink(os.path.join(REPO, name), os.path.join(d, name))
    ports = {k: str(free_port()) for k in ("pg", "pgseal", "admin", "demo")}
    env = dict(os.environ, PGSEAL_RUN_PGPORT=ports["pg"], PGSEAL_RUN_PORT=ports["pgseal"],
               PGSEAL_RUN_ADMIN_PORT=ports["admin"], PGSEAL_RUN_DEMO_PORT=ports["demo"])
    env.pop("PGPASSWORD", None)
    r = subprocess.run(["bash", "scripts/run.sh"], cwd=d, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode(errors="replace")
    try:
        assert r.returncode == 0, out
        yield {"dir": d, "ports": ports, "env": env, "out": out}
    finally:
        subprocess.run(["bash", "scripts/stop.sh", "--clean"], cwd=d, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)


def run_blocks(run, blocks):
    script = "".join("# --- line %d\n%s" % b for b in blocks)
    for port, name in DEFAULT_PORTS.items():
        script = re.sub(r"\b%s\b" % port, run["ports"][name], script)
    r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=run["dir"], env=run["env"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return r.returncode, r.stdout.decode(errors="replace"), script


def test_readme_runs_as_written(made_run):
    # make run's own message names the commands a user copies
    assert "make reload" in made_run["out"] and "A first encrypted column" in made_run["out"]
    blocks = sh_blocks(os.path.join(REPO, "README.md"))
    assert len(blocks) >= 3, "the README's first encrypted column is no longer a ```sh block"
    rc, out, script = run_blocks(made_run, blocks)
    print(out)
    assert rc == 0, "README.md's commands failed:\n%s\n--- script ---\n%s" % (out, script)
    # what the README promises: the report, the value back through pgseal, records in PostgreSQL
    assert "pgseal: table users: ready" in out
    assert "reload: encryption config reloaded" in out
    assert re.search(r"1 \| a@example\.com\s+\| 123-45-6789", out), out
    assert re.search(r"1 \| \\x02[0-9a-f]{64,} \| \\x01[0-9a-f]{40,}", out), out


def test_make_run_keeps_a_users_edits(made_run):
    d = made_run["dir"]
    enc = open(os.path.join(d, "run/encryptor_config.yaml")).read()
    assert "table: users" in enc, "the README's edit is not there (test order)"
    with open(os.path.join(d, "run/pgseal.yaml"), "a") as f:
        f.write("# an edit of mine\n")
    r = subprocess.run(["bash", "scripts/run.sh"], cwd=d, env=made_run["env"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    assert "run/pgseal.yaml has your edits: kept" in out
    assert open(os.path.join(d, "run/encryptor_config.yaml")).read() == enc
    assert open(os.path.join(d, "run/pgseal.yaml")).read().endswith("# an edit of mine\n")
    # the restarted pgseal still decrypts the user's table
    rc, out, _ = run_blocks(made_run, [(0, 'export PGPASSWORD=$(cat run/app.password)\n'
                                           'psql -v ON_ERROR_STOP=1 "host=localhost port=6432 dbname=app user=app '
                                           'sslmode=verify-full sslrootcert=run/certs/pgseal-ratls.pem" -At '
                                           '-c "SELECT ssn FROM users WHERE id = 1"\n')])
    assert rc == 0 and out.strip() == "123-45-6789", out


def test_make_reload_says_when_pgseal_refuses(made_run):
    d = made_run["dir"]
    path = os.path.join(d, "run/encryptor_config.yaml")
    good = open(path).read()
    try:
        with open(path, "a") as f:
            f.write("  - table: [broken\n")
        r = subprocess.run(["make", "reload"], cwd=d, env=made_run["env"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = r.stdout.decode(errors="replace")
        assert r.returncode != 0 and "the encryption config was NOT reloaded (the running one stays)" in out, out
    finally:
        with open(path, "w") as f:
            f.write(good)
    r = subprocess.run(["make", "reload"], cwd=d, env=made_run["env"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    assert r.returncode == 0 and b"reload: encryption config reloaded" in r.stdout, r.stdout


@pytest.mark.parametrize("doc", [f for f in FILES if f != "README.md"])
def test_doc_blocks_run_as_written(made_run, doc):
    blocks = sh_blocks(os.path.join(REPO, doc))
    if not blocks:
        pytest.skip("no ```sh block to run in %s" % doc)
    rc, out, script = run_blocks(made_run, blocks)
    print(out)
    assert rc == 0, "%s's commands failed:\n%s\n--- script ---\n%s" % (doc, out, script)


def test_no_stray_psql_without_stop():
    """A psql in a block that runs must stop on errors, or the block passes whatever happens."""
    for f in FILES:
        for line, text in sh_blocks(os.path.join(REPO, f)):
            for cmd in re.findall(r"(?:^|[|;&]\s*)(psql\b[^|;&\n]*)", text, re.M):
                assert "ON_ERROR_STOP=1" in cmd, "%s:%d: psql without -v ON_ERROR_STOP=1: %s" % (f, line, cmd)
    assert shutil.which("psql")
