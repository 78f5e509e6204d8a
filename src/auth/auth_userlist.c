/* auth_userlist.c - PgBouncer-style userlist files: `"user" "secret"` per line. */
#include "auth/auth_int.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#define USERLIST_FIELD_MAX 4096
#define USERLIST_ENTRIES_MAX 1000000

struct auth_userlist_entry {
	char *user;
	char *secret;
	size_t secret_len;
	size_t line;
};

struct auth_userlist {
	struct auth_userlist_entry *e;
	size_t n, cap;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Reads one quoted field at text[*pos] ("" stands for "), into a malloc'd string. */
static int read_quoted(const char *t, size_t len, size_t *pos, char **out, size_t *outlen,
                       const char **why)
{
	size_t i = *pos, n = 0;
	char *buf;
	if (i >= len || t[i] != '"') {
		*why = "expected a double-quoted field";
		return AUTH_ERR_INVALID;
	}
	buf = pgs_xmalloc(USERLIST_FIELD_MAX + 1);
	for (i++;; i++) {
		if (i >= len || t[i] == '\n') {
			*why = "unterminated quoted field";
			goto bad;
		}
		if (t[i] == '"') {
			if (i + 1 < len && t[i + 1] == '"')
				i++;
			else
				break;
		}
		if (n == USERLIST_FIELD_MAX) {
			*why = "field too long";
			goto bad;
		}
		buf[n++] = t[i];
	}
	buf[n] = '\0';
	*pos = i + 1;
	*out = buf;
	*outlen = n;
	return AUTH_OK;
bad:
	OPENSSL_cleanse(buf, USERLIST_FIELD_MAX + 1);
	free(buf);
	return AUTH_ERR_INVALID;
}

static void free_secret(char *s, size_t n)
{
	if (s) {
		OPENSSL_cleanse(s, n);
		free(s);
	}
}

static int entry_cmp(const void *a, const void *b)
{
	const struct auth_userlist_entry *x = a, *y = b;
	int c = strcmp(x->user, y->user);
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

int auth_userlist_parse(const char *text, size_t len, struct auth_userlist **out, char *err,
                        size_t errlen)
{
	struct auth_userlist *ul = pgs_xcalloc(1, sizeof(*ul));
	size_t pos = 0, line = 1;
	const char *why = NULL;
	*out = NULL;
	if (!text && len) {
		why = "no text";
		goto bad;
	}
	if (len && memchr(text, '\0', len)) {
		why = "NUL byte in file";
		goto bad;
	}
	while (pos < len) {
		char *user = NULL, *secret = NULL;
		size_t ulen = 0, slen = 0;
		while (pos < len && is_blank(text[pos]))
			pos++;
		if (pos >= len)
			break;
		if (text[pos] == '\n') {
			pos++;
			line++;
			continue;
		}
		if (text[pos] == ';' || text[pos] == '#') {
			while (pos < len && text[pos] != '\n')
				pos++;
			continue;
		}
		if (read_quoted(text, len, &pos, &user, &ulen, &why) != AUTH_OK)
			goto bad;
		if (ulen == 0) {
			free(user);
			why = "empty user name";
			goto bad;
		}
		while (pos < len && is_blank(text[pos]))
			pos++;
		if (read_quoted(text, len, &pos, &secret, &slen, &why) != AUTH_OK) {
			free(user);
			goto bad;
		}
		if (ul->n == USERLIST_ENTRIES_MAX) {
			free(user);
			free_secret(secret, slen);
			why = "too many entries";
			goto bad;
		}
		if (ul->n == ul->cap) {
			ul->cap = ul->cap ? ul->cap * 2 : 16;
			ul->e = pgs_xrealloc(ul->e, ul->cap * sizeof(*ul->e));
		}
		ul->e[ul->n++] = (struct auth_userlist_entry){user, secret, slen, line};
		/* PgBouncer ignores the rest of the line. */
		while (pos < len && text[pos] != '\n')
			pos++;
	}
	/* sorted for bsearch; equal neighbours are duplicates (reported at the later line) */
	if (ul->n > 1)
		qsort(ul->e, ul->n, sizeof(*ul->e), entry_cmp);
	for (size_t i = 1; i < ul->n; i++) {
		if (strcmp(ul->e[i - 1].user, ul->e[i].user) == 0) {
			line =
			    ul->e[i - 1].line > ul->e[i].line ? ul->e[i - 1].line : ul->e[i].line;
			why = "duplicate user";
			goto bad;
		}
	}
	*out = ul;
	return AUTH_OK;
bad:
	pgs_errf(err, errlen, "line %zu: %s", line, why);
	auth_userlist_free(ul);
	return AUTH_ERR_INVALID;
}

const char *auth_userlist_lookup(const struct auth_userlist *ul, const char *user)
{
	size_t lo = 0, hi;
	if (!ul || !user)
		return NULL;
	hi = ul->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(user, ul->e[mid].user);
		if (c == 0)
			return ul->e[mid].secret;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t auth_userlist_count(const struct auth_userlist *ul)
{
	return ul ? ul->n : 0;
}

void auth_userlist_free(struct auth_userlist *ul)
{
	if (!ul)
		return;
	for (size_t i = 0; i < ul->n; i++) {
		free(ul->e[i].user);
		free_secret(ul->e[i].secret, ul->e[i].secret_len);
	}
	free(ul->e);
	free(ul);
}
