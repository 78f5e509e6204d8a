/* metrics.c - lock-free process-wide counters and latency histogram, as Prometheus text. */
#include "metrics/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The per-message counters (bytes, messages by type, latency) are bumped by every worker
 * thread for every message. One shared cache line would bounce between cores, so they are
 * spread over cache-line-aligned shards; each thread picks a shard once and sums happen
 * only when rendering. Connection counters change once per connection and stay global,
 * which also keeps the active gauge exact.
 */
#define METRICS_SHARDS 16

/* Histogram upper bounds in microseconds and their `le` labels (seconds). */
static const uint64_t lat_bounds_us[] = {
    50,    100,    250,    500,    1000,    2500,    5000,    10000,    25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const lat_bounds_le[] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10",
};
#define LAT_BUCKETS (PGS_ARRAY_LEN(lat_bounds_us) + 1) /* the last one is +Inf */

/* The encryption layer's time per message: microseconds matter there. */
static const uint64_t crypt_bounds_ns[] = {
    1000,   2500,   5000,    10000,   25000,    50000,     100000,
    250000, 500000, 1000000, 2500000, 10000000, 100000000,
};
static const char *const crypt_bounds_le[] = {
    "0.000001", "0.0000025", "0.000005", "0.00001", "0.000025", "0.00005", "0.0001",
    "0.00025",  "0.0005",    "0.001",    "0.0025",  "0.01",     "0.1",
};
#define CRYPT_BUCKETS (PGS_ARRAY_LEN(crypt_bounds_ns) + 1)

struct metrics_shard {
	_Alignas(64) _Atomic uint64_t bytes[2];
	_Atomic uint64_t messages[2][256];
	_Atomic uint64_t lat_bucket[LAT_BUCKETS]; /* not cumulative; summed up when rendering */
	_Atomic uint64_t lat_sum_us;
	_Atomic uint64_t values[METRICS_VALUE__COUNT];
	_Atomic uint64_t crypt_bucket[CRYPT_BUCKETS];
	_Atomic uint64_t crypt_sum_ns;
};

static struct metrics_shard g_shards[METRICS_SHARDS];
static atomic_uint g_next_shard;
static _Thread_local struct metrics_shard *t_shard;

static _Atomic uint64_t g_conn_accepted;
static _Atomic uint64_t g_conn_closed;
static _Atomic uint64_t g_conn_rejected;
static _Atomic uint64_t g_errors[METRICS_ERR__COUNT];
static atomic_bool g_upstream_up;
static _Atomic int64_t g_pool_idle;
static _Atomic uint64_t g_pool_reused;
static _Atomic int64_t g_start_time_s;
static _Atomic uint64_t g_reloads[2]; /* failed, applied */
/* Refusals by SQLSTATE: slots claimed on first use (the code packed in 40 bits, 0 = free);
 * the last slot counts any code past them, rendered as "other". */
#define REFUSAL_SLOTS 8
static _Atomic uint64_t g_refusal_code[REFUSAL_SLOTS];
static _Atomic uint64_t g_refusal_count[REFUSAL_SLOTS];
static const char *const value_names[METRICS_VALUE__COUNT] = {
    [METRICS_VALUE_ENCRYPTED] = "pgseal_values_encrypted_total",
    [METRICS_VALUE_SEARCH] = "pgseal_values_search_indexed_total",
    [METRICS_VALUE_DECRYPTED] = "pgseal_values_decrypted_total",
    [METRICS_VALUE_DECRYPT_FAILED] = "pgseal_decrypt_failures_total",
};
static const char *const value_help[METRICS_VALUE__COUNT] = {
    /* parenthesised: one string split over two lines (clang's -Wstring-concatenation) */
    [METRICS_VALUE_ENCRYPTED] = ("Values of encrypted columns encrypted into records on their way "
                                 "to PostgreSQL."),
    [METRICS_VALUE_SEARCH] = "Blind indexes computed for searchable equality comparisons.",
    [METRICS_VALUE_DECRYPTED] = "Records decrypted on their way to a client.",
    [METRICS_VALUE_DECRYPT_FAILED] =
        "Stored values of encrypted columns that did not decrypt (response_on_fail applied).",
};
static atomic_bool g_escrow_allowed;
static _Atomic uint64_t g_escrows;

