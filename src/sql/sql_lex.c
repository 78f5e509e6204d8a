/* sql_lex.c - every libpg_query parse and scan, lexed as the session's server lexes them: the one
 * place that sets its scanner's standard_conforming_strings. */
#include "sql/sql_internal.h"

#include <string.h>

/* libpg_query keeps the scanner's settings in thread-local globals of its copy of scan.l
 * (src_backend_parser_scan.o), read by every pg_query_parse and pg_query_scan; the one place
 * pgseal names them. */
extern __thread bool standard_conforming_strings;
extern __thread bool escape_string_warning;

/* What this thread's analyses assume: set by sql_analyze_lex and sql_views_add for the span of
 * one analysis, restored after it. Default: on, PostgreSQL's default since 9.1. */
static __thread bool lex_scs_off;

bool sql_lex_set(bool scs_off)
{
	bool prev = lex_scs_off;
	lex_scs_off = scs_off;
	return prev;
}

PgQueryParseResult sql_lex_parse(const char *text)
{
	bool scs = standard_conforming_strings, warn = escape_string_warning;
	standard_conforming_strings = !lex_scs_off;
	/* a warning would go nowhere useful; never let the scanner format one from the text */
	escape_string_warning = false;
	PgQueryParseResult r = pg_query_parse(text);
	standard_conforming_strings = scs;
	escape_string_warning = warn;
	return r;
}

PgQueryScanResult sql_lex_scan(const char *text)
{
	bool scs = standard_conforming_strings, warn = escape_string_warning;
	standard_conforming_strings = !lex_scs_off;
	escape_string_warning = false;
	PgQueryScanResult r = pg_query_scan(text);
	standard_conforming_strings = scs;
	escape_string_warning = warn;
	return r;
}

bool sql_lex_neutral(const char *sql, size_t len)
{
	/* The two settings differ only in how a backslash inside '...' (or N'...') is read; U&'...'
	 * is an error under off, and that needs a backslash too to mean anything else than under
	 * on (without one, U&'abc' is refused by the server under off: nothing is stored). */
	return memchr(sql, '\\', strnlen(sql, len)) == NULL;
}
