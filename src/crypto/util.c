/* util.c - crypto helpers: constant-time compare, RNG, HKDF, one-shot AEAD/HMAC. */
#include "crypto/crypto.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

int crypto_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int crypto_random(void *buf, size_t n)
{
	if (n > (size_t)INT32_MAX)
		return PGS_ERR;
	return RAND_bytes(buf, (int)n) == 1 ? PGS_OK : PGS_ERR;
}

void crypto_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
                       const char *info, uint8_t *out, size_t outlen)
{
	int rc = PGS_ERR;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (!pc)
		return PGS_ERR;
	if (EVP_PKEY_derive_init(pc) != 1 || EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(pc, salt, (int)saltlen) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_key(pc, ikm, (int)ikmlen) != 1 ||
	    EVP_PKEY_CTX_add1_hkdf_info(pc, (const unsigned char *)info, (int)strlen(info)) != 1)
		goto out;
	size_t n = outlen;
	if (EVP_PKEY_derive(pc, out, &n) != 1 || n != outlen)
		goto out;
	rc = PGS_OK;
out:
	EVP_PKEY_CTX_free(pc);
	return rc;
}

int crypto_aead_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct,
                     uint8_t tag[CRYPTO_TAG_LEN])
{
	int rc = PGS_ERR, n;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c || len > INT32_MAX || aadlen > INT32_MAX)
		goto out;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
		goto out;
	if (aadlen && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len && EVP_EncryptUpdate(c, ct, &n, pt, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(c, ct + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		goto out;
	rc = PGS_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int crypto_aead_open(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
                     const uint8_t tag[CRYPTO_TAG_LEN], uint8_t *pt)
{
	int rc = PGS_ERR, n;
	uint8_t t[CRYPTO_TAG_LEN];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c || len > INT32_MAX || aadlen > INT32_MAX)
		goto out;
	memcpy(t, tag, sizeof(t));
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
		goto out;
	if (aadlen && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len && EVP_DecryptUpdate(c, pt, &n, ct, (int)len) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, t) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(c, pt + len, &n) != 1) {
		OPENSSL_cleanse(pt, len);
		goto out;
	}
	rc = PGS_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int crypto_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                       uint8_t out[32])
{
	unsigned int n = 0;
	if (keylen > INT32_MAX)
		return PGS_ERR;
	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) || n != 32)
		return PGS_ERR;
	return PGS_OK;
}
