// The data plane as the daemon sees it: worker threads that move transport packets between
// the TUN interface and the UDP port, configured from the main thread, which owns the core.
// README.md in this folder documents the API and the design; in short:
//
//   const dp = await DataPlane.start({ tunName: 'wg0', port: 51820 });
//   const p = dp.addPeer();
//   dp.setEndpoint(p, { family: 4, address: Uint8Array.of(192, 0, 2, 1), port: 51820, scopeId: 0 });
//   dp.setAllowedIPs(p, [{ family: 4, address: Uint8Array.of(10, 0, 0, 2), cidr: 32 }]);
//   const k = dp.installKeypair(p, keypair);   // a TransportKeypair (core/actions.ts)
//   dp.setSendKeypair(p, k);
//   dp.on('handshake', (data, from) => core.datagram(from, data));
//   dp.on('needKey', (peer, packet) => core.packetFromTun(peer, packet));
//   dp.on('traffic', (moved) => ...);            // per peer: last rx/tx, data or keepalive
//   dp.counters(p); await dp.stop();
//
// Configuration reaches the workers as messages on change only (workers.ts); per-packet state
// (send counters, each peer's sending keypair, byte counters, activity times, sticky source
// addresses) is shared memory (shared.ts). What the workers report is paced by inbox.ts; what
// this thread sends itself is sealed by main-send.ts, from the address main-source.ts picks.

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { WgError } from '../../model/errors.js';
import type { TunDevice } from '../../sys/tun.js';
import type { RawAddr } from '../../sys/udp.js';
import { UdpGroup } from '../../sys/udp-group.js';
import type { TransportKeypair } from '../core/actions.js';
import type { PathAddr } from '../core/addr.js';
import { DEFAULT_MTU } from '../core/constants.js';
import { bestCipher, type CipherKind } from './cipher.js';
import { Inbox, type Moved } from './inbox.js';
import { MainSender } from './main-send.js';
import { MainSources } from './main-source.js';
import { type OffloadInfo, offloadFromEnv, openEngineTun } from './offload.js';
import { laneOfIndex, type PrefixMsg, receives, sends, type WorkerEvent } from './protocol.js';
import { monotonicMs, NO_KEYPAIR, Shared } from './shared.js';
import { SlotPool } from './slots.js';
import { WorkerPool } from './workers.js';

export type { Moved } from './inbox.js';

export interface DataPlaneOptions {
  /** TUN interface to create or attach to. */
  tunName: string;
  /** Interface MTU; default 1420 (wg-quick's). */
  mtu?: number;
  /** UDP listen port; 0 (the default) lets the kernel choose. */
  port?: number;
  /** SO_MARK for the UDP sockets; 0 = none. */
  fwmark?: number;
  /**
   * 'split': a transmit and a receive worker (tx.ts, rx.ts); 'combined': one worker runs both
   * loops (both.ts; only with one transmit and one receive thread). Default: WGM_DATAPLANE if
   * set, else combined with one of each on a host of at most COMBINED_MAX_CPUS CPUs, split
   * otherwise (`threadsLayout`).
   */
  threads?: ThreadLayout;
  /** Transmit threads, one TUN queue each (default 1). */
  txThreads?: number;
  /** Receive threads, one UDP socket each, steered by receiver index (default 1). */
  rxThreads?: number;
  /** Packets per batch (default 64). */
  batch?: number;
  /** Peer capacity (default 1024); keypairs get three per peer. */
  maxPeers?: number;
  /** AEAD implementation for the workers; default libcrypto when present, else node:crypto. */
  cipher?: CipherKind;
  /** Force the UDP socket family (tests); default dual-stack IPv6. */
  family?: 4 | 6;
  /** TUN and UDP offloads (offload.ts); default on unless WGM_OFFLOAD=off. */
  offload?: boolean;
  /**
   * Start the workers with the first peer (the default) rather than in `start`: a device
   * without peers has nothing to move, and each worker's isolate holds ~10 MiB.
   */
  lazyWorkers?: boolean;
}

