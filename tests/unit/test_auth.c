/* test_auth.c - unit tests for auth primitives: verifiers, keys, channel binding, RFC 7677. */
#include "auth/auth.h"
#include "auth/auth_int.h"
#include "testlib.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/* base64: tests/unit/test_common.c (the codec is common.h's) */

/* --- verifiers ------------------------------------------------------------------- */

/* Produced by PostgreSQL 15.x (password_encryption = scram-sha-256), read from
 * pg_authid.rolpassword after CREATE ROLE ... PASSWORD '<password>'. */
static const struct {
	const char *password, *verifier;
} pg15[] = {
    {"correct horse", "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
                      "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M="},
    {"p4ss,w=rd\"x",
     "SCRAM-SHA-256$4096:wXNBN59dUVMnD6I041G7og==$0jPpZ9IxK/"
     "GS0F6SCyY8qV2D44OeXx7oGmmZeTShVQE=:ZWBzmh3SI11yOVrY1tfcb+WzViZ4Dn/nOcYwkt2h/Ow="},
    {"pencil", "SCRAM-SHA-256$4096:jyGok3tITTo/WxEfTGF3xA==$G5+PzctlT6xJXdE18R8cmDnq7z65nu5I5Au/"
               "guca/lQ=:p2B5winhmPZ0dmW8kj0RFGJfSCCy5fyZ0P7wayzNMuM="},
};

static void test_verifier_pg15(void)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(pg15); i++) {
		struct auth_verifier v;
		uint8_t ck[32], sk[32], svk[32], h[32];
		CHECK_EQ_INT(auth_verifier_parse(pg15[i].verifier, &v), AUTH_OK);
		CHECK_EQ_INT(v.iterations, 4096);
		CHECK_EQ_INT(v.salt_len, 16);
		CHECK_EQ_INT(auth_scram_keys_from_password(pg15[i].password, v.salt, v.salt_len,
		                                           v.iterations, ck, sk, svk),
		             AUTH_OK);
		CHECK(memcmp(sk, v.stored_key, 32) == 0);
		CHECK(memcmp(svk, v.server_key, 32) == 0);
		CHECK_EQ_INT(auth_sha256(ck, 32, h), AUTH_OK);
		CHECK(memcmp(h, v.stored_key, 32) == 0);
		CHECK_EQ_INT(auth_scram_keys_from_password("wrong", v.salt, v.salt_len,
		                                           v.iterations, NULL, sk, NULL),
		             AUTH_OK);
		CHECK(memcmp(sk, v.stored_key, 32) != 0);
		auth_verifier_clear(&v);
		CHECK_EQ_INT(v.iterations, 0);
	}
}

static void test_verifier_negative(void)
{
	static const char *bad[] = {
	    "",
	    "md5a3556571e93b0d20722ba62be61e8c2d",
	    "correct horse",
	    "SCRAM-SHA-1$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$0:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$10000001:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$99999999999:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$-4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$4096:$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w=$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCU=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M= ",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=:x",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==",
	    "SCRAM-SHA-256$4096",
	    "SCRAM-SHA-256$",
	    "SCRAM-SHA-256$4096:p2bW "
	    "X9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	    "SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	    "DBq45SeO8LR3vE7OIG8vCUMAAAA=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	};
	struct auth_verifier v;
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		t_current = bad[i];
		CHECK_EQ_INT(auth_verifier_parse(bad[i], &v), AUTH_ERR_INVALID);
		CHECK_EQ_INT(v.iterations, 0);
	}
	t_current = "test_verifier_negative";
	CHECK_EQ_INT(auth_verifier_parse(NULL, &v), AUTH_ERR_INVALID);
	/* a 1,000,000-iteration verifier is fine (no PBKDF2 runs on the server side) */
	CHECK_EQ_INT(auth_verifier_parse(
	                 "SCRAM-SHA-256$1000000:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"
	                 "DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M=",
	                 &v),
	             AUTH_OK);
	CHECK_EQ_INT(v.iterations, 1000000);
}

