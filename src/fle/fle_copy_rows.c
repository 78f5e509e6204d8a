/* fle_copy_rows.c - COPY rows (text and csv): row ends found, fields split and unescaped, rows
 * re-encoded with their encrypted columns encrypted or decrypted. */
#include "fle/fle_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "common/log.h"
#include "crypto/crypto.h"

/* Appends to a row buffer; only out of memory can fail, and that aborts. */
static void put(struct pgs_buf *o, const void *p, size_t n)
{
	if (pgs_buf_put(o, p, n) != PGS_OK)
		abort();
}

/* Text format: fields end at an unescaped delimiter; backslash escapes are undone. */
static int split_text(const struct sql_copy *cp, const uint8_t *row, size_t len,
                      struct fle_copy_fields *f)
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
				case 'b':
					ch = '\b';
					break;
				case 'f':
					ch = '\f';
					break;
				case 'n':
					ch = '\n';
					break;
				case 'r':
					ch = '\r';
					break;
				case 't':
					ch = '\t';
					break;
				case 'v':
					ch = '\v';
					break;
				case 'x': {
					int v = 0, k = 0;
					while (k < 2 && j + 1 < i && isxdigit(row[j + 1])) {
						uint8_t h = row[++j];
						v = v * 16 +
						    (h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
						k++;
					}
					ch = (uint8_t)v;
					break;
				}
				default:
					if (e >= '0' && e <= '7') {
						int v = e - '0', k = 1;
						while (k < 3 && j + 1 < i && row[j + 1] >= '0' &&
						       row[j + 1] <= '7') {
							v = v * 8 + (row[++j] - '0');
							k++;
						}
						ch = (uint8_t)v;
					} else {
						ch = e;
					}
				}
			}
			if (pgs_buf_put(&f->vals, &ch, 1) != PGS_OK)
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
static int split_csv(const struct sql_copy *cp, const uint8_t *row, size_t len,
                     struct fle_copy_fields *f)
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
					if (row[i] == esc && i + 1 < len &&
					    (row[i + 1] == q || row[i + 1] == esc)) {
						if (pgs_buf_put(&f->vals, &row[i + 1], 1) != PGS_OK)
							return PGS_ERR;
						i += 2;
						continue;
					}
					if (row[i] == q)
						break;
					if (pgs_buf_put(&f->vals, &row[i], 1) != PGS_OK)
						return PGS_ERR;
					i++;
				}
				if (i >= len)
					return PGS_ERR; /* unterminated quote */
				i++;
				continue;
			}
			if (pgs_buf_put(&f->vals, &row[i], 1) != PGS_OK)
				return PGS_ERR;
			i++;
		}
		f->off[f->n] = vstart;
		f->len[f->n] = f->vals.len - vstart;
		f->null[f->n] = !quoted && f->len[f->n] == strlen(cp->null_string) &&
		                (f->len[f->n] == 0 ||
		                 !memcmp(f->vals.data + vstart, cp->null_string, f->len[f->n]));
		f->n++;
		if (i >= len)
			break;
		i++;
	}
	return PGS_OK;
}

int fle_copy_split(const struct sql_copy *cp, const uint8_t *row, size_t len,
                   struct fle_copy_fields *f)
{
	f->n = 0;
	f->vals.len = 0;
	return cp->csv ? split_csv(cp, row, len, f) : split_text(cp, row, len, f);
}

bool fle_copy_row_end(const struct sql_copy *cp, const uint8_t *p, size_t len, size_t *pos,
                      bool *inq)
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

const char *fle_copy_tail_malformed(const struct sql_copy *cp, size_t len, size_t scanned, bool inq)
{
	if (cp->csv && inq)
		return "unterminated CSV quoted field";
	/* the text search stops before a backslash it cannot decide without the next byte */
	if (!cp->csv && scanned < len)
		return "a backslash at the end of the data";
	return NULL;
}

