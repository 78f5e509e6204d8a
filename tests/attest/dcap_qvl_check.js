#!/usr/bin/env node
// dcap_qvl_check.js - runs the independent verifier @phala/dcap-qvl (offline, with a collateral
// file) and prints one JSON line {ok, status, error} for comparison with pgseal attest verify.
// usage: node dcap_qvl_check.js QUOTE COLLATERAL UNIX_TIME [ROOT_CA_DER]
const fs = require('fs');
const path = require('path');
const { QuoteVerifier } = require(path.join(__dirname, 'node', 'node_modules', '@phala', 'dcap-qvl', 'src', 'verify'));

const [quoteFile, collFile, at, rootFile] = process.argv.slice(2);
const quote = new Uint8Array(fs.readFileSync(quoteFile));
const coll = JSON.parse(fs.readFileSync(collFile, 'utf8'));
try {
    const v = rootFile ? new QuoteVerifier(fs.readFileSync(rootFile)) : new QuoteVerifier();
    const r = v.verify(quote, coll, parseInt(at, 10));
    console.log(JSON.stringify({ ok: true, status: r.status }));
} catch (e) {
    console.log(JSON.stringify({ ok: false, status: null, error: String(e.message || e) }));
}
