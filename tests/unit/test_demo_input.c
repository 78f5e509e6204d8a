/* test_demo_input.c - pgseal-demo's request validation: UTF-8, the person fields, the JSON body
 * (with negative cases). */
#include "codec/codec.h"
#include "demo/demo_input.h"
#include "testlib.h"

#include <stdlib.h>

static int parse(const char *body, struct demo_person *p, char *err, size_t errlen)
{
	return demo_person_parse((const uint8_t *)body, strlen(body), p, err, errlen);
}

static void test_utf8(void)
{
	CHECK(codec_utf8_valid((const uint8_t *)"", 0));
	CHECK(codec_utf8_valid((const uint8_t *)"abc", 3));
	CHECK(codec_utf8_valid((const uint8_t *)"\xc3\xa9", 2));         /* é */
	CHECK(codec_utf8_valid((const uint8_t *)"\xe2\x82\xac", 3));     /* € */
	CHECK(codec_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4)); /* emoji */
	CHECK(codec_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xff", 1));
	CHECK(!codec_utf8_valid((const uint8_t *)"\x80", 1));             /* lone continuation */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong '/' */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));     /* overlong, 3 bytes */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate U+D800 */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xc3", 1));             /* truncated */
	CHECK(!codec_utf8_valid((const uint8_t *)"\xe2\x82", 2));
	CHECK(!codec_utf8_valid((const uint8_t *)"a\0b", 3)); /* NUL */
}

static void test_fields(void)
{
	char err[256], big[1024];
	CHECK_EQ_INT(demo_check_name("Ada", 3, err, sizeof(err)), PGS_OK);
	CHECK_EQ_INT(demo_check_name("Zoë <b>", 8, err, sizeof(err)), PGS_OK); /* markup is data */
	CHECK_EQ_INT(demo_check_name("", 0, err, sizeof(err)), PGS_ERR);
	CHECK_EQ_INT(demo_check_name("   ", 3, err, sizeof(err)), PGS_ERR);
	CHECK_EQ_INT(demo_check_name("a\tb", 3, err, sizeof(err)), PGS_ERR);
	CHECK_EQ_INT(demo_check_name("a\xc2\x85", 3, err, sizeof(err)), PGS_ERR); /* C1 NEL */
	memset(big, 'a', sizeof(big));
	CHECK_EQ_INT(demo_check_name(big, DEMO_NAME_MAX, err, sizeof(err)), PGS_OK);
	CHECK_EQ_INT(demo_check_name(big, DEMO_NAME_MAX + 1, err, sizeof(err)), PGS_ERR);
	CHECK(strstr(err, "name") != NULL);

	static const char *const good[] = {"ada@example.com", "a.b+c_d%e-f@sub.example.co.uk",
	                                   "X@a-b.io"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(good); i++)
		CHECK_EQ_INT(demo_check_email(good[i], strlen(good[i]), err, sizeof(err)), PGS_OK);
	static const char *const bad[] = {"",
	                                  "ada",
	                                  "@example.com",
	                                  "ada@",
	                                  "ada@example",
	                                  "a@@example.com",
	                                  "a@b@example.com",
	                                  ".a@example.com",
	                                  "a.@example.com",
	                                  "a..b@example.com",
	                                  "a@-x.com",
	                                  "a@x-.com",
	                                  "a@x..com",
	                                  "a@.x.com",
	                                  "a@x.com.",
	                                  "o'brien@example.com",
	                                  "a\\b@example.com",
	                                  "a b@example.com",
	                                  "<script>@example.com",
	                                  "ad\xc3\xa9@example.com",
	                                  "a@ex\xc3\xa9.com",
	                                  "a\"@example.com",
	                                  "a;--@example.com",
	                                  "a@exa_mple.com"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		t_current = bad[i];
		CHECK_EQ_INT(demo_check_email(bad[i], strlen(bad[i]), err, sizeof(err)), PGS_ERR);
		CHECK(!*bad[i] || !strstr(err, bad[i])); /* the value is never quoted */
	}
	t_current = "test_fields";
	char longmail[300];
	memset(longmail, 'a', 65);
	strcpy(longmail + 65, "@example.com");
	CHECK_EQ_INT(demo_check_email(longmail, strlen(longmail), err, sizeof(err)), PGS_ERR);
	memset(longmail, 'a', sizeof(longmail));
	longmail[10] = '@';
	for (size_t i = 20; i < 270; i += 20)
		longmail[i] = '.';
	CHECK_EQ_INT(demo_check_email(longmail, 260, err, sizeof(err)), PGS_ERR); /* > 254 */
	char label[100] = "a@";
	memset(label + 2, 'b', 64);
	strcpy(label + 66, ".com");
	CHECK_EQ_INT(demo_check_email(label, strlen(label), err, sizeof(err)),
	             PGS_ERR); /* label 64 */

	CHECK_EQ_INT(demo_check_ssn("900-12-3456", 11, err, sizeof(err)), PGS_OK);
	static const char *const badssn[] = {"900123456",   "900-12-345",  "900-12-34567",
	                                     "9a0-12-3456", "900_12_3456", "900-12-3456 ",
	                                     "٩00-12-3456"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(badssn); i++)
		CHECK_EQ_INT(demo_check_ssn(badssn[i], strlen(badssn[i]), err, sizeof(err)),
		             PGS_ERR);

	CHECK_EQ_INT(demo_check_note("", 0, err, sizeof(err)), PGS_OK);
	CHECK_EQ_INT(demo_check_note("line\n\tline '; DROP TABLE x;--", 29, err, sizeof(err)),
	             PGS_OK);
	CHECK_EQ_INT(demo_check_note("a\rb", 3, err, sizeof(err)), PGS_ERR);
	CHECK_EQ_INT(demo_check_note("a\x1b[31m", 7, err, sizeof(err)), PGS_ERR);
	CHECK_EQ_INT(demo_check_note("\xff\xfe", 2, err, sizeof(err)), PGS_ERR);
	CHECK_EQ_INT(demo_check_note(big, DEMO_NOTE_MAX + 1, err, sizeof(err)), PGS_ERR);
}