static const char *const error_class_names[METRICS_ERR__COUNT] = {
    [METRICS_ERR_PROTOCOL] = "protocol",
    [METRICS_ERR_TLS] = "tls",
    [METRICS_ERR_AUTH] = "auth",
    [METRICS_ERR_UPSTREAM] = "upstream",
    [METRICS_ERR_TIMEOUT] = "timeout",
    [METRICS_ERR_LIMIT] = "limit",
    [METRICS_ERR_SERVER_ERROR] = "server_error",
};

static const char *const dir_names[2] = {"from_client", "from_server"};

#define RELAXED memory_order_relaxed

/* The process start time is taken when the program is loaded, before main(). */
__attribute__((constructor)) static void metrics_record_start(void)
{
	atomic_store_explicit(&g_start_time_s, (int64_t)time(NULL), RELAXED);
}

static inline struct metrics_shard *my_shard(void)
{
	struct metrics_shard *s = t_shard;
	if (PGS_UNLIKELY(!s)) {
		unsigned i = atomic_fetch_add_explicit(&g_next_shard, 1, RELAXED);
		s = t_shard = &g_shards[i % METRICS_SHARDS];
	}
	return s;
}

void metrics_conn_opened(void)
{
	atomic_fetch_add_explicit(&g_conn_accepted, 1, RELAXED);
}

void metrics_conn_closed(void)
{
	atomic_fetch_add_explicit(&g_conn_closed, 1, RELAXED);
}

void metrics_conn_rejected(void)
{
	atomic_fetch_add_explicit(&g_conn_rejected, 1, RELAXED);
}

void metrics_bytes(enum metrics_dir dir, uint64_t n)
{
	atomic_fetch_add_explicit(&my_shard()->bytes[dir & 1], n, RELAXED);
}

void metrics_message(enum metrics_dir dir, uint8_t type)
{
	atomic_fetch_add_explicit(&my_shard()->messages[dir & 1][type], 1, RELAXED);
}

void metrics_error(enum metrics_error e)
{
	if ((unsigned)e < METRICS_ERR__COUNT)
		atomic_fetch_add_explicit(&g_errors[e], 1, RELAXED);
}

void metrics_query_latency_us(uint64_t us)
{
	struct metrics_shard *s = my_shard();
	size_t i = 0;
	while (i < PGS_ARRAY_LEN(lat_bounds_us) && us > lat_bounds_us[i])
		i++;
	atomic_fetch_add_explicit(&s->lat_bucket[i], 1, RELAXED);
	atomic_fetch_add_explicit(&s->lat_sum_us, us, RELAXED);
}

void metrics_upstream_up(bool up)
{
	atomic_store_explicit(&g_upstream_up, up, RELAXED);
}

void metrics_pool_idle(int delta)
{
	atomic_fetch_add_explicit(&g_pool_idle, delta, RELAXED);
}

void metrics_pool_reused(void)
{
	atomic_fetch_add_explicit(&g_pool_reused, 1, RELAXED);
}

void metrics_value(enum metrics_value v)
{
	if ((unsigned)v < METRICS_VALUE__COUNT)
		atomic_fetch_add_explicit(&my_shard()->values[v], 1, RELAXED);
}

static uint64_t pack_sqlstate(const char *s)
{
	uint64_t v = 0;
	for (int i = 0; i < 5; i++) {
		char ch = s ? s[i] : 0;
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')))
			return 0;
		v = v << 8 | (uint8_t)ch;
	}
	return v;
}

void metrics_refusal(const char *sqlstate)
{
	uint64_t code = pack_sqlstate(sqlstate);
	if (!code)
		code = pack_sqlstate("0A000"); /* what refuse_in_server sends for a bad code */
	for (int i = 0; i < REFUSAL_SLOTS - 1; i++) {
		uint64_t cur = atomic_load_explicit(&g_refusal_code[i], RELAXED);
		if (!cur) {
			uint64_t expected = 0;
			/* on failure, expected holds the code another thread put there */
			cur = atomic_compare_exchange_strong(&g_refusal_code[i], &expected, code)
			          ? code
			          : expected;
		}
		if (cur == code) {
			atomic_fetch_add_explicit(&g_refusal_count[i], 1, RELAXED);
			return;
		}
	}
	atomic_fetch_add_explicit(&g_refusal_count[REFUSAL_SLOTS - 1], 1, RELAXED); /* "other" */
}

