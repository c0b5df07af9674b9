// The selection state machine rule by rule, with the numbers of docs/endpoint-selection.md.
// A small driver advances virtual time from deadline to deadline and records every output.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareTai64n, tai64nToUnixNs } from '../../../../src/crypto/tai64n.js';
import { type PathAddr, pathKey } from '../../../../src/engine/core/addr.js';
import { PeerSelector, type SelectOptions, type SelectOutput } from '../../../../src/engine/core/select.js';

const v4 = (a: number, port = 51820): PathAddr => ({
  family: 4,
  address: Uint8Array.of(10, 0, a, 1),
  port,
  scopeId: 0,
});
const K = (a: number) => pathKey(v4(a));

interface Logged {
  at: number;
  o: SelectOutput;
}

class Driver {
  now = 0;
  wall = 1_750_000_000_000_000_000n;
  log: Logged[] = [];
  sel: PeerSelector;
  constructor(lines: number[], opts: Partial<SelectOptions> = {}) {
    this.sel = new PeerSelector({
      // No jitter unless a test asks for it: the schedules below are exact.
      random: () => 0,
      wallNs: () => this.wall + BigInt(this.now) * 1_000_000n,
      ...opts,
    });
    this.sel.configure(lines.map((a) => [v4(a)]));
  }
  rec(outs: SelectOutput[]): SelectOutput[] {
    for (const o of outs) this.log.push({ at: this.now, o });
    return outs;
  }
  /** Ticks every deadline up to `t`, then sets the time to `t`. */
  until(t: number): void {
    for (;;) {
      const n = this.sel.next();
      if (n === undefined || n > t) break;
      this.now = Math.max(this.now, n);
      this.rec(this.sel.tick(this.now));
    }
    this.now = t;
  }
  inits(from = 0): { at: number; round: number; to: number; ts: Uint8Array }[] {
    return this.log
      .filter((l) => l.at >= from && l.o.type === 'initiate')
      .map((l) => {
        const o = l.o as Extract<SelectOutput, { type: 'initiate' }>;
        return { at: l.at, round: o.round, to: o.to.address[2]!, ts: o.timestamp };
      });
  }
  of<T extends SelectOutput['type']>(type: T): (Extract<SelectOutput, { type: T }> & { at: number })[] {
    return this.log
      .filter((l) => l.o.type === type)
      .map((l) => ({ ...(l.o as Extract<SelectOutput, { type: T }>), at: l.at }));
  }
  respond(path: number, delay = 0): ReturnType<PeerSelector['onResponse']> {
    this.until(this.now + delay);
    const i = this.inits()
      .filter((x) => x.to === path)
      .at(-1)!;
    const v = this.sel.onResponse(i.round, K(path), v4(path), this.now);
    this.rec(v.outputs);
    return v;
  }
  /** Connects on `path` at `rtt` ms after its initiation. */
  connect(path: number, rtt = 20): void {
    this.rec(this.sel.start(this.now));
    const at = () => this.inits().find((x) => x.to === path)?.at;
    while (at() === undefined) this.until(this.sel.next()!);
    this.until(at()! + rtt);
    const v = this.respond(path);
    assert.equal(v.use, true);
  }
}

test('first contact: one round, 250 ms stagger without history, one shared timestamp', () => {
  const d = new Driver([1, 2, 3]);
  d.rec(d.sel.start(0));
  d.until(600);
  const i = d.inits();
  assert.deepEqual(
    i.map((x) => [x.at, x.to, x.round]),
    [
      [0, 1, 1],
      [250, 2, 1],
      [500, 3, 1],
    ],
  );
  assert.equal(compareTai64n(i[0]!.ts, i[1]!.ts), 0);
  assert.equal(compareTai64n(i[0]!.ts, i[2]!.ts), 0);
  const v = d.respond(2, 10);
  assert.equal(v.use, true);
  assert.deepEqual(v.to, v4(2));
  const sw = d.of('switch');
  assert.equal(sw.length, 1);
  assert.equal(sw[0]!.reason, 'first-contact');
  assert.equal(d.of('dropRound')[0]!.round, 1, 'the other states of the round are freed');
  // A second response of that round (a non-standard responder) is ignored.
  assert.equal(d.sel.onResponse(1, K(3), v4(3), d.now).use, false);
  assert.equal(d.sel.snapshot().candidates.find((c) => c.addr.address[2] === 2)!.srtt, 360);
});

