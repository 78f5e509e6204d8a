/* proto_backend.c - decoders and builders of the backend messages pgseal inspects, with the rules
 * PostgreSQL's server keeps when it sends them. */
#include "proto/proto.h"

#include <string.h>

/* A column description's fixed part after its name: table OID, attnum, type OID, typlen, typmod,
 * format. */
#define COLUMN_FIXED_LEN 18u
#define INT16_MAX_COUNT 0x7fffu

static bool at_end(const struct proto_reader *r)
{
	return proto_reader_left(r) == 0;
}

static int refuse(void *out, size_t n)
{
	memset(out, 0, n);
	return PGS_ERR;
}

/* Column counts are int16 on the wire (a tuple has at most 1664 columns): >= 0. */
static int read_column_count(struct proto_reader *r, uint16_t *n)
{
	if (proto_read_u16(r, n) != PGS_OK || *n > INT16_MAX_COUNT)
		return PGS_ERR;
	return PGS_OK;
}

bool proto_column_next(struct proto_column_iter *it, struct proto_column *col)
{
	struct proto_reader *r = &it->r;
	uint16_t attnum, typlen, format;
	int32_t typmod;
	if (proto_read_cstr(r, &col->name, &col->name_len) != PGS_OK ||
	    proto_reader_left(r) < COLUMN_FIXED_LEN)
		return false;
	/* the fixed part is known to be there: these reads cannot fail */
	if (proto_read_u32(r, &col->table_oid) != PGS_OK || proto_read_u16(r, &attnum) != PGS_OK ||
	    proto_read_u32(r, &col->type_oid) != PGS_OK || proto_read_u16(r, &typlen) != PGS_OK ||
	    proto_read_i32(r, &typmod) != PGS_OK || proto_read_u16(r, &format) != PGS_OK)
		return false;
	col->attnum = (int16_t)attnum;
	col->typlen = (int16_t)typlen;
	col->typmod = typmod;
	col->format = (int16_t)format;
	return true;
}

void proto_put_column(struct pgs_buf *b, const struct proto_column *col)
{
	proto_put_cstr(b, col->name);
	proto_put_u32(b, col->table_oid);
	proto_put_u16(b, (uint16_t)col->attnum);
	proto_put_u32(b, col->type_oid);
	proto_put_u16(b, (uint16_t)col->typlen);
	proto_put_u32(b, (uint32_t)col->typmod);
	proto_put_u16(b, (uint16_t)col->format);
}

