/* secmem.c - the one allocator for secrets: page-backed, mlock()ed, MADV_DONTDUMP, wiped on free. */
#include "crypto/crypto.h"

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

static atomic_bool mlock_warned;

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
	/* Never written to a core file, and never copied into a child on fork. */
	(void)madvise(m, total, MADV_DONTDUMP);
	(void)madvise(m, total, MADV_DONTFORK);
	if (mlock(m, total) != 0 && !atomic_exchange(&mlock_warned, true))
		log_warn("mlock failed (RLIMIT_MEMLOCK too low?): key memory may be swapped");
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
	(void)munlock(m, total);
	(void)munmap(m, total);
}

void crypto_disable_core_dumps(void)
{
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("prctl(PR_SET_DUMPABLE, 0) failed");
}
