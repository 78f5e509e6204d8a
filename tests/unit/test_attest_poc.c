/* test_attest_poc.c - Proof of Cloud tokens: tokens signed here (RS256, ES256, EdDSA), one
 * negative case per check, strict JWS parsing, threshold, policy loading and the rule. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest_int.h"
#include "crypto/crypto.h"
#include "testlib.h"

#define NOW 1751000000LL

static EVP_PKEY *k_ec, *k_rsa, *k_ed, *k_ec2;
static uint8_t quote[300];
static const uint8_t ppid[16] = {0x81, 0x1d, 0xca, 0x2a, 0x26, 0xb9, 0x52, 0xe8,
                                 0x5b, 0xb6, 0x44, 0x8b, 0x09, 0x7b, 0xa4, 0xfd};
static char qhash[65], mid[65];

/* ---- a small JWS signer (the verifier's counterpart) ------------------------------ */

static char *b64u(const uint8_t *d, size_t n)
{
	char *o = malloc(4 * (n / 3 + 1) + 1);
	int len = EVP_EncodeBlock((unsigned char *)o, d, (int)n);
	for (int i = 0; i < len; i++)
		o[i] = o[i] == '+' ? '-' : o[i] == '/' ? '_' : o[i];
	while (len > 0 && o[len - 1] == '=')
		o[--len] = '\0';
	return o;
}

static char *join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *o = malloc(n);
	snprintf(o, n, "%s.%s.%s", a, b, c);
	return o;
}

/* The signature of `input` with key, as JWS carries it (ES256: raw r || s). */
static size_t sign(EVP_PKEY *key, const char *input, uint8_t *sig)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t len = 1024;
	int id = EVP_PKEY_get_base_id(key);
	const EVP_MD *h = id == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	uint8_t der[1024];
	if (EVP_DigestSignInit(md, NULL, h, NULL, key) != 1 ||
	    EVP_DigestSign(md, id == EVP_PKEY_EC ? der : sig, &len, (const uint8_t *)input,
	                   strlen(input)) != 1)
		len = 0;
	EVP_MD_CTX_free(md);
	if (id == EVP_PKEY_EC && len) {
		const uint8_t *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
		ECDSA_SIG_free(es);
		len = 64;
	}
	return len;
}

/* header and payload JSON -> compact JWS signed by key (NULL: the signature is "c2ln") */
static char *jws(const char *hdr, const char *pl, EVP_PKEY *key)
{
	char *h = b64u((const uint8_t *)hdr, strlen(hdr)),
	     *p = b64u((const uint8_t *)pl, strlen(pl));
	size_t n = strlen(h) + strlen(p) + 2;
	char *input = malloc(n);
	snprintf(input, n, "%s.%s", h, p);
	uint8_t sig[1024];
	size_t slen = key ? sign(key, input, sig) : 3;
	if (!key)
		memcpy(sig, "sig", 3);
	char *s = b64u(sig, slen), *t = join3(h, p, s);
	free(h);
	free(p);
	free(s);
	free(input);
	return t;
}

static char pl_buf[4096];
/* the usual payload, with `extra` members appended */
static const char *payload(const char *qh, const char *m, long long iat, const char *extra)
{
	snprintf(pl_buf, sizeof(pl_buf),
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"label\":\"test machine\","
	         "\"iat\":%lld%s}",
	         qh, m, iat, extra);
	return pl_buf;
}

static char *pem_of(EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(b, k);
	char *d;
	long n = BIO_get_mem_data(b, &d);
	char *o = malloc((size_t)n + 1);
	memcpy(o, d, (size_t)n);
	o[n] = 0;
	BIO_free(b);
	*len = (size_t)n;
	return o;
}

static struct attest_poc_config *config(void)
{
	struct attest_poc_config *c = attest_poc_config_new();
	char err[200];
	size_t n;
	char *p;
	p = pem_of(k_ec, &n);
	CHECK(attest_poc_config_add_key(c, "ec", (uint8_t *)p, n, err, sizeof(err)) == PGS_OK);
	free(p);
	p = pem_of(k_rsa, &n);
	CHECK(attest_poc_config_add_key(c, "rsa", (uint8_t *)p, n, err, sizeof(err)) == PGS_OK);
	free(p);
	p = pem_of(k_ed, &n);
	CHECK(attest_poc_config_add_key(c, "ed", (uint8_t *)p, n, err, sizeof(err)) == PGS_OK);
	free(p);
	return c;
}

