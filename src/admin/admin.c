/* admin.c - the admin HTTP server (libmicrohttpd): routing, bearer token, readiness cache. */
#include "admin/admin.h"

#include "common/log.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_TOKEN_MAX 4096          /* longest accepted token line */
#define ADMIN_TOKEN_MIN_ADVISED 16    /* shorter tokens start with a warning */
#define ADMIN_CONN_LIMIT 64           /* simultaneous admin connections */
#define ADMIN_CONN_TIMEOUT_S 10       /* idle admin connections are closed after this */
#define ADMIN_THREADS 2               /* a slow readiness probe must not block /healthz */
#define ADMIN_READY_CACHE_US 1000000u /* the ready hook runs at most once per second */

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"

struct admin {
	struct MHD_Daemon *daemon;
	int listen_fd;
	int port;
	struct admin_hooks hooks;
	unsigned char token_digest[32]; /* SHA-256 of the token; the token itself is not kept */

	pthread_mutex_t ready_lock; /* held while the ready hook runs */
	atomic_bool ready_known;    /* the hook has answered at least once */
	atomic_bool ready_value;
	_Atomic uint64_t ready_at_us; /* monotonic time of the last answer */

	pthread_mutex_t attest_lock; /* one attestation_json call at a time */
};

/* --- the token ------------------------------------------------------------------- */

static int sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int olen = 0;
	if (EVP_Digest(p, n, out, &olen, EVP_sha256(), NULL) != 1 || olen != 32)
		return PGS_ERR;
	return PGS_OK;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Reads the first line of PATH, trimmed, and keeps only its SHA-256. */
static int admin_load_token(const char *path, unsigned char digest[32], char *err, size_t errlen)
{
	char buf[ADMIN_TOKEN_MAX + 2];
	size_t n = 0;
	struct stat st;
	int rc = PGS_ERR;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pgs_errf(err, errlen, "admin: cannot open token_file %s: %s", path,
		         strerror(errno));
		return PGS_ERR;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pgs_errf(err, errlen, "admin: token_file %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_warn("admin: token_file %s is accessible by group or others (mode %03o); "
		         "it should be 0600",
		         path, (unsigned)(st.st_mode & 0777));
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pgs_errf(err, errlen, "admin: cannot read token_file %s: %s", path,
			         strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;

	char *nl = memchr(buf, '\n', n);
	size_t end = nl ? (size_t)(nl - buf) : n;
	if (!nl && n > ADMIN_TOKEN_MAX) {
		pgs_errf(err, errlen, "admin: token_file %s: first line longer than %d bytes", path,
		         ADMIN_TOKEN_MAX);
		goto out;
	}
	size_t start = 0;
	while (start < end && is_space(buf[start]))
		start++;
	while (end > start && is_space(buf[end - 1]))
		end--;
	if (end == start) {
		pgs_errf(err, errlen, "admin: token_file %s is empty", path);
		goto out;
	}
	if (end - start < ADMIN_TOKEN_MIN_ADVISED)
		log_warn("admin: the token in %s is shorter than %d characters", path,
		         ADMIN_TOKEN_MIN_ADVISED);
	if (sha256(buf + start, end - start, digest) != PGS_OK) {
		pgs_errf(err, errlen, "admin: SHA-256 unavailable");
		goto out;
	}
	rc = PGS_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/*
 * True when the request carries "Authorization: Bearer <token>" with the right token.
 * Both sides are hashed first so that the comparison is constant time and does not
 * depend on (or reveal) the token length.
 */
static bool admin_authorized(const struct admin *a, struct MHD_Connection *c)
{
	unsigned char d[32];
	const char *h =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h)
		return false;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return false;
	h += 7;
	while (*h == ' ' || *h == '\t')
		h++;
	size_t len = strlen(h);
	while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	if (len == 0 || sha256(h, len, d) != PGS_OK)
		return false;
	bool ok = CRYPTO_memcmp(d, a->token_digest, sizeof(d)) == 0;
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

/* --- readiness ------------------------------------------------------------------- */

static bool ready_fresh(const struct admin *a, uint64_t now)
{
	return atomic_load(&a->ready_known) &&
	       now - atomic_load(&a->ready_at_us) < ADMIN_READY_CACHE_US;
}

/*
 * The hook's last answer if it is under a second old; otherwise asks again. While one
 * thread runs the probe, the others answer with the previous result instead of queueing
 * behind it (they wait only for the very first probe).
 */
static bool admin_ready(struct admin *a)
{
	if (!a->hooks.ready)
		return false;
	if (ready_fresh(a, pgs_now_us()))
		return atomic_load(&a->ready_value);
	if (pthread_mutex_trylock(&a->ready_lock) != 0) {
		if (atomic_load(&a->ready_known))
			return atomic_load(&a->ready_value);
		pthread_mutex_lock(&a->ready_lock);
	}
	if (!ready_fresh(a, pgs_now_us())) {
		bool up = a->hooks.ready(a->hooks.arg);
		atomic_store(&a->ready_value, up);
		atomic_store(&a->ready_at_us, pgs_now_us());
		atomic_store(&a->ready_known, true);
		metrics_upstream_up(up);
	}
	pthread_mutex_unlock(&a->ready_lock);
	return atomic_load(&a->ready_value);
}

/* --- responses ------------------------------------------------------------------- */

/* Queues a response; MHD_RESPMEM_MUST_FREE bodies are freed on every path. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode,
                             const char *hname, const char *hvalue)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	    (hname && MHD_add_response_header(r, hname, hvalue) != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
                                  const char *hname, const char *hvalue)
{
	return reply(c, status, CT_TEXT, (char *)(uintptr_t)text, strlen(text),
	             MHD_RESPMEM_PERSISTENT, hname, hvalue);
}

static enum MHD_Result not_allowed(struct MHD_Connection *c)
{
	return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
	                  MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
}

static enum MHD_Result serve_attestation(struct admin *a, struct MHD_Connection *c, bool get)
{
	if (!a->hooks.attestation_json)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
	if (!get)
		return not_allowed(c);
	pthread_mutex_lock(&a->attest_lock);
	char *json = a->hooks.attestation_json(a->hooks.arg);
	pthread_mutex_unlock(&a->attest_lock);
	if (!json)
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "attestation unavailable\n",
		                  NULL, NULL);
	return reply(c, MHD_HTTP_OK, CT_JSON, json, strlen(json), MHD_RESPMEM_MUST_FREE, NULL,
	             NULL);
}

/*
 * The one request handler. It answers on its first call, so a request body (which no
 * endpoint takes) is never read. /attestation is public; everything else needs the
 * token before the path or method is even looked at, so that an unauthenticated
 * client learns nothing about the routes.
 */
static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
	struct admin *a = cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);

	if (!strcmp(url, "/attestation"))
		return serve_attestation(a, c, get);
	if (!admin_authorized(a, c)) {
		log_debug("admin: request refused: missing or wrong bearer token");
		return reply_text(c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n",
		                  MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"pgseal\"");
	}
	bool healthz = !strcmp(url, "/healthz"), readyz = !strcmp(url, "/readyz");
	bool metrics = !strcmp(url, "/metrics");
	if (!healthz && !readyz && !metrics)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
	if (!get)
		return not_allowed(c);
	if (healthz)
		return reply_text(c, MHD_HTTP_OK, "ok\n", NULL, NULL);
	if (readyz) {
		if (admin_ready(a))
			return reply_text(c, MHD_HTTP_OK, "ready\n", NULL, NULL);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "not ready: upstream unreachable\n", NULL, NULL);
	}
	if (a->hooks.ready)
		(void)admin_ready(a); /* refreshes pgseal_upstream_up (cached) */
	char *text = metrics_render();
	return reply(c, MHD_HTTP_OK, CT_METRICS, text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL,
	             NULL);
}

