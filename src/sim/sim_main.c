/* sim_main.c - pgseal-dstack-sim: a development stand-in for the dstack guest agent (NOT a TEE). */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: pgseal-dstack-sim --socket PATH [--compose-hash HEX] [--state-dir DIR]\n"
	        "                         [--app-compose FILE] [--app-name NAME]\n"
	        "                         [--log-level debug|info|warn|error]\n"
	        "       pgseal-dstack-sim --replay EVENT_LOG.json   (prints RTMR0-3 replayed from "
	        "a dstack event log)\n"
	        "Serves the dstack guest-agent API (GetKey, GetQuote, Info, ...) over HTTP on a "
	        "unix socket.\n"
	        "DEVELOPMENT ONLY: quotes are signed by a TEST CA it creates, never by Intel.\n");
}

static void banner(const struct sim_state *st, const char *socket_path)
{
	char *ch = pgs_hex_dup(st->compose_hash, st->compose_hash_len),
	     *app = pgs_hex_dup(st->app_id, SIM_APP_ID_LEN);
	log_warn("***************************************************************************");
	log_warn("* pgseal-dstack-sim: THIS IS A SIMULATOR, NOT A TEE. NOTHING IS SEALED TO  *");
	log_warn("* HARDWARE. Its TDX quotes are signed by a TEST CA it created itself, NOT  *");
	log_warn("* BY INTEL; they verify only against that test root. Development only.    *");
	log_warn("***************************************************************************");
	log_info("dstack-sim: socket %s, state directory %s", socket_path, st->state_dir);
	log_info("dstack-sim: app_id %s, compose_hash %s", app, ch);
	log_info("dstack-sim: test root CA %s/sim-root.pem (and .der), collateral "
	         "%s/sim-collateral.json",
	         st->public_dir, st->public_dir);
	free(ch);
	free(app);
}

int main(int argc, char **argv)
{
	struct sim_opts opts = {0};
	const char *level = "info";
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--replay"))
			return sim_replay_file(v);
		if (!strcmp(a, "--socket"))
			opts.socket_path = v;
		else if (!strcmp(a, "--compose-hash"))
			opts.compose_hash = v;
		else if (!strcmp(a, "--app-compose"))
			opts.app_compose_file = v;
		else if (!strcmp(a, "--state-dir"))
			opts.state_dir = v;
		else if (!strcmp(a, "--app-name"))
			opts.app_name = v;
		else if (!strcmp(a, "--log-level"))
			level = v;
		else {
			usage(stderr);
			return 2;
		}
	}
	enum log_level lvl;
	if (!opts.socket_path || log_parse_level(level, &lvl) != PGS_OK) {
		usage(stderr);
		return 2;
	}
	log_setup(lvl, LOG_TEXT);

	struct sim_state st;
	if (sim_state_open(&st, &opts) != PGS_OK) {
		sim_state_close(&st);
		return 1;
	}
	banner(&st, opts.socket_path);
	int rc = sim_http_serve(&st, opts.socket_path);
	sim_state_close(&st);
	return rc == PGS_OK ? 0 : 1;
}
