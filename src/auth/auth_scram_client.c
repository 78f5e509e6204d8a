/* auth_scram_client.c - the client side of SCRAM-SHA-256(-PLUS): pgseal authenticating upstream. */
#include "auth/auth_int.h"

#include <string.h>
#include <openssl/crypto.h>

static int fail(struct auth_scram_client *c, int rc, const char *detail)
{
	c->state = AUTH_STATE_FAILED;
	c->detail = detail;
	OPENSSL_cleanse(c->password, sizeof(c->password));
	OPENSSL_cleanse(c->client_key, sizeof(c->client_key));
	OPENSSL_cleanse(c->server_signature, sizeof(c->server_signature));
	return rc;
}

static int client_init(struct auth_scram_client *c, enum auth_cb_policy policy,
                       const uint8_t *cb_data, size_t cb_len)
{
	memset(c, 0, sizeof(*c));
	if ((policy != AUTH_CB_DISABLE && policy != AUTH_CB_PREFER && policy != AUTH_CB_REQUIRE) ||
	    cb_len > AUTH_CB_MAX || (cb_len && !cb_data))
		return fail(c, AUTH_ERR_INVALID, "invalid channel-binding arguments");
	if (policy == AUTH_CB_REQUIRE && cb_len == 0)
		return fail(c, AUTH_ERR_INVALID,
		            "channel binding required without TLS certificate data");
	c->policy = policy;
	if (cb_len)
		memcpy(c->cb_data, cb_data, cb_len);
	c->cb_len = cb_len;
	c->state = AUTH_STATE_READY;
	return AUTH_OK;
}

int auth_scram_client_init_keys(struct auth_scram_client *c, const struct auth_verifier *v,
                                const uint8_t client_key[AUTH_KEY_LEN], enum auth_cb_policy policy,
                                const uint8_t *cb_data, size_t cb_len)
{
	uint8_t h[AUTH_KEY_LEN];
	int rc = client_init(c, policy, cb_data, cb_len);
	if (rc != AUTH_OK)
		return rc;
	if (!v || !client_key || v->iterations == 0 || v->iterations > AUTH_ITERATIONS_MAX ||
	    v->salt_len == 0 || v->salt_len > AUTH_SALT_MAX)
		return fail(c, AUTH_ERR_INVALID, "invalid verifier");
	if (auth_sha256(client_key, AUTH_KEY_LEN, h) != AUTH_OK)
		return fail(c, AUTH_ERR_INTERNAL, "SCRAM computation failed");
	if (CRYPTO_memcmp(h, v->stored_key, AUTH_KEY_LEN) != 0) {
		OPENSSL_cleanse(h, sizeof(h));
		return fail(c, AUTH_ERR_INVALID, "ClientKey does not belong to the verifier");
	}
	OPENSSL_cleanse(h, sizeof(h));
	c->v = *v;
	memcpy(c->client_key, client_key, AUTH_KEY_LEN);
	return AUTH_OK;
}

int auth_scram_client_init_from_server(struct auth_scram_client *c,
                                       const struct auth_scram_server *s,
                                       enum auth_cb_policy policy, const uint8_t *cb_data,
                                       size_t cb_len)
{
	if (!s || !auth_scram_server_done(s)) {
		memset(c, 0, sizeof(*c));
		return fail(c, AUTH_ERR_INVALID, "server exchange not finished");
	}
	return auth_scram_client_init_keys(c, &s->v, s->client_key, policy, cb_data, cb_len);
}

int auth_scram_client_init_password(struct auth_scram_client *c, const char *password,
                                    enum auth_cb_policy policy, const uint8_t *cb_data,
                                    size_t cb_len)
{
	size_t n = password ? strlen(password) : 0;
	int rc = client_init(c, policy, cb_data, cb_len);
	if (rc != AUTH_OK)
		return rc;
	if (!password || n >= sizeof(c->password))
		return fail(c, AUTH_ERR_INVALID, "password missing or too long");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)password[i] >= 0x80)
			return fail(c, AUTH_ERR_INVALID, "non-ASCII passwords are not supported");
	memcpy(c->password, password, n);
	c->password_len = n;
	c->password_mode = true;
	return AUTH_OK;
}

