// Batches of datagrams for recvmmsg(2)/sendmmsg(2): the headers, iovecs, sockaddrs and
// ancillary-data areas of `count` slots laid out once in native memory, so that moving a
// packet allocates nothing. Used by the data plane's workers on a UdpSocket's descriptor.

import { errno, libc } from './libc.js';
import { allocNative, freeNative, type NativeBuffer } from './native.js';
import { CONTROL_SIZE, decodePktinfo, encodePktinfo, type LocalAddr } from './pktinfo.js';
import {
  decodeSockaddr,
  encodeSockaddr,
  IOVEC_SIZE,
  MMSGHDR_SIZE,
  MSG_CONTROL,
  MSG_CONTROLLEN,
  MSG_FLAGS,
  MSG_IOV,
  MSG_IOVLEN,
  MSG_LEN,
  MSG_NAMELEN,
  MSG_TRUNC,
  type RawAddr,
  SOCKADDR_SIZE,
  setU64,
} from './sockaddr.js';

export const MSG_DONTWAIT = 0x40;
const NAME_STRIDE = 32;

interface Fns {
  recvmmsg: (fd: number, vec: number, n: number, flags: number, timeout: number) => number;
  sendmmsg: (fd: number, vec: number, n: number, flags: number) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  fns ??= {
    recvmmsg: libc().func(
      'int recvmmsg(int fd, uintptr_t vec, unsigned int n, int flags, uintptr_t timeout)',
    ),
    sendmmsg: libc().func('int sendmmsg(int fd, uintptr_t vec, unsigned int n, int flags)'),
  } as Fns;
  return fns;
}

/** sendmmsg(2) of `n` mmsghdrs at native address `vec`, without blocking: how many the kernel took, or -errno. */
export function sendMessages(fd: number, vec: number, n: number): number {
  const r = f().sendmmsg(fd, vec, n, MSG_DONTWAIT);
  return r >= 0 ? r : -errno();
}

/**
 * `count` datagram slots of `slotSize` bytes with their mmsghdr, iovec, sockaddr and ancillary
 * data area (CONTROL_SIZE: the arrival address after `recv`, an optional source for `send`)
 * laid out once. Slot i's bytes are `bytes.subarray(slotOffset(i), slotOffset(i) + slotSize)`.
 */
export class MsgBatch {
  readonly count: number;
  readonly slotSize: number;
  readonly mem: NativeBuffer;
  /** The same memory as int32 words (ancillary data is 8-byte aligned: compared a word at a time). */
  readonly words: Int32Array;
  private readonly hdrs: number;
  private readonly names: number;
  private readonly controls: number;
  private readonly slots: number;
  private readonly sockFamily: 4 | 6;
  /** Address of each slot. */
  readonly slotAddrs: number[] = [];
  private pointed = false;

  constructor(count: number, slotSize: number, sockFamily: 4 | 6) {
    if (!(count >= 1 && count <= 1024 && slotSize >= 64)) throw new RangeError('bad batch shape');
    this.count = count;
    this.slotSize = (slotSize + 63) & ~63;
    this.sockFamily = sockFamily;
    const iovs = count * MMSGHDR_SIZE;
    this.hdrs = 0;
    this.names = iovs + count * IOVEC_SIZE;
    this.controls = this.names + count * NAME_STRIDE;
    this.slots = (this.controls + count * CONTROL_SIZE + 63) & ~63;
    // Headers zeroed; the slots are left untouched, so only the pages packets use take RAM.
    this.mem = allocNative(this.slots + count * this.slotSize, false);
    this.mem.bytes.fill(0, 0, this.slots);
    this.words = new Int32Array(this.mem.bytes.buffer, this.mem.bytes.byteOffset, this.mem.size >> 2);
    const v = this.mem.view;
    const base = BigInt(this.mem.addr);
    for (let i = 0; i < count; i++) {
      const h = i * MMSGHDR_SIZE;
      const iov = iovs + i * IOVEC_SIZE;
      v.setBigUint64(h, base + BigInt(this.names + i * NAME_STRIDE), true); // msg_name
      v.setUint32(h + MSG_NAMELEN, SOCKADDR_SIZE, true);
      v.setBigUint64(h + MSG_IOV, base + BigInt(iov), true);
      v.setBigUint64(h + MSG_IOVLEN, 1n, true);
      v.setBigUint64(h + MSG_CONTROL, base + BigInt(this.controls + i * CONTROL_SIZE), true);
      v.setBigUint64(iov, base + BigInt(this.slots + i * this.slotSize), true); // iov_base
      v.setBigUint64(iov + 8, BigInt(this.slotSize), true); // iov_len
      this.slotAddrs.push(this.mem.addr + this.slots + i * this.slotSize);
    }
  }

  get bytes(): Uint8Array {
    return this.mem.bytes;
  }

  slotOffset(i: number): number {
    return this.slots + i * this.slotSize;
  }

  slotAddr(i: number): number {
    return this.slotAddrs[i]!;
  }

