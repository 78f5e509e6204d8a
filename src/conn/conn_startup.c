/* conn_startup.c - the client's first packets: SSLRequest, GSSENCRequest, CancelRequest,
 * StartupMessage, TLS accept. */
#include "conn/conn_internal.h"

#include <string.h>

#include "common/log.h"
#include "metrics/metrics.h"

static void startup_fail(struct conn *c, const char *sqlstate, const char *msg)
{
	metrics_error(METRICS_ERR_PROTOCOL);
	conn_fail(c, sqlstate, msg);
}

/* One byte answer to SSLRequest / GSSENCRequest, written before any TLS. */
static int answer_byte(struct conn *c, char b)
{
	return net_side_send_raw(&c->client, &b, 1);
}

static void tls_accept_step(struct conn *c)
{
	char eb[256];
	int r = net_side_handshake(&c->client, true);
	if (r == 1) {
		if (c->direct_tls && !net_tls_alpn_postgresql(c->client.ssl)) {
			/* as PostgreSQL 17: direct TLS without ALPN could be another protocol's
			 * client talking to the wrong port */
			startup_fail(c, "08P01",
			             "received direct SSL connection request without ALPN protocol "
			             "negotiation extension");
			return;
		}
		c->client_tls = true;
		if (c->env->cfg->client_tls.ca_file) {
			if (net_tls_peer_id(c->client.ssl, &c->peer) == PGS_OK) {
				c->has_peer = true;
				log_conn(LOG_INFO, c->id,
				         "client certificate: subject \"%s\" sha256 %s",
				         c->peer.subject, c->peer.fingerprint);
			}
		}
		c->state = CS_CLIENT_STARTUP;
		c->client.readable = true; /* the TLS layer may hold the next packet already */
		conn_startup_step(c);
		return;
	}
	if (r == 0)
		return;
	metrics_error(METRICS_ERR_TLS);
	log_conn(LOG_INFO, c->id, "client TLS handshake failed: %s", net_tls_error(eb, sizeof(eb)));
	conn_close(c, "client TLS handshake failed");
}

static void handle_startup_message(struct conn *c, const struct proto_startup *st)
{
	const struct config *cfg = c->env->cfg;
	const char *user = proto_startup_get(st, "user");
	const char *db = proto_startup_get(st, "database");

	if (cfg->client_tls.enabled && cfg->client_tls.require && !c->client_tls) {
		metrics_error(METRICS_ERR_AUTH);
		conn_fail(c, "28000",
		          "pgseal requires TLS: connect with sslmode=require or stronger");
		return;
	}
	if (strlen(user) >= sizeof(c->user) || (db && strlen(db) >= sizeof(c->database))) {
		startup_fail(c, "08P01", "user or database name too long");
		return;
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->database, sizeof(c->database), "%s", db && *db ? db : user);
	log_conn(LOG_INFO, c->id, "startup: user \"%s\" database \"%s\"%s", c->user, c->database,
	         c->client_tls ? " (tls)" : "");
	conn_auth_begin(c);
}

