/* fle_internal.h - what the files of the encryption layer share (private to src/fle/):
 * statements, portals, expected answers, the layer's state, the action being built. */
#ifndef PGSEAL_FLE_INTERNAL_H
#define PGSEAL_FLE_INTERNAL_H

#include "codec/codec.h"
#include "fle/fle.h"
#include "proto/proto.h"
#include "schema/schema.h"
#include "sql/sql.h"

#define FLE_BYTEA_OID 17u
#define FLE_BYTEA_ARRAY_OID 1001u

/* A result layout: for each column of a RowDescription, the encrypted rule (or NULL)
 * and the wire format of its values. Refcounted: statements and portals share it. */
struct fle_layout {
	int refs;
	int ncols;
	bool any_encrypted;
	struct fle_col {
		const struct schema_column *col;
		int16_t format;
	} cols[];
};

/* A prepared statement of the session (named, or the unnamed one ""). */
struct fle_stmt {
	struct fle_stmt *next;
	int refs; /* the session's list, portals and pending Describes */
	char *name;
	struct sql_plan *plan; /* NULL when the statement touches nothing encrypted */
	bool owns_plan;        /* else the worker's plan cache owns it */
	uint32_t *param_oids;  /* the client's Parse parameter types */
	int nparam_oids;
	struct fle_layout *layout; /* from a Describe of the statement (formats all text) */
	/* its text is `EXECUTE other(...)`: the statements it was analysed against, checked
	 * again at each Bind and Execute (other may be redefined in between) */
	struct fle_dep {
		char *name;
		struct fle_stmt *stmt;
	} * deps;
	int ndeps;
	struct sql_prepared as_prepared; /* what an SQL EXECUTE's analysis sees (borrowed fields) */
};

struct fle_portal {
	struct fle_portal *next;
	int refs; /* the session's list and pending Describes/Executes */
	char *name;
	struct fle_stmt *stmt; /* its statement (a reference), whose Describe may come later */
	int16_t *formats;      /* Bind's result format codes */
	int nformats;
	struct fle_layout *layout; /* from a Describe of the portal */
};

enum fle_expect_kind {
	EX_PARSE = 1,
	EX_BIND,
	EX_DESCRIBE_STMT,
	EX_DESCRIBE_PORTAL,
	EX_EXECUTE,
	EX_CLOSE,
	EX_SYNC,
	EX_QUERY,
	EX_FUNCTION,
	EX_CATALOG,       /* pgseal's own catalog query: swallowed */
	EX_SWALLOW_PARSE, /* pgseal's own Parse of a refusal: its ParseComplete is dropped */
	EX_SWALLOW_BIND,  /* ... and the BindComplete of its Bind */
};

struct fle_expect {
	enum fle_expect_kind kind;
	char *name;                /* statement or portal */
	struct fle_stmt *stmt;     /* EX_DESCRIBE_STMT (a reference) */
	struct fle_portal *portal; /* EX_DESCRIBE_PORTAL, EX_EXECUTE (a reference) */
	struct fle_layout
	    *layout;           /* EX_EXECUTE: how its DataRows decode, resolved at the first row */
	bool refusal;          /* pgseal's DO block standing in for a refused message */
	struct sql_plan *plan; /* EX_QUERY: its plan, when pgseal owns it (for result columns) */
	bool owns_plan;
	bool hold_ready; /* EX_CATALOG: the ReadyForQuery before it waits for its answer */
	uint64_t
	    pending_upto; /* EX_CATALOG: pending view names numbered below were defined before it */
	uint64_t reg_upto; /* EX_CATALOG: the registry's last number when it was sent */
	bool failed;       /* EX_CATALOG: its answer had an error */
	int stmt_index;    /* EX_QUERY: statements of the text answered so far (the COPY match) */
	bool copy_plain;   /* EX_QUERY: the text names no encrypted table: its COPYs are plain */
	uint32_t nops;     /* its pending changes of the statement namespace (fle_prepared.c) */
};

struct fle_table_oid {
	uint32_t oid;
	const struct schema_table *table;
	int nattr;
	struct {
		int16_t attnum;
		const struct schema_column *col;
	} * attrs;
};

/* The client's side of a COPY FROM STDIN. */
enum fle_copy_in {
	FLE_COPY_NONE = 0, /* no COPY FROM known to run */
	FLE_COPY_PLAIN,    /* a COPY of a plain table: its data streams through */
	FLE_COPY_ENCRYPT,  /* a COPY of an encrypted table: rows re-encoded */
	FLE_COPY_DRAIN,    /* the server's COPY ended (error, pgseal's CopyFail): rows dropped */
};

