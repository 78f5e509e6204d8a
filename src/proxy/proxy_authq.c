/* proxy_authq.c - looks up SCRAM verifiers: auth_query over a libpq connection on its own thread,
 * or a userlist file. */
#include "proxy/proxy_internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>

#include "auth/auth.h"
#include "common/log.h"

#define AUTHQ_MAX_QUEUE 4096

struct authq_req {
	struct authq_req *next;
	struct conn *conn;
	struct conn_worker *worker;
	char user[64];
};

struct proxy_authq {
	const struct config *cfg;
	char *password;              /* the auth role's password, wiped on free */
	struct auth_userlist *users; /* userlist_file mode */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct authq_req *head, *tail;
	int queued;
	bool stop;
	PGconn *pg;
};

static void wipe_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* First line of a secret file; warns when others may read it. */
static int read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
	struct stat st;
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (!f) {
		pgs_errf(err, errlen, "%s: %s", path, strerror(errno));
		return PGS_ERR;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		log_warn("%s is readable by group or others; chmod 600 it", path);
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		pgs_errf(err, errlen, "%s: empty", path);
		return PGS_ERR;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0]) {
		pgs_errf(err, errlen, "%s: empty", path);
		return PGS_ERR;
	}
	*out = pgs_xstrdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	return PGS_OK;
}

static int load_userlist(struct proxy_authq *q, const char *path, char *err, size_t errlen)
{
	char perr[256];
	FILE *f = fopen(path, "r");
	if (!f) {
		pgs_errf(err, errlen, "%s: %s", path, strerror(errno));
		return PGS_ERR;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size > 64 * 1024 * 1024) {
		fclose(f);
		pgs_errf(err, errlen, "%s: unreadable or too large", path);
		return PGS_ERR;
	}
	if (st.st_mode & 077)
		log_warn("%s is readable by group or others; chmod 600 it", path);
	size_t len = (size_t)st.st_size;
	char *text = pgs_xmalloc(len + 1);
	size_t got = fread(text, 1, len, f);
	fclose(f);
	text[got] = 0;
	int rc = auth_userlist_parse(text, got, &q->users, perr, sizeof(perr));
	OPENSSL_cleanse(text, len + 1);
	free(text);
	if (rc != AUTH_OK) {
		pgs_errf(err, errlen, "%s: %s", path, perr);
		return PGS_ERR;
	}
	log_info("auth: %zu users read from %s", auth_userlist_count(q->users), path);
	return PGS_OK;
}

int proxy_authq_create(const struct config *cfg, struct proxy_authq **out, char *err, size_t errlen)
{
	struct proxy_authq *q = pgs_xcalloc(1, sizeof(*q));
	q->cfg = cfg;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (cfg->auth.userlist_file) {
		if (load_userlist(q, cfg->auth.userlist_file, err, errlen) != PGS_OK)
			goto fail;
	} else if (read_secret_file(cfg->auth.password_file, &q->password, err, errlen) != PGS_OK) {
		goto fail;
	}
	*out = q;
	return PGS_OK;
fail:
	proxy_authq_free(q);
	return PGS_ERR;
}

static void post(struct conn_worker *w, struct conn *c, char *verifier, bool found, bool failed)
{
	struct conn_lookup_result *r = pgs_xcalloc(1, sizeof(*r));
	r->conn = c;
	r->verifier = verifier;
	r->found = found;
	r->failed = failed;
	conn_lookup_post(w, r);
}

