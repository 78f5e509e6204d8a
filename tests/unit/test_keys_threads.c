/* test_keys_threads.c - worker threads encrypt and decrypt while the keystore grows and rotates. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "config/config.h"
#include "keys/keys.h"
#include "testlib.h"

#define THREADS 4
#define ITER 3000

static struct keys *K;
static int failures[THREADS];

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct keys_worker *w = keys_worker_new(K);
	static const char *cols[] = {"email", "phone", "name"};
	uint8_t rec[256], out[256];
	char val[64];
	for (int i = 0; i < ITER; i++) {
		const char *col = cols[i % 3];
		struct crypto_column_key *ck;
		struct crypto_record_view v;
		size_t rl, ol;
		int n = snprintf(val, sizeof(val), "t%d-v%d", id, i);
		if (keys_worker_current(w, NULL, "users", col, &ck) != PGS_OK ||
		    crypto_record_encrypt(ck, i % 2, (const uint8_t *)val, (size_t)n, rec,
		                          sizeof(rec), &rl) != PGS_OK ||
		    crypto_record_parse(rec, rl, &v) != PGS_OK ||
		    keys_worker_version(w, NULL, "users", col, v.key_id, &ck) != PGS_OK ||
		    crypto_record_decrypt(ck, rec, rl, out, sizeof(out), &ol) != PGS_OK ||
		    ol != (size_t)n || memcmp(out, val, ol) != 0)
			failures[id]++;
	}
	keys_worker_free(w);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/pgseal-test-threads-XXXXXX", p[128], err[512];
	struct config *cfg = NULL;
	log_setup(LOG_ERROR, LOG_TEXT);
	if (!mkdtemp(dir))
		return 1;
	snprintf(p, sizeof(p), "%s/c.yaml", dir);
	FILE *f = fopen(p, "w");
	fprintf(f,
	        "upstream: {host: 127.0.0.1}\nkeys: {provider: file, sealing_key_file: dev.key}\n");
	fclose(f);
	CHECK(config_load(p, &cfg, err, sizeof(err)) == PGS_OK);
	CHECK(cfg && keys_open(cfg, true, &K, err, sizeof(err)) == PGS_OK);
	if (!K)
		return t_summary("keys_threads");
	CHECK(keys_ensure_column(K, NULL, "users", "email", err, sizeof(err)) == PGS_OK);
	CHECK(keys_ensure_column(K, NULL, "users", "phone", err, sizeof(err)) == PGS_OK);
	CHECK(keys_ensure_column(K, NULL, "users", "name", err, sizeof(err)) == PGS_OK);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	/* meanwhile: rotations and new columns from the main thread */
	for (int i = 0; i < 5; i++) {
		CHECK(keys_rotate_data(K, NULL, "users", i % 2 ? "email" : "phone", err,
		                       sizeof(err)) == PGS_OK);
		char col[32];
		snprintf(col, sizeof(col), "extra%d", i);
		CHECK(keys_ensure_column(K, NULL, "orders", col, err, sizeof(err)) == PGS_OK);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(failures[i], 0);
	}
	CHECK_EQ_INT(keys_entry_count(K), 3 * 2 + 5 + 5 * 2);
	keys_close(K);
	config_free(cfg);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	if (system(p) != 0)
		return 1;
	return t_summary("keys_threads");
}
