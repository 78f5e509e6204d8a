/* proto_roundtrip.h - decode, build, decode again and compare, for every message proto_frontend.c
 * and proto_backend.c decode: shared by test_proto_msgs.c and fuzz/fuzz_proto_msgs.c. */
#ifndef PGSEAL_PROTO_ROUNDTRIP_H
#define PGSEAL_PROTO_ROUNDTRIP_H

#include <string.h>

#include "proto/proto.h"

enum rt_result {
	RT_UNKNOWN = -2, /* not a type decoded here */
	RT_REFUSED = -1, /* the decoder refused the body */
	RT_OK = 0,       /* decoded; built back byte for byte; decodes to the same fields */
	RT_MISMATCH = 1, /* the round trip broke: a bug */
};

static bool rt_str(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && strlen(a) == alen && strlen(b) == blen && memcmp(a, b, alen) == 0;
}

static bool rt_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Two runs of n values, walked with the iterator, are the same values. */
static bool rt_values(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t n)
{
	struct proto_value_iter ia, ib;
	const uint8_t *va, *vb;
	int32_t la, lb;
	size_t i = 0;
	proto_value_iter_init(&ia, a, alen);
	proto_value_iter_init(&ib, b, blen);
	for (; proto_value_next(&ia, &va, &la); i++) {
		if (!proto_value_next(&ib, &vb, &lb) || la != lb || (la < 0) != (va == NULL) ||
		    (la > 0 && memcmp(va, vb, (size_t)la) != 0))
			return false;
	}
	return i == n && !proto_value_next(&ib, &vb, &lb);
}

/* Two lists of format codes give each of `upto` values (and each code) the same code, 0 or 1. */
static bool rt_formats(const uint8_t *a, uint16_t na, const uint8_t *b, uint16_t nb, size_t upto)
{
	if (na != nb)
		return false;
	if (upto < na)
		upto = na;
	for (size_t i = 0; i < upto; i++) {
		int fa = proto_format_at(a, na, i), fb = proto_format_at(b, nb, i);
		if (fa != fb || (fa != 0 && fa != 1))
			return false;
	}
	return true;
}

static bool eq_query(const struct proto_query *a, const struct proto_query *b)
{
	return rt_str(a->sql, a->sql_len, b->sql, b->sql_len);
}

static bool eq_parse(const struct proto_parse *a, const struct proto_parse *b)
{
	if (!rt_str(a->name, a->name_len, b->name, b->name_len) ||
	    !rt_str(a->sql, a->sql_len, b->sql, b->sql_len) || a->ntypes != b->ntypes)
		return false;
	for (size_t i = 0; i < a->ntypes; i++)
		if (proto_oid_at(a->types, i) != proto_oid_at(b->types, i))
			return false;
	return true;
}

static bool eq_bind(const struct proto_bind *a, const struct proto_bind *b)
{
	if (!rt_str(a->portal, a->portal_len, b->portal, b->portal_len) ||
	    !rt_str(a->stmt, a->stmt_len, b->stmt, b->stmt_len) || a->nparams != b->nparams ||
	    !rt_formats(a->param_formats, a->nparam_formats, b->param_formats, b->nparam_formats,
	                a->nparams) ||
	    !rt_formats(a->result_formats, a->nresult_formats, b->result_formats,
	                b->nresult_formats, a->nresult_formats))
		return false;
	for (size_t i = 0; i < a->nparams; i++)
		if (proto_bind_param_format(a, i) != proto_bind_param_format(b, i))
			return false;
	return rt_values(a->params, a->params_len, b->params, b->params_len, a->nparams);
}

static bool eq_describe(const struct proto_describe *a, const struct proto_describe *b)
{
	return a->kind == b->kind && (a->kind == 'S' || a->kind == 'P') &&
	       rt_str(a->name, a->name_len, b->name, b->name_len);
}

static bool eq_close(const struct proto_close *a, const struct proto_close *b)
{
	return a->kind == b->kind && (a->kind == 'S' || a->kind == 'P') &&
	       rt_str(a->name, a->name_len, b->name, b->name_len);
}

static bool eq_execute(const struct proto_execute *a, const struct proto_execute *b)
{
	return a->max_rows == b->max_rows &&
	       rt_str(a->portal, a->portal_len, b->portal, b->portal_len);
}

static bool eq_function_call(const struct proto_function_call *a,
                             const struct proto_function_call *b)
{
	return a->fn_oid == b->fn_oid && a->nargs == b->nargs &&
	       a->result_format == b->result_format && (a->result_format | 1) == 1 &&
	       rt_formats(a->arg_formats, a->narg_formats, b->arg_formats, b->narg_formats,
	                  a->nargs) &&
	       rt_values(a->args, a->args_len, b->args, b->args_len, a->nargs);
}

static bool eq_copy_data(const struct proto_copy_data *a, const struct proto_copy_data *b)
{
	return rt_bytes(a->data, a->len, b->data, b->len);
}

