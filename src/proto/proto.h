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

/* Appends s with its NUL terminator. */
void proto_put_cstr(struct pgs_buf *b, const char *s);
/* Starts a typed message (type 0: untyped, as startup packets); returns its offset. */
size_t proto_msg_begin(struct pgs_buf *b, uint8_t type);
/* Fills in the length of the message started at off. */
void proto_msg_end(struct pgs_buf *b, size_t off);

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

#endif
