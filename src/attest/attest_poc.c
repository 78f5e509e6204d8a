/* attest_poc.c - Proof of Cloud attestation tokens: strict compact-JWS parsing, signatures
 * (RS256, ES256, EdDSA) against configured trust-server keys, quote hash, machine id, time. */
#include "attest/attest_int.h"
#include "crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER_MAX 1024

/* ---- parsing ------------------------------------------------------------------------ */

/* kid and key ids: visible ASCII only, so that they can be printed in a reason as they are. */
static bool visible_ascii(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool no_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int parse_header(const uint8_t *buf, size_t len, struct attest_poc_token *t, char *err,
                        size_t errlen)
{
	json_t *h = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	const char *k;
	json_t *v;
	int rc = PGS_ERR;
	if (!json_is_object(h)) {
		pgs_errf(err, errlen, "the JWS header is not a JSON object");
		goto out;
	}
	/* Only what the trust servers write: jku, jwk, x5u, x5c would name keys the verifier
	 * must not take from the token, crit would name extensions it does not implement. */
	json_object_foreach(h, k, v)
	{
		if (strcmp(k, "alg") != 0 && strcmp(k, "kid") != 0 && strcmp(k, "typ") != 0) {
			pgs_errf(err, errlen, "the JWS header member '%.32s' is not accepted",
			         visible_ascii(k, 32) ? k : "?");
			goto out;
		}
	}
	const char *alg = json_string_value(json_object_get(h, "alg"));
	if (!alg) {
		pgs_errf(err, errlen, "the JWS header has no alg string");
		goto out;
	}
	if (!strcmp(alg, "none")) {
		pgs_errf(err, errlen, "alg none (an unsigned token) is refused");
		goto out;
	}
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0 && strcmp(alg, "EdDSA") != 0) {
		pgs_errf(err, errlen, "alg '%.16s' is not accepted (RS256, ES256, EdDSA)",
		         visible_ascii(alg, 16) ? alg : "?");
		goto out;
	}
	snprintf(t->alg, sizeof(t->alg), "%s", alg);
	const char *kid = json_string_value(json_object_get(h, "kid"));
	if (!kid || !visible_ascii(kid, ATTEST_POC_KID_MAX)) {
		pgs_errf(err, errlen,
		         "the JWS header needs a kid string of 1..%d visible ASCII characters",
		         ATTEST_POC_KID_MAX);
		goto out;
	}
	snprintf(t->kid, sizeof(t->kid), "%s", kid);
	json_t *typ = json_object_get(h, "typ");
	if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
		pgs_errf(err, errlen, "the JWS header's typ is not \"JWT\"");
		goto out;
	}
	rc = PGS_OK;
out:
	json_decref(h);
	return rc;
}

static int claim_hash(json_t *p, const char *name, uint8_t out[32], char *err, size_t errlen)
{
	json_t *v = json_object_get(p, name);
	const char *s = json_string_value(v);
	if (!v) {
		pgs_errf(err, errlen, "the claim %s is missing", name);
		return PGS_ERR;
	}
	if (!s || pgs_unhex(s, json_string_length(v), out, 32) != PGS_OK) {
		pgs_errf(err, errlen, "the claim %s is not a string of 64 hex digits", name);
		return PGS_ERR;
	}
	return PGS_OK;
}

/* A NumericDate (RFC 7519): here a non-negative integer; a fraction or a string is refused. */
static int claim_time(json_t *p, const char *name, bool required, bool *has, int64_t *out,
                      char *err, size_t errlen)
{
	json_t *v = json_object_get(p, name);
	*has = v != NULL;
	if (!v) {
		if (required)
			pgs_errf(err, errlen, "the claim %s is missing", name);
		return required ? PGS_ERR : PGS_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		pgs_errf(err, errlen, "the claim %s is not a non-negative integer", name);
		return PGS_ERR;
	}
	*out = (int64_t)json_integer_value(v);
	return PGS_OK;
}

static int claim_text(json_t *p, const char *name, char *out, size_t cap, char *err, size_t errlen)
{
	json_t *v = json_object_get(p, name);
	if (!v)
		return PGS_OK;
	const char *s = json_string_value(v);
	if (!s || json_string_length(v) >= cap || strlen(s) != json_string_length(v) ||
	    !no_control(s)) {
		pgs_errf(err, errlen, "the claim %s is not a string of at most %zu characters",
		         name, cap - 1);
		return PGS_ERR;
	}
	memcpy(out, s, json_string_length(v) + 1);
	return PGS_OK;
}