static bool eq_copy_fail(const struct proto_copy_fail *a, const struct proto_copy_fail *b)
{
	return rt_str(a->message, a->message_len, b->message, b->message_len);
}

static bool eq_row_description(const struct proto_row_description *a,
                               const struct proto_row_description *b)
{
	struct proto_column_iter ia, ib;
	struct proto_column ca, cb;
	size_t i = 0;
	if (a->ncols != b->ncols)
		return false;
	proto_column_iter_init(&ia, a);
	proto_column_iter_init(&ib, b);
	for (; proto_column_next(&ia, &ca); i++) {
		if (!proto_column_next(&ib, &cb) ||
		    !rt_str(ca.name, ca.name_len, cb.name, cb.name_len) ||
		    ca.table_oid != cb.table_oid || ca.attnum != cb.attnum ||
		    ca.type_oid != cb.type_oid || ca.typlen != cb.typlen ||
		    ca.typmod != cb.typmod || ca.format != cb.format || (ca.format | 1) != 1)
			return false;
	}
	return i == a->ncols && !proto_column_next(&ib, &cb);
}

static bool eq_parameter_description(const struct proto_parameter_description *a,
                                     const struct proto_parameter_description *b)
{
	if (a->ntypes != b->ntypes)
		return false;
	for (size_t i = 0; i < a->ntypes; i++)
		if (proto_oid_at(a->types, i) != proto_oid_at(b->types, i))
			return false;
	return true;
}

static bool eq_data_row(const struct proto_data_row *a, const struct proto_data_row *b)
{
	return a->ncols == b->ncols && a->ncols <= 0x7fff &&
	       rt_values(a->values, a->values_len, b->values, b->values_len, a->ncols);
}

static bool eq_command_complete(const struct proto_command_complete *a,
                                const struct proto_command_complete *b)
{
	return rt_str(a->tag, a->tag_len, b->tag, b->tag_len);
}

static bool rt_opt_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool eq_notice(const struct proto_notice *a, const struct proto_notice *b)
{
	struct proto_reader ia, ib;
	uint8_t ka, kb;
	const char *va, *vb;
	size_t la, lb;
	if (!rt_opt_str(a->severity, b->severity) || !rt_opt_str(a->sqlstate, b->sqlstate) ||
	    !rt_opt_str(a->message, b->message))
		return false;
	proto_reader_init(&ia, a->fields, a->fields_len);
	proto_reader_init(&ib, b->fields, b->fields_len);
	while (proto_notice_next(&ia, &ka, &va, &la))
		if (!proto_notice_next(&ib, &kb, &vb, &lb) || ka != kb || !rt_str(va, la, vb, lb))
			return false;
	return proto_reader_left(&ia) == 0 && !proto_notice_next(&ib, &kb, &vb, &lb) &&
	       proto_reader_left(&ib) == 0;
}

static bool eq_copy_response(const struct proto_copy_response *a,
                             const struct proto_copy_response *b)
{
	return a->format == b->format && a->ncols == b->ncols &&
	       rt_formats(a->formats, a->ncols, b->formats, b->ncols, a->ncols);
}

static bool eq_ready_for_query(const struct proto_ready_for_query *a,
                               const struct proto_ready_for_query *b)
{
	return a->status == b->status;
}

/* decode, build into out, decode what was built, compare field by field */
#define RT_FN(name)                                                                                \
	static int rt_##name(const uint8_t *body, size_t len, struct pgs_buf *out)                 \
	{                                                                                          \
		struct proto_##name a, c;                                                          \
		if (proto_decode_##name(body, len, &a) != PGS_OK)                                  \
			return RT_REFUSED;                                                         \
		if (proto_build_##name(out, &a) != PGS_OK || out->len < PROTO_HDR_LEN ||           \
		    proto_decode_##name(out->data + PROTO_HDR_LEN, out->len - PROTO_HDR_LEN,       \
		                        &c) != PGS_OK)                                             \
			return RT_MISMATCH;                                                        \
		return eq_##name(&a, &c) ? RT_OK : RT_MISMATCH;                                    \
	}

RT_FN(query)
RT_FN(parse)
RT_FN(bind)
RT_FN(describe)
RT_FN(close)
RT_FN(execute)
RT_FN(function_call)
RT_FN(copy_data)
RT_FN(copy_fail)
RT_FN(row_description)
RT_FN(parameter_description)
RT_FN(data_row)
RT_FN(command_complete)
RT_FN(ready_for_query)

static int rt_notice(uint8_t type, const uint8_t *body, size_t len, struct pgs_buf *out)
{
	struct proto_notice a, c;
	if (proto_decode_notice(body, len, &a) != PGS_OK)
		return RT_REFUSED;
	int rc = type == PROTO_BE_ERROR_RESPONSE ? proto_build_error_response(out, &a)
	                                         : proto_build_notice_response(out, &a);
	if (rc != PGS_OK || out->len < PROTO_HDR_LEN ||
	    proto_decode_notice(out->data + PROTO_HDR_LEN, out->len - PROTO_HDR_LEN, &c) != PGS_OK)
		return RT_MISMATCH;
	return eq_notice(&a, &c) ? RT_OK : RT_MISMATCH;
}

