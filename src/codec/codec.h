/* codec.h - canonical plaintext per PostgreSQL type, and its text and binary wire forms. */
#ifndef PGSEAL_CODEC_H
#define PGSEAL_CODEC_H

#include "common/common.h"

/*
 * Every encrypted value is stored (and blind-indexed) in one canonical form per
 * declared type, so that the text and the binary wire format of the same value - or an
 * int4 parameter bound to an int8 column - give the same bytes. docs/keys.md lists the
 * canonical forms. The codec does no I/O and keeps no state; it is thread-safe.
 */
enum codec_type {
	CODEC_TEXT = 1,    /* text, varchar, bpchar, name: UTF-8 bytes */
	CODEC_BYTEA,       /* raw bytes */
	CODEC_INT2,        /* 2 bytes big-endian */
	CODEC_INT4,        /* 4 bytes big-endian */
	CODEC_INT8,        /* 8 bytes big-endian */
	CODEC_FLOAT8,      /* 8 bytes IEEE 754 big-endian, one NaN */
	CODEC_NUMERIC,     /* ASCII text, PostgreSQL's output form (scale kept) */
	CODEC_BOOL,        /* 1 byte: 0 or 1 */
	CODEC_DATE,        /* 4 bytes BE: days since 2000-01-01 */
	CODEC_TIMESTAMP,   /* 8 bytes BE: microseconds since 2000-01-01 00:00:00 */
	CODEC_TIMESTAMPTZ, /* 8 bytes BE: microseconds since 2000-01-01 00:00:00 UTC */
	CODEC_UUID,        /* 16 bytes */
	CODEC_JSONB,       /* the JSON text as sent, validated */
};

#define CODEC_FMT_TEXT 0
#define CODEC_FMT_BINARY 1

/* Output goes to a struct pgs_buf (common.h). Owner: the caller, who frees it with
 * pgs_buf_free (it holds plaintext). */

/* Type names: PostgreSQL's (text, varchar, character varying, bytea, int2, smallint,
 * int4, integer, int, int8, bigint, float8, double precision, numeric, decimal, bool,
 * boolean, date, timestamp, timestamptz, timestamp with[out] time zone, uuid, jsonb)
 * and Acra's data_type names (str, bytes, int32, int64). Case-insensitive. */
int codec_type_by_name(const char *name, enum codec_type *out) PGS_MUSTCHECK;
const char *codec_type_name(enum codec_type t);
/* Bounds of a canonical value's length in bytes: *min .. *max, equal for the fixed-size
 * types, *max = 0 for no bound of its own (text, bytea, numeric, jsonb). The database's
 * CHECK constraint on record lengths (`pgseal schema`) is built from them. */
void codec_canonical_size(enum codec_type t, size_t *min, size_t *max);
/* The PostgreSQL type OID of a codec type (RowDescription, ParameterDescription). */
uint32_t codec_type_oid(enum codec_type t);
int codec_type_by_oid(uint32_t oid, enum codec_type *out) PGS_MUSTCHECK;

/*
 * Wire value -> canonical bytes for a column of type col. wire_oid is the type the
 * client sent (a Parse parameter type; 0 = unspecified, i.e. the column's type). Text
 * format is parsed as col's text input. Binary format: col's own binary form; int2,
 * int4, int8 into any integer, numeric or float8 column; float4 into float8;
 * timestamp <-> timestamptz; json into jsonb; text-like types (text, varchar, bpchar,
 * name, unknown) as col's text input. Anything that does not parse is an error.
 * out's previous contents are replaced.
 */
int codec_to_canonical(enum codec_type col, uint32_t wire_oid, int format, const uint8_t *in,
                       size_t len, struct pgs_buf *out) PGS_MUSTCHECK;

/* Canonical bytes -> col's text or binary wire form (what PostgreSQL would send). Fails
 * on bytes that are not a canonical value of col. */
int codec_from_canonical(enum codec_type col, int format, const uint8_t *canon, size_t len,
                         struct pgs_buf *out) PGS_MUSTCHECK;

/* ---- internal to src/codec (shared between its files) ---- */
int codec_numeric_text_in(const char *s, size_t len, struct pgs_buf *out) PGS_MUSTCHECK;
int codec_numeric_recv(const uint8_t *in, size_t len, struct pgs_buf *out) PGS_MUSTCHECK;
int codec_numeric_send(const uint8_t *canon, size_t len, struct pgs_buf *out) PGS_MUSTCHECK;
int codec_date_text_in(const char *s, size_t len, int32_t *days) PGS_MUSTCHECK;
int codec_ts_text_in(const char *s, size_t len, bool tz, int64_t *us) PGS_MUSTCHECK;
int codec_date_text_out(int32_t days, struct pgs_buf *out) PGS_MUSTCHECK;
int codec_ts_text_out(int64_t us, bool tz, struct pgs_buf *out) PGS_MUSTCHECK;
bool codec_date_valid(int32_t days);
bool codec_ts_valid(int64_t us);

/* Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) without NUL bytes. */
bool codec_utf8_valid(const uint8_t *s, size_t n);

#endif
