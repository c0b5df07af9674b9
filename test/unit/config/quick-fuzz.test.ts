// Arbitrary bytes never crash parseQuickConfig: it returns, or throws wg-quick's SaveConfig
// error and nothing else. Seeded, so a failure can be replayed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuickConfig } from '../../../src/config/quick.js';
import { isWgError } from '../../../src/model/errors.js';
import { xorshift32 } from '../../lib/rng.js';

const PIECES = [
  '[Interface]',
  '[Peer]',
  '[',
  ']',
  'Address',
  'DNS',
  'MTU',
  'Table',
  'PreUp',
  'PostDown',
  'SaveConfig',
  'true',
  'Endpoint',
  '=',
  '#',
  ',',
  ' ',
  '\t',
  '\r',
  '\n',
  '\0',
  '\v',
  '10.0.0.1/32',
  'fd00::1',
];

function randomInput(next: () => number): Buffer {
  const out: number[] = [];
  const n = Math.floor(next() * 300);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.15) out.push(Math.floor(next() * 256));
    else if (r < 0.3) out.push(0x0a);
    else out.push(...Buffer.from(PIECES[Math.floor(next() * PIECES.length)]!, 'latin1'));
  }
  return Buffer.from(out);
}

test('5000 random inputs: a result or the SaveConfig error, never anything else', () => {
  const next = xorshift32(0x5eed_0001);
  let errors = 0;
  for (let i = 0; i < 5000; i++) {
    const input = randomInput(next);
    try {
      const q = parseQuickConfig(input);
      // What is kept is a sequence of whole lines: it is empty or ends in a newline, and it
      // never holds a NUL (bash's read drops them).
      const kept = q.wgConfig;
      assert.ok(kept.length === 0 || kept[kept.length - 1] === 0x0a, `case ${i}`);
      assert.equal(kept.indexOf(0), -1, `case ${i}`);
      assert.ok(kept.length <= input.length + 1, `case ${i}`);
      for (const a of [...q.addresses, ...q.dns, ...q.dnsSearch]) assert.doesNotMatch(a, /^$|[ \t\n,]/);
    } catch (e) {
      assert.ok(isWgError(e) && / is neither true nor false$/.test(e.message), `case ${i}: ${String(e)}`);
      errors++;
    }
  }
  // The generator does reach the error path, and mostly parses: the test exercises both.
  assert.ok(errors > 0 && errors < 5000, `errors=${errors}`);
});

test('mutations of a real config: flipping, deleting and inserting bytes never crash', () => {
  const base = Buffer.from(
    '[Interface]\r\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = 10.0.0.2/24, fd00::2/64\n' +
      'DNS = 1.1.1.1, example.com\nSaveConfig = true\nPostUp = echo "%i # x"\n[Peer]\nEndpoint = 192.0.2.1:51820\n',
  );
  const next = xorshift32(0x5eed_0002);
  for (let i = 0; i < 3000; i++) {
    const b = [...base];
    for (let m = 0; m < 1 + Math.floor(next() * 4); m++) {
      const at = Math.floor(next() * (b.length + 1));
      const op = next();
      if (op < 0.33) b[at] = Math.floor(next() * 256);
      else if (op < 0.66) b.splice(at, 1);
      else b.splice(at, 0, Math.floor(next() * 256));
    }
    try {
      parseQuickConfig(Buffer.from(b.filter((x) => x !== undefined)));
    } catch (e) {
      assert.ok(isWgError(e) && / is neither true nor false$/.test(e.message), `case ${i}: ${String(e)}`);
    }
  }
});
