// One wgm-engine interface: the sans-I/O core (protocol, timers, configuration) fed with real
// events, and the threaded data plane (TUN and UDP, transport sealing and opening) kept in
// step with it (mirror.ts).
//
//   handshake messages   data plane → core.datagram (with the queue's depth) → actions
//   a handshake flood    data plane 'handshakeShed' → core.setUnderLoad (cookie replies)
//   packets, no keypair  data plane 'needKey' → core.packetFromTun (stage, handshake)
//   transport traffic    data plane 'traffic' (2 ms after a quiet spell, then at most one per
//                        TRAFFIC_POLL_MS, whatever the packet rate) → core.transportReceived
//                        / transportSent (timers, rekey)
//   key confirmation     data plane 'confirmed' → core.transportReceived on that keypair
//   roaming              data plane 'roam' → core.transportReceived from the new address
//   timers               core wakeAt → setTimeout → core.tick
//   UAPI get / set       uapi-server.ts → get() / set()
//
// The core's clock is the data plane's (monotonic milliseconds), so keypair creation times
// mean the same to both. The data plane seals and opens every transport message: packets
// staged during a handshake and keepalives come from the core as 'sendData' and are sealed on
// this thread (DataPlane.sendData), with nonces from the keypair's shared counter cell.
//
// Counters are exact when read: a get polls the data plane first. Which endpoint a peer's
// traffic goes to is endpoint selection's choice in the core (core/select.ts); every switch is
// logged and emitted as a 'path' event. Local network changes (rtnetlink notifications,
// net-watch.ts) and handshake sends the kernel refuses are selection's network-change and
// send-error triggers.

import { EventEmitter } from 'node:events';
import { useRawAead } from '../crypto/aead.js';
import { publicKeyOf, useRawX25519 } from '../crypto/x25519-native.js';
import { type Device, type EndpointPolicy, isZeroKey, keysEqual } from '../model/index.js';
import { formatSockAddr } from '../model/inet.js';
import { sodiumAeadAvailable, sodiumAeadFits, sodiumOpen, sodiumSeal } from '../sys/sodium-aead.js';
import type { TunLocation } from '../sys/tun.js';
import { fastestRawX25519 } from '../sys/x25519-raw.js';
import { EADDRINUSE, EINVAL, ENOMEM } from '../uapi/errno.js';
import { CAPABILITY_ENDPOINT_NAMES, CAPABILITY_MULTI_ENDPOINT, type GetExtensions } from '../uapi/get.js';
import { CAPABILITY_MONITOR, type PathEvent } from '../uapi/monitor.js';
import type { Action } from './core/actions.js';
import { formatPath, type PathAddr, samePath } from './core/addr.js';
import { viewState } from './core/configure.js';
import { UNDER_LOAD_AFTER_TIME_MS } from './core/constants.js';
import { Core } from './core/core.js';
import type { PeerPathConfig } from './core/endpoints.js';
import { DataPlane, type Moved, type ThreadLayout } from './dataplane/dataplane.js';
import { switchedOn } from './dataplane/offload.js';
import { deviceFromText, deviceToText, pathToText } from './endpoint-text.js';
import { HandshakeNursery } from './heap.js';
import type { Logger } from './log.js';
import { PeerMirror } from './mirror.js';
import { EndpointNames, engineLookup } from './names.js';
import { NetWatch } from './net-watch.js';
import type { Lookup } from './resolve.js';
import type { CandidateView, SetRequest, UapiDevice } from './uapi-server.js';

/** Kept in step with package.json by test/unit/engine/device.test.ts. */
export const ENGINE_VERSION = '0.1.0';

/** How often the interface MTU is re-read (wg-quick sets it with `ip link` after start). */
const MTU_INTERVAL_MS = 1000;
/** Peers one interface holds unless WGM_ENGINE_MAX_PEERS says otherwise. */
export const DEFAULT_MAX_PEERS = 4096;
/** Times a set waits for the workers to free the slots of removed peers. */
const SYNC_ATTEMPTS = 5;

/** The 'path' event: endpoint selection moved a peer's traffic. */
export type { PathEvent };

