/* demo_assets.c - pgseal-demo's static page (src/demo/assets/), embedded in the binary so that it
 * works offline inside a CVM. */
#include "demo/demo.h"

#include <pthread.h>
#include <string.h>

/* The files are included by the assembler (.incbin, paths relative to the repository root,
 * where make runs); the Makefile makes this object depend on them. Each is followed by a
 * NUL byte and its end label. `sym` names a declared array, where parentheses cannot go (the
 * NOLINT on that line). */
#define DEMO_INCBIN(sym, file)                                                                     \
	__asm__(".section .rodata\n"                                                               \
	        ".global " #sym "\n"                                                               \
	        ".balign 16\n" #sym ":\n"                                                          \
	        ".incbin \"" file "\"\n"                                                           \
	        ".global " #sym "_end\n" #sym "_end:\n"                                            \
	        ".byte 0\n"                                                                        \
	        ".previous\n");                                                                    \
	extern const char sym[]; /* NOLINT(bugprone-macro-parentheses) */                          \
	extern const char sym##_end[]

DEMO_INCBIN(demo_index_html, "src/demo/assets/index.html");
DEMO_INCBIN(demo_app_js, "src/demo/assets/app.js");
DEMO_INCBIN(demo_style_css, "src/demo/assets/style.css");

static struct demo_asset assets[3];
static pthread_once_t assets_once = PTHREAD_ONCE_INIT;

/* Sizes are only known at link time, hence a run-time table (filled once). */
static void assets_init(void)
{
	static const char *const paths[] = {"/", "/app.js", "/style.css"};
	const char *begin[] = {demo_index_html, demo_app_js, demo_style_css};
	const char *end[] = {demo_index_html_end, demo_app_js_end, demo_style_css_end};
	const char *types[] = {"text/html; charset=utf-8", "text/javascript; charset=utf-8",
	                       "text/css; charset=utf-8"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(assets); i++)
		assets[i] =
		    (struct demo_asset){paths[i], types[i], begin[i], (size_t)(end[i] - begin[i])};
}

const struct demo_asset *demo_asset_find(const char *path)
{
	pthread_once(&assets_once, assets_init);
	if (!strcmp(path, "/index.html"))
		path = "/";
	for (size_t i = 0; i < PGS_ARRAY_LEN(assets); i++)
		if (!strcmp(path, assets[i].path))
			return &assets[i];
	return NULL;
}
