/* tee.h - dstack guest-agent client (GetKey, GetQuote, Info) over its unix socket. */
#ifndef PGSEAL_TEE_H
#define PGSEAL_TEE_H

#include "common/common.h"

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
	uint8_t *quote;    /* hex-decoded "quote" */
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
	char *tcb_info;  /* a JSON document, as a string */
	char *vm_config;
	char *raw_json;  /* the whole response body */
};

int tee_dstack_info(const char *endpoint, struct tee_dstack_info *out, char *err,
		    size_t errlen) PGS_MUSTCHECK;
void tee_dstack_info_free(struct tee_dstack_info *i);

#endif
