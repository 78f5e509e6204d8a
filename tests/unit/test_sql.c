/* test_sql.c - unit tests of the SQL analysis and rewriting: every supported form rendered exactly,
 * every refusal. */
#include "test_sql_expect.h"

static void test_plain(void)
{
	EXPECT("SELECT 1", "PLAIN");
	EXPECT("INSERT INTO logs (msg) VALUES ('hello')", "PLAIN");
	EXPECT("SELECT * FROM customers WHERE email = 'x'", "PLAIN");
	EXPECT("SELEC broken", "PLAIN");
	CHECK(!sql_may_touch(S, "SELECT 1", 8));
	CHECK(sql_may_touch(S, "select * from USERS", 19));
	CHECK(sql_may_touch(S, "select * from \"users\"", 21));
	CHECK(sql_may_touch(S, "select * from app.Accounts", 26));
	CHECK(sql_text_mentions("SELECT * FROM Users", 19, "users"));
	CHECK(!sql_text_mentions("SELECT * FROM Users", 18, "users")); /* only within len */
	CHECK(!sql_text_mentions("abc", 3, ""));                       /* an empty word: never */
	CHECK(!sql_text_mentions("us", 2, "users"));                   /* longer than the text */
	CHECK(sql_may_touch(S, "select * from U&\"\\0075sers\"", 27));
	CHECK(sql_may_execute("EXECUTE p(1)", 12));
	CHECK(!sql_may_execute("SELECT 1", 8));
}

