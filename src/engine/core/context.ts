// What the flow modules (handshake-flow.ts, transport.ts, configure.ts) share: the core's
// state and its outputs. The Core (device.ts) implements it; tests may too.

import type { Action, LogLevel } from './actions.js';
import type { AllowedIPs } from './allowedips.js';
import type { CookieChecker } from './cookie.js';
import type { Keypair } from './keypair.js';
import type { Initiating, PeerState } from './peer.js';

export interface Identity {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** An index we handed out: to an initiation we wait on, or to a keypair. */
export type IndexEntry = { peer: PeerState; initiation: Initiating } | { peer: PeerState; keypair: Keypair };

export interface CoreContext {
  identity: Identity | undefined;
  readonly peers: Map<string, PeerState>;
  readonly index: IndexTable;
  readonly allowedIPs: AllowedIPs<PeerState>;
  checker: CookieChecker | undefined;
  random(n: number): Uint8Array;
  /** Wall time (ns since the Unix epoch) at core time `now`. */
  wallNs(now: number): bigint;
  emit(a: Action): void;
  log(level: LogLevel, msg: string): void;
  /** Starts (or retries) a handshake with `peer` toward its active endpoint. */
  startHandshake(peer: PeerState, now: number, isRetry: boolean): void;
  /** Tells the owner that a peer's keypairs changed. */
  keypairsChanged(peer: PeerState): void;
  /** Tells the owner that a peer's endpoint changed. */
  endpointChanged(peer: PeerState): void;
  /** Records that a peer's timers may have moved (for the next wakeAt). */
  touch(peer: PeerState): void;
}

export class IndexTable {
  private readonly map = new Map<number, IndexEntry>();

  constructor(private readonly random: (n: number) => Uint8Array) {}

  /** A fresh random index, not 0 and not in use, bound to `entry`. */
  allocate(entry: IndexEntry): number {
    for (;;) {
      const b = this.random(4);
      const i = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      if (i !== 0 && !this.map.has(i)) {
        this.map.set(i, entry);
        return i;
      }
    }
  }

  /** Rebinds an index (an initiation's index becomes its keypair's). */
  set(i: number, entry: IndexEntry): void {
    this.map.set(i, entry);
  }

  get(i: number): IndexEntry | undefined {
    return this.map.get(i);
  }

  delete(i: number): void {
    this.map.delete(i);
  }

  get size(): number {
    return this.map.size;
  }
}
