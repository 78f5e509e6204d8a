/* fuzz_schema.c - libFuzzer target for the encryptor_config loader and the DDL printer. */
#include <stdio.h>
#include <stdlib.h>

#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schema *s = NULL;
	char err[512];
	if (schema_load_buffer("fuzz.yaml", data, size, &s, err, sizeof(err)) != PGS_OK)
		return 0;
	/* every loaded name must survive the lookups and the DDL */
	for (size_t i = 0; i < s->ntables; i++) {
		const struct schema_table *t = &s->tables[i];
		if (schema_find_table(s, t->name) != t)
			abort();
		for (size_t j = 0; j < t->nencrypted; j++)
			if (schema_find_column(t, t->encrypted[j].name) != &t->encrypted[j])
				abort();
	}
	FILE *null = fopen("/dev/null", "w");
	if (null) {
		if (schema_print_ddl(s, null) != PGS_OK ||
		    schema_print_constraints(s, null) != PGS_OK)
			abort();
		fclose(null);
	}
	schema_free(s);
	return 0;
}
