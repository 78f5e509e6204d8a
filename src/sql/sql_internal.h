/* sql_internal.h - shared internals of the sql module: analysis context, tokens, scopes (not
 * public). */
#ifndef PGSEAL_SQL_INTERNAL_H
#define PGSEAL_SQL_INTERNAL_H

#include "sql/sql.h"

#include <jansson.h>
#include <pg_query.h>

/* Token kinds of libpg_query's scanner (pg_query.proto, enum Token) that the module needs. */
enum {
	SQL_T_LPAREN = 40,
	SQL_T_RPAREN = 41,
	SQL_T_PLUS = 43,
	SQL_T_COMMA = 44,
	SQL_T_MINUS = 45,
	SQL_T_DOT = 46,
	SQL_T_SEMI = 59,
	SQL_T_LBRACK = 91,
	SQL_T_RBRACK = 93,
	SQL_T_IDENT = 258,
	SQL_T_UIDENT = 259,
	SQL_T_FCONST = 260,
	SQL_T_SCONST = 261,
	SQL_T_USCONST = 262,
	SQL_T_BCONST = 263,
	SQL_T_XCONST = 264,
	SQL_T_OP = 265,
	SQL_T_ICONST = 266,
	SQL_T_PARAM = 267,
	SQL_T_TYPECAST = 268,
	SQL_T_SQL_COMMENT = 275,
	SQL_T_C_COMMENT = 276,
};
enum { SQL_KW_NONE = 0, SQL_KW_UNRESERVED, SQL_KW_COLNAME, SQL_KW_TYPEFUNC, SQL_KW_RESERVED };

struct sql_tok {
	int start, end, kind, kw;
};

/* A column as seen through a FROM item. */
struct sql_dcol {
	const char *name;
	const struct schema_column *col; /* the encrypted column it carries unchanged, or NULL */
	bool tainted;                    /* derived from encrypted data in a way we cannot name */
};

/* A FROM item (table, subquery, CTE reference, function) visible in a scope. */
struct sql_rel {
	const char *alias;                /* the name that qualifies its columns */
	const struct schema_table *table; /* a table of the schema */
	bool known;                       /* the column list below is complete */
	bool unsafe;                      /* columns not listed may carry encrypted data */
	struct sql_dcol *cols;
	size_t ncols;
};

struct sql_cte {
	const char *name;
	struct sql_rel rel; /* its columns (alias unused) */
};

struct sql_scope {
	struct sql_scope *parent;
	struct sql_rel *rels;
	size_t nrels, caprels;
	struct sql_cte *ctes;
	size_t nctes, capctes;
	json_t *targets; /* the SELECT's targetList (ORDER BY alias/position), or NULL */
};

/* Parameters met in one statement: those bound to encrypted columns, and plain uses. */
struct sql_psink {
	struct sql_param *v;
	size_t n, cap;
	int *plain;
	size_t nplain, capplain;
};

struct sql_ctx {
	const struct schema *s;
	/* The grammar is recursive: sub-analyzers (expressions, FROM items, WITH, INSERT ...
	 * SELECT, COPY (query), PREPARE) analyse nested statements through ctx->stmt, which
	 * sql_analyze.c sets to its dispatcher when it creates the context, so they do not depend
	 * on the dispatcher. */
	int (*stmt)(struct sql_ctx *c, struct sql_scope *parent, json_t *node, struct sql_rel *out);
	const char *sql;
	size_t len;
	struct sql_plan *plan;
	size_t capedits;
	struct sql_tok *toks;
	size_t ntoks;
	bool scanned, scan_failed;
	struct sql_psink *sink;
	sql_prepared_lookup_fn lookup;
	void *lookup_arg;
	int depth;
	bool touched;     /* the current statement names an encrypted table */
	const char *what; /* the clause being walked, for refusal messages (ORDER BY...) */
	const struct sql_views *views; /* this connection's views over encrypted tables, or NULL */
	struct sql_rel *first_out;     /* when set: gets the first statement's output columns */
	bool viewdef; /* analysing a stored view definition: its searches are already blind */
	bool ddl;     /* CREATE/ALTER TABLE: columns being defined are not in the config yet */
};

/*
 * The files form layers: each calls only files below it (scripts/check-circles.py, run by
 * `make test`, fails on a circle of more than 3 files; docs/architecture.md).
 *
 *   sql_readings.c, sql_views.c  a text analysed under both lexings; a view's definition
 *   sql_analyze.c                a text parsed, its statements dispatched by kind (sql_stmt)
 *   sql_dml.c, sql_ddl.c, sql_copy.c, sql_prepare.c, sql_rename.c, sql_select.c
 *                                the statement kinds (INSERT and UPDATE use sql_select.c's WITH)
 *   sql_from.c                   FROM items and target lists
 *   sql_expr.c                   expressions
 *   sql_scope.c, sql_scan.c      names and scopes; tokens and extents in the text
 *   sql_node.c, sql_plan.c, sql_lex.c, sql_mentions.c
 *                                node helpers, refusals, edits, the parameter sink; a plan as
 *                                data; libpg_query's parse and scan; the fast path
 */

