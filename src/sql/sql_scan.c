/* sql_scan.c - tokens of the statement text (libpg_query's scanner) and exact extents of constants
 * and column refs. */
#include "sql/sql_internal.h"

#include <openssl/crypto.h>
#include <pg_query.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The scanner answers in protobuf; its two message types are small enough to read by hand
 * (ScanResult{1: version, 2: repeated ScanToken}, ScanToken{1: start, 2: end, 4: token,
 * 5: keyword_kind}), which spares a dependency on protobuf-c's headers. */
static int pb_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*pos >= n)
			return PGS_ERR;
		uint8_t b = p[(*pos)++];
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return PGS_OK;
		}
	}
	return PGS_ERR;
}

static int pb_skip(const uint8_t *p, size_t n, size_t *pos, unsigned wt)
{
	uint64_t v;
	switch (wt) {
	case 0:
		return pb_varint(p, n, pos, &v);
	case 1:
		if (n - *pos < 8)
			return PGS_ERR;
		*pos += 8;
		return PGS_OK;
	case 2:
		if (pb_varint(p, n, pos, &v) < 0 || v > n - *pos)
			return PGS_ERR;
		*pos += (size_t)v;
		return PGS_OK;
	case 5:
		if (n - *pos < 4)
			return PGS_ERR;
		*pos += 4;
		return PGS_OK;
	default:
		return PGS_ERR;
	}
}

static int pb_token(const uint8_t *p, size_t n, struct sql_tok *t)
{
	size_t pos = 0;
	memset(t, 0, sizeof(*t));
	while (pos < n) {
		uint64_t key, v;
		if (pb_varint(p, n, &pos, &key) < 0)
			return PGS_ERR;
		unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
		if (wt != 0) {
			if (pb_skip(p, n, &pos, wt) < 0)
				return PGS_ERR;
			continue;
		}
		if (pb_varint(p, n, &pos, &v) < 0)
			return PGS_ERR;
		if (field == 1)
			t->start = (int)v;
		else if (field == 2)
			t->end = (int)v;
		else if (field == 4)
			t->kind = (int)v;
		else if (field == 5)
			t->kw = (int)v;
	}
	return PGS_OK;
}

int sql_scan(struct sql_ctx *c)
{
	if (c->scanned)
		return c->scan_failed ? PGS_ERR : PGS_OK;
	c->scanned = true;
	PgQueryScanResult r = sql_lex_scan(c->sql);
	int rc = -1;
	if (r.error)
		goto out;
	const uint8_t *p = (const uint8_t *)r.pbuf.data;
	size_t n = r.pbuf.len, pos = 0, cap = 0;
	while (pos < n) {
		uint64_t key, v;
		if (pb_varint(p, n, &pos, &key) < 0)
			goto out;
		unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
		if (field != 2 || wt != 2) {
			if (pb_skip(p, n, &pos, wt) < 0)
				goto out;
			continue;
		}
		if (pb_varint(p, n, &pos, &v) < 0 || v > n - pos)
			goto out;
		struct sql_tok t;
		if (pb_token(p + pos, (size_t)v, &t) < 0)
			goto out;
		pos += (size_t)v;
		if (t.start < 0 || t.end < 0 || (size_t)t.end > c->len || (size_t)t.start > c->len)
			goto out;
		if (c->ntoks == cap) {
			cap = cap ? cap * 2 : 64;
			c->toks = pgs_xrealloc(c->toks, cap * sizeof(*c->toks));
		}
		c->toks[c->ntoks++] = t;
	}
	/* The scanner leaves the end of some tokens (U&'...') unset: they end where the next
	 * token starts, less whitespace. Then comments go. */
	size_t w = 0;
	for (size_t i = 0; i < c->ntoks; i++) {
		struct sql_tok *t = &c->toks[i];
		if (t->end <= t->start) {
			int e = i + 1 < c->ntoks ? c->toks[i + 1].start : (int)c->len;
			while (e > t->start && (c->sql[e - 1] == ' ' || c->sql[e - 1] == '\t' ||
			                        c->sql[e - 1] == '\n' || c->sql[e - 1] == '\r' ||
			                        c->sql[e - 1] == '\f'))
				e--;
			t->end = e;
		}
		if (i > 0 && t->start < c->toks[i - 1].start)
			goto out;
		if (t->kind == SQL_T_SQL_COMMENT || t->kind == SQL_T_C_COMMENT)
			continue;
		c->toks[w++] = *t;
	}
	c->ntoks = w;
	rc = 0;
out:
	pg_query_free_scan_result(r);
	if (rc < 0)
		c->scan_failed = true;
	return rc;
}

