/* test_crypto.c - record format known answers (computed with Python's cryptography), tamper, AAD,
 * sizes. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "testlib.h"

static uint8_t key[32], skey[32], nonce[12];

static void setup(void)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i, skey[i] = (uint8_t)(32 + i);
	for (int i = 0; i < 12; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
}

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;
	if (pgs_unhex(h, 2 * n, out, n) != PGS_OK)
		return (size_t)-1;
	return n;
}

/* Vectors: key 00..1f, search key 20..3f, key id 7, nonce a0..ab, column users.email. */
static const struct {
	const char *pt_hex;
	bool searchable;
	const char *rec_hex;
} kat[] = {
    {"616c696365406578616d706c652e636f6d", true,
     "0233ba99e7a33ab6bfc4b864026b9722e9056ff15c686afd9372e210137616f70b00000007a0a1a2a3a4a5a6a7"
     "a8a9aaab8774154e208b67c70308f7bf6254a3b11d4d8913adcef6a52dd4d01f07b0275a27"},
    {"616c696365406578616d706c652e636f6d", false,
     "0100000007a0a1a2a3a4a5a6a7a8a9aaab8774154e208b67c70308f7bf6254a3b11d56552bbf5377a17d246ab3"
     "7d72264596"},
    {"", false, "0100000007a0a1a2a3a4a5a6a7a8a9aaabd676217311bdcd68e4c0378f623971ab"},
    {"0000002a", true,
     "020824bd325b2e5f20779aa2ca9800bb7e5f400a7cfd77fcf48e6502c5c7872c1400000007a0a1a2a3a4a5a6a7"
     "a8a9aaabe6187c07e5ba3d1a268efa91a83de47ac5eed644"},
};

static void test_known_answers(void)
{
	struct crypto_column_key *k;
	CHECK(crypto_column_key_new(key, skey, 7, "users", "email", &k) == PGS_OK);
	for (size_t i = 0; i < PGS_ARRAY_LEN(kat); i++) {
		uint8_t pt[64], want[256], got[256], back[256];
		size_t ptl = unhex(kat[i].pt_hex, pt), wl = unhex(kat[i].rec_hex, want), gl = 0,
		       bl = 0;
		CHECK(crypto_record_encrypt_with_nonce(k, kat[i].searchable, nonce, pt, ptl, got,
		                                       sizeof(got), &gl) == PGS_OK);
		CHECK_EQ_INT(gl, wl);
		CHECK(gl == wl && memcmp(got, want, wl) == 0);
		CHECK_EQ_INT(crypto_record_len(kat[i].searchable, ptl), wl);
		CHECK(crypto_record_decrypt(k, want, wl, back, sizeof(back), &bl) == PGS_OK);
		CHECK(bl == ptl && memcmp(back, pt, ptl) == 0);
	}
	crypto_column_key_free(k);
}

static void test_blind_index_is_hmac(void)
{
	struct crypto_column_key *k;
	uint8_t bi[32], ref[32];
	unsigned int n;
	const char *msgs[] = {
	    "", "a", "alice@example.com",
	    "a value longer than one sixty-four byte block of SHA-256 input ....."};
	CHECK(crypto_column_key_new(key, skey, 1, "t", "c", &k) == PGS_OK);
	for (size_t i = 0; i < PGS_ARRAY_LEN(msgs); i++) {
		CHECK(crypto_blind_index(k, (const uint8_t *)msgs[i], strlen(msgs[i]), bi) ==
		      PGS_OK);
		HMAC(EVP_sha256(), skey, 32, (const uint8_t *)msgs[i], strlen(msgs[i]), ref, &n);
		CHECK(memcmp(bi, ref, 32) == 0);
	}
	crypto_column_key_free(k);
	/* no search key: no blind index, no searchable record */
	CHECK(crypto_column_key_new(key, NULL, 1, "t", "c", &k) == PGS_OK);
	uint8_t out[128];
	size_t ol;
	CHECK(crypto_blind_index(k, (const uint8_t *)"x", 1, bi) == PGS_ERR);
	CHECK(crypto_record_encrypt(k, true, (const uint8_t *)"x", 1, out, sizeof(out), &ol) ==
	      PGS_ERR);
	CHECK(crypto_record_encrypt(k, false, (const uint8_t *)"x", 1, out, sizeof(out), &ol) ==
	      PGS_OK);
	crypto_column_key_free(k);
}

