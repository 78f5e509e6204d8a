/* conn.c - the top of the session: accept, the state dispatch (the one caller of conn_drive),
 * freeing, worker bookkeeping (reaping, timeouts, draining). */
#include "conn/conn_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "keys/keys.h"
#include "metrics/metrics.h"
#include "schema/schema.h"

static void send_raw_error(int fd, const char *sqlstate, const char *msg)
{
	struct pgs_buf b = {0};
	proto_build_error(&b, "FATAL", sqlstate, msg);
	ssize_t n = send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	pgs_buf_free(&b);
}

/* A side's readiness changed or its io_uring operation completed (net_side.h). */
static void side_ready(void *owner)
{
	conn_drive(owner);
}

void conn_accept(struct conn_worker *w, int fd)
{
	struct conn_env *env = w->env;
	if (w->draining) {
		send_raw_error(fd, "57P03", "pgseal is shutting down");
		close(fd);
		metrics_conn_rejected();
		return;
	}
	int n = atomic_fetch_add(&env->nclients, 1) + 1;
	if (n > env->cfg->max_client_connections) {
		atomic_fetch_sub(&env->nclients, 1);
		send_raw_error(fd, "53300",
		               "sorry, too many clients already (pgseal max_client_connections)");
		close(fd);
		metrics_conn_rejected();
		metrics_error(METRICS_ERR_LIMIT);
		return;
	}
	net_tune(fd);
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		atomic_fetch_sub(&env->nclients, 1);
		close(fd);
		return;
	}
	c->counted = true;
	c->worker = w;
	c->env = env;
	c->id = atomic_fetch_add(&env->next_id, 1) + 1;
	c->schema = schema_current_get(env->schemas);
	c->schema_seen = c->schema ? c->schema->generation : 0;
	c->state = CS_CLIENT_STARTUP;
	net_side_init(&c->client, w->loop, side_ready, c, c->id);
	net_side_init(&c->server, w->loop, side_ready, c, c->id);
	c->deadline_us = pgs_now_us() + (uint64_t)env->cfg->startup_timeout_ms * 1000u;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	metrics_conn_opened();
	if (net_stream_init(&c->c2s) != PGS_OK || net_stream_init(&c->s2c) != PGS_OK) {
		close(fd);
		conn_close(c, "out of memory");
		return;
	}
	if (net_side_attach(&c->client, fd) != PGS_OK) {
		close(fd);
		conn_close(c, "cannot register the client socket");
		return;
	}
	log_conn(LOG_DEBUG, c->id, "client connected");
	/* edge-triggered: the socket may already be readable */
	c->client.readable = true;
	c->client.writable = true;
	conn_drive(c);
}

static void conn_free(struct conn *c)
{
	free(c->client.ubuf);
	free(c->server.ubuf);
	net_stream_free(&c->c2s);
	net_stream_free(&c->s2c);
	net_stream_free(&c->pool_check);
	free(c->pool_fingerprint);
	OPENSSL_cleanse(c->startup.data, c->startup.cap);
	pgs_buf_free(&c->startup);
	conn_auth_free(c);
	conn_params_free(&c->params);
	fle_free(c->fle);
	schema_unref(c->schema);
	fle_action_free(&c->fle_act);
	free(c);
}

void conn_drive(struct conn *c)
{
again:
	c->drive = false;
	if (c->closed)
		return;
	switch (c->state) {
	case CS_CLIENT_STARTUP:
	case CS_CLIENT_TLS:
		conn_startup_step(c);
		break;
	case CS_AUTH_LOOKUP:
		conn_pump(c); /* only flushes pgseal's own messages */
		break;
	case CS_CLIENT_SCRAM:
		conn_auth_client_step(c);
		break;
	case CS_UPSTREAM_CONNECT:
	case CS_UPSTREAM_SSLREQ:
	case CS_UPSTREAM_TLS:
		conn_upstream_step(c);
		break;
	case CS_UPSTREAM_SCRAM:
		conn_auth_upstream_step(c);
		break;
	case CS_POOL_CHECK:
		conn_pool_check_step(c);
		break;
	case CS_RELAY:
		conn_pump(c);
		break;
	case CS_CLOSING:
		conn_closing_step(c);
		break;
	case CS_CANCEL_WAIT:
		break; /* closed when the cancel thread is done; nothing the client sends matters */
	}
	/* a step moved the session to a state that runs at once (conn_internal.h: drive) */
	if (c->drive)
		goto again;
}

/* ---- worker -------------------------------------------------------------- */

static void lookup_event(void *arg, uint32_t events)
{
	struct conn_worker *w = arg;
	uint64_t v;
	(void)events;
	ssize_t r = read(w->lookup_efd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&w->lookup_mu);
	struct conn_lookup_result *list = w->lookups_done;
	struct conn_cancel_job *cancels = w->cancels_done;
	w->lookups_done = NULL;
	w->cancels_done = NULL;
	pthread_mutex_unlock(&w->lookup_mu);
	conn_cancel_done(cancels);
	while (list) {
		struct conn_lookup_result *next = list->next;
		struct conn *c = list->conn;
		c->lookup_pending = false;
		if (c->closed) {
			/* closed while the lookup ran: it is in the dead list, freed at reap */
			if (list->verifier) {
				OPENSSL_cleanse(list->verifier, strlen(list->verifier));
				free(list->verifier);
			}
			free(list);
		} else {
			conn_auth_lookup_done(c, list); /* takes ownership of list */
			if (c->drive)
				conn_drive(c);
		}
		list = next;
	}
}

