import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as noble from '../../../src/crypto/x25519.js';
import * as native from '../../../src/crypto/x25519-native.js';
import { ROOT } from '../../lib/run.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const vectors = JSON.parse(readFileSync(join(ROOT, 'test/vectors/x25519.json'), 'utf8')) as {
  vectors: { name: string; scalar: string; u: string; out: string }[];
};

test('node:crypto X25519 gives the RFC 7748 answers', () => {
  for (const v of vectors.vectors) {
    assert.equal(Buffer.from(native.sharedSecret(hex(v.scalar), hex(v.u))).toString('hex'), v.out, v.name);
  }
});

test('node:crypto and @noble/curves agree on random keys, clamped or not', () => {
  for (let i = 0; i < 50; i++) {
    const a = new Uint8Array(randomBytes(32));
    const b = new Uint8Array(randomBytes(32));
    const pubA = native.publicKeyOf(a);
    assert.deepEqual(pubA, noble.publicKeyOf(a));
    assert.deepEqual(native.sharedSecret(b, pubA), noble.sharedSecret(b, pubA));
  }
});

test('a low-order public key is refused', () => {
  assert.throws(() => native.sharedSecret(new Uint8Array(randomBytes(32)), new Uint8Array(32)));
});

test('keys go through the JWK import on this node (the DER import costs ~10x more)', () => {
  native.publicKeyOf(new Uint8Array(randomBytes(32)));
  assert.equal(native.keyImportPath(), 'jwk');
});

test('every call gives its own array: wiping a result changes no later one', () => {
  const a = new Uint8Array(randomBytes(32));
  const b = new Uint8Array(randomBytes(32));
  const pubB = native.publicKeyOf(b);
  const first = native.sharedSecret(a, pubB);
  const want = Uint8Array.from(first);
  first.fill(0);
  assert.deepEqual(native.sharedSecret(a, pubB), want);
  const pub = native.publicKeyOf(a);
  const wantPub = Uint8Array.from(pub);
  pub.fill(0);
  assert.deepEqual(native.publicKeyOf(a), wantPub);
});

test('keys of the wrong length are refused', () => {
  const k = new Uint8Array(randomBytes(32));
  assert.throws(() => native.publicKeyOf(new Uint8Array(31)), RangeError);
  assert.throws(() => native.sharedSecret(k, new Uint8Array(33)), RangeError);
  assert.throws(() => native.sharedSecret(new Uint8Array(16), native.publicKeyOf(k)), RangeError);
});
