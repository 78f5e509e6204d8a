/* deploy.c - the compose hash of a dstack app-compose.json, dstack's normalised JSON form, and the
 * attest policy pinning it. */
#include "deploy/deploy.h"
#include "attest/attest.h"
#include "crypto/crypto.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* nesting bound of the normaliser (app-compose.json is two levels deep) */
#define NORM_DEPTH_MAX 64

void deploy_compose_hash(const uint8_t *b, size_t n, char out[65])
{
	uint8_t d[32];
	unsigned int dl = 0;
	/* EVP_Digest with SHA-256 cannot fail on in-memory input short of allocation failure,
	 * which aborts below rather than printing a wrong hash */
	if (EVP_Digest(b, n, d, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
		abort();
	pgs_hex(d, 32, out);
}

/* ---- normalised form -------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_put(struct sbuf *s, const char *b, size_t n)
{
	if (s->n + n + 1 > s->cap) {
		s->cap = (s->n + n + 1) * 2;
		s->p = pgs_xrealloc(s->p, s->cap);
	}
	memcpy(s->p + s->n, b, n);
	s->n += n;
	s->p[s->n] = '\0';
}

static void sb_str(struct sbuf *s, const char *v)
{
	sb_put(s, v, strlen(v));
}

/* A JSON string as Python's json.dumps(ensure_ascii=False) writes it (and JavaScript's
 * JSON.stringify): '"' and '\' escaped, \b \f \n \r \t by name, other controls as \u00xx in
 * lower case, everything else (including non-ASCII UTF-8) as it is. */
static void sb_jstr(struct sbuf *s, const char *v, size_t n)
{
	sb_put(s, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		char e[8];
		switch (c) {
		case '"':
			sb_put(s, "\\\"", 2);
			break;
		case '\\':
			sb_put(s, "\\\\", 2);
			break;
		case '\b':
			sb_put(s, "\\b", 2);
			break;
		case '\f':
			sb_put(s, "\\f", 2);
			break;
		case '\n':
			sb_put(s, "\\n", 2);
			break;
		case '\r':
			sb_put(s, "\\r", 2);
			break;
		case '\t':
			sb_put(s, "\\t", 2);
			break;
		default:
			if (c < 0x20) {
				snprintf(e, sizeof(e), "\\u%04x", c);
				sb_put(s, e, 6);
			} else {
				sb_put(s, (const char *)&v[i], 1);
			}
		}
	}
	sb_put(s, "\"", 1);
}

static int cmp_keys(const void *a, const void *b)
{
	/* byte order of UTF-8 is code point order: Python's sort_keys */
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int norm_value(struct sbuf *s, json_t *v, int depth, char *err, size_t errlen)
{
	char num[32];
	if (depth > NORM_DEPTH_MAX) {
		pgs_errf(err, errlen, "nested deeper than %d levels", NORM_DEPTH_MAX);
		return PGS_ERR;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = pgs_xcalloc(n ? n : 1, sizeof(*keys));
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_keys);
		sb_put(s, "{", 1);
		for (i = 0; i < n; i++) {
			if (i)
				sb_put(s, ",", 1);
			sb_jstr(s, keys[i], strlen(keys[i]));
			sb_put(s, ":", 1);
			if (norm_value(s, json_object_get(v, keys[i]), depth + 1, err, errlen) !=
			    PGS_OK) {
				free(keys);
				return PGS_ERR;
			}
		}
		sb_put(s, "}", 1);
		free(keys);
		return PGS_OK;
	}
	case JSON_ARRAY:
		sb_put(s, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				sb_put(s, ",", 1);
			if (norm_value(s, json_array_get(v, i), depth + 1, err, errlen) != PGS_OK)
				return PGS_ERR;
		}
		sb_put(s, "]", 1);
		return PGS_OK;
	case JSON_STRING:
		sb_jstr(s, json_string_value(v), json_string_length(v));
		return PGS_OK;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		sb_str(s, num);
		return PGS_OK;
	case JSON_REAL:
		/* Python, JavaScript and Go print fractions differently: no agreed hash */
		pgs_errf(err, errlen, "a non-integer number has no agreed normalised form");
		return PGS_ERR;
	case JSON_TRUE:
		sb_str(s, "true");
		return PGS_OK;
	case JSON_FALSE:
		sb_str(s, "false");
		return PGS_OK;
	case JSON_NULL:
		sb_str(s, "null");
		return PGS_OK;
	}
	pgs_errf(err, errlen, "unexpected JSON value");
	return PGS_ERR;
}

static json_t *parse(const uint8_t *b, size_t n, char *err, size_t errlen)
{
	json_error_t je;
	if (n > DEPLOY_APP_COMPOSE_MAX) {
		pgs_errf(err, errlen, "larger than %d bytes", DEPLOY_APP_COMPOSE_MAX);
		return NULL;
	}
	json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		pgs_errf(err, errlen, "not JSON (line %d, column %d): %s", je.line, je.column,
		         je.text);
		return NULL;
	}
	return j;
}

