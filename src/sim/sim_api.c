/* sim_api.c - the dstack guest-agent RPC methods (GetKey, GetQuote, Info, ...) with dstack's JSON
 * shapes. */
#include "sim/sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/log.h"

#define SIM_MAX_EMITTED_EVENTS 4096
#define SIM_MAX_EVENT_NAME 256

/* ASCII only (\uXXXX escapes): the JS SDK compares Content-Length with a character count. */
static void reply_json(struct sim_reply *out, unsigned status, json_t *o)
{
	out->status = status;
	out->body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!out->body)
		abort(); /* out of memory */
}

static void reply_error(struct sim_reply *out, unsigned status, const char *fmt, ...)
    PGS_PRINTF(3, 4);
static void reply_error(struct sim_reply *out, unsigned status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(msg));
	reply_json(out, status, o);
}

static void set_hex(json_t *o, const char *key, const uint8_t *buf, size_t len)
{
	char *h = pgs_hex_dup(buf, len);
	json_object_set_new(o, key, json_string(h));
	free(h);
}

/* Optional string argument; fails (400) if present with another JSON type. */
static int arg_str(json_t *args, const char *key, const char *def, const char **val,
                   struct sim_reply *out)
{
	json_t *v = json_object_get(args, key);
	if (!v || json_is_null(v)) {
		*val = def;
		return PGS_OK;
	}
	if (!json_is_string(v)) {
		reply_error(out, 400, "field '%s' must be a string", key);
		return PGS_ERR;
	}
	*val = json_string_value(v);
	return PGS_OK;
}

/* Optional hex bytes argument (dstack encodes protobuf bytes as hex in JSON). *buf is malloc'd. */
static int arg_hex(json_t *args, const char *key, uint8_t **buf, size_t *len, struct sim_reply *out)
{
	const char *s = NULL;
	if (arg_str(args, key, "", &s, out) != PGS_OK)
		return PGS_ERR;
	if (sim_unhex(s, buf, len) != PGS_OK) {
		reply_error(out, 400, "field '%s' is not valid hex", key);
		return PGS_ERR;
	}
	return PGS_OK;
}

static int algorithm_kind(const char *alg, bool *ed25519, bool *prehashed)
{
	*ed25519 = *prehashed = false;
	if (!strcmp(alg, "") || !strcmp(alg, "secp256k1") || !strcmp(alg, "k256"))
		return PGS_OK;
	if (!strcmp(alg, "secp256k1_prehashed")) {
		*prehashed = true;
		return PGS_OK;
	}
	if (!strcmp(alg, "ed25519")) {
		*ed25519 = true;
		return PGS_OK;
	}
	return PGS_ERR;
}

static void do_get_key(struct sim_state *st, json_t *args, struct sim_reply *out, bool tappd)
{
	const char *path, *purpose, *alg;
	bool ed, pre;
	uint8_t key[32], sig0[SIM_K256_SIG_LEN];
	if (arg_str(args, "path", "", &path, out) || arg_str(args, "purpose", "", &purpose, out) ||
	    arg_str(args, "algorithm", "secp256k1", &alg, out))
		return;
	if (algorithm_kind(alg, &ed, &pre) != PGS_OK || pre) {
		reply_error(out, 400, "Unsupported algorithm");
		return;
	}
	if (sim_state_get_key(st, path, purpose, ed, key, sig0) != PGS_OK) {
		reply_error(out, 500, "key derivation failed");
		return;
	}
	json_t *o = json_object(), *chain = json_array();
	char *h0 = pgs_hex_dup(sig0, sizeof(sig0)),
	     *h1 = pgs_hex_dup(st->kms_sig, sizeof(st->kms_sig));
	set_hex(o, tappd ? "k256_key" : "key", key, sizeof(key));
	json_array_append_new(chain, json_string(h0));
	json_array_append_new(chain, json_string(h1));
	json_object_set_new(o, tappd ? "k256_signature_chain" : "signature_chain", chain);
	free(h0);
	free(h1);
	OPENSSL_cleanse(key, sizeof(key));
	reply_json(out, 200, o);
}

