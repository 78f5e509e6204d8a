/* auth_scram_server.c - the server side of SCRAM-SHA-256(-PLUS): pgseal authenticating a client. */
#include "auth/auth_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#define MOCK_SALT_LEN 16
#define MOCK_ITERATIONS 4096
#define CLIENT_NONCE_MAX 1024

/* Records the error, wipes what was derived so far and makes every later call fail. */
static int fail(struct auth_scram_server *s, int rc, const char *detail)
{
	s->state = AUTH_STATE_FAILED;
	s->detail = detail;
	OPENSSL_cleanse(s->client_key, sizeof(s->client_key));
	return rc;
}

int auth_scram_server_init(struct auth_scram_server *s, const struct auth_verifier *v,
                           const uint8_t *cb_data, size_t cb_len)
{
	memset(s, 0, sizeof(*s));
	if (!v || v->iterations == 0 || v->iterations > AUTH_ITERATIONS_MAX || v->salt_len == 0 ||
	    v->salt_len > AUTH_SALT_MAX || cb_len > AUTH_CB_MAX || (cb_len && !cb_data))
		return fail(s, AUTH_ERR_INVALID, "invalid verifier or channel-binding data");
	s->v = *v;
	if (cb_len) {
		memcpy(s->cb_data, cb_data, cb_len);
		s->cb_len = cb_len;
		s->plus_offered = true;
	}
	s->state = AUTH_STATE_READY;
	return AUTH_OK;
}

static uint8_t mock_secret[AUTH_KEY_LEN];
static bool mock_secret_ok;
static pthread_once_t mock_once = PTHREAD_ONCE_INIT;

static void mock_secret_init(void)
{
	mock_secret_ok = RAND_bytes(mock_secret, sizeof(mock_secret)) == 1;
}

int auth_scram_server_init_mock(struct auth_scram_server *s, const char *username,
                                const uint8_t *cb_data, size_t cb_len)
{
	struct auth_verifier v;
	uint8_t digest[AUTH_KEY_LEN];
	size_t ulen = username ? strlen(username) : 0;
	uint8_t buf[AUTH_KEY_LEN + 256];
	int rc = AUTH_ERR_INTERNAL;
	memset(&v, 0, sizeof(v));
	memset(s, 0, sizeof(*s));
	if (pthread_once(&mock_once, mock_secret_init) != 0 || !mock_secret_ok)
		goto out;
	/* The salt must stay the same for a user name across attempts, or its changing
	 * would tell that the user does not exist. */
	if (ulen > 256)
		ulen = 256;
	memcpy(buf, mock_secret, AUTH_KEY_LEN);
	if (ulen) {
		/* hashed bytes, not a string: the length goes to auth_sha256 */
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(buf + AUTH_KEY_LEN, username, ulen);
	}
	if (auth_sha256(buf, AUTH_KEY_LEN + ulen, digest) != AUTH_OK)
		goto out;
	memcpy(v.salt, digest, MOCK_SALT_LEN);
	v.salt_len = MOCK_SALT_LEN;
	v.iterations = MOCK_ITERATIONS;
	if (RAND_bytes(v.stored_key, AUTH_KEY_LEN) != 1 ||
	    RAND_bytes(v.server_key, AUTH_KEY_LEN) != 1)
		goto out;
	rc = auth_scram_server_init(s, &v, cb_data, cb_len);
	if (rc == AUTH_OK)
		s->doomed = true;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	auth_verifier_clear(&v);
	if (rc != AUTH_OK && s->state != AUTH_STATE_FAILED)
		return fail(s, rc, "cannot prepare the exchange");
	return rc;
}

int auth_scram_server_mechanisms(const struct auth_scram_server *s, uint8_t *out, size_t cap,
                                 size_t *outlen)
{
	size_t len = 0;
	int rc = AUTH_OK;
	*outlen = 0;
	if (s->plus_offered)
		rc = auth_buf_put((char *)out, cap, &len, AUTH_MECH_SCRAM_PLUS,
		                  sizeof(AUTH_MECH_SCRAM_PLUS));
	if (rc == AUTH_OK)
		rc = auth_buf_put((char *)out, cap, &len, AUTH_MECH_SCRAM, sizeof(AUTH_MECH_SCRAM));
	if (rc == AUTH_OK)
		rc = auth_buf_put((char *)out, cap, &len, "", 1);
	if (rc == AUTH_OK)
		*outlen = len;
	return rc;
}

