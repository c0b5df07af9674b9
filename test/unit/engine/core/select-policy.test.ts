import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PathAddr, pathKey } from '../../../../src/engine/core/addr.js';
import { type Candidate, CandidateTable } from '../../../../src/engine/core/select-path.js';
import {
  clearlyFaster,
  formatSwitch,
  retryDelay,
  roundOrder,
  shouldSwitch,
  staggerOf,
  switchReasonOf,
} from '../../../../src/engine/core/select-policy.js';

const v4 = (a: number): PathAddr => ({
  family: 4,
  address: Uint8Array.of(10, 0, a, 1),
  port: 51820,
  scopeId: 0,
});

function table(n: number): { t: CandidateTable; c: (i: number) => Candidate } {
  const t = new CandidateTable();
  t.configure(Array.from({ length: n }, (_, i) => [v4(i)]));
  return { t, c: (i) => t.get(pathKey(v4(i)))! };
}

test('latency margin: at least 10 % and at least 5 ms faster', () => {
  const { c } = table(2);
  const rtt = (i: number, ms: number) => {
    c(i).rtt.reset();
    c(i).rtt.sample(ms);
  };
  rtt(0, 100);
  rtt(1, 89);
  assert.equal(clearlyFaster(c(1), c(0)), true, '11 % and 11 ms');
  rtt(1, 92);
  assert.equal(clearlyFaster(c(1), c(0)), false, '8 %');
  rtt(0, 10);
  rtt(1, 6);
  assert.equal(clearlyFaster(c(1), c(0)), false, '40 % but 4 ms');
  c(1).rtt.reset();
  assert.equal(clearlyFaster(c(1), c(0)), false, 'no history');
});

test('switch rule: latency policy lets a better-ranked path win near-ties; preference policy only ranks', () => {
  const { c } = table(3);
  c(0).rtt.sample(52);
  c(1).rtt.sample(50);
  c(2).rtt.sample(20);
  assert.equal(shouldSwitch('latency', c(0), c(1)), true, 'preferred, within the margin');
  assert.equal(shouldSwitch('latency', c(1), c(0)), false, 'worse rank, not clearly faster');
  assert.equal(shouldSwitch('latency', c(2), c(0)), true, 'clearly faster');
  assert.equal(shouldSwitch('latency', c(0), c(2)), false, 'preferred but clearly slower');
  assert.equal(shouldSwitch('preference', c(0), c(2)), true);
  assert.equal(shouldSwitch('preference', c(2), c(0)), false);
  c(0).failures = 1;
  c(0).lastFailure = 5;
  assert.equal(shouldSwitch('preference', c(2), c(0)), true, 'anything beats a failed path');
  assert.equal(switchReasonOf('probe', c(1), c(2)), 'faster');
  assert.equal(switchReasonOf('first-contact', undefined, c(2)), 'first-contact');
  assert.equal(switchReasonOf('network-change', c(1), c(2)), 'network-change');
});

test('round order per trigger', () => {
  const { t, c } = table(4);
  const all = t.ordered();
  const a = c(2).key;
  const idx = (keys: string[]) => keys.map((k) => all.findIndex((x) => x.key === k));
  assert.deepEqual(idx(roundOrder('first-contact', all, a, 'latency', undefined, false)), [0, 1, 2, 3]);
  assert.deepEqual(
    idx(roundOrder('rekey', all, a, 'preference', undefined, false)),
    [0, 1, 2],
    'worse never',
  );
  assert.deepEqual(idx(roundOrder('rekey', all, a, 'latency', undefined, false)), [2, 0, 1, 3]);
  assert.deepEqual(idx(roundOrder('upgrade', all, a, 'preference', undefined, false)), [0, 1, 2]);
  assert.deepEqual(idx(roundOrder('suspect', all, a, 'latency', undefined, false)), [2, 0, 1, 3]);
  assert.deepEqual(idx(roundOrder('retry', all, a, 'latency', c(0).key, false)), [1, 2, 3, 0], 'held back');
  c(1).forwardOnlySuspect = true;
  assert.deepEqual(
    idx(roundOrder('retry', all, a, 'latency', undefined, true)),
    [0, 2, 3, 1],
    'suspects last',
  );
});

test('retry delays: 1 s, 2 s, 4 s, then 5 s + jitter; serial rounds 1 s apart within a pass', () => {
  const r = () => 0.999;
  assert.equal(retryDelay(1, 0, 3, r), 1000);
  assert.equal(retryDelay(2, 0, 3, r), 2000);
  // serial: failedRounds 3.. ; serialIdx counts serial rounds started
  assert.equal(retryDelay(3, 1, 3, r), 1000);
  assert.equal(retryDelay(4, 2, 3, r), 1000);
  assert.equal(retryDelay(5, 3, 3, r), 4000, 'first pass done: the next backoff step');
  assert.equal(retryDelay(8, 6, 3, r), 5000 + 333, 'then REKEY_TIMEOUT + jitter (< 334 ms)');
  assert.equal(
    retryDelay(9, 7, 1, () => 0),
    5000,
    'one candidate: each serial round ends a pass',
  );
});

test('stagger and the log line of a switch', () => {
  const { c } = table(1);
  assert.equal(staggerOf(undefined), 250);
  assert.equal(staggerOf(c(0)), 250);
  c(0).rtt.sample(10);
  assert.equal(staggerOf(c(0)), 100);
  c(0).rtt.reset();
  c(0).rtt.sample(1000);
  assert.equal(staggerOf(c(0)), 2000);
  assert.equal(
    formatSwitch({ type: 'switch', from: v4(1), to: v4(2), reason: 'failover' }),
    '10.0.1.1:51820 -> 10.0.2.1:51820 (failover)',
  );
  assert.equal(
    formatSwitch({ type: 'switch', from: undefined, to: v4(2), reason: 'first-contact' }),
    '(none) -> 10.0.2.1:51820 (first-contact)',
  );
});
