/* sql_select.c - SELECT: WITH clauses (recursive ones too), set operations, and no order, grouping
 * or de-duplication on encrypted data. */
#include "sql/sql_internal.h"

#include <string.h>

int sql_with_clause(struct sql_ctx *c, struct sql_scope *sc, json_t *with)
{
	bool recursive = json_is_true(json_object_get(with, "recursive"));
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(with, "ctes"), i, it)
	{
		json_t *b = sql_node_is(it, "CommonTableExpr");
		const char *name = sql_jstr(b, "ctename");
		json_t *q = json_object_get(b, "ctequery");
		if (!name)
			return sql_refuse(c, "0A000",
			                  "pgseal does not understand this WITH clause");
		if (sc->nctes == sc->capctes) {
			sc->capctes = sc->capctes ? sc->capctes * 2 : 4;
			sc->ctes = pgs_xrealloc(sc->ctes, sc->capctes * sizeof(*sc->ctes));
		}
		struct sql_cte *cte = &sc->ctes[sc->nctes];
		memset(cte, 0, sizeof(*cte));
		cte->name = name;
		json_t *sel = sql_node_is(q, "SelectStmt");
		if (recursive && sel && json_object_get(sel, "larg")) {
			/* the non-recursive term gives the columns the recursive term sees */
			cte->rel.unsafe = true;
			sc->nctes++;
			struct sql_rel first;
			memset(&first, 0, sizeof(first));
			if (sql_select(c, sc, json_object_get(sel, "larg"), &first) < 0) {
				sql_rel_free(&first);
				return PGS_ERR;
			}
			sc->nctes--;
			/* the recursive term sees the CTE under its column aliases */
			sql_rel_rename(&first, json_object_get(b, "aliascolnames"));
			cte->rel = first;
			sc->nctes++;
			struct sql_rel all;
			memset(&all, 0, sizeof(all));
			if (c->stmt(c, sc, q, &all) < 0) {
				sql_rel_free(&all);
				return PGS_ERR;
			}
			sql_rel_free(&all);
		} else {
			if (recursive)
				cte->rel.unsafe = true;
			if (recursive)
				sc->nctes++;
			struct sql_rel out;
			memset(&out, 0, sizeof(out));
			int rc = c->stmt(c, sc, q, &out);
			if (recursive)
				sc->nctes--;
			if (rc < 0) {
				sql_rel_free(&out);
				return PGS_ERR;
			}
			cte = &sc->ctes[sc->nctes];
			sql_rel_free(&cte->rel);
			cte->rel = out;
			cte->name = name;
			sc->nctes++;
		}
		sql_rel_rename(&sc->ctes[sc->nctes - 1].rel, json_object_get(b, "aliascolnames"));
	}
	return PGS_OK;
}

/* ORDER BY / GROUP BY / DISTINCT ON / PARTITION BY items: nothing encrypted may decide order or
 * grouping. */
static int order_items(struct sql_ctx *c, struct sql_scope *sc, json_t *items,
                       const struct sql_rel *outs, const char *what)
{
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		json_t *b = sql_node_is(it, "SortBy");
		json_t *node = b ? json_object_get(b, "node") : it;
		json_t *k = sql_node_is(node, "A_Const"), *cr = sql_node_is(node, "ColumnRef");
		if (k && json_object_get(k, "ival") && outs) {
			json_int_t pos =
			    json_integer_value(json_object_get(json_object_get(k, "ival"), "ival"));
			if (pos >= 1 && (size_t)pos <= outs->ncols) {
				const struct sql_dcol *d = &outs->cols[pos - 1];
				if (d->col || d->tainted)
					return sql_refuse(
					    c, "0A000",
					    "%s on encrypted column %s is not supported", what,
					    d->col ? d->col->qualified : d->name);
			} else if (!outs->known && outs->unsafe) {
				return sql_refuse(
				    c, "0A000",
				    "pgseal cannot tell whether %s position %d is encrypted", what,
				    (int)pos);
			}
			continue;
		}
		if (cr && outs && json_array_size(json_object_get(cr, "fields")) == 1) {
			const char *nm = sql_jstr(
			    sql_node_is(json_array_get(json_object_get(cr, "fields"), 0), "String"),
			    "sval");
			for (size_t o = 0; nm && o < outs->ncols; o++)
				if (outs->cols[o].name && !strcmp(outs->cols[o].name, nm) &&
				    (outs->cols[o].col || outs->cols[o].tainted))
					return sql_refuse(
					    c, "0A000",
					    "%s on encrypted column %s is not supported", what,
					    outs->cols[o].col ? outs->cols[o].col->qualified : nm);
		}
		if (sql_no_encrypted(c, sc, node, what) < 0)
			return PGS_ERR;
	}
	return PGS_OK;
}

