/* test_ratls.c - RA-TLS: certificate built and parsed back, binding, SANs, set-up against
 * pgseal-dstack-sim, no key on disk. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attest/attest.h"
#include "crypto/crypto.h"
#include "config/config.h"
#include "tee/tee.h"
#include "testlib.h"

static char tmpdir[128];

static int cert_der(X509 *x, uint8_t **der)
{
	*der = NULL;
	return i2d_X509(x, der);
}

static void test_build_cert(void)
{
	uint8_t quote[1200], binding[64], again[64];
	const char *evlog =
	    "[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"app-id\","
	    "\"event_payload\":\"00\"}]";
	char err[256];
	X509 *x = NULL;
	for (size_t i = 0; i < sizeof(quote); i++)
		quote[i] = (uint8_t)(i * 7 + 3);
	quote[0] = 4, quote[1] = 0;
	EVP_PKEY *key = tee_ratls_generate_key();
	CHECK(key != NULL);
	CHECK(EVP_PKEY_is_a(key, "EC"));
	CHECK(attest_ratls_report_data_for_key(key, binding) == PGS_OK);
	CHECK(attest_ratls_report_data_for_key(key, again) == PGS_OK &&
	      !memcmp(binding, again, 64));
	CHECK(tee_ratls_build_cert(key, "DNS:localhost,IP:127.0.0.1", quote, sizeof(quote), evlog,
	                           &x, err, sizeof(err)) == PGS_OK);
	if (!x)
		goto out;
	/* self-signed by the key, CN pgseal, version 3 */
	CHECK(X509_verify(x, key) == 1);
	CHECK(X509_check_private_key(x, key) == 1);
	CHECK_EQ_INT(X509_get_version(x), X509_VERSION_3);
	char cn[64] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	CHECK_STR(cn, "pgseal");
	CHECK(X509_check_host(x, "localhost", 0, 0, NULL) == 1);
	CHECK(X509_check_ip_asc(x, "127.0.0.1", 0) == 1);
	CHECK(X509_check_ca(x) == 0);
	/* the extensions: non-critical, extnValue = DER OCTET STRING(bytes) */
	ASN1_OBJECT *oq = OBJ_txt2obj(ATTEST_OID_RATLS_QUOTE, 1);
	int idx = X509_get_ext_by_OBJ(x, oq, -1);
	CHECK(idx >= 0);
	if (idx >= 0) {
		X509_EXTENSION *e = X509_get_ext(x, idx);
		CHECK(X509_EXTENSION_get_critical(e) == 0);
		ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		const unsigned char *p = ASN1_STRING_get0_data(v);
		long n = ASN1_STRING_length(v);
		ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &p, n);
		CHECK(inner && p == ASN1_STRING_get0_data(v) + n);
		CHECK(inner && ASN1_STRING_length(inner) == (int)sizeof(quote) &&
		      !memcmp(ASN1_STRING_get0_data(inner), quote, sizeof(quote)));
		ASN1_OCTET_STRING_free(inner);
	}
	ASN1_OBJECT_free(oq);
	/* the verifier's parser reads them back and computes the same binding */
	uint8_t *der = NULL;
	int dl = cert_der(x, &der);
	struct attest_peer peer;
	CHECK(dl > 0 && attest_ratls_from_cert(der, (size_t)dl, &peer, err, sizeof(err)) == PGS_OK);
	CHECK(peer.quote_len == sizeof(quote) && !memcmp(peer.quote, quote, sizeof(quote)));
	CHECK(peer.event_log && !strcmp(peer.event_log, evlog));
	CHECK(!memcmp(peer.expected_report_data, binding, 64));
	attest_peer_free(&peer);
	OPENSSL_free(der);
	X509_free(x);
	x = NULL;
	/* without an event log: no .2 extension */
	CHECK(tee_ratls_build_cert(key, "DNS:localhost", quote, 100, NULL, &x, err, sizeof(err)) ==
	      PGS_OK);
	if (x) {
		ASN1_OBJECT *oe = OBJ_txt2obj(ATTEST_OID_RATLS_EVENT_LOG, 1);
		CHECK(X509_get_ext_by_OBJ(x, oe, -1) < 0);
		ASN1_OBJECT_free(oe);
	}
	/* an invalid SAN is an error, not a certificate without names */
	X509 *bad = NULL;
	CHECK(tee_ratls_build_cert(key, "NOTAKIND:x", quote, 100, NULL, &bad, err, sizeof(err)) ==
	      PGS_ERR);
	CHECK(bad == NULL);
	/* two keys, two bindings */
	EVP_PKEY *k2 = tee_ratls_generate_key();
	CHECK(k2 && attest_ratls_report_data_for_key(k2, again) == PGS_OK &&
	      memcmp(binding, again, 64) != 0);
	EVP_PKEY_free(k2);
