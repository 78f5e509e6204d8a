/* test_fle_lex.c - the session's lexing settings: standard_conforming_strings and client_encoding
 * from ParameterStatus, settledness, the encoding refusals, literals that read the same under both
 * settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fle/fle_internal.h"
#include "testlib.h"

/* The session's ParameterStatus values, as the session layer hands them to the layer. */
static struct {
	char names[8][64];
	char values[8][64];
	int n;
} params;

static const char *get_param(void *arg, const char *name)
{
	(void)arg;
	for (int i = 0; i < params.n; i++)
		if (!strcmp(params.names[i], name))
			return params.values[i];
	return NULL;
}

static void session(struct fle *c)
{
	memset(c, 0, sizeof(*c));
	params.n = 0;
	c->param = get_param;
}

static void report(struct fle *c, const char *name, const char *value)
{
	(void)c;
	int i = 0;
	while (i < params.n && strcmp(params.names[i], name))
		i++;
	if (i == params.n)
		params.n++;
	snprintf(params.names[i], sizeof(params.names[i]), "%s", name);
	snprintf(params.values[i], sizeof(params.values[i]), "%s", value);
}

static bool refused(struct fle *c, const char *text, bool boundary)
{
	struct sql_lex lex;
	char msg[512] = "";
	fle_lex_state(c, boundary, &lex);
	bool r = fle_lex_encoding_refusal(c, text, strlen(text), &lex, msg, sizeof(msg));
	/* a message names the setting, never the text */
	CHECK(!r || (strstr(msg, "client_encoding") && !strstr(msg, text)));
	return r;
}

static void test_standard_conforming_strings(void)
{
	struct fle c;
	session(&c);
	struct sql_lex lex;
	/* never reported: both readings possible */
	fle_lex_state(&c, true, &lex);
	CHECK(!lex.scs_off && !lex.settled);
	report(&c, "standard_conforming_strings", "on");
	fle_lex_state(&c, true, &lex);
	CHECK(!lex.scs_off && lex.settled);
	report(&c, "standard_conforming_strings", "off");
	fle_lex_state(&c, true, &lex);
	CHECK(lex.scs_off && lex.settled);
	CHECK(fle_lex_scs_off(&c));
	/* in the middle of a batch: not settled */
	fle_lex_state(&c, false, &lex);
	CHECK(lex.scs_off && !lex.settled);
	/* a request waiting for its answer: not settled; pgseal's catalog query: settled */
	fle_push(&c, EX_CATALOG, NULL);
	fle_lex_state(&c, true, &lex);
	CHECK(lex.settled);
	fle_push(&c, EX_QUERY, NULL);
	fle_lex_state(&c, true, &lex);
	CHECK(!lex.settled);
	fle_pop(&c);
	fle_pop(&c);
	fle_push(&c, EX_SYNC, NULL);
	fle_lex_state(&c, true, &lex);
	CHECK(!lex.settled);
	fle_pop(&c);
	fle_lex_state(&c, true, &lex);
	CHECK(lex.settled);
	/* an unknown value: neither */
	report(&c, "standard_conforming_strings", "maybe");
	fle_lex_state(&c, true, &lex);
	CHECK(!lex.scs_off && !lex.settled);
	free(c.fifo);
}

static void test_client_encoding(void)
{
	struct fle c;
	session(&c);
	report(&c, "standard_conforming_strings", "on");
	/* not reported yet: the byte rule applies */
	CHECK(refused(&c, "SELECT '\xc3\xa9x'", true));
	CHECK(!refused(&c, "SELECT 'abc\\'", true));
	report(&c, "client_encoding", "UTF8");
	CHECK(!refused(&c, "SELECT '\xc3\xa9x'", true));
	CHECK(!refused(&c, "SELECT '\\'", true));
	/* a change may be in flight: a non-ASCII byte before one in 0x30-0x7E is refused */
	CHECK(refused(&c, "SELECT '\xc3\xa9x'", false));
	CHECK(refused(&c, "SELECT '\x95\\'", false));
	CHECK(refused(&c,
	              "SELECT '\x81"
	              "0'",
	              false));
	CHECK(!refused(&c, "SELECT '\xc3\xa9 '", false));
	CHECK(!refused(&c, "SELECT '\xc3\xa9'", false));
	CHECK(!refused(&c, "SELECT 'ab\\c'", false));
	CHECK(!refused(&c, "SELECT '\x81/'", false));
	CHECK(refused(&c, "SELECT '\x81~'", false));
	CHECK(!refused(&c, "SELECT '\x81\x7f'", false));
	/* ASCII-safe encodings */
	static const char *const safe[] = {"LATIN1", "WIN1252",   "EUC_JP",        "EUC_KR",
	                                   "KOI8R",  "SQL_ASCII", "MULE_INTERNAL", "ISO_8859_5"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(safe); i++) {
		report(&c, "client_encoding", safe[i]);
		CHECK(!refused(&c, "SELECT 1 FROM people", true));
	}
	/* client-only encodings, as reported and as aliases: every text refused */
	static const char *const unsafe[] = {
	    "SJIS",  "SHIFT_JIS_2004", "BIG5",           "GBK",    "UHC",   "GB18030",
	    "JOHAB", "sjis",           "Shift-JIS-2004", "WIN932", "win950"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(unsafe); i++) {
		report(&c, "client_encoding", unsafe[i]);
		CHECK(refused(&c, "SELECT 1 FROM people", true));
	}
	/* close to a name is not the name */
	report(&c, "client_encoding", "SJIS2");
	CHECK(!refused(&c, "SELECT 1 FROM people", true));
	report(&c, "client_encoding", "BIG");
	CHECK(!refused(&c, "SELECT 1 FROM people", true));
}

static void test_literal(void)
{
	struct pgs_buf b = {0};
	fle_put_literal(&b, "a'b\\c");
	CHECK(b.len == strlen("E'a''b\\\\c'") && !memcmp(b.data, "E'a''b\\\\c'", b.len));
	pgs_buf_free(&b);
	fle_put_literal(&b, "");
	CHECK(b.len == 3 && !memcmp(b.data, "E''", 3));
	pgs_buf_free(&b);
}

int main(void)
{
	RUN(test_standard_conforming_strings);
	RUN(test_client_encoding);
	RUN(test_literal);
	return t_summary("test_fle_lex");
}
