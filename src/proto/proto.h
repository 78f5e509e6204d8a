/* proto.h - PostgreSQL v3 wire codec: bounds-checked reader, packet builder, startup and message
 * parsing; no I/O. */
#ifndef PGSEAL_PROTO_H
#define PGSEAL_PROTO_H

#include "common/common.h"

/* Special startup codes (in place of the protocol version). */
#define PROTO_V3 0x00030000u
#define PROTO_CANCEL_CODE 80877102u
#define PROTO_SSL_CODE 80877103u
#define PROTO_GSSENC_CODE 80877104u

/* A startup packet may not exceed this before authentication (DESIGN §4). */
#define PROTO_MAX_STARTUP 10000u
#define PROTO_HDR_LEN 5u /* type byte + int32 length */

/* Authentication request codes ('R' messages). */
enum proto_auth_code {
	PROTO_AUTH_OK = 0,
	PROTO_AUTH_CLEARTEXT = 3,
	PROTO_AUTH_MD5 = 5,
	PROTO_AUTH_GSS = 7,
	PROTO_AUTH_SSPI = 9,
	PROTO_AUTH_SASL = 10,
	PROTO_AUTH_SASL_CONTINUE = 11,
	PROTO_AUTH_SASL_FINAL = 12,
};

/* ---- bounds-checked reader ------------------------------------------------ */

struct proto_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static inline void proto_reader_init(struct proto_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
}

static inline size_t proto_reader_left(const struct proto_reader *r)
{
	return r->len - r->pos;
}

int proto_read_u8(struct proto_reader *r, uint8_t *out) PGS_MUSTCHECK;
int proto_read_u16(struct proto_reader *r, uint16_t *out) PGS_MUSTCHECK;
int proto_read_u32(struct proto_reader *r, uint32_t *out) PGS_MUSTCHECK;
int proto_read_i32(struct proto_reader *r, int32_t *out) PGS_MUSTCHECK;
/* Points *out at n bytes inside the buffer (no copy). */
int proto_read_bytes(struct proto_reader *r, size_t n, const uint8_t **out) PGS_MUSTCHECK;
/* A NUL-terminated string inside the buffer; *out points into it, *n is its length. */
int proto_read_cstr(struct proto_reader *r, const char **out, size_t *n) PGS_MUSTCHECK;

/* Reads n int16 format codes, each 0 (text) or 1 (binary) as PostgreSQL requires ("unsupported
 * format code"); *raw points at them in wire form. */
int proto_read_formats(struct proto_reader *r, uint32_t n, const uint8_t **raw) PGS_MUSTCHECK;
/* Reads n values (int32 length, -1 for NULL, then the bytes; any other negative length is
 * refused); *raw and *raw_len are the run of them in wire form. */
int proto_read_values(struct proto_reader *r, uint32_t n, const uint8_t **raw,
                      size_t *raw_len) PGS_MUSTCHECK;

/* ---- packet builder ------------------------------------------------------- */

/* Messages are built in a struct pgs_buf (common.h: grows, wipes on reset and free). */
static inline void proto_put_u8(struct pgs_buf *b, uint8_t v)
{
	pgs_buf_append_u8(b, v);
}

static inline void proto_put_u16(struct pgs_buf *b, uint16_t v)
{
	pgs_buf_append_u16(b, v);
}

static inline void proto_put_u32(struct pgs_buf *b, uint32_t v)
{
	pgs_buf_append_u32(b, v);
}

/* Appends s and its NUL; NULL appends "" (an empty name). */
void proto_put_cstr(struct pgs_buf *b, const char *s);
/* Starts a typed message (type 0: untyped, as startup packets); returns its offset. */
size_t proto_msg_begin(struct pgs_buf *b, uint8_t type);
/* Fills in the length of the message started at off. */
void proto_msg_end(struct pgs_buf *b, size_t off);
/* For builders that check what they built: keeps what was appended since `start` when rc is
 * PGS_OK, removes it otherwise; returns rc. */
int proto_msg_keep(struct pgs_buf *b, size_t start, int rc) PGS_MUSTCHECK;
/* The body of the message whose length is at off, as built so far. */
static inline const uint8_t *proto_msg_body(const struct pgs_buf *b, size_t off)
{
	return b->data + off + 4;
}

static inline size_t proto_msg_body_len(const struct pgs_buf *b, size_t off)
{
	return b->len - off - 4;
}

