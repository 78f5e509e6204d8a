/* conn_internal.h - the connection struct, its states and the helpers shared by the
 * conn_*.c files. */
#ifndef PGSEAL_CONN_INTERNAL_H
#define PGSEAL_CONN_INTERNAL_H

#include "conn/conn.h"
#include "fle/fle.h"
#include "net/net_side.h"
#include "proto/proto.h"

/* Messages pgseal must see whole during relay (auth, keys) are small; cap their size. */
#define CONN_MAX_INSPECT (64u * 1024u)

enum conn_state {
	CS_CLIENT_STARTUP,   /* reading SSLRequest / StartupMessage / CancelRequest */
	CS_CLIENT_TLS,       /* SSL_accept in progress */
	CS_AUTH_LOOKUP,      /* waiting for the user's verifier (auth block) */
	CS_CLIENT_SCRAM,     /* pgseal runs SCRAM with the client */
	CS_UPSTREAM_CONNECT, /* TCP connect in progress */
	CS_UPSTREAM_SSLREQ,  /* SSLRequest sent, waiting for 'S' */
	CS_UPSTREAM_TLS,     /* SSL_connect in progress */
	CS_UPSTREAM_SCRAM,   /* pgseal authenticates upstream with the recovered ClientKey */
	CS_POOL_CHECK,       /* a pooled upstream: are its role settings current? (conn_pool.c) */
	CS_RELAY,            /* streaming both ways */
	CS_CLOSING,          /* flushing the last bytes to the client */
	CS_CANCEL_WAIT,      /* a CancelRequest: open until the upstream has it (conn_cancel.c) */
};

struct conn_scram; /* pgseal's SCRAM state (conn_auth.c) */

/* The upstream's ParameterStatus values (name -> value), replayed when the connection is reused. */
struct conn_params {
	char **names;
	char **values;
	int n;
};

struct conn {
	struct conn *prev, *next; /* in the worker's list */
	struct conn_worker *worker;
	struct conn_env *env;
	uint64_t id;
	enum conn_state state;
	bool closed;
	bool again;   /* the pump stopped on its budget: drive again soon */
	bool drive;   /* a step moved the session on: conn_drive dispatches again at once (lower
	                 files set it and return; only conn.c calls conn_drive) */
	bool counted; /* holds a slot in env->nclients */
	bool lookup_pending; /* a verifier lookup refers to this conn */
	bool cancel_pending; /* a cancel thread refers to this conn */
	bool client_tls;     /* the client side runs TLS */
	bool ssl_answered;   /* an SSLRequest was answered */
	bool direct_tls;     /* the client began with a TLS ClientHello (no SSLRequest) */
	bool first_seen;     /* a first startup packet (or a ClientHello) was received */
	bool authenticated;  /* AuthenticationOk seen */
	bool ready_seen;     /* first ReadyForQuery seen (session established) */
	bool idle;           /* last server message was ReadyForQuery */
	bool terminating;    /* the client sent Terminate */
	uint8_t txn_status;  /* status byte of the last ReadyForQuery */
	bool has_backend_key;
	uint32_t backend_pid, backend_key;
	uint32_t
	    client_key; /* the cancel key the client holds (a fresh one on a reused upstream) */
	bool pgseal_authenticated; /* pgseal verified the client's SCRAM proof itself */
	bool upstream_challenged;  /* the upstream asked this session for credentials */
	bool reused;               /* the upstream connection came from the pool */
	struct schema *schema;     /* the encryption schema this session took at its start */
	uint64_t schema_seen;      /* the current schema's generation last compared with it */
	struct conn_params params; /* the upstream's ParameterStatus values, latest first */
	uint64_t deadline_us;      /* startup / closing deadline, 0 = none */
	uint64_t query_start_us;   /* for the latency histogram */

	struct net_side client;
	struct net_side server;
	struct net_stream c2s; /* client -> server */
	struct net_stream s2c; /* server -> client */

