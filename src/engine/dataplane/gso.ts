// TUN offload, transmit side: the virtio_net_hdr that precedes every packet on a TUN opened
// with IFF_VNET_HDR, and the splitter that turns a TCP or UDP super-packet of up to 64 KiB
// (what the kernel hands over once TSO/USO are enabled with TUNSETOFFLOAD) into segments of
// at most `gso_size` payload bytes each, as the kernel's own software GSO would (tcp_gso_segment
// in net/ipv4/tcp_offload.c, __udp_gso_segment in net/ipv4/udp_offload.c).
//
// Pure and allocation-free: packets are read from and written to caller-owned byte arrays at
// given offsets; malformed input is refused with a negative GsoError code (gsoErrorText names
// it), never by a throw or a read outside [off, off + len).
//
// The header (include/uapi/linux/virtio_net.h, struct virtio_net_hdr, 10 bytes) is in the
// TUN's byte order, which is the host's unless TUNSETVNETLE/BE says otherwise; only
// little-endian hosts are supported here (x86-64, AArch64), as everywhere in src/sys.
//
//   u8 flags        NEEDS_CSUM: complete the checksum at csum_start + csum_offset
//   u8 gso_type     NONE, TCPV4, TCPV6, UDP_L4 (USO), | ECN
//   u16 hdr_len     bytes of headers (for TUN reads only a hint: see gsoSplit)
//   u16 gso_size    payload bytes per segment
//   u16 csum_start  where the checksummed range starts (the transport header)
//   u16 csum_offset where the checksum field is, from csum_start (16 for TCP, 6 for UDP)

export const VIRTIO_NET_HDR_LEN = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** Largest packet handled (an IPv4 total length, an IPv6 payload length bound). */
export const MAX_SUPER_PACKET = 65535;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export interface VirtioNetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function newVirtioNetHdr(): VirtioNetHdr {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Reads the header at `off` into `h`; false (h untouched) when fewer than 10 bytes remain. */
export function decodeVirtioNetHdr(b: Uint8Array, off: number, h: VirtioNetHdr): boolean {
  if (off < 0 || off + VIRTIO_NET_HDR_LEN > b.length) return false;
  h.flags = b[off]!;
  h.gsoType = b[off + 1]!;
  h.hdrLen = b[off + 2]! | (b[off + 3]! << 8);
  h.gsoSize = b[off + 4]! | (b[off + 5]! << 8);
  h.csumStart = b[off + 6]! | (b[off + 7]! << 8);
  h.csumOffset = b[off + 8]! | (b[off + 9]! << 8);
  return true;
}

/** Writes `h` at `off` (10 bytes); false when they do not fit. */
export function encodeVirtioNetHdr(b: Uint8Array, off: number, h: VirtioNetHdr): boolean {
  if (off < 0 || off + VIRTIO_NET_HDR_LEN > b.length) return false;
  b[off] = h.flags;
  b[off + 1] = h.gsoType;
  put16le(b, off + 2, h.hdrLen);
  put16le(b, off + 4, h.gsoSize);
  put16le(b, off + 6, h.csumStart);
  put16le(b, off + 8, h.csumOffset);
  return true;
}

/** Writes an all-zero header: a plain packet, checksums complete. */
export function clearVirtioNetHdr(b: Uint8Array, off: number): void {
  b.fill(0, off, off + VIRTIO_NET_HDR_LEN);
}

function put16le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

export function get16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function get32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

// ---- The Internet checksum (RFC 1071) ----

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let wordsBuf: ArrayBufferLike | undefined;
let wordsView: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** A Uint32Array over all of b's buffer (the last one is kept: no allocation per call). */
function words32(b: Uint8Array): Uint32Array {
  if (b.buffer !== wordsBuf) {
    wordsBuf = b.buffer;
    wordsView = new Uint32Array(b.buffer, 0, b.buffer.byteLength >>> 2);
  }
  return wordsView;
}

/**
 * Adds the 16-bit big-endian words of b[from, to) to `sum` without folding (an odd last byte
 * is padded with zero). `from` must be at an even distance from the start of the checksummed
 * range. Exact in a double for any packet here (at most 2^16 words of at most 2^16).
 *
 * Long ranges at an even address are summed 32 bits at a time as little-endian words, whose
 * folded sum is the big-endian one with its bytes swapped (RFC 1071 2(B)): a third of the time
 * of byte pairs.
 */
export function sumWords(b: Uint8Array, from: number, to: number, sum = 0): number {
  let s = sum;
  let i = from;
  if (LITTLE_ENDIAN && to - from >= 64 && ((b.byteOffset + from) & 1) === 0) {
    if (((b.byteOffset + i) & 2) !== 0) {
      s += (b[i]! << 8) | b[i + 1]!;
      i += 2;
    }
    const u = words32(b);
    const w0 = (b.byteOffset + i) >>> 2;
    const w1 = w0 + ((to - i) >>> 2);
    let le = 0;
    for (let w = w0; w < w1; w++) {
      const x = u[w]!;
      le += (x & 0xffff) + (x >>> 16);
    }
    le = foldSum(le);
    s += ((le & 0xff) << 8) | (le >>> 8);
    i += (w1 - w0) * 4;
  }
  const end4 = to - ((to - i) & 3);
  for (; i < end4; i += 4) s += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!);
  if (i + 1 < to) {
    s += (b[i]! << 8) | b[i + 1]!;
    i += 2;
  }
  if (i < to) s += b[i]! << 8;
  return s;
}

