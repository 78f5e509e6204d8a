/* sim_pck.c - the simulated platform's TCB: PCK certificate SGX extensions, TCB Info and QE
 * Identity JSON. */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The platform the test CA certifies. FMSPC "PGSIM\0" cannot collide with a real Intel platform. */
const uint8_t sim_cpu_svn[16] = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
const uint16_t sim_pce_svn = 11;
const uint8_t sim_fmspc[6] = {'P', 'G', 'S', 'I', 'M', 0};
/* TEE_TCB_SVN: [0] TDX module SVN, [1] module major version (TDX_01), [2] late microcode. */
const uint8_t sim_tee_tcb_svn[16] = {6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
const uint8_t sim_qe_mrsigner[32] = "pgseal-sim TEST QE - not Intel!";
const uint16_t sim_qe_isvprodid = 2, sim_qe_isvsvn = 4;

#define SIM_COLLATERAL_ISSUE "2025-01-01T00:00:00Z"
#define SIM_COLLATERAL_NEXT "2045-01-01T00:00:00Z"
#define SIM_TCB_DATE "2025-01-01T00:00:00Z"

/* --- a tiny DER writer ---------------------------------------------------- */
struct der {
	uint8_t *b;
	size_t n, cap;
};

static void der_put(struct der *d, const void *p, size_t len)
{
	if (d->n + len > d->cap) {
		d->cap = (d->n + len) * 2 + 64;
		d->b = pgs_xrealloc(d->b, d->cap);
	}
	memcpy(d->b + d->n, p, len);
	d->n += len;
}

static void der_tlv(struct der *d, uint8_t tag, const uint8_t *val, size_t len)
{
	uint8_t hdr[4];
	size_t h = 0;
	hdr[h++] = tag;
	if (len < 0x80) {
		hdr[h++] = (uint8_t)len;
	} else if (len < 0x100) {
		hdr[h++] = 0x81;
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = 0x82;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	}
	der_put(d, hdr, h);
	der_put(d, val, len);
}

/* Wraps the contents of inner as a SEQUENCE appended to d; frees inner. */
static void der_seq(struct der *d, struct der *inner)
{
	der_tlv(d, 0x30, inner->b, inner->n);
	free(inner->b);
	memset(inner, 0, sizeof(*inner));
}

/* OID 1.2.840.113741.1.13.1[.a[.b]] (Intel SGX extensions arc). */
static void der_sgx_oid(struct der *d, int a, int b)
{
	uint8_t oid[16] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};
	size_t n = 9;
	if (a > 0)
		oid[n++] = (uint8_t)a;
	if (b > 0)
		oid[n++] = (uint8_t)b;
	der_tlv(d, 0x06, oid, n);
}

static void der_uint(struct der *d, unsigned v)
{
	uint8_t buf[5];
	size_t n = 0;
	uint8_t tmp[4];
	pgs_put_u32(tmp, v);
	size_t i = 0;
	while (i < 3 && tmp[i] == 0)
		i++;
	if (tmp[i] & 0x80)
		buf[n++] = 0;
	while (i < 4)
		buf[n++] = tmp[i++];
	der_tlv(d, 0x02, buf, n);
}

/* SEQUENCE { OID sgx.a[.b], value } */
static void der_pair(struct der *d, int a, int b, uint8_t tag, const uint8_t *val, size_t len)
{
	struct der p = {0};
	der_sgx_oid(&p, a, b);
	der_tlv(&p, tag, val, len);
	der_seq(d, &p);
}

static void der_pair_uint(struct der *d, int a, int b, unsigned v)
{
	struct der p = {0};
	der_sgx_oid(&p, a, b);
	der_uint(&p, v);
	der_seq(d, &p);
}

int sim_pck_sgx_extension(const uint8_t ppid[16], const uint8_t platform_instance[16],
                          uint8_t **der, size_t *len)
{
	struct der top = {0}, tcb = {0}, tcbpair = {0}, cfg = {0}, cfgpair = {0}, out = {0};
	static const uint8_t pce_id[2] = {0, 0};
	static const uint8_t sgx_type_scalable = 1, yes = 0xFF;

	der_pair(&top, 1, 0, 0x04, ppid, 16);
	for (int i = 0; i < 16; i++)
		der_pair_uint(&tcb, 2, i + 1, sim_cpu_svn[i]);
	der_pair_uint(&tcb, 2, 17, sim_pce_svn);
	der_pair(&tcb, 2, 18, 0x04, sim_cpu_svn, 16);
	der_sgx_oid(&tcbpair, 2, 0);
	der_seq(&tcbpair, &tcb);
	der_seq(&top, &tcbpair);
	der_pair(&top, 3, 0, 0x04, pce_id, 2);
	der_pair(&top, 4, 0, 0x04, sim_fmspc, 6);
	der_pair(&top, 5, 0, 0x0A, &sgx_type_scalable, 1);
	der_pair(&top, 6, 0, 0x04, platform_instance, 16);
	for (int i = 1; i <= 3; i++) /* dynamicPlatform, cachedKeys, SMTEnabled */
		der_pair(&cfg, 7, i, 0x01, &yes, 1);
	der_sgx_oid(&cfgpair, 7, 0);
	der_seq(&cfgpair, &cfg);
	der_seq(&top, &cfgpair);
	der_seq(&out, &top);
	*der = out.b;
	*len = out.n;
	return PGS_OK;
}

