import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aeadOpen,
  aeadSeal,
  counterNonce,
  nobleChaChaPoly,
  nodeChaChaPoly,
  xaeadOpen,
  xaeadSeal,
} from '../../../src/crypto/aead.js';
import { hex, toHex, aeadVectors as vectors } from '../../lib/aead-vectors.js';

for (const impl of [nodeChaChaPoly, nobleChaChaPoly]) {
  test(`ChaCha20-Poly1305 known answers, RFC 8439 §2.8.2 and A.5 (${impl.name})`, () => {
    for (const v of vectors.chacha20poly1305) {
      assert.equal(toHex(impl.seal(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.ad))), v.sealed, v.name);
      assert.equal(toHex(impl.open(hex(v.key), hex(v.nonce), hex(v.sealed), hex(v.ad))), v.plaintext, v.name);
      // Any flipped bit in ciphertext, tag or AD fails authentication.
      for (const i of [0, v.sealed.length / 2 - 1]) {
        const bad = hex(v.sealed);
        bad[i]! ^= 0x01;
        assert.equal(impl.open(hex(v.key), hex(v.nonce), bad, hex(v.ad)), undefined, `${v.name} byte ${i}`);
      }
      const ad = hex(v.ad);
      ad[0]! ^= 0x80;
      assert.equal(impl.open(hex(v.key), hex(v.nonce), hex(v.sealed), ad), undefined);
      assert.equal(impl.open(hex(v.key), hex(v.nonce), new Uint8Array(15)), undefined, 'shorter than a tag');
    }
  });
}

test('node:crypto and @noble/ciphers agree on random inputs', () => {
  for (let n = 0; n < 300; n += 37) {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const pt = crypto.getRandomValues(new Uint8Array(n));
    const ad = crypto.getRandomValues(new Uint8Array(n % 50));
    const a = nodeChaChaPoly.seal(key, nonce, pt, ad);
    assert.deepEqual(a, nobleChaChaPoly.seal(key, nonce, pt, ad));
    assert.deepEqual(nobleChaChaPoly.open(key, nonce, a, ad), pt);
  }
});

test('WireGuard nonce: 32 zero bits then the counter little-endian', () => {
  assert.equal(toHex(counterNonce(0)), '000000000000000000000000');
  assert.equal(toHex(counterNonce(1)), '000000000100000000000000');
  assert.equal(toHex(counterNonce(2 ** 32 + 0x0102)), '000000000201000001000000');
  assert.equal(toHex(counterNonce(2 ** 53 - 1)), '00000000ffffffffffff1f00');
  assert.throws(() => counterNonce(-1), RangeError);
  assert.throws(() => counterNonce(2 ** 53), RangeError);
  const key = new Uint8Array(32).fill(7);
  const sealed = aeadSeal(key, 5, Uint8Array.of(1, 2, 3), Uint8Array.of(9));
  assert.deepEqual(aeadOpen(key, 5, sealed, Uint8Array.of(9)), Uint8Array.of(1, 2, 3));
  assert.equal(aeadOpen(key, 6, sealed, Uint8Array.of(9)), undefined, 'another counter');
});

test('XChaCha20-Poly1305 known answer, draft-irtf-cfrg-xchacha A.3.1', () => {
  for (const v of vectors.xchacha20poly1305) {
    assert.equal(toHex(xaeadSeal(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.ad))), v.sealed, v.name);
    assert.equal(toHex(xaeadOpen(hex(v.key), hex(v.nonce), hex(v.sealed), hex(v.ad))), v.plaintext);
    const bad = hex(v.sealed);
    bad[bad.length - 1]! ^= 1;
    assert.equal(xaeadOpen(hex(v.key), hex(v.nonce), bad, hex(v.ad)), undefined);
  }
  assert.throws(() => xaeadSeal(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0)), RangeError);
});
