/* attest_int.h - internal to src/attest/: parsed collateral structures and X.509 helpers shared by
 * its files. */
#ifndef PGSEAL_ATTEST_INT_H
#define PGSEAL_ATTEST_INT_H

#include <openssl/x509.h>

#include "attest/attest.h"

struct attest_tcb_level {
	uint8_t sgx[16];
	uint8_t tdx[16];
	bool has_tdx;
	uint16_t pce_svn;
	enum attest_tcb_status status;
	const char *tcb_date;
	json_t *advisories; /* borrowed from the parsed TCB Info; may be NULL */
};

struct attest_isv_level {
	uint16_t isvsvn;
	enum attest_tcb_status status;
	const char *tcb_date;
	json_t *advisories;
};

struct attest_module_identity {
	const char *id; /* "TDX_01", ... */
	uint8_t mrsigner[48];
	uint8_t attributes[8];
	uint8_t attributes_mask[8];
	struct attest_isv_level *levels;
	size_t n_levels;
};

struct attest_tcb_info {
	const char *id; /* "TDX" */
	int version;
	int64_t issue_date, next_update;
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint32_t eval_number;
	bool has_module;
	uint8_t module_mrsigner[48];
	uint8_t module_attributes[8];
	uint8_t module_attributes_mask[8];
	struct attest_module_identity *ids;
	size_t n_ids;
	struct attest_tcb_level *levels;
	size_t n_levels;
};

struct attest_qe_identity {
	const char *id; /* "TD_QE" */
	int version;
	int64_t issue_date, next_update;
	uint32_t eval_number;
	uint8_t miscselect[4], miscselect_mask[4];
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	struct attest_isv_level *levels;
	size_t n_levels;
};

struct attest_collateral {
	char *tcb_info; /* the signed JSON text, exactly as signed */
	size_t tcb_info_len;
	uint8_t tcb_info_sig[64];
	char *tcb_info_chain;
	char *qe_identity;
	size_t qe_identity_len;
	uint8_t qe_identity_sig[64];
	char *qe_identity_chain;
	char *pck_crl_chain;
	uint8_t *root_ca_crl;
	size_t root_ca_crl_len;
	uint8_t *pck_crl;
	size_t pck_crl_len;
	/* Parsed bodies. A body that does not parse is only reported after its signature
	 * was checked, so that the error says whether it was tampered with. */
	json_t *ti_root, *qe_root;
	bool ti_ok, qe_ok;
	char ti_err[200], qe_err[200];
	struct attest_tcb_info ti;
	struct attest_qe_identity qe;
};

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)" to Unix seconds. */
int attest_parse_time(const char *s, int64_t *out) PGS_MUSTCHECK;

/* ---- attest_pck.c ------------------------------------------------------------------- */

/* Loads every certificate of a PEM text (extra bytes such as a trailing NUL allowed). */
STACK_OF(X509) * attest_pem_chain(const uint8_t *pem, size_t len);

/* Verifies chain[0] up to the trusted root at time `now`; CRLs (DER, may be NULL) make
 * revocation checking mandatory for every certificate of the chain. */
int attest_chain_verify(STACK_OF(X509) * chain, X509 *root, int64_t now, const uint8_t *root_crl,
                        size_t root_crl_len, const uint8_t *pck_crl, size_t pck_crl_len, char *err,
                        size_t errlen) PGS_MUSTCHECK;

/* ECDSA P-256 / SHA-256 over msg with a raw r||s signature. */
bool attest_ecdsa_verify_key(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t sig[64]);
/* Same with a raw X||Y public key (the attestation key). */
bool attest_ecdsa_verify_raw(const uint8_t pub[64], const uint8_t *msg, size_t len,
                             const uint8_t sig[64]);

struct attest_pck_ext {
	uint8_t ppid[16];
	uint8_t comp_svn[16];
	uint16_t pce_svn;
	uint8_t cpu_svn[16];
	uint8_t pce_id[2];
	uint8_t fmspc[6];
};

/* Parses Intel's SGX extension (1.2.840.113741.1.13.1) of a PCK certificate. */
int attest_pck_ext_parse(X509 *pck, struct attest_pck_ext *out, char *err,
                         size_t errlen) PGS_MUSTCHECK;

/* ---- attest_tcb.c ------------------------------------------------------------------- */

/* The TCB evaluation after all signatures hold (Intel QVL 4.1.2.4.9 - 4.1.2.4.17). */
int attest_tcb_evaluate(const struct attest_collateral *coll, const struct attest_quote *q,
                        const struct attest_pck_ext *pck, struct attest_result *res) PGS_MUSTCHECK;

/* ---- attest_poc.c ------------------------------------------------------------------- */

enum attest_poc_key_type { ATTEST_POC_RSA, ATTEST_POC_P256, ATTEST_POC_ED25519 };

struct attest_poc_key {
	char *id; /* the JWS kid that selects it */
	EVP_PKEY *key;
	enum attest_poc_key_type type; /* fixes the one alg accepted with this key */
};

#define ATTEST_POC_MAX_KEYS 32
#define ATTEST_POC_DEFAULT_MAX_AGE 86400
#define ATTEST_POC_DEFAULT_SKEW 300

/* Owned by the policy; filled by attest_policy.c while it reads the YAML. */
struct attest_poc_config {
	struct attest_poc_key keys[ATTEST_POC_MAX_KEYS];
	size_t n_keys;
	unsigned threshold; /* distinct keys that must vouch; 0 until set = 1 */
	int64_t max_age;    /* seconds after iat a token is accepted; 0 = no limit */
	int64_t skew;       /* tolerance for iat in the future, exp and nbf */
};

struct attest_poc_config *attest_poc_config_new(void);
void attest_poc_config_free(struct attest_poc_config *c);
/* Adds a trust-server key: a PEM public key (RSA >= 2048 bits, EC P-256, Ed25519) or 64 hex
 * digits of a raw Ed25519 key (the trust servers' shared multisig key). id NULL: the
 * lower-case hex of a raw Ed25519 key (the kid such tokens carry). */
int attest_poc_config_add_key(struct attest_poc_config *c, const char *id, const uint8_t *key,
                              size_t len, char *err, size_t errlen) PGS_MUSTCHECK;

#endif
