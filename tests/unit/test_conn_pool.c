/* test_conn_pool.c - session pooling: the ParameterStatus store, and the readers of the reset's and
 * the hand-out check's answers. */
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
	set(&p, "", 0);                      /* empty */
	set(&p, "\0x", 3);                   /* empty name */
	set(&p, "name", 4);                  /* no terminator */
	set(&p, "name\0value", 10);          /* value not terminated */
	set(&p, "name\0value\0extra", 16);   /* trailing bytes */
	set(&p, "name\0value\0extra\0", 17); /* a third string */
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

static int answer(const uint8_t *p, size_t n, struct conn_params *params, uint32_t *used,
                  const char **why)
{
	struct conn_reset r = {.params = params};
	int st = conn_pool_reset_answer(&r, p, (uint32_t)n, used);
	*why = r.why;
	conn_reset_clear(&r);
	return st;
}

/* A DataRow of one text column. */
static size_t row(uint8_t *out, size_t at, const char *text)
{
	uint8_t body[256];
	uint32_t l = (uint32_t)strlen(text);
	body[0] = 0;
	body[1] = 1;
	body[2] = (uint8_t)(l >> 24);
	body[3] = (uint8_t)(l >> 16);
	body[4] = (uint8_t)(l >> 8);
	body[5] = (uint8_t)l;
	memcpy(body + 6, text, l);
	return msg(out, at, 'D', body, 6 + l);
}

/* The settings query's answer: three statements, each RowDescription, DataRow, CommandComplete. */
static size_t settings(uint8_t *out, size_t at, const char *fp, const char *applied,
                       const char *catalog)
{
	const char *v[3] = {fp, applied, catalog};
	for (int i = 0; i < 3; i++) {
		at = msg(out, at, 'T', "\0\1", 2);
		at = row(out, at, v[i]);
		at = msg(out, at, 'C', "SELECT 1", 9);
	}
	return msg(out, at, 'Z', "I", 1);
}

