// The sans-I/O WireGuard core: events and `now` in, actions out (see docs/architecture.md,
// "The engine: sans-I/O core, threaded data plane").
//
//   const core = new Core({ wallEpochNs });
//   core.configure(device, now)        a typed UAPI `set` (endpoints binary: addr.ts)
//   core.datagram(from, bytes, now, waiting)  a handshake message arrived (`waiting` behind it)
//   core.packetFromTun(bytes, now)     an IP packet with no sending keypair yet (staged)
//   core.transportReceived(...)        the data plane opened a transport message
//   core.transportSent(...)            the data plane sent transport messages
//   core.dataRefused(peer, to, now)    the kernel refused a transport message
//   core.tick(now)                     a requested wake-up time came
//   core.getDevice()                   a typed UAPI `get`, with exact counters
//
// Each call returns the actions to perform, in order (actions.ts). `now` is a monotonic time
// in milliseconds chosen by the owner; it must not go backwards. The core reads no clock,
// owns no socket or timer, and takes its randomness from `options.random`.

import { bytesEqual } from '../../crypto/blake2s.js';
import { randomBytes } from '../../crypto/random.js';
import { WgError } from '../../model/errors.js';
import type { Device, Key } from '../../model/index.js';
import type { Action, LogLevel } from './actions.js';
import { cookieSource, copyPath, formatPath, type PathAddr, rateLimitKey } from './addr.js';
import { AllowedIPs } from './allowedips.js';
import { configure, type DeviceSettings, readDevice } from './configure.js';
import {
  KEEPALIVE_TIMEOUT_MS,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
  UNDER_LOAD_AFTER_TIME_MS,
  UNDER_LOAD_INVALID_INITIATIONS,
  UNDER_LOAD_QUEUE_DEPTH,
} from './constants.js';
import { type CoreContext, type Identity, IndexTable } from './context.js';
import { CookieChecker } from './cookie.js';
import type { PeerPathConfig } from './endpoints.js';
import {
  handleCookieReply,
  handleInitiation,
  handleResponse,
  type RoundOptions,
  sendInitiation,
} from './handshake-flow.js';
import { MESSAGE_COOKIE_REPLY, MESSAGE_INITIATION, MESSAGE_RESPONSE, messageType } from './messages.js';
import { keyHex, type PeerState } from './peer.js';
import { RateLimiter } from './ratelimit.js';
import type { CandidateSnapshot } from './select.js';
import { runSelect, wantHandshake } from './select-flow.js';
import { jitterFrom, type TimerName } from './timers.js';
import { afterReceive, packetFromTun, sendKeepalive, transportSent, zeroAndFlush } from './transport.js';

export interface CoreOptions {
  /** Wall time in ns since the Unix epoch at core time 0 (for TAI64N and latest-handshake). */
  wallEpochNs: bigint;
  /**
   * The wall clock (ns since the Unix epoch) at a core time, when it is not `wallEpochNs + now`
   * (a simulation stepping the wall clock); injected like everything else.
   */
  wallClock?: (now: number) => bigint;
  /** Cryptographic randomness; default: the operating system's. */
  random?: (n: number) => Uint8Array;
}

export class Core implements CoreContext {
  identity: Identity | undefined;
  readonly peers = new Map<string, PeerState>();
  /** peerByKey's memory: the peer last found for a key object. */
  private readonly byKeyObject = new WeakMap<Key, PeerState>();
  readonly index: IndexTable;
  readonly allowedIPs = new AllowedIPs<PeerState>();
  checker: CookieChecker | undefined;
  private readonly rand: (n: number) => Uint8Array;
  private readonly jitter: () => number;
  private readonly wallEpochNs: bigint;
  private readonly wallClock: ((now: number) => bigint) | undefined;
  private readonly settings: DeviceSettings = { listenPort: 0, fwmark: 0 };
  private out: Action[] = [];
  private readonly touched = new Set<PeerState>();
  private wake: number | undefined;
  private underLoadUntil = Number.NEGATIVE_INFINITY;
  /** Initiations that failed to open since `invalidSince` (UNDER_LOAD_INVALID_INITIATIONS). */
  private invalidSince = Number.NEGATIVE_INFINITY;
  private invalidCount = 0;
  private readonly limiter = new RateLimiter();

  constructor(options: CoreOptions) {
    this.rand = options.random ?? randomBytes;
    this.jitter = jitterFrom(this.rand);
    this.index = new IndexTable(this.rand);
    this.wallEpochNs = options.wallEpochNs;
    this.wallClock = options.wallClock;
  }

  // ---- Entry points ----

