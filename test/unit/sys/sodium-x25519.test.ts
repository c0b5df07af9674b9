// libsodium's X25519 (sys/sodium-x25519.ts), which the engine's handshakes use when it is
// installed: the RFC 7748 vectors, agreement with @noble/curves on random keys, low-order points
// refused, and the hook in crypto/x25519-native.ts routing through it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as noble from '../../../src/crypto/x25519.js';
import * as native from '../../../src/crypto/x25519-native.js';
import {
  sodiumPublicKeyOf,
  sodiumSharedSecret,
  sodiumX25519Available,
} from '../../../src/sys/sodium-x25519.js';
import { ROOT } from '../../lib/run.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const vectors = JSON.parse(readFileSync(join(ROOT, 'test/vectors/x25519.json'), 'utf8')) as {
  vectors: { name: string; scalar: string; u: string; out: string }[];
};
const NEEDS = 'needs libsodium (libsodium.so.23)';

test('libsodium X25519 gives the RFC 7748 answers', (t) => {
  if (!sodiumX25519Available()) return t.skip(NEEDS);
  for (const v of vectors.vectors) {
    const out = sodiumSharedSecret(hex(v.scalar), hex(v.u));
    assert.equal(out && Buffer.from(out).toString('hex'), v.out, v.name);
  }
});

test('libsodium and @noble/curves agree on random keys, clamped or not', (t) => {
  if (!sodiumX25519Available()) return t.skip(NEEDS);
  for (let i = 0; i < 50; i++) {
    const a = new Uint8Array(randomBytes(32));
    const b = new Uint8Array(randomBytes(32));
    const pubA = sodiumPublicKeyOf(a);
    assert.deepEqual(pubA, noble.publicKeyOf(a));
    assert.deepEqual(sodiumSharedSecret(b, pubA), noble.sharedSecret(b, pubA));
  }
});

test('a low-order point gives no secret, wrong lengths are refused', (t) => {
  if (!sodiumX25519Available()) return t.skip(NEEDS);
  const k = new Uint8Array(randomBytes(32));
  assert.equal(sodiumSharedSecret(k, new Uint8Array(32)), undefined);
  assert.throws(() => sodiumSharedSecret(k, new Uint8Array(31)), RangeError);
  assert.throws(() => sodiumPublicKeyOf(new Uint8Array(33)), RangeError);
});

test('x25519-native routes through an installed raw X25519, and back', (t) => {
  if (!sodiumX25519Available()) return t.skip(NEEDS);
  const a = new Uint8Array(randomBytes(32));
  const b = new Uint8Array(randomBytes(32));
  const calls: string[] = [];
  native.useRawX25519({
    publicKeyOf: (k) => {
      calls.push('pub');
      return sodiumPublicKeyOf(k);
    },
    sharedSecret: (k, p) => {
      calls.push('dh');
      return sodiumSharedSecret(k, p);
    },
  });
  try {
    const pubB = native.publicKeyOf(b);
    assert.deepEqual(native.sharedSecret(a, pubB), noble.sharedSecret(a, pubB));
    assert.deepEqual(calls, ['pub', 'dh']);
    assert.throws(() => native.sharedSecret(a, new Uint8Array(32)), /low-order/);
  } finally {
    native.useRawX25519(undefined);
  }
  native.publicKeyOf(a);
  assert.equal(calls.length, 3, 'not used once uninstalled');
});