int sql_select(struct sql_ctx *c, struct sql_scope *parent, json_t *b, struct sql_rel *out)
{
	struct sql_scope sc = {.parent = parent};
	struct sql_rel outs, r2;
	int rc = -1;
	memset(&outs, 0, sizeof(outs));
	memset(&r2, 0, sizeof(r2));
	json_t *with = json_object_get(b, "withClause");
	if (with && sql_with_clause(c, &sc, with) < 0)
		goto out;
	const char *op = sql_jstr(b, "op");
	if (op && strcmp(op, "SETOP_NONE") != 0) {
		if (sql_select(c, &sc, json_object_get(b, "larg"), &outs) < 0 ||
		    sql_select(c, &sc, json_object_get(b, "rarg"), &r2) < 0)
			goto out;
		for (size_t i = 0; i < outs.ncols && i < r2.ncols; i++)
			if ((r2.cols[i].col || r2.cols[i].tainted) &&
			    r2.cols[i].col != outs.cols[i].col) {
				outs.cols[i].tainted = true;
				outs.cols[i].col = NULL;
			} else if (outs.cols[i].col && !r2.cols[i].col) {
				outs.cols[i].tainted = true;
				outs.cols[i].col = NULL;
			}
		if (r2.unsafe || !r2.known)
			outs.unsafe = outs.unsafe || r2.unsafe;
		if (strcmp(op, "SETOP_UNION") != 0 || !json_is_true(json_object_get(b, "all")))
			for (size_t i = 0; i < outs.ncols; i++)
				if (outs.cols[i].col || outs.cols[i].tainted) {
					rc = sql_refuse(
					    c, "0A000",
					    "UNION/INTERSECT/EXCEPT without ALL compares encrypted "
					    "column %s; use UNION ALL",
					    outs.cols[i].col ? outs.cols[i].col->qualified
					                     : outs.cols[i].name);
					goto out;
				}
	} else {
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(b, "fromClause"), i, it)
		{
			if (sql_from_item(c, &sc, it) < 0)
				goto out;
		}
		if (sql_targets(c, &sc, json_object_get(b, "targetList"), &outs) < 0)
			goto out;
		json_t *w = json_object_get(b, "whereClause");
		if (w && sql_expr(c, &sc, w) < 0)
			goto out;
		json_t *h = json_object_get(b, "havingClause");
		if (h && sql_expr(c, &sc, h) < 0)
			goto out;
		if (order_items(c, &sc, json_object_get(b, "groupClause"), &outs, "GROUP BY") < 0)
			goto out;
		json_t *dc = json_object_get(b, "distinctClause");
		if (json_array_size(dc) == 1 && json_object_size(json_array_get(dc, 0)) == 0) {
			for (size_t k = 0; k < outs.ncols; k++)
				if (outs.cols[k].col || outs.cols[k].tainted) {
					rc = sql_refuse(
					    c, "0A000",
					    "DISTINCT on encrypted column %s is not supported",
					    outs.cols[k].col ? outs.cols[k].col->qualified
					                     : outs.cols[k].name);
					goto out;
				}
			if (outs.unsafe) {
				rc = sql_refuse(
				    c, "0A000",
				    "DISTINCT over a row with encrypted columns is not supported");
				goto out;
			}
		} else if (order_items(c, &sc, dc, &outs, "DISTINCT ON") < 0) {
			goto out;
		}
		json_array_foreach(json_object_get(b, "windowClause"), i, it)
		{
			if (sql_no_encrypted(c, &sc, it, "PARTITION BY / window ORDER BY") < 0)
				goto out;
		}
		json_array_foreach(json_object_get(b, "valuesLists"), i, it)
		{
			if (sql_expr(c, &sc, it) < 0)
				goto out;
		}
	}
	if (order_items(c, &sc, json_object_get(b, "sortClause"), &outs, "ORDER BY") < 0)
		goto out;
	json_t *lim;
	if ((lim = json_object_get(b, "limitCount")) && sql_expr(c, &sc, lim) < 0)
		goto out;
	if ((lim = json_object_get(b, "limitOffset")) && sql_expr(c, &sc, lim) < 0)
		goto out;
	rc = 0;
	if (out) {
		*out = outs;
		memset(&outs, 0, sizeof(outs));
	}
out:
	sql_rel_free(&outs);
	sql_rel_free(&r2);
	sql_scope_free(&sc);
	return rc;
}
