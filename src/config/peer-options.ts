// wgm's own [Peer] keys, read by `wgm up`, `reload` and `save` and removed by `wgm strip`, as
// wg-quick's [Interface] keys are (config/quick.ts collects them):
//
//   EndpointPolicy = latency | preference   how wgm-engine picks among the peer's endpoints
//   Roaming = on | off                      whether the endpoint follows the peer's roaming
//
// (man/wgm.conf.5). Values compare case-insensitively; `true`/`false` are taken for Roaming as
// for SaveConfig. They reach the backend as UAPI extension keys (docs/uapi-extensions.md),
// only a backend that advertises multi_endpoint.

import { WgError } from '../model/errors.js';
import type { Device, EndpointPolicy } from '../model/index.js';
import type { RawPeerOption } from './quick.js';

export interface PeerOption {
  line: number;
  policy?: EndpointPolicy;
  roaming?: boolean;
}

const POLICIES: Record<string, EndpointPolicy> = { latency: 'latency', preference: 'preference' };
const BOOLS: Record<string, boolean> = { on: true, off: false, true: true, false: false };

/** Checks every value; throws WgError('quick') naming file:line and what is accepted. */
export function parsePeerOptions(raw: readonly RawPeerOption[], file: string): PeerOption[] {
  return raw.map((o) => {
    const v = o.value.toLowerCase();
    if (o.key === 'EndpointPolicy') {
      const policy = POLICIES[v];
      if (!policy)
        throw new WgError(
          'quick',
          `${file}:${o.line}: EndpointPolicy is \`${o.value}': it must be latency or preference`,
        );
      return { line: o.line, policy };
    }
    const roaming = BOOLS[v];
    if (roaming === undefined)
      throw new WgError('quick', `${file}:${o.line}: Roaming is \`${o.value}': it must be on or off`);
    return { line: o.line, roaming };
  });
}

/**
 * Gives each peer of `device` the options written in its section: the section is the last
 * `[Peer]` header (`peerLines`, index-aligned with device.peers) above the option's line.
 * The last value of a key in a section wins.
 */
export function applyPeerOptions(
  device: Device,
  peerLines: readonly number[],
  options: readonly PeerOption[],
): void {
  for (const o of options) {
    let i = -1;
    for (let k = 0; k < peerLines.length; k++) if (peerLines[k]! < o.line) i = k;
    const peer = device.peers[i];
    if (!peer) continue;
    if (o.policy !== undefined) peer.policy = o.policy;
    if (o.roaming !== undefined) peer.roaming = o.roaming;
  }
}
