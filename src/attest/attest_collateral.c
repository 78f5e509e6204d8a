/* attest_collateral.c - parses Intel PCS collateral (TCB Info v3, TD_QE identity, CRLs, issuer
 * chains) from JSON. */
#include "attest/attest_int.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* exactly w decimal digits at s (no sign, no blank: PCS writes fixed-width fields) */
static bool digits(const char *s, int w, int *out)
{
	int v = 0;
	for (int i = 0; i < w; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* "YYYY-MM-DDThh:mm:ss[.frac](Z|+00:00)" */
int attest_parse_time(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec;
	if (!s || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
	    !digits(s + 8, 2, &D) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &m) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return PGS_ERR;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return PGS_ERR;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return PGS_ERR;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970)
		return PGS_ERR;
	struct tm tm = {.tm_year = Y - 1900,
	                .tm_mon = M - 1,
	                .tm_mday = D,
	                .tm_hour = h,
	                .tm_min = m,
	                .tm_sec = sec};
	*out = (int64_t)timegm(&tm);
	return PGS_OK;
}

/* ---- small JSON accessors ----------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool jhex(json_t *o, const char *k, uint8_t *out, size_t n)
{
	const char *s = jstr(o, k);
	return s && pgs_unhex(s, strlen(s), out, n) == PGS_OK;
}

static bool jint(json_t *o, const char *k, long long lo, long long hi, long long *out)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		return false;
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

static bool jtime(json_t *o, const char *k, int64_t *out)
{
	return attest_parse_time(jstr(o, k), out) == PGS_OK;
}

static bool jstatus(json_t *o, enum attest_tcb_status *st)
{
	const char *s = jstr(o, "tcbStatus");
	return s && attest_tcb_status_parse(s, st) == PGS_OK;
}

static bool jadvisories(json_t *o, json_t **out)
{
	json_t *a = json_object_get(o, "advisoryIDs");
	if (!a) {
		*out = NULL;
		return true;
	}
	if (!json_is_array(a))
		return false;
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
	*out = a;
	return true;
}

/* {"tcb":{"isvsvn":N},"tcbDate":..,"tcbStatus":..,"advisoryIDs":[..]} levels */
static bool parse_isv_levels(json_t *arr, struct attest_isv_level **out, size_t *n)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 1024)
		return false;
	*n = json_array_size(arr);
	*out = pgs_xcalloc(*n, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		json_t *l = json_array_get(arr, i);
		long long svn;
		struct attest_isv_level *lv = &(*out)[i];
		if (!jint(json_object_get(l, "tcb"), "isvsvn", 0, 65535, &svn) ||
		    !jstatus(l, &lv->status) || !jadvisories(l, &lv->advisories))
			return false;
		lv->isvsvn = (uint16_t)svn;
		lv->tcb_date = jstr(l, "tcbDate");
	}
	return true;
}

static bool parse_components(json_t *arr, uint8_t out[16])
{
	if (!json_is_array(arr) || json_array_size(arr) != 16)
		return false;
	for (size_t i = 0; i < 16; i++) {
		long long v;
		if (!jint(json_array_get(arr, i), "svn", 0, 255, &v))
			return false;
		out[i] = (uint8_t)v;
	}
	return true;
}

