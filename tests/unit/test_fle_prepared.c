/* test_fle_prepared.c - the session's namespace of prepared statements: changes applied when
 * PostgreSQL confirms, rolled back on errors, statements in flight resolved or refused. */
#include <stdlib.h>
#include <string.h>

#include "fle/fle_internal.h"
#include "prepared_model.h"
#include "testlib.h"

/* two encrypted columns: only their identity matters here */
static struct schema_column email, name;

static struct fle *new_conn(void)
{
	struct fle *c = calloc(1, sizeof(*c));
	c->at_sync_boundary = true;
	return c;
}

static void free_conn(struct fle *c)
{
	fle_free(c);
}

/* A statement whose $number is encrypted for col (col NULL: nothing encrypted). */
static struct fle_stmt *stmt(const char *nm, int number, struct schema_column *col, uint32_t oid)
{
	struct fle_stmt *st = fle_stmt_new(nm);
	if (!col)
		return st;
	struct sql_prepared p = {.name = (char *)nm, .nparams = 1};
	struct sql_param prm = {.number = number, .column = col, .mode = SQL_VALUE_RECORD};
	p.params = &prm;
	st->plan = sql_plan_of_prepared(&p);
	st->owns_plan = true;
	st->nparam_oids = number;
	st->param_oids = calloc((size_t)number, sizeof(uint32_t));
	st->param_oids[number - 1] = oid;
	return st;
}

static const struct sql_param *param1(struct fle_stmt *st)
{
	return st && st->plan && st->plan->nparams ? &st->plan->params[0] : NULL;
}

static void parse(struct fle *c, struct fle_stmt *st)
{
	fle_prepared_define(c, fle_push(c, EX_PARSE, NULL), st, true);
}

static void sync_(struct fle *c)
{
	fle_push(c, EX_SYNC, NULL);
	fle_prepared_sync(c);
}

/* The server's answer to the head message: ok (ParseComplete...) or an ErrorResponse, which
 * skips the rest of the batch. */
static void answer(struct fle *c, bool ok)
{
	struct fle_expect *e = fle_head(c);
	if (ok) {
		fle_pop(c);
		return;
	}
	while ((e = fle_head(c)) && e->kind != EX_SYNC && e->kind != EX_QUERY) {
		fle_prepared_settle(c, e, false);
		fle_pop(c);
	}
}

static enum fle_resolve resolve(struct fle *c, const char *nm, struct fle_stmt **out)
{
	struct fle_stmt *st = NULL;
	enum fle_resolve r = fle_prepared_resolve(c, nm, &st);
	if (out)
		*out = st;
	return r;
}

static void test_parse_confirmed_or_rolled_back(void)
{
	struct fle *c = new_conn();
	struct fle_stmt *a = stmt("s", 2, &email, 25), *b = stmt("s", 2, NULL, 0), *got;
	CHECK(resolve(c, "s", NULL) == FLE_STMT_UNKNOWN);
	parse(c, a);
	/* a Bind in the same batch: if the Parse fails it is skipped */
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got == a);
	sync_(c);
	/* after the Sync: undefined or a; undefined cannot run */
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got == a);
	answer(c, true); /* ParseComplete */
	answer(c, true); /* ReadyForQuery */
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got == a);

	/* 42P05: a second Parse of s, rejected */
	parse(c, b);
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got == b);
	sync_(c);
	/* after a Sync, a and b may run and encrypt differently */
	CHECK(resolve(c, "s", &got) == FLE_STMT_AMBIGUOUS);
	answer(c, false);
	answer(c, true);
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got == a);

	/* a redefinition that encrypts the same way is not ambiguous; another type is */
	parse(c, stmt("s", 2, &email, 25));
	sync_(c);
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got != a);
	answer(c, false);
	answer(c, true);
	parse(c, stmt("s", 2, &email, 20));
	sync_(c);
	CHECK(resolve(c, "s", NULL) == FLE_STMT_AMBIGUOUS);
	parse(c, stmt("s", 2, &name, 25));
	CHECK(resolve(c, "s", NULL) == FLE_STMT_KNOWN); /* same batch as the last Parse */
	sync_(c);
	CHECK(resolve(c, "s", NULL) == FLE_STMT_AMBIGUOUS);
	answer(c, false);
	answer(c, true);
	answer(c, false);
	answer(c, true);
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got == a);
	free_conn(c);
}

/* Many unanswered redefinitions (more than the resolver's first array holds). */
static void test_many_in_flight(void)
{
	struct fle *c = new_conn();
	struct fle_stmt *got;
	for (int i = 0; i < 40; i++) {
		parse(c, stmt("m", 1, &email, 25));
		sync_(c);
	}
	CHECK(resolve(c, "m", &got) == FLE_STMT_KNOWN && got);
	parse(c, stmt("m", 1, &name, 25));
	CHECK(resolve(c, "m", NULL) == FLE_STMT_KNOWN);
	sync_(c);
	CHECK(resolve(c, "m", NULL) == FLE_STMT_AMBIGUOUS);
	for (int i = 0; i < 41; i++) {
		answer(c, i == 0);
		answer(c, true);
	}
	CHECK(resolve(c, "m", &got) == FLE_STMT_KNOWN && param1(got) &&
	      param1(got)->column == &email);
	free_conn(c);
}

