/* fle_write.c - the encryption layer's write path: Query, Parse, Bind, Describe, Execute, Sync
 * read, rewritten or refused. */
#include "fle/fle_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "metrics/metrics.h"

static bool is_ddl(const char *text)
{
	while (*text && (isspace((unsigned char)*text) || *text == '('))
		text++;
	return !strncasecmp(text, "create", 6) || !strncasecmp(text, "alter", 5) ||
	       !strncasecmp(text, "drop", 4);
}

/* A view was defined through pgseal by another session since this session's last catalog load. */
static bool views_outdated(struct fle *f)
{
	return f->catalog_loaded && fle_views_latest() > f->views_requested;
}

static bool catalog_needed(struct fle *f)
{
	return !f->catalog_loaded || f->catalog_stale || views_outdated(f);
}

/* The plan of a text for this session. A text that may name one of the session's views is
 * analysed with them and never cached: the worker's cache is shared by sessions whose views
 * differ (a plan made without a view would relay a write through it unchanged). */
static struct sql_plan *session_plan(struct fle *f, const char *text, size_t len,
                                     const struct sql_mentions *m, const struct sql_lex *lex,
                                     bool *owned)
{
	struct sql_plan *plan = NULL;
	bool execute = m->execute;
	fle_prepared_take_deps(f, NULL); /* the caller takes the lookups of this analysis only */
	if (!execute && !m->views)
		return fle_plan_get(f, text, len, lex, owned);
	*owned = true;
	if (sql_analyze_lex(f->schema, f->views, text, len, execute ? fle_prepared_lookup : NULL,
	                    execute ? f : NULL, lex, &plan) != PGS_OK)
		return NULL;
	return plan;
}

/* A text naming a view defined by a statement whose catalog answer is not in yet. */
static bool refuse_pending_view(struct fle *f, const char *text, size_t len, char *msg, size_t cap)
{
	char v[128];
	if (!fle_views_pending(f, text, len, v, sizeof(v)))
		return false;
	(void)snprintf(
	    msg, cap,
	    "view %s over encrypted data was just defined and pgseal has not loaded it yet; "
	    "send this statement again once the view's statement completed",
	    v);
	return true;
}

/* ---- client -> server ---------------------------------------------------------- */

