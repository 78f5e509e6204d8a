/* sql.h - statement analysis and rewriting against the encryption schema (libpg_query); no I/O, no
 * crypto. */
#ifndef PGSEAL_SQL_H
#define PGSEAL_SQL_H

#include "common/common.h"
#include "schema/schema.h"

/*
 * A plan says how to make one statement text safe, computed once per text and cached
 * by the caller (prepared statements pay it once). It is immutable and thread-safe to
 * share. Applying it needs the values' encryption, which the caller provides: the
 * plan only says WHERE a value goes and HOW (whole record, or blind index only).
 *
 * Fail closed: a statement that would write plaintext into an encrypted column, or
 * compare/sort/compute on one in a way the plan cannot rewrite, gets a refusal
 * (SQLSTATE 0A000, message naming "table.column") and must not be sent.
 */

enum sql_value_mode {
	SQL_VALUE_RECORD = 1, /* the whole encrypted record (INSERT/UPDATE/COPY values) */
	SQL_VALUE_BLIND,      /* the 33-byte search prefix: format byte + blind index */
};

/* An edit of the statement text: replace [offset, offset+len) of the original. */
enum sql_edit_kind {
	SQL_EDIT_TEXT = 1, /* put `text` there (e.g. "substr(email, 1, 33)") */
	SQL_EDIT_LITERAL,  /* a constant: encrypt its value, put a bytea literal there */
};

struct sql_edit {
	enum sql_edit_kind kind;
	uint32_t offset, len;
	const char *text;                   /* SQL_EDIT_TEXT */
	const struct schema_column *column; /* SQL_EDIT_LITERAL */
	enum sql_value_mode mode;           /* SQL_EDIT_LITERAL */
	char
	    *value; /* SQL_EDIT_LITERAL: the constant's value as text (unescaped), NUL-terminated */
	size_t value_len;
	bool value_null; /* the constant is NULL: stays NULL, no edit of the value */
};

/* A $n parameter that needs encryption in Bind. */
struct sql_param {
	int number; /* 1-based $n */
	const struct schema_column *column;
	enum sql_value_mode mode;
	bool array; /* `col = ANY($n)` / `col <> ALL($n)`: an array of values, each BLIND */
};

/*
 * A COPY statement of a text. Each COPY has its own description, with its statement index:
 * the proxy pairs the n-th statement's CopyInResponse/CopyOutResponse with it (a Query may
 * hold several COPYs among other statements). A COPY of a plain table or query is listed
 * too (encrypted = false): its data is relayed unchanged, and a CopyInResponse that matches
 * no listed COPY is refused.
 */
struct sql_copy {
	int statement;      /* 0-based index of the COPY's statement in the text */
	bool encrypted;     /* its data carries encrypted columns (the fields below are set) */
	bool from_stdin;    /* COPY ... FROM (else TO) */
	bool csv;           /* else text */
	char delimiter;     /* '\t' text, ',' csv */
	char quote, escape; /* csv */
	char *null_string;  /* "\\N" text, "" csv */
	bool header;
	size_t ncolumns;                      /* the COPY's columns in order */
	const struct schema_column **columns; /* NULL entries: not encrypted */
};

/* An SQL-level `PREPARE name AS stmt` seen in a text: the caller remembers name -> params
 * (per connection) once the statement succeeded, and forgets it on DEALLOCATE. */
struct sql_prepared {
	char *name;
	size_t nparams;
	struct sql_param *params; /* the inner statement's $n that need encryption */
	/* lookup answers only: EXECUTE of this name is refused (0A000) with this message (the
	 * caller cannot tell which definition will run); borrowed, never copied or freed */
	const char *refusal;
};

/* The statements of a text that change the session's prepared statements, in text order:
 * the caller applies each once PostgreSQL confirms it (its CommandComplete). */
enum sql_ns_kind {
	SQL_NS_PREPARE = 1,    /* PREPARE name: prepared[index] (tag "PREPARE") */
	SQL_NS_DEALLOCATE,     /* DEALLOCATE name (tag "DEALLOCATE") */
	SQL_NS_DEALLOCATE_ALL, /* DEALLOCATE ALL (tag "DEALLOCATE ALL") */
	SQL_NS_DISCARD_ALL,    /* DISCARD ALL (tag "DISCARD ALL"); DISCARD PLANS keeps statements */
};
struct sql_ns_op {
	enum sql_ns_kind kind;
	char *name;   /* PREPARE, DEALLOCATE */
	size_t index; /* PREPARE: its entry in prepared[] */
};

