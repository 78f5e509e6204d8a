/* sql_plan.c - building, checking, rendering and freeing plans; the fast-path table-name search;
 * COPY options. */
#include "sql/sql_internal.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sql_node_type(json_t *node, json_t **body)
{
	if (!json_is_object(node) || json_object_size(node) != 1)
		return NULL;
	void *it = json_object_iter(node);
	const char *k = json_object_iter_key(it);
	json_t *v = json_object_iter_value(it);
	if (!k || !(k[0] >= 'A' && k[0] <= 'Z') || !json_is_object(v))
		return NULL;
	if (body)
		*body = v;
	return k;
}

json_t *sql_node_is(json_t *node, const char *type)
{
	json_t *b;
	const char *t = sql_node_type(node, &b);
	return (t && strcmp(t, type) == 0) ? b : NULL;
}

const char *sql_jstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int sql_refuse(struct sql_ctx *c, const char *sqlstate, const char *fmt, ...)
{
	struct sql_plan *p = c->plan;
	if (p->refused)
		return PGS_ERR;
	p->refused = true;
	p->touches_encrypted = true;
	snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", sqlstate);
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	p->message = pgs_xstrdup(buf);
	return PGS_ERR;
}

static struct sql_edit *new_edit(struct sql_ctx *c)
{
	struct sql_plan *p = c->plan;
	if (p->nedits == c->capedits) {
		c->capedits = c->capedits ? c->capedits * 2 : 16;
		p->edits = pgs_xrealloc(p->edits, c->capedits * sizeof(*p->edits));
	}
	struct sql_edit *e = &p->edits[p->nedits++];
	memset(e, 0, sizeof(*e));
	return e;
}

void sql_add_text_edit(struct sql_ctx *c, uint32_t start, uint32_t end, char *text)
{
	struct sql_edit *e = new_edit(c);
	e->kind = SQL_EDIT_TEXT;
	e->offset = start;
	e->len = end - start;
	e->text = text;
}

void sql_add_literal_edit(struct sql_ctx *c, uint32_t start, uint32_t end,
                          const struct schema_column *col, enum sql_value_mode mode, char *value,
                          size_t vlen)
{
	struct sql_edit *e = new_edit(c);
	e->kind = SQL_EDIT_LITERAL;
	e->offset = start;
	e->len = end - start;
	e->column = col;
	e->mode = mode;
	e->value = value;
	e->value_len = vlen;
}

static void edit_clear(struct sql_edit *e)
{
	if (e->kind == SQL_EDIT_TEXT)
		free((char *)e->text);
	if (e->value) {
		OPENSSL_cleanse(e->value, e->value_len);
		free(e->value);
	}
	memset(e, 0, sizeof(*e));
}

static int edit_cmp(const void *a, const void *b)
{
	const struct sql_edit *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

static bool edit_same(const struct sql_edit *x, const struct sql_edit *y)
{
	if (x->offset != y->offset || x->len != y->len || x->kind != y->kind)
		return false;
	if (x->kind == SQL_EDIT_TEXT)
		return strcmp(x->text, y->text) == 0;
	return x->column == y->column && x->mode == y->mode;
}

int sql_finish_edits(struct sql_ctx *c)
{
	struct sql_plan *p = c->plan;
	if (p->nedits == 0)
		return PGS_OK;
	qsort(p->edits, p->nedits, sizeof(*p->edits), edit_cmp);
	size_t w = 0;
	for (size_t r = 0; r < p->nedits; r++) {
		if (w > 0 && edit_same(&p->edits[w - 1], &p->edits[r])) {
			edit_clear(&p->edits[r]);
			continue;
		}
		if (w > 0 && p->edits[w - 1].offset + p->edits[w - 1].len > p->edits[r].offset) {
			for (size_t k = r; k < p->nedits; k++)
				edit_clear(&p->edits[k]);
			p->nedits = w;
			return sql_refuse(c, "0A000",
			                  "pgseal could not rewrite this statement safely "
			                  "(overlapping rewrites)");
		}
		if (w != r)
			p->edits[w] = p->edits[r];
		w++;
	}
	p->nedits = w;
	return PGS_OK;
}

void sql_sink_param(struct sql_ctx *c, int number, const struct schema_column *col,
                    enum sql_value_mode mode, bool array)
{
	struct sql_psink *k = c->sink;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 8;
		k->v = pgs_xrealloc(k->v, k->cap * sizeof(*k->v));
	}
	k->v[k->n++] =
	    (struct sql_param){.number = number, .column = col, .mode = mode, .array = array};
}