static void test_insert(void)
{
	EXPECT("INSERT INTO users (id, email) VALUES (1, 'a@x.org')",
	       "INSERT INTO users (id, email) VALUES (1, ENC(email:RECORD:a@x.org))");
	EXPECT("INSERT INTO users (id, email, ssn) VALUES (1, 'a', 'b'), (2, NULL, DEFAULT), (3, "
	       "E'c\\n', $$d$$)",
	       "INSERT INTO users (id, email, ssn) VALUES (1, ENC(email:RECORD:a), "
	       "ENC(ssn:RECORD:b)), (2, NULL, "
	       "DEFAULT), (3, ENC(email:RECORD:c\n), ENC(ssn:RECORD:d))");
	EXPECT(
	    "INSERT INTO users (salary) VALUES (-42), (0), (12.5), (99999999999), ('7'::int8), "
	    "(CAST('8' AS int8))",
	    "INSERT INTO users (salary) VALUES (ENC(salary:RECORD:-42)), (ENC(salary:RECORD:0)), "
	    "(ENC(salary:RECORD:12.5)), (ENC(salary:RECORD:99999999999)), (ENC(salary:RECORD:7)), "
	    "(ENC(salary:RECORD:8))");
	EXPECT("INSERT INTO users (email) VALUES ('it''s'), ('a'\n 'b')",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:it's)), (ENC(email:RECORD:ab))");
	EXPECT("INSERT INTO users (ssn) VALUES ('2024-01-01'::date), (date '2024-01-02'), "
	       "('x'::character varying(10))",
	       "INSERT INTO users (ssn) VALUES (ENC(ssn:RECORD:2024-01-01)), "
	       "(ENC(ssn:RECORD:2024-01-02)), "
	       "(ENC(ssn:RECORD:x))");
	EXPECT("INSERT INTO users (ssn) VALUES ('2024-01-01 10:00'::timestamp with time zone)",
	       "INSERT INTO users (ssn) VALUES (ENC(ssn:RECORD:2024-01-01 10:00))");
	EXPECT("INSERT INTO users (ssn, salary) VALUES ('a'::text::varchar, - 5), ('b' /* c */ :: "
	       "text, +7)",
	       "INSERT INTO users (ssn, salary) VALUES (ENC(ssn:RECORD:a), ENC(salary:RECORD:-5)), "
	       "(ENC(ssn:RECORD:b), ENC(salary:RECORD:7))");
	EXPECT("INSERT INTO users (ssn) VALUES (U&'\\0041x')",
	       "INSERT INTO users (ssn) VALUES (ENC(ssn:RECORD:Ax))");
	/* no column list: the table's columns in order */
	EXPECT("INSERT INTO users VALUES (1, 'e', 's', 10, 'n')",
	       "INSERT INTO users VALUES (1, ENC(email:RECORD:e), ENC(ssn:RECORD:s), "
	       "ENC(salary:RECORD:10), 'n')");
	EXPECT("INSERT INTO public.users AS u (email) VALUES ('e') RETURNING u.id, email",
	       "INSERT INTO public.users AS u (email) VALUES (ENC(email:RECORD:e)) RETURNING u.id, "
	       "email");
	EXPECT("insert into USERS (EMAIL) values ('e')",
	       "insert into USERS (EMAIL) values (ENC(email:RECORD:e))");
	EXPECT("INSERT INTO users (email) VALUES (NULL::text)",
	       "INSERT INTO users (email) VALUES (NULL)");
	EXPECT("INSERT INTO users (id, email) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET email "
	       "= EXCLUDED.email",
	       "INSERT INTO users (id, email) VALUES (1, ENC(email:RECORD:a)) ON CONFLICT (id) DO "
	       "UPDATE SET email = "
	       "EXCLUDED.email");
	EXPECT("INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET ssn = 'z', name = "
	       "'n'",
	       "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET ssn = "
	       "ENC(ssn:RECORD:z), name = 'n'");
	EXPECT("INSERT INTO users (email) VALUES ('BAD')",
	       "RENDER ERROR: invalid value for users.email");
	EXPECT("WITH n AS (INSERT INTO users (email) VALUES ('q') RETURNING id) SELECT * FROM n",
	       "WITH n AS (INSERT INTO users (email) VALUES (ENC(email:RECORD:q)) RETURNING id) "
	       "SELECT * FROM n");
	EXPECT("INSERT INTO logs (msg) SELECT email FROM users WHERE email = 'k'",
	       "INSERT INTO logs (msg) SELECT email FROM users WHERE substr(email, 1, 33) = "
	       "ENC(email:BLIND:k)");
	EXPECT("INSERT INTO app.accounts (secret) VALUES ('s')",
	       "INSERT INTO app.accounts (secret) VALUES (ENC(secret:RECORD:s))");
}

static void test_insert_refused(void)
{
	REFUSED("INSERT INTO users (email) VALUES ('a' || 'b')", "users.email");
	REFUSED("INSERT INTO users (email) VALUES (lower('A'))",
	        "only constants, parameters, NULL and DEFAULT");
	REFUSED("INSERT INTO users (salary) VALUES (1 + 2)", "users.salary");
	REFUSED("INSERT INTO users (email) SELECT 'x'",
	        "INSERT ... SELECT into encrypted column users.email");
	REFUSED("INSERT INTO users (email) SELECT email FROM users", "users.email");
	REFUSED("INSERT INTO users (ssn) VALUES ((SELECT 'x'))", "users.ssn");
	REFUSED("INSERT INTO app.accounts VALUES ('x')", "without a column list");
	REFUSED("INSERT INTO users (ssn) VALUES (('x')::text)",
	        "could not read or locate the constant for users.ssn");
	REFUSED("INSERT INTO users (ssn) VALUES (B'101')", "users.ssn");
	REFUSED("INSERT INTO users (ssn) VALUES (-'5'::int8)", "users.ssn");
	REFUSED(
	    "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.ssn",
	    "users.email");
	REFUSED("INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET email = "
	        "users.email || 'x'",
	        "users.email");
}

static void test_update_delete(void)
{
	EXPECT(
	    "UPDATE users SET email = 'n', salary = NULL, ssn = DEFAULT, name = 'x' WHERE id = 3",
	    "UPDATE users SET email = ENC(email:RECORD:n), salary = NULL, ssn = DEFAULT, name = "
	    "'x' WHERE id = 3");
	EXPECT("UPDATE users u SET ssn = 's' WHERE u.email = 'e' RETURNING *",
	       "UPDATE users u SET ssn = ENC(ssn:RECORD:s) WHERE substr(u.email, 1, 33) = "
	       "ENC(email:BLIND:e) RETURNING *");
	EXPECT("UPDATE users SET email = email WHERE id = 1",
	       "UPDATE users SET email = email WHERE id = 1");
	REFUSED("UPDATE users SET email = ssn", "users.email");
	REFUSED("UPDATE users SET salary = salary + 1", "users.salary");
	REFUSED("UPDATE users SET (email, name) = ('a', 'b')",
	        "SET (...) = (...) on encrypted column users.email");
	EXPECT("DELETE FROM users WHERE email IN ('a', 'b') RETURNING email",
	       "DELETE FROM users WHERE substr(email, 1, 33) IN (ENC(email:BLIND:a), "
	       "ENC(email:BLIND:b)) RETURNING email");
	EXPECT("DELETE FROM orders o USING users u WHERE o.user_id = u.id AND u.email = 'z'",
	       "DELETE FROM orders o USING users u WHERE o.user_id = u.id AND substr(u.email, 1, "
	       "33) = "
	       "ENC(email:BLIND:z)");
}

static void test_search(void)
{
	EXPECT("SELECT * FROM users WHERE email = 'a@b'",
	       "SELECT * FROM users WHERE substr(email, 1, 33) = ENC(email:BLIND:a@b)");
	EXPECT("SELECT id FROM users WHERE 'a@b' = users.email",
	       "SELECT id FROM users WHERE ENC(email:BLIND:a@b) = substr(users.email, 1, 33)");
	EXPECT("SELECT id FROM users WHERE email <> 'x' AND email != 'y'",
	       "SELECT id FROM users WHERE substr(email, 1, 33) <> ENC(email:BLIND:x) AND "
	       "substr(email, 1, 33) != "
	       "ENC(email:BLIND:y)");
	EXPECT("SELECT id FROM users WHERE email NOT IN ('a', 'b')",
	       "SELECT id FROM users WHERE substr(email, 1, 33) NOT IN (ENC(email:BLIND:a), "
	       "ENC(email:BLIND:b))");
	EXPECT("SELECT id FROM users WHERE email IS NULL OR ssn IS NOT NULL",
	       "SELECT id FROM users WHERE email IS NULL OR ssn IS NOT NULL");
	EXPECT("SELECT id FROM public.users x WHERE x.email = 'k'::text",
	       "SELECT id FROM public.users x WHERE substr(x.email, 1, 33) = ENC(email:BLIND:k)");
	EXPECT("SELECT id FROM users WHERE email = ANY(ARRAY['a', 'b'])",
	       "SELECT id FROM users WHERE substr(email, 1, 33) = ANY(ARRAY[ENC(email:BLIND:a), "
	       "ENC(email:BLIND:b)])");
	EXPECT("SELECT id FROM users WHERE \"email\" = 'q'",
	       "SELECT id FROM users WHERE substr(\"email\", 1, 33) = ENC(email:BLIND:q)");
	EXPECT("SELECT id FROM users WHERE email = NULL",
	       "SELECT id FROM users WHERE substr(email, 1, 33) = NULL");
	/* self-join: the same column shares its search key */
	EXPECT("SELECT a.id FROM users a JOIN users b ON a.email = b.email",
	       "SELECT a.id FROM users a JOIN users b ON substr(a.email, 1, 33) = substr(b.email, "
	       "1, 33)");
	EXPECT("SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id WHERE o.card = 'c' AND "
	       "u.email = 'e'",
	       "SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id WHERE substr(o.card, 1, "
	       "33) = "
	       "ENC(card:BLIND:c) AND substr(u.email, 1, 33) = ENC(email:BLIND:e)");
	EXPECT("SELECT count(*) FROM users GROUP BY name HAVING bool_or(email = 'h')",
	       "SELECT count(*) FROM users GROUP BY name HAVING bool_or(substr(email, 1, 33) = "
	       "ENC(email:BLIND:h))");
	EXPECT("SELECT * FROM app.accounts WHERE secret = 's'",
	       "SELECT * FROM app.accounts WHERE substr(secret, 1, 33) = ENC(secret:BLIND:s)");
	EXPECT("SELECT * FROM accounts WHERE secret = 's'",
	       "SELECT * FROM accounts WHERE substr(secret, 1, 33) = ENC(secret:BLIND:s)");
	EXPECT("SELECT * FROM other.accounts WHERE secret = 's'", "PLAIN");
}

static void test_search_refused(void)
{
	REFUSED("SELECT * FROM users WHERE email LIKE 'a%'",
	        "LIKE on encrypted column users.email");
	REFUSED("SELECT * FROM users WHERE email ILIKE 'a%'",
	        "ILIKE on encrypted column users.email");
	REFUSED("SELECT * FROM users WHERE email SIMILAR TO 'a%'", "users.email");
	REFUSED("SELECT * FROM users WHERE email < 'a'", "< on encrypted column users.email");
	REFUSED("SELECT * FROM users WHERE 'a' >= email", "users.email");
	REFUSED("SELECT * FROM users WHERE email BETWEEN 'a' AND 'b'",
	        "BETWEEN on encrypted column users.email");
	REFUSED("SELECT * FROM users WHERE ssn = 'x'",
	        "encrypted column users.ssn is not searchable");
	REFUSED("SELECT * FROM users WHERE lower(email) = 'x'", "users.email");
	REFUSED("SELECT email || 'x' FROM users", "users.email");
	REFUSED("SELECT sum(salary) FROM users", "users.salary");
	REFUSED("SELECT CASE email WHEN 'a' THEN 1 END FROM users", "users.email");
	REFUSED("SELECT * FROM users WHERE email::text = 'x'", "users.email");
	REFUSED("SELECT * FROM users ORDER BY email", "ORDER BY on encrypted column users.email");
	REFUSED("SELECT email AS e FROM users ORDER BY e",
	        "ORDER BY on encrypted column users.email");
	REFUSED("SELECT id, email FROM users ORDER BY 2",
	        "ORDER BY on encrypted column users.email");
	REFUSED("SELECT * FROM users ORDER BY 3", "ORDER BY on encrypted column users.ssn");
	REFUSED("SELECT email FROM users GROUP BY email",
	        "GROUP BY on encrypted column users.email");
	REFUSED("SELECT DISTINCT email FROM users", "DISTINCT on encrypted column users.email");
	REFUSED("SELECT DISTINCT ON (email) id FROM users",
	        "DISTINCT ON on encrypted column users.email");
	REFUSED("SELECT rank() OVER (PARTITION BY email) FROM users", "PARTITION BY");
	REFUSED("SELECT * FROM users a JOIN orders o ON a.email = o.card",
	        "do not share a search key");
	REFUSED("SELECT * FROM users WHERE email = name", "only with constants or parameters");
	REFUSED("SELECT * FROM users WHERE email IN (SELECT name FROM users)", "users.email");
	REFUSED("SELECT * FROM users u JOIN users v USING (email)",
	        "JOIN USING on encrypted column users.email");
	REFUSED("SELECT * FROM users NATURAL JOIN orders", "NATURAL JOIN");
	EXPECT("SELECT * FROM users JOIN logs ON true WHERE email = 'x' AND name = 'y'",
	       "SELECT * FROM users JOIN logs ON true WHERE substr(email, 1, 33) = "
	       "ENC(email:BLIND:x) AND name = 'y'");
	REFUSED("SELECT email FROM users UNION SELECT name FROM users", "UNION");
	REFUSED("SELECT * FROM users WHERE email = ANY('{a,b}')", "ARRAY[...]");
	REFUSED("SELECT * FROM users WHERE email > ALL($1)", "users.email");
}

static void test_resolution(void)
{
	EXPECT("SELECT email, ssn AS s FROM users u WHERE id IN (SELECT user_id FROM orders WHERE "
	       "card = 'c')",
	       "SELECT email, ssn AS s FROM users u WHERE id IN (SELECT user_id FROM orders WHERE "
	       "substr(card, 1, 33) "
	       "= ENC(card:BLIND:c))");
	EXPECT("SELECT * FROM (SELECT email AS m FROM users) s WHERE s.m = 'x'",
	       "SELECT * FROM (SELECT email AS m FROM users) s WHERE substr(s.m, 1, 33) = "
	       "ENC(email:BLIND:x)");
	EXPECT("WITH c AS (SELECT id, email FROM users) SELECT id FROM c WHERE email = 'x'",
	       "WITH c AS (SELECT id, email FROM users) SELECT id FROM c WHERE substr(email, 1, "
	       "33) = ENC(email:BLIND:x)");
	EXPECT("WITH c(k) AS (SELECT email FROM users) SELECT * FROM c WHERE k IN ('a')",
	       "WITH c(k) AS (SELECT email FROM users) SELECT * FROM c WHERE substr(k, 1, 33) IN "
	       "(ENC(email:BLIND:a))");
	EXPECT("SELECT * FROM (SELECT * FROM users) s WHERE s.email = 'x'",
	       "SELECT * FROM (SELECT * FROM users) s WHERE substr(s.email, 1, 33) = "
	       "ENC(email:BLIND:x)");
	EXPECT("SELECT email FROM users UNION ALL SELECT email FROM users WHERE email = 'q'",
	       "SELECT email FROM users UNION ALL SELECT email FROM users WHERE substr(email, 1, "
	       "33) = "
	       "ENC(email:BLIND:q)");
	EXPECT("SELECT u.email, l.msg FROM users u JOIN logs l ON l.uid = u.id WHERE u.email = 'w'",
	       "SELECT u.email, l.msg FROM users u JOIN logs l ON l.uid = u.id WHERE "
	       "substr(u.email, 1, 33) = "
	       "ENC(email:BLIND:w)");
	/* unqualified column next to a table of unknown columns at the same level */
	EXPECT("SELECT email FROM users, logs WHERE email = 'w'",
	       "SELECT email FROM users, logs WHERE substr(email, 1, 33) = ENC(email:BLIND:w)");
	REFUSED("SELECT * FROM (SELECT * FROM accounts) s WHERE s.other = 1", "cannot tell");
	EXPECT("WITH RECURSIVE r(i, e) AS (SELECT id, email FROM users UNION ALL SELECT u.id, "
	       "u.email FROM users u "
	       "JOIN r ON r.e = 'x') SELECT i FROM r WHERE e = 'y'",
	       "WITH RECURSIVE r(i, e) AS (SELECT id, email FROM users UNION ALL SELECT u.id, "
	       "u.email FROM users u "
	       "JOIN r ON substr(r.e, 1, 33) = ENC(email:BLIND:x)) SELECT i FROM r WHERE substr(e, "
	       "1, 33) = "
	       "ENC(email:BLIND:y)");
	REFUSED("SELECT 1 FROM logs WHERE (SELECT email FROM users LIMIT 1) = 'x'",
	        "subquery returning encrypted column users.email");
	REFUSED("SELECT 1 FROM logs WHERE 'x' = ANY(SELECT email FROM users)", "users.email");
	EXPECT("SELECT 1 FROM logs WHERE EXISTS (SELECT email FROM users WHERE email = 'x')",
	       "SELECT 1 FROM logs WHERE EXISTS (SELECT email FROM users WHERE substr(email, 1, "
	       "33) = ENC(email:BLIND:x))");
	EXPECT("SELECT 1 FROM users WHERE id IN (SELECT user_id FROM orders)",
	       "SELECT 1 FROM users WHERE id IN (SELECT user_id FROM orders)");
	REFUSED("SELECT 1 FROM users u WHERE u = ROW(1, 'x', 'y', 2, 'n')", "whole row");
	REFUSED("WITH c(a) AS (SELECT * FROM accounts) SELECT * FROM c WHERE secret = 'x'",
	        "cannot tell");
	REFUSED("UPDATE users u SET name = 'n' WHERE users.email = 'x'",
	        "invalid reference to users.email");
	EXPECT("SELECT * FROM users WHERE public.users.email = 'x'",
	       "SELECT * FROM users WHERE substr(public.users.email, 1, 33) = ENC(email:BLIND:x)");
	REFUSED("SELECT * FROM users WHERE id IN (SELECT id FROM logs WHERE email = 'x')",
	        "ambiguous");
	EXPECT("SELECT * FROM users WHERE name = 'x' ORDER BY id",
	       "SELECT * FROM users WHERE name = 'x' ORDER BY id");
	REFUSED("SELECT * FROM (SELECT email || '' AS e FROM users) s", "users.email");
}

static void test_params(void)
{
	struct sql_plan *p;
	const char *q =
	    "INSERT INTO users (id, email, salary) VALUES ($1, $2, $3::int8) RETURNING id";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused);
	CHECK_EQ_INT(p->nparams, 2);
	if (p->nparams == 2) {
		CHECK_EQ_INT(p->params[0].number, 2);
		CHECK_STR(p->params[0].column->qualified, "users.email");
		CHECK_EQ_INT(p->params[0].mode, SQL_VALUE_RECORD);
		CHECK_EQ_INT(p->params[1].number, 3);
		CHECK_STR(p->params[1].column->qualified, "users.salary");
	}
	sql_plan_free(p);
	EXPECT("INSERT INTO users (id, email, salary) VALUES ($1, $2, $3::int8)",
	       "INSERT INTO users (id, email, salary) VALUES ($1, $2, $3)");

	q = "SELECT * FROM users WHERE email = $1 AND id = $2 OR email = ANY($3) OR email IN ($4, "
	    "'x')";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused);
	CHECK_EQ_INT(p->nparams, 3);
	if (p->nparams == 3) {
		CHECK_EQ_INT(p->params[0].number, 1);
		CHECK_EQ_INT(p->params[0].mode, SQL_VALUE_BLIND);
		CHECK(!p->params[0].array);
		CHECK_EQ_INT(p->params[1].number, 3);
		CHECK(p->params[1].array);
		CHECK_EQ_INT(p->params[2].number, 4);
	}
	sql_plan_free(p);
	REFUSED("SELECT * FROM users WHERE email = $1 OR name = $1", "parameter $1");
	REFUSED("UPDATE users SET email = $1 WHERE email = $1", "parameter $1");
	EXPECT("UPDATE users SET ssn = $1 WHERE email = $2 AND id = $3",
	       "UPDATE users SET ssn = $1 WHERE substr(email, 1, 33) = $2 AND id = $3");
}