/* The AuthenticationSASL body: names, each NUL-terminated, then an empty name. */
static int parse_mechanisms(const uint8_t *p, size_t n, bool *scram, bool *plus)
{
	size_t pos = 0;
	*scram = *plus = false;
	while (pos < n) {
		const uint8_t *z = memchr(p + pos, '\0', n - pos);
		size_t len;
		if (!z)
			return AUTH_ERR_PROTOCOL;
		len = (size_t)(z - (p + pos));
		if (len == 0)
			return pos + 1 == n ? AUTH_OK : AUTH_ERR_PROTOCOL;
		if (len == strlen(AUTH_MECH_SCRAM) && memcmp(p + pos, AUTH_MECH_SCRAM, len) == 0)
			*scram = true;
		else if (len == strlen(AUTH_MECH_SCRAM_PLUS) &&
		         memcmp(p + pos, AUTH_MECH_SCRAM_PLUS, len) == 0)
			*plus = true;
		pos += len + 1;
	}
	return AUTH_ERR_PROTOCOL; /* no terminating empty name */
}

int auth_scram_client_first(struct auth_scram_client *c, const uint8_t *mechs, size_t mechs_len,
                            const char **mechanism, uint8_t *out, size_t cap, size_t *outlen)
{
	const char *gs2;
	bool scram, plus;
	size_t ulen = strlen(c->username);
	int rc;

	*outlen = 0;
	*mechanism = NULL;
	if (c->state != AUTH_STATE_READY)
		return fail(c, AUTH_ERR_PROTOCOL, "unexpected AuthenticationSASL");
	if (!mechs || parse_mechanisms(mechs, mechs_len, &scram, &plus) != AUTH_OK)
		return fail(c, AUTH_ERR_PROTOCOL, "malformed SASL mechanism list");

	/* libpq's rules: bind when the hop is TLS and -PLUS is offered; on TLS without
	 * -PLUS say "y" (a server that did offer it then detects the downgrade). */
	if (c->policy != AUTH_CB_DISABLE && c->cb_len && plus) {
		*mechanism = AUTH_MECH_SCRAM_PLUS;
		gs2 = "p=tls-server-end-point,,";
	} else if (c->policy == AUTH_CB_REQUIRE) {
		return fail(c, AUTH_ERR_CHANNEL_BINDING,
		            "server does not offer SCRAM-SHA-256-PLUS");
	} else if (scram) {
		*mechanism = AUTH_MECH_SCRAM;
		gs2 = (c->policy != AUTH_CB_DISABLE && c->cb_len) ? "y,," : "n,,";
	} else {
		return fail(c, AUTH_ERR_NO_MECHANISM, "server offers no SCRAM-SHA-256");
	}
	c->cbind_flag = gs2[0];
	c->gs2_len = strlen(gs2);
	memcpy(c->gs2_header, gs2, c->gs2_len);

	if (!c->cnonce_len &&
	    auth_random_nonce(c->cnonce, sizeof(c->cnonce), &c->cnonce_len) != AUTH_OK)
		return fail(c, AUTH_ERR_INTERNAL, "random number generator failed");
	/* client-first-message-bare: n=,r=nonce (the name is in the startup packet) */
	c->cfb_len = 0;
	rc = auth_buf_put(c->cfb, sizeof(c->cfb), &c->cfb_len, "n=", 2);
	if (rc == AUTH_OK)
		rc = auth_buf_put(c->cfb, sizeof(c->cfb), &c->cfb_len, c->username, ulen);
	if (rc == AUTH_OK)
		rc = auth_buf_put(c->cfb, sizeof(c->cfb), &c->cfb_len, ",r=", 3);
	if (rc == AUTH_OK)
		rc = auth_buf_put(c->cfb, sizeof(c->cfb), &c->cfb_len, c->cnonce, c->cnonce_len);
	if (rc != AUTH_OK)
		return fail(c, AUTH_ERR_INTERNAL, "client-first-message too long");
	if (!out || cap < c->gs2_len + c->cfb_len)
		return fail(c, AUTH_ERR_NOSPACE, "output buffer too small");
	memcpy(out, c->gs2_header, c->gs2_len);
	memcpy(out + c->gs2_len, c->cfb, c->cfb_len);
	*outlen = c->gs2_len + c->cfb_len;
	c->state = AUTH_STATE_FIRST;
	return AUTH_OK;
}

