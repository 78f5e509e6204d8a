/* schema.h - the encryption schema: Acra encryptor_config rules per table and column, and the
 * catalog map. */
#ifndef PGSEAL_SCHEMA_H
#define PGSEAL_SCHEMA_H

#include "codec/codec.h"
#include "common/common.h"
#include "config/config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* What a reader gets when a value fails to decrypt (Acra's response_on_fail). */
enum schema_on_fail {
	SCHEMA_FAIL_ERROR = 0,  /* default: an ErrorResponse, never the stored bytes */
	SCHEMA_FAIL_CIPHERTEXT, /* the stored bytes as they are (bytea) */
	SCHEMA_FAIL_DEFAULT,    /* default_data_value, in the declared type */
};

/* One encrypted column. Immutable once the schema is loaded. */
struct schema_column {
	const struct schema_table *table;
	char *name; /* column name as PostgreSQL folds it (lowercase unless quoted in the config) */
	char *qualified;      /* "table.column": bound into the record AAD, named in errors */
	enum codec_type type; /* declared type, what the application sees */
	uint32_t type_oid;    /* its PostgreSQL OID (RowDescription, ParameterDescription) */
	bool searchable;      /* a blind index is stored in front (format 0x02) */
	char *client_id; /* NULL: any client; else only this mTLS client id may read and write */
	enum schema_on_fail on_fail;
	char *default_value; /* text form, with SCHEMA_FAIL_DEFAULT */
	int position; /* 0-based index in table->columns (the table's column order); -1 without
	                 `columns` */
	size_t index; /* 0-based index among all encrypted columns of the schema */
};

struct schema_table {
	char *name;     /* table name (may be "schema.table"; unqualified means any schema on the
	                   search_path) */
	char **columns; /* every column of the table in order (Acra's `columns:`), may be empty */
	size_t ncolumns;
	struct schema_column *encrypted;
	size_t nencrypted;
};

struct schema {
	struct schema_table *tables;
	size_t ntables;
	size_t nencrypted; /* across all tables */
	uint64_t
	    generation;  /* unique per load in this process, increasing (plan caches key on it) */
	atomic_int refs; /* 1 at load; schema_unref frees at 0 */
};

/* Loads the `schemas:` list: from cfg->encryptor_config_file when set, else from the
 * inline `schemas:` of the config file itself; an empty schema when neither is there.
 * Errors name the file, the line and the reason. */
int schema_load(const struct config *cfg, struct schema **out, char *err,
                size_t errlen) PGS_MUSTCHECK;
/* The same from YAML text (an Acra encryptor_config document with a `schemas:` list). */
int schema_load_buffer(const char *name, const uint8_t *data, size_t len, struct schema **out,
                       char *err, size_t errlen) PGS_MUSTCHECK;
void schema_free(struct schema *s);
/* Reference counting for a schema shared by sessions (a reload replaces it while older
 * sessions still use theirs): schema_ref adds one, schema_unref drops one and frees the
 * schema with the last. Thread-safe. */
struct schema *schema_ref(struct schema *s);
void schema_unref(struct schema *s);

/* The schema new sessions start with. A reload (`serve`, SIGHUP) validates a new schema off
 * to the side, then swaps it in here; sessions keep the one they took until they end. */
struct schema_current {
	pthread_mutex_t mu;
	struct schema *s;            /* one reference held by the holder */
	_Atomic uint64_t generation; /* s->generation, readable without the lock */
};
void schema_current_init(struct schema_current *cur, struct schema *s); /* takes s's reference */
/* A reference to the current schema (the caller unrefs it). */
struct schema *schema_current_get(struct schema_current *cur);
/* Installs s (takes its reference) and drops the holder's reference to the old one. */
void schema_current_set(struct schema_current *cur, struct schema *s);
void schema_current_destroy(struct schema_current *cur);
/* The current schema's generation: one atomic load (sessions compare it at each message). */
uint64_t schema_current_generation(struct schema_current *cur);
/* Whether two schemas encrypt the same tables and columns the same way (a reload that changes
 * nothing a session relies on). */
bool schema_same_encryption(const struct schema *a, const struct schema *b);

/* Case-sensitive lookups on folded names; NULL when absent. */
const struct schema_table *schema_find_table(const struct schema *s, const char *name);
const struct schema_column *schema_find_column(const struct schema_table *t, const char *name);
/* Position of a column in t->columns, or -1. */
int schema_column_position(const struct schema_table *t, const char *name);

/* Prints the migration DDL (ALTER ... TYPE bytea, CREATE INDEX ... substr(col, 1, 33), and
 * the record CHECK constraint of every encrypted column: docs/schema.md). */
int schema_print_ddl(const struct schema *s, FILE *out) PGS_MUSTCHECK;
/* Prints only the record CHECK constraints, for tables migrated before they existed:
 * added NOT VALID in one transaction, then validated (`pgseal schema --constraints-only`). */
int schema_print_constraints(const struct schema *s, FILE *out) PGS_MUSTCHECK;

/* PostgreSQL's quote_ident() of one folded name: as it is when it is a plain lowercase
 * identifier and not a reserved keyword, else in double quotes. Owner: the caller (free). */
char *schema_quote_ident(const char *name);
/* The same for a table name "schema.table" (each part quoted) or "table". Owner: the caller. */
char *schema_quote_qualified(const char *name);

#endif
