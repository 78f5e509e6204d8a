/* schema.c - the loaded encryption schema: lookups by folded name, reference counting, the
 * current schema of a running proxy, and freeing. */
#include "schema/schema.h"
#include "schema/schema_internal.h"

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

static atomic_uint_fast64_t g_generation;

struct schema *schema_new(void)
{
	struct schema *s = pgs_xcalloc(1, sizeof(*s));
	s->generation = atomic_fetch_add(&g_generation, 1) + 1;
	atomic_init(&s->refs, 1);
	return s;
}

struct schema *schema_ref(struct schema *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void schema_unref(struct schema *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		schema_free(s);
}

void schema_current_init(struct schema_current *cur, struct schema *s)
{
	pthread_mutex_init(&cur->mu, NULL);
	cur->s = s;
	atomic_store(&cur->generation, s ? s->generation : 0);
}

struct schema *schema_current_get(struct schema_current *cur)
{
	pthread_mutex_lock(&cur->mu);
	struct schema *s = schema_ref(cur->s);
	pthread_mutex_unlock(&cur->mu);
	return s;
}

void schema_current_set(struct schema_current *cur, struct schema *s)
{
	pthread_mutex_lock(&cur->mu);
	struct schema *old = cur->s;
	cur->s = s;
	atomic_store(&cur->generation, s ? s->generation : 0);
	pthread_mutex_unlock(&cur->mu);
	schema_unref(old); /* freed here only when no session holds it any more */
}

uint64_t schema_current_generation(struct schema_current *cur)
{
	return atomic_load_explicit(&cur->generation, memory_order_relaxed);
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool column_same(const struct schema_column *a, const struct schema_column *b)
{
	return str_same(a->name, b->name) && a->type == b->type && a->type_oid == b->type_oid &&
	       a->searchable == b->searchable && str_same(a->client_id, b->client_id) &&
	       a->on_fail == b->on_fail && str_same(a->default_value, b->default_value) &&
	       a->position == b->position;
}

static bool table_same(const struct schema_table *a, const struct schema_table *b)
{
	if (!str_same(a->name, b->name) || a->ncolumns != b->ncolumns ||
	    a->nencrypted != b->nencrypted)
		return false;
	for (size_t i = 0; i < a->ncolumns; i++)
		if (!str_same(a->columns[i], b->columns[i]))
			return false;
	for (size_t i = 0; i < a->nencrypted; i++)
		if (!column_same(&a->encrypted[i], &b->encrypted[i]))
			return false;
	return true;
}

bool schema_same_encryption(const struct schema *a, const struct schema *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->ntables != b->ntables)
		return false;
	for (size_t i = 0; i < a->ntables; i++)
		if (!table_same(&a->tables[i], &b->tables[i]))
			return false;
	return true;
}

void schema_current_destroy(struct schema_current *cur)
{
	schema_unref(cur->s);
	cur->s = NULL;
	pthread_mutex_destroy(&cur->mu);
}
