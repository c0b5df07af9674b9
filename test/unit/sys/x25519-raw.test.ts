// X25519 on raw keys (sys/x25519-raw.ts), which the engine's handshakes use: each source there
// is (node's OpenSSL, libsodium) against the RFC 7748 vectors, against @noble/curves on random
// keys, with low-order points refused; the choice of the fastest; and the hook in
// crypto/x25519-native.ts routing through it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as noble from '../../../src/crypto/x25519.js';
import * as native from '../../../src/crypto/x25519-native.js';
import { fastestRawX25519, rawX25519, type X25519Source } from '../../../src/sys/x25519-raw.js';
import { ROOT } from '../../lib/run.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const vectors = JSON.parse(readFileSync(join(ROOT, 'test/vectors/x25519.json'), 'utf8')) as {
  vectors: { name: string; scalar: string; u: string; out: string }[];
};
const NEEDS: Record<X25519Source, string> = {
  openssl: "needs a node binary exporting its OpenSSL's ossl_x25519 (official builds do)",
  libsodium: 'needs libsodium (libsodium.so.23)',
};

for (const source of ['openssl', 'libsodium'] as const) {
  test(`${source} X25519 gives the RFC 7748 answers`, (t) => {
    const x = rawX25519(source);
    if (!x) return t.skip(NEEDS[source]);
    for (const v of vectors.vectors) {
      const out = x.sharedSecret(hex(v.scalar), hex(v.u));
      assert.equal(out && Buffer.from(out).toString('hex'), v.out, v.name);
    }
  });

  test(`${source} and @noble/curves agree on random keys, clamped or not`, (t) => {
    const x = rawX25519(source);
    if (!x) return t.skip(NEEDS[source]);
    for (let i = 0; i < 50; i++) {
      const a = new Uint8Array(randomBytes(32));
      const b = new Uint8Array(randomBytes(32));
      const pubA: Uint8Array = x.publicKeyOf(a);
      assert.deepEqual(pubA, noble.publicKeyOf(a));
      assert.deepEqual(x.sharedSecret(b, pubA), noble.sharedSecret(b, pubA));
    }
  });

  test(`${source}: a low-order point gives no secret, wrong lengths are refused`, (t) => {
    const x = rawX25519(source);
    if (!x) return t.skip(NEEDS[source]);
    const k = new Uint8Array(randomBytes(32));
    assert.equal(x.sharedSecret(k, new Uint8Array(32)), undefined);
    // u = 1, of order 4 (RFC 7748 leaves such points to the all-zero check).
    assert.equal(x.sharedSecret(k, hex(`01${'00'.repeat(31)}`)), undefined);
    assert.throws(() => x.sharedSecret(k, new Uint8Array(31)), RangeError);
    assert.throws(() => x.publicKeyOf(new Uint8Array(33)), RangeError);
  });
}

test('the fastest source is OpenSSL when node exports it, else libsodium', (t) => {
  const f = fastestRawX25519();
  if (!f) return t.skip(`${NEEDS.openssl}, or ${NEEDS.libsodium}`);
  assert.equal(f.source, rawX25519('openssl') ? 'openssl' : 'libsodium');
});

test('x25519-native routes through an installed raw X25519, and back', (t) => {
  const x = fastestRawX25519()?.x25519;
  if (!x) return t.skip(`${NEEDS.openssl}, or ${NEEDS.libsodium}`);
  const a = new Uint8Array(randomBytes(32));
  const b = new Uint8Array(randomBytes(32));
  const calls: string[] = [];
  native.useRawX25519({
    publicKeyOf: (k) => {
      calls.push('pub');
      return x.publicKeyOf(k);
    },
    sharedSecret: (k, p) => {
      calls.push('dh');
      return x.sharedSecret(k, p);
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