  nameOffset(i: number): number {
    return this.names + i * NAME_STRIDE;
  }

  /** Where datagram i's iovec is (they are consecutive: a message may take several). */
  iovOffset(i: number): number {
    return this.count * MMSGHDR_SIZE + i * IOVEC_SIZE;
  }

  /** Where datagram i's ancillary data goes (CONTROL_SIZE bytes). */
  controlOffset(i: number): number {
    return this.controls + i * CONTROL_SIZE;
  }

  /** The length of datagram i's ancillary data after `recv`, or as set for `send`. */
  controlLength(i: number): number {
    return this.mem.view.getUint32(i * MMSGHDR_SIZE + MSG_CONTROLLEN, true);
  }

  /** The local address datagram i arrived at (after `recv`), when the socket reports it. */
  destination(i: number): LocalAddr | undefined {
    return decodePktinfo(this.mem.bytes, this.controlOffset(i), this.controlLength(i));
  }

  /** The length of datagram i after `recv`, or as set for `send`. */
  length(i: number): number {
    return this.mem.view.getUint32(i * MMSGHDR_SIZE + MSG_LEN, true);
  }

  /** True when datagram i did not fit its slot (it was cut short). */
  truncated(i: number): boolean {
    return (this.mem.view.getInt32(i * MMSGHDR_SIZE + MSG_FLAGS, true) & MSG_TRUNC) !== 0;
  }

  /** The sender of datagram i after `recv`. */
  source(i: number): RawAddr | undefined {
    return decodeSockaddr(this.mem.view, this.nameOffset(i));
  }

  /**
   * Receives up to `max` datagrams without blocking: their count, or -errno (-EAGAIN when
   * nothing is waiting).
   */
  recv(fd: number, max = this.count): number {
    const v = this.mem.view;
    const n = Math.min(max, this.count);
    const iovs = this.count * MMSGHDR_SIZE;
    for (let i = 0; i < n; i++) {
      v.setUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, SOCKADDR_SIZE, true);
      v.setUint32(i * MMSGHDR_SIZE + MSG_CONTROLLEN, CONTROL_SIZE, true);
      if (this.pointed) setU64(v, iovs + i * IOVEC_SIZE, this.slotAddrs[i]!);
      setU64(v, iovs + i * IOVEC_SIZE + 8, this.slotSize);
    }
    if (n === this.count) this.pointed = false;
    const r = f().recvmmsg(fd, this.mem.addr, n, MSG_DONTWAIT, 0);
    return r >= 0 ? r : -errno();
  }

  /**
   * Sets datagram i's destination (encoded for this batch's socket family), length, and the
   * source address it leaves from (by default the one routing picks).
   */
  prepare(i: number, to: RawAddr, len: number, from?: LocalAddr): void {
    const namelen = encodeSockaddr(to, this.mem.view, this.nameOffset(i), this.sockFamily);
    const clen = from ? encodePktinfo(from, this.mem.view, this.controlOffset(i)) : 0;
    this.prepareEncoded(i, namelen, len, clen);
  }

  /**
   * Sets datagram i's length, the length of a destination already written at `nameOffset(i)`
   * (copied from a cached encoding with `bytes.set`), and of its ancillary data at
   * `controlOffset(i)` (0: none, no source address chosen).
   */
  prepareEncoded(i: number, namelen: number, len: number, controlLen = 0): void {
    const v = this.mem.view;
    const h = i * MMSGHDR_SIZE;
    v.setUint32(h + MSG_NAMELEN, namelen, true);
    v.setUint32(h + MSG_CONTROLLEN, controlLen, true);
    setU64(v, this.count * MMSGHDR_SIZE + i * IOVEC_SIZE + 8, len);
  }

  /** Drops datagram i's source address (before sending it again: see `sourceRejected`). */
  clearSource(i: number): void {
    this.mem.view.setUint32(i * MMSGHDR_SIZE + MSG_CONTROLLEN, 0, true);
  }

  /**
   * Makes datagram j carry slot `slot`'s bytes, so a subset of the slots can be sent as
   * consecutive datagrams. Its destination still goes at nameOffset(j).
   */
  point(j: number, slot: number): void {
    setU64(this.mem.view, this.count * MMSGHDR_SIZE + j * IOVEC_SIZE, this.slotAddrs[slot]!);
    this.pointed = true;
  }

  /**
   * Sends datagrams [from, from + n) with one sendmmsg call, without blocking. Returns how many
   * the kernel took (possibly fewer), or -errno when it took none.
   */
  send(fd: number, from: number, n: number): number {
    if (n <= 0) return 0;
    return sendMessages(fd, this.mem.addr + from * MMSGHDR_SIZE + this.hdrs, n);
  }

  /** Frees the batch, wiping the part of each slot a packet can have used (`wipeBytes`). */
  free(wipeBytes = this.slotSize): void {
    for (let i = 0; i < this.count; i++)
      this.mem.bytes.fill(0, this.slotOffset(i), this.slotOffset(i) + wipeBytes);
    freeNative(this.mem, this.slots);
  }
}
