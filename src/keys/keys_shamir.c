/* keys_shamir.c - Shamir's secret sharing of the 32-byte master key over GF(2^256), share for
 * share the scheme of ssss 0.5 (B. Poettering; Debian's `ssss`) in hex mode with its diffusion
 * layer, so that `ssss-combine -x -t K` recombines our shares and we recombine its. */
#include "keys/keys_escrow.h"
#include "keys/keys_internal.h"

#include <stdio.h>
#include <string.h>

/*
 * ssss's field for a 256-bit secret is GF(2)[x] / (x^256 + x^10 + x^5 + x^2 + 1) (its table of
 * irreducible polynomials, entry 256/8 - 1 = {10, 5, 2}). An element is a 256-bit integer; the
 * hex of a secret or a share is that integer, big-endian. Limbs here: w[0] least significant.
 *
 * A share of index i is (i, f(i)) with f(x) = x^K + c[K-1] x^(K-1) + ... + c[1] x + c[0]: ssss
 * evaluates a MONIC polynomial of degree K (its Horner loop starts from y = x), c[0] being the
 * diffused secret and c[1..K-1] random. Combining subtracts i^K from each f(i) and interpolates
 * at 0.
 *
 * Constant time where secrets are involved: multiplication is shift-and-add over all 256 bits
 * with masks (no branch, no table lookup on a secret); inversion is only ever applied to values
 * derived from the public share indices. Working state lives in crypto_secure_alloc memory
 * (locked, wiped on free).
 */
#define LIMBS 4
#define POLY_LOW 0x425u /* x^10 + x^5 + x^2 + 1 */

typedef uint64_t gf[LIMBS];

static void gf_from_bytes(gf r, const uint8_t b[KEYS_SHAMIR_SECRET_LEN])
{
	for (int l = 0; l < LIMBS; l++)
		r[l] = pgs_get_u64(b + 8 * (LIMBS - 1 - l));
}

static void gf_to_bytes(uint8_t b[KEYS_SHAMIR_SECRET_LEN], const gf a)
{
	for (int l = 0; l < LIMBS; l++)
		pgs_put_u64(b + 8 * (LIMBS - 1 - l), a[l]);
}

static void gf_set_small(gf r, uint64_t v)
{
	r[0] = v;
	r[1] = r[2] = r[3] = 0;
}

static void gf_xor(gf r, const gf a)
{
	for (int l = 0; l < LIMBS; l++)
		r[l] ^= a[l];
}

/* r = a * b; tmp: 2 * LIMBS words of scratch (secure memory when a or b is secret). r may alias
 * a or b. */
static void gf_mul(gf r, const gf a, const gf b, uint64_t *tmp)
{
	uint64_t *acc = tmp, *sh = tmp + LIMBS;
	memcpy(sh, a, sizeof(gf));
	memset(acc, 0, sizeof(gf));
	for (int i = 0; i < 256; i++) {
		uint64_t m = (uint64_t)0 - ((b[i >> 6] >> (i & 63)) & 1);
		for (int l = 0; l < LIMBS; l++)
			acc[l] ^= sh[l] & m;
		uint64_t top = (uint64_t)0 - (sh[LIMBS - 1] >> 63);
		for (int l = LIMBS - 1; l > 0; l--)
			sh[l] = sh[l] << 1 | sh[l - 1] >> 63;
		sh[0] = sh[0] << 1 ^ (top & POLY_LOW);
	}
	memcpy(r, acc, sizeof(gf));
	crypto_wipe(tmp, 2 * sizeof(gf));
}

/* r = a^(2^256 - 2) = a^-1 (a != 0). Only for public values (share indices). */
static void gf_inv(gf r, const gf a, uint64_t *tmp)
{
	gf sq, res;
	memcpy(sq, a, sizeof(gf));
	gf_set_small(res, 1);
	/* 2^256 - 2 = bits 1..255 set */
	for (int i = 1; i < 256; i++) {
		gf_mul(sq, sq, sq, tmp);
		gf_mul(res, res, sq, tmp);
	}
	memcpy(r, res, sizeof(gf));
}

/* ---- diffusion: ssss's encode_mpz for a 256-bit value ---- */

/* XTEA with an all-zero key, 32 cycles: ssss's encipher_block/decipher_block. */
static void xtea(uint32_t v[2], bool inverse)
{
	const uint32_t delta = 0x9E3779B9u;
	if (!inverse) {
		uint32_t sum = 0;
		for (int i = 0; i < 32; i++) {
			v[0] += (((v[1] << 4) ^ (v[1] >> 5)) + v[1]) ^ sum;
			sum += delta;
			v[1] += (((v[0] << 4) ^ (v[0] >> 5)) + v[0]) ^ sum;
		}
	} else {
		uint32_t sum = 0xC6EF3720u;
		for (int i = 0; i < 32; i++) {
			v[1] -= (((v[0] << 4) ^ (v[0] >> 5)) + v[0]) ^ sum;
			sum -= delta;
			v[0] -= (((v[1] << 4) ^ (v[1] >> 5)) + v[1]) ^ sum;
		}
	}
}

