/* conn_cancel.c - the registry of live backend keys and forwarding of CancelRequests to the upstream. */
#include "conn/conn_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

#include "common/log.h"

#define REG_BUCKETS 4096
#define CANCEL_MAX_INFLIGHT 32
#define CANCEL_TIMEOUT_MS 5000

struct reg_entry {
	struct reg_entry *next;
	uint32_t pid;
	uint32_t client_key;        /* the key the client was given */
	uint32_t key;               /* the backend's own key, sent upstream */
};

struct conn_cancel_registry {
	pthread_mutex_t mu;
	struct reg_entry *buckets[REG_BUCKETS];
	atomic_int inflight;
};

struct conn_cancel_registry *conn_cancel_registry_new(void)
{
	struct conn_cancel_registry *r = pgs_xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void conn_cancel_registry_free(struct conn_cancel_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < REG_BUCKETS; i++) {
		while (r->buckets[i]) {
			struct reg_entry *e = r->buckets[i];
			r->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t bucket(uint32_t pid)
{
	return (pid * 2654435761u) % REG_BUCKETS;
}

void conn_cancel_register(struct conn *c)
{
	struct conn_cancel_registry *r = c->env->cancel;
	struct reg_entry *e = pgs_xmalloc(sizeof(*e));
	e->pid = c->backend_pid;
	e->client_key = c->client_key;
	e->key = c->backend_key;
	pthread_mutex_lock(&r->mu);
	size_t b = bucket(e->pid);
	e->next = r->buckets[b];
	r->buckets[b] = e;
	pthread_mutex_unlock(&r->mu);
}

void conn_cancel_unregister(struct conn *c)
{
	if (!c->has_backend_key)
		return;
	c->has_backend_key = false;
	struct conn_cancel_registry *r = c->env->cancel;
	pthread_mutex_lock(&r->mu);
	for (struct reg_entry **pp = &r->buckets[bucket(c->backend_pid)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->pid == c->backend_pid && (*pp)->client_key == c->client_key) {
			struct reg_entry *e = *pp;
			*pp = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

/* Finds the session a client's (pid, key) names; gives the backend's own key. */
static bool registry_find(struct conn_cancel_registry *r, uint32_t pid, uint32_t key, uint32_t *real)
{
	bool found = false;
	pthread_mutex_lock(&r->mu);
	for (struct reg_entry *e = r->buckets[bucket(pid)]; e; e = e->next) {
		/* the key is a secret of the session: compare without an early exit */
		if (e->pid == pid && CRYPTO_memcmp(&e->client_key, &key, sizeof(key)) == 0) {
			found = true;
			*real = e->key;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return found;
}

struct cancel_job {
	struct conn_env *env;
	uint32_t pid, key;
	uint64_t from_id;
};

static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r = poll(&p, 1, ms);
	return r == 1 ? PGS_OK : PGS_ERR;
}

/* Runs on its own short-lived thread: a blocking connect, optional TLS, 16 bytes, close. */
static void *cancel_thread(void *arg)
{
	struct cancel_job *job = arg;
	struct conn_env *env = job->env;
	SSL *ssl = NULL;
	uint8_t pkt[16];
	int fd = net_connect_start(&env->upstream_addr);
	bool ok = false;

	proto_put_u32_at(pkt, 16);
	proto_put_u32_at(pkt + 4, PROTO_CANCEL_CODE);
	proto_put_u32_at(pkt + 8, job->pid);
	proto_put_u32_at(pkt + 12, job->key);
	if (fd < 0 || wait_fd(fd, POLLOUT, CANCEL_TIMEOUT_MS) != PGS_OK || net_connect_result(fd) != 0)
		goto out;
	/* from here the socket is used blocking, bounded by SO_RCVTIMEO/SO_SNDTIMEO */
	{
		struct timeval tv = {.tv_sec = CANCEL_TIMEOUT_MS / 1000};
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			goto out;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (env->upstream_tls) {
		uint8_t req[8], answer = 0;
		proto_put_u32_at(req, 8);
		proto_put_u32_at(req + 4, PROTO_SSL_CODE);
		if (send(fd, req, 8, MSG_NOSIGNAL) != 8 || wait_fd(fd, POLLIN, CANCEL_TIMEOUT_MS) != PGS_OK ||
		    recv(fd, &answer, 1, 0) != 1 || answer != 'S')
			goto out;
		ssl = SSL_new(env->upstream_tls);
		if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
		    net_tls_client_prepare(ssl, &env->cfg->upstream) != PGS_OK)
			goto out;
		for (;;) {
			int r = SSL_connect(ssl);
			if (r == 1)
				break;
			int e = SSL_get_error(ssl, r);
			if (e == SSL_ERROR_WANT_READ && wait_fd(fd, POLLIN, CANCEL_TIMEOUT_MS) == PGS_OK)
				continue;
			if (e == SSL_ERROR_WANT_WRITE && wait_fd(fd, POLLOUT, CANCEL_TIMEOUT_MS) == PGS_OK)
				continue;
			goto out;
		}
		size_t put = 0;
		while (put < sizeof(pkt)) {
			size_t n = 0;
			int r = SSL_write_ex(ssl, pkt + put, sizeof(pkt) - put, &n);
			if (r == 1) {
				put += n;
				continue;
			}
			int e = SSL_get_error(ssl, r);
			if (e == SSL_ERROR_WANT_WRITE && wait_fd(fd, POLLOUT, CANCEL_TIMEOUT_MS) == PGS_OK)
				continue;
			goto out;
		}
	} else {
		if (wait_fd(fd, POLLOUT, CANCEL_TIMEOUT_MS) != PGS_OK ||
		    send(fd, pkt, sizeof(pkt), MSG_NOSIGNAL) != (ssize_t)sizeof(pkt))
			goto out;
	}
	/* the server closes the connection once it has processed the request */
	{
		uint8_t sink[64];
		for (int i = 0; i < 4 && wait_fd(fd, POLLIN, CANCEL_TIMEOUT_MS) == PGS_OK; i++) {
			ssize_t n = ssl ? SSL_read(ssl, sink, sizeof(sink)) : recv(fd, sink, sizeof(sink), 0);
			if (n <= 0)
				break;
		}
	}
	ok = true;
out:
	if (ssl)
		SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	log_conn(ok ? LOG_INFO : LOG_WARN, job->from_id, "cancel request for backend %u %s", job->pid,
		 ok ? "forwarded" : "could not be forwarded");
	atomic_fetch_sub(&env->cancel->inflight, 1);
	free(job);
	return NULL;
}

void conn_cancel_forward(struct conn_env *env, uint32_t pid, uint32_t key, uint64_t from_id)
{
	uint32_t real = 0;
	if (!registry_find(env->cancel, pid, key, &real)) {
		log_conn(LOG_INFO, from_id, "cancel request for an unknown backend ignored");
		return;
	}
	if (atomic_fetch_add(&env->cancel->inflight, 1) >= CANCEL_MAX_INFLIGHT) {
		atomic_fetch_sub(&env->cancel->inflight, 1);
		log_conn(LOG_WARN, from_id, "too many cancel requests in flight; dropped");
		return;
	}
	struct cancel_job *job = pgs_xmalloc(sizeof(*job));
	job->env = env;
	job->pid = pid;
	job->key = real;
	job->from_id = from_id;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, cancel_thread, job) != 0) {
		atomic_fetch_sub(&env->cancel->inflight, 1);
		free(job);
		log_conn(LOG_WARN, from_id, "cannot start a cancel thread");
	}
	pthread_attr_destroy(&attr);
}