/* sql_node.c: the toolbox. Walkers return PGS_OK to go on, PGS_ERR to stop (the plan is refused).
 */
int sql_refuse(struct sql_ctx *c, const char *sqlstate, const char *fmt, ...) PGS_PRINTF(3, 4);
/* JSON helpers: a wrapped node {"Type": {...}} -> its type name and body. */
const char *sql_node_type(json_t *node, json_t **body);
json_t *sql_node_is(json_t *node, const char *type);
const char *sql_jstr(json_t *obj, const char *key);
void sql_add_text_edit(struct sql_ctx *c, uint32_t start, uint32_t end, char *text);
void sql_add_literal_edit(struct sql_ctx *c, uint32_t start, uint32_t end,
                          const struct schema_column *col, enum sql_value_mode mode, char *value,
                          size_t vlen);
/* Frees an edit's text and wipes and frees its value. */
void sql_edit_clear(struct sql_edit *e);
int sql_finish_edits(struct sql_ctx *c) PGS_MUSTCHECK;
void sql_sink_param(struct sql_ctx *c, int number, const struct schema_column *col,
                    enum sql_value_mode mode, bool array);
void sql_sink_plain(struct sql_ctx *c, int number);
int sql_sink_finish(struct sql_ctx *c, struct sql_psink *k) PGS_MUSTCHECK;
void sql_sink_free(struct sql_psink *k);

/* sql_mentions.c: the fast path. Whether a text may be ALTER SCHEMA ... RENAME (the fast paths
 * analyse it). */
bool sql_may_rename_schema(const char *sql, size_t len);

/* sql_lex.c: every libpg_query parse and scan goes through these, lexing with the setting of
 * standard_conforming_strings this thread's analysis assumes (sql_lex_set: returns the previous
 * one; default on). */
bool sql_lex_set(bool scs_off);
PgQueryParseResult sql_lex_parse(const char *text);
PgQueryScanResult sql_lex_scan(const char *text);

/* sql_scan.c: tokens and extents in the original text. */
int sql_scan(struct sql_ctx *c) PGS_MUSTCHECK;
int sql_tok_at(const struct sql_ctx *c,
               int offset); /* index of the token starting at offset, or -1 */
int sql_ref_extent(struct sql_ctx *c, json_t *colref, uint32_t *start, uint32_t *end) PGS_MUSTCHECK;
int sql_const_extent(struct sql_ctx *c, json_t *node, uint32_t *start, uint32_t *end) PGS_MUSTCHECK;
/* The constant's value as text (malloc'd) from an A_Const or casts of one; *isnull for NULL. */
int sql_const_value(struct sql_ctx *c, json_t *node, char **val, size_t *vlen,
                    bool *isnull) PGS_MUSTCHECK;
int sql_min_location(json_t *node);

/* sql_scope.c: names, FROM items as relations, scopes, column resolution. */
const struct schema_table *sql_find_table(const struct schema *s, const char *schemaname,
                                          const char *relname);
const struct schema_column *sql_find_column(const struct schema_table *t, const char *name);
bool sql_table_has_column(const struct schema_table *t, const char *name);
/* Refuses a name that is not a column of encrypted table t in the config's `columns:` (system
 * columns aside): PostgreSQL would reject the statement after logging it. 0 otherwise. */
int sql_column_mapped(struct sql_ctx *c, const struct schema_table *t,
                      const char *name) PGS_MUSTCHECK;
/* The encrypted column of t whose name equals name but for case ("EMAIL" for email), or NULL. */
const struct schema_column *sql_case_twin(const struct schema_table *t, const char *name);
void sql_scope_free(struct sql_scope *sc);
/* Resolves a ColumnRef body: out->col = the encrypted column or NULL (plain); -1 when refused. */
int sql_resolve(struct sql_ctx *c, struct sql_scope *sc, json_t *colref,
                struct sql_dcol *out) PGS_MUSTCHECK;
/* t.* or * in an expression: true when it may expand to encrypted columns. */
bool sql_star_touches(struct sql_scope *sc, json_t *fields);
void sql_rel_free(struct sql_rel *r);
void sql_rel_push(struct sql_rel *r, const char *name, const struct schema_column *col,
                  bool tainted);
bool sql_rel_has_encrypted(const struct sql_rel *r);
/* What a FROM item says of a column name: not its column, a plain one, one carrying encrypted
 * data, unknown (its columns are not all known), maybe encrypted (unknown, and unsafe). */
enum sql_look { SQL_LOOK_NO, SQL_LOOK_PLAIN, SQL_LOOK_ENC, SQL_LOOK_UNKNOWN, SQL_LOOK_MAYBE };
enum sql_look sql_rel_lookup(const struct sql_rel *r, const char *name, const struct sql_dcol **d);
/* Renames the first columns by an alias list (t AS a(x, y), WITH c(x, y)). */
void sql_rel_rename(struct sql_rel *r, json_t *colnames);
/* Adds a FROM item; takes ownership of r's columns. */
void sql_scope_add_rel(struct sql_scope *sc, const char *alias, struct sql_rel *r);
/* The columns of a schema table as a FROM item. */
void sql_table_rel(const struct schema_table *t, struct sql_rel *r);
/* Views over encrypted tables (the connection's registry, sql_views.c), by name. */
const struct sql_view *sql_find_view(const struct sql_ctx *c, const char *schemaname,
                                     const char *relname);
