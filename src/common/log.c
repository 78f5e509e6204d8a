/* log.c - writes one line per event to stderr, as text or JSON, with the connection id. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level g_level = LOG_INFO;
static enum log_format g_format = LOG_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level level, enum log_format format)
{
	g_level = level;
	g_format = format;
}

bool log_enabled(enum log_level level)
{
	return level >= g_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < PGS_ARRAY_LEN(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return PGS_OK;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return PGS_OK;
	}
	return PGS_ERR;
}

/* JSON-escape into dst; the message is ours (no values), but escape anyway. */
static size_t json_escape(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)*p;
		} else if (*p < 0x20) {
			o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", *p);
		} else {
			dst[o++] = (char)*p;
		}
	}
	dst[o] = 0;
	return o;
}

void log_msg(enum log_level level, uint64_t conn_id, const char *fmt, ...)
{
	char msg[1024], line[2400], ts[40];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level < g_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03dZ", (int)(tv.tv_usec / 1000));

	if (g_format == LOG_JSON) {
		char esc[2100];
		json_escape(esc, sizeof(esc), msg);
		if (conn_id)
			n = snprintf(
			    line, sizeof(line),
			    "{\"ts\":\"%s\",\"level\":\"%s\",\"conn\":%llu,\"msg\":\"%s\"}\n", ts,
			    level_names[level], (unsigned long long)conn_id, esc);
		else
			n = snprintf(line, sizeof(line),
			             "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
			             level_names[level], esc);
	} else {
		if (conn_id)
			n = snprintf(line, sizeof(line), "%s %-5s [c%llu] %s\n", ts,
			             level_names[level], (unsigned long long)conn_id, msg);
		else
			n = snprintf(line, sizeof(line), "%s %-5s %s\n", ts, level_names[level],
			             msg);
	}
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	/* one write() per line keeps lines from different threads whole */
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
}
