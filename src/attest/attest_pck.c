/* attest_pck.c - X.509 side of DCAP: PEM chains, chain + CRL verification (OpenSSL), raw ECDSA, PCK
 * SGX extension. */
#include "attest/attest_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_MAX 8

STACK_OF(X509) * attest_pem_chain(const uint8_t *pem, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	if (!bio || !sk)
		goto fail;
	while (sk_X509_num(sk) < CHAIN_MAX && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	}
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
fail:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return NULL;
}

static X509_CRL *crl_from_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	if (!der || len > INT32_MAX)
		return NULL;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (crl && p != der + len) {
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

int attest_chain_verify(STACK_OF(X509) * chain, X509 *root, int64_t now, const uint8_t *root_crl,
                        size_t root_crl_len, const uint8_t *pck_crl, size_t pck_crl_len, char *err,
                        size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_CRL *crls[2] = {NULL, NULL};
	int rc = PGS_ERR;

	if (!store || !ctx || !untrusted || !X509_STORE_add_cert(store, root)) {
		pgs_errf(err, errlen, "cannot set up certificate verification");
		goto out;
	}
	for (int i = 1; i < sk_X509_num(chain); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(chain, i)))
			goto out;
	unsigned long flags = X509_V_FLAG_X509_STRICT;
	if (root_crl || pck_crl) {
		crls[0] = crl_from_der(root_crl, root_crl_len);
		crls[1] = crl_from_der(pck_crl, pck_crl_len);
		if (!crls[0] || !crls[1]) {
			pgs_errf(err, errlen, "a CRL in the collateral is not valid DER");
			goto out;
		}
		if (!X509_STORE_add_crl(store, crls[0]) || !X509_STORE_add_crl(store, crls[1]))
			goto out;
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	}
	if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted))
		goto out;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_VERIFY_PARAM_set_time(param, (time_t)now);
	X509_VERIFY_PARAM_set_depth(param, CHAIN_MAX);
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		pgs_errf(err, errlen, "certificate at depth %d: %s",
		         X509_STORE_CTX_get_error_depth(ctx), X509_verify_cert_error_string(e));
		goto out;
	}
	rc = PGS_OK;
out:
	X509_CRL_free(crls[0]);
	X509_CRL_free(crls[1]);
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

/* ---- ECDSA with raw r||s signatures -------------------------------------------------- */

static unsigned char *raw_sig_to_der(const uint8_t sig[64], int *derlen)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return NULL;
	}
	*derlen = i2d_ECDSA_SIG(s, &der);
	ECDSA_SIG_free(s);
	if (*derlen <= 0) {
		OPENSSL_free(der);
		return NULL;
	}
	return der;
}

bool attest_ecdsa_verify_key(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t sig[64])
{
	int derlen = 0;
	unsigned char *der = raw_sig_to_der(sig, &derlen);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = false;
	if (der && md && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1)
		ok = EVP_DigestVerify(md, der, (size_t)derlen, msg, len) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

bool attest_ecdsa_verify_raw(const uint8_t pub[64], const uint8_t *msg, size_t len,
                             const uint8_t sig[64])
{
	uint8_t point[65];
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[3];
	bool ok = false;

	point[0] = 0x04;
	memcpy(point + 1, pub, 64);
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	params[1] =
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	if (pctx && EVP_PKEY_fromdata_init(pctx) == 1 &&
	    EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1)
		ok = attest_ecdsa_verify_key(key, msg, len, sig);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(pctx);
	ERR_clear_error();
	return ok;
}

/* ---- Intel SGX extension of the PCK certificate ------------------------------------ */

/* A DER TLV reader: fails on short input, indefinite or oversized lengths. */
struct der {
	const uint8_t *p;
	size_t n;
};

static bool der_next(struct der *d, uint8_t *tag, struct der *val)
{
	if (d->n < 2)
		return false;
	*tag = d->p[0];
	size_t len = d->p[1], hdr = 2;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 3 || d->n < 2 + k)
			return false;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | d->p[2 + i];
		hdr += k;
	}
	if (len > d->n - hdr)
		return false;
	val->p = d->p + hdr;
	val->n = len;
	d->p += hdr + len;
	d->n -= hdr + len;
	return true;
}

/* OID 1.2.840.113741.1.13.1 content bytes, followed by the sub-arcs we look for. */
static const uint8_t sgx_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

/* Matches an OID (content bytes) of the form sgx_oid.a[.b]; returns the arcs. */
static bool sgx_sub_oid(struct der oid, int *a, int *b)
{
	if (oid.n < sizeof(sgx_oid) + 1 || memcmp(oid.p, sgx_oid, sizeof(sgx_oid)) != 0)
		return false;
	size_t rest = oid.n - sizeof(sgx_oid);
	const uint8_t *r = oid.p + sizeof(sgx_oid);
	if (rest == 1 && r[0] < 0x80) {
		*a = r[0];
		*b = -1;
		return true;
	}
	if (rest == 2 && r[0] < 0x80 && r[1] < 0x80) {
		*a = r[0];
		*b = r[1];
		return true;
	}
	return false;
}

