/* schema_ddl.c - `pgseal schema`: the migration DDL for encrypted columns (bytea, blind-index
 * expression indexes, record constraints). */
#include "schema/schema.h"
#include "schema/schema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL 15's keywords that quote_ident() quotes (pg_get_keywords() where catcode <> 'U'),
 * sorted for bsearch. */
static const char *const reserved[] = {
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
};

static int cmp_kw(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool needs_quotes(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return true;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return true;
	return bsearch(&s, reserved, PGS_ARRAY_LEN(reserved), sizeof(reserved[0]), cmp_kw) != NULL;
}

char *schema_quote_ident(const char *name)
{
	size_t n = strlen(name), o = 0;
	if (!needs_quotes(name))
		return pgs_xstrdup(name);
	char *r = pgs_xmalloc(2 * n + 3);
	r[o++] = '"';
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			r[o++] = '"';
		r[o++] = *p;
	}
	r[o++] = '"';
	r[o] = 0;
	return r;
}

char *schema_quote_qualified(const char *name)
{
	const char *dot = strchr(name, '.');
	if (!dot)
		return schema_quote_ident(name);
	/* the loader rejects '.' inside a part, so the first dot separates schema and table */
	char *schema = pgs_xstrdup(name);
	schema[dot - name] = 0;
	char *qs = schema_quote_ident(schema), *qt = schema_quote_ident(dot + 1);
	size_t n = strlen(qs) + strlen(qt) + 2;
	char *r = pgs_xmalloc(n);
	snprintf(r, n, "%s.%s", qs, qt);
	free(schema);
	free(qs);
	free(qt);
	return r;
}

void schema_put_literal(FILE *out, const char *s)
{
	if (strchr(s, '\\'))
		fputc('E', out);
	fputc('\'', out);
	for (const char *p = s; *p; p++) {
		if (*p == '\'' || *p == '\\')
			fputc(*p, out);
		fputc(*p, out);
	}
	fputc('\'', out);
}

char *schema_ddl_name(const char *prefix, const char *base, const char *suffix)
{
	size_t pl = strlen(prefix), bl = strlen(base), sl = strlen(suffix);
	char *r = pgs_xmalloc(pl + bl + sl + 1);
	if (pl + bl + sl <= SCHEMA_NAME_MAX) {
		snprintf(r, pl + bl + sl + 1, "%s%s%s", prefix, base, suffix);
		return r;
	}
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)base; *p; p++)
		h = (h ^ *p) * 16777619u;
	size_t keep = SCHEMA_NAME_MAX - pl - sl - 9;
	while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80)
		keep--;
	snprintf(r, pl + bl + sl + 1, "%s%.*s_%08x%s", prefix, (int)keep, base, h, suffix);
	return r;
}

/* <table>_<column>_pgseal_bidx */
static char *index_name(const struct schema_column *c)
{
	const char *rel = strrchr(c->table->name, '.');
	rel = rel ? rel + 1 : c->table->name;
	size_t n = strlen(rel) + strlen(c->name) + 2;
	char *base = pgs_xmalloc(n);
	snprintf(base, n, "%s_%s", rel, c->name);
	char *r = schema_ddl_name("", base, "_pgseal_bidx");
	free(base);
	return r;
}

void schema_dollar_tag(const char *body, char *tag, size_t len)
{
	snprintf(tag, len, "$pgseal$");
	for (unsigned i = 1; strstr(body, tag); i++)
		snprintf(tag, len, "$pgseal%u$", i);
}

/* One column: refuse (and change nothing) when it holds values of another type; convert it
 * when it is empty; leave it when it is already bytea. Its default is dropped either way:
 * a default would be written by PostgreSQL itself, unencrypted. */
