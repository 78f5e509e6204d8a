/* attest_verify.c - the DCAP verification flow for a TDX quote: header, PCK chain, QE report, quote
 * signature, collateral. */
#include "attest/attest_int.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Intel's QE vendor id (939A7233-F79C-4CA9-940A-0DB3957F0607). */
static const uint8_t intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                            0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

void attest_fail(struct attest_result *res, const char *check, const char *fmt, ...)
{
	va_list ap;
	res->trusted = false;
	if (res->failed_check)
		return; /* the first failure is the one reported */
	res->failed_check = check;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

/* TD_ATTRIBUTES: bit 0 TUD.DEBUG; bits 1..27 reserved (TUD/SEC); bit 28 SEPT_VE_DISABLE;
 * bit 29 reserved; bits 32..62 reserved (OTHER). As Intel's appraisal and dcap-qvl do, a
 * debug TD, a set reserved bit or a TD that receives #VE on EPT violations is refused. */
static bool check_td_attributes(const struct attest_td_report *td, struct attest_result *res)
{
	const uint8_t *a = td->td_attributes;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | a[i];
	if (v & 1) {
		attest_fail(res, "td_attributes",
		            "debug TD (TD_ATTRIBUTES.DEBUG is set): its "
		            "memory and registers are readable by the host");
		return false;
	}
	if ((v & 0x0ffffffeull) || (v & (1ull << 29)) || (v & 0x7fffffff00000000ull)) {
		attest_fail(res, "td_attributes", "reserved TD_ATTRIBUTES bits are set");
		return false;
	}
	if (!(v & (1ull << 28))) {
		attest_fail(res, "td_attributes", "TD_ATTRIBUTES.SEPT_VE_DISABLE is not set");
		return false;
	}
	if (td->is_td15) {
		static const uint8_t zero[48];
		if (memcmp(td->mr_servicetd, zero, 48) != 0) {
			attest_fail(res, "td_attributes", "MRSERVICETD is not zero");
			return false;
		}
	}
	return true;
}

static bool check_header(const struct attest_quote *q, struct attest_result *res)
{
	if (q->att_key_type != ATTEST_KEY_ECDSA_P256) {
		attest_fail(res, "quote_header", "attestation key type %u (want 2, ECDSA P-256)",
		            q->att_key_type);
		return false;
	}
	if (q->tee_type != ATTEST_TEE_TDX) {
		attest_fail(res, "quote_header", "TEE type 0x%x is not TDX (0x81)", q->tee_type);
		return false;
	}
	if (memcmp(q->qe_vendor_id, intel_qe_vendor, 16) != 0) {
		attest_fail(res, "quote_header", "QE vendor id is not Intel's");
		return false;
	}
	return true;
}

static bool subject_cn_contains(X509_NAME *name, const char *needle)
{
	char cn[256];
	if (X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)) <= 0)
		return false;
	return strstr(cn, needle) != NULL;
}

/* Checks one collateral document: issuer chain to the root (with the root CRL), its
 * signature over the exact JSON text, and that it parsed. */
