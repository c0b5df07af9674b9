// The coalescer (src/engine/dataplane/gro.ts): which packets merge and which pass through, the
// virtio header and fields of a merged packet, and the round trips with the splitter (gso.ts):
// split(coalesce(x)) === x and coalesce(split(x)) === x, byte for byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer } from '../../../../src/engine/dataplane/gro.js';
import { decodeVirtioNetHdr, gsoSplit, newVirtioNetHdr } from '../../../../src/engine/dataplane/gso.js';
import {
  ACK,
  CWR,
  type Flow,
  l4Offset,
  PSH,
  packet,
  pattern,
  type Seg,
  SYN,
  v4,
  v6,
  vnetHdr,
} from '../../../lib/ippkt.js';
import { Rng, testSeed } from '../../../lib/rng.js';

const TS = Uint8Array.of(1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78);
const tcp4: Flow = {
  v: 4,
  src: v4('10.2.0.1'),
  dst: v4('10.2.0.2'),
  proto: 'tcp',
  sport: 1234,
  dport: 80,
  tcpOpts: TS,
  ack: 99,
};
const tcp6: Flow = { ...tcp4, v: 6, src: v6('fd02::1'), dst: v6('fd02::2'), flowLabel: 7 };
const udp4: Flow = { v: 4, src: v4('10.2.0.1'), dst: v4('10.2.0.2'), proto: 'udp', sport: 9, dport: 10 };
const udp6: Flow = { ...udp4, v: 6, src: v6('fd02::1'), dst: v6('fd02::2') };

/** Consecutive segments of a flow: `sizes` payload bytes each, from seq / id. */
function segments(f: Flow, sizes: number[], o: { seq?: number; id?: number; lastFlags?: number } = {}) {
  let seq = o.seq ?? 1000;
  return sizes.map((n, i) => {
    const s: Seg = { seq, id: (o.id ?? 1) + i, payload: pattern(n, seq), flags: ACK };
    if (i === sizes.length - 1 && o.lastFlags) s.flags = o.lastFlags;
    seq += n;
    return packet(f, s);
  });
}

interface Out {
  hdr: ReturnType<typeof newVirtioNetHdr>;
  pkt: Uint8Array;
}

function coalesce(pkts: Uint8Array[], opts: { udp?: boolean } = {}): Out[] {
  const c = new Coalescer(64, opts);
  // Packets in slots of a shared arena, as a receive worker holds them.
  const stride = 2048;
  const src = new Uint8Array(stride * pkts.length + 1);
  const offs = pkts.map((_, i) => i * stride + 16);
  pkts.forEach((p, i) => {
    src.set(p, offs[i]!);
  });
  const out = new Uint8Array(pkts.reduce((n, p) => n + p.length + 10, 0));
  const n = c.coalesce(
    src,
    offs,
    pkts.map((p) => p.length),
    pkts.length,
    out,
    0,
  );
  return Array.from({ length: n }, (_, k) => {
    const hdr = newVirtioNetHdr();
    decodeVirtioNetHdr(out, c.outOffs[k]!, hdr);
    return { hdr, pkt: out.slice(c.outOffs[k]! + 10, c.outOffs[k]! + c.outLens[k]!) };
  });
}

function splitOut(o: Out): Uint8Array[] {
  if (o.hdr.gsoType === 0) return [o.pkt];
  const t = { bytes: new Uint8Array(64 * 2048), base: 0, stride: 2048, count: 64, lens: new Int32Array(64) };
  const n = gsoSplit(o.pkt, 0, o.pkt.length, o.hdr, t);
  assert.ok(n > 0, `split failed: ${n}`);
  return Array.from({ length: n }, (_, i) => t.bytes.slice(i * 2048, i * 2048 + t.lens[i]!));
}

test('consecutive TCPv4 segments merge into one super-packet with the header a TUN accepts', () => {
  const segs = segments(tcp4, [1000, 1000, 1000, 500], { lastFlags: ACK | PSH });
  const out = coalesce(segs);
  assert.equal(out.length, 1);
  const { hdr, pkt } = out[0]!;
  assert.deepEqual(hdr, { flags: 1, gsoType: 1, hdrLen: 52, gsoSize: 1000, csumStart: 20, csumOffset: 16 });
  // Exactly the super-packet the sender's stack would have handed to a TUN.
  const whole = new Uint8Array(3500);
  let at = 0;
  for (const s of segs) {
    whole.set(s.subarray(52), at);
    at += s.length - 52;
  }
  assert.deepEqual(
    pkt,
    packet(tcp4, { seq: 1000, id: 1, flags: ACK | PSH, payload: whole, csum: 'partial' }),
  );
  assert.deepEqual(splitOut(out[0]!), segs);
});