static void test_keys_negative(void)
{
	uint8_t salt[16] = {1}, k[32];
	CHECK_EQ_INT(auth_scram_keys_from_password("p", salt, 16, 0, k, NULL, NULL),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(
	    auth_scram_keys_from_password("p", salt, 16, AUTH_ITERATIONS_MAX + 1, k, NULL, NULL),
	    AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_keys_from_password("p", salt, 0, 4096, k, NULL, NULL),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_keys_from_password("p\xc3\xa9", salt, 16, 4096, k, NULL, NULL),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_keys_from_password(NULL, salt, 16, 4096, k, NULL, NULL),
	             AUTH_ERR_INVALID);
}

/* --- RFC 7677 section 3 test vector ----------------------------------------------- */

#define RFC_CF "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SF                                                                                     \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CFIN                                                                                   \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"           \
	"Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SFIN "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_verifier(struct auth_verifier *v, uint8_t ck[32])
{
	size_t n = 0;
	memset(v, 0, sizeof(*v));
	CHECK_EQ_INT(pgs_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, v->salt, sizeof(v->salt), &n),
	             PGS_OK);
	v->salt_len = n;
	v->iterations = 4096;
	CHECK_EQ_INT(auth_scram_keys_from_password("pencil", v->salt, n, 4096, ck, v->stored_key,
	                                           v->server_key),
	             AUTH_OK);
}

static void test_rfc7677_server(void)
{
	struct auth_scram_server s;
	struct auth_verifier v;
	uint8_t ck[32], got[32], out[512];
	size_t n = 0;
	rfc_verifier(&v, ck);
	CHECK_EQ_INT(auth_scram_server_init(&s, &v, NULL, 0), AUTH_OK);
	CHECK_EQ_INT(auth_scram_server_set_test_nonce(&s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"),
	             AUTH_OK);
	CHECK_EQ_INT(auth_scram_server_mechanisms(&s, out, sizeof(out), &n), AUTH_OK);
	CHECK(n == sizeof("SCRAM-SHA-256") + 1 && memcmp(out, "SCRAM-SHA-256\0\0", n) == 0);
	CHECK_EQ_INT(auth_scram_server_first(&s, "SCRAM-SHA-256", (const uint8_t *)RFC_CF,
	                                     strlen(RFC_CF), out, sizeof(out), &n),
	             AUTH_OK);
	CHECK(n == strlen(RFC_SF) && memcmp(out, RFC_SF, n) == 0);
	CHECK(!auth_scram_server_done(&s));
	CHECK_EQ_INT(auth_scram_server_client_key(&s, got), AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_server_final(&s, (const uint8_t *)RFC_CFIN, strlen(RFC_CFIN), out,
	                                     sizeof(out), &n),
	             AUTH_OK);
	CHECK(n == strlen(RFC_SFIN) && memcmp(out, RFC_SFIN, n) == 0);
	CHECK(auth_scram_server_done(&s));
	CHECK_EQ_INT(auth_scram_server_client_key(&s, got), AUTH_OK);
	CHECK(memcmp(got, ck, 32) == 0);
	/* nothing more is accepted */
	CHECK_EQ_INT(auth_scram_server_final(&s, (const uint8_t *)RFC_CFIN, strlen(RFC_CFIN), out,
	                                     sizeof(out), &n),
	             AUTH_ERR_PROTOCOL);
	auth_scram_server_clear(&s);
	CHECK(!auth_scram_server_done(&s));
}

static void rfc_client_run(struct auth_scram_client *c)
{
	static const uint8_t mechs[] = "SCRAM-SHA-256\0";
	const char *mech = NULL;
	uint8_t out[512];
	size_t n = 0;
	CHECK_EQ_INT(auth_scram_client_set_test_nonce(c, "user", "rOprNGfwEbeRWgbNEkqO"), AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_first(c, mechs, sizeof(mechs), &mech, out, sizeof(out), &n),
	             AUTH_OK);
	CHECK_STR(mech, "SCRAM-SHA-256");
	CHECK(n == strlen(RFC_CF) && memcmp(out, RFC_CF, n) == 0);
	CHECK_EQ_INT(auth_scram_client_final(c, (const uint8_t *)RFC_SF, strlen(RFC_SF), out,
	                                     sizeof(out), &n),
	             AUTH_OK);
	CHECK(n == strlen(RFC_CFIN) && memcmp(out, RFC_CFIN, n) == 0);
	CHECK(!auth_scram_client_done(c));
	CHECK_EQ_INT(auth_scram_client_verify(c, (const uint8_t *)RFC_SFIN, strlen(RFC_SFIN)),
	             AUTH_OK);
	CHECK(auth_scram_client_done(c));
	auth_scram_client_clear(c);
}

static void test_rfc7677_client(void)
{
	struct auth_scram_client c;
	struct auth_verifier v;
	uint8_t ck[32];
	rfc_verifier(&v, ck);
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "pencil", AUTH_CB_PREFER, NULL, 0),
	             AUTH_OK);
	rfc_client_run(&c);
	CHECK_EQ_INT(auth_scram_client_init_keys(&c, &v, ck, AUTH_CB_DISABLE, NULL, 0), AUTH_OK);
	rfc_client_run(&c);
	/* a ClientKey that does not belong to the verifier is refused up front */
	ck[0] ^= 1;
	CHECK_EQ_INT(auth_scram_client_init_keys(&c, &v, ck, AUTH_CB_DISABLE, NULL, 0),
	             AUTH_ERR_INVALID);
}