static int parse_payload(const uint8_t *buf, size_t len, struct attest_poc_token *t, char *err,
                         size_t errlen)
{
	json_t *p = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	bool has_iat;
	int rc = PGS_ERR;
	if (!json_is_object(p)) {
		pgs_errf(err, errlen, "the JWS payload is not a JSON object");
		goto out;
	}
	/* Other members (the trust server's measurement snapshot, ...) are data this verifier
	 * does not use; they are covered by the signature and otherwise ignored. */
	if (claim_hash(p, ATTEST_POC_CLAIM_QUOTE_HASH, t->quote_hash, err, errlen) != PGS_OK ||
	    claim_hash(p, ATTEST_POC_CLAIM_MACHINE_ID, t->machine_id, err, errlen) != PGS_OK ||
	    claim_time(p, ATTEST_POC_CLAIM_ISSUED_AT, true, &has_iat, &t->iat, err, errlen) !=
	        PGS_OK ||
	    claim_time(p, ATTEST_POC_CLAIM_EXPIRES, false, &t->has_exp, &t->exp, err, errlen) !=
	        PGS_OK ||
	    claim_time(p, ATTEST_POC_CLAIM_NOT_BEFORE, false, &t->has_nbf, &t->nbf, err, errlen) !=
	        PGS_OK ||
	    claim_text(p, ATTEST_POC_CLAIM_LABEL, t->label, sizeof(t->label), err, errlen) !=
	        PGS_OK ||
	    claim_text(p, ATTEST_POC_CLAIM_ISSUER, t->iss, sizeof(t->iss), err, errlen) != PGS_OK)
		goto out;
	rc = PGS_OK;
out:
	json_decref(p);
	return rc;
}

int attest_poc_token_parse(const char *tok, size_t len, struct attest_poc_token *out, char *err,
                           size_t errlen)
{
	uint8_t hbuf[HEADER_MAX];
	uint8_t *pbuf = NULL;
	size_t hlen, plen;
	int rc = PGS_ERR;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > ATTEST_POC_TOKEN_MAX) {
		pgs_errf(err, errlen, "a token must be 1..%d bytes", ATTEST_POC_TOKEN_MAX);
		return PGS_ERR;
	}
	const char *end = tok + len;
	const char *d1 = memchr(tok, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1))) {
		pgs_errf(err, errlen, "not a compact JWS (header.payload.signature, two dots)");
		return PGS_ERR;
	}
	if (d1 == tok || d2 == d1 + 1 || d2 + 1 == end) {
		pgs_errf(err, errlen, "a part of the JWS is empty (an unsigned token is refused)");
		return PGS_ERR;
	}
	if (pgs_b64url_decode(tok, (size_t)(d1 - tok), hbuf, sizeof(hbuf), &hlen) != PGS_OK) {
		pgs_errf(err, errlen,
		         "the JWS header is not canonical unpadded base64url of at most %d bytes",
		         HEADER_MAX);
		return PGS_ERR;
	}
	pbuf = pgs_xmalloc(len);
	if (pgs_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), pbuf, len, &plen) != PGS_OK) {
		pgs_errf(err, errlen, "the JWS payload is not canonical unpadded base64url");
		goto out;
	}
	if (pgs_b64url_decode(d2 + 1, (size_t)(end - d2 - 1), out->sig, sizeof(out->sig),
	                      &out->sig_len) != PGS_OK) {
		pgs_errf(
		    err, errlen,
		    "the JWS signature is not canonical unpadded base64url of at most %d bytes",
		    ATTEST_POC_SIG_MAX);
		goto out;
	}
	if (parse_header(hbuf, hlen, out, err, errlen) != PGS_OK ||
	    parse_payload(pbuf, plen, out, err, errlen) != PGS_OK)
		goto out;
	out->signing_input = tok;
	out->signing_input_len = (size_t)(d2 - tok);
	rc = PGS_OK;