int deploy_normalize(const uint8_t *b, size_t n, char **out, size_t *outlen, char *err,
                     size_t errlen)
{
	struct sbuf s = {0};
	*out = NULL;
	*outlen = 0;
	json_t *j = parse(b, n, err, errlen);
	if (!j)
		return PGS_ERR;
	int rc = norm_value(&s, j, 0, err, errlen);
	json_decref(j);
	if (rc != PGS_OK) {
		free(s.p);
		return PGS_ERR;
	}
	*out = s.p;
	*outlen = s.n;
	return PGS_OK;
}

/* ---- reading an AppCompose -------------------------------------------------------- */

static const char *member_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* `image:` values of the compose YAML, found line by line (enough for a listing: the
 * compose hash covers the whole text whatever this finds). */
static void find_images(const char *y, struct deploy_app_compose *ac)
{
	for (const char *l = y; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		const char *p = l;
		while (p < l + len && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(l + len - p) > 6 && !strncmp(p, "image:", 6) &&
		    ac->n_images < DEPLOY_IMAGES_MAX) {
			p += 6;
			while (p < l + len && (*p == ' ' || *p == '\t' || *p == '"' || *p == '\''))
				p++;
			const char *q = p;
			while (q < l + len && !isspace((unsigned char)*q) && *q != '"' &&
			       *q != '\'' && *q != '#')
				q++;
			if (q > p) {
				char *dst = ac->images[ac->n_images++];
				snprintf(dst, sizeof(ac->images[0]), "%.*s", (int)(q - p), p);
				if (strstr(dst, DEPLOY_PLACEHOLDER_DIGEST))
					ac->placeholder = true;
			}
		}
		l = e ? e + 1 : NULL;
	}
}

int deploy_app_compose_read(const uint8_t *b, size_t n, struct deploy_app_compose *ac, char *err,
                            size_t errlen)
{
	char e2[256];
	memset(ac, 0, sizeof(*ac));
	json_t *j = parse(b, n, err, errlen);
	if (!j)
		return PGS_ERR;
	int rc = PGS_ERR;
	json_t *mv = json_object_get(j, "manifest_version");
	const char *name = member_str(j, "name"), *runner = member_str(j, "runner");
	if (!json_is_object(j)) {
		pgs_errf(err, errlen, "not an AppCompose: the document must be a JSON object");
		goto out;
	}
	if (!mv || !(json_is_integer(mv) || json_is_string(mv))) {
		pgs_errf(err, errlen,
		         "not an AppCompose: manifest_version (number or string) missing");
		goto out;
	}
	if (!name || !runner) {
		pgs_errf(err, errlen, "not an AppCompose: %s (a string) missing",
		         !name ? "name" : "runner");
		goto out;
	}
	snprintf(ac->name, sizeof(ac->name), "%s", name);
	snprintf(ac->runner, sizeof(ac->runner), "%s", runner);
	if (!strcmp(runner, "docker-compose") || !strcmp(runner, "nerdctl-compose")) {
		const char *dc = member_str(j, "docker_compose_file");
		if (!dc) {
			pgs_errf(
			    err, errlen,
			    "runner %s needs docker_compose_file (the compose YAML as a string)",
			    runner);
			goto out;
		}
		find_images(dc, ac);
	}
	char *nb = NULL;
	size_t nn = 0;
	if (deploy_normalize(b, n, &nb, &nn, e2, sizeof(e2)) == PGS_OK)
		ac->normalised = nn == n && !memcmp(nb, b, n);
	free(nb);
	rc = PGS_OK;
out:
	json_decref(j);
	return rc;
}

/* ---- the policy ------------------------------------------------------------------- */