static void test_multi_explain(void)
{
	EXPECT("INSERT INTO users (email) VALUES ('a'); SELECT * FROM users WHERE email = 'a'; "
	       "SELECT 1",
	       "INSERT INTO users (email) VALUES (ENC(email:RECORD:a)); SELECT * FROM users WHERE "
	       "substr(email, 1, 33) "
	       "= ENC(email:BLIND:a); SELECT 1");
	EXPECT("EXPLAIN SELECT * FROM users WHERE email = 'a'",
	       "EXPLAIN SELECT * FROM users WHERE substr(email, 1, 33) = ENC(email:BLIND:a)");
	EXPECT("EXPLAIN (ANALYZE, BUFFERS) UPDATE users SET ssn = 'x' WHERE email = 'a'",
	       "EXPLAIN (ANALYZE, BUFFERS) UPDATE users SET ssn = ENC(ssn:RECORD:x) WHERE "
	       "substr(email, 1, 33) = "
	       "ENC(email:BLIND:a)");
	struct sql_plan *p;
	const char *q = "SELECT 1; SELECT email FROM users";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK_EQ_INT(p->nstatements, 2);
	CHECK(p->cacheable);
	CHECK(p->touches_encrypted);
	CHECK_EQ_INT(p->nedits, 0);
	sql_plan_free(p);
}

