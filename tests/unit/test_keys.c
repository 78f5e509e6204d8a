/* test_keys.c - sealed blob and keystore tamper tests, boot/rotation flows with the file and env
 * providers. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "config/config.h"
#include "keys/keys_internal.h"
#include "testlib.h"

static char dir[64];

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char p[128];
	path(p, sizeof(p), name);
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	uint8_t *b = malloc(1 << 20);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

static void spill(const char *name, const uint8_t *b, size_t len)
{
	char p[128];
	path(p, sizeof(p), name);
	FILE *f = fopen(p, "wb");
	fwrite(b, 1, len, f);
	fclose(f);
	chmod(p, 0600);
}

static struct config *config_for(const char *provider)
{
	char p[128], err[256];
	struct config *cfg = NULL;
	path(p, sizeof(p), "c.yaml");
	FILE *f = fopen(p, "w");
	fprintf(f,
	        "upstream: {host: 127.0.0.1}\nkeys:\n  provider: %s\n  sealing_key_file: dev.key\n"
	        "  sealed_master_key: m.sealed\n  keystore: ks\n",
	        provider);
	fclose(f);
	if (config_load(p, &cfg, err, sizeof(err)) != PGS_OK)
		fprintf(stderr, "config: %s\n", err);
	return cfg;
}

static void test_sealed_blob(void)
{
	uint8_t sk[32], master[32], out[32], blob[KEYS_SEALED_LEN];
	struct keys_sealed_hdr h = {1, KEYS_PROV_FILE, 3, 1700000000}, h2;
	for (int i = 0; i < 32; i++)
		sk[i] = (uint8_t)i, master[i] = (uint8_t)(100 + i);
	CHECK(keys_sealed_seal(sk, &h, master, blob) == PGS_OK);
	CHECK(keys_sealed_open(sk, blob, sizeof(blob), &h2, out) == PGS_OK);
	CHECK(memcmp(out, master, 32) == 0 && h2.master_gen == 3 && h2.created == 1700000000 &&
	      h2.provider == KEYS_PROV_FILE);
	int rejected = 0;
	for (size_t i = 0; i < sizeof(blob); i++)
		for (int bit = 0; bit < 8; bit++) {
			blob[i] ^= (uint8_t)(1 << bit);
			if (keys_sealed_open(sk, blob, sizeof(blob), &h2, out) != PGS_OK)
				rejected++;
			blob[i] ^= (uint8_t)(1 << bit);
		}
	CHECK_EQ_INT(rejected, (int)sizeof(blob) * 8);
	for (size_t n = 0; n < sizeof(blob); n++)
		CHECK(keys_sealed_open(sk, blob, n, &h2, out) == PGS_ERR);
	uint8_t longer[KEYS_SEALED_LEN + 1];
	memcpy(longer, blob, sizeof(blob));
	longer[KEYS_SEALED_LEN] = 0;
	CHECK(keys_sealed_open(sk, longer, sizeof(longer), &h2, out) == PGS_ERR);
	sk[5] ^= 1;
	CHECK(keys_sealed_open(sk, blob, sizeof(blob), &h2, out) == PGS_ERR);
}

static void build_store(struct keys_store *st)
{
	uint8_t k[32];
	memset(st, 0, sizeof(*st));
	st->master_gen = 2;
	for (int i = 0; i < 3; i++) {
		memset(k, 0x40 + i, sizeof(k));
		keys_store_add(st, i == 2 ? "client-b" : "", "users", i ? "phone" : "email",
		               KEYS_KIND_DATA, 1, 1700000000, k);
	}
	memset(k, 0x77, sizeof(k));
	keys_store_add(st, "", "users", "email", KEYS_KIND_SEARCH, 1, 1700000000, k);
}

static void test_keystore(void)
{
	uint8_t master[32], *buf = NULL, mk[32];
	size_t len = 0;
	char err[256];
	struct keys_store st, back;
	memset(master, 9, sizeof(master));
	build_store(&st);
	CHECK(keys_store_encode(&st, master, &buf, &len) == PGS_OK);
	CHECK(keys_store_decode(buf, len, master, &back, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(back.n, 4);
	CHECK_EQ_INT(back.master_gen, 2);
	for (size_t i = 0; i < back.n && back.n == st.n; i++) {
		CHECK(strcmp(back.e[i].client, st.e[i].client) == 0);
		CHECK(strcmp(back.e[i].column, st.e[i].column) == 0);
		CHECK(memcmp(back.e[i].key, st.e[i].key, 32) == 0);
		CHECK(back.e[i].kind == st.e[i].kind && back.e[i].version == st.e[i].version);
	}
	keys_store_clear(&back);

	/* every single-bit flip anywhere in the file is rejected */
	int rejected = 0, total = 0;
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			buf[i] ^= (uint8_t)(1 << bit);
			total++;
			if (keys_store_decode(buf, len, master, &back, err, sizeof(err)) != PGS_OK)
				rejected++;
			else
				keys_store_clear(&back);
			buf[i] ^= (uint8_t)(1 << bit);
		}
	CHECK_EQ_INT(rejected, total);
	for (size_t n = 0; n < len; n++)
		CHECK(keys_store_decode(buf, n, master, &back, err, sizeof(err)) == PGS_ERR);
	/* another master key */
	master[0] ^= 1;
	CHECK(keys_store_decode(buf, len, master, &back, err, sizeof(err)) == PGS_ERR);
	master[0] ^= 1;

	/* Per-entry AAD: rename entry 0's column "email" -> "phonx" and fix the file MAC as an
	 * attacker with the MAC key could: the entry still does not unwrap. */
	size_t off = 20 + 20; /* first entry's names: client "" then "users" then "email" */
	CHECK(memcmp(buf + off, "usersemail", 10) == 0);
	memcpy(buf + off + 5, "phonx", 5);
	CHECK(crypto_hkdf_sha256(master, 32, (const uint8_t *)"pgseal", 6, "pgseal keystore mac v1",
	                         mk, 32) == PGS_OK);
	CHECK(crypto_hmac_sha256(mk, 32, buf, len - 32, buf + len - 32) == PGS_OK);
	CHECK(keys_store_decode(buf, len, master, &back, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "entry 0") != NULL);
	free(buf);

	/* duplicate identities are refused */
	uint8_t k[32] = {0};
	keys_store_add(&st, "", "users", "email", KEYS_KIND_DATA, 1, 1, k);
	CHECK(keys_store_encode(&st, master, &buf, &len) == PGS_OK);
	CHECK(keys_store_decode(buf, len, master, &back, err, sizeof(err)) == PGS_ERR);
	free(buf);
	keys_store_clear(&st);
}

