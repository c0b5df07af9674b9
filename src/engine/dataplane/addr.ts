// Socket addresses between the model's text form (SockAddr, as config and UAPI carry them)
// and the raw bytes the data plane puts in sockaddrs (RawAddr).

import type { SockAddr } from '../../model/index.js';
import { inetNtop, inetPton4, inetPton6 } from '../../model/inet.js';
import { ifNameToIndex } from '../../sys/tun.js';
import type { RawAddr } from '../../sys/udp.js';

/** Throws RangeError for an address that is not numeric text of its family. */
export function toRaw(a: SockAddr): RawAddr {
  const address = a.family === 4 ? inetPton4(a.address) : inetPton6(a.address);
  if (!address) throw new RangeError(`not an IPv${a.family} address: ${a.address}`);
  let scopeId = 0;
  if (a.family === 6 && a.scope !== undefined && a.scope !== '') {
    scopeId = /^[0-9]+$/.test(a.scope) ? Number(a.scope) : ifNameToIndex(a.scope);
    if (!scopeId) throw new RangeError(`unknown scope ${a.scope}`);
  }
  return { family: a.family, address, port: a.port, scopeId };
}

export function fromRaw(r: RawAddr): SockAddr {
  const out: SockAddr = { family: r.family, address: inetNtop(r.address), port: r.port };
  if (r.family === 6 && r.scopeId) out.scope = String(r.scopeId);
  return out;
}
