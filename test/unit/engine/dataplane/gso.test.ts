// The virtio_net_hdr codec and the segment splitter (src/engine/dataplane/gso.ts), against
// packets built field by field with their own checksum routine (test/lib/ippkt.ts): every
// segment must equal, byte for byte, the packet a sender would have built for it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  completeChecksum,
  copyBytes,
  decodeVirtioNetHdr,
  encodeVirtioNetHdr,
  foldSum,
  GsoError,
  gsoErrorText,
  gsoSplit,
  newVirtioNetHdr,
  type SplitTarget,
  sumWords,
  type VirtioNetHdr,
} from '../../../../src/engine/dataplane/gso.js';
import {
  ACK,
  CWR,
  checksumsValid,
  ECE,
  FIN,
  type Flow,
  inetSum,
  l4Offset,
  PSH,
  packet,
  pattern,
  v4,
  v6,
} from '../../../lib/ippkt.js';
import { Rng, testSeed } from '../../../lib/rng.js';

// TCP options as Linux sends them on an established flow: NOP NOP timestamps (12 bytes).
const TS_OPTS = Uint8Array.of(1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78);
// NOP NOP SACK with one block (12 bytes).
const SACK_OPTS = Uint8Array.of(1, 1, 5, 10, 0, 0, 1, 0, 0, 0, 2, 0);

const tcp4: Flow = {
  v: 4,
  src: v4('10.1.0.1'),
  dst: v4('10.1.0.2'),
  proto: 'tcp',
  sport: 40000,
  dport: 5201,
  tcpOpts: TS_OPTS,
  ack: 0xdeadbeef,
  window: 501,
};
const tcp6: Flow = {
  v: 6,
  src: v6('fd00::1'),
  dst: v6('fd00::2'),
  proto: 'tcp',
  sport: 40001,
  dport: 443,
  tcpOpts: SACK_OPTS,
  flowLabel: 0x12345,
  ext: [
    { type: 0, extra: 0 },
    { type: 60, extra: 1 },
  ],
};
const udp4: Flow = {
  v: 4,
  src: v4('10.1.0.1'),
  dst: v4('10.1.0.2'),
  proto: 'udp',
  sport: 53000,
  dport: 4433,
};
const udp6: Flow = { ...udp4, v: 6, src: v6('fd00::1'), dst: v6('fd00::2'), ext: [{ type: 60, extra: 0 }] };

function hdrFor(f: Flow, gsoSize: number): VirtioNetHdr {
  const l4 = l4Offset(f);
  const tcp = f.proto === 'tcp';
  return {
    flags: 1,
    gsoType: tcp ? (f.v === 4 ? 1 : 4) : 5,
    hdrLen: l4 + (tcp ? 20 + (f.tcpOpts?.length ?? 0) : 8),
    gsoSize,
    csumStart: l4,
    csumOffset: tcp ? 16 : 6,
  };
}

function target(count = 64, stride = 2048): SplitTarget {
  return { bytes: new Uint8Array(count * stride + 16), base: 16, stride, count, lens: new Int32Array(count) };
}

function split(p: Uint8Array, h: VirtioNetHdr, t = target()): Uint8Array[] | number {
  // The packet sits at an offset in a larger buffer, as in a data-plane slot.
  const buf = new Uint8Array(p.length + 30);
  buf.set(p, 10);
  const before = buf.slice();
  const n = gsoSplit(buf, 10, p.length, h, t);
  assert.deepEqual(buf, before, 'the input is not modified');
  if (n < 0) return n;
  return Array.from({ length: n }, (_, i) =>
    t.bytes.slice(t.base + i * t.stride, t.base + i * t.stride + t.lens[i]!),
  );
}

/** What a sender would have put on the wire for each segment. */
function expected(f: Flow, seq: number, id: number, flags: number, payload: Uint8Array, mss: number) {
  const out: Uint8Array[] = [];
  const segs = Math.ceil(payload.length / mss);
  for (let i = 0; i < segs; i++) {
    let fl = flags;
    if (i !== segs - 1) fl &= ~(FIN | PSH);
    if (i !== 0) fl &= ~CWR;
    out.push(
      packet(f, {
        seq: (seq + i * mss) >>> 0,
        id: (id + i) & 0xffff,
        flags: fl,
        payload: payload.subarray(i * mss, (i + 1) * mss),
      }),
    );
  }
  return out;
}

