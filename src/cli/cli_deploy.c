/* cli_deploy.c - `pgseal deploy compose-hash|normalize|policy FILE`: dstack's compose hash of an
 * app-compose.json and the attest policy pinning it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest.h"
#include "cli/cli.h"
#include "deploy/deploy.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pgseal deploy compose-hash FILE [--normalize]\n"
	    "       pgseal deploy normalize FILE [--out FILE]\n"
	    "       pgseal deploy policy FILE [--out FILE] [--normalize] [--min-tcb-status S]\n"
	    "                            [--app-id HEX] [--mrtd HEX] [--rtmr0 HEX] [--rtmr1 HEX]\n"
	    "                            [--rtmr2 HEX]\n"
	    "FILE is a dstack app-compose.json. compose-hash prints the SHA-256 of its bytes, as\n"
	    "dstack measures it into RTMR3 (--normalize: of dstack's normalised form, as Phala\n"
	    "Cloud's tools upload it). normalize prints that form. policy writes an attestation\n"
	    "policy for `pgseal attest verify --policy` that pins the compose hash. See\n"
	    "docs/deploy.md.\n");
}

/* The whole file, bounded; NULL with a message on error. */
static uint8_t *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "pgseal deploy: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	uint8_t *b = pgs_xmalloc(cap);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			b = pgs_xrealloc(b, cap);
		}
		size_t r = fread(b + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
		if (len > DEPLOY_APP_COMPOSE_MAX)
			break;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "pgseal deploy: cannot read %s\n", path);
		free(b);
		return NULL;
	}
	if (len > DEPLOY_APP_COMPOSE_MAX) {
		fprintf(stderr, "pgseal deploy: %s is larger than %d bytes\n", path,
		        DEPLOY_APP_COMPOSE_MAX);
		free(b);
		return NULL;
	}
	*n = len;
	return b;
}

/* Reads and checks FILE; with `normalize` *bytes becomes dstack's normalised form. */
static int load(const char *path, bool normalize, uint8_t **bytes, size_t *n,
                struct deploy_app_compose *ac)
{
	char err[512];
	*bytes = read_all(path, n);
	if (!*bytes)
		return PGS_ERR;
	if (deploy_app_compose_read(*bytes, *n, ac, err, sizeof(err)) != PGS_OK) {
		fprintf(stderr, "pgseal deploy: %s: %s\n", path, err);
		goto fail;
	}
	if (normalize) {
		char *nb;
		size_t nn;
		if (deploy_normalize(*bytes, *n, &nb, &nn, err, sizeof(err)) != PGS_OK) {
			fprintf(stderr, "pgseal deploy: %s: cannot normalise: %s\n", path, err);
			goto fail;
		}
		free(*bytes);
		*bytes = (uint8_t *)nb;
		*n = nn;
		ac->normalised = true;
	}
	return PGS_OK;
fail:
	free(*bytes);
	*bytes = NULL;
	return PGS_ERR;
}

static void warn_form(const char *path, const struct deploy_app_compose *ac)
{
	if (!ac->normalised)
		fprintf(
		    stderr,
		    "pgseal deploy: note: %s is not in dstack's normalised form; this is the hash "
		    "of "
		    "its bytes as they are. Deploy exactly these bytes, or `pgseal deploy "
		    "normalize` "
		    "it first (Phala Cloud's tools upload the normalised form: see --normalize)\n",
		    path);
	if (ac->placeholder)
		fprintf(stderr,
		        "pgseal deploy: warning: %s still pins the placeholder image digest "
		        "(sha256:000…); put the digest `make image` printed in its place\n",
		        path);
}

/* Writes the output atomically (temporary file beside it, then rename). */
static FILE *out_open(const char *out, char *tmp, size_t tmplen)
{
	snprintf(tmp, tmplen, "%s.tmp-XXXXXX", out);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "pgseal deploy: cannot create %s: %s\n", tmp, strerror(errno));
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
	}
	return f;
}

