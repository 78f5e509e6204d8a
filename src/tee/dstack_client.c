/* dstack_client.c - dstack guest-agent RPC: HTTP/1.1 over a unix socket with libcurl, JSON with
 * jansson. */
#include "tee/tee.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/crypto.h"

#define RESP_MAX (16u << 20) /* quotes with event logs are tens of KiB; cap at 16 MiB */
#define TIMEOUT_MS 10000L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *tee_dstack_endpoint(const char *configured)
{
	if (configured && *configured)
		return configured;
	const char *e = getenv("DSTACK_SIMULATOR_ENDPOINT");
	if (e && *e)
		return e;
	return TEE_DSTACK_DEFAULT_SOCKET;
}

struct resp {
	char *data;
	size_t len, cap;
	bool overflow;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * n;
	if (r->len + k + 1 > RESP_MAX) {
		r->overflow = true;
		return 0;
	}
	if (r->len + k + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + k + 1)
			cap *= 2;
		/* copy, not realloc: the old block may hold key hex and is wiped */
		char *d = pgs_xmalloc(cap);
		if (r->len)
			memcpy(d, r->data, r->len);
		if (r->data)
			OPENSSL_cleanse(r->data, r->cap);
		free(r->data);
		r->data = d;
		r->cap = cap;
	}
	memcpy(r->data + r->len, p, k);
	r->len += k;
	r->data[r->len] = '\0';
	return k;
}

