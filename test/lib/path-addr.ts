// Endpoint addresses for tests, written as text: "192.0.2.1:51820", "[2001:db8::1]:51820",
// "[fe80::1%3]:51820" (a numeric scope; names need the engine's lookup, engine/endpoint-text.ts).

import type { PathAddr } from '../../src/engine/core/addr.js';
import { inetPton4, inetPton6 } from '../../src/model/inet.js';

export function pathAddr(text: string): PathAddr {
  const m = /^\[([^%\]]+)(?:%(\d+))?\]:(\d+)$/.exec(text) ?? /^([^:]+)():(\d+)$/.exec(text);
  if (!m) throw new Error(`bad endpoint ${text}`);
  const v4 = inetPton4(m[1]!);
  const address = v4 ?? inetPton6(m[1]!);
  if (!address) throw new Error(`bad endpoint address ${m[1]}`);
  return { family: v4 ? 4 : 6, address, port: Number(m[3]), scopeId: Number(m[2] || 0) };
}

/** An address and a port: hostAddr('10.0.0.1', 1) is pathAddr('10.0.0.1:1'). */
export function hostAddr(host: string, port: number): PathAddr {
  return pathAddr(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
}
