/* conn_pool.c - session pooling: upstream connections kept after their client leaves, reset, and
 * handed to the next client. */
#include "conn/conn_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "metrics/metrics.h"

/* How long a reset may take before the connection is given up. */
#define POOL_RESET_TIMEOUT_US (5u * 1000000u)
#define POOL_BUF_SIZE 4096u

/*
 * An upstream connection without a client. The worker whose client left resets it
 * (DISCARD ALL, the query PgBouncer uses in session mode) in its own loop; once reset it
 * joins the process-wide idle list, outside every loop, until a client of any worker with
 * the same StartupMessage takes it (after a check that the server has not closed it) or
 * it times out.
 */
struct conn_pooled {
	struct conn_pooled *next;
	struct conn_worker *w; /* the worker resetting it; NULL once idle */
	struct net_watch watch;
	struct net_side side; /* fd and TLS state; no owner */
	struct net_stream in, out;
	uint8_t *startup; /* the StartupMessage that opened it: the pool key */
	uint32_t startup_len;
	struct conn_params params;
	uint32_t pid, key;
	bool trust;              /* the upstream asked for no credentials */
	bool ready;              /* reset done: may be handed out */
	struct conn_reset reset; /* the reset's answer so far */
	char *fingerprint;       /* its role and database settings, as the reset found them */
	uint64_t since_us;       /* idle since, or reset started at */
	uint64_t id;             /* the connection id it served last, for logs */
};

/* ---- the pool ---------------------------------------------------------------------- */

/* The idle connections of all workers, newest first. */
struct conn_pool {
	pthread_mutex_t mu;
	struct conn_pooled *idle;
	int nidle;
};

