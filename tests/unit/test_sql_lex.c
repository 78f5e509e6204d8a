/* test_sql_lex.c - unit tests of the analysis under the session's standard_conforming_strings:
 * literals read as the server reads them, texts whose reading depends on the setting refused. */
#include "test_sql_expect.h"

/* Like rw() (test_sql_expect.h), through sql_analyze_lex with the given settings. */
static char *rw_lex(const char *sql, bool scs_off, bool settled)
{
	struct sql_lex lex = {.scs_off = scs_off, .settled = settled};
	struct sql_plan *p = NULL;
	int rc = sql_analyze_lex(S, V, sql, strlen(sql), NULL, NULL, &lex, &p);
	return rw_outcome(sql, rc, p);
}

static void lex_at(int line, const char *sql, bool off, bool settled, const char *want)
{
	char *got = rw_lex(sql, off, settled);
	check_got(line, sql, want, got, strcmp(got, want) == 0);
	free(got);
}
/* settled: nothing in flight; LEX_RACE: a request in flight may change the setting */
#define LEX_ON(sql, want) lex_at(__LINE__, sql, false, true, want)
#define LEX_OFF(sql, want) lex_at(__LINE__, sql, true, true, want)
#define LEX_RACE(sql, off, want) lex_at(__LINE__, sql, off, false, want)

static void lex_refused_at(int line, const char *sql, bool off, bool settled, const char *needle)
{
	char *got = rw_lex(sql, off, settled);
	char want[512];
	snprintf(want, sizeof(want), "REFUSED 0A000: ...%s", needle);
	check_got(line, sql, want, got,
	          strncmp(got, "REFUSED 0A000: ", 15) == 0 && strstr(got, needle) != NULL);
	/* a refusal never carries a value of the statement */
	CHECK(strstr(got, "SECRET") == NULL);
	free(got);
}
#define LEX_REFUSED(sql, off, settled, needle) lex_refused_at(__LINE__, sql, off, settled, needle)

/* The audit's statement: under off, 'SECRET' is the email; under on, a comment. */
static const char audit[] =
    "INSERT INTO users (id, name, email) VALUES (2002, 'x\\', NULL) -- ', 'SECRET')";

static void test_audit_statement(void)
{
	/* whatever pgseal believes, the two readings differ: refused, naming the column */
	LEX_REFUSED(audit, false, true, "users.email");
	LEX_REFUSED(audit, true, true, "users.email");
	LEX_REFUSED(audit, false, false, "standard_conforming_strings");
	LEX_REFUSED(audit, true, false, "standard_conforming_strings");
	/* the old entry point (libpg_query's default, on) would have let it through */
	char *old = rw(audit);
	CHECK(strstr(old, "SECRET") != NULL);
	free(old);
	/* under on a plain SELECT and a comment; under off an INSERT of the secret */
	LEX_REFUSED("SELECT 'x\\', 1 --'; INSERT INTO users (email) VALUES ('SECRET') --", false,
	            true, "users.email");
	/* texts that are a syntax error under off: the server refuses them there, so when the
	 * setting is settled the reading under on is the one; while it may be changing, refused
	 * (a newer server's grammar might accept what PostgreSQL 15's does not) */
	static const char *const syntax_off[] = {
	    "INSERT INTO users (name, email) VALUES ('a\\', '') , ('', 'SECRET') --')",
	    "SELECT 1 FROM users WHERE name = 'a\\' OR email = 'SECRET' --'",
	    "UPDATE users SET name = 'q\\', email = 'SECRET' WHERE id = 1 --'",
	    "PREPARE p AS INSERT INTO users (id, email) VALUES ($1, 'a\\'), ($2, 'SECRET') --')"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(syntax_off); i++) {
		LEX_REFUSED(syntax_off[i], false, false, "standard_conforming_strings");
		char *got = rw_lex(syntax_off[i], false, true);
		CHECK(strstr(got, "ENC(email:") != NULL && strstr(got, ":SECRET)") != NULL);
		free(got);
	}
	LEX_ON("UPDATE users SET name = 'q\\', email = 'SECRET' WHERE id = 1 --'",
	       "UPDATE users SET name = 'q\\', email = ENC(email:RECORD:SECRET) WHERE id = 1 --'");
	/* the usual form under off, \' for a quote: a syntax error under on */
	LEX_OFF("INSERT INTO users (email) VALUES ('it\\'s')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:it's))");
	LEX_REFUSED("INSERT INTO users (email) VALUES ('it\\'s')", true, false,
	            "standard_conforming_strings");
}

