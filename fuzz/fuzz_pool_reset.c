/* fuzz_pool_reset.c - libFuzzer target for the session pool's reading of the reset answer and of ParameterStatus bodies. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copy so that ASan sees reads past the exact input length */
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct conn_params params = {0};
	struct conn_reset r = {.params = &params};
	uint32_t used = 0;
	int st = conn_pool_reset_answer(&r, buf, (uint32_t)size, &used);
	if (used > size || (st < 0 && !r.why))
		abort();
	/* the same bytes as one ParameterStatus body */
	conn_params_set(&params, buf, (uint32_t)size);
	for (int i = 0; i < params.n; i++)
		if (!params.names[i][0])
			abort(); /* an empty name is never recorded */
	conn_params_free(&params);
	free(buf);
	return 0;
}
