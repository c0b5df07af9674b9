// Endpoint selection for one peer: which candidate paths get a handshake initiation, when, and
// which path carries the data. Sans-I/O and clock-free like the rest of the core: every entry
// point takes `now` (ms, monotonic) and returns what to do as plain data (SelectOutput); the
// wall clock for timestamps and the randomness for jitter are injected.
//
// The rule that makes racing safe against an unmodified responder: every initiation of one
// round carries the same TAI64N timestamp, and rounds carry strictly increasing ones. A
// standard responder (wireguard-go device/noise-protocol.go ConsumeMessageInitiation, the
// kernel's wg_noise_handshake_consume_initiation) consumes an initiation only if its timestamp
// is strictly greater than the last one it consumed, so it consumes at most one per round and
// any valid response of the current round belongs to the keypair it holds. Responses to older
// rounds are never used. The algorithm and its parameters are described in
// docs/endpoint-selection.md.

import { nextTai64n } from '../../crypto/tai64n.js';
import { type PathAddr, pathKey } from './addr.js';
import { REKEY_ATTEMPT_TIME_MS, REKEY_TIMEOUT_JITTER_MAX_MS } from './constants.js';
import {
  GOOD_ENOUGH_RTT_MS,
  LIVENESS_ESCALATE_MIN_MS,
  LIVENESS_INTERVAL_MS,
  LIVENESS_SILENCE_MS,
  MAX_ROUND_INITIATIONS,
  MIRROR_MAX_MS,
  ROUND_TIMEOUT_MIN_MS,
  SERIAL_AFTER_FAILURES,
  SUSPECT_MIN_MS,
  UPGRADE_INTERVAL_MS,
} from './select-constants.js';
import {
  type Candidate,
  CandidateTable,
  type EndpointLine,
  flushHistory,
  isFailed,
  recordFailure,
  recordSuccess,
} from './select-path.js';
import {
  type MirrorEndReason,
  type MirrorReason,
  type Policy,
  type RoundReason,
  retryDelay,
  roundOrder,
  type SelectOptions,
  type SelectOutput,
  type SelectSnapshot,
  type SwitchReason,
  shouldSwitch,
  staggerOf,
  switchReasonOf,
  type Verdict,
} from './select-policy.js';
import { jitteredGap, ProbePlan } from './select-probes.js';
import { advanceRound, candidateSnapshots, type Round } from './select-round.js';

export * from './select-policy.js';

export class PeerSelector {
  readonly table = new CandidateTable();
  policy: Policy;
  roaming: boolean;
  private readonly random: () => number;
  private readonly wallNs: (now: number) => bigint;
  lastTimestamp: Uint8Array | undefined;

  private activeKey: string | undefined;
  private round: Round | undefined;
  private roundSeq = 0;
  private connected = false;
  private givenUp = false;
  private failedRounds = 0;
  private attemptStart: number | undefined;
  private retryAt: number | undefined;
  private heldBack: string | undefined;
  private serialIdx = 0;
  private awaitingSince: number | undefined;
  private replyDelay: number | undefined;
  private lastLivenessAt = Number.NEGATIVE_INFINITY;
  /** The wait after a liveness round before the next may start (jittered per round). */
  private livenessGap = LIVENESS_INTERVAL_MS;
  private upgradeAt: number | undefined;
  private readonly probes: ProbePlan;
  private mirror: { key: string; to: PathAddr; until: number } | undefined;
  /**
   * Paths we chose to leave (or a probe we declined): packets still in flight from them must not
   * pull us back by roaming, so roaming to them is ignored until the time given. Made on
   * first use (an empty Map is ~0.2 KiB, and there is a selector per peer).
   */
  private declined: Map<string, number> | undefined;
  /**
   * No discretionary round (probe, upgrade, rekey, suspect, liveness) before this time: the
   * confirmation of the keypair just installed must reach the peer first. A newer initiation
   * arriving before it would replace that keypair while it is still the peer's `next`, and our
   * data on it would then be dropped (seen in the fuzzed simulation: an overdue upgrade probe
   * right after a failover).
   */
  private settleUntil = 0;
  private lastDataSentAt = Number.NEGATIVE_INFINITY;
  private rekeyPending = false;
  /**
   * A network change arrived while settling: its round starts at `settleUntil` (onNetworkChange).
   */
  private networkChangePending = false;
  /** When a pending rekey round may start (its jitter); undefined while none is pending. */
  private rekeyAt: number | undefined;
  private out: SelectOutput[] = [];

