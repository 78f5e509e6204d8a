/* auth.h - SCRAM-SHA-256(-PLUS) server and client, verifiers, channel binding, userlist files; no
 * I/O. */
#ifndef PGSEAL_AUTH_H
#define PGSEAL_AUTH_H

#include "common/common.h"

#include <openssl/x509.h>

/*
 * pgseal authenticates the client itself with the user's SCRAM verifier, recovers the
 * ClientKey from the client's proof, and authenticates to PostgreSQL as a SCRAM client
 * with that ClientKey (PgBouncer's method; see docs/auth.md). This module handles the
 * SCRAM payloads only: the bytes of SASLInitialResponse / SASLResponse /
 * AuthenticationSASLContinue / AuthenticationSASLFinal, never the message framing.
 *
 * Every fallible function returns AUTH_OK (0) or one of the negative enum auth_status
 * codes. auth_sqlstate() says which SQLSTATE to send the client; auth_strerror() and
 * the `detail` field of a state are constant strings that never contain a password,
 * key, proof, nonce or any byte received from the peer.
 */

enum auth_status {
	AUTH_OK = 0,
	AUTH_ERR_PROTOCOL = -1,        /* malformed, oversized or out-of-order message (08P01) */
	AUTH_ERR_PASSWORD = -2,        /* the client's proof is wrong (28P01) */
	AUTH_ERR_CHANNEL_BINDING = -3, /* channel-binding negotiation or data mismatch (08P01) */
	AUTH_ERR_STALE_VERIFIER =
	    -4, /* upstream salt/iterations differ from the verifier (28P01) */
	AUTH_ERR_SERVER_SIGNATURE = -5, /* upstream's server signature did not verify (08006) */
	AUTH_ERR_UPSTREAM = -6,         /* upstream sent a SCRAM error (e=...) (28P01) */
	AUTH_ERR_NO_MECHANISM = -7,     /* upstream offered no SCRAM mechanism we accept (08006) */
	AUTH_ERR_INVALID = -8,   /* bad argument, bad verifier, unusable certificate (XX000) */
	AUTH_ERR_NOSPACE = -9,   /* output buffer too small (XX000) */
	AUTH_ERR_INTERNAL = -10, /* OpenSSL or RNG failure (XX000) */
};

/* A short constant description of a status code ("ok" for AUTH_OK). */
const char *auth_strerror(int status);
/* The SQLSTATE ("08P01", "28P01", ...) to report to the client for a status code. */
const char *auth_sqlstate(int status);

#define AUTH_KEY_LEN 32               /* SHA-256 output: ClientKey, StoredKey, ServerKey, proofs */
#define AUTH_SALT_MAX 128             /* longest salt accepted, in bytes (PostgreSQL uses 16) */
#define AUTH_ITERATIONS_MAX 10000000u /* highest iteration count accepted */
#define AUTH_CB_MAX 64                /* longest tls-server-end-point hash (SHA-512) */
#define AUTH_SCRAM_MSG_MAX 2048       /* longest SCRAM message accepted or produced */

#define AUTH_MECH_SCRAM "SCRAM-SHA-256"
#define AUTH_MECH_SCRAM_PLUS "SCRAM-SHA-256-PLUS"

/*
 * A SCRAM-SHA-256 verifier as stored in pg_authid.rolpassword:
 * "SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>".
 * Owned by the caller; wipe with auth_verifier_clear().
 */
struct auth_verifier {
	uint32_t iterations;
	size_t salt_len;
	uint8_t salt[AUTH_SALT_MAX];
	uint8_t stored_key[AUTH_KEY_LEN];
	uint8_t server_key[AUTH_KEY_LEN];
};

/* Parses a verifier string (NUL-terminated). AUTH_ERR_INVALID if it is not one (an md5
 * hash or a plaintext password also gives AUTH_ERR_INVALID). out is wiped on failure. */
PGS_MUSTCHECK int auth_verifier_parse(const char *s, struct auth_verifier *out);
/* Wipes a verifier. */
void auth_verifier_clear(struct auth_verifier *v);

/*
 * SCRAM keys from a plaintext password (RFC 5802): SaltedPassword = PBKDF2-HMAC-SHA-256,
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey), ServerKey =
 * HMAC(SaltedPassword, "Server Key"). Only ASCII passwords are accepted (for them
 * SASLprep is the identity); others give AUTH_ERR_INVALID. Any out pointer may be NULL.
 */
PGS_MUSTCHECK int auth_scram_keys_from_password(const char *password, const uint8_t *salt,
                                                size_t salt_len, uint32_t iterations,
                                                uint8_t client_key[AUTH_KEY_LEN],
                                                uint8_t stored_key[AUTH_KEY_LEN],
                                                uint8_t server_key[AUTH_KEY_LEN]);

