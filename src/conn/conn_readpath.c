/* conn_readpath.c - the encryption layer's read path: responses matched to requests, RowDescription
 * retyped, DataRow decrypted. */
#include "conn/conn_internal.h"

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

bool crypt_server_needs_whole(const struct conn *c, uint8_t type)
{
	struct crypt_expect *e = crypt_head((struct conn *)c);
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
			e->layout = crypt_portal_layout(e->portal);
		struct crypt_layout *l = e && e->kind == EX_EXECUTE ? e->layout
		                         : e && e->kind == EX_QUERY ? c->crypt.query_layout
		                                                    : NULL;
		return (l && l->any_encrypted) || c->crypt.drop_until_complete;
	}
	case 'd':
	case 'c':
		return c->crypt.copy_out || c->crypt.copy_out_failed;
	default:
		return false;
	}
}

/* Builds a layout from a RowDescription and rewrites its encrypted columns' types in place. */
static struct crypt_layout *row_description(struct conn *c, uint8_t *body, uint32_t blen,
                                            const struct sql_plan *plan)
{
	struct proto_reader r;
	uint16_t n;
	proto_reader_init(&r, body, blen);
	if (proto_read_u16(&r, &n) != PGS_OK)
		return NULL;
	struct crypt_layout *l = pgs_xcalloc(1, sizeof(*l) + (size_t)n * sizeof(l->cols[0]));
	l->refs = 1;
	l->ncols = n;
	for (uint16_t i = 0; i < n; i++) {
		const char *name;
		uint32_t table, typoid;
		uint16_t attnum, typlen, fmt;
		int32_t typmod;
		if (proto_read_cstr(&r, &name, NULL) != PGS_OK ||
		    proto_read_u32(&r, &table) != PGS_OK || proto_read_u16(&r, &attnum) != PGS_OK) {
			free(l);
			return NULL;
		}
		size_t at = r.pos;
		if (proto_read_u32(&r, &typoid) != PGS_OK ||
		    proto_read_u16(&r, &typlen) != PGS_OK ||
		    proto_read_i32(&r, &typmod) != PGS_OK || proto_read_u16(&r, &fmt) != PGS_OK) {
			free(l);
			return NULL;
		}
		const struct schema_column *col = crypt_catalog_column(c, table, (int16_t)attnum);
		/* no origin (scalar subquery, UNION ALL, CTE...): the statement's analysis knows
		 * which encrypted column an output column carries unchanged */
		if (!col && plan && plan->nresult == n)
			col = plan->result[i];
		l->cols[i].format = (int16_t)fmt;
		if (col && typoid == CRYPT_BYTEA_OID) {
			l->cols[i].col = col;
			l->any_encrypted = true;
			pgs_put_u32(body + at, col->type_oid);
			int32_t tl = type_len(col->type);
			body[at + 4] = (uint8_t)((uint32_t)tl >> 8);
			body[at + 5] = (uint8_t)tl;
			pgs_put_u32(body + at + 6, 0xffffffffu);
		}
	}
	return l;
}

/* Rewrites a ParameterDescription of a statement: encrypted parameters show their declared type. */
static void parameter_description(struct conn *c, struct crypt_stmt *st, uint8_t *body,
                                  uint32_t blen)
{
	(void)c;
	if (!st || !st->plan || blen < 2)
		return;
	uint16_t n = (uint16_t)(body[0] << 8 | body[1]);
	if (blen < 2u + 4u * n)
		return;
	for (size_t i = 0; i < st->plan->nparams; i++) {
		const struct sql_param *pp = &st->plan->params[i];
		if (pp->number >= 1 && pp->number <= n && !pp->array)
			pgs_put_u32(body + 2 + 4 * (pp->number - 1), pp->column->type_oid);
	}
}