static void resp_free(struct resp *r)
{
	if (r->data)
		OPENSSL_cleanse(r->data, r->cap);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

/* POSTs body to <endpoint>/<method>; parses the JSON object answered with HTTP 200. */
static int rpc(const char *endpoint, const char *method, const char *body, json_t **out,
               struct resp *raw, char *err, size_t errlen)
{
	CURL *c = NULL;
	struct curl_slist *hdr = NULL;
	struct resp r = {0};
	char url[512];
	long status = 0;
	int rc = PGS_ERR;
	json_error_t je;

	*out = NULL;
	pthread_once(&curl_once, curl_init);
	c = curl_easy_init();
	if (!c) {
		pgs_errf(err, errlen, "dstack %s: curl init failed", method);
		goto out;
	}
	bool is_url = !strncmp(endpoint, "http://", 7) || !strncmp(endpoint, "https://", 8);
	if (is_url) {
		size_t el = strlen(endpoint);
		while (el && endpoint[el - 1] == '/')
			el--;
		snprintf(url, sizeof(url), "%.*s/%s", (int)el, endpoint, method);
	} else {
		snprintf(url, sizeof(url), "http://localhost/%s", method);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, endpoint);
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	/* Info is only logged: a hung agent should not hold the start for long on it */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, strcmp(method, "Info") != 0 ? TIMEOUT_MS : 3000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		pgs_errf(err, errlen, "dstack %s at %s: %s", method, endpoint,
		         r.overflow ? "response too large" : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*out = r.data ? json_loadb(r.data, r.len, 0, &je) : NULL;
	if (status != 200) {
		json_t *e = *out ? json_object_get(*out, "error") : NULL;
		pgs_errf(err, errlen, "dstack %s at %s: HTTP %ld%s%.200s", method, endpoint, status,
		         json_is_string(e) ? ": " : "",
		         json_is_string(e) ? json_string_value(e) : "");
		goto out;
	}
	if (!json_is_object(*out)) {
		pgs_errf(err, errlen, "dstack %s at %s: response is not a JSON object", method,
		         endpoint);
		goto out;
	}
	json_t *e = json_object_get(*out, "error");
	if (e && !json_is_null(e)) {
		pgs_errf(err, errlen, "dstack %s: agent error: %.200s", method,
		         json_is_string(e) ? json_string_value(e) : "(not a string)");
		goto out;
	}
	rc = PGS_OK;
out:
	if (rc != PGS_OK && *out) {
		json_decref(*out);
		*out = NULL;
	}
	if (raw && rc == PGS_OK)
		*raw = r;
	else
		resp_free(&r);
	curl_slist_free_all(hdr);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

static char *dup_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (json_is_string(v))
		return pgs_xstrdup(json_string_value(v));
	if (v && !json_is_null(v)) /* some agents answer objects: keep them as JSON text */
		return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return NULL;
}

int tee_dstack_get_key(const char *endpoint, const char *path, const char *purpose, uint8_t *key,
                       size_t cap, size_t *keylen, size_t *nsig, char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s, s:s}", "path", path, "purpose", purpose);
	json_t *res = NULL;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc = PGS_ERR;
	if (!body)
		goto out;
	if (rpc(endpoint, "GetKey", body, &res, NULL, err, errlen) != PGS_OK)
		goto out;
	json_t *k = json_object_get(res, "key");
	const char *hex = json_string_value(k);
	size_t hl = hex ? strlen(hex) : 0;
	if (hl >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2, hl -= 2;
	if (!hex || hl == 0 || hl % 2 || hl / 2 > cap ||
	    pgs_unhex(hex, hl, key, hl / 2) != PGS_OK) {
		pgs_errf(err, errlen,
		         "dstack GetKey: 'key' is not a hex string of at most %zu bytes", cap);
		goto out;
	}
	*keylen = hl / 2;
	json_t *sc = json_object_get(res, "signature_chain");
	*nsig = json_is_array(sc) ? json_array_size(sc) : 0;
	rc = PGS_OK;
out:
	if (res) {
		/* wipe the key hex held by jansson before releasing it */
		json_t *k2 = json_object_get(res, "key");
		if (json_is_string(k2))
			OPENSSL_cleanse((char *)json_string_value(k2), json_string_length(k2));
		json_decref(res);
	}
	free(body);
	json_decref(req);
	return rc;
}

int tee_dstack_get_quote(const char *endpoint, const uint8_t *report_data, size_t rdlen,
                         struct tee_dstack_quote *out, char *err, size_t errlen)
{
	char hex[2 * TEE_REPORT_DATA_MAX + 1];
	json_t *req = NULL, *res = NULL;
	char *body = NULL;
	int rc = PGS_ERR;
	memset(out, 0, sizeof(*out));
	if (rdlen > TEE_REPORT_DATA_MAX) {
		pgs_errf(err, errlen, "dstack GetQuote: report_data longer than 64 bytes");
		return PGS_ERR;
	}
	pgs_hex(report_data, rdlen, hex);
	req = json_pack("{s:s}", "report_data", hex);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!body)
		goto out;
	if (rpc(endpoint, "GetQuote", body, &res, NULL, err, errlen) != PGS_OK)
		goto out;
	const char *q = json_string_value(json_object_get(res, "quote"));
	size_t ql = q ? strlen(q) : 0;
	if (ql >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
		q += 2, ql -= 2;
	if (!q || ql == 0 || ql % 2) {
		pgs_errf(err, errlen, "dstack GetQuote: 'quote' is not a hex string");
		goto out;
	}
	out->quote = pgs_xmalloc(ql / 2);
	out->quote_len = ql / 2;
	if (pgs_unhex(q, ql, out->quote, ql / 2) != PGS_OK) {
		pgs_errf(err, errlen, "dstack GetQuote: 'quote' is not a hex string");
		goto out;
	}
	out->event_log = dup_str(res, "event_log");
	out->vm_config = dup_str(res, "vm_config");
	out->report_data = dup_str(res, "report_data");
	rc = PGS_OK;
out:
	if (rc != PGS_OK)
		tee_dstack_quote_free(out);
	json_decref(res);
	json_decref(req);
	free(body);
	return rc;
}

void tee_dstack_quote_free(struct tee_dstack_quote *q)
{
	free(q->quote);
	free(q->event_log);
	free(q->vm_config);
	free(q->report_data);
	memset(q, 0, sizeof(*q));
}

int tee_dstack_info(const char *endpoint, struct tee_dstack_info *out, char *err, size_t errlen)
{
	json_t *res = NULL;
	struct resp raw = {0};
	memset(out, 0, sizeof(*out));
	if (rpc(endpoint, "Info", "{}", &res, &raw, err, errlen) != PGS_OK)
		return PGS_ERR;
	out->app_id = dup_str(res, "app_id");
	out->instance_id = dup_str(res, "instance_id");
	out->app_name = dup_str(res, "app_name");
	out->compose_hash = dup_str(res, "compose_hash");
	out->device_id = dup_str(res, "device_id");
	out->os_image_hash = dup_str(res, "os_image_hash");
	out->key_provider_info = dup_str(res, "key_provider_info");
	out->tcb_info = dup_str(res, "tcb_info");
	out->vm_config = dup_str(res, "vm_config");
	out->raw_json = raw.data ? pgs_xstrdup(raw.data) : NULL;
	resp_free(&raw);
	json_decref(res);
	return PGS_OK;
}

void tee_dstack_info_free(struct tee_dstack_info *i)
{
	free(i->app_id);
	free(i->instance_id);
	free(i->app_name);
	free(i->compose_hash);
	free(i->device_id);
	free(i->os_image_hash);
	free(i->key_provider_info);
	free(i->tcb_info);
	free(i->vm_config);
	free(i->raw_json);
	memset(i, 0, sizeof(*i));
}
