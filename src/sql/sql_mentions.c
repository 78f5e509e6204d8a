/* sql_mentions.c - the fast path, without a parse: whether a statement text may concern encrypted
 * data, by the words it mentions (a configured table or view, a schema rename, EXECUTE). */
#include "sql/sql_internal.h"

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