static void test_body(void)
{
	struct demo_person p;
	char err[256];
	CHECK_EQ_INT(
	    parse("{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\","
	          "\"note\":\"<img src=x onerror=alert(1)>\"}",
	          &p, err, sizeof(err)),
	    PGS_OK);
	CHECK_STR(p.name, "Ada");
	CHECK_STR(p.email, "ada@example.com");
	CHECK_STR(p.ssn, "900-12-3456");
	CHECK_STR(p.note, "<img src=x onerror=alert(1)>");
	CHECK_EQ_INT(
	    parse("{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}", &p,
	          err, sizeof(err)),
	    PGS_OK); /* note is optional */
	CHECK_STR(p.note, "");
	CHECK_EQ_INT(
	    parse("{\"name\":\"Zo\\u00eb\",\"email\":\"z@example.com\",\"ssn\":\"900-12-3456\"}",
	          &p, err, sizeof(err)),
	    PGS_OK);
	CHECK_STR(p.name, "Zo\xc3\xab");

	static const char *const bad[] = {
	    "",
	    "null",
	    "[]",
	    "\"x\"",
	    "{",
	    "{\"name\":\"Ada\"",
	    "{\"name\":\"Ada\",\"email\":\"ada@example.com\"}",                   /* no ssn */
	    "{\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",            /* no name */
	    "{\"name\":1,\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}", /* not a string */
	    "{\"name\":null,\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",
	    "{\"name\":\"A\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\",\"x\":\"\"}",
	    "{\"name\":\"A\",\"name\":\"B\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",
	    "{\"name\":\"A\\u0000B\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",
	    "{\"name\":\"A\\ud800\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",
	    "{\"name\":\"A\xff\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",
	    "{\"name\":\"A\",\"email\":\"x' OR '1'='1@example.com\",\"ssn\":\"900-12-3456\"}",
	    "{\"name\":\"A\",\"email\":\"ada@example.com\",\"ssn\":\"1; DROP TABLE people\"}",
	    "{\"name\":\"A\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\",\"note\":[]}",
	    "{\"name\":\"A\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"} trailing",
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		t_current = bad[i];
		memset(&p, 'x', sizeof(p));
		CHECK_EQ_INT(parse(bad[i], &p, err, sizeof(err)), PGS_ERR);
		CHECK(p.name[0] == 0 && p.email[0] == 0 && p.ssn[0] == 0 && p.note[0] == 0);
		CHECK(err[0] != 0);
	}
	t_current = "test_body";
	/* a body over the cap is refused before parsing, and a huge field is named */
	size_t n = DEMO_BODY_MAX + 100;
	char *huge = malloc(n + 1);
	memset(huge, ' ', n);
	huge[n] = 0;
	CHECK_EQ_INT(parse(huge, &p, err, sizeof(err)), PGS_ERR);
	CHECK(strstr(err, "larger than") != NULL);
	snprintf(huge, n,
	         "{\"name\":\"%0*d\",\"email\":\"ada@example.com\",\"ssn\":\"900-12-3456\"}",
	         DEMO_NAME_MAX + 1, 0);
	CHECK_EQ_INT(parse(huge, &p, err, sizeof(err)), PGS_ERR);
	CHECK(strstr(err, "name: longer") != NULL);
	free(huge);
	/* the secret is not in the message */
	CHECK_EQ_INT(parse("{\"name\":\"A\",\"email\":\"ada@example.com\",\"ssn\":\"123-45-678X\"}",
	                   &p, err, sizeof(err)),
	             PGS_ERR);
	CHECK(strstr(err, "123-45") == NULL);
}

int main(void)
{
	RUN(test_utf8);
	RUN(test_fields);
	RUN(test_body);
	return t_summary("test_demo_input");
}
