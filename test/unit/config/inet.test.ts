// inet_pton/inet_ntop as glibc does them (wg-compat 1.5.5): the recorded cases, then random
// addresses against Node's SocketAddress (libuv's copy of the same BIND algorithm) as a
// second implementation, and text -> bytes -> text stability.

import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { test } from 'node:test';
import { inetNtop6, inetPton4, inetPton6 } from '../../../src/config/inet.js';
import { Rng, randomV6, testSeed } from './random-model.js';

test('recorded glibc texts', () => {
  const cases: [string, string][] = [
    ['1:0:0:1::1', '1:0:0:1::1'],
    ['1::1:0:0:1', '1::1:0:0:1'],
    ['2001:db8::2:1', '2001:db8::2:1'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    ['::1:0:0', '::1:0:0'],
    ['::2:3', '::0.2.0.3'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['::', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:2', '::2'],
    ['::ffff:2', '::255.255.0.2'],
    ['::0.0.1.2', '::102'],
    ['0:0:0:0:0:ffff:0:2', '::ffff:0.0.0.2'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['1:0:0:1:0:0:1:1', '1::1:0:0:1:1'],
    ['FD00:0000:0000::ABCD', 'fd00::abcd'],
  ];
  for (const [input, text] of cases) assert.equal(inetNtop6(inetPton6(input)!), text, input);
});

test('inet_pton rejects what glibc rejects', () => {
  for (const bad of [
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8',
    '12345::',
    '1:',
    ':1',
  ]) {
    assert.equal(inetPton6(bad), undefined, bad);
  }
  for (const bad of ['::1.2.3.04', '::1.2.3', '1.2.3.4', '::g', 'fe80::1%lo', '::1.2.3.4:5']) {
    assert.equal(inetPton6(bad), undefined, bad);
  }
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.256',
    '1..2.3',
    '1.2.3.4.',
    ' 1.2.3.4',
    '0x1.2.3.4',
  ]) {
    assert.equal(inetPton4(bad), undefined, bad);
  }
  assert.deepEqual(inetPton4('0.0.0.0'), new Uint8Array(4));
  assert.deepEqual(inetPton4('255.255.255.255'), new Uint8Array([255, 255, 255, 255]));
});

test('random addresses: inetNtop6 agrees with SocketAddress, and pton(ntop(x)) = x', () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  for (let i = 0; i < 5000; i++) {
    const b = i % 3 === 0 ? rng.bytes(16) : randomV6(rng);
    const text = inetNtop6(b);
    const full = Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16)).join(
      ':',
    );
    assert.equal(text, new SocketAddress({ address: full, family: 'ipv6' }).address, `seed ${seed}: ${full}`);
    assert.deepEqual(inetPton6(text), b, `seed ${seed}: ${text}`);
  }
});
