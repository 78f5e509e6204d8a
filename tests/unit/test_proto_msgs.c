/* test_proto_msgs.c - unit tests of the message decoders and builders (proto_frontend.c,
 * proto_backend.c): valid decodes, byte-exact builds, and PostgreSQL's rules refused. */
#include <stdlib.h>

#include "proto/proto.h"
#include "proto_roundtrip.h"
#include "testlib.h"

/* Bodies are written with the primitive proto_put_* calls, not with the builders under test. */
static struct pgs_buf body;

static void start(void)
{
	pgs_buf_reset(&body);
}

static void put_i16(int v)
{
	proto_put_u16(&body, (uint16_t)v);
}

static void put_i32(int32_t v)
{
	proto_put_u32(&body, (uint32_t)v);
}

static void put_str(const char *s)
{
	proto_put_cstr(&body, s);
}

static void put_value(const char *s)
{
	proto_put_value(&body, (const uint8_t *)s, s ? (int32_t)strlen(s) : -1);
}

/* A valid body: it round-trips byte for byte, every shorter prefix is refused (a field would be
 * cut), and so is one more byte after it. */
#define expect_valid(be, type) expect_valid_at(be, type, __LINE__)
#define expect_refused(be, type) expect_refused_at(be, type, __LINE__)

static void expect_valid_at(bool be, uint8_t type, int line)
{
	int failed = t_failed;
	CHECK_EQ_INT(proto_roundtrip(be, type, body.data, body.len), RT_OK);
	bool any_data = type == PROTO_FE_COPY_DATA;
	for (size_t n = 0; n < body.len && !any_data; n++)
		if (proto_roundtrip(be, type, body.data, n) != RT_REFUSED) {
			CHECK(!"a prefix decoded");
			fprintf(stderr, "  prefix %zu of %zu\n", n, body.len);
			break;
		}
	if (!any_data) {
		proto_put_u8(&body, 0);
		CHECK_EQ_INT(proto_roundtrip(be, type, body.data, body.len), RT_REFUSED);
		body.len--;
	}
	if (t_failed != failed)
		fprintf(stderr, "  (expect_valid at line %d, message '%c')\n", line, type);
}

static void expect_refused_at(bool be, uint8_t type, int line)
{
	int failed = t_failed;
	CHECK_EQ_INT(proto_roundtrip(be, type, body.data, body.len), RT_REFUSED);
	if (t_failed != failed)
		fprintf(stderr, "  (expect_refused at line %d, message '%c')\n", line, type);
}

/* ---- frontend -------------------------------------------------------------- */

static void test_query(void)
{
	struct proto_query q;
	start();
	put_str("select 1");
	CHECK(proto_decode_query(body.data, body.len, &q) == PGS_OK);
	CHECK_STR(q.sql, "select 1");
	CHECK_EQ_INT(q.sql_len, 8);
	expect_valid(false, PROTO_FE_QUERY);
	start();
	put_str("");
	expect_valid(false, PROTO_FE_QUERY);
	/* no NUL */
	start();
	pgs_buf_append(&body, "select 1", 8);
	expect_refused(false, PROTO_FE_QUERY);
	CHECK(proto_decode_query(body.data, body.len, &q) == PGS_ERR && q.sql == NULL);
	/* two strings: the second is a trailing field */
	start();
	put_str("select 1");
	put_str("x");
	expect_refused(false, PROTO_FE_QUERY);
	/* the builder of a NULL string sends "" */
	struct pgs_buf b = {0};
	q.sql = NULL;
	CHECK(proto_build_query(&b, &q) == PGS_OK);
	CHECK_EQ_INT(b.len, 6);
	pgs_buf_free(&b);
}

static void test_parse(void)
{
	struct proto_parse p;
	start();
	put_str("s1");
	put_str("select $1, $2");
	put_i16(2);
	put_i32(23);
	put_i32(0);
	CHECK(proto_decode_parse(body.data, body.len, &p) == PGS_OK);
	CHECK_STR(p.name, "s1");
	CHECK_STR(p.sql, "select $1, $2");
	CHECK_EQ_INT(p.ntypes, 2);
	CHECK_EQ_INT(proto_oid_at(p.types, 0), 23);
	CHECK_EQ_INT(proto_oid_at(p.types, 1), 0);
	expect_valid(false, PROTO_FE_PARSE);
	/* count past the end */
	body.len -= 4;
	expect_refused(false, PROTO_FE_PARSE);
	start();
	put_str("");
	put_str("select 1");
	put_i16(0xffff);
	expect_refused(false, PROTO_FE_PARSE);
	/* no types */
	start();
	put_str("");
	put_str("select 1");
	put_i16(0);
	expect_valid(false, PROTO_FE_PARSE);
	/* the query's NUL missing: its text runs into the count */
	start();
	put_str("s");
	pgs_buf_append(&body, "select", 6);
	put_i16(0);
	expect_refused(false, PROTO_FE_PARSE);
}