static bool der_uint(struct der v, unsigned max, unsigned *out)
{
	unsigned x = 0;
	if (v.n == 0 || v.n > 3 || (v.p[0] & 0x80))
		return false;
	for (size_t i = 0; i < v.n; i++)
		x = x << 8 | v.p[i];
	if (x > max)
		return false;
	*out = x;
	return true;
}

static bool parse_tcb_seq(struct der seq, struct attest_pck_ext *o, unsigned *seen)
{
	uint8_t tag;
	struct der item;
	while (seq.n) {
		struct der oid, val;
		int a, b;
		unsigned x;
		if (!der_next(&seq, &tag, &item) || tag != 0x30)
			return false;
		if (!der_next(&item, &tag, &oid) || tag != 0x06 || !der_next(&item, &tag, &val))
			return false;
		if (!sgx_sub_oid(oid, &a, &b) || a != 2 || b < 1)
			continue;
		if (b >= 1 && b <= 16 && tag == 0x02 && der_uint(val, 255, &x)) {
			o->comp_svn[b - 1] = (uint8_t)x;
			*seen |= 1u << (b - 1);
		} else if (b == 17 && tag == 0x02 && der_uint(val, 65535, &x)) {
			o->pce_svn = (uint16_t)x;
			*seen |= 1u << 16;
		} else if (b == 18 && tag == 0x04 && val.n == 16) {
			memcpy(o->cpu_svn, val.p, 16);
			*seen |= 1u << 17;
		} else {
			return false;
		}
	}
	return true;
}

int attest_pck_ext_parse(X509 *pck, struct attest_pck_ext *out, char *err, size_t errlen)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int idx = obj ? X509_get_ext_by_OBJ(pck, obj, -1) : -1;
	ASN1_OBJECT_free(obj);
	memset(out, 0, sizeof(*out));
	if (idx < 0) {
		pgs_errf(err, errlen, "PCK certificate has no Intel SGX extension");
		return PGS_ERR;
	}
	ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
	struct der top = {ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os)}, seq;
	uint8_t tag;
	unsigned tcb_seen = 0, seen = 0;
	if (!der_next(&top, &tag, &seq) || tag != 0x30 || top.n != 0)
		goto bad;
	while (seq.n) {
		struct der item, oid, val;
		int a, b;
		if (!der_next(&seq, &tag, &item) || tag != 0x30 || !der_next(&item, &tag, &oid) ||
		    tag != 0x06 || !der_next(&item, &tag, &val))
			goto bad;
		if (!sgx_sub_oid(oid, &a, &b) || b != -1)
			continue;
		if (a == 1 && tag == 0x04 && val.n == 16) {
			memcpy(out->ppid, val.p, 16);
			seen |= 1;
		} else if (a == 2 && tag == 0x30) {
			if (!parse_tcb_seq(val, out, &tcb_seen))
				goto bad;
			seen |= 2;
		} else if (a == 3 && tag == 0x04 && val.n == 2) {
			memcpy(out->pce_id, val.p, 2);
			seen |= 4;
		} else if (a == 4 && tag == 0x04 && val.n == 6) {
			memcpy(out->fmspc, val.p, 6);
			seen |= 8;
		}
	}
	if (seen != 15 || (tcb_seen & 0x1ffff) != 0x1ffff)
		goto bad;
	return PGS_OK;
bad:
	pgs_errf(err, errlen, "PCK certificate's Intel SGX extension is malformed or incomplete");
	return PGS_ERR;
}

/* ---- root CA ----------------------------------------------------------------------- */

int attest_root_ca_load(const uint8_t *data, size_t len, uint8_t **der, size_t *derlen, char *err,
                        size_t errlen)
{
	X509 *x = NULL;
	if (len > (1u << 20)) {
		pgs_errf(err, errlen, "root CA: file too large");
		return PGS_ERR;
	}
	if (memmem(data, len, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);
		x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	} else {
		const unsigned char *p = data;
		x = d2i_X509(NULL, &p, (long)len);
		if (x && p != data + len) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	if (!x) {
		pgs_errf(err, errlen, "root CA: not a PEM or DER X.509 certificate");
		return PGS_ERR;
	}
	unsigned char *buf = NULL;
	int n = i2d_X509(x, &buf);
	X509_free(x);
	if (n <= 0) {
		pgs_errf(err, errlen, "root CA: cannot encode");
		return PGS_ERR;
	}
	*der = pgs_xmalloc((size_t)n);
	memcpy(*der, buf, (size_t)n);
	*derlen = (size_t)n;
	OPENSSL_free(buf);
	return PGS_OK;
}
