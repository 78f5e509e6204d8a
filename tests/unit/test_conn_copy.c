/* test_conn_copy.c - the COPY row parser of the encryption layer: text and csv fields, row ends, malformed rows. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"
#include "testlib.h"

static struct crypt_copy_fields f;

static struct sql_copy text_fmt(void)
{
	struct sql_copy cp = {.csv = false, .delimiter = '\t', .null_string = "\\N"};
	return cp;
}

static struct sql_copy csv_fmt(char quote, char escape)
{
	struct sql_copy cp = {.csv = true, .delimiter = ',', .quote = quote, .escape = escape, .null_string = ""};
	return cp;
}

static int split(const struct sql_copy *cp, const char *row)
{
	return crypt_copy_split(cp, (const uint8_t *)row, strlen(row), &f);
}

static bool field(size_t i, const char *want)
{
	return i < f.n && !f.null[i] && f.len[i] == strlen(want) && !memcmp(f.vals.data + f.off[i], want, f.len[i]);
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
	codec_buf_free(&f.vals);
}

static void test_csv(void)
{
	struct sql_copy cp = csv_fmt('"', '"');
	CHECK(split(&cp, "1,\"a,b\",,\"\"") == PGS_OK && f.n == 4);
	CHECK(field(0, "1") && field(1, "a,b") && f.null[2] && field(3, ""));
	CHECK(split(&cp, "\"say \"\"hi\"\"\"") == PGS_OK && f.n == 1 && field(0, "say \"hi\""));
	CHECK(split(&cp, "\"two\nlines\"") == PGS_OK && field(0, "two\nlines"));
	CHECK(split(&cp, "\"open") == PGS_ERR);          /* unterminated quote */
	CHECK(split(&cp, "a,\"b\"\"") == PGS_ERR);
	struct sql_copy bs = csv_fmt('"', '\\');
	CHECK(split(&bs, "\"a\\\"b\\\\c\\d\"") == PGS_OK && f.n == 1 && field(0, "a\"b\\c\\d"));
	codec_buf_free(&f.vals);
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
	codec_buf_free(&f.vals);
}

static bool row_end(const struct sql_copy *cp, const char *p, size_t *pos, bool *inq)
{
	return crypt_copy_row_end(cp, (const uint8_t *)p, strlen(p), pos, inq);
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
	CHECK(!row_end(&t, "abc\\", &pos, &inq) && pos == 3);   /* resume at the backslash */
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
	CHECK(row_end(&b, "\"a\\\"\nb\"\n", &pos, &inq) && pos == 7); /* an escaped quote does not close */
	pos = 0;
	inq = false;
	CHECK(!row_end(&b, "\"a\\", &pos, &inq) && pos == 2 && inq); /* decided by the next byte */
}

int main(void)
{
	RUN(test_text);
	RUN(test_csv);
	RUN(test_too_many_fields);
	RUN(test_row_end);
	return t_summary("test_conn_copy");
}
