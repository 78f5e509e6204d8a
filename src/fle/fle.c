/* fle.c - the encryption layer's bookkeeping: statements, portals, the expected-response
 * queue, the catalog. */
#include "fle/fle_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "crypto/crypto.h"

bool fle_schema_enabled(const struct schema *sc)
{
	return sc && sc->nencrypted > 0;
}

struct fle *fle_new(const struct fle_config *cfg)
{
	struct fle *f = pgs_xcalloc(1, sizeof(*f));
	f->id = cfg->conn_id;
	f->schema = cfg->schema;
	f->kw = cfg->kw;
	f->plans = cfg->plans;
	f->max_message_size = cfg->max_message_size;
	f->param = cfg->param;
	f->param_arg = cfg->param_arg;
	f->at_sync_boundary = true;
	if (cfg->client_id)
		(void)snprintf(f->client_id, sizeof(f->client_id), "%s", cfg->client_id);
	return f;
}

void fle_layout_unref(struct fle_layout *l)
{
	if (l && --l->refs == 0)
		free(l);
}

static struct fle_layout *layout_ref(struct fle_layout *l)
{
	if (l)
		l->refs++;
	return l;
}

static void stmt_free(struct fle_stmt *st)
{
	if (--st->refs > 0)
		return;
	free(st->name);
	if (st->owns_plan)
		sql_plan_free(st->plan);
	free(st->param_oids);
	fle_layout_unref(st->layout);
	for (int i = 0; i < st->ndeps; i++) {
		free(st->deps[i].name);
		fle_stmt_unref(st->deps[i].stmt);
	}
	free(st->deps);
	free(st);
}

static void portal_free(struct fle_portal *p)
{
	if (--p->refs > 0)
		return;
	free(p->name);
	if (p->stmt)
		stmt_free(p->stmt);
	fle_layout_unref(p->layout);
	free(p->formats);
	free(p);
}

struct fle_stmt *fle_stmt_ref(struct fle_stmt *st)
{
	if (st)
		st->refs++;
	return st;
}

void fle_stmt_unref(struct fle_stmt *st)
{
	if (st)
		stmt_free(st);
}

struct fle_portal *fle_portal_ref(struct fle_portal *p)
{
	if (p)
		p->refs++;
	return p;
}

void fle_portal_unref(struct fle_portal *p)
{
	if (p)
		portal_free(p);
}

static void expect_clear(struct fle_expect *e)
{
	free(e->name);
	fle_stmt_unref(e->stmt);
	fle_portal_unref(e->portal);
	fle_layout_unref(e->layout);
	if (e->owns_plan)
		sql_plan_free(e->plan);
	memset(e, 0, sizeof(*e));
}

void fle_free(struct fle *f)
{
	struct fle *s = f;
	if (!f)
		return;
	while (s->stmts) {
		struct fle_stmt *n = s->stmts->next;
		stmt_free(s->stmts);
		s->stmts = n;
	}
	while (s->portals) {
		struct fle_portal *n = s->portals->next;
		portal_free(s->portals);
		s->portals = n;
	}
	while (s->fifo_len) {
		expect_clear(&s->fifo[s->fifo_head]);
		s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
		s->fifo_len--;
	}
	free(s->fifo);
	fle_prepared_free(f);
	fle_layout_unref(s->query_layout);
	fle_views_free(f);
	for (int i = 0; i < s->noids; i++)
		free(s->oids[i].attrs);
	free(s->oids);
	fle_copy_free(f);
	pgs_buf_free(&s->row_raw);
	pgs_buf_free(&s->row_out);
	pgs_buf_free(&s->value_pt);
	crypto_wipe(s, sizeof(*s));
	free(s);
}

bool fle_idle(const struct fle *f)
{
	return !f->fifo_len && f->copy_in == FLE_COPY_NONE && !f->copy_out && !f->client_held &&
	       !f->hold_first_ready;
}

