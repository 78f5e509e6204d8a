/* sql_copy.c - COPY statements: one description per COPY of a text (statement index; columns,
 * format and options of a COPY on an encrypted table) for the COPY data path. */
#include "sql/sql_internal.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *copy_opt_str(json_t *arg)
{
	json_t *b = sql_node_is(arg, "String");
	return b ? sql_jstr(b, "sval") : NULL;
}

static int copy_bool(json_t *arg, bool *out)
{
	json_t *b;
	if (!arg) {
		*out = true;
		return PGS_OK;
	}
	if ((b = sql_node_is(arg, "Boolean"))) {
		*out = json_is_true(json_object_get(b, "boolval"));
		return PGS_OK;
	}
	if ((b = sql_node_is(arg, "Integer"))) {
		*out = json_integer_value(json_object_get(b, "ival")) != 0;
		return PGS_OK;
	}
	const char *s = copy_opt_str(arg);
	if (!s)
		return PGS_ERR;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "match")) {
		*out = true;
		return PGS_OK;
	}
	if (!strcasecmp(s, "false") || !strcasecmp(s, "off")) {
		*out = false;
		return PGS_OK;
	}
	return PGS_ERR;
}

static int copy_char(struct sql_ctx *c, json_t *arg, const char *name, char *out)
{
	const char *s = copy_opt_str(arg);
	if (!s || strlen(s) != 1)
		return sql_refuse(
		    c, "0A000", "COPY %s must be a single one-byte character on an encrypted table",
		    name);
	*out = s[0];
	return PGS_OK;
}

int sql_copy_options(struct sql_ctx *c, json_t *options, struct sql_copy *cp)
{
	bool csv = false, have_delim = false, have_null = false, have_quote = false,
	     have_escape = false;
	char delim = 0, quote = 0, escape = 0;
	const char *null_s = NULL;
	size_t i;
	json_t *o;
	cp->header = false;
	json_array_foreach(options, i, o)
	{
		json_t *d = sql_node_is(o, "DefElem");
		const char *name = d ? sql_jstr(d, "defname") : NULL;
		json_t *arg = d ? json_object_get(d, "arg") : NULL;
		if (!name)
			return sql_refuse(c, "0A000",
			                  "pgseal does not understand this COPY option");
		if (!strcmp(name, "format")) {
			const char *f = copy_opt_str(arg);
			if (f && !strcasecmp(f, "csv"))
				csv = true;
			else if (f && !strcasecmp(f, "text"))
				csv = false;
			else
				return sql_refuse(
				    c, "0A000",
				    "COPY of an encrypted table supports FORMAT text and csv only");
		} else if (!strcmp(name, "delimiter")) {
			if (copy_char(c, arg, "DELIMITER", &delim) < 0)
				return PGS_ERR;
			have_delim = true;
		} else if (!strcmp(name, "null")) {
			null_s = copy_opt_str(arg);
			if (!null_s)
				return sql_refuse(c, "0A000", "COPY NULL must be a string");
			have_null = true;
		} else if (!strcmp(name, "header")) {
			if (copy_bool(arg, &cp->header) < 0)
				return sql_refuse(
				    c, "0A000",
				    "pgseal does not understand this COPY HEADER value");
		} else if (!strcmp(name, "quote")) {
			if (copy_char(c, arg, "QUOTE", &quote) < 0)
				return PGS_ERR;
			have_quote = true;
		} else if (!strcmp(name, "escape")) {
			if (copy_char(c, arg, "ESCAPE", &escape) < 0)
				return PGS_ERR;
			have_escape = true;
		} else if (!strcmp(name, "force_quote") || !strcmp(name, "force_not_null") ||
		           !strcmp(name, "force_null") || !strcmp(name, "freeze") ||
		           !strcmp(name, "encoding")) {
			continue;
		} else {
			return sql_refuse(c, "0A000",
			                  "COPY option %s is not supported on an encrypted table",
			                  name);
		}
	}
	cp->csv = csv;
	cp->delimiter = have_delim ? delim : (csv ? ',' : '\t');
	cp->quote = have_quote ? quote : '"';
	cp->escape = have_escape ? escape : cp->quote;
	cp->null_string = pgs_xstrdup(have_null ? null_s : (csv ? "" : "\\N"));
	return PGS_OK;
}

/* A new COPY description for the statement being analysed (the text's statement index). */
static struct sql_copy *copy_add(struct sql_ctx *c, json_t *b)
{
	struct sql_plan *p = c->plan;
	p->copies = pgs_xrealloc(p->copies, (p->ncopies + 1) * sizeof(*p->copies));
	struct sql_copy *cp = &p->copies[p->ncopies++];
	memset(cp, 0, sizeof(*cp));
	cp->statement = p->nstatements;
	cp->from_stdin = json_is_true(json_object_get(b, "is_from"));
	return cp;
}

