// Carrying out endpoint selection's decisions (select.ts) in the core: a round's initiations
// (each with the round's timestamp, sent when selection's stagger says), the end of a round
// (its handshake states and indices freed), a switch of the active path (the data plane's
// endpoint, a log line, a 'pathSwitched' action), mirroring onto a second path while the active
// one is in doubt (a 'mirror' action for the data plane, a log line), and giving up (staged
// packets flushed, as a standard peer does after REKEY_ATTEMPT_TIME).

import { copyPath, formatPath } from './addr.js';
import { REKEY_TIMEOUT_MS } from './constants.js';
import type { CoreContext } from './context.js';
import { dropRound, sendInitiation, sendRoundInitiation } from './handshake-flow.js';
import type { PeerState } from './peer.js';
import type { MirrorEndReason, MirrorReason, SelectOutput } from './select.js';

const MIRROR_WHY: Record<MirrorReason, string> = {
  suspect: 'active path silent after sent data',
  'send-refused': 'the kernel refused data sent on the active path',
};

const MIRROR_END_WHY: Record<MirrorEndReason, string> = {
  answered: 'a handshake answered',
  'now-active': 'it is the active path now',
  expired: 'time is up',
  'gave-up': 'no path answered',
};

export function runSelect(
  ctx: CoreContext,
  peer: PeerState,
  outs: readonly SelectOutput[],
  now: number,
): void {
  if (outs.length === 0) return;
  for (const o of outs) {
    switch (o.type) {
      case 'initiate':
        sendRoundInitiation(ctx, peer, o.round, o.candidate, o.to, o.timestamp, now);
        break;
      case 'dropRound':
        dropRound(ctx, peer, o.round);
        break;
      case 'switch': {
        const from = o.from && copyPath(o.from);
        const to = copyPath(o.to);
        ctx.log(
          'verbose',
          `${peer} - Endpoint ${from ? formatPath(from) : '(none)'} -> ${formatPath(to)} (${o.reason})`,
        );
        ctx.endpointChanged(peer);
        ctx.emit({ type: 'pathSwitched', peer: peer.publicKey, from, to, reason: o.reason });
        break;
      }
      case 'giveUp':
        ctx.log(
          'verbose',
          `${peer} - Handshake did not complete on any endpoint, giving up until there is traffic`,
        );
        peer.staged = [];
        peer.timers.scheduleZeroing(now);
        break;
      case 'mirror': {
        const active = peer.endpoint;
        ctx.log(
          'verbose',
          `${peer} - Mirroring data to ${formatPath(o.to)} besides ${active ? formatPath(active) : '(none)'}` +
            ` for up to ${Math.max(0, Math.round(o.until - now))} ms (${MIRROR_WHY[o.reason]})`,
        );
        ctx.emit({ type: 'mirror', peer: peer.publicKey, to: copyPath(o.to), until: o.until });
        break;
      }
      case 'mirrorEnd':
        ctx.log(
          'verbose',
          `${peer} - Mirroring data to ${formatPath(o.to)} ended (${MIRROR_END_WHY[o.reason]})`,
        );
        ctx.emit({ type: 'mirror', peer: peer.publicKey, to: undefined, until: now });
        break;
    }
  }
  ctx.touch(peer);
}

/**
 * The core wants a handshake with `peer`: a session (`rekey` false: nothing can send) or a
 * fresh keypair (`rekey`). With several candidates, selection runs the round; with one or none,
 * the standard single initiation toward the active endpoint (PeerPaths.racing).
 */
export function wantHandshake(ctx: CoreContext, peer: PeerState, now: number, rekey: boolean): void {
  const paths = peer.endpoints;
  if (!paths.racing) {
    sendInitiation(ctx, peer, now, {});
    return;
  }
  if (!rekey) runSelect(ctx, peer, paths.start(now), now);
  // At most one rekey round per REKEY_TIMEOUT, as the standard sender (every packet asks).
  else if (peer.lastSentHandshake === undefined || now - peer.lastSentHandshake >= REKEY_TIMEOUT_MS)
    runSelect(ctx, peer, paths.rekeyDue(now), now);
}
