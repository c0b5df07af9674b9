// Two data planes move ping traffic between two namespaces, with exact byte counters.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Keypair } from '../../../../src/engine/core/keypair.js';
import type { Moved } from '../../../../src/engine/dataplane/dataplane.js';
import { IFF_VNET_HDR, tunFeatures } from '../../../../src/sys/tun-offload.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { need } from '../../../lib/run.js';
import { ip } from '../../sys/netns.js';
import { INDEX_A, INDEX_B, K1, K2, makePair, ping, until } from './pair.js';

/** Bytes on the wire for one ping of `size` payload bytes: header + padded IP packet + tag. */
const wire = (size: number) => 16 + Math.ceil((size + 8 + 20) / 16) * 16 + 16;

for (const shape of [
  {
    name: 'one thread each way, libcrypto',
    dp: { txThreads: 1, rxThreads: 1, threads: 'split' as const },
    net: 61,
  },
  { name: 'one thread for both directions', dp: { threads: 'combined' as const }, net: 69 },
  {
    name: 'one thread for both directions, offloads off',
    dp: { threads: 'combined' as const, offload: false },
    net: 60,
  },
  {
    name: 'one thread for both directions on A, one each way on B',
    dp: { threads: 'combined' as const },
    dpB: { threads: 'split' as const },
    net: 70,
  },
  {
    name: 'two threads each way (multi-queue TUN, steered sockets)',
    dp: { txThreads: 2, rxThreads: 2 },
    net: 62,
  },
  {
    name: 'node:crypto on A, libsodium on B',
    dp: { cipher: 'node' as const },
    dpB: { cipher: 'libsodium' as const },
    net: 63,
  },
  { name: 'OpenSSL EVP only', dp: { cipher: 'libcrypto' as const }, net: 66 },
  {
    name: 'two threads each way, offloads off (plain multi-queue TUN, one datagram per send)',
    dp: { txThreads: 2, rxThreads: 2, offload: false },
    net: 68,
  },
]) {
  test(`ping both ways through two data planes: ${shape.name}`, async (t) => {
    if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
    const p = await makePair({
      net: shape.net,
      tag: `t${shape.net}`,
      dp: shape.dp,
      dpB: 'dpB' in shape ? shape.dpB : undefined,
    });
    try {
      const errors: Error[] = [];
      p.dpA.on('error', (e) => errors.push(e));
      p.dpB.on('error', (e) => errors.push(e));
      const moved: Moved[] = [];
      p.dpA.on('traffic', (m) => moved.push(...m.filter((x) => x.peer === p.peerOnA)));
      // With offloads (the default) every queue carries virtio headers where the kernel has them.
      const vnet = 'offload' in shape.dp ? false : (tunFeatures() & IFF_VNET_HDR) !== 0;
      assert.equal(p.dpA.offload?.vnetHdr, vnet, p.dpA.offload?.note);
      assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 5), 5, 'A → B');
      assert.equal(ping(p.nsB, `10.${p.net}.0.1`, 3, 1000), 3, 'B → A, 1000-byte payload');
      const bytes = 5 * wire(56) + 3 * wire(1000);
      // Tallies reach shared memory at the end of each worker batch, after its sends: the
      // answer to a packet can be counted by the other thread before the packet's own batch
      // ends (seen once on a loaded machine). Wait for both directions on both sides.
      const settled = (c: { rxBytes: bigint; txBytes: bigint }) =>
        c.rxBytes === BigInt(bytes) && c.txBytes === BigInt(bytes);
      await until(() => settled(p.dpA.counters(p.peerOnA)));
      await until(() => settled(p.dpB.counters(p.peerOnB)));
      assert.deepEqual(p.dpA.counters(p.peerOnA), { rxBytes: BigInt(bytes), txBytes: BigInt(bytes) });
      assert.deepEqual(p.dpB.counters(p.peerOnB), { rxBytes: BigInt(bytes), txBytes: BigInt(bytes) });
      // What the core hears: data both ways, at times on the data plane's clock (threads agree
      // on it to well under a millisecond; allow for the flooring).
      p.dpA.takeTraffic();
      const now = p.dpA.now();
      assert.ok(moved.some((m) => m.rxData) && moved.some((m) => m.txData), JSON.stringify(moved));
      for (const m of moved)
        for (const v of [m.rxAt, m.txAt].filter((x) => x > 0))
          assert.ok(v > now - 30_000 && v <= now + 1, `traffic ${JSON.stringify(m)}, now ${now}`);
      assert.deepEqual(errors, []);
    } finally {
      await p.close();
    }
  });
}

