// One race round of endpoint selection (select.ts): the candidates it carries, in order, the
// timestamp they all share, when each is sent, and when the round times out; and the
// per-candidate part of the selector's snapshot.

import { ROUND_TIMEOUT_MIN_MS } from './select-constants.js';
import { type CandidateTable, isFailed } from './select-path.js';
import { type CandidateSnapshot, type RoundReason, type SelectOutput, staggerOf } from './select-policy.js';

export interface Round {
  id: number;
  reason: RoundReason;
  timestamp: Uint8Array;
  order: string[];
  next: number;
  nextSendAt: number | undefined;
  sent: Map<string, number>;
  startedAt: number;
  deadline: number | undefined;
  /** Delay between the first and the second send, when the reason asks for a longer one. */
  firstGap: number | undefined;
}

/**
 * Sends the round's next candidate (returns its `initiate`, unless the candidate was removed
 * meanwhile) and sets the time of the one after it: its stagger later (or `firstGap` after the
 * first send), or, after the last one, the round's deadline: max(1 s, 3 × the largest SRTT of
 * the candidates sent to).
 */
export function advanceRound(r: Round, table: CandidateTable, now: number): SelectOutput | undefined {
  const key = r.order[r.next++]!;
  const c = table.get(key);
  let o: SelectOutput | undefined;
  if (c) {
    r.sent.set(key, now);
    o = { type: 'initiate', round: r.id, candidate: key, to: c.addr, timestamp: r.timestamp };
  }
  if (r.next < r.order.length) {
    const gap = r.next === 1 && r.firstGap !== undefined ? r.firstGap : staggerOf(c);
    r.nextSendAt = now + gap;
  } else {
    r.nextSendAt = undefined;
    let maxSrtt = 0;
    for (const k of r.sent.keys()) maxSrtt = Math.max(maxSrtt, table.get(k)?.rtt.srtt ?? 0);
    r.deadline = now + Math.max(ROUND_TIMEOUT_MIN_MS, 3 * maxSrtt);
  }
  return o;
}

/**
 * Per candidate, in race order: state (active, failed, untried or standby), path history, and
 * whether the round in progress sent to it.
 */
export function candidateSnapshots(
  table: CandidateTable,
  activeKey: string | undefined,
  inRound?: ReadonlyMap<string, number>,
): CandidateSnapshot[] {
  return table.ordered().map((c) => ({
    addr: c.addr,
    rank: c.rank,
    source: c.source,
    state:
      c.key === activeKey
        ? 'active'
        : isFailed(c)
          ? 'failed'
          : c.lastSuccess === undefined
            ? 'untried'
            : 'standby',
    lastSuccess: c.lastSuccess,
    srtt: c.rtt.srtt,
    rttvar: c.rtt.rttvar,
    minRtt: c.rtt.min,
    failures: c.failures,
    forwardOnlySuspect: c.forwardOnlySuspect,
    probing: inRound?.has(c.key) === true,
  }));
}
