/* sql_scope.c - name resolution: FROM items, aliases, subqueries, CTEs, and what each column
 * carries. */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *dcol_name(const struct sql_dcol *d)
{
	return d->col ? d->col->qualified : d->name;
}

const struct schema_table *sql_find_table(const struct schema *s, const char *schemaname,
                                          const char *relname)
{
	if (!s || !relname)
		return NULL;
	for (size_t i = 0; i < s->ntables; i++) {
		const char *name = s->tables[i].name;
		const char *dot = strrchr(name, '.');
		if (!dot) {
			if (strcmp(name, relname) == 0)
				return &s->tables[i];
			continue;
		}
		if (strcmp(dot + 1, relname) != 0)
			continue;
		if (!schemaname || (strlen(schemaname) == (size_t)(dot - name) &&
		                    strncmp(schemaname, name, (size_t)(dot - name)) == 0))
			return &s->tables[i];
	}
	return NULL;
}

const struct schema_column *sql_find_column(const struct schema_table *t, const char *name)
{
	for (size_t i = 0; t && name && i < t->nencrypted; i++)
		if (strcmp(t->encrypted[i].name, name) == 0)
			return &t->encrypted[i];
	return NULL;
}

bool sql_table_has_column(const struct schema_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (strcmp(t->columns[i], name) == 0)
			return true;
	return sql_find_column(t, name) != NULL;
}

void sql_rel_free(struct sql_rel *r)
{
	free(r->cols);
	r->cols = NULL;
	r->ncols = 0;
}

void sql_scope_free(struct sql_scope *sc)
{
	for (size_t i = 0; i < sc->nrels; i++)
		sql_rel_free(&sc->rels[i]);
	free(sc->rels);
	for (size_t i = 0; i < sc->nctes; i++)
		sql_rel_free(&sc->ctes[i].rel);
	free(sc->ctes);
	memset(sc, 0, sizeof(*sc));
}

static void rel_push(struct sql_rel *r, const char *name, const struct schema_column *col,
                     bool tainted)
{
	r->cols = pgs_xrealloc(r->cols, (r->ncols + 1) * sizeof(*r->cols));
	r->cols[r->ncols++] = (struct sql_dcol){.name = name, .col = col, .tainted = tainted};
}

void sql_table_rel(const struct schema_table *t, struct sql_rel *r)
{
	memset(r, 0, sizeof(*r));
	r->table = t;
	if (t->ncolumns > 0) {
		for (size_t i = 0; i < t->ncolumns; i++)
			rel_push(r, t->columns[i], sql_find_column(t, t->columns[i]), false);
		/* an encrypted column missing from `columns:` still counts */
		for (size_t i = 0; i < t->nencrypted; i++) {
			bool found = false;
			for (size_t k = 0; k < r->ncols && !found; k++)
				/* the names pushed above are columns[], never NULL (schema_load.c)
				 */
				/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
				found = strcmp(r->cols[k].name, t->encrypted[i].name) == 0;
			if (!found)
				rel_push(r, t->encrypted[i].name, &t->encrypted[i], false);
		}
		r->known = true;
	} else {
		for (size_t i = 0; i < t->nencrypted; i++)
			rel_push(r, t->encrypted[i].name, &t->encrypted[i], false);
	}
}

void sql_scope_add_rel(struct sql_scope *sc, const char *alias, struct sql_rel *r)
{
	if (sc->nrels == sc->caprels) {
		sc->caprels = sc->caprels ? sc->caprels * 2 : 4;
		sc->rels = pgs_xrealloc(sc->rels, sc->caprels * sizeof(*sc->rels));
	}
	r->alias = alias;
	sc->rels[sc->nrels++] = *r;
	memset(r, 0, sizeof(*r));
}

static bool rel_has_encrypted(const struct sql_rel *r)
{
	if (r->unsafe)
		return true;
	for (size_t i = 0; i < r->ncols; i++)
		if (r->cols[i].col || r->cols[i].tainted)
			return true;
	return false;
}

