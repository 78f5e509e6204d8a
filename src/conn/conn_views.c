/* conn_views.c - views over encrypted tables: found with the catalog (pg_depend, pg_rewrite),
 * their definitions run through the sql analysis, view columns mapped for the read path. */
#include "conn/conn_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

/* The view whose rows are being read (one row per column, its definition on attnum 1). */
struct crypt_view_row {
	uint32_t oid;
	char nsp[256], rel[256];
	char **names;
	int16_t *attnums;
	size_t n;
	char *def;
};

/*
 * Views (and materialized views) that depend, directly or through other views, on a table
 * named like a configured one; deepest last, so a view's definition is analysed after the
 * views it reads. Columns: oid, nspname, relname, attnum, attname, definition (on attnum 1).
 */
void crypt_views_query(struct proto_buf *b, const struct schema *sc)
{
	static const char head[] =
	    "WITH RECURSIVE enc AS (SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname IN (";
	static const char tail[] =
	    ")), dep(oid, depth) AS (SELECT r.ev_class, 1 FROM pg_catalog.pg_depend d "
	    "JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
	    "WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
	    "AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
	    "AND d.refobjid IN (SELECT oid FROM enc) AND r.ev_class <> d.refobjid "
	    "UNION SELECT r.ev_class, dep.depth + 1 FROM dep JOIN pg_catalog.pg_depend d "
	    "ON d.refobjid = dep.oid AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
	    "AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
	    "JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
	    "WHERE r.ev_class <> dep.oid AND dep.depth < 32) "
	    "SELECT c.oid, n.nspname, c.relname, a.attnum, a.attname, "
	    "CASE WHEN a.attnum = 1 THEN pg_catalog.pg_get_viewdef(c.oid) END "
	    "FROM (SELECT oid, max(depth) AS depth FROM dep GROUP BY oid) v "
	    "JOIN pg_catalog.pg_class c ON c.oid = v.oid AND c.relkind IN ('v', 'm') "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
	    "AND NOT a.attisdropped ORDER BY v.depth, c.oid, a.attnum";
	proto_put_bytes(b, head, sizeof(head) - 1);
	for (size_t i = 0; i < sc->ntables; i++) {
		const char *name = sc->tables[i].name;
		const char *dot = strrchr(name, '.');
		if (i)
			proto_put_u8(b, ',');
		proto_put_u8(b, '\'');
		for (const char *s = dot ? dot + 1 : name; *s; s++) {
			if (*s == '\'')
				proto_put_u8(b, '\'');
			proto_put_u8(b, (uint8_t)*s);
		}
		proto_put_u8(b, '\'');
	}
	proto_put_bytes(b, tail, sizeof(tail) - 1);
}

static void row_clear(struct crypt_view_row *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->names[i]);
	free(v->names);
	free(v->attnums);
	free(v->def);
	memset(v, 0, sizeof(*v));
}

/* The view read so far goes into the set being loaded, and its mapped columns into the catalog. */
static void row_flush(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	struct crypt_view_row *v = s->view_row;
	if (!v || !v->oid)
		return;
	if (!s->views_loading)
		s->views_loading = sql_views_new();
	const struct sql_view *sv = sql_views_add(s->views_loading, c->env->schema, v->nsp, v->rel,
						  (const char *const *)v->names, v->n, v->def);
	struct crypt_table_oid *e = NULL;
	for (size_t i = 0; i < sv->ncols; i++) {
		if (!sv->cols[i].col)
			continue;
		if (!e) {
			s->oids = pgs_xrealloc(s->oids, (size_t)(s->noids + 1) * sizeof(*s->oids));
			e = &s->oids[s->noids++];
			memset(e, 0, sizeof(*e));
			e->oid = v->oid;
		}
		e->attrs = pgs_xrealloc(e->attrs, (size_t)(e->nattr + 1) * sizeof(*e->attrs));
		e->attrs[e->nattr].attnum = v->attnums[i];
		e->attrs[e->nattr].col = sv->cols[i].col;
		e->nattr++;
	}
	log_conn(LOG_DEBUG, c->id, "catalog: view %s.%s over encrypted data (%d column(s) mapped)",
		 v->nsp, v->rel, e ? e->nattr : 0);
	row_clear(v);
}