  constructor(opts: SelectOptions) {
    this.policy = opts.policy ?? 'latency';
    this.roaming = opts.roaming ?? true;
    this.random = opts.random;
    this.wallNs = opts.wallNs;
    this.probes = new ProbePlan(this.table, opts.random);
    this.lastTimestamp = opts.lastTimestamp;
  }

  // ---- Inputs ----

  /** The configured `Endpoint` lines in order, each with its addresses (RFC 6724 order). */
  configure(lines: readonly EndpointLine[]): void {
    this.table.configure(lines);
    if (this.activeKey && !this.table.get(this.activeKey)) this.activeKey = undefined;
  }

  /** A new DNS answer for one line, possibly mid-race (RFC 8305 section 6). */
  updateLine(rank: number, line: EndpointLine, now: number): SelectOutput[] {
    const r = this.round;
    const added = this.table.updateLine(rank, line, (k) => r?.sent.has(k) === true);
    if (r && (r.reason === 'first-contact' || r.reason === 'retry' || r.reason === 'network-change')) {
      // Not yet attempted: gone ones are dropped, new ones are sorted into the untried tail.
      const tried = r.order.slice(0, r.next);
      const tail = this.table
        .ordered()
        .map((c) => c.key)
        .filter((k) => !tried.includes(k) && (r.order.includes(k) || added.includes(k)));
      r.order = [...tried, ...tail].slice(0, MAX_ROUND_INITIATIONS);
      if (r.next < r.order.length && r.nextSendAt === undefined) {
        r.nextSendAt = now;
        r.deadline = undefined;
      }
    }
    if (this.activeKey && !this.table.get(this.activeKey)) this.activeKey = undefined;
    return this.drain();
  }

  /** The core wants a session (first contact, or data waiting while none exists). */
  start(now: number): SelectOutput[] {
    if (this.round && this.round.reason !== 'probe') return this.drain();
    // No usable session (never had one, or its keypair expired while idle).
    this.connected = false;
    if (this.givenUp) this.resetAttempts();
    if (this.retryAt === undefined) this.startRound('first-contact', now);
    return this.drain();
  }

  /** An authenticated data packet (not a keepalive) was sent. */
  onDataSent(now: number): SelectOutput[] {
    if (this.givenUp) {
      this.resetAttempts();
      this.startRound('first-contact', now);
    }
    if (this.awaitingSince === undefined) this.awaitingSince = now;
    this.lastDataSentAt = now;
    return this.drain();
  }

  /** An authenticated packet (data or keepalive, current keypairs) arrived from `src`. */
  onReceive(src: PathAddr, now: number): SelectOutput[] {
    this.heard(now);
    const c = this.table.learn(src, now);
    if (
      !this.activeKey ||
      (c.key !== this.activeKey && this.roaming && (this.declined?.get(c.key) ?? 0) <= now)
    )
      this.setActive(c.key, 'roamed', now);
    if (!this.connected) {
      // A session the peer started (we answered its initiation): selection starts from here.
      this.connected = true;
      this.resetAttempts();
      this.probes.firstContactKey = undefined;
      this.scheduleAfterConnect(now);
    }
    return this.drain();
  }

  /**
   * We answered the peer's initiation: its keypair waits as our `next` until the peer's first
   * packet on it, and until then the peer sends on our `current`. A round of ours now would
   * make the peer, as responder, drop its `previous`, which is that keypair's other half: what
   * the peer sends on until its new one is confirmed. So discretionary rounds wait, as after a
   * handshake of our own (a standard peer sends no initiation for REKEY_TIMEOUT after
   * answering one; wireguard-go SendHandshakeResponse sets lastSentHandshake).
   */
  onAnswered(now: number): void {
    const until = this.settleUntil;
    this.settle(now);
    this.settleUntil = Math.max(until, this.settleUntil);
  }

