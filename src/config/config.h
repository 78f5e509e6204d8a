/* config.h - the pgseal YAML configuration (DESIGN.md §8): types, loader, defaults. */
#ifndef PGSEAL_CONFIG_H
#define PGSEAL_CONFIG_H

#include "common/common.h"
#include "common/log.h"

enum cfg_upstream_tls {
	CFG_TLS_DISABLE = 0,
	CFG_TLS_REQUIRE,
	CFG_TLS_VERIFY_CA,
	CFG_TLS_VERIFY_FULL,
};

struct cfg_upstream {
	char *host; /* host name or address; verify-full checks it against the cert */
	int port;   /* default 5432 */
	enum cfg_upstream_tls tls; /* default verify-full when ca_file is set, else disable */
	char *ca_file;             /* CA bundle for verify-ca / verify-full */
	char *cert_file;           /* optional client certificate presented to Postgres */
	char *key_file;
	char *server_name;      /* optional: name to verify instead of host */
	int connect_timeout_ms; /* default 5000 */
	int pool_max_idle; /* session pooling: idle upstream connections kept, all workers together
	                      (default 20, 0 = off) */
	int pool_idle_timeout_ms; /* closed after this long unused (default 60000) */
};

struct cfg_client_tls {
	bool enabled;    /* the section is present */
	char *cert_file; /* optional when RA-TLS generates the certificate */
	char *key_file;
	char *ca_file; /* set = mTLS: a client certificate signed by it is required */
	bool require;  /* refuse clients that do not ask for TLS (default true) */
};

struct cfg_admin {
	bool enabled;     /* the section is present */
	char *listen;     /* "127.0.0.1:9191" */
	char *token_file; /* bearer token; required when the section is present */
};

struct cfg_auth {
	bool enabled;        /* the section is present: pgseal runs SCRAM with clients */
	char *user;          /* upstream role used to read verifiers */
	char *password_file; /* its password (file, first line) */
	char *database;      /* database for the auth connection (default "postgres") */
	char *query; /* default: SELECT rolname, rolpassword FROM pg_authid WHERE rolname = $1 */
	char *userlist_file; /* alternative: PgBouncer-style "user" "SCRAM-SHA-256$..." lines */
};

struct cfg_log {
	enum log_level level;
	enum log_format format;
};

struct cfg_keys {
	bool enabled;           /* the section is present */
	char *provider;         /* dstack | env | file */
	char *dstack_endpoint;  /* default /var/run/dstack.sock or $DSTACK_SIMULATOR_ENDPOINT */
	char *sealing_key_file; /* provider file */
	char *sealed_master_key;
	char *keystore;
	/* keys.escrow: allowed lets `pgseal keys escrow` split the master key out to
	 * custodians (docs/keys.md); off (default) refuses it. Shown in /metrics and the
	 * attestation document. */
	bool escrow_allowed;
};

/* io_engine: io_uring batches the relay's receives and sends into one system call per
 * loop turn; epoll is one recv/send per message; auto takes io_uring when the kernel
 * offers it (and falls back to epoll otherwise). */
enum cfg_io_engine { CFG_IO_AUTO, CFG_IO_URING, CFG_IO_EPOLL };

struct config {
	char *path;   /* the file it was read from */
	char *dir;    /* its directory: relative paths in the file are resolved against it */
	char *listen; /* "127.0.0.1:6432" */
	int workers;  /* 0 = one per CPU */
	enum cfg_io_engine io_engine; /* how workers move plaintext relay bytes (default auto) */
	int max_client_connections;   /* default 10000 */
	uint32_t max_message_size;    /* default 1 GiB */
	int startup_timeout_ms;       /* default 10000 */
	int shutdown_timeout_ms;      /* default 30000 */
	struct cfg_upstream upstream;
	struct cfg_client_tls client_tls;
	struct cfg_admin admin;
	struct cfg_auth auth;
	struct cfg_log log;
	struct cfg_keys keys;
	char *encryptor_config_file; /* path, or NULL */
	bool has_inline_schemas;     /* a `schemas:` list is present in this file */
};

/* Loads and validates FILE. On error returns PGS_ERR with "file:line: reason" in err. */
int config_load(const char *file, struct config **out, char *err, size_t errlen) PGS_MUSTCHECK;
/* The same from memory; `name` stands for the file in messages and path resolution. */
int config_load_buffer(const char *name, const uint8_t *data, size_t len, struct config **out,
                       char *err, size_t errlen) PGS_MUSTCHECK;
void config_free(struct config *cfg);

/* Parses "host:port" / "[v6]:port". */
int config_parse_hostport(const char *s, char *host, size_t hostlen, int *port) PGS_MUSTCHECK;

const char *config_tls_mode_name(enum cfg_upstream_tls mode);

#endif
