/* fuzz_sql.c - libFuzzer target for the SQL rewriter: no crash, sound plans, no encrypted literal
 * left in the output. */
#include "../tests/unit/test_sql_util.h"
#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mask(char *s, size_t len, const struct sql_plan *p)
{
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].kind == SQL_EDIT_LITERAL &&
		    p->edits[i].offset + (size_t)p->edits[i].len <= len)
			memset(s + p->edits[i].offset, '#', p->edits[i].len);
}

/* Encrypts to a value-free placeholder, so any copy of the value in the output is a leak. */
static int fuzz_enc(void *arg, const struct schema_column *col, enum sql_value_mode mode,
                    const char *value, size_t len, char **out, char *err, size_t errlen)
{
	(void)arg;
	(void)value;
	(void)len;
	(void)err;
	(void)errlen;
	*out = strdup(mode == SQL_VALUE_RECORD ? "'\\x01'::bytea" : "'\\x02'::bytea");
	return col && *out ? PGS_OK : PGS_ERR;
}

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
	if (p->refused) {
		if (!p->message || strlen(p->sqlstate) != 5 || p->nedits || p->nparams)
			abort();
		goto out;
	}
	/* edits sorted, disjoint, in bounds */
	for (size_t i = 0; i < p->nedits; i++) {
		const struct sql_edit *e = &p->edits[i];
		if ((size_t)e->offset + e->len > len || e->len == 0)
			abort();
		if (i > 0 && p->edits[i - 1].offset + p->edits[i - 1].len > e->offset)
			abort();
		if (e->kind == SQL_EDIT_LITERAL && (!e->value || !e->column))
			abort();
		if (e->kind == SQL_EDIT_TEXT && !e->text)
			abort();
	}
	if (!p->touches_encrypted && (p->nedits || p->nparams))
		abort();
	/* one COPY description per COPY statement, in statement order, each within the text */
	for (size_t i = 0; i < p->ncopies; i++) {
		const struct sql_copy *cp = &p->copies[i];
		if (cp->statement < 0 || cp->statement >= p->nstatements ||
		    (i > 0 && p->copies[i - 1].statement >= cp->statement) ||
		    sql_plan_copy(p, cp->statement) != cp)
			abort();
		if (cp->encrypted &&
		    (!p->touches_encrypted || !cp->null_string || (cp->ncolumns && !cp->columns)))
			abort();
	}
	char *out = NULL, err[256];
	size_t outlen = 0;
	if (sql_plan_render(p, sql, len, fuzz_enc, NULL, &out, &outlen, err, sizeof(err)) ==
	    PGS_OK) {
		/* an encrypted constant that appears nowhere else in the input must not survive */
		char *min = strdup(sql), *mout = strdup(out);
		mask(min, len, p);
		for (size_t i = 0; i < p->nedits; i++) {
			const struct sql_edit *e = &p->edits[i];
			if (e->kind != SQL_EDIT_LITERAL || e->value_len < 3 ||
			    memchr(e->value, '#', e->value_len))
				continue;
			if (!strstr(min, e->value) && strstr(mout, e->value))
				abort();
		}
		free(min);
		free(mout);
		free(out);
	}
out:
	sql_plan_free(p);
	free(sql);
	return 0;
}