/* The columns of a view as a FROM item. */
void sql_view_rel(const struct sql_view *v, struct sql_rel *r);
/* Refuses INSERT/UPDATE (what) through a view carrying encrypted data; 0 otherwise. */
int sql_view_write(struct sql_ctx *c, json_t *rv, const char *what) PGS_MUSTCHECK;
/* A view the text defines over encrypted data (plan->defined_views). */
void sql_define_view(struct sql_ctx *c, const char *name);

/* sql_expr.c: expressions. */
bool sql_tree_names_encrypted(struct sql_ctx *c, json_t *node);
int sql_expr(struct sql_ctx *c, struct sql_scope *sc, json_t *node) PGS_MUSTCHECK;
int sql_no_encrypted(struct sql_ctx *c, struct sql_scope *sc, json_t *node,
                     const char *what) PGS_MUSTCHECK;
int sql_value_into(struct sql_ctx *c, struct sql_scope *sc, json_t *node,
                   const struct schema_column *col) PGS_MUSTCHECK;
int sql_value_as(struct sql_ctx *c, struct sql_scope *sc, json_t *node,
                 const struct schema_column *col, enum sql_value_mode mode) PGS_MUSTCHECK;

/* sql_from.c: FROM items and target lists. */
/* The output columns of a target or RETURNING list. */
int sql_targets(struct sql_ctx *c, struct sql_scope *sc, json_t *targets,
                struct sql_rel *out) PGS_MUSTCHECK;
int sql_from_item(struct sql_ctx *c, struct sql_scope *sc, json_t *item) PGS_MUSTCHECK;

/* sql_select.c: SELECT. */
int sql_select(struct sql_ctx *c, struct sql_scope *parent, json_t *b,
               struct sql_rel *out) PGS_MUSTCHECK;
/* A WITH clause: its CTEs enter the scope. */
int sql_with_clause(struct sql_ctx *c, struct sql_scope *sc, json_t *with) PGS_MUSTCHECK;

/* sql_dml.c: INSERT, UPDATE, DELETE. */
/* The target table (or view) of a statement as a FROM item; the config's table, or NULL. */
const struct schema_table *sql_target_rel(struct sql_ctx *c, struct sql_scope *sc, json_t *rv,
                                          const char *alias_as);
int sql_insert(struct sql_ctx *c, struct sql_scope *parent, json_t *b,
               struct sql_rel *out) PGS_MUSTCHECK;
int sql_update_delete(struct sql_ctx *c, struct sql_scope *parent, json_t *b, bool upd,
                      struct sql_rel *out) PGS_MUSTCHECK;

/* sql_ddl.c: CREATE TABLE, ALTER TABLE, CREATE TABLE AS / SELECT INTO targets. */
int sql_ddl_create(struct sql_ctx *c, struct sql_scope *parent, json_t *b) PGS_MUSTCHECK;
int sql_ddl_alter(struct sql_ctx *c, struct sql_scope *parent, json_t *b) PGS_MUSTCHECK;
int sql_ddl_into(struct sql_ctx *c, json_t *into) PGS_MUSTCHECK;
/* CREATE FOREIGN TABLE: refused when it names or points at an encrypted table. */
int sql_ddl_foreign(struct sql_ctx *c, json_t *b) PGS_MUSTCHECK;

/* sql_copy.c: a COPY statement and its options. */
int sql_copy_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b) PGS_MUSTCHECK;
int sql_copy_options(struct sql_ctx *c, json_t *options, struct sql_copy *cp) PGS_MUSTCHECK;

/* sql_prepare.c: PREPARE name AS ..., EXECUTE name(args). */
int sql_prepare_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b) PGS_MUSTCHECK;
int sql_execute_stmt(struct sql_ctx *c, struct sql_scope *parent, json_t *b) PGS_MUSTCHECK;
/* DEALLOCATE [ALL] and DISCARD: recorded in the plan's namespace changes. */
void sql_namespace_stmt(struct sql_ctx *c, const char *type, json_t *b);

/* sql_rename.c: RenameStmt, AlterObjectSchemaStmt (SET SCHEMA). SQL_NOT_MAPPED: not a rename
 * the analysis maps (the caller treats it as other DDL). */
#define SQL_NOT_MAPPED 1
int sql_rename_stmt(struct sql_ctx *c, json_t *b) PGS_MUSTCHECK;
int sql_move_stmt(struct sql_ctx *c, json_t *b) PGS_MUSTCHECK;

/* sql_analyze.c: the analysis of one text (its statements through sql_stmt, static there and
 * reached by the files below through ctx->stmt); first_out: the first statement's output
 * columns (a view's definition, sql_views.c). */
int sql_analyze_into(const struct schema *s, const struct sql_views *views, const char *sql,
                     size_t len, sql_prepared_lookup_fn lookup, void *lookup_arg,
                     struct sql_plan **out, struct sql_rel *first_out) PGS_MUSTCHECK;

#endif
