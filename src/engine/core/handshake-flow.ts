// Handshake messages in and out of the core: the rules around handshake.ts that need state
// (whitepaper 5.1-5.3 and 6; wireguard-go send.go/receive.go/noise-protocol.go).
//
// - An initiation round sends one initiation per target, all with the same TAI64N timestamp
//   (endpoint-selection.md 2.4/4.3): a standard responder consumes at most one of them, so any
//   response is safe to use. `identical` sends byte-identical copies (one handshake state)
//   instead of one state per target. A new round drops the states of the old one.
// - Endpoint selection (select.ts, through select-flow.ts) sends its rounds one initiation at a
//   time (`sendRoundInitiation`, staggered) with the round's timestamp, and drops a round's
//   states when it ends (`dropRound`). Its states are kept apart from the responder slot:
//   consuming the peer's initiation does not cancel our round (wireguard-go and the kernel have
//   one slot for both; with one slot, simultaneous rounds from both sides would cancel ours).
// - A response is used only if selection says it belongs to the current round.
// - Initiations are consumed only with a strictly newer timestamp (replay) and at most one
//   per HANDSHAKE_INITIATION_RATE per peer (flood).

import { compareTai64n, nextTai64n } from '../../crypto/tai64n.js';
import { formatPath, type PathAddr, pathKey } from './addr.js';
import { HANDSHAKE_INITIATION_RATE_MS, REKEY_TIMEOUT_MS } from './constants.js';
import type { CoreContext } from './context.js';
import {
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  finishInitiation,
  openInitiation,
} from './handshake.js';
import { Keypair } from './keypair.js';
import { decodeCookieReply, decodeResponse, INITIATION_SIZE, RESPONSE_SIZE } from './messages.js';
import { type Initiating, keyHex, type PeerState } from './peer.js';
import { runSelect } from './select-flow.js';

export interface RoundOptions {
  /** Where to send; default: the peer's active endpoint. */
  targets?: PathAddr[];
  /** Send byte-identical copies of one initiation instead of one per target. */
  identical?: boolean;
  /** Ignore the REKEY_TIMEOUT rate limit (the selection logic paces its own rounds). */
  force?: boolean;
  /** A retransmission: keeps the attempt count. */
  isRetry?: boolean;
}

/**
 * Holds a responder's index between its allocation and the keypair's installation, which
 * happen in the same call (the index goes into the response, the keys come after it). One
 * shared, never-installed object: a Keypair allocates shared memory and a replay window.
 */
const PLACEHOLDER = new Keypair(new Uint8Array(32), new Uint8Array(32), 0, 0, 0, false);

/** Drops the states of our outstanding initiations and frees their indices. */
export function dropInitiations(ctx: CoreContext, peer: PeerState): void {
  for (const i of peer.initiations.values()) {
    ctx.index.delete(i.localIndex);
    i.ephemeralPrivate.fill(0);
  }
  peer.clearInitiations();
}

function newInitiation(
  ctx: CoreContext,
  peer: PeerState,
  timestamp: Uint8Array,
  target: PathAddr | undefined,
  now: number,
) {
  const id = ctx.identity!;
  const initiating: Initiating = {
    localIndex: 0,
    chain: { chainingKey: new Uint8Array(0), hash: new Uint8Array(0) },
    ephemeralPrivate: ctx.random(32),
    target,
    sentAt: now,
  };
  initiating.localIndex = ctx.index.allocate({ peer, initiation: initiating });
  const made = createInitiation({
    localPrivate: id.privateKey,
    localPublic: id.publicKey,
    remotePublic: peer.publicKey,
    staticStatic: peer.staticStatic!,
    ephemeralPrivate: initiating.ephemeralPrivate,
    timestamp,
    senderIndex: initiating.localIndex,
  });
  if (!made) {
    ctx.index.delete(initiating.localIndex);
    return undefined;
  }
  initiating.chain = made.chain;
  peer.addInitiation(initiating);
  return { initiating, message: made.message };
}