/* A session's encryption layer (fle_new). */
struct fle {
	/* from outside (struct fle_config) */
	uint64_t id;
	const struct schema *schema;
	struct keys_worker *kw;
	struct fle_plan_cache *plans;
	uint32_t max_message_size;
	const char *(*param)(void *arg, const char *name);
	void *param_arg;
	/* the message being read and the action being built (set by each entry point) */
	struct fle_action *act;
	struct pgs_buf *to_server; /* act->fwd for a client message, act->back for a server's */
	uint8_t msg_type;
	const uint8_t *msg_body;
	uint32_t msg_blen;

	struct fle_stmt *stmts;
	struct fle_portal *portals;
	struct fle_expect *fifo; /* ring of expected responses */
	uint32_t fifo_head, fifo_len, fifo_cap;
	struct fle_layout *query_layout; /* the last RowDescription of a simple query */
	bool skip_to_sync;     /* an extended message was refused or failed: drop until Sync */
	bool at_sync_boundary; /* the last client message was Sync or Query (or none yet) */
	/* catalog: table OIDs of encrypted tables in this database */
	struct fle_table_oid *oids;
	int noids;
	bool catalog_loaded;
	bool catalog_stale;
	/* views over encrypted tables (fle_views.c): the set in use, the one the catalog
	 * answer in flight builds, the view being read, and the names of views defined by
	 * statements sent but not yet in the set (texts naming them are refused meanwhile) */
	struct sql_views *views;
	struct sql_views *views_loading;
	struct fle_view_row *view_row;
	char **pending_views;
	size_t npending_views;
	uint64_t pending_first;   /* sequence number of pending_views[0] */
	uint64_t views_seen;      /* the registry's views (fle_views.c) up to this one are loaded */
	uint64_t views_requested; /* ... or asked for */
	bool views_unconfirmed;   /* this session registered views not yet known committed */
	bool refresh_at_sync;  /* an extended-protocol statement defined a view: reload at Sync */
	bool hold_first_ready; /* the first ReadyForQuery waits for the catalog */
	uint8_t held_status;
	char client_id[65]; /* mTLS client id (keys_client_id_x509), "" without one */
	/* the one namespace of prepared statements (fle_prepared.c): stmts holds what PostgreSQL
	 * confirmed, ops the changes sent and not yet answered, in the order sent */
	struct fle_prep_op *ops, *ops_tail;
	uint64_t batch;       /* Syncs sent: an extended message's batch */
	struct fle_dep *deps; /* statements an analysis looked up (fle_prepared.c) */
	int ndeps;
	struct sql_prepared refusing; /* lookup answer for a name that cannot be resolved */
	char refusal[320];
	/* COPY (fle_copy.c): the sub-protocol in progress, matched to its statement */
	enum fle_copy_in copy_in; /* the client's side of a COPY FROM */
	bool copy_out;            /* a COPY TO of encrypted data: its rows are decrypted */
	struct sql_copy copy;     /* that COPY's description (a copy, freed with the state) */
	bool
	    drop_until_complete; /* a row failed to decrypt: drop the rest of this command's rows */
	struct pgs_buf copy_line;        /* a partial row carried between CopyData messages */
	struct pgs_buf row_raw, row_out; /* a DataRow's value: record, plaintext (fle_read.c) */
	struct pgs_buf value_pt;         /* a decrypted value before its formatting (fle_value.c) */
	size_t copy_scanned;             /* how much of copy_line was searched for a row end */
	bool copy_inq;                   /* CSV: that search ended inside quotes */
	bool copy_header_pending;
	bool copy_eod;          /* the end marker \. was seen: the rest of the data is ignored */
	uint64_t copy_lineno;   /* lines of the COPY's data read (for error messages) */
	bool copy_out_failed;   /* a row out failed to decrypt: the rest of the COPY is dropped */
	bool copy_fail_pending; /* pgseal sent CopyFail: the server's answer is replaced by: */
	char copy_fail_state[6];
	char copy_fail_msg[256];
	bool client_held; /* a client COPY message waits for the server's answer */
};

/* ---- the action being built (fle.c) ----------------------------------------------------
 * Every entry point resets f->act and points f->to_server at the buffer that goes upstream.
 * The default verdict is FLE_PASS; what is appended to act->fwd goes ahead of the message
 * (PASS) or in its place (FLE_REPLACE). */
