/* proto_msg.c - parsing and building the specific messages pgseal inspects: startup, errors, auth,
 * keys. */
#include "proto/proto.h"

#include <string.h>

int proto_check_header(uint8_t type, uint32_t len, uint32_t max)
{
	(void)type;
	if (len < 4 || len > max)
		return PGS_ERR;
	return PGS_OK;
}

bool proto_is_frontend_type(uint8_t type)
{
	switch (type) {
	case 'B':
	case 'C':
	case 'd':
	case 'c':
	case 'f':
	case 'D':
	case 'E':
	case 'H':
	case 'F':
	case 'p':
	case 'P':
	case 'Q':
	case 'S':
	case 'X':
		return true;
	default:
		return false;
	}
}

int proto_parse_startup(const uint8_t *pkt, size_t len, struct proto_startup *out)
{
	struct proto_reader r;
	uint32_t plen;

	memset(out, 0, sizeof(*out));
	proto_reader_init(&r, pkt, len);
	if (proto_read_u32(&r, &plen) != PGS_OK || plen != len || plen < 8 ||
	    plen > PROTO_MAX_STARTUP)
		return PGS_ERR;
	if (proto_read_u32(&r, &out->code) != PGS_OK)
		return PGS_ERR;

	switch (out->code) {
	case PROTO_SSL_CODE:
	case PROTO_GSSENC_CODE:
		return plen == 8 ? PGS_OK : PGS_ERR;
	case PROTO_CANCEL_CODE:
		if (plen != 16)
			return PGS_ERR;
		if (proto_read_u32(&r, &out->cancel_pid) != PGS_OK ||
		    proto_read_u32(&r, &out->cancel_key) != PGS_OK)
			return PGS_ERR;
		return PGS_OK;
	default:
		break;
	}
	if ((out->code >> 16) != 3)
		return PGS_ERR; /* only protocol 3.x is spoken */

	for (;;) {
		const char *name, *value;
		size_t nlen, vlen;
		if (proto_read_cstr(&r, &name, &nlen) != PGS_OK)
			return PGS_ERR;
		if (nlen == 0)
			break; /* the terminating empty name */
		if (proto_read_cstr(&r, &value, &vlen) != PGS_OK)
			return PGS_ERR;
		if (out->nparams == PROTO_MAX_PARAMS)
			return PGS_ERR;
		out->params[out->nparams].name = name;
		out->params[out->nparams].value = value;
		out->nparams++;
	}
	if (proto_reader_left(&r) != 0)
		return PGS_ERR;
	if (!proto_startup_get(out, "user") || !*proto_startup_get(out, "user"))
		return PGS_ERR;
	return PGS_OK;
}

