/* fuzz_deploy.c - libFuzzer target: dstack's normalised JSON form and the AppCompose reader of
 * `pgseal deploy`. */
#include <stdlib.h>
#include <string.h>

#include "deploy/deploy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *o = NULL, *o2 = NULL;
	size_t n = 0, n2 = 0;
	struct deploy_app_compose ac;
	if (deploy_normalize(data, size, &o, &n, err, sizeof(err)) == PGS_OK) {
		/* the normalised form is a fixed point: normalising it again changes nothing */
		if (deploy_normalize((const uint8_t *)o, n, &o2, &n2, err, sizeof(err)) != PGS_OK ||
		    n2 != n || memcmp(o, o2, n) != 0)
			__builtin_trap();
	}
	if (deploy_app_compose_read(data, size, &ac, err, sizeof(err)) == PGS_OK && ac.normalised &&
	    (!o || n != size || memcmp(o, data, size) != 0))
		__builtin_trap();
	free(o);
	free(o2);
	return 0;
}