static void test_every_byte_flip_rejected(void)
{
	struct crypto_column_key *k;
	uint8_t rec[256], out[256];
	size_t rl, ol;
	CHECK(crypto_column_key_new(key, skey, 7, "users", "email", &k) == PGS_OK);
	for (int s = 0; s < 2; s++) {
		CHECK(crypto_record_encrypt(k, s, (const uint8_t *)"secret value", 12, rec,
		                            sizeof(rec), &rl) == PGS_OK);
		int rejected = 0;
		for (size_t i = 0; i < rl; i++)
			for (int bit = 0; bit < 8; bit++) {
				rec[i] ^= (uint8_t)(1 << bit);
				if (crypto_record_decrypt(k, rec, rl, out, sizeof(out), &ol) !=
				    PGS_OK)
					rejected++;
				rec[i] ^= (uint8_t)(1 << bit);
			}
		CHECK_EQ_INT(rejected, (int)rl * 8);
		CHECK(crypto_record_decrypt(k, rec, rl, out, sizeof(out), &ol) == PGS_OK);
		CHECK(ol == 12 && memcmp(out, "secret value", 12) == 0);
	}
	crypto_column_key_free(k);
}

static void test_wrong_column_and_key(void)
{
	struct crypto_column_key *a, *b, *c, *d;
	uint8_t rec[256], out[256], other[32];
	size_t rl, ol;
	memcpy(other, key, 32);
	other[0] ^= 1;
	CHECK(crypto_column_key_new(key, skey, 7, "users", "email", &a) == PGS_OK);
	CHECK(crypto_column_key_new(key, skey, 7, "users", "phone", &b) == PGS_OK);
	CHECK(crypto_column_key_new(key, skey, 7, "user", "semail", &c) == PGS_OK);
	CHECK(crypto_column_key_new(other, skey, 7, "users", "email", &d) == PGS_OK);
	CHECK(crypto_record_encrypt(a, true, (const uint8_t *)"v", 1, rec, sizeof(rec), &rl) ==
	      PGS_OK);
	CHECK(crypto_record_decrypt(a, rec, rl, out, sizeof(out), &ol) == PGS_OK);
	CHECK(crypto_record_decrypt(b, rec, rl, out, sizeof(out), &ol) == PGS_ERR);
	CHECK(crypto_record_decrypt(d, rec, rl, out, sizeof(out), &ol) == PGS_ERR);
	CHECK(crypto_record_decrypt(c, rec, rl, out, sizeof(out), &ol) == PGS_ERR);
	/* a record of key id 7 is not decrypted by a context of another version */
	struct crypto_column_key *v8;
	CHECK(crypto_column_key_new(key, skey, 8, "users", "email", &v8) == PGS_OK);
	CHECK(crypto_record_decrypt(v8, rec, rl, out, sizeof(out), &ol) == PGS_ERR);
	struct crypto_record_view v;
	CHECK(crypto_record_parse(rec, rl, &v) == PGS_OK);
	CHECK_EQ_INT(v.key_id, 7);
	CHECK_EQ_INT(v.format, CRYPTO_REC_SEARCHABLE);
	CHECK_EQ_INT(v.ct_len, 1);
	crypto_column_key_free(a);
	crypto_column_key_free(b);
	crypto_column_key_free(c);
	crypto_column_key_free(d);
	crypto_column_key_free(v8);
}

