/* fle_value.c - one value through the keys: canonical form, record encryption, blind index,
 * decryption, arrays of search values. */
#include "fle/fle_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "metrics/metrics.h"

static const char *key_client(const struct schema_column *col)
{
	return col->client_id ? col->client_id : KEYS_DEFAULT_CLIENT;
}

/* A rule with client_id is usable only by the client holding that certificate. */
static bool allowed(const struct fle *f, const struct schema_column *col)
{
	return !col->client_id || strcmp(col->client_id, f->client_id) == 0;
}

int fle_encrypt_value(struct fle *f, const struct schema_column *col, enum sql_value_mode mode,
                      uint32_t wire_oid, int format, const uint8_t *in, size_t len,
                      struct pgs_buf *out, char *err, size_t errlen)
{
	struct pgs_buf canon = {0};
	struct crypto_column_key *k;
	int rc = PGS_ERR;

	if (!allowed(f, col)) {
		pgs_errf(err, errlen, "pgseal: this client may not use %s", col->qualified);
		return PGS_ERR;
	}
	if (!f->kw) {
		pgs_errf(err, errlen, "pgseal: %s is encrypted but no keys are configured",
		         col->qualified);
		return PGS_ERR;
	}
	if (codec_to_canonical(col->type, wire_oid, format, in, len, &canon) != PGS_OK) {
		pgs_errf(err, errlen, "pgseal: invalid input for %s (type %s)", col->qualified,
		         codec_type_name(col->type));
		goto out;
	}
	if (keys_worker_current(f->kw, key_client(col), col->table->name, col->name, &k) !=
	    PGS_OK) {
		pgs_errf(err, errlen, "pgseal: no key for %s", col->qualified);
		goto out;
	}
	out->len = 0;
	if (mode == SQL_VALUE_BLIND) {
		uint8_t prefix[CRYPTO_SEARCH_PREFIX_LEN];
		prefix[0] = CRYPTO_REC_SEARCHABLE;
		if (crypto_blind_index(k, canon.data, canon.len, prefix + 1) != PGS_OK ||
		    pgs_buf_put(out, prefix, sizeof(prefix)) != PGS_OK) {
			pgs_errf(err, errlen, "pgseal: cannot compute the search index of %s",
			         col->qualified);
			goto out;
		}
		metrics_value(METRICS_VALUE_SEARCH);
		rc = PGS_OK;
		goto out;
	}
	size_t need = crypto_record_len(col->searchable, canon.len);
	if (need == 0 || need > PGS_BUF_MAX) {
		pgs_errf(err, errlen, "pgseal: value too large for %s", col->qualified);
		goto out;
	}
	/* the record replaces what out held; a grow wipes the old block */
	out->len = 0;
	pgs_buf_reserve(out, need);
	if (crypto_record_encrypt(k, col->searchable, canon.data, canon.len, out->data, out->cap,
	                          &out->len) != PGS_OK) {
		pgs_errf(err, errlen, "pgseal: cannot encrypt a value of %s", col->qualified);
		goto out;
	}
	metrics_value(METRICS_VALUE_ENCRYPTED);
	rc = PGS_OK;
out:
	pgs_buf_free(&canon);
	return rc;
}

static int fail_response(struct fle *f, const struct schema_column *col, int format,
                         const uint8_t *rec, size_t len, struct pgs_buf *out, bool *is_null,
                         char *err, size_t errlen, const char *why)
{
	metrics_value(METRICS_VALUE_DECRYPT_FAILED);
	log_conn(LOG_WARN, f->id, "a value of %s could not be decrypted: %s", col->qualified, why);
	switch (col->on_fail) {
	case SCHEMA_FAIL_CIPHERTEXT:
		/* the stored bytes, never plaintext: raw for bytea in binary, else as the text
		 * \x... that only text and bytea columns can carry; other types get the error */
		out->len = 0;
		if (col->type == CODEC_BYTEA && format == CODEC_FMT_BINARY)
			return pgs_buf_put(out, rec, len);
		if (col->type != CODEC_BYTEA && col->type != CODEC_TEXT) {
			pgs_errf(err, errlen,
			         "pgseal: a value of %s could not be decrypted (%s), and its "
			         "ciphertext cannot be returned as %s",
			         col->qualified, why, codec_type_name(col->type));
			return PGS_ERR;
		}
		if (pgs_buf_put(out, "\\x", 2) != PGS_OK)
			return PGS_ERR;
		for (size_t i = 0; i < len; i++) {
			char h[3];
			snprintf(h, sizeof(h), "%02x", rec[i]);
			if (pgs_buf_put(out, h, 2) != PGS_OK)
				return PGS_ERR;
		}
		return PGS_OK;
	case SCHEMA_FAIL_DEFAULT: {
		struct pgs_buf canon = {0};
		int rc = PGS_ERR;
		if (!col->default_value) {
			*is_null = true;
			return PGS_OK;
		}
		if (codec_to_canonical(col->type, 0, CODEC_FMT_TEXT,
		                       (const uint8_t *)col->default_value,
		                       strlen(col->default_value), &canon) == PGS_OK &&
		    codec_from_canonical(col->type, format, canon.data, canon.len, out) == PGS_OK)
			rc = PGS_OK;
		pgs_buf_free(&canon);
		return rc;
	}
	case SCHEMA_FAIL_ERROR:
	default:
		pgs_errf(err, errlen, "pgseal: a value of %s could not be decrypted (%s)",
		         col->qualified, why);
		return PGS_ERR;
	}
}

