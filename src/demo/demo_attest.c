/* demo_attest.c - pgseal-demo's attestation panel: pgseal's GET /attestation, verified in-process
 * with src/attest (quote, event log, RA-TLS binding, policy). */
#include "demo/demo.h"

#include "attest/attest.h"
#include "common/log.h"

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_MAX (4u << 20) /* a larger /attestation document is refused */
#define DOC_CACHE_S 10     /* pgseal's document is fixed at its boot; re-read now and then */
#define FETCH_TIMEOUT_MS 5000L
#define SIM_CA_MARK                                                                                \
	"pgseal dstack simulator TEST" /* the simulator's CA names (docs/simulator.md) */

struct demo_attest {
	const struct demo_cfg *cfg;
	pthread_mutex_t lock;
	char *doc; /* the last /attestation document */
	size_t doc_len;
	time_t doc_at;
};

static void fail(struct demo_err *e, unsigned status, const char *fmt, ...) PGS_PRINTF(3, 4);
static void fail(struct demo_err *e, unsigned status, const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	snprintf(e->log, sizeof(e->log), "%s", e->msg);
}

struct demo_attest *demo_attest_new(const struct demo_cfg *cfg)
{
	struct demo_attest *a = pgs_xcalloc(1, sizeof(*a));
	a->cfg = cfg;
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

void demo_attest_free(struct demo_attest *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->doc);
	free(a);
}

struct buf {
	char *p;
	size_t len;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t k = size * n;
	if (b->len + k > DOC_MAX) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	b->p = pgs_xrealloc(b->p, b->len + k + 1);
	memcpy(b->p + b->len, data, k);
	b->len += k;
	b->p[b->len] = 0;
	return k;
}

#define HOP_ADMIN "pgseal admin API (GET /attestation)"

/* The document, fetched at most every DOC_CACHE_S seconds; a copy in *out. Holds a->lock. */
static int fetch_doc(struct demo_attest *a, char **out, size_t *len, struct demo_err *e)
{
	time_t now = time(NULL);
	if (!a->cfg->admin_url) {
		fail(e, 404, "no --admin-url given: pgseal-demo shows no attestation");
		return PGS_ERR;
	}
	if (!a->doc || now - a->doc_at >= DOC_CACHE_S || now < a->doc_at) {
		char url[1024];
		long code = 0;
		struct buf b = {0};
		size_t ul = strlen(a->cfg->admin_url);
		snprintf(url, sizeof(url), "%.*s/attestation",
		         (int)(ul && a->cfg->admin_url[ul - 1] == '/' ? ul - 1 : ul),
		         a->cfg->admin_url);
		CURL *c = curl_easy_init();
		if (!c) {
			fail(e, 500, "%s: libcurl unavailable", HOP_ADMIN);
			return PGS_ERR;
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		CURLcode rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(c);
		if (rc != CURLE_OK || code != 200 || !b.p) {
			if (b.too_big)
				fail(e, 502, "%s: document larger than %u bytes", HOP_ADMIN,
				     DOC_MAX);
			else if (rc != CURLE_OK)
				fail(e, 502, "%s: %s", HOP_ADMIN, curl_easy_strerror(rc));
			else
				fail(e, 502, "%s: HTTP %ld%s", HOP_ADMIN, code,
				     code == 404
				         ? " (pgseal runs without attestation: keys.provider "
				           "dstack and a client_tls section are needed)"
				         : "");
			free(b.p);
			return PGS_ERR;
		}
		free(a->doc);
		a->doc = b.p;
		a->doc_len = b.len;
		a->doc_at = now;
	}
	*out = pgs_xmalloc(a->doc_len + 1);
	memcpy(*out, a->doc, a->doc_len + 1);
	*len = a->doc_len;
	return PGS_OK;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return PGS_ERR;
	size_t cap = 4096, n = 0, r;
	uint8_t *p = pgs_xmalloc(cap + 1);
	while ((r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap && cap < DOC_MAX)
			p = pgs_xrealloc(p, (cap *= 2) + 1);
		else if (n == cap)
			break;
	}
	fclose(f);
	p[n] = 0;
	*out = p;
	*len = n;
	return PGS_OK;
}

/* report_data binding of the certificate (PEM) the document names: what the quote must hold. */
static bool binding_of_cert(const char *pem, uint8_t out[ATTEST_REPORT_DATA_LEN])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
	bool ok = k && attest_ratls_report_data_for_key(k, out) == PGS_OK;
	X509_free(x);
	BIO_free(bio);
	return ok;
}

struct inputs {
	uint8_t *root, *coll_raw;
	size_t root_len, coll_len;
	struct attest_collateral *coll;
	struct attest_policy *policy;
};

