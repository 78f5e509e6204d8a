/* sql_dml.c - INSERT, UPDATE and DELETE: target tables, value lists, SET lists, ON CONFLICT,
 * RETURNING. */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>

/* The target table of INSERT/UPDATE/DELETE as a FROM item; NULL table when not in the schema. */
const struct schema_table *sql_target_rel(struct sql_ctx *c, struct sql_scope *sc, json_t *rv,
                                          const char *alias_as)
{
	const char *rel = sql_jstr(rv, "relname");
	const struct schema_table *t = sql_find_table(c->s, sql_jstr(rv, "schemaname"), rel);
	const struct sql_view *v = t ? NULL : sql_find_view(c, sql_jstr(rv, "schemaname"), rel);
	struct sql_rel r;
	memset(&r, 0, sizeof(r));
	if (t) {
		c->touched = true;
		sql_table_rel(t, &r);
	} else if (v) {
		c->touched = true;
		sql_view_rel(v, &r);
	}
	const char *alias = sql_jstr(json_object_get(rv, "alias"), "aliasname");
	sql_scope_add_rel(sc, alias_as ? alias_as : alias ? alias : rel, &r);
	return t;
}

/*
 * A target column of INSERT or UPDATE on an encrypted table that pgseal cannot map with
 * certainty: a name the config does not list (misspelt, or a quoted "EMAIL"), or a part of a
 * column (`SET people.email = ...` is a field of a column named people to PostgreSQL).
 * PostgreSQL would reject the statement, but log it with its values first: refused here.
 */
static int target_check(struct sql_ctx *c, const struct schema_table *t, json_t *rt)
{
	const char *name = sql_jstr(rt, "name");
	if (!t || t->nencrypted == 0 || !name)
		return PGS_OK;
	const struct schema_column *col = sql_find_column(t, name);
	if (json_array_size(json_object_get(rt, "indirection"))) {
		if (col)
			return sql_refuse(
			    c, "0A000",
			    "assigning to a part of encrypted column %s is not supported",
			    col->qualified);
		return sql_refuse(
		    c, "0A000",
		    "assigning to a part of column \"%s\" of encrypted table %s is not "
		    "supported (PostgreSQL reads %s.x as a field of a column named %s; "
		    "name the column alone); nothing was sent",
		    name, t->name, name, name);
	}
	return col ? PGS_OK : sql_column_mapped(c, t, name);
}

/* SET (a, b) = (1, 2, 3) or = (SELECT 1, 2, 3) on an encrypted table: a value without a column
 * (or a column without a value), which PostgreSQL rejects after logging the statement. */
static int multi_arity(struct sql_ctx *c, const struct schema_table *t, json_t *val)
{
	json_t *m = sql_node_is(val, "MultiAssignRef");
	if (!t || t->nencrypted == 0 || !m)
		return PGS_OK;
	json_int_t want = json_integer_value(json_object_get(m, "ncolumns"));
	json_t *src = json_object_get(m, "source"), *row = sql_node_is(src, "RowExpr");
	json_t *sel =
	    sql_node_is(json_object_get(sql_node_is(src, "SubLink"), "subselect"), "SelectStmt");
	json_t *list = row ? json_object_get(row, "args") : json_object_get(sel, "targetList");
	if ((row || (sel && list)) && (json_int_t)json_array_size(list) != want)
		return sql_refuse(
		    c, "0A000",
		    "UPDATE of encrypted table %s: SET (...) = (...) has %zu value(s) "
		    "for %d column(s); nothing was sent",
		    t->name, json_array_size(list), (int)want);
	return PGS_OK;
}

