/* keys.c - boot (unseal or create), keystore changes (ensure, rotate), per-worker key contexts,
 * status. */
#include "keys/keys_internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

struct keys {
	enum keys_provider provider;
	char *sealed_path;
	char *next_path; /* <sealed>.next: the new blob during a master rotation */
	char *keystore_path;
	uint8_t *master;  /* secure memory */
	uint8_t *sealing; /* secure memory; only with KEYS_OPEN_KEEP_SEALING */
	uint32_t master_gen;
	bool created_now;
	bool env_master;      /* provider env without a blob: PGSEAL_MASTER_KEY is the master key */
	struct keys_store st; /* guarded by lock */
	pthread_rwlock_t lock;
	atomic_uint change; /* bumped on every in-process keystore change */
};

static char *path_or_default(const struct config *cfg, const char *p, const char *def)
{
	if (p)
		return pgs_xstrdup(p);
	const char *dir = cfg->dir && *cfg->dir ? cfg->dir : ".";
	size_t n = strlen(dir) + strlen(def) + 2;
	char *r = pgs_xmalloc(n);
	snprintf(r, n, "%s/%s", dir, def);
	return r;
}

static int persist_locked(struct keys *k, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (keys_store_encode(&k->st, k->master, &buf, &len) != PGS_OK) {
		pgs_errf(err, errlen, "keystore: encoding failed");
		return PGS_ERR;
	}
	int rc = keys_file_write(k->keystore_path, buf, len, false, err, errlen);
	free(buf);
	return rc;
}

/* Reads and unseals the blob at path; checks its provider against the configured one. */
static int unseal(struct keys *k, const char *path, const uint8_t *sealing,
                  struct keys_sealed_hdr *h, uint8_t *master, char *err, size_t errlen)
{
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc = PGS_ERR;
	int r = keys_file_read(path, 4096, false, &blob, &len, err, errlen);
	if (r == 1)
		pgs_errf(err, errlen, "%s: does not exist", path);
	if (r != PGS_OK)
		return PGS_ERR;
	if (keys_sealed_parse(blob, len, h) != PGS_OK) {
		pgs_errf(err, errlen,
		         "%s: not a pgseal sealed master key (bad format or truncated)", path);
		goto out;
	}
	if (h->provider != k->provider) {
		pgs_errf(err, errlen, "%s: sealed by provider '%s' but keys.provider is '%s'", path,
		         keys_provider_str((enum keys_provider)h->provider),
		         keys_provider_str(k->provider));
		goto out;
	}
	if (keys_sealed_open(sealing, blob, len, h, master) != PGS_OK) {
		pgs_errf(
		    err, errlen,
		    "%s: cannot unseal the master key (tampered, or another sealing key: other "
		    "app measurement, compose hash or key)",
		    path);
		goto out;
	}
	rc = PGS_OK;
out:
	free(blob);
	return rc;
}

static int create_master(struct keys *k, const uint8_t *sealing, char *err, size_t errlen)
{
	struct keys_sealed_hdr h = {1, (uint8_t)k->provider, 1, (uint64_t)time(NULL)};
	uint8_t blob[KEYS_SEALED_LEN];
	if (crypto_random(k->master, CRYPTO_KEY_LEN) != PGS_OK ||
	    keys_sealed_seal(sealing, &h, k->master, blob) != PGS_OK) {
		pgs_errf(err, errlen, "sealing the new master key failed");
		return PGS_ERR;
	}
	k->master_gen = 1;
	k->st.master_gen = 1;
	/* blob first (never replacing one). A crash between the two writes leaves a blob
	 * without keystore, which the next boot refuses: `keys init --new-keystore` then
	 * (nothing was encrypted yet, docs/keys.md). */
	if (keys_file_write(k->sealed_path, blob, sizeof(blob), true, err, errlen) != PGS_OK)
		return PGS_ERR;
	if (persist_locked(k, err, errlen) != PGS_OK)
		return PGS_ERR;
	k->created_now = true;
	log_info("keys: created and sealed a new master key (%s, provider %s)", k->sealed_path,
	         keys_provider_str(k->provider));
	return PGS_OK;
}

/* A blob without its keystore: the data keys are lost (or the file is elsewhere). Fresh
 * keys would make every stored row undecryptable, and restoring the old keystore later
 * would orphan the rows written in between, so only an explicit `keys init
 * --new-keystore` (new_keystore) creates an empty one. */