static int parse_tcb_info(json_t *root, struct attest_tcb_info *ti, char *err, size_t errlen)
{
	long long v;
	json_t *o = root;
	/* PCS serves {"tcbInfo":{...},"signature":".."}; the collateral carries the inner part. */
	if (json_object_get(root, "tcbInfo"))
		o = json_object_get(root, "tcbInfo");
	ti->id = jstr(o, "id");
	if (!ti->id || !jint(o, "version", 0, 100, &v)) {
		pgs_errf(err, errlen, "TCB Info: missing id or version");
		return PGS_ERR;
	}
	ti->version = (int)v;
	if (!jtime(o, "issueDate", &ti->issue_date) || !jtime(o, "nextUpdate", &ti->next_update)) {
		pgs_errf(err, errlen, "TCB Info: bad issueDate or nextUpdate");
		return PGS_ERR;
	}
	if (!jhex(o, "fmspc", ti->fmspc, 6) || !jhex(o, "pceId", ti->pce_id, 2)) {
		pgs_errf(err, errlen, "TCB Info: bad fmspc or pceId");
		return PGS_ERR;
	}
	if (jint(o, "tcbEvaluationDataNumber", 0, UINT32_MAX, &v))
		ti->eval_number = (uint32_t)v;
	json_t *mod = json_object_get(o, "tdxModule");
	if (mod) {
		if (!jhex(mod, "mrsigner", ti->module_mrsigner, 48) ||
		    !jhex(mod, "attributes", ti->module_attributes, 8) ||
		    !jhex(mod, "attributesMask", ti->module_attributes_mask, 8)) {
			pgs_errf(err, errlen, "TCB Info: bad tdxModule");
			return PGS_ERR;
		}
		ti->has_module = true;
	}
	json_t *ids = json_object_get(o, "tdxModuleIdentities");
	if (ids) {
		if (!json_is_array(ids) || json_array_size(ids) > 256) {
			pgs_errf(err, errlen, "TCB Info: bad tdxModuleIdentities");
			return PGS_ERR;
		}
		ti->n_ids = json_array_size(ids);
		ti->ids = pgs_xcalloc(ti->n_ids ? ti->n_ids : 1, sizeof(*ti->ids));
		for (size_t i = 0; i < ti->n_ids; i++) {
			json_t *e = json_array_get(ids, i);
			struct attest_module_identity *m = &ti->ids[i];
			m->id = jstr(e, "id");
			if (!m->id || !jhex(e, "mrsigner", m->mrsigner, 48) ||
			    !jhex(e, "attributes", m->attributes, 8) ||
			    !jhex(e, "attributesMask", m->attributes_mask, 8) ||
			    !parse_isv_levels(json_object_get(e, "tcbLevels"), &m->levels,
			                      &m->n_levels)) {
				pgs_errf(err, errlen, "TCB Info: bad TDX module identity %zu", i);
				return PGS_ERR;
			}
		}
	}
	json_t *levels = json_object_get(o, "tcbLevels");
	if (!json_is_array(levels) || json_array_size(levels) == 0 ||
	    json_array_size(levels) > 4096) {
		pgs_errf(err, errlen, "TCB Info: missing tcbLevels");
		return PGS_ERR;
	}
	ti->n_levels = json_array_size(levels);
	ti->levels = pgs_xcalloc(ti->n_levels, sizeof(*ti->levels));
	for (size_t i = 0; i < ti->n_levels; i++) {
		json_t *l = json_array_get(levels, i), *tcb = json_object_get(l, "tcb");
		struct attest_tcb_level *lv = &ti->levels[i];
		if (!parse_components(json_object_get(tcb, "sgxtcbcomponents"), lv->sgx) ||
		    !jint(tcb, "pcesvn", 0, 65535, &v) || !jstatus(l, &lv->status) ||
		    !jadvisories(l, &lv->advisories)) {
			pgs_errf(err, errlen, "TCB Info: bad TCB level %zu", i);
			return PGS_ERR;
		}
		lv->pce_svn = (uint16_t)v;
		lv->tcb_date = jstr(l, "tcbDate");
		json_t *tdx = json_object_get(tcb, "tdxtcbcomponents");
		if (tdx) {
			if (!parse_components(tdx, lv->tdx)) {
				pgs_errf(err, errlen, "TCB Info: bad TDX components in level %zu",
				         i);
				return PGS_ERR;
			}
			lv->has_tdx = true;
		}
	}
	return PGS_OK;
}

static int parse_qe_identity(json_t *root, struct attest_qe_identity *qe, char *err, size_t errlen)
{
	long long v;
	json_t *o = root;
	if (json_object_get(root, "enclaveIdentity"))
		o = json_object_get(root, "enclaveIdentity");
	qe->id = jstr(o, "id");
	if (!qe->id || !jint(o, "version", 0, 100, &v)) {
		pgs_errf(err, errlen, "QE Identity: missing id or version");
		return PGS_ERR;
	}
	qe->version = (int)v;
	if (!jtime(o, "issueDate", &qe->issue_date) || !jtime(o, "nextUpdate", &qe->next_update)) {
		pgs_errf(err, errlen, "QE Identity: bad issueDate or nextUpdate");
		return PGS_ERR;
	}
	if (jint(o, "tcbEvaluationDataNumber", 0, UINT32_MAX, &v))
		qe->eval_number = (uint32_t)v;
	if (!jhex(o, "miscselect", qe->miscselect, 4) ||
	    !jhex(o, "miscselectMask", qe->miscselect_mask, 4) ||
	    !jhex(o, "attributes", qe->attributes, 16) ||
	    !jhex(o, "attributesMask", qe->attributes_mask, 16) ||
	    !jhex(o, "mrsigner", qe->mrsigner, 32) || !jint(o, "isvprodid", 0, 65535, &v)) {
		pgs_errf(err, errlen,
		         "QE Identity: bad miscselect, attributes, mrsigner or isvprodid");
		return PGS_ERR;
	}
	qe->isvprodid = (uint16_t)v;
	if (!parse_isv_levels(json_object_get(o, "tcbLevels"), &qe->levels, &qe->n_levels)) {
		pgs_errf(err, errlen, "QE Identity: bad tcbLevels");
		return PGS_ERR;
	}
	return PGS_OK;
}

