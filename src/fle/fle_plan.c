/* fle_plan.c - the worker's plan cache: statement text and lexing settings -> the analysis,
 * shared by the worker's sessions. */
#include "fle/fle_internal.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

#define PLAN_CACHE_BUCKETS 1024u
#define PLAN_CACHE_MAX 8192u

/* ---- the per-worker plan cache -------------------------------------------------- */

struct plan_entry {
	struct plan_entry *next;
	uint64_t hash;
	uint8_t lex; /* lex_key: the settings the plan was made under */
	char *text;
	size_t len;
	struct sql_plan *plan;
};

/* The plans made under one schema (a SIGHUP reload makes a new one). */
struct plan_table {
	struct plan_table *retired; /* tables of older schemas: their plans may still be borrowed
	                             * by statements of sessions on those schemas */
	uint64_t generation;        /* the schema its plans were made under */
	struct plan_entry *buckets[PLAN_CACHE_BUCKETS];
	size_t n;
};

struct fle_plan_cache {
	struct plan_table *cur; /* the newest schema's, NULL until the first plan */
};

struct fle_plan_cache *fle_plan_cache_new(void)
{
	return pgs_xcalloc(1, sizeof(struct fle_plan_cache));
}

static void table_free(struct plan_table *t)
{
	while (t) {
		struct plan_table *older = t->retired;
		for (size_t i = 0; i < PLAN_CACHE_BUCKETS; i++) {
			while (t->buckets[i]) {
				struct plan_entry *e = t->buckets[i];
				t->buckets[i] = e->next;
				/* statement texts may hold literals of encrypted columns */
				crypto_wipe(e->text, e->len);
				free(e->text);
				sql_plan_free(e->plan);
				free(e);
			}
		}
		free(t);
		t = older;
	}
}

void fle_plan_cache_free(struct fle_plan_cache *pc)
{
	if (!pc)
		return;
	table_free(pc->cur);
	free(pc);
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/* The part of the cache key that the lexing settings make: 0 for a text that lexes the same
 * under both settings of standard_conforming_strings, else which one and whether settled. */
static uint8_t lex_key(const char *text, size_t len, const struct sql_lex *lex)
{
	if (sql_lex_neutral(text, len))
		return 0;
	return (uint8_t)(1 + (lex->scs_off ? 1 : 0) + (lex->settled ? 2 : 0));
}

struct sql_plan *fle_plan_get(struct fle *f, const char *text, size_t len,
                              const struct sql_lex *lex, bool *owned)
{
	struct fle_plan_cache *pc = f->plans;
	*owned = false;
	if (!pc) {
		/* a layer without a worker's cache (tests): every plan is the caller's */
		struct sql_plan *plan = NULL;
		if (sql_analyze_lex(f->schema, NULL, text, len, NULL, NULL, lex, &plan) != PGS_OK)
			return NULL;
		*owned = true;
		return plan;
	}
	if (!pc->cur || pc->cur->generation < f->schema->generation) {
		/* first use, or a reload: a new table; the old one is kept until the worker ends */
		struct plan_table *t = pgs_xcalloc(1, sizeof(*t));
		t->generation = f->schema->generation;
		t->retired = pc->cur;
		pc->cur = t;
	}
	struct plan_table *t = pc->cur;
	if (t->generation != f->schema->generation) {
		/* a session still on an older schema: its plans are made for it alone */
		struct sql_plan *plan = NULL;
		if (sql_analyze_lex(f->schema, NULL, text, len, NULL, NULL, lex, &plan) != PGS_OK)
			return NULL;
		*owned = true;
		return plan;
	}
	uint64_t h = fnv1a(text, len);
	uint8_t lk = lex_key(text, len, lex);
	struct plan_entry **bucket = &t->buckets[h % PLAN_CACHE_BUCKETS];
	for (struct plan_entry *e = *bucket; e; e = e->next)
		if (e->hash == h && e->lex == lk && e->len == len &&
		    memcmp(e->text, text, len) == 0)
			return e->plan;
	struct sql_plan *plan = NULL;
	if (sql_analyze_lex(f->schema, NULL, text, len, NULL, NULL, lex, &plan) != PGS_OK)
		return NULL;
	/* plans with literals hold plaintext values: they are not worth keeping */
	bool has_literals = false;
	for (size_t i = 0; i < plan->nedits; i++)
		if (plan->edits[i].kind == SQL_EDIT_LITERAL)
			has_literals = true;
	if (has_literals || !plan->cacheable || t->n >= PLAN_CACHE_MAX) {
		*owned = true;
		return plan;
	}
	struct plan_entry *e = pgs_xcalloc(1, sizeof(*e));
	e->hash = h;
	e->lex = lk;
	e->text = pgs_xmalloc(len + 1);
	memcpy(e->text, text, len);
	e->text[len] = 0;
	e->len = len;
	e->plan = plan;
	e->next = *bucket;
	*bucket = e;
	t->n++;
	return plan;
}