void crypt_views_row(struct conn *c, const uint8_t *body, uint32_t blen)
{
	struct crypt_state *s = &c->crypt;
	struct proto_reader r;
	uint16_t n;
	const uint8_t *f[6] = {0};
	int32_t fl[6] = {0};
	proto_reader_init(&r, body, blen);
	if (proto_read_u16(&r, &n) != PGS_OK || n != 6)
		return;
	for (int i = 0; i < 6; i++) {
		if (proto_read_i32(&r, &fl[i]) != PGS_OK)
			return;
		if (fl[i] >= 0 && proto_read_bytes(&r, (size_t)fl[i], &f[i]) != PGS_OK)
			return;
		if (i < 5 && (fl[i] < 0 || fl[i] >= 256))
			return;
	}
	char num[256];
	memcpy(num, f[0], (size_t)fl[0]);
	num[fl[0]] = 0;
	uint32_t oid = (uint32_t)strtoul(num, NULL, 10);
	if (!s->view_row)
		s->view_row = pgs_xcalloc(1, sizeof(*s->view_row));
	struct crypt_view_row *v = s->view_row;
	if (v->oid != oid) {
		row_flush(c);
		v->oid = oid;
		memcpy(v->nsp, f[1], (size_t)fl[1]);
		v->nsp[fl[1]] = 0;
		memcpy(v->rel, f[2], (size_t)fl[2]);
		v->rel[fl[2]] = 0;
	}
	memcpy(num, f[3], (size_t)fl[3]);
	num[fl[3]] = 0;
	v->names = pgs_xrealloc(v->names, (v->n + 1) * sizeof(*v->names));
	v->attnums = pgs_xrealloc(v->attnums, (v->n + 1) * sizeof(*v->attnums));
	v->names[v->n] = pgs_xmalloc((size_t)fl[4] + 1);
	memcpy(v->names[v->n], f[4], (size_t)fl[4]);
	v->names[v->n][fl[4]] = 0;
	v->attnums[v->n] = (int16_t)atoi(num);
	v->n++;
	if (fl[5] >= 0 && !v->def) {
		v->def = pgs_xmalloc((size_t)fl[5] + 1);
		memcpy(v->def, f[5], (size_t)fl[5]);
		v->def[fl[5]] = 0;
	}
}

static void pending_clear(struct crypt_state *s)
{
	for (size_t i = 0; i < s->npending_views; i++)
		free(s->pending_views[i]);
	free(s->pending_views);
	s->pending_views = NULL;
	s->npending_views = 0;
}

/* The catalog answer is complete: its views replace the set in use. */
void crypt_views_finish(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	row_flush(c);
	sql_views_free(s->views);
	s->views = s->views_loading;
	s->views_loading = NULL;
	pending_clear(s);
	if (s->view_row) {
		row_clear(s->view_row);
		free(s->view_row);
		s->view_row = NULL;
	}
}

void crypt_views_free(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	sql_views_free(s->views);
	sql_views_free(s->views_loading);
	s->views = s->views_loading = NULL;
	if (s->view_row) {
		row_clear(s->view_row);
		free(s->view_row);
		s->view_row = NULL;
	}
	pending_clear(s);
}

void crypt_views_defined(struct conn *c, const struct sql_plan *plan)
{
	struct crypt_state *s = &c->crypt;
	for (size_t i = 0; plan && i < plan->ndefined_views; i++) {
		s->pending_views = pgs_xrealloc(s->pending_views,
						(s->npending_views + 1) * sizeof(*s->pending_views));
		s->pending_views[s->npending_views++] = pgs_xstrdup(plan->defined_views[i]);
	}
}

const char *crypt_views_pending(const struct conn *c, const char *text, size_t len)
{
	const struct crypt_state *s = &c->crypt;
	for (size_t i = 0; i < s->npending_views; i++) {
		const char *w = s->pending_views[i];
		size_t m = strlen(w);
		for (size_t k = 0; m && k + m <= len; k++)
			if (!strncasecmp(text + k, w, m))
				return w;
		for (size_t k = 0; k + 3 <= len; k++)
			if (!strncasecmp(text + k, "u&\"", 3))
				return w;
	}
	return NULL;
}
