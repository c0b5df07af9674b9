// One wgm-engine interface: the sans-I/O core (protocol, timers, configuration) fed with real
// events, and the threaded data plane (TUN and UDP, transport sealing and opening) kept in
// step with it (mirror.ts).
//
//   handshake messages   data plane → core.datagram → actions (send, keypairs, endpoint)
//   a handshake flood    data plane 'handshakeShed' → core.setUnderLoad (cookie replies)
//   packets, no keypair  data plane 'needKey' → core.packetFromTun (stage, handshake)
//   transport traffic    data plane 'traffic' (at most one per TRAFFIC_GAP_MS, whatever the
//                        packet rate) → core.transportReceived / transportSent (timers, rekey)
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
// Counters are exact when read: a get polls the data plane first. Endpoint candidates follow
// the core's documented rule until selection lands (core/peer.ts: the first candidate, the next
// one on each unanswered handshake, and always the source of the latest authenticated packet).

import { EventEmitter } from 'node:events';
import { publicKeyOf } from '../crypto/x25519-native.js';
import { type Device, type EndpointPolicy, isZeroKey, keysEqual, newPeer } from '../model/index.js';
import { formatSockAddr } from '../model/inet.js';
import type { TunLocation } from '../sys/tun.js';
import { EADDRINUSE, ENOMEM } from '../uapi/errno.js';
import { CAPABILITY_ENDPOINT_NAMES, CAPABILITY_MULTI_ENDPOINT, type GetExtensions } from '../uapi/get.js';
import { CAPABILITY_MONITOR, type PathEvent } from '../uapi/monitor.js';
import type { Action } from './core/actions.js';
import { UNDER_LOAD_AFTER_TIME_MS } from './core/constants.js';
import { Core } from './core/core.js';
import { DataPlane, type Moved } from './dataplane/dataplane.js';
import type { Logger } from './log.js';
import { PeerMirror } from './mirror.js';
import { EndpointNames, engineLookup, flattenLines } from './names.js';
import type { Lookup } from './resolve.js';
import type { SetRequest, UapiDevice } from './uapi-server.js';

/** Kept in step with package.json by test/unit/engine/device.test.ts. */
export const ENGINE_VERSION = '0.1.0';

/** How often the interface MTU is re-read (wg-quick sets it with `ip link` after start). */
const MTU_INTERVAL_MS = 1000;
/** Peers one interface holds unless WGM_ENGINE_MAX_PEERS says otherwise. */
export const DEFAULT_MAX_PEERS = 4096;
/**
 * Handshake messages per second past which the engine answers with cookies (whitepaper 5.3).
 * wireguard-go goes under load when 128 of its 1024 queued handshake messages wait, i.e. only
 * when it falls behind; counting arrivals, as the core does, at the core's default of 128 per
 * second made every handshake cost a cookie round trip at modest rates (test/bench/engine.ts).
 * The main thread completes a few thousand handshakes per second, so 1024 keeps cookies for
 * real floods.
 */
export const UNDER_LOAD_HANDSHAKES_PER_SEC = 1024;
/** Times a set waits for the workers to free the slots of removed peers. */
const SYNC_ATTEMPTS = 5;

export interface EngineOptions {
  /** UDP port to start on (0: any); a UAPI set may change it. */
  port?: number;
  maxPeers?: number;
  txThreads?: number;
  rxThreads?: number;
  /** Resolves endpoint names (tests point it at their own DNS server); the system's by default. */
  lookup?: Lookup;
}

function maxPeersFromEnv(): number {
  const v = Number(process.env['WGM_ENGINE_MAX_PEERS']);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_MAX_PEERS;
}

export type { PathEvent };

/**
 * Emits `'path'` ({@link PathEvent}) whenever a peer's active endpoint changes: from where to
 * where, and why. `wgm monitor` streams them (UAPI `wgm_monitor`, uapi-server.ts).
 */
