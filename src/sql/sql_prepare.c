/* sql_prepare.c - SQL-level PREPARE (parameter types of encrypted parameters) and EXECUTE
 * (arguments bound to encrypted parameters encrypted as literals). */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>

static const struct sql_prepared *find_prepared(struct sql_ctx *c, const char *name)
{
	for (size_t i = c->plan->nprepared; i-- > 0;)
		if (!strcmp(c->plan->prepared[i].name, name))
			return &c->plan->prepared[i];
	if (!c->lookup)
		return NULL;
	c->plan->cacheable = false;
	return c->lookup(c->lookup_arg, name);
}

/* `PREPARE name(int, text) AS ...`: a declared type of an encrypted parameter becomes
 * bytea (bytea[] for = ANY), since the column is bytea upstream. The type's extent runs
 * from its location to the next ',' or ')' outside parentheses and double quotes. */
static int prepare_argtypes(struct sql_ctx *c, json_t *argtypes, const struct sql_psink *sink)
{
	for (size_t i = 0; i < sink->n; i++) {
		const struct sql_param *p = &sink->v[i];
		json_t *tn =
		    sql_node_is(json_array_get(argtypes, (size_t)p->number - 1), "TypeName");
		if (p->number < 1 || !tn)
			continue;
		json_t *loc = json_object_get(tn, "location");
		if (!json_is_integer(loc) || json_integer_value(loc) < 0 ||
		    (size_t)json_integer_value(loc) >= c->len)
			return sql_refuse(c, "0A000",
			                  "pgseal cannot locate a parameter type of PREPARE");
		size_t start = (size_t)json_integer_value(loc), end = start;
		int depth = 0;
		bool quoted = false;
		for (; end < c->len; end++) {
			char ch = c->sql[end];
			if (ch == '"')
				quoted = !quoted;
			else if (!quoted && ch == '(')
				depth++;
			else if (!quoted && ch == ')' && depth-- == 0)
				break;
			else if (!quoted && ch == ',' && depth == 0)
				break;
		}
		while (end > start && (c->sql[end - 1] == ' ' || c->sql[end - 1] == '\t' ||
		                       c->sql[end - 1] == '\n' || c->sql[end - 1] == '\r'))
			end--;
		if (end == start || end >= c->len)
			return sql_refuse(c, "0A000",
			                  "pgseal cannot locate a parameter type of PREPARE");
		sql_add_text_edit(c, (uint32_t)start, (uint32_t)end,
		                  pgs_xstrdup(p->array ? "bytea[]" : "bytea"));
	}
	return 0;
}

int sql_prepare_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	struct sql_psink sink = {0}, *saved = c->sink;
	const char *name = sql_jstr(b, "name");
	c->sink = &sink;
	int rc = sql_stmt(c, parent, json_object_get(b, "query"), NULL);
	c->sink = saved;
	if (rc == 0 && name)
		rc = sql_sink_finish(c, &sink);
	if (rc == 0 && name)
		rc = prepare_argtypes(c, json_object_get(b, "argtypes"), &sink);
	if (rc == 0 && name) {
		struct sql_plan *p = c->plan;
		p->prepared = pgs_xrealloc(p->prepared, (p->nprepared + 1) * sizeof(*p->prepared));
		struct sql_prepared *e = &p->prepared[p->nprepared++];
		e->name = pgs_xstrdup(name);
		e->nparams = sink.n;
		e->params = sink.v;
		sink.v = NULL;
	}
	sql_sink_free(&sink);
	return rc;
}

int sql_execute_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	const char *name = sql_jstr(b, "name");
	json_t *args = json_object_get(b, "params");
	const struct sql_prepared *pp = name ? find_prepared(c, name) : NULL;
	size_t nargs = json_array_size(args);
	bool *done = pgs_xcalloc(nargs + 1, sizeof(bool));
	int rc = 0;
	struct sql_scope sc = {.parent = parent};
	for (size_t i = 0; pp && i < pp->nparams && rc == 0; i++) {
		const struct sql_param *p = &pp->params[i];
		if (p->number < 1 || (size_t)p->number > nargs)
			continue;
		json_t *arg = json_array_get(args, (size_t)p->number - 1);
		done[p->number - 1] = true;
		c->touched = true;
		json_t *arr = sql_node_is(arg, "A_ArrayExpr");
		if (p->array && arr) {
			size_t k;
			json_t *el;
			json_array_foreach(json_object_get(arr, "elements"), k, el)
			{
				if ((rc = sql_value_as(c, &sc, el, p->column, SQL_VALUE_BLIND)) < 0)
					break;
			}
		} else if (p->array) {
			rc = sql_refuse(
			    c, "0A000",
			    "EXECUTE argument $%d for %s must be ARRAY[...] of constants",
			    p->number, p->column->qualified);
		} else {
			rc = sql_value_as(c, &sc, arg, p->column, p->mode);
		}
	}
	for (size_t i = 0; i < nargs && rc == 0; i++)
		if (!done[i])
			rc = sql_expr(c, &sc, json_array_get(args, i));
	free(done);
	sql_scope_free(&sc);
	return rc;
}