/* Hashes prefix || data for Tappd.TdxQuote; "raw" passes data through. */
static int tappd_report_data(const char *alg, const char *prefix, const uint8_t *data, size_t len,
                             uint8_t rd[SIM_REPORT_DATA_LEN])
{
	memset(rd, 0, SIM_REPORT_DATA_LEN);
	if (!strcmp(alg, "raw")) {
		if (len > SIM_REPORT_DATA_LEN)
			return PGS_ERR;
		memcpy(rd, data, len);
		return PGS_OK;
	}
	size_t plen = strlen(prefix);
	uint8_t *m = pgs_xmalloc(plen + len + 1);
	/* hashed bytes counted by plen + len, not a string */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(m, prefix, plen);
	if (len)
		memcpy(m + plen, data, len);
	int rc = PGS_OK;
	if (!strcmp(alg, "sha256"))
		SHA256(m, plen + len, rd);
	else if (!strcmp(alg, "sha384"))
		SHA384(m, plen + len, rd);
	else if (!strcmp(alg, "sha512") || !strcmp(alg, ""))
		SHA512(m, plen + len, rd);
	else if (!strcmp(alg, "keccak256"))
		sim_keccak256(m, plen + len, rd);
	else
		rc = PGS_ERR;
	free(m);
	return rc;
}

enum quote_api { QUOTE_GET, QUOTE_TAPPD_RAW, QUOTE_TAPPD };

static void do_get_quote(struct sim_state *st, json_t *args, struct sim_reply *out,
                         enum quote_api api)
{
	uint8_t *data = NULL, *quote = NULL, rd[SIM_REPORT_DATA_LEN];
	size_t len = 0, qlen = 0;
	const char *alg = "raw", *prefix = "";
	if (arg_hex(args, "report_data", &data, &len, out))
		return;
	if (api == QUOTE_TAPPD) {
		if (arg_str(args, "hash_algorithm", "sha512", &alg, out) ||
		    arg_str(args, "prefix", "", &prefix, out))
			goto out;
		if (!*alg)
			alg = "sha512";
		if (strcmp(alg, "raw") != 0 && !*prefix)
			prefix = "app-data:";
	}
	if (!strcmp(alg, "raw") && len > SIM_REPORT_DATA_LEN) {
		reply_error(out, 400, "Report data is too long: %zu bytes, at most %d", len,
		            SIM_REPORT_DATA_LEN);
		goto out;
	}
	if (tappd_report_data(alg, prefix, data, len, rd) != PGS_OK) {
		reply_error(out, 400, "unsupported hash_algorithm");
		goto out;
	}
	if (sim_quote_build(st, rd, &quote, &qlen) != PGS_OK) {
		reply_error(out, 500, "quote generation failed");
		goto out;
	}
	json_t *o = json_object();
	char *log = sim_evlog_json(&st->log);
	set_hex(o, "quote", quote, qlen);
	json_object_set_new(o, "event_log", json_string(log));
	free(log);
	if (api == QUOTE_GET) {
		set_hex(o, "report_data", rd, sizeof(rd));
		json_object_set_new(o, "vm_config", json_string(st->vm_config));
	} else {
		json_object_set_new(o, "hash_algorithm", json_string(alg));
		json_object_set_new(o, "prefix", json_string(prefix));
	}
	reply_json(out, 200, o);
out:
	free(data);
	free(quote);
}

