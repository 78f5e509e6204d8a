/* conn_crypt.c - the encryption layer's bookkeeping: statements, portals, the expected-response
 * queue, the catalog. */
#include "conn/conn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "keys/keys.h"

bool crypt_enabled(const struct conn *c)
{
	return c->schema && c->schema->nencrypted > 0;
}

void crypt_init(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	memset(s, 0, sizeof(*s));
	s->at_sync_boundary = true;
	c->crypt_on = true;
	if (c->client.ssl && c->has_peer) {
		X509 *cert = SSL_get0_peer_certificate(c->client.ssl);
		if (cert && keys_client_id_x509(cert, s->client_id) != PGS_OK)
			s->client_id[0] = 0;
	}
}

void crypt_layout_unref(struct crypt_layout *l)
{
	if (l && --l->refs == 0)
		free(l);
}

static struct crypt_layout *layout_ref(struct crypt_layout *l)
{
	if (l)
		l->refs++;
	return l;
}

static void stmt_free(struct crypt_stmt *st)
{
	if (--st->refs > 0)
		return;
	free(st->name);
	if (st->owns_plan)
		sql_plan_free(st->plan);
	free(st->param_oids);
	crypt_layout_unref(st->layout);
	for (int i = 0; i < st->ndeps; i++) {
		free(st->deps[i].name);
		crypt_stmt_unref(st->deps[i].stmt);
	}
	free(st->deps);
	free(st);
}

static void portal_free(struct crypt_portal *p)
{
	if (--p->refs > 0)
		return;
	free(p->name);
	if (p->stmt)
		stmt_free(p->stmt);
	crypt_layout_unref(p->layout);
	free(p->formats);
	free(p);
}

struct crypt_stmt *crypt_stmt_ref(struct crypt_stmt *st)
{
	if (st)
		st->refs++;
	return st;
}

void crypt_stmt_unref(struct crypt_stmt *st)
{
	if (st)
		stmt_free(st);
}

struct crypt_portal *crypt_portal_ref(struct crypt_portal *p)
{
	if (p)
		p->refs++;
	return p;
}

void crypt_portal_unref(struct crypt_portal *p)
{
	if (p)
		portal_free(p);
}

static void expect_clear(struct crypt_expect *e)
{
	free(e->name);
	crypt_stmt_unref(e->stmt);
	crypt_portal_unref(e->portal);
	crypt_layout_unref(e->layout);
	if (e->owns_plan)
		sql_plan_free(e->plan);
	memset(e, 0, sizeof(*e));
}

void crypt_free(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	while (s->stmts) {
		struct crypt_stmt *n = s->stmts->next;
		stmt_free(s->stmts);
		s->stmts = n;
	}
	while (s->portals) {
		struct crypt_portal *n = s->portals->next;
		portal_free(s->portals);
		s->portals = n;
	}
	while (s->fifo_len) {
		expect_clear(&s->fifo[s->fifo_head]);
		s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
		s->fifo_len--;
	}
	free(s->fifo);
	crypt_prepared_free(c);
	crypt_layout_unref(s->query_layout);
	crypt_views_free(c);
	for (int i = 0; i < s->noids; i++)
		free(s->oids[i].attrs);
	free(s->oids);
	crypt_copy_free(c);
	memset(s, 0, sizeof(*s));
}

/* ---- the expected-response queue ------------------------------------------------ */

struct crypt_expect *crypt_push(struct conn *c, enum crypt_expect_kind kind, const char *name)
{
	struct crypt_state *s = &c->crypt;
	if (s->fifo_len == s->fifo_cap) {
		uint32_t cap = s->fifo_cap ? s->fifo_cap * 2 : 16;
		struct crypt_expect *f = pgs_xcalloc(cap, sizeof(*f));
		for (uint32_t i = 0; i < s->fifo_len; i++)
			f[i] = s->fifo[(s->fifo_head + i) % s->fifo_cap];
		free(s->fifo);
		s->fifo = f;
		s->fifo_cap = cap;
		s->fifo_head = 0;
	}
	struct crypt_expect *e = &s->fifo[(s->fifo_head + s->fifo_len) % s->fifo_cap];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = name ? pgs_xstrdup(name) : NULL;
	s->fifo_len++;
	if (kind == EX_QUERY || kind == EX_CATALOG)
		crypt_prepared_query_sent(c);
	return e;
}

struct crypt_expect *crypt_head(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	return s->fifo_len ? &s->fifo[s->fifo_head] : NULL;
}

/* Pops the head: it was answered; the namespace changes it still holds are applied (an
 * ErrorResponse rolls them back before). */
void crypt_pop(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	if (!s->fifo_len)
		return;
	crypt_prepared_settle(c, &s->fifo[s->fifo_head], true);
	expect_clear(&s->fifo[s->fifo_head]);
	s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
	s->fifo_len--;
}

/* ---- statements and portals -------------------------------------------------------- */

struct crypt_stmt *crypt_stmt_new(const char *name)
{
	struct crypt_stmt *st = pgs_xcalloc(1, sizeof(*st));
	st->refs = 1;
	st->name = pgs_xstrdup(name);
	return st;
}

