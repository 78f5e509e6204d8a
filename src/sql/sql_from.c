/* sql_from.c - FROM items and target lists: tables, joins, subqueries in FROM, CTE references, star
 * expansion, scalar subqueries, and what each output column carries. */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *dcol_name(const struct sql_dcol *d)
{
	return d->col ? d->col->qualified : d->name;
}

static const struct sql_rel *cte_lookup(struct sql_scope *sc, const char *name)
{
	for (; sc; sc = sc->parent)
		for (size_t i = sc->nctes; i-- > 0;)
			if (strcmp(sc->ctes[i].name, name) == 0)
				return &sc->ctes[i].rel;
	return NULL;
}

static void rel_copy(struct sql_rel *dst, const struct sql_rel *src)
{
	*dst = *src;
	dst->cols = NULL;
	if (src->ncols) {
		dst->cols = pgs_xmalloc(src->ncols * sizeof(*src->cols));
		memcpy(dst->cols, src->cols, src->ncols * sizeof(*src->cols));
	}
}

/* Appends the columns of star-expanded FROM items to out. */
static void star_expand(struct sql_scope *sc, const char *alias, struct sql_rel *out)
{
	for (size_t i = 0; i < sc->nrels; i++) {
		struct sql_rel *r = &sc->rels[i];
		if (alias && !(r->alias && !strcmp(r->alias, alias)))
			continue;
		for (size_t k = 0; k < r->ncols; k++)
			sql_rel_push(out, r->cols[k].name, r->cols[k].col, r->cols[k].tainted);
		if (!r->known)
			out->known = false;
		if (r->unsafe || (!r->known && sql_rel_has_encrypted(r)))
			out->unsafe = true;
	}
}

/* A scalar subquery that is a whole output column, `SELECT (SELECT email FROM t WHERE ...)`:
 * its one column passes through unchanged, so the output carries what that column carries
 * (decrypted for the client like a plain column reference). Used in any other expression, a
 * subquery returning encrypted data is refused by sql_expr. */
static int scalar_subquery(struct sql_ctx *c, struct sql_scope *sc, json_t *sl, struct sql_dcol *d)
{
	struct sql_rel outs;
	memset(d, 0, sizeof(*d));
	if (c->plan->refused)
		return -1;
	if (c->stmt(c, sc, json_object_get(sl, "subselect"), &outs) < 0) {
		sql_rel_free(&outs);
		return -1;
	}
	int rc = 0;
	if (outs.ncols == 1 && outs.known && !outs.unsafe) {
		*d = outs.cols[0];
	} else {
		/* PostgreSQL requires exactly one column; anything we cannot map stays refused */
		for (size_t i = 0; i < outs.ncols && rc == 0; i++)
			if (outs.cols[i].col || outs.cols[i].tainted)
				rc = sql_refuse(
				    c, "0A000",
				    "pgseal cannot map the subquery returning encrypted column %s",
				    dcol_name(&outs.cols[i]));
		if (rc == 0 && outs.unsafe)
			rc = sql_refuse(
			    c, "0A000",
			    "a subquery that may return encrypted data cannot be used here");
	}
	sql_rel_free(&outs);
	return rc;
}

int sql_targets(struct sql_ctx *c, struct sql_scope *sc, json_t *targets, struct sql_rel *out)
{
	size_t i;
	json_t *t;
	memset(out, 0, sizeof(*out));
	out->known = true;
	json_array_foreach(targets, i, t)
	{
		json_t *rt = sql_node_is(t, "ResTarget");
		json_t *val = json_object_get(rt, "val");
		const char *name = sql_jstr(rt, "name");
		json_t *cr = sql_node_is(val, "ColumnRef");
		if (cr) {
			json_t *fields = json_object_get(cr, "fields");
			size_t nf = json_array_size(fields);
			if (sql_node_is(json_array_get(fields, nf - 1), "A_Star")) {
				const char *alias =
				    nf >= 2 ? sql_jstr(sql_node_is(json_array_get(fields, nf - 2),
				                                   "String"),
				                       "sval")
				            : NULL;
				star_expand(sc, alias, out);
				continue;
			}
			struct sql_dcol d;
			if (sql_resolve(c, sc, cr, &d) < 0)
				return -1;
			sql_rel_push(out, name ? name : d.name, d.col, d.tainted);
			continue;
		}
		json_t *sl = sql_node_is(val, "SubLink");
		const char *kind = sql_jstr(sl, "subLinkType");
		if (sl && kind && !strcmp(kind, "EXPR_SUBLINK") &&
		    !json_object_get(sl, "testexpr")) {
			struct sql_dcol d;
			if (scalar_subquery(c, sc, sl, &d) < 0)
				return -1;
			sql_rel_push(out, name ? name : d.name, d.col, d.tainted);
			continue;
		}
		if (val && sql_expr(c, sc, val) < 0)
			return -1;
		sql_rel_push(out, name, NULL, false);
	}
	return PGS_OK;
}

