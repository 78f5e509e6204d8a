/* yamlx.c - libyaml helpers shared by the config and schema loaders (see yamlx.h). */
#include "yamlx/yamlx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int yamlx_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

int yamlx_fail(struct yamlx *y, const yaml_node_t *n, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pgs_errf(y->err, y->errlen, "%s:%d: %s", y->file, n ? yamlx_line(n) : y->missing_line,
	         reason);
	return PGS_ERR;
}

const char *yamlx_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool yamlx_is_null(const struct yamlx *y, const yaml_node_t *n)
{
	const char *s = yamlx_scalar(n);
	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	if (!strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null"))
		return true;
	return y->null_any_case && (!strcmp(s, "Null") || !strcmp(s, "NULL"));
}

yaml_node_t *yamlx_node(const struct yamlx *y, int id)
{
	return yaml_document_get_node(y->doc, id);
}

int yamlx_require_mapping(struct yamlx *y, const yaml_node_t *map, const char *what)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return yamlx_fail(y, map, "%s must be a mapping", what);
	return PGS_OK;
}

int yamlx_check_key(struct yamlx *y, const yaml_node_t *map, const yaml_node_pair_t *p,
                    const char *what)
{
	yaml_node_t *k = yamlx_node(y, p->key);
	const char *ks = yamlx_scalar(k);
	if (!ks)
		return yamlx_fail(y, k, "keys of %s must be strings", what);
	/* a repeated key would silently win; it is almost always a mistake */
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
		const char *prev = yamlx_scalar(yamlx_node(y, q->key));
		if (prev && !strcmp(prev, ks))
			return yamlx_fail(y, k, "duplicate key '%s' in %s", ks, what);
	}
	return PGS_OK;
}

int yamlx_check_mapping(struct yamlx *y, const yaml_node_t *map, const char *what)
{
	if (yamlx_require_mapping(y, map, what) != PGS_OK)
		return PGS_ERR;
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++)
		if (yamlx_check_key(y, map, p, what) != PGS_OK)
			return PGS_ERR;
	return PGS_OK;
}

int yamlx_get_bool(struct yamlx *y, const yaml_node_t *v, const char *key, bool *out)
{
	const char *s = yamlx_scalar(v);
	if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))) {
		*out = true;
		return PGS_OK;
	}
	if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))) {
		*out = false;
		return PGS_OK;
	}
	return yamlx_fail(y, v, "'%s' must be true or false", key);
}

int yamlx_get_string(struct yamlx *y, const yaml_node_t *v, const char *key, char **dst)
{
	const char *s = yamlx_scalar(v);
	if (!s)
		return yamlx_fail(y, v, "'%s' must be a string", key);
	free(*dst);
	*dst = pgs_xstrdup(s);
	return PGS_OK;
}

int yamlx_get_int(struct yamlx *y, const yaml_node_t *v, const char *key, long min, long max,
                  long *out)
{
	const char *s = yamlx_scalar(v);
	char *end;
	if (!s || !*s)
		return yamlx_fail(y, v, "'%s' must be an integer", key);
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || *end)
		return yamlx_fail(y, v, "'%s' must be an integer, got \"%s\"", key, s);
	if (x < min || x > max)
		return yamlx_fail(y, v, "'%s' must be between %ld and %ld", key, min, max);
	*out = x;
	return PGS_OK;
}

const char *yamlx_get_text(struct yamlx *y, const yaml_node_t *v, const char *key)
{
	const char *s = yamlx_scalar(v);
	if (!s || yamlx_is_null(y, v)) {
		yamlx_fail(y, v, "'%s' must be a string", key);
		return NULL;
	}
	if (strlen(s) != v->data.scalar.length) {
		yamlx_fail(y, v, "'%s' contains a NUL character", key);
		return NULL;
	}
	return s;
}

int yamlx_parser_init(yaml_parser_t *parser, const char *name, char *err, size_t errlen)
{
	if (!yaml_parser_initialize(parser)) {
		pgs_errf(err, errlen, "%s: cannot initialise the YAML parser", name);
		return PGS_ERR;
	}
	return PGS_OK;
}

int yamlx_load(yaml_parser_t *parser, yaml_document_t *doc, const char *name, char *err,
               size_t errlen)
{
	if (!yaml_parser_load(parser, doc)) {
		pgs_errf(err, errlen, "%s:%d: YAML error: %s", name,
		         (int)parser->problem_mark.line + 1,
		         parser->problem ? parser->problem : "unknown");
		return PGS_ERR;
	}
	return PGS_OK;
}
