/* test_schema.c - unit tests for the encryptor_config loader: Acra's formats, every rejection with
 * its line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schema/schema.h"
#include "testlib.h"

static struct schema *load(const char *yaml, char *err, size_t errlen)
{
	struct schema *s = NULL;
	err[0] = 0;
	if (schema_load_buffer("enc.yaml", (const uint8_t *)yaml, strlen(yaml), &s, err, errlen) !=
	    PGS_OK)
		return NULL;
	return s;
}

/* The error must start with "enc.yaml:<line>:" and contain `what`. */
static int rejects(const char *yaml, int line, const char *what)
{
	char err[1024], prefix[32];
	struct schema *s = load(yaml, err, sizeof(err));
	if (s) {
		fprintf(stderr, "  accepted, expected line %d: %s\n", line, what);
		schema_free(s);
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "enc.yaml:%d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
		fprintf(stderr, "  got \"%s\", expected line %d and \"%s\"\n", err, line, what);
		return 0;
	}
	return 1;
}

static char *read_fixture(const char *name)
{
	static const char *const dirs[] = {"tests/schema/fixtures", "../tests/schema/fixtures",
	                                   "../../tests/schema/fixtures"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(dirs); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		char *buf = calloc(1, 65536);
		size_t n = fread(buf, 1, 65535, f);
		buf[n] = 0;
		fclose(f);
		return buf;
	}
	return NULL;
}

static struct schema *load_fixture(const char *name, char *err, size_t errlen)
{
	char *y = read_fixture(name);
	if (!y) {
		snprintf(err, errlen, "fixture %s not found", name);
		return NULL;
	}
	struct schema *s = load(y, err, errlen);
	free(y);
	return s;
}

static void test_acra_searchable_clients(void)
{
	char err[512];
	struct schema *s = load_fixture("acra_searchable_clients.yaml", err, sizeof(err));
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ_INT(s->ntables, 2);
	CHECK_EQ_INT(s->nencrypted, 5);
	const struct schema_table *t =
	    schema_find_table(s, "test_searchable_transparent_encryption");
	CHECK(t != NULL);
	if (t) {
		CHECK_EQ_INT(t->ncolumns, 9);
		const struct schema_column *c = schema_find_column(t, "specified_client_id");
		CHECK(c && c->client_id && strlen(c->client_id) == 128);
		CHECK(c && !c->searchable && c->type == CODEC_BYTEA && c->type_oid == 17);
		CHECK(c && c->on_fail == SCHEMA_FAIL_ERROR);
		c = schema_find_column(t, "default_client_id");
		CHECK(c && c->client_id == NULL && c->position == 2);
		c = schema_find_column(t, "searchable_acrablock");
		CHECK(c && c->searchable && c->table == t && c->index == 4);
		CHECK(c && t_streq(c->qualified,
		                   "test_searchable_transparent_encryption.searchable_acrablock"));
		CHECK(schema_find_column(t, "raw_data") == NULL);
		CHECK_EQ_INT(schema_column_position(t, "raw_data"), 4);
		CHECK_EQ_INT(schema_column_position(t, "nope"), -1);
	}
	t = schema_find_table(s, "test_searchable_limit_offset");
	CHECK(t && t->nencrypted == 1 && t->encrypted[0].index == 0 && t->encrypted[0].searchable);
	CHECK(schema_find_table(s, "TEST_SEARCHABLE_LIMIT_OFFSET") == NULL);
	schema_free(s);
}

static void test_acra_type_aware(void)
{
	char err[512];
	struct schema *s = load_fixture("acra_type_aware.yaml", err, sizeof(err));
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	const struct schema_table *t = schema_find_table(s, "type_aware_by_name");
	const struct schema_column *c;
	CHECK(t != NULL);
	if (t) {
		c = schema_find_column(t, "value_str");
		CHECK(c && c->type == CODEC_TEXT && c->type_oid == 25 &&
		      c->on_fail == SCHEMA_FAIL_DEFAULT);
		CHECK(c && t_streq(c->default_value, "value_str"));
		c = schema_find_column(t, "value_bytes");
		CHECK(c && c->type == CODEC_BYTEA &&
		      t_streq(c->default_value, "\\x76616c75655f6279746573"));
		c = schema_find_column(t, "value_int32");
		CHECK(c && c->type == CODEC_INT4 && c->type_oid == 23 &&
		      t_streq(c->default_value, "32"));
		c = schema_find_column(t, "value_int64");
		/* a default_data_value alone implies response_on_fail: default_value (as in Acra)
		 */
		CHECK(c && c->type == CODEC_INT8 && c->on_fail == SCHEMA_FAIL_DEFAULT);
		c = schema_find_column(t, "value_null_str");
		CHECK(c && c->on_fail == SCHEMA_FAIL_CIPHERTEXT && c->default_value == NULL);
		c = schema_find_column(t, "value_empty_str");
		CHECK(c && c->on_fail == SCHEMA_FAIL_ERROR);
	}
	t = schema_find_table(s, "type_aware_by_oid");
	CHECK(t != NULL);
	if (t) {
		c = schema_find_column(t, "value_searchable");
		CHECK(c && c->type == CODEC_TEXT && c->searchable && c->position == 2);
		c = schema_find_column(t, "value_int64");
		CHECK(c && c->type == CODEC_INT8 && c->type_oid == 20);
	}
	schema_free(s);
}

