/* test_config.c - unit tests of the YAML configuration loader: defaults, every section, and
 * rejected input with file:line. */
#include <stdlib.h>

#include "config/config.h"
#include "testlib.h"

static struct config *load(const char *yaml, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	err[0] = 0;
	if (config_load_buffer("/etc/pgseal/test.yaml", (const uint8_t *)yaml, strlen(yaml), &cfg,
	                       err, errlen) != PGS_OK)
		return NULL;
	return cfg;
}

static void test_minimal_defaults(void)
{
	char err[512];
	struct config *cfg = load("upstream: {host: db}\n", err, sizeof(err));
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK_STR(cfg->listen, "127.0.0.1:6432");
	CHECK_EQ_INT(cfg->workers, 0);
	CHECK_EQ_INT(cfg->io_engine, CFG_IO_AUTO);
	CHECK_EQ_INT(cfg->upstream.port, 5432);
	CHECK_EQ_INT(cfg->upstream.tls, CFG_TLS_DISABLE);
	CHECK_EQ_INT(cfg->max_message_size, 0x40000000);
	CHECK(!cfg->client_tls.enabled && !cfg->admin.enabled && !cfg->auth.enabled);
	CHECK_EQ_INT(cfg->log.level, LOG_INFO);
	config_free(cfg);
}

static void test_full(void)
{
	char err[512];
	const char *y =
	    "listen: \"0.0.0.0:7000\"\n"
	    "workers: 3\n"
	    "io_engine: epoll\n"
	    "max_client_connections: 50\n"
	    "startup_timeout_ms: 500\n"
	    "upstream: {host: 127.0.0.1, port: 5433, tls: verify-full, ca_file: ca.pem}\n"
	    "client_tls: {cert_file: c.pem, key_file: /abs/k.pem, ca_file: cca.pem, require: "
	    "false}\n"
	    "admin: {listen: \"127.0.0.1:9191\", token_file: admin.token}\n"
	    "auth:\n  user: pgseal_auth\n  password_file: auth.pass\n"
	    "log: {level: debug, format: json}\n"
	    "keys:\n  provider: file\n  sealing_key_file: dev.key\n  sealed_master_key: m.sealed\n "
	    " keystore: ks\n"
	    "encryptor_config_file: enc.yaml\n";
	struct config *cfg = load(y, err, sizeof(err));
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_STR(cfg->listen, "0.0.0.0:7000");
	CHECK_EQ_INT(cfg->workers, 3);
	CHECK_EQ_INT(cfg->io_engine, CFG_IO_EPOLL);
	CHECK_EQ_INT(cfg->max_client_connections, 50);
	CHECK_EQ_INT(cfg->upstream.port, 5433);
	CHECK_EQ_INT(cfg->upstream.tls, CFG_TLS_VERIFY_FULL);
	CHECK_STR(cfg->upstream.ca_file, "/etc/pgseal/ca.pem"); /* relative to the file */
	CHECK_STR(cfg->client_tls.key_file, "/abs/k.pem");
	CHECK(cfg->client_tls.enabled && !cfg->client_tls.require);
	CHECK_STR(cfg->admin.token_file, "/etc/pgseal/admin.token");
	CHECK(cfg->auth.enabled);
	CHECK(cfg->auth.query && strstr(cfg->auth.query, "pg_authid"));
	CHECK_STR(cfg->auth.database, "postgres");
	CHECK_EQ_INT(cfg->log.level, LOG_DEBUG);
	CHECK_EQ_INT(cfg->log.format, LOG_JSON);
	CHECK_STR(cfg->keys.provider, "file");
	CHECK(!cfg->keys.escrow_allowed); /* off by default */
	CHECK_STR(cfg->encryptor_config_file, "/etc/pgseal/enc.yaml");
	config_free(cfg);
}

/* Each bad config must fail, and the message must name the file, the line and the cause. */
static void expect_error(const char *yaml, const char *where, const char *what)
{
	char err[512];
	struct config *cfg = load(yaml, err, sizeof(err));
	CHECK(cfg == NULL);
	config_free(cfg);
	if (!strstr(err, where) || !strstr(err, what)) {
		fprintf(stderr, "  unexpected message: %s (wanted %s ... %s)\n", err, where, what);
		CHECK(0);
	} else {
		CHECK(1);
	}
}

static void test_escrow_key(void)
{
	char err[512];
	struct config *cfg = load("upstream: {host: db}\nkeys: {provider: env, escrow: allowed}\n",
	                          err, sizeof(err));
	CHECK(cfg && cfg->keys.escrow_allowed);
	config_free(cfg);
	cfg = load("upstream: {host: db}\nkeys: {provider: env, escrow: \"off\"}\n", err,
	           sizeof(err));
	CHECK(cfg && !cfg->keys.escrow_allowed);
	config_free(cfg);
}

