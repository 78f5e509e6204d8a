/* auth_util.c - constant-time base64, HMAC/SHA-256, nonces and the SCRAM attribute cursor. */
#include "auth/auth_int.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

/*
 * Base64 of key material (verifiers, proofs, signatures) is computed without branches
 * or table lookups that depend on the data, so its timing and cache footprint say
 * nothing about the bytes. The masks below are 0xff when a condition holds, else 0.
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

size_t auth_b64_enc_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

int auth_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t need = auth_b64_enc_len(n), o = 0;
	if (n > SIZE_MAX / 2 || need > cap)
		return AUTH_ERR_NOSPACE;
	for (size_t i = 0; i < n; i += 3) {
		unsigned b0 = in[i], b1 = i + 1 < n ? in[i + 1] : 0, b2 = i + 2 < n ? in[i + 2] : 0;
		out[o++] = b64_char(b0 >> 2);
		out[o++] = b64_char(((b0 & 3) << 4) | (b1 >> 4));
		out[o++] = i + 1 < n ? b64_char(((b1 & 15) << 2) | (b2 >> 6)) : '=';
		out[o++] = i + 2 < n ? b64_char(b2 & 63) : '=';
	}
	*outlen = o;
	return AUTH_OK;
}

int auth_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t pad = 0, o = 0;
	unsigned bad = 0;
	if (n % 4 != 0)
		return AUTH_ERR_PROTOCOL;
	if (n > 0 && in[n - 1] == '=')
		pad = (n > 1 && in[n - 2] == '=') ? 2 : 1;
	if ((n - pad) * 3 / 4 > cap)
		return AUTH_ERR_NOSPACE;
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
	if (bad)
		return AUTH_ERR_PROTOCOL;
	*outlen = o;
	return AUTH_OK;
}

int auth_hmac(const uint8_t key[AUTH_KEY_LEN], const void *data, size_t n,
              uint8_t out[AUTH_KEY_LEN])
{
	unsigned int mdlen = 0;
	if (!HMAC(EVP_sha256(), key, AUTH_KEY_LEN, data, n, out, &mdlen) || mdlen != AUTH_KEY_LEN)
		return AUTH_ERR_INTERNAL;
	return AUTH_OK;
}

int auth_sha256(const void *p, size_t n, uint8_t out[AUTH_KEY_LEN])
{
	unsigned int mdlen = 0;
	if (!EVP_Digest(p, n, out, &mdlen, EVP_sha256(), NULL) || mdlen != AUTH_KEY_LEN)
		return AUTH_ERR_INTERNAL;
	return AUTH_OK;
}

bool auth_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

int auth_random_nonce(char *out, size_t cap, size_t *outlen)
{
	uint8_t raw[18];
	int rc;
	if (cap < 25)
		return AUTH_ERR_NOSPACE;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return AUTH_ERR_INTERNAL;
	rc = auth_b64_encode(raw, sizeof(raw), out, cap - 1, outlen);
	if (rc == AUTH_OK)
		out[*outlen] = '\0';
	return rc;
}

int auth_attr_next(struct auth_cursor *c, char expected, char *attr, const char **val, size_t *vlen)
{
	size_t start;
	char a;
	if (c->pos > 0) {
		if (c->pos >= c->len || c->p[c->pos] != ',')
			return AUTH_ERR_PROTOCOL;
		c->pos++;
	}
	if (c->len - c->pos < 2)
		return AUTH_ERR_PROTOCOL;
	a = c->p[c->pos];
	if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')) || c->p[c->pos + 1] != '=')
		return AUTH_ERR_PROTOCOL;
	if (expected && a != expected)
		return AUTH_ERR_PROTOCOL;
	c->pos += 2;
	start = c->pos;
	while (c->pos < c->len && c->p[c->pos] != ',')
		c->pos++;
	if (attr)
		*attr = a;
	*val = c->p + start;
	*vlen = c->pos - start;
	return AUTH_OK;
}

bool auth_cursor_end(const struct auth_cursor *c)
{
	return c->pos == c->len;
}

int auth_buf_put(char *buf, size_t cap, size_t *len, const void *p, size_t n)
{
	if (n > cap - *len)
		return AUTH_ERR_NOSPACE;
	memcpy(buf + *len, p, n);
	*len += n;
	return AUTH_OK;
}

/* AuthMessage = client-first-message-bare "," server-first-message "," client-final-
 * message-without-proof (RFC 5802 section 3). */
int auth_build_message(const char *cfb, size_t cfb_len, const char *sf, size_t sf_len,
                       const char *cfwp, size_t cfwp_len, char *am, size_t cap, size_t *amlen)
{
	int rc;
	*amlen = 0;
	rc = auth_buf_put(am, cap, amlen, cfb, cfb_len);
	if (rc == AUTH_OK)
		rc = auth_buf_put(am, cap, amlen, ",", 1);
	if (rc == AUTH_OK)
		rc = auth_buf_put(am, cap, amlen, sf, sf_len);
	if (rc == AUTH_OK)
		rc = auth_buf_put(am, cap, amlen, ",", 1);
	if (rc == AUTH_OK)
		rc = auth_buf_put(am, cap, amlen, cfwp, cfwp_len);
	return rc;
}

int auth_parse_iterations(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 10)
		return AUTH_ERR_PROTOCOL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return AUTH_ERR_PROTOCOL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > AUTH_ITERATIONS_MAX)
		return AUTH_ERR_PROTOCOL;
	*out = (uint32_t)v;
	return AUTH_OK;
}
