/* prepared_model.h - drives the prepared-statement namespace (fle_prepared.c) against a model of
 * PostgreSQL's, from bytes: the unit test's random runs and fuzz_prepared share it. */
#ifndef PGSEAL_PREPARED_MODEL_H
#define PGSEAL_PREPARED_MODEL_H

#include <stdlib.h>
#include <string.h>

#include "fle/fle_internal.h"

/*
 * The client sends Parse, Close, Bind, Sync and simple Queries (PREPARE, DEALLOCATE [ALL],
 * EXECUTE) in any order; the server answers them whenever the bytes say, with failures the
 * bytes choose (plus those PostgreSQL would have: a name in use, an unknown name). The
 * server applies each message in order, skipping to Sync after an extended error, and the
 * answers reach the namespace as fle_read.c hands them on.
 *
 * The property: whenever the server runs a Bind or an EXECUTE that pgseal let through,
 * the statement it runs encrypts exactly as the definition pgseal encrypted for (or does not
 * exist: the server then refuses it). When everything is answered, pgseal's namespace is
 * the server's.
 */

#ifndef PM_TRACE
#define PM_TRACE(...) ((void)0)
#endif

static struct schema_column pm_email, pm_name;
static const char *pm_why; /* the last violation, for the report */
static const char *const pm_names[3] = {"", "a", "b"};

/* variant 0: nothing encrypted; 1: $1 for email; 2: $1 for name */
static struct fle_stmt *pm_stmt(int name, int variant)
{
	struct fle_stmt *st = fle_stmt_new(pm_names[name]);
	if (!variant)
		return st;
	struct sql_param prm = {.number = 1, .column = variant == 1 ? &pm_email : &pm_name};
	struct sql_prepared p = {.name = (char *)pm_names[name], .nparams = 1, .params = &prm};
	st->plan = sql_plan_of_prepared(&p);
	st->owns_plan = true;
	return st;
}

static int pm_variant(const struct fle_stmt *st)
{
	if (!st || !st->plan || !st->plan->nparams)
		return 0;
	return st->plan->params[0].column == &pm_email ? 1 : 2;
}

enum pm_kind { PM_PARSE, PM_CLOSE, PM_BIND, PM_FAIL, PM_SYNC, PM_QUERY };

struct pm_msg {
	enum pm_kind kind;
	int name, variant; /* PARSE; CLOSE, BIND: name; BIND: the variant pgseal encrypted for */
	bool fail;         /* PARSE: the server rejects it anyway */
	int nops;          /* QUERY: PREPARE/DEALLOCATE statements, then maybe EXECUTE */
	int op_kind[2], op_name[2], op_var[2];
	int fail_at;   /* QUERY: the statement that fails (nops or more: none) */
	int exec_name; /* QUERY: -1, or EXECUTE of this name after the ops */
	int exec_var;  /* the variant pgseal encrypted the EXECUTE for */
};

struct pm {
	struct fle *c;
	int srv[3];           /* the server's namespace: -1 or the variant */
	bool srv_skip;        /* the server skips to Sync */
	bool boundary;        /* the client's last message was a Sync or a Query (or none) */
	struct pm_msg q[512]; /* sent, not yet run by the server */
	size_t qh, qn;
	int violations;
};

static void pm_send(struct pm *m, struct pm_msg msg)
{
	if (m->qn < PGS_ARRAY_LEN(m->q))
		m->q[(m->qh + m->qn++) % PGS_ARRAY_LEN(m->q)] = msg;
}

/* pgseal receives an ErrorResponse: as fle_read.c does */
static void pm_error(struct pm *m)
{
	struct fle *c = m->c;
	struct fle_expect *e = fle_head(c);
	bool skipped = false;
	if (e && e->kind == EX_QUERY)
		fle_prepared_settle(c, e, false);
	while ((e = fle_head(c)) && e->kind != EX_SYNC && e->kind != EX_QUERY) {
		fle_prepared_settle(c, e, false);
		fle_pop(c);
		skipped = true;
	}
	if (skipped && !fle_head(c))
		c->skip_to_sync = true;
}

