// glibc's address text, both ways (wg-compat 1.5.5). The printer is checked against Node's
// SocketAddress (the same BIND-derived algorithm as glibc, per the reference) on random and
// edge addresses; the parsers against recorded glibc verdicts.

import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { test } from 'node:test';
import {
  formatIPv6,
  formatSockAddr,
  parseIPv4,
  parseIPv4Aton,
  parseIPv6,
  sameSockAddr,
} from '../../../src/uapi/ip.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('inet_ntop6: the recorded glibc forms (wg-compat 1.5.5)', () => {
  const cases: Array<[string, string]> = [
    ['::2:3', '::0.2.0.3'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['1:0:0:1::1', '1:0:0:1::1'],
    ['1::1:0:0:1', '1::1:0:0:1'],
    ['2001:db8::2:1', '2001:db8::2:1'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    ['::1:0:0', '::1:0:0'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['fe80::1', 'fe80::1'],
    ['0:0:1:0:0:1:0:0', '::1:0:0:1:0:0'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['::0.0.1.2', '::102'],
    ['ABCD::EF', 'abcd::ef'],
  ];
  for (const [input, want] of cases) {
    const b = parseIPv6(input);
    assert.ok(b, input);
    assert.equal(formatIPv6(b), want, input);
  }
});

test('inet_ntop6 agrees with node:net SocketAddress on 20,000 random addresses with zero runs', () => {
  const rnd = seeded(0x5eed);
  for (let n = 0; n < 20_000; n++) {
    const b = new Uint8Array(16);
    for (let i = 0; i < 8; i++) {
      const r = rnd();
      // Mostly zero groups, so that runs, ties and the dotted-tail cases all occur.
      const w = r < 0.55 ? 0 : r < 0.6 ? 0xffff : Math.floor(rnd() * 0x10000);
      b[2 * i] = w >> 8;
      b[2 * i + 1] = w & 0xff;
    }
    const hex = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(
      ':',
    );
    const want = new SocketAddress({ address: hex, family: 'ipv6' }).address;
    assert.equal(formatIPv6(b), want, hex);
    assert.deepEqual(parseIPv6(want), b, want);
  }
});

test('inet_pton4 accepts exactly four plain decimal octets', () => {
  assert.deepEqual(parseIPv4('10.0.0.255'), Uint8Array.of(10, 0, 0, 255));
  for (const bad of [
    '10.0.0',
    '10.0.0.256',
    '010.0.0.1',
    '1.2.3.4.',
    '1..2.3',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '0x1.2.3.4',
    '',
  ]) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
});

test('inet_pton6 rejects what glibc rejects', () => {
  for (const bad of [
    ':1',
    '1:',
    ':::',
    '1:::2',
    '1::2::3',
    '12345::',
    'g::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    '::1.2.3',
    '1.2.3.4',
    '::1.2.3.4:5',
    'fe80::1%lo',
    '',
  ]) {
    assert.equal(parseIPv6(bad), undefined, bad);
  }
  for (const good of [
    '::',
    '1::',
    '::1.2.3.4',
    '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    'FFFF::',
  ]) {
    assert.ok(parseIPv6(good), good);
  }
});

test('inet_aton forms for numeric hosts (getaddrinfo)', () => {
  assert.deepEqual(parseIPv4Aton('127.1'), Uint8Array.of(127, 0, 0, 1));
  assert.deepEqual(parseIPv4Aton('0x7f.1'), Uint8Array.of(127, 0, 0, 1));
  assert.deepEqual(parseIPv4Aton('017.0.0.1'), Uint8Array.of(15, 0, 0, 1));
  assert.deepEqual(parseIPv4Aton('16909060'), Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual(parseIPv4Aton('1.2.3.4'), Uint8Array.of(1, 2, 3, 4));
  for (const bad of ['1.2.3.4.5', '256.1', '08', '1.2.3.256', '1.65536.1', '', 'a.b.c.d', '1.2.3.4 ']) {
    assert.equal(parseIPv4Aton(bad), undefined, bad);
  }
});

test('endpoint text: brackets for IPv6, scope inside, glibc form of the address', () => {
  assert.equal(formatSockAddr({ family: 4, address: '192.0.2.1', port: 51820 }), '192.0.2.1:51820');
  assert.equal(formatSockAddr({ family: 6, address: '::ffff:192.0.2.9', port: 1 }), '[::ffff:192.0.2.9]:1');
  assert.equal(formatSockAddr({ family: 6, address: '2001:DB8:0:0::1', port: 5 }), '[2001:db8::1]:5');
  assert.equal(formatSockAddr({ family: 6, address: 'fe80::1', port: 5, scope: 'lo' }), '[fe80::1%lo]:5');
  assert.ok(
    sameSockAddr(
      { family: 6, address: '2001:db8::1', port: 5 },
      { family: 6, address: '2001:0db8::0:1', port: 5 },
    ),
  );
  assert.ok(
    !sameSockAddr(
      { family: 6, address: '2001:db8::1', port: 5 },
      { family: 6, address: '2001:db8::1', port: 6 },
    ),
  );
});
