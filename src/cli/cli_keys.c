/* cli_keys.c - `pgseal keys`: not built yet (see the open issues). */
#include <stdio.h>

#include "cli/cli.h"

int cli_keys_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "pgseal keys: not implemented yet\n");
	return 2;
}