/* The server runs the oldest message sent and answers it. */
static void pm_run_one(struct pm *m)
{
	if (!m->qn)
		return;
	struct pm_msg *x = &m->q[m->qh];
	m->qh = (m->qh + 1) % PGS_ARRAY_LEN(m->q);
	m->qn--;
	struct fle *c = m->c;
	PM_TRACE("server: kind %d name %d var %d fail %d nops %d skip %d\n", x->kind, x->name,
	         x->variant, x->fail, x->nops, m->srv_skip);
	if (m->srv_skip && x->kind != PM_SYNC)
		return; /* no answer: pgseal dropped its expectation at the error */
	switch (x->kind) {
	case PM_PARSE:
		if (x->fail || (x->name && m->srv[x->name] >= 0)) {
			m->srv_skip = true;
			pm_error(m);
		} else {
			m->srv[x->name] = x->variant;
			fle_pop(c);
			PM_TRACE("  defined %d as %d\n", x->name, x->variant);
		}
		break;
	case PM_CLOSE:
		m->srv[x->name] = -1;
		fle_pop(c);
		break;
	case PM_BIND:
		if (m->srv[x->name] < 0) {
			m->srv_skip = true;
			pm_error(m);
			break;
		}
		if (m->srv[x->name] != x->variant) {
			m->violations++;
			pm_why = "a Bind ran another definition than pgseal encrypted for";
		}
		fle_pop(c);
		break;
	case PM_FAIL:
		m->srv_skip = true;
		pm_error(m);
		break;
	case PM_SYNC:
		m->srv_skip = false;
		fle_pop(c);
		break;
	case PM_QUERY: {
		m->srv[0] = -1; /* a simple Query drops the unnamed statement */
		bool failed = false;
		for (int k = 0; k < x->nops && !failed; k++) {
			int n = x->op_name[k];
			static const char *const tags[] = {"PREPARE", "DEALLOCATE",
			                                   "DEALLOCATE ALL"};
			if (k == x->fail_at || (x->op_kind[k] == 0 && m->srv[n] >= 0) ||
			    (x->op_kind[k] == 1 && m->srv[n] < 0)) {
				failed = true;
				break;
			}
			if (x->op_kind[k] == 0)
				m->srv[n] = x->op_var[k];
			else if (x->op_kind[k] == 1)
				m->srv[n] = -1;
			else
				m->srv[1] = m->srv[2] = -1;
			fle_prepared_complete(c, fle_head(c), tags[x->op_kind[k]]);
		}
		if (!failed && x->exec_name >= 0) {
			if (m->srv[x->exec_name] < 0)
				failed = true;
			else if (m->srv[x->exec_name] != x->exec_var) {
				m->violations++;
				pm_why =
				    "an EXECUTE ran another definition than pgseal encrypted for";
			}
		}
		if (failed || x->fail_at == x->nops)
			pm_error(m);
		fle_pop(c); /* its ReadyForQuery */
		break;
	}
	}
}

/* pgseal refused a Bind or an EXECUTE: what refuse_in_server sends in its place */
static void pm_refuse(struct pm *m, bool extended)
{
	struct fle *c = m->c;
	if (!extended) {
		fle_push(c, EX_QUERY, NULL);
		pm_send(m, (struct pm_msg){.kind = PM_QUERY, .fail_at = 0, .exec_name = -1});
		return;
	}
	fle_prepared_define(c, fle_push(c, EX_SWALLOW_PARSE, NULL), pm_stmt(0, 0), true);
	pm_send(m, (struct pm_msg){.kind = PM_PARSE, .name = 0, .variant = 0});
	fle_push(c, EX_EXECUTE, NULL);
	pm_send(m, (struct pm_msg){.kind = PM_FAIL});
	c->skip_to_sync = true;
}

