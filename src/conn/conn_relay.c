/* conn_relay.c - the message scanners of the relay: frame, validate and count messages; inspect the
 * few pgseal needs. */
#include "conn/conn_internal.h"

#include <string.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "metrics/metrics.h"
#include "schema/schema.h"

/* Replaces the whole message at scan (old_len bytes) by new bytes, and passes over them. */
static void stream_replace(struct net_stream *b, uint32_t old_len, const uint8_t *p, uint32_t n)
{
	net_stream_consume(b, old_len);
	net_stream_inject(b, p, n);
}

/* Passes over what has arrived of the current message's body: it streams through. */
static void pass_body(struct net_stream *b)
{
	uint32_t n = b->end - b->scan;
	if (n > b->remain)
		n = b->remain;
	b->scan += n;
	b->remain -= n;
}

/* ---- the encryption layer's actions (src/fle/fle.h) ------------------------------------ */

static const char *session_param(void *arg, const char *name)
{
	const struct conn *c = arg;
	return conn_params_get(&c->params, name);
}

/* The encryption layer starts watching the session (its first ReadyForQuery). */
static void fle_start(struct conn *c)
{
	char client_id[65] = "";
	if (c->client.ssl && c->has_peer) {
		X509 *cert = SSL_get0_peer_certificate(c->client.ssl);
		if (cert && keys_client_id_x509(cert, client_id) != PGS_OK)
			client_id[0] = 0;
	}
	struct fle_config cfg = {
	    .conn_id = c->id,
	    .schema = c->schema,
	    .kw = c->worker->kw,
	    .plans = c->worker->plans,
	    .max_message_size = c->env->cfg->max_message_size,
	    .client_id = client_id,
	    .param = session_param,
	    .param_arg = c,
	};
	c->fle = fle_new(&cfg);
}

/* The layer answered FLE_FAIL: the session ends with its error. */
static int fle_failed(struct conn *c)
{
	conn_fail(c, c->fle_act.sqlstate, c->fle_act.message);
	fle_action_reset(&c->fle_act);
	return PGS_ERR;
}

/*
 * Carries out the layer's action on the whole message at b->scan (total bytes; other: the
 * other direction's buffer). The buffer work of the layer is all here: a message passed with
 * nothing ahead of it costs no copy. *ready: the status of a ReadyForQuery the action released
 * (0: none). Returns PGS_ERR after failing the session.
 */
static int fle_apply(struct conn *c, struct net_stream *b, uint32_t total, struct net_stream *other,
                     uint8_t *ready)
{
	struct fle_action *act = &c->fle_act;
	*ready = act->ready;
	switch (act->verdict) {
	case FLE_PASS:
		if (act->fwd.len)
			net_stream_inject(b, act->fwd.data, (uint32_t)act->fwd.len);
		b->scan += total;
		break;
	case FLE_REPLACE:
		/* the message may hold plaintext (a Bind's values, COPY rows): wiped as it goes */
		crypto_wipe(b->data + b->scan, total);
		net_stream_consume(b, total);
		if (act->fwd.len)
			net_stream_inject(b, act->fwd.data, (uint32_t)act->fwd.len);
		break;
	case FLE_HOLD:
		/* only a client message may wait, and the client's scanner stops for it before
		 * this: anything else would scan the same message forever */
		fle_action_reset(act);
		conn_fail(c, "XX000", "pgseal: internal error in the encryption layer");
		return PGS_ERR;
	case FLE_FAIL:
		return fle_failed(c);
	}
	if (act->back.len) {
		if (other->remain) {
			/* a message of the other side is streaming: nothing can go between its
			 * bytes (a CopyFail pgseal must send); close */
			fle_action_reset(act);
			conn_fail(c, "08P01", "pgseal: a COPY could not be ended safely");
			return PGS_ERR;
		}
		net_stream_inject(other, act->back.data, (uint32_t)act->back.len);
	}
	/* what the action carried (plaintext rows, records) does not wait for the next message */
	fle_action_reset(act);
	return PGS_OK;
}

/* A reload (SIGHUP) installed another encryption schema since this session last looked. A
 * session keeps the schema it started with; when the new one encrypts anything differently
 * (a table added, say), this session would send that table's values as they are: it ends
 * here, before the message it is about to relay (fail closed; drivers reconnect). */