/* server-first-message: r=cnonce+snonce,s=salt,i=iterations, nothing else (as libpq). */
static int parse_server_first(struct auth_scram_client *c, const char *m, size_t len, uint8_t *salt,
                              size_t *salt_len, uint32_t *iterations)
{
	struct auth_cursor cur = {.p = m, .len = len, .pos = 0};
	const char *val;
	size_t vlen;
	if (len >= 2 && m[0] == 'm' && m[1] == '=') {
		c->detail = "mandatory SCRAM extension is not supported";
		return AUTH_ERR_PROTOCOL;
	}
	if (auth_attr_next(&cur, 'r', NULL, &val, &vlen) != AUTH_OK || vlen <= c->cnonce_len ||
	    memcmp(val, c->cnonce, c->cnonce_len) != 0 || !auth_printable(val, vlen)) {
		c->detail = "server nonce missing, malformed or not extending ours";
		return AUTH_ERR_PROTOCOL;
	}
	if (auth_attr_next(&cur, 's', NULL, &val, &vlen) != AUTH_OK ||
	    pgs_b64_decode(val, vlen, salt, AUTH_SALT_MAX, salt_len) != AUTH_OK || *salt_len == 0) {
		c->detail = "malformed salt";
		return AUTH_ERR_PROTOCOL;
	}
	if (auth_attr_next(&cur, 'i', NULL, &val, &vlen) != AUTH_OK ||
	    auth_parse_iterations(val, vlen, iterations) != AUTH_OK) {
		c->detail = "malformed or out-of-range iteration count";
		return AUTH_ERR_PROTOCOL;
	}
	if (!auth_cursor_end(&cur)) {
		c->detail = "garbage at the end of server-first-message";
		return AUTH_ERR_PROTOCOL;
	}
	return AUTH_OK;
}

int auth_scram_client_final(struct auth_scram_client *c, const uint8_t *msg, size_t len,
                            uint8_t *out, size_t cap, size_t *outlen)
{
	const char *m = (const char *)msg;
	uint8_t salt[AUTH_SALT_MAX], cbind[sizeof(c->gs2_header) + AUTH_CB_MAX];
	uint8_t sig[AUTH_KEY_LEN], proof[AUTH_KEY_LEN];
	char cfwp[AUTH_SCRAM_MSG_MAX], am[3 * AUTH_SCRAM_MSG_MAX + 2];
	char c64[PGS_B64_LEN(sizeof(cbind))], p64[PGS_B64_LEN(AUTH_KEY_LEN)];
	size_t salt_len = 0, cblen, c64len = 0, p64len = 0, cfwp_len = 0, amlen = 0;
	const char *nonce;
	uint32_t iterations = 0;
	int rc;

	*outlen = 0;
	if (c->state != AUTH_STATE_FIRST)
		return fail(c, AUTH_ERR_PROTOCOL, "unexpected AuthenticationSASLContinue");
	if (!msg || len == 0 || len > AUTH_SCRAM_MSG_MAX || memchr(msg, '\0', len))
		return fail(c, AUTH_ERR_PROTOCOL,
		            "server-first-message empty, too long or has NUL");
	rc = parse_server_first(c, m, len, salt, &salt_len, &iterations);
	if (rc != AUTH_OK)
		return fail(c, rc, c->detail);

	if (c->password_mode) {
		c->password[c->password_len] = '\0';
		rc = auth_scram_keys_from_password(c->password, salt, salt_len, iterations,
		                                   c->client_key, c->v.stored_key, c->v.server_key);
		OPENSSL_cleanse(c->password, sizeof(c->password));
		if (rc != AUTH_OK)
			return fail(c, AUTH_ERR_INTERNAL, "SCRAM key derivation failed");
		memcpy(c->v.salt, salt, salt_len);
		c->v.salt_len = salt_len;
		c->v.iterations = iterations;
	} else if (salt_len != c->v.salt_len || memcmp(salt, c->v.salt, salt_len) != 0 ||
	           iterations != c->v.iterations) {
		/* The password changed upstream since the verifier was read. */
		return fail(c, AUTH_ERR_STALE_VERIFIER,
		            "server's salt or iterations differ from the verifier");
	}
	memcpy(c->sf, m, len);
	c->sf_len = len;

	/* client-final-message-without-proof: c=base64(gs2 header [+ cb data]),r=nonce */
	memcpy(cbind, c->gs2_header, c->gs2_len);
	cblen = c->gs2_len;
	if (c->cbind_flag == 'p') {
		memcpy(cbind + cblen, c->cb_data, c->cb_len);
		cblen += c->cb_len;
	}
	nonce = m + 2;
	rc = pgs_b64_encode(cbind, cblen, c64, sizeof(c64), &c64len) == PGS_OK ? AUTH_OK
	                                                                       : AUTH_ERR_NOSPACE;
	if (rc == AUTH_OK)
		rc = auth_buf_put(cfwp, sizeof(cfwp), &cfwp_len, "c=", 2);
	if (rc == AUTH_OK)
		rc = auth_buf_put(cfwp, sizeof(cfwp), &cfwp_len, c64, c64len);
	if (rc == AUTH_OK)
		rc = auth_buf_put(cfwp, sizeof(cfwp), &cfwp_len, ",r=", 3);
	if (rc == AUTH_OK)
		rc = auth_buf_put(cfwp, sizeof(cfwp), &cfwp_len, nonce,
		                  (size_t)((const char *)memchr(m, ',', len) - nonce));
	if (rc == AUTH_OK)
		rc = auth_build_message(c->cfb, c->cfb_len, c->sf, c->sf_len, cfwp, cfwp_len, am,
		                        sizeof(am), &amlen);
	/* ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage) */
	if (rc == AUTH_OK)
		rc = auth_hmac(c->v.stored_key, am, amlen, sig);
	for (size_t i = 0; rc == AUTH_OK && i < AUTH_KEY_LEN; i++)
		proof[i] = c->client_key[i] ^ sig[i];
	if (rc == AUTH_OK)
		rc = auth_hmac(c->v.server_key, am, amlen, c->server_signature);
	if (rc == AUTH_OK)
		rc = pgs_b64_encode(proof, AUTH_KEY_LEN, p64, sizeof(p64), &p64len) == PGS_OK
		         ? AUTH_OK
		         : AUTH_ERR_NOSPACE;
	if (rc == AUTH_OK)
		rc = auth_buf_put(cfwp, sizeof(cfwp), &cfwp_len, ",p=", 3);
	if (rc == AUTH_OK)
		rc = auth_buf_put(cfwp, sizeof(cfwp), &cfwp_len, p64, p64len);
	if (rc != AUTH_OK) {
		rc = fail(c, rc == AUTH_ERR_NOSPACE ? AUTH_ERR_PROTOCOL : rc,
		          "client-final-message cannot be built");
		goto out;
	}
	if (!out || cap < cfwp_len) {
		rc = fail(c, AUTH_ERR_NOSPACE, "output buffer too small");
		goto out;
	}
	memcpy(out, cfwp, cfwp_len);
	*outlen = cfwp_len;
	c->state = AUTH_STATE_FINAL;
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(p64, sizeof(p64));
	OPENSSL_cleanse(cfwp, sizeof(cfwp));
	return rc;
}

