/* fle_prepared.c - the session's one namespace of prepared statements (SQL PREPARE and protocol
 * Parse), changed only when PostgreSQL confirms. */
#include "fle/fle_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * PostgreSQL keeps one namespace of named statements per session: SQL PREPARE, EXECUTE and
 * DEALLOCATE and the protocol's Parse, Bind and Close all name the same statements (the
 * unnamed one "" is protocol-only). pgseal must know, for the statement a Bind or an SQL
 * EXECUTE will run, which parameters to encrypt; a wrong guess sends plaintext. So:
 *  - f->stmts holds only what PostgreSQL confirmed (ParseComplete, CommandComplete
 *    PREPARE); a Parse it rejects (42P05, a syntax error) never replaces the old definition;
 *  - a change sent is a pending op, queued with the expected answer of its message, applied
 *    at that answer and dropped at an ErrorResponse;
 *  - a message sent while changes are pending resolves its statement against every
 *    definition that may be in force when it runs (fle_prepared_resolve).
 */

enum op_kind { OP_DEFINE = 1, OP_REMOVE, OP_REMOVE_ALL };

struct fle_prep_op {
	struct fle_prep_op *next, *prev;
	enum op_kind kind;
	char *name;            /* OP_DEFINE, OP_REMOVE */
	struct fle_stmt *stmt; /* OP_DEFINE: the new definition (a reference) */
	const char *tag;       /* sent in a Query: the CommandComplete tag that confirms it */
	bool extended; /* sent by Parse/Close/Execute: its error skips the rest of the batch */
	uint64_t batch;
	bool voided; /* an unnamed statement dropped since by a simple Query */
};

/* ---- the confirmed namespace ---------------------------------------------------------- */

static struct fle_stmt *confirmed(struct fle *f, const char *name)
{
	for (struct fle_stmt *st = f->stmts; st; st = st->next)
		if (strcmp(st->name, name) == 0)
			return st;
	return NULL;
}

static void forget(struct fle *f, const char *name)
{
	for (struct fle_stmt **pp = &f->stmts; *pp;) {
		struct fle_stmt *st = *pp;
		/* DEALLOCATE ALL / DISCARD ALL (name NULL) leave the unnamed statement alone */
		if (name ? strcmp(st->name, name) == 0 : st->name[0] != 0) {
			*pp = st->next;
			st->next = NULL;
			fle_stmt_unref(st);
		} else {
			pp = &st->next;
		}
	}
}

static void apply(struct fle *f, struct fle_prep_op *op)
{
	if (op->voided)
		return;
	switch (op->kind) {
	case OP_DEFINE:
		forget(f, op->name);
		op->stmt->next = f->stmts;
		f->stmts = fle_stmt_ref(op->stmt);
		break;
	case OP_REMOVE:
		forget(f, op->name);
		break;
	case OP_REMOVE_ALL:
		forget(f, NULL);
		break;
	}
}

/* ---- pending changes ------------------------------------------------------------------ */

static void op_free(struct fle_prep_op *op)
{
	free(op->name);
	fle_stmt_unref(op->stmt);
	free(op);
}

static struct fle_prep_op *op_add(struct fle *f, struct fle_expect *e, enum op_kind kind,
                                  const char *name, bool extended)
{
	struct fle *s = f;
	struct fle_prep_op *op = pgs_xcalloc(1, sizeof(*op));
	op->kind = kind;
	op->name = name ? pgs_xstrdup(name) : NULL;
	op->extended = extended;
	op->batch = s->batch;
	op->prev = s->ops_tail;
	if (s->ops_tail)
		s->ops_tail->next = op;
	else
		s->ops = op;
	s->ops_tail = op;
	e->nops++;
	return op;
}

/* The oldest pending op, which belongs to the oldest unanswered message that has any. */
static struct fle_prep_op *op_pop(struct fle *f)
{
	struct fle *s = f;
	struct fle_prep_op *op = s->ops;
	if (!op)
		return NULL;
	s->ops = op->next;
	if (s->ops)
		s->ops->prev = NULL;
	else
		s->ops_tail = NULL;
	return op;
}

void fle_prepared_define(struct fle *f, struct fle_expect *e, struct fle_stmt *st, bool extended)
{
	struct fle_prep_op *op = op_add(f, e, OP_DEFINE, st->name, extended);
	op->stmt = st;
}

void fle_prepared_close(struct fle *f, struct fle_expect *e, const char *name)
{
	(void)op_add(f, e, OP_REMOVE, name, true);
}

