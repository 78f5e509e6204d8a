# test_encryption_types.py - every supported type through pgseal: text and binary, NULL, empty, unicode, extremes, 1 MiB, wire-type conversions.
import datetime as dt
import math
import struct
import uuid
from decimal import Decimal

import psycopg
import psycopg2
import psycopg2.extras
import pytest
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int4

from enc_harness import TYPE_OIDS, TYPES, canary, enc, new_id  # noqa: F401

UTC = dt.timezone.utc
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

# column -> values (each row k takes VALUES[col][k % len]); NaN compared specially
VALUES = {
    "c_text": ["", "héllo wörld 🌍 ∑ \u200b", "plain ascii", "quote ' and \\ backslash"],
    "c_varchar": ["", "日本語テキスト", "x" * 300, "tab\tnewline\n"],
    "c_bytea": [b"", bytes(range(256)), b"\x00", b"\\x00 not hex"],
    "c_int2": [-32768, 32767, 0, -1],
    "c_int4": [-2 ** 31, 2 ** 31 - 1, 0, 42],
    "c_int8": [-2 ** 63, 2 ** 63 - 1, 0, 1234567890123],
    "c_float8": [0.0, float("nan"), float("inf"), float("-inf"), 1.7976931348623157e308, 5e-324, -2.5],
    "c_numeric": [Decimal("0"), Decimal("-123.4500"),
                  Decimal("123456789012345678901234567890.123456789012345678901234567890123456789"),
                  Decimal("1E-40"), Decimal("NaN"), Decimal("99999999999999999999999999999999999999")],
    "c_bool": [True, False],
    "c_date": [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2000, 2, 29), dt.date(1999, 12, 31)],
    "c_ts": [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
             dt.datetime(2000, 1, 1)],
    "c_tstz": [dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=IST), dt.datetime(1970, 1, 1, tzinfo=UTC),
               dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), dt.datetime(1, 1, 2, tzinfo=UTC)],
    "c_uuid": [uuid.UUID(int=0), uuid.UUID(int=2 ** 128 - 1), uuid.UUID("12345678-1234-5678-1234-567812345678")],
    "c_jsonb": [{"a": [1, 2, {"b": None}], "ü": "🌍"}, [], "string", 0, {"nested": {"deep": [True, False, 1.5]}}],
}
COLS = [c for c, _ in TYPES]
NROWS = 7


def row_values(k):
    return [VALUES[c][k % len(VALUES[c])] for c in COLS]


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    if isinstance(a, memoryview):
        a = bytes(a)
    if isinstance(b, memoryview):
        b = bytes(b)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b and str(a) == str(b)  # scale kept
    return a == b


