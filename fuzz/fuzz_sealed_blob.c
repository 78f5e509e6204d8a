/* fuzz_sealed_blob.c - libFuzzer target: the sealed master-key blob parser and unsealing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sk[32], master[32];
	struct keys_sealed_hdr h;
	memset(sk, 0x11, sizeof(sk));
	if (keys_sealed_parse(data, size, &h) == PGS_OK && size != KEYS_SEALED_LEN)
		abort();
	if (keys_sealed_open(sk, data, size, &h, master) == PGS_OK) {
		/* only possible for the committed seed sealed under this key: reseal must open */
		uint8_t blob[KEYS_SEALED_LEN], m2[32];
		if (keys_sealed_seal(sk, &h, master, blob) != PGS_OK ||
		    keys_sealed_open(sk, blob, sizeof(blob), &h, m2) != PGS_OK ||
		    memcmp(master, m2, 32))
			abort();
	}
	return 0;
}
