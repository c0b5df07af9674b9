// UDP segmentation and receive offload (Linux 4.18 / 5.0; include/uapi/linux/udp.h):
//
// - UDP_SEGMENT (GSO, send): a datagram sent with a SOL_UDP/UDP_SEGMENT control message (or
//   with the socket option set) carrying a 16-bit size leaves as datagrams of that many payload
//   bytes, the last one possibly shorter: one sendmsg(2) moves up to 64 equal-sized encrypted
//   messages to one endpoint. The kernel refuses with EIO (udp_send_skb) for UDP-Lite, for a
//   route through IPsec and, before Linux 6.11, when the egress device cannot checksum, which
//   only shows on the first send through it; wireguard-go then turns GSO off for the socket
//   (conn/bind_std.go, errShouldDisableUDPGSO), and so does UdpGsoSender, sending the same
//   bytes one datagram at a time.
// - UDP_GRO (receive): with the socket option on, the kernel may hand over several datagrams
//   of one flow as one, with a SOL_UDP/UDP_GRO control message giving their size (an int); the
//   receive buffer must then hold up to 64 KiB, or the rest is cut off.
//
// Both control messages fit in a MsgBatch slot's area after the address one (pktinfo.ts:
// 40 + 24 bytes = CONTROL_SIZE), so a batch can carry them per message.

import { errno, koffi, libc, SysError } from './libc.js';
import { MSG_DONTWAIT } from './msg-batch.js';
import { allocNative, EIO, freeNative, type NativeBuffer } from './native.js';
import { CMSG_HDR, CONTROL_SIZE, encodePktinfo, type LocalAddr } from './pktinfo.js';
import {
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
  setU64,
} from './sockaddr.js';

export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
/** CMSG_SPACE(sizeof(uint16_t)): a UDP_SEGMENT control message. */
export const UDP_SEGMENT_SPACE = 24;
/**
 * Segments per send this code asks for at most: the kernel's UDP_MAX_SEGMENTS, 64 on older
 * kernels (later raised to 128); more is EINVAL.
 */
export const UDP_MAX_SEGMENTS = 64;
/** Largest UDP payload of one (super-)datagram. */
export const UDP_MAX_PAYLOAD = 65507;

const ENOPROTOOPT = 92;
const EOPNOTSUPP = 95;

interface Fns {
  setsockopt: (fd: number, level: number, name: number, val: number, len: number) => number;
  getsockopt: (fd: number, level: number, name: number, val: number, len: number) => number;
  sendmsg: (fd: number, msg: number, flags: number) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  fns ??= {
    setsockopt: libc().func('int setsockopt(int fd, int level, int name, uintptr_t val, uint32_t len)'),
    getsockopt: libc().func('int getsockopt(int fd, int level, int name, uintptr_t val, uintptr_t len)'),
    sendmsg: libc().func('long sendmsg(int fd, uintptr_t msg, int flags)'),
  } as Fns;
  return fns;
}

function withInt<T>(fn: (b: NativeBuffer) => T): T {
  const b = allocNative(8);
  try {
    return fn(b);
  } finally {
    freeNative(b);
  }
}

/** Whether this kernel knows UDP_SEGMENT (it answers getsockopt on the socket). */
export function udpGsoSupported(fd: number): boolean {
  return withInt((b) => {
    b.view.setUint32(4, 4, true);
    return f().getsockopt(fd, SOL_UDP, UDP_SEGMENT, b.addr, b.addr + 4) === 0;
  });
}

/**
 * Turns UDP_GRO on or off for a socket. Returns false when the kernel does not have it
 * (ENOPROTOOPT); other errors throw SysError.
 */
export function setUdpGro(fd: number, on: boolean): boolean {
  return withInt((b) => {
    b.view.setInt32(0, on ? 1 : 0, true);
    if (f().setsockopt(fd, SOL_UDP, UDP_GRO, b.addr, 4) === 0) return true;
    const e = errno();
    if (e === ENOPROTOOPT || e === EOPNOTSUPP) return false;
    throw new SysError('setsockopt UDP_GRO', e);
  });
}

/**
 * Sets the socket's UDP_SEGMENT option: every send larger than `gsoSize` bytes then leaves as
 * segments of that size, without a control message (0 turns it off). Throws SysError.
 */
export function setUdpSegment(fd: number, gsoSize: number): void {
  if (!(Number.isInteger(gsoSize) && gsoSize >= 0 && gsoSize <= 0xffff))
    throw new RangeError(`bad segment size ${gsoSize}`);
  withInt((b) => {
    b.view.setInt32(0, gsoSize, true);
    if (f().setsockopt(fd, SOL_UDP, UDP_SEGMENT, b.addr, 4) !== 0)
      throw new SysError('setsockopt UDP_SEGMENT', errno());
  });
}

/**
 * Writes a UDP_SEGMENT control message for `gsoSize`-byte segments at `off` (24 bytes, at an
 * 8-byte aligned offset, after any other control message) and returns its length.
 */
