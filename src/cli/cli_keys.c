/* cli_keys.c - `pgseal keys init [--new-keystore]|status|rotate|escrow|recover --config FILE` and
 * `pgseal keys client-id CERT.pem`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/log.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/keys_escrow.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: pgseal keys init --config FILE [--new-keystore]\n"
	        "       pgseal keys status --config FILE\n"
	        "       pgseal keys rotate --config FILE [--column TABLE.COLUMN] [--client ID]\n"
	        "       pgseal keys rotate --config FILE --master\n"
	        "       pgseal keys escrow --config FILE --threshold K --to CERT[,CERT...] --out "
	        "DIR\n"
	        "       pgseal keys recover --config FILE --shares FILE[,FILE...] [--manifest "
	        "FILE]\n"

	        "       pgseal keys client-id CERT.pem\n"
	        "\n"
	        "  init       create and seal the master key and an empty keystore (serve does\n"
	        "             it on first boot too); --new-keystore: an empty keystore under the\n"
	        "             existing master key, when the keystore was lost\n"
	        "  status     the master key's provider and every data key (never key material)\n"
	        "  rotate     a new data key version for a column (or every column), or a new\n"
	        "             master key (--master); old versions still decrypt\n"
	        "  escrow     split the master key into shares for custodians (threshold K of\n"
	        "             N; needs keys.escrow: allowed); recover: re-seal it from K shares\n"
	        "  client-id  the id a `client_id` rule names for this client certificate\n"
	        "FILE is the pgseal config (its `keys:` section). Docs: docs/keys.md.\n");
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

/* Splits "a,b,c" in place (empty entries skipped); returns the count, 0 when over max. */
static unsigned split_list(char *s, char **out, unsigned max)
{
	unsigned n = 0;
	for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return 0;
		out[n++] = t;
	}
	return n;
}

static int escrow_main(struct config *cfg, const char *threshold, char *to, const char *outdir)
{
	char *certs[KEYS_SHAMIR_MAX_SHARES + 1], err[1024], *end = NULL;
	struct keys *k = NULL;
	unsigned n = to ? split_list(to, certs, KEYS_SHAMIR_MAX_SHARES + 1) : 0;
	long t = threshold ? strtol(threshold, &end, 10) : 0;
	int rc = 1;
	if (!threshold || !to || !outdir || *end || n == 0) {
		usage(stderr);
		return 2;
	}
	if (!cfg->keys.enabled) {
		fprintf(stderr, "pgseal keys escrow: the configuration has no keys: section\n");
		return 2;
	}
	if (!keys_escrow_allowed(cfg)) {
		fprintf(stderr,
		        "pgseal keys escrow: refused: this configuration does not allow "
		        "escrow of the master key (set keys.escrow: allowed; docs/keys.md)\n");
		return 1;
	}
	if (t < 2 || t > (long)n || n > KEYS_SHAMIR_MAX_SHARES) {
		fprintf(stderr,
		        "pgseal keys escrow: --threshold %ld with %u certificates: need 2 <= K <= "
		        "N <= %u\n",
		        t, n, KEYS_SHAMIR_MAX_SHARES);
		return 2;
	}
	if (keys_open(cfg, false, &k, err, sizeof(err)) != PGS_OK ||
	    keys_escrow_write(k, (unsigned)t, (const char *const *)certs, n, outdir, err,
	                      sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal keys escrow: %s\n", err);
		goto out;
	}
	printf("escrowed master key generation %u: %u shares, threshold %ld\n",
	       keys_master_generation(k), n, t);
	for (unsigned i = 0; i < n; i++)
		printf("  %s/share-%u.cms -> %s\n", outdir, i + 1, certs[i]);
	printf("  %s/manifest.json\n", outdir);
	rc = 0;
out:
	keys_close(k);
	return rc;
}

static int recover_main(struct config *cfg, char *shares, const char *manifest)
{
	char *files[KEYS_SHAMIR_MAX_SHARES + 1], err[1024], *mpath = NULL;
	unsigned n = shares ? split_list(shares, files, KEYS_SHAMIR_MAX_SHARES + 1) : 0;
	struct keys *k = NULL;
	int rc = 1;
	if (n == 0) {
		usage(stderr);
		return 2;
	}
	if (!cfg->keys.enabled) {
		fprintf(stderr, "pgseal keys recover: the configuration has no keys: section\n");
		return 2;
	}
	if (!manifest) { /* default: manifest.json next to the first share */
		const char *slash = strrchr(files[0], '/');
		size_t dl = slash ? (size_t)(slash - files[0]) : 1;
		mpath = pgs_xmalloc(dl + 16);
		snprintf(mpath, dl + 16, "%.*s/manifest.json", (int)dl, slash ? files[0] : ".");
		manifest = mpath;
	}
	if (keys_escrow_recover(cfg, manifest, (const char *const *)files, n, err, sizeof(err)) !=
	    PGS_OK) {
		fprintf(stderr, "pgseal keys recover: %s\n", err);
		goto out;
	}
	/* env: the provider's secret was consumed by the sealing; others are opened again to
	 * show the keystore back in service */
	if (strcmp(cfg->keys.provider ? cfg->keys.provider : "dstack", "env") != 0) {
		if (keys_open(cfg, false, &k, err, sizeof(err)) != PGS_OK) {
			fprintf(stderr, "pgseal keys recover: sealed, but reopening failed: %s\n",
			        err);
			goto out;
		}
		printf("recovered: master key generation %u sealed by provider %s into %s; "
		       "keystore %s (%zu keys) in service\n",
		       keys_master_generation(k), keys_provider_name(k), keys_sealed_path(k),
		       keys_keystore_path(k), keys_entry_count(k));
	} else {
		printf("recovered: master key sealed by provider env\n");
	}
	rc = 0;
out:
	keys_close(k);
	free(mpath);
	return rc;
}

int cli_keys_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"column", required_argument, NULL, 'C'},
	    {"client", required_argument, NULL, 'i'}, {"master", no_argument, NULL, 'm'},
	    {"new-keystore", no_argument, NULL, 'n'}, {"threshold", required_argument, NULL, 't'},
	    {"to", required_argument, NULL, 'T'},     {"out", required_argument, NULL, 'o'},
	    {"shares", required_argument, NULL, 's'}, {"manifest", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	const char *cfgfile = NULL, *column = NULL, *client = NULL, *threshold = NULL,
	           *outdir = NULL, *manifest = NULL;
	char *to = NULL, *shares = NULL;
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
	bool escrow = !strcmp(cmd, "escrow"), recover = !strcmp(cmd, "recover");
	if (strcmp(cmd, "init") != 0 && strcmp(cmd, "status") != 0 && strcmp(cmd, "rotate") != 0 &&
	    !escrow && !recover) {
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
		case 't':
			threshold = optarg;
			break;
		case 'T':
			to = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 's':
			shares = optarg;
			break;
		case 'M':
			manifest = optarg;
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
	    (master && (column || client)) || (new_keystore && strcmp(cmd, "init") != 0) ||
	    ((threshold || to || outdir) && !escrow) || ((shares || manifest) && !recover)) {
		usage(stderr);
		return 2;
	}
	crypto_disable_core_dumps();
	if (config_load(cfgfile, &cfg, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal keys: %s\n", err);
		return 2;
	}
	log_setup(cfg->log.level, cfg->log.format);

	if (escrow) {
		rc = escrow_main(cfg, threshold, to, outdir);
	} else if (recover) {
		rc = recover_main(cfg, shares, manifest);
	} else if (!strcmp(cmd, "init") && new_keystore) {
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
