/* conn_io.c - stream buffers and socket/TLS reads and writes of a connection pair, and the relay
 * pump. */
#include "conn/conn_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

#include "common/log.h"
#include "metrics/metrics.h"

int sbuf_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
	b->data = malloc(CONN_BUF_SIZE);
	if (!b->data)
		return PGS_ERR;
	b->cap = CONN_BUF_SIZE;
	return PGS_OK;
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = 0;
}

uint32_t sbuf_space(const struct sbuf *b)
{
	return b->cap - b->end;
}

void sbuf_compact(struct sbuf *b)
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

/* Makes room for `total` bytes from scan onwards (a whole message to inspect). */
int sbuf_reserve(struct sbuf *b, uint32_t total)
{
	sbuf_compact(b);
	if (b->scan + total <= b->cap)
		return PGS_OK;
	uint32_t cap = b->cap;
	while (cap < b->scan + total)
		cap *= 2;
	uint8_t *d = realloc(b->data, cap);
	if (!d)
		return PGS_ERR;
	b->data = d;
	b->cap = cap;
	return PGS_OK;
}

/* Inserts n bytes at scan (a message boundary), ready to send. */
void sbuf_inject(struct sbuf *b, const uint8_t *p, uint32_t n)
{
	uint32_t tail = b->end - b->scan;
	if (sbuf_reserve(b, tail + n) != PGS_OK)
		abort(); /* out of memory */
	memmove(b->data + b->scan + n, b->data + b->scan, tail);
	memcpy(b->data + b->scan, p, n);
	b->scan += n;
	b->end += n;
}

/* Drops n unscanned bytes at scan (a message pgseal consumed itself). */
void sbuf_consume(struct sbuf *b, uint32_t n)
{
	memmove(b->data + b->scan, b->data + b->scan + n, b->end - b->scan - n);
	b->end -= n;
	if (b->start == b->scan && b->scan == b->end)
		b->start = b->scan = b->end = 0;
}

ssize_t conn_side_read(struct conn_side *s, struct sbuf *b)
{
	if (s->uring)
		return conn_uring_read(s, b);
	if (sbuf_space(b) == 0)
		sbuf_compact(b);
	size_t room = sbuf_space(b);
	if (room == 0)
		return -1;
	if (s->ssl) {
		size_t got = 0;
		ERR_clear_error();
		int r = SSL_read_ex(s->ssl, b->data + b->end, room, &got);
		if (r == 1) {
			b->end += (uint32_t)got;
			return (ssize_t)got;
		}
		int e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			s->readable = false;
			return -1;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			s->readable = false;
			s->read_wants_write = true;
			return -1;
		}
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			return 0; /* peer closed without close_notify */
		return -2;
	}
	ssize_t n = recv(s->fd, b->data + b->end, room, 0);
	if (n > 0) {
		b->end += (uint32_t)n;
		/* a short read drained the socket; with edge triggering, new data brings a new
		 * event, so the EAGAIN read that would follow can be skipped. Not once the peer
		 * has closed: its end of stream came with the edge just consumed (bytes and FIN
		 * together, e.g. Terminate then close) and no other event will tell of it. */
		if ((size_t)n < room && !s->hup)
			s->readable = false;
		return n;
	}
	if (n == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		s->readable = false;
		return -1;
	}
	if (errno == EINTR)
		return -1;
	return errno == ECONNRESET ? 0 : -2;
}

ssize_t conn_side_write(struct conn_side *s, struct sbuf *b)
{
	if (s->uring)
		return conn_uring_write(s, b);
	size_t len = b->scan - b->start;
	if (len == 0)
		return 0;
	if (s->ssl) {
		size_t put = 0;
		ERR_clear_error();
		int r = SSL_write_ex(s->ssl, b->data + b->start, len, &put);
		if (r == 1) {
			b->start += (uint32_t)put;
			if (b->start == b->end)
				b->start = b->scan = b->end = 0;
			return (ssize_t)put;
		}
		int e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE) {
			s->writable = false;
			return -1;
		}
		if (e == SSL_ERROR_WANT_READ) {
			s->writable = false;
			s->write_wants_read = true;
			return -1;
		}
		return -2;
	}
	ssize_t n = send(s->fd, b->data + b->start, len, MSG_NOSIGNAL);
	if (n > 0) {
		if ((size_t)n < len)
			s->writable = false; /* the socket buffer is full: wait for EPOLLOUT */
		b->start += (uint32_t)n;
		if (b->start == b->end)
			b->start = b->scan = b->end = 0;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		s->writable = false;
		return -1;
	}
	if (n < 0 && errno == EINTR)
		return -1;
	return -2;
}