int sql_from_item(struct sql_ctx *c, struct sql_scope *sc, json_t *item)
{
	json_t *b;
	const char *type = sql_node_type(item, &b);
	struct sql_rel r;
	memset(&r, 0, sizeof(r));
	if (!type)
		return PGS_OK;
	if (!strcmp(type, "RangeVar")) {
		const char *rel = sql_jstr(b, "relname"), *schemaname = sql_jstr(b, "schemaname");
		json_t *alias = json_object_get(b, "alias");
		const char *aname = sql_jstr(alias, "aliasname");
		const struct sql_rel *cte = (!schemaname && rel) ? cte_lookup(sc, rel) : NULL;
		const struct schema_table *t = cte ? NULL : sql_find_table(c->s, schemaname, rel);
		const struct sql_view *v = cte || t ? NULL : sql_find_view(c, schemaname, rel);
		if (cte) {
			rel_copy(&r, cte);
		} else if (t) {
			c->touched = true;
			sql_table_rel(t, &r);
		} else if (v) {
			c->touched = true;
			sql_view_rel(v, &r);
		}
		sql_rel_rename(&r, json_object_get(alias, "colnames"));
		sql_scope_add_rel(sc, aname ? aname : rel, &r);
		return 0;
	}
	if (!strcmp(type, "RangeSubselect")) {
		json_t *alias = json_object_get(b, "alias");
		if (c->stmt(c, sc, json_object_get(b, "subquery"), &r) < 0) {
			sql_rel_free(&r);
			return -1;
		}
		sql_rel_rename(&r, json_object_get(alias, "colnames"));
		sql_scope_add_rel(sc, sql_jstr(alias, "aliasname"), &r);
		return 0;
	}
	if (!strcmp(type, "JoinExpr")) {
		size_t first = sc->nrels;
		if (sql_from_item(c, sc, json_object_get(b, "larg")) < 0 ||
		    sql_from_item(c, sc, json_object_get(b, "rarg")) < 0)
			return -1;
		bool enc = false;
		for (size_t i = first; i < sc->nrels; i++)
			enc = enc || sql_rel_has_encrypted(&sc->rels[i]);
		if (json_is_true(json_object_get(b, "isNatural")) && enc)
			return sql_refuse(
			    c, "0A000",
			    "NATURAL JOIN with an encrypted table is not supported; use ON");
		size_t i;
		json_t *u;
		json_array_foreach(json_object_get(b, "usingClause"), i, u)
		{
			const char *nm = sql_jstr(sql_node_is(u, "String"), "sval");
			for (size_t k = first; nm && k < sc->nrels; k++) {
				const struct sql_dcol *d = NULL;
				enum sql_look l = sql_rel_lookup(&sc->rels[k], nm, &d);
				if (l == SQL_LOOK_ENC || l == SQL_LOOK_MAYBE)
					return sql_refuse(
					    c, "0A000",
					    "JOIN USING on encrypted column %s is not supported; "
					    "use ON a = b",
					    d ? dcol_name(d) : nm);
			}
		}
		json_t *q = json_object_get(b, "quals");
		if (q && sql_expr(c, sc, q) < 0)
			return -1;
		const char *jalias = sql_jstr(json_object_get(b, "alias"), "aliasname");
		if (jalias) {
			r.unsafe = enc;
			sql_scope_add_rel(sc, jalias, &r);
		}
		return PGS_OK;
	}
	if (!strcmp(type, "RangeFunction")) {
		if (sql_expr(c, sc, json_object_get(b, "functions")) < 0)
			return -1;
		const char *aname = sql_jstr(json_object_get(b, "alias"), "aliasname");
		sql_scope_add_rel(sc, aname, &r);
		return 0;
	}
	if (sql_tree_names_encrypted(c, b))
		return sql_refuse(
		    c, "0A000", "pgseal does not support this FROM item (%s) on an encrypted table",
		    type);
	if (sql_expr(c, sc, b) < 0)
		return -1;
	sql_scope_add_rel(sc, NULL, &r);
	return 0;
}