static void bind_head(const char *portal, const char *stmt)
{
	start();
	put_str(portal);
	put_str(stmt);
}

static void test_bind(void)
{
	struct proto_bind m;
	bind_head("p1", "s1");
	put_i16(2); /* parameter formats */
	put_i16(0);
	put_i16(1);
	put_i16(2); /* parameters */
	put_value("abc");
	put_value(NULL);
	put_i16(1); /* result formats */
	put_i16(1);
	CHECK(proto_decode_bind(body.data, body.len, &m) == PGS_OK);
	CHECK_STR(m.portal, "p1");
	CHECK_STR(m.stmt, "s1");
	CHECK_EQ_INT(m.nparams, 2);
	CHECK_EQ_INT(proto_bind_param_format(&m, 0), 0);
	CHECK_EQ_INT(proto_bind_param_format(&m, 1), 1);
	CHECK_EQ_INT(proto_bind_result_format(&m, 0), 1);
	CHECK_EQ_INT(proto_bind_result_format(&m, 7), 1);
	struct proto_value_iter it;
	const uint8_t *v;
	int32_t vl;
	proto_value_iter_init(&it, m.params, m.params_len);
	CHECK(proto_value_next(&it, &v, &vl) && vl == 3 && memcmp(v, "abc", 3) == 0);
	CHECK(proto_value_next(&it, &v, &vl) && vl == -1 && v == NULL);
	CHECK(!proto_value_next(&it, &v, &vl));
	expect_valid(false, PROTO_FE_BIND);

	/* one format code applies to every parameter; an empty value is not NULL */
	bind_head("", "");
	put_i16(1);
	put_i16(1);
	put_i16(3);
	put_value("a");
	put_value("");
	put_value(NULL);
	put_i16(0);
	CHECK(proto_decode_bind(body.data, body.len, &m) == PGS_OK);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(proto_bind_param_format(&m, (size_t)i), 1);
	CHECK_EQ_INT(proto_bind_result_format(&m, 0), 0);
	proto_value_iter_init(&it, m.params, m.params_len);
	CHECK(proto_value_next(&it, &v, &vl) && vl == 1);
	CHECK(proto_value_next(&it, &v, &vl) && vl == 0 && v != NULL);
	expect_valid(false, PROTO_FE_BIND);

	/* no format codes: all text; one code and no parameters is allowed (PostgreSQL checks
	 * only counts > 1); result formats may be several with no parameters */
	bind_head("", "s");
	put_i16(0);
	put_i16(1);
	put_value("x");
	put_i16(0);
	CHECK(proto_decode_bind(body.data, body.len, &m) == PGS_OK);
	CHECK_EQ_INT(proto_bind_param_format(&m, 0), 0);
	expect_valid(false, PROTO_FE_BIND);
	bind_head("", "s");
	put_i16(1);
	put_i16(0);
	put_i16(0);
	put_i16(3);
	put_i16(0);
	put_i16(1);
	put_i16(0);
	CHECK(proto_decode_bind(body.data, body.len, &m) == PGS_OK);
	CHECK_EQ_INT(proto_bind_result_format(&m, 1), 1);
	CHECK_EQ_INT(proto_bind_result_format(&m, 3), -1);
	expect_valid(false, PROTO_FE_BIND);
}