test('TCPv6 and UDP (v4, v6) merge too; UDP only when the TUN takes USO', () => {
  const t6 = segments(tcp6, [1300, 1300, 7]);
  const o6 = coalesce(t6);
  assert.equal(o6.length, 1);
  assert.deepEqual(o6[0]!.hdr, {
    flags: 1,
    gsoType: 4,
    hdrLen: 72,
    gsoSize: 1300,
    csumStart: 40,
    csumOffset: 16,
  });
  assert.deepEqual(splitOut(o6[0]!), t6);
  for (const f of [udp4, udp6]) {
    const u = [0, 1, 2].map((i) => packet(f, { id: 5 + i, payload: pattern(i === 2 ? 100 : 1200, i) }));
    assert.equal(coalesce(u).length, 3, 'no USO: left alone');
    const o = coalesce(u, { udp: true });
    assert.equal(o.length, 1);
    const l4 = l4Offset(f);
    assert.deepEqual(o[0]!.hdr, {
      flags: 1,
      gsoType: 5,
      hdrLen: l4 + 8,
      gsoSize: 1200,
      csumStart: l4,
      csumOffset: 6,
    });
    assert.deepEqual(splitOut(o[0]!), u);
  }
});

test('what must not merge passes through unchanged, with an all-zero header', () => {
  const base = segments(tcp4, [1000, 1000]);
  const cases: [string, Uint8Array[]][] = [
    [
      'different ack',
      [base[0]!, packet({ ...tcp4, ack: 100 }, { seq: 2000, id: 2, payload: pattern(1000) })],
    ],
    [
      'different window',
      [base[0]!, packet({ ...tcp4, window: 1 }, { seq: 2000, id: 2, payload: pattern(1000) })],
    ],
    ['different TTL', [base[0]!, packet({ ...tcp4, ttl: 63 }, { seq: 2000, id: 2, payload: pattern(1000) })]],
    ['different TOS', [base[0]!, packet({ ...tcp4, tos: 4 }, { seq: 2000, id: 2, payload: pattern(1000) })]],
    [
      'DF on one only',
      [base[0]!, packet({ ...tcp4, df: false }, { seq: 2000, id: 2, payload: pattern(1000) })],
    ],
    ['ids not consecutive', [base[0]!, packet(tcp4, { seq: 2000, id: 7, payload: pattern(1000) })]],
    ['a sequence gap', [base[0]!, packet(tcp4, { seq: 2001, id: 2, payload: pattern(1000) })]],
    [
      'different timestamps',
      [
        base[0]!,
        packet(
          { ...tcp4, tcpOpts: TS.map((b, i) => (i === 9 ? 1 : b)) },
          { seq: 2000, id: 2, payload: pattern(1000) },
        ),
      ],
    ],
    [
      'PSH on the first',
      [packet(tcp4, { seq: 1000, id: 1, flags: ACK | PSH, payload: pattern(1000) }), base[1]!],
    ],
    [
      'CWR on the second',
      [base[0]!, packet(tcp4, { seq: 2000, id: 2, flags: ACK | CWR, payload: pattern(1000) })],
    ],
    [
      'a larger one after a shorter first',
      [
        packet(tcp4, { seq: 1000, id: 1, payload: pattern(999) }),
        packet(tcp4, { seq: 1999, id: 2, payload: pattern(1000) }),
      ],
    ],
    ['a larger second', [base[0]!, packet(tcp4, { seq: 2000, id: 2, payload: pattern(1001) })]],
    ['a bad checksum', [base[0]!, base[1]!.map((b, i) => (i === 60 ? b ^ 1 : b))]],
    ['a bad IPv4 header checksum', [base[0]!, base[1]!.map((b, i) => (i === 11 ? b ^ 1 : b))]],
    ['a bad checksum on the first', [base[0]!.map((b, i) => (i === 60 ? b ^ 1 : b)), base[1]!]],
    [
      'other ports',
      [base[0]!, packet({ ...tcp4, sport: 1235 }, { seq: 2000, id: 2, payload: pattern(1000) })],
    ],
    [
      'IPv6 flow label',
      [
        packet(tcp6, { seq: 1, payload: pattern(900) }),
        packet({ ...tcp6, flowLabel: 8 }, { seq: 901, payload: pattern(900) }),
      ],
    ],
  ];
  for (const [what, pkts] of cases) {
    const out = coalesce(pkts);
    assert.equal(out.length, pkts.length, what);
    out.forEach((o, i) => {
      assert.deepEqual(o.hdr, newVirtioNetHdr(), `${what}: header of ${i}`);
      assert.deepEqual(o.pkt, pkts[i], `${what}: packet ${i}`);
    });
  }
});