static const struct sql_prepared *lookup_fn(void *arg, const char *name)
{
	const struct sql_prepared *pp = arg;
	return strcmp(pp->name, name) == 0 ? pp : NULL;
}

static void test_prepare_execute(void)
{
	struct sql_plan *p;
	const char *q = "PREPARE ins(int, text) AS INSERT INTO users (id, email) VALUES ($1, $2)";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused);
	CHECK_EQ_INT(p->nparams, 0);
	CHECK_EQ_INT(p->nprepared, 1);
	struct sql_prepared *saved = NULL;
	if (p->nprepared == 1) {
		CHECK_STR(p->prepared[0].name, "ins");
		CHECK_EQ_INT(p->prepared[0].nparams, 1);
		saved = sql_prepared_dup(&p->prepared[0]);
	}
	{
		/* the declared type of the encrypted parameter becomes bytea */
		char *r = NULL, e[128];
		size_t rn;
		CHECK(sql_plan_render(p, q, strlen(q), tsql_enc, NULL, &r, &rn, e, sizeof(e)) ==
		      PGS_OK);
		CHECK_STR(
		    r, "PREPARE ins(int, bytea) AS INSERT INTO users (id, email) VALUES ($1, $2)");
		free(r);
	}
	sql_plan_free(p);
	q = "PREPARE s(character varying(30)[]) AS SELECT id FROM users WHERE email = ANY($1)";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	{
		char *r = NULL, e[128];
		size_t rn;
		CHECK(!p->refused);
		CHECK(sql_plan_render(p, q, strlen(q), tsql_enc, NULL, &r, &rn, e, sizeof(e)) ==
		      PGS_OK);
		CHECK_STR(r, "PREPARE s(bytea[]) AS SELECT id FROM users WHERE substr(email, 1, "
		             "33) = ANY($1)");
		free(r);
	}
	sql_plan_free(p);
	if (!saved)
		return;
	q = "EXECUTE ins(1, 'mail@x')";
	CHECK(sql_analyze_ex(S, q, strlen(q), lookup_fn, saved, &p) == PGS_OK);
	char *out = NULL, err[128];
	size_t n;
	CHECK(!p->refused);
	CHECK(!p->cacheable);
	CHECK(sql_plan_render(p, q, strlen(q), tsql_enc, NULL, &out, &n, err, sizeof(err)) ==
	      PGS_OK);
	CHECK_STR(out, "EXECUTE ins(1, ENC(email:RECORD:mail@x))");
	free(out);
	sql_plan_free(p);
	q = "EXECUTE ins(1, 'a' || 'b')";
	CHECK(sql_analyze_ex(S, q, strlen(q), lookup_fn, saved, &p) == PGS_OK);
	CHECK(p->refused);
	sql_plan_free(p);
	/* too few arguments: the one given may be meant for the encrypted $2; PostgreSQL would
	 * log it before rejecting the call */
	q = "EXECUTE ins('SECRET')";
	CHECK(sql_analyze_ex(S, q, strlen(q), lookup_fn, saved, &p) == PGS_OK);
	CHECK(p->refused && !strcmp(p->sqlstate, "0A000") && strstr(p->message, "users.email"));
	CHECK(!strstr(p->message, "SECRET"));
	sql_plan_free(p);
	sql_prepared_free(saved);

	EXPECT("PREPARE f AS SELECT * FROM users WHERE email = $1; EXECUTE f('z')",
	       "PREPARE f AS SELECT * FROM users WHERE substr(email, 1, 33) = $1; EXECUTE "
	       "f(ENC(email:BLIND:z))");
	q = "DEALLOCATE ins; DEALLOCATE ALL";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK_EQ_INT(p->nnsops, 2);
	if (p->nnsops == 2) {
		CHECK(p->nsops[0].kind == SQL_NS_DEALLOCATE);
		CHECK_STR(p->nsops[0].name, "ins");
		CHECK(p->nsops[1].kind == SQL_NS_DEALLOCATE_ALL);
	}
	sql_plan_free(p);
	/* text order is kept; DISCARD PLANS keeps prepared statements */
	q = "PREPARE a AS SELECT 1; DEALLOCATE a; PREPARE a AS SELECT email FROM users WHERE email "
	    "= $1; DISCARD PLANS; DISCARD ALL";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK_EQ_INT(p->nnsops, 4);
	if (p->nnsops == 4) {
		CHECK(p->nsops[0].kind == SQL_NS_PREPARE && p->nsops[0].index == 0);
		CHECK(p->nsops[1].kind == SQL_NS_DEALLOCATE);
		CHECK(p->nsops[2].kind == SQL_NS_PREPARE && p->nsops[2].index == 1);
		CHECK(p->nsops[3].kind == SQL_NS_DISCARD_ALL);
		CHECK_EQ_INT(p->prepared[1].nparams, 1);
	}
	sql_plan_free(p);
}

