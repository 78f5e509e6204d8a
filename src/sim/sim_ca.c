/* sim_ca.c - the simulator's TEST CA (root, platform CA, PCK, TCB signing, attestation key) and
 * collateral. */
#include "sim/sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/log.h"

/* Validity of every test certificate, CRL and collateral item (UTC). */
#define SIM_NOT_BEFORE ((time_t)1735689600) /* 2025-01-01T00:00:00Z */
#define SIM_NOT_AFTER ((time_t)2524607999)  /* 2049-12-31T23:59:59Z */
#define SIM_CRL_NEXT ((time_t)2366841600)   /* 2045-01-01T00:00:00Z */
#define SIM_ORG "pgseal dstack simulator TEST CA - not Intel"
#define SIM_APP_ORG "pgseal dstack simulator TEST App CA - not a dstack KMS"

enum cert_kind { CERT_ROOT, CERT_PLATFORM, CERT_PCK, CERT_TCB, CERT_APP_CA };

int sim_ecdsa_p256_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	int rc = PGS_ERR;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[80];
	size_t dlen = sizeof(der);
	ECDSA_SIG *s = NULL;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, der, &dlen, msg, len) != 1)
		goto out;
	const uint8_t *p = der;
	s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!s)
		goto out;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) != 32)
		goto out;
	rc = PGS_OK;
out:
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int sim_p256_raw_pub(EVP_PKEY *key, uint8_t out[64])
{
	uint8_t buf[65];
	size_t len = 0;
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf,
	                                    sizeof(buf), &len) != 1 ||
	    len != 65 || buf[0] != 0x04)
		return PGS_ERR;
	memcpy(out, buf + 1, 64);
	return PGS_OK;
}

int sim_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!ext)
		return PGS_ERR;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? PGS_OK : PGS_ERR;
}

