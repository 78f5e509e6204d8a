/* test_common.c - unit tests for src/common: the wiping buffer, big-endian helpers, hex, base64. */
#include "common/common.h"
#include "testlib.h"

#include <stdlib.h>

#include <openssl/evp.h>

/* --- the buffer ------------------------------------------------------------------ */

static void test_buf_build(void)
{
	struct pgs_buf b = {0};
	pgs_buf_append_u8(&b, 'Q');
	pgs_buf_append_u16(&b, 0x0102);
	pgs_buf_append_u32(&b, 0xa1b2c3d4u);
	pgs_buf_append(&b, "xyz", 3);
	pgs_buf_append(&b, NULL, 0);
	CHECK(b.len == 10);
	CHECK(memcmp(b.data, "Q\x01\x02\xa1\xb2\xc3\xd4xyz", 10) == 0);
	CHECK_EQ_INT(pgs_buf_put(&b, "!", 1), PGS_OK);
	CHECK(b.len == 11 && b.data[10] == '!');
	/* growth keeps the contents across many blocks */
	for (int i = 0; i < 5000; i++)
		pgs_buf_append_u8(&b, (uint8_t)i);
	CHECK(b.len == 5011 && b.cap >= 5011);
	CHECK(memcmp(b.data, "Q\x01\x02\xa1\xb2\xc3\xd4xyz!", 11) == 0);
	bool same = true;
	for (int i = 0; i < 5000; i++)
		same = same && b.data[11 + i] == (uint8_t)i;
	CHECK(same);
	pgs_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	/* a freed buffer is an empty one */
	pgs_buf_append(&b, "ab", 2);
	CHECK(b.len == 2);
	pgs_buf_free_nowipe(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	pgs_buf_free(&b); /* twice is harmless */
}

static void test_buf_reset_wipes(void)
{
	struct pgs_buf b = {0};
	pgs_buf_append(&b, "secret value", 12);
	uint8_t *block = b.data;
	size_t cap = b.cap;
	pgs_buf_reset(&b);
	CHECK(b.len == 0 && b.data == block && b.cap == cap);
	bool zero = true;
	for (size_t i = 0; i < 12; i++)
		zero = zero && block[i] == 0;
	CHECK(zero);
	pgs_buf_free(&b);
}

static void test_buf_reserve_and_limit(void)
{
	struct pgs_buf b = {0};
	pgs_buf_reserve(&b, 1000);
	CHECK(b.cap >= 1000 && b.len == 0);
	uint8_t *block = b.data;
	pgs_buf_reserve(&b, 1000); /* already room: same block */
	CHECK(b.data == block);
	/* the bounded put refuses past PostgreSQL's largest value, and appends nothing */
	CHECK_EQ_INT(pgs_buf_put(&b, "x", PGS_BUF_MAX + 1), PGS_ERR);
	CHECK_EQ_INT(pgs_buf_put(&b, "x", SIZE_MAX), PGS_ERR);
	b.len = PGS_BUF_MAX; /* pretend: only the check runs, nothing is copied */
	CHECK_EQ_INT(pgs_buf_put(&b, "x", 1), PGS_ERR);
	b.len = 0;
	CHECK_EQ_INT(pgs_buf_put(&b, "x", 1), PGS_OK);
	CHECK(b.len == 1);
	pgs_buf_free(&b);
}

/* --- big-endian ------------------------------------------------------------------ */

static void test_be(void)
{
	uint8_t p[8];
	pgs_put_u16(p, 0xbeef);
	CHECK(p[0] == 0xbe && p[1] == 0xef && pgs_get_u16(p) == 0xbeef);
	pgs_put_u32(p, 0x80000001u);
	CHECK(p[0] == 0x80 && p[3] == 0x01 && pgs_get_u32(p) == 0x80000001u);
	pgs_put_u64(p, 0x0102030405060708ull);
	CHECK(memcmp(p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
	CHECK(pgs_get_u64(p) == 0x0102030405060708ull);
	pgs_put_u64(p, UINT64_MAX);
	CHECK(pgs_get_u64(p) == UINT64_MAX && pgs_get_u32(p) == UINT32_MAX);
}

/* --- hex ------------------------------------------------------------------------- */

static void test_hex(void)
{
	char h[9];
	uint8_t b[4];
	pgs_hex((const uint8_t *)"\x01\xab\xff\x00", 4, h);
	CHECK_STR(h, "01abff00");
	char *d = pgs_hex_dup((const uint8_t *)"\x7f", 1);
	CHECK_STR(d, "7f");
	free(d);
	d = pgs_hex_dup(NULL, 0);
	CHECK_STR(d, "");
	free(d);
	CHECK_EQ_INT(pgs_unhex("01ABff00", 8, b, 4), PGS_OK);
	CHECK(memcmp(b, "\x01\xab\xff\x00", 4) == 0);
	CHECK_EQ_INT(pgs_unhex("", 0, b, 0), PGS_OK);
	CHECK_EQ_INT(pgs_hexval('F'), 15);
	CHECK_EQ_INT(pgs_hexval('g'), -1);
	CHECK_EQ_INT(pgs_hexval(0), -1);
	/* negative: wrong length, bad digit, prefix, whitespace, NUL */
	CHECK_EQ_INT(pgs_unhex("0g", 2, b, 1), PGS_ERR);
	CHECK_EQ_INT(pgs_unhex("0a", 2, b, 2), PGS_ERR);
	CHECK_EQ_INT(pgs_unhex("0a0", 3, b, 1), PGS_ERR);
	CHECK_EQ_INT(pgs_unhex("0x0a", 4, b, 2), PGS_ERR);
	CHECK_EQ_INT(pgs_unhex("0a 0", 4, b, 2), PGS_ERR);
	CHECK_EQ_INT(pgs_unhex("0\0", 2, b, 1), PGS_ERR);
	CHECK_EQ_INT(pgs_unhex("0a", 2, b, SIZE_MAX), PGS_ERR);
}

/* --- base64 ---------------------------------------------------------------------- */

static void test_b64_vectors(void)
{
	static const struct {
		const char *raw, *enc;
	} v[] = {{"", ""},
	         {"f", "Zg=="},
	         {"fo", "Zm8="},
	         {"foo", "Zm9v"},
	         {"foob", "Zm9vYg=="},
	         {"fooba", "Zm9vYmE="},
	         {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < PGS_ARRAY_LEN(v); i++) {
		char enc[64];
		uint8_t dec[64];
		size_t n = 99, m = 99;
		CHECK_EQ_INT(pgs_b64_encode((const uint8_t *)v[i].raw, strlen(v[i].raw), enc,
		                            sizeof(enc), &n),
		             PGS_OK);
		CHECK(n == strlen(v[i].enc) && memcmp(enc, v[i].enc, n) == 0);
		CHECK(n == PGS_B64_LEN(strlen(v[i].raw)));
		CHECK_EQ_INT(pgs_b64_decode(v[i].enc, strlen(v[i].enc), dec, sizeof(dec), &m),
		             PGS_OK);
		CHECK(m == strlen(v[i].raw) && memcmp(dec, v[i].raw, m) == 0);
	}
}

static void test_b64_all_bytes(void)
{
	uint8_t raw[256], dec[256];
	char enc[400];
	for (int i = 0; i < 256; i++)
		raw[i] = (uint8_t)i;
	for (size_t len = 0; len <= 256; len += 1) {
		size_t n = 0, m = 0;
		CHECK_EQ_INT(pgs_b64_encode(raw + (256 - len), len, enc, sizeof(enc), &n), PGS_OK);
		CHECK_EQ_INT(pgs_b64_decode(enc, n, dec, sizeof(dec), &m), PGS_OK);
		CHECK(m == len && memcmp(dec, raw + (256 - len), len) == 0);
	}
	/* agrees with OpenSSL's encoder and decoder */
	unsigned char ossl[400];
	size_t n = 0;
	int on = EVP_EncodeBlock(ossl, raw, 256);
	CHECK_EQ_INT(pgs_b64_encode(raw, 256, enc, sizeof(enc), &n), PGS_OK);
	CHECK(on == (int)n && memcmp(ossl, enc, n) == 0);
	unsigned char back[300];
	CHECK(EVP_DecodeBlock(back, (const unsigned char *)enc, (int)n) >= 256 &&
	      memcmp(back, raw, 256) == 0);
}

/* base64url (JWS): the RFC 7515 examples, canonical encodings only. */
static void test_b64url(void)
{
	uint8_t out[64];
	size_t n = 0;
	CHECK_EQ_INT(pgs_b64url_decode("eyJhbGciOiJIUzI1NiJ9", 20, out, sizeof(out), &n), PGS_OK);
	CHECK(n == 15 && memcmp(out, "{\"alg\":\"HS256\"}", 15) == 0);
	CHECK_EQ_INT(pgs_b64url_decode("-_8", 3, out, sizeof(out), &n), PGS_OK);
	CHECK(n == 2 && out[0] == 0xfb && out[1] == 0xff);
	CHECK_EQ_INT(pgs_b64url_decode("", 0, out, sizeof(out), &n), PGS_OK);
	CHECK(n == 0);
	static const char *const bad[] = {"A", "AB==", "a+bc", "a/bc", "AB", "ab c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(pgs_b64url_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n),
		             PGS_ERR);
	CHECK_EQ_INT(pgs_b64url_decode("AAAA", 4, out, 2, &n), PGS_ERR); /* does not fit */
}

static void test_b64_negative(void)
{
	static const char *bad[] = {"Zg=",      "Zg",       "Z===",     "====",     "Zg=a",
	                            "Z g=",     "Zm9v\n",   "Zh==",     "Zm9=",     "Zm-v",
	                            "Zm_v",     "=Zm9",     "Zg==Zg==", "Zm9\x80",  "aGVsbG8",
	                            "aGV=bG8=", "aGVs bG8", " Zm9v",    "Zm9v\r\n", "Zm9vYmF="};
	uint8_t out[16];
	size_t n = 77;
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		t_current = bad[i];
		CHECK_EQ_INT(pgs_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), PGS_ERR);
	}
	t_current = "test_b64_negative";
	CHECK(n == 77); /* the length is not written on failure */
	/* an embedded NUL is not in the alphabet */
	CHECK_EQ_INT(pgs_b64_decode("Zm\0v", 4, out, sizeof(out), &n), PGS_ERR);
	/* does not fit */
	CHECK_EQ_INT(pgs_b64_decode("Zm9vYmFy", 8, out, 5, &n), PGS_ERR);
	CHECK_EQ_INT(pgs_b64_decode("aGVsbG8=", 8, out, 4, &n), PGS_ERR);
	CHECK_EQ_INT(pgs_b64_decode("Zm9vYmFy", 8, out, 6, &n), PGS_OK);
	char enc[4];
	CHECK_EQ_INT(pgs_b64_encode((const uint8_t *)"foob", 4, enc, sizeof(enc), &n), PGS_ERR);
	/* a failed decode leaves no partial bytes behind */
	memset(out, 0x55, sizeof(out));
	CHECK_EQ_INT(pgs_b64_decode("c2VjcmV0Zh==", 12, out, sizeof(out), &n), PGS_ERR);
	bool wiped = true;
	for (size_t i = 0; i < 7; i++)
		wiped = wiped && out[i] == 0;
	CHECK(wiped);
}

int main(void)
{
	RUN(test_buf_build);
	RUN(test_buf_reset_wipes);
	RUN(test_buf_reserve_and_limit);
	RUN(test_be);
	RUN(test_hex);
	RUN(test_b64_vectors);
	RUN(test_b64_all_bytes);
	RUN(test_b64_negative);
	RUN(test_b64url);
	return t_summary("test_common");
}
