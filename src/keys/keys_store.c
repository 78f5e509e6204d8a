/* keys_store.c - the keystore file: data and search keys, each wrapped by the master key, plus a
 * file MAC. */
#include "keys/keys_internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * file  := "PGSEALKS" | u8 version (1) | u8[3] zero | u32 master_gen | u32 count
 *          | entry * count | HMAC-SHA256(mac key, every byte before it)
 * entry := u8 kind (1 data, 2 search) | u8 zero | u16 client_len | u16 table_len
 *          | u16 column_len | u32 version | u64 created | client | table | column
 *          | nonce[12] | AES-256-GCM(master key, the 32-byte key)[32] | tag[16]
 * entry AAD = "PGSEALKE" | u32 master_gen | the entry bytes before its nonce
 * mac key = HKDF-SHA256(master key, salt "pgseal", info "pgseal keystore mac v1")
 * Integers are big-endian. The per-entry AAD binds a key to its identity (an entry
 * moved to another column does not unwrap); the file MAC stops entries being dropped,
 * duplicated or reordered, and old keystores being mixed with a newer master key.
 */
static const uint8_t magic[8] = {'P', 'G', 'S', 'E', 'A', 'L', 'K', 'S'};
static const uint8_t entry_magic[8] = {'P', 'G', 'S', 'E', 'A', 'L', 'K', 'E'};
#define FILE_HDR 20
#define ENTRY_HDR 20
#define WRAP_LEN (CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN + CRYPTO_TAG_LEN)
#define MAC_LEN 32

void keys_store_add(struct keys_store *st, const char *client, const char *table,
                    const char *column, uint8_t kind, uint32_t version, uint64_t created,
                    const uint8_t key[CRYPTO_KEY_LEN])
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 16;
		st->e = pgs_xrealloc(st->e, st->cap * sizeof(*st->e));
	}
	struct keys_entry *e = &st->e[st->n++];
	e->client = pgs_xstrdup(client);
	e->table = pgs_xstrdup(table);
	e->column = pgs_xstrdup(column);
	e->kind = kind;
	e->version = version;
	e->created = created;
	e->key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	memcpy(e->key, key, CRYPTO_KEY_LEN);
}

void keys_store_clear(struct keys_store *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->e[i].client);
		free(st->e[i].table);
		free(st->e[i].column);
		crypto_secure_free(st->e[i].key);
	}
	free(st->e);
	memset(st, 0, sizeof(*st));
}

static int mac_key(const uint8_t master[CRYPTO_KEY_LEN], uint8_t out[32])
{
	return crypto_hkdf_sha256(master, CRYPTO_KEY_LEN, (const uint8_t *)"pgseal", 6,
	                          "pgseal keystore mac v1", out, 32);
}

/* The AAD of an entry: entry magic, master generation, then the entry header and names. */
static uint8_t *entry_aad(uint32_t gen, const uint8_t *hdr, size_t hdrlen, size_t *aadlen)
{
	uint8_t *aad = pgs_xmalloc(12 + hdrlen);
	memcpy(aad, entry_magic, 8);
	pgs_put_u32(aad + 8, gen);
	memcpy(aad + 12, hdr, hdrlen);
	*aadlen = 12 + hdrlen;
	return aad;
}

static bool name_ok(const uint8_t *p, size_t n, bool allow_empty)
{
	if (n == 0)
		return allow_empty;
	if (n > KEYS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0)
			return false;
	return true;
}

static bool same_identity(const struct keys_entry *a, const struct keys_entry *b)
{
	return a->kind == b->kind && a->version == b->version && !strcmp(a->client, b->client) &&
	       !strcmp(a->table, b->table) && !strcmp(a->column, b->column);
}