/* --- tls-server-end-point ---------------------------------------------------------- */

static X509 *make_cert(EVP_PKEY *key, const EVP_MD *md)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"pgseal", -1,
	                           -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	if (!X509_sign(x, key, md)) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(name);
	return x;
}

static void der_hash(X509 *x, const EVP_MD *md, uint8_t *out, unsigned *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	CHECK(n > 0);
	CHECK(EVP_Digest(der, (size_t)n, out, len, md, NULL) == 1);
	OPENSSL_free(der);
}

static void test_cb_server_end_point(void)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct {
		const EVP_MD *sign, *expect;
	} cases[] = {{EVP_sha256(), EVP_sha256()},
	             {EVP_sha1(), EVP_sha256()},
	             {EVP_sha384(), EVP_sha384()},
	             {EVP_sha512(), EVP_sha512()}};
	uint8_t out[AUTH_CB_MAX], want[EVP_MAX_MD_SIZE];
	size_t n = 0;
	unsigned wn = 0;
	CHECK(ec && ed);
	for (size_t i = 0; i < PGS_ARRAY_LEN(cases); i++) {
		X509 *x = make_cert(ec, cases[i].sign);
		CHECK(x != NULL);
		if (!x)
			continue;
		CHECK_EQ_INT(auth_cb_server_end_point(x, out, &n), AUTH_OK);
		der_hash(x, cases[i].expect, want, &wn);
		CHECK(n == wn && memcmp(out, want, n) == 0);
		X509_free(x);
	}
	X509 *x = make_cert(ed, NULL);
	CHECK(x != NULL);
	if (x) {
		CHECK_EQ_INT(auth_cb_server_end_point(x, out, &n), AUTH_ERR_INVALID);
		CHECK_EQ_INT(n, 0);
		X509_free(x);
	}
	CHECK_EQ_INT(auth_cb_server_end_point(NULL, out, &n), AUTH_ERR_INVALID);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

static void test_status_texts(void)
{
	CHECK_STR(auth_sqlstate(AUTH_ERR_PASSWORD), "28P01");
	CHECK_STR(auth_sqlstate(AUTH_ERR_PROTOCOL), "08P01");
	CHECK_STR(auth_sqlstate(AUTH_ERR_CHANNEL_BINDING), "08P01");
	CHECK_STR(auth_sqlstate(AUTH_ERR_STALE_VERIFIER), "28P01");
	CHECK_STR(auth_sqlstate(AUTH_ERR_INTERNAL), "XX000");
	for (int i = 0; i >= -11; i--)
		CHECK(auth_strerror(i) && auth_strerror(i)[0]);
}

int main(void)
{
	RUN(test_verifier_pg15);
	RUN(test_verifier_negative);
	RUN(test_keys_negative);
	RUN(test_rfc7677_server);
	RUN(test_rfc7677_client);
	RUN(test_cb_server_end_point);
	RUN(test_status_texts);
	return t_summary("test_auth");
}
