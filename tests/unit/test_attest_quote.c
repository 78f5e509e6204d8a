/* test_attest_quote.c - quote parser and DCAP verifier: vectors, validity windows, byte flips,
 * truncation, bad lengths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "crypto/crypto.h"
#include "testlib.h"

#define AT_OK 1751000000 /* inside tdx_quote_collateral.json's windows */
#define AT_OUTDATED 1772000000

static char tdir[512];

static void find_testdata(void)
{
	const char *env = getenv("PGSEAL_TESTDATA");
	const char *cands[] = {env, "../shared/testdata/tdx", "../../shared/testdata/tdx",
	                       "/work/shared/testdata/tdx"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[600];
		if (!cands[i])
			continue;
		snprintf(p, sizeof(p), "%s/tdx_quote.bin", cands[i]);
		FILE *f = fopen(p, "rb");
		if (f) {
			fclose(f);
			snprintf(tdir, sizeof(tdir), "%s", cands[i]);
			return;
		}
	}
	fprintf(stderr, "test data not found (set PGSEAL_TESTDATA)\n");
	exit(1);
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", tdir, name);
	FILE *f = fopen(p, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", p);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	b[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return b;
}

static struct attest_collateral *load_coll(const char *name)
{
	size_t n;
	char err[256];
	uint8_t *j = slurp(name, &n);
	struct attest_collateral *c = NULL;
	if (attest_collateral_parse((const char *)j, n, &c, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "collateral %s: %s\n", name, err);
		exit(1);
	}
	free(j);
	return c;
}

/* Verifies and returns whether trusted; *check gets the failed check name. */
static bool verify(const uint8_t *q, size_t n, const struct attest_collateral *c, int64_t at,
                   const char **check, struct attest_result *out)
{
	struct attest_opts o = {.now = at};
	struct attest_result r;
	char err[256];
	if (attest_verify_quote(q, n, c, &o, &r, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "verify could not run: %s\n", err);
		return false;
	}
	if (check)
		*check = r.failed_check;
	if (out)
		*out = r;
	return r.trusted;
}

static const char *s_or(const char *s)
{
	return s ? s : "(none)";
}

static void test_vectors(void)
{
	size_t n, n2;
	uint8_t *q = slurp("tdx_quote.bin", &n), *q2 = slurp("tdx_quote_outdated.bin", &n2);
	struct attest_collateral *c = load_coll("tdx_quote_collateral.json");
	struct attest_collateral *c2 = load_coll("tdx_quote_outdated_collateral.json");
	struct attest_result r;
	const char *chk;

	CHECK(verify(q, n, c, AT_OK, &chk, &r));
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_UP_TO_DATE);
	CHECK_EQ_INT(r.quote.version, 4);
	CHECK_EQ_INT(r.quote.parsed_len, n - 70); /* 70 bytes of padding, ignored */
	CHECK_EQ_INT(r.qe_status, ATTEST_TCB_UP_TO_DATE);
	CHECK_EQ_INT(r.module_status, ATTEST_TCB_UP_TO_DATE);
	char h[13];
	pgs_hex(r.fmspc, 6, h);
	CHECK(!strcmp(h, "b0c06f000000"));

	/* the v5 quote: no TCB level of its own collateral matches */
	CHECK(!verify(q2, n2, c2, AT_OUTDATED, &chk, &r));
	CHECK_STR(s_or(chk), "tcb_level");
	CHECK_EQ_INT(r.quote.version, 5);
	CHECK(r.quote_parsed);
	/* another platform's collateral: FMSPC differs (or the windows do) */
	CHECK(!verify(q2, n2, c, AT_OK, &chk, NULL));
	CHECK(!verify(q, n, c2, AT_OUTDATED, &chk, NULL));

	/* times before, inside (edges) and after the TCB Info / QE Identity windows */
	CHECK(!verify(q, n, c, 1750000000, &chk, NULL));
	CHECK_STR(s_or(chk), "tcb_info_window");
	CHECK(!verify(q, n, c, 1760000000, &chk, NULL));
	CHECK_STR(s_or(chk), "tcb_info_window");
	CHECK(!verify(q, n, c, 1750328163 - 1, &chk, NULL)); /* TCB Info issueDate - 1 */
	CHECK(!verify(q, n, c, 1750329147 - 1, &chk, NULL)); /* QE Identity issue - 1 */
	CHECK_STR(s_or(chk), "qe_identity_window");
	CHECK(verify(q, n, c, 1750329147, &chk, NULL));        /* both issued */
	CHECK(verify(q, n, c, 1752920163 - 3700, &chk, NULL)); /* before the PCK CRL expires */
	CHECK(!verify(q, n, c, 1752920163 + 1, &chk, NULL));
	CHECK(!verify(q, n, c, 2000000000, &chk, NULL));

	/* without collateral: signatures hold, but no TCB status -> not trusted */
	CHECK(!verify(q, n, NULL, AT_OK, &chk, &r));
	CHECK_STR(s_or(chk), "collateral");
	CHECK(r.pck_parsed);

	/* a stricter minimum is honoured; a wrong root refuses everything */
	struct attest_opts o = {.now = AT_OK};
	char err[256];
	size_t rn;
	uint8_t *root = slurp("intel_sgx_root_ca.der", &rn);
	o.root_ca_der = root;
	o.root_ca_len = rn;
	CHECK(attest_verify_quote(q, n, c, &o, &r, err, sizeof(err)) == PGS_OK && r.trusted);
	/* the TCB signing certificate as the "root": nothing chains to it */
	size_t cn;
	uint8_t *cj = slurp("tdx_quote_collateral.json", &cn), *other = NULL;
	json_t *cjs = json_loadb((char *)cj, cn, 0, NULL);
	const char *pem = json_string_value(json_object_get(cjs, "tcb_info_issuer_chain"));
	size_t on = 0;
	CHECK(attest_root_ca_load((const uint8_t *)pem, strlen(pem), &other, &on, err,
	                          sizeof(err)) == PGS_OK);
	o.root_ca_der = other;
	o.root_ca_len = on;
	CHECK(attest_verify_quote(q, n, c, &o, &r, err, sizeof(err)) == PGS_OK && !r.trusted);
	o.root_ca_len = 10;
	CHECK(attest_verify_quote(q, n, c, &o, &r, err, sizeof(err)) == PGS_ERR);
	CHECK(attest_root_ca_load((const uint8_t *)"-----BEGIN CERTIFICATE-----\nAAAA\n", 33,
	                          &other, &on, err, sizeof(err)) == PGS_ERR ||
	      (free(other), 0));
	json_decref(cjs);
	free(cj);
	free(other);
	free(root);

	free(q);
	free(q2);
	attest_collateral_free(c);
	attest_collateral_free(c2);
}

