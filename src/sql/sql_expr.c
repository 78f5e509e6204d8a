/* sql_expr.c - name resolution (FROM items, scopes) and expressions: searches rewritten, other uses
 * refused. */
#include "sql/sql_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX_DEPTH 400

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
static void rel_rename(struct sql_rel *r, json_t *colnames)
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

int sql_resolve(struct sql_ctx *c, struct sql_scope *sc, json_t *colref, struct sql_dcol *out)
{
	json_t *fields = json_object_get(colref, "fields");
	size_t nf = json_array_size(fields);
	memset(out, 0, sizeof(*out));
	if (nf == 0)
		return 0;
	const char *name = sql_jstr(sql_node_is(json_array_get(fields, nf - 1), "String"), "sval");
	if (!name)
		return 0; /* t.* : handled by callers */
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
			return 0;
		}
		const struct sql_dcol *d = NULL;
		enum look l = rel_lookup(r, name, &d);
		if (l == LOOK_ENC)
			*out = *d;
		else if (l == LOOK_MAYBE)
			return sql_refuse(c, "0A000",
			                  "pgseal cannot tell whether %s.%s holds encrypted data",
			                  alias, name);
		return 0;
	}
	bool unknown_inner = false;
	for (; sc; sc = sc->parent) {
		const struct sql_dcol *enc = NULL, *d = NULL;
		int nenc = 0, nplain = 0, nmaybe = 0;
		bool unknown_here = false;
		for (size_t i = 0; i < sc->nrels; i++) {
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
			return 0;
		}
		if (nplain > 0)
			return 0;
		if (nmaybe > 0)
			return sql_refuse(
			    c, "0A000",
			    "pgseal cannot tell whether column \"%s\" holds encrypted data", name);
		unknown_inner = unknown_inner || unknown_here;
	}
	return 0;
}

static const char *dcol_name(const struct sql_dcol *d)
{
	return d->col ? d->col->qualified : d->name;
}

/* A bare column reference to encrypted data: fills d and returns true. */
static bool enc_ref(struct sql_ctx *c, struct sql_scope *sc, json_t *node, struct sql_dcol *d,
                    int *rc)
{
	json_t *b = sql_node_is(node, "ColumnRef");
	*rc = 0;
	if (!b)
		return false;
	if (sql_resolve(c, sc, b, d) < 0) {
		*rc = -1;
		return false;
	}
	return d->col || d->tainted;
}

/* Strips casts: the innermost node, and whether there was a cast. */
static json_t *uncast(json_t *node, bool *cast)
{
	json_t *b;
	*cast = false;
	for (int i = 0; i < 64 && (b = sql_node_is(node, "TypeCast")); i++) {
		node = json_object_get(b, "arg");
		*cast = true;
	}
	return node;
}

static int substr_ref(struct sql_ctx *c, json_t *node)
{
	uint32_t s, e;
	if (sql_ref_extent(c, sql_node_is(node, "ColumnRef"), &s, &e) < 0)
		return sql_refuse(
		    c, "0A000", "pgseal could not locate a column reference in the statement text");
	size_t n = e - s;
	char *t = pgs_xmalloc(n + 20);
	snprintf(t, n + 20, "substr(%.*s, 1, 33)", (int)n, c->sql + s);
	sql_add_text_edit(c, s, e, t);
	return 0;
}

/* A value for an encrypted column (mode RECORD) or a search operand (mode BLIND). */
static int operand(struct sql_ctx *c, json_t *node, const struct schema_column *col,
                   enum sql_value_mode mode, bool array, bool *ok)
{
	bool cast;
	json_t *in = uncast(node, &cast), *b;
	uint32_t s, e;
	*ok = true;
	if ((b = sql_node_is(in, "ParamRef"))) {
		int num = (int)json_integer_value(json_object_get(b, "number"));
		if (num <= 0)
			return sql_refuse(c, "0A000",
			                  "pgseal does not support this parameter form for %s",
			                  col->qualified);
		sql_sink_param(c, num, col, mode, array);
		if (cast) {
			/* the column is bytea upstream: drop the cast to the declared type */
			if (sql_const_extent(c, node, &s, &e) < 0)
				return sql_refuse(c, "0A000",
				                  "pgseal could not rewrite the cast of $%d for %s",
				                  num, col->qualified);
			char *t = pgs_xmalloc(16);
			snprintf(t, 16, "$%d", num);
			sql_add_text_edit(c, s, e, t);
		}
		return 0;
	}
	/* unary plus on a number: +7 */
	json_t *ae = sql_node_is(in, "A_Expr"), *num;
	if (ae && !cast && !json_object_get(ae, "lexpr") &&
	    !strcmp(sql_jstr(ae, "kind") ? sql_jstr(ae, "kind") : "", "AEXPR_OP")) {
		json_t *names = json_object_get(ae, "name");
		const char *opn = sql_jstr(sql_node_is(json_array_get(names, 0), "String"), "sval");
		num = sql_node_is(json_object_get(ae, "rexpr"), "A_Const");
		if (json_array_size(names) == 1 && opn && !strcmp(opn, "+") && num &&
		    (json_object_get(num, "ival") || json_object_get(num, "fval")))
			in = json_object_get(ae, "rexpr");
	}
	if (array || !sql_node_is(in, "A_Const")) {
		*ok = false;
		return 0;
	}
	char *v = NULL;
	size_t vlen = 0;
	bool isnull = false;
	if (sql_const_value(c, in, &v, &vlen, &isnull) < 0 ||
	    sql_const_extent(c, node, &s, &e) < 0) {
		free(v);
		return sql_refuse(
		    c, "0A000",
		    "pgseal could not read or locate the constant for %s (write a plain "
		    "literal, optionally with a cast)",
		    col->qualified);
	}
	if (isnull) {
		if (cast)
			sql_add_text_edit(c, s, e, pgs_xstrdup("NULL"));
		return 0;
	}
	sql_add_literal_edit(c, s, e, col, mode, v, vlen);
	return 0;
}

