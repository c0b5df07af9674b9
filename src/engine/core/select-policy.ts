// The pure parts of endpoint selection (select.ts): its input and output types, the stagger
// and the latency margin, which candidates a round carries in which order, when a path should
// take over, and how long a failed round waits for the next one.

import { formatPath, type PathAddr } from './addr.js';
import { REKEY_TIMEOUT_JITTER_MAX_MS, REKEY_TIMEOUT_MS } from './constants.js';
import {
  LATENCY_MARGIN_MS,
  LATENCY_MARGIN_RATIO,
  ROUND_RETRY_MS,
  SERIAL_AFTER_FAILURES,
  SERIAL_GAP_MS,
  STAGGER_DEFAULT_MS,
  STAGGER_MAX_MS,
  STAGGER_MIN_MS,
} from './select-constants.js';
import { type Candidate, isFailed } from './select-path.js';

export type Policy = 'latency' | 'preference';

export type RoundReason =
  | 'first-contact'
  | 'retry'
  | 'rekey'
  | 'suspect'
  | 'liveness'
  | 'upgrade'
  | 'probe'
  | 'network-change'
  | 'send-error';

export type SwitchReason =
  | 'first-contact'
  | 'failover'
  | 'faster'
  | 'preferred'
  | 'roamed'
  | 'network-change'
  | 'send-error';

export type MirrorReason = 'suspect' | 'send-refused';
export type MirrorEndReason = 'answered' | 'now-active' | 'expired' | 'gave-up';

export type SelectOutput =
  /** Send a new initiation of round `round` to `to`, carrying `timestamp`. */
  | { type: 'initiate'; round: number; candidate: string; to: PathAddr; timestamp: Uint8Array }
  /** Round `round` is over: free its handshake states and indices; never use a response to it. */
  | { type: 'dropRound'; round: number }
  /** Data now goes to `to`. */
  | { type: 'switch'; from: PathAddr | undefined; to: PathAddr; reason: SwitchReason }
  /**
   * Also send each data packet to `to` until `until` (or until `mirrorEnd`): the active path is
   * suspect (silence after sent data) or the kernel refused data sent on it.
   */
  | { type: 'mirror'; to: PathAddr; until: number; reason: MirrorReason }
  /** Mirroring stopped before its time ran out (a round answered, `to` became active, giving up). */
  | { type: 'mirrorEnd'; to: PathAddr; reason: MirrorEndReason }
  /** Rounds failed for REKEY_ATTEMPT_TIME: flush staged packets; new traffic starts over. */
  | { type: 'giveUp' };

/**
 * What to do with the keypair of a response (`onResponse`). A used keypair is installed and
 * confirmed at once by sending on it (staged data or a keepalive) to `to`. When a probe's path is
 * not taken, `to` is still the active path: keys are not bound to paths, so the probe's keypair
 * carries on over the old path, and that first packet both confirms it at the peer and moves the
 * peer's return path back (it followed the probe's initiation). Leaving the keypair unconfirmed
 * instead would keep it as the peer's `next`, and a handshake the peer then completes as
 * initiator would delete its `current` (the kernel's add_new_keypair, wireguard-go's
 * BeginSymmetricSession), the keypair our data uses.
 */
export interface Verdict {
  use: boolean;
  to?: PathAddr;
  outputs: SelectOutput[];
}

export interface SelectOptions {
  policy?: Policy;
  /** Follow the peer when its authenticated packets come from another address (default on). */
  roaming?: boolean;
  /** Uniform in [0, 1); the only source of randomness (retry jitter). */
  random: () => number;
  /**
   * Wall time in ns since the Unix epoch at core time `now`, read only when a round starts (its
   * timestamp).
   */
  wallNs: (now: number) => bigint;
  /** The last timestamp this peer sent (kept across restarts of the selector). */
  lastTimestamp?: Uint8Array;
}

export interface CandidateSnapshot {
  addr: PathAddr;
  rank: number;
  source: Candidate['source'];
  state: 'active' | 'standby' | 'failed' | 'untried';
  lastSuccess: number | undefined;
  srtt: number | undefined;
  rttvar: number | undefined;
  /** The least recent RTT sample: what the latency policy compares. */
  minRtt: number | undefined;
  failures: number;
  forwardOnlySuspect: boolean;
  /** The round in progress sent an initiation here and awaits the answer. */
  probing: boolean;
}

export interface SelectSnapshot {
  policy: Policy;
  roaming: boolean;
  active: PathAddr | undefined;
  round: { id: number; reason: RoundReason; sent: number } | undefined;
  mirror: { to: PathAddr; until: number } | undefined;
  candidates: CandidateSnapshot[];
}

/** clamp(SRTT + 4·RTTVAR, 100 ms, 2 s), or 250 ms without history (RFC 8305 section 5). */
export function staggerOf(c: Candidate | undefined): number {
  const { srtt, rttvar } = c?.rtt ?? {};
  if (srtt === undefined || rttvar === undefined) return STAGGER_DEFAULT_MS;
  return Math.min(STAGGER_MAX_MS, Math.max(STAGGER_MIN_MS, srtt + 4 * rttvar));
}

