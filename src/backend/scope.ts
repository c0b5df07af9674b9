// IPv6 scope ids the way wg prints them. A get reply carries `%<name>` or `%<number>`; wg
// resolves it with getaddrinfo (name → index) and prints it with getnameinfo(NI_NUMERICHOST),
// which writes the interface *name* for link-local and multicast link-local addresses when the
// index exists, and the number otherwise. Interface names and indexes come from
// /sys/class/net (the caller's network namespace), so no foreign function is needed.

import { readdirSync, readFileSync } from 'node:fs';
import type { Device, SockAddr } from '../model/index.js';
import { inetPton6, isLinkLocal6, isMcLinkLocal6 } from '../model/inet.js';

const SYS_NET = '/sys/class/net';

function nameToIndex(name: string): number | undefined {
  if (name.includes('/') || name === '.' || name === '..') return undefined;
  try {
    const n = Number(readFileSync(`${SYS_NET}/${name}/ifindex`, 'latin1').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function indexToName(index: number): string | undefined {
  try {
    for (const name of readdirSync(SYS_NET)) if (nameToIndex(name) === index) return name;
  } catch {}
  return undefined;
}

/** The scope text getnameinfo would print for this address, or the input when it cannot tell. */
export function displayScope(addr: SockAddr): SockAddr {
  if (addr.family !== 6 || addr.scope === undefined) return addr;
  const index = /^[0-9]+$/.test(addr.scope) ? Number(addr.scope) : nameToIndex(addr.scope);
  if (index === undefined) return addr;
  if (index === 0) return { family: addr.family, address: addr.address, port: addr.port };
  const bytes = inetPton6(addr.address);
  const name = bytes && (isLinkLocal6(bytes) || isMcLinkLocal6(bytes)) ? indexToName(index) : undefined;
  return { ...addr, scope: name ?? String(index) };
}

/** Rewrites every scoped endpoint of a device read over UAPI into wg's printed form. */
export function normalizeScopes(device: Device): void {
  for (const p of device.peers) {
    const fix = (a: SockAddr | undefined) => (a?.scope === undefined ? a : displayScope(a));
    for (const e of p.endpoints) if (e.addr) e.addr = fix(e.addr);
    if (p.activeEndpoint) p.activeEndpoint = fix(p.activeEndpoint);
    for (const s of p.endpointStates ?? []) s.addr = fix(s.addr)!;
  }
}