static char *tcb_info_text(const struct sim_state *st)
{
	uint8_t mr[SIM_MR_LEN];
	json_t *t = json_object();
	set_hex(t, "mrtd", st->mrtd, SIM_MR_LEN);
	for (uint32_t i = 0; i < 4; i++) {
		char key[8];
		snprintf(key, sizeof(key), "rtmr%u", i);
		sim_evlog_replay(&st->log, i, mr);
		set_hex(t, key, mr, SIM_MR_LEN);
	}
	set_hex(t, "mr_aggregated", st->mr_aggregated, 32);
	set_hex(t, "os_image_hash", st->os_image_hash, 32);
	set_hex(t, "compose_hash", st->compose_hash, st->compose_hash_len);
	set_hex(t, "device_id", st->device_id, SIM_DEVICE_ID_LEN);
	json_object_set_new(t, "event_log", sim_evlog_json_value(&st->log));
	json_object_set_new(t, "app_compose", json_string(st->app_compose));
	char *s = json_dumps(t, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(t);
	if (!s)
		abort(); /* out of memory */
	return s;
}

static void do_info(struct sim_state *st, struct sim_reply *out)
{
	json_t *o = json_object();
	char *tcb = tcb_info_text(st);
	set_hex(o, "app_id", st->app_id, SIM_APP_ID_LEN);
	set_hex(o, "instance_id", st->instance_id, SIM_INSTANCE_ID_LEN);
	json_object_set_new(o, "app_cert", json_string(""));
	json_object_set_new(o, "tcb_info", json_string(tcb));
	json_object_set_new(o, "app_name", json_string(st->app_name));
	set_hex(o, "device_id", st->device_id, SIM_DEVICE_ID_LEN);
	set_hex(o, "mr_aggregated", st->mr_aggregated, 32);
	set_hex(o, "os_image_hash", st->os_image_hash, 32);
	json_object_set_new(o, "key_provider_info", json_string(st->key_provider_info));
	set_hex(o, "compose_hash", st->compose_hash, st->compose_hash_len);
	json_object_set_new(o, "vm_config", json_string(st->vm_config));
	json_object_set_new(o, "cloud_vendor", json_string("pgseal-dstack-sim"));
	json_object_set_new(o, "cloud_product", json_string("simulator - not a TEE"));
	free(tcb);
	reply_json(out, 200, o);
}

static void do_emit_event(struct sim_state *st, json_t *args, struct sim_reply *out)
{
	const char *name;
	uint8_t *payload = NULL;
	size_t len = 0;
	if (arg_str(args, "event", "", &name, out) || arg_hex(args, "payload", &payload, &len, out))
		return;
	if (!*name || strlen(name) > SIM_MAX_EVENT_NAME || strchr(name, ':')) {
		reply_error(out, 400, "event name must be 1 to %d characters without ':'",
		            SIM_MAX_EVENT_NAME);
	} else if (st->log.n >= SIM_MAX_EMITTED_EVENTS) {
		reply_error(out, 400, "event log is full");
	} else {
		sim_evlog_add_runtime(&st->log, name, payload, len);
		reply_json(out, 200, json_object());
	}
	free(payload);
}

static void do_sign(struct sim_state *st, json_t *args, struct sim_reply *out)
{
	const char *alg;
	bool ed, pre;
	uint8_t *data = NULL, key[32], sig0[SIM_K256_SIG_LEN], sig[64], digest[32], pub[33];
	size_t len = 0, publen = 33;
	if (arg_str(args, "algorithm", "", &alg, out) || arg_hex(args, "data", &data, &len, out))
		return;
	if (algorithm_kind(alg, &ed, &pre) != PGS_OK) {
		reply_error(out, 400, "Unsupported algorithm");
		goto out;
	}
	if (pre && len != 32) {
		reply_error(out, 400,
		            "Pre-hashed signing requires a 32-byte digest, but received %zu bytes",
		            len);
		goto out;
	}
	if (sim_state_get_key(st, "vms", "signing", ed, key, sig0) != PGS_OK)
		goto fail;
	if (ed) {
		publen = 32;
		if (sim_ed25519_sign(key, data, len, sig) || sim_ed25519_pubkey(key, pub))
			goto fail;
	} else {
		if (pre)
			memcpy(digest, data, 32);
		else
			SHA256(data, len, digest);
		if (sim_k256_sign_digest(key, digest, sig) || sim_k256_pubkey(key, pub))
			goto fail;
	}
	json_t *o = json_object(), *chain = json_array();
	char *h[3] = {pgs_hex_dup(sig, 64), pgs_hex_dup(sig0, sizeof(sig0)),
	              pgs_hex_dup(st->kms_sig, sizeof(st->kms_sig))};
	json_object_set_new(o, "signature", json_string(h[0]));
	for (int i = 0; i < 3; i++) {
		json_array_append_new(chain, json_string(h[i]));
		free(h[i]);
	}
	json_object_set_new(o, "signature_chain", chain);
	set_hex(o, "public_key", pub, publen);
	reply_json(out, 200, o);
	goto out;
fail:
	reply_error(out, 500, "signing failed");
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(data);
}

static void do_verify(json_t *args, struct sim_reply *out)
{
	const char *alg;
	bool ed, pre;
	uint8_t *data = NULL, *sig = NULL, *pub = NULL, digest[32];
	size_t dlen = 0, slen = 0, plen = 0;
	int valid = 0;
	if (arg_str(args, "algorithm", "", &alg, out) || arg_hex(args, "data", &data, &dlen, out) ||
	    arg_hex(args, "signature", &sig, &slen, out) ||
	    arg_hex(args, "public_key", &pub, &plen, out))
		goto out;
	if (algorithm_kind(alg, &ed, &pre) != PGS_OK) {
		reply_error(out, 400, "Unsupported algorithm");
		goto out;
	}
	if (slen != 64 || (ed && plen != 32) || (!ed && plen != 33 && plen != 65) ||
	    (pre && dlen != 32)) {
		reply_error(out, 400, "invalid signature, public key or digest length");
		goto out;
	}
	if (ed) {
		valid = sim_ed25519_verify(pub, data, dlen, sig);
	} else {
		if (pre)
			memcpy(digest, data, 32);
		else
			SHA256(data, dlen, digest);
		valid = sim_k256_verify_digest(pub, plen, digest, sig);
	}
	json_t *o = json_object();
	json_object_set_new(o, "valid", json_boolean(valid == 1));
	reply_json(out, 200, o);
out:
	free(data);
	free(sig);
	free(pub);
}

static int arg_bool(json_t *args, const char *key, bool def, bool *val, struct sim_reply *out)
{
	json_t *v = json_object_get(args, key);
	if (!v || json_is_null(v)) {
		*val = def;
		return PGS_OK;
	}
	if (!json_is_boolean(v)) {
		reply_error(out, 400, "field '%s' must be a boolean", key);
		return PGS_ERR;
	}
	*val = json_is_true(v);
	return PGS_OK;
}

static int arg_time(json_t *args, const char *key, int64_t *val, struct sim_reply *out)
{
	json_t *v = json_object_get(args, key);
	*val = -1;
	if (!v || json_is_null(v))
		return PGS_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 253402300799LL) {
		reply_error(out, 400, "field '%s' must be seconds since the epoch", key);
		return PGS_ERR;
	}
	*val = (int64_t)json_integer_value(v);
	return PGS_OK;
}