static const struct sql_prepared *unknown_fn(void *arg, const char *name)
{
	(void)arg;
	(void)name;
	return NULL;
}

static const struct sql_prepared *refusing_fn(void *arg, const char *name)
{
	static struct sql_prepared r = {.refusal = "statement in flight"};
	(void)arg;
	(void)name;
	return &r;
}

/* With a session map, EXECUTE of a name it does not know, or one it cannot resolve for
 * certain, is refused; EXPLAIN EXECUTE and CREATE TABLE AS EXECUTE go the same way. */
static void test_execute_unknown(void)
{
	const char *texts[] = {"EXECUTE nope(1, 'x')", "EXPLAIN EXECUTE nope('x')",
	                       "CREATE TABLE t2 AS EXECUTE nope('x')", "SELECT 1; EXECUTE nope"};
	for (size_t i = 0; i < PGS_ARRAY_LEN(texts); i++) {
		struct sql_plan *p;
		CHECK(sql_analyze_ex(S, texts[i], strlen(texts[i]), unknown_fn, NULL, &p) ==
		      PGS_OK);
		CHECK(p->refused && !strcmp(p->sqlstate, "0A000") && strstr(p->message, "nope"));
		CHECK(!strstr(p->message, "'x'"));
		sql_plan_free(p);
		CHECK(sql_analyze_ex(S, texts[i], strlen(texts[i]), refusing_fn, NULL, &p) ==
		      PGS_OK);
		CHECK(p->refused && !strcmp(p->message, "statement in flight"));
		sql_plan_free(p);
		/* without a map (no session) it is relayed as before */
		CHECK(sql_analyze(S, texts[i], strlen(texts[i]), &p) == PGS_OK);
		CHECK(!p->refused);
		sql_plan_free(p);
	}
	/* a PREPARE earlier in the same text wins over the map */
	struct sql_plan *p;
	const char *q = "PREPARE n(text) AS INSERT INTO users (email) VALUES ($1); EXECUTE n('x')";
	CHECK(sql_analyze_ex(S, q, strlen(q), unknown_fn, NULL, &p) == PGS_OK);
	CHECK(!p->refused && p->nedits >= 2);
	sql_plan_free(p);
}