static int check_hex(const char *what, const char *v, size_t bytes, char *err, size_t errlen)
{
	const char *s = v;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	bool ok = strlen(s) == 2 * bytes;
	for (size_t i = 0; ok && s[i]; i++)
		ok = pgs_hexval((unsigned char)s[i]) >= 0;
	if (!ok)
		pgs_errf(err, errlen, "%s must be %zu bytes of hex", what, bytes);
	return ok ? PGS_OK : PGS_ERR;
}

/* Safe to print inside a YAML comment: no line breaks or control characters. */
static void comment_safe(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int deploy_policy_write(FILE *f, const char *source, const char *compose_hash,
                        const struct deploy_app_compose *ac, const struct deploy_policy_opts *o,
                        char *err, size_t errlen)
{
	static const char *const rt[] = {"rtmr0", "rtmr1", "rtmr2"};
	enum attest_tcb_status st;
	char src[512], name[128];
	const char *min_tcb = o->min_tcb ? o->min_tcb : "UpToDate";

	if (check_hex("the compose hash", compose_hash, 32, err, errlen) != PGS_OK)
		return PGS_ERR;
	if (attest_tcb_status_parse(min_tcb, &st) != PGS_OK) {
		pgs_errf(err, errlen,
		         "--min-tcb-status: not a TCB status name (UpToDate, "
		         "SWHardeningNeeded, ...)");
		return PGS_ERR;
	}
	if ((o->app_id && check_hex("--app-id", o->app_id, 20, err, errlen) != PGS_OK) ||
	    (o->mrtd && check_hex("--mrtd", o->mrtd, 48, err, errlen) != PGS_OK))
		return PGS_ERR;
	for (int i = 0; i < 3; i++)
		if (o->rtmr[i] && check_hex(rt[i], o->rtmr[i], 48, err, errlen) != PGS_OK)
			return PGS_ERR;

	snprintf(src, sizeof(src), "%s", source);
	snprintf(name, sizeof(name), "%s", ac->name);
	comment_safe(src);
	comment_safe(name);
	fprintf(f,
	        "# Attestation policy for `pgseal attest verify --policy` (docs/attestation.md),\n"
	        "# written by `pgseal deploy policy %s`.\n"
	        "# app: %s\n"
	        "# compose hash = SHA-256 of that file's bytes, as dstack measures it into RTMR3\n"
	        "# (the event log's compose-hash event). It covers the compose text, hence every\n"
	        "# image digest in it:\n",
	        src, name);
	for (size_t i = 0; i < ac->n_images; i++) {
		char im[256];
		snprintf(im, sizeof(im), "%s", ac->images[i]);
		comment_safe(im);
		fprintf(f, "#   image: %s%s\n", im,
		        strstr(im, DEPLOY_PLACEHOLDER_DIGEST)
		            ? "   <- PLACEHOLDER, not a real image"
		        : strstr(im, "@sha256:") ? ""
		                                 : "   <- not pinned by digest");
	}
	if (!ac->n_images)
		fprintf(f, "#   (no image: lines found)\n");
	fprintf(f,
	        "min_tcb_status: %s\n"
	        "require_event_log: true\n"
	        "compose_hashes:\n"
	        "  - \"%s\"\n",
	        attest_tcb_status_name(st), compose_hash);
	if (o->app_id)
		fprintf(f, "app_ids:\n  - \"%s\"\n", o->app_id);
	else
		fprintf(f,
		        "# app_ids: the app id is known after the first deployment (Phala Cloud, "
		        "dstack KMS);\n# pin it with --app-id so that another app with the same "
		        "compose file is refused\n");
	if (o->mrtd)
		fprintf(f, "mrtd:\n  - \"%s\"\n", o->mrtd);
	for (int i = 0; i < 3; i++)
		if (o->rtmr[i])
			fprintf(f, "%s:\n  - \"%s\"\n", rt[i], o->rtmr[i]);
	if (!o->mrtd && !o->rtmr[0] && !o->rtmr[1] && !o->rtmr[2])
		fprintf(
		    f,
		    "# mrtd, rtmr0..rtmr2: the dstack OS image's measurements (dstack-mr or "
		    "the release's\n# metadata); pin them with --mrtd/--rtmr0/--rtmr1/--rtmr2\n");
	if (ferror(f)) {
		pgs_errf(err, errlen, "cannot write the policy");
		return PGS_ERR;
	}
	return PGS_OK;
}
