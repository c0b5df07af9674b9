// `wgm setconf` beside `wg setconf` on the same wireguard-go device, in a private network
// namespace: 130,000 allowed IPs on one peer, 40 peers × 52 allowed IPs, and a two-peer file.
// Medians over alternating runs, process start-up included (that is what a user waits for).
// Printed, never asserted. Needs root, wireguard-go, wg and ip; without them it prints nothing.

import { spawnSync } from 'node:child_process';
import { bigConfig, manyAllowedIPs, manyPeersConfig } from '../interop/setverbs-twins.js';
import { Lab } from '../lib/netns.js';
import { isRoot, WGM, which } from '../lib/run.js';
import { median, type Row } from './report.js';

function timeOnce(ns: string, cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 120_000,
  });
  const t1 = process.hrtime.bigint();
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.toString()}`);
  return Number(t1 - t0) / 1e6;
}

const SMALL =
  '[Interface]\nPrivateKey = cMlovxlOiyfJqLWtbmrh5LUEh+fuerBmgi2VX6tzMHE=\nListenPort = 51820\n\n' +
  '[Peer]\nPublicKey = Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=\nEndpoint = 192.0.2.1:51820\nAllowedIPs = 10.0.0.2/32\n\n' +
  '[Peer]\nPublicKey = hiw3p78SJr2xQE/HLutafQQlVvyRmJWfuoDlXvyCeCc=\nAllowedIPs = 10.0.0.3/32, fd00::3/128\n';

export async function benchSetconf(rounds = 7): Promise<Row[]> {
  if (!isRoot || !which('wireguard-go') || !which('wg') || !which('ip')) return [];
  const lab = new Lab('svbench');
  try {
    const ns = lab.netns('a');
    const dev = await lab.daemon('wireguard-go', ns);
    const cases = [
      { name: 'two peers', file: lab.file('small.conf', SMALL) },
      { name: '40 peers × 52 allowed IPs', file: lab.file('peers.conf', manyPeersConfig()) },
      { name: '130,000 allowed IPs', file: lab.file('big.conf', bigConfig(manyAllowedIPs(130_000))) },
    ];
    const rows: Row[] = [];
    for (const c of cases) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < rounds; i++) {
        ours.push(timeOnce(ns, process.execPath, [WGM, 'setconf', dev.ifname, c.file]));
        theirs.push(timeOnce(ns, 'wg', ['setconf', dev.ifname, c.file]));
      }
      const a = median(ours);
      const b = median(theirs);
      rows.push({
        what: `setconf on wireguard-go: ${c.name}`,
        ours: `${a.toFixed(1)} ms`,
        stock: `${b.toFixed(1)} ms (wg)`,
        ratio: `${(a / b).toFixed(2)}× the time`,
      });
    }
    return rows;
  } finally {
    await lab.cleanup();
  }
}
