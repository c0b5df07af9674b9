import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KEEPALIVE_TIMEOUT_MS,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from '../../../../src/engine/core/constants.js';
import { newDevice, newPeer } from '../../../../src/model/index.js';
import { ipv4, pair } from './sim.js';

const INIT = 1;
const RESP = 2;
const DATA = 4;

test('handshake on first packet, data both ways, exact counters', () => {
  const { net, a, b } = pair();
  const p1 = ipv4('10.0.0.1', '10.0.0.2', new TextEncoder().encode('hello'));
  a.fromTun(p1);
  assert.equal(a.sentOfType(INIT).length, 1, 'one initiation');
  net.run(100);
  assert.equal(b.sentOfType(RESP).length, 1, 'one response');
  assert.deepEqual(b.tun, [p1], 'the staged packet arrives once the session exists');
  const p2 = ipv4('10.0.0.2', '10.0.0.1', new Uint8Array(100));
  b.fromTun(p2);
  net.run(100);
  assert.deepEqual(a.tun, [p2]);
  // Counters: what one side sent is what the other received (no loss here).
  const da = a.core.getDevice().peers[0]!;
  const db = b.core.getDevice().peers[0]!;
  const bytes = (s: typeof a.sent) => BigInt(s.reduce((n, d) => n + d.bytes.length, 0));
  assert.equal(da.txBytes, bytes(a.sent));
  assert.equal(db.rxBytes, bytes(a.sent));
  assert.equal(db.txBytes, bytes(b.sent));
  assert.equal(da.rxBytes, bytes(b.sent));
  assert.ok(da.lastHandshake!.sec > 1_700_000_000n, 'latest handshake is wall time');
  assert.ok(db.lastHandshake!.sec > 1_700_000_000n, 'responder: set on key confirmation');
  // Padding: 5-byte payload + 20-byte header = 25 → 32, +16 tag +16 header = 64.
  const data = a.sentOfType(DATA).map((d) => d.bytes.length);
  assert.equal(data[0], 64);
  assert.deepEqual(db.activeEndpoint, a.addr, 'the responder learnt the initiator’s endpoint');
});

test('a preshared key must match on both sides', () => {
  const psk = new Uint8Array(32).fill(9);
  const ok = pair({ psk });
  ok.a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  ok.net.run(100);
  assert.equal(ok.b.tun.length, 1);
  const bad = pair({ psk });
  bad.b.configure(
    newDevice({ peers: [newPeer({ publicKey: bad.a.publicKey, presharedKey: new Uint8Array(32).fill(8) })] }),
  );
  bad.a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  bad.net.run(100);
  assert.equal(bad.b.tun.length, 0);
  assert.ok(bad.a.logs.some((l) => l.includes('Received invalid response message')));
});

test('passive keepalive KEEPALIVE_TIMEOUT after data that was not answered', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const before = b.sentOfType(DATA).length;
  net.run(KEEPALIVE_TIMEOUT_MS - 200);
  assert.equal(b.sentOfType(DATA).length, before, 'nothing before 10 s');
  net.run(400);
  const after = b.sentOfType(DATA);
  assert.equal(after.length, before + 1, 'one keepalive at 10 s');
  assert.equal(after.at(-1)!.bytes.length, 32, 'an empty transport message');
  net.run(60_000);
  assert.equal(b.sentOfType(DATA).length, before + 1, 'and no more while idle');
});

test('persistent keepalive every interval, and turning it on sends one at once', () => {
  const { net, a } = pair({ keepaliveA: 25 });
  // Turning it on sent a keepalive, which needs a session: a handshake started.
  assert.equal(a.sentOfType(INIT).length, 1);
  net.run(100);
  const k0 = a.sentOfType(DATA).length;
  assert.equal(k0, 1, 'the keepalive went out after the handshake');
  net.run(100_000);
  const times = a.sentOfType(DATA).map((d) => d.at);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 3);
  for (const g of gaps) assert.ok(g >= 24_000 && g <= 26_000, `gap ${g}`);
});

