/* cli_schema.c - `pgseal schema --config FILE [--table T]... [--constraints-only]`: prints the
 * migration DDL for the encrypted columns, offline. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "schema/schema.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: pgseal schema --config FILE [--table TABLE]... [--constraints-only]\n"
	        "Prints the SQL that turns the encrypted columns of the configuration into bytea,\n"
	        "indexes the searchable ones and adds a CHECK constraint per column that accepts\n"
	        "only pgseal records. Needs no database and no keys; run its output with\n"
	        "  pgseal schema --config FILE | psql -v ON_ERROR_STOP=1 -d DATABASE\n"
	        "Each table is migrated on its own: one that does not exist yet is skipped, one\n"
	        "whose columns still hold unencrypted values is left unchanged (a WARNING each).\n"
	        "A report ends the script: each table ready, or why not; then an error, so psql\n"
	        "exits non-zero unless every table is ready.\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE     the pgseal config (its encryptor_config_file or schemas)\n"
	        "  -t, --table TABLE     only this table, as the encryption config names it\n"
	        "                        (repeatable)\n"
	        "  --constraints-only    just the constraints, for tables migrated before (added\n"
	        "                        NOT VALID, then validated)\n"
	        "  -h, --help            this text\n"
	        "Docs: docs/schema.md (the migration, the wall, the report).\n");
}

/* A view of s with only the named tables (shallow copies: s keeps owning everything). A
 * name the config does not have is an error that lists the names it has. */
static int select_tables(const struct schema *s, const char **names, size_t n, struct schema *out)
{
	out->tables = calloc(n, sizeof(*out->tables));
	if (!out->tables) {
		fprintf(stderr, "pgseal schema: out of memory\n");
		return PGS_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		const struct schema_table *t = schema_find_table(s, names[i]);
		if (!t) {
			fprintf(stderr,
			        "pgseal schema: the encryption config has no table '%s'; it has:",
			        names[i]);
			for (size_t k = 0; k < s->ntables; k++)
				fprintf(stderr, "%s %s", k ? "," : "", s->tables[k].name);
			fprintf(stderr, "%s\n", s->ntables ? "" : " none");
			return PGS_ERR;
		}
		bool dup = false;
		for (size_t k = 0; k < out->ntables; k++)
			dup |= out->tables[k].name == t->name;
		if (dup)
			continue;
		out->tables[out->ntables++] = *t;
		out->nencrypted += t->nencrypted;
	}
	return PGS_OK;
}

int cli_schema_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"constraints-only", no_argument, NULL, 'C'},
	                                     {"table", required_argument, NULL, 't'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *cfgfile = NULL;
	struct config *cfg = NULL;
	struct schema *s = NULL;
	char err[1024];
	int o, rc = 2;
	bool constraints_only = false;
	const char **only = NULL;
	size_t nonly = 0;
	struct schema sel = {0};

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfgfile = optarg;
			break;
		case 't': {
			/* a failed realloc leaves the old array to free */
			const char **grown = realloc(only, (nonly + 1) * sizeof(*only));
			if (!grown) {
				free(only);
				fprintf(stderr, "pgseal schema: out of memory\n");
				return 2;
			}
			only = grown;
			only[nonly++] = optarg;
			break;
		}
		case 'C':
			constraints_only = true;
			break;
		case 'h':
			usage(stdout);
			free(only);
			return 0;
		default:
			usage(stderr);
			free(only);
			return 2;
		}
	}
	if (!cfgfile || optind != argc) {
		usage(stderr);
		free(only);
		return 2;
	}
	if (config_load(cfgfile, &cfg, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal schema: %s\n", err);
		free(only);
		return 2;
	}
	if (schema_load(cfg, &s, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal schema: %s\n", err);
		goto out;
	}
	const struct schema *print = s;
	if (nonly) {
		if (select_tables(s, only, nonly, &sel) != PGS_OK)
			goto out;
		print = &sel;
	}
	if ((constraints_only ? schema_print_constraints(print, stdout)
	                      : schema_print_ddl(print, stdout)) != PGS_OK ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "pgseal schema: cannot write the DDL\n");
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	free(sel.tables);
	free(only);
	schema_free(s);
	config_free(cfg);
	return rc;
}