def assert_rows(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for col, a, b in zip(["id"] + COLS, g, w):
            assert same(a, b), "%s: got %r, want %r" % (col, a, b)


def dump3(v):
    return Jsonb(v) if not isinstance(v, (str, bytes, int, float, Decimal, bool, dt.date, uuid.UUID)) or False else v


def params3(k, i):
    vals = row_values(k)
    vals[COLS.index("c_jsonb")] = Jsonb(vals[COLS.index("c_jsonb")])
    return [i] + vals


INSERT = "INSERT INTO typed (id, %s) VALUES (%s)" % (", ".join(COLS), ", ".join(["%s"] * (len(COLS) + 1)))
SELECT = "SELECT id, %s FROM typed WHERE id = ANY(%%s) ORDER BY id" % ", ".join(COLS)


@pytest.mark.parametrize("wbin", [False, True], ids=["write-text", "write-binary"])
def test_types_psycopg3_roundtrip(enc, wbin):
    ids = [new_id() for _ in range(NROWS)]
    with enc.pg3() as conn:
        with conn.cursor(binary=wbin) as cur:
            for k, i in enumerate(ids):
                ph = "%b" if wbin else "%t"
                cur.execute(INSERT.replace("%s", ph), params3(k, i))
        want = [[i] + row_values(k) for k, i in enumerate(ids)]
        for rbin in (False, True):
            with conn.cursor(binary=rbin) as cur:
                cur.execute(SELECT, (ids,))
                assert [d.type_code for d in cur.description] == [23] + [TYPE_OIDS[t] for _, t in TYPES]
                assert_rows(cur.fetchall(), want)
        # every column is searchable: each value found with text and binary parameters
        for rbin in (False, True):
            with conn.cursor(binary=rbin) as cur:
                for k, i in enumerate(ids):
                    for col, v in zip(COLS, row_values(k)):
                        if col == "c_jsonb":
                            v = Jsonb(v)
                        cur.execute("SELECT count(*) FROM typed WHERE id = ANY(%%s) AND %s = %%s" % col, (ids, v))
                        n = sum(1 for kk in range(NROWS) if same(row_values(kk)[COLS.index(col)], row_values(k)[COLS.index(col)]))
                        assert cur.fetchone()[0] == n, (col, v, rbin)


def test_types_psycopg2_literals(enc):
    """psycopg2 interpolates literals client-side: the simple protocol path."""
    ids = [new_id() for _ in range(NROWS)]
    with enc.pg2() as conn, conn.cursor() as cur:
        psycopg2.extras.register_uuid(conn_or_curs=cur)
        for k, i in enumerate(ids):
            vals = row_values(k)
            vals[COLS.index("c_jsonb")] = psycopg2.extras.Json(vals[COLS.index("c_jsonb")])
            vals[COLS.index("c_bytea")] = psycopg2.Binary(vals[COLS.index("c_bytea")])
            cur.execute(INSERT, [i] + vals)
        cur.execute(SELECT, (ids,))
        got = cur.fetchall()
        assert [d.type_code for d in cur.description] == [23] + [TYPE_OIDS[t] for _, t in TYPES]
    assert_rows(got, [[i] + row_values(k) for k, i in enumerate(ids)])
    # what psycopg 3 in binary reads back is the same
    with enc.pg3() as conn, conn.cursor(binary=True) as cur:
        cur.execute(SELECT, (ids,))
        assert_rows(cur.fetchall(), [[i] + row_values(k) for k, i in enumerate(ids)])


def test_types_psql_text(enc):
    i = new_id()
    rc, out, err = enc.psql_stdin(
        "INSERT INTO typed (id, c_text, c_int8, c_float8, c_numeric, c_bool, c_date, c_ts, c_tstz, c_uuid, c_jsonb, c_bytea)"
        " VALUES (%d, 'psql ✓', -9223372036854775808, 'NaN', 1.500, true, '2024-02-29', '2024-02-29 12:00:00.5',"
        " '2024-02-29 12:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, \"v\"]}', '\\xdeadbeef');\n"
        "SET TIME ZONE 'UTC';\n"
        "SELECT c_text, c_int8, c_float8, c_numeric, c_bool, c_date, c_ts, c_tstz, c_uuid, c_jsonb, c_bytea "
        "FROM typed WHERE id = %d;\n" % (i, i))
    assert rc == 0, err
    assert out.splitlines()[-1] == ("psql ✓|-9223372036854775808|NaN|1.500|t|2024-02-29|2024-02-29 12:00:00.5|"
                                    "2024-02-29 12:00:00+00|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{\"k\": [1, \"v\"]}|"
                                    "\\xdeadbeef"), out


def test_nulls_stay_null(enc):
    i, j = new_id(), new_id()
    with enc.pg3() as conn:
        with conn.cursor(binary=True) as cur:
            cur.execute(INSERT.replace("%s", "%b"), [i] + [None] * len(COLS))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO typed (id) VALUES (%s)", (j,))
        for b in (False, True):
            with conn.cursor(binary=b) as cur:
                cur.execute(SELECT, ([i, j],))
                assert cur.fetchall() == [tuple([i] + [None] * len(COLS)), tuple([j] + [None] * len(COLS))]
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute(SELECT, ([i, j],))
        assert cur.fetchall() == [tuple([i] + [None] * len(COLS)), tuple([j] + [None] * len(COLS))]
    rows = enc.up_rows("SELECT %s FROM typed WHERE id IN (%%s, %%s)" % ", ".join(COLS), (i, j))
    assert all(v is None for r in rows for v in r)


def test_one_mib_values(enc):
    i, j = new_id(), new_id()
    big_t = ("€" + canary("big")) * ((1 << 20) // 30)
    big_b = bytes(range(256)) * 4096
    with enc.pg3() as conn:
        with conn.cursor(binary=True) as cur:
            cur.execute("INSERT INTO typed (id, c_text, c_bytea) VALUES (%b, %b, %b)", (i, big_t, big_b))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO typed (id, c_text, c_bytea) VALUES (%t, %t, %t)", (j, big_t, big_b))
        for b in (False, True):
            with conn.cursor(binary=b) as cur:
                cur.execute("SELECT c_text, c_bytea FROM typed WHERE id IN (%s, %s)", (i, j))
                rows = cur.fetchall()
                assert len(rows) == 2 and all(r[0] == big_t and bytes(r[1]) == big_b for r in rows)
                cur.execute("SELECT count(*) FROM typed WHERE c_text = %s", (big_t,))
                assert cur.fetchone()[0] == 2
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("SELECT c_text, c_bytea FROM typed WHERE id = %s", (i,))
        t, bb = cur.fetchone()
        assert t == big_t and bytes(bb) == big_b
    (n, stored), = enc.up_rows("SELECT length(c_text), c_text FROM typed WHERE id = %s", (i,))
    assert n == len(big_t.encode()) + 65 and big_t[:40].encode() not in bytes(stored)


def test_int4_param_for_int8_and_text_param_for_date(enc):
    """A parameter's wire type may differ from the declared type; it goes through the canonical form."""
    i, j = new_id(), new_id()
    with enc.pg3() as conn:
        pgc = conn.pgconn
        r = pgc.exec_params(b"INSERT INTO typed (id, c_int8, c_date, c_int2, c_float8, c_tstz) VALUES ($1, $2, $3, $4, $5, $6)",
                            [struct.pack(">i", i), struct.pack(">i", -7), b"2024-03-01", b"12", struct.pack(">h", 3),
                             b"2024-03-01 10:00:00"],
                            [23, 23, 25, 25, 21, 1114], [1, 1, 0, 0, 1, 0])
        assert r.status == psycopg.pq.ExecStatus.COMMAND_OK, r.error_message
        with conn.cursor(binary=True) as cur:
            cur.execute("INSERT INTO typed (id, c_int8, c_numeric) VALUES (%s, %s, %s)", (j, Int4(-7), Int4(5)))
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute("SELECT id, c_int8, c_date, c_int2, c_float8, c_tstz, c_numeric FROM typed WHERE id IN (%s, %s) ORDER BY id",
                        (i, j))
            assert cur.fetchall() == [(i, -7, dt.date(2024, 3, 1), 12, 3.0, dt.datetime(2024, 3, 1, 10, tzinfo=UTC), None),
                                      (j, -7, None, None, None, None, Decimal("5"))]
            # the int8 blind index is the same whatever the wire type: int2, int4, int8, text
            for v in (Int4(-7), -7, "-7"):
                cur.execute("SELECT count(*) FROM typed WHERE id IN (%s, %s) AND c_int8 = %s", (i, j, v))
                assert cur.fetchone()[0] == 2, v
        r = pgc.exec_params(b"SELECT count(*) FROM typed WHERE id = $1 AND c_date = $2",
                            [str(i).encode(), b"2024-03-01"], [0, 25], [0, 0])
        assert r.get_value(0, 0) == b"1", r.error_message


@pytest.mark.parametrize("col,bad", [("c_int4", "abc"), ("c_int2", "40000"), ("c_date", "2024-02-30"),
                                     ("c_uuid", "not-a-uuid"), ("c_jsonb", "{bad json"), ("c_bool", "maybe"),
                                     ("c_numeric", "1.2.3"), ("c_int8", "9223372036854775808")])
def test_invalid_input_is_an_error_and_not_stored(enc, col, bad):
    i = new_id()
    with enc.pg2() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as ei:
            cur.execute("INSERT INTO typed (id, %s) VALUES (%%s, %%s)" % col, (i, bad))
        assert ei.value.pgcode and ei.value.pgcode.startswith("22"), (ei.value.pgcode, str(ei.value))
        assert bad not in str(ei.value)
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    with enc.pg3() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg.Error):
            cur.execute("INSERT INTO typed (id, %s) VALUES (%%s, %%s)" % col, (i, bad))
    assert enc.up_rows("SELECT count(*) FROM typed WHERE id = %s", (i,)) == [(0,)]
