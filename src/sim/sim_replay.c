/* sim_replay.c - `pgseal-dstack-sim --replay FILE`: replays a dstack event log with the simulator's
 * code. */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Adds one JSON event to log; recomputes an empty runtime digest, checks a given one. */
static int add_event(struct sim_evlog *log, json_t *e, bool *digests_ok)
{
	json_t *imr = json_object_get(e, "imr"), *type = json_object_get(e, "event_type");
	const char *digest = json_string_value(json_object_get(e, "digest"));
	const char *name = json_string_value(json_object_get(e, "event"));
	const char *payload = json_string_value(json_object_get(e, "event_payload"));
	uint8_t *pl = NULL, *dg = NULL;
	size_t pllen = 0, dglen = 0;
	int rc = PGS_ERR;
	if (!json_is_integer(imr) || !json_is_integer(type) || !digest ||
	    json_integer_value(imr) < 0 || json_integer_value(imr) > 3 ||
	    sim_unhex(payload ? payload : "", &pl, &pllen) || sim_unhex(digest, &dg, &dglen) ||
	    (dglen != 0 && dglen != SIM_MR_LEN))
		goto out;
	uint32_t t = (uint32_t)json_integer_value(type);
	struct sim_event *ev;
	if (t == SIM_EVENT_TYPE_DSTACK) {
		sim_evlog_add_runtime(log, name ? name : "", pl, pllen);
		ev = &log->ev[log->n - 1];
		if (dglen && memcmp(ev->digest, dg, SIM_MR_LEN) != 0)
			*digests_ok = false;
	} else {
		if (dglen != SIM_MR_LEN)
			goto out; /* a firmware event's digest cannot be recomputed from its payload
			           */
		sim_evlog_add_boot(log, 0, t, pl, pllen);
		ev = &log->ev[log->n - 1];
		memcpy(ev->digest, dg, SIM_MR_LEN);
	}
	ev->imr = (uint32_t)json_integer_value(imr);
	rc = PGS_OK;
out:
	free(pl);
	free(dg);
	return rc;
}

int sim_replay_file(const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err), *events = NULL;
	struct sim_evlog log = {0};
	bool digests_ok = true;
	int rc = 2;
	if (!root)
		goto out;
	/* Either a GetQuote answer (event_log is a JSON string), an Info tcb_info, or a bare array.
	 */
	json_t *el = json_is_object(root) ? json_object_get(root, "event_log") : root;
	if (json_is_string(el))
		events = json_loads(json_string_value(el), 0, &err);
	else if (json_is_array(el))
		events = json_incref(el);
	if (!json_is_array(events))
		goto out;
	size_t i;
	json_t *e;
	json_array_foreach(events, i, e)
	{
		if (!json_is_object(e) || add_event(&log, e, &digests_ok) != PGS_OK)
			goto out;
	}
	printf("{");
	for (uint32_t imr = 0; imr < 4; imr++) {
		uint8_t mr[SIM_MR_LEN];
		sim_evlog_replay(&log, imr, mr);
		char *h = pgs_hex_dup(mr, SIM_MR_LEN);
		printf("\"rtmr%u\":\"%s\",", imr, h);
		free(h);
	}
	printf("\"runtime_digests_ok\":%s,\"events\":%zu}\n", digests_ok ? "true" : "false", log.n);
	rc = digests_ok ? 0 : 1;
out:
	if (rc == 2)
		fprintf(stderr, "pgseal-dstack-sim: %s: not a dstack event log\n", path);
	sim_evlog_free(&log);
	json_decref(events);
	json_decref(root);
	return rc;
}
