import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { aeadSeal, counterNonce, nodeChaChaPoly } from '../../../src/crypto/aead.js';
import {
  EvpChaChaPoly,
  libcryptoAvailable,
  libsodiumAvailable,
  type NativeAead,
  openBytes,
  SodiumChaChaPoly,
  sealBytes,
} from '../../../src/sys/libcrypto.js';
import { allocNative, freeNative } from '../../../src/sys/native.js';
import { hex, toHex, aeadVectors as vectors } from '../../lib/aead-vectors.js';

test('OpenSSL ChaCha20-Poly1305 is reachable through koffi', () => {
  assert.equal(libcryptoAvailable(), true);
});

// libsodium is optional at run time (the data plane uses it for small packets when present).
const providers: {
  name: string;
  available: boolean;
  make: (key: Uint8Array, encrypt: boolean) => NativeAead;
}[] = [
  { name: 'EVP', available: true, make: (k, e) => new EvpChaChaPoly(k, e) },
  { name: 'libsodium', available: libsodiumAvailable(), make: (k) => new SodiumChaChaPoly(k) },
];

for (const pr of providers) {
  test(`${pr.name}: RFC 8439 §2.8.2 and A.5 known answers, in place, tamper detection`, (t) => {
    if (!pr.available) return t.skip(`${pr.name} is not installed`);
    for (const v of vectors.chacha20poly1305) {
      const enc = pr.make(hex(v.key), true);
      const dec = pr.make(hex(v.key), false);
      try {
        assert.equal(toHex(sealBytes(enc, hex(v.nonce), hex(v.plaintext), hex(v.ad))), v.sealed, v.name);
        assert.equal(toHex(openBytes(dec, hex(v.nonce), hex(v.sealed), hex(v.ad))), v.plaintext, v.name);
        const bad = hex(v.sealed);
        bad[bad.length - 1]! ^= 0x01;
        assert.equal(openBytes(dec, hex(v.nonce), bad, hex(v.ad)), undefined);
      } finally {
        enc.free();
        dec.free();
      }
    }
    const key = new Uint8Array(randomBytes(32));
    const enc = pr.make(key, true);
    const dec = pr.make(key, false);
    const mem = allocNative(70000);
    try {
      for (const len of [0, 1, 16, 17, 64, 1420, 65535]) {
        const pt = new Uint8Array(randomBytes(len));
        mem.bytes.set(pt, 8);
        enc.sealAt(len + 3, mem.addr + 8, len, mem.addr + 8);
        assert.equal(
          toHex(mem.bytes.slice(8, 8 + len + 16)),
          toHex(aeadSeal(key, len + 3, pt)),
          `len ${len}`,
        );
        assert.equal(dec.openAt(len + 3, mem.addr + 8, len + 16, mem.addr + 8), true);
        assert.equal(toHex(mem.bytes.slice(8, 8 + len)), toHex(pt));
        assert.equal(dec.openAt(len + 4, mem.addr + 8, len + 16, mem.addr + 8), false, 'wrong counter');
      }
    } finally {
      freeNative(mem);
      enc.free();
      dec.free();
    }
  });
}

test('EVP ChaCha20-Poly1305 known answers, RFC 8439 §2.8.2 and A.5', () => {
  for (const v of vectors.chacha20poly1305) {
    const enc = new EvpChaChaPoly(hex(v.key), true);
    const dec = new EvpChaChaPoly(hex(v.key), false);
    try {
      assert.equal(toHex(enc.seal(hex(v.nonce), hex(v.plaintext), hex(v.ad))), v.sealed, v.name);
      assert.equal(toHex(dec.open(hex(v.nonce), hex(v.sealed), hex(v.ad))), v.plaintext, v.name);
      for (const i of [0, v.sealed.length / 2 - 1]) {
        const bad = hex(v.sealed);
        bad[i]! ^= 0x01;
        assert.equal(
          dec.open(hex(v.nonce), bad, hex(v.ad)),
          undefined,
          `${v.name}: flipped byte ${i} must fail`,
        );
      }
      const badAd = hex(v.ad);
      badAd[0]! ^= 0x80;
      assert.equal(
        dec.open(hex(v.nonce), hex(v.sealed), badAd),
        undefined,
        `${v.name}: changed AD must fail`,
      );
    } finally {
      enc.free();
      dec.free();
    }
  }
});

