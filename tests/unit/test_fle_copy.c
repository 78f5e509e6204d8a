/* test_fle_copy.c - the COPY row parser of the encryption layer: text and csv fields, row ends,
 * malformed rows. */
#include <stdlib.h>
#include <string.h>

#include "fle/fle_internal.h"
#include "testlib.h"

static struct fle_copy_fields f;

static struct sql_copy text_fmt(void)
{
	struct sql_copy cp = {.csv = false, .delimiter = '\t', .null_string = "\\N"};
	return cp;
}

static struct sql_copy csv_fmt(char quote, char escape)
{
	struct sql_copy cp = {
	    .csv = true, .delimiter = ',', .quote = quote, .escape = escape, .null_string = ""};
	return cp;
}

static int split(const struct sql_copy *cp, const char *row)
{
	return fle_copy_split(cp, (const uint8_t *)row, strlen(row), &f);
}

static bool field(size_t i, const char *want)
{
	return i < f.n && !f.null[i] && f.len[i] == strlen(want) &&
	       !memcmp(f.vals.data + f.off[i], want, f.len[i]);
}

static void test_text(void)
{
	struct sql_copy cp = text_fmt();
	CHECK(split(&cp, "1\tabc\t\\N") == PGS_OK && f.n == 3);
	CHECK(field(0, "1") && field(1, "abc") && f.null[2]);
	CHECK(split(&cp, "a\\tb\\nc\\\\d\\x41\\101\\q") == PGS_OK && f.n == 1);
	CHECK(field(0, "a\tb\nc\\dAAq"));
	/* an escaped delimiter is data, not a separator */
	CHECK(split(&cp, "a\\\tb\tc") == PGS_OK && f.n == 2);
	CHECK(field(0, "a\tb") && field(1, "c"));
	/* the null marker is recognised before unescaping only */
	CHECK(split(&cp, "\\\\N") == PGS_OK && f.n == 1 && field(0, "\\N"));
	CHECK(split(&cp, "") == PGS_OK && f.n == 1 && field(0, ""));
	CHECK(split(&cp, "\t") == PGS_OK && f.n == 2 && field(0, "") && field(1, ""));
	/* a trailing lone backslash is kept as it is */
	CHECK(split(&cp, "a\\") == PGS_OK && f.n == 1 && field(0, "a\\"));
	pgs_buf_free(&f.vals);
}

static void test_csv(void)
{
	struct sql_copy cp = csv_fmt('"', '"');
	CHECK(split(&cp, "1,\"a,b\",,\"\"") == PGS_OK && f.n == 4);
	CHECK(field(0, "1") && field(1, "a,b") && f.null[2] && field(3, ""));
	CHECK(split(&cp, "\"say \"\"hi\"\"\"") == PGS_OK && f.n == 1 && field(0, "say \"hi\""));
	CHECK(split(&cp, "\"two\nlines\"") == PGS_OK && field(0, "two\nlines"));
	CHECK(split(&cp, "\"open") == PGS_ERR); /* unterminated quote */
	CHECK(split(&cp, "a,\"b\"\"") == PGS_ERR);
	struct sql_copy bs = csv_fmt('"', '\\');
	CHECK(split(&bs, "\"a\\\"b\\\\c\\d\"") == PGS_OK && f.n == 1 && field(0, "a\"b\\c\\d"));
	pgs_buf_free(&f.vals);
}

static void test_too_many_fields(void)
{
	struct sql_copy cp = csv_fmt('"', '"');
	size_t n = 2000;
	char *row = malloc(n + 1);
	memset(row, ',', n);
	row[n] = 0;
	CHECK(split(&cp, row) == PGS_ERR);
	free(row);
	pgs_buf_free(&f.vals);
}

static bool row_end(const struct sql_copy *cp, const char *p, size_t *pos, bool *inq)
{
	return fle_copy_row_end(cp, (const uint8_t *)p, strlen(p), pos, inq);
}

static void test_row_end(void)
{
	struct sql_copy t = text_fmt();
	size_t pos = 0;
	bool inq = false;
	CHECK(row_end(&t, "ab\ncd\n", &pos, &inq) && pos == 2);
	pos = 0;
	CHECK(row_end(&t, "a\\\nb\n", &pos, &inq) && pos == 4); /* escaped newline */
	pos = 0;
	CHECK(!row_end(&t, "abc\\", &pos, &inq) && pos == 3); /* resume at the backslash */
	CHECK(row_end(&t, "abc\\\nd\n", &pos, &inq) && pos == 6);

	struct sql_copy c = csv_fmt('"', '"');
	pos = 0;
	inq = false;
	CHECK(row_end(&c, "\"a\nb\",c\nx", &pos, &inq) && pos == 7);
	pos = 0;
	inq = false;
	CHECK(!row_end(&c, "\"a\n", &pos, &inq) && inq && pos == 3);
	CHECK(row_end(&c, "\"a\nb\"\n", &pos, &inq) && pos == 5 && !inq);

	struct sql_copy b = csv_fmt('"', '\\');
	pos = 0;
	inq = false;
	CHECK(row_end(&b, "\"a\\\"\nb\"\n", &pos, &inq) &&
	      pos == 7); /* an escaped quote does not close */
	pos = 0;
	inq = false;
	CHECK(!row_end(&b, "\"a\\", &pos, &inq) && pos == 2 && inq); /* decided by the next byte */
}

