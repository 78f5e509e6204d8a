/* test_metrics.c - metrics: counter deltas, histogram buckets, a strict 0.0.4 format check. */
#include "metrics/metrics.h"
#include "testlib.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

/* --- a strict parser of the Prometheus text exposition format 0.0.4 ---------------- */

#define MAX_FAMILIES 64
#define MAX_SERIES 2048

struct family {
	char name[128];
	char type[16];
	bool help, typed, closed, sampled;
};

struct parser {
	struct family fam[MAX_FAMILIES];
	int nfam;
	char *series[MAX_SERIES];
	int nseries;
	int cur; /* family of the previous sample, -1 none */
	/* histogram state for the family being read */
	double last_bucket, inf_bucket;
	bool have_inf;
	char why[256];
};

static int fail(struct parser *p, int line, const char *fmt, ...) PGS_PRINTF(3, 4);
static int fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->why, sizeof(p->why), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(p->why + n, sizeof(p->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t metric_name_len(const char *s)
{
	size_t i = 0;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':')
		i++;
	return i;
}

static struct family *find_family(struct parser *p, const char *name, size_t len)
{
	for (int i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == len && !strncmp(p->fam[i].name, name, len))
			return &p->fam[i];
	return NULL;
}

static struct family *add_family(struct parser *p, const char *name, size_t len)
{
	struct family *f = find_family(p, name, len);
	if (f || p->nfam == MAX_FAMILIES || len >= sizeof(f->name))
		return f;
	f = &p->fam[p->nfam++];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, len);
	return f;
}

static bool parse_value(const char *s, const char **end, double *v)
{
	if (!strncmp(s, "+Inf", 4) || !strncmp(s, "-Inf", 4) || !strncmp(s, "NaN", 3)) {
		*v = s[0] == 'N' ? NAN : (s[0] == '-' ? -INFINITY : INFINITY);
		*end = s + (s[0] == 'N' ? 3 : 4);
		return true;
	}
	char *e;
	*v = strtod(s, &e);
	*end = e;
	return e != s && !isspace((unsigned char)s[0]);
}

/* Which family a sample name belongs to (histogram suffixes stripped when typed so). */
static int family_of(struct parser *p, const char *name, size_t len, const char **suffix)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	*suffix = "";
	for (size_t i = 0; i < PGS_ARRAY_LEN(sfx); i++) {
		size_t sl = strlen(sfx[i]);
		if (len > sl && !strncmp(name + len - sl, sfx[i], sl)) {
			struct family *f = find_family(p, name, len - sl);
			if (f && !strcmp(f->type, "histogram")) {
				*suffix = sfx[i];
				return (int)(f - p->fam);
			}
		}
	}
	struct family *f = find_family(p, name, len);
	if (!f || !strcmp(f->type, "histogram"))
		return -1;
	return (int)(f - p->fam);
}

static int parse_sample(struct parser *p, int ln, const char *s, const char *eol)
{
	size_t nl = metric_name_len(s);
	const char *suffix, *q;
	char le[64] = "";
	double v;
	if (!nl)
		return fail(p, ln, "bad metric name");
	int fi = family_of(p, s, nl, &suffix);
	if (fi < 0 || !p->fam[fi].typed)
		return fail(p, ln, "sample before its # TYPE line");
	if (p->cur != fi) {
		if (p->cur >= 0)
			p->fam[p->cur].closed = true;
		p->last_bucket = -1;
		p->have_inf = false;
	}
	if (p->fam[fi].closed)
		return fail(p, ln, "family %s is not contiguous", p->fam[fi].name);
	p->fam[fi].sampled = true;
	p->cur = fi;
	q = s + nl;
	if (*q == '{') {
		q++;
		while (*q != '}') {
			size_t ll = metric_name_len(q);
			if (!ll || q[ll] != '=' || q[ll + 1] != '"')
				return fail(p, ln, "bad label");
			bool is_le = ll == 2 && !strncmp(q, "le", 2);
			size_t lo = 0;
			q += ll + 2;
			while (*q != '"') {
				if (q >= eol)
					return fail(p, ln, "unterminated label value");
				if (*q == '\\') {
					q++;
					if (*q != '\\' && *q != '"' && *q != 'n')
						return fail(p, ln, "bad escape in label value");
				} else if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f) {
					return fail(p, ln, "unexpected byte in label value");
				}
				if (is_le && lo < sizeof(le) - 1)
					le[lo++] = *q;
				q++;
			}
			if (is_le)
				le[lo] = 0;
			q++;
			if (*q == ',')
				q++;
			else if (*q != '}')
				return fail(p, ln, "expected , or }");
		}
		q++;
	}
	if (*q != ' ')
		return fail(p, ln, "expected a space before the value");
	size_t keylen = (size_t)(q - s);
	q++;
	if (!parse_value(q, &q, &v))
		return fail(p, ln, "bad value");
	if (q != eol)
		return fail(p, ln, "trailing bytes after the value (timestamps not expected)");

	char *key = strndup(s, keylen);
	for (int i = 0; i < p->nseries; i++)
		if (!strcmp(p->series[i], key)) {
			free(key);
			return fail(p, ln, "duplicate series");
		}
	if (p->nseries == MAX_SERIES) {
		free(key);
		return fail(p, ln, "too many series");
	}
	p->series[p->nseries++] = key;

	if (!strcmp(suffix, "_bucket")) {
		double bound;
		const char *e;
		if (!le[0] || !parse_value(le, &e, &bound) || *e)
			return fail(p, ln, "bucket without a numeric le label");
		if (v < p->last_bucket)
			return fail(p, ln, "histogram buckets are not cumulative");
		p->last_bucket = v;
		if (isinf(bound)) {
			p->have_inf = true;
			p->inf_bucket = v;
		}
	} else if (!strcmp(suffix, "_count")) {
		if (!p->have_inf || v != p->inf_bucket)
			return fail(p, ln, "_count differs from the +Inf bucket");
	} else if (!strcmp(p->fam[fi].type, "counter") && v < 0) {
		return fail(p, ln, "negative counter");
	}
	return 0;
}

