// Sticky source addresses in the data plane: the shared per-peer record (source.ts), and two
// data planes where A has two addresses on its link: A answers from the address B wrote to,
// and falls over to the other one when that address is removed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SOURCE_INTS, SourceRecord, SourceTable } from '../../../../src/engine/dataplane/source.js';
import { inetNtop } from '../../../../src/model/inet.js';
import { encodeSockaddr, type RawAddr, SOCKADDR_SIZE } from '../../../../src/sys/udp.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { need } from '../../../lib/run.js';
import { ip } from '../../sys/netns.js';
import { makePair, ping, until } from './pair.js';

const sockaddr = (a: RawAddr, family: 4 | 6 = 6): { bytes: Uint8Array; len: number } => {
  const bytes = new Uint8Array(SOCKADDR_SIZE);
  const len = encodeSockaddr(a, new DataView(bytes.buffer), 0, family);
  return { bytes, len };
};
const remote = (last: number, port = 51820): RawAddr => ({
  family: 4,
  address: Uint8Array.of(192, 0, 2, last),
  port,
  scopeId: 0,
});
const local = (last: number) => ({ family: 4 as const, address: Uint8Array.of(10, 0, 0, last), ifindex: 2 });

test('source record: set, load under its generation, match the remote it was learned from', () => {
  const table = new SourceTable(new Int32Array(new SharedArrayBuffer(4 * SOURCE_INTS * 3)), 0);
  const rec = new SourceRecord();
  const r1 = sockaddr(remote(1));
  rec.set(r1.bytes, 0, r1.len, local(5));
  assert.equal(table.gen(1), 0);
  const g1 = table.store(1, rec);
  assert.equal(g1, 2, 'a write moves the generation by two (odd while written)');
  assert.equal(table.store(1, rec), g1, 'writing the same pair again changes nothing');
  assert.equal(table.gen(0), 0, 'other peers untouched');
  assert.equal(table.gen(2), 0);
  const copy = new SourceRecord();
  assert.equal(table.load(1, copy), g1);
  assert.deepEqual(copy.local(), local(5));
  assert.equal(copy.remoteIs(r1.bytes, 0, r1.len), true);
  const otherPort = sockaddr(remote(1, 51821));
  const otherHost = sockaddr(remote(2));
  assert.equal(copy.remoteIs(otherPort.bytes, 0, otherPort.len), false);
  assert.equal(copy.remoteIs(otherHost.bytes, 0, otherHost.len), false);
  assert.equal(copy.remoteIs(r1.bytes, 0, 0), false, 'no endpoint matches nothing');
  const flow = Uint8Array.from(r1.bytes);
  flow[4] = 9; // sin6_flowinfo does not name another remote
  assert.equal(copy.remoteIs(flow, 0, r1.len), true);
  // A conditional clear (what setEndpoint does): kept for the same remote, cleared for another.
  assert.equal(
    table.store(1, undefined, (cur) => !cur.remoteIs(r1.bytes, 0, r1.len)),
    g1,
  );
  const g2 = table.store(1, undefined, (cur) => !cur.remoteIs(otherHost.bytes, 0, otherHost.len));
  assert.equal(g2, g1 + 2);
  assert.equal(table.load(1, copy), g2);
  assert.equal(copy.hasLocal(), false);
  assert.equal(copy.local(), undefined);
});

test('source record: a reader never takes a record while it is being written', () => {
  const i32 = new Int32Array(new SharedArrayBuffer(4 * SOURCE_INTS));
  const table = new SourceTable(i32, 0);
  const rec = new SourceRecord();
  const r = sockaddr(remote(1));
  rec.set(r.bytes, 0, r.len, local(5));
  table.store(0, rec);
  Atomics.add(i32, 0, 1); // another thread holds it
  assert.equal(table.load(0, new SourceRecord()), -1);
  assert.equal(table.store(0, undefined), -1, 'a writer gives up rather than wait forever');
  Atomics.sub(i32, 0, 1);
  assert.equal(table.load(0, new SourceRecord()), 2);
});

test('two data planes, A with two addresses: A answers from the one B wrote to, then falls over when it goes', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 81, tag: 's81' });
  try {
    const primary = `192.168.${p.net}.1`;
    const secondary = `192.168.${p.net}.3`;
    ip(p.nsA, 'addr', 'add', `${secondary}/24`, 'dev', p.vethA);
    const roams: string[] = [];
    p.dpB.on('roam', (peer, from) => {
      roams.push(inetNtop(from.address));
      p.dpB.setEndpoint(peer, from); // what the core does: follow the peer
    });
    // B writes to A's secondary address; B's traffic goes first.
    p.dpB.setEndpoint(p.peerOnB, hostAddr(secondary, p.dpA.port));
    await p.dpB.settle();
    assert.equal(ping(p.nsB, `10.${p.net}.0.1`, 5), 5);
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 3), 3, 'and A’s own traffic');
    // A keepalive from A's main thread takes the same source.
    assert.equal(p.dpA.sendData(p.peerOnA, [new Uint8Array(0)]), 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(roams.length, 0, `B saw A's packets come from ${roams.join(', ')}, not only ${secondary}`);
    // The secondary address goes: A's next packets are refused from it and go from the primary.
    ip(p.nsA, 'addr', 'del', `${secondary}/24`, 'dev', p.vethA);
    // (ping blocks this thread, so B follows the roam only after it: the replies may be lost.)
    ping(p.nsA, `10.${p.net}.0.2`, 1);
    assert.ok(await until(() => roams.includes(primary)), `B roamed to ${primary}: ${roams.join(', ')}`);
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 3), 3, 'A reaches B from its primary address');
    assert.equal(ping(p.nsB, `10.${p.net}.0.1`, 3), 3, 'and B reaches A there');
    assert.deepEqual(roams, [primary]);
  } finally {
    await p.close();
  }
});
