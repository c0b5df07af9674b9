// One fuzz case from a seed: a random topology, impairments and events (used by fuzz.test.ts;
// replay a seed from a script by importing `build`).

import { Rng } from '../lib/rng.js';
import { link } from './net.js';
import { World } from './world.js';

export const DURATION_MS = 120_000;

export interface Case {
  world: World;
  /** A path that stays perfect in both directions for the whole run, if any. */
  perfect: number | undefined;
  /** No loss and no blackhole at any time (jitter, duplication, rebinding and races only). */
  clean: boolean;
}

export function build(seed: number): Case {
  const r = new Rng(seed);
  const n = 1 + r.int(5);
  let clean = true;
  const paths = Array.from({ length: n }, () => {
    const delay = 1 + r.int(150);
    const jitter = r.chance(0.5) ? r.int(30) : 0;
    const loss = r.chance(0.3) ? r.float() * 0.1 : 0;
    const dup = r.chance(0.2) ? r.float() * 0.05 : 0;
    const fwd = link(delay, { jitter, loss, dup, blackhole: r.chance(0.15) });
    const rev = link(delay + r.int(20), { jitter, loss, dup, blackhole: r.chance(0.15) });
    if (loss || fwd.blackhole || rev.blackhole) clean = false;
    return { fwd, rev };
  });
  const families = paths.map(() => (r.chance(0.3) ? 6 : 4) as 4 | 6);
  const lines: number[][] = [];
  for (let i = 0; i < n; i++)
    if (i > 0 && r.chance(0.3)) lines[lines.length - 1]!.push(i);
    else lines.push([i]);
  const w = new World(seed, paths, {
    policy: r.chance(0.5) ? 'latency' : 'preference',
    roaming: r.chance(0.8),
    app: r.chance(0.7) ? 'echo' : 'sink',
    lines,
    families,
  });
  const touched = new Set<number>();
  const events = r.int(12);
  for (let i = 0; i < events; i++) {
    const at = r.int(DURATION_MS - 30_000);
    const p = r.int(n);
    const kind = r.int(6);
    if (kind <= 1) {
      touched.add(p);
      clean = false;
    }
    w.q.at(at, () => {
      const path = w.net.paths[p]!;
      if (kind === 0) path.fwd.blackhole = !path.fwd.blackhole;
      else if (kind === 1) path.rev.blackhole = !path.rev.blackhole;
      else if (kind === 2) w.net.rebind(p);
      else if (kind === 3) w.wgm.networkChange();
      else if (kind === 4) w.wgm.wallOffsetNs -= BigInt(r.int(20_000)) * 1_000_000n;
      else w.peer.initiate();
    });
  }
  const every = 20 + r.int(480);
  w.traffic(r.int(2_000), DURATION_MS, every);
  const perfect = paths.findIndex(
    (p, i) => !touched.has(i) && !p.fwd.blackhole && !p.rev.blackhole && p.fwd.loss === 0 && p.rev.loss === 0,
  );
  return { world: w, perfect: perfect >= 0 ? perfect : undefined, clean };
}
