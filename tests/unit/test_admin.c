/* test_admin.c - the admin HTTP server over loopback, with libcurl: token, routes, readiness. */
#include "admin/admin.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "testlib.h"

#include <curl/curl.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN "t0ken-for-the-admin-unit-test-0123456789"

static char g_dir[64];
static atomic_bool g_ready;
static atomic_int g_ready_calls;

static bool hook_ready(void *arg)
{
	(void)arg;
	atomic_fetch_add(&g_ready_calls, 1);
	return atomic_load(&g_ready);
}

static char *hook_attestation(void *arg)
{
	return strdup((const char *)arg);
}

static char *hook_attestation_fails(void *arg)
{
	(void)arg;
	return NULL;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	CHECK(chmod(path, mode) == 0);
}

/* Writes a config whose admin section uses LISTEN and token file TOKEN_NAME, and loads it. */
static struct config *load_config(const char *listen, const char *token_name)
{
	char yaml[512], path[256], err[256];
	struct config *cfg = NULL;
	snprintf(yaml, sizeof(yaml),
	         "listen: \"127.0.0.1:6432\"\n"
	         "upstream: {host: 127.0.0.1, port: 5432}\n"
	         "admin: {listen: \"%s\", token_file: %s}\n",
	         listen, token_name);
	write_file("pgseal.yaml", yaml, 0600);
	snprintf(path, sizeof(path), "%s/pgseal.yaml", g_dir);
	if (config_load(path, &cfg, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "config_load: %s\n", err);
		return NULL;
	}
	return cfg;
}

struct http {
	long status;
	char body[16384];
	size_t len;
	char headers[4096];
	size_t hlen;
	CURLcode rc;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct http *h = ud;
	size_t k = sz * n;
	if (h->len + k < sizeof(h->body)) {
		memcpy(h->body + h->len, p, k);
		h->len += k;
		h->body[h->len] = 0;
	}
	return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct http *h = ud;
	size_t k = sz * n;
	if (h->hlen + k < sizeof(h->headers)) {
		memcpy(h->headers + h->hlen, p, k);
		h->hlen += k;
		h->headers[h->hlen] = 0;
	}
	return k;
}