static int add_sgx_ext(X509 *x, const struct sim_ca *ca, const uint8_t *secret)
{
	uint8_t platform_instance[16], *der = NULL;
	size_t len = 0;
	int rc = PGS_ERR;
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	if (!obj || !os ||
	    sim_hkdf(secret, SIM_SECRET_LEN, "platform-instance-id", NULL, 0, platform_instance,
	             16) ||
	    sim_pck_sgx_extension(ca->ppid, platform_instance, &der, &len) ||
	    ASN1_OCTET_STRING_set(os, der, (int)len) != 1)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (!ext || X509_add_ext(x, ext, -1) != 1)
		goto out;
	rc = PGS_OK;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	free(der);
	return rc;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
                       enum cert_kind kind, const struct sim_ca *ca, const uint8_t *secret)
{
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	bool ok = false;
	if (!x || !serial || X509_set_version(x, 2) != 1 ||
	    BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), SIM_NOT_BEFORE) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), SIM_NOT_AFTER))
		goto out;
	X509_NAME *name = X509_get_subject_name(x);
	const char *org = kind == CERT_APP_CA ? SIM_APP_ORG : SIM_ORG;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (sim_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    sim_x509_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto out;
	switch (kind) {
	case CERT_ROOT:
	case CERT_APP_CA:
		if (sim_x509_add_ext(x, &ctx, NID_basic_constraints,
		                     "critical,CA:TRUE,pathlen:1") ||
		    sim_x509_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto out;
		break;
	case CERT_PLATFORM:
		if (sim_x509_add_ext(x, &ctx, NID_basic_constraints,
		                     "critical,CA:TRUE,pathlen:0") ||
		    sim_x509_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto out;
		break;
	case CERT_PCK:
		if (sim_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
		    sim_x509_add_ext(x, &ctx, NID_key_usage,
		                     "critical,digitalSignature,nonRepudiation") ||
		    add_sgx_ext(x, ca, secret))
			goto out;
		break;
	case CERT_TCB:
		if (sim_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
		    sim_x509_add_ext(x, &ctx, NID_key_usage,
		                     "critical,digitalSignature,nonRepudiation"))
			goto out;
		break;
	}
	if (X509_sign(x, ikey, EVP_sha256()) <= 0)
		goto out;
	ok = true;
out:
	BN_free(serial);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static char *crl_hex(X509 *issuer, EVP_PKEY *ikey)
{
	char *hex = NULL;
	uint8_t *der = NULL;
	X509_CRL *c = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	if (!c || !t || !num || X509_CRL_set_version(c, 1) != 1 ||
	    X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer)) != 1 ||
	    !ASN1_TIME_set(t, SIM_NOT_BEFORE) || X509_CRL_set1_lastUpdate(c, t) != 1 ||
	    !ASN1_TIME_set(t, SIM_CRL_NEXT) || X509_CRL_set1_nextUpdate(c, t) != 1 ||
	    ASN1_INTEGER_set(num, 1) != 1 ||
	    X509_CRL_add1_ext_i2d(c, NID_crl_number, num, 0, 0) != 1 ||
	    X509_CRL_sign(c, ikey, EVP_sha256()) <= 0)
		goto out;
	int len = i2d_X509_CRL(c, &der);
	if (len > 0)
		hex = pgs_hex_dup(der, (size_t)len);
out:
	OPENSSL_free(der);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(c);
	return hex;
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *s = NULL;
	if (b && PEM_write_bio_X509(b, x) == 1) {
		long n = BIO_get_mem_data(b, &data);
		s = pgs_xmalloc((size_t)n + 1);
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}

static char *concat3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 1;
	char *s = pgs_xmalloc(n);
	snprintf(s, n, "%s%s%s", a, b, c ? c : "");
	return s;
}

static int sign_hex(EVP_PKEY *key, const char *text, char **hex)
{
	uint8_t sig[64];
	if (sim_ecdsa_p256_sign(key, (const uint8_t *)text, strlen(text), sig) != PGS_OK)
		return PGS_ERR;
	*hex = pgs_hex_dup(sig, sizeof(sig));
	return PGS_OK;
}

static int build_collateral(struct sim_ca *ca)
{
	int rc = PGS_ERR;
	char *root = cert_pem(ca->root), *platform = cert_pem(ca->platform),
	     *tcb = cert_pem(ca->tcb);
	char *root_crl = crl_hex(ca->root, ca->root_key),
	     *pck_crl = crl_hex(ca->platform, ca->platform_key);
	char *tcb_info = sim_pck_tcb_info_json(), *qe_id = sim_pck_qe_identity_json();
	char *tcb_sig = NULL, *qe_sig = NULL, *pck_chain = NULL, *tcb_chain = NULL;
	if (!root || !platform || !tcb || !root_crl || !pck_crl ||
	    sign_hex(ca->tcb_key, tcb_info, &tcb_sig) || sign_hex(ca->tcb_key, qe_id, &qe_sig))
		goto out;
	pck_chain = concat3(platform, root, NULL);
	tcb_chain = concat3(tcb, root, NULL);
	json_t *o = json_object();
	json_object_set_new(o, "pck_crl_issuer_chain", json_string(pck_chain));
	json_object_set_new(o, "root_ca_crl", json_string(root_crl));
	json_object_set_new(o, "pck_crl", json_string(pck_crl));
	json_object_set_new(o, "tcb_info_issuer_chain", json_string(tcb_chain));
	json_object_set_new(o, "tcb_info", json_string(tcb_info));
	json_object_set_new(o, "tcb_info_signature", json_string(tcb_sig));
	json_object_set_new(o, "qe_identity_issuer_chain", json_string(tcb_chain));
	json_object_set_new(o, "qe_identity", json_string(qe_id));
	json_object_set_new(o, "qe_identity_signature", json_string(qe_sig));
	ca->collateral_json = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	rc = ca->collateral_json ? PGS_OK : PGS_ERR;
out:
	free(root);
	free(platform);
	free(tcb);
	free(root_crl);
	free(pck_crl);
	free(tcb_info);
	free(qe_id);
	free(tcb_sig);
	free(qe_sig);
	free(pck_chain);
	free(tcb_chain);
	return rc;
}

/* File names inside STATE/ca/. */
static const char *const key_files[] = {"root-key.pem", "platform-key.pem", "pck-key.pem",
                                        "tcb-key.pem", "attestation-key.pem"};
static const char *const cert_files[] = {"root.pem", "platform.pem", "pck.pem", "tcb.pem"};

static EVP_PKEY **key_slot(struct sim_ca *ca, size_t i)
{
	EVP_PKEY **slots[] = {&ca->root_key, &ca->platform_key, &ca->pck_key, &ca->tcb_key,
	                      &ca->att_key};
	return slots[i];
}

static X509 **cert_slot(struct sim_ca *ca, size_t i)
{
	X509 **slots[] = {&ca->root, &ca->platform, &ca->pck, &ca->tcb};
	return slots[i];
}

static int save_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *path = sim_path_join(dir, name);
	int rc = PGS_ERR;
	if (!b || (key && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) ||
	    (x && PEM_write_bio_X509(b, x) != 1))
		goto out;
	long n = BIO_get_mem_data(b, &data);
	rc = sim_write_file(path, data, (size_t)n, key ? 0600 : 0644);
out:
	BIO_free_all(b);
	free(path);
	return rc;
}

