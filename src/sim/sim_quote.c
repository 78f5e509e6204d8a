/* sim_quote.c - builds Intel TDX quote v4 bytes (header, TD report, ECDSA-P256 signature data) with
 * the test CA. */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Offsets of Intel's "TDX DCAP Quote Generation Library" quote v4 layout. */
#define Q_HEADER_LEN 48
#define Q_BODY_LEN 584
#define Q_SIGNED_LEN (Q_HEADER_LEN + Q_BODY_LEN) /* 632 */
#define QE_REPORT_LEN 384
#define QE_AUTH_LEN 32

static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                               0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void build_header(const struct sim_state *st, uint8_t *h)
{
	le16(h + 0, 4);    /* version */
	le16(h + 2, 2);    /* attestation key type: ECDSA-256-with-P-256 */
	le32(h + 4, 0x81); /* TEE type: TDX */
	le16(h + 8, 0);    /* reserved (QE SVN in v3) */
	le16(h + 10, 0);   /* reserved (PCE SVN in v3) */
	memcpy(h + 12, intel_qe_vendor_id, 16);
	memcpy(h + 28, st->ca.qe_id, 16); /* user data: QE id, then 4 zero bytes */
}

static void build_body(const struct sim_state *st, const uint8_t report_data[SIM_REPORT_DATA_LEN],
                       uint8_t *b)
{
	static const uint8_t td_attributes[8] = {0, 0, 0, 0x10, 0,
	                                         0, 0, 0}; /* SEPT_VE_DISABLE; DEBUG (bit 0) off */
	static const uint8_t xfam[8] = {0xe7, 0x02, 0x06, 0, 0, 0, 0, 0};
	memcpy(b + 0, sim_tee_tcb_svn, 16);
	memcpy(b + 16, st->mrseam, SIM_MR_LEN);
	/* 64: MRSIGNERSEAM and 112: SEAM_ATTRIBUTES stay zero (Intel's TDX module). */
	memcpy(b + 120, td_attributes, 8);
	memcpy(b + 128, xfam, 8);
	memcpy(b + 136, st->mrtd, SIM_MR_LEN);
	/* 184: MRCONFIGID, 232: MROWNER, 280: MROWNERCONFIG stay zero. */
	for (uint32_t i = 0; i < 4; i++)
		sim_evlog_replay(&st->log, i, b + 328 + SIM_MR_LEN * i);
	memcpy(b + 520, report_data, SIM_REPORT_DATA_LEN);
}

static void build_qe_report(const uint8_t ak[64], const uint8_t *auth, uint8_t *r)
{
	memset(r, 0, QE_REPORT_LEN);
	memcpy(r + 0, sim_cpu_svn, 16);
	/* 16: MISCSELECT = 0 */
	r[48] = 0x11; /* ATTRIBUTES: INIT | MODE64BIT, not DEBUG */
	r[56] = 0xe7; /* XFRM */
	sim_sha256("pgseal-sim TEST QE enclave", 26, NULL, 0, r + 64); /* MRENCLAVE */
	memcpy(r + 128, sim_qe_mrsigner, 32);
	le16(r + 256, sim_qe_isvprodid);
	le16(r + 258, sim_qe_isvsvn);
	/* REPORTDATA[0..32] = SHA-256(attestation key || QE auth data), the rest zero. */
	sim_sha256(ak, 64, auth, QE_AUTH_LEN, r + 320);
}

int sim_quote_build(const struct sim_state *st, const uint8_t report_data[SIM_REPORT_DATA_LEN],
                    uint8_t **out, size_t *outlen)
{
	const char *chain = st->ca.pck_chain_pem;
	size_t chain_len = strlen(chain);
	size_t cert5_len = 2 + 4 + chain_len;
	size_t cert6_body = QE_REPORT_LEN + 64 + 2 + QE_AUTH_LEN + cert5_len;
	size_t sig_len = 64 + 64 + 2 + 4 + cert6_body;
	size_t total = Q_SIGNED_LEN + 4 + sig_len;
	uint8_t *q = pgs_xcalloc(1, total);
	uint8_t ak[64], auth[QE_AUTH_LEN];
	int rc = PGS_ERR;

	for (int i = 0; i < QE_AUTH_LEN; i++)
		auth[i] = (uint8_t)i; /* what Intel's QE puts there too */
	build_header(st, q);
	build_body(st, report_data, q + Q_HEADER_LEN);
	if (sim_p256_raw_pub(st->ca.att_key, ak) != PGS_OK)
		goto out;

	uint8_t *p = q + Q_SIGNED_LEN;
	le32(p, (uint32_t)sig_len);
	p += 4;
	if (sim_ecdsa_p256_sign(st->ca.att_key, q, Q_SIGNED_LEN, p) != PGS_OK)
		goto out;
	p += 64;
	memcpy(p, ak, 64);
	p += 64;
	le16(p, 6); /* certification data: QE report certification data */
	le32(p + 2, (uint32_t)cert6_body);
	p += 6;
	uint8_t *qe_report = p;
	build_qe_report(ak, auth, qe_report);
	p += QE_REPORT_LEN;
	if (sim_ecdsa_p256_sign(st->ca.pck_key, qe_report, QE_REPORT_LEN, p) != PGS_OK)
		goto out;
	p += 64;
	le16(p, QE_AUTH_LEN);
	memcpy(p + 2, auth, QE_AUTH_LEN);
	p += 2 + QE_AUTH_LEN;
	le16(p, 5); /* certification data: PCK certificate chain (PEM) */
	le32(p + 2, (uint32_t)chain_len);
	memcpy(p + 6, chain, chain_len);
	p += 6 + chain_len;
	if ((size_t)(p - q) != total)
		goto out;
	*out = q;
	*outlen = total;
	q = NULL;
	rc = PGS_OK;
out:
	free(q);
	return rc;
}
