/* schema_wall.c - the second wall: a CHECK constraint per encrypted column that lets PostgreSQL
 * itself refuse anything but a pgseal record. */
#include "schema/schema.h"
#include "schema/schema_internal.h"

#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

/*
 * pgseal sees every statement that passes through it, but not what runs inside the
 * server: dynamic SQL in functions and DO blocks, triggers, rules, views or inherited
 * children created behind its back, partitions attached later. The constraint makes
 * PostgreSQL check every write of the column, whatever its path, against the record
 * layout of DESIGN.md §5 (docs/schema.md "The wall"):
 *
 *   plain:      01 | key id (4) | nonce (12) | ciphertext (n) | tag (16)
 *   searchable: 02 | blind index (32) | key id (4) | nonce (12) | ciphertext (n) | tag (16)
 *
 * - the format byte matches the column's `searchable`;
 * - the length is the record overhead plus a canonical value's length for the declared
 *   type (exact for the fixed-size types, at least the shortest value otherwise);
 * - the key id is in CRYPTO_KEYID_MIN..MAX, the range of every data key version that
 *   `keys rotate` can ever make, so a rotation needs no new DDL. Its top byte is 0, and
 *   no text value holds a 0x00 byte: text cast or coerced to bytea never passes.
 *
 * Only bytea comparisons, length() and substring(): immutable, no error on any input (a
 * short value just compares unequal, in whatever order PostgreSQL evaluates the terms),
 * so a refused row is always SQLSTATE 23514 naming the constraint. It cannot check the
 * GCM tag (the key stays in pgseal): a value crafted to look like a record passes.
 */

char *schema_wall_name(const struct schema_column *c)
{
	return schema_ddl_name("pgseal_record_", c->name, "");
}

/* A bytea literal, as E'\\x...' so that it reads the same whatever
 * standard_conforming_strings says. */