/* ---- messages ------------------------------------------------------------- */

/* Checks a message header: known-sane length (>= 4, <= max). */
int proto_check_header(uint8_t type, uint32_t len, uint32_t max) PGS_MUSTCHECK;
/* True for the type bytes a frontend may send after startup. */
bool proto_is_frontend_type(uint8_t type);

struct proto_param {
	const char *name;
	const char *value;
};

#define PROTO_MAX_PARAMS 64

/* A parsed startup packet; strings point into the packet bytes given to the parser. */
struct proto_startup {
	uint32_t code;       /* PROTO_V3 (or 3.x), or a special code */
	uint32_t cancel_pid; /* CancelRequest */
	uint32_t cancel_key;
	size_t nparams;
	struct proto_param params[PROTO_MAX_PARAMS];
};

/* Parses a whole startup packet (including its 4-byte length). */
int proto_parse_startup(const uint8_t *pkt, size_t len, struct proto_startup *out) PGS_MUSTCHECK;
const char *proto_startup_get(const struct proto_startup *s, const char *name);

/* Builds an ErrorResponse ('E') with severity, SQLSTATE and message. */
void proto_build_error(struct pgs_buf *b, const char *severity, const char *sqlstate,
                       const char *message);

/* Extracts the SQLSTATE ('C' field) of an ErrorResponse/NoticeResponse body. */
int proto_error_sqlstate(const uint8_t *body, size_t len, char out[6]) PGS_MUSTCHECK;

/* BackendKeyData body -> pid, key. */
int proto_parse_backend_key(const uint8_t *body, size_t len, uint32_t *pid,
                            uint32_t *key) PGS_MUSTCHECK;

/* Authentication ('R') body -> code; rest/rest_len is the payload after the code. */
int proto_parse_auth(const uint8_t *body, size_t len, uint32_t *code, const uint8_t **rest,
                     size_t *rest_len) PGS_MUSTCHECK;

/* Rewrites an AuthenticationSASL body's mechanism list, dropping `drop`; appends a whole 'R'
 * message to out. Fails on a malformed list. */
int proto_sasl_drop_mechanism(const uint8_t *body, size_t len, const char *drop,
                              struct pgs_buf *out) PGS_MUSTCHECK;

/* True when an AuthenticationSASL payload offers mechanism `name`. */
bool proto_sasl_offers(const uint8_t *rest, size_t len, const char *name);

/* Parses a SASLInitialResponse body ('p'): mechanism name and initial data. */
int proto_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
                             const uint8_t **data, size_t *data_len) PGS_MUSTCHECK;

/* Human-readable name of a message type for logs. */
const char *proto_type_name(uint8_t type, bool from_client);

/* ---- decoded messages ------------------------------------------------------ */
/*
 * A decoder reads one message BODY (after the type byte and length), checks it against
 * PostgreSQL's own rules and fills a plain struct whose pointers point into the body (valid as
 * long as the body is): no copy, no allocation. Strings are NUL-terminated inside the body; arrays
 * keep their wire form (big-endian) and are read with the accessors and iterators below. On any
 * violation it returns PGS_ERR and leaves *out zeroed. The rules, in one place: counts never exceed
 * the message (those PostgreSQL reads as uint16 may be up to 65535, column counts are int16 >= 0);
 * format codes are 0 or 1; a list of per-value format codes has 0, 1 or one code per value; value
 * lengths are -1 (NULL) or >= 0; Describe/Close name 'S' or 'P'; no byte after the last field.
 *
 * A builder appends the whole message (type, length, body) to a proto_buf. Strings are C strings
 * (NULL is ""; the _len fields are filled by decoders and ignored here); arrays are in wire form
 * and must hold their count; nothing may point into b itself (it may move as it grows). It decodes
 * what it built and, when that fails, removes it and returns PGS_ERR, so pgseal never sends a
 * message it would refuse to read.
 */

/* Type bytes of the messages decoded here (some letters mean another message in the other
 * direction). */
enum proto_fe_type {
	PROTO_FE_BIND = 'B',
	PROTO_FE_CLOSE = 'C',
	PROTO_FE_COPY_DATA = 'd',
	PROTO_FE_COPY_DONE = 'c',
	PROTO_FE_COPY_FAIL = 'f',
	PROTO_FE_DESCRIBE = 'D',
	PROTO_FE_EXECUTE = 'E',
	PROTO_FE_FLUSH = 'H',
	PROTO_FE_FUNCTION_CALL = 'F',
	PROTO_FE_PARSE = 'P',
	PROTO_FE_QUERY = 'Q',
	PROTO_FE_SYNC = 'S',
	PROTO_FE_TERMINATE = 'X',
};

