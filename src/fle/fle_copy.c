/* fle_copy.c - the COPY sub-protocol of the encryption layer: each CopyInResponse/CopyOutResponse
 * paired with the statement that started it, client rows encrypted or relayed, fail closed. */
#include "fle/fle_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "metrics/metrics.h"
#include "crypto/crypto.h"

/*
 * How a COPY is matched: a Query's expected-response entry counts its statements as their
 * answers arrive (CommandComplete, EmptyQueryResponse; an ErrorResponse ends the Query), so
 * the n-th statement's CopyInResponse is paired with the plan's COPY at statement n; an
 * Execute's is paired with its portal's statement. A text relayed because it names no
 * encrypted table only copies plain tables. Anything else is not attributable: the server
 * gets CopyFail (no value in it), the client an error, and none of its rows go anywhere.
 *
 * The client's side of a COPY FROM runs on the client's messages, which may arrive before the
 * server's CopyInResponse (a client that does not wait for it): they are held until pgseal
 * knows what the COPY is.
 */

/* The CopyFail text pgseal sends: the server logs it, so it says nothing of the data. */
#define COPY_FAIL_TEXT "pgseal refused the COPY data"

static void line_reset(struct fle *s)
{
	if (s->copy_line.data)
		crypto_wipe(s->copy_line.data, s->copy_line.cap);
	s->copy_line.len = 0;
	s->copy_scanned = 0;
	s->copy_inq = false;
	s->copy_eod = false;
	s->copy_lineno = 0;
}

static void copy_desc_set(struct fle *s, const struct sql_copy *d)
{
	sql_copy_clear(&s->copy);
	sql_copy_dup(&s->copy, d);
	line_reset(s);
	s->copy_header_pending = d->header;
}

void fle_copy_free(struct fle *f)
{
	struct fle *s = f;
	sql_copy_clear(&s->copy);
	pgs_buf_free(&s->copy_line);
}

/* The client's COPY stream ended (or was abandoned): nothing of it is kept. */
static void copy_in_done(struct fle *s)
{
	s->copy_in = FLE_COPY_NONE;
	line_reset(s);
}

/* Which COPY a CopyIn/Out/BothResponse belongs to: true with *desc its description (NULL: a
 * COPY of a plain table), false when pgseal cannot tell with certainty. */
static bool copy_attribute(struct fle *f, const struct sql_copy **desc)
{
	struct fle_expect *e = fle_head(f);
	*desc = NULL;
	if (!e || e->refusal)
		return false;
	if (e->kind == EX_QUERY) {
		if (e->copy_plain)
			return true; /* the text names no encrypted table */
		*desc = sql_plan_copy(e->plan, e->stmt_index);
		return *desc != NULL;
	}
	if (e->kind == EX_EXECUTE) {
		struct fle_stmt *st = e->portal ? e->portal->stmt : NULL;
		if (!st)
			return false;
		if (!st->plan)
			return true; /* its statement names no encrypted table */
		*desc = sql_plan_copy(st->plan, 0);
		return *desc != NULL;
	}
	return false;
}

/* The Syncs a client sent after the Execute of a COPY FROM are read and ignored by the server
 * during the COPY: no ReadyForQuery answers them. Returns how many there are. */
static uint32_t swallowed_syncs(struct fle *f)
{
	struct fle *s = f;
	uint32_t n = 0;
	while (n + 1 < s->fifo_len && s->fifo[(s->fifo_head + n + 1) % s->fifo_cap].kind == EX_SYNC)
		n++;
	return n;
}

static void drop_swallowed_syncs(struct fle *f, uint32_t n)
{
	struct fle *s = f;
	/* entries 1..n are EX_SYNC, which hold nothing: the ones after them move up */
	for (uint32_t i = 1; i < s->fifo_len; i++) {
		struct fle_expect *dst = &s->fifo[(s->fifo_head + i) % s->fifo_cap];
		if (i + n < s->fifo_len)
			*dst = s->fifo[(s->fifo_head + i + n) % s->fifo_cap];
		else
			memset(dst, 0, sizeof(*dst));
	}
	s->fifo_len -= n;
}

