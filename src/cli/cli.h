/* cli.h - entry points of the pgseal subcommands (serve, keys, schema, attest, deploy). */
#ifndef PGSEAL_CLI_H
#define PGSEAL_CLI_H

/* Each returns the process exit status. argv[0] is the subcommand name. */
int cli_serve_main(int argc, char **argv);
int cli_keys_main(int argc, char **argv);
int cli_schema_main(int argc, char **argv);
int cli_attest_main(int argc, char **argv);
int cli_deploy_main(int argc, char **argv);

#endif
