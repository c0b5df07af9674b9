// wgm-engine end to end beside stock wireguard-go, in the same run: a wgm-engine pair and a
// wireguard-go pair, each in its own two namespaces (test/lib/netns.ts), configured by stock
// `wg`. Rounds alternate between the pairs so that noise hits both; medians are reported.
//
//   TCP throughput   iperf3 for S seconds through the tunnel: one stream and four (-P 4), at
//                    the default MTU (1420 on 1500-byte links) and at a jumbo one (8920 on
//                    9000-byte links); wgm-engine with its offloads (TUN TSO/USO, UDP GSO/GRO)
//                    and again with WGM_OFFLOAD=off, each beside wireguard-go
//   CPU per Gbit     CPU seconds of both daemons of a pair over that run, per gigabit carried
//   ping RTT         median of 50 pings (after a warm-up)
//   handshakes/s     PEERS initiators (real Cores, engine-handshake-client.ts), each from its own
//                    address, against the pair's B side, which knows them all (the client's own
//                    CPU is part of the measure, the same for both); S seconds a round, rounds
//                    alternating between the pairs like the others
//   memory           resident memory of a fresh daemon before and after `wg setconf` with
//                    1,000 peers
//
// Run as root: node <build>/test/bench/engine.js [seconds] [rounds]. Printed, never asserted.

import { fileURLToPath } from 'node:url';
import { type Daemon, fillerPeers, type Impl, keypair, Lab, type Tunnel, tunnel } from '../lib/netns.js';
import { cpuSeconds, rssKiB } from '../lib/proc.js';
import { which } from '../lib/run.js';
import {
  HANDSHAKE_PEERS,
  type Initiators,
  prepareInitiators,
  runInitiators,
} from './handshake-initiators.js';
import { median, type Row } from './report.js';

const MEMORY_PEERS = 1000;

interface Sample {
  mbits: number;
  cpuPerGbit: number;
  rttMs: number;
}

function pingMedian(lab: Lab, t: Tunnel): number {
  lab.exec(t.a.ns, 'ping', ['-n', '-q', '-c', '10', '-i', '0.02', t.b.inner.v4]);
  const r = lab.exec(t.a.ns, 'ping', ['-n', '-c', '50', '-i', '0.02', t.b.inner.v4]);
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return rtts.length > 0 ? median(rtts) : Number.NaN;
}

async function iperf(lab: Lab, t: Tunnel, seconds: number, streams = 1): Promise<Sample> {
  const server = lab.spawn(t.b.ns, 'iperf3', ['-s', '-1', '--forceflush', '-B', t.b.inner.v4]);
  let out = '';
  server.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
  const pids = [t.a.d.proc.pid!, t.b.d.proc.pid!];
  const cpu = () => pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const c0 = cpu();
  const r = lab.exec(
    t.a.ns,
    'iperf3',
    ['-c', t.b.inner.v4, '-t', String(seconds), '-P', String(streams), '-J'],
    {
      timeoutMs: (seconds + 30) * 1000,
    },
  );
  const used = cpu() - c0;
  server.kill();
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
  const { bits_per_second: bps, bytes } = j.end.sum_received;
  return {
    mbits: bps / 1e6,
    cpuPerGbit: used / ((bytes * 8) / 1e9),
    rttMs: streams === 1 ? pingMedian(lab, t) : Number.NaN,
  };
}

/** Handshakes per second the pair's B side completes for HANDSHAKE_PEERS initiators in A's namespace. */
function handshakeRate(lab: Lab, r: Initiators, seconds: number): number {
  const { t } = r;
  const j = runInitiators(lab, r, { seconds });
  if (j.handshakes === 0)
    console.error(`no handshake with ${t.b.d.impl}; its log:\n${t.b.d.output().slice(-3000)}`);
  return j.handshakes / j.seconds;
}

/** Resident memory (KiB) of a fresh daemon, before and after 1,000 peers. */
async function memory(lab: Lab, impl: Impl): Promise<[number, number]> {
  const d: Daemon = await lab.daemon(impl, lab.netns(impl === 'wgm-engine' ? 'm' : 'g'));
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(d.proc.pid!);
  const me = keypair();
  const peers = fillerPeers(MEMORY_PEERS);
  const conf = lab.file(
    `mem-${d.ifname}.conf`,
    `[Interface]\nPrivateKey = ${me.priv}\nListenPort = 0\n\n${peers.join('\n')}`,
  );
  lab.wg(d.ns, ['setconf', d.ifname, conf]);
  await new Promise((r) => setTimeout(r, 1000));
  return [before, rssKiB(d.proc.pid!)];
}