static void do_get_tls_key(struct sim_state *st, json_t *args, struct sim_reply *out)
{
	struct sim_tls_req req = {0};
	const char *names[32];
	char err[160], *key = NULL, *leaf = NULL;
	json_t *alt = json_object_get(args, "alt_names");
	if (arg_str(args, "subject", "", &req.subject, out) ||
	    arg_bool(args, "usage_ra_tls", false, &req.ra_tls, out) ||
	    arg_bool(args, "usage_server_auth", false, &req.server_auth, out) ||
	    arg_bool(args, "usage_client_auth", false, &req.client_auth, out) ||
	    arg_time(args, "not_before", &req.not_before, out) ||
	    arg_time(args, "not_after", &req.not_after, out))
		return;
	if (alt && !json_is_null(alt)) {
		size_t i;
		json_t *v;
		if (!json_is_array(alt) || json_array_size(alt) > PGS_ARRAY_LEN(names)) {
			reply_error(out, 400,
			            "field 'alt_names' must be an array of at most %zu strings",
			            PGS_ARRAY_LEN(names));
			return;
		}
		json_array_foreach(alt, i, v)
		{
			if (!json_is_string(v)) {
				reply_error(out, 400,
				            "field 'alt_names' must be an array of strings");
				return;
			}
			names[i] = json_string_value(v);
		}
		req.alt_names = names;
		req.n_alt_names = json_array_size(alt);
	}
	if (sim_tls_issue(st, &req, &key, &leaf, err, sizeof(err)) != PGS_OK) {
		reply_error(out, 400, "%s", err);
		return;
	}
	json_t *o = json_object(), *chain = json_array();
	json_object_set_new(o, "key", json_string(key));
	json_array_append_new(chain, json_string(leaf));
	json_array_append_new(chain, json_string(st->ca.app_ca_pem));
	json_object_set_new(o, "certificate_chain", chain);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(leaf);
	reply_json(out, 200, o);
}

