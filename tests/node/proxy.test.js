// proxy.test.js - node-postgres (`pg`) through pgseal: simple and parameterized queries, prepared statements, TLS + SCRAM.
// Run by tests/integration/test_node.py, which starts pgseal and passes its ports in the environment.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const { Client } = require('pg');

const env = process.env;
const skip = !env.PGSEAL_PLAIN_PORT && 'run through tests/integration/test_node.py (needs PGSEAL_PLAIN_PORT)';

function plainClient(extra = {}) {
  return new Client({ host: '127.0.0.1', port: Number(env.PGSEAL_PLAIN_PORT), user: 'trust_user',
    database: env.PGSEAL_DB || 'app', ssl: false, connectionTimeoutMillis: 10000, ...extra });
}

test('simple and parameterized queries', { skip }, async () => {
  const c = plainClient();
  await c.connect();
  try {
    const r1 = await c.query("SELECT 1 + 1 AS two, 'x' AS s");
    assert.deepStrictEqual(r1.rows, [{ two: 2, s: 'x' }]);
    const r2 = await c.query('SELECT $1::int + $2::int AS sum, $3::text AS t', [40, 2, "it's"]);
    assert.deepStrictEqual(r2.rows, [{ sum: 42, t: "it's" }]);
    const r3 = await c.query({ name: 'by-id', text: 'SELECT $1::int * 10 AS v', values: [7] });
    const r4 = await c.query({ name: 'by-id', text: 'SELECT $1::int * 10 AS v', values: [8] });
    assert.strictEqual(r3.rows[0].v, 70);
    assert.strictEqual(r4.rows[0].v, 80);
    const big = 'z'.repeat(1 << 20);
    const r5 = await c.query('SELECT length($1::text) AS n, $1::text AS back', [big]);
    assert.strictEqual(r5.rows[0].n, 1 << 20);
    assert.strictEqual(r5.rows[0].back, big);
    const buf = Buffer.from([0, 1, 2, 255]);
    const r6 = await c.query('SELECT $1::bytea AS b', [buf]);
    assert.ok(Buffer.compare(r6.rows[0].b, buf) === 0);
    await assert.rejects(c.query('SELECT 1/0'), (e) => e.code === '22012' && e.message === 'division by zero');
    const r7 = await c.query('SELECT count(*)::int AS n FROM generate_series(1, 1000)');
    assert.strictEqual(r7.rows[0].n, 1000);
  } finally {
    await c.end();
  }
});

test('many concurrent parameterized queries (pipelined by pg)', { skip }, async () => {
  const c = plainClient();
  await c.connect();
  try {
    const ps = [];
    for (let i = 0; i < 200; i++) ps.push(c.query('SELECT $1::int AS i', [i]));
    const rs = await Promise.all(ps);
    assert.deepStrictEqual(rs.map((r) => r.rows[0].i), [...Array(200).keys()]);
  } finally {
    await c.end();
  }
});

test('TLS verify-full with SCRAM through pgseal', { skip: skip || (!env.PGSEAL_TLS_PORT && 'no TLS port') }, async () => {
  const c = new Client({ host: 'localhost', port: Number(env.PGSEAL_TLS_PORT), user: 'scram_user',
    password: env.PGSEAL_SCRAM_PASSWORD, database: env.PGSEAL_DB || 'app', connectionTimeoutMillis: 10000,
    ssl: { ca: fs.readFileSync(env.PGSEAL_CA), servername: 'localhost', rejectUnauthorized: true } });
  await c.connect();
  try {
    const r = await c.query('SELECT current_user AS u, $1::int AS v', [5]);
    assert.deepStrictEqual(r.rows, [{ u: 'scram_user', v: 5 }]);
  } finally {
    await c.end();
  }
  const bad = new Client({ host: 'localhost', port: Number(env.PGSEAL_TLS_PORT), user: 'scram_user',
    password: 'wrong-password', database: env.PGSEAL_DB || 'app', connectionTimeoutMillis: 10000,
    ssl: { ca: fs.readFileSync(env.PGSEAL_CA), servername: 'localhost' } });
  await assert.rejects(bad.connect(), (e) => e.code === '28P01');
});

// node-postgres' own quick-disconnect test: end() right after connect(), without waiting. The
// Terminate reaches the server before any startup packet; PostgreSQL closes quietly, and so must
// pgseal (an error here made connect() fail). connect() may stay pending: only errors count.
test('quick connect then end', { skip }, async () => {
  const errors = [];
  for (let i = 0; i < 10; i++) {
    const c = plainClient();
    c.on('error', (e) => errors.push(e));
    c.connect().catch((e) => errors.push(e));
    await c.end();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepStrictEqual(errors.map((e) => `${e.code} ${e.message}`).filter((s) => !s.startsWith('undefined')), []);
});
