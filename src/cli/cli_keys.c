/* cli_keys.c - `pgseal keys init [--new-keystore]|status|rotate --config FILE` and `pgseal keys
 * client-id CERT.pem`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/log.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "keys/keys.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pgseal keys init --config FILE [--new-keystore]\n"
	           "       pgseal keys status --config FILE\n"
	           "       pgseal keys rotate --config FILE [--column TABLE.COLUMN] [--client ID]\n"
	           "       pgseal keys rotate --config FILE --master\n"
	           "       pgseal keys client-id CERT.pem\n");
}

static int client_id_main(int argc, char **argv)
{
	char id[KEYS_CLIENT_ID_LEN + 1], err[512];
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (keys_client_id_pem_file(argv[1], id, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal keys client-id: %s\n", err);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

static void print_status(struct keys *k)
{
	printf("provider: %s\n", keys_provider_name(k));
	printf("sealed_master_key: %s\n", keys_sealed_path(k));
	printf("keystore: %s\n", keys_keystore_path(k));
	printf("master_generation: %u\n", keys_master_generation(k));
	size_t n = keys_entry_count(k);
	printf("keys: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		struct keys_entry_info e;
		char when[32] = "?";
		if (keys_entry_get(k, i, &e) != PGS_OK)
			break;
		time_t t = (time_t)e.created;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("  %s.%s client=%s kind=%s version=%u created=%s%s\n", e.table, e.column,
		       *e.client_id ? e.client_id : "(default)", e.kind, e.version, when,
		       e.current ? " current" : "");
	}
}

int cli_keys_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"column", required_argument, NULL, 'C'},
	                                     {"client", required_argument, NULL, 'i'},
	                                     {"master", no_argument, NULL, 'm'},
	                                     {"new-keystore", no_argument, NULL, 'n'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *cfgfile = NULL, *column = NULL, *client = NULL;
	bool master = false, new_keystore = false;
	struct config *cfg = NULL;
	struct keys *k = NULL;
	char err[1024];
	int rc = 1, o;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "client-id"))
		return client_id_main(argc - 1, argv + 1);
	if (strcmp(cmd, "init") != 0 && strcmp(cmd, "status") != 0 && strcmp(cmd, "rotate") != 0) {
		fprintf(stderr, "pgseal keys: unknown subcommand '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfgfile = optarg;
			break;
		case 'C':
			column = optarg;
			break;
		case 'i':
			client = optarg;
			break;
		case 'm':
			master = true;
			break;
		case 'n':
			new_keystore = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!cfgfile || optind != argc - 1 ||
	    (strcmp(cmd, "rotate") != 0 && (column || client || master)) ||
	    (master && (column || client)) || (new_keystore && strcmp(cmd, "init") != 0)) {
		usage(stderr);
		return 2;
	}
	crypto_disable_core_dumps();
	if (config_load(cfgfile, &cfg, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal keys: %s\n", err);
		return 2;
	}
	log_setup(cfg->log.level, cfg->log.format);

	if (!strcmp(cmd, "init") && new_keystore) {
		/* a lost keystore, replaced on purpose: rows already stored stay undecryptable */
		if (keys_open_ex(cfg, KEYS_OPEN_NEW_KEYSTORE, &k, err, sizeof(err)) != PGS_OK) {
			fprintf(stderr, "pgseal keys init --new-keystore: %s\n", err);
			goto out;
		}
		printf("new empty keystore: %s\n", keys_keystore_path(k));
		printf("sealed master key kept: %s\n", keys_sealed_path(k));
		rc = 0;
	} else if (!strcmp(cmd, "init")) {
		if (keys_open_ex(cfg, KEYS_OPEN_CREATE | KEYS_OPEN_INIT_ONLY, &k, err,
		                 sizeof(err)) != PGS_OK) {
			fprintf(stderr, "pgseal keys init: %s\n", err);
			goto out;
		}
		if (!keys_created_now(k)) {
			fprintf(stderr,
			        "pgseal keys init: %s already exists: refusing to overwrite it\n",
			        keys_sealed_path(k));
			goto out;
		}
		printf("sealed master key created: %s\n", keys_sealed_path(k));
		printf("keystore: %s\n", keys_keystore_path(k));
		rc = 0;
	} else if (!strcmp(cmd, "status")) {
		if (keys_open(cfg, false, &k, err, sizeof(err)) != PGS_OK) {
			fprintf(stderr, "pgseal keys status: %s\n", err);
			goto out;
		}
		print_status(k);
		rc = 0;
	} else {
		if (keys_open_ex(cfg, master ? KEYS_OPEN_KEEP_SEALING : 0, &k, err, sizeof(err)) !=
		    PGS_OK) {
			fprintf(stderr, "pgseal keys rotate: %s\n", err);
			goto out;
		}
		if (master) {
			if (keys_rotate_master(k, err, sizeof(err)) != PGS_OK) {
				fprintf(stderr, "pgseal keys rotate --master: %s\n", err);
				goto out;
			}
			printf("master key rotated: generation %u\n", keys_master_generation(k));
			rc = 0;
			goto out;
		}
		char table[256] = "";
		const char *col = NULL;
		if (column) {
			const char *dot = strrchr(column, '.');
			if (!dot || dot == column || !dot[1] ||
			    (size_t)(dot - column) >= sizeof(table)) {
				fprintf(stderr,
				        "pgseal keys rotate: --column wants TABLE.COLUMN\n");
				rc = 2;
				goto out;
			}
			memcpy(table, column, (size_t)(dot - column));
			table[dot - column] = '\0';
			col = dot + 1;
			/* a column with no keys yet gets its first version, and no rotation */
			size_t before = keys_entry_count(k);
			if (keys_ensure_column(k, client, table, col, err, sizeof(err)) != PGS_OK) {
				fprintf(stderr, "pgseal keys rotate: %s\n", err);
				goto out;
			}
			if (keys_entry_count(k) != before) {
				print_status(k);
				rc = 0;
				goto out;
			}
		}
		if (keys_rotate_data(k, client, column ? table : NULL, col, err, sizeof(err)) !=
		    PGS_OK) {
			fprintf(stderr, "pgseal keys rotate: %s\n", err);
			goto out;
		}
		print_status(k);
		rc = 0;
	}
out:
	keys_close(k);
	config_free(cfg);
	return rc;
}
