/* test_keys_shamir.c - GF(2^256) Shamir split/combine, share lines, and byte-exact compatibility
 * with Debian's ssss (shares of ssss-split -x combined here, ours combined by ssss-combine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "keys/keys_escrow.h"
#include "testlib.h"

/* `echo -n <secret_hex> | ssss-split -x -t 2 -n 3 -q` (diffusion on, ssss 0.5-5) */
static const char *kat[3] = {"1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
                             "2-9fa4b7bab1cbd7a5739d8cee278d23edd8efe71cb91cf102087c7092442a86b5",
                             "3-c43626e3023464976c4f06c09ebf55b55b1b7670564f67cb53611d2947012e81"};
/* the same secret with -D (no diffusion): checks the field arithmetic alone */
static const char *kat_nodiff[3] = {
    "1-531889ce259f69b7f352b3f4b994629a2e35023ba570d0b8602f1f0f65b4d1a5",
    "2-a63215994731d966febe79f4673fd7256c59324276de9b49e8751033ef4e816d",
    "3-f52b9e5466abb6d605e5c00bd2a6bbb0527d226ac7bb5de69043152796e74ed7"};

static void secret_bytes(uint8_t out[32])
{
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)i;
}

static int parse(const char *line, struct keys_share *s)
{
	char err[256];
	return keys_share_parse(line, strlen(line), s, err, sizeof(err));
}

static void test_known_answer(void)
{
	uint8_t want[32], got[32];
	char err[256];
	struct keys_share *s = crypto_secure_alloc(3 * sizeof(*s));
	secret_bytes(want);
	for (int i = 0; i < 3; i++)
		CHECK(parse(kat[i], &s[i]) == PGS_OK);
	/* every pair, in both orders */
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			if (a == b)
				continue;
			struct keys_share two[2] = {s[a], s[b]};
			memset(got, 0, 32);
			CHECK(keys_shamir_combine(two, 2, got, err, sizeof(err)) == PGS_OK);
			CHECK(memcmp(got, want, 32) == 0);
		}
	/* the field alone: combining -D shares then re-diffusing gives the secret back */
	for (int i = 0; i < 3; i++)
		CHECK(parse(kat_nodiff[i], &s[i]) == PGS_OK);
	CHECK(keys_shamir_combine(s + 1, 2, got, err, sizeof(err)) == PGS_OK);
	keys_shamir_diffuse(got, false);
	CHECK(memcmp(got, want, 32) == 0);
	/* the diffusion layer is a permutation */
	memcpy(got, want, 32);
	keys_shamir_diffuse(got, false);
	CHECK(memcmp(got, want, 32) != 0);
	keys_shamir_diffuse(got, true);
	CHECK(memcmp(got, want, 32) == 0);
	crypto_secure_free(s);
}

static void test_roundtrip(void)
{
	uint8_t sec[32], got[32];
	char err[256], line[KEYS_SHARE_LINE_MAX];
	struct keys_share *s = crypto_secure_alloc(255 * sizeof(*s));
	struct keys_share *pick = crypto_secure_alloc(255 * sizeof(*s));
	static const unsigned ks[][2] = {{2, 2},  {2, 3},   {3, 5},    {5, 5},
	                                 {7, 12}, {2, 255}, {255, 255}};
	for (size_t c = 0; c < sizeof(ks) / sizeof(ks[0]); c++) {
		unsigned k = ks[c][0], n = ks[c][1];
		CHECK(crypto_random(sec, 32) == PGS_OK);
		CHECK(keys_shamir_split(sec, k, n, s, err, sizeof(err)) == PGS_OK);
		/* the last k shares, reversed, through their text form */
		for (unsigned i = 0; i < k; i++) {
			keys_share_format(&s[n - 1 - i], n, line);
			CHECK(strlen(line) == (n >= 100 ? 3u : n >= 10 ? 2u : 1u) + 65u);
			CHECK(parse(line, &pick[i]) == PGS_OK);
		}
		CHECK(keys_shamir_combine(pick, k, got, err, sizeof(err)) == PGS_OK);
		CHECK(memcmp(got, sec, 32) == 0);
		/* k - 1 shares (combined as if the threshold were k - 1) give something else */
		if (k > 2) {
			CHECK(keys_shamir_combine(pick, k - 1, got, err, sizeof(err)) == PGS_OK);
			CHECK(memcmp(got, sec, 32) != 0);
		}
	}
	crypto_secure_free(s);
	crypto_secure_free(pick);
}

