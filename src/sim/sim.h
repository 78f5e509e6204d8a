/* sim.h - pgseal-dstack-sim internals: state, test CA, quotes, event log, HTTP API (development
 * only). */
#ifndef PGSEAL_SIM_H
#define PGSEAL_SIM_H

#include "common/common.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SIM_SECRET_LEN 32
#define SIM_APP_ID_LEN 20
#define SIM_INSTANCE_ID_LEN 20
#define SIM_DEVICE_ID_LEN 32
#define SIM_MR_LEN 48
#define SIM_REPORT_DATA_LEN 64
#define SIM_COMPOSE_HASH_MAX 64
#define SIM_K256_SIG_LEN 65 /* r || s || recovery id, as dstack */

/* dstack runtime events (IMR 3) carry this TCG event type. */
#define SIM_EVENT_TYPE_DSTACK 0x08000001u

/* --- byte helpers (sim_util.c) ------------------------------------------- */
/* Decodes hex (optional 0x prefix) into a malloc'd buffer; fails on odd length or bad digit. */
int sim_unhex(const char *hex, uint8_t **out, size_t *outlen) PGS_MUSTCHECK;
int sim_read_file(const char *path, uint8_t **out, size_t *outlen) PGS_MUSTCHECK;
/* Writes atomically (temp file, fsync, rename) with the given mode. */
int sim_write_file(const char *path, const void *buf, size_t len, unsigned mode) PGS_MUSTCHECK;
char *sim_path_join(const char *dir, const char *name);
void sim_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32]);
void sim_sha384(const void *buf, size_t len, uint8_t out[48]);
/* HKDF-SHA256(ikm, salt = "pgseal-dstack-sim v1", info = label || ctx). */
int sim_hkdf(const uint8_t *ikm, size_t ikmlen, const char *label, const uint8_t *ctx,
             size_t ctxlen, uint8_t *out, size_t outlen) PGS_MUSTCHECK;

/* --- Keccak-256 (sim_keccak.c): OpenSSL 3.0 has SHA-3 but not the original Keccak padding --- */
void sim_keccak256(const uint8_t *msg, size_t len, uint8_t out[32]);

/* --- secp256k1 / ed25519 (sim_k256.c) ------------------------------------ */
/* Maps 32 bytes to a valid secp256k1 scalar check (0 < k < n). */
bool sim_k256_valid_scalar(const uint8_t key[32]);
int sim_k256_pubkey(const uint8_t key[32], uint8_t pub33[33]) PGS_MUSTCHECK;
/* Recoverable signature over a 32-byte digest: r || s (low s) || recid (0/1). */
int sim_k256_sign_recoverable(const uint8_t key[32], const uint8_t digest[32],
                              uint8_t sig[65]) PGS_MUSTCHECK;
/* Plain 64-byte r || s signature over a 32-byte digest (low s). */
int sim_k256_sign_digest(const uint8_t key[32], const uint8_t digest[32],
                         uint8_t sig[64]) PGS_MUSTCHECK;
/* Verifies a 64-byte r || s signature; pub is SEC1 (33 or 65 bytes). 1 valid, 0 invalid, <0 error.
 */
int sim_k256_verify_digest(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                           const uint8_t sig[64]) PGS_MUSTCHECK;
int sim_ed25519_pubkey(const uint8_t seed[32], uint8_t pub[32]) PGS_MUSTCHECK;
int sim_ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t len,
                     uint8_t sig[64]) PGS_MUSTCHECK;
int sim_ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                       const uint8_t sig[64]) PGS_MUSTCHECK;

/* --- event log (sim_evlog.c) --------------------------------------------- */
struct sim_event {
	uint32_t imr;
	uint32_t type;
	uint8_t digest[SIM_MR_LEN];
	char *name;
	uint8_t *payload;
	size_t payload_len;
};

struct sim_evlog {
	struct sim_event *ev;
	size_t n, cap;
};

/* dstack runtime event digest: SHA-384(LE32(type) || ":" || name || ":" || payload). */
void sim_evlog_runtime_digest(uint32_t type, const char *name, const uint8_t *payload, size_t len,
                              uint8_t out[SIM_MR_LEN]);
/* Appends an event with a digest computed by the dstack formula (IMR 3) or given (IMR 0-2). */
void sim_evlog_add_runtime(struct sim_evlog *log, const char *name, const uint8_t *payload,
                           size_t len);
void sim_evlog_add_boot(struct sim_evlog *log, uint32_t imr, uint32_t type, const uint8_t *payload,
                        size_t len);
/* RTMR[imr] = replay: mr = SHA-384(mr || digest) from 48 zero bytes. */
void sim_evlog_replay(const struct sim_evlog *log, uint32_t imr, uint8_t out[SIM_MR_LEN]);
char *sim_evlog_json(const struct sim_evlog *log);       /* malloc'd JSON array text */
void *sim_evlog_json_value(const struct sim_evlog *log); /* json_t array (jansson) */
void sim_evlog_free(struct sim_evlog *log);
/* Prints RTMR0-3 replayed from a dstack event log file as JSON; 0 ok, 1 digest mismatch, 2 bad
 * file. */
int sim_replay_file(const char *path) PGS_MUSTCHECK;

/* --- test CA and collateral (sim_ca.c, sim_pck.c) ------------------------- */
struct sim_ca {
	EVP_PKEY *root_key, *platform_key, *pck_key, *tcb_key, *att_key;
	X509 *root, *platform, *pck, *tcb;
	EVP_PKEY *app_ca_key; /* signs GetTlsKey certificates, like dstack's KMS-issued app CA */
	X509 *app_ca;
	char *app_ca_pem;
	char *collateral_json; /* exactly the shape of testdata/tdx/tdx_quote_collateral.json */
	char *pck_chain_pem;   /* leaf, platform CA, root: certification data type 5 */
	uint8_t ppid[16];
	uint8_t qe_id[16];
};