int sql_value_into(struct sql_ctx *c, struct sql_scope *sc, json_t *node,
                   const struct schema_column *col)
{
	return sql_value_as(c, sc, node, col, SQL_VALUE_RECORD);
}

int sql_value_as(struct sql_ctx *c, struct sql_scope *sc, json_t *node,
                 const struct schema_column *col, enum sql_value_mode mode)
{
	bool ok;
	struct sql_dcol d;
	int rc;
	if (sql_node_is(node, "SetToDefault"))
		return 0;
	if (enc_ref(c, sc, node, &d, &rc) && d.col == col)
		return 0; /* EXCLUDED.col, col = col: the ciphertext stays in its column */
	if (rc < 0 || operand(c, node, col, mode, false, &ok) < 0)
		return -1;
	if (!ok)
		return sql_refuse(
		    c, "0A000",
		    "pgseal cannot encrypt the value for %s: only constants, parameters, NULL and "
		    "DEFAULT can go into an encrypted column",
		    col->qualified);
	return 0;
}

static int search_operand(struct sql_ctx *c, json_t *node, const struct schema_column *col,
                          bool array)
{
	bool ok;
	if (operand(c, node, col, SQL_VALUE_BLIND, array, &ok) < 0)
		return -1;
	if (!ok)
		return sql_refuse(
		    c, "0A000",
		    "pgseal can compare encrypted column %s only with constants or parameters",
		    col->qualified);
	return 0;
}

static const char *op_name(json_t *b)
{
	json_t *names = json_object_get(b, "name");
	const char *op = sql_jstr(
	    sql_node_is(json_array_get(names, json_array_size(names) - 1), "String"), "sval");
	return op ? op : "?";
}

static const char *kind_label(const char *kind, const char *op)
{
	if (!strcmp(kind, "AEXPR_LIKE"))
		return "LIKE";
	if (!strcmp(kind, "AEXPR_ILIKE"))
		return "ILIKE";
	if (!strcmp(kind, "AEXPR_SIMILAR"))
		return "SIMILAR TO";
	if (!strncmp(kind, "AEXPR_BETWEEN", 13) || !strncmp(kind, "AEXPR_NOT_BETWEEN", 17))
		return "BETWEEN";
	if (!strcmp(kind, "AEXPR_DISTINCT") || !strcmp(kind, "AEXPR_NOT_DISTINCT"))
		return "IS DISTINCT FROM";
	if (!strcmp(kind, "AEXPR_NULLIF"))
		return "NULLIF";
	return op;
}

