// Socket addresses as the core needs them: the address bytes (for cookies, which are a MAC over
// the sender's address and port, and for the per-source rate limiter), and a canonical key so
// that two spellings of one address compare equal. Text is parsed by the model's inet_pton
// (model/inet.ts) and printed by its formatSockAddr; nothing here re-implements either.

import type { SockAddr } from '../../model/index.js';
import { inetPton4, inetPton6 } from '../../model/inet.js';

/** The address bytes (4 or 16) of a numeric address, or undefined when it is not one. */
export function ipBytes(a: SockAddr): Uint8Array | undefined {
  return a.family === 4 ? inetPton4(a.address) : inetPton6(a.address);
}

/** A canonical key for maps: family, address bytes, port. */
export function addrKey(a: SockAddr): string {
  const b = ipBytes(a);
  const host = b ? Buffer.from(b).toString('hex') : a.address;
  return `${a.family}/${host}/${a.port}`;
}

/** What a cookie is a MAC of: the address bytes, then the port in network byte order. */
export function cookieSource(a: SockAddr): Uint8Array {
  const b = ipBytes(a) ?? new TextEncoder().encode(a.address);
  const out = new Uint8Array(b.length + 2);
  out.set(b, 0);
  out[b.length] = (a.port >> 8) & 0xff;
  out[b.length + 1] = a.port & 0xff;
  return out;
}

/** The rate limiter's bucket: the whole IPv4 address, or the /64 of an IPv6 one. */
export function rateLimitKey(a: SockAddr): string {
  const b = ipBytes(a);
  if (!b) return a.address;
  return Buffer.from(a.family === 4 ? b : b.subarray(0, 8)).toString('hex');
}

export function sameAddr(a: SockAddr | undefined, b: SockAddr | undefined): boolean {
  if (!a || !b) return a === b;
  return addrKey(a) === addrKey(b);
}