  /** The current keypair reached REKEY_AFTER_TIME: a handshake is due anyway, so race. */
  onRekeyDue(now: number): SelectOutput[] {
    if (this.round && this.round.reason !== 'probe') return this.drain();
    this.rekeyPending = true;
    this.rekeyAt ??= now + Math.floor(this.random() * REKEY_TIMEOUT_JITTER_MAX_MS);
    this.startRekey(now);
    return this.drain();
  }

  /**
   * Local addresses or routes changed: forget path history and race everything (when a
   * session exists or is being sought), at once, or, right after a handshake (settling), once
   * its keypair's confirmation has had time to reach the peer: a newer initiation arriving first would make the peer drop that keypair while it
   * is still its `next`, and our data on it with it (seen in the simulation with 300 ms of
   * jitter and a network change every 1.5 s). The wait is at most the settle time (1 s, or
   * the active path's stagger when that is longer).
   */
  onNetworkChange(now: number): SelectOutput[] {
    for (const c of this.table.all()) flushHistory(c);
    // No session and none being sought: nothing to race for. A standard peer starts a
    // handshake only for data or a keepalive, and the first one will race every candidate.
    if (!this.connected && !this.round && this.retryAt === undefined) return this.drain();
    this.resetAttempts();
    if (this.connected && now < this.settleUntil) this.networkChangePending = true;
    else this.startRound('network-change', now);
    return this.drain();
  }

  /** Sending to a candidate failed locally (ENETUNREACH, EHOSTUNREACH...). */
  onSendError(key: string, now: number): SelectOutput[] {
    const c = this.table.get(key);
    if (!c) return this.drain();
    recordFailure(c, now);
    if (key === this.activeKey && this.round?.reason !== 'send-error') {
      for (const x of this.table.all()) flushHistory(x);
      recordFailure(c, now);
      this.resetAttempts();
      this.heldBack = key;
      this.startRound('send-error', now);
    } else if (this.round?.sent.has(key) && this.round.nextSendAt !== undefined) {
      this.round.nextSendAt = now;
    }
    return this.drain();
  }

  /**
   * The kernel refused a data packet sent to `key` (the data plane reports it at most every
   * 100 ms or so): the path counts as failed at once, without waiting for the silence that
   * makes it suspect. A round starts with the other candidates first (as for a refused
   * handshake, but the history of the other paths is kept: an OUTPUT firewall rule, unlike a
   * network change, says nothing about them), and data is mirrored onto the best other working
   * path meanwhile. While a round or its retries are under way, nothing more happens: they pace
   * themselves, and a refused path that stays refused must not start a round per report.
   */
  onDataRefused(key: string, now: number): SelectOutput[] {
    const c = this.table.get(key);
    if (!c || key !== this.activeKey || !this.connected || this.givenUp) return this.drain();
    if ((this.round && this.round.reason !== 'probe') || this.retryAt !== undefined) return this.drain();
    recordFailure(c, now);
    this.heldBack = key;
    this.startRound('send-error', now);
    if (this.round) this.startMirror(now, 'send-refused');
    return this.drain();
  }

  /** A valid response to initiation `key` of round `round`, arriving from `src`. */
  onResponse(round: number, key: string, src: PathAddr, now: number): Verdict {
    const r = this.round;
    const sentAt = r?.sent.get(key);
    const c = this.table.get(key);
    if (!r || r.id !== round || sentAt === undefined || !c) return { use: false, outputs: this.drain() };
    recordSuccess(c, now, now - sentAt);
    this.endRound();
    this.rekeyPending = false;
    this.rekeyAt = undefined;
    this.resetAttempts();
    this.heard(now);
    const target = pathKey(src) === key ? c : this.table.learn(src, now);
    this.stopMirror('answered');
    const firstContact = !this.connected;
    this.connected = true;
    if (r.reason === 'probe' && target.key !== this.activeKey) {
      const active = this.activeKey ? this.table.get(this.activeKey) : undefined;
      if (active && !this.better(target, active)) {
        this.holdOff(target, now);
        this.probes.probed(now);
        this.settle(now);
        return { use: true, to: active.addr, outputs: this.drain() };
      }
    }
    if (r.reason === 'probe') this.probes.probed(now);
    this.setActive(target.key, this.switchReason(r.reason, target), now);
    if (firstContact) {
      this.probes.firstContactKey = key;
      this.scheduleAfterConnect(now);
    }
    this.settle(now);
    return { use: true, to: target.addr, outputs: this.drain() };
  }

