// The core under an initiation flood, on a virtual clock: messages with a valid mac1 (anyone
// who knows the public key can make them) and garbage elsewhere. Each one that reaches the
// handshake costs a DH (DH(S_priv, E_pub) comes before the static key fails to decrypt), seen
// here as the log line "Received invalid initiation message"; under load they get cookie
// replies instead. Such messages never open (no configured peer made them): past
// UNDER_LOAD_INVALID_INITIATIONS of them in UNDER_LOAD_AFTER_TIME, the core is under load even
// when its queue is short (under-load.test.ts: by queue depth). test/interop/engine-flood.test.ts
// floods a real daemon.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { xaeadOpen } from '../../../../src/crypto/aead.js';
import { mac } from '../../../../src/crypto/blake2s.js';
import { type PathAddr, samePath } from '../../../../src/engine/core/addr.js';
import {
  UNDER_LOAD_AFTER_TIME_MS,
  UNDER_LOAD_INVALID_INITIATIONS,
} from '../../../../src/engine/core/constants.js';
import { cookieKey } from '../../../../src/engine/core/cookie.js';
import {
  COOKIE_ENCRYPTED,
  COOKIE_NONCE,
  INIT_MAC1,
  INIT_MAC2,
  MAC_LEN,
} from '../../../../src/engine/core/messages.js';
import { floodMessages } from '../../../lib/flood.js';
import { ipv4, pair, type SimNode, sock } from './sim.js';

const COOKIE = 3;
const RESP = 2;
const ATTACKER = sock('203.0.113.9', 4000);
const DH_LOG = 'Received invalid initiation message';

const dhs = (n: SimNode) => n.logs.filter((l) => l.includes(DH_LOG)).length;
const cookiesTo = (n: SimNode, to: PathAddr) => n.sentOfType(COOKIE).filter((d) => samePath(d.to, to)).length;

const N = UNDER_LOAD_INVALID_INITIATIONS;

test('past the threshold of failed initiations, a flood gets cookie replies and costs no DH', () => {
  const { net, b } = pair();
  const flood = floodMessages(b.publicKey, 1000);
  for (const m of flood) {
    net.inject(b, ATTACKER, m); // nothing waits behind it: the queue is short
    net.run(1); // 1000 per second
  }
  assert.equal(dhs(b), N, `the first ${N} in the second reached the handshake`);
  assert.equal(cookiesTo(b, ATTACKER), 1000 - N);
  assert.equal(b.sentOfType(RESP).length, 0);
});

test('a legitimate peer completes its handshake during a flood, after one cookie round', () => {
  const { net, a, b } = pair();
  const flood = floodMessages(b.publicKey, 64);
  let sent = 0;
  const step = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      net.inject(b, ATTACKER, flood[sent++ % flood.length]!);
      net.run(1);
    }
  };
  step(300);
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  step(500);
  assert.equal(cookiesTo(b, a.addr), 1, 'under load: a cookie reply to the first initiation');
  assert.equal(b.tun.length, 0);
  step(5_500); // the retry timer: the initiation again, now with mac2
  assert.equal(b.sentOfType(RESP).length, 1, 'the retry with mac2 is answered');
  assert.equal(b.tun.length, 1, 'the staged packet came through');
  // Each time being under load lapses, N more reach the handshake before it is again.
  const most = N * Math.ceil(net.now / UNDER_LOAD_AFTER_TIME_MS);
  assert.ok(dhs(b) >= N && dhs(b) <= most, `the flood cost ${dhs(b)} DHs (at most ${most})`);
  assert.equal(cookiesTo(b, ATTACKER), sent - dhs(b));
});

test('setUnderLoad (the engine’s signal) sends cookies from the first message, until it lapses', () => {
  const { net, b } = pair();
  const [m1, m2] = floodMessages(b.publicKey, 2) as [Uint8Array, Uint8Array];
  b.core.setUnderLoad(net.now + 1000);
  net.inject(b, ATTACKER, m1);
  assert.equal(cookiesTo(b, ATTACKER), 1);
  assert.equal(dhs(b), 0);
  net.run(1500);
  net.inject(b, ATTACKER, m2);
  assert.equal(cookiesTo(b, ATTACKER), 1, 'no longer under load');
  assert.equal(dhs(b), 1);
});

test('under load, a flooder that holds a cookie gets 5 messages at once and then 20 per second', () => {
  const { net, b } = pair();
  const flood = floodMessages(b.publicKey, 200);
  b.core.setUnderLoad(net.now + 60_000);
  // The cookie reply to the first message, opened as the flooder would.
  net.inject(b, ATTACKER, flood[0]!);
  const reply = b.sentOfType(COOKIE).at(-1)!.bytes;
  const cookie = xaeadOpen(
    cookieKey(b.publicKey),
    reply.subarray(COOKIE_NONCE, COOKIE_ENCRYPTED),
    reply.subarray(COOKIE_ENCRYPTED),
    flood[0]!.subarray(INIT_MAC1, INIT_MAC1 + MAC_LEN),
  );
  assert.ok(cookie);
  for (const m of flood) m.set(mac(cookie, m.subarray(0, INIT_MAC2)), INIT_MAC2);
  const cookies = cookiesTo(b, ATTACKER);
  for (let i = 1; i <= 100; i++) net.inject(b, ATTACKER, flood[i]!);
  assert.equal(cookiesTo(b, ATTACKER), cookies, 'mac2 holds: no more cookie replies');
  assert.equal(dhs(b), 5, 'a burst of 5');
  for (let i = 101; i < 200; i++) {
    net.run(10);
    net.inject(b, ATTACKER, flood[i]!);
  }
  // 99 messages over 990 ms at 20 per second.
  assert.ok(dhs(b) >= 5 + 19 && dhs(b) <= 5 + 21, `${dhs(b)} reached the handshake`);
  // Another address is not limited by the first one's bucket.
  net.inject(b, sock('203.0.113.10', 4000), flood[0]!);
  assert.equal(cookiesTo(b, sock('203.0.113.10', 4000)), 1, 'its mac2 is for another address');
});
