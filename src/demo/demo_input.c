/* demo_input.c - pgseal-demo's request validation: strict UTF-8 (codec_utf8_valid), the person fields, the JSON body
 * of POST /api/people. */
#include "demo/demo_input.h"

#include "codec/codec.h"

#include <jansson.h>
#include <string.h>

/* C0 controls and DEL in ASCII; C1 controls (U+0080..U+009F, encoded c2 80..c2 9f). */
static bool has_control(const uint8_t *s, size_t n, bool allow_tab_nl)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f) {
			if (allow_tab_nl && (s[i] == '\t' || s[i] == '\n'))
				continue;
			return true;
		}
		if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

int demo_check_name(const char *s, size_t n, char *err, size_t errlen)
{
	const uint8_t *u = (const uint8_t *)s;
	if (n == 0) {
		pgs_errf(err, errlen, "name: required");
		return PGS_ERR;
	}
	if (n > DEMO_NAME_MAX) {
		pgs_errf(err, errlen, "name: longer than %d bytes", DEMO_NAME_MAX);
		return PGS_ERR;
	}
	if (!codec_utf8_valid(u, n)) {
		pgs_errf(err, errlen, "name: not valid UTF-8");
		return PGS_ERR;
	}
	if (has_control(u, n, false)) {
		pgs_errf(err, errlen, "name: control characters are not allowed");
		return PGS_ERR;
	}
	size_t sp = 0;
	while (sp < n && s[sp] == ' ')
		sp++;
	if (sp == n) {
		pgs_errf(err, errlen, "name: only spaces");
		return PGS_ERR;
	}
	return PGS_OK;
}

static bool email_local_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool email_domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

int demo_check_email(const char *s, size_t n, char *err, size_t errlen)
{
	if (n == 0) {
		pgs_errf(err, errlen, "email: required");
		return PGS_ERR;
	}
	if (n > DEMO_EMAIL_MAX) {
		pgs_errf(err, errlen, "email: longer than %d bytes", DEMO_EMAIL_MAX);
		return PGS_ERR;
	}
	const char *at = memchr(s, '@', n);
	if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1)) {
		pgs_errf(err, errlen, "email: must be local@domain with one '@'");
		return PGS_ERR;
	}
	size_t local = (size_t)(at - s), dom = n - local - 1;
	if (local == 0 || local > DEMO_EMAIL_LOCAL_MAX) {
		pgs_errf(err, errlen, "email: the part before '@' must be 1 to %d characters",
		         DEMO_EMAIL_LOCAL_MAX);
		return PGS_ERR;
	}
	for (size_t i = 0; i < local; i++) {
		if (!email_local_char(s[i])) {
			pgs_errf(err, errlen,
			         "email: only letters, digits and . _ %% + - before '@'");
			return PGS_ERR;
		}
	}
	if (s[0] == '.' || s[local - 1] == '.' || memmem(s, local, "..", 2)) {
		pgs_errf(err, errlen, "email: no leading, trailing or double dot before '@'");
		return PGS_ERR;
	}
	const char *d = at + 1;
	size_t labels = 0, lab = 0;
	for (size_t i = 0; i <= dom; i++) {
		if (i == dom || d[i] == '.') {
			if (lab == 0 || lab > 63 || d[i - lab] == '-' || d[i - 1] == '-') {
				pgs_errf(
				    err, errlen,
				    "email: the domain needs labels of 1 to 63 letters, digits or "
				    "inner hyphens, separated by dots");
				return PGS_ERR;
			}
			labels++;
			lab = 0;
			continue;
		}
		if (!email_domain_char(d[i])) {
			pgs_errf(err, errlen, "email: only letters, digits, '-' and '.' after '@'");
			return PGS_ERR;
		}
		lab++;
	}
	if (labels < 2) {
		pgs_errf(err, errlen, "email: the domain needs a dot (example.com)");
		return PGS_ERR;
	}
	return PGS_OK;
}