const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : 'n/a');

export async function benchEngine(seconds = 5, rounds = 3): Promise<Row[]> {
  const missing = ['ip', 'iperf3', 'ping', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`engine bench skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`);
    return [];
  }
  const lab = new Lab('bn');
  try {
    // Three pairs per MTU: wgm-engine with offloads, without, and wireguard-go.
    const OFF = { WGM_OFFLOAD: 'off' };
    const JUMBO = { linkMtu: 9000, mtu: 8920 };
    const pairs = {
      on: await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 243 }),
      off: await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 241, env: OFF }),
      stock: await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 244 }),
      onJ: await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 247, ...JUMBO }),
      offJ: await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 249, env: OFF, ...JUMBO }),
      stockJ: await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 251, ...JUMBO }),
    };
    type Key = keyof typeof pairs;
    const runs: [string, Key[], number][] = [
      ['1', ['on', 'off', 'stock'], 1],
      ['4', ['on', 'off', 'stock'], 4],
      ['1J', ['onJ', 'offJ', 'stockJ'], 1],
    ];
    const samples = new Map<string, Sample[]>();
    // Rounds alternate between the pairs, so that noise from other work hits them all.
    for (let r = 0; r < rounds; r++) {
      for (const [tag, keys, streams] of runs) {
        for (const k of keys) {
          const id = `${tag}:${k}`;
          if (!samples.has(id)) samples.set(id, []);
          samples.get(id)!.push(await iperf(lab, pairs[k], seconds, streams));
        }
      }
    }
    // Handshake rounds alternate too, and the medians are compared: the first round of a fresh
    // responder also runs its handshake code before V8 has optimised it.
    const initiators = [prepareInitiators(lab, pairs.on), prepareInitiators(lab, pairs.stock)];
    const rates: [number[], number[]] = [[], []];
    for (let r = 0; r < rounds; r++)
      for (const i of [0, 1] as const) rates[i].push(handshakeRate(lab, initiators[i]!, seconds));
    const hs = rates.map(median);
    const memOurs = await memory(lab, 'wgm-engine');
    const memStock = await memory(lab, 'wireguard-go');
    const m = (id: string, f: (s: Sample) => number) => median(samples.get(id)!.map(f));
    const row = (what: string, a: number, b: number, unit: string, digits: number): Row => ({
      what,
      ours: `${a.toFixed(digits)} ${unit}`,
      stock: `${b.toFixed(digits)} ${unit}`,
      ratio: ratio(a, b),
    });
    const out: Row[] = [];
    for (const [tag, keys, streams] of runs) {
      const what = `${streams === 1 ? '1 stream' : `${streams} streams`}, MTU ${tag.endsWith('J') ? 8920 : 1420}`;
      const [on, off, stock] = keys.map((k) => `${tag}:${k}`) as [string, string, string];
      const mb = (id: string) => m(id, (s) => s.mbits);
      const cpu = (id: string) => m(id, (s) => s.cpuPerGbit);
      out.push(row(`engine: TCP ${what} (iperf3)`, mb(on), mb(stock), 'Mbit/s', 0));
      out.push(row(`engine, offloads off: TCP ${what}`, mb(off), mb(stock), 'Mbit/s', 0));
      out.push(row(`engine: CPU per Gbit, ${what} (both ends)`, cpu(on), cpu(stock), 's', 2));
      out.push(row(`engine, offloads off: CPU per Gbit, ${what}`, cpu(off), cpu(stock), 's', 2));
    }
    out.push(
      row(
        'engine: ping RTT (median)',
        m('1:on', (s) => s.rttMs),
        m('1:stock', (s) => s.rttMs),
        'ms',
        3,
      ),
      row(
        'engine, offloads off: ping RTT (median)',
        m('1:off', (s) => s.rttMs),
        m('1:stock', (s) => s.rttMs),
        'ms',
        3,
      ),
      row(`engine: handshakes/s (${HANDSHAKE_PEERS} initiators)`, hs[0]!, hs[1]!, '/s', 0),
      row('engine: memory, idle', memOurs[0] / 1024, memStock[0] / 1024, 'MiB', 1),
      row(`engine: memory, ${MEMORY_PEERS} peers`, memOurs[1] / 1024, memStock[1] / 1024, 'MiB', 1),
    );
    return out;
  } finally {
    await lab.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./report.js');
  printTable(await benchEngine(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 3)));
}