/* A row of a COPY whose columns are all plain: fle_copy_row needs no keys for it. */
static int row(const struct sql_copy *cp, const char *r, uint64_t line, struct fle_copy_err *e,
               struct pgs_buf *o)
{
	o->len = 0;
	memset(e, 0, sizeof(*e));
	return fle_copy_row(NULL, cp, (const uint8_t *)r, strlen(r), true, line, o, e);
}

static void test_malformed_rows(void)
{
	static const struct schema_column *plain3[3];
	struct sql_copy t = text_fmt(), c = csv_fmt('"', '"');
	struct fle_copy_err e;
	struct pgs_buf o = {0};
	t.ncolumns = c.ncolumns = 3;
	t.columns = c.columns = plain3;
	CHECK(row(&t, "1\tsecretvalue\tx", 4, &e, &o) == PGS_OK && o.len == 16);
	/* too many fields, too few: 22P04 with the line, never a value */
	CHECK(row(&t, "1\tsecretvalue\tx\ty", 7, &e, &o) == PGS_ERR);
	CHECK_STR(e.state, "22P04");
	CHECK(strstr(e.msg, "line 7") && strstr(e.msg, "extra data after last expected column"));
	CHECK(!strstr(e.msg, "secretvalue"));
	CHECK(row(&t, "1\tsecretvalue", 2, &e, &o) == PGS_ERR && !strcmp(e.state, "22P04"));
	CHECK(strstr(e.msg, "line 2") && strstr(e.msg, "missing data") &&
	      !strstr(e.msg, "secretvalue"));
	CHECK(row(&c, "1,secretvalue,x,", 3, &e, &o) == PGS_ERR && strstr(e.msg, "extra data"));
	CHECK(row(&c, "1,\"secretvalue,x", 9, &e, &o) == PGS_ERR && !strcmp(e.state, "22P04"));
	CHECK(strstr(e.msg, "line 9") && strstr(e.msg, "unterminated CSV quoted field"));
	CHECK(!strstr(e.msg, "secretvalue"));
	/* 1600 fields and more: the split stops, the row is an error */
	char *wide = malloc(4001);
	memset(wide, ',', 4000);
	wide[4000] = 0;
	CHECK(row(&c, wide, 1, &e, &o) == PGS_ERR && strstr(e.msg, "extra data"));
	free(wide);
	pgs_buf_free(&o);
}

static void test_tail_malformed(void)
{
	struct sql_copy t = text_fmt(), c = csv_fmt('"', '"'), b = csv_fmt('"', '\\');
	const char *s;
	size_t pos;
	bool inq;
	/* a last row without its newline is a row */
	s = "1\tabc";
	pos = 0, inq = false;
	CHECK(!row_end(&t, s, &pos, &inq) && !fle_copy_tail_malformed(&t, strlen(s), pos, inq));
	s = "1,\"a\nb\"";
	pos = 0, inq = false;
	CHECK(!row_end(&c, s, &pos, &inq) && !fle_copy_tail_malformed(&c, strlen(s), pos, inq));
	/* a lone backslash at the very end (text), an escaped one is data */
	s = "1\tabc\\";
	pos = 0, inq = false;
	CHECK(!row_end(&t, s, &pos, &inq));
	CHECK_STR(fle_copy_tail_malformed(&t, strlen(s), pos, inq),
	          "a backslash at the end of the data");
	s = "1\tabc\\\\";
	pos = 0, inq = false;
	CHECK(!row_end(&t, s, &pos, &inq) && !fle_copy_tail_malformed(&t, strlen(s), pos, inq));
	/* an unterminated quote at the end (csv), also after an escape waiting for its byte */
	s = "1,\"abc";
	pos = 0, inq = false;
	CHECK(!row_end(&c, s, &pos, &inq));
	CHECK_STR(fle_copy_tail_malformed(&c, strlen(s), pos, inq),
	          "unterminated CSV quoted field");
	s = "1,\"abc\\";
	pos = 0, inq = false;
	CHECK(!row_end(&b, s, &pos, &inq) && fle_copy_tail_malformed(&b, strlen(s), pos, inq));
	s = "1,\"a\"\"b\"";
	pos = 0, inq = false;
	CHECK(!row_end(&c, s, &pos, &inq) && !fle_copy_tail_malformed(&c, strlen(s), pos, inq));
}

int main(void)
{
	RUN(test_text);
	RUN(test_csv);
	RUN(test_too_many_fields);
	RUN(test_row_end);
	RUN(test_malformed_rows);
	RUN(test_tail_malformed);
	return t_summary("test_fle_copy");
}
