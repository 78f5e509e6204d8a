# test_failclosed_settings.py - statements lexed with the session's real settings: standard_conforming_strings and client_encoding (issue 16, item 1).
"""The audit's statement

    INSERT INTO people (id, name, email) VALUES (2002, 'x\\', NULL) -- ', 'SECRET')

reads under standard_conforming_strings = on as email = NULL and a comment, and under off as
email = 'SECRET'. pgseal must never let PostgreSQL store or log the secret, whichever way the
setting was turned off (SET, SET LOCAL, set_config, startup options, ALTER ROLE ... SET), and
must read literals as the server does (values round-trip under both settings). Each test scans
the server log, pg_dump, the table files and pgseal's log for its markers (leaks.Scan).
"""

import struct

import psycopg
import psycopg2
import pytest

from harness import Raw, msg

from enc_harness import enc, new_id, refused  # noqa: F401 (fixture)
from leaks import Scan, marker

LEX_ROLE = "lex_user"  # dedicated role for ALTER ROLE ... SET (pg_hba lets it in, harness.py)


def audit(i, secret):
    """The audit's statement: under off the secret is the email, under on a comment."""
    return r"INSERT INTO people (id, name, email) VALUES (%d, 'x\', NULL) -- ', '%s')" % (i, secret)


def stored(enc, i):
    return enc.up_rows("SELECT count(*) FROM people WHERE id = %s", (i,))[0][0]


