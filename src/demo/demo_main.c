/* demo_main.c - pgseal-demo: flags, the HTTP server (libmicrohttpd), routing of the page and its
 * JSON endpoints. */
#include "demo/demo.h"

#include "common/log.h"
#include "config/config.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEMO_THREADS 4 /* a request waiting on the database must not hold up the page */
#define DEMO_CONN_LIMIT 128
#define DEMO_CONN_TIMEOUT_S 15

#define CT_JSON "application/json; charset=utf-8"
#define CSP                                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                \
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

struct app {
	struct demo_cfg cfg;
	struct demo_db *db;
	struct demo_attest *att;
};

/* A POST body being received; *con_cls of its connection. */
struct upload {
	char buf[DEMO_BODY_MAX + 1];
	size_t len;
	bool too_big;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pgseal-demo --pgseal CONNINFO --db CONNINFO [options]\n"
	    "\n"
	    "The live demo page of pgseal (docs/demo.md). Every option can also be given as an\n"
	    "environment variable PGSEAL_DEMO_<OPTION> (upper case, '-' as '_').\n"
	    "\n"
	    "  --pgseal CONNINFO    libpq connection to pgseal's client port (the application "
	    "path)\n"
	    "  --db CONNINFO        libpq connection to PostgreSQL itself (the database view); "
	    "the\n"
	    "                       same role as --pgseal (or pg_read_all_stats) to see the "
	    "statement\n"
	    "  --admin-url URL      pgseal's admin API, e.g. http://127.0.0.1:9191 (attestation "
	    "panel)\n"
	    "  --root-ca FILE       trust anchor of the quote (default: Intel's SGX root CA);\n"
	    "                       the simulator's is sim-root.pem next to its socket\n"
	    "  --collateral FILE    Intel PCS collateral JSON (the simulator's: "
	    "sim-collateral.json)\n"
	    "  --policy FILE        attestation policy (docs/attestation.md)\n"
	    "  --listen HOST:PORT   where the page listens (default 127.0.0.1:8080)\n"
	    "  --table NAME         the demo table (default people)\n"
	    "  --max-rows N         row cap, the oldest rows are deleted (default %d)\n"
	    "  --log-level LEVEL    debug, info, warn, error (default info)\n",
	    DEMO_MAX_ROWS_DEFAULT);
}

static bool table_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static const char *opt_env(const char *name)
{
	char env[64] = "PGSEAL_DEMO_";
	size_t k = strlen(env);
	for (const char *p = name; *p && k < sizeof(env) - 1; p++)
		env[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	env[k] = 0;
	const char *v = getenv(env);
	return v && *v ? v : NULL;
}

static int parse_args(int argc, char **argv, struct demo_cfg *c, enum log_level *lvl)
{
	static const char *const names[] = {"pgseal",     "db",       "admin-url", "root-ca",
	                                    "collateral", "policy",   "listen",    "table",
	                                    "max-rows",   "log-level"};
	const char *val[PGS_ARRAY_LEN(names)];
	for (size_t i = 0; i < PGS_ARRAY_LEN(names); i++)
		val[i] = opt_env(names[i]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(argv[i], "--version")) {
			printf("pgseal-demo %s\n", PGSEAL_VERSION);
			exit(0);
		}
		size_t k = 0;
		while (k < PGS_ARRAY_LEN(names) &&
		       (strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i] + 2, names[k]) != 0))
			k++;
		if (k == PGS_ARRAY_LEN(names) || i + 1 >= argc) {
			fprintf(stderr, "pgseal-demo: %s '%s'\n",
			        k == PGS_ARRAY_LEN(names) ? "unknown option" : "missing value for",
			        argv[i]);
			return PGS_ERR;
		}
		val[k] = argv[++i];
	}
	c->pgseal_dsn = val[0];
	c->db_dsn = val[1];
	c->admin_url = val[2];
	c->root_ca = val[3];
	c->collateral = val[4];
	c->policy = val[5];
	c->listen = val[6] ? val[6] : "127.0.0.1:8080";
	c->table = val[7] ? val[7] : "people";
	c->max_rows = DEMO_MAX_ROWS_DEFAULT;
	if (val[8]) {
		char *end;
		long n = strtol(val[8], &end, 10);
		if (*end || n < 1 || n > DEMO_MAX_ROWS_LIMIT) {
			fprintf(stderr, "pgseal-demo: --max-rows must be 1..%d\n",
			        DEMO_MAX_ROWS_LIMIT);
			return PGS_ERR;
		}
		c->max_rows = (int)n;
	}
	*lvl = LOG_INFO;
	if (val[9] && log_parse_level(val[9], lvl) != PGS_OK) {
		fprintf(stderr, "pgseal-demo: unknown --log-level\n");
		return PGS_ERR;
	}
	if (!c->pgseal_dsn || !c->db_dsn) {
		fprintf(stderr, "pgseal-demo: --pgseal and --db are required (see --help)\n");
		return PGS_ERR;
	}
	if (!table_name_ok(c->table)) {
		fprintf(stderr, "pgseal-demo: --table must be a lower-case identifier\n");
		return PGS_ERR;
	}
	return PGS_OK;
}

