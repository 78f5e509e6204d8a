/* proto_frontend.c - decoders and builders of the frontend messages pgseal inspects, with
 * PostgreSQL's own validity rules (postgres.c, exec_bind_message, pq_getmsg*). */
#include "proto/proto.h"

#include <string.h>

/* PostgreSQL's pq_getmsgend: a byte after the last field is a protocol violation. */
static bool at_end(const struct proto_reader *r)
{
	return proto_reader_left(r) == 0;
}

/* A decoder's failure: no partial output. */
static int refuse(void *out, size_t n)
{
	memset(out, 0, n);
	return PGS_ERR;
}

/* Describe and Close name a statement or a portal, nothing else ("invalid DESCRIBE message
 * subtype"). */
static bool valid_kind(uint8_t kind)
{
	return kind == 'S' || kind == 'P';
}

int proto_decode_empty(const uint8_t *body, size_t len)
{
	(void)body;
	return len == 0 ? PGS_OK : PGS_ERR;
}

int proto_build_empty(struct pgs_buf *b, uint8_t type)
{
	if (type == 0)
		return PGS_ERR; /* 0 would make an untyped (startup-style) packet */
	size_t off = proto_msg_begin(b, type);
	proto_msg_end(b, off);
	return PGS_OK;
}

int proto_decode_query(const uint8_t *body, size_t len, struct proto_query *out)
{
	struct proto_reader r;
	struct proto_query m;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, &m.sql, &m.sql_len) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_parse(const uint8_t *body, size_t len, struct proto_parse *out)
{
	struct proto_reader r;
	struct proto_parse m;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, &m.name, &m.name_len) != PGS_OK ||
	    proto_read_cstr(&r, &m.sql, &m.sql_len) != PGS_OK ||
	    proto_read_u16(&r, &m.ntypes) != PGS_OK ||
	    proto_read_bytes(&r, (size_t)m.ntypes * 4, &m.types) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_bind(const uint8_t *body, size_t len, struct proto_bind *out)
{
	struct proto_reader r;
	struct proto_bind m;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, &m.portal, &m.portal_len) != PGS_OK ||
	    proto_read_cstr(&r, &m.stmt, &m.stmt_len) != PGS_OK ||
	    proto_read_u16(&r, &m.nparam_formats) != PGS_OK ||
	    proto_read_formats(&r, m.nparam_formats, &m.param_formats) != PGS_OK ||
	    proto_read_u16(&r, &m.nparams) != PGS_OK)
		return refuse(out, sizeof(*out));
	/* "bind message has %d parameter formats but %d parameters" */
	if (m.nparam_formats > 1 && m.nparam_formats != m.nparams)
		return refuse(out, sizeof(*out));
	if (proto_read_values(&r, m.nparams, &m.params, &m.params_len) != PGS_OK ||
	    proto_read_u16(&r, &m.nresult_formats) != PGS_OK ||
	    proto_read_formats(&r, m.nresult_formats, &m.result_formats) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

/* Describe and Close share a layout: kind byte, then a name. */
static int decode_target(const uint8_t *body, size_t len, uint8_t *kind, const char **name,
                         size_t *name_len)
{
	struct proto_reader r;
	proto_reader_init(&r, body, len);
	if (proto_read_u8(&r, kind) != PGS_OK || !valid_kind(*kind) ||
	    proto_read_cstr(&r, name, name_len) != PGS_OK || !at_end(&r))
		return PGS_ERR;
	return PGS_OK;
}

int proto_decode_describe(const uint8_t *body, size_t len, struct proto_describe *out)
{
	struct proto_describe m;
	if (decode_target(body, len, &m.kind, &m.name, &m.name_len) != PGS_OK)
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_close(const uint8_t *body, size_t len, struct proto_close *out)
{
	struct proto_close m;
	if (decode_target(body, len, &m.kind, &m.name, &m.name_len) != PGS_OK)
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_execute(const uint8_t *body, size_t len, struct proto_execute *out)
{
	struct proto_reader r;
	struct proto_execute m;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, &m.portal, &m.portal_len) != PGS_OK ||
	    proto_read_i32(&r, &m.max_rows) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

int proto_decode_function_call(const uint8_t *body, size_t len, struct proto_function_call *out)
{
	struct proto_reader r;
	struct proto_function_call m;
	uint16_t rf;
	proto_reader_init(&r, body, len);
	if (proto_read_u32(&r, &m.fn_oid) != PGS_OK ||
	    proto_read_u16(&r, &m.narg_formats) != PGS_OK ||
	    proto_read_formats(&r, m.narg_formats, &m.arg_formats) != PGS_OK ||
	    proto_read_u16(&r, &m.nargs) != PGS_OK)
		return refuse(out, sizeof(*out));
	/* "function call message contains %d argument formats but %d arguments" */
	if (m.narg_formats > 1 && m.narg_formats != m.nargs)
		return refuse(out, sizeof(*out));
	if (proto_read_values(&r, m.nargs, &m.args, &m.args_len) != PGS_OK ||
	    proto_read_u16(&r, &rf) != PGS_OK || rf > 1 || !at_end(&r))
		return refuse(out, sizeof(*out));
	m.result_format = (int16_t)rf;
	*out = m;
	return PGS_OK;
}

int proto_decode_copy_data(const uint8_t *body, size_t len, struct proto_copy_data *out)
{
	out->data = body;
	out->len = len;
	return PGS_OK;
}

int proto_decode_copy_fail(const uint8_t *body, size_t len, struct proto_copy_fail *out)
{
	struct proto_reader r;
	struct proto_copy_fail m;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, &m.message, &m.message_len) != PGS_OK || !at_end(&r))
		return refuse(out, sizeof(*out));
	*out = m;
	return PGS_OK;
}

/* ---- builders: each checks what it built with its decoder ------------------ */

int proto_build_query(struct pgs_buf *b, const struct proto_query *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_QUERY);
	proto_put_cstr(b, m->sql);
	proto_msg_end(b, off);
	struct proto_query chk;
	return proto_msg_keep(
	    b, start, proto_decode_query(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_parse(struct pgs_buf *b, const struct proto_parse *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_PARSE);
	proto_put_cstr(b, m->name);
	proto_put_cstr(b, m->sql);
	proto_put_u16(b, m->ntypes);
	pgs_buf_append(b, m->types, (size_t)m->ntypes * 4);
	proto_msg_end(b, off);
	struct proto_parse chk;
	return proto_msg_keep(
	    b, start, proto_decode_parse(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_bind(struct pgs_buf *b, const struct proto_bind *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_BIND);
	proto_put_cstr(b, m->portal);
	proto_put_cstr(b, m->stmt);
	proto_put_u16(b, m->nparam_formats);
	pgs_buf_append(b, m->param_formats, (size_t)m->nparam_formats * 2);
	proto_put_u16(b, m->nparams);
	pgs_buf_append(b, m->params, m->params_len);
	proto_put_u16(b, m->nresult_formats);
	pgs_buf_append(b, m->result_formats, (size_t)m->nresult_formats * 2);
	proto_msg_end(b, off);
	struct proto_bind chk;
	return proto_msg_keep(
	    b, start, proto_decode_bind(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

static void put_target(struct pgs_buf *b, uint8_t kind, const char *name)
{
	proto_put_u8(b, kind);
	proto_put_cstr(b, name);
}

int proto_build_describe(struct pgs_buf *b, const struct proto_describe *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_DESCRIBE);
	put_target(b, m->kind, m->name);
	proto_msg_end(b, off);
	struct proto_describe chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_describe(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_close(struct pgs_buf *b, const struct proto_close *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_CLOSE);
	put_target(b, m->kind, m->name);
	proto_msg_end(b, off);
	struct proto_close chk;
	return proto_msg_keep(
	    b, start, proto_decode_close(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_execute(struct pgs_buf *b, const struct proto_execute *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_EXECUTE);
	proto_put_cstr(b, m->portal);
	proto_put_u32(b, (uint32_t)m->max_rows);
	proto_msg_end(b, off);
	struct proto_execute chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_execute(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_function_call(struct pgs_buf *b, const struct proto_function_call *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_FUNCTION_CALL);
	proto_put_u32(b, m->fn_oid);
	proto_put_u16(b, m->narg_formats);
	pgs_buf_append(b, m->arg_formats, (size_t)m->narg_formats * 2);
	proto_put_u16(b, m->nargs);
	pgs_buf_append(b, m->args, m->args_len);
	proto_put_u16(b, (uint16_t)m->result_format);
	proto_msg_end(b, off);
	struct proto_function_call chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_function_call(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}

int proto_build_copy_data(struct pgs_buf *b, const struct proto_copy_data *m)
{
	size_t off = proto_msg_begin(b, PROTO_FE_COPY_DATA);
	pgs_buf_append(b, m->data, m->len);
	proto_msg_end(b, off);
	return PGS_OK;
}

int proto_build_copy_fail(struct pgs_buf *b, const struct proto_copy_fail *m)
{
	size_t start = b->len, off = proto_msg_begin(b, PROTO_FE_COPY_FAIL);
	proto_put_cstr(b, m->message);
	proto_msg_end(b, off);
	struct proto_copy_fail chk;
	return proto_msg_keep(
	    b, start,
	    proto_decode_copy_fail(proto_msg_body(b, off), proto_msg_body_len(b, off), &chk));
}