def assert_lex_refused(exc, column="people.email"):
    """pgseal's refusal, naming the column or the setting, never a value."""
    code = getattr(exc, "pgcode", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
    assert code == "0A000", "expected 0A000, got %r: %s" % (code, exc)
    assert column in str(exc) or "standard_conforming_strings" in str(exc), str(exc)


# ---- ways the setting is turned off ----------------------------------------------------------------

def _off_set(enc, cur):
    cur.execute("SET standard_conforming_strings = off")


def _off_set_config(enc, cur):
    cur.execute("SELECT set_config('standard_conforming_strings', 'off', false)")


WAYS_SESSION = {"SET": _off_set, "set_config": _off_set_config}


@pytest.fixture
def lex_role(enc):
    """A dedicated role with ALTER ROLE ... SET standard_conforming_strings = off; reset after."""
    s = Scan(enc)
    s.su_rows("DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN "
              "CREATE ROLE %s LOGIN; END IF; END$$" % (LEX_ROLE, LEX_ROLE))
    s.su_rows("GRANT ALL ON people TO %s" % LEX_ROLE)
    s.su_rows("ALTER ROLE %s SET standard_conforming_strings = off" % LEX_ROLE)
    try:
        yield LEX_ROLE
    finally:
        s.su_rows("ALTER ROLE %s RESET standard_conforming_strings" % LEX_ROLE)


def _check_audit_refused(enc, cur, secrets):
    i, sec = new_id(), marker("scs")
    secrets.append(sec)
    with pytest.raises(psycopg2.Error) as ei:
        cur.execute(audit(i, sec))
    assert_lex_refused(ei.value)
    assert sec not in str(ei.value)
    return i


@pytest.mark.parametrize("way", sorted(WAYS_SESSION))
def test_audit_statement_refused_after_session_change(enc, way):
    secrets = []
    with enc.pg2() as conn, conn.cursor() as cur:
        WAYS_SESSION[way](enc, cur)
        cur.execute("SHOW standard_conforming_strings")
        assert cur.fetchone() == ("off",)
        i = _check_audit_refused(enc, cur, secrets)
        cur.execute("SELECT 1")  # the session stays usable
        assert cur.fetchone() == (1,)
    assert stored(enc, i) == 0
    Scan(enc).check(secrets)


@pytest.mark.parametrize("how", ["SET LOCAL", "set_config local"])
def test_audit_statement_refused_in_transaction(enc, how):
    secrets = []
    conn = enc.pg2(autocommit=False)
    try:
        with conn.cursor() as cur:
            if how == "SET LOCAL":
                cur.execute("SET LOCAL standard_conforming_strings = off")
            else:
                cur.execute("SELECT set_config('standard_conforming_strings', 'off', true)")
            i = _check_audit_refused(enc, cur, secrets)
        conn.rollback()
        with conn.cursor() as cur:
            # the transaction is over: back to on
            cur.execute("SHOW standard_conforming_strings")
            assert cur.fetchone() == ("on",)
            j = _check_audit_refused(enc, cur, secrets)
        conn.rollback()
    finally:
        conn.close()
    assert stored(enc, i) == 0 and stored(enc, j) == 0
    Scan(enc).check(secrets)


def test_audit_statement_refused_with_startup_option(enc):
    secrets = []
    with enc.pg2(options="-c standard_conforming_strings=off") as conn, conn.cursor() as cur:
        cur.execute("SHOW standard_conforming_strings")
        assert cur.fetchone() == ("off",)
        i = _check_audit_refused(enc, cur, secrets)
    assert stored(enc, i) == 0
    Scan(enc).check(secrets)


def test_audit_statement_refused_with_alter_role(enc, lex_role):
    secrets = []
    with enc.pg2(user=lex_role) as conn, conn.cursor() as cur:
        cur.execute("SHOW standard_conforming_strings")
        assert cur.fetchone() == ("off",)
        i = _check_audit_refused(enc, cur, secrets)
        # a value written under the role's setting reads back as PostgreSQL reads it
        k, m = new_id(), marker("role")
        secrets.append(m)
        cur.execute(r"INSERT INTO people (id, email, note) VALUES (%d, '%s\\x\tq', '%s\\x\tq')" % (k, m, "P"))
        cur.execute("SELECT email, note FROM people WHERE id = %s", (k,))
        assert cur.fetchone() == (m + "\\x\tq", "P\\x\tq")
    assert stored(enc, i) == 0
    Scan(enc).check(secrets)


def test_audit_statement_refused_under_default_on(enc):
    secrets = []
    with enc.pg2() as conn, conn.cursor() as cur:
        i = _check_audit_refused(enc, cur, secrets)
    assert stored(enc, i) == 0
    Scan(enc).check(secrets)


# ---- values read as the server reads them ----------------------------------------------------------

# literal texts with backslashes (as written in SQL) for an encrypted and a plain column alike
LITERALS = [r"'{m}\\b'", r"'{m}\n'", r"'{m}\x41'", r"E'{m}\\e'", r"E'{m}\tt'", "$${m}\\d$$"]


def _roundtrip(enc, cur, secrets, searchable=True):
    """Each literal into email (encrypted, searchable) and note (plain): the same value back, and
    a search with the same literal finds it."""
    for lit in LITERALS:
        i, m = new_id(), marker("rt")
        secrets.append(m)
        text = lit.format(m=m)
        plain = lit.format(m="P")  # the same literal, without the marker, in the plain column
        cur.execute("INSERT INTO people (id, email, note) VALUES (%d, %s, %s)" % (i, text, plain))
        cur.execute("SELECT email, note FROM people WHERE id = %s", (i,))
        email, note = cur.fetchone()
        assert email.startswith(m) and email[len(m):] == note[1:], (lit, email, note)
        if searchable:
            cur.execute("SELECT id FROM people WHERE email = %s" % text)
            assert cur.fetchall() == [(i,)], lit


def test_values_roundtrip_on_and_off(enc):
    secrets = []
    with enc.pg2() as conn, conn.cursor() as cur:
        _roundtrip(enc, cur, secrets)  # on
        cur.execute("SET standard_conforming_strings = off")
        _roundtrip(enc, cur, secrets)  # off: '\n' is a newline, '\'' a quote
        cur.execute("RESET standard_conforming_strings")
        _roundtrip(enc, cur, secrets)
        cur.execute("SELECT set_config('standard_conforming_strings', 'off', false)")
        cur.execute("DISCARD ALL")  # back to on
        cur.execute("SHOW standard_conforming_strings")
        assert cur.fetchone() == ("on",)
        _roundtrip(enc, cur, secrets)
    # the off reading differs from the on one: the same literal gave different values
    m = marker("diff")
    secrets.append(m)
    with enc.pg2() as conn, conn.cursor() as cur:
        a, b = new_id(), new_id()
        cur.execute(r"INSERT INTO people (id, email) VALUES (%d, '%s\\z')" % (a, m))
        cur.execute("SET standard_conforming_strings = off")
        cur.execute(r"INSERT INTO people (id, email) VALUES (%d, '%s\\z')" % (b, m))
        cur.execute("SELECT id, email FROM people WHERE id IN (%s, %s) ORDER BY id", (a, b))
        assert cur.fetchall() == [(a, m + "\\\\z"), (b, m + "\\z")]
    Scan(enc).check(secrets)


def test_values_roundtrip_startup_option_and_psycopg2_quoting(enc):
    """psycopg2 quotes parameters for the setting it sees (E'...' under off)."""
    secrets = []
    with enc.pg2(options="-c standard_conforming_strings=off") as conn, conn.cursor() as cur:
        _roundtrip(enc, cur, secrets)
        # the form of a quote under off
        i, m = new_id(), marker("q")
        secrets.append(m)
        cur.execute(r"INSERT INTO people (id, email, note) VALUES (%d, '%s\'q', '%s\'q')" % (i, m, "P"))
        cur.execute("SELECT email, note FROM people WHERE id = %s", (i,))
        assert cur.fetchone() == (m + "'q", "P'q")
        i, m = new_id(), marker("pq")
        secrets.append(m)
        v = m + "\\'x\\\\"
        cur.execute("INSERT INTO people (id, email, name) VALUES (%s, %s, %s)", (i, v, v))
        cur.execute("SELECT email, name FROM people WHERE email = %s", (v,))
        assert cur.fetchall() == [(v, v)]
    Scan(enc).check(secrets)


def test_unicode_and_escape_strings(enc):
    secrets = []
    m = marker("u")
    secrets.append(m)
    with enc.pg2() as conn, conn.cursor() as cur:
        i = new_id()
        cur.execute(r"INSERT INTO people (id, email, note) VALUES (%d, U&'%s\0061', E'%s\x61')" % (i, m, "P"))
        cur.execute("SELECT email, note FROM people WHERE id = %s", (i,))
        assert cur.fetchone() == (m + "a", "Pa")
        cur.execute("SET standard_conforming_strings = off")
        # U&'...' is an error under off, on the server as in pgseal: nothing is stored
        j, m2 = new_id(), marker("u2")
        secrets.append(m2)
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute(r"INSERT INTO people (id, email) VALUES (%d, U&'%s\0061')" % (j, m2))
        assert ei.value.pgcode == "0A000" and m2 not in str(ei.value)
        cur.execute(r"INSERT INTO people (id, email) VALUES (%d, E'%s\x62')" % (j, m2))
        cur.execute("SELECT email FROM people WHERE id = %s", (j,))
        assert cur.fetchone() == (m2 + "b",)
    Scan(enc).check(secrets)


def test_refusal_and_catalog_under_off(enc):
    """pgseal's own texts (the refusal's DO block, the catalog query) mean the same under off."""
    secrets = []
    with enc.pg2(options="-c standard_conforming_strings=off") as conn, conn.cursor() as cur:
        m = marker("like")
        secrets.append(m)
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute(r"SELECT id FROM people WHERE email LIKE '%s\\%%'" % m)
        refused(ei.value, "people.email")
        # reads are decrypted: the catalog query found the tables
        i, m2 = new_id(), marker("cat")
        secrets.append(m2)
        cur.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (i, m2))
        cur.execute("SELECT email FROM people WHERE id = %s", (i,))
        assert cur.fetchone() == (m2,)
    Scan(enc).check(secrets)


