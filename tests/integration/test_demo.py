# test_demo.py - pgseal-demo (docs/demo.md): its JSON endpoints with valid and hostile input, the row cap, the statement PostgreSQL received, the attestation panel, errors that name the hop, and the page in headless Chromium.
import json
import os
import re
import subprocess
import urllib.parse

import pytest

import harness
from demo_harness import MAX_ROWS, close_demo_env, demo_env
from enc_harness import server_log
from leaks import Scan, marker
from sim_harness import http_get

NODE_DIR = os.path.join(harness.REPO, "tests", "demo")
ARTEFACTS = os.path.join(harness.REPO, "build", "test-artefacts")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MARKERS = []  # every plaintext written through the demo, for the at-rest scan


@pytest.fixture(scope="module")
def env(factory, pg, workdir, certs):
    e = demo_env(factory, pg, workdir, certs)
    yield e
    bad = close_demo_env()
    if bad:
        pytest.fail("\n\n".join(bad), pytrace=False)


def person(tag="p"):
    m = marker(tag)
    p = {"name": "Name %s" % m, "email": "%s@example.com" % m.lower(), "ssn": "900-12-3456",
         "note": "note %s <b>x</b> '; DROP TABLE demo_people;--" % m}
    MARKERS.extend([m, m.lower()])
    return p


def test_add_then_app_view_and_db_view(env):
    p = person()
    status, hdr, r = env.demo.post_person(p)
    assert status == 200, r
    rid = r["id"]
    status, app = env.demo.get("/api/app-view")
    assert status == 200
    row = [x for x in app["rows"] if x["id"] == rid]
    assert row and {k: row[0][k] for k in p} == p  # as the application wrote it
    status, db = env.demo.get("/api/db-view")
    assert status == 200
    stored = [x for x in db["rows"] if x["id"] == rid][0]
    text = json.dumps(db)
    for v in p.values():
        if v != "900-12-3456":
            assert v not in text
    for col in ("name", "email", "ssn", "note"):
        assert stored[col].startswith("\\x") and db["types"][col] == "bytea", (col, stored[col])
        assert p[col].encode().hex() not in stored[col]
    assert db["types"]["id"] == "bigint" and db["blind_index_bytes"] == 33


def test_search_shows_the_statement_postgresql_received(env):
    p = person("s")
    rid = env.demo.post_person(p)[2]["id"]
    status, r = env.demo.get("/api/search?email=" + urllib.parse.quote(p["email"]))
    assert status == 200, r
    assert [x["id"] for x in r["rows"]] == [rid] and r["rows"][0]["name"] == p["name"]
    assert p["email"] in r["application_sent"]
    got = r["postgresql_received"]
    assert r["source"] == "pg_stat_activity.query" and not r["plaintext_reached_postgresql"]
    assert p["email"] not in got and "substr(email, 1, 33) = E'\\\\x" in got, got
    # the blind index in it is the one stored in the row (read independently, upstream)
    blind = re.search(r"E'\\\\x([0-9a-f]+)'::bytea", got).group(1)
    stored = env.enc.up_rows("SELECT encode(substr(email, 1, 33), 'hex') FROM demo_people WHERE id = %s",
                             (int(rid),))[0][0]
    assert blind == stored
    # and it is what the server logged (log_statement = all): not made up by the demo
    assert got in server_log(env.enc)
    # no match: no rows, still a statement
    status, r = env.demo.get("/api/search?email=nobody." + marker("n").lower() + "@example.com")
    assert status == 200 and r["rows"] == [] and "substr(email, 1, 33)" in r["postgresql_received"]


def test_statement_unavailable_to_another_role_is_said_not_invented(env):
    """A --db role that may not see the pgseal session's statement: no statement is shown."""
    d = env.start_demo("otherrole", db="host=127.0.0.1 port=%d user=md5_user password=%s dbname=%s sslmode=require"
                       % (env.enc.pg.port, harness.PASSWORDS["md5_user"], harness.DB))
    status, r = d.get("/api/search?email=ada@example.com")
    assert status == 200, r
    assert r["postgresql_received"] is None and r["plaintext_reached_postgresql"] is None
    assert "pg_read_all_stats" in r["postgresql_received_unavailable"]