static int rt_copy_response(uint8_t type, const uint8_t *body, size_t len, struct pgs_buf *out)
{
	struct proto_copy_response a, c;
	if (proto_decode_copy_response(body, len, &a) != PGS_OK)
		return RT_REFUSED;
	if (proto_build_copy_response(out, type, &a) != PGS_OK || out->len < PROTO_HDR_LEN ||
	    proto_decode_copy_response(out->data + PROTO_HDR_LEN, out->len - PROTO_HDR_LEN, &c) !=
	        PGS_OK)
		return RT_MISMATCH;
	return eq_copy_response(&a, &c) ? RT_OK : RT_MISMATCH;
}

static int rt_empty(uint8_t type, const uint8_t *body, size_t len, struct pgs_buf *out)
{
	if (proto_decode_empty(body, len) != PGS_OK)
		return RT_REFUSED;
	if (proto_build_empty(out, type) != PGS_OK || out->len != PROTO_HDR_LEN ||
	    proto_decode_empty(out->data + PROTO_HDR_LEN, 0) != PGS_OK)
		return RT_MISMATCH;
	return RT_OK;
}

static int rt_dispatch(bool backend, uint8_t type, const uint8_t *body, size_t len,
                       struct pgs_buf *out)
{
	if (!backend) {
		switch (type) {
		case PROTO_FE_QUERY:
			return rt_query(body, len, out);
		case PROTO_FE_PARSE:
			return rt_parse(body, len, out);
		case PROTO_FE_BIND:
			return rt_bind(body, len, out);
		case PROTO_FE_DESCRIBE:
			return rt_describe(body, len, out);
		case PROTO_FE_CLOSE:
			return rt_close(body, len, out);
		case PROTO_FE_EXECUTE:
			return rt_execute(body, len, out);
		case PROTO_FE_FUNCTION_CALL:
			return rt_function_call(body, len, out);
		case PROTO_FE_COPY_DATA:
			return rt_copy_data(body, len, out);
		case PROTO_FE_COPY_FAIL:
			return rt_copy_fail(body, len, out);
		case PROTO_FE_COPY_DONE:
		case PROTO_FE_SYNC:
		case PROTO_FE_FLUSH:
		case PROTO_FE_TERMINATE:
			return rt_empty(type, body, len, out);
		}
		return RT_UNKNOWN;
	}
	switch (type) {
	case PROTO_BE_ROW_DESCRIPTION:
		return rt_row_description(body, len, out);
	case PROTO_BE_PARAMETER_DESCRIPTION:
		return rt_parameter_description(body, len, out);
	case PROTO_BE_DATA_ROW:
		return rt_data_row(body, len, out);
	case PROTO_BE_COMMAND_COMPLETE:
		return rt_command_complete(body, len, out);
	case PROTO_BE_ERROR_RESPONSE:
	case PROTO_BE_NOTICE_RESPONSE:
		return rt_notice(type, body, len, out);
	case PROTO_BE_COPY_IN_RESPONSE:
	case PROTO_BE_COPY_OUT_RESPONSE:
	case PROTO_BE_COPY_BOTH_RESPONSE:
		return rt_copy_response(type, body, len, out);
	case PROTO_BE_READY_FOR_QUERY:
		return rt_ready_for_query(body, len, out);
	case PROTO_BE_COPY_DATA:
		return rt_copy_data(body, len, out);
	case PROTO_BE_COPY_DONE:
	case PROTO_BE_PARSE_COMPLETE:
	case PROTO_BE_BIND_COMPLETE:
	case PROTO_BE_CLOSE_COMPLETE:
	case PROTO_BE_NO_DATA:
	case PROTO_BE_PORTAL_SUSPENDED:
	case PROTO_BE_EMPTY_QUERY_RESPONSE:
		return rt_empty(type, body, len, out);
	}
	return RT_UNKNOWN;
}

/* The round trip of one message body: RT_OK when it decodes, its builder reproduces the message
 * byte for byte (type, length, body) and that decodes to the same fields; RT_REFUSED when the
 * decoder refuses it (and then the builder was not called). */
static int proto_roundtrip(bool backend, uint8_t type, const uint8_t *body, size_t len)
{
	struct pgs_buf out = {0};
	int rc = rt_dispatch(backend, type, body, len, &out);
	if (rc == RT_OK && (out.len != PROTO_HDR_LEN + len || out.data[0] != type ||
	                    pgs_get_u32(out.data + 1) != (uint32_t)(len + 4) ||
	                    (len && memcmp(out.data + PROTO_HDR_LEN, body, len) != 0)))
		rc = RT_MISMATCH;
	if (rc == RT_REFUSED && out.len != 0)
		rc = RT_MISMATCH; /* a refused decode must not have built anything */
	pgs_buf_free(&out);
	return rc;
}

#endif
