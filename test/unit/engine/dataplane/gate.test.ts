// The receive workers' gate for handshake messages (src/engine/dataplane/gate.ts): mac1 for the
// device's key, a budget per source address, and which refusals count as load.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { mac } from '../../../../src/crypto/blake2s.js';
import { CookieChecker, mac1Key } from '../../../../src/engine/core/cookie.js';
import {
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  RESP_MAC1,
  RESPONSE_SIZE,
} from '../../../../src/engine/core/messages.js';
import {
  HANDSHAKE_SOURCE_BURST,
  HANDSHAKE_SOURCE_RATE_PER_SEC,
  HandshakeGate,
} from '../../../../src/engine/dataplane/gate.js';
import { encodeSockaddr, type RawAddr } from '../../../../src/sys/udp.js';
import { floodMessages } from '../../../lib/flood.js';

const PUB = new Uint8Array(randomBytes(32));

/** A sockaddr as a socket of `sockFamily` writes it, in a buffer of its own. */
function name(address: string, port: number, sockFamily: 4 | 6 = 6): Uint8Array {
  const v4 = address.includes('.');
  const a: RawAddr = v4
    ? { family: 4, address: Uint8Array.from(address.split('.').map(Number)), port, scopeId: 0 }
    : { family: 6, address: v6(address), port, scopeId: 0 };
  const out = new Uint8Array(32);
  encodeSockaddr(a, new DataView(out.buffer), 0, sockFamily);
  return out;
}