int demo_check_ssn(const char *s, size_t n, char *err, size_t errlen)
{
	static const char shape[] = "ddd-dd-dddd";
	bool ok = n == DEMO_SSN_LEN;
	for (size_t i = 0; ok && i < n; i++)
		ok = shape[i] == '-' ? s[i] == '-' : (s[i] >= '0' && s[i] <= '9');
	if (!ok) {
		pgs_errf(err, errlen, "ssn: must be NNN-NN-NNNN (digits)");
		return PGS_ERR;
	}
	return PGS_OK;
}

int demo_check_note(const char *s, size_t n, char *err, size_t errlen)
{
	const uint8_t *u = (const uint8_t *)s;
	if (n > DEMO_NOTE_MAX) {
		pgs_errf(err, errlen, "note: longer than %d bytes", DEMO_NOTE_MAX);
		return PGS_ERR;
	}
	if (!codec_utf8_valid(u, n)) {
		pgs_errf(err, errlen, "note: not valid UTF-8");
		return PGS_ERR;
	}
	if (has_control(u, n, true)) {
		pgs_errf(err, errlen, "note: control characters other than tab and newline");
		return PGS_ERR;
	}
	return PGS_OK;
}

typedef int (*demo_check_fn)(const char *, size_t, char *, size_t);

static const struct {
	const char *key;
	size_t off, cap;
	bool required;
	demo_check_fn check;
} FIELDS[] = {
    {"name", offsetof(struct demo_person, name), DEMO_NAME_MAX + 1, true, demo_check_name},
    {"email", offsetof(struct demo_person, email), DEMO_EMAIL_MAX + 1, true, demo_check_email},
    {"ssn", offsetof(struct demo_person, ssn), DEMO_SSN_LEN + 1, true, demo_check_ssn},
    {"note", offsetof(struct demo_person, note), DEMO_NOTE_MAX + 1, false, demo_check_note},
};

int demo_person_parse(const uint8_t *body, size_t len, struct demo_person *out, char *err,
                      size_t errlen)
{
	json_error_t je;
	json_t *o = NULL;
	int rc = PGS_ERR;

	memset(out, 0, sizeof(*out));
	if (len > DEMO_BODY_MAX) {
		pgs_errf(err, errlen, "request body larger than %d bytes", DEMO_BODY_MAX);
		return PGS_ERR;
	}
	if (!codec_utf8_valid(body, len)) {
		pgs_errf(err, errlen, "request body is not valid UTF-8");
		return PGS_ERR;
	}
	/* jansson's message can quote the input: only its position is reported */
	o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		pgs_errf(err, errlen, "request body is not valid JSON (at byte %d)", je.position);
		return PGS_ERR;
	}
	if (!json_is_object(o)) {
		pgs_errf(err, errlen, "request body must be a JSON object");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		bool known = false;
		for (size_t i = 0; i < PGS_ARRAY_LEN(FIELDS); i++)
			known = known || !strcmp(key, FIELDS[i].key);
		if (!known) {
			pgs_errf(err, errlen, "unknown member (allowed: name, email, ssn, note)");
			goto out;
		}
	}
	for (size_t i = 0; i < PGS_ARRAY_LEN(FIELDS); i++) {
		v = json_object_get(o, FIELDS[i].key);
		if (!v && !FIELDS[i].required)
			continue;
		if (!v) {
			pgs_errf(err, errlen, "%s: required", FIELDS[i].key);
			goto out;
		}
		if (!json_is_string(v)) {
			pgs_errf(err, errlen, "%s: must be a string", FIELDS[i].key);
			goto out;
		}
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (FIELDS[i].check(s, n, err, errlen) != PGS_OK)
			goto out;
		if (n >= FIELDS[i].cap) { /* the checks bound n; this guards the copy regardless */
			pgs_errf(err, errlen, "%s: too long", FIELDS[i].key);
			goto out;
		}
		memcpy((char *)out + FIELDS[i].off, s, n);
		((char *)out + FIELDS[i].off)[n] = 0;
	}
	rc = PGS_OK;
out:
	if (rc != PGS_OK)
		memset(out, 0, sizeof(*out));
	json_decref(o);
	return rc;
}