struct sql_plan {
	bool touches_encrypted; /* false: send the text unchanged */
	bool refused;
	char sqlstate[6]; /* when refused: "0A000" (or "42601" for a syntax error on an encrypted
	                     table) */
	char *message;    /* when refused: names table.column, never a value */
	size_t nedits;    /* sorted by offset, non-overlapping */
	struct sql_edit *edits;
	size_t nparams;
	struct sql_param *params;
	size_t ncopies; /* the text's COPY statements, in statement order */
	struct sql_copy *copies;
	int nstatements;  /* statements in the text (simple protocol may carry several) */
	size_t nprepared; /* PREPARE name AS ... in this text */
	struct sql_prepared *prepared;
	size_t nnsops; /* PREPARE / DEALLOCATE / DISCARD ALL in this text, in order */
	struct sql_ns_op *nsops;
	bool cacheable; /* false: the plan used the connection's prepared map (EXECUTE) */
	/* Single-statement texts returning rows: for each output column, the encrypted column
	 * it carries unchanged (or NULL). Lets the proxy decrypt result columns that have no
	 * RowDescription origin (scalar subqueries, UNION ALL, CTEs). nresult 0: unknown. */
	size_t nresult;
	const struct schema_column **result;
	/* CREATE [OR REPLACE] VIEW / MATERIALIZED VIEW over encrypted data, or a rename of a
	 * known view: the new names. The caller must reload its views before any statement
	 * naming them is analysed (such a text is refused when it has other statements). */
	size_t ndefined_views;
	char **defined_views;
};

/* Fast path: false when the text cannot name any table of the schema (a case-insensitive
 * search for the table names) nor rename a schema, so it is relayed without a parse. */
bool sql_may_touch(const struct schema *s, const char *sql, size_t len);

/* Analyses a statement text (NUL-terminated, len bytes). Returns PGS_ERR only on out of
 * memory; a refusal is a successful plan with refused = true. */
int sql_analyze(const struct schema *s, const char *sql, size_t len,
                struct sql_plan **out) PGS_MUSTCHECK;
void sql_plan_free(struct sql_plan *p);

/* SQL-level EXECUTE: the caller's per-connection map of PREPAREd statements. */
typedef const struct sql_prepared *(*sql_prepared_lookup_fn)(void *arg, const char *name);
/* As sql_analyze, resolving `EXECUTE name(args)` through lookup: an argument bound to an
 * encrypted parameter becomes a literal edit. A PREPARE earlier in the same text wins over
 * lookup. With a lookup, a name it does not know (NULL) or answers with a refusal is refused
 * (0A000: pgseal cannot tell which arguments are encrypted); without one (NULL), EXECUTE is
 * relayed unchanged. A plan that used lookup has cacheable = false. */
int sql_analyze_ex(const struct schema *s, const char *sql, size_t len,
                   sql_prepared_lookup_fn lookup, void *lookup_arg,
                   struct sql_plan **out) PGS_MUSTCHECK;
/* Views over encrypted tables, learned per connection from the catalog (pg_get_viewdef run
 * through the analysis): which encrypted column each view column carries unchanged. With
 * them, reads and searches through a view work like through a subquery, and writes through
 * a view carrying encrypted data are refused. Column pointers point into the schema. */
struct sql_view_col {
	char *name;
	const struct schema_column *col; /* the encrypted column it carries unchanged, or NULL */
	bool tainted;                    /* derived from encrypted data: selectable, nothing else */
};
struct sql_view {
	char *schemaname, *name;
	size_t ncols;
	struct sql_view_col *cols; /* in attnum order */
	bool encrypted;            /* some column carries encrypted data (col or tainted) */
	/* not a view: a child table or partition of this encrypted table (pg_inherits) */
	const struct schema_table *child_of;
};
struct sql_views {
	size_t n;
	struct sql_view *v;
	/* sql_views_add lexes definitions as pg_get_viewdef wrote them: under the session's
	 * standard_conforming_strings when the catalog query ran (it doubles backslashes only
	 * when the setting is off) */
	bool scs_off;
};
struct sql_views *sql_views_new(void);
void sql_views_free(struct sql_views *vs);
/* Adds a view from its column names (attnum order) and definition text (pg_get_viewdef),
 * analysed with the schema and the views added before (add them in dependency order). A
 * definition that does not parse, is refused, or whose columns cannot be mapped makes every
 * column tainted (fail closed). Returns the view (owned by vs). */
const struct sql_view *sql_views_add(struct sql_views *vs, const struct schema *s,
                                     const char *schemaname, const char *name,
                                     const char *const *colnames, size_t ncols, const char *def);
/* Adds a child table or partition of a configured encrypted table (found with pg_inherits):
 * its columns named like the parent's encrypted columns carry them (PostgreSQL keeps the names
 * along inheritance), so reads decrypt and searches are rewritten as through a view; writes naming
 * it are refused (they would store plaintext under a name the config does not know). NULL when the
 * parent is no encrypted table of the config, or the child is itself a configured table. */
const struct sql_view *sql_views_add_child(struct sql_views *vs, const struct schema *s,
                                           const char *schemaname, const char *name,
                                           const char *const *colnames, size_t ncols,
                                           const char *parent_schema, const char *parent_name);
