/* deploy.h - dstack deployment helpers: the compose hash of an app-compose.json, dstack's
 * normalised form, the policy that pins it. */
#ifndef PGSEAL_DEPLOY_H
#define PGSEAL_DEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

/* app-compose.json files larger than this are refused (dstack's are a few KiB). */
#define DEPLOY_APP_COMPOSE_MAX (1024 * 1024)
/* image references listed from docker_compose_file (comments of the policy) */
#define DEPLOY_IMAGES_MAX 16

/* The digest in deploy/dstack that `make image` replaces: 64 zeros. */
#define DEPLOY_PLACEHOLDER_DIGEST                                                                  \
	"sha256:0000000000000000000000000000000000000000000000000000000000000000"

/* SHA-256 of the bytes as lower-case hex: what dstack measures into RTMR3 as the
 * "compose-hash" event (it hashes app-compose.json's bytes as they are). */
void deploy_compose_hash(const uint8_t *b, size_t n, char out[65]);

/* dstack's normalised form (docs/normalized-app-compose.md, the SDKs' get_compose_hash):
 * keys sorted, compact, non-ASCII as UTF-8, escapes as Python's json.dumps. Refuses what
 * the implementations would not agree on: non-JSON, duplicate keys, non-integer numbers,
 * invalid UTF-8. *out is malloc'd and NUL-terminated. */
int deploy_normalize(const uint8_t *b, size_t n, char **out, size_t *outlen, char *err,
                     size_t errlen) PGS_MUSTCHECK;

/* What pgseal reads from an app-compose.json before hashing it. */
struct deploy_app_compose {
	char name[128];
	char runner[64];
	size_t n_images;
	char images[DEPLOY_IMAGES_MAX][256]; /* `image:` values of docker_compose_file */
	bool normalised;                     /* the bytes are already dstack's normalised form */
	bool placeholder;                    /* some image still pins DEPLOY_PLACEHOLDER_DIGEST */
};

/* Checks that the bytes are an AppCompose dstack boots: a JSON object with
 * manifest_version, name, runner, and for the compose runners a docker_compose_file string. */
int deploy_app_compose_read(const uint8_t *b, size_t n, struct deploy_app_compose *ac, char *err,
                            size_t errlen) PGS_MUSTCHECK;

/* Optional pins of `pgseal deploy policy` besides the compose hash (hex strings). */
struct deploy_policy_opts {
	const char *min_tcb; /* NULL: UpToDate */
	const char *app_id;  /* 20 bytes */
	const char *mrtd;    /* 48 bytes */
	const char *rtmr[3]; /* 48 bytes each */
};

/* Writes the attest verify policy (docs/attestation.md, Policy) that pins compose_hash. */
int deploy_policy_write(FILE *f, const char *source, const char *compose_hash,
                        const struct deploy_app_compose *ac, const struct deploy_policy_opts *o,
                        char *err, size_t errlen) PGS_MUSTCHECK;

#endif
