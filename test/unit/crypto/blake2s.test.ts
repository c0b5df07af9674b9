import assert from 'node:assert/strict';
import { createHash, createHmac, getHashes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blake2s as nobleBlake2s } from '@noble/hashes/blake2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import {
  bytesEqual,
  hash,
  hmacBlake2s,
  kdf1,
  kdf2,
  kdf3,
  mac,
  PreparedKey,
} from '../../../src/crypto/blake2s.js';
import { blake2s, hmacKeyState, hmacWithState } from '../../../src/crypto/blake2s-js.js';
import { Rng, testSeed } from '../../lib/rng.js';
import { ROOT } from '../../lib/run.js';

const v = JSON.parse(readFileSync(join(ROOT, 'test/vectors/blake2s.json'), 'utf8')) as {
  hash: { name: string; input: string; out: string }[];
  keyed: { name: string; key: string; input: string; out: string }[];
  kdf: { key: string; input: string; t1: string; t2: string; t3: string }[];
};
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('HASH: BLAKE2s-256 known answers (RFC 7693 Appendix B)', () => {
  for (const t of v.hash) assert.equal(toHex(hash(hex(t.input))), t.out, t.name);
  // HASH over parts is HASH over their concatenation.
  assert.equal(toHex(hash(hex('61'), hex(''), hex('6263'))), v.hash[0]!.out);
});

test('MAC: keyed BLAKE2s with 16-byte output', () => {
  // The 16-byte digest is not a prefix of the 32-byte one (the length is a parameter).
  for (const t of v.keyed) {
    const m = mac(hex(t.key), hex(t.input));
    assert.equal(m.length, 16);
    assert.notEqual(toHex(m), t.out.slice(0, 32), t.name);
  }
  // Python's hashlib gives the same bytes:
  // hashlib.blake2s(b'', key=bytes(range(32)), digest_size=16).
  assert.equal(toHex(mac(hex(v.keyed[0]!.key), new Uint8Array(0))), '9536f9b267655743dee97b8a670f9f53');
});

test('KDF1/2/3 (HKDF over HMAC-BLAKE2s) match wireguard-go kdf_test.go', () => {
  for (const t of v.kdf) {
    const [a, b, c] = kdf3(hex(t.key), hex(t.input));
    assert.deepEqual([toHex(a), toHex(b), toHex(c)], [t.t1, t.t2, t.t3]);
    const [d, e] = kdf2(hex(t.key), hex(t.input));
    assert.deepEqual([toHex(d), toHex(e)], [t.t1, t.t2]);
    assert.equal(toHex(kdf1(hex(t.key), hex(t.input))), t.t1);
    // The same from a prepared key, which refuses an empty input (blake2s-js.ts hmacWithState).
    const p = new PreparedKey(hex(t.key));
    if (t.input === '') {
      assert.throws(() => kdf1(p, hex(t.input)), RangeError);
      continue;
    }
    assert.equal(toHex(kdf1(p, hex(t.input))), t.t1);
    assert.deepEqual(kdf2(p, hex(t.input)).map(toHex), [t.t1, t.t2]);
    assert.deepEqual(kdf3(p, hex(t.input)).map(toHex), [t.t1, t.t2, t.t3]);
  }
});

test('HMAC-BLAKE2s follows RFC 2104 with a 64-byte block', () => {
  // A key longer than the block is hashed first: HMAC(K) = HMAC(HASH(K)).
  const long = new Uint8Array(65).map((_, i) => i);
  const msg = new TextEncoder().encode('abc');
  assert.deepEqual(hmacBlake2s(long, msg), hmacBlake2s(hash(long), msg));
  assert.notDeepEqual(hmacBlake2s(long.subarray(0, 64), msg), hmacBlake2s(hash(long.subarray(0, 64)), msg));
});

test('bytesEqual', () => {
  assert.equal(bytesEqual(hex('0102'), hex('0102')), true);
  assert.equal(bytesEqual(hex('0102'), hex('0103')), false);
  assert.equal(bytesEqual(hex('0102'), hex('01')), false);
});

// RFC 7693 Appendix E: the self-test over output lengths 16, 20, 28, 32 and input lengths 0,
// 3, 64, 65, 255, 1024, keyed and unkeyed, folded into one BLAKE2s-256 ("hash of hashes").
// It crosses every block boundary case and every parameter-block field our uses touch.
function selftestSeq(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let a = Math.imul(0xdead4bad, seed) >>> 0;
  let b = 1;
  for (let i = 0; i < len; i++) {
    const t = (a + b) >>> 0;
    a = b;
    b = t;
    out[i] = t >>> 24;
  }
  return out;
}

