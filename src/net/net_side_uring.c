/* net_side_uring.c - a side on the io_uring engine: receives and sends of a plaintext relay socket
 * by completion, each completion reported to the side's owner. */
#include "net/net_side.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void rx_done(void *arg, int res);
static void tx_done(void *arg, int res);

static int arm_recv(struct net_side *s)
{
	s->rx_off = s->rx_len = 0;
	if (net_uring_recv(s->loop, s->fd, s->ubuf, NET_URING_RX, &s->rx_op) != PGS_OK)
		return PGS_ERR;
	s->rx_pending = true;
	s->ops++;
	return PGS_OK;
}

void net_side_uring_enter(struct net_side *s)
{
	if (s->uring || s->fd < 0 || s->ssl || s->eof || !net_loop_has_uring(s->loop))
		return;
	if (!s->ubuf) {
		s->ubuf = malloc(NET_URING_RX + NET_URING_TX);
		if (!s->ubuf)
			return; /* stays on epoll */
	}
	if (s->registered) {
		net_loop_del(s->loop, s->fd);
		s->registered = false;
	}
	s->uring = true;
	s->rx_eof = s->tx_failed = false;
	s->rx_error = 0;
	s->tx_off = s->tx_len = 0;
	s->rx_op.fn = rx_done;
	s->rx_op.arg = s;
	s->tx_op.fn = tx_done;
	s->tx_op.arg = s;
	s->writable = !s->tx_pending;
	if (arm_recv(s) != PGS_OK)
		s->rx_error = -ENOMEM;  /* the next read fails the connection */
	s->readable = s->rx_error != 0; /* otherwise when a receive completes */
}

bool net_side_uring_quiet(const struct net_side *s)
{
	return !s->uring ||
	       (!s->tx_pending && !s->rx_len && !s->rx_eof && !s->rx_error && !s->tx_failed);
}

int net_side_uring_leave(struct net_side *s)
{
	if (!s->uring)
		return PGS_OK;
	if (!net_side_uring_quiet(s))
		return PGS_ERR;
	/* a receive that completed before it could be cancelled took bytes nobody has read */
	if (s->rx_pending && !net_uring_cancel_op(s->loop, &s->rx_op))
		return PGS_ERR;
	s->uring = false; /* the cancelled receive's completion only counts down ops */
	if (net_loop_add(s->loop, s->fd, &s->watch, 0) != PGS_OK)
		return PGS_ERR;
	s->registered = true;
	return PGS_OK;
}

void net_side_uring_close(struct net_side *s)
{
	if (!s->uring)
		return;
	net_uring_cancel_fd(s->loop, s->fd);
	s->uring = false;
}

ssize_t net_side_uring_read(struct net_side *s, struct net_stream *b)
{
	if (s->rx_len == 0) {
		if (s->rx_error)
			return s->rx_error == -ECONNRESET ? 0 : -2;
		if (s->rx_eof)
			return 0;
		s->readable = false;
		return -1;
	}
	if (net_stream_space(b) == 0)
		net_stream_compact(b);
	uint32_t n = net_stream_space(b);
	if (n == 0)
		return -1;
	if (n > s->rx_len)
		n = s->rx_len;
	memcpy(b->data + b->end, s->ubuf + s->rx_off, n);
	b->end += n;
	s->rx_off += n;
	s->rx_len -= n;
	if (s->rx_len == 0 && !s->rx_eof && !s->rx_error) {
		if (arm_recv(s) != PGS_OK)
			s->rx_error = -ENOMEM;
		else
			s->readable = false;
	}
	return (ssize_t)n;
}

static int submit_send(struct net_side *s)
{
	if (net_uring_send(s->loop, s->fd, s->ubuf + NET_URING_RX + s->tx_off, s->tx_len,
	                   &s->tx_op) != PGS_OK)
		return PGS_ERR;
	s->tx_pending = true;
	s->ops++;
	return PGS_OK;
}

ssize_t net_side_uring_write(struct net_side *s, struct net_stream *b)
{
	if (s->tx_failed)
		return -2;
	if (s->tx_pending) {
		s->writable = false;
		return -1;
	}
	uint32_t n = b->scan - b->start;
	if (n == 0)
		return 0;
	if (n > NET_URING_TX)
		n = NET_URING_TX;
	memcpy(s->ubuf + NET_URING_RX, b->data + b->start, n);
	s->tx_off = 0;
	s->tx_len = n;
	if (submit_send(s) != PGS_OK)
		return -2;
	s->writable = false; /* one send in the kernel at a time: the next after this completes */
	b->start += n;
	if (b->start == b->end)
		b->start = b->scan = b->end = 0;
	return (ssize_t)n;
}

/* A closed side (net_side_close: off the ring) only counts its completions down. */
static void rx_done(void *arg, int res)
{
	struct net_side *s = arg;
	s->rx_pending = false;
	s->ops--;
	if (!s->uring || res == -ECANCELED)
		return;
	if (res > 0) {
		s->rx_off = 0;
		s->rx_len = (uint32_t)res;
	} else if (res == 0) {
		s->rx_eof = true;
	} else if (res == -EINTR || res == -EAGAIN) {
		if (arm_recv(s) == PGS_OK)
			return;
		s->rx_error = -ENOMEM;
	} else {
		s->rx_error = res;
	}
	s->readable = true;
	s->ready(s->owner); /* the one indirect call of a completion */
}

static void tx_done(void *arg, int res)
{
	struct net_side *s = arg;
	s->ops--;
	if (!s->uring) {
		s->tx_pending = false;
		return;
	}
	if (res > 0 && (uint32_t)res < s->tx_len) {
		/* a short send: the rest goes next, still in order */
		s->tx_off += (uint32_t)res;
		s->tx_len -= (uint32_t)res;
		if (submit_send(s) == PGS_OK)
			return;
		res = -ENOMEM;
	}
	s->tx_pending = false;
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		s->tx_failed = true;
		log_conn(LOG_DEBUG, s->id, "send failed: %s", strerror(-res));
	} else if (res < 0) {
		/* interrupted before anything went: send it again */
		if (submit_send(s) == PGS_OK)
			return;
		s->tx_failed = true;
	}
	s->writable = true;
	s->ready(s->owner);
}
