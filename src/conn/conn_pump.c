/* conn_pump.c - the relay pump: moves bytes both ways between the two sides of a session, with
 * backpressure, and runs the scanners on what arrives. */
#include "conn/conn_internal.h"

#include "metrics/metrics.h"

/* Moves bytes until neither direction makes progress (or a budget is spent). */
void conn_pump(struct conn *c)
{
	int rounds = 64; /* fairness: other connections of this worker get a turn */
	bool progress = true;
	if (c->state == CS_RELAY) {
		net_side_uring_enter(&c->client);
		net_side_uring_enter(&c->server);
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
			n = net_side_write(&c->client, &c->s2c);
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
		    (net_stream_space(&c->s2c) > 0 || c->s2c.start > 0)) {
			n = net_side_read(&c->server, &c->s2c);
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
			n = net_side_write(&c->server, &c->c2s);
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
		    (net_stream_space(&c->c2s) > 0 || c->c2s.start > 0)) {
			n = net_side_read(&c->client, &c->c2s);
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
					(void)net_side_write(&c->server, &c->c2s);
				conn_close(c, n == 0 ? "client closed" : "client read failed");
				return;
			}
		}
	}
}