/* Platform TCB the test CA certifies (PCK cert, TCB Info) and the quote reports. */
extern const uint8_t sim_cpu_svn[16];
extern const uint16_t sim_pce_svn;
extern const uint8_t sim_fmspc[6];
extern const uint8_t sim_tee_tcb_svn[16];
extern const uint8_t sim_qe_mrsigner[32];
extern const uint16_t sim_qe_isvprodid, sim_qe_isvsvn;

/* Loads the CA from state_dir, or creates it on first start (keys 0600). */
int sim_ca_load_or_create(struct sim_ca *ca, const char *state_dir,
                          const uint8_t *secret) PGS_MUSTCHECK;
/* Writes sim-root.pem, sim-root.der, sim-pck-chain.pem, sim-collateral.json into dir. */
int sim_ca_write_public(const struct sim_ca *ca, const char *dir) PGS_MUSTCHECK;
void sim_ca_free(struct sim_ca *ca);
/* X.509 value of the Intel SGX extensions (OID 1.2.840.113741.1.13.1) of the PCK leaf. */
int sim_pck_sgx_extension(const uint8_t ppid[16], const uint8_t platform_instance[16],
                          uint8_t **der, size_t *len) PGS_MUSTCHECK;
/* TCB Info / QE Identity JSON bodies signed into the collateral. */
char *sim_pck_tcb_info_json(void);
char *sim_pck_qe_identity_json(void);
int sim_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) PGS_MUSTCHECK;
/* Raw r || s P-256 ECDSA-SHA256 signature (as quotes and collateral carry them). */
int sim_ecdsa_p256_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
                        uint8_t sig[64]) PGS_MUSTCHECK;
int sim_p256_raw_pub(EVP_PKEY *key, uint8_t out[64]) PGS_MUSTCHECK;

/* --- quotes (sim_quote.c) -------------------------------------------------- */
struct sim_state;
/* Builds a TDX quote v4 with the given report data; *out malloc'd. */
int sim_quote_build(const struct sim_state *st, const uint8_t report_data[SIM_REPORT_DATA_LEN],
                    uint8_t **out, size_t *outlen) PGS_MUSTCHECK;

/* --- simulator state (sim_state.c) ----------------------------------------- */
struct sim_opts {
	const char *socket_path;
	const char *state_dir;        /* NULL: socket_path + ".d" */
	const char *compose_hash;     /* hex; NULL: SHA-256 of the app-compose text */
	const char *app_compose_file; /* NULL: the built-in app-compose */
	const char *app_name;
};

struct sim_state {
	char *state_dir;
	char *public_dir;
	uint8_t secret[SIM_SECRET_LEN];
	uint8_t app_id[SIM_APP_ID_LEN];
	uint8_t instance_id[SIM_INSTANCE_ID_LEN];
	uint8_t device_id[SIM_DEVICE_ID_LEN];
	uint8_t compose_hash[SIM_COMPOSE_HASH_MAX];
	size_t compose_hash_len;
	char *app_compose;
	char *app_name;
	char *vm_config;
	char *key_provider_info;
	uint8_t os_image_hash[32];
	uint8_t mr_aggregated[32];
	uint8_t app_key[32]; /* dstack's "k256_key": the app root key */
	uint8_t app_pub[33];
	uint8_t kms_key[32]; /* the simulated KMS root key */
	uint8_t kms_pub[33];
	uint8_t kms_sig[SIM_K256_SIG_LEN]; /* dstack's "k256_signature" */
	uint8_t mrtd[SIM_MR_LEN];
	uint8_t mrseam[SIM_MR_LEN];
	struct sim_evlog log;
	struct sim_ca ca;
};

int sim_state_open(struct sim_state *st, const struct sim_opts *opts) PGS_MUSTCHECK;
void sim_state_close(struct sim_state *st);
/* dstack GetKey: derived key for path and its 2-link signature chain. */
int sim_state_get_key(const struct sim_state *st, const char *path, const char *purpose,
                      bool ed25519, uint8_t key[32], uint8_t sig0[SIM_K256_SIG_LEN]) PGS_MUSTCHECK;

/* --- GetTlsKey certificates (sim_tls.c) ------------------------------------ */
struct sim_tls_req {
	const char *subject;
	const char **alt_names;
	size_t n_alt_names;
	bool ra_tls, server_auth, client_auth;
	int64_t not_before, not_after; /* unix seconds; < 0: default */
};

/* A fresh P-256 key (PKCS#8 PEM) and a certificate chain [leaf, app CA], the leaf carrying the
 * quote (report_data = SHA-512("ratls-cert:" || SPKI DER)) and event log when ra_tls is set. */
int sim_tls_issue(const struct sim_state *st, const struct sim_tls_req *req, char **key_pem,
                  char **leaf_pem, char *err, size_t errlen) PGS_MUSTCHECK;

/* --- HTTP API (sim_api.c, sim_http.c) --------------------------------------- */
struct sim_reply {
	unsigned status;
	char *body; /* malloc'd JSON text */
};

/* Dispatches one call. path: the URL path; args: JSON object text of the request (may be NULL). */
void sim_api_call(struct sim_state *st, const char *path, const char *body, size_t body_len,
                  void *query_args, struct sim_reply *out);
/* Serves on a unix socket until SIGINT/SIGTERM. */
int sim_http_serve(struct sim_state *st, const char *socket_path) PGS_MUSTCHECK;

#endif
