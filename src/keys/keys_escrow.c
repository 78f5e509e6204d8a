/* keys_escrow.c - `pgseal keys escrow` and `pgseal keys recover`: the master key split into
 * ssss-compatible shares, each encrypted to a custodian's certificate as CMS EnvelopedData,
 * a manifest with a check value, and recovery that re-seals the key under this TEE. */
#include "keys/keys_escrow.h"
#include "keys/keys_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/log.h"

#define CHECK_LABEL "pgseal escrow check v1"
#define MANIFEST_FORMAT "pgseal-escrow-v1"
#define MANIFEST_MAX (1u << 20)

bool keys_escrow_allowed(const struct config *cfg)
{
	return cfg && cfg->keys.escrow_allowed;
}

int keys_escrow_check(const uint8_t master[CRYPTO_KEY_LEN], uint8_t out[KEYS_ESCROW_CHECK_LEN])
{
	uint8_t *mac = crypto_secure_alloc(32);
	int rc = crypto_hmac_sha256(master, CRYPTO_KEY_LEN, (const uint8_t *)CHECK_LABEL,
	                            strlen(CHECK_LABEL), mac);
	memcpy(out, mac, KEYS_ESCROW_CHECK_LEN);
	crypto_secure_free(mac);
	return rc;
}

/* ---- manifest ---- */

static bool unhex_exact(const char *s, uint8_t *out, size_t n)
{
	return s && strlen(s) == 2 * n && pgs_unhex(s, 2 * n, out, n) == PGS_OK;
}

int keys_manifest_parse(const char *text, size_t len, struct keys_manifest *m, char *err,
                        size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *check;
	json_int_t k = 0, g = 0;
	const char *format = NULL, *cv = NULL;
	int rc = PGS_ERR;
	memset(m, 0, sizeof(*m));
	if (!doc) {
		pgs_errf(err, errlen, "manifest: not JSON (line %d: %s)", je.line, je.text);
		return PGS_ERR;
	}
	json_t *shares = json_object_get(doc, "shares");
	if (json_unpack_ex(doc, &je, 0, "{s:s, s:I, s:I, s:o}", "format", &format, "threshold", &k,
	                   "master_generation", &g, "check", &check) != 0 ||
	    json_unpack_ex(check, &je, 0, "{s:s}", "value", &cv) != 0) {
		pgs_errf(err, errlen, "manifest: %s", je.text);
		goto out;
	}
	if (strcmp(format, MANIFEST_FORMAT) != 0) {
		pgs_errf(err, errlen, "manifest: format is not %s", MANIFEST_FORMAT);
		goto out;
	}
	if (!json_is_array(shares) || json_array_size(shares) > KEYS_SHAMIR_MAX_SHARES || k < 2 ||
	    (size_t)k > json_array_size(shares)) {
		pgs_errf(err, errlen, "manifest: want 2 <= threshold <= number of shares <= %u",
		         KEYS_SHAMIR_MAX_SHARES);
		goto out;
	}
	if (g < 1 || g > (json_int_t)UINT32_MAX) {
		pgs_errf(err, errlen, "manifest: master_generation out of range");
		goto out;
	}
	if (!unhex_exact(cv, m->check, KEYS_ESCROW_CHECK_LEN)) {
		pgs_errf(err, errlen, "manifest: check.value must be %d hex digits",
		         2 * KEYS_ESCROW_CHECK_LEN);
		goto out;
	}
	m->threshold = (unsigned)k;
	m->nshares = (unsigned)json_array_size(shares);
	m->master_gen = (uint32_t)g;
	rc = PGS_OK;
out:
	json_decref(doc);
	return rc;
}

/* ---- escrow ---- */

static X509 *load_cert(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	X509 *x = NULL;
	if (!f) {
		pgs_errf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (!x) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	ERR_clear_error();
	if (!x) {
		pgs_errf(err, errlen, "%s: not an X.509 certificate (PEM or DER)", path);
		return NULL;
	}
	int id = EVP_PKEY_get_base_id(X509_get0_pubkey(x));
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
		pgs_errf(err, errlen, "%s: the certificate's key is neither RSA nor EC", path);
		X509_free(x);
		return NULL;
	}
	return x;
}