/**
 * `a` beats `b` by the latency margin: its minimum RTT (select-path.ts RttEstimator) is at
 * least 10 % and at least 5 ms below `b`'s.
 */
export function clearlyFaster(a: Candidate, b: Candidate): boolean {
  const ra = a.rtt.min;
  const rb = b.rtt.min;
  if (ra === undefined || rb === undefined) return false;
  return ra <= rb * (1 - LATENCY_MARGIN_RATIO) && rb - ra >= LATENCY_MARGIN_MS;
}

/**
 * The candidates of a round, in sending order (a serial round takes one of them).
 * - rekey: preference policy: better-ranked candidates, then the active one (worse ones never);
 *   latency policy: the active one, then the others.
 * - upgrade (preference policy only): as the preference rekey.
 * - suspect, liveness: the active one, then the others.
 * - retry: all, the previous round's first held back to the end; serial: forward-only suspects last.
 * - send-error: all, the refused one (held back) last.
 * - otherwise: all in order.
 */
export function roundOrder(
  reason: RoundReason,
  all: readonly Candidate[],
  activeKey: string | undefined,
  policy: Policy,
  heldBack: string | undefined,
  serial: boolean,
): string[] {
  const active = all.find((c) => c.key === activeKey);
  const keys = all.map((c) => c.key);
  const activeFirst = (): string[] => (active ? [active.key, ...keys.filter((k) => k !== active.key)] : keys);
  switch (reason) {
    case 'rekey':
    case 'upgrade':
      if (!active) return keys;
      if (policy === 'preference' || reason === 'upgrade')
        return [...all.filter((c) => c.rank < active.rank).map((c) => c.key), active.key];
      return activeFirst();
    case 'suspect':
    case 'liveness':
      return activeFirst();
    case 'retry':
      if (serial)
        // Serial single-candidate rounds isolate a path that delivers forward only.
        return [...all.filter((c) => !c.forwardOnlySuspect), ...all.filter((c) => c.forwardOnlySuspect)].map(
          (c) => c.key,
        );
      return heldBack && keys.includes(heldBack) ? [...keys.filter((k) => k !== heldBack), heldBack] : keys;
    case 'send-error':
      // The path the kernel refused goes last: the others first.
      return heldBack && keys.includes(heldBack) ? [...keys.filter((k) => k !== heldBack), heldBack] : keys;
    default:
      return keys;
  }
}

/** Whether `c` (which just answered) should carry the data instead of `active`. */
export function shouldSwitch(policy: Policy, c: Candidate, active: Candidate): boolean {
  if (isFailed(active)) return true;
  if (policy === 'preference') return c.rank < active.rank;
  if (clearlyFaster(c, active)) return true;
  // Config order breaks near-ties: a better-ranked path takes over unless clearly slower.
  return c.rank < active.rank && !clearlyFaster(active, c);
}

export function switchReasonOf(
  reason: RoundReason,
  from: Candidate | undefined,
  to: Candidate,
): SwitchReason {
  switch (reason) {
    case 'first-contact':
      return from ? 'failover' : 'first-contact';
    case 'network-change':
    case 'send-error':
      return reason;
    case 'probe':
    case 'upgrade':
    case 'rekey':
      if (!from || isFailed(from)) return 'failover';
      if (clearlyFaster(to, from)) return 'faster';
      return to.rank < from.rank ? 'preferred' : 'failover';
    default:
      return 'failover';
  }
}

/**
 * The wait after the `failedRounds`-th consecutive failed round: 1 s, 2 s, 4 s, then
 * REKEY_TIMEOUT + jitter. Serial rounds (after SERIAL_AFTER_FAILURES) are SERIAL_GAP_MS apart
 * within a pass over the candidates, and each completed pass is one step of that backoff.
 */
export function retryDelay(
  failedRounds: number,
  serialIdx: number,
  passLength: number,
  random: () => number,
): number {
  const serial = failedRounds > SERIAL_AFTER_FAILURES;
  if (serial && serialIdx % passLength !== 0) return SERIAL_GAP_MS;
  const step = serial ? SERIAL_AFTER_FAILURES + Math.floor(serialIdx / passLength) : failedRounds;
  return ROUND_RETRY_MS[step - 1] ?? REKEY_TIMEOUT_MS + Math.floor(random() * REKEY_TIMEOUT_JITTER_MAX_MS);
}

/** A log line for a switch: "10.0.0.1:51820 -> 10.0.1.1:51820 (failover)". */
export function formatSwitch(o: Extract<SelectOutput, { type: 'switch' }>): string {
  return `${o.from ? formatPath(o.from) : '(none)'} -> ${formatPath(o.to)} (${o.reason})`;
}
