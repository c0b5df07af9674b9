// "Under load" by the depth of the handshake queue, as wireguard-go decides it (device/device.go
// IsUnderLoad): the core answers with cookie replies only while UNDER_LOAD_QUEUE_DEPTH messages
// wait behind the one it handles (the engine passes the depth, Core.datagram's `waiting`), and
// for UNDER_LOAD_AFTER_TIME_MS after. A burst of real initiations from many peers (hundreds
// reconnecting after an outage) is answered with DHs, whatever its rate, as long as the
// responder keeps up. Real Cores on both sides (sim.ts); the burst's initiations are caught on
// the way and handed to the responder with a chosen queue depth.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNDER_LOAD_AFTER_TIME_MS, UNDER_LOAD_QUEUE_DEPTH } from '../../../../src/engine/core/constants.js';
import { newDevice, newPeer } from '../../../../src/model/index.js';
import { type Datagram, ipv4, SimNet, SimNode, sock, v4 } from './sim.js';

const INIT = 1;
const RESP = 2;
const COOKIE = 3;

/** A responder that knows `n` initiators, and one initiation from each, caught before delivery. */
function burst(n: number): { net: SimNet; b: SimNode; inits: Datagram[] } {
  const net = new SimNet();
  const b = net.add(new SimNode(net, sock('192.0.2.2', 51820), 7));
  const nodes = Array.from({ length: n }, (_, i) =>
    net.add(new SimNode(net, sock(`198.51.${100 + (i >> 8)}.${i & 255}`, 51820), 100 + i)),
  );
  const inner = (i: number) => ({ family: 4 as const, address: v4(`10.1.${i >> 8}.${i & 255}`), cidr: 32 });
  b.configure(
    newDevice({
      privateKey: b.privateKey,
      listenPort: 51820,
      peers: nodes.map((a, i) => newPeer({ publicKey: a.publicKey, allowedIPs: [inner(i)] })),
    }),
  );
  const inits: Datagram[] = [];
  net.drop = (d) => {
    if (d.bytes[0] !== INIT) return false;
    inits.push(d);
    return true;
  };
  nodes.forEach((a, i) => {
    a.configure(
      newDevice({
        privateKey: a.privateKey,
        listenPort: 51820,
        peers: [
          newPeer({
            publicKey: b.publicKey,
            endpoints: [{ addr: b.addr }],
            allowedIPs: [{ family: 4, address: v4('10.0.0.2'), cidr: 32 }],
          }),
        ],
      }),
    );
    a.fromTun(ipv4(`10.1.${i >> 8}.${i & 255}`, '10.0.0.2'));
  });
  net.drop = () => false;
  assert.equal(inits.length, n, 'one initiation from each initiator');
  return { net, b, inits };
}

/** Hands `d` to the responder as if `waiting` more messages were queued behind it. */
function deliver(net: SimNet, b: SimNode, d: Datagram, waiting: number): void {
  b.handle(b.core.datagram(d.from, d.bytes, net.now, waiting));
}

test('a burst that never queues as deep as the threshold is answered with DHs, not cookies', () => {
  const n = UNDER_LOAD_QUEUE_DEPTH;
  const { net, b, inits } = burst(n);
  // All at once: the first has all the others behind it (n - 1 < UNDER_LOAD_QUEUE_DEPTH).
  for (const [i, d] of inits.entries()) deliver(net, b, d, n - 1 - i);
  assert.equal(b.sentOfType(COOKIE).length, 0, 'no cookie reply');
  assert.equal(b.sentOfType(RESP).length, n, 'every initiation answered');
});

test('the rate does not matter: hundreds of handshakes within 100 ms, none queued, get no cookie', () => {
  const n = 300;
  const { net, b, inits } = burst(n);
  for (const d of inits) {
    deliver(net, b, d, 0);
    net.now += 0.25; // 4000 per second
  }
  assert.equal(b.sentOfType(COOKIE).length, 0, 'no cookie reply');
  assert.equal(b.sentOfType(RESP).length, n);
});

test('at the threshold the responder is under load, and stays so for UNDER_LOAD_AFTER_TIME', () => {
  const { net, b, inits } = burst(4);
  const [d0, d1, d2, d3] = inits as [Datagram, Datagram, Datagram, Datagram];
  deliver(net, b, d0, UNDER_LOAD_QUEUE_DEPTH - 1);
  assert.equal(b.sentOfType(RESP).length, 1, 'one short of the threshold: a DH');
  deliver(net, b, d1, UNDER_LOAD_QUEUE_DEPTH);
  assert.equal(b.sentOfType(COOKIE).length, 1, 'at the threshold: a cookie reply');
  assert.equal(b.sentOfType(RESP).length, 1);
  net.now += UNDER_LOAD_AFTER_TIME_MS - 1;
  deliver(net, b, d2, 0);
  assert.equal(b.sentOfType(COOKIE).length, 2, 'the queue emptied, but it was deep a moment ago');
  net.now += 1;
  deliver(net, b, d3, 0);
  assert.equal(b.sentOfType(COOKIE).length, 2, 'no longer under load');
  assert.equal(b.sentOfType(RESP).length, 2);
});
