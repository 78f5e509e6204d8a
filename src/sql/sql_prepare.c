/* sql_prepare.c - SQL-level PREPARE (parameter types of encrypted parameters) and EXECUTE
 * (arguments bound to encrypted parameters encrypted as literals). */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <string.h>

static const struct sql_prepared *find_prepared(struct sql_ctx *c, const char *name)
{
	/* a PREPARE earlier in this text: if it failed, PostgreSQL does not run the rest */
	for (size_t i = c->plan->nprepared; i-- > 0;)
		if (!strcmp(c->plan->prepared[i].name, name))
			return &c->plan->prepared[i];
	if (!c->lookup)
		return NULL;
	c->plan->cacheable = false;
	return c->lookup(c->lookup_arg, name);
}

static void add_nsop(struct sql_plan *p, enum sql_ns_kind kind, const char *name, size_t index)
{
	p->nsops = pgs_xrealloc(p->nsops, (p->nnsops + 1) * sizeof(*p->nsops));
	struct sql_ns_op *op = &p->nsops[p->nnsops++];
	op->kind = kind;
	op->name = name ? pgs_xstrdup(name) : NULL;
	op->index = index;
}

void sql_namespace_stmt(struct sql_ctx *c, const char *type, json_t *b)
{
	if (!strcmp(type, "DeallocateStmt")) {
		const char *nm = sql_jstr(b, "name");
		add_nsop(c->plan, nm ? SQL_NS_DEALLOCATE : SQL_NS_DEALLOCATE_ALL, nm, 0);
		return;
	}
	/* DISCARD PLANS only drops cached plans: prepared statements stay */
	const char *t = sql_jstr(b, "target");
	if (t && !strcmp(t, "DISCARD_ALL"))
		add_nsop(c->plan, SQL_NS_DISCARD_ALL, NULL, 0);
}

struct sql_plan *sql_plan_of_prepared(const struct sql_prepared *p)
{
	struct sql_plan *plan = pgs_xcalloc(1, sizeof(*plan));
	plan->nstatements = 1;
	plan->nparams = p->nparams;
	if (p->nparams) {
		plan->params = pgs_xmalloc(p->nparams * sizeof(*plan->params));
		memcpy(plan->params, p->params, p->nparams * sizeof(*plan->params));
		plan->touches_encrypted = true;
	}
	return plan;
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
	return PGS_OK;
}

int sql_prepare_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	struct sql_psink sink = {0}, *saved = c->sink;
	const char *name = sql_jstr(b, "name");
	c->sink = &sink;
	int rc = c->stmt(c, parent, json_object_get(b, "query"), NULL);
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
		e->refusal = NULL;
		sink.v = NULL;
		add_nsop(p, SQL_NS_PREPARE, name, p->nprepared - 1);
	}
	sql_sink_free(&sink);
	return rc;
}

int sql_execute_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	const char *name = sql_jstr(b, "name");
	json_t *args = json_object_get(b, "params");
	const struct sql_prepared *pp = name ? find_prepared(c, name) : NULL;
	if (pp && pp->refusal)
		return sql_refuse(c, "0A000", "%s", pp->refusal);
	if (!pp && c->lookup)
		/* never prepared through pgseal (or no name): its encrypted parameters are unknown
		 */
		return sql_refuse(
		    c, "0A000",
		    "EXECUTE of prepared statement \"%s\", which was not prepared "
		    "through pgseal: pgseal cannot tell which arguments are encrypted; "
		    "nothing was sent",
		    name ? name : "");
	size_t nargs = json_array_size(args);
	bool *done = pgs_xcalloc(nargs + 1, sizeof(bool));
	int rc = 0;
	struct sql_scope sc = {.parent = parent};
	for (size_t i = 0; pp && i < pp->nparams && rc == 0; i++) {
		const struct sql_param *p = &pp->params[i];
		if (p->number < 1)
			continue;
		if ((size_t)p->number > nargs) {
			/* PostgreSQL rejects the call after logging its text, and the arguments
			 * given may be meant for the encrypted parameter: refuse it here */
			rc = sql_refuse(
			    c, "0A000",
			    "EXECUTE of prepared statement \"%s\" gives %zu argument(s), but its "
			    "parameter $%d is %s; nothing was sent",
			    name ? name : "", nargs, p->number, p->column->qualified);
			break;
		}
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