/* One share line, encrypted to one certificate: EnvelopedData, AES-256-CBC content
 * encryption, RSA-OAEP key transport for RSA keys, ECDH (OpenSSL's default) for EC keys. DER. */
static int encrypt_share(X509 *x, const char *line, uint8_t **der, size_t *derlen)
{
	BIO *in = BIO_new_mem_buf(line, (int)strlen(line));
	CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), CMS_BINARY | CMS_PARTIAL);
	int rc = PGS_ERR, n;
	unsigned char *p = NULL;
	if (!in || !cms)
		goto out;
	CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, x, CMS_KEY_PARAM);
	if (!ri)
		goto out;
	if (EVP_PKEY_get_base_id(X509_get0_pubkey(x)) == EVP_PKEY_RSA) {
		EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
		if (!pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0)
			goto out;
	}
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1)
		goto out;
	n = i2d_CMS_ContentInfo(cms, &p);
	if (n <= 0)
		goto out;
	*der = p;
	*derlen = (size_t)n;
	rc = PGS_OK;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	ERR_clear_error();
	return rc;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = pgs_xmalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* "<keystore>.escrow.log": one line per escrow (time, generation, threshold, shares, dir), the
 * record /metrics counts at boot. No key material. */
static void record_escrow(struct keys *k, unsigned threshold, unsigned n, const char *dir)
{
	size_t pl = strlen(keys_keystore_path(k)) + 12;
	char *path = pgs_xmalloc(pl);
	snprintf(path, pl, "%s.escrow.log", keys_keystore_path(k));
	FILE *f = fopen(path, "ae");
	if (f) {
		fprintf(f, "%lld generation=%u threshold=%u shares=%u dir=%s\n",
		        (long long)time(NULL), keys_master_generation(k), threshold, n, dir);
		fclose(f);
		chmod(path, 0600);
	} else {
		log_warn("keys: cannot append to %s: %s", path, strerror(errno));
	}
	free(path);
}

