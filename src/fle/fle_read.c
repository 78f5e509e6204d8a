/* fle_read.c - the encryption layer's read path: responses matched to requests, RowDescription
 * retyped, DataRow decrypted. */
#include "fle/fle_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/crypto.h"

static int32_t type_len(enum codec_type t)
{
	switch (t) {
	case CODEC_INT2:
		return 2;
	case CODEC_INT4:
		return 4;
	case CODEC_DATE:
		return 4;
	case CODEC_INT8:
	case CODEC_FLOAT8:
	case CODEC_TIMESTAMP:
	case CODEC_TIMESTAMPTZ:
		return 8;
	case CODEC_BOOL:
		return 1;
	case CODEC_UUID:
		return 16;
	default:
		return -1;
	}
}

/* ---- server -> client ---------------------------------------------------------- */

bool fle_server_wants(struct fle *f, uint8_t type)
{
	struct fle_expect *e = fle_head(f);
	if (e && e->kind == EX_CATALOG)
		return true;
	switch (type) {
	case 'T':
	case 't':
	case '1':
	case '2':
	case '3':
	case 'n':
	case 'C':
	case 'I':
	case 's':
	case 'E':
	case 'Z':
	case 'G':
	case 'H':
	case 'W':
		return true;
	case 'D': {
		if (e && e->kind == EX_EXECUTE && !e->layout)
			e->layout = fle_portal_layout(e->portal);
		struct fle_layout *l = e && e->kind == EX_EXECUTE ? e->layout
		                       : e && e->kind == EX_QUERY ? f->query_layout
		                                                  : NULL;
		return (l && l->any_encrypted) || f->drop_until_complete;
	}
	case 'd':
	case 'c':
		return f->copy_out || f->copy_out_failed;
	default:
		return false;
	}
}

/* Builds a layout from a RowDescription: its columns that carry an encrypted column's records
 * (bytea with an encrypted origin) get that column. */
static struct fle_layout *row_description(struct fle *f, const uint8_t *body, uint32_t blen,
                                          const struct sql_plan *plan)
{
	struct proto_row_description rd;
	if (proto_decode_row_description(body, blen, &rd) != PGS_OK)
		return NULL;
	uint16_t n = rd.ncols;
	struct fle_layout *l = pgs_xcalloc(1, sizeof(*l) + (size_t)n * sizeof(l->cols[0]));
	l->refs = 1;
	l->ncols = n;
	struct proto_column_iter it;
	proto_column_iter_init(&it, &rd);
	for (uint16_t i = 0; i < n; i++) {
		struct proto_column c;
		if (!proto_column_next(&it, &c)) { /* the decoder walked them: cannot happen */
			free(l);
			return NULL;
		}
		const struct schema_column *col = fle_catalog_column(f, c.table_oid, c.attnum);
		/* no origin (scalar subquery, UNION ALL, CTE...): the statement's analysis knows
		 * which encrypted column an output column carries unchanged */
		if (!col && plan && plan->nresult == n)
			col = plan->result[i];
		l->cols[i].format = c.format;
		if (col && c.type_oid == FLE_BYTEA_OID) {
			l->cols[i].col = col;
			l->any_encrypted = true;
		}
	}
	return l;
}

/* The client sees an encrypted column's declared type: rewrites a copy of the RowDescription
 * (body, already read by row_description) for the layout's encrypted columns. */
static void row_description_retype(const struct fle_layout *l, uint8_t *body, uint32_t blen)
{
	struct proto_row_description rd;
	if (proto_decode_row_description(body, blen, &rd) != PGS_OK || rd.ncols != l->ncols)
		return;
	struct proto_column_iter it;
	proto_column_iter_init(&it, &rd);
	for (uint16_t i = 0; i < rd.ncols; i++) {
		struct proto_column c;
		if (!proto_column_next(&it, &c))
			return;
		/* the type oid, length, modifier and format: the column's last 12 bytes */
		uint8_t *at = body + (rd.cols - body) + it.r.pos - 12;
		const struct schema_column *col = l->cols[i].col;
		if (!col)
			continue;
		pgs_put_u32(at, col->type_oid);
		int32_t tl = type_len(col->type);
		at[4] = (uint8_t)((uint32_t)tl >> 8);
		at[5] = (uint8_t)tl;
		pgs_put_u32(at + 6, 0xffffffffu);
	}
}

/* A ParameterDescription of a statement: encrypted parameters show their declared type (the
 * message goes as a rewritten copy when one does). */