static void test_sizes(void)
{
	struct crypto_column_key *k;
	uint8_t rec[512], out[512];
	size_t rl, ol;
	CHECK(crypto_column_key_new(key, skey, 7, "users", "email", &k) == PGS_OK);
	/* too small an output buffer */
	CHECK(crypto_record_encrypt(k, true, (const uint8_t *)"abc", 3, rec, 3 + 64, &rl) ==
	      PGS_ERR);
	CHECK(crypto_record_encrypt(k, true, (const uint8_t *)"abc", 3, rec, 3 + 65, &rl) ==
	      PGS_OK);
	CHECK_EQ_INT(rl, 68);
	/* every truncation and an extension are rejected */
	for (size_t n = 0; n < rl; n++)
		CHECK(crypto_record_decrypt(k, rec, n, out, sizeof(out), &ol) == PGS_ERR);
	rec[rl] = 0;
	CHECK(crypto_record_decrypt(k, rec, rl + 1, out, sizeof(out), &ol) == PGS_ERR);
	/* output capacity below the plaintext length */
	CHECK(crypto_record_decrypt(k, rec, rl, out, 2, &ol) == PGS_ERR);
	/* unknown format bytes */
	for (int f = 0; f < 256; f++) {
		struct crypto_record_view v;
		uint8_t r2[80];
		memcpy(r2, rec, 68);
		r2[0] = (uint8_t)f;
		int ok = crypto_record_parse(r2, 68, &v) == PGS_OK;
		CHECK(ok == (f == 1 || f == 2));
	}
	CHECK_EQ_INT(crypto_record_len(false, CRYPTO_REC_MAX_PLAIN + 1), 0);
	/* random nonces differ */
	uint8_t r1[64], r2[64];
	size_t l1, l2;
	CHECK(crypto_record_encrypt(k, false, (const uint8_t *)"same", 4, r1, sizeof(r1), &l1) ==
	      PGS_OK);
	CHECK(crypto_record_encrypt(k, false, (const uint8_t *)"same", 4, r2, sizeof(r2), &l2) ==
	      PGS_OK);
	CHECK(memcmp(r1 + 5, r2 + 5, 12) != 0);
	/* a large value round-trips */
	size_t big = 1 << 20;
	uint8_t *p = malloc(big), *r = malloc(big + 65), *o = malloc(big + 65);
	memset(p, 'x', big);
	CHECK(crypto_record_encrypt(k, true, p, big, r, big + 65, &rl) == PGS_OK);
	CHECK(crypto_record_decrypt(k, r, rl, o, big + 65, &ol) == PGS_OK && ol == big &&
	      memcmp(o, p, big) == 0);
	free(p), free(r), free(o);
	crypto_column_key_free(k);
	CHECK(crypto_column_key_new(key, skey, 7, "t", "a very long column name that is fine",
	                            &k) == PGS_OK);
	crypto_column_key_free(k);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK(crypto_column_key_new(key, skey, 7, "t", longname, &k) == PGS_ERR);
	/* key ids outside 1..2^24-1 (the range the database's CHECK constraint accepts) */
	CHECK(crypto_column_key_new(key, skey, 0, "t", "c", &k) == PGS_ERR);
	CHECK(crypto_column_key_new(key, skey, CRYPTO_KEYID_MAX + 1, "t", "c", &k) == PGS_ERR);
	CHECK(crypto_column_key_new(key, skey, UINT32_MAX, "t", "c", &k) == PGS_ERR);
	CHECK(crypto_column_key_new(key, skey, CRYPTO_KEYID_MAX, "t", "c", &k) == PGS_OK);
	crypto_column_key_free(k);
}

