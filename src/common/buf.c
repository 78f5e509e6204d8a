/* buf.c - the growable byte buffer: grows by copy and wipes what it leaves behind. */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first block; most messages and values fit without a second one. */
#define BUF_FIRST_CAP 256

static void too_large(void)
{
	static const char msg[] = "pgseal: buffer size overflow\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void pgs_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void pgs_buf_grow(struct pgs_buf *b, size_t more)
{
	if (more > SIZE_MAX / 2 - b->len)
		too_large();
	size_t need = b->len + more, cap = b->cap ? b->cap : BUF_FIRST_CAP;
	while (cap < need)
		cap *= 2;
	/* Not realloc: the old block may hold plaintext and must be wiped before it is
	 * released, which realloc cannot promise. */
	uint8_t *d = pgs_xmalloc(cap);
	if (b->len)
		memcpy(d, b->data, b->len);
	pgs_wipe(b->data, b->cap);
	free(b->data);
	b->data = d;
	b->cap = cap;
}

int pgs_buf_put(struct pgs_buf *b, const void *p, size_t n)
{
	if (n > PGS_BUF_MAX || b->len > PGS_BUF_MAX - n)
		return PGS_ERR;
	pgs_buf_append(b, p, n);
	return PGS_OK;
}

void pgs_buf_reset(struct pgs_buf *b)
{
	pgs_wipe(b->data, b->len);
	b->len = 0;
}

void pgs_buf_free(struct pgs_buf *b)
{
	pgs_wipe(b->data, b->cap);
	pgs_buf_free_nowipe(b);
}

void pgs_buf_free_nowipe(struct pgs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
