/* schema_internal.h - definitions shared by the files of src/schema (not for other modules). */
#ifndef PGSEAL_SCHEMA_INTERNAL_H
#define PGSEAL_SCHEMA_INTERNAL_H

/* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; longer names could never match. */
#define SCHEMA_NAME_MAX 63

#include <stdio.h>

struct schema;
struct schema_column;
struct schema_table;

/* An empty schema with its generation and one reference (schema.c). */
struct schema *schema_new(void);

/* ---- DDL helpers (schema_ddl.c) ---- */
/* prefix + base + suffix as one identifier of at most 63 bytes: when too long, base is cut
 * (at a UTF-8 boundary) and an FNV-1a hash of the whole base, "_%08x", keeps names apart.
 * Owner: the caller (free); not quoted. */
char *schema_ddl_name(const char *prefix, const char *base, const char *suffix);
/* A string literal that reads the same whatever standard_conforming_strings says. */
void schema_put_literal(FILE *out, const char *s);
/* A dollar-quote tag ($pgseal$, $pgseal1$, ...) that does not occur in body. */
void schema_dollar_tag(const char *body, char *tag, size_t len);

/* ---- the wall: one CHECK constraint per encrypted column (schema_wall.c) ---- */
/* pgseal_record_<column>, shortened like schema_ddl_name. Owner: the caller; not quoted. */
char *schema_wall_name(const struct schema_column *c);
/* ALTER TABLE qt DROP CONSTRAINT IF EXISTS ..., ADD CONSTRAINT ... CHECK (...) [NOT VALID];
 * for every encrypted column of t, as one statement (one scan of the table to validate). */
int schema_wall_print_table(FILE *out, const struct schema_table *t, const char *qt,
                            bool not_valid) PGS_MUSTCHECK;

#endif