/* saslname: '=' only as "=2C" or "=3D" (RFC 5802 section 5.1). The name itself is
 * ignored: PostgreSQL takes the user from the startup packet. */
static bool valid_saslname(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '=')
			continue;
		if (n - i < 3 ||
		    !((p[i + 1] == '2' && p[i + 2] == 'C') || (p[i + 1] == '3' && p[i + 2] == 'D')))
			return false;
		i += 2;
	}
	return true;
}

int auth_scram_server_first(struct auth_scram_server *s, const char *mechanism, const uint8_t *msg,
                            size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	static const char cb_prefix[] = "p=tls-server-end-point,";
	const char *m = (const char *)msg, *val;
	char salt64[PGS_B64_LEN(AUTH_SALT_MAX) + 1], iter[16];
	char snonce[64];
	size_t pos, vlen, saltlen = 0, snlen = 0;
	struct auth_cursor cur;
	bool plus;
	int rc;

	*outlen = 0;
	if (s->state != AUTH_STATE_READY)
		return fail(s, AUTH_ERR_PROTOCOL, "unexpected SASLInitialResponse");
	if (mechanism && strcmp(mechanism, AUTH_MECH_SCRAM) == 0)
		plus = false;
	else if (mechanism && s->plus_offered && strcmp(mechanism, AUTH_MECH_SCRAM_PLUS) == 0)
		plus = true;
	else
		return fail(s, AUTH_ERR_PROTOCOL, "client selected an invalid SASL mechanism");
	if (!msg || len == 0 || len > AUTH_SCRAM_MSG_MAX || memchr(msg, '\0', len))
		return fail(s, AUTH_ERR_PROTOCOL,
		            "client-first-message empty, too long or has NUL");

	/* gs2-header: the channel-binding flag, an (unsupported) authzid, ',' */
	switch (m[0]) {
	case 'n':
	case 'y':
		if (len < 2 || m[1] != ',')
			return fail(s, AUTH_ERR_PROTOCOL, "malformed gs2 header");
		if (plus)
			return fail(s, AUTH_ERR_CHANNEL_BINDING,
			            "SCRAM-SHA-256-PLUS selected without channel-binding data");
		/* "y": the client could bind but believes we cannot; we offered -PLUS, so
		 * someone removed it on the way (a downgrade). */
		if (m[0] == 'y' && s->plus_offered)
			return fail(
			    s, AUTH_ERR_CHANNEL_BINDING,
			    "client supports channel binding but thinks the server does not");
		pos = 2;
		break;
	case 'p':
		if (!plus)
			return fail(s, AUTH_ERR_CHANNEL_BINDING,
			            "channel binding requested with SCRAM-SHA-256 (no -PLUS)");
		if (len < sizeof(cb_prefix) - 1 || memcmp(m, cb_prefix, sizeof(cb_prefix) - 1) != 0)
			return fail(s, AUTH_ERR_CHANNEL_BINDING,
			            "unsupported channel-binding type");
		pos = sizeof(cb_prefix) - 1;
		break;
	default:
		return fail(s, AUTH_ERR_PROTOCOL, "malformed gs2 header");
	}
	if (pos < len && m[pos] == 'a')
		return fail(s, AUTH_ERR_PROTOCOL, "authorization identity is not supported");
	if (pos >= len || m[pos] != ',')
		return fail(s, AUTH_ERR_PROTOCOL, "malformed gs2 header");
	pos++;
	s->cbind_flag = m[0];
	memcpy(s->gs2_header, m, pos);
	s->gs2_len = pos;

	/* client-first-message-bare: n=user,r=nonce[,ext...] */
	cur = (struct auth_cursor){.p = m + pos, .len = len - pos, .pos = 0};
	if (cur.len >= 2 && m[pos] == 'm' && m[pos + 1] == '=')
		return fail(s, AUTH_ERR_PROTOCOL, "mandatory SCRAM extension is not supported");
	if (auth_attr_next(&cur, 'n', NULL, &val, &vlen) != AUTH_OK || !valid_saslname(val, vlen))
		return fail(s, AUTH_ERR_PROTOCOL, "malformed user name attribute");
	if (auth_attr_next(&cur, 'r', NULL, &val, &vlen) != AUTH_OK || vlen == 0 ||
	    vlen > CLIENT_NONCE_MAX || !auth_printable(val, vlen))
		return fail(s, AUTH_ERR_PROTOCOL, "malformed client nonce");
	memcpy(s->nonce, val, vlen);
	s->nonce_len = vlen;
	while (!auth_cursor_end(&cur)) {
		const char *ev;
		size_t evlen;
		if (auth_attr_next(&cur, 0, NULL, &ev, &evlen) != AUTH_OK)
			return fail(s, AUTH_ERR_PROTOCOL, "malformed extension attribute");
	}
	memcpy(s->cfb, m + pos, len - pos);
	s->cfb_len = len - pos;

	/* our nonce, then server-first-message: r=cnonce+snonce,s=salt,i=iterations */
	if (s->test_nonce_len) {
		memcpy(snonce, s->test_nonce, s->test_nonce_len);
		snlen = s->test_nonce_len;
	} else if (auth_random_nonce(snonce, sizeof(snonce), &snlen) != AUTH_OK) {
		return fail(s, AUTH_ERR_INTERNAL, "random number generator failed");
	}
	memcpy(s->nonce + s->nonce_len, snonce, snlen);
	s->nonce_len += snlen;
	if (pgs_b64_encode(s->v.salt, s->v.salt_len, salt64, sizeof(salt64), &saltlen) != AUTH_OK)
		return fail(s, AUTH_ERR_INTERNAL, "salt encoding failed");
	snprintf(iter, sizeof(iter), "%u", (unsigned)s->v.iterations);
	s->sf_len = 0;
	rc = auth_buf_put(s->sf, sizeof(s->sf), &s->sf_len, "r=", 2);
	if (rc == AUTH_OK)
		rc = auth_buf_put(s->sf, sizeof(s->sf), &s->sf_len, s->nonce, s->nonce_len);
	if (rc == AUTH_OK)
		rc = auth_buf_put(s->sf, sizeof(s->sf), &s->sf_len, ",s=", 3);
	if (rc == AUTH_OK)
		rc = auth_buf_put(s->sf, sizeof(s->sf), &s->sf_len, salt64, saltlen);
	if (rc == AUTH_OK)
		rc = auth_buf_put(s->sf, sizeof(s->sf), &s->sf_len, ",i=", 3);
	if (rc == AUTH_OK)
		rc = auth_buf_put(s->sf, sizeof(s->sf), &s->sf_len, iter, strlen(iter));
	if (rc != AUTH_OK)
		return fail(s, AUTH_ERR_INTERNAL, "server-first-message too long");
	if (!out || s->sf_len > cap)
		return fail(s, AUTH_ERR_NOSPACE, "output buffer too small");
	memcpy(out, s->sf, s->sf_len);
	*outlen = s->sf_len;
	s->state = AUTH_STATE_FIRST;
	return AUTH_OK;
}