// Buffer views of the last two source arrays, so copies go through Buffer#copy (memmove)
// without a subarray per segment.
let srcA: Uint8Array | undefined;
let bufA: Buffer | undefined;
let srcB: Uint8Array | undefined;
let bufB: Buffer | undefined;

function asBuffer(b: Uint8Array): Buffer {
  if (b === srcA) return bufA!;
  if (b === srcB) return bufB!;
  srcB = srcA;
  bufB = bufA;
  srcA = b;
  bufA = Buffer.from(b.buffer, b.byteOffset, b.length);
  return bufA;
}

/** Copies src[from, to) to dst at `at` (the ranges may overlap), allocating nothing. */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  asBuffer(src).copy(dst, at, from, to);
}

/** Folds an unfolded sum to 16 bits (end-around carry). */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The pseudo-header's unfolded sum (RFC 793 3.1, RFC 8200 8.1): addresses, protocol, length. */
export function pseudoSum(
  b: Uint8Array,
  addrOff: number,
  addrLen: number,
  proto: number,
  l4Len: number,
): number {
  return sumWords(b, addrOff, addrOff + 2 * addrLen, proto + l4Len);
}

// ---- IP header walking ----

/** What `parseIp` learned about a packet (a reusable record: no allocation per packet). */
export interface IpInfo {
  version: 4 | 6;
  /** Offset of the transport header from the start of the IP header (IPv6: after extensions). */
  l4Off: number;
  /** The transport protocol (IPv6: the last Next Header). */
  proto: number;
  /** Offset of the source address; the destination follows it. */
  addrOff: number;
  addrLen: 4 | 16;
}

export function newIpInfo(): IpInfo {
  return { version: 4, l4Off: 0, proto: 0, addrOff: 0, addrLen: 4 };
}

const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_DEST_OPTS = 60;

/** Refusals, each with a text (gsoErrorText). */
export const GsoError = {
  TRUNCATED: -1,
  BAD_IP_VERSION: -2,
  BAD_IP_HEADER: -3,
  IP_LENGTH_MISMATCH: -4,
  FRAGMENT: -5,
  BAD_EXTENSION_HEADER: -6,
  PROTOCOL_MISMATCH: -7,
  BAD_GSO_TYPE: -8,
  GSO_SIZE_ZERO: -9,
  BAD_CSUM_START: -10,
  BAD_CSUM_OFFSET: -11,
  BAD_HDR_LEN: -12,
  BAD_TCP_HEADER: -13,
  NO_PAYLOAD: -14,
  TOO_MANY_SEGMENTS: -15,
  SEGMENT_TOO_BIG: -16,
  TOO_BIG: -17,
} as const;

const ERROR_TEXT: Record<number, string> = {
  [-1]: 'packet shorter than its headers',
  [-2]: 'IP version is neither 4 nor 6',
  [-3]: 'bad IP header length',
  [-4]: 'IP length field does not match the packet length',
  [-5]: 'IP fragment (never segmented or merged)',
  [-6]: 'unsupported or truncated IPv6 extension header',
  [-7]: 'transport protocol does not match the virtio gso_type',
  [-8]: 'unsupported virtio gso_type',
  [-9]: 'virtio gso_size is 0',
  [-10]: 'virtio csum_start is not the transport header offset',
  [-11]: 'virtio csum_offset does not point at the transport checksum',
  [-12]: 'virtio hdr_len beyond the packet',
  [-13]: 'bad TCP data offset',
  [-14]: 'super-packet without payload',
  [-15]: 'more segments than output slots',
  [-16]: 'segment larger than an output slot',
  [-17]: 'packet larger than 65535 bytes',
};

/** What a negative result of this module means. */
export function gsoErrorText(code: number): string {
  return ERROR_TEXT[code] ?? `unknown error ${code}`;
}

