/* fuzz_config.c - libFuzzer target for the YAML configuration loader. */
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[512];
	if (config_load_buffer("fuzz.yaml", data, size, &cfg, err, sizeof(err)) == PGS_OK)
		config_free(cfg);
	return 0;
}
