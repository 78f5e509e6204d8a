/* fuzz_escrow.c - libFuzzer target: the escrow parsers, a decrypted share line
 * (keys_share_parse) and manifest.json (keys_manifest_parse); parsed shares are combined. */
#include <string.h>

#include "crypto/crypto.h"
#include "keys/keys_escrow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct keys_manifest m;
	struct keys_share sh[4];
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN];
	unsigned n = 0;
	/* the whole input as a manifest */
	if (keys_manifest_parse((const char *)data, size, &m, err, sizeof(err)) == PGS_OK &&
	    (m.threshold < 2 || m.threshold > m.nshares || m.nshares > KEYS_SHAMIR_MAX_SHARES))
		__builtin_trap();
	/* each line as a share line; up to 4 parsed ones are combined */
	const uint8_t *p = data, *end = data + size;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (n < 4 &&
		    keys_share_parse((const char *)p, len, &sh[n], err, sizeof(err)) == PGS_OK) {
			if (sh[n].index < 1 || sh[n].index > KEYS_SHAMIR_MAX_SHARES)
				__builtin_trap();
			n++;
		}
		p += len;
	}
	if (n >= 2)
		(void)!keys_shamir_combine(sh, n, secret, err, sizeof(err));
	return 0;
}
