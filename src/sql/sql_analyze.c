/* sql_analyze.c - the top of the module: a text parsed, each statement dispatched to its analyzer
 * (sql_stmt, which the others reach through ctx->stmt), and the entry points. */
#include "sql/sql_internal.h"

#include <openssl/crypto.h>
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const ddl_ok[] = {
    "CreateStmt",
    "AlterTableStmt",
    "IndexStmt",
    "DropStmt",
    "TruncateStmt",
    "CommentStmt",
    "GrantStmt",
    "VacuumStmt",
    "LockStmt",
    "RenameStmt",
    "AlterOwnerStmt",
    "ClusterStmt",
    "ReindexStmt",
    "CreateStatsStmt",
    "AlterObjectSchemaStmt",
    "TransactionStmt",
    "VariableSetStmt",
    "VariableShowStmt",
    "CheckPointStmt",
    "CreateSeqStmt",
    "AlterSeqStmt",
    "CreateSchemaStmt",
    "AlterTableMoveAllStmt",
    "CreatePolicyStmt",
    "AlterPolicyStmt",
    "CreatePublicationStmt",
    "AlterPublicationStmt",
    "SecLabelStmt",
    "ListenStmt",
    "UnlistenStmt",
    "DropOwnedStmt",
    "ReassignOwnedStmt",
    "ConstraintsSetStmt",
    "LoadStmt",
    "CreateRoleStmt",
    "AlterRoleStmt",
    "DropRoleStmt",
    "GrantRoleStmt",
    "AlterDefaultPrivilegesStmt",
    "ClosePortalStmt",
    "FetchStmt",
    "CreateExtensionStmt",
    "RefreshMatViewStmt",
};
static const char *const body_stmts[] = {
    "DoStmt",   "CreateFunctionStmt", "RuleStmt", "CreateTrigStmt", "AlterFunctionStmt",
    "CallStmt", "CreateEventTrigStmt"};

