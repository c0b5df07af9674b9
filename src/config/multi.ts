// Which peers of a config carry several distinct `Endpoint` values: what decides, before
// anything else, that `wgm up` needs a backend that holds several endpoints per peer.

import { keyToBase64 } from '../crypto/keys.js';
import { parseConfig } from './parse.js';

/** A peer with several distinct endpoint values: its key text, the count, its `[Peer]` line. */
export interface MultiPeer {
  peer: string;
  count: number;
  line?: number;
}

/** Peers of WireGuard config text `wgText` (from `file`) with several distinct Endpoint values. */
export function multiEndpointPeers(wgText: string, file: string): MultiPeer[] {
  const parsed = parseConfig(wgText, { file });
  const out: MultiPeer[] = [];
  parsed.device.peers.forEach((p, i) => {
    const specs = new Set(p.endpoints.map((e) => e.spec));
    if (specs.size < 2) return;
    const m: MultiPeer = { peer: p.publicKey ? keyToBase64(p.publicKey) : '(no key)', count: specs.size };
    const line = parsed.peerLines[i];
    if (line !== undefined) m.line = line;
    out.push(m);
  });
  return out;
}
