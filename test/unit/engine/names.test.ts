// The engine's endpoint lines (src/engine/names.ts) against a tiny DNS server on loopback: a
// name that does not resolve yet leaves its line empty while the other lines go to the core;
// the name joins in its place once it resolves; a request repeating the lines leaves them be;
// dropped names stop being resolved.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPath, type PathAddr } from '../../../src/engine/core/addr.js';
import { Logger } from '../../../src/engine/log.js';
import { EndpointNames, flattenLines } from '../../../src/engine/names.js';
import { type Device, newDevice, newPeer } from '../../../src/model/index.js';
import { hostAddr } from '../../lib/path-addr.js';
import { TYPE_A, withDns } from '../../lib/tiny-dns.js';

const KEY = new Uint8Array(32).fill(7);
const HEX = Buffer.from(KEY).toString('hex');

function request(endpoints: Device<PathAddr>['peers'][number]['endpoints']): Device<PathAddr> {
  const d = newDevice() as Device<PathAddr>;
  d.peers.push(newPeer({ publicKey: KEY, endpoints }));
  return d;
}

const named = (host: string, port: number) => ({ name: { host, port } });
const numeric = (address: string, port: number) => ({ addr: hostAddr(address, port) });

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('an unresolved name waits in its line; it joins in its place once it resolves', () =>
  withDns(async (dns) => {
    const updates: { peer: string; rank: number; addrs: string[] }[] = [];
    const logs: string[] = [];
    const names = new EndpointNames(
      dns.lookup(),
      (peer, rank, addrs: PathAddr[]) => updates.push({ peer, rank, addrs: addrs.map(formatPath) }),
      new Logger('verbose', 't', (l) => logs.push(l)),
    );
    try {
      const change = request([named('peer.test', 51820), numeric('192.0.2.9', 1)]);
      names.take(change);
      // The core gets what is known now: the numeric line alone.
      assert.deepEqual(
        change.peers[0]!.endpoints.map((e) => formatPath(e.addr!)),
        ['192.0.2.9:1'],
      );
      await until('a logged resolution failure', () => logs.some((l) => l.includes('does not resolve')));
      assert.equal(updates.length, 0);
      // The name starts to resolve: the watcher retries after a failure (1 s at first).
      dns.zone.set('peer.test', { A: { addrs: ['192.0.2.1', '192.0.2.2'], ttl: 600, delay: 0 } });
      await until('the name to resolve', () => updates.length > 0);
      assert.deepEqual(updates, [{ peer: HEX, rank: 0, addrs: ['192.0.2.1:51820', '192.0.2.2:51820'] }]);
      assert.deepEqual(flattenLines(names.linesOf(HEX)!).map(formatPath), [
        '192.0.2.1:51820',
        '192.0.2.2:51820',
        '192.0.2.9:1',
      ]);
      assert.ok(logs.some((l) => l.includes('resolves again')));

      // The same lines again (a reload): the peer's candidates are left alone.
      const again = request([named('PEER.test', 51820), numeric('192.0.2.9', 1)]);
      names.take(again);
      assert.deepEqual(again.peers[0]!.endpoints, []);
      assert.equal(again.peers[0]!.clearEndpoints, undefined);

      // A new list keeps the name's answer (no wait for a new resolution) in its new place.
      const moved = request([numeric('192.0.2.9', 1), named('peer.test', 51820)]);
      names.take(moved);
      assert.deepEqual(
        moved.peers[0]!.endpoints.map((e) => formatPath(e.addr!)),
        ['192.0.2.9:1', '192.0.2.1:51820', '192.0.2.2:51820'],
      );

      // Numeric lists keep wg's meaning: sent every time, even when unchanged.
      const plain = request([numeric('192.0.2.9', 1)]);
      names.take(plain);
      const plainAgain = request([numeric('192.0.2.9', 1)]);
      names.take(plainAgain);
      assert.equal(plainAgain.peers[0]!.endpoints.length, 1);

      // The name was dropped: it is no longer resolved.
      const queries = dns.queries.filter((q) => q.type === TYPE_A).length;
      names.networkChanged();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(dns.queries.filter((q) => q.type === TYPE_A).length, queries);
    } finally {
      names.close();
    }
  }));

test('only names: the peer has no endpoint until one resolves; removal and prune stop watching', () =>
  withDns(async (dns) => {
    const names = new EndpointNames(dns.lookup(), () => {}, new Logger('silent', 't'));
    try {
      const change = request([named('a.test', 1), named('b.test', 2)]);
      names.take(change);
      assert.deepEqual(change.peers[0]!.endpoints, []);
      assert.equal(change.peers[0]!.clearEndpoints, true);
      assert.equal(names.linesOf(HEX)?.length, 2);

      const removal = newDevice() as Device<PathAddr>;
      removal.peers.push(newPeer({ publicKey: KEY, remove: true }));
      names.take(removal);
      assert.equal(names.linesOf(HEX), undefined);

      names.take(request([named('a.test', 1)]));
      names.prune(() => false);
      assert.equal(names.linesOf(HEX), undefined);
      await new Promise((r) => setTimeout(r, 300)); // the queries already sent
      const n = dns.queries.length;
      names.networkChanged();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(dns.queries.length, n, 'nothing is resolved for a peer that is gone');

      // replace_peers forgets every peer the request does not name.
      names.take(request([named('a.test', 1)]));
      const replace = newDevice({ replacePeers: true }) as Device<PathAddr>;
      names.take(replace);
      assert.equal(names.linesOf(HEX), undefined);
    } finally {
      names.close();
    }
  }));