function v6(s: string): Uint8Array {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const words = (x: string | undefined) => (x ? x.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Sends `n` copies of `msg` from `src` at time `now`; counts the verdicts. */
function run(gate: HandshakeGate, msg: Uint8Array, src: Uint8Array, n: number, now: number) {
  const out = { pass: 0, drop: 0, shed: 0 };
  for (let i = 0; i < n; i++) out[gate.check(msg, msg[0]!, src, 0, now)]++;
  return out;
}

test('mac1: initiations and responses for this key pass, others are dropped; cookie replies carry none', () => {
  const gate = new HandshakeGate(1);
  gate.setPublicKey(PUB);
  const [init] = floodMessages(PUB, 1) as [Uint8Array];
  // The core agrees that the flood's mac1 is valid.
  assert.ok(new CookieChecker(PUB, randomBytes).checkMac1(init));
  assert.equal(gate.mac1Valid(init, MESSAGE_INITIATION), true);
  const bad = Uint8Array.from(init);
  bad[50]! ^= 1; // covered by mac1
  assert.equal(gate.mac1Valid(bad, MESSAGE_INITIATION), false);
  const other = floodMessages(new Uint8Array(randomBytes(32)), 1)[0]!;
  assert.equal(gate.mac1Valid(other, MESSAGE_INITIATION), false, 'made for another key');

  const resp = new Uint8Array(randomBytes(RESPONSE_SIZE));
  resp.set([MESSAGE_RESPONSE, 0, 0, 0]);
  resp.set(mac(mac1Key(PUB), resp.subarray(0, RESP_MAC1)), RESP_MAC1);
  assert.equal(gate.mac1Valid(resp, MESSAGE_RESPONSE), true);
  resp[RESP_MAC1]! ^= 1;
  assert.equal(gate.mac1Valid(resp, MESSAGE_RESPONSE), false);

  const cookie = new Uint8Array(64);
  cookie[0] = MESSAGE_COOKIE_REPLY;
  assert.equal(gate.mac1Valid(cookie, MESSAGE_COOKIE_REPLY), true);
  assert.equal(run(gate, bad, name('192.0.2.1', 1), 1, 0).drop, 1);
});

test('mac1: without a key every message passes (the core refuses them all), and a new key applies at once', () => {
  const gate = new HandshakeGate(2);
  const other = floodMessages(new Uint8Array(randomBytes(32)), 1)[0]!;
  assert.equal(gate.mac1Valid(other, MESSAGE_INITIATION), true);
  gate.setPublicKey(PUB);
  assert.equal(gate.mac1Valid(other, MESSAGE_INITIATION), false);
  gate.setPublicKey(undefined);
  assert.equal(gate.mac1Valid(other, MESSAGE_INITIATION), true);
});

test('budget: a source gets its burst, then its rate; other sources keep theirs', () => {
  const gate = new HandshakeGate(3);
  gate.setPublicKey(PUB);
  const [init] = floodMessages(PUB, 1) as [Uint8Array];
  const a = name('192.0.2.1', 1000);
  const first = run(gate, init, a, HANDSHAKE_SOURCE_BURST + 100, 5000);
  assert.equal(first.pass, HANDSHAKE_SOURCE_BURST);
  assert.equal(first.pass + first.drop + first.shed, HANDSHAKE_SOURCE_BURST + 100);
  assert.ok(first.shed >= 1, 'a refusal with a valid mac1 counts as load');
  // Another port of the same address shares the budget; another address has its own.
  assert.equal(run(gate, init, name('192.0.2.1', 2000), 1, 5000).pass, 0);
  assert.equal(
    run(gate, init, name('192.0.2.2', 1000), HANDSHAKE_SOURCE_BURST, 5000).pass,
    HANDSHAKE_SOURCE_BURST,
  );
  // One second later: RATE more, not a new burst beyond it.
  const later = run(gate, init, a, HANDSHAKE_SOURCE_BURST + 100, 6000);
  assert.equal(later.pass, HANDSHAKE_SOURCE_RATE_PER_SEC);
  // Idle long enough, the burst is back, and no more than it.
  assert.equal(run(gate, init, a, HANDSHAKE_SOURCE_BURST * 3, 60_000).pass, HANDSHAKE_SOURCE_BURST);
});

test('budget: IPv6 sources share one per /64; v4-mapped on a dual-stack socket is the IPv4 address', () => {
  const gate = new HandshakeGate(4);
  const [init] = floodMessages(PUB, 1) as [Uint8Array];
  const n = HANDSHAKE_SOURCE_BURST;
  assert.equal(run(gate, init, name('2001:db8:1:2::1', 1), n, 0).pass, n);
  assert.equal(run(gate, init, name('2001:db8:1:2::ffff', 1), 1, 0).pass, 0, 'same /64');
  assert.equal(run(gate, init, name('2001:db8:1:3::1', 1), n, 0).pass, n, 'another /64');
  assert.equal(run(gate, init, name('198.51.100.7', 1, 6), n, 0).pass, n);
  assert.equal(run(gate, init, name('198.51.100.7', 2, 4), 1, 0).pass, 0, 'AF_INET form of the same address');
});

test('shed: garbage over its budget never counts as load; one in a sample of valid ones does', () => {
  const gate = new HandshakeGate(5);
  gate.setPublicKey(PUB);
  const [init] = floodMessages(PUB, 1) as [Uint8Array];
  const garbage = Uint8Array.from(init);
  garbage[20]! ^= 0xff;
  const src = name('203.0.113.5', 9);
  const g = run(gate, garbage, src, 10_000, 0);
  assert.deepEqual([g.pass, g.shed, g.drop], [0, 0, 10_000]);
  const v = run(gate, init, src, 6400, 0);
  assert.equal(v.pass, 0, 'the garbage spent the budget');
  assert.ok(v.shed >= 50 && v.shed <= 200, `${v.shed} of 6400 counted as load`);
});

test('quiet: a source with half its burst left is quiet; one that spent it is not, until it rests', () => {
  const gate = new HandshakeGate(6);
  const [init] = floodMessages(PUB, 1) as [Uint8Array];
  const src = name('192.0.2.44', 1);
  gate.check(init, init[0]!, src, 0, 0);
  assert.equal(gate.quiet, true, 'a new source');
  run(gate, init, src, HANDSHAKE_SOURCE_BURST / 2 + 1, 0);
  assert.equal(gate.quiet, false, 'half its burst spent at once');
  gate.check(init, init[0]!, name('192.0.2.45', 1), 0, 0);
  assert.equal(gate.quiet, true, 'another source');
  gate.check(init, init[0]!, src, 0, 1000);
  assert.equal(gate.quiet, true, 'rested for a second');
});
