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
/* keys may be NULL (no `keys:` section): then the schema must encrypt nothing. The proxy
 * takes its own reference to schema. client_tls,
 * when not NULL, is served instead of client_tls.cert_file (the RA-TLS context of
 * tee_ratls_ssl_ctx(); the proxy takes its own reference). */
int proxy_create(const struct config *cfg, struct keys *keys, struct schema *schema,
                 SSL_CTX *client_tls, struct proxy **out, char *err, size_t errlen) PGS_MUSTCHECK;
/* SIGHUP calls fn(arg) on proxy_run's thread (the reload of the encryption config). */
void proxy_set_reload(struct proxy *p, void (*fn)(void *arg), void *arg);
/* New sessions take s from now on (the proxy takes its own reference); sessions already
 * running keep the schema they started with. */
void proxy_set_schema(struct proxy *p, struct schema *s);
/* Starts the workers and blocks until SIGTERM/SIGINT, then shuts down gracefully. */
int proxy_run(struct proxy *p) PGS_MUSTCHECK;
/* True when a TCP connection to the upstream can be opened (cached for a second). */
bool proxy_upstream_ready(void *proxy);
void proxy_free(struct proxy *p);

#endif
