// The data plane as the daemon sees it: worker threads that move transport packets between
// the TUN interface and the UDP port, configured from the main thread, which owns the core.
// README.md in this folder documents the API and the design; in short:
//
//   const dp = await DataPlane.start({ tunName: 'wg0', port: 51820 });
//   const p = dp.addPeer();
//   dp.setEndpoint(p, { family: 4, address: '192.0.2.1', port: 51820 });
//   dp.setAllowedIPs(p, [{ family: 4, address: Uint8Array.of(10, 0, 0, 2), cidr: 32 }]);
//   const k = dp.installKeypair(p, keypair);   // a TransportKeypair (core/actions.ts)
//   dp.setSendKeypair(p, k);
//   dp.on('handshake', (data, from) => core.datagram(from, data));
//   dp.on('needKey', (peer, packet) => core.packetFromTun(peer, packet));
//   dp.on('traffic', (moved) => ...);            // per peer: last rx/tx, data or keepalive
//   dp.counters(p); await dp.stop();
//
// Configuration reaches the workers as messages on change only; per-packet state (send
// counters, each peer's sending keypair, byte counters, activity times, sticky source
// addresses) is shared memory.

import { EventEmitter } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { WgError } from '../../model/errors.js';
import type { SockAddr } from '../../model/index.js';
import { closeFd, Waker } from '../../sys/native.js';
import type { LocalAddr } from '../../sys/pktinfo.js';
import type { TunDevice } from '../../sys/tun.js';
import { encodeSockaddr, type RawAddr, SOCKADDR_SIZE } from '../../sys/udp.js';
import { UdpGroup } from '../../sys/udp-group.js';
import type { TransportKeypair } from '../core/actions.js';
import { DEFAULT_MTU } from '../core/constants.js';
import { fromRaw, toRaw } from './addr.js';
import { bestCipher, type CipherKind } from './cipher.js';
import { readHandshakeBatch } from './handshake-batch.js';
import { MainSender, type SendSource } from './main-send.js';
import { type OffloadInfo, offloadFromEnv, openEngineTun } from './offload.js';
import { type Control, laneOfIndex, type PrefixMsg, type WorkerEvent, type WorkerInit } from './protocol.js';
import {
  monotonicMs,
  NO_KEYPAIR,
  SEEN_RX_AUTH,
  SEEN_RX_DATA,
  SEEN_TX_AUTH,
  SEEN_TX_DATA,
  Shared,
} from './shared.js';
import { SlotPool } from './slots.js';
import { SourceRecord } from './source.js';

export interface DataPlaneOptions {
  /** TUN interface to create or attach to. */
  tunName: string;
  /** Interface MTU; default 1420 (wg-quick's). */
  mtu?: number;
  /** UDP listen port; 0 (the default) lets the kernel choose. */
  port?: number;
  /** SO_MARK for the UDP sockets; 0 = none. */
  fwmark?: number;
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
}

export interface Activity {
  lastTxData: number;
  lastRxData: number;
  lastTxAuth: number;
  lastRxAuth: number;
}

/** What one peer moved since the last 'traffic' event that named it. */
export interface Moved {
  peer: number;
  /** When the latest authenticated packet came in / went out (dp.now()'s clock); 0: none new. */
  rxAt: number;
  txAt: number;
  /** Whether data (not only keepalives) came in / went out. */
  rxData: boolean;
  txData: boolean;
}

export interface DataPlaneEvents {
  handshake: [data: Uint8Array, from: SockAddr];
  handshakeShed: [count: number];
  needKey: [peer: number, packet: Uint8Array];
  confirmed: [peer: number, keypair: number];
  roam: [peer: number, from: SockAddr];
  /** What peers moved since the last 'traffic'; only peers with something new. */
  traffic: [moved: Moved[]];
  linkGone: [errno: number];
  /** A line for the verbose log (an offload falling back). */
  note: [message: string];
  error: [err: Error];
}

interface WorkerSlot {
  worker: Worker;
  port: MessagePort;
  waker: Waker;
  role: 'tx' | 'rx';
  lane: number;
  exited: Promise<void>;
}

