/* secmem.c - the one allocator for secrets: page-backed, mlock()ed, MADV_DONTDUMP, wiped on free. */
#include "crypto/crypto.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"

/* Each allocation is its own mapping; the first 16 bytes (within the mapping) hold its
 * size so that free needs no length from the caller. */
#define SECMEM_HDR 16

/* Each kind of failure is logged once (with errno's reason, never an address or a byte of
 * the secret): it repeats on every allocation and its cause does not change. */
enum secmem_warn { WARN_DONTDUMP, WARN_DONTFORK, WARN_MLOCK, WARN_MUNLOCK, WARN_MUNMAP, WARN_N };
static atomic_bool warned[WARN_N];

static void warn_once(enum secmem_warn w, int err, const char *what, const char *consequence)
{
	char buf[128];
	if (atomic_exchange(&warned[w], true))
		return;
	log_warn("%s failed (%s): %s", what, strerror_r(err, buf, sizeof(buf)), consequence);
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (size_t)p : 4096;
}

void *crypto_secure_alloc(size_t n)
{
	size_t ps = page_size();
	if (n > SIZE_MAX - SECMEM_HDR - ps) {
		static const char msg[] = "pgseal: secure allocation too large\n";
		ssize_t r = write(2, msg, sizeof(msg) - 1);
		(void)r;
		abort();
	}
	size_t total = (n + SECMEM_HDR + ps - 1) / ps * ps;
	void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		static const char msg[] = "pgseal: out of memory\n";
		ssize_t r = write(2, msg, sizeof(msg) - 1);
		(void)r;
		abort();
	}
	/* Never written to a core file, and never copied into a child on fork. A failure is
	 * logged and tolerated: core dumps are off anyway (crypto_disable_core_dumps) and the
	 * children pgseal starts exec at once. */
	if (madvise(m, total, MADV_DONTDUMP) != 0)
		warn_once(WARN_DONTDUMP, errno, "madvise(MADV_DONTDUMP)",
		          "key memory is not excluded from core dumps");
	if (madvise(m, total, MADV_DONTFORK) != 0)
		warn_once(WARN_DONTFORK, errno, "madvise(MADV_DONTFORK)",
		          "key memory would be copied into a forked child");
	if (mlock(m, total) != 0)
		warn_once(WARN_MLOCK, errno, "mlock (RLIMIT_MEMLOCK too low?)",
		          "key memory may be swapped");
	memcpy(m, &total, sizeof(total));
	return (uint8_t *)m + SECMEM_HDR;
}

void crypto_secure_free(void *p)
{
	if (!p)
		return;
	uint8_t *m = (uint8_t *)p - SECMEM_HDR;
	size_t total;
	memcpy(&total, m, sizeof(total));
	OPENSSL_cleanse(m, total);
	/* Wiped already: a failure here leaks zeros, not the secret; logged, not fatal. */
	if (munlock(m, total) != 0)
		warn_once(WARN_MUNLOCK, errno, "munlock", "freed key memory stays locked");
	if (munmap(m, total) != 0)
		warn_once(WARN_MUNMAP, errno, "munmap", "freed key memory (wiped) stays mapped");
}

void crypto_disable_core_dumps(void)
{
	struct rlimit rl = {0, 0};
	char buf[128];
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		log_warn("setrlimit(RLIMIT_CORE, 0) failed (%s)",
		         strerror_r(errno, buf, sizeof(buf)));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("prctl(PR_SET_DUMPABLE, 0) failed (%s)",
		         strerror_r(errno, buf, sizeof(buf)));
}