/* --- start / stop ---------------------------------------------------------------- */

/* Binds and listens on the first address ADDR resolves to; reports the bound port. */
static int admin_listen(const char *addr, int *fd_out, int *port_out, char *err, size_t errlen)
{
	char host[256], portstr[16];
	int port, fd = -1, saved = 0, rc;
	struct addrinfo hints = {0}, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss)); /* the analyzer cannot see getsockname fill it */

	if (config_parse_hostport(addr, host, sizeof(host), &port) != PGS_OK) {
		pgs_errf(err, errlen, "admin: listen address \"%s\" is not host:port", addr);
		return PGS_ERR;
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		pgs_errf(err, errlen, "admin: cannot resolve %s: %s", host, gai_strerror(rc));
		return PGS_ERR;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int one = 1;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		pgs_errf(err, errlen, "admin: cannot listen on %s: %s", addr, strerror(saved));
		return PGS_ERR;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		pgs_errf(err, errlen, "admin: getsockname: %s", strerror(errno));
		close(fd);
		return PGS_ERR;
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
	                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return PGS_OK;
}

int admin_start(const struct config *cfg, const struct admin_hooks *hooks, struct admin **out,
                char *err, size_t errlen)
{
	struct admin *a;

	*out = NULL;
	if (!cfg->admin.listen || !cfg->admin.token_file) {
		pgs_errf(err, errlen, "admin: 'admin.listen' and 'admin.token_file' are required");
		return PGS_ERR;
	}
	a = pgs_xcalloc(1, sizeof(*a));
	a->listen_fd = -1;
	if (hooks)
		a->hooks = *hooks;
	pthread_mutex_init(&a->ready_lock, NULL);
	pthread_mutex_init(&a->attest_lock, NULL);
	if (admin_load_token(cfg->admin.token_file, a->token_digest, err, errlen) != PGS_OK)
		goto fail;
	if (admin_listen(cfg->admin.listen, &a->listen_fd, &a->port, err, errlen) != PGS_OK)
		goto fail;

	/* No MHD_USE_ERROR_LOG: libmicrohttpd's messages could quote request bytes. */
	a->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC, 0, NULL, NULL,
	    admin_handler, a, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)a->listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)ADMIN_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)ADMIN_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)ADMIN_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(32 * 1024), MHD_OPTION_END);
	if (!a->daemon) {
		pgs_errf(err, errlen, "admin: cannot start the HTTP server on %s",
		         cfg->admin.listen);
		goto fail;
	}
	log_info("admin: listening on %s (port %d)", cfg->admin.listen, a->port);
	*out = a;
	return PGS_OK;
fail:
	admin_stop(a);
	return PGS_ERR;
}

int admin_port(const struct admin *a)
{
	return a ? a->port : -1;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	if (a->daemon) {
		/* Once quiesced, the listen socket is ours to close; otherwise MHD closes it. */
		if (MHD_quiesce_daemon(a->daemon) == MHD_INVALID_SOCKET)
			a->listen_fd = -1;
		MHD_stop_daemon(a->daemon);
		a->daemon = NULL;
	}
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	pthread_mutex_destroy(&a->ready_lock);
	pthread_mutex_destroy(&a->attest_lock);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}
