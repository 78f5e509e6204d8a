/* main.c - the pgseal command: dispatches to serve, keys, schema, attest and deploy. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: pgseal <command> [options]\n"
	        "\n"
	        "commands:\n"
	        "  serve --config FILE            run the proxy\n"
	        "  keys init|status|rotate --config FILE\n"
	        "  keys client-id CERT.pem        print the client id of a certificate\n"
	        "  schema --config FILE [--table T]\n"
	        "                                 print the DDL for encrypted columns\n"
	        "  attest verify ...              verify a TDX quote (see `pgseal attest --help`)\n"
	        "  deploy compose-hash|normalize|policy FILE\n"
	        "                                 dstack's compose hash of an app-compose.json,\n"
	        "                                 the policy pinning it (`pgseal deploy --help`)\n"
	        "  --version                      print the version\n"
	        "`pgseal COMMAND --help`: a command's options. The config reference: README.md,\n"
	        "section Configuration.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "serve"))
		return cli_serve_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "keys"))
		return cli_keys_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "schema"))
		return cli_schema_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "attest"))
		return cli_attest_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "deploy"))
		return cli_deploy_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("pgseal %s\n", PGSEAL_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "pgseal: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
