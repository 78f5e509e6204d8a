/* fuzz_poc_token.c - libFuzzer target: Proof of Cloud token files, compact-JWS parsing and the
 * full token check against fixed trust-server keys. */
#include <stdlib.h>
#include <string.h>

#include "attest/attest_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8032 test 1's Ed25519 public key; the seed corpus is signed with its secret key. */
#define ED_KEY "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static struct attest_poc_config *config(void)
{
	static struct attest_poc_config *cfg;
	char err[200];
	if (cfg)
		return cfg;
	cfg = attest_poc_config_new();
	if (attest_poc_config_add_key(cfg, NULL, (const uint8_t *)ED_KEY, 64, err, sizeof(err)) !=
	    PGS_OK)
		abort();
	return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ppid[16] = {0x81, 0x1d, 0xca, 0x2a, 0x26, 0xb9, 0x52, 0xe8,
	                                 0x5b, 0xb6, 0x44, 0x8b, 0x09, 0x7b, 0xa4, 0xfd};
	struct attest_poc_config *cfg = config();
	struct attest_poc_token tok;
	struct attest_poc_verdict v[ATTEST_POC_MAX_TOKENS];
	char *toks[ATTEST_POC_MAX_TOKENS];
	size_t n = 0;
	char err[256];

	if (attest_poc_token_parse((const char *)data, size, &tok, err, sizeof(err)) == PGS_OK &&
	    (tok.signing_input != (const char *)data || tok.signing_input_len >= size))
		abort(); /* the signing input is a prefix of the token */
	if (attest_poc_tokens_split(data, size, toks, &n, err, sizeof(err)) == PGS_OK) {
		struct attest_poc_input in = {(const char *const *)toks, n, data, size, 1751000000};
		size_t k = attest_poc_verify(cfg, &in, ppid, v);
		json_decref(attest_poc_json(cfg, v, n, k));
	}
	for (size_t i = 0; i < n; i++)
		free(toks[i]);
	return 0;
}
