/* tee.h - dstack guest-agent client (GetKey, GetQuote, Info) over its unix socket. */
#ifndef PGSEAL_TEE_H
#define PGSEAL_TEE_H

#include <openssl/ssl.h>

#include "common/common.h"
#include "config/config.h"

/*
 * The guest agent speaks HTTP/1.1 + JSON on a unix socket (docs/keys.md lists the exact
 * shapes): POST /GetKey, /GetQuote, /Info. An endpoint is a socket path, or an
 * http:// URL (the simulator convention of DSTACK_SIMULATOR_ENDPOINT). Calls are
 * blocking (boot time and the admin endpoint only) and thread-safe.
 */

#define TEE_DSTACK_DEFAULT_SOCKET "/var/run/dstack.sock"
#define TEE_DSTACK_MAX_KEY 64
#define TEE_REPORT_DATA_MAX 64

/* The endpoint to use: configured if non-NULL and non-empty, else
 * $DSTACK_SIMULATOR_ENDPOINT, else /var/run/dstack.sock. Never NULL. */
const char *tee_dstack_endpoint(const char *configured);

/* GetKey {path, purpose}: the derived key bytes (hex-decoded "key") into key[cap];
 * *nsig receives the length of "signature_chain" (not verified here). */
int tee_dstack_get_key(const char *endpoint, const char *path, const char *purpose, uint8_t *key,
                       size_t cap, size_t *keylen, size_t *nsig, char *err,
                       size_t errlen) PGS_MUSTCHECK;

/* GetQuote result. Owner: the caller, freed with tee_dstack_quote_free. */
struct tee_dstack_quote {
	uint8_t *quote; /* hex-decoded "quote" */
	size_t quote_len;
	char *event_log;   /* "event_log": a JSON document, as a string */
	char *vm_config;   /* "vm_config" (may be NULL) */
	char *report_data; /* "report_data" hex as returned (may be NULL) */
};

/* GetQuote {report_data: hex of rdlen <= 64 bytes}. */
int tee_dstack_get_quote(const char *endpoint, const uint8_t *report_data, size_t rdlen,
                         struct tee_dstack_quote *out, char *err, size_t errlen) PGS_MUSTCHECK;
void tee_dstack_quote_free(struct tee_dstack_quote *q);

/* Info result: the fields pgseal logs and serves; NULL when absent. Owner: the caller. */
struct tee_dstack_info {
	char *app_id;
	char *instance_id;
	char *app_name;
	char *compose_hash;
	char *device_id;
	char *os_image_hash;
	char *key_provider_info;
	char *tcb_info; /* a JSON document, as a string */
	char *vm_config;
	char *raw_json; /* the whole response body */
};

int tee_dstack_info(const char *endpoint, struct tee_dstack_info *out, char *err,
                    size_t errlen) PGS_MUSTCHECK;
void tee_dstack_info_free(struct tee_dstack_info *i);

/* ---- RA-TLS: the attested client-facing certificate and /attestation (tee_ratls.c) ---- */

/*
 * docs/attestation.md ("RA-TLS", "Serving attestation") is the contract. At boot, with
 * keys.provider dstack and a client_tls section:
 *  - without client_tls.cert_file: a P-256 key is generated in memory (never written
 *    anywhere) and a self-signed certificate (CN "pgseal") carries a TDX quote whose
 *    report_data = SHA-512("pgseal-ra-tls-v1" || SPKI DER) (attest_ratls_report_data_for_key) in
 *    the extension 1.3.6.1.4.1.62397.1.1 and the event log in .1.2 (each extnValue a DER
 *    OCTET STRING of the bytes); tee_ratls_ssl_ctx() serves it;
 *  - with cert_file: the quote binds that certificate's key and is only served by the
 *    admin API (tee_ratls_ssl_ctx() is NULL: the proxy loads cert_file itself).
 * The /attestation document is built once at boot and never changes.
 */
#define TEE_RATLS_CN "pgseal"
#define TEE_RATLS_VALIDITY_DAYS 365
/* A larger event log is left out of the certificate (served by /attestation only). */
#define TEE_RATLS_CERT_EVENT_LOG_MAX (64u * 1024u)

struct tee_ratls;

/* Boot-time set-up (blocking: Info + GetQuote). Nothing to attest (keys provider env or
 * file, no keys section, or no client_tls section): *out = NULL and PGS_OK. Any dstack
 * failure is PGS_ERR with err set. Owner: the caller, released with tee_ratls_free. */
int tee_ratls_setup(const struct config *cfg, struct tee_ratls **out, char *err,
                    size_t errlen) PGS_MUSTCHECK;
/* The client-facing SSL_CTX serving the generated RA-TLS certificate (mTLS from
 * client_tls.ca_file applied); NULL when r is NULL or client_tls names a cert_file.
 * Borrowed: take a reference (SSL_CTX_up_ref) to keep it past tee_ratls_free. */
SSL_CTX *tee_ratls_ssl_ctx(const struct tee_ratls *r);
/* admin_hooks.attestation_json: arg is the struct tee_ratls; a malloc'd copy of the
 * /attestation JSON document (NULL if r is NULL). Thread-safe (the document is immutable). */
char *tee_ratls_attestation_json(void *arg);
/* "dstack" or "dstack-simulator" (recognised from Info / the quote's PCK chain). */
const char *tee_ratls_provider(const struct tee_ratls *r);
void tee_ratls_free(struct tee_ratls *r);

/* Lower level (used by tee_ratls_setup, exposed for tests). */
/* A fresh P-256 key. */
EVP_PKEY *tee_ratls_generate_key(void) PGS_MUSTCHECK;
/* subjectAltName text ("DNS:localhost,IP:127.0.0.1") for a listen address "host:port". */
void tee_ratls_san_for_listen(const char *listen, char *out, size_t outlen);
/* The self-signed RA-TLS certificate: CN "pgseal", the given SAN, the quote and (if not
 * NULL) the event log in the RA-TLS extensions, signed by key (ECDSA-SHA256). */
int tee_ratls_build_cert(EVP_PKEY *key, const char *san, const uint8_t *quote, size_t quote_len,
                         const char *event_log, X509 **out, char *err, size_t errlen) PGS_MUSTCHECK;

#endif
