/* attest_policy.c - YAML attestation policy: allowed measurements, compose hashes, minimum TCB
 * status, PPID allow-list, Proof of Cloud trust servers. */
#include "attest/attest_int.h"
#include "crypto/crypto.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define LIST_MAX 4096

/* A list of lower-case hex values of one fixed length; n == 0 with set == false means
 * "the policy does not constrain this". */
struct hexlist {
	bool set;
	size_t n;
	size_t bytes;
	char **v;
};

struct attest_policy {
	enum attest_tcb_status min_tcb;
	struct hexlist mrtd, rtmr[3], compose, app_id, ppid;
	bool require_event_log;
	struct attest_poc_config *poc; /* NULL: no poc_trust_servers */
	bool poc_limits_set;           /* poc_threshold / _max_age / _clock_skew given */
	long long poc_threshold, poc_max_age, poc_skew;
};

#define POC_KEY_FILE_MAX (64u << 10)
#define POC_MAX_AGE_LIMIT 315360000LL /* ten years */
#define POC_SKEW_LIMIT 86400LL

const struct attest_poc_config *attest_policy_poc(const struct attest_policy *p)
{
	return p->poc;
}

enum attest_tcb_status attest_policy_min_tcb(const struct attest_policy *p)
{
	return p->min_tcb;
}

static void list_free(struct hexlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void attest_policy_free(struct attest_policy *p)
{
	if (!p)
		return;
	list_free(&p->mrtd);
	for (int i = 0; i < 3; i++)
		list_free(&p->rtmr[i]);
	list_free(&p->compose);
	list_free(&p->app_id);
	list_free(&p->ppid);
	attest_poc_config_free(p->poc);
	free(p);
}

/* Normalises a hex value (optional 0x, case-insensitive) of exactly `bytes` bytes. */
static char *norm_hex(const char *s, size_t bytes)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (strlen(s) != 2 * bytes)
		return NULL;
	char *o = pgs_xmalloc(2 * bytes + 1);
	for (size_t i = 0; i < 2 * bytes; i++) {
		if (pgs_hexval((unsigned char)s[i]) < 0) {
			free(o);
			return NULL;
		}
		o[i] = (char)tolower((unsigned char)s[i]);
	}
	o[2 * bytes] = '\0';
	return o;
}

static int list_add(struct hexlist *l, const char *s, const char *key, char *err, size_t errlen)
{
	char *h = norm_hex(s, l->bytes);
	if (!h) {
		pgs_errf(err, errlen, "policy: %s: value is not %zu hex bytes", key, l->bytes);
		return PGS_ERR;
	}
	if (l->n >= LIST_MAX) {
		free(h);
		pgs_errf(err, errlen, "policy: %s: too many values", key);
		return PGS_ERR;
	}
	l->v = pgs_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = h;
	l->set = true;
	return PGS_OK;
}

/* A file named in the policy: a relative path is relative to the policy file. */
static void policy_relpath(const char *path, const char *policy_path, char *full, size_t cap)
{
	if (path[0] != '/' && strrchr(policy_path, '/'))
		snprintf(full, cap, "%.*s/%s", (int)(strrchr(policy_path, '/') - policy_path),
		         policy_path, path);
	else
		snprintf(full, cap, "%s", path);
}

/* PPID allow-list file: one hex PPID per line; '#' starts a comment. */
static int load_ppid_file(struct hexlist *l, const char *path, const char *policy_path, char *err,
                          size_t errlen)
{
	char full[4096], line[512];
	policy_relpath(path, policy_path, full, sizeof(full));
	FILE *f = fopen(full, "r");
	if (!f) {
		pgs_errf(err, errlen, "policy: cannot open PPID allow-list %s: %s", full,
		         strerror(errno));
		return PGS_ERR;
	}
	l->set = true;
	int rc = PGS_OK;
	while (rc == PGS_OK && fgets(line, sizeof(line), f)) {
		char *h = strchr(line, '#');
		if (h)
			*h = '\0';
		char *s = line, *e;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s)
			rc = list_add(l, s, "ppid_allowlist_file", err, errlen);
	}
	fclose(f);
	return rc;
}

