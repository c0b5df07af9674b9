// The candidates of one peer and what selection knows about each path: the configured
// endpoints in order (rank = the `Endpoint` line, 0 = most preferred), the addresses a name
// resolved to, and sources the peer roamed to ("learned"). Bounded, deduplicated by address
// bytes and port, and ordered the Happy Eyeballs way (RFC 8305 section 4).

import { copyPath, type PathAddr, pathKey, samePath } from './addr.js';
import {
  CANDIDATE_BACKOFF_MAX_MS,
  CANDIDATE_BACKOFF_MIN_MS,
  FIRST_ADDRESS_FAMILY_COUNT,
  LEARNED_TTL_MS,
  MAX_ADDRS_PER_NAME,
  MAX_ADDRS_PER_NAME_FAMILY,
  MAX_ENDPOINT_LINES,
  MAX_LEARNED_CANDIDATES,
  MAX_STORED_CANDIDATES,
  MIN_RTT_SAMPLES,
  MIN_RTT_WINDOW_MS,
} from './select-constants.js';

/** Rank of learned candidates: after every configured line. */
export const LEARNED_RANK = MAX_ENDPOINT_LINES;

function checkAddr(a: PathAddr, where: string): void {
  const len = a.family === 4 ? 4 : a.family === 6 ? 16 : -1;
  if (a.address.length !== len) throw new RangeError(`${where}: an IPv${a.family} address has ${len} bytes`);
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535)
    throw new RangeError(`${where}: port ${a.port} is not in 1..65535`);
}

/**
 * What selection knows of a path's round-trip time, from one sample per handshake (initiation
 * sent to response received):
 * - SRTT and RTTVAR, RFC 6298 section 2 (first sample R gives R and R/2, then gains 1/8 and
 *   1/4): they size the stagger and the round timeout, where a pessimistic figure is safe.
 * - `min`, the least of the recent samples (at most MIN_RTT_SAMPLES, none more than
 *   MIN_RTT_WINDOW_MS older than the newest): what candidates are compared by. Queueing, a busy
 *   CPU and cold start (the first handshake of a process) only ever add to a sample, so the
 *   minimum is the best estimate of the path's own delay, as in BBR's min_rtt filter (RFC 9002
 *   section 5.2 keeps min_rtt for the same reason); an average keeps one inflated sample for
 *   many samples more.
 */
export class RttEstimator {
  srtt: number | undefined;
  rttvar: number | undefined;
  private recent: { rtt: number; at: number | undefined }[] = [];