static void test_values_by_setting(void)
{
	/* no backslash: one reading, whatever the setting */
	LEX_ON("INSERT INTO users (email) VALUES ('a''b')",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:a'b))");
	LEX_OFF("INSERT INTO users (email) VALUES ('a''b')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:a'b))");
	LEX_RACE("INSERT INTO users (email) VALUES ('a''b')", false,
	         "INSERT INTO users (email) VALUES (ENC(email:RECORD:a'b))");
	/* a backslash in an encrypted value: the session's setting decides, when settled */
	LEX_ON("INSERT INTO users (email) VALUES ('a\\\\b')",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\\\b))");
	LEX_OFF("INSERT INTO users (email) VALUES ('a\\\\b')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\b))");
	LEX_OFF("INSERT INTO users (email) VALUES ('tab\\there')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:tab\there))");
	LEX_OFF("INSERT INTO users (email) VALUES ('it\\'s')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:it's))");
	/* ... and is refused while a request in flight may change it */
	LEX_REFUSED("INSERT INTO users (email) VALUES ('a\\\\b')", false, false, "users.email");
	LEX_REFUSED("INSERT INTO users (email) VALUES ('a\\\\b')", true, false, "users.email");
	LEX_REFUSED("SELECT id FROM users WHERE email = 'a\\\\b'", true, false, "users.email");
	/* a backslash elsewhere (a plain column) changes nothing encrypted: fine even in a race */
	LEX_RACE("INSERT INTO users (name, email) VALUES ('C:\\\\dir', 'x')", false,
	         "INSERT INTO users (name, email) VALUES ('C:\\\\dir', ENC(email:RECORD:x))");
	LEX_RACE("INSERT INTO users (name, email) VALUES ('C:\\\\dir', 'x')", true,
	         "INSERT INTO users (name, email) VALUES ('C:\\\\dir', ENC(email:RECORD:x))");
	/* a backslash at the end of a plain value: unterminated under off, so the server would
	 * refuse it there; under on it is a plain value */
	LEX_RACE("INSERT INTO users (email, name) VALUES ('y', 'x'), ('w', 'z\\')", false,
	         "INSERT INTO users (email, name) VALUES (ENC(email:RECORD:y), 'x'), "
	         "(ENC(email:RECORD:w), 'z\\')");
	/* a text naming no encrypted table is not analysed at all */
	LEX_RACE("SELECT 'a\\', 'SECRET' FROM logs", true, "PLAIN");
}

