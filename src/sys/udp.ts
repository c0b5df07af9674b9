// The data plane's UDP socket: one AF_INET6 socket with IPV6_V6ONLY off, so one port serves
// both families (IPv4 peers appear as v4-mapped ::ffff:a.b.c.d), falling back to AF_INET where
// the host has no IPv6. Batches go through recvmmsg(2)/sendmmsg(2) over headers laid out once
// in native memory (MsgBatch), so moving a packet allocates nothing.
//
// Several sockets may share a port (SO_REUSEPORT), one per receiving thread. The kernel then
// picks a socket per datagram; `steerByReceiver` attaches a classic BPF program that picks it
// from the low byte of the datagram's receiver index instead (payload offset 4), so every
// packet of one keypair reaches the same thread, which can own that keypair's replay window.
//
// Addresses here are raw bytes (RawAddr); text belongs to the layers above.

import { check, koffi, libc, SysError } from './libc.js';
import { allocNative, closeFd, EAGAIN, freeNative, type NativeBuffer } from './native.js';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EAFNOSUPPORT = 97;

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_REUSEPORT = 15;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SO_MARK = 36;
const SO_ATTACH_REUSEPORT_CBPF = 51;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;

export const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;

/** sizeof(struct sockaddr_in6); a sockaddr_in (16) fits in the same space. */
export const SOCKADDR_SIZE = 28;
const NAME_STRIDE = 32;
const MMSGHDR_SIZE = 64; // struct msghdr (56) + unsigned msg_len, padded (LP64)
const IOVEC_SIZE = 16;

/** Stores a 53-bit number (an address, a length) as a little-endian u64, without a bigint. */
function setU64(v: DataView, off: number, addr: number): void {
  v.setUint32(off, addr >>> 0, true);
  v.setUint32(off + 4, Math.floor(addr / 2 ** 32), true);
}