export class EngineDevice extends EventEmitter implements UapiDevice {
  readonly ifname: string;
  readonly ifindex: number;
  private readonly core: Core;
  private readonly mirror: PeerMirror;
  private readonly maxPeers: number;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private readonly mtuTimer: NodeJS.Timeout;
  private mtu: number;
  private closed = false;
  /** The public key the receive workers check mac1 against. */
  private handshakeKey: Uint8Array | undefined;
  private readonly linkGone: (() => void)[] = [];
  private readonly onClose: (() => void)[] = [];
  /** Each peer's endpoint lines, names kept resolved. */
  private readonly names: EndpointNames;
  /**
   * Each peer's selection knobs as last set (UAPI wgm_endpoint_policy, wgm_roaming), reported by
   * get; the core receives them as the change's peer fields `policy` and `roaming`.
   */
  private readonly knobs = new Map<string, { policy: EndpointPolicy; roaming: boolean }>();

  private constructor(
    private readonly dp: DataPlane,
    private readonly log: Logger,
    maxPeers: number,
    lookup: Lookup,
  ) {
    super();
    this.names = new EndpointNames(lookup, (peer) => this.lineUpdated(peer), log);
    this.ifname = dp.tun.name;
    this.ifindex = dp.ifindex;
    this.maxPeers = maxPeers;
    this.mtu = dp.tun.mtu;
    const wallEpochNs = BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(dp.now() * 1e6));
    this.core = new Core({ wallEpochNs, underLoadThreshold: UNDER_LOAD_HANDSHAKES_PER_SEC });
    this.mirror = new PeerMirror(dp);
    dp.on('handshake', (data, from) => this.apply(this.core.datagram(from, data, dp.now()), 'handshake'));
    // The receive workers shed handshake messages (a source over its budget, or the queue to
    // this thread full): a flood. Answer the rest with cookies rather than a DH each.
    dp.on('handshakeShed', () => this.core.setUnderLoad(dp.now() + UNDER_LOAD_AFTER_TIME_MS));
    dp.on('needKey', (_slot, packet) => this.apply(this.core.packetFromTun(packet, dp.now()), 'handshake'));
    dp.on('confirmed', (slot, kpSlot) => this.received(slot, kpSlot));
    dp.on('roam', (slot, from) => this.received(slot, undefined, from));
    dp.on('traffic', (moved) => this.traffic(moved));
    dp.on('linkGone', () => this.fireLinkGone());
    dp.on('error', (e) => this.log.error(`Data plane: ${e.message}`));
    this.mtuTimer = setInterval(() => this.checkMtu(), MTU_INTERVAL_MS);
  }

  /** Creates the TUN interface `ifname`, binds a UDP port and starts the data plane. */
  static async open(ifname: string, log: Logger, opts: EngineOptions = {}): Promise<EngineDevice> {
    const maxPeers = opts.maxPeers ?? maxPeersFromEnv();
    const dp = await DataPlane.start({
      tunName: ifname,
      port: opts.port ?? 0,
      // Twice the peers: a removed peer's slot is reused only after every worker saw it go, so
      // replacing every peer at once needs room for both sets for a moment.
      maxPeers: maxPeers * 2,
      txThreads: opts.txThreads ?? 1,
      rxThreads: opts.rxThreads ?? 1,
    });
    return new EngineDevice(dp, log, maxPeers, opts.lookup ?? engineLookup());
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

  /** Calls `fn` on every path event until the returned function is called. */
  onPath(fn: (ev: PathEvent) => void): () => void {
    this.on('path', fn);
    return () => this.off('path', fn);
  }

  /** Emits a path event and logs it (a log line on every switch). */
  emitPath(ev: PathEvent): void {
    this.log.verbose(`${ev.peer.slice(0, 8)}: endpoint ${ev.from ?? '(none)'} -> ${ev.to} (${ev.reason})`);
    this.emit('path', ev);
  }

  // ---- UAPI ----

  get(): { device: Device; ext: GetExtensions } {
    this.dp.takeTraffic();
    const device = this.core.getDevice();
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
    const { change } = req;
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
    this.names.take(change);
    this.apply(this.core.configure(change, now), 'configured');
    this.names.prune((peer) => this.core.peers.has(peer));
    this.keepKnobs(change);
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

  /** Records the knobs a set gave, and forgets those of peers the core no longer holds. */
  private keepKnobs(change: Device): void {
    if (change.replacePeers) this.knobs.clear();
    for (const p of change.peers) {
      if (!p.publicKey || (p.policy === undefined && p.roaming === undefined)) continue;
      const k = Buffer.from(p.publicKey).toString('hex');
      const was = this.knobs.get(k) ?? { policy: 'latency', roaming: true };
      this.knobs.set(k, { policy: p.policy ?? was.policy, roaming: p.roaming ?? was.roaming });
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
  private peersAfter(change: Device): number {
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

  // ---- Events ----

  /**
   * A name among a peer's endpoint lines resolved to new addresses. INTERIM (until the core
   * takes endpoint lines and updateEndpointLine(publicKeyHex, rank, addrs, now)): the peer's
   * whole list goes to the core again, flattened, as an update_only change.
   */
  private lineUpdated(peerHex: string): void {
    const lines = this.names.linesOf(peerHex);
    if (this.closed || !lines || !this.core.peers.has(peerHex)) return;
    const addrs = flattenLines(lines);
    const peer = newPeer({ publicKey: Buffer.from(peerHex, 'hex'), updateOnly: true });
    peer.endpoints = addrs.map((addr) => ({ addr }));
    if (addrs.length === 0) peer.clearEndpoints = true;
    this.apply(this.core.configure({ replacePeers: false, peers: [peer] }, this.dp.now()), 'name-resolved');
  }

  private received(
    slot: number,
    kpSlot: number | undefined,
    from?: import('../model/index.js').SockAddr,
  ): void {
    const p = this.mirror.ofSlot(slot);
    if (!p) return;
    const index = kpSlot !== undefined ? this.mirror.indexOfSlot(p, kpSlot) : p.currentIndex;
    const source = from ?? p.endpoint;
    if (index === undefined || !source) return;
    this.apply(this.core.transportReceived(index, source, 0, true, this.dp.now()), 'roamed');
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
        this.apply(this.core.transportReceived(p.currentIndex, p.endpoint, 0, !t.rxData, now), 'roamed');
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
    this.apply(this.core.tick(this.dp.now()), 'no-response');
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
  private apply(actions: Action[], cause = 'changed'): void {
    if (this.closed) return;
    for (const a of actions) if (a.type === 'keypairChanged') this.mirror.setKeypairs(a.peer, a.keypairs);
    for (const a of actions) {
      switch (a.type) {
        case 'send': {
          // From the peer's sticky source address; the core has counted the bytes already.
          const slot = a.peer && this.mirror.ofKey(a.peer)?.slot;
          if (!this.dp.sendHandshake(a.bytes, a.to, slot, { count: false }))
            this.log.verbose(`Failed to send a packet to ${formatSockAddr(a.to)}`);
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
          // INTERIM: the reason is what led to the core call (the core's actions carry none).
          const was = this.mirror.ofKey(a.peer)?.endpoint;
          this.mirror.setEndpoint(a.peer, a.endpoint);
          if (a.endpoint && (!was || formatSockAddr(was) !== formatSockAddr(a.endpoint))) {
            const ev: PathEvent = {
              peer: Buffer.from(a.peer).toString('hex'),
              to: formatSockAddr(a.endpoint),
              reason: cause,
              at: Date.now(),
            };
            if (was) ev.from = formatSockAddr(was);
            this.emitPath(ev);
          }
          break;
        }
        case 'log':
          if (a.level === 'error') this.log.error(a.msg);
          else this.log.verbose(a.msg);
          break;
      }
    }
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
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const fn of this.onClose.splice(0)) fn();
    this.names.close();
    this.apply(this.core.configure({ replacePeers: true, peers: [] }, this.dp.now()));
    await this.dp.stop();
  }
}
