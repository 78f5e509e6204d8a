/* test_keys_escrow.c - the escrow manifest parser (negative cases), the check value, and an escrow
 * then recovery in process with the file provider (CMS decryption by OpenSSL as a custodian). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "keys/keys_escrow.h"
#include "testlib.h"

static char dir[64];

#define GOOD                                                                                       \
	"{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":3,\"shares\":[{}," \
	"{},"                                                                                      \
	"{}],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}"

static int mparse(const char *s, struct keys_manifest *m)
{
	char err[256];
	return keys_manifest_parse(s, strlen(s), m, err, sizeof(err));
}

static void test_manifest(void)
{
	struct keys_manifest m;
	CHECK(mparse(GOOD, &m) == PGS_OK);
	CHECK(m.threshold == 2 && m.nshares == 3 && m.master_gen == 3 && m.check[0] == 0x00 &&
	      m.check[15] == 0xff);
	static const char *bad[] = {
	    "",
	    "{",
	    "[]",
	    "null",
	    /* format */
	    "{\"format\":\"other\",\"threshold\":2,\"master_generation\":3,\"shares\":[1,2,3],"
	    "\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    /* threshold 1, threshold > shares, threshold as string */
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":1,\"master_generation\":3,\"shares\":["
	    "1,2,"
	    "3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":4,\"master_generation\":3,\"shares\":["
	    "1,2,"
	    "3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":\"2\",\"master_generation\":3,"
	    "\"shares\":["
	    "1,2,3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    /* generation 0, too large */
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":0,\"shares\":["
	    "1,2,"
	    "3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":4294967296,"
	    "\"shares\":[1,2,3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    /* shares not an array; check value short, long, not hex, missing */
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":3,\"shares\":3,"
	    "\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":3,\"shares\":["
	    "1,2,"
	    "3],\"check\":{\"value\":\"00112233445566778899aabbccddee\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":3,\"shares\":["
	    "1,2,"
	    "3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff00\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":3,\"shares\":["
	    "1,2,"
	    "3],\"check\":{\"value\":\"0011223344556677889xaabbccddeeff\"}}",
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"master_generation\":3,\"shares\":["
	    "1,2,"
	    "3],\"check\":{}}",
	    /* duplicate key */
	    "{\"format\":\"pgseal-escrow-v1\",\"threshold\":2,\"threshold\":3,\"master_"
	    "generation\":3,"
	    "\"shares\":[1,2,3],\"check\":{\"value\":\"00112233445566778899aabbccddeeff\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_current = bad[i];
		CHECK(mparse(bad[i], &m) == PGS_ERR);
	}
	t_current = "test_manifest";
}

static void test_check_value(void)
{
	/* HMAC-SHA-256(key = 00..1f, "pgseal escrow check v1"), first 16 bytes (Python's hmac) */
	uint8_t key[32], out[KEYS_ESCROW_CHECK_LEN];
	char hex[2 * KEYS_ESCROW_CHECK_LEN + 1];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	CHECK(keys_escrow_check(key, out) == PGS_OK);
	pgs_hex(out, sizeof(out), hex);
	CHECK_STR(hex, "6696599d14864bc8b6d56001b5b34bc4");
}

/* ---- escrow, then recovery on a "new machine" (another sealing key file) ---- */

static struct config *config_in(const char *sub, const char *extra)
{
	char p[160], err[256];
	struct config *cfg = NULL;
	snprintf(p, sizeof(p), "%s/%s.yaml", dir, sub);
	FILE *f = fopen(p, "w");
	fprintf(f,
	        "upstream: {host: 127.0.0.1}\nkeys:\n  provider: file\n  sealing_key_file: %s.key\n"
	        "  sealed_master_key: %s.sealed\n  keystore: ks\n%s",
	        sub, sub, extra);
	fclose(f);
	if (config_load(p, &cfg, err, sizeof(err)) != PGS_OK)
		fprintf(stderr, "config: %s\n", err);
	return cfg;
}

static void make_cert(const char *name, bool ec)
{
	char p[160];
	EVP_PKEY *k = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, k, EVP_sha256());
	snprintf(p, sizeof(p), "%s/%s.pem", dir, name);
	FILE *f = fopen(p, "w");
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(p, sizeof(p), "%s/%s.key", dir, name);
	f = fopen(p, "w");
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* the custodian's side: decrypt share-<i>.cms into dir/line-<i> */
static bool decrypt(int i, const char *name)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/out/share-%d.cms", dir, i);
	BIO *in = BIO_new_file(p, "rb"), *out = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms = in ? d2i_CMS_bio(in, NULL) : NULL;
	snprintf(p, sizeof(p), "%s/%s.key", dir, name);
	FILE *f = fopen(p, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	bool ok = cms && k && CMS_decrypt(cms, k, NULL, NULL, out, 0) == 1;
	if (ok) {
		char *data;
		long n = BIO_get_mem_data(out, &data);
		snprintf(p, sizeof(p), "%s/line-%d", dir, i);
		f = fopen(p, "w");
		fwrite(data, 1, (size_t)n, f);
		fclose(f);
		chmod(p, 0600);
	}
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(k);
	BIO_free(in);
	BIO_free(out);
	return ok;
}