static char *upper_hex(const uint8_t *b, size_t n)
{
	char *s = pgs_hex_dup(b, n);
	for (char *p = s; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	return s;
}

static json_t *level(json_t *tcb)
{
	json_t *l = json_object();
	json_object_set_new(l, "tcb", tcb);
	json_object_set_new(l, "tcbDate", json_string(SIM_TCB_DATE));
	json_object_set_new(l, "tcbStatus", json_string("UpToDate"));
	return l;
}

static json_t *components(const uint8_t svn[16])
{
	json_t *a = json_array();
	for (int i = 0; i < 16; i++) {
		json_t *c = json_object();
		json_object_set_new(c, "svn", json_integer(svn[i]));
		json_array_append_new(a, c);
	}
	return a;
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		abort(); /* out of memory */
	return s;
}

char *sim_pck_tcb_info_json(void)
{
	static const uint8_t zero48[48] = {0};
	char *fmspc = upper_hex(sim_fmspc, 6);
	char *mrsigner = upper_hex(zero48, 48);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string("TDX"));
	json_object_set_new(o, "version", json_integer(3));
	json_object_set_new(o, "issueDate", json_string(SIM_COLLATERAL_ISSUE));
	json_object_set_new(o, "nextUpdate", json_string(SIM_COLLATERAL_NEXT));
	json_object_set_new(o, "fmspc", json_string(fmspc));
	json_object_set_new(o, "pceId", json_string("0000"));
	json_object_set_new(o, "tcbType", json_integer(0));
	json_object_set_new(o, "tcbEvaluationDataNumber", json_integer(17));
	json_t *mod = json_object();
	json_object_set_new(mod, "mrsigner", json_string(mrsigner));
	json_object_set_new(mod, "attributes", json_string("0000000000000000"));
	json_object_set_new(mod, "attributesMask", json_string("FFFFFFFFFFFFFFFF"));
	json_object_set_new(o, "tdxModule", mod);

	char id[16];
	snprintf(id, sizeof(id), "TDX_%02X", sim_tee_tcb_svn[1]);
	json_t *ident = json_object();
	json_object_set_new(ident, "id", json_string(id));
	json_object_set_new(ident, "mrsigner", json_string(mrsigner));
	json_object_set_new(ident, "attributes", json_string("0000000000000000"));
	json_object_set_new(ident, "attributesMask", json_string("FFFFFFFFFFFFFFFF"));
	json_t *mtcb = json_object();
	json_object_set_new(mtcb, "isvsvn", json_integer(sim_tee_tcb_svn[0]));
	json_t *mlevels = json_array();
	json_array_append_new(mlevels, level(mtcb));
	json_object_set_new(ident, "tcbLevels", mlevels);
	json_t *idents = json_array();
	json_array_append_new(idents, ident);
	json_object_set_new(o, "tdxModuleIdentities", idents);

	json_t *tcb = json_object();
	json_object_set_new(tcb, "sgxtcbcomponents", components(sim_cpu_svn));
	json_object_set_new(tcb, "pcesvn", json_integer(sim_pce_svn));
	json_object_set_new(tcb, "tdxtcbcomponents", components(sim_tee_tcb_svn));
	json_t *levels = json_array();
	json_array_append_new(levels, level(tcb));
	json_object_set_new(o, "tcbLevels", levels);
	free(fmspc);
	free(mrsigner);
	return dump(o);
}

char *sim_pck_qe_identity_json(void)
{
	char *mrsigner = upper_hex(sim_qe_mrsigner, 32);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string("TD_QE"));
	json_object_set_new(o, "version", json_integer(2));
	json_object_set_new(o, "issueDate", json_string(SIM_COLLATERAL_ISSUE));
	json_object_set_new(o, "nextUpdate", json_string(SIM_COLLATERAL_NEXT));
	json_object_set_new(o, "tcbEvaluationDataNumber", json_integer(17));
	json_object_set_new(o, "miscselect", json_string("00000000"));
	json_object_set_new(o, "miscselectMask", json_string("FFFFFFFF"));
	json_object_set_new(o, "attributes", json_string("11000000000000000000000000000000"));
	json_object_set_new(o, "attributesMask", json_string("FBFFFFFFFFFFFFFF0000000000000000"));
	json_object_set_new(o, "mrsigner", json_string(mrsigner));
	json_object_set_new(o, "isvprodid", json_integer(sim_qe_isvprodid));
	json_t *tcb = json_object();
	json_object_set_new(tcb, "isvsvn", json_integer(sim_qe_isvsvn));
	json_t *levels = json_array();
	json_array_append_new(levels, level(tcb));
	json_object_set_new(o, "tcbLevels", levels);
	free(mrsigner);
	return dump(o);
}
