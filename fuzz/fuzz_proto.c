/* fuzz_proto.c - libFuzzer target for the wire codec: startup packets and every message parser
 * pgseal uses. */
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_startup st;
	struct pgs_buf out = {0};
	char state[6];
	uint32_t code, pid, key;
	const uint8_t *rest, *idata;
	size_t rest_len, ilen;
	const char *mech;

	if (size == 0)
		return 0;
	/* the first byte picks the parser; the rest is its input */
	uint8_t sel = data[0];
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	/* copy so that ASan sees reads past the exact input length */
	uint8_t *buf = malloc(n ? n : 1);
	memcpy(buf, in, n);

	switch (sel % 6) {
	case 0:
		if (proto_parse_startup(buf, n, &st) == PGS_OK) {
			for (size_t i = 0; i < st.nparams; i++)
				(void)strlen(st.params[i].name), (void)strlen(st.params[i].value);
			(void)proto_startup_get(&st, "user");
		}
		break;
	case 1:
		(void)proto_error_sqlstate(buf, n, state);
		break;
	case 2:
		(void)proto_parse_backend_key(buf, n, &pid, &key);
		break;
	case 3:
		if (proto_parse_auth(buf, n, &code, &rest, &rest_len) == PGS_OK)
			(void)proto_sasl_offers(rest, rest_len, "SCRAM-SHA-256-PLUS");
		(void)proto_sasl_drop_mechanism(buf, n, "SCRAM-SHA-256-PLUS", &out);
		break;
	case 4:
		(void)proto_parse_sasl_initial(buf, n, &mech, &idata, &ilen);
		break;
	case 5: {
		/* walk a stream of typed messages as the relay scanners do */
		size_t pos = 0;
		while (n - pos >= PROTO_HDR_LEN) {
			uint32_t len = pgs_get_u32(buf + pos + 1);
			if (proto_check_header(buf[pos], len, 1u << 20) != PGS_OK ||
			    n - pos - 1 < len)
				break;
			(void)proto_type_name(buf[pos], proto_is_frontend_type(buf[pos]));
			pos += 1 + (size_t)len;
		}
		break;
	}
	}
	pgs_buf_free(&out);
	free(buf);
	return 0;
}