static void parameter_description(struct fle *f, struct fle_stmt *st, const uint8_t *body,
                                  uint32_t blen)
{
	struct proto_parameter_description pd;
	if (!st || !st->plan || proto_decode_parameter_description(body, blen, &pd) != PGS_OK)
		return;
	uint16_t n = pd.ntypes;
	uint8_t *copy = NULL;
	for (size_t i = 0; i < st->plan->nparams; i++) {
		const struct sql_param *pp = &st->plan->params[i];
		if (pp->number < 1 || pp->number > n || pp->array)
			continue;
		if (!copy) {
			struct pgs_buf *fwd = fle_fwd(f);
			size_t at = fwd->len + PROTO_HDR_LEN;
			fle_put_current(f);
			copy = fwd->data + at;
		}
		pgs_put_u32(copy + 2 + 4 * (pp->number - 1), pp->column->type_oid);
	}
}

/* Decrypts the encrypted columns of a DataRow into fwd, in its place. The plaintext is only in
 * fwd (wiped at the action's reset) and in the scratch buffers (wiped when freed). */
static int data_row(struct fle *f, struct fle_layout *l, const uint8_t *body, uint32_t blen)
{
	struct proto_data_row m;
	if (proto_decode_data_row(body, blen, &m) != PGS_OK)
		return fle_fail(f, "08P01", "pgseal: malformed DataRow from the upstream server");
	uint16_t n = m.ncols;
	if (n != l->ncols)
		return fle_fail(f, "08P01", "pgseal: a row does not match its description");
	struct proto_value_iter it;
	proto_value_iter_init(&it, m.values, m.values_len);
	struct pgs_buf *nb = fle_fwd(f);
	/* the session's scratch buffers: kept between rows, wiped after each */
	struct pgs_buf *raw = &f->row_raw, *out = &f->row_out;
	char err[256];
	size_t start = nb->len;
	pgs_buf_reserve(nb, blen + 64);
	size_t off = proto_msg_begin(nb, 'D');
	proto_put_u16(nb, n);
	int rc = PGS_OK;
	for (uint16_t i = 0; i < n; i++) {
		int32_t vl;
		const uint8_t *v = NULL;
		if (!proto_value_next(&it, &v, &vl)) { /* the decoder counted them */
			rc = fle_fail(f, "08P01",
			              "pgseal: malformed DataRow from the upstream server");
			goto out;
		}
		const struct schema_column *col = l->cols[i].col;
		if (!col || vl < 0) {
			pgs_buf_reserve(nb, 4 + (vl > 0 ? (size_t)vl : 0));
			proto_put_u32(nb, (uint32_t)vl);
			if (vl > 0)
				pgs_buf_append(nb, v, (size_t)vl);
			continue;
		}
		const uint8_t *rec = v;
		size_t reclen = (size_t)vl;
		if (l->cols[i].format == 0) {
			if (fle_bytea_text_decode(v, (size_t)vl, raw) != PGS_OK) {
				snprintf(err, sizeof(err), "pgseal: a value of %s is not bytea",
				         col->qualified);
				goto refuse;
			}
			rec = raw->data;
			reclen = raw->len;
		}
		bool is_null = false;
		if (fle_decrypt_value(f, col, l->cols[i].format, rec, reclen, out, &is_null, err,
		                      sizeof(err)) != PGS_OK)
			goto refuse;
		if (is_null) {
			pgs_buf_reserve(nb, 4);
			proto_put_u32(nb, 0xffffffffu);
		} else {
			pgs_buf_reserve(nb, 4 + out->len);
			proto_put_u32(nb, (uint32_t)out->len);
			pgs_buf_append(nb, out->data, out->len);
		}
	}
	proto_msg_end(nb, off);
	fle_drop(f);
	goto out;
refuse:
	/* the reader gets an error, never the stored bytes; the rest of the rows are dropped */
	crypto_wipe(nb->data + start, nb->len - start);
	nb->len = start;
	proto_build_error(nb, "ERROR", "XX001", err);
	fle_drop(f);
	f->drop_until_complete = true;
out:
	crypto_wipe(raw->data, raw->cap);
	crypto_wipe(out->data, out->cap);
	raw->len = out->len = 0;
	return rc;
}

/* A statement of a simple Query was answered: the next CopyInResponse is the next one's. */
static void statement_done(struct fle_expect *e)
{
	if (e && e->kind == EX_QUERY)
		e->stmt_index++;
}

static bool sync_like(enum fle_expect_kind k)
{
	return k == EX_SYNC || k == EX_QUERY || k == EX_FUNCTION || k == EX_CATALOG;
}

