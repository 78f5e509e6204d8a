/* attest.h - offline Intel TDX (DCAP) quote verification, dstack event-log replay, policy, RA-TLS. */
#ifndef PGSEAL_ATTEST_H
#define PGSEAL_ATTEST_H

#include <jansson.h>
#include <openssl/x509.h>

#include "common/common.h"

/* ---- sizes and constants ----------------------------------------------------------- */

#define ATTEST_QUOTE_MAX (1u << 20) /* a quote larger than 1 MiB is refused before parsing */
#define ATTEST_HEADER_LEN 48
#define ATTEST_TD10_LEN 584
#define ATTEST_TD15_LEN 648
#define ATTEST_ENCLAVE_REPORT_LEN 384
#define ATTEST_MR_LEN 48
#define ATTEST_REPORT_DATA_LEN 64
#define ATTEST_TEE_TDX 0x81u
#define ATTEST_KEY_ECDSA_P256 2u

/* RA-TLS (DESIGN §7). The certificate's report_data binding, as the proxy must produce it:
 *   report_data = SHA-512("pgseal-ra-tls-v1" || SubjectPublicKeyInfo DER)   (64 bytes)
 * The quote and event log travel in dstack's RA-TLS extensions; each extension's value
 * (extnValue contents) is a DER OCTET STRING holding the raw quote bytes / the event-log
 * JSON text. A verifier also accepts the unwrapped raw bytes. */
#define ATTEST_RATLS_LABEL "pgseal-ra-tls-v1"
#define ATTEST_RATLS_BINDING "sha512(\"pgseal-ra-tls-v1\" || spki_der)"
#define ATTEST_OID_RATLS_QUOTE "1.3.6.1.4.1.62397.1.1"
#define ATTEST_OID_RATLS_EVENT_LOG "1.3.6.1.4.1.62397.1.2"

/* TCB statuses, in Intel's order of severity (a larger value is worse). */
enum attest_tcb_status {
	ATTEST_TCB_UNKNOWN = 0, /* not evaluated (no collateral, or a check failed first) */
	ATTEST_TCB_UP_TO_DATE,
	ATTEST_TCB_SW_HARDENING_NEEDED,
	ATTEST_TCB_CONFIGURATION_NEEDED,
	ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	ATTEST_TCB_OUT_OF_DATE,
	ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	ATTEST_TCB_REVOKED,
};

const char *attest_tcb_status_name(enum attest_tcb_status s);
/* Parses an Intel status name ("UpToDate", ...); returns PGS_ERR for an unknown name. */
int attest_tcb_status_parse(const char *s, enum attest_tcb_status *out) PGS_MUSTCHECK;

/* ---- quote (attest_quote.c) -------------------------------------------------------- */

struct attest_td_report {
	uint8_t tee_tcb_svn[16];
	uint8_t mr_seam[48];
	uint8_t mr_signer_seam[48];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8];
	uint8_t xfam[8];
	uint8_t mr_td[48];
	uint8_t mr_config_id[48];
	uint8_t mr_owner[48];
	uint8_t mr_owner_config[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	bool is_td15;
	uint8_t tee_tcb_svn2[16]; /* TD 1.5 only */
	uint8_t mr_servicetd[48]; /* TD 1.5 only */
};

/* A parsed quote. Pointers point into the caller's buffer, which must outlive it. */
struct attest_quote {
	uint16_t version;
	uint16_t att_key_type;
	uint32_t tee_type;
	uint16_t pce_svn;
	uint8_t qe_vendor_id[16];
	uint16_t body_type; /* v5: 2 = TD 1.0, 3 = TD 1.5; v4: 2 */
	size_t
	    signed_len; /* header (+ v5 body descriptor) + body: what the attestation key signs */
	struct attest_td_report td;
	const uint8_t *signature;  /* 64 bytes, r || s */
	const uint8_t *attest_key; /* 64 bytes, X || Y of a P-256 point */
	const uint8_t *qe_report;  /* 384 bytes, SGX enclave report of the QE */
	const uint8_t *qe_report_sig;
	const uint8_t *qe_auth_data;
	size_t qe_auth_len;
	uint16_t pck_cert_type; /* 5 = PEM PCK chain */
	const uint8_t *pck_chain;
	size_t pck_chain_len;
	size_t parsed_len; /* bytes covered by the length fields; the rest is ignored padding */
};

