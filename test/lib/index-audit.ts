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
// A wgm-engine peer with several endpoints (`wgm` option) keeps these rules but for three cases
// where a peer that races rounds (another wgm) could otherwise make it drop a keypair still in
// use (src/engine/core/handshake-flow.ts says why; all three are visible on the wire):
//   - the response to its own initiation arrives while the keypair it made by answering the
//     other's initiation after sending its own is still `next`, or already `current`: the
//     handshakes crossed. The side with the smaller public key (`yields`) keeps `current` and
//     files the new keypair as `previous`; the other makes the new keypair `current`, the old
//     `current` `previous`, and drops `next`. Without a `current`, the other side rotates as
//     standard and the yielding side makes the new keypair `current`, keeping `next`;
//   - the response to its own initiation arrives while `next` is 1 s old or more: that `next`
//     is dropped first;
//   - it sends a response while `current` is less than 1 s old: `previous` stays.
// Its keypair as responder is made when it processes the initiation: after the initiation
// arrived, before the response leaves, and messages seen in between (a response to its own
// initiation, its own staggered initiations) may have been processed before or after it. The
// audit replays both orders (the response where the tap saw it, and at the initiation's
// arrival) and counts a packet as dropped only if it is in both. Likewise its 1 s rules compare
// times of its own processing, which lag the tap's by up to a scheduling delay on a loaded
// machine: they are replayed with the threshold TIMING_SLACK_MS lower and higher too, and a
// packet counts only if every variant drops it. And its initiations come
// in rounds: the first response to one of them ends the round (the
// others are forgotten), and a round with no response ends max(1 s, 3 RTT) after its last
// initiation (src/engine/core/select.ts; RTT as the last used response showed it), after
// which a late response is ignored.
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

/** The wgm rules: whether this peer's public key is the smaller of the two (it yields). */
export interface WgmRules {
  yields: boolean;
}

/** A keypair slot: the receiver index, when it was made (tap time, ms), and by whom. */
interface Slot {
  index: number;
  at: number;
  initiator: boolean;
}

const YOUNG_MS = 1000;
/** How far the tap's times may be from the engine's own for its 1 s rules (see the header). */
const TIMING_SLACK_MS = 150;

/**
 * Replays the keypair slots of the peer listening at `peer` ("addr:port", as the tap prints
 * it) and audits the data packets sent to it: a standard peer's rules, or, with `wgm`, a
 * wgm-engine peer's with several endpoints.
 */
export function auditPeerIndices(events: readonly TapEvent[], peer: string, wgm?: WgmRules): IndexAudit {
  const seen = replay(events, peer, wgm, YOUNG_MS);
  if (!wgm) return seen;
  const reordered = inProcessingOrder(events, peer);
  let unknown = seen.unknown;
  for (const order of [events, reordered])
    for (const limit of [YOUNG_MS - TIMING_SLACK_MS, YOUNG_MS, YOUNG_MS + TIMING_SLACK_MS]) {
      const also = new Set(replay(order, peer, wgm, limit).unknown.map(dataKey));
      unknown = unknown.filter((e) => also.has(dataKey(e)));
    }
  return { ...seen, unknown };
}

const dataKey = (e: Extract<TapEvent, { type: 'data' }>) => `${e.t}/${e.receiver}/${e.counter}`;

/** `limit`: the 1 s of the wgm rules (YOUNG_MS, or a variant of it). */
function replay(
  events: readonly TapEvent[],
  peer: string,
  wgm: WgmRules | undefined,
  limit: number,
): IndexAudit {
  let previous: Slot | undefined;
  let current: Slot | undefined;
  let next: Slot | undefined;
  const ownInitiations = new Map<number, number>();
  let lastInit = 0;
  let rtt = 0;
  const out: IndexAudit = { checked: 0, unknown: [], responses: 0 };
  for (const e of events) {
    switch (e.type) {
      case 'init':
        if (e.from === peer) {
          ownInitiations.set(e.sender, e.t);
          lastInit = e.t;
        }
        break;
      case 'resp':
        if (e.from === peer) {
          out.responses++;
          const keep = wgm !== undefined && current !== undefined && e.t - current.at < limit;
          next = { index: e.sender, at: e.t, initiator: false };
          if (!keep) previous = undefined;
        } else if (e.to === peer && ownInitiations.has(e.receiver)) {
          const sentAt = ownInitiations.get(e.receiver)!;
          ownInitiations.delete(e.receiver);
          if (wgm) {
            if (e.t - lastInit > Math.max(limit, 3 * rtt)) break; // the round had ended
            ownInitiations.clear();
            rtt = e.t - sentAt;
          }
          const mine: Slot = { index: e.receiver, at: e.t, initiator: true };
          if (wgm && next && e.t - next.at >= limit) next = undefined;
          const since = (k: Slot | undefined) => k !== undefined && !k.initiator && k.at >= sentAt;
          const crossed = wgm !== undefined && (since(next) || (next === undefined && since(current)));
          if (crossed && (wgm.yields || current !== undefined)) {
            if (wgm.yields && current !== undefined) previous = mine;
            else {
              if (!wgm.yields) next = undefined;
              previous = current;
              current = mine;
            }
          } else {
            previous = next !== undefined ? next : current;
            next = undefined;
            current = mine;
          }
        }
        break;
      case 'data': {
        if (e.to !== peer) break;
        out.checked++;
        const r = e.receiver;
        if (r === next?.index) {
          previous = current;
          current = next;
          next = undefined;
        } else if (r !== current?.index && r !== previous?.index) out.unknown.push(e);
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** The events with each response of `peer` moved to just after the initiation it answers. */
function inProcessingOrder(events: readonly TapEvent[], peer: string): TapEvent[] {
  const arrived = new Map<number, number>();
  const keyed = events.map((e, i) => {
    if (e.type === 'init' && e.to === peer) arrived.set(e.sender, e.t);
    const at = e.type === 'resp' && e.from === peer ? arrived.get(e.receiver) : undefined;
    return { e: at === undefined ? e : { ...e, t: at }, key: at === undefined ? e.t : at, i };
  });
  keyed.sort((a, b) => a.key - b.key || a.i - b.i);
  return keyed.map((k) => k.e);
}
