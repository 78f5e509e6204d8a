/* cli_serve.c - `pgseal serve --config FILE`: placeholder until the proxy lands. */
#include <stdio.h>

#include "cli/cli.h"

int cli_serve_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "pgseal serve: not implemented yet\n");
	return 2;
}
