/* sim_k256.c - secp256k1 recoverable ECDSA (dstack's signature chains) and Ed25519, on OpenSSL
 * BN/EC. */
#include "sim/sim.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>

struct k256 {
	EC_GROUP *g;
	BN_CTX *bn;
	const BIGNUM *n;
};

static int k256_open(struct k256 *c)
{
	c->g = EC_GROUP_new_by_curve_name(NID_secp256k1);
	c->bn = BN_CTX_new();
	if (!c->g || !c->bn) {
		EC_GROUP_free(c->g);
		BN_CTX_free(c->bn);
		return PGS_ERR;
	}
	c->n = EC_GROUP_get0_order(c->g);
	return PGS_OK;
}

static void k256_close(struct k256 *c)
{
	EC_GROUP_free(c->g);
	BN_CTX_free(c->bn);
}

bool sim_k256_valid_scalar(const uint8_t key[32])
{
	struct k256 c;
	if (k256_open(&c) != PGS_OK)
		return false;
	BIGNUM *d = BN_bin2bn(key, 32, NULL);
	bool ok = d && !BN_is_zero(d) && BN_cmp(d, c.n) < 0;
	BN_clear_free(d);
	k256_close(&c);
	return ok;
}

int sim_k256_pubkey(const uint8_t key[32], uint8_t pub33[33])
{
	struct k256 c;
	int rc = PGS_ERR;
	if (k256_open(&c) != PGS_OK)
		return PGS_ERR;
	BIGNUM *d = BN_bin2bn(key, 32, NULL);
	EC_POINT *q = EC_POINT_new(c.g);
	if (!d || !q || BN_is_zero(d) || BN_cmp(d, c.n) >= 0)
		goto out;
	if (EC_POINT_mul(c.g, q, d, NULL, NULL, c.bn) != 1)
		goto out;
	if (EC_POINT_point2oct(c.g, q, POINT_CONVERSION_COMPRESSED, pub33, 33, c.bn) != 33)
		goto out;
	rc = PGS_OK;
out:
	BN_clear_free(d);
	EC_POINT_free(q);
	k256_close(&c);
	return rc;
}

/* ECDSA with a deterministic nonce k = HMAC-SHA256(key, digest || counter) mod n (RFC 6979 in
 * spirit). */
static int k256_sign(const uint8_t key[32], const uint8_t digest[32], uint8_t sig[64],
                     uint8_t *recid)
{
	struct k256 c;
	int rc = PGS_ERR;
	if (k256_open(&c) != PGS_OK)
		return PGS_ERR;
	BIGNUM *d = BN_bin2bn(key, 32, NULL), *e = BN_bin2bn(digest, 32, NULL);
	BIGNUM *k = BN_new(), *kinv = BN_new(), *r = BN_new(), *s = BN_new(), *x = BN_new(),
	       *y = BN_new();
	BIGNUM *half = BN_new();
	EC_POINT *R = EC_POINT_new(c.g);
	uint8_t nonce[32];
	if (!d || !e || !k || !kinv || !r || !s || !x || !y || !half || !R)
		goto out;
	if (BN_is_zero(d) || BN_cmp(d, c.n) >= 0)
		goto out;
	for (uint8_t ctr = 0; ctr < 16; ctr++) {
		uint8_t msg[33];
		unsigned mlen = sizeof(nonce);
		memcpy(msg, digest, 32);
		msg[32] = ctr;
		if (!HMAC(EVP_sha256(), key, 32, msg, sizeof(msg), nonce, &mlen))
			goto out;
		if (!BN_bin2bn(nonce, 32, k) || BN_is_zero(k) || BN_cmp(k, c.n) >= 0)
			continue;
		if (EC_POINT_mul(c.g, R, k, NULL, NULL, c.bn) != 1 ||
		    EC_POINT_get_affine_coordinates(c.g, R, x, y, c.bn) != 1)
			goto out;
		if (BN_nnmod(r, x, c.n, c.bn) != 1 || BN_is_zero(r))
			continue;
		/* s = k^-1 (e + r d) mod n */
		if (!BN_mod_inverse(kinv, k, c.n, c.bn) || BN_mod_mul(s, r, d, c.n, c.bn) != 1 ||
		    BN_mod_add(s, s, e, c.n, c.bn) != 1 || BN_mod_mul(s, s, kinv, c.n, c.bn) != 1)
			goto out;
		if (BN_is_zero(s))
			continue;
		uint8_t rid = (uint8_t)(BN_is_odd(y) ? 1 : 0);
		if (BN_cmp(x, c.n) >= 0)
			rid |= 2;
		if (BN_rshift1(half, c.n) != 1)
			goto out;
		if (BN_cmp(s, half) > 0) { /* low-s form, as k256 and Ethereum require */
			if (BN_sub(s, c.n, s) != 1)
				goto out;
			rid ^= 1;
		}
		if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
			goto out;
		if (recid)
			*recid = rid;
		rc = PGS_OK;
		break;
	}
out:
	OPENSSL_cleanse(nonce, sizeof(nonce));
	BN_clear_free(d);
	BN_clear_free(k);
	BN_clear_free(kinv);
	BN_free(e);
	BN_free(r);
	BN_free(s);
	BN_free(x);
	BN_free(y);
	BN_free(half);
	EC_POINT_free(R);
	k256_close(&c);
	return rc;
}