static int load_keystore(struct keys *k, const uint8_t *sealing, bool new_keystore, char *err,
                         size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char e2[256];
	int rc = PGS_ERR;
	int r = keys_file_read(k->keystore_path, KEYS_FILE_MAX, false, &buf, &len, err, errlen);
	if (r == 1) {
		if (!new_keystore) {
			pgs_errf(
			    err, errlen,
			    "%s: the keystore is missing but its sealed master key %s exists: "
			    "refusing to start with new data keys (rows already stored would no "
			    "longer decrypt). Restore the keystore; to start over on purpose, run "
			    "`pgseal keys init --config FILE --new-keystore`",
			    k->keystore_path, k->sealed_path);
			return PGS_ERR;
		}
		k->st.master_gen = k->master_gen;
		if (keys_store_encode(&k->st, k->master, &buf, &len) != PGS_OK) {
			pgs_errf(err, errlen, "keystore: encoding failed");
			return PGS_ERR;
		}
		/* no_replace: a keystore that appeared meanwhile is kept, and this fails */
		rc = keys_file_write(k->keystore_path, buf, len, true, err, errlen);
		free(buf);
		if (rc == PGS_OK)
			log_warn("keys: created an empty keystore %s under the existing master key "
			         "(--new-keystore)",
			         k->keystore_path);
		return rc;
	}
	if (new_keystore) {
		free(buf);
		pgs_errf(err, errlen,
		         "%s already exists: refusing to replace it (--new-keystore is for a "
		         "keystore that is missing)",
		         k->keystore_path);
		return PGS_ERR;
	}
	if (r != PGS_OK)
		return PGS_ERR;
	if (keys_store_decode(buf, len, k->master, &k->st, e2, sizeof(e2)) == PGS_OK) {
		if (k->st.master_gen != k->master_gen) {
			pgs_errf(err, errlen,
			         "%s: keystore is for master key generation %u, blob is %u",
			         k->keystore_path, k->st.master_gen, k->master_gen);
			goto out;
		}
		rc = PGS_OK;
		goto out;
	}
	/* An interrupted master rotation leaves the keystore under the blob in <sealed>.next. */
	if (keys_file_exists(k->next_path)) {
		struct keys_sealed_hdr h;
		uint8_t *m2 = crypto_secure_alloc(CRYPTO_KEY_LEN);
		char e3[256];
		if (unseal(k, k->next_path, sealing, &h, m2, e3, sizeof(e3)) == PGS_OK &&
		    h.master_gen == k->master_gen + 1 &&
		    keys_store_decode(buf, len, m2, &k->st, e3, sizeof(e3)) == PGS_OK &&
		    k->st.master_gen == h.master_gen) {
			if (rename(k->next_path, k->sealed_path) == 0) {
				memcpy(k->master, m2, CRYPTO_KEY_LEN);
				k->master_gen = h.master_gen;
				log_warn("keys: completed an interrupted master-key rotation "
				         "(generation %u)",
				         h.master_gen);
				crypto_secure_free(m2);
				rc = PGS_OK;
				goto out;
			}
		}
		keys_store_clear(&k->st);
		crypto_secure_free(m2);
	}
	pgs_errf(err, errlen, "%s: %s", k->keystore_path, e2);
out:
	free(buf);
	return rc;
}

/*
 * Provider env with a keystore but no sealed blob: PGSEAL_MASTER_KEY is then the master key
 * itself, as recovered from an escrow (docs/keys.md, "Recovering the master key without
 * pgseal"). The keystore is authenticated under the master key, so a wrong key is refused
 * here. Nothing is written: no blob is created (`pgseal keys recover` seals one).
 */
static int open_env_master(struct keys *k, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char e2[256];
	int rc = PGS_ERR;
	if (keys_provider_env_raw(k->master, err, errlen) != PGS_OK)
		return PGS_ERR;
	int r = keys_file_read(k->keystore_path, KEYS_FILE_MAX, false, &buf, &len, err, errlen);
	if (r != PGS_OK)
		return PGS_ERR;
	if (keys_store_decode(buf, len, k->master, &k->st, e2, sizeof(e2)) != PGS_OK) {
		pgs_errf(err, errlen,
		         "%s: its sealed master key %s is missing (restore the blob), and "
		         "PGSEAL_MASTER_KEY (provider env) is not the master key of this keystore "
		         "either (a key recovered from escrow would be: docs/keys.md §10): %s",
		         k->keystore_path, k->sealed_path, e2);
		goto out;
	}
	k->master_gen = k->st.master_gen;
	k->env_master = true;
	log_warn("keys: provider env with no sealed master key (%s): PGSEAL_MASTER_KEY is used as "
	         "the master key itself (recovery from escrow, generation %u); `pgseal keys "
	         "recover` seals it again",
	         k->sealed_path, k->master_gen);
	rc = PGS_OK;
out:
	free(buf);
	return rc;
}

