/* fle_views.c - views over encrypted tables: found with the catalog (pg_depend, pg_rewrite),
 * their definitions run through the sql analysis, view columns mapped for the read path. */
#include "fle/fle_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/*
 * The process-wide registry of views defined through pgseal by any session: a session whose
 * catalog predates a registration treats that name as pending (texts naming it are refused)
 * and reloads its catalog at its next boundary. A registration is numbered once the defining
 * session saw its statement committed (ReadyForQuery 'I'); before that it is pending for all
 * other sessions. Bounded: a session older than an evicted entry refuses every text until it
 * reloaded.
 */
#define REG_MAX 1024
struct reg_entry {
	char *name;
	uint64_t owner; /* the defining session's id */
	uint64_t seq;   /* 0: not known to be committed yet */
};
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg_entry reg[REG_MAX];
static size_t reg_head, reg_len;
static uint64_t reg_seq;              /* the last number given (under reg_mu) */
static uint64_t reg_evicted;          /* the highest number evicted (under reg_mu) */
static _Atomic uint64_t reg_latest;   /* reg_seq, read without the lock */
static atomic_size_t reg_unconfirmed; /* entries with seq 0 */

uint64_t fle_views_latest(void)
{
	return atomic_load(&reg_latest);
}

static void reg_add(uint64_t owner, const char *name)
{
	pthread_mutex_lock(&reg_mu);
	if (reg_len == REG_MAX) {
		struct reg_entry *o = &reg[reg_head];
		if (o->seq > reg_evicted)
			reg_evicted = o->seq;
		if (!o->seq) {
			/* never numbered: nobody can tell whether they know it */
			reg_evicted = ++reg_seq;
			atomic_store(&reg_latest, reg_seq);
			atomic_fetch_sub(&reg_unconfirmed, 1);
		}
		free(o->name);
		reg_head = (reg_head + 1) % REG_MAX;
		reg_len--;
	}
	struct reg_entry *e = &reg[(reg_head + reg_len++) % REG_MAX];
	e->name = pgs_xstrdup(name);
	e->owner = owner;
	e->seq = 0;
	atomic_fetch_add(&reg_unconfirmed, 1);
	pthread_mutex_unlock(&reg_mu);
}

/* The session's registrations are committed (or rolled back, or the session ended). */
void fle_views_confirm(struct fle *f)
{
	if (!f->views_unconfirmed)
		return;
	f->views_unconfirmed = false;
	pthread_mutex_lock(&reg_mu);
	for (size_t i = 0; i < reg_len; i++) {
		struct reg_entry *e = &reg[(reg_head + i) % REG_MAX];
		if (e->owner == f->id && !e->seq) {
			e->seq = ++reg_seq;
			atomic_fetch_sub(&reg_unconfirmed, 1);
		}
	}
	atomic_store(&reg_latest, reg_seq);
	pthread_mutex_unlock(&reg_mu);
}

/* A name of the registry this session has not loaded that the text may name: copied to name. */
static bool reg_pending(const struct fle *f, const char *text, size_t len, char *name, size_t cap)
{
	bool found = false;
	if (atomic_load(&reg_unconfirmed) == 0 && atomic_load(&reg_latest) <= f->views_seen)
		return false;
	pthread_mutex_lock(&reg_mu);
	if (reg_evicted > f->views_seen) {
		snprintf(name, cap, "(defined by another session)");
		found = true;
	}
	bool uescape = !found && sql_text_mentions(text, len, "u&\"");
	for (size_t i = 0; i < reg_len && !found; i++) {
		const struct reg_entry *e = &reg[(reg_head + i) % REG_MAX];
		/* this session's own definitions: its own pending list and reload cover them */
		if (e->owner == f->id || (e->seq && e->seq <= f->views_seen))
			continue;
		/* a U&"..." identifier may spell any name */
		found = uescape || sql_text_mentions(text, len, e->name);
		if (found)
			snprintf(name, cap, "%s", e->name);
	}
	pthread_mutex_unlock(&reg_mu);
	return found;
}

/* The view (or child table) whose rows are being read (one row per column, a view's definition
 * on attnum 1, a child's configured ancestor on every row). */
struct fle_view_row {
	uint32_t oid;
	char nsp[256], rel[256];
	bool child;
	char pnsp[256], prel[256];
	char **names;
	int16_t *attnums;
	size_t n;
	char *def;
};

/* The tables named like a configured one (depth 0) and their descendants by inheritance or
 * partitioning (pg_inherits), as the CTE `enc(oid, depth)`. */