static int set_list(struct sql_ctx *c, struct sql_scope *sc, const struct schema_table *t,
                    json_t *targets)
{
	size_t i;
	json_t *it;
	json_array_foreach(targets, i, it)
	{
		json_t *rt = sql_node_is(it, "ResTarget");
		const char *name = sql_jstr(rt, "name");
		json_t *val = json_object_get(rt, "val");
		const struct schema_column *col = t ? sql_find_column(t, name) : NULL;
		if (target_check(c, t, rt) < 0 || multi_arity(c, t, val) < 0)
			return PGS_ERR;
		if (col && sql_node_is(val, "MultiAssignRef"))
			return sql_refuse(
			    c, "0A000",
			    "SET (...) = (...) on encrypted column %s is not supported; use "
			    "col = value",
			    col->qualified);
		if (col ? sql_value_into(c, sc, val, col) < 0 : (val && sql_expr(c, sc, val) < 0))
			return PGS_ERR;
	}
	return PGS_OK;
}

static int returning(struct sql_ctx *c, struct sql_scope *sc, json_t *b, struct sql_rel *out)
{
	struct sql_rel r;
	if (sql_targets(c, sc, json_object_get(b, "returningList"), &r) < 0) {
		sql_rel_free(&r);
		return PGS_ERR;
	}
	if (out)
		*out = r;
	else
		sql_rel_free(&r);
	return PGS_OK;
}

