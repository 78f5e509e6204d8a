/* proxy.c - the running proxy: TLS contexts, the shared listener, one event loop per worker thread,
 * shutdown. */
#include "proxy/proxy.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "conn/conn.h"
#include "metrics/metrics.h"
#include "proxy/proxy_internal.h"
#include "schema/schema.h"

struct worker_slot {
	struct proxy *p;
	struct conn_worker w;
	struct net_watch accept_watch;
	pthread_t thread;
	bool started;
	bool inited;
};

struct proxy {
	const struct config *cfg;
	struct conn_env env;
	int listen_fd;
	int nworkers;
	struct worker_slot *workers;
	atomic_int shutdown; /* 1: graceful, 2: forced */
	uint64_t shutdown_deadline_us;
	struct proxy_authq *authq;
	struct schema_current schemas; /* env.schemas points here */
	void (*reload)(void *arg);     /* SIGHUP (proxy_set_reload) */
	void *reload_arg;
	bool uring; /* workers run the io_uring engine (io_engine) */
	/* readiness cache */
	pthread_mutex_t ready_mu;
	uint64_t ready_checked_us;
	bool ready;
};

static void accept_event(void *arg, uint32_t events)
{
	struct worker_slot *s = arg;
	(void)events;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn("accept: %s (raise the file descriptor limit)",
				         strerror(errno));
			else if (errno == EINVAL) /* the listener was shut down */
				net_loop_del(s->w.loop, s->p->listen_fd);
			return; /* EAGAIN: another worker took it, or the queue is empty */
		}
		conn_accept(&s->w, fd);
	}
}

static void *worker_main(void *arg)
{
	struct worker_slot *s = arg;
	struct conn_worker *w = &s->w;
	struct proxy *p = s->p;
	uint64_t last_tick = 0;
	bool stopped_accepting = false;

	if (p->uring) {
		int r =
		    net_loop_start_uring(w->loop); /* on this thread: the ring's only submitter */
		if (r != 0)
			log_warn("worker %d: io_uring: %s; this worker uses epoll", w->id,
			         strerror(-r));
	}

	for (;;) {
		int n = net_loop_run_once(w->loop, w->any_again ? 0 : 250);
		if (n < 0) {
			log_error("worker %d: event loop: %s", w->id, strerror(errno));
			break;
		}
		if (w->any_again)
			conn_worker_run_again(w);
		conn_worker_reap(w);
		uint64_t now = pgs_now_us();
		if (now - last_tick >= 100000u) {
			last_tick = now;
			conn_worker_tick(w, now);
			int sd = atomic_load(&p->shutdown);
			if (sd) {
				if (!stopped_accepting) {
					net_loop_del(w->loop, p->listen_fd);
					stopped_accepting = true;
				}
				bool force = sd == 2 || now >= p->shutdown_deadline_us;
				conn_worker_drain(w, force);
				conn_worker_reap(w);
				if (conn_worker_empty(w))
					break;
			}
		}
	}
	conn_worker_destroy(w);
	s->inited = false;
	return NULL;
}

bool proxy_upstream_ready(void *arg)
{
	struct proxy *p = arg;
	uint64_t now = pgs_now_us();
	pthread_mutex_lock(&p->ready_mu);
	if (p->ready_checked_us && now - p->ready_checked_us < 1000000u) {
		bool r = p->ready;
		pthread_mutex_unlock(&p->ready_mu);
		return r;
	}
	bool ok = false;
	int fd = net_connect_start(&p->env.upstream_addr);
	if (fd >= 0) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		if (poll(&pf, 1, 1000) == 1 && net_connect_result(fd) == 0)
			ok = true;
		close(fd);
	}
	p->ready = ok;
	p->ready_checked_us = now;
	pthread_mutex_unlock(&p->ready_mu);
	metrics_upstream_up(ok);
	return ok;
}

