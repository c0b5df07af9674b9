// Endpoint selection inside the real core (core/endpoints.ts, core/select-flow.ts): the entry
// points the engine and the config side use, and the rules the core adds around select.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PathAddr, samePath } from '../../../../src/engine/core/addr.js';
import { WgError } from '../../../../src/model/errors.js';
import { ipv4, pair, sock, v4 } from './sim.js';

const INIT = 1;
const DATA = 4;
const path = (a: string, port = 51820): PathAddr => ({ family: 4, address: v4(a), port, scopeId: 0 });

test('an initiation from the peer while we race does not cancel our round', () => {
  const dead = sock('203.0.113.1', 51820);
  const { net, a, b } = pair({ bEndpoints: [dead, sock('192.0.2.2', 51820)], bKnowsA: true });
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  b.fromTun(ipv4('10.0.0.2', '10.0.0.1'));
  net.run(20);
  const peerOfA = a.core.peers.values().next().value!;
  assert.ok(
    b.logs.some((l) => l.includes('Sending handshake initiation')),
    'B initiated too',
  );
  assert.ok(
    a.logs.some((l) => l.includes('Received handshake initiation')),
    'A consumed B’s initiation',
  );
  assert.equal(peerOfA.initiations.size, 1, 'the round’s state survived the consumption');
  net.run(2000);
  const inits = a.sentOfType(INIT);
  assert.deepEqual(inits[1]!.to, b.addr, 'the round went on to its second candidate');
  assert.equal(inits[1]!.at, 250);
  assert.ok(a.tun.length >= 1 && b.tun.length >= 1, 'traffic both ways');
  assert.deepEqual(a.core.getDevice().peers[0]!.activeEndpoint, b.addr);
});

test('configurePeer: lines of resolved addresses, the preference policy; updateEndpointLine mid-race', () => {
  const { net, a, b } = pair({ bEndpoints: [] });
  a.handle(
    a.core.configurePeer(
      b.publicKey,
      { lines: [[path('203.0.113.1'), path('203.0.113.2')], []], policy: 'preference' },
      net.now,
    ),
  );
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  // The name of line 1 resolves while the round runs: its address joins the untried tail.
  a.handle(a.core.updateEndpointLine(b.publicKey, 1, [path('192.0.2.2')], net.now));
  net.run(1500);
  assert.equal(b.tun.length, 1, 'the staged packet went through the new address');
  const c = a.core.candidates(b.publicKey)!;
  assert.deepEqual(
    c.map((x) => [x.rank, x.state]),
    [
      [0, 'untried'],
      [0, 'untried'],
      [1, 'active'],
    ],
  );
  assert.equal(a.core.peers.values().next().value!.endpoints.selector.policy, 'preference');
  const dev = a.core.getDevice().peers[0]!;
  assert.deepEqual(
    dev.endpoints.map((e) => [...e.addr!.address].join('.')),
    ['203.0.113.1', '203.0.113.2', '192.0.2.2'],
  );
});

test('configurePeer and updateEndpointLine refuse bad input and change nothing', () => {
  const { net, a, b } = pair();
  const before = a.core.candidates(b.publicKey);
  const lines = Array.from({ length: 17 }, (_, i) => [path(`192.0.2.${i + 10}`)]);
  assert.throws(() => a.core.configurePeer(b.publicKey, { lines }, net.now), /at most 16 Endpoint lines/);
  assert.throws(
    () =>
      a.core.configurePeer(
        b.publicKey,
        { lines: [[{ family: 4, address: v4('192.0.2.9'), port: 0, scopeId: 0 }]] },
        net.now,
      ),
    /port 0/,
  );
  assert.throws(() => a.core.updateEndpointLine(b.publicKey, 3, [], net.now), /line 4 does not exist/);
  assert.throws(() => a.core.configurePeer(new Uint8Array(32).fill(7), {}, net.now), WgError);
  assert.deepEqual(a.core.candidates(b.publicKey), before);
});

