/* fuzz_encoding.c - libFuzzer target: common's base64 and hex decoders, with round trips
 * (a strict decoder accepts only what the encoder writes) and agreement with OpenSSL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void b64_checks(const uint8_t *data, size_t size)
{
	static uint8_t dec[4096];
	static char enc[8192];
	size_t n = 0, m = 0;
	if (size > 4096)
		return;
	/* decode: anything accepted re-encodes to exactly the input (canonical, no
	 * whitespace), and OpenSSL's decoder reads the same bytes */
	if (pgs_b64_decode((const char *)data, size, dec, sizeof(dec), &n) == PGS_OK) {
		if (pgs_b64_encode(dec, n, enc, sizeof(enc), &m) != PGS_OK || m != size ||
		    memcmp(enc, data, size) != 0)
			abort();
		static unsigned char ossl[4096];
		int on = EVP_DecodeBlock(ossl, data, (int)size);
		size_t pad =
		    size && data[size - 1] == '=' ? (size > 1 && data[size - 2] == '=' ? 2 : 1) : 0;
		if (on < 0 || (size_t)on != n + pad || memcmp(ossl, dec, n) != 0)
			abort();
	}
	/* encode: always decodes back to the input and agrees with OpenSSL's encoder */
	if (pgs_b64_encode(data, size, enc, sizeof(enc), &m) != PGS_OK || m != PGS_B64_LEN(size) ||
	    pgs_b64_decode(enc, m, dec, sizeof(dec), &n) != PGS_OK || n != size ||
	    (size && memcmp(dec, data, size) != 0))
		abort();
	static unsigned char ossl_enc[8192];
	if ((size_t)EVP_EncodeBlock(ossl_enc, data, (int)size) != m ||
	    memcmp(ossl_enc, enc, m) != 0)
		abort();
}

static void hex_checks(const uint8_t *data, size_t size)
{
	static uint8_t out[4096];
	static char back[8193];
	if (size > 8192 || size % 2)
		return;
	if (pgs_unhex((const char *)data, size, out, size / 2) == PGS_OK) {
		pgs_hex(out, size / 2, back);
		for (size_t i = 0; i < size; i++) {
			int c = data[i] >= 'A' && data[i] <= 'F' ? data[i] + 32 : data[i];
			if (back[i] != c || pgs_hexval(data[i]) < 0)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	b64_checks(data, size);
	hex_checks(data, size);
	return 0;
}