static void test_copy(void)
{
	struct sql_plan *p;
	const struct sql_copy *cp;
	const char *q =
	    "COPY users (id, email, name) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	cp = sql_plan_copy(p, 0);
	CHECK(!p->refused && p->ncopies == 1 && cp && cp->encrypted && cp->from_stdin && cp->csv &&
	      cp->header);
	CHECK_EQ_INT(cp->delimiter, ';');
	CHECK_EQ_INT(cp->quote, '"');
	CHECK_STR(cp->null_string, "");
	CHECK_EQ_INT(cp->ncolumns, 3);
	if (cp->ncolumns == 3) {
		CHECK(cp->columns[0] == NULL);
		CHECK_STR(cp->columns[1]->qualified, "users.email");
		CHECK(cp->columns[2] == NULL);
	}
	sql_plan_free(p);
	q = "COPY users TO STDOUT";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	cp = sql_plan_copy(p, 0);
	CHECK(!p->refused && cp && cp->encrypted && !cp->from_stdin && !cp->csv);
	CHECK_EQ_INT(cp->delimiter, '\t');
	CHECK_STR(cp->null_string, "\\N");
	CHECK_EQ_INT(cp->ncolumns, 5);
	sql_plan_free(p);
	q = "COPY users (email) FROM STDIN WITH CSV HEADER NULL 'nil' QUOTE '''' ESCAPE '\\'";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	cp = sql_plan_copy(p, 0);
	CHECK(!p->refused && cp && cp->csv && cp->header);
	CHECK_EQ_INT(cp->quote, '\'');
	CHECK_EQ_INT(cp->escape, '\\');
	CHECK_STR(cp->null_string, "nil");
	sql_plan_free(p);
	q = "COPY (SELECT id, email FROM users WHERE email = 'x') TO STDOUT";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	cp = sql_plan_copy(p, 0);
	CHECK(!p->refused && cp && cp->encrypted && cp->ncolumns == 2 && p->nedits == 2);
	sql_plan_free(p);
	EXPECT("COPY logs FROM STDIN", "PLAIN");
	REFUSED("COPY users FROM STDIN (FORMAT binary)", "FORMAT text and csv only (table users)");
	REFUSED("COPY users TO '/tmp/x'", "server file");
	REFUSED("COPY app.accounts FROM STDIN", "without a column list");
	REFUSED("COPY (SELECT * FROM accounts) TO STDOUT", "cannot map");
	REFUSED("COPY users (email) FROM STDIN WHERE email = 'x'", "WHERE");
}

/* Several COPYs in one text: each its own description at its statement index. */
static void test_copy_several(void)
{
	struct sql_plan *p;
	const struct sql_copy *cp;
	const char *q = "SELECT 1; COPY users (id, email) FROM STDIN";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused && p->touches_encrypted && p->nstatements == 2 && p->ncopies == 1);
	CHECK(sql_plan_copy(p, 0) == NULL);
	cp = sql_plan_copy(p, 1);
	CHECK(cp && cp->encrypted && cp->from_stdin && cp->ncolumns == 2);
	sql_plan_free(p);

	q = "BEGIN; COPY logs FROM STDIN; COPY users (email) FROM STDIN (FORMAT csv); COPY (SELECT "
	    "1) TO STDOUT; COPY users (email) TO STDOUT; COMMIT";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused && p->nstatements == 6 && p->ncopies == 4);
	CHECK(sql_plan_copy(p, 0) == NULL && sql_plan_copy(p, 5) == NULL);
	cp = sql_plan_copy(p, 1);
	CHECK(cp && !cp->encrypted && cp->from_stdin); /* a plain table: relayed */
	cp = sql_plan_copy(p, 2);
	CHECK(cp && cp->encrypted && cp->from_stdin && cp->csv && cp->ncolumns == 1);
	cp = sql_plan_copy(p, 3);
	CHECK(cp && !cp->encrypted && !cp->from_stdin);
	cp = sql_plan_copy(p, 4);
	CHECK(cp && cp->encrypted && !cp->from_stdin && !cp->csv);
	sql_plan_free(p);

	/* COPYs of a plain table beside a statement on an encrypted one are listed as plain */
	q = "COPY logs FROM STDIN; SELECT email FROM users; COPY logs TO STDOUT";
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused && p->ncopies == 2);
	CHECK(sql_plan_copy(p, 0) && !sql_plan_copy(p, 0)->encrypted);
	CHECK(sql_plan_copy(p, 2) && !sql_plan_copy(p, 2)->from_stdin);
	sql_plan_free(p);

	/* a refusal anywhere refuses the whole text, its COPYs included */
	REFUSED("COPY users (email) FROM STDIN; COPY users TO '/tmp/x'", "server file");
	REFUSED("COPY logs FROM STDIN; COPY users (email) FROM STDIN WHERE email = 'x'", "WHERE");
}