/** Sends an initiation round. Returns false when rate-limited or impossible. */
export function sendInitiation(
  ctx: CoreContext,
  peer: PeerState,
  now: number,
  opts: RoundOptions = {},
): boolean {
  if (!opts.isRetry) peer.timers.handshakeAttempts = 0;
  if (!opts.force && peer.lastSentHandshake !== undefined && now - peer.lastSentHandshake < REKEY_TIMEOUT_MS)
    return false;
  if (!ctx.identity || !peer.staticStatic) return false;
  peer.lastSentHandshake = now;
  const targets = opts.targets ?? (peer.endpoint ? [peer.endpoint] : []);
  dropInitiations(ctx, peer);
  // One timestamp for the whole round, strictly newer than the previous round's.
  const timestamp = nextTai64n(ctx.wallNs(now), peer.lastSentTimestamp);
  peer.lastSentTimestamp = timestamp;
  peer.endpoints.selector.lastTimestamp = timestamp;
  let shared: Uint8Array | undefined;
  ctx.log('verbose', `${peer} - Sending handshake initiation`);
  if (targets.length === 0) {
    // wireguard-go creates the message, fails to send it, and still arms the retry timer.
    if (!newInitiation(ctx, peer, timestamp, undefined, now)) return false;
    ctx.log('error', `${peer} - Failed to send handshake initiation: no known endpoint for peer`);
  }
  for (const target of targets) {
    let message: Uint8Array;
    if (opts.identical && shared) message = Uint8Array.from(shared);
    else {
      const made = newInitiation(ctx, peer, timestamp, target, now);
      if (!made) {
        ctx.log('error', `${peer} - Failed to create initiation message: invalid public key`);
        return false;
      }
      message = made.message;
      shared = made.message;
    }
    peer.cookies.addMacs(message, target === peer.endpoint ? peer.endpointAddrKey : pathKey(target), now);
    peer.timers.anyAuthenticatedPacketTraversal(now);
    peer.timers.anyAuthenticatedPacketSent();
    ctx.emit({ type: 'send', to: target, bytes: message, peer: peer.publicKey });
    peer.txBytes += message.length;
  }
  peer.timers.handshakeInitiated(now);
  ctx.touch(peer);
  return true;
}

/**
 * Sends one initiation of selection round `round` to `target` (candidate `candidate`) with the
 * round's `timestamp`. Selection paces and retries its rounds itself, so no retransmit timer.
 */
export function sendRoundInitiation(
  ctx: CoreContext,
  peer: PeerState,
  round: number,
  candidate: string,
  target: PathAddr,
  timestamp: Uint8Array,
  now: number,
): void {
  if (!ctx.identity || !peer.staticStatic) return;
  peer.lastSentHandshake = now;
  peer.lastSentTimestamp = timestamp;
  const made = newInitiation(ctx, peer, timestamp, target, now);
  if (!made) {
    ctx.log('error', `${peer} - Failed to create initiation message: invalid public key`);
    return;
  }
  made.initiating.round = round;
  made.initiating.candidate = candidate;
  ctx.log('verbose', `${peer} - Sending handshake initiation`);
  // Cookies are filed per source address the peer saw: MAC2 per path, never shared.
  peer.cookies.addMacs(made.message, pathKey(target), now);
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketSent();
  ctx.emit({ type: 'send', to: target, bytes: made.message, peer: peer.publicKey });
  peer.txBytes += made.message.length;
  ctx.touch(peer);
}

/** A selection round ended: its handshake states go, their indices are released. */
export function dropRound(ctx: CoreContext, peer: PeerState, round: number): void {
  for (const [i, st] of peer.initiations)
    if (st.round === round) {
      ctx.index.delete(i);
      st.ephemeralPrivate.fill(0);
      peer.removeInitiation(i);
    }
}

function install(ctx: CoreContext, peer: PeerState, kp: Keypair, dropped = peer.keypairs.install(kp)): void {
  ctx.index.set(kp.localIndex, { peer, keypair: kp });
  for (const d of dropped) {
    ctx.index.delete(d.localIndex);
    d.wipe();
  }
}

/** An authenticated handshake message from `from`: a response to us, or an initiation. */
function heardHandshake(
  ctx: CoreContext,
  peer: PeerState,
  from: PathAddr,
  judged: boolean,
  now: number,
): void {
  peer.heardFrom(from, Number(ctx.wallNs(now) / 1_000_000_000n));
  // A response to a selection round was judged already (handleResponse); the rest is roaming.
  if (!judged) runSelect(ctx, peer, peer.endpoints.received(from, now), now);
}

/**
 * Message 1 arrived (MACs already checked). Returns false when it did not open: not made by a
 * configured peer, though it cost a DH (a flood's messages are such).
 */
