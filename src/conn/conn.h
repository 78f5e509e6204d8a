/* conn.h - one client/server connection pair: the per-process environment, the per-worker state,
 * and accept. */
#ifndef PGSEAL_CONN_H
#define PGSEAL_CONN_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/common.h"
#include "config/config.h"
#include "net/net.h"

struct conn;
struct conn_cancel_registry;
struct fle_plan_cache;
struct keys;
struct keys_worker;
struct schema;
struct schema_current;

/* Looks up a user's SCRAM verifier for the `auth:` block (implemented by the proxy). The
 * callback runs later on the worker's thread through conn_worker_complete_lookups(). */
struct conn_verifier_source {
	/* Starts a lookup; returns PGS_ERR if it cannot be queued. */
	int (*submit)(void *arg, struct conn *c, const char *user);
	void *arg;
};

/* Process-wide state shared by all workers; read-only after start except the atomics. */
struct conn_pool;

struct conn_env {
	const struct config *cfg;
	struct keys *keys;              /* NULL without a `keys:` section */
	struct schema_current *schemas; /* the schema new sessions take (a reload swaps it) */
	SSL_CTX *client_tls;            /* NULL: no client_tls section */
	SSL_CTX *upstream_tls;          /* NULL: upstream.tls = disable */
	struct net_addr upstream_addr;
	atomic_int nclients;          /* open client connections (for max_client_connections) */
	atomic_uint_fast64_t next_id; /* connection ids for logs */
	struct conn_cancel_registry *cancel;
	struct conn_pool *pool; /* idle upstream connections of all workers (conn_pool.c) */
	struct conn_verifier_source verifier; /* submit == NULL without an `auth:` block */
	char auth_user[128];                  /* the auth_query role, refused as a client user */
};

/* A lookup result travelling back to its worker. */
struct conn_lookup_result {
	struct conn_lookup_result *next;
	struct conn *conn;
	char *verifier; /* malloc'd secret as stored (a SCRAM verifier, md5...) or NULL */
	bool found;     /* the role exists (a NULL verifier: it has no password) */
	bool failed;    /* the lookup itself failed (auth connection down) */
};

/* Per-worker state: one thread, one loop. */
struct conn_pooled;
struct conn_cancel_job;

struct conn_worker {
	int id;
	struct conn_env *env;
	struct net_loop *loop;
	struct conn *conns; /* every live connection of this worker (doubly linked) */
	struct conn *dead;  /* closed, freed after the current event batch */
	int nconns;
	bool draining;  /* shutdown: no new sessions; close idle ones */
	bool any_again; /* some connection has c->again set */
	/* lookups completed by the verifier source, and cancels delivered by their threads
	 * (conn_cancel.c), handed over through an eventfd */
	pthread_mutex_t lookup_mu;
	struct conn_lookup_result *lookups_done;
	struct conn_cancel_job *cancels_done;
	int lookup_efd;
	struct net_watch lookup_watch;
	struct keys_worker *kw;       /* this thread's key contexts (NULL without keys) */
	struct fle_plan_cache *plans; /* statement text -> plan (src/fle/) */
	struct conn_pooled *pool; /* upstream connections this worker is resetting (conn_pool.c) */
	int npool;
};

int conn_worker_init(struct conn_worker *w, int id, struct conn_env *env) PGS_MUSTCHECK;
void conn_worker_destroy(struct conn_worker *w);
/* Takes ownership of an accepted client socket. */
void conn_accept(struct conn_worker *w, int fd);
/* Enforces startup and closing timeouts; called at least every 250 ms. */
void conn_worker_tick(struct conn_worker *w, uint64_t now_us);
/* Drives connections whose pump stopped on its budget. */
void conn_worker_run_again(struct conn_worker *w);
/* Frees connections closed during the last batch of events. */
void conn_worker_reap(struct conn_worker *w);
/* True when the worker holds no connection, live or waiting for a lookup. */
bool conn_worker_empty(const struct conn_worker *w);
/* Graceful shutdown: close connections idle between transactions; with force, close all. */
void conn_worker_drain(struct conn_worker *w, bool force);
/* Session pooling: the process-wide list of idle upstream connections. */
struct conn_pool *conn_pool_new(void);
void conn_pool_free(struct conn_pool *p);
/* Closes pooled connections past upstream.pool_idle_timeout_ms, and hung resets. */
void conn_pool_tick(struct conn_worker *w, uint64_t now_us);
/* Closes every pooled upstream connection (shutdown). */
void conn_pool_close_all(struct conn_worker *w);
/* Called by the verifier source from any thread. */
void conn_lookup_post(struct conn_worker *w, struct conn_lookup_result *r);
/* The worker that owns a connection (for conn_lookup_post). */
struct conn_worker *conn_worker_of(struct conn *c);

/* Cancel registry: backend keys of live sessions, shared by all workers. */
struct conn_cancel_registry *conn_cancel_registry_new(void);
void conn_cancel_registry_free(struct conn_cancel_registry *r);

#endif