int sql_insert(struct sql_ctx *c, struct sql_scope *parent, json_t *b, struct sql_rel *out)
{
	struct sql_scope sc = {.parent = parent};
	const struct schema_column **enc = NULL;
	int rc = -1;
	json_t *with = json_object_get(b, "withClause");
	if (with && sql_with_clause(c, &sc, with) < 0)
		goto out;
	json_t *rv = json_object_get(b, "relation");
	if (sql_view_write(c, rv, "INSERT into") < 0)
		goto out;
	const struct schema_table *t = sql_target_rel(c, &sc, rv, NULL);
	json_t *cols = json_object_get(b, "cols");
	size_t ncols = json_array_size(cols);
	bool any = false, explicit = ncols > 0;
	if (t) {
		if (ncols == 0 && t->ncolumns == 0 && t->nencrypted > 0) {
			rc = sql_refuse(
			    c, "0A000",
			    "INSERT into %s without a column list: name the columns (or list the "
			    "table's columns in the encryption config)",
			    t->name);
			goto out;
		}
		size_t n = ncols ? ncols : t->ncolumns;
		/* an array of pointers: sizeof(*p) is a pointer's size, as meant */
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		enc = pgs_xcalloc(n + 1, sizeof(*enc));
		for (size_t i = 0; i < n; i++) {
			json_t *rt = sql_node_is(json_array_get(cols, i), "ResTarget");
			const char *nm = ncols ? sql_jstr(rt, "name") : t->columns[i];
			enc[i] = sql_find_column(t, nm);
			if (ncols && target_check(c, t, rt) < 0)
				goto out;
			any = any || enc[i];
		}
		ncols = n;
	}
	/* a VALUES row longer or shorter than the targets: PostgreSQL rejects it (and logs it) */
	bool arity = t && t->nencrypted > 0;
	size_t rowlen = explicit ? ncols : 0;
	json_t *sel = sql_node_is(json_object_get(b, "selectStmt"), "SelectStmt");
	json_t *vl = sel ? json_object_get(sel, "valuesLists") : NULL;
	if (sel && vl && json_object_size(sel) <= 4 && !json_object_get(sel, "withClause")) {
		size_t i;
		json_t *row;
		json_array_foreach(vl, i, row)
		{
			size_t k;
			json_t *item, *items = json_object_get(sql_node_is(row, "List"), "items");
			size_t len = json_array_size(items);
			if (arity && (rowlen ? len != rowlen : len > ncols)) {
				rc = sql_refuse(
				    c, "0A000",
				    "INSERT into encrypted table %s: a VALUES row has %zu "
				    "value(s) for %zu target column(s); nothing was sent",
				    t->name, len, rowlen ? rowlen : ncols);
				goto out;
			}
			if (arity && !rowlen)
				rowlen = len; /* every row as long as the first */
			json_array_foreach(items, k, item)
			{
				if (enc && k < ncols && enc[k]
				        ? sql_value_into(c, &sc, item, enc[k]) < 0
				        : sql_expr(c, &sc, item) < 0)
					goto out;
			}
		}
	} else if (sel) {
		if (any) {
			for (size_t i = 0; i < ncols; i++)
				if (enc[i]) {
					rc = sql_refuse(
					    c, "0A000",
					    "INSERT ... SELECT into encrypted column %s is not "
					    "supported",
					    enc[i]->qualified);
					goto out;
				}
		}
		struct sql_rel q;
		if (c->stmt(c, &sc, json_object_get(b, "selectStmt"), &q) < 0) {
			sql_rel_free(&q);
			goto out;
		}
		size_t qn = q.ncols;
		bool known = q.known;
		sql_rel_free(&q);
		if (arity && known && (explicit ? qn != ncols : qn > ncols)) {
			rc = sql_refuse(
			    c, "0A000",
			    "INSERT into encrypted table %s: the query gives %zu value(s) "
			    "for %zu target column(s); nothing was sent",
			    t->name, qn, ncols);
			goto out;
		}
	}
	json_t *oc = json_object_get(b, "onConflictClause");
	size_t rels_before_excluded = sc.nrels;
	if (oc) {
		if (t) {
			struct sql_rel ex;
			sql_table_rel(t, &ex);
			sql_scope_add_rel(&sc, "excluded", &ex);
		} else {
			(void)sql_target_rel(c, &sc, rv, "excluded");
		}
		json_t *infer = json_object_get(oc, "infer");
		if (infer && sql_no_encrypted(c, &sc, json_object_get(infer, "whereClause"),
		                              "ON CONFLICT WHERE") < 0)
			goto out;
		size_t i;
		json_t *ie;
		json_array_foreach(json_object_get(infer, "indexElems"), i, ie)
		{
			json_t *e = sql_node_is(ie, "IndexElem");
			json_t *x = json_object_get(e, "expr");
			if (sql_column_mapped(c, t, sql_jstr(e, "name")) < 0 ||
			    (x && sql_no_encrypted(c, &sc, x, "ON CONFLICT") < 0))
				goto out;
		}
		if (set_list(c, &sc, t, json_object_get(oc, "targetList")) < 0)
			goto out;
		json_t *w = json_object_get(oc, "whereClause");
		if (w && sql_expr(c, &sc, w) < 0)
			goto out;
		/* EXCLUDED is visible in ON CONFLICT only, not in RETURNING */
		while (sc.nrels > rels_before_excluded)
			sql_rel_free(&sc.rels[--sc.nrels]);
	}
	rc = returning(c, &sc, b, out);
out:
	free(enc);
	sql_scope_free(&sc);
	return rc;
}

int sql_update_delete(struct sql_ctx *c, struct sql_scope *parent, json_t *b, bool upd,
                      struct sql_rel *out)
{
	struct sql_scope sc = {.parent = parent};
	int rc = -1;
	json_t *with = json_object_get(b, "withClause");
	if (with && sql_with_clause(c, &sc, with) < 0)
		goto out;
	if (upd && sql_view_write(c, json_object_get(b, "relation"), "UPDATE of") < 0)
		goto out;
	const struct schema_table *t = sql_target_rel(c, &sc, json_object_get(b, "relation"), NULL);
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(b, upd ? "fromClause" : "usingClause"), i, it)
	{
		if (sql_from_item(c, &sc, it) < 0)
			goto out;
	}
	if (upd && set_list(c, &sc, t, json_object_get(b, "targetList")) < 0)
		goto out;
	json_t *w = json_object_get(b, "whereClause");
	if (w && sql_expr(c, &sc, w) < 0)
		goto out;
	rc = returning(c, &sc, b, out);
out:
	sql_scope_free(&sc);
	return rc;
}