  sample(r: number, at?: number): void {
    this.recent.push({ rtt: r, at });
    if (this.recent.length > MIN_RTT_SAMPLES) this.recent.shift();
    if (at !== undefined)
      this.recent = this.recent.filter((s) => s.at === undefined || at - s.at <= MIN_RTT_WINDOW_MS);
    if (this.srtt === undefined || this.rttvar === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
    this.srtt = 0.875 * this.srtt + 0.125 * r;
  }

  /** The least recent sample (undefined without one). */
  get min(): number | undefined {
    let m: number | undefined;
    for (const s of this.recent) if (m === undefined || s.rtt < m) m = s.rtt;
    return m;
  }

  /** How many samples `min` rests on. */
  get samples(): number {
    return this.recent.length;
  }

  reset(): void {
    this.srtt = undefined;
    this.rttvar = undefined;
    this.recent = [];
  }
}

export type CandidateSource = 'config' | 'resolved' | 'learned';

export interface Candidate {
  readonly key: string;
  readonly addr: PathAddr;
  readonly source: CandidateSource;
  /** The `Endpoint` line (0 = most preferred); LEARNED_RANK for learned ones. */
  rank: number;
  /** Position within its line's resolved addresses (RFC 6724 order from the resolver). */
  sub: number;
  readonly rtt: RttEstimator;
  lastSuccess: number | undefined;
  lastFailure: number | undefined;
  failures: number;
  /** No upgrade or latency probe before this time. */
  backoffUntil: number;
  backoffMs: number;
  /** Sent first in a round that failed: the path may deliver forward only (asymmetric). */
  forwardOnlySuspect: boolean;
  /** Learned candidates: the last authenticated packet from this source. */
  lastSeen: number;
  /** Removed by a new DNS answer while an initiation to it was in flight. */
  removed: boolean;
}

function newCandidate(addr: PathAddr, source: CandidateSource, rank: number, sub: number): Candidate {
  return {
    key: pathKey(addr),
    addr: copyPath(addr),
    source,
    rank,
    sub,
    rtt: new RttEstimator(),
    lastSuccess: undefined,
    lastFailure: undefined,
    failures: 0,
    backoffUntil: 0,
    backoffMs: 0,
    forwardOnlySuspect: false,
    lastSeen: 0,
    removed: false,
  };
}

export function recordSuccess(c: Candidate, now: number, rttMs: number | undefined): void {
  if (rttMs !== undefined) c.rtt.sample(Math.max(0, rttMs), now);
  c.lastSuccess = now;
  c.failures = 0;
  c.backoffMs = 0;
  c.backoffUntil = 0;
  c.forwardOnlySuspect = false;
}

export function recordFailure(c: Candidate, now: number): void {
  c.lastFailure = now;
  c.failures++;
  c.backoffMs = Math.min(CANDIDATE_BACKOFF_MAX_MS, c.backoffMs ? c.backoffMs * 2 : CANDIDATE_BACKOFF_MIN_MS);
  c.backoffUntil = now + c.backoffMs;
}

/** The history of a path is forgotten on a network change (RFC 8305 section 4). */
export function flushHistory(c: Candidate): void {
  c.rtt.reset();
  c.lastSuccess = undefined;
  c.lastFailure = undefined;
  c.failures = 0;
  c.backoffMs = 0;
  c.backoffUntil = 0;
  c.forwardOnlySuspect = false;
}

/** Failed since its last success (or never answered and failed at least once). */
export function isFailed(c: Candidate): boolean {
  return c.failures > 0 && (c.lastSuccess === undefined || (c.lastFailure ?? 0) >= c.lastSuccess);
}

/**
 * RFC 8305 section 4 interleaving: keep the given order within each family, start with the
 * family of the first address, take FIRST_ADDRESS_FAMILY_COUNT of it, then alternate.
 */
export function interleaveFamilies<T extends { addr: PathAddr }>(items: readonly T[]): T[] {
  if (items.length === 0) return [];
  const first = items[0]!.addr.family;
  const a = items.filter((c) => c.addr.family === first);
  const b = items.filter((c) => c.addr.family !== first);
  const out: T[] = a.splice(0, FIRST_ADDRESS_FAMILY_COUNT);
  while (a.length || b.length) {
    if (b.length) out.push(b.shift()!);
    if (a.length) out.push(a.shift()!);
  }
  return out;
}

/** One `Endpoint` line as selection sees it: its addresses in the resolver's (RFC 6724) order. */
export type EndpointLine = readonly PathAddr[];

export class CandidateTable {
  private readonly byKey = new Map<string, Candidate>();
  /** The candidate `learn` found or added last (its fast path). */
  private lastLearned: Candidate | undefined;
  /** Addresses dropped because a bound was reached (for the snapshot and a log line). */
  dropped = 0;

  /** Replaces the configured lines; path history of addresses that stay is kept. */
  configure(lines: readonly EndpointLine[]): void {
    if (lines.length > MAX_ENDPOINT_LINES)
      throw new RangeError(`a peer has at most ${MAX_ENDPOINT_LINES} Endpoint lines, not ${lines.length}`);
    for (const [i, l] of lines.entries())
      for (const [j, a] of l.entries()) checkAddr(a, `Endpoint line ${i + 1}, address ${j + 1}`);
    const old = new Map(this.byKey);
    for (const [k, c] of this.byKey) if (c.source !== 'learned') this.byKey.delete(k);
    this.dropped = 0;
    lines.forEach((line, rank) => {
      this.addLine(line, rank, old);
    });
  }

  /**
   * A new DNS answer for line `rank` (RFC 8305 section 6): addresses that are gone are removed,
   * unless `inFlight` says an initiation to them is under way (then they are marked and removed
   * by `sweepRemoved` when the round ends); new ones are added. Returns the added keys.
   */
  updateLine(rank: number, line: EndpointLine, inFlight: (key: string) => boolean): string[] {
    if (!Number.isInteger(rank) || rank < 0 || rank >= MAX_ENDPOINT_LINES)
      throw new RangeError(`Endpoint line ${rank + 1} does not exist`);
    for (const [j, a] of line.entries()) checkAddr(a, `Endpoint line ${rank + 1}, address ${j + 1}`);
    const keep = new Set(line.map(pathKey));
    for (const [k, c] of this.byKey) {
      if (c.rank !== rank || c.source === 'learned' || keep.has(k)) continue;
      if (inFlight(k)) c.removed = true;
      else this.byKey.delete(k);
    }
    const before = new Set(this.byKey.keys());
    this.addLine(line, rank, new Map(this.byKey));
    return [...this.byKey.keys()].filter((k) => !before.has(k));
  }