  /** Handles every deadline that has passed. */
  tick(now: number): SelectOutput[] {
    const r = this.round;
    if (r && r.nextSendAt !== undefined && r.nextSendAt <= now) this.sendNext(r, now);
    if (r && this.round === r && r.deadline !== undefined && r.deadline <= now) this.roundFailed(r, now);
    if (this.mirror && this.mirror.until <= now) this.stopMirror('expired');
    if (this.retryAt !== undefined && this.retryAt <= now && !this.round) {
      this.retryAt = undefined;
      this.startRound('retry', now);
    }
    const settled = now >= this.settleUntil;
    if (this.networkChangePending && settled) this.startRound('network-change', now);
    if (!this.round || this.round.reason === 'probe') this.startRekey(now);
    if (
      settled &&
      this.connected &&
      this.retryAt === undefined &&
      (!this.round || this.round.reason === 'probe')
    )
      this.checkSilence(now);
    if (settled && this.connected && !this.round && this.retryAt === undefined) {
      if (this.upgradeAt !== undefined && this.upgradeAt <= now) this.upgrade(now);
      if (this.probes.nextAt !== undefined && this.probes.nextAt <= now) this.probeNext(now);
    }
    this.table.expireLearned(now, this.activeKey);
    if (this.declined) for (const [k, until] of this.declined) if (until <= now) this.declined.delete(k);
    return this.drain();
  }

  /** The earliest time `tick` has something to do. */
  next(): number | undefined {
    const times: (number | undefined)[] = [this.mirror?.until];
    const later: (number | undefined)[] = [];
    const r = this.round;
    if (r) times.push(r.nextSendAt, r.deadline);
    else times.push(this.retryAt);
    if (this.connected && !this.round && this.retryAt === undefined)
      later.push(this.upgradeAt, this.probes.nextAt);
    const quiet = !r || r.reason === 'probe';
    if (this.rekeyPending && quiet) later.push(this.rekeyAt ?? this.settleUntil);
    if (this.networkChangePending) later.push(this.settleUntil);
    if (
      this.connected &&
      quiet &&
      this.activeKey &&
      this.retryAt === undefined &&
      this.awaitingSince !== undefined
    )
      later.push(this.silenceDeadline());
    for (const t of later) if (t !== undefined) times.push(Math.max(t, this.settleUntil));
    times.push(this.table.nextExpiry(this.activeKey));
    let min: number | undefined;
    for (const t of times) if (t !== undefined && (min === undefined || t < min)) min = t;
    return min;
  }

  get active(): PathAddr | undefined {
    return this.activeKey ? this.table.get(this.activeKey)?.addr : undefined;
  }

  get currentRound(): number | undefined {
    return this.round?.id;
  }

  snapshot(): SelectSnapshot {
    const m = this.mirror;
    return {
      policy: this.policy,
      roaming: this.roaming,
      active: this.active,
      round: this.round
        ? { id: this.round.id, reason: this.round.reason, sent: this.round.sent.size }
        : undefined,
      mirror: m ? { to: m.to, until: m.until } : undefined,
      candidates: candidateSnapshots(this.table, this.activeKey, this.round?.sent),
    };
  }

  // ---- Rounds ----

  private orderFor(reason: RoundReason): string[] {
    const serial = reason === 'retry' && this.failedRounds >= SERIAL_AFTER_FAILURES;
    const order = roundOrder(
      reason,
      this.table.ordered(),
      this.activeKey,
      this.policy,
      this.heldBack,
      serial,
    );
    if (!serial || order.length === 0) return order;
    return [order[this.serialIdx++ % order.length]!];
  }