/* Renames the first columns by an alias list (t AS a(x, y)). */
void sql_rel_rename(struct sql_rel *r, json_t *colnames)
{
	size_t n = json_array_size(colnames);
	if (n == 0)
		return;
	if (!r->known) {
		/* positions unknown: the listed names can no longer be told apart */
		if (rel_has_encrypted(r))
			r->unsafe = true;
		free(r->cols);
		r->cols = NULL;
		r->ncols = 0;
		return;
	}
	for (size_t i = 0; i < n && i < r->ncols; i++) {
		const char *nm =
		    sql_jstr(sql_node_is(json_array_get(colnames, i), "String"), "sval");
		if (nm)
			r->cols[i].name = nm;
	}
}

enum look { LOOK_NO, LOOK_PLAIN, LOOK_ENC, LOOK_UNKNOWN, LOOK_MAYBE };

static enum look rel_lookup(const struct sql_rel *r, const char *name, const struct sql_dcol **d)
{
	for (size_t i = 0; i < r->ncols; i++)
		if (r->cols[i].name && strcmp(r->cols[i].name, name) == 0) {
			*d = &r->cols[i];
			return (r->cols[i].col || r->cols[i].tainted) ? LOOK_ENC : LOOK_PLAIN;
		}
	if (r->known)
		return LOOK_NO;
	return r->unsafe ? LOOK_MAYBE : LOOK_UNKNOWN;
}

static struct sql_rel *find_rel(struct sql_scope *sc, const char *alias)
{
	for (; sc; sc = sc->parent)
		for (size_t i = sc->nrels; i-- > 0;)
			if (sc->rels[i].alias && strcmp(sc->rels[i].alias, alias) == 0)
				return &sc->rels[i];
	return NULL;
}

const struct schema_column *sql_case_twin(const struct schema_table *t, const char *name)
{
	for (size_t i = 0; t && name && i < t->nencrypted; i++)
		if (strcasecmp(t->encrypted[i].name, name) == 0 &&
		    strcmp(t->encrypted[i].name, name) != 0)
			return &t->encrypted[i];
	return NULL;
}

/* A name that is no column of a configured encrypted table whose columns the config lists
 * (system columns aside): PostgreSQL would reject the statement, after logging it with its
 * values. Not in CREATE/ALTER TABLE, whose new columns the config may not list yet. */
static bool unmapped(const struct sql_ctx *c, const struct schema_table *t, const char *name)
{
	static const char *const sys[] = {"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"};
	if (!t || t->nencrypted == 0 || c->ddl || c->viewdef)
		return false;
	if (t->ncolumns == 0)
		return sql_case_twin(t, name) != NULL;
	for (size_t i = 0; i < PGS_ARRAY_LEN(sys); i++)
		if (!strcmp(name, sys[i]))
			return false;
	return !sql_table_has_column(t, name);
}

static int refuse_unmapped(struct sql_ctx *c, const struct schema_table *t, const char *name)
{
	return sql_refuse(c, "0A000",
	                  "column \"%s\" is not a column of encrypted table %s in the encryption "
	                  "config (misspelt, or quoted in another case?); nothing was sent",
	                  name, t->name);
}

int sql_column_mapped(struct sql_ctx *c, const struct schema_table *t, const char *name)
{
	return name && unmapped(c, t, name) ? refuse_unmapped(c, t, name) : PGS_OK;
}

