/* fuzz_sql.c - libFuzzer target for the SQL rewriter: no crash, sound plans, no encrypted literal
 * left in the output. */
#include "../tests/unit/test_sql_util.h"
#include "fuzz_sql_check.h"
#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *sql = malloc(size + 1);
	memcpy(sql, data, size);
	sql[size] = '\0';
	size_t len = strlen(sql);
	const struct schema *s = tsql_schema();
	static struct sql_views *views;
	static const char *const vcols[] = {"id", "email", "name"};
	if (!views) {
		/* views over the encrypted tables, resolved by every analysis below */
		views = sql_views_new();
		(void)sql_views_add(views, s, "public", "uv", vcols, 3,
		                    "SELECT users.id, users.email, users.name FROM users");
		(void)sql_views_add(views, s, NULL, "uv2", vcols, 2,
		                    "SELECT uv.id, uv.email AS e FROM uv");
		/* a partition of users found in the catalog */
		(void)sql_views_add_child(views, s, "public", "users_p1", vcols, 3, "public",
		                          "users");
	}
	/* the input as a view definition: mapped or all tainted, never a crash */
	struct sql_views *one = sql_views_new();
	const struct sql_view *v = sql_views_add(one, s, NULL, "fz", vcols, 3, sql);
	for (size_t i = 0; i < v->ncols; i++)
		if (v->cols[i].col && v->cols[i].tainted)
			abort();
	sql_views_free(one);
	struct sql_plan *p = NULL;
	if (sql_analyze_views(s, views, sql, len, NULL, NULL, &p) != PGS_OK)
		abort();
	fuzz_sql_check_plan(p, sql, len);
	sql_plan_free(p);
	free(sql);
	return 0;
}