	struct net_stream pool_check; /* CS_POOL_CHECK: the check's query, then its answer */
	char *pool_fingerprint; /* its upstream's settings fingerprint, validated at a reset */
	struct pgs_buf startup; /* the client's StartupMessage, relayed upstream */
	char user[64];
	char database[64];
	struct net_peer_id peer; /* mTLS identity, when the client presented a certificate */
	bool has_peer;
	struct conn_scram *scram;
	/* the encryption layer (src/fle/), from the first ReadyForQuery when the schema has
	 * encrypted columns (NULL otherwise), and the one action it answers each message with */
	struct fle *fle;
	struct fle_action fle_act;
};

/* conn_pump.c: writes pending bytes both ways and reads what fits, until nothing moves. */
void conn_pump(struct conn *c);

/*
 * The files of the session call only the files below them (no circle; make check-circles):
 *   conn.c                    accept, the dispatch conn_drive, freeing, the worker
 *   conn_startup.c            the client's first packets
 *   conn_pool_handout.c       CS_POOL_CHECK: a pooled upstream checked, then handed out
 *   conn_auth.c               authentication (relayed, or pgseal's SCRAM on both hops)
 *   conn_pump.c               the relay pump
 *   conn_relay.c              the scanners
 *   conn_upstream.c           opening the upstream
 *   conn_pool.c               the pool: release, reset, take, expiry
 *   conn_cancel.c             forwarding CancelRequests
 *   conn_pool_check.c         the pool's SQL and the readers of its answers (no I/O)
 *   conn_core.c               primitives: close, fail, the closing flush, params
 *   conn_cancel_registry.c    the live backend keys
 * A lower file that moves the session to a state that must run at once sets c->drive and
 * returns: conn_drive (conn.c) runs it. A side's events and io_uring completions reach
 * conn_drive through the net_side's ready(owner) callback (net/net_side.h).
 */

/* conn_core.c */
void conn_close(struct conn *c, const char *why);
/* Sends FATAL sqlstate/message to the client (when at a message boundary) and closes. */
void conn_fail(struct conn *c, const char *sqlstate, const char *msg);
/* CS_CLOSING: writes what is left for the client, then closes. */
void conn_closing_step(struct conn *c);
void conn_send_to_client(struct conn *c, const struct pgs_buf *msg);
void conn_params_set(struct conn_params *p, const uint8_t *body, uint32_t blen);
/* The last value the server reported for a setting, or NULL. */
const char *conn_params_get(const struct conn_params *p, const char *name);
void conn_params_free(struct conn_params *p);

/* conn.c */
void conn_drive(struct conn *c);

/* conn_startup.c */
void conn_startup_step(struct conn *c);

/* conn_upstream.c */
void conn_upstream_start(struct conn *c);
/* Opens a new upstream connection (conn_upstream_start without the pool). */
void conn_upstream_connect(struct conn *c);
void conn_upstream_step(struct conn *c);
/* An upstream ErrorResponse before authentication, its message prefixed with the hop that
 * failed (the pgseal->PostgreSQL connection), into out as a whole message. */
int conn_upstream_error_rewrite(struct conn *c, const uint8_t *body, uint32_t blen,
                                struct pgs_buf *out) PGS_MUSTCHECK;

/* conn_relay.c: scanners; return PGS_ERR after failing the connection. */
int conn_scan_client(struct conn *c) PGS_MUSTCHECK;
int conn_scan_server(struct conn *c) PGS_MUSTCHECK;

/* conn_auth.c */
void conn_auth_begin(struct conn *c);         /* after the client's StartupMessage */
void conn_auth_client_step(struct conn *c);   /* CS_CLIENT_SCRAM */
void conn_auth_upstream_step(struct conn *c); /* CS_UPSTREAM_SCRAM */
void conn_auth_lookup_done(struct conn *c, struct conn_lookup_result *r);
void conn_auth_free(struct conn *c);

/* conn_pool.c: session pooling */
/* The answer to the pool's reset (DISCARD ALL, then the settings query of
 * conn_pool_check.c), read as it arrives. */