static int schema_reloaded(struct conn *c, uint64_t gen)
{
	struct schema *now = schema_current_get(c->env->schemas);
	bool same = schema_same_encryption(c->schema, now);
	schema_unref(now);
	c->schema_seen = gen;
	if (same)
		return PGS_OK;
	log_conn(LOG_INFO, c->id,
	         "the encryption config was reloaded: session opened before it ended");
	conn_fail(c, "57P01",
	          "pgseal: the encryption config changed (reload); this session was opened before "
	          "it and must reconnect");
	return PGS_ERR;
}

/* Counts a client message; the first after ReadyForQuery starts the latency clock. */
static void client_message_seen(struct conn *c, uint8_t type)
{
	metrics_message(METRICS_FROM_CLIENT, type);
	if (c->idle) {
		c->idle = false;
		c->query_start_us = pgs_now_us();
	}
	c->c2s.last_type = type;
}

int conn_scan_client(struct conn *c)
{
	struct net_stream *b = &c->c2s;
	uint32_t max = c->env->cfg->max_message_size;
	bool crypt = c->fle != NULL;

	while (b->scan < b->end) {
		if (b->remain) {
			pass_body(b);
			continue;
		}
		if (b->end - b->scan < PROTO_HDR_LEN)
			break;
		uint8_t type = b->data[b->scan];
		uint32_t len = pgs_get_u32(b->data + b->scan + 1);
		if (!proto_is_frontend_type(type)) {
			metrics_error(METRICS_ERR_PROTOCOL);
			log_conn(LOG_INFO, c->id, "invalid frontend message type 0x%02x", type);
			conn_fail(c, "08P01", "pgseal: invalid frontend message type");
			return PGS_ERR;
		}
		if (proto_check_header(type, len, max) != PGS_OK) {
			metrics_error(METRICS_ERR_PROTOCOL);
			log_conn(LOG_INFO, c->id, "invalid length %u for a %s message", len,
			         proto_type_name(type, true));
			conn_fail(c, "08P01", "pgseal: invalid message length");
			return PGS_ERR;
		}
		uint64_t gen = schema_current_generation(c->env->schemas);
		if (gen != c->schema_seen && type != 'X' && schema_reloaded(c, gen) != PGS_OK)
			return PGS_ERR;
		if (!crypt && type != 'p' && type != 'X' && fle_schema_enabled(c->schema)) {
			/* before the session's first ReadyForQuery the encryption layer does not
			 * watch yet: a statement sent that early would pass unanalysed (no driver
			 * sends one; the protocol says to wait) */
			metrics_error(METRICS_ERR_PROTOCOL);
			log_conn(LOG_INFO, c->id, "%s message before the session was ready",
			         proto_type_name(type, true));
			conn_fail(c, "08P01", "pgseal: message sent before the session was ready");
			return PGS_ERR;
		}
		if (type == 'X') {
			if (len == 4 && b->end - b->scan >= 5 && conn_pool_can_release(c)) {
				/* the session ends but its upstream connection is kept for the next
				 * client */
				net_stream_consume(b, 5);
				conn_pool_release(c);
				conn_close(c, "client terminated (upstream connection pooled)");
				return PGS_ERR;
			}
			c->terminating =
			    true; /* the upstream closing next is expected, not an error */
		}
		if (crypt && fle_client_wants(c->fle, type)) {
			/* the encryption layer sees Query/Parse/Bind/... whole before they go on */
			if (b->end - b->scan < len + 1) {
				if (net_stream_reserve(b, len + 1) != PGS_OK) {
					conn_fail(c, "53200", "pgseal: out of memory");
					return PGS_ERR;
				}
				break;
			}
			client_message_seen(c, type);
			struct fle_action *act = &c->fle_act;
			uint8_t ready;
			if (METRICS_CRYPT_TIMED(fle_client_message(
			        c->fle, type, b->data + b->scan + PROTO_HDR_LEN, len - 4, act)) !=
			    PGS_OK)
				return fle_failed(c);
			if (act->verdict == FLE_HOLD) {
				fle_action_reset(act);
				break; /* a COPY message waits for the server (rescanned then) */
			}
			if (fle_apply(c, b, len + 1, &c->s2c, &ready) != PGS_OK)
				return PGS_ERR;
			if (c->closed || c->state != CS_RELAY)
				return PGS_ERR;
			continue;
		}
		client_message_seen(c, type);
		/* everything else streams through as it arrives */
		b->remain = len + 1;
	}
	return PGS_OK;
}

