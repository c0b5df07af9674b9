import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from '../../../src/crypto/random.js';

test('randomBytes gives the length asked, pooled or not', () => {
  for (const n of [0, 1, 4, 32, 63, 64, 65, 1000, 5000]) assert.equal(randomBytes(n).length, n);
  assert.throws(() => randomBytes(-1), RangeError);
  assert.throws(() => randomBytes(1.5), RangeError);
});

test('no two 32-byte keys repeat across several pool refills, and none is all zero', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const k = randomBytes(32);
    assert.ok(k.some((b) => b !== 0));
    const h = Buffer.from(k).toString('hex');
    assert.ok(!seen.has(h), 'a repeated key');
    seen.add(h);
  }
});

test('each result is its own array: changing one changes no other', () => {
  const a = randomBytes(16);
  const b = randomBytes(16);
  assert.notEqual(a.buffer, b.buffer);
  const copy = Uint8Array.from(b);
  a.fill(0xff);
  assert.deepEqual(b, copy);
});

test('pooled bytes look uniform (a loose chi-square bound on 256 KiB of small requests)', () => {
  const counts = new Array<number>(256).fill(0);
  let total = 0;
  for (let i = 0; i < 8192; i++)
    for (const b of randomBytes(32)) {
      counts[b]!++;
      total++;
    }
  const expected = total / 256;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  // 255 degrees of freedom: the mean is 255; above 400 happens with probability < 1e-8.
  assert.ok(chi2 < 400, `chi-square ${chi2.toFixed(0)}`);
});