/* Parses a v4 or v5 TDX quote by its length fields. Never reads past len. */
int attest_quote_parse(const uint8_t *buf, size_t len, struct attest_quote *q, char *err,
                       size_t errlen) PGS_MUSTCHECK;

/* Turns file contents into quote bytes: raw binary, hex text (whitespace and a leading
 * "0x" allowed), or a JSON object with a "quote" hex string (a dstack GetQuote answer or
 * the admin /attestation document). *out is malloc'd. */
int attest_quote_decode_file(const uint8_t *data, size_t len, uint8_t **out, size_t *outlen,
                             char *err, size_t errlen) PGS_MUSTCHECK;

/* ---- collateral (attest_collateral.c) ---------------------------------------------- */

/* Intel PCS collateral in the JSON shape of testdata/tdx/..._collateral.json:
 * tcb_info, tcb_info_signature (hex r||s), tcb_info_issuer_chain (PEM), qe_identity,
 * qe_identity_signature, qe_identity_issuer_chain, pck_crl_issuer_chain, root_ca_crl
 * (hex DER), pck_crl (hex DER). Opaque; parsed and owned by the collateral module. */
struct attest_collateral;

int attest_collateral_parse(const char *json, size_t len, struct attest_collateral **out, char *err,
                            size_t errlen) PGS_MUSTCHECK;
void attest_collateral_free(struct attest_collateral *c);

/* ---- verification (attest_verify.c) ------------------------------------------------ */

struct attest_opts {
	const uint8_t *root_ca_der; /* NULL: the pinned Intel SGX Root CA */
	size_t root_ca_len;
	int64_t now;                           /* verification time, Unix seconds */
	enum attest_tcb_status min_tcb_status; /* worst acceptable status; 0 = UpToDate */
};

#define ATTEST_MAX_ADVISORIES 64

struct attest_result {
	bool trusted;             /* every check passed and the TCB status is acceptable */
	const char *failed_check; /* name of the first failed check, NULL if none */
	char reason[512];         /* why it failed (no secret ever goes here) */
	bool quote_parsed;
	struct attest_quote quote;
	bool collateral_given;
	bool pck_parsed;
	uint8_t ppid[16];
	uint8_t cpu_svn[16];
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint16_t pck_pce_svn;
	enum attest_tcb_status tcb_status;      /* final, merged */
	enum attest_tcb_status platform_status; /* matched TCB level (TDX level for TDX) */
	enum attest_tcb_status qe_status;
	enum attest_tcb_status module_status; /* TDX module identity, UNKNOWN if not used */
	char tcb_date[32];
	char advisory_ids[ATTEST_MAX_ADVISORIES][32];
	size_t n_advisories;
	int64_t tcb_info_issue, tcb_info_next_update, qe_id_issue, qe_id_next_update;
	uint32_t tcb_eval_number;
};

extern const uint8_t attest_intel_root_ca_der[];
extern const size_t attest_intel_root_ca_der_len;

/* Loads a root CA given as PEM or DER into DER bytes (malloc'd). */
int attest_root_ca_load(const uint8_t *data, size_t len, uint8_t **der, size_t *derlen, char *err,
                        size_t errlen) PGS_MUSTCHECK;

/* Verifies a quote as Intel DCAP does. coll may be NULL: then the signatures and the PCK
 * chain are checked, but no TCB status can be established and the quote is not trusted.
 * Returns PGS_OK when the verification ran (res->trusted holds the verdict), PGS_ERR only
 * when it could not run at all (unusable root CA, out of resources) with err set. */
