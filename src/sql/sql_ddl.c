/* sql_ddl.c - DDL that stores expressions in the catalog (DEFAULT, CHECK, GENERATED, USING,
 * CREATE TABLE AS): nothing may put plaintext of an encrypted column there; nor may DDL open a new
 * path into an encrypted table (inheritance, partitions, foreign tables). */
#include "sql/sql_internal.h"

#include <string.h>
#include <strings.h>

/* A table of the config with encrypted columns, or (for a known child table or partition of
 * one) that table. */
static const struct schema_table *enc_table(struct sql_ctx *c, json_t *rv)
{
	const char *nsp = sql_jstr(rv, "schemaname"), *rel = sql_jstr(rv, "relname");
	const struct schema_table *t = rv ? sql_find_table(c->s, nsp, rel) : NULL;
	const struct sql_view *v = rv && !t ? sql_find_view(c, nsp, rel) : NULL;
	if (v && v->child_of)
		return v->child_of;
	return t && t->nencrypted > 0 ? t : NULL;
}

/*
 * Inheritance and partitions are paths PostgreSQL follows by itself: rows written to a child or
 * partition are read through the parent, an UPDATE of a parent writes its children, an INSERT
 * into a partitioned table is routed to a partition. pgseal maps names, not these paths, so a
 * child table of an encrypted table (or an encrypted table under another parent) would take
 * plaintext in or give it out under another name: refused, both ways.
 */
static int refuse_path(struct sql_ctx *c, const struct schema_table *t, const char *how)
{
	return sql_refuse(c, "0A000",
	                  "%s encrypted table %s is not supported: rows written through the other "
	                  "table would reach %s in plaintext (pgseal maps tables by name, not "
	                  "inheritance or partitions)",
	                  how, t->name, t->encrypted[0].qualified);
}

/* Options of a foreign table (postgres_fdw's table_name 'people'): naming a configured table,
 * writes through the foreign table would reach it in plaintext. */
static int foreign_options(struct sql_ctx *c, json_t *options)
{
	size_t i;
	json_t *it;
	json_array_foreach(options, i, it)
	{
		json_t *d = sql_node_is(it, "DefElem");
		const char *v = sql_jstr(sql_node_is(json_object_get(d, "arg"), "String"), "sval");
		for (size_t k = 0; v && k < c->s->ntables; k++) {
			const struct schema_table *t = &c->s->tables[k];
			const char *dot = strrchr(t->name, '.');
			if (t->nencrypted > 0 &&
			    (!strcasecmp(v, t->name) || (dot && !strcasecmp(v, dot + 1))))
				return refuse_path(c, t, "a foreign table over");
		}
	}
	return PGS_OK;
}

int sql_ddl_foreign(struct sql_ctx *c, json_t *b)
{
	if (foreign_options(c, json_object_get(b, "options")) < 0)
		return PGS_ERR;
	json_t *base = json_object_get(b, "base");
	if (sql_tree_names_encrypted(c, base))
		return sql_refuse(
		    c, "0A000",
		    "pgseal does not support a foreign table named like, a partition of "
		    "or a child of an encrypted table");
	return PGS_OK;
}

/* NULL, optionally cast: the only default an encrypted column may have. */
static bool null_const(json_t *node)
{
	json_t *b;
	for (int i = 0; i < 64 && (b = sql_node_is(node, "TypeCast")); i++)
		node = json_object_get(b, "arg");
	json_t *k = sql_node_is(node, "A_Const");
	return k && json_is_true(json_object_get(k, "isnull"));
}

/* The column itself, optionally cast (USING email::bytea): no value from the statement. */
static bool self_ref(json_t *node, const char *name)
{
	json_t *b;
	for (int i = 0; i < 64 && (b = sql_node_is(node, "TypeCast")); i++)
		node = json_object_get(b, "arg");
	json_t *cr = sql_node_is(node, "ColumnRef");
	json_t *f = json_object_get(cr, "fields");
	const char *nm =
	    sql_jstr(sql_node_is(json_array_get(f, json_array_size(f) - 1), "String"), "sval");
	return cr && nm && !strcmp(nm, name);
}