static int column_block(FILE *out, const struct schema_column *c, const char *qt)
{
	char *qc = schema_quote_ident(c->name);
	char *body = NULL, tag[32];
	size_t len = 0;
	FILE *m = open_memstream(&body, &len);
	if (!m) {
		free(qc);
		return PGS_ERR;
	}
	fprintf(m, "#variable_conflict use_column\nDECLARE\n\t_pgseal_typ regtype;\n\t_pgseal_num "
	           "int2;\nBEGIN\n"
	           "\tSELECT a.atttypid::regtype, a.attnum INTO _pgseal_typ, _pgseal_num FROM "
	           "pg_catalog.pg_attribute a\n"
	           "\t WHERE a.attrelid = ");
	schema_put_literal(m, qt);
	fprintf(m, "::regclass AND a.attname = ");
	schema_put_literal(m, c->name);
	fprintf(m, " AND a.attnum > 0 AND NOT a.attisdropped;\n"
	           "\tIF _pgseal_typ IS NULL THEN\n"
	           "\t\tRAISE EXCEPTION 'pgseal: column %% does not exist', ");
	schema_put_literal(m, c->qualified);
	fprintf(m,
	        ";\n"
	        "\tELSIF _pgseal_typ = 'bytea'::regtype THEN\n"
	        "\t\tALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;\n"
	        "\tELSIF EXISTS (SELECT 1 FROM %s WHERE %s IS NOT NULL) THEN\n"
	        "\t\tRAISE EXCEPTION 'pgseal: column %% holds %% values that are not encrypted; "
	        "nothing was changed', ",
	        qt, qc, qt, qc);
	schema_put_literal(m, c->qualified);
	fprintf(
	    m,
	    ", _pgseal_typ\n\t\t\tUSING HINT = 'Migrate the rows through pgseal (docs/schema.md) "
	    "or empty the column, then run this again.';\n"
	    "\tELSE\n"
	    "\t\tALTER TABLE %s ALTER COLUMN %s DROP DEFAULT,\n"
	    "\t\t\tALTER COLUMN %s TYPE bytea USING NULL::bytea;\n"
	    "\tEND IF;\n"
	    "\tIF EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = ",
	    qt, qc, qc);
	schema_put_literal(m, qt);
	fprintf(
	    m,
	    "::regclass\n"
	    "\t\t   AND i.indisunique AND _pgseal_num = ANY (i.indkey)) THEN\n"
	    "\t\tRAISE WARNING 'pgseal: a unique index on %% compares ciphertexts, not values', ");
	schema_put_literal(m, c->qualified);
	fprintf(m, "\n\t\t\tUSING HINT = '%s';\n\tEND IF;\nEND\n",
	        c->searchable
	            ? "Replace it with a unique index on the blind index, substr(column, 1, 33)."
	            : "Only a searchable column can be unique (on substr(column, 1, 33)).");
	if (fclose(m) != 0) {
		free(body);
		free(qc);
		return PGS_ERR;
	}
	schema_dollar_tag(body, tag, sizeof(tag));
	fprintf(out, "DO %s\n%s%s;\n", tag, body, tag);
	free(body);
	free(qc);
	return PGS_OK;
}

/* The migration of one table (lock, column blocks, blind-index indexes, the wall), as
 * plain statements into out. */
