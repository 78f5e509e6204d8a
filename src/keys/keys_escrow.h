/* keys_escrow.h - escrow of the master key: Shamir shares compatible with Debian's ssss
 * (hex mode, diffusion on), each encrypted to a custodian certificate as CMS EnvelopedData, a
 * manifest with a check value, and recovery. docs/keys.md, "Escrow and recovery". */
#ifndef PGSEAL_KEYS_ESCROW_H
#define PGSEAL_KEYS_ESCROW_H

#include "keys/keys.h"

#define KEYS_SHAMIR_SECRET_LEN 32 /* the master key: GF(2^256) */
#define KEYS_SHAMIR_MAX_SHARES 255
/* "<index>-<64 hex>": at most 3 index digits, '-', 64 hex digits, NUL */
#define KEYS_SHARE_LINE_MAX (3 + 1 + 2 * KEYS_SHAMIR_SECRET_LEN + 1)
#define KEYS_ESCROW_CHECK_LEN 16 /* truncated HMAC-SHA-256 check value */

/* One share: x = index (1..255), y = the polynomial's value. Keep arrays of these in
 * crypto_secure_alloc memory: K of them give the key. */
struct keys_share {
	unsigned index;
	uint8_t y[KEYS_SHAMIR_SECRET_LEN];
};

/* ---- Shamir over GF(2^256), ssss 0.5 compatible (keys_shamir.c) ---- */
/* Splits secret into n shares (indices 1..n), any k of which give it back; 2 <= k <= n <= 255.
 * Same polynomial as `ssss-split -x` (monic term x^k, diffusion layer applied). */
int keys_shamir_split(const uint8_t secret[KEYS_SHAMIR_SECRET_LEN], unsigned k, unsigned n,
                      struct keys_share *out, char *err, size_t errlen) PGS_MUSTCHECK;
/* Combines exactly k shares (the threshold) as `ssss-combine -x -t k` does. Refuses k < 2,
 * an index out of 1..255, a duplicate index. With shares of another split or fewer than the
 * real threshold it returns a wrong secret: the caller checks it (keys_escrow_check). */
int keys_shamir_combine(const struct keys_share *shares, unsigned k,
                        uint8_t secret[KEYS_SHAMIR_SECRET_LEN], char *err,
                        size_t errlen) PGS_MUSTCHECK;
/* The line `ssss-split -x -n n` prints for a share: index zero-padded to the digits of n. */
void keys_share_format(const struct keys_share *s, unsigned n, char line[KEYS_SHARE_LINE_MAX]);
/* Parses one share line (a trailing "\n" or "\r\n" allowed, nothing else). */
int keys_share_parse(const char *s, size_t len, struct keys_share *out, char *err,
                     size_t errlen) PGS_MUSTCHECK;
/* The ssss diffusion layer (an XTEA-based cascade, keyless) and its inverse, in place. */
void keys_shamir_diffuse(uint8_t v[KEYS_SHAMIR_SECRET_LEN], bool inverse);

/* ---- escrow files (keys_escrow.c) ---- */
/* HMAC-SHA-256(master, "pgseal escrow check v1"), first KEYS_ESCROW_CHECK_LEN bytes. */
int keys_escrow_check(const uint8_t master[CRYPTO_KEY_LEN],
                      uint8_t out[KEYS_ESCROW_CHECK_LEN]) PGS_MUSTCHECK;

struct keys_manifest {
	unsigned threshold, nshares;
	uint32_t master_gen;
	uint8_t check[KEYS_ESCROW_CHECK_LEN];
};
/* Parses manifest.json (the fields recovery needs; see docs/keys.md). */
int keys_manifest_parse(const char *json, size_t len, struct keys_manifest *m, char *err,
                        size_t errlen) PGS_MUSTCHECK;

/* `pgseal keys escrow`: splits the open keystore's master key, writes dir/share-<i>.cms
 * (DER CMS EnvelopedData, AES-256-CBC, one per certificate) and dir/manifest.json. */
int keys_escrow_write(struct keys *k, unsigned threshold, const char *const *certs, unsigned ncerts,
                      const char *dir, char *err, size_t errlen) PGS_MUSTCHECK;
/* `pgseal keys recover`: combines the share files, checks the result against the manifest,
 * then seals the master key under the configured provider and writes the blob. The keystore
 * must decrypt under the recovered key. */
int keys_escrow_recover(const struct config *cfg, const char *manifest_path,
                        const char *const *share_files, unsigned nfiles, char *err,
                        size_t errlen) PGS_MUSTCHECK;

/* Escrows recorded in "<keystore>.escrow.log" (one line each; counted for /metrics). */
uint64_t keys_escrow_recorded(const char *keystore_path);

/* keys.escrow: allowed in the config (metrics and the attestation document show it). */
bool keys_escrow_allowed(const struct config *cfg);

#endif