test('virtio_net_hdr: little-endian fields, round trip, short buffers refused', () => {
  const h = { flags: 1, gsoType: 0x81, hdrLen: 0x1234, gsoSize: 1448, csumStart: 20, csumOffset: 16 };
  const b = new Uint8Array(12);
  assert.equal(encodeVirtioNetHdr(b, 2, h), true);
  assert.deepEqual([...b.subarray(2)], [1, 0x81, 0x34, 0x12, 0xa8, 0x05, 20, 0, 16, 0]);
  const d = newVirtioNetHdr();
  assert.equal(decodeVirtioNetHdr(b, 2, d), true);
  assert.deepEqual(d, h);
  assert.equal(decodeVirtioNetHdr(b, 3, d), false);
  assert.equal(encodeVirtioNetHdr(b, 3, h), false);
  assert.equal(decodeVirtioNetHdr(b, -1, d), false);
});

test('TCPv4 with timestamps: odd size, short last segment, ids, sequence numbers, PSH/FIN on the last only', () => {
  const payload = pattern(10_001);
  const mss = 1448;
  const sp = packet(tcp4, { seq: 0xfffff000, id: 0xfffe, flags: ACK | PSH | FIN, payload, csum: 'partial' });
  const segs = split(sp, hdrFor(tcp4, mss));
  assert.ok(Array.isArray(segs));
  assert.equal(segs.length, 7);
  assert.deepEqual(segs, expected(tcp4, 0xfffff000, 0xfffe, ACK | PSH | FIN, payload, mss));
  for (const s of segs) assert.ok(checksumsValid(s));
  assert.equal(segs.at(-1)!.length, 20 + 32 + (10_001 - 6 * mss));
});

test('TCPv4 without DF, and the gso_type ECN bit with CWR on the first segment only', () => {
  const f = { ...tcp4, df: false, tos: 0x02 };
  const payload = pattern(4000, 7);
  const sp = packet(f, { seq: 1, id: 300, flags: ACK | CWR | ECE, payload, csum: 'partial' });
  const h = hdrFor(f, 1000);
  h.gsoType |= 0x80;
  const segs = split(sp, h);
  assert.deepEqual(segs, expected(f, 1, 300, ACK | CWR | ECE, payload, 1000));
  assert.ok(
    Array.isArray(segs) && segs[0]![20 + 13] === (ACK | CWR | ECE) && segs[1]![20 + 13] === (ACK | ECE),
  );
});

test('TCPv6 behind hop-by-hop and destination-options headers, SACK option', () => {
  const payload = pattern(65535 - 40 - 24 - 32, 3); // as large as a super-packet gets
  const mss = 1388;
  const sp = packet(tcp6, { seq: 77, flags: ACK | PSH, payload, csum: 'partial' });
  assert.equal(sp.length, 65535);
  const segs = split(sp, hdrFor(tcp6, mss));
  assert.ok(Array.isArray(segs));
  assert.equal(segs.length, Math.ceil(payload.length / mss));
  assert.deepEqual(segs, expected(tcp6, 77, 0, ACK | PSH, payload, mss));
  for (const s of segs) assert.ok(checksumsValid(s));
});

test('UDP (USO) over IPv4 and IPv6: length and checksum per datagram, last one shorter', () => {
  for (const f of [udp4, udp6]) {
    const payload = pattern(5 * 1200 + 17, 9);
    const sp = packet(f, { id: 10, payload, csum: 'partial' });
    const segs = split(sp, hdrFor(f, 1200));
    assert.ok(Array.isArray(segs), `${f.v}: ${typeof segs === 'number' ? gsoErrorText(segs) : ''}`);
    assert.equal(segs.length, 6);
    const want = Array.from({ length: 6 }, (_, i) =>
      packet(f, { id: 10 + i, payload: payload.subarray(i * 1200, (i + 1) * 1200) }),
    );
    assert.deepEqual(segs, want);
    for (const s of segs) assert.ok(checksumsValid(s));
  }
});

