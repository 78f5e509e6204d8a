/* proxy.h - the running proxy: listener, worker threads, verifier lookups, readiness, graceful
 * shutdown. */
#ifndef PGSEAL_PROXY_H
#define PGSEAL_PROXY_H

#include <openssl/ssl.h>

#include "common/common.h"
#include "config/config.h"

struct proxy;

/* Prepares everything that can fail (TLS contexts, upstream address, listener, auth). */
struct keys;
struct schema;
/* keys may be NULL (no `keys:` section): then the schema must encrypt nothing. client_tls,
 * when not NULL, is served instead of client_tls.cert_file (the RA-TLS context of
 * tee_ratls_ssl_ctx(); the proxy takes its own reference). */
int proxy_create(const struct config *cfg, struct keys *keys, struct schema *schema,
                 SSL_CTX *client_tls, struct proxy **out, char *err, size_t errlen) PGS_MUSTCHECK;
/* Starts the workers and blocks until SIGTERM/SIGINT, then shuts down gracefully. */
int proxy_run(struct proxy *p) PGS_MUSTCHECK;
/* True when a TCP connection to the upstream can be opened (cached for a second). */
bool proxy_upstream_ready(void *proxy);
void proxy_free(struct proxy *p);

#endif