/* Ends the COPY upstream with CopyFail; the client gets state/msg in place of the server's
 * answer to it. Goes before anything of the client's not yet scanned (f->to_server: from the
 * server's side, the session puts it at the client's next message boundary, or ends the
 * session when a client message is streaming). */
static void copy_fail_upstream(struct fle *f, const char *state, const char *msg, uint32_t syncs)
{
	struct fle *s = f;
	struct pgs_buf *fb = f->to_server;
	size_t off = proto_msg_begin(fb, 'f');
	proto_put_cstr(fb, COPY_FAIL_TEXT);
	proto_msg_end(fb, off);
	/* extended protocol: the server now skips to a Sync, and the client's Syncs were read
	 * during the COPY; these answer for them */
	for (uint32_t i = 0; i < syncs; i++) {
		off = proto_msg_begin(fb, 'S');
		proto_msg_end(fb, off);
	}
	s->copy_fail_pending = true;
	memcpy(s->copy_fail_state, state, 6);
	snprintf(s->copy_fail_msg, sizeof(s->copy_fail_msg), "%s", msg);
	log_conn(LOG_INFO, f->id, "COPY refused (%s): %s", state, msg);
	metrics_refusal(state);
	copy_in_done(s);
	s->copy_in = FLE_COPY_DRAIN; /* the client's rows of this COPY go nowhere */
}

int fle_copy_response(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct fle *s = f;
	const struct sql_copy *d = NULL;
	struct fle_expect *e = fle_head(f);
	struct proto_copy_response cr;
	if (proto_decode_copy_response(body, blen, &cr) != PGS_OK)
		return fle_fail(f, "08P01",
		                "pgseal: malformed COPY response from the upstream server");
	bool known = copy_attribute(f, &d);
	bool binary = cr.format != 0;
	if (d && !d->encrypted)
		d = NULL; /* a COPY of a plain table or query listed by the plan */

	if (type == 'H') {
		/* rows come from the server: at worst the client sees stored bytes, never the
		 * server plaintext; an encrypted table's rows are decrypted */
		if (!known)
			log_conn(LOG_WARN, f->id,
			         "a COPY TO answer matches no statement; relayed unchanged");
		if (known && d && !d->from_stdin && !binary) {
			copy_desc_set(s, d);
			s->copy_out = true;
		}
		return PGS_OK;
	}
	/* 'G' and 'W': the client's data will go to the server */
	bool ok = known && (!d || (d->from_stdin && type == 'G' && !binary));
	if (ok && e && e->kind == EX_QUERY && !e->copy_plain) {
		const struct sql_copy *listed = sql_plan_copy(e->plan, e->stmt_index);
		ok = listed && listed->from_stdin;
	}
	uint32_t syncs = e && e->kind == EX_EXECUTE ? swallowed_syncs(f) : 0;
	if (!ok) {
		/* fail closed: the client never sees the CopyInResponse, so sends no rows */
		fle_drop(f);
		copy_fail_upstream(
		    f, "0A000",
		    "pgseal: a COPY FROM STDIN that pgseal cannot match to a COPY of a plain "
		    "table or of a known encrypted table; nothing of its data was sent",
		    syncs);
		return PGS_OK;
	}
	if (syncs)
		drop_swallowed_syncs(f, syncs);
	if (d) {
		copy_desc_set(s, d);
		s->copy_in = FLE_COPY_ENCRYPT;
	} else {
		s->copy_in = FLE_COPY_PLAIN;
	}
	return PGS_OK;
}

void fle_copy_server_end(struct fle *f, uint8_t type)
{
	struct fle *s = f;
	if (s->copy_out) {
		s->copy_out = false;
		line_reset(s);
	}
	/* an error ended the server's COPY: the rest of the client's rows go nowhere */
	if (type == 'E' && (s->copy_in == FLE_COPY_ENCRYPT || s->copy_in == FLE_COPY_PLAIN)) {
		copy_in_done(s);
		s->copy_in = FLE_COPY_DRAIN;
	}
	if (type == 'Z')
		s->copy_fail_pending = false;
}

