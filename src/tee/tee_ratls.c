/* tee_ratls.c - RA-TLS: an in-memory TLS key and a self-signed certificate carrying a dstack TDX
 * quote bound to it; the /attestation document. */
#include "tee/tee.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "attest/attest.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "net/net.h"

struct tee_ratls {
	SSL_CTX *ctx;  /* generated certificate + key; NULL with client_tls.cert_file */
	X509 *cert;    /* the served (or configured) leaf certificate */
	EVP_PKEY *key; /* generated key (memory only); NULL with cert_file */
	const char *provider;
	bool escrow_allowed; /* keys.escrow: allowed (docs/keys.md, Escrow) */
	char *doc;           /* the /attestation JSON document */
};

/* ---- key, binding, certificate --------------------------------------------------------- */

EVP_PKEY *tee_ratls_generate_key(void)
{
	return EVP_EC_gen("P-256");
}

static int spki_binding(X509_PUBKEY *pk, uint8_t out[64])
{
	unsigned char *der = NULL;
	int n = pk ? i2d_X509_PUBKEY(pk, &der) : -1;
	int rc = n > 0 ? attest_ratls_report_data(der, (size_t)n, out) : PGS_ERR;
	OPENSSL_free(der);
	return rc;
}

static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static void san_add(char *out, size_t outlen, const char *kind, const char *v)
{
	size_t used = strlen(out);
	snprintf(out + used, outlen - used, "%s%s:%s", used ? "," : "", kind, v);
}

/* Names a client may use to reach the listener. Clients are expected to judge the
 * certificate by its quote (and pin it), so the names are a convenience for
 * sslmode=verify-full with a pinned certificate, not a security property. */
void tee_ratls_san_for_listen(const char *listen, char *out, size_t outlen)
{
	char host[256];
	int port;
	unsigned char a[16];
	out[0] = '\0';
	if (!listen || config_parse_hostport(listen, host, sizeof(host), &port) != PGS_OK)
		snprintf(host, sizeof(host), "localhost");
	bool v4 = inet_pton(AF_INET, host, a) == 1;
	bool v6 = !v4 && inet_pton(AF_INET6, host, a) == 1;
	bool wildcard = !strcmp(host, "*") || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
	bool loopback = !strcmp(host, "localhost") || (v4 && a[0] == 127) ||
	                (v6 && !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16));
	if (wildcard) {
		char hn[256] = "";
		if (gethostname(hn, sizeof(hn) - 1) == 0 && dns_name_ok(hn) &&
		    strcmp(hn, "localhost") != 0)
			san_add(out, outlen, "DNS", hn);
	} else if (v4 || v6) {
		if (!loopback)
			san_add(out, outlen, "IP", host);
	} else if (dns_name_ok(host) && strcmp(host, "localhost") != 0) {
		san_add(out, outlen, "DNS", host);
	}
	if (wildcard || loopback) {
		san_add(out, outlen, "DNS", "localhost");
		san_add(out, outlen, "IP", "127.0.0.1");
		if (v4 && strcmp(host, "127.0.0.1") != 0)
			san_add(out, outlen, "IP", host);
		san_add(out, outlen, "IP", "::1");
	}
	if (!out[0])
		san_add(out, outlen, "DNS", "localhost");
}

static int add_conf_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	int ok = e && X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok ? PGS_OK : PGS_ERR;
}

/* A non-critical extension whose extnValue contents are DER OCTET STRING(data), as
 * dstack >= 0.5 writes its RA-TLS extensions (docs/attestation.md, "RA-TLS"). */
static int add_octet_ext(X509 *x, const char *oid, const uint8_t *data, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *val = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	unsigned char *der = NULL;
	int rc = PGS_ERR, n;
	if (!obj || !inner || !val || len > ATTEST_QUOTE_MAX ||
	    ASN1_OCTET_STRING_set(inner, data, (int)len) != 1)
		goto out;
	n = i2d_ASN1_OCTET_STRING(inner, &der);
	if (n <= 0 || ASN1_OCTET_STRING_set(val, der, n) != 1)
		goto out;
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, val);
	if (e && X509_add_ext(x, e, -1) == 1)
		rc = PGS_OK;