  /**
   * Applies a configuration change (UAPI `set` semantics: wireguard-go device/uapi.go,
   * IpcSetOperation). Throws WgError, before changing anything, when a peer has no public key.
   */
  configure(change: Device<PathAddr>, now: number): Action[] {
    for (const p of change.peers)
      if (p.publicKey?.length !== 32) throw new WgError('protocol', 'peer without a valid public key');
    return this.run(now, false, () => {
      const before = this.identity?.publicKey;
      try {
        configure(this, this.settings, change, now, this.jitter);
      } finally {
        if (this.identity?.publicKey !== before)
          this.checker = this.identity ? new CookieChecker(this.identity.publicKey, this.rand) : undefined;
      }
    });
  }

  /**
   * A handshake message (types 1-3) arrived from `from`; anything else is ignored. Never throws.
   * `waiting`: how many handshake messages wait behind this one (the owner's queue depth); at
   * UNDER_LOAD_QUEUE_DEPTH the device is under load.
   */
  datagram(from: PathAddr, bytes: Uint8Array, now: number, waiting = 0): Action[] {
    return this.run(now, false, () => {
      switch (messageType(bytes)) {
        case MESSAGE_INITIATION:
        case MESSAGE_RESPONSE:
          this.handshakeMessage(from, bytes, now, waiting);
          break;
        case MESSAGE_COOKIE_REPLY:
          handleCookieReply(this, from, bytes, now);
          break;
        // Transport messages are the data plane's: it opens them and calls transportReceived.
      }
    });
  }

  /** An IP packet was read from the TUN device. Never throws. */
  packetFromTun(bytes: Uint8Array, now: number): Action[] {
    return this.run(now, false, () => packetFromTun(this, bytes, now));
  }

  /** Runs the timers that are due. */
  tick(now: number): Action[] {
    return this.run(now, true, () => {
      for (const peer of [...this.peers.values()]) {
        for (const name of peer.timers.due(now)) this.expired(peer, name, now);
        const at = peer.endpoints.next();
        if (at !== undefined && at <= now && this.peers.get(peer.keyHex) === peer)
          runSelect(this, peer, peer.endpoints.tick(now), now);
      }
      this.limiter.collect(now);
    });
  }

  /**
   * Sends one initiation round to `targets` (default: the active endpoint), all with the same
   * timestamp; the hook for endpoint selection (docs/endpoint-selection.md, "Rounds").
   */
  initiate(peerKey: Key, now: number, options: RoundOptions = {}): Action[] {
    return this.run(now, false, () => {
      const peer = this.peerByKey(peerKey);
      if (peer) sendInitiation(this, peer, now, options);
    });
  }

  /**
   * The data plane opened a transport message: it authenticated under
   * our index `localIndex` and passed its own replay check. The core does roaming, key
   * confirmation, rekey and keepalive timers and counters (delivery stays with the data plane).
   * `datagramLength` is the whole UDP payload; `isKeepalive` when the plaintext was empty.
   */
  transportReceived(
    localIndex: number,
    from: PathAddr,
    datagramLength: number,
    isKeepalive: boolean,
    now: number,
  ): Action[] {
    return this.run(now, false, () => {
      const entry = this.index.get(localIndex);
      if (entry && 'keypair' in entry && !entry.keypair.expired(now))
        afterReceive(this, entry.peer, entry.keypair, from, datagramLength, isKeepalive, now);
    });
  }

  /**
   * The data plane sealed and sent transport messages (reserving counters from the keypair's
   * shared cell), on its own or for a 'sendData' action: `bytes` in total to `peerKey` (0 when
   * the data plane keeps the count), `dataPackets` of them with data (the rest keepalives).
   */
  transportSent(peerKey: Key, bytes: number, dataPackets: number, now: number): Action[] {
    return this.run(now, false, () => {
      const peer = this.peerByKey(peerKey);
      if (peer) transportSent(this, peer, bytes, dataPackets, now);
    });
  }

  /**
   * A peer's endpoint lines and selection knobs (wgm's own configuration, beside the UAPI
   * `set`). Throws RangeError, changing nothing, for a bad address or too many lines; WgError
   * for an unknown peer.
   */
  configurePeer(peerKey: Key, cfg: PeerPathConfig, now: number): Action[] {
    const peer = this.peerOf(peerKey);
    const before = peer.endpoint;
    peer.endpoints.configure(cfg);
    return this.run(now, false, () => {
      if (peer.endpoint !== before) this.endpointChanged(peer);
      this.touch(peer);
    });
  }

