/* auth_verifier.c - SCRAM verifiers, keys from a password, tls-server-end-point data, status texts. */
#include "auth/auth_int.h"

#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

const char *auth_strerror(int status)
{
	switch (status) {
	case AUTH_OK:
		return "ok";
	case AUTH_ERR_PROTOCOL:
		return "malformed SCRAM message";
	case AUTH_ERR_PASSWORD:
		return "password authentication failed";
	case AUTH_ERR_CHANNEL_BINDING:
		return "SCRAM channel binding failed";
	case AUTH_ERR_STALE_VERIFIER:
		return "SCRAM verifier differs from the server's";
	case AUTH_ERR_SERVER_SIGNATURE:
		return "invalid SCRAM server signature";
	case AUTH_ERR_UPSTREAM:
		return "server reported a SCRAM error";
	case AUTH_ERR_NO_MECHANISM:
		return "no acceptable SASL mechanism offered";
	case AUTH_ERR_INVALID:
		return "invalid SCRAM argument or verifier";
	case AUTH_ERR_NOSPACE:
		return "SCRAM output buffer too small";
	case AUTH_ERR_INTERNAL:
		return "internal SCRAM error";
	default:
		return "unknown SCRAM error";
	}
}

const char *auth_sqlstate(int status)
{
	switch (status) {
	case AUTH_OK:
		return "00000";
	case AUTH_ERR_PROTOCOL:
	case AUTH_ERR_CHANNEL_BINDING:
		return "08P01"; /* protocol_violation, as PostgreSQL */
	case AUTH_ERR_PASSWORD:
	case AUTH_ERR_STALE_VERIFIER:
	case AUTH_ERR_UPSTREAM:
		return "28P01"; /* invalid_password */
	case AUTH_ERR_SERVER_SIGNATURE:
	case AUTH_ERR_NO_MECHANISM:
		return "08006"; /* connection_failure */
	default:
		return "XX000";
	}
}

/* Decodes exactly AUTH_KEY_LEN bytes. */
static int decode_key(const char *s, size_t n, uint8_t out[AUTH_KEY_LEN])
{
	size_t len = 0;
	if (n != pgs_b64_enc_len(AUTH_KEY_LEN))
		return AUTH_ERR_PROTOCOL;
	if (pgs_b64_decode(s, n, out, AUTH_KEY_LEN, &len) != AUTH_OK || len != AUTH_KEY_LEN)
		return AUTH_ERR_PROTOCOL;
	return AUTH_OK;
}

int auth_verifier_parse(const char *s, struct auth_verifier *out)
{
	static const char prefix[] = "SCRAM-SHA-256$";
	const char *iter, *colon, *salt, *dollar, *sk, *colon2, *end;
	memset(out, 0, sizeof(*out));
	if (!s || strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return AUTH_ERR_INVALID;
	iter = s + sizeof(prefix) - 1;
	end = iter + strlen(iter);
	colon = strchr(iter, ':');
	dollar = colon ? strchr(colon, '$') : NULL;
	colon2 = dollar ? strchr(dollar, ':') : NULL;
	if (!colon || !dollar || !colon2)
		goto bad;
	salt = colon + 1;
	sk = dollar + 1;
	if (auth_parse_iterations(iter, (size_t)(colon - iter), &out->iterations) != AUTH_OK)
		goto bad;
	if (dollar == salt ||
	    pgs_b64_decode(salt, (size_t)(dollar - salt), out->salt, AUTH_SALT_MAX,
	                   &out->salt_len) != AUTH_OK ||
	    out->salt_len == 0)
		goto bad;
	if (decode_key(sk, (size_t)(colon2 - sk), out->stored_key) != AUTH_OK ||
	    decode_key(colon2 + 1, (size_t)(end - colon2 - 1), out->server_key) != AUTH_OK)
		goto bad;
	return AUTH_OK;
bad:
	auth_verifier_clear(out);
	return AUTH_ERR_INVALID;
}

void auth_verifier_clear(struct auth_verifier *v)
{
	if (v)
		OPENSSL_cleanse(v, sizeof(*v));
}

static bool ascii_only(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

int auth_scram_keys_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                  uint32_t iterations, uint8_t client_key[AUTH_KEY_LEN],
                                  uint8_t stored_key[AUTH_KEY_LEN],
                                  uint8_t server_key[AUTH_KEY_LEN])
{
	uint8_t salted[AUTH_KEY_LEN], ck[AUTH_KEY_LEN];
	int rc = AUTH_ERR_INVALID;
	/* SASLprep maps and normalises non-ASCII text; for ASCII it changes nothing (control
	 * characters make PostgreSQL fall back to the raw bytes, which is what we use). */
	if (!password || !salt || salt_len == 0 || salt_len > AUTH_SALT_MAX || iterations == 0 ||
	    iterations > AUTH_ITERATIONS_MAX || !ascii_only(password) || strlen(password) > 1024)
		goto out;
	rc = AUTH_ERR_INTERNAL;
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)iterations,
	                      EVP_sha256(), AUTH_KEY_LEN, salted) != 1)
		goto out;
	if (auth_hmac(salted, "Client Key", 10, ck) != AUTH_OK)
		goto out;
	if (stored_key && auth_sha256(ck, AUTH_KEY_LEN, stored_key) != AUTH_OK)
		goto out;
	if (server_key && auth_hmac(salted, "Server Key", 10, server_key) != AUTH_OK)
		goto out;
	if (client_key)
		memcpy(client_key, ck, AUTH_KEY_LEN);
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	return rc;
}

int auth_cb_server_end_point(X509 *cert, uint8_t out[AUTH_CB_MAX], size_t *outlen)
{
	int mdnid = NID_undef, pknid = NID_undef, secbits = 0;
	uint32_t flags = 0;
	unsigned int len = 0;
	const EVP_MD *md;
	*outlen = 0;
	if (!cert || !X509_get_signature_info(cert, &mdnid, &pknid, &secbits, &flags))
		return AUTH_ERR_INVALID;
	/* RFC 5929 section 4.1: MD5 and SHA-1 are replaced by SHA-256; signatures without a
	 * separate hash (Ed25519, Ed448) have no defined binding. */
	if (mdnid == NID_md5 || mdnid == NID_sha1)
		mdnid = NID_sha256;
	if (mdnid == NID_undef || !(md = EVP_get_digestbynid(mdnid)) || EVP_MD_get_size(md) <= 0 ||
	    EVP_MD_get_size(md) > AUTH_CB_MAX)
		return AUTH_ERR_INVALID;
	if (!X509_digest(cert, md, out, &len) || len == 0 || len > AUTH_CB_MAX)
		return AUTH_ERR_INTERNAL;
	*outlen = len;
	return AUTH_OK;
}
