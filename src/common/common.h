/* common.h - tiny shared definitions: must-check status, array length, likely/unlikely. */
#ifndef PGSEAL_COMMON_H
#define PGSEAL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

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

#endif