static void test_reset_answer(void)
{
	struct conn_params p = {0};
	uint8_t b[1024];
	uint32_t used;
	const char *why;
	size_t n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'S', "DateStyle\0ISO, MDY", sizeof("DateStyle\0ISO, MDY"));
	n = msg(b, n, 'N', "x", 1);
	size_t before_z = n;
	n = msg(b, n, 'Z', "I", 1);
	size_t after_discard = n;
	n = settings(b, n, "0/16384={statement_timeout=5s}", "statement_timeout=5s",
	             "statement_timeout=5s");
	struct conn_reset r = {.params = &p};
	CHECK_EQ_INT(conn_pool_reset_answer(&r, b, (uint32_t)n, &used), 1);
	CHECK(used == n);
	CHECK(r.fingerprint && !strcmp(r.fingerprint, "0/16384={statement_timeout=5s}"));
	conn_reset_clear(&r);
	CHECK(p.n == 1 && !strcmp(p.values[0], "ISO, MDY"));
	/* no settings at all: empty texts agree */
	size_t m = settings(b, after_discard, "", "", "");
	CHECK_EQ_INT(answer(b, m, &p, &used, &why), 1);
	/* in pieces: whole messages are consumed, a partial one waits */
	CHECK_EQ_INT(answer(b, before_z + 3, &p, &used, &why), 0);
	CHECK(used == before_z);
	CHECK_EQ_INT(answer(b, 3, &p, &used, &why), 0);
	CHECK(used == 0);
	CHECK_EQ_INT(answer(b, after_discard, &p, &used, &why),
	             0); /* DISCARD ALL alone: not done */
	CHECK(used == after_discard);
	conn_params_free(&p);

	/* a backend validated before: one row, its fingerprint again */
	struct conn_reset rr = {.params = &p, .expect = "fp1"};
	m = msg(b, after_discard, 'T', "\0\1", 2);
	m = row(b, m, "fp1");
	m = msg(b, m, 'C', "SELECT 1", 9);
	size_t one_row = m;
	m = msg(b, m, 'Z', "I", 1);
	CHECK_EQ_INT(conn_pool_reset_answer(&rr, b, (uint32_t)m, &used), 1);
	conn_reset_clear(&rr);
	struct conn_reset rc = {.params = &p, .expect = "fp2"};
	CHECK_EQ_INT(conn_pool_reset_answer(&rc, b, (uint32_t)m, &used), -1); /* changed */
	CHECK(rc.why && strstr(rc.why, "settings changed"));
	conn_reset_clear(&rc);
	struct conn_reset r3 = {.params = &p, .expect = "fp1"};
	m = row(b, one_row, "fp1"); /* a second row */
	m = msg(b, m, 'Z', "I", 1);
	CHECK_EQ_INT(conn_pool_reset_answer(&r3, b, (uint32_t)m, &used), -1);
	conn_reset_clear(&r3);
	conn_params_free(&p);

	/* the settings changed since the backend started: refused */
	n = settings(b, after_discard, "fp", "statement_timeout=5s", "statement_timeout=7s");
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	CHECK(why && strstr(why, "settings changed"));
	n = settings(b, after_discard, "fp", "a=1", "");
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);

	/* negative: an error, an unexpected message, ReadyForQuery too early, not idle,
	 * bytes after it, impossible lengths, rows missing or extra */
	n = msg(b, 0, 'E', "SERROR", 7);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	CHECK(why && !strcmp(why, "reset failed"));
	n = msg(b, 0, 'D', "", 0);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* a row before DISCARD ALL is done */
	n = msg(b, 0, 'Z', "I", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* no CommandComplete before it */
	n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'Z', "T", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* in a transaction block */
	n = msg(b, 0, 'C', "DISCARD ALL", 12);
	n = msg(b, n, 'Z', "II", 2);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* wrong length */
	n = settings(b, after_discard, "fp", "x", "x");
	n = msg(b, n, 'N', "x", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* something after ReadyForQuery */
	n = msg(b, after_discard, 'T', "\0\1", 2);
	n = row(b, n, "fp");
	n = msg(b, n, 'Z', "I", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1); /* one row of three */
	n = settings(b, after_discard, "fp", "x", "x");
	n = row(b, n - 6, "x"); /* a fourth row in place of the last ReadyForQuery */
	n = msg(b, n, 'Z', "I", 1);
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	n = msg(b, after_discard, 'D', "\0\2\0\0\0\0\0\0\0\0", 10); /* two columns */
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	n = msg(b, after_discard, 'D', "\0\1\xff\xff\xff\xff", 6); /* NULL */
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	n = msg(b, after_discard, 'D', "\0\1\0\0\0\x09x", 7); /* a length past the message */
	CHECK_EQ_INT(answer(b, n, &p, &used, &why), -1);
	conn_params_free(&p);
	uint8_t bad[5] = {'C', 0, 0, 0, 3};
	CHECK_EQ_INT(answer(bad, 5, &p, &used, &why), -1);
	uint8_t huge[5] = {'N', 0x7f, 0xff, 0xff, 0xff};
	CHECK_EQ_INT(answer(huge, 5, &p, &used, &why), -1);
	CHECK(why && !strcmp(why, "invalid message during reset"));
	CHECK(p.n == 0);
	conn_params_free(&p);
}

static void test_check_answer(void)
{
	struct conn_params p = {0};
	uint8_t b[512];
	size_t n = msg(b, 0, 'T', "\0\1", 2);
	n = row(b, n, "0/16384={a=1}");
	n = msg(b, n, 'C', "SELECT 1", 9);
	size_t before_z = n;
	n = msg(b, n, 'Z', "I", 1);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, "0/16384={a=1}"), 1);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, "0/16384={a=2}"), -2); /* changed */
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, ""), -2);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)before_z, &p, "0/16384={a=1}"), 0);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n - 1, &p, "0/16384={a=1}"), 0);
	/* negative: an error, no row, two rows, bytes after the end, not idle */
	n = msg(b, 0, 'E', "SERROR", 7);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, ""), -1);
	n = msg(b, 0, 'C', "SELECT 0", 9);
	n = msg(b, n, 'Z', "I", 1);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, ""), -1);
	n = row(b, 0, "x");
	n = row(b, n, "x");
	n = msg(b, n, 'Z', "I", 1);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, "x"), -1);
	n = row(b, 0, "x");
	n = msg(b, n, 'Z', "I", 1);
	n = msg(b, n, 'N', "x", 1);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, "x"), -1);
	n = row(b, 0, "x");
	n = msg(b, n, 'Z', "T", 1);
	CHECK_EQ_INT(conn_pool_check_answer(b, (uint32_t)n, &p, "x"), -1);
	uint8_t huge[5] = {'D', 0x7f, 0xff, 0xff, 0xff};
	CHECK_EQ_INT(conn_pool_check_answer(huge, 5, &p, "x"), -1);
	conn_params_free(&p);
}

int main(void)
{
	RUN(test_set_and_update);
	RUN(test_malformed);
	RUN(test_reset_answer);
	RUN(test_check_answer);
	return t_summary("test_conn_pool");
}