static int table_statements(FILE *out, const struct schema_table *t, const char *qt)
{
	fprintf(out, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n", qt);
	for (size_t j = 0; j < t->nencrypted; j++)
		if (column_block(out, &t->encrypted[j], qt) != PGS_OK)
			return PGS_ERR;
	for (size_t j = 0; j < t->nencrypted; j++) {
		const struct schema_column *c = &t->encrypted[j];
		if (!c->searchable)
			continue;
		char *iname = index_name(c);
		char *qi = schema_quote_ident(iname), *qc = schema_quote_ident(c->name);
		fprintf(out, "CREATE INDEX IF NOT EXISTS %s ON %s (substr(%s, 1, 33));\n", qi, qt,
		        qc);
		free(iname);
		free(qi);
		free(qc);
	}
	return schema_wall_print_table(out, t, qt, false);
}

/*
 * One table's migration inside a DO block: a table that does not exist yet is skipped with
 * a WARNING, and any error of its migration (a column missing, values that are not
 * encrypted) rolls back that table alone (the block's subtransaction) and is reported as a
 * WARNING: one table does not stop the others. The report at the end says which are ready.
 */
static int table_block(FILE *out, const struct schema_table *t, const char *qt)
{
	char *inner = NULL, *body = NULL, itag[32], tag[32];
	size_t ilen = 0, blen = 0;
	FILE *m = open_memstream(&inner, &ilen);
	if (!m)
		return PGS_ERR;
	int rc = table_statements(m, t, qt);
	if (fclose(m) != 0 || rc != PGS_OK) {
		free(inner);
		return PGS_ERR;
	}
	schema_dollar_tag(inner, itag, sizeof(itag));
	m = open_memstream(&body, &blen);
	if (!m) {
		free(inner);
		return PGS_ERR;
	}
	fputs("BEGIN\n\tIF pg_catalog.to_regclass(", m);
	schema_put_literal(m, qt);
	fputs(") IS NULL THEN\n\t\tRAISE WARNING 'pgseal: table % does not exist: skipped', ", m);
	schema_put_literal(m, t->name);
	fputs("\n\t\t\tUSING HINT = 'Create it, then run pgseal schema again (--table for this "
	      "table alone).';\n\t\tRETURN;\n\tEND IF;\n",
	      m);
	fprintf(m, "\tEXECUTE %s\n%s%s;\n", itag, inner, itag);
	fputs("EXCEPTION WHEN OTHERS THEN\n"
	      "\tRAISE WARNING 'pgseal: table % was not migrated (nothing of it changed): %', ",
	      m);
	schema_put_literal(m, t->name);
	fputs(", SQLERRM;\nEND\n", m);
	free(inner);
	if (fclose(m) != 0) {
		free(body);
		return PGS_ERR;
	}
	schema_dollar_tag(body, tag, sizeof(tag));
	fprintf(out, "DO %s\n%s%s;\n", tag, body, tag);
	free(body);
	return PGS_OK;
}

/* After the migration: per table, ready (every encrypted column bytea with its record
 * constraint) or why not; an error at the end when one is not, so that psql -v
 * ON_ERROR_STOP=1 exits non-zero. */
static int report_block(FILE *out, const struct schema *s)
{
	char *body = NULL, tag[32];
	size_t len = 0;
	size_t ntables = 0;
	FILE *m = open_memstream(&body, &len);
	if (!m)
		return PGS_ERR;
	fputs("DECLARE\n\t_pgseal_bad int := 0;\n\t_pgseal_rel regclass;\n\t_pgseal_typ "
	      "regtype;\n\t_pgseal_why text;\nBEGIN\n",
	      m);
	for (size_t i = 0; i < s->ntables; i++) {
		const struct schema_table *t = &s->tables[i];
		if (!t->nencrypted)
			continue;
		ntables++;
		char *qt = schema_quote_qualified(t->name);
		fputs("\t_pgseal_why := NULL;\n\t_pgseal_rel := pg_catalog.to_regclass(", m);
		schema_put_literal(m, qt);
		fputs(");\n\tIF _pgseal_rel IS NULL THEN\n\t\t_pgseal_why := 'missing: the table "
		      "does not exist';\n\tELSE\n",
		      m);
		for (size_t j = 0; j < t->nencrypted; j++) {
			const struct schema_column *c = &t->encrypted[j];
			char *wall = schema_wall_name(c);
			fputs("\t\t_pgseal_typ := NULL;\n\t\tSELECT a.atttypid::regtype INTO "
			      "_pgseal_typ FROM pg_catalog.pg_attribute a\n\t\t WHERE a.attrelid = "
			      "_pgseal_rel AND a.attname = ",
			      m);
			schema_put_literal(m, c->name);
			fputs(" AND a.attnum > 0 AND NOT a.attisdropped;\n\t\t_pgseal_why := "
			      "nullif(pg_catalog.concat_ws('; ', _pgseal_why, CASE\n\t\t\tWHEN "
			      "_pgseal_typ IS NULL THEN 'column ' || ",
			      m);
			schema_put_literal(m, c->name);
			fputs(" || ' is missing'\n\t\t\tWHEN _pgseal_typ <> 'bytea'::regtype THEN "
			      "'column ' || ",
			      m);
			schema_put_literal(m, c->name);
			fputs(
			    " || ' is ' || _pgseal_typ::text || ', not bytea yet'\n\t\t\tWHEN NOT "
			    "EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conrelid = "
			    "_pgseal_rel AND k.conname = ",
			    m);
			schema_put_literal(m, wall);
			fputs(") THEN 'column ' || ", m);
			schema_put_literal(m, c->name);
			fputs(" || ' has no record constraint'\n\t\tEND), '');\n", m);
			free(wall);
		}
		/* concat_ws skips the NULL of a ready column: _pgseal_why stays NULL while every
		 * column is ready, else lists each problem */
		fputs(
		    "\tEND IF;\n\tIF _pgseal_why IS NULL THEN\n\t\tRAISE NOTICE 'pgseal: table %: "
		    "ready', ",
		    m);
		schema_put_literal(m, t->name);
		fputs(";\n\tELSE\n\t\t_pgseal_bad := _pgseal_bad + 1;\n\t\tRAISE WARNING 'pgseal: "
		      "table %: NOT ready: %', ",
		      m);
		schema_put_literal(m, t->name);
		fputs(", _pgseal_why;\n\tEND IF;\n", m);
		free(qt);
	}
	fprintf(m,
	        "\tIF _pgseal_bad > 0 THEN\n\t\tRAISE EXCEPTION 'pgseal: %% of %zu table%s not "
	        "ready', _pgseal_bad\n\t\t\tUSING HINT = 'See the warnings above; fix them, then "
	        "run pgseal schema again (--table T for one table).';\n\tEND IF;\nEND\n",
	        ntables, ntables == 1 ? "" : "s");
	if (fclose(m) != 0) {
		free(body);
		return PGS_ERR;
	}
	schema_dollar_tag(body, tag, sizeof(tag));
	fprintf(out, "\n-- the report: ready, or why not (psql -v ON_ERROR_STOP=1 exits 3 then)\n");
	fprintf(out, "DO %s\n%s%s;\n", tag, body, tag);
	free(body);
	return PGS_OK;
}

int schema_print_ddl(const struct schema *s, FILE *out)
{
	size_t ntables = 0;
	for (size_t i = 0; i < s->ntables; i++)
		ntables += s->tables[i].nencrypted > 0;
	fprintf(
	    out,
	    "-- pgseal schema: migration for %zu encrypted column%s in %zu table%s.\n"
	    "--\n"
	    "-- Run it as the owner of the tables, before values are written through pgseal:\n"
	    "--   pgseal schema --config pgseal.yaml | psql -v ON_ERROR_STOP=1 -d DATABASE\n"
	    "-- Every encrypted column becomes bytea (the application still sees the declared\n"
	    "-- type through pgseal). The type change is for EMPTY columns: a column that still\n"
	    "-- holds values of another type leaves its table unchanged (a WARNING says so),\n"
	    "-- because converting it here would destroy those values or leave them readable.\n"
	    "-- Migrate existing rows through pgseal instead (docs/schema.md). A table that does\n"
	    "-- not exist yet is skipped; the other tables are migrated all the same. Columns\n"
	    "-- that are already bytea are kept, so running this again is safe. Column defaults\n"
	    "-- are dropped (PostgreSQL would store them unencrypted). Searchable columns get an\n"
	    "-- index on their blind index, substr(column, 1, 33). Every encrypted column gets a\n"
	    "-- CHECK constraint pgseal_record_<column> that lets PostgreSQL itself refuse any\n"
	    "-- value that is not a pgseal record of that column, whatever path writes it\n"
	    "-- (functions, triggers, children, partitions); it is replaced on every run.\n"
	    "-- The report at the end names each table: ready, or why not (then an error).\n",
	    s->nencrypted, s->nencrypted == 1 ? "" : "s", ntables, ntables == 1 ? "" : "s");
	if (s->nencrypted == 0) {
		fprintf(out, "-- No encrypted columns are configured: nothing to do.\n");
		return ferror(out) ? PGS_ERR : PGS_OK;
	}
	/* the re-run's "already exists, skipping" / "does not exist, skipping" notices are noise;
	 * the migration's own warnings stay */
	fprintf(out, "\nBEGIN;\nSET LOCAL client_min_messages = warning;\n");
	for (size_t i = 0; i < s->ntables; i++) {
		const struct schema_table *t = &s->tables[i];
		if (!t->nencrypted)
			continue;
		char *qt = schema_quote_qualified(t->name);
		/* names are free of control characters (the loader checks), so comments are safe */
		fprintf(out, "\n-- %s:", qt);
		for (size_t j = 0; j < t->nencrypted; j++) {
			const struct schema_column *c = &t->encrypted[j];
			char *qc = schema_quote_ident(c->name);
			fprintf(out, "%s %s (%s%s%s)", j ? "," : "", qc, codec_type_name(c->type),
			        c->searchable ? ", searchable" : "",
			        c->client_id ? ", one client" : "");
			free(qc);
		}
		fprintf(out, "\n");
		int rc = table_block(out, t, qt);
		free(qt);
		if (rc != PGS_OK)
			return PGS_ERR;
	}
	fprintf(out, "\nCOMMIT;\n");
	if (report_block(out, s) != PGS_OK)
		return PGS_ERR;
	return ferror(out) ? PGS_ERR : PGS_OK;
}
