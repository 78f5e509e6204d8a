/* cli_schema.c - `pgseal schema --config FILE [--constraints-only]`: prints the migration DDL for
 * the encrypted columns, offline. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "schema/schema.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pgseal schema --config FILE [--constraints-only]\n"
	    "Prints the SQL that turns the encrypted columns of the configuration into bytea,\n"
	    "indexes the searchable ones and adds a CHECK constraint per column that accepts\n"
	    "only pgseal records. --constraints-only: just those constraints, for tables\n"
	    "migrated before (added NOT VALID, then validated). Needs no database and no keys.\n");
}

int cli_schema_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"constraints-only", no_argument, NULL, 'C'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *cfgfile = NULL;
	struct config *cfg = NULL;
	struct schema *s = NULL;
	char err[1024];
	int o, rc = 2;
	bool constraints_only = false;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfgfile = optarg;
			break;
		case 'C':
			constraints_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!cfgfile || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config_load(cfgfile, &cfg, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal schema: %s\n", err);
		return 2;
	}
	if (schema_load(cfg, &s, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal schema: %s\n", err);
		goto out;
	}
	if ((constraints_only ? schema_print_constraints(s, stdout)
	                      : schema_print_ddl(s, stdout)) != PGS_OK ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "pgseal schema: cannot write the DDL\n");
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	schema_free(s);
	config_free(cfg);
	return rc;
}
