/* cli_attest.c - `pgseal attest verify`: verifies a TDX quote (file or RA-TLS server) and prints
 * one JSON verdict. */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "cli/cli.h"

#define FILE_MAX (16u << 20)
/* the simulator's CA names (docs/simulator.md) */
#define SIM_CA_MARK "pgseal dstack simulator TEST"
#define EXIT_TRUSTED 0
#define EXIT_UNTRUSTED 1
#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pgseal attest verify (--quote FILE | --connect HOST:PORT)\n"
	    "                            [--collateral FILE] [--event-log FILE] [--at UNIX_TIME]\n"
	    "                            [--root-ca FILE] [--policy FILE] [--timeout MS]\n"
	    "                            [--poc-token FILE]...\n"
	    "\n"
	    "Verifies an Intel TDX quote as Intel DCAP does and prints one JSON object.\n"
	    "  --quote FILE        raw quote, hex text, or JSON with a \"quote\" member\n"
	    "  --connect HOST:PORT PostgreSQL SSLRequest + TLS; the quote comes from the\n"
	    "                      server certificate and must bind its public key\n"
	    "  --collateral FILE   Intel PCS collateral (JSON); without it: not trusted\n"
	    "  --event-log FILE    dstack event log (JSON) to replay into RTMR3\n"
	    "  --at UNIX_TIME      verification time (default: now)\n"
	    "  --root-ca FILE      trust anchor, PEM or DER (default: pinned Intel SGX Root CA)\n"
	    "  --policy FILE       YAML policy (docs/attestation.md)\n"
	    "  --poc-token FILE    Proof of Cloud token(s) for this quote, checked against the\n"
	    "                      policy's poc_trust_servers (repeatable)\n"
	    "exit status: 0 trusted, 1 not trusted, 2 usage or I/O error\n");
}

/* Exit-2 path: still one JSON object on stdout, plus the message on stderr. */
static int usage_error(const char *msg)
{
	json_t *o = json_object();
	json_object_set_new(o, "verdict", json_string("error"));
	json_object_set_new(o, "error", json_string(msg));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
	fprintf(stderr, "pgseal attest verify: %s\n", msg);
	return EXIT_USAGE;
}

static int read_file(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, n = 0;
	uint8_t *buf = NULL;
	if (!f) {
		pgs_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return PGS_ERR;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= FILE_MAX) {
				pgs_errf(err, errlen, "%s is larger than %u bytes", path, FILE_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 65536;
			buf = pgs_xrealloc(buf, cap + 1);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		pgs_errf(err, errlen, "cannot read %s", path);
		goto fail;
	}
	fclose(f);
	buf = pgs_xrealloc(buf, n + 1);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return PGS_OK;
fail:
	fclose(f);
	free(buf);
	return PGS_ERR;
}

struct args {
	const char *quote, *connect, *collateral, *event_log, *root_ca, *policy;
	int64_t at;
	bool have_at;
	int timeout_ms;
	const char *poc_files[ATTEST_POC_MAX_TOKENS];
	size_t n_poc_files;
};

static int parse_args(int argc, char **argv, struct args *a, char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"quote", required_argument, NULL, 'q'},
	    {"connect", required_argument, NULL, 'c'},
	    {"collateral", required_argument, NULL, 'C'},
	    {"event-log", required_argument, NULL, 'e'},
	    {"at", required_argument, NULL, 't'},
	    {"root-ca", required_argument, NULL, 'r'},
	    {"policy", required_argument, NULL, 'p'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"poc-token", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;
	char *end;
	memset(a, 0, sizeof(*a));
	a->timeout_ms = 10000;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			a->quote = optarg;
			break;
		case 'c':
			a->connect = optarg;
			break;
		case 'C':
			a->collateral = optarg;
			break;
		case 'e':
			a->event_log = optarg;
			break;
		case 'r':
			a->root_ca = optarg;
			break;
		case 'p':
			a->policy = optarg;
			break;
		case 't':
			errno = 0;
			a->at = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || a->at < 0) {
				pgs_errf(err, errlen, "--at wants a Unix time in seconds");
				return PGS_ERR;
			}
			a->have_at = true;
			break;
		case 'T': {
			/* strtol, not atoi: "5x" or "" is an error, not 5 or 0 */
			errno = 0;
			long ms = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || ms <= 0 || ms > 600000) {
				pgs_errf(err, errlen, "--timeout wants milliseconds (1..600000)");
				return PGS_ERR;
			}
			a->timeout_ms = (int)ms;
			break;
		}
		case 'P':
			if (a->n_poc_files >= ATTEST_POC_MAX_TOKENS) {
				pgs_errf(err, errlen, "more than %d --poc-token files",
				         ATTEST_POC_MAX_TOKENS);
				return PGS_ERR;
			}
			a->poc_files[a->n_poc_files++] = optarg;
			break;
		case 'h':
			return 1;
		default:
			pgs_errf(err, errlen, "unknown or incomplete option '%s'",
			         argv[optind - 1]);
			return PGS_ERR;
		}
	}
	if (optind < argc) {
		pgs_errf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return PGS_ERR;
	}
	if (!a->quote == !a->connect) {
		pgs_errf(err, errlen, "give exactly one of --quote FILE or --connect HOST:PORT");
		return PGS_ERR;
	}
	return PGS_OK;
}