static void pm_client(struct pm *m, const uint8_t *d, size_t n, size_t *i)
{
	struct fle *c = m->c;
	uint8_t b = d[(*i)++];
	uint8_t b2 = *i < n ? d[(*i)++] : 0;
	int name = (b >> 3) % 3, var = (b >> 5) % 3;
	int kind = b & 7;
	PM_TRACE("client: kind %d name %d var %d b2 %02x skip %d boundary %d\n", kind, name, var,
	         b2, c->skip_to_sync, m->boundary);
	if (c->skip_to_sync && kind != 3 && kind < 6)
		return; /* dropped until the client's Sync */
	/* drivers send simple Queries between batches, never inside one (libpq refuses to) */
	if ((kind == 4 || kind == 5) && !m->boundary)
		return;
	if (kind < 6)
		m->boundary = kind >= 3;
	switch (kind) {
	case 0: { /* Parse */
		fle_prepared_define(c, fle_push(c, EX_PARSE, NULL), pm_stmt(name, var), true);
		pm_send(m, (struct pm_msg){
		               .kind = PM_PARSE, .name = name, .variant = var, .fail = b2 & 1});
		break;
	}
	case 1: /* Close */
		fle_prepared_close(c, fle_push(c, EX_CLOSE, NULL), pm_names[name]);
		pm_send(m, (struct pm_msg){.kind = PM_CLOSE, .name = name});
		break;
	case 2: { /* Bind */
		struct fle_stmt *st = NULL;
		if (fle_prepared_resolve(c, pm_names[name], &st) != FLE_STMT_KNOWN) {
			pm_refuse(m, true);
			break;
		}
		fle_push(c, EX_BIND, NULL);
		pm_send(m,
		        (struct pm_msg){.kind = PM_BIND, .name = name, .variant = pm_variant(st)});
		break;
	}
	case 3: /* Sync */
		c->skip_to_sync = false;
		fle_push(c, EX_SYNC, NULL);
		fle_prepared_sync(c);
		pm_send(m, (struct pm_msg){.kind = PM_SYNC});
		break;
	case 4:
	case 5: { /* a Query: up to two PREPARE/DEALLOCATE statements, maybe an EXECUTE */
		struct pm_msg x = {.kind = PM_QUERY, .exec_name = -1};
		struct sql_plan p = {0};
		struct sql_prepared prep[2];
		struct sql_param prm[2];
		struct sql_ns_op ops[2];
		x.nops = (b2 & 3) % 3;
		x.fail_at = (b2 >> 2) & 3;
		for (int k = 0; k < x.nops; k++) {
			uint8_t o = *i < n ? d[(*i)++] : 0;
			x.op_kind[k] = o % 3;
			x.op_name[k] = 1 + ((o >> 2) & 1);
			x.op_var[k] = (o >> 3) % 3;
			ops[k] =
			    (struct sql_ns_op){.kind = x.op_kind[k] == 0   ? SQL_NS_PREPARE
			                               : x.op_kind[k] == 1 ? SQL_NS_DEALLOCATE
			                                                   : SQL_NS_DEALLOCATE_ALL,
			                       .name = (char *)pm_names[x.op_name[k]],
			                       .index = p.nprepared};
			if (x.op_kind[k] == 0) {
				size_t at = p.nprepared++;
				prm[at] = (struct sql_param){
				    .number = 1, .column = x.op_var[k] == 1 ? &pm_email : &pm_name};
				prep[at] =
				    (struct sql_prepared){.name = (char *)pm_names[x.op_name[k]],
				                          .nparams = x.op_var[k] ? 1 : 0,
				                          .params = &prm[at]};
			}
		}
		p.prepared = prep;
		p.nnsops = (size_t)x.nops;
		p.nsops = ops;
		if (kind == 5) {
			/* EXECUTE name: after this text's own PREPAREs, as the analysis sees it */
			int en = 1 + ((b2 >> 4) & 1), ev = -1;
			for (int k = x.nops; k-- > 0 && ev < 0;)
				if (x.op_kind[k] == 0 && x.op_name[k] == en)
					ev = x.op_var[k];
			if (ev < 0) {
				const struct sql_prepared *pp =
				    fle_prepared_lookup(c, pm_names[en]);
				fle_prepared_take_deps(c, NULL);
				if (!pp || pp->refusal) {
					pm_refuse(m, false);
					break;
				}
				ev = !pp->nparams ? 0 : pp->params[0].column == &pm_email ? 1 : 2;
			}
			x.exec_name = en;
			x.exec_var = ev;
		}
		fle_prepared_plan(c, fle_push(c, EX_QUERY, NULL), &p, false);
		pm_send(m, x);
		break;
	}
	default: /* the server runs up to three messages */
		for (int k = 0; k <= (b >> 6); k++)
			pm_run_one(m);
		break;
	}
}

/* Runs a byte script; returns the number of violations (0: sound). */
static int pm_script(const uint8_t *d, size_t n)
{
	struct pm m = {.srv = {-1, -1, -1}, .boundary = true};
	m.c = calloc(1, sizeof(*m.c));
	for (size_t i = 0; i < n && m.qn < PGS_ARRAY_LEN(m.q) - 8;)
		pm_client(&m, d, n, &i);
	/* the client ends its batch, the server answers everything */
	m.c->skip_to_sync = false;
	fle_push(m.c, EX_SYNC, NULL);
	fle_prepared_sync(m.c);
	pm_send(&m, (struct pm_msg){.kind = PM_SYNC});
	while (m.qn)
		pm_run_one(&m);
	if (fle_head(m.c) || m.c->ops) {
		m.violations++;
		pm_why = "an answer not matched, or a change never settled";
	}
	for (int k = 0; k < 3; k++) {
		struct fle_stmt *st = NULL;
		enum fle_resolve r = fle_prepared_resolve(m.c, pm_names[k], &st);
		int have = r == FLE_STMT_UNKNOWN ? -1 : pm_variant(st);
		PM_TRACE("end: name %d pgseal %d server %d\n", k, have, m.srv[k]);
		if (have != m.srv[k]) {
			m.violations++;
			pm_why = "pgseal's namespace differs from the server's";
		}
	}
	fle_free(m.c);
	return m.violations;
}

#endif
