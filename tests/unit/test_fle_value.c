/* test_fle_value.c - the bytea text forms pgseal reads back from PostgreSQL: hex and escape, with
 * negative cases. */
#include <stdlib.h>

#include "codec/codec.h"
#include "fle/fle_internal.h"
#include "testlib.h"

static int decode(const char *in, struct pgs_buf *out)
{
	return fle_bytea_text_decode((const uint8_t *)in, strlen(in), out);
}

static void test_hex(void)
{
	struct pgs_buf b = {0};
	CHECK(decode("\\x", &b) == PGS_OK && b.len == 0);
	CHECK(decode("\\x00ff7A", &b) == PGS_OK && b.len == 3);
	CHECK(b.data[0] == 0x00 && b.data[1] == 0xff && b.data[2] == 0x7a);
	CHECK(decode("\\x0", &b) == PGS_ERR);   /* odd number of digits */
	CHECK(decode("\\x0g", &b) == PGS_ERR);  /* not a hex digit */
	CHECK(decode("\\x 00", &b) == PGS_ERR); /* no white space */
	pgs_buf_free(&b);
}

static void test_escape(void)
{
	struct pgs_buf b = {0};
	CHECK(decode("ab\\\\c\\000\\377", &b) == PGS_OK && b.len == 6);
	CHECK(!memcmp(b.data, "ab\\c\0\377", 6));
	CHECK(decode("", &b) == PGS_OK && b.len == 0);
	CHECK(decode("a\\", &b) == PGS_ERR);   /* lone backslash at the end */
	CHECK(decode("\\400", &b) == PGS_ERR); /* octal past 255 */
	CHECK(decode("\\08", &b) == PGS_ERR);  /* 8 is not octal */
	CHECK(decode("\\12", &b) == PGS_ERR);  /* short octal */
	pgs_buf_free(&b);
}

int main(void)
{
	RUN(test_hex);
	RUN(test_escape);
	return t_summary("test_fle_value");
}