/* Verifies one token at NOW against the test quote and PPID; returns the failed check
 * ("pass" when it passed). */
static const char *check_token(const struct attest_poc_config *c, const char *tok)
{
	static struct attest_poc_verdict v;
	const char *toks[1] = {tok};
	struct attest_poc_input in = {toks, 1, quote, sizeof(quote), NOW};
	size_t k = attest_poc_verify(c, &in, ppid, &v);
	if (v.pass != (k == 1))
		return "inconsistent";
	return v.pass ? "pass" : v.check;
}

/* signs and checks in one step */
static const char *signed_check(const struct attest_poc_config *c, const char *hdr, const char *pl,
                                EVP_PKEY *key)
{
	char *t = jws(hdr, pl, key);
	const char *r = check_token(c, t);
	free(t);
	return r;
}

#define HDR(alg, kid) "{\"alg\":\"" alg "\",\"typ\":\"JWT\",\"kid\":\"" kid "\"}"

static void test_pass_each_alg(void)
{
	struct attest_poc_config *c = config();
	const char *pl = payload(qhash, mid, NOW - 60, "");
	CHECK_STR(signed_check(c, HDR("ES256", "ec"), pl, k_ec), "pass");
	CHECK_STR(signed_check(c, HDR("RS256", "rsa"), pl, k_rsa), "pass");
	CHECK_STR(signed_check(c, HDR("EdDSA", "ed"), pl, k_ed), "pass");
	/* typ is optional; other payload members are ignored */
	CHECK_STR(signed_check(
	              c, "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}",
	              payload(qhash, mid, NOW, ",\"tee\":{\"mrtd\":\"00\"},\"iss\":\"ts\""), k_ed),
	          "pass");
	attest_poc_config_free(c);
}

static void test_signature_and_kid(void)
{
	struct attest_poc_config *c = config();
	const char *pl = payload(qhash, mid, NOW, "");
	/* a flipped signature byte, for each algorithm */
	EVP_PKEY *keys[] = {k_ec, k_rsa, k_ed};
	const char *hdrs[] = {HDR("ES256", "ec"), HDR("RS256", "rsa"), HDR("EdDSA", "ed")};
	for (int i = 0; i < 3; i++) {
		char *t = jws(hdrs[i], pl, keys[i]);
		char *dot = strrchr(t, '.');
		dot[3] = dot[3] == 'A' ? 'B' : 'A';
		CHECK_STR(check_token(c, t), "signature");
		free(t);
	}
	/* signed by another key of the same type under a known kid */
	CHECK_STR(signed_check(c, HDR("ES256", "ec"), pl, k_ec2), "signature");
	/* a changed payload under the original signature */
	char *t = jws(HDR("EdDSA", "ed"), pl, k_ed);
	char *t2 = jws(HDR("EdDSA", "ed"), payload(qhash, mid, NOW + 1, ""), k_ed);
	char *s1 = strrchr(t, '.'), *s2 = strrchr(t2, '.');
	CHECK(strlen(s1) == strlen(s2));
	memcpy(s2, s1, strlen(s1));
	CHECK_STR(check_token(c, t2), "signature");
	free(t);
	free(t2);
	CHECK_STR(signed_check(c, HDR("ES256", "nobody"), pl, k_ec), "kid");
	CHECK_STR(signed_check(c, HDR("ES256", "EC"), pl, k_ec), "kid"); /* exact match */
	attest_poc_config_free(c);
}

