/* test_conn_pool.c - the ParameterStatus store of session pooling: updates, and malformed messages ignored. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"
#include "testlib.h"

static void set(struct conn_params *p, const char *body, size_t len)
{
	conn_params_set(p, (const uint8_t *)body, (uint32_t)len);
}

static const char *get(const struct conn_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name))
			return p->values[i];
	return NULL;
}

static void test_set_and_update(void)
{
	struct conn_params p = {0};
	set(&p, "DateStyle\0ISO, MDY", sizeof("DateStyle\0ISO, MDY"));
	set(&p, "TimeZone\0UTC", sizeof("TimeZone\0UTC"));
	CHECK_EQ_INT(p.n, 2);
	CHECK(get(&p, "DateStyle") && !strcmp(get(&p, "DateStyle"), "ISO, MDY"));
	set(&p, "DateStyle\0German, DMY", sizeof("DateStyle\0German, DMY"));
	CHECK_EQ_INT(p.n, 2);
	CHECK(!strcmp(get(&p, "DateStyle"), "German, DMY"));
	set(&p, "application_name\0", sizeof("application_name\0")); /* an empty value is a value */
	CHECK_EQ_INT(p.n, 3);
	CHECK(get(&p, "application_name") && get(&p, "application_name")[0] == 0);
	conn_params_free(&p);
	CHECK_EQ_INT(p.n, 0);
	CHECK(p.names == NULL);
}

static void test_malformed(void)
{
	struct conn_params p = {0};
	set(&p, "", 0);                                   /* empty */
	set(&p, "\0x", 3);                                /* empty name */
	set(&p, "name", 4);                               /* no terminator */
	set(&p, "name\0value", 10);                       /* value not terminated */
	set(&p, "name\0value\0extra", 16);                /* trailing bytes */
	set(&p, "name\0value\0extra\0", 17);              /* a third string */
	CHECK_EQ_INT(p.n, 0);
	conn_params_free(&p);
}

int main(void)
{
	RUN(test_set_and_update);
	RUN(test_malformed);
	return t_summary("test_conn_pool");
}