export type ThreadLayout = 'combined' | 'split';

/**
 * Hosts with this many CPUs or fewer get one worker for both directions by default: there a
 * second worker mostly takes its CPU from the first (and from the main thread), while its
 * isolate costs 10-13 MiB of resident memory (README.md in this folder, Memory).
 */
export const COMBINED_MAX_CPUS = 2;

/** WGM_DATAPLANE=combined or split (tests and benches compare the two); anything else: unset. */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): ThreadLayout | undefined {
  const v = (env.WGM_DATAPLANE ?? '').trim().toLowerCase();
  return v === 'combined' || v === 'split' ? v : undefined;
}

/**
 * The layout to run: what was asked for (the option, else the environment), else the host's
 * default. More than one thread either way is split: a combined worker has one TUN queue and
 * one socket (asked for explicitly, that is an error).
 */
export function threadsLayout(asked: ThreadLayout | undefined, tx: number, rx: number): ThreadLayout {
  if (tx > 1 || rx > 1) {
    if (asked === 'combined')
      throw new RangeError('a combined data-plane worker runs one queue and one socket');
    return 'split';
  }
  return asked ?? threadsFromEnv() ?? hostThreads();
}

/** The layout this host gets when nothing is asked for: by its CPUs (COMBINED_MAX_CPUS). */
export function hostThreads(): ThreadLayout {
  return availableParallelism() <= COMBINED_MAX_CPUS ? 'combined' : 'split';
}

/** What starting the workers takes, kept from `start` until the first peer. */
interface SpawnPlan {
  layout: ThreadLayout;
  tx: number;
  rx: number;
  batch: number;
  cipher: CipherKind;
  info: OffloadInfo;
}

export interface DataPlaneEvents {
  /** `waiting`: handshake messages queued behind this one (Core.datagram's queue depth). */
  handshake: [data: Uint8Array, from: PathAddr, waiting: number];
  handshakeShed: [count: number];
  needKey: [peer: number, packet: Uint8Array];
  confirmed: [peer: number, keypair: number];
  roam: [peer: number, from: PathAddr];
  /** What peers moved since the last 'traffic'; only peers with something new. */
  traffic: [moved: Moved[]];
  linkGone: [errno: number];
  /**
   * The kernel refused a transport packet of `peer` sent to `to` (errno: EPERM from a firewall
   * rule, ENETUNREACH, ...); at most one per peer per 100 ms from each transmit worker.
   */
  sendRefused: [peer: number, to: PathAddr, errno: number];
  /** A line for the verbose log (an offload falling back). */
  note: [message: string];
  error: [err: Error];
}

const SOCKET_SWAP_TIMEOUT_MS = 3000;

/** Compiles only while the socket's address (sys) and the engine's (core) are one shape. */
type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const ONE_ADDRESS_SHAPE: SameShape<RawAddr, PathAddr> = true;

export class DataPlane extends EventEmitter<DataPlaneEvents> {
  readonly tun: TunDevice;
  /** The offloads in use (offload.ts); `offload.note` says which, for the verbose log. */
  offload: OffloadInfo | undefined;
  private group: UdpGroup;
  private readonly shared: Shared;
  private readonly workers: WorkerPool;
  private readonly inbox: Inbox;
  private readonly peers: SlotPool;
  private readonly keypairs: SlotPool;
  private readonly sender: MainSender;
  private readonly sources: MainSources;
  private readonly endpoints: (PathAddr | undefined)[];
  private readonly rxThreads: number;
  private spawnPlan: SpawnPlan | undefined;
  /** Set once the workers were started: resolves when they all run. */
  private running: Promise<void> | undefined;
  private handshakeKey: Uint8Array | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private linkGoneSeen = false;