static void test_bind_bad(void)
{
	/* wrong format-code count: 2 codes, 3 parameters; 3 codes, 2 parameters */
	bind_head("", "s");
	put_i16(2);
	put_i16(0);
	put_i16(0);
	put_i16(3);
	put_value("a");
	put_value("b");
	put_value("c");
	put_i16(0);
	expect_refused(false, PROTO_FE_BIND);
	bind_head("", "s");
	put_i16(3);
	put_i16(0);
	put_i16(0);
	put_i16(0);
	put_i16(2);
	put_value("a");
	put_value("b");
	put_i16(0);
	expect_refused(false, PROTO_FE_BIND);
	/* unsupported format codes: 2 and -1, in parameters and in results */
	int bad_codes[] = {2, -1};
	for (int k = 0; k < 2; k++) {
		bind_head("", "s");
		put_i16(1);
		put_i16(bad_codes[k]);
		put_i16(1);
		put_value("a");
		put_i16(0);
		expect_refused(false, PROTO_FE_BIND);
		bind_head("", "s");
		put_i16(0);
		put_i16(0);
		put_i16(2);
		put_i16(0);
		put_i16(bad_codes[k]);
		expect_refused(false, PROTO_FE_BIND);
	}
	/* value lengths: -2 and INT32_MIN are not NULL */
	int32_t bad_lens[] = {-2, INT32_MIN};
	for (int k = 0; k < 2; k++) {
		bind_head("", "s");
		put_i16(0);
		put_i16(1);
		put_i32(bad_lens[k]);
		put_i16(0);
		expect_refused(false, PROTO_FE_BIND);
	}
	/* a value longer than the message */
	bind_head("", "s");
	put_i16(0);
	put_i16(1);
	put_i32(100);
	pgs_buf_append(&body, "abc", 3);
	put_i16(0);
	expect_refused(false, PROTO_FE_BIND);
	/* more parameters than the message holds */
	bind_head("", "s");
	put_i16(0);
	put_i16(5);
	put_value("a");
	put_value("b");
	put_i16(0);
	expect_refused(false, PROTO_FE_BIND);
	bind_head("", "s");
	put_i16(0);
	put_i16(0xffff);
	put_i16(0);
	expect_refused(false, PROTO_FE_BIND);
	/* the statement name's NUL missing, and nothing after it */
	start();
	put_str("p");
	pgs_buf_append(&body, "s", 1);
	expect_refused(false, PROTO_FE_BIND);
	/* the result-format list cut */
	bind_head("", "s");
	put_i16(0);
	put_i16(0);
	put_i16(2);
	put_i16(0);
	expect_refused(false, PROTO_FE_BIND);
}

/* PostgreSQL reads Bind's counts as uint16: a statement may have up to 65535 parameters. */
static void test_bind_many(void)
{
	struct proto_bind m;
	bind_head("", "s");
	put_i16(1);
	put_i16(0);
	put_i16(40000);
	for (int i = 0; i < 40000; i++)
		put_value(NULL);
	put_i16(0);
	CHECK(proto_decode_bind(body.data, body.len, &m) == PGS_OK);
	CHECK_EQ_INT(m.nparams, 40000);
	CHECK_EQ_INT(proto_roundtrip(false, PROTO_FE_BIND, body.data, body.len), RT_OK);
}

/* A Bind built from scratch, as the encryption layer rebuilds one with encrypted values. */
static void test_bind_build(void)
{
	struct pgs_buf vals = {0}, fmts = {0}, out = {0};
	proto_put_value(&vals, (const uint8_t *)"\x01\x02", 2);
	proto_put_value(&vals, NULL, -1);
	proto_put_u16(&fmts, 1);
	proto_put_u16(&fmts, 0);
	struct proto_bind m = {.portal = "",
	                       .stmt = "s9",
	                       .nparam_formats = 2,
	                       .param_formats = fmts.data,
	                       .nparams = 2,
	                       .params = vals.data,
	                       .params_len = vals.len};
	proto_put_u8(&out, 'Z'); /* something already in the buffer stays */
	CHECK(proto_build_bind(&out, &m) == PGS_OK);
	bind_head("", "s9");
	put_i16(2);
	put_i16(1);
	put_i16(0);
	put_i16(2);
	proto_put_value(&body, (const uint8_t *)"\x01\x02", 2);
	put_value(NULL);
	put_i16(0);
	CHECK_EQ_INT(out.len, 1 + PROTO_HDR_LEN + body.len);
	CHECK(out.data[1] == 'B' && pgs_get_u32(out.data + 2) == body.len + 4);
	CHECK(memcmp(out.data + 1 + PROTO_HDR_LEN, body.data, body.len) == 0);
	/* a builder refuses what its decoder would, and leaves the buffer as it was */
	size_t before = out.len;
	m.nparams = 3;
	CHECK(proto_build_bind(&out, &m) == PGS_ERR);
	m.nparams = 2;
	m.params_len--;
	CHECK(proto_build_bind(&out, &m) == PGS_ERR);
	CHECK_EQ_INT(out.len, before);
	pgs_buf_free(&vals);
	pgs_buf_free(&fmts);
	pgs_buf_free(&out);
}

