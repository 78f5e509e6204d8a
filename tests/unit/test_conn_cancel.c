/* test_conn_cancel.c - the cancel registry: keys found only while their session lives, cancels in
 * flight outlive it. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"
#include "testlib.h"

static struct conn *session(struct conn_env *env, uint32_t pid, uint32_t backend_key,
                            uint32_t client_key)
{
	struct conn *c = calloc(1, sizeof(*c));
	c->env = env;
	c->backend_pid = pid;
	c->backend_key = backend_key;
	c->client_key = client_key;
	c->has_backend_key = true;
	conn_cancel_register(c);
	return c;
}

static void test_claim_by_client_key(void)
{
	struct conn_env env = {.cancel = conn_cancel_registry_new()};
	struct conn *c = session(&env, 100, 0xB0B0, 0xC1C1);
	uint32_t real = 0;
	CHECK(conn_cancel_claim(env.cancel, 100, 0xB0B0, &real) ==
	      NULL); /* the backend's key is not the client's */
	CHECK(conn_cancel_claim(env.cancel, 101, 0xC1C1, &real) == NULL);
	struct conn_cancel_entry *e = conn_cancel_claim(env.cancel, 100, 0xC1C1, &real);
	CHECK(e != NULL);
	CHECK_EQ_INT(real, 0xB0B0);
	conn_cancel_release(env.cancel, e);
	CHECK(!conn_cancel_unregister(c)); /* nothing in flight */
	CHECK(conn_cancel_claim(env.cancel, 100, 0xC1C1, &real) == NULL);
	CHECK(!conn_cancel_unregister(c)); /* twice is harmless */
	free(c);
	conn_cancel_registry_free(env.cancel);
}

static void test_in_flight_outlives_the_session(void)
{
	struct conn_env env = {.cancel = conn_cancel_registry_new()};
	struct conn *c = session(&env, 200, 1, 2);
	uint32_t real = 0;
	struct conn_cancel_entry *e1 = conn_cancel_claim(env.cancel, 200, 2, &real);
	struct conn_cancel_entry *e2 = conn_cancel_claim(env.cancel, 200, 2, &real);
	CHECK(e1 && e1 == e2);
	/* the session ends with two cancels on their way: it is told, and the key is gone */
	CHECK(conn_cancel_unregister(c));
	CHECK(conn_cancel_claim(env.cancel, 200, 2, &real) == NULL);
	/* the same backend with a new client (the pool): only the new key finds it */
	struct conn *next = session(&env, 200, 1, 3);
	CHECK(conn_cancel_claim(env.cancel, 200, 2, &real) == NULL);
	struct conn_cancel_entry *e3 = conn_cancel_claim(env.cancel, 200, 3, &real);
	CHECK(e3 && e3 != e1);
	/* the old entry is freed by its last cancel (ASan checks the order) */
	conn_cancel_release(env.cancel, e1);
	conn_cancel_release(env.cancel, e2);
	conn_cancel_release(env.cancel, e3);
	CHECK(!conn_cancel_unregister(next));
	free(c);
	free(next);
	conn_cancel_registry_free(env.cancel);
}

int main(void)
{
	RUN(test_claim_by_client_key);
	RUN(test_in_flight_outlives_the_session);
	return t_summary("test_conn_cancel");
}
