/* keys_worker.c - per-worker-thread cache of column key contexts: lookups by name without
 * allocation. */
#include "keys/keys_internal.h"

#include <stdlib.h>
#include <string.h>

/* One slot per (client, table, column, version). version 0 slots map a column to its
 * current version: they hold no context of their own and are dropped when the keystore
 * changes in this process. Contexts of real versions never change and stay valid until
 * keys_worker_free, so pointers handed out never dangle. */
struct wslot {
	uint64_t hash;
	char *client, *table, *column;
	uint32_t version;
	uint32_t current;             /* version 0 slots: the version they resolve to */
	struct crypto_column_key *ck; /* owned (version != 0 slots) */
};

struct keys_worker {
	struct keys *k;
	unsigned change;
	size_t cap, n; /* open addressing, cap a power of two, n <= cap / 2 */
	struct wslot *slots;
};

static uint64_t hash_of(const char *c, const char *t, const char *o, uint32_t v)
{
	uint64_t h = 1469598103934665603ull;
	const char *parts[3] = {c, t, o};
	for (int i = 0; i < 3; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
			h = (h ^ *p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	h ^= v;
	h *= 1099511628211ull;
	return h ? h : 1;
}

struct keys_worker *keys_worker_new(struct keys *k)
{
	struct keys_worker *w = pgs_xcalloc(1, sizeof(*w));
	w->k = k;
	w->cap = 64;
	w->slots = pgs_xcalloc(w->cap, sizeof(*w->slots));
	w->change = keys_change_count(k);
	return w;
}

static void slot_free(struct wslot *s)
{
	free(s->client);
	free(s->table);
	free(s->column);
	crypto_column_key_free(s->ck);
	memset(s, 0, sizeof(*s));
}

void keys_worker_free(struct keys_worker *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->cap; i++)
		if (w->slots[i].hash)
			slot_free(&w->slots[i]);
	free(w->slots);
	free(w);
}

static struct wslot *lookup(struct keys_worker *w, uint64_t h, const char *c, const char *t,
                            const char *o, uint32_t v)
{
	for (size_t i = h & (w->cap - 1);; i = (i + 1) & (w->cap - 1)) {
		struct wslot *s = &w->slots[i];
		if (!s->hash)
			return s; /* empty: where it would go */
		if (s->hash == h && s->version == v && !strcmp(s->column, o) &&
		    !strcmp(s->table, t) && !strcmp(s->client, c))
			return s;
	}
}

static void rehash(struct keys_worker *w, size_t cap, bool drop_current)
{
	struct wslot *old = w->slots;
	size_t oldcap = w->cap;
	w->slots = pgs_xcalloc(cap, sizeof(*w->slots));
	w->cap = cap;
	w->n = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].hash)
			continue;
		if (drop_current && old[i].version == 0) {
			slot_free(&old[i]);
			continue;
		}
		struct wslot *s = lookup(w, old[i].hash, old[i].client, old[i].table, old[i].column,
		                         old[i].version);
		*s = old[i];
		w->n++;
	}
	free(old);
}

static struct wslot *insert(struct keys_worker *w, uint64_t h, const char *c, const char *t,
                            const char *o, uint32_t v)
{
	if ((w->n + 1) * 2 > w->cap)
		rehash(w, w->cap * 2, false);
	struct wslot *s = lookup(w, h, c, t, o, v);
	s->hash = h;
	s->client = pgs_xstrdup(c);
	s->table = pgs_xstrdup(t);
	s->column = pgs_xstrdup(o);
	s->version = v;
	w->n++;
	return s;
}

int keys_worker_version(struct keys_worker *w, const char *client_id, const char *table,
                        const char *column, uint32_t key_id, struct crypto_column_key **out)
{
	const char *c = client_id ? client_id : KEYS_DEFAULT_CLIENT;
	*out = NULL;
	if (key_id == 0 || !table || !column)
		return PGS_ERR;
	uint64_t h = hash_of(c, table, column, key_id);
	struct wslot *s = lookup(w, h, c, table, column, key_id);
	if (!s->hash) {
		struct crypto_column_key *ck;
		if (keys_make_ctx(w->k, c, table, column, key_id, &ck) != PGS_OK)
			return PGS_ERR;
		s = insert(w, h, c, table, column, key_id);
		s->ck = ck;
	}
	*out = s->ck;
	return PGS_OK;
}

int keys_worker_current(struct keys_worker *w, const char *client_id, const char *table,
                        const char *column, struct crypto_column_key **out)
{
	const char *c = client_id ? client_id : KEYS_DEFAULT_CLIENT;
	*out = NULL;
	if (!table || !column)
		return PGS_ERR;
	unsigned ch = keys_change_count(w->k);
	if (ch != w->change) {
		rehash(w, w->cap, true);
		w->change = ch;
	}
	uint64_t h = hash_of(c, table, column, 0);
	struct wslot *s = lookup(w, h, c, table, column, 0);
	if (!s->hash) {
		struct crypto_column_key *ck;
		/* resolve the newest version, then share that version's slot */
		if (keys_make_ctx(w->k, c, table, column, 0, &ck) != PGS_OK)
			return PGS_ERR;
		uint32_t v = crypto_column_key_id(ck);
		crypto_column_key_free(ck);
		struct crypto_column_key *vk;
		if (keys_worker_version(w, c, table, column, v, &vk) != PGS_OK)
			return PGS_ERR;
		s = insert(w, h, c, table, column, 0);
		s->current = v;
		*out = vk;
		return PGS_OK;
	}
	return keys_worker_version(w, c, table, column, s->current, out);
}