  private startRound(reason: RoundReason, now: number, only?: string): void {
    const order = (only ? [only] : this.orderFor(reason)).slice(0, MAX_ROUND_INITIATIONS);
    if (order.length === 0) return;
    if (this.round) this.endRound();
    this.retryAt = undefined;
    // Any race but a probe covers what a pending network change asked for.
    if (reason !== 'probe') this.networkChangePending = false;
    const timestamp = nextTai64n(this.wallNs(now), this.lastTimestamp);
    this.lastTimestamp = timestamp;
    const active = this.activeKey ? this.table.get(this.activeKey) : undefined;
    const r: Round = {
      id: ++this.roundSeq,
      reason,
      timestamp,
      order,
      next: 0,
      nextSendAt: now,
      sent: new Map(),
      startedAt: now,
      deadline: undefined,
      firstGap:
        reason === 'liveness'
          ? Math.max(LIVENESS_ESCALATE_MIN_MS, 3 * (active?.rtt.srtt ?? 0), staggerOf(active))
          : undefined,
    };
    this.round = r;
    if (reason === 'liveness') {
      this.lastLivenessAt = now;
      this.livenessGap = this.jittered(LIVENESS_INTERVAL_MS);
    }
    if (reason === 'suspect') this.startMirror(now, 'suspect');
    this.sendNext(r, now);
  }

  private sendNext(r: Round, now: number): void {
    const o = advanceRound(r, this.table, now);
    if (o) this.out.push(o);
  }

  private endRound(): void {
    const r = this.round;
    if (!r) return;
    this.round = undefined;
    this.out.push({ type: 'dropRound', round: r.id });
    this.table.sweepRemoved();
  }

  private roundFailed(r: Round, now: number): void {
    for (const k of r.sent.keys()) {
      const c = this.table.get(k);
      if (c) recordFailure(c, now);
    }
    const first = r.order[0];
    if (r.sent.size >= 2 && first) {
      const c = this.table.get(first);
      if (c) c.forwardOnlySuspect = true;
      this.heldBack = first;
    }
    this.endRound();
    if (r.reason === 'probe') {
      this.probes.probed(now);
      if (!r.sent.has(this.activeKey ?? '')) return;
    }
    this.failedRounds++;
    this.attemptStart ??= r.startedAt;
    if (now - this.attemptStart >= REKEY_ATTEMPT_TIME_MS) {
      this.givenUp = true;
      this.connected = false;
      this.retryAt = undefined;
      this.stopMirror('gave-up');
      this.out.push({ type: 'giveUp' });
      return;
    }
    const passLength = Math.max(1, this.table.ordered().length);
    this.retryAt = now + retryDelay(this.failedRounds, this.serialIdx, passLength, this.random);
  }

  private resetAttempts(): void {
    this.failedRounds = 0;
    this.attemptStart = undefined;
    this.retryAt = undefined;
    this.givenUp = false;
    this.serialIdx = 0;
    this.heldBack = undefined;
  }

  // ---- Triggers after connecting ----

  private scheduleAfterConnect(now: number): void {
    this.upgradeAt = now + this.jittered(UPGRADE_INTERVAL_MS, -1);
    this.probes.afterConnect(now, this.policy, this.activeKey);
  }

  private probeNext(now: number): void {
    const key = this.probes.take();
    if (key) this.startRound('probe', now, key);
  }

  private upgrade(now: number): void {
    this.upgradeAt = now + this.jittered(UPGRADE_INTERVAL_MS, -1);
    const active = this.activeKey ? this.table.get(this.activeKey) : undefined;
    // An idle tunnel is left alone, as standard WireGuard leaves it: the next upgrade after
    // traffic resumes comes within one interval.
    if (!active || now - this.lastDataSentAt > UPGRADE_INTERVAL_MS) return;
    const best = Math.min(...this.table.all().map((c) => c.rank));
    const onBest = active.rank === best;
    if (this.policy === 'preference') {
      if (!onBest) this.startRound('upgrade', now);
    } else if (!onBest || (active.rtt.min ?? 0) > GOOD_ENOUGH_RTT_MS) {
      this.probes.sweep(now, this.policy, this.activeKey);
      this.probeNext(now);
    }
  }

  private silenceDeadline(): number {
    const active = this.activeKey ? this.table.get(this.activeKey) : undefined;
    const window = Math.max(SUSPECT_MIN_MS, 4 * (active?.rtt.srtt ?? 0));
    const since = this.awaitingSince ?? 0;
    if (this.replyDelay !== undefined && this.replyDelay <= window) return since + window;
    return Math.max(since + LIVENESS_SILENCE_MS, this.lastLivenessAt + this.livenessGap);
  }

