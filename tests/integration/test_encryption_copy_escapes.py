# test_encryption_copy_escapes.py - COPY rows with escaped delimiters, custom CSV ESCAPE and rows split across messages, on encrypted columns.
import io

from enc_harness import canary, enc, new_id  # noqa: F401  (enc is a fixture)


def read_back(enc, ids):
    with enc.pg2() as c, c.cursor() as cur:
        cur.execute("SELECT id, email, name FROM people WHERE id = ANY(%s) ORDER BY id", (list(ids),))
        return {r[0]: r[1:] for r in cur.fetchall()}


def test_text_escaped_delimiter_is_data(enc):
    """`\\<TAB>` in COPY text is a tab inside the field, not a column separator."""
    i = new_id()
    email = canary("esc") + "@x.org"
    data = "%d\t%s\tleft\\\tright\n" % (i, email)
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.copy_expert("COPY people (id, email, name) FROM STDIN", io.StringIO(data))
        assert cur.rowcount == 1
    assert read_back(enc, [i]) == {i: (email, "left\tright")}


def test_csv_custom_escape_round_trip(enc):
    i = new_id()
    email = canary("csvesc") + "@x.org"
    name = 'say "hi" \\ bye,\nnext line'
    # ESCAPE '\': inside quotes \" is a quote and \\ a backslash
    field = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    data = "%d,%s,%s\n" % (i, email, field)
    opts = "(FORMAT csv, ESCAPE '\\')"
    with enc.pg2() as conn, conn.cursor() as cur:
        cur.copy_expert("COPY people (id, email, name) FROM STDIN %s" % opts, io.StringIO(data))
        assert cur.rowcount == 1
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, email, name FROM people WHERE id = %d) TO STDOUT %s" % (i, opts), out)
        assert out.getvalue() == data
    assert read_back(enc, [i]) == {i: (email, name)}


def test_rows_split_across_copydata_messages(enc):
    """Rows cut at every position, CSV quotes holding newlines: each row arrives whole to the encryption."""
    ids = [new_id() for _ in range(20)]
    rows = [(i, canary("split") + "@x.org", "multi\nline \"%d\"" % k) for k, i in enumerate(ids)]
    data = "".join('%d,%s,"%s"\n' % (i, e, n.replace('"', '""')) for i, e, n in rows)
    with enc.pg2() as conn, conn.cursor() as cur:
        # psycopg2 sends one CopyData message per `size` characters read
        cur.copy_expert("COPY people (id, email, name) FROM STDIN (FORMAT csv)", io.StringIO(data), size=7)
        assert cur.rowcount == 20
    assert read_back(enc, ids) == {i: (e, n) for i, e, n in rows}
