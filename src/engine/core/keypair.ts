// Transport keypairs and the current/previous/next rotation (whitepaper 5.4.5 and 6.1;
// wireguard-go BeginSymmetricSession / ReceivedWithKeypair).
//
// - The initiator's new keypair becomes `current` at once (it has key confirmation from the
//   response). The old `next` (if any) or the old `current` becomes `previous`.
// - The responder's new keypair waits in `next` until the first transport message arrives on
//   it ("key confirmation"); then it becomes `current` and the old current `previous`. The
//   responder never sends with `next`.
// The set reports which keypairs it dropped, so the owner can free their indices.

import type { TransportKeypair } from './actions.js';
import { COUNTER_LIMIT } from './constants.js';
import { keypairExpired } from './transport-rules.js';

export class Keypair implements TransportKeypair {
  /**
   * The next counter to send with, in shared memory: whoever seals reserves counters from it
   * with Atomics.add (transport-rules.ts reserveCounter), so no counter is ever used twice.
   */
  readonly sendCounterCell = new BigInt64Array(new SharedArrayBuffer(8));

  constructor(
    readonly sendKey: Uint8Array,
    readonly recvKey: Uint8Array,
    /** Our index: transport messages to us carry it as receiver. */
    readonly localIndex: number,
    /** The peer's index: we put it in transport messages we send. */
    readonly remoteIndex: number,
    /** Core time (ms) of creation. */
    readonly created: number,
    readonly isInitiator: boolean,
  ) {}

  /** The next counter that would be used (without reserving it). */
  get sendCounter(): number {
    return Number(Atomics.load(this.sendCounterCell, 0));
  }

  set sendCounter(v: number) {
    Atomics.store(this.sendCounterCell, 0, BigInt(v));
  }

  /** Past REJECT_AFTER_TIME: unusable in both directions. */
  expired(now: number): boolean {
    return keypairExpired(this.created, now);
  }

  /** Can still send: not expired and counters left. */
  canSend(now: number): boolean {
    return !this.expired(now) && this.sendCounter < COUNTER_LIMIT;
  }

  wipe(): void {
    this.sendKey.fill(0);
    this.recvKey.fill(0);
    this.sendCounter = COUNTER_LIMIT;
  }
}

export class KeypairSet {
  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;

  /**
   * Installs a freshly derived keypair. Returns the keypairs that were dropped.
   * `keepPrevious` (responder only) keeps `previous` until `next` is confirmed rather than
   * dropping it at once (handshake-flow.ts says when).
   */
  install(kp: Keypair, keepPrevious = false): Keypair[] {
    const dropped: Keypair[] = [];
    if (kp.isInitiator) {
      if (this.next) {
        if (this.previous) dropped.push(this.previous);
        this.previous = this.next;
        this.next = undefined;
        if (this.current) dropped.push(this.current);
      } else {
        if (this.previous) dropped.push(this.previous);
        this.previous = this.current;
      }
      this.current = kp;
    } else {
      if (this.next) dropped.push(this.next);
      if (this.previous && !keepPrevious) {
        dropped.push(this.previous);
        this.previous = undefined;
      }
      this.next = kp;
    }
    return dropped;
  }

  /**
   * Installs the keypair of our initiation when it completes while `next` holds the keypair of
   * the peer's initiation of the same moment, and the peer completes its own as well (both
   * sides run rounds that survive consuming the other's initiation: handshake-flow.ts,
   * `simultaneous`). Both sides then hold both keypairs, and both must end up sending on one
   * of them, the peer's initiation's, while every keypair either side still sends on stays
   * held by the other. `yielding`: the side whose initiation loses the tie.
   * - Yielding, with a current that can still send: it keeps sending on it (the peer keeps it
   *   as `previous`) and leaves `next` to be confirmed by the peer's first packet; its own
   *   keypair is only kept as `previous` (the peer drops its half).
   * - The other side, with a current that can still send: its keypair becomes current, the old
   *   current `previous` (the yielding side's packets in flight on it still open), and the
   *   peer's `next` is dropped (the yielding side never sends on its half).
   * - Without a current that can send (first contact) there is nothing to keep in flight:
   *   the other side rotates as standard (its `next` becomes `previous`), and the yielding side
   *   sends on its own keypair (the peer's `previous`) until `next` is confirmed.
   */
  installSimultaneous(kp: Keypair, yielding: boolean, now: number): Keypair[] {
    const usable = this.current?.canSend(now) === true;
    if (!yielding && !usable) return this.install(kp);
    const dropped: Keypair[] = [];
    if (this.previous) dropped.push(this.previous);
    if (yielding && usable) {
      this.previous = kp;
      return dropped;
    }
    if (!yielding && this.next) {
      dropped.push(this.next);
      this.next = undefined;
    }
    this.previous = this.current;
    this.current = kp;
    return dropped;
  }

  /**
   * Called when a transport message authenticated under `kp`. If `kp` is `next`, it is
   * confirmed: next → current → previous, and the old previous is returned in `dropped`.
   */
  receivedWith(kp: Keypair): { confirmed: boolean; dropped: Keypair[] } {
    if (this.next !== kp) return { confirmed: false, dropped: [] };
    const dropped = this.previous ? [this.previous] : [];
    this.previous = this.current;
    this.current = kp;
    this.next = undefined;
    return { confirmed: true, dropped };
  }

  /** Every keypair held, for index cleanup. */
  all(): Keypair[] {
    return [this.current, this.previous, this.next].filter((k): k is Keypair => k !== undefined);
  }

  /** Drops everything (zeroing key material). Returns what was dropped. */
  clear(): Keypair[] {
    const all = this.all();
    this.current = this.previous = this.next = undefined;
    return all;
  }
}
