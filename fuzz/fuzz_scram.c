/* fuzz_scram.c - libFuzzer target: random SCRAM messages into the server and client state machines. */
#include "auth/auth.h"

#include <stdlib.h>
#include <string.h>

/*
 * Input: one mode byte, then up to three parts separated by 0xff.
 *   mode 0/1: server without/with channel binding; parts: mechanism, client-first,
 *             client-final (server nonce fixed to "SN" so that a seed can match it)
 *   mode 2/3: client in key mode without/with TLS data; parts: mechanism list,
 *             server-first, server-final (client nonce fixed to "CN")
 *   mode 4:   verifier string, userlist file
 */

#define VERIFIER                                                                                   \
	"SCRAM-SHA-256$4096:p2bWX9aDAd7u1m9DMtEi6w==$UWBYsrw4/HBDlZRix58/"                         \
	"DBq45SeO8LR3vE7OIG8vCUM=:T5QWqudg+SmhkSn2rqW5t+g8KVcUTJigFkLNTUsLH/M="
#define PASSWORD "correct horse"

static const uint8_t cb[32] = {1, 2, 3, 4, 5, 6, 7, 8};

struct part {
	const uint8_t *p;
	size_t n;
};

static size_t split(const uint8_t *d, size_t n, struct part *parts, size_t max)
{
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= n && k < max; i++) {
		if (i == n || (d[i] == 0xff && k + 1 < max)) {
			parts[k].p = d + start;
			parts[k].n = i - start;
			k++;
			start = i + 1;
		}
	}
	return k;
}

static void run_server(bool tls, struct part *pt, size_t np)
{
	struct auth_verifier v;
	struct auth_scram_server s;
	uint8_t out[AUTH_SCRAM_MSG_MAX], key[AUTH_KEY_LEN];
	size_t n;
	char mech[64];
	if (auth_verifier_parse(VERIFIER, &v) != AUTH_OK)
		abort();
	if (auth_scram_server_init(&s, &v, tls ? cb : NULL, tls ? sizeof(cb) : 0) != AUTH_OK ||
	    auth_scram_server_set_test_nonce(&s, "SN") != AUTH_OK)
		abort();
	if (auth_scram_server_mechanisms(&s, out, sizeof(out), &n) != AUTH_OK)
		abort();
	if (np < 2)
		goto out;
	n = pt[0].n < sizeof(mech) - 1 ? pt[0].n : sizeof(mech) - 1;
	memcpy(mech, pt[0].p, n);
	mech[n] = '\0';
	if (auth_scram_server_first(&s, mech, pt[1].p, pt[1].n, out, sizeof(out), &n) != AUTH_OK)
		goto out;
	if (np < 3)
		goto out;
	if (auth_scram_server_final(&s, pt[2].p, pt[2].n, out, sizeof(out), &n) == AUTH_OK &&
	    auth_scram_server_client_key(&s, key) != AUTH_OK)
		abort();
out:
	if (s.detail && strlen(s.detail) == 0)
		abort();
	auth_scram_server_clear(&s);
	auth_verifier_clear(&v);
}

static void run_client(bool tls, struct part *pt, size_t np)
{
	static uint8_t client_key[AUTH_KEY_LEN];
	static bool have_key;
	struct auth_verifier v;
	struct auth_scram_client c;
	uint8_t out[AUTH_SCRAM_MSG_MAX];
	const char *mech;
	size_t n;
	if (auth_verifier_parse(VERIFIER, &v) != AUTH_OK)
		abort();
	if (!have_key) {
		if (auth_scram_keys_from_password(PASSWORD, v.salt, v.salt_len, v.iterations,
		                                  client_key, NULL, NULL) != AUTH_OK)
			abort();
		have_key = true;
	}
	if (auth_scram_client_init_keys(&c, &v, client_key, AUTH_CB_PREFER, tls ? cb : NULL,
	                                tls ? sizeof(cb) : 0) != AUTH_OK ||
	    auth_scram_client_set_test_nonce(&c, NULL, "CN") != AUTH_OK)
		abort();
	if (np < 1 ||
	    auth_scram_client_first(&c, pt[0].p, pt[0].n, &mech, out, sizeof(out), &n) != AUTH_OK)
		goto out;
	if (np < 2 ||
	    auth_scram_client_final(&c, pt[1].p, pt[1].n, out, sizeof(out), &n) != AUTH_OK)
		goto out;
	if (np < 3)
		goto out;
	if (auth_scram_client_verify(&c, pt[2].p, pt[2].n) == AUTH_OK &&
	    !auth_scram_client_done(&c))
		abort();
out:
	auth_scram_client_clear(&c);
	auth_verifier_clear(&v);
}

static void run_parsers(struct part *pt, size_t np)
{
	struct auth_verifier v;
	struct auth_userlist *ul = NULL;
	char err[128];
	char *s = malloc(pt[0].n + 1);
	memcpy(s, pt[0].p, pt[0].n);
	s[pt[0].n] = '\0';
	if (auth_verifier_parse(s, &v) == AUTH_OK && (v.iterations == 0 || v.salt_len == 0))
		abort();
	auth_verifier_clear(&v);
	free(s);
	if (np > 1 &&
	    auth_userlist_parse((const char *)pt[1].p, pt[1].n, &ul, err, sizeof(err)) == AUTH_OK) {
		(void)auth_userlist_lookup(ul, "alice");
		auth_userlist_free(ul);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct part pt[3];
	size_t np;
	if (size < 1 || size > 3 * AUTH_SCRAM_MSG_MAX)
		return 0;
	np = split(data + 1, size - 1, pt, 3);
	switch (data[0] % 5) {
	case 0:
		run_server(false, pt, np);
		break;
	case 1:
		run_server(true, pt, np);
		break;
	case 2:
		run_client(false, pt, np);
		break;
	case 3:
		run_client(true, pt, np);
		break;
	default:
		run_parsers(pt, np);
		break;
	}
	return 0;
}