int fle_decrypt_value(struct fle *f, const struct schema_column *col, int format,
                      const uint8_t *rec, size_t len, struct pgs_buf *out, bool *is_null, char *err,
                      size_t errlen)
{
	struct crypto_record_view v;
	struct crypto_column_key *k;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	int rc = PGS_ERR;

	*is_null = false;
	if (!allowed(f, col))
		return fail_response(f, col, format, rec, len, out, is_null, err, errlen,
		                     "this client may not read it");
	if (!f->kw)
		return fail_response(f, col, format, rec, len, out, is_null, err, errlen,
		                     "no keys");
	if (crypto_record_parse(rec, len, &v) != PGS_OK)
		return fail_response(f, col, format, rec, len, out, is_null, err, errlen,
		                     "not a pgseal record");
	if (keys_worker_version(f->kw, key_client(col), col->table->name, col->name, v.key_id,
	                        &k) != PGS_OK)
		return fail_response(f, col, format, rec, len, out, is_null, err, errlen,
		                     "unknown key version");
	/* the plaintext goes in the session's scratch block (no allocation per value), wiped
	 * below after each value and when the session ends */
	f->value_pt.len = 0;
	pgs_buf_reserve(&f->value_pt, len ? len : 1);
	pt = f->value_pt.data;
	if (crypto_record_decrypt(k, rec, len, pt, len, &ptlen) != PGS_OK) {
		rc = fail_response(f, col, format, rec, len, out, is_null, err, errlen,
		                   "authentication failed");
		goto out;
	}
	out->len = 0;
	if (codec_from_canonical(col->type, format, pt, ptlen, out) != PGS_OK) {
		rc = fail_response(f, col, format, rec, len, out, is_null, err, errlen,
		                   "not a value of the declared type");
		goto out;
	}
	metrics_value(METRICS_VALUE_DECRYPTED);
	rc = PGS_OK;
out:
	crypto_wipe(pt, len ? len : 1);
	return rc;
}

int fle_bytea_text_decode(const uint8_t *in, size_t len, struct pgs_buf *out)
{
	out->len = 0;
	if (len >= 2 && in[0] == '\\' && in[1] == 'x') {
		size_t n = (len - 2) / 2;
		if ((len - 2) % 2)
			return PGS_ERR;
		pgs_buf_reserve(out,
		                n ? n : 1); /* out is empty: n bytes; a grow wipes the old block */
		if (pgs_unhex((const char *)in + 2, len - 2, out->data, n) != PGS_OK)
			return PGS_ERR;
		out->len = n;
		return PGS_OK;
	}
	/* bytea_output = escape: \\ is a backslash, \ooo an octal byte, others as they are */
	for (size_t i = 0; i < len;) {
		uint8_t b = in[i];
		if (b == '\\') {
			if (i + 1 < len && in[i + 1] == '\\') {
				i += 2;
			} else if (i + 3 < len && in[i + 1] >= '0' && in[i + 1] <= '3' &&
			           in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' &&
			           in[i + 3] <= '7') {
				b = (uint8_t)((in[i + 1] - '0') << 6 | (in[i + 2] - '0') << 3 |
				              (in[i + 3] - '0'));
				i += 4;
			} else {
				return PGS_ERR;
			}
		} else {
			i++;
		}
		if (pgs_buf_put(out, &b, 1) != PGS_OK)
			return PGS_ERR;
	}
	return PGS_OK;
}

int fle_render_literal(void *arg, const struct schema_column *col, enum sql_value_mode mode,
                       const char *value, size_t len, char **out, char *err, size_t errlen)
{
	struct fle *f = arg;
	struct pgs_buf rec = {0};
	if (fle_encrypt_value(f, col, mode, 0, CODEC_FMT_TEXT, (const uint8_t *)value, len, &rec,
	                      err, errlen) != PGS_OK) {
		pgs_buf_free(&rec);
		return PGS_ERR;
	}
	/* E'\\x…'::bytea reads the same whatever standard_conforming_strings is */
	size_t n = rec.len * 2 + 16;
	char *s = malloc(n);
	if (!s) {
		pgs_buf_free(&rec);
		return PGS_ERR;
	}
	/* s is length-counted: the NUL comes with the last part, below */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(s, "E'\\\\x", 5);
	pgs_hex(rec.data, rec.len, s + 5);
	memcpy(s + 5 + 2 * rec.len, "'::bytea", 9);
	*out = s;
	pgs_buf_free(&rec);
	return PGS_OK;
}

