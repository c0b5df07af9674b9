// Start-up cost: wgm beside the stock wg for the same verbs, as medians over several runs.
// Printed, never asserted: timings belong in benchmarks, not in tests.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WGM, which } from '../lib/run.js';
import { median, type Row } from './report.js';

interface Case {
  name: string;
  wgm: string[];
  stock: [string, string[]];
  input?: string;
}

function timeOnce(cmd: string, args: string[], input?: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'ignore'],
  });
  const t1 = process.hrtime.bigint();
  if (r.error) throw r.error;
  return Number(t1 - t0) / 1e6;
}

export function benchStartup(rounds = 15): Row[] {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-bench-'));
  try {
    const key = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
    const conf = join(dir, 'wgbench0.conf');
    writeFileSync(
      conf,
      `[Interface]\nAddress = 10.0.0.1/24\nPrivateKey = ${key}\n\n[Peer]\nPublicKey = ${key}\nEndpoint = 192.0.2.1:51820\nEndpoint = 192.0.2.2:51820\nAllowedIPs = 10.0.0.2/32\n`,
      { mode: 0o600 },
    );
    const cases: Case[] = [
      { name: 'genkey', wgm: ['genkey'], stock: ['wg', ['genkey']] },
      { name: 'pubkey', wgm: ['pubkey'], stock: ['wg', ['pubkey']], input: `${key}\n` },
      { name: 'show interfaces', wgm: ['show', 'interfaces'], stock: ['wg', ['show', 'interfaces']] },
      { name: 'strip', wgm: ['strip', conf], stock: ['wg-quick', ['strip', conf]] },
    ];
    const rows: Row[] = [];
    for (const c of cases) {
      if (!which(c.stock[0])) continue;
      const ours: number[] = [];
      const theirs: number[] = [];
      // Alternate the two so that machine noise hits both alike.
      for (let i = 0; i < rounds; i++) {
        ours.push(timeOnce(process.execPath, [WGM, ...c.wgm], c.input));
        theirs.push(timeOnce(c.stock[0], c.stock[1], c.input));
      }
      const a = median(ours);
      const b = median(theirs);
      rows.push({
        what: `start-up: ${c.name}`,
        ours: `${a.toFixed(1)} ms`,
        stock: `${b.toFixed(1)} ms (${c.stock[0]})`,
        ratio: `${(a / b).toFixed(2)}× the time`,
      });
    }
    // The floor under every wgm verb: node starting and doing nothing.
    const floor: number[] = [];
    for (let i = 0; i < rounds; i++) floor.push(timeOnce(process.execPath, ['-e', '0']));
    rows.push({
      what: 'start-up: node -e 0 (floor)',
      ours: `${median(floor).toFixed(1)} ms`,
      stock: '-',
      ratio: '-',
    });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
