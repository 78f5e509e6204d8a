/* common.h - shared definitions: must-check status, allocation, big-endian integers, the
 * wiping growable buffer, hex and base64. */
#ifndef PGSEAL_COMMON_H
#define PGSEAL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

/* Every fallible function returns int (0 = ok, negative = error) and is marked so. */
#define PGS_MUSTCHECK __attribute__((warn_unused_result))
#define PGS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PGS_UNUSED __attribute__((unused))
#define PGS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PGS_LIKELY(x) __builtin_expect(!!(x), 1)
#define PGS_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define PGS_OK 0
#define PGS_ERR (-1)

/* Version string printed by `pgseal --version` and the admin API. */
#define PGSEAL_VERSION "0.1.0"

/* Allocation that aborts on out-of-memory (the one place where exiting is allowed). */
void *pgs_xmalloc(size_t n);
void *pgs_xcalloc(size_t n, size_t m);
void *pgs_xrealloc(void *p, size_t n);
char *pgs_xstrdup(const char *s);

/* Monotonic clock in microseconds. */
uint64_t pgs_now_us(void);

/* Bounded formatting into an error buffer (may be NULL). */
void pgs_errf(char *err, size_t errlen, const char *fmt, ...) PGS_PRINTF(3, 4);

/* ---- big-endian integers (the wire, records, key files) ------------------------------ */

static inline uint16_t pgs_get_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t pgs_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t pgs_get_u64(const uint8_t *p)
{
	return (uint64_t)pgs_get_u32(p) << 32 | pgs_get_u32(p + 4);
}

static inline void pgs_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void pgs_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void pgs_put_u64(uint8_t *p, uint64_t v)
{
	pgs_put_u32(p, (uint32_t)(v >> 32));
	pgs_put_u32(p + 4, (uint32_t)v);
}

/* ---- the growable byte buffer (buf.c) -------------------------------------------------- */

/*
 * The one growable buffer of the tree, with one rule for secrets (as s2n's stuffer): any
 * buffer may hold a plaintext value or key material, so growth copies into a new block
 * and wipes the old one before freeing it (never realloc), pgs_buf_reset wipes the bytes
 * used and pgs_buf_free wipes the whole block. pgs_buf_free_nowipe is the named exception
 * for a buffer that provably holds neither; the choice is visible at the call site.
 * A zeroed struct ({0}) is an empty buffer; data/len are read directly. Allocation aborts
 * on out-of-memory like pgs_xmalloc. Owner: whoever holds the struct.
 */
struct pgs_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* PostgreSQL's largest allocation (MaxAllocSize): no value or message can be longer. */
#define PGS_BUF_MAX ((size_t)0x3FFFFF00u)

/* The slow path of pgs_buf_reserve: a new block, the old one wiped and released. */
void pgs_buf_grow(struct pgs_buf *b, size_t more);

/* Room for `more` bytes after len (aborts on out-of-memory or size overflow). Inline: the
 * message builders call it for every field. */
static inline void pgs_buf_reserve(struct pgs_buf *b, size_t more)
{
	if (PGS_UNLIKELY(more > b->cap - b->len))
		pgs_buf_grow(b, more);
}

/* Appends n bytes; for builders whose parts are bounded already (never fails). */
static inline void pgs_buf_append(struct pgs_buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	pgs_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Appends n bytes unless the buffer would grow past PGS_BUF_MAX (PGS_ERR, nothing
 * appended): for anything whose size the input decides, as a value. */
int pgs_buf_put(struct pgs_buf *b, const void *p, size_t n) PGS_MUSTCHECK;

/* Appends one byte / a big-endian u16, u32 (never fails). */
static inline void pgs_buf_append_u8(struct pgs_buf *b, uint8_t v)
{
	pgs_buf_reserve(b, 1);
	b->data[b->len++] = v;
}

static inline void pgs_buf_append_u16(struct pgs_buf *b, uint16_t v)
{
	pgs_buf_reserve(b, 2);
	pgs_put_u16(b->data + b->len, v);
	b->len += 2;
}

static inline void pgs_buf_append_u32(struct pgs_buf *b, uint32_t v)
{
	pgs_buf_reserve(b, 4);
	pgs_put_u32(b->data + b->len, v);
	b->len += 4;
}

/* Wipes the bytes used and empties the buffer; keeps the block for reuse. */
void pgs_buf_reset(struct pgs_buf *b);
/* Wipes and releases the block; the buffer is empty (reusable) afterwards. */
void pgs_buf_free(struct pgs_buf *b);
/* Releases the block without wiping: only for a buffer that never held a value or secret. */
void pgs_buf_free_nowipe(struct pgs_buf *b);

/* Overwrites n bytes with zeros in a way the compiler may not drop (explicit_bzero). */
void pgs_wipe(void *p, size_t n);

/* ---- hex and base64 (encoding.c) ----------------------------------------------------- */

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void pgs_hex(const uint8_t *in, size_t n, char *out);
/* The same into a new malloc'd string (aborts on out-of-memory). Owner: the caller. */
char *pgs_hex_dup(const uint8_t *in, size_t n);
/* The value of one hex digit (either case), or -1 for any other character. */
int pgs_hexval(int c) PGS_MUSTCHECK;
/* Parses exactly outlen bytes of hex (either case); fails on any other length or char. */
int pgs_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t outlen) PGS_MUSTCHECK;

/*
 * Standard base64 (RFC 4648, alphabet +/, with padding), computed without branches or
 * table lookups that depend on the data: it carries key material (SCRAM proofs and
 * verifiers, provider keys), so its timing and cache footprint say nothing about the bytes.
 */
#define PGS_B64_LEN(n) (((n) + 2) / 3 * 4)
size_t pgs_b64_enc_len(size_t n);
/* Writes the encoding (no NUL) into out[cap]; PGS_ERR if it does not fit. */
int pgs_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap,
                   size_t *outlen) PGS_MUSTCHECK;
/* Strict decode into out[cap]: length a multiple of 4, padding only at the end, canonical
 * trailing bits, no whitespace. PGS_ERR on bad input or when it does not fit; out is
 * wiped on failure. */
int pgs_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap,
                   size_t *outlen) PGS_MUSTCHECK;
/* Canonical unpadded base64url (RFC 7515 section 2) into out[cap], for public data (JWS
 * tokens; not constant-time): a length of 1 mod 4 and non-zero unused low bits are refused,
 * so a token has exactly one encoding. */
int pgs_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                      size_t *outlen) PGS_MUSTCHECK;

#endif