int sql_resolve(struct sql_ctx *c, struct sql_scope *sc, json_t *colref, struct sql_dcol *out)
{
	json_t *fields = json_object_get(colref, "fields");
	size_t nf = json_array_size(fields);
	memset(out, 0, sizeof(*out));
	if (nf == 0)
		return PGS_OK;
	const char *name = sql_jstr(sql_node_is(json_array_get(fields, nf - 1), "String"), "sval");
	if (!name)
		return PGS_OK; /* t.* : handled by callers */
	out->name = name;
	if (nf >= 2) {
		const char *alias =
		    sql_jstr(sql_node_is(json_array_get(fields, nf - 2), "String"), "sval");
		struct sql_rel *r = alias ? find_rel(sc, alias) : NULL;
		if (!r) {
			/* PostgreSQL rejects it, but would log the statement with its values first
			 */
			const char *schemaname =
			    nf >= 3
			        ? sql_jstr(sql_node_is(json_array_get(fields, nf - 3), "String"),
			                   "sval")
			        : NULL;
			const struct schema_table *t =
			    alias ? sql_find_table(c->s, schemaname, alias) : NULL;
			if (t && sql_find_column(t, name))
				return sql_refuse(
				    c, "0A000",
				    "invalid reference to %s.%s: the table is not in FROM under "
				    "that name",
				    alias, name);
			return PGS_OK;
		}
		const struct sql_dcol *d = NULL;
		enum look l = rel_lookup(r, name, &d);
		if ((l == LOOK_NO || l == LOOK_UNKNOWN || l == LOOK_MAYBE) &&
		    unmapped(c, r->table, name))
			return refuse_unmapped(c, r->table, name);
		if (l == LOOK_ENC)
			*out = *d;
		else if (l == LOOK_MAYBE)
			return sql_refuse(c, "0A000",
			                  "pgseal cannot tell whether %s.%s holds encrypted data",
			                  alias, name);
		return PGS_OK;
	}
	bool unknown_inner = false;
	struct sql_scope *top = sc;
	/* every FROM item in sight a configured table with listed columns: a name none of them
	 * has is certainly not a column (an encrypted table's, quoted in another case?) */
	const struct schema_table *only = NULL;
	bool all_config = true;
	for (; sc; sc = sc->parent) {
		const struct sql_dcol *enc = NULL, *d = NULL;
		int nenc = 0, nplain = 0, nmaybe = 0;
		bool unknown_here = false;
		for (size_t i = 0; i < sc->nrels; i++) {
			if (sc->rels[i].table && sc->rels[i].known)
				only = only ? only : sc->rels[i].table;
			else
				all_config = false;
			/* "EMAIL" for email: PostgreSQL folds only unquoted names */
			if (sc->rels[i].table && sql_case_twin(sc->rels[i].table, name) &&
			    !c->ddl && !c->viewdef)
				return refuse_unmapped(c, sc->rels[i].table, name);
			switch (rel_lookup(&sc->rels[i], name, &d)) {
			case LOOK_ENC:
				enc = d;
				nenc++;
				break;
			case LOOK_PLAIN:
				nplain++;
				break;
			case LOOK_MAYBE:
				nmaybe++;
				break;
			case LOOK_UNKNOWN:
				unknown_here = true;
				break;
			case LOOK_NO:
				break;
			}
		}
		if (nenc > 0) {
			const char *q = enc->col ? enc->col->qualified : name;
			if (nenc > 1 || nplain > 0 || nmaybe > 0 || unknown_inner)
				return sql_refuse(c, "0A000",
				                  "column reference \"%s\" is ambiguous next to "
				                  "encrypted column %s; "
				                  "qualify it",
				                  name, q);
			*out = *enc;
			return PGS_OK;
		}
		if (nplain > 0)
			return PGS_OK;
		if (nmaybe > 0)
			return sql_refuse(
			    c, "0A000",
			    "pgseal cannot tell whether column \"%s\" holds encrypted data", name);
		unknown_inner = unknown_inner || unknown_here;
	}
	/* not a column: a whole-row reference to a FROM item (WHERE u = ROW(...)) */
	struct sql_rel *whole = find_rel(top, name);
	if (whole && rel_has_encrypted(whole))
		return sql_refuse(
		    c, "0A000", "pgseal cannot use a whole row of an encrypted table (\"%s\") here",
		    name);
	if (!whole && all_config && only && !c->what && unmapped(c, only, name))
		return refuse_unmapped(c, only, name);
	return PGS_OK;
}