out:
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_san(void)
{
	char s[512];
	tee_ratls_san_for_listen("127.0.0.1:6432", s, sizeof(s));
	CHECK_STR(s, "DNS:localhost,IP:127.0.0.1,IP:::1");
	tee_ratls_san_for_listen("127.0.0.2:6432", s, sizeof(s));
	CHECK_STR(s, "DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:::1");
	tee_ratls_san_for_listen("[::1]:6432", s, sizeof(s));
	CHECK_STR(s, "DNS:localhost,IP:127.0.0.1,IP:::1");
	tee_ratls_san_for_listen("localhost:6432", s, sizeof(s));
	CHECK_STR(s, "DNS:localhost,IP:127.0.0.1,IP:::1");
	tee_ratls_san_for_listen("10.1.2.3:6432", s, sizeof(s));
	CHECK_STR(s, "IP:10.1.2.3");
	tee_ratls_san_for_listen("db.example.com:6432", s, sizeof(s));
	CHECK_STR(s, "DNS:db.example.com");
	tee_ratls_san_for_listen("0.0.0.0:6432", s, sizeof(s));
	CHECK(strstr(s, "DNS:localhost,IP:127.0.0.1") != NULL);
	tee_ratls_san_for_listen("bad,name:6432", s, sizeof(s)); /* never injected into the SAN */
	CHECK_STR(s, "DNS:localhost");
	tee_ratls_san_for_listen(NULL, s, sizeof(s));
	CHECK_STR(s, "DNS:localhost,IP:127.0.0.1,IP:::1");
}

static struct config *load_cfg(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512];
	if (config_load_buffer("ratls.yaml", (const uint8_t *)yaml, strlen(yaml), &cfg, err,
	                       sizeof(err)) != PGS_OK) {
		fprintf(stderr, "config: %s\n", err);
		return NULL;
	}
	return cfg;
}

static void test_no_tee(void)
{
	char err[256];
	struct tee_ratls *r = (struct tee_ratls *)1;
	struct config *cfg = load_cfg("listen: \"127.0.0.1:6432\"\n"
	                              "upstream: {host: 127.0.0.1, port: 5432, tls: disable}\n"
	                              "keys: {provider: file, sealing_key_file: k.bin}\n");
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK(tee_ratls_setup(cfg, &r, err, sizeof(err)) == PGS_OK);
	CHECK(r == NULL);
	CHECK(tee_ratls_ssl_ctx(NULL) == NULL);
	CHECK(tee_ratls_attestation_json(NULL) == NULL);
	tee_ratls_free(NULL);
	config_free(cfg);
}

/* ---- against the simulator ------------------------------------------------------------ */

static pid_t sim = -1;
static char sock[256];

