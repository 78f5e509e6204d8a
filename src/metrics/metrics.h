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

/* Key escrow (docs/keys.md, Escrow): whether keys.escrow allows it, and how many escrows the
 * keystore's escrow log records (read at boot: escrows are made by `pgseal keys escrow`). */
void metrics_key_escrow(bool allowed, uint64_t recorded);

/* Renders everything in Prometheus text exposition format 0.0.4 into a malloc'd string. */
char *metrics_render(void);

#endif
