/* test_sql_expect.h - the EXPECT/REFUSED checks shared by the sql unit tests: analyse, render,
 * compare. */
#ifndef PGSEAL_TEST_SQL_EXPECT_H
#define PGSEAL_TEST_SQL_EXPECT_H

#include "test_sql_util.h"
#include "testlib.h"

static const struct schema *S;
static const struct sql_views *V; /* the views known to the analysis (NULL: none) */

/* The outcome of an analysis (rc, p) of sql as a string: the rendered text, or "REFUSED
 * <sqlstate>: <message>", or "PLAIN" when untouched. Frees p. */
static char *rw_outcome(const char *sql, int rc, struct sql_plan *p)
{
	char *out = NULL, err[256] = "";
	size_t outlen;
	char buf[1024];
	if (rc != PGS_OK)
		return strdup("OOM");
	if (p->refused) {
		snprintf(buf, sizeof(buf), "REFUSED %s: %s", p->sqlstate, p->message);
		sql_plan_free(p);
		return strdup(buf);
	}
	if (!p->touches_encrypted && p->nedits == 0) {
		sql_plan_free(p);
		return strdup("PLAIN");
	}
	if (sql_plan_render(p, sql, strlen(sql), tsql_enc, NULL, &out, &outlen, err, sizeof(err)) !=
	    PGS_OK) {
		snprintf(buf, sizeof(buf), "RENDER ERROR: %s", err);
		sql_plan_free(p);
		return strdup(buf);
	}
	sql_plan_free(p);
	return out;
}

/* Analyses (with the views V) and renders: see rw_outcome. */
static char *rw(const char *sql)
{
	struct sql_plan *p = NULL;
	int rc = sql_analyze_views(S, V, sql, strlen(sql), NULL, NULL, &p);
	return rw_outcome(sql, rc, p);
}

/* Counts one check; reports the statement, what was wanted and what came out when it failed. */
static void check_got(int line, const char *sql, const char *want, const char *got, bool ok)
{
	if (ok) {
		t_passed++;
	} else {
		t_failed++;
		fprintf(stderr, "FAIL line %d\n  sql:  %s\n  want: %s\n  got:  %s\n", line, sql,
		        want, got);
	}
}

static void expect_at(int line, const char *sql, const char *want)
{
	char *got = rw(sql);
	check_got(line, sql, want, got, strcmp(got, want) == 0);
	free(got);
}
#define EXPECT(sql, want) expect_at(__LINE__, sql, want)

static void expect_refused_at(int line, const char *sql, const char *state, const char *needle)
{
	char *got = rw(sql);
	char prefix[32], want[512];
	snprintf(prefix, sizeof(prefix), "REFUSED %s: ", state);
	snprintf(want, sizeof(want), "%s...%s", prefix, needle);
	check_got(line, sql, want, got,
	          strncmp(got, prefix, strlen(prefix)) == 0 && strstr(got, needle));
	free(got);
}
#define REFUSED(sql, needle) expect_refused_at(__LINE__, sql, "0A000", needle)

#endif