static void test_alg_confusion(void)
{
	struct attest_poc_config *c = config();
	const char *pl = payload(qhash, mid, NOW, "");
	char err[200];
	struct attest_poc_token tok;
	/* the key's type fixes the algorithm */
	CHECK_STR(signed_check(c, HDR("RS256", "ec"), pl, k_ec), "alg");
	CHECK_STR(signed_check(c, HDR("ES256", "ed"), pl, k_ed), "alg");
	CHECK_STR(signed_check(c, HDR("EdDSA", "rsa"), pl, k_rsa), "alg");
	/* alg none: with an empty signature, and with one */
	char *h = b64u((const uint8_t *)HDR("none", "ec"), strlen(HDR("none", "ec")));
	char *p = b64u((const uint8_t *)pl, strlen(pl));
	char *t = join3(h, p, "");
	CHECK_STR(check_token(c, t), "jws_format");
	free(t);
	t = jws(HDR("none", "ec"), pl, NULL);
	CHECK_STR(check_token(c, t), "jws_format");
	CHECK(attest_poc_token_parse(t, strlen(t), &tok, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "none") != NULL);
	free(t);
	/* HS256 with the RSA public key's PEM as the HMAC secret */
	size_t n;
	char *pem = pem_of(k_rsa, &n);
	char *hh = b64u((const uint8_t *)HDR("HS256", "rsa"), strlen(HDR("HS256", "rsa")));
	size_t in_len = strlen(hh) + strlen(p) + 2;
	char *input = malloc(in_len);
	snprintf(input, in_len, "%s.%s", hh, p);
	uint8_t mac[32];
	unsigned mlen = 0;
	HMAC(EVP_sha256(), pem, (int)n, (const uint8_t *)input, strlen(input), mac, &mlen);
	char *s = b64u(mac, mlen);
	t = join3(hh, p, s);
	CHECK_STR(check_token(c, t), "jws_format");
	CHECK(attest_poc_token_parse(t, strlen(t), &tok, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "HS256") != NULL);
	free(t);
	free(s);
	free(input);
	free(hh);
	free(pem);
	free(h);
	free(p);
	/* other algorithms and spellings */
	CHECK_STR(signed_check(c, HDR("ES384", "ec"), pl, k_ec), "jws_format");
	CHECK_STR(signed_check(c, HDR("PS256", "rsa"), pl, k_rsa), "jws_format");
	CHECK_STR(signed_check(c, HDR("es256", "ec"), pl, k_ec), "jws_format");
	CHECK_STR(signed_check(c, HDR("Ed25519", "ed"), pl, k_ed), "jws_format");
	attest_poc_config_free(c);
}

static void test_claims_bound(void)
{
	struct attest_poc_config *c = config();
	char other[65];
	memcpy(other, qhash, 65);
	other[0] = other[0] == '0' ? '1' : '0';
	CHECK_STR(signed_check(c, HDR("ES256", "ec"), payload(other, mid, NOW, ""), k_ec),
	          "quote_hash");
	/* the machine id of another PPID, and the quote hash where the machine id belongs */
	memcpy(other, mid, 65);
	other[63] = other[63] == '0' ? '1' : '0';
	CHECK_STR(signed_check(c, HDR("ES256", "ec"), payload(qhash, other, NOW, ""), k_ec),
	          "machine_id");
	CHECK_STR(signed_check(c, HDR("ES256", "ec"), payload(qhash, qhash, NOW, ""), k_ec),
	          "machine_id");
	/* upper-case hex is the same value */
	char up[65];
	for (int i = 0; i < 65; i++)
		up[i] = (char)(qhash[i] >= 'a' && qhash[i] <= 'f' ? qhash[i] - 32 : qhash[i]);
	CHECK_STR(signed_check(c, HDR("ES256", "ec"), payload(up, mid, NOW, ""), k_ec), "pass");

	/* no quote, no PPID */
	char *t = jws(HDR("EdDSA", "ed"), payload(qhash, mid, NOW, ""), k_ed);
	const char *toks[1] = {t};
	struct attest_poc_verdict v;
	struct attest_poc_input in = {toks, 1, NULL, 0, NOW};
	CHECK(attest_poc_verify(c, &in, ppid, &v) == 0 && !strcmp(v.check, "quote_hash"));
	in.quote = quote;
	in.quote_len = sizeof(quote) - 1; /* every byte counts */
	CHECK(attest_poc_verify(c, &in, ppid, &v) == 0 && !strcmp(v.check, "quote_hash"));
	in.quote_len = sizeof(quote);
	CHECK(attest_poc_verify(c, &in, NULL, &v) == 0 && !strcmp(v.check, "machine_id"));
	CHECK(attest_poc_verify(c, &in, ppid, &v) == 1 && v.pass);
	free(t);
	attest_poc_config_free(c);
}

