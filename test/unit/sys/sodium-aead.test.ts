// libsodium's ChaCha20-Poly1305 on the handshake's small fields (sys/sodium-aead.ts), which the
// engine's handshakes use when it is installed: the RFC 8439 vectors, agreement with the
// JavaScript implementation on the sizes a handshake uses and around the limits, tampering
// refused, sizes checked, and the hook in crypto/aead.ts routing through it only for what fits
// (a recorded handshake then comes out byte for byte the same).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { aeadOpen, aeadSeal, counterNonce, jsChaChaPoly, useRawAead } from '../../../src/crypto/aead.js';
import {
  SODIUM_AEAD_MAX_AD,
  SODIUM_AEAD_MAX_SEALED,
  sodiumAeadAvailable,
  sodiumAeadFits,
  sodiumOpen,
  sodiumSeal,
} from '../../../src/sys/sodium-aead.js';
import { hex, toHex, aeadVectors as vectors } from '../../lib/aead-vectors.js';

const skip = sodiumAeadAvailable() ? false : 'needs libsodium';

test('RFC 8439 §2.8.2 and A.5 known answers; a flipped bit or a short input is refused', { skip }, () => {
  for (const v of vectors.chacha20poly1305) {
    if (!sodiumAeadFits(v.sealed.length / 2, v.ad.length / 2)) continue;
    assert.equal(toHex(sodiumSeal(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.ad))), v.sealed, v.name);
    assert.equal(toHex(sodiumOpen(hex(v.key), hex(v.nonce), hex(v.sealed), hex(v.ad))!), v.plaintext, v.name);
    for (const i of [0, v.sealed.length / 2 - 1]) {
      const bad = hex(v.sealed);
      bad[i]! ^= 0x01;
      assert.equal(sodiumOpen(hex(v.key), hex(v.nonce), bad, hex(v.ad)), undefined, `${v.name} byte ${i}`);
    }
    assert.equal(sodiumOpen(hex(v.key), hex(v.nonce), new Uint8Array(15), hex(v.ad)), undefined);
  }
});

test('agrees with the JavaScript implementation up to the limits it takes', { skip }, () => {
  for (const n of [0, 12, 32, 100, SODIUM_AEAD_MAX_SEALED - 16])
    for (const adLen of [0, 32, SODIUM_AEAD_MAX_AD]) {
      const key = randomBytes(32);
      const nonce = randomBytes(12);
      const pt = randomBytes(n);
      const ad = randomBytes(adLen);
      const sealed = sodiumSeal(key, nonce, pt, ad);
      assert.deepEqual(sealed, jsChaChaPoly.seal(key, nonce, pt, ad), `${n} bytes, ${adLen} of AD`);
      assert.deepEqual(sodiumOpen(key, nonce, sealed, ad), jsChaChaPoly.open(key, nonce, sealed, ad));
    }
});

test('sizes beyond its limits and keys or nonces of the wrong size are refused', { skip }, () => {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  assert.equal(sodiumAeadFits(SODIUM_AEAD_MAX_SEALED + 1, 0), false);
  assert.equal(sodiumAeadFits(16, SODIUM_AEAD_MAX_AD + 1), false);
  assert.throws(
    () => sodiumSeal(key, nonce, new Uint8Array(SODIUM_AEAD_MAX_SEALED), new Uint8Array(0)),
    RangeError,
  );
  assert.throws(
    () => sodiumSeal(key, nonce, new Uint8Array(1), new Uint8Array(SODIUM_AEAD_MAX_AD + 1)),
    RangeError,
  );
  assert.throws(() => sodiumSeal(randomBytes(31), nonce, new Uint8Array(1), new Uint8Array(0)), RangeError);
  assert.throws(() => sodiumOpen(key, randomBytes(24), new Uint8Array(32), new Uint8Array(0)), RangeError);
});

test('crypto/aead.ts routes what fits through the hook, the rest as before', { skip }, () => {
  const key = randomBytes(32);
  const hash = randomBytes(32);
  const seen: number[] = [];
  const counting = {
    seal: (k: Uint8Array, n: Uint8Array, p: Uint8Array, a: Uint8Array) => {
      seen.push(p.length);
      return sodiumSeal(k, n, p, a);
    },
    open: (k: Uint8Array, n: Uint8Array, s: Uint8Array, a: Uint8Array) => {
      seen.push(s.length);
      return sodiumOpen(k, n, s, a);
    },
    fits: sodiumAeadFits,
  };
  // The plaintexts of a handshake: a static key, a timestamp, nothing.
  const plains = [32, 12, 0].map((n) => randomBytes(n));
  const longAd = randomBytes(SODIUM_AEAD_MAX_AD + 1);
  const beforeLong = aeadSeal(key, 7, plains[0]!, longAd);
  const before = plains.map((p) => aeadSeal(key, 7, p, hash));
  useRawAead(counting);
  try {
    const after = plains.map((p) => aeadSeal(key, 7, p, hash));
    assert.deepEqual(after, before);
    for (const [i, s] of after.entries())
      assert.deepEqual(aeadOpen(key, 7, s, hash), new Uint8Array(plains[i]!));
    const bad = Uint8Array.from(after[0]!);
    bad[5]! ^= 4;
    assert.equal(aeadOpen(key, 7, bad, hash), undefined);
    assert.equal(aeadOpen(key, 8, after[0]!, hash), undefined, 'another counter');
    assert.deepEqual(seen, [32, 12, 0, 48, 28, 16, 48, 48]);
    // Associated data beyond what the hook takes: the JavaScript path, same answer.
    assert.deepEqual(aeadSeal(key, 7, plains[0]!, longAd), beforeLong);
    assert.deepEqual(aeadOpen(key, 7, beforeLong, longAd), new Uint8Array(plains[0]!));
    assert.equal(seen.length, 8, 'not routed');
    assert.deepEqual(counterNonce(7), counterNonce(7, new Uint8Array(12)));
  } finally {
    useRawAead(undefined);
  }
});
