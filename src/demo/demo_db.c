/* demo_db.c - pgseal-demo's database side: writes and reads through pgseal, the stored rows,
 * statement and dump read directly from PostgreSQL. */
#include "demo/demo.h"

#include "common/log.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_DUMP_MAX (1u << 20) /* bytes of COPY output shown */
#define BLIND_PREFIX_BYTES 33    /* format byte + HMAC blind index (docs/encryption.md) */

static const char *const COLS[] = {"id", "name", "email", "ssn", "note"};

struct demo_db {
	const struct demo_cfg *cfg;
	pthread_mutex_t lock; /* one request at a time on the two connections */
	PGconn *seal;         /* through pgseal: the application */
	PGconn *direct;       /* PostgreSQL itself: what is stored */
	int seal_backend_pid; /* the PostgreSQL backend behind our pgseal session */
	char *tbl;            /* the table name, quoted as an identifier */
};

static void fail(struct demo_err *e, unsigned status, const char *fmt, ...) PGS_PRINTF(3, 4);
static void fail(struct demo_err *e, unsigned status, const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	/* libpq messages end with a newline; the page and the log show one line */
	for (char *p = e->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	snprintf(e->log, sizeof(e->log), "%s", e->msg);
}

struct demo_db *demo_db_new(const struct demo_cfg *cfg)
{
	struct demo_db *db = pgs_xcalloc(1, sizeof(*db));
	db->cfg = cfg;
	pthread_mutex_init(&db->lock, NULL);
	size_t n = strlen(cfg->table);
	db->tbl = pgs_xmalloc(n + 3); /* the name is [a-z_][a-z0-9_]* (checked at start) */
	snprintf(db->tbl, n + 3, "\"%s\"", cfg->table);
	return db;
}

void demo_db_free(struct demo_db *db)
{
	if (!db)
		return;
	if (db->seal)
		PQfinish(db->seal);
	if (db->direct)
		PQfinish(db->direct);
	pthread_mutex_destroy(&db->lock);
	free(db->tbl);
	free(db);
}

/* Opens (or reopens after a failure) one connection; hop names it in errors. */
static PGconn *conn_get(PGconn **slot, const char *dsn, const char *hop, struct demo_err *e)
{
	if (*slot && PQstatus(*slot) == CONNECTION_OK)
		return *slot;
	if (*slot)
		PQfinish(*slot);
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {dsn, DEMO_APP_NAME, "10", NULL};
	*slot = PQconnectdbParams(keys, vals, 1); /* dbname=<conninfo> expands the DSN */
	if (PQstatus(*slot) != CONNECTION_OK) {
		fail(e, 502, "%s: cannot connect: %s", hop, PQerrorMessage(*slot));
		PQfinish(*slot);
		*slot = NULL;
		return NULL;
	}
	return *slot;
}

/* The error of a failed result, without DETAIL (which can quote a stored value). */
static void fail_res(struct demo_err *e, const char *hop, PGconn *c, PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (msg) {
		fail(e, 502, "%s: %s (SQLSTATE %s)", hop, msg, state ? state : "?");
		snprintf(e->log, sizeof(e->log), "%s: statement failed (SQLSTATE %s)", hop,
		         state ? state : "?");
	} else
		fail(e, 502, "%s: %s", hop, PQerrorMessage(c));
}

#define HOP_SEAL "pgseal (application path)"
#define HOP_DIRECT "PostgreSQL (direct, database view)"

/* A count or pid PostgreSQL printed; 0 when it is not a number in int range (strtol, not atoi:
 * atoi's overflow is undefined). */
static int pg_int(const char *s)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	return s && !errno && end != s && *end == 0 && v >= 0 && v <= INT32_MAX ? (int)v : 0;
}

static PGconn *seal(struct demo_db *db, struct demo_err *e)
{
	bool fresh = !db->seal || PQstatus(db->seal) != CONNECTION_OK;
	PGconn *c = conn_get(&db->seal, db->cfg->pgseal_dsn, HOP_SEAL, e);
	if (c && fresh) {
		/* which PostgreSQL backend serves this session: its pg_stat_activity row shows
		 * the statements pgseal sent on our behalf */
		PGresult *r = PQexec(c, "SELECT pg_backend_pid()");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			db->seal_backend_pid = pg_int(PQgetvalue(r, 0, 0));
		else
			db->seal_backend_pid = 0;
		PQclear(r);
	}
	return c;
}

static PGconn *direct(struct demo_db *db, struct demo_err *e)
{
	return conn_get(&db->direct, db->cfg->db_dsn, HOP_DIRECT, e);
}

/* Runs SQL on c; NULL (and *e set) unless the result has the wanted status. A broken
 * connection is dropped so that the next request reconnects. */
