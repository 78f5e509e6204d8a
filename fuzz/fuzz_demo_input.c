/* fuzz_demo_input.c - libFuzzer target: pgseal-demo's request validation (the JSON body of POST
 * /api/people, the search email). */
#include <string.h>

#include "codec/codec.h"
#include "demo/demo_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct demo_person p;
	char err[256];
	if (demo_person_parse(data, size, &p, err, sizeof(err)) == PGS_OK) {
		/* what is accepted must pass every field check again, within its bounds */
		if (strlen(p.name) > DEMO_NAME_MAX || strlen(p.email) > DEMO_EMAIL_MAX ||
		    strlen(p.ssn) != DEMO_SSN_LEN || strlen(p.note) > DEMO_NOTE_MAX ||
		    demo_check_name(p.name, strlen(p.name), err, sizeof(err)) != PGS_OK ||
		    demo_check_email(p.email, strlen(p.email), err, sizeof(err)) != PGS_OK ||
		    demo_check_note(p.note, strlen(p.note), err, sizeof(err)) != PGS_OK ||
		    strpbrk(p.email, "'\\\"") != NULL)
			__builtin_trap();
	}
	/* the search parameter arrives as raw bytes (percent-decoded) */
	if (demo_check_email((const char *)data, size, err, sizeof(err)) == PGS_OK &&
	    (memchr(data, '\'', size) || memchr(data, '\\', size)))
		__builtin_trap();
	(void)codec_utf8_valid(data, size);
	return 0;
}
