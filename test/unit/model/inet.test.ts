// glibc's address text, both ways (as wg uses it: wireguard-tools src/config.c, parse_ip and
// parse_endpoint; src/show.c, ip and endpoint): inet_pton, inet_aton's numeric forms and inet_ntop
// with its quirks. The recorded glibc verdicts first, then random addresses against Node's
// SocketAddress (libuv's copy of the same BIND algorithm) as a second implementation, with text ->
// bytes -> text stability; then the socket-address text wg prints.

import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { test } from 'node:test';
import {
  formatAllowedIP,
  formatHost,
  formatSockAddr,
  inetAton,
  inetNtop,
  inetNtop6,
  inetPton4,
  inetPton6,
  isLinkLocal6,
  isMcLinkLocal6,
  isMcNodeLocal6,
  sameSockAddr,
} from '../../../src/model/inet.js';
import { Rng, testSeed } from '../../lib/rng.js';
import { randomV6 } from '../config/random-model.js';

/** The eight groups in full hex, which SocketAddress takes and re-prints in inet_ntop form. */
function fullHex(b: Uint8Array): string {
  return Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16)).join(':');
}

test('inet_ntop6: the recorded glibc forms', () => {
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
    ['1::', '1::'],
    ['fe80::1', 'fe80::1'],
    ['0:0:0:0:0:0:0:2', '::2'],
    ['::ffff:2', '::255.255.0.2'],
    ['::0.0.1.2', '::102'],
    ['0:0:0:0:0:ffff:0:2', '::ffff:0.0.0.2'],
    ['0:0:1:0:0:1:0:0', '::1:0:0:1:0:0'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['1:0:0:1:0:0:1:1', '1::1:0:0:1:1'],
    ['FD00:0000:0000::ABCD', 'fd00::abcd'],
    ['ABCD::EF', 'abcd::ef'],
  ];
  for (const [input, want] of cases) {
    const b = inetPton6(input);
    assert.ok(b, input);
    assert.equal(inetNtop6(b), want, input);
    assert.equal(inetNtop(b), want, input);
  }
});

test('inet_pton4 accepts exactly four plain decimal octets', () => {
  assert.deepEqual(inetPton4('10.0.0.255'), Uint8Array.of(10, 0, 0, 255));
  assert.deepEqual(inetPton4('0.0.0.0'), new Uint8Array(4));
  assert.deepEqual(inetPton4('255.255.255.255'), new Uint8Array([255, 255, 255, 255]));
  for (const bad of [
    '',
    '1.2.3',
    '10.0.0',
    '1.2.3.4.5',
    '01.2.3.4',
    '010.0.0.1',
    '1.2.3.256',
    '10.0.0.256',
    '1..2.3',
    '1.2.3.4.',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '0x1.2.3.4',
  ]) {
    assert.equal(inetPton4(bad), undefined, bad);
  }
});

test('inet_pton6 rejects what glibc rejects, accepts what it accepts', () => {
  for (const bad of [
    '',
    ':',
    ':1',
    '1:',
    ':::',
    '1:::2',
    '1::2::3',
    '12345::',
    'g::',
    '::g',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8',
    '1:2:3:4:5:6:7::8',
    '::1.2.3',
    '::1.2.3.04',
    '1.2.3.4',
    '::1.2.3.4:5',
    'fe80::1%lo',
  ]) {
    assert.equal(inetPton6(bad), undefined, bad);
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
    assert.ok(inetPton6(good), good);
  }
});

test('random addresses: inetNtop6 agrees with SocketAddress, and pton(ntop(x)) = x', () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  for (let i = 0; i < 5000; i++) {
    const b = i % 3 === 0 ? rng.bytes(16) : randomV6(rng);
    const text = inetNtop6(b);
    const full = fullHex(b);
    assert.equal(text, new SocketAddress({ address: full, family: 'ipv6' }).address, `seed ${seed}: ${full}`);
    assert.deepEqual(inetPton6(text), b, `seed ${seed}: ${text}`);
  }
});