int sql_copy_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	json_t *rv = json_object_get(b, "relation"), *q = json_object_get(b, "query");
	struct sql_copy *cp = NULL;
	struct sql_rel r;
	memset(&r, 0, sizeof(r));
	const struct schema_table *t =
	    rv ? sql_find_table(c->s, sql_jstr(rv, "schemaname"), sql_jstr(rv, "relname")) : NULL;
	const struct sql_view *v =
	    rv && !t ? sql_find_view(c, sql_jstr(rv, "schemaname"), sql_jstr(rv, "relname")) : NULL;
	if (v && v->encrypted && v->child_of)
		return sql_refuse(
		    c, "0A000",
		    "COPY on %s, a child table or partition of encrypted table %s, is "
		    "not supported; use COPY %s or COPY (SELECT ...) TO STDOUT",
		    v->name, v->child_of->name, v->child_of->name);
	if (v && v->encrypted)
		return sql_refuse(c, "0A000",
		                  "COPY on view %s over encrypted data is not supported; use COPY "
		                  "(SELECT ...) TO STDOUT",
		                  v->name);
	if (rv && !t) {
		(void)copy_add(c, b); /* a plain table: its rows are relayed unchanged */
		return PGS_OK;
	}
	if (q) {
		if (c->stmt(c, parent, q, &r) < 0)
			goto fail;
		if (!c->touched) {
			sql_rel_free(&r);
			(void)copy_add(c, b);
			return PGS_OK;
		}
	}
	c->touched = true;
	bool from = json_is_true(json_object_get(b, "is_from"));
	if (json_object_get(b, "whereClause")) {
		sql_refuse(c, "0A000",
		           "COPY ... FROM ... WHERE on an encrypted table is not supported");
		goto fail;
	}
	if (json_is_true(json_object_get(b, "is_program")) || sql_jstr(b, "filename")) {
		sql_refuse(
		    c, "0A000",
		    "COPY %s a server file or program on an encrypted table is not supported; use "
		    "STDIN/STDOUT",
		    from ? "FROM" : "TO");
		goto fail;
	}
	cp = copy_add(c, b);
	cp->encrypted = true;
	if (sql_copy_options(c, json_object_get(b, "options"), cp) < 0) {
		/* name the table in the refusal: COPY works per table */
		if (t && c->plan->refused && c->plan->message &&
		    !strstr(c->plan->message, t->name)) {
			char *m = NULL;
			if (asprintf(&m, "%s (table %s)", c->plan->message, t->name) > 0) {
				free(c->plan->message);
				c->plan->message = m;
			}
		}
		goto fail;
	}
	if (q) {
		if (!r.known || r.unsafe) {
			sql_refuse(c, "0A000",
			           "COPY (SELECT ...) TO: pgseal cannot map the query's columns; "
			           "list them");
			goto fail;
		}
		cp->ncolumns = r.ncols;
		/* an array of pointers: sizeof(*p) is a pointer's size, as meant */
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		cp->columns = pgs_xcalloc(r.ncols + 1, sizeof(*cp->columns));
		for (size_t i = 0; i < r.ncols; i++) {
			if (r.cols[i].tainted) {
				sql_refuse(c, "0A000",
				           "COPY (SELECT ...) TO: column %s mixes encrypted data",
				           r.cols[i].name);
				goto fail;
			}
			cp->columns[i] = r.cols[i].col;
		}
		sql_rel_free(&r);
		return PGS_OK;
	}
	if (!t) {
		/* neither a table nor a query: libpg_query never yields this; refuse, not crash */
		sql_refuse(c, "0A000", "COPY without a table or a query is not supported");
		goto fail;
	}
	json_t *att = json_object_get(b, "attlist");
	size_t n = json_array_size(att);
	if (n == 0) {
		if (t->ncolumns == 0) {
			sql_refuse(
			    c, "0A000",
			    "COPY %s without a column list: name the columns (or list the table's "
			    "columns in the encryption config)",
			    t->name);
			goto fail;
		}
		n = t->ncolumns;
	}
	cp->ncolumns = n;
	/* an array of pointers: sizeof(*p) is a pointer's size, as meant */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	cp->columns = pgs_xcalloc(n + 1, sizeof(*cp->columns));
	for (size_t i = 0; i < n; i++) {
		const char *nm =
		    json_array_size(att)
		        ? sql_jstr(sql_node_is(json_array_get(att, i), "String"), "sval")
		        : t->columns[i];
		cp->columns[i] = sql_find_column(t, nm);
	}
	return PGS_OK;
fail:
	sql_rel_free(&r);
	return PGS_ERR;
}
