/* config.c - loads the YAML configuration with libyaml, rejecting unknown keys and bad values with
 * file:line. */
#include "config/config.h"
#include "yamlx/yamlx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *resolve_path(const struct config *cfg, const char *p)
{
	if (p[0] == '/' || !cfg->dir)
		return pgs_xstrdup(p);
	size_t n = strlen(cfg->dir) + strlen(p) + 2;
	char *r = pgs_xmalloc(n);
	snprintf(r, n, "%s/%s", cfg->dir, p);
	return r;
}

static int get_path(struct yamlx *ld, struct config *cfg, yaml_node_t *v, const char *key,
                    char **dst)
{
	const char *s = yamlx_scalar(v);
	if (!s || !*s)
		return yamlx_fail(ld, v, "'%s' must be a non-empty path", key);
	free(*dst);
	*dst = resolve_path(cfg, s);
	return PGS_OK;
}

/* Iterates a mapping; checks each key, then calls fn for it. */
typedef int (*pair_fn)(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *kn,
                       yaml_node_t *v);

static int each_pair(struct yamlx *ld, struct config *cfg, yaml_node_t *map, const char *what,
                     pair_fn fn)
{
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "'%s'", what);
	if (yamlx_require_mapping(ld, map, quoted) != PGS_OK)
		return PGS_ERR;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlx_node(ld, p->key);
		if (yamlx_check_key(ld, map, p, quoted) != PGS_OK)
			return PGS_ERR;
		if (fn(ld, cfg, yamlx_scalar(k), k, yamlx_node(ld, p->value)) != PGS_OK)
			return PGS_ERR;
	}
	return PGS_OK;
}

static int unknown(struct yamlx *ld, yaml_node_t *k, const char *section, const char *key)
{
	return yamlx_fail(ld, k, "unknown key '%s' in '%s'", key, section);
}

static int upstream_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                         yaml_node_t *v)
{
	struct cfg_upstream *u = &cfg->upstream;
	long x;
	if (!strcmp(key, "host"))
		return yamlx_get_string(ld, v, key, &u->host);
	if (!strcmp(key, "port")) {
		if (yamlx_get_int(ld, v, key, 1, 65535, &x))
			return PGS_ERR;
		u->port = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "tls")) {
		const char *s = yamlx_scalar(v);
		static const char *const modes[] = {"disable", "require", "verify-ca",
		                                    "verify-full"};
		for (size_t i = 0; s && i < PGS_ARRAY_LEN(modes); i++) {
			if (!strcmp(s, modes[i])) {
				u->tls = (enum cfg_upstream_tls)i;
				return PGS_OK;
			}
		}
		return yamlx_fail(ld, v,
		                  "'tls' must be one of disable, require, verify-ca, verify-full");
	}
	if (!strcmp(key, "ca_file"))
		return get_path(ld, cfg, v, key, &u->ca_file);
	if (!strcmp(key, "cert_file"))
		return get_path(ld, cfg, v, key, &u->cert_file);
	if (!strcmp(key, "key_file"))
		return get_path(ld, cfg, v, key, &u->key_file);
	if (!strcmp(key, "server_name"))
		return yamlx_get_string(ld, v, key, &u->server_name);
	if (!strcmp(key, "connect_timeout_ms")) {
		if (yamlx_get_int(ld, v, key, 1, 600000, &x))
			return PGS_ERR;
		u->connect_timeout_ms = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "pool_max_idle")) {
		if (yamlx_get_int(ld, v, key, 0, 100000, &x))
			return PGS_ERR;
		u->pool_max_idle = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "pool_idle_timeout_ms")) {
		if (yamlx_get_int(ld, v, key, 100, 86400000, &x))
			return PGS_ERR;
		u->pool_idle_timeout_ms = (int)x;
		return PGS_OK;
	}
	return unknown(ld, k, "upstream", key);
}

static int client_tls_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                           yaml_node_t *v)
{
	struct cfg_client_tls *t = &cfg->client_tls;
	if (!strcmp(key, "cert_file"))
		return get_path(ld, cfg, v, key, &t->cert_file);
	if (!strcmp(key, "key_file"))
		return get_path(ld, cfg, v, key, &t->key_file);
	if (!strcmp(key, "ca_file"))
		return get_path(ld, cfg, v, key, &t->ca_file);
	if (!strcmp(key, "require"))
		return yamlx_get_bool(ld, v, key, &t->require);
	return unknown(ld, k, "client_tls", key);
}

static int admin_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
	if (!strcmp(key, "listen"))
		return yamlx_get_string(ld, v, key, &cfg->admin.listen);
	if (!strcmp(key, "token_file"))
		return get_path(ld, cfg, v, key, &cfg->admin.token_file);
	return unknown(ld, k, "admin", key);
}