  /**
   * New addresses for the peer's endpoint line `rank` (0-based), e.g. a hostname resolved
   * again; an in-flight round keeps what it already sent (RFC 8305 section 6). Throws like
   * configurePeer.
   */
  updateEndpointLine(peerKey: Key, rank: number, addrs: readonly PathAddr[], now: number): Action[] {
    const peer = this.peerOf(peerKey);
    const before = peer.endpoint;
    const outs = peer.endpoints.updateLine(rank, addrs, now);
    return this.run(now, false, () => {
      runSelect(this, peer, outs, now);
      if (peer.endpoint !== before) this.endpointChanged(peer);
      this.touch(peer);
    });
  }

  /** Local links, addresses or routes changed: every peer's paths are raced afresh. */
  networkChanged(now: number): Action[] {
    return this.run(now, false, () => {
      for (const peer of this.peers.values())
        if (peer.endpoints.racing) runSelect(this, peer, peer.endpoints.networkChanged(now), now);
    });
  }

  /** Sending a datagram of `peerKey` to `to` failed locally (ENETUNREACH, EHOSTUNREACH...). */
  sendError(peerKey: Key, to: PathAddr, now: number): Action[] {
    return this.run(now, false, () => {
      const peer = this.peerByKey(peerKey);
      if (peer?.endpoints.racing) runSelect(this, peer, peer.endpoints.sendError(to, now), now);
    });
  }

  /**
   * The kernel refused a transport (data) datagram of `peerKey` sent to `to` (EPERM from a
   * firewall rule, ENETUNREACH...). The owner reports at most one per peer per 100 ms or so;
   * with several endpoints, the path counts as failed at once (select.ts onDataRefused).
   */
  dataRefused(peerKey: Key, to: PathAddr, now: number, why = 'refused'): Action[] {
    return this.run(now, false, () => {
      const peer = this.peerByKey(peerKey);
      if (!peer) return;
      const outs = peer.endpoints.dataRefused(to, now);
      if (outs.length > 0)
        this.log(
          'verbose',
          `${peer} - Sending data to ${formatPath(to)} failed (${why}), trying the other endpoints`,
        );
      runSelect(this, peer, outs, now);
    });
  }

  /** Endpoint selection's view of a peer's candidates, in race order; undefined: no such peer. */
  candidates(peerKey: Key): CandidateSnapshot[] | undefined {
    return this.peerByKey(peerKey)?.endpoints.snapshot();
  }

  /**
   * The peer of `peerKey`, or undefined. The engine passes the core's own key objects (it
   * shares them: mirror.ts), so the peer found for an object is remembered for it: no hex
   * string per call (the data plane's traffic reaches transportSent every 25 ms per peer). The
   * bytes are compared again, in case a caller reused the object for another key.
   */
  private peerByKey(peerKey: Key): PeerState | undefined {
    const known = this.byKeyObject.get(peerKey);
    if (known && this.peers.get(known.keyHex) === known && bytesEqual(known.publicKey, peerKey)) return known;
    const peer = this.peers.get(keyHex(peerKey));
    if (peer) this.byKeyObject.set(peerKey, peer);
    return peer;
  }

  private peerOf(peerKey: Key): PeerState {
    const peer = this.peerByKey(peerKey);
    if (!peer) throw new WgError('protocol', 'no such peer');
    return peer;
  }

  /** The device with exact counters, for a UAPI `get`. */
  getDevice(): Device<PathAddr> {
    return readDevice(this, this.settings);
  }

  /** Declares the device under load until `until` (e.g. the engine dropped handshake messages). */
  setUnderLoad(until: number): void {
    this.underLoadUntil = Math.max(this.underLoadUntil, until);
  }

  // ---- CoreContext ----

  random(n: number): Uint8Array {
    return this.rand(n);
  }

  wallNs(now: number): bigint {
    if (this.wallClock) return this.wallClock(now);
    return this.wallEpochNs + BigInt(Math.round(now * 1e6));
  }

  emit(a: Action): void {
    this.out.push(a);
  }

  log(level: LogLevel, msg: string): void {
    this.out.push({ type: 'log', level, msg });
  }

  startHandshake(peer: PeerState, now: number, isRetry: boolean): void {
    if (isRetry) sendInitiation(this, peer, now, { isRetry });
    else wantHandshake(this, peer, now, false);
  }

  keypairsChanged(peer: PeerState): void {
    this.out.push({ type: 'keypairChanged', peer: peer.publicKey, keypairs: peer.sessionKeypairs() });
  }

  endpointChanged(peer: PeerState): void {
    const e = peer.endpoint;
    this.out.push({ type: 'endpointChanged', peer: peer.publicKey, endpoint: e && copyPath(e) });
  }

  touch(peer: PeerState): void {
    this.touched.add(peer);
  }

  // ---- Internals ----