/* False when the text cannot name any of the views (as sql_may_touch for tables) nor rename a
 * schema (which moves the views in it). */
bool sql_views_may_touch(const struct sql_views *vs, const char *sql, size_t len);
/* As sql_analyze_ex, also resolving the given views (NULL: none). A plan made with views that
 * the text may name depends on them: the caller must not share it with connections that know
 * other views (the proxy does not cache such plans). */
int sql_analyze_views(const struct schema *s, const struct sql_views *views, const char *sql,
                      size_t len, sql_prepared_lookup_fn lookup, void *lookup_arg,
                      struct sql_plan **out) PGS_MUSTCHECK;
/*
 * How the session's server lexes a text. libpg_query assumes standard_conforming_strings =
 * on; a server with it off reads a backslash in '...' as an escape, so the same text can
 * hide a value from the analysis (issue 16). The caller tracks the setting from the
 * server's ParameterStatus reports.
 */
struct sql_lex {
	bool scs_off; /* the session's standard_conforming_strings is off */
	bool settled; /* no request sent before this text and not yet answered can change it */
};
/* As sql_analyze_views, lexing as lex says. A text with a backslash is analysed under both
 * settings (a request in flight, or a reload of the server's configuration, can change the
 * setting before the server lexes it): refused (0A000) when the two readings differ in what
 * they edit, or when only the literal values differ and lex->settled is false; otherwise the
 * plan of lex's setting. The plan depends on lex only for texts where sql_lex_neutral is
 * false. */
int sql_analyze_lex(const struct schema *s, const struct sql_views *views, const char *sql,
                    size_t len, sql_prepared_lookup_fn lookup, void *lookup_arg,
                    const struct sql_lex *lex, struct sql_plan **out) PGS_MUSTCHECK;
/* True when the text lexes the same under both settings (it has no backslash). */
bool sql_lex_neutral(const char *sql, size_t len);

/* Fast path for EXECUTE: false when the text cannot contain an EXECUTE statement. A caller
 * whose connection has prepared statements with encrypted parameters must call
 * sql_analyze_ex for texts where this is true, even when sql_may_touch is false. */
bool sql_may_execute(const char *sql, size_t len);
/* What a statement text may concern, found in ONE pass over it (the fast path before any
 * analysis, on every Query and Parse): each verdict is exactly that of the older per-question
 * scans, which stay for the analysis itself. */
struct sql_mentions {
	bool tables;   /* sql_may_touch(s, ...) */
	bool views;    /* sql_views_may_touch(vs, ...) */
	bool execute;  /* EXECUTE as a word of its own (not part of an identifier) */
	bool prepared; /* PREPARE, EXECUTE, DEALLOCATE or DISCARD as a word of its own */
};
/* s and vs may be NULL (no table, no view). */
void sql_scan_mentions(const struct schema *s, const struct sql_views *vs, const char *sql,
                       size_t len, struct sql_mentions *out);
/* Whether a statement text contains a word, ignoring case (the fast paths' name search;
 * false for an empty word). */
bool sql_text_mentions(const char *text, size_t len, const char *word);
/* Deep copy of a PREPARE entry, for the caller's map (column pointers point into the schema). */
struct sql_prepared *sql_prepared_dup(const struct sql_prepared *p);
void sql_prepared_free(struct sql_prepared *p);
/* The plan a protocol Bind of an SQL-PREPAREd statement follows: its encrypted parameters
 * (params), touches_encrypted when there are any; freed with sql_plan_free. */
struct sql_plan *sql_plan_of_prepared(const struct sql_prepared *p);

/* Supplies the encrypted form of a constant: writes a complete SQL expression for the
 * bytea value (e.g. '\x0201...'::bytea) into *out (malloc'd). Returns PGS_ERR when the
 * value does not parse as the column's type (err gets a message naming the column,
 * never the value). */
typedef int (*sql_encrypt_fn)(void *arg, const struct schema_column *col, enum sql_value_mode mode,
                              const char *value, size_t len, char **out, char *err, size_t errlen);

/* The COPY of statement `statement` (0-based) of a plan, or NULL when that statement is no COPY. */
const struct sql_copy *sql_plan_copy(const struct sql_plan *p, int statement);
/* A deep copy of a COPY description (column pointers point into the schema); clear frees it. */
void sql_copy_dup(struct sql_copy *dst, const struct sql_copy *src);
void sql_copy_clear(struct sql_copy *cp);

/* Applies the plan to the original text: a new malloc'd, NUL-terminated text. */
int sql_plan_render(const struct sql_plan *p, const char *sql, size_t len, sql_encrypt_fn enc,
                    void *arg, char **out, size_t *outlen, char *err, size_t errlen) PGS_MUSTCHECK;

#endif