/* Everything one verification holds; freed in one place. */
struct run {
	uint8_t *quote_file, *quote, *root, *coll_file, *log_file;
	size_t quote_file_len, quote_len, root_len, coll_len, log_len;
	struct attest_collateral *coll;
	struct attest_policy *policy;
	struct attest_eventlog log;
	bool have_log, have_replay, have_peer, binding_ok;
	struct attest_replay replay;
	struct attest_peer peer;
	struct attest_result res;
	char *poc_tokens[ATTEST_POC_MAX_TOKENS];
	size_t n_poc_tokens;
};

static void run_free(struct run *r)
{
	free(r->quote_file);
	free(r->quote);
	free(r->root);
	free(r->coll_file);
	free(r->log_file);
	attest_collateral_free(r->coll);
	attest_policy_free(r->policy);
	attest_eventlog_free(&r->log);
	attest_replay_free(&r->replay);
	attest_peer_free(&r->peer);
	for (size_t i = 0; i < r->n_poc_tokens; i++)
		free(r->poc_tokens[i]);
}

/* Loads every input the caller gave; a failure here is a usage/I/O error (exit 2). */
static int load_inputs(const struct args *a, struct run *r, char *err, size_t errlen)
{
	if (a->root_ca) {
		uint8_t *raw;
		size_t n;
		if (read_file(a->root_ca, &raw, &n, err, errlen) != PGS_OK)
			return PGS_ERR;
		int rc = attest_root_ca_load(raw, n, &r->root, &r->root_len, err, errlen);
		free(raw);
		if (rc != PGS_OK)
			return PGS_ERR;
	}
	if (a->collateral &&
	    (read_file(a->collateral, &r->coll_file, &r->coll_len, err, errlen) != PGS_OK ||
	     attest_collateral_parse((const char *)r->coll_file, r->coll_len, &r->coll, err,
	                             errlen) != PGS_OK))
		return PGS_ERR;
	if (a->policy && attest_policy_load(a->policy, &r->policy, err, errlen) != PGS_OK)
		return PGS_ERR;
	if (a->n_poc_files && !(r->policy && attest_policy_poc(r->policy))) {
		pgs_errf(err, errlen, "--poc-token needs a --policy with poc_trust_servers");
		return PGS_ERR;
	}
	for (size_t i = 0; i < a->n_poc_files; i++) {
		uint8_t *raw;
		size_t n;
		char terr[200];
		if (read_file(a->poc_files[i], &raw, &n, err, errlen) != PGS_OK)
			return PGS_ERR;
		int rc = attest_poc_tokens_split(raw, n, r->poc_tokens, &r->n_poc_tokens, terr,
		                                 sizeof(terr));
		free(raw);
		if (rc != PGS_OK) {
			pgs_errf(err, errlen, "%s: %s", a->poc_files[i], terr);
			return PGS_ERR;
		}
	}
	if (a->event_log) {
		if (read_file(a->event_log, &r->log_file, &r->log_len, err, errlen) != PGS_OK ||
		    attest_eventlog_parse((const char *)r->log_file, r->log_len, &r->log, err,
		                          errlen) != PGS_OK)
			return PGS_ERR;
		r->have_log = true;
	}
	if (a->quote &&
	    read_file(a->quote, &r->quote_file, &r->quote_file_len, err, errlen) != PGS_OK)
		return PGS_ERR;
	return PGS_OK;
}