void fle_prepared_plan(struct fle *f, struct fle_expect *e, const struct sql_plan *plan,
                       bool extended)
{
	for (size_t i = 0; plan && i < plan->nnsops; i++) {
		const struct sql_ns_op *n = &plan->nsops[i];
		struct fle_prep_op *op;
		switch (n->kind) {
		case SQL_NS_PREPARE: {
			const struct sql_prepared *p = &plan->prepared[n->index];
			struct fle_stmt *st = fle_stmt_new(p->name);
			st->plan = sql_plan_of_prepared(p);
			st->owns_plan = true;
			op = op_add(f, e, OP_DEFINE, p->name, extended);
			op->stmt = st;
			op->tag = "PREPARE";
			break;
		}
		case SQL_NS_DEALLOCATE:
			op = op_add(f, e, OP_REMOVE, n->name, extended);
			op->tag = "DEALLOCATE";
			break;
		case SQL_NS_DEALLOCATE_ALL:
			op = op_add(f, e, OP_REMOVE_ALL, NULL, extended);
			op->tag = "DEALLOCATE ALL";
			break;
		case SQL_NS_DISCARD_ALL:
			op = op_add(f, e, OP_REMOVE_ALL, NULL, extended);
			op->tag = "DISCARD ALL";
			break;
		}
	}
}

void fle_prepared_query_sent(struct fle *f)
{
	/* exec_simple_query drops the unnamed statement first, whether the query succeeds or
	 * not; a Parse of "" still unanswered is overtaken by it */
	forget(f, "");
	for (struct fle_prep_op *op = f->ops; op; op = op->next)
		if (op->name && op->name[0] == 0)
			op->voided = true;
}

void fle_prepared_sync(struct fle *f)
{
	f->batch++;
}

void fle_prepared_complete(struct fle *f, struct fle_expect *e, const char *tag)
{
	/* the statements of a Query run in order and each change has its own statement: the
	 * oldest pending change of e is the only one this statement can confirm */
	struct fle_prep_op *op = f->ops;
	if (!e->nops || !op || !op->tag || strcmp(op->tag, tag) != 0)
		return;
	op_pop(f);
	e->nops--;
	apply(f, op);
	op_free(op);
}

void fle_prepared_settle(struct fle *f, struct fle_expect *e, bool ok)
{
	for (; e->nops; e->nops--) {
		struct fle_prep_op *op = op_pop(f);
		if (!op)
			break;
		if (ok)
			apply(f, op);
		op_free(op);
	}
	e->nops = 0;
}

void fle_prepared_free(struct fle *f)
{
	struct fle *s = f;
	while (s->ops)
		op_free(op_pop(f));
	for (int i = 0; i < s->ndeps; i++) {
		free(s->deps[i].name);
		fle_stmt_unref(s->deps[i].stmt);
	}
	free(s->deps);
	s->deps = NULL;
	s->ndeps = 0;
}

/* ---- resolution ----------------------------------------------------------------------- */

/* st NULL (no statement) has no wire types: covered() reaches here only with a statement that has
 * the parameter, but the guard keeps that visibly true. */
static uint32_t wire_oid(const struct fle_stmt *st, int number)
{
	return st && number >= 1 && number <= st->nparam_oids && st->param_oids
	           ? st->param_oids[number - 1]
	           : 0;
}

static const struct sql_param *param_of(const struct fle_stmt *st, int number)
{
	for (size_t i = 0; st && st->plan && i < st->plan->nparams; i++)
		if (st->plan->params[i].number == number)
			return &st->plan->params[i];
	return NULL;
}

/* Every encrypted parameter of a is one of b, encrypted for the same column the same way,
 * its client value read as the same type. */
static bool covered(const struct fle_stmt *a, const struct fle_stmt *b)
{
	for (size_t i = 0; a && a->plan && i < a->plan->nparams; i++) {
		const struct sql_param *p = &a->plan->params[i], *q = param_of(b, p->number);
		if (!q || q->column != p->column || q->mode != p->mode || q->array != p->array ||
		    wire_oid(a, p->number) != wire_oid(b, p->number))
			return false;
	}
	return true;
}

bool fle_prepared_same(const struct fle_stmt *a, const struct fle_stmt *b)
{
	if (a == b)
		return true;
	/* an EXECUTE wrapper encrypts for its targets as they were: never assumed equal */
	if ((a && a->ndeps) || (b && b->ndeps))
		return false;
	return covered(a, b) && covered(b, a);
}

struct cands {
	struct fle_stmt *stack[16], **v;
	size_t n, cap;
};

static void cands_push(struct cands *k, struct fle_stmt *st)
{
	if (k->n == k->cap) {
		/* an array of pointers: sizeof(*bigger) is a pointer's size, as meant */
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		struct fle_stmt **bigger = pgs_xmalloc(2 * k->cap * sizeof(*bigger));
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		memcpy(bigger, k->v, k->n * sizeof(*bigger));
		if (k->v != k->stack)
			free(k->v);
		k->v = bigger;
		k->cap *= 2;
	}
	k->v[k->n++] = st;
}

