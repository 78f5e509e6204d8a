/* codec.c - type table and wire <-> canonical conversion for every supported type. */
#include "codec/codec.h"
#include "crypto/crypto.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

/* PostgreSQL type OIDs (pg_type.dat). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_NAME 19
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_UNKNOWN 705
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_DATE 1082
#define OID_TIMESTAMP 1114
#define OID_TIMESTAMPTZ 1184
#define OID_NUMERIC 1700
#define OID_UUID 2950
#define OID_JSONB 3802

#define MAX_VALUE_LEN PGS_BUF_MAX

static const struct {
	const char *name;
	enum codec_type t;
} type_names[] = {
    {"text", CODEC_TEXT},
    {"varchar", CODEC_TEXT},
    {"character varying", CODEC_TEXT},
    {"bpchar", CODEC_TEXT},
    {"char", CODEC_TEXT},
    {"character", CODEC_TEXT},
    {"name", CODEC_TEXT},
    {"str", CODEC_TEXT},
    {"string", CODEC_TEXT},
    {"bytea", CODEC_BYTEA},
    {"bytes", CODEC_BYTEA},
    {"int2", CODEC_INT2},
    {"smallint", CODEC_INT2},
    {"int16", CODEC_INT2},
    {"int4", CODEC_INT4},
    {"integer", CODEC_INT4},
    {"int", CODEC_INT4},
    {"int32", CODEC_INT4},
    {"int8", CODEC_INT8},
    {"bigint", CODEC_INT8},
    {"int64", CODEC_INT8},
    {"float8", CODEC_FLOAT8},
    {"double precision", CODEC_FLOAT8},
    {"double", CODEC_FLOAT8},
    {"numeric", CODEC_NUMERIC},
    {"decimal", CODEC_NUMERIC},
    {"bool", CODEC_BOOL},
    {"boolean", CODEC_BOOL},
    {"date", CODEC_DATE},
    {"timestamp", CODEC_TIMESTAMP},
    {"timestamp without time zone", CODEC_TIMESTAMP},
    {"timestamptz", CODEC_TIMESTAMPTZ},
    {"timestamp with time zone", CODEC_TIMESTAMPTZ},
    {"uuid", CODEC_UUID},
    {"jsonb", CODEC_JSONB},
};

int codec_type_by_name(const char *name, enum codec_type *out)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(type_names); i++)
		if (!strcasecmp(name, type_names[i].name)) {
			*out = type_names[i].t;
			return PGS_OK;
		}
	return PGS_ERR;
}

const char *codec_type_name(enum codec_type t)
{
	switch (t) {
	case CODEC_TEXT:
		return "text";
	case CODEC_BYTEA:
		return "bytea";
	case CODEC_INT2:
		return "int2";
	case CODEC_INT4:
		return "int4";
	case CODEC_INT8:
		return "int8";
	case CODEC_FLOAT8:
		return "float8";
	case CODEC_NUMERIC:
		return "numeric";
	case CODEC_BOOL:
		return "bool";
	case CODEC_DATE:
		return "date";
	case CODEC_TIMESTAMP:
		return "timestamp";
	case CODEC_TIMESTAMPTZ:
		return "timestamptz";
	case CODEC_UUID:
		return "uuid";
	case CODEC_JSONB:
		return "jsonb";
	}
	return "?";
}

uint32_t codec_type_oid(enum codec_type t)
{
	switch (t) {
	case CODEC_TEXT:
		return OID_TEXT;
	case CODEC_BYTEA:
		return OID_BYTEA;
	case CODEC_INT2:
		return OID_INT2;
	case CODEC_INT4:
		return OID_INT4;
	case CODEC_INT8:
		return OID_INT8;
	case CODEC_FLOAT8:
		return OID_FLOAT8;
	case CODEC_NUMERIC:
		return OID_NUMERIC;
	case CODEC_BOOL:
		return OID_BOOL;
	case CODEC_DATE:
		return OID_DATE;
	case CODEC_TIMESTAMP:
		return OID_TIMESTAMP;
	case CODEC_TIMESTAMPTZ:
		return OID_TIMESTAMPTZ;
	case CODEC_UUID:
		return OID_UUID;
	case CODEC_JSONB:
		return OID_JSONB;
	}
	return 0;
}

int codec_type_by_oid(uint32_t oid, enum codec_type *out)
{
	switch (oid) {
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_NAME:
		*out = CODEC_TEXT;
		break;
	case OID_BYTEA:
		*out = CODEC_BYTEA;
		break;
	case OID_INT2:
		*out = CODEC_INT2;
		break;
	case OID_INT4:
		*out = CODEC_INT4;
		break;
	case OID_INT8:
		*out = CODEC_INT8;
		break;
	case OID_FLOAT8:
		*out = CODEC_FLOAT8;
		break;
	case OID_NUMERIC:
		*out = CODEC_NUMERIC;
		break;
	case OID_BOOL:
		*out = CODEC_BOOL;
		break;
	case OID_DATE:
		*out = CODEC_DATE;
		break;
	case OID_TIMESTAMP:
		*out = CODEC_TIMESTAMP;
		break;
	case OID_TIMESTAMPTZ:
		*out = CODEC_TIMESTAMPTZ;
		break;
	case OID_UUID:
		*out = CODEC_UUID;
		break;
	case OID_JSONB:
		*out = CODEC_JSONB;
		break;
	default:
		return PGS_ERR;
	}
	return PGS_OK;
}

static int put_str(struct pgs_buf *b, const char *s)
{
	return pgs_buf_put(b, s, strlen(s));
}

/* Appends the low n (2, 4 or 8) bytes of v, big-endian. */
static int put_be(struct pgs_buf *b, uint64_t v, int n)
{
	uint8_t t[8];
	if (n == 2)
		pgs_put_u16(t, (uint16_t)v);
	else if (n == 4)
		pgs_put_u32(t, (uint32_t)v);
	else
		pgs_put_u64(t, v);
	return pgs_buf_put(b, t, (size_t)n);
}

