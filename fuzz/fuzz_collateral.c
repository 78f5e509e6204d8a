/* fuzz_collateral.c - libFuzzer target: Intel PCS collateral JSON (TCB Info, QE Identity, CRLs)
 * parsing. */
#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_collateral *c = NULL;
	char err[256];
	if (attest_collateral_parse((const char *)data, size, &c, err, sizeof(err)) == PGS_OK)
		attest_collateral_free(c);
	return 0;
}