const char *proto_startup_get(const struct proto_startup *s, const char *name)
{
	for (size_t i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return s->params[i].value;
	return NULL;
}

void proto_build_error(struct pgs_buf *b, const char *severity, const char *sqlstate,
                       const char *message)
{
	size_t off = proto_msg_begin(b, 'E');
	proto_put_u8(b, 'S');
	proto_put_cstr(b, severity);
	proto_put_u8(b, 'V');
	proto_put_cstr(b, severity);
	proto_put_u8(b, 'C');
	proto_put_cstr(b, sqlstate);
	proto_put_u8(b, 'M');
	proto_put_cstr(b, message);
	proto_put_u8(b, 0);
	proto_msg_end(b, off);
}

int proto_error_sqlstate(const uint8_t *body, size_t len, char out[6])
{
	struct proto_reader r;
	proto_reader_init(&r, body, len);
	for (;;) {
		uint8_t code;
		const char *v;
		size_t vlen;
		if (proto_read_u8(&r, &code) != PGS_OK || code == 0)
			return PGS_ERR;
		if (proto_read_cstr(&r, &v, &vlen) != PGS_OK)
			return PGS_ERR;
		if (code == 'C') {
			if (vlen != 5)
				return PGS_ERR;
			memcpy(out, v, 6);
			return PGS_OK;
		}
	}
}

int proto_parse_backend_key(const uint8_t *body, size_t len, uint32_t *pid, uint32_t *key)
{
	struct proto_reader r;
	proto_reader_init(&r, body, len);
	if (len != 8 || proto_read_u32(&r, pid) != PGS_OK || proto_read_u32(&r, key) != PGS_OK)
		return PGS_ERR;
	return PGS_OK;
}

int proto_parse_auth(const uint8_t *body, size_t len, uint32_t *code, const uint8_t **rest,
                     size_t *rest_len)
{
	struct proto_reader r;
	proto_reader_init(&r, body, len);
	if (proto_read_u32(&r, code) != PGS_OK)
		return PGS_ERR;
	*rest = body + r.pos;
	*rest_len = proto_reader_left(&r);
	return PGS_OK;
}

/* Walks a SASL mechanism list (NUL-terminated names, then an empty name). */
static int sasl_walk(const uint8_t *rest, size_t len, const char *name, bool *found,
                     struct pgs_buf *out)
{
	struct proto_reader r;
	proto_reader_init(&r, rest, len);
	*found = false;
	for (;;) {
		const char *m;
		size_t mlen;
		if (proto_read_cstr(&r, &m, &mlen) != PGS_OK)
			return PGS_ERR;
		if (mlen == 0)
			break;
		if (strcmp(m, name) == 0)
			*found = true;
		else if (out)
			proto_put_cstr(out, m);
	}
	return proto_reader_left(&r) == 0 ? PGS_OK : PGS_ERR;
}

bool proto_sasl_offers(const uint8_t *rest, size_t len, const char *name)
{
	bool found;
	return sasl_walk(rest, len, name, &found, NULL) == PGS_OK && found;
}

int proto_sasl_drop_mechanism(const uint8_t *body, size_t len, const char *drop,
                              struct pgs_buf *out)
{
	uint32_t code;
	const uint8_t *rest;
	size_t rest_len;
	bool found;
	size_t start = out->len;

	if (proto_parse_auth(body, len, &code, &rest, &rest_len) != PGS_OK ||
	    code != PROTO_AUTH_SASL)
		return PGS_ERR;
	size_t off = proto_msg_begin(out, 'R');
	proto_put_u32(out, PROTO_AUTH_SASL);
	if (sasl_walk(rest, rest_len, drop, &found, out) != PGS_OK) {
		out->len = start;
		return PGS_ERR;
	}
	proto_put_u8(out, 0);
	proto_msg_end(out, off);
	return PGS_OK;
}

int proto_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
                             const uint8_t **data, size_t *data_len)
{
	struct proto_reader r;
	int32_t n;
	proto_reader_init(&r, body, len);
	if (proto_read_cstr(&r, mech, NULL) != PGS_OK || proto_read_i32(&r, &n) != PGS_OK)
		return PGS_ERR;
	if (n < 0) {
		*data = NULL;
		*data_len = 0;
		return proto_reader_left(&r) == 0 ? PGS_OK : PGS_ERR;
	}
	if ((size_t)n != proto_reader_left(&r))
		return PGS_ERR;
	return proto_read_bytes(&r, (size_t)n, data) == PGS_OK && ((*data_len = (size_t)n), 1)
	           ? PGS_OK
	           : PGS_ERR;
}

const char *proto_type_name(uint8_t type, bool from_client)
{
	if (from_client) {
		switch (type) {
		case 'B':
			return "Bind";
		case 'C':
			return "Close";
		case 'd':
			return "CopyData";
		case 'c':
			return "CopyDone";
		case 'f':
			return "CopyFail";
		case 'D':
			return "Describe";
		case 'E':
			return "Execute";
		case 'H':
			return "Flush";
		case 'F':
			return "FunctionCall";
		case 'p':
			return "PasswordMessage";
		case 'P':
			return "Parse";
		case 'Q':
			return "Query";
		case 'S':
			return "Sync";
		case 'X':
			return "Terminate";
		}
	} else {
		switch (type) {
		case 'R':
			return "Authentication";
		case 'K':
			return "BackendKeyData";
		case '2':
			return "BindComplete";
		case '3':
			return "CloseComplete";
		case 'C':
			return "CommandComplete";
		case 'd':
			return "CopyData";
		case 'c':
			return "CopyDone";
		case 'G':
			return "CopyInResponse";
		case 'H':
			return "CopyOutResponse";
		case 'W':
			return "CopyBothResponse";
		case 'D':
			return "DataRow";
		case 'I':
			return "EmptyQueryResponse";
		case 'E':
			return "ErrorResponse";
		case 'V':
			return "FunctionCallResponse";
		case 'v':
			return "NegotiateProtocolVersion";
		case 'n':
			return "NoData";
		case 'N':
			return "NoticeResponse";
		case 'A':
			return "NotificationResponse";
		case 't':
			return "ParameterDescription";
		case 'S':
			return "ParameterStatus";
		case '1':
			return "ParseComplete";
		case 's':
			return "PortalSuspended";
		case 'Z':
			return "ReadyForQuery";
		case 'T':
			return "RowDescription";
		}
	}
	return "Unknown";
}
