/* fuzz_pool_reset.c - libFuzzer target for the session pool's readers: the reset answer (both
 * forms), the hand-out check's answer, ParameterStatus bodies. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reset_once(const uint8_t *buf, size_t size, struct conn_params *params,
                       const char *expect, int phase)
{
	struct conn_reset r = {.params = params, .expect = expect, .phase = phase};
	uint32_t used = 0;
	int st = conn_pool_reset_answer(&r, buf, (uint32_t)size, &used);
	if (used > size || (st < 0 && !r.why) || (st == 1 && !expect && !r.fingerprint))
		abort();
	conn_reset_clear(&r); /* LeakSanitizer checks what the reader kept */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copy so that ASan sees reads past the exact input length */
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct conn_params params = {0};
	reset_once(buf, size, &params, NULL, 0);
	reset_once(buf, size, &params, NULL, 1); /* as if DISCARD ALL were done */
	reset_once(buf, size, &params, "fp", 1); /* a backend validated before */
	int st = conn_pool_check_answer(buf, (uint32_t)size, &params, "fp");
	if (st < -2 || st > 1)
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
