// Counts, from the wire, the transport packets a standard WireGuard peer drops because their
// receiver index names no keypair it still holds: the loss that racing initiations with
// different timestamps causes (a later initiation replaces the peer's unconfirmed keypair, and
// data sent on the replaced one is discarded without a word; wireguard-go's receive path just
// skips a packet whose index lookup finds no keypair, `RoutineReceiveIncoming` in
// device/receive.go).
//
// The peer's three keypair slots are replayed from the handshake messages it sends and receives,
// as wireguard-go keeps them (device/noise-protocol.go, `BeginSymmetricSession` and
// `ReceivedWithKeypair`; the kernel's noise.c `add_new_keypair` and `received_with_keypair`
// follow the same rules):
//   - it sends a response (it is the responder): the new keypair becomes `next`, the old `next`
//     and `previous` are deleted;
//   - it receives a response to its own initiation (it is the initiator): the new keypair
//     becomes `current`; the old `current` becomes `previous`, or, when a `next` was waiting,
//     that `next` becomes `previous` and the old `current` is deleted; the old `previous` goes;
//   - data arrives on `next`: `next` becomes `current`, `current` becomes `previous`.
// A data packet whose receiver index is none of the three is counted as dropped. Keypair
// expiry (REJECT_AFTER_TIME, 180 s) is not modelled: audit shorter runs than that.
//
// The events come from test/lib/wire-tap.ts started with `{ afterHandshakes: true }` on the
// peer's link, so that every index a packet uses after each handshake message is seen.

import type { TapEvent } from './wire-tap.js';

export interface IndexAudit {
  /** Data events addressed to the peer that were checked. */
  checked: number;
  /** Those whose receiver index the peer no longer (or never) held. */
  unknown: Extract<TapEvent, { type: 'data' }>[];
  /** Responses the peer sent (keypairs it created as responder). */
  responses: number;
}

/**
 * Replays the keypair slots of the standard peer listening at `peer` ("addr:port", as the tap
 * prints it) and audits the data packets sent to it.
 */
export function auditPeerIndices(events: readonly TapEvent[], peer: string): IndexAudit {
  let previous: number | undefined;
  let current: number | undefined;
  let next: number | undefined;
  const ownInitiations = new Set<number>();
  const out: IndexAudit = { checked: 0, unknown: [], responses: 0 };
  for (const e of events) {
    switch (e.type) {
      case 'init':
        if (e.from === peer) ownInitiations.add(e.sender);
        break;
      case 'resp':
        if (e.from === peer) {
          out.responses++;
          next = e.sender;
          previous = undefined;
        } else if (e.to === peer && ownInitiations.has(e.receiver)) {
          ownInitiations.delete(e.receiver);
          previous = next !== undefined ? next : current;
          next = undefined;
          current = e.receiver;
        }
        break;
      case 'data':
        if (e.to !== peer) break;
        out.checked++;
        if (e.receiver === next) {
          previous = current;
          current = next;
          next = undefined;
        } else if (e.receiver !== current || current === undefined) {
          if (e.receiver !== previous || previous === undefined) out.unknown.push(e);
        }
        break;
      default:
        break;
    }
  }
  return out;
}
