/* keys_provider.c - where the sealing key comes from: dstack GetKey, PGSEAL_MASTER_KEY, or a dev
 * key file. */
#include "keys/keys_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tee/tee.h"

/* Fixed GetKey request: the same app always derives the same key for this path. */
#define DSTACK_KEY_PATH "pgseal/master-key-sealing/v1"
#define DSTACK_KEY_PURPOSE "pgseal-sealing"
#define ENV_VAR "PGSEAL_MASTER_KEY"

int keys_provider_parse(const char *name, enum keys_provider *out)
{
	if (!name || !strcmp(name, "dstack"))
		*out = KEYS_PROV_DSTACK;
	else if (!strcmp(name, "env"))
		*out = KEYS_PROV_ENV;
	else if (!strcmp(name, "file"))
		*out = KEYS_PROV_FILE;
	else
		return PGS_ERR;
	return PGS_OK;
}

const char *keys_provider_str(enum keys_provider p)
{
	switch (p) {
	case KEYS_PROV_DSTACK:
		return "dstack";
	case KEYS_PROV_ENV:
		return "env";
	case KEYS_PROV_FILE:
		return "file";
	}
	return "unknown";
}

/* The provider's raw secret is never used directly: it is expanded with HKDF under a
 * label naming the provider, so one secret cannot serve two providers. */
static int derive(const uint8_t *ikm, size_t len, enum keys_provider p, uint8_t out[CRYPTO_KEY_LEN])
{
	char info[64];
	snprintf(info, sizeof(info), "pgseal sealing key v1 %s", keys_provider_str(p));
	return crypto_hkdf_sha256(ikm, len, (const uint8_t *)"pgseal", 6, info, out,
	                          CRYPTO_KEY_LEN);
}

static int from_dstack(const struct config *cfg, uint8_t out[CRYPTO_KEY_LEN], char *err,
                       size_t errlen)
{
	const char *ep = tee_dstack_endpoint(cfg->keys.dstack_endpoint);
	struct tee_dstack_info info;
	uint8_t *raw = crypto_secure_alloc(TEE_DSTACK_MAX_KEY);
	size_t rawlen = 0, nsig = 0;
	int rc = PGS_ERR;
	char ierr[256];
	/* Info is for the log only: GetKey decides whether we can go on */
	if (tee_dstack_info(ep, &info, ierr, sizeof(ierr)) == PGS_OK) {
		log_info("dstack: endpoint %s, app_id %s, compose_hash %s, instance_id %s", ep,
		         info.app_id ? info.app_id : "?",
		         info.compose_hash ? info.compose_hash : "?",
		         info.instance_id ? info.instance_id : "?");
		tee_dstack_info_free(&info);
	} else {
		log_warn("dstack: %s", ierr);
	}
	if (tee_dstack_get_key(ep, DSTACK_KEY_PATH, DSTACK_KEY_PURPOSE, raw, TEE_DSTACK_MAX_KEY,
	                       &rawlen, &nsig, err, errlen) != PGS_OK)
		goto out;
	if (rawlen < 16) {
		pgs_errf(err, errlen, "dstack GetKey returned a %zu-byte key (need >= 16)", rawlen);
		goto out;
	}
	log_debug("dstack: GetKey returned a key with a %zu-entry signature chain", nsig);
	rc = derive(raw, rawlen, KEYS_PROV_DSTACK, out);
out:
	crypto_secure_free(raw);
	return rc;
}