export function handleInitiation(ctx: CoreContext, from: PathAddr, bytes: Uint8Array, now: number): boolean {
  const id = ctx.identity;
  if (!id) return true;
  const opened = openInitiation(bytes, id.privateKey, id.publicKey);
  const peer = opened && ctx.peers.get(keyHex(opened.remoteStatic));
  const finished = peer?.staticStatic && finishInitiation(bytes, opened!, peer.staticStatic);
  if (!peer || !finished) {
    ctx.log('verbose', `Received invalid initiation message from ${formatPath(from)}`);
    return false;
  }
  if (peer.lastReceivedTimestamp && compareTai64n(finished.timestamp, peer.lastReceivedTimestamp) <= 0) {
    ctx.log('verbose', `${peer} - ConsumeMessageInitiation: handshake replay`);
    return true;
  }
  if (
    peer.lastInitiationConsumption !== undefined &&
    now - peer.lastInitiationConsumption <= HANDSHAKE_INITIATION_RATE_MS
  ) {
    ctx.log('verbose', `${peer} - ConsumeMessageInitiation: handshake flood`);
    return true;
  }
  peer.lastReceivedTimestamp = finished.timestamp;
  peer.lastInitiationConsumption = now;
  // Initiations sent outside selection share the one slot, as standard; a round does not.
  for (const [i, st] of peer.initiations) if (st.round === undefined) dropOne(ctx, peer, i);
  peer.responding = {
    chain: finished.chain,
    remoteEphemeral: opened!.remoteEphemeral,
    remoteIndex: opened!.senderIndex,
  };
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketReceived();
  heardHandshake(ctx, peer, from, false, now);
  ctx.log('verbose', `${peer} - Received handshake initiation`);
  peer.rxBytes += INITIATION_SIZE;
  sendResponse(ctx, peer, from, now);
  return true;
}

/** Bytewise order of two keys. */
function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function dropOne(ctx: CoreContext, peer: PeerState, i: number): void {
  const st = peer.initiations.get(i);
  if (!st) return;
  ctx.index.delete(i);
  st.ephemeralPrivate.fill(0);
  peer.removeInitiation(i);
}

/**
 * Whether answering an initiation keeps `previous` until the new keypair is confirmed, where
 * the standard responder drops it at once (wireguard-go BeginSymmetricSession, the kernel's
 * add_new_keypair). With a peer that races rounds, its initiation can arrive just after a
 * handshake of ours made `current` new; the peer sends on `previous`'s other half until our
 * first packet on `current` reaches it, so that keypair is kept while `current` is younger
 * than DEAD_NEXT_MS. Receive only: nothing is sent on it. Peers with one address keep the
 * standard rule.
 */
function keepPrevious(peer: PeerState, now: number): boolean {
  const current = peer.keypairs.current;
  return peer.endpoints.racing && current !== undefined && now - current.created < DEAD_NEXT_MS;
}

/** The response goes to the initiation's source (where a standard peer's endpoint just moved). */
function sendResponse(ctx: CoreContext, peer: PeerState, target: PathAddr, now: number): void {
  const r = peer.responding;
  if (!r) return;
  peer.responding = undefined;
  peer.lastSentHandshake = now;
  const ephemeralPrivate = ctx.random(32);
  const localIndex = ctx.index.allocate({ peer, keypair: PLACEHOLDER });
  const made = createResponse({
    chain: r.chain,
    remoteStatic: peer.publicKey,
    remoteEphemeral: r.remoteEphemeral,
    receiverIndex: r.remoteIndex,
    senderIndex: localIndex,
    ephemeralPrivate,
    presharedKey: peer.presharedKey,
  });
  ephemeralPrivate.fill(0);
  if (!made) {
    ctx.index.delete(localIndex);
    ctx.log('error', `${peer} - Failed to create response message`);
    return;
  }
  peer.cookies.addMacs(made.message, pathKey(target), now);
  const keys = deriveTransportKeys(made.chain, false);
  const kp = new Keypair(keys.sendKey, keys.recvKey, localIndex, r.remoteIndex, now, false);
  install(ctx, peer, kp, peer.keypairs.install(kp, keepPrevious(peer, now)));
  peer.timers.sessionDerived(now);
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketSent();
  peer.endpoints.selector.onAnswered(now);
  ctx.log('verbose', `${peer} - Sending handshake response`);
  ctx.emit({ type: 'send', to: target, bytes: made.message, peer: peer.publicKey });
  peer.txBytes += RESPONSE_SIZE;
  ctx.keypairsChanged(peer);
  ctx.touch(peer);
}

/**
 * Whether the response to `initiation` completes a handshake that raced one the peer started,
 * which the peer completes too: then the standard rotation (wireguard-go BeginSymmetricSession,
 * the kernel's add_new_keypair: our keypair current, the waiting `next` previous) leaves each
 * side sending on the keypair the other holds as `previous`, which the next handshake, by
 * either side, drops while the other still sends on it (data for an unknown index: a lost
 * packet per handshake). KeypairSet.installSimultaneous rotates instead so that both sides end
 * on one handshake's keypair, chosen by comparing the static public keys (the same way on both
 * sides; the smaller key yields).
 *
 * The sign: a keypair we made by answering the peer's initiation after this initiation of
 * ours was sent, still `next` or already confirmed (`current`). A standard peer completes
 * both only when our response reaches it before our initiation does; when our initiation
 * comes first, consuming it replaces its handshake state (ConsumeMessageInitiation;
 * wg_noise_handshake_consume_initiation) and it never completes its own. A peer whose rounds
 * survive consuming ours, as selection's do here, completes both either way. (The standard
 * peer's first case was checked in the simulation: it sends on its own keypair, which we
 * then hold, and nothing is lost.) A peer with one address gets
 * standard initiations, which consuming its initiation cancels (handleInitiation), so this
 * never applies to it.
 */