int sql_tok_at(const struct sql_ctx *c, int offset)
{
	size_t lo = 0, hi = c->ntoks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->toks[mid].start < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < c->ntoks && c->toks[lo].start == offset) ? (int)lo : -1;
}

static bool tok_is_word(const struct sql_tok *t)
{
	return t->kind == SQL_T_IDENT || t->kind == SQL_T_UIDENT || t->kw != SQL_KW_NONE;
}

static bool tok_text_is(const struct sql_ctx *c, size_t i, const char *w)
{
	if (i >= c->ntoks)
		return false;
	size_t n = (size_t)(c->toks[i].end - c->toks[i].start);
	return n == strlen(w) && strncasecmp(c->sql + c->toks[i].start, w, n) == 0;
}

/* A column reference: nfields words joined by dots, starting at its location. */
int sql_ref_extent(struct sql_ctx *c, json_t *colref, uint32_t *start, uint32_t *end)
{
	json_t *fields = json_object_get(colref, "fields");
	json_int_t loc = json_integer_value(json_object_get(colref, "location"));
	size_t nf = json_array_size(fields);
	if (sql_scan(c) < 0 || nf == 0)
		return PGS_ERR;
	int i = sql_tok_at(c, (int)loc);
	if (i < 0)
		return PGS_ERR;
	size_t k = (size_t)i;
	for (size_t f = 0; f < nf; f++) {
		if (f > 0) {
			if (k >= c->ntoks || c->toks[k].kind != SQL_T_DOT)
				return PGS_ERR;
			k++;
		}
		if (k >= c->ntoks || !tok_is_word(&c->toks[k]))
			return PGS_ERR;
		k++;
		/* U&"..." UESCAPE '!' */
		if (c->toks[k - 1].kind == SQL_T_UIDENT && tok_text_is(c, k, "uescape"))
			k += 2;
	}
	if (k > c->ntoks || (k < c->ntoks && c->toks[k].kind == SQL_T_DOT))
		return PGS_ERR;
	*start = (uint32_t)c->toks[i].start;
	*end = (uint32_t)c->toks[k - 1].end;
	return PGS_OK;
}

static size_t skip_parens(const struct sql_ctx *c, size_t k)
{
	/* k is at '(' or '['; returns the index after the matching close, or ntoks+1 */
	int depth = 0;
	for (; k < c->ntoks; k++) {
		int kd = c->toks[k].kind;
		if (kd == SQL_T_LPAREN || kd == SQL_T_LBRACK)
			depth++;
		else if (kd == SQL_T_RPAREN || kd == SQL_T_RBRACK) {
			if (--depth == 0)
				return k + 1;
		}
	}
	return c->ntoks + 1;
}

static const char *const stop_words[] = {
    "and",       "or",      "not",  "is",   "isnull",  "notnull", "like",    "ilike", "similar",
    "overlaps",  "between", "in",   "at",   "collate", "escape",  "uescape", "from",  "where",
    "returning", "on",      "then", "else", "end",     "when",    "as",      "using"};

static bool is_stop_word(const struct sql_ctx *c, size_t k)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(stop_words); i++)
		if (tok_text_is(c, k, stop_words[i]))
			return true;
	return false;
}

/* Consumes a type name after `::` or before a string (DATE '...'): words, dots, typmods,
 * array bounds, WITH/WITHOUT TIME ZONE. Imprecision here is caught by the re-parse check. */