/* Parses the next startup packet if it is complete. Returns true when it consumed one. */
static bool startup_packet(struct conn *c)
{
	struct net_stream *b = &c->c2s;
	uint32_t avail = b->end - b->scan;
	if (avail < 4)
		return false;
	uint32_t len = pgs_get_u32(b->data + b->scan);
	if (len < 8 || len > PROTO_MAX_STARTUP) {
		/* PostgreSQL only logs this (COMMERROR) and closes without a word: a client that
		 * sends Terminate before its startup packet (node-postgres' connect() then end())
		 * reads 'X' 0 0 0 4 as a length, and takes an error for a failed connect */
		metrics_error(METRICS_ERR_PROTOCOL);
		log_conn(LOG_INFO, c->id, "invalid length %u of a startup packet: closed", len);
		conn_close(c, "invalid startup packet length");
		return false;
	}
	if (avail < len)
		return false;

	struct proto_startup st;
	if (proto_parse_startup(b->data + b->scan, len, &st) != PGS_OK) {
		startup_fail(c, "08P01", "invalid startup packet layout");
		return false;
	}
	c->first_seen = true;
	switch (st.code) {
	case PROTO_SSL_CODE:
		net_stream_consume(b, len);
		if (c->client_tls || c->ssl_answered) {
			/* PostgreSQL allows one SSLRequest per connection */
			startup_fail(c, "08P01", "pgseal: duplicate SSLRequest");
			return false;
		}
		c->ssl_answered = true;
		/* bytes after SSLRequest, before the handshake, would be unencrypted data that a
		 * man in the middle could have injected (CVE-2021-23222-style) */
		if (b->end != b->scan) {
			startup_fail(c, "08P01", "received unencrypted data after SSL request");
			return false;
		}
		if (!c->env->client_tls) {
			if (answer_byte(c, 'N') != PGS_OK)
				conn_close(c, "client write failed");
			return !c->closed;
		}
		if (answer_byte(c, 'S') != PGS_OK) {
			conn_close(c, "client write failed");
			return false;
		}
		if (net_side_tls_new(&c->client, c->env->client_tls) != PGS_OK) {
			conn_close(c, "cannot create TLS session");
			return false;
		}
		c->state = CS_CLIENT_TLS;
		tls_accept_step(c);
		return false;
	case PROTO_GSSENC_CODE:
		net_stream_consume(b, len);
		if (answer_byte(c, 'N') != PGS_OK) {
			conn_close(c, "client write failed");
			return false;
		}
		return true;
	case PROTO_CANCEL_CODE:
		net_stream_consume(b, len);
		conn_cancel_forward(c, st.cancel_pid, st.cancel_key);
		return false;
	default:
		/* keep our own copy (relayed upstream later), then parse that copy */
		pgs_buf_reset(&c->startup);
		pgs_buf_append(&c->startup, b->data + b->scan, len);
		net_stream_consume(b, len);
		if (proto_parse_startup(c->startup.data, len, &st) != PGS_OK) {
			startup_fail(c, "08P01", "invalid startup packet layout");
			return false;
		}
		handle_startup_message(c, &st);
		return false;
	}
}

/*
 * Direct TLS (libpq 17's sslnegotiation=direct): the client's very first bytes are a TLS
 * ClientHello (record type 0x16), with no SSLRequest before it, so that a TLS router such as
 * dstack-gateway can read its SNI and pass the connection through to pgseal. A startup packet
 * cannot begin with 0x16 (its length would exceed the 10,000-byte limit). Peeked, not read:
 * the handshake reads the ClientHello itself. 1: the handshake started (or the session
 * ended), 0: not direct TLS, or nothing has arrived yet.
 */
static int direct_tls_start(struct conn *c)
{
	uint8_t first;
	if (c->first_seen || c->ssl_answered || !c->env->client_tls || c->c2s.end != c->c2s.scan)
		return 0;
	int r = net_side_peek_byte(&c->client, &first);
	if (r != 1 || first != 0x16)
		return 0;
	c->first_seen = c->direct_tls = c->ssl_answered = true;
	if (net_side_tls_new(&c->client, c->env->client_tls) != PGS_OK) {
		conn_close(c, "cannot create TLS session");
		return 1;
	}
	c->state = CS_CLIENT_TLS;
	tls_accept_step(c);
	return 1;
}

void conn_startup_step(struct conn *c)
{
	if (c->state == CS_CLIENT_TLS) {
		tls_accept_step(c);
		return;
	}
	if (direct_tls_start(c))
		return;
	for (;;) {
		if (c->closed || c->state != CS_CLIENT_STARTUP)
			return;
		if (startup_packet(c))
			continue;
		if (c->closed || c->state != CS_CLIENT_STARTUP)
			return;
		if (!c->client.readable)
			return;
		ssize_t n = net_side_read(&c->client, &c->c2s);
		if (n == 0 || n == -2) {
			conn_close(c,
			           n == 0 ? "client closed during startup" : "client read failed");
			return;
		}
		if (n == -1)
			return;
	}
}
