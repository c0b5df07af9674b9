// The state the core keeps per peer. Behaviour lives in the flow modules (handshake-flow.ts,
// transport.ts); this file holds the data and the small rules that only touch one peer.
//
// Endpoint policy until endpoint selection lands:
// - `candidates` are the configured endpoints in order; the active `endpoint` starts at the
//   first one.
// - Each new initiation round while the previous one is unanswered (the retry after
//   REKEY_TIMEOUT, or a packet waiting for a session) moves to the next candidate (round robin).
// - Any authenticated packet moves `endpoint` to its source (roaming), as standard WireGuard.

import type { Key, SockAddr } from '../../model/index.js';
import type { SessionKeypairs } from './actions.js';
import { addrKey, sameAddr } from './addr.js';
import { MAX_STAGED_PACKETS } from './constants.js';
import { CookieGenerator } from './cookie.js';
import type { Chain } from './handshake.js';
import { KeypairSet } from './keypair.js';
import { PeerTimers } from './timers.js';

/** One initiation we sent and wait a response for. */
export interface Initiating {
  localIndex: number;
  chain: Chain;
  ephemeralPrivate: Uint8Array;
  target: SockAddr | undefined;
  sentAt: number;
}

/** An initiation we consumed, before our response is created. */
export interface Responding {
  chain: Chain;
  remoteEphemeral: Uint8Array;
  remoteIndex: number;
}

export class PeerState {
  readonly keyHex: string;
  presharedKey: Uint8Array | undefined;
  private ss: Uint8Array | undefined;
  candidates: SockAddr[] = [];
  private active: SockAddr | undefined;
  private endpointKey: string | undefined;
  private cursor = 0;
  persistentKeepalive = 0;
  readonly keypairs = new KeypairSet();
  /** Our outstanding initiations: one per target of the latest round, by local index. */
  readonly initiations = new Map<number, Initiating>();
  responding: Responding | undefined;
  lastReceivedTimestamp: Uint8Array | undefined;
  lastInitiationConsumption: number | undefined;
  lastSentHandshake: number | undefined;
  lastSentTimestamp: Uint8Array | undefined;
  staged: Uint8Array[] = [];
  rxBytes = 0;
  txBytes = 0;
  /** Wall time (ns since the Unix epoch) of the last completed handshake. */
  lastHandshakeNs: bigint | undefined;
  /** Wall seconds of the last authenticated packet per source address. */
  readonly lastSeen = new Map<string, number>();
  readonly timers: PeerTimers;
  readonly cookies: CookieGenerator;
  private readonly shortName: string;

  constructor(
    readonly publicKey: Key,
    jitter: () => number,
  ) {
    this.keyHex = Buffer.from(publicKey).toString('hex');
    const b64 = Buffer.from(publicKey).toString('base64');
    this.shortName = `peer(${b64.slice(0, 4)}…${b64.slice(39, 43)})`;
    this.timers = new PeerTimers(jitter, () => this.persistentKeepalive);
    this.cookies = new CookieGenerator(publicKey);
  }

  /** The active endpoint: where transport and handshake messages go. */
  get endpoint(): SockAddr | undefined {
    return this.active;
  }

  set endpoint(a: SockAddr | undefined) {
    this.active = a;
    this.endpointKey = a && addrKey(a);
  }

  /** addrKey(endpoint), kept with it: cookies are filed by it on every handshake message. */
  get endpointAddrKey(): string {
    return this.endpointKey ?? '';
  }

  /**
   * DH(Spriv_local, Spub_peer), computed once per (private key, peer) as wireguard-go does:
   * undefined without a private key or for a bad public key. Replacing it (a new private key)
   * or setting it to undefined (the peer goes) wipes the old value.
   */
  get staticStatic(): Uint8Array | undefined {
    return this.ss;
  }

  set staticStatic(v: Uint8Array | undefined) {
    if (this.ss && this.ss !== v) this.ss.fill(0);
    this.ss = v;
  }

  /** wireguard-go's short form: peer(AbCd…WxYz), from the public key (not a secret). */
  toString(): string {
    return this.shortName;
  }

  /** Sets the configured candidates; the active endpoint becomes the first. */
  setCandidates(list: SockAddr[]): void {
    this.candidates = list.slice();
    this.cursor = 0;
    this.endpoint = list[0];
  }

  /** After an unanswered initiation: move to the next candidate. True if the endpoint changed. */
  rotateCandidate(): boolean {
    if (this.candidates.length < 2) return false;
    this.cursor = (this.cursor + 1) % this.candidates.length;
    const next = this.candidates[this.cursor]!;
    if (sameAddr(next, this.endpoint)) return false;
    this.endpoint = next;
    return true;
  }

  /** Roaming: the endpoint follows an authenticated packet. True if it changed. */
  roamTo(from: SockAddr, wallSec: number): boolean {
    const e = this.endpoint;
    // The common case, per packet: the same address spelt the same way.
    if (e && e.port === from.port && e.address === from.address && e.family === from.family) {
      this.lastSeen.set(this.endpointKey ?? addrKey(e), wallSec);
      return false;
    }
    this.lastSeen.set(addrKey(from), wallSec);
    if (sameAddr(from, this.endpoint)) return false;
    this.endpoint = { ...from };
    const i = this.candidates.findIndex((c) => sameAddr(c, from));
    if (i >= 0) this.cursor = i;
    return true;
  }

  /** Queues a packet for when a keypair exists; the oldest is dropped when full. */
  stage(packet: Uint8Array): void {
    if (this.staged.length >= MAX_STAGED_PACKETS) this.staged.shift();
    this.staged.push(packet);
  }

  /** The keypairs themselves (no copies of the keys), for a data plane. */
  sessionKeypairs(): SessionKeypairs {
    const out: SessionKeypairs = {};
    const { current, previous, next } = this.keypairs;
    if (current) out.current = current;
    if (previous) out.previous = previous;
    if (next) out.next = next;
    return out;
  }
}
