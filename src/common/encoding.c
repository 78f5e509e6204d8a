/* encoding.c - hex and constant-time base64 of byte strings (the tree's one copy of each). */
#include "common/common.h"

#include <string.h>

void pgs_hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

char *pgs_hex_dup(const uint8_t *in, size_t n)
{
	char *s = pgs_xmalloc(2 * n + 1);
	pgs_hex(in, n, s);
	return s;
}

int pgs_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pgs_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
	if (outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
		return PGS_ERR;
	for (size_t i = 0; i < outlen; i++) {
		int hi = pgs_hexval(hex[2 * i]), lo = pgs_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return PGS_ERR;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return PGS_OK;
}

/*
 * Base64 without branches or table lookups that depend on the data. The masks below are
 * 0xff when a condition holds, else 0.
 */
static unsigned ct_lt(unsigned a, unsigned b) /* a < b, for a, b < 256 */
{
	return ((a - b) >> 8) & 0xff;
}

static unsigned ct_eq(unsigned a, unsigned b)
{
	return ((((a ^ b) - 1u) >> 8) & 0xff);
}

static char b64_char(unsigned v) /* v < 64 */
{
	unsigned c = (ct_lt(v, 26) & (v + 'A')) | (~ct_lt(v, 26) & ct_lt(v, 52) & (v - 26 + 'a')) |
	             (~ct_lt(v, 52) & ct_lt(v, 62) & (v - 52 + '0')) | (ct_eq(v, 62) & '+') |
	             (ct_eq(v, 63) & '/');
	return (char)(c & 0xff);
}

/* 0..63, or 0x100 bit set when c is not in the alphabet. */
static unsigned b64_value(unsigned char ch)
{
	unsigned c = ch;
	unsigned up = ~ct_lt(c, 'A') & ct_lt(c, 'Z' + 1);
	unsigned lo = ~ct_lt(c, 'a') & ct_lt(c, 'z' + 1);
	unsigned dg = ~ct_lt(c, '0') & ct_lt(c, '9' + 1);
	unsigned pl = ct_eq(c, '+'), sl = ct_eq(c, '/');
	unsigned v = (up & (c - 'A')) | (lo & (c - 'a' + 26)) | (dg & (c - '0' + 52)) | (pl & 62) |
	             (sl & 63);
	unsigned ok = up | lo | dg | pl | sl;
	return (v & 0x3f) | ((~ok & 1u) << 8);
}

size_t pgs_b64_enc_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

int pgs_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;
	if (n > SIZE_MAX / 2 || pgs_b64_enc_len(n) > cap)
		return PGS_ERR;
	for (size_t i = 0; i < n; i += 3) {
		unsigned b0 = in[i], b1 = i + 1 < n ? in[i + 1] : 0, b2 = i + 2 < n ? in[i + 2] : 0;
		out[o++] = b64_char(b0 >> 2);
		out[o++] = b64_char(((b0 & 3) << 4) | (b1 >> 4));
		out[o++] = i + 1 < n ? b64_char(((b1 & 15) << 2) | (b2 >> 6)) : '=';
		out[o++] = i + 2 < n ? b64_char(b2 & 63) : '=';
	}
	*outlen = o;
	return PGS_OK;
}

int pgs_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t pad = 0, o = 0;
	unsigned bad = 0;
	if (n % 4 != 0)
		return PGS_ERR;
	if (n > 0 && in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	if ((n - pad) * 3 / 4 > cap)
		return PGS_ERR;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		size_t keep = last ? 4 - pad : 4; /* characters carrying data in this group */
		unsigned v[4] = {0, 0, 0, 0};
		for (size_t j = 0; j < keep; j++)
			v[j] = b64_value((unsigned char)in[i + j]);
		for (size_t j = 0; j < 4; j++)
			bad |= v[j] & 0x100;
		unsigned w = (v[0] & 63) << 18 | (v[1] & 63) << 12 | (v[2] & 63) << 6 | (v[3] & 63);
		out[o++] = (uint8_t)(w >> 16);
		if (keep > 2)
			out[o++] = (uint8_t)(w >> 8);
		if (keep > 3)
			out[o++] = (uint8_t)w;
		/* canonical: the bits that padding hides must be zero */
		if (keep == 2)
			bad |= w & 0xffff;
		else if (keep == 3)
			bad |= w & 0xff;
	}
	if (bad) {
		pgs_wipe(out, o); /* a partial decode of key material is still key material */
		return PGS_ERR;
	}
	*outlen = o;
	return PGS_OK;
}

/* base64url (RFC 7515 section 2: URL-safe alphabet, no padding) for public data (JWS tokens):
 * plain table-free code, not constant-time. */
static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes canonical unpadded base64url. A length of 1 mod 4 and non-zero unused low bits
 * are refused, so that a token has exactly one encoding. */
int pgs_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	if (len % 4 == 1)
		return PGS_ERR;
	size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (n > cap)
		return PGS_ERR;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_val((unsigned char)in[i]);
		if (v < 0)
			return PGS_ERR;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc)
		return PGS_ERR;
	*outlen = o;
	return PGS_OK;
}