static void test_describe_close(void)
{
	struct proto_describe d;
	struct proto_close c;
	uint8_t types[] = {PROTO_FE_DESCRIBE, PROTO_FE_CLOSE};
	start();
	proto_put_u8(&body, 'S');
	put_str("s1");
	CHECK(proto_decode_describe(body.data, body.len, &d) == PGS_OK);
	CHECK(d.kind == 'S');
	CHECK_STR(d.name, "s1");
	start();
	proto_put_u8(&body, 'P');
	put_str("");
	CHECK(proto_decode_close(body.data, body.len, &c) == PGS_OK);
	CHECK(c.kind == 'P' && c.name_len == 0);
	for (int k = 0; k < 2; k++) {
		start();
		proto_put_u8(&body, 'S');
		put_str("s1");
		expect_valid(false, types[k]);
		start();
		proto_put_u8(&body, 'P');
		put_str("");
		expect_valid(false, types[k]);
		/* kinds other than S and P: "invalid DESCRIBE message subtype" */
		const char bad[] = {'s', 'X', 0};
		for (int i = 0; i < 3; i++) {
			start();
			proto_put_u8(&body, (uint8_t)bad[i]);
			put_str("n");
			expect_refused(false, types[k]);
		}
		start();
		proto_put_u8(&body, 'S');
		pgs_buf_append(&body, "s1", 2);
		expect_refused(false, types[k]);
	}
	struct pgs_buf b = {0};
	d.kind = 'X';
	d.name = "x";
	CHECK(proto_build_describe(&b, &d) == PGS_ERR && b.len == 0);
	pgs_buf_free(&b);
}

static void test_execute(void)
{
	struct proto_execute e;
	start();
	put_str("p1");
	put_i32(0);
	CHECK(proto_decode_execute(body.data, body.len, &e) == PGS_OK);
	CHECK_STR(e.portal, "p1");
	CHECK_EQ_INT(e.max_rows, 0);
	expect_valid(false, PROTO_FE_EXECUTE);
	/* a negative row limit means all rows to PostgreSQL: kept as sent */
	start();
	put_str("");
	put_i32(-5);
	CHECK(proto_decode_execute(body.data, body.len, &e) == PGS_OK && e.max_rows == -5);
	expect_valid(false, PROTO_FE_EXECUTE);
}

static void test_function_call(void)
{
	struct proto_function_call f;
	start();
	put_i32(1234);
	put_i16(1);
	put_i16(1);
	put_i16(2);
	put_value("ab");
	put_value(NULL);
	put_i16(1);
	CHECK(proto_decode_function_call(body.data, body.len, &f) == PGS_OK);
	CHECK_EQ_INT(f.fn_oid, 1234);
	CHECK_EQ_INT(f.nargs, 2);
	CHECK_EQ_INT(proto_format_at(f.arg_formats, f.narg_formats, 1), 1);
	CHECK_EQ_INT(f.result_format, 1);
	expect_valid(false, PROTO_FE_FUNCTION_CALL);
	/* result format 2 */
	body.data[body.len - 1] = 2;
	expect_refused(false, PROTO_FE_FUNCTION_CALL);
	/* 2 argument formats for 3 arguments */
	start();
	put_i32(1);
	put_i16(2);
	put_i16(0);
	put_i16(0);
	put_i16(3);
	put_value("a");
	put_value("b");
	put_value("c");
	put_i16(0);
	expect_refused(false, PROTO_FE_FUNCTION_CALL);
	/* "invalid argument size" */
	start();
	put_i32(1);
	put_i16(0);
	put_i16(1);
	put_i32(-3);
	put_i16(0);
	expect_refused(false, PROTO_FE_FUNCTION_CALL);
}

