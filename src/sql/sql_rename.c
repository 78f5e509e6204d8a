/* sql_rename.c - renames and moves (ALTER ... RENAME [COLUMN], SET SCHEMA, ALTER SCHEMA ...
 * RENAME): the views they change are reloaded before the next statement, and what the config names
 * (encrypted tables, their columns, their schemas) is not renamed from under it. */
#include "sql/sql_internal.h"

#include <string.h>

/* The encryption config maps names: renaming what it names takes the data out of its sight
 * (the next INSERT under the new name would store plaintext). */
static int refuse_config_name(struct sql_ctx *c, const char *what, const struct schema_table *t)
{
	return sql_refuse(c, "0A000",
	                  "%s encrypted table %s is not supported through pgseal: the encryption "
	                  "config names it (and %s); to rename it, stop pgseal, rename it on the "
	                  "server, change the config, then start pgseal again",
	                  what, t->name, t->encrypted[0].qualified);
}

static const struct schema_table *enc_table(const struct sql_ctx *c, const char *nsp,
                                            const char *rel)
{
	const struct schema_table *t = sql_find_table(c->s, nsp, rel);
	return t && t->nencrypted > 0 ? t : NULL;
}

/* A configured table with encrypted columns named `schema.table` with this schema. */
static const struct schema_table *config_schema(const struct sql_ctx *c, const char *nsp)
{
	size_t n = nsp ? strlen(nsp) : 0;
	for (size_t i = 0; n && i < c->s->ntables; i++) {
		const struct schema_table *t = &c->s->tables[i];
		const char *dot = strrchr(t->name, '.');
		if (t->nencrypted > 0 && dot && (size_t)(dot - t->name) == n &&
		    !strncmp(t->name, nsp, n))
			return t;
	}
	return NULL;
}

/* ALTER SCHEMA old RENAME TO new: the views living there change names (s.v becomes t.v). */
static int rename_schema(struct sql_ctx *c, const char *old, const char *newname)
{
	const struct schema_table *t = config_schema(c, old);
	if (!t)
		t = config_schema(c, newname);
	if (t)
		return refuse_config_name(c, "renaming the schema of", t);
	for (size_t i = 0; c->views && old && i < c->views->n; i++) {
		const struct sql_view *v = &c->views->v[i];
		if (v->schemaname && !strcmp(v->schemaname, old)) {
			c->touched = true;
			sql_define_view(c, v->name);
		}
	}
	return PGS_OK;
}

/* ALTER TABLE/VIEW t RENAME COLUMN old TO new. */
static int rename_column(struct sql_ctx *c, const char *nsp, const char *rel, const char *old,
                         const char *newname)
{
	const struct schema_table *t = enc_table(c, nsp, rel);
	const struct sql_view *v = t ? NULL : sql_find_view(c, nsp, rel);
	const struct schema_column *col;
	if (t) {
		c->touched = true;
		if ((col = sql_find_column(t, old)) || (col = sql_find_column(t, newname)))
			return sql_refuse(
			    c, "0A000",
			    "renaming encrypted column %s (or a column to its name) is "
			    "not supported through pgseal: the encryption config names "
			    "it; stop pgseal, rename it on the server, change the config, "
			    "then start pgseal again",
			    col->qualified);
		if (t->ncolumns > 0 && old && sql_table_has_column(t, old))
			return sql_refuse(
			    c, "0A000",
			    "renaming column %s of encrypted table %s is not supported "
			    "through pgseal: the encryption config lists the table's "
			    "columns (and %s); change the config with the rename",
			    old, t->name, t->encrypted[0].qualified);
	} else if (v) {
		/* the view's columns change names: reloaded before the next statement */
		c->touched = true;
		sql_define_view(c, v->name);
	}
	return PGS_OK;
}

int sql_rename_stmt(struct sql_ctx *c, json_t *b)
{
	const char *rt = sql_jstr(b, "renameType");
	json_t *rv = json_object_get(b, "relation");
	const char *nsp = sql_jstr(rv, "schemaname"), *rel = sql_jstr(rv, "relname");
	const char *newname = sql_jstr(b, "newname");
	const struct schema_table *t;
	if (!rt)
		return PGS_OK;
	if (!strcmp(rt, "OBJECT_SCHEMA"))
		return rename_schema(c, sql_jstr(b, "subname"), newname);
	if (!strcmp(rt, "OBJECT_COLUMN"))
		return rename_column(c, nsp, rel, sql_jstr(b, "subname"), newname);
	if (strcmp(rt, "OBJECT_TABLE") != 0 && strcmp(rt, "OBJECT_VIEW") != 0 &&
	    strcmp(rt, "OBJECT_MATVIEW") != 0 && strcmp(rt, "OBJECT_FOREIGN_TABLE") != 0)
		return SQL_NOT_MAPPED; /* constraints, indexes, triggers...: not mapped names */
	if ((t = enc_table(c, nsp, rel)))
		return refuse_config_name(c, "renaming", t);
	/* another table taking an encrypted table's name: PostgreSQL holds its columns in
	 * plaintext, pgseal would read and write them as records (and its OID map is stale) */
	if ((t = enc_table(c, nsp, newname)))
		return refuse_config_name(c, "renaming a table to the name of", t);
	const struct sql_view *v = sql_find_view(c, nsp, rel);
	if (v) {
		c->touched = true;
		sql_define_view(c, newname);
	}
	return PGS_OK;
}

int sql_move_stmt(struct sql_ctx *c, json_t *b)
{
	json_t *rv = json_object_get(b, "relation");
	const char *nsp = sql_jstr(rv, "schemaname"), *rel = sql_jstr(rv, "relname");
	const char *to = sql_jstr(b, "newschema");
	if (!rv || !rel)
		return SQL_NOT_MAPPED;
	const struct schema_table *t = enc_table(c, nsp, rel), *t2 = enc_table(c, to, rel);
	if (t && strchr(t->name, '.'))
		return refuse_config_name(c, "moving (SET SCHEMA)", t);
	if (t2 && t2 != t)
		return refuse_config_name(c, "moving a table (SET SCHEMA) to the name of", t2);
	if (t)
		c->touched = true; /* named by table name alone: it stays in the config's sight */
	const struct sql_view *v = sql_find_view(c, nsp, rel);
	if (v) {
		/* s.v is now t.v: the session's picture of the view is reloaded */
		c->touched = true;
		sql_define_view(c, v->name);
	}
	return PGS_OK;
}
