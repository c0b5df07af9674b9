// WGPEER_A_ENDPOINT payloads: struct sockaddr_in / sockaddr_in6 (linux/in.h, linux/in6.h),
// written out by hand, and the scope text glibc's getnameinfo would print.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetlinkError } from '../../../../src/backend/netlink/errors.js';
import { decodeSockAddr, encodeSockAddr, type ScopeNames } from '../../../../src/backend/netlink/sockaddr.js';

const scopes: ScopeNames = {
  nameOf: (i) => (i === 3 ? 'wg1' : undefined),
  indexOf: (n) => (n === 'wg1' ? 3 : 0),
};

const IN4 = [2, 0, 0x01, 0xbb, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]; // AF_INET, port 443 big-endian
const in6 = (addr: number[], scope: number) => [
  10,
  0,
  0xca,
  0x6c, // AF_INET6, port 51820 big-endian
  0,
  0,
  0,
  0, // sin6_flowinfo
  ...addr,
  scope & 255,
  (scope >> 8) & 255,
  0,
  0, // sin6_scope_id, host order
];
const FE80_1 = [0xfe, 0x80, ...new Array(13).fill(0), 1];
const DB8_1 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];

test('sockaddr_in: family in host order, port in network order, 8 zero bytes', () => {
  assert.deepEqual([...encodeSockAddr({ family: 4, address: '192.0.2.1', port: 443 }, scopes)], IN4);
  assert.deepEqual(decodeSockAddr(Uint8Array.from(IN4), scopes), {
    family: 4,
    address: '192.0.2.1',
    port: 443,
  });
});

test('sockaddr_in6: scope by name or number becomes the interface index', () => {
  const withName = encodeSockAddr({ family: 6, address: 'fe80::1', port: 51820, scope: 'wg1' }, scopes);
  assert.deepEqual([...withName], in6(FE80_1, 3));
  const withNumber = encodeSockAddr({ family: 6, address: 'fe80::1', port: 51820, scope: '3' }, scopes);
  assert.deepEqual([...withNumber], in6(FE80_1, 3));
  assert.deepEqual(
    [...encodeSockAddr({ family: 6, address: '2001:db8::1', port: 51820 }, scopes)],
    in6(DB8_1, 0),
  );
});

test('decoding: a link-local scope prints as its interface name, other scopes as numbers', () => {
  assert.deepEqual(decodeSockAddr(Uint8Array.from(in6(FE80_1, 3)), scopes), {
    family: 6,
    address: 'fe80::1',
    port: 51820,
    scope: 'wg1',
  });
  assert.equal(decodeSockAddr(Uint8Array.from(in6(FE80_1, 9)), scopes)?.scope, '9', 'no such interface');
  assert.equal(decodeSockAddr(Uint8Array.from(in6(DB8_1, 3)), scopes)?.scope, '3', 'not link-local');
  assert.equal(decodeSockAddr(Uint8Array.from(in6(DB8_1, 0)), scopes)?.scope, undefined);
});

test('decoding ignores what wg ignores: short payloads, unknown families, wrong sizes', () => {
  assert.equal(decodeSockAddr(Uint8Array.from(IN4.slice(0, 15)), scopes), undefined);
  assert.equal(decodeSockAddr(Uint8Array.from([1, 0, ...IN4.slice(2)]), scopes), undefined);
  assert.equal(decodeSockAddr(Uint8Array.from([...IN4, 0, 0, 0, 0]), scopes), undefined);
});

test('encoding refuses a bad address, port or scope', () => {
  const einval = (fn: () => unknown) =>
    assert.throws(fn, (e: unknown) => e instanceof NetlinkError && e.errno === 22);
  einval(() => encodeSockAddr({ family: 4, address: '300.0.0.1', port: 1 }, scopes));
  einval(() => encodeSockAddr({ family: 4, address: '1.2.3.4', port: 65536 }, scopes));
  einval(() => encodeSockAddr({ family: 6, address: 'fe80::1', port: 1, scope: 'nope0' }, scopes));
});
