/* conn_core.c - the bottom of the session: its primitives, which call nothing above them (closing,
 * failing, the closing flush, pgseal's own messages to the client, the upstream's ParameterStatus
 * values). */
#include "conn/conn_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "metrics/metrics.h"

#define CONN_CLOSING_TIMEOUT_US (5u * 1000000u)

static void list_remove(struct conn_worker *w, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (w->conns == c)
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

void conn_close(struct conn *c, const char *why)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->ready_seen || c->user[0])
		log_conn(LOG_INFO, c->id, "closed: %s", why);
	else
		log_conn(LOG_DEBUG, c->id, "closed: %s", why);
	conn_cancel_unregister(c);
	net_side_close(&c->client);
	net_side_close(&c->server);
	if (c->counted) {
		atomic_fetch_sub(&c->env->nclients, 1);
		c->counted = false;
	}
	metrics_conn_closed();
	struct conn_worker *w = c->worker;
	list_remove(w, c);
	w->nconns--;
	c->next = w->dead;
	w->dead = c;
}

void conn_send_to_client(struct conn *c, const struct pgs_buf *msg)
{
	net_stream_inject(&c->s2c, msg->data, (uint32_t)msg->len);
}

void conn_fail(struct conn *c, const char *sqlstate, const char *msg)
{
	if (c->closed)
		return;
	if (msg) {
		log_conn(LOG_INFO, c->id, "error %s: %s", sqlstate, msg);
		if (c->s2c.remain == 0 && c->s2c.scan == c->s2c.end) {
			struct pgs_buf b = {0};
			proto_build_error(&b, "FATAL", sqlstate, msg);
			conn_send_to_client(c, &b);
			pgs_buf_free(&b);
		}
	}
	/* the upstream is of no more use; the client gets its last bytes, then is closed */
	conn_cancel_unregister(c);
	net_side_close(&c->server);
	c->state = CS_CLOSING;
	c->deadline_us = pgs_now_us() + CONN_CLOSING_TIMEOUT_US;
	conn_closing_step(c);
}

/* CS_CLOSING: write what is left for the client, then close. */
void conn_closing_step(struct conn *c)
{
	while (c->s2c.scan > c->s2c.start && c->client.writable) {
		ssize_t n = net_side_write(&c->client, &c->s2c);
		if (n == -2) {
			conn_close(c, "client write failed while closing");
			return;
		}
	}
	if (c->s2c.scan == c->s2c.start && !net_side_sending(&c->client))
		conn_close(c, "session ended");
}

/* ---- ParameterStatus values ------------------------------------------------------- */

void conn_params_set(struct conn_params *p, const uint8_t *body, uint32_t blen)
{
	const char *name = (const char *)body;
	size_t nl = strnlen(name, blen);
	if (nl == 0 || nl + 1 >= blen)
		return;
	const char *value = name + nl + 1;
	size_t vl = strnlen(value, blen - nl - 1);
	if (nl + 1 + vl + 1 != blen)
		return; /* malformed: not remembered (the message itself is relayed as is) */
	for (int i = 0; i < p->n; i++) {
		if (!strcmp(p->names[i], name)) {
			free(p->values[i]);
			p->values[i] = pgs_xstrdup(value);
			return;
		}
	}
	p->names = pgs_xrealloc(p->names, (size_t)(p->n + 1) * sizeof(char *));
	p->values = pgs_xrealloc(p->values, (size_t)(p->n + 1) * sizeof(char *));
	p->names[p->n] = pgs_xstrdup(name);
	p->values[p->n] = pgs_xstrdup(value);
	p->n++;
}

const char *conn_params_get(const struct conn_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name))
			return p->values[i];
	return NULL;
}

void conn_params_free(struct conn_params *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->names[i]);
		free(p->values[i]);
	}
	free(p->names);
	free(p->values);
	memset(p, 0, sizeof(*p));
}