/* Returns the number of samples, or -1 with the reason in p->why. */
static int parse_exposition(struct parser *p, const char *text)
{
	memset(p, 0, sizeof(*p));
	p->cur = -1;
	int ln = 0, rc = 0;
	size_t tl = strlen(text);
	if (!tl || text[tl - 1] != '\n')
		return fail(p, 0, "does not end with a newline");
	for (const char *s = text; *s && rc == 0; ln++) {
		const char *eol = strchr(s, '\n');
		if (!strncmp(s, "# HELP ", 7) || !strncmp(s, "# TYPE ", 7)) {
			bool help = s[2] == 'H';
			const char *n = s + 7;
			size_t nl = metric_name_len(n);
			struct family *f = nl ? add_family(p, n, nl) : NULL;
			if (f && p->cur >= 0 && &p->fam[p->cur] != f) {
				p->fam[p->cur].closed = true; /* a new family starts */
				p->cur = -1;
			}
			if (!f)
				rc = fail(p, ln, "bad name in # line");
			else if (n[nl] != ' ')
				rc = fail(p, ln, "expected a space after the name");
			else if (help ? f->help : f->typed)
				rc = fail(p, ln, "second %s line for %s", help ? "HELP" : "TYPE",
				          f->name);
			else if (f->closed)
				rc = fail(p, ln, "# line for %s after another family", f->name);
			else if (!help && f->sampled)
				rc = fail(p, ln, "# TYPE line after samples of %s", f->name);
			else if (help)
				f->help = true;
			else {
				size_t tlen = (size_t)(eol - (n + nl + 1));
				if (tlen >= sizeof(f->type) ||
				    (strncmp(n + nl + 1, "counter", tlen) &&
				     strncmp(n + nl + 1, "gauge", tlen) &&
				     strncmp(n + nl + 1, "histogram", tlen) &&
				     strncmp(n + nl + 1, "summary", tlen) &&
				     strncmp(n + nl + 1, "untyped", tlen)))
					rc = fail(p, ln, "unknown type");
				else {
					memcpy(f->type, n + nl + 1, tlen);
					f->typed = true;
				}
			}
		} else if (s[0] == '#') {
			/* other comments are allowed */
		} else if (s == eol) {
			rc = fail(p, ln, "empty line");
		} else {
			rc = parse_sample(p, ln, s, eol);
		}
		s = eol + 1;
	}
	int n = p->nseries;
	for (int i = 0; i < p->nseries; i++)
		free(p->series[i]);
	return rc ? -1 : n;
}

/* Value of one exact series ("name" or "name{labels}"), or -1 when absent. */
static double value_of(const char *text, const char *series)
{
	size_t sl = strlen(series);
	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (!strncmp(s, series, sl) && s[sl] == ' ')
			return strtod(s + sl + 1, NULL);
	return -1;
}

static bool valid(const char *text)
{
	struct parser p;
	int n = parse_exposition(&p, text);
	if (n < 0)
		fprintf(stderr, "exposition invalid: %s\n", p.why);
	return n > 0;
}