static bool check_signed_doc(const char *what, const char *chain_pem, const char *doc,
                             size_t doc_len, const uint8_t sig[64], X509 *root,
                             const struct attest_collateral *coll, int64_t now, const char *check,
                             struct attest_result *res)
{
	char err[256];
	STACK_OF(X509) *chain = attest_pem_chain((const uint8_t *)chain_pem, strlen(chain_pem));
	bool ok = false;
	if (!chain) {
		attest_fail(res, check, "%s issuer chain has no PEM certificate", what);
		goto out;
	}
	if (attest_chain_verify(chain, root, now, coll->root_ca_crl, coll->root_ca_crl_len,
	                        coll->pck_crl, coll->pck_crl_len, err, sizeof(err)) != PGS_OK) {
		attest_fail(res, check, "%s issuer chain: %s", what, err);
		goto out;
	}
	EVP_PKEY *key = X509_get0_pubkey(sk_X509_value(chain, 0));
	if (!key || !attest_ecdsa_verify_key(key, (const uint8_t *)doc, doc_len, sig)) {
		attest_fail(res, check, "%s signature does not verify", what);
		goto out;
	}
	ok = true;
out:
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

static bool check_window(const char *what, int64_t issue, int64_t next, int64_t now,
                         const char *check, struct attest_result *res)
{
	if (now < issue) {
		attest_fail(res, check, "%s is not yet valid (issued %lld, now %lld)", what,
		            (long long)issue, (long long)now);
		return false;
	}
	if (now > next) {
		attest_fail(res, check, "%s has expired (nextUpdate %lld, now %lld)", what,
		            (long long)next, (long long)now);
		return false;
	}
	return true;
}

static bool check_collateral(const struct attest_collateral *coll, X509 *root, int64_t now,
                             struct attest_result *res)
{
	char err[256];
	/* Validity windows first (refusing on an unauthenticated date only refuses more),
	 * so that stale collateral is reported as such rather than as a chain error. */
	if (coll->ti_ok) {
		res->tcb_info_issue = coll->ti.issue_date;
		res->tcb_info_next_update = coll->ti.next_update;
		res->tcb_eval_number = coll->ti.eval_number;
		if (!check_window("TCB Info", coll->ti.issue_date, coll->ti.next_update, now,
		                  "tcb_info_window", res))
			return false;
	}
	if (coll->qe_ok) {
		res->qe_id_issue = coll->qe.issue_date;
		res->qe_id_next_update = coll->qe.next_update;
		if (!check_window("QE Identity", coll->qe.issue_date, coll->qe.next_update, now,
		                  "qe_identity_window", res))
			return false;
	}
	if (!check_signed_doc("TCB Info", coll->tcb_info_chain, coll->tcb_info, coll->tcb_info_len,
	                      coll->tcb_info_sig, root, coll, now, "tcb_info_signature", res))
		return false;
	if (!coll->ti_ok) {
		attest_fail(res, "tcb_info", "%s", coll->ti_err);
		return false;
	}
	if (!check_signed_doc("QE Identity", coll->qe_identity_chain, coll->qe_identity,
	                      coll->qe_identity_len, coll->qe_identity_sig, root, coll, now,
	                      "qe_identity_signature", res))
		return false;
	if (!coll->qe_ok) {
		attest_fail(res, "qe_identity", "%s", coll->qe_err);
		return false;
	}
	/* The PCK CRL's own issuer chain (the CRL signature itself is checked by OpenSSL
	 * while it checks the PCK chain for revocation). */
	STACK_OF(X509) *chain =
	    attest_pem_chain((const uint8_t *)coll->pck_crl_chain, strlen(coll->pck_crl_chain));
	bool ok = chain &&
	          attest_chain_verify(chain, root, now, coll->root_ca_crl, coll->root_ca_crl_len,
	                              coll->pck_crl, coll->pck_crl_len, err, sizeof(err)) == PGS_OK;
	if (!ok)
		attest_fail(res, "pck_crl_chain", "PCK CRL issuer chain: %s",
		            chain ? err : "no PEM certificate");
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

/* PCK chain, QE report signature and data, quote signature (QVL 4.1.2.4.4 - .16). */
static bool check_quote_signatures(const struct attest_quote *q,
                                   const struct attest_collateral *coll, X509 *root, int64_t now,
                                   struct attest_pck_ext *pck, struct attest_result *res)
{
	char err[256];
	bool ok = false;
	STACK_OF(X509) *chain = attest_pem_chain(q->pck_chain, q->pck_chain_len);
	if (!chain || sk_X509_num(chain) < 2) {
		attest_fail(res, "pck_chain",
		            "the quote's PCK chain needs at least 2 PEM "
		            "certificates");
		goto out;
	}
	X509 *leaf = sk_X509_value(chain, 0);
	if (!subject_cn_contains(X509_get_subject_name(leaf), "SGX PCK Certificate")) {
		attest_fail(res, "pck_chain", "leaf CN does not contain \"SGX PCK Certificate\"");
		goto out;
	}
	if (attest_chain_verify(chain, root, now, coll ? coll->root_ca_crl : NULL,
	                        coll ? coll->root_ca_crl_len : 0, coll ? coll->pck_crl : NULL,
	                        coll ? coll->pck_crl_len : 0, err, sizeof(err)) != PGS_OK) {
		attest_fail(res, "pck_chain", "PCK chain: %s", err);
		goto out;
	}
	if (coll) {
		/* QVL 4.1.2.4.6: the PCK CRL must come from the CA that issued the PCK. */
		const unsigned char *p = coll->pck_crl;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)coll->pck_crl_len);
		bool same = crl &&
		            !X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(leaf)) &&
		            subject_cn_contains(X509_CRL_get_issuer(crl), "CA");
		X509_CRL_free(crl);
		ERR_clear_error();
		if (!same) {
			attest_fail(res, "pck_crl", "the PCK CRL's issuer is not the PCK's issuer");
			goto out;
		}
	}
	if (attest_pck_ext_parse(leaf, pck, err, sizeof(err)) != PGS_OK) {
		attest_fail(res, "pck_extension", "%s", err);
		goto out;
	}
	res->pck_parsed = true;
	memcpy(res->ppid, pck->ppid, 16);
	memcpy(res->cpu_svn, pck->cpu_svn, 16);
	memcpy(res->fmspc, pck->fmspc, 6);
	memcpy(res->pce_id, pck->pce_id, 2);
	res->pck_pce_svn = pck->pce_svn;

	EVP_PKEY *pk = X509_get0_pubkey(leaf);
	if (!pk || !attest_ecdsa_verify_key(pk, q->qe_report, ATTEST_ENCLAVE_REPORT_LEN,
	                                    q->qe_report_sig)) {
		attest_fail(res, "qe_report_signature",
		            "the QE report is not signed by the PCK key");
		goto out;
	}
	uint8_t h[32];
	unsigned hlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool hashed = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	              EVP_DigestUpdate(md, q->attest_key, 64) == 1 &&
	              EVP_DigestUpdate(md, q->qe_auth_data, q->qe_auth_len) == 1 &&
	              EVP_DigestFinal_ex(md, h, &hlen) == 1 && hlen == 32;
	EVP_MD_CTX_free(md);
	if (!hashed || CRYPTO_memcmp(h, q->qe_report + 320, 32)) {
		attest_fail(res, "qe_report_data",
		            "QE report data is not SHA-256(attestation key "
		            "|| QE auth data)");
		goto out;
	}
	ok = true;
