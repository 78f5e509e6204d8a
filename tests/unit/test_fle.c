/* test_fle.c - the encryption layer alone (no sockets, no PostgreSQL): messages in, actions out;
 * statements rewritten without their plaintext, rows decrypted, malformed messages refused. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config/config.h"
#include "fle/fle.h"
#include "keys/keys.h"
#include "test_sql_util.h"
#include "testlib.h"

static char dir[64];
static struct config *keys_cfg; /* the key store's configuration, freed after it */
static struct fle_action act;
static struct pgs_buf msg;

/* A message of the given type: its body is msg.data + 5 (len - 4 bytes). */
static void begin(uint8_t type)
{
	pgs_buf_reset(&msg);
	(void)proto_msg_begin(&msg, type);
}

static int client(struct fle *f)
{
	proto_msg_end(&msg, 1);
	return fle_client_message(f, msg.data[0], msg.data + 5, (uint32_t)msg.len - 5, &act);
}

static int server(struct fle *f)
{
	proto_msg_end(&msg, 1);
	return fle_server_message(f, msg.data[0], msg.data + 5, (uint32_t)msg.len - 5, &act);
}

static int query(struct fle *f, const char *sql)
{
	begin('Q');
	proto_put_cstr(&msg, sql);
	return client(f);
}

