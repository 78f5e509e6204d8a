/* test_attest_tcb.c - TCB level matching and status convergence (QE, TDX module) on hand-built
 * collateral. */
#include <stdlib.h>
#include <string.h>

#include "attest/attest_int.h"
#include "testlib.h"

static struct attest_tcb_level levels[3];
static struct attest_isv_level qe_levels[2], mod_levels[2];
static struct attest_module_identity mod_id;
static struct attest_collateral coll;
static struct attest_quote q;
static uint8_t qe_report[384];
static struct attest_pck_ext pck;

/* A platform that reaches level 0 (UpToDate) of a 3-level TCB Info, a QE at ISVSVN 4
 * (UpToDate; 2 is OutOfDate), a TDX module version 1 at ISVSVN 5 (UpToDate; 3 OutOfDate). */
static void teardown(void);

static void setup(void)
{
	teardown(); /* the previous case's advisory arrays */
	memset(&coll, 0, sizeof(coll));
	memset(&q, 0, sizeof(q));
	memset(qe_report, 0, sizeof(qe_report));
	memset(&pck, 0, sizeof(pck));
	memset(levels, 0, sizeof(levels));
	memset(&mod_id, 0, sizeof(mod_id));

	struct attest_tcb_info *ti = &coll.ti;
	ti->id = "TDX";
	ti->version = 3;
	memcpy(ti->fmspc, "\x00\x90\x6e\xd5\x00\x00", 6);
	ti->has_module = true;
	ti->levels = levels;
	ti->n_levels = 3;
	for (int i = 0; i < 3; i++) {
		memset(levels[i].sgx, 4 - i, 16); /* 4, 3, 2 */
		levels[i].pce_svn = (uint16_t)(13 - i);
		memset(levels[i].tdx, 4 - i, 16);
		levels[i].has_tdx = true;
	}
	levels[0].status = ATTEST_TCB_UP_TO_DATE;
	levels[1].status = ATTEST_TCB_SW_HARDENING_NEEDED;
	levels[2].status = ATTEST_TCB_OUT_OF_DATE;
	levels[2].advisories = json_pack("[s,s]", "INTEL-SA-1", "INTEL-SA-2");

	mod_id.id = "TDX_01";
	mod_id.levels = mod_levels;
	mod_id.n_levels = 2;
	mod_levels[0] = (struct attest_isv_level){.isvsvn = 5, .status = ATTEST_TCB_UP_TO_DATE};
	mod_levels[1] = (struct attest_isv_level){.isvsvn = 3, .status = ATTEST_TCB_OUT_OF_DATE};
	ti->ids = &mod_id;
	ti->n_ids = 1;

	struct attest_qe_identity *qe = &coll.qe;
	qe->id = "TD_QE";
	qe->version = 2;
	memset(qe->miscselect_mask, 0xff, 4);
	qe->attributes[0] = 0x11;
	memset(qe->attributes_mask, 0xff, 8);
	memset(qe->mrsigner, 0x5a, 32);
	qe->isvprodid = 2;
	qe->levels = qe_levels;
	qe->n_levels = 2;
	qe_levels[0] = (struct attest_isv_level){.isvsvn = 4, .status = ATTEST_TCB_UP_TO_DATE};
	qe_levels[1] = (struct attest_isv_level){.isvsvn = 2,
	                                         .status = ATTEST_TCB_OUT_OF_DATE,
	                                         .advisories = json_pack("[s]", "INTEL-SA-2")};

	qe_report[48] = 0x11;
	memset(qe_report + 128, 0x5a, 32);
	qe_report[256] = 2;
	qe_report[258] = 4;
	q.qe_report = qe_report;
	memset(q.td.tee_tcb_svn, 4, 16);
	q.td.tee_tcb_svn[0] = 5; /* module ISVSVN */
	q.td.tee_tcb_svn[1] = 1; /* module version -> TDX_01 */

	memcpy(pck.fmspc, ti->fmspc, 6);
	memset(pck.comp_svn, 4, 16);
	pck.pce_svn = 13;
}

static void teardown(void)
{
	json_decref(levels[2].advisories);
	json_decref(qe_levels[1].advisories);
	levels[2].advisories = NULL;
	qe_levels[1].advisories = NULL;
}

static int eval(struct attest_result *r)
{
	memset(r, 0, sizeof(*r));
	return attest_tcb_evaluate(&coll, &q, &pck, r);
}

