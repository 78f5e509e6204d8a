/* bench_crypto.c - records/s of pgseal's record encrypt/decrypt/blind index vs raw OpenSSL EVP AES-256-GCM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "crypto/crypto.h"

#define ROUNDS 15
#define SLICE_NS 20000000ull /* each measurement runs ~20 ms of CPU time */

static uint64_t now_ns(void)
{
	struct timespec ts;
	/* thread CPU time: time spent descheduled on a shared machine does not count */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum op { RAW_ENC, RAW_DEC, REC_ENC, REC_ENC_S, REC_DEC, BLIND, NOPS };
static const char *op_names[] = {"raw EVP encrypt", "raw EVP decrypt", "record encrypt",
				 "record encrypt+blind", "record decrypt", "blind index"};

static EVP_CIPHER_CTX *raw_e, *raw_d;
static struct crypto_column_key *ck;
static uint8_t pt[1024], ct[2048], out[2048], rec[2048], rec_s[2048], raw_ct[1024 + 16];
static size_t rec_len, rec_s_len;
static volatile uint8_t sink;

static uint8_t dec_iv[12]; /* the IV of the raw decrypt fixture */

static int one(enum op o, size_t n)
{
	static uint8_t iv[12];
	int l;
	size_t ol;
	uint8_t bi[32];
	switch (o) {
	case RAW_ENC: /* key schedule done once, like the record path; fresh IV per call */
		iv[0]++;
		if (EVP_EncryptInit_ex(raw_e, NULL, NULL, NULL, iv) != 1 ||
		    EVP_EncryptUpdate(raw_e, ct, &l, pt, (int)n) != 1 ||
		    EVP_EncryptFinal_ex(raw_e, ct + n, &l) != 1 ||
		    EVP_CIPHER_CTX_ctrl(raw_e, EVP_CTRL_GCM_GET_TAG, 16, ct + n) != 1)
			return -1;
		sink ^= ct[0];
		return 0;
	case RAW_DEC:
		if (EVP_DecryptInit_ex(raw_d, NULL, NULL, NULL, dec_iv) != 1 ||
		    EVP_DecryptUpdate(raw_d, out, &l, raw_ct, (int)n) != 1 ||
		    EVP_CIPHER_CTX_ctrl(raw_d, EVP_CTRL_GCM_SET_TAG, 16, raw_ct + n) != 1 ||
		    EVP_DecryptFinal_ex(raw_d, out + n, &l) != 1)
			return -1;
		sink ^= out[0];
		return 0;
	case REC_ENC:
		if (crypto_record_encrypt(ck, false, pt, n, out, sizeof(out), &ol) != PGS_OK)
			return -1;
		sink ^= out[ol - 1];
		return 0;
	case REC_ENC_S:
		if (crypto_record_encrypt(ck, true, pt, n, out, sizeof(out), &ol) != PGS_OK)
			return -1;
		sink ^= out[ol - 1];
		return 0;
	case REC_DEC:
		if (crypto_record_decrypt(ck, rec, rec_len, out, sizeof(out), &ol) != PGS_OK)
			return -1;
		sink ^= out[0];
		return 0;
	case BLIND:
		if (crypto_blind_index(ck, pt, n, bi) != PGS_OK)
			return -1;
		sink ^= bi[0];
		return 0;
	default:
		return -1;
	}
}

/* records per second for one op, measured over one time slice */
static double measure(enum op o, size_t n)
{
	uint64_t t0 = now_ns(), t, count = 0;
	do {
		for (int i = 0; i < 256; i++)
			if (one(o, n) != 0) {
				fprintf(stderr, "bench: %s failed\n", op_names[o]);
				exit(1);
			}
		count += 256;
		t = now_ns();
	} while (t - t0 < SLICE_NS);
	return (double)count * 1e9 / (double)(t - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(double), cmp);
	return v[ROUNDS / 2];
}

int main(void)
{
	static const size_t sizes[] = {16, 64, 256, 1024};
	uint8_t key[32], skey[32];
	int l;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i, skey[i] = (uint8_t)(i + 32);
	memset(pt, 'a', sizeof(pt));
	raw_e = EVP_CIPHER_CTX_new();
	raw_d = EVP_CIPHER_CTX_new();
	if (EVP_EncryptInit_ex(raw_e, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(raw_d, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
	    crypto_column_key_new(key, skey, 1, "users", "email", &ck) != PGS_OK)
		return 1;

	printf("pgseal crypto benchmark: %d interleaved rounds of ~%llu ms CPU time per op and size;\n"
	       "medians of records/s and of the per-round ratios (thread CPU time)\n",
	       ROUNDS, SLICE_NS / 1000000);
	printf("raw    = OpenSSL EVP AES-256-GCM, key schedule once, IV set per call, no AAD\n");
	printf("record = DESIGN.md section 5 record (crypto_record_*): random nonce, AAD, header\n");
	printf("ratio  = record / raw on the same size (goal >= 0.80); blind index goal <= 1000 ns at 64 B\n\n");
	printf("%6s  %-22s %13s %13s %7s %9s\n", "bytes", "operation", "records/s", "raw rec/s",
	       "ratio", "ns/record");
	for (size_t si = 0; si < PGS_ARRAY_LEN(sizes); si++) {
		size_t n = sizes[si];
		double r[NOPS][ROUNDS];
		/* fixtures for the decrypt paths */
		if (crypto_record_encrypt(ck, false, pt, n, rec, sizeof(rec), &rec_len) != PGS_OK ||
		    crypto_record_encrypt(ck, true, pt, n, rec_s, sizeof(rec_s), &rec_s_len) != PGS_OK ||
		    EVP_EncryptInit_ex(raw_e, NULL, NULL, NULL, dec_iv) != 1 ||
		    EVP_EncryptUpdate(raw_e, raw_ct, &l, pt, (int)n) != 1 ||
		    EVP_EncryptFinal_ex(raw_e, raw_ct + n, &l) != 1 ||
		    EVP_CIPHER_CTX_ctrl(raw_e, EVP_CTRL_GCM_GET_TAG, 16, raw_ct + n) != 1)
			return 1;
		double ratio[3][ROUNDS];
		for (int round = 0; round < ROUNDS; round++) { /* A B A B ..., order flipped each round */
			for (int j = 0; j < NOPS; j++) {
				int o = round % 2 ? NOPS - 1 - j : j;
				r[o][round] = measure((enum op)o, n);
			}
			ratio[0][round] = r[REC_ENC][round] / r[RAW_ENC][round];
			ratio[1][round] = r[REC_ENC_S][round] / r[RAW_ENC][round];
			ratio[2][round] = r[REC_DEC][round] / r[RAW_DEC][round];
		}
		double m[NOPS], q[3];
		for (int o = 0; o < NOPS; o++)
			m[o] = median(r[o]);
		for (int i = 0; i < 3; i++)
			q[i] = median(ratio[i]);
		printf("%6zu  %-22s %13.0f %13s %7s %9.0f\n", n, op_names[RAW_ENC], m[RAW_ENC], "", "",
		       1e9 / m[RAW_ENC]);
		printf("%6zu  %-22s %13.0f %13.0f %6.2fx %9.0f\n", n, op_names[REC_ENC], m[REC_ENC],
		       m[RAW_ENC], q[0], 1e9 / m[REC_ENC]);
		printf("%6zu  %-22s %13.0f %13.0f %6.2fx %9.0f\n", n, op_names[REC_ENC_S], m[REC_ENC_S],
		       m[RAW_ENC], q[1], 1e9 / m[REC_ENC_S]);
		printf("%6zu  %-22s %13.0f %13s %7s %9.0f\n", n, op_names[RAW_DEC], m[RAW_DEC], "", "",
		       1e9 / m[RAW_DEC]);
		printf("%6zu  %-22s %13.0f %13.0f %6.2fx %9.0f\n", n, op_names[REC_DEC], m[REC_DEC],
		       m[RAW_DEC], q[2], 1e9 / m[REC_DEC]);
		printf("%6zu  %-22s %13.0f %13s %7s %9.0f\n", n, op_names[BLIND], m[BLIND], "", "",
		       1e9 / m[BLIND]);
	}
	crypto_column_key_free(ck);
	EVP_CIPHER_CTX_free(raw_e);
	EVP_CIPHER_CTX_free(raw_d);
	return (int)(sink & 0);
}
