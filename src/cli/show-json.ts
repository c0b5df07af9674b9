// `wgm show [<interface> | all] --json`: one JSON document for scripts, wgm's addition to wg.
//
// Shape (for the man page):
//
//   {
//     "interfaces": [                       // one entry per interface read, in listing order
//       {
//         "name": "wg0",
//         "publicKey": "<base64>" | null,
//         "privateKey": "<base64>" | null,   // real keys, as in `dump` and wg-json; mind who reads it
//         "listenPort": 51820,               // 0 when none
//         "fwmark": 0,                       // 0 when off
//         "peers": [                         // backend order, like `dump` (not sorted)
//           {
//             "publicKey": "<base64>",
//             "presharedKey": "<base64>" | null,
//             "endpoint": "192.0.2.1:51820" | null,   // the active endpoint, as `endpoints` prints it
//             "candidates": [                // every candidate the backend holds; [] if it reports none
//               { "endpoint": "[2001:db8::1]:51820", "state": "active|standby|probing|failed|unknown",
//                 "rttMs": 12.5 | null, "lastSeen": <unix seconds> | null }
//             ],
//             "policy": "latency|preference" | null,  // endpoint policy; null: the backend has none
//             "roaming": true | false | null,         // follows the peer's roaming; null: as above
//             "allowedIPs": ["10.0.0.0/24", "fd00::/64"],
//             "latestHandshake": <unix seconds>,      // 0 = never
//             "latestHandshakeNsec": <nanoseconds>,
//             "rxBytes": <integer>, "txBytes": <integer>,  // exact 64-bit integers
//             "persistentKeepalive": <seconds>          // 0 = off
//           }
//         ]
//       }
//     ]
//   }
//
// Integers are written exactly, even above 2^53 (JSON has no limit; some parsers do).

import { keyToBase64 } from '../crypto/keys.js';
import type { Device, Key } from '../model/index.js';
import { wgEndpoint } from '../model/index.js';
import { formatAllowedIP, formatSockAddr } from '../model/inet.js';

function k(key: Key | undefined): string | null {
  return key ? keyToBase64(key) : null;
}

/** The JSON value of one device (bigints kept; see toJson). */
export function deviceJson(d: Device, name: string): unknown {
  return {
    name,
    publicKey: k(d.publicKey),
    privateKey: k(d.privateKey),
    listenPort: d.listenPort ?? 0,
    fwmark: d.fwmark ?? 0,
    peers: d.peers.map((p) => {
      const ep = wgEndpoint(p);
      return {
        publicKey: k(p.publicKey),
        presharedKey: k(p.presharedKey),
        endpoint: ep ? formatSockAddr(ep) : null,
        candidates: (p.endpointStates ?? []).map((c) => ({
          endpoint: formatSockAddr(c.addr),
          state: c.state,
          rttMs: c.rttMs ?? null,
          lastSeen: c.lastSeenSec ?? null,
        })),
        policy: p.policy ?? null,
        roaming: p.roaming ?? null,
        allowedIPs: p.allowedIPs.map(formatAllowedIP),
        latestHandshake: p.lastHandshake?.sec ?? 0n,
        latestHandshakeNsec: p.lastHandshake?.nsec ?? 0,
        rxBytes: p.rxBytes ?? 0n,
        txBytes: p.txBytes ?? 0n,
        persistentKeepalive: p.persistentKeepalive ?? 0,
      };
    }),
  };
}

const BIG = '\u0000big:';

/** JSON text with bigints written as exact integers. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${BIG}${v}` : v), 2);
  return text.replace(/"\\u0000big:(-?[0-9]+)"/g, '$1');
}
