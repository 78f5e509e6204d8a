/* proto_codec.c - the bounds-checked reader and the packet builder of the wire codec. */
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>

int proto_read_u8(struct proto_reader *r, uint8_t *out)
{
	if (proto_reader_left(r) < 1)
		return PGS_ERR;
	*out = r->buf[r->pos++];
	return PGS_OK;
}

int proto_read_u16(struct proto_reader *r, uint16_t *out)
{
	if (proto_reader_left(r) < 2)
		return PGS_ERR;
	*out = pgs_get_u16(r->buf + r->pos);
	r->pos += 2;
	return PGS_OK;
}

int proto_read_u32(struct proto_reader *r, uint32_t *out)
{
	if (proto_reader_left(r) < 4)
		return PGS_ERR;
	*out = pgs_get_u32(r->buf + r->pos);
	r->pos += 4;
	return PGS_OK;
}

int proto_read_i32(struct proto_reader *r, int32_t *out)
{
	uint32_t u;
	if (proto_read_u32(r, &u) != PGS_OK)
		return PGS_ERR;
	*out = (int32_t)u;
	return PGS_OK;
}

int proto_read_bytes(struct proto_reader *r, size_t n, const uint8_t **out)
{
	if (proto_reader_left(r) < n)
		return PGS_ERR;
	*out = r->buf + r->pos;
	r->pos += n;
	return PGS_OK;
}

int proto_read_cstr(struct proto_reader *r, const char **out, size_t *n)
{
	size_t left = proto_reader_left(r);
	if (left == 0)
		return PGS_ERR; /* and no arithmetic on a reader over NULL */
	const uint8_t *start = r->buf + r->pos;
	const uint8_t *nul = memchr(start, 0, left);
	if (!nul)
		return PGS_ERR;
	*out = (const char *)start;
	if (n)
		*n = (size_t)(nul - start);
	r->pos += (size_t)(nul - start) + 1;
	return PGS_OK;
}

void proto_put_cstr(struct pgs_buf *b, const char *s)
{
	if (!s)
		proto_put_u8(b, 0);
	else
		pgs_buf_append(b, s, strlen(s) + 1);
}

void proto_put_value(struct pgs_buf *b, const uint8_t *data, int32_t len)
{
	proto_put_u32(b, (uint32_t)(len < 0 ? -1 : len));
	if (len > 0)
		pgs_buf_append(b, data, (size_t)len);
}

size_t proto_msg_begin(struct pgs_buf *b, uint8_t type)
{
	if (type)
		proto_put_u8(b, type);
	size_t off = b->len;
	proto_put_u32(b, 0); /* length, filled in by proto_msg_end */
	return off;
}

void proto_msg_end(struct pgs_buf *b, size_t off)
{
	pgs_put_u32(b->data + off, (uint32_t)(b->len - off));
}

int proto_msg_keep(struct pgs_buf *b, size_t start, int rc)
{
	if (rc != PGS_OK)
		b->len = start;
	return rc;
}

int proto_read_formats(struct proto_reader *r, uint32_t n, const uint8_t **raw)
{
	const uint8_t *p;
	if (proto_read_bytes(r, (size_t)n * 2, &p) != PGS_OK)
		return PGS_ERR;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t f = pgs_get_u16(p + 2 * i);
		if (f != 0 && f != 1) {
			r->pos -= (size_t)n * 2;
			return PGS_ERR;
		}
	}
	*raw = p;
	return PGS_OK;
}

int proto_read_values(struct proto_reader *r, uint32_t n, const uint8_t **raw, size_t *raw_len)
{
	size_t start = r->pos;
	/* each value takes at least its 4-byte length: refuse a count past the end at once */
	if ((size_t)n > proto_reader_left(r) / 4)
		return PGS_ERR;
	for (uint32_t i = 0; i < n; i++) {
		int32_t vl;
		const uint8_t *v;
		if (proto_read_i32(r, &vl) != PGS_OK || vl < -1 ||
		    (vl > 0 && proto_read_bytes(r, (size_t)vl, &v) != PGS_OK)) {
			r->pos = start;
			return PGS_ERR;
		}
	}
	*raw = r->buf + start;
	*raw_len = r->pos - start;
	return PGS_OK;
}