static void on_ready_for_query(struct conn *c, const uint8_t *body, uint32_t blen)
{
	uint64_t now = pgs_now_us();
	if (!c->ready_seen) {
		c->ready_seen = true;
		c->deadline_us = 0;
		log_conn(LOG_INFO, c->id, "session established");
	} else if (!c->idle) {
		metrics_query_latency_us(now - c->query_start_us);
	}
	c->idle = true;
	c->txn_status = blen == 1 ? body[0] : 'I';
}

/* Names the hop in an upstream ErrorResponse before authentication (conn_upstream.c). */
static int upstream_refusal(struct conn *c, const uint8_t *body, uint32_t blen, uint32_t len)
{
	struct pgs_buf nb = {0};
	int r = PGS_OK; /* a malformed message passes as it is, the client's libpq judges it */
	if (conn_upstream_error_rewrite(c, body, blen, &nb) == PGS_OK) {
		stream_replace(&c->s2c, len + 1, nb.data, (uint32_t)nb.len);
		r = 1; /* replaced and passed over */
	}
	pgs_buf_free(&nb);
	return r;
}

static int on_authentication(struct conn *c, const uint8_t *body, uint32_t blen, uint32_t len)
{
	struct net_stream *b = &c->s2c;
	uint32_t code;
	const uint8_t *rest;
	size_t rest_len;

	if (proto_parse_auth(body, blen, &code, &rest, &rest_len) != PGS_OK) {
		conn_fail(c, "08P01",
		          "pgseal: malformed authentication message from the upstream server");
		return PGS_ERR;
	}
	if (code != PROTO_AUTH_OK)
		c->upstream_challenged = true;
	if (code == PROTO_AUTH_OK) {
		c->authenticated = true;
	} else if (code == PROTO_AUTH_SASL &&
	           proto_sasl_offers(rest, rest_len, "SCRAM-SHA-256-PLUS")) {
		/* channel binding cannot cross a proxy that terminates TLS: offer plain SCRAM */
		struct pgs_buf nb = {0};
		if (proto_sasl_drop_mechanism(body, blen, "SCRAM-SHA-256-PLUS", &nb) != PGS_OK) {
			pgs_buf_free(&nb);
			conn_fail(c, "08P01",
			          "pgseal: malformed SASL mechanism list from the upstream server");
			return PGS_ERR;
		}
		stream_replace(b, len + 1, nb.data, (uint32_t)nb.len);
		pgs_buf_free(&nb);
		return 1; /* replaced and passed over */
	}
	return PGS_OK;
}