static int search(struct sql_ctx *c, struct sql_scope *sc, json_t *b, const char *kind,
                  const char *op, json_t *ref, const struct sql_dcol *d, json_t *other,
                  bool ref_left)
{
	const struct schema_column *col = d->col;
	bool eq = !strcmp(op, "=") || !strcmp(op, "<>");
	bool ok_kind = (!strcmp(kind, "AEXPR_OP") && eq) ||
	               (!strcmp(kind, "AEXPR_IN") && eq && ref_left) ||
	               (!strcmp(kind, "AEXPR_OP_ANY") && !strcmp(op, "=") && ref_left) ||
	               (!strcmp(kind, "AEXPR_OP_ALL") && !strcmp(op, "<>") && ref_left);
	if (!ok_kind)
		return sql_refuse(
		    c, "0A000",
		    "%s on encrypted column %s is not supported (only =, <>, IN and IS NULL)",
		    kind_label(kind, op), dcol_name(d));
	if (!col)
		return sql_refuse(
		    c, "0A000",
		    "pgseal cannot compare column \"%s\": it carries encrypted data of "
		    "more than one column",
		    d->name);
	if (!col->searchable)
		return sql_refuse(c, "0A000", "encrypted column %s is not searchable",
		                  col->qualified);
	if (substr_ref(c, ref) < 0)
		return -1;
	if (!strcmp(kind, "AEXPR_OP")) {
		struct sql_dcol d2;
		int rc;
		if (enc_ref(c, sc, other, &d2, &rc)) {
			if (d2.col != col)
				return sql_refuse(c, "0A000",
				                  "pgseal cannot compare %s with %s: they do not "
				                  "share a search key",
				                  col->qualified, dcol_name(&d2));
			return substr_ref(c, other);
		}
		if (rc < 0)
			return -1;
		return search_operand(c, other, col, false);
	}
	if (!strcmp(kind, "AEXPR_IN")) {
		json_t *items = json_object_get(sql_node_is(other, "List"), "items"), *it;
		size_t i;
		if (!items)
			return sql_refuse(c, "0A000",
			                  "pgseal does not understand this IN list on %s",
			                  col->qualified);
		json_array_foreach(items, i, it)
		{
			if (search_operand(c, it, col, false) < 0)
				return -1;
		}
		return 0;
	}
	/* = ANY(...) / <> ALL(...) */
	json_t *arr = sql_node_is(other, "A_ArrayExpr");
	if (arr) {
		json_t *it;
		size_t i;
		json_array_foreach(json_object_get(arr, "elements"), i, it)
		{
			if (search_operand(c, it, col, false) < 0)
				return -1;
		}
		return 0;
	}
	bool cast;
	if (sql_node_is(uncast(other, &cast), "ParamRef"))
		return search_operand(c, other, col, true);
	return sql_refuse(
	    c, "0A000", "%s ANY/ALL on encrypted column %s needs ARRAY[...] or one array parameter",
	    op, col->qualified);
}

static int aexpr(struct sql_ctx *c, struct sql_scope *sc, json_t *b)
{
	const char *kind = sql_jstr(b, "kind");
	const char *op = op_name(b);
	json_t *l = json_object_get(b, "lexpr"), *r = json_object_get(b, "rexpr");
	struct sql_dcol dl, dr;
	int rc = 0;
	if (!kind)
		kind = "";
	if (l && enc_ref(c, sc, l, &dl, &rc))
		return search(c, sc, b, kind, op, l, &dl, r, true);
	if (rc < 0)
		return -1;
	if (r && enc_ref(c, sc, r, &dr, &rc))
		return search(c, sc, b, kind, op, r, &dr, l, false);
	if (rc < 0)
		return -1;
	if (l && sql_expr(c, sc, l) < 0)
		return -1;
	return r ? sql_expr(c, sc, r) : 0;
}

static int walk_children(struct sql_ctx *c, struct sql_scope *sc, json_t *v)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it)
		{
			if (sql_expr(c, sc, it) < 0)
				return -1;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *it;
		json_object_foreach(v, k, it)
		{
			if ((json_is_object(it) || json_is_array(it)) && sql_expr(c, sc, it) < 0)
				return -1;
		}
	}
	return 0;
}

static bool star_touches(struct sql_scope *sc, json_t *fields)
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