/** A socket address as bytes: 4 or 16 address bytes in network order. */
export interface RawAddr {
  family: 4 | 6;
  address: Uint8Array;
  port: number;
  /** IPv6 scope (interface index); 0 for none. */
  scopeId: number;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Writes `a` as the sockaddr a socket of `sockFamily` expects at `off` and returns its length.
 * On an AF_INET6 socket IPv4 becomes v4-mapped. Throws EAFNOSUPPORT for IPv6 on an AF_INET socket.
 */
export function encodeSockaddr(a: RawAddr, out: DataView, off: number, sockFamily: 4 | 6): number {
  for (let i = 0; i < SOCKADDR_SIZE; i++) out.setUint8(off + i, 0);
  if (sockFamily === 4) {
    if (a.family !== 4) throw new SysError('sockaddr', EAFNOSUPPORT);
    out.setUint16(off, AF_INET, true);
    out.setUint16(off + 2, a.port, false);
    for (let i = 0; i < 4; i++) out.setUint8(off + 4 + i, a.address[i]!);
    return 16;
  }
  out.setUint16(off, AF_INET6, true);
  out.setUint16(off + 2, a.port, false);
  if (a.family === 4) {
    for (let i = 0; i < 12; i++) out.setUint8(off + 8 + i, V4_MAPPED_PREFIX[i]!);
    for (let i = 0; i < 4; i++) out.setUint8(off + 20 + i, a.address[i]!);
  } else {
    for (let i = 0; i < 16; i++) out.setUint8(off + 8 + i, a.address[i]!);
    out.setUint32(off + 24, a.scopeId >>> 0, true);
  }
  return SOCKADDR_SIZE;
}

/** Reads a sockaddr_in or sockaddr_in6; v4-mapped IPv6 comes back as IPv4. */
export function decodeSockaddr(view: DataView, off: number): RawAddr | undefined {
  const fam = view.getUint16(off, true);
  const port = view.getUint16(off + 2, false);
  if (fam === AF_INET) {
    const address = new Uint8Array(4);
    for (let i = 0; i < 4; i++) address[i] = view.getUint8(off + 4 + i);
    return { family: 4, address, port, scopeId: 0 };
  }
  if (fam !== AF_INET6) return undefined;
  let mapped = true;
  for (let i = 0; i < 12 && mapped; i++) mapped = view.getUint8(off + 8 + i) === V4_MAPPED_PREFIX[i];
  if (mapped) {
    const address = new Uint8Array(4);
    for (let i = 0; i < 4; i++) address[i] = view.getUint8(off + 20 + i);
    return { family: 4, address, port, scopeId: 0 };
  }
  const address = new Uint8Array(16);
  for (let i = 0; i < 16; i++) address[i] = view.getUint8(off + 8 + i);
  return { family: 6, address, port, scopeId: view.getUint32(off + 24, true) };
}

interface Fns {
  socket: (domain: number, type: number, proto: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: number, len: number) => number;
  getsockopt: (fd: number, level: number, name: number, val: number, len: number) => number;
  bind: (fd: number, addr: number, len: number) => number;
  getsockname: (fd: number, addr: number, len: number) => number;
  sendto: (fd: number, buf: number, n: number, flags: number, addr: number, alen: number) => number;
  recvmmsg: (fd: number, vec: number, n: number, flags: number, timeout: number) => number;
  sendmmsg: (fd: number, vec: number, n: number, flags: number) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  if (!fns) {
    const l = libc();
    fns = {
      socket: l.func('int socket(int domain, int type, int protocol)'),
      setsockopt: l.func('int setsockopt(int fd, int level, int name, uintptr_t val, uint32_t len)'),
      getsockopt: l.func('int getsockopt(int fd, int level, int name, uintptr_t val, uintptr_t len)'),
      bind: l.func('int bind(int fd, uintptr_t addr, uint32_t len)'),
      getsockname: l.func('int getsockname(int fd, uintptr_t addr, uintptr_t len)'),
      sendto: l.func(
        'long sendto(int fd, uintptr_t buf, size_t n, int flags, uintptr_t addr, uint32_t alen)',
      ),
      recvmmsg: l.func('int recvmmsg(int fd, uintptr_t vec, unsigned int n, int flags, uintptr_t timeout)'),
      sendmmsg: l.func('int sendmmsg(int fd, uintptr_t vec, unsigned int n, int flags)'),
    } as Fns;
  }
  return fns;
}

function errno(): number {
  return koffi().errno();
}

export interface UdpOptions {
  /** 0 = let the kernel choose. */
  port: number;
  /** SO_MARK; 0 = none. Needs CAP_NET_ADMIN. */
  fwmark?: number;
  /** Set SO_REUSEPORT before binding (for a group of sockets on one port). */
  reusePort?: boolean;
  /** Socket buffer sizes in bytes (SO_*BUFFORCE when permitted, else SO_*BUF). */
  bufferBytes?: number;
  /** Force AF_INET (for tests); by default AF_INET6 dual-stack with AF_INET as fallback. */
  family?: 4 | 6;
}

/** A bound, non-blocking UDP socket. */
export class UdpSocket {
  readonly fd: number;
  /** The socket's own family: 6 (dual-stack) or 4 (no IPv6 on this host). */
  readonly family: 4 | 6;
  readonly port: number;
  private readonly scratch: NativeBuffer;

  private constructor(fd: number, family: 4 | 6, scratch: NativeBuffer) {
    this.fd = fd;
    this.family = family;
    this.scratch = scratch;
    this.port = this.localAddress().port;
  }

