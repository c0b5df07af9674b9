// A standard WireGuard peer for the simulator, reduced to the rules that decide which
// handshakes and keypairs survive, as wireguard-go (device/noise-protocol.go, receive.go,
// timers.go) and the kernel (drivers/net/wireguard/noise.c, receive.c, timers.c) apply them.
// Cryptography is left out: messages carry indices and timestamps in the clear.
//
// - An initiation is consumed only if its timestamp is strictly greater than the last consumed
//   one (replay) and more than 20 ms passed since the last consumption (flood).
// - One handshake slot: consuming an initiation overwrites our own pending initiation.
// - As responder, the new keypair goes to `next`; the old `next` and `previous` are deleted. The
//   first transport packet received on `next` promotes it to `current` (key confirmation).
//   We never send on `next`.
// - As initiator, the new keypair becomes `current` at once; a pending `next` becomes `previous`.
// - The return path is the source of the last consumed initiation, response, or authenticated
//   transport packet (roaming).
// - A passive keepalive goes out KEEPALIVE_TIMEOUT (10 s) after data arrived and nothing went
//   back; a new handshake starts KEEPALIVE + REKEY_TIMEOUT (15 s) after data went out unanswered,
//   retransmitted every REKEY_TIMEOUT (5 s) + jitter.

import {
  HANDSHAKE_INITIATION_RATE_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_TIMER_HANDSHAKES,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
} from '../../src/engine/core/constants.js';
import type { EventQueue } from './net.js';

export interface Endpoint {
  path: number;
  port: number;
}

export type Wire =
  /** `round` is the initiator's round number, carried only so tests can check invariants. */
  | { t: 'init'; sender: number; ts: bigint; round: number; cookie?: string }
  /** A cookie reply: the cookie is bound to the source address and port it was sent to. */
  | { t: 'cookie'; receiver: number; cookie: string }
  | { t: 'resp'; sender: number; receiver: number }
  | { t: 'data'; receiver: number; counter: number; keepalive: boolean; id: number };

interface Keypair {
  local: number;
  remote: number;
  counter: number;
  seen: Set<number>;
  round: number;
}

export interface ResponderStats {
  consumed: number;
  replays: number;
  floods: number;
  /** Transport packets whose receiver index is unknown (dropped silently by a real peer). */
  unknownIndex: number;
  /** Consumed initiations per initiator round (never more than one). */
  consumedPerRound: Map<number, number>;
  dataReceived: number;
  keepalivesSent: number;
  initiationsSent: number;
  staleResponses: number;
}

/** How the standard peer's application behaves. */
export type App = 'echo' | 'sink';

export class StandardPeer {
  lastTimestamp: bigint | undefined;
  lastConsumption = Number.NEGATIVE_INFINITY;
  endpoint: Endpoint | undefined;
  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;
  private readonly byIndex = new Map<number, Keypair>();
  private pending: { local: number; sentAt: number } | undefined;
  private attempts = 0;
  private keepaliveAt: number | undefined;
  private newHandshakeAt: number | undefined;
  private retransmitAt: number | undefined;
  private indexSeq = 0x10000;
  readonly stats: ResponderStats = {
    consumed: 0,
    replays: 0,
    floods: 0,
    unknownIndex: 0,
    consumedPerRound: new Map(),
    dataReceived: 0,
    keepalivesSent: 0,
    initiationsSent: 0,
    staleResponses: 0,
  };
  /**
   * Under load, an initiation needs a valid MAC2: a cookie for the exact source (address and
   * port) it comes from; otherwise the peer answers with a cookie reply and consumes nothing.
   */
  underLoad = false;
  cookieReplies = 0;
  /** Debugging aid: every decision, as text. */
  trace: ((line: string) => void) | undefined;
  /** Data ids received, with their arrival time. */
  readonly received = new Map<number, number>();

  constructor(
    private readonly q: EventQueue,
    private readonly app: App,
    /** Sends a message toward the initiator on `ep`. */
    private readonly out: (ep: Endpoint, m: Wire) => void,
    /** The wall clock of this peer, ns (for its own initiations). */
    private readonly wallNs: () => bigint,
  ) {}

  private freshIndex(): number {
    return this.indexSeq++;
  }

  private drop(k: Keypair | undefined): void {
    if (k) this.byIndex.delete(k.local);
  }