bool fle_client_held(struct fle *f)
{
	bool held = f->client_held;
	f->client_held = false;
	return held;
}

/* ---- the action ------------------------------------------------------------------- */

/* An action buffer that grew past this is given back at its next reset (a huge row). */
#define ACT_KEEP (256u * 1024u)

static void act_buf_reset(struct pgs_buf *b)
{
	if (!b->data)
		return;
	/* what lies beyond len was wiped before (reset, or a wiping grow) */
	crypto_wipe(b->data, b->len);
	b->len = 0;
	if (b->cap > ACT_KEEP)
		pgs_buf_free(b);
}

void fle_action_reset(struct fle_action *act)
{
	act_buf_reset(&act->fwd);
	act_buf_reset(&act->back);
	act->verdict = FLE_PASS;
	act->ready = 0;
	act->sqlstate[0] = 0;
	act->message[0] = 0;
}

void fle_action_free(struct fle_action *act)
{
	fle_action_reset(act);
	pgs_buf_free(&act->fwd);
	pgs_buf_free(&act->back);
}

void fle_begin(struct fle *f, struct fle_action *act, uint8_t type, const uint8_t *body,
               uint32_t blen, bool from_client)
{
	fle_action_reset(act);
	f->act = act;
	f->to_server = from_client ? &act->fwd : &act->back;
	f->msg_type = type;
	f->msg_body = body;
	f->msg_blen = blen;
}

int fle_fail(struct fle *f, const char *sqlstate, const char *msg)
{
	struct fle_action *act = f->act;
	/* nothing of what was being built goes anywhere */
	act_buf_reset(&act->fwd);
	act_buf_reset(&act->back);
	act->verdict = FLE_FAIL;
	(void)snprintf(act->sqlstate, sizeof(act->sqlstate), "%s", sqlstate);
	(void)snprintf(act->message, sizeof(act->message), "%s", msg);
	return PGS_ERR;
}

void fle_put_current(struct fle *f)
{
	struct pgs_buf *b = fle_fwd(f);
	pgs_buf_reserve(b, (size_t)f->msg_blen + PROTO_HDR_LEN);
	proto_put_u8(b, f->msg_type);
	proto_put_u32(b, f->msg_blen + 4);
	pgs_buf_append(b, f->msg_body, f->msg_blen);
	f->act->verdict = FLE_REPLACE;
}

/* ---- the expected-response queue ------------------------------------------------ */

struct fle_expect *fle_push(struct fle *f, enum fle_expect_kind kind, const char *name)
{
	struct fle *s = f;
	if (s->fifo_len == s->fifo_cap) {
		uint32_t cap = s->fifo_cap ? s->fifo_cap * 2 : 16;
		struct fle_expect *q = pgs_xcalloc(cap, sizeof(*q));
		for (uint32_t i = 0; i < s->fifo_len; i++)
			q[i] = s->fifo[(s->fifo_head + i) % s->fifo_cap];
		free(s->fifo);
		s->fifo = q;
		s->fifo_cap = cap;
		s->fifo_head = 0;
	}
	struct fle_expect *e = &s->fifo[(s->fifo_head + s->fifo_len) % s->fifo_cap];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = name ? pgs_xstrdup(name) : NULL;
	s->fifo_len++;
	if (kind == EX_QUERY || kind == EX_CATALOG)
		fle_prepared_query_sent(f);
	return e;
}

struct fle_expect *fle_head(struct fle *f)
{
	struct fle *s = f;
	return s->fifo_len ? &s->fifo[s->fifo_head] : NULL;
}

/* Pops the head: it was answered; the namespace changes it still holds are applied (an
 * ErrorResponse rolls them back before). */
void fle_pop(struct fle *f)
{
	struct fle *s = f;
	if (!s->fifo_len)
		return;
	fle_prepared_settle(f, &s->fifo[s->fifo_head], true);
	expect_clear(&s->fifo[s->fifo_head]);
	s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
	s->fifo_len--;
}