# ---- the same simple Query, the extended protocol, pipelines ----------------------------------------

def test_postgresql_lexes_a_whole_simple_query_first(enc):
    """PostgreSQL parses a whole simple-query string before running any of it: a SET in the
    same Query does not change how the statements after it are lexed (checked directly)."""
    up = enc.up()
    try:
        with up.cursor() as cur:
            cur.execute(r"SET standard_conforming_strings = on; SET standard_conforming_strings = off; "
                        r"SELECT 'a\\b' AS v")
            assert cur.fetchone() == ("a\\\\b",)
            cur.execute(r"SELECT 'a\\b'")  # the next Query is lexed under off
            assert cur.fetchone() == ("a\\b",)
    finally:
        up.close()


def test_set_in_the_same_simple_query(enc):
    secrets = []
    with enc.pg2() as conn, conn.cursor() as cur:
        # values: read as the Query arrived (on), like the plain column beside it
        i, m = new_id(), marker("same")
        secrets.append(m)
        cur.execute(r"SET standard_conforming_strings = off; "
                    r"INSERT INTO people (id, email, note) VALUES (%d, '%s\\q', '%s\\q')" % (i, m, "P"))
        cur.execute("SELECT email, note FROM people WHERE id = %s", (i,))
        assert cur.fetchone() == (m + "\\\\q", "P\\\\q")
        cur.execute("RESET standard_conforming_strings")
        # the audit statement after the SET in one Query: refused
        j, sec = new_id(), marker("same")
        secrets.append(sec)
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SET standard_conforming_strings = off; " + audit(j, sec))
        assert_lex_refused(ei.value)
        cur.execute("SHOW standard_conforming_strings")
        assert cur.fetchone() == ("on",)  # nothing of the refused Query ran
    assert stored(enc, j) == 0
    Scan(enc).check(secrets)