static bool serial_type(json_t *tn)
{
	static const char *const serials[] = {"serial",  "bigserial", "smallserial",
	                                      "serial2", "serial4",   "serial8"};
	json_t *names = json_object_get(tn, "names");
	const char *t = sql_jstr(
	    sql_node_is(json_array_get(names, json_array_size(names) - 1), "String"), "sval");
	for (size_t i = 0; t && i < PGS_ARRAY_LEN(serials); i++)
		if (!strcmp(t, serials[i]))
			return true;
	return false;
}

/* A constraint of the table or of one column (col: the encrypted column it is declared on, or
 * NULL). CHECK and exclusion WHERE are searches over the row: rewritten like a WHERE clause,
 * anything else on an encrypted column refused. */
static int constraint(struct sql_ctx *c, struct sql_scope *sc, json_t *b,
                      const struct schema_column *col)
{
	const char *ct = sql_jstr(b, "contype");
	json_t *e = json_object_get(b, "raw_expr");
	if (!ct)
		return PGS_OK;
	if (col && !strcmp(ct, "CONSTR_DEFAULT") && e && !null_const(e))
		return sql_refuse(c, "0A000",
		                  "a DEFAULT on encrypted column %s would store plaintext in the "
		                  "catalog; only DEFAULT NULL is supported",
		                  col->qualified);
	if (col && !strcmp(ct, "CONSTR_GENERATED"))
		return sql_refuse(c, "0A000",
		                  "a generated encrypted column %s is not supported (its value "
		                  "would be computed in plaintext by PostgreSQL)",
		                  col->qualified);
	if (col && !strcmp(ct, "CONSTR_IDENTITY"))
		return sql_refuse(c, "0A000",
		                  "an identity encrypted column %s is not supported (its values "
		                  "would be generated in plaintext by PostgreSQL)",
		                  col->qualified);
	if (e && (!strcmp(ct, "CONSTR_CHECK") || !strcmp(ct, "CONSTR_GENERATED")) &&
	    sql_expr(c, sc, e) < 0)
		return PGS_ERR;
	json_t *w = json_object_get(b, "where_clause");
	if (w && sql_expr(c, sc, w) < 0)
		return PGS_ERR;
	return PGS_OK;
}

static int column_def(struct sql_ctx *c, struct sql_scope *sc, const struct schema_table *t,
                      json_t *cd)
{
	const char *name = sql_jstr(cd, "colname");
	const struct schema_column *col = t ? sql_find_column(t, name) : NULL;
	if (col && serial_type(json_object_get(cd, "typeName")))
		return sql_refuse(c, "0A000",
		                  "a serial encrypted column %s is not supported (its default "
		                  "would generate plaintext)",
		                  col->qualified);
	json_t *rd = json_object_get(cd, "raw_default");
	if (col && rd && !null_const(rd))
		return sql_refuse(c, "0A000",
		                  "a DEFAULT on encrypted column %s is not supported (only NULL)",
		                  col->qualified);
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(cd, "constraints"), i, it)
	{
		json_t *k = sql_node_is(it, "Constraint");
		if (k && constraint(c, sc, k, col) < 0)
			return PGS_ERR;
	}
	return PGS_OK;
}

/* The table a CREATE/ALTER TABLE is about, as the only FROM item of its expressions. */
static const struct schema_table *ddl_table(struct sql_ctx *c, struct sql_scope *sc, json_t *rv)
{
	const struct schema_table *t =
	    sql_find_table(c->s, sql_jstr(rv, "schemaname"), sql_jstr(rv, "relname"));
	struct sql_rel r;
	memset(&r, 0, sizeof(r));
	if (t) {
		c->touched = true;
		sql_table_rel(t, &r);
	}
	sql_scope_add_rel(sc, sql_jstr(rv, "relname"), &r);
	return t;
}

