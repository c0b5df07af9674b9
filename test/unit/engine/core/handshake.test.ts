import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hash } from '../../../../src/crypto/blake2s.js';
import { tai64n } from '../../../../src/crypto/tai64n.js';
import { publicKeyOf } from '../../../../src/crypto/x25519.js';
import {
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  dh,
  finishInitiation,
  INITIAL_CHAINING_KEY,
  INITIAL_HASH,
  openInitiation,
} from '../../../../src/engine/core/handshake.js';
import { ROOT } from '../../../lib/run.js';
import { seededRandom } from './sim.js';

const vec = JSON.parse(readFileSync(join(ROOT, 'test/vectors/wireguard.json'), 'utf8')) as {
  construction: string;
  identifier: string;
  initialChainingKey: string;
  initialHash: string;
};
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('the construction’s initial chaining key and hash (whitepaper 5.4.2)', () => {
  assert.equal(toHex(INITIAL_CHAINING_KEY), vec.initialChainingKey);
  assert.equal(toHex(INITIAL_HASH), vec.initialHash);
  const enc = new TextEncoder();
  assert.equal(toHex(hash(enc.encode(vec.construction))), vec.initialChainingKey);
  assert.equal(toHex(hash(hash(enc.encode(vec.construction)), enc.encode(vec.identifier))), vec.initialHash);
});

function parties(psk?: Uint8Array) {
  const rnd = seededRandom(3);
  const iPriv = rnd(32);
  const rPriv = rnd(32);
  const iPub = publicKeyOf(iPriv);
  const rPub = publicKeyOf(rPriv);
  const timestamp = tai64n(1_700_000_000_000_000_000n);
  const init = createInitiation({
    localPrivate: iPriv,
    localPublic: iPub,
    remotePublic: rPub,
    staticStatic: dh(iPriv, rPub)!,
    ephemeralPrivate: rnd(32),
    timestamp,
    senderIndex: 0x11223344,
  })!;
  return { rnd, iPriv, rPriv, iPub, rPub, timestamp, init, psk };
}

test('IKpsk2 both ways: both sides derive the same transport keys, crossed', () => {
  for (const psk of [undefined, new Uint8Array(32).fill(5)]) {
    const p = parties(psk);
    const opened = openInitiation(p.init.message, p.rPriv, p.rPub)!;
    assert.deepEqual(opened.remoteStatic, p.iPub, 'the responder learns who initiated');
    assert.equal(opened.senderIndex, 0x11223344);
    const fin = finishInitiation(p.init.message, opened, dh(p.rPriv, p.iPub)!)!;
    assert.deepEqual(fin.timestamp, p.timestamp);
    assert.deepEqual(fin.chain.hash, p.init.chain.hash, 'same transcript hash after message 1');
    const resp = createResponse({
      chain: fin.chain,
      remoteStatic: p.iPub,
      remoteEphemeral: opened.remoteEphemeral,
      receiverIndex: opened.senderIndex,
      senderIndex: 0x55667788,
      ephemeralPrivate: p.rnd(32),
      presharedKey: psk,
    })!;
    const got = consumeResponse(resp.message, p.init.chain, p.init.ephemeralPrivate, p.iPriv, psk)!;
    assert.equal(got.senderIndex, 0x55667788);
    const ik = deriveTransportKeys(got.chain, true);
    const rk = deriveTransportKeys(resp.chain, false);
    assert.deepEqual(ik.sendKey, rk.recvKey);
    assert.deepEqual(ik.recvKey, rk.sendKey);
    assert.notDeepEqual(ik.sendKey, ik.recvKey);
    assert.ok(
      got.chain.chainingKey.every((b) => b === 0),
      'the chaining key is wiped after derivation',
    );
  }
});

test('wrong keys, a wrong PSK or a flipped bit fail authentication', () => {
  const p = parties();
  const other = seededRandom(77)(32);
  assert.equal(openInitiation(p.init.message, other, publicKeyOf(other)), undefined, 'not for us');
  const opened = openInitiation(p.init.message, p.rPriv, p.rPub)!;
  assert.equal(finishInitiation(p.init.message, opened, dh(p.rPriv, publicKeyOf(other))!), undefined);
  for (const at of [8, 40, 100]) {
    const m = Uint8Array.from(p.init.message);
    m[at]! ^= 1;
    const o = openInitiation(m, p.rPriv, p.rPub);
    assert.ok(!o || !finishInitiation(m, o, dh(p.rPriv, p.iPub)!), `bit at ${at}`);
  }
  const fin = finishInitiation(p.init.message, opened, dh(p.rPriv, p.iPub)!)!;
  const resp = createResponse({
    chain: fin.chain,
    remoteStatic: p.iPub,
    remoteEphemeral: opened.remoteEphemeral,
    receiverIndex: 1,
    senderIndex: 2,
    ephemeralPrivate: p.rnd(32),
    presharedKey: new Uint8Array(32).fill(1),
  })!;
  assert.equal(
    consumeResponse(resp.message, p.init.chain, p.init.ephemeralPrivate, p.iPriv, undefined),
    undefined,
  );
});

test('low-order public keys give no shared secret', () => {
  const priv = seededRandom(8)(32);
  assert.equal(dh(priv, new Uint8Array(32)), undefined, 'zero point');
  const one = new Uint8Array(32);
  one[0] = 1;
  assert.equal(dh(priv, one), undefined, 'u = 1, a point of low order');
  const p = parties();
  const bad = Uint8Array.from(p.init.message);
  bad.fill(0, 8, 40); // ephemeral := 0
  assert.equal(openInitiation(bad, p.rPriv, p.rPub), undefined);
});