def test_extended_protocol(enc):
    secrets = []
    for binary in (False, True):
        with enc.pg3() as conn, conn.cursor(binary=binary) as cur:
            cur.execute("SET standard_conforming_strings = off")
            i, sec = new_id(), marker("ext")
            secrets.append(sec)
            with pytest.raises(psycopg.Error) as ei:
                cur.execute(audit(i, sec))
            assert_lex_refused(ei.value)
            assert stored(enc, i) == 0
            # a literal with a backslash, settled: read under off like the plain column
            k, m = new_id(), marker("ext")
            secrets.append(m)
            cur.execute(r"INSERT INTO people (id, email, note) VALUES (%d, '%s\\w', '%s\\w')" % (k, m, "P"))
            cur.execute("SELECT email, note FROM people WHERE id = %s", (k,))
            assert cur.fetchone() == (m + "\\w", "P\\w")
            # parameters are not lexed: any value goes
            p = m + "\\'"
            cur.execute("UPDATE people SET email = %s WHERE id = %s", (p, k))
            cur.execute("SELECT email FROM people WHERE email = %s", (p,))
            assert cur.fetchone() == (p,)
    Scan(enc).check(secrets)


def test_pipeline_with_the_set_in_flight(enc):
    secrets = []
    with enc.pg3() as conn:
        # the audit statement right behind a SET in one pipeline
        i, sec = new_id(), marker("pipe")
        secrets.append(sec)
        with pytest.raises(psycopg.Error) as ei:
            with conn.pipeline():
                conn.execute("SET standard_conforming_strings = off")
                conn.execute(audit(i, sec))
        assert_lex_refused(ei.value)
        # behind set_config in a SELECT
        j, sec2 = new_id(), marker("pipe")
        secrets.append(sec2)
        with pytest.raises(psycopg.Error) as ei:
            with conn.pipeline():
                conn.execute("SELECT set_config('standard_conforming_strings', 'off', false)")
                conn.execute(audit(j, sec2))
        assert_lex_refused(ei.value)
        # a value whose reading depends on the setting, while the SET is in flight: refused
        k, m = new_id(), marker("pipe")
        secrets.append(m)
        with pytest.raises(psycopg.Error) as ei:
            with conn.pipeline():
                conn.execute("SET standard_conforming_strings = off")
                conn.execute(r"INSERT INTO people (id, email) VALUES (%d, '%s\\v')" % (k, m))
        assert_lex_refused(ei.value)
        # without a backslash the text reads the same either way: fine in a pipeline
        n, m2 = new_id(), marker("pipe")
        secrets.append(m2)
        with conn.pipeline():
            conn.execute("SET standard_conforming_strings = off")
            conn.execute("INSERT INTO people (id, email) VALUES (%d, '%s')" % (n, m2))
        assert conn.execute("SELECT email FROM people WHERE id = %s", (n,)).fetchone() == (m2,)
        conn.execute("RESET standard_conforming_strings")
    for x in (i, j, k):
        assert stored(enc, x) == 0
    Scan(enc).check(secrets)