int keys_open_ex(const struct config *cfg, unsigned flags, struct keys **out, char *err,
                 size_t errlen)
{
	struct keys *k = pgs_xcalloc(1, sizeof(*k));
	uint8_t *sealing = crypto_secure_alloc(CRYPTO_KEY_LEN);
	bool create = flags & KEYS_OPEN_CREATE;
	int rc = PGS_ERR;
	*out = NULL;
	pthread_rwlock_init(&k->lock, NULL);
	k->master = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (keys_provider_parse(cfg->keys.provider, &k->provider) != PGS_OK) {
		pgs_errf(err, errlen, "unknown keys.provider '%s'", cfg->keys.provider);
		goto out;
	}
	k->sealed_path = path_or_default(cfg, cfg->keys.sealed_master_key, KEYS_DEFAULT_SEALED);
	k->keystore_path = path_or_default(cfg, cfg->keys.keystore, KEYS_DEFAULT_KEYSTORE);
	size_t nl = strlen(k->sealed_path) + 6;
	k->next_path = pgs_xmalloc(nl);
	snprintf(k->next_path, nl, "%s.next", k->sealed_path);

	bool have_blob = keys_file_exists(k->sealed_path);
	bool new_keystore = flags & KEYS_OPEN_NEW_KEYSTORE;
	if (new_keystore && !have_blob) {
		pgs_errf(err, errlen,
		         "%s: no sealed master key (--new-keystore keeps an existing one; run "
		         "`pgseal keys init` without it)",
		         k->sealed_path);
		goto out;
	}
	if (new_keystore && keys_file_exists(k->keystore_path)) {
		pgs_errf(err, errlen,
		         "%s already exists: refusing to replace it (--new-keystore is for a "
		         "keystore that is missing)",
		         k->keystore_path);
		goto out;
	}
	if (have_blob && (flags & KEYS_OPEN_INIT_ONLY)) {
		pgs_errf(err, errlen, "%s already exists: refusing to overwrite it%s",
		         k->sealed_path,
		         keys_file_exists(k->keystore_path)
		             ? ""
		             : " (its keystore is missing: `pgseal keys init --new-keystore` makes "
		               "an empty one, if the old one is lost for good)");
		goto out;
	}
	if (!have_blob && keys_file_exists(k->keystore_path) && k->provider == KEYS_PROV_ENV &&
	    !new_keystore && !(flags & KEYS_OPEN_INIT_ONLY)) {
		if (open_env_master(k, err, errlen) != PGS_OK)
			goto out;
		*out = k;
		k = NULL;
		rc = PGS_OK;
		goto out;
	}
	if (!have_blob && !create) {
		pgs_errf(err, errlen, "%s: no sealed master key (run `pgseal keys init`)",
		         k->sealed_path);
		goto out;
	}
	if (!have_blob && keys_file_exists(k->keystore_path)) {
		pgs_errf(
		    err, errlen,
		    "%s: a keystore exists but its sealed master key %s is missing: refusing to "
		    "create a new master key (restore the blob)",
		    k->keystore_path, k->sealed_path);
		goto out;
	}
	if (keys_provider_sealing_key(cfg, k->provider, !have_blob, sealing, err, errlen) != PGS_OK)
		goto out;
	if (have_blob) {
		struct keys_sealed_hdr h;
		if (unseal(k, k->sealed_path, sealing, &h, k->master, err, errlen) != PGS_OK)
			goto out;
		k->master_gen = h.master_gen;
		if (load_keystore(k, sealing, new_keystore, err, errlen) != PGS_OK)
			goto out;
	} else if (create_master(k, sealing, err, errlen) != PGS_OK) {
		goto out;
	}
	if (flags & KEYS_OPEN_KEEP_SEALING) {
		k->sealing = sealing;
		sealing = NULL;
	}
	*out = k;
	k = NULL;
	rc = PGS_OK;
out:
	crypto_secure_free(sealing);
	keys_close(k);
	return rc;
}

