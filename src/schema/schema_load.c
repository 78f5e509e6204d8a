/* schema_load.c - loads Acra's encryptor_config `schemas:` (inline or from its own file), rejecting
 * what pgseal cannot honour with file:line. */
#include "schema/schema.h"
#include "schema/schema_internal.h"
#include "crypto/crypto.h"
#include "yamlx/yamlx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* An encryptor_config is a few KiB; a limit keeps a mistaken path (a log, a dump) out. */
#define SCHEMA_MAX_FILE (16u << 20)

/* ---- names ------------------------------------------------------------------------------- */

static int name_error(struct yamlx *ld, yaml_node_t *v, const char *key, const char *why)
{
	return yamlx_fail(ld, v, "'%s': %s", key, why);
}

/* Folds one dotted identifier path like PostgreSQL: unquoted parts to lowercase (ASCII),
 * "quoted" parts kept as written. max_parts is 1 for a column, 2 for [schema.]table. */
static int fold_name(struct yamlx *ld, yaml_node_t *v, const char *key, int max_parts, char **out)
{
	const char *s = yamlx_get_text(ld, v, key);
	if (!s)
		return PGS_ERR;
	size_t n = strlen(s);
	char *r = pgs_xmalloc(n + 1);
	size_t o = 0, i = 0;
	int parts = 0;
	for (;;) {
		size_t start = o;
		if (s[i] == '"') {
			for (i++;; i++) {
				if (!s[i]) {
					free(r);
					return name_error(ld, v, key, "unterminated quoted name");
				}
				if (s[i] == '"' && s[i + 1] != '"')
					break;
				if (s[i] == '"' || s[i] == '.' || (unsigned char)s[i] < 0x20 ||
				    s[i] == 0x7f) {
					free(r);
					return name_error(
					    ld, v, key,
					    "a quoted name may not contain '\"', '.' or "
					    "control characters");
				}
				r[o++] = s[i];
			}
			i++;
		} else {
			while (s[i] && s[i] != '.') {
				unsigned char c = (unsigned char)s[i];
				bool first = o == start;
				bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				          c == '_' || c >= 0x80 ||
				          (!first && ((c >= '0' && c <= '9') || c == '$'));
				if (!ok) {
					free(r);
					return name_error(
					    ld, v, key,
					    "not a plain SQL identifier (letters, digits, _ "
					    "and $, not starting with a digit); write it in "
					    "double quotes, e.g. '\"My Name\"', to keep it as is");
				}
				r[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
				i++;
			}
		}
		if (o == start) {
			free(r);
			return name_error(ld, v, key, "empty name");
		}
		if (o - start > SCHEMA_NAME_MAX) {
			free(r);
			return name_error(ld, v, key,
			                  "longer than PostgreSQL's 63-byte identifier limit");
		}
		parts++;
		if (!s[i])
			break;
		if (s[i] != '.' || parts == max_parts) {
			free(r);
			return name_error(ld, v, key,
			                  max_parts == 1
			                      ? "a column name has one part (quote it to "
			                        "use '.' or other characters)"
			                      : "expected [schema.]table");
		}
		r[o++] = '.';
		i++;
	}
	r[o] = 0;
	*out = r;
	return PGS_OK;
}

/* ---- values ------------------------------------------------------------------------------ */

/* Strict standard base64 with padding (what Acra's loader accepts for bytes). */
static int base64_decode(const char *s, struct pgs_buf *out)
{
	size_t n = strlen(s), cap = n / 4 * 3 + 1, len = 0;
	uint8_t *raw = pgs_xmalloc(cap);
	int rc = PGS_ERR;
	if (pgs_b64_decode(s, n, raw, cap, &len) == PGS_OK)
		rc = pgs_buf_put(out, raw, len);
	OPENSSL_cleanse(raw, cap); /* a default plaintext value */
	free(raw);
	return rc;
}

/* default_data_value -> PostgreSQL's text output of the declared type. bytea takes Acra's
 * base64, or PostgreSQL's hex form when it starts with \x. */
static int normalize_default(struct yamlx *ld, yaml_node_t *v, enum codec_type type, char **out)
{
	const char *s = yamlx_get_text(ld, v, "default_data_value");
	struct pgs_buf canon = {0}, text = {0};
	int rc = PGS_ERR;
	if (!s)
		return PGS_ERR;
	if (type == CODEC_BYTEA && strncmp(s, "\\x", 2) != 0) {
		if (base64_decode(s, &canon) != PGS_OK) {
			yamlx_fail(ld, v,
			           "'default_data_value' of a bytes column must be base64 (as in "
			           "Acra) or \\x followed by hex");
			goto out;
		}
	} else if (codec_to_canonical(type, 0, CODEC_FMT_TEXT, (const uint8_t *)s, strlen(s),
	                              &canon) != PGS_OK) {
		yamlx_fail(ld, v, "'default_data_value' is not a valid %s value",
		           codec_type_name(type));
		goto out;
	}
	if (codec_from_canonical(type, CODEC_FMT_TEXT, canon.data, canon.len, &text) != PGS_OK ||
	    (text.len && memchr(text.data, 0, text.len))) {
		yamlx_fail(ld, v, "'default_data_value' is not a valid %s value",
		           codec_type_name(type));
		goto out;
	}
	*out = pgs_xmalloc(text.len + 1);
	if (text.len)
		memcpy(*out, text.data, text.len);
	(*out)[text.len] = 0;
	rc = PGS_OK;
out:
	pgs_buf_free(&canon);
	pgs_buf_free(&text);
	return rc;
}

/* ---- one encrypted column ----------------------------------------------------------------- */

static int client_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 256 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int unsupported(struct yamlx *ld, yaml_node_t *k, const char *key, const char *what)
{
	return yamlx_fail(ld, k,
	                  "'%s': %s is not supported by pgseal (it would store values other "
	                  "than pgseal's encrypted records); remove it or leave the column out",
	                  key, what);
}

static bool envelope_key(const char *key)
{
	return !strcmp(key, "crypto_envelope") || !strcmp(key, "reencrypting_to_acrablocks");
}

/* Acra's container choice, in a column or in `defaults:`: checked, then ignored, since
 * pgseal always writes its own record format. */
static int check_envelope(struct yamlx *ld, const char *key, yaml_node_t *v)
{
	bool b;
	if (!strcmp(key, "reencrypting_to_acrablocks"))
		return yamlx_get_bool(ld, v, key, &b);
	const char *s = yamlx_get_text(ld, v, key);
	if (!s)
		return PGS_ERR;
	if (strcmp(s, "acrablock") != 0 && strcmp(s, "acrastruct") != 0)
		return yamlx_fail(ld, v, "'crypto_envelope' must be acrablock or acrastruct");
	return PGS_OK;
}

static int parse_column(struct yamlx *ld, yaml_node_t *map, struct schema_column *c)
{
	yaml_node_t *type_node = NULL, *oid_node = NULL, *def_node = NULL, *fail_node = NULL;
	bool have_fail = false;
	if (yamlx_check_mapping(ld, map, "an 'encrypted' entry") != PGS_OK)
		return PGS_ERR;
	c->on_fail = SCHEMA_FAIL_ERROR;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlx_node(ld, p->key), *v = yamlx_node(ld, p->value);
		const char *key = yamlx_scalar(k);
		bool b;
		if (!strcmp(key, "column")) {
			if (fold_name(ld, v, key, 1, &c->name) != PGS_OK)
				return PGS_ERR;
		} else if (!strcmp(key, "searchable")) {
			if (yamlx_get_bool(ld, v, key, &c->searchable) != PGS_OK)
				return PGS_ERR;
		} else if (!strcmp(key, "client_id")) {
			if (yamlx_is_null(ld, v) || (yamlx_scalar(v) && !*yamlx_scalar(v)))
				continue; /* Acra: empty = the default client */
			const char *s = yamlx_get_text(ld, v, key);
			if (!s)
				return PGS_ERR;
			if (!client_id_ok(s))
				return yamlx_fail(
				    ld, v,
				    "'client_id' must be 1-256 characters of A-Z a-z 0-9 "
				    "_ - . (the id printed by 'pgseal keys client-id')");
			c->client_id = pgs_xstrdup(s);
		} else if (!strcmp(key, "data_type")) {
			type_node = v;
		} else if (!strcmp(key, "data_type_db_identifier")) {
			oid_node = v;
		} else if (!strcmp(key, "response_on_fail")) {
			const char *s = yamlx_get_text(ld, v, key);
			if (!s)
				return PGS_ERR;
			if (!strcmp(s, "error"))
				c->on_fail = SCHEMA_FAIL_ERROR;
			else if (!strcmp(s, "ciphertext"))
				c->on_fail = SCHEMA_FAIL_CIPHERTEXT;
			else if (!strcmp(s, "default_value"))
				c->on_fail = SCHEMA_FAIL_DEFAULT;
			else
				return yamlx_fail(ld, v,
				                  "'response_on_fail' must be error, ciphertext or "
				                  "default_value");
			have_fail = true;
			fail_node = v;
		} else if (!strcmp(key, "default_data_value")) {
			def_node = v;
		} else if (envelope_key(key)) {
			if (check_envelope(ld, key, v) != PGS_OK)
				return PGS_ERR;
		} else if (!strcmp(key, "tokenized")) {
			if (yamlx_get_bool(ld, v, key, &b) != PGS_OK)
				return PGS_ERR;
			if (b)
				return unsupported(ld, k, key, "tokenization");
		} else if (!strcmp(key, "consistent_tokenization")) {
			if (yamlx_get_bool(ld, v, key, &b) != PGS_OK)
				return PGS_ERR;
			if (b)
				return unsupported(ld, k, key, "tokenization");
		} else if (!strcmp(key, "token_type")) {
			if (!(yamlx_is_null(ld, v) || (yamlx_scalar(v) && !*yamlx_scalar(v))))
				return unsupported(ld, k, key, "tokenization");
		} else if (!strcmp(key, "masking") || !strcmp(key, "plaintext_length") ||
		           !strcmp(key, "plaintext_side")) {
			return unsupported(ld, k, key,
			                   "masking (a part of the plaintext stays readable)");
		} else if (!strcmp(key, "zone_id")) {
			return yamlx_fail(
			    ld, k,
			    "'zone_id': zones (deprecated in Acra 0.94) are not supported "
			    "by pgseal; use client_id to restrict a column to one client");
		} else {
			return yamlx_fail(ld, k, "unknown key '%s' in an 'encrypted' entry", key);
		}
	}
	if (!c->name)
		return yamlx_fail(ld, map, "an 'encrypted' entry needs 'column'");
	if (type_node && oid_node)
		return yamlx_fail(ld, oid_node,
		                  "'data_type' and 'data_type_db_identifier' are exclusive");
	c->type = CODEC_BYTEA; /* Acra's default: the value is opaque bytes */
	c->type_oid = codec_type_oid(CODEC_BYTEA);
	if (type_node) {
		const char *s = yamlx_get_text(ld, type_node, "data_type");
		if (!s)
			return PGS_ERR;
		if (codec_type_by_name(s, &c->type) != PGS_OK)
			return yamlx_fail(
			    ld, type_node,
			    "'data_type': unsupported type \"%.64s\" (str, bytes, "
			    "int32, int64, or a PostgreSQL type listed in docs/schema.md)",
			    s);
		c->type_oid = codec_type_oid(c->type);
	} else if (oid_node) {
		const char *s = yamlx_scalar(oid_node);
		char *end;
		unsigned long x = 0;
		if (s && *s >= '0' && *s <= '9') {
			errno = 0;
			x = strtoul(s, &end, 10);
			if (errno || *end)
				x = 0;
		}
		if (x == 0 || x > UINT32_MAX)
			return yamlx_fail(ld, oid_node,
			                  "'data_type_db_identifier' must be a type OID (a "
			                  "positive integer)");
		if (codec_type_by_oid((uint32_t)x, &c->type) != PGS_OK)
			return yamlx_fail(ld, oid_node,
			                  "'data_type_db_identifier': unsupported type OID %lu", x);
		c->type_oid = (uint32_t)x;
	}
	if (def_node) {
		/* Acra: a default value alone implies response_on_fail: default_value */
		if (!have_fail)
			c->on_fail = SCHEMA_FAIL_DEFAULT;
		else if (c->on_fail != SCHEMA_FAIL_DEFAULT)
			return yamlx_fail(ld, def_node,
			                  "'default_data_value' needs 'response_on_fail: "
			                  "default_value'");
		if (normalize_default(ld, def_node, c->type, &c->default_value) != PGS_OK)
			return PGS_ERR;
	} else if (c->on_fail == SCHEMA_FAIL_DEFAULT) {
		return yamlx_fail(ld, fail_node,
		                  "'response_on_fail: default_value' needs 'default_data_value'");
	}
	return PGS_OK;
}