  private run(now: number, full: boolean, body: () => void): Action[] {
    this.out = [];
    try {
      body();
    } catch (e) {
      // A bug, not bad input: the entry points check what they are given.
      this.log('error', `internal error: ${(e as Error)?.message ?? String(e)}`);
    }
    this.scheduleWake(now, full);
    const out = this.out;
    this.out = [];
    return out;
  }

  private scheduleWake(now: number, full: boolean): void {
    let min: number | undefined;
    const peers = full ? this.peers.values() : this.touched.values();
    for (const p of peers) {
      const d = p.timers.next();
      if (d !== undefined && (min === undefined || d < min)) min = d;
      const e = p.endpoints.next();
      if (e !== undefined && (min === undefined || e < min)) min = e;
    }
    this.touched.clear();
    if (full) {
      this.wake = min;
      if (min !== undefined) this.out.push({ type: 'wakeAt', at: min });
    } else if (min !== undefined && (this.wake === undefined || min < this.wake || this.wake < now)) {
      this.wake = min;
      this.out.push({ type: 'wakeAt', at: min });
    }
  }

  private handshakeMessage(from: PathAddr, bytes: Uint8Array, now: number, waiting: number): void {
    if (!this.checker?.checkMac1(bytes)) {
      this.log('verbose', 'Received packet with invalid mac1');
      return;
    }
    if (this.underLoad(now, waiting)) {
      const source = cookieSource(from);
      if (!this.checker.checkMac2(bytes, source, now)) {
        this.emit({ type: 'send', to: from, bytes: this.checker.createReply(bytes, source, now) });
        return;
      }
      if (!this.limiter.allow(rateLimitKey(from), now)) return;
    }
    if (messageType(bytes) === MESSAGE_INITIATION) {
      if (!handleInitiation(this, from, bytes, now)) this.invalidInitiation(now);
    } else {
      const peer = handleResponse(this, from, bytes, now);
      // Confirm the new session at once: staged packets, or a keepalive.
      if (peer) sendKeepalive(this, peer, now);
    }
  }

  /**
   * wireguard-go device/device.go IsUnderLoad: under load while UNDER_LOAD_QUEUE_DEPTH messages
   * wait, and for UNDER_LOAD_AFTER_TIME_MS after that (or after setUnderLoad's time).
   */
  private underLoad(now: number, waiting: number): boolean {
    if (waiting >= UNDER_LOAD_QUEUE_DEPTH)
      this.underLoadUntil = Math.max(this.underLoadUntil, now + UNDER_LOAD_AFTER_TIME_MS);
    return now < this.underLoadUntil;
  }

  /** An initiation cost a DH and did not open: too many of those are a flood. */
  private invalidInitiation(now: number): void {
    if (now - this.invalidSince >= UNDER_LOAD_AFTER_TIME_MS) {
      this.invalidSince = now;
      this.invalidCount = 0;
    }
    if (++this.invalidCount >= UNDER_LOAD_INVALID_INITIATIONS)
      this.underLoadUntil = Math.max(this.underLoadUntil, now + UNDER_LOAD_AFTER_TIME_MS);
  }

  private expired(peer: PeerState, name: TimerName, now: number): void {
    switch (name) {
      case 'retransmitHandshake':
        // A standard initiation from before the peer had several endpoints: selection retries now.
        if (peer.endpoints.racing) break;
        if (peer.timers.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
          this.log(
            'verbose',
            `${peer} - Handshake did not complete after ${MAX_TIMER_HANDSHAKES + 2} attempts, giving up`,
          );
          peer.timers.del('sendKeepalive');
          peer.staged = [];
          peer.timers.scheduleZeroing(now);
        } else {
          peer.timers.handshakeAttempts++;
          this.log(
            'verbose',
            `${peer} - Handshake did not complete after ${REKEY_TIMEOUT_MS / 1000} seconds, retrying (try ${peer.timers.handshakeAttempts + 1})`,
          );
          sendInitiation(this, peer, now, { isRetry: true });
        }
        break;
      case 'sendKeepalive':
        sendKeepalive(this, peer, now);
        peer.timers.keepaliveFired(now);
        break;
      case 'newHandshake':
        this.log(
          'verbose',
          `${peer} - Retrying handshake because we stopped hearing back after ${(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS) / 1000} seconds`,
        );
        // Selection's own silence detection comes first; this standard fallback races them all.
        wantHandshake(this, peer, now, false);
        break;
      case 'zeroKeyMaterial':
        this.log(
          'verbose',
          `${peer} - Removing all keys, since we haven't received a new one in ${(3 * REJECT_AFTER_TIME_MS) / 1000} seconds`,
        );
        zeroAndFlush(this, peer);
        break;
      case 'persistentKeepalive':
        if (peer.persistentKeepalive > 0) sendKeepalive(this, peer, now);
        break;
    }
    this.touch(peer);
  }
}
