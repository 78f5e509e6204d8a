/* conn_upstream.c - opening the upstream side: TCP connect, SSLRequest, TLS with verification,
 * StartupMessage. */
#include "conn/conn_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "metrics/metrics.h"

static void upstream_fail(struct conn *c, const char *msg)
{
	metrics_error(METRICS_ERR_UPSTREAM);
	conn_fail(c, "08001", msg);
}

/* The same with the reason of a failed connect (errno's text: no address, no value). */
static void upstream_connect_fail(struct conn *c, int e)
{
	char msg[200];
	snprintf(msg, sizeof(msg), "pgseal: could not connect to the upstream server: %s",
	         strerror(e));
	upstream_fail(c, msg);
}

/*
 * An ErrorResponse of the upstream before the session is authenticated refuses the
 * pgseal->PostgreSQL hop (a pg_hba rule for pgseal's address, pgseal's own SCRAM login, a
 * missing database, too many connections): relayed as it is, the client would read it as
 * about its own connection to pgseal. Its message gets a prefix naming the hop; SQLSTATE,
 * detail and hint stay. With credentials the client gave relayed (no `auth:` block), the
 * prefix says so. PGS_ERR: a malformed message.
 */
int conn_upstream_error_rewrite(struct conn *c, const uint8_t *body, uint32_t blen,
                                struct pgs_buf *out)
{
	const char *prefix = c->upstream_challenged && !c->scram
	                         ? "pgseal: the upstream server refused the credentials relayed "
	                           "from the client: "
	                         : "pgseal: the upstream server refused pgseal's connection: ";
	size_t off = proto_msg_begin(out, 'E');
	uint32_t i = 0;
	while (i < blen && body[i]) {
		uint8_t field = body[i++];
		const uint8_t *nul = memchr(body + i, 0, blen - i);
		if (!nul)
			return PGS_ERR;
		proto_put_u8(out, field);
		if (field == 'M')
			pgs_buf_append(out, prefix, strlen(prefix));
		pgs_buf_append(out, body + i, (size_t)(nul - (body + i)) + 1);
		i = (uint32_t)(nul - body) + 1;
	}
	if (i >= blen)
		return PGS_ERR;
	proto_put_u8(out, 0);
	proto_msg_end(out, off);
	return PGS_OK;
}

void conn_upstream_start(struct conn *c)
{
	if (!conn_pool_take(c))
		conn_upstream_connect(c);
}

void conn_upstream_connect(struct conn *c)
{
	const struct config *cfg = c->env->cfg;
	int fd = net_connect_start(&c->env->upstream_addr);
	if (fd < 0) {
		int e = errno;
		log_conn(LOG_WARN, c->id, "upstream connect failed: %s", strerror(e));
		upstream_connect_fail(c, e);
		return;
	}
	if (net_side_attach(&c->server, fd) != PGS_OK) {
		close(fd);
		upstream_fail(c, "pgseal: could not register the upstream socket");
		return;
	}
	uint64_t limit = pgs_now_us() + (uint64_t)cfg->upstream.connect_timeout_ms * 1000u;
	if (!c->deadline_us || limit < c->deadline_us)
		c->deadline_us = limit;
	c->state = CS_UPSTREAM_CONNECT;
}

/* The upstream is ready for the StartupMessage. */
static void upstream_ready(struct conn *c)
{
	/* back to the client's startup deadline, which covers authentication */
	c->deadline_us = pgs_now_us() + (uint64_t)c->env->cfg->startup_timeout_ms * 1000u;
	net_stream_inject(&c->c2s, c->startup.data, (uint32_t)c->startup.len);
	if (c->scram) {
		c->upstream_challenged = true; /* pgseal answers the upstream's SCRAM itself */
		c->state = CS_UPSTREAM_SCRAM;
		c->server.readable = true;
	} else {
		c->state = CS_RELAY;
		c->client.readable = true;
		c->server.readable = true;
	}
	c->server.writable = true;
	c->drive = true; /* the dispatch (conn.c) runs the new state next */
}

static void tls_connect_step(struct conn *c)
{
	char eb[256];
	int r = net_side_handshake(&c->server, false);
	if (r == 1) {
		log_conn(LOG_DEBUG, c->id, "upstream TLS established (%s)",
		         SSL_get_version(c->server.ssl));
		upstream_ready(c);
		return;
	}
	if (r == 0)
		return;
	long vr = SSL_get_verify_result(c->server.ssl);
	metrics_error(METRICS_ERR_TLS);
	if (vr != X509_V_OK)
		log_conn(LOG_WARN, c->id, "upstream certificate verification failed: %s",
		         X509_verify_cert_error_string(vr));
	else
		log_conn(LOG_WARN, c->id, "upstream TLS handshake failed: %s",
		         net_tls_error(eb, sizeof(eb)));
	char msg[300];
	if (vr != X509_V_OK)
		snprintf(
		    msg, sizeof(msg),
		    "pgseal: the upstream server's certificate failed verification (upstream.tls "
		    "%s): %s",
		    config_tls_mode_name(c->env->cfg->upstream.tls),
		    X509_verify_cert_error_string(vr));
	else
		snprintf(msg, sizeof(msg),
		         "pgseal: the TLS handshake with the upstream server failed");
	upstream_fail(c, msg);
}

void conn_upstream_step(struct conn *c)
{
	switch (c->state) {
	case CS_UPSTREAM_CONNECT: {
		if (!c->server.writable && !c->server.readable)
			return;
		int e = net_connect_result(c->server.fd);
		if (e == EINPROGRESS || e == EALREADY)
			return;
		if (e != 0) {
			log_conn(LOG_WARN, c->id, "upstream connect failed: %s", strerror(e));
			upstream_connect_fail(c, e);
			return;
		}
		if (!c->env->upstream_tls) {
			upstream_ready(c);
			return;
		}
		uint8_t req[8];
		pgs_put_u32(req, 8);
		pgs_put_u32(req + 4, PROTO_SSL_CODE);
		if (net_side_send_raw(&c->server, req, sizeof(req)) != PGS_OK) {
			upstream_fail(c, "pgseal: could not write to the upstream server");
			return;
		}
		c->state = CS_UPSTREAM_SSLREQ;
		c->server.readable = true;
	}
		/* fall through */
	case CS_UPSTREAM_SSLREQ: {
		uint8_t answer;
		int n = net_side_recv_byte(&c->server, &answer);
		if (n == 0)
			return;
		if (n < 0) {
			upstream_fail(c, "pgseal: the upstream server closed the connection during "
			                 "TLS negotiation");
			return;
		}
		if (answer != 'S') {
			/* never fall back to plaintext: that is the downgrade TLS is there to stop
			 */
			log_conn(LOG_WARN, c->id, "upstream refused TLS (answered '%c')",
			         answer >= 32 && answer < 127 ? answer : '?');
			upstream_fail(c, "pgseal: the upstream server does not accept TLS, and "
			                 "upstream.tls requires it");
			return;
		}
		if (net_side_tls_new(&c->server, c->env->upstream_tls) != PGS_OK ||
		    net_tls_client_prepare(c->server.ssl, &c->env->cfg->upstream) != PGS_OK) {
			upstream_fail(c, "pgseal: could not set up upstream TLS");
			return;
		}
		c->state = CS_UPSTREAM_TLS;
	}
		/* fall through */
	case CS_UPSTREAM_TLS:
		tls_connect_step(c);
		return;
	default:
		return;
	}
}
