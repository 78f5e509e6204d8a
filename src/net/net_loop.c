/* net_loop.c - each worker's event loop: epoll readiness, and (io_uring engine) completions of the
 * relay's receives and sends. */
#include "net/net.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <liburing.h>

/* Linux 6.15: a wait that is not counted as iowait (liburing 2.3 predates both names) */
#ifndef IORING_ENTER_NO_IOWAIT
#define IORING_ENTER_NO_IOWAIT (1U << 7)
#endif
#ifndef IORING_FEAT_NO_IOWAIT
#define IORING_FEAT_NO_IOWAIT (1U << 17)
#endif

#define NET_MAX_EVENTS 256
#define NET_RING_ENTRIES 512u
#define NET_RING_CQ_ENTRIES 8192u
/* completions handled per loop turn before the caller's bookkeeping gets a turn */
#define NET_MAX_COMPLETIONS 4096

struct net_loop {
	int epfd;
	struct epoll_event events[NET_MAX_EVENTS];
	bool uring;       /* the ring below is set up */
	bool no_iowait;   /* the kernel can wait without counting it as iowait */
	bool epoll_armed; /* a poll on epfd is in the ring */
	struct io_uring ring;
	struct net_op epoll_op; /* its completion: epoll has events to dispatch */
};

struct net_loop *net_loop_new(void)
{
	struct net_loop *l = pgs_xcalloc(1, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void net_loop_free(struct net_loop *l)
{
	if (!l)
		return;
	if (l->uring)
		io_uring_queue_exit(&l->ring);
	close(l->epfd);
	free(l);
}

int net_loop_add(struct net_loop *l, int fd, struct net_watch *w, uint32_t extra)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET | extra,
	                         .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? PGS_OK : PGS_ERR;
}

int net_loop_add_level(struct net_loop *l, int fd, struct net_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? PGS_OK : PGS_ERR;
}

int net_loop_mod(struct net_loop *l, int fd, struct net_watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? PGS_OK : PGS_ERR;
}

void net_loop_del(struct net_loop *l, int fd)
{
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int dispatch_epoll(struct net_loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->events, NET_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct net_watch *w = l->events[i].data.ptr;
		w->fn(w->arg, l->events[i].events);
	}
	return n;
}

/* ---- io_uring engine -------------------------------------------------------- */

/* Sets up a ring with the cheapest completion mode the kernel offers: completions run
 * when the worker asks for them (DEFER_TASKRUN, 6.1), else cooperatively (5.19), else
 * plainly. The ring needs synchronous cancellation (6.0), which closing a socket relies on. */
static int ring_init(struct io_uring *ring, unsigned *features)
{
	static const unsigned flag_sets[] = {
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	    IORING_SETUP_COOP_TASKRUN,
	    0,
	};
	int r = -ENOSYS;
	for (size_t i = 0; i < PGS_ARRAY_LEN(flag_sets); i++) {
		struct io_uring_params p = {.flags = flag_sets[i] | IORING_SETUP_CQSIZE,
		                            .cq_entries = NET_RING_CQ_ENTRIES};
		r = io_uring_queue_init_params(NET_RING_ENTRIES, ring, &p);
		if (r == 0) {
			*features = p.features;
			if (!(p.features & IORING_FEAT_NODROP) ||
			    !(p.features & IORING_FEAT_EXT_ARG)) {
				io_uring_queue_exit(ring);
				return -EOPNOTSUPP;
			}
			break;
		}
		if (r != -EINVAL)
			return r; /* ENOSYS, EPERM (disabled or filtered), ENOMEM: no flags help */
	}
	if (r != 0)
		return r;
	/* probe synchronous cancellation: nothing is pending on this fd, so "not found" */
	struct io_uring_sync_cancel_reg reg = {.fd = ring->ring_fd,
	                                       .flags = IORING_ASYNC_CANCEL_FD,
	                                       .timeout = {.tv_sec = -1, .tv_nsec = -1}};
	r = io_uring_register_sync_cancel(ring, &reg);
	if (r != -ENOENT) {
		io_uring_queue_exit(ring);
		return r < 0 ? r : -EOPNOTSUPP;
	}
	return 0;
}

int net_uring_probe(void)
{
	struct io_uring ring;
	unsigned features;
	int r = ring_init(&ring, &features);
	if (r == 0)
		io_uring_queue_exit(&ring);
	return r;
}

int net_loop_start_uring(struct net_loop *l)
{
	if (l->uring)
		return 0;
	unsigned features = 0;
	int r = ring_init(&l->ring, &features);
	if (r == 0) {
		l->uring = true;
		l->no_iowait = (features & IORING_FEAT_NO_IOWAIT) != 0;
	}
	return r;
}

bool net_loop_has_uring(const struct net_loop *l)
{
	return l->uring;
}

static struct io_uring_sqe *get_sqe(struct net_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (!sqe) {
		(void)io_uring_submit(&l->ring); /* the queue is full: issue it */
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

int net_uring_recv(struct net_loop *l, int fd, void *buf, size_t len, struct net_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return PGS_ERR;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	/* the socket was just drained: wait for data rather than try a read first */
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	io_uring_sqe_set_data(sqe, op);
	return PGS_OK;
}

int net_uring_send(struct net_loop *l, int fd, const void *buf, size_t len, struct net_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return PGS_ERR;
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, op);
	return PGS_OK;
}

/* Queued operations name their socket by number: they are issued before the number can be
 * closed and given to another socket. */
static void flush(struct net_loop *l)
{
	for (int i = 0; i < 8 && io_uring_sq_ready(&l->ring) > 0; i++) {
		int r = io_uring_submit(&l->ring);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			break;
		if (r <= 0)
			(void)io_uring_get_events(&l->ring); /* make room in the completion queue */
	}
}

/* Synchronous cancellation; EALREADY: a matching operation is running, try again. */
static int sync_cancel(struct net_loop *l, struct io_uring_sync_cancel_reg *reg)
{
	int r = -EALREADY;
	for (int i = 0; i < 1000; i++) {
		r = io_uring_register_sync_cancel(&l->ring, reg);
		if (r != -EINTR && r != -EALREADY)
			break;
	}
	return r;
}

void net_uring_cancel_fd(struct net_loop *l, int fd)
{
	flush(l);
	struct io_uring_sync_cancel_reg reg = {.fd = fd,
	                                       .flags =
	                                           IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL,
	                                       .timeout = {.tv_sec = -1, .tv_nsec = -1}};
	(void)sync_cancel(l, &reg);
}

bool net_uring_cancel_op(struct net_loop *l, struct net_op *op)
{
	flush(l);
	struct io_uring_sync_cancel_reg reg = {.addr = (uint64_t)(uintptr_t)op,
	                                       .timeout = {.tv_sec = -1, .tv_nsec = -1}};
	return sync_cancel(l, &reg) >= 0;
}

/* Issues the queue and waits for one completion in one system call. A worker waiting for
 * its sockets is idle, not waiting for a disk: where the kernel allows (6.15), the wait
 * is not counted as iowait, which would otherwise show an idle pgseal as ~100% iowait.
 * liburing 2.3 has no switch for it, so this call is io_uring_submit_and_wait_timeout's
 * own, with the flag: publish the queue's tail, then enter. */
static int submit_and_wait(struct net_loop *l, struct __kernel_timespec *ts)
{
	if (!l->no_iowait) {
		struct io_uring_cqe *cqe;
		return io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, ts, NULL);
	}
	struct io_uring_sq *sq = &l->ring.sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	unsigned to_submit = sq->sqe_tail - io_uring_smp_load_acquire(sq->khead);
	struct io_uring_getevents_arg arg = {.ts = (uint64_t)(uintptr_t)ts};
	long r = syscall(__NR_io_uring_enter, l->ring.ring_fd, to_submit, 1,
	                 IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | IORING_ENTER_NO_IOWAIT,
	                 &arg, sizeof(arg));
	return r < 0 ? -errno : (int)r;
}

static int run_uring(struct net_loop *l, int timeout_ms)
{
	if (!l->epoll_armed) {
		/* one-shot, re-armed after each dispatch: a level-triggered fd left ready fires
		 * the poll again at once */
		struct io_uring_sqe *sqe = get_sqe(l);
		if (!sqe)
			return -1;
		io_uring_prep_poll_add(sqe, l->epfd, POLLIN);
		io_uring_sqe_set_data(sqe, &l->epoll_op);
		l->epoll_armed = true;
	}
	struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
	                               .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
	struct io_uring_cqe *cqe;
	int r = submit_and_wait(l, &ts);
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
		errno = -r;
		return -1;
	}
	int n = 0;
	while (n < NET_MAX_COMPLETIONS && io_uring_peek_cqe(&l->ring, &cqe) == 0) {
		struct net_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&l->ring, cqe);
		n++;
		if (op == &l->epoll_op) {
			l->epoll_armed = false;
			if (dispatch_epoll(l, 0) < 0)
				return -1;
		} else if (op) {
			op->fn(op->arg, res);
		}
	}
	return n;
}

int net_loop_run_once(struct net_loop *l, int timeout_ms)
{
	if (l->uring)
		return run_uring(l, timeout_ms);
	return dispatch_epoll(l, timeout_ms);
}