struct crypt_portal *crypt_portal_find(struct conn *c, const char *name)
{
	for (struct crypt_portal *p = c->crypt.portals; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

void crypt_portal_remove(struct conn *c, const char *name)
{
	for (struct crypt_portal **pp = &c->crypt.portals; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct crypt_portal *p = *pp;
			*pp = p->next;
			portal_free(p);
			return;
		}
	}
}

struct crypt_portal *crypt_portal_add(struct conn *c, const char *name)
{
	crypt_portal_remove(c, name);
	struct crypt_portal *p = pgs_xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->name = pgs_xstrdup(name);
	p->next = c->crypt.portals;
	c->crypt.portals = p;
	return p;
}

/* Unnamed portals die at the next Sync in a transaction-less session; a new Bind of
 * the unnamed portal replaces it, so keeping it until then is harmless. */

/* The layout of an Execute: the portal's own (from Describe), else its statement's
 * columns with the Bind's result formats. */
struct crypt_layout *crypt_portal_layout(struct crypt_portal *p)
{
	if (!p)
		return NULL;
	if (p->layout)
		return layout_ref(p->layout);
	if (!p->stmt || !p->stmt->layout)
		return NULL;
	struct crypt_layout *src = p->stmt->layout;
	struct crypt_layout *l =
	    pgs_xcalloc(1, sizeof(*l) + (size_t)src->ncols * sizeof(l->cols[0]));
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

struct crypt_layout *crypt_layout_ref(struct crypt_layout *l)
{
	return layout_ref(l);
}

/* ---- the catalog: OIDs of encrypted tables in this database ------------------------- */

const struct schema_column *crypt_catalog_column(struct conn *c, uint32_t table_oid, int16_t attnum)
{
	struct crypt_state *s = &c->crypt;
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
void crypt_catalog_request(struct conn *c)
{
	const struct schema *sc = c->schema;
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
		crypt_put_literal(&b, dot ? dot + 1 : name);
	}
	pgs_buf_append(&b, "); ", 3);
	/* views over those tables, in the same round trip (conn_views.c) */
	crypt_views_query(&b, sc);
	proto_put_u8(&b, 0);
	proto_msg_end(&b, off);
	sbuf_inject(&c->c2s, b.data, (uint32_t)b.len);
	pgs_buf_free(&b);
	struct crypt_expect *e = crypt_push(c, EX_CATALOG, NULL);
	e->pending_upto = c->crypt.pending_first + c->crypt.npending_views;
	e->reg_upto = c->crypt.views_requested = crypt_views_latest();
	/* the new answer replaces the old map when it arrives */
	for (int i = 0; i < c->crypt.noids; i++)
		free(c->crypt.oids[i].attrs);
	c->crypt.noids = 0;
	c->crypt.catalog_stale = false;
	c->crypt.catalog_loaded = true;
	log_conn(LOG_DEBUG, c->id, "catalog lookup of the encrypted tables sent");
}

void crypt_catalog_refresh(struct conn *c)
{
	crypt_catalog_request(c);
	struct crypt_state *s = &c->crypt;
	s->fifo[(s->fifo_head + s->fifo_len - 1) % s->fifo_cap].hold_ready = true;
	log_conn(LOG_DEBUG, c->id, "catalog reload after a view definition");
}

/* One DataRow of the catalog answer: oid, nspname, relname, attnum, attname (text); or a
 * view's row (six columns) or a child table's (seven, conn_views.c). */
void crypt_catalog_row(struct conn *c, const uint8_t *body, uint32_t blen)
{
	struct proto_reader r;
	uint16_t n;
	char f[5][256];
	proto_reader_init(&r, body, blen);
	if (proto_read_u16(&r, &n) != PGS_OK)
		return;
	if (n == 6 || n == 7) {
		/* a view's row, or a child table's (conn_views.c) */
		crypt_views_row(c, body, blen);
		return;
	}
	if (n != 5)
		return;
	for (int i = 0; i < 5; i++) {
		int32_t len;
		const uint8_t *p;
		if (proto_read_i32(&r, &len) != PGS_OK || len < 0 || len >= 256 ||
		    proto_read_bytes(&r, (size_t)len, &p) != PGS_OK)
			return;
		memcpy(f[i], p, (size_t)len);
		f[i][len] = 0;
	}
	uint32_t oid = (uint32_t)strtoul(f[0], NULL, 10);
	int16_t attnum = (int16_t)atoi(f[3]);
	const struct schema *sc = c->schema;
	const struct schema_table *t = NULL;
	for (size_t i = 0; i < sc->ntables && !t; i++) {
		const char *name = sc->tables[i].name;
		const char *dot = strrchr(name, '.');
		if (dot) {
			if ((size_t)(dot - name) == strlen(f[1]) &&
			    !strncmp(name, f[1], strlen(f[1])) && !strcmp(dot + 1, f[2]))
				t = &sc->tables[i];
		} else if (!strcmp(name, f[2])) {
			t = &sc->tables[i];
		}
	}
	if (!t)
		return;
	const struct schema_column *col = schema_find_column(t, f[4]);
	struct crypt_state *s = &c->crypt;
	struct crypt_table_oid *e = NULL;
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
