/* codec_dump.c - helper of pg_crosscheck.py: "type<TAB>text" lines -> canonical as binary hex and text. */
#include <stdio.h>
#include <string.h>
#include "codec/codec.h"
#include "crypto/crypto.h"
/* stdin: lines "type<TAB>text"; stdout: "ok<TAB>binhex<TAB>textout" or "err" */
int main(void);
int main(void)
{
	char line[4096];
	struct pgs_buf c = {0}, b = {0}, t = {0};
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *tab = strchr(line, '\t');
		if (!tab) {
			puts("err");
			continue;
		}
		*tab = 0;
		enum codec_type ty;
		if (codec_type_by_name(line, &ty) ||
		    codec_to_canonical(ty, 0, 0, (uint8_t *)tab + 1, strlen(tab + 1), &c) ||
		    codec_from_canonical(ty, 1, c.data, c.len, &b) ||
		    codec_from_canonical(ty, 0, c.data, c.len, &t)) {
			puts("err");
			continue;
		}
		static char hx[20000];
		pgs_hex(b.data, b.len, hx);
		printf("ok\t%s\t%.*s\n", hx, (int)t.len, (char *)t.data);
	}
	return 0;
}
