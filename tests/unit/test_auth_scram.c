/* test_auth_scram.c - SCRAM exchanges in memory: proxy chain, channel-binding rules, bad messages. */
#include "auth/auth.h"
#include "testlib.h"

#include <stdlib.h>

/* Produced by PostgreSQL 15 for CREATE ROLE alice PASSWORD 'correct horse'. */
#define ALICE                                                                                      \
	"SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"                         \
	"DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M="
#define ALICE_PW "correct horse"

static const uint8_t cb_a[32] = {0xa1, 0xa2, 0xa3, 0xa4, 5, 6, 7, 8, 9}; /* pgseal's certificate */
static const uint8_t cb_b[48] = {0xb1, 0xb2, 0xb3, 0xb4, 5, 6, 7, 8, 9}; /* the upstream's */
static const uint8_t mechs_plain[] = "SCRAM-SHA-256\0";

struct trace {
	const char *mech;
	int step; /* 1 client_first, 2 server_first, 3 client_final, 4 server_final, 5 verify */
};

/* Runs a whole exchange; mechs/mlen override the server's list (NULL: use it). */
static int exchange(struct auth_scram_client *c, struct auth_scram_server *s, const uint8_t *mechs,
                    size_t mlen, struct trace *t)
{
	uint8_t list[64], a[AUTH_SCRAM_MSG_MAX], b[AUTH_SCRAM_MSG_MAX];
	size_t na = 0, nb = 0, nl = 0;
	int rc;
	memset(t, 0, sizeof(*t));
	if (!mechs) {
		rc = auth_scram_server_mechanisms(s, list, sizeof(list), &nl);
		if (rc)
			return rc;
		mechs = list;
		mlen = nl;
	}
	t->step = 1;
	if ((rc = auth_scram_client_first(c, mechs, mlen, &t->mech, a, sizeof(a), &na)))
		return rc;
	t->step = 2;
	if ((rc = auth_scram_server_first(s, t->mech, a, na, b, sizeof(b), &nb)))
		return rc;
	t->step = 3;
	if ((rc = auth_scram_client_final(c, b, nb, a, sizeof(a), &na)))
		return rc;
	t->step = 4;
	if ((rc = auth_scram_server_final(s, a, na, b, sizeof(b), &nb)))
		return rc;
	t->step = 5;
	return auth_scram_client_verify(c, b, nb);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* app (libpq-like) -> pgseal server; pgseal client -> upstream server, all four TLS combos */
static void test_proxy_chain(void)
{
	struct auth_verifier v;
	CHECK_EQ_INT(auth_verifier_parse(ALICE, &v), AUTH_OK);
	for (int combo = 0; combo < 4; combo++) {
		bool client_tls = combo & 1, upstream_tls = combo & 2;
		struct auth_scram_server front, up;
		struct auth_scram_client app, proxy;
		struct trace t;
		uint8_t ck1[32], ck2[32];
		CHECK_EQ_INT(auth_scram_server_init(&front, &v, client_tls ? cb_a : NULL,
		                                    client_tls ? sizeof(cb_a) : 0),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_init_password(&app, ALICE_PW, AUTH_CB_PREFER,
		                                             client_tls ? cb_a : NULL,
		                                             client_tls ? sizeof(cb_a) : 0),
		             AUTH_OK);
		CHECK_EQ_INT(exchange(&app, &front, NULL, 0, &t), AUTH_OK);
		CHECK_STR(t.mech, client_tls ? AUTH_MECH_SCRAM_PLUS : AUTH_MECH_SCRAM);
		CHECK(auth_scram_server_done(&front) && auth_scram_client_done(&app));
		CHECK_EQ_INT(auth_scram_server_client_key(&front, ck1), AUTH_OK);

		/* pgseal authenticates upstream with the recovered ClientKey */
		CHECK_EQ_INT(auth_scram_server_init(&up, &v, upstream_tls ? cb_b : NULL,
		                                    upstream_tls ? sizeof(cb_b) : 0),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_init_from_server(&proxy, &front, AUTH_CB_PREFER,
		                                                upstream_tls ? cb_b : NULL,
		                                                upstream_tls ? sizeof(cb_b) : 0),
		             AUTH_OK);
		auth_scram_server_clear(&front);
		CHECK(all_zero(&front, sizeof(front)));
		CHECK_EQ_INT(exchange(&proxy, &up, NULL, 0, &t), AUTH_OK);
		CHECK_STR(t.mech, upstream_tls ? AUTH_MECH_SCRAM_PLUS : AUTH_MECH_SCRAM);
		CHECK(auth_scram_client_done(&proxy));
		CHECK_EQ_INT(auth_scram_server_client_key(&up, ck2), AUTH_OK);
		CHECK(memcmp(ck1, ck2, 32) == 0);
		auth_scram_server_clear(&up);
		auth_scram_client_clear(&app);
		auth_scram_client_clear(&proxy);
		CHECK(all_zero(&proxy, sizeof(proxy)));
	}
	auth_verifier_clear(&v);
}

static void test_wrong_password(void)
{
	struct auth_verifier v;
	struct auth_scram_server s;
	struct auth_scram_client c;
	struct trace t;
	uint8_t ck[32];
	CHECK_EQ_INT(auth_verifier_parse(ALICE, &v), AUTH_OK);
	for (int tls = 0; tls < 2; tls++) {
		CHECK_EQ_INT(auth_scram_server_init(&s, &v, tls ? cb_a : NULL, tls ? 32 : 0),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_init_password(&c, "correct horsE", AUTH_CB_PREFER,
		                                             tls ? cb_a : NULL, tls ? 32 : 0),
		             AUTH_OK);
		int rc = exchange(&c, &s, NULL, 0, &t);
		CHECK_EQ_INT(rc, AUTH_ERR_PASSWORD);
		CHECK_EQ_INT(t.step, 4);
		CHECK_STR(auth_sqlstate(rc), "28P01");
		CHECK(s.detail != NULL);
		CHECK(!auth_scram_server_done(&s));
		CHECK_EQ_INT(auth_scram_server_client_key(&s, ck), AUTH_ERR_INVALID);
		CHECK(all_zero(s.client_key, sizeof(s.client_key)));
		auth_scram_server_clear(&s);
		auth_scram_client_clear(&c);
	}
	auth_verifier_clear(&v);
}

/* One server against one client; returns the status and the failing step. */
static int cb_case(const uint8_t *srv_cb, size_t srv_len, enum auth_cb_policy pol,
                   const uint8_t *cli_cb, size_t cli_len, const uint8_t *mechs, size_t mlen,
                   struct trace *t)
{
	struct auth_verifier v;
	struct auth_scram_server s;
	struct auth_scram_client c;
	int rc;
	if (auth_verifier_parse(ALICE, &v) != AUTH_OK)
		return -100;
	rc = auth_scram_server_init(&s, &v, srv_cb, srv_len);
	if (rc == AUTH_OK)
		rc = auth_scram_client_init_password(&c, ALICE_PW, pol, cli_cb, cli_len);
	if (rc == AUTH_OK)
		rc = exchange(&c, &s, mechs, mlen, t);
	auth_scram_server_clear(&s);
	auth_scram_client_clear(&c);
	auth_verifier_clear(&v);
	return rc;
}

static void test_channel_binding_rules(void)
{
	struct trace t;
	/* libpq default (prefer) with -PLUS stripped by a man in the middle: "y" refused */
	CHECK_EQ_INT(
	    cb_case(cb_a, 32, AUTH_CB_PREFER, cb_a, 32, mechs_plain, sizeof(mechs_plain), &t),
	    AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(t.step, 2);
	CHECK_STR(auth_sqlstate(AUTH_ERR_CHANNEL_BINDING), "08P01");
	/* channel_binding=disable over TLS: "n" is fine */
	CHECK_EQ_INT(cb_case(cb_a, 32, AUTH_CB_DISABLE, cb_a, 32, NULL, 0, &t), AUTH_OK);
	CHECK_STR(t.mech, AUTH_MECH_SCRAM);
	/* require over TLS */
	CHECK_EQ_INT(cb_case(cb_a, 32, AUTH_CB_REQUIRE, cb_a, 32, NULL, 0, &t), AUTH_OK);
	CHECK_STR(t.mech, AUTH_MECH_SCRAM_PLUS);
	/* the client sees another certificate (a relaying attacker): binding data differ */
	CHECK_EQ_INT(cb_case(cb_a, 32, AUTH_CB_PREFER, cb_b, 32, NULL, 0, &t),
	             AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(t.step, 4);
	CHECK_EQ_INT(cb_case(cb_a, 32, AUTH_CB_PREFER, cb_a, 31, NULL, 0, &t),
	             AUTH_ERR_CHANNEL_BINDING);
	/* plaintext server (offers no -PLUS), client on TLS: "y" accepted */
	CHECK_EQ_INT(cb_case(NULL, 0, AUTH_CB_PREFER, cb_a, 32, NULL, 0, &t), AUTH_OK);
	CHECK_STR(t.mech, AUTH_MECH_SCRAM);
	/* require, but no -PLUS offered */
	CHECK_EQ_INT(cb_case(NULL, 0, AUTH_CB_REQUIRE, cb_a, 32, NULL, 0, &t),
	             AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(t.step, 1);
	/* require without TLS data is refused at init */
	struct auth_scram_client c;
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "x", AUTH_CB_REQUIRE, NULL, 0),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "x", (enum auth_cb_policy)7, NULL, 0),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(
	    auth_scram_client_init_password(&c, "x", AUTH_CB_PREFER, cb_a, AUTH_CB_MAX + 1),
	    AUTH_ERR_INVALID);
	/* only -PLUS offered, client without TLS */
	static const uint8_t plus_only[] = "SCRAM-SHA-256-PLUS\0";
	CHECK_EQ_INT(cb_case(cb_a, 32, AUTH_CB_PREFER, NULL, 0, plus_only, sizeof(plus_only), &t),
	             AUTH_ERR_NO_MECHANISM);
}

/* Server (TLS if cb) with fixed nonce "SN"; returns server_first's status. */
static int srv_first(struct auth_scram_server *s, bool tls, const char *mech, const char *msg,
                     size_t len)
{
	struct auth_verifier v;
	uint8_t out[AUTH_SCRAM_MSG_MAX];
	size_t n;
	int rc;
	if (auth_verifier_parse(ALICE, &v) != AUTH_OK)
		return -100;
	rc = auth_scram_server_init(s, &v, tls ? cb_a : NULL, tls ? 32 : 0);
	auth_verifier_clear(&v);
	if (rc == AUTH_OK)
		rc = auth_scram_server_set_test_nonce(s, "SN");
	if (rc == AUTH_OK)
		rc = auth_scram_server_first(s, mech, (const uint8_t *)msg, len, out, sizeof(out),
		                             &n);
	return rc;
}

static void test_server_first_flags(void)
{
	struct auth_scram_server s;
	const char *P = AUTH_MECH_SCRAM_PLUS, *S = AUTH_MECH_SCRAM;
#define F(tls, mech, msg) srv_first(&s, tls, mech, msg, strlen(msg))
	CHECK_EQ_INT(F(false, S, "n,,n=,r=CN"), AUTH_OK);
	CHECK_EQ_INT(F(false, S, "y,,n=,r=CN"), AUTH_OK);
	CHECK_EQ_INT(F(true, S, "n,,n=,r=CN"), AUTH_OK);
	CHECK_EQ_INT(F(true, P, "p=tls-server-end-point,,n=,r=CN"), AUTH_OK);
	CHECK_EQ_INT(F(true, S, "y,,n=,r=CN"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(false, P, "p=tls-server-end-point,,n=,r=CN"), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(F(false, S, "p=tls-server-end-point,,n=,r=CN"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(true, S, "p=tls-server-end-point,,n=,r=CN"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(true, P, "n,,n=,r=CN"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(true, P, "y,,n=,r=CN"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(true, P, "p=tls-unique,,n=,r=CN"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(true, P, "p=tls-server-end-point"), AUTH_ERR_CHANNEL_BINDING);
	CHECK_EQ_INT(F(true, P, "p=tls-server-end-point,"), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(F(true, P, "p=tls-server-end-point,a=u,n=,r=CN"), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(F(false, "SCRAM-SHA-1", "n,,n=,r=CN"), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(F(false, "", "n,,n=,r=CN"), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(F(false, NULL, "n,,n=,r=CN"), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(F(false, "scram-sha-256", "n,,n=,r=CN"), AUTH_ERR_PROTOCOL);
#undef F
	auth_scram_server_clear(&s);
}

static void test_server_first_negative(void)
{
	static const char *bad[] = {
	    "n",
	    "n,",
	    "n,,",
	    "x,,n=,r=CN",
	    "N,,n=,r=CN",
	    "n,a=bob,n=,r=CN",
	    "n,x,n=,r=CN",
	    ",,n=,r=CN",
	    "n ,,n=,r=CN",
	    "n,, n=,r=CN",
	    "n,,m=ext,n=,r=CN",
	    "n,,r=CN",
	    "n,,n=,r=",
	    "n,,n=,",
	    "n,,n=",
	    "n,,n=,r",
	    "n,,n=,r=C N",
	    "n,,n=,r=C\x7f",
	    "n,,n=,r=C\xc3\xa9",
	    "n,,n=,r=C\x01",
	    "n,,n=a=b,r=CN",
	    "n,,n=a=2,r=CN",
	    "n,,n=,r=CN,",
	    "n,,n=,r=CN,x",
	    "n,,n=,r=CN,1=2",
	    "n,,n=,r=CN,=x",
	    "n,,n=,x=CN",
	    "n,,n=,r=CN,,x=1",
	    "n,,n=;r=CN",
	};
	struct auth_scram_server s;
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		t_current = bad[i];
		CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, bad[i], strlen(bad[i])),
		             AUTH_ERR_PROTOCOL);
		CHECK(s.detail != NULL);
	}
	t_current = "test_server_first_negative";
	/* accepted: extensions, escaped names, a user name (ignored) */
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, "n,,n=us=2Cer=3D,r=CN,x=ext,y=",
	                       strlen("n,,n=us=2Cer=3D,r=CN,x=ext,y=")),
	             AUTH_OK);
	/* embedded NUL, empty, oversized, nonce too long */
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, "n,,n=,r=CN\0x", 12), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, "", 0), AUTH_ERR_PROTOCOL);
	char *big = malloc(AUTH_SCRAM_MSG_MAX + 16);
	memcpy(big, "n,,n=,r=", 8);
	memset(big + 8, 'a', AUTH_SCRAM_MSG_MAX + 8);
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, big, AUTH_SCRAM_MSG_MAX + 1),
	             AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, big, 8 + 1025), AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, big, 8 + 1024), AUTH_OK);
	free(big);
	/* out of order and after failure */
	uint8_t out[256];
	size_t n;
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, "n,,n=,r=CN", 10), AUTH_OK);
	CHECK_EQ_INT(auth_scram_server_first(&s, AUTH_MECH_SCRAM, (const uint8_t *)"n,,n=,r=CN", 10,
	                                     out, sizeof(out), &n),
	             AUTH_ERR_PROTOCOL);
	CHECK_EQ_INT(
	    auth_scram_server_final(&s, (const uint8_t *)"c=biws", 6, out, sizeof(out), &n),
	    AUTH_ERR_PROTOCOL);
	/* an output buffer too small */
	CHECK_EQ_INT(srv_first(&s, false, AUTH_MECH_SCRAM, "n,,n=,r=CN", 10), AUTH_OK);
	struct auth_verifier v;
	CHECK_EQ_INT(auth_verifier_parse(ALICE, &v), AUTH_OK);
	CHECK_EQ_INT(auth_scram_server_init(&s, &v, NULL, 0), AUTH_OK);
	CHECK_EQ_INT(auth_scram_server_first(&s, AUTH_MECH_SCRAM, (const uint8_t *)"n,,n=,r=CN", 10,
	                                     out, 10, &n),
	             AUTH_ERR_NOSPACE);
	CHECK_EQ_INT(auth_scram_server_init(&s, &v, NULL, 0), AUTH_OK);
	CHECK_EQ_INT(auth_scram_server_mechanisms(&s, out, 5, &n), AUTH_ERR_NOSPACE);
	CHECK_EQ_INT(auth_scram_server_set_test_nonce(&s, "a,b"), AUTH_ERR_INVALID);
	CHECK_EQ_INT(
	    auth_scram_server_final(&s, (const uint8_t *)"c=biws", 6, out, sizeof(out), &n),
	    AUTH_ERR_PROTOCOL);
	/* a bad verifier or channel-binding argument */
	struct auth_verifier z = {0};
	CHECK_EQ_INT(auth_scram_server_init(&s, &z, NULL, 0), AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_server_init(&s, &v, NULL, 32), AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_server_init(&s, &v, cb_a, AUTH_CB_MAX + 1), AUTH_ERR_INVALID);
	auth_verifier_clear(&v);
	auth_scram_server_clear(&s);
}

