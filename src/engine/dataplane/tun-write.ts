// Writing decrypted packets to the TUN. A plain TUN takes each packet as it comes. A TUN with
// virtio headers (offload.ts) takes every packet behind a 10-byte header, so the packets of a
// receive batch are collected and, at the end of the batch, merged per flow by gro.ts into
// super-packets of up to 64 KiB (the kernel then walks its stack once per super-packet instead
// of once per segment); a lone packet is written in place behind an all-zero header.
//
// Every packet added must have VIRTIO_NET_HDR_LEN free bytes before it (the transport header
// of its datagram is there), which the plain write in place uses.

import { allocNative, freeNative, type NativeBuffer, writeAt } from '../../sys/native.js';
import { isLinkGone } from '../../sys/tun.js';
import { Coalescer } from './gro.js';
import { clearVirtioNetHdr, VIRTIO_NET_HDR_LEN } from './gso.js';

/** Packets merged in one go (gro.ts takes at most 512). */
const GRO_PACKETS = 256;
/** Room for the merged output: always at least one largest packet and its header. */
const OUT_BYTES = 1 << 20;

export class TunSink {
  private readonly fd: number;
  private readonly mem: NativeBuffer;
  private readonly gro: Coalescer | undefined;
  private readonly out: NativeBuffer | undefined;
  private readonly offs: Int32Array;
  private readonly lens: Int32Array;
  private n = 0;
  private bytes = 0;
  /** The first write error that means the link is gone (-errno), else 0. */
  gone = 0;

  /** Packets are in `mem` (a batch's memory); `vnetHdr`: the TUN takes virtio headers. */
  constructor(fd: number, mem: NativeBuffer, vnetHdr: boolean, udp: boolean) {
    this.fd = fd;
    this.mem = mem;
    this.gro = vnetHdr ? new Coalescer(GRO_PACKETS, { udp }) : undefined;
    this.out = vnetHdr ? allocNative(OUT_BYTES, false) : undefined;
    this.offs = new Int32Array(GRO_PACKETS);
    this.lens = new Int32Array(GRO_PACKETS);
  }

  /** Writes (plain TUN) or queues (virtio headers) the packet mem[off, off + len). */
  add(off: number, len: number): void {
    if (!this.gro) {
      this.write(this.mem.addr + off, len);
      return;
    }
    if (this.n === GRO_PACKETS || this.bytes + len + VIRTIO_NET_HDR_LEN > OUT_BYTES) this.flush();
    this.offs[this.n] = off;
    this.lens[this.n] = len;
    this.n++;
    this.bytes += len + VIRTIO_NET_HDR_LEN;
  }

  /** Writes what is queued (call before the batch's memory is reused). */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    this.bytes = 0;
    const bytes = this.mem.bytes;
    if (n === 1) {
      const at = this.offs[0]! - VIRTIO_NET_HDR_LEN;
      clearVirtioNetHdr(bytes, at);
      this.write(this.mem.addr + at, this.lens[0]! + VIRTIO_NET_HDR_LEN);
      return;
    }
    const out = this.out!;
    const gro = this.gro!;
    const k = gro.coalesce(bytes, this.offs, this.lens, n, out.bytes, 0);
    for (let i = 0; i < k; i++) this.write(out.addr + gro.outOffs[i]!, gro.outLens[i]!);
  }

  private write(addr: number, len: number): void {
    const w = writeAt(this.fd, addr, len);
    if (w < 0 && isLinkGone(w) && this.gone === 0) this.gone = w;
  }

  free(): void {
    if (this.out) freeNative(this.out);
  }
}
