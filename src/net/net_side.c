/* net_side.c - one socket of a relayed connection: reads and writes through TLS or the plain
 * socket, edge-triggered readiness, attach and close. */
#include "net/net_side.h"

#include <errno.h>
#include <unistd.h>
#include <openssl/err.h>

void net_side_init(struct net_side *s, struct net_loop *loop, void (*ready)(void *owner),
                   void *owner, uint64_t id)
{
	s->loop = loop;
	s->ready = ready;
	s->owner = owner;
	s->id = id;
	s->fd = -1;
}

ssize_t net_side_read(struct net_side *s, struct net_stream *b)
{
	if (s->uring)
		return net_side_uring_read(s, b);
	if (net_stream_space(b) == 0)
		net_stream_compact(b);
	size_t room = net_stream_space(b);
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

ssize_t net_side_write(struct net_side *s, struct net_stream *b)
{
	if (s->uring)
		return net_side_uring_write(s, b);
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

/* The loop's event: the readiness it brings, then the owner (which ignores it once closed). */
static void side_event(void *arg, uint32_t events)
{
	struct net_side *s = arg;
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
	s->ready(s->owner);
}

int net_side_attach(struct net_side *s, int fd)
{
	s->fd = fd;
	s->watch.fn = side_event;
	s->watch.arg = s;
	s->readable = s->writable = false;
	s->hup = false;
	if (net_loop_add(s->loop, fd, &s->watch, 0) != PGS_OK)
		return PGS_ERR;
	s->registered = true;
	return PGS_OK;
}

void net_side_close(struct net_side *s)
{
	if (s->ssl) {
		if (!s->eof && SSL_is_init_finished(s->ssl))
			(void)SSL_shutdown(s->ssl); /* best effort close_notify, never waits */
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		net_side_uring_close(s);
		if (s->registered)
			net_loop_del(s->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	s->registered = false;
	s->readable = s->writable = false;
}

/* ---- before and during a TLS handshake -------------------------------------------- */

int net_side_send_raw(struct net_side *s, const void *p, size_t n)
{
	return send(s->fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? PGS_OK : PGS_ERR;
}

int net_side_recv_byte(struct net_side *s, uint8_t *out)
{
	ssize_t n = recv(s->fd, out, 1, 0); /* exactly one byte: TLS follows */
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		s->readable = false;
		return 0;
	}
	return n == 1 ? 1 : -1;
}

int net_side_peek_byte(struct net_side *s, uint8_t *out)
{
	ssize_t n = recv(s->fd, out, 1, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		s->readable = false;
		return 0;
	}
	return n == 1 ? 1 : -1;
}

int net_side_tls_new(struct net_side *s, SSL_CTX *ctx)
{
	s->ssl = SSL_new(ctx);
	return s->ssl && SSL_set_fd(s->ssl, s->fd) == 1 ? PGS_OK : PGS_ERR;
}

int net_side_handshake(struct net_side *s, bool accept)
{
	ERR_clear_error();
	int r = accept ? SSL_accept(s->ssl) : SSL_connect(s->ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(s->ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}
