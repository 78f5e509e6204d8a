/* sql_expr.c - expressions: searches rewritten, values for encrypted columns, every other use of an
 * encrypted column refused. */
#include "sql/sql_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX_DEPTH 400

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
	return PGS_OK;
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
		return PGS_OK;
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
		return PGS_OK;
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
		return PGS_OK;
	}
	sql_add_literal_edit(c, s, e, col, mode, v, vlen);
	return PGS_OK;
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
		return PGS_OK;
	if (enc_ref(c, sc, node, &d, &rc) && d.col == col)
		return PGS_OK; /* EXCLUDED.col, col = col: the ciphertext stays in its column */
	if (rc < 0 || operand(c, node, col, mode, false, &ok) < 0)
		return PGS_ERR;
	if (!ok)
		return sql_refuse(
		    c, "0A000",
		    "pgseal cannot encrypt the value for %s: only constants, parameters, NULL and "
		    "DEFAULT can go into an encrypted column",
		    col->qualified);
	return PGS_OK;
}

static int search_operand(struct sql_ctx *c, json_t *node, const struct schema_column *col,
                          bool array)
{
	bool ok;
	if (operand(c, node, col, SQL_VALUE_BLIND, array, &ok) < 0)
		return PGS_ERR;
	if (!ok)
		return sql_refuse(
		    c, "0A000",
		    "pgseal can compare encrypted column %s only with constants or parameters",
		    col->qualified);
	return PGS_OK;
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
		return PGS_ERR;
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
			return PGS_ERR;
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
				return PGS_ERR;
		}
		return PGS_OK;
	}
	/* = ANY(...) / <> ALL(...) */
	json_t *arr = sql_node_is(other, "A_ArrayExpr");
	if (arr) {
		json_t *it;
		size_t i;
		json_array_foreach(json_object_get(arr, "elements"), i, it)
		{
			if (search_operand(c, it, col, false) < 0)
				return PGS_ERR;
		}
		return PGS_OK;
	}
	bool cast;
	if (sql_node_is(uncast(other, &cast), "ParamRef"))
		return search_operand(c, other, col, true);
	return sql_refuse(
	    c, "0A000", "%s ANY/ALL on encrypted column %s needs ARRAY[...] or one array parameter",
	    op, col->qualified);
}

/* substr(col, 1, 33) of a searchable encrypted column: a search pgseal already rewrote, as a
 * stored view definition shows it (pg_get_viewdef of a view created through pgseal). */
static bool blind_ref(struct sql_ctx *c, struct sql_scope *sc, json_t *node)
{
	json_t *f = sql_node_is(node, "FuncCall");
	json_t *names = json_object_get(f, "funcname"), *args = json_object_get(f, "args");
	const char *fn = sql_jstr(
	    sql_node_is(json_array_get(names, json_array_size(names) - 1), "String"), "sval");
	if (!f || !fn || strcmp(fn, "substr") != 0 || json_array_size(args) != 3)
		return false;
	json_t *a1 = sql_node_is(json_array_get(args, 1), "A_Const");
	json_t *a2 = sql_node_is(json_array_get(args, 2), "A_Const");
	if (!a1 || !a2 ||
	    json_integer_value(json_object_get(json_object_get(a1, "ival"), "ival")) != 1 ||
	    json_integer_value(json_object_get(json_object_get(a2, "ival"), "ival")) != 33)
		return false;
	struct sql_dcol d;
	int rc;
	return enc_ref(c, sc, json_array_get(args, 0), &d, &rc) && d.col && d.col->searchable;
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
	if (c->viewdef && (!strcmp(op, "=") || !strcmp(op, "<>")) && l && blind_ref(c, sc, l))
		return r ? sql_expr(c, sc, r) : PGS_OK;
	if (l && enc_ref(c, sc, l, &dl, &rc))
		return search(c, sc, b, kind, op, l, &dl, r, true);
	if (rc < 0)
		return PGS_ERR;
	if (r && enc_ref(c, sc, r, &dr, &rc))
		return search(c, sc, b, kind, op, r, &dr, l, false);
	if (rc < 0)
		return PGS_ERR;
	if (l && sql_expr(c, sc, l) < 0)
		return PGS_ERR;
	return r ? sql_expr(c, sc, r) : PGS_OK;
}

static int walk_children(struct sql_ctx *c, struct sql_scope *sc, json_t *v)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it)
		{
			if (sql_expr(c, sc, it) < 0)
				return PGS_ERR;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *it;
		json_object_foreach(v, k, it)
		{
			if ((json_is_object(it) || json_is_array(it)) && sql_expr(c, sc, it) < 0)
				return PGS_ERR;
		}
	}
	return PGS_OK;
}

int sql_expr(struct sql_ctx *c, struct sql_scope *sc, json_t *node)
{
	json_t *b;
	const char *type = sql_node_type(node, &b);
	int rc = 0;
	if (c->plan->refused)
		return PGS_ERR;
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
			if (sql_star_touches(sc, fields))
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
		struct sql_rel outs;
		memset(&outs, 0, sizeof(outs));
		if (rc == 0)
			rc = c->stmt(c, sc, json_object_get(b, "subselect"), &outs);
		/* a subquery's encrypted output compared or computed on is ciphertext vs. a value
		 */
		const char *kind = sql_jstr(b, "subLinkType");
		if (rc == 0 && kind && strcmp(kind, "EXISTS_SUBLINK") != 0) {
			for (size_t i = 0; i < outs.ncols && rc == 0; i++)
				if (outs.cols[i].col || outs.cols[i].tainted)
					rc = sql_refuse(
					    c, "0A000",
					    "a subquery returning encrypted column %s cannot be "
					    "used in an expression",
					    dcol_name(&outs.cols[i]));
			if (rc == 0 && outs.unsafe)
				rc = sql_refuse(
				    c, "0A000",
				    "a subquery that may return encrypted data cannot be used "
				    "in an expression");
		}
		sql_rel_free(&outs);
	} else if (!strcmp(type, "FuncCall") && json_object_get(b, "over")) {
		json_t *copy = json_copy(b);
		json_object_del(copy, "over");
		rc = sql_no_encrypted(c, sc, json_object_get(b, "over"),
		                      "PARTITION BY / window ORDER BY");
		if (rc == 0)
			rc = walk_children(c, sc, copy);
		json_decref(copy);
	} else if (strlen(type) > 4 && !strcmp(type + strlen(type) - 4, "Stmt")) {
		rc = c->stmt(c, sc, node, NULL);
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
		if (rel && (sql_find_table(c->s, sql_jstr(node, "schemaname"), rel) ||
		            sql_find_view(c, sql_jstr(node, "schemaname"), rel)))
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