static void test_status_paths(void)
{
	struct attest_result r;

	setup();
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_UP_TO_DATE);
	CHECK_EQ_INT(r.module_status, ATTEST_TCB_UP_TO_DATE);

	/* one SGX component below level 0: level 1 (SWHardeningNeeded) */
	pck.comp_svn[7] = 3;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_SW_HARDENING_NEEDED);
	/* PCESVN below level 1 too: level 2, OutOfDate with its advisories */
	pck.pce_svn = 11;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_OUT_OF_DATE);
	CHECK_EQ_INT(r.n_advisories, 2);
	/* below every level */
	pck.pce_svn = 1;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tcb_level");

	/* TEE TCB: with a module version, bytes 0 and 1 are left to the module identity */
	setup();
	q.td.tee_tcb_svn[2] = 2; /* level 2's TDX components only */
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.platform_status, ATTEST_TCB_OUT_OF_DATE);
	setup();
	q.td.tee_tcb_svn[1] = 0; /* no module version: all 16 bytes compared, byte 0 = 5 >= 4 */
	for (int i = 0; i < 3; i++)
		levels[i].tdx[1] = 0;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.module_status, ATTEST_TCB_UNKNOWN);
	q.td.tee_tcb_svn[0] = 1; /* now byte 0 is below every level */
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tcb_level");

	/* module: OutOfDate converges UpToDate to OutOfDate; unknown version; too old */
	setup();
	q.td.tee_tcb_svn[0] = 3;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.module_status, ATTEST_TCB_OUT_OF_DATE);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_OUT_OF_DATE);
	q.td.tee_tcb_svn[0] = 2;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tdx_module");
	setup();
	q.td.tee_tcb_svn[1] = 3;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tdx_module");
	setup();
	q.td.mr_signer_seam[5] = 1;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tdx_module");
	setup();
	q.td.seam_attributes[0] = 1;
	CHECK(eval(&r) == PGS_ERR);
	setup();
	coll.ti.has_module = false;
	CHECK(eval(&r) == PGS_ERR);

	/* QE: OutOfDate escalates; with ConfigurationNeeded -> OutOfDateConfigurationNeeded */
	setup();
	qe_report[258] = 3;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.qe_status, ATTEST_TCB_OUT_OF_DATE);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_OUT_OF_DATE);
	CHECK_EQ_INT(r.n_advisories, 1);
	levels[0].status = ATTEST_TCB_CONFIGURATION_NEEDED;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
	levels[0].status = ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
	qe_levels[1].status = ATTEST_TCB_REVOKED;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_REVOKED);
	qe_report[258] = 1; /* below every QE level */
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "qe_identity_tcb");
	/* a revoked platform stays revoked whatever the QE says */
	setup();
	levels[0].status = ATTEST_TCB_REVOKED;
	CHECK(eval(&r) == PGS_OK);
	CHECK_EQ_INT(r.tcb_status, ATTEST_TCB_REVOKED);
	teardown();
}

static void test_identity_mismatches(void)
{
	struct attest_result r;
	setup();
	qe_report[128] ^= 1;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "qe_identity_match");
	setup();
	qe_report[256] = 1;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "qe_identity_match");
	setup();
	qe_report[48] |= 0x02; /* debug QE */
	CHECK(eval(&r) == PGS_ERR);
	setup();
	qe_report[16] = 1; /* MISCSELECT */
	CHECK(eval(&r) == PGS_ERR);
	setup();
	coll.qe.id = "QE";
	CHECK(eval(&r) == PGS_ERR);
	setup();
	pck.fmspc[0] = 1;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tcb_info_match");
	setup();
	pck.pce_id[1] = 1;
	CHECK(eval(&r) == PGS_ERR);
	setup();
	coll.ti.id = "SGX";
	CHECK(eval(&r) == PGS_ERR);
	setup();
	coll.ti.version = 2;
	CHECK(eval(&r) == PGS_ERR);
	setup();
	levels[0].has_tdx = false;
	CHECK(eval(&r) == PGS_ERR);
	CHECK_STR(r.failed_check, "tcb_level");
	teardown();
}

static void test_time(void)
{
	int64_t t;
	CHECK(attest_parse_time("2025-06-19T10:16:03Z", &t) == PGS_OK && t == 1750328163);
	CHECK(attest_parse_time("2025-06-19T10:16:03.123Z", &t) == PGS_OK && t == 1750328163);
	CHECK(attest_parse_time("2025-06-19T10:16:03+00:00", &t) == PGS_OK && t == 1750328163);
	CHECK(attest_parse_time("2025-06-19T10:16:03+02:00", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-19 10:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-13-19T10:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("", &t) == PGS_ERR);
	CHECK(attest_parse_time(NULL, &t) == PGS_ERR);
	/* fixed-width digits only: no sign, blank or short field (sscanf's %2d took " 6") */
	CHECK(attest_parse_time("2025- 6-19T10:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("+025-06-19T10:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-6-19T10:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-19T10:16:3Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-19T10:16", &t) == PGS_ERR);
	/* sscanf read "-1" into a 2-digit field and only upper bounds were checked: these
	 * were accepted and normalised by timegm into another time */
	CHECK(attest_parse_time("2025-06-19T-1:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-19T10:-1:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-19T10:16:-1Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-+9T10:16:03Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("2025-06-19T10:16:03", &t) == PGS_ERR);
	CHECK(attest_parse_time("1969-12-31T23:59:59Z", &t) == PGS_ERR);
	CHECK(attest_parse_time("1970-01-01T00:00:00Z", &t) == PGS_OK && t == 0);
}

int main(void)
{
	RUN(test_status_paths);
	RUN(test_identity_mismatches);
	RUN(test_time);
	return t_summary("test_attest_tcb");
}
