/* cli.h - entry points of the pgseal subcommands (serve, keys, schema, attest, deploy). */
#ifndef PGSEAL_CLI_H
#define PGSEAL_CLI_H

#include "common/common.h"

/* Each returns the process exit status. argv[0] is the subcommand name. */
int cli_serve_main(int argc, char **argv) PGS_MUSTCHECK;
int cli_keys_main(int argc, char **argv) PGS_MUSTCHECK;
int cli_schema_main(int argc, char **argv) PGS_MUSTCHECK;
int cli_attest_main(int argc, char **argv) PGS_MUSTCHECK;
int cli_deploy_main(int argc, char **argv) PGS_MUSTCHECK;

#endif