static void slice(uint8_t *d, int idx, bool inverse)
{
	const int n = KEYS_SHAMIR_SECRET_LEN;
	uint32_t v[2];
	for (int i = 0; i < 2; i++)
		v[i] = (uint32_t)d[(idx + 4 * i) % n] << 24 |
		       (uint32_t)d[(idx + 4 * i + 1) % n] << 16 |
		       (uint32_t)d[(idx + 4 * i + 2) % n] << 8 | d[(idx + 4 * i + 3) % n];
	xtea(v, inverse);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 4; j++)
			d[(idx + 4 * i + j) % n] = (uint8_t)(v[i] >> (24 - 8 * j));
	crypto_wipe(v, sizeof(v));
}

/*
 * ssss exports the integer as 16-bit words, least significant word first, each word
 * big-endian (mpz_export(v, &t, -1, 2, 1, 0, x)), runs 40 * 32 / 2 overlapping XTEA slices over
 * those 32 bytes, and imports them back the same way. In big-endian bytes b of the integer,
 * word j is b[30 - 2j], b[31 - 2j]: v[2j] = b[30 - 2j], v[2j + 1] = b[31 - 2j].
 */
void keys_shamir_diffuse(uint8_t b[KEYS_SHAMIR_SECRET_LEN], bool inverse)
{
	const int n = KEYS_SHAMIR_SECRET_LEN;
	uint8_t *v = crypto_secure_alloc(n);
	for (int j = 0; j < n / 2; j++) {
		v[2 * j] = b[n - 2 - 2 * j];
		v[2 * j + 1] = b[n - 1 - 2 * j];
	}
	if (!inverse)
		for (int i = 0; i < 40 * n; i += 2)
			slice(v, i, false);
	else
		for (int i = 40 * n - 2; i >= 0; i -= 2)
			slice(v, i, true);
	for (int j = 0; j < n / 2; j++) {
		b[n - 2 - 2 * j] = v[2 * j];
		b[n - 1 - 2 * j] = v[2 * j + 1];
	}
	crypto_secure_free(v);
}

/* ---- split / combine ---- */

struct work {
	gf coeff[KEYS_SHAMIR_MAX_SHARES]; /* c[0..k-1] */
	gf x, y, t, acc;
	uint64_t tmp[2 * LIMBS];
	uint8_t bytes[KEYS_SHAMIR_SECRET_LEN];
};

int keys_shamir_split(const uint8_t secret[KEYS_SHAMIR_SECRET_LEN], unsigned k, unsigned n,
                      struct keys_share *out, char *err, size_t errlen)
{
	if (k < 2 || n < k || n > KEYS_SHAMIR_MAX_SHARES) {
		pgs_errf(err, errlen,
		         "threshold %u with %u shares: need 2 <= threshold <= shares <= %u", k, n,
		         KEYS_SHAMIR_MAX_SHARES);
		return PGS_ERR;
	}
	struct work *w = crypto_secure_alloc(sizeof(*w));
	int rc = PGS_ERR;
	memcpy(w->bytes, secret, KEYS_SHAMIR_SECRET_LEN);
	keys_shamir_diffuse(w->bytes, false);
	gf_from_bytes(w->coeff[0], w->bytes);
	for (unsigned i = 1; i < k; i++) {
		if (crypto_random(w->bytes, KEYS_SHAMIR_SECRET_LEN) != PGS_OK) {
			pgs_errf(err, errlen, "no random bytes for the shares");
			goto out;
		}
		gf_from_bytes(w->coeff[i], w->bytes);
	}
	for (unsigned s = 1; s <= n; s++) {
		/* Horner as ssss: y = x; y = (y + c[i]) * x for i = k-1..1; y += c[0] */
		gf_set_small(w->x, s);
		memcpy(w->y, w->x, sizeof(gf));
		for (unsigned i = k - 1; i >= 1; i--) {
			gf_xor(w->y, w->coeff[i]);
			gf_mul(w->y, w->y, w->x, w->tmp);
		}
		gf_xor(w->y, w->coeff[0]);
		out[s - 1].index = s;
		gf_to_bytes(out[s - 1].y, w->y);
	}
	rc = PGS_OK;
out:
	crypto_secure_free(w);
	return rc;
}

