/* attest_tcb.c - TCB evaluation as Intel QVL: FMSPC/PCEID, TDX module identity, QE identity, TCB
 * level, status convergence. */
#include "attest/attest_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void add_advisories(struct attest_result *res, json_t *arr)
{
	size_t i;
	json_t *v;
	if (!arr)
		return;
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		bool dup = false;
		if (!s || strlen(s) >= sizeof(res->advisory_ids[0]))
			continue;
		for (size_t k = 0; k < res->n_advisories && !dup; k++)
			dup = !strcmp(res->advisory_ids[k], s);
		if (!dup && res->n_advisories < ATTEST_MAX_ADVISORIES)
			snprintf(res->advisory_ids[res->n_advisories++],
			         sizeof(res->advisory_ids[0]), "%s", s);
	}
}

/* QVL convergeTcbStatusWithQeTcbStatus / convergeTcbStatusWithTdxModuleStatus: a component
 * (QE or TDX module) that is OutOfDate makes the platform at least OutOfDate, keeping a
 * ConfigurationNeeded flag; a Revoked component revokes. */
static enum attest_tcb_status converge(enum attest_tcb_status platform,
                                       enum attest_tcb_status component)
{
	if (component == ATTEST_TCB_OUT_OF_DATE) {
		if (platform == ATTEST_TCB_UP_TO_DATE || platform == ATTEST_TCB_SW_HARDENING_NEEDED)
			return ATTEST_TCB_OUT_OF_DATE;
		if (platform == ATTEST_TCB_CONFIGURATION_NEEDED ||
		    platform == ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	if (component == ATTEST_TCB_REVOKED)
		return ATTEST_TCB_REVOKED;
	return platform;
}

static bool sgx_higher_or_equal(const struct attest_pck_ext *pck, const struct attest_tcb_level *lv)
{
	for (int i = 0; i < 16; i++)
		if (pck->comp_svn[i] < lv->sgx[i])
			return false;
	return pck->pce_svn >= lv->pce_svn;
}

/* QVL isTdxTcbHigherOrEqual: with a TDX module version (TEE_TCB_SVN[1] > 0) the first two
 * bytes are judged by the module identity instead. */
static bool tdx_higher_or_equal(const uint8_t tee[16], const struct attest_tcb_level *lv)
{
	for (int i = tee[1] > 0 ? 2 : 0; i < 16; i++)
		if (tee[i] < lv->tdx[i])
			return false;
	return true;
}

/* QVL 4.1.2.4.11: MRSIGNERSEAM and SEAMATTRIBUTES against tdxModule, or against the
 * module identity TDX_<version> when TEE_TCB_SVN[1] names a module version. */
static bool check_module(const struct attest_tcb_info *ti, const struct attest_td_report *td,
                         const struct attest_module_identity **out, struct attest_result *res)
{
	const uint8_t *mrsigner = ti->module_mrsigner, *attrs = ti->module_attributes;
	const struct attest_module_identity *mid = NULL;
	uint8_t ver = td->tee_tcb_svn[1];

	if (!ti->has_module) {
		attest_fail(res, "tdx_module", "TCB Info has no tdxModule");
		return false;
	}
	if (ver > 0) {
		char want[16];
		snprintf(want, sizeof(want), "TDX_%02X", ver);
		for (size_t i = 0; i < ti->n_ids && !mid; i++)
			if (!strcasecmp(ti->ids[i].id, want))
				mid = &ti->ids[i];
		if (!mid) {
			attest_fail(res, "tdx_module",
			            "TCB Info has no identity %s for the TDX "
			            "module version of the quote",
			            want);
			return false;
		}
		mrsigner = mid->mrsigner;
		attrs = mid->attributes;
	}
	if (memcmp(mrsigner, td->mr_signer_seam, 48) != 0) {
		attest_fail(res, "tdx_module",
		            "MRSIGNERSEAM does not match the TDX module identity");
		return false;
	}
	for (int i = 0; i < 8; i++) {
		if (td->seam_attributes[i] != 0 || td->seam_attributes[i] != attrs[i]) {
			attest_fail(res, "tdx_module",
			            "SEAMATTRIBUTES are not zero / do not match");
			return false;
		}
	}
	*out = mid;
	return true;
}

/* QVL EnclaveReportVerifier against the TD_QE identity; returns the QE TCB status. */
static bool check_qe(const struct attest_qe_identity *qe, const uint8_t *r,
                     struct attest_result *res)
{
	if (strcmp(qe->id, "TD_QE") != 0 || qe->version < 2) {
		attest_fail(res, "qe_identity_match", "QE Identity %s v%d is not a TD_QE v2+",
		            qe->id, qe->version);
		return false;
	}
	for (int i = 0; i < 4; i++) {
		if ((r[16 + i] & qe->miscselect_mask[i]) != qe->miscselect[i]) {
			attest_fail(res, "qe_identity_match", "QE MISCSELECT does not match");
			return false;
		}
	}
	for (int i = 0; i < 16; i++) {
		if ((r[48 + i] & qe->attributes_mask[i]) != qe->attributes[i]) {
			attest_fail(res, "qe_identity_match", "QE ATTRIBUTES do not match");
			return false;
		}
	}
	if (memcmp(r + 128, qe->mrsigner, 32) != 0) {
		attest_fail(res, "qe_identity_match", "QE MRSIGNER does not match");
		return false;
	}
	uint16_t prodid = (uint16_t)(r[256] | r[257] << 8), svn = (uint16_t)(r[258] | r[259] << 8);
	if (prodid != qe->isvprodid) {
		attest_fail(res, "qe_identity_match", "QE ISVPRODID %u, identity wants %u", prodid,
		            qe->isvprodid);
		return false;
	}
	/* Levels are judged highest ISVSVN first, whatever order the document lists them in. */
	const struct attest_isv_level *best = NULL;
	for (size_t i = 0; i < qe->n_levels; i++)
		if (svn >= qe->levels[i].isvsvn && (!best || qe->levels[i].isvsvn > best->isvsvn))
			best = &qe->levels[i];
	if (!best) {
		attest_fail(res, "qe_identity_tcb", "QE ISVSVN %u matches no QE Identity level",
		            svn);
		return false;
	}
	res->qe_status = best->status;
	add_advisories(res, best->advisories);
	return true;
}

int attest_tcb_evaluate(const struct attest_collateral *coll, const struct attest_quote *q,
                        const struct attest_pck_ext *pck, struct attest_result *res)
{
	const struct attest_tcb_info *ti = &coll->ti;
	const struct attest_td_report *td = &q->td;

	if (strcmp(ti->id, "TDX") != 0 || ti->version < 3) {
		attest_fail(res, "tcb_info_match", "TCB Info %s v%d is not a TDX TCB Info (v3+)",
		            ti->id, ti->version);
		return PGS_ERR;
	}
	if (memcmp(pck->fmspc, ti->fmspc, 6) != 0) {
		attest_fail(res, "tcb_info_match",
		            "FMSPC of the PCK certificate does not match the "
		            "TCB Info's");
		return PGS_ERR;
	}
	if (memcmp(pck->pce_id, ti->pce_id, 2) != 0) {
		attest_fail(res, "tcb_info_match",
		            "PCEID of the PCK certificate does not match the "
		            "TCB Info's");
		return PGS_ERR;
	}
	const struct attest_module_identity *mid = NULL;
	if (!check_module(ti, td, &mid, res))
		return PGS_ERR;
	if (!check_qe(&coll->qe, q->qe_report, res))
		return PGS_ERR;

	/* QVL matchTcbLevels: the first level the SGX TCB reaches, then the first such level
	 * the TEE TCB reaches too. */
	const struct attest_tcb_level *sgx = NULL, *tdx = NULL;
	for (size_t i = 0; i < ti->n_levels && !tdx; i++) {
		const struct attest_tcb_level *lv = &ti->levels[i];
		if (!sgx_higher_or_equal(pck, lv))
			continue;
		if (!sgx)
			sgx = lv;
		if (!lv->has_tdx) {
			attest_fail(res, "tcb_level", "TCB level %zu has no TDX components", i);
			return PGS_ERR;
		}
		if (tdx_higher_or_equal(td->tee_tcb_svn, lv))
			tdx = lv;
	}
	if (!sgx || !tdx) {
		attest_fail(res, "tcb_level",
		            "no TCB level of the TCB Info matches the platform "
		            "(%s TCB not supported)",
		            sgx ? "TDX" : "SGX");
		return PGS_ERR;
	}
	res->platform_status = tdx->status;
	snprintf(res->tcb_date, sizeof(res->tcb_date), "%s", tdx->tcb_date ? tdx->tcb_date : "");
	add_advisories(res, tdx->advisories);

	/* QVL checkTdxModuleTcbStatus: the module's ISVSVN (TEE_TCB_SVN[0]) against the
	 * identity's levels, highest ISVSVN first. */
	enum attest_tcb_status st = tdx->status;
	if (mid) {
		const struct attest_isv_level *ml = NULL;
		for (size_t i = 0; i < mid->n_levels; i++)
			if (td->tee_tcb_svn[0] >= mid->levels[i].isvsvn &&
			    (!ml || mid->levels[i].isvsvn > ml->isvsvn))
				ml = &mid->levels[i];
		if (!ml) {
			attest_fail(res, "tdx_module",
			            "TDX module ISVSVN %u matches no level of %s",
			            td->tee_tcb_svn[0], mid->id);
			return PGS_ERR;
		}
		res->module_status = ml->status;
		add_advisories(res, ml->advisories);
		st = converge(st, ml->status);
	}
	res->tcb_status = st == ATTEST_TCB_REVOKED ? st : converge(st, res->qe_status);
	return PGS_OK;
}