static int auth_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                     yaml_node_t *v)
{
	struct cfg_auth *a = &cfg->auth;
	if (!strcmp(key, "user"))
		return yamlx_get_string(ld, v, key, &a->user);
	if (!strcmp(key, "password_file"))
		return get_path(ld, cfg, v, key, &a->password_file);
	if (!strcmp(key, "database"))
		return yamlx_get_string(ld, v, key, &a->database);
	if (!strcmp(key, "query"))
		return yamlx_get_string(ld, v, key, &a->query);
	if (!strcmp(key, "userlist_file"))
		return get_path(ld, cfg, v, key, &a->userlist_file);
	return unknown(ld, k, "auth", key);
}

static int log_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                    yaml_node_t *v)
{
	const char *s = yamlx_scalar(v);
	if (!strcmp(key, "level")) {
		if (!s || log_parse_level(s, &cfg->log.level) != PGS_OK)
			return yamlx_fail(ld, v, "'level' must be one of debug, info, warn, error");
		return PGS_OK;
	}
	if (!strcmp(key, "format")) {
		if (s && !strcmp(s, "text"))
			cfg->log.format = LOG_TEXT;
		else if (s && !strcmp(s, "json"))
			cfg->log.format = LOG_JSON;
		else
			return yamlx_fail(ld, v, "'format' must be text or json");
		return PGS_OK;
	}
	return unknown(ld, k, "log", key);
}

static int keys_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                     yaml_node_t *v)
{
	struct cfg_keys *ks = &cfg->keys;
	if (!strcmp(key, "provider")) {
		const char *s = yamlx_scalar(v);
		if (!s ||
		    (strcmp(s, "dstack") != 0 && strcmp(s, "env") != 0 && strcmp(s, "file") != 0))
			return yamlx_fail(ld, v, "'provider' must be one of dstack, env, file");
		return yamlx_get_string(ld, v, key, &ks->provider);
	}
	if (!strcmp(key, "dstack_endpoint")) {
		/* a socket path resolves against the file's folder like other paths; a URL does not
		 */
		const char *e = yamlx_scalar(v);
		if (e && (!strncmp(e, "http://", 7) || !strncmp(e, "https://", 8)))
			return yamlx_get_string(ld, v, key, &ks->dstack_endpoint);
		return get_path(ld, cfg, v, key, &ks->dstack_endpoint);
	}
	if (!strcmp(key, "sealing_key_file"))
		return get_path(ld, cfg, v, key, &ks->sealing_key_file);
	if (!strcmp(key, "sealed_master_key"))
		return get_path(ld, cfg, v, key, &ks->sealed_master_key);
	if (!strcmp(key, "keystore"))
		return get_path(ld, cfg, v, key, &ks->keystore);
	if (!strcmp(key, "escrow")) {
		const char *s = yamlx_scalar(v);
		if (!s || (strcmp(s, "allowed") != 0 && strcmp(s, "off") != 0))
			return yamlx_fail(ld, v, "'escrow' must be allowed or off");
		ks->escrow_allowed = !strcmp(s, "allowed");
		return PGS_OK;
	}
	return unknown(ld, k, "keys", key);
}

