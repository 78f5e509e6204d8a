/* cli_schema.c - `pgseal schema`: not built yet (see the open issues). */
#include <stdio.h>

#include "cli/cli.h"

int cli_schema_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "pgseal schema: not implemented yet\n");
	return 2;
}
