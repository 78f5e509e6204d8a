/* test_dstack.c - the dstack guest-agent client against tests/keys/dstack_stub.py on a unix socket. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tee/tee.h"
#include "testlib.h"

static char sock[128], reqlog[128];
static pid_t stub = -1;

static int start_stub(const char *compose)
{
	const char *root = getenv("PGSEAL_ROOT") ? getenv("PGSEAL_ROOT") : ".";
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/keys/dstack_stub.py", root);
	if (access(script, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
		return -1;
	unlink(sock);
	stub = fork();
	if (stub == 0) {
		execl("/usr/bin/python3", "python3", script, sock, "--compose-hash", compose,
		      "--log", reqlog, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* up to 5 s */
		struct stat st;
		if (stat(sock, &st) == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static void stop_stub(void)
{
	if (stub > 0) {
		kill(stub, SIGTERM);
		waitpid(stub, NULL, 0);
		stub = -1;
	}
}

static void test_calls(void)
{
	uint8_t key[64], key2[64];
	size_t kl = 0, kl2 = 0, nsig = 0;
	char err[512];
	CHECK(tee_dstack_get_key(sock, "pgseal/x", "p", key, sizeof(key), &kl, &nsig, err,
	                         sizeof(err)) == PGS_OK);
	CHECK_EQ_INT(kl, 32);
	CHECK_EQ_INT(nsig, 2);
	CHECK(tee_dstack_get_key(sock, "pgseal/x", "p", key2, sizeof(key2), &kl2, &nsig, err,
	                         sizeof(err)) == PGS_OK);
	CHECK(kl2 == kl && memcmp(key, key2, kl) == 0); /* deterministic */
	CHECK(tee_dstack_get_key(sock, "pgseal/y", "p", key2, sizeof(key2), &kl2, &nsig, err,
	                         sizeof(err)) == PGS_OK);
	CHECK(memcmp(key, key2, kl) != 0);
	/* a capacity smaller than the key is an error, not a truncation */
	CHECK(tee_dstack_get_key(sock, "pgseal/x", "p", key, 16, &kl, &nsig, err, sizeof(err)) ==
	      PGS_ERR);

	struct tee_dstack_quote q;
	uint8_t rd[64];
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)i;
	CHECK(tee_dstack_get_quote(sock, rd, 64, &q, err, sizeof(err)) == PGS_OK);
	CHECK(q.quote_len == 8 + 40 + 64 && memcmp(q.quote + 48, rd, 64) == 0);
	CHECK(q.event_log && strstr(q.event_log, "compose-hash") != NULL);
	CHECK(q.vm_config && strstr(q.vm_config, "cpu_count") != NULL);
	tee_dstack_quote_free(&q);
	uint8_t big[65] = {0};
	CHECK(tee_dstack_get_quote(sock, big, 65, &q, err, sizeof(err)) == PGS_ERR);

	struct tee_dstack_info info;
	CHECK(tee_dstack_info(sock, &info, err, sizeof(err)) == PGS_OK);
	CHECK(info.app_id && strlen(info.app_id) == 40);
	CHECK(info.compose_hash && strcmp(info.compose_hash, "1234") == 0);
	CHECK(info.tcb_info && strstr(info.tcb_info, "mrtd") != NULL);
	CHECK(info.raw_json != NULL);
	tee_dstack_info_free(&info);

	/* the request shapes the guest agent expects */
	FILE *f = fopen(reqlog, "r");
	char line[1024];
	int getkey = 0, getquote = 0, inf = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, "\"path\": \"/GetKey\"") && strstr(line, "\"method\": \"POST\"") &&
		    strstr(line, "application/json") && strstr(line, "\"purpose\": \"p\""))
			getkey++;
		if (strstr(line, "\"path\": \"/GetQuote\"") &&
		    strstr(line, "\"report_data\": \"000102030405"))
			getquote++;
		if (strstr(line, "\"path\": \"/Info\""))
			inf++;
	}
	if (f)
		fclose(f);
	CHECK(getkey >= 3);
	CHECK(getquote == 1);
	CHECK(inf == 1);

	/* unknown method and an unreachable socket give errors */
	CHECK(tee_dstack_get_key("/nonexistent/dstack.sock", "a", "b", key, sizeof(key), &kl, &nsig,
	                         err, sizeof(err)) == PGS_ERR);
	CHECK(strstr(err, "/nonexistent/dstack.sock") != NULL);
}

static void test_endpoint(void)
{
	unsetenv("DSTACK_SIMULATOR_ENDPOINT");
	CHECK(strcmp(tee_dstack_endpoint(NULL), "/var/run/dstack.sock") == 0);
	CHECK(strcmp(tee_dstack_endpoint(""), "/var/run/dstack.sock") == 0);
	setenv("DSTACK_SIMULATOR_ENDPOINT", "/tmp/sim.sock", 1);
	CHECK(strcmp(tee_dstack_endpoint(NULL), "/tmp/sim.sock") == 0);
	CHECK(strcmp(tee_dstack_endpoint("/run/x.sock"), "/run/x.sock") == 0);
	unsetenv("DSTACK_SIMULATOR_ENDPOINT");
}

int main(void)
{
	snprintf(sock, sizeof(sock), "/tmp/pgseal-dstack-test-%d.sock", (int)getpid());
	snprintf(reqlog, sizeof(reqlog), "/tmp/pgseal-dstack-test-%d.log", (int)getpid());
	RUN(test_endpoint);
	if (start_stub("1234") == 0) {
		RUN(test_calls);
	} else {
		fprintf(stderr, "SKIP test_calls: tests/keys/dstack_stub.py or /usr/bin/python3 "
		                "missing (run from the repository root or set PGSEAL_ROOT)\n");
	}
	stop_stub();
	unlink(sock);
	unlink(reqlog);
	return t_summary("dstack");
}