int attest_verify_quote(const uint8_t *quote, size_t quote_len,
                        const struct attest_collateral *coll, const struct attest_opts *opts,
                        struct attest_result *res, char *err, size_t errlen) PGS_MUSTCHECK;

/* Marks res untrusted; the first failure (check name + reason) is the one kept. */
void attest_fail(struct attest_result *res, const char *check, const char *fmt, ...)
    PGS_PRINTF(3, 4);

/* ---- event log (attest_eventlog.c) ------------------------------------------------- */

#define ATTEST_DSTACK_RUNTIME_EVENT 0x08000001u

struct attest_event {
	uint32_t imr;
	uint32_t event_type;
	uint8_t digest[48];
	bool digest_given; /* false when the log left it empty */
	char *event;       /* event name (dstack runtime events), "" otherwise */
	uint8_t *payload;
	size_t payload_len;
};

struct attest_eventlog {
	struct attest_event *ev;
	size_t n;
};

/* Accepts a JSON array of events, a JSON string holding one, or an object with an
 * "event_log" member (dstack GetQuote answer, /attestation document). */
int attest_eventlog_parse(const char *json, size_t len, struct attest_eventlog *out, char *err,
                          size_t errlen) PGS_MUSTCHECK;
void attest_eventlog_free(struct attest_eventlog *log);

struct attest_replay {
	uint8_t rtmr[4][48]; /* replayed values */
	bool rtmr_ok[4];     /* replayed value equals the quote's */
	bool events_ok;      /* every runtime-event digest matches its payload */
	char reason[256];
	bool rtmr3_ok;       /* rtmr_ok[3] && events_ok: the IMR 3 facts below are measured */
	char *compose_hash;  /* hex, NULL if absent; owned */
	char *app_id;        /* hex */
	char *instance_id;   /* hex */
	char *key_provider;  /* payload text (or hex if not printable) */
	char *os_image_hash; /* hex, if such an event exists */
};

/* Replays IMR 0..3 (SHA-384 extend from zeros), recomputes dstack runtime-event digests
 * (SHA384(LE32(type) || ":" || name || ":" || payload)), compares with the quote's RTMRs,
 * and extracts the measured dstack facts. */
int attest_eventlog_replay(const struct attest_eventlog *log, const struct attest_td_report *td,
                           struct attest_replay *out) PGS_MUSTCHECK;
void attest_replay_free(struct attest_replay *r);

/* ---- Proof of Cloud attestation tokens (attest_poc.c) ------------------------------ */

/* A Proof of Cloud trust server (github.com/proofofcloud/trust-server, src/services.js)
 * answers a quote whose platform is in the alliance's registry with a compact JWS (JWT):
 * header {alg, typ, kid}, payload {quote_hash, machine_id, label, iat, ...}, where
 * quote_hash = hex SHA-256 of the quote bytes and machine_id = hex SHA-256 of the PPID.
 * Claim names in one place, so that a change of the alliance's format is one edit. */
#define ATTEST_POC_CLAIM_QUOTE_HASH "quote_hash"
#define ATTEST_POC_CLAIM_MACHINE_ID "machine_id"
#define ATTEST_POC_CLAIM_LABEL "label"
#define ATTEST_POC_CLAIM_ISSUER "iss"
#define ATTEST_POC_CLAIM_ISSUED_AT "iat"
#define ATTEST_POC_CLAIM_EXPIRES "exp"
#define ATTEST_POC_CLAIM_NOT_BEFORE "nbf"

#define ATTEST_POC_TOKEN_MAX 16384 /* bytes of one compact token */
#define ATTEST_POC_MAX_TOKENS 16   /* tokens per verification */
#define ATTEST_POC_KID_MAX 128
#define ATTEST_POC_TEXT_MAX 128 /* label, iss */
#define ATTEST_POC_SIG_MAX 512  /* RSA-4096 */

