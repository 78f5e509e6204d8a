/* test_proto.c - unit tests of the wire codec: reader bounds, builder, startup, errors, auth, SASL
 * lists. */
#include <stdlib.h>

#include "proto/proto.h"
#include "testlib.h"

static void build_startup(struct pgs_buf *b, const char *const *kv, size_t n)
{
	size_t off = proto_msg_begin(b, 0);
	proto_put_u32(b, PROTO_V3);
	for (size_t i = 0; i < n; i++)
		proto_put_cstr(b, kv[i]);
	proto_put_u8(b, 0);
	proto_msg_end(b, off);
}

static void test_reader_bounds(void)
{
	const uint8_t buf[] = {0, 0, 0, 7, 'a', 'b', 0, 'c'};
	struct proto_reader r;
	uint32_t u;
	uint16_t h;
	uint8_t c;
	const char *s;
	size_t n;
	const uint8_t *p;
	proto_reader_init(&r, buf, sizeof(buf));
	CHECK(proto_read_u32(&r, &u) == PGS_OK && u == 7);
	CHECK(proto_read_cstr(&r, &s, &n) == PGS_OK && n == 2 && !strcmp(s, "ab"));
	CHECK(proto_read_cstr(&r, &s, &n) == PGS_ERR); /* "c" has no terminator */
	CHECK(proto_read_u16(&r, &h) == PGS_ERR);
	CHECK(proto_read_u8(&r, &c) == PGS_OK && c == 'c');
	CHECK(proto_read_u8(&r, &c) == PGS_ERR);
	CHECK(proto_read_bytes(&r, 1, &p) == PGS_ERR);
	proto_reader_init(&r, buf, 3);
	CHECK(proto_read_u32(&r, &u) == PGS_ERR);
	CHECK(r.pos == 0);
}

static void test_builder(void)
{
	struct pgs_buf b = {0};
	size_t off = proto_msg_begin(&b, 'Q');
	proto_put_cstr(&b, "select 1");
	proto_msg_end(&b, off);
	CHECK_EQ_INT(b.len, 1 + 4 + 9);
	CHECK(b.data[0] == 'Q');
	CHECK_EQ_INT(pgs_get_u32(b.data + 1), 13);
	/* growth past the first allocation */
	pgs_buf_reset(&b);
	for (int i = 0; i < 10000; i++)
		proto_put_u8(&b, (uint8_t)i);
	CHECK_EQ_INT(b.len, 10000);
	CHECK(b.data[9999] == (uint8_t)9999);
	pgs_buf_free(&b);
}

static void test_startup_ok(void)
{
	const char *kv[] = {"user", "alice", "database", "db", "application_name", "x"};
	struct pgs_buf b = {0};
	struct proto_startup st;
	build_startup(&b, kv, 6);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_OK);
	CHECK_EQ_INT(st.code, PROTO_V3);
	CHECK_EQ_INT(st.nparams, 3);
	CHECK_STR(proto_startup_get(&st, "user"), "alice");
	CHECK_STR(proto_startup_get(&st, "database"), "db");
	CHECK(proto_startup_get(&st, "nope") == NULL);
	pgs_buf_free(&b);
}