  private constructor(tun: TunDevice, group: UdpGroup, shared: Shared, rx: number) {
    super();
    this.tun = tun;
    this.group = group;
    this.shared = shared;
    this.rxThreads = rx;
    const { maxPeers, maxKeypairs } = shared.sizes;
    const applied = (t: number) => shared.applied(t);
    const sent = (t: number) => shared.sent(t);
    this.peers = new SlotPool(maxPeers, shared.sizes.threads, sent, applied);
    this.keypairs = new SlotPool(maxKeypairs, shared.sizes.threads, sent, applied);
    this.endpoints = new Array(maxPeers).fill(undefined);
    // A reply that leaves before its slice ends (reply-batch.ts) still follows its keypair.
    this.sender = new MainSender(shared, tun.mtu, () => this.workers.release());
    this.sources = new MainSources(shared.sources, () => this.group.family);
    this.workers = new WorkerPool(shared, {
      onEvent: (e) => this.onEvent(e),
      onError: (err) => this.emit('error', err),
      exitExpected: () => this.stopping || this.linkGoneSeen,
    });
    this.inbox = new Inbox(shared, {
      // The slice's keypair posts go out first (workers.ts collect), then its replies.
      slice: (run) =>
        this.sender.replies.collect(
          () => this.group.sockets[0]!,
          () => this.workers.collect(run),
        ),
      // Listeners answer synchronously; replies to `from` leave from `local`.
      handshake: (data, from, local, waiting) =>
        this.sources.replyingTo(from, local, () => this.emit('handshake', data, from, waiting)),
      traffic: (moved) => this.emit('traffic', moved),
    });
  }

  /** Creates the TUN interface (MTU set, link up), binds the port and starts the workers. */
  static async start(opts: DataPlaneOptions): Promise<DataPlane> {
    const tx = opts.txThreads ?? 1;
    const rx = opts.rxThreads ?? 1;
    const batch = opts.batch ?? 64;
    const maxPeers = opts.maxPeers ?? 1024;
    if (!(tx >= 1 && tx <= 64 && rx >= 1 && rx <= 64 && batch >= 1 && batch <= 1024 && maxPeers >= 1))
      throw new RangeError('bad data plane shape');
    const layout = threadsLayout(opts.threads, tx, rx);
    const { tun, info } = openEngineTun(opts.tunName, tx, opts.offload ?? offloadFromEnv());
    info.note +=
      layout === 'combined'
        ? '; one data-plane worker for both directions'
        : `; data-plane workers: ${tx} transmit, ${rx} receive`;
    let group: UdpGroup | undefined;
    let dp: DataPlane | undefined;
    try {
      tun.mtu = opts.mtu ?? DEFAULT_MTU;
      tun.up = true;
      group = UdpGroup.open(opts.port ?? 0, rx, opts.fwmark ?? 0, opts.family);
      const workers = layout === 'combined' ? 1 : tx + rx;
      const shared = Shared.create({ maxPeers, maxKeypairs: maxPeers * 3 + 8, threads: 1 + workers });
      dp = new DataPlane(tun, group, shared, rx);
      dp.offload = info;
      dp.spawnPlan = { layout, tx, rx, batch, cipher: opts.cipher ?? bestCipher(), info };
      if (opts.lazyWorkers === false) await dp.startWorkers();
      return dp;
    } catch (e) {
      if (dp) await dp.stop();
      else {
        group?.close();
        tun.close();
      }
      throw e;
    }
  }