/**
 * Reads the IP header(s) of b[off, off + len) into `info`, checking version, header and length
 * fields and refusing fragments. IPv6 hop-by-hop, routing and destination-options headers are
 * skipped to find the transport header. Returns 0 or a negative GsoError.
 */
export function parseIp(b: Uint8Array, off: number, len: number, info: IpInfo): number {
  if (off < 0 || len < 1 || off + len > b.length) return GsoError.TRUNCATED;
  if (len > MAX_SUPER_PACKET + 40) return GsoError.TOO_BIG;
  const v = b[off]! >> 4;
  if (v === 4) {
    if (len < 20) return GsoError.TRUNCATED;
    const ihl = (b[off]! & 0x0f) * 4;
    if (ihl < 20 || ihl > len) return GsoError.BAD_IP_HEADER;
    if (get16(b, off + 2) !== len) return GsoError.IP_LENGTH_MISMATCH;
    if ((get16(b, off + 6) & 0x3fff) !== 0) return GsoError.FRAGMENT; // MF or an offset
    info.version = 4;
    info.l4Off = ihl;
    info.proto = b[off + 9]!;
    info.addrOff = 12;
    info.addrLen = 4;
    return 0;
  }
  if (v !== 6) return GsoError.BAD_IP_VERSION;
  if (len < 40) return GsoError.TRUNCATED;
  if (get16(b, off + 4) + 40 !== len) return GsoError.IP_LENGTH_MISMATCH;
  let nh = b[off + 6]!;
  let at = 40;
  for (;;) {
    if (nh === NH_FRAGMENT) return GsoError.FRAGMENT;
    if (nh !== NH_HOP_BY_HOP && nh !== NH_DEST_OPTS && nh !== NH_ROUTING) break;
    if (at + 8 > len) return GsoError.BAD_EXTENSION_HEADER;
    // A routing header with segments left changes the pseudo-header's destination (RFC 8200
    // 8.1); the kernel never segments such packets for a TUN, and neither does this.
    if (nh === NH_ROUTING && b[off + at + 3] !== 0) return GsoError.BAD_EXTENSION_HEADER;
    const next = b[off + at]!;
    at += (b[off + at + 1]! + 1) * 8;
    nh = next;
  }
  if (at > len) return GsoError.BAD_EXTENSION_HEADER;
  info.version = 6;
  info.l4Off = at;
  info.proto = nh;
  info.addrOff = 8;
  info.addrLen = 16;
  return 0;
}

// ---- The splitter ----

const info = newIpInfo();

/** Where `gsoSplit` writes: segment i at `base + i * stride`, at most `stride` bytes each. */
export interface SplitTarget {
  bytes: Uint8Array;
  base: number;
  stride: number;
  count: number;
  /** Receives each segment's length. */
  lens: Int32Array;
}

/**
 * Splits the super-packet b[off, off + len), described by `h` (gso_type TCPV4, TCPV6 or
 * UDP_L4), into segments in `out`: the IP header (and IPv6 extension headers) and transport
 * header copied, then `gso_size` payload bytes (the last segment may carry fewer). Per segment:
 * IPv4 total length, identification (the first segment's plus i) and header checksum; IPv6
 * payload length; TCP sequence number advanced, FIN and PSH only on the last segment and CWR
 * only on the first (as tcp_gso_segment); UDP length; the transport checksum computed over the
 * pseudo-header (a UDP result of 0 sent as 0xffff, RFC 768). The input is not modified.
 *
 * hdr_len is only checked to lie within the packet: the kernel fills it with the length of the
 * skb's linear part (virtio_net_hdr_from_skb), which for a forwarded packet can be the whole
 * first segment, so the real header length is taken from the transport header, as wireguard-go
 * does (tun/tun_linux.go, handleVirtioRead).
 *
 * Returns the segment count, or a negative GsoError.
 */
