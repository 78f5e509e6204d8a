/* conn_cancel_registry.c - the registry of live backend keys: the sessions a CancelRequest can
 * name, each claimed by at most the cancels on their way. */
#include "conn/conn_internal.h"

#include <pthread.h>
#include <stdlib.h>

#define REG_BUCKETS 4096
#define CANCEL_MAX_INFLIGHT 32

/*
 * A live session's key. A cancel being forwarded holds its entry (inflight); a session that
 * ends meanwhile unlinks the entry, so no new cancel finds it, and learns that one is still
 * on its way: its backend must not then go to another client (conn_pool_release).
 */
struct conn_cancel_entry {
	struct conn_cancel_entry *next;
	uint32_t pid;
	uint32_t client_key; /* the key the client was given */
	uint32_t key;        /* the backend's own key, sent upstream */
	int inflight;        /* cancels forwarded with this entry, not yet delivered */
	bool unlinked;       /* the session ended: freed when the last cancel is done */
};

struct conn_cancel_registry {
	pthread_mutex_t mu;
	struct conn_cancel_entry *buckets[REG_BUCKETS];
	atomic_int inflight;
};

struct conn_cancel_registry *conn_cancel_registry_new(void)
{
	struct conn_cancel_registry *r = pgs_xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void conn_cancel_registry_free(struct conn_cancel_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < REG_BUCKETS; i++) {
		while (r->buckets[i]) {
			struct conn_cancel_entry *e = r->buckets[i];
			r->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t bucket(uint32_t pid)
{
	return (pid * 2654435761u) % REG_BUCKETS;
}

void conn_cancel_register(struct conn *c)
{
	struct conn_cancel_registry *r = c->env->cancel;
	struct conn_cancel_entry *e = pgs_xcalloc(1, sizeof(*e));
	e->pid = c->backend_pid;
	e->client_key = c->client_key;
	e->key = c->backend_key;
	pthread_mutex_lock(&r->mu);
	size_t b = bucket(e->pid);
	e->next = r->buckets[b];
	r->buckets[b] = e;
	pthread_mutex_unlock(&r->mu);
}

bool conn_cancel_unregister(struct conn *c)
{
	if (!c->has_backend_key)
		return false;
	c->has_backend_key = false;
	bool inflight = false;
	struct conn_cancel_registry *r = c->env->cancel;
	pthread_mutex_lock(&r->mu);
	for (struct conn_cancel_entry **pp = &r->buckets[bucket(c->backend_pid)]; *pp;
	     pp = &(*pp)->next) {
		struct conn_cancel_entry *e = *pp;
		if (e->pid == c->backend_pid && e->client_key == c->client_key) {
			*pp = e->next;
			if (e->inflight > 0) {
				inflight = true;
				e->unlinked = true; /* the last cancel frees it */
			} else {
				free(e);
			}
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return inflight;
}

struct conn_cancel_entry *conn_cancel_claim(struct conn_cancel_registry *r, uint32_t pid,
                                            uint32_t key, uint32_t *real)
{
	struct conn_cancel_entry *found = NULL;
	pthread_mutex_lock(&r->mu);
	for (struct conn_cancel_entry *e = r->buckets[bucket(pid)]; e; e = e->next) {
		/* the key is a secret of the session: compare without an early exit */
		if (e->pid == pid && CRYPTO_memcmp(&e->client_key, &key, sizeof(key)) == 0) {
			found = e;
			e->inflight++;
			*real = e->key;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return found;
}

void conn_cancel_release(struct conn_cancel_registry *r, struct conn_cancel_entry *e)
{
	pthread_mutex_lock(&r->mu);
	if (--e->inflight == 0 && e->unlinked)
		free(e);
	pthread_mutex_unlock(&r->mu);
}

bool conn_cancel_thread_begin(struct conn_cancel_registry *r)
{
	if (atomic_fetch_add(&r->inflight, 1) >= CANCEL_MAX_INFLIGHT) {
		atomic_fetch_sub(&r->inflight, 1);
		return false;
	}
	return true;
}

void conn_cancel_thread_end(struct conn_cancel_registry *r)
{
	atomic_fetch_sub(&r->inflight, 1);
}
