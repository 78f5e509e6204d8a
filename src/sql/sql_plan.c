/* sql_plan.c - a finished plan as data: the rewritten text rendered, plans freed (values wiped),
 * copies of its COPY descriptions and prepared statements. */
#include "sql/sql_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct sql_prepared *sql_prepared_dup(const struct sql_prepared *p)
{
	struct sql_prepared *d = pgs_xcalloc(1, sizeof(*d));
	d->name = pgs_xstrdup(p->name);
	d->nparams = p->nparams;
	if (p->nparams) {
		d->params = pgs_xmalloc(p->nparams * sizeof(*d->params));
		memcpy(d->params, p->params, p->nparams * sizeof(*d->params));
	}
	return d;
}

static void prepared_clear(struct sql_prepared *p)
{
	free(p->name);
	free(p->params);
}

void sql_prepared_free(struct sql_prepared *p)
{
	if (!p)
		return;
	prepared_clear(p);
	free(p);
}

void sql_plan_free(struct sql_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nedits; i++)
		sql_edit_clear(&p->edits[i]);
	free(p->edits);
	free(p->params);
	free(p->message);
	for (size_t i = 0; i < p->ncopies; i++)
		sql_copy_clear(&p->copies[i]);
	free(p->copies);
	for (size_t i = 0; i < p->nprepared; i++)
		prepared_clear(&p->prepared[i]);
	free(p->prepared);
	for (size_t i = 0; i < p->nnsops; i++)
		free(p->nsops[i].name);
	free(p->nsops);
	free(p->result);
	for (size_t i = 0; i < p->ndefined_views; i++)
		free(p->defined_views[i]);
	free(p->defined_views);
	free(p);
}

const struct sql_copy *sql_plan_copy(const struct sql_plan *p, int statement)
{
	for (size_t i = 0; p && i < p->ncopies; i++)
		if (p->copies[i].statement == statement)
			return &p->copies[i];
	return NULL;
}

void sql_copy_dup(struct sql_copy *dst, const struct sql_copy *src)
{
	*dst = *src;
	dst->null_string = src->null_string ? pgs_xstrdup(src->null_string) : NULL;
	dst->columns = NULL;
	if (src->columns) {
		/* an array of pointers: sizeof(*p) is a pointer's size, as meant */
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		dst->columns = pgs_xcalloc(src->ncolumns + 1, sizeof(*dst->columns));
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		memcpy(dst->columns, src->columns, src->ncolumns * sizeof(*dst->columns));
	}
}

void sql_copy_clear(struct sql_copy *cp)
{
	free(cp->null_string);
	free(cp->columns);
	memset(cp, 0, sizeof(*cp));
}

struct sbuf {
	char *d;
	size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n + 1) {
		size_t want = b->n + n + 1;
		size_t cap = b->cap ? b->cap : 256;
		while (cap < want)
			cap *= 2;
		char *nd = pgs_xmalloc(cap);
		if (b->d) {
			memcpy(nd, b->d, b->n);
			OPENSSL_cleanse(b->d, b->cap);
			free(b->d);
		}
		b->d = nd;
		b->cap = cap;
	}
	memcpy(b->d + b->n, s, n);
	b->n += n;
	b->d[b->n] = '\0';
}

int sql_plan_render(const struct sql_plan *p, const char *sql, size_t len, sql_encrypt_fn enc,
                    void *arg, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct sbuf b = {0};
	size_t pos = 0;
	*out = NULL;
	*outlen = 0;
	if (p->refused) {
		pgs_errf(err, errlen, "%s", p->message ? p->message : "statement refused");
		return PGS_ERR;
	}
	len = strnlen(sql, len);
	sb_put(&b, "", 0);
	for (size_t i = 0; i < p->nedits; i++) {
		const struct sql_edit *e = &p->edits[i];
		if (e->offset < pos || e->offset + (size_t)e->len > len) {
			pgs_errf(err, errlen, "internal error: plan does not match the statement");
			goto fail;
		}
		sb_put(&b, sql + pos, e->offset - pos);
		if (e->kind == SQL_EDIT_TEXT) {
			sb_put(&b, e->text, strlen(e->text));
		} else if (e->value_null) {
			sb_put(&b, "NULL", 4);
		} else {
			char *v = NULL;
			if (!enc ||
			    enc(arg, e->column, e->mode, e->value, e->value_len, &v, err, errlen) !=
			        PGS_OK ||
			    !v) {
				free(v);
				goto fail;
			}
			sb_put(&b, v, strlen(v));
			free(v);
		}
		pos = e->offset + e->len;
	}
	sb_put(&b, sql + pos, len - pos);
	*out = b.d;
	*outlen = b.n;
	return PGS_OK;
fail:
	if (b.d) {
		OPENSSL_cleanse(b.d, b.cap);
		free(b.d);
	}
	return PGS_ERR;
}