out:
	X509_EXTENSION_free(e);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(val);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(obj);
	return rc;
}

static int set_random_serial(X509 *x)
{
	uint8_t b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return PGS_ERR;
	b[0] = (uint8_t)((b[0] & 0x7f) | 0x01); /* positive, 16 bytes */
	BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
	int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? PGS_OK : PGS_ERR;
}

int tee_ratls_build_cert(EVP_PKEY *key, const char *san, const uint8_t *quote, size_t quote_len,
                         const char *event_log, X509 **out, char *err, size_t errlen)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	int rc = PGS_ERR;
	*out = NULL;
	if (!x || !name || X509_set_version(x, X509_VERSION_3) != 1 ||
	    set_random_serial(x) != PGS_OK ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                               (const unsigned char *)TEE_RATLS_CN, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), TEE_RATLS_VALIDITY_DAYS, 0, NULL) ||
	    X509_set_pubkey(x, key) != 1) {
		pgs_errf(err, errlen, "RA-TLS: cannot build the certificate");
		goto out;
	}
	if (add_conf_ext(x, NID_basic_constraints, "critical,CA:FALSE") != PGS_OK ||
	    add_conf_ext(x, NID_key_usage, "critical,digitalSignature") != PGS_OK ||
	    add_conf_ext(x, NID_ext_key_usage, "serverAuth") != PGS_OK ||
	    add_conf_ext(x, NID_subject_key_identifier, "hash") != PGS_OK ||
	    (san && *san && add_conf_ext(x, NID_subject_alt_name, san) != PGS_OK)) {
		pgs_errf(err, errlen, "RA-TLS: cannot add the X.509 extensions (SAN \"%s\")",
		         san ? san : "");
		goto out;
	}
	if (add_octet_ext(x, ATTEST_OID_RATLS_QUOTE, quote, quote_len) != PGS_OK ||
	    (event_log && add_octet_ext(x, ATTEST_OID_RATLS_EVENT_LOG, (const uint8_t *)event_log,
	                                strlen(event_log)) != PGS_OK)) {
		pgs_errf(err, errlen, "RA-TLS: cannot add the quote / event log extensions");
		goto out;
	}
	if (X509_sign(x, key, EVP_sha256()) <= 0) {
		pgs_errf(err, errlen, "RA-TLS: cannot sign the certificate");
		goto out;
	}
	*out = x;
	x = NULL;
	rc = PGS_OK;
out:
	X509_NAME_free(name);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* ---- the /attestation document ---------------------------------------------------------- */

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *s = NULL;
	if (b && PEM_write_bio_X509(b, x) == 1) {
		long n = BIO_get_mem_data(b, &p);
		if (n > 0) {
			s = pgs_xmalloc((size_t)n + 1);
			memcpy(s, p, (size_t)n);
			s[n] = '\0';
		}
	}
	BIO_free(b);
	return s;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The simulator says who it is (docs/simulator.md): its key_provider_info names
 * "pgseal-dstack-sim", and its PCK chain is issued by a "TEST ... not Intel" CA. This label is
 * informational: a verifier decides trust with `pgseal attest verify`, never from it. */
static const char *detect_provider(const struct tee_dstack_info *info, const uint8_t *quote,
                                   size_t quote_len)
{
	static const char sim_ca[] = "pgseal dstack simulator TEST";
	if (info->key_provider_info && strstr(info->key_provider_info, "\"pgseal-dstack-sim\""))
		return "dstack-simulator";
	struct attest_quote q;
	char e[128];
	if (attest_quote_parse(quote, quote_len, &q, e, sizeof(e)) == PGS_OK && q.pck_chain &&
	    memmem(q.pck_chain, q.pck_chain_len, sim_ca, sizeof(sim_ca) - 1))
		return "dstack-simulator";
	return "dstack";
}