/* CREATE TABLE ... INHERITS (p) / PARTITION OF p / PARTITION BY. */
static int create_paths(struct sql_ctx *c, json_t *b, const struct schema_table *t)
{
	bool part = json_object_get(b, "partbound") != NULL;
	const struct schema_table *p;
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(b, "inhRelations"), i, it)
	{
		if ((p = enc_table(c, sql_node_is(it, "RangeVar"))))
			return refuse_path(c, p,
			                   part ? "a partition of" : "a child table (INHERITS) of");
	}
	if (t && t->nencrypted > 0 && json_array_size(json_object_get(b, "inhRelations")))
		return refuse_path(c, t, part ? "making a partition of" : "INHERITS for");
	if (t && t->nencrypted > 0 && json_object_get(b, "partspec"))
		return refuse_path(c, t, "PARTITION BY for");
	return PGS_OK;
}

static int ddl_create(struct sql_ctx *c, struct sql_scope *parent, json_t *b);
static int ddl_alter(struct sql_ctx *c, struct sql_scope *parent, json_t *b);

int sql_ddl_create(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	bool saved = c->ddl;
	c->ddl = true;
	int rc = ddl_create(c, parent, b);
	c->ddl = saved;
	return rc;
}

int sql_ddl_alter(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	bool saved = c->ddl;
	c->ddl = true;
	int rc = ddl_alter(c, parent, b);
	c->ddl = saved;
	return rc;
}

static int ddl_create(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	struct sql_scope sc = {.parent = parent};
	const struct schema_table *t = ddl_table(c, &sc, json_object_get(b, "relation"));
	int rc = create_paths(c, b, t);
	size_t i;
	json_t *it;
	if (rc < 0) {
		sql_scope_free(&sc);
		return rc;
	}
	json_array_foreach(json_object_get(b, "tableElts"), i, it)
	{
		json_t *cd = sql_node_is(it, "ColumnDef"), *k = sql_node_is(it, "Constraint");
		if ((cd && column_def(c, &sc, t, cd) < 0) ||
		    (k && constraint(c, &sc, k, NULL) < 0)) {
			rc = -1;
			break;
		}
	}
	json_array_foreach(json_object_get(b, "constraints"), i, it)
	{
		json_t *k = sql_node_is(it, "Constraint");
		if (rc == 0 && k && constraint(c, &sc, k, NULL) < 0)
			rc = -1;
	}
	if (rc == 0 && sql_tree_names_encrypted(c, b))
		c->touched = true;
	sql_scope_free(&sc);
	return rc;
}