static void inputs_free(struct inputs *in)
{
	free(in->root);
	free(in->coll_raw);
	attest_collateral_free(in->coll);
	attest_policy_free(in->policy);
}

/* The verifier's own inputs (trust anchor, collateral, policy): read at each verification
 * so that the simulator's files, rewritten at its start, are always the current ones. */
static int load_inputs(const struct demo_cfg *cfg, struct inputs *in, struct demo_err *e)
{
	char err[256];
	if (cfg->root_ca) {
		uint8_t *raw;
		size_t n;
		if (read_file(cfg->root_ca, &raw, &n) != PGS_OK) {
			fail(e, 500, "pgseal-demo: cannot read --root-ca %s", cfg->root_ca);
			return PGS_ERR;
		}
		int rc = attest_root_ca_load(raw, n, &in->root, &in->root_len, err, sizeof(err));
		free(raw);
		if (rc != PGS_OK) {
			fail(e, 500, "pgseal-demo: --root-ca: %s", err);
			return PGS_ERR;
		}
	}
	if (cfg->collateral) {
		if (read_file(cfg->collateral, &in->coll_raw, &in->coll_len) != PGS_OK) {
			fail(e, 500, "pgseal-demo: cannot read --collateral %s", cfg->collateral);
			return PGS_ERR;
		}
		if (attest_collateral_parse((const char *)in->coll_raw, in->coll_len, &in->coll,
		                            err, sizeof(err)) != PGS_OK) {
			fail(e, 500, "pgseal-demo: --collateral: %s", err);
			return PGS_ERR;
		}
	}
	if (cfg->policy &&
	    attest_policy_load(cfg->policy, &in->policy, err, sizeof(err)) != PGS_OK) {
		fail(e, 500, "pgseal-demo: --policy: %s", err);
		return PGS_ERR;
	}
	return PGS_OK;
}

static json_t *str_member(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);
	return json_is_string(v) ? json_string(json_string_value(v)) : json_null();
}

/* Verifies the document as `pgseal attest verify` does, and adds what the panel shows. */
static json_t *verify_doc(const struct demo_cfg *cfg, const char *doc_text, size_t doc_len,
                          struct demo_err *e)
{
	struct inputs in = {0};
	struct attest_result res;
	struct attest_replay replay;
	struct attest_eventlog log = {0};
	uint8_t *quote = NULL, want[ATTEST_REPORT_DATA_LEN];
	size_t quote_len = 0;
	bool have_replay = false, binding_ok = false;
	char err[256];
	json_t *out = NULL, *doc = json_loadb(doc_text, doc_len, 0, NULL);