int conn_scan_server(struct conn *c)
{
	struct net_stream *b = &c->s2c;
	uint32_t max = c->env->cfg->max_message_size;

	while (b->scan < b->end) {
		if (b->remain) {
			pass_body(b);
			continue;
		}
		if (b->end - b->scan < PROTO_HDR_LEN)
			break;
		uint8_t type = b->data[b->scan];
		uint32_t len = pgs_get_u32(b->data + b->scan + 1);
		if (proto_check_header(type, len, max) != PGS_OK) {
			metrics_error(METRICS_ERR_UPSTREAM);
			log_conn(LOG_WARN, c->id, "invalid length %u from the upstream server",
			         len);
			conn_fail(c, "08P01", "pgseal: invalid message from the upstream server");
			return PGS_ERR;
		}
		bool crypt = c->fle && fle_server_wants(c->fle, type);
		bool inspect = (type == 'R' && !c->authenticated) || type == 'K' || type == 'Z' ||
		               type == 'S' || (type == 'E' && len + 1 <= CONN_MAX_INSPECT);
		if (crypt) {
			if (b->end - b->scan < len + 1) {
				if (net_stream_reserve(b, len + 1) != PGS_OK) {
					conn_fail(c, "53200", "pgseal: out of memory");
					return PGS_ERR;
				}
				break;
			}
			if (type == 'Z' && len == 5)
				c->txn_status = b->data[b->scan + PROTO_HDR_LEN];
			if (type == 'S')
				conn_params_set(&c->params, b->data + b->scan + PROTO_HDR_LEN,
				                len - 4);
			metrics_message(METRICS_FROM_SERVER, type);
			b->last_type = type;
			struct fle_action *act = &c->fle_act;
			uint8_t ready;
			if (METRICS_CRYPT_TIMED(fle_server_message(
			        c->fle, type, b->data + b->scan + PROTO_HDR_LEN, len - 4, act)) !=
			    PGS_OK)
				return fle_failed(c);
			bool passed = act->verdict == FLE_PASS;
			if (fle_apply(c, b, len + 1, &c->c2s, &ready) != PGS_OK || c->closed ||
			    c->state != CS_RELAY)
				return PGS_ERR;
			if (ready) {
				/* a held ReadyForQuery (the first, or one after a view's
				 * definition), released once the catalog lookup answered */
				on_ready_for_query(c, &ready, 1);
			} else if (type == 'Z' && passed) {
				on_ready_for_query(c, b->data + b->scan - 1, 1);
				if (c->worker->draining && c->txn_status == 'I' &&
				    b->scan == b->end) {
					conn_fail(
					    c, "57P01",
					    "terminating connection: pgseal is shutting down");
					return PGS_ERR;
				}
			} else if (type == 'E') {
				metrics_error(METRICS_ERR_SERVER_ERROR);
			}
			continue;
		}
		if (inspect && (type != 'E' || len + 1 <= CONN_MAX_INSPECT)) {
			if (len + 1 > CONN_MAX_INSPECT) {
				conn_fail(
				    c, "08P01",
				    "pgseal: oversized control message from the upstream server");
				return PGS_ERR;
			}
			if (b->end - b->scan < len + 1) {
				if (net_stream_reserve(b, len + 1) != PGS_OK) {
					conn_fail(c, "53200", "pgseal: out of memory");
					return PGS_ERR;
				}
				break; /* wait for the whole message */
			}
		}
		metrics_message(METRICS_FROM_SERVER, type);
		b->last_type = type;
		if (inspect) {
			const uint8_t *body = b->data + b->scan + PROTO_HDR_LEN;
			uint32_t blen = len - 4;
			int r = PGS_OK;
			switch (type) {
			case 'R':
				r = on_authentication(c, body, blen, len);
				break;
			case 'K':
				if (proto_parse_backend_key(body, blen, &c->backend_pid,
				                            &c->backend_key) == PGS_OK) {
					c->has_backend_key = true;
					c->client_key = c->backend_key;
					conn_cancel_register(c);
				}
				break;
			case 'Z':
				if (!c->ready_seen && !c->fle && fle_schema_enabled(c->schema)) {
					fle_start(c);
					struct fle_action *act = &c->fle_act;
					uint8_t ready;
					if (fle_session_ready(c->fle, blen == 1 ? body[0] : 'I',
					                      act) != PGS_OK)
						return fle_failed(c);
					if (act->verdict != FLE_PASS) {
						/* held until pgseal's catalog lookup has answered
						 */
						if (fle_apply(c, b, len + 1, &c->c2s, &ready) !=
						    PGS_OK)
							return PGS_ERR;
						continue;
					}
					fle_action_reset(act);
				}
				on_ready_for_query(c, body, blen);
				break;
			case 'S':
				conn_params_set(&c->params, body, blen);
				break;
			case 'E': {
				char state[6];
				if (proto_error_sqlstate(body, blen, state) == PGS_OK) {
					if (!c->authenticated && !strncmp(state, "28", 2))
						metrics_error(METRICS_ERR_AUTH);
					log_conn(LOG_DEBUG, c->id, "upstream error %s", state);
				}
				metrics_error(METRICS_ERR_SERVER_ERROR);
				if (!c->authenticated) /* the pgseal->PostgreSQL hop was refused */
					r = upstream_refusal(c, body, blen, len);
				break;
			}
			}
			if (r == PGS_ERR)
				return PGS_ERR;
			if (r == 1)
				continue; /* the message was replaced and passed over */
			b->scan += len + 1;
			if (type == 'Z' && c->worker->draining && c->txn_status == 'I' &&
			    b->scan == b->end) {
				conn_fail(c, "57P01",
				          "terminating connection: pgseal is shutting down");
				return PGS_ERR;
			}
			continue;
		}
		b->remain = len + 1;
	}
	if (c->fle && fle_client_held(c->fle)) {
		/* the server's answer may say what the held client COPY message belongs to */
		return conn_scan_client(c);
	}
	return PGS_OK;
}
