// Transport data (whitepaper 5.4.6) through the core: routing a TUN packet to its peer by the
// allowed-IPs table, staging it until a keypair exists, sealing it with the peer's current
// keypair; and on receive: index → keypair, open, replay window, key confirmation, roaming,
// the keepalive/rekey timer rules, and the allowed-IPs source check.

import { aeadOpen, aeadSeal } from '../../crypto/aead.js';
import type { SockAddr } from '../../model/index.js';
import type { CoreContext } from './context.js';
import { dropInitiations } from './handshake-flow.js';
import type { Keypair } from './keypair.js';
import { DATA_HEADER_SIZE, decodeTransportHeader, writeTransportHeader } from './messages.js';
import type { PeerState } from './peer.js';
import { ipPacketLength, paddedLength, rekeyAfterReceiving, rekeyAfterSending } from './transport-rules.js';

/**
 * Seals one plaintext with `kp` at its next counter: header ‖ AEAD(Tsend, counter, P ‖ pad, ε).
 * Undefined when the keypair has no counter left.
 */
export function sealTransport(kp: Keypair, plaintext: Uint8Array, mtu: number): Uint8Array | undefined {
  const counter = kp.takeCounter();
  if (counter === undefined) return undefined;
  const padded = new Uint8Array(paddedLength(plaintext.length, mtu));
  padded.set(plaintext);
  const sealed = aeadSeal(kp.sendKey, counter, padded);
  const out = new Uint8Array(DATA_HEADER_SIZE + sealed.length);
  writeTransportHeader(out, kp.remoteIndex, counter);
  out.set(sealed, DATA_HEADER_SIZE);
  return out;
}

/** A packet read from the TUN device. */
export function packetFromTun(ctx: CoreContext, packet: Uint8Array, now: number): void {
  if (!ctx.identity) return;
  const peer = ctx.allowedIPs.lookupDestination(packet);
  if (!peer) return;
  peer.stage(packet);
  sendStaged(ctx, peer, now);
}

/** Sends what is staged with the current keypair, or starts a handshake for it. */
export function sendStaged(ctx: CoreContext, peer: PeerState, now: number): void {
  if (peer.staged.length === 0) return;
  const kp = peer.keypairs.current;
  if (!kp?.canSend(now)) {
    ctx.startHandshake(peer, now, false);
    return;
  }
  const target = peer.endpoint;
  if (!target) {
    ctx.log('error', `${peer} - Failed to send data packets: no known endpoint for peer`);
    peer.staged = [];
    return;
  }
  while (peer.staged.length > 0 && kp.canSend(now)) {
    const plaintext = peer.staged[0]!;
    const bytes = sealTransport(kp, plaintext, ctx.mtu);
    if (!bytes) break;
    peer.staged.shift();
    ctx.emit({ type: 'send', to: target, bytes, peer: peer.publicKey });
    noteSent(peer, bytes.length, plaintext.length === 0, now);
  }
  if (peer.staged.length > 0) ctx.startHandshake(peer, now, false);
  keepKeyFreshSending(ctx, peer, now);
  ctx.touch(peer);
}

/** The timer and counter rules for one transport message sent (by the core or a data plane). */
function noteSent(peer: PeerState, length: number, isKeepalive: boolean, now: number): void {
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketSent();
  if (!isKeepalive) peer.timers.dataSent(now);
  peer.txBytes += length;
}

/** A data plane sent `count` transport messages of `bytes` in total for `peer`. */
export function transportSent(
  ctx: CoreContext,
  peer: PeerState,
  bytes: number,
  dataPackets: number,
  now: number,
): void {
  noteSent(peer, bytes, dataPackets === 0, now);
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
    ctx.startHandshake(peer, now, false);
}

/** Before the keypair dies on receive: REJECT_AFTER_TIME − KEEPALIVE_TIMEOUT − REKEY_TIMEOUT. */
function keepKeyFreshReceiving(ctx: CoreContext, peer: PeerState, now: number): void {
  if (peer.timers.sentLastMinuteHandshake) return;
  const kp = peer.keypairs.current;
  if (kp && rekeyAfterReceiving(kp.isInitiator, kp.created, now)) {
    peer.timers.sentLastMinuteHandshake = true;
    ctx.startHandshake(peer, now, false);
  }
}

/** The IP packet inside a decrypted plaintext, without padding; undefined if malformed. */
export function innerPacket(plaintext: Uint8Array): Uint8Array | undefined {
  const len = ipPacketLength(plaintext, 0, plaintext.length);
  return len > 0 ? plaintext.subarray(0, len) : undefined;
}

/** A transport message arrived. */
export function handleTransport(ctx: CoreContext, from: SockAddr, bytes: Uint8Array, now: number): void {
  const h = decodeTransportHeader(bytes);
  if (!h || h.counter === undefined) return;
  const entry = ctx.index.get(h.receiver);
  if (!entry || !('keypair' in entry)) return;
  const { peer, keypair: kp } = entry;
  if (kp.expired(now)) return;
  const plaintext = aeadOpen(kp.recvKey, h.counter, h.encrypted);
  if (!plaintext) return;
  if (!kp.replay.validate(h.counter)) return;
  afterReceive(ctx, peer, kp, from, bytes.length, plaintext.length === 0, now);
  if (plaintext.length === 0) {
    ctx.log('verbose', `${peer} - Receiving keepalive packet`);
    return;
  }
  const packet = innerPacket(plaintext);
  if (!packet) {
    ctx.log('verbose', `${peer} - Packet with invalid IP version or length`);
    return;
  }
  if (ctx.allowedIPs.lookupSource(packet) !== peer) {
    ctx.log('verbose', `${peer} - Packet with disallowed source address`);
    return;
  }
  ctx.emit({ type: 'writeTun', bytes: packet, peer: peer.publicKey });
}

/**
 * What follows an authenticated, non-replayed transport message, whoever opened it: roaming,
 * key confirmation, the receive-side rekey rule, timers and counters.
 */
export function afterReceive(
  ctx: CoreContext,
  peer: PeerState,
  kp: Keypair,
  from: SockAddr,
  length: number,
  isKeepalive: boolean,
  now: number,
): void {
  peer.heardFrom(from, Number(ctx.wallNs(now) / 1_000_000_000n));
  if (peer.endpoints.noteAuthenticated(from, now)) ctx.endpointChanged(peer);
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