/*
 * RFC 5929 tls-server-end-point channel-binding data: the hash of the certificate's DER
 * encoding with the hash of its signature algorithm, SHA-256 when that is MD5 or SHA-1.
 * Pass pgseal's own certificate for the client hop (SSL_get_certificate) and the
 * upstream's certificate for the upstream hop (SSL_get0_peer_certificate).
 * AUTH_ERR_INVALID when the signature has no such hash (Ed25519, Ed448): then offer and
 * use SCRAM without -PLUS (pass cb_len 0 below).
 */
PGS_MUSTCHECK int auth_cb_server_end_point(X509 *cert, uint8_t out[AUTH_CB_MAX], size_t *outlen);

/* ---- server side: pgseal authenticating the client ------------------------------- */

/*
 * One SCRAM exchange with a client. Caller-owned (embed or allocate); no heap inside;
 * wipe with auth_scram_server_clear(). Fields are private except `detail`, a constant
 * string explaining the last error (for the log or the ErrorResponse DETAIL), or NULL.
 */
struct auth_scram_server {
	int state;
	bool plus_offered; /* client hop is TLS and cb data is known: -PLUS offered */
	bool doomed;       /* unknown user: the exchange runs but always fails with 28P01 */
	char cbind_flag;   /* 'n', 'y' or 'p' from the client's gs2 header */
	size_t cb_len, gs2_len, nonce_len, cfb_len, sf_len, test_nonce_len;
	uint8_t cb_data[AUTH_CB_MAX];
	char gs2_header[64];
	char nonce[AUTH_SCRAM_MSG_MAX]; /* client nonce || server nonce */
	char cfb[AUTH_SCRAM_MSG_MAX];   /* client-first-message-bare */
	char sf[AUTH_SCRAM_MSG_MAX];    /* server-first-message */
	char test_nonce[64];
	struct auth_verifier v;
	uint8_t client_key[AUTH_KEY_LEN];
	const char *detail;
};

/*
 * Starts an exchange with the user's verifier (copied). cb_data/cb_len: pgseal's own
 * certificate hash from auth_cb_server_end_point() when the client connected with TLS,
 * or NULL/0 on a plaintext connection; with cb_len > 0, -PLUS is offered and a client
 * saying "y" (it supports channel binding but thinks we do not) is refused.
 */
PGS_MUSTCHECK int auth_scram_server_init(struct auth_scram_server *s, const struct auth_verifier *v,
                                         const uint8_t *cb_data, size_t cb_len);
/*
 * For a user that does not exist (or has no SCRAM verifier): runs an exchange that
 * looks like a real one (salt derived from the user name and a per-process secret,
 * 4096 iterations) and fails at the proof with AUTH_ERR_PASSWORD, as PostgreSQL does,
 * so that user names cannot be probed.
 */
PGS_MUSTCHECK int auth_scram_server_init_mock(struct auth_scram_server *s, const char *username,
                                              const uint8_t *cb_data, size_t cb_len);
/*
 * The AuthenticationSASL body (after the Int32 10): "SCRAM-SHA-256-PLUS\0" when -PLUS
 * is offered, then "SCRAM-SHA-256\0", then the terminating "\0".
 */
PGS_MUSTCHECK int auth_scram_server_mechanisms(const struct auth_scram_server *s, uint8_t *out,
                                               size_t cap, size_t *outlen);
/*
 * SASLInitialResponse: mechanism is the NUL-terminated name the client chose, msg/len
 * its client-first-message. Writes the server-first-message (for
 * AuthenticationSASLContinue) into out.
 */
PGS_MUSTCHECK int auth_scram_server_first(struct auth_scram_server *s, const char *mechanism,
                                          const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
                                          size_t *outlen);
/*
 * SASLResponse: checks the client-final-message (channel binding, nonce, proof). On
 * success writes the server-final-message (for AuthenticationSASLFinal) into out and
 * the ClientKey becomes available. A wrong proof gives AUTH_ERR_PASSWORD (28P01).
 */
PGS_MUSTCHECK int auth_scram_server_final(struct auth_scram_server *s, const uint8_t *msg,
                                          size_t len, uint8_t *out, size_t cap, size_t *outlen);
/* True once auth_scram_server_final() has succeeded. */
bool auth_scram_server_done(const struct auth_scram_server *s);
/* The ClientKey recovered from the client's proof; AUTH_ERR_INVALID unless done. */
PGS_MUSTCHECK int auth_scram_server_client_key(const struct auth_scram_server *s,
                                               uint8_t out[AUTH_KEY_LEN]);
/* Wipes all keys and message copies. */
void auth_scram_server_clear(struct auth_scram_server *s);
/* Tests and fuzzing only: use this server nonce (printable, no ',', <= 63 chars). */
PGS_MUSTCHECK int auth_scram_server_set_test_nonce(struct auth_scram_server *s, const char *nonce);

/* ---- client side: pgseal authenticating to the upstream PostgreSQL ---------------- */

/* Channel binding on the upstream hop, with libpq's meaning of channel_binding=. */
enum auth_cb_policy {
	AUTH_CB_DISABLE = 0, /* never bind; gs2 flag "n" */
	AUTH_CB_PREFER,      /* bind when TLS and -PLUS offered; "y" when TLS without -PLUS */
	AUTH_CB_REQUIRE,     /* fail unless TLS and -PLUS offered */
};

