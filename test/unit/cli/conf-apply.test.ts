// The pure parts of setconf/addconf/syncconf (wireguard-tools src/setconf.c): replace-everything
// defaults, syncconf's removal list (order and wg's duplicate quirk), and the multi-endpoint
// refusal's text and trigger.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Capabilities } from '../../../src/backend/backend.js';
import {
  collapseEndpoints,
  ensureBackendCanHold,
  multiEndpointPeers,
} from '../../../src/cli/capability-check.js';
import { replaceEverything, syncAgainst, syncRemovals } from '../../../src/cli/conf-apply.js';
import { isWgError } from '../../../src/model/errors.js';
import { newDevice, newPeer, type Peer, type SockAddr } from '../../../src/model/index.js';

function key(...head: number[]): Uint8Array {
  const k = new Uint8Array(32);
  k.set(head);
  return k;
}

const hex = (p: Peer) => Buffer.from(p.publicKey!).toString('hex').slice(0, 4);

test('setconf/syncconf reset what the file leaves out; addconf leaves it out', () => {
  const d = newDevice({ listenPort: 5 });
  replaceEverything(d);
  assert.deepEqual(d.privateKey, new Uint8Array(32));
  assert.equal(d.listenPort, 5);
  assert.equal(d.fwmark, 0);
  assert.equal(d.replacePeers, true);
});

test('syncconf removals: device peers missing from the file, descending raw key order', () => {
  const file = [newPeer({ publicKey: key(0x20) }), newPeer({ publicKey: key(0x05) })];
  const device = [key(0x10), key(0x20), key(0xff), key(0x01), key(0x80, 1)].map((k) =>
    newPeer({ publicKey: k }),
  );
  const removals = syncRemovals(file, device);
  assert.deepEqual(removals.map(hex), ['ff00', '8001', '1000', '0100']);
  assert.ok(removals.every((p) => p.remove && p.allowedIPs.length === 0 && !p.replaceAllowedIPs));
});

test('syncconf removals: a key the device reports twice is removed once even when the file keeps it', () => {
  // wg sorts device entries before file entries of the same key and spares only the entry
  // right before a file entry, so [dev K, dev K, file K] yields one removal of K.
  const k = key(0x42);
  const r1 = syncRemovals(
    [newPeer({ publicKey: k })],
    [newPeer({ publicKey: k }), newPeer({ publicKey: k })],
  );
  assert.deepEqual(r1.map(hex), ['4200']);
  const r2 = syncRemovals([], [newPeer({ publicKey: k }), newPeer({ publicKey: k })]);
  assert.deepEqual(r2.map(hex), ['4200', '4200']);
  const r3 = syncRemovals(
    [newPeer({ publicKey: k }), newPeer({ publicKey: k })],
    [newPeer({ publicKey: k })],
  );
  assert.deepEqual(r3, []);
});

test('syncAgainst drops replace-peers only when both sides have peers, and prepends removals', () => {
  const file = newDevice({ peers: [newPeer({ publicKey: key(1) })] });
  replaceEverything(file);
  syncAgainst(file, newDevice());
  assert.equal(file.replacePeers, true);
  assert.equal(file.peers.length, 1);
  syncAgainst(file, newDevice({ peers: [newPeer({ publicKey: key(2) }), newPeer({ publicKey: key(1) })] }));
  assert.equal(file.replacePeers, false);
  assert.deepEqual(
    file.peers.map((p) => [hex(p), p.remove]),
    [
      ['0200', true],
      ['0100', false],
    ],
  );
});

const A: SockAddr = { family: 4, address: '192.0.2.1', port: 51820 };
const B: SockAddr = { family: 6, address: '2001:db8::1', port: 51820 };

test('repeats of one resolved address count as one endpoint', () => {
  const p = newPeer({ endpoints: [{ addr: A }, { addr: B }, { addr: { ...A } }] });
  collapseEndpoints(p);
  assert.deepEqual(
    p.endpoints.map((e) => e.addr),
    [A, B],
  );
  const single = newDevice({ peers: [newPeer({ endpoints: [{ addr: A }, { addr: { ...A } }] })] });
  assert.deepEqual(multiEndpointPeers(single), []);
  const removed = newDevice({ peers: [newPeer({ remove: true, endpoints: [{ addr: A }, { addr: B }] })] });
  assert.deepEqual(multiEndpointPeers(removed), []);
});

const wgGo: Capabilities = { kind: 'uapi', multiEndpoint: false };
const engine: Capabilities = { kind: 'uapi', implementation: 'wgm-engine/0.1.0', multiEndpoint: true };

test('refusal names every offending peer, file:line, the backend, and what to do', async () => {
  const d = newDevice({
    peers: [
      newPeer({ publicKey: key(1), endpoints: [{ addr: A }, { addr: B }] }),
      newPeer({ publicKey: key(2), endpoints: [{ addr: A }] }),
      newPeer({ publicKey: key(3), endpoints: [{ addr: A }, { addr: B }, { addr: { ...B, port: 1 } }] }),
    ],
  });
  let asked = 0;
  const err = await ensureBackendCanHold('wg7', d, {
    capabilities: async () => {
      asked++;
      return wgGo;
    },
    sources: [
      { file: 'x.conf', line: 4 },
      { file: 'x.conf', line: 9 },
      { file: 'x.conf', line: 14 },
    ],
    from: 'file',
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(asked, 1);
  assert.ok(isWgError(err));
  assert.equal(err.code, 'capability');
  assert.equal(err.exitCode, 1);
  assert.equal(err.location(), 'x.conf:4: ');
  assert.match(
    err.message,
    /^Peer AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= has 2 endpoints, but wg7 is run by a userspace/,
  );
  assert.match(err.message, /one endpoint per peer/);
  assert.equal(err.trailer.length, 2);
  assert.match(err.trailer[0]!, /^x\.conf:14: Peer AwAA.* has 3 endpoints$/);
  assert.match(err.trailer[1]!, /Nothing was changed.*wgm up wg7.*one Endpoint line/);
});

test('no question to the backend without a multi-endpoint peer; engine accepts', async () => {
  const one = newDevice({ peers: [newPeer({ publicKey: key(1), endpoints: [{ addr: A }] })] });
  await ensureBackendCanHold('wg7', one, {
    capabilities: async () => assert.fail('must not ask'),
    from: 'set',
  });
  const two = newDevice({ peers: [newPeer({ publicKey: key(1), endpoints: [{ addr: A }, { addr: B }] })] });
  await ensureBackendCanHold('wg7', two, { capabilities: async () => engine, from: 'set' });
  const kernel = await ensureBackendCanHold('wg7', two, {
    capabilities: async () => ({ kind: 'kernel', multiEndpoint: false }),
    from: 'set',
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isWgError(kernel));
  assert.equal(kernel.location(), '');
  assert.match(kernel.message, /kernel WireGuard interface/);
  assert.match(kernel.trailer.at(-1)!, /one `endpoint' per peer/);
});
