/* sql_mentions.c - the fast path, without a parse: whether a statement text may concern encrypted
 * data, by the words it mentions (a configured table or view, a schema rename, EXECUTE). */
#include "sql/sql_internal.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

bool sql_text_mentions(const char *text, size_t len, const char *word)
{
	size_t m = strlen(word);
	for (size_t i = 0; m && i + m <= len; i++)
		if (strncasecmp(text + i, word, m) == 0)
			return true;
	return false;
}

bool sql_may_rename_schema(const char *sql, size_t len)
{
	return sql_text_mentions(sql, len, "rename") && sql_text_mentions(sql, len, "schema");
}

bool sql_may_touch(const struct schema *s, const char *sql, size_t len)
{
	if (!s || s->ntables == 0)
		return false;
	/* U&"..." identifiers can spell any name with escapes: assume the worst. */
	if (sql_text_mentions(sql, len, "u&\""))
		return true;
	/* ALTER SCHEMA app RENAME TO ...: names no table, but the config's `app.accounts` */
	if (sql_may_rename_schema(sql, len))
		return true;
	for (size_t i = 0; i < s->ntables; i++) {
		const char *name = s->tables[i].name;
		const char *dot = strrchr(name, '.');
		const char *rel = dot ? dot + 1 : name;
		if (sql_text_mentions(sql, len, rel))
			return true;
	}
	return false;
}

bool sql_may_execute(const char *sql, size_t len)
{
	return sql_text_mentions(sql, len, "execute");
}

bool sql_views_may_touch(const struct sql_views *vs, const char *sql, size_t len)
{
	if (!vs || vs->n == 0)
		return false;
	if (sql_text_mentions(sql, len, "u&\"") || sql_may_rename_schema(sql, len))
		return true; /* ALTER SCHEMA s RENAME: s.v becomes t.v, the text names no view */
	for (size_t i = 0; i < vs->n; i++)
		if (sql_text_mentions(sql, len, vs->v[i].name))
			return true;
	return false;
}

/* ---- the one pass ----------------------------------------------------------------- */

static bool word_start(unsigned char ch)
{
	return ch >= 0x80 || ch == '_' || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

/* A keyword at i as a word of its own (as fle_prepared's keyword test: a letter, '_' or a
 * non-ASCII byte before it, or a letter, '_', '$', digit or non-ASCII byte after it, makes it part
 * of a longer identifier). */
static bool keyword_at(const char *text, size_t len, size_t i, const char *kw, size_t m)
{
	if (i + m > len || strncasecmp(text + i, kw, m) != 0)
		return false;
	if (i > 0 && word_start((unsigned char)text[i - 1]))
		return false;
	unsigned char next = i + m < len ? (unsigned char)text[i + m] : 0;
	return !word_start(next) && next != '$' && !(next >= '0' && next <= '9');
}

static bool word_at(const char *text, size_t len, size_t i, const char *w, size_t m)
{
	return m && i + m <= len && strncasecmp(text + i, w, m) == 0;
}

static const char *table_rel(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

/* The bit of a word's first byte, case folded as strncasecmp folds it. */
static void mark_first(uint64_t first[4], const char *w)
{
	unsigned char c = (unsigned char)tolower((unsigned char)w[0]);
	if (w[0])
		first[c >> 6] |= 1ull << (c & 63);
}

void sql_scan_mentions(const struct schema *s, const struct sql_views *vs, const char *sql,
                       size_t len, struct sql_mentions *out)
{
	bool tables = s && s->ntables > 0, views = vs && vs->n > 0;
	bool uamp = false, rename = false, schema_w = false, found_table = false,
	     found_view = false, execute = false, prepared = false;
	/* the first bytes of the names looked for: the other offsets are passed at once */
	uint64_t first[4] = {0};
	for (size_t t = 0; tables && t < s->ntables; t++)
		mark_first(first, table_rel(s->tables[t].name));
	for (size_t v = 0; views && v < vs->n; v++)
		mark_first(first, vs->v[v].name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)sql[i]);
		switch (c) {
		case 'u':
			uamp = uamp || word_at(sql, len, i, "u&\"", 3);
			break;
		case 'r':
			rename = rename || word_at(sql, len, i, "rename", 6);
			break;
		case 's':
			schema_w = schema_w || word_at(sql, len, i, "schema", 6);
			break;
		case 'e':
			execute = execute || keyword_at(sql, len, i, "execute", 7);
			break;
		case 'p':
			prepared = prepared || keyword_at(sql, len, i, "prepare", 7);
			break;
		case 'd':
			prepared = prepared || keyword_at(sql, len, i, "deallocate", 10) ||
			           keyword_at(sql, len, i, "discard", 7);
			break;
		default:
			break;
		}
		if (!(first[c >> 6] & (1ull << (c & 63))))
			continue;
		for (size_t t = 0; tables && !found_table && t < s->ntables; t++) {
			const char *rel = table_rel(s->tables[t].name);
			found_table = word_at(sql, len, i, rel, strlen(rel));
		}
		for (size_t v = 0; views && !found_view && v < vs->n; v++)
			found_view = word_at(sql, len, i, vs->v[v].name, strlen(vs->v[v].name));
	}
	bool any_rename = uamp || (rename && schema_w);
	out->tables = tables && (found_table || any_rename);
	out->views = views && (found_view || any_rename);
	out->execute = execute;
	out->prepared = prepared || execute;
}