test('timestamps: max(whiten(now), previous + 2^24 ns), strictly increasing even when the clock steps back', () => {
  const d = new Driver([1, 2]);
  d.rec(d.sel.start(0));
  d.until(10);
  d.wall -= 10_000_000_000n; // the wall clock steps back 10 s
  d.rec(d.sel.onNetworkChange(d.now));
  d.rec(d.sel.onNetworkChange(d.now));
  const ts = [...new Set(d.inits().map((x) => x.round))].map((r) => d.inits().find((x) => x.round === r)!.ts);
  assert.equal(ts.length, 3);
  for (let i = 1; i < ts.length; i++) {
    assert.equal(compareTai64n(ts[i]!, ts[i - 1]!), 1);
    assert.equal(tai64nToUnixNs(ts[i]!) - tai64nToUnixNs(ts[i - 1]!), 0x1000000n);
  }
  // A new selector seeded with the last timestamp (a restart) continues above it.
  const again = new PeerSelector({ random: () => 0, wallNs: () => 0n, lastTimestamp: ts[2] });
  again.configure([[v4(1)]]);
  const o = again.start(0).find((x) => x.type === 'initiate')!;
  assert.equal(compareTai64n(o.timestamp, ts[2]!), 1);
});

test('stagger with history: clamp(SRTT + 4·RTTVAR, 100 ms, 2 s)', () => {
  const e = new Driver([1, 2, 3]);
  e.sel.table.get(K(1))!.rtt.sample(10); // 10 + 4·5 = 30 → 100
  e.sel.table.get(K(2))!.rtt.sample(600); // 600 + 4·300 = 1800
  e.sel.table.get(K(3))!.rtt.sample(1500);
  e.rec(e.sel.start(0));
  e.until(5000);
  assert.deepEqual(
    e.inits().map((x) => [x.at, x.to]),
    [
      [0, 1],
      [100, 2],
      [1900, 3],
    ],
  );
});

test('a failed round: timeout max(1 s, 3·SRTT) after the last send, retries 1/2/4 then 5 s + jitter, serial after 2', () => {
  const d = new Driver([1, 2, 3]);
  d.rec(d.sel.start(0));
  d.until(20_000);
  const rounds = new Map<number, { at: number; to: number }[]>();
  for (const i of d.inits()) rounds.set(i.round, [...(rounds.get(i.round) ?? []), { at: i.at, to: i.to }]);
  const r = [...rounds.values()];
  // Round 1 at 0/250/500, fails at 1500, retry 1 s later (2500), rotated: path 1 held back.
  assert.deepEqual(r[0], [
    { at: 0, to: 1 },
    { at: 250, to: 2 },
    { at: 500, to: 3 },
  ]);
  assert.deepEqual(
    r[1]!.map((x) => x.to),
    [2, 3, 1],
  );
  assert.equal(r[1]![0]!.at, 2500);
  // Round 2 ends at 3000 + 1000; then serial rounds of one candidate each, 2 s later.
  assert.equal(r[2]!.length, 1);
  assert.equal(r[2]![0]!.at, 6000);
  // forward-only suspects (first of a failed round: 1, then 2) go last in the serial pass
  assert.deepEqual(
    r.slice(2, 5).map((x) => x[0]!.to),
    [3, 1, 2],
  );
  assert.equal(r[3]![0]!.at, 6000 + 1000 + 1000, 'serial rounds of one pass are 1 s apart');
  // After the pass, the next step of the backoff (4 s).
  assert.equal(r[5]![0]!.at, r[4]![0]!.at + 1000 + 4000);
  const snap = d.sel.snapshot();
  assert.ok(snap.candidates.every((c) => c.state === 'failed'));
  assert.ok(snap.candidates.find((c) => c.addr.address[2] === 1)!.forwardOnlySuspect);
});