static void test_close_and_unnamed(void)
{
	struct fle *c = new_conn();
	struct fle_stmt *got;
	parse(c, stmt("s", 1, &email, 0));
	parse(c, stmt("", 1, &name, 0));
	sync_(c);
	answer(c, true);
	answer(c, true);
	answer(c, true);
	CHECK(resolve(c, "", NULL) == FLE_STMT_KNOWN);
	/* Close: the statement stays until CloseComplete, but a later message of the batch
	 * takes it as gone */
	fle_prepared_close(c, fle_push(c, EX_CLOSE, NULL), "s");
	CHECK(resolve(c, "s", NULL) == FLE_STMT_UNKNOWN);
	sync_(c);
	CHECK(resolve(c, "s", &got) == FLE_STMT_KNOWN && got); /* undefined or the old one */
	answer(c, true);
	answer(c, true);
	CHECK(resolve(c, "s", NULL) == FLE_STMT_UNKNOWN);
	/* a simple Query drops the unnamed statement, even one whose Parse is unanswered */
	parse(c, stmt("", 1, &email, 0));
	fle_push(c, EX_QUERY, NULL);
	CHECK(resolve(c, "", NULL) == FLE_STMT_UNKNOWN);
	answer(c, true);
	answer(c, true);
	CHECK(resolve(c, "", NULL) == FLE_STMT_UNKNOWN);
	free_conn(c);
}

/* `PREPARE a ...; DEALLOCATE a; PREPARE a ...` in one Query, confirmed statement by
 * statement by CommandComplete tags. */
static struct sql_plan *prepare_plan(void)
{
	struct sql_plan *p = calloc(1, sizeof(*p));
	struct sql_param *p0 = calloc(1, sizeof(*p0)), *p1 = calloc(1, sizeof(*p1));
	*p0 = (struct sql_param){.number = 1, .column = &email, .mode = SQL_VALUE_RECORD};
	*p1 = (struct sql_param){.number = 1, .column = &name, .mode = SQL_VALUE_RECORD};
	p->nprepared = 2;
	p->prepared = calloc(2, sizeof(*p->prepared));
	p->prepared[0] = (struct sql_prepared){.name = strdup("a"), .nparams = 1, .params = p0};
	p->prepared[1] = (struct sql_prepared){.name = strdup("a"), .nparams = 1, .params = p1};
	p->nnsops = 3;
	p->nsops = calloc(3, sizeof(*p->nsops));
	p->nsops[0] = (struct sql_ns_op){.kind = SQL_NS_PREPARE, .name = strdup("a"), .index = 0};
	p->nsops[1] = (struct sql_ns_op){.kind = SQL_NS_DEALLOCATE, .name = strdup("a")};
	p->nsops[2] = (struct sql_ns_op){.kind = SQL_NS_PREPARE, .name = strdup("a"), .index = 1};
	return p;
}

static void test_query_tags(void)
{
	struct fle *c = new_conn();
	struct sql_plan *p = prepare_plan();
	struct fle_stmt *got;
	struct fle_expect *e = fle_push(c, EX_QUERY, NULL);
	fle_prepared_plan(c, e, p, false);
	/* a Query's changes are never certain for the next message: it may fail halfway */
	CHECK(resolve(c, "a", &got) == FLE_STMT_AMBIGUOUS);
	fle_prepared_complete(c, fle_head(c), "SELECT 1"); /* not its tag */
	fle_prepared_complete(c, fle_head(c), "PREPARE");
	fle_prepared_complete(c, fle_head(c), "DEALLOCATE");
	/* the second PREPARE fails: rolled back, the first was deallocated */
	fle_prepared_settle(c, fle_head(c), false);
	answer(c, true);
	CHECK(resolve(c, "a", NULL) == FLE_STMT_UNKNOWN);

	e = fle_push(c, EX_QUERY, NULL);
	fle_prepared_plan(c, e, p, false);
	fle_prepared_complete(c, fle_head(c), "PREPARE");
	fle_prepared_complete(c, fle_head(c), "DEALLOCATE");
	fle_prepared_complete(c, fle_head(c), "PREPARE");
	answer(c, true);
	CHECK(resolve(c, "a", &got) == FLE_STMT_KNOWN && param1(got) &&
	      param1(got)->column == &name);
	sql_plan_free(p);

	/* DEALLOCATE ALL spares the unnamed statement */
	parse(c, stmt("", 1, &email, 0));
	sync_(c);
	answer(c, true);
	answer(c, true);
	struct sql_plan q = {.nnsops = 1};
	struct sql_ns_op all = {.kind = SQL_NS_DEALLOCATE_ALL};
	q.nsops = &all;
	e = fle_push(c, EX_EXECUTE, NULL); /* run by the protocol: confirmed at CommandComplete */
	fle_prepared_plan(c, e, &q, true);
	CHECK(resolve(c, "a", NULL) == FLE_STMT_UNKNOWN);
	CHECK(resolve(c, "", NULL) == FLE_STMT_KNOWN);
	answer(c, true);
	CHECK(resolve(c, "a", NULL) == FLE_STMT_UNKNOWN);
	CHECK(resolve(c, "", NULL) == FLE_STMT_KNOWN);
	free_conn(c);
}

