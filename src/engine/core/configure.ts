// Applying a configuration change (the typed form of a UAPI `set`) and reading the device back
// (the typed form of a UAPI `get`), both with binary endpoint addresses (text is the engine's), with the semantics of wireguard-go's IpcSetOperation (device/uapi.go): changes apply in
// order, `replace_peers` and `replace_allowed_ips` act when met, a peer with our own public
// key is ignored, `update_only` does not create, all-zero keys mean "none".

import { publicKeyOf } from '../../crypto/x25519-native.js';
import { WgError } from '../../model/errors.js';
import {
  type Device,
  type EndpointState,
  isZeroKey,
  keysEqual,
  newDevice,
  newPeer,
  type Peer,
} from '../../model/index.js';
import { copyPath, type PathAddr, pathKey } from './addr.js';
import type { Family } from './allowedips.js';
import { COUNTER_LIMIT, REKEY_TIMEOUT_MS } from './constants.js';
import type { CoreContext } from './context.js';
import { dh } from './handshake.js';
import { dropInitiations } from './handshake-flow.js';
import { keyHex, PeerState } from './peer.js';
import type { CandidateSnapshot } from './select.js';
import { sendKeepalive, zeroAndFlush } from './transport.js';

export interface DeviceSettings {
  listenPort: number;
  fwmark: number;
}

/** Four random bytes as a number uniform in [0, 1). */
function uniform(b: Uint8Array): number {
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32;
}

export function removePeer(ctx: CoreContext, peer: PeerState): void {
  zeroAndFlush(ctx, peer);
  peer.timers.clearAll();
  ctx.allowedIPs.removeOwner(peer);
  peer.cookies.clear();
  peer.staticStatic = undefined; // wipes the cached DH(Spriv, Spub_peer)
  ctx.peers.delete(peer.keyHex);
}

/** wireguard-go ExpireCurrentKeypairs: no more sending on them; a new handshake may start at once. */
function expireCurrentKeypairs(ctx: CoreContext, peer: PeerState, now: number): void {
  dropInitiations(ctx, peer);
  peer.responding = undefined;
  peer.lastSentHandshake = now - REKEY_TIMEOUT_MS - 1000;
  const { current, next } = peer.keypairs;
  if (current) current.sendCounter = COUNTER_LIMIT;
  if (next) next.sendCounter = COUNTER_LIMIT;
  if (current || next) ctx.keypairsChanged(peer);
}

function setPrivateKey(ctx: CoreContext, key: Uint8Array, now: number): void {
  if (isZeroKey(key)) ctx.identity = undefined;
  else {
    const publicKey = publicKeyOf(key);
    ctx.identity = { privateKey: Uint8Array.from(key), publicKey };
    const self = ctx.peers.get(keyHex(publicKey));
    if (self) removePeer(ctx, self);
  }
  for (const peer of ctx.peers.values()) {
    peer.staticStatic = ctx.identity ? dh(ctx.identity.privateKey, peer.publicKey) : undefined;
    expireCurrentKeypairs(ctx, peer, now);
  }
}

/** The clocks and randomness a new peer is made with: one set per configuration change. */
interface PeerClocks {
  jitter: () => number;
  random: () => number;
  wallNs: (now: number) => bigint;
}

function applyPeer(ctx: CoreContext, change: Peer<PathAddr>, now: number, clocks: PeerClocks): void {
  if (!change.publicKey) throw new WgError('protocol', 'peer without a public key');
  if (ctx.identity && keysEqual(change.publicKey, ctx.identity.publicKey)) return;
  const peerHex = keyHex(change.publicKey);
  let peer = ctx.peers.get(peerHex);
  if (change.remove) {
    if (peer) removePeer(ctx, peer);
    return;
  }
  if (!peer) {
    if (change.updateOnly) return;
    peer = new PeerState(Uint8Array.from(change.publicKey), clocks.jitter, clocks.random, clocks.wallNs);
    peer.staticStatic = ctx.identity ? dh(ctx.identity.privateKey, peer.publicKey) : undefined;
    ctx.peers.set(peer.keyHex, peer);
  }
  if (change.presharedKey)
    peer.presharedKey = isZeroKey(change.presharedKey) ? undefined : Uint8Array.from(change.presharedKey);
  const addrs = change.endpoints.flatMap((e) => (e.addr ? [e.addr] : []));
  if (addrs.length > 0 || change.clearEndpoints) {
    const before = peer.endpoint;
    peer.endpoints.setCandidates(addrs);
    // A fresh list is raced from its first line: the old choice stays until a round says otherwise.
    if (peer.endpoint !== before || !before) ctx.endpointChanged(peer);
  }
  if (change.persistentKeepalive !== undefined) {
    const was = peer.persistentKeepalive;
    peer.persistentKeepalive = change.persistentKeepalive;
    // Turning it on sends a keepalive at once (when the device is up).
    if (was === 0 && change.persistentKeepalive > 0 && ctx.identity) sendKeepalive(ctx, peer, now);
    if (change.persistentKeepalive === 0) peer.timers.del('persistentKeepalive');
  }
  if (change.replaceAllowedIPs) ctx.allowedIPs.removeOwner(peer);
  for (const a of change.allowedIPs) {
    if (a.remove) ctx.allowedIPs.remove(a.family as Family, a.address, a.cidr, peer);
    else ctx.allowedIPs.insert(a.family as Family, a.address, a.cidr, peer);
  }
  ctx.touch(peer);
}

