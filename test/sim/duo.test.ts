// Two wgm sides (duo.ts), both with an `Endpoint` line per path, both sending from the same
// moment so that both initiate at once, with the same constants: the index invariant (no
// transport message ever arrives for a receiver index its receiver no longer holds) and no loss
// once connected, over the probes after connecting, the upgrade sweep and the rekeys.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testSeed } from '../lib/rng.js';
import { Duo } from './duo.js';
import { link } from './net.js';

const RUNS = Number.parseInt(process.env['WGM_DUO_RUNS'] ?? '40', 10);
const alive = (oneWay: number, jitter = 0) => ({
  fwd: link(oneWay, { jitter }),
  rev: link(oneWay, { jitter }),
});
const dead = () => ({ fwd: link(5, { blackhole: true }), rev: link(5, { blackhole: true }) });

test(`two wgm sides initiating at once (${RUNS} seeds, 150 s each): no unknown-index drops, no loss once connected`, (t) => {
  const base = testSeed();
  let handshakes = 0;
  for (let i = 0; i < RUNS; i++) {
    const seed = (base + i * 0x9e3779b1) >>> 0;
    const jitter = i % 2;
    const d = new Duo(seed, [dead(), alive(5 + (i % 4), jitter), alive(10, jitter), alive(20, jitter)]);
    d.traffic(0, 150_000);
    d.run(151_000);
    const msg = d.describe();
    assert.deepEqual([d.a.unknown.length, d.b.unknown.length], [0, 0], msg);
    // Path changes after connecting (probes, upgrades, rekeys) lose nothing: every path lives.
    assert.equal(d.lost(d.a, 3_000, 150_000), 0, `A→B lost; ${msg}`);
    assert.equal(d.lost(d.b, 3_000, 150_000), 0, `B→A lost; ${msg}`);
    handshakes += d.a.handshakesSent + d.b.handshakesSent;
  }
  t.diagnostic(`base seed ${base}: ${RUNS} runs, ${handshakes} handshake messages, 0 unknown-index drops`);
});

test('two wgm sides initiating at once, then the path in use dies: back on another, no unknown-index drops', (t) => {
  const base = testSeed();
  for (let i = 0; i < RUNS / 4; i++) {
    const seed = (base + i * 0x9e3779b1) >>> 0;
    const d = new Duo(seed, [alive(5), alive(10), alive(20)]);
    d.traffic(0, 60_000);
    d.run(20_000);
    // Kill whichever path A sends on, both ways.
    const used = [0, 1, 2].find((k) => d.a.activePath() === k)!;
    d.net.paths[used]!.fwd.blackhole = true;
    d.net.paths[used]!.rev.blackhole = true;
    d.run(61_000);
    const msg = `path ${used} died at 20 s; ${d.describe()}`;
    assert.deepEqual([d.a.unknown.length, d.b.unknown.length], [0, 0], msg);
    assert.equal(d.lost(d.a, 25_000, 60_000), 0, `A→B lost after the failover; ${msg}`);
    assert.equal(d.lost(d.b, 25_000, 60_000), 0, `B→A lost after the failover; ${msg}`);
  }
  t.diagnostic(`base seed ${base}`);
});