static int build_doc(struct tee_ratls *r, const struct tee_dstack_info *info,
                     const struct tee_dstack_quote *q, const uint8_t binding[64], bool generated,
                     char *err, size_t errlen)
{
	char *qhex = pgs_xmalloc(2 * q->quote_len + 1), rdhex[129], *pem = cert_pem(r->cert);
	json_t *ev = NULL, *doc = NULL;
	int rc = PGS_ERR;
	pgs_hex(q->quote, q->quote_len, qhex);
	pgs_hex(binding, 64, rdhex);
	if (q->event_log) {
		json_error_t je;
		ev = json_loads(q->event_log, 0, &je);
		if (!ev) /* not JSON: keep the agent's text rather than lose it */
			ev = json_string(q->event_log);
	}
	doc = json_pack("{s:s, s:o, s:o, s:s?, s:s, s:{s:s, s:s}, s:{s:o, s:o, s:o, s:o}, s:s, "
	                "s:I, s:b}",
	                "quote", qhex, "event_log", ev ? ev : json_null(), "vm_config",
	                str_or_null(q->vm_config), "certificate", pem, "certificate_source",
	                generated ? "ra-tls" : "cert_file", "binding", "method",
	                ATTEST_RATLS_BINDING, "report_data", rdhex, "app", "app_id",
	                str_or_null(info->app_id), "compose_hash", str_or_null(info->compose_hash),
	                "instance_id", str_or_null(info->instance_id), "app_name",
	                str_or_null(info->app_name), "provider", r->provider, "created_at",
	                (json_int_t)time(NULL), "escrow_allowed", r->escrow_allowed ? 1 : 0);
	ev = NULL; /* stolen by json_pack (also on failure) */
	if (!doc || !pem) {
		pgs_errf(err, errlen, "RA-TLS: cannot build the /attestation document");
		goto out;
	}
	r->doc = json_dumps(doc, JSON_COMPACT);
	rc = r->doc ? PGS_OK : PGS_ERR;
	if (rc != PGS_OK)
		pgs_errf(err, errlen, "RA-TLS: cannot encode the /attestation document");
out:
	json_decref(doc);
	free(pem);
	free(qhex);
	return rc;
}

/* ---- boot ------------------------------------------------------------------------------- */

static X509 *load_leaf(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!x)
		pgs_errf(err, errlen, "client_tls.cert_file %s: no PEM certificate", path);
	ERR_clear_error();
	return x;
}

/* The agent must have quoted our report_data; a mismatch would serve a quote that binds
 * nothing. A quote that does not parse as TDX is served as is (with a warning). */
static int check_quote(const struct tee_dstack_quote *q, const uint8_t binding[64], char *err,
                       size_t errlen)
{
	struct attest_quote aq;
	char e[256];
	if (attest_quote_parse(q->quote, q->quote_len, &aq, e, sizeof(e)) != PGS_OK) {
		log_warn(
		    "RA-TLS: the quote from the dstack agent does not parse as a TDX quote (%s); "
		    "serving it as is",
		    e);
		return PGS_OK;
	}
	if (CRYPTO_memcmp(aq.td.report_data, binding, 64) != 0) {
		pgs_errf(err, errlen,
		         "RA-TLS: the dstack agent returned a quote whose report_data is "
		         "not the requested binding");
		return PGS_ERR;
	}
	return PGS_OK;
}

