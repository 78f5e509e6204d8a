/* cli_attest.c - `pgseal attest`: not built yet (see the open issues). */
#include <stdio.h>

#include "cli/cli.h"

int cli_attest_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "pgseal attest: not implemented yet\n");
	return 2;
}
