// The engine's collection after large configuration changes (src/engine/heap.ts QuietCollector):
// it waits for the UAPI to be quiet, collects only when the heap grew past its threshold since
// the last collection, and the collection it gets from V8 is a real one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { QuietCollector } from '../../../src/engine/heap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** Objects that stay reachable until `release`: heap growth no collection can take back. */
function hold(bytes: number): { release(): void } {
  let kept: number[][] | undefined = [];
  for (let n = 0; n < bytes; n += 8 * 1024) kept.push(new Array(1024).fill(n + 0.5));
  return {
    release() {
      kept = undefined;
    },
  };
}

test('collects once, after the changes stop, when the heap grew past the threshold', async () => {
  let runs = 0;
  const c = new QuietCollector(() => runs++, 1 * MiB, 60);
  const held = hold(4 * MiB);
  try {
    // Changes 20 ms apart: the quiet time restarts with each one.
    for (let i = 0; i < 5; i++) {
      c.changed();
      await sleep(20);
    }
    assert.equal(runs, 0, 'not while changes keep coming');
    await sleep(150);
    assert.equal(runs, 1);
    assert.equal(c.collections, 1);
    // The baseline is now what the collection kept: a change without growth collects nothing.
    c.changed();
    await sleep(150);
    assert.equal(runs, 1);
  } finally {
    c.stop();
    held.release();
  }
});

test('a change that grew the heap less than the threshold collects nothing', async () => {
  let runs = 0;
  const c = new QuietCollector(() => runs++, 512 * MiB, 20);
  c.changed();
  await sleep(100);
  assert.equal(runs, 0);
  c.stop();
});

test('stop cancels a pending collection', async () => {
  let runs = 0;
  const held = hold(2 * MiB);
  const c = new QuietCollector(() => runs++, 0, 30);
  c.changed();
  c.stop();
  await sleep(100);
  assert.equal(runs, 0);
  held.release();
});

test('the default collection is V8’s: garbage is gone after it, and no gc global is left behind', async () => {
  const c = new QuietCollector(undefined, 1 * MiB, 10);
  // Unreachable at once, but in the old generation's way: arrays big enough to skip the young one.
  let garbage: number[][] | undefined = [];
  for (let i = 0; i < 64; i++) garbage.push(new Array(64 * 1024).fill(i + 0.5));
  const before = getHeapStatistics().used_heap_size;
  garbage = undefined;
  c.changed();
  await sleep(100);
  assert.equal(c.collections, 1);
  const after = getHeapStatistics().used_heap_size;
  assert.ok(before - after > 16 * MiB, `heap used ${before} -> ${after}`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  c.stop();
});