def test_simple_queries_pipelined_on_the_wire(enc):
    """Two Query messages sent at once: the second is analysed before the first's answer."""
    secrets = []
    i, sec = new_id(), marker("wire")
    k, m = new_id(), marker("wire")
    secrets += [sec, m]
    with Raw("127.0.0.1", enc.proxy.port, timeout=10) as r:
        r.startup_trust()
        r.send(msg(b"Q", b"SET standard_conforming_strings = off\0") +
               msg(b"Q", audit(i, sec).encode() + b"\0") +
               msg(b"Q", (r"INSERT INTO people (id, email) VALUES (%d, '%s\\v')" % (k, m)).encode() + b"\0"))
        answers = [r.read_until({b"Z"}) for _ in range(3)]
        assert [t for t, _ in answers[0]][-1] == b"Z"
        for ans in answers[1:]:
            errs = [p for t, p in ans if t == b"E"]
            assert errs and b"0A000" in errs[0], ans
        # settled now: the same value is read under off
        rows, err = r.query(r"INSERT INTO people (id, email, note) VALUES (%d, '%s\\v', '%s\\v')" % (k, m, "P"))
        assert err is None, err
        rows, err = r.query("SELECT email, note FROM people WHERE id = %d" % k)
        assert rows == [[m + "\\v", "P\\v"]], rows
    assert stored(enc, i) == 0
    Scan(enc).check(secrets)


# ---- client_encoding --------------------------------------------------------------------------------

def _refused_encoding(exc):
    code = getattr(exc, "pgcode", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
    assert code == "0A000" and "client_encoding" in str(exc), str(exc)


@pytest.mark.parametrize("encoding", ["SJIS", "BIG5"])
def test_client_only_encodings_refused(enc, encoding):
    secrets = []
    i, m = new_id(), marker("enc")
    secrets.append(m)
    # by SET (psycopg2 sends SET client_encoding and encodes with it)
    with enc.pg2() as conn, conn.cursor() as cur:
        conn.set_client_encoding(encoding)
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (i, m))
        _refused_encoding(ei.value)
        # 表 in SJIS is 0x95 0x5C: a backslash byte inside a character
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT id FROM people WHERE email = '\u8868'")
        _refused_encoding(ei.value)
        cur.execute("SELECT 1")  # statements naming no encrypted table still run
        assert cur.fetchone() == (1,)
        conn.set_client_encoding("UTF8")
        cur.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (i, m))
    # by the startup packet
    with enc.pg2(client_encoding=encoding) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("SELECT email FROM people WHERE id = %s", (i,))
        _refused_encoding(ei.value)
    Scan(enc).check(secrets)


