/* fuzz_proto_msgs.c - libFuzzer target for the message decoders and builders (proto_frontend.c,
 * proto_backend.c): decode, build, decode again; aborts unless the build reproduces the input
 * byte for byte and decodes to the same fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/proto_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first input byte picks the message: below 0x80 a frontend type, from 0x80 a backend one. */
static const char fe_types[] = "QPBDCEFdcfSHX";
static const char be_types[] = "TtDCENGHWZ123nsIdc";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	bool backend = data[0] >= 0x80;
	uint8_t type = backend ? (uint8_t)be_types[(data[0] & 0x7f) % (sizeof(be_types) - 1)]
	                       : (uint8_t)fe_types[data[0] % (sizeof(fe_types) - 1)];
	size_t n = size - 1;
	/* copy so that ASan sees reads past the exact body length */
	uint8_t *body = malloc(n ? n : 1);
	memcpy(body, data + 1, n);
	int rc = proto_roundtrip(backend, type, body, n);
	if (rc != RT_OK && rc != RT_REFUSED) {
		fprintf(stderr, "round trip broken: %s message '%c', %zu bytes, result %d\n",
		        backend ? "backend" : "frontend", type, n, rc);
		abort();
	}
	free(body);
	return 0;
}