/* Encrypts the elements of a text array '{a,b,"c"}' into a binary bytea[] value. */
int fle_encrypt_array(struct fle *f, const struct sql_param *pp, uint32_t elem_oid, int format,
                      const uint8_t *in, size_t len, struct pgs_buf *out, char *err, size_t errlen)
{
	struct pgs_buf one = {0}, elem = {0};
	struct pgs_buf items = {0};
	uint32_t count = 0;
	int rc = PGS_ERR;
	if (format != CODEC_FMT_TEXT) {
		/* binary array: ndim, flags, elemtype, dims..., then elements */
		struct proto_reader r;
		uint32_t ndim, flags, etype, dim, lb;
		proto_reader_init(&r, in, len);
		if (proto_read_u32(&r, &ndim) != PGS_OK || ndim > 1 ||
		    proto_read_u32(&r, &flags) != PGS_OK || proto_read_u32(&r, &etype) != PGS_OK)
			goto bad;
		dim = 0;
		if (ndim == 1 &&
		    (proto_read_u32(&r, &dim) != PGS_OK || proto_read_u32(&r, &lb) != PGS_OK))
			goto bad;
		for (uint32_t i = 0; i < dim; i++) {
			int32_t el;
			const uint8_t *p;
			if (proto_read_i32(&r, &el) != PGS_OK)
				goto bad;
			if (el < 0) {
				proto_put_u32(&items, 0xffffffffu);
				count++;
				continue;
			}
			if (proto_read_bytes(&r, (size_t)el, &p) != PGS_OK)
				goto bad;
			if (fle_encrypt_value(f, pp->column, SQL_VALUE_BLIND, etype,
			                      CODEC_FMT_BINARY, p, (size_t)el, &one, err,
			                      errlen) != PGS_OK)
				goto out;
			proto_put_u32(&items, (uint32_t)one.len);
			pgs_buf_append(&items, one.data, one.len);
			count++;
		}
	} else {
		size_t i = 0;
		while (i < len && isspace(in[i]))
			i++;
		if (i >= len || in[i++] != '{')
			goto bad;
		for (;;) {
			while (i < len && isspace(in[i]))
				i++;
			if (i < len && in[i] == '}' && count == 0) {
				i++;
				break;
			}
			elem.len = 0;
			bool quoted = false;
			if (i < len && in[i] == '"') {
				quoted = true;
				i++;
				while (i < len && in[i] != '"') {
					if (in[i] == '\\' && i + 1 < len)
						i++;
					if (pgs_buf_put(&elem, &in[i], 1) != PGS_OK)
						goto out;
					i++;
				}
				if (i >= len)
					goto bad;
				i++;
			} else {
				while (i < len && in[i] != ',' && in[i] != '}') {
					if (in[i] == '\\' && i + 1 < len)
						i++;
					if (pgs_buf_put(&elem, &in[i], 1) != PGS_OK)
						goto out;
					i++;
				}
				while (elem.len && isspace(elem.data[elem.len - 1]))
					elem.len--;
			}
			if (!quoted && elem.len == 4 &&
			    !strncasecmp((const char *)elem.data, "null", 4)) {
				proto_put_u32(&items, 0xffffffffu);
			} else {
				if (fle_encrypt_value(f, pp->column, SQL_VALUE_BLIND, elem_oid,
				                      CODEC_FMT_TEXT, elem.data, elem.len, &one,
				                      err, errlen) != PGS_OK)
					goto out;
				proto_put_u32(&items, (uint32_t)one.len);
				pgs_buf_append(&items, one.data, one.len);
			}
			count++;
			while (i < len && isspace(in[i]))
				i++;
			if (i < len && in[i] == ',') {
				i++;
				continue;
			}
			if (i < len && in[i] == '}') {
				i++;
				break;
			}
			goto bad;
		}
	}
	proto_put_u32(out, count ? 1 : 0);
	proto_put_u32(out, 0);
	proto_put_u32(out, FLE_BYTEA_OID);
	if (count) {
		proto_put_u32(out, count);
		proto_put_u32(out, 1);
	}
	pgs_buf_append(out, items.data, items.len);
	rc = PGS_OK;
	goto out;
bad:
	pgs_errf(err, errlen, "pgseal: malformed array for %s", pp->column->qualified);
out:
	pgs_buf_free(&one);
	pgs_buf_free(&elem);
	pgs_buf_free(&items);
	return rc;
}
