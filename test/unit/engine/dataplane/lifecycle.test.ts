// Starting, reconfiguring and stopping a data plane: clean shutdown out of blocking waits,
// link deletion, a port change under traffic, MTU, fwmark, and peer removal.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Keypair } from '../../../../src/engine/core/keypair.js';
import { DataPlane, threadsLayout } from '../../../../src/engine/dataplane/dataplane.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { need } from '../../../lib/run.js';
import { addNetns, deleteNetns, inNetns, ip, nsName } from '../../sys/netns.js';
import { K1, K2, makePair, ping, until } from './pair.js';

/** Threads of this process (/proc/self/status). */
function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

test('start brings the TUN up with its MTU; stop wakes the blocked workers, ends them and removes the TUN', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const ns = nsName('l1');
  deleteNetns(ns);
  addNetns(ns);
  try {
    const dp = await inNetns(ns, () =>
      DataPlane.start({ tunName: 'dpl0', port: 0, mtu: 1380, txThreads: 2, rxThreads: 2 }),
    );
    const link = JSON.parse(ip(ns, '-j', 'link', 'show', 'dpl0'))[0];
    assert.equal(link.mtu, 1380);
    assert.ok(link.flags.includes('UP'));
    assert.equal(link.ifindex, dp.ifindex);
    assert.ok(dp.port > 0);
    assert.equal(dp.threads, 'split', 'more than one thread a way is always split');
    assert.throws(() => threadsLayout('combined', 2, 2), RangeError);
    const threads = threadCount();
    dp.addPeer(); // the workers start with the first peer
    await dp.startWorkers();
    assert.equal(threadCount(), threads + 4, 'two transmit and two receive workers run');
    await new Promise((r) => setTimeout(r, 100)); // the workers are now blocked in poll
    const t0 = Date.now();
    await dp.stop();
    // That it wakes them at all (the bound is for a loaded machine; the bench times a stop).
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms`);
    assert.throws(() => ip(ns, 'link', 'show', 'dpl0'), /does not exist/);
    await dp.stop(); // idempotent
  } finally {
    deleteNetns(ns);
  }
});

for (const threads of ['split', 'combined'] as const)
  test(`a data plane without peers runs no worker: they start with the first peer, already configured (${threads})`, async (t) => {
    if (!need(t, { root: true, commands: ['ip'] })) return;
    const ns = nsName(`l5${threads[0]}`);
    deleteNetns(ns);
    addNetns(ns);
    const dp = await inNetns(ns, () => DataPlane.start({ tunName: 'dpl5', port: 0, threads }));
    const workers = threads === 'split' ? 2 : 1;
    try {
      assert.equal(dp.threads, threads);
      const before = threadCount();
      dp.setHandshakeKey(new Uint8Array(32).fill(7)); // posted to no one yet: kept for the start
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(threadCount(), before, 'no worker before the first peer');
      const p = dp.addPeer();
      dp.setAllowedIPs(p, [{ family: 4, address: Uint8Array.of(10, 5, 0, 2), cidr: 32 }]);
      await dp.startWorkers();
      assert.equal(threadCount(), before + workers, 'one transmit and one receive worker, or one for both');
      await dp.settle();
      dp.addPeer();
      await dp.startWorkers();
      assert.equal(threadCount(), before + workers, 'started once');
    } finally {
      await dp.stop();
      deleteNetns(ns);
    }
  });

test('deleting the TUN link is reported once (linkGone)', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const ns = nsName('l2');
  deleteNetns(ns);
  addNetns(ns);
  const dp = await inNetns(ns, () => DataPlane.start({ tunName: 'dpl1', port: 0 }));
  try {
    dp.addPeer(); // the transmit worker, which sees the deletion, starts with the first peer
    await dp.startWorkers();
    let count = 0;
    dp.on('linkGone', () => count++);
    const gone = once(dp, 'linkGone');
    ip(ns, 'link', 'del', 'dpl1');
    assert.deepEqual(await gone, [77]); // EBADFD
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(count, 1);
  } finally {
    await dp.stop();
    deleteNetns(ns);
  }
});

test('a port change under way keeps traffic flowing; MTU and fwmark apply', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 81, tag: 'l81', dp: { rxThreads: 2 } });
  try {
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 2), 2);
    const oldPort = p.dpB.port;
    const port = await inNetns(p.nsB, () => p.dpB.setListenPort(0));
    assert.notEqual(port, oldPort);
    assert.equal(p.dpB.port, port);
    p.dpA.setEndpoint(p.peerOnA, hostAddr(`192.168.${p.net}.2`, port));
    await p.dpA.settle();
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 2), 2, 'after the port change');
    p.dpA.setMtu(1280);
    assert.equal(JSON.parse(ip(p.nsA, '-j', 'link', 'show', p.tunA))[0].mtu, 1280);
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 1, 1000), 1);
    p.dpB.setFwmark(0x51);
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 1), 1, 'with a fwmark');
  } finally {
    await p.close();
  }
});

test('removing a peer stops its traffic; its slot and keypair ids are reused only after the workers saw it', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 82, tag: 'l82' });
  try {
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 1), 1);
    p.dpB.removePeer(p.peerOnB);
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 1), 0);
    await p.dpB.settle();
    const again = p.dpB.addPeer();
    assert.equal(again, p.peerOnB, 'the slot came back after every worker applied the removal');
    assert.deepEqual(p.dpB.counters(again), { rxBytes: 0n, txBytes: 0n }, 'a reused slot starts from zero');
    p.dpB.setEndpoint(again, hostAddr(`192.168.${p.net}.1`, p.dpA.port));
    p.dpB.setAllowedIPs(again, [{ family: 4, address: Uint8Array.of(10, p.net, 0, 1), cidr: 32 }]);
    const kb = p.dpB.installKeypair(again, new Keypair(K2, K1, 0x0b0b0b01, 0x0a0a0a00, p.dpB.now(), false));
    assert.equal(kb, p.keypairB, 'keypair id reused');
    p.dpB.setSendKeypair(again, kb);
    // A fresh keypair on A too: B's counters start again at 0, which A's old window has seen.
    p.dpA.removeKeypair(p.keypairA);
    const ka = p.dpA.installKeypair(
      p.peerOnA,
      new Keypair(K1, K2, 0x0a0a0a00, 0x0b0b0b01, p.dpA.now(), true),
    );
    p.dpA.setSendKeypair(p.peerOnA, ka);
    await p.dpA.settle();
    await p.dpB.settle();
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 2), 2);
    assert.ok(await until(() => p.dpB.counters(again).rxBytes === 2n * 128n));
  } finally {
    await p.close();
  }
});

test('capacity: adding a peer past maxPeers fails with a WgError, and the port in use is refused', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const ns = nsName('l3');
  deleteNetns(ns);
  addNetns(ns);
  const dp = await inNetns(ns, () => DataPlane.start({ tunName: 'dpl3', port: 0, maxPeers: 2 }));
  try {
    dp.addPeer();
    dp.addPeer();
    assert.throws(() => dp.addPeer(), { name: 'WgError', message: /full \(2 peers\)/ });
    await assert.rejects(
      inNetns(ns, () => DataPlane.start({ tunName: 'dpl4', port: dp.port })),
      /Address already in use/,
    );
    assert.throws(
      () => ip(ns, 'link', 'show', 'dpl4'),
      /does not exist/,
      'a failed start leaves no TUN behind',
    );
  } finally {
    await dp.stop();
    deleteNetns(ns);
  }
});