test('rekey after REKEY_AFTER_TIME under steady traffic, without losing packets', () => {
  const { net, a, b } = pair();
  let sent = 0;
  for (let t = 0; t < REKEY_AFTER_TIME_MS + 20_000; t += 1000) {
    a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
    sent++;
    net.run(1000);
  }
  assert.equal(b.tun.length, sent, 'every packet arrived');
  const inits = a.sentOfType(INIT).map((d) => d.at);
  assert.equal(inits.length, 2, `initiations at ${inits}`);
  assert.ok(inits[1]! > REKEY_AFTER_TIME_MS && inits[1]! < REKEY_AFTER_TIME_MS + 2000);
  const indices = new Set(a.sentOfType(DATA).map((d) => Buffer.from(d.bytes.subarray(4, 8)).toString('hex')));
  assert.equal(indices.size, 2, 'two keypairs carried the data');
});

test('a keypair past REJECT_AFTER_TIME is never used to send: a new handshake comes first', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const captured = a.sentOfType(DATA)[0]!;
  net.run(REJECT_AFTER_TIME_MS + 1000);
  // A replay of an old message is refused by the replay window anyway; a fresh message under
  // the expired keypair cannot be made by A any more: A handshakes first.
  const initsBefore = a.sentOfType(INIT).length;
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  assert.equal(a.sentOfType(INIT).length, initsBefore + 1, 'an expired keypair makes A handshake');
  net.run(100);
  assert.equal(b.tun.length, 2);
  // The captured message, injected again, is not accepted (expired keypair, and a replay).
  const rx = b.core.getDevice().peers[0]!.rxBytes;
  net.inject(b, captured.from, captured.bytes);
  assert.equal(b.tun.length, 2);
  assert.equal(b.core.getDevice().peers[0]!.rxBytes, rx);
});

test('an expired keypair is refused on receive (REJECT_AFTER_TIME)', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  // Make A keep a message for later by dropping it now.
  net.drop = (d) => d.bytes[0] === DATA;
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2', Uint8Array.of(1, 2, 3)));
  const late = a.sent.at(-1)!;
  net.drop = () => false;
  net.run(REJECT_AFTER_TIME_MS);
  net.inject(b, late.from, late.bytes);
  assert.equal(b.tun.length, 1, 'not delivered after REJECT_AFTER_TIME');
  const fresh = pair();
  fresh.a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  fresh.net.run(100);
  fresh.net.drop = (d) => d.bytes[0] === DATA;
  fresh.a.fromTun(ipv4('10.0.0.1', '10.0.0.2', Uint8Array.of(1, 2, 3)));
  const ok = fresh.a.sent.at(-1)!;
  fresh.net.run(REJECT_AFTER_TIME_MS - 1000);
  fresh.net.inject(fresh.b, ok.from, ok.bytes);
  assert.equal(fresh.b.tun.length, 2, 'the same message is accepted just before');
});

test('retries every REKEY_TIMEOUT + jitter, give up after 20 initiations, zero keys later', () => {
  const { net, a } = pair();
  net.drop = () => true;
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(200_000);
  const times = a.sentOfType(INIT).map((d) => d.at);
  assert.equal(times.length, 20);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  for (const g of gaps) assert.ok(g >= REKEY_TIMEOUT_MS && g < REKEY_TIMEOUT_MS + 334, `gap ${g}`);
  assert.ok(new Set(gaps).size > 1, 'jitter varies');
  assert.ok(a.logs.some((l) => l.includes('did not complete after 20 attempts, giving up')));
  assert.equal(a.core.peers.values().next().value!.staged.length, 0, 'staged packets flushed');
  net.run(3 * REJECT_AFTER_TIME_MS);
  assert.ok(a.logs.some((l) => l.includes('Removing all keys')));
  // New traffic starts over.
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  assert.equal(a.sentOfType(INIT).length, 21);
});

test('new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT when data gets no answer', () => {
  const { net, a } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  net.drop = () => true;
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  const sentAt = net.now;
  net.run(20_000);
  const inits = a.sentOfType(INIT).map((d) => d.at);
  assert.equal(inits.length, 2, `${inits}`);
  const delay = inits[1]! - sentAt;
  assert.ok(delay >= 15_000 && delay < 15_334, `new handshake after ${delay} ms`);
  assert.ok(a.logs.some((l) => l.includes('stopped hearing back after 15 seconds')));
});

test('simultaneous initiations from both sides still end in a session', () => {
  const { net, a, b } = pair({ bKnowsA: true });
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  b.fromTun(ipv4('10.0.0.2', '10.0.0.1'));
  net.run(30_000);
  assert.equal(b.tun.length, 1);
  assert.equal(a.tun.length, 1);
});