out:
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

int attest_verify_quote(const uint8_t *quote, size_t quote_len,
                        const struct attest_collateral *coll, const struct attest_opts *opts,
                        struct attest_result *res, char *err, size_t errlen)
{
	const uint8_t *rder = opts->root_ca_der ? opts->root_ca_der : attest_intel_root_ca_der;
	size_t rlen = opts->root_ca_der ? opts->root_ca_len : attest_intel_root_ca_der_len;
	const unsigned char *p = rder;
	X509 *root = d2i_X509(NULL, &p, (long)rlen);
	struct attest_pck_ext pck;
	char perr[256];

	memset(res, 0, sizeof(*res));
	res->collateral_given = coll != NULL;
	if (!root) {
		ERR_clear_error();
		pgs_errf(err, errlen, "root CA is not a DER certificate");
		return PGS_ERR;
	}
	if (attest_quote_parse(quote, quote_len, &res->quote, perr, sizeof(perr)) != PGS_OK) {
		attest_fail(res, "quote_format", "%s", perr);
		goto out;
	}
	res->quote_parsed = true;
	const struct attest_quote *q = &res->quote;
	if (!check_header(q, res) || !check_td_attributes(&q->td, res))
		goto out;
	/* The collateral first: an expired or foreign TCB Info is the clearest reason. */
	if (coll && !check_collateral(coll, root, opts->now, res))
		goto out;
	if (!check_quote_signatures(q, coll, root, opts->now, &pck, res))
		goto out;
	if (!attest_ecdsa_verify_raw(q->attest_key, quote, q->signed_len, q->signature)) {
		attest_fail(res, "quote_signature",
		            "the quote is not signed by its attestation key");
		goto out;
	}
	if (!coll) {
		attest_fail(res, "collateral",
		            "no collateral given: the TCB status cannot be "
		            "established (pass --collateral)");
		goto out;
	}
	if (attest_tcb_evaluate(coll, q, &pck, res) != PGS_OK)
		goto out;
	enum attest_tcb_status min =
	    opts->min_tcb_status ? opts->min_tcb_status : ATTEST_TCB_UP_TO_DATE;
	if (res->tcb_status > min) {
		attest_fail(res, "tcb_status", "TCB status %s is worse than the accepted %s",
		            attest_tcb_status_name(res->tcb_status), attest_tcb_status_name(min));
		goto out;
	}
	res->trusted = true;
out:
	X509_free(root);
	return PGS_OK;
}