test('receive steering: keypairs whose indices map to different lanes both carry traffic', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 64, tag: 't64', dp: { rxThreads: 2 }, keys: false });
  try {
    // Round 1: A receives on lane 1, B on lane 0; round 2 the other way round.
    for (const [indexA, indexB] of [
      [INDEX_A + 1, INDEX_B - 1],
      [INDEX_A + 2, INDEX_B],
    ] as const) {
      const ka = p.dpA.installKeypair(p.peerOnA, new Keypair(K1, K2, indexA, indexB, p.dpA.now(), true));
      const kb = p.dpB.installKeypair(p.peerOnB, new Keypair(K2, K1, indexB, indexA, p.dpB.now(), false));
      p.dpA.setSendKeypair(p.peerOnA, ka);
      p.dpB.setSendKeypair(p.peerOnB, kb);
      await p.dpA.settle();
      await p.dpB.settle();
      assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 3), 3, `index ${indexB.toString(16)}`);
      p.dpA.removeKeypair(ka);
      p.dpB.removeKeypair(kb);
    }
  } finally {
    await p.close();
  }
});

test('packets larger than a batch slot of the default MTU still pass (1420-byte IP packets)', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 65, tag: 't65' });
  try {
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 3, 1392), 3);
    // 1420 is already a multiple of 4 but not 16: padding stops at the MTU (wireguard-go's rule).
    assert.ok(await until(() => p.dpB.counters(p.peerOnB).rxBytes === BigInt(3 * (16 + 1420 + 16))));
  } finally {
    await p.close();
  }
});

test('IPv6 inside the tunnel and IPv6 between the endpoints', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 67, tag: 't67' });
  try {
    ip(p.nsA, 'addr', 'add', 'fc00:67::1/64', 'dev', p.vethA, 'nodad');
    ip(p.nsB, 'addr', 'add', 'fc00:67::2/64', 'dev', p.vethB, 'nodad');
    ip(p.nsA, 'addr', 'add', 'fd00:67::1/64', 'dev', p.tunA, 'nodad');
    ip(p.nsB, 'addr', 'add', 'fd00:67::2/64', 'dev', p.tunB, 'nodad');
    const a2 = (s: string) => Uint8Array.from(Buffer.from(s.replace(/:/g, ''), 'hex'));
    p.dpA.setAllowedIPs(p.peerOnA, [
      { family: 6, address: a2('fd000067000000000000000000000002'), cidr: 128 },
    ]);
    p.dpB.setAllowedIPs(p.peerOnB, [
      { family: 6, address: a2('fd000067000000000000000000000001'), cidr: 128 },
    ]);
    p.dpA.setEndpoint(p.peerOnA, hostAddr('fc00:67::2', p.dpB.port));
    p.dpB.setEndpoint(p.peerOnB, hostAddr('fc00:67::1', p.dpA.port));
    await p.dpA.settle();
    await p.dpB.settle();
    assert.equal(ping(p.nsA, 'fd00:67::2', 3), 3);
    // ICMPv6 echo with 56 bytes: 40 + 8 + 56 = 104, padded to 112, plus header and tag.
    assert.ok(await until(() => p.dpB.counters(p.peerOnB).rxBytes === BigInt(3 * (16 + 112 + 16))));
    // The IPv4 prefix is gone (setAllowedIPs replaces the list): IPv4 no longer routes.
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 1), 0);
  } finally {
    await p.close();
  }
});