  receive(m: Wire, from: Endpoint): void {
    const now = this.q.now;
    if (m.t === 'init') {
      const source = `${from.path}:${from.port}`;
      if (this.underLoad && m.cookie !== source) {
        this.cookieReplies++;
        this.out(from, { t: 'cookie', receiver: m.sender, cookie: source });
        return;
      }
      // ConsumeMessageInitiation: strictly newer timestamp, and not within the flood interval.
      if (this.lastTimestamp !== undefined && m.ts <= this.lastTimestamp) {
        this.stats.replays++;
        return;
      }
      if (now - this.lastConsumption <= HANDSHAKE_INITIATION_RATE_MS) {
        this.stats.floods++;
        return;
      }
      this.lastTimestamp = m.ts;
      this.lastConsumption = now;
      this.stats.consumed++;
      this.trace?.(`t=${now} consumed init round ${m.round} sender ${m.sender} from path ${from.path}`);
      this.stats.consumedPerRound.set(m.round, (this.stats.consumedPerRound.get(m.round) ?? 0) + 1);
      this.pending = undefined; // our own initiation (if any) is overwritten
      this.retransmitAt = undefined;
      this.endpoint = from;
      // BeginSymmetricSession as responder: next is replaced, previous deleted.
      const k: Keypair = {
        local: this.freshIndex(),
        remote: m.sender,
        counter: 0,
        seen: new Set(),
        round: m.round,
      };
      this.drop(this.next);
      this.drop(this.previous);
      this.previous = undefined;
      this.next = k;
      this.byIndex.set(k.local, k);
      this.keepaliveAt = undefined; // sending the response counts as an authenticated packet sent
      this.out(from, { t: 'resp', sender: k.local, receiver: m.sender });
      return;
    }
    if (m.t === 'cookie') return;
    if (m.t === 'resp') {
      if (!this.pending || this.pending.local !== m.receiver) {
        this.stats.staleResponses++;
        return;
      }
      this.pending = undefined;
      this.retransmitAt = undefined;
      this.attempts = 0;
      this.endpoint = from;
      const k: Keypair = { local: m.receiver, remote: m.sender, counter: 0, seen: new Set(), round: -1 };
      this.drop(this.previous);
      if (this.next) {
        // The kernel's add_new_keypair: the unconfirmed next becomes previous, current goes.
        this.drop(this.current);
        this.previous = this.next;
        this.next = undefined;
      } else this.previous = this.current;
      this.current = k;
      this.byIndex.set(k.local, k);
      this.anyReceived();
      this.sendOn(true, 0);
      return;
    }
    const k = this.byIndex.get(m.receiver);
    if (!k) {
      this.stats.unknownIndex++;
      this.trace?.(`t=${now} unknown index ${m.receiver} (keepalive ${m.keepalive}) from path ${from.path}`);
      return;
    }
    if (k.seen.has(m.counter)) return; // replay window
    k.seen.add(m.counter);
    if (k === this.next) {
      this.drop(this.previous);
      this.previous = this.current;
      this.current = k;
      this.next = undefined;
    }
    this.endpoint = from;
    this.anyReceived();
    if (m.keepalive) return;
    this.stats.dataReceived++;
    if (!this.received.has(m.id)) this.received.set(m.id, now);
    if (this.keepaliveAt === undefined) this.arm('keepalive', now + KEEPALIVE_TIMEOUT_MS);
    if (this.app === 'echo') this.sendOn(false, m.id);
  }

  /** Sends data (or a keepalive) on `current` to the endpoint; false when there is none. */
  sendOn(keepalive: boolean, id: number): boolean {
    const k = this.current;
    if (!k || !this.endpoint) return false;
    this.keepaliveAt = undefined;
    if (keepalive) this.stats.keepalivesSent++;
    else if (this.newHandshakeAt === undefined)
      this.arm('newHandshake', this.q.now + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + this.jitter());
    this.out(this.endpoint, { t: 'data', receiver: k.remote, counter: k.counter++, keepalive, id });
    return true;
  }

  /** Starts a handshake as initiator toward the current endpoint (standard: one address). */
  initiate(): void {
    if (!this.endpoint) return;
    const now = this.q.now;
    const local = this.freshIndex();
    this.pending = { local, sentAt: now };
    const raw = this.wallNs();
    const ts = raw - (raw % 0x1000000n);
    this.stats.initiationsSent++;
    this.out(this.endpoint, { t: 'init', sender: local, ts, round: -1 });
    this.arm('retransmit', now + REKEY_TIMEOUT_MS + this.jitter());
  }

  private anyReceived(): void {
    this.newHandshakeAt = undefined;
  }

  private jitter(): number {
    return this.q.rng.int(REKEY_TIMEOUT_JITTER_MAX_MS);
  }

  private arm(which: 'keepalive' | 'newHandshake' | 'retransmit', at: number): void {
    if (which === 'keepalive') this.keepaliveAt = at;
    else if (which === 'newHandshake') this.newHandshakeAt = at;
    else this.retransmitAt = at;
    this.q.at(at, () => {
      if (which === 'keepalive' && this.keepaliveAt === at) {
        this.keepaliveAt = undefined;
        this.sendOn(true, 0);
      } else if (which === 'newHandshake' && this.newHandshakeAt === at) {
        this.newHandshakeAt = undefined;
        this.attempts = 0;
        this.initiate();
      } else if (which === 'retransmit' && this.retransmitAt === at && this.pending) {
        if (++this.attempts > MAX_TIMER_HANDSHAKES) {
          this.pending = undefined;
          return;
        }
        this.initiate();
      }
    });
  }
}