/* ---- YAML walking ------------------------------------------------------------------- */

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A key's value: a scalar or a sequence of scalars. */
static int load_list(yaml_document_t *d, yaml_node_t *v, struct hexlist *l, const char *key,
                     char *err, size_t errlen)
{
	l->set = true;
	if (v->type == YAML_SCALAR_NODE)
		return list_add(l, scalar(d, v), key, err, errlen);
	if (v->type != YAML_SEQUENCE_NODE) {
		pgs_errf(err, errlen, "policy: %s must be a list of hex values", key);
		return PGS_ERR;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		const char *s = scalar(d, yaml_document_get_node(d, *it));
		if (!s) {
			pgs_errf(err, errlen, "policy: %s: every item must be a hex string", key);
			return PGS_ERR;
		}
		if (list_add(l, s, key, err, errlen) != PGS_OK)
			return PGS_ERR;
	}
	return PGS_OK;
}

/* ---- Proof of Cloud trust servers -------------------------------------------------- */

static int read_key_file(const char *path, const char *policy_path, uint8_t **out, size_t *len,
                         char *err, size_t errlen)
{
	char full[4096];
	policy_relpath(path, policy_path, full, sizeof(full));
	FILE *f = fopen(full, "rb");
	if (!f) {
		pgs_errf(err, errlen, "policy: cannot open trust-server key %s: %s", full,
		         strerror(errno));
		return PGS_ERR;
	}
	*out = pgs_xmalloc(POC_KEY_FILE_MAX + 1);
	*len = fread(*out, 1, POC_KEY_FILE_MAX + 1, f);
	bool bad = ferror(f) || *len > POC_KEY_FILE_MAX;
	fclose(f);
	if (bad) {
		pgs_errf(err, errlen, "policy: cannot read trust-server key %s (at most %u bytes)",
		         full, POC_KEY_FILE_MAX);
		free(*out);
		*out = NULL;
		return PGS_ERR;
	}
	return PGS_OK;
}

/* One entry of poc_trust_servers: {id, public_key_file | public_key}. */
static int load_poc_server(struct attest_policy *p, yaml_document_t *d, yaml_node_t *m,
                           const char *path, char *err, size_t errlen)
{
	const char *id = NULL, *file = NULL, *inline_key = NULL;
	char kerr[200];
	if (m->type != YAML_MAPPING_NODE) {
		pgs_errf(err, errlen,
		         "policy: poc_trust_servers: every item is a mapping "
		         "{id, public_key_file | public_key}");
		return PGS_ERR;
	}
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		const char *k = scalar(d, yaml_document_get_node(d, pr->key));
		const char *v = scalar(d, yaml_document_get_node(d, pr->value));
		const char **slot = !k                              ? NULL
		                    : !strcmp(k, "id")              ? &id
		                    : !strcmp(k, "public_key_file") ? &file
		                    : !strcmp(k, "public_key")      ? &inline_key
		                                                    : NULL;
		if (!slot || !v) {
			pgs_errf(err, errlen,
			         "policy: poc_trust_servers: '%s' is not id, "
			         "public_key_file or public_key with a text value",
			         k ? k : "?");
			return PGS_ERR;
		}
		*slot = v;
	}
	if (!file == !inline_key) {
		pgs_errf(err, errlen,
		         "policy: poc_trust_servers: give one of public_key_file "
		         "or public_key for each server");
		return PGS_ERR;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (file && read_key_file(file, path, &buf, &len, err, errlen) != PGS_OK)
		return PGS_ERR;
	if (!p->poc)
		p->poc = attest_poc_config_new();
	int rc = attest_poc_config_add_key(p->poc, id, file ? buf : (const uint8_t *)inline_key,
	                                   file ? len : strlen(inline_key), kerr, sizeof(kerr));
	free(buf);
	if (rc != PGS_OK)
		pgs_errf(err, errlen, "policy: poc_trust_servers: %s%s%s: %s", id ? "'" : "",
		         id ? id : "an entry", id ? "'" : "", kerr);
	return rc;
}

static int load_poc_servers(struct attest_policy *p, yaml_document_t *d, yaml_node_t *v,
                            const char *path, char *err, size_t errlen)
{
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.start == v->data.sequence.items.top) {
		pgs_errf(err, errlen, "policy: poc_trust_servers must be a non-empty list");
		return PGS_ERR;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *m = yaml_document_get_node(d, *it);
		if (!m || load_poc_server(p, d, m, path, err, errlen) != PGS_OK)
			return PGS_ERR;
	}
	return PGS_OK;
}