static size_t skip_typename(const struct sql_ctx *c, size_t k)
{
	bool progress = true;
	while (progress && k < c->ntoks) {
		progress = false;
		const struct sql_tok *t = &c->toks[k];
		if (t->kind == SQL_T_DOT) {
			k++;
			progress = true;
		} else if ((tok_text_is(c, k, "with") || tok_text_is(c, k, "without")) &&
		           tok_text_is(c, k + 1, "time")) {
			k += 1;
			progress = true;
		} else if (tok_text_is(c, k, "array")) {
			k++;
			progress = true;
		} else if (tok_is_word(t) && t->kw != SQL_KW_RESERVED && !is_stop_word(c, k)) {
			k++;
			progress = true;
		} else if ((t->kind == SQL_T_LPAREN || t->kind == SQL_T_LBRACK) && k > 0) {
			k = skip_parens(c, k);
			progress = k <= c->ntoks;
		}
	}
	return k;
}

static bool is_const_tok(int kind)
{
	return kind == SQL_T_SCONST || kind == SQL_T_USCONST || kind == SQL_T_BCONST ||
	       kind == SQL_T_XCONST || kind == SQL_T_ICONST || kind == SQL_T_FCONST ||
	       kind == SQL_T_PARAM;
}

int sql_min_location(json_t *node)
{
	int best = -1;
	if (json_is_object(node)) {
		const char *key;
		json_t *v;
		json_object_foreach(node, key, v)
		{
			int l = -1;
			if (strcmp(key, "location") == 0 && json_is_integer(v))
				l = (int)json_integer_value(v);
			else if (json_is_object(v) || json_is_array(v))
				l = sql_min_location(v);
			if (l >= 0 && (best < 0 || l < best))
				best = l;
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v)
		{
			int l = sql_min_location(v);
			if (l >= 0 && (best < 0 || l < best))
				best = l;
		}
	}
	return best;
}

static void strip_locations(json_t *node)
{
	if (json_is_object(node)) {
		json_object_del(node, "location");
		const char *key;
		json_t *v;
		json_object_foreach(node, key, v) strip_locations(v);
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v) strip_locations(v);
	}
}

/* The extent is right when the text alone parses to the same expression. */
static bool extent_verified(struct sql_ctx *c, json_t *node, uint32_t start, uint32_t end)
{
	size_t n = end - start;
	char *q = pgs_xmalloc(n + 8);
	memcpy(q, "SELECT ", 7);
	memcpy(q + 7, c->sql + start, n);
	q[n + 7] = '\0';
	PgQueryParseResult r = sql_lex_parse(q);
	bool ok = false;
	json_t *root = NULL, *a = NULL;
	if (!r.error && r.parse_tree)
		root = json_loads(r.parse_tree, 0, NULL);
	json_t *stmts = json_object_get(root, "stmts");
	if (json_array_size(stmts) == 1) {
		json_t *sel =
		    sql_node_is(json_object_get(json_array_get(stmts, 0), "stmt"), "SelectStmt");
		json_t *tl = json_object_get(sel, "targetList");
		if (sel && json_object_size(sel) == 3 && json_array_size(tl) == 1) {
			json_t *rt = sql_node_is(json_array_get(tl, 0), "ResTarget");
			json_t *val = json_object_get(rt, "val");
			if (val && json_object_size(rt) == 2) {
				a = json_deep_copy(val);
				json_t *b = json_deep_copy(node);
				strip_locations(a);
				strip_locations(b);
				ok = json_equal(a, b);
				json_decref(b);
			}
		}
	}
	json_decref(a);
	json_decref(root);
	if (r.parse_tree)
		OPENSSL_cleanse(r.parse_tree, strlen(r.parse_tree));
	pg_query_free_parse_result(r);
	OPENSSL_cleanse(q, n + 8);
	free(q);
	return ok;
}