/* ---- one table --------------------------------------------------------------------------- */

static int parse_table(struct yamlx *ld, yaml_node_t *map, struct schema_table *t, int *table_line)
{
	yaml_node_t *cols = NULL, *enc = NULL;
	if (yamlx_check_mapping(ld, map, "a 'schemas' entry") != PGS_OK)
		return PGS_ERR;
	*table_line = yamlx_line(map);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlx_node(ld, p->key), *v = yamlx_node(ld, p->value);
		const char *key = yamlx_scalar(k);
		if (!strcmp(key, "table")) {
			if (fold_name(ld, v, key, 2, &t->name) != PGS_OK)
				return PGS_ERR;
			*table_line = yamlx_line(v);
		} else if (!strcmp(key, "columns")) {
			cols = v;
		} else if (!strcmp(key, "encrypted")) {
			enc = v;
		} else {
			return yamlx_fail(ld, k, "unknown key '%s' in a 'schemas' entry", key);
		}
	}
	if (!t->name)
		return yamlx_fail(ld, map, "a 'schemas' entry needs 'table'");
	if (cols && !yamlx_is_null(ld, cols)) {
		if (cols->type != YAML_SEQUENCE_NODE)
			return yamlx_fail(ld, cols, "'columns' must be a list of column names");
		size_t n =
		    (size_t)(cols->data.sequence.items.top - cols->data.sequence.items.start);
		t->columns = pgs_xcalloc(n ? n : 1, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *v = yamlx_node(ld, cols->data.sequence.items.start[i]);
			if (fold_name(ld, v, "columns", 1, &t->columns[i]) != PGS_OK)
				return PGS_ERR;
			t->ncolumns = i + 1;
			for (size_t j = 0; j < i; j++)
				if (!strcmp(t->columns[j], t->columns[i]))
					return yamlx_fail(
					    ld, v,
					    "column '%s' is listed twice in 'columns' of "
					    "table '%s'",
					    t->columns[i], t->name);
		}
	}
	if (enc && !yamlx_is_null(ld, enc)) {
		if (enc->type != YAML_SEQUENCE_NODE)
			return yamlx_fail(ld, enc, "'encrypted' must be a list");
		size_t n = (size_t)(enc->data.sequence.items.top - enc->data.sequence.items.start);
		t->encrypted = pgs_xcalloc(n ? n : 1, sizeof(*t->encrypted));
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *v = yamlx_node(ld, enc->data.sequence.items.start[i]);
			struct schema_column *c = &t->encrypted[i];
			t->nencrypted = i + 1;
			if (parse_column(ld, v, c) != PGS_OK)
				return PGS_ERR;
			for (size_t j = 0; j < i; j++)
				if (!strcmp(t->encrypted[j].name, c->name))
					return yamlx_fail(
					    ld, v, "column '%s' of table '%s' is encrypted twice",
					    c->name, t->name);
			c->position = -1;
			if (t->columns) {
				c->position = schema_column_position(t, c->name);
				if (c->position < 0)
					return yamlx_fail(
					    ld, v,
					    "encrypted column '%s' is not in 'columns' of "
					    "table '%s'",
					    c->name, t->name);
			}
		}
	}
	return PGS_OK;
}