uint64_t keys_escrow_recorded(const char *keystore_path)
{
	size_t pl = strlen(keystore_path) + 12;
	char *path = pgs_xmalloc(pl);
	snprintf(path, pl, "%s.escrow.log", keystore_path);
	FILE *f = fopen(path, "re");
	uint64_t n = 0;
	int c;
	free(path);
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int keys_escrow_write(struct keys *k, unsigned threshold, const char *const *certs, unsigned ncerts,
                      const char *dir, char *err, size_t errlen)
{
	/* an array of pointers: sizeof(*p) is a pointer's size, as meant */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	X509 **xs = pgs_xcalloc(ncerts ? ncerts : 1, sizeof(*xs));
	struct keys_share *sh = crypto_secure_alloc((ncerts ? ncerts : 1) * sizeof(*sh));
	char *line = crypto_secure_alloc(KEYS_SHARE_LINE_MAX + 1);
	uint8_t check[KEYS_ESCROW_CHECK_LEN];
	char hex[2 * 32 + 1];
	json_t *man = NULL, *arr = json_array();
	char *text = NULL;
	int rc = PGS_ERR;

	if (ncerts < 2 || ncerts > KEYS_SHAMIR_MAX_SHARES || threshold < 2 || threshold > ncerts) {
		pgs_errf(
		    err, errlen,
		    "threshold %u with %u certificates: need 2 <= threshold <= certificates <= "
		    "%u",
		    threshold, ncerts, KEYS_SHAMIR_MAX_SHARES);
		goto out;
	}
	for (unsigned i = 0; i < ncerts; i++) {
		if (!(xs[i] = load_cert(certs[i], err, errlen)))
			goto out;
		uint8_t fp[32];
		unsigned fl = 0;
		if (X509_digest(xs[i], EVP_sha256(), fp, &fl) != 1 || fl != 32)
			goto out;
		for (unsigned j = 0; j < i; j++)
			if (X509_cmp(xs[i], xs[j]) == 0) {
				pgs_errf(err, errlen, "%s and %s are the same certificate",
				         certs[j], certs[i]);
				goto out;
			}
		pgs_hex(fp, 32, hex);
		char subj[256] = "";
		X509_NAME_oneline(X509_get_subject_name(xs[i]), subj, sizeof(subj));
		char name[32];
		snprintf(name, sizeof(name), "share-%u.cms", i + 1);
		json_array_append_new(
		    arr, json_pack("{s:I, s:s, s:s, s:s}", "index", (json_int_t)i + 1, "file", name,
		                   "certificate_sha256", hex, "certificate_subject", subj));
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		pgs_errf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* an escrow is all of its files or none: any of them already there stops it before a
	 * share is made (an older escrow in dir is never replaced) */
	for (unsigned i = 0; i <= ncerts; i++) {
		char name[32];
		if (i < ncerts)
			snprintf(name, sizeof(name), "share-%u.cms", i + 1);
		else
			snprintf(name, sizeof(name), "manifest.json");
		char *path = join(dir, name);
		bool exists = keys_file_exists(path);
		if (exists)
			pgs_errf(err, errlen, "%s already exists: refusing to replace an escrow",
			         path);
		free(path);
		if (exists)
			goto out;
	}
	if (keys_shamir_split(keys_master_key(k), threshold, ncerts, sh, err, errlen) != PGS_OK ||
	    keys_escrow_check(keys_master_key(k), check) != PGS_OK)
		goto out;
	for (unsigned i = 0; i < ncerts; i++) {
		uint8_t *der = NULL;
		size_t dl = 0;
		keys_share_format(&sh[i], ncerts, line);
		size_t ll = strlen(line); /* < KEYS_SHARE_LINE_MAX: room for "\n" in the + 1 */
		line[ll] = '\n';
		line[ll + 1] = '\0';
		int erc = encrypt_share(xs[i], line, &der, &dl);
		crypto_wipe(line, KEYS_SHARE_LINE_MAX + 1);
		if (erc != PGS_OK) {
			pgs_errf(err, errlen, "%s: CMS encryption to this certificate failed",
			         certs[i]);
			goto out;
		}
		char name[32];
		snprintf(name, sizeof(name), "share-%u.cms", i + 1);
		char *path = join(dir, name);
		/* never replaces: an older escrow in dir stays as it is */
		int wrc = keys_file_write(path, der, dl, true, err, errlen);
		free(path);
		OPENSSL_free(der);
		if (wrc != PGS_OK)
			goto out;
	}
	pgs_hex(check, KEYS_ESCROW_CHECK_LEN, hex);
	man =
	    json_pack("{s:s, s:I, s:I, s:o, s:{s:s, s:s}, s:{s:s, s:b, s:I, s:s}, s:s, s:I}",
	              "format", MANIFEST_FORMAT, "threshold", (json_int_t)threshold,
	              "master_generation", (json_int_t)keys_master_generation(k), "shares", arr,
	              "check", "algorithm", "HMAC-SHA-256(master key, \"" CHECK_LABEL "\")[0:16]",
	              "value", hex, "ssss", "mode", "hex", "diffusion", 1, "bits", (json_int_t)256,
	              "combine", "ssss-combine -x -t <threshold>", "share_encoding",
	              "CMS EnvelopedData, DER, AES-256-CBC", "created_at", (json_int_t)time(NULL));
	arr = NULL; /* stolen */
	text = man ? json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text) {
		pgs_errf(err, errlen, "manifest: encoding failed");
		goto out;
	}
	char *mpath = join(dir, "manifest.json");
	size_t tl = strlen(text);
	int mrc = keys_file_write(mpath, (const uint8_t *)text, tl, true, err, errlen);
	free(mpath);
	if (mrc != PGS_OK)
		goto out;
	record_escrow(k, threshold, ncerts, dir);
	log_warn("keys: the master key (generation %u) was escrowed: %u shares to %u custodian "
	         "certificates, any %u recover it (%s)",
	         keys_master_generation(k), ncerts, ncerts, threshold, dir);
	rc = PGS_OK;
out:
	for (unsigned i = 0; i < ncerts; i++)
		X509_free(xs[i]);
	free(xs);
	crypto_secure_free(sh);
	crypto_secure_free(line);
	crypto_wipe(check, sizeof(check));
	json_decref(arr);
	json_decref(man);
	free(text);
	return rc;
}

/* ---- recovery ---- */

static int read_share(const char *path, struct keys_share *s, char *err, size_t errlen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char e2[256];
	int r = keys_file_read(path, 4096, false, &data, &len, err, errlen);
	if (r == 1)
		pgs_errf(err, errlen, "%s: does not exist", path);
	if (r != PGS_OK)
		return PGS_ERR;
	r = keys_share_parse((const char *)data, len, s, e2, sizeof(e2));
	crypto_wipe(data, len);
	free(data);
	if (r != PGS_OK)
		pgs_errf(err, errlen, "%s: %s", path, e2);
	return r;
}

/* Seals master under the configured provider into the configured blob path. An existing blob
 * that already holds this key is kept; any other is moved aside to <blob>.before-recover. */
static int reseal(const struct config *cfg, const uint8_t *master, uint32_t gen, char *err,
                  size_t errlen)
{
	enum keys_provider p;
	uint8_t *sealing = crypto_secure_alloc(CRYPTO_KEY_LEN);
	uint8_t *old = crypto_secure_alloc(CRYPTO_KEY_LEN);
	uint8_t blob[KEYS_SEALED_LEN], *cur = NULL;
	size_t curlen = 0;
	char *path = NULL, *aside = NULL;
	int rc = PGS_ERR;
	if (keys_provider_parse(cfg->keys.provider, &p) != PGS_OK) {
		pgs_errf(err, errlen, "unknown keys.provider");
		goto out;
	}
	if (cfg->keys.sealed_master_key) {
		path = pgs_xstrdup(cfg->keys.sealed_master_key);
	} else {
		const char *d = cfg->dir && *cfg->dir ? cfg->dir : ".";
		path = join(d, KEYS_DEFAULT_SEALED);
	}
	if (keys_provider_sealing_key(cfg, p, true, sealing, err, errlen) != PGS_OK)
		goto out;
	int r = keys_file_read(path, 4096, false, &cur, &curlen, err, errlen);
	if (r == PGS_OK) {
		struct keys_sealed_hdr h;
		if (keys_sealed_open(sealing, cur, curlen, &h, old) == PGS_OK && h.provider == p &&
		    h.master_gen == gen && crypto_ct_equal(old, master, CRYPTO_KEY_LEN)) {
			log_info("keys: %s already seals the recovered master key", path);
			rc = PGS_OK;
			goto out;
		}
		size_t al = strlen(path) + 32;
		aside = pgs_xmalloc(al);
		snprintf(aside, al, "%s.before-recover.%lld", path, (long long)time(NULL));
		if (rename(path, aside) != 0) {
			pgs_errf(err, errlen, "%s: cannot move it aside: %s", path,
			         strerror(errno));
			goto out;
		}
		log_warn("keys: %s did not open under this provider's sealing key: moved to %s",
		         path, aside);
	} else if (r != 1) {
		goto out;
	}
	struct keys_sealed_hdr h = {1, (uint8_t)p, gen, (uint64_t)time(NULL)};
	if (keys_sealed_seal(sealing, &h, master, blob) != PGS_OK) {
		pgs_errf(err, errlen, "sealing the recovered master key failed");
		goto out;
	}
	if (keys_file_write(path, blob, sizeof(blob), true, err, errlen) != PGS_OK)
		goto out;
	log_warn("keys: recovered master key (generation %u) sealed by provider %s into %s", gen,
	         keys_provider_str(p), path);
	rc = PGS_OK;
out:
	crypto_secure_free(sealing);
	crypto_secure_free(old);
	free(cur);
	free(path);
	free(aside);
	return rc;
}

int keys_escrow_recover(const struct config *cfg, const char *manifest_path,
                        const char *const *share_files, unsigned nfiles, char *err, size_t errlen)
{
	struct keys_manifest m;
	uint8_t *mtext = NULL, *ks = NULL;
	size_t mlen = 0, kslen = 0;
	struct keys_share *sh = crypto_secure_alloc(KEYS_SHAMIR_MAX_SHARES * sizeof(*sh));
	uint8_t *master = crypto_secure_alloc(CRYPTO_KEY_LEN);
	uint8_t check[KEYS_ESCROW_CHECK_LEN];
	struct keys_store st = {0};
	char *kspath = NULL, e2[256];
	int rc = PGS_ERR;

	int r = keys_file_read(manifest_path, MANIFEST_MAX, false, &mtext, &mlen, err, errlen);
	if (r == 1)
		pgs_errf(err, errlen, "%s: does not exist", manifest_path);
	if (r != PGS_OK)
		goto out;
	if (keys_manifest_parse((const char *)mtext, mlen, &m, e2, sizeof(e2)) != PGS_OK) {
		pgs_errf(err, errlen, "%s: %s", manifest_path, e2);
		goto out;
	}
	if (nfiles < m.threshold) {
		pgs_errf(
		    err, errlen,
		    "%u share(s) given, the escrow needs %u: nothing recovered, nothing written",
		    nfiles, m.threshold);
		goto out;
	}
	if (nfiles > KEYS_SHAMIR_MAX_SHARES) {
		pgs_errf(err, errlen, "too many share files");
		goto out;
	}
	for (unsigned i = 0; i < nfiles; i++) {
		if (read_share(share_files[i], &sh[i], err, errlen) != PGS_OK)
			goto out;
		if (sh[i].index > m.nshares) {
			pgs_errf(err, errlen, "%s: share %u, but the escrow has %u shares",
			         share_files[i], sh[i].index, m.nshares);
			goto out;
		}
	}
	/* the first threshold shares give the key (further ones are not used) */
	if (keys_shamir_combine(sh, m.threshold, master, e2, sizeof(e2)) != PGS_OK) {
		pgs_errf(err, errlen, "%s: nothing written", e2);
		goto out;
	}
	if (keys_escrow_check(master, check) != PGS_OK ||
	    !crypto_ct_equal(check, m.check, KEYS_ESCROW_CHECK_LEN)) {
		pgs_errf(err, errlen,
		         "the combined shares do not give the escrowed master key (check value "
		         "mismatch): a share is corrupted or belongs to another escrow; nothing "
		         "written");
		goto out;
	}
	/* the keystore must be this key's: it is authenticated under the master key */
	kspath = cfg->keys.keystore
	             ? pgs_xstrdup(cfg->keys.keystore)
	             : join(cfg->dir && *cfg->dir ? cfg->dir : ".", KEYS_DEFAULT_KEYSTORE);
	r = keys_file_read(kspath, KEYS_FILE_MAX, false, &ks, &kslen, err, errlen);
	if (r == 1)
		pgs_errf(err, errlen, "%s: the keystore does not exist (restore it first)", kspath);
	if (r != PGS_OK)
		goto out;
	if (keys_store_decode(ks, kslen, master, &st, e2, sizeof(e2)) != PGS_OK) {
		pgs_errf(err, errlen,
		         "%s: does not open under the recovered master key (%s): the keystore is "
		         "of another master key or generation; nothing written",
		         kspath, e2);
		goto out;
	}
	if (st.master_gen != m.master_gen) {
		pgs_errf(err, errlen, "%s: keystore generation %u, escrow generation %u", kspath,
		         st.master_gen, m.master_gen);
		goto out;
	}
	if (reseal(cfg, master, m.master_gen, err, errlen) != PGS_OK)
		goto out;
	rc = PGS_OK;
out:
	keys_store_clear(&st);
	crypto_secure_free(sh);
	crypto_secure_free(master);
	crypto_wipe(check, sizeof(check));
	free(mtext);
	free(ks);
	free(kspath);
	return rc;
}