int tee_ratls_setup(const struct config *cfg, struct tee_ratls **out, char *err, size_t errlen)
{
	struct tee_ratls *r = NULL;
	struct tee_dstack_info info;
	struct tee_dstack_quote q;
	uint8_t binding[64];
	char san[1024];
	int rc = PGS_ERR;

	memset(&info, 0, sizeof(info));
	memset(&q, 0, sizeof(q));
	*out = NULL;
	if (!cfg->keys.enabled || !cfg->keys.provider ||
	    strcmp(cfg->keys.provider, "dstack") != 0) {
		log_info("attestation: keys provider %s is not a TEE; GET /attestation answers 404",
		         cfg->keys.provider ? cfg->keys.provider : "(none)");
		return PGS_OK;
	}
	if (!cfg->client_tls.enabled) {
		log_warn("attestation: no client_tls section, so no TLS key to bind a quote to; "
		         "clients connect in plaintext and GET /attestation answers 404");
		return PGS_OK;
	}
	const char *ep = tee_dstack_endpoint(cfg->keys.dstack_endpoint);
	r = pgs_xcalloc(1, sizeof(*r));
	if (tee_dstack_info(ep, &info, err, errlen) != PGS_OK)
		goto out;
	bool generate = cfg->client_tls.cert_file == NULL;
	if (generate) {
		r->key = tee_ratls_generate_key();
		if (!r->key || attest_ratls_report_data_for_key(r->key, binding) != PGS_OK) {
			pgs_errf(err, errlen, "RA-TLS: cannot generate the P-256 TLS key");
			goto out;
		}
	} else {
		r->cert = load_leaf(cfg->client_tls.cert_file, err, errlen);
		if (!r->cert)
			goto out;
		if (spki_binding(X509_get_X509_PUBKEY(r->cert), binding) != PGS_OK) {
			pgs_errf(err, errlen, "RA-TLS: cannot encode the public key of %s",
			         cfg->client_tls.cert_file);
			goto out;
		}
	}
	if (tee_dstack_get_quote(ep, binding, sizeof(binding), &q, err, errlen) != PGS_OK)
		goto out;
	if (check_quote(&q, binding, err, errlen) != PGS_OK)
		goto out;
	r->provider = detect_provider(&info, q.quote, q.quote_len);
	if (generate) {
		tee_ratls_san_for_listen(cfg->listen, san, sizeof(san));
		/* OpenSSL clients refuse certificate lists over 100 KiB by default */
		const char *ev = q.event_log;
		if (ev && strlen(ev) > TEE_RATLS_CERT_EVENT_LOG_MAX) {
			log_warn(
			    "RA-TLS: the event log (%zu bytes) is too large for the certificate; "
			    "it is served at GET /attestation only",
			    strlen(ev));
			ev = NULL;
		}
		if (tee_ratls_build_cert(r->key, san, q.quote, q.quote_len, ev, &r->cert, err,
		                         errlen) != PGS_OK)
			goto out;
		r->ctx = net_tls_server_ctx_mem(&cfg->client_tls, r->cert, r->key, err, errlen);
		if (!r->ctx)
			goto out;
	}
	r->escrow_allowed = cfg->keys.escrow_allowed;
	if (build_doc(r, &info, &q, binding, generate, err, errlen) != PGS_OK)
		goto out;
	if (generate)
		log_info(
		    "RA-TLS: generated the client TLS key in memory; certificate CN=%s, SAN %s, "
		    "with a %zu-byte %s quote of its key",
		    TEE_RATLS_CN, san, q.quote_len, r->provider);
	else
		log_info("RA-TLS: %s quote of the key of %s served at GET /attestation (not in the "
		         "certificate)",
		         r->provider, cfg->client_tls.cert_file);
	if (!strcmp(r->provider, "dstack-simulator"))
		log_warn("RA-TLS: the quote comes from the dstack SIMULATOR (test CA, not Intel): "
		         "development only");
	*out = r;
	r = NULL;
	rc = PGS_OK;
out:
	tee_dstack_quote_free(&q);
	tee_dstack_info_free(&info);
	tee_ratls_free(r);
	return rc;
}

SSL_CTX *tee_ratls_ssl_ctx(const struct tee_ratls *r)
{
	return r ? r->ctx : NULL;
}

const char *tee_ratls_provider(const struct tee_ratls *r)
{
	return r ? r->provider : NULL;
}

char *tee_ratls_attestation_json(void *arg)
{
	const struct tee_ratls *r = arg;
	return r && r->doc ? pgs_xstrdup(r->doc) : NULL;
}

void tee_ratls_free(struct tee_ratls *r)
{
	if (!r)
		return;
	SSL_CTX_free(r->ctx);
	X509_free(r->cert);
	EVP_PKEY_free(r->key); /* OpenSSL clears EC private keys when freeing them */
	if (r->doc)
		free(r->doc);
	free(r);
}