int keys_provider_env_raw(uint8_t out[CRYPTO_KEY_LEN], char *err, size_t errlen)
{
	char *v = getenv(ENV_VAR);
	uint8_t *raw = crypto_secure_alloc(64);
	size_t len = 0, vl;
	int rc = PGS_ERR;
	if (!v) {
		pgs_errf(err, errlen, "provider env: %s is not set", ENV_VAR);
		goto out;
	}
	vl = strlen(v);
	while (vl && (v[vl - 1] == '\n' || v[vl - 1] == '\r' || v[vl - 1] == ' '))
		vl--;
	int drc = pgs_b64_decode(v, vl, raw, 64, &len);
	/* Drop the variable, then wipe "NAME=value" in place: the initial environment is
	 * what /proc/PID/environ shows, and unsetenv only unlinks it. glibc never frees
	 * environment strings, so the memory stays valid after unsetenv. */
	/* every entry of that name goes: a duplicate would stay readable in /proc/PID/environ */
	char *entries[16];
	size_t nentries = 0;
	size_t nlen = strlen(ENV_VAR);
	for (char **e = environ; *e && nentries < PGS_ARRAY_LEN(entries); e++)
		if (!strncmp(*e, ENV_VAR, nlen) && (*e)[nlen] == '=')
			entries[nentries++] = *e;
	unsetenv(ENV_VAR);
	for (size_t i = 0; i < nentries; i++)
		crypto_wipe(entries[i], strlen(entries[i]));
	if (drc != PGS_OK || len != CRYPTO_KEY_LEN) {
		pgs_errf(err, errlen, "provider env: %s must be base64 of exactly 32 bytes",
		         ENV_VAR);
		goto out;
	}
	memcpy(out, raw, CRYPTO_KEY_LEN);
	rc = PGS_OK;
out:
	crypto_secure_free(raw);
	return rc;
}

static int from_env(uint8_t out[CRYPTO_KEY_LEN], char *err, size_t errlen)
{
	uint8_t *raw = crypto_secure_alloc(CRYPTO_KEY_LEN);
	int rc = keys_provider_env_raw(raw, err, errlen);
	if (rc == PGS_OK)
		rc = derive(raw, CRYPTO_KEY_LEN, KEYS_PROV_ENV, out);
	crypto_secure_free(raw);
	return rc;
}

static int from_file(const struct config *cfg, bool create, uint8_t out[CRYPTO_KEY_LEN], char *err,
                     size_t errlen)
{
	const char *path = cfg->keys.sealing_key_file;
	uint8_t *data = NULL, *key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	size_t len = 0;
	int rc = PGS_ERR;
	log_warn("keys provider 'file' (%s): development only, NOT a TEE - anyone who can read "
	         "this file and the sealed blob has every key",
	         path ? path : "(none)");
	if (!path) {
		pgs_errf(err, errlen, "provider file needs keys.sealing_key_file");
		goto out;
	}
	int r = keys_file_read(path, 256, true, &data, &len, err, errlen);
	if (r == 1 && create) {
		if (crypto_random(key, CRYPTO_KEY_LEN) != PGS_OK ||
		    keys_file_write(path, key, CRYPTO_KEY_LEN, true, err, errlen) != PGS_OK)
			goto out;
		log_warn("created development sealing key file %s", path);
	} else if (r == 1) {
		pgs_errf(err, errlen, "%s: sealing key file does not exist", path);
		goto out;
	} else if (r != PGS_OK) {
		goto out;
	} else {
		size_t l = len;
		while (l && (data[l - 1] == '\n' || data[l - 1] == '\r'))
			l--;
		if (len == CRYPTO_KEY_LEN)
			memcpy(key, data, CRYPTO_KEY_LEN);
		else if (l != 2 * CRYPTO_KEY_LEN ||
		         pgs_unhex((const char *)data, l, key, CRYPTO_KEY_LEN) != PGS_OK) {
			pgs_errf(err, errlen, "%s: must hold 32 raw bytes or 64 hex digits", path);
			goto out;
		}
	}
	rc = derive(key, CRYPTO_KEY_LEN, KEYS_PROV_FILE, out);
out:
	crypto_secure_free(data);
	crypto_secure_free(key);
	return rc;
}

int keys_provider_sealing_key(const struct config *cfg, enum keys_provider p, bool create_file,
                              uint8_t out[CRYPTO_KEY_LEN], char *err, size_t errlen)
{
	switch (p) {
	case KEYS_PROV_DSTACK:
		return from_dstack(cfg, out, err, errlen);
	case KEYS_PROV_ENV:
		return from_env(out, err, errlen);
	case KEYS_PROV_FILE:
		return from_file(cfg, create_file, out, err, errlen);
	}
	pgs_errf(err, errlen, "unknown key provider");
	return PGS_ERR;
}