enum fle_resolve fle_prepared_resolve(struct fle *f, const char *name, struct fle_stmt **out)
{
	/* the candidates, newest first: NULL (undefined) or a definition. Walked from the newest
	 * change back, so a pipelined Parse/Bind pair costs one step however long the pipeline */
	struct cands k = {.n = 0, .cap = 16};
	k.v = k.stack;
	bool certain = false;
	for (struct fle_prep_op *op = f->ops_tail; op && !certain; op = op->prev) {
		if (op->voided)
			continue;
		if (op->kind == OP_REMOVE_ALL ? name[0] == 0 : strcmp(op->name, name) != 0)
			continue;
		cands_push(&k, op->kind == OP_DEFINE ? op->stmt : NULL);
		/* if it fails, this message is skipped with the rest of the batch: older
		 * definitions cannot run */
		certain = op->extended && op->batch == f->batch;
	}
	if (!certain)
		cands_push(&k, confirmed(f, name));
	struct fle_stmt *newest = NULL;
	for (size_t i = 0; i < k.n && !newest; i++)
		newest = k.v[i];
	enum fle_resolve rc = newest ? FLE_STMT_KNOWN : FLE_STMT_UNKNOWN;
	for (size_t i = 0; i < k.n && rc == FLE_STMT_KNOWN; i++)
		if (k.v[i] && !fle_prepared_same(k.v[i], newest))
			rc = FLE_STMT_AMBIGUOUS;
	if (k.v != k.stack)
		free(k.v);
	*out = newest;
	return rc;
}

static void deps_add(struct fle_dep **deps, int *n, const char *name, struct fle_stmt *st)
{
	*deps = pgs_xrealloc(*deps, (size_t)(*n + 1) * sizeof(**deps));
	(*deps)[*n].name = pgs_xstrdup(name);
	(*deps)[*n].stmt = fle_stmt_ref(st);
	(*n)++;
}

const struct sql_prepared *fle_prepared_lookup(void *arg, const char *name)
{
	struct fle *f = arg;
	struct fle *s = f;
	struct fle_stmt *st = NULL;
	switch (fle_prepared_resolve(f, name, &st)) {
	case FLE_STMT_UNKNOWN:
		return NULL;
	case FLE_STMT_AMBIGUOUS:
		(void)snprintf(
		    s->refusal, sizeof(s->refusal),
		    "prepared statement \"%s\" is being redefined and PostgreSQL has not "
		    "confirmed which definition holds; pgseal cannot tell which arguments "
		    "are encrypted: send it again once the PREPARE or Parse completed",
		    name);
		memset(&s->refusing, 0, sizeof(s->refusing));
		s->refusing.refusal = s->refusal;
		return &s->refusing;
	case FLE_STMT_KNOWN:
		break;
	}
	deps_add(&s->deps, &s->ndeps, name, st);
	st->as_prepared.name = st->name;
	st->as_prepared.nparams = st->plan ? st->plan->nparams : 0;
	st->as_prepared.params = st->plan ? st->plan->params : NULL;
	st->as_prepared.refusal = NULL;
	return &st->as_prepared;
}

void fle_prepared_take_deps(struct fle *f, struct fle_stmt *st)
{
	struct fle *s = f;
	for (int i = 0; i < s->ndeps; i++) {
		if (st)
			deps_add(&st->deps, &st->ndeps, s->deps[i].name, s->deps[i].stmt);
		free(s->deps[i].name);
		fle_stmt_unref(s->deps[i].stmt);
	}
	free(s->deps);
	s->deps = NULL;
	s->ndeps = 0;
}

bool fle_prepared_deps_ok(struct fle *f, const struct fle_stmt *st, char *msg, size_t cap)
{
	for (int i = 0; st && i < st->ndeps; i++) {
		struct fle_stmt *now = NULL;
		if (fle_prepared_resolve(f, st->deps[i].name, &now) == FLE_STMT_KNOWN &&
		    fle_prepared_same(now, st->deps[i].stmt))
			continue;
		(void)snprintf(
		    msg, cap,
		    "prepared statement \"%s\" runs EXECUTE of \"%s\", which was redefined or "
		    "deallocated since; pgseal cannot tell which arguments are encrypted: "
		    "prepare \"%s\" again",
		    st->name, st->deps[i].name, st->name);
		return false;
	}
	return true;
}

/* An SQL keyword in a text, any case, not the end of a longer identifier (after a letter, '_' or
 * a non-ASCII byte) nor its start (before one of those, a digit or '$'): sql_scan_mentions, the
 * text's one scan. A keyword cannot be quoted or escaped, so a statement using it spells it so;
 * a false hit only costs an analysis, a miss would relay an EXECUTE unchanged. */
bool fle_prepared_may_execute(const char *text, size_t len)
{
	struct sql_mentions m;
	sql_scan_mentions(NULL, NULL, text, len, &m);
	return m.execute;
}

bool fle_prepared_mentioned(const char *text, size_t len)
{
	struct sql_mentions m;
	sql_scan_mentions(NULL, NULL, text, len, &m);
	return m.prepared;
}
