# test_encryption_perclient.py - per-client keys with mTLS: a client_id column is readable only by the client holding that certificate.
import psycopg
import psycopg2
import pytest

from enc_harness import canary, enc_env, new_id, pgseal_cli

TENANT_TABLES = """\
DROP TABLE IF EXISTS tenant;
CREATE TABLE tenant (id int8 PRIMARY KEY, owner_err text, owner_def text, owner_ct text, shared text);
"""


def tenant_schema(client_id):
    return """\
schemas:
  - table: tenant
    columns: [id, owner_err, owner_def, owner_ct, shared]
    encrypted:
      - column: owner_err
        data_type: str
        searchable: true
        client_id: %(cid)s
      - column: owner_def
        data_type: str
        client_id: %(cid)s
        response_on_fail: default_value
        default_data_value: hidden
      - column: owner_ct
        data_type: str
        client_id: %(cid)s
        response_on_fail: ciphertext
      - column: shared
        data_type: str
        searchable: true
""" % {"cid": client_id}


@pytest.fixture
def tenant(factory, pg, workdir, certs):
    b = certs._leaf("client-b", "clients-ca", "app-client-2", server=False)
    cid_a = pgseal_cli("keys", "client-id", certs.client).strip()
    cid_b = pgseal_cli("keys", "client-id", b).strip()
    assert len(cid_a.splitlines()) == 1 and cid_a and cid_a != cid_b
    env = enc_env(factory, pg, workdir, "tenant", schema_yaml=tenant_schema(cid_a), tables_sql=TENANT_TABLES, mtls=True)
    kw = {"sslmode": "verify-full", "sslrootcert": certs.ca}
    env.kw_a = dict(kw, sslcert=certs.client, sslkey=certs.path("client.key"))
    env.kw_b = dict(kw, sslcert=b, sslkey=certs.path("client-b.key"))
    return env


def test_owner_reads_plaintext_other_client_never(tenant):
    i = new_id()
    s, sh = canary("tenant"), canary("shared")
    with tenant.pg3(**tenant.kw_a) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO tenant (id, owner_err, owner_def, owner_ct, shared) VALUES (%s, %s, %s, %s, %s)",
                    (i, s, s, s, sh))
        cur.execute("SELECT owner_err, owner_def, owner_ct, shared FROM tenant WHERE id = %s", (i,))
        assert cur.fetchall() == [(s, s, s, sh)]
        cur.execute("SELECT count(*) FROM tenant WHERE owner_err = %s", (s,))
        assert cur.fetchone()[0] == 1
    stored = tenant.up_rows("SELECT owner_err, owner_def, owner_ct, shared FROM tenant WHERE id = %s", (i,))[0]
    assert all(v is not None and s.encode() not in bytes(v) and sh.encode() not in bytes(v) for v in stored)

    for binary in (False, True):
        with tenant.pg3(**tenant.kw_b) as conn, conn.cursor(binary=binary) as cur:
            # the shared column is readable by every client
            cur.execute("SELECT shared FROM tenant WHERE id = %s", (i,))
            assert cur.fetchall() == [(sh,)]
            # response_on_fail: error -> XX001, nothing of the value
            with pytest.raises(psycopg.Error) as ei:
                cur.execute("SELECT owner_err FROM tenant WHERE id = %s", (i,))
                cur.fetchall()
            assert ei.value.sqlstate == "XX001" and "tenant.owner_err" in str(ei.value)
            assert s not in str(ei.value)
            # default_value, and ciphertext (text results: the record as \x hex)
            cur.execute("SELECT owner_def FROM tenant WHERE id = %s", (i,))
            assert cur.fetchall() == [("hidden",)]
            if not binary:
                cur.execute("SELECT owner_ct FROM tenant WHERE id = %s", (i,))
                ct = cur.fetchone()[0]
                assert ct == "\\x" + bytes(stored[2]).hex()
            cur.execute("SELECT * FROM tenant WHERE id = %s AND false", (i,))
            assert cur.fetchall() == []
    with tenant.pg2(**tenant.kw_b) as conn, conn.cursor() as cur:
        cur.execute("SELECT owner_def, shared FROM tenant WHERE id = %s", (i,))
        assert cur.fetchall() == [("hidden", sh)]


def test_other_client_cannot_write_or_search_owner_columns(tenant):
    i = new_id()
    s = canary("tenantw")
    with tenant.pg3(**tenant.kw_a) as conn:
        conn.execute("INSERT INTO tenant (id, owner_err, shared) VALUES (%s, %s, 'a')", (i, s))
    before = tenant.up_rows("SELECT t::text FROM tenant t ORDER BY id")
    with tenant.pg2(**tenant.kw_b) as conn, conn.cursor() as cur:
        for sql, params in (("INSERT INTO tenant (id, owner_err) VALUES (%s, %s)", (new_id(), "b-write")),
                            ("UPDATE tenant SET owner_def = %s WHERE id = %s", ("b-write", i)),
                            ("SELECT count(*) FROM tenant WHERE owner_err = %s", (s,))):
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute(sql, params)
            assert "tenant.owner_" in str(ei.value) and s not in str(ei.value), ei.value
            cur.execute("SELECT 1")
    with tenant.pg3(**tenant.kw_b) as conn, conn.cursor(binary=True) as cur:
        with pytest.raises(psycopg.Error):
            cur.execute("SELECT count(*) FROM tenant WHERE owner_err = %s", (s,))
        cur.execute("SELECT count(*) FROM tenant WHERE shared = %s", ("a",))
        assert cur.fetchone()[0] >= 1
    assert tenant.up_rows("SELECT t::text FROM tenant t ORDER BY id") == before
    with tenant.pg3(**tenant.kw_a) as conn:
        assert conn.execute("SELECT owner_err FROM tenant WHERE id = %s", (i,)).fetchall() == [(s,)]


def test_ciphertext_response_in_binary_results(tenant):
    i = new_id()
    s = canary("tenantct")
    with tenant.pg3(**tenant.kw_a) as conn:
        conn.execute("INSERT INTO tenant (id, owner_ct) VALUES (%s, %s)", (i, s))
    with tenant.pg3(**tenant.kw_b) as conn, conn.cursor(binary=True) as cur:
        cur.execute("SELECT owner_ct FROM tenant WHERE id = %s", (i,))
        ct = cur.fetchone()[0]
        assert s not in str(ct)