int auth_scram_server_final(struct auth_scram_server *s, const uint8_t *msg, size_t len,
                            uint8_t *out, size_t cap, size_t *outlen)
{
	const char *m = (const char *)msg, *val;
	uint8_t cbind[sizeof(s->gs2_header) + AUTH_CB_MAX], expect[sizeof(cbind)];
	uint8_t proof[AUTH_KEY_LEN], sig[AUTH_KEY_LEN], ck[AUTH_KEY_LEN], h[AUTH_KEY_LEN];
	char am[3 * AUTH_SCRAM_MSG_MAX + 2];
	char v64[PGS_B64_LEN(AUTH_KEY_LEN)];
	size_t vlen, cblen = 0, exlen, plen = 0, cfwp_len, amlen = 0, v64len = 0;
	struct auth_cursor cur;
	char attr = 0;
	unsigned diff;
	int rc;

	*outlen = 0;
	if (s->state != AUTH_STATE_FIRST)
		return fail(s, AUTH_ERR_PROTOCOL, "unexpected SASLResponse");
	if (!msg || len == 0 || len > AUTH_SCRAM_MSG_MAX || memchr(msg, '\0', len))
		return fail(s, AUTH_ERR_PROTOCOL,
		            "client-final-message empty, too long or has NUL");
	cur = (struct auth_cursor){.p = m, .len = len, .pos = 0};

	/* c=: base64 of the gs2 header, followed by the binding data when it said "p" */
	if (auth_attr_next(&cur, 'c', NULL, &val, &vlen) != AUTH_OK ||
	    pgs_b64_decode(val, vlen, cbind, sizeof(cbind), &cblen) != AUTH_OK)
		return fail(s, AUTH_ERR_PROTOCOL, "malformed channel-binding attribute");
	memcpy(expect, s->gs2_header, s->gs2_len);
	exlen = s->gs2_len;
	if (s->cbind_flag == 'p') {
		memcpy(expect + exlen, s->cb_data, s->cb_len);
		exlen += s->cb_len;
	}
	if (cblen != exlen || CRYPTO_memcmp(cbind, expect, exlen) != 0)
		return fail(s, s->cbind_flag == 'p' ? AUTH_ERR_CHANNEL_BINDING : AUTH_ERR_PROTOCOL,
		            s->cbind_flag == 'p' ? "channel-binding data do not match"
		                                 : "unexpected channel-binding attribute");

	if (auth_attr_next(&cur, 'r', NULL, &val, &vlen) != AUTH_OK || vlen != s->nonce_len ||
	    memcmp(val, s->nonce, vlen) != 0)
		return fail(s, AUTH_ERR_PROTOCOL, "nonce does not match");

	/* optional extensions, then p=proof as the last attribute */
	do {
		cfwp_len = cur.pos;
		if (auth_attr_next(&cur, 0, &attr, &val, &vlen) != AUTH_OK)
			return fail(s, AUTH_ERR_PROTOCOL, "missing or malformed proof");
	} while (attr != 'p');
	if (!auth_cursor_end(&cur))
		return fail(s, AUTH_ERR_PROTOCOL, "garbage after the proof");
	if (vlen != pgs_b64_enc_len(AUTH_KEY_LEN) ||
	    pgs_b64_decode(val, vlen, proof, sizeof(proof), &plen) != AUTH_OK ||
	    plen != AUTH_KEY_LEN)
		return fail(s, AUTH_ERR_PROTOCOL, "malformed proof");

	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); check H(ClientKey). */
	rc = auth_build_message(s->cfb, s->cfb_len, s->sf, s->sf_len, m, cfwp_len, am, sizeof(am),
	                        &amlen);
	if (rc == AUTH_OK)
		rc = auth_hmac(s->v.stored_key, am, amlen, sig);
	for (size_t i = 0; rc == AUTH_OK && i < AUTH_KEY_LEN; i++)
		ck[i] = proof[i] ^ sig[i];
	if (rc == AUTH_OK)
		rc = auth_sha256(ck, AUTH_KEY_LEN, h);
	if (rc != AUTH_OK) {
		rc = fail(s, AUTH_ERR_INTERNAL, "SCRAM computation failed");
		goto out;
	}
	diff = (unsigned)CRYPTO_memcmp(h, s->v.stored_key, AUTH_KEY_LEN) | (unsigned)s->doomed;
	if (diff) {
		rc = fail(s, AUTH_ERR_PASSWORD, "proof does not match the verifier");
		goto out;
	}
	/* ServerSignature = HMAC(ServerKey, AuthMessage) */
	if (auth_hmac(s->v.server_key, am, amlen, sig) != AUTH_OK ||
	    pgs_b64_encode(sig, AUTH_KEY_LEN, v64, sizeof(v64), &v64len) != AUTH_OK) {
		rc = fail(s, AUTH_ERR_INTERNAL, "SCRAM computation failed");
		goto out;
	}
	if (!out || cap < 2 + v64len) {
		rc = fail(s, AUTH_ERR_NOSPACE, "output buffer too small");
		goto out;
	}
	out[0] = 'v';
	out[1] = '=';
	/* a length-counted message (*outlen), not a string */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(out + 2, v64, v64len);
	*outlen = 2 + v64len;
	memcpy(s->client_key, ck, AUTH_KEY_LEN);
	s->state = AUTH_STATE_DONE;
	s->detail = NULL;
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(v64, sizeof(v64));
	return rc;
}

bool auth_scram_server_done(const struct auth_scram_server *s)
{
	return s->state == AUTH_STATE_DONE;
}

int auth_scram_server_client_key(const struct auth_scram_server *s, uint8_t out[AUTH_KEY_LEN])
{
	if (s->state != AUTH_STATE_DONE)
		return AUTH_ERR_INVALID;
	memcpy(out, s->client_key, AUTH_KEY_LEN);
	return AUTH_OK;
}

void auth_scram_server_clear(struct auth_scram_server *s)
{
	if (s)
		OPENSSL_cleanse(s, sizeof(*s));
}

int auth_scram_server_set_test_nonce(struct auth_scram_server *s, const char *nonce)
{
	size_t n = nonce ? strlen(nonce) : 0;
	if (s->state != AUTH_STATE_READY || n == 0 || n >= sizeof(s->test_nonce) ||
	    !auth_printable(nonce, n))
		return AUTH_ERR_INVALID;
	memcpy(s->test_nonce, nonce, n);
	s->test_nonce_len = n;
	return AUTH_OK;
}