  static open(opts: UdpOptions): UdpSocket {
    if (!(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535))
      throw new RangeError('bad port');
    const type = SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
    let family: 4 | 6 = opts.family ?? 6;
    let fd = f().socket(family === 6 ? AF_INET6 : AF_INET, type, 0);
    if (fd < 0 && family === 6 && opts.family === undefined && errno() === EAFNOSUPPORT) {
      family = 4;
      fd = f().socket(AF_INET, type, 0);
    }
    check('socket', fd);
    const scratch = allocNative(64);
    try {
      const s = scratch.view;
      const setInt = (level: number, name: number, what: string, v: number) => {
        s.setInt32(0, v, true);
        check(what, f().setsockopt(fd, level, name, scratch.addr, 4));
      };
      if (family === 6) setInt(IPPROTO_IPV6, IPV6_V6ONLY, 'setsockopt IPV6_V6ONLY', 0);
      if (opts.reusePort) setInt(SOL_SOCKET, SO_REUSEPORT, 'setsockopt SO_REUSEPORT', 1);
      if (opts.fwmark) setInt(SOL_SOCKET, SO_MARK, 'setsockopt SO_MARK', opts.fwmark >>> 0);
      if (opts.bufferBytes) {
        for (const [force, plain] of [
          [SO_RCVBUFFORCE, SO_RCVBUF],
          [SO_SNDBUFFORCE, SO_SNDBUF],
        ] as const) {
          s.setInt32(0, opts.bufferBytes, true);
          if (f().setsockopt(fd, SOL_SOCKET, force, scratch.addr, 4) < 0)
            f().setsockopt(fd, SOL_SOCKET, plain, scratch.addr, 4); // best effort, like wireguard-go
        }
      }
      const any: RawAddr =
        family === 6
          ? { family: 6, address: new Uint8Array(16), port: opts.port, scopeId: 0 }
          : { family: 4, address: new Uint8Array(4), port: opts.port, scopeId: 0 };
      const len = encodeSockaddr(any, s, 0, family);
      check('bind', f().bind(fd, scratch.addr, len));
      return new UdpSocket(fd, family, scratch);
    } catch (e) {
      freeNative(scratch);
      closeFd(fd);
      throw e;
    }
  }

  localAddress(): RawAddr {
    const s = this.scratch;
    s.view.setUint32(32, SOCKADDR_SIZE, true);
    check('getsockname', f().getsockname(this.fd, s.addr, s.addr + 32));
    const a = decodeSockaddr(s.view, 0);
    if (!a) throw new SysError('getsockname', EAFNOSUPPORT);
    return a;
  }

  /** SO_MARK as the kernel holds it (0 = none). Setting needs CAP_NET_ADMIN. */
  get fwmark(): number {
    const s = this.scratch;
    s.view.setUint32(8, 4, true);
    check('getsockopt SO_MARK', f().getsockopt(this.fd, SOL_SOCKET, SO_MARK, s.addr, s.addr + 8));
    return s.view.getUint32(0, true);
  }

  set fwmark(mark: number) {
    this.scratch.view.setUint32(0, mark >>> 0, true);
    check('setsockopt SO_MARK', f().setsockopt(this.fd, SOL_SOCKET, SO_MARK, this.scratch.addr, 4));
  }

  /** One datagram from native memory; the byte count, or -errno. */
  sendTo(to: RawAddr, addr: number, len: number): number {
    const s = this.scratch;
    const alen = encodeSockaddr(to, s.view, 0, this.family);
    const r = f().sendto(this.fd, addr, len, 0, s.addr, alen);
    return r >= 0 ? r : -errno();
  }

  /**
   * Makes the kernel deliver each datagram of this socket's SO_REUSEPORT group to socket
   * number (receiver index & 0xff) % `groupSize`, in the order the sockets were bound. A
   * datagram shorter than 5 bytes goes to socket 0.
   */
  steerByReceiver(groupSize: number): void {
    if (!(Number.isInteger(groupSize) && groupSize >= 1 && groupSize <= 256))
      throw new RangeError('bad group size');
    const prog = allocNative(3 * 8 + 16);
    try {
      const insn = (i: number, code: number, k: number) => {
        prog.view.setUint16(i * 8, code, true);
        prog.view.setUint32(i * 8 + 4, k, true);
      };
      insn(0, 0x30, 4); // BPF_LD | BPF_B | BPF_ABS: A = payload[4], the index's low byte (LE)
      insn(1, 0x94, groupSize); // BPF_ALU | BPF_MOD | BPF_K: A %= groupSize
      insn(2, 0x16, 0); // BPF_RET | BPF_A
      const fprog = 24; // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
      prog.view.setUint16(fprog, 3, true);
      prog.view.setBigUint64(fprog + 8, BigInt(prog.addr), true);
      check(
        'setsockopt SO_ATTACH_REUSEPORT_CBPF',
        f().setsockopt(this.fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, prog.addr + fprog, 16),
      );
    } finally {
      freeNative(prog);
    }
  }