uint64_t metrics_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_crypt_layer_ns(uint64_t ns)
{
	struct metrics_shard *s = my_shard();
	size_t i = 0;
	while (i < PGS_ARRAY_LEN(crypt_bounds_ns) && ns > crypt_bounds_ns[i])
		i++;
	atomic_fetch_add_explicit(&s->crypt_bucket[i], 1, RELAXED);
	atomic_fetch_add_explicit(&s->crypt_sum_ns, ns, RELAXED);
}

void metrics_reload(bool ok)
{
	atomic_fetch_add_explicit(&g_reloads[ok ? 1 : 0], 1, RELAXED);
}

/* --- rendering -------------------------------------------------------------------- */

struct metrics_buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct metrics_buf *b, const char *fmt, ...) PGS_PRINTF(2, 3);
static void buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return; /* cannot happen with our formats */
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = pgs_xrealloc(b->p, b->cap);
	}
}

static void family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * A label value for a message type byte. Printable ASCII is shown as itself (escaped as
 * the format demands: backslash, double quote); anything else, which would not be valid
 * UTF-8 or would be invisible, as 0xNN.
 */
static void type_label(char out[8], uint8_t t)
{
	if (t == '\\' || t == '"') {
		out[0] = '\\';
		out[1] = (char)t;
		out[2] = 0;
	} else if (t > 0x20 && t < 0x7f) {
		out[0] = (char)t;
		out[1] = 0;
	} else {
		snprintf(out, 8, "0x%02x", t);
	}
}

static uint64_t load(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, RELAXED);
}

static void render_connections(struct metrics_buf *b)
{
	uint64_t acc = load(&g_conn_accepted);
	uint64_t closed = load(&g_conn_closed);
	family(b, "pgseal_client_connections_accepted_total", "counter",
	       "Client connections accepted since the process started.");
	buf_printf(b, "pgseal_client_connections_accepted_total %llu\n", (unsigned long long)acc);
	family(b, "pgseal_client_connections_active", "gauge",
	       "Client connections currently open.");
	buf_printf(b, "pgseal_client_connections_active %llu\n",
	           (unsigned long long)(acc > closed ? acc - closed : 0));
	family(
	    b, "pgseal_client_connections_rejected_total", "counter",
	    "Client connections refused before a session started (connection limit, bad startup).");
	buf_printf(b, "pgseal_client_connections_rejected_total %llu\n",
	           (unsigned long long)load(&g_conn_rejected));
}

static void render_traffic(struct metrics_buf *b)
{
	family(b, "pgseal_bytes_total", "counter",
	       "Bytes of PostgreSQL protocol traffic relayed, by direction.");
	for (int d = 0; d < 2; d++) {
		uint64_t sum = 0;
		for (int s = 0; s < METRICS_SHARDS; s++)
			sum += load(&g_shards[s].bytes[d]);
		buf_printf(b, "pgseal_bytes_total{direction=\"%s\"} %llu\n", dir_names[d],
		           (unsigned long long)sum);
	}
	family(b, "pgseal_messages_total", "counter",
	       "PostgreSQL v3 protocol messages relayed, by direction and message type byte.");
	for (int d = 0; d < 2; d++) {
		for (int t = 0; t < 256; t++) {
			uint64_t sum = 0;
			for (int s = 0; s < METRICS_SHARDS; s++)
				sum += load(&g_shards[s].messages[d][t]);
			if (!sum)
				continue;
			char lbl[8];
			type_label(lbl, (uint8_t)t);
			buf_printf(b, "pgseal_messages_total{direction=\"%s\",type=\"%s\"} %llu\n",
			           dir_names[d], lbl, (unsigned long long)sum);
		}
	}
}