struct conn_reset {
	int phase;          /* 0: DISCARD ALL's answer, 1: the settings query's */
	bool saw_complete;  /* DISCARD ALL's CommandComplete was seen */
	const char *expect; /* a fingerprint validated before: only it is read again */
	int rows;           /* DataRows of the settings query so far */
	char *fingerprint;  /* its first row (malloc'd; conn_reset_clear frees) */
	char *applied;      /* its second row, compared with the third */
	uint32_t applied_len;
	struct conn_params *params; /* ParameterStatus values it reports are recorded here */
	const char *why;            /* set when the answer is refused */
};
/* conn_pool_check.c: the settings query sent after DISCARD ALL, and the fingerprint alone,
 * read again when a connection is handed out. */
extern const char conn_pool_settings_sql[];
extern const char conn_pool_fingerprint_sql[];
/* After the first reset of a backend, its later resets read the fingerprint alone. */
extern const char conn_pool_recheck_sql[];
/* Reads the whole messages of p[0, n): 1 when the reset completed (DISCARD ALL done, the
 * settings the backend started with are the catalog's, or the fingerprint is r->expect;
 * ReadyForQuery 'I' and nothing after it), 0 when more is needed, -1 (with why) for an
 * error, changed settings or anything unexpected. *used: the bytes of whole messages read. */
int conn_pool_reset_answer(struct conn_reset *r, const uint8_t *p, uint32_t n,
                           uint32_t *used) PGS_MUSTCHECK;
void conn_reset_clear(struct conn_reset *r);
/* Reads the hand-out check's answer in p[0, n): 1 when it completed and the fingerprint is
 * the one taken at the reset, -2 when it differs, 0 when more is needed, -1 for an error or
 * anything unexpected. ParameterStatus values it carries are recorded in params. */
int conn_pool_check_answer(const uint8_t *p, uint32_t n, struct conn_params *params,
                           const char *fingerprint) PGS_MUSTCHECK;
/* Whether the session may hand its upstream to the pool when the client sends Terminate. */
bool conn_pool_can_release(const struct conn *c);
/* Moves the upstream connection to the worker's pool (reset with DISCARD ALL first). */
void conn_pool_release(struct conn *c);
/* Gives the connection a pooled upstream for the same StartupMessage, if there is one;
 * true when it did (the session then continues, or has failed). The connection is
 * checked first (CS_POOL_CHECK): its role and database settings must be current. */
bool conn_pool_take(struct conn *c);
/* conn_pool_handout.c: CS_POOL_CHECK: sends the check, reads its answer, then hands the
 * connection out or closes it and opens a new one (conn_upstream_connect). */
void conn_pool_check_step(struct conn *c);

/* conn_cancel_registry.c */
struct conn_cancel_entry;
void conn_cancel_register(struct conn *c);
/* Removes the session's key: no cancel can find it afterwards. True when a cancel found
 * it before and is still on its way to the backend. */
bool conn_cancel_unregister(struct conn *c);
/* Finds the session a client's (pid, key) names and holds its entry for one cancel (the
 * backend's own key in *real); NULL if none. Each claim is released once. */
struct conn_cancel_entry *conn_cancel_claim(struct conn_cancel_registry *r, uint32_t pid,
                                            uint32_t key, uint32_t *real);
void conn_cancel_release(struct conn_cancel_registry *r, struct conn_cancel_entry *e);
/* Counts a forwarding thread: false when as many as may run at once are running. */
bool conn_cancel_thread_begin(struct conn_cancel_registry *r);
void conn_cancel_thread_end(struct conn_cancel_registry *r);

/* conn_cancel.c */
/* Forwards the CancelRequest of connection c (CS_CANCEL_WAIT until delivered), or closes c. */
void conn_cancel_forward(struct conn *c, uint32_t pid, uint32_t key);
/* On the worker's thread: closes the cancel connections whose cancel was delivered (or gave up). */
void conn_cancel_done(struct conn_cancel_job *list);

#endif