static int parse_schemas(struct yamlx *ld, yaml_node_t *list, struct schema *s)
{
	if (yamlx_is_null(ld, list))
		return PGS_OK;
	if (list->type != YAML_SEQUENCE_NODE)
		return yamlx_fail(ld, list, "'schemas' must be a list of tables");
	size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	int *lines = pgs_xcalloc(n ? n : 1, sizeof(int));
	int rc = PGS_ERR;
	s->tables = pgs_xcalloc(n ? n : 1, sizeof(*s->tables));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *v = yamlx_node(ld, list->data.sequence.items.start[i]);
		s->ntables = i + 1;
		if (parse_table(ld, v, &s->tables[i], &lines[i]) != PGS_OK)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->tables[j].name, s->tables[i].name)) {
				yamlx_fail(ld, v,
				           "table '%s' is configured twice (first at line %d)",
				           s->tables[i].name, lines[j]);
				goto out;
			}
	}
	rc = PGS_OK;
out:
	free(lines);
	return rc;
}

/* Acra's `defaults:`: envelope settings that do not change what pgseal stores. */
static int parse_defaults(struct yamlx *ld, yaml_node_t *map)
{
	if (yamlx_is_null(ld, map))
		return PGS_OK;
	if (yamlx_check_mapping(ld, map, "'defaults'") != PGS_OK)
		return PGS_ERR;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlx_node(ld, p->key), *v = yamlx_node(ld, p->value);
		const char *key = yamlx_scalar(k);
		if (!envelope_key(key))
			return yamlx_fail(ld, k, "unknown key '%s' in 'defaults'", key);
		if (check_envelope(ld, key, v) != PGS_OK)
			return PGS_ERR;
	}
	return PGS_OK;
}