int keys_store_decode(const uint8_t *buf, size_t len, const uint8_t master[CRYPTO_KEY_LEN],
                      struct keys_store *st, char *err, size_t errlen)
{
	uint8_t mk[32], mac[32], *key = NULL;
	int rc = PGS_ERR;
	memset(st, 0, sizeof(*st));
	if (len < FILE_HDR + MAC_LEN || memcmp(buf, magic, 8) != 0) {
		pgs_errf(err, errlen, "not a pgseal keystore (bad magic or too short)");
		return PGS_ERR;
	}
	if (buf[8] != 1 || buf[9] || buf[10] || buf[11]) {
		pgs_errf(err, errlen, "unsupported keystore version %u", buf[8]);
		return PGS_ERR;
	}
	uint32_t gen = pgs_get_u32(buf + 12);
	uint32_t count = pgs_get_u32(buf + 16);
	if (count > KEYS_MAX_ENTRIES) {
		pgs_errf(err, errlen, "keystore: too many entries");
		return PGS_ERR;
	}
	/* Structure first (no key needed), so that malformed files fail the same way. */
	size_t body = len - MAC_LEN, pos = FILE_HDR;
	for (uint32_t i = 0; i < count; i++) {
		if (body - pos < ENTRY_HDR) {
			pgs_errf(err, errlen, "keystore: truncated entry %u", i);
			return PGS_ERR;
		}
		const uint8_t *h = buf + pos;
		size_t cl = pgs_get_u16(h + 2), tl = pgs_get_u16(h + 4), ol = pgs_get_u16(h + 6);
		if (body - pos - ENTRY_HDR < cl + tl + ol + WRAP_LEN) {
			pgs_errf(err, errlen, "keystore: truncated entry %u", i);
			return PGS_ERR;
		}
		if ((h[0] != KEYS_KIND_DATA && h[0] != KEYS_KIND_SEARCH) || h[1] ||
		    pgs_get_u32(h + 8) == 0 || !name_ok(h + ENTRY_HDR, cl, true) ||
		    !name_ok(h + ENTRY_HDR + cl, tl, false) ||
		    !name_ok(h + ENTRY_HDR + cl + tl, ol, false)) {
			pgs_errf(err, errlen, "keystore: malformed entry %u", i);
			return PGS_ERR;
		}
		pos += ENTRY_HDR + cl + tl + ol + WRAP_LEN;
	}
	if (pos != body) {
		pgs_errf(err, errlen, "keystore: trailing bytes");
		return PGS_ERR;
	}
	if (mac_key(master, mk) != PGS_OK ||
	    crypto_hmac_sha256(mk, sizeof(mk), buf, body, mac) != PGS_OK ||
	    !crypto_ct_equal(mac, buf + body, MAC_LEN)) {
		pgs_errf(err, errlen,
		         "keystore: authentication failed (tampered, or sealed under "
		         "another master key)");
		goto out;
	}
	st->master_gen = gen;
	key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	pos = FILE_HDR;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *h = buf + pos;
		size_t cl = pgs_get_u16(h + 2), tl = pgs_get_u16(h + 4), ol = pgs_get_u16(h + 6);
		size_t hl = ENTRY_HDR + cl + tl + ol, aadlen;
		const uint8_t *w = h + hl;
		uint8_t *aad = entry_aad(gen, h, hl, &aadlen);
		int orc =
		    crypto_aead_open(master, w, aad, aadlen, w + CRYPTO_NONCE_LEN, CRYPTO_KEY_LEN,
		                     w + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN, key);
		free(aad);
		if (orc != PGS_OK) {
			pgs_errf(err, errlen, "keystore: entry %u does not unwrap", i);
			goto out;
		}
		char *c = strndup((const char *)h + ENTRY_HDR, cl);
		char *t = strndup((const char *)h + ENTRY_HDR + cl, tl);
		char *o = strndup((const char *)h + ENTRY_HDR + cl + tl, ol);
		if (!c || !t || !o) {
			free(c), free(t), free(o);
			goto out;
		}
		keys_store_add(st, c, t, o, h[0], pgs_get_u32(h + 8), pgs_get_u64(h + 12), key);
		free(c), free(t), free(o);
		for (size_t j = 0; j + 1 < st->n; j++)
			if (same_identity(&st->e[j], &st->e[st->n - 1])) {
				pgs_errf(err, errlen, "keystore: duplicate entry %u", i);
				goto out;
			}
		pos += hl + WRAP_LEN;
	}
	rc = PGS_OK;
out:
	crypto_wipe(mk, sizeof(mk));
	crypto_secure_free(key);
	if (rc != PGS_OK)
		keys_store_clear(st);
	return rc;
}

int keys_store_encode(const struct keys_store *st, const uint8_t master[CRYPTO_KEY_LEN],
                      uint8_t **out, size_t *outlen)
{
	size_t len = FILE_HDR + MAC_LEN, pos = FILE_HDR;
	uint8_t mk[32];
	int rc = PGS_ERR;
	for (size_t i = 0; i < st->n; i++)
		len += ENTRY_HDR + strlen(st->e[i].client) + strlen(st->e[i].table) +
		       strlen(st->e[i].column) + WRAP_LEN;
	uint8_t *b = pgs_xcalloc(1, len);
	memcpy(b, magic, 8);
	b[8] = 1;
	pgs_put_u32(b + 12, st->master_gen);
	pgs_put_u32(b + 16, st->n);
	for (size_t i = 0; i < st->n; i++) {
		const struct keys_entry *e = &st->e[i];
		size_t cl = strlen(e->client), tl = strlen(e->table), ol = strlen(e->column);
		if (cl > KEYS_NAME_MAX || tl > KEYS_NAME_MAX || ol > KEYS_NAME_MAX)
			goto out;
		uint8_t *h = b + pos;
		h[0] = e->kind;
		pgs_put_u16(h + 2, cl);
		pgs_put_u16(h + 4, tl);
		pgs_put_u16(h + 6, ol);
		pgs_put_u32(h + 8, e->version);
		pgs_put_u64(h + 12, e->created);
		memcpy(h + ENTRY_HDR, e->client, cl);
		memcpy(h + ENTRY_HDR + cl, e->table, tl);
		memcpy(h + ENTRY_HDR + cl + tl, e->column, ol);
		size_t hl = ENTRY_HDR + cl + tl + ol, aadlen;
		uint8_t *w = h + hl;
		if (crypto_random(w, CRYPTO_NONCE_LEN) != PGS_OK)
			goto out;
		uint8_t *aad = entry_aad(st->master_gen, h, hl, &aadlen);
		int src =
		    crypto_aead_seal(master, w, aad, aadlen, e->key, CRYPTO_KEY_LEN,
		                     w + CRYPTO_NONCE_LEN, w + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN);
		free(aad);
		if (src != PGS_OK)
			goto out;
		pos += hl + WRAP_LEN;
	}
	if (mac_key(master, mk) != PGS_OK ||
	    crypto_hmac_sha256(mk, sizeof(mk), b, pos, b + pos) != PGS_OK)
		goto out;
	*out = b;
	*outlen = len;
	b = NULL;
	rc = PGS_OK;
out:
	crypto_wipe(mk, sizeof(mk));
	free(b);
	return rc;
}
