// app.js - pgseal-demo's page: renders the JSON endpoints with textContent only (data never becomes markup).
'use strict';

const COLS = ['id', 'name', 'email', 'ssn', 'note'];

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ cache: 'no-store' }, opts || {}));
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
  return body;
}

function showError(node, err) {
  clear(node).appendChild(el('p', String(err.message || err), 'status error'));
}

// A table of rows; cell(col, value) returns a <td>.
function table(rows, cell) {
  const t = el('table');
  const head = t.createTHead().insertRow();
  for (const c of COLS) head.appendChild(el('th', c));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    tr.dataset.id = row.id;
    for (const c of COLS) tr.appendChild(cell(c, row[c]));
  }
  return t;
}

function plainCell(col, v) {
  return el('td', v === null || v === undefined ? 'NULL' : v);
}

function rowsOrEmpty(node, rows, cell) {
  clear(node);
  if (!rows.length) { node.appendChild(el('p', 'no rows yet', 'empty')); return; }
  node.appendChild(table(rows, cell));
}

async function loadApp() {
  const node = document.getElementById('app-view');
  try { rowsOrEmpty(node, (await api('/api/app-view')).rows, plainCell); } catch (e) { showError(node, e); }
}

// bytea as PostgreSQL prints it (\x...): the searchable column's blind-index prefix is marked.
function hexCell(bi) {
  return (col, v) => {
    const td = el('td', null, col === 'id' ? '' : 'hex');
    if (v === null || v === undefined) { td.textContent = 'NULL'; return td; }
    if (col === 'id' || !v.startsWith('\\x')) { td.textContent = v; return td; }
    const hex = v.slice(2);
    const bytes = hex.length / 2;
    if (col === 'email' && bi) {
      const mark = el('span', hex.slice(0, 2 * bi), 'bi');
      mark.title = 'format byte + blind index (HMAC): what an exact-match search compares';
      td.append('\\x', mark, el('span', shorten(hex.slice(2 * bi), 48)));
    } else {
      td.append('\\x' + shorten(hex, 64));
    }
    td.appendChild(el('div', bytes + ' bytes', 'hint'));
    return td;
  };
}

function shorten(s, n) { return s.length > n ? s.slice(0, n) + '…' : s; }

async function loadDb() {
  const node = document.getElementById('db-view');
  try {
    const v = await api('/api/db-view');
    rowsOrEmpty(node, v.rows, hexCell(v.blind_index_bytes));
    if (v.types) {
      const types = COLS.map((c) => c + ' ' + (v.types[c] || '?')).join(', ');
      node.appendChild(el('p', 'Column types in PostgreSQL: ' + types, 'hint'));
    }
  } catch (e) { showError(node, e); }
}

async function loadDump() {
  const node = document.getElementById('dump-view');
  try {
    const d = await api('/api/dump');
    clear(node).appendChild(el('p', 'The data section of a dump: ' + d.method +
      (d.truncated ? ' (truncated)' : '') + '. Nothing in it can be read without pgseal\'s keys.', 'hint'));
    node.appendChild(el('pre', d.dump));
  } catch (e) { showError(node, e); }
}

function kvTable(pairs) {
  const t = el('table', null, 'kv');
  for (const [k, v] of pairs) {
    const tr = t.insertRow();
    tr.appendChild(el('td', k));
    tr.appendChild(el('td', v === null || v === undefined ? '—' : v));
  }
  return t;
}

