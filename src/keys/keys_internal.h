/* keys_internal.h - declarations shared by the files of src/keys only (not a public API). */
#ifndef PGSEAL_KEYS_INTERNAL_H
#define PGSEAL_KEYS_INTERNAL_H

#include "keys/keys.h"

#define KEYS_KIND_DATA 1
#define KEYS_KIND_SEARCH 2
#define KEYS_NAME_MAX 255
#define KEYS_MAX_ENTRIES 100000
#define KEYS_FILE_MAX (64u << 20)

enum keys_provider { KEYS_PROV_DSTACK = 1, KEYS_PROV_ENV = 2, KEYS_PROV_FILE = 3 };

/* ---- files (keys_file.c) ---- */
/* Reads a whole regular file of at most max bytes; refuses group/world-writable files
 * (and, when secret, any group/other permission). Returns 1 when missing (ENOENT). */
int keys_file_read(const char *path, size_t max, bool secret, uint8_t **data, size_t *len,
                   char *err, size_t errlen) PGS_MUSTCHECK;
/* Writes data atomically with mode 0600: temp file, fsync, then rename (replace) or
 * link (no_replace: fails if path exists), fsync of the directory. */
int keys_file_write(const char *path, const uint8_t *data, size_t len, bool no_replace, char *err,
                    size_t errlen) PGS_MUSTCHECK;
bool keys_file_exists(const char *path);

/* ---- sealed master key (keys_sealed.c) ---- */
#define KEYS_SEALED_LEN 84
struct keys_sealed_hdr {
	uint8_t version;
	uint8_t provider;
	uint32_t master_gen;
	uint64_t created;
};
/* Structure only: magic, version, length, provider range. */
int keys_sealed_parse(const uint8_t *blob, size_t len, struct keys_sealed_hdr *h) PGS_MUSTCHECK;
int keys_sealed_seal(const uint8_t sealing[CRYPTO_KEY_LEN], const struct keys_sealed_hdr *h,
                     const uint8_t master[CRYPTO_KEY_LEN],
                     uint8_t out[KEYS_SEALED_LEN]) PGS_MUSTCHECK;
int keys_sealed_open(const uint8_t sealing[CRYPTO_KEY_LEN], const uint8_t *blob, size_t len,
                     struct keys_sealed_hdr *h, uint8_t master[CRYPTO_KEY_LEN]) PGS_MUSTCHECK;

/* ---- keystore (keys_store.c) ---- */
struct keys_entry {
	char *client, *table, *column;
	uint8_t kind;
	uint32_t version;
	uint64_t created;
	uint8_t *key; /* CRYPTO_KEY_LEN bytes of secure memory */
};
struct keys_store {
	uint32_t master_gen;
	size_t n, cap;
	struct keys_entry *e;
};
int keys_store_decode(const uint8_t *buf, size_t len, const uint8_t master[CRYPTO_KEY_LEN],
                      struct keys_store *st, char *err, size_t errlen) PGS_MUSTCHECK;
int keys_store_encode(const struct keys_store *st, const uint8_t master[CRYPTO_KEY_LEN],
                      uint8_t **out, size_t *outlen) PGS_MUSTCHECK;
void keys_store_clear(struct keys_store *st);
/* Appends a copy (key copied into secure memory). */
void keys_store_add(struct keys_store *st, const char *client, const char *table,
                    const char *column, uint8_t kind, uint32_t version, uint64_t created,
                    const uint8_t key[CRYPTO_KEY_LEN]);

/* ---- providers (keys_provider.c) ---- */
int keys_provider_parse(const char *name, enum keys_provider *out) PGS_MUSTCHECK;
const char *keys_provider_str(enum keys_provider p);
/* The 32-byte sealing key of the configured provider (create_file: the file provider
 * may create a missing key file). */
int keys_provider_sealing_key(const struct config *cfg, enum keys_provider p, bool create_file,
                              uint8_t out[CRYPTO_KEY_LEN], char *err, size_t errlen) PGS_MUSTCHECK;

/* The 32 bytes of PGSEAL_MASTER_KEY (base64), removed from the environment and wiped. */
int keys_provider_env_raw(uint8_t out[CRYPTO_KEY_LEN], char *err, size_t errlen) PGS_MUSTCHECK;

/* ---- used by keys_escrow.c (keys.c) ---- */
/* The master key of an open keystore (secure memory owned by k). */
const uint8_t *keys_master_key(const struct keys *k);

/* ---- used by keys_worker.c (keys.c) ---- */
/* A new context for (client, table, column, version; 0 = newest data version). */
int keys_make_ctx(struct keys *k, const char *client, const char *table, const char *column,
                  uint32_t version, struct crypto_column_key **out) PGS_MUSTCHECK;
/* Bumped on every in-process keystore change: workers then re-resolve "current". */
unsigned keys_change_count(struct keys *k);

#endif