HUGE = "x" * 5000
VALID = {"name": "Ada", "email": "ada@example.com", "ssn": "900-12-3456", "note": "n"}
HOSTILE_BODIES = [
    ("huge name", dict(VALID, name="a" * 101)),
    ("huge note", dict(VALID, note="a" * 501)),
    ("huge body", json.dumps(dict(VALID, note=HUGE * 200)).encode()),
    ("script in email", dict(VALID, email="<script>alert(1)</script>@example.com")),
    ("quote in email", dict(VALID, email="x'||pg_sleep(1)||'@example.com")),
    ("sql in ssn", dict(VALID, ssn="1'); DROP TABLE demo_people;--")),
    ("backslash in email", dict(VALID, email="a\\'b@example.com")),
    ("control char in name", dict(VALID, name="a\x1bb")),
    ("NUL escape", b'{"name":"a\\u0000b","email":"ada@example.com","ssn":"900-12-3456"}'),
    ("invalid UTF-8", b'{"name":"a\xff\xfe","email":"ada@example.com","ssn":"900-12-3456"}'),
    ("lone surrogate", b'{"name":"a\\ud800","email":"ada@example.com","ssn":"900-12-3456"}'),
    ("bad JSON", b'{"name": "Ada", '),
    ("not an object", b'["Ada"]'),
    ("empty body", b""),
    ("duplicate key", b'{"name":"A","name":"B","email":"ada@example.com","ssn":"900-12-3456"}'),
    ("unknown key", dict(VALID, admin=True)),
    ("number for string", dict(VALID, ssn=900123456)),
    ("missing email", {"name": "Ada", "ssn": "900-12-3456"}),
]


@pytest.mark.parametrize("what,body", HOSTILE_BODIES, ids=[h[0] for h in HOSTILE_BODIES])
def test_hostile_body_is_a_clear_400_and_stores_nothing(env, what, body):
    before = env.count()
    status, hdr, r = env.demo.post_person(body)
    assert status == 400, (what, r)
    assert hdr["Content-Type"].startswith("application/json") and hdr["X-Content-Type-Options"] == "nosniff"
    assert set(r) == {"error"} and 0 < len(r["error"]) < 200
    # the message names the problem, never echoes the input
    for bad in ("<script>", "DROP TABLE", "pg_sleep", "\x1b"):
        assert bad not in r["error"]
    assert env.count() == before


def test_wrong_content_type_and_method(env):
    before = env.count()
    status, hdr, r = env.demo.post_person(json.dumps(VALID).encode(), "application/x-www-form-urlencoded")
    assert status == 400 and "Content-Type" in r["error"]
    status, _, body = env.demo.request("DELETE", "/api/people")
    assert status == 405
    status, _, body = env.demo.request("GET", "/api/people")
    assert status == 405
    assert env.demo.request("GET", "/nope")[0] == 404
    assert env.count() == before


@pytest.mark.parametrize("q", ["", "email=", "email=nobody", "email=%FF%FE%40example.com", "email=a%27b%40example.com",
                               "email=%3Cscript%3E%40example.com", "email=" + "a" * 300 + "%40example.com",
                               "email=a%00b%40example.com"])
def test_hostile_search_is_a_clear_400(env, q):
    status, r = env.demo.get("/api/search?" + q)
    assert status == 400 and "email" in r["error"], r


def test_markup_is_stored_and_returned_as_data(env):
    p = dict(VALID, name="<img src=x onerror=alert(1)>", email=marker("h").lower() + "@example.com",
             note="<script>alert('x')</script>")
    status, _, r = env.demo.post_person(p)
    assert status == 200
    status, hdr, raw = env.demo.request("GET", "/api/app-view")
    assert hdr["Content-Type"].startswith("application/json")
    assert b"<\\/script>" in raw  # JSON escapes '/': no "</script>" sequence in the answer
    row = [x for x in json.loads(raw)["rows"] if x["id"] == r["id"]][0]
    assert row["name"] == p["name"] and row["note"] == p["note"]


