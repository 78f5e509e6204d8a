/* crypto.h - pgseal's record format (AES-256-GCM + HMAC blind index), secure memory and helpers. */
#ifndef PGSEAL_CRYPTO_H
#define PGSEAL_CRYPTO_H

#include "common/common.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_BLIND_LEN 32
#define CRYPTO_KEYID_LEN 4
/* The key ids a record may carry: data key versions 1 .. 2^24-1 (keys rotate refuses to
 * go past). The top byte is therefore always 0, so a record holds a 0x00 byte at offset 1
 * (plain) or 33 (searchable), which no text value can hold: the database's CHECK
 * constraint (`pgseal schema`, docs/schema.md) relies on this range and never has to
 * change when keys rotate. */
#define CRYPTO_KEYID_MIN 1u
#define CRYPTO_KEYID_MAX 0x00FFFFFFu

/* Record format bytes (DESIGN.md §5). */
#define CRYPTO_REC_PLAIN 0x01
#define CRYPTO_REC_SEARCHABLE 0x02

/* Bytes a record adds to its plaintext: format + key id + nonce + tag (+ blind index). */
#define CRYPTO_REC_OVERHEAD (1 + CRYPTO_KEYID_LEN + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_REC_OVERHEAD_SEARCHABLE (CRYPTO_REC_OVERHEAD + CRYPTO_BLIND_LEN)
/* Length of the prefix that `substr(col, 1, 33)` compares: format byte + blind index. */
#define CRYPTO_SEARCH_PREFIX_LEN (1 + CRYPTO_BLIND_LEN)
/* Largest plaintext a record may carry (PostgreSQL's 1 GiB field limit minus overhead). */
#define CRYPTO_REC_MAX_PLAIN ((size_t)0x3FFFFF00u)

/* ---- secure memory ------------------------------------------------------------------ */

/* Zeroed memory that is mlock()ed, excluded from core dumps (MADV_DONTDUMP) and wiped
 * on free. Aborts on out-of-memory like pgs_xmalloc. A failed mlock (RLIMIT_MEMLOCK) is
 * logged once and tolerated. */
void *crypto_secure_alloc(size_t n);
/* Wipes and releases memory from crypto_secure_alloc; NULL is ignored. */
void crypto_secure_free(void *p);

/* prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0: `serve` and `keys` call it at start. */
void crypto_disable_core_dumps(void);

/* ---- helpers ------------------------------------------------------------------------- */

/* 1 when the n bytes are equal, 0 otherwise, in time independent of the contents. */
int crypto_ct_equal(const void *a, const void *b, size_t n) PGS_MUSTCHECK;
/* Cryptographically secure random bytes (OpenSSL RAND). */
int crypto_random(void *buf, size_t n) PGS_MUSTCHECK;
/* Wipes n bytes (OPENSSL_cleanse). */
void crypto_wipe(void *p, size_t n);
/* HKDF-SHA256 (RFC 5869) into out[outlen]. */
int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
                       const char *info, uint8_t *out, size_t outlen) PGS_MUSTCHECK;
/* One-shot AES-256-GCM for the key hierarchy (not the per-value path). ct/pt may alias. */
int crypto_aead_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct,
                     uint8_t tag[CRYPTO_TAG_LEN]) PGS_MUSTCHECK;
int crypto_aead_open(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
                     const uint8_t tag[CRYPTO_TAG_LEN], uint8_t *pt) PGS_MUSTCHECK;
/* HMAC-SHA256 one-shot (keystore file MAC). */
int crypto_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                       uint8_t out[32]) PGS_MUSTCHECK;

/* ---- records ------------------------------------------------------------------------- */

/*
 * A column key: the AES-256-GCM data key of one key version (key schedule done once),
 * the column's blind-index HMAC key (inner/outer SHA-256 states precomputed once) and
 * the AAD suffix "<table>.<column>". Encrypt, decrypt and blind index do no allocation
 * and no key schedule.
 *
 * Thread-safety: a context carries cipher state, so it must be used by ONE thread at a
 * time (the proxy keeps one per worker thread: see keys_worker_*). Contexts must not be
 * shared across fork() either (they hold a pool of random nonce bytes).
 * Owner: whoever created it frees it with crypto_column_key_free().
 */
struct crypto_column_key;

/* search_key may be NULL: then crypto_blind_index and searchable records fail. A key_id
 * outside CRYPTO_KEYID_MIN..MAX is refused (no record the database would refuse). */
int crypto_column_key_new(const uint8_t data_key[CRYPTO_KEY_LEN], const uint8_t *search_key,
                          uint32_t key_id, const char *table, const char *column,
                          struct crypto_column_key **out) PGS_MUSTCHECK;
void crypto_column_key_free(struct crypto_column_key *k);
uint32_t crypto_column_key_id(const struct crypto_column_key *k);

/* Length of the record for a plaintext of plain_len bytes (0 if too large). */
size_t crypto_record_len(bool searchable, size_t plain_len);

/* Encrypts one canonical plaintext into out[cap] (cap >= crypto_record_len). The blind
 * index is computed when searchable. A random nonce is used. */
int crypto_record_encrypt(struct crypto_column_key *k, bool searchable, const uint8_t *pt,
                          size_t ptlen, uint8_t *out, size_t cap, size_t *outlen) PGS_MUSTCHECK;
/* The same with a caller-given nonce: for known-answer tests only. */
int crypto_record_encrypt_with_nonce(struct crypto_column_key *k, bool searchable,
                                     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *pt,
                                     size_t ptlen, uint8_t *out, size_t cap,
                                     size_t *outlen) PGS_MUSTCHECK;

/* Decrypts a record into out[cap] (cap >= reclen is always enough). Fails, writing no
 * plaintext, on a malformed record, another key id, another column or any tamper. */
int crypto_record_decrypt(struct crypto_column_key *k, const uint8_t *rec, size_t reclen,
                          uint8_t *out, size_t cap, size_t *outlen) PGS_MUSTCHECK;

/* HMAC-SHA256(search key, pt): the blind index of a value, as stored in the record. */
int crypto_blind_index(struct crypto_column_key *k, const uint8_t *pt, size_t ptlen,
                       uint8_t out[CRYPTO_BLIND_LEN]) PGS_MUSTCHECK;

/* A parsed record (pointers into the record bytes). */
struct crypto_record_view {
	uint8_t format;
	const uint8_t *blind; /* NULL for plain records */
	uint32_t key_id;
	const uint8_t *nonce;
	const uint8_t *ct;
	size_t ct_len;
	const uint8_t *tag;
};

/* Splits a record into its fields; checks only the structure (no authentication). The
 * proxy uses key_id to pick the key version before crypto_record_decrypt. */
int crypto_record_parse(const uint8_t *rec, size_t len, struct crypto_record_view *v) PGS_MUSTCHECK;

#endif