static void test_acra_identifiers(void)
{
	char err[512];
	struct schema *s = load_fixture("acra_identifiers.yaml", err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	const struct schema_table *t = schema_find_table(s, "lowercase_table");
	CHECK(t && schema_find_column(t, "data") && schema_column_position(t, "data") == 1);
	CHECK(schema_find_table(s, "uppercase_table") != NULL);
	CHECK(schema_find_table(s, "UPPERCASE_TABLE") == NULL);
	schema_free(s);
}

static void test_refused_fixtures(void)
{
	char err[512];
	struct schema *s = load_fixture("acra_tokenization.yaml", err, sizeof(err));
	CHECK(s == NULL && strstr(err, "acra_tokenization") == NULL &&
	      strstr(err, ":9: 'token_type'") && strstr(err, "not supported by pgseal"));
	schema_free(s);
	s = load_fixture("acra_masking.yaml", err, sizeof(err));
	CHECK(s == NULL && strstr(err, ":9: 'masking'") && strstr(err, "not supported by pgseal"));
	schema_free(s);
}

static void test_names(void)
{
	char err[512];
	struct schema *s =
	    load("schemas:\n"
	         "  - table: Sales.\"Order Lines\"\n"
	         "    columns: [Id, '\"Unit Price\"', \"\\\"x\\\"\\\"y\\\"\", naïve, a$b]\n"
	         "    encrypted:\n"
	         "      - column: '\"Unit Price\"'\n"
	         "        data_type: numeric\n"
	         "      - column: NAÏVE\n"
	         "        data_type: text\n"
	         "      - column: A$B\n"
	         "        data_type: jsonb\n",
	         err, sizeof(err));
	/* "x""y" holds a quote: refused, pgseal's names carry no '"' */
	CHECK(s == NULL && strstr(err, "enc.yaml:3:"));
	schema_free(s);
	s = load("schemas:\n"
	         "  - table: Sales.\"Order Lines\"\n"
	         "    columns: [Id, '\"Unit Price\"', naïve, a$b, _Z9]\n"
	         "    encrypted:\n"
	         "      - column: '\"Unit Price\"'\n"
	         "        data_type: numeric\n"
	         "      - column: NAïVE\n"
	         "        data_type: text\n"
	         "      - column: A$B\n"
	         "        data_type: jsonb\n",
	         err, sizeof(err));
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	const struct schema_table *t = schema_find_table(s, "sales.Order Lines");
	CHECK(t != NULL);
	CHECK(t && t_streq(t->columns[0], "id") && t_streq(t->columns[1], "Unit Price"));
	/* only ASCII letters fold, as PostgreSQL does in UTF-8 */
	CHECK(t && t_streq(t->columns[2], "naïve") && t_streq(t->columns[4], "_z9"));
	CHECK(t && schema_find_column(t, "Unit Price") && schema_find_column(t, "naïve") &&
	      !schema_find_column(t, "naÏve") && schema_find_column(t, "a$b"));
	CHECK(t && t_streq(t->encrypted[0].qualified, "sales.Order Lines.Unit Price"));
	schema_free(s);
}

static void test_empty(void)
{
	char err[512];
	static const char *const docs[] = {
	    "",
	    "# nothing\n",
	    "schemas:\n",
	    "schemas: []\n",
	    "defaults:\n  crypto_envelope: acrastruct\n",
	    "schemas:\n  - table: t\n",
	    "schemas:\n  - table: t\n    columns: [a]\n    encrypted: []\n"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(docs); i++) {
		struct schema *s = load(docs[i], err, sizeof(err));
		CHECK(s != NULL && s->nencrypted == 0);
		if (!s)
			fprintf(stderr, "  doc %zu: %s\n", i, err);
		schema_free(s);
	}
}

static void test_defaults_and_types(void)
{
	char err[512];
	struct schema *s = load("database_settings:\n"
	                        "  mysql:\n"
	                        "    case_sensitive_table_identifiers: true\n"
	                        "  postgresql: {}\n"
	                        "schemas:\n"
	                        "  - table: t\n"
	                        "    encrypted:\n"
	                        "      - column: a\n"
	                        "      - column: b\n"
	                        "        data_type: date\n"
	                        "        default_data_value: '2024-02-29'\n"
	                        "      - column: c\n"
	                        "        data_type: uuid\n"
	                        "      - column: d\n"
	                        "        data_type_db_identifier: 1043\n"
	                        "        tokenized: false\n"
	                        "        consistent_tokenization: false\n"
	                        "        token_type: ''\n"
	                        "      - column: e\n"
	                        "        data_type: bytes\n"
	                        "        default_data_value: '\\x00ff'\n"
	                        "      - column: f\n"
	                        "        data_type: str\n"
	                        "        default_data_value: ''\n"
	                        "      - column: g\n"
	                        "        data_type: timestamptz\n"
	                        "        client_id: ''\n",
	                        err, sizeof(err));
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	const struct schema_table *t = schema_find_table(s, "t");
	CHECK(t && t->ncolumns == 0 && t->columns == NULL);
	if (t) {
		const struct schema_column *c = schema_find_column(t, "a");
		CHECK(c && c->type == CODEC_BYTEA && c->position == -1);
		c = schema_find_column(t, "b");
		CHECK(c && c->type == CODEC_DATE && t_streq(c->default_value, "2024-02-29"));
		c = schema_find_column(t, "c");
		CHECK(c && c->type == CODEC_UUID && c->type_oid == 2950);
		c = schema_find_column(t, "d");
		/* data_type_db_identifier keeps the given OID (varchar), the codec is text's */
		CHECK(c && c->type == CODEC_TEXT && c->type_oid == 1043);
		c = schema_find_column(t, "e");
		CHECK(c && t_streq(c->default_value, "\\x00ff"));
		c = schema_find_column(t, "f");
		CHECK(c && c->on_fail == SCHEMA_FAIL_DEFAULT && t_streq(c->default_value, ""));
		c = schema_find_column(t, "g");
		CHECK(c && c->client_id == NULL && c->type == CODEC_TIMESTAMPTZ);
	}
	schema_free(s);
}

/* Every rejection names the line. */
static void test_rejections(void)
{
#define T "schemas:\n  - table: t\n    columns: [id, a, b]\n    encrypted:\n      - column: a\n"
	/* lines: 1 schemas, 2 table, 3 columns, 4 encrypted, 5 column a, 6 next key */
	CHECK(rejects("foo: 1\nschemas: []\n", 1, "unknown key 'foo'"));
	CHECK(rejects("schemas: []\nencryptor_config_file: x\n", 2, "unknown key"));
	CHECK(rejects("schemas: {}\n", 1, "'schemas' must be a list"));
	CHECK(rejects("- a\n- b\n", 1, "the top level must be a mapping"));
	CHECK(rejects("schemas:\n  - t\n", 2, "must be a mapping"));
	CHECK(rejects("schemas:\n  - table: t\n    colums: [a]\n", 3, "unknown key 'colums'"));
	CHECK(rejects("schemas:\n  - columns: [a]\n", 2, "needs 'table'"));
	CHECK(rejects(T "        serchable: true\n", 6, "unknown key 'serchable'"));
	CHECK(rejects(T "        token_type: str\n", 6,
	              "'token_type': tokenization is not supported by pgseal"));
	CHECK(rejects(T "        tokenized: true\n", 6, "not supported by pgseal"));
	CHECK(rejects(T "        consistent_tokenization: true\n", 6, "not supported by pgseal"));
	CHECK(rejects(T "        masking: xxxx\n", 6, "'masking': masking"));
	CHECK(rejects(T "        plaintext_length: 9\n", 6, "not supported by pgseal"));
	CHECK(rejects(T "        plaintext_side: left\n", 6, "not supported by pgseal"));
	CHECK(rejects(T "        zone_id: DDDDDDDDMatNOMYjqVOuhACC\n", 6, "zones"));
	CHECK(rejects(T "        searchable: maybe\n", 6, "'searchable' must be true or false"));
	CHECK(rejects(T "        data_type: point\n", 6, "unsupported type"));
	CHECK(rejects(T "        data_type: [str]\n", 6, "'data_type' must be a string"));
	CHECK(rejects(T "        data_type: str\n        data_type_db_identifier: 25\n", 7,
	              "exclusive"));
	CHECK(rejects(T "        data_type_db_identifier: 600\n", 6, "unsupported type OID 600"));
	CHECK(rejects(T "        data_type_db_identifier: text\n", 6, "positive integer"));
	CHECK(rejects(T "        data_type_db_identifier: -25\n", 6, "positive integer"));
	CHECK(rejects(T "        data_type_db_identifier: 99999999999\n", 6, "positive integer"));
	CHECK(rejects(T "        response_on_fail: ignore\n", 6, "'response_on_fail' must be"));
	CHECK(rejects(T "        data_type: int32\n        response_on_fail: default_value\n", 7,
	              "needs 'default_data_value'"));
	CHECK(rejects(T "        data_type: int32\n        response_on_fail: error\n        "
	                "default_data_value: '1'\n",
	              8, "needs 'response_on_fail: default_value'"));
	CHECK(rejects(T "        data_type: int32\n        default_data_value: 'abc'\n", 7,
	              "not a valid int4 value"));
	CHECK(rejects(T "        data_type: int32\n        default_data_value: '4294967296'\n", 7,
	              "not a valid int4 value"));
	CHECK(rejects(T "        data_type: bytes\n        default_data_value: 'not base64!'\n", 7,
	              "base64"));
	CHECK(rejects(T "        data_type: bytes\n        default_data_value: '\\xZZ'\n", 7,
	              "not a valid bytea value"));
	CHECK(rejects(T "        data_type: str\n        default_data_value:\n", 7,
	              "must be a string"));
	CHECK(rejects(T "        crypto_envelope: acrabox\n", 6, "acrablock or acrastruct"));
	CHECK(rejects(T "        reencrypting_to_acrablocks: 2\n", 6, "true or false"));
	CHECK(rejects(T "        client_id: 'a b'\n", 6, "'client_id' must be"));
	CHECK(rejects(T "        client_id: [a]\n", 6, "'client_id' must be a string"));
	CHECK(rejects(T "        searchable: true\n        searchable: false\n", 7,
	              "duplicate key 'searchable'"));
	CHECK(rejects(T "      - column: a\n", 6, "column 'a' of table 't' is encrypted twice"));
	CHECK(rejects(T "      - column: A\n", 6, "encrypted twice"));
	CHECK(rejects(T "      - column: c\n", 6, "'c' is not in 'columns'"));
	CHECK(rejects(T "      - searchable: true\n", 6, "needs 'column'"));
	CHECK(rejects(T "      - column:\n", 6, "'column' must be a string"));
	CHECK(rejects("schemas:\n  - table: t\n    columns: [a, b, A]\n", 3, "listed twice"));
	CHECK(rejects("schemas:\n  - table: t\n    columns: a\n", 3, "'columns' must be a list"));
	CHECK(
	    rejects("schemas:\n  - table: t\n    encrypted: a\n", 3, "'encrypted' must be a list"));
	CHECK(rejects("schemas:\n  - table: t\n  - table: x\n  - table: T\n", 4,
	              "table 't' is configured twice (first at line 2)"));
	CHECK(rejects("schemas:\n  - table: my table\n", 2, "not a plain SQL identifier"));
	CHECK(rejects("schemas:\n  - table: 1t\n", 2, "not a plain SQL identifier"));
	CHECK(rejects("schemas:\n  - table: a.b.c\n", 2, "expected [schema.]table"));
	CHECK(rejects("schemas:\n  - table: a.\n", 2, "empty name"));
	CHECK(rejects("schemas:\n  - table: '\"\"'\n", 2, "empty name"));
	CHECK(rejects("schemas:\n  - table: '\"abc'\n", 2, "unterminated"));
	CHECK(rejects("schemas:\n  - table: '\"a.b\"'\n", 2, "may not contain"));
	CHECK(rejects("schemas:\n  - table: \"\\\"a\\nb\\\"\"\n", 2, "control characters"));
	CHECK(rejects("schemas:\n  - table: \"a\\0b\"\n", 2, "NUL"));
	CHECK(rejects("schemas:\n  - table: t\n    columns: [a.b]\n", 3, "one part"));
	CHECK(rejects("schemas:\n  - table: "
	              "a234567890123456789012345678901234567890123456789012345678901234\n",
	              2, "63-byte"));
	CHECK(rejects("defaults:\n  crypto_envelope: acrablock\n  zone: x\n", 3,
	              "unknown key 'zone' in 'defaults'"));
	CHECK(rejects("defaults:\n  crypto_envelope: none\n", 2, "acrablock or acrastruct"));
	CHECK(rejects("defaults: [a]\n", 1, "'defaults' must be a mapping"));
	CHECK(rejects("database_settings:\n  oracle: {}\n", 2, "unknown key 'oracle'"));
	CHECK(rejects("database_settings:\n  postgresql:\n    x: 1\n", 3, "unknown key 'x'"));
	CHECK(rejects("schemas:\n  - table: t\n    columns: [a\n", 4, "YAML error"));
	CHECK(rejects("schemas:\n  - table: t\n  table: u\n", 3, "YAML error"));
	CHECK(rejects("schemas: []\nschemas: []\n", 2, "duplicate key 'schemas'"));
	CHECK(rejects("? [a]\n: b\n", 1, "keys of the top level must be strings"));
#undef T
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* schema_load from a pgseal config: inline, encryptor_config_file, both, neither. */
static void test_load_config(void)
{
	char dir[] = "/tmp/pgseal-test-schema.XXXXXX", path[256], enc[256], err[512];
	struct config *cfg = NULL;
	struct schema *s = NULL;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/pgseal.yaml", dir);
	snprintf(enc, sizeof(enc), "%s/enc.yaml", dir);

	CHECK(write_file(path, "listen: 127.0.0.1:6432\n"
	                       "upstream: {host: 127.0.0.1}\n"
	                       "schemas:\n"
	                       "  - table: t\n"
	                       "    encrypted:\n"
	                       "      - column: a\n"
	                       "        searchable: yes\n") == 0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_OK);
	CHECK(s && s->nencrypted == 1 && s->tables[0].encrypted[0].searchable);
	schema_free(s);
	s = NULL;
	config_free(cfg);
	cfg = NULL;

	/* the inline list is checked with the same rules, errors name the config file */
	CHECK(write_file(path, "upstream: {host: 127.0.0.1}\n"
	                       "schemas:\n"
	                       "  - table: t\n"
	                       "    encrypted:\n"
	                       "      - column: a\n"
	                       "        masking: '*'\n") == 0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_ERR);
	CHECK(s == NULL && strstr(err, "pgseal.yaml:6: 'masking'"));
	config_free(cfg);
	cfg = NULL;

	CHECK(write_file(enc, "defaults:\n  crypto_envelope: acrablock\nschemas:\n  - table: u\n"
	                      "    encrypted:\n      - column: b\n") == 0);
	CHECK(write_file(path, "upstream: {host: 127.0.0.1}\nencryptor_config_file: enc.yaml\n") ==
	      0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_OK);
	CHECK(s && schema_find_table(s, "u") && s->nencrypted == 1);
	schema_free(s);
	s = NULL;
	config_free(cfg);
	cfg = NULL;

	CHECK(write_file(enc, "schemas:\n  - table: u\n    encrypted:\n      - column: b\n"
	                      "        tokenized: true\n") == 0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "enc.yaml:5: 'tokenized'") != NULL);
	config_free(cfg);
	cfg = NULL;

	CHECK(write_file(path, "upstream: {host: 127.0.0.1}\nencryptor_config_file: enc.yaml\n"
	                       "schemas: []\n") == 0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "pgseal.yaml:3: both") != NULL);
	config_free(cfg);
	cfg = NULL;

	CHECK(write_file(
	          path, "upstream: {host: 127.0.0.1}\nencryptor_config_file: missing.yaml\n") == 0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "missing.yaml: cannot open") != NULL);
	config_free(cfg);
	cfg = NULL;

	CHECK(write_file(path, "upstream: {host: 127.0.0.1}\n") == 0);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && schema_load(cfg, &s, err, sizeof(err)) == PGS_OK);
	CHECK(s && s->ntables == 0 && s->nencrypted == 0);
	schema_free(s);
	config_free(cfg);
	unlink(path);
	unlink(enc);
	rmdir(dir);
}