  /**
   * Starts the workers unless they run already; resolves once they all run. Configuration
   * posted while they start waits on their ports (workers.ts), so callers need not wait.
   */
  startWorkers(): Promise<void> {
    if (this.running) return this.running;
    const plan = this.spawnPlan!;
    const { tx, rx, info } = plan;
    const online: Promise<void>[] = [];
    const spawn = (role: 'tx' | 'rx' | 'both', i: number, lane: number, lanes: number) =>
      online.push(
        this.workers.spawn({
          role,
          thread: 1 + i,
          lane,
          lanes,
          tunFd: this.tun.queues[lane % tx]!,
          udpFd: this.group.sockets[lane % rx]!.fd,
          udpFamily: this.group.family,
          mtu: this.tun.mtu,
          batch: plan.batch,
          cipher: plan.cipher,
          shared: this.shared.buffers,
          vnetHdr: info.vnetHdr,
          tunUso: info.uso,
          udpOffload: info.udp,
        }),
      );
    if (plan.layout === 'combined') spawn('both', 0, 0, 1);
    else for (let i = 0; i < tx + rx; i++) i < tx ? spawn('tx', i, i, tx) : spawn('rx', i, i - tx, rx);
    if (this.handshakeKey) this.workers.postAll({ t: 'handshakeKey', publicKey: this.handshakeKey }, 'rx');
    this.running = Promise.all(online).then(() => {});
    return this.running;
  }

  private onEvent(e: WorkerEvent): void {
    switch (e.t) {
      case 'handshakes':
        if (e.shed > 0) this.emit('handshakeShed', e.shed);
        this.inbox.handshakeBatch(e);
        return;
      case 'needKey':
        this.emit('needKey', e.peer, e.packet);
        return;
      case 'confirmed':
        this.emit('confirmed', e.peer, e.slot);
        return;
      case 'source':
        this.emit('roam', e.peer, e.addr);
        return;
      case 'refused':
        this.emit('sendRefused', e.peer, e.addr, e.errno);
        return;
      case 'traffic':
        this.inbox.trafficMoved();
        return;
      case 'linkGone':
        if (!this.linkGoneSeen) {
          this.linkGoneSeen = true;
          this.emit('linkGone', e.errno);
        }
        return;
      case 'note':
        this.emit('note', e.message);
        return;
      case 'fatal':
        this.emit('error', new Error(`data-plane worker: ${e.message}`));
        return;
    }
  }

  // ---- The API for the daemon ----

  /** The clock of every time this data plane takes or reports: monotonic milliseconds. */
  now(): number {
    return monotonicMs();
  }

  /** Whether one worker runs both directions ('combined') or each has its own ('split'). */
  get threads(): ThreadLayout {
    return this.spawnPlan!.layout;
  }

  get port(): number {
    return this.group.port;
  }

  get ifindex(): number {
    return this.tun.ifindex;
  }

  /** Emits 'traffic' now for what peers moved since the last time, if anything. */
  takeTraffic(): void {
    this.inbox.takeTraffic();
  }

  /** Takes a peer slot (a small integer) for a new peer. */
  addPeer(): number {
    const p = this.peers.take();
    if (p === undefined)
      throw new WgError('capability', `data plane is full (${this.shared.sizes.maxPeers} peers)`);
    this.shared.clearPeer(p);
    this.inbox.resetPeer(p);
    // A worker that fails to start is reported as 'error' by the pool (workers.ts).
    if (!this.running) this.startWorkers().catch(() => {});
    this.workers.postAll({ t: 'peer', peer: p, present: true });
    return p;
  }

  /** Forgets a peer with its keypairs, endpoint and allowed IPs. */
  removePeer(peer: number): void {
    this.shared.setSendKeypair(peer, NO_KEYPAIR);
    for (const slot of this.sender.keypairsOf(peer)) this.removeKeypair(slot);
    this.endpoints[peer] = undefined;
    this.workers.postAll({ t: 'peer', peer, present: false });
    this.peers.give(peer, this.peers.marksNow());
  }

  /**
   * Where transport packets to `peer` go; undefined = nowhere (packets are dropped). A sticky
   * source learned from another remote address is forgotten (main-source.ts).
   */
  setEndpoint(peer: number, addr: PathAddr | undefined): void {
    this.endpoints[peer] = addr;
    this.sources.endpointChanged(peer, addr);
    this.workers.postAll({ t: 'endpoint', peer, addr });
  }