def test_static_page_headers(env):
    status, hdr, body = env.demo.request("GET", "/")
    assert status == 200 and hdr["Content-Type"].startswith("text/html")
    csp = hdr["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    for ident in (b'id="app-view"', b'id="db-view"', b'id="attestation"', b'id="dump-view"', b'id="add-person"',
                  b'id="search"', b'name="name"', b'name="email"', b'name="ssn"', b'name="note"'):
        assert ident in body
    assert b"http://" not in body and b"https://" not in body  # nothing fetched from elsewhere
    js = env.demo.request("GET", "/app.js")[2]
    assert b"innerHTML" not in js and b"insertAdjacentHTML" not in js and b"document.write" not in js


def test_dump_holds_no_plaintext(env):
    p = person("d")
    env.demo.post_person(p)
    status, d = env.demo.get("/api/dump")
    assert status == 200 and "COPY" in d["dump"] and d["dump"].rstrip().endswith("\\.")
    for k in ("name", "email", "note"):
        assert p[k] not in d["dump"]
    assert p["email"].encode().hex() not in d["dump"]


def test_attestation_panel(env):
    status, a = env.demo.get("/api/attestation")
    assert status == 200, a
    assert a["verdict"] == "trusted", (a["failed_check"], a["reason"])
    assert a["simulated"] is True and a["provider"] == "dstack-simulator"
    assert a["tcb_status"] == "UpToDate" and a["rtmr3_replayed_ok"] is True and a["ra_tls_binding_ok"] is True
    for k in ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"):
        assert re.fullmatch(r"[0-9a-f]{96}", a[k]), k
    info = env.sim.call("Info")
    assert a["compose_hash"] == info["compose_hash"] and a["app_id"] == info["app_id"]
    assert [(r["rule"], r["result"]) for r in a["policy_rules"]] == [("min_tcb_status", "pass"),
                                                                    ("require_event_log", "pass")]
    assert re.fullmatch(r"[0-9a-f]{32}", a["platform"]["ppid"])
    # the raw evidence, byte for byte what pgseal serves
    doc = json.loads(env.demo.request("GET", "/api/attestation")[2])
    status, body = http_get(env.enc.proxy.admin_port, "/attestation")
    served = json.loads(body)
    status, hdr, quote = env.demo.request("GET", "/api/attestation/quote")
    assert status == 200 and quote == bytes.fromhex(served["quote"]) and "attachment" in hdr["Content-Disposition"]
    status, hdr, log = env.demo.request("GET", "/api/attestation/event-log")
    assert status == 200 and json.loads(log) == served["event_log"]
    assert doc["quote_bytes"] == len(quote)


def test_attestation_against_intel_root_is_untrusted_but_still_simulated(env):
    d = env.start_demo("intel-root", root_ca=None, collateral=None, policy=None)
    status, a = d.get("/api/attestation")
    assert status == 200 and a["verdict"] == "untrusted" and a["simulated"] is True
    assert a["failed_check"] in ("pck_chain", "collateral"), a["failed_check"]


def test_errors_name_the_hop(env):
    dead = "127.0.0.1:%d" % harness.free_port()
    d = env.start_demo("broken", pgseal="host=127.0.0.1 port=%s user=x dbname=x sslmode=disable connect_timeout=3"
                       % dead.split(":")[1],
                       db="host=127.0.0.1 port=%s user=x dbname=x sslmode=disable connect_timeout=3" % dead.split(":")[1],
                       admin_url="http://" + dead)
    for path, hop in (("/api/app-view", "pgseal (application path)"), ("/api/db-view", "PostgreSQL (direct"),
                      ("/api/dump", "PostgreSQL (direct"), ("/api/attestation", "pgseal admin API")):
        status, r = d.get(path)
        assert status == 502 and r["error"].startswith(hop), (path, r)
    status, _, r = d.post_person(VALID)
    assert status == 502 and r["error"].startswith("pgseal (application path)")