static void test_startup_bad(void)
{
	struct pgs_buf b = {0};
	struct proto_startup st;
	/* no user */
	const char *kv[] = {"database", "db"};
	build_startup(&b, kv, 2);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_ERR);
	/* length field disagrees with the packet */
	pgs_buf_reset(&b);
	const char *kv2[] = {"user", "u"};
	build_startup(&b, kv2, 2);
	CHECK(proto_parse_startup(b.data, b.len - 1, &st) == PGS_ERR);
	pgs_put_u32(b.data, (uint32_t)b.len + 1);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_ERR);
	/* missing final terminator */
	pgs_buf_reset(&b);
	size_t off = proto_msg_begin(&b, 0);
	proto_put_u32(&b, PROTO_V3);
	proto_put_cstr(&b, "user");
	proto_put_cstr(&b, "u");
	proto_msg_end(&b, off);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_ERR);
	/* a name without value */
	pgs_buf_reset(&b);
	off = proto_msg_begin(&b, 0);
	proto_put_u32(&b, PROTO_V3);
	proto_put_cstr(&b, "user");
	proto_msg_end(&b, off);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_ERR);
	/* protocol 2 */
	pgs_buf_reset(&b);
	off = proto_msg_begin(&b, 0);
	proto_put_u32(&b, 0x00020000);
	proto_put_cstr(&b, "user");
	proto_put_cstr(&b, "u");
	proto_put_u8(&b, 0);
	proto_msg_end(&b, off);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_ERR);
	/* too many parameters */
	pgs_buf_reset(&b);
	off = proto_msg_begin(&b, 0);
	proto_put_u32(&b, PROTO_V3);
	proto_put_cstr(&b, "user");
	proto_put_cstr(&b, "u");
	for (int i = 0; i < PROTO_MAX_PARAMS + 1; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		proto_put_cstr(&b, name);
		proto_put_cstr(&b, "v");
	}
	proto_put_u8(&b, 0);
	proto_msg_end(&b, off);
	CHECK(proto_parse_startup(b.data, b.len, &st) == PGS_ERR);
	/* over the startup limit */
	uint8_t *big = calloc(1, PROTO_MAX_STARTUP + 8);
	pgs_put_u32(big, PROTO_MAX_STARTUP + 8);
	pgs_put_u32(big + 4, PROTO_V3);
	CHECK(proto_parse_startup(big, PROTO_MAX_STARTUP + 8, &st) == PGS_ERR);
	free(big);
	/* short */
	CHECK(proto_parse_startup(b.data, 3, &st) == PGS_ERR);
	pgs_buf_free(&b);
}

static void test_special_codes(void)
{
	uint8_t ssl[8], cancel[16], bad_cancel[12];
	struct proto_startup st;
	pgs_put_u32(ssl, 8);
	pgs_put_u32(ssl + 4, PROTO_SSL_CODE);
	CHECK(proto_parse_startup(ssl, 8, &st) == PGS_OK && st.code == PROTO_SSL_CODE);
	pgs_put_u32(ssl + 4, PROTO_GSSENC_CODE);
	CHECK(proto_parse_startup(ssl, 8, &st) == PGS_OK && st.code == PROTO_GSSENC_CODE);
	pgs_put_u32(cancel, 16);
	pgs_put_u32(cancel + 4, PROTO_CANCEL_CODE);
	pgs_put_u32(cancel + 8, 1234);
	pgs_put_u32(cancel + 12, 0xdeadbeef);
	CHECK(proto_parse_startup(cancel, 16, &st) == PGS_OK);
	CHECK_EQ_INT(st.cancel_pid, 1234);
	CHECK_EQ_INT(st.cancel_key, 0xdeadbeef);
	pgs_put_u32(bad_cancel, 12);
	pgs_put_u32(bad_cancel + 4, PROTO_CANCEL_CODE);
	CHECK(proto_parse_startup(bad_cancel, 12, &st) == PGS_ERR);
}

static void test_header_and_types(void)
{
	CHECK(proto_check_header('Q', 3, 1u << 30) == PGS_ERR);
	CHECK(proto_check_header('Q', 4, 1u << 30) == PGS_OK);
	CHECK(proto_check_header('Q', 0x80000000u, 1u << 30) == PGS_ERR);
	CHECK(proto_check_header('Q', 0xffffffffu, 1u << 30) == PGS_ERR);
	CHECK(proto_is_frontend_type('Q') && proto_is_frontend_type('X') &&
	      proto_is_frontend_type('p'));
	CHECK(!proto_is_frontend_type('Z') && !proto_is_frontend_type(0) &&
	      !proto_is_frontend_type(0xff));
	CHECK_STR(proto_type_name('Q', true), "Query");
	CHECK_STR(proto_type_name('Z', false), "ReadyForQuery");
	CHECK_STR(proto_type_name('?', false), "Unknown");
}

static void test_error(void)
{
	struct pgs_buf b = {0};
	char state[6];
	proto_build_error(&b, "FATAL", "08P01", "bad");
	CHECK(b.data[0] == 'E');
	CHECK_EQ_INT(pgs_get_u32(b.data + 1), b.len - 1);
	CHECK(proto_error_sqlstate(b.data + 5, b.len - 5, state) == PGS_OK);
	CHECK_STR(state, "08P01");
	/* truncated body: no crash, an error */
	CHECK(proto_error_sqlstate(b.data + 5, 3, state) == PGS_ERR);
	const uint8_t no_code[] = {'M', 'x', 0, 0};
	CHECK(proto_error_sqlstate(no_code, sizeof(no_code), state) == PGS_ERR);
	const uint8_t bad_code[] = {'C', '1', '2', 0, 0};
	CHECK(proto_error_sqlstate(bad_code, sizeof(bad_code), state) == PGS_ERR);
	pgs_buf_free(&b);
}

