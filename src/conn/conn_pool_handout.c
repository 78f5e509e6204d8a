/* conn_pool_handout.c - CS_POOL_CHECK: a pooled upstream taken by a session (conn_pool_take) is
 * checked (are its role's settings current?), then handed to the session as a new one would be,
 * or closed and replaced by a new upstream connection. */
#include "conn/conn_internal.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "metrics/metrics.h"

static void inject_status(struct net_stream *b, const char *name, const char *value)
{
	struct pgs_buf m = {0};
	size_t off = proto_msg_begin(&m, 'S');
	pgs_buf_append(&m, name, strlen(name) + 1);
	pgs_buf_append(&m, value, strlen(value) + 1);
	proto_msg_end(&m, off);
	net_stream_inject(b, m.data, (uint32_t)m.len);
	pgs_buf_free(&m);
}

/* The check passed: the client gets the connection. */
static void pool_hand_out(struct conn *c)
{
	uint32_t client_key;
	if (RAND_bytes((unsigned char *)&client_key, sizeof(client_key)) != 1) {
		conn_fail(c, "58000", "pgseal: no random cancel key");
		return;
	}
	metrics_pool_reused();
	c->authenticated = true;
	c->client_key = client_key;
	c->has_backend_key = true;
	conn_cancel_register(c);
	conn_auth_free(c); /* the ClientKey is not needed: no upstream authentication */
	log_conn(LOG_INFO, c->id, "upstream connection reused (backend %u)", c->backend_pid);

	/* what a new session would have told the client: AuthenticationOk, the parameters,
	 * the cancel key (a fresh one: the previous client's no longer reaches this backend) */
	static const uint8_t ok[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0};
	net_stream_inject(&c->s2c, ok, sizeof(ok));
	for (int i = 0; i < c->params.n; i++)
		inject_status(&c->s2c, c->params.names[i], c->params.values[i]);
	uint8_t k[13] = {'K', 0, 0, 0, 12};
	pgs_put_u32(k + 5, c->backend_pid);
	pgs_put_u32(k + 9, client_key);
	net_stream_inject(&c->s2c, k, sizeof(k));
	/* ReadyForQuery goes through the scanner as if the server had sent it: it
	 * establishes the session, and the encryption layer loads its catalog first */
	static const uint8_t z[] = {'Z', 0, 0, 0, 5, 'I'};
	if (net_stream_reserve(&c->s2c, sizeof(z)) != PGS_OK) {
		conn_fail(c, "53200", "pgseal: out of memory");
		return;
	}
	memcpy(c->s2c.data + c->s2c.end, z, sizeof(z));
	c->s2c.end += sizeof(z);
	c->state = CS_RELAY;
	c->client.readable = true;
	if (conn_scan_server(c) != PGS_OK)
		return;
	conn_pump(c);
}

/* The check failed: this backend is closed, and the session opens a new one. */
static void pool_check_failed(struct conn *c, const char *why)
{
	log_conn(LOG_INFO, c->id, "pooled upstream connection (backend %u) not reused: %s",
	         c->backend_pid, why);
	net_stream_free(&c->pool_check);
	free(c->pool_fingerprint);
	c->pool_fingerprint = NULL;
	net_side_close(&c->server);
	conn_params_free(&c->params);
	c->reused = false;
	c->upstream_challenged = false;
	c->backend_pid = c->backend_key = 0;
	conn_upstream_connect(c);
}

void conn_pool_check_step(struct conn *c)
{
	struct net_stream *b = &c->pool_check;
	for (;;) {
		if (b->scan > b->start) {
			/* the query is not all sent yet */
			if (!c->server.writable)
				return;
			ssize_t n = net_side_write(&c->server, b);
			if (n == -2) {
				pool_check_failed(c, "write failed");
				return;
			}
			if (n == -1)
				return;
			continue;
		}
		int st = conn_pool_check_answer(b->data + b->scan, b->end - b->scan, &c->params,
		                                c->pool_fingerprint ? c->pool_fingerprint : "");
		if (st == 1) {
			net_stream_free(b);
			pool_hand_out(c); /* the fingerprint stays: the next reset rechecks it */
			return;
		}
		if (st < 0) {
			pool_check_failed(
			    c, st == -2
			           ? "its role or database settings changed while it was pooled"
			           : "the settings check failed");
			return;
		}
		if (!c->server.readable)
			return;
		if (net_stream_space(b) == 0) {
			pool_check_failed(c, "the settings check answered too much");
			return;
		}
		ssize_t n = net_side_read(&c->server, b);
		if (n == 0 || n == -2) {
			pool_check_failed(c, "closed by the server");
			return;
		}
		if (n == -1)
			return;
	}
}
