// Seeded random models for the property tests: devices whose every field can be written in a
// config file, with addresses biased towards the shapes glibc prints specially (zero runs,
// IPv4-compatible and -mapped IPv6, link-local scopes).

import {
  type AllowedIP,
  type Device,
  type Endpoint,
  newDevice,
  newPeer,
  type SockAddr,
} from '../../../src/model/index.js';
import type { Rng } from '../../lib/rng.js';

function nonZeroKey(rng: Rng): Uint8Array {
  const k = rng.bytes(32);
  k[rng.int(32)]! |= 1;
  return k;
}

/** 16 bytes with runs of zero groups and the special prefixes glibc's inet_ntop cares about. */
export function randomV6(rng: Rng): Uint8Array {
  const b = new Uint8Array(16);
  for (let g = 0; g < 8; g++) {
    if (rng.chance(0.45)) continue;
    const small = rng.chance(0.5);
    b[2 * g] = small ? 0 : rng.int(256);
    b[2 * g + 1] = rng.int(256);
  }
  switch (rng.int(6)) {
    case 0:
      b.fill(0, 0, 12); // IPv4-compatible
      break;
    case 1:
      b.fill(0, 0, 10); // IPv4-mapped
      b[10] = 0xff;
      b[11] = 0xff;
      break;
    case 2:
      b[0] = 0xfe; // link-local
      b[1] = 0x80 | rng.int(0x40);
      break;
    default:
      break;
  }
  return b;
}

function randomAllowedIP(rng: Rng): AllowedIP {
  const v6 = rng.chance(0.5);
  const address = v6 ? randomV6(rng) : rng.bytes(4);
  return { family: v6 ? 6 : 4, address, cidr: rng.int(v6 ? 129 : 33) };
}

function v6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':');
}

function randomSockAddr(rng: Rng): SockAddr {
  const port = rng.int(65536);
  if (rng.chance(0.5)) return { family: 4, address: Array.from(rng.bytes(4)).join('.'), port };
  const b = randomV6(rng);
  const addr: SockAddr = { family: 6, address: v6Text(b), port };
  const linkLocal = b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
  // Numeric scopes stay numbers only where no interface has that index.
  if (linkLocal && rng.chance(0.7)) addr.scope = rng.chance(0.5) ? 'lo' : String(100000 + rng.int(1000));
  else if (!linkLocal && rng.chance(0.2)) addr.scope = String(1 + rng.int(0xfffffffe));
  return addr;
}

/** A device as a config file can describe it; endpoints carry `addr` only. */
export function randomDevice(rng: Rng): Device {
  const d = newDevice();
  if (rng.chance(0.7)) d.privateKey = rng.bytes(32);
  if (rng.chance(0.6)) d.listenPort = 1 + rng.int(65535);
  if (rng.chance(0.3)) d.fwmark = 1 + rng.int(0xfffffffe);
  const peers = rng.int(5);
  for (let i = 0; i < peers; i++) {
    const p = newPeer({ publicKey: rng.bytes(32), replaceAllowedIPs: true });
    if (rng.chance(0.3)) p.presharedKey = nonZeroKey(rng);
    const ips = rng.int(5);
    for (let j = 0; j < ips; j++) p.allowedIPs.push(randomAllowedIP(rng));
    const eps = rng.int(4);
    for (let j = 0; j < eps; j++) p.endpoints.push({ addr: randomSockAddr(rng) } satisfies Endpoint);
    if (rng.chance(0.4)) p.persistentKeepalive = 1 + rng.int(65535);
    d.peers.push(p);
  }
  return d;
}