static int start_sim(void)
{
	const char *bin = getenv("PGSEAL_SIM");
	char def[512];
	if (!bin) {
		snprintf(def, sizeof(def), "%s/build/pgseal-dstack-sim",
		         getenv("PGSEAL_ROOT") ? getenv("PGSEAL_ROOT") : ".");
		bin = def;
	}
	if (access(bin, X_OK) != 0)
		return -1;
	snprintf(sock, sizeof(sock), "%s/sim/dstack.sock", tmpdir);
	char d[200];
	snprintf(d, sizeof(d), "%s/sim", tmpdir);
	mkdir(d, 0700);
	sim = fork();
	if (sim == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		execl(bin, bin, "--socket", sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct stat st;
		if (stat(sock, &st) == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static void stop_sim(void)
{
	if (sim > 0) {
		kill(sim, SIGTERM);
		waitpid(sim, NULL, 0);
		sim = -1;
	}
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	if (d)
		closedir(d);
	return d != NULL && empty;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

/* The /attestation document of r: its quote's report_data binds cert's key. */
static void check_doc(struct tee_ratls *r, X509 *served, const char *source)
{
	char *doc = tee_ratls_attestation_json(r);
	json_error_t je;
	json_t *j = doc ? json_loads(doc, 0, &je) : NULL;
	CHECK(j != NULL);
	if (!j) {
		free(doc);
		return;
	}
	CHECK_STR(json_string_value(json_object_get(j, "provider")), "dstack-simulator");
	CHECK_STR(json_string_value(json_object_get(j, "certificate_source")), source);
	json_t *b = json_object_get(j, "binding");
	CHECK_STR(json_string_value(json_object_get(b, "method")), ATTEST_RATLS_BINDING);
	json_t *app = json_object_get(j, "app");
	const char *app_id = json_string_value(json_object_get(app, "app_id"));
	CHECK(app_id && strlen(app_id) == 40);
	CHECK(json_string_value(json_object_get(app, "compose_hash")) != NULL);
	CHECK(json_string_value(json_object_get(app, "instance_id")) != NULL);
	CHECK_STR(json_string_value(json_object_get(app, "app_name")), "pgseal");
	CHECK(json_is_array(json_object_get(j, "event_log")));
	CHECK(json_is_string(json_object_get(j, "vm_config")));
	/* the certificate in the document is the served one */
	X509 *x = pem_cert(json_string_value(json_object_get(j, "certificate")));
	CHECK(x && served && X509_cmp(x, served) == 0);
	/* quote report_data == binding of that certificate's key == binding.report_data */
	const char *qhex = json_string_value(json_object_get(j, "quote"));
	size_t ql = qhex ? strlen(qhex) / 2 : 0;
	uint8_t *q = pgs_xmalloc(ql + 1), rd[64];
	struct attest_quote aq;
	char err[256];
	CHECK(qhex && pgs_unhex(qhex, 2 * ql, q, ql) == PGS_OK);
	CHECK(attest_quote_parse(q, ql, &aq, err, sizeof(err)) == PGS_OK);
	uint8_t *der = NULL;
	int dl = x ? i2d_X509(x, &der) : -1;
	struct attest_peer peer;
	memset(&peer, 0, sizeof(peer));
	if (dl > 0 && attest_ratls_from_cert(der, (size_t)dl, &peer, err, sizeof(err)) != PGS_OK &&
	    !strcmp(source, "ra-tls"))
		CHECK(!"the generated certificate carries a quote");
	CHECK(!memcmp(aq.td.report_data, peer.expected_report_data, 64));
	CHECK(pgs_unhex(json_string_value(json_object_get(b, "report_data")), 128, rd, 64) ==
	      PGS_OK);
	CHECK(!memcmp(rd, peer.expected_report_data, 64));
	if (!strcmp(source, "ra-tls")) /* the certificate carries the same quote */
		CHECK(peer.quote_len == ql && !memcmp(peer.quote, q, ql) && peer.event_log);
	attest_peer_free(&peer);
	OPENSSL_free(der);
	X509_free(x);
	free(q);
	json_decref(j);
	free(doc);
}

static void test_setup_generated(void)
{
	char yaml[1024], err[512], cwd[512], work[200];
	struct tee_ratls *r = NULL;
	snprintf(yaml, sizeof(yaml),
	         "listen: \"127.0.0.1:6432\"\n"
	         "upstream: {host: 127.0.0.1, port: 5432, tls: disable}\n"
	         "client_tls: {require: true}\n"
	         "keys: {provider: dstack, dstack_endpoint: \"%s\"}\n",
	         sock);
	struct config *cfg = load_cfg(yaml);
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	/* run in an empty directory: nothing (no key) may appear in it */
	snprintf(work, sizeof(work), "%s/cwd", tmpdir);
	mkdir(work, 0700);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir(work) == 0);
	int rc = tee_ratls_setup(cfg, &r, err, sizeof(err));
	CHECK(chdir(cwd) == 0);
	CHECK(rc == PGS_OK);
	if (rc != PGS_OK)
		fprintf(stderr, "setup: %s\n", err);
	CHECK(dir_empty(work));
	CHECK(r != NULL);
	if (r) {
		SSL_CTX *ctx = tee_ratls_ssl_ctx(r);
		CHECK(ctx != NULL);
		CHECK_STR(tee_ratls_provider(r), "dstack-simulator");
		X509 *served = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
		EVP_PKEY *key = ctx ? SSL_CTX_get0_privatekey(ctx) : NULL;
		CHECK(served && key && X509_check_private_key(served, key) == 1);
		check_doc(r, served, "ra-tls");
		/* the verifier's parser agrees */
		uint8_t *der = NULL;
		int dl = served ? i2d_X509(served, &der) : -1;
		struct attest_peer peer;
		CHECK(dl > 0 &&
		      attest_ratls_from_cert(der, (size_t)dl, &peer, err, sizeof(err)) == PGS_OK);
		uint8_t b[64];
		CHECK(key && attest_ratls_report_data_for_key(key, b) == PGS_OK &&
		      !memcmp(b, peer.expected_report_data, 64));
		attest_peer_free(&peer);
		OPENSSL_free(der);
	}
	tee_ratls_free(r);
	/* an unreachable agent is an error with the endpoint named */
	free(cfg->keys.dstack_endpoint);
	cfg->keys.dstack_endpoint = pgs_xstrdup("/nonexistent/dstack.sock");
	r = NULL;
	CHECK(tee_ratls_setup(cfg, &r, err, sizeof(err)) == PGS_ERR);
	CHECK(r == NULL && strstr(err, "/nonexistent/dstack.sock") != NULL);
	config_free(cfg);
}

static void test_setup_cert_file(void)
{
	char yaml[1024], err[512], certp[256], keyp[256];
	struct tee_ratls *r = NULL;
	snprintf(certp, sizeof(certp), "%s/c.pem", tmpdir);
	snprintf(keyp, sizeof(keyp), "%s/k.pem", tmpdir);
	/* a configured certificate, made here */
	EVP_PKEY *k = tee_ratls_generate_key();
	X509 *x = NULL;
	CHECK(tee_ratls_build_cert(k, "DNS:localhost", (const uint8_t *)"\4\0", 2, NULL, &x, err,
	                           sizeof(err)) == PGS_OK);
	FILE *f = fopen(certp, "w");
	CHECK(f && x && PEM_write_X509(f, x) == 1);
	if (f)
		fclose(f);
	f = fopen(keyp, "w");
	CHECK(f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	if (f)
		fclose(f);
	snprintf(yaml, sizeof(yaml),
	         "listen: \"127.0.0.1:6432\"\n"
	         "upstream: {host: 127.0.0.1, port: 5432, tls: disable}\n"
	         "client_tls: {cert_file: \"%s\", key_file: \"%s\"}\n"
	         "keys: {provider: dstack, dstack_endpoint: \"%s\"}\n",
	         certp, keyp, sock);
	struct config *cfg = load_cfg(yaml);
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK(tee_ratls_setup(cfg, &r, err, sizeof(err)) == PGS_OK);
		CHECK(r != NULL);
		CHECK(tee_ratls_ssl_ctx(r) == NULL); /* the proxy loads cert_file itself */
		if (r)
			check_doc(r, x, "cert_file");
		tee_ratls_free(r);
		config_free(cfg);
	}
	X509_free(x);
	EVP_PKEY_free(k);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgseal-ratls-test-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv("DSTACK_SIMULATOR_ENDPOINT");
	RUN(test_build_cert);
	RUN(test_san);
	RUN(test_no_tee);
	if (start_sim() == 0) {
		RUN(test_setup_generated);
		RUN(test_setup_cert_file);
	} else {
		fprintf(stderr,
		        "SKIP set-up tests: build/pgseal-dstack-sim not found (run from the "
		        "repository root, or set PGSEAL_ROOT / PGSEAL_SIM)\n");
	}
	stop_sim();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return t_summary("ratls");
}
