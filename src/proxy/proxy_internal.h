/* proxy_internal.h - the verifier lookup service used by the `auth:` block (private to src/proxy). */
#ifndef PGSEAL_PROXY_INTERNAL_H
#define PGSEAL_PROXY_INTERNAL_H

#include "config/config.h"
#include "conn/conn.h"

struct proxy_authq;

int proxy_authq_create(const struct config *cfg, struct proxy_authq **out, char *err,
                       size_t errlen) PGS_MUSTCHECK;
void proxy_authq_start(struct proxy_authq *q);
/* conn_verifier_source.submit */
int proxy_authq_submit(void *arg, struct conn *c, const char *user) PGS_MUSTCHECK;
void proxy_authq_free(struct proxy_authq *q);

#endif
