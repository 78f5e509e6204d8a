/* test_deploy.c - unit tests of src/deploy: compose hash, dstack's normalised form (and what it
 * refuses), AppCompose checks, the policy. */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "attest/attest.h"
#include "deploy/deploy.h"
#include "testlib.h"

static char *norm(const char *in, char *err, size_t errlen)
{
	char *out = NULL;
	size_t n = 0;
	if (deploy_normalize((const uint8_t *)in, strlen(in), &out, &n, err, errlen) != PGS_OK)
		return NULL;
	if (strlen(out) != n) {
		free(out);
		return NULL;
	}
	return out;
}

static void test_hash(void)
{
	char h[65];
	deploy_compose_hash((const uint8_t *)"abc", 3, h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	deploy_compose_hash((const uint8_t *)"", 0, h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_normalize(void)
{
	char err[256], *o;
	o = norm("{ \"b\" : 1, \"a\" : {\"d\": [1, 2, {\"z\": null, \"y\": true}], \"c\": \"x\"},"
	         " \"A\": false, \"n\": -12 }\n",
	         err, sizeof(err));
	CHECK_STR(o, "{\"A\":false,\"a\":{\"c\":\"x\",\"d\":[1,2,{\"y\":true,\"z\":null}]},\"b\":1,"
	             "\"n\":-12}");
	free(o);
	/* UTF-8 stays as it is; \uXXXX escapes of non-ASCII become UTF-8 (ensure_ascii=False) */
	o = norm("{\"t\":\"\\u4f60\\u597d \xe4\xb8\x96\"}", err, sizeof(err));
	CHECK_STR(o, "{\"t\":\"\xe4\xbd\xa0\xe5\xa5\xbd \xe4\xb8\x96\"}");
	free(o);
	/* escapes as Python's json.dumps: named ones, other controls as lower-case \u00xx, DEL
	 * and '/' as they are */
	o = norm("{\"s\":\"q\\\" b\\\\ \\/ \\n\\r\\t\\b\\f \\u001b \\u007f\"}", err, sizeof(err));
	CHECK_STR(o, "{\"s\":\"q\\\" b\\\\ / \\n\\r\\t\\b\\f \\u001b \x7f\"}");
	free(o);
	/* key order is byte order (code points), upper case before lower case */
	o = norm("{\"\xc3\xa9\":1,\"z\":2,\"Z\":3}", err, sizeof(err));
	CHECK_STR(o, "{\"Z\":3,\"z\":2,\"\xc3\xa9\":1}");
	free(o);
	o = norm("[]", err, sizeof(err));
	CHECK_STR(o, "[]");
	free(o);
	o = norm("{}", err, sizeof(err));
	CHECK_STR(o, "{}");
	free(o);
}

static void test_normalize_refuses(void)
{
	char err[256];
	static const char *const bad[] = {
	    "",                             /* empty */
	    "not json",                     /* not JSON */
	    "{\"a\":1} x",                  /* trailing bytes */
	    "{\"a\":1,\"a\":2}",            /* duplicate keys: which one counts? */
	    "{\"a\":1.5}",                  /* fractions print differently per language */
	    "{\"a\":1e3}",                  /* so do exponents */
	    "{\"a\":\"\xff\"}",             /* invalid UTF-8 */
	    "{\"a\":\"\\ud800\"}",          /* lone surrogate */
	    "{\"a\":\"x\\u0000y\"}",        /* NUL inside a string */
	    "{\"a\":99999999999999999999}", /* beyond 64-bit integers */
	    "{\"a\":",                      /* truncated */
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		err[0] = 0;
		char *o = norm(bad[i], err, sizeof(err));
		CHECK(o == NULL);
		CHECK(err[0] != 0);
		free(o);
	}
	/* nesting bound */
	char deep[300];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = 0;
	char *o = norm(deep, err, sizeof(err));
	CHECK(o == NULL);
	free(o);
	/* oversized */
	size_t big = DEPLOY_APP_COMPOSE_MAX + 10;
	char *b = malloc(big + 1);
	memset(b, ' ', big);
	b[0] = '{';
	b[big - 1] = '}';
	b[big] = 0;
	o = norm(b, err, sizeof(err));
	CHECK(o == NULL);
	free(o);
	free(b);
}

static int read_ac(const char *s, struct deploy_app_compose *ac, char *err, size_t errlen)
{
	return deploy_app_compose_read((const uint8_t *)s, strlen(s), ac, err, errlen);
}

static void test_app_compose(void)
{
	struct deploy_app_compose ac;
	char err[256];
	const char *good =
	    "{\"docker_compose_file\":\"services:\\n  a:\\n    image: "
	    "x/pgseal@" DEPLOY_PLACEHOLDER_DIGEST "\\n  b:\\n    image: \\\"pg:15\\\" "
	    "# c\\n\",\"manifest_version\":2,\"name\":\"n\",\"runner\":"
	    "\"docker-compose\"}";
	CHECK_EQ_INT(read_ac(good, &ac, err, sizeof(err)), PGS_OK);
	CHECK_STR(ac.name, "n");
	CHECK_STR(ac.runner, "docker-compose");
	CHECK_EQ_INT(ac.n_images, 2);
	CHECK_STR(ac.images[0], "x/pgseal@" DEPLOY_PLACEHOLDER_DIGEST);
	CHECK_STR(ac.images[1], "pg:15");
	CHECK(ac.placeholder);
	CHECK(ac.normalised);
	/* same content, other bytes: readable, but not the normalised form */
	CHECK_EQ_INT(read_ac("{\"runner\":\"bash\", \"name\":\"n\",\"manifest_version\":\"3\"}",
	                     &ac, err, sizeof(err)),
	             PGS_OK);
	CHECK(!ac.normalised);
	CHECK(!ac.placeholder);
	CHECK_EQ_INT(ac.n_images, 0);

	static const char *const bad[] = {
	    "[1]",
	    "\"x\"",
	    "{\"name\":\"n\",\"runner\":\"bash\"}",                           /* manifest_version */
	    "{\"manifest_version\":true,\"name\":\"n\",\"runner\":\"bash\"}", /* wrong type */
	    "{\"manifest_version\":2,\"runner\":\"bash\"}",                   /* name */
	    "{\"manifest_version\":2,\"name\":\"n\"}",                        /* runner */
	    "{\"manifest_version\":2,\"name\":\"n\",\"runner\":7}",
	    "{\"manifest_version\":2,\"name\":\"n\",\"runner\":\"docker-compose\"}",
	    "{\"manifest_version\":2,\"name\":\"n\",\"runner\":\"docker-compose\","
	    "\"docker_compose_file\":null}",
	    "{\"manifest_version\":2,\"name\":\"n\",\"name\":\"m\",\"runner\":\"bash\"}",
	    "manifest_version: 2", /* YAML is not JSON */
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		err[0] = 0;
		CHECK_EQ_INT(read_ac(bad[i], &ac, err, sizeof(err)), PGS_ERR);
		CHECK(err[0] != 0);
	}
}

static char *policy(const char *hash, const struct deploy_policy_opts *o, int *rc)
{
	struct deploy_app_compose ac;
	char err[256], *buf = NULL;
	size_t n = 0;
	memset(&ac, 0, sizeof(ac));
	strcpy(ac.name, "pgseal\nmin_tcb_status: OutOfDate"); /* a name cannot inject a rule */
	ac.n_images = 1;
	strcpy(ac.images[0], "x@sha256:ab");
	FILE *f = open_memstream(&buf, &n);
	*rc = deploy_policy_write(f, "app-compose.json", hash, &ac, o, err, sizeof(err));
	fclose(f);
	return buf;
}

static void test_policy(void)
{
	const char *hash = "ED1E241ACFAFAAAE4BF7C0B02A1EFEF96990450ACA177D103B3F6E0407CE5BCC";
	struct deploy_policy_opts o = {0};
	int rc;
	char *p = policy(hash, &o, &rc);
	CHECK_EQ_INT(rc, PGS_OK);
	CHECK(strstr(p, "compose_hashes:\n  - \"") != NULL);
	CHECK(strstr(p, "min_tcb_status: UpToDate\n") != NULL);
	CHECK(strstr(p, "\nmin_tcb_status: OutOfDate") == NULL);
	CHECK(strstr(p, "require_event_log: true\n") != NULL);

	/* it loads as a policy, and pins exactly that hash */
	char path[] = "/tmp/test_deploy_policy_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, p, strlen(p)) == (ssize_t)strlen(p));
	close(fd);
	struct attest_policy *pol = NULL;
	char err[256];
	CHECK_EQ_INT(attest_policy_load(path, &pol, err, sizeof(err)), PGS_OK);
	CHECK(pol && attest_policy_min_tcb(pol) == ATTEST_TCB_UP_TO_DATE);
	attest_policy_free(pol);
	free(p);

	o.app_id = "0123456789abcdef0123456789abcdef01234567";
	o.min_tcb = "SWHardeningNeeded";
	o.rtmr[1] = "0x"
	            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	            "00112233445566778899aabbccddeeff";
	p = policy(hash, &o, &rc);
	CHECK_EQ_INT(rc, PGS_OK);
	CHECK(strstr(p, "app_ids:\n  - \"0123456789abcdef0123456789abcdef01234567\"") != NULL);
	CHECK(strstr(p, "rtmr1:\n") != NULL);
	CHECK(strstr(p, "min_tcb_status: SWHardeningNeeded\n") != NULL);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	CHECK(write(fd, p, strlen(p)) == (ssize_t)strlen(p));
	close(fd);
	pol = NULL;
	CHECK_EQ_INT(attest_policy_load(path, &pol, err, sizeof(err)), PGS_OK);
	attest_policy_free(pol);
	free(p);
	unlink(path);

	/* refusals: a bad hash or pin never becomes a policy */
	struct deploy_policy_opts b1 = {.app_id = "0123"}, b2 = {.min_tcb = "Fine"},
	                          b3 = {.mrtd = "zz"}, b4 = {.rtmr = {NULL, NULL, "00"}};
	const struct deploy_policy_opts *bad[] = {&b1, &b2, &b3, &b4};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		p = policy(hash, bad[i], &rc);
		CHECK_EQ_INT(rc, PGS_ERR);
		free(p);
	}
	p = policy("abcd", &o, &rc);
	CHECK_EQ_INT(rc, PGS_ERR);
	free(p);
	p = policy("g"
	           "d1e241acfafaaae4bf7c0b02a1efef96990450aca177d103b3f6e0407ce5bcc",
	           &o, &rc);
	CHECK_EQ_INT(rc, PGS_ERR);
	free(p);
}

int main(void)
{
	RUN(test_hash);
	RUN(test_normalize);
	RUN(test_normalize_refuses);
	RUN(test_app_compose);
	RUN(test_policy);
	return t_summary("test_deploy");
}