static inline struct pgs_buf *fle_fwd(struct fle *f)
{
	return &f->act->fwd;
}
/* The message is dropped (what fwd holds goes in its place). */
static inline void fle_drop(struct fle *f)
{
	f->act->verdict = FLE_REPLACE;
}
/* Points the layer at a message (from the client or the server) and the action it answers
 * with (reset). */
void fle_begin(struct fle *f, struct fle_action *act, uint8_t type, const uint8_t *body,
               uint32_t blen, bool from_client);
/* Ends the session with sqlstate/msg; returns PGS_ERR. */
int fle_fail(struct fle *f, const char *sqlstate, const char *msg);
/* Appends the message being read, unchanged, to fwd and makes the verdict FLE_REPLACE: what
 * is appended afterwards follows it. */
void fle_put_current(struct fle *f);
/* A number in a catalog row (text from the server), in [min, max]; PGS_ERR otherwise
 * (fle_views.c). */
int fle_catalog_number(const char *text, long min, long max, long *out) PGS_MUSTCHECK;

/* fle.c: bookkeeping shared with fle_write.c. */
struct fle_expect *fle_push(struct fle *f, enum fle_expect_kind kind, const char *name);
struct fle_expect *fle_head(struct fle *f);
void fle_pop(struct fle *f);
/* A new statement, not yet in the namespace (one reference, the caller's). */
struct fle_stmt *fle_stmt_new(const char *name);
struct fle_portal *fle_portal_find(struct fle *f, const char *name);
struct fle_portal *fle_portal_add(struct fle *f, const char *name);
void fle_portal_remove(struct fle *f, const char *name);
struct fle_layout *fle_portal_layout(struct fle_portal *p);
struct fle_stmt *fle_stmt_ref(struct fle_stmt *st);
void fle_stmt_unref(struct fle_stmt *st);
struct fle_portal *fle_portal_ref(struct fle_portal *p);
void fle_portal_unref(struct fle_portal *p);
struct fle_layout *fle_layout_ref(struct fle_layout *l);
void fle_layout_unref(struct fle_layout *l);
const struct schema_column *fle_catalog_column(struct fle *f, uint32_t table_oid, int16_t attnum);
/* Appends pgseal's catalog query to what goes upstream now (f->to_server). */
void fle_catalog_request(struct fle *f);
/* The same right after the statement just sent, whose ReadyForQuery waits for the answer
 * (a view was defined: nothing may be analysed without it). */
void fle_catalog_refresh(struct fle *f);
void fle_catalog_row(struct fle *f, const uint8_t *body, uint32_t blen);
/* fle_plan.c: the plan of a text from the worker's cache, analysed once per worker and lexing
 * settings. *owned: the caller must free it (not cached). NULL on out of memory. */
struct sql_plan *fle_plan_get(struct fle *f, const char *text, size_t len,
                              const struct sql_lex *lex, bool *owned);

/* fle_prepared.c: the session's one namespace of prepared statements. SQL PREPARE/EXECUTE/
 * DEALLOCATE and the protocol's Parse/Bind/Close share it, as in PostgreSQL. A change is
 * recorded with the expected answer of the message that makes it (e, the entry just pushed)
 * and applied when PostgreSQL confirms it (ParseComplete, CloseComplete, the statement's
 * CommandComplete); an ErrorResponse rolls it back. */
void fle_prepared_define(struct fle *f, struct fle_expect *e, struct fle_stmt *st, bool extended);
void fle_prepared_close(struct fle *f, struct fle_expect *e, const char *name);
/* The PREPARE / DEALLOCATE / DISCARD ALL statements of a plan sent by Query or Execute. */
void fle_prepared_plan(struct fle *f, struct fle_expect *e, const struct sql_plan *plan,
                       bool extended);
/* A simple Query drops the unnamed statement (PostgreSQL does, whatever the query). */
void fle_prepared_query_sent(struct fle *f);
/* A Sync was sent: a new extended batch. */
void fle_prepared_sync(struct fle *f);
/* The CommandComplete tag of a statement of e's Query: confirms its change. */
void fle_prepared_complete(struct fle *f, struct fle_expect *e, const char *tag);
/* e is answered: its remaining changes are applied (ok) or rolled back. */
void fle_prepared_settle(struct fle *f, struct fle_expect *e, bool ok);
void fle_prepared_free(struct fle *f);

