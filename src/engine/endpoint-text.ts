// Endpoint addresses between the text of a UAPI `set` and `get` (the model's SockAddr) and the
// binary PathAddr the rest of the engine keeps (core/addr.ts). This is the only place they
// convert: a set on its way in (EngineDevice.set), a get on its way out (EngineDevice.get).
//
// An IPv6 scope is an interface index inside the engine. A set may name the interface
// (`[fe80::1%eth0]:51820`) or give its index; a get reports the index, which wg turns back into
// the name when it prints (getnameinfo(3) with NI_NUMERICHOST, wireguard-tools ipc-uapi.h).

import type { Device, Peer, SockAddr } from '../model/index.js';
import { formatSockAddr, inetNtop, inetPton4, inetPton6 } from '../model/inet.js';
import { ifNameToIndex } from '../sys/ifname.js';
import type { PathAddr } from './core/addr.js';

/** Throws RangeError naming the endpoint when its address is not numeric or its scope unknown. */
export function pathFromText(a: SockAddr): PathAddr {
  const address = a.family === 4 ? inetPton4(a.address) : inetPton6(a.address);
  if (!address) throw new RangeError(`endpoint ${formatSockAddr(a)}: not an IPv${a.family} address`);
  let scopeId = 0;
  if (a.family === 6 && a.scope !== undefined && a.scope !== '') {
    scopeId = /^[0-9]+$/.test(a.scope) ? Number(a.scope) : ifNameToIndex(a.scope);
    if (!Number.isSafeInteger(scopeId) || scopeId > 0xffffffff)
      throw new RangeError(`endpoint ${formatSockAddr(a)}: scope ${a.scope} is out of range`);
    if (scopeId === 0 && !/^[0-9]+$/.test(a.scope))
      throw new RangeError(`endpoint ${formatSockAddr(a)}: no interface named ${a.scope}`);
  }
  return { family: a.family, address, port: a.port, scopeId };
}

export function pathToText(a: PathAddr): SockAddr {
  const out: SockAddr = { family: a.family, address: inetNtop(a.address), port: a.port };
  if (a.family === 6 && a.scopeId) out.scope = String(a.scopeId);
  return out;
}

/** A set's change with binary endpoints. Throws RangeError (see pathFromText); nothing is applied then. */
export function deviceFromText(change: Device): Device<PathAddr> {
  return mapAddrs(change, pathFromText);
}

/** The core's device as a get reports it: endpoints as text. */
export function deviceToText(device: Device<PathAddr>): Device {
  return mapAddrs(device, pathToText);
}

function mapAddrs<A, B>(d: Device<A>, f: (a: A) => B): Device<B> {
  return {
    ...d,
    peers: d.peers.map(({ endpoints, activeEndpoint, endpointStates, ...rest }) => {
      const peer: Peer<B> = {
        ...rest,
        endpoints: endpoints.map(({ addr, ...e }) => (addr ? { ...e, addr: f(addr) } : e)),
      };
      if (activeEndpoint) peer.activeEndpoint = f(activeEndpoint);
      if (endpointStates) peer.endpointStates = endpointStates.map((s) => ({ ...s, addr: f(s.addr) }));
      return peer;
    }),
  };
}
