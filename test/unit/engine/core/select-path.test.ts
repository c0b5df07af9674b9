import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPath, type PathAddr, pathKey } from '../../../../src/engine/core/addr.js';
import {
  CandidateTable,
  interleaveFamilies,
  LEARNED_RANK,
  RttEstimator,
} from '../../../../src/engine/core/select-path.js';

const v4 = (a: number, b = 1, port = 51820): PathAddr => ({
  family: 4,
  address: Uint8Array.of(10, 0, a, b),
  port,
  scopeId: 0,
});
const v6 = (a: number, port = 51820): PathAddr => {
  const address = new Uint8Array(16);
  address[0] = 0xfd;
  address[15] = a;
  return { family: 6, address, port, scopeId: 0 };
};

test('addresses compare by family, bytes and port', () => {
  assert.equal(
    pathKey(v4(1)),
    pathKey({ family: 4, address: Uint8Array.of(10, 0, 1, 1), port: 51820, scopeId: 0 }),
  );
  assert.notEqual(pathKey(v4(1)), pathKey(v4(1, 1, 51821)));
  assert.equal(pathKey(v4(1)), '4/0a000101/51820');
  assert.equal(formatPath(v4(1)), '10.0.1.1:51820');
  assert.equal(formatPath(v6(2)), '[fd00::2]:51820');
});

test('RFC 6298 section 2: the first sample sets SRTT = R, RTTVAR = R/2; later ones use 1/8 and 1/4', () => {
  const e = new RttEstimator();
  e.sample(100);
  assert.equal(e.srtt, 100);
  assert.equal(e.rttvar, 50);
  e.sample(60);
  // RTTVAR = 3/4 · 50 + 1/4 · |100 − 60| = 47.5; SRTT = 7/8 · 100 + 1/8 · 60 = 95
  assert.equal(e.rttvar, 47.5);
  assert.equal(e.srtt, 95);
});

test('RFC 8305 section 4: families alternate after the first address (First Address Family Count 1)', () => {
  const items = [v6(1), v6(2), v6(3), v4(1), v4(2)].map((addr) => ({ addr }));
  const out = interleaveFamilies(items).map((i) => formatPath(i.addr));
  assert.deepEqual(out, [v6(1), v4(1), v6(2), v4(2), v6(3)].map(formatPath));
  assert.deepEqual(interleaveFamilies([]), []);
});

test('candidates keep config order, deduplicate to the lowest rank, and interleave within a rank', () => {
  const t = new CandidateTable();
  t.configure([[v4(1)], [v6(7), v6(8), v4(2), v4(1)], [v4(3)]]);
  const order = t.ordered();
  assert.deepEqual(
    order.map((c) => [formatPath(c.addr), c.rank]),
    [
      ['10.0.1.1:51820', 0],
      ['[fd00::7]:51820', 1],
      ['10.0.2.1:51820', 1],
      ['[fd00::8]:51820', 1],
      ['10.0.3.1:51820', 2],
    ],
  );
  assert.equal(order[1]!.source, 'resolved');
  assert.equal(order[0]!.source, 'config');
});

test('within a rank, paths with lower smoothed RTT go first', () => {
  const t = new CandidateTable();
  t.configure([[v4(1), v4(2), v4(3)]]);
  t.get(pathKey(v4(3)))!.rtt.sample(10);
  t.get(pathKey(v4(2)))!.rtt.sample(30);
  assert.deepEqual(
    t.ordered().map((c) => c.addr.address[2]),
    [3, 2, 1],
  );
});

test('bounds: 16 lines, 8 addresses per name (4 per family), 32 stored', () => {
  const t = new CandidateTable();
  assert.throws(
    () => t.configure(Array.from({ length: 17 }, (_, i) => [v4(i)])),
    /at most 16 Endpoint lines, not 17/,
  );
  assert.throws(
    () => t.configure([[{ family: 4, address: new Uint8Array(16), port: 1, scopeId: 0 }]]),
    /line 1, address 1/,
  );
  assert.throws(() => t.configure([[v4(1, 1, 0)]]), /port 0 is not in 1..65535/);
  t.configure([
    [...Array.from({ length: 6 }, (_, i) => v4(1, i + 1)), ...Array.from({ length: 6 }, (_, i) => v6(i))],
  ]);
  assert.equal(t.size, 8);
  assert.equal(t.dropped, 4);
  t.configure(Array.from({ length: 16 }, (_, line) => Array.from({ length: 4 }, (_, i) => v4(line, i + 1))));
  assert.equal(t.size, 32);
  assert.equal(t.dropped, 32);
});

