/* test_net_stream.c - the stream buffer of a relayed direction: inject and consume at scan,
 * growth that keeps the bytes (a new block, the old one wiped), compaction, a side's plain
 * socket reads and writes through it, and the bare bytes around an SSLRequest. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_side.h"
#include "testlib.h"

static void test_inject_consume(void)
{
	struct net_stream b;
	CHECK(net_stream_init(&b) == PGS_OK);
	CHECK_EQ_INT(net_stream_space(&b), NET_STREAM_SIZE);
	net_stream_inject(&b, (const uint8_t *)"abc", 3);
	CHECK_EQ_INT(b.scan, 3);
	CHECK_EQ_INT(b.end, 3);
	/* unscanned bytes after scan stay after what is injected */
	memcpy(b.data + b.end, "xyz", 3);
	b.end += 3;
	net_stream_inject(&b, (const uint8_t *)"12", 2);
	CHECK(memcmp(b.data, "abc12xyz", 8) == 0);
	CHECK_EQ_INT(b.scan, 5);
	net_stream_consume(&b, 2);
	CHECK(memcmp(b.data, "abc12z", 6) == 0);
	CHECK_EQ_INT(b.end, 6);
	net_stream_free(&b);
	CHECK(b.data == NULL);
	net_stream_free(&b); /* twice: a no-op */
}

static void test_grow_keeps_bytes(void)
{
	struct net_stream b;
	CHECK(net_stream_init(&b) == PGS_OK);
	uint8_t *big = malloc(3 * NET_STREAM_SIZE);
	for (uint32_t i = 0; i < 3 * NET_STREAM_SIZE; i++)
		big[i] = (uint8_t)(i * 7);
	net_stream_inject(&b, big, 100);
	b.start = 40; /* 40 bytes were written: compaction drops them */
	CHECK(net_stream_reserve(&b, 2 * NET_STREAM_SIZE) == PGS_OK);
	CHECK_EQ_INT(b.start, 0);
	CHECK_EQ_INT(b.scan, 60);
	CHECK(b.cap >= 60 + 2 * NET_STREAM_SIZE);
	CHECK(memcmp(b.data, big + 40, 60) == 0);
	net_stream_inject(&b, big, 3 * NET_STREAM_SIZE);
	CHECK(memcmp(b.data + 60, big, 3 * NET_STREAM_SIZE) == 0);
	free(big);
	net_stream_free(&b);
}

static void ready(void *owner)
{
	(*(int *)owner)++;
}

static void test_side_plain(void)
{
	int sv[2], calls = 0;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	struct net_loop *l = net_loop_new();
	CHECK(l != NULL);
	struct net_side s = {0};
	net_side_init(&s, l, ready, &calls, 1);
	CHECK_EQ_INT(s.fd, -1);
	CHECK(net_side_attach(&s, sv[0]) == PGS_OK);
	struct net_stream in, out;
	CHECK(net_stream_init(&in) == PGS_OK);
	CHECK(net_stream_init(&out) == PGS_OK);
	CHECK_EQ_INT(net_side_read(&s, &in), -1); /* nothing yet: would block */
	CHECK(write(sv[1], "hello", 5) == 5);
	CHECK(net_loop_run_once(l, 1000) >= 1);
	CHECK(calls >= 1 && s.readable);
	CHECK_EQ_INT(net_side_read(&s, &in), 5);
	CHECK(memcmp(in.data, "hello", 5) == 0);
	net_stream_inject(&out, (const uint8_t *)"bye", 3);
	s.writable = true;
	CHECK_EQ_INT(net_side_write(&s, &out), 3);
	CHECK_EQ_INT(out.end, 0); /* all written: the buffer starts over */
	char got[4] = {0};
	CHECK(read(sv[1], got, 3) == 3);
	CHECK_STR(got, "bye");
	close(sv[1]);
	s.readable = true;
	CHECK_EQ_INT(net_side_read(&s, &in), 0); /* the end of the stream */
	net_side_close(&s);
	CHECK_EQ_INT(s.fd, -1);
	net_stream_free(&in);
	net_stream_free(&out);
	net_loop_free(l);
}

/* The bytes around an SSLRequest go on the bare socket, one byte at a time. */
static void test_side_raw(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	struct net_loop *l = net_loop_new();
	CHECK(l != NULL);
	struct net_side a = {0}, b = {0};
	net_side_init(&a, l, ready, NULL, 1);
	net_side_init(&b, l, ready, NULL, 2);
	CHECK(net_side_attach(&a, sv[0]) == PGS_OK);
	CHECK(net_side_attach(&b, sv[1]) == PGS_OK);
	uint8_t got = 0;
	b.readable = true;
	CHECK_EQ_INT(net_side_recv_byte(&b, &got), 0); /* nothing yet */
	CHECK(!b.readable);
	CHECK(net_side_send_raw(&a, "SN", 2) == PGS_OK);
	CHECK_EQ_INT(net_side_recv_byte(&b, &got), 1);
	CHECK_EQ_INT(got, 'S');
	CHECK_EQ_INT(net_side_recv_byte(&b, &got), 1); /* exactly one byte each time */
	CHECK_EQ_INT(got, 'N');
	net_side_close(&a);
	CHECK_EQ_INT(net_side_recv_byte(&b, &got), -1); /* closed */
	net_side_close(&b);
	net_loop_free(l);
}

int main(void)
{
	RUN(test_inject_consume);
	RUN(test_grow_keeps_bytes);
	RUN(test_side_plain);
	RUN(test_side_raw);
	return t_summary("test_net_stream");
}