/* ---- text helpers ------------------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s))
		(*s)++, (*len)--;
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

bool codec_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, cp = c & 0x07;
		else
			return false;
		if (n - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

static int int_text_in(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, lim;
	trim(&s, &len);
	if (len && (*s == '+' || *s == '-')) {
		neg = *s == '-';
		s++, len--;
	}
	if (!len)
		return PGS_ERR;
	lim = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return PGS_ERR;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return PGS_ERR;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return PGS_OK;
}

static int bool_text_in(const char *s, size_t len, uint8_t *out)
{
	static const struct {
		const char *word;
		size_t min;
		uint8_t v;
	} words[] = {{"true", 1, 1}, {"false", 1, 0}, {"yes", 1, 1}, {"no", 1, 0},
	             {"on", 2, 1},   {"off", 2, 0},   {"1", 1, 1},   {"0", 1, 0}};
	trim(&s, &len);
	for (size_t i = 0; i < PGS_ARRAY_LEN(words); i++)
		if (len >= words[i].min && len <= strlen(words[i].word) &&
		    !strncasecmp(s, words[i].word, len)) {
			*out = words[i].v;
			return PGS_OK;
		}
	return PGS_ERR;
}

static uint64_t canon_double_bits(double d)
{
	uint64_t b;
	if (isnan(d))
		return 0x7FF8000000000000ull;
	memcpy(&b, &d, sizeof(b));
	return b;
}

static int float_text_in(const char *s, size_t len, uint64_t *bits)
{
	char tmp[400];
	char *end;
	trim(&s, &len);
	if (!len || len >= sizeof(tmp))
		return PGS_ERR;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)tmp[i]) || tmp[i] == '.' || tmp[i] == '+' ||
		      tmp[i] == '-'))
			return PGS_ERR;
	if (tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'X'))
		return PGS_ERR;
	errno = 0;
	double d = strtod(tmp, &end);
	if (end != tmp + len)
		return PGS_ERR;
	if (errno == ERANGE && (isinf(d) || d == 0))
		return PGS_ERR; /* PostgreSQL: "out of range for type double precision" */
	*bits = canon_double_bits(d);
	return PGS_OK;
}