static int encrypt_with(struct keys_worker *w, const char *col, uint8_t *rec, size_t *rl)
{
	struct crypto_column_key *ck;
	if (keys_worker_current(w, NULL, "users", col, &ck) != PGS_OK)
		return PGS_ERR;
	return crypto_record_encrypt(ck, true, (const uint8_t *)"v@x", 3, rec, 128, rl);
}

static int decrypt_with(struct keys_worker *w, const char *col, const uint8_t *rec, size_t rl)
{
	struct crypto_record_view v;
	struct crypto_column_key *ck;
	uint8_t out[128];
	size_t ol;
	if (crypto_record_parse(rec, rl, &v) != PGS_OK ||
	    keys_worker_version(w, NULL, "users", col, v.key_id, &ck) != PGS_OK ||
	    crypto_record_decrypt(ck, rec, rl, out, sizeof(out), &ol) != PGS_OK)
		return PGS_ERR;
	return ol == 3 && !memcmp(out, "v@x", 3) ? PGS_OK : PGS_ERR;
}

static void test_file_provider_flow(void)
{
	struct config *cfg = config_for("file");
	struct keys *k = NULL;
	char err[512], p[128];
	uint8_t r1[128], r2[128];
	size_t l1, l2, blen, blen2;
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_ERR); /* nothing yet */
	CHECK(keys_open_ex(cfg, KEYS_OPEN_CREATE | KEYS_OPEN_INIT_ONLY, &k, err, sizeof(err)) ==
	      PGS_OK);
	CHECK(keys_created_now(k));
	CHECK(keys_ensure_column(k, NULL, "users", "email", err, sizeof(err)) == PGS_OK);
	CHECK(keys_ensure_column(k, NULL, "users", "email", err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(keys_entry_count(k), 2);
	struct keys_worker *w = keys_worker_new(k);
	CHECK(encrypt_with(w, "email", r1, &l1) == PGS_OK);
	CHECK(decrypt_with(w, "email", r1, l1) == PGS_OK);
	CHECK(decrypt_with(w, "phone", r1, l1) == PGS_ERR); /* no keys for phone */
	struct crypto_column_key *c1, *c2;
	CHECK(keys_worker_current(w, "other-client", "users", "email", &c1) == PGS_ERR);
	/* rotation in process: new writes use version 2, version 1 still decrypts */
	CHECK(keys_rotate_data(k, NULL, "users", "email", err, sizeof(err)) == PGS_OK);
	CHECK(encrypt_with(w, "email", r2, &l2) == PGS_OK);
	struct crypto_record_view v;
	CHECK(crypto_record_parse(r2, l2, &v) == PGS_OK && v.key_id == 2);
	CHECK(decrypt_with(w, "email", r1, l1) == PGS_OK);
	CHECK(decrypt_with(w, "email", r2, l2) == PGS_OK);
	CHECK(keys_worker_version(w, NULL, "users", "email", 1, &c1) == PGS_OK);
	CHECK(keys_worker_version(w, NULL, "users", "email", 1, &c2) == PGS_OK && c1 == c2);
	/* the blind index key does not rotate: equality search spans versions */
	CHECK(memcmp(r1 + 1, r2 + 1, 32) == 0);
	CHECK(keys_rotate_data(k, NULL, "nosuch", "col", err, sizeof(err)) == PGS_ERR);
	keys_worker_free(w);
	keys_close(k);

	/* init refuses to overwrite, and leaves the blob as it was */
	uint8_t *blob = slurp("m.sealed", &blen);
	CHECK(keys_open_ex(cfg, KEYS_OPEN_CREATE | KEYS_OPEN_INIT_ONLY, &k, err, sizeof(err)) ==
	      PGS_ERR);
	CHECK(strstr(err, "refusing to overwrite") != NULL);

	/* reopen: same keys */
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_OK);
	CHECK(!keys_created_now(k));
	w = keys_worker_new(k);
	CHECK(decrypt_with(w, "email", r1, l1) == PGS_OK);
	CHECK(decrypt_with(w, "email", r2, l2) == PGS_OK);
	keys_worker_free(w);

	/* master rotation needs the sealing key kept */
	CHECK(keys_rotate_master(k, err, sizeof(err)) == PGS_ERR);
	keys_close(k);
	CHECK(keys_open_ex(cfg, KEYS_OPEN_KEEP_SEALING, &k, err, sizeof(err)) == PGS_OK);
	CHECK(keys_rotate_master(k, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(keys_master_generation(k), 2);
	keys_close(k);
	uint8_t *blob2 = slurp("m.sealed", &blen2);
	CHECK(blen2 == blen && memcmp(blob, blob2, blen) != 0);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	w = keys_worker_new(k);
	CHECK(decrypt_with(w, "email", r1, l1) == PGS_OK);
	keys_worker_free(w);
	keys_close(k);

	/* an interrupted master rotation (keystore rewrapped, blob not yet swapped) recovers */
	CHECK(keys_open_ex(cfg, KEYS_OPEN_KEEP_SEALING, &k, err, sizeof(err)) == PGS_OK);
	CHECK(keys_rotate_master(k, err, sizeof(err)) == PGS_OK);
	keys_close(k);
	size_t blen3;
	uint8_t *blob3 = slurp("m.sealed", &blen3);
	spill("m.sealed.next", blob3, blen3);
	spill("m.sealed", blob2, blen2);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	if (k)
		CHECK_EQ_INT(keys_master_generation(k), 3);
	keys_close(k);
	path(p, sizeof(p), "m.sealed.next");
	CHECK(access(p, F_OK) != 0);

	/* a tampered blob stops the boot and is left exactly as it was */
	size_t tl;
	uint8_t *t = slurp("m.sealed", &tl);
	t[40] ^= 1;
	spill("m.sealed", t, tl);
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "cannot unseal") != NULL);
	size_t tl2;
	uint8_t *t2 = slurp("m.sealed", &tl2);
	CHECK(tl2 == tl && memcmp(t, t2, tl) == 0);
	t[40] ^= 1;
	spill("m.sealed", t, tl);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	keys_close(k);

	/* a truncated blob */
	spill("m.sealed", t, tl - 1);
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	spill("m.sealed", t, tl);

	/* a tampered keystore */
	size_t kl;
	uint8_t *ks = slurp("ks", &kl);
	ks[kl / 2] ^= 0x10;
	spill("ks", ks, kl);
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	ks[kl / 2] ^= 0x10;
	spill("ks", ks, kl);

	/* group/world-writable files are refused */
	path(p, sizeof(p), "ks");
	chmod(p, 0620);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "writable") != NULL);
	chmod(p, 0600);
	path(p, sizeof(p), "dev.key");
	chmod(p, 0640);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_ERR);
	chmod(p, 0600);

	/* another sealing key */
	size_t dl;
	uint8_t *dk = slurp("dev.key", &dl);
	dk[0] ^= 1;
	spill("dev.key", dk, dl);
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	dk[0] ^= 1;
	spill("dev.key", dk, dl);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	keys_close(k);

	/* provider mismatch: a blob sealed by 'file' with provider env configured */
	struct config *cenv = config_for("env");
	setenv("PGSEAL_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
	CHECK(keys_open(cenv, true, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "sealed by provider 'file'") != NULL);
	config_free(cenv);

	/* keystore without its blob: refuse to make a new master key */
	path(p, sizeof(p), "m.sealed");
	unlink(p);
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "refusing") != NULL);
	/* --new-keystore needs the blob: it never makes a master key */
	CHECK(keys_open_ex(cfg, KEYS_OPEN_NEW_KEYSTORE, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "no sealed master key") != NULL);
	spill("m.sealed", t, tl);

	/* blob without its keystore: every open refuses, naming both files, and creates nothing */
	size_t kl2;
	uint8_t *ks2 = slurp("ks", &kl2);
	path(p, sizeof(p), "ks");
	unlink(p);
	for (unsigned f = 0; f <= KEYS_OPEN_CREATE; f++) {
		CHECK(keys_open_ex(cfg, f, &k, err, sizeof(err)) == PGS_ERR);
		CHECK(strstr(err, "m.sealed") != NULL && strstr(err, "/ks") != NULL);
		CHECK(strstr(err, "--new-keystore") != NULL);
		CHECK(access(p, F_OK) != 0);
	}
	CHECK(keys_open_ex(cfg, KEYS_OPEN_KEEP_SEALING, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(access(p, F_OK) != 0);
	/* the explicit command makes an empty keystore under the same master key */
	CHECK(keys_open_ex(cfg, KEYS_OPEN_NEW_KEYSTORE, &k, err, sizeof(err)) == PGS_OK);
	if (k)
		CHECK_EQ_INT(keys_entry_count(k), 0);
	keys_close(k);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	keys_close(k);
	/* and refuses to replace a keystore that exists, leaving it as it is */
	size_t kl3, kl4;
	uint8_t *ks3 = slurp("ks", &kl3);
	CHECK(keys_open_ex(cfg, KEYS_OPEN_NEW_KEYSTORE, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "refusing to replace") != NULL);
	uint8_t *ks4 = slurp("ks", &kl4);
	CHECK(kl3 == kl4 && memcmp(ks3, ks4, kl3) == 0);
	spill("ks", ks2, kl2);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	keys_close(k);
	free(ks2), free(ks3), free(ks4);
	free(blob), free(blob2), free(blob3), free(t), free(t2), free(ks), free(dk);
	config_free(cfg);
}

/* Two writers on one keystore (two instances, or serve and `keys rotate`): neither loses
 * the other's keys. */
static void test_two_writers(void)
{
	struct config *cfg = config_for("file");
	struct keys *a = NULL, *b = NULL, *c = NULL;
	char err[512];
	CHECK(keys_open(cfg, true, &a, err, sizeof(err)) == PGS_OK);
	CHECK(keys_open(cfg, true, &b, err, sizeof(err)) == PGS_OK);
	if (a && b) {
		size_t n0 = keys_entry_count(a);
		CHECK(keys_ensure_column(a, NULL, "t", "a_col", err, sizeof(err)) == PGS_OK);
		CHECK(keys_ensure_column(b, NULL, "t", "b_col", err, sizeof(err)) == PGS_OK);
		CHECK(keys_rotate_data(a, NULL, "t", "b_col", err, sizeof(err)) == PGS_OK);
		CHECK_EQ_INT(keys_entry_count(a), n0 + 5);
		/* b's worker sees its own column; a fresh open sees everything */
		CHECK(keys_open(cfg, false, &c, err, sizeof(err)) == PGS_OK);
		if (c)
			CHECK_EQ_INT(keys_entry_count(c), n0 + 5);
		keys_close(c);
	}
	keys_close(a);
	keys_close(b);
	config_free(cfg);
}

static void test_env_provider(void)
{
	char err[512], p[128];
	struct keys *k = NULL;
	path(p, sizeof(p), "m.sealed");
	unlink(p);
	path(p, sizeof(p), "ks");
	unlink(p);
	struct config *cfg = config_for("env");
	unsetenv("PGSEAL_MASTER_KEY");
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "not set") != NULL);
	setenv("PGSEAL_MASTER_KEY", "dG9vIHNob3J0", 1); /* "too short" */
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(getenv("PGSEAL_MASTER_KEY") == NULL);
	setenv("PGSEAL_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
	CHECK(keys_open(cfg, true, &k, err, sizeof(err)) == PGS_OK);
	CHECK(getenv("PGSEAL_MASTER_KEY") == NULL);
	CHECK(keys_created_now(k));
	CHECK(strcmp(keys_provider_name(k), "env") == 0);
	keys_close(k);
	/* a later boot with the same value unseals; with another one it fails */
	setenv("PGSEAL_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_OK);
	keys_close(k);
	setenv("PGSEAL_MASTER_KEY", "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
	CHECK(keys_open(cfg, false, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(getenv("PGSEAL_MASTER_KEY") == NULL);
	config_free(cfg);
}

static void test_client_id(void)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	char id[KEYS_CLIENT_ID_LEN + 1], ref[65], err[256], p[128];
	unsigned char *der = NULL;
	uint8_t md[32];
	unsigned int mdl;
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"app-a", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_sign(x, pk, EVP_sha256());
	CHECK(keys_client_id_x509(x, id) == PGS_OK);
	int n = i2d_PUBKEY(pk, &der);
	EVP_Digest(der, (size_t)n, md, &mdl, EVP_sha256(), NULL);
	pgs_hex(md, 32, ref);
	CHECK(strcmp(id, ref) == 0);
	CHECK_EQ_INT(strlen(id), 64);
	path(p, sizeof(p), "cert.pem");
	FILE *f = fopen(p, "w");
	PEM_write_X509(f, x);
	fclose(f);
	char id2[KEYS_CLIENT_ID_LEN + 1];
	CHECK(keys_client_id_pem_file(p, id2, err, sizeof(err)) == PGS_OK && !strcmp(id, id2));
	path(p, sizeof(p), "c.yaml");
	CHECK(keys_client_id_pem_file(p, id2, err, sizeof(err)) == PGS_ERR);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* Child mode: PGSEAL_MASTER_KEY is in the initial environment; after keys_open neither the
 * name nor the value may remain in /proc/self/environ. */
static int env_child(const char *d)
{
	char p[256], err[512], buf[65536];
	struct config *cfg = NULL;
	struct keys *k = NULL;
	snprintf(p, sizeof(p), "%s/c.yaml", d);
	if (config_load(p, &cfg, err, sizeof(err)) != PGS_OK ||
	    keys_open(cfg, true, &k, err, sizeof(err)) != PGS_OK)
		return 3;
	FILE *f = fopen("/proc/self/environ", "rb");
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	keys_close(k);
	config_free(cfg);
	if (!n)
		return 4;
	if (memmem(buf, n, "PGSEAL_MASTER_KEY", 17) || memmem(buf, n, "AAECAwQFBgcI", 12))
		return 5;
	return getenv("PGSEAL_MASTER_KEY") ? 6 : 0;
}

static void test_env_removed_from_proc(void)
{
	char p[128];
	path(p, sizeof(p), "m.sealed");
	unlink(p);
	path(p, sizeof(p), "ks");
	unlink(p);
	struct config *cfg = config_for("env");
	config_free(cfg);
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {"test_keys", "--env-child", dir, NULL};
		char *envp[] = {"PGSEAL_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		                "OTHER=1", NULL};
		execve("/proc/self/exe", args, envp);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
	log_setup(LOG_ERROR, LOG_TEXT);
	if (argc == 3 && !strcmp(argv[1], "--env-child"))
		return env_child(argv[2]);
	snprintf(dir, sizeof(dir), "/tmp/pgseal-test-keys-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(test_sealed_blob);
	RUN(test_keystore);
	RUN(test_file_provider_flow);
	RUN(test_two_writers);
	RUN(test_env_provider);
	RUN(test_env_removed_from_proc);
	RUN(test_client_id);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_summary("keys");
}
