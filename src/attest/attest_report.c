/* attest_report.c - the JSON document `pgseal attest verify` prints for a verification result. */
#include "attest/attest.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <string.h>

static void set_hex(json_t *o, const char *k, const uint8_t *b, size_t n)
{
	char buf[2 * 648 + 1];
	if (n > 648)
		return;
	pgs_hex(b, n, buf);
	json_object_set_new(o, k, json_string(buf));
}

static void set_str_or_null(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static json_t *td_json(const struct attest_td_report *td)
{
	json_t *o = json_object();
	set_hex(o, "tee_tcb_svn", td->tee_tcb_svn, 16);
	set_hex(o, "mr_seam", td->mr_seam, 48);
	set_hex(o, "mr_signer_seam", td->mr_signer_seam, 48);
	set_hex(o, "seam_attributes", td->seam_attributes, 8);
	set_hex(o, "td_attributes", td->td_attributes, 8);
	set_hex(o, "xfam", td->xfam, 8);
	set_hex(o, "mr_config_id", td->mr_config_id, 48);
	set_hex(o, "mr_owner", td->mr_owner, 48);
	set_hex(o, "mr_owner_config", td->mr_owner_config, 48);
	if (td->is_td15) {
		set_hex(o, "tee_tcb_svn2", td->tee_tcb_svn2, 16);
		set_hex(o, "mr_servicetd", td->mr_servicetd, 48);
	}
	return o;
}

json_t *attest_result_json(const struct attest_result *res, const struct attest_replay *replay,
                           const struct attest_peer *peer, bool binding_ok)
{
	json_t *o = json_object();
	const struct attest_quote *q = &res->quote;

	json_object_set_new(o, "verdict", json_string(res->trusted ? "trusted" : "untrusted"));
	set_str_or_null(o, "failed_check", res->failed_check);
	set_str_or_null(o, "reason", res->failed_check ? res->reason : NULL);
	json_object_set_new(o, "tcb_status", json_string(attest_tcb_status_name(res->tcb_status)));
	json_t *adv = json_array();
	for (size_t i = 0; i < res->n_advisories; i++)
		json_array_append_new(adv, json_string(res->advisory_ids[i]));
	json_object_set_new(o, "advisory_ids", adv);
	if (res->quote_parsed) {
		json_object_set_new(o, "quote_version", json_integer(q->version));
		json_object_set_new(o, "td_report", json_string(q->td.is_td15 ? "1.5" : "1.0"));
		set_hex(o, "mrtd", q->td.mr_td, 48);
		for (int i = 0; i < 4; i++) {
			char k[16];
			snprintf(k, sizeof(k), "rtmr%d", i);
			set_hex(o, k, q->td.rtmr[i], 48);
		}
		set_hex(o, "report_data", q->td.report_data, 64);
		json_object_set_new(o, "td", td_json(&q->td));
	} else {
		static const char *const nulls[] = {"mrtd",  "rtmr0", "rtmr1",
		                                    "rtmr2", "rtmr3", "report_data"};
		for (size_t i = 0; i < PGS_ARRAY_LEN(nulls); i++)
			json_object_set_new(o, nulls[i], json_null());
	}
	json_t *plat = json_object();
	if (res->pck_parsed) {
		set_hex(plat, "ppid", res->ppid, 16);
		set_hex(plat, "fmspc", res->fmspc, 6);
		set_hex(plat, "pce_id", res->pce_id, 2);
		set_hex(plat, "cpu_svn", res->cpu_svn, 16);
		json_object_set_new(plat, "pce_svn", json_integer(res->pck_pce_svn));
	}
	json_object_set_new(plat, "platform_tcb_status",
	                    json_string(attest_tcb_status_name(res->platform_status)));
	json_object_set_new(plat, "qe_tcb_status",
	                    json_string(attest_tcb_status_name(res->qe_status)));
	json_object_set_new(plat, "tdx_module_tcb_status",
	                    json_string(attest_tcb_status_name(res->module_status)));
	if (res->tcb_date[0])
		json_object_set_new(plat, "tcb_date", json_string(res->tcb_date));
	json_object_set_new(o, "platform", plat);
	if (res->collateral_given) {
		json_t *c = json_object();
		json_object_set_new(c, "tcb_info_issue_date", json_integer(res->tcb_info_issue));
		json_object_set_new(c, "tcb_info_next_update",
		                    json_integer(res->tcb_info_next_update));
		json_object_set_new(c, "qe_identity_issue_date", json_integer(res->qe_id_issue));
		json_object_set_new(c, "qe_identity_next_update",
		                    json_integer(res->qe_id_next_update));
		json_object_set_new(c, "tcb_evaluation_data_number",
		                    json_integer(res->tcb_eval_number));
		json_object_set_new(o, "collateral", c);
	}
	if (replay) {
		set_str_or_null(o, "compose_hash", replay->compose_hash);
		set_str_or_null(o, "app_id", replay->app_id);
		set_str_or_null(o, "instance_id", replay->instance_id);
		set_str_or_null(o, "key_provider", replay->key_provider);
		if (replay->os_image_hash)
			json_object_set_new(o, "os_image_hash", json_string(replay->os_image_hash));
		json_object_set_new(o, "rtmr3_replayed_ok", json_boolean(replay->rtmr3_ok));
		json_t *ev = json_object();
		for (int i = 0; i < 4; i++) {
			char k[40];
			snprintf(k, sizeof(k), "rtmr%d_replayed", i);
			set_hex(ev, k, replay->rtmr[i], 48);
			snprintf(k, sizeof(k), "rtmr%d_replayed_ok", i);
			json_object_set_new(ev, k, json_boolean(replay->rtmr_ok[i]));
		}
		json_object_set_new(ev, "digests_ok", json_boolean(replay->events_ok));
		if (replay->reason[0])
			json_object_set_new(ev, "reason", json_string(replay->reason));
		json_object_set_new(o, "event_log", ev);
	}
	if (peer) {
		json_t *r = json_object();
		json_object_set_new(r, "binding", json_string(ATTEST_RATLS_BINDING));
		set_hex(r, "expected_report_data", peer->expected_report_data, 64);
		json_object_set_new(r, "bound", json_boolean(binding_ok));
		json_object_set_new(r, "event_log_in_certificate",
		                    json_boolean(peer->event_log != NULL));
		json_object_set_new(o, "ra_tls", r);
	}
	return o;
}
