/* cli_serve.c - `pgseal serve --config FILE`: hardens the process, loads the config, runs the
 * proxy; SIGHUP reloads the encryption config. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <pthread.h>

#include "cli/cli.h"
#include "common/log.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/keys_escrow.h"
#include "metrics/metrics.h"
#include "schema/schema.h"
#include "admin/admin.h"
#include "proxy/proxy.h"
#include "tee/tee.h"

/* No core dumps (they would hold keys and values), and room for many connections. */
static void harden_process(void)
{
	struct rlimit rl;
	crypto_disable_core_dumps();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* admin hooks: readiness from the proxy, GET /attestation from RA-TLS (tee_ratls.c) */
struct serve_hooks {
	struct proxy *proxy;
	struct tee_ratls *ratls;
};
static bool hook_ready(void *arg)
{
	return proxy_upstream_ready(((struct serve_hooks *)arg)->proxy);
}
static char *hook_attestation(void *arg)
{
	return tee_ratls_attestation_json(((struct serve_hooks *)arg)->ratls);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pgseal serve --config FILE\n"
	    "Runs the proxy: clients connect to `listen`, pgseal connects to `upstream`,\n"
	    "encrypts the columns of the encryption config on the way in and decrypts them\n"
	    "on the way out.\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE  the YAML configuration (required); relative paths in it are\n"
	    "                     relative to its directory. Its keys: listen, workers,\n"
	    "                     io_engine, upstream (host, port, tls, ca_file...), client_tls,\n"
	    "                     auth, admin, log, keys, encryptor_config_file or schemas.\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT stop gracefully (shutdown_timeout_ms), SIGQUIT at once,\n"
	    "SIGHUP reloads the encryption config (encryptor_config_file or the inline\n"
	    "schemas) for new sessions; an invalid one is logged and the old one stays.\n"
	    "\n"
	    "Every configuration key, with its default: README.md, section Configuration.\n"
	    "Encryption config: docs/schema.md. Keys: docs/keys.md. Admin API: docs/admin.md.\n");
}

/* Every encrypted column gets its keys before a session can use it: no key is created
 * mid-session. */
static int schema_keys(struct keys *keys, const struct schema *schema, char *err, size_t errlen)
{
	if (schema->nencrypted == 0)
		return PGS_OK;
	if (!keys) {
		pgs_errf(err, errlen,
		         "the schema encrypts %zu column(s) but the config has no `keys:` section",
		         schema->nencrypted);
		return PGS_ERR;
	}
	for (size_t i = 0; i < schema->ntables; i++) {
		const struct schema_table *t = &schema->tables[i];
		for (size_t j = 0; j < t->nencrypted; j++) {
			const struct schema_column *col = &t->encrypted[j];
			char e2[512];
			if (keys_ensure_column(keys, col->client_id, t->name, col->name, e2,
			                       sizeof(e2)) != PGS_OK) {
				pgs_errf(err, errlen, "keys for %s: %s", col->qualified, e2);
				return PGS_ERR;
			}
		}
	}
	return PGS_OK;
}

/* SIGHUP: the config file is read again and its encryption config loaded and checked off
 * to the side; only then do new sessions get it. Any error keeps the running schema. Only
 * the encryption config is reloaded: other settings need a restart. */
struct serve_reload {
	const char *config_path;
	struct keys *keys;
	struct proxy *proxy;
};
static void reload_schema(void *arg)
{
	struct serve_reload *r = arg;
	struct config *cfg = NULL;
	struct schema *s = NULL;
	char err[1024];
	if (config_load(r->config_path, &cfg, err, sizeof(err)) != PGS_OK ||
	    schema_load(cfg, &s, err, sizeof(err)) != PGS_OK ||
	    schema_keys(r->keys, s, err, sizeof(err)) != PGS_OK) {
		log_error("SIGHUP: the encryption config was NOT reloaded (the running one stays): "
		          "%s",
		          err);
		metrics_reload(false);
	} else {
		proxy_set_schema(r->proxy, s);
		log_info("SIGHUP: encryption config reloaded: %zu column(s) in %zu table(s); new "
		         "sessions use it, open sessions keep theirs (settings other than the "
		         "encryption config need a restart)",
		         s->nencrypted, s->ntables);
		metrics_reload(true);
	}
	schema_unref(s);
	config_free(cfg);
}

int cli_serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	char err[1024];
	struct config *cfg = NULL;
	struct proxy *proxy = NULL;
	struct admin *admin = NULL;
	struct keys *keys = NULL;
	struct schema *schema = NULL;
	struct tee_ratls *ratls = NULL;
	struct serve_hooks sh = {0};
	struct serve_reload rl = {0};
	int opt, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	harden_process();
	if (config_load(config_path, &cfg, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal: %s\n", err);
		return 2;
	}
	log_setup(cfg->log.level, cfg->log.format);
	if (cfg->keys.enabled) {
		/* unseal (or, on first boot, create and seal) the master key before anything
		 * listens */
		if (keys_open(cfg, true, &keys, err, sizeof(err)) != PGS_OK) {
			log_error("cannot open the keys: %s", err);
			goto out;
		}
		log_info("keys: provider %s, sealed master key %s%s", keys_provider_name(keys),
		         keys_sealed_path(keys),
		         keys_created_now(keys) ? " (created on this first boot)" : "");
		metrics_key_escrow(keys_escrow_allowed(cfg),
		                   keys_escrow_recorded(keys_keystore_path(keys)));
		if (keys_escrow_allowed(cfg))
			log_warn("keys: keys.escrow is allowed: `pgseal keys escrow` may split the "
			         "master "
			         "key out to custodians (shown in /metrics and /attestation)");
	}

	if (schema_load(cfg, &schema, err, sizeof(err)) != PGS_OK) {
		log_error("cannot load the encryption schema: %s", err);
		goto out;
	}
	if (schema_keys(keys, schema, err, sizeof(err)) != PGS_OK) {
		log_error("%s", err);
		goto out;
	}
	if (schema->nencrypted > 0)
		log_info("encryption: %zu column(s) in %zu table(s)", schema->nencrypted,
		         schema->ntables);

	/* RA-TLS: the quote binding the client TLS key (provider dstack only) */
	if (tee_ratls_setup(cfg, &ratls, err, sizeof(err)) != PGS_OK) {
		log_error("cannot attest: %s", err);
		goto out;
	}
	if (proxy_create(cfg, keys, schema, tee_ratls_ssl_ctx(ratls), &proxy, err, sizeof(err)) !=
	    PGS_OK) {
		log_error("cannot start: %s", err);
		goto out;
	}
	/* block the signals before any thread starts: proxy_run takes them with sigwait */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cfg->admin.enabled) {
		sh = (struct serve_hooks){.proxy = proxy, .ratls = ratls};
		struct admin_hooks hooks = {.ready = hook_ready,
		                            .attestation_json = ratls ? hook_attestation : NULL,
		                            .arg = &sh};
		if (admin_start(cfg, &hooks, &admin, err, sizeof(err)) != PGS_OK) {
			log_error("cannot start the admin API: %s", err);
			goto out;
		}
		log_info("admin API on %s", cfg->admin.listen);
	}
	rl = (struct serve_reload){.config_path = config_path, .keys = keys, .proxy = proxy};
	proxy_set_reload(proxy, reload_schema, &rl);
	if (proxy_run(proxy) != PGS_OK)
		goto out;
	rc = 0;
out:
	admin_stop(admin);
	proxy_free(proxy);
	schema_unref(schema);
	tee_ratls_free(ratls);
	keys_close(keys);
	config_free(cfg);
	return rc;
}