/* Every single-byte flip of the signed header+body, the signature, the attestation key,
 * the QE report and its signature must make the quote untrusted. */
static void test_flips(void)
{
	size_t n;
	uint8_t *q = slurp("tdx_quote.bin", &n);
	struct attest_collateral *c = load_coll("tdx_quote_collateral.json");
	struct attest_quote pq;
	char err[256];
	CHECK(attest_quote_parse(q, n, &pq, err, sizeof(err)) == PGS_OK);
	size_t sig_off = (size_t)(pq.signature - q), qe_off = (size_t)(pq.qe_report - q);
	size_t regions[][2] = {
	    {0, pq.signed_len},                            /* header + TD report: 0..632 */
	    {sig_off, sig_off + 128},                      /* signature + attestation key */
	    {qe_off, qe_off + 384 + 64},                   /* QE report + its signature */
	    {qe_off + 448, qe_off + 450 + pq.qe_auth_len}, /* QE auth data and its length */
	};
	/* Without collateral an intact quote fails exactly at "collateral" (every signature
	 * held); a flipped one must fail at an earlier check. Every 5th flip also runs the
	 * full verification with collateral. */
	int flips = 0, missed = 0, trusted = 0;
	const char *chk;
	for (size_t r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
		for (size_t off = regions[r][0]; off < regions[r][1]; off++) {
			q[off] ^= 0x01;
			verify(q, n, NULL, AT_OK, &chk, NULL);
			if (!chk || !strcmp(chk, "collateral")) {
				missed++;
				fprintf(stderr, "flip at %zu passes every signature check\n", off);
			}
			if (flips % 5 == 0 && verify(q, n, c, AT_OK, NULL, NULL)) {
				trusted++;
				fprintf(stderr, "flip at %zu stays trusted\n", off);
			}
			q[off] ^= 0x01;
			flips++;
		}
	}
	CHECK_EQ_INT(missed, 0);
	CHECK_EQ_INT(trusted, 0);
	CHECK(flips > 1200);
	/* a sample of the PCK leaf and PCK CA certificates (the chain's copy of the root is
	 * never trusted: the pinned root is) */
	size_t pem = (size_t)(pq.pck_chain - q);
	const char *end1 = memmem(pq.pck_chain, pq.pck_chain_len, "-----END", 8);
	const char *end2 =
	    end1 ? memmem(end1 + 8,
	                  pq.pck_chain_len - (size_t)((const uint8_t *)end1 + 8 - pq.pck_chain),
	                  "-----END", 8)
	         : NULL;
	CHECK(end2 != NULL);
	size_t stop = end2 ? (size_t)((const uint8_t *)end2 - q) : pem;
	for (size_t off = pem + 28; off < stop; off += 41) {
		if (q[off] == '\n' || q[off] == '-')
			continue;
		q[off] ^= 0x01;
		verify(q, n, NULL, AT_OK, &chk, NULL);
		if (!chk || !strcmp(chk, "collateral"))
			fprintf(stderr, "PEM flip at %zu (%zu into the chain) unnoticed\n", off,
			        off - pem);
		CHECK(chk && strcmp(chk, "collateral"));
		q[off] ^= 0x01;
	}
	CHECK(verify(q, n, c, AT_OK, NULL, NULL)); /* restored */
	free(q);
	attest_collateral_free(c);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void test_truncation_and_lengths(void)
{
	size_t n;
	uint8_t *q = slurp("tdx_quote.bin", &n);
	struct attest_quote pq;
	char err[256];
	const char *chk;
	struct attest_collateral *c = load_coll("tdx_quote_collateral.json");

	CHECK(attest_quote_parse(q, n, &pq, err, sizeof(err)) == PGS_OK);
	size_t parsed = pq.parsed_len;
	int bad = 0;
	for (size_t len = 0; len < parsed; len++)
		if (attest_quote_parse(q, len, &pq, err, sizeof(err)) == PGS_OK)
			bad++;
	CHECK_EQ_INT(bad, 0);
	CHECK(!verify(q, 47, c, AT_OK, &chk, NULL));
	CHECK_STR(s_or(chk), "quote_format");
	CHECK(!verify(q, 0, c, AT_OK, &chk, NULL));

	/* oversized: refused before parsing */
	uint8_t *big = calloc(1, ATTEST_QUOTE_MAX + 1);
	memcpy(big, q, n);
	CHECK(attest_quote_parse(big, ATTEST_QUOTE_MAX + 1, &pq, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "limit") != NULL);
	/* ...but trailing padding within the limit is ignored */
	CHECK(verify(big, n + 4096, c, AT_OK, NULL, NULL));
	free(big);

	/* length fields pointing past the end */
	uint8_t *m = malloc(n);
	size_t sig_len_off = 632, cert_size_off = 632 + 4 + 128 + 2;
	size_t auth_len_off = cert_size_off + 4 + 384 + 64;
	uint32_t vals[] = {0xffffffffu, 0x7fffffffu, (uint32_t)n, (uint32_t)(n - 632)};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		memcpy(m, q, n);
		put_u32(m + sig_len_off, vals[i]);
		CHECK(attest_quote_parse(m, n, &pq, err, sizeof(err)) == PGS_ERR);
		memcpy(m, q, n);
		put_u32(m + cert_size_off, vals[i]);
		CHECK(attest_quote_parse(m, n, &pq, err, sizeof(err)) == PGS_ERR);
	}
	memcpy(m, q, n);
	m[auth_len_off] = 0xff;
	m[auth_len_off + 1] = 0xff;
	CHECK(attest_quote_parse(m, n, &pq, err, sizeof(err)) == PGS_ERR);
	/* PCK chain size beyond its certification data */
	memcpy(m, q, n);
	size_t pck_size_off = auth_len_off + 2 + 32 + 2;
	put_u32(m + pck_size_off, 0xfffffff0u);
	CHECK(attest_quote_parse(m, n, &pq, err, sizeof(err)) == PGS_ERR);
	/* wrong certification data types */
	memcpy(m, q, n);
	m[632 + 4 + 128] = 5;
	CHECK(attest_quote_parse(m, n, &pq, err, sizeof(err)) == PGS_ERR);
	memcpy(m, q, n);
	m[pck_size_off - 2] = 4;
	CHECK(attest_quote_parse(m, n, &pq, err, sizeof(err)) == PGS_ERR);
	/* version, key type, TEE type */
	memcpy(m, q, n);
	m[0] = 3;
	CHECK(!verify(m, n, c, AT_OK, &chk, NULL));
	CHECK_STR(s_or(chk), "quote_format");
	memcpy(m, q, n);
	m[2] = 3;
	CHECK(!verify(m, n, c, AT_OK, &chk, NULL));
	CHECK_STR(s_or(chk), "quote_header");
	memcpy(m, q, n);
	m[4] = 0;
	CHECK(!verify(m, n, c, AT_OK, &chk, NULL));
	/* debug TD refused before any signature matters */
	memcpy(m, q, n);
	m[48 + 120] |= 1;
	CHECK(!verify(m, n, c, AT_OK, &chk, NULL));
	CHECK_STR(s_or(chk), "td_attributes");
	free(m);

	/* v5: body size must match the body type */
	size_t n5;
	uint8_t *q5 = slurp("tdx_quote_outdated.bin", &n5);
	CHECK(attest_quote_parse(q5, n5, &pq, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(pq.body_type, 3); /* TD 1.5 */
	CHECK(pq.td.is_td15);
	CHECK_EQ_INT(pq.signed_len, 48 + 6 + 648);
	q5[48] = 2; /* TD 1.0 type with a 648-byte size */
	CHECK(attest_quote_parse(q5, n5, &pq, err, sizeof(err)) == PGS_ERR);
	q5[48] = 9;
	CHECK(attest_quote_parse(q5, n5, &pq, err, sizeof(err)) == PGS_ERR);
	free(q5);
	free(q);
	attest_collateral_free(c);
}

static void test_decode_file(void)
{
	size_t n, outn;
	uint8_t *q = slurp("tdx_quote.bin", &n), *out = NULL;
	char err[256];
	char *hex = malloc(2 * n + 16);
	pgs_hex(q, n, hex);

	CHECK(attest_quote_decode_file(q, n, &out, &outn, err, sizeof(err)) == PGS_OK);
	CHECK(outn == n && !memcmp(out, q, n));
	free(out);
	CHECK(attest_quote_decode_file((uint8_t *)hex, strlen(hex), &out, &outn, err,
	                               sizeof(err)) == PGS_OK);
	CHECK(outn == n && !memcmp(out, q, n));
	free(out);
	char *wrapped = malloc(2 * n + 64);
	snprintf(wrapped, 2 * n + 64, "  0x%s\n\n", hex);
	wrapped[100] = '\n'; /* whitespace inside is allowed */
	memmove(wrapped + 101, wrapped + 100, strlen(wrapped + 100) + 1);
	wrapped[100] = hex[100 - 4];
	CHECK(attest_quote_decode_file((uint8_t *)wrapped, strlen(wrapped), &out, &outn, err,
	                               sizeof(err)) == PGS_OK);
	free(out);
	/* odd digit count, bad characters, empty */
	CHECK(attest_quote_decode_file((const uint8_t *)"abc", 3, &out, &outn, err, sizeof(err)) ==
	      PGS_ERR);
	CHECK(attest_quote_decode_file((const uint8_t *)"04zz", 4, &out, &outn, err, sizeof(err)) ==
	      PGS_ERR);
	CHECK(attest_quote_decode_file((const uint8_t *)"   ", 3, &out, &outn, err, sizeof(err)) ==
	      PGS_ERR);
	/* JSON with a "quote" member (dstack GetQuote answer) */
	size_t jn;
	uint8_t *j = slurp("dstack_quote_report.json", &jn);
	CHECK(attest_quote_decode_file(j, jn, &out, &outn, err, sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(outn, 5006);
	free(out);
	CHECK(attest_quote_decode_file((const uint8_t *)"{\"x\":1}", 7, &out, &outn, err,
	                               sizeof(err)) == PGS_ERR);
	CHECK(attest_quote_decode_file((const uint8_t *)"{\"quote\":", 9, &out, &outn, err,
	                               sizeof(err)) == PGS_ERR);
	free(j);
	free(wrapped);
	free(hex);
	free(q);
}

static void test_collateral_tamper(void)
{
	size_t n, cn;
	uint8_t *q = slurp("tdx_quote.bin", &n);
	uint8_t *cj = slurp("tdx_quote_collateral.json", &cn);
	struct attest_collateral *c;
	char err[256];
	const char *chk;
	json_t *root = json_loadb((char *)cj, cn, 0, NULL);
	char *s;

	/* a changed TCB status inside the signed TCB Info */
	json_t *m = json_deep_copy(root);
	char *ti = strdup(json_string_value(json_object_get(m, "tcb_info")));
	char *p = strstr(ti, "\"UpToDate\"");
	memcpy(p, "\"OutOfDat\"", 10);
	json_object_set_new(m, "tcb_info", json_string(ti));
	s = json_dumps(m, 0);
	CHECK(attest_collateral_parse(s, strlen(s), &c, err, sizeof(err)) == PGS_OK);
	CHECK(!verify(q, n, c, AT_OK, &chk, NULL));
	CHECK_STR(s_or(chk), "tcb_info_signature");
	attest_collateral_free(c);
	free(s);
	free(ti);
	json_decref(m);

	/* a flipped QE identity signature */
	m = json_deep_copy(root);
	char *sig = strdup(json_string_value(json_object_get(m, "qe_identity_signature")));
	sig[10] = sig[10] == '0' ? '1' : '0';
	json_object_set_new(m, "qe_identity_signature", json_string(sig));
	s = json_dumps(m, 0);
	CHECK(attest_collateral_parse(s, strlen(s), &c, err, sizeof(err)) == PGS_OK);
	CHECK(!verify(q, n, c, AT_OK, &chk, NULL));
	CHECK_STR(s_or(chk), "qe_identity_signature");
	attest_collateral_free(c);
	free(s);
	free(sig);
	json_decref(m);

	/* missing fields and garbage are parse errors */
	m = json_deep_copy(root);
	json_object_del(m, "pck_crl");
	s = json_dumps(m, 0);
	CHECK(attest_collateral_parse(s, strlen(s), &c, err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "pck_crl") != NULL);
	free(s);
	json_decref(m);
	CHECK(attest_collateral_parse("[]", 2, &c, err, sizeof(err)) == PGS_ERR);
	CHECK(attest_collateral_parse("{", 1, &c, err, sizeof(err)) == PGS_ERR);

	/* the PCK CRL swapped for the root CRL: wrong issuer -> refused */
	m = json_deep_copy(root);
	json_object_set(m, "pck_crl", json_object_get(root, "root_ca_crl"));
	s = json_dumps(m, 0);
	CHECK(attest_collateral_parse(s, strlen(s), &c, err, sizeof(err)) == PGS_OK);
	CHECK(!verify(q, n, c, AT_OK, &chk, NULL));
	attest_collateral_free(c);
	free(s);
	json_decref(m);

	json_decref(root);
	free(cj);
	free(q);
}

static void test_time_parse(void)
{
	int64_t t;
	CHECK(attest_tcb_status_parse("Revoked", &(enum attest_tcb_status){0}) == PGS_OK);
	CHECK(attest_tcb_status_parse("Fine", &(enum attest_tcb_status){0}) == PGS_ERR);
	CHECK_STR(attest_tcb_status_name(ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED),
	          "OutOfDateConfigurationNeeded");
	(void)t;
}

int main(void)
{
	find_testdata();
	RUN(test_vectors);
	RUN(test_flips);
	RUN(test_truncation_and_lengths);
	RUN(test_decode_file);
	RUN(test_collateral_tamper);
	RUN(test_time_parse);
	return t_summary("test_attest_quote");
}
