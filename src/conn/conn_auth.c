/* conn_auth.c - authentication: relayed as is, or (with an `auth:` block) SCRAM run by pgseal on
 * both hops. */
#include "conn/conn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/log.h"
#include "metrics/metrics.h"

/* Longest authentication message pgseal reads whole during the SCRAM exchanges. */
#define AUTH_MSG_MAX 8192u

/* PgBouncer's method: SCRAM with the client using the stored verifier, then SCRAM with
 * the upstream using the ClientKey recovered from the client's proof. */
struct conn_scram {
	struct auth_verifier verifier;
	struct auth_scram_server server;
	struct auth_scram_client client;
	int client_step;       /* 0: waiting SASLInitialResponse, 1: SASLResponse, 2: done */
	bool upstream_started; /* SASLInitialResponse sent upstream */
};

void conn_auth_free(struct conn *c)
{
	if (!c->scram)
		return;
	auth_verifier_clear(&c->scram->verifier);
	auth_scram_server_clear(&c->scram->server);
	auth_scram_client_clear(&c->scram->client);
	OPENSSL_cleanse(c->scram, sizeof(*c->scram));
	free(c->scram);
	c->scram = NULL;
}

void conn_auth_begin(struct conn *c)
{
	struct conn_env *env = c->env;
	if (env->verifier.submit) {
		if (env->auth_user[0] && strcmp(c->user, env->auth_user) == 0) {
			/* the auth role's own sessions are relayed like without an auth block */
			conn_upstream_start(c);
			return;
		}
		c->state = CS_AUTH_LOOKUP;
		c->lookup_pending = true;
		if (env->verifier.submit(env->verifier.arg, c, c->user) != PGS_OK) {
			c->lookup_pending = false;
			metrics_error(METRICS_ERR_AUTH);
			conn_fail(c, "08006", "pgseal: the authentication service is unavailable");
		}
		return;
	}
	conn_upstream_start(c);
}

static void send_auth(struct conn *c, uint32_t code, const uint8_t *data, size_t len)
{
	struct pgs_buf b = {0};
	size_t off = proto_msg_begin(&b, 'R');
	proto_put_u32(&b, code);
	pgs_buf_append(&b, data, len);
	proto_msg_end(&b, off);
	conn_send_to_client(c, &b);
	OPENSSL_cleanse(b.data, b.len);
	pgs_buf_free(&b);
}

static void send_upstream(struct conn *c, const struct pgs_buf *b)
{
	net_stream_inject(&c->c2s, b->data, (uint32_t)b->len);
}

static void scram_fail(struct conn *c, int status, const char *what)
{
	char msg[256];
	metrics_error(METRICS_ERR_AUTH);
	log_conn(LOG_INFO, c->id, "%s: %s", what, auth_strerror(status));
	if (status == AUTH_ERR_PASSWORD)
		snprintf(msg, sizeof(msg), "password authentication failed for user \"%s\"",
		         c->user);
	else
		snprintf(msg, sizeof(msg), "pgseal: %s: %s", what, auth_strerror(status));
	conn_fail(c, auth_sqlstate(status), msg);
}