static void test_copy_msgs(void)
{
	struct proto_copy_data d;
	struct proto_copy_fail f;
	start();
	pgs_buf_append(&body, "1\tx\n\0", 5);
	CHECK(proto_decode_copy_data(body.data, body.len, &d) == PGS_OK && d.len == 5);
	expect_valid(false, PROTO_FE_COPY_DATA);
	expect_valid(true, PROTO_BE_COPY_DATA);
	start();
	expect_valid(false, PROTO_FE_COPY_DATA);
	start();
	put_str("client gave up");
	CHECK(proto_decode_copy_fail(body.data, body.len, &f) == PGS_OK);
	CHECK_STR(f.message, "client gave up");
	expect_valid(false, PROTO_FE_COPY_FAIL);
	start();
	pgs_buf_append(&body, "x", 1);
	expect_refused(false, PROTO_FE_COPY_FAIL);
}

static void test_empty(void)
{
	const uint8_t fe[] = {PROTO_FE_SYNC, PROTO_FE_FLUSH, PROTO_FE_TERMINATE,
	                      PROTO_FE_COPY_DONE};
	const uint8_t be[] = {PROTO_BE_PARSE_COMPLETE,   PROTO_BE_BIND_COMPLETE,
	                      PROTO_BE_CLOSE_COMPLETE,   PROTO_BE_NO_DATA,
	                      PROTO_BE_PORTAL_SUSPENDED, PROTO_BE_EMPTY_QUERY_RESPONSE,
	                      PROTO_BE_COPY_DONE};
	for (size_t i = 0; i < sizeof(fe); i++) {
		start();
		expect_valid(false, fe[i]);
	}
	for (size_t i = 0; i < sizeof(be); i++) {
		start();
		expect_valid(true, be[i]);
	}
	struct pgs_buf b = {0};
	CHECK(proto_build_empty(&b, 0) == PGS_ERR && b.len == 0);
	CHECK(proto_build_empty(&b, 'S') == PGS_OK && b.len == 5);
	pgs_buf_free(&b);
}

/* ---- backend --------------------------------------------------------------- */

static void put_column(const char *name, uint32_t table, int attnum, uint32_t type, int typlen,
                       int32_t typmod, int format)
{
	struct proto_column c = {.name = name,
	                         .table_oid = table,
	                         .attnum = (int16_t)attnum,
	                         .type_oid = type,
	                         .typlen = (int16_t)typlen,
	                         .typmod = typmod,
	                         .format = (int16_t)format};
	proto_put_column(&body, &c);
}

static void test_row_description(void)
{
	struct proto_row_description rd;
	struct proto_column_iter it;
	struct proto_column c;
	start();
	put_i16(2);
	put_column("id", 16384, 1, 23, 4, -1, 0);
	put_column("ssn", 16384, 2, 17, -1, -1, 1);
	CHECK(proto_decode_row_description(body.data, body.len, &rd) == PGS_OK);
	CHECK_EQ_INT(rd.ncols, 2);
	proto_column_iter_init(&it, &rd);
	CHECK(proto_column_next(&it, &c) && t_streq(c.name, "id") && c.table_oid == 16384 &&
	      c.attnum == 1 && c.type_oid == 23 && c.typlen == 4 && c.typmod == -1 &&
	      c.format == 0);
	CHECK(proto_column_next(&it, &c) && t_streq(c.name, "ssn") && c.typlen == -1 &&
	      c.format == 1);
	CHECK(!proto_column_next(&it, &c));
	expect_valid(true, PROTO_BE_ROW_DESCRIPTION);
	start();
	put_i16(0);
	expect_valid(true, PROTO_BE_ROW_DESCRIPTION);
	/* a negative count; a count past the end */
	start();
	put_i16(-1);
	expect_refused(true, PROTO_BE_ROW_DESCRIPTION);
	start();
	put_i16(3);
	put_column("a", 0, 0, 25, -1, -1, 0);
	put_column("b", 0, 0, 25, -1, -1, 0);
	expect_refused(true, PROTO_BE_ROW_DESCRIPTION);
	/* a format code other than 0 or 1 */
	start();
	put_i16(1);
	put_column("a", 0, 0, 25, -1, -1, 2);
	expect_refused(true, PROTO_BE_ROW_DESCRIPTION);
	/* a name with no NUL */
	start();
	put_i16(1);
	pgs_buf_append(&body, "abcdefghijklmnopqrstuvwxyz", 26);
	expect_refused(true, PROTO_BE_ROW_DESCRIPTION);
}