/* --- tests ------------------------------------------------------------------------ */

static void test_parser_rejects_bad_text(void)
{
	static const char *const bad[] = {
	    "x 1\n",                                                    /* no TYPE */
	    "# TYPE x counter\nx 1",                                    /* no final newline */
	    "# TYPE x counter\nx{a=\"b} 1\n",                           /* unterminated */
	    "# TYPE x counter\nx{a=\"\\q\"} 1\n",                       /* bad escape */
	    "# TYPE x counter\nx 1\nx 2\n",                             /* duplicate series */
	    "# TYPE x counter\nx one\n",                                /* bad value */
	    "# TYPE x gauge\n# TYPE x gauge\nx 1\n",                    /* two TYPE lines */
	    "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a=\"1\"} 1\n", /* not contiguous */
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n",
	    "# TYPE x counter\n\nx 1\n", /* empty line */
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(bad); i++) {
		struct parser p;
		int n = parse_exposition(&p, bad[i]);
		if (n >= 0)
			fprintf(stderr, "accepted bad text #%zu\n", i);
		CHECK(n < 0);
	}
	struct parser p;
	CHECK_EQ_INT(parse_exposition(
	                 &p, "# HELP x A thing.\n# TYPE x counter\nx{a=\"q\\\"\\\\\",b=\"\"} 1\n"
	                     "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\n"
	                     "h_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n"),
	             5);
}

static void test_render_is_valid(void)
{
	char *t = metrics_render();
	CHECK(valid(t));
	CHECK(strstr(t, "# TYPE pgseal_query_duration_seconds histogram\n") != NULL);
	CHECK(strstr(t, "# HELP pgseal_bytes_total ") != NULL);
	CHECK(strstr(t, "pgseal_build_info{version=\"" PGSEAL_VERSION "\"} 1\n") != NULL);
	double start = value_of(t, "pgseal_process_start_time_seconds");
	CHECK(start > 1.6e9 && start <= (double)time(NULL));
	CHECK(value_of(t, "pgseal_process_resident_memory_bytes") > 0);
	free(t);
}

static void test_connections(void)
{
	char *a = metrics_render();
	metrics_conn_opened();
	metrics_conn_opened();
	metrics_conn_opened();
	metrics_conn_closed();
	metrics_conn_rejected();
	char *b = metrics_render();
	CHECK(valid(b));
	CHECK_EQ_INT(value_of(b, "pgseal_client_connections_accepted_total") -
	                 value_of(a, "pgseal_client_connections_accepted_total"),
	             3);
	CHECK_EQ_INT(value_of(b, "pgseal_client_connections_active") -
	                 value_of(a, "pgseal_client_connections_active"),
	             2);
	CHECK_EQ_INT(value_of(b, "pgseal_client_connections_rejected_total") -
	                 value_of(a, "pgseal_client_connections_rejected_total"),
	             1);
	metrics_conn_closed();
	metrics_conn_closed();
	free(a);
	free(b);
}

static void test_traffic_and_labels(void)
{
	char *a = metrics_render();
	metrics_bytes(METRICS_FROM_CLIENT, 100);
	metrics_bytes(METRICS_FROM_SERVER, 7);
	metrics_message(METRICS_FROM_CLIENT, 'Q');
	metrics_message(METRICS_FROM_CLIENT, 'Q');
	metrics_message(METRICS_FROM_SERVER, 'Z');
	metrics_message(METRICS_FROM_CLIENT, 0x00);
	metrics_message(METRICS_FROM_CLIENT, 0xff);
	metrics_message(METRICS_FROM_CLIENT, '"');
	metrics_message(METRICS_FROM_CLIENT, '\\');
	metrics_message(METRICS_FROM_CLIENT, '\n');
	char *b = metrics_render();
	CHECK(valid(b));
	CHECK_EQ_INT(value_of(b, "pgseal_bytes_total{direction=\"from_client\"}") -
	                 value_of(a, "pgseal_bytes_total{direction=\"from_client\"}"),
	             100);
	CHECK_EQ_INT(value_of(b, "pgseal_bytes_total{direction=\"from_server\"}") -
	                 value_of(a, "pgseal_bytes_total{direction=\"from_server\"}"),
	             7);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_client\",type=\"Q\"}"), 2);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_server\",type=\"Z\"}"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_client\",type=\"0x00\"}"),
	             1);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_client\",type=\"0xff\"}"),
	             1);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_client\",type=\"0x0a\"}"),
	             1);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_client\",type=\"\\\"\"}"),
	             1);
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_client\",type=\"\\\\\"}"),
	             1);
	/* types never seen are not rendered */
	CHECK(strstr(b, "type=\"y\"") == NULL);
	CHECK(value_of(b, "pgseal_messages_total{direction=\"from_server\",type=\"Q\"}") < 0);
	free(a);
	free(b);
}