static void do_version(struct sim_reply *out)
{
	json_t *o = json_object();
	json_object_set_new(o, "version", json_string("0.5.8"));
	json_object_set_new(o, "rev", json_string("pgseal-dstack-sim"));
	reply_json(out, 200, o);
}

/* "/GetKey", "/prpc/GetKey", "/prpc/DstackGuest.GetKey", "/prpc/Tappd.RawQuote" -> method name. */
static const char *method_name(const char *path, bool *tappd)
{
	*tappd = false;
	if (!strncmp(path, "/prpc/", 6))
		path += 5;
	if (*path == '/')
		path++;
	if (!strncmp(path, "DstackGuest.", 12))
		return path + 12;
	if (!strncmp(path, "Worker.", 7))
		return path + 7;
	if (!strncmp(path, "Tappd.", 6)) {
		*tappd = true;
		return path + 6;
	}
	return path;
}

void sim_api_call(struct sim_state *st, const char *path, const char *body, size_t body_len,
                  void *query_args, struct sim_reply *out)
{
	json_t *args = NULL;
	bool tappd = false;
	const char *m = method_name(path, &tappd);
	memset(out, 0, sizeof(*out));

	if (body_len > 0) {
		json_error_t err;
		args = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &err);
		if (!args) {
			reply_error(out, 400, "invalid JSON at line %d column %d", err.line,
			            err.column);
			return;
		}
	} else if (query_args) {
		args = json_incref((json_t *)query_args);
	} else {
		args = json_object();
	}
	if (!json_is_object(args)) {
		reply_error(out, 400, "request body must be a JSON object");
		goto out;
	}

	if (!strcmp(m, "GetKey") || (tappd && !strcmp(m, "DeriveK256Key")))
		do_get_key(st, args, out, tappd);
	else if (!strcmp(m, "GetQuote"))
		do_get_quote(st, args, out, QUOTE_GET);
	else if (!strcmp(m, "RawQuote"))
		do_get_quote(st, args, out, QUOTE_TAPPD_RAW);
	else if (!strcmp(m, "TdxQuote"))
		do_get_quote(st, args, out, QUOTE_TAPPD);
	else if (!strcmp(m, "Info"))
		do_info(st, out);
	else if (!strcmp(m, "Version"))
		do_version(out);
	else if (!strcmp(m, "EmitEvent"))
		do_emit_event(st, args, out);
	else if (!strcmp(m, "Sign"))
		do_sign(st, args, out);
	else if (!strcmp(m, "Verify"))
		do_verify(args, out);
	else if (!strcmp(m, "GetTlsKey"))
		do_get_tls_key(st, args, out);
	else if (!strcmp(m, "DeriveKey") || !strcmp(m, "Attest") ||
	         !strcmp(m, "GetAttestationForAppKey"))
		reply_error(out, 501, "%s is not implemented by pgseal-dstack-sim", m);
	else
		reply_error(out, 404, "unknown method");
out:
	json_decref(args);
}
