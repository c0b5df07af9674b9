// Twin wireguard-go devices for the live set/setconf tests: one is configured by stock `wg`, the
// other by `wgm`, each in its own network namespace (so both may use the same listen port), and
// their `wg showconf` must end up identical. wireguard-go lists peers in random order, so the
// comparison sorts the [Peer] blocks; nothing else is normalised unless a case asks for it.

import type { TestContext } from 'node:test';
import { Lab } from '../lib/netns.js';
import { type RunResult, WGM } from '../lib/run.js';

export interface Twins {
  lab: Lab;
  /** Namespace and interface configured by stock wg. */
  wg: { ns: string; ifname: string };
  /** Namespace and interface configured by wgm. */
  ours: { ns: string; ifname: string };
}

export async function startTwins(t: TestContext, tag: string): Promise<Twins> {
  const lab = new Lab(tag);
  t.after(() => lab.cleanup());
  const nsW = lab.netns('w');
  const nsM = lab.netns('m');
  const [dw, dm] = await Promise.all([lab.daemon('wireguard-go', nsW), lab.daemon('wireguard-go', nsM)]);
  return { lab, wg: { ns: nsW, ifname: dw.ifname }, ours: { ns: nsM, ifname: dm.ifname } };
}

/** Stock wg inside the twin's namespace. */
export function wgIn(tw: Twins, side: 'wg' | 'ours', args: string[], env?: NodeJS.ProcessEnv): RunResult {
  return tw.lab.exec(tw[side].ns, 'wg', args, env ? { env } : {});
}

/** wgm inside the twin's namespace. */
export function wgmIn(tw: Twins, args: string[], env?: NodeJS.ProcessEnv): RunResult {
  return tw.lab.exec(tw.ours.ns, process.execPath, [WGM, ...args], {
    timeoutMs: 120_000,
    ...(env ? { env } : {}),
  });
}

/** `wg showconf` with the [Peer] blocks in a stable order. */
export function showconf(tw: Twins, side: 'wg' | 'ours'): string {
  const r = wgIn(tw, side, ['showconf', tw[side].ifname]);
  if (r.status !== 0) throw new Error(`wg showconf ${tw[side].ifname}: ${r.stderr}`);
  const [iface, ...peers] = r.stdout.replace(/\n$/, '').split('\n\n');
  return [iface, ...peers.sort()].join('\n\n');
}

/** Puts both devices in the same state with stock wg (the baseline is not what is tested). */
export function baseline(tw: Twins, confPath: string): void {
  for (const side of ['wg', 'ours'] as const) {
    const r = wgIn(tw, side, ['setconf', tw[side].ifname, confPath]);
    if (r.status !== 0) throw new Error(`baseline setconf: ${r.stderr}`);
  }
}