static int top_pair(struct yamlx *ld, struct config *cfg, const char *key, yaml_node_t *k,
                    yaml_node_t *v)
{
	long x;
	if (!strcmp(key, "listen"))
		return yamlx_get_string(ld, v, key, &cfg->listen);
	if (!strcmp(key, "workers")) {
		if (yamlx_get_int(ld, v, key, 0, 256, &x))
			return PGS_ERR;
		cfg->workers = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "io_engine")) {
		const char *s = yamlx_scalar(v);
		static const char *const names[] = {"auto", "io_uring", "epoll"};
		for (size_t i = 0; s && i < PGS_ARRAY_LEN(names); i++) {
			if (!strcmp(s, names[i])) {
				cfg->io_engine = (enum cfg_io_engine)i;
				return PGS_OK;
			}
		}
		return yamlx_fail(ld, v, "'io_engine' must be one of auto, io_uring, epoll");
	}
	if (!strcmp(key, "max_client_connections")) {
		if (yamlx_get_int(ld, v, key, 1, 1000000, &x))
			return PGS_ERR;
		cfg->max_client_connections = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "max_message_size")) {
		if (yamlx_get_int(ld, v, key, 1024, 0x40000000L, &x))
			return PGS_ERR;
		cfg->max_message_size = (uint32_t)x;
		return PGS_OK;
	}
	if (!strcmp(key, "startup_timeout_ms")) {
		if (yamlx_get_int(ld, v, key, 10, 3600000, &x))
			return PGS_ERR;
		cfg->startup_timeout_ms = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "shutdown_timeout_ms")) {
		if (yamlx_get_int(ld, v, key, 0, 3600000, &x))
			return PGS_ERR;
		cfg->shutdown_timeout_ms = (int)x;
		return PGS_OK;
	}
	if (!strcmp(key, "upstream"))
		return each_pair(ld, cfg, v, "upstream", upstream_pair);
	if (!strcmp(key, "client_tls")) {
		cfg->client_tls.enabled = true;
		if (yamlx_is_null(ld, v))
			return PGS_OK;
		return each_pair(ld, cfg, v, "client_tls", client_tls_pair);
	}
	if (!strcmp(key, "admin")) {
		cfg->admin.enabled = true;
		return each_pair(ld, cfg, v, "admin", admin_pair);
	}
	if (!strcmp(key, "auth")) {
		cfg->auth.enabled = true;
		return each_pair(ld, cfg, v, "auth", auth_pair);
	}
	if (!strcmp(key, "log"))
		return each_pair(ld, cfg, v, "log", log_pair);
	if (!strcmp(key, "keys")) {
		cfg->keys.enabled = true;
		return each_pair(ld, cfg, v, "keys", keys_pair);
	}
	if (!strcmp(key, "encryptor_config_file"))
		return get_path(ld, cfg, v, key, &cfg->encryptor_config_file);
	if (!strcmp(key, "schemas")) {
		/* parsed by the schema module (Acra encryptor_config format) */
		if (v->type != YAML_SEQUENCE_NODE)
			return yamlx_fail(ld, v, "'schemas' must be a list");
		cfg->has_inline_schemas = true;
		return PGS_OK;
	}
	return yamlx_fail(ld, k, "unknown key '%s'", key);
}

int config_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	const char *h = s;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return PGS_ERR;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return PGS_ERR;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return PGS_ERR;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || p < 0 || p > 65535 || end == colon + 1)
		return PGS_ERR;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (int)p;
	return PGS_OK;
}

const char *config_tls_mode_name(enum cfg_upstream_tls mode)
{
	switch (mode) {
	case CFG_TLS_DISABLE:
		return "disable";
	case CFG_TLS_REQUIRE:
		return "require";
	case CFG_TLS_VERIFY_CA:
		return "verify-ca";
	case CFG_TLS_VERIFY_FULL:
		return "verify-full";
	}
	return "?";
}

static int validate(struct yamlx *ld, struct config *cfg, yaml_node_t *root)
{
	char host[256];
	int port;
	if (config_parse_hostport(cfg->listen, host, sizeof(host), &port) != PGS_OK)
		return yamlx_fail(ld, root, "'listen' must be host:port, got \"%s\"", cfg->listen);
	if (!cfg->upstream.host)
		return yamlx_fail(ld, root, "'upstream.host' is required");
	if ((cfg->upstream.tls == CFG_TLS_VERIFY_CA || cfg->upstream.tls == CFG_TLS_VERIFY_FULL) &&
	    !cfg->upstream.ca_file)
		return yamlx_fail(ld, root, "'upstream.tls: %s' needs 'upstream.ca_file'",
		                  config_tls_mode_name(cfg->upstream.tls));
	if (!cfg->upstream.cert_file != !cfg->upstream.key_file)
		return yamlx_fail(ld, root,
		                  "'upstream.cert_file' and 'upstream.key_file' go together");
	if (cfg->client_tls.enabled && !cfg->client_tls.cert_file != !cfg->client_tls.key_file)
		return yamlx_fail(ld, root,
		                  "'client_tls.cert_file' and 'client_tls.key_file' go together");
	if (cfg->client_tls.enabled && !cfg->client_tls.cert_file &&
	    !(cfg->keys.provider && !strcmp(cfg->keys.provider, "dstack")))
		return yamlx_fail(ld, root,
		                  "'client_tls' needs cert_file and key_file (only the dstack "
		                  "provider can generate an attested certificate)");
	if (cfg->admin.enabled) {
		if (!cfg->admin.listen)
			cfg->admin.listen = pgs_xstrdup("127.0.0.1:9191");
		if (config_parse_hostport(cfg->admin.listen, host, sizeof(host), &port) != PGS_OK)
			return yamlx_fail(ld, root, "'admin.listen' must be host:port");
		if (!cfg->admin.token_file)
			return yamlx_fail(ld, root,
			                  "'admin.token_file' is required: every admin endpoint "
			                  "needs a bearer token");
	}
	if (cfg->auth.enabled) {
		if (!cfg->auth.userlist_file && (!cfg->auth.user || !cfg->auth.password_file))
			return yamlx_fail(
			    ld, root,
			    "'auth' needs 'user' and 'password_file' (or 'userlist_file')");
		if (!cfg->auth.query)
			cfg->auth.query = pgs_xstrdup(
			    "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = $1");
		if (!cfg->auth.database)
			cfg->auth.database = pgs_xstrdup("postgres");
	}
	if (cfg->keys.enabled) {
		if (!cfg->keys.provider)
			return yamlx_fail(ld, root,
			                  "'keys.provider' is required (dstack, env or file)");
		if (!strcmp(cfg->keys.provider, "file") && !cfg->keys.sealing_key_file)
			return yamlx_fail(ld, root,
			                  "'keys.provider: file' needs 'keys.sealing_key_file'");
	}
	return PGS_OK;
}

