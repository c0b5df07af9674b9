// The engine's one shape for a UDP endpoint: the remote address of a path, kept binary from the
// socket to the core and back (as wireguard-go's netip.AddrPort and boringtun's SocketAddr).
// Text exists only at the engine's edges: a UAPI `set` or `get` (engine/endpoint-text.ts) and
// log lines (formatPath). The fields are those of sys/sockaddr.ts's RawAddr, so the same object
// goes from the core through the data plane to sendmsg(2) unchanged (the core may not import
// sys; dataplane/dataplane.ts's ONE_ADDRESS_SHAPE fails to compile if the two drift apart).

import { inetNtop4, inetNtop6 } from '../../model/inet.js';

/** A UDP path's remote address. */
export interface PathAddr {
  family: 4 | 6;
  /** The 4 or 16 address bytes, network order. */
  address: Uint8Array;
  port: number;
  /** IPv6 scope (interface index, for link-local addresses); 0 for none and for IPv4. */
  scopeId: number;
}

/**
 * copyPath's results. No code changes a PathAddr once made (the receive path's addresses are
 * the only ones that point into memory reused later, and those are never in this set), so a
 * copy of a copy can be the copy itself: a peer's endpoint used to be copied 4-5 times on its
 * way from the configuration through the core's lines, candidates and selector to the data
 * plane's mirror, each copy ~250 bytes of heap (a 4-byte address in its own Uint8Array and
 * ArrayBuffer): ~1 MiB with 1,000 peers.
 */
const held = new WeakSet<PathAddr>();

/**
 * A copy that shares no bytes with `a` (for what outlives the packet that carried it), or `a`
 * itself when it is such a copy. Nobody may change the result.
 */
export function copyPath(a: PathAddr): PathAddr {
  if (held.has(a)) return a;
  const c = { family: a.family, address: Uint8Array.from(a.address), port: a.port, scopeId: a.scopeId };
  held.add(c);
  return c;
}

/** Same family, bytes, port and scope. */
export function samePath(a: PathAddr | undefined, b: PathAddr | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.port !== b.port || a.family !== b.family || a.scopeId !== b.scopeId) return false;
  const x = a.address;
  const y = b.address;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** A key for maps, equal exactly when samePath is: "4/c0000201/51820", "6/fe80…01%3/51820". */
export function pathKey(a: PathAddr): string {
  let hex = '';
  for (const b of a.address) hex += (b < 16 ? '0' : '') + b.toString(16);
  return `${a.family}/${hex}${a.scopeId ? `%${a.scopeId}` : ''}/${a.port}`;
}

/** For logs and the UAPI: 192.0.2.1:51820, [2001:db8::1]:51820, [fe80::1%3]:51820. */
export function formatPath(a: PathAddr): string {
  if (a.family === 4) return `${inetNtop4(a.address)}:${a.port}`;
  return `[${inetNtop6(a.address)}${a.scopeId ? `%${a.scopeId}` : ''}]:${a.port}`;
}

/** What a cookie is a MAC of: the address bytes, then the port in network byte order. */
export function cookieSource(a: PathAddr): Uint8Array {
  const b = a.address;
  const out = new Uint8Array(b.length + 2);
  out.set(b, 0);
  out[b.length] = (a.port >> 8) & 0xff;
  out[b.length + 1] = a.port & 0xff;
  return out;
}

/** The rate limiter's bucket: the whole IPv4 address, or the /64 of an IPv6 one. */
export function rateLimitKey(a: PathAddr): string {
  return Buffer.from(a.family === 4 ? a.address : a.address.subarray(0, 8)).toString('hex');
}