export function encodeUdpSegment(out: DataView, off: number, gsoSize: number): number {
  out.setBigUint64(off, BigInt(CMSG_HDR + 2), true); // cmsg_len = CMSG_LEN(2)
  out.setInt32(off + 8, SOL_UDP, true);
  out.setInt32(off + 12, UDP_SEGMENT, true);
  out.setUint16(off + CMSG_HDR, gsoSize, true);
  out.setUint16(off + CMSG_HDR + 2, 0, true);
  out.setUint32(off + CMSG_HDR + 4, 0, true);
  return UDP_SEGMENT_SPACE;
}

/**
 * The segment size a UDP_GRO receive reported in the control data bytes[off, off + len), or 0
 * when the datagram arrived alone. Malformed control data reads as 0, never past `len`.
 */
export function decodeUdpGro(bytes: Uint8Array, off: number, len: number): number {
  let at = off;
  const end = Math.min(off + len, bytes.length);
  while (at + CMSG_HDR <= end) {
    const cmsgLen = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
    if (cmsgLen < CMSG_HDR || at + cmsgLen > end) return 0;
    const level = bytes[at + 8]! | (bytes[at + 9]! << 8);
    const type = bytes[at + 12]! | (bytes[at + 13]! << 8);
    if (level === SOL_UDP && type === UDP_GRO && cmsgLen >= CMSG_HDR + 2)
      return bytes[at + CMSG_HDR]! | (bytes[at + CMSG_HDR + 1]! << 8);
    at += (cmsgLen + 7) & ~7;
  }
  return 0;
}

/** True for the send error after which UDP_SEGMENT must be turned off for the socket. */
export function gsoSendRefused(negErrno: number): boolean {
  return negErrno === -EIO;
}

// Scratch layout: sockaddr (32), msghdr, iovec, control.
const S_MSG = 32;
const S_IOV = S_MSG + MSGHDR_SIZE;
const S_CONTROL = S_IOV + IOVEC_SIZE;
const S_SIZE = S_CONTROL + CONTROL_SIZE;

/**
 * Sends super-datagrams with UDP_SEGMENT from one socket, falling back for good to one
 * datagram per segment when the kernel or the egress device refuses (`gso` false, `refusedBy`
 * the errno; the caller logs it once).
 */
export class UdpGsoSender {
  readonly fd: number;
  private readonly family: 4 | 6;
  private readonly scratch: NativeBuffer;
  /** Whether UDP_SEGMENT is used. */
  gso: boolean;
  /** The errno that turned it off (0: it is on, or the kernel never had it). */
  refusedBy = 0;

  constructor(fd: number, sockFamily: 4 | 6) {
    this.fd = fd;
    this.family = sockFamily;
    this.scratch = allocNative(S_SIZE);
    this.gso = udpGsoSupported(fd);
  }

  /**
   * Sends native memory [addr, addr + len) to `to` as datagrams of `segSize` bytes (the last
   * one shorter), from the source address `from` when given. Returns the bytes sent, or -errno
   * (-EAGAIN when the socket buffer is full; with the fallback, a failure after some datagrams
   * left returns what did). At most UDP_MAX_SEGMENTS segments.
   */
  send(to: RawAddr, addr: number, len: number, segSize: number, from?: LocalAddr): number {
    if (!(segSize >= 1 && len >= 0 && Math.ceil(len / segSize) <= UDP_MAX_SEGMENTS)) return -22;
    if (this.gso && len > segSize) {
      const r = this.sendOne(to, addr, len, segSize, from);
      if (!gsoSendRefused(r)) return r;
      this.gso = false;
      this.refusedBy = -r;
    }
    let sent = 0;
    for (let at = 0; at < len || (len === 0 && at === 0); at += segSize) {
      const n = Math.min(segSize, len - at);
      const r = this.sendOne(to, addr + at, n, 0, from);
      if (r < 0) return sent > 0 ? sent : r;
      sent += r;
      if (len === 0) break;
    }
    return sent;
  }

  private sendOne(to: RawAddr, addr: number, len: number, segSize: number, from?: LocalAddr): number {
    const s = this.scratch;
    const v = s.view;
    const alen = encodeSockaddr(to, v, 0, this.family);
    let clen = from ? encodePktinfo(from, v, S_CONTROL) : 0;
    if (segSize > 0) clen += encodeUdpSegment(v, S_CONTROL + clen, segSize);
    setU64(v, S_MSG, s.addr);
    v.setUint32(S_MSG + MSG_NAMELEN, alen, true);
    setU64(v, S_MSG + MSG_IOV, s.addr + S_IOV);
    setU64(v, S_MSG + MSG_IOVLEN, 1);
    setU64(v, S_MSG + MSG_CONTROL, clen ? s.addr + S_CONTROL : 0);
    setU64(v, S_MSG + MSG_CONTROLLEN, clen);
    v.setInt32(S_MSG + MSG_FLAGS, 0, true);
    setU64(v, S_IOV, addr);
    setU64(v, S_IOV + 8, len);
    const r = f().sendmsg(this.fd, s.addr + S_MSG, MSG_DONTWAIT);
    return r >= 0 ? r : -koffi().errno();
  }

  free(): void {
    freeNative(this.scratch);
  }
}