test('a network change races every candidate at once; a refused send to the active one too', () => {
  const { net, a, b } = pair({ bEndpoints: [sock('192.0.2.2', 51820), sock('203.0.113.1', 51820)] });
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(5000);
  const n = a.sentOfType(INIT).length;
  a.handle(a.core.networkChanged(net.now));
  assert.equal(a.sentOfType(INIT).length, n + 1, 'the first of the race at once');
  net.run(1000);
  assert.deepEqual(a.core.getDevice().peers[0]!.activeEndpoint, b.addr);
  const m = a.sentOfType(INIT).length;
  a.handle(a.core.sendError(b.publicKey, b.addr, net.now));
  assert.equal(a.sentOfType(INIT).length, m + 1, 'a send error on the active path starts a race');
  assert.ok(
    samePath(a.sentOfType(INIT).at(-1)!.to, sock('203.0.113.1', 51820)),
    'the refused path goes last',
  );
  net.run(1000);
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.ok(a.sentOfType(DATA).length > 0);
  assert.equal(b.tun.length, 2);
});

test('a refused data send on the active path: logged, a race at once (the refused path last), once per episode', () => {
  const other = sock('203.0.113.1', 51820);
  const { net, a, b } = pair({ bEndpoints: [sock('192.0.2.2', 51820), other] });
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(5000);
  assert.deepEqual(a.core.getDevice().peers[0]!.activeEndpoint, b.addr);
  const n = a.sentOfType(INIT).length;
  a.handle(a.core.dataRefused(b.publicKey, b.addr, net.now, 'errno 1'));
  assert.ok(
    a.logs.some((l) => /Sending data to 192\.0\.2\.2:51820 failed \(errno 1\)/.test(l)),
    a.logs.join('\n'),
  );
  const sent = a.sentOfType(INIT);
  assert.equal(sent.length, n + 1, 'the race starts at once');
  assert.ok(samePath(sent.at(-1)!.to, other), 'with the other path');
  // The other path never answered: nothing to mirror onto.
  assert.equal(a.actions.filter((x) => x.type === 'mirror').length, 0);
  // More reports while the round runs start nothing more, and are not logged again.
  const logs = a.logs.length;
  a.handle(a.core.dataRefused(b.publicKey, b.addr, net.now + 100, 'errno 1'));
  assert.equal(a.sentOfType(INIT).length, n + 1);
  assert.equal(a.logs.length, logs);
  // A refusal for a path that is not the active one is not the active path's failure.
  const c = pair({ bEndpoints: [sock('192.0.2.2', 51820), other] });
  c.a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  c.net.run(5000);
  const k = c.a.sentOfType(INIT).length;
  c.a.handle(c.a.core.dataRefused(c.b.publicKey, other, c.net.now));
  assert.equal(c.a.sentOfType(INIT).length, k);
});

test('one endpoint: selection stays out of the handshakes (standard), and still follows roaming', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(a.core.peers.values().next().value!.endpoints.racing, false);
  assert.equal(a.sentOfType(INIT).length, 1);
  assert.equal(b.tun.length, 1);
  assert.equal(
    a.actions.filter((x) => x.type === 'pathSwitched').length,
    1,
    'the first authenticated packet chose the path',
  );
});

test('roaming off: authenticated packets from a new source do not move the active path', () => {
  for (const roaming of [true, false]) {
    const { net, a, b } = pair({ bEndpoints: [sock('192.0.2.2', 51820), sock('203.0.113.1', 51820)] });
    a.handle(a.core.configurePeer(b.publicKey, { roaming }, net.now));
    a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
    net.run(500);
    const moved = sock('198.51.100.7', 51820);
    net.rebind(b, moved);
    b.fromTun(ipv4('10.0.0.2', '10.0.0.1'));
    net.run(100);
    assert.equal(a.tun.length, 1, 'the packet from the new source was accepted');
    const active = a.core.getDevice().peers[0]!.activeEndpoint;
    assert.ok(samePath(active, roaming ? moved : sock('192.0.2.2', 51820)), `roaming ${roaming}`);
  }
});
