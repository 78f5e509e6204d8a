/* fuzz_copy.c - libFuzzer target for the COPY row parser: row ends found whole or in pieces agree,
 * fields split and rows re-encoded without crashing, a malformed row's message holds no byte of it.
 */
#include <stdlib.h>
#include <string.h>

#include "fle/fle_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fle_copy_fields fields;
static const struct schema_column *plain3[3];

/* Re-encodes a row of three plain columns; an error message is one of the fixed reasons. */
static void reencode(const struct sql_copy *fmt, const uint8_t *row, size_t len)
{
	struct sql_copy cp = *fmt;
	struct pgs_buf o = {0};
	struct fle_copy_err e;
	cp.ncolumns = 3;
	cp.columns = plain3;
	if (fle_copy_row(NULL, &cp, row, len, true, 1, &o, &e) != PGS_OK &&
	    (strcmp(e.state, "22P04") != 0 || !strstr(e.msg, "malformed COPY data at line 1: ")))
		abort();
	pgs_buf_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* byte 0 picks the format, byte 1 where the stream is cut in two */
	static const struct sql_copy formats[] = {
	    {.csv = false, .delimiter = '\t', .null_string = "\\N"},
	    {.csv = false, .delimiter = '|', .null_string = ""},
	    {.csv = true, .delimiter = ',', .quote = '"', .escape = '"', .null_string = ""},
	    {.csv = true, .delimiter = ';', .quote = '\'', .escape = '\\', .null_string = "NULL"},
	};
	const struct sql_copy *cp = &formats[data[0] % 4];
	size_t n = size - 2;
	uint8_t *buf = malloc(n ? n : 1);
	memcpy(buf, data + 2, n);
	size_t cut = n ? data[1] % (n + 1) : 0;

	/* whole: every row end */
	size_t pos = 0, start = 0;
	bool inq = false;
	size_t ends[64];
	int nends = 0;
	while (nends < 64 && fle_copy_row_end(cp, buf, n, &pos, &inq)) {
		ends[nends++] = pos;
		if (fle_copy_split(cp, buf + start, pos - start, &fields) == PGS_OK) {
			for (size_t i = 0; i < fields.n; i++)
				if (fields.off[i] + fields.len[i] > fields.vals.len)
					abort();
		}
		reencode(cp, buf + start, pos - start);
		start = ++pos;
	}
	/* the data ends: the tail is a last row, or a reason why not */
	if (nends < 64 && start < n) {
		if (!fle_copy_tail_malformed(cp, n, pos, inq))
			reencode(cp, buf + start, n - start);
	}
	/* in two pieces: the first search stops at the cut and resumes with more bytes */
	if (nends < 64) {
		size_t p2 = 0;
		bool q2 = false;
		int k = 0;
		for (;;) {
			if (fle_copy_row_end(cp, buf, cut, &p2, &q2)) {
				if (k >= nends || ends[k] != p2)
					abort();
				k++;
				p2++;
				continue;
			}
			break;
		}
		while (fle_copy_row_end(cp, buf, n, &p2, &q2)) {
			if (k >= nends || ends[k] != p2)
				abort();
			k++;
			p2++;
		}
		if (k != nends)
			abort();
	}
	pgs_buf_free(&fields.vals);
	free(buf);
	return 0;
}