enum fle_resolve {
	FLE_STMT_UNKNOWN = 0, /* not in the namespace, nor defined by a change in flight */
	FLE_STMT_KNOWN,       /* *out encrypts as whichever definition the server will run */
	FLE_STMT_AMBIGUOUS,   /* definitions in flight that encrypt differently */
};
/*
 * The statement a message sent now would run. Within one extended batch, a change sent by an
 * earlier Parse/Close/Execute of the batch is taken as done: if it fails, PostgreSQL skips the
 * rest of the batch. Any other unanswered change (an earlier batch, a simple Query) may still
 * fail, so both the definition before it and after it may run; pgseal uses the newest only
 * when every candidate encrypts the same parameters the same way (an undefined candidate is
 * harmless: the server refuses to run it). *out is set for KNOWN and AMBIGUOUS (newest).
 */
enum fle_resolve fle_prepared_resolve(struct fle *f, const char *name, struct fle_stmt **out);
/* sql_prepared_lookup_fn for the analysis of a text sent now (arg: the fle); records the
 * statements looked up in f->deps. */
const struct sql_prepared *fle_prepared_lookup(void *arg, const char *name);
/* Moves the recorded lookups into st (a Parse of `EXECUTE other(...)`), or drops them. */
void fle_prepared_take_deps(struct fle *f, struct fle_stmt *st);
/* A statement's EXECUTE targets still resolve to what it was analysed against; else false
 * with a refusal message naming the statements. */
bool fle_prepared_deps_ok(struct fle *f, const struct fle_stmt *st, char *msg, size_t cap);
/* Whether a text may PREPARE, EXECUTE, DEALLOCATE or DISCARD (it needs the analysis), or
 * EXECUTE (it needs the namespace): the keyword as a word, any case. */
bool fle_prepared_mentioned(const char *text, size_t len);
bool fle_prepared_may_execute(const char *text, size_t len);
/* Both statements encrypt the same parameters the same way (NULL: nothing encrypted). */
bool fle_prepared_same(const struct fle_stmt *a, const struct fle_stmt *b);

/* fle_views.c: views over encrypted tables, learned with the catalog. */
void fle_views_query(struct pgs_buf *b, const struct schema *sc);
void fle_views_row(struct fle *f, const uint8_t *body, uint32_t blen);
/* The catalog answer is in (status: its ReadyForQuery's): its views replace the set; pending
 * names numbered below upto (defined before the request was sent) are no longer pending, and
 * the registry up to reg_upto is known when the query ran outside a transaction block (a
 * transaction's snapshot may predate a view). A failed answer changes nothing but asks for a
 * reload at the next boundary. */
void fle_views_finish(struct fle *f, uint64_t upto, uint64_t reg_upto, bool failed, uint8_t status);
/* The last number of the process-wide registry of views defined through pgseal. */
uint64_t fle_views_latest(void);
/* The session's view definitions are committed (ReadyForQuery 'I'): other sessions learn them. */
void fle_views_confirm(struct fle *f);
void fle_views_free(struct fle *f);
void fle_views_defined(struct fle *f, const struct sql_plan *plan);
/* A view defined (by this or another session) but not yet loaded that the text may name:
 * true, its name in name. */
bool fle_views_pending(const struct fle *f, const char *text, size_t len, char *name, size_t cap);

/* The session's last ParameterStatus value of a setting, or NULL. */
static inline const char *fle_param(const struct fle *f, const char *name)
{
	return f->param ? f->param(f->param_arg, name) : NULL;
}

/* fle_lex.c: the server's lexing settings for the session's next text (ParameterStatus). */
/* boundary: the text starts a batch (a Query, or the first message after a Sync). */
void fle_lex_state(const struct fle *f, bool boundary, struct sql_lex *out);
/* The session's standard_conforming_strings is off (as last reported). */
bool fle_lex_scs_off(const struct fle *f);
/* True (with a message naming client_encoding, never a value) when a text that may name an
 * encrypted table must be refused for the session's client_encoding: a client-only encoding
 * (SJIS, BIG5, GBK, UHC, GB18030, JOHAB, SHIFT_JIS_2004) is in force, or one may be coming
 * (lex not settled) and the text has a non-ASCII byte followed by one in 0x30-0x7E. */
bool fle_lex_encoding_refusal(const struct fle *f, const char *text, size_t len,
                              const struct sql_lex *lex, char *msg, size_t cap);
/* A string literal that reads the same under both settings of standard_conforming_strings. */
void fle_put_literal(struct pgs_buf *b, const char *s);