/* A valid client-final for server nonce "SN", client nonce "CN" (flag per tls). */
static size_t valid_final(bool tls, const char *pw, char *out, size_t cap)
{
	struct auth_scram_server s;
	struct auth_scram_client c;
	uint8_t a[AUTH_SCRAM_MSG_MAX], b[AUTH_SCRAM_MSG_MAX];
	size_t na = 0, nb = 0;
	const char *mech;
	const uint8_t plus[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
	CHECK_EQ_INT(auth_scram_client_init_password(&c, pw, AUTH_CB_PREFER, tls ? cb_a : NULL,
	                                             tls ? 32 : 0),
	             AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_set_test_nonce(&c, NULL, "CN"), AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_first(&c, tls ? plus : mechs_plain,
	                                     tls ? sizeof(plus) : sizeof(mechs_plain), &mech, a,
	                                     sizeof(a), &na),
	             AUTH_OK);
	CHECK_EQ_INT(srv_first(&s, tls, mech, (const char *)a, na), AUTH_OK);
	memcpy(b, s.sf, s.sf_len);
	nb = s.sf_len;
	CHECK_EQ_INT(auth_scram_client_final(&c, b, nb, a, sizeof(a), &na), AUTH_OK);
	CHECK(na < cap);
	memcpy(out, a, na);
	out[na] = '\0';
	auth_scram_client_clear(&c);
	auth_scram_server_clear(&s);
	return na;
}

static int srv_final(bool tls, const char *msg, size_t len)
{
	struct auth_scram_server s;
	uint8_t out[256];
	size_t n;
	int rc = srv_first(&s, tls, tls ? AUTH_MECH_SCRAM_PLUS : AUTH_MECH_SCRAM,
	                   tls ? "p=tls-server-end-point,,n=,r=CN" : "n,,n=,r=CN",
	                   strlen(tls ? "p=tls-server-end-point,,n=,r=CN" : "n,,n=,r=CN"));
	if (rc == AUTH_OK)
		rc = auth_scram_server_final(&s, (const uint8_t *)msg, len, out, sizeof(out), &n);
	auth_scram_server_clear(&s);
	return rc;
}

static void test_server_final_negative(void)
{
	char ok[512], m[600], proof[64];
	size_t n = valid_final(false, ALICE_PW, ok, sizeof(ok));
	const char *p = strstr(ok, ",p=");
	CHECK(p != NULL);
	if (!p)
		return;
	snprintf(proof, sizeof(proof), "%s", p + 3);
	CHECK_EQ_INT(srv_final(false, ok, n), AUTH_OK);
	/* every strict prefix is refused as malformed */
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(srv_final(false, ok, i), AUTH_ERR_PROTOCOL);
	/* the wrong password gives a well-formed message with a wrong proof */
	char wrong[512];
	size_t wn = valid_final(false, "not it", wrong, sizeof(wrong));
	CHECK_EQ_INT(srv_final(false, wrong, wn), AUTH_ERR_PASSWORD);
	/* a flipped proof byte */
	memcpy(m, ok, n + 1);
	m[n - 5] = m[n - 5] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(srv_final(false, m, n), AUTH_ERR_PASSWORD);

	struct {
		const char *fmt;
		int want;
	} cases[] = {
	    {"c=biws,r=CNSN,p=%s", AUTH_OK},
	    {"c=biws,r=CNSX,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNS,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSNN,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,p=%s", AUTH_ERR_PROTOCOL},
	    {"r=CNSN,c=biws,p=%s", AUTH_ERR_PROTOCOL},
	    {"r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,p=", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,p=%s,x=1", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,p=%s,", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,p=%s,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,x=1,p=%s",
	     AUTH_ERR_PASSWORD}, /* extension parsed, AuthMessage differs */
	    {"c=biws,r=CNSN,p=!!!!%s", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", AUTH_ERR_PROTOCOL},
	    {"c=biws,r=CNSN,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", AUTH_ERR_PROTOCOL},
	    {"c=eSws,r=CNSN,p=%s", AUTH_ERR_PROTOCOL}, /* "y" after "n" */
	    {"c=biw,r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=,r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=bixz,r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	    {"C=biws,r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	    {"c=biws ,r=CNSN,p=%s", AUTH_ERR_PROTOCOL},
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(cases); i++) {
		t_current = cases[i].fmt;
		snprintf(m, sizeof(m), cases[i].fmt, proof, proof);
		CHECK_EQ_INT(srv_final(false, m, strlen(m)), cases[i].want);
	}
	t_current = "test_server_final_negative";
	/* NUL inside, oversized */
	memcpy(m, ok, n + 1);
	m[3] = '\0';
	CHECK_EQ_INT(srv_final(false, m, n), AUTH_ERR_PROTOCOL);
	char *big = malloc(AUTH_SCRAM_MSG_MAX + 1);
	memset(big, 'a', AUTH_SCRAM_MSG_MAX + 1);
	CHECK_EQ_INT(srv_final(false, big, AUTH_SCRAM_MSG_MAX + 1), AUTH_ERR_PROTOCOL);
	free(big);

	/* channel binding: valid -PLUS final, then tampered binding data */
	n = valid_final(true, ALICE_PW, ok, sizeof(ok));
	CHECK_EQ_INT(srv_final(true, ok, n), AUTH_OK);
	for (size_t i = 0; i < n; i++)
		CHECK(srv_final(true, ok, i) != AUTH_OK);
	p = strstr(ok, ",p=");
	snprintf(proof, sizeof(proof), "%s", p ? p + 3 : "");
	/* only the gs2 header, without the certificate hash */
	snprintf(m, sizeof(m), "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=CNSN,p=%s", proof);
	CHECK_EQ_INT(srv_final(true, m, strlen(m)), AUTH_ERR_CHANNEL_BINDING);
	snprintf(m, sizeof(m), "c=biws,r=CNSN,p=%s", proof);
	CHECK_EQ_INT(srv_final(true, m, strlen(m)), AUTH_ERR_CHANNEL_BINDING);
	memcpy(m, ok, n + 1);
	m[4] = m[4] == 'A' ? 'B' : 'A'; /* inside c= (base64 of "p=tls-...") */
	CHECK(srv_final(true, m, n) != AUTH_OK);
}

/* Client in password mode, nonce "CN", after client_first; returns client_final's status. */
static int cli_final(struct auth_scram_client *c, const char *sf, size_t len)
{
	uint8_t out[AUTH_SCRAM_MSG_MAX];
	const char *mech;
	size_t n;
	int rc = auth_scram_client_init_password(c, ALICE_PW, AUTH_CB_PREFER, NULL, 0);
	if (rc == AUTH_OK)
		rc = auth_scram_client_set_test_nonce(c, NULL, "CN");
	if (rc == AUTH_OK)
		rc = auth_scram_client_first(c, mechs_plain, sizeof(mechs_plain), &mech, out,
		                             sizeof(out), &n);
	if (rc == AUTH_OK)
		rc = auth_scram_client_final(c, (const uint8_t *)sf, len, out, sizeof(out), &n);
	return rc;
}

static void test_client_negative(void)
{
	struct auth_scram_client c;
	uint8_t out[AUTH_SCRAM_MSG_MAX];
	const char *mech;
	size_t n;
	static const struct {
		const char *list;
		size_t len;
		int want;
	} lists[] = {
	    {"", 0, AUTH_ERR_PROTOCOL},
	    {"SCRAM-SHA-256", 13, AUTH_ERR_PROTOCOL},
	    {"SCRAM-SHA-256\0", 14, AUTH_ERR_PROTOCOL},
	    {"SCRAM-SHA-256\0\0x", 16, AUTH_ERR_PROTOCOL},
	    {"\0", 1, AUTH_ERR_NO_MECHANISM},
	    {"SCRAM-SHA-1\0\0", 13, AUTH_ERR_NO_MECHANISM},
	    {"SCRAM-SHA-256X\0\0", 16, AUTH_ERR_NO_MECHANISM},
	    {"SCRAM-SHA-1\0SCRAM-SHA-256\0\0", 27, AUTH_OK},
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(lists); i++) {
		CHECK_EQ_INT(auth_scram_client_init_password(&c, "pw", AUTH_CB_PREFER, NULL, 0),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_first(&c, (const uint8_t *)lists[i].list,
		                                     lists[i].len, &mech, out, sizeof(out), &n),
		             lists[i].want);
	}
	/* the client-first-message as libpq sends it */
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "pw", AUTH_CB_PREFER, NULL, 0), AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_first(&c, mechs_plain, sizeof(mechs_plain), &mech, out,
	                                     sizeof(out), &n),
	             AUTH_OK);
	CHECK(n == 8 + 24 && memcmp(out, "n,,n=,r=", 8) == 0);
	CHECK_EQ_INT(auth_scram_client_first(&c, mechs_plain, sizeof(mechs_plain), &mech, out,
	                                     sizeof(out), &n),
	             AUTH_ERR_PROTOCOL);

	static const char *bad_sf[] = {
	    "r=CN,s=QUJD,i=4096",
	    "r=XXSN,s=QUJD,i=4096",
	    "r=CNS N,s=QUJD,i=4096",
	    "r=C,s=QUJD,i=4096",
	    "r=CNSN,s=!!!!,i=4096",
	    "r=CNSN,s=,i=4096",
	    "r=CNSN,s=QUJD,i=0",
	    "r=CNSN,s=QUJD,i=10000001",
	    "r=CNSN,s=QUJD,i=-1",
	    "r=CNSN,s=QUJD,i=abc",
	    "r=CNSN,s=QUJD,i=",
	    "r=CNSN,s=QUJD",
	    "r=CNSN,s=QUJD,i=4096,x=1",
	    "r=CNSN,s=QUJD,i=4096,",
	    "m=x,r=CNSN,s=QUJD,i=4096",
	    "s=QUJD,r=CNSN,i=4096",
	    "r=CNSN,i=4096,s=QUJD",
	    "r=CNSN,s=QUJD,i=99999999999999999999",
	    "",
	    "r=CNSN,s=QUJD,i=+4096",
	    "r=CNSN,s=QUJD,i= 4096",
	    "e=other-error",
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad_sf); i++) {
		t_current = bad_sf[i];
		CHECK_EQ_INT(cli_final(&c, bad_sf[i], strlen(bad_sf[i])), AUTH_ERR_PROTOCOL);
		CHECK(c.detail != NULL);
	}
	t_current = "test_client_negative";
	CHECK_EQ_INT(cli_final(&c, "r=CNSN,s=QUJD,i=1", 17), AUTH_OK);
	CHECK_EQ_INT(cli_final(&c, "r=CNSN,s=QUJD,i=1\0", 18), AUTH_ERR_PROTOCOL);

	/* key mode: salt or iterations that differ from the verifier mean a stale verifier */
	struct auth_verifier v;
	uint8_t ck[32];
	CHECK_EQ_INT(auth_verifier_parse(ALICE, &v), AUTH_OK);
	CHECK_EQ_INT(auth_scram_keys_from_password(ALICE_PW, v.salt, v.salt_len, v.iterations, ck,
	                                           NULL, NULL),
	             AUTH_OK);
	static const char *stale[] = {"r=CNSN,s=p2bWX9aDAd7u1m9DMtEi6w==,i=4097",
	                              "r=CNSN,s=p2bWX9aDAd7u1m9DMtEi6A==,i=4096",
	                              "r=CNSN,s=p2bWX9aDAd7u1m9DMtEi,i=4096"};
	for (int pass = 0; pass < 4; pass++) {
		const char *sf =
		    pass < 3 ? stale[pass] : "r=CNSN,s=p2bWX9aDAd7u1m9DMtEi6w==,i=4096";
		CHECK_EQ_INT(auth_scram_client_init_keys(&c, &v, ck, AUTH_CB_PREFER, NULL, 0),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_set_test_nonce(&c, NULL, "CN"), AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_first(&c, mechs_plain, sizeof(mechs_plain), &mech,
		                                     out, sizeof(out), &n),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_final(&c, (const uint8_t *)sf, strlen(sf), out,
		                                     sizeof(out), &n),
		             pass < 3 ? AUTH_ERR_STALE_VERIFIER : AUTH_OK);
	}

	/* server-final: a SCRAM error, a wrong signature, garbage, a wrong length */
	struct auth_scram_server s;
	uint8_t a[AUTH_SCRAM_MSG_MAX], b[AUTH_SCRAM_MSG_MAX];
	size_t na, nb;
	for (int k = 0; k < 7; k++) {
		CHECK_EQ_INT(auth_scram_server_init(&s, &v, NULL, 0), AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_init_keys(&c, &v, ck, AUTH_CB_PREFER, NULL, 0),
		             AUTH_OK);
		if (k == 6) { /* verify before final */
			CHECK_EQ_INT(auth_scram_client_verify(&c, (const uint8_t *)"v=x", 3),
			             AUTH_ERR_PROTOCOL);
			break;
		}
		CHECK_EQ_INT(auth_scram_client_first(&c, mechs_plain, sizeof(mechs_plain), &mech, a,
		                                     sizeof(a), &na),
		             AUTH_OK);
		CHECK_EQ_INT(auth_scram_server_first(&s, mech, a, na, b, sizeof(b), &nb), AUTH_OK);
		CHECK_EQ_INT(auth_scram_client_final(&c, b, nb, a, sizeof(a), &na), AUTH_OK);
		CHECK_EQ_INT(auth_scram_server_final(&s, a, na, b, sizeof(b), &nb), AUTH_OK);
		int want = AUTH_OK;
		switch (k) {
		case 1:
			memcpy(b, "e=invalid-proof", 15);
			nb = 15;
			want = AUTH_ERR_UPSTREAM;
			break;
		case 2:
			b[5] = b[5] == 'A' ? 'B' : 'A';
			want = AUTH_ERR_SERVER_SIGNATURE;
			break;
		case 3:
			memcpy(b + nb, ",x=1", 4);
			nb += 4;
			want = AUTH_ERR_PROTOCOL;
			break;
		case 4:
			nb -= 4;
			want = AUTH_ERR_PROTOCOL;
			break;
		case 5:
			b[0] = 'w';
			want = AUTH_ERR_PROTOCOL;
			break;
		}
		CHECK_EQ_INT(auth_scram_client_verify(&c, b, nb), want);
		CHECK_EQ_INT(auth_scram_client_done(&c), want == AUTH_OK);
		if (want != AUTH_OK)
			CHECK(all_zero(c.server_signature, 32));
	}
	auth_scram_server_clear(&s);
	auth_scram_client_clear(&c);
	auth_verifier_clear(&v);

	CHECK_EQ_INT(auth_scram_client_init_from_server(&c, &s, AUTH_CB_PREFER, NULL, 0),
	             AUTH_ERR_INVALID);
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "caf\xc3\xa9", AUTH_CB_PREFER, NULL, 0),
	             AUTH_ERR_INVALID);
}