static int sql_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *node, struct sql_rel *out)
{
	json_t *b;
	const char *type = sql_node_type(node, &b);
	int rc = 0;
	if (out)
		memset(out, 0, sizeof(*out));
	if (c->plan->refused)
		return PGS_ERR;
	if (!type)
		return sql_refuse(c, "0A000", "pgseal does not understand this statement");
	if (++c->depth > 400) {
		c->depth--;
		return sql_refuse(c, "0A000", "statement too deeply nested for pgseal");
	}
	if (!strcmp(type, "SelectStmt")) {
		json_t *into = json_object_get(b, "intoClause");
		rc = into ? sql_ddl_into(c, into) : 0;
		if (rc == 0)
			rc = sql_select(c, parent, b, out);
	} else if (!strcmp(type, "InsertStmt")) {
		rc = sql_insert(c, parent, b, out);
	} else if (!strcmp(type, "UpdateStmt")) {
		rc = sql_update_delete(c, parent, b, true, out);
	} else if (!strcmp(type, "DeleteStmt")) {
		rc = sql_update_delete(c, parent, b, false, out);
	} else if (!strcmp(type, "ExplainStmt")) {
		rc = sql_stmt(c, parent, json_object_get(b, "query"), NULL);
	} else if (!strcmp(type, "PrepareStmt")) {
		rc = sql_prepare_stmt(c, parent, b);
	} else if (!strcmp(type, "ExecuteStmt")) {
		rc = sql_execute_stmt(c, parent, b);
	} else if (!strcmp(type, "DeallocateStmt") || !strcmp(type, "DiscardStmt")) {
		sql_namespace_stmt(c, type, b);
	} else if (!strcmp(type, "CopyStmt")) {
		rc = sql_copy_stmt(c, parent, b);
	} else if (!strcmp(type, "ViewStmt")) {
		rc = sql_stmt(c, parent, json_object_get(b, "query"), NULL);
		if (rc == 0 && c->touched)
			sql_define_view(c, sql_jstr(json_object_get(b, "view"), "relname"));
	} else if (!strcmp(type, "DeclareCursorStmt")) {
		rc = sql_stmt(c, parent, json_object_get(b, "query"), NULL);
	} else if (!strcmp(type, "CreateTableAsStmt")) {
		json_t *into = json_object_get(b, "into");
		rc = sql_ddl_into(c, into);
		if (rc == 0)
			rc = sql_stmt(c, parent, json_object_get(b, "query"), NULL);
		const char *ot = sql_jstr(b, "objtype");
		if (rc == 0 && c->touched && ot && !strcmp(ot, "OBJECT_MATVIEW"))
			sql_define_view(c, sql_jstr(json_object_get(into, "rel"), "relname"));
	} else if (!strcmp(type, "RenameStmt") && (rc = sql_rename_stmt(c, b)) != SQL_NOT_MAPPED) {
		/* renames of tables, views, columns and schemas: sql_rename.c */
	} else if (!strcmp(type, "AlterObjectSchemaStmt") &&
	           (rc = sql_move_stmt(c, b)) != SQL_NOT_MAPPED) {
		/* SET SCHEMA of a table or view */
	} else if (!strcmp(type, "CreateForeignTableStmt")) {
		rc = sql_ddl_foreign(c, b);
	} else if ((!strcmp(type, "CreatePolicyStmt") || !strcmp(type, "AlterPolicyStmt")) &&
	           sql_tree_names_encrypted(c, b)) {
		/* a policy's USING / WITH CHECK is stored in the catalog: searched like a WHERE */
		struct sql_scope sc = {.parent = parent};
		(void)sql_target_rel(c, &sc, json_object_get(b, "table"), NULL);
		json_t *q = json_object_get(b, "qual"), *wc = json_object_get(b, "with_check");
		rc = q ? sql_expr(c, &sc, q) : 0;
		if (rc == 0 && wc)
			rc = sql_expr(c, &sc, wc);
		sql_scope_free(&sc);
	} else if (!strcmp(type, "CreateStmt")) {
		rc = sql_ddl_create(c, parent, b);
	} else if (!strcmp(type, "AlterTableStmt")) {
		rc = sql_ddl_alter(c, parent, b);
	} else if (!strcmp(type, "IndexStmt") && json_object_get(b, "whereClause")) {
		/* a partial index predicate is stored in the catalog: its constants must be blind
		 */
		struct sql_scope sc = {.parent = parent};
		(void)sql_target_rel(c, &sc, json_object_get(b, "relation"), NULL);
		rc = sql_expr(c, &sc, json_object_get(b, "whereClause"));
		sql_scope_free(&sc);
	} else if (!strcmp(type, "MergeStmt")) {
		if (sql_tree_names_encrypted(c, b))
			rc = sql_refuse(c, "0A000",
			                "MERGE on or from an encrypted table is not supported");
	} else {
		bool ok = false;
		rc = 0;
		for (size_t i = 0; i < PGS_ARRAY_LEN(ddl_ok) && !ok; i++)
			ok = !strcmp(type, ddl_ok[i]);
		bool body = false;
		for (size_t i = 0; i < PGS_ARRAY_LEN(body_stmts) && !body; i++)
			body = !strcmp(type, body_stmts[i]);
		if (body && (sql_may_touch(c->s, c->sql, c->len) ||
		             sql_views_may_touch(c->views, c->sql, c->len) ||
		             sql_tree_names_encrypted(c, b)))
			rc = sql_refuse(
			    c, "0A000",
			    "pgseal cannot check a function body, rule, trigger or DO block "
			    "that may name an encrypted table");
		else if (!ok && !body && sql_tree_names_encrypted(c, b))
			rc = sql_refuse(c, "0A000",
			                "pgseal does not support %s on an encrypted table", type);
		else if (ok && sql_tree_names_encrypted(c, b))
			c->touched = true;
	}
	c->depth--;
	return rc;
}

/* A relation named like an encrypted table or a known view but for case (a quoted "People" for
 * people): PostgreSQL would reject or miss it, and pgseal would not encrypt for it. Returns the
 * configured name, or NULL. */
static const char *case_twin_rel(struct sql_ctx *c, json_t *node, int depth)
{
	if (depth > 400)
		return NULL;
	if (json_is_object(node)) {
		const char *rel = sql_jstr(node, "relname");
		for (size_t i = 0; rel && i < c->s->ntables; i++) {
			const struct schema_table *t = &c->s->tables[i];
			const char *dot = strrchr(t->name, '.'), *bare = dot ? dot + 1 : t->name;
			if (t->nencrypted > 0 && !strcasecmp(bare, rel) && strcmp(bare, rel) != 0)
				return t->name;
		}
		for (size_t i = 0; rel && c->views && i < c->views->n; i++) {
			const char *vn = c->views->v[i].name;
			if (c->views->v[i].encrypted && !strcasecmp(vn, rel) &&
			    strcmp(vn, rel) != 0)
				return vn;
		}
		const char *k;
		json_t *v;
		json_object_foreach(node, k, v)
		{
			const char *r = case_twin_rel(c, v, depth + 1);
			if (r)
				return r;
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v)
		{
			const char *r = case_twin_rel(c, v, depth + 1);
			if (r)
				return r;
		}
	}
	return NULL;
}