/* ---- responses -------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
                             const char *disposition)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)(uintptr_t)body);
		return MHD_NO;
	}
	bool ok =
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES &&
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES &&
	    MHD_add_response_header(r, "X-Frame-Options", "DENY") == MHD_YES &&
	    MHD_add_response_header(r, "Referrer-Policy", "no-referrer") == MHD_YES &&
	    MHD_add_response_header(r, "Content-Security-Policy", CSP) == MHD_YES &&
	    (!disposition ||
	     MHD_add_response_header(r, "Content-Disposition", disposition) == MHD_YES);
	enum MHD_Result ret = ok ? MHD_queue_response(c, status, r) : MHD_NO;
	MHD_destroy_response(r);
	return ret;
}

/* Sends a JSON value (reference stolen). */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH) : NULL;
	json_decref(o);
	if (!s)
		return reply(c, 500, CT_JSON, "{\"error\":\"cannot encode the answer\"}", 36,
		             MHD_RESPMEM_PERSISTENT, NULL);
	return reply(c, status, CT_JSON, s, strlen(s), MHD_RESPMEM_MUST_FREE, NULL);
}

/* Client errors (4xx) are not logged: they are about what someone sent. */
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply_json(c, status, json_pack("{s:s}", "error", msg));
}

static enum MHD_Result reply_failure(struct MHD_Connection *c, const struct demo_err *e)
{
	unsigned status = e->status ? e->status : 500;
	if (status >= 500)
		log_warn("demo: %s", e->log); /* names the hop; never PostgreSQL's message text */
	return reply_error(c, status, e->msg[0] ? e->msg : "internal error");
}

static enum MHD_Result reply_result(struct MHD_Connection *c, json_t *o, const struct demo_err *e)
{
	return o ? reply_json(c, 200, o) : reply_failure(c, e);
}

/* ---- routes ----------------------------------------------------------------------------- */

static enum MHD_Result add_person(struct app *a, struct MHD_Connection *c, struct upload *u)
{
	struct demo_person p;
	struct demo_err e = {0};
	char err[256];
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (u->too_big) {
		snprintf(err, sizeof(err), "request body larger than %d bytes", DEMO_BODY_MAX);
		return reply_error(c, 400, err);
	}
	/* JSON only: a cross-site form cannot send it without a CORS preflight, which fails */
	if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] && ct[16] != ';' && ct[16] != ' '))
		return reply_error(c, 400, "Content-Type must be application/json");
	if (demo_person_parse((const uint8_t *)u->buf, u->len, &p, err, sizeof(err)) != PGS_OK)
		return reply_error(c, 400, err);
	json_t *o = demo_db_add(a->db, &p, &e);
	memset(&p, 0, sizeof(p));
	return reply_result(c, o, &e);
}

static enum MHD_Result search(struct app *a, struct MHD_Connection *c)
{
	char err[256];
	struct demo_err e = {0};
	const char *email = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "email");
	if (!email)
		return reply_error(c, 400, "email: required (GET /api/search?email=...)");
	if (demo_check_email(email, strlen(email), err, sizeof(err)) != PGS_OK)
		return reply_error(c, 400, err);
	return reply_result(c, demo_db_search(a->db, email, &e), &e);
}