type MessagePort = import('node:worker_threads').MessagePort;

const STOP_TIMEOUT_MS = 3000;
/** The longest the main thread answers handshake messages before it lets other work run. */
const HANDSHAKE_SLICE_MS = 5;
const SOCKET_SWAP_TIMEOUT_MS = 3000;
/**
 * The least time between two 'traffic' events. The workers post one message when TRAFFIC is
 * clear (shared.ts) and none until this thread takes it, so a bulk transfer costs this thread
 * at most 1000 / TRAFFIC_GAP_MS wake-ups a second, and the core hears of traffic that late at most.
 */
const TRAFFIC_GAP_MS = 2;

function sameRaw(a: RawAddr, b: RawAddr): boolean {
  if (a.family !== b.family || a.port !== b.port || a.scopeId !== b.scopeId) return false;
  for (let i = 0; i < a.address.length; i++) if (a.address[i] !== b.address[i]) return false;
  return true;
}

export class DataPlane extends EventEmitter<DataPlaneEvents> {
  readonly tun: TunDevice;
  /** The offloads in use (offload.ts); `offload.note` says which, for the verbose log. */
  offload: OffloadInfo | undefined;
  private group: UdpGroup;
  private readonly shared: Shared;
  private readonly workers: (WorkerSlot | undefined)[] = [undefined]; // thread 0 is us
  private readonly peers: SlotPool;
  private readonly keypairs: SlotPool;
  private readonly sender: MainSender;
  private readonly endpoints: (SockAddr | undefined)[];
  private readonly txThreads: number;
  private readonly rxThreads: number;
  private stopping = false;
  /** Handshake batches from the receive workers, not yet handed to the listeners. */
  private readonly handshakes: Extract<WorkerEvent, { t: 'handshakes' }>[] = [];
  private handshakeTurn: NodeJS.Immediate | undefined;
  private trafficTurn = false;
  private lastTraffic = Number.NEGATIVE_INFINITY;
  /** Per peer, the activity times the last 'traffic' handed out (SEEN_FIELDS each). */
  private readonly reported: Float64Array;
  private stopped: Promise<void> | undefined;
  private linkGoneSeen = false;
  /** The handshake message being handled (while 'handshake' listeners run): where it arrived. */
  private replying: { from: RawAddr; local: LocalAddr } | undefined;
  private readonly record = new SourceRecord();
  /** A destination encoded as the sockets take it, to compare with sticky source records. */
  private readonly enc = new Uint8Array(SOCKADDR_SIZE);
  private readonly encView = new DataView(this.enc.buffer);

  private constructor(tun: TunDevice, group: UdpGroup, shared: Shared, tx: number, rx: number) {
    super();
    this.tun = tun;
    this.group = group;
    this.shared = shared;
    this.txThreads = tx;
    this.rxThreads = rx;
    const { maxPeers, maxKeypairs } = shared.sizes;
    const applied = (t: number) => shared.applied(t);
    const sent = (t: number) => shared.sent(t);
    this.peers = new SlotPool(maxPeers, shared.sizes.threads, sent, applied);
    this.keypairs = new SlotPool(maxKeypairs, shared.sizes.threads, sent, applied);
    this.endpoints = new Array(maxPeers).fill(undefined);
    this.reported = new Float64Array(maxPeers * 4);
    this.sender = new MainSender(shared, tun.mtu);
  }