def test_row_cap_drops_the_oldest(env):
    for _ in range(3):
        env.demo.post_person(person("c"))
    first = env.enc.up_rows("SELECT min(id) FROM demo_people")[0][0]
    n = max(0, MAX_ROWS - env.count()) + 2
    last = None
    for i in range(n):
        status, _, r = env.demo.post_person(dict(VALID, email="cap%d@example.com" % i))
        assert status == 200
        last = r
    assert env.count() == MAX_ROWS and last["dropped"] >= 1
    assert env.enc.up_rows("SELECT min(id) FROM demo_people")[0][0] > first
    status, app = env.demo.get("/api/app-view")
    assert len(app["rows"]) == MAX_ROWS and app["rows"][0]["id"] == last["id"]


def node_script(*args, timeout=240):
    if not os.path.exists(CHROMIUM):
        pytest.fail("%s missing: `make deps` installs Debian's chromium" % CHROMIUM)
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "puppeteer-core")):
        pytest.fail("tests/demo/node_modules missing: `make deps` runs npm install there")
    r = subprocess.run(["node", os.path.join(NODE_DIR, "page_test.js"), *args], cwd=NODE_DIR,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out = r.stdout.decode().strip().splitlines()
    assert out, r.stderr.decode()
    res = json.loads(out[-1])
    assert r.returncode == 0 and res["ok"], res.get("error") or r.stderr.decode()
    return res


def test_page_in_headless_chromium(env):
    """Fill the form, submit, see the person in #app-view and not in #db-view, search,
    see the statement and the attestation verdict; a screenshot as an artefact."""
    os.makedirs(ARTEFACTS, exist_ok=True)
    shot = os.path.join(ARTEFACTS, "demo-page.png")
    m = marker("b")
    MARKERS.append(m)
    name, email, note = "Grace %s <b>Hopper</b>" % m, "grace.%s@example.com" % m.lower(), "<img src=x onerror=alert(1)>"
    r = node_script("check", env.demo.url + "/", shot, name, email, "900-55-1234", note)
    assert name in r["app"] and email in r["app"] and "900-55-1234" in r["app"] and note in r["app"]
    assert r["markupInApp"] == 0  # the <b> and <img> typed in are text, not elements
    for v in (m, email, note, "Hopper"):
        assert v not in r["db"] and v not in r["dump"]
    assert "\\x" in r["db"] and "bytea" in r["db"]
    assert name in r["found"] and email in r["sent"]
    assert email not in r["received"] and "substr(email, 1, 33)" in r["received"]
    assert r["verdict"] == "TRUSTED" and "SIMULATED" in r["att"] and r["simulatedVisible"]
    assert r["foreign"] == [] and r["errors"] == []
    assert os.path.getsize(shot) > 10000


def test_page_time_to_interactive_with_100_rows(env):
    while env.count() < MAX_ROWS:
        env.demo.post_person(dict(VALID, email="tti%d@example.com" % env.count()))
    r = node_script("tti", env.demo.url + "/", "5")
    assert r["rows"] == MAX_ROWS
    with open(os.path.join(ARTEFACTS, "demo-tti.json"), "w") as f:
        json.dump(r, f)
    print("pgseal-demo time to interactive with %d rows: median %d ms (%s)" % (r["rows"], r["median_ms"], r["runs"]))
    assert r["median_ms"] < 10000


def test_no_plaintext_at_rest_or_in_logs(env):
    """Everything written through the demo: not in the server log, pg_dump, the table files,
    pgseal's log, nor the demo's own log."""
    assert MARKERS
    Scan(env.enc).check(MARKERS)
    for d in env.demos:
        log = d.log()
        assert not [m for m in MARKERS if m in log]