bool fle_client_wants(struct fle *f, uint8_t type)
{
	/* all but a plain table's COPY data: pgseal may have to put a message of its own
	 * between two of the client's (CopyFail), which needs a message boundary */
	return type != 'd' || f->copy_in != FLE_COPY_PLAIN;
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
static void refuse_in_server(struct fle *f, enum refuse_at at, const char *sqlstate,
                             const char *msg)
{
	struct pgs_buf text = {0};
	struct pgs_buf *nb = fle_fwd(f);
	char state[6] = "0A000";
	if (strlen(sqlstate) == 5 && strspn(sqlstate, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
		memcpy(state, sqlstate, 6);
	log_conn(LOG_INFO, f->id, "refused (%s): %s", state, msg);
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

	fle_drop(f); /* the DO block goes in the refused message's place */
	if (at == REFUSE_QUERY) {
		size_t off = proto_msg_begin(nb, 'Q');
		pgs_buf_append(nb, text.data, text.len);
		proto_msg_end(nb, off);
		fle_push(f, EX_QUERY, NULL)->refusal = true;
	} else {
		size_t off = proto_msg_begin(nb, 'P');
		proto_put_cstr(nb, "");
		pgs_buf_append(nb, text.data, text.len);
		proto_put_u16(nb, 0);
		proto_msg_end(nb, off);
		off = proto_msg_begin(nb, 'B');
		proto_put_cstr(nb, "");
		proto_put_cstr(nb, "");
		proto_put_u16(nb, 0);
		proto_put_u16(nb, 0);
		proto_put_u16(nb, 0);
		proto_msg_end(nb, off);
		off = proto_msg_begin(nb, 'E');
		proto_put_cstr(nb, "");
		proto_put_u32(nb, 0);
		proto_msg_end(nb, off);
		/* as when PostgreSQL refuses a message itself, the client sees only the error
		 * (then its ReadyForQuery): our ParseComplete and BindComplete are swallowed */
		fle_prepared_define(f, fle_push(f, EX_SWALLOW_PARSE, NULL), fle_stmt_new(""), true);
		fle_push(f, EX_SWALLOW_BIND, NULL);
		fle_push(f, EX_EXECUTE, NULL)->refusal = true;
		f->skip_to_sync = true;
	}
	pgs_buf_free(&text);
}

/* Starts the message that replaces the client's in fwd with a rewritten statement text (records
 * in place of values): its type, name (Parse) and text. Returns its offset for proto_msg_end. */
static size_t put_text(struct fle *f, uint8_t type, const char *name, const char *out,
                       size_t outlen, size_t more)
{
	struct pgs_buf *nb = fle_fwd(f);
	pgs_buf_reserve(nb, outlen + (name ? strlen(name) : 0) + more + 16);
	size_t off = proto_msg_begin(nb, type);
	if (name)
		proto_put_cstr(nb, name);
	pgs_buf_append(nb, out, outlen);
	proto_put_u8(nb, 0);
	fle_drop(f);
	return off;
}

/*
 * What every Query and Parse text goes through first: pgseal's catalog query ahead of it when
 * views changed since the last load (at a batch boundary), a text that may name a view not
 * loaded yet refused (its DO block in the message's place: true), then the text's one scan
 * (which tables, views and prepared-statement words it mentions) into *mt.
 */
static bool text_gate(struct fle *f, const char *text, size_t len, bool boundary, enum refuse_at at,
                      struct sql_mentions *mt)
{
	if (boundary && views_outdated(f))
		fle_catalog_request(f); /* goes ahead of this message */
	char pmsg[384];
	if (refuse_pending_view(f, text, len, pmsg, sizeof(pmsg))) {
		if (boundary && catalog_needed(f))
			fle_catalog_request(f); /* the next statement will know the view */
		fle_drop(f);
		refuse_in_server(f, at, "0A000", pmsg);
		return true;
	}
	sql_scan_mentions(f->schema, f->views, text, len, mt);
	return false;
}

static int client_query(struct fle *f, const uint8_t *body, uint32_t blen)
{
	struct proto_query m;
	if (proto_decode_query(body, blen, &m) != PGS_OK)
		return fle_fail(f, "08P01", "pgseal: malformed Query message");
	const char *text = m.sql;
	size_t len = m.sql_len;
	bool boundary = f->at_sync_boundary;
	f->at_sync_boundary = true;
	struct sql_mentions mt;
	if (text_gate(f, text, len, boundary, REFUSE_QUERY, &mt))
		return PGS_OK;
	/* EXECUTE is analysed against the session's statements; PREPARE, DEALLOCATE and DISCARD
	 * change them (fle_prepared.c) */
	char pmsg[384];
	bool execute = mt.execute;
	if (!execute && !mt.tables && !mt.views && !mt.prepared) {
		fle_push(f, EX_QUERY, NULL)->copy_plain = true; /* names no encrypted table */
		return PGS_OK;
	}
	struct sql_lex lex;
	fle_lex_state(f, boundary, &lex);
	if (fle_lex_encoding_refusal(f, text, len, &lex, pmsg, sizeof(pmsg))) {
		fle_drop(f);
		refuse_in_server(f, REFUSE_QUERY, "0A000", pmsg);
		return PGS_OK;
	}
	bool owned = true;
	/* EXECUTE name(args) depends on this session's PREPAREs: never cached */
	struct sql_plan *plan = session_plan(f, text, len, &mt, &lex, &owned);
	if (!plan)
		return fle_fail(f, "53200", "pgseal: out of memory");
	int rc = PGS_OK;
	if (plan->refused) {
		fle_drop(f);
		refuse_in_server(f, REFUSE_QUERY, plan->sqlstate, plan->message);
		goto out;
	}
	if (!plan->touches_encrypted) {
		struct fle_expect *e = fle_push(f, EX_QUERY, NULL);
		e->copy_plain = true;
		fle_prepared_plan(f, e, plan, false);
		goto out;
	}
	bool ddl = is_ddl(text);
	if (catalog_needed(f) && boundary)
		fle_catalog_request(f); /* goes ahead of this query */
	char *out = NULL, err[256];
	size_t outlen = 0;
	if (sql_plan_render(plan, text, len, fle_render_literal, f, &out, &outlen, err,
	                    sizeof(err)) != PGS_OK) {
		fle_drop(f);
		refuse_in_server(f, REFUSE_QUERY, "22P02", err);
		goto out;
	}
	proto_msg_end(fle_fwd(f), put_text(f, 'Q', NULL, out, outlen, 0));
	crypto_wipe(out, outlen);
	free(out);
	if (ddl)
		f->catalog_stale = true;
	{
		struct fle_expect *e = fle_push(f, EX_QUERY, NULL);
		fle_prepared_plan(f, e, plan, false);
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
		fle_views_defined(f, plan);
		fle_catalog_refresh(f);
	}
out:
	if (owned)
		sql_plan_free(plan);
	return rc;
}

static int client_parse(struct fle *f, const uint8_t *body, uint32_t blen)
{
	struct proto_parse m;
	if (proto_decode_parse(body, blen, &m) != PGS_OK)
		return fle_fail(f, "08P01", "pgseal: malformed Parse message");
	const char *name = m.name, *query = m.sql;
	size_t qlen = m.sql_len;
	uint16_t n = m.ntypes;
	bool boundary = f->at_sync_boundary;
	f->at_sync_boundary = false;
	/* the name is defined when ParseComplete confirms it (fle_prepared.c); a Parse pgseal
	 * refuses, like one PostgreSQL rejects, leaves the old definition in force */
	struct sql_mentions mt;
	if (text_gate(f, query, qlen, boundary, REFUSE_PARSE, &mt))
		return PGS_OK;
	char pmsg[384];
	bool execute = mt.execute;
	if (!execute && !mt.tables && !mt.views && !mt.prepared) {
		fle_prepared_define(f, fle_push(f, EX_PARSE, NULL), fle_stmt_new(name), true);
		return PGS_OK;
	}
	struct sql_lex lex;
	fle_lex_state(f, boundary, &lex);
	if (fle_lex_encoding_refusal(f, query, qlen, &lex, pmsg, sizeof(pmsg))) {
		fle_drop(f);
		refuse_in_server(f, REFUSE_PARSE, "0A000", pmsg);
		return PGS_OK;
	}
	bool owned;
	struct sql_plan *plan = session_plan(f, query, qlen, &mt, &lex, &owned);
	if (!plan)
		return fle_fail(f, "53200", "pgseal: out of memory");
	if (plan->refused) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", plan->message);
		fle_drop(f);
		refuse_in_server(f, REFUSE_PARSE, plan->sqlstate, msg);
		if (owned)
			sql_plan_free(plan);
		return PGS_OK;
	}
	struct fle_stmt *st = fle_stmt_new(name);
	/* `EXECUTE other(...)`: other is checked again when this statement runs */
	fle_prepared_take_deps(f, st);
	if (!plan->touches_encrypted) {
		if (plan->nnsops) {
			/* PREPARE/DEALLOCATE/DISCARD ALL: applied at its Execute's CommandComplete
			 */
			st->plan = plan;
			st->owns_plan = owned;
		} else if (owned) {
			sql_plan_free(plan);
		}
		fle_prepared_define(f, fle_push(f, EX_PARSE, NULL), st, true);
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
	for (int i = 0; i < n; i++)
		st->param_oids[i] = proto_oid_at(m.types, (size_t)i);
	if (is_ddl(query))
		f->catalog_stale = true;
	if (catalog_needed(f) && boundary)
		fle_catalog_request(f); /* goes ahead of this Parse */
	char *out = NULL, err[256];
	size_t outlen = 0;
	if (sql_plan_render(plan, query, qlen, fle_render_literal, f, &out, &outlen, err,
	                    sizeof(err)) != PGS_OK) {
		fle_stmt_unref(st);
		fle_drop(f);
		refuse_in_server(f, REFUSE_PARSE, "22P02", err);
		return PGS_OK;
	}
	struct pgs_buf *nb = fle_fwd(f);
	size_t off = put_text(f, 'P', name, out, outlen, 2 + 4 * (size_t)nparams);
	proto_put_u16(nb, (uint16_t)nparams);
	for (int i = 0; i < nparams; i++) {
		uint32_t oid = st->param_oids[i];
		for (size_t j = 0; j < plan->nparams; j++)
			if (plan->params[j].number == i + 1)
				oid = plan->params[j].array ? FLE_BYTEA_ARRAY_OID : FLE_BYTEA_OID;
		proto_put_u32(nb, oid);
	}
	proto_msg_end(nb, off);
	crypto_wipe(out, outlen);
	free(out);
	fle_prepared_define(f, fle_push(f, EX_PARSE, NULL), st, true);
	return PGS_OK;
}

static const struct sql_param *plan_param(const struct sql_plan *p, int number)
{
	for (size_t i = 0; p && i < p->nparams; i++)
		if (p->params[i].number == number)
			return &p->params[i];
	return NULL;
}

static void bind_refusal(enum fle_resolve res, const char *stmt, char *why, size_t cap)
{
	if (res == FLE_STMT_UNKNOWN)
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

static int client_bind(struct fle *f, const uint8_t *body, uint32_t blen)
{
	/* PostgreSQL's rules (format codes 0/1 and 0, 1 or one per value, lengths -1 or >= 0,
	 * nothing after the last field) are checked by the decoder, before anything goes on */
	struct proto_bind m;
	if (proto_decode_bind(body, blen, &m) != PGS_OK)
		return fle_fail(f, "08P01", "pgseal: malformed Bind message");
	f->at_sync_boundary = false;
	struct fle_stmt *st = NULL;
	enum fle_resolve res = fle_prepared_resolve(f, m.stmt, &st);
	char why[384];
	if (res != FLE_STMT_KNOWN || !fle_prepared_deps_ok(f, st, why, sizeof(why))) {
		/* which parameters to encrypt depends on a definition pgseal does not know for sure
		 */
		if (res != FLE_STMT_KNOWN)
			bind_refusal(res, m.stmt, why, sizeof(why));
		fle_portal_remove(f, m.portal);
		fle_drop(f);
		refuse_in_server(f, REFUSE_BIND, "0A000", why);
		return PGS_OK;
	}
	struct fle_portal *po = fle_portal_add(f, m.portal);
	po->stmt = fle_stmt_ref(st);
	po->nformats = m.nresult_formats;
	po->formats = pgs_xcalloc((size_t)m.nresult_formats + 1, sizeof(int16_t));
	for (uint16_t i = 0; i < m.nresult_formats; i++)
		po->formats[i] = (int16_t)pgs_get_u16(m.result_formats + 2 * i);

	if (!st || !st->plan || st->plan->nparams == 0) {
		fle_push(f, EX_BIND, NULL);
		return PGS_OK;
	}
	/* rebuild in fwd: every encrypted parameter goes as binary bytea */
	struct pgs_buf *nb = fle_fwd(f);
	struct pgs_buf val = {0};
	char err[256];
	size_t start = nb->len;
	/* the values grow into records: every grow of a pgs_buf wipes the old block */
	pgs_buf_reserve(nb, blen + 64);
	size_t off = proto_msg_begin(nb, 'B');
	proto_put_cstr(nb, m.portal);
	proto_put_cstr(nb, m.stmt);
	proto_put_u16(nb, m.nparams);
	for (uint16_t i = 0; i < m.nparams; i++)
		proto_put_u16(
		    nb, plan_param(st->plan, i + 1) ? 1 : (uint16_t)proto_bind_param_format(&m, i));
	proto_put_u16(nb, m.nparams);
	struct proto_value_iter it;
	proto_value_iter_init(&it, m.params, m.params_len);
	for (uint16_t i = 0; i < m.nparams; i++) {
		int32_t vl = -1;
		const uint8_t *v = NULL;
		if (!proto_value_next(&it, &v, &vl)) /* the decoder counted them */
			vl = -1;
		const struct sql_param *pp = plan_param(st->plan, i + 1);
		if (!pp || vl < 0) {
			pgs_buf_reserve(nb, 4 + (vl > 0 ? (size_t)vl : 0));
			proto_put_u32(nb, (uint32_t)vl);
			if (vl > 0)
				pgs_buf_append(nb, v, (size_t)vl);
			continue;
		}
		int fmt = proto_bind_param_format(&m, i);
		uint32_t wire = i < st->nparam_oids ? st->param_oids[i] : 0;
		int rc;
		if (pp->array) {
			struct pgs_buf arr = {0};
			uint32_t elem_oid = 0;
			rc = fle_encrypt_array(f, pp, elem_oid, fmt, v, (size_t)vl, &arr, err,
			                       sizeof(err));
			if (rc == PGS_OK) {
				pgs_buf_reserve(nb, 4 + arr.len);
				proto_put_u32(nb, (uint32_t)arr.len);
				pgs_buf_append(nb, arr.data, arr.len);
			}
			pgs_buf_free(&arr);
		} else {
			rc = fle_encrypt_value(f, pp->column, pp->mode, wire, fmt, v, (size_t)vl,
			                       &val, err, sizeof(err));
			if (rc == PGS_OK) {
				pgs_buf_reserve(nb, 4 + val.len);
				proto_put_u32(nb, (uint32_t)val.len);
				pgs_buf_append(nb, val.data, val.len);
			}
		}
		if (rc != PGS_OK) {
			pgs_buf_free(&val);
			/* what was built of it goes: plaintext of the values not yet encrypted */
			crypto_wipe(nb->data + start, nb->len - start);
			nb->len = start;
			fle_portal_remove(f, m.portal);
			fle_drop(f);
			refuse_in_server(f, REFUSE_BIND, "22P02", err);
			return PGS_OK;
		}
	}
	pgs_buf_reserve(nb, 2 + (size_t)m.nresult_formats * 2);
	proto_put_u16(nb, m.nresult_formats);
	if (m.nresult_formats)
		pgs_buf_append(nb, m.result_formats, (size_t)m.nresult_formats * 2);
	proto_msg_end(nb, off);
	pgs_buf_free(&val);
	/* in the client's place (the session wipes the old message: its values are plaintext) */
	fle_drop(f);
	fle_push(f, EX_BIND, NULL);
	return PGS_OK;
}

static int client_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen)
{
	if (f->skip_to_sync && type != 'S') {
		/* after a refusal the rest of the batch is dropped, as PostgreSQL would */
		fle_drop(f);
		return PGS_OK;
	}
	if (type != 'd' && type != 'c' && type != 'f')
		fle_copy_client_other(f, type);
	switch (type) {
	case 'Q':
		return client_query(f, body, blen);
	case 'P':
		return client_parse(f, body, blen);
	case 'B':
		return client_bind(f, body, blen);
	case 'D':
	case 'C': {
		/* Describe and Close share a layout: kind 'S' or 'P', then a name */
		struct proto_describe m;
		if (proto_decode_describe(body, blen, &m) != PGS_OK)
			return fle_fail(f, "08P01", "pgseal: malformed Describe or Close message");
		const char *name = m.name;
		f->at_sync_boundary = false;
		if (type == 'D') {
			struct fle_expect *e = fle_push(
			    f, m.kind == 'S' ? EX_DESCRIBE_STMT : EX_DESCRIBE_PORTAL, name);
			if (m.kind == 'S') {
				struct fle_stmt *st = NULL;
				(void)fle_prepared_resolve(f, name,
				                           &st); /* the newest: no value goes */
				e->stmt = fle_stmt_ref(st);
			} else {
				e->portal = fle_portal_ref(fle_portal_find(f, name));
			}
		} else {
			struct fle_expect *e = fle_push(f, EX_CLOSE, NULL);
			if (m.kind == 'S')
				fle_prepared_close(f, e, name); /* at its CloseComplete */
			else
				fle_portal_remove(f, name);
		}
		return PGS_OK;
	}
	case 'E': {
		struct proto_execute m;
		if (proto_decode_execute(body, blen, &m) != PGS_OK)
			return fle_fail(f, "08P01", "pgseal: malformed Execute message");
		f->at_sync_boundary = false;
		struct fle_portal *po = fle_portal_find(f, m.portal);
		char why[384];
		if (po && !fle_prepared_deps_ok(f, po->stmt, why, sizeof(why))) {
			/* `EXECUTE other(...)` bound for a definition of other that changed since
			 */
			fle_drop(f);
			refuse_in_server(f, REFUSE_BIND, "0A000", why);
			return PGS_OK;
		}
		struct fle_expect *e = fle_push(f, EX_EXECUTE, NULL);
		/* the layout is resolved at the first row: Describes sent before may not be
		 * answered yet */
		e->portal = fle_portal_ref(po);
		const struct sql_plan *pl = po && po->stmt ? po->stmt->plan : NULL;
		/* PREPARE/DEALLOCATE/DISCARD ALL run by it: applied at its CommandComplete */
		fle_prepared_plan(f, e, pl, true);
		if (pl && pl->ndefined_views) {
			/* a view is defined: loaded after the Sync that ends this batch, statements
			 * naming it are refused until then */
			fle_views_defined(f, pl);
			f->refresh_at_sync = true;
		}
		return PGS_OK;
	}
	case 'S':
		if (fle_copy_sync_swallowed(f)) {
			/* the server's COPY FROM reads and ignores it: nothing answers it */
			return PGS_OK;
		}
		f->skip_to_sync = false;
		f->at_sync_boundary = true;
		fle_push(f, EX_SYNC, NULL);
		fle_prepared_sync(f);
		if (f->refresh_at_sync) {
			/* the catalog query follows the Sync */
			f->refresh_at_sync = false;
			fle_put_current(f);
			fle_catalog_refresh(f);
		}
		return PGS_OK;
	case 'F':
		fle_push(f, EX_FUNCTION, NULL);
		return PGS_OK;
	case 'd':
	case 'c':
	case 'f':
		return fle_copy_client(f, type, body, blen);
	default:
		return PGS_OK;
	}
}

int fle_client_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen,
                       struct fle_action *act)
{
	fle_begin(f, act, type, body, blen, true);
	if (client_message(f, type, body, blen) != PGS_OK && act->verdict != FLE_FAIL)
		(void)fle_fail(f, "XX000", "pgseal: internal error in the encryption layer");
	return act->verdict == FLE_FAIL ? PGS_ERR : PGS_OK;
}
