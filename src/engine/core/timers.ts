// The per-peer timers of whitepaper 6 ("Timers & Stateless UX"), as deadlines on the core's
// clock instead of real timers: an event hook sets or clears a deadline, and `due(now)` says
// which have passed. The hooks have the names wireguard-go and the kernel give them.
//
//   retransmitHandshake  REKEY_TIMEOUT + jitter after an initiation: send it again
//   sendKeepalive        KEEPALIVE_TIMEOUT after data arrived and nothing went back
//   newHandshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after data went out
//                        and nothing came back: start a new handshake
//   zeroKeyMaterial      3 × REJECT_AFTER_TIME after the last new session: erase all keys
//   persistentKeepalive  the configured interval after any authenticated packet

import {
  KEEPALIVE_TIMEOUT_MS,
  REJECT_AFTER_TIME_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
} from './constants.js';

export type TimerName =
  | 'retransmitHandshake'
  | 'sendKeepalive'
  | 'newHandshake'
  | 'zeroKeyMaterial'
  | 'persistentKeepalive';

/** Order in which due timers are handled within one tick. */
export const TIMER_NAMES: readonly TimerName[] = [
  'retransmitHandshake',
  'sendKeepalive',
  'newHandshake',
  'zeroKeyMaterial',
  'persistentKeepalive',
];

export class PeerTimers {
  readonly deadline: Record<TimerName, number | undefined> = {
    retransmitHandshake: undefined,
    sendKeepalive: undefined,
    newHandshake: undefined,
    zeroKeyMaterial: undefined,
    persistentKeepalive: undefined,
  };
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;

  constructor(
    /** 0 ≤ jitter < REKEY_TIMEOUT_JITTER_MAX_MS, from the injected randomness. */
    private readonly jitter: () => number,
    /**
     * Its `persistentKeepalive`, in seconds (0 = off), is read on every traversal: the peer
     * itself rather than a closure over it (one fewer object and context per peer).
     */
    private readonly keepalive: { readonly persistentKeepalive: number },
  ) {}

  private mod(name: TimerName, at: number): void {
    this.deadline[name] = at;
  }

  del(name: TimerName): void {
    this.deadline[name] = undefined;
  }

  pending(name: TimerName): boolean {
    return this.deadline[name] !== undefined;
  }

  /** The earliest deadline, if any. */
  next(): number | undefined {
    let min: number | undefined;
    for (const n of TIMER_NAMES) {
      const d = this.deadline[n];
      if (d !== undefined && (min === undefined || d < min)) min = d;
    }
    return min;
  }

  /** Timers whose deadline passed; they are cleared (one-shot, like the kernel's). */
  due(now: number): TimerName[] {
    const out: TimerName[] = [];
    for (const n of TIMER_NAMES) {
      const d = this.deadline[n];
      if (d !== undefined && d <= now) {
        this.deadline[n] = undefined;
        out.push(n);
      }
    }
    return out;
  }

  clearAll(): void {
    for (const n of TIMER_NAMES) this.deadline[n] = undefined;
  }

  /** After an authenticated data packet (not a keepalive) is sent. */
  dataSent(now: number): void {
    if (!this.pending('newHandshake'))
      this.mod('newHandshake', now + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + this.jitter());
  }

  /** After an authenticated data packet is received. */
  dataReceived(now: number): void {
    if (!this.pending('sendKeepalive')) this.mod('sendKeepalive', now + KEEPALIVE_TIMEOUT_MS);
    else this.needAnotherKeepalive = true;
  }

  /** After any authenticated packet is sent: keepalive, data or handshake. */
  anyAuthenticatedPacketSent(): void {
    this.del('sendKeepalive');
  }

  /** After any authenticated packet is received: keepalive, data or handshake. */
  anyAuthenticatedPacketReceived(): void {
    this.del('newHandshake');
  }

  /** After an initiation is sent. */
  handshakeInitiated(now: number): void {
    this.mod('retransmitHandshake', now + REKEY_TIMEOUT_MS + this.jitter());
  }

  /** After a response is consumed, or on key confirmation by the first data message. */
  handshakeComplete(): void {
    this.del('retransmitHandshake');
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** After new session keys are derived (sending a response, or consuming one). */
  sessionDerived(now: number): void {
    this.mod('zeroKeyMaterial', now + 3 * REJECT_AFTER_TIME_MS);
  }

  /** Before an authenticated packet is sent, or after one is received. */
  anyAuthenticatedPacketTraversal(now: number): void {
    const interval = this.keepalive.persistentKeepalive;
    if (interval > 0) this.mod('persistentKeepalive', now + interval * 1000);
  }

  /** After sendKeepalive fired: re-arm if more data arrived meanwhile. */
  keepaliveFired(now: number): void {
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.mod('sendKeepalive', now + KEEPALIVE_TIMEOUT_MS);
    }
  }

  /** After giving up on a handshake: erase leftovers later, unless already scheduled. */
  scheduleZeroing(now: number): void {
    if (!this.pending('zeroKeyMaterial')) this.mod('zeroKeyMaterial', now + 3 * REJECT_AFTER_TIME_MS);
  }
}

/** A jitter source from a random-bytes function: uniform in [0, REKEY_TIMEOUT_JITTER_MAX_MS). */
export function jitterFrom(random: (n: number) => Uint8Array): () => number {
  return () => {
    const b = random(2);
    return ((b[0]! << 8) | b[1]!) % REKEY_TIMEOUT_JITTER_MAX_MS;
  };
}
