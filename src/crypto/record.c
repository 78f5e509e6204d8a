/* record.c - the stored record of one encrypted value (DESIGN.md §5): encrypt, decrypt, blind
 * index. */

/* The blind index uses SHA-256's low-level API on purpose: HMAC's inner and outer states
 * are precomputed once per key and copied by value per call, which EVP cannot do
 * without an allocation per value (EVP_MD_CTX_copy_ex duplicates provider state). */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "crypto/crypto.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define NAME_MAX_LEN 256
#define NONCE_POOL                                                                                 \
	256 /* nonces fetched from the DRBG at a time: 3 KiB, the context fits one page */

struct crypto_column_key {
	EVP_CIPHER_CTX *enc; /* key schedule done once; per value only the nonce is set */
	EVP_CIPHER_CTX *dec;
	uint32_t key_id;
	bool has_search;
	SHA256_CTX hmac_inner; /* state after absorbing search_key ^ ipad */
	SHA256_CTX hmac_outer; /* state after absorbing search_key ^ opad */
	size_t name_len;
	/* The AAD, built in place per call: 37 bytes of record header (format, blind index,
	 * key id) then "<table>.<column>" set once, so that GCM gets it in ONE update. */
	uint8_t aad[1 + CRYPTO_BLIND_LEN + CRYPTO_KEYID_LEN + NAME_MAX_LEN];
	size_t pool_used;
	uint8_t nonce_pool[NONCE_POOL * CRYPTO_NONCE_LEN];
};

int crypto_column_key_new(const uint8_t data_key[CRYPTO_KEY_LEN], const uint8_t *search_key,
                          uint32_t key_id, const char *table, const char *column,
                          struct crypto_column_key **out)
{
	struct crypto_column_key *k = NULL;
	uint8_t pad[SHA256_CBLOCK];
	size_t tl = strlen(table), cl = strlen(column);
	*out = NULL;
	if (tl + cl + 2 > NAME_MAX_LEN || key_id < CRYPTO_KEYID_MIN || key_id > CRYPTO_KEYID_MAX)
		return PGS_ERR;
	/* The struct holds HMAC states derived from the key: it lives in secure memory. */
	k = crypto_secure_alloc(sizeof(*k));
	k->name_len = tl + 1 + cl;
	{
		uint8_t *name = k->aad + sizeof(k->aad) - k->name_len;
		/* AAD bytes counted by name_len, not a string: no NUL wanted */
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(name, table, tl);
		name[tl] = '.';
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(name + tl + 1, column, cl);
	}
	k->key_id = key_id;
	k->pool_used = NONCE_POOL;
	k->enc = EVP_CIPHER_CTX_new();
	k->dec = EVP_CIPHER_CTX_new();
	if (!k->enc || !k->dec)
		goto fail;
	if (EVP_EncryptInit_ex(k->enc, EVP_aes_256_gcm(), NULL, data_key, NULL) != 1 ||
	    EVP_DecryptInit_ex(k->dec, EVP_aes_256_gcm(), NULL, data_key, NULL) != 1)
		goto fail;
	if (search_key) {
		k->has_search = true;
		memset(pad, 0x36, sizeof(pad));
		for (int i = 0; i < CRYPTO_KEY_LEN; i++)
			pad[i] ^= search_key[i];
		if (!SHA256_Init(&k->hmac_inner) ||
		    !SHA256_Update(&k->hmac_inner, pad, sizeof(pad)))
			goto fail;
		memset(pad, 0x5c, sizeof(pad));
		for (int i = 0; i < CRYPTO_KEY_LEN; i++)
			pad[i] ^= search_key[i];
		if (!SHA256_Init(&k->hmac_outer) ||
		    !SHA256_Update(&k->hmac_outer, pad, sizeof(pad)))
			goto fail;
	}
	OPENSSL_cleanse(pad, sizeof(pad));
	*out = k;
	return PGS_OK;
fail:
	OPENSSL_cleanse(pad, sizeof(pad));
	crypto_column_key_free(k);
	return PGS_ERR;
}

void crypto_column_key_free(struct crypto_column_key *k)
{
	if (!k)
		return;
	EVP_CIPHER_CTX_free(k->enc); /* OpenSSL wipes the key schedule */
	EVP_CIPHER_CTX_free(k->dec);
	crypto_secure_free(k);
}

uint32_t crypto_column_key_id(const struct crypto_column_key *k)
{
	return k->key_id;
}

size_t crypto_record_len(bool searchable, size_t plain_len)
{
	if (plain_len > CRYPTO_REC_MAX_PLAIN)
		return 0;
	return plain_len + (searchable ? CRYPTO_REC_OVERHEAD_SEARCHABLE : CRYPTO_REC_OVERHEAD);
}