/* Decrypts the encrypted columns of a DataRow; replaces the message. */
static int data_row(struct conn *c, struct crypt_layout *l, uint32_t total)
{
	struct sbuf *b = &c->s2c;
	const uint8_t *body = crypt_msg_body(b);
	struct proto_reader r;
	uint16_t n;
	proto_reader_init(&r, body, total - PROTO_HDR_LEN);
	if (proto_read_u16(&r, &n) != PGS_OK || n != l->ncols) {
		conn_fail(c, "08P01", "pgseal: a row does not match its description");
		return PGS_ERR;
	}
	struct pgs_buf nb = {0};
	struct pgs_buf raw = {0}, out = {0};
	char err[256];
	size_t off = proto_msg_begin(&nb, 'D');
	proto_put_u16(&nb, n);
	int rc = PGS_OK;
	for (uint16_t i = 0; i < n; i++) {
		int32_t vl;
		const uint8_t *v = NULL;
		if (proto_read_i32(&r, &vl) != PGS_OK ||
		    (vl >= 0 && proto_read_bytes(&r, (size_t)vl, &v) != PGS_OK)) {
			rc = PGS_ERR;
			conn_fail(c, "08P01", "pgseal: malformed DataRow from the upstream server");
			goto out;
		}
		const struct schema_column *col = l->cols[i].col;
		if (!col || vl < 0) {
			proto_put_u32(&nb, (uint32_t)vl);
			if (vl > 0)
				pgs_buf_append(&nb, v, (size_t)vl);
			continue;
		}
		const uint8_t *rec = v;
		size_t reclen = (size_t)vl;
		if (l->cols[i].format == 0) {
			if (crypt_bytea_text_decode(v, (size_t)vl, &raw) != PGS_OK) {
				snprintf(err, sizeof(err), "pgseal: a value of %s is not bytea",
				         col->qualified);
				goto refuse;
			}
			rec = raw.data;
			reclen = raw.len;
		}
		bool is_null = false;
		if (crypt_decrypt_value(c, col, l->cols[i].format, rec, reclen, &out, &is_null, err,
		                        sizeof(err)) != PGS_OK)
			goto refuse;
		if (is_null) {
			proto_put_u32(&nb, 0xffffffffu);
		} else {
			proto_put_u32(&nb, (uint32_t)out.len);
			pgs_buf_append(&nb, out.data, out.len);
		}
	}
	proto_msg_end(&nb, off);
	crypt_replace_message(b, total, &nb);
	goto out;
refuse:
	/* the reader gets an error, never the stored bytes; the rest of the rows are dropped */
	{
		struct pgs_buf eb = {0};
		proto_build_error(&eb, "ERROR", "XX001", err);
		sbuf_consume(b, total);
		sbuf_inject(b, eb.data, (uint32_t)eb.len);
		pgs_buf_free(&eb);
		c->crypt.drop_until_complete = true;
	}
out:
	OPENSSL_cleanse(nb.data, nb.cap);
	pgs_buf_free(&nb);
	pgs_buf_free(&raw);
	pgs_buf_free(&out);
	return rc;
}

/* A statement of a simple Query was answered: the next CopyInResponse is the next one's. */
static void statement_done(struct crypt_expect *e)
{
	if (e && e->kind == EX_QUERY)
		e->stmt_index++;
}

static bool sync_like(enum crypt_expect_kind k)
{
	return k == EX_SYNC || k == EX_QUERY || k == EX_FUNCTION || k == EX_CATALOG;
}

/* pgseal's catalog query: every answer is swallowed; rows fill the map. */
static int catalog_message(struct conn *c, uint8_t type, uint32_t total)
{
	struct sbuf *b = &c->s2c;
	struct crypt_expect *e = crypt_head(c);
	uint8_t status = total == 6 ? crypt_msg_body(b)[0] : 0;
	if (type == 'D')
		crypt_catalog_row(c, crypt_msg_body(b), total - PROTO_HDR_LEN);
	else if (type == 'E') {
		log_conn(LOG_WARN, c->id, "the catalog lookup of encrypted tables failed");
		if (e)
			e->failed = true;
	}
	sbuf_consume(b, total);
	if (type == 'Z') {
		uint64_t upto = e ? e->pending_upto : 0, reg_upto = e ? e->reg_upto : 0;
		bool failed = e && e->failed;
		crypt_pop(c);
		crypt_views_finish(c, upto, reg_upto, failed, status);
		log_conn(LOG_DEBUG, c->id, "catalog: %d encrypted table(s) found", c->crypt.noids);
		if (c->crypt.hold_first_ready) {
			c->crypt.hold_first_ready = false;
			uint8_t z[6] = {'Z', 0, 0, 0, 5, c->crypt.held_status};
			sbuf_inject(b, z, sizeof(z));
			return 1; /* the relay treats it as the session's first ReadyForQuery */
		}
	}
	return 0;
}

