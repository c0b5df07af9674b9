// TUN offloads against the running kernel (sys/tun-offload.ts with engine/dataplane/gso.ts and
// gro.ts): two namespaces, each with a TUN opened with IFF_VNET_HDR and TSO enabled, joined by
// a relay in this process that reads each TCP super-packet the kernel hands over, checks its
// virtio header, splits it into segments (each verified by the test's own checksum routine),
// merges them again and writes the result into the other TUN. A TCP stream between node
// processes in the two namespaces must arrive intact (same SHA-256) over IPv4 and IPv6.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import { Coalescer } from '../../../src/engine/dataplane/gro.js';
import {
  completeChecksum,
  decodeVirtioNetHdr,
  gsoErrorText,
  gsoSplit,
  newVirtioNetHdr,
  type SplitTarget,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
} from '../../../src/engine/dataplane/gso.js';
import { allocNative, freeNative, type NativeBuffer, POLLIN, PollSet } from '../../../src/sys/native.js';
import type { TunDevice } from '../../../src/sys/tun.js';
import { tunRead, tunWrite } from '../../../src/sys/tun.js';
import {
  IFF_VNET_HDR,
  offloadNames,
  openOffloadTun,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_USO4,
  TUN_F_USO6,
  TUN_OFFLOADS_ALL,
  tunFeatures,
} from '../../../src/sys/tun-offload.js';
import { checksumsValid } from '../../lib/ippkt.js';
import { Lab } from '../../lib/netns.js';
import { isRoot, need } from '../../lib/run.js';
import { inNetns } from './netns.js';

const lab = isRoot ? new Lab('to') : undefined;
after(() => lab?.cleanup());

const MTU = 1420;
const BYTES = 6 * 1024 * 1024;

test('the kernel offers IFF_VNET_HDR and accepts checksum and TSO offloads; asking for none gives a plain TUN', (t) => {
  if (!need(t, { root: true, commands: ['ip'] }) || !lab) return;
  if ((tunFeatures() & IFF_VNET_HDR) === 0) return t.skip('needs a TUN driver with IFF_VNET_HDR');
  const ns = lab.netns('p');
  const { tun, state } = inNetns(ns, () => openOffloadTun(lab.ifname('t')));
  try {
    assert.equal(state.vnetHdr, true);
    const need4 = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    assert.equal(state.offloads & need4, need4, `granted: ${offloadNames(state.offloads)}`);
    assert.equal(state.refused & state.offloads, 0);
    assert.equal(state.offloads | state.refused, TUN_OFFLOADS_ALL);
    t.diagnostic(`granted ${offloadNames(state.offloads).join(',')}; refused ${offloadNames(state.refused)}`);
  } finally {
    tun.close();
  }
  const plain = inNetns(ns, () => openOffloadTun(lab.ifname('t'), 1, 0));
  try {
    assert.deepEqual(plain.state, { vnetHdr: false, offloads: 0, refused: 0 });
  } finally {
    plain.tun.close();
  }
  // A flag this kernel does not know (0x8000 stands for a newer one) makes it refuse the set:
  // the probe falls back to checksum and TSO, and says what it did not get.
  const unknown = inNetns(ns, () => openOffloadTun(lab.ifname('t'), 1, TUN_OFFLOADS_ALL | 0x8000));
  try {
    assert.deepEqual(offloadNames(unknown.state.offloads), ['csum', 'tso4', 'tso6', 'tso-ecn']);
    assert.equal(unknown.state.refused, TUN_F_USO4 | TUN_F_USO6 | 0x8000);
  } finally {
    unknown.tun.close();
  }
  // TSO without the checksum offload is meaningless: the probe drops it.
  const noCsum = inNetns(ns, () => openOffloadTun(lab.ifname('t'), 1, TUN_F_TSO4));
  try {
    assert.equal(noCsum.state.offloads, 0);
    assert.equal(noCsum.state.refused, TUN_F_TSO4);
  } finally {
    noCsum.tun.close();
  }
});