  /**
   * Also sends each of `peer`'s transport packets to `addr` (the same datagram: one counter,
   * so the receiver keeps one copy) until `until` on `now()`'s clock; undefined: stop. The
   * transmit workers do it; the main thread's own sends (keepalives, staged packets) go to the
   * endpoint only.
   */
  setMirror(peer: number, addr: PathAddr | undefined, until: number): void {
    this.workers.postAll({ t: 'mirror', peer, addr, until }, 'tx');
  }

  /** Replaces the peer's allowed IPs (a prefix another peer held moves to this one). */
  setAllowedIPs(peer: number, prefixes: PrefixMsg[]): void {
    this.workers.postAll({
      t: 'allowed',
      peer,
      prefixes: prefixes.map((p) => ({ ...p, address: Uint8Array.from(p.address) })),
    });
  }

  /**
   * Installs a keypair (its `created` on this data plane's clock, `now()`); returns its id. It
   * carries nothing until `setSendKeypair`, or, with `awaitConfirmation` (the responder's new
   * keypair), until the first packet arrives on it: the receiving worker then makes it the
   * sending keypair itself, but only if the sending keypair is still the one it was to replace
   * (`{ over }`, undefined: none; `true`: the one sending now), and emits 'confirmed' either
   * way. Once the owner moved on (a newer keypair sends, or the one to replace was removed) the
   * worker leaves the choice to it. The keys are copied into the messages to the workers;
   * nonces come from `k.sendCounterCell`, shared with whoever else seals with it.
   */
  installKeypair(
    peer: number,
    k: TransportKeypair,
    awaitConfirmation: boolean | { over: number | undefined } = false,
  ): number {
    const over = typeof awaitConfirmation === 'object' ? awaitConfirmation.over : this.sendKeypair(peer);
    const slot = this.keypairs.take();
    if (slot === undefined) throw new WgError('capability', 'data plane keypair table is full');
    this.sender.install(slot, peer, k);
    const common = {
      t: 'keypair' as const,
      slot,
      peer,
      counter: k.sendCounterCell,
      localIndex: k.localIndex >>> 0,
      remoteIndex: k.remoteIndex >>> 0,
      created: k.created,
      promoteOnReceive: awaitConfirmation !== false,
      promoteOver: over ?? NO_KEYPAIR,
    };
    const owner = laneOfIndex(k.localIndex >>> 0, this.rxThreads);
    for (const { thread, role, lane } of this.workers.threads()) {
      // Every sending worker gets the sending key, the receive lane that owns the index the
      // receiving key; a combined worker both, in one message.
      const sendKey = sends(role) ? Uint8Array.from(k.sendKey) : undefined;
      const recvKey = receives(role) && lane === owner ? Uint8Array.from(k.recvKey) : undefined;
      // Lazily woken: each worker applies it before its next batch (workers.ts LAZY_WAKE_MS).
      if (sendKey || recvKey) this.workers.post(thread, { ...common, sendKey, recvKey }, true);
    }
    return slot;
  }

  /** Drops a keypair everywhere (its keys are wiped); the id is reused once every worker saw it. */
  removeKeypair(slot: number): void {
    const peer = this.sender.peerOf(slot);
    if (peer === undefined) return;
    if (this.shared.sendKeypair(peer) === slot) this.shared.setSendKeypair(peer, NO_KEYPAIR);
    this.sender.remove(slot);
    this.workers.postAll({ t: 'keypairGone', slot }, undefined, true);
    this.keypairs.give(slot, this.keypairs.marksNow());
  }

  /** The keypair `peer`'s packets are sealed with (undefined: none, packets go to 'needKey'). */
  setSendKeypair(peer: number, slot: number | undefined): void {
    this.shared.setSendKeypair(peer, slot ?? NO_KEYPAIR);
  }

  sendKeypair(peer: number): number | undefined {
    const s = this.shared.sendKeypair(peer);
    return s === NO_KEYPAIR ? undefined : s;
  }