static enum MHD_Result raw_evidence(struct app *a, struct MHD_Connection *c, bool event_log)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	struct demo_err e = {0};
	if (demo_attest_raw(a->att, event_log, &raw, &len, &e) != PGS_OK)
		return reply_failure(c, &e);
	return reply(c, 200, event_log ? CT_JSON : "application/octet-stream", raw, len,
	             MHD_RESPMEM_MUST_FREE,
	             event_log ? "attachment; filename=\"pgseal-event-log.json\""
	                       : "attachment; filename=\"pgseal-quote.bin\"");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
	struct app *a = cls;
	struct demo_err e = {0};
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");

	if (!strcmp(url, "/api/people") && post) {
		struct upload *u = *con_cls;
		if (!u) { /* first call: headers only */
			*con_cls = pgs_xcalloc(1, sizeof(*u));
			return MHD_YES;
		}
		if (*upload_data_size) { /* a piece of the body; beyond the cap it is dropped */
			size_t n = *upload_data_size;
			if (u->len + n > DEMO_BODY_MAX)
				u->too_big = true;
			else
				memcpy(u->buf + u->len, upload_data, n), u->len += n;
			*upload_data_size = 0;
			return MHD_YES;
		}
		return add_person(a, c, u);
	}
	if (!get) {
		bool known = !strncmp(url, "/api/", 5) || demo_asset_find(url);
		return reply_error(c, known ? 405 : 404,
		                   known ? "method not allowed" : "not found");
	}
	if (!strcmp(url, "/api/app-view"))
		return reply_result(c, demo_db_app_view(a->db, &e), &e);
	if (!strcmp(url, "/api/db-view"))
		return reply_result(c, demo_db_db_view(a->db, &e), &e);
	if (!strcmp(url, "/api/search"))
		return search(a, c);
	if (!strcmp(url, "/api/dump"))
		return reply_result(c, demo_db_dump(a->db, &e), &e);
	if (!strcmp(url, "/api/attestation"))
		return reply_result(c, demo_attest_panel(a->att, &e), &e);
	if (!strcmp(url, "/api/attestation/quote"))
		return raw_evidence(a, c, false);
	if (!strcmp(url, "/api/attestation/event-log"))
		return raw_evidence(a, c, true);
	if (!strcmp(url, "/api/people"))
		return reply_error(c, 405, "method not allowed (POST a JSON person)");
	if (!strcmp(url, "/favicon.ico")) /* browsers ask for it; the page has none */
		return reply(c, 204, "image/x-icon", "", 0, MHD_RESPMEM_PERSISTENT, NULL);
	const struct demo_asset *as = demo_asset_find(url);
	if (as)
		return reply(c, 200, as->content_type, as->body, as->len, MHD_RESPMEM_PERSISTENT,
		             NULL);
	return reply_error(c, 404, "not found");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	if (*con_cls) {
		/* the body may hold what someone typed */
		struct upload *u = *con_cls;
		memset(u, 0, sizeof(*u));
		free(u);
		*con_cls = NULL;
	}
}

int main(int argc, char **argv)
{
	struct app a = {0};
	enum log_level lvl;
	char host[256];
	int port;
	sigset_t set;

	if (parse_args(argc, argv, &a.cfg, &lvl) != PGS_OK)
		return 2;
	log_setup(lvl, LOG_TEXT);
	if (config_parse_hostport(a.cfg.listen, host, sizeof(host), &port) != PGS_OK) {
		fprintf(stderr, "pgseal-demo: --listen \"%s\" is not host:port\n", a.cfg.listen);
		return 2;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	int gai = getaddrinfo(host, ps, &hints, &res);
	if (gai) {
		fprintf(stderr, "pgseal-demo: cannot resolve %s: %s\n", host, gai_strerror(gai));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server threads inherit the mask */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	a.db = demo_db_new(&a.cfg);
	a.att = demo_attest_new(&a.cfg);
	/* No MHD_USE_ERROR_LOG: libmicrohttpd's messages could quote request bytes. */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	        (res->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handler, &a, MHD_OPTION_SOCK_ADDR, res->ai_addr,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)DEMO_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)DEMO_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)DEMO_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	freeaddrinfo(res);
	if (!d) {
		fprintf(stderr, "pgseal-demo: cannot listen on %s\n", a.cfg.listen);
		return 1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_info("pgseal-demo: listening on http://%s:%u/ (table %s, row cap %d%s)", host,
	         di ? (unsigned)di->port : (unsigned)port, a.cfg.table, a.cfg.max_rows,
	         a.cfg.admin_url ? "" : ", no attestation panel: --admin-url not given");
	int sig = 0;
	sigwait(&set, &sig);
	log_info("pgseal-demo: signal %d, stopping", sig);
	MHD_stop_daemon(d);
	demo_attest_free(a.att);
	demo_db_free(a.db);
	curl_global_cleanup();
	return 0;
}