test('learned candidates: an LRU of 4, forgotten after 120 s of silence, never the active one', () => {
  const t = new CandidateTable();
  t.configure([[v4(1)]]);
  for (let i = 0; i < 6; i++) t.learn(v4(100 + i), i * 1000);
  const learned = t.all().filter((c) => c.source === 'learned');
  assert.equal(learned.length, 4);
  assert.deepEqual(learned.map((c) => c.addr.address[2]).sort(), [102, 103, 104, 105]);
  assert.equal(learned[0]!.rank, LEARNED_RANK);
  t.learn(v4(102), 60_000);
  assert.equal(t.nextExpiry(undefined), 3_000 + 120_000);
  t.expireLearned(124_999, pathKey(v4(103)));
  assert.deepEqual(
    t
      .all()
      .filter((c) => c.source === 'learned')
      .map((c) => c.addr.address[2])
      .sort(),
    [102, 103, 105],
  );
  assert.equal(t.learn(v4(1), 1).source, 'config', 'a configured address is not learned twice');
});

test('RFC 8305 section 6: a new DNS answer drops untried addresses, keeps in-flight ones until swept', () => {
  const t = new CandidateTable();
  t.configure([[v4(1)], [v4(2, 1), v4(2, 2), v4(2, 3)]]);
  const inFlight = new Set([pathKey(v4(2, 1))]);
  const added = t.updateLine(1, [v4(2, 3), v4(2, 9)], (k) => inFlight.has(k));
  assert.deepEqual(added, [pathKey(v4(2, 9))]);
  assert.equal(t.get(pathKey(v4(2, 2))), undefined, 'untried and gone: dropped');
  assert.equal(t.get(pathKey(v4(2, 1)))!.removed, true, 'in flight: kept for now');
  assert.ok(!t.ordered().some((c) => c.key === pathKey(v4(2, 1))), 'but never attempted again');
  t.sweepRemoved();
  assert.equal(t.get(pathKey(v4(2, 1))), undefined);
  assert.throws(() => t.updateLine(16, [], () => false), /line 17 does not exist/);
});

test('reconfiguring keeps the history of addresses that stay', () => {
  const t = new CandidateTable();
  t.configure([[v4(1)], [v4(2)]]);
  t.get(pathKey(v4(2)))!.rtt.sample(42);
  t.configure([[v4(2)], [v4(3)]]);
  const c = t.get(pathKey(v4(2)))!;
  assert.equal(c.rtt.srtt, 42);
  assert.equal(c.rank, 0);
  assert.equal(t.get(pathKey(v4(1))), undefined);
});

test('the minimum RTT: the least of the last 3 samples, none more than 300 s older than the newest', () => {
  const e = new RttEstimator();
  assert.equal(e.min, undefined);
  e.sample(120, 0); // a cold first handshake
  assert.equal(e.min, 120);
  e.sample(15, 1_000);
  assert.equal(e.min, 15, 'one low sample is enough');
  assert.ok(e.srtt! > 100, 'SRTT still carries the inflated one');
  e.sample(30, 2_000);
  e.sample(31, 3_000);
  assert.equal(e.min, 15, 'the third-last sample');
  e.sample(40, 4_000);
  assert.equal(e.min, 30, '15 is now the fourth-last sample');
  assert.equal(e.samples, 3);
  e.sample(50, 303_500);
  assert.equal(e.min, 40, 'the 3 s sample is more than 300 s older than the newest');
  assert.equal(e.samples, 2);
  e.sample(60, 700_000);
  assert.equal(e.min, 60, 'a lone newest sample counts, however old the others');
  assert.equal(e.samples, 1);
  e.reset();
  assert.equal(e.min, undefined);
  assert.equal(e.samples, 0);
});

test('learn: the same path from another object, and again after its candidate left the table', () => {
  const t = new CandidateTable();
  t.configure([[v4(1)]]);
  const first = t.learn(v4(100), 1);
  assert.equal(t.learn(v4(100), 2), first, 'the same candidate for an equal address');
  assert.equal(first.lastSeen, 2);
  t.expireLearned(2 + 120_000, undefined);
  assert.equal(t.get(first.key), undefined);
  const again = t.learn(v4(100), 200_000);
  assert.notEqual(again, first, 'learned afresh once forgotten');
  assert.equal(t.get(again.key), again);
  // A configured address whose candidate a new configuration replaced.
  const c1 = t.learn(v4(1), 200_001);
  t.configure([[v4(1)], [v4(2)]]);
  const c2 = t.learn(v4(1), 200_002);
  assert.notEqual(c2, c1, 'the replaced candidate is not returned');
  assert.equal(c2.source, 'config');
  assert.equal(t.get(c2.key), c2);
  assert.equal(t.learn(v4(2), 200_003).source, 'config');
});