int crypto_blind_index(struct crypto_column_key *k, const uint8_t *pt, size_t ptlen,
                       uint8_t out[CRYPTO_BLIND_LEN])
{
	SHA256_CTX c;
	uint8_t inner[SHA256_DIGEST_LENGTH];
	int rc = PGS_ERR;
	if (!k->has_search)
		return PGS_ERR;
	c = k->hmac_inner;
	if (!SHA256_Update(&c, pt, ptlen) || !SHA256_Final(inner, &c))
		goto out;
	c = k->hmac_outer;
	if (!SHA256_Update(&c, inner, sizeof(inner)) || !SHA256_Final(out, &c))
		goto out;
	rc = PGS_OK;
out:
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* The AAD is header || name. The name sits at the end of k->aad (placed once); the header
 * (hlen bytes: 5 or 37) is copied right in front of it, giving one contiguous buffer. */
static const uint8_t *aad_for(struct crypto_column_key *k, const uint8_t *hdr, size_t hlen)
{
	uint8_t *name = k->aad + sizeof(k->aad) - k->name_len;
	memcpy(name - hlen, hdr, hlen);
	return name - hlen;
}

static int next_nonce(struct crypto_column_key *k, uint8_t nonce[CRYPTO_NONCE_LEN])
{
	if (k->pool_used == NONCE_POOL) {
		if (crypto_random(k->nonce_pool, sizeof(k->nonce_pool)) != PGS_OK)
			return PGS_ERR;
		k->pool_used = 0;
	}
	/* each nonce is handed out once: the index only moves forward until the refill */
	memcpy(nonce, k->nonce_pool + k->pool_used * CRYPTO_NONCE_LEN, CRYPTO_NONCE_LEN);
	k->pool_used++;
	return PGS_OK;
}

int crypto_record_encrypt_with_nonce(struct crypto_column_key *k, bool searchable,
                                     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *pt,
                                     size_t ptlen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t need = crypto_record_len(searchable, ptlen);
	size_t h = 0;
	int n;
	if (need == 0 || cap < need || (searchable && !k->has_search))
		return PGS_ERR;
	out[h++] = searchable ? CRYPTO_REC_SEARCHABLE : CRYPTO_REC_PLAIN;
	if (searchable) {
		if (crypto_blind_index(k, pt, ptlen, out + h) != PGS_OK)
			return PGS_ERR;
		h += CRYPTO_BLIND_LEN;
	}
	pgs_put_u32(out + h, k->key_id);
	h += CRYPTO_KEYID_LEN;
	size_t aad_len = h; /* format || blind index || key id, then the column name */
	memcpy(out + h, nonce, CRYPTO_NONCE_LEN);
	h += CRYPTO_NONCE_LEN;
	uint8_t *ct = out + h;
	const uint8_t *aad = aad_for(k, out, aad_len);
	if (EVP_EncryptInit_ex(k->enc, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(k->enc, NULL, &n, aad, (int)(aad_len + k->name_len)) != 1)
		goto fail;
	if (ptlen && EVP_EncryptUpdate(k->enc, ct, &n, pt, (int)ptlen) != 1)
		goto fail;
	if (EVP_EncryptFinal_ex(k->enc, ct + ptlen, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(k->enc, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, ct + ptlen) != 1)
		goto fail;
	*outlen = need;
	return PGS_OK;
fail:
	OPENSSL_cleanse(out, need);
	return PGS_ERR;
}

int crypto_record_encrypt(struct crypto_column_key *k, bool searchable, const uint8_t *pt,
                          size_t ptlen, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t nonce[CRYPTO_NONCE_LEN];
	if (next_nonce(k, nonce) != PGS_OK)
		return PGS_ERR;
	return crypto_record_encrypt_with_nonce(k, searchable, nonce, pt, ptlen, out, cap, outlen);
}

int crypto_record_parse(const uint8_t *rec, size_t len, struct crypto_record_view *v)
{
	size_t h = 1;
	if (len < CRYPTO_REC_OVERHEAD)
		return PGS_ERR;
	memset(v, 0, sizeof(*v));
	v->format = rec[0];
	if (v->format == CRYPTO_REC_SEARCHABLE) {
		if (len < CRYPTO_REC_OVERHEAD_SEARCHABLE)
			return PGS_ERR;
		v->blind = rec + h;
		h += CRYPTO_BLIND_LEN;
	} else if (v->format != CRYPTO_REC_PLAIN) {
		return PGS_ERR;
	}
	v->key_id = pgs_get_u32(rec + h);
	h += CRYPTO_KEYID_LEN;
	v->nonce = rec + h;
	h += CRYPTO_NONCE_LEN;
	v->ct = rec + h;
	v->ct_len = len - h - CRYPTO_TAG_LEN;
	v->tag = rec + len - CRYPTO_TAG_LEN;
	if (v->ct_len > CRYPTO_REC_MAX_PLAIN)
		return PGS_ERR;
	return PGS_OK;
}

int crypto_record_decrypt(struct crypto_column_key *k, const uint8_t *rec, size_t reclen,
                          uint8_t *out, size_t cap, size_t *outlen)
{
	struct crypto_record_view v;
	uint8_t tag[CRYPTO_TAG_LEN];
	int n;
	if (crypto_record_parse(rec, reclen, &v) != PGS_OK || v.key_id != k->key_id ||
	    cap < v.ct_len)
		return PGS_ERR;
	size_t aad_len = (size_t)(v.nonce - rec);
	memcpy(tag, v.tag, sizeof(tag));
	const uint8_t *aad = aad_for(k, rec, aad_len);
	if (EVP_DecryptInit_ex(k->dec, NULL, NULL, NULL, v.nonce) != 1 ||
	    EVP_DecryptUpdate(k->dec, NULL, &n, aad, (int)(aad_len + k->name_len)) != 1)
		goto fail;
	if (v.ct_len && EVP_DecryptUpdate(k->dec, out, &n, v.ct, (int)v.ct_len) != 1)
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(k->dec, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(k->dec, out + v.ct_len, &n) != 1)
		goto fail;
	*outlen = v.ct_len;
	return PGS_OK;
fail:
	OPENSSL_cleanse(out, v.ct_len);
	return PGS_ERR;
}
