// The C structures the UDP calls take, as bytes in native memory: socket addresses
// (sockaddr_in, sockaddr_in6 with v4-mapped IPv4 on a dual-stack socket) and the layout of
// struct msghdr / struct mmsghdr (LP64) that sendmsg, recvmmsg and sendmmsg read.

import { SysError } from './libc.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_NONBLOCK = 0o4000;
export const SOL_SOCKET = 1;
export const MSG_TRUNC = 0x20;
export const EAFNOSUPPORT = 97;

/** sizeof(struct sockaddr_in6); a sockaddr_in (16) fits in the same space. */
export const SOCKADDR_SIZE = 28;

// struct msghdr fields, and struct mmsghdr (a msghdr and its msg_len, padded).
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
export const MSG_FLAGS = 48;
export const MSGHDR_SIZE = 56;
export const MSG_LEN = 56;
export const MMSGHDR_SIZE = 64;
export const IOVEC_SIZE = 16;

/** Stores a 53-bit number (an address, a length) as a little-endian u64, without a bigint. */
export function setU64(v: DataView, off: number, addr: number): void {
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