test('the counter form is the nonce 0^32 || u64 LE counter (whitepaper 5.4.6)', () => {
  const key = new Uint8Array(randomBytes(32));
  const enc = new EvpChaChaPoly(key, true);
  const pt = new Uint8Array(randomBytes(100));
  for (const counter of [0, 1, 0x01020304, 2 ** 40 + 5]) {
    assert.equal(toHex(enc.seal(counter, pt)), toHex(enc.seal(counterNonce(counter), pt)));
  }
  assert.notEqual(toHex(enc.seal(1, pt)), toHex(enc.seal(2, pt)));
  enc.free();
});

test('seal/open agree with node:crypto for many sizes and counters, and reject the wrong counter', () => {
  const key = new Uint8Array(randomBytes(32));
  const enc = new EvpChaChaPoly(key, true);
  const dec = new EvpChaChaPoly(key, false);
  try {
    for (const len of [0, 1, 15, 16, 17, 63, 64, 65, 255, 1280, 1420, 1440, 4096, 9000, 65535]) {
      for (const counter of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
        const pt = new Uint8Array(randomBytes(len));
        const sealed = enc.seal(counter, pt);
        assert.equal(toHex(sealed), toHex(aeadSeal(key, counter, pt)), `len ${len} counter ${counter}`);
        assert.equal(toHex(dec.open(counter, sealed)), toHex(pt));
        assert.equal(dec.open(counter === 0 ? 1 : counter - 1, sealed), undefined);
      }
    }
  } finally {
    enc.free();
    dec.free();
  }
});

test('sealAt/openAt work in place on native memory', () => {
  const key = new Uint8Array(randomBytes(32));
  const enc = new EvpChaChaPoly(key, true);
  const dec = new EvpChaChaPoly(key, false);
  const mem = allocNative(4096);
  try {
    const pt = new Uint8Array(randomBytes(1000));
    mem.bytes.set(pt, 100);
    enc.sealAt(42, mem.addr + 100, pt.length, mem.addr + 100);
    const sealed = mem.bytes.slice(100, 100 + pt.length + 16);
    assert.equal(toHex(sealed), toHex(nodeChaChaPoly.seal(key, counterNonce(42), pt)));
    assert.equal(dec.openAt(42, mem.addr + 100, sealed.length, mem.addr + 100), true);
    assert.equal(toHex(mem.bytes.slice(100, 100 + pt.length)), toHex(pt));
    // A tampered tag leaves openAt false.
    mem.bytes.set(sealed, 100);
    mem.bytes[100 + pt.length + 15]! ^= 1;
    assert.equal(dec.openAt(42, mem.addr + 100, sealed.length, mem.addr + 100), false);
    assert.equal(dec.openAt(42, mem.addr + 100, 15, mem.addr + 100), false, 'shorter than a tag');
  } finally {
    freeNative(mem);
    enc.free();
    dec.free();
  }
});

test('a context is bound to its key and checks sizes', () => {
  assert.throws(() => new EvpChaChaPoly(new Uint8Array(31), true), RangeError);
  const enc = new EvpChaChaPoly(new Uint8Array(32).fill(1), true);
  const other = new EvpChaChaPoly(new Uint8Array(32).fill(2), false);
  assert.throws(() => enc.seal(new Uint8Array(8), new Uint8Array(4)), RangeError);
  assert.equal(other.open(0, enc.seal(0, new Uint8Array(10))), undefined);
  enc.free();
  other.free();
});