static void test_quote_ident(void)
{
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"users", "users"},       {"_x1", "_x1"},
	    {"select", "\"select\""}, {"order", "\"order\""},
	    {"name", "name"},         {"Users", "\"Users\""},
	    {"1a", "\"1a\""},         {"a b", "\"a b\""},
	    {"a\"b", "\"a\"\"b\""},   {"a$b", "\"a$b\""},
	    {"café", "\"café\""},     {"xmltable", "\"xmltable\""},
	    {"all", "\"all\""},       {"zone", "zone"},
	    {"user", "\"user\""},     {"current_user", "\"current_user\""},
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(v); i++) {
		char *q = schema_quote_ident(v[i].in);
		CHECK_STR(q, v[i].out);
		free(q);
	}
	char *q = schema_quote_qualified("public.order");
	CHECK_STR(q, "public.\"order\"");
	free(q);
	q = schema_quote_qualified("Sales.Order Lines");
	CHECK_STR(q, "\"Sales\".\"Order Lines\"");
	free(q);
	q = schema_quote_qualified("t");
	CHECK_STR(q, "t");
	free(q);
}

static char *ddl_of_mode(const char *yaml, bool constraints_only)
{
	char err[512], *buf = NULL;
	size_t len = 0;
	struct schema *s = load(yaml, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return NULL;
	}
	FILE *m = open_memstream(&buf, &len);
	int rc = constraints_only ? schema_print_constraints(s, m) : schema_print_ddl(s, m);
	fclose(m);
	schema_free(s);
	if (rc != PGS_OK) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *ddl_of(const char *yaml)
{
	return ddl_of_mode(yaml, false);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The record CHECK constraints (docs/schema.md "The wall"): format byte per kind, lengths
 * per type, the key-id range, names and quoting; and --constraints-only. */
static void test_wall(void)
{
	static const char *yaml =
	    "schemas:\n"
	    "  - table: public.Order\n"
	    "    encrypted:\n"
	    "      - column: email\n"
	    "        searchable: true\n"
	    "      - column: '\"Note\"'\n"
	    "        data_type: str\n"
	    "      - column: n\n"
	    "        data_type: int8\n"
	    "      - column: u\n"
	    "        data_type: uuid\n"
	    "        searchable: true\n"
	    "      - column: j\n"
	    "        data_type: jsonb\n"
	    "      - column: check\n"
	    "        data_type: bool\n"
	    "  - table: other\n"
	    "    encrypted:\n"
	    "      - column: c234567890123456789012345678901234567890123456789012345678901\n"
	    "      - column: c234567890123456789012345678901234567890123456789012345678902\n";
	char *d = ddl_of(yaml);
	CHECK(d != NULL);
	if (!d)
		return;
	/* searchable: 0x02, >= 65 bytes, key id after the blind index */
	CHECK(strstr(
	          d,
	          "ALTER TABLE public.\"order\"\n\tDROP CONSTRAINT IF EXISTS pgseal_record_email,\n"
	          "\tADD CONSTRAINT pgseal_record_email CHECK (email >= E'\\\\x02'::bytea AND "
	          "email < "
	          "E'\\\\x03'::bytea AND length(email) >= 65 AND substring(email FROM 34 FOR 4) "
	          "BETWEEN "
	          "E'\\\\x00000001'::bytea AND E'\\\\x00ffffff'::bytea),\n") != NULL);
	/* plain text: 0x01 and the key id as one range of 5-byte prefixes, >= 33 bytes */
	CHECK(strstr(d, "ADD CONSTRAINT \"pgseal_record_Note\" CHECK (\"Note\" >= "
	                "E'\\\\x0100000001'::bytea AND \"Note\" < E'\\\\x0101000000'::bytea AND "
	                "length(\"Note\") >= 33),") != NULL);
	/* fixed-size types: exact lengths; jsonb: at least one byte */
	CHECK(strstr(d, " AND length(n) = 41),") != NULL);
	CHECK(
	    strstr(
	        d,
	        "CHECK (u >= E'\\\\x02'::bytea AND u < E'\\\\x03'::bytea AND length(u) = 81 AND") !=
	    NULL);
	CHECK(strstr(d, " AND length(j) >= 34),") != NULL);
	CHECK(strstr(d, " AND length(\"check\") = 34);") != NULL);
	/* one statement per table, validated at once (no NOT VALID), inside the transaction */
	CHECK(strstr(d, "NOT VALID") == NULL);
	CHECK_EQ_INT(count(d, "ADD CONSTRAINT "), 8);
	CHECK_EQ_INT(count(d, "DROP CONSTRAINT IF EXISTS "), 8);
	CHECK(strstr(d, "ADD CONSTRAINT") < strstr(d, "\nCOMMIT;\n"));
	CHECK(strstr(d, "NO INHERIT") == NULL);
	/* long names: 63 bytes, distinct, the prefix kept */
	{
		const char *a = strstr(d, "DROP CONSTRAINT IF EXISTS pgseal_record_c2345");
		const char *b =
		    a ? strstr(a + 1, "DROP CONSTRAINT IF EXISTS pgseal_record_c2345") : NULL;
		CHECK(a && b);
		if (a && b) {
			a += strlen("DROP CONSTRAINT IF EXISTS ");
			b += strlen("DROP CONSTRAINT IF EXISTS ");
			CHECK_EQ_INT(strcspn(a, ","), 63);
			CHECK_EQ_INT(strcspn(b, ","), 63);
			CHECK(strncmp(a, b, 63) != 0);
		}
	}
	free(d);

	/* --constraints-only: a pre-check, NOT VALID in one transaction, then VALIDATE after */
	d = ddl_of_mode(yaml, true);
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK(strstr(d, "ALTER COLUMN") == NULL && strstr(d, "CREATE INDEX") == NULL &&
	      strstr(d, "LOCK TABLE") == NULL);
	CHECK_EQ_INT(count(d, "ADD CONSTRAINT "), 8);
	CHECK_EQ_INT(count(d, ") NOT VALID"), 8);
	CHECK(strstr(d, "a.atttypid = 'bytea'::regtype") != NULL);
	CHECK(strstr(d, "is missing or not bytea yet") != NULL && strstr(d, "%%") == NULL);
	const char *commit = strstr(d, "\nCOMMIT;\n");
	const char *v =
	    strstr(d, "ALTER TABLE public.\"order\" VALIDATE CONSTRAINT pgseal_record_email;\n");
	CHECK(commit && v && v > commit);
	CHECK(
	    strstr(d,
	           "ALTER TABLE public.\"order\" VALIDATE CONSTRAINT \"pgseal_record_Note\";\n") !=
	    NULL);
	CHECK_EQ_INT(count(d, "VALIDATE CONSTRAINT "), 8);
	free(d);
	d = ddl_of_mode("schemas: []\n", true);
	CHECK(d && strstr(d, "No encrypted columns") && !strstr(d, "BEGIN"));
	free(d);
}

static void test_ddl(void)
{
	char *d = ddl_of("schemas:\n"
	                 "  - table: public.Order\n"
	                 "    encrypted:\n"
	                 "      - column: email\n"
	                 "        searchable: true\n"
	                 "      - column: '\"Note\"'\n"
	                 "        data_type: str\n"
	                 "  - table: plain\n"
	                 "    columns: [id]\n"
	                 "  - table: '\"o''brien\"'\n"
	                 "    encrypted:\n"
	                 "      - column: '\"a\\b\"'\n"
	                 "        searchable: true\n");
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK(strstr(d, "3 encrypted columns in 2 tables") != NULL);
	CHECK(strstr(d, "\nBEGIN;\nSET LOCAL client_min_messages = warning;\n") &&
	      strstr(d, "\nCOMMIT;\n"));
	CHECK(strstr(d, "LOCK TABLE public.\"order\" IN ACCESS EXCLUSIVE MODE;") != NULL);
	CHECK(strstr(d, "ALTER TABLE public.\"order\" ALTER COLUMN email DROP DEFAULT,\n"
	                "\t\t\tALTER COLUMN email TYPE bytea USING NULL::bytea;") != NULL);
	CHECK(strstr(d, "ALTER COLUMN \"Note\" TYPE bytea USING NULL::bytea;") != NULL);
	CHECK(strstr(d, "EXISTS (SELECT 1 FROM public.\"order\" WHERE email IS NOT NULL)") != NULL);
	CHECK(strstr(d, "CREATE INDEX IF NOT EXISTS order_email_pgseal_bidx ON public.\"order\" "
	                "(substr(email, 1, 33));") != NULL);
	CHECK(strstr(d, "Note_pgseal_bidx") == NULL);
	CHECK(strstr(d, "plain") == NULL);
	/* a literal with a quote and a backslash reads the same under any setting */
	CHECK(strstr(d, "a.attrelid = '\"o''brien\"'::regclass") != NULL);
	CHECK(strstr(d, "a.attname = E'a\\\\b'") != NULL);
	CHECK(strstr(d, "CREATE INDEX IF NOT EXISTS \"o'brien_a\\b_pgseal_bidx\" ON \"o'brien\" "
	                "(substr(\"a\\b\", 1, 33));") != NULL);
	free(d);

	d = ddl_of("schemas: []\n");
	CHECK(d && strstr(d, "No encrypted columns") && !strstr(d, "BEGIN"));
	free(d);

	/* index names stay within 63 bytes and distinct */
	d = ddl_of("schemas:\n"
	           "  - table: t23456789012345678901234567890123456789012345678901234567890\n"
	           "    encrypted:\n"
	           "      - column: c234567890123456789012345678901234567890123456789012345678901\n"
	           "        searchable: true\n"
	           "      - column: c234567890123456789012345678901234567890123456789012345678902\n"
	           "        searchable: true\n");
	CHECK(d != NULL);
	if (d) {
		char *a = strstr(d, "CREATE INDEX IF NOT EXISTS "),
		     *b = a ? strstr(a + 1, "CREATE INDEX IF NOT EXISTS ") : NULL;
		CHECK(a && b);
		if (a && b) {
			a += strlen("CREATE INDEX IF NOT EXISTS ");
			b += strlen("CREATE INDEX IF NOT EXISTS ");
			size_t la = strcspn(a, " "), lb = strcspn(b, " ");
			CHECK_EQ_INT(la, 63);
			CHECK_EQ_INT(lb, 63);
			CHECK(strncmp(a, b, 63) != 0);
			CHECK(strncmp(a + 63 - 12, "_pgseal_bidx", 12) == 0);
		}
	}
	free(d);

	/* a name holding the dollar-quote tag gets another tag */
	d = ddl_of("schemas:\n  - table: t\n    encrypted:\n      - column: '\"$pgseal$\"'\n");
	CHECK(d && strstr(d, "DO $pgseal1$\n") && strstr(d, "END\n$pgseal1$;"));
	free(d);
}

/* Reference counting, generations and the current schema of a running proxy (SIGHUP). */
static void test_refs_and_current(void)
{
	char err[256];
	struct schema *a =
	    load("schemas:\n  - table: t\n    encrypted:\n      - column: c\n", err, sizeof(err));
	struct schema *b = load("schemas: []\n", err, sizeof(err));
	CHECK(a && b);
	if (!a || !b)
		return;
	CHECK(b->generation > a->generation && a->generation > 0);
	CHECK_EQ_INT(atomic_load(&a->refs), 1);
	struct schema_current cur;
	schema_current_init(&cur, a); /* takes a's reference */
	struct schema *s1 = schema_current_get(&cur);
	CHECK(s1 == a);
	CHECK_EQ_INT(atomic_load(&a->refs), 2);
	CHECK(schema_current_generation(&cur) == a->generation);
	schema_current_set(&cur, b); /* a session still holds a */
	CHECK(schema_current_generation(&cur) == b->generation);
	CHECK_EQ_INT(atomic_load(&a->refs), 1);
	struct schema *s2 = schema_current_get(&cur);
	CHECK(s2 == b && schema_find_table(s1, "t") != NULL && schema_find_table(s2, "t") == NULL);
	schema_unref(s1); /* the last reference: a is freed (ASan would see a leak otherwise) */
	schema_unref(s2);
	CHECK(schema_ref(NULL) == NULL);
	schema_unref(NULL);
	schema_current_destroy(&cur); /* drops b */
}

/* A reload that changes nothing encrypted keeps sessions; any change in what is encrypted ends
 * the sessions from before (conn_relay.c). */
static void test_same_encryption(void)
{
	char err[256];
	static const char base[] = "schemas:\n  - table: t\n    columns: [id, c]\n    encrypted:\n"
	                           "      - column: c\n";
	struct schema *a = load(base, err, sizeof(err));
	struct schema *a2 = load(base, err, sizeof(err));
	struct schema *more = load("schemas:\n  - table: t\n    columns: [id, c]\n    encrypted:\n"
	                           "      - column: c\n  - table: u\n    encrypted:\n"
	                           "      - column: d\n",
	                           err, sizeof(err));
	struct schema *search =
	    load("schemas:\n  - table: t\n    columns: [id, c]\n    encrypted:\n"
	         "      - column: c\n        searchable: true\n",
	         err, sizeof(err));
	struct schema *none = load("schemas: []\n", err, sizeof(err));
	CHECK(a && a2 && more && search && none);
	if (a && a2 && more && search && none) {
		CHECK(schema_same_encryption(a, a2) && schema_same_encryption(a, a));
		CHECK(a->generation != a2->generation);
		CHECK(!schema_same_encryption(a, more) && !schema_same_encryption(more, a));
		CHECK(!schema_same_encryption(a, search));
		CHECK(!schema_same_encryption(a, none) && !schema_same_encryption(none, a));
		CHECK(!schema_same_encryption(a, NULL));
	}
	schema_free(a);
	schema_free(a2);
	schema_free(more);
	schema_free(search);
	schema_free(none);
}

/* One table's migration in a DO block of its own, and the report after COMMIT. */
static void test_ddl_per_table(void)
{
	char *d = ddl_of("schemas:\n"
	                 "  - table: a\n"
	                 "    encrypted:\n"
	                 "      - column: x\n"
	                 "  - table: b\n"
	                 "    encrypted:\n"
	                 "      - column: y\n"
	                 "        searchable: true\n");
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ_INT(count(d, "IF pg_catalog.to_regclass("), 2);
	CHECK(strstr(d, "RAISE WARNING 'pgseal: table % does not exist: skipped', 'a'") != NULL);
	CHECK_EQ_INT(count(d, "EXCEPTION WHEN OTHERS THEN"), 2);
	CHECK(strstr(d, "was not migrated (nothing of it changed): %', 'b', SQLERRM") != NULL);
	/* the statements run inside the block, dollar-quoted with a tag they do not hold */
	const char *ex = strstr(d, "\tEXECUTE $pgseal1$\nLOCK TABLE a IN ACCESS EXCLUSIVE MODE;");
	CHECK(ex != NULL);
	CHECK(strstr(d, "DO $pgseal2$\n") != NULL);
	/* the report comes after COMMIT, names each table, and fails when one is not ready */
	const char *commit = strstr(d, "\nCOMMIT;\n"),
	           *rep = strstr(d, "RAISE NOTICE 'pgseal: table %: ready', 'b'");
	CHECK(commit && rep && rep > commit);
	CHECK(strstr(d, "k.conname = 'pgseal_record_y'") != NULL);
	CHECK(strstr(d, "RAISE EXCEPTION 'pgseal: % of 2 tables not ready', _pgseal_bad") != NULL);
	CHECK(strstr(d, "%%") == NULL);
	free(d);
}

int main(void)
{
	RUN(test_acra_searchable_clients);
	RUN(test_acra_type_aware);
	RUN(test_acra_identifiers);
	RUN(test_refused_fixtures);
	RUN(test_names);
	RUN(test_empty);
	RUN(test_defaults_and_types);
	RUN(test_rejections);
	RUN(test_load_config);
	RUN(test_quote_ident);
	RUN(test_ddl);
	RUN(test_wall);
	RUN(test_refs_and_current);
	RUN(test_same_encryption);
	RUN(test_ddl_per_table);
	return t_summary("test_schema");
}
