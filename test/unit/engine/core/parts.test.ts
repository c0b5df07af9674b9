// Unit tests of the core's small parts: keypair rotation, timers, cookies, addresses, the rate
// limiter, padding and the inner-packet check.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publicKeyOf } from '../../../../src/crypto/x25519.js';
import {
  cookieSource,
  copyPath,
  formatPath,
  pathKey,
  rateLimitKey,
  samePath,
} from '../../../../src/engine/core/addr.js';
import {
  COOKIE_REFRESH_TIME_MS,
  COUNTER_LIMIT,
  KEEPALIVE_TIMEOUT_MS,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from '../../../../src/engine/core/constants.js';
import { CookieChecker, CookieGenerator } from '../../../../src/engine/core/cookie.js';
import { Keypair, KeypairSet } from '../../../../src/engine/core/keypair.js';
import {
  encodeInitiation,
  readTransportCounter,
  writeTransportHeaderAt,
} from '../../../../src/engine/core/messages.js';
import { RateLimiter } from '../../../../src/engine/core/ratelimit.js';
import { PeerTimers } from '../../../../src/engine/core/timers.js';
import {
  ipPacketLength,
  keypairExpired,
  paddedLength,
  rekeyAfterReceiving,
  rekeyAfterSending,
  reserveCounter,
} from '../../../../src/engine/core/transport-rules.js';
import { pathAddr } from '../../../lib/path-addr.js';
import { seededRandom, sock } from './sim.js';

const kp = (i: number, initiator: boolean) =>
  new Keypair(new Uint8Array(32).fill(i), new Uint8Array(32).fill(i), i, 100 + i, 0, initiator);

test('keypair rotation: initiator installs as current, responder as next until confirmed', () => {
  const s = new KeypairSet();
  const k1 = kp(1, true);
  assert.deepEqual(s.install(k1), []);
  assert.equal(s.current, k1);
  const k2 = kp(2, false);
  assert.deepEqual(s.install(k2), []);
  assert.equal(s.next, k2);
  assert.equal(s.current, k1, 'the responder never sends with next');
  assert.equal(s.receivedWith(k1).confirmed, false);
  const c = s.receivedWith(k2);
  assert.equal(c.confirmed, true);
  assert.deepEqual([s.current, s.previous, s.next], [k2, k1, undefined]);
  const k3 = kp(3, false);
  assert.deepEqual(s.install(k3), [k1], 'responder: previous goes, next replaced');
  const k4 = kp(4, true);
  assert.deepEqual(s.install(k4), [k2], 'initiator with a next: next → previous, current dropped');
  assert.deepEqual([s.current, s.previous, s.next], [k4, k3, undefined]);
  assert.deepEqual(s.clear(), [k4, k3]);
});

test('keypair rotation when both sides initiated at once: both end on the winning side’s handshake', () => {
  // Each side: an old session (c), the peer's initiation's keypair waiting as next (r), then
  // its own initiation's keypair (i). Ours pairs with the peer's r, the peer's i with our r.
  const setUp = () => {
    const s = new KeypairSet();
    const c = kp(1, true);
    const r = kp(2, false);
    const i = kp(3, true);
    s.install(c);
    s.install(r);
    return { s, c, r, i };
  };
  // The yielding side keeps sending on the old session and waits for the peer's first packet
  // on r; the winning side sends on its own and keeps the old session for packets in flight.
  const y = setUp();
  assert.deepEqual(y.s.installSimultaneous(y.i, true, 0), []);
  assert.deepEqual([y.s.current, y.s.previous, y.s.next], [y.c, y.i, y.r]);
  assert.deepEqual(y.s.receivedWith(y.r).dropped, [y.i]);
  assert.deepEqual([y.s.current, y.s.previous, y.s.next], [y.r, y.c, undefined]);
  const w = setUp();
  assert.deepEqual(w.s.installSimultaneous(w.i, false, 0), [w.r]);
  assert.deepEqual([w.s.current, w.s.previous, w.s.next], [w.i, w.c, undefined]);
  // Without a session that can send (first contact, or an exhausted one): the winning side
  // rotates as standard, the yielding side sends on its own until r is confirmed.
  for (const yielding of [true, false]) {
    const f = setUp();
    f.c.sendCounter = COUNTER_LIMIT;
    f.s.installSimultaneous(f.i, yielding, 0);
    assert.deepEqual(
      [f.s.current, f.s.previous, f.s.next],
      yielding ? [f.i, f.c, f.r] : [f.i, f.r, undefined],
    );
  }
});

test('keypair counters are shared and never reused', () => {
  const k = kp(1, true);
  assert.equal(reserveCounter(k.sendCounterCell), 0);
  assert.equal(Number(Atomics.add(k.sendCounterCell, 0, 1n)), 1, 'another thread reserves 1');
  assert.equal(reserveCounter(k.sendCounterCell), 2);
  k.sendCounter = 2 ** 53 - 1;
  assert.equal(reserveCounter(k.sendCounterCell), 2 ** 53 - 1);
  assert.equal(reserveCounter(k.sendCounterCell), undefined);
  assert.equal(k.canSend(0), false);
});

test('timers: one-shot deadlines with the paper’s intervals', () => {
  const peer = { persistentKeepalive: 0 };
  const t = new PeerTimers(() => 100, peer);
  t.handshakeInitiated(1000);
  assert.equal(t.deadline.retransmitHandshake, 1000 + 5000 + 100);
  t.dataSent(2000);
  t.dataSent(3000);
  assert.equal(t.deadline.newHandshake, 2000 + 15_000 + 100, 'not pushed back by more data');
  t.anyAuthenticatedPacketReceived();
  assert.equal(t.deadline.newHandshake, undefined);
  t.dataReceived(4000);
  t.dataReceived(4500);
  assert.equal(t.deadline.sendKeepalive, 14_000);
  assert.equal(t.needAnotherKeepalive, true);
  assert.deepEqual(t.due(14_000), ['retransmitHandshake', 'sendKeepalive']);
  assert.deepEqual(t.due(14_000), [], 'one-shot');
  t.keepaliveFired(14_000);
  assert.equal(t.deadline.sendKeepalive, 24_000);
  t.anyAuthenticatedPacketTraversal(0);
  assert.equal(t.deadline.persistentKeepalive, undefined, 'off');
  peer.persistentKeepalive = 25;
  t.anyAuthenticatedPacketTraversal(30_000);
  assert.equal(t.deadline.persistentKeepalive, 55_000);
  t.sessionDerived(0);
  t.scheduleZeroing(1);
  assert.equal(t.deadline.zeroKeyMaterial, 540_000, 'not moved when pending');
  assert.equal(t.next(), 24_000);
});

test('cookies: generator and checker agree; expiry; bound to the source', () => {
  const rnd = seededRandom(4);
  const rPriv = rnd(32);
  const rPub = publicKeyOf(rPriv);
  const checker = new CookieChecker(rPub, rnd);
  const gen = new CookieGenerator(rPub);
  const msg = encodeInitiation({
    sender: 42,
    ephemeral: rnd(32),
    encryptedStatic: rnd(48),
    encryptedTimestamp: rnd(28),
  });
  const src = cookieSource(sock('192.0.2.1', 1234));
  gen.addMacs(msg, 'A', 0);
  assert.equal(checker.checkMac1(msg), true);
  assert.equal(checker.checkMac2(msg, src, 0), false, 'no cookie yet');
  const reply = checker.createReply(msg, src, 0);
  assert.equal(gen.consumeReply(reply, 'A', 10), true);
  assert.equal(gen.consumeReply(reply, 'A', 10), false, 'one reply per message');
  gen.addMacs(msg, 'A', 20);
  assert.equal(checker.checkMac2(msg, src, 20), true);
  assert.equal(checker.checkMac2(msg, cookieSource(sock('192.0.2.1', 1235)), 20), false, 'other port');
  gen.addMacs(msg, 'B', 20);
  assert.equal(checker.checkMac2(msg, src, 20), false, 'no cookie for target B: mac2 is zero');
  gen.addMacs(msg, 'A', 10 + COOKIE_REFRESH_TIME_MS + 1);
  assert.equal(checker.checkMac2(msg, src, 20), false, 'an old cookie is not used');
  assert.equal(checker.checkMac2(msg, src, COOKIE_REFRESH_TIME_MS + 1), false, 'secret expired');
  msg[10]! ^= 1;
  assert.equal(checker.checkMac1(msg), false);
});

test('addresses: compared by bytes, port and scope; cookie source is address ‖ port (big-endian)', () => {
  const a = pathAddr('[2001:db8::1]:51820');
  const b = pathAddr('[2001:0db8:0:0:0:0:0:1]:51820');
  assert.equal(pathKey(a), pathKey(b));
  assert.ok(samePath(a, b));
  const scoped = pathAddr('[2001:db8::1%3]:51820');
  assert.notEqual(pathKey(a), pathKey(scoped));
  assert.ok(!samePath(a, scoped));
  assert.ok(!samePath(a, { ...a, port: 51821 }));
  assert.ok(!samePath(a, undefined));
  assert.ok(samePath(undefined, undefined));
  assert.equal(formatPath(b), '[2001:db8::1]:51820');
  assert.equal(formatPath(scoped), '[2001:db8::1%3]:51820');
  assert.equal(formatPath(sock('10.1.2.3', 7)), '10.1.2.3:7');
  assert.equal(Buffer.from(cookieSource(sock('10.1.2.3', 0x1234))).toString('hex'), '0a0102031234');
  assert.equal(rateLimitKey(pathAddr('[2001:db8::ffff]:1')), rateLimitKey(a), 'IPv6 /64 buckets');
  assert.notEqual(rateLimitKey(pathAddr('[2001:db8:0:1::1]:1')), rateLimitKey(a));
});

test('copyPath: a copy shares no bytes with a received address, and a copy of a copy is itself', () => {
  const received = pathAddr('192.0.2.7:51820');
  const copy = copyPath(received);
  assert.ok(samePath(copy, received));
  assert.notEqual(copy.address.buffer, received.address.buffer);
  received.address[3] = 8; // the receive path's memory, reused for the next datagram
  assert.equal(formatPath(copy), '192.0.2.7:51820');
  assert.equal(copyPath(copy), copy);
  assert.notEqual(copyPath(received), copy);
});

test('rate limiter: burst of 5, then 20 per second', () => {
  const r = new RateLimiter();
  let ok = 0;
  for (let i = 0; i < 10; i++) if (r.allow('x', 0)) ok++;
  assert.equal(ok, 5);
  assert.equal(r.allow('x', 49), false);
  assert.equal(r.allow('x', 50), true);
  assert.equal(r.allow('y', 50), true, 'per source');
  r.collect(2000);
  assert.equal(r.size, 0);
});

test('padding to 16 within the MTU, and the inner packet length check', () => {
  assert.equal(paddedLength(0, 1420), 0);
  assert.equal(paddedLength(1, 1420), 16);
  assert.equal(paddedLength(1415, 1420), 1420, 'never above the MTU');
  assert.equal(paddedLength(1420, 1420), 1420);
  const inner = (b: Uint8Array) => ipPacketLength(b, 0, b.length);
  const p = new Uint8Array(48);
  p[0] = 0x45;
  p[3] = 28;
  assert.equal(inner(p), 28, 'padding removed');
  p[3] = 60;
  assert.equal(inner(p), 0, 'longer than what arrived');
  const p6 = new Uint8Array(48);
  p6[0] = 0x60;
  p6[5] = 8;
  assert.equal(inner(p6), 48);
  p6[5] = 9;
  assert.equal(inner(p6), 0, 'IPv6 payload longer than what arrived');
  assert.equal(inner(p6.subarray(0, 39)), 0, 'IPv6 shorter than its header');
  p[0] = 0x10;
  assert.equal(inner(p), 0, 'no IP version');
});

test('transport rules: padding past the MTU, counters at the limit, rekey ages', () => {
  // wireguard-go's calculatePaddingSize: a packet longer than the MTU pads its remainder.
  assert.equal(paddedLength(1430, 1420), 1436);
  assert.equal(paddedLength(1500, 1420), 1500);
  assert.equal(paddedLength(17, 0), 32, 'no MTU: a multiple of 16');
  const cell = new BigInt64Array(new SharedArrayBuffer(8));
  assert.equal(reserveCounter(cell), 0);
  assert.equal(reserveCounter(cell), 1);
  Atomics.store(cell, 0, BigInt(COUNTER_LIMIT - 1));
  assert.equal(reserveCounter(cell), COUNTER_LIMIT - 1);
  assert.equal(reserveCounter(cell), undefined, 'no counter at 2^53');
  assert.equal(reserveCounter(cell), undefined, 'nor after');
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  writeTransportHeaderAt(view, 0, 7, COUNTER_LIMIT - 1);
  assert.equal(readTransportCounter(view, 0), COUNTER_LIMIT - 1);
  view.setUint32(12, COUNTER_LIMIT / 2 ** 32, true);
  assert.equal(readTransportCounter(view, 0), -1, 'a counter at 2^53 is refused');
  assert.equal(keypairExpired(0, REJECT_AFTER_TIME_MS - 1), false);
  assert.equal(keypairExpired(0, REJECT_AFTER_TIME_MS), true);
  assert.equal(rekeyAfterSending(true, 0, 5, REKEY_AFTER_TIME_MS), false);
  assert.equal(rekeyAfterSending(true, 0, 5, REKEY_AFTER_TIME_MS + 1), true);
  assert.equal(rekeyAfterSending(false, 0, 5, REKEY_AFTER_TIME_MS + 1), false, 'the responder does not');
  assert.equal(rekeyAfterSending(false, 0, 2 ** 52 + 1, 0), true, 'many messages: either side');
  const lastMinute = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
  assert.equal(rekeyAfterReceiving(true, 0, lastMinute), false);
  assert.equal(rekeyAfterReceiving(true, 0, lastMinute + 1), true);
  assert.equal(rekeyAfterReceiving(false, 0, lastMinute + 1), false);
});