  /** Creates the TUN interface (MTU set, link up), binds the port and starts the workers. */
  static async start(opts: DataPlaneOptions): Promise<DataPlane> {
    const tx = opts.txThreads ?? 1;
    const rx = opts.rxThreads ?? 1;
    const batch = opts.batch ?? 64;
    const maxPeers = opts.maxPeers ?? 1024;
    if (!(tx >= 1 && tx <= 64 && rx >= 1 && rx <= 64 && batch >= 1 && batch <= 1024 && maxPeers >= 1))
      throw new RangeError('bad data plane shape');
    const { tun, info } = openEngineTun(opts.tunName, tx, opts.offload ?? offloadFromEnv());
    let group: UdpGroup | undefined;
    let dp: DataPlane | undefined;
    try {
      tun.mtu = opts.mtu ?? DEFAULT_MTU;
      tun.up = true;
      group = UdpGroup.open(opts.port ?? 0, rx, opts.fwmark ?? 0, opts.family);
      const shared = Shared.create({ maxPeers, maxKeypairs: maxPeers * 3 + 8, threads: 1 + tx + rx });
      dp = new DataPlane(tun, group, shared, tx, rx);
      dp.offload = info;
      const cipher = opts.cipher ?? bestCipher();
      const mtu = tun.mtu;
      for (let i = 0; i < tx + rx; i++) {
        const role = i < tx ? 'tx' : 'rx';
        const lane = role === 'tx' ? i : i - tx;
        const thread = 1 + i;
        dp.spawn({
          role,
          thread,
          lane,
          lanes: role === 'tx' ? tx : rx,
          tunFd: tun.queues[lane % tx]!,
          udpFd: group.sockets[lane % rx]!.fd,
          udpFamily: group.family,
          mtu,
          batch,
          cipher,
          shared: shared.buffers,
          vnetHdr: info.vnetHdr,
          tunUso: info.uso,
          udpOffload: info.udp,
        });
      }
      await Promise.all(
        dp.workers.slice(1).map(
          (w) =>
            new Promise((ok, fail) => {
              w!.worker.once('online', ok);
              w!.worker.once('error', fail);
              w!.worker.once('exit', () => fail(new Error('data-plane worker exited while starting')));
            }),
        ),
      );
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

  private spawn(init: Omit<WorkerInit, 'port' | 'wakeFd'>): void {
    const { port1, port2 } = new MessageChannel();
    const waker = new Waker();
    const full: WorkerInit = { ...init, port: port2, wakeFd: waker.fd };
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: full,
      transferList: [port2],
    });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (e: WorkerEvent) => this.onEvent(e));
    worker.on('error', (err) => this.emit('error', err));
    worker.once('exit', () => {
      if (!this.stopping && !this.linkGoneSeen)
        this.emit('error', new Error(`data-plane ${init.role} worker exited`));
    });
    this.workers[init.thread] = { worker, port: port1, waker, role: init.role, lane: init.lane, exited };
  }

  private onEvent(e: WorkerEvent): void {
    switch (e.t) {
      case 'handshakes':
        if (e.shed > 0) this.emit('handshakeShed', e.shed);
        this.handshakes.push(e);
        this.handshakeTurn ??= setImmediate(this.answerHandshakes);
        return;
      case 'needKey':
        this.emit('needKey', e.peer, e.packet);
        return;
      case 'confirmed':
        this.emit('confirmed', e.peer, e.slot);
        return;
      case 'source':
        this.emit('roam', e.peer, fromRaw(e.addr));
        return;
      case 'traffic':
        this.trafficMoved();
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

  /** Some thread noted traffic: take it after TRAFFIC_GAP_MS since the last time at most. */
  private trafficMoved(): void {
    if (this.trafficTurn || this.stopping) return;
    this.trafficTurn = true;
    const wait = this.lastTraffic + TRAFFIC_GAP_MS - this.now();
    if (wait > 0) setTimeout(this.takeTraffic, wait);
    else setImmediate(this.takeTraffic);
  }

  /** Emits 'traffic' now for what peers moved since the last time, if anything. */
  readonly takeTraffic = (): void => {
    this.trafficTurn = false;
    if (this.stopping) return;
    this.lastTraffic = this.now();
    const moved: Moved[] = [];
    for (const peer of this.shared.takeMoved()) {
      const r = this.reported;
      const at = peer * 4;
      const a = this.activity(peer);
      const m: Moved = {
        peer,
        rxAt: a.lastRxAuth > r[at + SEEN_RX_AUTH]! ? a.lastRxAuth : 0,
        txAt: a.lastTxAuth > r[at + SEEN_TX_AUTH]! ? a.lastTxAuth : 0,
        rxData: a.lastRxData > r[at + SEEN_RX_DATA]!,
        txData: a.lastTxData > r[at + SEEN_TX_DATA]!,
      };
      r[at + SEEN_RX_AUTH] = a.lastRxAuth;
      r[at + SEEN_TX_AUTH] = a.lastTxAuth;
      r[at + SEEN_RX_DATA] = a.lastRxData;
      r[at + SEEN_TX_DATA] = a.lastTxData;
      if (m.rxAt > 0 || m.txAt > 0) moved.push(m);
    }
    if (moved.length > 0) this.emit('traffic', moved);
  };

  /**
   * Hands queued handshake batches to the listeners, HANDSHAKE_SLICE_MS at a time, then lets the
   * event loop run (UAPI requests, timers) before the next slice. A worker posts a batch while
   * this thread works through the last one, and Node delivers a port's messages in one go, so
   * answering them as they arrive kept `wg show` waiting for up to a second under a flood.
   */
  private readonly answerHandshakes = (): void => {
    this.handshakeTurn = undefined;
    const until = this.now() + HANDSHAKE_SLICE_MS;
    while (this.handshakes.length > 0 && !this.stopping) {
      this.answerBatch(this.handshakes.shift()!);
      if (this.now() >= until) break;
    }
    if (this.handshakes.length > 0 && !this.stopping)
      this.handshakeTurn = setImmediate(this.answerHandshakes);
  };

  private answerBatch(e: Extract<WorkerEvent, { t: 'handshakes' }>): void {
    let left = e.count; // queue slots still held by this batch
    try {
      readHandshakeBatch(e.buf, e.used, (data, from, local) => {
        left--;
        this.shared.releaseHandshakeSlot();
        if (!from) return;
        // Listeners answer synchronously; replies to `from` leave from `local` (replySource).
        this.replying = local && { from, local };
        try {
          this.emit('handshake', data, fromRaw(from));
        } finally {
          this.replying = undefined;
        }
      });
    } finally {
      for (; left > 0; left--) this.shared.releaseHandshakeSlot();
    }
  }

  private post(thread: number, c: Control): void {
    const w = this.workers[thread];
    if (!w) return;
    // A key moves to the worker rather than being copied, so no stray copy stays here.
    w.port.postMessage(c, c.t === 'keypair' ? [c.key.buffer as ArrayBuffer] : []);
    this.shared.noteSent(thread);
    // One wake-up per worker per task, not per message: an eventfd write that wakes a thread
    // costs more than a message, and a handshake posts several (a keypair in, old ones out).
    // The message is queued already, and a worker reads its port before each batch, so the
    // wait only delays an idle worker, by the rest of this task.
    if (this.toWake.size === 0) queueMicrotask(this.wakePosted);
    this.toWake.add(w);
  }

  private readonly toWake = new Set<WorkerSlot>();
  private readonly wakePosted = (): void => {
    if (!this.stopping) for (const w of this.toWake) w.waker.wake();
    this.toWake.clear();
  };

  private postAll(c: Control, role?: 'tx' | 'rx'): void {
    for (let t = 1; t < this.workers.length; t++)
      if (!role || this.workers[t]!.role === role) this.post(t, c);
  }

  // ---- The API for the daemon ----

  /** The clock of every time this data plane takes or reports: monotonic milliseconds. */
  now(): number {
    return monotonicMs();
  }

  get port(): number {
    return this.group.port;
  }

  get ifindex(): number {
    return this.tun.ifindex;
  }

  /** Takes a peer slot (a small integer) for a new peer. */
  addPeer(): number {
    const p = this.peers.take();
    if (p === undefined)
      throw new WgError('capability', `data plane is full (${this.shared.sizes.maxPeers} peers)`);
    this.shared.clearPeer(p);
    this.reported.fill(0, p * 4, p * 4 + 4);
    this.postAll({ t: 'peer', peer: p, present: true });
    return p;
  }

  /** Forgets a peer with its keypairs, endpoint and allowed IPs. */
  removePeer(peer: number): void {
    this.shared.setSendKeypair(peer, NO_KEYPAIR);
    for (const slot of this.sender.keypairsOf(peer)) this.removeKeypair(slot);
    this.endpoints[peer] = undefined;
    this.postAll({ t: 'peer', peer, present: false });
    this.peers.give(peer, this.peers.marksNow());
  }

  /**
   * Where transport packets to `peer` go; undefined = nowhere (packets are dropped). A sticky
   * source learned from another remote address is forgotten (as kernel WireGuard clears it
   * with a new endpoint); the one learned from this address (the core following a roam) stays.
   */
  setEndpoint(peer: number, addr: SockAddr | undefined): void {
    const raw = addr ? toRaw(addr) : undefined;
    this.endpoints[peer] = addr;
    const len = raw ? this.encode(raw) : 0;
    this.shared.sources.store(peer, undefined, (cur) => !cur.remoteIs(this.enc, 0, len));
    this.postAll({ t: 'endpoint', peer, addr: raw });
  }

  /** `to` as the sockets' sockaddr, in `enc`; its length (0 when the sockets cannot reach it). */
  private encode(to: RawAddr): number {
    try {
      return encodeSockaddr(to, this.encView, 0, this.group.family);
    } catch {
      return 0;
    }
  }

  /** `peer`'s sticky source address for datagrams to `to`, if it has one. */
  private sourceFor(peer: number, to: RawAddr): SendSource | undefined {
    const sources = this.shared.sources;
    const len = this.encode(to);
    const g = sources.load(peer, this.record);
    if (g < 0 || !this.record.hasLocal() || !this.record.remoteIs(this.enc, 0, len)) return undefined;
    return {
      local: this.record.local(),
      rejected: () => sources.store(peer, undefined, (_, now) => now === g),
    };
  }

  /**
   * A reply to the handshake message being handled leaves from the address it arrived at.
   * When it goes to a peer, the core accepted that peer's message: its sticky source becomes
   * that address (kernel WireGuard sets the endpoint from an accepted handshake message).
   */
  private replySource(to: RawAddr, peer: number | undefined): SendSource | undefined {
    const r = this.replying;
    if (!r || !sameRaw(r.from, to)) return undefined;
    const sources = this.shared.sources;
    if (peer !== undefined) {
      this.record.set(this.enc, 0, this.encode(to), r.local);
      sources.store(peer, this.record);
    }
    return {
      local: r.local,
      rejected: () => {
        if (peer !== undefined) sources.store(peer, undefined);
      },
    };
  }

  /** Replaces the peer's allowed IPs (a prefix another peer held moves to this one). */
  setAllowedIPs(peer: number, prefixes: PrefixMsg[]): void {
    this.postAll({
      t: 'allowed',
      peer,
      prefixes: prefixes.map((p) => ({ ...p, address: Uint8Array.from(p.address) })),
    });
  }

  /**
   * Installs a keypair (its `created` on this data plane's clock, `now()`); returns its id. It
   * carries nothing until `setSendKeypair`, or, with `awaitConfirmation` (the responder's new
   * keypair), until the first packet arrives on it: the receiving worker then makes it the
   * sending keypair itself and emits 'confirmed'. The keys are copied into the messages to the
   * workers; nonces come from `k.sendCounterCell`, shared with whoever else seals with it.
   */
  installKeypair(peer: number, k: TransportKeypair, awaitConfirmation = false): number {
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
      promoteOnReceive: awaitConfirmation,
    };
    const owner = laneOfIndex(k.localIndex >>> 0, this.rxThreads);
    for (let t = 1; t < this.workers.length; t++) {
      const w = this.workers[t]!;
      if (w.role === 'tx') this.post(t, { ...common, key: Uint8Array.from(k.sendKey) });
      else if (w.lane === owner) this.post(t, { ...common, key: Uint8Array.from(k.recvKey) });
    }
    return slot;
  }

  /** Drops a keypair everywhere (its keys are wiped); the id is reused once every worker saw it. */
  removeKeypair(slot: number): void {
    const peer = this.sender.peerOf(slot);
    if (peer === undefined) return;
    if (this.shared.sendKeypair(peer) === slot) this.shared.setSendKeypair(peer, NO_KEYPAIR);
    this.sender.remove(slot);
    this.postAll({ t: 'keypairGone', slot });
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
    const raw = toRaw(to);
    const sent = this.sender.send(
      this.group.sockets[0]!,
      peer,
      raw,
      packets,
      this.now(),
      this.sourceFor(peer, raw),
    );
    // Refused sends count too (main-send.ts): the core's timers must hear of them.
    if (packets.length > 0 && this.shared.noteMoved(peer)) this.trafficMoved();
    return sent;
  }

  /**
   * Sends a handshake message (or any datagram) as is. From `peer`'s sticky source address
   * when it has one for `to`; a reply to the handshake message being handled (from inside a
   * 'handshake' listener) from the address that message arrived at. Counted as sent to `peer`
   * unless `count` is false (the core counts what it sends itself).
   */
  sendHandshake(data: Uint8Array, to: SockAddr, peer?: number, opts: { count?: boolean } = {}): boolean {
    const raw = toRaw(to);
    const source =
      this.replySource(raw, peer) ?? (peer !== undefined ? this.sourceFor(peer, raw) : undefined);
    const counted = opts.count === false ? undefined : peer;
    return this.sender.sendRaw(this.group.sockets[0]!, raw, data, counted, source);
  }

  /** Exact bytes received from and sent to `peer` (transport and handshake messages). */
  counters(peer: number): { rxBytes: bigint; txBytes: bigint } {
    const { rx, tx } = this.shared.bytes(peer);
    return { rxBytes: rx, txBytes: tx };
  }

  /** When data and authenticated packets last moved for `peer` (0 = never), on `now()`'s clock. */
  activity(peer: number): Activity {
    const s = this.shared;
    return {
      lastTxData: s.seen(peer, SEEN_TX_DATA),
      lastRxData: s.seen(peer, SEEN_RX_DATA),
      lastTxAuth: s.seen(peer, SEEN_TX_AUTH),
      lastRxAuth: s.seen(peer, SEEN_RX_AUTH),
    };
  }

  setMtu(mtu: number): void {
    this.tun.mtu = mtu;
    this.sender.mtu = mtu;
    this.postAll({ t: 'mtu', mtu }, 'tx');
  }

  /**
   * The device's public key, for the receive workers' mac1 check: only handshake messages
   * made for this key reach 'handshake' (and cookie replies, which carry no mac1). Until it is
   * set, or after it is set to undefined, the workers pass them all.
   */
  setHandshakeKey(publicKey: Uint8Array | undefined): void {
    this.postAll({ t: 'handshakeKey', publicKey: publicKey && Uint8Array.from(publicKey) }, 'rx');
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
    for (let t = 1; t < this.workers.length; t++) {
      const w = this.workers[t]!;
      this.post(t, { t: 'socket', fd: next.sockets[w.lane % this.rxThreads]!.fd });
    }
    await this.settle(SOCKET_SWAP_TIMEOUT_MS);
    old.close();
    return next.port;
  }

  /** Resolves once every worker applied every message posted so far (or after `ms`). */
  async settle(ms = 1000): Promise<void> {
    const until = Date.now() + ms;
    const marks = this.marks();
    const done = () => marks.every((m, t) => t === 0 || !this.workers[t] || this.shared.applied(t) >= m);
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
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
    this.shared.stop();
    for (const w of this.workers) w?.waker.wake();
    const within = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS).unref()),
      ]);
    if ((await within(Promise.all(this.workers.map((w) => w?.exited)))) === 'timeout') {
      // A worker that ignored its wake: terminate() cannot interrupt a blocking call, so do not
      // wait for it forever either.
      await within(Promise.all(this.workers.map((w) => w?.worker.terminate())));
    }
    for (const w of this.workers) {
      if (!w) continue;
      w.port.close();
      w.waker.free();
      closeFd(w.waker.fd);
    }
    this.sender.dispose();
    this.group.close();
    this.tun.close();
  }

  private marks(): number[] {
    const m: number[] = [];
    for (let t = 0; t < this.shared.sizes.threads; t++) m.push(this.shared.sent(t));
    return m;
  }
}
