// Which candidates endpoint selection probes after connecting and in its upgrade sweeps, and
// when (select.ts runs each probe as a single-candidate round). docs/endpoint-selection.md,
// "Triggers", gives the schedule; select-constants.ts the figures.

import { MIN_RTT_SAMPLES, PERIODIC_JITTER_RATIO, PROBE_GAP_MS, REPROBE_RATIO } from './select-constants.js';
import { type CandidateTable, isFailed } from './select-path.js';
import type { Policy } from './select-policy.js';

/**
 * `ms` jittered by up to PERIODIC_JITTER_RATIO of it, later (sign 1) or earlier (-1), so that
 * peers' periodic rounds drift apart; exact with fewer than two candidates (nothing to race).
 */
export function jitteredGap(table: CandidateTable, random: () => number, ms: number, sign = 1): number {
  if (table.all().length < 2) return ms;
  return ms + sign * Math.floor(random() * ms * PERIODIC_JITTER_RATIO);
}

export class ProbePlan {
  /** When the next probe is due; undefined while none is queued. */
  nextAt: number | undefined;
  /** The candidate whose response connected us: its sample includes the cold start. */
  firstContactKey: string | undefined;
  private queue: string[] = [];
  /**
   * Passes of probes after connecting still allowed: when a pass's queue runs dry, candidates
   * whose figure may rest on inflated samples get one more probe (`moreProbes`), up to
   * MIN_RTT_SAMPLES samples each, once per connection.
   */
  private morePasses = 0;

  /** `random`: the selector's, for the gaps' jitter (the selector's own function, not a closure per peer). */
  constructor(
    private readonly table: CandidateTable,
    private readonly random: () => number,
  ) {}

  /** Connected over `activeKey`: the probes of the other candidates the policy could prefer. */
  afterConnect(now: number, policy: Policy, activeKey: string | undefined): void {
    this.morePasses = policy === 'latency' ? MIN_RTT_SAMPLES - 1 : 0;
    this.enqueue(now, false, policy, activeKey);
    if (!this.queue.length) this.probed(now);
  }

  /**
   * The upgrade sweep: every candidate the policy could prefer, those in backoff too (the
   * sweep's own interval is the rate limit, so a preferred path that comes back is found within
   * one), ending with the active one, which refreshes its RTT (the only way to measure it
   * against a standard peer). The first is due at once.
   */
  sweep(now: number, policy: Policy, activeKey: string | undefined): void {
    this.enqueue(now, true, policy, activeKey);
    this.nextAt = now;
  }

  /** The candidate to probe now (the next one still configured), or undefined. */
  take(): string | undefined {
    this.nextAt = undefined;
    while (this.queue.length) {
      const key = this.queue.shift()!;
      if (this.table.get(key)) return key;
    }
    return undefined;
  }

  /** A probe round ended (answered or not): the next one follows PROBE_GAP_MS later. */
  probed(now: number): void {
    if (!this.queue.length && this.morePasses > 0) {
      this.queue = this.moreProbes();
      this.morePasses = this.queue.length ? this.morePasses - 1 : 0;
    }
    this.nextAt = this.queue.length ? now + jitteredGap(this.table, this.random, PROBE_GAP_MS) : undefined;
  }

  /**
   * Right after connecting, candidates in backoff are skipped; a sweep probes them anyway. The
   * preference policy probes only better-ranked candidates.
   */
  private enqueue(now: number, sweep: boolean, policy: Policy, activeKey: string | undefined): void {
    const active = activeKey ? this.table.get(activeKey) : undefined;
    const others = this.table
      .ordered()
      .filter((c) => c.key !== activeKey && (sweep || c.backoffUntil <= now))
      .filter((c) => policy === 'latency' || !active || c.rank < active.rank);
    this.queue = [...others.map((c) => c.key), ...(sweep && active ? [active.key] : [])];
    this.nextAt = this.queue.length ? now + jitteredGap(this.table, this.random, PROBE_GAP_MS) : undefined;
  }

  /**
   * A few samples are needed to rule a path out: a busy moment at either end, or the cold start
   * of the first handshake, inflates a sample, and the minimum only helps once there are
   * several. So once a pass of probes is done, a candidate whose figure rests on fewer than
   * MIN_RTT_SAMPLES samples gets one more probe when it is not the best and either its only
   * sample is the cold start (it connected us) or its figure is within REPROBE_RATIO of the
   * best; lowest figure first.
   */
  private moreProbes(): string[] {
    const live = this.table.all().filter((c) => c.rtt.min !== undefined && !isFailed(c));
    let best = Number.POSITIVE_INFINITY;
    for (const c of live) best = Math.min(best, c.rtt.min!);
    return live
      .filter(
        (c) =>
          c.rtt.samples < MIN_RTT_SAMPLES &&
          c.rtt.min! > best &&
          ((c.key === this.firstContactKey && c.rtt.samples === 1) || c.rtt.min! <= REPROBE_RATIO * best),
      )
      .sort((a, b) => a.rtt.min! - b.rtt.min!)
      .map((c) => c.key);
  }
}
