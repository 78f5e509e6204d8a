/* codec_numeric.c - numeric: text input normalised to PostgreSQL's output form, binary send/recv. */
#include "codec/codec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NUM_POS 0x0000
#define NUM_NEG 0x4000
#define NUM_NAN 0xC000
#define NUM_PINF 0xD000
#define NUM_NINF 0xF000
#define NUM_MAX_DSCALE 0x3FFF
#define NUM_MAX_DIGITS 20000 /* decimal digits we accept in one value */
#define NUM_MAX_EXP 1000

static int put_special(const char *s, size_t len, struct pgs_buf *out)
{
	static const struct {
		const char *in;
		const char *out;
	} sp[] = {{"nan", "NaN"},       {"infinity", "Infinity"}, {"+infinity", "Infinity"},
	          {"inf", "Infinity"},  {"+inf", "Infinity"},     {"-infinity", "-Infinity"},
	          {"-inf", "-Infinity"}};
	for (size_t i = 0; i < PGS_ARRAY_LEN(sp); i++)
		if (len == strlen(sp[i].in) && !strncasecmp(s, sp[i].in, len))
			return pgs_buf_put(out, sp[i].out, strlen(sp[i].out));
	return PGS_ERR;
}

int codec_numeric_text_in(const char *s, size_t len, struct pgs_buf *out)
{
	bool neg = false, any = false;
	size_t intlen = 0, fraclen = 0, nd = 0;
	long exp = 0;
	char *d = NULL;
	int rc = PGS_ERR;
	while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
	               s[len - 1] == '\r'))
		len--;
	if (len && (s[0] == 'n' || s[0] == 'N' || s[0] == 'i' || s[0] == 'I' ||
	            ((s[0] == '-' || s[0] == '+') && len > 1 && (s[1] == 'i' || s[1] == 'I'))))
		return put_special(s, len, out);
	if (len > NUM_MAX_DIGITS + 16)
		return PGS_ERR;
	d = malloc(len + 1);
	if (!d)
		return PGS_ERR;
	size_t i = 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, intlen++, any = true)
		d[nd++] = s[i];
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, fraclen++, any = true)
			d[nd++] = s[i];
	}
	if (!any)
		goto out;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = false, edig = false;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, edig = true) {
			exp = exp * 10 + (s[i] - '0');
			if (exp > NUM_MAX_EXP)
				goto out;
		}
		if (!edig)
			goto out;
		if (eneg)
			exp = -exp;
	}
	if (i != len)
		goto out;
	long dscale = (long)fraclen - exp;
	if (dscale < 0)
		dscale = 0;
	if (dscale > NUM_MAX_DSCALE)
		goto out;
	long point = (long)intlen + exp; /* digits of d before the decimal point */
	bool zero = true;
	for (size_t k = 0; k < nd; k++)
		if (d[k] != '0')
			zero = false;
	if (neg && !zero && pgs_buf_put(out, "-", 1) != PGS_OK)
		goto out;
	/* integer part without leading zeros */
	bool started = false;
	for (long k = 0; k < point; k++) {
		char c = k < (long)nd ? d[k] : '0';
		if (c == '0' && !started)
			continue;
		started = true;
		if (pgs_buf_put(out, &c, 1) != PGS_OK)
			goto out;
	}
	if (!started && pgs_buf_put(out, "0", 1) != PGS_OK)
		goto out;
	if (dscale > 0) {
		if (pgs_buf_put(out, ".", 1) != PGS_OK)
			goto out;
		for (long k = point; k < point + dscale; k++) {
			char c = (k >= 0 && k < (long)nd) ? d[k] : '0';
			if (pgs_buf_put(out, &c, 1) != PGS_OK)
				goto out;
		}
	}
	if (out->len > NUM_MAX_DIGITS + 16)
		goto out;
	rc = PGS_OK;
out:
	free(d);
	return rc;
}

static int16_t rd16(const uint8_t *p)
{
	return (int16_t)pgs_get_u16(p);
}