enum proto_be_type {
	PROTO_BE_BIND_COMPLETE = '2',
	PROTO_BE_CLOSE_COMPLETE = '3',
	PROTO_BE_COMMAND_COMPLETE = 'C',
	PROTO_BE_COPY_BOTH_RESPONSE = 'W',
	PROTO_BE_COPY_DATA = 'd',
	PROTO_BE_COPY_DONE = 'c',
	PROTO_BE_COPY_IN_RESPONSE = 'G',
	PROTO_BE_COPY_OUT_RESPONSE = 'H',
	PROTO_BE_DATA_ROW = 'D',
	PROTO_BE_EMPTY_QUERY_RESPONSE = 'I',
	PROTO_BE_ERROR_RESPONSE = 'E',
	PROTO_BE_NO_DATA = 'n',
	PROTO_BE_NOTICE_RESPONSE = 'N',
	PROTO_BE_PARAMETER_DESCRIPTION = 't',
	PROTO_BE_PARSE_COMPLETE = '1',
	PROTO_BE_PORTAL_SUSPENDED = 's',
	PROTO_BE_READY_FOR_QUERY = 'Z',
	PROTO_BE_ROW_DESCRIPTION = 'T',
};

/* Format code i of a wire list of n codes, by PostgreSQL's rule: none means text for all, one
 * applies to all, otherwise one per value; -1 when i is past a list of several. */
static inline int proto_format_at(const uint8_t *raw, uint16_t n, size_t i)
{
	if (n == 0)
		return 0;
	if (n == 1)
		return (int16_t)pgs_get_u16(raw);
	return i < n ? (int16_t)pgs_get_u16(raw + 2 * i) : -1;
}

/* OID i of a wire array of uint32 OIDs (Parse, ParameterDescription). */
static inline uint32_t proto_oid_at(const uint8_t *raw, size_t i)
{
	return pgs_get_u32(raw + 4 * i);
}

/* A walk over a decoded run of values (Bind parameters, DataRow columns, FunctionCall
 * arguments). */