  close(): void {
    freeNative(this.scratch);
    closeFd(this.fd);
  }
}

/**
 * `count` datagram slots of `slotSize` bytes with their mmsghdr, iovec and sockaddr laid out
 * once. Slot i's bytes are `bytes.subarray(slotOffset(i), slotOffset(i) + slotSize)`.
 */
export class MsgBatch {
  readonly count: number;
  readonly slotSize: number;
  readonly mem: NativeBuffer;
  private readonly hdrs: number;
  private readonly names: number;
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
    this.slots = (this.names + count * NAME_STRIDE + 63) & ~63;
    // Headers zeroed; the slots are left untouched, so only the pages packets use take RAM.
    this.mem = allocNative(this.slots + count * this.slotSize, false);
    this.mem.bytes.fill(0, 0, this.slots);
    const v = this.mem.view;
    const base = BigInt(this.mem.addr);
    for (let i = 0; i < count; i++) {
      const h = i * MMSGHDR_SIZE;
      const iov = iovs + i * IOVEC_SIZE;
      v.setBigUint64(h, base + BigInt(this.names + i * NAME_STRIDE), true); // msg_name
      v.setUint32(h + 8, SOCKADDR_SIZE, true); // msg_namelen
      v.setBigUint64(h + 16, base + BigInt(iov), true); // msg_iov
      v.setBigUint64(h + 24, 1n, true); // msg_iovlen
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

  /** The length of datagram i after `recv`, or as set for `send`. */
  length(i: number): number {
    return this.mem.view.getUint32(i * MMSGHDR_SIZE + 56, true);
  }

  /** True when datagram i did not fit its slot (it was cut short). */
  truncated(i: number): boolean {
    return (this.mem.view.getInt32(i * MMSGHDR_SIZE + 48, true) & MSG_TRUNC) !== 0;
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
      v.setUint32(i * MMSGHDR_SIZE + 8, SOCKADDR_SIZE, true);
      if (this.pointed) setU64(v, iovs + i * IOVEC_SIZE, this.slotAddrs[i]!);
      setU64(v, iovs + i * IOVEC_SIZE + 8, this.slotSize);
    }
    if (n === this.count) this.pointed = false;
    const r = f().recvmmsg(fd, this.mem.addr, n, MSG_DONTWAIT, 0);
    return r >= 0 ? r : -errno();
  }

  /** Sets datagram i's destination (encoded for this batch's socket family) and length. */
  prepare(i: number, to: RawAddr, len: number): void {
    const namelen = encodeSockaddr(to, this.mem.view, this.nameOffset(i), this.sockFamily);
    this.prepareEncoded(i, namelen, len);
  }

  /**
   * Sets datagram i's length and the length of a destination already written at
   * `nameOffset(i)` (copied from a cached encoding with `bytes.set`).
   */
  prepareEncoded(i: number, namelen: number, len: number): void {
    const v = this.mem.view;
    v.setUint32(i * MMSGHDR_SIZE + 8, namelen, true);
    setU64(v, this.count * MMSGHDR_SIZE + i * IOVEC_SIZE + 8, len);
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
    const r = f().sendmmsg(fd, this.mem.addr + from * MMSGHDR_SIZE + this.hdrs, n, MSG_DONTWAIT);
    return r >= 0 ? r : -errno();
  }

  /** Frees the batch, wiping the part of each slot a packet can have used (`wipeBytes`). */
  free(wipeBytes = this.slotSize): void {
    for (let i = 0; i < this.count; i++)
      this.mem.bytes.fill(0, this.slotOffset(i), this.slotOffset(i) + wipeBytes);
    freeNative(this.mem, this.slots);
  }
}

export { EAGAIN };