void sql_sink_plain(struct sql_ctx *c, int number)
{
	struct sql_psink *k = c->sink;
	if (k->nplain == k->capplain) {
		k->capplain = k->capplain ? k->capplain * 2 : 8;
		k->plain = pgs_xrealloc(k->plain, k->capplain * sizeof(*k->plain));
	}
	k->plain[k->nplain++] = number;
}

static int param_cmp(const void *a, const void *b)
{
	const struct sql_param *x = a, *y = b;
	return (x->number > y->number) - (x->number < y->number);
}

/* One $n must mean one thing: a single column and mode, never also a plain value. */
int sql_sink_finish(struct sql_ctx *c, struct sql_psink *k)
{
	if (k->n == 0)
		return PGS_OK;
	qsort(k->v, k->n, sizeof(*k->v), param_cmp);
	size_t w = 0;
	for (size_t r = 0; r < k->n; r++) {
		struct sql_param *cur = &k->v[r];
		if (w > 0 && k->v[w - 1].number == cur->number) {
			struct sql_param *prev = &k->v[w - 1];
			if (prev->column != cur->column || prev->mode != cur->mode ||
			    prev->array != cur->array)
				return sql_refuse(c, "0A000",
				                  "parameter $%d is used for %s and %s in "
				                  "different ways; pgseal needs one "
				                  "parameter per encrypted use",
				                  cur->number, prev->column->qualified,
				                  cur->column->qualified);
			continue;
		}
		k->v[w++] = *cur;
	}
	k->n = w;
	for (size_t i = 0; i < k->n; i++)
		for (size_t j = 0; j < k->nplain; j++)
			if (k->plain[j] == k->v[i].number)
				return sql_refuse(c, "0A000",
				                  "parameter $%d is bound to encrypted column %s "
				                  "and also used elsewhere",
				                  k->v[i].number, k->v[i].column->qualified);
	return PGS_OK;
}

void sql_sink_free(struct sql_psink *k)
{
	free(k->v);
	free(k->plain);
	memset(k, 0, sizeof(*k));
}

bool sql_text_mentions(const char *text, size_t len, const char *word)
{
	size_t m = strlen(word);
	for (size_t i = 0; m && i + m <= len; i++)
		if (strncasecmp(text + i, word, m) == 0)
			return true;
	return false;
}

bool sql_may_rename_schema(const char *sql, size_t len)
{
	return sql_text_mentions(sql, len, "rename") && sql_text_mentions(sql, len, "schema");
}

bool sql_may_touch(const struct schema *s, const char *sql, size_t len)
{
	if (!s || s->ntables == 0)
		return false;
	/* U&"..." identifiers can spell any name with escapes: assume the worst. */
	if (sql_text_mentions(sql, len, "u&\""))
		return true;
	/* ALTER SCHEMA app RENAME TO ...: names no table, but the config's `app.accounts` */
	if (sql_may_rename_schema(sql, len))
		return true;
	for (size_t i = 0; i < s->ntables; i++) {
		const char *name = s->tables[i].name;
		const char *dot = strrchr(name, '.');
		const char *rel = dot ? dot + 1 : name;
		if (sql_text_mentions(sql, len, rel))
			return true;
	}
	return false;
}

bool sql_may_execute(const char *sql, size_t len)
{
	return sql_text_mentions(sql, len, "execute");
}

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
		edit_clear(&p->edits[i]);
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
