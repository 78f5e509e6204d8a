/* conn_rewrite.c - the encryption layer's write path: Query, Parse and Bind rewritten, values
 * encrypted, the plan cache. */
#include "conn/conn_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "metrics/metrics.h"

#define PLAN_CACHE_BUCKETS 1024u
#define PLAN_CACHE_MAX 8192u

/* ---- the per-worker plan cache -------------------------------------------------- */

struct plan_entry {
	struct plan_entry *next;
	uint64_t hash;
	uint8_t lex; /* lex_key: the settings the plan was made under */
	char *text;
	size_t len;
	struct sql_plan *plan;
};

struct crypt_plan_cache {
	struct plan_entry *buckets[PLAN_CACHE_BUCKETS];
	size_t n;
	uint64_t generation; /* the schema its plans were made under (the newest seen) */
	struct crypt_plan_cache
	    *retired; /* caches of older schemas: sessions may borrow from them */
};

void crypt_plan_cache_free(struct crypt_plan_cache *pc)
{
	if (!pc)
		return;
	crypt_plan_cache_free(pc->retired);
	for (size_t i = 0; i < PLAN_CACHE_BUCKETS; i++) {
		while (pc->buckets[i]) {
			struct plan_entry *e = pc->buckets[i];
			pc->buckets[i] = e->next;
			/* statement texts may hold literals of encrypted columns */
			crypto_wipe(e->text, e->len);
			free(e->text);
			sql_plan_free(e->plan);
			free(e);
		}
	}
	free(pc);
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/* The part of the cache key that the lexing settings make: 0 for a text that lexes the same
 * under both settings of standard_conforming_strings, else which one and whether settled. */
static uint8_t lex_key(const char *text, size_t len, const struct sql_lex *lex)
{
	if (sql_lex_neutral(text, len))
		return 0;
	return (uint8_t)(1 + (lex->scs_off ? 1 : 0) + (lex->settled ? 2 : 0));
}

/* The plan of a text, analysed once per worker and lexing settings. *owned: the caller must
 * free it (the cache was full). NULL on out of memory. */
static struct sql_plan *plan_get(struct conn *c, const char *text, size_t len,
                                 const struct sql_lex *lex, bool *owned)
{
	struct conn_worker *w = c->worker;
	struct sql_plan *plan = NULL;
	*owned = false;
	if (!w->plans || w->plans->generation < c->schema->generation) {
		/* first use, or a reload: a new cache; the old one's plans may still be borrowed
		 * by statements of older sessions, so it is kept until the worker ends */
		struct crypt_plan_cache *pc = pgs_xcalloc(1, sizeof(*pc));
		pc->generation = c->schema->generation;
		pc->retired = w->plans;
		w->plans = pc;
	}
	if (w->plans->generation != c->schema->generation) {
		/* a session still on an older schema: its plans are made for it alone */
		*owned = true;
		return sql_analyze_lex(c->schema, NULL, text, len, NULL, NULL, lex, &plan) == PGS_OK
		           ? plan
		           : NULL;
	}
	uint64_t h = fnv1a(text, len);
	uint8_t lk = lex_key(text, len, lex);
	struct plan_entry **bucket = &w->plans->buckets[h % PLAN_CACHE_BUCKETS];
	for (struct plan_entry *e = *bucket; e; e = e->next)
		if (e->hash == h && e->lex == lk && e->len == len &&
		    memcmp(e->text, text, len) == 0)
			return e->plan;
	if (sql_analyze_lex(c->schema, NULL, text, len, NULL, NULL, lex, &plan) != PGS_OK)
		return NULL;
	/* plans with literals hold plaintext values: they are not worth keeping */
	bool has_literals = false;
	for (size_t i = 0; i < plan->nedits; i++)
		if (plan->edits[i].kind == SQL_EDIT_LITERAL)
			has_literals = true;
	if (has_literals || !plan->cacheable || w->plans->n >= PLAN_CACHE_MAX) {
		*owned = true;
		return plan;
	}
	struct plan_entry *e = pgs_xcalloc(1, sizeof(*e));
	e->hash = h;
	e->lex = lk;
	e->text = pgs_xmalloc(len + 1);
	memcpy(e->text, text, len);
	e->text[len] = 0;
	e->len = len;
	e->plan = plan;
	e->next = *bucket;
	*bucket = e;
	w->plans->n++;
	return plan;
}

static bool is_ddl(const char *text)
{
	while (*text && (isspace((unsigned char)*text) || *text == '('))
		text++;
	return !strncasecmp(text, "create", 6) || !strncasecmp(text, "alter", 5) ||
	       !strncasecmp(text, "drop", 4);
}

/* A view was defined through pgseal by another session since this session's last catalog load. */
static bool views_outdated(struct conn *c)
{
	return c->crypt.catalog_loaded && crypt_views_latest() > c->crypt.views_requested;
}

static bool catalog_needed(struct conn *c)
{
	return !c->crypt.catalog_loaded || c->crypt.catalog_stale || views_outdated(c);
}

/* Whether a text needs the analysis: it may name an encrypted table or one of this
 * session's views over them. */
static bool may_touch(struct conn *c, const char *text, size_t len)
{
	return sql_may_touch(c->schema, text, len) ||
	       sql_views_may_touch(c->crypt.views, text, len);
}

/* The plan of a text for this session. A text that may name one of the session's views is
 * analysed with them and never cached: the worker's cache is shared by sessions whose views
 * differ (a plan made without a view would relay a write through it unchanged). */
static struct sql_plan *session_plan(struct conn *c, const char *text, size_t len, bool execute,
                                     const struct sql_lex *lex, bool *owned)
{
	struct sql_plan *plan = NULL;
	crypt_prepared_take_deps(c, NULL); /* the caller takes the lookups of this analysis only */
	if (!execute && !sql_views_may_touch(c->crypt.views, text, len))
		return plan_get(c, text, len, lex, owned);
	*owned = true;
	if (sql_analyze_lex(c->schema, c->crypt.views, text, len,
	                    execute ? crypt_prepared_lookup : NULL, execute ? c : NULL, lex,
	                    &plan) != PGS_OK)
		return NULL;
	return plan;
}

/* A text naming a view defined by a statement whose catalog answer is not in yet. */
static bool refuse_pending_view(struct conn *c, const char *text, size_t len, char *msg, size_t cap)
{
	char v[128];
	if (!crypt_views_pending(c, text, len, v, sizeof(v)))
		return false;
	(void)snprintf(
	    msg, cap,
	    "view %s over encrypted data was just defined and pgseal has not loaded it yet; "
	    "send this statement again once the view's statement completed",
	    v);
	return true;
}

/* ---- client -> server ---------------------------------------------------------- */

bool crypt_client_needs_whole(const struct conn *c, uint8_t type)
{
	/* all but a plain table's COPY data: pgseal may have to put a message of its own
	 * between two of the client's (CopyFail), which needs a message boundary */
	return type != 'd' || c->crypt.copy_in != CRYPT_COPY_PLAIN;
}

enum refuse_at { REFUSE_QUERY, REFUSE_PARSE, REFUSE_BIND };

/*
 * A refused message never reaches the server; in its place goes a DO block that raises
 * the refusal there (SQLSTATE and message, which name columns, never values). The error
 * then comes back in its natural order among the other answers, and inside a
 * transaction block it aborts the transaction exactly as the refused statement's own
 * error would have. Extended protocol: P/B/E of the DO block on the unnamed statement
 * and portal stand in for the client's Parse (and its Bind); the rest up to Sync is
 * dropped, as the server would skip it after the error.
 */
static void refuse_in_server(struct conn *c, enum refuse_at at, const char *sqlstate,
                             const char *msg)
{
	struct pgs_buf text = {0}, nb = {0};
	char state[6] = "0A000";
	if (strlen(sqlstate) == 5 && strspn(sqlstate, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
		memcpy(state, sqlstate, 6);
	log_conn(LOG_INFO, c->id, "refused (%s): %s", state, msg);
	metrics_refusal(state);
	static const char head[] = "DO $pgseal_refusal$BEGIN RAISE EXCEPTION USING ERRCODE = '";
	pgs_buf_append(&text, head, sizeof(head) - 1);
	pgs_buf_append(&text, state, 5);
	/* E'...': the message reads the same whatever standard_conforming_strings is */
	pgs_buf_append(&text, "', MESSAGE = E'", 15);
	for (const char *m = msg; *m; m++) {
		if (*m == '\'' || *m == '\\')
			proto_put_u8(&text, (uint8_t)*m);
		/* the dollar-quote tag cannot be closed from inside: '$' becomes a harmless '%' */
		proto_put_u8(&text, (uint8_t)(*m == '$' ? '%' : *m));
	}
	static const char tail[] = "'; END$pgseal_refusal$";
	pgs_buf_append(&text, tail, sizeof(tail) - 1);
	proto_put_u8(&text, 0);

	if (at == REFUSE_QUERY) {
		size_t off = proto_msg_begin(&nb, 'Q');
		pgs_buf_append(&nb, text.data, text.len);
		proto_msg_end(&nb, off);
		sbuf_inject(&c->c2s, nb.data, (uint32_t)nb.len);
		crypt_push(c, EX_QUERY, NULL)->refusal = true;
	} else {
		size_t off = proto_msg_begin(&nb, 'P');
		proto_put_cstr(&nb, "");
		pgs_buf_append(&nb, text.data, text.len);
		proto_put_u16(&nb, 0);
		proto_msg_end(&nb, off);
		off = proto_msg_begin(&nb, 'B');
		proto_put_cstr(&nb, "");
		proto_put_cstr(&nb, "");
		proto_put_u16(&nb, 0);
		proto_put_u16(&nb, 0);
		proto_put_u16(&nb, 0);
		proto_msg_end(&nb, off);
		off = proto_msg_begin(&nb, 'E');
		proto_put_cstr(&nb, "");
		proto_put_u32(&nb, 0);
		proto_msg_end(&nb, off);
		sbuf_inject(&c->c2s, nb.data, (uint32_t)nb.len);
		/* as when PostgreSQL refuses a message itself, the client sees only the error
		 * (then its ReadyForQuery): our ParseComplete and BindComplete are swallowed */
		crypt_prepared_define(c, crypt_push(c, EX_SWALLOW_PARSE, NULL), crypt_stmt_new(""),
		                      true);
		crypt_push(c, EX_SWALLOW_BIND, NULL);
		crypt_push(c, EX_EXECUTE, NULL)->refusal = true;
		c->crypt.skip_to_sync = true;
	}
	pgs_buf_free(&text);
	pgs_buf_free(&nb);
}

static int client_query(struct conn *c, uint32_t total)
{
	struct sbuf *b = &c->c2s;
	const char *text = (const char *)crypt_msg_body(b);
	uint32_t blen = total - PROTO_HDR_LEN;
	if (blen == 0 || text[blen - 1] != 0) {
		conn_fail(c, "08P01", "pgseal: malformed Query message");
		return PGS_ERR;
	}
	size_t len = blen - 1;
	bool boundary = c->crypt.at_sync_boundary;
	c->crypt.at_sync_boundary = true;
	if (boundary && views_outdated(c)) {
		crypt_catalog_request(c); /* goes ahead of this query; the message moved on */
		text = (const char *)crypt_msg_body(b);
	}
	char pmsg[384];
	if (refuse_pending_view(c, text, len, pmsg, sizeof(pmsg))) {
		if (boundary && catalog_needed(c))
			crypt_catalog_request(c); /* the next statement will know the view */
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_QUERY, "0A000", pmsg);
		return PGS_OK;
	}
	/* EXECUTE is analysed against the session's statements; PREPARE, DEALLOCATE and DISCARD
	 * change them (conn_prepared.c) */
	bool execute = crypt_prepared_may_execute(text, len);
	if (!execute && !may_touch(c, text, len) && !crypt_prepared_mentioned(text, len)) {
		crypt_push(c, EX_QUERY, NULL)->copy_plain = true; /* names no encrypted table */
		crypt_pass_message(b, total);
		return PGS_OK;
	}
	struct sql_lex lex;
	crypt_lex_state(c, boundary, &lex);
	if (crypt_lex_encoding_refusal(c, text, len, &lex, pmsg, sizeof(pmsg))) {
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_QUERY, "0A000", pmsg);
		return PGS_OK;
	}
	bool owned = true;
	/* EXECUTE name(args) depends on this session's PREPAREs: never cached */
	struct sql_plan *plan = session_plan(c, text, len, execute, &lex, &owned);
	if (!plan) {
		conn_fail(c, "53200", "pgseal: out of memory");
		return PGS_ERR;
	}
	int rc = PGS_OK;
	if (plan->refused) {
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_QUERY, plan->sqlstate, plan->message);
		goto out;
	}
	if (!plan->touches_encrypted) {
		struct crypt_expect *e = crypt_push(c, EX_QUERY, NULL);
		e->copy_plain = true;
		crypt_prepared_plan(c, e, plan, false);
		crypt_pass_message(b, total);
		goto out;
	}
	bool ddl = is_ddl(text);
	if (catalog_needed(c) && boundary)
		crypt_catalog_request(c); /* goes ahead of this query; the message moved on */
	text = (const char *)crypt_msg_body(b);
	char *out = NULL, err[256];
	size_t outlen = 0;
	if (sql_plan_render(plan, text, len, crypt_render_literal, c, &out, &outlen, err,
	                    sizeof(err)) != PGS_OK) {
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_QUERY, "22P02", err);
		goto out;
	}
	struct pgs_buf nb = {0};
	size_t off = proto_msg_begin(&nb, 'Q');
	pgs_buf_append(&nb, out, outlen);
	proto_put_u8(&nb, 0);
	proto_msg_end(&nb, off);
	crypto_wipe(out, outlen);
	free(out);
	crypt_replace_message(b, total, &nb);
	pgs_buf_free(&nb);
	if (ddl)
		c->crypt.catalog_stale = true;
	{
		struct crypt_expect *e = crypt_push(c, EX_QUERY, NULL);
		crypt_prepared_plan(c, e, plan, false);
		if (plan->nresult || plan->ncopies) {
			/* the entry keeps the plan for its result columns and its COPYs (matched to
			 * their statements as the answers arrive): owned, or the worker's cached
			 * one */
			e->plan = plan;
			e->owns_plan = owned;
			owned = false;
		}
	}
	if (plan->ndefined_views) {
		/* the view's definition is loaded right after it; its ReadyForQuery waits */
		crypt_views_defined(c, plan);
		crypt_catalog_refresh(c);
	}
