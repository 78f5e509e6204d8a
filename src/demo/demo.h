/* demo.h - pgseal-demo, the live demo page: configuration, the database side (through pgseal and
 * directly), the attestation panel, the static assets. */
#ifndef PGSEAL_DEMO_H
#define PGSEAL_DEMO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "demo/demo_input.h"

#define DEMO_MAX_ROWS_DEFAULT 100
#define DEMO_MAX_ROWS_LIMIT 10000
#define DEMO_SEARCH_LIMIT 20
#define DEMO_APP_NAME "pgseal-demo" /* application_name of both sessions */

struct demo_cfg {
	const char *listen; /* host:port of the page */
	const char
	    *pgseal_dsn;       /* libpq conninfo of pgseal's client port (the application's path) */
	const char *db_dsn;    /* libpq conninfo of PostgreSQL itself (the database view) */
	const char *admin_url; /* pgseal's admin base URL (GET /attestation), NULL: no panel */
	const char *table;     /* the demo table (a plain identifier) */
	const char *root_ca;   /* trust anchor for the quote (PEM/DER); NULL: Intel's root */
	const char *collateral; /* Intel PCS collateral JSON; NULL: no TCB status (untrusted) */
	const char *policy;     /* attestation policy YAML; NULL: none */
	int max_rows;           /* row cap: the oldest rows beyond it are deleted */
};

/* ---- database (demo_db.c) ---------------------------------------------------------------- */

/* A failure: the HTTP status to answer with and a message naming the hop that failed
 * ("pgseal: ...", "PostgreSQL (direct): ..."). Never holds a value someone typed. */
struct demo_err {
	unsigned status;
	char msg[512]; /* for the page */
	char log[512]; /* for the log: without PostgreSQL's message text, which can quote input */
};

struct demo_db;

/* Connections are opened lazily (and again after a failure); never fails at start. */
struct demo_db *demo_db_new(const struct demo_cfg *cfg);
void demo_db_free(struct demo_db *db);

/* Each returns a new JSON object, or NULL with *e set. Calls are serialised. */
json_t *demo_db_add(struct demo_db *db, const struct demo_person *p,
                    struct demo_err *e) PGS_MUSTCHECK;
json_t *demo_db_app_view(struct demo_db *db, struct demo_err *e) PGS_MUSTCHECK;
json_t *demo_db_db_view(struct demo_db *db, struct demo_err *e) PGS_MUSTCHECK;
json_t *demo_db_search(struct demo_db *db, const char *email, struct demo_err *e) PGS_MUSTCHECK;
json_t *demo_db_dump(struct demo_db *db, struct demo_err *e) PGS_MUSTCHECK;

/* ---- attestation (demo_attest.c) ---------------------------------------------------------- */

struct demo_attest;

struct demo_attest *demo_attest_new(const struct demo_cfg *cfg);
void demo_attest_free(struct demo_attest *a);
/* The panel: pgseal's /attestation verified in-process (verdict, measurements, replayed
 * facts, each policy rule, simulated or not). NULL with *e set on failure. */
json_t *demo_attest_panel(struct demo_attest *a, struct demo_err *e) PGS_MUSTCHECK;
/* The raw evidence as served by pgseal: the quote bytes, or the event log JSON text.
 * *out is malloc'd. */
int demo_attest_raw(struct demo_attest *a, bool event_log, uint8_t **out, size_t *len,
                    struct demo_err *e) PGS_MUSTCHECK;

/* ---- static assets (demo_assets.c) -------------------------------------------------------- */

struct demo_asset {
	const char *path;
	const char *content_type;
	const char *body;
	size_t len;
};

/* The asset served at PATH ("/" is index.html), NULL if none. */
const struct demo_asset *demo_asset_find(const char *path);

#endif
