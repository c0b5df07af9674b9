// Ping round-trip time through the tunnel alone, faster than the whole engine bench: a
// wgm-engine pair with its offloads, one with WGM_OFFLOAD=off, and a wireguard-go pair, each in
// its own two namespaces (test/lib/netns.ts), plus the bare veth underneath for reference.
// Rounds alternate between the pairs so that load from other work hits them all; each round is
// a warm-up and then PINGS pings at INTERVAL, and the medians of the rounds' medians are
// reported beside wireguard-go's. The daemons are fresh, so the first rounds run the workers'
// per-packet code before V8 has optimized it (the engine bench pings after its iperf3 runs,
// which warm it): this measures a young tunnel, the engine bench a warm one.
//
// Run as root: node <build>/test/bench/rtt.js [rounds] [pings]. Printed, never asserted.

import { fileURLToPath } from 'node:url';
import { Lab, type Tunnel, tunnel } from '../lib/netns.js';
import { which } from '../lib/run.js';
import { median, type Row } from './report.js';

const INTERVAL = '0.02';

function pings(lab: Lab, ns: string, to: string, count: number): number[] {
  lab.exec(ns, 'ping', ['-n', '-q', '-c', '10', '-i', INTERVAL, to]);
  const r = lab.exec(ns, 'ping', ['-n', '-c', String(count), '-i', INTERVAL, to], { timeoutMs: 60_000 });
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

export async function benchRtt(rounds = 5, count = 50): Promise<Row[]> {
  const missing = ['ip', 'ping', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`rtt bench skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`);
    return [];
  }
  const lab = new Lab('rt');
  try {
    const pairs: Record<string, Tunnel> = {
      on: await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 233 }),
      off: await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 235, env: { WGM_OFFLOAD: 'off' } }),
      stock: await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 237 }),
    };
    const medians = new Map<string, number[]>([['veth', []]]);
    for (let r = 0; r < rounds; r++) {
      for (const [k, t] of Object.entries(pairs)) {
        const xs = pings(lab, t.a.ns, t.b.inner.v4, count);
        if (!medians.has(k)) medians.set(k, []);
        if (xs.length > 0) medians.get(k)!.push(median(xs));
        if (k === 'on') {
          const v = pings(lab, t.a.ns, t.b.outer.v4, count);
          if (v.length > 0) medians.get('veth')!.push(median(v));
        }
      }
      if (process.env['WGM_BENCH_VERBOSE'])
        console.error(
          `round ${r}: ${[...medians].map(([k, v]) => `${k} ${v.at(-1)?.toFixed(3)}`).join(', ')}`,
        );
    }
    const m = (k: string) => median(medians.get(k)!);
    const row = (what: string, k: string): Row => ({
      what,
      ours: `${m(k).toFixed(3)} ms`,
      stock: `${m('stock').toFixed(3)} ms`,
      ratio: `${(m(k) / m('stock')).toFixed(2)}x`,
    });
    return [
      row('rtt: ping through wgm-engine (median of medians)', 'on'),
      row('rtt: ping, offloads off', 'off'),
      row('rtt: ping over the bare veth (reference)', 'veth'),
    ];
  } finally {
    await lab.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./report.js');
  printTable(await benchRtt(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 50)));
}
