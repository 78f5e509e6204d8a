/* log.h - leveled logging as text or JSON lines; callers never pass values or SQL text. */
#ifndef PGSEAL_LOG_H
#define PGSEAL_LOG_H

#include "common/common.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT = 0, LOG_JSON };

void log_setup(enum log_level level, enum log_format format);
bool log_enabled(enum log_level level);
int log_parse_level(const char *s, enum log_level *out) PGS_MUSTCHECK;

/* conn_id 0 means "not about a connection". The message is a format string that must
 * never carry a parameter value, a row value, SQL with literals, or key material. */
void log_msg(enum log_level level, uint64_t conn_id, const char *fmt, ...) PGS_PRINTF(3, 4);

#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_msg(LOG_DEBUG, 0, __VA_ARGS__);                                        \
	} while (0)
#define log_info(...) log_msg(LOG_INFO, 0, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, 0, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, 0, __VA_ARGS__)
#define log_conn(level, id, ...)                                                                   \
	do {                                                                                       \
		if (log_enabled(level))                                                            \
			log_msg(level, id, __VA_ARGS__);                                           \
	} while (0)

#endif
