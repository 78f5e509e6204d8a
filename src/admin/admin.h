/* admin.h - admin HTTP: /healthz, /readyz, /metrics behind a bearer token; public /attestation. */
#ifndef PGSEAL_ADMIN_H
#define PGSEAL_ADMIN_H

#include "common/common.h"
#include "config/config.h"

/*
 * Callbacks the server makes into the rest of pgseal. The struct is copied by
 * admin_start(). Each callback runs on an admin thread, never on a proxy worker, and the
 * server never runs the same callback twice at the same time.
 */
struct admin_hooks {
	/* Is the upstream reachable? Called at most once per second; /readyz and
	 * /metrics in between reuse the last answer. NULL: /readyz is always 503. */
	bool (*ready)(void *arg);
	/* JSON document served publicly (no token) at GET /attestation, as a malloc'd
	 * NUL-terminated string that the server frees; returning NULL answers 503.
	 * NULL hook: /attestation is 404. */
	char *(*attestation_json)(void *arg);
	void *arg;
};

struct admin;

/*
 * Reads the bearer token (first line of cfg->admin.token_file; refused when missing or
 * empty; a warning when group/other can read it), binds cfg->admin.listen (IPv4 or IPv6,
 * port 0 picks a free port) and starts serving on its own threads. cfg is not kept.
 * On error returns PGS_ERR with the reason in err; nothing is left running.
 */
int admin_start(const struct config *cfg, const struct admin_hooks *hooks, struct admin **out,
                char *err, size_t errlen) PGS_MUSTCHECK;

/* The TCP port actually bound (useful with port 0). */
int admin_port(const struct admin *a);

/* Stops serving, waits for the admin threads, wipes the token and frees. NULL is a no-op. */
void admin_stop(struct admin *a);

#endif