static void put_enc(struct pgs_buf *b, const struct schema *sc)
{
	static const char head[] = "WITH RECURSIVE enc(oid, depth) AS (SELECT c.oid, 0 FROM "
	                           "pg_catalog.pg_class c WHERE c.relname IN (";
	static const char tail[] = ") UNION SELECT i.inhrelid, enc.depth + 1 FROM enc "
	                           "JOIN pg_catalog.pg_inherits i ON i.inhparent = enc.oid "
	                           "WHERE enc.depth < 32)";
	pgs_buf_append(b, head, sizeof(head) - 1);
	for (size_t i = 0; i < sc->ntables; i++) {
		const char *name = sc->tables[i].name;
		const char *dot = strrchr(name, '.');
		if (i)
			proto_put_u8(b, ',');
		fle_put_literal(b, dot ? dot + 1 : name);
	}
	pgs_buf_append(b, tail, sizeof(tail) - 1);
}

/*
 * Two statements. First the child tables and partitions of tables named like a configured one,
 * with their nearest such ancestor (a path PostgreSQL follows by itself: rows written to a child
 * are read through the parent). Columns: oid, nspname, relname, attnum, attname, the ancestor's
 * nspname and relname. Then the views (and materialized views) that depend, directly or through
 * other views, on those tables or their children; deepest last, so a view's definition is
 * analysed after the views it reads. Columns: oid, nspname, relname, attnum, attname, definition
 * (on attnum 1).
 */
void fle_views_query(struct pgs_buf *b, const struct schema *sc)
{
	static const char kids[] =
	    ", kid(oid, top, depth) AS (SELECT i.inhrelid, i.inhparent, 1 "
	    "FROM pg_catalog.pg_inherits i WHERE i.inhparent IN (SELECT oid FROM enc WHERE depth = "
	    "0) "
	    "UNION SELECT i.inhrelid, kid.top, kid.depth + 1 FROM kid "
	    "JOIN pg_catalog.pg_inherits i ON i.inhparent = kid.oid WHERE kid.depth < 32) "
	    "SELECT c.oid, n.nspname, c.relname, a.attnum, a.attname, pn.nspname, p.relname "
	    "FROM (SELECT DISTINCT ON (oid) oid, top FROM kid ORDER BY oid, depth) k "
	    "JOIN pg_catalog.pg_class c ON c.oid = k.oid "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "JOIN pg_catalog.pg_class p ON p.oid = k.top "
	    "JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace "
	    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
	    "AND NOT a.attisdropped ORDER BY c.oid, a.attnum; ";
	static const char views[] =
	    ", dep(oid, depth) AS (SELECT r.ev_class, 1 FROM pg_catalog.pg_depend d "
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
	put_enc(b, sc);
	pgs_buf_append(b, kids, sizeof(kids) - 1);
	put_enc(b, sc);
	pgs_buf_append(b, views, sizeof(views) - 1);
}

static void row_clear(struct fle_view_row *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->names[i]);
	free(v->names);
	free(v->attnums);
	free(v->def);
	memset(v, 0, sizeof(*v));
}