/* One request; AUTH is the whole Authorization header value or NULL. */
static void request(struct http *h, const char *host, int port, const char *method,
                    const char *path, const char *auth)
{
	char url[256], hdr[512];
	struct curl_slist *hl = NULL;
	CURL *c = curl_easy_init();
	memset(h, 0, sizeof(*h));
	snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=b");
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
		hl = curl_slist_append(hl, hdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	}
	h->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

static bool has_header(const struct http *h, const char *line)
{
	return strcasestr(h->headers, line) != NULL;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static struct admin *start(struct config *cfg, const struct admin_hooks *hooks)
{
	struct admin *a = NULL;
	char err[256] = "";
	if (admin_start(cfg, hooks, &a, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "admin_start: %s\n", err);
		return NULL;
	}
	return a;
}

static void test_auth_and_routes(void)
{
	struct http h;
	struct admin_hooks hooks = {.ready = hook_ready, .arg = NULL};
	struct config *cfg = load_config("127.0.0.1:0", "admin.token");
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	struct admin *a = start(cfg, &hooks);
	CHECK(a != NULL);
	if (!a)
		goto out;
	int port = admin_port(a);
	CHECK(port > 0);

	static const char *const bad_auth[] = {
	    NULL,           "Bearer wrong", "Bearer " TOKEN "x", "Bearer t0ken",
	    "Basic " TOKEN, "Bearer",       "Bearer ",           "Bearer" TOKEN,
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad_auth); i++) {
		request(&h, "127.0.0.1", port, "GET", "/healthz", bad_auth[i]);
		CHECK_EQ_INT(h.rc, CURLE_OK);
		CHECK_EQ_INT(h.status, 401);
		CHECK(has_header(&h, "\nWWW-Authenticate: Bearer"));
		CHECK(has_header(&h, "\nCache-Control: no-store"));
	}
	/* without the token the routes are indistinguishable */
	request(&h, "127.0.0.1", port, "GET", "/nope", NULL);
	CHECK_EQ_INT(h.status, 401);
	request(&h, "127.0.0.1", port, "POST", "/metrics", "Bearer bad");
	CHECK_EQ_INT(h.status, 401);

	request(&h, "127.0.0.1", port, "GET", "/healthz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	CHECK(strcmp(h.body, "ok\n") == 0);
	CHECK(has_header(&h, "\nCache-Control: no-store"));
	CHECK(has_header(&h, "\nX-Content-Type-Options: nosniff"));
	CHECK(has_header(&h, "\nContent-Type: text/plain"));
	request(&h, "127.0.0.1", port, "GET", "/healthz", "bearer   " TOKEN "  ");
	CHECK_EQ_INT(h.status, 200);

	request(&h, "127.0.0.1", port, "HEAD", "/healthz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	CHECK_EQ_INT(h.len, 0);

	request(&h, "127.0.0.1", port, "GET", "/nope", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 404);
	request(&h, "127.0.0.1", port, "GET", "/healthz/", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 404);
	request(&h, "127.0.0.1", port, "POST", "/metrics", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 405);
	CHECK(has_header(&h, "\nAllow: GET, HEAD"));
	request(&h, "127.0.0.1", port, "DELETE", "/healthz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 405);
	/* no attestation hook: 404 even without a token */
	request(&h, "127.0.0.1", port, "GET", "/attestation", NULL);
	CHECK_EQ_INT(h.status, 404);

	metrics_message(METRICS_FROM_CLIENT, 'Q');
	request(&h, "127.0.0.1", port, "GET", "/metrics", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	CHECK(has_header(&h, "\nContent-Type: text/plain; version=0.0.4"));
	CHECK(strstr(h.body, "# TYPE pgseal_client_connections_active gauge\n") != NULL);
	CHECK(strstr(h.body, "pgseal_messages_total{direction=\"from_client\",type=\"Q\"} 1\n") !=
	      NULL);
	CHECK(strstr(h.body, "pgseal_build_info{version=\"" PGSEAL_VERSION "\"} 1\n") != NULL);
	admin_stop(a);

	/* the port is released */
	request(&h, "127.0.0.1", port, "GET", "/healthz", "Bearer " TOKEN);
	CHECK(h.rc != CURLE_OK);
out:
	config_free(cfg);
}

static void test_readyz_follows_hook(void)
{
	struct http h;
	struct admin_hooks hooks = {.ready = hook_ready, .arg = NULL};
	struct config *cfg = load_config("127.0.0.1:0", "admin.token");
	struct admin *a = cfg ? start(cfg, &hooks) : NULL;
	CHECK(a != NULL);
	if (!a)
		goto out;
	int port = admin_port(a);

	atomic_store(&g_ready, true);
	atomic_store(&g_ready_calls, 0);
	request(&h, "127.0.0.1", port, "GET", "/readyz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	CHECK(strcmp(h.body, "ready\n") == 0);
	request(&h, "127.0.0.1", port, "GET", "/metrics", "Bearer " TOKEN);
	CHECK(strstr(h.body, "\npgseal_upstream_up 1\n") != NULL);
	/* the answer is cached for a second */
	atomic_store(&g_ready, false);
	request(&h, "127.0.0.1", port, "GET", "/readyz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	CHECK_EQ_INT(atomic_load(&g_ready_calls), 1);

	usleep(1100 * 1000);
	request(&h, "127.0.0.1", port, "GET", "/readyz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 503);
	CHECK(strcmp(h.body, "not ready: upstream unreachable\n") == 0);
	CHECK_EQ_INT(atomic_load(&g_ready_calls), 2);
	request(&h, "127.0.0.1", port, "GET", "/metrics", "Bearer " TOKEN);
	CHECK(strstr(h.body, "\npgseal_upstream_up 0\n") != NULL);
	request(&h, "127.0.0.1", port, "GET", "/readyz", NULL);
	CHECK_EQ_INT(h.status, 401);

	usleep(1100 * 1000);
	atomic_store(&g_ready, true);
	request(&h, "127.0.0.1", port, "GET", "/readyz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	admin_stop(a);

	/* no ready hook: never ready */
	a = start(cfg, NULL);
	CHECK(a != NULL);
	if (a) {
		request(&h, "127.0.0.1", admin_port(a), "GET", "/readyz", "Bearer " TOKEN);
		CHECK_EQ_INT(h.status, 503);
		request(&h, "127.0.0.1", admin_port(a), "GET", "/healthz", "Bearer " TOKEN);
		CHECK_EQ_INT(h.status, 200);
		admin_stop(a);
	}
out:
	config_free(cfg);
}

static void test_attestation_public(void)
{
	struct http h;
	static const char doc[] = "{\"quote\":\"00ff\",\"event_log\":[]}";
	struct admin_hooks hooks = {.attestation_json = hook_attestation, .arg = (void *)doc};
	struct config *cfg = load_config("127.0.0.1:0", "admin.token");
	struct admin *a = cfg ? start(cfg, &hooks) : NULL;
	CHECK(a != NULL);
	if (!a)
		goto out;
	int port = admin_port(a);
	request(&h, "127.0.0.1", port, "GET", "/attestation", NULL);
	CHECK_EQ_INT(h.status, 200);
	CHECK(strcmp(h.body, doc) == 0);
	CHECK(has_header(&h, "\nContent-Type: application/json"));
	CHECK(has_header(&h, "\nCache-Control: no-store"));
	request(&h, "127.0.0.1", port, "GET", "/attestation", "Bearer wrong");
	CHECK_EQ_INT(h.status, 200);
	request(&h, "127.0.0.1", port, "POST", "/attestation", NULL);
	CHECK_EQ_INT(h.status, 405);
	/* the other routes still need the token */
	request(&h, "127.0.0.1", port, "GET", "/metrics", NULL);
	CHECK_EQ_INT(h.status, 401);
	admin_stop(a);

	hooks.attestation_json = hook_attestation_fails;
	a = start(cfg, &hooks);
	CHECK(a != NULL);
	if (a) {
		request(&h, "127.0.0.1", admin_port(a), "GET", "/attestation", NULL);
		CHECK_EQ_INT(h.status, 503);
		admin_stop(a);
	}
out:
	config_free(cfg);
}

static void test_ipv6(void)
{
	struct http h;
	struct config *cfg = load_config("[::1]:0", "admin.token");
	struct admin *a = NULL;
	char err[256];
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	if (admin_start(cfg, NULL, &a, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "note: IPv6 loopback unavailable, skipped (%s)\n", err);
		goto out;
	}
	request(&h, "[::1]", admin_port(a), "GET", "/healthz", "Bearer " TOKEN);
	CHECK_EQ_INT(h.status, 200);
	admin_stop(a);
out:
	config_free(cfg);
}

static void expect_start_fails(const char *listen, const char *token_name, const char *why)
{
	struct config *cfg = load_config(listen, token_name);
	struct admin *a = (struct admin *)1;
	char err[256] = "";
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK(admin_start(cfg, NULL, &a, err, sizeof(err)) == PGS_ERR);
	CHECK(a == NULL);
	CHECK(strstr(err, why) != NULL);
	CHECK(strstr(err, TOKEN) == NULL);
	if (!strstr(err, why))
		fprintf(stderr, "error was: %s\n", err);
	config_free(cfg);
}

static void test_start_failures(void)
{
	int before = count_fds();
	expect_start_fails("127.0.0.1:0", "missing.token", "cannot open token_file");
	write_file("empty.token", "", 0600);
	expect_start_fails("127.0.0.1:0", "empty.token", "is empty");
	write_file("blank.token", "  \t\r\n" TOKEN "\n", 0600);
	expect_start_fails("127.0.0.1:0", "blank.token", "is empty");
	expect_start_fails("127.0.0.1:0", ".", "not a regular file");
	expect_start_fails("no-such-host.invalid:0", "admin.token", "cannot resolve");

	/* a port in use */
	struct config *cfg = load_config("127.0.0.1:0", "admin.token");
	struct admin *a = cfg ? start(cfg, NULL) : NULL;
	CHECK(a != NULL);
	if (a) {
		char listen[64];
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", admin_port(a));
		expect_start_fails(listen, "admin.token", "cannot listen");
		admin_stop(a);
	}
	config_free(cfg);
	admin_stop(NULL);
	CHECK_EQ_INT(count_fds(), before);
}

static void test_token_file_forms(void)
{
	struct http h;
	/* first line only, surrounding blanks and CRLF trimmed; an open mode only warns */
	write_file("crlf.token", "  " TOKEN "\r\nsecond line ignored\n", 0644);
	struct config *cfg = load_config("127.0.0.1:0", "crlf.token");
	struct admin *a = cfg ? start(cfg, NULL) : NULL;
	CHECK(a != NULL);
	if (a) {
		request(&h, "127.0.0.1", admin_port(a), "GET", "/healthz", "Bearer " TOKEN);
		CHECK_EQ_INT(h.status, 200);
		request(&h, "127.0.0.1", admin_port(a), "GET", "/healthz",
		        "Bearer second line ignored");
		CHECK_EQ_INT(h.status, 401);
		admin_stop(a);
	}
	config_free(cfg);
}

static void test_many_cycles_no_leak(void)
{
	struct http h;
	struct config *cfg = load_config("127.0.0.1:0", "admin.token");
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	int before = count_fds();
	for (int i = 0; i < 5; i++) {
		struct admin *a = start(cfg, NULL);
		CHECK(a != NULL);
		if (!a)
			break;
		request(&h, "127.0.0.1", admin_port(a), "GET", "/healthz", "Bearer " TOKEN);
		CHECK_EQ_INT(h.status, 200);
		admin_stop(a);
	}
	CHECK_EQ_INT(count_fds(), before);
	config_free(cfg);
}

static void cleanup_dir(void)
{
	static const char *const files[] = {"pgseal.yaml", "admin.token", "empty.token",
	                                    "blank.token", "crlf.token"};
	char path[256];
	for (size_t i = 0; i < PGS_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", g_dir, files[i]);
		unlink(path);
	}
	rmdir(g_dir);
}

int main(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/pgseal-admin-test-XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_setup(LOG_ERROR, LOG_TEXT);
	write_file("admin.token", TOKEN "\n", 0600);

	RUN(test_auth_and_routes);
	RUN(test_readyz_follows_hook);
	RUN(test_attestation_public);
	RUN(test_ipv6);
	RUN(test_start_failures);
	RUN(test_token_file_forms);
	RUN(test_many_cycles_no_leak);

	cleanup_dir();
	curl_global_cleanup();
	return t_summary("admin");
}