static void test_other_refusals(void)
{
	expect_refused_at(__LINE__, "SELECT * FROM users WHERE email = 'x' AND", "0A000",
	                  "names encrypted table users");
	REFUSED("MERGE INTO users u USING src s ON u.id = s.id WHEN MATCHED THEN UPDATE SET email "
	        "= s.e",
	        "MERGE");
	REFUSED("DO $$ BEGIN INSERT INTO users (email) VALUES ('x'); END $$", "DO block");
	REFUSED("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'INSERT INTO users (email) "
	        "VALUES (1)'",
	        "function");
	EXPECT("CREATE INDEX ON users (substr(email, 1, 33))",
	       "CREATE INDEX ON users (substr(email, 1, 33))");
	EXPECT("ALTER TABLE users ALTER COLUMN email TYPE bytea USING email::bytea",
	       "ALTER TABLE users ALTER COLUMN email TYPE bytea USING email::bytea");
	EXPECT("CREATE TABLE users (id int, email bytea)",
	       "CREATE TABLE users (id int, email bytea)");
	EXPECT("CREATE INDEX i ON users (id) WHERE email = 'v'",
	       "CREATE INDEX i ON users (id) WHERE substr(email, 1, 33) = ENC(email:BLIND:v)");
	EXPECT("CREATE VIEW v AS SELECT id FROM users WHERE email = 'v'",
	       "CREATE VIEW v AS SELECT id FROM users WHERE substr(email, 1, 33) = "
	       "ENC(email:BLIND:v)");
	/* no value ever appears in a message */
	char *m = rw("SELECT * FROM users WHERE email LIKE 'topsecret%'");
	CHECK(strstr(m, "topsecret") == NULL);
	free(m);
	m = rw("SELECT * FROM users WHERE email = 'topsecret' AND");
	CHECK(strstr(m, "topsecret") == NULL);
	free(m);
	m = rw("INSERT INTO users (email) VALUES ('topsecret' || 'x')");
	CHECK(strstr(m, "topsecret") == NULL);
	free(m);
}

/* What PostgreSQL would reject (after logging the statement with its values) on an encrypted
 * table: refused, as anything pgseal cannot map with certainty. */
static void test_unmapped(void)
{
	/* more or fewer values than target columns */
	REFUSED("INSERT INTO users (id, email) VALUES (1, 'a', 'SECRET')",
	        "a VALUES row has 3 value(s) for 2 target column(s)");
	REFUSED("INSERT INTO users (id, email, ssn) VALUES (1, 'a')", "2 value(s) for 3");
	REFUSED("INSERT INTO users (id, name) VALUES (1, 'n'), (2, 'n', 'SECRET')", "users");
	REFUSED("INSERT INTO users VALUES (1, 'a', 'b', 5, 'n', 'SECRET')",
	        "6 value(s) for 5 target column(s)");
	REFUSED("INSERT INTO users VALUES (1, 'a'), (2, 'b', 'SECRET')", "3 value(s) for 2");
	REFUSED("INSERT INTO users (id, name) SELECT 1, 'n', 'SECRET'",
	        "the query gives 3 value(s) for 2 target column(s)");
	EXPECT("INSERT INTO users VALUES (1, 'a')",
	       "INSERT INTO users VALUES (1, ENC(email:RECORD:a))");
	EXPECT("INSERT INTO users (id, name) SELECT 1, 'n'",
	       "INSERT INTO users (id, name) SELECT 1, 'n'");
	EXPECT("INSERT INTO logs (a) VALUES (1, 2)", "PLAIN");
	/* a name the config does not list for a table whose columns it lists */
	REFUSED(
	    "INSERT INTO users (id, \"EMAIL\") VALUES (1, 'SECRET')",
	    "column \"EMAIL\" is not a column of encrypted table users in the encryption config");
	REFUSED("INSERT INTO users (id, emial) VALUES (1, 'SECRET')", "\"emial\"");
	REFUSED("UPDATE users SET \"Email\" = 'SECRET' WHERE id = 1", "\"Email\"");
	REFUSED(
	    "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET \"SSN\" = 'SECRET'",
	    "\"SSN\"");
	REFUSED("SELECT id FROM users WHERE \"EMAIL\" = 'SECRET'", "\"EMAIL\"");
	REFUSED(
	    "INSERT INTO users (id, email) VALUES (1, 'SECRET') ON CONFLICT (\"ID\") DO NOTHING",
	    "\"ID\"");
	REFUSED(
	    "INSERT INTO users (id, email) VALUES (1, 'SECRET') ON CONFLICT ((lower(email))) DO "
	    "NOTHING",
	    "users.email");
	EXPECT("INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO NOTHING",
	       "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO NOTHING");
	REFUSED("DELETE FROM users u WHERE u.\"Email\" = 'SECRET'", "\"Email\"");
	REFUSED("SELECT id FROM users WHERE id IN (SELECT id FROM orders WHERE crad = 'SECRET')",
	        "\"crad\"");
	/* system columns, whole rows, output aliases, other tables: as before */
	EXPECT("SELECT ctid, xmin, tableoid FROM users WHERE id = 1", "SELECT ctid, xmin, tableoid "
	                                                              "FROM users WHERE id = 1");
	EXPECT("SELECT id AS k FROM users ORDER BY k", "SELECT id AS k FROM users ORDER BY k");
	EXPECT("SELECT u.id FROM users u JOIN logs l ON l.uid = u.id WHERE lvl = 'x'",
	       "SELECT u.id FROM users u JOIN logs l ON l.uid = u.id WHERE lvl = 'x'");
	EXPECT("UPDATE users SET name = v.n FROM (VALUES (1, 'x')) v(i, n) WHERE users.id = v.i",
	       "UPDATE users SET name = v.n FROM (VALUES (1, 'x')) v(i, n) WHERE users.id = v.i");
	EXPECT("UPDATE app.accounts SET \"Note\" = 'x'", "UPDATE app.accounts SET \"Note\" = 'x'");
	/* assignments to a part of any column of an encrypted table */
	REFUSED("UPDATE users SET users.email = 'SECRET'",
	        "assigning to a part of column \"users\" of encrypted table users");
	REFUSED("UPDATE app.accounts SET accounts.secret = 'SECRET'",
	        "encrypted table app.accounts");
	REFUSED("UPDATE users SET name[1] = 'SECRET'", "\"name\"");
	REFUSED("INSERT INTO users (id, users.email) VALUES (1, 'SECRET')", "\"users\"");
	/* SET (a, b) = (...) with another number of values */
	REFUSED("UPDATE users SET (name, id) = (1, 2, 'SECRET')",
	        "SET (...) = (...) has 3 value(s) for 2 column(s)");
	REFUSED("UPDATE users SET (name, id) = (SELECT 'n', 1, 'SECRET')", "3 value(s) for 2");
	EXPECT("UPDATE users SET (name, id) = ('n', 2)", "UPDATE users SET (name, id) = ('n', 2)");
	/* a quoted name that differs only in case: a column of a table whose columns the config
	 * does not list, a table, a view */
	REFUSED("INSERT INTO app.accounts (id, \"SECRET\") VALUES (1, 'SECRET')",
	        "column \"SECRET\" is not a column of encrypted table app.accounts");
	REFUSED("UPDATE app.accounts a SET x = 1 WHERE a.\"Secret\" = 'SECRET'", "\"Secret\"");
	REFUSED("SELECT id FROM app.accounts WHERE \"SECRET\" = 'SECRET'", "\"SECRET\"");
	EXPECT("UPDATE app.accounts SET \"Other\" = 'x'",
	       "UPDATE app.accounts SET \"Other\" = 'x'");
	REFUSED("INSERT INTO \"Users\" (id, email) VALUES (1, 'SECRET')",
	        "a relation named like encrypted table or view users but for case");
	REFUSED("SELECT * FROM public.\"ORDERS\" WHERE card = 'SECRET'", "orders");
	EXPECT("SELECT * FROM \"Logs\"", "PLAIN");
	/* none of these messages carries the value */
	static const char *const qs[] = {
	    "INSERT INTO users (id, email) VALUES (1, 'a', 'SECRET')",
	    "INSERT INTO users (id, \"EMAIL\") VALUES (1, 'SECRET')",
	    "UPDATE users SET users.email = 'SECRET'",
	    "SELECT id FROM users WHERE \"EMAIL\" = 'SECRET'",
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(qs); i++) {
		char *m = rw(qs[i]);
		CHECK(strncmp(m, "REFUSED", 7) == 0 && strstr(m, "SECRET") == NULL);
		free(m);
	}
	/* a text that does not parse, with a prepared statement with encrypted parameters in the
	 * session: it may carry EXECUTE arguments */
	struct sql_prepared pp = {.name = "s", .nparams = 0};
	struct sql_plan *p;
	const char *q = "DECLARE c CURSOR FOR EXECUTE s('SECRET')";
	CHECK(sql_analyze_ex(S, q, strlen(q), lookup_fn, &pp, &p) == PGS_OK);
	CHECK(p->refused && !strcmp(p->sqlstate, "0A000"));
	CHECK(p->message && strstr(p->message, "may EXECUTE a prepared statement") &&
	      !strstr(p->message, "SECRET"));
	sql_plan_free(p);
	/* without prepared statements (no lookup) a text naming nothing encrypted is relayed */
	CHECK(sql_analyze(S, q, strlen(q), &p) == PGS_OK);
	CHECK(!p->refused && !p->touches_encrypted);
	sql_plan_free(p);
}