def test_ascii_safe_encodings_work(enc):
    """UTF8 and LATIN1 are ASCII-safe: statements are analysed as usual, backslashes included.
    Text values are encrypted as the client's bytes, which must be UTF-8 (docs/sql.md): under
    LATIN1 an ASCII value works and a non-ASCII one is refused (22P02), never stored."""
    secrets = []
    for encoding, value in (("UTF8", "\u00e9t\u00e9\\\u20ac"), ("LATIN1", "ete\\x")):
        i, m = new_id(), marker("enc")
        secrets.append(m)
        v = m + value
        with enc.pg3(client_encoding=encoding) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO people (id, email, name) VALUES (%s, %s, %s)", (i, v, v))
            cur.execute("SELECT email, name FROM people WHERE email = %s", (v,))
            assert cur.fetchall() == [(v, v)], encoding
            # a literal in the text, a backslash in it
            cur.execute("UPDATE people SET name = '%s' WHERE email = '%s'" % (v + "2", v))
            cur.execute("SELECT name FROM people WHERE email = '%s'" % v)
            assert cur.fetchall() == [(v + "2",)], encoding
            if encoding == "LATIN1":
                j, m2 = new_id(), marker("enc")
                secrets.append(m2)
                with pytest.raises(psycopg.Error) as ei:
                    cur.execute("INSERT INTO people (id, email) VALUES (%s, %s)", (j, m2 + "\u00e9"))
                assert ei.value.sqlstate == "22P02" and m2 not in str(ei.value)
                assert stored(enc, j) == 0
    Scan(enc).check(secrets)


def test_set_client_encoding_in_flight(enc):
    """A SET client_encoding in flight: a text with a non-ASCII byte followed by an ASCII one is
    refused, one without is analysed as usual."""
    secrets = []
    i, m = new_id(), marker("encp")
    secrets.append(m)
    with enc.pg3() as conn:
        with pytest.raises(psycopg.Error) as ei:
            with conn.pipeline():
                conn.execute("SET client_encoding = 'UTF8'")
                conn.execute("INSERT INTO people (id, email) VALUES (%d, '%s\u00e9x')" % (i, m))
        _refused_encoding(ei.value)
        with conn.pipeline():
            conn.execute("SET client_encoding = 'UTF8'")
            conn.execute("INSERT INTO people (id, email) VALUES (%d, '%s')" % (i, m))
        assert conn.execute("SELECT email FROM people WHERE id = %s", (i,)).fetchone() == (m,)
    Scan(enc).check(secrets)


def test_names_refused_in_pipeline(enc):
    """SET NAMES in flight behaves as SET client_encoding."""
    i, m = new_id(), marker("names")
    with Raw("127.0.0.1", enc.proxy.port, timeout=10) as r:
        r.startup_trust()
        body = ("INSERT INTO people (id, email) VALUES (%d, '%s\u00e9x')" % (i, m)).encode()
        r.send(msg(b"Q", b"SET NAMES 'UTF8'\0") + msg(b"Q", body + b"\0"))
        first, second = r.read_until({b"Z"}), r.read_until({b"Z"})
        assert not [t for t, _ in first if t == b"E"]
        errs = [p for t, p in second if t == b"E"]
        assert errs and b"0A000" in errs[0] and b"client_encoding" in errs[0]
    assert stored(enc, i) == 0
    Scan(enc).check([m])


def test_statement_before_the_session_is_ready(enc):
    """A Query sent right behind the password, before the server's AuthenticationOk and
    ReadyForQuery: pgseal refuses the connection (08P01) or, if the session became ready
    before it read the Query, analyses it; it is never relayed unanalysed."""
    from harness import DB, PASSWORDS, startup_packet
    secrets = []
    for _ in range(3):
        i, m = new_id(), marker("early")
        secrets.append(m)
        q = ("INSERT INTO people (id, email) VALUES (%d, '%s')" % (i, m)).encode()
        with Raw("127.0.0.1", enc.proxy.port, timeout=5) as r:
            r.send(startup_packet({"user": "pw_user", "database": DB}))
            tag, payload = r.read_msg()
            assert tag == b"R" and struct.unpack("!I", payload[:4])[0] == 3  # cleartext password
            r.send(msg(b"p", PASSWORDS["pw_user"].encode() + b"\0") + msg(b"Q", q + b"\0"))
            tags = []
            try:
                for _ in range(50):
                    mm = r.read_msg()
                    if mm is None:
                        break
                    tags.append(mm[0])
                    if tags.count(b"Z") == 2 or mm[0] == b"E":
                        break
            except OSError:
                pass
    Scan(enc).check(secrets)
