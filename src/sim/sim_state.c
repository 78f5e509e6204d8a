/* sim_state.c - the simulator's persistent secret, identities, key derivation and boot event log.
 */
#include "sim/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/log.h"

/* The app-compose the simulator reports when no --compose-hash is given; its SHA-256 is the compose
 * hash. */
static const char default_app_compose[] =
    "{\"manifest_version\":2,\"name\":\"pgseal\",\"runner\":\"docker-compose\","
    "\"docker_compose_file\":\"# pgseal-dstack-sim: simulated app, no real compose file\\n\","
    "\"kms_enabled\":true,\"gateway_enabled\":false,\"public_logs\":false,\"public_sysinfo\":false,"
    "\"public_tcbinfo\":true,\"local_key_provider_enabled\":false,\"allowed_envs\":[],"
    "\"no_instance_id\":false,\"secure_time\":false}";

/* Reads STATE/secret.bin, or creates it (32 random bytes, 0600, O_EXCL) on first start. */
static int load_secret(const char *dir, uint8_t secret[SIM_SECRET_LEN])
{
	char *path = sim_path_join(dir, "secret.bin");
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = PGS_ERR;
	struct stat sb;
	if (stat(path, &sb) == 0) {
		if (sb.st_mode & 077) {
			log_error("dstack-sim: %s is readable by group/others; refusing to use it",
			          path);
			goto out;
		}
		if (sim_read_file(path, &buf, &len) != PGS_OK || len != SIM_SECRET_LEN) {
			log_error("dstack-sim: %s is unreadable or not %d bytes", path,
			          SIM_SECRET_LEN);
			goto out;
		}
		memcpy(secret, buf, SIM_SECRET_LEN);
		rc = PGS_OK;
		goto out;
	}
	if (RAND_bytes(secret, SIM_SECRET_LEN) != 1)
		goto out;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("dstack-sim: cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	ssize_t w = write(fd, secret, SIM_SECRET_LEN);
	if (w != SIM_SECRET_LEN || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	log_info("dstack-sim: created a new simulator secret in %s", path);
	rc = PGS_OK;
out:
	if (buf)
		OPENSSL_cleanse(buf, len);
	free(buf);
	free(path);
	return rc;
}

/* HKDF output that is a valid secp256k1 scalar (retries with a counter byte; practically never
 * needed). */
static int derive_scalar(const uint8_t *ikm, size_t ikmlen, const char *label, const uint8_t *ctx,
                         size_t ctxlen, uint8_t out[32])
{
	uint8_t *c = pgs_xmalloc(ctxlen + 1);
	int rc = PGS_ERR;
	if (ctxlen)
		memcpy(c, ctx, ctxlen);
	for (uint8_t ctr = 0; ctr < 8; ctr++) {
		c[ctxlen] = ctr;
		if (sim_hkdf(ikm, ikmlen, label, c, ctr ? ctxlen + 1 : ctxlen, out, 32) != PGS_OK)
			break;
		if (sim_k256_valid_scalar(out)) {
			rc = PGS_OK;
			break;
		}
	}
	free(c);
	return rc;
}

static void add_boot_events(struct sim_state *st)
{
	/* Stand-ins for firmware measurements, so that RTMR0-2 replay from the log as on hardware.
	 */
	static const char *const imr0[] = {"pgseal-dstack-sim TEST firmware: TdxTable",
	                                   "pgseal-dstack-sim TEST firmware: ACPI DATA"};
	static const char *const imr1[] = {
	    "pgseal-dstack-sim TEST boot: Calling EFI Application from Boot Option",
	    "pgseal-dstack-sim TEST boot: Exit Boot Services Invocation"};
	static const char *const imr2[] = {"pgseal-dstack-sim TEST kernel command line",
	                                   "pgseal-dstack-sim TEST initrd"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(imr0); i++)
		sim_evlog_add_boot(&st->log, 0, 0x8000000Bu, (const uint8_t *)imr0[i],
		                   strlen(imr0[i]));
	for (size_t i = 0; i < PGS_ARRAY_LEN(imr1); i++)
		sim_evlog_add_boot(&st->log, 1, 0x80000007u, (const uint8_t *)imr1[i],
		                   strlen(imr1[i]));
	for (size_t i = 0; i < PGS_ARRAY_LEN(imr2); i++)
		sim_evlog_add_boot(&st->log, 2, 0x6u, (const uint8_t *)imr2[i], strlen(imr2[i]));
	/* The runtime events dstack's boot sequence extends into RTMR3, in dstack's order. */
	sim_evlog_add_runtime(&st->log, "system-preparing", NULL, 0);
	sim_evlog_add_runtime(&st->log, "app-id", st->app_id, SIM_APP_ID_LEN);
	sim_evlog_add_runtime(&st->log, "compose-hash", st->compose_hash, st->compose_hash_len);
	sim_evlog_add_runtime(&st->log, "instance-id", st->instance_id, SIM_INSTANCE_ID_LEN);
	sim_evlog_add_runtime(&st->log, "boot-mr-done", NULL, 0);
	sim_evlog_add_runtime(&st->log, "key-provider", (const uint8_t *)st->key_provider_info,
	                      strlen(st->key_provider_info));
	sim_evlog_add_runtime(&st->log, "system-ready", NULL, 0);
}

/* compose hash = SHA-256 of the app-compose text (dstack's definition), or the given hex. */
static int set_compose(struct sim_state *st, const char *hex, const char *file)
{
	if (hex && file) {
		log_error("dstack-sim: give --compose-hash or --app-compose, not both");
		return PGS_ERR;
	}
	if (file) {
		uint8_t *buf = NULL;
		size_t len = 0;
		if (sim_read_file(file, &buf, &len) != PGS_OK || len == 0 ||
		    strlen((char *)buf) != len) {
			free(buf);
			log_error("dstack-sim: cannot read the app-compose file %s", file);
			return PGS_ERR;
		}
		st->app_compose = (char *)buf;
	} else {
		st->app_compose = pgs_xstrdup(default_app_compose);
	}
	if (!hex) {
		sim_sha256(st->app_compose, strlen(st->app_compose), NULL, 0, st->compose_hash);
		st->compose_hash_len = 32;
		return PGS_OK;
	}
	uint8_t *b = NULL;
	size_t n = 0;
	if (sim_unhex(hex, &b, &n) != PGS_OK || n == 0 || n > SIM_COMPOSE_HASH_MAX) {
		free(b);
		log_error("dstack-sim: --compose-hash must be 1 to %d bytes of hex",
		          SIM_COMPOSE_HASH_MAX);
		return PGS_ERR;
	}
	if (n != 32)
		log_warn("dstack-sim: --compose-hash is %zu bytes; dstack's compose hashes are 32 "
		         "(SHA-256)",
		         n);
	memcpy(st->compose_hash, b, n);
	st->compose_hash_len = n;
	free(b);
	return PGS_OK;
}

int sim_state_open(struct sim_state *st, const struct sim_opts *opts)
{
	int rc = PGS_ERR;
	memset(st, 0, sizeof(*st));
	if (opts->state_dir) {
		st->state_dir = pgs_xstrdup(opts->state_dir);
	} else {
		size_t n = strlen(opts->socket_path) + 3;
		st->state_dir = pgs_xmalloc(n);
		snprintf(st->state_dir, n, "%s.d", opts->socket_path);
	}
	char *slash = strrchr(opts->socket_path, '/');
	if (!slash)
		st->public_dir = pgs_xstrdup(".");
	else if (slash == opts->socket_path)
		st->public_dir = pgs_xstrdup("/");
	else
		st->public_dir = strndup(opts->socket_path, (size_t)(slash - opts->socket_path));
	if (!st->public_dir)
		goto out;
	if (mkdir(st->state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("dstack-sim: cannot create state directory %s: %s", st->state_dir,
		          strerror(errno));
		goto out;
	}
	if (load_secret(st->state_dir, st->secret) != PGS_OK ||
	    set_compose(st, opts->compose_hash, opts->app_compose_file) != PGS_OK)
		goto out;
	st->app_name = pgs_xstrdup(opts->app_name ? opts->app_name : "pgseal");

	uint8_t *s = st->secret;
	if (sim_hkdf(s, SIM_SECRET_LEN, "app-id", NULL, 0, st->app_id, SIM_APP_ID_LEN) ||
	    sim_hkdf(s, SIM_SECRET_LEN, "instance-id", NULL, 0, st->instance_id,
	             SIM_INSTANCE_ID_LEN) ||
	    sim_hkdf(s, SIM_SECRET_LEN, "device-id", NULL, 0, st->device_id, SIM_DEVICE_ID_LEN))
		goto out;
	/* The app root key binds the compose hash, so another compose hash derives other keys. */
	uint8_t ctx[SIM_APP_ID_LEN + SIM_COMPOSE_HASH_MAX];
	memcpy(ctx, st->app_id, SIM_APP_ID_LEN);
	memcpy(ctx + SIM_APP_ID_LEN, st->compose_hash, st->compose_hash_len);
	if (derive_scalar(s, SIM_SECRET_LEN, "app-key", ctx, SIM_APP_ID_LEN + st->compose_hash_len,
	                  st->app_key) ||
	    derive_scalar(s, SIM_SECRET_LEN, "kms-root-key", NULL, 0, st->kms_key) ||
	    sim_k256_pubkey(st->app_key, st->app_pub) || sim_k256_pubkey(st->kms_key, st->kms_pub))
		goto out;
	/* dstack's k256_signature: the KMS root signs "dstack-kms-issued:" || app_id || app public
	 * key. */
	static const char issued[] = "dstack-kms-issued:";
	uint8_t msg[sizeof(issued) - 1 + SIM_APP_ID_LEN + 33], digest[32];
	memcpy(msg, issued, sizeof(issued) - 1);
	memcpy(msg + sizeof(issued) - 1, st->app_id, SIM_APP_ID_LEN);
	memcpy(msg + sizeof(issued) - 1 + SIM_APP_ID_LEN, st->app_pub, 33);
	sim_keccak256(msg, sizeof(msg), digest);
	if (sim_k256_sign_recoverable(st->kms_key, digest, st->kms_sig) != PGS_OK)
		goto out;

	sim_sha384("pgseal-dstack-sim TEST MRTD", 27, st->mrtd);
	sim_sha384("pgseal-dstack-sim TEST MRSEAM", 29, st->mrseam);
	sim_sha256("pgseal-dstack-sim TEST OS image", 31, NULL, 0, st->os_image_hash);
	char *kms_hex = pgs_hex_dup(st->kms_pub, 33), *os_hex = pgs_hex_dup(st->os_image_hash, 32);
	size_t n = strlen(kms_hex) + 64;
	st->key_provider_info = pgs_xmalloc(n);
	snprintf(st->key_provider_info, n, "{\"name\":\"pgseal-dstack-sim\",\"id\":\"%s\"}",
	         kms_hex);
	n = strlen(os_hex) + 400;
	st->vm_config = pgs_xmalloc(n);
	snprintf(st->vm_config, n,
	         "{\"spec_version\":1,\"os_image_hash\":\"%s\",\"cpu_count\":2,\"memory_size\":"
	         "2147483648,"
	         "\"qemu_single_pass_add_pages\":false,\"pic\":false,\"pci_hole64_size\":0,\"num_"
	         "gpus\":0,"
	         "\"num_nvswitches\":0,\"hugepages\":false,\"hotplug_off\":true,\"qemu_version\":"
	         "\"pgseal-dstack-sim\"}",
	         os_hex);
	free(kms_hex);
	free(os_hex);

	add_boot_events(st);
	uint8_t mrs[4 * SIM_MR_LEN + SIM_MR_LEN];
	memcpy(mrs, st->mrtd, SIM_MR_LEN);
	for (uint32_t i = 0; i < 3; i++)
		sim_evlog_replay(&st->log, i, mrs + SIM_MR_LEN * (i + 1));
	sim_sha256(mrs, 4 * SIM_MR_LEN, NULL, 0,
	           st->mr_aggregated); /* simulator: SHA-256(MRTD || RTMR0-2) */

	if (sim_ca_load_or_create(&st->ca, st->state_dir, st->secret) != PGS_OK)
		goto out;
	if (sim_ca_write_public(&st->ca, st->public_dir) != PGS_OK) {
		log_error("dstack-sim: cannot write the test CA files into %s", st->public_dir);
		goto out;
	}
	rc = PGS_OK;
out:
	return rc;
}

int sim_state_get_key(const struct sim_state *st, const char *path, const char *purpose,
                      bool ed25519, uint8_t key[32], uint8_t sig0[SIM_K256_SIG_LEN])
{
	uint8_t pub[33], digest[32];
	size_t publen = 33;
	int rc = PGS_ERR;
	char *pubhex = NULL, *msg = NULL;
	/* As dstack: the key depends on the path only (and, here, on the app key, i.e. the compose
	 * hash). */
	if (derive_scalar(st->app_key, 32, "get-key", (const uint8_t *)path, strlen(path), key) !=
	    PGS_OK)
		goto out;
	if (ed25519) {
		publen = 32;
		if (sim_ed25519_pubkey(key, pub) != PGS_OK)
			goto out;
	} else if (sim_k256_pubkey(key, pub) != PGS_OK) {
		goto out;
	}
	pubhex = pgs_hex_dup(pub, publen);
	size_t n = strlen(purpose) + strlen(pubhex) + 2;
	msg = pgs_xmalloc(n);
	snprintf(msg, n, "%s:%s", purpose, pubhex);
	sim_keccak256((const uint8_t *)msg, strlen(msg), digest);
	if (sim_k256_sign_recoverable(st->app_key, digest, sig0) != PGS_OK)
		goto out;
	rc = PGS_OK;
out:
	free(pubhex);
	free(msg);
	return rc;
}

void sim_state_close(struct sim_state *st)
{
	OPENSSL_cleanse(st->secret, sizeof(st->secret));
	OPENSSL_cleanse(st->app_key, sizeof(st->app_key));
	OPENSSL_cleanse(st->kms_key, sizeof(st->kms_key));
	sim_ca_free(&st->ca);
	sim_evlog_free(&st->log);
	free(st->state_dir);
	free(st->public_dir);
	free(st->app_compose);
	free(st->app_name);
	free(st->vm_config);
	free(st->key_provider_info);
	memset(st, 0, sizeof(*st));
}
