/* sim_tls.c - GetTlsKey: a fresh P-256 key and a certificate from the simulator's app CA,
 * optionally RA-TLS. */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

/* dstack's RA-TLS extensions (ra-tls crate, oids.rs): the TDX quote and the event log. */
#define OID_RATLS_TDX_QUOTE "1.3.6.1.4.1.62397.1.1"
#define OID_RATLS_EVENT_LOG "1.3.6.1.4.1.62397.1.2"

static char *bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s = pgs_xmalloc((size_t)n + 1);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

/* Adds a non-critical extension whose value is DER OCTET STRING(content), as dstack's yasna writes
 * it. */
static int add_octet_ext(X509 *x, const char *oid, const uint8_t *content, size_t len)
{
	int rc = PGS_ERR;
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *outer = ASN1_OCTET_STRING_new();
	uint8_t *der = NULL;
	X509_EXTENSION *ext = NULL;
	if (!obj || !inner || !outer || ASN1_OCTET_STRING_set(inner, content, (int)len) != 1)
		goto out;
	int dlen = i2d_ASN1_OCTET_STRING(inner, &der);
	if (dlen <= 0 || ASN1_OCTET_STRING_set(outer, der, dlen) != 1)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, outer);
	if (ext && X509_add_ext(x, ext, -1) == 1)
		rc = PGS_OK;
out:
	X509_EXTENSION_free(ext);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OCTET_STRING_free(outer);
	ASN1_OBJECT_free(obj);
	return rc;
}

/* "DNS:a,IP:b" for the alt names; only host-name and IP characters are accepted (no config syntax).
 */
static char *san_value(const struct sim_tls_req *req, char *err, size_t errlen)
{
	static const char allowed[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*:";
	size_t n = 1;
	for (size_t i = 0; i < req->n_alt_names; i++) {
		const char *a = req->alt_names[i];
		size_t len = strlen(a);
		if (len == 0 || len > 253 || strspn(a, allowed) != len) {
			pgs_errf(err, errlen, "alt_names entry %zu is not a DNS name or IP address",
			         i);
			return NULL;
		}
		n += len + 5;
	}
	char *s = pgs_xcalloc(1, n);
	size_t w = 0; /* write cursor; n counts 5 bytes of "," and "DNS:" per name, and the NUL */
	for (size_t i = 0; i < req->n_alt_names; i++) {
		const char *a = req->alt_names[i];
		bool ip = strspn(a, "0123456789.") == strlen(a) || strchr(a, ':');
		int k = snprintf(s + w, n - w, "%s%s%s", i ? "," : "", ip ? "IP:" : "DNS:", a);
		if (k < 0 || (size_t)k >= n - w) {
			free(s); /* cannot happen: n was summed from the same names */
			pgs_errf(err, errlen, "alt_names too long");
			return NULL;
		}
		w += (size_t)k;
	}
	return s;
}

int sim_tls_issue(const struct sim_state *st, const struct sim_tls_req *req, char **key_pem,
                  char **leaf_pem, char *err, size_t errlen)
{
	int rc = PGS_ERR;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	uint8_t *spki = NULL, *quote = NULL;
	size_t qlen = 0;
	char *san = NULL, *log = NULL;
	time_t now = time(NULL);
	time_t nb = req->not_before >= 0 ? (time_t)req->not_before : now - 3600;
	time_t na = req->not_after >= 0 ? (time_t)req->not_after : now + 365 * 86400;
	pgs_errf(err, errlen, "certificate generation failed");
	if (!key || !x || !serial || !kb || !cb)
		goto out;
	if (na <= nb) {
		pgs_errf(err, errlen, "not_after must be after not_before");
		goto out;
	}
	if (req->n_alt_names && !(san = san_value(req, err, errlen)))
		goto out;
	const char *cn = req->subject && *req->subject ? req->subject : "pgseal-dstack-sim";
	if (strlen(cn) > 64) {
		pgs_errf(err, errlen, "subject longer than 64 characters");
		goto out;
	}
	if (X509_set_version(x, 2) != 1 ||
	    BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), na) ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
	                               (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(st->ca.app_ca)) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, st->ca.app_ca, x, NULL, NULL, 0);
	const char *eku = req->server_auth && req->client_auth ? "serverAuth,clientAuth"
	                  : req->client_auth                   ? "clientAuth"
	                                                       : "serverAuth";
	if (sim_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    sim_x509_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
	    ((req->server_auth || req->client_auth) &&
	     sim_x509_add_ext(x, &ctx, NID_ext_key_usage, eku)) ||
	    sim_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    sim_x509_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (san && sim_x509_add_ext(x, &ctx, NID_subject_alt_name, san)) {
		pgs_errf(err, errlen, "alt_names: not valid DNS names or IP addresses");
		goto out;
	}
	if (req->ra_tls) {
		uint8_t rd[SIM_REPORT_DATA_LEN], *buf;
		int slen = i2d_PUBKEY(key, &spki);
		if (slen <= 0)
			goto out;
		size_t mlen = 11 + (size_t)slen;
		buf = pgs_xmalloc(mlen);
		/* hashed bytes counted by mlen, not a string */
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(buf, "ratls-cert:", 11);
		memcpy(buf + 11, spki, (size_t)slen);
		SHA512(buf, mlen, rd);
		free(buf);
		log = sim_evlog_json(&st->log);
		if (sim_quote_build(st, rd, &quote, &qlen) != PGS_OK ||
		    add_octet_ext(x, OID_RATLS_TDX_QUOTE, quote, qlen) != PGS_OK ||
		    add_octet_ext(x, OID_RATLS_EVENT_LOG, (const uint8_t *)log, strlen(log)) !=
		        PGS_OK)
			goto out;
	}
	if (X509_sign(x, st->ca.app_ca_key, EVP_sha256()) <= 0 ||
	    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, x) != 1)
		goto out;
	*key_pem = bio_string(kb);
	*leaf_pem = bio_string(cb);
	rc = PGS_OK;
out:
	BIO_free(kb); /* holds a private key: BIO_s_mem clears its buffer on free */
	BIO_free(cb);
	OPENSSL_free(spki);
	free(quote);
	free(san);
	free(log);
	BN_free(serial);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
