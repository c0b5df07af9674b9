// Which data-plane layout runs: the option, else WGM_DATAPLANE, else the host's CPUs; a
// combined worker has one TUN queue and one socket.

import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import {
  COMBINED_MAX_CPUS,
  hostThreads,
  threadsFromEnv,
  threadsLayout,
} from '../../../../src/engine/dataplane/dataplane.js';

test('WGM_DATAPLANE says combined or split; anything else leaves it unset', () => {
  assert.equal(threadsFromEnv({ WGM_DATAPLANE: 'combined' }), 'combined');
  assert.equal(threadsFromEnv({ WGM_DATAPLANE: ' Split ' }), 'split');
  assert.equal(threadsFromEnv({ WGM_DATAPLANE: 'both' }), undefined);
  assert.equal(threadsFromEnv({}), undefined);
});

test('the option wins, then the environment, then the host; more than one thread a way is split', () => {
  const saved = process.env.WGM_DATAPLANE;
  try {
    delete process.env.WGM_DATAPLANE;
    assert.equal(hostThreads(), availableParallelism() <= COMBINED_MAX_CPUS ? 'combined' : 'split');
    assert.equal(threadsLayout(undefined, 1, 1), hostThreads());
    process.env.WGM_DATAPLANE = hostThreads() === 'combined' ? 'split' : 'combined';
    assert.equal(threadsLayout(undefined, 1, 1), process.env.WGM_DATAPLANE);
    assert.equal(threadsLayout('combined', 1, 1), 'combined');
    assert.equal(threadsLayout('split', 1, 1), 'split');
    process.env.WGM_DATAPLANE = 'combined';
    assert.equal(threadsLayout(undefined, 2, 1), 'split', 'the environment asks, it does not insist');
    assert.throws(() => threadsLayout('combined', 1, 2), RangeError);
  } finally {
    if (saved === undefined) delete process.env.WGM_DATAPLANE;
    else process.env.WGM_DATAPLANE = saved;
  }
});