int sql_const_extent(struct sql_ctx *c, json_t *node, uint32_t *start, uint32_t *end)
{
	int loc = sql_min_location(node);
	if (sql_scan(c) < 0 || loc < 0)
		return PGS_ERR;
	int i = sql_tok_at(c, loc);
	if (i < 0)
		return PGS_ERR;
	size_t k = (size_t)i;
	if (c->toks[k].kind == SQL_T_MINUS || c->toks[k].kind == SQL_T_PLUS)
		k++;
	if (k < c->ntoks && tok_text_is(c, k, "cast") && k + 1 < c->ntoks &&
	    c->toks[k + 1].kind == SQL_T_LPAREN) {
		k = skip_parens(c, k + 1);
	} else if (k < c->ntoks && (is_const_tok(c->toks[k].kind) || tok_text_is(c, k, "null") ||
	                            tok_text_is(c, k, "true") || tok_text_is(c, k, "false"))) {
		int kind = c->toks[k].kind;
		k++;
		if (kind == SQL_T_SCONST)
			while (k < c->ntoks && c->toks[k].kind == SQL_T_SCONST)
				k++;
		if (kind == SQL_T_USCONST && tok_text_is(c, k, "uescape"))
			k += 2;
	} else {
		/* typename 'string' [interval qualifier] */
		k = skip_typename(c, k);
		if (k >= c->ntoks || c->toks[k].kind != SQL_T_SCONST)
			return PGS_ERR;
		k++;
		k = skip_typename(c, k);
	}
	while (k < c->ntoks && c->toks[k].kind == SQL_T_TYPECAST)
		k = skip_typename(c, k + 1);
	if (k > c->ntoks || k == (size_t)i)
		return PGS_ERR;
	*start = (uint32_t)c->toks[i].start;
	*end = (uint32_t)c->toks[k - 1].end;
	/* A single token needs no check; anything longer must re-parse to the same tree. */
	if ((k - (size_t)i > 1 || !sql_node_is(node, "A_Const")) &&
	    !extent_verified(c, node, *start, *end))
		return PGS_ERR;
	return PGS_OK;
}

int sql_const_value(struct sql_ctx *c, json_t *node, char **val, size_t *vlen, bool *isnull)
{
	json_t *b;
	*val = NULL;
	*vlen = 0;
	*isnull = false;
	for (int guard = 0; guard < 64; guard++) {
		if ((b = sql_node_is(node, "TypeCast"))) {
			node = json_object_get(b, "arg");
			continue;
		}
		b = sql_node_is(node, "A_Const");
		if (!b)
			return PGS_ERR;
		if (json_is_true(json_object_get(b, "isnull"))) {
			*isnull = true;
			return PGS_OK;
		}
		json_t *v;
		const char *s = NULL;
		if ((v = json_object_get(b, "sval")))
			s = sql_jstr(v, "sval");
		else if ((v = json_object_get(b, "fval")))
			s = sql_jstr(v, "fval");
		else if (json_object_get(b, "bsval"))
			return PGS_ERR; /* B'..' / X'..' are bit strings: their text form is not the
			              literal's */
		else if ((v = json_object_get(b, "boolval")))
			s = json_is_true(json_object_get(v, "boolval")) ? "true" : "false";
		else if (json_object_get(b, "ival")) {
			/* the JSON output drops negative and zero integers: read the source tokens
			 */
			int loc = (int)json_integer_value(json_object_get(b, "location"));
			if (sql_scan(c) < 0)
				return PGS_ERR;
			int i = sql_tok_at(c, loc);
			if (i < 0)
				return PGS_ERR;
			size_t k = (size_t)i;
			bool neg = c->toks[k].kind == SQL_T_MINUS;
			if (neg)
				k++;
			if (k >= c->ntoks || c->toks[k].kind != SQL_T_ICONST)
				return PGS_ERR;
			size_t n = (size_t)(c->toks[k].end - c->toks[k].start);
			char *o = pgs_xmalloc(n + 2);
			size_t p = 0;
			if (neg)
				o[p++] = '-';
			memcpy(o + p, c->sql + c->toks[k].start, n);
			o[p + n] = '\0';
			*val = o;
			*vlen = p + n;
			return PGS_OK;
		}
		if (!s)
			s = "";
		*vlen = strlen(s);
		*val = pgs_xstrdup(s);
		return PGS_OK;
	}
	return PGS_ERR;
}
