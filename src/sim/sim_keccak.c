/* sim_keccak.c - Keccak-256 (original padding 0x01, as Ethereum and dstack's signature chains use).
 */
#include "sim/sim.h"

#include <string.h>

static const uint64_t round_consts[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

static const unsigned rotations[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                       27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned lanes[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                   15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

static uint64_t rol(uint64_t x, unsigned n)
{
	return (x << n) | (x >> (64 - n));
}

static void keccak_f(uint64_t s[25])
{
	for (int round = 0; round < 24; round++) {
		uint64_t c[5], t;
		for (int x = 0; x < 5; x++)
			c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
		for (int x = 0; x < 5; x++) {
			t = c[(x + 4) % 5] ^ rol(c[(x + 1) % 5], 1);
			for (int y = 0; y < 25; y += 5)
				s[y + x] ^= t;
		}
		t = s[1];
		for (int i = 0; i < 24; i++) {
			uint64_t tmp = s[lanes[i]];
			s[lanes[i]] = rol(t, rotations[i]);
			t = tmp;
		}
		for (int y = 0; y < 25; y += 5) {
			for (int x = 0; x < 5; x++)
				c[x] = s[y + x];
			for (int x = 0; x < 5; x++)
				s[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]);
		}
		s[0] ^= round_consts[round];
	}
}

static void absorb_block(uint64_t s[25], const uint8_t *block)
{
	for (int i = 0; i < 17; i++) {
		uint64_t lane = 0;
		for (int b = 7; b >= 0; b--)
			lane = (lane << 8) | block[8 * i + b];
		s[i] ^= lane;
	}
	keccak_f(s);
}

void sim_keccak256(const uint8_t *msg, size_t len, uint8_t out[32])
{
	enum { RATE = 136 };
	uint64_t s[25] = {0};
	while (len >= RATE) {
		absorb_block(s, msg);
		msg += RATE;
		len -= RATE;
	}
	uint8_t last[RATE] = {0};
	if (len)
		memcpy(last, msg, len);
	last[len] ^= 0x01;
	last[RATE - 1] ^= 0x80;
	absorb_block(s, last);
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(s[i / 8] >> (8 * (i % 8)));
}
