/* codec_time.c - date, timestamp and timestamptz: ISO 8601 text <-> PostgreSQL's epoch-2000
 * integers. */
#include "codec/codec.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 - 1970-01-01 in days */
#define USECS_PER_DAY 86400000000LL
#define DATE_MIN (-2451545)             /* 4714-11-24 BC (Julian day 0) */
#define DATE_END (2147483494 - 2451545) /* PostgreSQL's DATE_END_JULIAN */
#define TS_MIN (-211813488000000000LL)
#define TS_END (9223371331200000000LL)

bool codec_date_valid(int32_t d)
{
	return d == INT32_MIN || d == INT32_MAX || (d >= DATE_MIN && d < DATE_END);
}

bool codec_ts_valid(int64_t t)
{
	return t == INT64_MIN || t == INT64_MAX || (t >= TS_MIN && t < TS_END);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

struct cursor {
	const char *s;
	size_t len, i;
};

static int num(struct cursor *c, int mindig, int maxdig, int64_t *v)
{
	int n = 0;
	*v = 0;
	while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9' && n < maxdig) {
		*v = *v * 10 + (c->s[c->i] - '0');
		c->i++, n++;
	}
	return n >= mindig ? PGS_OK : PGS_ERR;
}

static bool eat(struct cursor *c, char ch)
{
	if (c->i < c->len && c->s[c->i] == ch) {
		c->i++;
		return true;
	}
	return false;
}

static void skip_space(struct cursor *c)
{
	while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t'))
		c->i++;
}

static bool eat_word(struct cursor *c, const char *w)
{
	size_t n = strlen(w);
	if (c->len - c->i >= n && !strncasecmp(c->s + c->i, w, n)) {
		c->i += n;
		return true;
	}
	return false;
}

static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r'))
		(*s)++, (*len)--;
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\n' ||
	                (*s)[*len - 1] == '\r'))
		(*len)--;
}

static int infinity(const char *s, size_t len, int *sign)
{
	if ((len == 8 && !strncasecmp(s, "infinity", 8)) ||
	    (len == 9 && !strncasecmp(s, "+infinity", 9)))
		*sign = 1;
	else if (len == 9 && !strncasecmp(s, "-infinity", 9))
		*sign = -1;
	else
		return PGS_ERR;
	return PGS_OK;
}

/* Parses Y-M-D (year 1..7 digits) into days since 1970; leaves the cursor after it. */
static int ymd(struct cursor *c, int64_t *y, int *m, int *d)
{
	int64_t v;
	if (num(c, 1, 7, y) || !eat(c, '-') || num(c, 1, 2, &v) || v < 1 || v > 12)
		return PGS_ERR;
	*m = (int)v;
	if (!eat(c, '-') || num(c, 1, 2, &v) || v < 1)
		return PGS_ERR;
	*d = (int)v;
	return PGS_OK;
}

/* An optional trailing " BC"/" AD"; BC year Y is astronomical year 1 - Y. */
static int era(struct cursor *c, int64_t *y)
{
	size_t save = c->i;
	skip_space(c);
	if (eat_word(c, "BC")) {
		if (*y < 1)
			return PGS_ERR;
		*y = 1 - *y;
	} else if (!eat_word(c, "AD")) {
		c->i = save;
	}
	return PGS_OK;
}

int codec_date_text_in(const char *s, size_t len, int32_t *days)
{
	struct cursor c;
	int64_t y;
	int m, d, sign;
	trim(&s, &len);
	if (infinity(s, len, &sign) == PGS_OK) {
		*days = sign > 0 ? INT32_MAX : INT32_MIN;
		return PGS_OK;
	}
	c = (struct cursor){s, len, 0};
	if (ymd(&c, &y, &m, &d) || y < 1 || era(&c, &y) || c.i != len)
		return PGS_ERR;
	if (d > days_in_month(y, m))
		return PGS_ERR;
	int64_t v = days_from_civil(y, m, d) - PG_EPOCH_DAYS;
	if (v < DATE_MIN || v >= DATE_END)
		return PGS_ERR;
	*days = (int32_t)v;
	return PGS_OK;
}

/* [+-]HH[[:]MM[[:]SS]] | Z | UTC | GMT -> seconds east of UTC. */
static int tzoff(struct cursor *c, int64_t *off)
{
	int64_t h, mi = 0, se = 0;
	skip_space(c);
	*off = 0;
	if (eat_word(c, "Z") || eat_word(c, "UTC") || eat_word(c, "GMT"))
		return PGS_OK;
	bool neg;
	if (eat(c, '+'))
		neg = false;
	else if (eat(c, '-'))
		neg = true;
	else
		return PGS_ERR;
	if (num(c, 2, 2, &h))
		return PGS_ERR;
	bool colon = eat(c, ':');
	if (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
		if (num(c, 2, 2, &mi))
			return PGS_ERR;
		if ((colon ? eat(c, ':') : true) && c->i < c->len && c->s[c->i] >= '0' &&
		    c->s[c->i] <= '9' && num(c, 2, 2, &se))
			return PGS_ERR;
	} else if (colon) {
		return PGS_ERR;
	}
	if (h > 15 || mi > 59 || se > 59)
		return PGS_ERR;
	*off = (neg ? -1 : 1) * (h * 3600 + mi * 60 + se);
	return PGS_OK;
}

