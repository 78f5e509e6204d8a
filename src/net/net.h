/* net.h - sockets, the per-worker epoll loop, and the TLS contexts of both hops (OpenSSL). */
#ifndef PGSEAL_NET_H
#define PGSEAL_NET_H

#include <sys/epoll.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "common/common.h"
#include "config/config.h"

/* ---- sockets -------------------------------------------------------------- */

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Resolves host:port (blocking; used at start-up only). */
int net_resolve(const char *host, int port, struct net_addr *out, char *err,
                size_t errlen) PGS_MUSTCHECK;
/* A non-blocking listening socket. */
int net_listen(const char *hostport, int backlog, char *err, size_t errlen) PGS_MUSTCHECK;
/* Starts a non-blocking connect; returns the fd (connect may still be in progress) or -1. */
int net_connect_start(const struct net_addr *addr) PGS_MUSTCHECK;
/* After EPOLLOUT on a connecting socket: 0 when connected, else errno. */
int net_connect_result(int fd) PGS_MUSTCHECK;
void net_tune(int fd);

/* ---- event loop ----------------------------------------------------------- */

struct net_loop;

/* Called with the epoll events that fired. */
typedef void (*net_handler)(void *arg, uint32_t events);

/* An object registered with a loop; embed it in what owns the fd. */
struct net_watch {
	net_handler fn;
	void *arg;
};

struct net_loop *net_loop_new(void) PGS_MUSTCHECK;
void net_loop_free(struct net_loop *l);
/* Edge-triggered registration for EPOLLIN|EPOLLOUT|EPOLLRDHUP (plus extra flags). */
int net_loop_add(struct net_loop *l, int fd, struct net_watch *w, uint32_t extra) PGS_MUSTCHECK;
int net_loop_add_level(struct net_loop *l, int fd, struct net_watch *w,
                       uint32_t events) PGS_MUSTCHECK;
/* Points a registered fd's events at another watch. */
int net_loop_mod(struct net_loop *l, int fd, struct net_watch *w) PGS_MUSTCHECK;
void net_loop_del(struct net_loop *l, int fd);
/* Waits up to timeout_ms and dispatches; returns the number of events or -1 (EINTR = 0). */
int net_loop_run_once(struct net_loop *l, int timeout_ms) PGS_MUSTCHECK;

/* ---- io_uring engine -------------------------------------------------------
 * A loop may also own an io_uring: plaintext sockets in relay then receive and send by
 * completion, and each loop turn is one system call that issues every queued send and
 * receive and waits (epoll readiness of the other sockets arrives through the same ring).
 * Buffers given to an operation belong to the kernel until its completion; an operation
 * names its socket by number, so a socket is closed only after net_uring_cancel_fd. */

/* Completion of an operation: res is the byte count or -errno (-ECANCELED when cancelled). */
struct net_op {
	void (*fn)(void *arg, int res);
	void *arg;
};

/* 0 when this kernel can run the engine, else -errno (ENOSYS, EPERM: disabled or filtered). */
int net_uring_probe(void) PGS_MUSTCHECK;
/* Gives the loop its ring; call on the thread that runs the loop. 0 or -errno. */
int net_loop_start_uring(struct net_loop *l) PGS_MUSTCHECK;
bool net_loop_has_uring(const struct net_loop *l);
/* Queue a receive into / a send from buf (issued at the next loop turn). */
int net_uring_recv(struct net_loop *l, int fd, void *buf, size_t len,
                   struct net_op *op) PGS_MUSTCHECK;
int net_uring_send(struct net_loop *l, int fd, const void *buf, size_t len,
                   struct net_op *op) PGS_MUSTCHECK;
/* Issues what is queued, then cancels every operation still pending on fd and returns
 * once the kernel has let go of them and their buffers (their completions still come). */
void net_uring_cancel_fd(struct net_loop *l, int fd);
/* The same for one operation: true when it was found pending and cancelled, so it
 * consumed nothing; false when it had completed already. */
bool net_uring_cancel_op(struct net_loop *l, struct net_op *op);

/* ---- blocking I/O with a deadline (net_sync.c; threads outside the loops) ---- */

/* Waits for poll events on fd until deadline_us (pgs_now_us); PGS_OK when they came. */
int net_wait_fd(int fd, short events, uint64_t deadline_us) PGS_MUSTCHECK;
/* PostgreSQL's SSLRequest on a connected socket, then TLS as an upstream client (ctx, cfg:
 * verification and SNI), as libpq does; *out is set to the SSL (also on failure: the caller
 * frees it). */
int net_sync_starttls(int fd, SSL_CTX *ctx, const struct cfg_upstream *cfg, uint64_t deadline,
                      SSL **out) PGS_MUSTCHECK;
/* Sends len bytes (through ssl when not NULL), then reads until the peer closes: PGS_OK
 * when that close was seen (PostgreSQL closes a cancel connection once it has signalled
 * the backend). */
int net_sync_send_until_close(int fd, SSL *ssl, const uint8_t *pkt, size_t len,
                              uint64_t deadline) PGS_MUSTCHECK;

/* ---- TLS ------------------------------------------------------------------ */

/* Client-facing TLS (pgseal is the server): certificate, key, optional client CA (mTLS). */
SSL_CTX *net_tls_server_ctx(const struct cfg_client_tls *cfg, char *err,
                            size_t errlen) PGS_MUSTCHECK;
/* The same with a certificate and key held in memory (RA-TLS, src/tee/tee_ratls.c); the
 * context takes its own references to both. client_tls.cert_file/key_file are ignored. */
SSL_CTX *net_tls_server_ctx_mem(const struct cfg_client_tls *cfg, X509 *cert, EVP_PKEY *key,
                                char *err, size_t errlen) PGS_MUSTCHECK;
/* Upstream TLS (pgseal is the client) per upstream.tls. */
SSL_CTX *net_tls_client_ctx(const struct cfg_upstream *cfg, char *err, size_t errlen) PGS_MUSTCHECK;
/* Applies host verification (verify-full) and SNI to a new upstream SSL. */
int net_tls_client_prepare(SSL *ssl, const struct cfg_upstream *cfg) PGS_MUSTCHECK;
/* The last OpenSSL error as text, for logs (never contains payload). */
const char *net_tls_error(char *buf, size_t len);

/* Identity of a verified client certificate (mTLS). */
struct net_peer_id {
	char subject[256];    /* RFC 2253 subject DN */
	char fingerprint[65]; /* lowercase hex SHA-256 of the certificate DER */
};
int net_tls_peer_id(SSL *ssl, struct net_peer_id *out) PGS_MUSTCHECK;
/* The handshake chose ALPN "postgresql" (the client-facing contexts choose it when offered). */
bool net_tls_alpn_postgresql(SSL *ssl);

#endif