int sql_expr(struct sql_ctx *c, struct sql_scope *sc, json_t *node)
{
	json_t *b;
	const char *type = sql_node_type(node, &b);
	int rc = 0;
	if (c->plan->refused)
		return -1;
	if (++c->depth > SQL_MAX_DEPTH) {
		c->depth--;
		return sql_refuse(c, "0A000", "statement too deeply nested for pgseal");
	}
	if (!type) {
		rc = walk_children(c, sc, node);
	} else if (!strcmp(type, "ColumnRef")) {
		struct sql_dcol d;
		json_t *fields = json_object_get(b, "fields");
		if (sql_node_is(json_array_get(fields, json_array_size(fields) - 1), "A_Star")) {
			if (star_touches(sc, fields))
				rc = sql_refuse(
				    c, "0A000",
				    "pgseal cannot use a whole row of an encrypted table here");
		} else if (sql_resolve(c, sc, b, &d) < 0) {
			rc = -1;
		} else if (d.col || d.tainted) {
			if (c->what)
				rc = sql_refuse(c, "0A000",
				                "%s on encrypted column %s is not supported",
				                c->what, dcol_name(&d));
			else
				rc = sql_refuse(
				    c, "0A000",
				    "pgseal cannot compute on encrypted column %s (functions, "
				    "operators, "
				    "casts and CASE are not supported; only =, <>, IN and IS NULL)",
				    dcol_name(&d));
		}
	} else if (!strcmp(type, "ParamRef")) {
		sql_sink_plain(c, (int)json_integer_value(json_object_get(b, "number")));
	} else if (!strcmp(type, "A_Const") || !strcmp(type, "SetToDefault") ||
	           !strcmp(type, "String")) {
		rc = 0;
	} else if (!strcmp(type, "A_Expr")) {
		rc = aexpr(c, sc, b);
	} else if (!strcmp(type, "NullTest")) {
		json_t *arg = json_object_get(b, "arg");
		struct sql_dcol d;
		if (!enc_ref(c, sc, arg, &d, &rc) && rc == 0)
			rc = sql_expr(c, sc, arg);
	} else if (!strcmp(type, "SubLink")) {
		json_t *test = json_object_get(b, "testexpr");
		struct sql_dcol d;
		if (test && enc_ref(c, sc, test, &d, &rc))
			rc = sql_refuse(
			    c, "0A000",
			    "IN (SELECT ...) or a comparison with a subquery on encrypted column "
			    "%s is not supported",
			    dcol_name(&d));
		else if (rc == 0 && test)
			rc = sql_expr(c, sc, test);
		if (rc == 0)
			rc = sql_stmt(c, sc, json_object_get(b, "subselect"), NULL);
	} else if (!strcmp(type, "FuncCall") && json_object_get(b, "over")) {
		json_t *copy = json_copy(b);
		json_object_del(copy, "over");
		rc = sql_no_encrypted(c, sc, json_object_get(b, "over"),
		                      "PARTITION BY / window ORDER BY");
		if (rc == 0)
			rc = walk_children(c, sc, copy);
		json_decref(copy);
	} else if (strlen(type) > 4 && !strcmp(type + strlen(type) - 4, "Stmt")) {
		rc = sql_stmt(c, sc, node, NULL);
	} else {
		rc = walk_children(c, sc, b);
	}
	c->depth--;
	return rc;
}

int sql_no_encrypted(struct sql_ctx *c, struct sql_scope *sc, json_t *node, const char *what)
{
	const char *saved = c->what;
	c->what = what;
	int rc = sql_expr(c, sc, node);
	c->what = saved;
	return rc;
}

bool sql_tree_names_encrypted(struct sql_ctx *c, json_t *node)
{
	if (json_is_object(node)) {
		const char *rel = sql_jstr(node, "relname");
		if (rel && sql_find_table(c->s, sql_jstr(node, "schemaname"), rel))
			return true;
		const char *k;
		json_t *v;
		json_object_foreach(node, k, v) if ((json_is_object(v) || json_is_array(v)) &&
		                                    sql_tree_names_encrypted(c, v)) return true;
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v) if (sql_tree_names_encrypted(c, v)) return true;
	}
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
			rel_push(out, name ? name : d.name, d.col, d.tainted);
			continue;
		}
		if (val && sql_expr(c, sc, val) < 0)
			return -1;
		rel_push(out, name, NULL, false);
	}
	return 0;
}

int sql_from_item(struct sql_ctx *c, struct sql_scope *sc, json_t *item)
{
	json_t *b;
	const char *type = sql_node_type(item, &b);
	struct sql_rel r;
	memset(&r, 0, sizeof(r));
	if (!type)
		return 0;
	if (!strcmp(type, "RangeVar")) {
		const char *rel = sql_jstr(b, "relname"), *schemaname = sql_jstr(b, "schemaname");
		json_t *alias = json_object_get(b, "alias");
		const char *aname = sql_jstr(alias, "aliasname");
		const struct sql_rel *cte = (!schemaname && rel) ? cte_lookup(sc, rel) : NULL;
		const struct schema_table *t = cte ? NULL : sql_find_table(c->s, schemaname, rel);
		if (cte) {
			rel_copy(&r, cte);
		} else if (t) {
			c->touched = true;
			sql_table_rel(t, &r);
		}
		rel_rename(&r, json_object_get(alias, "colnames"));
		sql_scope_add_rel(sc, aname ? aname : rel, &r);
		return 0;
	}
	if (!strcmp(type, "RangeSubselect")) {
		json_t *alias = json_object_get(b, "alias");
		if (sql_stmt(c, sc, json_object_get(b, "subquery"), &r) < 0) {
			sql_rel_free(&r);
			return -1;
		}
		rel_rename(&r, json_object_get(alias, "colnames"));
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
			return -1;
		const char *jalias = sql_jstr(json_object_get(b, "alias"), "aliasname");
		if (jalias) {
			r.unsafe = enc;
			sql_scope_add_rel(sc, jalias, &r);
		}
		return 0;
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