static void test_parameter_description(void)
{
	struct proto_parameter_description pd;
	start();
	put_i16(2);
	put_i32(25);
	put_i32(23);
	CHECK(proto_decode_parameter_description(body.data, body.len, &pd) == PGS_OK);
	CHECK_EQ_INT(pd.ntypes, 2);
	CHECK_EQ_INT(proto_oid_at(pd.types, 1), 23);
	expect_valid(true, PROTO_BE_PARAMETER_DESCRIPTION);
	start();
	put_i16(3);
	put_i32(25);
	put_i32(23);
	expect_refused(true, PROTO_BE_PARAMETER_DESCRIPTION);
}

static void test_data_row(void)
{
	struct proto_data_row dr;
	start();
	put_i16(3);
	put_value("42");
	put_value(NULL);
	put_value("");
	CHECK(proto_decode_data_row(body.data, body.len, &dr) == PGS_OK);
	CHECK_EQ_INT(dr.ncols, 3);
	struct proto_value_iter it;
	const uint8_t *v;
	int32_t vl;
	proto_value_iter_init(&it, dr.values, dr.values_len);
	CHECK(proto_value_next(&it, &v, &vl) && vl == 2 && memcmp(v, "42", 2) == 0);
	CHECK(proto_value_next(&it, &v, &vl) && vl == -1);
	CHECK(proto_value_next(&it, &v, &vl) && vl == 0);
	CHECK(!proto_value_next(&it, &v, &vl));
	expect_valid(true, PROTO_BE_DATA_ROW);
	start();
	put_i16(0);
	expect_valid(true, PROTO_BE_DATA_ROW);
	/* negative count, count past the end, a length of -2 */
	start();
	put_i16(-1);
	expect_refused(true, PROTO_BE_DATA_ROW);
	start();
	put_i16(2);
	put_value("a");
	expect_refused(true, PROTO_BE_DATA_ROW);
	start();
	put_i16(1);
	put_i32(-2);
	expect_refused(true, PROTO_BE_DATA_ROW);
	/* a value longer than what is left */
	start();
	put_i16(1);
	put_i32(5);
	pgs_buf_append(&body, "abcd", 4);
	expect_refused(true, PROTO_BE_DATA_ROW);
}

static void test_command_complete(void)
{
	struct proto_command_complete cc;
	start();
	put_str("INSERT 0 1");
	CHECK(proto_decode_command_complete(body.data, body.len, &cc) == PGS_OK);
	CHECK_STR(cc.tag, "INSERT 0 1");
	expect_valid(true, PROTO_BE_COMMAND_COMPLETE);
	start();
	pgs_buf_append(&body, "SELECT 1", 8);
	expect_refused(true, PROTO_BE_COMMAND_COMPLETE);
}

static void test_notice(void)
{
	struct proto_notice n;
	start();
	proto_put_field(&body, 'S', "ERROR");
	proto_put_field(&body, 'V', "ERROR");
	proto_put_field(&body, 'C', "22P02");
	proto_put_field(&body, 'M', "bad input");
	proto_put_u8(&body, 0);
	CHECK(proto_decode_notice(body.data, body.len, &n) == PGS_OK);
	CHECK_STR(n.severity, "ERROR");
	CHECK_STR(n.sqlstate, "22P02");
	CHECK_STR(n.message, "bad input");
	CHECK_EQ_INT(n.fields_len, body.len - 1);
	struct proto_reader it;
	uint8_t code;
	const char *v;
	size_t vl;
	int nf = 0;
	proto_reader_init(&it, n.fields, n.fields_len);
	while (proto_notice_next(&it, &code, &v, &vl))
		nf++;
	CHECK_EQ_INT(nf, 4);
	expect_valid(true, PROTO_BE_ERROR_RESPONSE);
	expect_valid(true, PROTO_BE_NOTICE_RESPONSE);
	/* no fields at all */
	start();
	proto_put_u8(&body, 0);
	CHECK(proto_decode_notice(body.data, body.len, &n) == PGS_OK && !n.sqlstate);
	expect_valid(true, PROTO_BE_NOTICE_RESPONSE);
	/* an empty body; a value without its NUL; the terminator missing */
	start();
	expect_refused(true, PROTO_BE_ERROR_RESPONSE);
	start();
	proto_put_u8(&body, 'M');
	pgs_buf_append(&body, "abc", 3);
	expect_refused(true, PROTO_BE_ERROR_RESPONSE);
	start();
	proto_put_field(&body, 'M', "abc");
	expect_refused(true, PROTO_BE_ERROR_RESPONSE);
	/* the same message built from fields */
	struct pgs_buf fields = {0}, out = {0};
	proto_put_field(&fields, 'S', "ERROR");
	proto_put_field(&fields, 'C', "0A000");
	struct proto_notice m = {.fields = fields.data, .fields_len = fields.len};
	CHECK(proto_build_error_response(&out, &m) == PGS_OK);
	CHECK(out.data[0] == 'E' && out.len == PROTO_HDR_LEN + fields.len + 1);
	char state[6];
	CHECK(proto_error_sqlstate(out.data + PROTO_HDR_LEN, out.len - PROTO_HDR_LEN, state) ==
	      PGS_OK);
	CHECK_STR(state, "0A000");
	pgs_buf_free(&fields);
	pgs_buf_free(&out);
}