async function loadAttestation() {
  const node = document.getElementById('attestation');
  const banner = document.getElementById('simulated-banner');
  try {
    const a = await api('/api/attestation');
    clear(node);
    if (a.simulated) {
      node.appendChild(el('div', 'SIMULATED', 'simulated'));
      node.appendChild(el('p', 'This quote comes from pgseal-dstack-sim, a development stand-in signed by a test CA: ' +
        'it proves nothing about hardware. On a real dstack CVM this panel shows an Intel-signed quote.', 'hint'));
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    const v = el('div', a.verdict === 'trusted' ? 'TRUSTED' : 'UNTRUSTED', 'verdict ' + a.verdict);
    v.id = 'verdict';
    node.appendChild(v);
    if (a.simulated && a.verdict === 'trusted') {
      node.appendChild(el('p', 'trusted against the simulator\'s test root (--root-ca), not Intel\'s: development only', 'hint'));
    }
    if (a.failed_check) node.appendChild(el('p', 'failed check: ' + a.failed_check + ' — ' + (a.reason || ''), 'status error'));
    const plat = a.platform || {};
    node.appendChild(kvTable([
      ['TCB status', a.tcb_status], ['MRTD', a.mrtd], ['RTMR0', a.rtmr0], ['RTMR1', a.rtmr1],
      ['RTMR2', a.rtmr2], ['RTMR3', a.rtmr3],
      ['compose hash', a.compose_hash], ['app id', a.app_id], ['instance id', a.instance_id],
      ['key provider', a.key_provider],
      ['event log replays to RTMR3', a.rtmr3_replayed_ok === undefined ? null : String(a.rtmr3_replayed_ok)],
      ['quote binds the TLS key', String(a.ra_tls_binding_ok)],
      ['PPID', plat.ppid], ['PPID allow-list', policyRule(a, 'allowed_ppids')],
      ['Proof of Cloud', a.proof_of_cloud], ['trust anchor', a.root_ca], ['provider (as pgseal says)', a.provider],
    ]));
    node.appendChild(el('h3', 'Policy rules' + (a.policy_file ? ' (' + a.policy_file + ')' : '')));
    const rules = a.policy_rules || [];
    if (!rules.length) node.appendChild(el('p', 'no policy configured (--policy)', 'empty'));
    const ul = el('ul');
    ul.id = 'policy-rules';
    for (const r of rules) {
      const li = el('li');
      li.append(el('span', r.result === 'pass' ? 'pass' : 'fail', r.result === 'pass' ? 'pass' : 'fail'), ' ' + r.rule);
      if (r.reason) li.append(' — ' + r.reason);
      ul.appendChild(li);
    }
    node.appendChild(ul);
    const b = el('div', null, 'buttons');
    const q = el('a', 'Download the raw quote'); q.href = '/api/attestation/quote'; q.setAttribute('download', 'pgseal-quote.bin');
    const l = el('a', 'Download the event log'); l.href = '/api/attestation/event-log'; l.setAttribute('download', 'pgseal-event-log.json');
    b.append(q, l);
    node.appendChild(b);
  } catch (e) { showError(node, e); }
}

function policyRule(a, name) {
  const r = (a.policy_rules || []).find((x) => x.rule === name);
  return r ? r.result : 'not configured';
}

function formJson(form) {
  const o = {};
  for (const k of ['name', 'email', 'ssn', 'note']) if (form.elements[k]) o[k] = form.elements[k].value;
  return JSON.stringify(o);
}

async function onAdd(ev) {
  ev.preventDefault();
  const form = ev.target;
  const st = document.getElementById('add-status');
  st.className = 'status'; st.textContent = 'writing through pgseal…';
  try {
    const r = await api('/api/people', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: formJson(form) });
    st.className = 'status ok';
    st.textContent = 'stored as row ' + r.id + (r.dropped ? ' (' + r.dropped + ' oldest row(s) dropped)' : '');
    form.reset();
    await Promise.all([loadApp(), loadDb(), loadDump()]);
  } catch (e) { st.className = 'status error'; st.textContent = e.message; }
}

async function onSearch(ev) {
  ev.preventDefault();
  const email = ev.target.elements.email.value;
  const st = document.getElementById('search-status');
  const box = document.getElementById('search-result');
  st.className = 'status'; st.textContent = 'searching through pgseal…';
  try {
    const r = await api('/api/search?email=' + encodeURIComponent(email));
    st.className = 'status ok'; st.textContent = r.rows.length + ' row(s) found';
    rowsOrEmpty(document.getElementById('search-rows'), r.rows, plainCell);
    document.getElementById('search-sent').textContent = r.application_sent;
    document.getElementById('search-received').textContent = r.postgresql_received || r.postgresql_received_unavailable || '';
    document.getElementById('search-source').textContent = '(' + r.source + ' of backend ' + r.backend_pid + ')';
    document.getElementById('search-check').textContent = r.plaintext_reached_postgresql === null
      ? 'PostgreSQL\'s copy of the statement could not be read'
      : r.plaintext_reached_postgresql ? 'the address itself reached PostgreSQL'
        : 'the address did not reach PostgreSQL: pgseal sent its blind index';
    box.hidden = false;
  } catch (e) { st.className = 'status error'; st.textContent = e.message; box.hidden = true; }
}

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('add-person').addEventListener('submit', onAdd);
  document.getElementById('search').addEventListener('submit', onSearch);
  await Promise.all([loadApp(), loadDb(), loadAttestation(), loadDump()]);
  performance.mark('pgseal-demo-ready'); // time to interactive, as the browser test measures it
  document.body.dataset.ready = '1'; // every panel rendered, the forms live (tests wait for it)
});