export interface EngineOptions {
  /** UDP port to start on (0: any); a UAPI set may change it. */
  port?: number;
  maxPeers?: number;
  txThreads?: number;
  rxThreads?: number;
  /**
   * One data-plane worker for both directions, or one each (dataplane.ts `threads`); default:
   * WGM_DATAPLANE if set, else by the host's CPUs.
   */
  threads?: ThreadLayout;
  /** Resolves endpoint names (tests point it at their own DNS server); the system's by default. */
  lookup?: Lookup;
  /**
   * Carry out endpoint selection's mirroring (docs/endpoint-selection.md); default on unless
   * WGM_MIRROR=off (tests and benches compare both).
   */
  mirror?: boolean;
}

/** WGM_MIRROR=off (or 0, no, false) turns mirroring off; anything else leaves it on. */
export function mirrorFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchedOn(env, 'WGM_MIRROR');
}

function maxPeersFromEnv(): number {
  const v = Number(process.env['WGM_ENGINE_MAX_PEERS']);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_MAX_PEERS;
}

export class EngineDevice extends EventEmitter<{ path: [PathEvent] }> implements UapiDevice {
  readonly ifname: string;
  readonly ifindex: number;
  private readonly core: Core;
  private readonly mirror: PeerMirror;
  private readonly maxPeers: number;
  /** Whether the data plane mirrors when selection asks (EngineOptions.mirror). */
  private readonly mirroring: boolean;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private readonly mtuTimer: NodeJS.Timeout;
  private mtu: number;
  private closed = false;
  /** The public key the receive workers check mac1 against. */
  private handshakeKey: Uint8Array | undefined;
  private readonly linkGone: (() => void)[] = [];
  private readonly onClose: (() => void)[] = [];
  /** Notices changes of the host's network (other than this interface's). */
  private readonly netWatch: NetWatch;
  /** Each peer's endpoint lines, the names among them kept resolved (names.ts). */
  private readonly names: EndpointNames;
  /**
   * Each peer's selection knobs as last set (UAPI wgm_endpoint_policy, wgm_roaming), reported by
   * get; the core receives them through configurePeer.
   */
  private readonly knobs = new Map<string, { policy: EndpointPolicy; roaming: boolean }>();
  /** Lets the main thread's young generation grow during a handshake flood (heap.ts). */
  private readonly nursery = new HandshakeNursery();