/* pgseal's catalog query: every answer is swallowed; rows fill the map. */
static void catalog_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct fle_expect *e = fle_head(f);
	uint8_t status = blen == 1 ? body[0] : 0;
	if (type == 'D')
		fle_catalog_row(f, body, blen);
	else if (type == 'E') {
		log_conn(LOG_WARN, f->id, "the catalog lookup of encrypted tables failed");
		if (e)
			e->failed = true;
	}
	fle_drop(f);
	if (type == 'Z') {
		uint64_t upto = e ? e->pending_upto : 0, reg_upto = e ? e->reg_upto : 0;
		bool failed = e && e->failed;
		fle_pop(f);
		fle_views_finish(f, upto, reg_upto, failed, status);
		log_conn(LOG_DEBUG, f->id, "catalog: %d encrypted table(s) found", f->noids);
		if (f->hold_first_ready) {
			f->hold_first_ready = false;
			uint8_t z[6] = {'Z', 0, 0, 0, 5, f->held_status};
			pgs_buf_append(fle_fwd(f), z, sizeof(z));
			/* the session treats it as a ReadyForQuery it saw (the first, at start) */
			f->act->ready = f->held_status;
		}
	}
}

int fle_session_ready(struct fle *f, uint8_t status, struct fle_action *act)
{
	uint8_t z = status;
	fle_begin(f, act, 'Z', &z, 1, false);
	f->msg_body = NULL; /* not kept: the message is never copied */
	if (f->catalog_loaded)
		return PGS_OK;
	f->hold_first_ready = true;
	f->held_status = status;
	fle_catalog_request(f);
	fle_drop(f);
	return PGS_OK;
}