/* One token, parsed but not verified. signing_input points into the caller's token. */
struct attest_poc_token {
	char alg[8]; /* "RS256", "ES256" or "EdDSA" (anything else does not parse) */
	char kid[ATTEST_POC_KID_MAX + 1];
	uint8_t quote_hash[32];
	uint8_t machine_id[32];
	int64_t iat;
	bool has_exp, has_nbf;
	int64_t exp, nbf;
	char label[ATTEST_POC_TEXT_MAX + 1]; /* "" when absent */
	char iss[ATTEST_POC_TEXT_MAX + 1];
	const char *signing_input; /* base64url(header) "." base64url(payload) */
	size_t signing_input_len;
	uint8_t sig[ATTEST_POC_SIG_MAX];
	size_t sig_len;
};

/* Parses a compact JWS strictly: three base64url parts (no padding, canonical), a header
 * of exactly alg (RS256 | ES256 | EdDSA), kid and optional typ "JWT", a payload object
 * with the claims above of the right types (other payload members are ignored). */
int attest_poc_token_parse(const char *tok, size_t len, struct attest_poc_token *out, char *err,
                           size_t errlen) PGS_MUSTCHECK;

/* Splits a token file: the trust server's /get_jwt answer (a JSON object with a "jwt"
 * string) or compact tokens separated by white space ('#' starts a comment to the end of
 * its line). Appends malloc'd strings to toks[*n] (at most ATTEST_POC_MAX_TOKENS in all). */
int attest_poc_tokens_split(const uint8_t *data, size_t len, char **toks, size_t *n, char *err,
                            size_t errlen) PGS_MUSTCHECK;

/* Trust-server keys and limits, from the policy (poc_trust_servers, ...). */
struct attest_poc_config;

/* What the tokens are checked against. */
struct attest_poc_input {
	const char *const *tokens; /* NUL-terminated compact tokens */
	size_t n_tokens;
	const uint8_t *quote; /* the quote bytes exactly as verified (quote_hash covers them) */
	size_t quote_len;
	int64_t now;
};

/* One token's verdict. check names the first failed check: jws_format, kid, alg,
 * signature, quote_hash, machine_id, iat, max_age, exp, nbf. */
struct attest_poc_verdict {
	bool parsed;
	bool pass;
	const char *check;
	char reason[192];
	struct attest_poc_token tok; /* valid when parsed */
};

/* Verifies every token (out has in->n_tokens entries) against the configured keys, the
 * quote and the PPID (NULL when the PCK certificate was not parsed). Returns how many
 * distinct trust-server keys vouch with a token that passed every check. */
size_t attest_poc_verify(const struct attest_poc_config *cfg, const struct attest_poc_input *in,
                         const uint8_t *ppid, struct attest_poc_verdict *out);
unsigned attest_poc_threshold(const struct attest_poc_config *cfg);
/* The "poc" object of `pgseal attest verify`'s output. */
json_t *attest_poc_json(const struct attest_poc_config *cfg, const struct attest_poc_verdict *v,
                        size_t n, size_t vouching);

/* ---- policy (attest_policy.c) ------------------------------------------------------ */

struct attest_policy;

/* YAML policy file, see docs/attestation.md. */
int attest_policy_load(const char *path, struct attest_policy **out, char *err,
                       size_t errlen) PGS_MUSTCHECK;
void attest_policy_free(struct attest_policy *p);
/* The worst TCB status the policy accepts (UpToDate if it says nothing). */
enum attest_tcb_status attest_policy_min_tcb(const struct attest_policy *p);
/* One rule of a policy and its result on a quote (reason empty when it holds). */
struct attest_policy_rule {
	const char *rule; /* the policy key: min_tcb_status, mrtd, rtmr0..2, compose_hashes, ... */
	bool pass;
	char reason[192];
};
#define ATTEST_POLICY_MAX_RULES 12
/* Every rule the policy sets (min_tcb_status always), each evaluated, in the order of
 * attest_policy_check; returns how many were written (at most cap). For displays that
 * show each rule (pgseal-demo); the verdict is attest_policy_check's. */