static int load_number(yaml_document_t *d, yaml_node_t *v, const char *key, long long lo,
                       long long hi, long long *out, char *err, size_t errlen)
{
	const char *s = scalar(d, v);
	char *end;
	errno = 0;
	long long x = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || errno || *end || x < lo || x > hi) {
		pgs_errf(err, errlen, "policy: %s must be an integer in %lld..%lld", key, lo, hi);
		return PGS_ERR;
	}
	*out = x;
	return PGS_OK;
}

/* The limits may come before or after the servers; they are applied once all is read. */
static int apply_poc_limits(struct attest_policy *p, char *err, size_t errlen)
{
	if (!p->poc) {
		if (p->poc_limits_set) {
			pgs_errf(err, errlen,
			         "policy: poc_threshold, poc_max_age and poc_clock_skew "
			         "need poc_trust_servers");
			return PGS_ERR;
		}
		return PGS_OK;
	}
	if (p->poc_threshold > (long long)p->poc->n_keys) {
		pgs_errf(err, errlen,
		         "policy: poc_threshold %lld is more than the %zu trust servers",
		         p->poc_threshold, p->poc->n_keys);
		return PGS_ERR;
	}
	p->poc->threshold = (unsigned)p->poc_threshold;
	p->poc->max_age = p->poc_max_age;
	p->poc->skew = p->poc_skew;
	return PGS_OK;
}

static int load_key(struct attest_policy *p, yaml_document_t *d, const char *k, yaml_node_t *v,
                    const char *path, char *err, size_t errlen)
{
	if (!strcmp(k, "poc_trust_servers"))
		return load_poc_servers(p, d, v, path, err, errlen);
	if (!strcmp(k, "poc_threshold") || !strcmp(k, "poc_max_age") ||
	    !strcmp(k, "poc_clock_skew")) {
		p->poc_limits_set = true;
		if (!strcmp(k, "poc_threshold"))
			return load_number(d, v, k, 1, ATTEST_POC_MAX_KEYS, &p->poc_threshold, err,
			                   errlen);
		if (!strcmp(k, "poc_max_age"))
			return load_number(d, v, k, 0, POC_MAX_AGE_LIMIT, &p->poc_max_age, err,
			                   errlen);
		return load_number(d, v, k, 0, POC_SKEW_LIMIT, &p->poc_skew, err, errlen);
	}
	if (!strcmp(k, "min_tcb_status")) {
		const char *s = scalar(d, v);
		if (!s || attest_tcb_status_parse(s, &p->min_tcb) != PGS_OK) {
			pgs_errf(err, errlen,
			         "policy: min_tcb_status must be a TCB status name "
			         "(UpToDate, SWHardeningNeeded, ...)");
			return PGS_ERR;
		}
		return PGS_OK;
	}
	if (!strcmp(k, "require_event_log")) {
		const char *s = scalar(d, v);
		if (!s || (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)) {
			pgs_errf(err, errlen, "policy: require_event_log must be true or false");
			return PGS_ERR;
		}
		p->require_event_log = !strcmp(s, "true");
		return PGS_OK;
	}
	if (!strcmp(k, "ppid_allowlist_file")) {
		const char *s = scalar(d, v);
		if (!s) {
			pgs_errf(err, errlen, "policy: ppid_allowlist_file must be a path");
			return PGS_ERR;
		}
		return load_ppid_file(&p->ppid, s, path, err, errlen);
	}
	static const char *const rt[] = {"rtmr0", "rtmr1", "rtmr2"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(k, rt[i]))
			return load_list(d, v, &p->rtmr[i], k, err, errlen);
	if (!strcmp(k, "mrtd"))
		return load_list(d, v, &p->mrtd, k, err, errlen);
	if (!strcmp(k, "compose_hashes"))
		return load_list(d, v, &p->compose, k, err, errlen);
	if (!strcmp(k, "app_ids"))
		return load_list(d, v, &p->app_id, k, err, errlen);
	if (!strcmp(k, "allowed_ppids"))
		return load_list(d, v, &p->ppid, k, err, errlen);
	pgs_errf(err, errlen, "policy: unknown key '%s'", k);
	return PGS_ERR;
}

