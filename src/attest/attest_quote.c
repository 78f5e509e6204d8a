/* attest_quote.c - TDX quote v4/v5 parser (bounds-checked cursor, length fields never trusted) and
 * hex/file decoding. */
#include "attest/attest.h"
#include "crypto/crypto.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A read cursor over the quote: every read fails when the input is short. */
struct cur {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static bool cur_take(struct cur *c, size_t n, const uint8_t **out)
{
	if (n > c->len - c->off)
		return false;
	*out = c->p + c->off;
	c->off += n;
	return true;
}

static bool cur_u16(struct cur *c, uint16_t *v)
{
	const uint8_t *b;
	if (!cur_take(c, 2, &b))
		return false;
	*v = (uint16_t)(b[0] | (b[1] << 8));
	return true;
}

static bool cur_u32(struct cur *c, uint32_t *v)
{
	const uint8_t *b;
	if (!cur_take(c, 4, &b))
		return false;
	*v = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	     ((uint32_t)b[3] << 24);
	return true;
}

static void parse_td_report(const uint8_t *b, bool td15, struct attest_td_report *td)
{
	memcpy(td->tee_tcb_svn, b + 0, 16);
	memcpy(td->mr_seam, b + 16, 48);
	memcpy(td->mr_signer_seam, b + 64, 48);
	memcpy(td->seam_attributes, b + 112, 8);
	memcpy(td->td_attributes, b + 120, 8);
	memcpy(td->xfam, b + 128, 8);
	memcpy(td->mr_td, b + 136, 48);
	memcpy(td->mr_config_id, b + 184, 48);
	memcpy(td->mr_owner, b + 232, 48);
	memcpy(td->mr_owner_config, b + 280, 48);
	for (int i = 0; i < 4; i++)
		memcpy(td->rtmr[i], b + 328 + 48 * i, 48);
	memcpy(td->report_data, b + 520, 64);
	td->is_td15 = td15;
	if (td15) {
		memcpy(td->tee_tcb_svn2, b + 584, 16);
		memcpy(td->mr_servicetd, b + 600, 48);
	}
}

/* QE report certification data (type 6): QE report, its signature, QE auth data, then the
 * nested certification data that must be the PEM PCK chain (type 5). */
static int parse_qe_cert_data(const uint8_t *b, size_t n, struct attest_quote *q, char *err,
                              size_t errlen)
{
	struct cur c = {b, n, 0};
	uint16_t auth_len, type;
	uint32_t size;
	if (!cur_take(&c, ATTEST_ENCLAVE_REPORT_LEN, &q->qe_report) ||
	    !cur_take(&c, 64, &q->qe_report_sig) || !cur_u16(&c, &auth_len) ||
	    !cur_take(&c, auth_len, &q->qe_auth_data)) {
		pgs_errf(err, errlen, "quote: QE report certification data truncated");
		return PGS_ERR;
	}
	q->qe_auth_len = auth_len;
	if (!cur_u16(&c, &type) || !cur_u32(&c, &size)) {
		pgs_errf(err, errlen, "quote: PCK certification data header truncated");
		return PGS_ERR;
	}
	if (type != 5) {
		pgs_errf(err, errlen, "quote: unsupported PCK certification data type %u (want 5)",
		         type);
		return PGS_ERR;
	}
	if (!cur_take(&c, size, &q->pck_chain)) {
		pgs_errf(err, errlen, "quote: PCK certificate chain length %u points past the end",
		         size);
		return PGS_ERR;
	}
	q->pck_cert_type = type;
	q->pck_chain_len = size;
	if (c.off != c.len) {
		pgs_errf(err, errlen, "quote: %zu unexpected bytes after the PCK chain",
		         c.len - c.off);
		return PGS_ERR;
	}
	return PGS_OK;
}

int attest_quote_parse(const uint8_t *buf, size_t len, struct attest_quote *q, char *err,
                       size_t errlen)
{
	struct cur c = {buf, len, 0};
	const uint8_t *hdr, *body, *sig_data;
	uint32_t sig_len, cert_size;
	uint16_t cert_type;

	memset(q, 0, sizeof(*q));
	if (len > ATTEST_QUOTE_MAX) {
		pgs_errf(err, errlen, "quote: %zu bytes is larger than the %u-byte limit", len,
		         ATTEST_QUOTE_MAX);
		return PGS_ERR;
	}
	if (!cur_take(&c, ATTEST_HEADER_LEN, &hdr)) {
		pgs_errf(err, errlen, "quote: %zu bytes is shorter than the 48-byte header", len);
		return PGS_ERR;
	}
	q->version = (uint16_t)(hdr[0] | hdr[1] << 8);
	q->att_key_type = (uint16_t)(hdr[2] | hdr[3] << 8);
	q->tee_type = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
	              (uint32_t)hdr[7] << 24;
	q->pce_svn = (uint16_t)(hdr[10] | hdr[11] << 8);
	memcpy(q->qe_vendor_id, hdr + 12, 16);

	if (q->version == 4) {
		if (q->tee_type != ATTEST_TEE_TDX) {
			pgs_errf(err, errlen, "quote: v4 quote with TEE type 0x%x is not TDX",
			         q->tee_type);
			return PGS_ERR;
		}
		q->body_type = 2;
		if (!cur_take(&c, ATTEST_TD10_LEN, &body)) {
			pgs_errf(err, errlen, "quote: TD report truncated");
			return PGS_ERR;
		}
		parse_td_report(body, false, &q->td);
	} else if (q->version == 5) {
		uint32_t body_size;
		if (!cur_u16(&c, &q->body_type) || !cur_u32(&c, &body_size)) {
			pgs_errf(err, errlen, "quote: v5 body descriptor truncated");
			return PGS_ERR;
		}
		size_t want = q->body_type == 2   ? ATTEST_TD10_LEN
		              : q->body_type == 3 ? ATTEST_TD15_LEN
		                                  : 0;
		if (!want) {
			pgs_errf(err, errlen, "quote: v5 body type %u is not a TD report",
			         q->body_type);
			return PGS_ERR;
		}
		if (body_size != want) {
			pgs_errf(err, errlen, "quote: v5 body size %u, body type %u needs %zu",
			         body_size, q->body_type, want);
			return PGS_ERR;
		}
		if (!cur_take(&c, want, &body)) {
			pgs_errf(err, errlen, "quote: TD report truncated");
			return PGS_ERR;
		}
		parse_td_report(body, q->body_type == 3, &q->td);
	} else {
		pgs_errf(err, errlen, "quote: unsupported version %u (want 4 or 5)", q->version);
		return PGS_ERR;
	}
	q->signed_len = c.off;

	if (!cur_u32(&c, &sig_len)) {
		pgs_errf(err, errlen, "quote: signature data length missing");
		return PGS_ERR;
	}
	if (!cur_take(&c, sig_len, &sig_data)) {
		pgs_errf(err, errlen,
		         "quote: signature data length %u points past the end (%zu "
		         "bytes left)",
		         sig_len, len - c.off);
		return PGS_ERR;
	}
	q->parsed_len = c.off;

	struct cur s = {sig_data, sig_len, 0};
	const uint8_t *cert;
	if (!cur_take(&s, 64, &q->signature) || !cur_take(&s, 64, &q->attest_key) ||
	    !cur_u16(&s, &cert_type) || !cur_u32(&s, &cert_size)) {
		pgs_errf(err, errlen, "quote: signature data truncated");
		return PGS_ERR;
	}
	if (cert_type != 6) {
		pgs_errf(err, errlen, "quote: certification data type %u (want 6, QE report)",
		         cert_type);
		return PGS_ERR;
	}
	if (!cur_take(&s, cert_size, &cert)) {
		pgs_errf(err, errlen, "quote: certification data length %u points past the end",
		         cert_size);
		return PGS_ERR;
	}
	if (s.off != s.len) {
		pgs_errf(err, errlen, "quote: %zu unexpected bytes after the certification data",
		         s.len - s.off);
		return PGS_ERR;
	}
	return parse_qe_cert_data(cert, cert_size, q, err, errlen);
}

/* ---- hex and file decoding ---------------------------------------------------------- */

/* Decodes hex text that may contain whitespace and a leading 0x. */
static int unhex_text(const uint8_t *data, size_t len, uint8_t **out, size_t *outlen, char *err,
                      size_t errlen)
{
	size_t i = 0, n = 0;
	while (i < len && isspace(data[i]))
		i++;
	if (len - i >= 2 && data[i] == '0' && (data[i + 1] == 'x' || data[i + 1] == 'X'))
		i += 2;
	uint8_t *buf = pgs_xmalloc(len / 2 + 1);
	int hi = -1;
	for (; i < len; i++) {
		if (isspace(data[i]))
			continue;
		int v = pgs_hexval(data[i]);
		if (v < 0) {
			pgs_errf(err, errlen, "quote: invalid hex character at offset %zu", i);
			free(buf);
			return PGS_ERR;
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0 || n == 0) {
		pgs_errf(err, errlen, "quote: hex text has %s",
		         n ? "an odd number of digits" : "no digits");
		free(buf);
		return PGS_ERR;
	}
	*out = buf;
	*outlen = n;
	return PGS_OK;
}

int attest_quote_decode_file(const uint8_t *data, size_t len, uint8_t **out, size_t *outlen,
                             char *err, size_t errlen)
{
	size_t i = 0;
	while (i < len && isspace(data[i]))
		i++;
	if (i < len && data[i] == '{') {
		json_error_t jerr;
		json_t *root = json_loadb((const char *)data, len, 0, &jerr);
		const char *hex;
		int rc = PGS_ERR;
		if (!root) {
			pgs_errf(err, errlen, "quote: JSON error at line %d: %s", jerr.line,
			         jerr.text);
			return PGS_ERR;
		}
		json_t *qv = json_object_get(root, "quote");
		if (!json_is_string(qv) || !(hex = json_string_value(qv))) {
			pgs_errf(err, errlen, "quote: JSON object has no \"quote\" string");
		} else {
			rc = unhex_text((const uint8_t *)hex, json_string_length(qv), out, outlen,
			                err, errlen);
		}
		json_decref(root);
		return rc;
	}
	/* A binary quote starts with its version (4 or 5) as a little-endian u16; anything
	 * printable is taken as hex text and must decode cleanly. */
	if (len > 0 && (isprint(data[0]) || isspace(data[0])))
		return unhex_text(data, len, out, outlen, err, errlen);
	*out = pgs_xmalloc(len);
	memcpy(*out, data, len);
	*outlen = len;
	return PGS_OK;
}

/* ---- TCB status names --------------------------------------------------------------- */

static const char *const status_names[] = {
    "Unknown",
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};

const char *attest_tcb_status_name(enum attest_tcb_status s)
{
	if ((size_t)s >= PGS_ARRAY_LEN(status_names))
		return "Unknown";
	return status_names[s];
}

int attest_tcb_status_parse(const char *s, enum attest_tcb_status *out)
{
	for (size_t i = 1; i < PGS_ARRAY_LEN(status_names); i++) {
		if (!strcmp(s, status_names[i])) {
			*out = (enum attest_tcb_status)i;
			return PGS_OK;
		}
	}
	return PGS_ERR;
}
