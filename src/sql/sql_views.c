/* sql_views.c - the connection's registry of views over encrypted tables: a view's columns mapped
 * by analysing its definition; child tables and partitions of encrypted tables. */
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