bool sql_star_touches(struct sql_scope *sc, json_t *fields)
{
	size_t nf = json_array_size(fields);
	if (nf >= 2) {
		const char *alias =
		    sql_jstr(sql_node_is(json_array_get(fields, nf - 2), "String"), "sval");
		struct sql_rel *r = alias ? find_rel(sc, alias) : NULL;
		return r && rel_has_encrypted(r);
	}
	for (size_t i = 0; sc && i < sc->nrels; i++)
		if (rel_has_encrypted(&sc->rels[i]))
			return true;
	return false;
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
			rel_push(out, r->cols[k].name, r->cols[k].col, r->cols[k].tainted);
		if (!r->known)
			out->known = false;
		if (r->unsafe || (!r->known && rel_has_encrypted(r)))
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
		return PGS_ERR;
	if (sql_stmt(c, sc, json_object_get(sl, "subselect"), &outs) < 0) {
		sql_rel_free(&outs);
		return PGS_ERR;
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
				return PGS_ERR;
			rel_push(out, name ? name : d.name, d.col, d.tainted);
			continue;
		}
		json_t *sl = sql_node_is(val, "SubLink");
		const char *kind = sql_jstr(sl, "subLinkType");
		if (sl && kind && !strcmp(kind, "EXPR_SUBLINK") &&
		    !json_object_get(sl, "testexpr")) {
			struct sql_dcol d;
			if (scalar_subquery(c, sc, sl, &d) < 0)
				return PGS_ERR;
			rel_push(out, name ? name : d.name, d.col, d.tainted);
			continue;
		}
		if (val && sql_expr(c, sc, val) < 0)
			return PGS_ERR;
		rel_push(out, name, NULL, false);
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
		return PGS_OK;
	}
	if (!strcmp(type, "RangeSubselect")) {
		json_t *alias = json_object_get(b, "alias");
		if (sql_stmt(c, sc, json_object_get(b, "subquery"), &r) < 0) {
			sql_rel_free(&r);
			return PGS_ERR;
		}
		sql_rel_rename(&r, json_object_get(alias, "colnames"));
		sql_scope_add_rel(sc, sql_jstr(alias, "aliasname"), &r);
		return PGS_OK;
	}
	if (!strcmp(type, "JoinExpr")) {
		size_t first = sc->nrels;
		if (sql_from_item(c, sc, json_object_get(b, "larg")) < 0 ||
		    sql_from_item(c, sc, json_object_get(b, "rarg")) < 0)
			return PGS_ERR;
		bool enc = false;
		for (size_t i = first; i < sc->nrels; i++)
			enc = enc || rel_has_encrypted(&sc->rels[i]);
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
				enum look l = rel_lookup(&sc->rels[k], nm, &d);
				if (l == LOOK_ENC || l == LOOK_MAYBE)
					return sql_refuse(
					    c, "0A000",
					    "JOIN USING on encrypted column %s is not supported; "
					    "use ON a = b",
					    d ? dcol_name(d) : nm);
			}
		}
		json_t *q = json_object_get(b, "quals");
		if (q && sql_expr(c, sc, q) < 0)
			return PGS_ERR;
		const char *jalias = sql_jstr(json_object_get(b, "alias"), "aliasname");
		if (jalias) {
			r.unsafe = enc;
			sql_scope_add_rel(sc, jalias, &r);
		}
		return PGS_OK;
	}
	if (!strcmp(type, "RangeFunction")) {
		if (sql_expr(c, sc, json_object_get(b, "functions")) < 0)
			return PGS_ERR;
		const char *aname = sql_jstr(json_object_get(b, "alias"), "aliasname");
		sql_scope_add_rel(sc, aname, &r);
		return PGS_OK;
	}
	if (sql_tree_names_encrypted(c, b))
		return sql_refuse(
		    c, "0A000", "pgseal does not support this FROM item (%s) on an encrypted table",
		    type);
	if (sql_expr(c, sc, b) < 0)
		return PGS_ERR;
	sql_scope_add_rel(sc, NULL, &r);
	return PGS_OK;
}
