// TUN offload, receive side (GRO): merges the decrypted IP packets of one batch that belong to
// one TCP or UDP flow into super-packets, each written with a virtio_net_hdr (gso.ts) that a
// TUN with TUNSETOFFLOAD accepts, so the kernel takes one 64 KiB packet instead of forty-odd.
//
// The rules are Linux's GRO (tcp_gro_receive in net/ipv4/tcp_offload.c, inet_gro_receive in
// net/ipv4/af_inet.c, ipv6_gro_receive in net/ipv6/ip6_offload.c) as wireguard-go applies them
// (tun/offload_linux.go, tcpGRO and udpGRO), made strict enough that splitting a merged packet
// (gsoSplit) gives back exactly the packets that went in:
//   - IPv4 without options and not a fragment, or IPv6 with TCP/UDP as first Next Header; the
//     length fields match the packet; at most 65535 bytes merged;
//   - same addresses and ports; IPv4: same TOS, TTL and DF, identifications consecutive;
//     IPv6: same first word (traffic class, flow label) and hop limit;
//   - TCP: same header apart from sequence number, checksum and flags (ack, window, options
//     compared byte for byte); flags ACK (ECE allowed if all have it), CWR only on the first,
//     PSH only on the last; each sequence number follows the previous payload;
//   - payloads of the first's size, the last may be shorter; nothing after a short one or PSH;
//   - each packet's checksums (IPv4 header, transport) verified before it is merged (the merged
//     packet gets new ones: the kernel would no longer see a bad one).
// A flow only ever appends to its latest super-packet, and any packet of the same addresses
// that is not merged closes it, so the order of a flow's packets never changes. Everything
// else passes through unchanged, with an all-zero virtio header.

import {
  clearVirtioNetHdr,
  copyBytes,
  foldSum,
  get16,
  get32,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAX_SUPER_PACKET,
  pseudoSum,
  put16,
  sumWords,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_PSH,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_LEN,
} from './gso.js';

const KIND_PASS = 0;
const KIND_TCP = 1;
const KIND_UDP = 2;
const TABLE_BITS = 10;

/**
 * Merges batches of up to `maxPackets` packets. Reusable and allocation-free per call: every
 * array is sized once here.
 */
export class Coalescer {
  readonly maxPackets: number;
  /** Whether UDP datagrams are merged too (the TUN accepts USO: TUN_F_USO4 | TUN_F_USO6). */
  udp: boolean;
  /** Per output k (after `coalesce`): offset of its virtio header in `out`, and its length. */
  readonly outOffs: Int32Array;
  readonly outLens: Int32Array;
  // Per packet.
  private readonly kind: Uint8Array;
  private readonly l4: Uint16Array;
  private readonly l4Hdr: Uint16Array;
  private readonly next: Int32Array;
  // Per item (an output: a packet alone, or a super-packet being built).
  private readonly head: Int32Array;
  private readonly last: Int32Array;
  private readonly members: Int32Array;
  private readonly total: Int32Array;
  private readonly gsoSize: Int32Array;
  private readonly nextSeq: Float64Array;
  private readonly closed: Uint8Array;
  private readonly headChecked: Uint8Array;
  private items = 0;
  // Flow table: open item per flow, valid while its stamp is this call's.
  private readonly slotItem: Int32Array;
  private readonly slotStamp: Uint32Array;
  private stamp = 0;

  constructor(maxPackets: number, opts: { udp?: boolean } = {}) {
    if (!(Number.isInteger(maxPackets) && maxPackets >= 1 && maxPackets <= 1 << (TABLE_BITS - 1)))
      throw new RangeError(`bad batch size ${maxPackets}`);
    this.maxPackets = maxPackets;
    this.udp = opts.udp ?? false;
    const n = maxPackets;
    this.outOffs = new Int32Array(n);
    this.outLens = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.l4 = new Uint16Array(n);
    this.l4Hdr = new Uint16Array(n);
    this.next = new Int32Array(n);
    this.head = new Int32Array(n);
    this.last = new Int32Array(n);
    this.members = new Int32Array(n);
    this.total = new Int32Array(n);
    this.gsoSize = new Int32Array(n);
    this.nextSeq = new Float64Array(n);
    this.closed = new Uint8Array(n);
    this.headChecked = new Uint8Array(n);
    this.slotItem = new Int32Array(1 << TABLE_BITS);
    this.slotStamp = new Uint32Array(1 << TABLE_BITS);
  }