  private addLine(line: EndpointLine, rank: number, old: Map<string, Candidate>): void {
    const perFamily = { 4: 0, 6: 0 };
    let n = 0;
    line.forEach((addr, sub) => {
      const key = pathKey(addr);
      const existing = this.byKey.get(key);
      if (existing) {
        // Deduplicated: the lowest rank (first line) keeps it.
        if (existing.source === 'learned') this.byKey.delete(key);
        else {
          existing.removed = false;
          return;
        }
      }
      if (n >= MAX_ADDRS_PER_NAME || perFamily[addr.family] >= MAX_ADDRS_PER_NAME_FAMILY) {
        this.dropped++;
        return;
      }
      if (this.storedCount() >= MAX_STORED_CANDIDATES) {
        this.dropped++;
        return;
      }
      n++;
      perFamily[addr.family]++;
      const prev = old.get(key);
      const c = newCandidate(addr, line.length > 1 ? 'resolved' : 'config', rank, sub);
      if (prev) {
        Object.assign(c, { ...prev, key: c.key, addr: c.addr, source: c.source, rank, sub, removed: false });
      }
      this.byKey.set(key, c);
    });
  }

  private storedCount(): number {
    let n = 0;
    for (const c of this.byKey.values()) if (c.source !== 'learned') n++;
    return n;
  }

  /** Drops candidates a DNS answer removed while they were in flight. */
  sweepRemoved(): void {
    for (const [k, c] of this.byKey) if (c.removed) this.byKey.delete(k);
  }

  /** An authenticated packet came from `addr`: refresh it, or add it as a learned candidate. */
  learn(addr: PathAddr, now: number): Candidate {
    // Traffic comes from one path at a time: the candidate learned last, if still in the
    // table, is found without making its key (a string built per call, for every 'traffic'
    // event of the data plane).
    const last = this.lastLearned;
    if (last && this.byKey.get(last.key) === last && samePath(addr, last.addr)) {
      last.lastSeen = now;
      return last;
    }
    checkAddr(addr, 'learned source');
    const key = pathKey(addr);
    const c = this.byKey.get(key);
    if (c) {
      c.lastSeen = now;
      this.lastLearned = c;
      return c;
    }
    const learned = [...this.byKey.values()].filter((x) => x.source === 'learned');
    if (learned.length >= MAX_LEARNED_CANDIDATES) {
      learned.sort((x, y) => x.lastSeen - y.lastSeen);
      this.byKey.delete(learned[0]!.key);
    }
    const n = newCandidate(addr, 'learned', LEARNED_RANK, 0);
    n.lastSeen = now;
    this.byKey.set(key, n);
    this.lastLearned = n;
    return n;
  }

  /** Forgets learned candidates silent for LEARNED_TTL_MS, except `keep` (the active path). */
  expireLearned(now: number, keep: string | undefined): void {
    for (const [k, c] of this.byKey)
      if (c.source === 'learned' && k !== keep && now - c.lastSeen >= LEARNED_TTL_MS) this.byKey.delete(k);
  }

  /** The next time a learned candidate expires. */
  nextExpiry(keep: string | undefined): number | undefined {
    let at: number | undefined;
    for (const c of this.byKey.values())
      if (c.source === 'learned' && c.key !== keep) {
        const t = c.lastSeen + LEARNED_TTL_MS;
        if (at === undefined || t < at) at = t;
      }
    return at;
  }

  get(key: string): Candidate | undefined {
    return this.byKey.get(key);
  }

  all(): Candidate[] {
    return [...this.byKey.values()];
  }

  get size(): number {
    return this.byKey.size;
  }

  /**
   * Race order: by rank; within a rank, paths with RTT history first (lowest minimum RTT first,
   * the stateful rule RFC 8305 section 4 adds), then the resolver's order; families interleaved.
   */
  ordered(): Candidate[] {
    const ranks = new Map<number, Candidate[]>();
    for (const c of this.byKey.values()) {
      if (c.removed) continue;
      const list = ranks.get(c.rank) ?? [];
      list.push(c);
      ranks.set(c.rank, list);
    }
    const out: Candidate[] = [];
    for (const rank of [...ranks.keys()].sort((a, b) => a - b)) {
      const list = ranks.get(rank)!;
      list.sort((x, y) => {
        const rx = x.rtt.min ?? Number.POSITIVE_INFINITY;
        const ry = y.rtt.min ?? Number.POSITIVE_INFINITY;
        return rx !== ry ? rx - ry : x.sub - y.sub || x.lastSeen - y.lastSeen;
      });
      out.push(...interleaveFamilies(list));
    }
    return out;
  }
}