int proto_decode_row_description(const uint8_t *body, size_t len, struct proto_row_description *out)
{
	struct proto_reader r;
	struct proto_row_description m;
	proto_reader_init(&r, body, len);
	if (read_column_count(&r, &m.ncols) != PGS_OK)
		return refuse(out, sizeof(*out));
	/* each column takes at least its name's NUL and the fixed part */
	if ((size_t)m.ncols > proto_reader_left(&r) / (COLUMN_FIXED_LEN + 1))
		return refuse(out, sizeof(*out));
	m.cols = body + r.pos;
	struct proto_column_iter it = {.r = r};
	for (uint16_t i = 0; i < m.ncols; i++) {
		struct proto_column col;
		if (!proto_column_next(&it, &col) || (col.format != 0 && col.format != 1))
			return refuse(out, sizeof(*out));
	}
	m.cols_len = it.r.pos - r.pos;
	if (!at_end(&it.r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_parameter_description(const uint8_t *body, size_t len,
                                       struct proto_parameter_description *out)
{
	struct proto_reader r;
	struct proto_parameter_description m;
	proto_reader_init(&r, body, len);
	/* a statement may have up to 65535 parameters: the count is read unsigned */
	if (proto_read_u16(&r, &m.ntypes) != PGS_OK ||
	    proto_read_bytes(&r, (size_t)m.ntypes * 4, &m.types) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_data_row(const uint8_t *body, size_t len, struct proto_data_row *out)
{
	struct proto_reader r;
	struct proto_data_row m;
	proto_reader_init(&r, body, len);
	if (read_column_count(&r, &m.ncols) != PGS_OK ||
	    proto_read_values(&r, m.ncols, &m.values, &m.values_len) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_command_complete(const uint8_t *body, size_t len,
                                  struct proto_command_complete *out)
{
	struct proto_reader r;
	struct proto_command_complete m;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, &m.tag, &m.tag_len) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

bool proto_notice_next(struct proto_reader *it, uint8_t *code, const char **value, size_t *len)
{
	size_t at = it->pos;
	if (proto_read_u8(it, code) != PGS_OK || *code == 0 ||
	    proto_read_cstr(it, value, len) != PGS_OK) {
		it->pos = at;
		return false;
	}
	return true;
}

void proto_put_field(struct pgs_buf *b, uint8_t code, const char *value)
{
	proto_put_u8(b, code);
	proto_put_cstr(b, value);
}

int proto_decode_notice(const uint8_t *body, size_t len, struct proto_notice *out)
{
	struct proto_reader r;
	struct proto_notice m = {0};
	uint8_t code;
	const char *v;
	size_t vlen;
	proto_reader_init(&r, body, len);
	m.fields = body;
	while (proto_notice_next(&r, &code, &v, &vlen)) {
		if (code == 'S')
			m.severity = v;
		else if (code == 'C')
			m.sqlstate = v;
		else if (code == 'M')
			m.message = v;
	}
	m.fields_len = r.pos;
	/* what stopped the walk must be the terminating 0, and the last byte */
	if (proto_read_u8(&r, &code) != PGS_OK || code != 0 || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_copy_response(const uint8_t *body, size_t len, struct proto_copy_response *out)
{
	struct proto_reader r;
	struct proto_copy_response m;
	proto_reader_init(&r, body, len);
	if (proto_read_u8(&r, &m.format) != PGS_OK || m.format > 1 ||
	    read_column_count(&r, &m.ncols) != PGS_OK ||
	    proto_read_formats(&r, m.ncols, &m.formats) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	/* a textual COPY has textual columns only (protocol docs, CopyInResponse) */
	for (uint16_t i = 0; m.format == 0 && i < m.ncols; i++)
		if (proto_format_at(m.formats, m.ncols, i) != 0)
			return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_ready_for_query(const uint8_t *body, size_t len, struct proto_ready_for_query *out)
{
	struct proto_reader r;
	struct proto_ready_for_query m;
	proto_reader_init(&r, body, len);
	if (proto_read_u8(&r, &m.status) != PGS_OK ||
	    (m.status != 'I' && m.status != 'T' && m.status != 'E') || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

/* ---- builders: each checks what it built with its decoder ------------------ */

int proto_build_row_description(struct pgs_buf *b, const struct proto_row_description *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_BE_ROW_DESCRIPTION);
	proto_put_u16(b, m->ncols);
	pgs_buf_append(b, m->cols, m->cols_len);
	proto_msg_end(b, off);
	struct proto_row_description chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_row_description(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_parameter_description(struct pgs_buf *b,
                                      const struct proto_parameter_description *m)
{
	size_t off = proto_msg_begin(b, PROTO_BE_PARAMETER_DESCRIPTION);
	proto_put_u16(b, m->ntypes);
	pgs_buf_append(b, m->types, (size_t)m->ntypes * 4);
	proto_msg_end(b, off);
	return PGS_OK; /* any count with its OIDs decodes */
}

int proto_build_data_row(struct pgs_buf *b, const struct proto_data_row *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_BE_DATA_ROW);
	proto_put_u16(b, m->ncols);
	pgs_buf_append(b, m->values, m->values_len);
	proto_msg_end(b, off);
	struct proto_data_row chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_data_row(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_command_complete(struct pgs_buf *b, const struct proto_command_complete *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_BE_COMMAND_COMPLETE);
	proto_put_cstr(b, m->tag);
	proto_msg_end(b, off);
	struct proto_command_complete chk;
	return proto_msg_keep(b, start,
	                      proto_decode_command_complete(proto_msg_body(b, off),
	                                                    proto_msg_body_len(b, off), &chk));
}

static int build_notice(struct pgs_buf *b, uint8_t type, const struct proto_notice *m)
{
	size_t start = b->len, off = proto_msg_begin(b, type);
	pgs_buf_append(b, m->fields, m->fields_len);
	proto_put_u8(b, 0);
	proto_msg_end(b, off);
	struct proto_notice chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_notice(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_error_response(struct pgs_buf *b, const struct proto_notice *m)
{
	return build_notice(b, PROTO_BE_ERROR_RESPONSE, m);
}

int proto_build_notice_response(struct pgs_buf *b, const struct proto_notice *m)
{
	return build_notice(b, PROTO_BE_NOTICE_RESPONSE, m);
}

int proto_build_copy_response(struct pgs_buf *b, uint8_t type, const struct proto_copy_response *m)
{
	if (type != PROTO_BE_COPY_IN_RESPONSE && type != PROTO_BE_COPY_OUT_RESPONSE &&
	    type != PROTO_BE_COPY_BOTH_RESPONSE)
		return PGS_ERR;
	size_t start = b->len, off = proto_msg_begin(b, type);
	proto_put_u8(b, m->format);
	proto_put_u16(b, m->ncols);
	pgs_buf_append(b, m->formats, (size_t)m->ncols * 2);
	proto_msg_end(b, off);
	struct proto_copy_response chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_copy_response(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_ready_for_query(struct pgs_buf *b, const struct proto_ready_for_query *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_BE_READY_FOR_QUERY);
	proto_put_u8(b, m->status);
	proto_msg_end(b, off);
	struct proto_ready_for_query chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_ready_for_query(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}
