// The multi-endpoint refusal (the extension keys are described in docs/uapi-extensions.md).
//
// How wgm's extension and wg's "last endpoint wins" rule coexist:
// - A peer given several endpoints (several `Endpoint` lines in a [Peer], several `endpoint`
//   options after one `peer` in `wgm set`) keeps all of them as candidates, in order. Repeats of
//   the same resolved address count once, so `endpoint A endpoint A` is still one endpoint.
// - A peer with one endpoint is sent exactly as wg sends it (`endpoint=`), to every backend.
// - A peer with several candidates needs a backend that can hold them (capabilities().multiEndpoint,
//   which only wgm-engine advertises). The kernel and wireguard-go hold one endpoint per peer; sending
//   them the list would silently keep one address where the user asked for failover, so wgm refuses
//   the whole change before anything is applied and says what to do instead. wg, given the same
//   input, would have kept the last endpoint only.
// The backend is asked only when some peer has several candidates, so that every other command
// talks to the device exactly as wg does (no extra `get`).

import type { Capabilities } from '../backend/backend.js';
import { keyToBase64 } from '../crypto/keys.js';
import { WgError } from '../model/errors.js';
import type { Device, Endpoint, Peer } from '../model/index.js';
import { sameSockAddr } from '../model/inet.js';

/** Where a peer came from: the file and line of its `[Peer]` header, when it came from a file. */
export interface PeerSource {
  file?: string;
  line?: number;
}

export interface Offender {
  peer: Peer;
  count: number;
  source?: PeerSource;
}

/** Drops candidates whose resolved address repeats an earlier one; the first occurrence keeps its place. */
export function collapseEndpoints(peer: Peer): void {
  const kept: Endpoint[] = [];
  for (const ep of peer.endpoints) {
    const addr = ep.addr;
    if (addr && kept.some((k) => k.addr !== undefined && sameSockAddr(k.addr, addr))) continue;
    kept.push(ep);
  }
  peer.endpoints = kept;
}

/** Peers that would send several candidate endpoints (removed peers send nothing but their key). */
export function multiEndpointPeers(
  device: Device,
  sources: readonly (PeerSource | undefined)[] = [],
): Offender[] {
  const out: Offender[] = [];
  device.peers.forEach((peer, i) => {
    collapseEndpoints(peer);
    if (peer.remove || peer.endpoints.length < 2) return;
    const source = sources[i];
    out.push(
      source ? { peer, count: peer.endpoints.length, source } : { peer, count: peer.endpoints.length },
    );
  });
  return out;
}

/** The backend in words, for the refusal. */
export function describeBackend(iface: string, caps: Capabilities): string {
  if (caps.kind === 'kernel') return `${iface} is a kernel WireGuard interface`;
  if (caps.implementation)
    return `${iface} is run by ${caps.implementation}, which does not offer multi_endpoint`;
  return `${iface} is run by a userspace daemon that does not offer multi_endpoint (such as wireguard-go)`;
}

function peerLine(o: Offender): { prefix: string; text: string } {
  const key = o.peer.publicKey ? keyToBase64(o.peer.publicKey) : '(no public key)';
  const { file, line } = o.source ?? {};
  const prefix = file !== undefined && line !== undefined ? `${file}:${line}: ` : '';
  return { prefix, text: `Peer ${key} has ${o.count} endpoints` };
}

/**
 * The refusal: names the first offending peer in the message (with its file:line as the
 * location), every further one in a trailer line, the backend, and the way out.
 */
export function refusal(
  iface: string,
  caps: Capabilities,
  offenders: Offender[],
  from: 'set' | 'file',
): WgError {
  const first = offenders[0]!;
  const head = peerLine(first);
  const backend = describeBackend(iface, caps);
  const trailer = offenders.slice(1).map((o) => {
    const l = peerLine(o);
    return `${l.prefix}${l.text}`;
  });
  const instead =
    from === 'file'
      ? 'or keep one Endpoint line per [Peer] (wg would keep only the last)'
      : "or give one `endpoint' per peer";
  trailer.push(
    `Nothing was changed. Several endpoints per peer need wgm-engine: use \`wgm up ${iface}', which runs it, ${instead}.`,
  );
  const where: { file?: string; line?: number; peer?: string; backend: string; iface: string } = {
    backend: caps.implementation ?? caps.kind,
    iface,
  };
  if (first.source?.file !== undefined) where.file = first.source.file;
  if (first.source?.line !== undefined) where.line = first.source.line;
  if (first.peer.publicKey) where.peer = keyToBase64(first.peer.publicKey);
  return new WgError('capability', `${head.text}, but ${backend}: it holds one endpoint per peer`, {
    where,
    trailer,
  });
}

/**
 * Refuses, before anything is applied, a change that has peers with several endpoints when the
 * backend cannot hold them. `capabilities` is called only when there is such a peer.
 */
export async function ensureBackendCanHold(
  iface: string,
  device: Device,
  opts: {
    capabilities: (iface: string) => Promise<Capabilities>;
    sources?: readonly (PeerSource | undefined)[];
    from: 'set' | 'file';
  },
): Promise<void> {
  const offenders = multiEndpointPeers(device, opts.sources);
  if (offenders.length === 0) return;
  const caps = await opts.capabilities(iface);
  if (!caps.multiEndpoint) throw refusal(iface, caps, offenders, opts.from);
}