interface Stats {
  gso: number;
  segments: number;
  badSegments: number;
  badHeaders: string[];
  merged: number;
  plain: number;
}

/** Moves packets between two offload TUNs until `stop()`; A→B through split and coalesce. */
function relay(a: TunDevice, b: TunDevice, v: 4 | 6, stats: Stats): { stop: () => Promise<void> } {
  const fa = a.queues[0]!;
  const fb = b.queues[0]!;
  const inBuf = allocNative(65536 + 64);
  const seg: SplitTarget = {
    bytes: new Uint8Array(64 * 2048),
    base: 0,
    stride: 2048,
    count: 64,
    lens: new Int32Array(64),
  };
  const offs = Array.from({ length: 64 }, (_, i) => i * 2048);
  const out: NativeBuffer = allocNative(64 * 2048 + 64 * 10);
  const co = new Coalescer(64);
  const hdr = newVirtioNetHdr();
  const ps = new PollSet([
    { fd: fa, events: POLLIN },
    { fd: fb, events: POLLIN },
  ]);
  let running = true;
  const forward = (): boolean => {
    let moved = false;
    for (let k = 0; k < 64; k++) {
      const r = tunRead(fa, inBuf.addr, 65536 + 64);
      if (r <= 0) break;
      moved = true;
      decodeVirtioNetHdr(inBuf.bytes, 0, hdr);
      const len = r - 10;
      if (hdr.gsoType === VIRTIO_NET_HDR_GSO_NONE) {
        stats.plain++;
        assert.equal(completeChecksum(inBuf.bytes, 10, len, hdr), 0);
        inBuf.bytes.fill(0, 0, 10);
        tunWrite(fb, inBuf.addr, r);
        continue;
      }
      stats.gso++;
      const want = v === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
      if (
        (hdr.gsoType & 0x7f) !== want ||
        (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0 ||
        hdr.gsoSize === 0 ||
        hdr.gsoSize > MTU - (v === 4 ? 40 : 60) ||
        hdr.csumStart !== (v === 4 ? 20 : 40) ||
        hdr.csumOffset !== 16
      )
        stats.badHeaders.push(JSON.stringify(hdr));
      const n = gsoSplit(inBuf.bytes, 10, len, hdr, seg);
      if (n < 0) {
        stats.badHeaders.push(`${gsoErrorText(n)}: ${JSON.stringify(hdr)}`);
        continue;
      }
      stats.segments += n;
      for (let i = 0; i < n; i++) {
        const s = seg.bytes.subarray(offs[i]!, offs[i]! + seg.lens[i]!);
        if (s.length > MTU || !checksumsValid(s)) stats.badSegments++;
      }
      const m = co.coalesce(seg.bytes, offs, seg.lens, n, out.bytes, 0);
      stats.merged += m;
      for (let k2 = 0; k2 < m; k2++) tunWrite(fb, out.addr + co.outOffs[k2]!, co.outLens[k2]!);
    }
    for (let k = 0; k < 64; k++) {
      const r = tunRead(fb, inBuf.addr, 65536 + 64);
      if (r <= 0) break;
      moved = true;
      tunWrite(fa, inBuf.addr, r);
    }
    return moved;
  };
  const loop = (async () => {
    while (running) {
      if (!forward()) ps.wait(2);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      ps.free();
      freeNative(inBuf);
      freeNative(out);
    },
  };
}

function collect(p: ChildProcess): { text: () => string; exited: Promise<number | null> } {
  let s = '';
  p.stdout?.on('data', (d: Buffer) => {
    s += d.toString();
  });
  p.stderr?.on('data', (d: Buffer) => {
    s += d.toString();
  });
  return { text: () => s, exited: new Promise((r) => p.once('close', (c) => r(c))) };
}

const RECEIVER = `
const net = require('node:net'), crypto = require('node:crypto');
const srv = net.createServer((c) => {
  const h = crypto.createHash('sha256'); let n = 0;
  c.on('data', (d) => { h.update(d); n += d.length; });
  c.on('end', () => { console.log(JSON.stringify({ n, hash: h.digest('hex') })); c.end(); srv.close(); });
});
srv.listen(5001, '::', () => console.log('listening'));`;

const SENDER = `
const net = require('node:net'), crypto = require('node:crypto');
const total = Number(process.argv[2]); const h = crypto.createHash('sha256'); let sent = 0;
const s = net.connect({ host: process.argv[1], port: 5001 }, () => {
  const pump = () => {
    while (sent < total) {
      const b = crypto.randomBytes(Math.min(100003, total - sent));
      h.update(b); sent += b.length;
      if (!s.write(b)) return s.once('drain', pump);
    }
    s.end(() => console.log(JSON.stringify({ n: sent, hash: h.digest('hex') })));
  };
  pump();
});
s.on('error', (e) => { console.error(String(e)); process.exit(1); });`;

for (const v of [4, 6] as const) {
  test(`TCP over IPv${v} through offload TUNs: super-packets split into valid segments, merged back, stream intact`, async (t) => {
    if (!need(t, { root: true, commands: ['ip'] }) || !lab) return;
    if ((tunFeatures() & IFF_VNET_HDR) === 0) return t.skip('needs a TUN driver with IFF_VNET_HDR');
    const nsA = lab.netns('a');
    const nsB = lab.netns('b');
    const ta = inNetns(nsA, () => openOffloadTun(lab.ifname('t')));
    const tb = inNetns(nsB, () => openOffloadTun(lab.ifname('t')));
    const stats: Stats = { gso: 0, segments: 0, badSegments: 0, badHeaders: [], merged: 0, plain: 0 };
    let r: { stop: () => Promise<void> } | undefined;
    try {
      const [addrA, addrB, plen] = v === 4 ? ['10.9.0.1', '10.9.0.2', 24] : ['fd09::1', 'fd09::2', 64];
      for (const [ns, tun, addr] of [
        [nsA, ta.tun, addrA],
        [nsB, tb.tun, addrB],
      ] as const) {
        tun.mtu = MTU;
        tun.up = true;
        lab.ip(ns, 'addr', 'add', `${addr}/${plen}`, 'dev', tun.name, ...(v === 6 ? ['nodad'] : []));
      }
      r = relay(ta.tun, tb.tun, v, stats);
      const recv = collect(lab.spawn(nsB, process.execPath, ['-e', RECEIVER]));
      const until = Date.now() + 10_000;
      while (!recv.text().includes('listening')) {
        if (Date.now() > until) throw new Error(`receiver did not start: ${recv.text()}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const send = collect(lab.spawn(nsA, process.execPath, ['-e', SENDER, addrB, String(BYTES)]));
      const timeout = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 90_000).unref());
      const done = await Promise.race([Promise.all([send.exited, recv.exited]), timeout]);
      assert.notEqual(done, 'timeout', `transfer timed out: ${send.text()} / ${recv.text()}`);
      const sent = JSON.parse(send.text().trim().split('\n').at(-1)!);
      const got = JSON.parse(recv.text().trim().split('\n').at(-1)!);
      assert.equal(got.n, BYTES);
      assert.equal(got.hash, sent.hash, 'the receiver saw exactly the bytes sent');
      t.diagnostic(
        `${stats.gso} super-packets -> ${stats.segments} segments -> ${stats.merged} written; ${stats.plain} plain`,
      );
      assert.ok(stats.gso > 0, 'the kernel handed over TCP super-packets');
      assert.deepEqual(stats.badHeaders, []);
      assert.equal(stats.badSegments, 0);
      assert.ok(stats.merged < stats.segments, 'segments were merged again');
    } finally {
      await r?.stop();
      ta.tun.close();
      tb.tun.close();
    }
  });
}
