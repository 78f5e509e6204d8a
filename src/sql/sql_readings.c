/* sql_readings.c - sql_analyze_lex: a text analysed as the server will read it, and under the other
 * standard_conforming_strings too when a backslash may make the two readings differ. */
#include "sql/sql_internal.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lexer errors that PostgreSQL raises, in every version since 9.1, whatever comes before them:
 * a text that fails so under a setting is an error on the server under that setting, so that
 * reading of it needs no analysis. Syntax errors are not among them: a newer server's grammar
 * may accept what libpg_query's (PostgreSQL 15) does not. */
static const char *const fatal_lexer_errors[] = {
    "unterminated quoted string",
    "unsafe use of string constant with Unicode escapes",
    "unterminated dollar-quoted string",
    "unterminated quoted identifier",
    "unterminated /* comment",
    "unterminated bit string literal",
    "unterminated hexadecimal string literal",
    "zero-length delimited identifier",
};

enum alt_parse { ALT_PARSES, ALT_LEXER_FATAL, ALT_SYNTAX_ERROR };

/* Whether the text parses under the setting this thread lexes with. */
static enum alt_parse alt_parse(const char *sql)
{
	PgQueryParseResult r = sql_lex_parse(sql);
	enum alt_parse res = r.error ? ALT_SYNTAX_ERROR : ALT_PARSES;
	for (size_t i = 0; r.error && r.error->message && i < PGS_ARRAY_LEN(fatal_lexer_errors);
	     i++)
		if (strncmp(r.error->message, fatal_lexer_errors[i],
		            strlen(fatal_lexer_errors[i])) == 0)
			res = ALT_LEXER_FATAL;
	if (r.parse_tree)
		OPENSSL_cleanse(r.parse_tree, strlen(r.parse_tree)); /* it holds the values */
	pg_query_free_parse_result(r);
	return res;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool params_same(const struct sql_param *a, size_t na, const struct sql_param *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].number != b[i].number || a[i].column != b[i].column ||
		    a[i].mode != b[i].mode || a[i].array != b[i].array)
			return false;
	return true;
}

static bool copy_same(const struct sql_copy *a, const struct sql_copy *b)
{
	if (a->statement != b->statement || a->encrypted != b->encrypted)
		return false;
	if (!a->encrypted)
		return true;
	if (a->from_stdin != b->from_stdin || a->csv != b->csv || a->delimiter != b->delimiter ||
	    a->quote != b->quote || a->escape != b->escape || a->header != b->header ||
	    !str_same(a->null_string, b->null_string) || a->ncolumns != b->ncolumns)
		return false;
	for (size_t i = 0; i < a->ncolumns; i++)
		if (a->columns[i] != b->columns[i])
			return false;
	return true;
}

static bool copies_same(const struct sql_plan *a, const struct sql_plan *b)
{
	if (a->ncopies != b->ncopies)
		return false;
	for (size_t i = 0; i < a->ncopies; i++)
		if (!copy_same(&a->copies[i], &b->copies[i]))
			return false;
	return true;
}

/* Whether two plans of one text do the same: the same edits at the same places for the same
 * columns, the same parameters, COPY, PREPAREs and so on; *first gets the first encrypted column
 * where they differ (or NULL). Literal values are not compared here. */
static bool plans_same_shape(const struct sql_plan *a, const struct sql_plan *b,
                             const struct schema_column **first)
{
	*first = NULL;
	size_t n = a->nedits < b->nedits ? a->nedits : b->nedits;
	for (size_t i = 0; i < n; i++) {
		const struct sql_edit *x = &a->edits[i], *y = &b->edits[i];
		if (x->kind != y->kind || x->offset != y->offset || x->len != y->len ||
		    x->column != y->column || x->mode != y->mode ||
		    x->value_null != y->value_null ||
		    (x->kind == SQL_EDIT_TEXT && !str_same(x->text, y->text))) {
			*first = x->column ? x->column : y->column;
			return false;
		}
	}
	if (a->nedits != b->nedits) {
		const struct sql_plan *more = a->nedits > b->nedits ? a : b;
		*first = more->edits[n].column;
		return false;
	}
	if (!params_same(a->params, a->nparams, b->params, b->nparams)) {
		*first = a->nparams ? a->params[0].column : b->nparams ? b->params[0].column : NULL;
		return false;
	}
	if (a->touches_encrypted != b->touches_encrypted || a->refused != b->refused ||
	    a->nstatements != b->nstatements || a->cacheable != b->cacheable ||
	    !copies_same(a, b) || a->nnsops != b->nnsops || a->nprepared != b->nprepared ||
	    a->nresult != b->nresult || a->ndefined_views != b->ndefined_views)
		return false;
	for (size_t i = 0; i < a->nprepared; i++)
		if (!str_same(a->prepared[i].name, b->prepared[i].name) ||
		    !params_same(a->prepared[i].params, a->prepared[i].nparams,
		                 b->prepared[i].params, b->prepared[i].nparams))
			return false;
	for (size_t i = 0; i < a->nnsops; i++)
		if (a->nsops[i].kind != b->nsops[i].kind ||
		    a->nsops[i].index != b->nsops[i].index ||
		    !str_same(a->nsops[i].name, b->nsops[i].name))
			return false;
	for (size_t i = 0; i < a->nresult; i++)
		if (a->result[i] != b->result[i])
			return false;
	for (size_t i = 0; i < a->ndefined_views; i++)
		if (!str_same(a->defined_views[i], b->defined_views[i]))
			return false;
	return true;
}