int keys_open(const struct config *cfg, bool create_if_missing, struct keys **out, char *err,
              size_t errlen)
{
	return keys_open_ex(cfg, create_if_missing ? KEYS_OPEN_CREATE : 0, out, err, errlen);
}

void keys_close(struct keys *k)
{
	if (!k)
		return;
	keys_store_clear(&k->st);
	crypto_secure_free(k->master);
	crypto_secure_free(k->sealing);
	free(k->sealed_path);
	free(k->next_path);
	free(k->keystore_path);
	pthread_rwlock_destroy(&k->lock);
	free(k);
}

/* ---- keystore changes --------------------------------------------------------------- */

/*
 * Every change runs under the in-process write lock AND an flock on "<keystore>.lock",
 * and starts by re-reading the keystore: another process (an instance sharing the
 * keystore, or `keys rotate`) may have added keys since we loaded it. Entries are never
 * removed and a (client, table, column, kind, version) never changes its key, so the
 * file on disk is always a superset of what this process holds.
 */
static int begin_change(struct keys *k, int *lockfd, char *err, size_t errlen)
{
	size_t n = strlen(k->keystore_path) + 6;
	char *lp = pgs_xmalloc(n);
	uint8_t *buf = NULL;
	size_t len = 0;
	struct keys_store fresh;
	char e2[256];
	pthread_rwlock_wrlock(&k->lock);
	snprintf(lp, n, "%s.lock", k->keystore_path);
	*lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(lp);
	if (*lockfd < 0 || flock(*lockfd, LOCK_EX) != 0) {
		pgs_errf(err, errlen, "%s.lock: cannot lock", k->keystore_path);
		goto fail;
	}
	int r = keys_file_read(k->keystore_path, KEYS_FILE_MAX, false, &buf, &len, err, errlen);
	if (r == 1)
		return PGS_OK; /* not written yet: ours is the only view */
	if (r != PGS_OK)
		goto fail;
	if (keys_store_decode(buf, len, k->master, &fresh, e2, sizeof(e2)) != PGS_OK ||
	    fresh.master_gen != k->master_gen) {
		if (fresh.n || fresh.e)
			keys_store_clear(&fresh);
		pgs_errf(err, errlen,
		         "%s: changed by another process under another master key "
		         "(restart to reload it)",
		         k->keystore_path);
		free(buf);
		goto fail;
	}
	free(buf);
	keys_store_clear(&k->st);
	k->st = fresh;
	return PGS_OK;
fail:
	if (*lockfd >= 0)
		close(*lockfd);
	*lockfd = -1;
	pthread_rwlock_unlock(&k->lock);
	return PGS_ERR;
}

static void end_change(struct keys *k, int lockfd)
{
	if (lockfd >= 0) {
		(void)flock(lockfd, LOCK_UN);
		close(lockfd);
	}
	atomic_fetch_add(&k->change, 1);
	pthread_rwlock_unlock(&k->lock);
}

static const char *client_or_default(const char *c)
{
	return c ? c : KEYS_DEFAULT_CLIENT;
}

static struct keys_entry *find(struct keys_store *st, const char *client, const char *table,
                               const char *column, uint8_t kind, uint32_t version)
{
	struct keys_entry *best = NULL;
	for (size_t i = 0; i < st->n; i++) {
		struct keys_entry *e = &st->e[i];
		if (e->kind != kind || strcmp(e->client, client) != 0 ||
		    strcmp(e->table, table) != 0 || strcmp(e->column, column) != 0)
			continue;
		if (version ? e->version == version : (!best || e->version > best->version))
			best = e;
	}
	return best;
}

static int add_random(struct keys_store *st, const char *client, const char *table,
                      const char *column, uint8_t kind, uint32_t version)
{
	uint8_t *key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	int rc = crypto_random(key, CRYPTO_KEY_LEN);
	if (rc == PGS_OK)
		keys_store_add(st, client, table, column, kind, version, (uint64_t)time(NULL), key);
	crypto_secure_free(key);
	return rc;
}

static bool name_valid(const char *s, bool allow_empty)
{
	size_t n = s ? strlen(s) : 0;
	return s && (allow_empty || n > 0) && n <= KEYS_NAME_MAX;
}