int attest_policy_load(const char *path, struct attest_policy **out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct attest_policy *p = pgs_xcalloc(1, sizeof(*p));
	FILE *f = fopen(path, "rb");
	int rc = PGS_ERR;
	bool have_doc = false;

	*out = NULL;
	p->mrtd.bytes = 48;
	for (int i = 0; i < 3; i++)
		p->rtmr[i].bytes = 48;
	p->compose.bytes = 32;
	p->app_id.bytes = 20;
	p->ppid.bytes = 16;
	p->min_tcb = ATTEST_TCB_UP_TO_DATE;
	p->poc_threshold = 1;
	p->poc_max_age = ATTEST_POC_DEFAULT_MAX_AGE;
	p->poc_skew = ATTEST_POC_DEFAULT_SKEW;
	if (!f) {
		pgs_errf(err, errlen, "policy: cannot open %s: %s", path, strerror(errno));
		attest_policy_free(p);
		return PGS_ERR;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		attest_policy_free(p);
		pgs_errf(err, errlen, "policy: cannot initialise the YAML parser");
		return PGS_ERR;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		pgs_errf(err, errlen, "policy: YAML error at line %zu: %s",
		         parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
		goto out;
	}
	have_doc = true;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		pgs_errf(err, errlen, "policy: the document must be a mapping of rules");
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		const char *k = scalar(&doc, yaml_document_get_node(&doc, pr->key));
		yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
		if (!k || !v) {
			pgs_errf(err, errlen, "policy: keys must be plain names");
			goto out;
		}
		if (load_key(p, &doc, k, v, path, err, errlen) != PGS_OK)
			goto out;
	}
	if (apply_poc_limits(p, err, errlen) != PGS_OK)
		goto out;
	*out = p;
	p = NULL;
	rc = PGS_OK;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	attest_policy_free(p);
	return rc;
}

/* ---- evaluation --------------------------------------------------------------------- */

static bool in_list(const struct hexlist *l, const uint8_t *v)
{
	char h[2 * 48 + 1];
	pgs_hex(v, l->bytes, h);
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], h))
			return true;
	return false;
}

static bool in_list_hex(const struct hexlist *l, const char *h)
{
	for (size_t i = 0; h && i < l->n; i++)
		if (!strcmp(l->v[i], h))
			return true;
	return false;
}

/* Appends one rule's result (when there is room). */
static void rule_add(struct attest_policy_rule *out, size_t cap, size_t *n, const char *rule,
                     bool pass, const char *fmt, ...) PGS_PRINTF(6, 7);
static void rule_add(struct attest_policy_rule *out, size_t cap, size_t *n, const char *rule,
                     bool pass, const char *fmt, ...)
{
	if (*n >= cap)
		return;
	struct attest_policy_rule *r = &out[(*n)++];
	r->rule = rule;
	r->pass = pass;
	r->reason[0] = 0;
	if (!pass) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
		va_end(ap);
	}
}

/* The poc_trust_servers rule: every token given passes every check, and at least
 * poc_threshold distinct trust-server keys vouch. */
static void poc_rule(const struct attest_policy *p, const struct attest_result *res,
                     const struct attest_poc_input *poc, struct attest_policy_rule *out, size_t cap,
                     size_t *n)
{
	if (!poc || poc->n_tokens == 0) {
		rule_add(out, cap, n, "poc_trust_servers", false,
		         "no Proof of Cloud token given (--poc-token)");
		return;
	}
	struct attest_poc_verdict *v = pgs_xcalloc(poc->n_tokens, sizeof(*v));
	size_t vouching = attest_poc_verify(p->poc, poc, res->pck_parsed ? res->ppid : NULL, v);
	size_t bad = poc->n_tokens;
	for (size_t i = 0; i < poc->n_tokens && bad == poc->n_tokens; i++)
		if (!v[i].pass)
			bad = i;
	if (bad < poc->n_tokens)
		rule_add(out, cap, n, "poc_trust_servers", false, "token %zu: %s: %s", bad + 1,
		         v[bad].check, v[bad].reason);
	else
		rule_add(out, cap, n, "poc_trust_servers", vouching >= p->poc->threshold,
		         "%zu trust-server key(s) vouch, the policy wants %u", vouching,
		         p->poc->threshold);
	free(v);
}