test('gives up after REKEY_ATTEMPT_TIME (90 s) and starts over on new data', () => {
  const d = new Driver([1, 2], { random: () => 0.5 });
  d.rec(d.sel.start(0));
  d.until(200_000);
  const g = d.of('giveUp');
  assert.equal(g.length, 1);
  assert.ok(g[0]!.at >= 90_000 && g[0]!.at < 100_000, `gave up at ${g[0]!.at}`);
  const last = d.inits().at(-1)!;
  assert.ok(last.at < 100_000);
  // later retries use REKEY_TIMEOUT + jitter (0.5 · 334 → 167 ms)
  const starts = [...new Set(d.inits().map((x) => x.round))].map(
    (r) => d.inits().find((x) => x.round === r)!.at,
  );
  assert.ok(starts.some((s, i) => i > 0 && s - starts[i - 1]! - 1000 === 5167));
  d.rec(d.sel.onDataSent(200_000));
  assert.equal(d.inits(200_000).length, 1);
});

test('suspected failure: silence of max(1 s, 4·SRTT) after sent data, active first, mirroring for ≤ 2 s', () => {
  const d = new Driver([1, 2]);
  d.connect(1, 20);
  d.until(1500); // the latency probe of path 2 (1 s after connecting) ...
  d.respond(2, 30); // ... answers slower: declined
  assert.equal(d.sel.active!.address[2], 1);
  // Interactive traffic: each send answered within 20 ms.
  for (let t = 2000; t < 3000; t += 200) {
    d.until(t);
    d.rec(d.sel.onDataSent(t));
    d.until(t + 20);
    d.rec(d.sel.onReceive(v4(1), t + 20));
  }
  d.until(3000);
  d.rec(d.sel.onDataSent(3000));
  d.until(5000);
  const inits = d.inits(3000);
  assert.equal(inits[0]!.at, 4000, 'suspect after 1 s of silence');
  assert.equal(inits[0]!.to, 1, 'the active path first');
  assert.equal(inits[1]!.to, 2);
  assert.equal(inits[1]!.at, 4000 + 100, 'then the others after its RTT-derived stagger');
  const m = d.of('mirror');
  assert.equal(m.length, 1);
  assert.equal(m[0]!.to.address[2], 2);
  assert.equal(m[0]!.until, 6000);
  const v = d.respond(2, 0);
  assert.equal(v.use, true);
  assert.equal(d.of('switch').at(-1)!.reason, 'failover');
  assert.equal(d.of('mirrorEnd').length, 1);
});

/** Connected on path 1 (20 ms) with path 2 answered (30 ms, declined), then interactive traffic to 3 s. */
function interactive(lines: number[]): Driver {
  const d = new Driver(lines);
  d.connect(1, 20);
  d.until(1500);
  d.respond(2, 30);
  for (let t = 2000; t < 3000; t += 200) {
    d.until(t);
    d.rec(d.sel.onDataSent(t));
    d.until(t + 20);
    d.rec(d.sel.onReceive(v4(1), t + 20));
  }
  return d;
}

test('mirroring ends when the peer answers over the mirrored path (roaming makes it active)', () => {
  const d = interactive([1, 2]);
  d.until(3000);
  d.rec(d.sel.onDataSent(3000));
  d.until(4050); // suspect at 4000: the mirror to path 2 starts
  assert.equal(d.of('mirror').length, 1);
  assert.equal(d.of('mirror')[0]!.reason, 'suspect');
  // The peer kept the mirrored copy and replies over path 2: we roam there, the mirror stops.
  d.rec(d.sel.onReceive(v4(2), 4060));
  assert.equal(d.sel.active!.address[2], 2);
  const end = d.of('mirrorEnd');
  assert.equal(end.length, 1);
  assert.equal(end[0]!.reason, 'now-active');
  assert.equal(end[0]!.to.address[2], 2);
  assert.equal(d.sel.snapshot().mirror, undefined);
});

