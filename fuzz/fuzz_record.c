/* fuzz_record.c - libFuzzer target: record parsing and decryption, plus codec conversions of the
 * input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a fresh context per input: its cipher contexts live in secure memory, which
	 * LeakSanitizer does not scan, so a static one would be reported as leaked */
	struct crypto_column_key *k;
	static uint8_t out[1 << 16];
	uint8_t key[32], sk[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i, sk[i] = (uint8_t)(32 + i);
	if (crypto_column_key_new(key, sk, 7, "users", "email", &k) != PGS_OK)
		abort();
	struct crypto_record_view v;
	size_t ol;
	if (crypto_record_parse(data, size, &v) == PGS_OK) {
		if (v.ct + v.ct_len != v.tag || v.tag + CRYPTO_TAG_LEN != data + size)
			abort();
	}
	if (size <= sizeof(out) &&
	    crypto_record_decrypt(k, data, size, out, sizeof(out), &ol) == PGS_OK) {
		/* only genuine records (the committed known-answer seeds) authenticate: encrypting
		 * the plaintext again with the same nonce must give back exactly the input */
		static uint8_t again[1 << 16];
		size_t al;
		if (crypto_record_encrypt_with_nonce(k, v.format == CRYPTO_REC_SEARCHABLE, v.nonce,
		                                     out, ol, again, sizeof(again),
		                                     &al) != PGS_OK ||
		    al != size || memcmp(again, data, size) != 0)
			abort();
	}

	/* The same bytes as a wire value of every type, both formats. */
	if (size > 0) {
		struct pgs_buf c = {0}, w = {0};
		enum codec_type t = (enum codec_type)(CODEC_TEXT + data[0] % 13);
		int fmt = (data[0] >> 4) & 1;
		static const uint32_t oids[] = {0,   16,  17,   20,   21,   23,   25,   114,
		                                700, 701, 1082, 1114, 1184, 1700, 2950, 3802};
		uint32_t oid = oids[(data[0] >> 5) % (sizeof(oids) / sizeof(oids[0]))];
		if (codec_to_canonical(t, oid, fmt, data + 1, size - 1, &c) == PGS_OK) {
			/* canonical values always format, and text output re-reads to the same
			 * bytes */
			if (codec_from_canonical(t, CODEC_FMT_TEXT, c.data, c.len, &w) != PGS_OK)
				abort();
			struct pgs_buf c2 = {0};
			if (codec_to_canonical(t, 0, CODEC_FMT_TEXT, w.data, w.len, &c2) !=
			        PGS_OK ||
			    c2.len != c.len || (c.len && memcmp(c2.data, c.data, c.len)))
				abort();
			if (codec_from_canonical(t, CODEC_FMT_BINARY, c.data, c.len, &w) != PGS_OK)
				abort();
			pgs_buf_free(&c2);
		}
		pgs_buf_free(&c);
		pgs_buf_free(&w);
	}
	crypto_column_key_free(k);
	return 0;
}
