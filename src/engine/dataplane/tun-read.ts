// Reading a TUN opened with IFF_VNET_HDR (sys/tun-offload.ts) into a transmit batch: each
// read(2) gives a 10-byte virtio_net_hdr and a packet of up to 64 KiB. A super-packet (TSO or
// USO) is split by gso.ts into MTU-sized segments, one per batch slot, each a complete IP
// packet with its checksums; a plain packet whose transport checksum the kernel left to us
// (NEEDS_CSUM) gets it completed. The transmit loop then seals and sends the slots as it does
// for a plain TUN, so the segments of one super-packet go out as one batch.
//
// Each read goes straight into the next free slot, the header in the last 10 of the slot's
// DATA_HEADER_SIZE bytes (sealing writes the transport header there later), so a plain packet
// is in place as a plain TUN's read puts it: no copy, and no other memory touched. Only a
// super-packet is copied aside, to be split from there into the slots. Reading every packet into
// a buffer of its own and copying it out made a lone packet cost more than on a plain TUN:
// traced with bpftrace on the workers' system calls (200 pings through a fresh pair, this 2-core
// host), the time between the read that returned the ping and the next read was 53-56 µs
// against 24 with offloads off on the pinging side, 25-28 against 8 on the answering side;
// reading into the slot, 24.5 and 9.4.
//
// A super-packet whose segments do not fit in the slots left waits in the read buffer for the
// next batch; one that would not fit even an empty batch, or that the splitter refuses
// (gsoErrorText), is dropped and counted, as wireguard-go drops what its handleVirtioRead
// refuses (tun/tun_linux.go).

import { allocNative, EAGAIN, freeNative, type NativeBuffer, readAt } from '../../sys/native.js';
import type { MsgBatch } from '../../sys/udp.js';
import { DATA_HEADER_SIZE } from '../core/messages.js';
import {
  completeChecksum,
  copyBytes,
  decodeVirtioNetHdr,
  GsoError,
  gsoErrorText,
  gsoSplit,
  MAX_SUPER_PACKET,
  newVirtioNetHdr,
  type SplitTarget,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_LEN,
} from './gso.js';

const READ_SIZE = VIRTIO_NET_HDR_LEN + MAX_SUPER_PACKET;
/** Where in a slot a read goes: its packet then starts DATA_HEADER_SIZE bytes in. */
const IN_SLOT = DATA_HEADER_SIZE - VIRTIO_NET_HDR_LEN;

export class VnetReader {
  private readonly fd: number;
  private readonly buf: NativeBuffer;
  private readonly hdr = newVirtioNetHdr();
  /** Length of a super-packet read into `buf` and not yet split (0: none). */
  private pending = 0;
  /** Per first slot k: lens.subarray(k), made once. */
  private readonly lensFrom: Int32Array[] = [];
  private readonly target: SplitTarget;
  /** Whether the last `fill` ended because the queue was empty (read(2) said EAGAIN). */
  drained = false;
  /** Packets dropped since the last `takeDropped`, and why the last one was. */
  dropped = 0;
  lastDrop = '';
  /** The longest read so far (what `slotBytesUsed` covers). */
  private largest = 0;

  constructor(fd: number, batch: MsgBatch, lens: Int32Array) {
    if (batch.slotSize < IN_SLOT + READ_SIZE) throw new RangeError('batch slots too small for a TUN read');
    this.fd = fd;
    this.buf = allocNative(READ_SIZE, false);
    for (let k = 0; k < lens.length; k++) this.lensFrom.push(lens.subarray(k));
    this.target = { bytes: batch.bytes, base: 0, stride: batch.slotSize, count: 0, lens };
  }

  /**
   * Fills slots [0, n) of `batch` (each packet DATA_HEADER_SIZE bytes into its slot, its
   * length in `lens`), reading until the queue is empty or the slots are used; at most `count`
   * slots (lens.length at most). Returns n, or -errno when nothing was read (-EAGAIN: empty).
   */
  fill(batch: MsgBatch, lens: Int32Array, count: number): number {
    let k = 0;
    this.drained = false;
    while (k < count) {
      if (this.pending === 0) {
        const at = batch.slotOffset(k) + IN_SLOT;
        const r = readAt(this.fd, batch.slotAddr(k) + IN_SLOT, READ_SIZE);
        if (r < 0) {
          this.drained = r === -EAGAIN;
          return k > 0 ? k : r;
        }
        if (r === 0) return k;
        if (r > this.largest) this.largest = r;
        const placed = this.placeInSlot(batch.bytes, lens, k, at, r);
        if (placed > 0) k++;
        if (placed !== 0) continue;
        // A super-packet: aside, to be split into the slots from k on.
        copyBytes(batch.bytes, at, at + r, this.buf.bytes, 0);
        this.pending = r;
      }
      const placed = this.place(batch, k, count);
      if (placed === 0) return k; // waits for an empty batch
      this.pending = 0;
      if (placed > 0) k += placed;
    }
    return k;
  }

  /**
   * The read of `r` bytes at `b[at, ...)`, in slot k: 1 when it is a plain packet (now in
   * place, its checksum completed), -1 when dropped, 0 for a super-packet (to be split).
   */
  private placeInSlot(b: Uint8Array, lens: Int32Array, k: number, at: number, r: number): number {
    const len = r - VIRTIO_NET_HDR_LEN;
    const h = this.hdr;
    if (len <= 0 || !decodeVirtioNetHdr(b, at, h)) return this.drop('read shorter than a virtio header');
    if ((h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) return 0;
    const e = completeChecksum(b, at + VIRTIO_NET_HDR_LEN, len, h);
    if (e < 0) return this.drop(gsoErrorText(e));
    lens[k] = len;
    return 1;
  }

  /**
   * Splits the pending super-packet into the slots from k: slots used, 0 when it needs an
   * emptier batch, -1 when dropped.
   */
  private place(batch: MsgBatch, k: number, count: number): number {
    const b = this.buf.bytes;
    const len = this.pending - VIRTIO_NET_HDR_LEN;
    const h = this.hdr;
    decodeVirtioNetHdr(b, 0, h);
    const base = batch.slotOffset(k) + DATA_HEADER_SIZE;
    const t = this.target;
    t.base = base;
    t.count = count - k;
    t.lens = this.lensFrom[k]!;
    const segs = gsoSplit(b, VIRTIO_NET_HDR_LEN, len, h, t);
    if (segs === GsoError.TOO_MANY_SEGMENTS && k > 0) return 0;
    if (segs < 0) return this.drop(gsoErrorText(segs));
    return segs;
  }

  /** How far into a slot reads have written: what to wipe of each slot at the end. */
  get slotBytesUsed(): number {
    return this.largest > 0 ? IN_SLOT + this.largest : 0;
  }

  private drop(why: string): number {
    this.dropped++;
    this.lastDrop = why;
    return -1;
  }

  free(): void {
    freeNative(this.buf);
  }
}