static void test_errors(void)
{
	static const char *const classes[] = {"protocol", "tls",   "auth",        "upstream",
	                                      "timeout",  "limit", "server_error"};
	char *a = metrics_render();
	for (int e = 0; e < METRICS_ERR__COUNT; e++)
		for (int k = 0; k <= e; k++)
			metrics_error((enum metrics_error)e);
	metrics_error(METRICS_ERR__COUNT); /* out of range: ignored */
	char *b = metrics_render();
	CHECK(valid(b));
	CHECK_EQ_INT(PGS_ARRAY_LEN(classes), METRICS_ERR__COUNT);
	for (int e = 0; e < METRICS_ERR__COUNT; e++) {
		char s[128];
		snprintf(s, sizeof(s), "pgseal_errors_total{class=\"%s\"}", classes[e]);
		CHECK(value_of(a, s) >= 0);
		CHECK_EQ_INT(value_of(b, s) - value_of(a, s), e + 1);
	}
	free(a);
	free(b);
}

#define BUCKET(le) "pgseal_query_duration_seconds_bucket{le=\"" le "\"}"

static void test_histogram(void)
{
	char *a = metrics_render();
	CHECK(valid(a));
	CHECK_EQ_INT(value_of(a, BUCKET("+Inf")), 0);
	metrics_query_latency_us(30);       /* <= 50us */
	metrics_query_latency_us(100);      /* exactly on the 0.0001 bound */
	metrics_query_latency_us(101);      /* 0.00025 */
	metrics_query_latency_us(2000000);  /* 2.5 */
	metrics_query_latency_us(20000000); /* +Inf only */
	char *b = metrics_render();
	CHECK(valid(b));
	CHECK_EQ_INT(value_of(b, BUCKET("0.00005")), 1);
	CHECK_EQ_INT(value_of(b, BUCKET("0.0001")), 2);
	CHECK_EQ_INT(value_of(b, BUCKET("0.00025")), 3);
	CHECK_EQ_INT(value_of(b, BUCKET("1")), 3);
	CHECK_EQ_INT(value_of(b, BUCKET("2.5")), 4);
	CHECK_EQ_INT(value_of(b, BUCKET("10")), 4);
	CHECK_EQ_INT(value_of(b, BUCKET("+Inf")), 5);
	CHECK_EQ_INT(value_of(b, "pgseal_query_duration_seconds_count"), 5);
	CHECK(strstr(b, "\npgseal_query_duration_seconds_sum 22.000231\n") != NULL);
	free(a);
	free(b);
}

#define CBUCKET(le) "pgseal_encryption_layer_duration_seconds_bucket{le=\"" le "\"}"

