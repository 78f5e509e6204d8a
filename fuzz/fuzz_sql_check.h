/* fuzz_sql_check.h - the plan invariants the SQL fuzz targets check: sound edits and COPYs, no encrypted literal left in the output. */
#ifndef PGSEAL_FUZZ_SQL_CHECK_H
#define PGSEAL_FUZZ_SQL_CHECK_H

#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

static void fuzz_sql_mask(char *s, size_t len, const struct sql_plan *p)
{
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].kind == SQL_EDIT_LITERAL &&
		    p->edits[i].offset + (size_t)p->edits[i].len <= len)
			memset(s + p->edits[i].offset, '#', p->edits[i].len);
}

/* Encrypts to a value-free placeholder in the form pgseal renders (the same under both settings
 * of standard_conforming_strings), so any copy of the value in the output is a leak. */
static int fuzz_sql_enc(void *arg, const struct schema_column *col, enum sql_value_mode mode,
                        const char *value, size_t len, char **out, char *err, size_t errlen)
{
	(void)arg;
	(void)value;
	(void)len;
	(void)err;
	(void)errlen;
	*out = strdup(mode == SQL_VALUE_RECORD ? "E'\\\\x01'::bytea" : "E'\\\\x02'::bytea");
	return col && *out ? PGS_OK : PGS_ERR;
}

/* Aborts on an unsound plan of sql[0, len): a refusal carrying edits, edits unsorted,
 * overlapping or out of bounds, COPY descriptions out of order, or an encrypted constant that
 * survives rendering. */
static void fuzz_sql_check_plan(const struct sql_plan *p, const char *sql, size_t len)
{
	if (p->refused) {
		if (!p->message || strlen(p->sqlstate) != 5 || p->nedits || p->nparams)
			abort();
		return;
	}
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
	if (sql_plan_render(p, sql, len, fuzz_sql_enc, NULL, &out, &outlen, err, sizeof(err)) !=
	    PGS_OK)
		return;
	/* an encrypted constant that appears nowhere else in the input must not survive */
	char *min = strdup(sql), *mout = strdup(out);
	fuzz_sql_mask(min, len, p);
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

#endif