static int out_close(FILE *f, const char *tmp, const char *out, bool ok)
{
	if (fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, out) != 0) {
		fprintf(stderr, "pgseal deploy: cannot write %s: %s\n", out, strerror(errno));
		ok = false;
	}
	if (!ok)
		unlink(tmp);
	return ok ? PGS_OK : PGS_ERR;
}

int cli_deploy_main(int argc, char **argv)
{
	static const struct option opts[] = {{"normalize", no_argument, NULL, 'n'},
	                                     {"out", required_argument, NULL, 'o'},
	                                     {"min-tcb-status", required_argument, NULL, 't'},
	                                     {"app-id", required_argument, NULL, 'a'},
	                                     {"mrtd", required_argument, NULL, 'm'},
	                                     {"rtmr0", required_argument, NULL, '0'},
	                                     {"rtmr1", required_argument, NULL, '1'},
	                                     {"rtmr2", required_argument, NULL, '2'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct deploy_policy_opts po = {0};
	const char *out = NULL;
	bool normalize = false;
	int o;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "compose-hash") != 0 && strcmp(sub, "normalize") != 0 &&
	    strcmp(sub, "policy") != 0) {
		fprintf(stderr, "pgseal deploy: unknown subcommand '%s'\n", sub);
		usage(stderr);
		return 2;
	}
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			normalize = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			po.min_tcb = optarg;
			break;
		case 'a':
			po.app_id = optarg;
			break;
		case 'm':
			po.mrtd = optarg;
			break;
		case '0':
		case '1':
		case '2':
			po.rtmr[o - '0'] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	bool is_policy = !strcmp(sub, "policy"), is_norm = !strcmp(sub, "normalize");
	bool pins = po.min_tcb || po.app_id || po.mrtd || po.rtmr[0] || po.rtmr[1] || po.rtmr[2];
	if (optind != argc - 2 || (!is_policy && pins) || (out && !is_policy && !is_norm) ||
	    (normalize && is_norm)) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind + 1];
	struct deploy_app_compose ac;
	uint8_t *b = NULL;
	size_t n = 0;
	char hash[65], err[512], tmp[4096];
	int rc = 2;

	if (load(path, normalize || is_norm, &b, &n, &ac) != PGS_OK)
		return 2;
	if (is_norm) {
		FILE *f = out ? out_open(out, tmp, sizeof(tmp)) : stdout;
		if (!f)
			goto done;
		bool ok = fwrite(b, 1, n, f) == n;
		if (out ? out_close(f, tmp, out, ok) != PGS_OK : (!ok || fflush(stdout) != 0))
			goto done;
		rc = 0;
		goto done;
	}
	deploy_compose_hash(b, n, hash);
	warn_form(path, &ac);
	if (!is_policy) {
		printf("%s\n", hash);
		rc = fflush(stdout) == 0 ? 0 : 2;
		goto done;
	}
	FILE *f = out ? out_open(out, tmp, sizeof(tmp)) : stdout;
	if (!f)
		goto done;
	bool ok = deploy_policy_write(f, path, hash, &ac, &po, err, sizeof(err)) == PGS_OK;
	if (!ok)
		fprintf(stderr, "pgseal deploy policy: %s\n", err);
	if (!out) {
		rc = ok && fflush(stdout) == 0 ? 0 : 2;
		goto done;
	}
	if (ok) {
		/* what was written must load as a policy: checked before it replaces anything */
		struct attest_policy *p = NULL;
		if (fflush(f) != 0 || attest_policy_load(tmp, &p, err, sizeof(err)) != PGS_OK) {
			fprintf(stderr,
			        "pgseal deploy policy: the written policy does not load: %s\n",
			        err);
			ok = false;
		}
		attest_policy_free(p);
	}
	if (out_close(f, tmp, out, ok) == PGS_OK) {
		fprintf(stderr, "pgseal deploy policy: wrote %s (compose hash %s)\n", out, hash);
		rc = 0;
	}
done:
	free(b);
	return rc;
}