struct proto_value_iter {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void proto_value_iter_init(struct proto_value_iter *it, const uint8_t *raw,
                                         size_t len)
{
	it->p = raw;
	it->end = len ? raw + len : raw; /* raw may be NULL in an empty message */
}

/* The next value: *data and *len, or NULL/-1 for SQL NULL; false after the last one. */
static inline bool proto_value_next(struct proto_value_iter *it, const uint8_t **data, int32_t *len)
{
	if (it->end - it->p < 4)
		return false;
	int32_t n = (int32_t)pgs_get_u32(it->p);
	it->p += 4;
	if (n < 0) {
		*data = NULL;
		*len = -1;
		return true;
	}
	if ((size_t)(it->end - it->p) < (size_t)n)
		return false; /* not a decoded run */
	*data = it->p;
	*len = n;
	it->p += n;
	return true;
}

/* Appends one value in wire form (len -1: NULL), to build a run for a builder. */
void proto_put_value(struct pgs_buf *b, const uint8_t *data, int32_t len);

/* Messages with an empty body: Sync, Flush, Terminate, CopyDone; ParseComplete, BindComplete,
 * CloseComplete, NoData, PortalSuspended, EmptyQueryResponse. */
int proto_decode_empty(const uint8_t *body, size_t len) PGS_MUSTCHECK;
int proto_build_empty(struct pgs_buf *b, uint8_t type) PGS_MUSTCHECK;

/* -- frontend (proto_frontend.c) -- */

struct proto_query {
	const char *sql;
	size_t sql_len;
};

struct proto_parse {
	const char *name; /* "" : the unnamed statement */
	size_t name_len;
	const char *sql;
	size_t sql_len;
	uint16_t ntypes;      /* parameter types given (may be fewer than the parameters) */
	const uint8_t *types; /* ntypes uint32 OIDs, 0 = unspecified: proto_oid_at */
};

struct proto_bind {
	const char *portal;
	size_t portal_len;
	const char *stmt;
	size_t stmt_len;
	uint16_t nparam_formats; /* 0, 1 or nparams */
	const uint8_t *param_formats;
	uint16_t nparams;
	const uint8_t *params; /* the run of nparams values: proto_value_iter */
	size_t params_len;
	uint16_t nresult_formats; /* checked against the columns by the server */
	const uint8_t *result_formats;
};

/* The format of parameter i (0 text, 1 binary), the one place that applies the 0/1/n rule. */
static inline int proto_bind_param_format(const struct proto_bind *b, size_t i)
{
	return proto_format_at(b->param_formats, b->nparam_formats, i);
}

/* The format asked for result column i; -1 when the list has several codes and none for i. */
static inline int proto_bind_result_format(const struct proto_bind *b, size_t i)
{
	return proto_format_at(b->result_formats, b->nresult_formats, i);
}

/* Describe and Close: kind 'S' (statement) or 'P' (portal) and its name. */
struct proto_describe {
	uint8_t kind;
	const char *name;
	size_t name_len;
};

struct proto_close {
	uint8_t kind;
	const char *name;
	size_t name_len;
};

struct proto_execute {
	const char *portal;
	size_t portal_len;
	int32_t max_rows; /* <= 0: all rows (kept as sent) */
};

struct proto_function_call {
	uint32_t fn_oid;
	uint16_t narg_formats; /* 0, 1 or nargs */
	const uint8_t *arg_formats;
	uint16_t nargs;
	const uint8_t *args; /* the run of nargs values: proto_value_iter */
	size_t args_len;
	int16_t result_format; /* 0 or 1 */
};

struct proto_copy_data {
	const uint8_t *data;
	size_t len;
};

struct proto_copy_fail {
	const char *message;
	size_t message_len;
};

int proto_decode_query(const uint8_t *body, size_t len, struct proto_query *out) PGS_MUSTCHECK;
int proto_decode_parse(const uint8_t *body, size_t len, struct proto_parse *out) PGS_MUSTCHECK;
int proto_decode_bind(const uint8_t *body, size_t len, struct proto_bind *out) PGS_MUSTCHECK;
int proto_decode_describe(const uint8_t *body, size_t len,
                          struct proto_describe *out) PGS_MUSTCHECK;
int proto_decode_close(const uint8_t *body, size_t len, struct proto_close *out) PGS_MUSTCHECK;
int proto_decode_execute(const uint8_t *body, size_t len, struct proto_execute *out) PGS_MUSTCHECK;
int proto_decode_function_call(const uint8_t *body, size_t len,
                               struct proto_function_call *out) PGS_MUSTCHECK;
int proto_decode_copy_data(const uint8_t *body, size_t len,
                           struct proto_copy_data *out) PGS_MUSTCHECK;
int proto_decode_copy_fail(const uint8_t *body, size_t len,
                           struct proto_copy_fail *out) PGS_MUSTCHECK;

int proto_build_query(struct pgs_buf *b, const struct proto_query *m) PGS_MUSTCHECK;
int proto_build_parse(struct pgs_buf *b, const struct proto_parse *m) PGS_MUSTCHECK;
int proto_build_bind(struct pgs_buf *b, const struct proto_bind *m) PGS_MUSTCHECK;
int proto_build_describe(struct pgs_buf *b, const struct proto_describe *m) PGS_MUSTCHECK;
int proto_build_close(struct pgs_buf *b, const struct proto_close *m) PGS_MUSTCHECK;
int proto_build_execute(struct pgs_buf *b, const struct proto_execute *m) PGS_MUSTCHECK;
int proto_build_function_call(struct pgs_buf *b, const struct proto_function_call *m) PGS_MUSTCHECK;
/* CopyData goes both ways: type PROTO_FE_COPY_DATA == PROTO_BE_COPY_DATA. */
int proto_build_copy_data(struct pgs_buf *b, const struct proto_copy_data *m) PGS_MUSTCHECK;
int proto_build_copy_fail(struct pgs_buf *b, const struct proto_copy_fail *m) PGS_MUSTCHECK;

/* -- backend (proto_backend.c) -- */

/* One column of a RowDescription. */
struct proto_column {
	const char *name;
	size_t name_len;
	uint32_t table_oid; /* 0 when not a table column */
	int16_t attnum;
	uint32_t type_oid;
	int16_t typlen;
	int32_t typmod;
	int16_t format; /* 0 or 1 (0 in a Describe's answer: not yet known) */
};

struct proto_row_description {
	uint16_t ncols;
	const uint8_t *cols; /* the ncols column descriptions: proto_column_iter */
	size_t cols_len;
};

struct proto_column_iter {
	struct proto_reader r;
};

static inline void proto_column_iter_init(struct proto_column_iter *it,
                                          const struct proto_row_description *rd)
{
	proto_reader_init(&it->r, rd->cols, rd->cols_len);
}

/* The next column into *col (name points into the message); false after the last one. */
bool proto_column_next(struct proto_column_iter *it, struct proto_column *col);
/* Appends one column description in wire form, to build a RowDescription's cols. */
void proto_put_column(struct pgs_buf *b, const struct proto_column *col);

struct proto_parameter_description {
	uint16_t ntypes;
	const uint8_t *types; /* ntypes uint32 OIDs: proto_oid_at */
};

struct proto_data_row {
	uint16_t ncols;
	const uint8_t *values; /* the run of ncols values: proto_value_iter */
	size_t values_len;
};

struct proto_command_complete {
	const char *tag;
	size_t tag_len;
};

/* ErrorResponse and NoticeResponse: the fields in wire form, and the common ones found in them
 * (NULL when absent; the last of a repeated field, as libpq keeps). Builders use only fields. */
struct proto_notice {
	const uint8_t *fields; /* (code byte, string)*, without the terminating 0 */
	size_t fields_len;
	const char *severity; /* 'S' */
	const char *sqlstate; /* 'C' */
	const char *message;  /* 'M' */
};

/* The next field of a decoded notice, walked with a reader over fields/fields_len. */
bool proto_notice_next(struct proto_reader *it, uint8_t *code, const char **value, size_t *len);
/* Appends one field in wire form, to build a notice's fields. */
void proto_put_field(struct pgs_buf *b, uint8_t code, const char *value);

/* CopyInResponse, CopyOutResponse, CopyBothResponse. */
struct proto_copy_response {
	uint8_t format; /* overall: 0 text (then every column is 0), 1 binary */
	uint16_t ncols;
	const uint8_t *formats; /* ncols int16 codes: proto_format_at */
};

struct proto_ready_for_query {
	uint8_t status; /* 'I' idle, 'T' in a transaction, 'E' in a failed transaction */
};

int proto_decode_row_description(const uint8_t *body, size_t len,
                                 struct proto_row_description *out) PGS_MUSTCHECK;
int proto_decode_parameter_description(const uint8_t *body, size_t len,
                                       struct proto_parameter_description *out) PGS_MUSTCHECK;
int proto_decode_data_row(const uint8_t *body, size_t len,
                          struct proto_data_row *out) PGS_MUSTCHECK;
int proto_decode_command_complete(const uint8_t *body, size_t len,
                                  struct proto_command_complete *out) PGS_MUSTCHECK;
int proto_decode_notice(const uint8_t *body, size_t len, struct proto_notice *out) PGS_MUSTCHECK;
int proto_decode_copy_response(const uint8_t *body, size_t len,
                               struct proto_copy_response *out) PGS_MUSTCHECK;
int proto_decode_ready_for_query(const uint8_t *body, size_t len,
                                 struct proto_ready_for_query *out) PGS_MUSTCHECK;

int proto_build_row_description(struct pgs_buf *b,
                                const struct proto_row_description *m) PGS_MUSTCHECK;
int proto_build_parameter_description(struct pgs_buf *b,
                                      const struct proto_parameter_description *m) PGS_MUSTCHECK;
int proto_build_data_row(struct pgs_buf *b, const struct proto_data_row *m) PGS_MUSTCHECK;
int proto_build_command_complete(struct pgs_buf *b,
                                 const struct proto_command_complete *m) PGS_MUSTCHECK;
int proto_build_error_response(struct pgs_buf *b, const struct proto_notice *m) PGS_MUSTCHECK;
int proto_build_notice_response(struct pgs_buf *b, const struct proto_notice *m) PGS_MUSTCHECK;
/* type: PROTO_BE_COPY_IN_RESPONSE, _OUT_ or _BOTH_. */
int proto_build_copy_response(struct pgs_buf *b, uint8_t type,
                              const struct proto_copy_response *m) PGS_MUSTCHECK;
int proto_build_ready_for_query(struct pgs_buf *b,
                                const struct proto_ready_for_query *m) PGS_MUSTCHECK;

#endif
