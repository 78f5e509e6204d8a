/* conn_copy.c - COPY FROM STDIN / TO STDOUT (text and csv) on encrypted tables: rows re-assembled and re-encoded. */
#include "conn/conn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "common/log.h"
#include "crypto/crypto.h"

/* Appends to a row buffer; only out of memory can fail, and that aborts. */
static void put(struct codec_buf *o, const void *p, size_t n)
{
	if (codec_buf_put(o, p, n) != PGS_OK)
		abort();
}

void crypt_copy_begin(struct conn *c, uint8_t type, const uint8_t *body, uint32_t blen)
{
	struct crypt_state *s = &c->crypt;
	if (!s->copy_pending || !s->copy_plan)
		return;
	s->copy_pending = false;
	if (blen < 1 || body[0] != 0) {
		/* binary COPY is refused by the plan; never reached with a valid plan */
		log_conn(LOG_WARN, c->id, "unexpected binary COPY on an encrypted table");
	}
	s->copy_line.len = 0;
	s->copy_scanned = 0;
	s->copy_inq = false;
	if (type == 'G')
		s->copy_in = true;
	else
		s->copy_out = true;
	s->copy_header_pending = s->copy_plan->copy.header;
}

void crypt_copy_end(struct conn *c)
{
	struct crypt_state *s = &c->crypt;
	s->copy_in = s->copy_out = false;
	s->copy_pending = false;
	if (s->copy_line.data)
		crypto_wipe(s->copy_line.data, s->copy_line.cap);
	s->copy_line.len = 0;
	s->copy_scanned = 0;
	s->copy_inq = false;
}

