/* metrics.c - temporary no-op metrics (replaced by the admin branch). */
#include "metrics/metrics.h"

#include <string.h>

void metrics_conn_opened(void) {}
void metrics_conn_closed(void) {}
void metrics_conn_rejected(void) {}
void metrics_bytes(enum metrics_dir dir, uint64_t n) { (void)dir; (void)n; }
void metrics_message(enum metrics_dir dir, uint8_t type) { (void)dir; (void)type; }
void metrics_error(enum metrics_error e) { (void)e; }
void metrics_query_latency_us(uint64_t us) { (void)us; }
void metrics_upstream_up(bool up) { (void)up; }
char *metrics_render(void) { return strdup(""); }