test('a plain packet with NEEDS_CSUM gets its checksum completed in place', () => {
  for (const f of [tcp4, tcp6, udp4, udp6]) {
    const payload = pattern(333, 5);
    const partial = packet(f, { seq: 5, payload, csum: 'partial' });
    const full = packet(f, { seq: 5, payload });
    const h = hdrFor(f, 0);
    h.gsoType = 0;
    const buf = new Uint8Array(partial.length + 4);
    buf.set(partial, 2);
    assert.equal(completeChecksum(buf, 2, partial.length, h), 0);
    assert.deepEqual(buf.subarray(2, 2 + partial.length), full);
    // Without NEEDS_CSUM nothing changes.
    const again = buf.slice();
    assert.equal(completeChecksum(buf, 2, partial.length, { ...h, flags: 2 }), 0);
    assert.deepEqual(buf, again);
  }
  const h = { ...hdrFor(udp4, 0), gsoType: 0 };
  const p = packet(udp4, { payload: pattern(10) });
  assert.equal(completeChecksum(p, 0, p.length, { ...h, csumStart: p.length }), GsoError.BAD_CSUM_START);
  assert.equal(completeChecksum(p, 0, p.length, { ...h, csumOffset: p.length }), GsoError.BAD_CSUM_OFFSET);
  assert.equal(completeChecksum(p, 0, p.length + 1, h), GsoError.TRUNCATED);
});

test('malformed super-packets are refused with a named reason', () => {
  const payload = pattern(3000);
  const good = packet(tcp4, { seq: 1, payload, csum: 'partial' });
  const h = hdrFor(tcp4, 1000);
  const mut = (fn: (p: Uint8Array) => void) => {
    const p = good.slice();
    fn(p);
    return p;
  };
  const cases: [string, Uint8Array, VirtioNetHdr, number][] = [
    ['gso_size 0', good, { ...h, gsoSize: 0 }, GsoError.GSO_SIZE_ZERO],
    ['UFO (gso_type 3)', good, { ...h, gsoType: 3 }, GsoError.BAD_GSO_TYPE],
    ['TCPV6 on an IPv4 packet', good, { ...h, gsoType: 4 }, GsoError.PROTOCOL_MISMATCH],
    ['USO on a TCP packet', good, { ...h, gsoType: 5, csumOffset: 6 }, GsoError.PROTOCOL_MISMATCH],
    ['csum_start inside the IP header', good, { ...h, csumStart: 12 }, GsoError.BAD_CSUM_START],
    ['csum_offset of UDP on TCP', good, { ...h, csumOffset: 6 }, GsoError.BAD_CSUM_OFFSET],
    ['hdr_len beyond the packet', good, { ...h, hdrLen: good.length + 1 }, GsoError.BAD_HDR_LEN],
    ['total length too small', mut((p) => (p[3] = p[3]! - 1)), h, GsoError.IP_LENGTH_MISMATCH],
    ['IHL 4', mut((p) => (p[0] = 0x44)), h, GsoError.BAD_IP_HEADER],
    ['IHL 15 (csum_start then points into options)', mut((p) => (p[0] = 0x4f)), h, GsoError.BAD_CSUM_START],
    ['version 5', mut((p) => (p[0] = 0x55)), h, GsoError.BAD_IP_VERSION],
    ['a fragment (MF)', mut((p) => (p[6] = 0x20)), h, GsoError.FRAGMENT],
    ['TCP data offset 4', mut((p) => (p[32] = 0x40)), h, GsoError.BAD_TCP_HEADER],
    [
      'TCP data offset past the end',
      (() => {
        const p = packet(tcp4, { seq: 1, payload: pattern(10), csum: 'partial' });
        p[32] = 0xf0;
        return p;
      })(),
      h,
      GsoError.TRUNCATED,
    ],
    ['truncated in the IP header', good.subarray(0, 12), h, GsoError.TRUNCATED],
  ];
  for (const [what, p, hh, code] of cases) {
    const r = split(p, hh);
    assert.equal(r, code, `${what}: got ${typeof r === 'number' ? gsoErrorText(r) : 'segments'}`);
    assert.notEqual(gsoErrorText(code), '');
  }
  // Headers only, no payload.
  const empty = packet(tcp4, { seq: 1, payload: new Uint8Array(0), csum: 'partial' });
  assert.equal(split(empty, h), GsoError.NO_PAYLOAD);
  // Output too small: too few slots, a slot too short.
  assert.equal(split(good, h, target(2)), GsoError.TOO_MANY_SEGMENTS);
  assert.equal(split(good, h, target(8, 1000)), GsoError.SEGMENT_TOO_BIG);
  // IPv6: a fragment header, a truncated extension chain, a routing header with segments left.
  const sp6 = packet(tcp6, { seq: 1, payload, csum: 'partial' });
  const h6 = hdrFor(tcp6, 1000);
  const frag = sp6.slice();
  frag[6] = 44;
  assert.equal(split(frag, h6), GsoError.FRAGMENT);
  const cut = sp6.slice(0, 44);
  new DataView(cut.buffer).setUint16(4, 4);
  assert.equal(split(cut, h6), GsoError.BAD_EXTENSION_HEADER);
  const routed = packet({ ...tcp6, ext: [{ type: 43, extra: 0 }] }, { seq: 1, payload, csum: 'partial' });
  routed[43] = 1;
  assert.equal(
    split(routed, hdrFor({ ...tcp6, ext: [{ type: 43, extra: 0 }] }, 1000)),
    GsoError.BAD_EXTENSION_HEADER,
  );
});