/* The first literal edit whose value differs between two plans of the same shape, or NULL. */
static const struct sql_edit *value_differs(const struct sql_plan *a, const struct sql_plan *b)
{
	for (size_t i = 0; i < a->nedits; i++) {
		const struct sql_edit *x = &a->edits[i], *y = &b->edits[i];
		if (x->kind == SQL_EDIT_LITERAL && !x->value_null &&
		    (x->value_len != y->value_len || memcmp(x->value, y->value, x->value_len) != 0))
			return x;
	}
	return NULL;
}

/* The first encrypted column a plan writes or searches, for messages. */
static const struct schema_column *first_column(const struct sql_plan *p)
{
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].column)
			return p->edits[i].column;
	return p->nparams ? p->params[0].column : NULL;
}

/* Replaces the plan by a refusal (a refused plan carries only its verdict). */
static struct sql_plan *refusal(struct sql_plan *p, const char *fmt, ...) PGS_PRINTF(2, 3);
static struct sql_plan *refusal(struct sql_plan *p, const char *fmt, ...)
{
	struct sql_plan *q = pgs_xcalloc(1, sizeof(*q));
	q->touches_encrypted = true;
	q->refused = true;
	memcpy(q->sqlstate, "0A000", 6);
	q->nstatements = p->nstatements;
	q->cacheable = p->cacheable;
	char buf[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	q->message = pgs_xstrdup(buf);
	sql_plan_free(p);
	return q;
}

int sql_analyze_lex(const struct schema *s, const struct sql_views *views, const char *sql,
                    size_t len, sql_prepared_lookup_fn lookup, void *lookup_arg,
                    const struct sql_lex *lex, struct sql_plan **out)
{
	struct sql_plan *p = NULL, *alt = NULL;
	bool prev = sql_lex_set(lex->scs_off);
	int rc = sql_analyze_into(s, views, sql, len, lookup, lookup_arg, &p, NULL);
	*out = p;
	if (rc != PGS_OK || p->refused || sql_lex_neutral(sql, len))
		goto out;
	/* A backslash: the server may read the text under the other setting (a SET in flight, a
	 * reload of its configuration), so that reading must do the same as this one. */
	const char *other = lex->scs_off ? "on" : "off";
	sql_lex_set(!lex->scs_off);
	enum alt_parse ap = alt_parse(sql);
	/* Under the other setting the server refuses the text, nothing of it runs: certain for a
	 * lexer error; for a syntax error only as far as the server's grammar is PostgreSQL 15's,
	 * so relied on only when the setting is settled (then the other reading needs a reload of
	 * the server's configuration between two statements). */
	if (ap == ALT_LEXER_FATAL || (ap == ALT_SYNTAX_ERROR && lex->settled))
		goto out;
	rc = sql_analyze_into(s, views, sql, len, lookup, lookup_arg, &alt, NULL);
	if (rc != PGS_OK) {
		sql_plan_free(p);
		*out = NULL;
		goto out;
	}
	const struct schema_column *col = first_column(p);
	if (alt->refused) {
		/* not its message: under the other reading, identifiers it names may be values */
		*out = refusal(
		    p,
		    "pgseal refuses this statement%s%s: a backslash in a '...' string makes "
		    "it read differently under standard_conforming_strings = %s, and pgseal "
		    "cannot check that reading; write such strings as E'...' (or send values "
		    "as parameters)",
		    col ? ", which writes or searches " : "", col ? col->qualified : "", other);
		goto out;
	}
	if (!plans_same_shape(p, alt, &col)) {
		if (!col)
			col = first_column(p) ? first_column(p) : first_column(alt);
		*out =
		    refusal(p,
		            "pgseal refuses this statement: a backslash in a '...' string makes "
		            "%s%s read differently under standard_conforming_strings on and off; "
		            "write such strings as E'...' (or send values as parameters)",
		            col ? "the value of " : "it", col ? col->qualified : "");
		goto out;
	}
	const struct sql_edit *e = value_differs(p, alt);
	if (e && !lex->settled)
		*out = refusal(
		    p,
		    "pgseal refuses this statement: the value for %s reads differently under "
		    "standard_conforming_strings on and off, and a statement sent before it "
		    "may change that setting; send it once that one has completed, or write "
		    "the string as E'...'",
		    e->column->qualified);
out:
	sql_plan_free(alt);
	sql_lex_set(prev);
	return rc;
}