static void append_params(struct sql_plan *p, struct sql_psink *k)
{
	if (k->n == 0)
		return;
	p->params = pgs_xrealloc(p->params, (p->nparams + k->n) * sizeof(*p->params));
	memcpy(p->params + p->nparams, k->v, k->n * sizeof(*k->v));
	p->nparams += k->n;
}

static bool has_word(const char *sql, size_t len, const char *w)
{
	size_t m = strlen(w);
	for (size_t i = 0; i + m <= len; i++)
		if (strncasecmp(sql + i, w, m) == 0)
			return true;
	return false;
}

/* The configured tables whose names appear in a text (case-insensitive), comma-separated. */
static void names_in_text(const struct schema *s, const char *sql, size_t len, char *out,
                          size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < s->ntables; i++) {
		const char *name = s->tables[i].name;
		const char *dot = strrchr(name, '.');
		const char *bare = dot ? dot + 1 : name;
		size_t n = strlen(bare);
		bool found = false;
		for (size_t j = 0; n && j + n <= len && !found; j++)
			found = !strncasecmp(sql + j, bare, n);
		if (!found)
			continue;
		int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", name);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
	if (!o)
		snprintf(out, cap, "?");
}

int sql_analyze_into(const struct schema *s, const struct sql_views *views, const char *sql,
                     size_t len, sql_prepared_lookup_fn lookup, void *lookup_arg,
                     struct sql_plan **out, struct sql_rel *first_out)
{
	struct sql_plan *p = pgs_xcalloc(1, sizeof(*p));
	struct sql_ctx c = {.s = s,
	                    .stmt = sql_stmt,
	                    .sql = sql,
	                    .plan = p,
	                    .lookup = lookup,
	                    .lookup_arg = lookup_arg,
	                    .views = views,
	                    .first_out = first_out,
	                    .viewdef = first_out != NULL};
	PgQueryParseResult r = {0};
	json_t *root = NULL;
	struct sql_psink all = {0};
	*out = p;
	p->cacheable = true;
	len = strnlen(sql, len);
	c.len = len;
	bool touch = sql_may_touch(s, sql, len) || sql_views_may_touch(views, sql, len);
	if (!touch && !(lookup && sql_may_execute(sql, len)) && !has_word(sql, len, "prepare") &&
	    !has_word(sql, len, "deallocate") && !has_word(sql, len, "discard"))
		return PGS_OK;
	r = sql_lex_parse(sql);
	if (!r.error && r.parse_tree)
		root = json_loads(r.parse_tree, JSON_DECODE_ANY, NULL);
	if (!root) {
		/* fail closed (DESIGN §5): 0A000, naming the encrypted table(s) the text names */
		char names[256];
		names_in_text(s, sql, len, names, sizeof(names));
		if (touch && r.error)
			(void)sql_refuse(&c, "0A000",
			                 "pgseal could not parse this statement, which names "
			                 "encrypted table %s; "
			                 "nothing was sent (syntax error at or near position %d)",
			                 names, r.error->cursorpos);
		else if (touch)
			(void)sql_refuse(
			    &c, "0A000",
			    "pgseal could not read this statement, which names encrypted table %s "
			    "(too deeply nested?); nothing was sent",
			    names);
		else if (lookup && sql_may_execute(sql, len))
			/* DECLARE c CURSOR FOR EXECUTE s('x'): the error would log the arguments of
			 * a prepared statement whose parameters are encrypted */
			(void)sql_refuse(
			    &c, "0A000",
			    "pgseal could not parse this statement, which may EXECUTE a "
			    "prepared statement with encrypted parameters; nothing was sent "
			    "(syntax error at or near position %d)",
			    r.error ? r.error->cursorpos : 0);
		goto out;
	}
	const char *twin = c.viewdef ? NULL : case_twin_rel(&c, root, 0);
	if (twin) {
		(void)sql_refuse(&c, "0A000",
		                 "a relation named like encrypted table or view %s but for case (a "
		                 "quoted name?) is not supported; nothing was sent",
		                 twin);
		goto out;
	}
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(root, "stmts"), i, st)
	{
		struct sql_psink sink = {0};
		struct sql_rel outrel;
		c.sink = &sink;
		c.touched = false;
		int rc = sql_stmt(&c, NULL, json_object_get(st, "stmt"), &outrel);
		if (rc == 0 && i == 0 && outrel.known && outrel.ncols > 0) {
			free(p->result);
			/* an array of pointers: sizeof(*p) is a pointer's size, as meant */
			/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
			p->result = pgs_xcalloc(outrel.ncols, sizeof(*p->result));
			p->nresult = outrel.ncols;
			for (size_t k = 0; k < outrel.ncols; k++)
				p->result[k] = outrel.cols[k].col;
		}
		if (rc == 0 && i == 0 && c.first_out) {
			*c.first_out = outrel;
			memset(&outrel, 0, sizeof(outrel));
		}
		sql_rel_free(&outrel);
		if (rc == 0)
			rc = sql_sink_finish(&c, &sink);
		if (rc == 0) {
			if (all.n + sink.n > all.cap) {
				all.cap = all.n + sink.n;
				all.v = pgs_xrealloc(all.v, all.cap * sizeof(*all.v));
			}
			if (sink.n)
				memcpy(all.v + all.n, sink.v, sink.n * sizeof(*sink.v));
			all.n += sink.n;
		}
		sql_sink_free(&sink);
		c.sink = NULL;
		p->nstatements++;
		if (c.touched)
			p->touches_encrypted = true;
		if (rc < 0)
			break;
	}
	if (!p->refused) {
		c.sink = &all;
		if (sql_sink_finish(&c, &all) == 0)
			append_params(p, &all);
		c.sink = NULL;
	}
	if (!p->refused && p->ndefined_views && p->nstatements > 1)
		(void)sql_refuse(
		    &c, "0A000",
		    "CREATE/ALTER VIEW %s over encrypted data must be the only statement "
		    "of its query text (pgseal loads the view's definition after it)",
		    p->defined_views[0]);
	if (p->nstatements != 1) {
		/* several result sets: which RowDescription is whose is not worth guessing */
		free(p->result);
		p->result = NULL;
		p->nresult = 0;
	}
	/* overlapping rewrites refuse the plan (p->refused): out: keeps only the verdict */
	if (!p->refused && sql_finish_edits(&c) != PGS_OK)
		goto out;
	if (p->nedits || p->nparams)
		p->touches_encrypted = true;
	for (size_t k = 0; k < p->ncopies; k++)
		if (p->copies[k].encrypted)
			p->touches_encrypted = true;