/* Every rule the policy sets, each with its verdict (the first failing one is the policy's). */
static json_t *rules_json(const struct attest_policy *p, const struct run *r,
                          const struct attest_poc_input *poc)
{
	struct attest_policy_rule rules[ATTEST_POLICY_MAX_RULES];
	size_t n = attest_policy_rules_poc(p, &r->res, r->have_replay ? &r->replay : NULL, poc,
	                                   rules, PGS_ARRAY_LEN(rules));
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "rule", json_string(rules[i].rule));
		json_object_set_new(o, "result", json_string(rules[i].pass ? "pass" : "fail"));
		json_object_set_new(o, "reason",
		                    rules[i].pass ? json_null() : json_string(rules[i].reason));
		json_array_append_new(a, o);
	}
	return a;
}

/* Each Proof of Cloud token's own verdict (the rule above says only the first failure). */
static json_t *poc_json(const struct attest_poc_config *pc, const struct run *r,
                        const struct attest_poc_input *poc)
{
	struct attest_poc_verdict v[ATTEST_POC_MAX_TOKENS];
	const uint8_t *ppid = r->res.pck_parsed ? r->res.ppid : NULL;
	size_t vouching = poc->n_tokens ? attest_poc_verify(pc, poc, ppid, v) : 0;
	return attest_poc_json(pc, v, poc->n_tokens, vouching);
}

