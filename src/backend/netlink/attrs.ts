// Netlink message and attribute encoding (linux/netlink.h; the same layout libmnl writes):
//
//   nlmsghdr   u32 len | u16 type | u16 flags | u32 seq | u32 pid        (16 bytes)
//   extra hdr  e.g. genlmsghdr: u8 cmd | u8 version | u16 reserved   (4 bytes, padded to 4)
//   nlattr     u16 len | u16 type | payload | padding to 4            (len excludes padding)
//
// A nest is an attribute whose payload is attributes; its type carries NLA_F_NESTED, as libmnl
// sets it. Integers are in host byte order. The builder checks room against a fixed message
// size exactly like libmnl's *_check() functions, so callers can split messages like wg.

import {
  EBADMSG,
  EMSGSIZE,
  NLA_ALIGNTO,
  NLA_F_NESTED,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
} from './constants.js';
import { NetlinkError } from './errors.js';

/** True on little-endian hosts (x86-64, arm64): netlink integers are in host order. */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function align(n: number): number {
  return (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

/** One netlink message under construction, at most `capacity` bytes long. */
export class MessageBuilder {
  readonly capacity: number;
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private len: number;

  constructor(type: number, flags: number, capacity: number) {
    this.capacity = capacity;
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.len = NLMSG_HDRLEN;
    this.view.setUint16(4, type, HOST_LE);
    this.view.setUint16(6, flags, HOST_LE);
  }

  get length(): number {
    return this.len;
  }

  /** Appends a fixed family header (genlmsghdr, ifinfomsg), padded to 4 bytes. */
  extraHeader(bytes: Uint8Array): this {
    this.reserve(align(bytes.length));
    this.buf.set(bytes, this.len);
    this.len += align(bytes.length);
    return this;
  }

  /** Room for an attribute with `payloadLen` bytes of payload (libmnl's mnl_attr_put_check rule). */
  fits(payloadLen: number): boolean {
    return this.len + NLA_HDRLEN + align(payloadLen) <= this.capacity;
  }

  /** Appends an attribute; throws when it does not fit (callers that split use the *Check forms). */
  put(type: number, payload: Uint8Array): this {
    if (!this.putCheck(type, payload)) {
      throw new NetlinkError(
        EMSGSIZE,
        `netlink attribute ${type} does not fit in a ${this.capacity}-byte message`,
      );
    }
    return this;
  }

  putCheck(type: number, payload: Uint8Array): boolean {
    if (!this.fits(payload.length)) return false;
    const at = this.len;
    this.view.setUint16(at, NLA_HDRLEN + payload.length, HOST_LE);
    this.view.setUint16(at + 2, type, HOST_LE);
    this.buf.set(payload, at + NLA_HDRLEN);
    this.buf.fill(0, at + NLA_HDRLEN + payload.length, at + align(NLA_HDRLEN + payload.length));
    this.len = at + align(NLA_HDRLEN + payload.length);
    return true;
  }

  putU8Check(type: number, v: number): boolean {
    return this.putIntCheck(type, 1, v);
  }
  putU16Check(type: number, v: number): boolean {
    return this.putIntCheck(type, 2, v);
  }
  putU32Check(type: number, v: number): boolean {
    return this.putIntCheck(type, 4, v);
  }
  putU16(type: number, v: number): this {
    if (!this.putU16Check(type, v)) this.put(type, u16(v));
    return this;
  }
  putU32(type: number, v: number): this {
    if (!this.putU32Check(type, v)) this.put(type, u32(v));
    return this;
  }
  /** A NUL-terminated string (libmnl's mnl_attr_put_strz). */
  putStrz(type: number, s: string): this {
    return this.put(type, strz(s));
  }

  /** An integer attribute written in place (the hot path of large SET requests). */
  private putIntCheck(type: number, size: 1 | 2 | 4, v: number): boolean {
    if (!this.fits(size)) return false;
    const at = this.len;
    this.view.setUint16(at, NLA_HDRLEN + size, HOST_LE);
    this.view.setUint16(at + 2, type, HOST_LE);
    this.view.setUint32(at + NLA_HDRLEN, 0); // the payload and its padding
    if (size === 1) this.view.setUint8(at + NLA_HDRLEN, v);
    else if (size === 2) this.view.setUint16(at + NLA_HDRLEN, v, HOST_LE);
    else this.view.setUint32(at + NLA_HDRLEN, v >>> 0, HOST_LE);
    this.len = at + NLA_HDRLEN + 4;
    return true;
  }

  /** Opens a nest and returns its offset, or undefined when not even its header fits. */
  nestStartCheck(type: number): number | undefined {
    if (this.len + NLA_HDRLEN > this.capacity) return undefined;
    const at = this.len;
    this.view.setUint16(at + 2, type | NLA_F_NESTED, HOST_LE);
    this.len += NLA_HDRLEN;
    return at;
  }

  nestStart(type: number): number {
    const at = this.nestStartCheck(type);
    if (at === undefined) throw new NetlinkError(EMSGSIZE, `netlink nest ${type} does not fit`);
    return at;
  }

  nestEnd(at: number): void {
    this.view.setUint16(at, this.len - at, HOST_LE);
  }

  /** Drops a nest and everything written inside it. */
  nestCancel(at: number): void {
    this.len = at;
  }

  /** The finished message with its length and sequence number filled in (pid 0: the kernel). */
  finish(seq: number): Uint8Array {
    const out = this.buf.slice(0, this.len);
    const v = new DataView(out.buffer);
    v.setUint32(0, this.len, HOST_LE);
    v.setUint32(8, seq >>> 0, HOST_LE);
    return out;
  }

  private reserve(n: number): void {
    if (this.len + n > this.capacity) throw new NetlinkError(EMSGSIZE, 'netlink header does not fit');
  }
}

export function u16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, HOST_LE);
  return b;
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, HOST_LE);
  return b;
}