void conn_auth_lookup_done(struct conn *c, struct conn_lookup_result *r)
{
	bool failed = r->failed, found = r->found;
	char *verifier = r->verifier;
	int st;
	free(r);
	if (failed) {
		metrics_error(METRICS_ERR_AUTH);
		conn_fail(c, "08006", "pgseal: could not look up the user's credentials upstream");
		goto out;
	}
	c->scram = calloc(1, sizeof(*c->scram));
	if (!c->scram) {
		conn_fail(c, "53200", "pgseal: out of memory");
		goto out;
	}
	uint8_t cb[AUTH_CB_MAX];
	size_t cb_len = 0;
	if (c->client_tls &&
	    auth_cb_server_end_point(SSL_get_certificate(c->client.ssl), cb, &cb_len) != AUTH_OK)
		cb_len = 0; /* a certificate without a usable hash: plain SCRAM only */

	if (verifier && auth_verifier_parse(verifier, &c->scram->verifier) == AUTH_OK) {
		st = auth_scram_server_init(&c->scram->server, &c->scram->verifier,
		                            cb_len ? cb : NULL, cb_len);
	} else if (!found) {
		/* an unknown role: a full-looking exchange that fails, so names cannot be probed */
		st = auth_scram_server_init_mock(&c->scram->server, c->user, cb_len ? cb : NULL,
		                                 cb_len);
	} else {
		/* the role has no SCRAM verifier (md5, none): its authentication is relayed */
		conn_auth_free(c);
		conn_upstream_start(c);
		goto out;
	}
	if (st != AUTH_OK) {
		scram_fail(c, st, "SCRAM setup failed");
		goto out;
	}
	uint8_t mechs[128];
	size_t mlen;
	if (auth_scram_server_mechanisms(&c->scram->server, mechs, sizeof(mechs), &mlen) !=
	    AUTH_OK) {
		scram_fail(c, AUTH_ERR_INTERNAL, "SCRAM setup failed");
		goto out;
	}
	send_auth(c, PROTO_AUTH_SASL, mechs, mlen);
	c->state = CS_CLIENT_SCRAM;
	c->client.readable = true;
	c->drive = true; /* the caller (conn.c) runs the new state */
out:
	if (verifier) {
		OPENSSL_cleanse(verifier, strlen(verifier));
		free(verifier);
	}
}

/*
 * The next whole message at scan in b: 1 with type/body/blen set, 0 when more bytes are
 * needed, -1 when the message is malformed or too long for an authentication exchange.
 */
static int whole_message(struct net_stream *b, uint8_t *type, const uint8_t **body, uint32_t *blen)
{
	if (b->end - b->scan < PROTO_HDR_LEN)
		return 0;
	uint32_t len = pgs_get_u32(b->data + b->scan + 1);
	if (len < 4 || len > AUTH_MSG_MAX)
		return -1;
	if (b->end - b->scan < len + 1) {
		if (net_stream_reserve(b, len + 1) != PGS_OK)
			return -1;
		return 0;
	}
	*type = b->data[b->scan];
	*body = b->data + b->scan + PROTO_HDR_LEN;
	*blen = len - 4;
	return 1;
}

/* Handles one client message of the SCRAM exchange; false when the connection failed. */
static bool client_message(struct conn *c, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct conn_scram *s = c->scram;
	uint8_t out[AUTH_SCRAM_MSG_MAX];
	size_t outlen = 0;
	int st;

	if (type == 'X') {
		conn_close(c, "client terminated during authentication");
		return false;
	}
	if (type != 'p') {
		metrics_error(METRICS_ERR_PROTOCOL);
		conn_fail(c, "08P01", "pgseal: expected a SASL response during authentication");
		return false;
	}
	if (s->client_step == 0) {
		const char *mech;
		const uint8_t *data;
		size_t dlen;
		if (proto_parse_sasl_initial(body, blen, &mech, &data, &dlen) != PGS_OK) {
			scram_fail(c, AUTH_ERR_PROTOCOL, "malformed SASLInitialResponse");
			return false;
		}
		st = auth_scram_server_first(&s->server, mech, data, dlen, out, sizeof(out),
		                             &outlen);
		if (st != AUTH_OK) {
			scram_fail(c, st, "SCRAM authentication of the client failed");
			return false;
		}
		send_auth(c, PROTO_AUTH_SASL_CONTINUE, out, outlen);
		s->client_step = 1;
		return true;
	}
	st = auth_scram_server_final(&s->server, body, blen, out, sizeof(out), &outlen);
	if (st != AUTH_OK) {
		scram_fail(c, st, "SCRAM authentication of the client failed");
		return false;
	}
	send_auth(c, PROTO_AUTH_SASL_FINAL, out, outlen);
	OPENSSL_cleanse(out, sizeof(out));
	s->client_step = 2;
	c->pgseal_authenticated = true;
	log_conn(LOG_INFO, c->id, "client authenticated by pgseal (SCRAM%s)",
	         s->server.cbind_flag == 'p' ? " with channel binding" : "");
	conn_upstream_start(c);
	return !c->closed;
}

