import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tai64nToUnixNs } from '../../../../src/crypto/tai64n.js';
import { samePath } from '../../../../src/engine/core/addr.js';
import { REKEY_TIMEOUT_MS } from '../../../../src/engine/core/constants.js';
import { dh, finishInitiation, openInitiation } from '../../../../src/engine/core/handshake.js';
import { ipv4, pair, sock } from './sim.js';

const INIT = 1;
const RESP = 2;
const DATA = 4;

test('roaming: the responder’s endpoint follows the latest authenticated packet', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.deepEqual(b.core.getDevice().peers[0]!.activeEndpoint, a.addr);
  const moved = sock('198.51.100.20', 40000);
  net.rebind(a, moved);
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.deepEqual(b.core.getDevice().peers[0]!.activeEndpoint, moved);
  assert.ok(b.actions.some((x) => x.type === 'endpointChanged' && samePath(x.endpoint, moved)));
  b.fromTun(ipv4('10.0.0.2', '10.0.0.1'));
  net.run(100);
  assert.equal(a.tun.length, 1, 'the reply went to the new address');
  assert.deepEqual(b.sent.at(-1)!.to, moved);
});

test('several candidates: one race round, staggered, one timestamp; the answering one sticks', () => {
  const dead = sock('203.0.113.1', 51820);
  const { net, a, b } = pair({ bEndpoints: [dead, sock('192.0.2.2', 51820)] });
  assert.deepEqual(a.core.getDevice().peers[0]!.activeEndpoint, dead, 'the first line before any contact');
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  assert.deepEqual(
    a.sentOfType(INIT).map((d) => d.to),
    [dead],
    'the first candidate first',
  );
  net.run(1000);
  const inits = a.sentOfType(INIT);
  assert.equal(inits.length, 2, 'no retry needed');
  assert.deepEqual(inits[1]!.to, b.addr, 'the next candidate one stagger later');
  assert.equal(inits[1]!.at - inits[0]!.at, 250);
  const stamps = inits.map((d) => {
    const o = openInitiation(d.bytes, b.privateKey, b.publicKey)!;
    return tai64nToUnixNs(finishInitiation(d.bytes, o, dh(b.privateKey, a.publicKey)!)!.timestamp);
  });
  assert.equal(stamps[0], stamps[1], 'one timestamp for the round');
  assert.equal(b.tun.length, 1, 'the staged packet went through');
  const dev = a.core.getDevice().peers[0]!;
  assert.deepEqual(dev.activeEndpoint, b.addr);
  assert.deepEqual(
    dev.endpoints.map((e) => e.addr),
    [dead, b.addr],
    'the candidates are kept in order',
  );
  assert.deepEqual(
    dev.endpointStates!.map((s) => s.state),
    ['unknown', 'active'],
  );
  assert.ok((dev.endpointStates![1]!.rttMs ?? 0) > 0, 'the answering path has an RTT');
  const sw = a.actions.filter((x) => x.type === 'pathSwitched');
  assert.equal(sw.length, 1);
  assert.deepEqual(sw[0], {
    type: 'pathSwitched',
    peer: b.publicKey,
    from: undefined,
    to: b.addr,
    reason: 'first-contact',
  });
  assert.ok(a.logs.some((l) => l.includes('Endpoint (none) -> 192.0.2.2:51820 (first-contact)')));
  // Later traffic goes to the one that answered, not back to the first.
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  assert.deepEqual(a.sent.at(-1)!.to, b.addr);
});

test('one candidate: standard behaviour, one initiation and retries every REKEY_TIMEOUT to it', () => {
  const dead = sock('203.0.113.1', 51820);
  const { net, a } = pair({ bEndpoints: [dead] });
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(REKEY_TIMEOUT_MS * 2 + 1000);
  const inits = a.sentOfType(INIT);
  assert.equal(inits.length, 3);
  assert.ok(inits.every((d) => samePath(d.to, dead)));
  assert.ok(inits[1]!.at - inits[0]!.at >= REKEY_TIMEOUT_MS);
});

test('an initiation round: one timestamp for all targets; the responder consumes one', () => {
  const { net, a, b } = pair();
  const alias = sock('192.0.2.102', 51820); // a second path to B
  const targets = [alias, b.addr];
  // Route the alias to B by rewriting deliveries.
  const real = net.transmit.bind(net);
  net.transmit = (d) => real(samePath(d.to, alias) ? { ...d, to: b.addr } : d);
  a.handle(a.core.initiate(b.publicKey, net.now, { targets, force: true }));
  const inits = a.sentOfType(INIT);
  assert.equal(inits.length, 2);
  assert.notDeepEqual(inits[0]!.bytes, inits[1]!.bytes, 'distinct ephemerals and indices');
  // Both decrypt (with B's keys) to the same TAI64N timestamp.
  const stamps = inits.map((d) => {
    const o = openInitiation(d.bytes, b.privateKey, b.publicKey)!;
    const f = finishInitiation(d.bytes, o, dh(b.privateKey, a.publicKey)!)!;
    return tai64nToUnixNs(f.timestamp);
  });
  assert.equal(stamps[0], stamps[1]);
  net.run(100);
  assert.equal(b.sentOfType(RESP).length, 1, 'the second copy is a replay at a standard responder');
  assert.ok(b.logs.some((l) => l.includes('handshake replay')));
  // The one response is usable: data flows.
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(b.tun.length, 1);
});

test('identical copies: byte-identical initiations to every target', () => {
  const { net, a, b } = pair();
  a.handle(
    a.core.initiate(b.publicKey, net.now, {
      targets: [sock('203.0.113.8', 1), b.addr],
      identical: true,
      force: true,
    }),
  );
  const inits = a.sentOfType(INIT);
  assert.equal(inits.length, 2);
  assert.deepEqual(inits[0]!.bytes, inits[1]!.bytes);
  net.run(100);
  assert.equal(a.sentOfType(DATA).length, 1, 'the response completed the handshake (keepalive sent)');
});

test('rounds use strictly increasing timestamps, even within one clock granule', () => {
  const { net, a, b } = pair();
  const stamps: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    a.handle(a.core.initiate(b.publicKey, net.now, { force: true }));
    const d = a.sentOfType(INIT).at(-1)!;
    const o = openInitiation(d.bytes, b.privateKey, b.publicKey)!;
    stamps.push(tai64nToUnixNs(finishInitiation(d.bytes, o, dh(b.privateKey, a.publicKey)!)!.timestamp));
  }
  assert.ok(stamps[0]! < stamps[1]! && stamps[1]! < stamps[2]!, `${stamps}`);
  assert.equal(stamps[1]! - stamps[0]!, 16_777_216n);
});

test('a response to an older round is ignored', () => {
  const { net, a, b } = pair();
  net.drop = (d) => d.bytes[0] === RESP;
  a.handle(a.core.initiate(b.publicKey, net.now, { force: true }));
  net.run(50);
  const oldResponse = b.sentOfType(RESP)[0]!;
  net.drop = () => true;
  a.handle(a.core.initiate(b.publicKey, net.now, { force: true }));
  net.inject(a, oldResponse.from, oldResponse.bytes);
  assert.equal(a.core.getDevice().peers[0]!.lastHandshake!.sec, 0n);
  assert.equal(a.sentOfType(DATA).length, 0);
});