static void test_encryption_counters(void)
{
	char *a = metrics_render();
	CHECK(valid(a));
	CHECK_EQ_INT(value_of(a, "pgseal_values_encrypted_total"), 0);
	CHECK_EQ_INT(value_of(a, "pgseal_refusals_total{sqlstate=\"0A000\"}"), 0);
	CHECK_EQ_INT(value_of(a, CBUCKET("+Inf")), 0);
	CHECK_EQ_INT(value_of(a, "pgseal_config_reloads_total{result=\"applied\"}"), 0);
	metrics_value(METRICS_VALUE_ENCRYPTED);
	metrics_value(METRICS_VALUE_ENCRYPTED);
	metrics_value(METRICS_VALUE_SEARCH);
	metrics_value(METRICS_VALUE_DECRYPTED);
	metrics_value(METRICS_VALUE_DECRYPTED);
	metrics_value(METRICS_VALUE_DECRYPTED);
	metrics_value(METRICS_VALUE_DECRYPT_FAILED);
	metrics_value(METRICS_VALUE__COUNT); /* out of range: ignored */
	metrics_refusal("0A000");
	metrics_refusal("0A000");
	metrics_refusal("22P02");
	metrics_refusal("bad\"code");  /* not a SQLSTATE: counted as refuse_in_server sends it */
	for (int i = 0; i < 10; i++) { /* past the slots: "other" */
		char st[16];
		snprintf(st, sizeof(st), "XX%03u", (unsigned)i % 1000u);
		metrics_refusal(st);
	}
	metrics_crypt_layer_ns(500);       /* 0.000001 */
	metrics_crypt_layer_ns(1000);      /* exactly on the bound */
	metrics_crypt_layer_ns(30000);     /* 0.00005 */
	metrics_crypt_layer_ns(200000000); /* +Inf only */
	metrics_reload(true);
	metrics_reload(false);
	metrics_reload(false);
	char *b = metrics_render();
	CHECK(valid(b));
	CHECK_EQ_INT(value_of(b, "pgseal_values_encrypted_total"), 2);
	CHECK_EQ_INT(value_of(b, "pgseal_values_search_indexed_total"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_values_decrypted_total"), 3);
	CHECK_EQ_INT(value_of(b, "pgseal_decrypt_failures_total"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_refusals_total{sqlstate=\"0A000\"}"), 3);
	CHECK_EQ_INT(value_of(b, "pgseal_refusals_total{sqlstate=\"22P02\"}"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_refusals_total{sqlstate=\"XX000\"}"), 1);
	/* 7 slots: 0A000, 22P02, XX000..XX004; XX005..XX009 are "other" */
	CHECK_EQ_INT(value_of(b, "pgseal_refusals_total{sqlstate=\"XX004\"}"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_refusals_total{sqlstate=\"other\"}"), 5);
	CHECK_EQ_INT(value_of(b, CBUCKET("0.000001")), 2);
	CHECK_EQ_INT(value_of(b, CBUCKET("0.00005")), 3);
	CHECK_EQ_INT(value_of(b, CBUCKET("0.1")), 3);
	CHECK_EQ_INT(value_of(b, CBUCKET("+Inf")), 4);
	CHECK_EQ_INT(value_of(b, "pgseal_encryption_layer_duration_seconds_count"), 4);
	CHECK_EQ_INT(value_of(b, "pgseal_config_reloads_total{result=\"applied\"}"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_config_reloads_total{result=\"failed\"}"), 2);
	uint64_t t0 = metrics_clock_ns();
	int r = METRICS_CRYPT_TIMED(3 + 4);
	CHECK_EQ_INT(r, 7);
	CHECK(metrics_clock_ns() >= t0);
	char *c = metrics_render();
	CHECK(valid(c));
	CHECK_EQ_INT(value_of(c, "pgseal_encryption_layer_duration_seconds_count"), 5);
	free(a);
	free(b);
	free(c);
}

static void test_upstream_up(void)
{
	metrics_upstream_up(true);
	char *a = metrics_render();
	metrics_upstream_up(false);
	char *b = metrics_render();
	CHECK_EQ_INT(value_of(a, "pgseal_upstream_up"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_upstream_up"), 0);
	free(a);
	free(b);
}

static void test_key_escrow(void)
{
	char *a = metrics_render();
	metrics_key_escrow(true, 3);
	char *b = metrics_render();
	CHECK_EQ_INT(value_of(a, "pgseal_key_escrow_allowed"), 0); /* off until serve says */
	CHECK_EQ_INT(value_of(a, "pgseal_key_escrows"), 0);
	CHECK_EQ_INT(value_of(b, "pgseal_key_escrow_allowed"), 1);
	CHECK_EQ_INT(value_of(b, "pgseal_key_escrows"), 3);
	metrics_key_escrow(false, 0);
	free(a);
	free(b);
}

#define THREADS 4
#define PER_THREAD 50000

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_message(METRICS_FROM_SERVER, 'D');
		metrics_bytes(METRICS_FROM_SERVER, 3);
		metrics_query_latency_us(1000);
	}
	return NULL;
}

static void test_threads_exact(void)
{
	pthread_t th[THREADS];
	char *a = metrics_render();
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	char *b = metrics_render();
	CHECK(valid(b));
	CHECK_EQ_INT(value_of(b, "pgseal_messages_total{direction=\"from_server\",type=\"D\"}"),
	             THREADS * PER_THREAD);
	CHECK_EQ_INT(value_of(b, "pgseal_bytes_total{direction=\"from_server\"}") -
	                 value_of(a, "pgseal_bytes_total{direction=\"from_server\"}"),
	             3 * THREADS * PER_THREAD);
	CHECK_EQ_INT(value_of(b, BUCKET("0.001")) - value_of(a, BUCKET("0.001")),
	             THREADS * PER_THREAD);
	free(a);
	free(b);
}

int main(void)
{
	RUN(test_parser_rejects_bad_text);
	RUN(test_render_is_valid);
	RUN(test_connections);
	RUN(test_traffic_and_labels);
	RUN(test_errors);
	RUN(test_histogram);
	RUN(test_encryption_counters);
	RUN(test_upstream_up);
	RUN(test_key_escrow);
	RUN(test_threads_exact);
	return t_summary("metrics");
}