/* ---- the outer collateral object ---------------------------------------------------- */

static char *dup_field(json_t *root, const char *k, size_t *len)
{
	json_t *v = json_object_get(root, k);
	if (!json_is_string(v))
		return NULL;
	size_t n = json_string_length(v);
	char *s = pgs_xmalloc(n + 1);
	memcpy(s, json_string_value(v), n);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

static uint8_t *hex_field(json_t *root, const char *k, size_t *len)
{
	const char *s = jstr(root, k);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n == 0 || n % 2 || n / 2 > (16u << 20))
		return NULL;
	uint8_t *b = pgs_xmalloc(n / 2);
	if (pgs_unhex(s, n, b, n / 2) != PGS_OK) {
		free(b);
		return NULL;
	}
	*len = n / 2;
	return b;
}

static bool sig_field(json_t *root, const char *k, uint8_t out[64])
{
	return jhex(root, k, out, 64);
}

int attest_collateral_parse(const char *json, size_t len, struct attest_collateral **out, char *err,
                            size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	struct attest_collateral *c = NULL;
	const char *missing = NULL;
	int rc = PGS_ERR;

	*out = NULL;
	if (!root || !json_is_object(root)) {
		pgs_errf(err, errlen, "collateral: not a JSON object (line %d: %s)", jerr.line,
		         root ? "wrong type" : jerr.text);
		goto out;
	}
	c = pgs_xcalloc(1, sizeof(*c));
	if (!(c->tcb_info = dup_field(root, "tcb_info", &c->tcb_info_len)))
		missing = "tcb_info";
	else if (!sig_field(root, "tcb_info_signature", c->tcb_info_sig))
		missing = "tcb_info_signature (128 hex digits)";
	else if (!(c->tcb_info_chain = dup_field(root, "tcb_info_issuer_chain", NULL)))
		missing = "tcb_info_issuer_chain";
	else if (!(c->qe_identity = dup_field(root, "qe_identity", &c->qe_identity_len)))
		missing = "qe_identity";
	else if (!sig_field(root, "qe_identity_signature", c->qe_identity_sig))
		missing = "qe_identity_signature (128 hex digits)";
	else if (!(c->qe_identity_chain = dup_field(root, "qe_identity_issuer_chain", NULL)))
		missing = "qe_identity_issuer_chain";
	else if (!(c->pck_crl_chain = dup_field(root, "pck_crl_issuer_chain", NULL)))
		missing = "pck_crl_issuer_chain";
	else if (!(c->root_ca_crl = hex_field(root, "root_ca_crl", &c->root_ca_crl_len)))
		missing = "root_ca_crl (hex DER)";
	else if (!(c->pck_crl = hex_field(root, "pck_crl", &c->pck_crl_len)))
		missing = "pck_crl (hex DER)";
	if (missing) {
		pgs_errf(err, errlen, "collateral: missing or malformed field %s", missing);
		goto out;
	}

	c->ti_root = json_loadb(c->tcb_info, c->tcb_info_len, 0, &jerr);
	if (!c->ti_root)
		pgs_errf(c->ti_err, sizeof(c->ti_err), "TCB Info is not JSON");
	else
		c->ti_ok =
		    parse_tcb_info(c->ti_root, &c->ti, c->ti_err, sizeof(c->ti_err)) == PGS_OK;
	c->qe_root = json_loadb(c->qe_identity, c->qe_identity_len, 0, &jerr);
	if (!c->qe_root)
		pgs_errf(c->qe_err, sizeof(c->qe_err), "QE Identity is not JSON");
	else
		c->qe_ok =
		    parse_qe_identity(c->qe_root, &c->qe, c->qe_err, sizeof(c->qe_err)) == PGS_OK;
	*out = c;
	c = NULL;
	rc = PGS_OK;
out:
	attest_collateral_free(c);
	json_decref(root);
	return rc;
}

void attest_collateral_free(struct attest_collateral *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ti.n_ids; i++)
		free(c->ti.ids[i].levels);
	free(c->ti.ids);
	free(c->ti.levels);
	free(c->qe.levels);
	json_decref(c->ti_root);
	json_decref(c->qe_root);
	free(c->tcb_info);
	free(c->tcb_info_chain);
	free(c->qe_identity);
	free(c->qe_identity_chain);
	free(c->pck_crl_chain);
	free(c->root_ca_crl);
	free(c->pck_crl);
	free(c);
}