static int alter_cmd(struct sql_ctx *c, struct sql_scope *sc, const struct schema_table *t,
                     const struct sql_view *v, json_t *cmd)
{
	const char *sub = sql_jstr(cmd, "subtype");
	const char *name = sql_jstr(cmd, "name");
	json_t *def = json_object_get(cmd, "def");
	const struct schema_column *col = t && name ? sql_find_column(t, name) : NULL;
	if (!sub)
		return PGS_OK;
	if (!strcmp(sub, "AT_AddInherit") || !strcmp(sub, "AT_AttachPartition")) {
		/* ALTER TABLE x INHERIT enc, ALTER TABLE enc ATTACH PARTITION x: both directions */
		bool attach = !strcmp(sub, "AT_AttachPartition");
		json_t *other = attach ? json_object_get(sql_node_is(def, "PartitionCmd"), "name")
		                       : sql_node_is(def, "RangeVar");
		const struct schema_table *o = enc_table(c, other);
		if (o)
			return refuse_path(c, o,
			                   attach ? "attaching a partition to or of"
			                          : "a child table (INHERIT) of");
		if (t && t->nencrypted > 0)
			return refuse_path(c, t,
			                   attach ? "attaching a partition to" : "INHERIT for");
		return PGS_OK;
	}
	if (!strcmp(sub, "AT_GenericOptions"))
		return foreign_options(c, json_object_get(sql_node_is(def, "List"), "items"));
	if (!t && v && name && !strcmp(sub, "AT_ColumnDefault") && def && !null_const(def)) {
		/* a view column's default is what an INSERT through the view gets */
		for (size_t i = 0; i < v->ncols; i++)
			if (!strcmp(v->cols[i].name, name) &&
			    (v->cols[i].col || v->cols[i].tainted))
				return sql_refuse(
				    c, "0A000",
				    "a DEFAULT on view column %s.%s (encrypted column %s) "
				    "would store plaintext in the catalog",
				    v->name, name,
				    v->cols[i].col ? v->cols[i].col->qualified : "?");
	}
	if (!strcmp(sub, "AT_ColumnDefault")) {
		if (col && def && !null_const(def))
			return sql_refuse(c, "0A000",
			                  "ALTER COLUMN %s SET DEFAULT would store plaintext in "
			                  "the catalog; only DEFAULT NULL is supported",
			                  col->qualified);
		return PGS_OK;
	}
	if (!strcmp(sub, "AT_AddColumn") || !strcmp(sub, "AT_AddColumnToView")) {
		json_t *cd = sql_node_is(def, "ColumnDef");
		return cd ? column_def(c, sc, t, cd) : 0;
	}
	if (!strcmp(sub, "AT_AddConstraint")) {
		json_t *k = sql_node_is(def, "Constraint");
		return k ? constraint(c, sc, k, NULL) : 0;
	}
	if (!strcmp(sub, "AT_AddIdentity")) {
		if (col)
			return sql_refuse(c, "0A000",
			                  "an identity encrypted column %s is not supported (its "
			                  "values would be generated in plaintext by PostgreSQL)",
			                  col->qualified);
		return PGS_OK;
	}
	if (!strcmp(sub, "AT_AlterColumnType")) {
		json_t *cd = sql_node_is(def, "ColumnDef");
		json_t *u = json_object_get(cd, "raw_default");
		if (!u)
			return PGS_OK;
		if (col) {
			if (null_const(u) || self_ref(u, name))
				return PGS_OK;
			return sql_refuse(c, "0A000",
			                  "ALTER COLUMN %s TYPE ... USING an expression would "
			                  "store plaintext; only USING NULL or the column itself "
			                  "is supported",
			                  col->qualified);
		}
		return sql_expr(c, sc, u);
	}
	return PGS_OK;
}

static int ddl_alter(struct sql_ctx *c, struct sql_scope *parent, json_t *b)
{
	struct sql_scope sc = {.parent = parent};
	json_t *rv = json_object_get(b, "relation");
	const struct schema_table *t = ddl_table(c, &sc, rv);
	const struct sql_view *v =
	    t ? NULL : sql_find_view(c, sql_jstr(rv, "schemaname"), sql_jstr(rv, "relname"));
	int rc = 0;
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(b, "cmds"), i, it)
	{
		json_t *cmd = sql_node_is(it, "AlterTableCmd");
		if (cmd && alter_cmd(c, &sc, t, v, cmd) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && sql_tree_names_encrypted(c, b))
		c->touched = true;
	sql_scope_free(&sc);
	return rc;
}

/* CREATE TABLE t AS / SELECT INTO t: the query's plaintext output would land in a table the
 * config encrypts. */
int sql_ddl_into(struct sql_ctx *c, json_t *into)
{
	json_t *rv = json_object_get(into, "rel");
	const struct schema_table *t =
	    rv ? sql_find_table(c->s, sql_jstr(rv, "schemaname"), sql_jstr(rv, "relname")) : NULL;
	if (t && t->nencrypted > 0)
		return sql_refuse(c, "0A000",
		                  "CREATE TABLE AS / SELECT INTO encrypted table %s is not "
		                  "supported (it would store plaintext in %s); create the table, "
		                  "then INSERT through pgseal",
		                  t->name, t->encrypted[0].qualified);
	return PGS_OK;
}