int keys_ensure_column(struct keys *k, const char *client_id, const char *table, const char *column,
                       char *err, size_t errlen)
{
	const char *c = client_or_default(client_id);
	int rc = PGS_OK;
	size_t before;
	if (!name_valid(c, true) || !name_valid(table, false) || !name_valid(column, false)) {
		pgs_errf(err, errlen, "keys: invalid client, table or column name");
		return PGS_ERR;
	}
	/* fast path, the usual case at boot: the column has its keys already */
	pthread_rwlock_rdlock(&k->lock);
	bool have = find(&k->st, c, table, column, KEYS_KIND_DATA, 0) &&
	            find(&k->st, c, table, column, KEYS_KIND_SEARCH, 0);
	pthread_rwlock_unlock(&k->lock);
	if (have)
		return PGS_OK;
	int lockfd;
	if (begin_change(k, &lockfd, err, errlen) != PGS_OK)
		return PGS_ERR;
	before = k->st.n;
	if (!find(&k->st, c, table, column, KEYS_KIND_DATA, 0))
		rc = add_random(&k->st, c, table, column, KEYS_KIND_DATA, 1);
	if (rc == PGS_OK && !find(&k->st, c, table, column, KEYS_KIND_SEARCH, 0))
		rc = add_random(&k->st, c, table, column, KEYS_KIND_SEARCH, 1);
	if (rc == PGS_OK && k->st.n != before) {
		rc = persist_locked(k, err, errlen);
		if (rc == PGS_OK)
			log_info("keys: created keys for %s.%s%s%s", table, column,
			         *c ? " client " : "", c);
	} else if (rc != PGS_OK) {
		pgs_errf(err, errlen, "keys: random generation failed");
	}
	if (rc != PGS_OK) /* roll back what was not persisted */
		while (k->st.n > before) {
			struct keys_entry *e = &k->st.e[--k->st.n];
			free(e->client), free(e->table), free(e->column);
			crypto_secure_free(e->key);
		}
	end_change(k, lockfd);
	return rc;
}

int keys_rotate_data(struct keys *k, const char *client_id, const char *table, const char *column,
                     char *err, size_t errlen)
{
	size_t before, n;
	int rc = PGS_OK, matched = 0, lockfd;
	if (begin_change(k, &lockfd, err, errlen) != PGS_OK)
		return PGS_ERR;
	before = n = k->st.n;
	for (size_t i = 0; i < n && rc == PGS_OK; i++) {
		struct keys_entry *e = &k->st.e[i];
		if (e->kind != KEYS_KIND_DATA || (client_id && strcmp(e->client, client_id) != 0) ||
		    (table && (strcmp(e->table, table) != 0 || strcmp(e->column, column) != 0)))
			continue;
		struct keys_entry *cur =
		    find(&k->st, e->client, e->table, e->column, KEYS_KIND_DATA, 0);
		if (cur != e)
			continue; /* only the newest version of each column rotates */
		if (e->version >= CRYPTO_KEYID_MAX) {
			/* the records' key id and the database's CHECK constraint stop there */
			pgs_errf(err, errlen, "keys: %s.%s has used every data key version (1..%u)",
			         e->table, e->column, CRYPTO_KEYID_MAX);
			rc = PGS_ERR;
			matched = -1;
			break;
		}
		char *c = pgs_xstrdup(e->client), *t = pgs_xstrdup(e->table),
		     *o = pgs_xstrdup(e->column);
		uint32_t v = e->version + 1; /* e may move: add_random reallocates */
		rc = add_random(&k->st, c, t, o, KEYS_KIND_DATA, v);
		free(c), free(t), free(o);
		matched++;
	}
	if (rc == PGS_OK && !matched) {
		pgs_errf(err, errlen, "keys: no data key matches %s%s%s", table ? table : "(all)",
		         table ? "." : "", table ? column : "");
		rc = PGS_ERR;
	} else if (rc == PGS_OK) {
		rc = persist_locked(k, err, errlen);
	} else if (matched >= 0) {
		pgs_errf(err, errlen, "keys: rotation failed");
	}
	if (rc != PGS_OK)
		while (k->st.n > before) {
			struct keys_entry *e = &k->st.e[--k->st.n];
			free(e->client), free(e->table), free(e->column);
			crypto_secure_free(e->key);
		}
	end_change(k, lockfd);
	return rc;
}