out:
	if (p->refused) {
		/* a refused plan carries only its verdict */
		struct sql_plan *q = pgs_xcalloc(1, sizeof(*q));
		q->touches_encrypted = true;
		q->refused = true;
		memcpy(q->sqlstate, p->sqlstate, sizeof(q->sqlstate));
		q->message = p->message;
		q->nstatements = p->nstatements;
		q->cacheable = p->cacheable;
		p->message = NULL;
		sql_plan_free(p);
		*out = q;
	}
	sql_sink_free(&all);
	free(c.toks);
	json_decref(root);
	if (r.parse_tree)
		OPENSSL_cleanse(r.parse_tree,
		                strlen(r.parse_tree)); /* it holds the statement's values */
	pg_query_free_parse_result(r);
	return PGS_OK;
}

int sql_analyze_ex(const struct schema *s, const char *sql, size_t len,
                   sql_prepared_lookup_fn lookup, void *lookup_arg, struct sql_plan **out)
{
	return sql_analyze_into(s, NULL, sql, len, lookup, lookup_arg, out, NULL);
}

int sql_analyze_views(const struct schema *s, const struct sql_views *views, const char *sql,
                      size_t len, sql_prepared_lookup_fn lookup, void *lookup_arg,
                      struct sql_plan **out)
{
	return sql_analyze_into(s, views, sql, len, lookup, lookup_arg, out, NULL);
}

int sql_analyze(const struct schema *s, const char *sql, size_t len, struct sql_plan **out)
{
	return sql_analyze_ex(s, sql, len, NULL, NULL, out);
}