static PGresult *run(PGconn **slot, const char *hop, const char *sql, int nparams,
                     const char *const *params, ExecStatusType want, struct demo_err *e)
{
	PGresult *r = PQexecParams(*slot, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == want)
		return r;
	fail_res(e, hop, *slot, r);
	PQclear(r);
	if (PQstatus(*slot) != CONNECTION_OK) {
		PQfinish(*slot);
		*slot = NULL;
	}
	return NULL;
}

/* Rows of a result as an array of objects; NULL values as JSON null. */
static json_t *rows_json(PGresult *r)
{
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o = json_object();
		for (int j = 0; j < PQnfields(r); j++)
			json_object_set_new(
			    o, PQfname(r, j),
			    PQgetisnull(r, i, j)
			        ? json_null()
			        : json_stringn(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *cols_json(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < PGS_ARRAY_LEN(COLS); i++)
		json_array_append_new(a, json_string(COLS[i]));
	return a;
}

json_t *demo_db_add(struct demo_db *db, const struct demo_person *p, struct demo_err *e)
{
	char sql[256];
	json_t *out = NULL;
	PGresult *r = NULL;
	pthread_mutex_lock(&db->lock);
	if (!seal(db, e))
		goto out;
	/* the values travel only as parameters: pgseal encrypts them in the Bind message */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO %s (name, email, ssn, note) VALUES ($1, $2, $3, $4) RETURNING id",
	         db->tbl);
	const char *params[] = {p->name, p->email, p->ssn, p->note};
	r = run(&db->seal, HOP_SEAL, sql, 4, params, PGRES_TUPLES_OK, e);
	if (!r)
		goto out;
	char id[32];
	snprintf(id, sizeof(id), "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	/* the row cap: one shared environment keeps only the newest max_rows rows */
	char cap[16];
	snprintf(cap, sizeof(cap), "%d", db->cfg->max_rows);
	snprintf(sql, sizeof(sql),
	         "DELETE FROM %s WHERE id < (SELECT min(id) FROM (SELECT id FROM %s ORDER BY id "
	         "DESC LIMIT $1::int) AS newest)",
	         db->tbl, db->tbl);
	const char *cp[] = {cap};
	r = run(&db->seal, HOP_SEAL, sql, 1, cp, PGRES_COMMAND_OK, e);
	if (!r)
		goto out;
	out = json_pack("{s:s, s:i}", "id", id, "dropped", pg_int(PQcmdTuples(r)));
out:
	PQclear(r);
	pthread_mutex_unlock(&db->lock);
	return out;
}

static json_t *select_view(struct demo_db *db, bool via_seal, struct demo_err *e)
{
	char sql[256];
	json_t *out = NULL;
	pthread_mutex_lock(&db->lock);
	PGconn **slot = via_seal ? &db->seal : &db->direct;
	if (!(via_seal ? seal(db, e) : direct(db, e)))
		goto out;
	snprintf(sql, sizeof(sql),
	         "SELECT id, name, email, ssn, note FROM %s ORDER BY id DESC LIMIT %d", db->tbl,
	         db->cfg->max_rows);
	PGresult *r = run(slot, via_seal ? HOP_SEAL : HOP_DIRECT, sql, 0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		goto out;
	out = json_pack("{s:o, s:o}", "columns", cols_json(), "rows", rows_json(r));
	PQclear(r);
	if (!via_seal) {
		/* the declared types as PostgreSQL knows them (bytea for the encrypted columns) */
		const char *tp[] = {db->tbl};
		r = run(
		    slot, HOP_DIRECT,
		    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
		    "attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
		    1, tp, PGRES_TUPLES_OK, e);
		if (!r) {
			json_decref(out);
			out = NULL;
			goto out;
		}
		json_t *types = json_object();
		for (int i = 0; i < PQntuples(r); i++)
			json_object_set_new(types, PQgetvalue(r, i, 0),
			                    json_string(PQgetvalue(r, i, 1)));
		json_object_set_new(out, "types", types);
		json_object_set_new(out, "blind_index_bytes", json_integer(BLIND_PREFIX_BYTES));
		PQclear(r);
	}
out:
	pthread_mutex_unlock(&db->lock);
	return out;
}

json_t *demo_db_app_view(struct demo_db *db, struct demo_err *e)
{
	return select_view(db, true, e);
}

json_t *demo_db_db_view(struct demo_db *db, struct demo_err *e)
{
	return select_view(db, false, e);
}

json_t *demo_db_search(struct demo_db *db, const char *email, struct demo_err *e)
{
	json_t *out = NULL;
	char *lit = NULL, *sql = NULL;
	PGresult *r = NULL;
	pthread_mutex_lock(&db->lock);
	PGconn *c = seal(db, e);
	if (!c)
		goto out;
	/*
	 * The one statement with a literal, on purpose: the point of the page is the statement
	 * pgseal sends, and PostgreSQL shows a statement's text (pg_stat_activity.query), not
	 * its parameters. With a literal, that text holds pgseal's blind index in place of the
	 * address. It is safe: the address passed demo_check_email, whose alphabet has no
	 * quote or backslash, and PQescapeLiteral quotes it regardless.
	 */
	lit = PQescapeLiteral(c, email, strlen(email));
	if (!lit) {
		fail(e, 500, "%s: cannot quote the search value", HOP_SEAL);
		goto out;
	}
	size_t n = strlen(lit) + strlen(db->tbl) + 160;
	sql = pgs_xmalloc(n);
	snprintf(
	    sql, n,
	    "SELECT id, name, email, ssn, note FROM %s WHERE email = %s ORDER BY id DESC LIMIT %d",
	    db->tbl, lit, DEMO_SEARCH_LIMIT);
	r = run(&db->seal, HOP_SEAL, sql, 0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		goto out;
	json_t *rows = rows_json(r);
	PQclear(r);
	r = NULL;
	/* what PostgreSQL received: the last statement of our pgseal session's backend */
	json_t *seen = json_null();
	if (db->seal_backend_pid > 0 && !direct(db, e)) {
		json_decref(rows); /* the statement cannot be shown: say which hop failed */
		goto out;
	}
	if (db->seal_backend_pid > 0) {
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", db->seal_backend_pid);
		const char *pp[] = {pid};
		r = run(&db->direct, HOP_DIRECT,
		        "SELECT query FROM pg_stat_activity WHERE pid = $1::int", 1, pp,
		        PGRES_TUPLES_OK, e);
		if (!r) {
			json_decref(rows);
			goto out;
		}
		/* another role without pg_read_all_stats reads "<insufficient privilege>" */
		if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
		    strcmp(PQgetvalue(r, 0, 0), "<insufficient privilege>") != 0)
			seen = json_string(PQgetvalue(r, 0, 0));
	}
	/* json_string returns NULL for invalid UTF-8: then there is nothing to show */
	if (!seen)
		seen = json_null();
	const char *q = json_string_value(seen);
	out = json_pack("{s:o, s:o, s:s, s:o, s:i, s:s, s:o}", "columns", cols_json(), "rows", rows,
	                "application_sent", sql, "postgresql_received", seen, "backend_pid",
	                db->seal_backend_pid, "source", "pg_stat_activity.query",
	                "plaintext_reached_postgresql",
	                q ? json_boolean(strstr(q, email) != NULL) : json_null());
	if (!q)
		json_object_set_new(out, "postgresql_received_unavailable",
		                    json_string("the direct connection cannot see the backend's "
		                                "pg_stat_activity row (another role without "
		                                "pg_read_all_stats?)"));
out:
	PQclear(r);
	PQfreemem(lit);
	free(sql);
	pthread_mutex_unlock(&db->lock);
	return out;
}

json_t *demo_db_dump(struct demo_db *db, struct demo_err *e)
{
	json_t *out = NULL;
	char sql[256];
	pthread_mutex_lock(&db->lock);
	PGconn *c = direct(db, e);
	if (!c)
		goto out;
	/* the data section of pg_dump is this COPY, run by pg_dump on the same connection type */
	snprintf(sql, sizeof(sql), "COPY %s (id, name, email, ssn, note) TO STDOUT", db->tbl);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		fail_res(e, HOP_DIRECT, c, r);
		PQclear(r);
		goto out;
	}
	PQclear(r);
	size_t cap = 4096, len = 0;
	char *buf = pgs_xmalloc(cap);
	bool truncated = false;
	len =
	    (size_t)snprintf(buf, cap,
	                     "--\n-- Data for Name: %s; Type: TABLE DATA\n--\n\nCOPY %s (id, name, "
	                     "email, ssn, note) FROM stdin;\n",
	                     db->cfg->table, db->tbl);
	for (;;) {
		char *line = NULL;
		int n = PQgetCopyData(c, &line, 0);
		if (n < 0)
			break;
		if (!truncated && len + (size_t)n + 8 < DEMO_DUMP_MAX) {
			while (len + (size_t)n + 8 > cap)
				buf = pgs_xrealloc(buf, cap *= 2);
			memcpy(buf + len, line, (size_t)n);
			len += (size_t)n;
		} else {
			truncated = true;
		}
		PQfreemem(line);
	}
	r = PQgetResult(c);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fail_res(e, HOP_DIRECT, c, r);
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	if (ok) {
		memcpy(buf + len, "\\.\n", 4);
		len += 3;
		out = json_pack(
		    "{s:s%, s:b, s:s}", "dump", buf, len, "truncated", truncated, "method",
		    "COPY ... TO STDOUT, the statement pg_dump runs for a table's data");
	}
	free(buf);
out:
	pthread_mutex_unlock(&db->lock);
	return out;
}
