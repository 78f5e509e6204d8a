// encryption.test.js - node-postgres (`pg`) through pgseal with an encryption schema: writes, reads, searches, refusals.
// Run by tests/integration/test_encryption_drivers.py (PGSEAL_ENC_PORT: pgseal, PGSEAL_UP_PORT: PostgreSQL directly,
// PGSEAL_PREFIX: a unique prefix for every value written, PGSEAL_ID_BASE: the first primary key to use).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { Client } = require('pg');

const env = process.env;
const skip = !env.PGSEAL_ENC_PORT && 'run through tests/integration/test_encryption_drivers.py';
const P = env.PGSEAL_PREFIX || 'CANARYnode';
let nextId = Number(env.PGSEAL_ID_BASE || 9000000);

function client(port) {
  return new Client({ host: '127.0.0.1', port: Number(port), user: 'trust_user', database: env.PGSEAL_DB || 'app',
    ssl: port === env.PGSEAL_UP_PORT ? { rejectUnauthorized: false } : false, connectionTimeoutMillis: 10000 });
}

async function withClients(fn) {
  const c = client(env.PGSEAL_ENC_PORT);
  const up = client(env.PGSEAL_UP_PORT);
  await c.connect();
  await up.connect();
  try {
    await fn(c, up);
  } finally {
    await c.end();
    await up.end();
  }
}

test('writes through every query form, values read back, ciphertext at rest', { skip }, async () => {
  await withClients(async (c, up) => {
    const ids = [nextId++, nextId++, nextId++, nextId++];
    const em = ids.map((i) => `${P}-mail-${i}`);
    // parameterized (unnamed statement), named prepared statement twice, simple query literal, multi-row
    await c.query('INSERT INTO people (id, email, name, phone) VALUES ($1, $2, $3, $4)', [ids[0], em[0], 'Zoë ✓', null]);
    const ins = { name: 'enc-ins', text: 'INSERT INTO people (id, email, name) VALUES ($1, $2, $3) RETURNING email, name' };
    const r1 = await c.query({ ...ins, values: [ids[1], em[1], `${P}-name`] });
    assert.deepStrictEqual(r1.rows, [{ email: em[1], name: `${P}-name` }]);
    await c.query({ ...ins, values: [ids[2], em[2], ''] });
    await c.query(`INSERT INTO people (id, email, phone) VALUES (${ids[3]}, '${em[3]}', '555'), (${nextId++}, '${em[3]}', NULL)`);
    const r = await c.query('SELECT id, email, name, phone FROM people WHERE id = ANY($1) ORDER BY id', [ids]);
    assert.deepStrictEqual(r.rows.map((x) => [Number(x.id), x.email, x.name, x.phone]),
      [[ids[0], em[0], 'Zoë ✓', null], [ids[1], em[1], `${P}-name`, null], [ids[2], em[2], '', null], [ids[3], em[3], null, '555']]);
    assert.deepStrictEqual(r.fields.map((f) => f.dataTypeID), [20, 25, 25, 25]);
    // UPDATE with a parameter, found again by the new value
    await c.query('UPDATE people SET email = $1 WHERE id = $2', [`${em[0]}-new`, ids[0]]);
    const u = await c.query('SELECT id FROM people WHERE email = $1', [`${em[0]}-new`]);
    assert.deepStrictEqual(u.rows.map((x) => Number(x.id)), [ids[0]]);
    // what PostgreSQL holds: records, never the plaintext
    const s = await up.query('SELECT email, name FROM people WHERE id = ANY($1)', [ids]);
    for (const row of s.rows) {
      assert.ok(Buffer.isBuffer(row.email) && row.email[0] === 2);
      assert.ok(!row.email.toString('latin1').includes(P));
      if (row.name) assert.ok(row.name[0] === 1 && !row.name.toString('latin1').includes(P));
    }
  });
});

