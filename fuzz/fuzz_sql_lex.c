/* fuzz_sql_lex.c - libFuzzer target for the analysis under the session's settings: the first byte
 * picks standard_conforming_strings (bit 0: off) and whether it is settled (bit 1), the rest is
 * SQL; sound plans, no encrypted literal left in the output, and the two readings consistent. */
#include "../tests/unit/test_sql_util.h"
#include "fuzz_sql_check.h"
#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two accepted plans of one text under the two settings edit the same places for the same
 * columns; with the setting not settled, with the same values too. */
static void check_pair(const struct sql_plan *a, const struct sql_plan *b, bool settled)
{
	if (a->refused || b->refused)
		return;
	if (a->nedits != b->nedits || a->nparams != b->nparams)
		abort();
	for (size_t i = 0; i < a->nedits; i++) {
		const struct sql_edit *x = &a->edits[i], *y = &b->edits[i];
		if (x->kind != y->kind || x->offset != y->offset || x->len != y->len ||
		    x->column != y->column || x->mode != y->mode)
			abort();
		if (!settled && x->kind == SQL_EDIT_LITERAL && !x->value_null &&
		    (x->value_len != y->value_len || memcmp(x->value, y->value, x->value_len)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	struct sql_lex lex = {.scs_off = data[0] & 1, .settled = (data[0] & 2) != 0};
	struct sql_lex other = {.scs_off = !lex.scs_off, .settled = lex.settled};
	char *sql = malloc(size);
	memcpy(sql, data + 1, size - 1);
	sql[size - 1] = '\0';
	size_t len = strlen(sql);
	const struct schema *s = tsql_schema();
	static struct sql_views *views;
	static const char *const vcols[] = {"id", "email", "name"};
	if (!views) {
		views = sql_views_new();
		(void)sql_views_add(views, s, "public", "uv", vcols, 3,
		                    "SELECT users.id, users.email, users.name FROM users");
	}
	/* the input as a view definition written under either setting: never a crash */
	struct sql_views *one = sql_views_new();
	one->scs_off = lex.scs_off;
	const struct sql_view *v = sql_views_add(one, s, NULL, "fz", vcols, 3, sql);
	for (size_t i = 0; i < v->ncols; i++)
		if (v->cols[i].col && v->cols[i].tainted)
			abort();
	sql_views_free(one);
	struct sql_plan *p = NULL, *q = NULL;
	if (sql_analyze_lex(s, views, sql, len, NULL, NULL, &lex, &p) != PGS_OK ||
	    sql_analyze_lex(s, views, sql, len, NULL, NULL, &other, &q) != PGS_OK)
		abort();
	fuzz_sql_check_plan(p, sql, len);
	fuzz_sql_check_plan(q, sql, len);
	check_pair(p, q, lex.settled);
	/* a text without a backslash reads the same under both, but for U&'...', an error
	 * under off (on the server too) */
	if (sql_lex_neutral(sql, len) && p->refused != q->refused && !strcasestr(sql, "u&'"))
		abort();
	sql_plan_free(p);
	sql_plan_free(q);
	/* the thread's default (on) is back after an analysis under off */
	static const char probe[] = "INSERT INTO users (email) VALUES ('a\\\\b')";
	if (sql_analyze(s, probe, sizeof(probe) - 1, &p) != PGS_OK || p->refused ||
	    p->nedits != 1 || p->edits[0].value_len != 4)
		abort();
	sql_plan_free(p);
	free(sql);
	return 0;
}