static void test_backend_key(void)
{
	uint8_t body[8];
	uint32_t pid, key;
	pgs_put_u32(body, 42);
	pgs_put_u32(body + 4, 99);
	CHECK(proto_parse_backend_key(body, 8, &pid, &key) == PGS_OK && pid == 42 && key == 99);
	CHECK(proto_parse_backend_key(body, 7, &pid, &key) == PGS_ERR);
	CHECK(proto_parse_backend_key(body, 9, &pid, &key) == PGS_ERR);
}

static void sasl_body(struct pgs_buf *b, const char *const *mechs, size_t n, bool terminate)
{
	proto_put_u32(b, PROTO_AUTH_SASL);
	for (size_t i = 0; i < n; i++)
		proto_put_cstr(b, mechs[i]);
	if (terminate)
		proto_put_u8(b, 0);
}

static void test_sasl(void)
{
	const char *m[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
	struct pgs_buf body = {0}, out = {0};
	uint32_t code;
	const uint8_t *rest;
	size_t rest_len;
	sasl_body(&body, m, 2, true);
	CHECK(proto_parse_auth(body.data, body.len, &code, &rest, &rest_len) == PGS_OK);
	CHECK_EQ_INT(code, PROTO_AUTH_SASL);
	CHECK(proto_sasl_offers(rest, rest_len, "SCRAM-SHA-256-PLUS"));
	CHECK(proto_sasl_drop_mechanism(body.data, body.len, "SCRAM-SHA-256-PLUS", &out) == PGS_OK);
	CHECK(out.data[0] == 'R');
	CHECK_EQ_INT(pgs_get_u32(out.data + 1), out.len - 1);
	CHECK(proto_parse_auth(out.data + 5, out.len - 5, &code, &rest, &rest_len) == PGS_OK);
	CHECK(!proto_sasl_offers(rest, rest_len, "SCRAM-SHA-256-PLUS"));
	CHECK(proto_sasl_offers(rest, rest_len, "SCRAM-SHA-256"));
	/* unterminated list */
	pgs_buf_reset(&body);
	pgs_buf_reset(&out);
	sasl_body(&body, m, 2, false);
	CHECK(proto_sasl_drop_mechanism(body.data, body.len, "SCRAM-SHA-256-PLUS", &out) ==
	      PGS_ERR);
	CHECK_EQ_INT(out.len, 0);
	CHECK(proto_parse_auth(body.data, 3, &code, &rest, &rest_len) == PGS_ERR);
	pgs_buf_free(&body);
	pgs_buf_free(&out);
}

static void test_sasl_initial(void)
{
	struct pgs_buf b = {0};
	const char *mech;
	const uint8_t *data;
	size_t n;
	proto_put_cstr(&b, "SCRAM-SHA-256");
	proto_put_u32(&b, 5);
	pgs_buf_append(&b, "n,,x=", 5);
	CHECK(proto_parse_sasl_initial(b.data, b.len, &mech, &data, &n) == PGS_OK);
	CHECK_STR(mech, "SCRAM-SHA-256");
	CHECK(n == 5 && !memcmp(data, "n,,x=", 5));
	CHECK(proto_parse_sasl_initial(b.data, b.len - 1, &mech, &data, &n) == PGS_ERR);
	proto_put_u8(&b, 'z');
	CHECK(proto_parse_sasl_initial(b.data, b.len, &mech, &data, &n) == PGS_ERR);
	pgs_buf_reset(&b);
	proto_put_cstr(&b, "SCRAM-SHA-256");
	proto_put_u32(&b, 0xffffffffu); /* -1: no initial data */
	CHECK(proto_parse_sasl_initial(b.data, b.len, &mech, &data, &n) == PGS_OK && n == 0);
	proto_put_u32(&b, 0x7fffffff);
	CHECK(proto_parse_sasl_initial(b.data, b.len, &mech, &data, &n) == PGS_ERR);
	pgs_buf_free(&b);
}

int main(void)
{
	RUN(test_reader_bounds);
	RUN(test_builder);
	RUN(test_startup_ok);
	RUN(test_startup_bad);
	RUN(test_special_codes);
	RUN(test_header_and_types);
	RUN(test_error);
	RUN(test_backend_key);
	RUN(test_sasl);
	RUN(test_sasl_initial);
	return t_summary("test_proto");
}
