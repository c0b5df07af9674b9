import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aeadOpen,
  aeadSeal,
  counterNonce,
  jsChaChaPoly,
  nobleChaChaPoly,
  nodeChaChaPoly,
  SMALL_MAX,
  xaeadOpen,
  xaeadSeal,
} from '../../../src/crypto/aead.js';
import { poly1305Aligned } from '../../../src/crypto/chacha20poly1305-js.js';
import { hex, toHex, aeadVectors as vectors } from '../../lib/aead-vectors.js';

for (const impl of [nodeChaChaPoly, nobleChaChaPoly, jsChaChaPoly]) {
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

// ---- chacha20poly1305-js.ts: the small-message path ----

test('the JS ChaCha20-Poly1305 agrees with OpenSSL on every length 0..600 and AD 0..100', () => {
  for (let n = 0; n <= 600; n += n < 80 ? 1 : 7) {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const pt = crypto.getRandomValues(new Uint8Array(n));
    const ad = crypto.getRandomValues(new Uint8Array((n * 7) % 101));
    const sealed = jsChaChaPoly.seal(key, nonce, pt, ad);
    assert.deepEqual(sealed, nodeChaChaPoly.seal(key, nonce, pt, ad), `${n} bytes`);
    assert.deepEqual(jsChaChaPoly.open(key, nonce, sealed, ad), pt);
    const bad = Uint8Array.from(sealed);
    bad[(n * 13) % bad.length]! ^= 1 << (n % 8);
    assert.equal(jsChaChaPoly.open(key, nonce, bad, ad), undefined, `flipped bit, ${n} bytes`);
  }
});

test('aeadSeal/aeadOpen give the same bytes on both sides of SMALL_MAX', () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ad = crypto.getRandomValues(new Uint8Array(32));
  for (const n of [0, 12, 32, SMALL_MAX - 1, SMALL_MAX, SMALL_MAX + 1, 1420]) {
    const pt = crypto.getRandomValues(new Uint8Array(n));
    const sealed = aeadSeal(key, n, pt, ad);
    assert.deepEqual(sealed, nodeChaChaPoly.seal(key, counterNonce(n), pt, ad), `${n} bytes`);
    assert.deepEqual(aeadOpen(key, n, sealed, ad), pt);
    assert.deepEqual(nodeChaChaPoly.open(key, counterNonce(n), sealed, ad), pt);
  }
});

/** Poly1305 over 16-byte blocks (each with its 2^128 bit) the obvious way, with BigInt. */
function referencePoly1305(otk: Uint8Array, data: Uint8Array): Uint8Array {
  const le = (b: Uint8Array) => BigInt(`0x${toHex(Uint8Array.from(b).reverse()) || '0'}`);
  const p = (1n << 130n) - 5n;
  const r = le(otk.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(otk.subarray(16, 32));
  let acc = 0n;
  for (let o = 0; o < data.length; o += 16)
    acc = ((acc + le(data.subarray(o, o + 16)) + (1n << 128n)) * r) % p;
  const t = (acc + s) & ((1n << 128n) - 1n);
  return hex(t.toString(16).padStart(32, '0')).reverse();
}

test('Poly1305 reduction edge cases match a BigInt reference (h = p .. p + 3, r = 1, 2, 5·2^124)', () => {
  const key = (rBytes: number[], sFill: number) => {
    const k = new Uint8Array(32).fill(sFill, 16);
    k.set(rBytes);
    return k;
  };
  const ff = new Uint8Array(16).fill(0xff);
  const block = (lowByte: number) => {
    const b = Uint8Array.from(ff);
    b[0] = lowByte;
    return b;
  };
  const cat = (...bs: Uint8Array[]) => Uint8Array.from(bs.flatMap((b) => [...b]));
  const cases: [Uint8Array, Uint8Array][] = [];
  for (const s of [0x00, 0xff]) {
    // r = 1: two blocks sum to 2^129 + m1 + m2; m1 + m2 = 2^129 − 5 + k makes h = p + k.
    for (const k of [0, 1, 2, 3]) cases.push([key([1], s), cat(ff, block(0xfc + k))]);
    cases.push([key([2], s), ff]); // (2^129 − 1) · 2 = 2^130 − 2
    cases.push([key([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f], s), cat(ff, ff, ff)]); // r near 2^124
    cases.push([key([], s), new Uint8Array(64)]);
  }
  for (let i = 0; i < 200; i++) {
    const otk = crypto.getRandomValues(new Uint8Array(32));
    const data = crypto.getRandomValues(new Uint8Array(16 * (i % 9)));
    if (i % 3 === 0) data.fill(0xff);
    cases.push([otk, data]);
  }
  for (const [otk, data] of cases)
    assert.equal(toHex(poly1305Aligned(otk, data)), toHex(referencePoly1305(otk, data)), toHex(otk));
});
