/* test_sql_util.h - a hand-built schema and a fake encrypt callback for the sql unit tests and fuzz
 * target. */
#ifndef PGSEAL_TEST_SQL_UTIL_H
#define PGSEAL_TEST_SQL_UTIL_H

#include "sql/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * users(id, email searchable, ssn, salary int8, name)
 * orders(id, user_id, card searchable, total)
 * app.accounts(<columns unknown>, secret searchable)
 */
static struct schema *tsql_schema(void)
{
	static char *ucols[] = {"id", "email", "ssn", "salary", "name"};
	static char *ocols[] = {"id", "user_id", "card", "total"};
	static struct schema_table tables[3];
	static struct schema_column ue[3], oe[1], ae[1];
	static struct schema s;
	memset(tables, 0, sizeof(tables));
	tables[0] = (struct schema_table){
	    .name = "users", .columns = ucols, .ncolumns = 5, .encrypted = ue, .nencrypted = 3};
	tables[1] = (struct schema_table){
	    .name = "orders", .columns = ocols, .ncolumns = 4, .encrypted = oe, .nencrypted = 1};
	tables[2] = (struct schema_table){.name = "app.accounts", .encrypted = ae, .nencrypted = 1};
	ue[0] = (struct schema_column){.table = &tables[0],
	                               .name = "email",
	                               .qualified = "users.email",
	                               .type = CODEC_TEXT,
	                               .searchable = true,
	                               .position = 1,
	                               .index = 0};
	ue[1] = (struct schema_column){.table = &tables[0],
	                               .name = "ssn",
	                               .qualified = "users.ssn",
	                               .type = CODEC_TEXT,
	                               .position = 2,
	                               .index = 1};
	ue[2] = (struct schema_column){.table = &tables[0],
	                               .name = "salary",
	                               .qualified = "users.salary",
	                               .type = CODEC_INT8,
	                               .position = 3,
	                               .index = 2};
	oe[0] = (struct schema_column){.table = &tables[1],
	                               .name = "card",
	                               .qualified = "orders.card",
	                               .type = CODEC_TEXT,
	                               .searchable = true,
	                               .position = 2,
	                               .index = 3};
	ae[0] = (struct schema_column){.table = &tables[2],
	                               .name = "secret",
	                               .qualified = "app.accounts.secret",
	                               .type = CODEC_TEXT,
	                               .searchable = true,
	                               .position = -1,
	                               .index = 4};
	s = (struct schema){.tables = tables, .ntables = 3, .nencrypted = 5};
	return &s;
}

/* Renders ENC(column:MODE:value); a value "BAD" fails like an unparsable value. */
static int tsql_enc(void *arg, const struct schema_column *col, enum sql_value_mode mode,
                    const char *value, size_t len, char **out, char *err, size_t errlen)
{
	(void)arg;
	if (len == 3 && memcmp(value, "BAD", 3) == 0) {
		snprintf(err, errlen, "invalid value for %s", col->qualified);
		return PGS_ERR;
	}
	size_t n = len + strlen(col->name) + 32;
	*out = malloc(n);
	if (!*out)
		return PGS_ERR;
	snprintf(*out, n, "ENC(%s:%s:%.*s)", col->name,
	         mode == SQL_VALUE_RECORD ? "RECORD" : "BLIND", (int)len, value);
	return PGS_OK;
}

#endif
