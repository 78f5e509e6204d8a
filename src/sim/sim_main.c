/* sim_main.c - pgseal-dstack-sim: not built yet (issue: keys sealed to the TEE). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "pgseal-dstack-sim: not implemented yet\n");
	return 2;
}
