/* sim_http.c - HTTP/1.1 on a unix socket (libmicrohttpd on a listening socket we bind ourselves).
 */
#include "sim/sim.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/log.h"

#define SIM_MAX_BODY (256 * 1024)

struct sim_req {
	char *body;
	size_t len;
	bool too_big;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	(void)kind;
	if (key && value) /* "?json" flags carry no value */
		json_object_set_new((json_t *)cls, key, json_string(value));
	return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, char *body)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static char *error_body(const char *msg)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(msg));
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s)
		abort(); /* out of memory */
	return s;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
	struct sim_state *st = cls;
	struct sim_req *r = *con_cls;
	(void)version;
	if (!r) {
		*con_cls = pgs_xcalloc(1, sizeof(*r));
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && r->len + *upload_size <= SIM_MAX_BODY) {
			r->body = pgs_xrealloc(r->body, r->len + *upload_size + 1);
			memcpy(r->body + r->len, upload_data, *upload_size);
			r->len += *upload_size;
		} else {
			r->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return send_reply(c, 413, error_body("request body too large"));
	if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0)
		return send_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, error_body("use GET or POST"));

	json_t *query = json_object();
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, query);
	struct sim_reply rep;
	sim_api_call(st, url, r->body, r->len, query, &rep);
	json_decref(query);
	if (rep.status >= 400)
		log_info("dstack-sim: %s %s -> %u", method, url, rep.status);
	else
		log_debug("dstack-sim: %s %s -> %u", method, url, rep.status);
	return send_reply(c, rep.status, rep.body);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct sim_req *r = *con_cls;
	if (r) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sa;
	struct stat sb;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("dstack-sim: socket path too long");
		return -1;
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			log_error(
			    "dstack-sim: %s exists and is not a socket; refusing to replace it",
			    path);
			return -1;
		}
		unlink(path); /* a stale socket from an earlier run */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 64) != 0) {
		log_error("dstack-sim: cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int sim_http_serve(struct sim_state *st, const char *socket_path)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Block before MHD starts its thread, so that only sigwait() below sees the signals. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	int fd = bind_unix(socket_path);
	if (fd < 0)
		return PGS_ERR;
	/* One polling thread: requests are handled one at a time, so the state needs no locks. */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, st, MHD_OPTION_LISTEN_SOCKET,
	    fd, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)128, MHD_OPTION_END);
	if (!d) {
		log_error("dstack-sim: cannot start the HTTP server");
		close(fd);
		unlink(socket_path);
		return PGS_ERR;
	}
	log_info("dstack-sim: listening on unix socket %s", socket_path);
	int sig = 0;
	sigwait(&set, &sig);
	log_info("dstack-sim: stopping (signal %d)", sig);
	MHD_stop_daemon(d);
	close(fd);
	unlink(socket_path);
	return PGS_OK;
}
