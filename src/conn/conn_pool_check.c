/* conn_pool_check.c - the session pool's reset and settings check: their SQL, and readers of their
 * answers (no I/O). */
#include "conn/conn_internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * Role and database settings (ALTER ROLE/DATABASE ... SET) are applied by PostgreSQL when
 * a backend starts; DISCARD ALL returns to them. A pooled connection whose settings are
 * no longer those of pg_db_role_setting must not be handed out.
 *
 * After the reset, three statements (one Query, one implicit transaction):
 *   1. the fingerprint: pg_db_role_setting's rows for this database and role, as text;
 *   2. what the backend applied at its start: settings whose source is a role or database
 *      setting, as current_setting() shows them;
 *   3. the same from the catalog: its settings for this database and role, by
 *      PostgreSQL's priority, each normalized by set_config(..., true), which is local to
 *      the transaction and undone at its end.
 * Settings the client's StartupMessage overrides (source client) are left out of both.
 * 2 and 3 differ: the catalog changed since the backend started, and it is closed. They
 * agree: the fingerprint read before them stands for the settings the backend has. A
 * setting this role may not set itself (a superuser-only one) fails statement 3, and the
 * connection is closed: such roles are not pooled.
 *
 * This costs two scans of pg_settings, once in a backend's life: at its later resets, and
 * when it is handed out, only the fingerprint is read again (one short catalog read), and
 * the same text means the backend's settings are still current.
 */
#define FINGERPRINT_SQL                                                                            \
	"SELECT coalesce(string_agg(s.setdatabase::text || '/' || s.setrole::text || '=' || "      \
	"s.setconfig::text, ';' ORDER BY s.setdatabase, s.setrole), '') "                          \
	"FROM pg_catalog.pg_db_role_setting s "                                                    \
	"WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = "      \
	"current_database())) "                                                                    \
	"AND s.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = session_user))"

const char conn_pool_fingerprint_sql[] = FINGERPRINT_SQL;

/* The comment names pooled backends in pg_stat_activity (their last query). */
#define RESET_MARK "/* pgseal: pooled connection reset */ "

const char conn_pool_recheck_sql[] = RESET_MARK FINGERPRINT_SQL;

const char conn_pool_settings_sql[] = RESET_MARK FINGERPRINT_SQL
    "; "
    "SELECT coalesce(string_agg(lower(name) || '=' || current_setting(name), ',' ORDER BY "
    "lower(name)), '') "
    "FROM pg_catalog.pg_settings WHERE source IN ('global', 'database', 'user', 'database user'); "
    "SELECT coalesce(string_agg(k || '=' || set_config(k, v, true), ',' ORDER BY k), '') "
    "FROM (SELECT DISTINCT ON (k) k, v FROM ("
    "SELECT lower(substr(x, 1, strpos(x, '=') - 1)) AS k, substr(x, strpos(x, '=') + 1) AS v, "
    "(s.setdatabase = 0)::int + 2 * (s.setrole = 0)::int AS prio "
    "FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) x "
    "WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = "
    "current_database())) "
    "AND s.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = session_user))"
    ") e ORDER BY k, prio) r "
    "WHERE k NOT IN (SELECT lower(name) FROM pg_catalog.pg_settings WHERE source IN ('client', "
    "'override'))";

void conn_reset_clear(struct conn_reset *r)
{
	free(r->fingerprint);
	free(r->applied);
	r->fingerprint = r->applied = NULL;
	r->applied_len = 0;
}

/* The one text column of a DataRow; false if it is not exactly that. */
static bool one_text(const uint8_t *body, uint32_t blen, const uint8_t **val, uint32_t *vlen)
{
	if (blen < 6 || body[0] != 0 || body[1] != 1)
		return false;
	uint32_t l = pgs_get_u32(body + 2);
	if (l != blen - 6)
		return false; /* NULL (never sent: coalesce) or a wrong length */
	*val = body + 6;
	*vlen = l;
	return true;
}

