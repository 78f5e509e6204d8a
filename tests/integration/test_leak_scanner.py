# test_leak_scanner.py - the leak scanner (leaks.py) finds a marker that is there and none that is not.
from enc_harness import enc  # noqa: F401 (fixture)
from enc_harness import new_id
from leaks import Scan, marker


def test_scanner_finds_plaintext_in_every_place(enc):
    m = marker("plain")
    enc.up_rows("CREATE TABLE IF NOT EXISTS leak_plain (v text)")
    enc.up_rows("INSERT INTO leak_plain VALUES (%s)", (m,))
    hits = Scan(enc).found([m])
    for place in ("server log", "pg_dump", "table files"):
        assert m in hits.get(place, []), (place, hits)


def test_scanner_passes_a_value_written_through_pgseal(enc):
    m = marker("enc")
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO rest (id, secret, secret_s) VALUES (%s, %s, %s)", (new_id(), m, m))
        cur.execute("SELECT secret FROM rest WHERE secret_s = %s", (m,))
        assert cur.fetchall() == [(m,)]
    Scan(enc).check([m])