static int server_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct fle_expect *e = fle_head(f);

	if (e && e->kind == EX_CATALOG) {
		if (type == 'N' || type == 'S' || type == 'A')
			return PGS_OK;
		catalog_message(f, type, body, blen);
		return PGS_OK;
	}
	if (f->drop_until_complete) {
		if (type == 'D') {
			fle_drop(f);
			return PGS_OK;
		}
		if (type == 'C' || type == 's' || type == 'I') {
			f->drop_until_complete = false;
			fle_drop(f);
			statement_done(e);
			if (e && e->kind == EX_EXECUTE)
				fle_pop(f);
			return PGS_OK;
		}
		f->drop_until_complete = false;
	}
	if (f->copy_out_failed) {
		if (type == 'd' || type == 'c' || type == 'C') {
			fle_drop(f);
			if (type == 'C')
				statement_done(e);
			if (type == 'C' && e && e->kind == EX_EXECUTE)
				fle_pop(f);
			return PGS_OK;
		}
		if (type == 'Z' || type == 'E')
			f->copy_out_failed = false;
	}
	if ((type == '1' && e && e->kind == EX_SWALLOW_PARSE) ||
	    (type == '2' && e && e->kind == EX_SWALLOW_BIND)) {
		fle_drop(f);
		fle_pop(f);
		return PGS_OK;
	}
	switch (type) {
	case '1':
	case '2':
	case '3':
		if (e && (e->kind == EX_PARSE || e->kind == EX_BIND || e->kind == EX_CLOSE))
			fle_pop(f);
		break;
	case 't':
		if (e && e->kind == EX_DESCRIBE_STMT)
			parameter_description(f, e->stmt, body, blen);
		break;
	case 'T': {
		const struct sql_plan *plan = NULL;
		if (e && e->kind == EX_DESCRIBE_STMT && e->stmt)
			plan = e->stmt->plan;
		else if (e && e->kind == EX_DESCRIBE_PORTAL && e->portal && e->portal->stmt)
			plan = e->portal->stmt->plan;
		else if (e && e->kind == EX_QUERY)
			plan = e->plan;
		struct fle_layout *l = row_description(f, body, blen, plan);
		if (!l)
			return fle_fail(
			    f, "08P01",
			    "pgseal: malformed RowDescription from the upstream server");
		if (l->any_encrypted) {
			/* goes as a copy with the encrypted columns retyped */
			struct pgs_buf *fwd = fle_fwd(f);
			size_t at = fwd->len + PROTO_HDR_LEN;
			fle_put_current(f);
			row_description_retype(l, fwd->data + at, blen);
		}
		if (e && e->kind == EX_DESCRIBE_STMT) {
			struct fle_stmt *st = e->stmt;
			if (st) {
				fle_layout_unref(st->layout);
				/* a statement's description has no formats yet: Bind decides them
				 */
				st->layout = fle_layout_ref(l);
			}
			fle_pop(f);
		} else if (e && e->kind == EX_DESCRIBE_PORTAL) {
			struct fle_portal *po = e->portal;
			if (po) {
				fle_layout_unref(po->layout);
				po->layout = fle_layout_ref(l);
			}
			fle_pop(f);
		} else if (e && e->kind == EX_QUERY) {
			fle_layout_unref(f->query_layout);
			f->query_layout = fle_layout_ref(l);
		}
		fle_layout_unref(l);
		break;
	}
	case 'n':
		if (e && (e->kind == EX_DESCRIBE_STMT || e->kind == EX_DESCRIBE_PORTAL))
			fle_pop(f);
		break;
	case 'D': {
		struct fle_layout *l = e && e->kind == EX_EXECUTE ? e->layout
		                       : e && e->kind == EX_QUERY ? f->query_layout
		                                                  : NULL;
		if (l && l->any_encrypted)
			return data_row(f, l, body, blen);
		break;
	}
	case 'C':
	case 'I':
	case 's':
		if (e && e->kind == EX_EXECUTE)
			fle_pop(f);
		else if (e && e->kind == EX_QUERY) {
			if (type == 'C' && blen > 0 && body[blen - 1] == 0)
				fle_prepared_complete(
				    f, e, (const char *)body); /* PREPARE, DEALLOCATE... */
			fle_layout_unref(f->query_layout);
			f->query_layout = NULL;
		}
		statement_done(e);
		fle_copy_server_end(f, type);
		break;
	case 'E':
		fle_copy_server_end(f, type);
		if (fle_copy_error(f, body, blen)) {
			/* it answered pgseal's CopyFail: pgseal's error took its place */
		} else if (e && e->refusal) {
			/* pgseal's refusal: drop the PL/pgSQL context and source position it adds
			 */
			struct pgs_buf *nb = fle_fwd(f);
			struct proto_notice en;
			struct proto_reader r;
			if (proto_decode_notice(body, blen, &en) != PGS_OK)
				return fle_fail(
				    f, "08P01",
				    "pgseal: malformed ErrorResponse from the upstream server");
			size_t off = proto_msg_begin(nb, 'E');
			proto_reader_init(&r, en.fields, en.fields_len);
			for (;;) {
				uint8_t code;
				const char *v;
				size_t vlen;
				if (!proto_notice_next(&r, &code, &v, &vlen))
					break;
				if (code == 'W' || code == 'F' || code == 'L' || code == 'R')
					continue;
				proto_put_u8(nb, code);
				proto_put_cstr(nb, v);
			}
			proto_put_u8(nb, 0);
			proto_msg_end(nb, off);
			fle_drop(f);
		}
		if (e && e->kind == EX_QUERY) {
			fle_layout_unref(f->query_layout);
			f->query_layout = NULL;
			/* the statements after the failed one do not run */
			fle_prepared_settle(f, e, false);
		}
		/* extended protocol: the server skips to the next Sync; what those messages would
		 * have changed in the statement namespace is rolled back */
		bool skipped = false;
		while ((e = fle_head(f)) && !sync_like(e->kind)) {
			fle_prepared_settle(f, e, false);
			fle_pop(f);
			skipped = true;
		}
		/* the client's Sync is not sent yet: what it sends until then is skipped by the
		 * server, unanswered, so it is dropped here (else its expected answers would be
		 * matched to the next batch's, confirming statements the server never got) */
		if (skipped && !fle_head(f))
			f->skip_to_sync = true;
		break;
	case 'Z':
		fle_copy_server_end(f, type);
		if (e && sync_like(e->kind) && e->kind != EX_CATALOG)
			fle_pop(f);
		else if (e)
			log_conn(LOG_DEBUG, f->id,
			         "ReadyForQuery with an unexpected pending response");
		if (blen == 1 && body[0] == 'I')
			fle_views_confirm(
			    f); /* committed: other sessions may learn this session's views */
		if ((e = fle_head(f)) && e->kind == EX_CATALOG && e->hold_ready && blen == 1) {
			/* a view was just defined: the client gets this ReadyForQuery once the
			 * catalog answer (the view's definition) is in */
			f->hold_first_ready = true;
			f->held_status = body[0];
			fle_drop(f);
			return PGS_OK;
		}
		break;
	case 'G':
	case 'H':
	case 'W':
		return fle_copy_response(f, type, body, blen);
	case 'd':
		if (f->copy_out)
			return fle_copy_out_data(f, body, blen);
		break;
	default:
		break;
	}
	return PGS_OK;
}

int fle_server_message(struct fle *f, uint8_t type, const uint8_t *body, uint32_t blen,
                       struct fle_action *act)
{
	fle_begin(f, act, type, body, blen, false);
	if (server_message(f, type, body, blen) != PGS_OK && act->verdict != FLE_FAIL)
		(void)fle_fail(f, "XX000", "pgseal: internal error in the encryption layer");
	return act->verdict == FLE_FAIL ? PGS_ERR : PGS_OK;
}
