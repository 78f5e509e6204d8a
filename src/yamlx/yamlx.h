/* yamlx.h - libyaml helpers shared by the config and schema loaders: "file:line: reason" errors,
 * null checks, typed scalar readers. */
#ifndef PGSEAL_YAMLX_H
#define PGSEAL_YAMLX_H

#include "common/common.h"

#include <yaml.h>

/* One loaded document and where its errors go. Owned by the caller; nothing here is freed. */
struct yamlx {
	const char *file; /* names the source in messages */
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	int missing_line;   /* line printed when the node is missing (NULL) */
	bool null_any_case; /* Null and NULL are null too, not only "", ~ and null */
};

/* 1-based line of a node. */
int yamlx_line(const yaml_node_t *n);
/* Writes "file:line: reason" to y->err and returns PGS_ERR. */
int yamlx_fail(struct yamlx *y, const yaml_node_t *n, const char *fmt, ...) PGS_PRINTF(3, 4);
/* The text of a scalar node, NULL for anything else (and for NULL). */
const char *yamlx_scalar(const yaml_node_t *n);
/* A plain (unquoted) scalar that YAML reads as null; see null_any_case. */
bool yamlx_is_null(const struct yamlx *y, const yaml_node_t *n);
yaml_node_t *yamlx_node(const struct yamlx *y, int id);

/* Fails with "WHAT must be a mapping" unless map is one. */
int yamlx_require_mapping(struct yamlx *y, const yaml_node_t *map, const char *what) PGS_MUSTCHECK;
/* Checks that the key of pair p is a string not used by an earlier pair of map. */
int yamlx_check_key(struct yamlx *y, const yaml_node_t *map, const yaml_node_pair_t *p,
                    const char *what) PGS_MUSTCHECK;
/* Both of the above for every key of map. */
int yamlx_check_mapping(struct yamlx *y, const yaml_node_t *map, const char *what) PGS_MUSTCHECK;

/* Readers: on a bad value they report "'KEY' must be ..." at v's line and return PGS_ERR. */
int yamlx_get_bool(struct yamlx *y, const yaml_node_t *v, const char *key, bool *out) PGS_MUSTCHECK;
/* Any scalar (null ones too) copied into *dst, freeing what was there. */
int yamlx_get_string(struct yamlx *y, const yaml_node_t *v, const char *key,
                     char **dst) PGS_MUSTCHECK;
/* A base-10 integer in [min, max]. */
int yamlx_get_int(struct yamlx *y, const yaml_node_t *v, const char *key, long min, long max,
                  long *out) PGS_MUSTCHECK;
/* A non-null scalar without NUL characters, as text owned by the document; NULL after
 * reporting otherwise. */
const char *yamlx_get_text(struct yamlx *y, const yaml_node_t *v, const char *key) PGS_MUSTCHECK;

/* yaml_parser_initialize with the loaders' message ("NAME: cannot initialise ..."). */
int yamlx_parser_init(yaml_parser_t *parser, const char *name, char *err,
                      size_t errlen) PGS_MUSTCHECK;
/* Loads the next document; on a syntax error reports "NAME:line: YAML error: ...". */
int yamlx_load(yaml_parser_t *parser, yaml_document_t *doc, const char *name, char *err,
               size_t errlen) PGS_MUSTCHECK;

#endif