  /**
   * Seals and sends packets to `peer` from the main thread with its sending keypair (an empty
   * packet is a keepalive): for staged packets and keepalives. Returns how many went out;
   * 0 when the peer has no usable keypair or endpoint.
   */
  sendData(peer: number, packets: Uint8Array[]): number {
    const to = this.endpoints[peer];
    if (!to) return 0;
    // The peer answers these at once (an initiator's first packets after the response): the
    // keypairs this slice installed must reach the workers first.
    this.workers.release();
    const source = this.sources.sourceFor(peer, to);
    const sent = this.sender.send(this.group.sockets[0]!, peer, to, packets, this.now(), source);
    // Refused sends count too (main-send.ts): the core's timers must hear of them.
    if (packets.length > 0 && this.shared.noteMoved(peer)) this.inbox.trafficMoved();
    return sent;
  }

  /**
   * Sends a handshake message (or any datagram) as is. From `peer`'s sticky source address
   * when it has one for `to`; a reply to the handshake message being handled (from inside a
   * 'handshake' listener) from the address that message arrived at. Counted as sent to `peer`
   * unless `count` is false (the core counts what it sends itself). From a 'handshake'
   * listener the message leaves with the rest of the slice's (reply-batch.ts): true then, and
   * `failed` is called if the kernel refuses it (at once otherwise, with false).
   */
  sendHandshake(
    data: Uint8Array,
    to: PathAddr,
    peer?: number,
    opts: { count?: boolean; failed?: () => void } = {},
  ): boolean {
    const counted = opts.count === false ? undefined : peer;
    const source = this.sources.pick(to, peer);
    return this.sender.sendRaw(this.group.sockets[0]!, to, data, counted, source, opts.failed);
  }

  /** Exact bytes received from and sent to `peer` (transport and handshake messages). */
  counters(peer: number): { rxBytes: bigint; txBytes: bigint } {
    const { rx, tx } = this.shared.bytes(peer);
    return { rxBytes: rx, txBytes: tx };
  }

  setMtu(mtu: number): void {
    this.tun.mtu = mtu;
    this.sender.mtu = mtu;
    this.workers.postAll({ t: 'mtu', mtu }, 'tx');
  }

  /**
   * The device's public key, for the receive workers' mac1 check: only handshake messages
   * made for this key reach 'handshake' (and cookie replies, which carry no mac1). Until it is
   * set, or after it is set to undefined, the workers pass them all.
   */
  setHandshakeKey(publicKey: Uint8Array | undefined): void {
    this.handshakeKey = publicKey && Uint8Array.from(publicKey);
    this.workers.postAll({ t: 'handshakeKey', publicKey: publicKey && Uint8Array.from(publicKey) }, 'rx');
  }

  setFwmark(mark: number): void {
    this.group.fwmark = mark;
  }

  /** Moves to another UDP port (0 = any); resolves to the port bound. */
  async setListenPort(port: number): Promise<number> {
    if (port !== 0 && port === this.group.port) return port;
    const next = UdpGroup.open(port, this.rxThreads, this.group.sockets[0]!.fwmark, this.group.family);
    const old = this.group;
    this.group = next;
    for (const { thread, lane } of this.workers.threads())
      this.workers.post(thread, { t: 'socket', fd: next.sockets[lane % this.rxThreads]!.fd });
    await this.settle(SOCKET_SWAP_TIMEOUT_MS);
    old.close();
    return next.port;
  }

  /**
   * Resolves once every worker applied every message posted so far (or `ms` after they all
   * run: workers still starting have applied nothing yet, so their start is waited for first).
   */
  async settle(ms = 1000): Promise<void> {
    if (this.running) await this.running.catch(() => {}); // a failed start is reported as 'error'
    await this.workers.settle(ms);
  }

  /**
   * Stops the workers (waking them out of poll), closes the port and the TUN interface. Every
   * call returns the same promise.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    this.inbox.closed = true;
    await this.workers.stop();
    this.sender.dispose();
    this.group.close();
    this.tun.close();
  }
}