/* One SCRAM exchange with the upstream. Caller-owned; wipe with auth_scram_client_clear(). */
struct auth_scram_client {
	int state;
	bool password_mode;
	enum auth_cb_policy policy;
	char cbind_flag;
	size_t cb_len, gs2_len, cnonce_len, cfb_len, sf_len, password_len;
	uint8_t cb_data[AUTH_CB_MAX];
	char gs2_header[64];
	char cnonce[64];
	char username[64];
	char cfb[AUTH_SCRAM_MSG_MAX];
	char sf[AUTH_SCRAM_MSG_MAX];
	char password[256];
	struct auth_verifier v;
	uint8_t client_key[AUTH_KEY_LEN];
	uint8_t server_signature[AUTH_KEY_LEN];
	const char *detail;
};

/*
 * Key mode (pgseal's normal path): the user's verifier and the ClientKey recovered by
 * the server side. cb_data/cb_len: the upstream certificate's hash when the upstream
 * hop is TLS, NULL/0 otherwise. AUTH_ERR_INVALID if H(client_key) != StoredKey or if
 * policy is AUTH_CB_REQUIRE without cb data.
 */
PGS_MUSTCHECK int auth_scram_client_init_keys(struct auth_scram_client *c,
                                              const struct auth_verifier *v,
                                              const uint8_t client_key[AUTH_KEY_LEN],
                                              enum auth_cb_policy policy, const uint8_t *cb_data,
                                              size_t cb_len);
/* Key mode straight from a finished server exchange (same verifier, recovered ClientKey). */
PGS_MUSTCHECK int auth_scram_client_init_from_server(struct auth_scram_client *c,
                                                     const struct auth_scram_server *s,
                                                     enum auth_cb_policy policy,
                                                     const uint8_t *cb_data, size_t cb_len);
/* Password mode (ASCII passwords, < 256 bytes): keys computed when the salt arrives. */
PGS_MUSTCHECK int auth_scram_client_init_password(struct auth_scram_client *c, const char *password,
                                                  enum auth_cb_policy policy,
                                                  const uint8_t *cb_data, size_t cb_len);
/*
 * AuthenticationSASL: mechs/mechs_len is its body (NUL-terminated names, then "\0").
 * Chooses the mechanism (*mechanism points to a static string: send it NUL-terminated
 * in SASLInitialResponse) and writes the client-first-message into out.
 */
PGS_MUSTCHECK int auth_scram_client_first(struct auth_scram_client *c, const uint8_t *mechs,
                                          size_t mechs_len, const char **mechanism, uint8_t *out,
                                          size_t cap, size_t *outlen);
/*
 * AuthenticationSASLContinue: checks the server-first-message (our nonce prefix; in
 * key mode salt and iterations equal to the verifier's, else AUTH_ERR_STALE_VERIFIER)
 * and writes the client-final-message (for SASLResponse) into out.
 */
PGS_MUSTCHECK int auth_scram_client_final(struct auth_scram_client *c, const uint8_t *msg,
                                          size_t len, uint8_t *out, size_t cap, size_t *outlen);
/*
 * AuthenticationSASLFinal: verifies the server signature in constant time. The
 * upstream is authenticated only after this succeeded: treat an AuthenticationOk that
 * arrives before it as a failure (libpq does).
 */
PGS_MUSTCHECK int auth_scram_client_verify(struct auth_scram_client *c, const uint8_t *msg,
                                           size_t len);
/* True once auth_scram_client_verify() has succeeded. */
bool auth_scram_client_done(const struct auth_scram_client *c);
/* Wipes all keys, the password and message copies. */
void auth_scram_client_clear(struct auth_scram_client *c);
/* Tests and fuzzing only: fixed client nonce and SCRAM user name (default ""). */
PGS_MUSTCHECK int auth_scram_client_set_test_nonce(struct auth_scram_client *c,
                                                   const char *username, const char *nonce);

/* ---- userlist files (PgBouncer's auth_file format) ------------------------------- */

/*
 * Lines `"user" "secret"` (anything after the second field is ignored, as PgBouncer
 * does); inside quotes "" stands for one "; blank lines and lines starting with ; or #
 * are comments. Duplicate users are an error. The secret is returned as written (a
 * SCRAM verifier for auth_verifier_parse(); pgseal stores no plaintext passwords).
 */
struct auth_userlist;

/* Parses a whole file's contents. On error, err says the line and reason (no secret). */
PGS_MUSTCHECK int auth_userlist_parse(const char *text, size_t len, struct auth_userlist **out,
                                      char *err, size_t errlen);
/* The secret of user, or NULL. Valid until auth_userlist_free(). */
const char *auth_userlist_lookup(const struct auth_userlist *ul, const char *user);
size_t auth_userlist_count(const struct auth_userlist *ul);
/* Wipes the secrets and frees; NULL is allowed. */
void auth_userlist_free(struct auth_userlist *ul);

#endif