out:
	free(pbuf);
	if (rc != PGS_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- token files -------------------------------------------------------------------- */

static int push_token(char **toks, size_t *n, const char *s, size_t len, char *err, size_t errlen)
{
	if (*n >= ATTEST_POC_MAX_TOKENS) {
		pgs_errf(err, errlen, "more than %d Proof of Cloud tokens", ATTEST_POC_MAX_TOKENS);
		return PGS_ERR;
	}
	char *t = pgs_xmalloc(len + 1);
	memcpy(t, s, len);
	t[len] = '\0';
	toks[(*n)++] = t;
	return PGS_OK;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int attest_poc_tokens_split(const uint8_t *data, size_t len, char **toks, size_t *n, char *err,
                            size_t errlen)
{
	const char *s = (const char *)data, *end = s + len;
	size_t before = *n;
	if (memchr(data, 0, len)) {
		pgs_errf(err, errlen, "the token file contains a NUL byte");
		return PGS_ERR;
	}
	while (s < end && is_space(*s))
		s++;
	if (s < end && *s == '{') {
		/* the trust server's /get_jwt answer: {"machineId": ..., "label": ..., "jwt": ...}
		 */
		json_t *o = json_loadb(s, (size_t)(end - s), JSON_REJECT_DUPLICATES, NULL);
		json_t *jwt = json_object_get(o, "jwt");
		int rc = PGS_ERR;
		if (!json_is_string(jwt))
			pgs_errf(err, errlen, "the token file is JSON without a \"jwt\" string");
		else
			rc = push_token(toks, n, json_string_value(jwt), json_string_length(jwt),
			                err, errlen);
		json_decref(o);
		return rc;
	}
	while (s < end) {
		if (is_space(*s)) {
			s++;
			continue;
		}
		if (*s == '#') { /* a comment runs to the end of its line */
			while (s < end && *s != '\n')
				s++;
			continue;
		}
		const char *w = s;
		while (s < end && !is_space(*s))
			s++;
		if (push_token(toks, n, w, (size_t)(s - w), err, errlen) != PGS_OK)
			return PGS_ERR;
	}
	if (*n == before) {
		pgs_errf(err, errlen, "the token file holds no token");
		return PGS_ERR;
	}
	return PGS_OK;
}

/* ---- trust-server keys ---------------------------------------------------------------- */

struct attest_poc_config *attest_poc_config_new(void)
{
	struct attest_poc_config *c = pgs_xcalloc(1, sizeof(*c));
	c->threshold = 1;
	c->max_age = ATTEST_POC_DEFAULT_MAX_AGE;
	c->skew = ATTEST_POC_DEFAULT_SKEW;
	return c;
}

void attest_poc_config_free(struct attest_poc_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_keys; i++) {
		free(c->keys[i].id);
		EVP_PKEY_free(c->keys[i].key);
	}
	free(c);
}

unsigned attest_poc_threshold(const struct attest_poc_config *cfg)
{
	return cfg->threshold;
}

static bool all_hex(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (pgs_hexval(s[i]) < 0)
			return false;
	return true;
}

static const char *key_type_name(enum attest_poc_key_type t)
{
	return t == ATTEST_POC_RSA ? "RSA" : t == ATTEST_POC_P256 ? "EC P-256" : "Ed25519";
}

static int key_type(EVP_PKEY *pk, enum attest_poc_key_type *t, char *err, size_t errlen)
{
	char group[64];
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pk) < 2048) {
			pgs_errf(err, errlen, "an RSA key needs at least 2048 bits");
			return PGS_ERR;
		}
		*t = ATTEST_POC_RSA;
		return PGS_OK;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			pgs_errf(err, errlen, "an EC key must be on P-256 (ES256)");
			return PGS_ERR;
		}
		*t = ATTEST_POC_P256;
		return PGS_OK;
	case EVP_PKEY_ED25519:
		*t = ATTEST_POC_ED25519;
		return PGS_OK;
	default:
		pgs_errf(err, errlen,
		         "the key type is not accepted (RSA >= 2048, EC P-256, Ed25519)");
		return PGS_ERR;
	}
}