static void test_time(void)
{
	struct attest_poc_config *c = config();
	const char *h = HDR("EdDSA", "ed");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW + 301, ""), k_ed), "iat");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW + 300, ""), k_ed), "pass");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW - 86401, ""), k_ed), "max_age");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW - 86400, ""), k_ed), "pass");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW - 60, ",\"exp\":1750999000"), k_ed),
	          "exp");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW - 60, ",\"exp\":1750999700"), k_ed),
	          "pass"); /* within the skew */
	CHECK_STR(
	    signed_check(c, h, payload(qhash, mid, NOW - 60, ",\"exp\":9223372036854775807"), k_ed),
	    "pass");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW - 60, ",\"nbf\":1751000400"), k_ed),
	          "nbf");
	CHECK_STR(signed_check(c, h, payload(qhash, mid, 0, ""), k_ed), "max_age");
	c->max_age = 0; /* no age limit */
	CHECK_STR(signed_check(c, h, payload(qhash, mid, 0, ""), k_ed), "pass");
	c->skew = 0;
	CHECK_STR(signed_check(c, h, payload(qhash, mid, NOW + 1, ""), k_ed), "iat");
	/* extreme times (--at is any non-negative number): no overflow, a clear verdict */
	c->skew = 300;
	char *t = jws(h, payload(qhash, mid, INT64_MAX, ",\"nbf\":9223372036854775807"), k_ed);
	const char *toks[1] = {t};
	struct attest_poc_verdict v;
	struct attest_poc_input in = {toks, 1, quote, sizeof(quote), INT64_MAX};
	CHECK(attest_poc_verify(c, &in, ppid, &v) == 1);
	in.now = 0;
	CHECK(attest_poc_verify(c, &in, ppid, &v) == 0 && !strcmp(v.check, "iat"));
	free(t);
	attest_poc_config_free(c);
}

/* parse failures: returns true when tok is refused by the parser */
static bool refused(const char *tok)
{
	struct attest_poc_token t;
	char err[200];
	return attest_poc_token_parse(tok, strlen(tok), &t, err, sizeof(err)) == PGS_ERR;
}

static void test_structure(void)
{
	const char *pl = payload(qhash, mid, NOW, "");
	char *good = jws(HDR("EdDSA", "ed"), pl, k_ed);
	CHECK(!refused(good));
	char buf[20000];
	/* extra dots, missing parts */
	snprintf(buf, sizeof(buf), "%s.", good);
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), "%s.AAAA", good);
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), ".%s", good);
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), "%s", good);
	*strrchr(buf, '.') = '\0';
	CHECK(refused(buf));
	CHECK(refused(""));
	CHECK(refused(".."));
	CHECK(refused("a.b.c"));
	/* base64url: padding, the standard alphabet, bad lengths, non-canonical bits, space */
	snprintf(buf, sizeof(buf), "%s=", good);
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), "%s", good);
	for (char *p = buf; *p != '.'; p++)
		if (*p == 'J') {
			*p = '+';
			break;
		}
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), "%s", good);
	buf[2] = '/';
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), "%sAAA", good); /* signature length 1 mod 4 */
	CHECK(refused(buf));
	/* "{}" is "e30"; "e31" decodes to the same bytes with non-zero unused bits */
	struct attest_poc_token tok;
	char err[200];
	CHECK(attest_poc_token_parse("e31.e30.c2ln", 12, &tok, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "header is not canonical") != NULL);
	CHECK(attest_poc_token_parse("e30.e30.c2ln", 12, &tok, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "alg") != NULL);
	snprintf(buf, sizeof(buf), " %s", good);
	CHECK(refused(buf));
	snprintf(buf, sizeof(buf), "%s\n", good);
	CHECK(refused(buf));
	CHECK(attest_poc_token_parse(good, strlen(good) - 1, &tok, err, sizeof(err)) == PGS_ERR);
	/* a huge token */
	char *huge = malloc(ATTEST_POC_TOKEN_MAX + 100);
	size_t gl = strlen(good);
	memcpy(huge, good, gl);
	memset(huge + gl, 'A', ATTEST_POC_TOKEN_MAX + 99 - gl);
	huge[ATTEST_POC_TOKEN_MAX + 99] = '\0';
	CHECK(refused(huge));
	/* a payload of 15 KB of ignored members still fits and parses */
	char big_pl[16000];
	snprintf(big_pl, sizeof(big_pl), "%.*s,\"pad\":\"%0*d\"}", (int)strlen(pl) - 1, pl, 9000,
	         0);
	char *big = jws(HDR("EdDSA", "ed"), big_pl, k_ed);
	CHECK(strlen(big) < ATTEST_POC_TOKEN_MAX && !refused(big));
	free(big);
	free(huge);
	free(good);
}