static void test_lookup_and_deps(void)
{
	struct fle *c = new_conn();
	CHECK(fle_prepared_lookup(c, "x") == NULL);
	parse(c, stmt("x", 2, &email, 0));
	sync_(c);
	answer(c, true);
	answer(c, true);
	const struct sql_prepared *pp = fle_prepared_lookup(c, "x");
	CHECK(pp && !pp->refusal && pp->nparams == 1 && pp->params[0].number == 2 &&
	      pp->params[0].column == &email);
	/* the wrapper `EXECUTE x(...)` keeps what x was */
	struct fle_stmt *w = fle_stmt_new("w");
	fle_prepared_take_deps(c, w);
	CHECK_EQ_INT(w->ndeps, 1);
	char msg[384];
	CHECK(fle_prepared_deps_ok(c, w, msg, sizeof(msg)));
	/* x redefined: its Parse in flight after a Sync makes x ambiguous */
	fle_prepared_close(c, fle_push(c, EX_CLOSE, NULL), "x");
	parse(c, stmt("x", 2, &name, 0));
	sync_(c);
	pp = fle_prepared_lookup(c, "x");
	CHECK(pp && pp->refusal && strstr(pp->refusal, "\"x\""));
	CHECK(!fle_prepared_deps_ok(c, w, msg, sizeof(msg)) && strstr(msg, "\"w\"") &&
	      strstr(msg, "\"x\""));
	answer(c, true);
	answer(c, true);
	answer(c, true);
	CHECK(!fle_prepared_deps_ok(c, w, msg, sizeof(msg)));
	fle_stmt_unref(w);
	/* what the analysis did not take is dropped */
	CHECK(fle_prepared_lookup(c, "x") != NULL);
	fle_prepared_take_deps(c, NULL);
	CHECK_EQ_INT(c->ndeps, 0);
	free_conn(c);
}

static bool mentioned(const char *t)
{
	return fle_prepared_mentioned(t, strlen(t));
}

static bool may_execute(const char *t)
{
	return fle_prepared_may_execute(t, strlen(t));
}

static void test_keywords(void)
{
	CHECK(mentioned("dEaLlOcAtE x") && mentioned("discard all") &&
	      mentioned("PREPARE p AS SELECT 1"));
	CHECK(may_execute("EXECUTE s(1)") && may_execute("explain\nexecute\ts") &&
	      may_execute("SELECT 1;execute s"));
	CHECK(may_execute("EXECUTE\"s\"('x')") && may_execute("/**/EXECUTE/**/s") &&
	      may_execute("(execute") && may_execute("SELECT 1;2execute s"));
	/* part of an identifier: no statement */
	CHECK(!may_execute("SELECT executed_at FROM t") && !may_execute("SELECT x_execute") &&
	      !may_execute("SELECT \xc3\xa9"
	                   "execute"));
	CHECK(!mentioned("SELECT prepared, discarded, deallocated_by FROM t") &&
	      !mentioned("SELECT 1"));
	CHECK(!may_execute("") && !may_execute("execut"));
}

/* Random scripts against the model of PostgreSQL's namespace (prepared_model.h): what the
 * server runs always encrypts as pgseal encrypted for, and the namespaces end equal. */
static void test_model(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int bad = 0;
	uint8_t script[96];
	for (int run = 0; run < 20000; run++) {
		for (size_t i = 0; i < sizeof(script); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			script[i] = (uint8_t)x;
		}
		size_t len = run % 2 ? sizeof(script) : (size_t)(24 + run % 64);
		int v = pm_script(script, len);
		if (v && !bad++)
			fprintf(stderr, "model run %d: %d violation(s): %s\n", run, v, pm_why);
	}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	RUN(test_parse_confirmed_or_rolled_back);
	RUN(test_many_in_flight);
	RUN(test_close_and_unnamed);
	RUN(test_query_tags);
	RUN(test_lookup_and_deps);
	RUN(test_keywords);
	RUN(test_model);
	return t_summary("test_fle_prepared");
}