test('nothing follows a short segment', () => {
  const segs = segments(tcp4, [1000, 500, 1000, 1000]);
  const out = coalesce(segs);
  assert.deepEqual(
    out.map((o) => o.pkt.length),
    [52 + 1500, 52 + 2000],
  );
  assert.deepEqual(
    out.flatMap((o) => splitOut(o)),
    segs,
  );
});

test('packets that are never merged: SYN, no payload, IPv4 options, fragments, IPv6 extension headers, truncated', () => {
  const p = packet(tcp4, { seq: 1, id: 1, payload: pattern(100) });
  const withOpts = new Uint8Array(p.length + 4);
  withOpts.set(p.subarray(0, 20));
  withOpts[0] = 0x46;
  withOpts.set([1, 1, 1, 0], 20);
  withOpts.set(p.subarray(20), 24);
  new DataView(withOpts.buffer).setUint16(2, withOpts.length);
  const frag = p.slice();
  frag[6] = 0x20;
  const odd = [
    packet(tcp4, { seq: 1, id: 1, flags: SYN, payload: new Uint8Array(0) }),
    packet(tcp4, { seq: 1, id: 2, payload: new Uint8Array(0) }),
    withOpts,
    frag,
    packet({ ...tcp6, ext: [{ type: 0, extra: 0 }] }, { seq: 1, payload: pattern(100) }),
    p.subarray(0, 30),
    p.subarray(0, 3),
    new Uint8Array(0),
  ];
  const out = coalesce([...odd, ...odd]);
  assert.equal(out.length, odd.length * 2);
  out.forEach((o, i) => {
    assert.deepEqual(o.pkt, odd[i % odd.length]);
  });
});

test('interleaved flows each merge, and a flow keeps its order around what it cannot merge', () => {
  const a = segments(tcp4, [1000, 1000, 1000, 1000]);
  const b = segments({ ...tcp4, sport: 5555 }, [800, 800, 800]);
  const pure = packet(tcp4, { seq: 3000, id: 50, payload: new Uint8Array(0) }); // same addresses
  const out = coalesce([a[0]!, b[0]!, a[1]!, b[1]!, pure, a[2]!, b[2]!, a[3]!]);
  // a0+a1, b0+b1, pure ack (closes both: same addresses), a2+a3, b2.
  assert.deepEqual(
    out.map((o) => o.pkt.length),
    [52 + 2000, 52 + 1600, 52, 52 + 2000, 52 + 800],
  );
  assert.deepEqual(
    out.flatMap((o) => splitOut(o)),
    [a[0], a[1], b[0], b[1], pure, a[2], a[3], b[2]],
  );
});

test('a super-packet stops at 65535 bytes and the rest starts the next one', () => {
  const segs = segments(tcp4, new Array(60).fill(1448));
  const out = coalesce(segs);
  assert.equal(out.length, 2);
  for (const o of out) assert.ok(o.pkt.length <= 65535);
  assert.equal(out[0]!.pkt.length, 52 + 45 * 1448);
  assert.deepEqual(
    out.flatMap((o) => splitOut(o)),
    segs,
  );
});

test('round trips: coalesce(split(x)) and split(coalesce(x)) give x back, random flows', () => {
  const rng = new Rng(testSeed());
  for (let k = 0; k < 60; k++) {
    const f: Flow = rng.pick([
      tcp4,
      tcp6,
      udp4,
      udp6,
      { ...tcp4, df: false },
      { ...tcp6, tcpOpts: undefined },
    ]);
    const mss = 500 + rng.int(1000);
    const count = 1 + rng.int(30);
    const tcp = f.proto === 'tcp';
    const l4h = tcp ? 20 + (f.tcpOpts?.length ?? 0) : 8;
    const total = Math.min((count - 1) * mss + 1 + rng.int(mss), 65535 - l4Offset(f) - l4h);
    const seq = rng.u32();
    const id = rng.int(65536);
    const payload = pattern(total, k + 1);
    const flags = rng.chance(0.5) ? ACK | PSH : ACK;
    const x = packet(f, { seq, id, flags, payload, csum: 'partial' });
    const l4 = l4Offset(f);
    const hdr = {
      flags: 1,
      gsoType: tcp ? (f.v === 4 ? 1 : 4) : 5,
      hdrLen: l4 + l4h,
      gsoSize: mss,
      csumStart: l4,
      csumOffset: tcp ? 16 : 6,
    };
    const segs = splitOut({ hdr, pkt: x });
    const back = coalesce(segs, { udp: true });
    const what = `seed ${rng.seed} case ${k}`;
    assert.equal(back.length, 1, what);
    if (segs.length > 1) {
      assert.deepEqual(back[0]!.hdr, hdr, what);
      assert.deepEqual(back[0]!.pkt, x, what);
    }
    assert.deepEqual(
      back.flatMap((o) => splitOut(o)),
      segs,
      what,
    );
    assert.deepEqual(vnetHdr(hdr).length, 10);
  }
});