test('mirroring runs out after 2 s when no round answers; nothing to mirror onto without a working standby', () => {
  const d = interactive([1, 2]);
  d.until(3000);
  d.rec(d.sel.onDataSent(3000));
  d.until(6500);
  const end = d.of('mirrorEnd');
  assert.equal(end.length, 1);
  assert.equal(end[0]!.reason, 'expired');
  assert.equal(end[0]!.at, 6000);
  // Path 2 never answered: no mirror.
  const e = new Driver([1, 2]);
  e.connect(1, 20);
  e.until(1500); // path 2's probe is not answered
  for (let t = 3000; t < 4000; t += 200) {
    e.until(t);
    e.rec(e.sel.onDataSent(t));
    e.until(t + 20);
    e.rec(e.sel.onReceive(v4(1), t + 20));
  }
  e.rec(e.sel.onDataSent(4000));
  e.until(5500);
  assert.ok(e.inits(4000).length >= 1, 'suspect round');
  assert.equal(e.of('mirror').length, 0);
});

test('a refused data send: the path fails at once, a round tries the others first, data is mirrored', () => {
  const d = interactive([1, 2, 3]);
  d.until(3000);
  d.rec(d.sel.onDataRefused(K(1), 3000));
  const inits = d.inits(3000);
  assert.equal(inits[0]!.at, 3000, 'at once, not after the silence timeout');
  assert.notEqual(inits[0]!.to, 1, 'the refused path goes last');
  assert.equal(d.sel.snapshot().candidates.find((c) => c.addr.address[2] === 1)!.failures, 1);
  const m = d.of('mirror');
  assert.equal(m.length, 1);
  assert.equal(m[0]!.reason, 'send-refused');
  assert.equal(m[0]!.to.address[2], 2, 'onto the path that answered');
  // More reports while the round runs change nothing (the data plane sends one per 100 ms).
  const n = d.log.length;
  for (let t = 3100; t < 3300; t += 100) {
    d.until(t);
    d.rec(d.sel.onDataRefused(K(1), t));
  }
  assert.equal(d.inits(3000).filter((x) => x.at > 3000 && x.to === inits[0]!.to).length, 0);
  assert.ok(
    d.log.slice(n).every((l) => l.o.type === 'initiate'),
    'only the round goes on',
  );
  // A refusal on another path than the active one (a mirrored copy) is not the active path's.
  const e = interactive([1, 2]);
  e.rec(e.sel.onDataRefused(K(2), 3000));
  assert.equal(e.inits(3000).length, 0);
  // The round answers on path 2: failover, reason send-error, mirror ends.
  d.respond(2, 10);
  assert.equal(d.sel.active!.address[2], 2);
  assert.equal(d.of('switch').at(-1)!.reason, 'send-error');
  assert.equal(d.of('mirrorEnd').length, 1);
});

test('one-way traffic: a liveness round after 3 s of silence, at most one per 10 s, escalating after max(300 ms, 3·SRTT)', () => {
  const d = new Driver([1, 2], { policy: 'preference' });
  d.connect(1, 20);
  // The peer sends only passive keepalives, 10 s apart: not interactive.
  d.rec(d.sel.onDataSent(100));
  d.until(10_100);
  d.rec(d.sel.onReceive(v4(1), 10_100));
  d.rec(d.sel.onDataSent(10_200));
  d.until(13_300);
  const inits = d.inits(1000);
  assert.equal(inits[0]!.at, 3100, 'first liveness round 3 s after the first unanswered send');
  assert.equal(inits[0]!.to, 1);
  assert.equal(inits[1]!.at, 3100 + 300, 'escalates to the other paths after 300 ms');
  d.log = d.log.filter((l) => l.at < 3100);
  // (that round failed and was retried; start again with a fresh driver for the rate limit)
  const e = new Driver([1, 2], { policy: 'preference' });
  e.connect(1, 20);
  e.rec(e.sel.onDataSent(100));
  e.until(3100);
  e.respond(1, 20); // liveness answered on the active path
  e.rec(e.sel.onDataSent(3200));
  e.until(14_000);
  const starts = [...new Set(e.inits().map((x) => x.round))].map(
    (r) => e.inits().find((x) => x.round === r)!.at,
  );
  assert.deepEqual(starts, [0, 3100, 13_100], 'next liveness round only 10 s after the previous one');
});