int proxy_create(const struct config *cfg, struct keys *keys, struct schema *schema,
                 SSL_CTX *client_tls, struct proxy **out, char *err, size_t errlen)
{
	struct proxy *p = pgs_xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->listen_fd = -1;
	pthread_mutex_init(&p->ready_mu, NULL);
	p->env.cfg = cfg;
	p->env.keys = keys;
	schema_current_init(&p->schemas, schema_ref(schema));
	p->env.schemas = &p->schemas;
	atomic_init(&p->env.nclients, 0);
	atomic_init(&p->env.next_id, 0);
	p->env.cancel = conn_cancel_registry_new();
	p->env.pool = conn_pool_new();

	if (cfg->client_tls.enabled) {
		if (client_tls) { /* RA-TLS: generated in memory (src/tee/tee_ratls.c) */
			SSL_CTX_up_ref(client_tls);
			p->env.client_tls = client_tls;
		} else if (!cfg->client_tls.cert_file) {
			pgs_errf(err, errlen,
			         "client_tls without cert_file needs the RA-TLS "
			         "certificate (keys.provider dstack), which was not made");
			goto fail;
		} else {
			p->env.client_tls = net_tls_server_ctx(&cfg->client_tls, err, errlen);
		}
		if (!p->env.client_tls)
			goto fail;
	}
	if (cfg->upstream.tls != CFG_TLS_DISABLE) {
		p->env.upstream_tls = net_tls_client_ctx(&cfg->upstream, err, errlen);
		if (!p->env.upstream_tls)
			goto fail;
	}
	if (net_resolve(cfg->upstream.host, cfg->upstream.port, &p->env.upstream_addr, err,
	                errlen) != PGS_OK)
		goto fail;
	if (cfg->auth.enabled) {
		if (proxy_authq_create(cfg, &p->authq, err, errlen) != PGS_OK)
			goto fail;
		p->env.verifier.submit = proxy_authq_submit;
		p->env.verifier.arg = p->authq;
		if (cfg->auth.user)
			snprintf(p->env.auth_user, sizeof(p->env.auth_user), "%s", cfg->auth.user);
	}
	p->listen_fd = net_listen(cfg->listen, 1024, err, errlen);
	if (p->listen_fd < 0)
		goto fail;

	if (cfg->io_engine != CFG_IO_EPOLL) {
		int r = net_uring_probe();
		if (r == 0) {
			p->uring = true;
		} else if (cfg->io_engine == CFG_IO_URING) {
			pgs_errf(err, errlen, "io_engine: io_uring: the kernel refuses it (%s)",
			         strerror(-r));
			goto fail;
		} else {
			log_info("io_engine auto: io_uring is not available (%s), using epoll",
			         strerror(-r));
		}
	}

	p->nworkers = cfg->workers;
	if (p->nworkers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		p->nworkers = n > 0 ? (int)n : 1;
	}
	p->workers = pgs_xcalloc((size_t)p->nworkers, sizeof(*p->workers));
	for (int i = 0; i < p->nworkers; i++) {
		struct worker_slot *s = &p->workers[i];
		s->p = p;
		if (conn_worker_init(&s->w, i, &p->env) != PGS_OK) {
			pgs_errf(err, errlen, "cannot create worker %d: %s", i, strerror(errno));
			goto fail;
		}
		s->inited = true;
		s->accept_watch.fn = accept_event;
		s->accept_watch.arg = s;
		/* one listener, every worker waits on it; EPOLLEXCLUSIVE wakes only one */
		if (net_loop_add_level(s->w.loop, p->listen_fd, &s->accept_watch,
		                       EPOLLIN | EPOLLEXCLUSIVE) != PGS_OK) {
			pgs_errf(err, errlen, "cannot watch the listener: %s", strerror(errno));
			goto fail;
		}
	}
	*out = p;
	return PGS_OK;
fail:
	proxy_free(p);
	return PGS_ERR;
}

int proxy_run(struct proxy *p)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (p->authq)
		proxy_authq_start(p->authq);
	for (int i = 0; i < p->nworkers; i++) {
		struct worker_slot *s = &p->workers[i];
		if (pthread_create(&s->thread, NULL, worker_main, s) != 0) {
			log_error("cannot start worker thread %d", i);
			atomic_store(&p->shutdown, 2);
			break;
		}
		s->started = true;
	}
	log_info("pgseal %s listening on %s (%d worker%s, %s), upstream %s:%d (tls %s)%s",
	         PGSEAL_VERSION, p->cfg->listen, p->nworkers, p->nworkers == 1 ? "" : "s",
	         p->uring ? "io_uring" : "epoll", p->cfg->upstream.host, p->cfg->upstream.port,
	         config_tls_mode_name(p->cfg->upstream.tls),
	         p->env.client_tls
	             ? (p->cfg->client_tls.ca_file ? ", client TLS with mTLS" : ", client TLS")
	             : ", plaintext clients");

	while (!atomic_load(&p->shutdown)) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (p->reload)
				p->reload(p->reload_arg);
			else
				log_info("SIGHUP ignored: nothing to reload");
			continue;
		}
		if (sig == SIGQUIT) {
			log_info("SIGQUIT: closing every session now");
			p->shutdown_deadline_us = pgs_now_us();
			atomic_store(&p->shutdown, 2);
			break;
		}
		p->shutdown_deadline_us =
		    pgs_now_us() + (uint64_t)p->cfg->shutdown_timeout_ms * 1000u;
		log_info("%s: graceful shutdown, sessions have %d ms to finish",
		         sig == SIGTERM ? "SIGTERM" : "SIGINT", p->cfg->shutdown_timeout_ms);
		atomic_store(&p->shutdown, 1);
	}
	/* refuse new connections at once instead of leaving them in the backlog */
	(void)shutdown(p->listen_fd, SHUT_RDWR);
	for (int i = 0; i < p->nworkers; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	for (int i = 0; i < p->nworkers; i++)
		p->workers[i].started = false;
	log_info("pgseal stopped");
	return PGS_OK;
}

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	if (p->authq)
		proxy_authq_free(p->authq);
	if (p->workers) {
		for (int i = 0; i < p->nworkers; i++)
			if (p->workers[i].inited)
				conn_worker_destroy(&p->workers[i].w);
		free(p->workers);
	}
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->env.client_tls)
		SSL_CTX_free(p->env.client_tls);
	if (p->env.upstream_tls)
		SSL_CTX_free(p->env.upstream_tls);
	conn_cancel_registry_free(p->env.cancel);
	conn_pool_free(p->env.pool);
	schema_current_destroy(&p->schemas);
	pthread_mutex_destroy(&p->ready_mu);
	free(p);
}

void proxy_set_reload(struct proxy *p, void (*fn)(void *arg), void *arg)
{
	p->reload = fn;
	p->reload_arg = arg;
}

void proxy_set_schema(struct proxy *p, struct schema *s)
{
	schema_current_set(&p->schemas, schema_ref(s));
}