/* Acra's `database_settings:` has MySQL options only; PostgreSQL's section is empty. */
static int parse_database_settings(struct yamlx *ld, yaml_node_t *map)
{
	if (yamlx_is_null(ld, map))
		return PGS_OK;
	if (yamlx_check_mapping(ld, map, "'database_settings'") != PGS_OK)
		return PGS_ERR;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlx_node(ld, p->key), *v = yamlx_node(ld, p->value);
		const char *key = yamlx_scalar(k);
		if (!strcmp(key, "postgresql")) {
			if (!yamlx_is_null(ld, v) &&
			    yamlx_check_mapping(ld, v, "'database_settings.postgresql'") != PGS_OK)
				return PGS_ERR;
			if (!yamlx_is_null(ld, v) &&
			    v->data.mapping.pairs.top != v->data.mapping.pairs.start)
				return yamlx_fail(
				    ld, yamlx_node(ld, v->data.mapping.pairs.start->key),
				    "unknown key '%s' in 'database_settings.postgresql'",
				    yamlx_scalar(yamlx_node(ld, v->data.mapping.pairs.start->key)));
		} else if (!strcmp(key, "mysql")) {
			/* MySQL-only options: accepted so a shared file loads, meaningless here */
			if (!yamlx_is_null(ld, v) &&
			    yamlx_check_mapping(ld, v, "'database_settings.mysql'") != PGS_OK)
				return PGS_ERR;
		} else {
			return yamlx_fail(ld, k, "unknown key '%s' in 'database_settings'", key);
		}
	}
	return PGS_OK;
}