static void test_escape_forms(void)
{
	/* E'...' reads the same under both settings */
	LEX_ON("INSERT INTO users (email) VALUES (E'a\\\\b')",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\b))");
	LEX_OFF("INSERT INTO users (email) VALUES (E'a\\\\b')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\b))");
	LEX_RACE("INSERT INTO users (email) VALUES (E'a\\'b')", true,
	         "INSERT INTO users (email) VALUES (ENC(email:RECORD:a'b))");
	/* dollar quotes: no escapes under either */
	LEX_RACE("INSERT INTO users (email) VALUES ($$a\\b$$)", true,
	         "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\b))");
	/* U&'...' under on; under off the server refuses it (unsafe use of ... Unicode escapes) */
	LEX_ON("INSERT INTO users (email) VALUES (U&'d\\0061t')",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:dat))");
	LEX_RACE("INSERT INTO users (email) VALUES (U&'d\\0061t')", false,
	         "INSERT INTO users (email) VALUES (ENC(email:RECORD:dat))");
	LEX_REFUSED("INSERT INTO users (email) VALUES (U&'d\\0061t')", true, true,
	            "could not parse");
	/* N'...' is read as '...' */
	LEX_OFF("INSERT INTO users (email) VALUES (N'a\\tb')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\tb))");
	LEX_REFUSED("INSERT INTO users (email) VALUES (N'a\\tb')", false, false, "users.email");
	/* a typed literal and a cast */
	LEX_OFF("INSERT INTO users (salary) VALUES ('\\x342'::int8)",
	        "INSERT INTO users (salary) VALUES (ENC(salary:RECORD:42))");
	/* COPY options spelled with a backslash differ: refused */
	LEX_REFUSED("COPY users (id, email) FROM STDIN WITH (DELIMITER '\\t')", true, true,
	            "standard_conforming_strings");
}

static void test_other_statements(void)
{
	/* PREPARE: the inner statement's literals too */
	LEX_OFF("PREPARE p AS INSERT INTO users (email) VALUES ('a\\\\b')",
	        "PREPARE p AS INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\b))");
	/* a search, an IN list */
	LEX_OFF("SELECT id FROM users WHERE email IN ('a\\\\b', 'c')",
	        "SELECT id FROM users WHERE substr(email, 1, 33) IN (ENC(email:BLIND:a\\b), "
	        "ENC(email:BLIND:c))");
	/* views: a definition as pg_get_viewdef writes it under off (backslashes doubled) */
	struct sql_views *vs = sql_views_new();
	static const char *const cols[] = {"id", "email"};
	vs->scs_off = true;
	const struct sql_view *v =
	    sql_views_add(vs, S, NULL, "bv", cols, 2,
	                  "SELECT users.id, users.email FROM users WHERE name <> 'a\\\\'");
	CHECK(v->cols[1].col && !v->cols[1].tainted);
	/* the same text read under on is a different one: unterminated, all tainted */
	vs->scs_off = false;
	v = sql_views_add(vs, S, NULL, "bw", cols, 2,
	                  "SELECT users.id, users.email FROM users WHERE name <> 'a\\'");
	CHECK(v->cols[1].col && !v->cols[1].tainted);
	vs->scs_off = true;
	v = sql_views_add(vs, S, NULL, "bx", cols, 2,
	                  "SELECT users.id, users.email FROM users WHERE name <> 'a\\'");
	CHECK(!v->cols[1].col && v->cols[1].tainted);
	sql_views_free(vs);
}

static void test_thread_default_restored(void)
{
	/* an analysis under off leaves libpg_query's default (on) for the next one */
	LEX_OFF("INSERT INTO users (email) VALUES ('a\\\\b')",
	        "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\b))");
	EXPECT("INSERT INTO users (email) VALUES ('a\\\\b')",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:a\\\\b))");
	/* a refusal of the first reading stays one, whatever the other says */
	REFUSED("SELECT id FROM users WHERE email LIKE 'a\\%'", "users.email");
	LEX_REFUSED("SELECT id FROM users WHERE email LIKE 'a\\%'", true, true, "users.email");
	CHECK(sql_lex_neutral("SELECT 'a''b'", 13));
	CHECK(!sql_lex_neutral("SELECT 'a\\'", 11));
	/* the length bounds the search */
	CHECK(sql_lex_neutral("SELECT 1\\", 8));
}

int main(void)
{
	S = tsql_schema();
	RUN(test_audit_statement);
	RUN(test_values_by_setting);
	RUN(test_escape_forms);
	RUN(test_other_statements);
	RUN(test_thread_default_restored);
	return t_summary("test_sql_lex");
}
