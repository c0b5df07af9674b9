// Transport data (whitepaper 5.4.6) as the core sees it: routing a TUN packet to its peer by
// the allowed-IPs table, staging it until a keypair exists, and handing staged packets and
// keepalives to the data plane ('sendData'), which seals and opens every transport message
// itself. The data plane reports back what it sent (`transportSent`) and every message that
// authenticated (`afterReceive`): roaming, key confirmation, the keepalive/rekey timer rules
// and the counters live here.

import type { PathAddr } from './addr.js';
import type { CoreContext } from './context.js';
import { dropInitiations } from './handshake-flow.js';
import type { Keypair } from './keypair.js';
import type { PeerState } from './peer.js';
import { runSelect, wantHandshake } from './select-flow.js';
import { rekeyAfterReceiving, rekeyAfterSending } from './transport-rules.js';

/** A packet read from the TUN device. */
export function packetFromTun(ctx: CoreContext, packet: Uint8Array, now: number): void {
  if (!ctx.identity) return;
  const peer = ctx.allowedIPs.lookupDestination(packet);
  if (!peer) return;
  peer.stage(packet);
  sendStaged(ctx, peer, now);
}

/** Hands what is staged to the data plane when the current keypair can send, or starts a handshake. */
export function sendStaged(ctx: CoreContext, peer: PeerState, now: number): void {
  if (peer.staged.length === 0) return;
  const kp = peer.keypairs.current;
  if (!kp?.canSend(now)) {
    ctx.startHandshake(peer, now, false);
    return;
  }
  const packets = peer.staged;
  peer.staged = [];
  if (!peer.endpoint) {
    ctx.log('error', `${peer} - Failed to send data packets: no known endpoint for peer`);
    return;
  }
  ctx.emit({ type: 'sendData', peer: peer.publicKey, packets });
  ctx.touch(peer);
}

/**
 * The data plane sent transport messages for `peer`: `bytes` in total (0 when it counts them
 * itself), `dataPackets` of them with data, the rest keepalives.
 */
export function transportSent(
  ctx: CoreContext,
  peer: PeerState,
  bytes: number,
  dataPackets: number,
  now: number,
): void {
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketSent();
  if (dataPackets > 0) {
    peer.timers.dataSent(now);
    runSelect(ctx, peer, peer.endpoints.dataSent(now), now);
  }
  peer.txBytes += bytes;
  keepKeyFreshSending(ctx, peer, now);
  ctx.touch(peer);
}

/** Sends a keepalive (an empty transport message), or whatever is staged. */
export function sendKeepalive(ctx: CoreContext, peer: PeerState, now: number): void {
  if (peer.staged.length === 0) peer.stage(new Uint8Array(0));
  sendStaged(ctx, peer, now);
}

/** The initiator of the current keypair rekeys after REKEY_AFTER_TIME (or many messages). */
function keepKeyFreshSending(ctx: CoreContext, peer: PeerState, now: number): void {
  const kp = peer.keypairs.current;
  if (kp && rekeyAfterSending(kp.isInitiator, kp.created, kp.sendCounter, now))
    wantHandshake(ctx, peer, now, true);
}

/** Before the keypair dies on receive: REJECT_AFTER_TIME − KEEPALIVE_TIMEOUT − REKEY_TIMEOUT. */
function keepKeyFreshReceiving(ctx: CoreContext, peer: PeerState, now: number): void {
  if (peer.timers.sentLastMinuteHandshake) return;
  const kp = peer.keypairs.current;
  if (kp && rekeyAfterReceiving(kp.isInitiator, kp.created, now)) {
    peer.timers.sentLastMinuteHandshake = true;
    wantHandshake(ctx, peer, now, true);
  }
}

/**
 * What follows an authenticated, non-replayed transport message, whoever opened it: roaming,
 * key confirmation, the receive-side rekey rule, timers and counters.
 */
export function afterReceive(
  ctx: CoreContext,
  peer: PeerState,
  kp: Keypair,
  from: PathAddr,
  length: number,
  isKeepalive: boolean,
  now: number,
): void {
  peer.heardFrom(from, Number(ctx.wallNs(now) / 1_000_000_000n));
  runSelect(ctx, peer, peer.endpoints.received(from, now), now);
  const confirmation = peer.keypairs.receivedWith(kp);
  if (confirmation.confirmed) {
    for (const d of confirmation.dropped) {
      ctx.index.delete(d.localIndex);
      d.wipe();
    }
    peer.timers.handshakeComplete();
    peer.lastHandshakeNs = ctx.wallNs(now);
    ctx.keypairsChanged(peer);
    sendStaged(ctx, peer, now);
  }
  keepKeyFreshReceiving(ctx, peer, now);
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketReceived();
  peer.rxBytes += length;
  if (!isKeepalive) peer.timers.dataReceived(now);
  ctx.touch(peer);
}

/** Erases all keys and staged packets of a peer (zeroKeyMaterial, key changes, removal). */
export function zeroAndFlush(ctx: CoreContext, peer: PeerState): void {
  for (const kp of peer.keypairs.clear()) {
    ctx.index.delete(kp.localIndex);
    kp.wipe();
  }
  dropInitiations(ctx, peer);
  peer.responding = undefined;
  peer.staged = [];
  ctx.keypairsChanged(peer);
}