test('rekey race, preference policy: better-ranked candidates first, the active one a stagger later, worse ones never', () => {
  const d = new Driver([1, 2, 3, 4], { policy: 'preference' });
  d.rec(d.sel.start(0));
  d.until(760);
  d.respond(3, 10); // paths 1 and 2 silent: connected on 3
  d.until(600);
  d.log = [];
  d.rec(d.sel.onRekeyDue(600));
  assert.equal(d.inits().length, 0, 'not before the new keypair had time to be confirmed (1 s)');
  d.until(2300);
  const r = d.inits();
  assert.deepEqual(
    r.map((x) => [x.at, x.to]),
    [
      [1770, 1],
      [2020, 2],
      [2270, 3],
    ],
  );
});

test('rekey race, latency policy: the active path first, the others a stagger later', () => {
  const d = new Driver([1, 2, 3]);
  d.connect(2, 20);
  d.until(10_000);
  d.log = [];
  d.rec(d.sel.onRekeyDue(10_000));
  d.until(10_100);
  assert.deepEqual(
    d.inits().map((x) => x.to),
    [2, 1],
  );
});

test('latency policy: probes each other candidate 1 s apart after connecting; switches only for ≥ 10 % and ≥ 5 ms', () => {
  const d = new Driver([1, 2, 3]);
  d.connect(1, 100);
  d.until(1100);
  let p = d.inits(1000);
  assert.equal(p.length, 1, 'single-candidate probe');
  assert.equal(p[0]!.at, 1100, '1 s after connecting');
  assert.equal(p[0]!.to, 2);
  let v = d.respond(2, 93); // 7 % faster: not enough
  assert.equal(v.use, true, 'the keypair is used...');
  assert.deepEqual(v.to, v4(1), '...over the active path, which stays');
  // roaming to the declined probe's path (the peer answered there) is ignored for a while
  d.rec(d.sel.onReceive(v4(2), d.now + 5));
  assert.equal(d.sel.active!.address[2], 1);
  d.until(d.now + 1000);
  p = d.inits(1200);
  assert.equal(p[0]!.to, 3);
  v = d.respond(3, 40);
  assert.equal(v.use, true);
  assert.equal(d.of('switch').at(-1)!.reason, 'faster');
  assert.equal(d.sel.active!.address[2], 3);
});

