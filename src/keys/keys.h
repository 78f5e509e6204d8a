/* keys.h - the key hierarchy: sealed master key, keystore of data keys, providers, per-worker key
 * contexts. */
#ifndef PGSEAL_KEYS_H
#define PGSEAL_KEYS_H

#include "common/common.h"
#include "config/config.h"
#include "crypto/crypto.h"

/*
 * sealing key (provider: dstack GetKey | env | file; never stored)
 *   seals  -> master key (32 random bytes; sealed blob file)
 *   wraps  -> data keys per client / table / column / version, and one blind-index
 *             (search) key per client / table / column (keystore file)
 *   encrypt -> records (crypto/record.c)
 * docs/keys.md describes the file formats, defaults and the boot sequence.
 */

/* Default paths, relative to the config file's directory, when the config names none. */
#define KEYS_DEFAULT_SEALED "pgseal-master.sealed"
#define KEYS_DEFAULT_KEYSTORE "pgseal-keystore"
/* Client id of values written by rules without a client_id. */
#define KEYS_DEFAULT_CLIENT ""
#define KEYS_CLIENT_ID_LEN 64 /* lowercase hex of a SHA-256 */

struct keys;

/*
 * Boot: unseals the master key (first boot, when create_if_missing: generates and
 * seals one, and creates an empty keystore) and loads the keystore. A blob without its
 * keystore is refused (see KEYS_OPEN_NEW_KEYSTORE), as is a keystore without its blob.
 * On any failure - tamper, other sealing key or measurement, other provider, truncated or unsafe
 * file - returns PGS_ERR with a clear message and leaves every existing file untouched. Reads
 * PGSEAL_MASTER_KEY for provider env, then removes it from the environment. Owner: the caller,
 * released with keys_close (wipes all keys).
 */
int keys_open(const struct config *cfg, bool create_if_missing, struct keys **out, char *err,
              size_t errlen) PGS_MUSTCHECK;
void keys_close(struct keys *k);

/* keys_open with flags: KEYS_OPEN_CREATE = create_if_missing; KEYS_OPEN_KEEP_SEALING keeps
 * the sealing key in locked memory until keys_close, which keys_rotate_master needs
 * (the CLI uses it; `serve` does not, so its sealing key is wiped right after boot). */
#define KEYS_OPEN_CREATE 1u
#define KEYS_OPEN_KEEP_SEALING 2u
#define KEYS_OPEN_INIT_ONLY 4u /* `keys init`: fail, touching nothing, if a blob exists */
/* `keys init --new-keystore`: the blob must exist and the keystore must not; creates an
 * empty keystore under the existing master key. Without this flag a blob whose keystore
 * is missing stops every open (serve, keys status/rotate) with an error naming both. */
#define KEYS_OPEN_NEW_KEYSTORE 8u
int keys_open_ex(const struct config *cfg, unsigned flags, struct keys **out, char *err,
                 size_t errlen) PGS_MUSTCHECK;

/* Makes sure a column has a data key (version 1) and a search key, creating and
 * persisting them when missing. client_id NULL = KEYS_DEFAULT_CLIENT. Thread-safe;
 * `serve` calls it for every encrypted column of the schema before accepting clients. */
int keys_ensure_column(struct keys *k, const char *client_id, const char *table, const char *column,
                       char *err, size_t errlen) PGS_MUSTCHECK;

/* A new data key version for one column (client_id NULL: every client that has keys
 * for it), or, with table == NULL, for every column. New writes use the new version;
 * older versions still decrypt. Persisted atomically. */
int keys_rotate_data(struct keys *k, const char *client_id, const char *table, const char *column,
                     char *err, size_t errlen) PGS_MUSTCHECK;
/* A new master key: the keystore is rewrapped, then the new blob replaces the old one
 * (crash-safe: see docs/keys.md). */
int keys_rotate_master(struct keys *k, char *err, size_t errlen) PGS_MUSTCHECK;

/*
 * Per-worker key contexts. A crypto_column_key is single-threaded, so each worker
 * thread owns a keys_worker that creates the contexts it needs on first use and caches
 * them (no allocation per value afterwards). The returned context belongs to the
 * worker: do not free it; it stays valid until keys_worker_free.
 */
struct keys_worker;
struct keys_worker *keys_worker_new(struct keys *k);
void keys_worker_free(struct keys_worker *w);
/* The context of the column's current (newest) data key version, for encryption. */
int keys_worker_current(struct keys_worker *w, const char *client_id, const char *table,
                        const char *column, struct crypto_column_key **out) PGS_MUSTCHECK;
/* The context of a given version (a record's key id), for decryption. */
int keys_worker_version(struct keys_worker *w, const char *client_id, const char *table,
                        const char *column, uint32_t key_id,
                        struct crypto_column_key **out) PGS_MUSTCHECK;

/* ---- status (never key material) ---- */
struct keys_entry_info {
	const char *client_id;
	const char *table;
	const char *column;
	const char *kind; /* "data" or "search" */
	uint32_t version;
	uint64_t created; /* unix seconds */
	bool current;     /* the newest data version of its column */
};
size_t keys_entry_count(struct keys *k);
int keys_entry_get(struct keys *k, size_t i, struct keys_entry_info *out) PGS_MUSTCHECK;
const char *keys_provider_name(const struct keys *k);
const char *keys_sealed_path(const struct keys *k);
const char *keys_keystore_path(const struct keys *k);
uint32_t keys_master_generation(const struct keys *k);
bool keys_created_now(const struct keys *k); /* keys_open generated the master key */

/* ---- client identity ---- */
/* The client id of a certificate: lowercase hex SHA-256 of its SubjectPublicKeyInfo DER.
 * cert is an OpenSSL X509 *; out receives KEYS_CLIENT_ID_LEN chars + NUL. */
int keys_client_id_x509(const void *cert, char out[KEYS_CLIENT_ID_LEN + 1]) PGS_MUSTCHECK;
int keys_client_id_pem_file(const char *path, char out[KEYS_CLIENT_ID_LEN + 1], char *err,
                            size_t errlen) PGS_MUSTCHECK;

#endif