/* The view read so far goes into the set being loaded, and its mapped columns into the catalog. */
static void row_flush(struct fle *f)
{
	struct fle *s = f;
	struct fle_view_row *v = s->view_row;
	if (!v || !v->oid)
		return;
	if (!s->views_loading) {
		s->views_loading = sql_views_new();
		/* pg_get_viewdef wrote the definitions under the setting in force when the catalog
		 * query ran, which the reports before its answer have told */
		s->views_loading->scs_off = fle_lex_scs_off(f);
	}
	const struct sql_view *sv =
	    v->child ? sql_views_add_child(s->views_loading, f->schema, v->nsp, v->rel,
	                                   (const char *const *)v->names, v->n, v->pnsp, v->prel)
	             : sql_views_add(s->views_loading, f->schema, v->nsp, v->rel,
	                             (const char *const *)v->names, v->n, v->def);
	struct fle_table_oid *e = NULL;
	for (size_t i = 0; sv && i < sv->ncols; i++) {
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
	log_conn(LOG_DEBUG, f->id, "catalog: %s %s.%s over encrypted data (%d column(s) mapped)",
	         v->child ? "child table" : "view", v->nsp, v->rel, e ? e->nattr : 0);
	row_clear(v);
}

int fle_catalog_number(const char *text, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return PGS_ERR;
	*out = v;
	return PGS_OK;
}

void fle_views_row(struct fle *f, const uint8_t *body, uint32_t blen)
{
	struct fle *s = f;
	struct proto_data_row row;
	const uint8_t *fld[7] = {0};
	int32_t fl[7] = {0};
	if (proto_decode_data_row(body, blen, &row) != PGS_OK || (row.ncols != 6 && row.ncols != 7))
		return;
	uint16_t n = row.ncols;
	struct proto_value_iter it;
	proto_value_iter_init(&it, row.values, row.values_len);
	for (int i = 0; i < n; i++) {
		if (!proto_value_next(&it, &fld[i], &fl[i]))
			return;
		/* a child's row: its ancestor's names (fields 5, 6) too */
		if ((i < 5 || n == 7) && (fl[i] < 0 || fl[i] >= 256))
			return;
	}
	char num[256];
	memcpy(num, fld[0], (size_t)fl[0]);
	num[fl[0]] = 0;
	long oidv, attv;
	if (fle_catalog_number(num, 0, UINT32_MAX, &oidv) != PGS_OK)
		return;
	uint32_t oid = (uint32_t)oidv;
	memcpy(num, fld[3], (size_t)fl[3]);
	num[fl[3]] = 0;
	if (fle_catalog_number(num, INT16_MIN, INT16_MAX, &attv) != PGS_OK)
		return;
	if (!s->view_row)
		s->view_row = pgs_xcalloc(1, sizeof(*s->view_row));
	struct fle_view_row *v = s->view_row;
	if (v->oid != oid) {
		row_flush(f);
		v->oid = oid;
		memcpy(v->nsp, fld[1], (size_t)fl[1]);
		v->nsp[fl[1]] = 0;
		memcpy(v->rel, fld[2], (size_t)fl[2]);
		v->rel[fl[2]] = 0;
		v->child = n == 7;
		if (v->child) {
			memcpy(v->pnsp, fld[5], (size_t)fl[5]);
			v->pnsp[fl[5]] = 0;
			memcpy(v->prel, fld[6], (size_t)fl[6]);
			v->prel[fl[6]] = 0;
		}
	}
	v->names = pgs_xrealloc(v->names, (v->n + 1) * sizeof(*v->names));
	v->attnums = pgs_xrealloc(v->attnums, (v->n + 1) * sizeof(*v->attnums));
	v->names[v->n] = pgs_xmalloc((size_t)fl[4] + 1);
	memcpy(v->names[v->n], fld[4], (size_t)fl[4]);
	v->names[v->n][fl[4]] = 0;
	v->attnums[v->n] = (int16_t)attv;
	v->n++;
	if (n == 6 && fl[5] >= 0 && !v->def) {
		v->def = pgs_xmalloc((size_t)fl[5] + 1);
		memcpy(v->def, fld[5], (size_t)fl[5]);
		v->def[fl[5]] = 0;
	}
}

/* Forgets the first n pending names. */
static void pending_drop(struct fle *s, size_t n)
{
	if (n > s->npending_views)
		n = s->npending_views;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		free(s->pending_views[i]);
	memmove(s->pending_views, s->pending_views + n,
	        (s->npending_views - n) * sizeof(*s->pending_views));
	s->npending_views -= n;
	s->pending_first += n;
	if (!s->npending_views) {
		free(s->pending_views);
		s->pending_views = NULL;
	}
}

void fle_views_finish(struct fle *f, uint64_t upto, uint64_t reg_upto, bool failed, uint8_t status)
{
	struct fle *s = f;
	if (failed) {
		/* keep what was known (views, pending names); try again at the next boundary */
		sql_views_free(s->views_loading);
		s->views_loading = NULL;
		if (s->view_row)
			row_clear(s->view_row);
		s->catalog_stale = true;
		s->views_requested = s->views_seen;
		return;
	}
	if (status == 'I' && reg_upto > s->views_seen)
		s->views_seen = reg_upto;
	else if (status != 'I' && reg_upto > s->views_seen)
		s->views_requested = s->views_seen; /* ask again outside the transaction */
	row_flush(f);
	sql_views_free(s->views);
	s->views = s->views_loading;
	s->views_loading = NULL;
	pending_drop(s, upto > s->pending_first ? (size_t)(upto - s->pending_first) : 0);
	if (s->view_row) {
		row_clear(s->view_row);
		free(s->view_row);
		s->view_row = NULL;
	}
}

void fle_views_free(struct fle *f)
{
	struct fle *s = f;
	sql_views_free(s->views);
	sql_views_free(s->views_loading);
	s->views = s->views_loading = NULL;
	if (s->view_row) {
		row_clear(s->view_row);
		free(s->view_row);
		s->view_row = NULL;
	}
	pending_drop(s, s->npending_views);
	fle_views_confirm(f);
}

void fle_views_defined(struct fle *f, const struct sql_plan *plan)
{
	struct fle *s = f;
	for (size_t i = 0; plan && i < plan->ndefined_views; i++) {
		s->pending_views = pgs_xrealloc(s->pending_views, (s->npending_views + 1) *
		                                                      sizeof(*s->pending_views));
		s->pending_views[s->npending_views++] = pgs_xstrdup(plan->defined_views[i]);
		reg_add(f->id, plan->defined_views[i]);
		s->views_unconfirmed = true;
	}
}

bool fle_views_pending(const struct fle *f, const char *text, size_t len, char *name, size_t cap)
{
	const struct fle *s = f;
	/* every statement passes here: the text is scanned only when a view is pending */
	bool uescape = s->npending_views && sql_text_mentions(text, len, "u&\"");
	for (size_t i = 0; i < s->npending_views; i++) {
		const char *w = s->pending_views[i];
		if (uescape || sql_text_mentions(text, len, w)) {
			snprintf(name, cap, "%s", w);
			return true;
		}
	}
	return reg_pending(f, text, len, name, cap);
}
