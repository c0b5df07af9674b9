// Twin wireguard-go devices for the live set/setconf tests: one is configured by stock `wg`, the
// other by `wgm`, each in its own network namespace (so both may use the same listen port), and
// their `wg showconf` must end up identical. wireguard-go lists peers in random order, so the
// comparison sorts the [Peer] blocks; nothing else is normalised unless a case asks for it.

import type { TestContext } from 'node:test';
import { K1 as BIG_PEER, PRIV as BIG_PRIV } from '../lib/keys.js';
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

// ---- Large configurations (for conf-large.test.ts and the setconf benchmark) ----

/** `count` distinct prefixes: IPv4 /32s and /30s, and IPv6 /128s, written as wg reads them. */
export function manyAllowedIPs(count: number, offset = 0): string[] {
  const out: string[] = [];
  for (let n = offset; n < offset + count; n++) {
    const m = n >> 2;
    if (n % 4 === 3) out.push(`fd00::${(n >> 16).toString(16)}:${(n & 0xffff).toString(16)}/128`);
    else if (n % 4 === 2) out.push(`12.${(m >> 14) & 255}.${(m >> 6) & 255}.${(m & 63) << 2}/30`);
    else out.push(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}/32`);
  }
  return out;
}

/** One peer with all of `ips` (1000 per AllowedIPs line), as a config file. */
export function bigConfig(ips: string[]): string {
  let s = `[Interface]\nPrivateKey = ${BIG_PRIV}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${BIG_PEER}\nEndpoint = 192.0.2.1:1\n`;
  for (let i = 0; i < ips.length; i += 1000) s += `AllowedIPs = ${ips.slice(i, i + 1000).join(', ')}\n`;
  return s;
}

/** 40 peers (keys derived from their index), 52 allowed IPs each. */
export function manyPeersConfig(peers = 40, perPeer = 52): string {
  let s = `[Interface]\nPrivateKey = ${BIG_PRIV}\nListenPort = 51820\n`;
  for (let p = 0; p < peers; p++) {
    const key = Buffer.alloc(32, p + 1).toString('base64');
    const ips = manyAllowedIPs(perPeer, p * 4096);
    s += `\n[Peer]\nPublicKey = ${key}\nEndpoint = 192.0.2.${p + 1}:${1000 + p}\nAllowedIPs = ${ips.join(', ')}\n`;
  }
  return s;
}
