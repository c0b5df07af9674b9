// Fuzzed endpoint selection: random topologies, impairments and events from a seed, checked
// against invariants that must hold in every run. A failure prints its seed; replay one run
// with WGM_SEED=<seed> (and WGM_FUZZ_RUNS=1).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testSeed } from '../lib/rng.js';
import { build, type Case, DURATION_MS } from './fuzz-case.js';

const RUNS = Number.parseInt(process.env['WGM_FUZZ_RUNS'] ?? '100', 10);

test(`fuzzed topologies and failures (${RUNS} seeds): invariants hold`, (t) => {
  const base = testSeed();
  const started = performance.now();
  let unknownClean = 0;
  let withPerfect = 0;
  for (let i = 0; i < RUNS; i++) {
    const seed = (base + i * 0x9e3779b1) >>> 0;
    let c: Case;
    try {
      c = build(seed);
      c.world.run(DURATION_MS + 5_000);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).stack}`);
    }
    const w = c.world;
    assert.deepEqual(w.invariants(), [], w.describe());
    if (c.clean && w.peer.stats.unknownIndex > 0) {
      unknownClean++;
      if (process.env['WGM_FUZZ_DEBUG']) console.log(seed, w.describe());
    }
    if (c.perfect !== undefined) {
      withPerfect++;
      // A path that works all along: the last 20 s of traffic must get through.
      const late = w.firstDeliveryAfter(DURATION_MS - 20_000);
      assert.ok(
        late !== undefined,
        `nothing delivered late although path ${c.perfect} works; ${w.describe()}`,
      );
    }
  }
  const ms = performance.now() - started;
  t.diagnostic(
    `${RUNS} runs of ${DURATION_MS / 1000} s in ${Math.round(ms)} ms (${Math.round((RUNS * 1000) / ms)} per second), ` +
      `base seed ${base}; ${withPerfect} with a perfect path; runs without loss or blackholes that had unknown-index drops: ${unknownClean}`,
  );
  assert.equal(unknownClean, 0, `base seed ${base}`);
});
