/* auth_int.h - helpers shared by the auth_*.c files (not part of the module's interface). */
#ifndef PGSEAL_AUTH_INT_H
#define PGSEAL_AUTH_INT_H

#include "auth/auth.h"

/* Exchange states shared by the server and client state machines. */
enum auth_state {
	AUTH_STATE_INIT = 0, /* zeroed or cleared: no init yet */
	AUTH_STATE_READY,    /* init done, first message expected */
	AUTH_STATE_FIRST,    /* first messages exchanged, final expected */
	AUTH_STATE_FINAL,    /* client: client-final sent, server-final expected */
	AUTH_STATE_DONE,     /* authenticated */
	AUTH_STATE_FAILED,   /* any error: every later call fails */
};

/* HMAC-SHA-256 with a 32-byte key. */
PGS_MUSTCHECK int auth_hmac(const uint8_t key[AUTH_KEY_LEN], const void *data, size_t n,
                            uint8_t out[AUTH_KEY_LEN]);
/* SHA-256. */
PGS_MUSTCHECK int auth_sha256(const void *p, size_t n, uint8_t out[AUTH_KEY_LEN]);

/* SCRAM "printable": 0x21..0x7e except ','. */
bool auth_printable(const char *s, size_t n);
/* A fresh nonce: 18 random bytes, base64 (24 chars), written to out (cap >= 25, NUL). */
PGS_MUSTCHECK int auth_random_nonce(char *out, size_t cap, size_t *outlen);

/*
 * A cursor over one SCRAM message ("a=value,b=value,..."). auth_attr_next reads one
 * attribute: the letter must be expected (or any letter if expected is 0), then '=',
 * then the value up to the next ',' or the end; a ',' between attributes is consumed.
 */
struct auth_cursor {
	const char *p;
	size_t len, pos;
};
PGS_MUSTCHECK int auth_attr_next(struct auth_cursor *c, char expected, char *attr, const char **val,
                                 size_t *vlen);
bool auth_cursor_end(const struct auth_cursor *c);

/* AuthMessage = client-first-message-bare "," server-first-message ","
 * client-final-message-without-proof (RFC 5802 section 3), into am. */
PGS_MUSTCHECK int auth_build_message(const char *cfb, size_t cfb_len, const char *sf, size_t sf_len,
                                     const char *cfwp, size_t cfwp_len, char *am, size_t cap,
                                     size_t *amlen);
/* An iteration count: decimal digits only, 1..AUTH_ITERATIONS_MAX. */
PGS_MUSTCHECK int auth_parse_iterations(const char *s, size_t n, uint32_t *out);

/* Appends bytes to a bounded buffer; AUTH_ERR_NOSPACE if they do not fit. */
PGS_MUSTCHECK int auth_buf_put(char *buf, size_t cap, size_t *len, const void *p, size_t n);

#endif