static int float_text_out(uint64_t bits, struct pgs_buf *out)
{
	double d;
	char tmp[64];
	memcpy(&d, &bits, sizeof(d));
	if (isnan(d))
		return put_str(out, "NaN");
	if (isinf(d))
		return put_str(out, d > 0 ? "Infinity" : "-Infinity");
	/* Shortest digits that read back exactly, laid out like PostgreSQL >= 12 (ryu):
	 * exponential when the decimal exponent is < -4 or >= 15, else fixed-point. */
	int p = 1;
	for (; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
	/* the decimal exponent %e wrote after its 'e': a sign and at least two digits */
	int x = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
	if (x >= -4 && x < 15)
		snprintf(tmp, sizeof(tmp), "%.*f", p - 1 - x > 0 ? p - 1 - x : 0, d);
	return put_str(out, tmp);
}

static int uuid_text_in(const char *s, size_t len, uint8_t out[16])
{
	size_t n = 0;
	trim(&s, &len);
	if (len >= 2 && s[0] == '{' && s[len - 1] == '}')
		s++, len -= 2;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '-') {
			/* a hyphen only after a group of 4 hex digits, never at the end */
			if (n == 0 || n % 4 || i + 1 == len || s[i + 1] == '-')
				return PGS_ERR;
			continue;
		}
		int v = pgs_hexval(c);
		if (v < 0 || n >= 32)
			return PGS_ERR;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 ? PGS_OK : PGS_ERR;
}

static int uuid_text_out(const uint8_t u[16], struct pgs_buf *out)
{
	char h[33], t[37];
	size_t o = 0;
	pgs_hex(u, 16, h);
	for (int i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			t[o++] = '-';
		t[o++] = h[i];
	}
	return pgs_buf_put(out, t, 36);
}

static int bytea_text_in(const char *s, size_t len, struct pgs_buf *out)
{
	if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
		/* hex format: pairs of hex digits, whitespace allowed between pairs */
		for (size_t i = 2; i < len;) {
			if (is_space(s[i])) {
				i++;
				continue;
			}
			uint8_t b;
			if (i + 1 >= len || pgs_unhex(s + i, 2, &b, 1) != PGS_OK)
				return PGS_ERR;
			if (pgs_buf_put(out, &b, 1) != PGS_OK)
				return PGS_ERR;
			i += 2;
		}
		return PGS_OK;
	}
	/* escape format: \\ is a backslash, \ooo an octal byte, anything else literal */
	for (size_t i = 0; i < len;) {
		uint8_t b;
		if (s[i] != '\\') {
			b = (uint8_t)s[i++];
		} else if (i + 1 < len && s[i + 1] == '\\') {
			b = '\\';
			i += 2;
		} else if (i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
		           s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			b = (uint8_t)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
			              (s[i + 3] - '0'));
			i += 4;
		} else {
			return PGS_ERR;
		}
		if (pgs_buf_put(out, &b, 1) != PGS_OK)
			return PGS_ERR;
	}
	return PGS_OK;
}

static int bytea_text_out(const uint8_t *p, size_t n, struct pgs_buf *out)
{
	char t[2 * 64 + 1];
	int rc = PGS_ERR;
	if (put_str(out, "\\x") != PGS_OK)
		return PGS_ERR;
	for (size_t i = 0; i < n; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		pgs_hex(p + i, k, t);
		if (pgs_buf_put(out, t, 2 * k) != PGS_OK)
			goto out;
	}
	rc = PGS_OK;
out:
	OPENSSL_cleanse(t, sizeof(t)); /* the hex of a plaintext value */
	return rc;
}

