/* conn_cancel.c - forwarding of CancelRequests to the upstream (with TLS when it needs it) on a
 * short-lived thread; the keys they name are in conn_cancel_registry.c. */
#include "conn/conn_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

#include "common/log.h"

/* The whole forwarding (connect, TLS, the request, the server's close) is bounded by this. */
#define CANCEL_TIMEOUT_MS 5000

/* A cancel being forwarded; travels back to the worker of the client's cancel connection. */
struct conn_cancel_job {
	struct conn_cancel_job *next;
	struct conn_env *env;
	struct conn_worker *w;
	struct conn *conn; /* the client's cancel connection, closed when the job is done */
	struct conn_cancel_entry *entry;
	uint32_t pid, key;
	uint64_t from_id;
	uint64_t deadline_us;
};

/* Hands the job back to its worker: the last thing the thread does (the worker may free
 * everything once it has the job). */
static void cancel_post(struct conn_cancel_job *job)
{
	struct conn_worker *w = job->w;
	uint64_t one = 1;
	pthread_mutex_lock(&w->lookup_mu);
	job->next = w->cancels_done;
	w->cancels_done = job;
	/* written under the lock: the worker cannot see the job, finish and close the
	 * eventfd before this write */
	ssize_t n = write(w->lookup_efd, &one, sizeof(one));
	(void)n;
	pthread_mutex_unlock(&w->lookup_mu);
}

/* Runs on its own short-lived thread, off the worker's loop: a slow upstream stalls no one. */
static void *cancel_thread(void *arg)
{
	struct conn_cancel_job *job = arg;
	struct conn_env *env = job->env;
	SSL *ssl = NULL;
	uint8_t pkt[16];
	int fd = net_connect_start(&env->upstream_addr);
	bool ok = false;

	pgs_put_u32(pkt, 16);
	pgs_put_u32(pkt + 4, PROTO_CANCEL_CODE);
	pgs_put_u32(pkt + 8, job->pid);
	pgs_put_u32(pkt + 12, job->key);
	if (fd < 0 || net_wait_fd(fd, POLLOUT, job->deadline_us) != PGS_OK ||
	    net_connect_result(fd) != 0)
		goto out;
	if (env->upstream_tls) {
		/* OpenSSL on a non-blocking socket, each wait bounded by the deadline */
		if (net_sync_starttls(fd, env->upstream_tls, &env->cfg->upstream, job->deadline_us,
		                      &ssl) != PGS_OK)
			goto out;
	}
	ok = net_sync_send_until_close(fd, ssl, pkt, sizeof(pkt), job->deadline_us) == PGS_OK;
out:
	if (ssl)
		SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	OPENSSL_cleanse(pkt, sizeof(pkt));
	log_conn(ok ? LOG_INFO : LOG_WARN, job->from_id, "cancel request for backend %u %s",
	         job->pid, ok ? "delivered" : "could not be delivered");
	conn_cancel_release(env->cancel, job->entry);
	conn_cancel_thread_end(env->cancel);
	cancel_post(job);
	return NULL;
}

void conn_cancel_forward(struct conn *c, uint32_t pid, uint32_t key)
{
	struct conn_env *env = c->env;
	uint32_t real = 0;
	struct conn_cancel_entry *e = conn_cancel_claim(env->cancel, pid, key, &real);
	if (!e) {
		log_conn(LOG_INFO, c->id, "cancel request for an unknown backend ignored");
		conn_close(c, "cancel request handled");
		return;
	}
	if (!conn_cancel_thread_begin(env->cancel)) {
		conn_cancel_release(env->cancel, e);
		log_conn(LOG_WARN, c->id, "too many cancel requests in flight; dropped");
		conn_close(c, "cancel request dropped");
		return;
	}
	struct conn_cancel_job *job = pgs_xcalloc(1, sizeof(*job));
	job->env = env;
	job->w = c->worker;
	job->conn = c;
	job->entry = e;
	job->pid = pid;
	job->key = real;
	job->from_id = c->id;
	job->deadline_us = pgs_now_us() + CANCEL_TIMEOUT_MS * 1000u;
	/* the client's connection stays open until the upstream has the cancel: drivers take
	 * its close to mean "delivered" and run their next statement */
	c->state = CS_CANCEL_WAIT;
	c->cancel_pending = true;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, cancel_thread, job) != 0) {
		conn_cancel_thread_end(env->cancel);
		conn_cancel_release(env->cancel, e);
		free(job);
		c->cancel_pending = false;
		log_conn(LOG_WARN, c->id, "cannot start a cancel thread");
		conn_close(c, "cancel request dropped");
	}
	pthread_attr_destroy(&attr);
}

void conn_cancel_done(struct conn_cancel_job *list)
{
	while (list) {
		struct conn_cancel_job *next = list->next;
		struct conn *c = list->conn;
		c->cancel_pending = false;
		conn_close(c, "cancel request handled"); /* no-op if it timed out meanwhile */
		free(list);
		list = next;
	}
}