size_t attest_policy_rules(const struct attest_policy *p, const struct attest_result *res,
                           const struct attest_replay *replay, struct attest_policy_rule *out,
                           size_t cap)
{
	return attest_policy_rules_poc(p, res, replay, NULL, out, cap);
}

size_t attest_policy_rules_poc(const struct attest_policy *p, const struct attest_result *res,
                               const struct attest_replay *replay,
                               const struct attest_poc_input *poc, struct attest_policy_rule *out,
                               size_t cap)
{
	const struct attest_td_report *td = &res->quote.td;
	size_t n = 0;
	if (!res->quote_parsed) {
		rule_add(out, cap, &n, "quote", false,
		         "no parsed quote to check the policy against");
		return n;
	}
	bool tcb_ok = res->tcb_status != ATTEST_TCB_UNKNOWN && res->tcb_status <= p->min_tcb;
	rule_add(out, cap, &n, "min_tcb_status", tcb_ok,
	         "TCB status %s, policy accepts %s or better",
	         attest_tcb_status_name(res->tcb_status), attest_tcb_status_name(p->min_tcb));
	if (p->mrtd.set)
		rule_add(out, cap, &n, "mrtd", in_list(&p->mrtd, td->mr_td),
		         "MRTD is not one of the %zu allowed values", p->mrtd.n);
	static const char *const rt[] = {"rtmr0", "rtmr1", "rtmr2"};
	for (int i = 0; i < 3; i++)
		if (p->rtmr[i].set)
			rule_add(out, cap, &n, rt[i], in_list(&p->rtmr[i], td->rtmr[i]),
			         "RTMR%d is not one of the %zu allowed values", i, p->rtmr[i].n);
	bool need_log = p->require_event_log || p->compose.set || p->app_id.set;
	if (need_log && (!replay || !replay->rtmr3_ok)) {
		/* nothing measured to compare with: the log-based rules fail under one name */
		rule_add(out, cap, &n,
		         p->compose.set  ? "compose_hashes"
		         : p->app_id.set ? "app_ids"
		                         : "require_event_log",
		         false, "needs an event log whose IMR 3 replays to RTMR3");
	} else {
		if (p->require_event_log)
			rule_add(out, cap, &n, "require_event_log", true, "%s", "");
		if (p->compose.set)
			rule_add(out, cap, &n, "compose_hashes",
			         in_list_hex(&p->compose, replay->compose_hash),
			         "compose hash %s is not allowed",
			         replay->compose_hash ? replay->compose_hash : "(none in the log)");
		if (p->app_id.set)
			rule_add(out, cap, &n, "app_ids", in_list_hex(&p->app_id, replay->app_id),
			         "app id %s is not allowed",
			         replay->app_id ? replay->app_id : "(none in the log)");
	}
	if (p->ppid.set)
		rule_add(out, cap, &n, "allowed_ppids",
		         res->pck_parsed && in_list(&p->ppid, res->ppid),
		         "the platform's PPID is not in the allow-list");
	if (p->poc)
		poc_rule(p, res, poc, out, cap, &n);
	return n;
}

bool attest_policy_check(const struct attest_policy *p, const struct attest_result *res,
                         const struct attest_replay *replay, const char **rule, char *reason,
                         size_t reasonlen)
{
	return attest_policy_check_poc(p, res, replay, NULL, rule, reason, reasonlen);
}

bool attest_policy_check_poc(const struct attest_policy *p, const struct attest_result *res,
                             const struct attest_replay *replay, const struct attest_poc_input *poc,
                             const char **rule, char *reason, size_t reasonlen)
{
	struct attest_policy_rule r[ATTEST_POLICY_MAX_RULES];
	size_t n = attest_policy_rules_poc(p, res, replay, poc, r, PGS_ARRAY_LEN(r));
	*rule = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!r[i].pass) {
			*rule = r[i].rule;
			pgs_errf(reason, reasonlen, "%s", r[i].reason);
			return false;
		}
	}
	return true;
}
