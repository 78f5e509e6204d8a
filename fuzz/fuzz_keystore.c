/* fuzz_keystore.c - libFuzzer target: the keystore file parser (structure, MAC, per-entry unwrap). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t master[32];
	char err[256];
	struct keys_store st;
	memset(master, 9, sizeof(master));
	if (keys_store_decode(data, size, master, &st, err, sizeof(err)) == PGS_OK) {
		/* re-encoding what decoded must decode to the same entries */
		uint8_t *buf = NULL;
		size_t len = 0;
		struct keys_store st2;
		if (keys_store_encode(&st, master, &buf, &len) != PGS_OK ||
		    keys_store_decode(buf, len, master, &st2, err, sizeof(err)) != PGS_OK ||
		    st2.n != st.n)
			abort();
		keys_store_clear(&st2);
		free(buf);
		keys_store_clear(&st);
	}
	return 0;
}