test('BLAKE2s: the RFC 7693 Appendix E self-test (keyed and unkeyed, 4 output and 6 input lengths)', () => {
  const mds: Uint8Array[] = [];
  for (const outLen of [16, 20, 28, 32]) {
    for (const inLen of [0, 3, 64, 65, 255, 1024]) {
      const input = selftestSeq(inLen, inLen);
      mds.push(blake2s([input], outLen));
      mds.push(blake2s([input], outLen, selftestSeq(outLen, outLen)));
    }
  }
  assert.equal(toHex(blake2s(mds)), '6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe');
});

const seed = testSeed();
const haveOpenSSL = getHashes().includes('blake2s256');

/** Splits `data` into up to four parts at random places (parts may be empty). */
function split(rng: Rng, data: Uint8Array): Uint8Array[] {
  const cuts = [0, rng.int(data.length + 1), rng.int(data.length + 1), data.length].sort((x, y) => x - y);
  return [0, 1, 2].map((i) => data.subarray(cuts[i]!, cuts[i + 1]!));
}

test(`HASH and MAC agree with OpenSSL and @noble/hashes on random inputs and splits (seed ${seed})`, () => {
  const rng = new Rng(seed);
  for (let i = 0; i < 400; i++) {
    // Every length around the block boundaries, then anything up to four blocks.
    const data = rng.bytes(i < 200 ? i : rng.int(260));
    const parts = split(rng, data);
    const want = nobleBlake2s(data, { dkLen: 32 });
    assert.deepEqual(hash(...parts), want, `hash, ${data.length} bytes`);
    if (haveOpenSSL)
      assert.equal(toHex(hash(...parts)), createHash('blake2s256').update(data).digest('hex'), 'vs OpenSSL');
    const key = rng.bytes(1 + rng.int(32));
    const outLen = 1 + rng.int(32);
    assert.deepEqual(mac(key, ...parts), nobleBlake2s(data, { key, dkLen: 16 }), `mac, ${data.length} bytes`);
    assert.deepEqual(blake2s(parts, outLen, key), nobleBlake2s(data, { key, dkLen: outLen }), 'any length');
  }
});

test(`HMAC agrees with OpenSSL and @noble/hashes, keys of 0 to 100 bytes (seed ${seed})`, () => {
  const rng = new Rng(seed ^ 0x5a5a5a5a);
  for (let i = 0; i < 300; i++) {
    const key = rng.bytes(i <= 100 ? i : rng.int(101));
    const data = rng.bytes(rng.int(i % 3 === 0 ? 4 : 200));
    const got = hmacBlake2s(key, ...split(rng, data));
    assert.deepEqual(got, nobleHmac(nobleBlake2s, key, data), `key ${key.length}, data ${data.length}`);
    if (haveOpenSSL)
      assert.equal(toHex(got), createHmac('blake2s256', key).update(data).digest('hex'), 'vs OpenSSL');
  }
});

test(`HMAC from a prepared key state equals HMAC, keys of 0 to 64 bytes (seed ${seed})`, () => {
  const rng = new Rng(seed ^ 0x3c3c3c3c);
  for (let i = 0; i < 300; i++) {
    const key = rng.bytes(i <= 64 ? i : rng.int(65));
    // Every message length around the block boundaries, then anything up to four blocks.
    const data = rng.bytes(1 + (i < 140 ? i : rng.int(260)));
    const state = hmacKeyState(key);
    const parts = split(rng, data);
    assert.deepEqual(
      hmacWithState(state, parts),
      hmacBlake2s(key, data),
      `key ${key.length}, data ${data.length}`,
    );
    // The state serves again, and a plain HMAC between does not disturb it.
    hmacBlake2s(rng.bytes(32), rng.bytes(40));
    assert.deepEqual(hmacWithState(state, [data]), nobleHmac(nobleBlake2s, key, data));
  }
  // An empty message would need the key block compressed as the last one: refused.
  assert.throws(() => hmacWithState(hmacKeyState(new Uint8Array(32)), [new Uint8Array(0)]), RangeError);
  assert.throws(() => hmacKeyState(new Uint8Array(65)), RangeError);
});

test('BLAKE2s refuses output and key lengths outside 1..32', () => {
  assert.throws(() => blake2s([], 0), RangeError);
  assert.throws(() => blake2s([], 33), RangeError);
  assert.throws(() => blake2s([], 32, new Uint8Array(33)), RangeError);
  assert.throws(() => mac(new Uint8Array(0), new Uint8Array(1)), RangeError);
  // A refused call leaves nothing behind for the next one.
  assert.equal(toHex(hash(hex('616263'))), v.hash[0]!.out);
});

test('the inputs are not modified', () => {
  const key = new Uint8Array(32).fill(7);
  const data = new Uint8Array(100).fill(9);
  hmacBlake2s(key, data);
  mac(key, data);
  hash(key, data);
  assert.ok(key.every((b) => b === 7) && data.every((b) => b === 9));
});