static void test_mock(void)
{
	struct auth_scram_server s;
	struct auth_scram_client c;
	struct trace t;
	char first1[256], first2[256];
	size_t l1;
	CHECK_EQ_INT(auth_scram_server_init_mock(&s, "nobody", cb_a, 32), AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "guess", AUTH_CB_PREFER, cb_a, 32),
	             AUTH_OK);
	CHECK_EQ_INT(exchange(&c, &s, NULL, 0, &t), AUTH_ERR_PASSWORD);
	CHECK_EQ_INT(t.step, 4);
	CHECK_STR(t.mech, AUTH_MECH_SCRAM_PLUS);
	/* the same salt for the same name each time; another for another name */
	const char *sfx;
	l1 = s.sf_len;
	memcpy(first1, s.sf, l1);
	first1[l1] = 0;
	CHECK_EQ_INT(auth_scram_server_init_mock(&s, "nobody", NULL, 0), AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "guess", AUTH_CB_PREFER, NULL, 0),
	             AUTH_OK);
	CHECK_EQ_INT(exchange(&c, &s, NULL, 0, &t), AUTH_ERR_PASSWORD);
	memcpy(first2, s.sf, s.sf_len);
	first2[s.sf_len] = 0;
	sfx = strstr(first1, ",s=");
	CHECK(sfx && strstr(first2, sfx) != NULL);
	CHECK(strstr(first1, ",i=4096") != NULL);
	CHECK_EQ_INT(auth_scram_server_init_mock(&s, "somebody", NULL, 0), AUTH_OK);
	CHECK_EQ_INT(auth_scram_client_init_password(&c, "guess", AUTH_CB_PREFER, NULL, 0),
	             AUTH_OK);
	CHECK_EQ_INT(exchange(&c, &s, NULL, 0, &t), AUTH_ERR_PASSWORD);
	memcpy(first2, s.sf, s.sf_len);
	first2[s.sf_len] = 0;
	CHECK(sfx && strstr(first2, sfx) == NULL);
	auth_scram_server_clear(&s);
	auth_scram_client_clear(&c);
}

int main(void)
{
	RUN(test_proxy_chain);
	RUN(test_wrong_password);
	RUN(test_channel_binding_rules);
	RUN(test_server_first_flags);
	RUN(test_server_first_negative);
	RUN(test_server_final_negative);
	RUN(test_client_negative);
	RUN(test_mock);
	return t_summary("test_auth_scram");
}