static void put_hex(struct pgs_buf *o, const uint8_t *p, size_t n, bool text_format)
{
	char h[2 * 64 + 1];
	if (text_format)
		put(o, "\\\\x", 3);
	else
		put(o, "\\x", 2);
	for (size_t i = 0; i < n; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		pgs_hex(p + i, k, h);
		put(o, h, 2 * k);
	}
}

static void put_text_escaped(struct pgs_buf *o, const struct sql_copy *cp, const uint8_t *p,
                             size_t n)
{
	if (cp->csv) {
		bool q = n == 0 && strlen(cp->null_string) == 0;
		for (size_t i = 0; i < n && !q; i++)
			if (p[i] == (uint8_t)cp->delimiter || p[i] == (uint8_t)cp->quote ||
			    p[i] == '\n' || p[i] == '\r')
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
		case '\\':
			e = "\\\\";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\v':
			e = "\\v";
			break;
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

static void row_error(struct fle_copy_err *e, const char *state, uint64_t line, const char *why)
{
	memcpy(e->state, state, 6);
	pgs_errf(e->msg, sizeof(e->msg), "pgseal: malformed COPY data at line %llu: %s",
	         (unsigned long long)line, why);
}

int fle_copy_row(struct fle *f, const struct sql_copy *cp, const uint8_t *row, size_t len, bool in,
                 uint64_t line, struct pgs_buf *o, struct fle_copy_err *e)
{
	static __thread struct fle_copy_fields fs;
	struct pgs_buf v = {0}, raw = {0};
	char err[200];
	int rc = PGS_ERR;
	bool cr = len && row[len - 1] == '\r';
	if (cr)
		len--;
	if (fle_copy_split(cp, row, len, &fs) != PGS_OK) {
		/* never a value in the message: it is logged, and goes to the client */
		row_error(e, "22P04", line,
		          fs.n == PGS_ARRAY_LEN(fs.off) ? "extra data after last expected column"
		                                        : "unterminated CSV quoted field");
		goto out;
	}
	if (fs.n != cp->ncolumns) {
		row_error(e, "22P04", line,
		          fs.n > cp->ncolumns ? "extra data after last expected column"
		                              : "missing data for a column");
		goto out;
	}
	for (size_t i = 0; i < fs.n; i++) {
		if (i)
			put(o, &cp->delimiter, 1);
		const struct schema_column *col = cp->columns[i];
		/* a row of empty fields has no value bytes at all */
		const uint8_t *val = fs.vals.data ? fs.vals.data + fs.off[i] : (const uint8_t *)"";
		if (fs.null[i]) {
			put(o, cp->null_string, strlen(cp->null_string));
			continue;
		}
		if (!col) {
			put_text_escaped(o, cp, val, fs.len[i]);
			continue;
		}
		if (in) {
			if (fle_encrypt_value(f, col, SQL_VALUE_RECORD, 0, CODEC_FMT_TEXT, val,
			                      fs.len[i], &v, err, sizeof(err)) != PGS_OK) {
				memcpy(e->state, "22P02", 6);
				pgs_errf(e->msg, sizeof(e->msg), "%s (COPY line %llu)", err,
				         (unsigned long long)line);
				goto out;
			}
			put_hex(o, v.data, v.len, !cp->csv);
		} else {
			bool is_null = false;
			memcpy(e->state, "XX001", 6);
			if (fle_bytea_text_decode(val, fs.len[i], &raw) != PGS_OK) {
				pgs_errf(e->msg, sizeof(e->msg),
				         "pgseal: a value of %s is not bytea", col->qualified);
				goto out;
			}
			if (fle_decrypt_value(f, col, CODEC_FMT_TEXT, raw.data, raw.len, &v,
			                      &is_null, e->msg, sizeof(e->msg)) != PGS_OK)
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
	pgs_buf_free(&fs.vals); /* wipes the row's plaintext fields */
	pgs_buf_free(&v);
	pgs_buf_free(&raw);
	return rc;
}