bool fle_copy_error(struct fle *f, const uint8_t *body, uint32_t blen)
{
	struct fle *s = f;
	char state[6];
	if (!s->copy_fail_pending)
		return false;
	s->copy_fail_pending = false;
	/* the answer to pgseal's CopyFail is 57014 (any other error came first: it stays) */
	if (proto_error_sqlstate(body, blen, state) != PGS_OK || strcmp(state, "57014") != 0)
		return false;
	proto_build_error(fle_fwd(f), "ERROR", s->copy_fail_state, s->copy_fail_msg);
	fle_drop(f);
	return true;
}

/* Whether the server may still answer with a CopyInResponse: a Query or Execute is pending. */
static bool copy_may_start(struct fle *f)
{
	struct fle *s = f;
	for (uint32_t i = 0; i < s->fifo_len; i++) {
		enum fle_expect_kind k = s->fifo[(s->fifo_head + i) % s->fifo_cap].kind;
		if (k == EX_QUERY || k == EX_EXECUTE)
			return true;
	}
	return false;
}

/* Re-encodes the complete rows in copy_line into out (final: the data ended, the tail is the
 * last row). A text end marker \. ends the data: the rest is ignored, as PostgreSQL does. */
static int copy_rows(struct fle *f, bool in, bool final, struct pgs_buf *out,
                     struct fle_copy_err *err)
{
	struct fle *s = f;
	const struct sql_copy *cp = &s->copy;
	size_t pos = 0;
	/* rows are searched from where the last message's search stopped, not from the
	 * start of the carried row again */
	size_t at = s->copy_scanned;
	for (;;) {
		bool whole =
		    fle_copy_row_end(cp, s->copy_line.data, s->copy_line.len, &at, &s->copy_inq);
		if (!whole) {
			if (!final || pos == s->copy_line.len)
				break;
			/* the data ended without a newline: the tail is the last row, when complete
			 */
			const char *why =
			    fle_copy_tail_malformed(cp, s->copy_line.len, at, s->copy_inq);
			if (why) {
				memcpy(err->state, "22P04", 6);
				pgs_errf(err->msg, sizeof(err->msg),
				         "pgseal: malformed COPY data at line %llu: %s",
				         (unsigned long long)s->copy_lineno + 1, why);
				return PGS_ERR;
			}
			at = s->copy_line.len;
		}
		const uint8_t *row = s->copy_line.data + pos;
		size_t end = at - pos;
		size_t rl = end && row[end - 1] == '\r' ? end - 1 : end;
		s->copy_lineno++;
		if (in && rl == 2 && row[0] == '\\' && row[1] == '.') {
			if (pgs_buf_put(out, "\\.\n", 3) != PGS_OK)
				abort();
			s->copy_eod = true;
			pos = at = s->copy_line.len;
			break;
		}
		if (s->copy_header_pending) {
			s->copy_header_pending = false;
			if (pgs_buf_put(out, row, end) != PGS_OK ||
			    pgs_buf_put(out, "\n", 1) != PGS_OK)
				abort();
		} else if (fle_copy_row(f, cp, row, end, in, s->copy_lineno, out, err) != PGS_OK) {
			return PGS_ERR;
		}
		pos = at = whole ? at + 1 : at;
		if (!whole)
			break;
	}
	/* keep the incomplete tail for the next message (no buffer yet: a CopyDone with no data
	 * before it) */
	if (s->copy_line.data) {
		crypto_wipe(s->copy_line.data, pos);
		memmove(s->copy_line.data, s->copy_line.data + pos, s->copy_line.len - pos);
	}
	s->copy_line.len -= pos;
	s->copy_scanned = at - pos;
	return PGS_OK;
}

/* Takes one CopyData message's payload (plus what was carried) and re-encodes its rows. */
static int copy_data(struct fle *f, const uint8_t *body, uint32_t blen, bool in,
                     struct pgs_buf *out, struct fle_copy_err *err)
{
	struct fle *s = f;
	if (s->copy_line.len + blen > f->max_message_size) {
		memcpy(err->state, "54000", 6);
		pgs_errf(err->msg, sizeof(err->msg),
		         "pgseal: a COPY row is longer than max_message_size");
		return PGS_ERR;
	}
	if (pgs_buf_put(&s->copy_line, body, blen) != PGS_OK)
		abort();
	return copy_rows(f, in, false, out, err);
}

