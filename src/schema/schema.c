/* schema.c - the loaded encryption schema: lookups by folded name, and freeing. */
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>

const struct schema_table *schema_find_table(const struct schema *s, const char *name)
{
	if (!s || !name)
		return NULL;
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i].name, name))
			return &s->tables[i];
	return NULL;
}

const struct schema_column *schema_find_column(const struct schema_table *t, const char *name)
{
	if (!t || !name)
		return NULL;
	for (size_t i = 0; i < t->nencrypted; i++)
		if (!strcmp(t->encrypted[i].name, name))
			return &t->encrypted[i];
	return NULL;
}

int schema_column_position(const struct schema_table *t, const char *name)
{
	if (!t || !name)
		return -1;
	for (size_t i = 0; i < t->ncolumns; i++)
		if (!strcmp(t->columns[i], name))
			return (int)i;
	return -1;
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntables; i++) {
		struct schema_table *t = &s->tables[i];
		for (size_t j = 0; j < t->ncolumns; j++)
			free(t->columns[j]);
		free(t->columns);
		for (size_t j = 0; j < t->nencrypted; j++) {
			struct schema_column *c = &t->encrypted[j];
			free(c->name);
			free(c->qualified);
			free(c->client_id);
			free(c->default_value);
		}
		free(t->encrypted);
		free(t->name);
	}
	free(s->tables);
	free(s);
}
