/* fuzz_quote.c - libFuzzer target: quote file decoding, v4/v5 parsing and verification without
 * collateral. */
#include <stdlib.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_quote q;
	struct attest_result res;
	struct attest_opts opts = {.now = 1751000000};
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	char err[256];

	if (attest_quote_parse(data, size, &q, err, sizeof(err)) == PGS_OK) {
		/* the parsed pointers stay inside the input */
		if (q.pck_chain < data || q.pck_chain + q.pck_chain_len > data + size)
			abort();
	}
	if (attest_quote_decode_file(data, size, &raw, &rawlen, err, sizeof(err)) == PGS_OK) {
		if (attest_verify_quote(raw, rawlen, NULL, &opts, &res, err, sizeof(err)) != PGS_OK)
			abort();
		if (res.trusted) /* never without collateral */
			abort();
		free(raw);
	}
	return 0;
}