/* Appends the re-encoded rows as one CopyData to fwd (nothing when there are none). */
static void put_copy_data(struct fle *f, const struct pgs_buf *payload)
{
	struct pgs_buf *nb = fle_fwd(f);
	if (!payload->len)
		return;
	pgs_buf_reserve(nb, payload->len + PROTO_HDR_LEN);
	size_t off = proto_msg_begin(nb, 'd');
	pgs_buf_append(nb, payload->data, payload->len);
	proto_msg_end(nb, off);
}

int fle_copy_client(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct fle *s = f;
	struct pgs_buf out = {0};
	struct fle_copy_err err;
	switch (s->copy_in) {
	case FLE_COPY_PLAIN:
		if (type != 'd')
			copy_in_done(s);
		return PGS_OK;
	case FLE_COPY_DRAIN:
		fle_drop(f); /* wiped by the session: its bytes may be plaintext */
		if (type != 'd')
			copy_in_done(s);
		return PGS_OK;
	case FLE_COPY_NONE:
		if (copy_may_start(f)) {
			s->client_held = true; /* until the server says what the COPY is */
			f->act->verdict = FLE_HOLD;
			return PGS_OK;
		}
		/* no COPY is running: the server would ignore it */
		fle_drop(f);
		return PGS_OK;
	case FLE_COPY_ENCRYPT:
		break;
	}
	if (type == 'f') {
		/* the client's own CopyFail: its message is the client's */
		copy_in_done(s);
		return PGS_OK;
	}
	if (s->copy_eod) {
		/* after the end marker the server ignores the data, pgseal drops it */
		if (type == 'd') {
			fle_drop(f);
			return PGS_OK;
		}
	}
	int rc = type == 'd' ? copy_data(f, body, blen, true, &out, &err)
	                     : (s->copy_eod ? PGS_OK : copy_rows(f, true, true, &out, &err));
	if (rc != PGS_OK) {
		/* nothing of this row or later ones reaches the server: CopyFail ends the COPY */
		pgs_buf_free(&out);
		fle_drop(f);
		copy_fail_upstream(f, err.state, err.msg, 0);
		if (type == 'c')
			copy_in_done(s); /* the client's stream is over too */
		return PGS_OK;
	}
	if (type == 'd') {
		fle_drop(f);
		put_copy_data(f, &out);
	} else {
		/* CopyDone: the last row first */
		put_copy_data(f, &out);
		copy_in_done(s);
	}
	pgs_buf_free(&out);
	return PGS_OK;
}

void fle_copy_client_other(struct fle *f, uint8_t type)
{
	struct fle *s = f;
	/* Flush and Sync are read and ignored by the server during a COPY FROM; anything else
	 * ends the client's COPY stream (the server fails a COPY that gets it) */
	if (s->copy_in == FLE_COPY_NONE || type == 'H' || type == 'S')
		return;
	copy_in_done(s);
}

bool fle_copy_sync_swallowed(const struct fle *f)
{
	return f->copy_in == FLE_COPY_PLAIN || f->copy_in == FLE_COPY_ENCRYPT;
}

int fle_copy_out_data(struct fle *f, const uint8_t *body, uint32_t blen)
{
	struct pgs_buf out = {0};
	struct fle_copy_err err;
	if (copy_data(f, body, blen, false, &out, &err) != PGS_OK) {
		/* the reader gets an error in place of the rows (never the stored bytes); the
		 * rest of this COPY is dropped up to ReadyForQuery, and the session goes on */
		pgs_buf_free(&out);
		proto_build_error(fle_fwd(f), "ERROR", "XX001", err.msg);
		fle_drop(f);
		f->copy_out = false;
		line_reset(f);
		f->copy_out_failed = true;
		return PGS_OK;
	}
	fle_drop(f);
	put_copy_data(f, &out);
	pgs_buf_free(&out);
	return PGS_OK;
}