/* fle_copy_rows.c: COPY rows. */
/* One COPY row split into its unescaped fields: field i is vals[off[i], off[i] + len[i]). */
struct fle_copy_fields {
	size_t n;
	size_t off[1600]; /* PostgreSQL's column limit */
	size_t len[1600];
	bool null[1600];
	struct pgs_buf vals;
};
/* Splits a row (without its newline) in the COPY's format; PGS_ERR when malformed
 * (unterminated quote, too many fields). The caller frees f->vals. */
int fle_copy_split(const struct sql_copy *cp, const uint8_t *row, size_t len,
                   struct fle_copy_fields *f) PGS_MUSTCHECK;
/* Searches p[*pos, len) for the newline ending a row, skipping escaped and quoted ones;
 * true with *pos at it, or false with *pos where the search can resume once more bytes
 * arrive. *inq carries the CSV quote state between calls. */
bool fle_copy_row_end(const struct sql_copy *cp, const uint8_t *p, size_t len, size_t *pos,
                      bool *inq);
/* The data ended after p[0, len) with no newline, the row-end search stopped at scanned with
 * quote state inq: why that last row is malformed (a reason without a value), or NULL when it
 * is a row. */
const char *fle_copy_tail_malformed(const struct sql_copy *cp, size_t len, size_t scanned,
                                    bool inq);
/* Why a row failed: SQLSTATE and a message naming columns and line numbers, never a value. */
struct fle_copy_err {
	char state[6];
	char msg[256];
};
/* Re-encodes one row (without its newline) of line number line: in = FROM (encrypt), else TO
 * (decrypt). Appends the row and its newline to o. */
int fle_copy_row(struct fle *f, const struct sql_copy *cp, const uint8_t *row, size_t len, bool in,
                 uint64_t line, struct pgs_buf *o, struct fle_copy_err *e) PGS_MUSTCHECK;
/* fle_copy.c: the sub-protocol. A CopyIn/Out/BothResponse of the server: paired with its
 * statement, passed or (fail closed) dropped with a CopyFail upstream. */
int fle_copy_response(struct fle *f, uint8_t type, const uint8_t *body,
                      uint32_t blen) PGS_MUSTCHECK;
/* The server's COPY is over: CommandComplete, ErrorResponse or ReadyForQuery (type). */
void fle_copy_server_end(struct fle *f, uint8_t type);
/* An ErrorResponse: when it answers pgseal's CopyFail, it is replaced by pgseal's error (true). */
bool fle_copy_error(struct fle *f, const uint8_t *body, uint32_t blen);
/* The client's CopyData, CopyDone, CopyFail: passed, re-encoded, dropped, or held (FLE_HOLD:
 * left where it is until the server answered). */
int fle_copy_client(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen) PGS_MUSTCHECK;
/* Any other client message: it may end the client's COPY stream. */
void fle_copy_client_other(struct fle *f, uint8_t type);
/* A Sync now is read and ignored by the server's COPY FROM (no ReadyForQuery answers it). */
bool fle_copy_sync_swallowed(const struct fle *f);
int fle_copy_out_data(struct fle *f, const uint8_t *body, uint32_t blen) PGS_MUSTCHECK;
void fle_copy_free(struct fle *f);

/* fle_value.c: one value through the keys. */
int fle_encrypt_value(struct fle *f, const struct schema_column *col, enum sql_value_mode mode,
                      uint32_t wire_oid, int format, const uint8_t *in, size_t len,
                      struct pgs_buf *out, char *err, size_t errlen) PGS_MUSTCHECK;
/* Decrypts a stored record into col's wire form; handles response_on_fail. *is_null is
 * set when the answer is NULL. Returns PGS_ERR when the reader must get an error. */
int fle_decrypt_value(struct fle *f, const struct schema_column *col, int format,
                      const uint8_t *rec, size_t len, struct pgs_buf *out, bool *is_null, char *err,
                      size_t errlen) PGS_MUSTCHECK;
/* An array parameter of `col = ANY($n)` (text '{a,b}' or binary) -> a binary bytea[] whose
 * elements are each BLIND. */
int fle_encrypt_array(struct fle *f, const struct sql_param *pp, uint32_t elem_oid, int format,
                      const uint8_t *in, size_t len, struct pgs_buf *out, char *err,
                      size_t errlen) PGS_MUSTCHECK;
/* bytea text forms (hex \x.. and escape) -> bytes. */
int fle_bytea_text_decode(const uint8_t *in, size_t len, struct pgs_buf *out) PGS_MUSTCHECK;
/* sql_encrypt_fn for sql_plan_render. */
int fle_render_literal(void *arg, const struct schema_column *col, enum sql_value_mode mode,
                       const char *value, size_t len, char **out, char *err, size_t errlen);

#endif