test('latency policy: after the first probes, a candidate with fewer than 3 samples is probed again if it connected us or is within 3x of the best', () => {
  const d = new Driver([1, 2, 3, 4]);
  d.connect(1, 120); // first contact, cold: 120 ms on what is really a 15 ms path
  d.until(1120);
  d.respond(2, 40);
  assert.equal(d.of('switch').at(-1)!.reason, 'faster');
  assert.equal(d.sel.active!.address[2], 2);
  d.until(d.now + 1000);
  d.respond(3, 60); // within 3x of 40: probed again
  d.until(d.now + 1000);
  d.respond(4, 200); // more than 3x of 40 and not the first-contact path: ruled out
  d.until(d.now + 1000);
  const second = d.inits(d.now - 1000).map((x) => x.to);
  assert.deepEqual(second, [3], 'lowest figure first, one per second');
  d.respond(3, 58);
  assert.equal(d.sel.active!.address[2], 2);
  d.until(d.now + 1000);
  assert.deepEqual(
    d.inits(d.now - 1000).map((x) => x.to),
    [1],
    'the first-contact path, whose sample included the cold start',
  );
  d.respond(1, 15);
  assert.equal(d.of('switch').at(-1)!.reason, 'faster');
  assert.equal(d.sel.active!.address[2], 1);
  const c1 = d.sel.snapshot().candidates.find((c) => c.addr.address[2] === 1)!;
  assert.equal(c1.minRtt, 15);
  // A third pass: path 2 (one sample, 40 ms) is within 3x of the new best (15 ms); path 3 (two
  // samples, 58 ms at best) is not; path 1 is the best.
  d.until(d.now + 1000);
  assert.deepEqual(
    d.inits(d.now - 1000).map((x) => x.to),
    [2],
  );
  d.respond(2, 39);
  assert.equal(d.sel.active!.address[2], 1);
  // Passes end at MIN_RTT_SAMPLES samples, once per connection: nothing more until the upgrade sweep.
  const before = d.inits().length;
  d.until(50_000);
  assert.equal(d.inits().length, before);
});

test('latency policy: a fast path whose first two samples were inflated gets a third probe and wins the traffic back', () => {
  // What engine-select saw on a loaded CI machine: the 5 ms path (about 12 ms RTT) connected
  // us and measured 45 and 44 ms, so the 15 ms path (32 ms) took over until the upgrade sweep.
  const d = new Driver([1, 2, 3]);
  d.connect(1, 45);
  /** Runs to the next initiation (within 5 s); the paths it goes to. */
  const next = (): number[] => {
    const k = d.inits().length;
    for (;;) {
      const n = d.sel.next();
      if (n === undefined || n > d.now + 5000) return [];
      d.until(n);
      if (d.inits().length > k)
        return d
          .inits()
          .slice(k)
          .map((x) => x.to);
    }
  };
  assert.deepEqual(next(), [2]);
  d.respond(2, 32);
  assert.equal(d.sel.active!.address[2], 2, 'clearly faster than 45 ms');
  assert.deepEqual(next(), [3]);
  d.respond(3, 52);
  assert.deepEqual(next(), [1], 'second pass: the cold-start path first');
  d.respond(1, 44);
  assert.equal(d.sel.active!.address[2], 2);
  assert.deepEqual(next(), [3]);
  d.respond(3, 53);
  assert.deepEqual(next(), [1], 'third pass: two samples are not enough to rule it out');
  d.respond(1, 12);
  assert.equal(d.of('switch').at(-1)!.reason, 'faster');
  assert.equal(d.sel.active!.address[2], 1);
  assert.deepEqual(next(), [3]);
  d.respond(3, 52);
  assert.deepEqual(next(), [], 'every candidate has three samples or is far from the best');
  const before = d.inits().length;
  d.until(50_000);
  assert.equal(d.inits().length, before, 'nothing more until the upgrade sweep');
});

test('latency policy: a preferred path within the margin of the fastest keeps the traffic', () => {
  const d = new Driver([1, 2]);
  d.rec(d.sel.start(0));
  d.until(250);
  d.respond(2, 50); // path 1 did not answer the first round in time
  d.sel.table.get(K(1))!.rtt.sample(53);
  d.until(1300);
  const v = d.respond(1, 52);
  assert.equal(v.use, true, 'preferred, and not clearly slower');
  assert.equal(d.of('switch').at(-1)!.reason, 'preferred');
});

