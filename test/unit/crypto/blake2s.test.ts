import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bytesEqual, hash, hmacBlake2s, kdf1, kdf2, kdf3, mac } from '../../../src/crypto/blake2s.js';
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