static void render_errors(struct metrics_buf *b)
{
	family(b, "pgseal_errors_total", "counter", "Errors, by class.");
	for (int e = 0; e < METRICS_ERR__COUNT; e++)
		buf_printf(b, "pgseal_errors_total{class=\"%s\"} %llu\n", error_class_names[e],
		           (unsigned long long)load(&g_errors[e]));
}

static void render_latency(struct metrics_buf *b)
{
	uint64_t counts[LAT_BUCKETS] = {0};
	uint64_t sum_us = 0, cum = 0;
	for (int s = 0; s < METRICS_SHARDS; s++) {
		for (size_t i = 0; i < LAT_BUCKETS; i++)
			counts[i] += load(&g_shards[s].lat_bucket[i]);
		sum_us += load(&g_shards[s].lat_sum_us);
	}
	family(b, "pgseal_query_duration_seconds", "histogram",
	       "Time from the first client message after idle to the ReadyForQuery that ends it.");
	for (size_t i = 0; i < LAT_BUCKETS; i++) {
		cum += counts[i];
		buf_printf(b, "pgseal_query_duration_seconds_bucket{le=\"%s\"} %llu\n",
		           i < PGS_ARRAY_LEN(lat_bounds_le) ? lat_bounds_le[i] : "+Inf",
		           (unsigned long long)cum);
	}
	buf_printf(b, "pgseal_query_duration_seconds_sum %llu.%06llu\n",
	           (unsigned long long)(sum_us / 1000000u),
	           (unsigned long long)(sum_us % 1000000u));
	/* _count is the +Inf bucket of this same snapshot, so the two always agree */
	buf_printf(b, "pgseal_query_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static void render_encryption(struct metrics_buf *b)
{
	for (int v = 0; v < METRICS_VALUE__COUNT; v++) {
		uint64_t sum = 0;
		for (int s = 0; s < METRICS_SHARDS; s++)
			sum += load(&g_shards[s].values[v]);
		family(b, value_names[v], "counter", value_help[v]);
		buf_printf(b, "%s %llu\n", value_names[v], (unsigned long long)sum);
	}
	family(b, "pgseal_refusals_total", "counter",
	       "Statements and messages refused by pgseal (nothing of them reached PostgreSQL), by "
	       "SQLSTATE: 0A000 = cannot be mapped with certainty; other = codes past the "
	       "first seven seen.");
	bool any = false;
	for (int i = 0; i < REFUSAL_SLOTS - 1; i++) {
		uint64_t code = load(&g_refusal_code[i]);
		if (!code)
			continue;
		char st[6];
		for (int k = 0; k < 5; k++)
			st[k] = (char)(code >> (8 * (4 - k)));
		st[5] = 0;
		any |= !strcmp(st, "0A000");
		buf_printf(b, "pgseal_refusals_total{sqlstate=\"%s\"} %llu\n", st,
		           (unsigned long long)load(&g_refusal_count[i]));
	}
	if (!any) /* the series a dashboard watches exists from the start */
		buf_printf(b, "pgseal_refusals_total{sqlstate=\"0A000\"} 0\n");
	if (load(&g_refusal_count[REFUSAL_SLOTS - 1]))
		buf_printf(b, "pgseal_refusals_total{sqlstate=\"other\"} %llu\n",
		           (unsigned long long)load(&g_refusal_count[REFUSAL_SLOTS - 1]));

	uint64_t counts[CRYPT_BUCKETS] = {0};
	uint64_t sum_ns = 0, cum = 0;
	for (int s = 0; s < METRICS_SHARDS; s++) {
		for (size_t i = 0; i < CRYPT_BUCKETS; i++)
			counts[i] += load(&g_shards[s].crypt_bucket[i]);
		sum_ns += load(&g_shards[s].crypt_sum_ns);
	}
	family(b, "pgseal_encryption_layer_duration_seconds", "histogram",
	       "Time spent in the encryption layer per client or server message it handles "
	       "(analysis, rewriting, encryption, decryption).");
	for (size_t i = 0; i < CRYPT_BUCKETS; i++) {
		cum += counts[i];
		buf_printf(b, "pgseal_encryption_layer_duration_seconds_bucket{le=\"%s\"} %llu\n",
		           i < PGS_ARRAY_LEN(crypt_bounds_le) ? crypt_bounds_le[i] : "+Inf",
		           (unsigned long long)cum);
	}
	buf_printf(b, "pgseal_encryption_layer_duration_seconds_sum %llu.%09llu\n",
	           (unsigned long long)(sum_ns / 1000000000u),
	           (unsigned long long)(sum_ns % 1000000000u));
	buf_printf(b, "pgseal_encryption_layer_duration_seconds_count %llu\n",
	           (unsigned long long)cum);
	family(b, "pgseal_config_reloads_total", "counter",
	       "SIGHUP reloads of the encryption config, by result (applied, or failed: the "
	       "running config stayed).");
	buf_printf(b, "pgseal_config_reloads_total{result=\"applied\"} %llu\n",
	           (unsigned long long)load(&g_reloads[1]));
	buf_printf(b, "pgseal_config_reloads_total{result=\"failed\"} %llu\n",
	           (unsigned long long)load(&g_reloads[0]));
}

/* Resident set size from /proc/self/statm; 0 when unavailable. */
static uint64_t resident_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	/* the kernel writes this file; a bad parse only reports 0 */
	/* NOLINTNEXTLINE(cert-err34-c) */
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

void metrics_key_escrow(bool allowed, uint64_t recorded)
{
	atomic_store_explicit(&g_escrow_allowed, allowed, RELAXED);
	atomic_store_explicit(&g_escrows, recorded, RELAXED);
}

static void render_escrow(struct metrics_buf *b)
{
	family(b, "pgseal_key_escrow_allowed", "gauge",
	       "1 if keys.escrow allows splitting the master key out to custodians, else 0.");
	buf_printf(b, "pgseal_key_escrow_allowed %d\n",
	           atomic_load_explicit(&g_escrow_allowed, RELAXED) ? 1 : 0);
	family(b, "pgseal_key_escrows", "gauge",
	       "Escrows of the master key recorded in the keystore's escrow log at boot.");
	buf_printf(b, "pgseal_key_escrows %llu\n",
	           (unsigned long long)atomic_load_explicit(&g_escrows, RELAXED));
}

static void render_process(struct metrics_buf *b)
{
	render_escrow(b);
	family(b, "pgseal_upstream_up", "gauge",
	       "1 if the last readiness probe reached the upstream PostgreSQL, else 0.");
	buf_printf(b, "pgseal_upstream_up %d\n",
	           atomic_load_explicit(&g_upstream_up, RELAXED) ? 1 : 0);
	family(b, "pgseal_upstream_pool_idle", "gauge",
	       "Upstream connections kept for reuse by the session pool (being reset or idle).");
	buf_printf(b, "pgseal_upstream_pool_idle %lld\n",
	           (long long)atomic_load_explicit(&g_pool_idle, RELAXED));
	family(b, "pgseal_upstream_pool_reused_total", "counter",
	       "Client sessions served by a pooled upstream connection instead of a new one.");
	buf_printf(b, "pgseal_upstream_pool_reused_total %llu\n",
	           (unsigned long long)atomic_load_explicit(&g_pool_reused, RELAXED));
	family(b, "pgseal_process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch, in seconds.");
	buf_printf(b, "pgseal_process_start_time_seconds %lld\n",
	           (long long)atomic_load_explicit(&g_start_time_s, RELAXED));
	family(b, "pgseal_process_resident_memory_bytes", "gauge",
	       "Resident memory size in bytes.");
	buf_printf(b, "pgseal_process_resident_memory_bytes %llu\n",
	           (unsigned long long)resident_bytes());
	family(b, "pgseal_build_info", "gauge", "Always 1; the label carries the pgseal version.");
	buf_printf(b, "pgseal_build_info{version=\"%s\"} 1\n", PGSEAL_VERSION);
}

char *metrics_render(void)
{
	struct metrics_buf b = {.p = pgs_xmalloc(8192), .len = 0, .cap = 8192};
	b.p[0] = 0;
	render_connections(&b);
	render_traffic(&b);
	render_errors(&b);
	render_latency(&b);
	render_encryption(&b);
	render_process(&b);
	return b.p;
}
