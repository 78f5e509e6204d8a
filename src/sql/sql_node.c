/* sql_node.c - the toolbox every analyzer uses, at the bottom of the module (it calls no other file
 * here): parse-tree node helpers, refusals, the plan's edit list, the parameter sink. */
#include "sql/sql_internal.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void sql_edit_clear(struct sql_edit *e)
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
	return PGS_OK;
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
			sql_edit_clear(&p->edits[r]);
			continue;
		}
		if (w > 0 && p->edits[w - 1].offset + p->edits[w - 1].len > p->edits[r].offset) {
			for (size_t k = r; k < p->nedits; k++)
				sql_edit_clear(&p->edits[k]);
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
