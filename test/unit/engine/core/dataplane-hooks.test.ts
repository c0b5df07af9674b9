// The hooks a threaded data plane uses: keypairs announced in actions, counters reserved from
// a shared cell, and the core told about transport it did not see.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aeadSeal } from '../../../../src/crypto/aead.js';
import type { Action, SessionKeypairs } from '../../../../src/engine/core/actions.js';
import { Keypair } from '../../../../src/engine/core/keypair.js';
import { writeTransportHeaderAt } from '../../../../src/engine/core/messages.js';
import { ipv4, pair } from './sim.js';

const lastKeypairs = (actions: Action[]): SessionKeypairs => {
  const a = actions.filter((x) => x.type === 'keypairChanged').at(-1);
  assert.ok(a?.type === 'keypairChanged');
  return a.keypairs;
};

test('a data plane seals with the announced keypair; counters are never reused', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const kp = lastKeypairs(a.actions).current!;
  // The core's own keypair object, not a copy of its keys.
  assert.ok(kp instanceof Keypair && kp.isInitiator);
  // A "worker" reserves a counter and seals a packet itself.
  const counter = Number(Atomics.add(kp.sendCounterCell, 0, 1n));
  const inner = ipv4('10.0.0.1', '10.0.0.2', Uint8Array.of(7, 7, 7, 7));
  const padded = new Uint8Array(Math.ceil(inner.length / 16) * 16);
  padded.set(inner);
  const sealed = aeadSeal(kp.sendKey, counter, padded);
  const msg = new Uint8Array(16 + sealed.length);
  writeTransportHeaderAt(new DataView(msg.buffer), 0, kp.remoteIndex, counter);
  msg.set(sealed, 16);
  net.inject(b, a.addr, msg);
  assert.deepEqual(b.tun.at(-1), inner, 'the peer opens what the data plane sealed');
  // The core's own next message uses the next counter, not the reserved one.
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  const last = a.sent.at(-1)!.bytes;
  assert.equal(Buffer.from(last).readUInt32LE(8), counter + 1);
  net.run(100);
  assert.equal(b.tun.length, 3);
});

test('transportReceived confirms a responder keypair and counts; transportSent arms timers', () => {
  const { net, a, b } = pair();
  net.drop = (d) => d.bytes[0] === 4; // the "data plane" handles transport, not the sim
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const bk = lastKeypairs(b.actions);
  assert.ok(bk.next && !bk.current, 'B waits for confirmation');
  const out = b.core.transportReceived(bk.next.localIndex, a.addr, 32, true, net.now);
  const confirmed = lastKeypairs(out);
  assert.equal(confirmed.current?.localIndex, bk.next.localIndex);
  assert.equal(confirmed.next, undefined);
  const peer = b.core.getDevice().peers[0]!;
  assert.equal(peer.rxBytes, 148n + 32n);
  assert.ok(peer.lastHandshake!.sec > 0n);
  assert.deepEqual(b.core.transportReceived(12345, a.addr, 32, true, net.now), [], 'unknown index: nothing');
  const before = a.core.getDevice().peers[0]!.txBytes!;
  const timers = [...a.core.peers.values()][0]!.timers;
  timers.del('newHandshake');
  a.core.transportSent(b.publicKey, 1000, 3, net.now);
  assert.equal(a.core.getDevice().peers[0]!.txBytes, before + 1000n);
  assert.ok(timers.pending('newHandshake'), 'data sent arms the new-handshake timer');
});

test('a key object the core found a peer for finds the peer of its bytes, even when reused', () => {
  const { net, a, b } = pair();
  const key = Uint8Array.from(b.publicKey);
  const txBytes = () => a.core.getDevice().peers[0]!.txBytes!;
  const before = txBytes();
  a.core.transportSent(key, 100, 1, net.now);
  a.core.transportSent(key, 100, 1, net.now); // found by the object this time
  assert.equal(txBytes(), before + 200n);
  // The same object, other bytes: no peer of those, nothing counted.
  key[0] = (key[0]! + 1) & 0xff;
  a.core.transportSent(key, 100, 1, net.now);
  assert.equal(txBytes(), before + 200n);
  key.set(b.publicKey);
  a.core.transportSent(key, 100, 1, net.now);
  assert.equal(txBytes(), before + 300n);
});