bool crypt_on_first_ready(struct conn *c, uint8_t status)
{
	if (!crypt_enabled(c) || c->crypt.catalog_loaded)
		return false;
	c->crypt.hold_first_ready = true;
	c->crypt.held_status = status;
	crypt_catalog_request(c);
	return true;
}

int crypt_server_message(struct conn *c, uint8_t type, uint32_t len)
{
	struct sbuf *b = &c->s2c;
	uint32_t total = len + 1;
	uint8_t *body = b->data + b->scan + PROTO_HDR_LEN;
	uint32_t blen = len - 4;
	struct crypt_expect *e = crypt_head(c);

	if (e && e->kind == EX_CATALOG) {
		if (type == 'N' || type == 'S' || type == 'A') {
			crypt_pass_message(b, total);
			return PGS_OK;
		}
		return catalog_message(c, type, total) == 1 ? 2 : PGS_OK;
	}
	if (c->crypt.drop_until_complete) {
		if (type == 'D') {
			sbuf_consume(b, total);
			return PGS_OK;
		}
		if (type == 'C' || type == 's' || type == 'I') {
			c->crypt.drop_until_complete = false;
			sbuf_consume(b, total);
			statement_done(e);
			if (e && e->kind == EX_EXECUTE)
				crypt_pop(c);
			return PGS_OK;
		}
		c->crypt.drop_until_complete = false;
	}
	if (c->crypt.copy_out_failed) {
		if (type == 'd' || type == 'c' || type == 'C') {
			sbuf_consume(b, total);
			if (type == 'C')
				statement_done(e);
			if (type == 'C' && e && e->kind == EX_EXECUTE)
				crypt_pop(c);
			return PGS_OK;
		}
		if (type == 'Z' || type == 'E')
			c->crypt.copy_out_failed = false;
	}
	if ((type == '1' && e && e->kind == EX_SWALLOW_PARSE) ||
	    (type == '2' && e && e->kind == EX_SWALLOW_BIND)) {
		sbuf_consume(b, total);
		crypt_pop(c);
		return PGS_OK;
	}
	switch (type) {
	case '1':
	case '2':
	case '3':
		if (e && (e->kind == EX_PARSE || e->kind == EX_BIND || e->kind == EX_CLOSE))
			crypt_pop(c);
		break;
	case 't':
		if (e && e->kind == EX_DESCRIBE_STMT)
			parameter_description(c, e->stmt, body, blen);
		break;
	case 'T': {
		const struct sql_plan *plan = NULL;
		if (e && e->kind == EX_DESCRIBE_STMT && e->stmt)
			plan = e->stmt->plan;
		else if (e && e->kind == EX_DESCRIBE_PORTAL && e->portal && e->portal->stmt)
			plan = e->portal->stmt->plan;
		else if (e && e->kind == EX_QUERY)
			plan = e->plan;
		struct crypt_layout *l = row_description(c, body, blen, plan);
		if (!l) {
			conn_fail(c, "08P01",
			          "pgseal: malformed RowDescription from the upstream server");
			return PGS_ERR;
		}
		if (e && e->kind == EX_DESCRIBE_STMT) {
			struct crypt_stmt *st = e->stmt;
			if (st) {
				crypt_layout_unref(st->layout);
				/* a statement's description has no formats yet: Bind decides them
				 */
				st->layout = crypt_layout_ref(l);
			}
			crypt_pop(c);
		} else if (e && e->kind == EX_DESCRIBE_PORTAL) {
			struct crypt_portal *po = e->portal;
			if (po) {
				crypt_layout_unref(po->layout);
				po->layout = crypt_layout_ref(l);
			}
			crypt_pop(c);
		} else if (e && e->kind == EX_QUERY) {
			crypt_layout_unref(c->crypt.query_layout);
			c->crypt.query_layout = crypt_layout_ref(l);
		}
		crypt_layout_unref(l);
		break;
	}
	case 'n':
		if (e && (e->kind == EX_DESCRIBE_STMT || e->kind == EX_DESCRIBE_PORTAL))
			crypt_pop(c);
		break;
	case 'D': {
		struct crypt_layout *l = e && e->kind == EX_EXECUTE ? e->layout
		                         : e && e->kind == EX_QUERY ? c->crypt.query_layout
		                                                    : NULL;
		if (l && l->any_encrypted)
			return data_row(c, l, total);
		break;
	}
	case 'C':
	case 'I':
	case 's':
		if (e && e->kind == EX_EXECUTE)
			crypt_pop(c);
		else if (e && e->kind == EX_QUERY) {
			if (type == 'C' && blen > 0 && body[blen - 1] == 0)
				crypt_prepared_complete(
				    c, e, (const char *)body); /* PREPARE, DEALLOCATE... */
			crypt_layout_unref(c->crypt.query_layout);
			c->crypt.query_layout = NULL;
		}
		statement_done(e);
		crypt_copy_server_end(c, type);
		break;
	case 'E':
		crypt_copy_server_end(c, type);
		if (crypt_copy_error(c, total))
			total =
			    0; /* it answered pgseal's CopyFail: pgseal's error took its place */
		else if (e && e->refusal) {
			/* pgseal's refusal: drop the PL/pgSQL context and source position it adds
			 */
			struct pgs_buf nb = {0};
			struct proto_reader r;
			size_t off = proto_msg_begin(&nb, 'E');
			proto_reader_init(&r, body, blen);
			for (;;) {
				uint8_t code;
				const char *v;
				if (proto_read_u8(&r, &code) != PGS_OK || code == 0 ||
				    proto_read_cstr(&r, &v, NULL) != PGS_OK)
					break;
				if (code == 'W' || code == 'F' || code == 'L' || code == 'R')
					continue;
				proto_put_u8(&nb, code);
				proto_put_cstr(&nb, v);
			}
			proto_put_u8(&nb, 0);
			proto_msg_end(&nb, off);
			crypt_replace_message(b, total, &nb);
			pgs_buf_free(&nb);
			total = 0; /* already passed over */
		}
		if (e && e->kind == EX_QUERY) {
			crypt_layout_unref(c->crypt.query_layout);
			c->crypt.query_layout = NULL;
			/* the statements after the failed one do not run */
			crypt_prepared_settle(c, e, false);
		}
		/* extended protocol: the server skips to the next Sync; what those messages would
		 * have changed in the statement namespace is rolled back */
		bool skipped = false;
		while ((e = crypt_head(c)) && !sync_like(e->kind)) {
			crypt_prepared_settle(c, e, false);
			crypt_pop(c);
			skipped = true;
		}
		/* the client's Sync is not sent yet: what it sends until then is skipped by the
		 * server, unanswered, so it is dropped here (else its expected answers would be
		 * matched to the next batch's, confirming statements the server never got) */
		if (skipped && !crypt_head(c))
			c->crypt.skip_to_sync = true;
		break;
	case 'Z':
		crypt_copy_server_end(c, type);
		if (e && sync_like(e->kind) && e->kind != EX_CATALOG)
			crypt_pop(c);
		else if (e)
			log_conn(LOG_DEBUG, c->id,
			         "ReadyForQuery with an unexpected pending response");
		if (blen == 1 && body[0] == 'I')
			crypt_views_confirm(
			    c); /* committed: other sessions may learn this session's views */
		if ((e = crypt_head(c)) && e->kind == EX_CATALOG && e->hold_ready && blen == 1) {
			/* a view was just defined: the client gets this ReadyForQuery once the
			 * catalog answer (the view's definition) is in */
			c->crypt.hold_first_ready = true;
			c->crypt.held_status = body[0];
			sbuf_consume(b, total);
			return PGS_OK;
		}
		break;
	case 'G':
	case 'H':
	case 'W':
		return crypt_copy_response(c, type, total);
	case 'd':
		if (c->crypt.copy_out)
			return crypt_copy_out_data(c, total);
		break;
	default:
		break;
	}
	if (total)
		crypt_pass_message(b, total);
	return PGS_OK;
}