static int load_pem(const char *dir, const char *name, EVP_PKEY **key, X509 **x)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char *path = sim_path_join(dir, name);
	int rc = PGS_ERR;
	if (sim_read_file(path, &buf, &len) != PGS_OK)
		goto out;
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	if (b) {
		if (key)
			*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		else
			*x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	rc = (key ? *key != NULL : *x != NULL) ? PGS_OK : PGS_ERR;
out:
	if (buf)
		OPENSSL_cleanse(buf, len);
	free(buf);
	free(path);
	return rc;
}

static int create_ca(struct sim_ca *ca, const char *dir, const uint8_t *secret)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(key_files); i++)
		if (!(*key_slot(ca, i) = EVP_EC_gen("P-256")))
			return PGS_ERR;
	ca->root = make_cert(ca->root_key, "pgseal dstack simulator TEST Root CA - not Intel", NULL,
	                     ca->root_key, CERT_ROOT, ca, secret);
	if (!ca->root)
		return PGS_ERR;
	ca->platform =
	    make_cert(ca->platform_key, "pgseal dstack simulator TEST PCK Platform CA - not Intel",
	              ca->root, ca->root_key, CERT_PLATFORM, ca, secret);
	if (!ca->platform)
		return PGS_ERR;
	ca->pck =
	    make_cert(ca->pck_key, "pgseal dstack simulator TEST SGX PCK Certificate - not Intel",
	              ca->platform, ca->platform_key, CERT_PCK, ca, secret);
	ca->tcb = make_cert(ca->tcb_key, "pgseal dstack simulator TEST TCB Signing - not Intel",
	                    ca->root, ca->root_key, CERT_TCB, ca, secret);
	if (!ca->pck || !ca->tcb || build_collateral(ca) != PGS_OK)
		return PGS_ERR;
	/* Keys and collateral first, the root certificate last: its presence marks a complete CA.
	 */
	for (size_t i = 0; i < PGS_ARRAY_LEN(key_files); i++)
		if (save_pem(dir, key_files[i], *key_slot(ca, i), NULL))
			return PGS_ERR;
	char *cpath = sim_path_join(dir, "collateral.json");
	int rc = sim_write_file(cpath, ca->collateral_json, strlen(ca->collateral_json), 0644);
	free(cpath);
	if (rc)
		return PGS_ERR;
	for (size_t i = PGS_ARRAY_LEN(cert_files); i-- > 0;)
		if (save_pem(dir, cert_files[i], NULL, *cert_slot(ca, i)))
			return PGS_ERR;
	return PGS_OK;
}

/* The CA that signs GetTlsKey certificates (dstack's KMS-issued app CA); added to older state dirs
 * too. */
static int load_or_create_app_ca(struct sim_ca *ca, const char *dir, const uint8_t *secret)
{
	char *path = sim_path_join(dir, "app-ca.pem");
	int exists = access(path, F_OK) == 0;
	free(path);
	if (exists)
		return load_pem(dir, "app-ca-key.pem", &ca->app_ca_key, NULL) ||
		               load_pem(dir, "app-ca.pem", NULL, &ca->app_ca)
		           ? PGS_ERR
		           : PGS_OK;
	ca->app_ca_key = EVP_EC_gen("P-256");
	if (!ca->app_ca_key)
		return PGS_ERR;
	ca->app_ca =
	    make_cert(ca->app_ca_key, "pgseal dstack simulator TEST App CA - not a dstack KMS",
	              NULL, ca->app_ca_key, CERT_APP_CA, ca, secret);
	if (!ca->app_ca || save_pem(dir, "app-ca-key.pem", ca->app_ca_key, NULL) ||
	    save_pem(dir, "app-ca.pem", NULL, ca->app_ca))
		return PGS_ERR;
	return PGS_OK;
}