out:
	if (owned)
		sql_plan_free(plan);
	return rc;
}

static int client_parse(struct conn *c, uint32_t total)
{
	struct sbuf *b = &c->c2s;
	struct proto_reader r;
	const char *name, *query;
	size_t qlen;
	uint16_t n;
	proto_reader_init(&r, crypt_msg_body(b), total - PROTO_HDR_LEN);
	if (proto_read_cstr(&r, &name, NULL) != PGS_OK ||
	    proto_read_cstr(&r, &query, &qlen) != PGS_OK || proto_read_u16(&r, &n) != PGS_OK ||
	    proto_reader_left(&r) != (size_t)n * 4) {
		conn_fail(c, "08P01", "pgseal: malformed Parse message");
		return PGS_ERR;
	}
	bool boundary = c->crypt.at_sync_boundary;
	c->crypt.at_sync_boundary = false;
	if (boundary && views_outdated(c)) {
		crypt_catalog_request(c); /* goes ahead of this Parse; the message moved on */
		proto_reader_init(&r, crypt_msg_body(b), total - PROTO_HDR_LEN);
		if (proto_read_cstr(&r, &name, NULL) != PGS_OK ||
		    proto_read_cstr(&r, &query, &qlen) != PGS_OK ||
		    proto_read_u16(&r, &n) != PGS_OK) {
			conn_fail(c, "08P01", "pgseal: malformed Parse message");
			return PGS_ERR;
		}
	}
	char pmsg[384];
	if (refuse_pending_view(c, query, qlen, pmsg, sizeof(pmsg))) {
		if (boundary && catalog_needed(c))
			crypt_catalog_request(
			    c); /* the next statement will know the view (name moved) */
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_PARSE, "0A000", pmsg);
		return PGS_OK;
	}
	/* the name is defined when ParseComplete confirms it (conn_prepared.c); a Parse pgseal
	 * refuses, like one PostgreSQL rejects, leaves the old definition in force */
	bool execute = crypt_prepared_may_execute(query, qlen);
	if (!execute && !may_touch(c, query, qlen) && !crypt_prepared_mentioned(query, qlen)) {
		crypt_prepared_define(c, crypt_push(c, EX_PARSE, NULL), crypt_stmt_new(name), true);
		crypt_pass_message(b, total);
		return PGS_OK;
	}
	struct sql_lex lex;
	crypt_lex_state(c, boundary, &lex);
	if (crypt_lex_encoding_refusal(c, query, qlen, &lex, pmsg, sizeof(pmsg))) {
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_PARSE, "0A000", pmsg);
		return PGS_OK;
	}
	bool owned;
	struct sql_plan *plan = session_plan(c, query, qlen, execute, &lex, &owned);
	if (!plan) {
		conn_fail(c, "53200", "pgseal: out of memory");
		return PGS_ERR;
	}
	if (plan->refused) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", plan->message);
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_PARSE, plan->sqlstate, msg);
		if (owned)
			sql_plan_free(plan);
		return PGS_OK;
	}
	struct crypt_stmt *st = crypt_stmt_new(name);
	/* `EXECUTE other(...)`: other is checked again when this statement runs */
	crypt_prepared_take_deps(c, st);
	if (!plan->touches_encrypted) {
		if (plan->nnsops) {
			/* PREPARE/DEALLOCATE/DISCARD ALL: applied at its Execute's CommandComplete
			 */
			st->plan = plan;
			st->owns_plan = owned;
		} else if (owned) {
			sql_plan_free(plan);
		}
		crypt_prepared_define(c, crypt_push(c, EX_PARSE, NULL), st, true);
		crypt_pass_message(b, total);
		return PGS_OK;
	}
	st->plan = plan;
	st->owns_plan = owned;
	int nparams = n;
	for (size_t i = 0; i < plan->nparams; i++)
		if (plan->params[i].number > nparams)
			nparams = plan->params[i].number;
	st->nparam_oids = nparams;
	st->param_oids = pgs_xcalloc((size_t)nparams + 1, sizeof(uint32_t));
	for (int i = 0; i < n; i++) {
		uint32_t oid;
		if (proto_read_u32(&r, &oid) != PGS_OK)
			break;
		st->param_oids[i] = oid;
	}
	if (is_ddl(query))
		c->crypt.catalog_stale = true;
	if (catalog_needed(c) && boundary)
		crypt_catalog_request(c);
	/* re-read: the message may have moved */
	proto_reader_init(&r, crypt_msg_body(b), total - PROTO_HDR_LEN);
	if (proto_read_cstr(&r, &name, NULL) != PGS_OK ||
	    proto_read_cstr(&r, &query, &qlen) != PGS_OK) {
		conn_fail(c, "08P01", "pgseal: malformed Parse message");
		return PGS_ERR;
	}
	char *out = NULL, err[256];
	size_t outlen = 0;
	if (sql_plan_render(plan, query, qlen, crypt_render_literal, c, &out, &outlen, err,
	                    sizeof(err)) != PGS_OK) {
		crypt_stmt_unref(st);
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_PARSE, "22P02", err);
		return PGS_OK;
	}
	struct pgs_buf nb = {0};
	size_t off = proto_msg_begin(&nb, 'P');
	proto_put_cstr(&nb, name);
	pgs_buf_append(&nb, out, outlen);
	proto_put_u8(&nb, 0);
	proto_put_u16(&nb, (uint16_t)nparams);
	for (int i = 0; i < nparams; i++) {
		uint32_t oid = st->param_oids[i];
		for (size_t j = 0; j < plan->nparams; j++)
			if (plan->params[j].number == i + 1)
				oid =
				    plan->params[j].array ? CRYPT_BYTEA_ARRAY_OID : CRYPT_BYTEA_OID;
		proto_put_u32(&nb, oid);
	}
	proto_msg_end(&nb, off);
	crypto_wipe(out, outlen);
	free(out);
	crypt_replace_message(b, total, &nb);
	pgs_buf_free(&nb);
	crypt_prepared_define(c, crypt_push(c, EX_PARSE, NULL), st, true);
	return PGS_OK;
}