static bool has(const struct pgs_buf *b, const char *s)
{
	return b->len && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

/* The whole messages of b are of these types, in this order. */
static bool types(const struct pgs_buf *b, const char *want)
{
	size_t at = 0;
	for (; *want; want++) {
		if (at + 5 > b->len || b->data[at] != (uint8_t)*want)
			return false;
		at += 1 + pgs_get_u32(b->data + at + 1);
	}
	return at == b->len;
}

static int server_simple(struct fle *f, uint8_t type, const char *s)
{
	begin(type);
	if (s)
		proto_put_cstr(&msg, s);
	return server(f);
}

static struct keys *open_keys(void)
{
	char p[128], err[512];
	struct keys *k = NULL;
	snprintf(p, sizeof(p), "%s/c.yaml", dir);
	FILE *fp = fopen(p, "w");
	if (!fp)
		return NULL;
	fprintf(
	    fp,
	    "upstream: {host: 127.0.0.1}\nkeys:\n  provider: file\n  sealing_key_file: dev.key\n"
	    "  sealed_master_key: m.sealed\n  keystore: ks\n");
	fclose(fp);
	if (config_load(p, &keys_cfg, err, sizeof(err)) != PGS_OK ||
	    keys_open_ex(keys_cfg, KEYS_OPEN_CREATE, &k, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "keys: %s\n", err);
		return NULL;
	}
	const char *cols[][2] = {{"users", "email"}, {"users", "ssn"}, {"users", "salary"}};
	for (size_t i = 0; i < PGS_ARRAY_LEN(cols); i++)
		if (keys_ensure_column(k, NULL, cols[i][0], cols[i][1], err, sizeof(err)) != PGS_OK)
			fprintf(stderr, "keys: %s\n", err);
	return k;
}

/* The value of parameter i of a Bind message (whole, type byte first). */
static bool bind_value(const struct pgs_buf *b, uint16_t i, const uint8_t **v, int32_t *vl)
{
	struct proto_reader r;
	const char *s;
	uint16_t n;
	const uint8_t *p;
	if (b->len < 5)
		return false;
	proto_reader_init(&r, b->data + 5, b->len - 5);
	if (proto_read_cstr(&r, &s, NULL) != PGS_OK || proto_read_cstr(&r, &s, NULL) != PGS_OK ||
	    proto_read_u16(&r, &n) != PGS_OK || proto_read_bytes(&r, (size_t)n * 2, &p) != PGS_OK ||
	    proto_read_u16(&r, &n) != PGS_OK || i >= n)
		return false;
	for (uint16_t k = 0; k <= i; k++)
		if (proto_read_i32(&r, vl) != PGS_OK ||
		    (*vl > 0 && proto_read_bytes(&r, (size_t)*vl, v) != PGS_OK))
			return false;
	return *vl > 0;
}

static struct keys_worker *kw;

static void test_layer(void)
{
	struct fle_plan_cache *pc = fle_plan_cache_new();
	struct schema *sc = tsql_schema();
	CHECK(fle_schema_enabled(sc));
	CHECK(!fle_schema_enabled(NULL));
	struct fle_config cfg = {
	    .conn_id = 1, .schema = sc, .kw = kw, .plans = pc, .max_message_size = 1u << 20};
	struct fle *f = fle_new(&cfg);

	/* the first ReadyForQuery is held; the catalog query goes upstream */
	CHECK(fle_session_ready(f, 'I', &act) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && act.fwd.len == 0);
	CHECK(types(&act.back, "Q") && has(&act.back, "pg_catalog.pg_class"));
	CHECK(!fle_idle(f));
	/* its answer is swallowed; its ReadyForQuery releases the held one */
	CHECK(server_simple(f, 'C', "SELECT 0") == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && act.fwd.len == 0 && !act.ready);
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "Z") && act.ready == 'I');
	CHECK(fle_idle(f));

	/* a plain table: passed as it is, nothing ahead of it */
	CHECK(fle_client_wants(f, 'Q'));
	CHECK(query(f, "SELECT * FROM plain_t WHERE note = 'x'") == PGS_OK);
	CHECK(act.verdict == FLE_PASS && act.fwd.len == 0 && act.back.len == 0);
	CHECK(server_simple(f, 'C', "SELECT 0") == PGS_OK && act.verdict == FLE_PASS);
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK && act.verdict == FLE_PASS && !act.ready);

	/* an encrypted INSERT: replaced by one Query without the plaintext */
	CHECK(query(f, "INSERT INTO users (id, email) VALUES (1, 'alice@example.com')") == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "Q"));
	CHECK(!has(&act.fwd, "alice@example.com") && has(&act.fwd, "::bytea"));
	CHECK(server_simple(f, 'C', "INSERT 0 1") == PGS_OK && act.verdict == FLE_PASS);
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK && act.verdict == FLE_PASS);

	/* Parse and Bind of an encrypted INSERT */
	begin('P');
	proto_put_cstr(&msg, "s1");
	proto_put_cstr(&msg, "INSERT INTO users (id, email) VALUES ($1, $2)");
	proto_put_u16(&msg, 0);
	CHECK(client(f) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "P") && has(&act.fwd, "s1"));
	begin('B');
	proto_put_cstr(&msg, "");
	proto_put_cstr(&msg, "s1");
	proto_put_u16(&msg, 0);
	proto_put_u16(&msg, 2);
	proto_put_u32(&msg, 1);
	pgs_buf_append(&msg, "7", 1);
	proto_put_u32(&msg, 15);
	pgs_buf_append(&msg, "bob@example.com", 15);
	proto_put_u16(&msg, 0);
	CHECK(client(f) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "B"));
	CHECK(!has(&act.fwd, "bob@example.com") && has(&act.fwd, "7"));
	const uint8_t *v = NULL;
	int32_t vl = 0;
	uint8_t rec[256];
	size_t reclen = 0;
	if (bind_value(&act.fwd, 1, &v, &vl) && (size_t)vl <= sizeof(rec)) {
		memcpy(rec, v, (size_t)vl);
		reclen = (size_t)vl;
	}
	CHECK(reclen > 15);
	begin('E');
	proto_put_cstr(&msg, "");
	proto_put_u32(&msg, 0);
	CHECK(client(f) == PGS_OK && act.verdict == FLE_PASS && act.fwd.len == 0);
	begin('S');
	CHECK(client(f) == PGS_OK && act.verdict == FLE_PASS && act.fwd.len == 0);
	CHECK(!fle_idle(f));
	CHECK(server_simple(f, '1', NULL) == PGS_OK && act.verdict == FLE_PASS);
	CHECK(server_simple(f, '2', NULL) == PGS_OK && act.verdict == FLE_PASS);
	CHECK(server_simple(f, 'C', "INSERT 0 1") == PGS_OK && act.verdict == FLE_PASS);
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK && act.verdict == FLE_PASS);
	CHECK(fle_idle(f));

	/* the read path: the record comes back as bytea text and goes to the client decrypted */
	CHECK(query(f, "SELECT email FROM users WHERE id = 7") == PGS_OK);
	CHECK(act.verdict == FLE_PASS || (act.verdict == FLE_REPLACE && types(&act.fwd, "Q")));
	begin('T');
	proto_put_u16(&msg, 1);
	proto_put_cstr(&msg, "email");
	proto_put_u32(&msg, 0);
	proto_put_u16(&msg, 0);
	proto_put_u32(&msg, 17); /* bytea */
	proto_put_u16(&msg, 0xffff);
	proto_put_u32(&msg, 0xffffffffu);
	proto_put_u16(&msg, 0);
	CHECK(server(f) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "T"));
	CHECK(fle_server_wants(f, 'D'));
	begin('D');
	proto_put_u16(&msg, 1);
	proto_put_u32(&msg, (uint32_t)(2 + 2 * reclen));
	pgs_buf_append(&msg, "\\x", 2);
	for (size_t i = 0; i < reclen; i++) {
		char h[3];
		snprintf(h, sizeof(h), "%02x", rec[i]);
		pgs_buf_append(&msg, h, 2);
	}
	CHECK(server(f) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "D") &&
	      has(&act.fwd, "bob@example.com"));
	/* the plaintext does not outlive the action */
	uint8_t *data = act.fwd.data;
	size_t used = act.fwd.len;
	fle_action_reset(&act);
	bool wiped = data != NULL;
	for (size_t i = 0; data && i < used; i++)
		wiped = wiped && data[i] == 0;
	CHECK(wiped && act.fwd.len == 0);
	/* a row that is not a record: an error in its place, never the stored bytes */
	begin('D');
	proto_put_u16(&msg, 1);
	proto_put_u32(&msg, 6);
	pgs_buf_append(&msg, "\\x0102", 6);
	CHECK(server(f) == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "E") && has(&act.fwd, "users.email"));
	CHECK(server_simple(f, 'C', "SELECT 1") == PGS_OK && act.verdict == FLE_REPLACE);
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK && act.verdict == FLE_PASS);

	/* what pgseal cannot map is refused in the server, in the statement's place */
	CHECK(query(f, "SELECT * FROM users WHERE email LIKE 'carol%'") == PGS_OK);
	CHECK(act.verdict == FLE_REPLACE && types(&act.fwd, "Q") &&
	      has(&act.fwd, "pgseal_refusal"));
	CHECK(!has(&act.fwd, "carol"));
	begin('E');
	proto_put_u8(&msg, 'S');
	proto_put_cstr(&msg, "ERROR");
	proto_put_u8(&msg, 'C');
	proto_put_cstr(&msg, "0A000");
	proto_put_u8(&msg, 'W');
	proto_put_cstr(&msg, "PL/pgSQL function inline_code_block line 1 at RAISE");
	proto_put_u8(&msg, 0);
	CHECK(server(f) == PGS_OK && act.verdict == FLE_REPLACE && types(&act.fwd, "E"));
	CHECK(!has(&act.fwd, "PL/pgSQL")); /* pgseal's own context is dropped */
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK && act.verdict == FLE_PASS);

	/* malformed messages end the session with 08P01 */
	begin('B');
	proto_put_cstr(&msg, "");
	proto_put_cstr(&msg, "s1");
	proto_put_u16(&msg, 0);
	proto_put_u16(&msg, 2);
	proto_put_u32(&msg, 40); /* longer than the message */
	pgs_buf_append(&msg, "x", 1);
	CHECK(client(f) == PGS_ERR);
	CHECK(act.verdict == FLE_FAIL && t_streq(act.sqlstate, "08P01"));
	CHECK(strstr(act.message, "Bind") != NULL);
	/* PostgreSQL's own Bind rules, checked before anything goes upstream */
	for (int c = 0; c < 5; c++) {
		static const uint16_t nfc[] = {2, 1, 0, 0, 0};
		static const uint16_t fmt[] = {0, 2, 0, 0, 0};
		static const int32_t len[] = {1, 1, -2, 1, 1};
		begin('B');
		proto_put_cstr(&msg, "");
		proto_put_cstr(&msg, "s1");
		proto_put_u16(&msg, nfc[c]); /* 2 codes for 3 values; format code 2 */
		for (uint16_t i = 0; i < nfc[c]; i++)
			proto_put_u16(&msg, fmt[c]);
		proto_put_u16(&msg, 3);
		for (int i = 0; i < 3; i++) {
			proto_put_u32(&msg, (uint32_t)(i == 1 ? len[c] : 1)); /* length -2 */
			if ((i == 1 ? len[c] : 1) > 0)
				pgs_buf_append(&msg, "x", 1);
		}
		proto_put_u16(&msg, c == 4 ? 1 : 0); /* a result format code 3 */
		if (c == 4)
			proto_put_u16(&msg, 3);
		if (c == 3)
			pgs_buf_append(&msg, "zz", 2); /* bytes after the last field */
		CHECK(client(f) == PGS_ERR);
		CHECK(act.verdict == FLE_FAIL && t_streq(act.sqlstate, "08P01"));
		CHECK(act.fwd.len == 0 && act.back.len == 0);
	}
	begin('Q');
	pgs_buf_append(&msg, "SELECT 1", 8); /* no terminating zero */
	CHECK(client(f) == PGS_ERR && act.verdict == FLE_FAIL && t_streq(act.sqlstate, "08P01"));
	CHECK(query(f, "SELECT email FROM users") == PGS_OK);
	begin('T');
	proto_put_u16(&msg, 1);
	proto_put_cstr(&msg, "email");
	proto_put_u32(&msg, 0);
	proto_put_u16(&msg, 0);
	proto_put_u32(&msg, 17);
	proto_put_u16(&msg, 0xffff);
	proto_put_u32(&msg, 0xffffffffu);
	proto_put_u16(&msg, 0);
	CHECK(server(f) == PGS_OK);
	begin('D');
	proto_put_u16(&msg, 2); /* the description had one column */
	CHECK(server(f) == PGS_ERR && act.verdict == FLE_FAIL && t_streq(act.sqlstate, "08P01"));

	fle_free(f);
	fle_plan_cache_free(pc);
	fle_action_free(&act);
	pgs_buf_free(&msg);
}