test('inet_ntop6 agrees with node:net SocketAddress on 20,000 random addresses with zero runs', () => {
  const rng = new Rng(0x5eed);
  const rnd = () => rng.float();
  for (let n = 0; n < 20_000; n++) {
    const b = new Uint8Array(16);
    for (let i = 0; i < 8; i++) {
      const r = rnd();
      // Mostly zero groups, so that runs, ties and the dotted-tail cases all occur.
      const w = r < 0.55 ? 0 : r < 0.6 ? 0xffff : Math.floor(rnd() * 0x10000);
      b[2 * i] = w >> 8;
      b[2 * i + 1] = w & 0xff;
    }
    const hex = fullHex(b);
    const want = new SocketAddress({ address: hex, family: 'ipv6' }).address;
    assert.equal(inetNtop6(b), want, hex);
    assert.deepEqual(inetPton6(want), b, want);
  }
});

test('inet_aton forms for numeric hosts (getaddrinfo)', () => {
  assert.deepEqual(inetAton('127.1'), Uint8Array.of(127, 0, 0, 1));
  assert.deepEqual(inetAton('0x7f.1'), Uint8Array.of(127, 0, 0, 1));
  assert.deepEqual(inetAton('017.0.0.1'), Uint8Array.of(15, 0, 0, 1));
  assert.deepEqual(inetAton('16909060'), Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual(inetAton('1.2.3.4'), Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual(inetAton('0'), new Uint8Array(4));
  for (const bad of [
    '1.2.3.4.5',
    '256.1',
    '08',
    '1.2.3.256',
    '1.65536.1',
    '',
    'a.b.c.d',
    '1.2.3.4 ',
    '0x1g',
  ]) {
    assert.equal(inetAton(bad), undefined, bad);
  }
});

test('scope classes: link-local unicast, link- and node-local multicast', () => {
  const b = (text: string) => inetPton6(text)!;
  assert.ok(isLinkLocal6(b('fe80::1')) && isLinkLocal6(b('febf::1')));
  assert.ok(!isLinkLocal6(b('fec0::1')) && !isLinkLocal6(b('fe7f::1')));
  assert.ok(isMcLinkLocal6(b('ff02::1')) && isMcLinkLocal6(b('ff12::1')) && !isMcLinkLocal6(b('ff05::1')));
  assert.ok(isMcNodeLocal6(b('ff01::1')) && isMcNodeLocal6(b('ff31::1')) && !isMcNodeLocal6(b('ff02::1')));
});

test('endpoint text: brackets for IPv6, scope inside, glibc form of the address', () => {
  assert.equal(formatSockAddr({ family: 4, address: '192.0.2.1', port: 51820 }), '192.0.2.1:51820');
  assert.equal(formatSockAddr({ family: 6, address: '::ffff:192.0.2.9', port: 1 }), '[::ffff:192.0.2.9]:1');
  assert.equal(formatSockAddr({ family: 6, address: '2001:DB8:0:0::1', port: 5 }), '[2001:db8::1]:5');
  assert.equal(formatSockAddr({ family: 6, address: 'fe80::1', port: 5, scope: 'lo' }), '[fe80::1%lo]:5');
  assert.equal(formatSockAddr({ family: 6, address: 'fe80::1', port: 5, scope: '' }), '[fe80::1]:5');
  // getnameinfo re-prints whatever numeric text the backend held; a scope on IPv4 is ignored.
  assert.equal(formatHost({ family: 4, address: '127.1', port: 1, scope: 'lo' }), '127.0.0.1');
  assert.equal(formatAllowedIP({ family: 6, address: inetPton6('::2:3')!, cidr: 128 }), '::0.2.0.3/128');
  assert.equal(formatAllowedIP({ family: 4, address: Uint8Array.of(10, 0, 0, 0), cidr: 8 }), '10.0.0.0/8');
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