int conn_worker_init(struct conn_worker *w, int id, struct conn_env *env)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->env = env;
	w->loop = net_loop_new();
	if (!w->loop)
		return PGS_ERR;
	pthread_mutex_init(&w->lookup_mu, NULL);
	w->lookup_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->lookup_efd < 0)
		return PGS_ERR;
	if (env->keys) {
		w->kw = keys_worker_new(env->keys);
		if (!w->kw)
			return PGS_ERR;
	}
	/* always: a reload may bring encrypted columns to a schema that had none */
	w->plans = fle_plan_cache_new();
	w->lookup_watch.fn = lookup_event;
	w->lookup_watch.arg = w;
	return net_loop_add_level(w->loop, w->lookup_efd, &w->lookup_watch, EPOLLIN);
}

void conn_lookup_post(struct conn_worker *w, struct conn_lookup_result *r)
{
	uint64_t one = 1;
	pthread_mutex_lock(&w->lookup_mu);
	r->next = w->lookups_done;
	w->lookups_done = r;
	pthread_mutex_unlock(&w->lookup_mu);
	ssize_t n = write(w->lookup_efd, &one, sizeof(one));
	(void)n;
}

struct conn_worker *conn_worker_of(struct conn *c)
{
	return c->worker;
}

void conn_worker_reap(struct conn_worker *w)
{
	struct conn **pp = &w->dead;
	while (*pp) {
		struct conn *c = *pp;
		if (c->lookup_pending || c->cancel_pending || c->client.ops || c->server.ops) {
			pp = &c->next; /* its lookup result, cancel thread or a completion points
			                  here */
			continue;
		}
		*pp = c->next;
		conn_free(c);
	}
}

void conn_worker_run_again(struct conn_worker *w)
{
	w->any_again = false;
	struct conn *c = w->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (c->again) {
			c->again = false;
			conn_drive(c);
		}
	}
}

bool conn_worker_empty(const struct conn_worker *w)
{
	return w->nconns == 0 && w->dead == NULL;
}

void conn_worker_tick(struct conn_worker *w, uint64_t now)
{
	conn_pool_tick(w, now);
	struct conn *c = w->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (c->deadline_us && now >= c->deadline_us) {
			if (c->state == CS_CLOSING) {
				conn_close(c, "closing timed out");
			} else if (c->state == CS_CANCEL_WAIT) {
				conn_close(c,
				           "cancel request timed out"); /* quietly, as any cancel */
			} else {
				metrics_error(METRICS_ERR_TIMEOUT);
				conn_fail(c, "08P01", "pgseal: startup timeout");
			}
		}
	}
}

void conn_worker_drain(struct conn_worker *w, bool force)
{
	w->draining = true;
	conn_pool_close_all(w);
	struct conn *c = w->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (c->state == CS_CANCEL_WAIT)
			continue; /* bounded by the cancel's own timeout */
		if (force)
			conn_fail(c, "57P01", "terminating connection: pgseal is shutting down");
		else if (c->state == CS_RELAY && c->idle && c->txn_status == 'I' &&
		         c->c2s.end == c->c2s.start && c->s2c.end == c->s2c.start)
			conn_fail(c, "57P01", "terminating connection: pgseal is shutting down");
		else if (c->state < CS_RELAY)
			conn_fail(c, "57P03", "pgseal is shutting down");
	}
}

static bool conn_worker_cancels_pending(const struct conn_worker *w)
{
	for (const struct conn *c = w->dead; c; c = c->next)
		if (c->cancel_pending)
			return true;
	return false;
}

void conn_worker_destroy(struct conn_worker *w)
{
	conn_pool_close_all(w);
	while (w->conns)
		conn_close(w->conns, "worker stopped");
	conn_worker_reap(w);
	/* a cancel thread posts back to this worker: wait for it (each is bounded) */
	for (int i = 0; i < 100 && conn_worker_cancels_pending(w); i++) {
		struct pollfd p = {.fd = w->lookup_efd, .events = POLLIN};
		(void)poll(&p, 1, 100);
		lookup_event(w, 0);
	}
	/* lookups still pending keep their conns; the verifier source is stopped first */
	while (w->dead) {
		struct conn *c = w->dead;
		w->dead = c->next;
		conn_free(c);
	}
	if (w->lookup_efd >= 0)
		close(w->lookup_efd);
	keys_worker_free(w->kw);
	w->kw = NULL;
	fle_plan_cache_free(w->plans);
	w->plans = NULL;
	net_loop_free(w->loop);
	pthread_mutex_destroy(&w->lookup_mu);
}