int keys_rotate_master(struct keys *k, char *err, size_t errlen)
{
	uint8_t *m2 = crypto_secure_alloc(CRYPTO_KEY_LEN);
	uint8_t *old = crypto_secure_alloc(CRYPTO_KEY_LEN);
	uint8_t blob[KEYS_SEALED_LEN];
	int rc = PGS_ERR, lockfd = -1;
	if (k->env_master) {
		pgs_errf(
		    err, errlen,
		    "keys: no sealed master key to rotate (PGSEAL_MASTER_KEY is the master key "
		    "itself): seal it first with `pgseal keys recover`");
		goto done;
	}
	if (!k->sealing) {
		pgs_errf(err, errlen, "keys: master rotation needs the sealing key (KEEP_SEALING)");
		goto done;
	}
	if (begin_change(k, &lockfd, err, errlen) != PGS_OK)
		goto done;
	struct keys_sealed_hdr h = {1, (uint8_t)k->provider, k->master_gen + 1,
	                            (uint64_t)time(NULL)};
	if (crypto_random(m2, CRYPTO_KEY_LEN) != PGS_OK ||
	    keys_sealed_seal(k->sealing, &h, m2, blob) != PGS_OK) {
		pgs_errf(err, errlen, "keys: sealing the new master key failed");
		goto out;
	}
	/* 1. the new blob beside the old one; 2. the keystore rewrapped; 3. the blob swapped.
	 * A crash after 2 is completed at the next boot (load_keystore). */
	if (keys_file_write(k->next_path, blob, sizeof(blob), false, err, errlen) != PGS_OK)
		goto out;
	memcpy(old, k->master, CRYPTO_KEY_LEN);
	memcpy(k->master, m2, CRYPTO_KEY_LEN);
	k->st.master_gen = h.master_gen;
	if (persist_locked(k, err, errlen) != PGS_OK) {
		memcpy(k->master, old, CRYPTO_KEY_LEN);
		k->st.master_gen = k->master_gen;
		/* <sealed>.next stays: if the new keystore did reach the disk, boot needs it */
		goto out;
	}
	if (rename(k->next_path, k->sealed_path) != 0) {
		pgs_errf(err, errlen, "%s: rename failed; the next start completes the rotation",
		         k->sealed_path);
		goto out;
	}
	k->master_gen = h.master_gen;
	log_info("keys: master key rotated to generation %u", k->master_gen);
	rc = PGS_OK;
out:
	end_change(k, lockfd);
done:
	crypto_secure_free(m2);
	crypto_secure_free(old);
	return rc;
}

/* ---- status ------------------------------------------------------------------------- */

size_t keys_entry_count(struct keys *k)
{
	pthread_rwlock_rdlock(&k->lock);
	size_t n = k->st.n;
	pthread_rwlock_unlock(&k->lock);
	return n;
}

int keys_entry_get(struct keys *k, size_t i, struct keys_entry_info *out)
{
	int rc = PGS_ERR;
	pthread_rwlock_rdlock(&k->lock);
	if (i < k->st.n) {
		struct keys_entry *e = &k->st.e[i];
		out->client_id = e->client;
		out->table = e->table;
		out->column = e->column;
		out->kind = e->kind == KEYS_KIND_DATA ? "data" : "search";
		out->version = e->version;
		out->created = e->created;
		out->current = e->kind == KEYS_KIND_DATA &&
		               find(&k->st, e->client, e->table, e->column, KEYS_KIND_DATA, 0) == e;
		rc = PGS_OK;
	}
	pthread_rwlock_unlock(&k->lock);
	return rc;
}

const char *keys_provider_name(const struct keys *k)
{
	return keys_provider_str(k->provider);
}

const char *keys_sealed_path(const struct keys *k)
{
	return k->sealed_path;
}

const char *keys_keystore_path(const struct keys *k)
{
	return k->keystore_path;
}

const uint8_t *keys_master_key(const struct keys *k)
{
	return k->master;
}

uint32_t keys_master_generation(const struct keys *k)
{
	return k->master_gen;
}

bool keys_created_now(const struct keys *k)
{
	return k->created_now;
}

int keys_make_ctx(struct keys *k, const char *client, const char *table, const char *column,
                  uint32_t version, struct crypto_column_key **out)
{
	int rc = PGS_ERR;
	*out = NULL;
	pthread_rwlock_rdlock(&k->lock);
	struct keys_entry *d = find(&k->st, client, table, column, KEYS_KIND_DATA, version);
	struct keys_entry *s = find(&k->st, client, table, column, KEYS_KIND_SEARCH, 0);
	if (d)
		rc = crypto_column_key_new(d->key, s ? s->key : NULL, d->version, table, column,
		                           out);
	pthread_rwlock_unlock(&k->lock);
	return rc;
}

unsigned keys_change_count(struct keys *k)
{
	return atomic_load(&k->change);
}