export function gsoSplit(b: Uint8Array, off: number, len: number, h: VirtioNetHdr, out: SplitTarget): number {
  const type = h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  const tcp = type === VIRTIO_NET_HDR_GSO_TCPV4 || type === VIRTIO_NET_HDR_GSO_TCPV6;
  if (!tcp && type !== VIRTIO_NET_HDR_GSO_UDP_L4) return GsoError.BAD_GSO_TYPE;
  if (h.gsoSize === 0) return GsoError.GSO_SIZE_ZERO;
  const r = parseIp(b, off, len, info);
  if (r < 0) return r;
  if (len > MAX_SUPER_PACKET) return GsoError.TOO_BIG;
  if (type === VIRTIO_NET_HDR_GSO_TCPV4 && info.version !== 4) return GsoError.PROTOCOL_MISMATCH;
  if (type === VIRTIO_NET_HDR_GSO_TCPV6 && info.version !== 6) return GsoError.PROTOCOL_MISMATCH;
  if (info.proto !== (tcp ? IPPROTO_TCP : IPPROTO_UDP)) return GsoError.PROTOCOL_MISMATCH;
  if (h.csumStart !== info.l4Off) return GsoError.BAD_CSUM_START;
  if (h.csumOffset !== (tcp ? 16 : 6)) return GsoError.BAD_CSUM_OFFSET;
  if (h.hdrLen > len) return GsoError.BAD_HDR_LEN;
  const l4 = info.l4Off;
  let l4Hdr = 8;
  if (tcp) {
    if (l4 + 20 > len) return GsoError.TRUNCATED;
    l4Hdr = (b[off + l4 + 12]! >> 4) * 4;
    if (l4Hdr < 20) return GsoError.BAD_TCP_HEADER;
  }
  const hdrs = l4 + l4Hdr;
  if (hdrs > len) return GsoError.TRUNCATED;
  const payload = len - hdrs;
  if (payload === 0) return GsoError.NO_PAYLOAD;
  const segs = Math.ceil(payload / h.gsoSize);
  if (segs > out.count) return GsoError.TOO_MANY_SEGMENTS;
  if (hdrs + Math.min(h.gsoSize, payload) > out.stride) return GsoError.SEGMENT_TOO_BIG;
  const o = out.bytes;
  if (out.base < 0 || out.base + (segs - 1) * out.stride + hdrs + Math.min(h.gsoSize, payload) > o.length)
    return GsoError.SEGMENT_TOO_BIG;

  const v4 = info.version === 4;
  const proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  const addrOff = info.addrOff;
  const addrLen = info.addrLen;
  const addrSum = sumWords(b, off + addrOff, off + addrOff + 2 * addrLen, proto);
  const id0 = v4 ? get16(b, off + 4) : 0;
  const seq0 = tcp ? get32(b, off + l4 + 4) : 0;
  const flags0 = tcp ? b[off + l4 + 13]! : 0;
  let at = off + hdrs;
  const end = off + len;
  for (let i = 0; i < segs; i++) {
    const s = out.base + i * out.stride;
    const n = Math.min(h.gsoSize, end - at);
    const segLen = hdrs + n;
    copyBytes(b, off, off + hdrs, o, s);
    copyBytes(b, at, at + n, o, s + hdrs);
    if (v4) {
      put16(o, s + 2, segLen);
      put16(o, s + 4, (id0 + i) & 0xffff);
      put16(o, s + 10, 0);
      put16(o, s + 10, ~foldSum(sumWords(o, s, s + l4)) & 0xffff);
    } else {
      put16(o, s + 4, segLen - 40);
    }
    const t = s + l4;
    if (tcp) {
      put32(o, t + 4, (seq0 + i * h.gsoSize) >>> 0);
      let fl = flags0;
      if (i !== segs - 1) fl &= ~(TCP_FIN | TCP_PSH);
      if (i !== 0) fl &= ~TCP_CWR;
      o[t + 13] = fl;
      put16(o, t + 16, 0);
      put16(o, t + 16, ~foldSum(sumWords(o, t, s + segLen, addrSum + segLen - l4)) & 0xffff);
    } else {
      put16(o, t + 4, segLen - l4);
      put16(o, t + 6, 0);
      const c = ~foldSum(sumWords(o, t, s + segLen, addrSum + segLen - l4)) & 0xffff;
      put16(o, t + 6, c === 0 ? 0xffff : c);
    }
    out.lens[i] = segLen;
    at += n;
  }
  return segs;
}

/**
 * Completes the checksum of a plain (gso_type NONE) packet in place when the header asks
 * (NEEDS_CSUM): the field at csum_start + csum_offset holds the pseudo-header's partial sum,
 * and receives the complement of the sum from csum_start to the end (skb_checksum_help: a
 * result of 0 is sent as 0xffff). Returns 0, or a negative GsoError for offsets outside the
 * packet.
 */
export function completeChecksum(b: Uint8Array, off: number, len: number, h: VirtioNetHdr): number {
  if (off < 0 || len < 1 || off + len > b.length) return GsoError.TRUNCATED;
  if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0) return 0;
  if ((h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) return GsoError.BAD_GSO_TYPE;
  if (h.csumStart >= len) return GsoError.BAD_CSUM_START;
  if ((h.csumOffset & 1) !== 0 || h.csumStart + h.csumOffset + 2 > len) return GsoError.BAD_CSUM_OFFSET;
  const at = off + h.csumStart + h.csumOffset;
  const c = ~foldSum(sumWords(b, off + h.csumStart, off + len)) & 0xffff;
  put16(b, at, c === 0 ? 0xffff : c);
  return 0;
}