test('searches return the true hit counts', { skip }, async () => {
  await withClients(async (c) => {
    const base = nextId;
    const a = `${P}-sa`, b = `${P}-sb`;
    const emails = [a, a, a, b, b, null];
    for (const e of emails) await c.query('INSERT INTO people (id, email) VALUES ($1, $2)', [nextId++, e]);
    const lo = base, hi = nextId - 1;
    const count = async (sql, vals) => Number((await c.query(sql, vals)).rows[0].n);
    assert.strictEqual(await count('SELECT count(*) AS n FROM people WHERE email = $1', [a]), 3);
    assert.strictEqual(await count(`SELECT count(*) AS n FROM people WHERE email = '${b}'`, []), 2);
    assert.strictEqual(await count('SELECT count(*) AS n FROM people WHERE email IN ($1, $2)', [a, b]), 5);
    assert.strictEqual(await count('SELECT count(*) AS n FROM people WHERE email = ANY($1)', [[b, 'none']]), 2);
    assert.strictEqual(await count('SELECT count(*) AS n FROM people WHERE id BETWEEN $1 AND $2 AND email <> $3', [lo, hi, a]), 2);
    assert.strictEqual(await count('SELECT count(*) AS n FROM people WHERE id BETWEEN $1 AND $2 AND email IS NULL', [lo, hi]), 1);
    assert.strictEqual(await count('SELECT count(*) AS n FROM people p JOIN people q ON p.email = q.email ' +
      'WHERE p.id BETWEEN $1 AND $2 AND q.id BETWEEN $1 AND $2', [lo, hi]), 9 + 4);
    const q = { name: 'enc-count', text: 'SELECT count(*) AS n FROM people WHERE email = $1' };
    assert.strictEqual(Number((await c.query({ ...q, values: [a] })).rows[0].n), 3);
    assert.strictEqual(Number((await c.query({ ...q, values: [b] })).rows[0].n), 2);
  });
});

test('types: node-postgres parses the declared types', { skip }, async () => {
  await withClients(async (c) => {
    const id = nextId++;
    const buf = Buffer.from([0, 1, 2, 254, 255]);
    await c.query('INSERT INTO typed (id, c_text, c_int4, c_int8, c_float8, c_numeric, c_bool, c_date, c_tstz, c_uuid, c_jsonb, c_bytea) ' +
      'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
    [id, `${P}-typed`, -5, '9223372036854775807', 2.5, '12.340', true, '2024-02-29', new Date('2024-02-29T12:00:00.123Z'),
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', { k: [1, 'ü'] }, buf]);
    const r = await c.query('SELECT c_text, c_int4, c_int8, c_float8, c_numeric, c_bool, c_date::text AS d, c_tstz, c_uuid, c_jsonb, c_bytea ' +
      'FROM typed WHERE id = $1', [id]).catch((e) => e);
    // c_date::text is a cast of an encrypted column: refused; read it plainly instead
    assert.strictEqual(r.code, '0A000');
    const r2 = await c.query('SELECT c_text, c_int4, c_int8, c_float8, c_numeric, c_bool, c_tstz, c_uuid, c_jsonb, c_bytea FROM typed WHERE id = $1', [id]);
    const row = r2.rows[0];
    assert.strictEqual(row.c_text, `${P}-typed`);
    assert.strictEqual(row.c_int4, -5);
    assert.strictEqual(row.c_int8, '9223372036854775807');
    assert.strictEqual(row.c_float8, 2.5);
    assert.strictEqual(row.c_numeric, '12.340');
    assert.strictEqual(row.c_bool, true);
    assert.strictEqual(row.c_tstz.toISOString(), '2024-02-29T12:00:00.123Z');
    assert.strictEqual(row.c_uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    assert.deepStrictEqual(row.c_jsonb, { k: [1, 'ü'] });
    assert.ok(Buffer.compare(row.c_bytea, buf) === 0);
    const n = await c.query('SELECT count(*)::int AS n FROM typed WHERE c_int8 = $1 AND c_uuid = $2 AND c_date = $3',
      ['9223372036854775807', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29']);
    assert.ok(n.rows[0].n >= 1);
  });
});

test('refusals carry 0A000 and the client stays usable', { skip }, async () => {
  await withClients(async (c) => {
    await assert.rejects(c.query('SELECT id FROM people WHERE email LIKE $1', [`${P}%`]),
      (e) => e.code === '0A000' && e.message.includes('people.email') && !e.message.includes(P));
    await assert.rejects(c.query(`SELECT id FROM people ORDER BY email`), (e) => e.code === '0A000');
    const r = await c.query('SELECT $1::int AS x', [7]);
    assert.strictEqual(r.rows[0].x, 7);
    // 100 queued parameterized queries on encrypted columns (pipelined by pg)
    const ps = [];
    for (let i = 0; i < 100; i++) ps.push(c.query('SELECT count(*)::int AS n FROM people WHERE email = $1', [`${P}-none-${i}`]));
    ps.push(c.query('SELECT id FROM people WHERE email LIKE $1', ['x']).catch((e) => e.code));
    for (let i = 0; i < 20; i++) ps.push(c.query('SELECT $1::int AS i', [i]));
    const rs = await Promise.all(ps);
    assert.ok(rs.slice(0, 100).every((x) => x.rows[0].n === 0));
    assert.strictEqual(rs[100], '0A000');
    assert.deepStrictEqual(rs.slice(101).map((x) => x.rows[0].i), [...Array(20).keys()]);
  });
});