static bool json_valid(const uint8_t *s, size_t n)
{
	json_error_t e;
	if (!codec_utf8_valid(s, n))
		return false;
	json_t *j = json_loadb((const char *)s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
	if (!j)
		return false;
	json_decref(j);
	return true;
}

/* ---- dispatch ----------------------------------------------------------------------- */

static bool oid_textlike(uint32_t oid)
{
	return oid == OID_TEXT || oid == OID_VARCHAR || oid == OID_BPCHAR || oid == OID_NAME ||
	       oid == OID_UNKNOWN;
}

static int int_put(enum codec_type col, int64_t v, struct pgs_buf *out)
{
	switch (col) {
	case CODEC_INT2:
		if (v < INT16_MIN || v > INT16_MAX)
			return PGS_ERR;
		return put_be(out, (uint64_t)v, 2);
	case CODEC_INT4:
		if (v < INT32_MIN || v > INT32_MAX)
			return PGS_ERR;
		return put_be(out, (uint64_t)v, 4);
	case CODEC_INT8:
		return put_be(out, (uint64_t)v, 8);
	case CODEC_FLOAT8:
		return put_be(out, canon_double_bits((double)v), 8);
	case CODEC_NUMERIC: {
		char t[32];
		int n = snprintf(t, sizeof(t), "%lld", (long long)v);
		return codec_numeric_text_in(t, (size_t)n, out);
	}
	default:
		return PGS_ERR;
	}
}

static int text_in(enum codec_type col, const char *s, size_t len, struct pgs_buf *out)
{
	int64_t v;
	uint64_t bits;
	uint8_t b[16];
	int32_t days;
	switch (col) {
	case CODEC_TEXT:
		if (!codec_utf8_valid((const uint8_t *)s, len))
			return PGS_ERR;
		return pgs_buf_put(out, s, len);
	case CODEC_BYTEA:
		return bytea_text_in(s, len, out);
	case CODEC_INT2:
	case CODEC_INT4:
	case CODEC_INT8:
		if (int_text_in(s, len, INT64_MIN, INT64_MAX, &v) != PGS_OK)
			return PGS_ERR;
		return int_put(col, v, out);
	case CODEC_FLOAT8:
		if (float_text_in(s, len, &bits) != PGS_OK)
			return PGS_ERR;
		return put_be(out, bits, 8);
	case CODEC_NUMERIC:
		return codec_numeric_text_in(s, len, out);
	case CODEC_BOOL:
		if (bool_text_in(s, len, b) != PGS_OK)
			return PGS_ERR;
		return pgs_buf_put(out, b, 1);
	case CODEC_DATE:
		if (codec_date_text_in(s, len, &days) != PGS_OK)
			return PGS_ERR;
		return put_be(out, (uint64_t)(int64_t)days, 4);
	case CODEC_TIMESTAMP:
	case CODEC_TIMESTAMPTZ:
		if (codec_ts_text_in(s, len, col == CODEC_TIMESTAMPTZ, &v) != PGS_OK)
			return PGS_ERR;
		return put_be(out, (uint64_t)v, 8);
	case CODEC_UUID:
		if (uuid_text_in(s, len, b) != PGS_OK)
			return PGS_ERR;
		return pgs_buf_put(out, b, 16);
	case CODEC_JSONB:
		if (!json_valid((const uint8_t *)s, len))
			return PGS_ERR;
		return pgs_buf_put(out, s, len);
	}
	return PGS_ERR;
}

static int binary_in(enum codec_type col, uint32_t wire, const uint8_t *in, size_t len,
                     struct pgs_buf *out)
{
	if (wire == 0)
		wire = codec_type_oid(col);
	if (oid_textlike(wire))
		return text_in(col, (const char *)in, len, out);
	switch (wire) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8: {
		size_t w = wire == OID_INT2 ? 2 : wire == OID_INT4 ? 4 : 8;
		if (len != w)
			return PGS_ERR;
		int64_t v = w == 2   ? (int16_t)pgs_get_u16(in)
		            : w == 4 ? (int32_t)pgs_get_u32(in)
		                     : (int64_t)pgs_get_u64(in);
		return int_put(col, v, out);
	}
	case OID_FLOAT4: {
		float f;
		if (len != 4 || col != CODEC_FLOAT8)
			return PGS_ERR;
		uint32_t u = pgs_get_u32(in); /* after the length check: in may be shorter */
		memcpy(&f, &u, sizeof(f));
		return put_be(out, canon_double_bits((double)f), 8);
	}
	case OID_FLOAT8: {
		double d;
		uint64_t u;
		if (len != 8 || col != CODEC_FLOAT8)
			return PGS_ERR;
		u = pgs_get_u64(in);
		memcpy(&d, &u, sizeof(d));
		return put_be(out, canon_double_bits(d), 8);
	}
	case OID_NUMERIC:
		if (col != CODEC_NUMERIC)
			return PGS_ERR;
		return codec_numeric_recv(in, len, out);
	case OID_BOOL: {
		uint8_t b = len == 1 && in[0] ? 1 : 0;
		if (len != 1 || col != CODEC_BOOL)
			return PGS_ERR;
		return pgs_buf_put(out, &b, 1);
	}
	case OID_DATE:
		if (len != 4 || col != CODEC_DATE || !codec_date_valid((int32_t)pgs_get_u32(in)))
			return PGS_ERR;
		return pgs_buf_put(out, in, 4);
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ:
		if (len != 8 || (col != CODEC_TIMESTAMP && col != CODEC_TIMESTAMPTZ) ||
		    !codec_ts_valid((int64_t)pgs_get_u64(in)))
			return PGS_ERR;
		return pgs_buf_put(out, in, 8);
	case OID_UUID:
		if (len != 16 || col != CODEC_UUID)
			return PGS_ERR;
		return pgs_buf_put(out, in, 16);
	case OID_BYTEA:
		if (col != CODEC_BYTEA)
			return PGS_ERR;
		return pgs_buf_put(out, in, len);
	case OID_JSON:
		if (col != CODEC_JSONB)
			return PGS_ERR;
		return text_in(col, (const char *)in, len, out);
	case OID_JSONB:
		/* jsonb binary: a version byte (1) then the JSON text */
		if (col != CODEC_JSONB || len < 1 || in[0] != 1)
			return PGS_ERR;
		return text_in(col, (const char *)in + 1, len - 1, out);
	default:
		return PGS_ERR;
	}
}

