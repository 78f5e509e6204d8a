/* net_sync.c - blocking I/O on a non-blocking socket, each wait bounded by a deadline: for the
 * short-lived threads that forward CancelRequests (src/conn/conn_cancel.c), outside every loop. */
#include "net/net.h"

#include <errno.h>
#include <poll.h>
#include <openssl/err.h>

#include "proto/proto.h"

int net_wait_fd(int fd, short events, uint64_t deadline_us)
{
	uint64_t now = pgs_now_us();
	if (now >= deadline_us)
		return PGS_ERR;
	struct pollfd p = {.fd = fd, .events = events};
	int ms = (int)((deadline_us - now + 999) / 1000);
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r == 1 ? PGS_OK : PGS_ERR;
}

int net_sync_starttls(int fd, SSL_CTX *ctx, const struct cfg_upstream *cfg, uint64_t deadline,
                      SSL **out)
{
	uint8_t req[8], answer = 0;
	pgs_put_u32(req, 8);
	pgs_put_u32(req + 4, PROTO_SSL_CODE);
	if (send(fd, req, 8, MSG_NOSIGNAL) != 8 || net_wait_fd(fd, POLLIN, deadline) != PGS_OK ||
	    recv(fd, &answer, 1, 0) != 1 || answer != 'S')
		return PGS_ERR;
	SSL *ssl = SSL_new(ctx);
	*out = ssl;
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || net_tls_client_prepare(ssl, cfg) != PGS_OK)
		return PGS_ERR;
	for (;;) {
		int r = SSL_connect(ssl);
		if (r == 1)
			return PGS_OK;
		int e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ && net_wait_fd(fd, POLLIN, deadline) == PGS_OK)
			continue;
		if (e == SSL_ERROR_WANT_WRITE && net_wait_fd(fd, POLLOUT, deadline) == PGS_OK)
			continue;
		return PGS_ERR;
	}
}

int net_sync_send_until_close(int fd, SSL *ssl, const uint8_t *pkt, size_t len, uint64_t deadline)
{
	size_t put = 0;
	while (put < len) {
		if (ssl) {
			size_t n = 0;
			int r = SSL_write_ex(ssl, pkt + put, len - put, &n);
			if (r == 1) {
				put += n;
				continue;
			}
			int e = SSL_get_error(ssl, r);
			if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
			    net_wait_fd(fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
			                deadline) == PGS_OK)
				continue;
			return PGS_ERR;
		}
		if (net_wait_fd(fd, POLLOUT, deadline) != PGS_OK)
			return PGS_ERR;
		ssize_t n = send(fd, pkt + put, len - put, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			put += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return PGS_ERR;
	}
	for (;;) {
		uint8_t sink[256];
		if (ssl && SSL_pending(ssl) == 0 && net_wait_fd(fd, POLLIN, deadline) != PGS_OK)
			return PGS_ERR;
		if (!ssl && net_wait_fd(fd, POLLIN, deadline) != PGS_OK)
			return PGS_ERR;
		if (ssl) {
			size_t n = 0;
			if (SSL_read_ex(ssl, sink, sizeof(sink), &n) == 1)
				continue;
			int e = SSL_get_error(ssl, 0);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				continue; /* a session ticket or a partial record */
			/* close_notify, or the end of the stream without it (PostgreSQL sends none,
			 * which OpenSSL 3 may report as an error): the server is done */
			return PGS_OK;
		}
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return PGS_OK;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return PGS_ERR;
	}
}