/* Text format: fields end at an unescaped delimiter; backslash escapes are undone. */
static int split_text(const struct sql_copy *cp, const uint8_t *row, size_t len, struct crypt_copy_fields *f)
{
	size_t i = 0;
	for (;;) {
		if (f->n == PGS_ARRAY_LEN(f->off))
			return PGS_ERR;
		size_t start = i, vstart = f->vals.len;
		bool raw_null;
		while (i < len && row[i] != (uint8_t)cp->delimiter) {
			if (row[i] == '\\' && i + 1 < len)
				i++; /* an escaped character, the delimiter included, is data */
			i++;
		}
		/* the null marker is compared before unescaping, as PostgreSQL does */
		raw_null = (i - start) == strlen(cp->null_string) &&
			   !memcmp(row + start, cp->null_string, i - start);
		for (size_t j = start; j < i; j++) {
			uint8_t ch = row[j];
			if (ch == '\\' && j + 1 < i) {
				uint8_t e = row[++j];
				switch (e) {
				case 'b': ch = '\b'; break;
				case 'f': ch = '\f'; break;
				case 'n': ch = '\n'; break;
				case 'r': ch = '\r'; break;
				case 't': ch = '\t'; break;
				case 'v': ch = '\v'; break;
				case 'x': {
					int v = 0, k = 0;
					while (k < 2 && j + 1 < i && isxdigit(row[j + 1])) {
						uint8_t h = row[++j];
						v = v * 16 + (h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
						k++;
					}
					ch = (uint8_t)v;
					break;
				}
				default:
					if (e >= '0' && e <= '7') {
						int v = e - '0', k = 1;
						while (k < 3 && j + 1 < i && row[j + 1] >= '0' && row[j + 1] <= '7') {
							v = v * 8 + (row[++j] - '0');
							k++;
						}
						ch = (uint8_t)v;
					} else {
						ch = e;
					}
				}
			}
			if (codec_buf_put(&f->vals, &ch, 1) != PGS_OK)
				return PGS_ERR;
		}
		f->off[f->n] = vstart;
		f->len[f->n] = f->vals.len - vstart;
		f->null[f->n] = raw_null;
		f->n++;
		if (i >= len)
			break;
		i++; /* the delimiter */
	}
	return PGS_OK;
}

/* CSV: quoted sections may hold delimiters and newlines; inside them ESCAPE before QUOTE
 * or before ESCAPE stands for that character; an unquoted NULL string is NULL. */
static int split_csv(const struct sql_copy *cp, const uint8_t *row, size_t len, struct crypt_copy_fields *f)
{
	const uint8_t q = (uint8_t)cp->quote, esc = (uint8_t)cp->escape;
	size_t i = 0;
	for (;;) {
		if (f->n == PGS_ARRAY_LEN(f->off))
			return PGS_ERR;
		size_t vstart = f->vals.len;
		bool quoted = false;
		while (i < len && row[i] != (uint8_t)cp->delimiter) {
			if (row[i] == q) {
				quoted = true;
				i++;
				while (i < len) {
					if (row[i] == esc && i + 1 < len && (row[i + 1] == q || row[i + 1] == esc)) {
						if (codec_buf_put(&f->vals, &row[i + 1], 1) != PGS_OK)
							return PGS_ERR;
						i += 2;
						continue;
					}
					if (row[i] == q)
						break;
					if (codec_buf_put(&f->vals, &row[i], 1) != PGS_OK)
						return PGS_ERR;
					i++;
				}
				if (i >= len)
					return PGS_ERR; /* unterminated quote */
				i++;
				continue;
			}
			if (codec_buf_put(&f->vals, &row[i], 1) != PGS_OK)
				return PGS_ERR;
			i++;
		}
		f->off[f->n] = vstart;
		f->len[f->n] = f->vals.len - vstart;
		f->null[f->n] = !quoted && f->len[f->n] == strlen(cp->null_string) &&
				(f->len[f->n] == 0 || !memcmp(f->vals.data + vstart, cp->null_string, f->len[f->n]));
		f->n++;
		if (i >= len)
			break;
		i++;
	}
	return PGS_OK;
}

int crypt_copy_split(const struct sql_copy *cp, const uint8_t *row, size_t len, struct crypt_copy_fields *f)
{
	f->n = 0;
	f->vals.len = 0;
	return cp->csv ? split_csv(cp, row, len, f) : split_text(cp, row, len, f);
}

bool crypt_copy_row_end(const struct sql_copy *cp, const uint8_t *p, size_t len, size_t *pos, bool *inq)
{
	const uint8_t q = (uint8_t)cp->quote, esc = (uint8_t)cp->escape;
	size_t i = *pos;
	while (i < len) {
		uint8_t ch = p[i];
		if (cp->csv) {
			if (*inq && esc != q && ch == esc) {
				if (i + 1 >= len)
					break; /* decided by the next byte */
				if (p[i + 1] == q || p[i + 1] == esc) {
					i += 2;
					continue;
				}
			}
			if (ch == q) {
				*inq = !*inq; /* a doubled quote toggles twice */
			} else if (!*inq && ch == '\n') {
				*pos = i;
				return true;
			}
		} else {
			if (ch == '\\') {
				if (i + 1 >= len)
					break;
				i += 2; /* an escaped newline is data */
				continue;
			}
			if (ch == '\n') {
				*pos = i;
				return true;
			}
		}
		i++;
	}
	*pos = i;
	return false;
}

static void put_hex(struct codec_buf *o, const uint8_t *p, size_t n, bool text_format)
{
	char h[2 * 64 + 1];
	if (text_format)
		put(o, "\\\\x", 3);
	else
		put(o, "\\x", 2);
	for (size_t i = 0; i < n; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		crypto_hex(p + i, k, h);
		put(o, h, 2 * k);
	}
}

static void put_text_escaped(struct codec_buf *o, const struct sql_copy *cp, const uint8_t *p, size_t n)
{
	if (cp->csv) {
		bool q = n == 0 && strlen(cp->null_string) == 0;
		for (size_t i = 0; i < n && !q; i++)
			if (p[i] == (uint8_t)cp->delimiter || p[i] == (uint8_t)cp->quote || p[i] == '\n' ||
			    p[i] == '\r')
				q = true;
		if (!q && n == strlen(cp->null_string) && !memcmp(p, cp->null_string, n))
			q = true;
		if (!q) {
			put(o, p, n);
			return;
		}
		put(o, &cp->quote, 1);
		for (size_t i = 0; i < n; i++) {
			if (p[i] == (uint8_t)cp->quote || p[i] == (uint8_t)cp->escape)
				put(o, &cp->escape, 1);
			put(o, &p[i], 1);
		}
		put(o, &cp->quote, 1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *e = NULL;
		switch (p[i]) {
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\v': e = "\\v"; break;
		}
		if (!e && p[i] == (uint8_t)cp->delimiter) {
			char d[2] = {'\\', cp->delimiter};
			put(o, d, 2);
			continue;
		}
		if (e)
			put(o, e, 2);
		else
			put(o, &p[i], 1);
	}
}

/* Re-encodes one row; in = true for FROM STDIN (encrypt), false for TO STDOUT (decrypt). */
static int copy_row(struct conn *c, const struct sql_copy *cp, const uint8_t *row, size_t len, bool in,
		    struct codec_buf *o, char *err, size_t errlen)
{
	static __thread struct crypt_copy_fields f;
	struct codec_buf v = {0}, raw = {0};
	int rc = PGS_ERR;
	bool cr = len && row[len - 1] == '\r';
	if (cr)
		len--;
	if (in && !cp->csv && len == 2 && row[0] == '\\' && row[1] == '.') {
		put(o, "\\.\n", 3);
		return PGS_OK;
	}
	if (crypt_copy_split(cp, row, len, &f) != PGS_OK || f.n != cp->ncolumns) {
		pgs_errf(err, errlen, "pgseal: a COPY row does not have the expected %zu columns", cp->ncolumns);
		goto out;
	}
	for (size_t i = 0; i < f.n; i++) {
		if (i)
			put(o, &cp->delimiter, 1);
		const struct schema_column *col = cp->columns[i];
		const uint8_t *val = f.vals.data + f.off[i];
		if (f.null[i]) {
			put(o, cp->null_string, strlen(cp->null_string));
			continue;
		}
		if (!col) {
			put_text_escaped(o, cp, val, f.len[i]);
			continue;
		}
		if (in) {
			if (crypt_encrypt_value(c, col, SQL_VALUE_RECORD, 0, CODEC_FMT_TEXT, val, f.len[i], &v, err,
						errlen) != PGS_OK)
				goto out;
			put_hex(o, v.data, v.len, !cp->csv);
		} else {
			bool is_null = false;
			if (crypt_bytea_text_decode(val, f.len[i], &raw) != PGS_OK) {
				pgs_errf(err, errlen, "pgseal: a value of %s is not bytea", col->qualified);
				goto out;
			}
			if (crypt_decrypt_value(c, col, CODEC_FMT_TEXT, raw.data, raw.len, &v, &is_null, err,
						errlen) != PGS_OK)
				goto out;
			if (is_null)
				put(o, cp->null_string, strlen(cp->null_string));
			else
				put_text_escaped(o, cp, v.data, v.len);
		}
	}
	if (cr)
		put(o, "\r", 1);
	put(o, "\n", 1);
	rc = PGS_OK;
out:
	codec_buf_free(&f.vals); /* wipes the row's plaintext fields */
	codec_buf_free(&v);
	codec_buf_free(&raw);
	return rc;
}

/* Takes the complete rows of one CopyData message (plus what was carried), returns the new payload. */
static int copy_data(struct conn *c, struct sbuf *b, uint32_t total, bool in, struct codec_buf *out,
		     char *err, size_t errlen)
{
	struct crypt_state *s = &c->crypt;
	const struct sql_copy *cp = &s->copy_plan->copy;
	if (s->copy_line.len + (total - PROTO_HDR_LEN) > c->env->cfg->max_message_size) {
		pgs_errf(err, errlen, "pgseal: a COPY row is longer than max_message_size");
		return PGS_ERR;
	}
	if (codec_buf_put(&s->copy_line, b->data + b->scan + PROTO_HDR_LEN, total - PROTO_HDR_LEN) != PGS_OK)
		return PGS_ERR;
	size_t pos = 0;
	/* rows are searched from where the last message's search stopped, not from the
	 * start of the carried row again */
	size_t at = s->copy_scanned;
	while (crypt_copy_row_end(cp, s->copy_line.data, s->copy_line.len, &at, &s->copy_inq)) {
		const uint8_t *row = s->copy_line.data + pos;
		size_t end = at - pos;
		if (s->copy_header_pending) {
			s->copy_header_pending = false;
			put(out, row, end + 1);
		} else if (copy_row(c, cp, row, end, in, out, err, errlen) != PGS_OK) {
			return PGS_ERR;
		}
		pos = ++at;
	}
	/* keep the incomplete tail for the next message */
	memmove(s->copy_line.data, s->copy_line.data + pos, s->copy_line.len - pos);
	s->copy_line.len -= pos;
	s->copy_scanned = at - pos;
	return PGS_OK;
}

static void emit_copy_data(struct sbuf *b, uint32_t total, const struct codec_buf *payload)
{
	struct proto_buf nb = {0};
	crypto_wipe(b->data + b->scan, total);
	sbuf_consume(b, total);
	if (payload->len) {
		size_t off = proto_msg_begin(&nb, 'd');
		proto_put_bytes(&nb, payload->data, payload->len);
		proto_msg_end(&nb, off);
		sbuf_inject(b, nb.data, (uint32_t)nb.len);
	}
	proto_buf_free(&nb);
}

int crypt_copy_in_data(struct conn *c, uint32_t total)
{
	struct sbuf *b = &c->c2s;
	struct codec_buf out = {0};
	char err[256];
	if (!c->crypt.copy_in || !c->crypt.copy_plan) {
		b->scan += total;
		return PGS_OK;
	}
	if (copy_data(c, b, total, true, &out, err, sizeof(err)) != PGS_OK) {
		/* nothing of this row reaches the server: end the COPY with CopyFail */
		struct proto_buf fb = {0};
		crypto_wipe(b->data + b->scan, total);
		sbuf_consume(b, total);
		size_t off = proto_msg_begin(&fb, 'f');
		proto_put_cstr(&fb, err);
		proto_msg_end(&fb, off);
		sbuf_inject(b, fb.data, (uint32_t)fb.len);
		proto_buf_free(&fb);
		crypt_copy_end(c);
		c->crypt.copy_refused = true;
		codec_buf_free(&out);
		return PGS_OK;
	}
	emit_copy_data(b, total, &out);
	codec_buf_free(&out);
	return PGS_OK;
}

int crypt_copy_out_data(struct conn *c, uint32_t total)
{
	struct sbuf *b = &c->s2c;
	struct codec_buf out = {0};
	char err[256];
	if (copy_data(c, b, total, false, &out, err, sizeof(err)) != PGS_OK) {
		/* the reader gets an error in place of the rows (never the stored bytes); the
		 * rest of this COPY is dropped up to ReadyForQuery, and the session goes on */
		struct proto_buf eb = {0};
		codec_buf_free(&out);
		proto_build_error(&eb, "ERROR", "XX001", err);
		crypto_wipe(b->data + b->scan, total);
		sbuf_consume(b, total);
		sbuf_inject(b, eb.data, (uint32_t)eb.len);
		proto_buf_free(&eb);
		crypt_copy_end(c);
		c->crypt.copy_out_failed = true;
		return PGS_OK;
	}
	emit_copy_data(b, total, &out);
	codec_buf_free(&out);
	return PGS_OK;
}
