// IPv4/IPv6 TCP and UDP packets built field by field for the offload tests (segment splitter,
// coalescer, live TUN tests), with their own checksum routine: written independently of
// src/engine/dataplane/gso.ts, so that the two check each other.

/** RFC 1071, the plain way: 16-bit big-endian words, folded at every step. */
export function inetSum(parts: Uint8Array[], initial = 0): number {
  let s = initial;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) {
      s += (p[i]! << 8) + (i + 1 < p.length ? p[i + 1]! : 0);
      s = (s & 0xffff) + (s >>> 16);
    }
  }
  return s;
}

export interface Flow {
  v: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  proto: 'tcp' | 'udp';
  sport: number;
  dport: number;
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number;
  /** TTL / hop limit (default 64). */
  ttl?: number;
  /** IPv4 Don't Fragment (default true). */
  df?: boolean;
  flowLabel?: number;
  /** IPv6 extension headers in order: Next Header values 0 (hop-by-hop), 60, 43, with their size in 8-byte units beyond the first. */
  ext?: { type: 0 | 43 | 60; extra: number }[];
  /** TCP options, a multiple of 4 bytes. */
  tcpOpts?: Uint8Array;
  ack?: number;
  window?: number;
}

export interface Seg {
  payload: Uint8Array;
  seq?: number;
  id?: number;
  /** TCP flags (default ACK). */
  flags?: number;
  /** 'full' (default): a valid checksum; 'partial': the pseudo-header's folded sum (what NEEDS_CSUM carries); 'zero'. */
  csum?: 'full' | 'partial' | 'zero';
}

export const ACK = 0x10;
export const PSH = 0x08;
export const FIN = 0x01;
export const SYN = 0x02;
export const CWR = 0x80;
export const ECE = 0x40;

export function v4(a: string): Uint8Array {
  return Uint8Array.from(a.split('.').map(Number));
}

export function v6(a: string): Uint8Array {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((w) => parseInt(w, 16));
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function extBytes(f: Flow, l4proto: number): Uint8Array {
  const list = f.ext ?? [];
  const out: number[] = [];
  list.forEach((e, i) => {
    const next = i + 1 < list.length ? list[i + 1]!.type : l4proto;
    const size = (e.extra + 1) * 8;
    const h = new Array(size).fill(0);
    h[0] = next;
    h[1] = e.extra;
    if (e.type === 43) {
      h[2] = 4; // routing type; segments left 0
      h[3] = 0;
    } else if (size > 2) {
      h[2] = 1; // PadN covering the rest
      h[3] = size - 4;
    }
    out.push(...h);
  });
  return Uint8Array.from(out);
}

/** One packet of `f`. */
export function packet(f: Flow, s: Seg): Uint8Array {
  const tcp = f.proto === 'tcp';
  const l4proto = tcp ? 6 : 17;
  const opts = f.tcpOpts ?? new Uint8Array(0);
  const l4h = tcp ? 20 + opts.length : 8;
  const l4len = l4h + s.payload.length;
  const ext = f.v === 6 ? extBytes(f, l4proto) : new Uint8Array(0);
  const iph = f.v === 4 ? 20 : 40 + ext.length;
  const p = new Uint8Array(iph + l4len);
  const dv = new DataView(p.buffer);
  if (f.v === 4) {
    p[0] = 0x45;
    p[1] = f.tos ?? 0;
    dv.setUint16(2, p.length);
    dv.setUint16(4, s.id ?? 0);
    dv.setUint16(6, (f.df ?? true) ? 0x4000 : 0);
    p[8] = f.ttl ?? 64;
    p[9] = l4proto;
    p.set(f.src, 12);
    p.set(f.dst, 16);
    dv.setUint16(10, ~inetSum([p.subarray(0, 20)]) & 0xffff);
  } else {
    dv.setUint32(0, (6 << 28) | ((f.tos ?? 0) << 20) | (f.flowLabel ?? 0));
    dv.setUint16(4, p.length - 40);
    p[6] = f.ext?.length ? f.ext[0]!.type : l4proto;
    p[7] = f.ttl ?? 64;
    p.set(f.src, 8);
    p.set(f.dst, 24);
    p.set(ext, 40);
  }
  const t = iph;
  dv.setUint16(t, f.sport);
  dv.setUint16(t + 2, f.dport);
  if (tcp) {
    dv.setUint32(t + 4, (s.seq ?? 0) >>> 0);
    dv.setUint32(t + 8, (f.ack ?? 1) >>> 0);
    p[t + 12] = (l4h / 4) << 4;
    p[t + 13] = s.flags ?? ACK;
    dv.setUint16(t + 14, f.window ?? 512);
    p.set(opts, t + 20);
  } else dv.setUint16(t + 4, l4len);
  p.set(s.payload, t + l4h);
  const pseudo = inetSum([f.src, f.dst], l4proto + l4len);
  const at = t + (tcp ? 16 : 6);
  const mode = s.csum ?? 'full';
  if (mode === 'partial') dv.setUint16(at, pseudo);
  else if (mode === 'full') {
    const c = ~inetSum([p.subarray(t)], pseudo) & 0xffff;
    dv.setUint16(at, c === 0 && !tcp ? 0xffff : c);
  }
  return p;
}

/** Offset of the transport header in a packet of `f`. */
export function l4Offset(f: Flow): number {
  return f.v === 4 ? 20 : 40 + (f.ext ?? []).reduce((n, e) => n + (e.extra + 1) * 8, 0);
}

/** Whether a packet's IPv4 header checksum and transport checksum verify (by inetSum). */
export function checksumsValid(p: Uint8Array): boolean {
  const v = p[0]! >> 4;
  let t: number;
  let proto: number;
  let pseudoAddr: Uint8Array[];
  if (v === 4) {
    if (inetSum([p.subarray(0, 20)]) !== 0xffff) return false;
    t = (p[0]! & 15) * 4;
    proto = p[9]!;
    pseudoAddr = [p.subarray(12, 20)];
  } else {
    let nh = p[6]!;
    t = 40;
    while (nh === 0 || nh === 43 || nh === 60) {
      const next = p[t]!;
      t += (p[t + 1]! + 1) * 8;
      nh = next;
    }
    proto = nh;
    pseudoAddr = [p.subarray(8, 40)];
  }
  return inetSum([p.subarray(t)], inetSum(pseudoAddr, proto + p.length - t)) === 0xffff;
}

/** A deterministic payload of `n` bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The 10-byte virtio_net_hdr (little-endian). */
export function vnetHdr(h: {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}): Uint8Array {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  b[0] = h.flags;
  b[1] = h.gsoType;
  dv.setUint16(2, h.hdrLen, true);
  dv.setUint16(4, h.gsoSize, true);
  dv.setUint16(6, h.csumStart, true);
  dv.setUint16(8, h.csumOffset, true);
  return b;
}
