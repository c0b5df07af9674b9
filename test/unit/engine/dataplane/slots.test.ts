// The data plane's id pools (dataplane/slots.ts): an id given back is handed out again only
// once every worker thread has applied what was posted to it before, oldest first; fresh ids
// up to the maximum while none is free; and the pool finds a free id among many waiting ones
// by their order (each later id waits for at least as much as the one before it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotPool } from '../../../../src/engine/dataplane/slots.js';

/** Threads 0 (the main thread, never waited for) to `threads - 1`, with their counters. */
function counters(threads: number) {
  const sent = new Array<number>(threads).fill(0);
  const applied = new Array<number>(threads).fill(0);
  return {
    sent,
    applied,
    post: (t: number) => sent[t]!++,
    applyAll: () => {
      for (let t = 0; t < threads; t++) applied[t] = sent[t]!;
    },
    pool: (max: number) =>
      new SlotPool(
        max,
        threads,
        (t) => sent[t]!,
        (t) => applied[t]!,
      ),
  };
}

test('fresh ids up to the maximum, then none until one is given back and seen', () => {
  const c = counters(3);
  const p = c.pool(3);
  assert.deepEqual([p.take(), p.take(), p.take(), p.take()], [0, 1, 2, undefined]);
  c.post(1);
  c.post(2);
  p.give(1, p.marksNow());
  assert.equal(p.take(), undefined, 'neither worker applied its message yet');
  c.applied[1] = 1;
  assert.equal(p.take(), undefined, 'thread 2 has not applied its message yet');
  c.applied[2] = 1;
  assert.equal(p.take(), 1);
  assert.equal(p.take(), undefined);
});

test("the main thread's own count is never waited for", () => {
  const c = counters(2);
  const p = c.pool(1);
  assert.equal(p.take(), 0);
  c.post(0);
  p.give(0, p.marksNow());
  assert.equal(p.take(), 0);
});

test('ids given back come out oldest first, each once its marks are applied', () => {
  const c = counters(3);
  const p = c.pool(10);
  const ids = Array.from({ length: 10 }, () => p.take()!);
  for (const id of ids) {
    c.post(1 + (id % 2));
    p.give(id, p.marksNow());
  }
  // Thread 1 has applied everything, thread 2 the messages of ids 1 and 3 only: 0 to 4 are
  // free, 5 (posted to thread 2) and the ones after it are not.
  c.applied[1] = c.sent[1]!;
  c.applied[2] = 2;
  assert.deepEqual(
    Array.from({ length: 6 }, () => p.take()),
    [0, 1, 2, 3, 4, undefined],
  );
  c.applyAll();
  assert.deepEqual(
    Array.from({ length: 6 }, () => p.take()),
    [5, 6, 7, 8, 9, undefined],
  );
});

test('many waiting ids: each take is answered from the oldest, in order, across compactions', () => {
  const c = counters(2);
  const n = 5000;
  let checks = 0;
  // Counts the calls of `applied`: a take must not look past the oldest waiting id.
  const counted = new SlotPool(
    n,
    2,
    (t) => c.sent[t]!,
    (t) => {
      checks++;
      return c.applied[t]!;
    },
  );
  for (let i = 0; i < n; i++) counted.take();
  for (let i = 0; i < n; i++) {
    c.post(1);
    counted.give(i, counted.marksNow());
  }
  checks = 0;
  for (let i = 0; i < 100; i++) assert.equal(counted.take(), undefined);
  assert.equal(checks, 100, 'one look at the oldest waiting id per take');
  c.applyAll();
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(counted.take()!);
  assert.deepEqual(
    out,
    Array.from({ length: n }, (_, i) => i),
  );
  assert.equal(counted.take(), undefined);
  // Given back again after the compactions: still in order.
  c.post(1);
  counted.give(7, counted.marksNow());
  counted.give(3, counted.marksNow());
  assert.equal(counted.take(), undefined);
  c.applyAll();
  assert.deepEqual([counted.take(), counted.take(), counted.take()], [7, 3, undefined]);
});
