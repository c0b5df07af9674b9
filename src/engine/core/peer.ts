// The state the core keeps per peer. Behaviour lives in the flow modules (handshake-flow.ts,
// transport.ts); this file holds the data and the small rules that only touch one peer. Which
// endpoint the peer's packets go to is endpoint selection's choice (endpoints.ts, select.ts).

import type { Key } from '../../model/index.js';
import type { SessionKeypairs } from './actions.js';
import { type PathAddr, pathKey, samePath } from './addr.js';
import { MAX_STAGED_PACKETS } from './constants.js';
import { CookieGenerator } from './cookie.js';
import { PeerPaths } from './endpoints.js';
import type { Chain } from './handshake.js';
import { KeypairSet } from './keypair.js';
import { PeerTimers } from './timers.js';

/** One initiation we sent and wait a response for. */
export interface Initiating {
  localIndex: number;
  chain: Chain;
  ephemeralPrivate: Uint8Array;
  target: PathAddr | undefined;
  sentAt: number;
  /** The selection round and candidate it belongs to (unset: sent outside selection). */
  round?: number;
  candidate?: string;
}

/** An initiation we consumed, before our response is created. */
export interface Responding {
  chain: Chain;
  remoteEphemeral: Uint8Array;
  remoteIndex: number;
}

const NO_INITIATIONS: ReadonlyMap<number, Initiating> = new Map();

/** A public key as the key of the core's peer table (`ctx.peers`). */
export const keyHex = (key: Key): string => Buffer.from(key).toString('hex');

export class PeerState {
  readonly keyHex: string;
  presharedKey: Uint8Array | undefined;
  private ss: Uint8Array | undefined;
  /** Endpoint selection for this peer: the candidates and the active choice. */
  readonly endpoints: PeerPaths;
  private keyed: PathAddr | undefined;
  private endpointKey = '';
  persistentKeepalive = 0;
  readonly keypairs = new KeypairSet();
  /**
   * Our outstanding initiations: one per target of the latest round, by local index. Kept
   * apart from the responder slot (`responding`): an initiation the peer sends does not cancel
   * our round.
   */
  get initiations(): ReadonlyMap<number, Initiating> {
    return this.sent ?? NO_INITIATIONS;
  }
  /** Made by the first initiation (an empty Map is ~0.2 KiB, and most peers wait idle). */
  private sent: Map<number, Initiating> | undefined;
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
  /**
   * Wall seconds of the last authenticated packet per source address; made by the first one
   * (an empty Map is ~0.2 KiB, per peer).
   */
  lastSeen: Map<string, number> | undefined;
  readonly timers: PeerTimers;
  readonly cookies: CookieGenerator;
  private shortName: string | undefined;

  constructor(
    readonly publicKey: Key,
    jitter: () => number,
    /** Uniform in [0, 1) and the wall clock at a core time: selection's retry jitter and timestamps. */
    random: () => number,
    wallNs: (now: number) => bigint,
  ) {
    this.endpoints = new PeerPaths(random, wallNs);
    this.keyHex = keyHex(publicKey);
    this.timers = new PeerTimers(jitter, this);
    this.cookies = new CookieGenerator(publicKey);
  }

  addInitiation(st: Initiating): void {
    this.sent ??= new Map();
    this.sent.set(st.localIndex, st);
  }

  removeInitiation(localIndex: number): void {
    this.sent?.delete(localIndex);
  }

  clearInitiations(): void {
    this.sent = undefined;
  }

  /** The active endpoint: where transport and handshake messages go. */
  get endpoint(): PathAddr | undefined {
    return this.endpoints.active;
  }

  /** pathKey(endpoint), kept while it stays: cookies are filed by it on every handshake message. */
  get endpointAddrKey(): string {
    const a = this.endpoints.active;
    if (a !== this.keyed) {
      this.keyed = a;
      this.endpointKey = a ? pathKey(a) : '';
    }
    return this.endpointKey;
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

  /**
   * wireguard-go's short form: peer(AbCd…WxYz), from the public key (not a secret). Made when
   * first asked (log lines, built on the handshake path whatever the level), not with the peer:
   * ~0.1 KiB of strings per peer that most configured peers never need.
   */
  toString(): string {
    if (this.shortName === undefined) {
      const b64 = Buffer.from(this.publicKey).toString('base64');
      this.shortName = `peer(${b64.slice(0, 4)}…${b64.slice(39, 43)})`;
    }
    return this.shortName;
  }

  /** Records when an authenticated packet last came from `from` (wall seconds, for a get). */
  heardFrom(from: PathAddr, wallSec: number): void {
    // The common case, per packet: from the active endpoint, whose key is kept (no new string).
    this.lastSeen ??= new Map();
    this.lastSeen.set(samePath(from, this.endpoints.active) ? this.endpointAddrKey : pathKey(from), wallSec);
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
