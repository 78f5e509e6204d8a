/* test_attest_eventlog.c - dstack event-log replay into RTMR3, policy rules, RA-TLS binding and
 * certificate extensions. */
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest.h"
#include "tee/tee.h"
#include "crypto/crypto.h"
#include "testlib.h"

static char tdir[512];

static void find_testdata(void)
{
	const char *env = getenv("PGSEAL_TESTDATA");
	const char *cands[] = {env, "../shared/testdata/tdx", "../../shared/testdata/tdx",
	                       "/work/shared/testdata/tdx"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[600];
		if (!cands[i])
			continue;
		snprintf(p, sizeof(p), "%s/dstack_quote_report.json", cands[i]);
		if (access(p, R_OK) == 0) {
			snprintf(tdir, sizeof(tdir), "%s", cands[i]);
			return;
		}
	}
	fprintf(stderr, "test data not found (set PGSEAL_TESTDATA)\n");
	exit(1);
}

static char *slurp(const char *name, size_t *len)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", tdir, name);
	FILE *f = fopen(p, "rb");
	if (!f)
		exit(1);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	b[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* The dstack report: its quote (parsed) and its event log as a JSON array. */
static struct attest_quote dq;
static uint8_t *dq_bytes;
static json_t *dlog;

static void load_dstack(void)
{
	size_t n, qn;
	char err[256];
	char *j = slurp("dstack_quote_report.json", &n);
	CHECK(attest_quote_decode_file((uint8_t *)j, n, &dq_bytes, &qn, err, sizeof(err)) ==
	      PGS_OK);
	CHECK(attest_quote_parse(dq_bytes, qn, &dq, err, sizeof(err)) == PGS_OK);
	json_t *root = json_loadb(j, n, 0, NULL);
	const char *ls = json_string_value(json_object_get(root, "event_log"));
	dlog = json_loads(ls, 0, NULL);
	json_decref(root);
	free(j);
}

static bool replay_json(json_t *log, struct attest_replay *r)
{
	char *s = json_dumps(log, 0), err[256];
	struct attest_eventlog el;
	bool ok = attest_eventlog_parse(s, strlen(s), &el, err, sizeof(err)) == PGS_OK;
	free(s);
	if (!ok) {
		memset(r, 0, sizeof(*r));
		return false;
	}
	ok = attest_eventlog_replay(&el, &dq.td, r) == PGS_OK;
	attest_eventlog_free(&el);
	return ok;
}

static json_t *find_event(json_t *log, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(
	    log, i, e) if (!strcmp(json_string_value(json_object_get(e, "event")), name)) return e;
	return NULL;
}

static void test_replay(void)
{
	struct attest_replay r;
	size_t n;
	char err[256];
	char *j = slurp("dstack_quote_report.json", &n);
	struct attest_eventlog el;

	/* the whole GetQuote answer is accepted as an event-log file */
	CHECK(attest_eventlog_parse(j, n, &el, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(el.n, 28);
	CHECK(attest_eventlog_replay(&el, &dq.td, &r) == PGS_OK);
	CHECK(r.rtmr3_ok);
	CHECK(r.rtmr_ok[0] && r.rtmr_ok[1] && r.rtmr_ok[2]);
	char h[97];
	pgs_hex(r.rtmr[3], 48, h);
	CHECK(!strcmp(h, "0f787c3877f3e95095d5a4d13dd0fe0233803b30120d8469866719dc28f519ce021fe1e53"
	                 "459121e7a5a4443147185a8"));
	CHECK_STR(r.compose_hash,
	          "3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7");
	CHECK_STR(r.app_id, "3763bc34552cf3a27ff71ad5f7a90471562a1a2d");
	CHECK_STR(r.instance_id, "c3714eb66990eace777b4e664c16e09375dec4c9");
	CHECK(r.key_provider && strstr(r.key_provider, "local-sgx"));
	attest_replay_free(&r);
	attest_eventlog_free(&el);
	free(j);

	/* digests left empty are recomputed */
	json_t *m = json_deep_copy(dlog);
	size_t i;
	json_t *e;
	json_array_foreach(m, i, e) if (json_integer_value(json_object_get(e, "imr")) == 3)
	    json_object_set_new(e, "digest", json_string(""));
	CHECK(replay_json(m, &r) && r.rtmr3_ok);
	CHECK_STR(r.compose_hash,
	          "3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7");
	attest_replay_free(&r);
	/* a fake compose hash with the real digest is caught */
	json_t *ch = find_event(m, "compose-hash");
	json_object_set_new(
	    ch, "digest",
	    json_object_get(find_event(dlog, "compose-hash"), "digest")
	        ? json_deep_copy(json_object_get(find_event(dlog, "compose-hash"), "digest"))
	        : json_null());
	json_object_set_new(
	    ch, "event_payload",
	    json_string("0000bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7"));
	CHECK(replay_json(m, &r) && !r.rtmr3_ok && !r.events_ok);
	CHECK(r.compose_hash == NULL);
	attest_replay_free(&r);
	/* ...and with the digest left empty the replay no longer gives RTMR3 */
	json_object_set_new(ch, "digest", json_string(""));
	CHECK(replay_json(m, &r) && !r.rtmr3_ok && !r.rtmr_ok[3]);
	attest_replay_free(&r);
	json_decref(m);

	/* an extra event, a dropped event, a reordered log: RTMR3 differs */
	m = json_deep_copy(dlog);
	json_array_append_new(m,
	                      json_pack("{s:i,s:i,s:s,s:s,s:s}", "imr", 3, "event_type", 0x08000001,
	                                "digest", "", "event", "x", "event_payload", ""));
	CHECK(replay_json(m, &r) && !r.rtmr3_ok);
	attest_replay_free(&r);
	json_array_remove(m, json_array_size(m) - 1);
	json_array_remove(m, json_array_size(m) - 1);
	CHECK(replay_json(m, &r) && !r.rtmr3_ok);
	attest_replay_free(&r);
	json_decref(m);
	/* a duplicate compose-hash event is ambiguous */
	m = json_deep_copy(dlog);
	json_array_append(m, find_event(m, "compose-hash"));
	CHECK(replay_json(m, &r) && !r.rtmr3_ok && !r.events_ok);
	attest_replay_free(&r);
	json_decref(m);
	/* an IMR 3 event of another type without a digest cannot be replayed */
	m = json_deep_copy(dlog);
	json_array_append_new(m, json_pack("{s:i,s:i,s:s,s:s,s:s}", "imr", 3, "event_type", 7,
	                                   "digest", "", "event", "", "event_payload", ""));
	CHECK(replay_json(m, &r) && !r.rtmr3_ok);
	attest_replay_free(&r);
	json_decref(m);
}

static void test_eventlog_malformed(void)
{
	struct attest_eventlog el;
	char err[256];
	const char *bad[] = {
	    "",
	    "{",
	    "42",
	    "{\"x\":1}",
	    "[1]",
	    "[{\"imr\":4,\"event_type\":1}]",
	    "[{\"imr\":3,\"event_type\":-1}]",
	    "[{\"imr\":3,\"event_type\":1,\"digest\":\"zz\"}]",
	    "[{\"imr\":3,\"event_type\":1,\"digest\":\"00\"}]",
	    "[{\"imr\":3,\"event_type\":1,\"event_payload\":\"abc\"}]",
	    "[{\"imr\":3,\"event_type\":1,\"event\":5}]",
	    "{\"event_log\":\"[\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(attest_eventlog_parse(bad[i], strlen(bad[i]), &el, err, sizeof(err)) ==
		      PGS_ERR);
		CHECK(el.n == 0 && el.ev == NULL);
	}
	const char *ok = "{\"event_log\":[{\"imr\":3,\"event_type\":134217729,\"event\":\"a\","
	                 "\"event_payload\":\"00\",\"digest\":null}]}";
	CHECK(attest_eventlog_parse(ok, strlen(ok), &el, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(el.n, 1);
	attest_eventlog_free(&el);
	CHECK(attest_eventlog_parse("[]", 2, &el, err, sizeof(err)) == PGS_OK);
	attest_eventlog_free(&el);
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/pgseal-attest-policy-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	close(fd);
	return path;
}

/* A result standing for a verified dstack quote with UpToDate TCB. */
static void fake_result(struct attest_result *res)
{
	memset(res, 0, sizeof(*res));
	res->trusted = true;
	res->quote_parsed = true;
	res->quote = dq;
	res->tcb_status = ATTEST_TCB_UP_TO_DATE;
	res->pck_parsed = true;
	memset(res->ppid, 0xab, 16);
}

static bool policy_eval(const char *yaml, const struct attest_result *res,
                        const struct attest_replay *rp, const char **rule, int *load_rc)
{
	char *path = write_tmp(yaml), err[256], reason[256];
	struct attest_policy *p = NULL;
	bool ok = false;
	*rule = NULL;
	*load_rc = attest_policy_load(path, &p, err, sizeof(err));
	if (*load_rc == PGS_OK)
		ok = attest_policy_check(p, res, rp, rule, reason, sizeof(reason));
	attest_policy_free(p);
	unlink(path);
	free(path);
	return ok;
}

static void test_policy(void)
{
	struct attest_result res;
	struct attest_replay rp;
	const char *rule;
	int lrc;
	char mrtd[97], rtmr0[97], y[2048];
	struct attest_eventlog el;
	size_t n;
	char err[256];
	char *j = slurp("dstack_quote_report.json", &n);
	CHECK(attest_eventlog_parse(j, n, &el, err, sizeof(err)) == PGS_OK);
	CHECK(attest_eventlog_replay(&el, &dq.td, &rp) == PGS_OK);
	attest_eventlog_free(&el);
	free(j);
	fake_result(&res);
	pgs_hex(dq.td.mr_td, 48, mrtd);
	pgs_hex(dq.td.rtmr[0], 48, rtmr0);

	snprintf(
	    y, sizeof(y),
	    "min_tcb_status: UpToDate\nmrtd: [\"%s\"]\nrtmr0:\n  - \"0x%s\"\n"
	    "compose_hashes: [3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7]\n"
	    "app_ids: [3763BC34552CF3A27FF71AD5F7A90471562A1A2D]\n"
	    "allowed_ppids: [abababababababababababababababab]\n",
	    mrtd, rtmr0);
	CHECK(policy_eval(y, &res, &rp, &rule, &lrc) && lrc == PGS_OK);

	CHECK(!policy_eval("mrtd: [\""
	                   "000000000000000000000000000000000000000000000000"
	                   "000000000000000000000000000000000000000000000000\"]\n",
	                   &res, &rp, &rule, &lrc));
	CHECK_STR(rule, "mrtd");
	CHECK(!policy_eval("rtmr2: [000000000000000000000000000000000000000000000000"
	                   "000000000000000000000000000000000000000000000000]\n",
	                   &res, &rp, &rule, &lrc));
	CHECK_STR(rule, "rtmr2");
	CHECK(!policy_eval(
	    "compose_hashes: [0000000000000000000000000000000000000000000000000000000000000000]\n",
	    &res, &rp, &rule, &lrc));
	CHECK_STR(rule, "compose_hashes");
	CHECK(!policy_eval(
	    "compose_hashes: [3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7]\n",
	    &res, NULL, &rule, &lrc)); /* no event log given */
	CHECK_STR(rule, "compose_hashes");
	CHECK(!policy_eval("allowed_ppids: [00000000000000000000000000000000]\n", &res, &rp, &rule,
	                   &lrc));
	CHECK_STR(rule, "allowed_ppids");
	CHECK(!policy_eval("require_event_log: true\n", &res, NULL, &rule, &lrc));
	CHECK_STR(rule, "require_event_log");

	/* PPID allow-list file, relative to the policy file */
	FILE *f = fopen("/tmp/pgseal-attest-ppids.txt", "w");
	fprintf(f, "# platforms registered with us\n00000000000000000000000000000000\n"
	           "  ABABABABABABABABABABABABABABABAB  # lab machine\n");
	fclose(f);
	CHECK(
	    policy_eval("ppid_allowlist_file: pgseal-attest-ppids.txt\n", &res, &rp, &rule, &lrc));
	memset(res.ppid, 0x01, 16);
	CHECK(!policy_eval("ppid_allowlist_file: /tmp/pgseal-attest-ppids.txt\n", &res, &rp, &rule,
	                   &lrc));
	CHECK_STR(rule, "allowed_ppids");
	unlink("/tmp/pgseal-attest-ppids.txt");

	/* minimum TCB status */
	res.tcb_status = ATTEST_TCB_SW_HARDENING_NEEDED;
	CHECK(!policy_eval("mrtd: []\n", &res, &rp, &rule, &lrc) && lrc == PGS_OK);
	CHECK(!policy_eval("min_tcb_status: UpToDate\n", &res, &rp, &rule, &lrc));
	CHECK_STR(rule, "min_tcb_status");
	CHECK(policy_eval("min_tcb_status: SWHardeningNeeded\n", &res, &rp, &rule, &lrc));
	res.tcb_status = ATTEST_TCB_OUT_OF_DATE;
	CHECK(!policy_eval("min_tcb_status: ConfigurationAndSWHardeningNeeded\n", &res, &rp, &rule,
	                   &lrc));

	/* malformed policies are load errors */
	const char *bad[] = {"mrtd: [abc]\n",
	                     "nonsense: 1\n",
	                     "min_tcb_status: Great\n",
	                     "- a\n- b\n",
	                     "mrtd: {a: b}\n",
	                     "mrtd: [\n",
	                     "require_event_log: yes\n",
	                     "ppid_allowlist_file: /nonexistent/ppids\n",
	                     "allowed_ppids: [[1]]\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		policy_eval(bad[i], &res, &rp, &rule, &lrc);
		CHECK_EQ_INT(lrc, PGS_ERR);
	}
	attest_replay_free(&rp);
}

/* An RA-TLS certificate made by the production writer (tee_ratls_build_cert, what
 * `pgseal` serves in a TEE), read back by the verifier; the binding recomputed here
 * independently. */
static void test_ratls_cert(void)
{
	EVP_PKEY *key = EVP_EC_gen("prime256v1");
	X509 *x = NULL;
	unsigned char *der = NULL, *spki = NULL;
	struct attest_peer peer;
	char err[256];
	uint8_t want[64];

	const char *log = "[{\"imr\":3,\"event_type\":1,\"digest\":\"\"}]";
	CHECK(tee_ratls_build_cert(key, "DNS:localhost", dq_bytes, 5006, log, &x, err,
	                           sizeof(err)) == PGS_OK);
	int n = i2d_X509(x, &der);

	CHECK(attest_ratls_from_cert(der, (size_t)n, &peer, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(peer.quote_len, 5006);
	CHECK(peer.quote && !memcmp(peer.quote, dq_bytes, 5006));
	CHECK(peer.event_log && !strcmp(peer.event_log, log) && peer.event_log_len == strlen(log));
	uint8_t viakey[64];
	CHECK(attest_ratls_report_data_for_key(key, viakey) == PGS_OK);
	CHECK(!memcmp(viakey, peer.expected_report_data, 64));
	int sl = i2d_PUBKEY(key, &spki);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned wl;
	EVP_DigestInit_ex(md, EVP_sha512(), NULL);
	EVP_DigestUpdate(md, "pgseal-ra-tls-v1", 16);
	EVP_DigestUpdate(md, spki, (size_t)sl);
	EVP_DigestFinal_ex(md, want, &wl);
	EVP_MD_CTX_free(md);
	CHECK(!memcmp(peer.expected_report_data, want, 64));
	/* the dstack quote does not bind this key */
	CHECK(memcmp(dq.td.report_data, peer.expected_report_data, 64) != 0);
	attest_peer_free(&peer);
	CHECK(attest_ratls_from_cert(der, 10, &peer, err, sizeof(err)) == PGS_ERR);
	attest_peer_free(&peer);

	OPENSSL_free(der);
	OPENSSL_free(spki);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* attest_policy_rules: every configured rule with its own result, in check order */
static void test_policy_rules(void)
{
	struct attest_result res;
	struct attest_policy *p = NULL;
	struct attest_policy_rule r[ATTEST_POLICY_MAX_RULES];
	char err[256], reason[256];
	const char *rule;
	fake_result(&res);
	char *path = write_tmp("mrtd: [000000000000000000000000000000000000000000000000"
	                       "000000000000000000000000000000000000000000000000]\n"
	                       "require_event_log: true\n"
	                       "allowed_ppids: [abababababababababababababababab]\n");
	CHECK(attest_policy_load(path, &p, err, sizeof(err)) == PGS_OK);
	size_t n = attest_policy_rules(p, &res, NULL, r, PGS_ARRAY_LEN(r));
	CHECK_EQ_INT(n, 4);
	CHECK(n == 4 && t_streq(r[0].rule, "min_tcb_status") && r[0].pass && !r[0].reason[0]);
	CHECK(n == 4 && t_streq(r[1].rule, "mrtd") && !r[1].pass && r[1].reason[0]);
	CHECK(n == 4 && t_streq(r[2].rule, "require_event_log") && !r[2].pass);
	CHECK(n == 4 && t_streq(r[3].rule, "allowed_ppids") &&
	      r[3].pass); /* evaluated after failures */
	/* the verdict is the first failing rule, as before */
	CHECK(!attest_policy_check(p, &res, NULL, &rule, reason, sizeof(reason)));
	CHECK_STR(rule, "mrtd");
	/* a small output array is filled up to its size */
	CHECK_EQ_INT(attest_policy_rules(p, &res, NULL, r, 2), 2);
	res.quote_parsed = false;
	n = attest_policy_rules(p, &res, NULL, r, PGS_ARRAY_LEN(r));
	CHECK(n == 1 && t_streq(r[0].rule, "quote") && !r[0].pass);
	attest_policy_free(p);
	unlink(path);
	free(path);
}

int main(void)
{
	find_testdata();
	load_dstack();
	RUN(test_replay);
	RUN(test_eventlog_malformed);
	RUN(test_policy);
	RUN(test_policy_rules);
	RUN(test_ratls_cert);
	json_decref(dlog);
	free(dq_bytes);
	return t_summary("test_attest_eventlog");
}