static void side_event(void *arg, uint32_t events)
{
	struct conn_side *s = arg;
	struct conn *c = s->conn;
	if (c->closed)
		return;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		s->hup = true;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		s->readable = true;
		if (s->write_wants_read) {
			s->write_wants_read = false;
			s->writable = true;
		}
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		s->writable = true;
		if (s->read_wants_write) {
			s->read_wants_write = false;
			s->readable = true;
		}
	}
	conn_drive(c);
}

int conn_side_attach(struct conn *c, struct conn_side *s, int fd)
{
	s->conn = c;
	s->fd = fd;
	s->watch.fn = side_event;
	s->watch.arg = s;
	s->readable = s->writable = false;
	s->hup = false;
	if (net_loop_add(c->worker->loop, fd, &s->watch, 0) != PGS_OK)
		return PGS_ERR;
	s->registered = true;
	return PGS_OK;
}

void conn_side_close(struct conn *c, struct conn_side *s)
{
	if (s->ssl) {
		if (!s->eof && SSL_is_init_finished(s->ssl))
			(void)SSL_shutdown(s->ssl); /* best effort close_notify, never waits */
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		conn_uring_close(c, s);
		if (s->registered)
			net_loop_del(c->worker->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	s->registered = false;
	s->readable = s->writable = false;
}

/* Moves bytes until neither direction makes progress (or a budget is spent). */
void conn_pump(struct conn *c)
{
	int rounds = 64; /* fairness: other connections of this worker get a turn */
	bool progress = true;
	if (c->state == CS_RELAY) {
		conn_uring_enter(c, &c->client);
		conn_uring_enter(c, &c->server);
	}
	for (; progress && !c->closed;) {
		if (rounds-- == 0) {
			c->again = true;
			c->worker->any_again = true;
			return;
		}
		ssize_t n;
		progress = false;

		/* server -> client */
		if (c->client.writable && c->s2c.scan > c->s2c.start) {
			n = conn_side_write(&c->client, &c->s2c);
			if (n > 0) {
				metrics_bytes(METRICS_FROM_SERVER, (uint64_t)n);
				progress = true;
			} else if (n == -2) {
				metrics_error(METRICS_ERR_TLS);
				conn_close(c, "write to client failed");
				return;
			}
		}
		if (c->state == CS_RELAY && c->server.readable && !c->server.eof &&
		    (sbuf_space(&c->s2c) > 0 || c->s2c.start > 0)) {
			n = conn_side_read(&c->server, &c->s2c);
			if (n > 0) {
				progress = true;
				if (conn_scan_server(c) != PGS_OK)
					return;
			} else if (n == 0 || n == -2) {
				c->server.eof = true;
				if (c->terminating) {
					conn_close(c, "client terminated");
					return;
				}
				metrics_error(METRICS_ERR_UPSTREAM);
				/* deliver what was scanned, then tell the client at a boundary */
				if (c->s2c.remain == 0 && c->s2c.scan == c->s2c.end &&
				    c->s2c.last_type != 'E')
					conn_fail(
					    c, "08006",
					    "pgseal: the upstream server closed the connection");
				else
					conn_fail(c, NULL, NULL);
				return;
			}
		}

		/* client -> server */
		if (c->server.writable && c->c2s.scan > c->c2s.start && c->server.fd >= 0 &&
		    c->state >= CS_UPSTREAM_SCRAM && c->state != CS_CLOSING) {
			n = conn_side_write(&c->server, &c->c2s);
			if (n > 0) {
				metrics_bytes(METRICS_FROM_CLIENT, (uint64_t)n);
				progress = true;
			} else if (n == -2) {
				metrics_error(METRICS_ERR_UPSTREAM);
				conn_fail(c, "08006",
				          "pgseal: writing to the upstream server failed");
				return;
			}
		}
		if (c->state == CS_RELAY && c->client.readable && !c->client.eof &&
		    (sbuf_space(&c->c2s) > 0 || c->c2s.start > 0)) {
			n = conn_side_read(&c->client, &c->c2s);
			if (n > 0) {
				progress = true;
				if (conn_scan_client(c) != PGS_OK)
					return;
			} else if (n == 0 || n == -2) {
				c->client.eof = true;
				if (n == 0 && c->c2s.scan == c->c2s.end && c->c2s.remain == 0 &&
				    conn_pool_can_release(c)) {
					/* gone without Terminate, between transactions: the
					 * upstream stays usable */
					conn_pool_release(c);
					conn_close(c, "client closed (upstream connection pooled)");
					return;
				}
				/* forward what the client sent last (e.g. Terminate), then close */
				if (c->server.writable && c->c2s.scan > c->c2s.start)
					(void)conn_side_write(&c->server, &c->c2s);
				conn_close(c, n == 0 ? "client closed" : "client read failed");
				return;
			}
		}
	}
}
