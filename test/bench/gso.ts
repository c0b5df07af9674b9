// The TUN offload building blocks on one thread (engine/dataplane/gso.ts and gro.ts): what
// splitting one 64 KiB super-packet into MTU-sized segments costs, and merging those segments
// back, per super-packet and per segment, for TCP over IPv4 and IPv6 and UDP over IPv4 at a
// 1420-byte MTU (wg-quick's default), plus a jumbo (8920) case. Not part of `npm run bench`
// yet: the data plane does not use them (issue 12).
//
// Run: node <build>/test/bench/gso.js [seconds-per-case]. Printed, never asserted.

import { Coalescer } from '../../src/engine/dataplane/gro.js';
import { gsoSplit, type SplitTarget, type VirtioNetHdr } from '../../src/engine/dataplane/gso.js';
import { type Flow, l4Offset, packet, pattern, v4, v6 } from '../lib/ippkt.js';

const seconds = Number(process.argv[2] ?? 1);

/** CPU time (user + system) per call in µs: the machine is shared, so wall time would mislead. */
function measure(fn: () => void): number {
  for (let i = 0; i < 200; i++) fn(); // warm up
  let n = 0;
  const c0 = process.cpuUsage();
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    for (let k = 0; k < 16; k++) fn();
    n += 16;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const TS = Uint8Array.of(1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78);
const cases: { name: string; flow: Flow; mtu: number }[] = [
  {
    name: 'TCP/IPv4',
    flow: { v: 4, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 'tcp', sport: 1, dport: 2, tcpOpts: TS },
    mtu: 1420,
  },
  {
    name: 'TCP/IPv6',
    flow: { v: 6, src: v6('fd00::1'), dst: v6('fd00::2'), proto: 'tcp', sport: 1, dport: 2, tcpOpts: TS },
    mtu: 1420,
  },
  {
    name: 'UDP/IPv4',
    flow: { v: 4, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 'udp', sport: 1, dport: 2 },
    mtu: 1420,
  },
  {
    name: 'TCP/IPv4 jumbo',
    flow: { v: 4, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 'tcp', sport: 1, dport: 2, tcpOpts: TS },
    mtu: 8920,
  },
];

console.log(
  `segment splitter and coalescer, one thread, ${seconds} s per case, CPU time per 64 KiB super-packet`,
);
console.log('case             segments  split µs  (ns/seg)  merge µs  (ns/seg)  split Gbit/s  merge Gbit/s');
for (const c of cases) {
  const tcp = c.flow.proto === 'tcp';
  const l4 = l4Offset(c.flow);
  const hdrs = l4 + (tcp ? 20 + TS.length : 8);
  const mss = c.mtu - hdrs;
  const payload = pattern(65535 - hdrs, 1);
  const sp = packet(c.flow, { seq: 1, id: 1, payload, csum: 'partial' });
  const hdr: VirtioNetHdr = {
    flags: 1,
    gsoType: tcp ? (c.flow.v === 4 ? 1 : 4) : 5,
    hdrLen: hdrs,
    gsoSize: mss,
    csumStart: l4,
    csumOffset: tcp ? 16 : 6,
  };
  const stride = (c.mtu + 63) & ~63;
  const t: SplitTarget = {
    bytes: new Uint8Array(64 * stride),
    base: 0,
    stride,
    count: 64,
    lens: new Int32Array(64),
  };
  const n = gsoSplit(sp, 0, sp.length, hdr, t);
  if (n < 0) throw new Error(`${c.name}: split failed (${n})`);
  const offs = Array.from({ length: n }, (_, i) => i * stride);
  const co = new Coalescer(64, { udp: true });
  const out = new Uint8Array(sp.length + 64 * 80);
  const splitUs = measure(() => gsoSplit(sp, 0, sp.length, hdr, t));
  const mergeUs = measure(() => co.coalesce(t.bytes, offs, t.lens, n, out, 0));
  if (co.coalesce(t.bytes, offs, t.lens, n, out, 0) !== 1)
    throw new Error(`${c.name}: did not merge into one`);
  const gbit = (us: number) => ((sp.length * 8) / (us * 1e3)).toFixed(1);
  console.log(
    `${c.name.padEnd(16)} ${String(n).padStart(8)}  ${splitUs.toFixed(1).padStart(8)}  ${((splitUs * 1e3) / n)
      .toFixed(0)
      .padStart(
        8,
      )}  ${mergeUs.toFixed(1).padStart(8)}  ${((mergeUs * 1e3) / n).toFixed(0).padStart(8)}  ${gbit(
      splitUs,
    ).padStart(12)}  ${gbit(mergeUs).padStart(12)}`,
  );
}