test('hdr_len is a hint: a forwarded super-packet may carry the whole first segment in it', () => {
  const payload = pattern(3000);
  const sp = packet(tcp4, { seq: 9, payload, csum: 'partial' });
  const segs = split(sp, { ...hdrFor(tcp4, 1000), hdrLen: 20 + 32 + 1000 });
  assert.deepEqual(segs, expected(tcp4, 9, 0, ACK, payload, 1000));
});

test('fuzz: corrupted and truncated super-packets never throw and never yield a bad segment', () => {
  const rng = new Rng(testSeed());
  const bases = [
    [packet(tcp4, { seq: 1, payload: pattern(5000), csum: 'partial' }), hdrFor(tcp4, 1200)],
    [packet(tcp6, { seq: 1, payload: pattern(5000), csum: 'partial' }), hdrFor(tcp6, 1200)],
    [packet(udp6, { payload: pattern(5000), csum: 'partial' }), hdrFor(udp6, 1200)],
  ] as const;
  let ok = 0;
  for (let k = 0; k < 3000; k++) {
    const [base, h] = rng.pick(bases);
    let p = base.slice();
    const hh = { ...h };
    const edits = 1 + rng.int(3);
    for (let e = 0; e < edits; e++) {
      const what = rng.int(4);
      if (what === 0) p[rng.int(Math.min(p.length, 100))] = rng.int(256);
      else if (what === 1) p = p.subarray(0, rng.int(p.length + 1));
      else if (what === 2) hh.gsoSize = rng.int(3000);
      else hh.csumStart = rng.int(120);
    }
    // The packet is exactly as long as the buffer: any read past it would be undefined bytes.
    const t = target(8, 1600);
    const n = gsoSplit(p, 0, p.length, hh, t);
    if (n < 0) {
      assert.ok(gsoErrorText(n).length > 0);
      continue;
    }
    ok++;
    for (let i = 0; i < n; i++) {
      const s = t.bytes.subarray(t.base + i * t.stride, t.base + i * t.stride + t.lens[i]!);
      assert.ok(t.lens[i]! <= t.stride);
      assert.ok(checksumsValid(s), `seed ${rng.seed} case ${k}: segment ${i} checksum`);
    }
  }
  assert.ok(ok > 0, 'some mutations still split');
});

test('the checksum of the test helper agrees with RFC 1071 section 3 example', () => {
  // RFC 1071 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
  assert.equal(inetSum([Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)]), 0xddf2);
});

test('sumWords agrees with the plain checksum at every alignment and length (the 32-bit path included)', () => {
  const rng = new Rng(testSeed());
  const big = rng.bytes(4096);
  for (let k = 0; k < 400; k++) {
    const base = rng.int(8);
    const view = big.subarray(base, base + 2000 + rng.int(2000));
    const from = 2 * rng.int(200) + (k & 1 ? 0 : rng.int(2) * 2);
    const to = from + rng.int(view.length - from + 1);
    const want = inetSum([view.slice(from, to)], 0x1234);
    assert.equal(
      foldSum(sumWords(view, from, to, 0x1234)),
      want,
      `seed ${rng.seed} base ${base} [${from}, ${to})`,
    );
  }
  // copyBytes: any two arrays, overlapping ranges of one array too.
  const a = Uint8Array.from({ length: 32 }, (_, i) => i);
  const b = new Uint8Array(40);
  copyBytes(a, 4, 20, b, 3);
  assert.deepEqual([...b.subarray(3, 19)], [...a.subarray(4, 20)]);
  copyBytes(a, 0, 16, a, 8);
  assert.deepEqual([...a.subarray(8, 24)], [...Array(16).keys()]);
});
