// Configuration changes with UAPI `set` semantics (wireguard-go's IpcSetOperation), and reading the device back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publicKeyOf } from '../../../../src/crypto/x25519.js';
import { Core } from '../../../../src/engine/core/core.js';
import { isWgError } from '../../../../src/model/errors.js';
import { newDevice, newPeer } from '../../../../src/model/index.js';
import { pathAddr } from '../../../lib/path-addr.js';
import { ipv4, pair, seededRandom, sock, v4, WALL_EPOCH_NS } from './sim.js';

const rnd = seededRandom(21);
const key = () => rnd(32);

test('peers: create, update_only, remove, replace_peers, own key ignored; order kept', () => {
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: rnd });
  const priv = key();
  const [p1, p2, p3] = [key(), key(), key()];
  core.configure(
    newDevice({
      privateKey: priv,
      listenPort: 51000,
      fwmark: 7,
      peers: [
        newPeer({ publicKey: p1 }),
        newPeer({ publicKey: p2 }),
        newPeer({ publicKey: publicKeyOf(priv) }),
      ],
    }),
    0,
  );
  let d = core.getDevice();
  assert.deepEqual(d.publicKey, publicKeyOf(priv));
  assert.equal(d.listenPort, 51000);
  assert.equal(d.fwmark, 7);
  assert.deepEqual(
    d.peers.map((p) => p.publicKey),
    [p1, p2],
    'own public key ignored',
  );
  core.configure(
    newDevice({
      peers: [newPeer({ publicKey: p3, updateOnly: true }), newPeer({ publicKey: p1, remove: true })],
    }),
    0,
  );
  d = core.getDevice();
  assert.deepEqual(
    d.peers.map((p) => p.publicKey),
    [p2],
  );
  core.configure(newDevice({ replacePeers: true, peers: [newPeer({ publicKey: p3 })] }), 0);
  assert.deepEqual(
    core.getDevice().peers.map((p) => p.publicKey),
    [p3],
  );
  assert.throws(
    () => core.configure(newDevice({ peers: [newPeer({ publicKey: p1 }), newPeer({})] }), 0),
    (e) => isWgError(e),
  );
  assert.equal(core.getDevice().peers.length, 1, 'a bad change changes nothing');
});

test('allowed IPs: masked, insertion order, moved between peers, replaced, removed', () => {
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: rnd });
  const [p1, p2] = [key(), key()];
  const ip = (s: string, cidr: number, remove = false) => ({
    family: 4 as const,
    address: v4(s),
    cidr,
    remove,
  });
  core.configure(
    newDevice({
      privateKey: key(),
      peers: [
        newPeer({ publicKey: p1, allowedIPs: [ip('10.0.3.1', 24), ip('10.1.0.0', 16)] }),
        newPeer({ publicKey: p2, allowedIPs: [ip('10.1.0.0', 16)] }),
      ],
    }),
    0,
  );
  const show = () =>
    core.getDevice().peers.map((p) => p.allowedIPs.map((a) => `${[...a.address].join('.')}/${a.cidr}`));
  assert.deepEqual(show(), [['10.0.3.0/24'], ['10.1.0.0/16']]);
  core.configure(
    newDevice({
      peers: [newPeer({ publicKey: p1, allowedIPs: [ip('10.0.3.0', 24, true), ip('192.168.0.0', 16)] })],
    }),
    0,
  );
  assert.deepEqual(show(), [['192.168.0.0/16'], ['10.1.0.0/16']]);
  core.configure(
    newDevice({
      peers: [newPeer({ publicKey: p2, replaceAllowedIPs: true, allowedIPs: [ip('0.0.0.0', 0)] })],
    }),
    0,
  );
  assert.deepEqual(show(), [['192.168.0.0/16'], ['0.0.0.0/0']]);
});

test('a new private key expires the sessions; removing a peer drops its keys', () => {
  const { net, a, b } = pair();
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  net.run(100);
  const inits = a.sentOfType(1).length;
  a.configure(newDevice({ privateKey: key() }));
  a.fromTun(ipv4('10.0.0.1', '10.0.0.2'));
  assert.equal(a.sentOfType(1).length, inits + 1, 'no sending on the old keypair: a new handshake at once');
  net.run(100);
  assert.equal(b.sentOfType(2).length, 1, 'B does not know the new key: no response');
  const acts = b.core.configure(
    newDevice({ peers: [newPeer({ publicKey: a.publicKey, remove: true })] }),
    net.now,
  );
  const change = acts.find((x) => x.type === 'keypairChanged');
  assert.ok(change && change.type === 'keypairChanged');
  assert.deepEqual(change.keypairs, {}, 'no keypairs left');
  assert.equal(b.core.index.size, 0, 'indices freed');
});

test('endpoints: the list is kept, the first is active, key order of a wireguard-go get', () => {
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: rnd });
  const p = key();
  const eps = [sock('192.0.2.9', 1), pathAddr('[2001:db8::9]:2')];
  core.configure(
    newDevice({
      privateKey: key(),
      peers: [newPeer({ publicKey: p, endpoints: eps.map((addr) => ({ addr })) })],
    }),
    0,
  );
  const d = core.getDevice().peers[0]!;
  assert.deepEqual(
    d.endpoints.map((e) => e.addr),
    eps,
  );
  assert.deepEqual(d.activeEndpoint, eps[0]);
  assert.equal(d.protocolVersion, 1);
  assert.deepEqual(d.presharedKey, new Uint8Array(32), 'no PSK reads as zeros');
  assert.deepEqual(d.lastHandshake, { sec: 0n, nsec: 0 });
  assert.equal(d.persistentKeepalive, 0);
});

test('endpoints: clearEndpoints empties the candidates through configure, with a change event', () => {
  const core = new Core({ wallEpochNs: WALL_EPOCH_NS, random: rnd });
  const p = key();
  core.configure(
    newDevice({
      privateKey: key(),
      peers: [newPeer({ publicKey: p, endpoints: [{ addr: sock('192.0.2.9', 1) }] })],
    }),
    0,
  );
  // A change that mentions no endpoint leaves them alone.
  core.configure(newDevice({ peers: [newPeer({ publicKey: p, persistentKeepalive: 0 })] }), 1);
  assert.deepEqual(core.getDevice().peers[0]!.activeEndpoint, sock('192.0.2.9', 1));
  const actions = core.configure(newDevice({ peers: [newPeer({ publicKey: p, clearEndpoints: true })] }), 2);
  const d = core.getDevice().peers[0]!;
  assert.deepEqual(d.endpoints, []);
  assert.equal(d.activeEndpoint, undefined);
  assert.ok(actions.some((a) => a.type === 'endpointChanged' && a.endpoint === undefined));
});
