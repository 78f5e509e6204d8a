// sdk_test.js - runs the official dstack JS SDK (@phala/dstack-sdk) against a running pgseal-dstack-sim.
// usage: node tests/sim/sdk_test.js SOCKET_PATH   (modules come from tests/node/node_modules)
'use strict';

const path = require('path');
const { createRequire } = require('module');
const nodeRequire = createRequire(path.join(__dirname, '..', 'node', 'package.json'));
const { DstackClient } = nodeRequire('@phala/dstack-sdk');
const { secp256k1 } = nodeRequire('@noble/curves/secp256k1');
const { keccak_256 } = nodeRequire('@noble/hashes/sha3');

const socket = process.argv[2];
let passed = 0;
let failed = 0;

function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok - sdk: ${name}`);
  } else {
    failed++;
    console.log(`not ok - sdk: ${name}${detail ? ': ' + detail : ''}`);
  }
}

const hex = (b) => Buffer.from(b).toString('hex');

function recover(sig, msg) {
  const s = secp256k1.Signature.fromCompact(sig.slice(0, 64)).addRecoveryBit(sig[64]);
  return hex(s.recoverPublicKey(keccak_256(msg)).toRawBytes(true));
}

async function main() {
  // The endpoint as an argument, and as DSTACK_SIMULATOR_ENDPOINT (what pgseal's dstack provider honours).
  const client = new DstackClient(socket);
  process.env.DSTACK_SIMULATOR_ENDPOINT = socket;
  const envClient = new DstackClient();
  check('DSTACK_SIMULATOR_ENDPOINT is used', envClient.endpoint === socket);
  check('isReachable', await client.isReachable());

  const info = await client.info();
  check('info: app_id is 20 bytes hex', /^[0-9a-f]{40}$/.test(info.app_id), info.app_id);
  check('info: instance_id is 20 bytes hex', /^[0-9a-f]{40}$/.test(info.instance_id));
  check('info: compose_hash hex', /^[0-9a-f]+$/.test(info.compose_hash));
  check('info: tcb_info parsed with mrtd and rtmr0-3',
    ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'].every((k) => /^[0-9a-f]{96}$/.test(info.tcb_info[k])));
  check('info: tcb_info.event_log is an array', Array.isArray(info.tcb_info.event_log));
  check('info: tcb_info.compose_hash matches', info.tcb_info.compose_hash === info.compose_hash);
  const kp = JSON.parse(info.key_provider_info);
  check('info: key_provider_info names the simulator', kp.name === 'pgseal-dstack-sim', info.key_provider_info);

  const version = await client.version();
  check('version', typeof version.version === 'string' && version.rev === 'pgseal-dstack-sim');

  // getKey: key, and a signature chain that recovers like dstack's (app key, then KMS root).
  const k1 = await client.getKey('pgseal/sealing-key', 'pgseal-seal');
  check('getKey: 32-byte key', k1.key.length === 32);
  check('getKey: chain of two 65-byte signatures',
    k1.signature_chain.length === 2 && k1.signature_chain.every((s) => s.length === 65));
  const derivedPub = hex(secp256k1.getPublicKey(k1.key, true));
  const appPub = recover(k1.signature_chain[0], Buffer.from(`pgseal-seal:${derivedPub}`));
  const kmsMsg = Buffer.concat([Buffer.from('dstack-kms-issued:'), Buffer.from(info.app_id, 'hex'),
    Buffer.from(appPub, 'hex')]);
  const kmsPub = recover(k1.signature_chain[1], kmsMsg);
  check('getKey: chain[1] recovers the KMS root named in key_provider_info', kmsPub === kp.id, `${kmsPub} vs ${kp.id}`);
  const k1b = await client.getKey('pgseal/sealing-key', 'other-purpose');
  check('getKey: same path, other purpose -> same key (dstack semantics)', hex(k1b.key) === hex(k1.key));
  const appPub2 = recover(k1b.signature_chain[0], Buffer.from(`other-purpose:${derivedPub}`));
  check('getKey: purpose is bound in chain[0]', appPub2 === appPub);
  const k2 = await client.getKey('pgseal/another-key', 'pgseal-seal');
  check('getKey: another path -> another key', hex(k2.key) !== hex(k1.key));
  const ked = await client.getKey('pgseal/sealing-key', 'pgseal-seal', 'ed25519');
  check('getKey: ed25519 algorithm answered', ked.key.length === 32);

  // getQuote: the quote carries report_data; RTMRs replay from the event log.
  const rd = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) rd[i] = i * 7 + 1;
  const q = await client.getQuote(rd);
  const quote = Buffer.from(q.quote, 'hex');
  check('getQuote: version 4, TDX', quote.readUInt16LE(0) === 4 && quote.readUInt32LE(4) === 0x81);
  check('getQuote: report_data field padded to 64', q.report_data === hex(rd) + '00'.repeat(32));
  check('getQuote: REPORTDATA in the TD report', hex(quote.subarray(48 + 520, 48 + 584)) === q.report_data);
  const rtmrs = q.replayRtmrs();
  for (let i = 0; i < 4; i++) {
    const inQuote = hex(quote.subarray(48 + 328 + 48 * i, 48 + 376 + 48 * i));
    check(`getQuote: replayRtmrs()[${i}] equals the quote's RTMR${i}`, rtmrs[i] === inQuote, `${rtmrs[i]} vs ${inQuote}`);
  }
  check('getQuote: vm_config is JSON', typeof JSON.parse(q.vm_config).os_image_hash === 'string');
  const events = JSON.parse(q.event_log);
  const names = events.filter((e) => e.imr === 3).map((e) => e.event);
  check('getQuote: dstack runtime events present',
    ['app-id', 'compose-hash', 'instance-id', 'key-provider'].every((n) => names.includes(n)), names.join(','));
  const ch = events.find((e) => e.event === 'compose-hash');
  check('getQuote: compose-hash event payload = Info compose_hash', ch && ch.event_payload === info.compose_hash);

  let threw = false;
  try {
    await client.getQuote(Buffer.alloc(65));
  } catch (e) {
    threw = true;
  }
  check('getQuote: 65 bytes of report data refused', threw);

  // emitEvent extends RTMR3, and the new quote still replays.
  await client.emitEvent('pgseal-test-event', 'hello');
  const q2 = await client.getQuote(rd);
  const quote2 = Buffer.from(q2.quote, 'hex');
  const r3 = hex(quote2.subarray(48 + 472, 48 + 520));
  check('emitEvent: RTMR3 changed', r3 !== hex(quote.subarray(48 + 472, 48 + 520)));
  check('emitEvent: RTMR3 still replays', q2.replayRtmrs()[3] === r3);

  // sign / verify
  const data = Buffer.from('pgseal sign test');
  const sg = await client.sign('secp256k1', data);
  check('sign: secp256k1 signature and 3-link chain', sg.signature.length === 64 && sg.signature_chain.length === 3);
  const vf = await client.verify('secp256k1', data, sg.signature, sg.public_key);
  check('verify: valid signature accepted', vf.valid === true);
  const bad = Buffer.from(sg.signature);
  bad[5] ^= 1;
  const vf2 = await client.verify('secp256k1', data, bad, sg.public_key);
  check('verify: flipped signature refused', vf2.valid === false);
  const se = await client.sign('ed25519', data);
  const ve = await client.verify('ed25519', data, se.signature, se.public_key);
  check('sign/verify: ed25519', ve.valid === true);

  const tls = await client.getTlsKey({ subject: 'pgseal.test', altNames: ['localhost'], usageRaTls: true });
  check('getTlsKey: PEM key and a 2-certificate chain',
    tls.key.startsWith('-----BEGIN PRIVATE KEY-----') && tls.certificate_chain.length === 2);
  check('getTlsKey: asUint8Array()', tls.asUint8Array().length > 64);

  console.log(`SDKKEY ${hex(k1.key)}`);
}

main()
  .catch((e) => {
    failed++;
    console.log(`not ok - sdk: exception: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    console.log(`sdk: ${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