int sim_k256_sign_recoverable(const uint8_t key[32], const uint8_t digest[32], uint8_t sig[65])
{
	uint8_t recid = 0;
	if (k256_sign(key, digest, sig, &recid) != PGS_OK)
		return PGS_ERR;
	sig[64] = recid;
	return PGS_OK;
}

int sim_k256_sign_digest(const uint8_t key[32], const uint8_t digest[32], uint8_t sig[64])
{
	return k256_sign(key, digest, sig, NULL);
}

int sim_k256_verify_digest(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                           const uint8_t sig[64])
{
	struct k256 c;
	int rc = -1;
	if (k256_open(&c) != PGS_OK)
		return -1;
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL),
	       *e = BN_bin2bn(digest, 32, NULL);
	BIGNUM *w = BN_new(), *u1 = BN_new(), *u2 = BN_new(), *x = BN_new();
	EC_POINT *q = EC_POINT_new(c.g), *X = EC_POINT_new(c.g);
	if (!r || !s || !e || !w || !u1 || !u2 || !x || !q || !X)
		goto out;
	if (EC_POINT_oct2point(c.g, q, pub, publen, c.bn) != 1) {
		rc = 0;
		goto out;
	}
	rc = 0;
	if (BN_is_zero(r) || BN_is_zero(s) || BN_cmp(r, c.n) >= 0 || BN_cmp(s, c.n) >= 0)
		goto out;
	if (!BN_mod_inverse(w, s, c.n, c.bn) || BN_mod_mul(u1, e, w, c.n, c.bn) != 1 ||
	    BN_mod_mul(u2, r, w, c.n, c.bn) != 1 || EC_POINT_mul(c.g, X, u1, q, u2, c.bn) != 1 ||
	    EC_POINT_is_at_infinity(c.g, X) ||
	    EC_POINT_get_affine_coordinates(c.g, X, x, NULL, c.bn) != 1 ||
	    BN_nnmod(x, x, c.n, c.bn) != 1)
		goto out;
	rc = BN_cmp(x, r) == 0;
out:
	BN_free(r);
	BN_free(s);
	BN_free(e);
	BN_free(w);
	BN_free(u1);
	BN_free(u2);
	BN_free(x);
	EC_POINT_free(q);
	EC_POINT_free(X);
	k256_close(&c);
	return rc;
}

int sim_ed25519_pubkey(const uint8_t seed[32], uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	size_t len = 32;
	int rc =
	    (k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32) ? PGS_OK : PGS_ERR;
	EVP_PKEY_free(k);
	return rc;
}

int sim_ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t len, uint8_t sig[64])
{
	int rc = PGS_ERR;
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t slen = 64;
	if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &slen, msg, len) == 1 && slen == 64)
		rc = PGS_OK;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return rc;
}

int sim_ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len, const uint8_t sig[64])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;
	if (k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1)
		rc = EVP_DigestVerify(ctx, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return rc;
}
