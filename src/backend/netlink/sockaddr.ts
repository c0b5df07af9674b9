// WGPEER_A_ENDPOINT carries a struct sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes):
//   sockaddr_in:  u16 family (host order) | u16 port (network order) | 4-byte address | 8 zero bytes
//   sockaddr_in6: u16 family | u16 port | u32 flowinfo | 16-byte address | u32 scope id (host order)
// Address text is what glibc's inet_ntop writes, because that is what wg prints (model/inet.ts).

import type { SockAddr } from '../../model/index.js';
import {
  inetNtop4,
  inetNtop6,
  inetPton4,
  inetPton6,
  isLinkLocal6,
  isMcLinkLocal6,
} from '../../model/inet.js';
import { HOST_LE } from './attrs.js';
import { AF_INET, AF_INET6, EINVAL, SOCKADDR_IN_LEN, SOCKADDR_IN6_LEN, SOCKADDR_LEN } from './constants.js';
import { NetlinkError } from './errors.js';

/** Interface index ↔ name, for IPv6 scopes (injected so that this module stays pure). */
export interface ScopeNames {
  nameOf(index: number): string | undefined;
  indexOf(name: string): number;
}

export function encodeSockAddr(addr: SockAddr, scopes: ScopeNames): Uint8Array {
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 0xffff) {
    throw new NetlinkError(EINVAL, `endpoint port ${addr.port} out of range`);
  }
  if (addr.family === 4) {
    const ip = inetPton4(addr.address);
    if (!ip) throw new NetlinkError(EINVAL, `not an IPv4 address: ${addr.address}`);
    const b = new Uint8Array(SOCKADDR_IN_LEN);
    const v = new DataView(b.buffer);
    v.setUint16(0, AF_INET, HOST_LE);
    v.setUint16(2, addr.port, false);
    b.set(ip, 4);
    return b;
  }
  const ip = inetPton6(addr.address);
  if (!ip) throw new NetlinkError(EINVAL, `not an IPv6 address: ${addr.address}`);
  const b = new Uint8Array(SOCKADDR_IN6_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, HOST_LE);
  v.setUint16(2, addr.port, false);
  b.set(ip, 8);
  v.setUint32(24, scopeIdOf(addr.scope, scopes), HOST_LE);
  return b;
}

function scopeIdOf(scope: string | undefined, scopes: ScopeNames): number {
  if (scope === undefined || scope === '') return 0;
  if (/^[0-9]+$/.test(scope)) {
    const n = Number(scope);
    if (n > 0xffffffff) throw new NetlinkError(EINVAL, `IPv6 scope out of range: ${scope}`);
    return n;
  }
  const index = scopes.indexOf(scope);
  if (index === 0) throw new NetlinkError(EINVAL, `unknown interface in IPv6 scope: ${scope}`);
  return index;
}

/**
 * The endpoint in a WGPEER_A_ENDPOINT payload, or undefined for a family or size the kernel
 * would not have sent (wg ignores those too).
 */
export function decodeSockAddr(data: Uint8Array, scopes: ScopeNames): SockAddr | undefined {
  if (data.length < SOCKADDR_LEN) return undefined;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const family = v.getUint16(0, HOST_LE);
  const port = v.getUint16(2, false);
  if (family === AF_INET && data.length === SOCKADDR_IN_LEN) {
    return { family: 4, address: inetNtop4(data.subarray(4, 8)), port };
  }
  if (family === AF_INET6 && data.length === SOCKADDR_IN6_LEN) {
    const ip = data.subarray(8, 24);
    const out: SockAddr = { family: 6, address: inetNtop6(ip), port };
    const scopeId = v.getUint32(24, HOST_LE);
    if (scopeId !== 0) {
      // glibc getnameinfo: a name for link-local unicast and multicast, else the number.
      const linkLocal = isLinkLocal6(ip) || isMcLinkLocal6(ip);
      out.scope = (linkLocal ? scopes.nameOf(scopeId) : undefined) ?? String(scopeId);
    }
    return out;
  }
  return undefined;
}
