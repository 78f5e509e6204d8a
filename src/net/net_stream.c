/* net_stream.c - the stream buffer of one direction of a relayed connection: growable, wiped when it
 * grows and when it is freed (it may hold values on their way). */
#include "net/net_side.h"

#include <stdlib.h>
#include <string.h>

int net_stream_init(struct net_stream *b)
{
	memset(b, 0, sizeof(*b));
	b->data = malloc(NET_STREAM_SIZE);
	if (!b->data)
		return PGS_ERR;
	b->cap = NET_STREAM_SIZE;
	return PGS_OK;
}

void net_stream_free(struct net_stream *b)
{
	pgs_wipe(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->cap = 0;
}

void net_stream_compact(struct net_stream *b)
{
	if (b->start == 0)
		return;
	if (b->start == b->end) {
		b->start = b->scan = b->end = 0;
		return;
	}
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->scan -= b->start;
	b->end -= b->start;
	b->start = 0;
}

int net_stream_reserve(struct net_stream *b, uint32_t total)
{
	net_stream_compact(b);
	if (b->scan + total <= b->cap)
		return PGS_OK;
	uint32_t cap = b->cap;
	while (cap < b->scan + total)
		cap *= 2;
	/* a new block, the old one wiped: realloc could leave a copy of its bytes behind */
	uint8_t *d = malloc(cap);
	if (!d)
		return PGS_ERR;
	memcpy(d, b->data, b->end);
	pgs_wipe(b->data, b->cap);
	free(b->data);
	b->data = d;
	b->cap = cap;
	return PGS_OK;
}

void net_stream_inject(struct net_stream *b, const uint8_t *p, uint32_t n)
{
	uint32_t tail = b->end - b->scan;
	if (net_stream_reserve(b, tail + n) != PGS_OK)
		abort(); /* out of memory */
	memmove(b->data + b->scan + n, b->data + b->scan, tail);
	memcpy(b->data + b->scan, p, n);
	b->scan += n;
	b->end += n;
}

void net_stream_consume(struct net_stream *b, uint32_t n)
{
	memmove(b->data + b->scan, b->data + b->scan + n, b->end - b->scan - n);
	b->end -= n;
	if (b->start == b->scan && b->scan == b->end)
		b->start = b->scan = b->end = 0;
}
