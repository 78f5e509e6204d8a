/* test_auth_userlist.c - unit tests for PgBouncer-style userlist parsing. */
#include "auth/auth.h"
#include "testlib.h"

#include <stdlib.h>

static void test_userlist_ok(void)
{
	static const char text[] =
	    "; PgBouncer userlist\n"
	    "# another comment\n"
	    "\n"
	    "   \t\n"
	    "\"alice\" "
	    "\"SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=\"\n"
	    "  \"bo\"\"b\"\t\"se\"\"cret\" trailing fields are ignored \"x\"\r\n"
	    "\"carol\" \"\"\n"
	    "\"dave eve\" \"md5a3556571e93b0d20722ba62be61e8c2d\"";
	struct auth_userlist *ul = NULL;
	char err[128] = "";
	struct auth_verifier v;
	CHECK_EQ_INT(auth_userlist_parse(text, strlen(text), &ul, err, sizeof(err)), AUTH_OK);
	CHECK_EQ_INT(auth_userlist_count(ul), 4);
	const char *a = auth_userlist_lookup(ul, "alice");
	CHECK(a != NULL);
	CHECK_EQ_INT(auth_verifier_parse(a, &v), AUTH_OK);
	CHECK_STR(auth_userlist_lookup(ul, "bo\"b"), "se\"cret");
	CHECK_STR(auth_userlist_lookup(ul, "carol"), "");
	CHECK_STR(auth_userlist_lookup(ul, "dave eve"), "md5a3556571e93b0d20722ba62be61e8c2d");
	CHECK_EQ_INT(auth_verifier_parse(auth_userlist_lookup(ul, "dave eve"), &v),
	             AUTH_ERR_INVALID);
	CHECK(auth_userlist_lookup(ul, "Alice") == NULL);
	CHECK(auth_userlist_lookup(ul, "bob") == NULL);
	CHECK(auth_userlist_lookup(ul, NULL) == NULL);
	CHECK(auth_userlist_lookup(NULL, "alice") == NULL);
	auth_userlist_free(ul);
	auth_userlist_free(NULL);

	CHECK_EQ_INT(auth_userlist_parse("", 0, &ul, err, sizeof(err)), AUTH_OK);
	CHECK_EQ_INT(auth_userlist_count(ul), 0);
	auth_userlist_free(ul);
}

static void test_userlist_negative(void)
{
	static const struct {
		const char *text;
		const char *err;
	} bad[] = {
	    {"alice \"pw\"\n", "line 1: expected a double-quoted field"},
	    {"\n\n\"alice\"\n", "line 3: expected a double-quoted field"},
	    {"\"alice\" pw\n", "line 1: expected a double-quoted field"},
	    {"\"alice\" \"TOPSECRET\n\"", "line 1: unterminated quoted field"},
	    {"\"alice\n\" \"pw\"", "line 1: unterminated quoted field"},
	    {"\"alice\" \"TOPSECRET", "line 1: unterminated quoted field"},
	    {"\"\" \"pw\"\n", "line 1: empty user name"},
	    {"\"a\" \"TOPSECRET\"\n\"a\" \"TOPSECRET2\"\n", "line 2: duplicate user"},
	    {"\"a\"", "line 1: expected a double-quoted field"},
	    {"\"carol\"\"\"\n", "line 1: expected a double-quoted field"},
	    {"\"a\" \"b\"\n;c\n\"d\" \"e\"\nx", "line 4: expected a double-quoted field"},
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		struct auth_userlist *ul = (struct auth_userlist *)1;
		char err[128] = "";
		t_current = bad[i].text;
		CHECK_EQ_INT(
		    auth_userlist_parse(bad[i].text, strlen(bad[i].text), &ul, err, sizeof(err)),
		    AUTH_ERR_INVALID);
		CHECK(ul == NULL);
		CHECK(strcmp(err, bad[i].err) == 0);
		CHECK(strstr(err, "TOPSECRET") == NULL);
	}
	t_current = "test_userlist_negative";
	struct auth_userlist *ul = NULL;
	char err[128];
	CHECK_EQ_INT(auth_userlist_parse("\"a\" \"b\0\"", 8, &ul, err, sizeof(err)),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_userlist_parse("\"a\" \"b\"", 7, &ul, NULL, 0), AUTH_OK);
	auth_userlist_free(ul);
	/* a field over 4096 bytes */
	size_t n = 4200;
	char *big = malloc(n + 8);
	memset(big, 'x', n + 8);
	memcpy(big, "\"u\" \"", 5);
	big[n] = '"';
	CHECK_EQ_INT(auth_userlist_parse(big, n + 1, &ul, err, sizeof(err)), AUTH_ERR_INVALID);
	CHECK(strcmp(err, "line 1: field too long") == 0);
	free(big);
}

static void test_userlist_many(void)
{
	size_t cap = 64 * 2000, len = 0;
	char *t = malloc(cap);
	for (int i = 0; i < 2000; i++)
		len += (size_t)snprintf(t + len, cap - len, "\"user%d\" \"secret%d\"\n", i, i);
	struct auth_userlist *ul = NULL;
	char err[128];
	CHECK_EQ_INT(auth_userlist_parse(t, len, &ul, err, sizeof(err)), AUTH_OK);
	CHECK_EQ_INT(auth_userlist_count(ul), 2000);
	CHECK_STR(auth_userlist_lookup(ul, "user1999"), "secret1999");
	CHECK_STR(auth_userlist_lookup(ul, "user0"), "secret0");
	auth_userlist_free(ul);
	free(t);
}

int main(void)
{
	RUN(test_userlist_ok);
	RUN(test_userlist_negative);
	RUN(test_userlist_many);
	return t_summary("test_auth_userlist");
}