static void test_helpers(void)
{
	/* RFC 5869 test case 1 */
	uint8_t ikm[22], salt[13], okm[42], want[42];
	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	static const uint8_t info[] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5,
	                               0xf6, 0xf7, 0xf8, 0xf9, 0};
	unhex(
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	    want);
	CHECK(crypto_hkdf_sha256(ikm, 22, salt, 13, (const char *)info, okm, 42) == PGS_OK);
	CHECK(memcmp(okm, want, 42) == 0);

	CHECK(crypto_ct_equal("abc", "abc", 3) == 1);
	CHECK(crypto_ct_equal("abc", "abd", 3) == 0);

	uint8_t b[64];
	size_t bl;
	CHECK(pgs_b64_decode("aGVsbG8=", 8, b, sizeof(b), &bl) == PGS_OK && bl == 5 &&
	      !memcmp(b, "hello", 5));
	CHECK(pgs_b64_decode("aGVsbA==", 8, b, sizeof(b), &bl) == PGS_OK && bl == 4);
	CHECK(pgs_b64_decode("aGVsbG8", 7, b, sizeof(b), &bl) == PGS_ERR);
	CHECK(pgs_b64_decode("aGV=bG8=", 8, b, sizeof(b), &bl) == PGS_ERR);
	CHECK(pgs_b64_decode("aGVs bG8", 8, b, sizeof(b), &bl) == PGS_ERR);
	CHECK(pgs_b64_decode("aGVsbG8=", 8, b, 4, &bl) == PGS_ERR);
	CHECK(pgs_unhex("0g", 2, b, 1) == PGS_ERR);
	CHECK(pgs_unhex("0a", 2, b, 2) == PGS_ERR);
	char h[9];
	pgs_hex((const uint8_t *)"\x01\xab\xff\x00", 4, h);
	CHECK(strcmp(h, "01abff00") == 0);

	uint8_t *s = crypto_secure_alloc(100);
	CHECK(s != NULL && s[0] == 0 && s[99] == 0);
	memset(s, 0x55, 100);
	crypto_secure_free(s);
	crypto_secure_free(NULL);
	s = crypto_secure_alloc(10000);
	s[9999] = 1;
	crypto_secure_free(s);

	/* one-shot AEAD round trip and tamper */
	uint8_t ct[5], tag[16], pt[5];
	CHECK(crypto_aead_seal(key, nonce, (const uint8_t *)"aad", 3, (const uint8_t *)"hello", 5,
	                       ct, tag) == PGS_OK);
	CHECK(crypto_aead_open(key, nonce, (const uint8_t *)"aad", 3, ct, 5, tag, pt) == PGS_OK &&
	      !memcmp(pt, "hello", 5));
	CHECK(crypto_aead_open(key, nonce, (const uint8_t *)"aab", 3, ct, 5, tag, pt) == PGS_ERR);
}

/* A failed mlock is logged once, with errno's reason and nothing of the secret; the
 * allocation still succeeds (pgseal carries on, docs/keys.md). Run in a child with
 * RLIMIT_MEMLOCK 0 and, when root, without root's CAP_IPC_LOCK (setuid nobody). */
static void test_secmem_mlock_failure_logged(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return; /* ASan intercepts mlock (a no-op that never fails) */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return;
#endif
#endif
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		dup2(fds[1], 2);
		close(fds[0]);
		if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0 || (getuid() == 0 && setuid(65534) != 0))
			_exit(3);
		log_setup(LOG_INFO, LOG_TEXT);
		uint8_t *a = crypto_secure_alloc(64), *b = crypto_secure_alloc(64);
		memcpy(a, "SECRETSECRET", 12);
		crypto_secure_free(a);
		crypto_secure_free(b);
		_exit(a && b ? 0 : 4);
	}
	close(fds[1]);
	char out[4096];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(out) - 1 && (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	const char *w = strstr(out, "mlock (RLIMIT_MEMLOCK too low?) failed (");
	CHECK(w != NULL);
	/* the reason is errno's text (ENOMEM or EPERM), and the line appears once */
	CHECK(strstr(out, "Cannot allocate memory") || strstr(out, "Operation not permitted"));
	CHECK(w && strstr(w + 1, "mlock (RLIMIT_MEMLOCK") == NULL);
	CHECK(strstr(out, "SECRET") == NULL);
}

int main(void)
{
	setup();
	RUN(test_known_answers);
	RUN(test_blind_index_is_hmac);
	RUN(test_every_byte_flip_rejected);
	RUN(test_wrong_column_and_key);
	RUN(test_sizes);
	RUN(test_helpers);
	RUN(test_secmem_mlock_failure_logged);
	return t_summary("crypto");
}
