/* demo_input.h - pgseal-demo's request validation: the JSON body of POST /api/people and the search
 * email (shared with the unit tests and the fuzz target). */
#ifndef PGSEAL_DEMO_INPUT_H
#define PGSEAL_DEMO_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Limits, in bytes (UTF-8). A body larger than DEMO_BODY_MAX is refused before parsing. */
#define DEMO_NAME_MAX 100
#define DEMO_EMAIL_MAX 254
#define DEMO_EMAIL_LOCAL_MAX 64
#define DEMO_SSN_LEN 11 /* NNN-NN-NNNN */
#define DEMO_NOTE_MAX 500
#define DEMO_BODY_MAX 4096

/* A validated person: NUL-terminated, valid UTF-8, within the limits above. */
struct demo_person {
	char name[DEMO_NAME_MAX + 1];
	char email[DEMO_EMAIL_MAX + 1];
	char ssn[DEMO_SSN_LEN + 1];
	char note[DEMO_NOTE_MAX + 1];
};

/*
 * Field checks. Each returns PGS_OK or PGS_ERR with err naming the field and the rule that
 * failed; the value itself never appears in err (it may be a secret someone typed).
 *  name:  1..DEMO_NAME_MAX bytes, UTF-8, no control characters, not only spaces;
 *  email: ASCII local@domain, local part [A-Za-z0-9._%+-] (no leading, trailing or double
 *         dot), domain of at least two labels [A-Za-z0-9-] (no leading/trailing hyphen);
 *         the alphabet has no quote or backslash, so it cannot end an SQL string literal;
 *  ssn:   exactly NNN-NN-NNNN (digits);
 *  note:  0..DEMO_NOTE_MAX bytes, UTF-8, no control characters except tab and newline.
 */
int demo_check_name(const char *s, size_t n, char *err, size_t errlen) PGS_MUSTCHECK;
int demo_check_email(const char *s, size_t n, char *err, size_t errlen) PGS_MUSTCHECK;
int demo_check_ssn(const char *s, size_t n, char *err, size_t errlen) PGS_MUSTCHECK;
int demo_check_note(const char *s, size_t n, char *err, size_t errlen) PGS_MUSTCHECK;

/* Parses and validates the JSON body {"name","email","ssn","note"} (note may be absent):
 * an object with exactly these string members, no duplicates, at most DEMO_BODY_MAX bytes.
 * On failure *out is zeroed and err says why (never quoting a value). */
int demo_person_parse(const uint8_t *body, size_t len, struct demo_person *out, char *err,
                      size_t errlen) PGS_MUSTCHECK;

#endif
