/* test_net_loop.c - the worker event loop: epoll readiness, and the io_uring engine's receives,
 * sends, cancellation and readiness through the ring. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "testlib.h"

struct done {
	int calls;
	int res;
};

static void op_done(void *arg, int res)
{
	struct done *d = arg;
	d->calls++;
	d->res = res;
}

static void watch_fired(void *arg, uint32_t events)
{
	int *n = arg;
	(void)events;
	(*n)++;
}

/* Runs loop turns until cond holds (bounded); one check that no turn failed. */
#define SPIN(l, cond)                                                                              \
	do {                                                                                       \
		int _rc = 0;                                                                       \
		for (int _i = 0; _i < 50 && !(cond) && _rc >= 0; _i++)                             \
			_rc = net_loop_run_once((l), 20);                                          \
		CHECK(_rc >= 0);                                                                   \
	} while (0)

static void test_epoll_readiness(bool uring)
{
	struct net_loop *l = net_loop_new();
	CHECK(l != NULL);
	if (uring)
		CHECK_EQ_INT(net_loop_start_uring(l), 0);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int fired = 0;
	struct net_watch w = {.fn = watch_fired, .arg = &fired};
	CHECK(net_loop_add_level(l, efd, &w, EPOLLIN) == PGS_OK);
	CHECK_EQ_INT(net_loop_run_once(l, 10), 0); /* nothing yet: the timeout */
	CHECK_EQ_INT(fired, 0);
	uint64_t one = 1;
	CHECK_EQ_INT(write(efd, &one, sizeof(one)), 8);
	SPIN(l, fired > 0);
	CHECK(fired > 0);
	/* level-triggered and not drained: reported again on the next turn */
	int before = fired;
	SPIN(l, fired > before);
	CHECK(fired > before);
	uint64_t v;
	CHECK_EQ_INT(read(efd, &v, sizeof(v)), 8);
	net_loop_del(l, efd);
	close(efd);
	net_loop_free(l);
}

static void test_uring_recv_send(void)
{
	struct net_loop *l = net_loop_new();
	CHECK_EQ_INT(net_loop_start_uring(l), 0);
	CHECK(net_loop_has_uring(l));
	int sv[2];
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	char buf[64] = {0};
	struct done rd = {0}, wr = {0};
	struct net_op rop = {.fn = op_done, .arg = &rd}, wop = {.fn = op_done, .arg = &wr};

	CHECK(net_uring_recv(l, sv[0], buf, sizeof(buf), &rop) == PGS_OK);
	CHECK(net_loop_run_once(l, 0) >= 0); /* issued; nothing to read yet */
	CHECK_EQ_INT(rd.calls, 0);
	CHECK_EQ_INT(write(sv[1], "hello", 5), 5);
	SPIN(l, rd.calls > 0);
	CHECK_EQ_INT(rd.calls, 1);
	CHECK_EQ_INT(rd.res, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);

	static const char msg[] = "world";
	CHECK(net_uring_send(l, sv[0], msg, 5, &wop) == PGS_OK);
	SPIN(l, wr.calls > 0);
	CHECK_EQ_INT(wr.res, 5);
	char got[8] = {0};
	CHECK_EQ_INT(read(sv[1], got, sizeof(got)), 5);
	CHECK(memcmp(got, "world", 5) == 0);

	/* the peer closes: the receive completes with 0 */
	rd.calls = 0;
	CHECK(net_uring_recv(l, sv[0], buf, sizeof(buf), &rop) == PGS_OK);
	close(sv[1]);
	SPIN(l, rd.calls > 0);
	CHECK_EQ_INT(rd.res, 0);
	close(sv[0]);
	net_loop_free(l);
}

static void test_uring_cancel(void)
{
	struct net_loop *l = net_loop_new();
	CHECK_EQ_INT(net_loop_start_uring(l), 0);
	int sv[2];
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	char buf[64];
	struct done rd = {0};
	struct net_op rop = {.fn = op_done, .arg = &rd};

	/* a pending receive is cancelled and consumed nothing; its completion still comes */
	CHECK(net_uring_recv(l, sv[0], buf, sizeof(buf), &rop) == PGS_OK);
	CHECK(net_loop_run_once(l, 0) >= 0);
	CHECK(net_uring_cancel_op(l, &rop));
	SPIN(l, rd.calls > 0);
	CHECK_EQ_INT(rd.calls, 1);
	CHECK_EQ_INT(rd.res, -ECANCELED);

	/* one that has completed is not found: "false", and its bytes are in its completion */
	rd.calls = 0;
	CHECK(net_uring_recv(l, sv[0], buf, sizeof(buf), &rop) == PGS_OK);
	CHECK_EQ_INT(write(sv[1], "abc", 3), 3);
	SPIN(l, rd.calls > 0);
	CHECK(!net_uring_cancel_op(l, &rop));
	CHECK_EQ_INT(rd.res, 3);

	/* data arriving while the cancel races: either cancelled with the bytes still in the
	 * socket, or completed with them, never lost */
	for (int i = 0; i < 20; i++) {
		rd.calls = 0;
		CHECK(net_uring_recv(l, sv[0], buf, sizeof(buf), &rop) == PGS_OK);
		CHECK(net_loop_run_once(l, 0) >= 0);
		CHECK_EQ_INT(write(sv[1], "xy", 2), 2);
		bool cancelled = net_uring_cancel_op(l, &rop);
		SPIN(l, rd.calls > 0);
		CHECK_EQ_INT(rd.calls, 1);
		if (cancelled) {
			CHECK_EQ_INT(rd.res, -ECANCELED);
			CHECK_EQ_INT(recv(sv[0], buf, sizeof(buf), 0), 2);
		} else {
			CHECK_EQ_INT(rd.res, 2);
		}
	}

	/* closing: a send queued but not yet issued goes out before the socket's operations
	 * are cancelled and its number is closed */
	rd.calls = 0;
	struct done wr = {0};
	struct net_op wop = {.fn = op_done, .arg = &wr};
	CHECK(net_uring_recv(l, sv[0], buf, sizeof(buf), &rop) == PGS_OK);
	CHECK(net_loop_run_once(l, 0) >= 0);
	CHECK(net_uring_send(l, sv[0], "bye", 3, &wop) == PGS_OK);
	net_uring_cancel_fd(l, sv[0]);
	close(sv[0]);
	SPIN(l, rd.calls > 0 && wr.calls > 0);
	CHECK_EQ_INT(rd.res, -ECANCELED);
	CHECK_EQ_INT(wr.res, 3);
	char got[8] = {0};
	CHECK_EQ_INT(read(sv[1], got, sizeof(got)), 3);
	CHECK(memcmp(got, "bye", 3) == 0);
	close(sv[1]);
	net_loop_free(l);
}

#define RUN_ARG(fn, a)                                                                             \
	do {                                                                                       \
		t_current = #fn "(" #a ")";                                                        \
		fn(a);                                                                             \
	} while (0)

int main(void)
{
	RUN_ARG(test_epoll_readiness, false);
	int r = net_uring_probe();
	if (r != 0) {
		/* counted as a failure: the io_uring engine is the default and must be tested */
		fprintf(stderr, "io_uring unavailable here (%s): its tests cannot run\n",
		        strerror(-r));
		CHECK(r == 0);
		return t_summary("test_net_loop");
	}
	RUN_ARG(test_epoll_readiness, true);
	RUN(test_uring_recv_send);
	RUN(test_uring_cancel);
	return t_summary("test_net_loop");
}