function simultaneous(peer: PeerState, initiation: Initiating): boolean {
  if (initiation.round === undefined) return false;
  const { next, current } = peer.keypairs;
  const since = (k: Keypair | undefined) =>
    k !== undefined && !k.isInitiator && k.created >= initiation.sentAt;
  return since(next) || (next === undefined && since(current));
}

/**
 * An unconfirmed `next` this old when a round of ours completes is one the peer never
 * completed: a standard peer sends on its keypair (data or a keepalive) as soon as our
 * response arrives, and a wgm peer whose initiation crossed ours and lost the tie never sends
 * on it (simultaneous). Selection starts no discretionary round until this long after
 * answering (PeerSelector.onAnswered), so a younger `next` is rotated as standard. The
 * standard rotation would make a dead `next` previous and drop `current`, which the peer may
 * still send on: it is dropped instead.
 */
const DEAD_NEXT_MS = 1_000;

/** Message 2 arrived (MACs already checked). Returns the peer when a session began. */
export function handleResponse(
  ctx: CoreContext,
  from: PathAddr,
  bytes: Uint8Array,
  now: number,
): PeerState | undefined {
  const m = decodeResponse(bytes);
  const entry = m && ctx.index.get(m.receiver);
  if (!ctx.identity || !entry || !('initiation' in entry)) return undefined;
  const { peer, initiation } = entry;
  const res = consumeResponse(
    bytes,
    initiation.chain,
    initiation.ephemeralPrivate,
    ctx.identity.privateKey,
    peer.presharedKey,
  );
  if (!res) {
    ctx.log('verbose', `${peer} - Received invalid response message`);
    return undefined;
  }
  // The first valid response of the round wins; the other states of the round go.
  peer.removeInitiation(initiation.localIndex);
  initiation.ephemeralPrivate.fill(0);
  if (initiation.round !== undefined) {
    const v = peer.endpoints.response(initiation.round, initiation.candidate!, from, now);
    if (!v.use) {
      // Not the current round (its state should be gone already): never used.
      ctx.index.delete(initiation.localIndex);
      runSelect(ctx, peer, v.outputs, now);
      return undefined;
    }
    runSelect(ctx, peer, v.outputs, now);
  }
  dropInitiations(ctx, peer);
  heardHandshake(ctx, peer, from, initiation.round !== undefined, now);
  ctx.log('verbose', `${peer} - Received handshake response`);
  peer.rxBytes += RESPONSE_SIZE;
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketReceived();
  const keys = deriveTransportKeys(res.chain, true);
  const kp = new Keypair(keys.sendKey, keys.recvKey, initiation.localIndex, res.senderIndex, now, true);
  const next = peer.keypairs.next;
  if (initiation.round !== undefined && next && now - next.created >= DEAD_NEXT_MS) {
    peer.keypairs.next = undefined;
    ctx.index.delete(next.localIndex);
    next.wipe();
  }
  if (simultaneous(peer, initiation)) {
    const yielding = compareKeys(ctx.identity.publicKey, peer.publicKey) < 0;
    ctx.log('verbose', `${peer} - Handshakes crossed: ${yielding ? "the peer's" : 'ours'} wins`);
    install(ctx, peer, kp, peer.keypairs.installSimultaneous(kp, yielding, now));
  } else install(ctx, peer, kp);
  peer.timers.sessionDerived(now);
  peer.timers.handshakeComplete();
  peer.lastHandshakeNs = ctx.wallNs(now);
  ctx.keypairsChanged(peer);
  ctx.touch(peer);
  return peer;
}

/** Message 3 arrived: a cookie for one of our messages. */
export function handleCookieReply(ctx: CoreContext, from: PathAddr, bytes: Uint8Array, now: number): void {
  const r = decodeCookieReply(bytes);
  const entry = r && ctx.index.get(r.receiver);
  if (!entry) return;
  const { peer } = entry;
  ctx.log('verbose', `${peer} - Receiving cookie response from ${formatPath(from)}`);
  if (!peer.cookies.consumeReply(bytes, pathKey(from), now))
    ctx.log('verbose', `${peer} - Could not decrypt invalid cookie response`);
}