int keys_shamir_combine(const struct keys_share *sh, unsigned k,
                        uint8_t secret[KEYS_SHAMIR_SECRET_LEN], char *err, size_t errlen)
{
	if (k < 2 || k > KEYS_SHAMIR_MAX_SHARES) {
		pgs_errf(err, errlen, "need 2 to %u shares, got %u", KEYS_SHAMIR_MAX_SHARES, k);
		return PGS_ERR;
	}
	for (unsigned i = 0; i < k; i++) {
		if (sh[i].index < 1 || sh[i].index > KEYS_SHAMIR_MAX_SHARES) {
			pgs_errf(err, errlen, "share index %u out of 1..%u", sh[i].index,
			         KEYS_SHAMIR_MAX_SHARES);
			return PGS_ERR;
		}
		for (unsigned j = 0; j < i; j++)
			if (sh[j].index == sh[i].index) {
				pgs_errf(err, errlen, "share %u given twice", sh[i].index);
				return PGS_ERR;
			}
	}
	struct work *w = crypto_secure_alloc(sizeof(*w));
	memset(w->acc, 0, sizeof(gf));
	for (unsigned j = 0; j < k; j++) {
		/* public part: the Lagrange coefficient at 0, prod x_m / (x_m - x_j), and x_j^k */
		gf num, den, inv, xk, xj;
		gf_set_small(num, 1);
		gf_set_small(den, 1);
		gf_set_small(xk, 1);
		gf_set_small(xj, sh[j].index);
		for (unsigned m = 0; m < k; m++) {
			gf_mul(xk, xk, xj, w->tmp);
			if (m == j)
				continue;
			gf xm, d;
			gf_set_small(xm, sh[m].index);
			gf_set_small(d, sh[m].index ^ sh[j].index);
			gf_mul(num, num, xm, w->tmp);
			gf_mul(den, den, d, w->tmp);
		}
		gf_inv(inv, den, w->tmp);
		gf_mul(num, num, inv, w->tmp);
		/* secret part: (y_j - x_j^k) * L_j */
		gf_from_bytes(w->y, sh[j].y);
		gf_xor(w->y, xk);
		gf_mul(w->y, w->y, num, w->tmp);
		gf_xor(w->acc, w->y);
	}
	gf_to_bytes(secret, w->acc);
	keys_shamir_diffuse(secret, true);
	crypto_secure_free(w);
	return PGS_OK;
}

/* ---- share lines ---- */

/* Hex without a table lookup or a branch on the digit's value. */
static char hexdigit(unsigned v)
{
	/* '0' + v, plus 'a' - '0' - 10 when v > 9 */
	unsigned gt9 = (9u - v) >> 8 & 1u;
	return (char)('0' + v + gt9 * ('a' - '0' - 10));
}

/* value of a hex digit, or a value > 15 (checked once per line, not per digit). Range tests by
 * the sign of (c - lo) | (hi - c): negative iff c is outside [lo, hi]. */
static unsigned hexval(unsigned char c)
{
	int d = (int)c - '0', l = ((int)c | 0x20) - 'a';
	unsigned isd = (unsigned)(~((d | (9 - d)) >> 16)) & 1u;
	unsigned isl = (unsigned)(~((l | (5 - l)) >> 16)) & 1u;
	unsigned v = ((unsigned)d & (0u - isd)) | ((unsigned)(l + 10) & (0u - isl));
	return (v & 15u) | ((1u - (isd | isl)) << 8);
}

void keys_share_format(const struct keys_share *s, unsigned n, char line[KEYS_SHARE_LINE_MAX])
{
	int digits = n >= 100 ? 3 : n >= 10 ? 2 : 1;
	int p = snprintf(line, KEYS_SHARE_LINE_MAX, "%0*u-", digits, s->index);
	for (int i = 0; i < KEYS_SHAMIR_SECRET_LEN; i++) {
		line[p++] = hexdigit(s->y[i] >> 4);
		line[p++] = hexdigit(s->y[i] & 15u);
	}
	line[p] = '\0';
}

int keys_share_parse(const char *s, size_t len, struct keys_share *out, char *err, size_t errlen)
{
	size_t i = 0, nd;
	unsigned idx = 0, bad = 0;
	if (len && s[len - 1] == '\n')
		len--;
	if (len && s[len - 1] == '\r')
		len--;
	while (i < len && i < 4 && s[i] >= '0' && s[i] <= '9')
		idx = idx * 10 + (unsigned)(s[i++] - '0');
	nd = i;
	if (nd == 0 || nd > 3 || i >= len || s[i] != '-') {
		pgs_errf(
		    err, errlen,
		    "not a share line: want <index>-<64 hex digits> (as ssss-split -x prints)");
		return PGS_ERR;
	}
	if (idx < 1 || idx > KEYS_SHAMIR_MAX_SHARES) {
		pgs_errf(err, errlen, "share index %u out of 1..%u", idx, KEYS_SHAMIR_MAX_SHARES);
		return PGS_ERR;
	}
	i++;
	if (len - i != 2 * KEYS_SHAMIR_SECRET_LEN) {
		pgs_errf(err, errlen,
		         "share %u: %zu hex digits, want %d (a 256-bit share of a 32-byte key)",
		         idx, len - i, 2 * KEYS_SHAMIR_SECRET_LEN);
		return PGS_ERR;
	}
	for (int b = 0; b < KEYS_SHAMIR_SECRET_LEN; b++) {
		unsigned hi = hexval((unsigned char)s[i + 2 * (size_t)b]);
		unsigned lo = hexval((unsigned char)s[i + 2 * (size_t)b + 1]);
		bad |= (hi | lo) >> 8;
		out->y[b] = (uint8_t)(hi << 4 | (lo & 15u));
	}
	if (bad) {
		crypto_wipe(out->y, sizeof(out->y));
		pgs_errf(err, errlen, "share %u: not a hex digit in the share", idx);
		return PGS_ERR;
	}
	out->index = idx;
	return PGS_OK;
}