static void test_header_and_claims(void)
{
	const char *pl = payload(qhash, mid, NOW, "");
	const char *bad_headers[] = {
	    "{\"alg\":\"EdDSA\"}",
	    "{\"alg\":\"EdDSA\",\"kid\":7}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"\"}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"a b\"}",
	    "{\"kid\":\"ed\"}",
	    "{\"alg\":[\"EdDSA\"],\"kid\":\"ed\"}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"JOSE\"}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":1}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"jku\":\"https://evil/keys\"}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"jwk\":{\"kty\":\"OKP\"}}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"x5c\":[]}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"crit\":[\"b64\"],\"b64\":false}",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"kid\":\"ec\"}",
	    "[\"EdDSA\"]",
	    "\"EdDSA\"",
	    "{\"alg\":\"EdDSA\",\"kid\":\"ed\"",
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad_headers); i++) {
		char *t = jws(bad_headers[i], pl, k_ed);
		CHECK(refused(t));
		free(t);
	}
	char long_kid[200];
	memset(long_kid, 'k', sizeof(long_kid));
	long_kid[ATTEST_POC_KID_MAX + 1] = 0;
	char hdr[400];
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", long_kid);
	char *t = jws(hdr, pl, k_ed);
	CHECK(refused(t));
	free(t);

	char short_hash[64];
	memcpy(short_hash, qhash, 63);
	short_hash[63] = 0;
	char nonhex[65];
	memcpy(nonhex, qhash, 65);
	nonhex[10] = 'g';
	char p1[600], p2[600], p3[600];
	snprintf(p1, sizeof(p1), "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1}",
	         short_hash, mid);
	snprintf(p2, sizeof(p2), "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1}", nonhex,
	         mid);
	snprintf(p3, sizeof(p3), "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1}", qhash,
	         mid);
	char dup[700];
	snprintf(dup, sizeof(dup), "%.*s,\"quote_hash\":\"%s\"}", (int)strlen(p3) - 1, p3, qhash);
	char pls[32][700];
	size_t n = 0;
	snprintf(pls[n++], 700, "{\"machine_id\":\"%s\",\"iat\":1}", mid); /* missing claims */
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"iat\":1}", qhash);
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\"}", qhash, mid);
	snprintf(pls[n++], 700, "%s", p1); /* wrong types and shapes */
	snprintf(pls[n++], 700, "%s", p2);
	snprintf(pls[n++], 700, "{\"quote_hash\":7,\"machine_id\":\"%s\",\"iat\":1}", mid);
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"machine_id\":null,\"iat\":1}", qhash);
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":\"1\"}",
	         qhash, mid);
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1.5}", qhash,
	         mid);
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":-1}", qhash,
	         mid);
	snprintf(pls[n++], 700, "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1e9}", qhash,
	         mid);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1,\"exp\":\"soon\"}", qhash,
	         mid);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1,\"nbf\":true}", qhash,
	         mid);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1,\"label\":5}", qhash, mid);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1,\"label\":\"a\\nb\"}",
	         qhash, mid);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1,\"iss\":[]}", qhash, mid);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":99999999999999999999}",
	         qhash, mid);
	snprintf(pls[n++], 700, "%s", dup); /* duplicate member */
	snprintf(pls[n++], 700, "[\"%s\"]", qhash);
	snprintf(pls[n++], 700, "%s trailing", p3);
	snprintf(pls[n++], 700,
	         "{\"quote_hash\":\"%s\",\"machine_id\":\"%s\",\"iat\":1,"
	         "\"label\":\"a\\u0000b\"}",
	         qhash, mid);
	for (size_t i = 0; i < n; i++) {
		t = jws(HDR("EdDSA", "ed"), pls[i], k_ed);
		if (!refused(t))
			fprintf(stderr, "not refused: payload %zu %s\n", i, pls[i]);
		CHECK(refused(t));
		free(t);
	}
	t = jws(HDR("EdDSA", "ed"), p3, k_ed);
	CHECK(!refused(t));
	free(t);
}

