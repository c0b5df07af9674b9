// The per-peer static-static DH the core keeps (wireguard-go's precomputedStaticStatic): equal
// to a fresh DH(Spriv, Spub_peer) from an independent X25519 (@noble/curves), recomputed when
// the private key changes, and wiped when it is replaced or the peer goes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publicKeyOf, sharedSecret } from '../../../../src/crypto/x25519.js';
import { Core } from '../../../../src/engine/core/core.js';
import type { PeerState } from '../../../../src/engine/core/peer.js';
import { newDevice, newPeer } from '../../../../src/model/index.js';
import { ipv4, pair, seededRandom, WALL_EPOCH_NS } from './sim.js';

const INIT = 1;
const RESP = 2;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isZero = (b: Uint8Array) => b.every((x) => x === 0);

function setup() {
  const rnd = seededRandom(77);
  const priv = rnd(32);
  const peers = [rnd(32), rnd(32), rnd(32)].map((k) => publicKeyOf(k));
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: seededRandom(78) });
  core.configure(newDevice({ privateKey: priv, peers: peers.map((publicKey) => newPeer({ publicKey })) }), 0);
  const state = (pub: Uint8Array) => core.peers.get(hex(pub))!;
  return { rnd, priv, peers, core, state };
}

test('each peer’s cached DH(Spriv, Spub) equals a fresh one from @noble/curves', () => {
  const { priv, peers, state } = setup();
  for (const pub of peers) assert.deepEqual(state(pub).staticStatic, sharedSecret(priv, pub));
  // One array per peer, not one shared buffer.
  const [a, b] = peers.map((p) => state(p).staticStatic!);
  assert.notEqual(a!.buffer, b!.buffer);
});

test('a new private key recomputes every cached value and wipes the old ones', () => {
  const { rnd, peers, core, state } = setup();
  const old = peers.map((p) => state(p).staticStatic!);
  const priv2 = rnd(32);
  core.configure(newDevice({ privateKey: priv2 }), 1);
  for (const [i, pub] of peers.entries()) {
    assert.deepEqual(state(pub).staticStatic, sharedSecret(priv2, pub), 'recomputed');
    assert.ok(isZero(old[i]!), 'the old value is wiped');
  }
  // Setting the same key again recomputes the same value (and wipes the previous array).
  const before = state(peers[0]!).staticStatic!;
  const copy = Uint8Array.from(before);
  core.configure(newDevice({ privateKey: priv2 }), 2);
  assert.deepEqual(state(peers[0]!).staticStatic, copy);
  assert.ok(isZero(before));
});

test('removing the private key or the peer wipes the cached value', () => {
  const { priv, peers, core, state } = setup();
  const gone = state(peers[0]!).staticStatic!;
  core.configure(newDevice({ peers: [newPeer({ publicKey: peers[0]!, remove: true })] }), 1);
  assert.equal(core.peers.has(hex(peers[0]!)), false);
  assert.ok(isZero(gone), 'wiped with the removed peer');
  const kept = state(peers[1]!).staticStatic!;
  const replaced = state(peers[2]!);
  const replacedValue = replaced.staticStatic!;
  core.configure(newDevice({ replacePeers: true, peers: [newPeer({ publicKey: peers[1]! })] }), 2);
  assert.ok(isZero(replacedValue), 'replace_peers wipes the peers it drops');
  assert.equal(replaced.staticStatic, undefined);
  // replace_peers drops every peer before re-adding the listed ones: a new state, a new value.
  const survivor: PeerState = state(peers[1]!);
  assert.ok(isZero(kept), 'the dropped state’s value is wiped');
  assert.deepEqual(survivor.staticStatic, sharedSecret(priv, peers[1]!));
  const last = survivor.staticStatic!;
  core.configure(newDevice({ privateKey: new Uint8Array(32) }), 3);
  assert.equal(survivor.staticStatic, undefined, 'no private key, no DH');
  assert.ok(isZero(last));
});

test('a peer added before the private key gets its value when the key arrives', () => {
  const rnd = seededRandom(5);
  const priv = rnd(32);
  const pub = publicKeyOf(rnd(32));
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: seededRandom(6) });
  core.configure(newDevice({ peers: [newPeer({ publicKey: pub })] }), 0);
  const peer = core.peers.get(hex(pub))!;
  assert.equal(peer.staticStatic, undefined);
  core.configure(newDevice({ privateKey: priv }), 1);
  assert.deepEqual(peer.staticStatic, sharedSecret(priv, pub));
});

test('a low-order peer key has no value, and no initiation goes to it', () => {
  const rnd = seededRandom(9);
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: seededRandom(10) });
  const zero = new Uint8Array(32); // u = 0: X25519 gives all zeros
  const one = new Uint8Array(32);
  one[0] = 1; // u = 1: a point of order 4
  core.configure(
    newDevice({ privateKey: rnd(32), peers: [newPeer({ publicKey: zero }), newPeer({ publicKey: one })] }),
    0,
  );
  for (const k of [zero, one]) {
    assert.equal(core.peers.get(hex(k))!.staticStatic, undefined);
    assert.equal(
      core.initiate(k, 1, { force: true }).filter((a) => a.type === 'send').length,
      0,
      'nothing sent',
    );
  }
});

test('handshakes still complete after the private key changes (both sides use the new value)', () => {
  const { net, a, b } = pair({ seed: 21 });
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(b.sentOfType(RESP).length, 1);
  // B takes a new identity; A learns B's new public key as a new peer.
  const rnd = seededRandom(99);
  const bPriv = rnd(32);
  const bPub = publicKeyOf(bPriv);
  b.configure(newDevice({ privateKey: bPriv }));
  a.configure(
    newDevice({
      replacePeers: true,
      peers: [
        newPeer({
          publicKey: bPub,
          endpoints: [{ addr: b.addr }],
          allowedIPs: [{ family: 4, address: Uint8Array.of(10, 0, 0, 2), cidr: 32 }],
        }),
      ],
    }),
  );
  const respBefore = b.sentOfType(RESP).length;
  const initBefore = a.sentOfType(INIT).length;
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  assert.equal(a.sentOfType(INIT).length, initBefore + 1);
  assert.equal(b.sentOfType(RESP).length, respBefore + 1, 'B answered under its new key');
  assert.deepEqual(
    b.core.peers.get(hex(a.publicKey))!.staticStatic,
    sharedSecret(bPriv, a.publicKey),
    'B’s cached value is DH(new Spriv_b, Spub_a)',
  );
});