size_t attest_policy_rules(const struct attest_policy *p, const struct attest_result *res,
                           const struct attest_replay *replay, struct attest_policy_rule *out,
                           size_t cap);
/* Returns true when every rule holds; otherwise *rule names the first failing rule. */
bool attest_policy_check(const struct attest_policy *p, const struct attest_result *res,
                         const struct attest_replay *replay, const char **rule, char *reason,
                         size_t reasonlen);
/* The same with Proof of Cloud tokens (poc may be NULL: no token given). The poc_token
 * rule exists when the policy names trust servers. */
size_t attest_policy_rules_poc(const struct attest_policy *p, const struct attest_result *res,
                               const struct attest_replay *replay,
                               const struct attest_poc_input *poc, struct attest_policy_rule *out,
                               size_t cap);
bool attest_policy_check_poc(const struct attest_policy *p, const struct attest_result *res,
                             const struct attest_replay *replay, const struct attest_poc_input *poc,
                             const char **rule, char *reason, size_t reasonlen);
/* The policy's trust-server configuration, NULL when it names none. */
const struct attest_poc_config *attest_policy_poc(const struct attest_policy *p);

/* ---- RA-TLS and --connect (attest_connect.c) --------------------------------------- */

/* report_data binding of a certificate's public key (see ATTEST_RATLS_LABEL). */
int attest_ratls_report_data(const uint8_t *spki_der, size_t spki_len,
                             uint8_t out[ATTEST_REPORT_DATA_LEN]) PGS_MUSTCHECK;
/* The same from a key (its SubjectPublicKeyInfo DER): what GetQuote's report_data must be
 * for a certificate carrying this key. */
int attest_ratls_report_data_for_key(EVP_PKEY *key,
                                     uint8_t out[ATTEST_REPORT_DATA_LEN]) PGS_MUSTCHECK;
/* The certificate's writer is tee_ratls_build_cert (src/tee/): the verifier side only here. */

struct attest_peer {
	uint8_t *cert_der; /* the server's leaf certificate */
	size_t cert_len;
	uint8_t *quote; /* from the quote extension */
	size_t quote_len;
	char *event_log; /* from the event-log extension, NULL if absent */
	size_t event_log_len;
	uint8_t expected_report_data[ATTEST_REPORT_DATA_LEN]; /* binding of the cert's key */
};

/* Extracts the quote / event log from an RA-TLS certificate and computes its binding.
 * *out is overwritten (free it with attest_peer_free, also after a failure). */
int attest_ratls_from_cert(const uint8_t *der, size_t len, struct attest_peer *out, char *err,
                           size_t errlen) PGS_MUSTCHECK;
/* Connects to HOST:PORT (a PostgreSQL port: SSLRequest first), completes TLS and reads the
 * server certificate. timeout_ms bounds each step. Returns PGS_OK, PGS_ERR (network/TLS
 * failure), or 1 when the server answered with a certificate that carries no RA-TLS quote
 * (out->cert_der is then set). */
int attest_connect_fetch(const char *hostport, int timeout_ms, struct attest_peer *out, char *err,
                         size_t errlen) PGS_MUSTCHECK;
void attest_peer_free(struct attest_peer *p);

/* ---- report (attest_report.c) ------------------------------------------------------ */

/* The JSON object `pgseal attest verify` prints (fields documented in docs/attestation.md).
 * replay, peer and policy parts may be NULL. Returns a new reference. */
json_t *attest_result_json(const struct attest_result *res, const struct attest_replay *replay,
                           const struct attest_peer *peer, bool binding_ok);

#endif