/* Property: every constant bound for an encrypted column is gone from the rendered text. */
static void test_property_no_plaintext(void)
{
	static const char *const qs[] = {
	    "INSERT INTO users (id, email, ssn, salary) VALUES (1, 'canary1', 'canary2', 424242)",
	    "INSERT INTO users VALUES (1, 'canary3', E'canary4', 434343, 'visible')",
	    "UPDATE users SET ssn = 'canary5'::text WHERE email IN ('canary6', 'canary7')",
	    "SELECT * FROM users u WHERE u.email = 'canary8' OR email = ANY(ARRAY['canary9'])",
	    "WITH c AS (SELECT email FROM users) SELECT * FROM c WHERE email <> $$canary10$$",
	    ("INSERT INTO orders (card) VALUES ('canary11') ON CONFLICT (id) DO UPDATE SET card = "
	     "'canary12'"),
	};
	for (size_t i = 0; i < PGS_ARRAY_LEN(qs); i++) {
		struct sql_plan *p;
		CHECK(sql_analyze(S, qs[i], strlen(qs[i]), &p) == PGS_OK);
		CHECK(!p->refused);
		char *out = NULL, err[128];
		size_t n;
		CHECK(sql_plan_render(p, qs[i], strlen(qs[i]), tsql_enc, NULL, &out, &n, err,
		                      sizeof(err)) == PGS_OK);
		for (size_t e = 0; out && e < p->nedits; e++) {
			if (p->edits[e].kind != SQL_EDIT_LITERAL)
				continue;
			/* remove the ENC(...) renderings, then the value must not remain */
			char *copy = strdup(out), *s;
			while ((s = strstr(copy, "ENC(")) != NULL) {
				char *end = strchr(s, ')');
				if (!end)
					break;
				memset(s, '#', (size_t)(end - s + 1));
			}
			CHECK(strstr(copy, p->edits[e].value) == NULL);
			free(copy);
		}
		free(out);
		sql_plan_free(p);
	}
}

int main(void)
{
	S = tsql_schema();
	RUN(test_plain);
	RUN(test_insert);
	RUN(test_insert_refused);
	RUN(test_update_delete);
	RUN(test_search);
	RUN(test_search_refused);
	RUN(test_resolution);
	RUN(test_params);
	RUN(test_multi_explain);
	RUN(test_prepare_execute);
	RUN(test_execute_unknown);
	RUN(test_copy);
	RUN(test_copy_several);
	RUN(test_other_refusals);
	RUN(test_unmapped);
	RUN(test_property_no_plaintext);
	return t_summary("test_sql");
}