static void link_columns(struct schema *s)
{
	size_t idx = 0;
	for (size_t i = 0; i < s->ntables; i++) {
		struct schema_table *t = &s->tables[i];
		for (size_t j = 0; j < t->nencrypted; j++) {
			struct schema_column *c = &t->encrypted[j];
			size_t n = strlen(t->name) + strlen(c->name) + 2;
			c->table = t;
			c->index = idx++;
			c->qualified = pgs_xmalloc(n);
			snprintf(c->qualified, n, "%s.%s", t->name, c->name);
		}
	}
	s->nencrypted = idx;
}

/* Parses one YAML document. inline_cfg: the pgseal config itself (only `schemas` is ours,
 * config.c has checked the other keys); else an Acra encryptor_config file. */
static int load_yaml(const char *name, const uint8_t *data, size_t len, bool inline_cfg,
                     bool has_file, struct schema **out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct yamlx ld = {.file = name,
	                   .doc = &doc,
	                   .err = err,
	                   .errlen = errlen,
	                   .missing_line = 1,
	                   .null_any_case = true};
	struct schema *s = schema_new();
	int rc = PGS_ERR;

	*out = NULL;
	if (yamlx_parser_init(&parser, name, err, errlen) != PGS_OK) {
		free(s);
		return PGS_ERR;
	}
	yaml_parser_set_input_string(&parser, data, len);
	if (yamlx_load(&parser, &doc, name, err, errlen) != PGS_OK) {
		yaml_parser_delete(&parser);
		free(s);
		return PGS_ERR;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || yamlx_is_null(&ld, root)) {
		rc = PGS_OK; /* an empty file: no encrypted columns */
		goto done;
	}
	if (yamlx_check_mapping(&ld, root, "the top level") != PGS_OK)
		goto done;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlx_node(&ld, p->key), *v = yamlx_node(&ld, p->value);
		const char *key = yamlx_scalar(k);
		if (!strcmp(key, "schemas")) {
			if (has_file) {
				yamlx_fail(
				    &ld, k,
				    "both 'encryptor_config_file' and an inline 'schemas' list; "
				    "use one of them");
				goto done;
			}
			if (parse_schemas(&ld, v, s) != PGS_OK)
				goto done;
		} else if (inline_cfg) {
			continue;
		} else if (!strcmp(key, "defaults")) {
			if (parse_defaults(&ld, v) != PGS_OK)
				goto done;
		} else if (!strcmp(key, "database_settings")) {
			if (parse_database_settings(&ld, v) != PGS_OK)
				goto done;
		} else {
			yamlx_fail(
			    &ld, k,
			    "unknown key '%s' (an encryptor_config has 'schemas', 'defaults' "
			    "and 'database_settings')",
			    key);
			goto done;
		}
	}
	rc = PGS_OK;
done:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc != PGS_OK) {
		schema_free(s);
		return rc;
	}
	link_columns(s);
	*out = s;
	return PGS_OK;
}

int schema_load_buffer(const char *name, const uint8_t *data, size_t len, struct schema **out,
                       char *err, size_t errlen)
{
	return load_yaml(name, data, len, false, false, out, err, errlen);
}

static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	if (!f) {
		pgs_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return PGS_ERR;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8192;
			buf = pgs_xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n > SCHEMA_MAX_FILE) {
			pgs_errf(err, errlen, "%s: larger than %u bytes", path, SCHEMA_MAX_FILE);
			goto fail;
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		pgs_errf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	*data = buf;
	*len = n;
	return PGS_OK;
fail:
	fclose(f);
	free(buf);
	return PGS_ERR;
}

int schema_load(const struct config *cfg, struct schema **out, char *err, size_t errlen)
{
	const char *path = cfg->has_inline_schemas ? cfg->path : cfg->encryptor_config_file;
	uint8_t *data = NULL;
	size_t len = 0;
	*out = NULL;
	if (!path) {
		*out = schema_new();
		return PGS_OK;
	}
	if (read_file(path, &data, &len, err, errlen) != PGS_OK)
		return PGS_ERR;
	int rc = load_yaml(path, data, len, cfg->has_inline_schemas,
	                   cfg->has_inline_schemas && cfg->encryptor_config_file, out, err, errlen);
	free(data);
	return rc;
}
