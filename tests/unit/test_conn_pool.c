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

/* Appends one message: type, length, body. */
static size_t msg(uint8_t *out, size_t at, char type, const void *body, uint32_t blen)
{
	out[at] = (uint8_t)type;
	uint32_t len = blen + 4;
	out[at + 1] = (uint8_t)(len >> 24);
	out[at + 2] = (uint8_t)(len >> 16);
	out[at + 3] = (uint8_t)(len >> 8);
	out[at + 4] = (uint8_t)len;
	memcpy(out + at + 5, body, blen);
	return at + 5 + blen;
}

static int answer(const uint8_t *p, size_t n, struct conn_params *params, uint32_t *used, const char **why)
{
	struct conn_reset r = {.params = params};
	int st = conn_pool_reset_answer(&r, p, (uint32_t)n, used);
	*why = r.why;
	return st;
}

static void test_reset_answer(void)
{
	struct conn_params p = {0};
	uint8_t b[256];
	uint32_t used;
	const char *why;
	size_t n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'S', "DateStyle\0ISO, MDY", sizeof("DateStyle\0ISO, MDY"));
	n = msg(b, n, 'N', "x", 1);
	size_t before_z = n;
	n = msg(b, n, 'Z', "I", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), 1);
	CHECK(used == n);
	CHECK(p.n == 1 && !strcmp(p.values[0], "ISO, MDY"));
	/* in pieces: whole messages are consumed, a partial one waits */
	CHECK_EQ_INT(answer(b, before_z + 3, &p, &used, &why), 0);
	CHECK(used == before_z);
	CHECK_EQ_INT(answer(b, 3, &p, &used, &why), 0);
	CHECK(used == 0);
	conn_params_free(&p);

	/* negative: an error, an unexpected message, ReadyForQuery too early, not idle,
	 * bytes after it, impossible lengths */
	n = msg(b, 0, 'E', "SERROR", 7);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	CHECK(why && !strcmp(why, "reset failed"));
	n = msg(b, 0, 'D', "", 0);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	n = msg(b, 0, 'Z', "I", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* no CommandComplete before it */
	n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'Z', "T", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* in a transaction block */
	n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'Z', "II", 2);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* wrong length */
	n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'Z', "I", 1);
	n = msg(b, n, 'N', "x", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* something after ReadyForQuery */
	uint8_t bad[5] = {'C', 0, 0, 0, 3};
	CHECK_EQ_INT(answer(bad, 5, &p, &used, &why), -1);
	uint8_t huge[5] = {'N', 0x7f, 0xff, 0xff, 0xff};
	CHECK_EQ_INT(answer(huge, 5, &p, &used, &why), -1);
	CHECK(why && !strcmp(why, "invalid message during reset"));
	CHECK(p.n == 0);
	conn_params_free(&p);
}

int main(void)
{
	RUN(test_set_and_update);
	RUN(test_malformed);
	RUN(test_reset_answer);
	return t_summary("test_conn_pool");
}