struct conn_pool *conn_pool_new(void)
{
	struct conn_pool *p = pgs_xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

static void pooled_destroy(struct conn_pooled *e, const char *why)
{
	log_conn(LOG_DEBUG, e->id, "pooled upstream connection closed: %s", why);
	if (e->side.ssl) {
		if (!e->side.eof)
			(void)SSL_shutdown(e->side.ssl);
		SSL_free(e->side.ssl);
	}
	if (e->side.fd >= 0) {
		if (e->w)
			net_loop_del(e->w->loop, e->side.fd);
		close(e->side.fd);
	}
	net_stream_free(&e->in);
	net_stream_free(&e->out);
	free(e->startup);
	conn_params_free(&e->params);
	conn_reset_clear(&e->reset);
	free(e->fingerprint);
	free(e);
	metrics_pool_idle(-1);
}

void conn_pool_free(struct conn_pool *p)
{
	if (!p)
		return;
	while (p->idle) {
		struct conn_pooled *e = p->idle;
		p->idle = e->next;
		pooled_destroy(e, "pgseal stopped");
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* A connection being reset leaves its worker's list, closed. */
static void resetting_free(struct conn_pooled *e, const char *why)
{
	struct conn_worker *w = e->w;
	for (struct conn_pooled **pp = &w->pool; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			w->npool--;
			break;
		}
	}
	pooled_destroy(e, why);
}

/* The reset is done: the connection leaves the worker's loop for the idle list. When the
 * list is full, its least recently pooled connection makes room. */
static void become_idle(struct conn_pooled *e)
{
	struct conn_worker *w = e->w;
	struct conn_pool *p = w->env->pool;
	for (struct conn_pooled **pp = &w->pool; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			w->npool--;
			break;
		}
	}
	net_loop_del(w->loop, e->side.fd);
	e->w = NULL;
	e->ready = true;
	e->since_us = pgs_now_us();
	net_stream_free(&e->in);
	net_stream_free(&e->out);
	struct conn_pooled *victim = NULL;
	pthread_mutex_lock(&p->mu);
	e->next = p->idle;
	p->idle = e;
	if (++p->nidle > w->env->cfg->upstream.pool_max_idle) {
		struct conn_pooled **pp = &p->idle;
		while ((*pp)->next)
			pp = &(*pp)->next;
		victim = *pp;
		*pp = NULL;
		p->nidle--;
	}
	pthread_mutex_unlock(&p->mu);
	log_conn(LOG_DEBUG, e->id, "upstream connection reset and pooled");
	if (victim)
		pooled_destroy(victim, "pool full: least recently used");
}

/* Reads the reset's answer; returns false when the connection was closed or went idle. */
static bool pooled_read(struct conn_pooled *e)
{
	for (;;) {
		if (e->side.writable && e->out.scan > e->out.start &&
		    net_side_write(&e->side, &e->out) == -2) {
			resetting_free(e, "write failed");
			return false;
		}
		if (!e->side.readable)
			return true;
		ssize_t n = net_side_read(&e->side, &e->in);
		if (n == -1)
			return true;
		if (n <= 0) {
			resetting_free(e, n == 0 ? "closed by the server" : "read failed");
			return false;
		}
		uint32_t used = 0;
		int st = conn_pool_reset_answer(&e->reset, e->in.data + e->in.scan,
		                                e->in.end - e->in.scan, &used);
		e->in.scan += used;
		e->in.start = e->in.scan;
		if (st == 1) {
			if (!e->fingerprint) {
				e->fingerprint = e->reset.fingerprint;
				e->reset.fingerprint = NULL;
			}
			e->reset.expect = NULL;
			conn_reset_clear(&e->reset);
			become_idle(e);
			return false;
		}
		if (st < 0) {
			resetting_free(e, e->reset.why);
			return false;
		}
		/* room for the whole of a message begun (its length was checked above) */
		struct net_stream *b = &e->in;
		uint32_t need =
		    b->end - b->scan >= PROTO_HDR_LEN ? pgs_get_u32(b->data + b->scan + 1) + 1 : 0;
		if (net_stream_reserve(b, need) != PGS_OK) {
			resetting_free(e, "out of memory");
			return false;
		}
	}
}

static void pooled_event(void *arg, uint32_t events)
{
	struct conn_pooled *e = arg;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		e->side.hup = true; /* net_side_read: keep reading to the end of stream */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		e->side.readable = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		e->side.writable = true;
	if (e->side.read_wants_write || e->side.write_wants_read) {
		e->side.readable = e->side.writable = true;
		e->side.read_wants_write = e->side.write_wants_read = false;
	}
	(void)pooled_read(e);
}

/* Whether the StartupMessage names a parameter (at any value). */
static bool startup_has(const struct conn *c, const char *name)
{
	const uint8_t *p = c->startup.data, *end = p + c->startup.len;
	if (c->startup.len < 8)
		return false;
	for (p += 8; p < end && *p;) {
		const uint8_t *k = p, *v = memchr(k, 0, (size_t)(end - k));
		if (!v || ++v >= end)
			return false;
		const uint8_t *next = memchr(v, 0, (size_t)(end - v));
		if (!next)
			return false;
		if (!strcmp((const char *)k, name))
			return true;
		p = next + 1;
	}
	return false;
}

bool conn_pool_can_release(const struct conn *c)
{
	const struct config *cfg = c->env->cfg;
	if (cfg->upstream.pool_max_idle <= 0 || !c->env->pool || c->worker->draining ||
	    c->worker->npool >= cfg->upstream.pool_max_idle)
		return false; /* off, shutting down, or as many resets running as could be kept */
	/* a walsender keeps replication state no reset query clears */
	if (startup_has(c, "replication"))
		return false;
	if (c->state != CS_RELAY || !c->ready_seen || !c->idle || c->txn_status != 'I' ||
	    !c->has_backend_key || c->server.fd < 0 || c->server.eof)
		return false;
	/* nothing of the server's half read, nothing of the client's before Terminate unsent */
	if (c->s2c.remain || c->s2c.scan != c->s2c.end || c->c2s.start != c->c2s.scan)
		return false;
	if (c->fle && !fle_idle(c->fle))
		return false;
	if (!net_side_uring_quiet(&c->server))
		return false;
	/* a session whose credentials pgseal did not check may only be reused if the server
	 * did not ask for any (trust) */
	return c->pgseal_authenticated || !c->upstream_challenged;
}

void conn_pool_release(struct conn *c)
{
	struct conn_worker *w = c->worker;
	/* first the key goes: no cancel can find this session afterwards. One already on its
	 * way could reach the backend once another client has it: such a backend is closed
	 * (by the caller) instead of pooled. */
	if (conn_cancel_unregister(c)) {
		log_conn(LOG_INFO, c->id,
		         "a cancel request is still on its way: upstream connection not pooled");
		return;
	}
	/* back to epoll, where the reset runs; a socket that received meanwhile is closed */
	if (net_side_uring_leave(&c->server) != PGS_OK)
		return;
	struct conn_pooled *e = pgs_xcalloc(1, sizeof(*e));
	e->w = w;
	e->id = c->id;
	e->side = c->server;
	e->side.ready = NULL;
	e->side.owner = NULL;
	e->side.ubuf = NULL; /* stays with the connection, freed with it */
	e->side.ops = 0;
	e->watch.fn = pooled_event;
	e->watch.arg = e;
	e->pid = c->backend_pid;
	e->key = c->backend_key;
	e->trust = !c->upstream_challenged;
	e->params = c->params;
	memset(&c->params, 0, sizeof(c->params));
	e->reset.params = &e->params;
	/* a backend validated before (it came from the pool) rechecks its fingerprint only */
	e->fingerprint = c->pool_fingerprint;
	c->pool_fingerprint = NULL;
	e->reset.expect = e->fingerprint;
	e->startup = pgs_xmalloc(c->startup.len);
	memcpy(e->startup, c->startup.data, c->startup.len);
	e->startup_len = (uint32_t)c->startup.len;
	e->since_us = pgs_now_us();
	/* the connection is the pool's now */
	c->server.fd = -1;
	c->server.ssl = NULL;
	c->server.registered = false;
	e->next = w->pool;
	w->pool = e;
	w->npool++;
	metrics_pool_idle(1);

	if (net_stream_init(&e->in) != PGS_OK || net_stream_init(&e->out) != PGS_OK ||
	    net_loop_mod(w->loop, e->side.fd, &e->watch) != PGS_OK) {
		resetting_free(e, "cannot pool");
		return;
	}
	/* two Queries at once: DISCARD ALL may not share an implicit transaction */
	static const char reset[] = "DISCARD ALL";
	struct pgs_buf q = {0};
	size_t off = proto_msg_begin(&q, 'Q');
	pgs_buf_append(&q, reset, sizeof(reset));
	proto_msg_end(&q, off);
	off = proto_msg_begin(&q, 'Q');
	const char *check = e->fingerprint ? conn_pool_recheck_sql : conn_pool_settings_sql;
	pgs_buf_append(&q, check, strlen(check) + 1);
	proto_msg_end(&q, off);
	net_stream_inject(&e->out, q.data, (uint32_t)q.len);
	pgs_buf_free(&q);
	e->side.writable = true;
	(void)pooled_read(e);
}

/* Whether an idle connection is still usable: nothing arrived since its reset (a server
 * that closed it, or sent a FATAL, left bytes or an EOF to read). */
static bool pooled_alive(struct conn_pooled *e)
{
	uint8_t b;
	ssize_t n = recv(e->side.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return !e->side.ssl || SSL_pending(e->side.ssl) == 0;
	return false;
}

bool conn_pool_take(struct conn *c)
{
	struct conn_worker *w = c->worker;
	struct conn_pool *p = c->env->pool;
	struct conn_pooled *e;
	if (c->env->cfg->upstream.pool_max_idle <= 0 || !p)
		return false;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		struct conn_pooled **pp = &p->idle;
		for (; *pp; pp = &(*pp)->next) {
			struct conn_pooled *x = *pp;
			if (x->startup_len == c->startup.len &&
			    memcmp(x->startup, c->startup.data, x->startup_len) == 0 &&
			    (c->pgseal_authenticated || x->trust))
				break;
		}
		e = *pp;
		if (e) {
			*pp = e->next;
			p->nidle--;
		}
		pthread_mutex_unlock(&p->mu);
		if (!e)
			return false;
		if (pooled_alive(e))
			break;
		pooled_destroy(e, "closed by the server while idle");
	}
	/* move the socket to the connection */
	metrics_pool_idle(-1);
	int fd = e->side.fd;
	SSL *ssl = e->side.ssl;
	e->side.fd = -1;
	e->side.ssl = NULL;
	c->params = e->params;
	memset(&e->params, 0, sizeof(e->params));
	c->backend_pid = e->pid;
	c->backend_key = e->key;
	c->upstream_challenged = !e->trust;
	free(c->pool_fingerprint);
	c->pool_fingerprint = e->fingerprint;
	e->fingerprint = NULL;
	free(e->startup);
	free(e);
	if (net_side_attach(&c->server, fd) != PGS_OK) {
		SSL_free(ssl);
		close(fd);
		conn_fail(c, "08001", "pgseal: could not register the upstream socket");
		return true;
	}
	c->server.ssl = ssl;
	c->server.readable = c->server.writable = true;
	c->reused = true;
	/* before the client hears of it: does the backend still have its role's settings? */
	if (net_stream_init(&c->pool_check) != PGS_OK) {
		conn_fail(c, "53200", "pgseal: out of memory");
		return true;
	}
	struct pgs_buf q = {0};
	size_t off = proto_msg_begin(&q, 'Q');
	pgs_buf_append(&q, conn_pool_fingerprint_sql, strlen(conn_pool_fingerprint_sql) + 1);
	proto_msg_end(&q, off);
	net_stream_inject(&c->pool_check, q.data, (uint32_t)q.len);
	pgs_buf_free(&q);
	c->state = CS_POOL_CHECK;
	/* driven after the current event, once the caller (the SCRAM exchange) is done with
	 * the message it is handling */
	c->again = true;
	w->any_again = true;
	return true;
}

void conn_pool_tick(struct conn_worker *w, uint64_t now)
{
	/* resets of this worker that hang */
	for (struct conn_pooled *e = w->pool, *next; e; e = next) {
		next = e->next;
		if (now - e->since_us >= POOL_RESET_TIMEOUT_US)
			resetting_free(e, "reset timed out");
	}
	/* idle connections past their time, whichever worker notices first */
	struct conn_pool *p = w->env->pool;
	if (!p)
		return;
	uint64_t idle = (uint64_t)w->env->cfg->upstream.pool_idle_timeout_ms * 1000u;
	struct conn_pooled *expired = NULL;
	pthread_mutex_lock(&p->mu);
	for (struct conn_pooled **pp = &p->idle; *pp;) {
		struct conn_pooled *e = *pp;
		if (now >= e->since_us && now - e->since_us >= idle) {
			*pp = e->next;
			p->nidle--;
			e->next = expired;
			expired = e;
		} else {
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&p->mu);
	while (expired) {
		struct conn_pooled *e = expired;
		expired = e->next;
		pooled_destroy(e, "idle timeout");
	}
}

void conn_pool_close_all(struct conn_worker *w)
{
	while (w->pool)
		resetting_free(w->pool, "pgseal is shutting down");
	struct conn_pool *p = w->env->pool;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	struct conn_pooled *list = p->idle;
	p->idle = NULL;
	p->nidle = 0;
	pthread_mutex_unlock(&p->mu);
	while (list) {
		struct conn_pooled *e = list;
		list = e->next;
		pooled_destroy(e, "pgseal is shutting down");
	}
}