/* ---- statements and portals -------------------------------------------------------- */

struct fle_stmt *fle_stmt_new(const char *name)
{
	struct fle_stmt *st = pgs_xcalloc(1, sizeof(*st));
	st->refs = 1;
	st->name = pgs_xstrdup(name);
	return st;
}

struct fle_portal *fle_portal_find(struct fle *f, const char *name)
{
	for (struct fle_portal *p = f->portals; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

void fle_portal_remove(struct fle *f, const char *name)
{
	for (struct fle_portal **pp = &f->portals; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct fle_portal *p = *pp;
			*pp = p->next;
			portal_free(p);
			return;
		}
	}
}

struct fle_portal *fle_portal_add(struct fle *f, const char *name)
{
	fle_portal_remove(f, name);
	struct fle_portal *p = pgs_xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->name = pgs_xstrdup(name);
	p->next = f->portals;
	f->portals = p;
	return p;
}

/* Unnamed portals die at the next Sync in a transaction-less session; a new Bind of
 * the unnamed portal replaces it, so keeping it until then is harmless. */

/* The layout of an Execute: the portal's own (from Describe), else its statement's
 * columns with the Bind's result formats. */
struct fle_layout *fle_portal_layout(struct fle_portal *p)
{
	if (!p)
		return NULL;
	if (p->layout)
		return layout_ref(p->layout);
	if (!p->stmt || !p->stmt->layout)
		return NULL;
	struct fle_layout *src = p->stmt->layout;
	struct fle_layout *l = pgs_xcalloc(1, sizeof(*l) + (size_t)src->ncols * sizeof(l->cols[0]));
	l->refs = 1;
	l->ncols = src->ncols;
	l->any_encrypted = src->any_encrypted;
	for (int i = 0; i < src->ncols; i++) {
		l->cols[i].col = src->cols[i].col;
		l->cols[i].format = p->nformats == 0   ? 0
		                    : p->nformats == 1 ? p->formats[0]
		                    : i < p->nformats  ? p->formats[i]
		                                       : 0;
	}
	return l;
}

struct fle_layout *fle_layout_ref(struct fle_layout *l)
{
	return layout_ref(l);
}

/* ---- the catalog: OIDs of encrypted tables in this database ------------------------- */

const struct schema_column *fle_catalog_column(struct fle *f, uint32_t table_oid, int16_t attnum)
{
	struct fle *s = f;
	if (!table_oid || attnum <= 0)
		return NULL;
	for (int i = 0; i < s->noids; i++) {
		if (s->oids[i].oid != table_oid)
			continue;
		for (int j = 0; j < s->oids[i].nattr; j++)
			if (s->oids[i].attrs[j].attnum == attnum)
				return s->oids[i].attrs[j].col;
		return NULL;
	}
	return NULL;
}

/* Sends pgseal's catalog query ahead of whatever the client sends next. */
void fle_catalog_request(struct fle *f)
{
	const struct schema *sc = f->schema;
	struct pgs_buf b = {0};
	size_t off = proto_msg_begin(&b, 'Q');
	static const char head[] =
	    "SELECT c.oid, n.nspname, c.relname, a.attnum, a.attname FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_attribute "
	    "a "
	    "ON a.attrelid = c.oid WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relname IN (";
	pgs_buf_append(&b, head, sizeof(head) - 1);
	for (size_t i = 0; i < sc->ntables; i++) {
		const char *name = sc->tables[i].name;
		const char *dot = strrchr(name, '.');
		if (i)
			proto_put_u8(&b, ',');
		fle_put_literal(&b, dot ? dot + 1 : name);
	}
	pgs_buf_append(&b, "); ", 3);
	/* views over those tables, in the same round trip (fle_views.c) */
	fle_views_query(&b, sc);
	proto_put_u8(&b, 0);
	proto_msg_end(&b, off);
	pgs_buf_append(f->to_server, b.data, b.len);
	pgs_buf_free(&b);
	struct fle_expect *e = fle_push(f, EX_CATALOG, NULL);
	e->pending_upto = f->pending_first + f->npending_views;
	e->reg_upto = f->views_requested = fle_views_latest();
	/* the new answer replaces the old map when it arrives */
	for (int i = 0; i < f->noids; i++)
		free(f->oids[i].attrs);
	f->noids = 0;
	f->catalog_stale = false;
	f->catalog_loaded = true;
	log_conn(LOG_DEBUG, f->id, "catalog lookup of the encrypted tables sent");
}

void fle_catalog_refresh(struct fle *f)
{
	fle_catalog_request(f);
	struct fle *s = f;
	s->fifo[(s->fifo_head + s->fifo_len - 1) % s->fifo_cap].hold_ready = true;
	log_conn(LOG_DEBUG, f->id, "catalog reload after a view definition");
}

/* One DataRow of the catalog answer: oid, nspname, relname, attnum, attname (text); or a
 * view's row (six columns) or a child table's (seven, fle_views.c). */
void fle_catalog_row(struct fle *f, const uint8_t *body, uint32_t blen)
{
	struct proto_data_row row;
	char fld[5][256];
	if (proto_decode_data_row(body, blen, &row) != PGS_OK)
		return;
	uint16_t n = row.ncols;
	if (n == 6 || n == 7) {
		/* a view's row, or a child table's (fle_views.c) */
		fle_views_row(f, body, blen);
		return;
	}
	if (n != 5)
		return;
	struct proto_value_iter it;
	proto_value_iter_init(&it, row.values, row.values_len);
	for (int i = 0; i < 5; i++) {
		int32_t len;
		const uint8_t *p;
		if (!proto_value_next(&it, &p, &len) || len < 0 || len >= 256)
			return;
		memcpy(fld[i], p, (size_t)len);
		fld[i][len] = 0;
	}
	long oidv, attv;
	/* a row that does not read as the query's oid and attnum is no row of the map */
	if (fle_catalog_number(fld[0], 0, UINT32_MAX, &oidv) != PGS_OK ||
	    fle_catalog_number(fld[3], INT16_MIN, INT16_MAX, &attv) != PGS_OK)
		return;
	uint32_t oid = (uint32_t)oidv;
	int16_t attnum = (int16_t)attv;
	const struct schema *sc = f->schema;
	const struct schema_table *t = NULL;
	for (size_t i = 0; i < sc->ntables && !t; i++) {
		const char *name = sc->tables[i].name;
		const char *dot = strrchr(name, '.');
		if (dot) {
			if ((size_t)(dot - name) == strlen(fld[1]) &&
			    !strncmp(name, fld[1], strlen(fld[1])) && !strcmp(dot + 1, fld[2]))
				t = &sc->tables[i];
		} else if (!strcmp(name, fld[2])) {
			t = &sc->tables[i];
		}
	}
	if (!t)
		return;
	const struct schema_column *col = schema_find_column(t, fld[4]);
	struct fle *s = f;
	struct fle_table_oid *e = NULL;
	for (int i = 0; i < s->noids; i++)
		if (s->oids[i].oid == oid)
			e = &s->oids[i];
	if (!e) {
		s->oids = pgs_xrealloc(s->oids, (size_t)(s->noids + 1) * sizeof(*s->oids));
		e = &s->oids[s->noids++];
		memset(e, 0, sizeof(*e));
		e->oid = oid;
		e->table = t;
	}
	if (!col)
		return;
	e->attrs = pgs_xrealloc(e->attrs, (size_t)(e->nattr + 1) * sizeof(*e->attrs));
	e->attrs[e->nattr].attnum = attnum;
	e->attrs[e->nattr].col = col;
	e->nattr++;
}
