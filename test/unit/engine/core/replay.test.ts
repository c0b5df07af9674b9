import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COUNTER_LIMIT, REPLAY_WINDOW } from '../../../../src/engine/core/constants.js';
import { ReplayFilter } from '../../../../src/engine/core/replay.js';

test('each counter is accepted once', () => {
  const f = new ReplayFilter();
  assert.equal(f.validate(0), true);
  assert.equal(f.validate(0), false);
  assert.equal(f.validate(1), true);
  assert.equal(f.validate(3), true);
  assert.equal(f.validate(2), true, 'out of order but inside the window');
  assert.equal(f.validate(2), false);
  assert.equal(f.validate(3), false);
});

test('the window is REPLAY_WINDOW (8128) counters wide', () => {
  const f = new ReplayFilter();
  const top = 20_000;
  assert.equal(f.validate(top), true);
  assert.equal(f.validate(top - REPLAY_WINDOW), true, 'the oldest counter inside');
  assert.equal(f.validate(top - REPLAY_WINDOW - 1), false, 'just outside');
  assert.equal(f.validate(top - 1), true);
  assert.equal(f.validate(top - 1), false);
});

test('a big jump clears the whole ring', () => {
  const f = new ReplayFilter();
  for (let i = 0; i < 100; i++) assert.equal(f.validate(i), true);
  const far = 1_000_000;
  assert.equal(f.validate(far), true);
  // Counters whose bits shared ring words with 0..99 must not read as seen.
  for (let i = far - 100; i < far; i++) assert.equal(f.validate(i), true, `counter ${i}`);
});

test('matches a slow reference on random sequences', () => {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const f = new ReplayFilter();
  const seen = new Set<number>();
  let last = 0;
  for (let i = 0; i < 50_000; i++) {
    const c = Math.max(0, Math.floor(last + (rnd() - 0.7) * 12_000));
    const expected = !seen.has(c) && !(c < last && last - c > REPLAY_WINDOW);
    assert.equal(f.validate(c), expected, `step ${i} counter ${c} last ${last}`);
    if (expected) {
      seen.add(c);
      if (c > last) last = c;
    }
  }
});

test('counters at the limit are refused; large counters work', () => {
  const f = new ReplayFilter();
  assert.equal(f.validate(COUNTER_LIMIT), false);
  assert.equal(f.validate(COUNTER_LIMIT - 1), true);
  assert.equal(f.validate(COUNTER_LIMIT - 2), true);
  assert.equal(f.validate(COUNTER_LIMIT - 1), false);
  assert.equal(f.validate(5, 5), false, 'a caller limit');
  assert.equal(f.validate(-1), false);
  f.reset();
  assert.equal(f.validate(0), true);
});