int codec_to_canonical(enum codec_type col, uint32_t wire_oid, int format, const uint8_t *in,
                       size_t len, struct pgs_buf *out)
{
	int rc;
	out->len = 0;
	if (len > MAX_VALUE_LEN || (!in && len))
		return PGS_ERR;
	if (!in)
		in = (const uint8_t *)"";
	if (format == CODEC_FMT_TEXT)
		rc = text_in(col, (const char *)in, len, out);
	else if (format == CODEC_FMT_BINARY)
		rc = binary_in(col, wire_oid, in, len, out);
	else
		rc = PGS_ERR;
	if (rc != PGS_OK && out->data) {
		OPENSSL_cleanse(out->data, out->cap);
		out->len = 0;
	}
	return rc;
}

void codec_canonical_size(enum codec_type t, size_t *min, size_t *max)
{
	size_t n = 0;
	switch (t) {
	case CODEC_TEXT:
	case CODEC_BYTEA:
		break;      /* the empty string is a value */
	case CODEC_NUMERIC: /* "0" */
	case CODEC_JSONB:   /* "0": the shortest JSON text */
		*min = 1;
		*max = 0;
		return;
	case CODEC_BOOL:
		n = 1;
		break;
	case CODEC_INT2:
		n = 2;
		break;
	case CODEC_INT4:
	case CODEC_DATE:
		n = 4;
		break;
	case CODEC_INT8:
	case CODEC_FLOAT8:
	case CODEC_TIMESTAMP:
	case CODEC_TIMESTAMPTZ:
		n = 8;
		break;
	case CODEC_UUID:
		n = 16;
		break;
	}
	*min = n;
	*max = n;
}