static PGconn *auth_connect(struct proxy_authq *q)
{
	const struct config *cfg = q->cfg;
	char port[16];
	snprintf(port, sizeof(port), "%d", cfg->upstream.port);
	const char *keys[16], *vals[16];
	int n = 0;
	keys[n] = "host", vals[n++] = cfg->upstream.host;
	keys[n] = "port", vals[n++] = port;
	keys[n] = "dbname", vals[n++] = cfg->auth.database;
	keys[n] = "user", vals[n++] = cfg->auth.user;
	keys[n] = "password", vals[n++] = q->password;
	keys[n] = "sslmode", vals[n++] = config_tls_mode_name(cfg->upstream.tls);
	keys[n] = "application_name", vals[n++] = "pgseal-auth";
	keys[n] = "connect_timeout", vals[n++] = "5";
	if (cfg->upstream.ca_file)
		keys[n] = "sslrootcert", vals[n++] = cfg->upstream.ca_file;
	if (cfg->upstream.cert_file) {
		keys[n] = "sslcert", vals[n++] = cfg->upstream.cert_file;
		keys[n] = "sslkey", vals[n++] = cfg->upstream.key_file;
	}
	keys[n] = NULL, vals[n] = NULL;
	PGconn *pg = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(pg) != CONNECTION_OK) {
		/* libpq's message names the host and the reason, never the password */
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = 0;
		log_warn("auth connection to the upstream failed: %s", msg);
		PQfinish(pg);
		return NULL;
	}
	log_info("auth connection to the upstream established as \"%s\"", cfg->auth.user);
	return pg;
}

/* Runs the auth query; returns the verifier (malloc'd, may be NULL), whether the role
 * exists, or sets *failed. */
static char *run_query(struct proxy_authq *q, const char *user, bool *found, bool *failed)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!q->pg || PQstatus(q->pg) != CONNECTION_OK) {
			if (q->pg)
				PQfinish(q->pg);
			q->pg = auth_connect(q);
			if (!q->pg)
				break;
		}
		const char *params[1] = {user};
		PGresult *res =
		    PQexecParams(q->pg, q->cfg->auth.query, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			char *v = NULL;
			*found = PQntuples(res) >= 1;
			if (PQntuples(res) >= 1 && PQnfields(res) >= 2 && !PQgetisnull(res, 0, 1)) {
				char *val = PQgetvalue(res, 0, 1);
				v = pgs_xstrdup(val);
				OPENSSL_cleanse(val, strlen(val));
			}
			PQclear(res);
			*failed = false;
			return v;
		}
		log_warn("auth query failed: %s", PQresultErrorField(res, PG_DIAG_SQLSTATE)
		                                      ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
		                                      : "connection lost");
		PQclear(res);
		if (PQstatus(q->pg) == CONNECTION_OK)
			break; /* a query error, not a lost connection: retrying will not help */
		PQfinish(q->pg);
		q->pg = NULL;
	}
	*failed = true;
	return NULL;
}

static void *authq_main(void *arg)
{
	struct proxy_authq *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop && !q->head) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		struct authq_req *r = q->head;
		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		q->queued--;
		pthread_mutex_unlock(&q->mu);

		bool failed = false, found = false;
		char *v = q->stop ? NULL : run_query(q, r->user, &found, &failed);
		post(r->worker, r->conn, v, found, failed || q->stop);
		free(r);
	}
	if (q->pg)
		PQfinish(q->pg);
	q->pg = NULL;
	return NULL;
}

void proxy_authq_start(struct proxy_authq *q)
{
	if (q->cfg->auth.userlist_file)
		return; /* lookups are answered inline */
	if (pthread_create(&q->thread, NULL, authq_main, q) == 0)
		q->started = true;
	else
		log_error("cannot start the auth query thread");
}

int proxy_authq_submit(void *arg, struct conn *c, const char *user)
{
	struct proxy_authq *q = arg;
	struct conn_worker *w = conn_worker_of(c);
	if (q->cfg->auth.userlist_file) {
		/* a user missing from the file is authenticated by the upstream (relayed) */
		const char *secret = auth_userlist_lookup(q->users, user);
		post(w, c, secret ? pgs_xstrdup(secret) : NULL, true, false);
		return PGS_OK;
	}
	if (!q->started)
		return PGS_ERR;
	struct authq_req *r = pgs_xcalloc(1, sizeof(*r));
	r->conn = c;
	r->worker = w;
	snprintf(r->user, sizeof(r->user), "%s", user);
	pthread_mutex_lock(&q->mu);
	if (q->queued >= AUTHQ_MAX_QUEUE || q->stop) {
		pthread_mutex_unlock(&q->mu);
		free(r);
		return PGS_ERR;
	}
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->queued++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return PGS_OK;
}

void proxy_authq_free(struct proxy_authq *q)
{
	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->mu);
		q->stop = true;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL);
	}
	auth_userlist_free(q->users);
	wipe_free(q->password);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
