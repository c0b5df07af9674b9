// The data plane's UDP socket: one AF_INET6 socket with IPV6_V6ONLY off, so one port serves
// both families (IPv4 peers appear as v4-mapped ::ffff:a.b.c.d), falling back to AF_INET where
// the host has no IPv6. Batches go through recvmmsg(2)/sendmmsg(2) over headers laid out once
// in native memory (MsgBatch, msg-batch.ts), so moving a packet allocates nothing.
//
// Several sockets may share a port (SO_REUSEPORT), one per receiving thread. The kernel then
// picks a socket per datagram; `steerByReceiver` attaches a classic BPF program that picks it
// from the low byte of the datagram's receiver index instead (payload offset 4), so every
// packet of one keypair reaches the same thread, which can own that keypair's replay window.
//
// Each socket reports the local address every datagram arrived at (pktinfo.ts), and a send may
// name the source address it leaves from: MsgBatch gives every slot room for that ancillary data.
//
// Addresses here are raw bytes (RawAddr, sockaddr.ts); text belongs to the layers above.

import { check, errno, libc, SysError } from './libc.js';
import { allocNative, closeFd, EAGAIN, freeNative, type NativeBuffer } from './native.js';
import {
  CONTROL_SIZE,
  encodePktinfo,
  IP_PKTINFO,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_RECVPKTINFO,
  type LocalAddr,
} from './pktinfo.js';
import {
  AF_INET,
  AF_INET6,
  decodeSockaddr,
  EAFNOSUPPORT,
  encodeSockaddr,
  IOVEC_SIZE,
  MSG_CONTROL,
  MSG_CONTROLLEN,
  MSG_FLAGS,
  MSG_IOV,
  MSG_IOVLEN,
  MSG_NAMELEN,
  MSGHDR_SIZE,
  type RawAddr,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCKADDR_SIZE,
  SOL_SOCKET,
  setU64,
} from './sockaddr.js';

export { MSG_DONTWAIT, MsgBatch } from './msg-batch.js';
export type { LocalAddr } from './pktinfo.js';
export { decodeSockaddr, encodeSockaddr, type RawAddr, SOCKADDR_SIZE } from './sockaddr.js';

const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_REUSEPORT = 15;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SO_MARK = 36;
const SO_ATTACH_REUSEPORT_CBPF = 51;
const IPV6_V6ONLY = 26;

// A UdpSocket's scratch: sockaddr, a length, then a msghdr with its iovec and ancillary data.
const SCRATCH_LEN = 32;
const SCRATCH_MSG = 64;
const SCRATCH_IOV = SCRATCH_MSG + MSGHDR_SIZE;
const SCRATCH_CONTROL = SCRATCH_IOV + IOVEC_SIZE;
const SCRATCH_SIZE = SCRATCH_CONTROL + CONTROL_SIZE;

interface Fns {
  socket: (domain: number, type: number, proto: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: number, len: number) => number;
  getsockopt: (fd: number, level: number, name: number, val: number, len: number) => number;
  bind: (fd: number, addr: number, len: number) => number;
  getsockname: (fd: number, addr: number, len: number) => number;
  sendto: (fd: number, buf: number, n: number, flags: number, addr: number, alen: number) => number;
  sendmsg: (fd: number, msg: number, flags: number) => number;
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
      sendmsg: l.func('long sendmsg(int fd, uintptr_t msg, int flags)'),
    } as Fns;
  }
  return fns;
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
    const scratch = allocNative(SCRATCH_SIZE);
    try {
      const s = scratch.view;
      const setInt = (level: number, name: number, what: string, v: number) => {
        s.setInt32(0, v, true);
        check(what, f().setsockopt(fd, level, name, scratch.addr, 4));
      };
      if (family === 6) setInt(IPPROTO_IPV6, IPV6_V6ONLY, 'setsockopt IPV6_V6ONLY', 0);
      // The local address of each datagram (one message covers both families: pktinfo.ts).
      if (family === 6) setInt(IPPROTO_IPV6, IPV6_RECVPKTINFO, 'setsockopt IPV6_RECVPKTINFO', 1);
      else setInt(IPPROTO_IP, IP_PKTINFO, 'setsockopt IP_PKTINFO', 1);
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
    s.view.setUint32(SCRATCH_LEN, SOCKADDR_SIZE, true);
    check('getsockname', f().getsockname(this.fd, s.addr, s.addr + SCRATCH_LEN));
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

  /**
   * One datagram from native memory, from the source address `from` when given (else the one
   * routing picks); the byte count, or -errno (see `sourceRejected` for a source that is gone).
   */
  sendTo(to: RawAddr, addr: number, len: number, from?: LocalAddr): number {
    const s = this.scratch;
    const v = s.view;
    const alen = encodeSockaddr(to, v, 0, this.family);
    if (!from) {
      const r = f().sendto(this.fd, addr, len, 0, s.addr, alen);
      return r >= 0 ? r : -errno();
    }
    const clen = encodePktinfo(from, v, SCRATCH_CONTROL);
    setU64(v, SCRATCH_MSG, s.addr); // msg_name
    v.setUint32(SCRATCH_MSG + MSG_NAMELEN, alen, true);
    setU64(v, SCRATCH_MSG + MSG_IOV, s.addr + SCRATCH_IOV);
    setU64(v, SCRATCH_MSG + MSG_IOVLEN, 1);
    setU64(v, SCRATCH_MSG + MSG_CONTROL, s.addr + SCRATCH_CONTROL);
    setU64(v, SCRATCH_MSG + MSG_CONTROLLEN, clen);
    v.setInt32(SCRATCH_MSG + MSG_FLAGS, 0, true);
    setU64(v, SCRATCH_IOV, addr);
    setU64(v, SCRATCH_IOV + 8, len);
    const r = f().sendmsg(this.fd, s.addr + SCRATCH_MSG, 0);
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

export { EAGAIN };
