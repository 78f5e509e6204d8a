/* keys_sealed.c - the sealed master-key blob: fixed 84-byte format, AES-256-GCM with the header as
 * AAD. */
#include "keys/keys_internal.h"

#include <string.h>

/*
 *  0  8  magic "PGSEALMK"
 *  8  1  format version (1)
 *  9  1  provider id (1 dstack, 2 env, 3 file)
 * 10  2  reserved, zero
 * 12  4  master key generation (big-endian; +1 per master rotation)
 * 16  8  creation time (unix seconds, big-endian)
 * 24 12  nonce (random)
 * 36 32  AES-256-GCM ciphertext of the master key
 * 68 16  GCM tag                      AAD = bytes 0..24
 */
static const uint8_t magic[8] = {'P', 'G', 'S', 'E', 'A', 'L', 'M', 'K'};
#define HDR_LEN 24

int keys_sealed_parse(const uint8_t *blob, size_t len, struct keys_sealed_hdr *h)
{
	if (len != KEYS_SEALED_LEN || memcmp(blob, magic, sizeof(magic)) != 0)
		return PGS_ERR;
	h->version = blob[8];
	h->provider = blob[9];
	h->master_gen = pgs_get_u32(blob + 12);
	h->created = pgs_get_u64(blob + 16);
	if (h->version != 1 || h->provider < KEYS_PROV_DSTACK || h->provider > KEYS_PROV_FILE ||
	    blob[10] || blob[11] || h->master_gen == 0)
		return PGS_ERR;
	return PGS_OK;
}

int keys_sealed_seal(const uint8_t sealing[CRYPTO_KEY_LEN], const struct keys_sealed_hdr *h,
                     const uint8_t master[CRYPTO_KEY_LEN], uint8_t out[KEYS_SEALED_LEN])
{
	memset(out, 0, KEYS_SEALED_LEN);
	memcpy(out, magic, sizeof(magic));
	out[8] = 1;
	out[9] = h->provider;
	pgs_put_u32(out + 12, h->master_gen);
	pgs_put_u64(out + 16, h->created);
	if (crypto_random(out + HDR_LEN, CRYPTO_NONCE_LEN) != PGS_OK)
		return PGS_ERR;
	return crypto_aead_seal(sealing, out + HDR_LEN, out, HDR_LEN, master, CRYPTO_KEY_LEN,
	                        out + HDR_LEN + CRYPTO_NONCE_LEN,
	                        out + HDR_LEN + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN);
}

int keys_sealed_open(const uint8_t sealing[CRYPTO_KEY_LEN], const uint8_t *blob, size_t len,
                     struct keys_sealed_hdr *h, uint8_t master[CRYPTO_KEY_LEN])
{
	if (keys_sealed_parse(blob, len, h) != PGS_OK)
		return PGS_ERR;
	return crypto_aead_open(sealing, blob + HDR_LEN, blob, HDR_LEN,
	                        blob + HDR_LEN + CRYPTO_NONCE_LEN, CRYPTO_KEY_LEN,
	                        blob + HDR_LEN + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN, master);
}