int codec_ts_text_in(const char *s, size_t len, bool tz, int64_t *us)
{
	struct cursor c;
	int64_t y, h = 0, mi = 0, se = 0, frac = 0, off = 0;
	int m, d, sign;
	trim(&s, &len);
	if (infinity(s, len, &sign) == PGS_OK) {
		*us = sign > 0 ? INT64_MAX : INT64_MIN;
		return PGS_OK;
	}
	c = (struct cursor){s, len, 0};
	if (ymd(&c, &y, &m, &d) || y < 1)
		return PGS_ERR;
	size_t save = c.i;
	if (eat(&c, 'T') || eat(&c, 't') || (skip_space(&c), c.i > save)) {
		if (num(&c, 1, 2, &h) || !eat(&c, ':') || num(&c, 2, 2, &mi))
			return PGS_ERR;
		if (eat(&c, ':')) {
			if (num(&c, 2, 2, &se))
				return PGS_ERR;
			if (eat(&c, '.')) {
				int n = 0;
				bool round = false, any = false;
				while (c.i < c.len && c.s[c.i] >= '0' && c.s[c.i] <= '9') {
					if (n < 6)
						frac = frac * 10 + (c.s[c.i] - '0'), n++;
					else if (n == 6)
						round = c.s[c.i] >= '5', n++;
					c.i++, any = true;
				}
				if (!any)
					return PGS_ERR;
				for (; n < 6; n++)
					frac *= 10;
				frac += round;
			}
		}
		size_t before_tz = c.i;
		int64_t o;
		if (tzoff(&c, &o) == PGS_OK)
			off = o; /* timestamp without time zone ignores it, like PostgreSQL */
		else
			c.i = before_tz;
	}
	if (era(&c, &y) || c.i != len)
		return PGS_ERR;
	if (d > days_in_month(y, m) || mi > 59 || se > 60 || h > 24 ||
	    (h == 24 && (mi || se || frac)))
		return PGS_ERR;
	if (!tz)
		off = 0;
	int64_t days = days_from_civil(y, m, d) - PG_EPOCH_DAYS;
	if (days < -2451545 - 1 || days > 106751991LL)
		return PGS_ERR;
	int64_t t = days * USECS_PER_DAY + ((h * 60 + mi) * 60 + se - off) * 1000000LL + frac;
	if (t < TS_MIN || t >= TS_END)
		return PGS_ERR;
	*us = t;
	return PGS_OK;
}

static int put_ymd(int64_t days1970, char *buf, size_t cap, bool *bc)
{
	int64_t y;
	int m, d;
	civil_from_days(days1970, &y, &m, &d);
	*bc = y <= 0;
	if (*bc)
		y = 1 - y;
	return snprintf(buf, cap, "%04lld-%02d-%02d", (long long)y, m, d);
}

int codec_date_text_out(int32_t days, struct pgs_buf *out)
{
	char t[48];
	bool bc;
	if (days == INT32_MAX || days == INT32_MIN) {
		const char *s = days == INT32_MAX ? "infinity" : "-infinity";
		return pgs_buf_put(out, s, strlen(s));
	}
	int n = put_ymd((int64_t)days + PG_EPOCH_DAYS, t, sizeof(t), &bc);
	if (bc)
		n += snprintf(t + n, sizeof(t) - (size_t)n, " BC");
	return pgs_buf_put(out, t, (size_t)n);
}

int codec_ts_text_out(int64_t us, bool tz, struct pgs_buf *out)
{
	char t[96];
	bool bc;
	if (us == INT64_MAX || us == INT64_MIN) {
		const char *s = us == INT64_MAX ? "infinity" : "-infinity";
		return pgs_buf_put(out, s, strlen(s));
	}
	int64_t days = us / USECS_PER_DAY, rem = us % USECS_PER_DAY;
	if (rem < 0)
		rem += USECS_PER_DAY, days--;
	int n = put_ymd(days + PG_EPOCH_DAYS, t, sizeof(t), &bc);
	int64_t secs = rem / 1000000, frac = rem % 1000000;
	n += snprintf(t + n, sizeof(t) - (size_t)n, " %02d:%02d:%02d", (int)(secs / 3600),
	              (int)(secs / 60 % 60), (int)(secs % 60));
	if (frac) {
		char f[8];
		snprintf(f, sizeof(f), "%06d", (int)frac);
		for (int k = 5; k > 0 && f[k] == '0'; k--)
			f[k] = '\0';
		n += snprintf(t + n, sizeof(t) - (size_t)n, ".%s", f);
	}
	if (tz)
		n += snprintf(t + n, sizeof(t) - (size_t)n, "+00");
	if (bc)
		n += snprintf(t + n, sizeof(t) - (size_t)n, " BC");
	return pgs_buf_put(out, t, (size_t)n);
}