static void test_escrow_recover(void)
{
	char err[1024], c1[160], c2[160], c3[160], l1[160], l2[160], l3[160], man[160], out[160];
	struct keys *k = NULL;
	struct config *a = config_in("a", "  escrow: allowed\n");
	CHECK(a && keys_escrow_allowed(a));
	CHECK(keys_open(a, true, &k, err, sizeof(err)) == PGS_OK);
	CHECK(keys_ensure_column(k, NULL, "t", "c", err, sizeof(err)) == PGS_OK);
	make_cert("cust1", false);
	make_cert("cust2", true);
	make_cert("cust3", false);
	snprintf(c1, sizeof(c1), "%s/cust1.pem", dir);
	snprintf(c2, sizeof(c2), "%s/cust2.pem", dir);
	snprintf(c3, sizeof(c3), "%s/cust3.pem", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	const char *certs[] = {c1, c2, c3};
	/* K > N, K < 2, the same certificate twice */
	CHECK(keys_escrow_write(k, 4, certs, 3, out, err, sizeof(err)) == PGS_ERR);
	CHECK(keys_escrow_write(k, 1, certs, 3, out, err, sizeof(err)) == PGS_ERR);
	const char *dup[] = {c1, c1};
	CHECK(keys_escrow_write(k, 2, dup, 2, out, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "same certificate") != NULL);
	CHECK(keys_escrow_write(k, 2, certs, 3, out, err, sizeof(err)) == PGS_OK);
	keys_close(k);
	CHECK(decrypt(1, "cust1") && decrypt(2, "cust2") && decrypt(3, "cust3"));
	CHECK(!decrypt(1, "cust2")); /* another custodian's key does not open it */

	snprintf(man, sizeof(man), "%s/out/manifest.json", dir);
	snprintf(l1, sizeof(l1), "%s/line-1", dir);
	snprintf(l2, sizeof(l2), "%s/line-2", dir);
	snprintf(l3, sizeof(l3), "%s/line-3", dir);
	/* "machine b": another sealing key, no blob, the same keystore */
	struct config *b = config_in("b", "");
	const char *one[] = {l2};
	CHECK(keys_escrow_recover(b, man, one, 1, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "needs 2") != NULL);
	/* corrupt line 3: flip one hex digit */
	FILE *f = fopen(l3, "r+");
	char line[KEYS_SHARE_LINE_MAX + 2];
	CHECK(fgets(line, sizeof(line), f) != NULL);
	line[10] = line[10] == '0' ? '1' : '0';
	rewind(f);
	fputs(line, f);
	fclose(f);
	const char *bad[] = {l1, l3};
	CHECK(keys_escrow_recover(b, man, bad, 2, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "check value mismatch") != NULL);
	char bsealed[160];
	snprintf(bsealed, sizeof(bsealed), "%s/b.sealed", dir);
	CHECK(access(bsealed, F_OK) != 0);
	const char *good[] = {l2, l1};
	CHECK(keys_escrow_recover(b, man, good, 2, err, sizeof(err)) == PGS_OK);
	CHECK(keys_open(b, false, &k, err, sizeof(err)) == PGS_OK);
	CHECK(k && keys_entry_count(k) == 2);
	keys_close(k);

	/* the standard-tools path: the key combined from two share lines, as PGSEAL_MASTER_KEY of
	 * the env provider with the same keystore and no blob */
	struct keys_share *sh = crypto_secure_alloc(2 * sizeof(*sh));
	uint8_t *master = crypto_secure_alloc(32);
	const char *lines[] = {l1, l2};
	for (int i = 0; i < 2; i++) {
		f = fopen(lines[i], "r");
		CHECK(f && fgets(line, sizeof(line), f) != NULL);
		if (f)
			fclose(f);
		CHECK(keys_share_parse(line, strlen(line), &sh[i], err, sizeof(err)) == PGS_OK);
	}
	CHECK(keys_shamir_combine(sh, 2, master, err, sizeof(err)) == PGS_OK);
	char b64[64];
	EVP_EncodeBlock((unsigned char *)b64, master, 32);
	struct config *e = config_in("e", "");
	free(e->keys.provider);
	e->keys.provider = strdup("env");
	setenv("PGSEAL_MASTER_KEY", b64, 1);
	CHECK(keys_open_ex(e, KEYS_OPEN_KEEP_SEALING, &k, err, sizeof(err)) == PGS_OK);
	CHECK(getenv("PGSEAL_MASTER_KEY") == NULL);
	CHECK(k && keys_entry_count(k) == 2 && keys_master_generation(k) == 1);
	CHECK(k && keys_rotate_master(k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "keys recover") != NULL);
	keys_close(k);
	k = NULL;
	master[0] ^= 1; /* another key: refused, naming the keystore */
	EVP_EncodeBlock((unsigned char *)b64, master, 32);
	setenv("PGSEAL_MASTER_KEY", b64, 1);
	CHECK(keys_open(e, true, &k, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "not the master key of this keystore") != NULL);
	CHECK(k == NULL);
	char esealed[160];
	snprintf(esealed, sizeof(esealed), "%s/e.sealed", dir);
	CHECK(access(esealed, F_OK) != 0);
	crypto_wipe(b64, sizeof(b64));
	crypto_secure_free(sh);
	crypto_secure_free(master);
	config_free(e);
	config_free(a);
	config_free(b);
}

int main(void)
{
	log_setup(LOG_ERROR, LOG_TEXT);
	snprintf(dir, sizeof(dir), "/tmp/pgseal-escrow-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(test_manifest);
	RUN(test_check_value);
	RUN(test_escrow_recover);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_summary("test_keys_escrow");
}
