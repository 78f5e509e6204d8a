/* fuzz_eventlog.c - libFuzzer target: dstack event-log JSON parsing and RTMR replay. */
#include <string.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_eventlog log;
	struct attest_replay r;
	struct attest_td_report td;
	char err[256];

	memset(&td, 0, sizeof(td));
	if (attest_eventlog_parse((const char *)data, size, &log, err, sizeof(err)) != PGS_OK)
		return 0;
	if (attest_eventlog_replay(&log, &td, &r) == PGS_OK)
		attest_replay_free(&r);
	attest_eventlog_free(&log);
	return 0;
}