int attest_poc_config_add_key(struct attest_poc_config *c, const char *id, const uint8_t *key,
                              size_t len, char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;
	char hexid[65];
	enum attest_poc_key_type t;

	if (c->n_keys >= ATTEST_POC_MAX_KEYS) {
		pgs_errf(err, errlen, "more than %d trust-server keys", ATTEST_POC_MAX_KEYS);
		return PGS_ERR;
	}
	if (len == 64 && all_hex(key, len)) {
		uint8_t raw[32];
		if (pgs_unhex((const char *)key, len, raw, 32) == PGS_OK)
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
		pgs_hex(raw, 32, hexid);
		if (!id)
			id = hexid;
	} else if (len <= INT32_MAX) {
		BIO *b = BIO_new_mem_buf(key, (int)len);
		pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	ERR_clear_error();
	if (!pk) {
		pgs_errf(err, errlen,
		         "not a PEM public key nor 64 hex digits of an Ed25519 public key");
		return PGS_ERR;
	}
	if (key_type(pk, &t, err, errlen) != PGS_OK)
		goto fail;
	if (!id || !visible_ascii(id, ATTEST_POC_KID_MAX)) {
		pgs_errf(err, errlen, "a PEM key needs an id of 1..%d visible ASCII characters",
		         ATTEST_POC_KID_MAX);
		goto fail;
	}
	for (size_t i = 0; i < c->n_keys; i++)
		if (!strcmp(c->keys[i].id, id)) {
			pgs_errf(err, errlen, "the key id '%s' is given twice", id);
			goto fail;
		}
	c->keys[c->n_keys].id = pgs_xstrdup(id);
	c->keys[c->n_keys].key = pk;
	c->keys[c->n_keys].type = t;
	c->n_keys++;
	return PGS_OK;
fail:
	EVP_PKEY_free(pk);
	return PGS_ERR;
}

/* ---- verification ----------------------------------------------------------------- */

/* The key's type fixes the one algorithm it verifies: an RSA key never checks an HMAC, a
 * token cannot choose a weaker algorithm than its key's. */
static bool alg_fits(enum attest_poc_key_type t, const char *alg)
{
	return (t == ATTEST_POC_RSA && !strcmp(alg, "RS256")) ||
	       (t == ATTEST_POC_P256 && !strcmp(alg, "ES256")) ||
	       (t == ATTEST_POC_ED25519 && !strcmp(alg, "EdDSA"));
}

static bool sig_verify(const struct attest_poc_key *k, const struct attest_poc_token *t)
{
	const uint8_t *msg = (const uint8_t *)t->signing_input;
	size_t len = t->signing_input_len;
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx = NULL;
	bool ok = false;

	if (k->type == ATTEST_POC_P256) /* JWS carries r || s (RFC 7518 3.4), converted there */
		return t->sig_len == 64 && attest_ecdsa_verify_key(k->key, msg, len, t->sig);
	md = EVP_MD_CTX_new();
	if (!md)
		return false;
	if (k->type == ATTEST_POC_RSA)
		ok = t->sig_len == (size_t)EVP_PKEY_get_size(k->key) &&
		     EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, k->key) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_DigestVerify(md, t->sig, t->sig_len, msg, len) == 1;
	else
		ok = t->sig_len == 64 && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k->key) == 1 &&
		     EVP_DigestVerify(md, t->sig, t->sig_len, msg, len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

static bool sha256(const uint8_t *d, size_t n, uint8_t out[32])
{
	unsigned len = 0;
	return EVP_Digest(d, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

static bool fail(struct attest_poc_verdict *v, const char *check, const char *fmt, ...)
    PGS_PRINTF(3, 4);
static bool fail(struct attest_poc_verdict *v, const char *check, const char *fmt, ...)
{
	va_list ap;
	v->pass = false;
	v->check = check;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	return false;
}

static bool verify_one(const struct attest_poc_config *cfg, const struct attest_poc_input *in,
                       const uint8_t *ppid, const char *tok, struct attest_poc_verdict *v,
                       const struct attest_poc_key **signer)
{
	const struct attest_poc_token *t = &v->tok;
	const struct attest_poc_key *k = NULL;
	uint8_t h[32];
	char err[160];

	memset(v, 0, sizeof(*v));
	if (attest_poc_token_parse(tok, strlen(tok), &v->tok, err, sizeof(err)) != PGS_OK)
		return fail(v, "jws_format", "%s", err);
	v->parsed = true;
	for (size_t i = 0; i < cfg->n_keys && !k; i++)
		if (!strcmp(cfg->keys[i].id, t->kid))
			k = &cfg->keys[i];
	if (!k)
		return fail(v, "kid", "kid '%.64s' is not a configured trust-server key", t->kid);
	if (!alg_fits(k->type, t->alg))
		return fail(v, "alg", "alg %s does not fit the %s key '%.64s'", t->alg,
		            key_type_name(k->type), k->id);
	if (!sig_verify(k, t))
		return fail(v, "signature", "the signature does not verify with the key '%.64s'",
		            k->id);
	/* Only now do the claims count: they are the trust server's. */
	if (!in->quote || !sha256(in->quote, in->quote_len, h) ||
	    CRYPTO_memcmp(h, t->quote_hash, 32))
		return fail(v, "quote_hash",
		            "quote_hash is not the SHA-256 of this quote (%zu bytes)",
		            in->quote ? in->quote_len : 0);
	if (!ppid)
		return fail(
		    v, "machine_id",
		    "no PPID to compare machine_id with (the PCK certificate was not parsed)");
	if (!sha256(ppid, 16, h) || CRYPTO_memcmp(h, t->machine_id, 32))
		return fail(v, "machine_id",
		            "machine_id is not the SHA-256 of this platform's PPID");
	/* iat, nbf >= 0 and skew <= a day: these forms cannot overflow, whatever --at says */
	if (t->iat - cfg->skew > in->now)
		return fail(v, "iat", "issued in the future (iat %lld, now %lld)",
		            (long long)t->iat, (long long)in->now);
	if (cfg->max_age && in->now - t->iat > cfg->max_age)
		return fail(v, "max_age", "issued %lld s ago, the policy accepts %lld s",
		            (long long)(in->now - t->iat), (long long)cfg->max_age);
	if (t->has_exp && in->now - cfg->skew > t->exp)
		return fail(v, "exp", "expired (exp %lld, now %lld)", (long long)t->exp,
		            (long long)in->now);
	if (t->has_nbf && t->nbf - cfg->skew > in->now)
		return fail(v, "nbf", "not valid before %lld (now %lld)", (long long)t->nbf,
		            (long long)in->now);
	v->pass = true;
	*signer = k;
	return true;
}

size_t attest_poc_verify(const struct attest_poc_config *cfg, const struct attest_poc_input *in,
                         const uint8_t *ppid, struct attest_poc_verdict *out)
{
	const struct attest_poc_key *seen[ATTEST_POC_MAX_TOKENS];
	size_t n_seen = 0;
	for (size_t i = 0; i < in->n_tokens; i++) {
		const struct attest_poc_key *k = NULL;
		if (!verify_one(cfg, in, ppid, in->tokens[i], &out[i], &k))
			continue;
		bool dup = false;
		for (size_t j = 0; j < n_seen; j++)
			dup |= seen[j] == k;
		if (!dup && n_seen < ATTEST_POC_MAX_TOKENS)
			seen[n_seen++] = k;
	}
	return n_seen;
}

static void set_time(json_t *o, const char *k, bool has, int64_t v)
{
	json_object_set_new(o, k, has ? json_integer(v) : json_null());
}

json_t *attest_poc_json(const struct attest_poc_config *cfg, const struct attest_poc_verdict *v,
                        size_t n, size_t vouching)
{
	json_t *o = json_object(), *ids = json_array(), *toks = json_array();
	char hex[65];
	for (size_t i = 0; i < cfg->n_keys; i++)
		json_array_append_new(ids, json_string(cfg->keys[i].id));
	json_object_set_new(o, "trust_servers", ids);
	json_object_set_new(o, "threshold", json_integer(cfg->threshold));
	json_object_set_new(o, "vouching", json_integer((json_int_t)vouching));
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "result", json_string(v[i].pass ? "pass" : "fail"));
		json_object_set_new(t, "failed_check",
		                    v[i].pass ? json_null() : json_string(v[i].check));
		json_object_set_new(t, "reason",
		                    v[i].pass ? json_null() : json_string(v[i].reason));
		if (v[i].parsed) {
			const struct attest_poc_token *p = &v[i].tok;
			json_object_set_new(t, "kid", json_string(p->kid));
			json_object_set_new(t, "alg", json_string(p->alg));
			json_object_set_new(t, "iss",
			                    p->iss[0] ? json_string(p->iss) : json_null());
			json_object_set_new(t, "label",
			                    p->label[0] ? json_string(p->label) : json_null());
			pgs_hex(p->quote_hash, 32, hex);
			json_object_set_new(t, "quote_hash", json_string(hex));
			pgs_hex(p->machine_id, 32, hex);
			json_object_set_new(t, "machine_id", json_string(hex));
			set_time(t, "iat", true, p->iat);
			set_time(t, "exp", p->has_exp, p->exp);
			set_time(t, "nbf", p->has_nbf, p->nbf);
		}
		json_array_append_new(toks, t);
	}
	json_object_set_new(o, "tokens", toks);
	return o;
}