/** Applies `change` in order. Throws WgError for a peer without a public key (after earlier changes stay). */
export function configure(
  ctx: CoreContext,
  settings: DeviceSettings,
  change: Device<PathAddr>,
  now: number,
  jitter: () => number,
): void {
  if (change.privateKey) setPrivateKey(ctx, change.privateKey, now);
  if (change.listenPort !== undefined) settings.listenPort = change.listenPort;
  if (change.fwmark !== undefined) settings.fwmark = change.fwmark;
  if (change.replacePeers) for (const p of [...ctx.peers.values()]) removePeer(ctx, p);
  // Shared by the peers this change makes rather than closures of their own (~0.15 KiB a peer).
  const clocks: PeerClocks = { jitter, random: () => uniform(ctx.random(4)), wallNs: (n) => ctx.wallNs(n) };
  for (const p of change.peers) applyPeer(ctx, p, now, clocks);
}

/** The device as a UAPI `get` reports it, with wgm's extras (candidates, active endpoint). */
export function readDevice(ctx: CoreContext, settings: DeviceSettings): Device<PathAddr> {
  const d = newDevice<PathAddr>();
  if (ctx.identity) {
    d.privateKey = Uint8Array.from(ctx.identity.privateKey);
    d.publicKey = Uint8Array.from(ctx.identity.publicKey);
  }
  d.listenPort = settings.listenPort;
  d.fwmark = settings.fwmark;
  for (const peer of ctx.peers.values()) {
    const ns = peer.lastHandshakeNs ?? 0n;
    const p = newPeer<PathAddr>({
      publicKey: Uint8Array.from(peer.publicKey),
      presharedKey: peer.presharedKey ? Uint8Array.from(peer.presharedKey) : new Uint8Array(32),
      endpoints: peer.endpoints.configured.map((addr) => ({ addr: copyPath(addr) })),
      persistentKeepalive: peer.persistentKeepalive,
      allowedIPs: ctx.allowedIPs.entries(peer),
      lastHandshake: { sec: ns / 1_000_000_000n, nsec: Number(ns % 1_000_000_000n) },
      rxBytes: BigInt(peer.rxBytes),
      txBytes: BigInt(peer.txBytes),
      protocolVersion: 1,
    });
    if (peer.endpoint) p.activeEndpoint = copyPath(peer.endpoint);
    if (peer.endpoint && p.endpoints.length === 0) p.endpoints = [{ addr: copyPath(peer.endpoint) }];
    p.endpointStates = endpointStates(peer);
    if (p.endpointStates.length === 0 && peer.endpoint)
      p.endpointStates = [
        {
          addr: copyPath(peer.endpoint),
          state: 'active',
          lastSeenSec: peer.lastSeen?.get(pathKey(peer.endpoint)) ?? 0,
        },
      ];
    d.peers.push(p);
  }
  return d;
}

/**
 * The configured (and resolved) candidates as a get reports them, in race order: state, smoothed
 * RTT, last authenticated packet. Learned addresses are left out (they are no `Endpoint` line;
 * the active one shows as `endpoint=`).
 */
export function endpointStates(peer: PeerState): EndpointState<PathAddr>[] {
  const out: EndpointState<PathAddr>[] = [];
  const active = peer.endpoint && pathKey(peer.endpoint);
  for (const c of peer.endpoints.snapshot()) {
    if (c.source === 'learned') continue;
    const addr = copyPath(c.addr);
    const key = pathKey(addr);
    const s: EndpointState<PathAddr> = {
      addr,
      // Before selection chose, the first line is where traffic would go (endpoint=).
      state: key === active ? 'active' : viewState(c),
      lastSeenSec: peer.lastSeen?.get(key) ?? 0,
    };
    if (c.srtt !== undefined) s.rttMs = c.srtt;
    out.push(s);
  }
  return out;
}

/** Selection's state of a candidate in the vocabulary of `wgm show`. */
export function viewState(c: CandidateSnapshot): EndpointState['state'] {
  if (c.state === 'active') return 'active';
  if (c.probing) return 'probing';
  if (c.state === 'untried') return 'unknown';
  return c.state;
}