static void test_threshold(void)
{
	struct attest_poc_config *c = config();
	const char *pl = payload(qhash, mid, NOW, "");
	char *a = jws(HDR("ES256", "ec"), pl, k_ec), *b = jws(HDR("EdDSA", "ed"), pl, k_ed);
	char *bad = jws(HDR("EdDSA", "ed"), payload(qhash, mid, NOW - 999999, ""), k_ed);
	struct attest_poc_verdict v[3];
	const char *two_keys[] = {a, b}, *same_key[] = {a, a}, *with_bad[] = {a, b, bad};
	struct attest_poc_input in = {two_keys, 2, quote, sizeof(quote), NOW};
	CHECK_EQ_INT(attest_poc_verify(c, &in, ppid, v), 2);
	in.tokens = same_key;
	CHECK_EQ_INT(attest_poc_verify(c, &in, ppid, v), 1);
	in.tokens = with_bad;
	in.n_tokens = 3;
	CHECK_EQ_INT(attest_poc_verify(c, &in, ppid, v), 2);
	CHECK(v[0].pass && v[1].pass && !v[2].pass && !strcmp(v[2].check, "max_age"));
	json_t *j = attest_poc_json(c, v, 3, 2);
	json_t *toks = json_object_get(j, "tokens");
	CHECK(json_array_size(toks) == 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(toks, 2), "failed_check")),
	          "max_age");
	CHECK_STR(json_string_value(json_object_get(json_array_get(toks, 1), "label")),
	          "test machine");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "vouching")), 2);
	json_decref(j);
	free(a);
	free(b);
	free(bad);
	attest_poc_config_free(c);
}

static void test_keys(void)
{
	struct attest_poc_config *c = attest_poc_config_new();
	char err[200];
	size_t n;
	char *p = pem_of(k_ec, &n);
	CHECK(attest_poc_config_add_key(c, NULL, (uint8_t *)p, n, err, sizeof(err)) == PGS_ERR);
	CHECK(attest_poc_config_add_key(c, "a b", (uint8_t *)p, n, err, sizeof(err)) == PGS_ERR);
	CHECK(attest_poc_config_add_key(c, "x", (uint8_t *)p, n, err, sizeof(err)) == PGS_OK);
	CHECK(attest_poc_config_add_key(c, "x", (uint8_t *)p, n, err, sizeof(err)) == PGS_ERR);
	CHECK(attest_poc_config_add_key(c, "y", (uint8_t *)p, n / 2, err, sizeof(err)) == PGS_ERR);
	free(p);
	/* P-384, RSA-1024: not accepted */
	EVP_PKEY *p384 = EVP_EC_gen("secp384r1"), *r1024 = EVP_RSA_gen(1024);
	p = pem_of(p384, &n);
	CHECK(attest_poc_config_add_key(c, "p384", (uint8_t *)p, n, err, sizeof(err)) == PGS_ERR);
	free(p);
	p = pem_of(r1024, &n);
	CHECK(attest_poc_config_add_key(c, "r1024", (uint8_t *)p, n, err, sizeof(err)) == PGS_ERR);
	free(p);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(r1024);
	/* a raw Ed25519 key in hex: its id is the hex, and tokens under that kid verify */
	uint8_t raw[32];
	size_t rl = 32;
	char hex[65];
	CHECK(EVP_PKEY_get_raw_public_key(k_ed, raw, &rl) == 1);
	pgs_hex(raw, 32, hex);
	CHECK(attest_poc_config_add_key(c, NULL, (uint8_t *)hex, 64, err, sizeof(err)) == PGS_OK);
	CHECK_STR(c->keys[c->n_keys - 1].id, hex);
	char hdr[200];
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", hex);
	CHECK_STR(signed_check(c, hdr, payload(qhash, mid, NOW, ""), k_ed), "pass");
	CHECK(attest_poc_config_add_key(c, NULL, (uint8_t *)"zz", 2, err, sizeof(err)) == PGS_ERR);
	attest_poc_config_free(c);
}