export function strz(s: string): Uint8Array {
  const text = new TextEncoder().encode(s);
  const b = new Uint8Array(text.length + 1);
  b.set(text);
  return b;
}

// --- decoding ---

export interface Attr {
  /** Type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits. */
  type: number;
  /** The payload (a view into the message, not a copy). */
  data: Uint8Array;
}

/**
 * The attributes in `buf` from `offset` on. A truncated or malformed attribute is an error
 * (EBADMSG), never silently skipped.
 */
export function parseAttrs(buf: Uint8Array, offset = 0): Attr[] {
  const out: Attr[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = offset;
  while (at + NLA_HDRLEN <= buf.length) {
    const len = view.getUint16(at, HOST_LE);
    const type = view.getUint16(at + 2, HOST_LE) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN || at + len > buf.length) {
      throw new NetlinkError(EBADMSG, `malformed netlink attribute (type ${type}, length ${len})`);
    }
    out.push({ type, data: buf.subarray(at + NLA_HDRLEN, at + len) });
    at += align(len);
  }
  return out;
}

function need(a: Attr, len: number, what: string): Uint8Array {
  if (a.data.length !== len) {
    throw new NetlinkError(EBADMSG, `netlink attribute ${what} has ${a.data.length} bytes, expected ${len}`);
  }
  return a.data;
}

export function getU8(a: Attr, what: string): number {
  return need(a, 1, what)[0]!;
}
export function getU16(a: Attr, what: string): number {
  const d = need(a, 2, what);
  return HOST_LE ? d[0]! | (d[1]! << 8) : (d[0]! << 8) | d[1]!;
}
export function getU32(a: Attr, what: string): number {
  const d = need(a, 4, what);
  const le = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
  return HOST_LE ? le : ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}
export function getU64(a: Attr, what: string): bigint {
  const d = need(a, 8, what);
  return new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, HOST_LE);
}
/** A string attribute, up to its first NUL. */
export function getStr(a: Attr): string {
  const nul = a.data.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? a.data : a.data.subarray(0, nul));
}
