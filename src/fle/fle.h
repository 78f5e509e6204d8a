/* fle.h - field-level encryption of a session's messages: what the session layer (src/conn/) calls.
 * No sockets, no stream buffers: decoded messages in, an action out. */
#ifndef PGSEAL_FLE_H
#define PGSEAL_FLE_H

#include "common/common.h"
#include "proto/proto.h"

struct fle;
struct keys_worker;
struct schema;

/* The worker's cache of plans by statement text, shared by its sessions (one thread). */
struct fle_plan_cache;
struct fle_plan_cache *fle_plan_cache_new(void);
void fle_plan_cache_free(struct fle_plan_cache *pc);

/* Whether a schema has anything to encrypt: without, a session needs no layer. */
bool fle_schema_enabled(const struct schema *sc);

/* What the layer needs from outside; all borrowed for the layer's lifetime. */
struct fle_config {
	uint64_t conn_id;             /* for log lines */
	const struct schema *schema;  /* with encrypted columns (fle_schema_enabled) */
	struct keys_worker *kw;       /* the worker's key contexts; NULL without keys */
	struct fle_plan_cache *plans; /* the worker's */
	uint32_t max_message_size;    /* a COPY row may not be longer */
	const char *client_id;        /* mTLS client id (keys_client_id_x509), NULL or "" */
	/* the session's last ParameterStatus value of a setting, or NULL */
	const char *(*param)(void *arg, const char *name);
	void *param_arg;
};

struct fle *fle_new(const struct fle_config *cfg);
void fle_free(struct fle *f);

/* What the session does with a message the layer was given. */
enum fle_verdict {
	FLE_PASS,    /* send act->fwd (may be empty), then the message itself unchanged */
	FLE_REPLACE, /* send act->fwd in the message's place (empty: the message is dropped) */
	FLE_HOLD,    /* leave the message where it is; ask again after the next server message */
	FLE_FAIL,    /* end the session: FATAL act->sqlstate / act->message to the client (fwd
	              * and back are empty) */
};

/*
 * One per session, reused for every message (fle_action_reset between calls: no allocation on
 * the hot path). Its buffers may hold plaintext (decrypted rows) or records and literals
 * (rewritten statements): reset and free wipe them, and they only grow by copying (the old
 * block wiped).
 */
struct fle_action {
	enum fle_verdict verdict;
	struct pgs_buf fwd;  /* whole messages for this message's direction, in order */
	struct pgs_buf back; /* whole messages for the other direction, sent at a message
	                      * boundary there (the session fails when it cannot) */
	uint8_t ready;       /* nonzero: fwd carries a ReadyForQuery (this status byte) the session
	                      * treats as one it saw */
	char sqlstate[6];
	char message[256];
};
void fle_action_reset(struct fle_action *act);
void fle_action_free(struct fle_action *act);

/* Which messages the session must frame whole and hand to the layer (the others stream
 * through unseen). */
bool fle_client_wants(struct fle *f, uint8_t type);
bool fle_server_wants(struct fle *f, uint8_t type);

/* One whole message (type, body of blen bytes). act is reset first. Returns PGS_ERR exactly
 * when act->verdict is FLE_FAIL. */
int fle_client_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen,
                       struct fle_action *act) PGS_MUSTCHECK;
int fle_server_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen,
                       struct fle_action *act) PGS_MUSTCHECK;
/* The session's first ReadyForQuery (status byte), given in place of fle_server_message:
 * FLE_REPLACE (held until the catalog lookup in act->back has answered; a later action's
 * `ready` releases it) or FLE_PASS. */
int fle_session_ready(struct fle *f, uint8_t status, struct fle_action *act) PGS_MUSTCHECK;

/* The layer expects no answer and holds nothing (a session may hand its upstream to the
 * pool). */
bool fle_idle(const struct fle *f);
/* A client message was held (FLE_HOLD) since the last call: the session scans the client
 * again. Clears the mark. */
bool fle_client_held(struct fle *f);

#endif