  /**
   * Merges packets i < n, each at src[offs[i], offs[i] + lens[i]), and writes the results into
   * `out` from `outBase` on, one after the other, each a 10-byte virtio header then the packet:
   * output k at outOffs[k], outLens[k] bytes (header included). `out` needs room for the sum
   * of the lengths plus 10 bytes per packet (merging only removes bytes). Returns the number
   * of outputs. Throws RangeError only for arguments out of bounds (a caller's bug).
   */
  coalesce(
    src: Uint8Array,
    offs: ArrayLike<number>,
    lens: ArrayLike<number>,
    n: number,
    out: Uint8Array,
    outBase: number,
  ): number {
    if (!(n >= 0 && n <= this.maxPackets)) throw new RangeError(`batch of ${n} > ${this.maxPackets}`);
    let need = 0;
    for (let i = 0; i < n; i++) {
      const o = offs[i]!;
      const l = lens[i]!;
      if (!(o >= 0 && l >= 0 && o + l <= src.length)) throw new RangeError(`packet ${i} outside the source`);
      need += l + VIRTIO_NET_HDR_LEN;
    }
    if (outBase < 0 || outBase + need > out.length) throw new RangeError('output area too small');
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.slotStamp.fill(0);
      this.stamp = 1;
    }
    this.items = 0;
    for (let i = 0; i < n; i++) this.place(src, offs[i]!, lens[i]!, i, offs);
    return this.write(src, offs, lens, out, outBase);
  }

  /** Classifies packet i and appends it to its flow's open item or starts an item. */
  private place(b: Uint8Array, off: number, len: number, i: number, offs: ArrayLike<number>): void {
    this.next[i] = -1;
    const kind = this.classify(b, off, len, i);
    if (kind === KIND_PASS) {
      this.closeSameAddresses(b, off, len, offs);
      this.newItem(b, off, i, len, false);
      return;
    }
    const slot = this.findSlot(b, off, i, offs);
    if (this.slotStamp[slot] === this.stamp) {
      const it = this.slotItem[slot]!;
      const r = this.tryAppend(b, off, len, i, it, offs);
      if (r === 1) return;
      if (r === -1) {
        // A bad checksum: never merged, and nothing of its flow may pass it.
        this.slotItem[slot] = this.newItem(b, off, i, len, false);
        return;
      }
    }
    this.slotStamp[slot] = this.stamp;
    this.slotItem[slot] = this.newItem(b, off, i, len, true);
  }

  private newItem(b: Uint8Array, off: number, i: number, len: number, open: boolean): number {
    const it = this.items++;
    this.head[it] = i;
    this.last[it] = i;
    this.members[it] = 1;
    this.total[it] = len;
    this.closed[it] = open ? 0 : 1;
    this.headChecked[it] = 0;
    if (open) {
      const payload = len - this.l4[i]! - this.l4Hdr[i]!;
      this.gsoSize[it] = payload;
      this.nextSeq[it] = 0;
      // PSH ends a merged packet, so nothing may follow a head that has it.
      if (this.kind[i] === KIND_TCP && (b[off + this.l4[i]! + 13]! & TCP_PSH) !== 0) this.closed[it] = 1;
    }
    return it;
  }

  /** KIND_TCP / KIND_UDP for a packet that may be merged (recording its header sizes), else KIND_PASS. */
  private classify(b: Uint8Array, off: number, len: number, i: number): number {
    this.kind[i] = KIND_PASS;
    if (len < 28 || len > MAX_SUPER_PACKET) return KIND_PASS;
    const v = b[off]! >> 4;
    let l4: number;
    let proto: number;
    if (v === 4) {
      if (b[off] !== 0x45 || get16(b, off + 2) !== len) return KIND_PASS;
      if ((get16(b, off + 6) & 0x3fff) !== 0) return KIND_PASS; // MF or a fragment offset
      l4 = 20;
      proto = b[off + 9]!;
    } else if (v === 6) {
      if (len < 48 || get16(b, off + 4) + 40 !== len) return KIND_PASS;
      l4 = 40;
      proto = b[off + 6]!;
    } else return KIND_PASS;
    let hdr: number;
    if (proto === IPPROTO_TCP) {
      if (l4 + 20 > len) return KIND_PASS;
      hdr = (b[off + l4 + 12]! >> 4) * 4;
      if (hdr < 20 || l4 + hdr >= len) return KIND_PASS; // no payload: nothing to merge
      const fl = b[off + l4 + 13]! & ~(TCP_PSH | TCP_CWR);
      if (fl !== TCP_ACK && fl !== (TCP_ACK | TCP_ECE)) return KIND_PASS;
    } else if (proto === IPPROTO_UDP && this.udp) {
      hdr = 8;
      if (l4 + hdr >= len || get16(b, off + l4 + 4) !== len - l4) return KIND_PASS;
      if (v === 4 && get16(b, off + l4 + 6) === 0) return KIND_PASS; // no checksum to keep
    } else return KIND_PASS;
    this.l4[i] = l4;
    this.l4Hdr[i] = hdr;
    this.kind[i] = proto === IPPROTO_TCP ? KIND_TCP : KIND_UDP;
    return this.kind[i]!;
  }

  /** The flow table slot of packet i's flow (addresses, protocol, ports): linear probing. */
  private findSlot(b: Uint8Array, off: number, i: number, offs: ArrayLike<number>): number {
    const v4 = b[off]! >> 4 === 4;
    const a = off + (v4 ? 12 : 8);
    const alen = v4 ? 8 : 32;
    const p = off + this.l4[i]!;
    let h = 0x811c9dc5 ^ this.kind[i]!;
    for (let k = 0; k < alen; k++) h = Math.imul(h ^ b[a + k]!, 0x01000193);
    for (let k = 0; k < 4; k++) h = Math.imul(h ^ b[p + k]!, 0x01000193);
    const mask = (1 << TABLE_BITS) - 1;
    let slot = (h ^ (h >>> 16)) & mask;
    for (;;) {
      if (this.slotStamp[slot] !== this.stamp) return slot;
      const j = this.head[this.slotItem[slot]!]!;
      if (this.sameFlow(b, off, i, offs[j]!, j)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private sameFlow(b: Uint8Array, off: number, i: number, offJ: number, j: number): boolean {
    if (this.kind[j] !== this.kind[i] || b[off]! >> 4 !== b[offJ]! >> 4) return false;
    const v4 = b[off]! >> 4 === 4;
    const a = v4 ? 12 : 8;
    const alen = v4 ? 8 : 32;
    for (let k = 0; k < alen; k++) if (b[off + a + k] !== b[offJ + a + k]) return false;
    const p = off + this.l4[i]!;
    const q = offJ + this.l4[j]!;
    for (let k = 0; k < 4; k++) if (b[p + k] !== b[q + k]) return false;
    return true;
  }

  /** Closes every open item whose addresses are packet (off, len)'s: it passes unmerged. */
  private closeSameAddresses(b: Uint8Array, off: number, len: number, offs: ArrayLike<number>): void {
    const v = len >= 1 ? b[off]! >> 4 : 0;
    if (!((v === 4 && len >= 20) || (v === 6 && len >= 40))) return;
    const a = v === 4 ? 12 : 8;
    const alen = v === 4 ? 8 : 32;
    for (let it = 0; it < this.items; it++) {
      if (this.closed[it]) continue;
      const o = offs[this.head[it]!]!;
      if (b[o]! >> 4 !== v) continue;
      let same = true;
      for (let k = 0; k < alen && same; k++) same = b[off + a + k] === b[o + a + k];
      if (same) this.closed[it] = 1;
    }
  }

  /** 1: merged; 0: does not fit (start an item); -1: packet i's checksum is bad. */
  private tryAppend(
    b: Uint8Array,
    off: number,
    len: number,
    i: number,
    it: number,
    offs: ArrayLike<number>,
  ): number {
    if (this.closed[it]) return 0;
    const h = this.head[it]!;
    const ho = offs[h]!;
    const l4 = this.l4[i]!;
    const hdr = this.l4Hdr[i]!;
    const payload = len - l4 - hdr;
    const gso = this.gsoSize[it]!;
    if (payload > gso || this.total[it]! + payload > MAX_SUPER_PACKET) return 0;
    if (this.l4[h] !== l4 || this.l4Hdr[h] !== hdr) return 0;
    // IP headers.
    if (l4 === 20) {
      if (b[off + 1] !== b[ho + 1] || b[off + 8] !== b[ho + 8]) return 0; // TOS, TTL
      if ((b[off + 6]! & 0x40) !== (b[ho + 6]! & 0x40)) return 0; // DF
      if (get16(b, off + 4) !== ((get16(b, ho + 4) + this.members[it]!) & 0xffff)) return 0;
    } else {
      for (let k = 0; k < 4; k++) if (b[off + k] !== b[ho + k]) return 0;
      if (b[off + 7] !== b[ho + 7]) return 0; // hop limit
    }
    const t = off + l4;
    const ht = ho + l4;
    if (this.kind[i] === KIND_TCP) {
      // Ack, data offset, window, urgent pointer and options as the head's; flags as the
      // head's apart from PSH and CWR, and no CWR after the first.
      for (let k = 8; k < hdr; k++) {
        if (k === 13 || k === 16 || k === 17) continue;
        if (b[t + k] !== b[ht + k]) return 0;
      }
      if ((b[t + 13]! & ~TCP_PSH) !== (b[ht + 13]! & ~(TCP_PSH | TCP_CWR))) return 0;
      const seq = get32(b, t + 4);
      const expect = this.members[it] === 1 ? (get32(b, ht + 4) + gso) >>> 0 : this.nextSeq[it]!;
      if (seq !== expect) return 0;
    }
    if (!this.headChecked[it]) {
      if (!checksumOk(b, ho, this.total[it]!, this.l4[h]!, this.kind[h] === KIND_TCP)) {
        this.closed[it] = 1;
        return 0;
      }
      this.headChecked[it] = 1;
    }
    if (!checksumOk(b, off, len, l4, this.kind[i] === KIND_TCP)) return -1;
    this.next[this.last[it]!] = i;
    this.last[it] = i;
    this.members[it]!++;
    this.total[it]! += payload;
    if (this.kind[i] === KIND_TCP) {
      this.nextSeq[it] = (get32(b, t + 4) + payload) >>> 0;
      if (b[t + 13]! & TCP_PSH) this.closed[it] = 1;
    }
    if (payload < gso) this.closed[it] = 1;
    return 1;
  }

  /** Lays the items out in `out`; returns their count. */
  private write(
    src: Uint8Array,
    offs: ArrayLike<number>,
    lens: ArrayLike<number>,
    out: Uint8Array,
    base: number,
  ): number {
    let at = base;
    for (let it = 0; it < this.items; it++) {
      const h = this.head[it]!;
      const ho = offs[h]!;
      this.outOffs[it] = at;
      const p = at + VIRTIO_NET_HDR_LEN;
      if (this.members[it] === 1) {
        clearVirtioNetHdr(out, at);
        copyBytes(src, ho, ho + lens[h]!, out, p);
        this.outLens[it] = VIRTIO_NET_HDR_LEN + lens[h]!;
        at += this.outLens[it]!;
        continue;
      }
      const l4 = this.l4[h]!;
      const hdrs = l4 + this.l4Hdr[h]!;
      const tcp = this.kind[h] === KIND_TCP;
      const total = this.total[it]!;
      copyBytes(src, ho, ho + lens[h]!, out, p);
      let w = p + lens[h]!;
      let lastFlags = 0;
      for (let j = this.next[h]!; j >= 0; j = this.next[j]!) {
        const o = offs[j]!;
        copyBytes(src, o + hdrs, o + lens[j]!, out, w);
        w += lens[j]! - hdrs;
        if (tcp) lastFlags = src[o + l4 + 13]!;
      }
      const v4 = l4 === 20;
      if (v4) {
        put16(out, p + 2, total);
        put16(out, p + 10, 0);
        put16(out, p + 10, ~foldSum(sumWords(out, p, p + 20)) & 0xffff);
      } else put16(out, p + 4, total - 40);
      const t = p + l4;
      const addrOff = v4 ? 12 : 8;
      const addrLen = v4 ? 4 : 16;
      const partial = foldSum(
        pseudoSum(out, p + addrOff, addrLen, tcp ? IPPROTO_TCP : IPPROTO_UDP, total - l4),
      );
      if (tcp) {
        out[t + 13] = out[t + 13]! | (lastFlags & TCP_PSH);
        put16(out, t + 16, partial);
      } else {
        put16(out, t + 4, total - l4);
        put16(out, t + 6, partial);
      }
      out[at] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      out[at + 1] = tcp
        ? v4
          ? VIRTIO_NET_HDR_GSO_TCPV4
          : VIRTIO_NET_HDR_GSO_TCPV6
        : VIRTIO_NET_HDR_GSO_UDP_L4;
      put16le(out, at + 2, hdrs);
      put16le(out, at + 4, this.gsoSize[it]!);
      put16le(out, at + 6, l4);
      put16le(out, at + 8, tcp ? 16 : 6);
      this.outLens[it] = VIRTIO_NET_HDR_LEN + total;
      at += this.outLens[it]!;
    }
    return this.items;
  }
}

function put16le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

/**
 * Whether a packet's checksums verify: the IPv4 header's, and the transport one (the sum over
 * pseudo-header and segment is 0xffff). The merged packet gets new ones, so a packet the
 * kernel would have dropped must not be merged.
 */
function checksumOk(b: Uint8Array, off: number, len: number, l4: number, tcp: boolean): boolean {
  const v4 = l4 === 20;
  if (v4 && foldSum(sumWords(b, off, off + 20)) !== 0xffff) return false;
  const s = pseudoSum(b, off + (v4 ? 12 : 8), v4 ? 4 : 16, tcp ? IPPROTO_TCP : IPPROTO_UDP, len - l4);
  return foldSum(sumWords(b, off + l4, off + len, s)) === 0xffff;
}
