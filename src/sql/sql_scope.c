/* sql_scope.c - names, below the analyzers: the config's tables and columns and the views as FROM
 * items, scopes, and what a column reference resolves to (nothing recursive). */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void sql_rel_push(struct sql_rel *r, const char *name, const struct schema_column *col,
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
			sql_rel_push(r, t->columns[i], sql_find_column(t, t->columns[i]), false);
		/* an encrypted column missing from `columns:` still counts */
		for (size_t i = 0; i < t->nencrypted; i++) {
			bool found = false;
			for (size_t k = 0; k < r->ncols && !found; k++)
				/* the names pushed above are columns[], never NULL (schema_load.c)
				 */
				/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
				found = strcmp(r->cols[k].name, t->encrypted[i].name) == 0;
			if (!found)
				sql_rel_push(r, t->encrypted[i].name, &t->encrypted[i], false);
		}
		r->known = true;
	} else {
		for (size_t i = 0; i < t->nencrypted; i++)
			sql_rel_push(r, t->encrypted[i].name, &t->encrypted[i], false);
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

bool sql_rel_has_encrypted(const struct sql_rel *r)
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
		if (sql_rel_has_encrypted(r))
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

enum sql_look sql_rel_lookup(const struct sql_rel *r, const char *name, const struct sql_dcol **d)
{
	for (size_t i = 0; i < r->ncols; i++)
		if (r->cols[i].name && strcmp(r->cols[i].name, name) == 0) {
			*d = &r->cols[i];
			return (r->cols[i].col || r->cols[i].tainted) ? SQL_LOOK_ENC
			                                              : SQL_LOOK_PLAIN;
		}
	if (r->known)
		return SQL_LOOK_NO;
	return r->unsafe ? SQL_LOOK_MAYBE : SQL_LOOK_UNKNOWN;
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
		enum sql_look l = sql_rel_lookup(r, name, &d);
		if ((l == SQL_LOOK_NO || l == SQL_LOOK_UNKNOWN || l == SQL_LOOK_MAYBE) &&
		    unmapped(c, r->table, name))
			return refuse_unmapped(c, r->table, name);
		if (l == SQL_LOOK_ENC)
			*out = *d;
		else if (l == SQL_LOOK_MAYBE)
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
			switch (sql_rel_lookup(&sc->rels[i], name, &d)) {
			case SQL_LOOK_ENC:
				enc = d;
				nenc++;
				break;
			case SQL_LOOK_PLAIN:
				nplain++;
				break;
			case SQL_LOOK_MAYBE:
				nmaybe++;
				break;
			case SQL_LOOK_UNKNOWN:
				unknown_here = true;
				break;
			case SQL_LOOK_NO:
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
	if (whole && sql_rel_has_encrypted(whole))
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
		return r && sql_rel_has_encrypted(r);
	}
	for (size_t i = 0; sc && i < sc->nrels; i++)
		if (sql_rel_has_encrypted(&sc->rels[i]))
			return true;
	return false;
}

const struct sql_view *sql_find_view(const struct sql_ctx *c, const char *schemaname,
                                     const char *relname)
{
	const struct sql_views *vs = c->views;
	for (size_t i = 0; vs && relname && i < vs->n; i++) {
		const struct sql_view *v = &vs->v[i];
		if (strcmp(v->name, relname) != 0)
			continue;
		if (schemaname && !(v->schemaname && !strcmp(v->schemaname, schemaname)))
			continue;
		return v;
	}
	return NULL;
}

void sql_view_rel(const struct sql_view *v, struct sql_rel *r)
{
	memset(r, 0, sizeof(*r));
	r->known = true;
	r->cols = pgs_xcalloc(v->ncols + 1, sizeof(*r->cols));
	r->ncols = v->ncols;
	for (size_t i = 0; i < v->ncols; i++)
		r->cols[i] = (struct sql_dcol){
		    .name = v->cols[i].name, .col = v->cols[i].col, .tainted = v->cols[i].tainted};
}

/* INSERT/UPDATE through a view that carries encrypted data: the view's rules or triggers
 * decide where the values go, so pgseal cannot encrypt them for the right column. */
int sql_view_write(struct sql_ctx *c, json_t *rv, const char *what)
{
	const char *rel = sql_jstr(rv, "relname"), *nsp = sql_jstr(rv, "schemaname");
	const struct sql_view *v =
	    sql_find_table(c->s, nsp, rel) ? NULL : sql_find_view(c, nsp, rel);
	if (!v || !v->encrypted)
		return PGS_OK;
	const char *col = "?";
	for (size_t i = 0; i < v->ncols; i++)
		if (v->cols[i].col || v->cols[i].tainted) {
			col = v->cols[i].col ? v->cols[i].col->qualified : v->cols[i].name;
			break;
		}
	if (v->child_of)
		return sql_refuse(c, "0A000",
		                  "%s %s, a child table or partition of encrypted table %s, is not "
		                  "supported: it carries encrypted column %s under a name the "
		                  "encryption config does not know; write to %s",
		                  what, v->name, v->child_of->name, col, v->child_of->name);
	return sql_refuse(c, "0A000",
	                  "%s view %s is not supported: it carries encrypted column %s; write to "
	                  "the table",
	                  what, v->name, col);
}

/* A view the text defines over encrypted data (plan->defined_views). */
void sql_define_view(struct sql_ctx *c, const char *name)
{
	struct sql_plan *p = c->plan;
	if (!name)
		return;
	p->defined_views =
	    pgs_xrealloc(p->defined_views, (p->ndefined_views + 1) * sizeof(*p->defined_views));
	p->defined_views[p->ndefined_views++] = pgs_xstrdup(name);
}
