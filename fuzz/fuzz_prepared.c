/* fuzz_prepared.c - libFuzzer target for the prepared-statement namespace: client messages and
 * server answers in any order, checked against a model of PostgreSQL's namespace. */
#include <stdio.h>
#include <stdlib.h>

#include "../tests/unit/prepared_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	if (pm_script(data, size) != 0) {
		fprintf(stderr, "prepared namespace: %s\n", pm_why);
		abort();
	}
	return 0;
}