test('bad arguments are a RangeError, not a corrupt output', () => {
  const c = new Coalescer(4);
  const p = packet(tcp4, { seq: 1, payload: pattern(10) });
  assert.throws(() => c.coalesce(p, [0], [p.length + 1], 1, new Uint8Array(100), 0), RangeError);
  assert.throws(() => c.coalesce(p, [0], [p.length], 5, new Uint8Array(100), 0), RangeError);
  assert.throws(() => c.coalesce(p, [0], [p.length], 1, new Uint8Array(p.length), 0), RangeError);
  assert.throws(() => new Coalescer(0), RangeError);
});

test('fuzz: mixed, corrupted, truncated, duplicated and garbage packets; nothing lost or changed, no flow reordered', () => {
  const rng = new Rng(testSeed());
  const hex = (p: Uint8Array) => Buffer.from(p).toString('hex');
  /** The 5-tuple of a TCP/UDP packet as gro.ts reads it, or a key of its own for anything else. */
  const flowKey = (p: Uint8Array, i: number) => {
    const v = p.length > 0 ? p[0]! >> 4 : 0;
    if (v === 4 && p.length >= 24) return hex(p.subarray(9, 10)) + hex(p.subarray(12, 24));
    if (v === 6 && p.length >= 44) return hex(p.subarray(6, 7)) + hex(p.subarray(8, 44));
    return `other${i}`;
  };
  let merged = 0;
  for (let round = 0; round < 40; round++) {
    const flows = [tcp4, tcp6, udp4, { ...tcp4, sport: 7 }, udp6];
    const streams = flows.map((f) => {
      const mss = 200 + rng.int(1200);
      const n = 1 + rng.int(20);
      return f.proto === 'tcp'
        ? segments(
            f,
            Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 + rng.int(mss) : mss)),
            {
              seq: rng.u32(),
              id: rng.int(65536),
            },
          )
        : Array.from({ length: n }, (_, i) =>
            packet(f, { id: i, payload: pattern(i === n - 1 ? 1 + rng.int(mss) : mss, i) }),
          );
    });
    const pkts: Uint8Array[] = [];
    while (pkts.length < 64 && streams.some((s) => s.length > 0)) {
      const s = rng.pick(streams.filter((x) => x.length > 0));
      let p = s.shift()!;
      const r = rng.int(20);
      if (r === 0) p = p.map((b, i) => (i === rng.int(p.length) ? b ^ (1 + rng.int(255)) : b));
      else if (r === 1) p = p.slice(0, rng.int(p.length));
      else if (r === 2 && pkts.length < 63) pkts.push(p);
      else if (r === 3)
        continue; // lost: a gap
      else if (r === 4) p = rng.bytes(rng.int(100));
      pkts.push(p);
    }
    const what = `seed ${rng.seed} round ${round}`;
    const out = coalesce(pkts, { udp: true });
    const flat = out.flatMap((o) => splitOut(o));
    merged += out.filter((o) => o.hdr.gsoType !== 0).length;
    assert.deepEqual(flat.map(hex).sort(), pkts.map(hex).sort(), `${what}: same packets`);
    // Per flow, the order of the input.
    const order = new Map<string, string[]>();
    pkts.forEach((p, i) => {
      const k = flowKey(p, i);
      order.set(k, [...(order.get(k) ?? []), hex(p)]);
    });
    const seen = new Map<string, string[]>();
    for (const p of flat) {
      const i = pkts.findIndex((q) => hex(q) === hex(p));
      const k = flowKey(p, i);
      seen.set(k, [...(seen.get(k) ?? []), hex(p)]);
    }
    for (const [k, list] of order)
      if (!k.startsWith('other')) assert.deepEqual(seen.get(k), list, `${what}: flow ${k}`);
  }
  assert.ok(merged > 0, 'some packets merged');
});