static void set_defaults(struct config *cfg)
{
	cfg->listen = pgs_xstrdup("127.0.0.1:6432");
	cfg->workers = 0;
	cfg->max_client_connections = 10000;
	cfg->max_message_size = 0x40000000u;
	cfg->startup_timeout_ms = 10000;
	cfg->shutdown_timeout_ms = 30000;
	cfg->upstream.port = 5432;
	cfg->upstream.tls = CFG_TLS_DISABLE;
	cfg->upstream.connect_timeout_ms = 5000;
	cfg->upstream.pool_max_idle = 20;
	cfg->upstream.pool_idle_timeout_ms = 60000;
	cfg->client_tls.require = true;
	cfg->log.level = LOG_INFO;
	cfg->log.format = LOG_TEXT;
}

/* Parses an already-initialised parser; `file` names the source in messages. */
static int load_from_parser(yaml_parser_t *parser, const char *file, struct config **out, char *err,
                            size_t errlen)
{
	yaml_document_t doc;
	struct yamlx ld = {
	    .file = file, .doc = &doc, .err = err, .errlen = errlen, .missing_line = 0};
	struct config *cfg = NULL;
	int rc = PGS_ERR;

	*out = NULL;
	if (yamlx_load(parser, &doc, file, err, errlen) != PGS_OK)
		return PGS_ERR;

	cfg = pgs_xcalloc(1, sizeof(*cfg));
	cfg->path = pgs_xstrdup(file);
	{
		const char *slash = strrchr(file, '/');
		if (slash) {
			size_t n = (size_t)(slash - file);
			cfg->dir = pgs_xmalloc(n + 2);
			memcpy(cfg->dir, file, n ? n : 1);
			cfg->dir[n ? n : 1] = 0;
		} else {
			cfg->dir = pgs_xstrdup(".");
		}
	}
	set_defaults(cfg);

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		pgs_errf(err, errlen, "%s:1: the file is empty", file);
		goto out;
	}
	if (each_pair(&ld, cfg, root, "top level", top_pair) != PGS_OK)
		goto out;
	if (validate(&ld, cfg, root) != PGS_OK)
		goto out;
	*out = cfg;
	cfg = NULL;
	rc = PGS_OK;
out:
	yaml_document_delete(&doc);
	config_free(cfg);
	return rc;
}

int config_load(const char *file, struct config **out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	FILE *f = fopen(file, "rb");
	*out = NULL;
	if (!f) {
		pgs_errf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return PGS_ERR;
	}
	if (yamlx_parser_init(&parser, file, err, errlen) != PGS_OK) {
		fclose(f);
		return PGS_ERR;
	}
	yaml_parser_set_input_file(&parser, f);
	int rc = load_from_parser(&parser, file, out, err, errlen);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

int config_load_buffer(const char *name, const uint8_t *data, size_t len, struct config **out,
                       char *err, size_t errlen)
{
	yaml_parser_t parser;
	*out = NULL;
	if (yamlx_parser_init(&parser, name, err, errlen) != PGS_OK)
		return PGS_ERR;
	yaml_parser_set_input_string(&parser, data, len);
	int rc = load_from_parser(&parser, name, out, err, errlen);
	yaml_parser_delete(&parser);
	return rc;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->listen);
	free(cfg->upstream.host);
	free(cfg->upstream.ca_file);
	free(cfg->upstream.cert_file);
	free(cfg->upstream.key_file);
	free(cfg->upstream.server_name);
	free(cfg->client_tls.cert_file);
	free(cfg->client_tls.key_file);
	free(cfg->client_tls.ca_file);
	free(cfg->admin.listen);
	free(cfg->admin.token_file);
	free(cfg->auth.user);
	free(cfg->auth.password_file);
	free(cfg->auth.database);
	free(cfg->auth.query);
	free(cfg->auth.userlist_file);
	free(cfg->keys.provider);
	free(cfg->keys.dstack_endpoint);
	free(cfg->keys.sealing_key_file);
	free(cfg->keys.sealed_master_key);
	free(cfg->keys.keystore);
	free(cfg->encryptor_config_file);
	free(cfg);
}
