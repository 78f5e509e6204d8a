/* attest_eventlog.c - dstack/TDX event log: parse the JSON log, replay RTMRs by SHA-384 extend,
 * extract IMR 3 facts. */
#include "attest/attest.h"
#include "crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_MAX 100000
#define PAYLOAD_MAX (1u << 20)

static bool hex_bytes(json_t *v, uint8_t **out, size_t *outlen)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	*out = NULL;
	*outlen = 0;
	if (!s || n % 2 || n / 2 > PAYLOAD_MAX)
		return false;
	*out = pgs_xmalloc(n / 2 + 1);
	if (pgs_unhex(s, n, *out, n / 2) != PGS_OK) {
		free(*out);
		*out = NULL;
		return false;
	}
	*outlen = n / 2;
	return true;
}

static int parse_event(json_t *e, size_t i, struct attest_event *ev, char *err, size_t errlen)
{
	json_t *imr = json_object_get(e, "imr"), *type = json_object_get(e, "event_type");
	json_t *dg = json_object_get(e, "digest"), *name = json_object_get(e, "event");
	json_t *pl = json_object_get(e, "event_payload");

	if (!json_is_object(e) || !json_is_integer(imr) || json_integer_value(imr) < 0 ||
	    json_integer_value(imr) > 3) {
		pgs_errf(err, errlen, "event log: event %zu: imr missing or not 0..3", i);
		return PGS_ERR;
	}
	ev->imr = (uint32_t)json_integer_value(imr);
	if (!json_is_integer(type) || json_integer_value(type) < 0 ||
	    json_integer_value(type) > UINT32_MAX) {
		pgs_errf(err, errlen, "event log: event %zu: event_type missing or not a u32", i);
		return PGS_ERR;
	}
	ev->event_type = (uint32_t)json_integer_value(type);
	if (dg && !json_is_null(dg)) {
		const char *s = json_string_value(dg);
		if (!s) {
			pgs_errf(err, errlen, "event log: event %zu: digest is not a string", i);
			return PGS_ERR;
		}
		if (json_string_length(dg) > 0) {
			if (pgs_unhex(s, json_string_length(dg), ev->digest, 48) != PGS_OK) {
				pgs_errf(err, errlen,
				         "event log: event %zu: digest is not 96 hex "
				         "digits",
				         i);
				return PGS_ERR;
			}
			ev->digest_given = true;
		}
	}
	if (name && !json_is_null(name) && !json_is_string(name)) {
		pgs_errf(err, errlen, "event log: event %zu: event is not a string", i);
		return PGS_ERR;
	}
	const char *nm = json_is_string(name) ? json_string_value(name) : "";
	if (json_is_string(name) && strlen(nm) != json_string_length(name)) {
		pgs_errf(err, errlen, "event log: event %zu: event name contains NUL", i);
		return PGS_ERR;
	}
	ev->event = pgs_xstrdup(nm);
	if (pl && !json_is_null(pl)) {
		if (!json_is_string(pl) || !hex_bytes(pl, &ev->payload, &ev->payload_len)) {
			pgs_errf(err, errlen, "event log: event %zu: event_payload is not hex", i);
			return PGS_ERR;
		}
	}
	return PGS_OK;
}

int attest_eventlog_parse(const char *json, size_t len, struct attest_eventlog *out, char *err,
                          size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr), *arr = NULL, *inner = NULL;
	int rc = PGS_ERR;

	memset(out, 0, sizeof(*out));
	if (!root) {
		pgs_errf(err, errlen, "event log: JSON error at line %d: %s", jerr.line, jerr.text);
		return PGS_ERR;
	}
	arr = root;
	if (json_is_object(arr))
		arr = json_object_get(arr, "event_log");
	if (json_is_string(arr)) {
		/* dstack's GetQuote carries the log as a JSON string */
		inner = json_loadb(json_string_value(arr), json_string_length(arr), 0, &jerr);
		if (!inner) {
			pgs_errf(err, errlen,
			         "event log: the event_log string is not JSON (line %d: "
			         "%s)",
			         jerr.line, jerr.text);
			goto out;
		}
		arr = inner;
	}
	if (!json_is_array(arr)) {
		pgs_errf(err, errlen,
		         "event log: not a JSON array of events (nor an object with "
		         "\"event_log\")");
		goto out;
	}
	if (json_array_size(arr) > EVENTS_MAX) {
		pgs_errf(err, errlen, "event log: more than %d events", EVENTS_MAX);
		goto out;
	}
	out->ev = pgs_xcalloc(json_array_size(arr) + 1, sizeof(*out->ev));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		out->n = i + 1;
		if (parse_event(json_array_get(arr, i), i, &out->ev[i], err, errlen) != PGS_OK)
			goto out;
	}
	rc = PGS_OK;
out:
	if (rc != PGS_OK)
		attest_eventlog_free(out);
	json_decref(inner);
	json_decref(root);
	return rc;
}

void attest_eventlog_free(struct attest_eventlog *log)
{
	for (size_t i = 0; i < log->n; i++) {
		free(log->ev[i].event);
		free(log->ev[i].payload);
	}
	free(log->ev);
	log->ev = NULL;
	log->n = 0;
}

