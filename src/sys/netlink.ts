// AF_NETLINK sockets through koffi (socket(7), netlink(7)): open and bind with a kernel-chosen
// port id, send one message to the kernel, receive one datagram, close.
//
// Calls are synchronous: the kernel answers netlink requests in the caller's context, so a
// receive waits only for work already queued; SO_RCVTIMEO bounds it anyway.
// A socket bound to multicast groups (rtnetlink notifications, sys/rtnl.ts) is opened
// non-blocking instead and read with tryRecv whenever poll(2) says it is readable.

import { check, errno, libc, SysError } from './libc.js';
import { MSG_DONTWAIT } from './msg-batch.js';
import { EAGAIN, EINTR } from './native.js';
import { MSG_TRUNC, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET } from './sockaddr.js';

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

const SOCK_RAW = 3;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
/** Keep ACKs short: do not echo the whole request back in an NLMSG_ERROR. */
const NETLINK_CAP_ACK = 10;
const EMSGSIZE = 90;
/** struct sockaddr_nl: u16 family, u16 pad, u32 pid, u32 groups. */
const SOCKADDR_NL_LEN = 12;
/** Socket structures hold integers in host byte order. */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface Fns {
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Uint8Array, len: number) => number;
  getsockname: (fd: number, addr: Uint8Array, len: number[]) => number;
  setsockopt: (fd: number, level: number, name: number, val: Uint8Array, len: number) => number;
  sendto: (fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: number) => number;
  recv: (fd: number, buf: Uint8Array, len: number, flags: number) => number;
  close: (fd: number) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  if (fns) return fns;
  const lib = libc();
  fns = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
    getsockname: lib.func('int getsockname(int fd, void *addr, _Inout_ uint32_t *len)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
    sendto: lib.func(
      'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
    ),
    recv: lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    close: lib.func('int close(int fd)'),
  } as Fns;
  return fns;
}

function sockaddrNl(pid: number, groups = 0): Uint8Array {
  const sa = new Uint8Array(SOCKADDR_NL_LEN);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_NETLINK, LE);
  v.setUint32(4, pid, LE);
  v.setUint32(8, groups >>> 0, LE);
  return sa;
}

/** Retries a call interrupted by a signal (EINTR), as blocking socket code must. */
function retrying(name: string, call: () => number): number {
  for (;;) {
    const r = Number(call());
    if (r !== -1) return r;
    const e = errno();
    if (e !== EINTR) throw new SysError(name, e);
  }
}

export class NetlinkSocket {
  readonly fd: number;
  /** The port id the kernel assigned at bind time; replies are addressed to it. */
  readonly portId: number;
  private closed = false;

  private constructor(fd: number, portId: number) {
    this.fd = fd;
    this.portId = portId;
  }

  /**
   * socket(AF_NETLINK, SOCK_RAW, protocol) bound to a kernel-chosen port id. `groups` is the
   * bind-time multicast mask (bit n-1 for group n, netlink(7)): the socket then also receives
   * those notifications. A `nonBlocking` socket is read with `tryRecv`.
   */
  static open(
    protocol: number,
    opts: { recvTimeoutMs?: number; groups?: number; nonBlocking?: boolean } = {},
  ): NetlinkSocket {
    const fn = f();
    const type = SOCK_RAW | SOCK_CLOEXEC | (opts.nonBlocking ? SOCK_NONBLOCK : 0);
    const fd = check('socket', fn.socket(AF_NETLINK, type, protocol));
    try {
      check('bind', fn.bind(fd, sockaddrNl(0, opts.groups ?? 0), SOCKADDR_NL_LEN));
      const sa = new Uint8Array(SOCKADDR_NL_LEN);
      const len = [SOCKADDR_NL_LEN];
      check('getsockname', fn.getsockname(fd, sa, len));
      const portId = new DataView(sa.buffer).getUint32(4, LE);
      // Best effort: older kernels lack NETLINK_CAP_ACK and then echo requests in ACKs.
      fn.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, new Uint8Array(new Uint32Array([1]).buffer), 4);
      const ms = opts.recvTimeoutMs ?? 30_000;
      const tv = new Uint8Array(16); // struct timeval { long tv_sec; long tv_usec; } on LP64
      const tvv = new DataView(tv.buffer);
      tvv.setBigInt64(0, BigInt(Math.floor(ms / 1000)), LE);
      tvv.setBigInt64(8, BigInt((ms % 1000) * 1000), LE);
      check('setsockopt', fn.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length));
      return new NetlinkSocket(fd, portId);
    } catch (e) {
      fn.close(fd);
      throw e;
    }
  }

  /** Sends one complete message to the kernel (port id 0). */
  send(msg: Uint8Array): void {
    const n = retrying('sendto', () =>
      f().sendto(this.fd, msg, msg.length, 0, sockaddrNl(0), SOCKADDR_NL_LEN),
    );
    if (n !== msg.length) throw new SysError('sendto', EMSGSIZE);
  }

  /**
   * Receives one datagram into `buf` and returns the part that holds it. A datagram larger
   * than `buf` would lose its tail, so it is an error (EMSGSIZE) rather than a short read.
   */
  recv(buf: Uint8Array): Uint8Array {
    const n = retrying('recv', () => f().recv(this.fd, buf, buf.length, MSG_TRUNC));
    if (n > buf.length) throw new SysError('recv', EMSGSIZE);
    return buf.subarray(0, n);
  }

  /**
   * Receives one datagram if one is queued, without waiting: undefined when none is (EAGAIN).
   * Throws SysError ENOBUFS when the kernel dropped notifications for want of buffer space.
   */
  tryRecv(buf: Uint8Array): Uint8Array | undefined {
    for (;;) {
      const n = Number(f().recv(this.fd, buf, buf.length, MSG_TRUNC | MSG_DONTWAIT));
      if (n > buf.length) throw new SysError('recv', EMSGSIZE);
      if (n >= 0) return buf.subarray(0, n);
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e !== EINTR) throw new SysError('recv', e);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    f().close(this.fd);
  }
}
