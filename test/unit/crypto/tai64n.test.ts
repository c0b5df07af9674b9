import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareTai64n, nextTai64n, tai64n, tai64nToUnixNs } from '../../../src/crypto/tai64n.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('TAI64N layout: label 2^62 + 10 + seconds, whitened nanoseconds, big-endian', () => {
  assert.equal(toHex(tai64n(0n)), '400000000000000a00000000');
  // 2021-01-01T00:00:00.123456789Z: nanoseconds 123456789 & ~0xffffff = 117440512 = 0x07000000.
  const t = 1609459200n * 1_000_000_000n + 123456789n;
  assert.equal(toHex(tai64n(t)), `${(0x400000000000000an + 1609459200n).toString(16)}07000000`);
  assert.equal(tai64nToUnixNs(tai64n(t)), 1609459200n * 1_000_000_000n + 117440512n);
  assert.throws(() => tai64n(-1n), RangeError);
});

test('timestamps order as byte strings; within one 16.8 ms granule they are equal', () => {
  const base = 1_700_000_000n * 1_000_000_000n;
  assert.equal(compareTai64n(tai64n(base), tai64n(base + 16_000_000n)), 0);
  assert.equal(compareTai64n(tai64n(base), tai64n(base + 17_000_000n)), -1);
  assert.equal(compareTai64n(tai64n(base + 2_000_000_000n), tai64n(base)), 1);
});

test('nextTai64n is strictly increasing even when the clock is not', () => {
  const base = 1_700_000_000n * 1_000_000_000n + 999_000_000n;
  const a = nextTai64n(base, undefined);
  const b = nextTai64n(base, a); // same clock reading
  const c = nextTai64n(base - 5_000_000_000n, b); // clock stepped back
  assert.equal(compareTai64n(b, a), 1);
  assert.equal(compareTai64n(c, b), 1);
  assert.equal(tai64nToUnixNs(c) - tai64nToUnixNs(b) <= 16_777_216n, true);
  const later = nextTai64n(base + 10_000_000_000n, c);
  assert.deepEqual(later, tai64n(base + 10_000_000_000n), 'a newer clock reading is used as is');
});