int auth_scram_client_verify(struct auth_scram_client *c, const uint8_t *msg, size_t len)
{
	struct auth_cursor cur = {.p = (const char *)msg, .len = len, .pos = 0};
	uint8_t sig[AUTH_KEY_LEN];
	const char *val;
	size_t vlen, slen = 0;
	char attr = 0;
	int rc;

	if (c->state != AUTH_STATE_FINAL)
		return fail(c, AUTH_ERR_PROTOCOL, "unexpected AuthenticationSASLFinal");
	if (!msg || len == 0 || len > AUTH_SCRAM_MSG_MAX || memchr(msg, '\0', len))
		return fail(c, AUTH_ERR_PROTOCOL,
		            "server-final-message empty, too long or has NUL");
	if (auth_attr_next(&cur, 0, &attr, &val, &vlen) != AUTH_OK)
		return fail(c, AUTH_ERR_PROTOCOL, "malformed server-final-message");
	if (attr == 'e')
		return fail(c, AUTH_ERR_UPSTREAM, "server reported a SCRAM error");
	if (attr != 'v' || !auth_cursor_end(&cur) || vlen != PGS_B64_LEN(AUTH_KEY_LEN) ||
	    pgs_b64_decode(val, vlen, sig, sizeof(sig), &slen) != AUTH_OK || slen != AUTH_KEY_LEN)
		return fail(c, AUTH_ERR_PROTOCOL, "malformed server signature");
	if (CRYPTO_memcmp(sig, c->server_signature, AUTH_KEY_LEN) != 0) {
		rc = fail(c, AUTH_ERR_SERVER_SIGNATURE, "server signature does not verify");
		goto out;
	}
	c->state = AUTH_STATE_DONE;
	c->detail = NULL;
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

bool auth_scram_client_done(const struct auth_scram_client *c)
{
	return c->state == AUTH_STATE_DONE;
}

void auth_scram_client_clear(struct auth_scram_client *c)
{
	if (c)
		OPENSSL_cleanse(c, sizeof(*c));
}

int auth_scram_client_set_test_nonce(struct auth_scram_client *c, const char *username,
                                     const char *nonce)
{
	size_t n = nonce ? strlen(nonce) : 0, u = username ? strlen(username) : 0;
	if (c->state != AUTH_STATE_READY || n == 0 || n >= sizeof(c->cnonce) ||
	    !auth_printable(nonce, n) || u >= sizeof(c->username) ||
	    (u && (strchr(username, ',') || strchr(username, '='))))
		return AUTH_ERR_INVALID;
	memcpy(c->cnonce, nonce, n);
	c->cnonce_len = n;
	memcpy(c->username, username ? username : "", u + 1);
	return AUTH_OK;
}