static int verify_main(int argc, char **argv)
{
	struct args a;
	struct run r;
	char err[512];
	int rc;

	memset(&r, 0, sizeof(r));
	rc = parse_args(argc, argv, &a, err, sizeof(err));
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc != PGS_OK) {
		usage(stderr);
		return usage_error(err);
	}
	if (load_inputs(&a, &r, err, sizeof(err)) != PGS_OK) {
		run_free(&r);
		return usage_error(err);
	}

	struct attest_opts opts = {
	    .root_ca_der = r.root,
	    .root_ca_len = r.root_len,
	    .now = a.have_at ? a.at : (int64_t)time(NULL),
	    .min_tcb_status = r.policy ? attest_policy_min_tcb(r.policy) : ATTEST_TCB_UP_TO_DATE,
	};
	const char *early_check = NULL;
	char log_err[256] = "";
	bool log_bad = false; /* the certificate's event log does not parse */
	if (a.connect) {
		rc = attest_connect_fetch(a.connect, a.timeout_ms, &r.peer, err, sizeof(err));
		if (rc == PGS_ERR) {
			run_free(&r);
			return usage_error(err);
		}
		r.have_peer = true;
		if (rc == 1) {
			early_check = "ra_tls";
		} else {
			r.quote = pgs_xmalloc(r.peer.quote_len + 1);
			memcpy(r.quote, r.peer.quote, r.peer.quote_len);
			r.quote_len = r.peer.quote_len;
			if (!r.have_log && r.peer.event_log) {
				if (attest_eventlog_parse(r.peer.event_log, r.peer.event_log_len,
				                          &r.log, log_err,
				                          sizeof(log_err)) == PGS_OK)
					r.have_log = true;
				else
					log_bad = true;
			}
		}
	} else if (attest_quote_decode_file(r.quote_file, r.quote_file_len, &r.quote, &r.quote_len,
	                                    err, sizeof(err)) != PGS_OK) {
		early_check = "quote_format";
	}

	char verr[256];
	if (early_check) {
		/* no quote to verify: report why, with the same document shape */
		memset(&r.res, 0, sizeof(r.res));
		attest_fail(&r.res, early_check, "%s", err);
	} else if (attest_verify_quote(r.quote, r.quote_len, r.coll, &opts, &r.res, verr,
	                               sizeof(verr)) != PGS_OK) {
		run_free(&r);
		return usage_error(verr);
	}
	if (r.have_log && r.res.quote_parsed) {
		if (attest_eventlog_replay(&r.log, &r.res.quote.td, &r.replay) != PGS_OK) {
			run_free(&r);
			return usage_error("event log replay failed (out of resources)");
		}
		r.have_replay = true;
		if (!r.replay.rtmr3_ok)
			attest_fail(&r.res, "event_log", "%s", r.replay.reason);
	}
	if (log_bad)
		attest_fail(&r.res, "event_log", "the certificate's %s", log_err);
	if (r.have_peer && r.res.quote_parsed) {
		r.binding_ok = !CRYPTO_memcmp(r.res.quote.td.report_data,
		                              r.peer.expected_report_data, ATTEST_REPORT_DATA_LEN);
		if (!r.binding_ok)
			attest_fail(&r.res, "ra_tls_binding",
			            "the quote's report_data does not bind the certificate's "
			            "public key (%s)",
			            ATTEST_RATLS_BINDING);
	}
	const char *rule = NULL;
	char reason[256] = "";
	bool policy_ok = true;
	struct attest_poc_input poc = {
	    .tokens = (const char *const *)r.poc_tokens,
	    .n_tokens = r.n_poc_tokens,
	    .quote = r.quote,
	    .quote_len = r.quote_len,
	    .now = opts.now,
	};
	if (r.policy) {
		policy_ok =
		    attest_policy_check_poc(r.policy, &r.res, r.have_replay ? &r.replay : NULL,
		                            &poc, &rule, reason, sizeof(reason));
		if (!policy_ok)
			attest_fail(&r.res, "policy", "policy rule %s: %s", rule, reason);
	}
	json_t *o = attest_result_json(&r.res, r.have_replay ? &r.replay : NULL,
	                               r.have_peer ? &r.peer : NULL, r.binding_ok);
	if ((r.have_log || log_bad) && !r.have_replay) {
		/* the contract's event-log fields, even when nothing could be replayed */
		static const char *const keys[] = {"compose_hash", "app_id", "instance_id",
		                                   "key_provider"};
		for (size_t i = 0; i < PGS_ARRAY_LEN(keys); i++)
			json_object_set_new(o, keys[i], json_null());
		json_object_set_new(o, "rtmr3_replayed_ok", json_false());
	}
	if (r.policy) {
		json_t *p = json_object();
		json_object_set_new(p, "file", json_string(a.policy));
		json_object_set_new(p, "result", json_string(policy_ok ? "pass" : "fail"));
		json_object_set_new(p, "failed_rule", rule ? json_string(rule) : json_null());
		json_object_set_new(p, "reason", policy_ok ? json_null() : json_string(reason));
		json_object_set_new(p, "rules", rules_json(r.policy, &r, &poc));
		json_object_set_new(o, "policy", p);
		json_object_set_new(o, "failed_policy_rule",
		                    rule ? json_string(rule) : json_null());
		const struct attest_poc_config *pc = attest_policy_poc(r.policy);
		if (pc)
			json_object_set_new(o, "poc", poc_json(pc, &r, &poc));
	}
	json_object_set_new(o, "at", json_integer(opts.now));
	json_object_set_new(o, "root_ca", json_string(r.root ? "custom" : "intel-sgx-root-ca"));
	/* SIMULATED: the quote's PCK chain comes from pgseal-dstack-sim's test CA, or the event
	 * log names the simulator as key provider. A verdict is then only "against the root
	 * given with --root-ca": said in the JSON and, so that nobody misses it, on stderr. */
	bool simulated = (r.res.quote_parsed && r.res.quote.pck_chain &&
	                  memmem(r.res.quote.pck_chain, r.res.quote.pck_chain_len, SIM_CA_MARK,
	                         sizeof(SIM_CA_MARK) - 1)) ||
	                 (r.have_replay && r.replay.key_provider &&
	                  strstr(r.replay.key_provider, "pgseal-dstack-sim"));
	json_object_set_new(o, "simulated", json_boolean(simulated));
	if (simulated)
		fprintf(stderr,
		        "pgseal attest verify: *** SIMULATED *** this quote comes from "
		        "pgseal-dstack-sim's test CA, not from Intel TDX hardware; a trusted "
		        "verdict holds only against the simulator's root\n");
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
	rc = r.res.trusted ? EXIT_TRUSTED : EXIT_UNTRUSTED;
	run_free(&r);
	return rc;
}

int cli_attest_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "pgseal attest: unknown subcommand '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return verify_main(argc - 1, argv + 1);
}