void conn_auth_client_step(struct conn *c)
{
	for (;;) {
		uint8_t type;
		const uint8_t *body;
		uint32_t blen;
		int r = whole_message(&c->c2s, &type, &body, &blen);
		if (r < 0) {
			scram_fail(c, AUTH_ERR_PROTOCOL, "bad message during authentication");
			return;
		}
		if (r == 1) {
			uint32_t total = blen + PROTO_HDR_LEN;
			bool ok = client_message(c, type, body, blen);
			if (c->closed)
				return;
			OPENSSL_cleanse(c->c2s.data + c->c2s.scan, total);
			net_stream_consume(&c->c2s, total);
			if (!ok || c->state != CS_CLIENT_SCRAM)
				break;
			continue;
		}
		if (!c->client.readable)
			break;
		ssize_t n = net_side_read(&c->client, &c->c2s);
		if (n == 0 || n == -2) {
			conn_close(c, "client closed during authentication");
			return;
		}
		if (n == -1)
			break;
	}
	if (!c->closed)
		conn_pump(c); /* flush what pgseal wrote to the client */
}

static const char *auth_method_name(uint32_t code)
{
	switch (code) {
	case PROTO_AUTH_CLEARTEXT:
		return "password";
	case PROTO_AUTH_MD5:
		return "md5";
	case PROTO_AUTH_GSS:
		return "GSSAPI";
	case PROTO_AUTH_SSPI:
		return "SSPI";
	default:
		return "an unsupported";
	}
}

/* Handles one upstream message before authentication completed; false when done or failed. */
static bool upstream_message(struct conn *c, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct conn_scram *s = c->scram;
	uint8_t out[AUTH_SCRAM_MSG_MAX];
	size_t outlen = 0;
	uint32_t code;
	const uint8_t *rest;
	size_t rest_len;
	int st;

	if (type == 'E' || type == 'v' || type == 'N') {
		/* errors (bad database, too many connections...) and notices go to the client as
		 * they are */
		struct pgs_buf b = {0};
		if (type != 'E' || conn_upstream_error_rewrite(c, body, blen, &b) != PGS_OK) {
			pgs_buf_reset(&b);
			proto_put_u8(&b, type);
			proto_put_u32(&b, blen + 4);
			pgs_buf_append(&b, body, blen);
		}
		conn_send_to_client(c, &b);
		pgs_buf_free(&b);
		if (type == 'E') {
			metrics_error(METRICS_ERR_SERVER_ERROR);
			conn_fail(c, NULL, NULL);
			return false;
		}
		return true;
	}
	if (type != 'R' || proto_parse_auth(body, blen, &code, &rest, &rest_len) != PGS_OK) {
		conn_fail(
		    c, "08P01",
		    "pgseal: unexpected message from the upstream server during authentication");
		return false;
	}
	switch (code) {
	case PROTO_AUTH_SASL: {
		uint8_t cb[AUTH_CB_MAX];
		size_t cb_len = 0;
		enum auth_cb_policy policy = AUTH_CB_DISABLE;
		if (c->server.ssl) {
			X509 *peer = SSL_get0_peer_certificate(c->server.ssl);
			if (peer && auth_cb_server_end_point(peer, cb, &cb_len) == AUTH_OK)
				policy = AUTH_CB_PREFER;
		}
		const char *mech;
		st = auth_scram_client_init_from_server(&s->client, &s->server, policy,
		                                        cb_len ? cb : NULL, cb_len);
		if (st == AUTH_OK)
			st = auth_scram_client_first(&s->client, rest, rest_len, &mech, out,
			                             sizeof(out), &outlen);
		if (st != AUTH_OK) {
			scram_fail(c, st, "SCRAM authentication to the upstream failed");
			return false;
		}
		struct pgs_buf b = {0};
		size_t off = proto_msg_begin(&b, 'p');
		proto_put_cstr(&b, mech);
		proto_put_u32(&b, (uint32_t)outlen);
		pgs_buf_append(&b, out, outlen);
		proto_msg_end(&b, off);
		send_upstream(c, &b);
		pgs_buf_free(&b);
		s->upstream_started = true;
		return true;
	}
	case PROTO_AUTH_SASL_CONTINUE: {
		st = auth_scram_client_final(&s->client, rest, rest_len, out, sizeof(out), &outlen);
		if (st != AUTH_OK) {
			scram_fail(c, st, "SCRAM authentication to the upstream failed");
			return false;
		}
		struct pgs_buf b = {0};
		size_t off = proto_msg_begin(&b, 'p');
		pgs_buf_append(&b, out, outlen);
		proto_msg_end(&b, off);
		send_upstream(c, &b);
		OPENSSL_cleanse(b.data, b.len);
		OPENSSL_cleanse(out, sizeof(out));
		pgs_buf_free(&b);
		return true;
	}
	case PROTO_AUTH_SASL_FINAL:
		st = auth_scram_client_verify(&s->client, rest, rest_len);
		if (st != AUTH_OK) {
			scram_fail(c, st, "the upstream server failed SCRAM verification");
			return false;
		}
		return true;
	case PROTO_AUTH_OK: {
		if (s->upstream_started && !auth_scram_client_done(&s->client)) {
			/* an AuthenticationOk before the server proved it knows the verifier */
			scram_fail(c, AUTH_ERR_SERVER_SIGNATURE,
			           "the upstream server skipped SCRAM verification");
			return false;
		}
		static const uint8_t ok[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0};
		net_stream_inject(&c->s2c, ok, sizeof(ok));
		c->authenticated = true;
		log_conn(LOG_DEBUG, c->id, "upstream authenticated the session (SCRAM%s)",
		         s->client.cbind_flag == 'p' ? " with channel binding" : "");
		conn_auth_free(c); /* the keys are no longer needed */
		return false;
	}
	default: {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "pgseal: the upstream server asked for %s authentication; with an auth "
		         "block it "
		         "must use SCRAM for this role",
		         auth_method_name(code));
		metrics_error(METRICS_ERR_AUTH);
		conn_fail(c, "28000", msg);
		return false;
	}
	}
}