/* COPY data sent before the server said what the COPY is waits (FLE_HOLD). */
static void test_hold(void)
{
	struct fle_config cfg = {
	    .conn_id = 2, .schema = tsql_schema(), .max_message_size = 1u << 20};
	struct fle *f = fle_new(&cfg);
	CHECK(fle_session_ready(f, 'I', &act) == PGS_OK && act.verdict == FLE_REPLACE);
	begin('Z');
	proto_put_u8(&msg, 'I');
	CHECK(server(f) == PGS_OK && act.ready == 'I');
	CHECK(query(f, "COPY plain_t FROM STDIN") == PGS_OK && act.verdict == FLE_PASS);
	begin('d');
	pgs_buf_append(&msg, "1\n", 2);
	CHECK(client(f) == PGS_OK && act.verdict == FLE_HOLD);
	CHECK(fle_client_held(f) && !fle_client_held(f));
	begin('G');
	proto_put_u8(&msg, 0);
	proto_put_u16(&msg, 1);
	proto_put_u16(&msg, 0);
	CHECK(server(f) == PGS_OK && act.verdict == FLE_PASS);
	CHECK(!fle_client_wants(f, 'd')); /* a plain table's rows stream through */
	begin('c');
	CHECK(client(f) == PGS_OK && act.verdict == FLE_PASS);
	fle_free(f);
	fle_action_free(&act);
	pgs_buf_free(&msg);
}

int main(void)
{
	(void)tsql_enc; /* the shared schema header's callback is for the sql tests */
	log_setup(LOG_ERROR, LOG_TEXT);
	snprintf(dir, sizeof(dir), "/tmp/pgseal-test-fle-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	struct keys *k = open_keys();
	CHECK(k != NULL);
	kw = k ? keys_worker_new(k) : NULL;
	CHECK(kw != NULL);
	RUN(test_layer);
	RUN(test_hold);
	keys_worker_free(kw);
	keys_close(k);
	config_free(keys_cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_summary("test_fle");
}