static const struct sql_param *plan_param(const struct sql_plan *p, int number)
{
	for (size_t i = 0; p && i < p->nparams; i++)
		if (p->params[i].number == number)
			return &p->params[i];
	return NULL;
}

static void bind_refusal(enum crypt_resolve res, const char *stmt, char *why, size_t cap)
{
	if (res == CRYPT_STMT_UNKNOWN)
		(void)snprintf(
		    why, cap,
		    "prepared statement \"%s\" was not prepared through pgseal (or does not "
		    "exist): pgseal cannot tell which parameters are encrypted; nothing was sent",
		    stmt);
	else
		(void)snprintf(
		    why, cap,
		    "prepared statement \"%s\" is being redefined and PostgreSQL has not "
		    "confirmed which definition holds; pgseal cannot tell which parameters are "
		    "encrypted: send it again once the Parse or PREPARE completed",
		    stmt);
}

static int client_bind(struct conn *c, uint32_t total)
{
	struct sbuf *b = &c->c2s;
	struct proto_reader r;
	const char *portal, *stmt;
	uint16_t nfc, np, nrf;
	const uint8_t *fcp;
	proto_reader_init(&r, crypt_msg_body(b), total - PROTO_HDR_LEN);
	if (proto_read_cstr(&r, &portal, NULL) != PGS_OK ||
	    proto_read_cstr(&r, &stmt, NULL) != PGS_OK || proto_read_u16(&r, &nfc) != PGS_OK ||
	    proto_read_bytes(&r, (size_t)nfc * 2, &fcp) != PGS_OK ||
	    proto_read_u16(&r, &np) != PGS_OK) {
		conn_fail(c, "08P01", "pgseal: malformed Bind message");
		return PGS_ERR;
	}
	c->crypt.at_sync_boundary = false;
	struct crypt_stmt *st = NULL;
	enum crypt_resolve res = crypt_prepared_resolve(c, stmt, &st);
	/* walk the values to reach the result formats */
	size_t values_at = r.pos;
	for (uint16_t i = 0; i < np; i++) {
		int32_t vl;
		const uint8_t *v;
		if (proto_read_i32(&r, &vl) != PGS_OK ||
		    (vl >= 0 && proto_read_bytes(&r, (size_t)vl, &v) != PGS_OK)) {
			conn_fail(c, "08P01", "pgseal: malformed Bind message");
			return PGS_ERR;
		}
	}
	const uint8_t *rfp;
	if (proto_read_u16(&r, &nrf) != PGS_OK ||
	    proto_read_bytes(&r, (size_t)nrf * 2, &rfp) != PGS_OK) {
		conn_fail(c, "08P01", "pgseal: malformed Bind message");
		return PGS_ERR;
	}
	char why[384];
	if (res != CRYPT_STMT_KNOWN || !crypt_prepared_deps_ok(c, st, why, sizeof(why))) {
		/* which parameters to encrypt depends on a definition pgseal does not know for sure
		 */
		if (res != CRYPT_STMT_KNOWN)
			bind_refusal(res, stmt, why, sizeof(why));
		crypt_portal_remove(c, portal);
		crypto_wipe(b->data + b->scan, total);
		sbuf_consume(b, total);
		refuse_in_server(c, REFUSE_BIND, "0A000", why);
		return PGS_OK;
	}
	struct crypt_portal *po = crypt_portal_add(c, portal);
	po->stmt = crypt_stmt_ref(st);
	po->nformats = nrf;
	po->formats = pgs_xcalloc((size_t)nrf + 1, sizeof(int16_t));
	for (uint16_t i = 0; i < nrf; i++)
		po->formats[i] = (int16_t)(rfp[2 * i] << 8 | rfp[2 * i + 1]);

	if (!st || !st->plan || st->plan->nparams == 0) {
		crypt_push(c, EX_BIND, NULL);
		crypt_pass_message(b, total);
		return PGS_OK;
	}
	/* rebuild: every encrypted parameter goes as binary bytea */
	struct pgs_buf nb = {0};
	struct pgs_buf val = {0};
	char err[256];
	size_t off = proto_msg_begin(&nb, 'B');
	proto_put_cstr(&nb, portal);
	proto_put_cstr(&nb, stmt);
	proto_put_u16(&nb, np);
	for (uint16_t i = 0; i < np; i++) {
		uint16_t f = nfc == 0   ? 0
		             : nfc == 1 ? (uint16_t)(fcp[0] << 8 | fcp[1])
		                        : (uint16_t)(fcp[2 * i] << 8 | fcp[2 * i + 1]);
		if (i >= nfc && nfc > 1)
			f = 0;
		proto_put_u16(&nb, plan_param(st->plan, i + 1) ? 1 : f);
	}
	proto_put_u16(&nb, np);
	r.pos = values_at;
	for (uint16_t i = 0; i < np; i++) {
		int32_t vl = -1;
		const uint8_t *v = NULL;
		/* validated by the first walk above */
		if (proto_read_i32(&r, &vl) != PGS_OK ||
		    (vl >= 0 && proto_read_bytes(&r, (size_t)vl, &v) != PGS_OK))
			vl = -1;
		const struct sql_param *pp = plan_param(st->plan, i + 1);
		if (!pp || vl < 0) {
			proto_put_u32(&nb, (uint32_t)vl);
			if (vl > 0)
				pgs_buf_append(&nb, v, (size_t)vl);
			continue;
		}
		int f = nfc == 0   ? 0
		        : nfc == 1 ? (fcp[0] << 8 | fcp[1])
		                   : (fcp[2 * i] << 8 | fcp[2 * i + 1]);
		uint32_t wire = i < st->nparam_oids ? st->param_oids[i] : 0;
		int rc;
		if (pp->array) {
			struct pgs_buf arr = {0};
			uint32_t elem_oid = 0;
			rc = crypt_encrypt_array(c, pp, elem_oid, f, v, (size_t)vl, &arr, err,
			                         sizeof(err));
			if (rc == PGS_OK) {
				proto_put_u32(&nb, (uint32_t)arr.len);
				pgs_buf_append(&nb, arr.data, arr.len);
			}
			pgs_buf_free(&arr);
		} else {
			rc = crypt_encrypt_value(c, pp->column, pp->mode, wire, f, v, (size_t)vl,
			                         &val, err, sizeof(err));
			if (rc == PGS_OK) {
				proto_put_u32(&nb, (uint32_t)val.len);
				pgs_buf_append(&nb, val.data, val.len);
			}
		}
		if (rc != PGS_OK) {
			pgs_buf_free(&val);
			pgs_buf_free(&nb);
			crypt_portal_remove(c, portal);
			crypto_wipe(b->data + b->scan, total);
			sbuf_consume(b, total);
			refuse_in_server(c, REFUSE_BIND, "22P02", err);
			return PGS_OK;
		}
	}
	proto_put_u16(&nb, nrf);
	pgs_buf_append(&nb, rfp, (size_t)nrf * 2);
	proto_msg_end(&nb, off);
	pgs_buf_free(&val);
	/* the plaintext values are in the old message: wipe it as it goes */
	crypto_wipe(b->data + b->scan, total);
	crypt_replace_message(b, total, &nb);
	pgs_buf_free(&nb);
	crypt_push(c, EX_BIND, NULL);
	return PGS_OK;
}