void conn_auth_upstream_step(struct conn *c)
{
	conn_pump(c); /* flush pgseal's messages both ways */
	if (c->closed || c->state != CS_UPSTREAM_SCRAM)
		return;
	for (;;) {
		uint8_t type;
		const uint8_t *body;
		uint32_t blen;
		int r = whole_message(&c->s2c, &type, &body, &blen);
		if (r < 0) {
			conn_fail(
			    c, "08P01",
			    "pgseal: bad message from the upstream server during authentication");
			return;
		}
		if (r == 1) {
			uint32_t total = blen + PROTO_HDR_LEN;
			uint32_t at = c->s2c.scan;
			bool more = upstream_message(c, type, body, blen);
			if (c->closed || c->state == CS_CLOSING)
				return;
			/* the message was copied or answered: drop it (it sits after anything
			 * injected) */
			uint32_t injected = c->s2c.scan - at;
			c->s2c.scan = at + injected;
			OPENSSL_cleanse(c->s2c.data + c->s2c.scan, total);
			net_stream_consume(&c->s2c, total);
			if (!more && c->authenticated) {
				c->state = CS_RELAY;
				c->client.readable = true;
				c->server.readable = true;
				if (conn_scan_server(c) != PGS_OK)
					return;
				conn_pump(c);
				return;
			}
			conn_pump(c);
			if (c->closed)
				return;
			continue;
		}
		if (!c->server.readable)
			break;
		ssize_t n = net_side_read(&c->server, &c->s2c);
		if (n == 0 || n == -2) {
			metrics_error(METRICS_ERR_UPSTREAM);
			conn_fail(c, "08006",
			          "pgseal: the upstream server closed the connection during "
			          "authentication");
			return;
		}
		if (n == -1)
			break;
	}
	conn_pump(c);
}