int codec_numeric_recv(const uint8_t *in, size_t len, struct pgs_buf *out)
{
	struct pgs_buf txt = {0};
	int rc = PGS_ERR;
	if (len < 8)
		return PGS_ERR;
	int ndigits = rd16(in), weight = rd16(in + 2), dscale = rd16(in + 6);
	uint16_t sign = (uint16_t)rd16(in + 4);
	if (ndigits < 0 || (size_t)ndigits * 2 + 8 != len || dscale < 0 || dscale > NUM_MAX_DSCALE)
		return PGS_ERR;
	if (sign == NUM_NAN || sign == NUM_PINF || sign == NUM_NINF) {
		const char *t = sign == NUM_NAN    ? "NaN"
		                : sign == NUM_PINF ? "Infinity"
		                                   : "-Infinity";
		return pgs_buf_put(out, t, strlen(t));
	}
	if (sign != NUM_POS && sign != NUM_NEG)
		return PGS_ERR;
	for (int i = 0; i < ndigits; i++)
		if (rd16(in + 8 + 2 * i) < 0 || rd16(in + 8 + 2 * i) >= 10000)
			return PGS_ERR;
	if ((weight + 1) * 4L + dscale > NUM_MAX_DIGITS)
		return PGS_ERR;
	if (sign == NUM_NEG && pgs_buf_put(&txt, "-", 1) != PGS_OK)
		goto out;
	if (weight < 0 && pgs_buf_put(&txt, "0", 1) != PGS_OK)
		goto out;
	for (int g = 0; g <= weight; g++) {
		int v = g < ndigits ? rd16(in + 8 + 2 * g) : 0;
		char t[4] = {(char)('0' + v / 1000), (char)('0' + v / 100 % 10),
		             (char)('0' + v / 10 % 10), (char)('0' + v % 10)};
		if (pgs_buf_put(&txt, t, 4) != PGS_OK)
			goto out;
	}
	if (dscale && pgs_buf_put(&txt, ".", 1) != PGS_OK)
		goto out;
	for (int k = 0; k < dscale; k++) {
		long g = weight + 1 + k / 4;
		int v = (g >= 0 && g < ndigits) ? rd16(in + 8 + 2 * g) : 0;
		static const int div[4] = {1000, 100, 10, 1};
		char c = (char)('0' + v / div[k % 4] % 10);
		if (pgs_buf_put(&txt, &c, 1) != PGS_OK)
			goto out;
	}
	rc = codec_numeric_text_in((const char *)txt.data, txt.len, out);
out:
	pgs_buf_free(&txt);
	return rc;
}

static int put16(struct pgs_buf *out, int v)
{
	uint8_t b[2] = {(uint8_t)((unsigned)v >> 8), (uint8_t)v};
	return pgs_buf_put(out, b, 2);
}

int codec_numeric_send(const uint8_t *canon, size_t len, struct pgs_buf *out)
{
	const char *s = (const char *)canon;
	int sign = NUM_POS, rc = PGS_ERR;
	int *groups = NULL;
	if (len == 3 && !memcmp(s, "NaN", 3))
		sign = NUM_NAN;
	else if (len == 8 && !memcmp(s, "Infinity", 8))
		sign = NUM_PINF;
	else if (len == 9 && !memcmp(s, "-Infinity", 9))
		sign = NUM_NINF;
	if (sign != NUM_POS) {
		/* PostgreSQL sends dscale 32 with the infinities (0 with NaN): match it */
		int dscale = sign == NUM_NAN ? 0 : 0x20;
		if (put16(out, 0) || put16(out, 0) || put16(out, sign) || put16(out, dscale))
			return PGS_ERR;
		return PGS_OK;
	}
	size_t i = 0;
	if (i < len && s[i] == '-')
		sign = NUM_NEG, i++;
	size_t ib = i;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	size_t intlen = i - ib, fb = i, fraclen = 0;
	if (i < len && s[i] == '.') {
		fb = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		fraclen = i - fb;
	}
	if (i != len || intlen == 0 || fraclen > NUM_MAX_DSCALE)
		return PGS_ERR;
	/* groups of 4 digits: integer part aligned right, fraction aligned left */
	size_t ig = (intlen + 3) / 4, fg = (fraclen + 3) / 4, ng = ig + fg;
	groups = calloc(ng ? ng : 1, sizeof(int));
	if (!groups)
		return PGS_ERR;
	for (size_t g = 0; g < ig; g++) {
		int v = 0;
		for (size_t p = g * 4; p < g * 4 + 4; p++) {
			long k = (long)p - (long)(ig * 4 - intlen);
			v = v * 10 + (k >= 0 ? s[ib + (size_t)k] - '0' : 0);
		}
		groups[g] = v;
	}
	for (size_t g = 0; g < fg; g++) {
		int v = 0;
		for (size_t p = g * 4; p < g * 4 + 4; p++)
			v = v * 10 + (p < fraclen ? s[fb + p] - '0' : 0);
		groups[ig + g] = v;
	}
	int weight = (int)ig - 1;
	size_t first = 0, last = ng;
	while (first < ng && groups[first] == 0)
		first++, weight--;
	while (last > first && groups[last - 1] == 0)
		last--;
	if (first == last) {
		weight = 0;
		sign = NUM_POS;
	}
	if (put16(out, (int)(last - first)) || put16(out, weight) || put16(out, sign) ||
	    put16(out, (int)fraclen))
		goto out;
	for (size_t g = first; g < last; g++)
		if (put16(out, groups[g]) != PGS_OK)
			goto out;
	rc = PGS_OK;
out:
	free(groups);
	return rc;
}