static void test_copy_response(void)
{
	struct proto_copy_response cr;
	const uint8_t types[] = {PROTO_BE_COPY_IN_RESPONSE, PROTO_BE_COPY_OUT_RESPONSE,
	                         PROTO_BE_COPY_BOTH_RESPONSE};
	start();
	proto_put_u8(&body, 1);
	put_i16(2);
	put_i16(1);
	put_i16(0);
	CHECK(proto_decode_copy_response(body.data, body.len, &cr) == PGS_OK);
	CHECK(cr.format == 1 && cr.ncols == 2);
	CHECK_EQ_INT(proto_format_at(cr.formats, cr.ncols, 0), 1);
	for (size_t i = 0; i < sizeof(types); i++)
		expect_valid(true, types[i]);
	start();
	proto_put_u8(&body, 0);
	put_i16(2);
	put_i16(0);
	put_i16(0);
	expect_valid(true, PROTO_BE_COPY_IN_RESPONSE);
	/* a textual COPY with a binary column; an overall format 2; a column code 2; a negative
	 * count */
	body.data[body.len - 1] = 1;
	expect_refused(true, PROTO_BE_COPY_IN_RESPONSE);
	body.data[body.len - 1] = 0;
	body.data[0] = 2;
	expect_refused(true, PROTO_BE_COPY_IN_RESPONSE);
	body.data[0] = 1;
	body.data[body.len - 1] = 2;
	expect_refused(true, PROTO_BE_COPY_IN_RESPONSE);
	start();
	proto_put_u8(&body, 0);
	put_i16(-2);
	expect_refused(true, PROTO_BE_COPY_OUT_RESPONSE);
	struct pgs_buf b = {0};
	cr.format = 0;
	cr.ncols = 0;
	CHECK(proto_build_copy_response(&b, 'Z', &cr) == PGS_ERR && b.len == 0);
	pgs_buf_free(&b);
}

static void test_ready_for_query(void)
{
	struct proto_ready_for_query z;
	const char ok[] = "ITE";
	for (int i = 0; i < 3; i++) {
		start();
		proto_put_u8(&body, (uint8_t)ok[i]);
		CHECK(proto_decode_ready_for_query(body.data, body.len, &z) == PGS_OK &&
		      z.status == ok[i]);
		expect_valid(true, PROTO_BE_READY_FOR_QUERY);
	}
	start();
	proto_put_u8(&body, 'X');
	expect_refused(true, PROTO_BE_READY_FOR_QUERY);
}

static void test_unknown(void)
{
	start();
	CHECK_EQ_INT(proto_roundtrip(false, 'p', body.data, 0), RT_UNKNOWN);
	CHECK_EQ_INT(proto_roundtrip(true, 'K', body.data, 0), RT_UNKNOWN);
}

int main(void)
{
	RUN(test_query);
	RUN(test_parse);
	RUN(test_bind);
	RUN(test_bind_bad);
	RUN(test_bind_many);
	RUN(test_bind_build);
	RUN(test_describe_close);
	RUN(test_execute);
	RUN(test_function_call);
	RUN(test_copy_msgs);
	RUN(test_empty);
	RUN(test_row_description);
	RUN(test_parameter_description);
	RUN(test_data_row);
	RUN(test_command_complete);
	RUN(test_notice);
	RUN(test_copy_response);
	RUN(test_ready_for_query);
	RUN(test_unknown);
	pgs_buf_free(&body);
	return t_summary("test_proto_msgs");
}