int sim_ca_load_or_create(struct sim_ca *ca, const char *state_dir, const uint8_t *secret)
{
	int rc = PGS_ERR;
	char *dir = sim_path_join(state_dir, "ca");
	char *root = sim_path_join(dir, "root.pem");
	memset(ca, 0, sizeof(*ca));
	if (sim_hkdf(secret, SIM_SECRET_LEN, "ppid", NULL, 0, ca->ppid, 16) ||
	    sim_hkdf(secret, SIM_SECRET_LEN, "qe-id", NULL, 0, ca->qe_id, 16))
		goto out;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	if (access(root, F_OK) != 0) {
		log_warn("dstack-sim: creating a new TEST CA in %s (not Intel; quotes it signs "
		         "prove nothing)",
		         dir);
		if (create_ca(ca, dir, secret) != PGS_OK)
			goto out;
	} else {
		for (size_t i = 0; i < PGS_ARRAY_LEN(key_files); i++)
			if (load_pem(dir, key_files[i], key_slot(ca, i), NULL))
				goto out;
		for (size_t i = 0; i < PGS_ARRAY_LEN(cert_files); i++)
			if (load_pem(dir, cert_files[i], NULL, cert_slot(ca, i)))
				goto out;
		uint8_t *buf = NULL;
		size_t len = 0;
		char *cpath = sim_path_join(dir, "collateral.json");
		int r = sim_read_file(cpath, &buf, &len);
		free(cpath);
		if (r != PGS_OK)
			goto out;
		ca->collateral_json = (char *)buf;
	}
	if (load_or_create_app_ca(ca, dir, secret) != PGS_OK)
		goto out;
	ca->app_ca_pem = cert_pem(ca->app_ca);
	char *leaf = cert_pem(ca->pck), *platform = cert_pem(ca->platform),
	     *rootpem = cert_pem(ca->root);
	if (leaf && platform && rootpem)
		ca->pck_chain_pem = concat3(leaf, platform, rootpem);
	free(leaf);
	free(platform);
	free(rootpem);
	if (!ca->pck_chain_pem)
		goto out;
	rc = PGS_OK;
out:
	if (rc != PGS_OK)
		log_error("dstack-sim: cannot load or create the test CA in %s", dir);
	free(root);
	free(dir);
	return rc;
}

int sim_ca_write_public(const struct sim_ca *ca, const char *dir)
{
	int rc = PGS_ERR;
	char *root = cert_pem(ca->root);
	uint8_t *der = NULL;
	int dlen = i2d_X509(ca->root, &der);
	char *p1 = sim_path_join(dir, "sim-root.pem"), *p2 = sim_path_join(dir, "sim-root.der");
	char *p3 = sim_path_join(dir, "sim-pck-chain.pem"),
	     *p4 = sim_path_join(dir, "sim-collateral.json");
	if (!root || dlen <= 0)
		goto out;
	if (sim_write_file(p1, root, strlen(root), 0644) ||
	    sim_write_file(p2, der, (size_t)dlen, 0644) ||
	    sim_write_file(p3, ca->pck_chain_pem, strlen(ca->pck_chain_pem), 0644) ||
	    sim_write_file(p4, ca->collateral_json, strlen(ca->collateral_json), 0644))
		goto out;
	rc = PGS_OK;
out:
	OPENSSL_free(der);
	free(root);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	return rc;
}

void sim_ca_free(struct sim_ca *ca)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(key_files); i++)
		EVP_PKEY_free(*key_slot(ca, i));
	for (size_t i = 0; i < PGS_ARRAY_LEN(cert_files); i++)
		X509_free(*cert_slot(ca, i));
	EVP_PKEY_free(ca->app_ca_key);
	X509_free(ca->app_ca);
	free(ca->app_ca_pem);
	free(ca->collateral_json);
	free(ca->pck_chain_pem);
	memset(ca, 0, sizeof(*ca));
}
