/* auth_util.c - HMAC/SHA-256, nonces and the SCRAM attribute cursor (base64: common.h). */
#include "auth/auth_int.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

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
	rc = pgs_b64_encode(raw, sizeof(raw), out, cap - 1, outlen) == PGS_OK ? AUTH_OK
	                                                                      : AUTH_ERR_NOSPACE;
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
