// The engine's collection after large configuration changes (src/engine/heap.ts QuietCollector):
// it waits for the UAPI to be quiet, collects only when the heap grew past its threshold since
// the last collection, and the collection it gets from V8 is a real one. The young generation
// policy (HandshakeNursery): grown during a handshake flood, small again once it is over.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import {
  HandshakeNursery,
  keepYoungGenerationSmall,
  QuietCollector,
  youngGenerationGrowth,
} from '../../../src/engine/heap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** Waits for `cond`, up to 5 s (a loaded machine runs timers late). */
async function until(cond: () => boolean): Promise<void> {
  for (const end = Date.now() + 5000; !cond() && Date.now() < end; ) await sleep(10);
}

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
  const c = new QuietCollector(() => runs++, 1 * MiB, 400);
  const held = hold(4 * MiB);
  try {
    // Changes 20 ms apart: the quiet time restarts with each one.
    for (let i = 0; i < 5; i++) {
      c.changed();
      await sleep(20);
    }
    assert.equal(runs, 0, 'not while changes keep coming');
    await until(() => runs > 0);
    await sleep(50);
    assert.equal(runs, 1);
    assert.equal(c.collections, 1);
    // The baseline is now what the collection kept: a change without growth collects nothing.
    c.changed();
    await sleep(600);
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
  await until(() => c.collections > 0);
  assert.equal(c.collections, 1);
  const after = getHeapStatistics().used_heap_size;
  assert.ok(before - after > 16 * MiB, `heap used ${before} -> ${after}`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  c.stop();
});

test('a handshake flood lets the young generation grow; it is kept small again once calm', () => {
  const before = youngGenerationGrowth();
  keepYoungGenerationSmall();
  let now = 0;
  const n = new HandshakeNursery(() => now);
  try {
    for (let i = 0; i < 150; i++) n.note();
    now = 1500; // a new second: the count starts again
    for (let i = 0; i < 150; i++) n.note();
    assert.equal(youngGenerationGrowth(), 1, '150 a second is no flood');
    n.note(60);
    assert.equal(youngGenerationGrowth(), 2, 'V8’s own growth during the flood');
    now += 20_000;
    n.calm();
    assert.equal(youngGenerationGrowth(), 2, 'not yet calm');
    n.note(250); // still flooding: calm moves on
    now += 20_000;
    n.calm();
    assert.equal(youngGenerationGrowth(), 2);
    now += 10_000;
    n.calm();
    assert.equal(youngGenerationGrowth(), 1, 'small again 30 s after the last busy second');
  } finally {
    n.stop();
    if (before === undefined) setFlagsFromString('--semi-space-growth-factor=2');
  }
});
