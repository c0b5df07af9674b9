import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REKEY_TIMEOUT_MS } from '../../../../src/engine/core/constants.js';
import { newDevice, newPeer } from '../../../../src/model/index.js';
import { ipv4, pair, seededRandom, sock, v4 } from './sim.js';

const INIT = 1;
const RESP = 2;
const COOKIE = 3;
const DATA = 4;

test('under load: a cookie reply first, then the retry with mac2 is accepted', () => {
  const { net, a, b } = pair();
  b.core.setUnderLoad(Number.POSITIVE_INFINITY);
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(b.sentOfType(COOKIE).length, 1, 'a cookie reply');
  assert.equal(b.sentOfType(COOKIE)[0]!.bytes.length, 64);
  assert.equal(b.sentOfType(RESP).length, 0, 'no response without mac2');
  assert.ok(a.logs.some((l) => l.includes('Receiving cookie response')));
  assert.ok(!a.logs.some((l) => l.includes('Could not decrypt')));
  net.run(REKEY_TIMEOUT_MS + 400);
  const inits = a.sentOfType(INIT);
  assert.equal(inits.length, 2);
  assert.ok(
    inits[1]!.bytes.subarray(132).some((x) => x !== 0),
    'the retry carries mac2',
  );
  assert.ok(
    inits[0]!.bytes.subarray(132).every((x) => x === 0),
    'the first did not',
  );
  assert.equal(b.sentOfType(RESP).length, 1, 'accepted with mac2');
  assert.equal(b.tun.length, 1);
});

test('under load: a cookie from one address does not help another', () => {
  const { net, a, b } = pair();
  b.core.setUnderLoad(Number.POSITIVE_INFINITY);
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  net.rebind(a, sock('198.51.100.7', 4000));
  net.run(REKEY_TIMEOUT_MS + 400);
  // The retry's mac2 was made for B's address as seen from 192.0.2.1; from the new address B
  // computes another cookie, so it answers with a cookie reply again.
  assert.equal(b.sentOfType(COOKIE).length, 2);
  assert.equal(b.sentOfType(RESP).length, 0);
});

test('a forged cookie reply is ignored', () => {
  const { net, a } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  const init = a.sentOfType(INIT)[0]!.bytes;
  const forged = new Uint8Array(64);
  forged[0] = COOKIE;
  forged.set(init.subarray(4, 8), 4);
  net.inject(a, sock('192.0.2.2', 51820), forged);
  assert.ok(a.logs.some((l) => l.includes('Could not decrypt invalid cookie response')));
});

test('a replayed transport message is dropped and counted nowhere', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const data = a.sentOfType(DATA)[0]!;
  const rx = b.core.getDevice().peers[0]!.rxBytes;
  net.inject(b, data.from, data.bytes);
  assert.equal(b.tun.length, 1);
  assert.equal(b.core.getDevice().peers[0]!.rxBytes, rx);
  // A tampered one is dropped too, and does not move the replay window or the endpoint.
  const t = Uint8Array.from(data.bytes);
  t[t.length - 1]! ^= 1;
  t.set(Uint8Array.of(0xff, 0xff, 0, 0, 0, 0, 0, 0), 8);
  net.inject(b, sock('203.0.113.9', 9), t);
  assert.deepEqual(b.core.getDevice().peers[0]!.activeEndpoint, a.addr);
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(b.tun.length, 2, 'the next genuine counter is still accepted');
});

test('a replayed initiation is refused (TAI64N not newer), and so is a flood', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const init = a.sentOfType(INIT)[0]!;
  net.inject(b, init.from, init.bytes);
  assert.ok(b.logs.some((l) => l.includes('handshake replay')));
  assert.equal(b.sentOfType(RESP).length, 1, 'no second response');
  const stats = b.core.getDevice().peers[0]!;
  assert.equal(stats.rxBytes, BigInt(148 + a.sentOfType(DATA).reduce((n, d) => n + d.bytes.length, 0)));
  // Two rounds 5 ms apart carry different (newer) timestamps: the second is a flood.
  net.run(10_000);
  a.handle(a.core.initiate(b.publicKey, net.now, { force: true }));
  net.run(5);
  a.handle(a.core.initiate(b.publicKey, net.now, { force: true }));
  net.run(100);
  assert.ok(b.logs.some((l) => l.includes('handshake flood')));
  assert.equal(b.sentOfType(RESP).length, 2, 'the first of the two was answered');
  assert.equal(a.sentOfType(RESP).length, 0);
});

test('a decrypted packet whose source is not among the peer’s allowed IPs is dropped', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  a.fromTun(ipv4('10.9.9.9', '10.0.0.2'));
  net.run(100);
  assert.equal(b.tun.length, 1);
  assert.ok(b.logs.some((l) => l.includes('disallowed source address')));
  // It still counts as received (it authenticated), as in wireguard-go.
  const rx = b.core.getDevice().peers[0]!.rxBytes;
  assert.equal(rx, BigInt([...a.sent].reduce((n, d) => n + d.bytes.length, 0)));
});

test('packets to addresses no peer owns are dropped; routing picks the longest prefix', () => {
  const { a } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.3'));
  assert.equal(a.sent.length, 0);
  const other = seededRandom(5)(32);
  a.configure(
    newDevice({
      peers: [newPeer({ publicKey: other, allowedIPs: [{ family: 4, address: v4('10.0.0.0'), cidr: 24 }] })],
    }),
  );
  a.fromTun(ipv4('10.0.0.1', '10.0.0.3'));
  assert.ok(
    a.logs.some((l) => l.includes('no known endpoint')),
    'routed to the /24 peer, which has no endpoint',
  );
  const before = a.sent.length;
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  assert.equal(a.sent.length, before + 1, 'the /32 peer still gets its own');
});

test('fuzz: random and mutated datagrams throw nothing and change nothing', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const samples = [...a.sent, ...b.sent].map((d) => d.bytes);
  const rnd = seededRandom(99);
  const snapshot = () => {
    const p = b.core.getDevice().peers[0]!;
    return JSON.stringify({
      rx: String(p.rxBytes),
      tx: String(p.txBytes),
      ep: p.activeEndpoint,
      hs: String(p.lastHandshake?.sec),
      idx: b.core.index.size,
    });
  };
  const before = snapshot();
  for (let i = 0; i < 3000; i++) {
    let bytes: Uint8Array;
    const r = rnd(4);
    if (r[0]! % 3 === 0) bytes = rnd(r[1]! % 200);
    else {
      bytes = Uint8Array.from(samples[r[1]! % samples.length]!);
      for (let k = 0; k <= r[2]! % 4; k++) bytes[rnd(2)[0]! % bytes.length]! ^= 1 << (r[3]! % 8);
    }
    if (r[0]! % 5 === 0 && bytes.length >= 4) bytes.set([1 + (r[1]! % 4), 0, 0, 0]);
    const seen = b.actions.length;
    const delivered = b.tun.length;
    net.inject(b, sock('203.0.113.5', 1000 + i), bytes);
    const out = b.actions.slice(seen);
    for (const x of out) assert.notEqual(x.type === 'log' && x.level, 'error', JSON.stringify(x));
    assert.ok(!out.some((x) => x.type === 'keypairChanged'));
    assert.equal(b.tun.length, delivered);
  }
  assert.equal(snapshot(), before);
  // And the session still works.
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(b.tun.length, 2);
});