static bool canonical_valid(enum codec_type col, const uint8_t *c, size_t len)
{
	switch (col) {
	case CODEC_TEXT:
	case CODEC_JSONB:
		return codec_utf8_valid(c, len);
	case CODEC_BYTEA:
		return true;
	case CODEC_INT2:
		return len == 2;
	case CODEC_INT4:
		return len == 4;
	case CODEC_INT8:
	case CODEC_FLOAT8:
		return len == 8;
	case CODEC_NUMERIC:
		return len > 0; /* checked by re-parsing where it is formatted */
	case CODEC_BOOL:
		return len == 1 && c[0] <= 1;
	case CODEC_DATE:
		return len == 4 && codec_date_valid((int32_t)pgs_get_u32(c));
	case CODEC_TIMESTAMP:
	case CODEC_TIMESTAMPTZ:
		return len == 8 && codec_ts_valid((int64_t)pgs_get_u64(c));
	case CODEC_UUID:
		return len == 16;
	}
	return false;
}

static int text_out(enum codec_type col, const uint8_t *c, size_t len, struct pgs_buf *out)
{
	char t[32];
	int n;
	switch (col) {
	case CODEC_TEXT:
	case CODEC_JSONB:
		return pgs_buf_put(out, c, len);
	case CODEC_BYTEA:
		return bytea_text_out(c, len, out);
	case CODEC_INT2:
		n = snprintf(t, sizeof(t), "%d", (int)(int16_t)pgs_get_u16(c));
		return pgs_buf_put(out, t, (size_t)n);
	case CODEC_INT4:
		n = snprintf(t, sizeof(t), "%ld", (long)(int32_t)pgs_get_u32(c));
		return pgs_buf_put(out, t, (size_t)n);
	case CODEC_INT8:
		n = snprintf(t, sizeof(t), "%lld", (long long)(int64_t)pgs_get_u64(c));
		return pgs_buf_put(out, t, (size_t)n);
	case CODEC_FLOAT8:
		return float_text_out(pgs_get_u64(c), out);
	case CODEC_NUMERIC: {
		/* the canonical form is the text form; re-parse to refuse anything else */
		struct pgs_buf chk = {0};
		int rc = codec_numeric_text_in((const char *)c, len, &chk);
		if (rc == PGS_OK && (chk.len != len || memcmp(chk.data, c, len) != 0))
			rc = PGS_ERR;
		pgs_buf_free(&chk);
		return rc == PGS_OK ? pgs_buf_put(out, c, len) : PGS_ERR;
	}
	case CODEC_BOOL:
		return put_str(out, c[0] ? "t" : "f");
	case CODEC_DATE:
		return codec_date_text_out((int32_t)pgs_get_u32(c), out);
	case CODEC_TIMESTAMP:
	case CODEC_TIMESTAMPTZ:
		return codec_ts_text_out((int64_t)pgs_get_u64(c), col == CODEC_TIMESTAMPTZ, out);
	case CODEC_UUID:
		return uuid_text_out(c, out);
	}
	return PGS_ERR;
}

int codec_from_canonical(enum codec_type col, int format, const uint8_t *canon, size_t len,
                         struct pgs_buf *out)
{
	int rc;
	out->len = 0;
	if (!canon)
		canon = (const uint8_t *)"";
	if (!canonical_valid(col, canon, len))
		return PGS_ERR;
	if (format == CODEC_FMT_TEXT) {
		rc = text_out(col, canon, len, out);
	} else if (format == CODEC_FMT_BINARY) {
		if (col == CODEC_NUMERIC) {
			rc = codec_numeric_send(canon, len, out);
		} else if (col == CODEC_JSONB) {
			uint8_t v = 1;
			rc = pgs_buf_put(out, &v, 1);
			if (rc == PGS_OK)
				rc = pgs_buf_put(out, canon, len);
		} else {
			rc = pgs_buf_put(out, canon, len);
		}
	} else {
		rc = PGS_ERR;
	}
	if (rc != PGS_OK)
		out->len = 0;
	return rc;
}