static void test_rejections(void)
{
	expect_error("upstream: {host: db}\nbogus: 1\n", "test.yaml:2", "unknown key 'bogus'");
	expect_error("upstream:\n  host: db\n  prot: 5432\n", "test.yaml:3",
	             "unknown key 'prot' in 'upstream'");
	expect_error("upstream: {host: db, port: 70000}\n", "test.yaml:1", "between 1 and 65535");
	expect_error("upstream: {host: db, port: abc}\n", "test.yaml:1", "must be an integer");
	expect_error("upstream: {host: db, tls: maybe}\n", "test.yaml:1", "one of disable");
	expect_error("upstream: {host: db, tls: verify-full}\n", "test.yaml",
	             "needs 'upstream.ca_file'");
	expect_error("listen: nope\nupstream: {host: db}\n", "test.yaml",
	             "'listen' must be host:port");
	expect_error("workers: -1\nupstream: {host: db}\n", "test.yaml:1", "between 0 and 256");
	expect_error("io_engine: uring\nupstream: {host: db}\n", "test.yaml:1",
	             "one of auto, io_uring, epoll");
	expect_error("io_engine: [epoll]\nupstream: {host: db}\n", "test.yaml:1",
	             "one of auto, io_uring, epoll");
	expect_error("port: 1\n", "test.yaml:1", "unknown key 'port'");
	expect_error("listen: \"127.0.0.1:1\"\n", "test.yaml", "'upstream.host' is required");
	expect_error("upstream: {host: db}\nupstream: {host: db2}\n", "test.yaml:2",
	             "duplicate key");
	expect_error("upstream: [1, 2]\n", "test.yaml:1", "must be a mapping");
	expect_error("upstream: {host: db}\nadmin: {listen: \"127.0.0.1:1\"}\n", "test.yaml",
	             "token_file");
	expect_error("upstream: {host: db}\nauth: {user: x}\n", "test.yaml", "password_file");
	expect_error("upstream: {host: db}\nclient_tls: {cert_file: a.pem}\n", "test.yaml",
	             "go together");
	expect_error("upstream: {host: db}\nclient_tls: {require: true}\n", "test.yaml",
	             "cert_file");
	expect_error("upstream: {host: db}\nlog: {level: loud}\n", "test.yaml:2", "'level'");
	expect_error("upstream: {host: db}\nkeys: {provider: hsm}\n", "test.yaml:2", "'provider'");
	expect_error("upstream: {host: db}\nkeys: {provider: file}\n", "test.yaml",
	             "sealing_key_file");
	expect_error("upstream: {host: db}\nkeys: {provider: env, escrow: yes}\n", "test.yaml:2",
	             "'escrow' must be allowed or off");
	expect_error("upstream: {host: db}\nkeys: {provider: env, escrow: [allowed]}\n",
	             "test.yaml:2", "'escrow' must be allowed or off");
	expect_error(
	    "upstream: {host: db}\nclient_tls: {cert_file: a, key_file: b, require: perhaps}\n",
	    "test.yaml:2", "true or false");
	expect_error("upstream: {host: db\n", "test.yaml", "YAML error");
	expect_error("", "test.yaml", "empty");
	expect_error("- a\n- b\n", "test.yaml:1", "must be a mapping");
	expect_error("upstream: {host: db}\nschemas: {a: 1}\n", "test.yaml:2", "must be a list");
}

static void test_hostport(void)
{
	char host[64];
	int port;
	CHECK(config_parse_hostport("127.0.0.1:5432", host, sizeof(host), &port) == PGS_OK);
	CHECK_STR(host, "127.0.0.1");
	CHECK_EQ_INT(port, 5432);
	CHECK(config_parse_hostport("[::1]:6432", host, sizeof(host), &port) == PGS_OK);
	CHECK_STR(host, "::1");
	CHECK(config_parse_hostport("host", host, sizeof(host), &port) == PGS_ERR);
	CHECK(config_parse_hostport(":5432", host, sizeof(host), &port) == PGS_ERR);
	CHECK(config_parse_hostport("h:", host, sizeof(host), &port) == PGS_ERR);
	CHECK(config_parse_hostport("h:99999", host, sizeof(host), &port) == PGS_ERR);
	CHECK(config_parse_hostport("[::1:5", host, sizeof(host), &port) == PGS_ERR);
}

int main(void)
{
	RUN(test_minimal_defaults);
	RUN(test_full);
	RUN(test_rejections);
	RUN(test_escrow_key);
	RUN(test_hostport);
	return t_summary("test_config");
}