static void test_split(void)
{
	char *toks[ATTEST_POC_MAX_TOKENS];
	size_t n = 0;
	char err[200];
	const char *f1 = "# tokens\n  aaa.bbb.ccc\n\tddd.eee.fff # a comment\n";
	CHECK(attest_poc_tokens_split((const uint8_t *)f1, strlen(f1), toks, &n, err,
	                              sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(toks[0], "aaa.bbb.ccc");
	CHECK_STR(toks[1], "ddd.eee.fff");
	const char *f2 = " {\"machineId\":\"ab\",\"label\":\"x\",\"jwt\":\"h.p.s\"}\n";
	CHECK(attest_poc_tokens_split((const uint8_t *)f2, strlen(f2), toks, &n, err,
	                              sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(n, 3);
	CHECK_STR(toks[2], "h.p.s");
	for (size_t i = 0; i < n; i++)
		free(toks[i]);
	n = 0;
	const char *bad[] = {"", "  \n# only a comment\n", "{\"jwt\":5}", "{\"token\":\"a.b.c\"}",
	                     "{not json"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++)
		CHECK(attest_poc_tokens_split((const uint8_t *)bad[i], strlen(bad[i]), toks, &n,
		                              err, sizeof(err)) == PGS_ERR);
	CHECK(attest_poc_tokens_split((const uint8_t *)"a.b.c\0x", 7, toks, &n, err, sizeof(err)) ==
	      PGS_ERR);
	CHECK_EQ_INT(n, 0);
	char many[400] = "";
	for (int i = 0; i < ATTEST_POC_MAX_TOKENS + 1; i++)
		strcat(many, "t.t.t ");
	CHECK(attest_poc_tokens_split((const uint8_t *)many, strlen(many), toks, &n, err,
	                              sizeof(err)) == PGS_ERR);
	for (size_t i = 0; i < n; i++)
		free(toks[i]);
}

/* writes text to path */
static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void test_policy(void)
{
	char dir[] = "/tmp/pgseal-poc-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char pol[256], key[256], err[300];
	size_t n;
	char *pem = pem_of(k_ec, &n);
	snprintf(key, sizeof(key), "%s/ts.pem", dir);
	put(key, pem);
	free(pem);
	snprintf(pol, sizeof(pol), "%s/policy.yaml", dir);
	uint8_t raw[32];
	size_t rl = 32;
	char hex[65], yaml[1000];
	CHECK(EVP_PKEY_get_raw_public_key(k_ed, raw, &rl) == 1);
	pgs_hex(raw, 32, hex);
	snprintf(yaml, sizeof(yaml),
	         "poc_threshold: 2\npoc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\n"
	         "  - public_key: %s\npoc_max_age: 0\npoc_clock_skew: 10\n",
	         hex);
	put(pol, yaml);
	struct attest_policy *p = NULL;
	CHECK(attest_policy_load(pol, &p, err, sizeof(err)) == PGS_OK);
	if (!p) {
		fprintf(stderr, "policy: %s\n", err);
		return;
	}
	const struct attest_poc_config *c = attest_policy_poc(p);
	CHECK(c && c->n_keys == 2 && c->threshold == 2 && c->max_age == 0 && c->skew == 10);

	struct attest_result res;
	memset(&res, 0, sizeof(res));
	res.quote_parsed = true;
	res.tcb_status = ATTEST_TCB_UP_TO_DATE;
	res.pck_parsed = true;
	memcpy(res.ppid, ppid, 16);
	const char *rule;
	char reason[256];
	/* no token */
	CHECK(!attest_policy_check(p, &res, NULL, &rule, reason, sizeof(reason)));
	CHECK_STR(rule, "poc_trust_servers");
	char hdr[200];
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", hex);
	char *a = jws(HDR("ES256", "ec"), payload(qhash, mid, 5, ""), k_ec);
	char *b = jws(hdr, payload(qhash, mid, NOW, ""), k_ed);
	const char *toks[2] = {a, b};
	struct attest_poc_input in = {toks, 1, quote, sizeof(quote), NOW};
	/* one key of the two required */
	CHECK(!attest_policy_check_poc(p, &res, NULL, &in, &rule, reason, sizeof(reason)));
	CHECK(rule && strstr(reason, "1 trust-server key(s) vouch") != NULL);
	in.n_tokens = 2;
	CHECK(attest_policy_check_poc(p, &res, NULL, &in, &rule, reason, sizeof(reason)));
	struct attest_policy_rule rules[ATTEST_POLICY_MAX_RULES];
	size_t nr = attest_policy_rules_poc(p, &res, NULL, &in, rules, PGS_ARRAY_LEN(rules));
	CHECK(nr == 2 && !strcmp(rules[1].rule, "poc_trust_servers") && rules[1].pass);
	/* another platform: the machine id no longer matches */
	res.ppid[0] ^= 1;
	CHECK(!attest_policy_check_poc(p, &res, NULL, &in, &rule, reason, sizeof(reason)));
	CHECK(strstr(reason, "token 1: machine_id") != NULL);
	res.pck_parsed = false;
	res.ppid[0] ^= 1;
	CHECK(!attest_policy_check_poc(p, &res, NULL, &in, &rule, reason, sizeof(reason)));
	free(a);
	free(b);
	attest_policy_free(p);

	/* PEM text in the policy itself, as a YAML block */
	pem = pem_of(k_rsa, &n);
	char block[2000] = "poc_trust_servers:\n  - id: inline\n    public_key: |\n";
	for (char *line = strtok(pem, "\n"); line; line = strtok(NULL, "\n"))
		snprintf(block + strlen(block), sizeof(block) - strlen(block), "      %s\n", line);
	free(pem);
	put(pol, block);
	p = NULL;
	CHECK(attest_policy_load(pol, &p, err, sizeof(err)) == PGS_OK);
	CHECK(p && attest_policy_poc(p)->n_keys == 1 &&
	      attest_policy_poc(p)->keys[0].type == ATTEST_POC_RSA);
	attest_policy_free(p);

	/* policies that do not load */
	const char *bad[] = {
	    "poc_threshold: 1\n",
	    "poc_trust_servers: []\n",
	    "poc_trust_servers: ts.pem\n",
	    "poc_trust_servers:\n  - id: ec\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\n    public_key: ab\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: missing.pem\n",
	    "poc_trust_servers:\n  - id: ec\n    pubkey_file: ts.pem\n",
	    "poc_trust_servers:\n  - ts.pem\n",
	    "poc_trust_servers:\n  - public_key_file: ts.pem\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\npoc_threshold: 2\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\npoc_threshold: 0\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\npoc_max_age: -1\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\npoc_clock_skew: 1d\n",
	    "poc_trust_servers:\n  - id: ec\n    public_key_file: ts.pem\n"
	    "  - id: ec\n    public_key_file: ts.pem\n",
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		put(pol, bad[i]);
		p = NULL;
		int rc = attest_policy_load(pol, &p, err, sizeof(err));
		if (rc == PGS_OK)
			fprintf(stderr, "loaded: %s\n", bad[i]);
		CHECK(rc == PGS_ERR && p == NULL);
		attest_policy_free(p);
	}
	unlink(key);
	unlink(pol);
	rmdir(dir);
}

int main(void)
{
	k_ec = EVP_EC_gen("P-256");
	k_ec2 = EVP_EC_gen("P-256");
	k_rsa = EVP_RSA_gen(2048);
	k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k_ec || !k_ec2 || !k_rsa || !k_ed) {
		fprintf(stderr, "key generation failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(quote); i++)
		quote[i] = (uint8_t)(i * 7 + 3);
	uint8_t h[32];
	EVP_Digest(quote, sizeof(quote), h, NULL, EVP_sha256(), NULL);
	pgs_hex(h, 32, qhash);
	EVP_Digest(ppid, 16, h, NULL, EVP_sha256(), NULL);
	pgs_hex(h, 32, mid);

	RUN(test_pass_each_alg);
	RUN(test_signature_and_kid);
	RUN(test_alg_confusion);
	RUN(test_claims_bound);
	RUN(test_time);
	RUN(test_structure);
	RUN(test_header_and_claims);
	RUN(test_threshold);
	RUN(test_keys);
	RUN(test_split);
	RUN(test_policy);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ec2);
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_ed);
	return t_summary("test_attest_poc");
}