test('preference policy: probes only better-ranked candidates; an upgrade race every 60 s while not on rank 0', () => {
  const d = new Driver([1, 2, 3], { policy: 'preference' });
  d.rec(d.sel.start(0));
  d.until(500);
  d.respond(3, 5);
  d.until(1505);
  const p = d.inits(600);
  assert.deepEqual(
    p.map((x) => x.to),
    [1],
  );
  d.until(3600); // probe of 1 fails (1 s), probe of 2 follows 1 s later
  assert.deepEqual(
    d.inits(600).map((x) => x.to),
    [1, 2],
  );
  d.until(5000); // both fail
  d.rec(d.sel.onDataSent(5000)); // traffic (upgrades are for tunnels in use)
  d.until(5010);
  d.rec(d.sel.onReceive(v4(3), 5010));
  d.until(60_505);
  d.until(61_005);
  const up = d.inits(60_000);
  assert.deepEqual(
    up.map((x) => [x.at, x.to]),
    [
      [60_505, 1],
      [60_755, 2],
      [61_005, 3],
    ],
    'better-ranked first, the active one a stagger later',
  );
  const v = d.respond(1, 10);
  assert.equal(v.use, true);
  assert.equal(d.of('switch').at(-1)!.reason, 'preferred');
});

test('network change: history flushed, a full race at once', () => {
  const d = new Driver([1, 2]);
  d.connect(2, 20);
  d.log = [];
  d.until(1500);
  d.rec(d.sel.onNetworkChange(1500));
  assert.ok(d.sel.snapshot().candidates.every((c) => c.srtt === undefined));
  d.until(1800);
  assert.deepEqual(
    d
      .inits()
      .filter((x) => x.at >= 1500)
      .map((x) => [x.at, x.to]),
    [
      [1500, 1],
      [1750, 2],
    ],
  );
  assert.ok(d.sel.snapshot().candidates.every((c) => c.srtt === undefined));
});

test('network change right after a handshake: the race waits for the settle time, then starts', () => {
  const d = new Driver([1, 2]);
  d.connect(2, 20);
  d.log = [];
  d.until(300);
  d.rec(d.sel.onNetworkChange(300));
  // History goes at once; the race waits until the new keypair's confirmation could reach
  // the peer (settle: ROUND_TIMEOUT_MIN_MS after the handshake, which completed at 270).
  assert.ok(d.sel.snapshot().candidates.every((c) => c.srtt === undefined));
  d.until(900);
  assert.deepEqual(d.inits(), []);
  d.until(1600);
  const inits = d.inits();
  assert.equal(inits.length, 2, JSON.stringify(inits));
  assert.equal(inits[0]!.at, 1270, 'the race starts when settled');
  assert.deepEqual(
    inits.map((x) => x.to),
    [1, 2],
  );
});

test('send error on the active path: full race; on another candidate: mark it failed', () => {
  const d = new Driver([1, 2]);
  d.connect(1, 20);
  d.log = [];
  d.rec(d.sel.onSendError(K(2), 500));
  assert.equal(d.inits().length, 0);
  assert.equal(d.sel.snapshot().candidates.find((c) => c.addr.address[2] === 2)!.state, 'failed');
  d.rec(d.sel.onSendError(K(1), 600));
  assert.equal(d.inits().length, 1);
});

test('roaming: follow the peer by default (learned candidate); stay put when off', () => {
  const d = new Driver([1]);
  d.connect(1, 20);
  d.rec(d.sel.onReceive(v4(9), 100));
  assert.equal(d.sel.active!.address[2], 9);
  const sw = d.of('switch').at(-1)!;
  assert.equal(sw.reason, 'roamed');
  assert.equal(d.sel.snapshot().candidates.find((c) => c.addr.address[2] === 9)!.source, 'learned');
  const e = new Driver([1], { roaming: false });
  e.connect(1, 20);
  e.rec(e.sel.onReceive(v4(9), 100));
  assert.equal(e.sel.active!.address[2], 1);
});

test('a response from another source than the candidate: the source is used and learned', () => {
  const d = new Driver([1, 2]);
  d.rec(d.sel.start(0));
  const v = d.sel.onResponse(1, K(1), v4(7), 30);
  assert.equal(v.use, true);
  assert.equal(v.to!.address[2], 7);
  assert.equal(d.sel.snapshot().candidates.find((c) => c.addr.address[2] === 1)!.srtt, 30);
});