  private checkSilence(now: number): void {
    if (this.awaitingSince === undefined || !this.activeKey) return;
    if (this.silenceDeadline() > now) return;
    const active = this.table.get(this.activeKey);
    const window = Math.max(SUSPECT_MIN_MS, 4 * (active?.rtt.srtt ?? 0));
    const interactive = this.replyDelay !== undefined && this.replyDelay <= window;
    this.startRound(interactive ? 'suspect' : 'liveness', now);
  }

  private heard(now: number): void {
    if (this.awaitingSince !== undefined) this.replyDelay = now - this.awaitingSince;
    this.awaitingSince = undefined;
  }

  // ---- Policy ----

  private better(c: Candidate, active: Candidate): boolean {
    return shouldSwitch(this.policy, c, active);
  }

  private switchReason(reason: RoundReason, to: Candidate): SwitchReason {
    return switchReasonOf(reason, this.activeKey ? this.table.get(this.activeKey) : undefined, to);
  }

  private setActive(key: string, reason: SwitchReason, now: number): void {
    if (key === this.activeKey) return;
    const from = this.active;
    const to = this.table.get(key);
    if (!to) return;
    const old = this.activeKey ? this.table.get(this.activeKey) : undefined;
    if (old && reason !== 'roamed') this.holdOff(old, now);
    this.activeKey = key;
    this.out.push({ type: 'switch', from, to: to.addr, reason });
    // The mirrored path carries the data now (the peer answered over it, or a round chose it).
    if (this.mirror?.key === key) this.stopMirror('now-active');
  }

  /** A pending rekey round starts once settled and past its jitter. */
  private startRekey(now: number): void {
    if (!this.rekeyPending || now < this.settleUntil || now < (this.rekeyAt ?? now)) return;
    this.rekeyPending = false;
    this.rekeyAt = undefined;
    this.startRound('rekey', now);
  }

  /**
   * `ms` plus (`sign` -1: less) up to PERIODIC_JITTER_RATIO of it, from the injected
   * randomness. Gaps that are minimums (between probes, between liveness rounds) grow; the
   * upgrade interval shrinks, as it is a bound (a preferred path is back within one). With one
   * candidate there is no race to spread out, and nothing is drawn: the peer's handshakes use
   * the core's randomness exactly as a standard peer's do.
   */
  private jittered(ms: number, sign = 1): number {
    return jitteredGap(this.table, this.random, ms, sign);
  }

  private settle(now: number): void {
    const active = this.activeKey ? this.table.get(this.activeKey) : undefined;
    this.settleUntil = now + Math.max(ROUND_TIMEOUT_MIN_MS, staggerOf(active));
  }

  private holdOff(c: Candidate, now: number): void {
    const srtt = Math.max(
      c.rtt.srtt ?? 0,
      this.active ? (this.table.get(this.activeKey!)?.rtt.srtt ?? 0) : 0,
    );
    this.declined ??= new Map();
    this.declined.set(c.key, now + Math.max(ROUND_TIMEOUT_MIN_MS, 4 * srtt));
  }

  /**
   * Mirroring (docs/endpoint-selection.md): each data packet also goes to the best other path
   * that answered before and has not failed since (lowest minimum RTT), for at most
   * MIRROR_MAX_MS. The same ciphertext with the same counter: the peer keeps the first copy to
   * arrive and its replay window drops the other (wireguard-go device/receive.go
   * RoutineSequentialReceiver, the kernel's receive.c wg_packet_rx_poll), and it takes its
   * endpoint from the copy it kept, so its replies come back over a path that works.
   */
  private startMirror(now: number, reason: MirrorReason): void {
    const alt = this.table
      .ordered()
      .filter((c) => c.key !== this.activeKey && c.lastSuccess !== undefined && !isFailed(c))
      .sort((a, b) => (a.rtt.min ?? 0) - (b.rtt.min ?? 0))[0];
    if (!alt) return;
    this.mirror = { key: alt.key, to: alt.addr, until: now + MIRROR_MAX_MS };
    this.out.push({ type: 'mirror', to: alt.addr, until: this.mirror.until, reason });
  }

  private stopMirror(reason: MirrorEndReason): void {
    const m = this.mirror;
    if (!m) return;
    this.mirror = undefined;
    this.out.push({ type: 'mirrorEnd', to: m.to, reason });
  }

  private drain(): SelectOutput[] {
    const o = this.out;
    this.out = [];
    return o;
  }
}
