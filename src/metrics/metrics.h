/* metrics.h - process-wide counters and the query-latency histogram, as Prometheus text. */
#ifndef PGSEAL_METRICS_H
#define PGSEAL_METRICS_H

#include "common/common.h"

/* Directions for byte and message counters. */
enum metrics_dir { METRICS_FROM_CLIENT = 0, METRICS_FROM_SERVER = 1 };

/* Error classes counted by metrics_error(). */
enum metrics_error {
	METRICS_ERR_PROTOCOL = 0, /* malformed or oversized client message, bad startup */
	METRICS_ERR_TLS,          /* TLS handshake or I/O failure (either side) */
	METRICS_ERR_AUTH,         /* authentication failure seen or decided by pgseal */
	METRICS_ERR_UPSTREAM,     /* upstream connect / closed mid-session */
	METRICS_ERR_TIMEOUT,      /* startup timeout */
	METRICS_ERR_LIMIT,        /* max_client_connections reached */
	METRICS_ERR_SERVER_ERROR, /* ErrorResponse relayed from the upstream */
	METRICS_ERR__COUNT
};

/* All functions are thread-safe (relaxed atomics) and never fail. */
void metrics_conn_opened(void);   /* a client connection was accepted */
void metrics_conn_closed(void);   /* ... and has ended */
void metrics_conn_rejected(void); /* refused before a session (limit, bad startup) */
void metrics_bytes(enum metrics_dir dir, uint64_t n);
void metrics_message(enum metrics_dir dir, uint8_t type); /* type byte of a v3 message */
void metrics_error(enum metrics_error e);
void metrics_query_latency_us(uint64_t us); /* first client message after idle -> ReadyForQuery */
void metrics_upstream_up(bool up);          /* last readiness probe result */
void metrics_pool_idle(int delta); /* upstream connections entering (+1) / leaving (-1) the pool */
void metrics_pool_reused(void);    /* a session got a pooled upstream connection */

/* The encryption layer. One call per value; cheap (a relaxed atomic add on the thread's
 * shard). */
enum metrics_value {
	METRICS_VALUE_ENCRYPTED = 0,  /* a record made for an encrypted column */
	METRICS_VALUE_SEARCH,         /* a blind index computed for a searchable comparison */
	METRICS_VALUE_DECRYPTED,      /* a record decrypted for a client */
	METRICS_VALUE_DECRYPT_FAILED, /* a stored value that did not decrypt (response_on_fail
	                                 applied) */
	METRICS_VALUE__COUNT
};
void metrics_value(enum metrics_value v);
/* A statement or message refused by pgseal (sent to the server as its DO block): the SQLSTATE,
 * 0A000 for what pgseal cannot map with certainty, 22P02 for invalid input... */
void metrics_refusal(const char *sqlstate);
/* Time spent in the encryption layer for one client or server message. */
void metrics_crypt_layer_ns(uint64_t ns);
uint64_t metrics_clock_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
/* r = METRICS_CRYPT_TIMED(crypt_client_message(...)): times one call of the layer. */
#define METRICS_CRYPT_TIMED(call)                                                                  \
	({                                                                                         \
		uint64_t metrics_t0_ = metrics_clock_ns();                                         \
		__typeof__(call) metrics_r_ = (call);                                              \
		metrics_crypt_layer_ns(metrics_clock_ns() - metrics_t0_);                          \
		metrics_r_;                                                                        \
	})
/* A SIGHUP reload of the encryption config, applied or refused. */
void metrics_reload(bool ok);
/* Key escrow (docs/keys.md, Escrow): whether keys.escrow allows it, and how many escrows the
 * keystore's escrow log records (read at boot: escrows are made by `pgseal keys escrow`). */
void metrics_key_escrow(bool allowed, uint64_t recorded);

/* Renders everything in Prometheus text exposition format 0.0.4 into a malloc'd string. */
char *metrics_render(void);

#endif