test('a DNS answer mid-race: new addresses join the untried tail, removed untried ones are skipped', () => {
  const d = new Driver([1, 2]);
  d.rec(d.sel.start(0));
  d.rec(d.sel.updateLine(1, [v4(5), v4(6)], 100));
  d.until(1000);
  assert.deepEqual(
    d.inits().map((x) => x.to),
    [1, 5, 6],
  );
  assert.equal(
    d.sel.snapshot().candidates.some((c) => c.addr.address[2] === 2),
    false,
  );
});

test('responses to an older round are never used', () => {
  const d = new Driver([1, 2]);
  d.rec(d.sel.start(0));
  d.until(2600); // round 1 failed, round 2 started
  assert.equal(d.sel.currentRound, 2);
  assert.equal(d.sel.onResponse(1, K(1), v4(1), d.now).use, false);
});

test('snapshot: states active, standby, failed, untried', () => {
  const d = new Driver([1, 2, 3]);
  d.rec(d.sel.start(0));
  d.until(250);
  d.respond(1, 0);
  d.sel.table.get(K(2))!.lastSuccess = 10;
  d.rec(d.sel.onSendError(K(3), 300));
  const s = d.sel.snapshot();
  assert.deepEqual(
    s.candidates.map((c) => c.state),
    ['active', 'standby', 'failed'],
  );
  const f = new Driver([1, 2]);
  assert.deepEqual(
    f.sel.snapshot().candidates.map((c) => c.state),
    ['untried', 'untried'],
  );
  assert.equal(s.policy, 'latency');
});

test('no upgrade probes on an idle tunnel; a session lost while idle starts over with a full race', () => {
  const d = new Driver([1, 2], { policy: 'preference' });
  d.rec(d.sel.start(0));
  d.until(250);
  d.respond(2, 10); // on the worse-ranked path; the probe of path 1 fails
  d.until(200_000);
  const ups = d.inits(3_000);
  assert.equal(ups.length, 0, 'idle: no upgrade rounds');
  d.rec(d.sel.onDataSent(200_000));
  d.until(261_000);
  assert.ok(d.inits(200_000).length >= 1, 'traffic again: upgrade rounds again');
  // The core's keypair expired: it asks for a session again.
  d.until(300_000);
  d.log = [];
  d.rec(d.sel.start(300_000));
  assert.deepEqual(
    d.inits().map((x) => x.to),
    [1],
  );
});

test('periodic triggers are jittered from the injected randomness: probes later, upgrades sooner', () => {
  // Two sides started together with the same constants must not probe at the same moments.
  const firstProbe = (random: () => number) => {
    const d = new Driver([1, 2, 3], { random });
    d.rec(d.sel.start(0));
    d.rec(d.sel.onResponse(1, K(1), v4(1), 10).outputs);
    d.rec(d.sel.onDataSent(20));
    d.until(3_000);
    return d.inits().find((x) => x.at > 10)?.at;
  };
  assert.equal(
    firstProbe(() => 0),
    1_010,
    'PROBE_GAP_MS after connecting without jitter',
  );
  const late = firstProbe(() => 0.999)!;
  assert.ok(late > 1_200 && late < 1_260, `first probe at ${late} (1 s + up to 25 %)`);
  // The upgrade sweep comes within UPGRADE_INTERVAL_MS, up to 25 % sooner.
  const d = new Driver([1, 2], { random: () => 0.999 });
  d.rec(d.sel.start(0));
  d.rec(d.sel.onResponse(1, K(1), v4(1), 10).outputs);
  for (let t = 100; t < 60_000; t += 1_000) {
    d.until(t);
    d.rec(d.sel.onDataSent(t));
    d.rec(d.sel.onReceive(v4(1), t + 10));
  }
  d.until(60_000);
  const sweep = d.inits().filter((x) => x.at > 5_000)[0];
  assert.ok(sweep && sweep.at >= 45_000 && sweep.at < 46_000, `upgrade sweep at ${sweep?.at}`);
});