	memset(&res, 0, sizeof(res));
	memset(&replay, 0, sizeof(replay));
	if (!json_is_object(doc)) {
		fail(e, 502, "%s: the answer is not a JSON object", HOP_ADMIN);
		goto out;
	}
	if (load_inputs(cfg, &in, e) != PGS_OK)
		goto out;
	struct attest_opts opts = {
	    .root_ca_der = in.root,
	    .root_ca_len = in.root_len,
	    .now = (int64_t)time(NULL),
	    .min_tcb_status = in.policy ? attest_policy_min_tcb(in.policy) : ATTEST_TCB_UP_TO_DATE,
	};
	if (attest_quote_decode_file((const uint8_t *)doc_text, doc_len, &quote, &quote_len, err,
	                             sizeof(err)) != PGS_OK)
		attest_fail(&res, "quote_format", "%s", err);
	else if (attest_verify_quote(quote, quote_len, in.coll, &opts, &res, err, sizeof(err)) !=
	         PGS_OK) {
		fail(e, 500, "pgseal-demo: the verifier could not run: %s", err);
		goto out;
	}
	if (res.quote_parsed) {
		if (attest_eventlog_parse(doc_text, doc_len, &log, err, sizeof(err)) != PGS_OK) {
			attest_fail(&res, "event_log", "%s", err);
		} else if (attest_eventlog_replay(&log, &res.quote.td, &replay) == PGS_OK) {
			have_replay = true;
			if (!replay.rtmr3_ok)
				attest_fail(&res, "event_log", "%s", replay.reason);
		}
		const char *pem = json_string_value(json_object_get(doc, "certificate"));
		binding_ok = pem && binding_of_cert(pem, want) &&
		             !memcmp(want, res.quote.td.report_data, sizeof(want));
		if (!binding_ok)
			attest_fail(
			    &res, "ra_tls_binding",
			    "the quote's report_data does not bind the served certificate's "
			    "key (%s)",
			    ATTEST_RATLS_BINDING);
	}
	struct attest_policy_rule rules[ATTEST_POLICY_MAX_RULES];
	size_t nrules = 0;
	if (in.policy) {
		const char *rule = NULL;
		char reason[256];
		nrules = attest_policy_rules(in.policy, &res, have_replay ? &replay : NULL, rules,
		                             PGS_ARRAY_LEN(rules));
		if (!attest_policy_check(in.policy, &res, have_replay ? &replay : NULL, &rule,
		                         reason, sizeof(reason)))
			attest_fail(&res, "policy", "policy rule %s: %s", rule, reason);
	}
	out = attest_result_json(&res, have_replay ? &replay : NULL, NULL, binding_ok);
	json_t *rl = json_array();
	for (size_t i = 0; i < nrules; i++)
		json_array_append_new(rl,
		                      json_pack("{s:s, s:s, s:s?}", "rule", rules[i].rule, "result",
		                                rules[i].pass ? "pass" : "fail", "reason",
		                                rules[i].pass ? NULL : rules[i].reason));
	json_object_set_new(out, "policy_rules", rl);
	json_object_set_new(out, "policy_file",
	                    cfg->policy ? json_string(cfg->policy) : json_null());
	json_object_set_new(out, "ra_tls_binding_ok", json_boolean(binding_ok));
	/* SIMULATED: the quote's own PCK chain comes from the simulator's test CA, or pgseal
	 * says its agent is the simulator. Either is enough to say so; neither makes it trusted. */
	bool sim_chain = res.quote_parsed && res.quote.pck_chain &&
	                 memmem(res.quote.pck_chain, res.quote.pck_chain_len, SIM_CA_MARK,
	                        sizeof(SIM_CA_MARK) - 1);
	const char *prov = json_string_value(json_object_get(doc, "provider"));
	bool simulated = sim_chain || (prov && !strcmp(prov, "dstack-simulator")) ||
	                 (have_replay && replay.key_provider &&
	                  strstr(replay.key_provider, "pgseal-dstack-sim"));
	json_object_set_new(out, "simulated", json_boolean(simulated));
	json_object_set_new(out, "provider", str_member(doc, "provider"));
	json_object_set_new(out, "certificate_source", str_member(doc, "certificate_source"));
	json_object_set_new(out, "certificate", str_member(doc, "certificate"));
	json_object_set_new(out, "root_ca",
	                    json_string(cfg->root_ca ? "custom (--root-ca)" : "intel-sgx-root-ca"));
	json_object_set_new(out, "collateral_file",
	                    cfg->collateral ? json_string(cfg->collateral) : json_null());
	json_object_set_new(out, "proof_of_cloud", json_string("not configured"));
	json_object_set_new(out, "quote_bytes", json_integer((json_int_t)quote_len));
	json_object_set_new(out, "event_log_events", json_integer((json_int_t)log.n));
	json_object_set_new(out, "at", json_integer(opts.now));
out:
	json_decref(doc);
	free(quote);
	attest_eventlog_free(&log);
	attest_replay_free(&replay);
	inputs_free(&in);
	return out;
}

json_t *demo_attest_panel(struct demo_attest *a, struct demo_err *e)
{
	char *doc = NULL;
	size_t len = 0;
	pthread_mutex_lock(&a->lock);
	int rc = fetch_doc(a, &doc, &len, e);
	pthread_mutex_unlock(&a->lock);
	if (rc != PGS_OK)
		return NULL;
	json_t *out = verify_doc(a->cfg, doc, len, e);
	free(doc);
	return out;
}

int demo_attest_raw(struct demo_attest *a, bool event_log, uint8_t **out, size_t *len,
                    struct demo_err *e)
{
	char *doc = NULL, err[256];
	size_t dlen = 0;
	int rc;
	pthread_mutex_lock(&a->lock);
	rc = fetch_doc(a, &doc, &dlen, e);
	pthread_mutex_unlock(&a->lock);
	if (rc != PGS_OK)
		return PGS_ERR;
	if (!event_log) {
		rc = attest_quote_decode_file((const uint8_t *)doc, dlen, out, len, err,
		                              sizeof(err));
		if (rc != PGS_OK)
			fail(e, 502, "%s: no usable quote: %s", HOP_ADMIN, err);
	} else {
		json_t *d = json_loadb(doc, dlen, 0, NULL);
		json_t *ev = json_object_get(d, "event_log");
		char *s = json_is_string(ev) ? pgs_xstrdup(json_string_value(ev))
		          : ev               ? json_dumps(ev, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
		                             : NULL;
		json_decref(d);
		rc = s ? PGS_OK : PGS_ERR;
		if (s) {
			*out = (uint8_t *)s;
			*len = strlen(s);
		} else {
			fail(e, 502, "%s: the document has no event log", HOP_ADMIN);
		}
	}
	free(doc);
	return rc;
}
