/* testlib.h - a minimal unit-test harness: CHECK macros and a "N passed, N failed" summary. */
#ifndef PGSEAL_TESTLIB_H
#define PGSEAL_TESTLIB_H

#include <stdio.h>
#include <string.h>

static int t_passed, t_failed;
static const char *t_current = "";

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			t_passed++;                                                                \
		} else {                                                                           \
			t_failed++;                                                                \
			fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, t_current,    \
			        #cond);                                                            \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a == _b) {                                                                    \
			t_passed++;                                                                \
		} else {                                                                           \
			t_failed++;                                                                \
			fprintf(stderr, "FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n", __FILE__,    \
			        __LINE__, t_current, #a, #b, _a, _b);                              \
		}                                                                                  \
	} while (0)

static inline int t_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}
#define CHECK_STR(a, b) CHECK(t_streq((a), (b)))

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		t_current = #fn;                                                                   \
		fn();                                                                              \
	} while (0)

/* Prints the summary line the CI runners read and returns the exit status. */
static inline int t_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif
