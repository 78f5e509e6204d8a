/* sim_evlog.c - the simulated TDX event log (IMR 0-3), its dstack digests, replay and JSON form. */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void sim_evlog_runtime_digest(uint32_t type, const char *name, const uint8_t *payload, size_t len,
                              uint8_t out[SIM_MR_LEN])
{
	size_t nlen = strlen(name);
	size_t total = 4 + 1 + nlen + 1 + len;
	uint8_t *buf = pgs_xmalloc(total);
	buf[0] = (uint8_t)type;
	buf[1] = (uint8_t)(type >> 8);
	buf[2] = (uint8_t)(type >> 16);
	buf[3] = (uint8_t)(type >> 24);
	buf[4] = ':';
	/* hashed bytes counted by total, not a string */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(buf + 5, name, nlen);
	buf[5 + nlen] = ':';
	if (len)
		memcpy(buf + 6 + nlen, payload, len);
	sim_sha384(buf, total, out);
	free(buf);
}

static struct sim_event *evlog_push(struct sim_evlog *log)
{
	if (log->n == log->cap) {
		log->cap = log->cap ? log->cap * 2 : 16;
		log->ev = pgs_xrealloc(log->ev, log->cap * sizeof(*log->ev));
	}
	struct sim_event *e = &log->ev[log->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *d = pgs_xmalloc(len ? len : 1);
	if (len)
		memcpy(d, p, len);
	return d;
}

void sim_evlog_add_runtime(struct sim_evlog *log, const char *name, const uint8_t *payload,
                           size_t len)
{
	struct sim_event *e = evlog_push(log);
	e->imr = 3;
	e->type = SIM_EVENT_TYPE_DSTACK;
	e->name = pgs_xstrdup(name);
	e->payload = dup_bytes(payload, len);
	e->payload_len = len;
	sim_evlog_runtime_digest(e->type, name, payload, len, e->digest);
}

void sim_evlog_add_boot(struct sim_evlog *log, uint32_t imr, uint32_t type, const uint8_t *payload,
                        size_t len)
{
	struct sim_event *e = evlog_push(log);
	e->imr = imr;
	e->type = type;
	e->name = pgs_xstrdup("");
	e->payload = dup_bytes(payload, len);
	e->payload_len = len;
	/* Firmware events measure the payload itself; a plain SHA-384 is the simulator's stand-in.
	 */
	sim_sha384(payload, len, e->digest);
}

void sim_evlog_replay(const struct sim_evlog *log, uint32_t imr, uint8_t out[SIM_MR_LEN])
{
	uint8_t buf[2 * SIM_MR_LEN];
	memset(out, 0, SIM_MR_LEN);
	for (size_t i = 0; i < log->n; i++) {
		if (log->ev[i].imr != imr)
			continue;
		memcpy(buf, out, SIM_MR_LEN);
		memcpy(buf + SIM_MR_LEN, log->ev[i].digest, SIM_MR_LEN);
		sim_sha384(buf, sizeof(buf), out);
	}
}

void *sim_evlog_json_value(const struct sim_evlog *log)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < log->n; i++) {
		const struct sim_event *e = &log->ev[i];
		char *digest = pgs_hex_dup(e->digest, SIM_MR_LEN);
		char *payload = pgs_hex_dup(e->payload, e->payload_len);
		json_t *o = json_object();
		json_object_set_new(o, "imr", json_integer(e->imr));
		json_object_set_new(o, "event_type", json_integer(e->type));
		json_object_set_new(o, "digest", json_string(digest));
		json_object_set_new(o, "event", json_string(e->name));
		json_object_set_new(o, "event_payload", json_string(payload));
		json_array_append_new(arr, o);
		free(digest);
		free(payload);
	}
	return arr;
}

char *sim_evlog_json(const struct sim_evlog *log)
{
	json_t *arr = sim_evlog_json_value(log);
	char *s = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(arr);
	if (!s)
		abort(); /* jansson fails only on out-of-memory here */
	return s;
}

void sim_evlog_free(struct sim_evlog *log)
{
	for (size_t i = 0; i < log->n; i++) {
		free(log->ev[i].name);
		free(log->ev[i].payload);
	}
	free(log->ev);
	memset(log, 0, sizeof(*log));
}