/* SHA-384 over the concatenation of parts. */
static bool sha384(const void *const *parts, const size_t *lens, size_t n, uint8_t out[48])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned olen = 0;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1;
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(md, parts[i], lens[i]) == 1;
	ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 48;
	EVP_MD_CTX_free(md);
	return ok;
}

/* dstack runtime event: SHA384(LE32(type) || ":" || name || ":" || payload). */
static bool runtime_digest(const struct attest_event *ev, uint8_t out[48])
{
	uint8_t le[4] = {(uint8_t)ev->event_type, (uint8_t)(ev->event_type >> 8),
	                 (uint8_t)(ev->event_type >> 16), (uint8_t)(ev->event_type >> 24)};
	const void *parts[] = {le, ":", ev->event, ":",
	                       ev->payload ? (const void *)ev->payload : ""};
	size_t lens[] = {4, 1, strlen(ev->event), 1, ev->payload_len};
	return sha384(parts, lens, 5, out);
}

static char *text_or_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] < 0x20 || b[i] > 0x7e)
			return pgs_hex_dup(b, n);
	char *s = pgs_xmalloc(n + 1);
	memcpy(s, b, n);
	s[n] = '\0';
	return s;
}

/* Records a measured dstack fact; a second event of the same name is ambiguous. */
static void take_fact(struct attest_replay *r, char **slot, char *val, const char *name)
{
	if (*slot) {
		free(val);
		r->events_ok = false;
		snprintf(r->reason, sizeof(r->reason), "event log has more than one '%s' event",
		         name);
		return;
	}
	*slot = val;
}

int attest_eventlog_replay(const struct attest_eventlog *log, const struct attest_td_report *td,
                           struct attest_replay *out)
{
	bool replayable[4] = {true, true, true, true};
	memset(out, 0, sizeof(*out));
	out->events_ok = true;
	for (size_t i = 0; i < log->n; i++) {
		const struct attest_event *ev = &log->ev[i];
		uint8_t d[48];
		bool computed = false;
		if (ev->imr == 3 && ev->event_type == ATTEST_DSTACK_RUNTIME_EVENT) {
			if (!runtime_digest(ev, d))
				return PGS_ERR;
			computed = true;
			if (ev->digest_given && CRYPTO_memcmp(d, ev->digest, 48)) {
				out->events_ok = false;
				snprintf(out->reason, sizeof(out->reason),
				         "event %zu ('%.64s'): digest does not match its payload",
				         i, ev->event);
				memcpy(d, ev->digest, 48);
				computed = false;
			}
		} else if (ev->digest_given) {
			memcpy(d, ev->digest, 48);
		} else {
			replayable[ev->imr] = false;
			if (ev->imr == 3 && out->events_ok) {
				out->events_ok = false;
				snprintf(out->reason, sizeof(out->reason),
				         "event %zu: IMR 3 event of type 0x%x without a digest", i,
				         ev->event_type);
			}
			continue;
		}
		const void *parts[] = {out->rtmr[ev->imr], d};
		size_t lens[] = {48, 48};
		if (!sha384(parts, lens, 2, out->rtmr[ev->imr]))
			return PGS_ERR;
		/* Facts come only from runtime events whose digest was recomputed from the
		 * payload, so a log cannot pair a real digest with a fake payload. */
		if (!computed || ev->imr != 3)
			continue;
		const uint8_t *p = ev->payload ? ev->payload : (const uint8_t *)"";
		if (!strcmp(ev->event, "compose-hash"))
			take_fact(out, &out->compose_hash, pgs_hex_dup(p, ev->payload_len),
			          ev->event);
		else if (!strcmp(ev->event, "app-id"))
			take_fact(out, &out->app_id, pgs_hex_dup(p, ev->payload_len), ev->event);
		else if (!strcmp(ev->event, "instance-id"))
			take_fact(out, &out->instance_id, pgs_hex_dup(p, ev->payload_len),
			          ev->event);
		else if (!strcmp(ev->event, "key-provider"))
			take_fact(out, &out->key_provider, text_or_hex(p, ev->payload_len),
			          ev->event);
		else if (!strcmp(ev->event, "os-image-hash"))
			take_fact(out, &out->os_image_hash, pgs_hex_dup(p, ev->payload_len),
			          ev->event);
	}
	for (int i = 0; i < 4; i++)
		out->rtmr_ok[i] = replayable[i] && !CRYPTO_memcmp(out->rtmr[i], td->rtmr[i], 48);
	out->rtmr3_ok = out->rtmr_ok[3] && out->events_ok;
	if (!out->rtmr_ok[3] && !out->reason[0])
		snprintf(out->reason, sizeof(out->reason),
		         "replaying IMR 3 does not give the quote's RTMR3");
	return PGS_OK;
}

void attest_replay_free(struct attest_replay *r)
{
	free(r->compose_hash);
	free(r->app_id);
	free(r->instance_id);
	free(r->key_provider);
	free(r->os_image_hash);
	memset(r, 0, sizeof(*r));
}