int crypt_client_message(struct conn *c, uint8_t type, uint32_t len)
{
	struct sbuf *b = &c->c2s;
	uint32_t total = len + 1;
	const uint8_t *body = crypt_msg_body(b);
	uint32_t blen = len - 4;

	if (c->crypt.skip_to_sync && type != 'S') {
		/* after a refusal the rest of the batch is dropped, as PostgreSQL would */
		sbuf_consume(b, total);
		return PGS_OK;
	}
	if (type != 'd' && type != 'c' && type != 'f')
		crypt_copy_client_other(c, type);
	switch (type) {
	case 'Q':
		return client_query(c, total);
	case 'P':
		return client_parse(c, total);
	case 'B':
		return client_bind(c, total);
	case 'D':
	case 'C': {
		if (blen < 2 || body[blen - 1] != 0 || (body[0] != 'S' && body[0] != 'P')) {
			conn_fail(c, "08P01", "pgseal: malformed Describe or Close message");
			return PGS_ERR;
		}
		const char *name = (const char *)body + 1;
		c->crypt.at_sync_boundary = false;
		if (type == 'D') {
			struct crypt_expect *e = crypt_push(
			    c, body[0] == 'S' ? EX_DESCRIBE_STMT : EX_DESCRIBE_PORTAL, name);
			if (body[0] == 'S') {
				struct crypt_stmt *st = NULL;
				(void)crypt_prepared_resolve(c, name,
				                             &st); /* the newest: no value goes */
				e->stmt = crypt_stmt_ref(st);
			} else {
				e->portal = crypt_portal_ref(crypt_portal_find(c, name));
			}
		} else {
			struct crypt_expect *e = crypt_push(c, EX_CLOSE, NULL);
			if (body[0] == 'S')
				crypt_prepared_close(c, e, name); /* at its CloseComplete */
			else
				crypt_portal_remove(c, name);
		}
		crypt_pass_message(b, total);
		return PGS_OK;
	}
	case 'E': {
		if (blen < 5 || !memchr(body, 0, blen)) {
			conn_fail(c, "08P01", "pgseal: malformed Execute message");
			return PGS_ERR;
		}
		c->crypt.at_sync_boundary = false;
		struct crypt_portal *po = crypt_portal_find(c, (const char *)body);
		char why[384];
		if (po && !crypt_prepared_deps_ok(c, po->stmt, why, sizeof(why))) {
			/* `EXECUTE other(...)` bound for a definition of other that changed since
			 */
			sbuf_consume(b, total);
			refuse_in_server(c, REFUSE_BIND, "0A000", why);
			return PGS_OK;
		}
		struct crypt_expect *e = crypt_push(c, EX_EXECUTE, NULL);
		/* the layout is resolved at the first row: Describes sent before may not be
		 * answered yet */
		e->portal = crypt_portal_ref(po);
		const struct sql_plan *pl = po && po->stmt ? po->stmt->plan : NULL;
		/* PREPARE/DEALLOCATE/DISCARD ALL run by it: applied at its CommandComplete */
		crypt_prepared_plan(c, e, pl, true);
		if (pl && pl->ndefined_views) {
			/* a view is defined: loaded after the Sync that ends this batch, statements
			 * naming it are refused until then */
			crypt_views_defined(c, pl);
			c->crypt.refresh_at_sync = true;
		}
		crypt_pass_message(b, total);
		return PGS_OK;
	}
	case 'S':
		if (crypt_copy_sync_swallowed(c)) {
			/* the server's COPY FROM reads and ignores it: nothing answers it */
			crypt_pass_message(b, total);
			return PGS_OK;
		}
		c->crypt.skip_to_sync = false;
		c->crypt.at_sync_boundary = true;
		crypt_push(c, EX_SYNC, NULL);
		crypt_prepared_sync(c);
		crypt_pass_message(b, total);
		if (c->crypt.refresh_at_sync) {
			c->crypt.refresh_at_sync = false;
			crypt_catalog_refresh(c);
		}
		return PGS_OK;
	case 'F':
		crypt_push(c, EX_FUNCTION, NULL);
		crypt_pass_message(b, total);
		return PGS_OK;
	case 'd':
	case 'c':
	case 'f':
		return crypt_copy_client(c, type, total);
	default:
		crypt_pass_message(b, total);
		return PGS_OK;
	}
}