  private constructor(
    private readonly dp: DataPlane,
    private readonly log: Logger,
    maxPeers: number,
    lookup: Lookup,
    mirroring: boolean,
  ) {
    super();
    this.mirroring = mirroring;
    this.names = new EndpointNames(lookup, (peer, rank, addrs) => this.lineUpdated(peer, rank, addrs), log);
    this.ifname = dp.tun.name;
    this.ifindex = dp.ifindex;
    this.maxPeers = maxPeers;
    this.mtu = dp.tun.mtu;
    const wallEpochNs = BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(dp.now() * 1e6));
    this.core = new Core({ wallEpochNs });
    this.mirror = new PeerMirror(dp, (peerHex) => this.core.peers.get(peerHex));
    // Under load by the depth of the queue to this thread, as wireguard-go (Core.datagram).
    dp.on('handshake', (data, from, waiting) => {
      this.nursery.note();
      this.apply(this.core.datagram(from, data, dp.now(), waiting));
    });
    // The receive workers shed handshake messages (a source over its budget, or the queue to
    // this thread full): a flood. Answer the rest with cookies rather than a DH each.
    dp.on('handshakeShed', () => this.core.setUnderLoad(dp.now() + UNDER_LOAD_AFTER_TIME_MS));
    dp.on('needKey', (_slot, packet) => this.apply(this.core.packetFromTun(packet, dp.now())));
    dp.on('confirmed', (slot, kpSlot) => {
      this.received(slot, kpSlot);
      // A worker promoted that keypair if it still could: make sure it is what the core sends with.
      const p = this.mirror.ofSlot(slot);
      if (p && !this.closed) this.mirror.confirmed(p.key);
    });
    dp.on('roam', (slot, from) => this.received(slot, undefined, from));
    dp.on('sendRefused', (slot, to, errno) => this.sendRefused(slot, to, errno));
    dp.on('traffic', (moved) => this.traffic(moved));
    dp.on('linkGone', () => this.fireLinkGone());
    dp.on('error', (e) => this.log.error(`Data plane: ${e.message}`));
    dp.on('note', (m) => this.log.verbose(m));
    if (dp.offload) this.log.verbose(dp.offload.note);
    this.mtuTimer = setInterval(() => this.checkMtu(), MTU_INTERVAL_MS);
    this.netWatch = new NetWatch({
      ifname: this.ifname,
      // Its index where it was created: notifications about it (its addresses and routes, its
      // move to another namespace) are no change of the paths to the peers. The kernel does not
      // hand a freed index out again soon (dev_index_reserve counts up), so after a move the
      // index names no other interface here.
      own: () => this.ifindex,
      log,
      onChange: (what) => {
        if (this.closed) return;
        this.log.verbose(`Network changed (${what}): racing the endpoints of every peer again`);
        this.networkChanged();
      },
    });
  }

  /** Creates the TUN interface `ifname`, binds a UDP port and starts the data plane. */
  static async open(ifname: string, log: Logger, opts: EngineOptions = {}): Promise<EngineDevice> {
    // The handshakes' X25519 on raw keys, from node's OpenSSL or libsodium (sys/x25519-raw.ts says why).
    const x25519 = fastestRawX25519();
    if (x25519) useRawX25519(x25519.x25519);
    // And their ChaCha20-Poly1305 fields (sys/sodium-aead.ts).
    if (sodiumAeadAvailable()) useRawAead({ seal: sodiumSeal, open: sodiumOpen, fits: sodiumAeadFits });
    const maxPeers = opts.maxPeers ?? maxPeersFromEnv();
    const dp = await DataPlane.start({
      tunName: ifname,
      port: opts.port ?? 0,
      // Twice the peers: a removed peer's slot is reused only after every worker saw it go, so
      // replacing every peer at once needs room for both sets for a moment.
      maxPeers: maxPeers * 2,
      txThreads: opts.txThreads ?? 1,
      rxThreads: opts.rxThreads ?? 1,
      threads: opts.threads,
    });
    return new EngineDevice(dp, log, maxPeers, opts.lookup ?? engineLookup(), opts.mirror ?? mirrorFromEnv());
  }

  get listenPort(): number {
    return this.dp.port;
  }

  /** Where the TUN interface is now (it may have been renamed or moved to another namespace). */
  location(): TunLocation {
    return this.dp.tun.location();
  }

  onLinkGone(fn: () => void): void {
    this.linkGone.push(fn);
  }

  onClosed(fn: () => void): void {
    this.onClose.push(fn);
  }

  /** Calls `fn` on every path event until the returned function is called (`wgm monitor`). */
  onPath(fn: (ev: PathEvent) => void): () => void {
    this.on('path', fn);
    return () => this.off('path', fn);
  }

  // ---- UAPI ----

  get(): { device: Device; ext: GetExtensions } {
    this.dp.takeTraffic();
    const device = deviceToText(this.core.getDevice());
    device.listenPort = this.dp.port;
    // The core counts handshake messages and what it sealed itself; the workers count the rest.
    for (const peer of device.peers) {
      const slot = peer.publicKey ? this.mirror.ofKey(peer.publicKey)?.slot : undefined;
      if (slot === undefined) continue;
      const knobs = this.knobs.get(Buffer.from(peer.publicKey!).toString('hex'));
      peer.policy ??= knobs?.policy ?? 'latency';
      peer.roaming ??= knobs?.roaming ?? true;
      const c = this.dp.counters(slot);
      peer.rxBytes = (peer.rxBytes ?? 0n) + c.rxBytes;
      peer.txBytes = (peer.txBytes ?? 0n) + c.txBytes;
    }
    return {
      device,
      ext: {
        implementation: `wgm-engine/${ENGINE_VERSION}`,
        capabilities: [CAPABILITY_MULTI_ENDPOINT, CAPABILITY_ENDPOINT_NAMES, CAPABILITY_MONITOR],
      },
    };
  }

  async set(req: SetRequest): Promise<number> {
    let change: Device<PathAddr>;
    try {
      change = deviceFromText(req.change);
    } catch (e) {
      this.log.error(`UAPI: ${(e as Error).message}`);
      return EINVAL;
    }
    const now = this.dp.now();
    if (this.peersAfter(change) > this.maxPeers) {
      this.log.error(`UAPI: more than ${this.maxPeers} peers (WGM_ENGINE_MAX_PEERS)`);
      return ENOMEM;
    }
    // What can fail comes first, so that a failure leaves everything as it was.
    const oldMark = this.core.getDevice().fwmark ?? 0;
    if (change.fwmark !== undefined) {
      this.log.verbose('UAPI: Updating fwmark');
      try {
        this.dp.setFwmark(change.fwmark);
      } catch (e) {
        this.log.error(`UAPI: failed to update fwmark: ${(e as Error).message}`);
        return EADDRINUSE;
      }
    }
    if (change.listenPort !== undefined) {
      this.log.verbose('UAPI: Updating listen port');
      try {
        await this.dp.setListenPort(change.listenPort);
      } catch (e) {
        this.log.error(`UAPI: failed to set listen_port: ${(e as Error).message}`);
        if (change.fwmark !== undefined) this.dp.setFwmark(oldMark);
        return EADDRINUSE;
      }
    }
    this.dp.takeTraffic();
    // Names among a peer's endpoints are held here and resolved in the background: the core
    // gets the addresses known now, then each peer's lines (a name's line: what it resolved to).
    const lines = this.names.take(change);
    this.apply(this.core.configure(change, now), 'configured');
    this.names.prune((peer) => this.core.peers.has(peer));
    for (const [peer, l] of lines)
      if (this.core.peers.has(peer)) this.configurePeerSafely(peer, { lines: l }, now);
    this.keepKnobs(change, now);
    this.shareHandshakeKey();
    // Slots of removed peers come back once the workers have seen them go.
    for (let i = 0; !this.mirror.syncDevice(this.core.getDevice()); i++) {
      if (i === SYNC_ATTEMPTS) {
        this.log.error('Data plane: no free peer slot');
        return ENOMEM;
      }
      await this.dp.settle();
    }
    return 0;
  }

  /** configure() for a peer the core holds; a refusal (it cannot happen after set's checks) is logged. */
  private configurePeerSafely(peer: string, cfg: PeerPathConfig, now: number): void {
    try {
      this.apply(this.core.configurePeer(Buffer.from(peer, 'hex'), cfg, now));
    } catch (e) {
      this.log.error(`UAPI: ${(e as Error).message}`);
    }
  }

  /** Records and applies the knobs a set gave; forgets those of peers the core no longer holds. */
  private keepKnobs(change: Device<PathAddr>, now: number): void {
    if (change.replacePeers) this.knobs.clear();
    for (const p of change.peers) {
      if (!p.publicKey || (p.policy === undefined && p.roaming === undefined)) continue;
      const k = Buffer.from(p.publicKey).toString('hex');
      if (!this.core.peers.has(k)) continue;
      const was = this.knobs.get(k) ?? { policy: 'latency', roaming: true };
      const knobs = { policy: p.policy ?? was.policy, roaming: p.roaming ?? was.roaming };
      this.knobs.set(k, knobs);
      this.configurePeerSafely(k, knobs, now);
    }
    for (const k of [...this.knobs.keys()]) if (!this.core.peers.has(k)) this.knobs.delete(k);
  }

  /** Tells the receive workers the device's public key when it changed (their mac1 check). */
  private shareHandshakeKey(): void {
    const key = this.core.identity?.publicKey;
    if (key === this.handshakeKey || (key && this.handshakeKey && keysEqual(key, this.handshakeKey))) return;
    this.handshakeKey = key;
    this.dp.setHandshakeKey(key);
  }

  /** Peers the device would hold after `change` (an upper bound: removals inside it count). */
  private peersAfter(change: Device<PathAddr>): number {
    const own =
      change.privateKey && !isZeroKey(change.privateKey) ? publicKeyOf(change.privateKey) : undefined;
    const fresh = new Set<string>();
    for (const p of change.peers) {
      if (!p.publicKey || p.remove || p.updateOnly) continue;
      if (own && keysEqual(own, p.publicKey)) continue;
      const k = Buffer.from(p.publicKey).toString('hex');
      if (change.replacePeers || !this.core.peers.has(k)) fresh.add(k);
    }
    return (change.replacePeers ? 0 : this.core.peers.size) + fresh.size;
  }

  // ---- Endpoint selection ----

  /**
   * A peer's endpoint lines (line i = the i-th `Endpoint`: one address for a literal, the
   * resolved ones for a hostname, possibly none yet) and its selection knobs. Throws, changing
   * nothing, for an unknown peer (WgError), a bad address or more than 16 lines (RangeError).
   */
  configure(peer: string, cfg: PeerPathConfig): void {
    this.apply(this.core.configurePeer(Buffer.from(peer, 'hex'), cfg, this.dp.now()));
  }

  /** New addresses for the peer's line `rank` (0-based), e.g. after resolving its name again. */
  updateEndpointLine(peer: string, rank: number, addrs: readonly PathAddr[], now = this.dp.now()): void {
    this.apply(this.core.updateEndpointLine(Buffer.from(peer, 'hex'), rank, addrs, now));
  }

  /** Per candidate of a peer (hex public key), in race order; undefined for an unknown peer. */
  candidates(publicKeyHex: string): CandidateView[] | undefined {
    const key = Buffer.from(publicKeyHex, 'hex');
    const list = this.core.candidates(key);
    if (!list) return undefined;
    const peer = this.core.peers.get(publicKeyHex.toLowerCase());
    const active = peer?.endpoint;
    const wallMs = (t: number | undefined) =>
      t === undefined ? undefined : Date.now() - Math.max(0, this.dp.now() - t);
    return list.map((c) => {
      const addr = pathToText(c.addr);
      const endpoint = formatSockAddr(addr);
      const v: CandidateView = {
        endpoint,
        addr,
        source: c.source,
        rank: c.rank,
        state: active && samePath(active, c.addr) ? 'active' : viewState(c),
        failures: c.failures,
      };
      if (c.srtt !== undefined) v.rttMs = c.srtt;
      const last = wallMs(c.lastSuccess);
      if (last !== undefined) v.lastSuccess = last;
      return v;
    });
  }

  /** Local addresses or routes changed: every peer with several endpoints races them afresh. */
  networkChanged(now = this.dp.now()): void {
    this.names.networkChanged();
    this.apply(this.core.networkChanged(now));
  }

  // ---- Events ----

  /** A name among a peer's endpoint lines resolved to new addresses (names.ts). */
  private lineUpdated(peer: string, rank: number, addrs: readonly PathAddr[]): void {
    if (this.closed || !this.core.peers.has(peer)) return;
    try {
      this.updateEndpointLine(peer, rank, addrs);
    } catch (e) {
      this.log.error(`Endpoint names: ${(e as Error).message}`);
    }
  }

  private received(slot: number, kpSlot: number | undefined, from?: PathAddr): void {
    const p = this.mirror.ofSlot(slot);
    if (!p) return;
    const index = kpSlot !== undefined ? this.mirror.indexOfSlot(p, kpSlot) : p.currentIndex;
    const source = from ?? p.endpoint;
    if (index === undefined || !source) return;
    this.apply(this.core.transportReceived(index, source, 0, true, this.dp.now()), 'roamed');
  }

  /** The kernel refused a data packet (paced by the workers): selection may leave that path. */
  private sendRefused(slot: number, to: PathAddr, errno: number): void {
    if (this.closed) return;
    const p = this.mirror.ofSlot(slot);
    if (p) this.apply(this.core.dataRefused(p.key, to, this.dp.now(), `errno ${errno}`));
  }

  /** Hands what the data plane moved to the core: its timers see all traffic. */
  private traffic(moved: Moved[]): void {
    if (this.closed) return;
    const now = this.dp.now();
    for (const t of moved) {
      const p = this.mirror.ofSlot(t.peer);
      if (!p) continue;
      const recv = () => {
        if (t.rxAt === 0 || p.currentIndex === undefined || !p.endpoint) return;
        this.apply(this.core.transportReceived(p.currentIndex, p.endpoint, 0, !t.rxData, now));
      };
      const send = () => {
        if (t.txAt === 0) return;
        this.apply(this.core.transportSent(p.key, 0, t.txData ? 1 : 0, now));
      };
      // In the order they last happened, so that "sent after received" clears the keepalive.
      if (t.txAt >= t.rxAt) {
        recv();
        send();
      } else {
        send();
        recv();
      }
    }
  }

  private tick(): void {
    this.wakeAt = undefined;
    this.apply(this.core.tick(this.dp.now()));
  }

  private checkMtu(): void {
    if (this.closed) return;
    try {
      const mtu = this.dp.tun.mtu;
      if (mtu !== this.mtu) {
        this.mtu = mtu;
        this.dp.setMtu(mtu);
        this.log.verbose(`MTU updated: ${mtu}`);
      }
    } catch {
      // The link is going away; linkGone will say so.
    }
  }

  private fireLinkGone(): void {
    for (const fn of this.linkGone.splice(0)) fn();
  }

  /**
   * Carries out the core's actions, in order, except that keypairs reach the workers first: a
   * handshake response goes out in the same batch as its keypair, and the peer's first data
   * packet may come back before a worker would otherwise have the key to open it.
   */
  private apply(actions: Action[], cause?: string): void {
    if (this.closed) return;
    for (const a of actions) if (a.type === 'keypairChanged') this.mirror.setKeypairs(a.peer, a.keypairs);
    for (const a of actions) {
      switch (a.type) {
        case 'send': {
          // From the peer's sticky source address; the core has counted the bytes already.
          const slot = a.peer && this.mirror.ofKey(a.peer)?.slot;
          const { peer, to } = a;
          const failed = () => {
            this.log.verbose(`Failed to send a packet to ${formatPath(to)}`);
            // A local refusal (no route, unreachable): selection tries the other paths (after
            // this batch: the race it starts may send to a refused path again).
            if (peer) setImmediate(() => this.apply(this.core.sendError(peer, to, this.dp.now())));
          };
          this.dp.sendHandshake(a.bytes, to, slot, { count: false, failed });
          break;
        }
        case 'sendData': {
          // Staged packets and keepalives: sealed on this thread with the peer's sending keypair.
          const slot = this.mirror.ofKey(a.peer)?.slot;
          if (slot !== undefined) this.dp.sendData(slot, a.packets);
          break;
        }
        case 'wakeAt':
          this.schedule(a.at);
          break;
        case 'keypairChanged':
          break;
        case 'endpointChanged': {
          // Selection's switches come as 'pathSwitched' with their reason; a change it did not
          // make (a set, wg's roaming of a one-endpoint peer) is reported with the caller's.
          const was = this.mirror.ofKey(a.peer)?.endpoint;
          this.mirror.setEndpoint(a.peer, a.endpoint);
          const switched = actions.some((b) => b.type === 'pathSwitched' && keysEqual(b.peer, a.peer));
          if (cause && a.endpoint && !switched && !samePath(was, a.endpoint))
            this.emitPath(a.peer, was, a.endpoint, cause);
          break;
        }
        case 'pathSwitched':
          this.emitPath(a.peer, a.from, a.to, a.reason);
          break;
        case 'mirror': {
          const slot = this.mirror.ofKey(a.peer)?.slot;
          if (this.mirroring && slot !== undefined) this.dp.setMirror(slot, a.to, a.until);
          break;
        }
        case 'log':
          if (a.level === 'error') this.log.error(a.msg);
          else this.log.verbose(a.msg);
          break;
      }
    }
  }

  private emitPath(peer: Uint8Array, from: PathAddr | undefined, to: PathAddr, reason: string): void {
    const e: PathEvent = {
      peer: Buffer.from(peer).toString('hex'),
      to: formatSockAddr(pathToText(to)),
      reason,
      at: Date.now(),
    };
    if (from) e.from = formatSockAddr(pathToText(from));
    this.emit('path', e);
  }

  private schedule(at: number): void {
    this.wakeAt = at;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const delay = Math.max(0, at - this.dp.now());
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      if (this.wakeAt !== undefined && this.dp.now() >= this.wakeAt) this.tick();
    }, delay + 1);
  }

  /** Stops the data plane (the TUN interface goes with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.mtuTimer);
    this.nursery.stop();
    this.netWatch.close();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const fn of this.onClose.splice(0)) fn();
    this.names.close();
    this.apply(this.core.configure({ replacePeers: true, peers: [] }, this.dp.now()));
    await this.dp.stop();
  }
}
