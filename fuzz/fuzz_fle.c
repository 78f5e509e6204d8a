/* fuzz_fle.c - libFuzzer target for the encryption layer alone: a sequence of client and server
 * messages fed to one session's layer; every action must be well formed (whole messages, a
 * failure with an SQLSTATE) and nothing may crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/unit/test_sql_util.h"
#include "common/log.h"
#include "config/config.h"
#include "fle/fle.h"
#include "keys/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct keys_worker *kw;
static struct fle_plan_cache *plans;
static struct fle_action act;
static char dir[64] = "/tmp/pgseal-fuzz-fle-XXXXXX";
static struct config *keys_cfg;
static struct keys *keys;

static void close_keys(void)
{
	char cmd[96];
	keys_worker_free(kw);
	keys_close(keys);
	config_free(keys_cfg);
	fle_plan_cache_free(plans);
	fle_action_free(&act);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_fle: cannot remove %s\n", dir);
}

/* Keys for the schema's encrypted columns, in a temporary key store, so that values are really
 * encrypted and rows really decrypted (without, every value is refused). */
static void open_keys(void)
{
	char p[128], err[512];
	if (!mkdtemp(dir))
		return;
	atexit(close_keys);
	snprintf(p, sizeof(p), "%s/c.yaml", dir);
	FILE *fp = fopen(p, "w");
	if (!fp)
		return;
	fprintf(
	    fp,
	    "upstream: {host: 127.0.0.1}\nkeys:\n  provider: file\n  sealing_key_file: dev.key\n"
	    "  sealed_master_key: m.sealed\n  keystore: ks\n");
	fclose(fp);
	if (config_load(p, &keys_cfg, err, sizeof(err)) != PGS_OK ||
	    keys_open_ex(keys_cfg, KEYS_OPEN_CREATE, &keys, err, sizeof(err)) != PGS_OK)
		return;
	const char *cols[][2] = {{"users", "email"},
	                         {"users", "ssn"},
	                         {"users", "salary"},
	                         {"orders", "card"},
	                         {"app.accounts", "secret"}};
	for (size_t i = 0; i < PGS_ARRAY_LEN(cols); i++)
		if (keys_ensure_column(keys, NULL, cols[i][0], cols[i][1], err, sizeof(err)) !=
		    PGS_OK)
			return;
	kw = keys_worker_new(keys);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	(void)tsql_enc;
	log_setup(LOG_ERROR, LOG_TEXT);
	plans = fle_plan_cache_new();
	open_keys();
	return 0;
}

static const char *param(void *arg, const char *name)
{
	(void)arg;
	if (!strcmp(name, "standard_conforming_strings"))
		return "on";
	if (!strcmp(name, "client_encoding"))
		return "UTF8";
	return NULL;
}

/* A buffer of the action holds whole messages only. */
static void check_messages(const struct pgs_buf *b)
{
	size_t at = 0;
	while (at < b->len) {
		if (b->len - at < 5)
			abort();
		uint32_t len = pgs_get_u32(b->data + at + 1);
		if (len < 4 || len > b->len - at - 1)
			abort();
		at += 1 + (size_t)len;
	}
}

static void check_action(bool from_client)
{
	check_messages(&act.fwd);
	check_messages(&act.back);
	switch (act.verdict) {
	case FLE_PASS:
	case FLE_REPLACE:
		break;
	case FLE_HOLD:
		if (!from_client || act.fwd.len || act.back.len)
			abort();
		break;
	case FLE_FAIL:
		if (strlen(act.sqlstate) != 5 || !act.message[0] || act.fwd.len || act.back.len)
			abort();
		break;
	default:
		abort();
	}
	if (act.ready && act.fwd.len < 6)
		abort();
}

/*
 * Input: a flags byte (bit 0: start as an established session, its catalog answered), then
 * messages: a direction byte (bit 0: from the server), the type byte, a 16-bit body length and
 * the body (shorter at the end of the input).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	struct fle_config cfg = {.conn_id = 1,
	                         .schema = tsql_schema(),
	                         .kw = kw,
	                         .plans = (data[0] & 2) ? plans : NULL,
	                         .max_message_size = 1u << 16,
	                         .param = param};
	struct fle *f = fle_new(&cfg);
	if (fle_session_ready(f, 'I', &act) != PGS_OK)
		abort();
	check_action(false);
	if (data[0] & 1) {
		static const uint8_t z = 'I';
		if (fle_server_message(f, 'Z', &z, 1, &act) != PGS_OK || !act.ready)
			abort();
	}
	size_t i = 1;
	while (i + 4 <= size) {
		bool from_server = data[i] & 1;
		uint8_t type = data[i + 1];
		size_t len = (size_t)data[i + 2] << 8 | data[i + 3];
		i += 4;
		if (len > size - i)
			len = size - i;
		/* the body in a buffer of its own size: a read past it is caught */
		uint8_t *body = malloc(len ? len : 1);
		if (!body)
			abort();
		memcpy(body, data + i, len);
		i += len;
		int rc;
		if (from_server) {
			(void)fle_server_wants(f, type);
			rc = fle_server_message(f, type, body, (uint32_t)len, &act);
		} else {
			(void)fle_client_wants(f, type);
			rc = fle_client_message(f, type, body, (uint32_t)len, &act);
		}
		free(body);
		if ((rc != PGS_OK) != (act.verdict == FLE_FAIL))
			abort();
		check_action(!from_server);
		if (act.verdict == FLE_HOLD && !fle_client_held(f))
			abort();
		(void)fle_idle(f);
		if (rc != PGS_OK)
			break; /* the session ends */
	}
	fle_free(f);
	fle_action_reset(&act);
	return 0;
}
