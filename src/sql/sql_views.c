/* sql_views.c - views over encrypted tables: their columns from the view definition, and name
 * resolution of views in statements. */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>

struct sql_views *sql_views_new(void)
{
	return pgs_xcalloc(1, sizeof(struct sql_views));
}

void sql_views_free(struct sql_views *vs)
{
	if (!vs)
		return;
	for (size_t i = 0; i < vs->n; i++) {
		struct sql_view *v = &vs->v[i];
		for (size_t k = 0; k < v->ncols; k++)
			free(v->cols[k].name);
		free(v->cols);
		free(v->schemaname);
		free(v->name);
	}
	free(vs->v);
	free(vs);
}

const struct sql_view *sql_views_add(struct sql_views *vs, const struct schema *s,
                                     const char *schemaname, const char *name,
                                     const char *const *colnames, size_t ncols, const char *def)
{
	struct sql_plan *p = NULL;
	struct sql_rel out;
	memset(&out, 0, sizeof(out));
	/* analysed before this view is added: a definition cannot name its own view */
	bool prev = sql_lex_set(vs->scs_off);
	bool mapped = def &&
	              sql_analyze_into(s, vs, def, strlen(def), NULL, NULL, &p, &out) == PGS_OK &&
	              !p->refused && out.known && !out.unsafe && out.ncols == ncols;
	sql_lex_set(prev);
	vs->v = pgs_xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	struct sql_view *v = &vs->v[vs->n++];
	memset(v, 0, sizeof(*v));
	v->schemaname = schemaname ? pgs_xstrdup(schemaname) : NULL;
	v->name = pgs_xstrdup(name);
	v->ncols = ncols;
	v->cols = pgs_xcalloc(ncols + 1, sizeof(*v->cols));
	for (size_t i = 0; i < ncols; i++) {
		v->cols[i].name = pgs_xstrdup(colnames[i] ? colnames[i] : "");
		if (mapped) {
			v->cols[i].col = out.cols[i].col;
			v->cols[i].tainted = out.cols[i].tainted;
		} else {
			/* nothing known about what each column carries: selectable only */
			v->cols[i].tainted = true;
		}
		v->encrypted = v->encrypted || v->cols[i].col || v->cols[i].tainted;
	}
	sql_rel_free(&out);
	sql_plan_free(p);
	return v;
}

const struct sql_view *sql_views_add_child(struct sql_views *vs, const struct schema *s,
                                           const char *schemaname, const char *name,
                                           const char *const *colnames, size_t ncols,
                                           const char *parent_schema, const char *parent_name)
{
	const struct schema_table *p = sql_find_table(s, parent_schema, parent_name);
	if (!p || p->nencrypted == 0 || !name || sql_find_table(s, schemaname, name))
		return NULL;
	vs->v = pgs_xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	struct sql_view *v = &vs->v[vs->n++];
	memset(v, 0, sizeof(*v));
	v->schemaname = schemaname ? pgs_xstrdup(schemaname) : NULL;
	v->name = pgs_xstrdup(name);
	v->child_of = p;
	v->ncols = ncols;
	v->cols = pgs_xcalloc(ncols + 1, sizeof(*v->cols));
	for (size_t i = 0; i < ncols; i++) {
		v->cols[i].name = pgs_xstrdup(colnames[i] ? colnames[i] : "");
		v->cols[i].col = sql_find_column(p, v->cols[i].name);
		v->encrypted = v->encrypted || v->cols[i].col;
	}
	return v;
}

bool sql_views_may_touch(const struct sql_views *vs, const char *sql, size_t len)
{
	if (!vs || vs->n == 0)
		return false;
	if (sql_text_mentions(sql, len, "u&\"") || sql_may_rename_schema(sql, len))
		return true; /* ALTER SCHEMA s RENAME: s.v becomes t.v, the text names no view */
	for (size_t i = 0; i < vs->n; i++)
		if (sql_text_mentions(sql, len, vs->v[i].name))
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