static void put_bytea(FILE *out, const uint8_t *b, size_t n)
{
	fputs("E'\\\\x", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", b[i]);
	fputs("'::bytea", out);
}

/*
 * CHECK (...): a record of this column's kind and type. NULL passes without a term of its
 * own: every term is NULL then, and a CHECK whose expression is NULL holds.
 *
 * PostgreSQL parses and prepares each CHECK expression once per statement execution
 * (ExecRelCheck), so the size of the expression tree is a cost per INSERT: prefixes are
 * compared as whole values (bytea order is memcmp, then length), with no substring() where
 * a prefix will do. For a value v of at least 33 bytes and a 5-byte bound b, v >= b and
 * v < b' hold exactly when v's first 5 bytes lie in [b, b').
 */
static void put_check(FILE *out, const struct schema_column *c, const char *qc)
{
	size_t lo, hi;
	codec_canonical_size(c->type, &lo, &hi);
	size_t over = c->searchable ? CRYPTO_REC_OVERHEAD_SEARCHABLE : CRYPTO_REC_OVERHEAD;
	uint8_t from[5], to[5];
	if (c->searchable) {
		/* the format byte; the key id comes after the blind index */
		from[0] = CRYPTO_REC_SEARCHABLE;
		to[0] = CRYPTO_REC_SEARCHABLE + 1;
		fprintf(out, "CHECK (%s >= ", qc);
		put_bytea(out, from, 1);
		fprintf(out, " AND %s < ", qc);
		put_bytea(out, to, 1);
	} else {
		/* format byte and key id are adjacent: one range of 5-byte prefixes covers both */
		from[0] = to[0] = CRYPTO_REC_PLAIN;
		pgs_put_u32(from + 1, CRYPTO_KEYID_MIN);
		pgs_put_u32(to + 1, CRYPTO_KEYID_MAX + 1);
		fprintf(out, "CHECK (%s >= ", qc);
		put_bytea(out, from, 5);
		fprintf(out, " AND %s < ", qc);
		put_bytea(out, to, 5);
	}
	fprintf(out, " AND length(%s) %s %zu", qc, hi && hi == lo ? "=" : ">=", over + lo);
	if (c->searchable) {
		pgs_put_u32(from, CRYPTO_KEYID_MIN);
		pgs_put_u32(to, CRYPTO_KEYID_MAX);
		fprintf(out, " AND substring(%s FROM %d FOR %d) BETWEEN ", qc,
		        1 + 1 + CRYPTO_BLIND_LEN, CRYPTO_KEYID_LEN);
		put_bytea(out, from, 4);
		fputs(" AND ", out);
		put_bytea(out, to, 4);
	}
	fputc(')', out);
}

int schema_wall_print_table(FILE *out, const struct schema_table *t, const char *qt, bool not_valid)
{
	fprintf(out, "ALTER TABLE %s", qt);
	for (size_t j = 0; j < t->nencrypted; j++) {
		const struct schema_column *c = &t->encrypted[j];
		char *name = schema_wall_name(c);
		char *qn = schema_quote_ident(name), *qc = schema_quote_ident(c->name);
		fprintf(out, "%s\n\tDROP CONSTRAINT IF EXISTS %s,\n\tADD CONSTRAINT %s ",
		        j ? "," : "", qn, qn);
		put_check(out, c, qc);
		if (not_valid)
			fputs(" NOT VALID", out);
		free(name);
		free(qn);
		free(qc);
	}
	fputs(";\n", out);
	return ferror(out) ? PGS_ERR : PGS_OK;
}

/* Stops the script, before any change, when a column is missing or not bytea yet: the
 * constraint compares bytea, and a column still in its declared type needs the migration. */
static int print_precheck(FILE *out, const struct schema_table *t, const char *qt)
{
	char *body = NULL, tag[32];
	size_t len = 0;
	FILE *m = open_memstream(&body, &len);
	if (!m)
		return PGS_ERR;
	fputs("BEGIN\n", m);
	for (size_t j = 0; j < t->nencrypted; j++) {
		const struct schema_column *c = &t->encrypted[j];
		fputs(
		    "\tIF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = ",
		    m);
		schema_put_literal(m, qt);
		fputs("::regclass\n\t\t   AND a.attname = ", m);
		schema_put_literal(m, c->name);
		fputs(" AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'bytea'::regtype) "
		      "THEN\n"
		      "\t\tRAISE EXCEPTION 'pgseal: column % is missing or not bytea yet; nothing "
		      "was "
		      "changed', ",
		      m);
		schema_put_literal(m, c->qualified);
		fputs("\n\t\t\tUSING HINT = 'Run the migration first: pgseal schema --config FILE "
		      "(it adds the constraints too).';\n\tEND IF;\n",
		      m);
	}
	fputs("END\n", m);
	if (fclose(m) != 0) {
		free(body);
		return PGS_ERR;
	}
	schema_dollar_tag(body, tag, sizeof(tag));
	fprintf(out, "DO %s\n%s%s;\n", tag, body, tag);
	free(body);
	return PGS_OK;
}

int schema_print_constraints(const struct schema *s, FILE *out)
{
	fprintf(
	    out,
	    "-- pgseal schema --constraints-only: the record CHECK constraints for %zu encrypted\n"
	    "-- column%s, for tables already migrated (their columns are bytea).\n"
	    "--\n"
	    "--   pgseal schema --config pgseal.yaml --constraints-only | psql -v ON_ERROR_STOP=1 "
	    "-d DATABASE\n"
	    "--\n"
	    "-- Each constraint is (re)added NOT VALID in one short transaction (PostgreSQL takes\n"
	    "-- an ACCESS EXCLUSIVE lock on each table for it, without scanning), so every write\n"
	    "-- from then on is checked; then VALIDATE checks the rows already stored, under a\n"
	    "-- lock that lets reads and writes go on. Running it again replaces the constraints.\n"
	    "-- A VALIDATE that fails names the constraint: the column holds a value that is not\n"
	    "-- a pgseal record of that column (docs/schema.md).\n",
	    s->nencrypted, s->nencrypted == 1 ? "" : "s");
	if (s->nencrypted == 0) {
		fprintf(out, "-- No encrypted columns are configured: nothing to do.\n");
		return ferror(out) ? PGS_ERR : PGS_OK;
	}
	fprintf(out, "\nBEGIN;\nSET LOCAL client_min_messages = warning; -- no \"does not exist, "
	             "skipping\" notices\n");
	for (size_t i = 0; i < s->ntables; i++) {
		const struct schema_table *t = &s->tables[i];
		if (!t->nencrypted)
			continue;
		char *qt = schema_quote_qualified(t->name);
		fprintf(out, "\n");
		int rc = print_precheck(out, t, qt);
		if (rc == PGS_OK)
			rc = schema_wall_print_table(out, t, qt, true);
		free(qt);
		if (rc != PGS_OK)
			return PGS_ERR;
	}
	fprintf(out, "\nCOMMIT;\n\n-- the rows already stored\n");
	for (size_t i = 0; i < s->ntables; i++) {
		const struct schema_table *t = &s->tables[i];
		char *qt = t->nencrypted ? schema_quote_qualified(t->name) : NULL;
		for (size_t j = 0; j < t->nencrypted; j++) {
			char *name = schema_wall_name(&t->encrypted[j]);
			char *qn = schema_quote_ident(name);
			fprintf(out, "ALTER TABLE %s VALIDATE CONSTRAINT %s;\n", qt, qn);
			free(name);
			free(qn);
		}
		free(qt);
	}
	return ferror(out) ? PGS_ERR : PGS_OK;
}