static char *copy_text(const uint8_t *p, uint32_t n)
{
	char *s = pgs_xmalloc((size_t)n + 1);
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

int conn_pool_reset_answer(struct conn_reset *r, const uint8_t *p, uint32_t n, uint32_t *used)
{
	uint32_t at = 0;
	*used = 0;
	while (n - at >= PROTO_HDR_LEN) {
		uint8_t type = p[at];
		uint32_t len = pgs_get_u32(p + at + 1);
		if (len < 4 || len > CONN_MAX_INSPECT) {
			r->why = "invalid message during reset";
			return -1;
		}
		if (n - at < len + 1)
			break; /* the rest of it has not arrived */
		const uint8_t *body = p + at + PROTO_HDR_LEN;
		uint32_t blen = len - 4;
		at += len + 1;
		*used = at;
		switch (type) {
		case 'C':
			if (r->phase == 0)
				r->saw_complete = true;
			break;
		case 'S':
			conn_params_set(r->params, body, blen);
			break;
		case 'N':
		case 'A':
			break;
		case 'T':
			if (r->phase != 1) {
				r->why = "unexpected message during reset";
				return -1;
			}
			break;
		case 'D': {
			const uint8_t *v;
			uint32_t vl;
			if (r->phase != 1 || r->rows == (r->expect ? 1 : 3) ||
			    !one_text(body, blen, &v, &vl)) {
				r->why = "unexpected message during reset";
				return -1;
			}
			if (r->expect) {
				/* a backend whose fingerprint was validated before: the same text?
				 */
				if (vl != strlen(r->expect) || memcmp(v, r->expect, vl) != 0) {
					r->why = "its role or database settings changed since it "
					         "started";
					return -1;
				}
			} else if (r->rows == 0) {
				r->fingerprint = copy_text(v, vl);
			} else if (r->rows == 1) {
				r->applied = copy_text(v, vl);
				r->applied_len = vl;
			} else if (vl != r->applied_len || memcmp(v, r->applied, vl) != 0) {
				r->why = "its role or database settings changed since it started";
				return -1;
			}
			r->rows++;
			break;
		}
		case 'Z':
			if (len != 5 || body[0] != 'I') {
				r->why = "reset did not complete";
				return -1;
			}
			if (r->phase == 0) {
				/* DISCARD ALL is done; the settings query follows */
				if (!r->saw_complete) {
					r->why = "reset did not complete";
					return -1;
				}
				r->phase = 1;
				break;
			}
			/* all rows, and nothing after them */
			if (r->rows != (r->expect ? 1 : 3) || at != n) {
				r->why = "reset did not complete";
				return -1;
			}
			return 1;
		default:
			r->why = type == 'E' ? "reset failed" : "unexpected message during reset";
			return -1;
		}
	}
	return 0;
}

int conn_pool_check_answer(const uint8_t *p, uint32_t n, struct conn_params *params,
                           const char *fingerprint)
{
	uint32_t at = 0;
	int rows = 0;
	bool same = false;
	while (n - at >= PROTO_HDR_LEN) {
		uint8_t type = p[at];
		uint32_t len = pgs_get_u32(p + at + 1);
		if (len < 4 || len > CONN_MAX_INSPECT)
			return -1;
		if (n - at < len + 1)
			return 0; /* the rest of it has not arrived */
		const uint8_t *body = p + at + PROTO_HDR_LEN;
		uint32_t blen = len - 4;
		at += len + 1;
		switch (type) {
		case 'T':
		case 'C':
		case 'N':
			break;
		case 'S':
			conn_params_set(params, body, blen);
			break;
		case 'D': {
			const uint8_t *v;
			uint32_t vl;
			if (rows++ || !one_text(body, blen, &v, &vl))
				return -1;
			same = vl == strlen(fingerprint) && memcmp(v, fingerprint, vl) == 0;
			break;
		}
		case 'Z':
			if (rows != 1 || at != n || len != 5 || body[0] != 'I')
				return -1;
			return same ? 1 : -2;
		default:
			return -1; /* an ErrorResponse, or anything else */
		}
	}
	return 0;
}
