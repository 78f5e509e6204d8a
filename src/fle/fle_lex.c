/* fle_lex.c - how the server will lex the session's next statement text:
 * standard_conforming_strings and client_encoding from its ParameterStatus reports, and whether a
 * request in flight may change them first. */
#include "fle/fle_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * PostgreSQL (14 and later) reports a changed setting in a ParameterStatus just before the
 * ReadyForQuery that ends the request which changed it: a SET, set_config() in any query, a
 * RESET or DISCARD ALL, the end of a transaction that had a SET LOCAL. The startup options and
 * ALTER ROLE/DATABASE ... SET arrive the same way before the session's first ReadyForQuery,
 * and the pool's reset updates the values it keeps (conn_pool.c). So the tracked value is the
 * one in force for a text when every request the client sent before it has been answered with
 * ReadyForQuery, and the text starts a new batch (a Query, or the first message after a Sync).
 */

/* Nothing sent before the text is waiting for its ReadyForQuery. pgseal's own catalog query
 * changes no setting; every other request (Query, Execute, FunctionCall, a Sync not yet
 * answered) might, and a Parse in the middle of a batch follows messages whose changes are
 * reported only at the batch's end. */
static bool lex_settled(const struct fle *f, bool boundary)
{
	const struct fle *s = f;
	if (!boundary)
		return false;
	for (uint32_t i = 0; i < s->fifo_len; i++)
		if (s->fifo[(s->fifo_head + i) % s->fifo_cap].kind != EX_CATALOG)
			return false;
	return true;
}

void fle_lex_state(const struct fle *f, bool boundary, struct sql_lex *out)
{
	const char *scs = fle_param(f, "standard_conforming_strings");
	out->scs_off = scs && strcasecmp(scs, "off") == 0;
	/* never reported (not a PostgreSQL server?): both readings are possible */
	out->settled =
	    scs && (out->scs_off || strcasecmp(scs, "on") == 0) && lex_settled(f, boundary);
}

bool fle_lex_scs_off(const struct fle *f)
{
	const char *scs = fle_param(f, "standard_conforming_strings");
	return scs && strcasecmp(scs, "off") == 0;
}

/* Client-only encodings (PostgreSQL's PG_ENC_IS_CLIENT_ONLY): a character's second byte may be
 * an ASCII byte (0x40-0x7E, 0x30-0x39 in GB18030's four-byte form, from 0x31 in JOHAB), so the
 * server, which converts the text to its own encoding before lexing, sees a character where
 * pgseal sees a backslash or an operator. Every other encoding is ASCII-safe: all bytes of a
 * multibyte character are >= 0x80, and the two lexers agree. Names as the server reports them. */
static const char *const client_only[] = {"SJIS",   "SHIFT_JIS_2004", "BIG5",  "GBK",
                                          "UHC",    "GB18030",        "JOHAB", "WIN932",
                                          "WIN936", "WIN949",         "WIN950"};

/* Compares encoding names as PostgreSQL does: case, '-' and '_' do not matter. */
static bool enc_name_is(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_' || *a == '-')
			a++;
		while (*b == '_' || *b == '-')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if ((*a | 0x20) != (*b | 0x20))
			return false;
		a++;
		b++;
	}
}

static bool encoding_client_only(const char *enc)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(client_only); i++)
		if (enc_name_is(enc, client_only[i]))
			return true;
	return false;
}

/* A byte >= 0x80 followed by one in 0x30-0x7E: where a client-only encoding could put an ASCII
 * byte inside a character. In UTF-8 text this is a non-ASCII character followed by a letter,
 * digit or one of :;<=>?@[\]^_`{|}~ . */
static bool may_hide_ascii(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if ((uint8_t)text[i] >= 0x80 && (uint8_t)text[i + 1] >= 0x30 &&
		    (uint8_t)text[i + 1] <= 0x7e)
			return true;
	return false;
}

bool fle_lex_encoding_refusal(const struct fle *f, const char *text, size_t len,
                              const struct sql_lex *lex, char *msg, size_t cap)
{
	const char *enc = fle_param(f, "client_encoding");
	if (enc && encoding_client_only(enc)) {
		(void)snprintf(
		    msg, cap,
		    "pgseal refuses statements on encrypted tables while client_encoding "
		    "is %.32s: in that encoding a character can hold the byte of a "
		    "backslash or an operator, which pgseal would read differently from "
		    "the server; use UTF8 or another ASCII-safe encoding",
		    enc);
		return true;
	}
	if ((enc && lex->settled) || !may_hide_ascii(text, len))
		return false;
	(void)snprintf(
	    msg, cap,
	    "pgseal refuses this statement on encrypted tables: a statement sent before "
	    "it may change client_encoding, and in some encodings (SJIS, BIG5, GBK, ...) "
	    "its non-ASCII bytes would read differently; send it once that one has "
	    "completed");
	return true;
}

void fle_put_literal(struct pgs_buf *b, const char *s)
{
	/* E'...' reads a backslash as an escape under both settings; '...' would not */
	pgs_buf_append(b, "E'", 2);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			proto_put_u8(b, (uint8_t)*s);
		proto_put_u8(b, (uint8_t)*s);
	}
	proto_put_u8(b, '\'');
}