static void test_negative(void)
{
	uint8_t sec[32] = {1}, got[32];
	char err[256];
	struct keys_share *s = crypto_secure_alloc(4 * sizeof(*s));
	CHECK(keys_shamir_split(sec, 4, 3, s, err, sizeof(err)) == PGS_ERR); /* K > N */
	CHECK(strstr(err, "threshold") != NULL);
	CHECK(keys_shamir_split(sec, 1, 3, s, err, sizeof(err)) == PGS_ERR); /* K < 2 */
	CHECK(keys_shamir_split(sec, 0, 3, s, err, sizeof(err)) == PGS_ERR);
	CHECK(keys_shamir_split(sec, 2, 256, s, err, sizeof(err)) == PGS_ERR);
	CHECK(keys_shamir_split(sec, 2, 3, s, err, sizeof(err)) == PGS_OK);
	CHECK(keys_shamir_combine(s, 1, got, err, sizeof(err)) == PGS_ERR);
	s[1].index = s[0].index; /* duplicate index */
	CHECK(keys_shamir_combine(s, 2, got, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "twice") != NULL);
	s[1].index = 0;
	CHECK(keys_shamir_combine(s, 2, got, err, sizeof(err)) == PGS_ERR);
	s[1].index = 256;
	CHECK(keys_shamir_combine(s, 2, got, err, sizeof(err)) == PGS_ERR);

	/* malformed lines: none may parse, and the error never echoes the share */
	static const char *bad[] = {
	    "",
	    "\n",
	    "1",
	    "1-",
	    "-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "0-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "256-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "0001-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567ee",   /* short */
	    "1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef0", /* long */
	    "1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eeg",
	    "1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567ee ",
	    " 1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "tok-1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "1-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef\n\n",
	    "1:7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	    "1-:313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(keys_share_parse(bad[i], strlen(bad[i]), &s[0], err, sizeof(err)) == PGS_ERR);
		CHECK(err[0] != '\0' && strstr(err, "7313045065") == NULL);
	}
	/* accepted: trailing newline, CRLF, upper case hex, zero-padded index */
	CHECK(parse("1-7313045065CB02F353EA129DECDBB9045CF254A988E84A59E55BC65F41567EEF\r\n",
	            &s[0]) == PGS_OK);
	CHECK(parse("001-7313045065cb02f353ea129decdbb9045cf254a988e84a59e55bc65f41567eef\n",
	            &s[1]) == PGS_OK);
	CHECK(s[1].index == 1 && memcmp(s[0].y, s[1].y, 32) == 0);
	crypto_secure_free(s);
}

/* ---- the real ssss binaries, both ways ---- */

static int run(const char *cmd, const char *in, char *out, size_t cap)
{
	char path[] = "/tmp/pgseal-ssss-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, in, strlen(in)) != (ssize_t)strlen(in)) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	char full[512];
	snprintf(full, sizeof(full), "%s < %s", cmd, path);
	FILE *p = popen(full, "r");
	size_t n = p ? fread(out, 1, cap - 1, p) : 0;
	out[n] = '\0';
	int st = p ? pclose(p) : -1;
	unlink(path);
	return st;
}

static void test_ssss_interop(void)
{
	if (system("command -v ssss-split >/dev/null && command -v ssss-combine >/dev/null") != 0) {
		fprintf(stderr, "ssss is not installed (scripts/install-deps.sh installs it)\n");
		CHECK(!"ssss-split/ssss-combine available");
		return;
	}
	char err[256], out[4096], in[4096], line[KEYS_SHARE_LINE_MAX], hex[65];
	uint8_t sec[32], got[32];
	struct keys_share *s = crypto_secure_alloc(12 * sizeof(*s));
	for (int round = 0; round < 4; round++) {
		/* N >= 10: both sides write and read the zero-padded index ("01-...") */
		unsigned k = round % 2 ? 3 : 2, n = round < 2 ? 5 : 12;
		CHECK(crypto_random(sec, 32) == PGS_OK);
		pgs_hex(sec, 32, hex);
		/* theirs -> ours */
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "ssss-split -x -q -t %u -n %u 2>/dev/null", k, n);
		CHECK(run(cmd, hex, out, sizeof(out)) == 0);
		char *save = NULL, *tok = strtok_r(out, "\n", &save);
		unsigned got_n = 0;
		for (; tok && got_n < n; tok = strtok_r(NULL, "\n", &save))
			CHECK(parse(tok, &s[got_n++]) == PGS_OK);
		CHECK(got_n == n);
		CHECK(keys_shamir_combine(s + (n - k), k, got, err, sizeof(err)) == PGS_OK);
		CHECK(memcmp(got, sec, 32) == 0);
		/* ours -> theirs (ssss-combine prints the secret on stderr) */
		CHECK(keys_shamir_split(sec, k, n, s, err, sizeof(err)) == PGS_OK);
		in[0] = '\0';
		for (unsigned i = 0; i < k; i++) {
			keys_share_format(&s[n - 1 - i], n, line);
			strcat(in, line);
			strcat(in, "\n");
		}
		snprintf(cmd, sizeof(cmd), "ssss-combine -x -Q -t %u 2>&1 >/dev/null", k);
		CHECK(run(cmd, in, out, sizeof(out)) == 0);
		out[strcspn(out, "\n")] = '\0';
		CHECK_STR(out, hex);
	}
	crypto_wipe(hex, sizeof(hex));
	crypto_secure_free(s);
}

int main(void)
{
	RUN(test_known_answer);
	RUN(test_roundtrip);
	RUN(test_negative);
	RUN(test_ssss_interop);
	return t_summary("test_keys_shamir");
}
