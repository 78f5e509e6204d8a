/* net_side.h - one socket of a relayed connection: its stream buffers (net_stream), its reads and
 * writes through TLS or a plain socket, and the same socket on the io_uring engine. */
#ifndef PGSEAL_NET_SIDE_H
#define PGSEAL_NET_SIDE_H

#include <sys/types.h>

#include "net/net.h"

/* ---- stream buffers -------------------------------------------------------- */

#define NET_STREAM_SIZE (16u * 1024u)

/*
 * A stream buffer for one direction. Bytes [start, scan) have been looked at and may be
 * written to the other side; [scan, end) are received but not yet scanned. It may hold the
 * plaintext of values on their way (a Bind, COPY rows): growing copies to a new block and
 * wipes the old one (never realloc), and freeing wipes the whole block (as pgs_buf).
 */
struct net_stream {
	uint8_t *data;
	uint32_t cap;
	uint32_t start;
	uint32_t scan;
	uint32_t end;
	uint32_t remain;   /* bytes of the current message still to pass (0: at a header) */
	uint8_t last_type; /* type byte of the last message header scanned */
};

int net_stream_init(struct net_stream *b) PGS_MUSTCHECK;
void net_stream_free(struct net_stream *b);
static inline uint32_t net_stream_space(const struct net_stream *b)
{
	return b->cap - b->end;
}
/* Moves [start, end) to the front. */
void net_stream_compact(struct net_stream *b);
/* Makes room for `total` bytes from scan onwards (a whole message to inspect). */
int net_stream_reserve(struct net_stream *b, uint32_t total) PGS_MUSTCHECK;
/* Inserts n bytes at scan (a message boundary), ready to send; aborts when out of memory. */
void net_stream_inject(struct net_stream *b, const uint8_t *p, uint32_t n);
/* Drops n unscanned bytes at scan (a message pgseal consumed itself). */
void net_stream_consume(struct net_stream *b, uint32_t n);

/* ---- a side: one socket with its TLS state ----------------------------------- */

/*
 * One socket of a connection pair, with its TLS state and edge-triggered readiness. What
 * owns it (a session, src/conn/) is told of every change by ready(owner): an epoll event,
 * or a completion of the io_uring engine. The side knows nothing else of its owner.
 */
struct net_side {
	struct net_loop *loop;
	void (*ready)(void *owner); /* readiness changed or an operation completed */
	void *owner;
	uint64_t id; /* the connection id, for logs */
	struct net_watch watch;
	int fd;
	SSL *ssl;
	bool readable;
	bool writable;
	bool read_wants_write; /* TLS: SSL_read returned WANT_WRITE */
	bool write_wants_read; /* TLS: SSL_write returned WANT_READ */
	bool eof;
	bool hup; /* the peer's end of stream was signalled (EPOLLRDHUP/HUP/ERR) */
	bool registered;

	/* io_uring engine (a plaintext socket in relay, net_side_uring.c): received bytes wait
	 * in the receive half of ubuf until the owner takes them; bytes handed to a send are
	 * copied to its send half, which belongs to the kernel until the completion */
	bool uring;
	bool rx_pending; /* a receive is in the kernel */
	bool tx_pending; /* a send is in the kernel */
	bool rx_eof;     /* the last receive found the end of the stream */
	bool tx_failed;
	int rx_error;  /* -errno of a failed receive, 0 if none */
	int ops;       /* operations in the kernel that point at this side */
	uint8_t *ubuf; /* NET_URING_RX + NET_URING_TX bytes */
	uint32_t rx_off, rx_len;
	uint32_t tx_off, tx_len;
	struct net_op rx_op, tx_op;
};

#define NET_URING_RX (16u * 1024u)
#define NET_URING_TX (16u * 1024u)

/* A side without a socket (fd -1) of a loop, reporting to ready(owner). */
void net_side_init(struct net_side *s, struct net_loop *loop, void (*ready)(void *owner),
                   void *owner, uint64_t id);
/* Gives the side its socket, registered with its loop (readiness unknown until an event). */
int net_side_attach(struct net_side *s, int fd) PGS_MUSTCHECK;
/* Closes TLS (a best-effort close_notify) and the socket; ubuf stays until the owner frees it. */
void net_side_close(struct net_side *s);
/* Reads from a side into a buffer: >0 bytes, 0 EOF, -1 would block, -2 error. */
ssize_t net_side_read(struct net_side *s, struct net_stream *b);
/* Writes [start, scan) of a buffer to a side: >0 bytes, -1 would block, -2 error. */
ssize_t net_side_write(struct net_side *s, struct net_stream *b);

/* ---- before and during a TLS handshake ---------------------------------------------- */

/* Writes n bytes on the bare socket (PostgreSQL's SSLRequest or its one-byte answer, before
 * any TLS): PGS_OK when all were written. */
int net_side_send_raw(struct net_side *s, const void *p, size_t n) PGS_MUSTCHECK;
/* Reads exactly one byte from the bare socket (the answer to an SSLRequest: TLS follows it):
 * 1 read, 0 would block (not readable until an event), -1 closed or failed. */
int net_side_recv_byte(struct net_side *s, uint8_t *out) PGS_MUSTCHECK;
/* The next byte without taking it: 1 (in *out), 0 when none has arrived yet, -1 at the end of
 * the stream or on an error. */
int net_side_peek_byte(struct net_side *s, uint8_t *out) PGS_MUSTCHECK;
/* A TLS session of ctx on the side's socket (s->ssl, set even when this fails: closing the
 * side frees it): PGS_ERR when it cannot be set up. */
int net_side_tls_new(struct net_side *s, SSL_CTX *ctx) PGS_MUSTCHECK;
/* One turn of the handshake (SSL_accept when accept, else SSL_connect): 1 done, 0 it waits
 * for the socket (an event brings the next turn), -1 failed (OpenSSL's error queue and the
 * verify result say why). */
int net_side_handshake(struct net_side *s, bool accept) PGS_MUSTCHECK;

/* ---- the side on the io_uring engine (net_side_uring.c) ------------------------ */

/* Moves a plaintext side to its loop's ring (no-op otherwise: TLS, no ring, closed). */
void net_side_uring_enter(struct net_side *s);
/* Hands the side back to epoll: PGS_ERR when it is not clean (bytes or an end were
 * received, a send is unfinished), so it must be closed instead. */
int net_side_uring_leave(struct net_side *s) PGS_MUSTCHECK;
/* Whether leaving would find the side clean, as far as is known without cancelling. */
bool net_side_uring_quiet(const struct net_side *s);
/* net_side_read / net_side_write of a side on the ring. */
ssize_t net_side_uring_read(struct net_side *s, struct net_stream *b);
ssize_t net_side_uring_write(struct net_side *s, struct net_stream *b);
/* Cancels the side's operations before its socket is closed (net_side_close). */
void net_side_uring_close(struct net_side *s);
/* A send of this side is still in the kernel. */
static inline bool net_side_sending(const struct net_side *s)
{
	return s->uring && s->tx_pending;
}

#endif
